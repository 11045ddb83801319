/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Write tmp file beside PATH, fsync, rename over PATH, fsync the directory. */
int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode);
int fsync_directory_of(const char *path);
int fsync_path(const char *path);
int mkdir_p(const char *path, mode_t mode);
/* Removes a tree (does not cross into other filesystems). Missing = success. */
int rm_rf(const char *path);
int read_full_file(const char *path, char **ret, size_t *ret_size);
/* For kernel interface files: no O_CREAT, no truncation games, one write. */
int write_string_file(const char *path, const char *s);
/* First line without its newline. */
int read_one_line_file(const char *path, char **ret);
/* Copies a regular file (copy_file_range, falling back to read/write), fsyncs the copy. */
int copy_file_fsync(const char *from, const char *to, mode_t mode);
/* Joins with exactly one '/' between the parts; NULL-terminated list; returns NULL on OOM. */
char *path_join_many(const char *first, ...) __attribute__((sentinel));
#define path_join(...) path_join_many(__VA_ARGS__, NULL)
/* Total size in bytes and number of regular files below a directory (not recursive). */
int dir_regular_files_size(const char *path, uint64_t *ret_bytes, uint64_t *ret_files);
/* The first executable NAME on $PATH (or a default search path). */
int find_executable(const char *name, char **ret);
