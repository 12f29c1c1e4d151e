/* Reading the registry's services a SNAPSHOT_PAGE at a time (cairn_msg.h): each request carries
 * the cursor, the last (namespace, grouped name) delivered, and the registry answers the services
 * after it in key order, with `more` while any remain. Both the healthcheck's full load and the
 * gateway's Prometheus service discovery walk the store this way.
 *
 * The walker does no I/O itself: the caller's call function sends one request (over its own
 * client, with its own timeout and metrics) and is the only thing that blocks. Each page is freed
 * once visited, so at most one page is held; visit must copy whatever it keeps. Runs on the
 * calling thread; no state outlives the call. */
#ifndef CAIRN_SNAPSHOT_PAGES_H
#define CAIRN_SNAPSHOT_PAGES_H

#include <stdbool.h>
#include <stdint.h>

#include "cairn_error.h"
#include "cairn_msg.h"

/* Sends req, fills rep (initialised here or by the callee; freed by the walker in every case)
 * and returns the outcome, an error reply included, with *st set on error. */
typedef cairn_err (*cairn_pages_call_fn)(void *arg, const cairn_request *req, cairn_reply *rep,
                                         cairn_status *st);
/* One found snapshot with its names set, in key order. Set *stop to end the walk without error;
 * an error return ends it with that error. */
typedef cairn_err (*cairn_pages_visit_fn)(void *arg, const cairn_service_snapshot *snap,
                                          bool *stop, cairn_status *st);

/* Visits every service from the first of namespace from_ns ("" or NULL: from the first of all)
 * to the end of the store or until visit stops, page_size services per request. Snapshots that
 * were not found or lack their names are skipped. Returns CAIRN_OK, or the first error of a call
 * or of visit. */
cairn_err cairn_snapshot_pages(const char *from_ns, uint32_t page_size, cairn_pages_call_fn call,
                               void *call_arg, cairn_pages_visit_fn visit, void *visit_arg,
                               cairn_status *st);

#endif
