/* One bucket of a verify round, receiver side (distro_compare.h): both lists sorted by key and
 * merged. */
#include "distro_compare.h"

#include <stdlib.h>
#include <string.h>

#include "cairn_distro_rules.h"

static int cmp_key(const cairn_distro_state *a, const cairn_distro_state *b)
{
    int c = strcmp(a->namespace_id, b->namespace_id);
    return c ? c : strcmp(a->service, b->service);
}

static int cmp_entry_ptr(const void *a, const void *b)
{
    return cmp_key(*(const cairn_distro_state *const *)a, *(const cairn_distro_state *const *)b);
}

static const cairn_distro_state **sorted(const cairn_distro_state *e, size_t n)
{
    const cairn_distro_state **p = malloc((n ? n : 1) * sizeof *p);
    if (!p)
        return NULL;
    for (size_t i = 0; i < n; i++)
        p[i] = &e[i];
    qsort(p, n, sizeof *p, cmp_entry_ptr);
    return p;
}

typedef struct walk {
    const distro_compare_input *in;
    distro_verdict_fn fn;
    void *ctx;
    distro_compare_result *out;
} walk;

static void emit(walk *w, distro_verdict v, const cairn_distro_state *st)
{
    const distro_key k = {st->namespace_id, st->service};
    if (v == DISTRO_VERDICT_WANT)
        w->out->want++;
    else if (v == DISTRO_VERDICT_OFFER)
        w->out->offer++;
    else
        w->out->deleted++;
    w->fn(w->ctx, v, &k);
}

static void listed_only(walk *w, const cairn_distro_state *l)
{
    emit(w, DISTRO_VERDICT_WANT, l);
}

static void both(walk *w, const cairn_distro_state *l, const cairn_distro_state *m)
{
    cairn_distro_order o = cairn_distro_compare(&m->version, &l->version);
    if (o == CAIRN_DISTRO_VERSION_EQUAL && m->has_digest && l->has_digest &&
        memcmp(m->digest, l->digest, CAIRN_DISTRO_DIGEST_LEN) == 0)
        w->out->equal++;
    else if (o == CAIRN_DISTRO_VERSION_NEWER)
        emit(w, DISTRO_VERDICT_OFFER, m);
    else
        emit(w, DISTRO_VERDICT_WANT, l);
}

static void local_only(walk *w, const cairn_distro_state *m)
{
    const distro_compare_input *in = w->in;
    if (!distro_view_owned_by(in->view, m->service, in->sender)) {
        w->out->skipped_other_owner++;
        return;
    }
    distro_removal_input r = {
        .self_ready = in->self_ready,
        .local_view_hash = distro_view_hash(in->view),
        .owner = in->sender,
        .owner_view_hash = in->sender_view_hash,
        .owner_epoch = in->sender_epoch,
        .copy = m->version,
    };
    distro_removal_reason why;
    distro_removal d = distro_removal_guard(&r, &why);
    w->out->removals_skipped[why] += why != DISTRO_REMOVAL_OK;
    if (d != DISTRO_REMOVAL_SKIP)
        emit(w, d == DISTRO_REMOVAL_DELETE ? DISTRO_VERDICT_DELETE : DISTRO_VERDICT_OFFER, m);
}

/* Routes one key (present in the listing l, locally m, or both) past the self-owned rule. */
static void judge(walk *w, const cairn_distro_state *l, const cairn_distro_state *m)
{
    if (distro_view_self_owns(w->in->view, (l ? l : m)->service)) {
        w->out->skipped_self_owned++;
        return;
    }
    if (l && m)
        both(w, l, m);
    else if (l)
        listed_only(w, l);
    else
        local_only(w, m);
}

int distro_compare_bucket(const distro_compare_input *in, distro_verdict_fn fn, void *ctx,
                          distro_compare_result *out)
{
    memset(out, 0, sizeof *out);
    if (!in->self_ready) {
        out->skipped_not_ready = in->n_listed + in->n_local;
        return 0;
    }
    const cairn_distro_state **L = sorted(in->listed, in->n_listed);
    const cairn_distro_state **M = sorted(in->local, in->n_local);
    if (!L || !M) {
        free(L);
        free(M);
        return -1;
    }
    walk w = {in, fn, ctx, out};
    size_t i = 0, j = 0;
    while (i < in->n_listed || j < in->n_local) {
        int c = i == in->n_listed ? 1 : j == in->n_local ? -1 : cmp_key(L[i], M[j]);
        judge(&w, c <= 0 ? L[i] : NULL, c >= 0 ? M[j] : NULL);
        i += c <= 0;
        j += c >= 0;
    }
    free(L);
    free(M);
    return 0;
}
