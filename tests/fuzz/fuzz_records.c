/* The whole-buffer value decoders (cairn_instance_decode, cairn_service_decode,
 * cairn_snapshot_decode): the registry's stored values and the snapshot a change event carries.
 * Every input goes to all three; what one accepts is round-tripped. */
#include "fuzz_msg.h"

MSG_ROUND_TRIP(instance, cairn_instance, cairn_instance_encode, cairn_instance_decode,
               cairn_instance_free)
MSG_ROUND_TRIP(service, cairn_service, cairn_service_encode, cairn_service_decode,
               cairn_service_free)
MSG_ROUND_TRIP(snapshot, cairn_service_snapshot, cairn_snapshot_encode, cairn_snapshot_decode,
               cairn_service_snapshot_free)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    cairn_status st;
    cairn_instance in;
    if (cairn_instance_decode(buf, size, &in, &st) == CAIRN_OK)
        round_trip_instance(&in);
    cairn_instance_free(&in);
    cairn_service svc;
    if (cairn_service_decode(buf, size, &svc, &st) == CAIRN_OK)
        round_trip_service(&svc);
    cairn_service_free(&svc);
    cairn_service_snapshot snap;
    if (cairn_snapshot_decode(buf, size, &snap, &st) == CAIRN_OK)
        round_trip_snapshot(&snap);
    cairn_service_snapshot_free(&snap);
    return 0;
}
