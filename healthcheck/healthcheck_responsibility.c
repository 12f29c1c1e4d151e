/* Distro responsibility (§10.1) over a member list the replicator will supply. */
#include "healthcheck_responsibility.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_java_hash.h"

static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;
static char **members; /* sorted */
static size_t member_count;
static char *self_addr;
static atomic_uint_fast64_t generation = 1;

static int by_string(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_list(char **list, size_t n, char *self)
{
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
    free(self);
}

int healthcheck_set_members(const char **list, size_t n, const char *self)
{
    char **copy = n ? calloc(n, sizeof *copy) : NULL;
    char *self_copy = self ? strdup(self) : NULL;
    bool ok = (n == 0 || copy) && (!self || self_copy);
    for (size_t i = 0; ok && i < n; i++)
        ok = (copy[i] = strdup(list[i] ? list[i] : "")) != NULL;
    if (!ok) {
        free_list(copy, n, self_copy);
        return -1;
    }
    /* Nacos sorts the member addresses as strings (Collections.sort). */
    if (n)
        qsort(copy, n, sizeof *copy, by_string);
    pthread_rwlock_wrlock(&lock);
    char **old = members;
    size_t old_n = member_count;
    char *old_self = self_addr;
    members = copy;
    member_count = n;
    self_addr = self_copy;
    atomic_fetch_add(&generation, 1);
    pthread_rwlock_unlock(&lock);
    free_list(old, old_n, old_self);
    return 0;
}

bool healthcheck_is_responsible(const char *ns, const char *grouped)
{
    (void)ns;
    pthread_rwlock_rdlock(&lock);
    bool yes = true;
    if (member_count > 0 && self_addr) {
        /* The index range this node occupies in the sorted list (one entry, or several when
         * the list repeats it, as DistroMapper allows). Not in the list (a cluster member that
         * is not READY yet): nothing, unlike DistroMapper, whose missing node owned everything
         * (cluster-design §1.1 "flaws not to copy"; no sweep before READY, §2.6). */
        size_t first = member_count, last = 0;
        for (size_t i = 0; i < member_count; i++) {
            if (strcmp(members[i], self_addr) == 0) {
                if (first == member_count)
                    first = i;
                last = i;
            }
        }
        yes = false;
        if (first < member_count) {
            size_t idx = cairn_distro_index(grouped, strlen(grouped), (uint32_t)member_count);
            yes = idx >= first && idx <= last;
        }
    }
    pthread_rwlock_unlock(&lock);
    return yes;
}

uint64_t healthcheck_members_generation(void)
{
    return atomic_load(&generation);
}

void healthcheck_members_reset(void)
{
    healthcheck_set_members(NULL, 0, NULL);
}
