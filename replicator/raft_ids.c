/* Raft ids from member identities (contract in raft_ids.h). */
#include "raft_ids.h"

#include <stdlib.h>
#include <string.h>

#include "cairn_fnv.h"

raft_id cairn_raft_id(const char *identity)
{
    uint64_t h = cairn_fnv1a64(CAIRN_FNV64_OFFSET, identity, strlen(identity));
    return h ? h : CAIRN_FNV64_OFFSET;
}

cairn_err cairn_raft_check_members(const char *const *identities, size_t n, cairn_status *st)
{
    if (n == 0)
        return cairn_fail(st, CAIRN_E_INVALID, "no raft members");
    for (size_t i = 0; i < n; i++) {
        const char *a = identities[i];
        if (!a || !*a || strlen(a) > CAIRN_RAFT_IDENTITY_MAX)
            return cairn_fail(st, CAIRN_E_INVALID, "member %zu: empty or longer than %d bytes",
                              i + 1, CAIRN_RAFT_IDENTITY_MAX);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(a, identities[j]) == 0)
                return cairn_fail(st, CAIRN_E_INVALID, "member %s is listed twice", a);
            if (cairn_raft_id(a) == cairn_raft_id(identities[j]))
                return cairn_fail(st, CAIRN_E_INVALID,
                                  "members %s and %s have the same raft id; write one of them "
                                  "differently", identities[j], a);
        }
    }
    return CAIRN_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

cairn_err cairn_raft_configuration(const char *const *identities, size_t n,
                                   struct raft_configuration *conf, cairn_status *st)
{
    raft_configuration_init(conf);
    if (cairn_raft_check_members(identities, n, st))
        return st->code;
    /* Sorted, so every member bootstraps the very same entry whatever order it lists them in. */
    const char **sorted = malloc(n * sizeof *sorted);
    if (!sorted)
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    memcpy(sorted, identities, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cmp_str);
    int rv = 0;
    for (size_t i = 0; i < n && rv == 0; i++)
        rv = raft_configuration_add(conf, cairn_raft_id(sorted[i]), sorted[i], RAFT_VOTER);
    free(sorted);
    if (rv != 0) {
        raft_configuration_close(conf);
        raft_configuration_init(conf);
        return cairn_fail(st, CAIRN_E_INTERNAL, "raft configuration: %s", raft_strerror(rv));
    }
    return CAIRN_OK;
}

const char *cairn_raft_identity_of(const char *const *identities, size_t n, raft_id id)
{
    for (size_t i = 0; i < n; i++)
        if (cairn_raft_id(identities[i]) == id)
            return identities[i];
    return NULL;
}
