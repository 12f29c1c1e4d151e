/* Small helpers over the Distro vocabulary (distro_types.h). */
#include "distro_types.h"

#include <stdlib.h>
#include <string.h>

const char *distro_peer_state_name(distro_peer_state s)
{
    switch (s) {
    case DISTRO_PEER_STARTING:
        return "STARTING";
    case DISTRO_PEER_UP:
        return "UP";
    case DISTRO_PEER_SUSPICIOUS:
        return "SUSPICIOUS";
    case DISTRO_PEER_DOWN:
        return "DOWN";
    case DISTRO_PEER_UNKNOWN:
        break;
    }
    return "UNKNOWN";
}

char *distro_key_pack(const distro_key *k, size_t *len)
{
    size_t a = strlen(k->namespace_id), b = strlen(k->service);
    char *p = malloc(a + b + 2);
    if (!p)
        return NULL;
    memcpy(p, k->namespace_id, a + 1);
    memcpy(p + a + 1, k->service, b + 1);
    *len = a + 1 + b + 1;
    return p;
}

void distro_key_unpack(const char *packed, distro_key *k)
{
    k->namespace_id = packed;
    k->service = packed + strlen(packed) + 1;
}

bool distro_key_equal(const distro_key *a, const distro_key *b)
{
    return strcmp(a->namespace_id, b->namespace_id) == 0 && strcmp(a->service, b->service) == 0;
}

char *distro_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}
