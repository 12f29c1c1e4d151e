/* Beats answered without waiting for the healthcheck (design §4 "Beat"; Nacos answers a beat
 * before its ClientBeatProcessor runs, too).
 *
 * A beat's answer ({clientBeatInterval, code, lightBeatEnabled}) depends only on whether the
 * instance is registered and on its beat interval, and both change only by a write to its
 * service. So once the healthcheck has answered a beat of an instance with 10200, the gateway
 * keeps that answer's bytes in gw->beat_cache (a cairn_body_cache keyed by namespace, service,
 * cluster and "ip:port"), and the instance's next beats are answered from it at once, on the
 * HTTP thread, with no deferred connection. The beat itself still goes to the healthcheck behind
 * the answer (an asynchronous call whose reply is only checked), so the beat table, revivals and
 * expiry are exactly as before.
 *
 * What keeps the answer right:
 *   - every change event of the service drops its answers (gateway_cache_events.h), and so does
 *     every write through this gateway before its reply; a fill holds a ticket taken before its
 *     beat was sent, so an answer given before a deregistration the gateway has seen is never
 *     stored after it; the next beat then waits and hears 20404;
 *   - no events (registry restart), no answers: the cache is live only while they arrive, and
 *     gateway.beat_cache_max_age_ms bounds an answer's age (an event lost without the connection
 *     dropping is caught sooner, by the next rule);
 *   - a beat sent behind an answer that fails or is not answered as the answer said (10200 with
 *     the same interval: a healthcheck that is stopped, an instance removed a moment ago, or an
 *     answer stored from a healthcheck that had not yet seen a change the gateway had) empties
 *     the cache, so the beats after it wait for the healthcheck again and get its answer, or
 *     their 503 at the timeout: a stale answer is given only until the first beat sent behind
 *     it is answered;
 *   - at most GATEWAY_BEATS_BEHIND_MAX beats wait behind answers at a time: beyond it beats wait
 *     for their own answer, which the HTTP connection limit bounds;
 *   - only beats this node's healthcheck would answer (gateway_route_write: LOCAL) are answered
 *     here; a beat for another Distro owner is forwarded as always.
 *
 * Thread-safe: the HTTP threads call the lookup, the nng threads the fill and the checks. */
#ifndef GATEWAY_BEAT_CACHE_H
#define GATEWAY_BEAT_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "gateway.h"
#include "gateway_http.h"

/* A beat answer's bytes are well under this (the cache's byte bound is entries times it). */
#define GATEWAY_BEAT_ANSWER_MAX_BYTES 128
/* The most beats sent on behind answers and not yet answered by the healthcheck. */
#define GATEWAY_BEATS_BEHIND_MAX 8192

/* Answers the beat *rq (built and valid; the caller keeps it) from the cache when it can: fills
 * resp and sends the beat on to the healthcheck, returning true. False: not answered (no cache,
 * no answer kept, another owner, too many beats behind); the caller sends it the usual way, and
 * *ticket is what gateway_beat_remember needs to keep its answer (0: it must not be kept). */
bool gateway_beat_answer_known(gateway *gw, const cairn_request *rq, gateway_response *resp,
                               uint64_t *ticket);

/* The healthcheck answered the beat rq, sent with ticket, with resp (rendered): keeps the body
 * when it is a 10200 answer and the service has not changed since the ticket. */
void gateway_beat_remember(gateway *gw, const cairn_request *rq, uint64_t ticket, int beat_code,
                           const gateway_response *resp);

#endif
