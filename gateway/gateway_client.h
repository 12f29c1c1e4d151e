/* Client classification from the User-Agent (§1.9, Nacos ClientInfo): the type by prefix and the
 * version after the first ":v". It decides whether PUT /instance is a strict update (§2.3) and
 * whether /instance/list names are grouped (§2.5). */
#ifndef GATEWAY_CLIENT_H
#define GATEWAY_CLIENT_H

#include <stdbool.h>

typedef enum gateway_client_type {
    GATEWAY_CLIENT_UNKNOWN = 0,
    GATEWAY_CLIENT_JAVA,
    GATEWAY_CLIENT_DNS,
    GATEWAY_CLIENT_C,
    GATEWAY_CLIENT_JAVA_SDK,
    GATEWAY_CLIENT_NACOS_SERVER,
    GATEWAY_CLIENT_TENGINE,
    GATEWAY_CLIENT_GO,
    GATEWAY_CLIENT_CSHARP,
} gateway_client_type;

typedef struct gateway_client_info {
    gateway_client_type type;
    int major, minor, patch; /* 0.0.0 for UNKNOWN */
} gateway_client_info;

/* ua is the User-Agent, or the Client-Version header when the User-Agent is empty; NULL reads
 * as empty. */
gateway_client_info gateway_client_classify(const char *ua);

/* JAVA with version >= 1.0.0 (the Java 1.x client, and the Node client, which sends
 * `Nacos-Java-Client:v1.0.0`): strict PUT /instance and grouped names in /instance/list. */
bool gateway_client_is_java_v1(const char *ua);

#endif
