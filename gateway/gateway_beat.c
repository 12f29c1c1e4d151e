/* PUT /nacos/v1/ns/instance/beat (§2.7). */
#include "gateway_beat.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cairn_requests.h"
#include "gateway_beat_cache.h"
#include "gateway_handlers.h"
#include "gateway_job.h"
#include "gateway_reply.h"

#define BEAT_FORMAT "beat format incorrect: "

/* Jackson coerces scalars into the declared type; these accept what it would. */
static bool read_string(json_t *v, const char **out)
{
    if (!v || json_is_null(v))
        return true;
    if (!json_is_string(v))
        return false;
    *out = json_string_value(v);
    return true;
}

static cairn_err read_int(json_t *v, const char *key, int32_t *out, cairn_status *st)
{
    if (!v || json_is_null(v))
        return CAIRN_OK;
    if (json_is_integer(v)) {
        json_int_t n = json_integer_value(v);
        if (n < INT32_MIN || n > INT32_MAX)
            return cairn_fail(st, CAIRN_E_INVALID, BEAT_FORMAT "%s out of range", key);
        *out = (int32_t)n;
        return CAIRN_OK;
    }
    if (json_is_string(v) && cairn_parse_java_int(json_string_value(v), out, NULL) == CAIRN_OK)
        return CAIRN_OK;
    return cairn_fail(st, CAIRN_E_INVALID, BEAT_FORMAT "%s is not an integer", key);
}

static cairn_err read_double(json_t *v, const char *key, double *out, cairn_status *st)
{
    if (!v || json_is_null(v))
        return CAIRN_OK;
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return CAIRN_OK;
    }
    if (json_is_string(v) && cairn_parse_java_double(json_string_value(v), out, NULL) == CAIRN_OK)
        return CAIRN_OK;
    return cairn_fail(st, CAIRN_E_INVALID, BEAT_FORMAT "%s is not a number", key);
}

static cairn_err read_bool(json_t *v, const char *key, bool *out, cairn_status *st)
{
    if (!v || json_is_null(v))
        return CAIRN_OK;
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return CAIRN_OK;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (strcasecmp(s, "true") == 0 || strcasecmp(s, "false") == 0) {
            *out = strcasecmp(s, "true") == 0;
            return CAIRN_OK;
        }
    }
    return cairn_fail(st, CAIRN_E_INVALID, BEAT_FORMAT "%s is not a boolean", key);
}

/* The metadata object goes through the same parser as the metadata parameter, so limits and
 * scalar-to-string rules are the same. */
static cairn_err read_metadata(json_t *v, size_t max_bytes, cairn_metadata *md, cairn_status *st)
{
    if (!v || json_is_null(v))
        return CAIRN_OK;
    if (!json_is_object(v))
        return cairn_fail(st, CAIRN_E_INVALID, BEAT_FORMAT "metadata is not an object");
    char *text = json_dumps(v, JSON_COMPACT);
    if (!text)
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    cairn_err err = cairn_parse_metadata(text, max_bytes, md, st);
    free(text);
    if (err == CAIRN_E_INVALID && strncmp(st->message, "metadata format", 15) == 0)
        return cairn_fail(st, CAIRN_E_INVALID, BEAT_FORMAT "metadata values must be strings");
    return err;
}

static cairn_err dup_into(char **dst, const char *s, cairn_status *st)
{
    free(*dst);
    *dst = s ? strdup(s) : NULL;
    return (!s || *dst) ? CAIRN_OK : cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
}

cairn_err gateway_parse_beat(const char *text, size_t max_metadata_bytes, cairn_instance *in,
                             cairn_status *st)
{
    json_error_t jerr;
    json_t *root = json_loads(text, 0, &jerr);
    if (!root)
        return cairn_fail(st, CAIRN_E_INVALID, BEAT_FORMAT "%s", jerr.text);
    cairn_err err = CAIRN_OK;
    const char *ip = NULL, *cluster = NULL;
    if (!json_is_object(root))
        err = cairn_fail(st, CAIRN_E_INVALID, BEAT_FORMAT "not a JSON object");
    else if (!read_string(json_object_get(root, "ip"), &ip))
        err = cairn_fail(st, CAIRN_E_INVALID, BEAT_FORMAT "ip is not a string");
    else if (!read_string(json_object_get(root, "cluster"), &cluster))
        err = cairn_fail(st, CAIRN_E_INVALID, BEAT_FORMAT "cluster is not a string");
    if (err == CAIRN_OK)
        err = read_int(json_object_get(root, "port"), "port", &in->port, st);
    if (err == CAIRN_OK)
        err = read_double(json_object_get(root, "weight"), "weight", &in->weight, st);
    if (err == CAIRN_OK)
        err = read_bool(json_object_get(root, "ephemeral"), "ephemeral", &in->ephemeral, st);
    if (err == CAIRN_OK)
        err = read_metadata(json_object_get(root, "metadata"), max_metadata_bytes, &in->metadata,
                            st);
    /* A blank cluster is filled from the clusterName parameter by the caller. */
    if (cluster && strspn(cluster, " \t\r\n") == strlen(cluster))
        cluster = NULL;
    if (err == CAIRN_OK)
        err = dup_into(&in->ip, ip, st);
    if (err == CAIRN_OK)
        err = dup_into(&in->cluster, cluster, st);
    json_decref(root);
    return err;
}

