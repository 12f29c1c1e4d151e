/* kill -9 of one role process of a node under `cairn run`, and the wait for the supervisor to
 * bring it back.
 *
 * "Back" means, in this order, each step within what is left of one deadline: a process of the
 * role with another pid than the one killed; that role's own admin /ready answering 200 (its
 * admin file re-read each time: a restarted role may listen on a new port); then the node's
 * readiness, the gateway's /ready, which is 200 only while every role is ready and connected.
 * Nothing is slept: each step is a wait_until on its condition.
 *
 * These functions never assert: they return false with the reason, so that a test with threads
 * of its own (a load) can stop them before it fails. Call them from the test's own thread; they
 * read the node's files and update its addresses (node_refresh_addrs) on success. */
#ifndef CAIRN_HARNESS_KILL_H
#define CAIRN_HARNESS_KILL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cairn_harness.h"

/* One role process of a node: its binary and the name of its admin file ("pusher-0"). */
typedef struct it_role {
    const char *binary;
    const char *admin;
} it_role;

/* The single-process roles and pusher 0 (pusher.count=1, the default). */
extern const it_role it_node_roles[];
extern const size_t it_node_role_count;

typedef struct it_kill_result {
    pid_t old_pid, new_pid;
    int64_t restart_ms; /* from the kill to the new pid */
    int64_t ready_ms;   /* from the kill to the node ready again */
    char why[1024];     /* the reason, when false is returned */
} it_kill_result;

/* Sends SIGKILL to the running process of role and waits, at most timeout_ms, until it is back
 * (see above). Returns false with out->why when there was no such process, or a step did not
 * happen in time; out->why then names the step, what the role's address file and /ready said
 * last, and what every role's /ready answers at that moment. */
bool node_kill9_role(it_node *n, const it_role *role, int timeout_ms, it_kill_result *out);

/* Waits until the gateway's /ready answers 200 (every role ready and connected), re-reading its
 * address file; refreshes the node's addresses. */
bool node_wait_ready(it_node *n, int timeout_ms);

#endif
