/* The push-rate ceiling: the least a pusher does per change. Build the datagram once (the list
 * document wrapped as §12.3 says, gzip from 1024 bytes), send it from one socket to every
 * subscriber, then read their acks on that socket. */
#ifndef BASELINE_UDP_H
#define BASELINE_UDP_H

#include <stddef.h>
#include <stdint.h>

typedef struct baseline_udp baseline_udp;

/* Sends to 127.0.0.1:ports[i]. `document` is the list JSON to push (copied). NULL on failure. */
baseline_udp *baseline_udp_open(const uint16_t *ports, int count, const char *document);
void baseline_udp_close(baseline_udp *b);

/* One change: encode with lastRefTime = ref, send to every subscriber. Returns the datagrams
 * sent, -1 on an encoding failure; tells the datagram's size and whether it is gzip. */
int baseline_udp_send_round(baseline_udp *b, int64_t ref, size_t *datagram_bytes, int *gzip);

/* Reads acks until every subscriber acked this round or deadline_ns (CLOCK_REALTIME) passes;
 * returns the acks read. */
int baseline_udp_read_acks(baseline_udp *b, int64_t deadline_ns);

#endif
