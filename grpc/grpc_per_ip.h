/* Open connections per client address, for grpc.max_connections_per_ip: one client address
 * cannot take every connection slot of the gRPC port. The listener asks at accept
 * (grpc_per_ip_add) and a connection over the limit is closed before any HTTP/2 byte; a counted
 * connection gives its slot back when its socket is closed, whatever closed it
 * (grpc_per_ip_remove).
 *
 * Addresses are cairn_ip values, so an IPv4-mapped IPv6 peer (a dual-stack listener) counts as
 * its IPv4 address. An address is in the table only while it holds a connection: the table is
 * bounded by the open connections, not by how many addresses ever connected.
 *
 * The gateway's listener has the same limit from libmicrohttpd (gateway.max_connections_per_ip,
 * MHD_OPTION_PER_IP_CONNECTION_LIMIT), so this table has no other user.
 *
 * Pure (no I/O, no clock); owned by the server, loop thread only. */
#ifndef GRPC_PER_IP_H
#define GRPC_PER_IP_H

#include <stddef.h>
#include <stdint.h>

#include "cairn_ip.h"

typedef struct grpc_per_ip grpc_per_ip;

/* A table allowing max connections per address (max > 0); NULL when out of memory. */
grpc_per_ip *grpc_per_ip_new(uint32_t max);
void grpc_per_ip_free(grpc_per_ip *t);

/* One more connection from ip: 0 (counted), 1 when ip already holds max (nothing counted: refuse
 * it), -1 when out of memory (nothing counted). */
int grpc_per_ip_add(grpc_per_ip *t, const cairn_ip *ip);
/* A connection counted by grpc_per_ip_add is gone. */
void grpc_per_ip_remove(grpc_per_ip *t, const cairn_ip *ip);
/* Connections counted for ip. */
uint32_t grpc_per_ip_count(const grpc_per_ip *t, const cairn_ip *ip);
/* Addresses holding at least one connection. */
size_t grpc_per_ip_addresses(const grpc_per_ip *t);

#endif
