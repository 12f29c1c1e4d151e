/* Change events out of the registry over nng PUB. */
#include "registry_events.h"

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <stdlib.h>

#include "cairn_listen.h"
#include "cairn_log.h"

struct registry_events {
    nng_socket sock;
    nng_msg *pending; /* this commit's events not sent yet (writer thread); NULL: none */
};

registry_events *registry_events_open(const char *url, cairn_status *st)
{
    registry_events *e = calloc(1, sizeof *e);
    if (!e) {
        cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
        return NULL;
    }
    int rc = nng_pub0_open(&e->sock);
    if (rc) {
        cairn_fail(st, CAIRN_E_INTERNAL, "open event socket: %s", nng_strerror(rc));
        free(e);
        return NULL;
    }
    /* one commit publishes an event per changed service, up to registry.max_batch at once */
    if ((rc = cairn_listen_pub(e->sock, url))) {
        cairn_fail(st, CAIRN_E_UNAVAILABLE, "listen for event subscribers on %s: %s", url,
                   nng_strerror(rc));
        nng_close(e->sock);
        free(e);
        return NULL;
    }
    return e;
}

void registry_events_flush(void *arg)
{
    registry_events *e = arg;
    nng_msg *msg = e->pending;
    if (!msg)
        return;
    e->pending = NULL;
    int rc = nng_sendmsg(e->sock, msg, 0);
    if (rc) {
        nng_msg_free(msg);
        log_warn("publish change events: %s", nng_strerror(rc));
    }
}

void registry_events_publish(void *arg, const cairn_change_event *ev)
{
    registry_events *e = arg;
    char *buf;
    size_t len;
    if (cairn_event_encode(ev, &buf, &len) != CAIRN_OK) {
        log_error("cannot encode change event of %s", ev->service);
        return;
    }
    if (e->pending && nng_msg_len(e->pending) + len > CAIRN_EVENT_PACK_BYTES)
        registry_events_flush(e);
    int rc = 0;
    if (!e->pending)
        rc = nng_msg_alloc(&e->pending, 0);
    if (!rc && (rc = nng_msg_append(e->pending, buf, len)) != 0)
        registry_events_flush(e); /* what it held goes; this one is lost (followers repair) */
    free(buf);
    if (rc)
        log_warn("publish change event of %s: %s", ev->service, nng_strerror(rc));
}

void registry_events_close(registry_events *e)
{
    if (!e)
        return;
    if (e->pending)
        nng_msg_free(e->pending);
    nng_close(e->sock);
    free(e);
}
