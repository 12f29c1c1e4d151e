/* Requests between roles (cairn_request_decode), as a registry or healthcheck worker receives
 * them from its socket: peek the type, decode, and round-trip what was accepted; a batch
 * (cairn_batch.h) is split and each of its parts taken the same way. */
#include "cairn_batch.h"
#include "fuzz_msg.h"

MSG_ROUND_TRIP(request, cairn_request, cairn_request_encode, cairn_request_decode,
               cairn_request_free)

static void one_request(const char *buf, size_t size)
{
    cairn_status st;
    cairn_msg_type type;
    bool typed = cairn_msg_peek_type(buf, size, &type, &st) == CAIRN_OK;
    cairn_request req;
    if (cairn_request_decode(buf, size, &req, &st) == CAIRN_OK) {
        FUZZ_CHECK(typed && type == req.type && cairn_msg_is_request(req.type));
        round_trip_request(&req);
    }
    cairn_request_free(&req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    if (!cairn_batch_is(buf, size)) {
        one_request(buf, size);
        return 0;
    }
    cairn_batch_part *parts;
    size_t n;
    cairn_status st;
    if (cairn_batch_decode(buf, size, &parts, &n, &st) == CAIRN_OK) {
        FUZZ_CHECK(n >= 1 && n <= CAIRN_BATCH_MAX_PARTS);
        for (size_t i = 0; i < n; i++) {
            FUZZ_CHECK(parts[i].data >= buf && parts[i].data + parts[i].len <= buf + size);
            one_request(parts[i].data, parts[i].len);
        }
        free(parts);
    }
    return 0;
}
