/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Inside the btrfs backend (btrfs.c; see its header comment for the layout and the path-safety
 * rules every file here keeps): ckptd's directories <parent>/.ckptd/NAME/ID, walked through
 * directory fds (btrfs-snapdir.c), and the subvolumes nested in a volume (btrfs-nested.c). Not
 * for use outside snapshot-backends/. */

#include <btrfsutil.h>
#include <jansson.h>
#include <stdbool.h>

#define NESTED_SUFFIX ".nested"
#define ROLLBACK_DIR "rollback"

/* ---- btrfs-snapdir.c ---- */

/* libbtrfsutil reports its own error codes and leaves errno from the failing call. */
int btrfs_errno(enum btrfs_util_error e);

/* Why a directory that ckptd looks for is not usable, as a sentence naming DIR/NAME. */
int btrfs_refuse(char **ret_error, int r, const char *dir, const char *name);

/* The directories of a snapshot <parent>/.ckptd/NAME/ID/<base>, opened one by one. */
struct snapdir {
	int parent_fd, ckptd_fd, name_fd, id_fd;
	char *buf;
	const char *parent, *name, *id, *base;
	char *ckptd_path, *name_path, *id_path; /* for messages */
};

void snapdir_done(struct snapdir *d);

/* Opens (create: makes) .ckptd/NAME/ID below the snapshot's parent. -ENOENT (without a
 * message) when a level is missing and create is false. */
int snapdir_open(const char *snapshot, bool create, struct snapdir *d, char **ret_error);

/* Removes the snapshot at d (its nested snapshots first), then the levels that became empty. */
int snapdir_remove(struct snapdir *d, char **ret_error);

/* ---- btrfs-nested.c ---- */

/* FD must be a btrfs subvolume; WHAT names it in the message. */
int btrfs_subvolume_check_fd(int fd, const char *what, char **ret_error);

/* A path relative to a volume, as snapshot() records it: no empty, ".", ".." or ".ckptd"
 * component. */
bool btrfs_nested_path_is_valid(const char *p);

/* Before freezing: every subvolume nested in the volume (snapshot() takes them in the window)
 * can be reached below it without a symlink. */
int btrfs_nested_check_reachable(int fd, const char *what, char **ret_error);

/* Snapshots every subvolume nested in the volume at FD (WHAT) into ID/<base>.nested/1, 2, ...
 * of D, parents first, skipping those below a .ckptd directory; *ret_paths is their paths
 * relative to the volume (nested snapshot k is element k - 1), NULL when there are none. What
 * was made is left for the caller to remove on failure. */
int btrfs_nested_snapshot(int fd, const char *what, struct snapdir *d, json_t **ret_paths, char **ret_error);

/* A subvolume nested in the volume below a .ckptd directory is another volume's snapshot, which
 * a rollback of this one would delete with the replaced state. */
int btrfs_nested_check_not_foreign(int fd, const char *what, char **ret_error);

/* Puts the pair's nested snapshots into the fresh copy at COPY_FD, each where its empty
 * placeholder directory is. */
int btrfs_nested_restore(struct snapdir *d, int copy_fd, const char *copy_path, json_t *nested, char **ret_error);

/* Deletes the subvolume NAME in DIRFD with every subvolume nested in it, children first, each
 * reached below it without following a symlink. For ckptd's own working copies only. */
int btrfs_delete_tree_at(int dirfd, const char *dir, const char *name, char **ret_error);

/* ---- btrfs-transfer.c ---- */

int btrfs_send_snapshot(const char *snapshot, const char *base, int out_fd, char **ret_error);
int btrfs_receive_snapshot(const char *snapshot, int in_fd, char **ret_error);
int btrfs_receive_abort(const char *snapshot, char **ret_error);
int btrfs_create_from_snapshot(const char *volume, const char *snapshot, char **ret_error);
