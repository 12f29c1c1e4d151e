/* The chain rule of cairn_follow.h. */
#include "cairn_follow.h"

void cairn_follow_init(cairn_follow *f)
{
    f->last = 0;
    f->synced = false;
}

void cairn_follow_lost(cairn_follow *f)
{
    f->synced = false;
}

void cairn_follow_synced(cairn_follow *f, uint64_t at)
{
    f->last = at;
    f->synced = true;
}

cairn_follow_verdict cairn_follow_next(cairn_follow *f, uint64_t prev, uint64_t rev)
{
    if (!f->synced)
        return CAIRN_FOLLOW_GAP;
    if (rev <= f->last)
        return CAIRN_FOLLOW_STALE;
    if (prev == f->last) {
        f->last = rev;
        return CAIRN_FOLLOW_APPLY;
    }
    f->synced = false;
    return CAIRN_FOLLOW_GAP;
}
