/* The raft node (contract in raft_node.h). */
#include "raft_node.h"

#include <dirent.h>
#include <errno.h>
#include <raft/uv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "raft_ids.h"

struct cairn_raft_node {
    uv_loop_t *loop;
    char *dir, *self;
    char **members;
    size_t member_count;
    cairn_raft_node_options opt; /* numbers only; pointers above are the node's copies */
    cairn_raft_fsm *fsm;
    cairn_raft_transport *transport;
    struct raft_io io;
    struct raft raft;
    bool io_ready, raft_ready, started, stopping;
    uv_check_t flush;   /* hands the FSM's batch on once per loop iteration */
    uv_timer_t poll;    /* follows the leader (libraft 0.15 has no state-change callback) */
    int handles;        /* flush and poll while open */
    struct raft_transfer transfer;
    bool transferring;                  /* a leadership transfer is in flight */
    cairn_raft_stopped_cb handed_cb;    /* cairn_raft_node_hand_over's, once */
    void *handed_arg;
    cairn_raft_stopped_cb stopped_cb;
    void *stopped_arg;
    raft_id last_leader;
    int last_state;
    uint64_t last_term;
    uint64_t leader_changes;
    bool nudging, nudge_again; /* a barrier in flight; another wanted after it */
    struct raft_change change; /* cairn_raft_node_change's, while changing */
    bool changing;
    cairn_raft_change_cb change_cb;
    void *change_arg;
};

const char *cairn_raft_state_name(int state)
{
    switch (state) {
    case RAFT_FOLLOWER:
        return "follower";
    case RAFT_CANDIDATE:
        return "candidate";
    case RAFT_LEADER:
        return "leader";
    default:
        return "unavailable";
    }
}

bool cairn_raft_dir_pristine(const char *dir)
{
    char path[4096];
    struct stat sb;
    for (int i = 1; i <= 2; i++) {
        snprintf(path, sizeof path, "%s/metadata%d", dir, i);
        if (stat(path, &sb) == 0)
            return false;
    }
    return true;
}

static void on_flush(uv_check_t *h)
{
    cairn_raft_node *n = h->data;
    cairn_raft_fsm_flush(n->fsm);
}

/* The leader raft knows of, its identity written to buf when buf is not NULL (0 and "": none,
 * or raft not started). */
static raft_id leader_identity(cairn_raft_node *n, char *buf, size_t len)
{
    raft_id id = 0;
    const char *addr = NULL;
    if (n->raft_ready)
        raft_leader(&n->raft, &id, &addr);
    if (buf)
        snprintf(buf, len, "%s", id && addr ? addr : "");
    return id;
}

static void on_poll(uv_timer_t *h)
{
    cairn_raft_node *n = h->data;
    raft_id id = leader_identity(n, NULL, 0);
    int state = n->raft_ready ? raft_state(&n->raft) : RAFT_UNAVAILABLE;
    uint64_t term = n->raft_ready ? n->raft.current_term : 0;
    bool changed = id != n->last_leader || state != n->last_state || term != n->last_term;
    if (id != n->last_leader)
        n->leader_changes++;
    n->last_leader = id;
    n->last_state = state;
    n->last_term = term;
    if (changed && n->opt.changed && !n->stopping)
        n->opt.changed(n->opt.changed_arg);
}

static cairn_err copy_options(cairn_raft_node *n, const cairn_raft_node_options *o,
                              cairn_status *st)
{
    n->opt = *o;
    n->loop = o->loop;
    n->dir = strdup(o->dir);
    n->self = strdup(o->self);
    n->members = calloc(o->member_count ? o->member_count : 1, sizeof *n->members);
    if (!n->dir || !n->self || !n->members)
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    for (size_t i = 0; i < o->member_count; i++)
        if (!(n->members[i] = strdup(o->members[i])))
            return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    n->member_count = o->member_count;
    if (cairn_raft_check_members(o->members, o->member_count, st))
        return st->code;
    if (!cairn_raft_identity_of(o->members, o->member_count, cairn_raft_id(o->self)))
        return cairn_fail(st, CAIRN_E_INVALID, "raft: self %s is not a member", o->self);
    if (o->heartbeat_ms == 0 || o->heartbeat_ms >= o->election_timeout_ms)
        return cairn_fail(st, CAIRN_E_INVALID,
                          "raft: the heartbeat must be shorter than the election timeout");
    if (mkdir(n->dir, 0700) != 0 && errno != EEXIST)
        return cairn_fail(st, CAIRN_E_STORAGE, "raft dir %s: %s", n->dir, strerror(errno));
    return CAIRN_OK;
}

