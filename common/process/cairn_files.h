/* Small filesystem helpers shared by the role skeleton and the `cairn` command. */
#ifndef CAIRN_FILES_H
#define CAIRN_FILES_H

#include <stddef.h>
#include <sys/types.h>

/* mkdir -p: creates path and any missing parents with mode. Returns 0 or -1 with errno set. */
int cairn_mkdir_p(const char *path, mode_t mode);

/* The run directory, where a node's sockets live: only the node's user may create or reach
 * anything in it. A missing one is created 0700 (missing parents too). An existing one is used
 * as it is if it belongs to this user and neither its group nor others may write to it (a
 * systemd RuntimeDirectory of 0750 qualifies); otherwise it is left alone and refused, since
 * whoever else may write there could replace the sockets: one that is not ours we cannot
 * repair, and one of ours that was opened up was opened on purpose. Returns 0; -1 when it cannot
 * be created (errno set); -2 when it is refused, with the reason (naming path) in why. */
int cairn_private_dir(const char *path, char *why, size_t why_len);

/* Takes group write and every permission of others out of the process umask (it only ever
 * tightens it), so that nothing a role creates is writable by another user, whatever umask it
 * was started with. Called first thing by every process of a node. */
void cairn_umask_private(void);

/* Replaces path with data so that a reader sees either the old or the new content, never a
 * partial one (write a temporary file beside it, then rename). Returns 0 or -1 with errno set. */
int cairn_write_file_atomic(const char *path, const char *data, size_t len);
/* The same with the new file's mode (before the umask), e.g. 0600 for a file of secrets. */
int cairn_write_file_atomic_mode(const char *path, const char *data, size_t len, mode_t mode);

/* Makes path absolute against the current directory (no symlink resolution, the file need not
 * exist). Returns 0, or -1 if it does not fit in out (errno ENAMETOOLONG) or getcwd fails. */
int cairn_absolute_path(const char *path, char *out, size_t out_len);

#endif
