/* Numeric IP addresses and the one definition of a "special-purpose" address, shared by the roles
 * that send to addresses a client names: the healthcheck's active probes (health.probe_networks)
 * and the gateway's push destination (push.trust_client_ip).
 *
 * An address is an IPv4 (4 bytes) or IPv6 (16 bytes) value in network order. Parsing folds an
 * IPv4-mapped IPv6 address (::ffff:a.b.c.d) into its IPv4 address, since a connect or sendto to
 * it reaches that IPv4 address; every check therefore sees 127.0.0.1 whether the client wrote
 * "127.0.0.1" or "::ffff:127.0.0.1".
 *
 * Classes (RFC 6890), decided only by the address:
 *   UNSPECIFIED  0.0.0.0/8, ::            (Linux connects 0.0.0.0 and :: to the host itself)
 *   LOOPBACK     127.0.0.0/8, ::1
 *   LINK_LOCAL   169.254.0.0/16, fe80::/10 (cloud metadata services live here)
 *   MULTICAST    224.0.0.0/4, ff00::/8
 *   BROADCAST    255.255.255.255
 *   RESERVED     240.0.0.0/4 (the rest of it), ::/8 (the rest: IPv4-compatible and unassigned)
 * An address of the NAT64 well-known prefix (64:ff9b::/96) takes the class of the IPv4 address
 * it embeds. Everything else is ORDINARY, private networks (10/8, fc00::/7, ...) included: those
 * are where services live. Subnet-directed broadcast addresses depend on the interfaces; see
 * cairn_ip_local_addresses.
 *
 * Pure functions except cairn_ip_local_addresses; any thread. */
#ifndef CAIRN_IP_H
#define CAIRN_IP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define CAIRN_IP_TEXT_MAX 46 /* INET6_ADDRSTRLEN */

typedef struct cairn_ip {
    int family;       /* AF_INET or AF_INET6 */
    uint8_t addr[16]; /* IPv4 in the first 4 bytes, the rest zero */
} cairn_ip;

typedef enum cairn_ip_class {
    CAIRN_IP_ORDINARY = 0,
    CAIRN_IP_UNSPECIFIED,
    CAIRN_IP_LOOPBACK,
    CAIRN_IP_LINK_LOCAL,
    CAIRN_IP_MULTICAST,
    CAIRN_IP_BROADCAST,
    CAIRN_IP_RESERVED,
} cairn_ip_class;

/* Parses a numeric IPv4 or IPv6 address (no hostnames, no zone, no brackets), folding
 * IPv4-mapped addresses. false (out zeroed) when text is NULL or not an address. */
bool cairn_ip_parse(const char *text, cairn_ip *out);
/* The same for a socket address (AF_INET, AF_INET6); false for any other family. */
bool cairn_ip_from_sockaddr(const struct sockaddr *sa, cairn_ip *out);
/* Text form into buf (at least CAIRN_IP_TEXT_MAX bytes). */
void cairn_ip_format(const cairn_ip *ip, char *buf, size_t len);
bool cairn_ip_equal(const cairn_ip *a, const cairn_ip *b);
/* Bits in the family's address: 32 or 128. */
unsigned cairn_ip_bits(const cairn_ip *ip);
/* Whether ip lies in the block net/prefix (same family, first prefix bits equal). */
bool cairn_ip_in_block(const cairn_ip *ip, const cairn_ip *net, unsigned prefix);

cairn_ip_class cairn_ip_classify(const cairn_ip *ip);
/* The class every address of the block net/prefix has, or ORDINARY when the block is not wholly
 * inside one special range (0.0.0.0/0 is ORDINARY; 169.254.0.0/24 is LINK_LOCAL). */
cairn_ip_class cairn_ip_classify_block(const cairn_ip *net, unsigned prefix);
/* "unspecified", "loopback", "link-local", "multicast", "broadcast", "reserved", "ordinary". */
const char *cairn_ip_class_name(cairn_ip_class c);

/* The addresses of this host's interfaces (getifaddrs): each interface address and, for IPv4,
 * its subnet broadcast address; loopback ones included. *out is malloc'd (the caller frees it).
 * Returns 0, or -1 with errno set. */
int cairn_ip_local_addresses(cairn_ip **out, size_t *count);

#endif