static void free_copies(cairn_raft_node *n)
{
    for (size_t i = 0; n->members && i < n->member_count; i++)
        free(n->members[i]);
    free(n->members);
    free(n->dir);
    free(n->self);
}

cairn_err cairn_raft_node_new(const cairn_raft_node_options *o, cairn_raft_node **out,
                              cairn_status *st)
{
    cairn_raft_node *n = calloc(1, sizeof *n);
    if (!n)
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    cairn_raft_transport_options to = o->transport;
    to.loop = o->loop;
    if (copy_options(n, o, st) || !(n->fsm = cairn_raft_fsm_new(&o->fsm)) ||
        cairn_raft_transport_new(&to, &n->transport, st)) {
        if (st->code == CAIRN_OK)
            cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
        cairn_raft_fsm_free(n->fsm);
        free_copies(n);
        free(n);
        return st->code;
    }
    uv_check_init(n->loop, &n->flush);
    uv_timer_init(n->loop, &n->poll);
    n->flush.data = n->poll.data = n;
    n->handles = 2;
    uv_check_start(&n->flush, on_flush);
    *out = n;
    return CAIRN_OK;
}

const char *cairn_raft_node_address(const cairn_raft_node *n)
{
    return cairn_raft_transport_address(n->transport);
}

cairn_raft_fsm *cairn_raft_node_fsm(cairn_raft_node *n)
{
    return n->fsm;
}

cairn_raft_transport *cairn_raft_node_transport(cairn_raft_node *n)
{
    return n->transport;
}

static void apply_settings(cairn_raft_node *n)
{
    raft_set_election_timeout(&n->raft, n->opt.election_timeout_ms);
    raft_set_heartbeat_timeout(&n->raft, n->opt.heartbeat_ms);
    raft_set_snapshot_threshold(&n->raft, n->opt.snapshot_threshold);
    raft_set_snapshot_trailing(&n->raft, n->opt.snapshot_trailing);
    raft_set_pre_vote(&n->raft, true);
    /* A member whose dir was wiped after it had caught up keeps its old match index at the
     * leader (libraft 0.15 never lowers it), so the leader ignores the reply to the snapshot it
     * sends and resumes only when this timeout expires. The CP state is small (a snapshot is
     * sent in well under a second), so a short timeout costs nothing and bounds that wait. */
    raft_set_install_snapshot_timeout(&n->raft, n->opt.install_snapshot_timeout_ms
                                                    ? n->opt.install_snapshot_timeout_ms
                                                    : 5000);
}

static cairn_err raft_fail(cairn_status *st, const char *what, int rv, const char *msg)
{
    return cairn_fail(st, CAIRN_E_INTERNAL, "raft %s: %s (%s)", what, raft_strerror(rv),
                      msg && *msg ? msg : "no detail");
}

/* raft_bootstrap with every member; a dir that already holds state is left as it is. */
static cairn_err bootstrap(cairn_raft_node *n, cairn_status *st)
{
    struct raft_configuration conf;
    if (cairn_raft_configuration((const char *const *)n->members, n->member_count, &conf, st))
        return st->code;
    int rv = raft_bootstrap(&n->raft, &conf);
    raft_configuration_close(&conf);
    if (rv != 0 && rv != RAFT_CANTBOOTSTRAP)
        return raft_fail(st, "bootstrap", rv, raft_errmsg(&n->raft));
    return CAIRN_OK;
}

