/* Replies from a role (cairn_reply_decode), as a gateway, healthcheck or pusher receives them:
 * decode, and round-trip what was accepted. */
#include "fuzz_msg.h"

MSG_ROUND_TRIP(reply, cairn_reply, cairn_reply_encode, cairn_reply_decode, cairn_reply_free)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cairn_status st;
    cairn_reply rep;
    if (cairn_reply_decode((const char *)data, size, &rep, &st) == CAIRN_OK)
        round_trip_reply(&rep);
    cairn_reply_free(&rep);
    return 0;
}
