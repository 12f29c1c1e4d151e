/* The rounds of the push benchmark. Both sides share the listeners, so their subscribers are the
 * very same sockets, and alternate round by round, so that a disturbance on the machine hits
 * both alike. */
#include "push_rounds.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>

#define MARKER_IP "127.0.0.99"
/* Nacos drops a subscriber that has not listed again within 10 s; real clients re-poll. */
#define RESUBSCRIBE_NS (4 * (int64_t)1000000000)

static void account(push_side *side, const push_round *round)
{
    memcpy(side->latency_ns + side->received, round->latency_ns,
           (size_t)round->matched * sizeof *round->latency_ns);
    side->received += round->matched;
    side->rates[side->rounds++] =
        round->matched >= 2 && round->last_ns > round->first_ns
            ? round->matched / ((double)(round->last_ns - round->first_ns) / 1e9)
            : 0;
}

int push_cairn_round(push_cairn *c, push_listeners *pl, int marker, int timeout_ms, bool count,
                     push_side *side, char *err, size_t err_len)
{
    int n = push_listeners_count(pl);
    if (push_now_ns() - c->subscribed_ns > RESUBSCRIBE_NS) {
        for (int i = 0; i < n; i++)
            if (push_http_subscribe(c->http, c->service, push_listeners_port(pl, i), err,
                                    err_len) != 0)
                return -1;
        c->subscribed_ns = push_now_ns();
    }
    int64_t t0 = push_now_ns();
    push_listeners_begin_round(pl, PUSH_MATCH_HOST_PORT, marker, t0);
    if (push_http_register(c->http, c->service, MARKER_IP, marker, err, err_len) != 0)
        return -1;
    push_round res;
    push_listeners_wait_round(pl, t0 + (int64_t)timeout_ms * 1000000, &res);
    if (count) {
        side->busy_ns += push_now_ns() - t0;
        side->expected += n;
        account(side, &res);
    }
    return res.matched;
}

static void signal_all(const int *pids, int sig, bool reverse)
{
    int n = 0;
    while (pids && pids[n])
        n++;
    for (int i = 0; i < n; i++)
        kill(pids[reverse ? n - 1 - i : i], sig);
}

int push_baseline_round(baseline_udp *b, push_listeners *pl, int64_t ref, int timeout_ms,
                        const cpu_set_t *cpus, const int *freeze, bool count, push_side *side)
{
    cpu_set_t before;
    bool pinned = cpus && pthread_getaffinity_np(pthread_self(), sizeof before, &before) == 0 &&
                  pthread_setaffinity_np(pthread_self(), sizeof *cpus, cpus) == 0;
    /* The first pid is the supervisor: stopped first, resumed last, so it sees nothing. */
    signal_all(freeze, SIGSTOP, false);
    int64_t t0 = push_now_ns(), deadline = t0 + (int64_t)timeout_ms * 1000000;
    push_listeners_begin_round(pl, PUSH_MATCH_REF_TIME, ref, t0);
    int sent = baseline_udp_send_round(b, ref, &side->bytes, &side->gzip);
    baseline_udp_read_acks(b, deadline);
    push_round res;
    push_listeners_wait_round(pl, deadline, &res);
    int64_t t1 = push_now_ns();
    signal_all(freeze, SIGCONT, true);
    if (pinned)
        pthread_setaffinity_np(pthread_self(), sizeof before, &before);
    if (sent < 0)
        return -1;
    if (count) {
        side->busy_ns += t1 - t0;
        side->expected += push_listeners_count(pl);
        account(side, &res);
    }
    return res.matched;
}
