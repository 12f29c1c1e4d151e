/* Acks from subscribers (§12.4): {"type":"push-ack","lastRefTime":N,"data":""}. The Java client
 * sends N as a string, the Node client as a number: both are accepted. "unknown-ack" and
 * "dump-ack" echo N too and count as acks. Anything else is garbage: counted by the caller and
 * otherwise ignored. */
#ifndef PUSHER_ACK_H
#define PUSHER_ACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PUSHER_ACK_MAX_BYTES 4096 /* an ack is tiny; a larger datagram is garbage unparsed */

/* True with *ref_time set when buf (len bytes) is an ack. A len above PUSHER_ACK_MAX_BYTES is
 * rejected before buf is read (a truncated receive reports the datagram's full length). */
bool pusher_ack_parse(const void *buf, size_t len, uint64_t *ref_time);

#endif
