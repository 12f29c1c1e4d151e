/* Listener addresses as text, in the one form every address file, log line and `cairn status`
 * uses: "host:port" with a numeric host, IPv6 in brackets ("[::1]:9150").
 *
 * Two views of one listener: the address it is bound to, which is what logs and address files
 * state (a wildcard bind is "0.0.0.0:8848" or "[::]:8848", never dressed up as loopback), and
 * the address a client on the same host dials, which readers of those files derive with
 * cairn_dial_address. Pure functions of their arguments; any thread. */
#ifndef CAIRN_ADDRESS_H
#define CAIRN_ADDRESS_H

#include <stddef.h>
#include <stdint.h>

/* The address the socket fd is bound to (getsockname) as "host:port" into buf, and its port into
 * *port (when port is not NULL). Returns 0, or -1 with errno set (EINVAL for a socket that is
 * not IPv4 or IPv6, ENOSPC when buf is too small). */
int cairn_bound_address(int fd, char *buf, size_t len, uint16_t *port);

/* Where a client on this host connects to a listener bound to `bound` (the form above): the
 * IPv4 wildcard becomes 127.0.0.1 and the IPv6 wildcard [::1]; any other address is copied as it
 * is. buf may not overlap bound. */
void cairn_dial_address(const char *bound, char *buf, size_t len);

#endif
