/* Numeric IP addresses and their special-purpose classes. */
#include "cairn_ip.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
static const uint8_t nat64_prefix[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};

/* ::ffff:a.b.c.d → a.b.c.d */
static void fold_mapped(cairn_ip *ip)
{
    if (ip->family == AF_INET6 && memcmp(ip->addr, v4_mapped, sizeof v4_mapped) == 0) {
        memmove(ip->addr, ip->addr + 12, 4);
        memset(ip->addr + 4, 0, 12);
        ip->family = AF_INET;
    }
}

bool cairn_ip_parse(const char *text, cairn_ip *out)
{
    memset(out, 0, sizeof *out);
    if (!text)
        return false;
    if (inet_pton(AF_INET, text, out->addr) == 1) {
        out->family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, text, out->addr) == 1) {
        out->family = AF_INET6;
        fold_mapped(out);
        return true;
    }
    memset(out, 0, sizeof *out);
    return false;
}

bool cairn_ip_from_sockaddr(const struct sockaddr *sa, cairn_ip *out)
{
    memset(out, 0, sizeof *out);
    if (!sa)
        return false;
    if (sa->sa_family == AF_INET) {
        out->family = AF_INET;
        memcpy(out->addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        out->family = AF_INET6;
        memcpy(out->addr, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        fold_mapped(out);
        return true;
    }
    return false;
}

void cairn_ip_format(const cairn_ip *ip, char *buf, size_t len)
{
    if (!inet_ntop(ip->family, ip->addr, buf, (socklen_t)len) && len)
        snprintf(buf, len, "?");
}

bool cairn_ip_equal(const cairn_ip *a, const cairn_ip *b)
{
    return a->family == b->family && memcmp(a->addr, b->addr, cairn_ip_bits(a) / 8) == 0;
}

unsigned cairn_ip_bits(const cairn_ip *ip)
{
    return ip->family == AF_INET ? 32 : 128;
}

bool cairn_ip_in_block(const cairn_ip *ip, const cairn_ip *net, unsigned prefix)
{
    if (ip->family != net->family || prefix > cairn_ip_bits(ip))
        return false;
    unsigned full = prefix / 8, rest = prefix % 8;
    if (memcmp(net->addr, ip->addr, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (net->addr[full] & mask) == (ip->addr[full] & mask);
}

/* ---- classes -------------------------------------------------------------------------------- */

typedef struct special_range {
    int family;
    uint8_t addr[16];
    unsigned prefix;
    cairn_ip_class cls;
} special_range;

/* Narrower ranges first: the first range that contains an address gives its class. */
static const special_range ranges[] = {
    {AF_INET, {255, 255, 255, 255}, 32, CAIRN_IP_BROADCAST},
    {AF_INET, {0}, 8, CAIRN_IP_UNSPECIFIED},
    {AF_INET, {127}, 8, CAIRN_IP_LOOPBACK},
    {AF_INET, {169, 254}, 16, CAIRN_IP_LINK_LOCAL},
    {AF_INET, {224}, 4, CAIRN_IP_MULTICAST},
    {AF_INET, {240}, 4, CAIRN_IP_RESERVED},
    {AF_INET6, {0}, 128, CAIRN_IP_UNSPECIFIED},
    {AF_INET6, {[15] = 1}, 128, CAIRN_IP_LOOPBACK},
    {AF_INET6, {0}, 8, CAIRN_IP_RESERVED},
    {AF_INET6, {0xfe, 0x80}, 10, CAIRN_IP_LINK_LOCAL},
    {AF_INET6, {0xff}, 8, CAIRN_IP_MULTICAST},
};

cairn_ip_class cairn_ip_classify_block(const cairn_ip *net, unsigned prefix)
{
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
        const special_range *r = &ranges[i];
        cairn_ip range = {.family = r->family};
        memcpy(range.addr, r->addr, sizeof range.addr);
        if (prefix >= r->prefix && cairn_ip_in_block(net, &range, r->prefix))
            return r->cls;
    }
    return CAIRN_IP_ORDINARY;
}

cairn_ip_class cairn_ip_classify(const cairn_ip *ip)
{
    if (ip->family == AF_INET6 && memcmp(ip->addr, nat64_prefix, sizeof nat64_prefix) == 0) {
        /* 64:ff9b::a.b.c.d: a NAT64 translator sends it on to a.b.c.d. */
        cairn_ip v4 = {.family = AF_INET};
        memcpy(v4.addr, ip->addr + 12, 4);
        return cairn_ip_classify(&v4);
    }
    return cairn_ip_classify_block(ip, cairn_ip_bits(ip));
}

const char *cairn_ip_class_name(cairn_ip_class c)
{
    switch (c) {
    case CAIRN_IP_UNSPECIFIED:
        return "unspecified";
    case CAIRN_IP_LOOPBACK:
        return "loopback";
    case CAIRN_IP_LINK_LOCAL:
        return "link-local";
    case CAIRN_IP_MULTICAST:
        return "multicast";
    case CAIRN_IP_BROADCAST:
        return "broadcast";
    case CAIRN_IP_RESERVED:
        return "reserved";
    case CAIRN_IP_ORDINARY:
        break;
    }
    return "ordinary";
}

/* ---- this host ------------------------------------------------------------------------------ */

static int append(cairn_ip **list, size_t *n, size_t *cap, const struct sockaddr *sa)
{
    cairn_ip ip;
    if (!cairn_ip_from_sockaddr(sa, &ip))
        return 0;
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        cairn_ip *grown = realloc(*list, ncap * sizeof *grown);
        if (!grown)
            return -1;
        *list = grown;
        *cap = ncap;
    }
    (*list)[(*n)++] = ip;
    return 0;
}

int cairn_ip_local_addresses(cairn_ip **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    struct ifaddrs *ifs;
    if (getifaddrs(&ifs) != 0)
        return -1;
    cairn_ip *list = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (struct ifaddrs *i = ifs; i && rc == 0; i = i->ifa_next) {
        rc = append(&list, &n, &cap, i->ifa_addr);
        if (rc == 0 && i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
            (i->ifa_flags & IFF_BROADCAST))
            rc = append(&list, &n, &cap, i->ifa_broadaddr);
    }
    freeifaddrs(ifs);
    if (rc != 0) {
        free(list);
        errno = ENOMEM;
        return -1;
    }
    *out = list;
    *count = n;
    return 0;
}
