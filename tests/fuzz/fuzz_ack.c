/* UDP acks from push subscribers (pusher_ack_parse): the datagram's bytes as received. */
#include "fuzz_util.h"
#include "pusher_ack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t ref = 0xdeadbeef;
    bool ok = pusher_ack_parse(data, size, &ref);
    if (!ok)
        FUZZ_CHECK(ref == 0xdeadbeef); /* untouched unless it is an ack */
    return 0;
}
