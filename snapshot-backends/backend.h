/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* One interface for every kind of volume. A backend is a table of operations; the registry
 * picks the backend by what the volume is (snapper's model): the spec's form says which backend
 * may own it ("lvm:VG/LV" or a path), and snapshot_backend_probe() asks that backend whether the
 * volume really is one of its kind (a path on ext4 is not a btrfs volume).
 * Every operation returns 0 or a negative errno and, on failure, may set *ret_error to a
 * message that names the volume or snapshot (caller frees).
 * A snapshot passed to an operation is always what snapshot_location() computes for the volume,
 * container and pair (pair_volume_check() in the daemon sees to it): a backend may parse it. */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* What a backend may need beyond the volume spec: from the container's configuration. */
struct snapshot_params {
	/* SnapshotSize= (thick LVM snapshots only): a percentage of the origin (1..100) or bytes;
	 * both 0 = not set. */
	unsigned size_percent;
	uint64_t size_bytes;
};

/* Which volume a path named when ckptd loaded its configuration (or last replaced it itself by a
 * rollback): a volume swapped for another one since then is refused. id 0 = not known. */
struct volume_identity {
	dev_t dev;
	uint64_t id; /* btrfs: the subvolume id */
};

struct snapshot_backend {
	const char *name; /* "btrfs", "lvm"; recorded in pair.json */

	/* Is the volume spec of this backend's form (syntax only, no I/O)? Enough to find the
	 * backend of a pair's recorded volume, which may be gone by now. */
	bool (*recognizes)(const char *volume);
	/* Optional (NULL: the form says it all): is the volume really of this backend's kind? 0 yes
	 * (or cannot tell yet: check() names what is wrong), -EMEDIUMTYPE no, with a message naming
	 * the volume and what it is. */
	int (*probe)(const char *volume, char **ret_error);
	/* The volume exists and can be snapshotted (e.g. it is a btrfs subvolume reached without a
	 * symlink) and, when expect is given and known, is still the one it identifies. */
	int (*check)(const char *volume, const struct volume_identity *expect, char **ret_error);
	/* Optional (NULL: the backend's volumes need none): what identifies the volume now. */
	int (*identify)(const char *volume, struct volume_identity *ret, char **ret_error);
	/* Where the snapshot of VOLUME for pair NAME/ID lives (no I/O). */
	int (*snapshot_location)(const char *volume, const char *container, uint64_t id, char **ret);
	/* Outside the frozen window: make parents, flush dirty data (syncfs), check for room. */
	int (*prepare)(const char *volume, const char *snapshot, const struct snapshot_params *params,
	               char **ret_error);
	/* Inside the frozen window: the atomic, read-only-where-possible snapshot. Subvolumes nested
	 * in the volume are snapshotted too: *ret_nested gets their paths relative to the volume
	 * (parents first), or NULL when there are none. On failure nothing of it is left. */
	int (*snapshot)(const char *volume, const char *snapshot, const struct snapshot_params *params,
	                json_t **ret_nested, char **ret_error);
	/* Removes a snapshot and its nested snapshots; a missing one is success. What is not ckptd's
	 * (a symlink, a directory someone else owns, a writable subvolume) is refused, never followed. */
	int (*remove)(const char *snapshot, char **ret_error);
	/* 1 present (with its n_nested nested snapshots), 0 absent. */
	int (*exists)(const char *snapshot, size_t n_nested);
	/* Makes the live volume equal to the snapshot; the snapshot stays intact where the backend
	 * can (a thick LVM snapshot is merged into its origin and so consumed: the backend then
	 * succeeds and says so in *ret_error, which the caller logs as a warning). Nothing may use
	 * the volume (the container's tasks are gone). nested: the paths snapshot() returned, put
	 * back in place inside the volume. */
	int (*rollback)(const char *volume, const char *snapshot, json_t *nested, char **ret_error);
	/* Space of the filesystem or pool that holds the volume's snapshots. */
	int (*space)(const char *volume, uint64_t *ret_total, uint64_t *ret_free);
	/* Optional (NULL = nothing to check beyond exists()): 0 the snapshot is usable, 1 it is
	 * present but unusable (e.g. an overflowed thick LVM snapshot) and *ret_problem says why,
	 * negative errno when it cannot tell. */
	int (*health)(const char *snapshot, char **ret_problem);

	/* Between hosts (export, import; NULL: the backend cannot yet, and the caller says so).
	 * send: writes the snapshot as a stream into out_fd (blocks until all is written),
	 * incremental against base (a snapshot of the same volume, NULL: full). receive: makes the
	 * snapshot at its location from the stream read from in_fd (which must end there); on
	 * failure nothing of it is left, and nothing it did not make is touched. */
	int (*send)(const char *snapshot, const char *base, int out_fd, char **ret_error);
	/* Does send use base (an incremental stream)? false: it ignores it and always sends all. */
	bool send_incremental;
	int (*receive)(const char *snapshot, int in_fd, char **ret_error);
	/* After a receive into snapshot was interrupted (ckptd killed): removes what it left there,
	 * complete or not; nothing else. */
	int (*receive_abort)(const char *snapshot, char **ret_error);
	/* Optional: makes the missing volume from a snapshot (a pair imported where the container
	 * never ran); fails if anything has the volume's name. */
	int (*create_from)(const char *volume, const char *snapshot, char **ret_error);
};

extern const struct snapshot_backend btrfs_backend;
extern const struct snapshot_backend lvm_backend;

/* The backend whose form the spec has (no I/O; NULL if none): for recorded volumes. */
const struct snapshot_backend *snapshot_backend_for(const char *volume);
/* The backend for a configured volume before it is used: the one of its form, if that backend's
 * probe agrees; otherwise an error naming the volume, what it is and what ckptd can snapshot. */
int snapshot_backend_probe(const char *volume, const struct snapshot_backend **ret, char **ret_error);
const struct snapshot_backend *snapshot_backend_by_name(const char *name);
