/* Request parameters with Servlet getParameter semantics (§1.2): query-string and form-body
 * parameters are merged, the first value of a key wins (query first), values are trimmed, and a
 * blank value reads as absent. Also the DistroFilter rewrite of serviceName (§1.3) and the
 * WebUtils required/optional helpers with their Nacos messages.
 *
 * Cost: an add or a lookup is O(1) expected whatever the number of parameters (a hash index by
 * key once there are more than a few; a linear scan below that), and at most max_params adds
 * are stored, so a request's merge is linear in its size and bounded. Not thread-safe: a set
 * belongs to the request (one thread at a time). */
#ifndef GATEWAY_PARAMS_H
#define GATEWAY_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn_error.h"

typedef struct gateway_param {
    char *key;
    char *value; /* trimmed, NUL-terminated */
} gateway_param;

typedef struct gateway_params {
    gateway_param *items;
    size_t len;
    size_t cap;
    struct cairn_hashmap *index; /* key -> position + 1 in items, once len passes a few */
    size_t max_value_bytes; /* 0: no limit */
    size_t max_params;      /* most adds (query and form, repeated keys included); 0: no limit */
    size_t added;           /* adds so far */
    bool too_many;          /* more than max_params adds: the rest were not stored */
    char *too_long_key;     /* first key whose value exceeded max_value_bytes */
    char *bad_utf8_key;     /* first key whose value is not UTF-8 (JSON output needs UTF-8) */
    char *nul_key;          /* first key whose value holds a NUL byte (%00) */
    bool nomem;             /* an add failed for lack of memory */
} gateway_params;

void gateway_params_init(gateway_params *p, size_t max_value_bytes, size_t max_params);
void gateway_params_free(gateway_params *p);

/* Adds key=value (value of value_len bytes, already URL-decoded) unless key is already present:
 * the first value wins. The value is trimmed of Java whitespace (chars <= ' '). A value longer
 * than max_value_bytes, one that is not UTF-8 or one holding a NUL byte is recorded for
 * gateway_params_check and not stored; so is every add after the first max_params (each add
 * counts, a repeated key too). */
void gateway_params_add(gateway_params *p, const char *key, const char *value, size_t value_len);

/* A parameter whose name holds a NUL byte (`namespaceId%00x=...`), shown cut at it: refused by
 * gateway_params_check as a value with one is, and not stored. */
void gateway_params_refuse_nul_key(gateway_params *p, const char *key);

/* dst (uninitialised) becomes a copy of src's parameters and findings; false when out of memory
 * (dst is then empty). */
bool gateway_params_copy(gateway_params *dst, const gateway_params *src);

/* Replaces (or adds) key's value; used by the serviceName rewrite. */
cairn_err gateway_params_set(gateway_params *p, const char *key, const char *value);

/* 400 `Too many parameters (max N)` past max_params, 400 `Param '<k>' is too long (max N
 * bytes)` for the first oversized value, 400 `Param '<k>' is not valid UTF-8` for a value that
 * is not, 400 `Param '<k>' contains a NUL byte` for a value with a %00 (a C string would end
 * there: `namespaceId=%00dev` would write to the default namespace); 500 when an add ran out of
 * memory. */
cairn_err gateway_params_check(const gateway_params *p, cairn_status *st);

/* The value of key, or NULL when it is absent or blank. */
const char *gateway_params_get(const gateway_params *p, const char *key);

/* §1.3: serviceName (falling back to the legacy `dom`) becomes groupName@@serviceName unless it
 * already contains "@@"; groupName blank means DEFAULT_GROUP. A missing serviceName stays
 * missing. */
cairn_err gateway_params_apply_grouping(gateway_params *p);

/* WebUtils.required: the value, or 400 `Param '<key>' is required.`. */
const char *gateway_param_required(const gateway_params *p, const char *key, cairn_status *st);
/* The value, or dflt when absent or blank. */
const char *gateway_param_optional(const gateway_params *p, const char *key, const char *dflt);

/* The cluster of an instance request: clusterName, else the legacy `cluster`, else DEFAULT. */
const char *gateway_param_cluster(const gateway_params *p);
/* namespaceId, default `public`, with the namespace length cap. */
cairn_err gateway_param_namespace(const gateway_params *p, const char **out, cairn_status *st);
/* The grouped serviceName (after the rewrite): 400 missing_msg when absent (the instance API
 * says `Param 'serviceName' is required.`, the service API `Parameter 'serviceName' is
 * missing`), then the length cap and, when check_format, the NamingUtils group@@name format. */
cairn_err gateway_param_service(const gateway_params *p, bool check_format, const char *missing_msg,
                                const char **out, cairn_status *st);
/* An int32 with Integer.parseInt semantics: required (400 when absent) or dflt when absent. */
cairn_err gateway_param_int(const gateway_params *p, const char *key, bool required, int32_t dflt,
                            int32_t *out, cairn_status *st);

#endif