/* data: the beat cache's ticket (uint64_t), or NULL. */
static void render_beat(gateway *gw, const cairn_request *rq, cairn_err rc, cairn_reply *rep,
                        cairn_status *st, void *data, gateway_response *resp)
{
    if (rc != CAIRN_OK) {
        gateway_reply_error(resp, st);
        return;
    }
    /* Always all three keys (the 2.x shape): the Java client dereferences clientBeatInterval
     * unconditionally (§17 items 9, 10). */
    json_int_t interval = rep->beat_interval_ms > 0 ? (json_int_t)rep->beat_interval_ms
                                                    : CAIRN_DEFAULT_BEAT_INTERVAL_MS;
    int code = rep->beat_code ? rep->beat_code : CAIRN_BEAT_CODE_OK;
    gateway_reply_json(resp, json_pack("{s:I, s:i, s:b}", "clientBeatInterval", interval, "code",
                                       code, "lightBeatEnabled", 1));
    if (data)
        gateway_beat_remember(gw, rq, *(const uint64_t *)data, code, resp);
}

void gateway_instance_beat(gateway *gw, gateway_request *req, gateway_response *resp)
{
    const gateway_params *p = req->params;
    cairn_status st;
    cairn_status_clear(&st);
    cairn_request rq;
    cairn_request_init(&rq, CAIRN_MSG_BEAT);
    cairn_instance in;
    cairn_instance_init(&in);

    const char *svc, *ns;
    const char *beat = gateway_params_get(p, "beat");
    cairn_err err = gateway_param_service(p, true, "Param 'serviceName' is required.", &svc, &st);
    if (err == CAIRN_OK)
        err = gateway_param_namespace(p, &ns, &st);
    if (err == CAIRN_OK && beat) {
        /* The beat body decides ip and port, even when it lacks them (Nacos takes them from it
         * unconditionally); its cluster only when non-blank. */
        err = gateway_parse_beat(beat, gw->max_metadata_bytes, &in, &st);
        if (err == CAIRN_OK && !in.cluster)
            err = dup_into(&in.cluster, gateway_param_cluster(p), &st);
        /* It may re-register the instance, so it must be a valid one. */
        if (err == CAIRN_OK)
            err = cairn_instance_validate(&in, &st);
    } else if (err == CAIRN_OK) {
        err = gateway_param_int(p, "port", false, 0, &in.port, &st);
        if (err == CAIRN_OK)
            err = dup_into(&in.ip, gateway_param_optional(p, "ip", ""), &st);
        if (err == CAIRN_OK)
            err = dup_into(&in.cluster, gateway_param_cluster(p), &st);
        if (err == CAIRN_OK)
            err = cairn_check_length("ip", in.ip, CAIRN_MAX_IP_LEN, &st);
        if (err == CAIRN_OK)
            err = cairn_check_length("clusterName", in.cluster, CAIRN_MAX_CLUSTER_LEN,
                                     &st);
    }
    if (err == CAIRN_OK)
        err = cairn_request_beat(&rq, ns, svc, &in, beat != NULL, &st);
    cairn_instance_free(&in);

    if (err != CAIRN_OK) {
        cairn_request_free(&rq);
        gateway_reply_error(resp, &st);
        return;
    }
    /* A known instance's beat is answered at once (gateway_beat_cache.h). */
    uint64_t *ticket = NULL, t;
    if (gateway_beat_answer_known(gw, &rq, resp, &t)) {
        cairn_request_free(&rq);
        return;
    }
    if (t && (ticket = malloc(sizeof *ticket))) /* without memory the answer is just not kept */
        *ticket = t;
    gateway_ask_beats(gw, req, resp, &rq, render_beat, ticket, ticket ? free : NULL);
}
