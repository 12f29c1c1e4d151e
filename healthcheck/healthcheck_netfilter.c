/* CIDR allow-list for active probes. */
#include "healthcheck_netfilter.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static bool parse_address(const char *s, int *family, uint8_t addr[16])
{
    memset(addr, 0, 16);
    if (inet_pton(AF_INET, s, addr) == 1) {
        *family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, s, addr) == 1) {
        *family = AF_INET6;
        return true;
    }
    return false;
}

bool hc_is_numeric_address(const char *host)
{
    int family;
    uint8_t addr[16];
    return host && parse_address(host, &family, addr);
}

static cairn_err parse_block(const char *item, hc_cidr *out, cairn_status *st)
{
    char buf[80];
    if (strlen(item) >= sizeof buf)
        return cairn_fail(st, CAIRN_E_INVALID, "health.probe_networks: bad network \"%s\"", item);
    snprintf(buf, sizeof buf, "%s", item);
    char *slash = strchr(buf, '/');
    if (slash)
        *slash = '\0';
    if (!parse_address(buf, &out->family, out->addr))
        return cairn_fail(st, CAIRN_E_INVALID,
                          "health.probe_networks: \"%s\" is not an IP address or CIDR block",
                          item);
    unsigned max = out->family == AF_INET ? 32 : 128;
    out->prefix = max;
    if (slash) {
        char *end;
        unsigned long p = strtoul(slash + 1, &end, 10);
        if (slash[1] == '\0' || *end != '\0' || p > max)
            return cairn_fail(st, CAIRN_E_INVALID,
                              "health.probe_networks: bad prefix length in \"%s\"", item);
        out->prefix = (unsigned)p;
    }
    return CAIRN_OK;
}

cairn_err hc_netfilter_parse(hc_netfilter *f, const char *text, cairn_status *st)
{
    memset(f, 0, sizeof *f);
    char *copy = strdup(text ? text : "");
    if (!copy)
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    cairn_err err = CAIRN_OK;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ", \t", &save); tok && !err;
         tok = strtok_r(NULL, ", \t", &save)) {
        hc_cidr *grown = realloc(f->blocks, (f->count + 1) * sizeof *grown);
        if (!grown) {
            err = cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
            break;
        }
        f->blocks = grown;
        if (!(err = parse_block(tok, &f->blocks[f->count], st)))
            f->count++;
    }
    free(copy);
    if (err)
        hc_netfilter_free(f);
    return err;
}

void hc_netfilter_free(hc_netfilter *f)
{
    free(f->blocks);
    f->blocks = NULL;
    f->count = 0;
}

static bool in_block(const hc_cidr *b, int family, const uint8_t addr[16])
{
    if (b->family != family)
        return false;
    unsigned full = b->prefix / 8, rest = b->prefix % 8;
    if (memcmp(b->addr, addr, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (b->addr[full] & mask) == (addr[full] & mask);
}

bool hc_netfilter_allows(const hc_netfilter *f, const char *host)
{
    if (f->count == 0)
        return true;
    int family;
    uint8_t addr[16];
    if (!host || !parse_address(host, &family, addr))
        return false; /* hostnames are never resolved under an allow-list */
    for (size_t i = 0; i < f->count; i++)
        if (in_block(&f->blocks[i], family, addr))
            return true;
    return false;
}
