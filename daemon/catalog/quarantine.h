/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Damaged state is kept, never destroyed.
 *
 * A pair directory STATE/containers/NAME/pairs/ID whose pair.json does not load (missing,
 * truncated, a wrong type, an id or container that is not this one, a symlink instead of a
 * directory) is "damaged". At start ckptd moves it aside with one rename, to
 * STATE/containers/NAME/quarantine/ID-<UTC time>, and leaves its snapshots where they are; it is
 * reported by list, status and verify until `ckptctl delete NAME ID --force` removes it. The
 * only pair directories removed at start are the ones ckptd itself marked as not complete
 * (the PAIR_INCOMPLETE_MARKER file it writes when it allocates the id, and no pair.json) and
 * those named by an interrupted job's intent record.
 *
 * Everything here reaches STATE/containers/NAME/{pairs,quarantine}/ENTRY through directory file
 * descriptors opened with O_NOFOLLOW: nothing is followed through a symlink. */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* Written by catalog_allocate_id() into a new pair directory; removed with pair.json written. */
#define PAIR_INCOMPLETE_MARKER "incomplete"

/* Opens STATE/containers/NAME/SUB ("pairs" or "quarantine") as a directory, refusing a symlink at
 * every step (-ELOOP / -ENOTDIR); with create, makes the missing directories (mode 0700). */
int catalog_open_subdir(const char *state_dir, const char *name, const char *sub, bool create, int *ret_fd);

/* Why the entry ENTRY of the directory dfd is not pair NAME/ID, complete: 0 if it is; -EBADMSG
 * with the reason; -ENOENT when ENTRY has no pair.json at all (reason set too). */
int pair_entry_damage(int dfd, const char *entry, const char *name, uint64_t id, char **ret_reason);

/* At start, after the intents were handled: every pairs/ID of every container that is not a
 * complete pair is swept (only if ckptd marked it incomplete and it has no pair.json, and no
 * intent in `intents` names it) or moved to quarantine/. Logs what it does. */
int catalog_recover_pairs(const char *state_dir, json_t *intents);

/* Moves pairs/ID to quarantine/ID-<UTC time> (one renameat, no copy). *ret_path: the new path. */
int quarantine_pair(const char *state_dir, const char *name, uint64_t id, char **ret_path);

/* Appends {"container","id","state":"damaged","reason","path"} for every quarantined entry and
 * every pairs/ID whose pair.json exists but does not load (name NULL: all containers). */
int catalog_list_damaged(const char *state_dir, const char *name, json_t *array);

/* The first damaged record of NAME/ID: 0 with its path and reason, -ENOENT if there is none. */
int catalog_find_damaged(const char *state_dir, const char *name, uint64_t id, char **ret_path, char **ret_reason);

/* Removes every quarantined entry of NAME/ID and a damaged pairs/ID (never a complete pair),
 * without following symlinks; appends each removed path to `removed`. */
int catalog_remove_damaged(const char *state_dir, const char *name, uint64_t id, json_t *removed, char **ret_error);

/* Highest id found in quarantine/ (ids are never reused, damaged ones included); 0 if none. */
uint64_t quarantine_max_id(const char *state_dir, const char *name);

/* Removes ENTRY under dfd and everything below it; never follows a symlink, never crosses into
 * another filesystem. Missing = success. */
int rm_rf_at(int dfd, const char *entry);
/* Removes pairs/ENTRY (a ".ID.new" of pair_dir_create()) when it holds nothing but the incomplete
 * marker: 1 removed, 0 not there, -ENOTEMPTY it holds something else (left alone). */
int catalog_remove_unborn_pair(int pfd, const char *entry);
