/* Which services this node checks. Standalone (no member list) means all of them; in a cluster
 * the replicator will feed the member list here, and a service belongs to the member Distro maps
 * its grouped name to (§10.1: Java hash of the grouped name modulo the sorted member list). */
#ifndef HEALTHCHECK_RESPONSIBILITY_H
#define HEALTHCHECK_RESPONSIBILITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Replaces the member list ("ip:port" strings, any order; copied) and this node's own address.
 * n == 0 returns to standalone. Thread-safe. Returns 0, or -1 when out of memory (the previous
 * list stays). */
int healthcheck_set_members(const char **members, size_t n, const char *self);

/* Whether this node checks the service (ns is not part of the Distro hash, as in Nacos). */
bool healthcheck_is_responsible(const char *ns, const char *grouped);

/* Bumped by every healthcheck_set_members, so callers may cache answers per service. */
uint64_t healthcheck_members_generation(void);

/* Frees the list (process exit, tests). */
void healthcheck_members_reset(void);

#endif