cairn_err cairn_raft_node_start(cairn_raft_node *n, bool bootstrap_all, cairn_status *st)
{
    if (n->started || n->stopping)
        return cairn_fail(st, CAIRN_E_INVALID, "raft node already started or stopping");
    int rv = raft_uv_init(&n->io, n->loop, n->dir, cairn_raft_transport_uv(n->transport));
    if (rv != 0)
        return raft_fail(st, "init (is the dir on a file system with O_DIRECT?)", rv,
                         n->io.errmsg);
    n->io_ready = true;
    if (n->opt.segment_size)
        raft_uv_set_segment_size(&n->io, n->opt.segment_size);
    raft_uv_set_connect_retry_delay(&n->io, n->opt.connect_retry_ms ? n->opt.connect_retry_ms
                                                                    : 250);
    rv = raft_init(&n->raft, &n->io, cairn_raft_fsm_raft(n->fsm), cairn_raft_id(n->self),
                   n->self);
    if (rv != 0)
        return raft_fail(st, "init", rv, n->raft.errmsg);
    n->raft_ready = true;
    n->raft.data = n;
    cairn_raft_fsm_bind(n->fsm, &n->raft);
    apply_settings(n);
    if (bootstrap_all && bootstrap(n, st))
        return st->code;
    if ((rv = raft_start(&n->raft)) != 0)
        return raft_fail(st, "start", rv, raft_errmsg(&n->raft));
    n->started = true;
    uv_timer_start(&n->poll, on_poll, n->opt.heartbeat_ms, n->opt.heartbeat_ms);
    return CAIRN_OK;
}

/* ---- configuration changes --------------------------------------------------------------- */

static void on_changed_configuration(struct raft_change *req, int status)
{
    cairn_raft_node *n = req->data;
    n->changing = false;
    const char *msg = status ? raft_strerror(status) : "";
    if (n->change_cb)
        n->change_cb(n->change_arg, status, msg);
}

cairn_err cairn_raft_node_change(cairn_raft_node *n, raft_reconf_kind kind, raft_id id,
                                 const char *address, cairn_raft_change_cb cb, void *arg,
                                 cairn_status *st)
{
    if (!n->started || n->stopping || raft_state(&n->raft) != RAFT_LEADER)
        return cairn_fail(st, CAIRN_E_UNAVAILABLE, "not the raft leader");
    if (cairn_raft_node_changing(n))
        return cairn_fail(st, CAIRN_E_UNAVAILABLE, "a configuration change is in flight");
    n->change.data = n;
    n->change_cb = cb;
    n->change_arg = arg;
    int rv;
    switch (kind) {
    case RAFT_RECONF_ADD:
        rv = raft_add(&n->raft, &n->change, id, address, on_changed_configuration);
        break;
    case RAFT_RECONF_PROMOTE:
        rv = raft_assign(&n->raft, &n->change, id, RAFT_VOTER, on_changed_configuration);
        break;
    case RAFT_RECONF_REMOVE:
        rv = raft_remove(&n->raft, &n->change, id, on_changed_configuration);
        break;
    default:
        return cairn_fail(st, CAIRN_E_INVALID, "no configuration change");
    }
    if (rv != 0)
        return cairn_fail(st, rv == RAFT_NOTLEADER || rv == RAFT_CANTCHANGE ? CAIRN_E_UNAVAILABLE
                                                                          : CAIRN_E_INVALID,
                          "raft %s: %s (%s)", raft_reconf_kind_name(kind), raft_strerror(rv),
                          raft_errmsg(&n->raft));
    n->changing = true;
    return CAIRN_OK;
}

bool cairn_raft_node_changing(const cairn_raft_node *n)
{
    return n->changing || n->raft.configuration_uncommitted_index != 0;
}

const struct raft_configuration *cairn_raft_node_configuration(const cairn_raft_node *n)
{
    return n->started ? &n->raft.configuration : NULL;
}

/* ---- submit ------------------------------------------------------------------------------- */

typedef struct submit {
    struct raft_apply req; /* first */
    cairn_raft_submit_cb cb;
    size_t count;
    void *args[]; /* count */
} submit;

