/* Access tokens on the gRPC port (grpc_auth.h). */
#include "grpc_auth.h"

#include <stdlib.h>
#include <string.h>

#include "cairn_auth_store.h"
#include "grpc.h"

/* The secured handlers of Nacos 2.3.2 (@Secured on naming/remote/rpc/handler/...) with their
 * action and the response type their refusal takes (getDefaultResponseInstance). */
static const struct secured {
    const char *type;
    cairn_auth_action action;
    const char *resp_type;
} secured[] = {
    {"InstanceRequest", CAIRN_AUTH_WRITE, "InstanceResponse"},
    {"BatchInstanceRequest", CAIRN_AUTH_WRITE, "BatchInstanceResponse"},
    {"PersistentInstanceRequest", CAIRN_AUTH_WRITE, "InstanceResponse"},
    {"ServiceQueryRequest", CAIRN_AUTH_READ, "QueryServiceResponse"},
    {"SubscribeServiceRequest", CAIRN_AUTH_READ, "SubscribeServiceResponse"},
    {"ServiceListRequest", CAIRN_AUTH_READ, "ServiceListResponse"},
};
#define SECURED_COUNT (sizeof secured / sizeof secured[0])

/* Refusals by reason; CAIRN_AUTH_OK is not counted. */
#define REASONS (CAIRN_AUTH_FORBIDDEN + 1)

struct grpc_auth {
    cairn_auth_store *store;
    cairn_counter *denied[REASONS];
};

grpc_auth *grpc_auth_open(const cairn_config *cfg, cairn_metrics *m, cairn_status *st)
{
    grpc_auth *a = calloc(1, sizeof *a);
    if (!a) {
        cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
        return NULL;
    }
    if (!(a->store = cairn_auth_store_open(cfg, st))) {
        free(a);
        return NULL;
    }
    for (int r = CAIRN_AUTH_NO_USER; r < REASONS; r++) {
        char labels[64];
        snprintf(labels, sizeof labels, "reason=\"%s\"", cairn_auth_result_name(r));
        a->denied[r] = m ? cairn_metrics_counter(m, "auth_denied_total",
                                                 "Naming calls refused for their access token, "
                                                 "by reason.",
                                                 labels)
                         : NULL;
    }
    return a;
}

void grpc_auth_close(grpc_auth *a)
{
    if (!a)
        return;
    cairn_auth_store_close(a->store);
    free(a);
}

bool grpc_auth_enabled(const grpc_auth *a)
{
    return a && cairn_auth_store_enabled(a->store);
}

static const struct secured *secured_of(const char *type)
{
    for (size_t i = 0; i < SECURED_COUNT; i++)
        if (strcmp(type, secured[i].type) == 0)
            return &secured[i];
    return NULL;
}

/* The token of a call: the metadata's, else the body's own headers (Nacos merges both). */
static const char *token_of(const grpc_payload *p, const json_t *body)
{
    if (p->token)
        return p->token;
    const json_t *h = json_object_get(body, "headers");
    const char *bearer = grpc_json_str(h, "Authorization");
    if (bearer && strncmp(bearer, "Bearer ", 7) == 0 && bearer[7])
        return bearer + 7;
    return grpc_json_str(h, "accessToken");
}

bool grpc_auth_admit(grpc_auth *a, grpc_stream *st, const char *type, const grpc_payload *p,
                     const json_t *body, int64_t now_ms)
{
    const struct secured *sec;
    if (!grpc_auth_enabled(a) || !(sec = secured_of(type)))
        return true;
    const char *ns = grpc_json_str(body, "namespace");
    cairn_auth_result r = cairn_auth_store_check(a->store, token_of(p, body), sec->action,
                                                 ns && *ns ? ns : "public", now_ms);
    if (r == CAIRN_AUTH_OK)
        return true;
    if (r < REASONS && a->denied[r])
        cairn_counter_inc(a->denied[r]);
    /* Response.setErrorInfo(NO_RIGHT, ...): resultCode FAIL (500), errorCode 403 */
    char *json = grpc_json_error(500, 403, cairn_auth_result_text(r));
    grpc_stream_reply(st, sec->resp_type, json);
    free(json);
    grpc_metrics_request(&st->conn->srv->metrics, type, false);
    return false;
}
