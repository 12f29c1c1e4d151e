/* Subscriptions (cairn_subscription_decode) as a pusher receives them from the gateway: decode,
 * and round-trip what was accepted. */
#include "fuzz_msg.h"

MSG_ROUND_TRIP(subscription, cairn_subscription, cairn_subscription_encode,
               cairn_subscription_decode, cairn_subscription_free)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cairn_status st;
    cairn_subscription sub;
    if (cairn_subscription_decode((const char *)data, size, &sub, &st) == CAIRN_OK)
        round_trip_subscription(&sub);
    cairn_subscription_free(&sub);
    return 0;
}
