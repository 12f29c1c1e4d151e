/* Client classification from the User-Agent (§1.9, Nacos ClientInfo): the type by prefix and the
 * version after the first ":v". It decides whether PUT /instance is a strict update (§2.3),
 * whether /instance/list names are grouped (§2.5) and whether a client may subscribe to UDP
 * pushes (§12.1). Shared by the gateway (at request time) and the pushers (which render the
 * pushed list for the subscriber's agent). */
#ifndef CAIRN_CLIENT_H
#define CAIRN_CLIENT_H

#include <stdbool.h>

typedef enum cairn_client_type {
    CAIRN_CLIENT_UNKNOWN = 0,
    CAIRN_CLIENT_JAVA,
    CAIRN_CLIENT_DNS,
    CAIRN_CLIENT_C,
    CAIRN_CLIENT_JAVA_SDK,
    CAIRN_CLIENT_NACOS_SERVER,
    CAIRN_CLIENT_TENGINE,
    CAIRN_CLIENT_GO,
    CAIRN_CLIENT_CSHARP,
} cairn_client_type;

typedef struct cairn_client_info {
    cairn_client_type type;
    int major, minor, patch; /* 0.0.0 for UNKNOWN */
} cairn_client_info;

/* ua is the User-Agent, or the Client-Version header when the User-Agent is empty; NULL reads
 * as empty. */
cairn_client_info cairn_client_classify(const char *ua);

/* JAVA with version >= 1.0.0 (the Java 1.x client, and the Node client, which sends
 * `Nacos-Java-Client:v1.0.0`): strict PUT /instance and grouped names in /instance/list. */
bool cairn_client_is_java_v1(const char *ua);

/* Nacos canEnablePush (§12.1): JAVA >= 0.1.0, DNS >= 0.4.3, C >= 1.0.12, GO >= 0.1.0,
 * CSHARP >= 0.9.0; every other agent is never pushed. */
bool cairn_client_can_push(const char *ua);

#endif
