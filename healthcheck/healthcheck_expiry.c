/* Expiry and self-preservation rules. */
#include "healthcheck_expiry.h"

#include "cairn_model.h"

hc_expiry hc_expiry_decide(int64_t idle_ms, int64_t beat_timeout_ms, int64_t delete_timeout_ms,
                           bool healthy, bool marked, bool expire_instances)
{
    if (marked)
        return HC_EXPIRY_NONE;
    if (expire_instances && idle_ms > delete_timeout_ms)
        return HC_EXPIRY_DELETE;
    if (healthy && idle_ms > beat_timeout_ms)
        return HC_EXPIRY_UNHEALTHY;
    return HC_EXPIRY_NONE;
}

bool hc_preservation_hold(size_t ephemeral_instances, size_t expiring, double ratio,
                          int64_t min_instances)
{
    if (expiring == 0 || ephemeral_instances == 0)
        return false;
    if ((int64_t)ephemeral_instances < min_instances)
        return false;
    return (double)expiring > ratio * (double)ephemeral_instances;
}

void hc_timeouts_from_metadata(const cairn_metadata *md, int64_t default_beat_timeout_ms,
                               int64_t default_delete_timeout_ms, hc_timeouts *out)
{
    out->beat_interval_ms =
        cairn_metadata_millis(md, CAIRN_META_BEAT_INTERVAL, CAIRN_DEFAULT_BEAT_INTERVAL_MS);
    out->beat_timeout_ms =
        cairn_metadata_millis(md, CAIRN_META_BEAT_TIMEOUT, default_beat_timeout_ms);
    out->delete_timeout_ms =
        cairn_metadata_millis(md, CAIRN_META_DELETE_TIMEOUT, default_delete_timeout_ms);
}
