/* The next raft membership change (raft_reconfigure.h). */
#include "raft_reconfigure.h"

#include "raft_ids.h"

const char *raft_reconf_kind_name(raft_reconf_kind k)
{
    switch (k) {
    case RAFT_RECONF_ADD:
        return "add";
    case RAFT_RECONF_PROMOTE:
        return "promote";
    case RAFT_RECONF_REMOVE:
        return "remove";
    default:
        return "none";
    }
}

static const struct raft_server *server_of(const struct raft_configuration *conf, raft_id id)
{
    for (unsigned i = 0; i < conf->n; i++)
        if (conf->servers[i].id == id)
            return &conf->servers[i];
    return NULL;
}

static bool configured(const raft_reconf_member *members, size_t n, raft_id id)
{
    for (size_t i = 0; i < n; i++)
        if (cairn_raft_id(members[i].identity) == id)
            return true;
    return false;
}

raft_reconf_change raft_reconf_next(const raft_reconf_member *members, size_t n,
                                    const struct raft_configuration *conf)
{
    raft_reconf_change none = {RAFT_RECONF_NONE, 0, NULL};
    if (n == 0 || conf->n == 0)
        return none; /* standalone, or a node that has no configuration yet */
    for (size_t i = 0; i < n; i++)
        if (!members[i].agrees)
            return none;
    for (size_t i = 0; i < n; i++) {
        raft_id id = cairn_raft_id(members[i].identity);
        const struct raft_server *s = server_of(conf, id);
        if (!s)
            return (raft_reconf_change){RAFT_RECONF_ADD, id, members[i].identity};
        if (s->role != RAFT_VOTER)
            return (raft_reconf_change){RAFT_RECONF_PROMOTE, id, s->address};
    }
    for (unsigned i = 0; i < conf->n; i++)
        if (!configured(members, n, conf->servers[i].id))
            return (raft_reconf_change){RAFT_RECONF_REMOVE, conf->servers[i].id,
                                        conf->servers[i].address};
    return none;
}
