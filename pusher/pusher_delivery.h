/* Delivery of push datagrams (§12.4, §12.5): one pending entry per (destination, lastRefTime)
 * from the first transmission until its ack; without an ack it is retransmitted (the same bytes)
 * every push.ack_timeout_ms up to push.max_retries times, then counted as failed. A newer push
 * to the same subscriber supersedes its unacknowledged one, so a retransmit never delivers older
 * data after newer. Sends over a destination's rate (pusher_rate.h) or into a full socket buffer
 * wait in their entry and go out as soon as they may. */
#ifndef PUSHER_DELIVERY_H
#define PUSHER_DELIVERY_H

#include <stdint.h>

#include "pusher.h"
#include "pusher_payload.h"

typedef struct pusher_pending {
    pusher_timer timer; /* PUSHER_TIMER_PENDING: ack deadline, or when a deferred send may go */
    unsigned char key[PUSHER_ADDR_KEY_LEN + 8];
    pusher_addr dest;
    pusher_datagram *datagram;
    pusher_sub *sub;        /* whose newest push this is; NULL once superseded or dropped */
    uint32_t transmissions; /* 0 while the first send is deferred */
    bool deferred;          /* the timer is for a send that had to wait, not an ack deadline */
    bool limited;           /* this transmission was already counted as rate limited */
    bool queued;            /* in p->sends, not yet sent: its timer is not armed */
    int64_t sent_us;        /* monotonic, last transmission */
    int64_t change_at_ms;   /* wall clock of the change */
} pusher_pending;

int pusher_delivery_init(pusher *p);
/* Frees every pending entry (timers are disarmed). */
void pusher_delivery_destroy(pusher *p);

/* Sends d to sub now, or as soon as the destination's rate allows. A duplicate of the same
 * datagram to the same destination (two subscribers that differ only by agent) is sent once. */
void pusher_delivery_send(pusher *p, pusher_sub *sub, pusher_datagram *d, int64_t change_at_ms,
                          int64_t now);
/* Hands the transmissions queued by the calls above to the kernel (one sendmmsg per
 * PUSHER_SEND_BATCH). The loop calls it before it waits, and before it reads acks. */
void pusher_delivery_flush(pusher *p);
/* A PUSHER_TIMER_PENDING timer fired. */
void pusher_delivery_on_timer(pusher *p, pusher_timer *t, int64_t now);
/* A datagram arrived on the UDP socket. */
void pusher_delivery_on_datagram(pusher *p, const void *buf, size_t len, const pusher_addr *from);
/* sub is about to be freed (pusher_sub_drop_fn). */
void pusher_delivery_forget_sub(void *arg, pusher_sub *sub);

#endif
