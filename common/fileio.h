/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* write(2) until all is written (EINTR retried). */
int write_all(int fd, const void *data, size_t size);
/* Write tmp file beside PATH, fsync, rename over PATH, fsync the directory. */
int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode);
int fsync_directory_of(const char *path);
int fsync_path(const char *path);
int mkdir_p(const char *path, mode_t mode);
/* Removes a tree (does not cross into other filesystems). Missing = success. */
int rm_rf(const char *path);
int read_full_file(const char *path, char **ret, size_t *ret_size);
/* read(), retried on EINTR: the byte count (0 at the end) or a negative errno. */
ssize_t read_eintr(int fd, void *buf, size_t n);
/* read() until SIZE bytes or the end (EINTR retried): the byte count, less than SIZE only at the
 * end, or a negative errno. */
ssize_t read_full(int fd, void *buf, size_t size);
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
/* Path safety: opening what ckptd acts on without following a symlink that it did not make.
 * open_nofollow(): an absolute PATH, no symlink in any component (openat2 RESOLVE_NO_SYMLINKS):
 * -ELOOP when one is. openat_beneath(): PATH relative to DIRFD, staying below it, no symlink.
 * open_private_dir(): directory NAME in DIRFD (made 0700 first when create), not a symlink, owned
 * by root and writable by nobody else: -ELOOP for a symlink, -ENOTDIR, -EPERM for a directory
 * that someone else owns or may write to. All return a new fd (O_CLOEXEC) or a negative errno. */
int open_nofollow(const char *path, int flags);
int openat_beneath(int dirfd, const char *path, int flags);
int open_private_dir(int dirfd, const char *name, bool create);
/* What open_nofollow() and openat_beneath() fall back to where openat2() is missing (kernels
 * before 5.6, seccomp filters that do not know it): one component at a time, each opened with
 * O_NOFOLLOW; with beneath, an absolute PATH or a ".." component is -EXDEV. */
int open_walk_nofollow(int dirfd, const char *path, int flags, bool beneath);

/* The first executable NAME on $PATH (or a default search path). */
int find_executable(const char *name, char **ret);
