/* The push datagram (§12.3): {"type":"dom","data":"<list document as a JSON string>",
 * "lastRefTime":N}, gzipped as a whole (a gzip stream, magic 1f 8b) when the JSON is at least
 * push.gzip_threshold bytes, or when it would not fit push.max_datagram_bytes plain. Built once per distinct (clusters, agent class) of a push round
 * and shared, reference-counted, by every subscriber it is sent to and by their retransmits. */
#ifndef PUSHER_PAYLOAD_H
#define PUSHER_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn_error.h"

typedef struct pusher_datagram {
    unsigned refs;
    uint64_t ref_time; /* the outer lastRefTime: the ack sequence number */
    size_t raw_len;    /* bytes of the JSON before gzip */
    bool gzip;
    size_t len; /* bytes on the wire */
    unsigned char bytes[];
} pusher_datagram;

/* Builds the datagram of data (the /instance/list document). CAIRN_E_LIMIT when it exceeds
 * max_bytes even gzipped (*out NULL; *raw_len still set), CAIRN_E_NOMEM/INTERNAL on failures.
 * The result has one reference. */
cairn_err pusher_datagram_build(const char *data, uint64_t ref_time, size_t gzip_threshold,
                                size_t max_bytes, pusher_datagram **out, size_t *raw_len);
pusher_datagram *pusher_datagram_ref(pusher_datagram *d);
void pusher_datagram_unref(pusher_datagram *d);

/* The next ack sequence number: strictly increasing, and wall-clock microseconds when those are
 * ahead, so numbers stay unique across pusher restarts; below 2^53 (until the year 2255) so a
 * JavaScript client echoes it exactly (§12.4). *last is the previous number. */
uint64_t pusher_next_ref_time(uint64_t *last);

#endif
