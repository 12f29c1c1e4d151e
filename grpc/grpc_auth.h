/* Access tokens on the gRPC port (auth.enabled), as Nacos 2.3's RemoteRequestAuthFilter checks
 * them: a naming request carries the token of a login (POST /nacos/v1/auth/login on the HTTP
 * port) in its Payload's metadata headers, `accessToken` or `Authorization: Bearer <token>`
 * (headers in the JSON body count too, as Nacos merges both). Writes (InstanceRequest,
 * BatchInstanceRequest, PersistentInstanceRequest) need write:<ns>, reads (ServiceQueryRequest,
 * SubscribeServiceRequest, ServiceListRequest) read:<ns>, ns being the request's `namespace`
 * ("public" when empty), the same roles as v1. ServerCheckRequest, HealthCheckRequest and the
 * bi-stream's ConnectionSetupRequest stay open. A refusal is the handler's own response type with
 * resultCode 500, errorCode 403 and Nacos' text (`user not found!`, `token invalid!`,
 * `token expired!`, `authorization failed!`), grpc-status 0.
 *
 * The secret, the users and the token format are the gateway's (cairn_auth_store.h); a password
 * in the headers (username/password) is not accepted here: checking one costs tens of
 * milliseconds of argon2id, and this role has one loop thread. Every Nacos 2.x client logs in
 * over HTTP and sends the token.
 *
 * Metrics: auth_denied_total{reason="no_user|token_invalid|token_expired|forbidden"}.
 * Loop thread, except open and close (before and after the loop). */
#ifndef GRPC_AUTH_H
#define GRPC_AUTH_H

#include <jansson.h>
#include <stdbool.h>

#include "cairn_config.h"
#include "cairn_error.h"
#include "cairn_metrics.h"
#include "grpc_codec.h"

typedef struct grpc_auth grpc_auth;
struct grpc_stream;

/* Reads auth.*; with auth.enabled, the secret (an unreadable one: CAIRN_E_INVALID, a
 * configuration error) and the users. NULL with st set on failure. */
grpc_auth *grpc_auth_open(const cairn_config *cfg, cairn_metrics *m, cairn_status *st);
void grpc_auth_close(grpc_auth *a);
bool grpc_auth_enabled(const grpc_auth *a);

/* Whether the unary call of type (a handled type) with payload p and body may run. When not,
 * the stream has been answered and the refusal counted. */
bool grpc_auth_admit(grpc_auth *a, struct grpc_stream *st, const char *type,
                     const grpc_payload *p, const json_t *body, int64_t now_ms);

#endif