static void on_applied(struct raft_apply *req, int status, void *result)
{
    submit *s = (submit *)req;
    cairn_raft_submit_result r;
    const cairn_raft_result *res = status == 0 ? result : NULL;
    for (size_t i = 0; i < s->count; i++) {
        memset(&r, 0, sizeof r);
        if (res) {
            r.status = CAIRN_RAFT_COMMITTED;
            r.index = res->index;
            /* an entry that did not decode as sent (cannot happen: ours) gives all its error */
            r.result = res->count == s->count ? res->statuses[i] : res->status;
        } else {
            r.status = CAIRN_RAFT_UNKNOWN;
            cairn_fail(&r.result, CAIRN_E_UNAVAILABLE, "outcome unknown, retry (%s)",
                       raft_strerror(status));
        }
        s->cb(s->args[i], &r);
    }
    free(s);
}

static void submit_refused(cairn_raft_node *n, cairn_raft_submit_status status, const char *why,
                           cairn_raft_submit_cb cb, void *arg)
{
    cairn_raft_submit_result r;
    memset(&r, 0, sizeof r);
    r.status = status;
    if (status == CAIRN_RAFT_NOT_LEADER)
        leader_identity(n, r.leader, sizeof r.leader);
    cairn_fail(&r.result, CAIRN_E_UNAVAILABLE, "%s", why);
    cb(arg, &r);
}

/* Appends the commands as one entry; returns 0, or a raft error with nothing appended. */
static int append(cairn_raft_node *n, size_t count, const void *const *cmds, const size_t *lens,
                  cairn_raft_submit_cb cb, void *const *args)
{
    submit *s = calloc(1, sizeof *s + count * sizeof s->args[0]);
    struct raft_buffer buf = {NULL, 0};
    int rv = !s ? RAFT_NOMEM
             : count == 1 ? cairn_raft_entry_encode(cmds[0], lens[0], &buf)
                          : cairn_raft_entry_encode_batch(cmds, lens, count, &buf);
    if (rv != 0) {
        free(s);
        return rv;
    }
    s->cb = cb;
    s->count = count;
    memcpy(s->args, args, count * sizeof s->args[0]);
    rv = raft_apply(&n->raft, &s->req, &buf, 1, on_applied);
    if (rv != 0) {
        raft_free(buf.base); /* not appended: still ours */
        free(s);
    }
    return rv;
}

void cairn_raft_node_submit_batch(cairn_raft_node *n, size_t count, const void *const *cmds,
                                  const size_t *lens, cairn_raft_submit_cb cb, void *const *args)
{
    int rv = 0;
    cairn_raft_submit_status status = CAIRN_RAFT_FAILED;
    const char *why = "raft is not running";
    if (count == 0)
        return;
    if (count > CAIRN_RAFT_BATCH_MAX) {
        why = "too many commands for one entry";
    } else if (n->started && !n->stopping && raft_state(&n->raft) != RAFT_LEADER) {
        status = CAIRN_RAFT_NOT_LEADER;
        why = "not the raft leader";
    } else if (n->started && !n->stopping) {
        if ((rv = append(n, count, cmds, lens, cb, args)) == 0)
            return;
        status = rv == RAFT_NOTLEADER ? CAIRN_RAFT_NOT_LEADER : CAIRN_RAFT_FAILED;
        why = raft_strerror(rv);
    }
    for (size_t i = 0; i < count; i++)
        submit_refused(n, status, why, cb, args[i]);
}

void cairn_raft_node_submit(cairn_raft_node *n, const void *cmd, size_t len,
                            cairn_raft_submit_cb cb, void *arg)
{
    cairn_raft_node_submit_batch(n, 1, &cmd, &len, cb, &arg);
}

typedef struct nudge {
    struct raft_barrier req; /* first */
    cairn_raft_node *n;
} nudge;

static void on_nudged(struct raft_barrier *req, int status)
{
    nudge *b = (nudge *)req;
    cairn_raft_node *n = b->n;
    free(b);
    n->nudging = false;
    if (status == 0 && n->nudge_again) {
        n->nudge_again = false;
        cairn_raft_node_nudge(n);
    }
}

void cairn_raft_node_nudge(cairn_raft_node *n)
{
    if (!n->started || n->stopping || !n->raft_ready || raft_state(&n->raft) != RAFT_LEADER)
        return;
    if (n->nudging) {
        n->nudge_again = true;
        return;
    }
    nudge *b = calloc(1, sizeof *b);
    if (!b)
        return; /* the next heartbeat carries the commit index anyway */
    b->n = n;
    if (raft_barrier(&n->raft, &b->req, on_nudged) != 0) {
        free(b);
        return;
    }
    n->nudging = true;
}

