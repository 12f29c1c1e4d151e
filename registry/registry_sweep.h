/* The registry's empty-service sweep (Nacos' empty-service auto-clean). A registration creates
 * its service implicitly, and deregistering the last instance leaves the service behind; without
 * a sweep, clients that register under ever new names fill the store.
 *
 * Which services go: a service is *disposable* when it has no instance, was never defined
 * through the service API (cairn_service.defined: POST /service or PUT /service), has no cluster
 * with settings other than those a registration gives (PUT /cluster), has not changed since
 * cutoff = now - clean_after_ms, and has not been reported in use since the cutoff either. Every
 * instance change touches its service (revision and modified_ms), so a service that is empty now
 * and unchanged since the cutoff has been empty for the whole delay.
 *
 * A service with subscribers stays. They live in other roles: v1 UDP push subscribers in the
 * gateway's subscription table (gateway_push.h), gRPC subscribers in cairn-grpc. Each of them
 * reports the services that have one (SERVICES_IN_USE) every clean_after_ms / 3 and as soon as a
 * service gets its first subscriber, and the registry keeps the time of the last report in
 * memory (registry_in_use.h): about three reports in a row must be lost before a service in use
 * goes. Once its last subscriber is gone (the v1 subscription expired, the gRPC connection
 * closed), the reports stop and the service goes clean_after_ms after the last one, like any
 * empty service after its last change.
 *
 * How they go: a pass walks the services a page at a time in read transactions, collects the
 * disposable ones and removes each with a write of its own through the writer (so it gets a
 * revision and a CAIRN_CHANGE_REMOVED event that the list cache, the healthcheck and the pushers
 * follow). The write checks again, inside its own transaction and with the same cutoff, so a
 * registration or a report that lands between the look and the removal keeps the service.
 * Removals are not synced (not durable): one lost to an OS crash comes back empty and goes at the
 * next pass.
 *
 * Time is a parameter: registry_sweep_run takes now_ms (wall clock, as modified_ms is), and the
 * thread started with a period passes the wall clock. A wall-clock step back delays removals, a
 * step forward hastens them; neither removes a service that is not empty and implicit. */
#ifndef REGISTRY_SWEEP_H
#define REGISTRY_SWEEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "registry_in_use.h"
#include "registry_metrics.h"
#include "registry_store.h"
#include "registry_writer.h"

typedef struct registry_sweep_config {
    registry_store *store;     /* borrowed; must outlive the sweep */
    registry_writer *writer;   /* borrowed; must outlive the sweep */
    registry_metrics *metrics; /* may be NULL */
    registry_in_use *in_use;   /* borrowed, may be NULL (nothing is in use); outlives the sweep */
    int64_t clean_after_ms;    /* registry.empty_service_clean_after_ms */
    int64_t period_ms;         /* registry.empty_service_sweep_ms; 0: no thread (tests) */
} registry_sweep_config;

typedef struct registry_sweep registry_sweep;

/* Whether svc, with instances instances and last reported in use at in_use_ms
 * (registry_in_use_last), may be removed as of cutoff_ms (see above). Pure. */
bool registry_service_disposable(const cairn_service *svc, uint64_t instances,
                                 int64_t in_use_ms, int64_t cutoff_ms);

/* Starts the sweep; with cfg->period_ms > 0 a thread runs a pass every period_ms. */
cairn_err registry_sweep_start(const registry_sweep_config *cfg, registry_sweep **out,
                               cairn_status *st);
/* One pass as of now_ms: removes every disposable service, adding their number to *removed, and
 * forgets the in-use marks older than its cutoff.
 * Blocks until its writes are done. One caller at a time (the thread, or a test without one).
 * Fails when the store cannot be read; a removal the writer refuses is only skipped. */
cairn_err registry_sweep_run(registry_sweep *s, int64_t now_ms, size_t *removed,
                             cairn_status *st);
/* Removes the service (ns, svc) if it is disposable as of cutoff_ms when the writer gets to it:
 * the write that registry_sweep_run queues for each service it found. *removed says whether it
 * went. Blocks until the write is done. */
cairn_err registry_sweep_remove(registry_sweep *s, const char *ns, const char *svc,
                                int64_t cutoff_ms, bool *removed, cairn_status *st);
/* Ends a pass under way at its next page, stops the thread and frees the sweep. Before the
 * writer stops. */
void registry_sweep_stop(registry_sweep *s);

#endif
