/* Change events (cairn_event_decode) as the gateway, healthcheck and pushers receive them from the
 * registry, including the snapshot they carry (cairn_snapshot_decode), as a follower decodes it;
 * and a message of several events, split with cairn_event_next as the followers split it. */
#include "fuzz_msg.h"

MSG_ROUND_TRIP(event, cairn_change_event, cairn_event_encode, cairn_event_decode,
               cairn_event_free)
MSG_ROUND_TRIP(snapshot, cairn_service_snapshot, cairn_snapshot_encode, cairn_snapshot_decode,
               cairn_service_snapshot_free)

static void one_event(const char *buf, size_t size)
{
    cairn_status st;
    cairn_change_event ev;
    if (cairn_event_decode(buf, size, &ev, &st) == CAIRN_OK) {
        if (ev.snapshot) {
            /* Borrowed from the input buffer. */
            FUZZ_CHECK(ev.snapshot >= buf && ev.snapshot + ev.snapshot_len <= buf + size);
            cairn_service_snapshot snap;
            if (cairn_snapshot_decode(ev.snapshot, ev.snapshot_len, &snap, &st) == CAIRN_OK)
                round_trip_snapshot(&snap);
            cairn_service_snapshot_free(&snap);
        }
        round_trip_event(&ev);
    }
    cairn_event_free(&ev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    cairn_status st;
    one_event(buf, size);
    for (size_t off = 0, n; off < size; off += n) {
        if (cairn_event_next(buf + off, size - off, &n, &st) != CAIRN_OK)
            break;
        FUZZ_CHECK(n > 0 && n <= size - off);
        if (off > 0 || n < size) /* the whole input was decoded above */
            one_event(buf + off, n);
    }
    return 0;
}
