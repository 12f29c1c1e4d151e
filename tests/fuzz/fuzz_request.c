/* Requests between roles (cairn_request_decode), as a registry or healthcheck worker receives
 * them from its socket: peek the type, decode, and round-trip what was accepted. */
#include "fuzz_msg.h"

MSG_ROUND_TRIP(request, cairn_request, cairn_request_encode, cairn_request_decode,
               cairn_request_free)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    cairn_status st;
    cairn_msg_type type;
    bool typed = cairn_msg_peek_type(buf, size, &type, &st) == CAIRN_OK;
    cairn_request req;
    if (cairn_request_decode(buf, size, &req, &st) == CAIRN_OK) {
        FUZZ_CHECK(typed && type == req.type && cairn_msg_is_request(req.type));
        round_trip_request(&req);
    }
    cairn_request_free(&req);
    return 0;
}
