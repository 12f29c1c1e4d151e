/* The `beat` parameter of PUT /instance/beat (§2.7): a JSON RsInfo whose ip, port, cluster,
 * weight, metadata and ephemeral describe the instance (and re-register it when it is unknown).
 * Unknown keys are ignored, as Jackson is told to. */
#ifndef GATEWAY_BEAT_H
#define GATEWAY_BEAT_H

#include <stddef.h>

#include "cairn_error.h"
#include "cairn_model.h"

/* Fills in (initialised by the caller with cairn_instance_init) from the beat JSON: ip, port,
 * cluster (left NULL when blank), weight, metadata, ephemeral (default true). Malformed JSON or a
 * field of the wrong type gives 400 `beat format incorrect: <why>`. */
cairn_err gateway_parse_beat(const char *json, size_t max_metadata_bytes, cairn_instance *in,
                             cairn_status *st);

#endif
