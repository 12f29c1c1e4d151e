/* Small filesystem helpers shared by the role skeleton and the `cairn` command. */
#ifndef CAIRN_FILES_H
#define CAIRN_FILES_H

#include <stddef.h>
#include <sys/types.h>

/* mkdir -p: creates path and any missing parents with mode. Returns 0 or -1 with errno set. */
int cairn_mkdir_p(const char *path, mode_t mode);

/* Replaces path with data so that a reader sees either the old or the new content, never a
 * partial one (write a temporary file beside it, then rename). Returns 0 or -1 with errno set. */
int cairn_write_file_atomic(const char *path, const char *data, size_t len);

/* Makes path absolute against the current directory (no symlink resolution, the file need not
 * exist). Returns 0, or -1 if it does not fit in out (errno ENAMETOOLONG) or getcwd fails. */
int cairn_absolute_path(const char *path, char *out, size_t out_len);

#endif