void cairn_raft_node_status_get(cairn_raft_node *n, cairn_raft_node_status *out)
{
    memset(out, 0, sizeof *out);
    out->started = n->started;
    out->leader_changes = n->leader_changes;
    if (!n->raft_ready)
        return;
    out->state = raft_state(&n->raft);
    out->term = n->raft.current_term;
    out->commit = n->raft.commit_index;
    out->last_applied = raft_last_applied(&n->raft);
    out->last_index = raft_last_index(&n->raft);
    out->leader_id = leader_identity(n, out->leader, sizeof out->leader);
}

/* ---- stop --------------------------------------------------------------------------------- */

static void on_handle_closed(uv_handle_t *h)
{
    cairn_raft_node *n = h->data;
    if (--n->handles == 0 && n->stopped_cb)
        n->stopped_cb(n->stopped_arg);
}

static void close_handles(cairn_raft_node *n)
{
    cairn_raft_fsm_flush(n->fsm);
    uv_close((uv_handle_t *)&n->flush, on_handle_closed);
    uv_close((uv_handle_t *)&n->poll, on_handle_closed);
}

static void on_raft_closed(struct raft *r)
{
    cairn_raft_node *n = r->data;
    raft_uv_close(&n->io);
    n->io_ready = false;
    n->raft_ready = false;
    close_handles(n);
}

static void close_raft(cairn_raft_node *n)
{
    if (n->raft_ready) {
        raft_close(&n->raft, on_raft_closed);
    } else {
        if (n->io_ready) {
            raft_uv_close(&n->io);
            n->io_ready = false;
        }
        close_handles(n);
    }
}

static void on_close_now(uv_timer_t *h)
{
    close_raft(h->data);
}

/* Raft runs this from inside its own processing (the transfer ended: another node leads, or
 * raft's own timeout of one election timeout passed): a stop closes on the next loop turn. */
static void on_transferred(struct raft_transfer *req)
{
    cairn_raft_node *n = req->data;
    n->transferring = false;
    cairn_raft_stopped_cb cb = n->handed_cb;
    n->handed_cb = NULL;
    if (cb)
        cb(n->handed_arg);
    if (n->stopping) {
        uv_timer_stop(&n->poll);
        uv_timer_start(&n->poll, on_close_now, 0, 0);
    }
}

static bool start_transfer(cairn_raft_node *n)
{
    if (n->transferring || !n->started || raft_state(&n->raft) != RAFT_LEADER ||
        n->member_count < 2)
        return false;
    n->transfer.data = n;
    if (raft_transfer(&n->raft, &n->transfer, 0, on_transferred) != 0)
        return false;
    n->transferring = true;
    return true;
}

bool cairn_raft_node_hand_over(cairn_raft_node *n, cairn_raft_stopped_cb cb, void *arg)
{
    if (n->stopping || !start_transfer(n))
        return false;
    n->handed_cb = cb;
    n->handed_arg = arg;
    return true;
}

static void stop(cairn_raft_node *n, bool hand_over, cairn_raft_stopped_cb cb, void *arg)
{
    if (n->stopping)
        return;
    n->stopping = true;
    n->stopped_cb = cb;
    n->stopped_arg = arg;
    if (n->transferring || (hand_over && start_transfer(n)))
        return; /* on_transferred closes */
    close_raft(n);
}

void cairn_raft_node_stop(cairn_raft_node *n, cairn_raft_stopped_cb cb, void *arg)
{
    stop(n, true, cb, arg);
}

void cairn_raft_node_abort(cairn_raft_node *n, cairn_raft_stopped_cb cb, void *arg)
{
    stop(n, false, cb, arg);
}

void cairn_raft_node_free(cairn_raft_node *n)
{
    if (!n)
        return;
    cairn_raft_transport_free(n->transport);
    cairn_raft_fsm_free(n->fsm);
    free_copies(n);
    free(n);
}
