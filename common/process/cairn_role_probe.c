/* Probing a role process through its admin listener. */
#include "cairn_role_probe.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cairn_address.h"
#include "cairn_endpoints.h"
#include "cairn_http_get.h"
#include "cairn_prom_text.h"

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool cairn_role_admin_address(const char *run_dir, const char *name, char *bound, size_t bound_len,
                              char *dial, size_t dial_len, char *why, size_t why_len)
{
    char path[PATH_MAX];
    bound[0] = dial[0] = '\0';
    if (cairn_admin_address_path(run_dir, name, path, sizeof path) != 0) {
        snprintf(why, why_len, "%s: run directory path too long", name);
        return false;
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(why, why_len, "%s has not started (no %s.admin: %s)", name, name,
                 strerror(errno));
        return false;
    }
    if (!fgets(bound, (int)bound_len, f))
        bound[0] = '\0';
    fclose(f);
    bound[strcspn(bound, " \t\r\n")] = '\0';
    if (!bound[0]) {
        snprintf(why, why_len, "%s has not started (%s.admin is empty)", name, name);
        return false;
    }
    cairn_dial_address(bound, dial, dial_len);
    return true;
}

/* The role's key metrics from its /metrics text; a metric without samples, or NaN, is left
 * out, and so is everything when the text does not parse. */
static void read_metrics(const cairn_node_role *role, const char *text, size_t len,
                         cairn_role_report *r)
{
    cairn_prom_text t;
    char err[256];
    if (!cairn_prom_parse(text, len, &t, err, sizeof err))
        return;
    for (size_t i = 0; i < CAIRN_NODE_ROLE_MAX_METRICS && role->metrics[i].label; i++) {
        size_t found;
        double v = cairn_prom_sum_named(&t, role->metrics[i].sample, NULL, &found);
        if (found == 0 || isnan(v))
            continue;
        r->metrics[r->metric_count++] = (cairn_role_probe_metric){role->metrics[i].label, v};
    }
    char start[96];
    snprintf(start, sizeof start, "cairn_%s_start_time_seconds", role->name);
    size_t found;
    double v = cairn_prom_sum_named(&t, start, NULL, &found);
    if (found == 1 && !isnan(v))
        r->start_time = v;
    cairn_prom_free(&t);
}

void cairn_role_probe(const char *run_dir, const cairn_node_role_instance *inst, int timeout_ms,
                      cairn_role_report *out)
{
    memset(out, 0, sizeof *out);
    out->state = "down";
    char dial[sizeof out->address];
    if (!cairn_role_admin_address(run_dir, inst->name, out->address, sizeof out->address, dial,
                                  sizeof dial, out->detail, sizeof out->detail))
        return;
    long long deadline = now_ms() + timeout_ms;
    cairn_http_response resp;
    char err[256];
    if (cairn_http_get(dial, "/health", timeout_ms, &resp, err, sizeof err) != 0) {
        snprintf(out->detail, sizeof out->detail, "%s", err);
        return;
    }
    out->healthy = resp.status == 200;
    out->state = out->healthy ? "ready" : "unhealthy";
    snprintf(out->detail, sizeof out->detail, "%s", resp.body);
    out->detail[strcspn(out->detail, "\r\n")] = '\0';
    cairn_http_response_free(&resp);

    long long left = deadline - now_ms();
    if (left <= 0)
        return;
    if (cairn_http_get(dial, "/metrics", (int)left, &resp, err, sizeof err) == 0) {
        if (resp.status == 200)
            read_metrics(inst->role, resp.body, resp.body_len, out);
        cairn_http_response_free(&resp);
    }
}

void cairn_role_report_metrics_text(const cairn_role_report *r, char *buf, size_t len)
{
    buf[0] = '\0';
    for (size_t i = 0; i < r->metric_count; i++) {
        size_t used = strlen(buf);
        double v = r->metrics[i].value;
        if (v == floor(v) && fabs(v) < 1e15)
            snprintf(buf + used, len - used, "%s%s=%.0f", used ? " " : "", r->metrics[i].label, v);
        else
            snprintf(buf + used, len - used, "%s%s=%g", used ? " " : "", r->metrics[i].label, v);
    }
}
