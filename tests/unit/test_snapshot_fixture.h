/* Hand-built service snapshots for the rendering tests (list and service detail bodies).
 * Header-only: tests/CMakeLists.txt builds only test_*.c files. */
#ifndef TEST_SNAPSHOT_FIXTURE_H
#define TEST_SNAPSHOT_FIXTURE_H

#include <stdlib.h>
#include <string.h>

#include "cairn_model.h"

#define SVC "DEFAULT_GROUP@@demo"

static void snap_init(cairn_service_snapshot *s, float threshold)
{
    memset(s, 0, sizeof *s);
    s->found = true;
    cairn_service_init(&s->service);
    s->service.namespace_id = strdup("public");
    s->service.name = strdup(SVC);
    s->service.protect_threshold = threshold;
    s->service.revision = 42;
    s->service.modified_ms = 1700000000000LL;
}

static cairn_instance *add(cairn_service_snapshot *s, const char *ip, int port,
                           const char *cluster, bool healthy, bool enabled)
{
    s->instances = realloc(s->instances, (s->instance_count + 1) * sizeof *s->instances);
    cairn_instance *in = &s->instances[s->instance_count++];
    cairn_instance_init(in);
    in->ip = strdup(ip);
    in->port = port;
    in->cluster = strdup(cluster);
    in->healthy = healthy;
    in->enabled = enabled;
    in->app = strdup("DEFAULT");
    in->instance_id = cairn_instance_default_id(ip, port, cluster, SVC);
    return in;
}

#endif
