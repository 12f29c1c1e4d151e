/* Where active probes may go. */
#include "healthcheck_netfilter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static cairn_err parse_block(const char *item, hc_cidr *out, cairn_status *st)
{
    char buf[80];
    if (strlen(item) >= sizeof buf)
        return cairn_fail(st, CAIRN_E_INVALID, "health.probe_networks: bad network \"%s\"", item);
    snprintf(buf, sizeof buf, "%s", item);
    char *slash = strchr(buf, '/');
    if (slash)
        *slash = '\0';
    if (!cairn_ip_parse(buf, &out->net))
        return cairn_fail(st, CAIRN_E_INVALID,
                          "health.probe_networks: \"%s\" is not an IP address or CIDR block",
                          item);
    /* An IPv4-mapped block (::ffff:a.b.c.d/n) is the IPv4 block a.b.c.d/(n-96). */
    bool mapped = out->net.family == AF_INET && strchr(buf, ':');
    unsigned max = mapped ? 128 : cairn_ip_bits(&out->net);
    out->prefix = max;
    if (slash) {
        char *end;
        unsigned long p = strtoul(slash + 1, &end, 10);
        if (slash[1] == '\0' || *end != '\0' || p > max || (mapped && p < 96))
            return cairn_fail(st, CAIRN_E_INVALID,
                              "health.probe_networks: bad prefix length in \"%s\"", item);
        out->prefix = (unsigned)p;
    }
    if (mapped)
        out->prefix -= 96;
    cairn_ip_class c = cairn_ip_classify_block(&out->net, out->prefix);
    if (c != CAIRN_IP_ORDINARY && c != CAIRN_IP_LOOPBACK)
        return cairn_fail(st, CAIRN_E_INVALID,
                          "health.probe_networks: \"%s\" is %s: probes never go there", item,
                          cairn_ip_class_name(c));
    out->loopback = c == CAIRN_IP_LOOPBACK;
    return CAIRN_OK;
}

cairn_err hc_netfilter_parse(hc_netfilter *f, const char *text, cairn_status *st)
{
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    f->mu_init = true;
    char *copy = strdup(text ? text : "");
    if (!copy) {
        hc_netfilter_free(f);
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    }
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
    free(f->own);
    if (f->mu_init)
        pthread_mutex_destroy(&f->mu);
    memset(f, 0, sizeof *f);
}

void hc_netfilter_set_own(hc_netfilter *f, const cairn_ip *own, size_t n)
{
    cairn_ip *copy = n ? malloc(n * sizeof *copy) : NULL;
    if (n && !copy)
        return; /* the previous ones stay */
    if (n)
        memcpy(copy, own, n * sizeof *copy);
    pthread_mutex_lock(&f->mu);
    free(f->own);
    f->own = copy;
    f->own_count = n;
    pthread_mutex_unlock(&f->mu);
}

int hc_netfilter_refresh_own(hc_netfilter *f)
{
    cairn_ip *own;
    size_t n;
    if (cairn_ip_local_addresses(&own, &n) != 0)
        return -1;
    hc_netfilter_set_own(f, own, n);
    free(own);
    return 0;
}

static bool is_own(hc_netfilter *f, const cairn_ip *ip)
{
    bool found = false;
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < f->own_count && !found; i++)
        found = cairn_ip_equal(&f->own[i], ip);
    pthread_mutex_unlock(&f->mu);
    return found;
}

typedef enum which_blocks { ANY_BLOCK, LOOPBACK_BLOCKS, SINGLE_ADDRESSES } which_blocks;

static bool listed(const hc_netfilter *f, const cairn_ip *ip, which_blocks which)
{
    for (size_t i = 0; i < f->count; i++) {
        const hc_cidr *b = &f->blocks[i];
        if ((which == LOOPBACK_BLOCKS && !b->loopback) ||
            (which == SINGLE_ADDRESSES && b->prefix != cairn_ip_bits(&b->net)))
            continue;
        if (cairn_ip_in_block(ip, &b->net, b->prefix))
            return true;
    }
    return false;
}

static const char *never_reason(cairn_ip_class c)
{
    switch (c) {
    case CAIRN_IP_UNSPECIFIED:
        return "an unspecified address (never probed)";
    case CAIRN_IP_LINK_LOCAL:
        return "a link-local address (never probed)";
    case CAIRN_IP_MULTICAST:
        return "a multicast address (never probed)";
    case CAIRN_IP_BROADCAST:
        return "a broadcast address (never probed)";
    default:
        return "a reserved address (never probed)";
    }
}

const char *hc_netfilter_deny_ip(hc_netfilter *f, const cairn_ip *ip)
{
    cairn_ip_class c = cairn_ip_classify(ip);
    if (c == CAIRN_IP_LOOPBACK)
        return listed(f, ip, LOOPBACK_BLOCKS)
                   ? NULL
                   : "a loopback address, which health.probe_networks does not list";
    if (c != CAIRN_IP_ORDINARY)
        return never_reason(c);
    if (is_own(f, ip))
        return listed(f, ip, SINGLE_ADDRESSES)
                   ? NULL
                   : "an address of this host, which health.probe_networks does not name";
    if (f->count > 0 && !listed(f, ip, ANY_BLOCK))
        return "outside health.probe_networks";
    return NULL;
}

const char *hc_netfilter_deny(hc_netfilter *f, const char *host)
{
    cairn_ip ip;
    if (cairn_ip_parse(host, &ip))
        return hc_netfilter_deny_ip(f, &ip);
    if (!host || !*host)
        return "no address";
    /* Under a list hostnames are never resolved; without one the probe checks what it gets. */
    return f->count > 0 ? "a hostname (health.probe_networks admits numeric addresses only)"
                        : NULL;
}
