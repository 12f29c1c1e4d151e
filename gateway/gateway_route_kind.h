/* Cluster writes that name no instance kind: PATCH /instance (§2.4) and PUT /health/instance
 * (§5), and the service writes (POST/PUT/DELETE /service, PUT /cluster), whose service raft may
 * not know. The registry applies them to whatever instance sits at ip:port (a patch to the ephemeral
 * one first, else the persistent one; health by hand to both), so in a cluster the gateway first
 * reads the service from its local registry (SERVICE_GET) to learn which kinds exist there, then
 * sends each kind on its own path, as every other write of that kind travels:
 *   persistent   through raft (gateway_route_persist.h): the patch, or INSTANCE_HEALTH MANUAL
 *                with ephemeral false; committed on a majority, applied on every node, answered
 *                after the local apply, 503 within raft.submit_timeout_ms otherwise;
 *   ephemeral    to the Distro owner (gateway_route.h): the patch, or INSTANCE_HEALTH
 *   or neither   MANUAL_KIND with ephemeral true (so the owner touches no persistent copy); the
 *                owner's registry answers, its own errors included (a missing service or cluster,
 *                a checker that is not NONE), and Distro syncs its change to every node.
 * Health by hand of an ip:port held by both kinds goes through raft first and then to the owner;
 * the answer is the first failure, else `ok`. Nacos 1.4.8 routes both endpoints to the Distro
 * owner (@CanDistro) and replicates persistent data through its raft; this is the same outcome
 * with Cairn's paths. A service write is a raft command either way; when the local registry
 * holds the service it goes with `held` set, so that a service made by ephemeral registrations
 * (Distro's, unknown to the raft state) exists for the FSM: updated, given clusters, refused a
 * second create, removed on every node, as Nacos 1.4.8 does through its raft-held service meta.
 * Standalone nothing changes (gateway_finish_write writes to the registry).
 *
 * Threads: HTTP threads start a job; it continues and ends on nng threads. */
#ifndef GATEWAY_ROUTE_KIND_H
#define GATEWAY_ROUTE_KIND_H

#include <stdbool.h>

#include "gateway.h"
#include "gateway_http.h"

/* Whether rq (a built write) takes this route: a cluster with raft, and an INSTANCE_PATCH, an
 * INSTANCE_HEALTH by hand (MANUAL), a SERVICE_PUT or a SERVICE_REMOVE. */
bool gateway_route_kind_wanted(const gateway *gw, const cairn_request *rq);

/* Runs the job for *rq (taken) and answers req. */
void gateway_route_kind(gateway *gw, gateway_request *req, gateway_response *resp,
                        cairn_request *rq);

#endif
