/* The label expression of a service list's selector (v1 `GET /service/list`, §3.5), read as
 * Nacos 1.4.8 reads it (ServiceController.list): whitespace removed, split at '=', the left side
 * split at '.' names the scope (its first part, INSTANCE or SERVICE) and the metadata key (its
 * last part); the right side, up to a second '=', with every "'" removed, is the value. So
 * `INSTANCE.metadata.zone = 'a'` selects services with an instance whose metadata has zone = a.
 * Pure; any thread. */
#ifndef CAIRN_LABEL_H
#define CAIRN_LABEL_H

#include "cairn_error.h"
#include "cairn_msg.h"

/* expression → *scope and *label ("key=value", malloc'd; NULL with CAIRN_LABEL_NONE). A blank
 * expression, or a scope other than INSTANCE or SERVICE, selects every service (NONE), as in
 * Nacos. An INSTANCE or SERVICE expression without a value (no '=', or only '=' after it) is
 * CAIRN_E_INVALID with a message (Nacos answers those with a 500). */
cairn_err cairn_label_parse(const char *expression, cairn_label_scope *scope, char **label,
                            cairn_status *st);

#endif
