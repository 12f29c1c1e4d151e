/* Java String.hashCode over a UTF-8 string, computed on its UTF-16 code units (surrogate pairs
 * for characters outside the BMP), with 32-bit wrap-around: the hash Nacos' Distro uses to map a
 * grouped service name to its responsible member (§10.1), and Cairn uses for pusher ownership. */
#ifndef CAIRN_JAVA_HASH_H
#define CAIRN_JAVA_HASH_H

#include <stddef.h>
#include <stdint.h>

int32_t cairn_java_string_hash(const char *utf8, size_t len);

/* abs(hash % Integer.MAX_VALUE) % count, the Distro index of name among count members
 * (count > 0). */
uint32_t cairn_distro_index(const char *utf8, size_t len, uint32_t count);

/* The pusher (of count) owning a service: the Distro index of "<namespace>##<grouped name>",
 * Nacos' push-client service key, so the gateway, every pusher and any tool agree. 0 when count
 * is 0 or 1. */
uint32_t cairn_push_owner(const char *namespace_id, const char *service, uint32_t count);

#endif
