/* Change events (cairn_event_decode) as the gateway, healthcheck and pushers receive them from the
 * registry, including the snapshot and the delta they carry (cairn_snapshot_decode), as a
 * follower decodes them, and the removed keys (slices of the input);
 * and a message of several events, split with cairn_event_next as the followers split it. */
#include "fuzz_msg.h"

MSG_ROUND_TRIP(event, cairn_change_event, cairn_event_encode, cairn_event_decode,
               cairn_event_free)
MSG_ROUND_TRIP(snapshot, cairn_service_snapshot, cairn_snapshot_encode, cairn_snapshot_decode,
               cairn_service_snapshot_free)

/* A snapshot or delta borrowed from the input buffer, decoded as a follower decodes it. */
static void one_snapshot(const char *buf, size_t size, const char *snap_buf, size_t snap_len)
{
    if (!snap_buf)
        return;
    FUZZ_CHECK(snap_buf >= buf && snap_buf + snap_len <= buf + size);
    cairn_status st;
    cairn_service_snapshot snap;
    if (cairn_snapshot_decode(snap_buf, snap_len, &snap, &st) == CAIRN_OK)
        round_trip_snapshot(&snap);
    cairn_service_snapshot_free(&snap);
}

static void one_event(const char *buf, size_t size)
{
    cairn_status st;
    cairn_change_event ev;
    if (cairn_event_decode(buf, size, &ev, &st) == CAIRN_OK) {
        one_snapshot(buf, size, ev.snapshot, ev.snapshot_len);
        one_snapshot(buf, size, ev.delta, ev.delta_len);
        FUZZ_CHECK(ev.gone_count == 0 || ev.delta);
        for (uint32_t i = 0; i < ev.gone_count; i++) {
            const char *k = ev.gone[i].ptr;
            FUZZ_CHECK(k >= buf && k + ev.gone[i].len <= buf + size && ev.gone[i].len > 0);
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
