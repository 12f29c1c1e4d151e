/* Process-wide role state shared by cairn_role.c and cairn_admin.c only (one role per process). */
#ifndef CAIRN_ROLE_PRIVATE_H
#define CAIRN_ROLE_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

#include "cairn_role.h"

/* True once cairn_role_ready was called (and until the role starts stopping) and while the
 * role's ready check agrees; detail says why not. */
bool cairn_role_is_ready(cairn_role *role, char *detail, size_t detail_len);

/* Asks the role's health callback (under the lock that cairn_role_set_health takes), or the
 * default: healthy once ready. */
bool cairn_role_check_health(cairn_role *role, char *detail, size_t detail_len);

#endif
