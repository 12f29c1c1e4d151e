/* Where active probes may go: health.probe_networks plus the addresses no probe ever reaches.
 *
 * A client chooses an instance's address and its cluster's checker, and learns from `healthy`
 * whether the port answered; an HTTP checker even sends `GET <path>` there. So the healthcheck
 * must not be a port scanner for whoever can register. The rules, in order (cairn_ip.h defines
 * the classes; an IPv4-mapped IPv6 address is its IPv4 address throughout):
 *   1. unspecified, link-local, multicast, broadcast and reserved addresses: never. Listing one
 *      of those ranges is a configuration error.
 *   2. loopback: only inside a loopback block of the list (127.0.0.0/8, 127.1.2.3, ::1); a wide
 *      block such as 0.0.0.0/0 does not open it.
 *   3. an address of this host (its interfaces' addresses and IPv4 broadcast addresses,
 *      re-read by hc_netfilter_refresh_own): only when the list names it as a single address;
 *      10.0.0.0/8 does not open the node's own 10.0.0.5.
 *   4. anything else: any address when the list is empty, else only inside one of its blocks.
 * A hostname passes when the list is empty (the probe checks the address it resolves to with
 * the same rules) and never under a list (it is not even resolved).
 *
 * Threads: parse and free at start-up and shut-down; the checks and the refresh from any thread
 * (the list is read-only, the own addresses are under the filter's mutex). */
#ifndef HEALTHCHECK_NETFILTER_H
#define HEALTHCHECK_NETFILTER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn_error.h"
#include "cairn_ip.h"

typedef struct hc_cidr {
    cairn_ip net;
    unsigned prefix;
    bool loopback; /* the whole block is loopback: it may open loopback addresses (rule 2) */
} hc_cidr;

typedef struct hc_netfilter {
    hc_cidr *blocks;
    size_t count;
    bool mu_init;
    pthread_mutex_t mu; /* guards own */
    cairn_ip *own;
    size_t own_count;
} hc_netfilter;

/* Parses "a.b.c.d/n, x::/m, ..." (a bare address is a /32 or /128); empty text is the empty
 * list. The node's own addresses start empty (hc_netfilter_refresh_own). 400-style error naming
 * the bad entry, f left freed. */
cairn_err hc_netfilter_parse(hc_netfilter *f, const char *text, cairn_status *st);
void hc_netfilter_free(hc_netfilter *f);

/* Replaces the node's own addresses with a copy of own[0..n). */
void hc_netfilter_set_own(hc_netfilter *f, const cairn_ip *own, size_t n);
/* Re-reads them from the interfaces; -1 (the previous ones kept) when that fails. */
int hc_netfilter_refresh_own(hc_netfilter *f);

/* NULL when a probe may go to host (an instance's ip field), else why not (a static string). */
const char *hc_netfilter_deny(hc_netfilter *f, const char *host);
/* The same for an address a hostname resolved to. */
const char *hc_netfilter_deny_ip(hc_netfilter *f, const cairn_ip *ip);

#endif
