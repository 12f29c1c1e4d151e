/* The networks active probes may connect to (health.probe_networks): a list of CIDR blocks, IPv4
 * or IPv6. Empty allows every address, including hostnames (which are then resolved); a non-empty
 * list admits only numeric addresses inside one of its blocks, so that a test node (or a cautious
 * operator) can be sure probes never leave the networks it names. */
#ifndef HEALTHCHECK_NETFILTER_H
#define HEALTHCHECK_NETFILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn_error.h"

typedef struct hc_cidr {
    int family; /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    unsigned prefix;
} hc_cidr;

typedef struct hc_netfilter {
    hc_cidr *blocks;
    size_t count;
} hc_netfilter;

/* Parses "a.b.c.d/n, x::/m, ..." (a bare address is a /32 or /128). 400-style error naming the
 * bad entry. */
cairn_err hc_netfilter_parse(hc_netfilter *f, const char *text, cairn_status *st);
void hc_netfilter_free(hc_netfilter *f);

/* Whether a probe may go to host (an instance's ip field). */
bool hc_netfilter_allows(const hc_netfilter *f, const char *host);

/* Whether host is a numeric IPv4 or IPv6 address. */
bool hc_is_numeric_address(const char *host);

#endif
