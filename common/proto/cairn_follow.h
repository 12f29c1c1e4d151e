/* Following an ordered stream of changes that may lose messages (design §2).
 *
 * A publisher stamps each message with its own position `rev` and the position of the message it
 * published just before, `prev` (a chain). A follower that saw everything up to `last` applies a
 * message whose prev is `last`; a message at or before `last` is old news (it was buffered while
 * the follower loaded a snapshot taken after it); anything else means messages were lost, and
 * the follower must repair (reload, or treat everything as changed) before it trusts the stream
 * again. A publisher that also sends a tick (prev == rev == its newest position) now and then
 * lets a follower notice a lost last message without waiting for the next change.
 *
 * Used for the registry's change events (rev = the store revision) and the gateway's push
 * subscriptions (rev = a sequence number). Pure logic: no clock, no locks; the caller owns the
 * struct and serialises calls. */
#ifndef CAIRN_FOLLOW_H
#define CAIRN_FOLLOW_H

#include <stdbool.h>
#include <stdint.h>

typedef struct cairn_follow {
    uint64_t last; /* the newest position applied or covered by a snapshot */
    bool synced;   /* false: nothing is trusted until cairn_follow_synced */
} cairn_follow;

typedef enum cairn_follow_verdict {
    CAIRN_FOLLOW_APPLY = 0, /* the next message: apply it (last moved to its rev) */
    CAIRN_FOLLOW_STALE,     /* already covered: skip it */
    CAIRN_FOLLOW_GAP,       /* messages were lost, or the follower is not synced: repair */
} cairn_follow_verdict;

/* Not synced: the first message is a gap (the state before it is unknown). */
void cairn_follow_init(cairn_follow *f);
/* The connection was lost or replaced: nothing after it is trusted until a repair. */
void cairn_follow_lost(cairn_follow *f);
/* A repair (snapshot, full reload) covers everything up to and including position `at`. */
void cairn_follow_synced(cairn_follow *f, uint64_t at);
/* The verdict on a message (prev, rev); see above. A GAP leaves the follower unsynced. */
cairn_follow_verdict cairn_follow_next(cairn_follow *f, uint64_t prev, uint64_t rev);

#endif
