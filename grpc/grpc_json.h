/* The JSON bodies of the Nacos 2.x naming messages (spec §3), read and written with jansson.
 * Reading is lenient as Java's is: unknown fields are ignored, `null` reads as absent, and
 * computed getters a Java client writes (`module`, `success`, `instanceHeartBeat*`, …) are
 * ignored. Writing gives the field order a 2.3.2 server sends, without the computed getters.
 * Pure: no I/O, no clock (lastRefTime is passed in); any thread. Strings returned are malloc'd
 * and NUL-terminated, NULL when out of memory. */
#ifndef GRPC_JSON_H
#define GRPC_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "cairn_error.h"
#include "cairn_model.h"

/* The service a naming request names (§3.1): namespace ("", null or missing → public), group
 * (blank → DEFAULT_GROUP), bare name, and the grouped name the registry keys by. */
typedef struct grpc_service_ref {
    char ns[CAIRN_MAX_NAMESPACE_LEN + 1];
    char group[CAIRN_MAX_SERVICE_LEN + 1];
    char name[CAIRN_MAX_SERVICE_LEN + 1];
    char grouped[2 * CAIRN_MAX_SERVICE_LEN + 3];
} grpc_service_ref;

/* A string member, or NULL when absent, null or not a string. */
const char *grpc_json_str(const json_t *obj, const char *key);
/* A boolean member, or dflt when absent or null (a non-boolean is also dflt). */
bool grpc_json_bool(const json_t *obj, const char *key, bool dflt);

/* Reads namespace, groupName and serviceName. Fails (400, Nacos' words) when the service name is
 * blank or a name is too long. */
cairn_err grpc_json_service_ref(const json_t *body, grpc_service_ref *ref, cairn_status *st);

/* One instance object (§3.2) into *in (initialised here; free it on every outcome): ip and port
 * required; weight 1.0, healthy/enabled/ephemeral true, clusterName DEFAULT when absent or null;
 * metadata values must be strings; preserved.heart.beat.* values consistent. 400 otherwise. */
cairn_err grpc_json_instance(const json_t *obj, cairn_instance *in, cairn_status *st);

/* The requestId of a message as a number (Cairn's own pushes and probes use decimal counters);
 * 0 when absent, null or not a decimal string. */
uint64_t grpc_json_request_id(const json_t *body);

/* ServiceInfo (§3.6) of the service for a subscription or query with this clusters string
 * (echoed verbatim) and healthy_only, rendered from snap (NULL or not found: no hosts). The host
 * selection is cairn_render_select's, the v1 list's; with healthy_only, only instances that are
 * healthy themselves (no protection, as 2.x answers healthyOnly). */
json_t *grpc_json_service_info(const cairn_service_snapshot *snap, const grpc_service_ref *ref,
                               const char *clusters, bool healthy_only, int64_t last_ref_time);

/* The answer to a query ({"resultCode":200,"errorCode":0,"serviceInfo":info}) or a subscription
 * (the same with "message":"success" before serviceInfo) around a ServiceInfo's compact text:
 * the bytes grpc_json_ok would give for the parsed info. */
char *grpc_json_service_answer(bool subscribe, const char *info);

/* {"resultCode":result_code,"errorCode":error_code,"message":message} (ErrorResponse). */
char *grpc_json_error(int result_code, int error_code, const char *message);
/* A success response: {"resultCode":200,"errorCode":0, ...extra's members in order}; extra
 * (may be NULL) is taken over. */
char *grpc_json_ok(json_t *extra);
/* A server → client request: {"headers":{},"requestId":"<id>", ...extra, "module":module};
 * extra (may be NULL) is taken over. */
char *grpc_json_server_request(uint64_t id, json_t *extra, const char *module);

#endif
