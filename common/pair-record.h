/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A snapshot pair as a typed record, and its one codec. pair.json on disk, the pairs in Varlink
 * replies (Show, List, FreezeAndDump) and what ckptctl renders are all this record; the JSON
 * form is the user-facing contract of DESIGN.md ("Catalog") and does not change:
 *
 *   { "container": "web", "id": 7, "state": "complete", "created": "2026-11-25T09:15:02Z",
 *     "tag": null, "frozen_usec": 75210,
 *     "timings": { "freeze_usec": 340, ..., "criu_phases": { "dump_usec": 61020, ... } },
 *     "volumes": [ { "backend": "btrfs", "source": "/srv/web", "snapshot": "/srv/.ckptd/web/7/web",
 *                    "nested": [ ... ] } ],
 *     "images": { "bytes": 10612345, "files": 23, "staging": "memory", "sha256": { FILE: HEX },
 *                 "added_bytes": 1048576, "shared_from": 6, "disk_bytes": 655360 },
 *     "criu_version": "4.2.1", "root_pid": 1234, "cgroup": "...", "cgroup_kind": "v2",
 *     "shell_job": false, "tcp_established": false, "file_locks": false, "pinned": false,
 *     "discovery": { ... },
 *     "origin": { "host": "a.example", "container": "web", "id": 7 } }
 *
 * container, id, state, created, volumes, timings and images are required (pairs of every ckptd
 * version have them); the rest is optional (older pairs lack some) and, when present, must have
 * its type. Keys the codec does not know are ignored. The discovery object stays JSON here: the
 * daemon reads it with its own codec (discover.h), the client renders it as it is. */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

/* An optional number that is absent. */
#define PAIR_ABSENT UINT64_MAX

struct pair_volume {
	char *backend;
	char *source;
	char *snapshot;
	/* Paths of the nested subvolumes snapshotted with it; has_nested: the record has the key
	 * (an empty list is written as []). */
	char **nested;
	size_t n_nested;
	bool has_nested;
};

/* CRIU's phases of the dump, from the timestamps of its own log (criu-log.h names the lines that
 * mark each), PAIR_ABSENT when the log lacks a phase's markers or the pair predates them.
 * "timings.criu_phases" in the JSON form, absent when none is recorded. */
struct pair_criu_phases {
	uint64_t predump_rpc_usec, prep_usec, freezing_usec, dump_usec, cgroup_walk_usec, network_tools_usec,
	        postdump_usec, tail_usec;
};

/* CLOCK_MONOTONIC durations of the steps of the dump, PAIR_ABSENT when not recorded. */
struct pair_timings {
	uint64_t discover_usec, sync_usec, criu_start_usec, freeze_usec, snapshot_usec, dump_usec, thaw_usec,
	        persist_usec, total_usec;
	/* outside the window: the network namespace's configuration saved before the freeze, and
	 * checked again after the thaw (NetworkConfig=presave); absent otherwise */
	uint64_t netns_presave_usec, netns_verify_usec;
	/* PreDump=: the passes before the window (a count), their wall time, how long they stopped
	 * the tasks (all, the longest pass), the merge after the thaw; absent without pre-dump. */
	uint64_t predump_passes, predump_usec, predump_stopped_usec, predump_stopped_max_usec, predump_merge_usec;
	struct pair_criu_phases criu_phases;
};

struct pair_image_sum {
	char *file; /* a plain file name in the pair's images/ (checked by whoever opens it) */
	char *sha256;
};

struct pair_images {
	uint64_t bytes, files;  /* PAIR_ABSENT when not recorded */
	char *staging;          /* "memory" or "disk", NULL when not recorded */
	struct pair_image_sum *sums;
	size_t n_sums;
	bool has_sums;          /* the record has "sha256" (pairs without it cannot be verified) */
	/* What this pair added on disk: the bytes written, not cloned from shared_from (the pair
	 * it shared unchanged blocks with, 0 = none). PAIR_ABSENT for pairs from before sharing. */
	uint64_t added_bytes;
	uint64_t shared_from;
	/* What the added bytes take on disk after the file system compressed them (btrfs extents
	 * this pair wrote, not those of shared_from); PAIR_ABSENT when not measured (not btrfs). */
	uint64_t disk_bytes;
};

/* Where an imported pair came from ("origin" in the JSON form, absent for pairs made here):
 * the exporting host's name, its container and its pair id. */
struct pair_origin {
	char *host;
	char *container;
	uint64_t id;
};

struct pair {
	char *container;
	uint64_t id;              /* > 0 */
	char *state;              /* "complete" for a usable pair */
	char *created;            /* UTC, "YYYY-MM-DDTHH:MM:SSZ" */
	char *tag;                /* NULL: null */
	uint64_t frozen_usec;     /* PAIR_ABSENT when not recorded */
	struct pair_timings timings;
	struct pair_volume *volumes;
	size_t n_volumes;
	struct pair_images images;
	char *criu_version;       /* NULL: null */
	int64_t root_pid;         /* 0 when not recorded */
	char *cgroup, *cgroup_kind; /* NULL when not recorded */
	bool shell_job, tcp_established, file_locks, pinned;
	json_t *discovery;        /* an object, or NULL when not recorded */
	struct pair_origin origin; /* host NULL: made here, not imported */
};

struct pair *pair_new(void);
struct pair *pair_free(struct pair *p);
static inline void pair_freep(struct pair **p) {
	pair_free(*p);
}
void pair_volumes_free(struct pair_volume *v, size_t n);

bool pair_is_complete_record(const struct pair *p);

/* The duration named KEY in the record's "timings" ("freeze_usec"), PAIR_ABSENT when it is not
 * recorded or not a key this codec knows (for readers that follow the order of the JSON). */
uint64_t pair_timing_get(const struct pair_timings *t, const char *key);
/* The same for a key of "timings.criu_phases" ("dump_usec"). */
uint64_t pair_criu_phase_get(const struct pair_criu_phases *c, const char *key);
/* The key of the I-th phase in the order of the dump ("predump_rpc_usec"), NULL past the last. */
const char *pair_criu_phase_key(size_t i);
/* Sets the predump_* timings to PAIR_ABSENT. */
void pair_predump_timings_clear(struct pair_timings *t);
/* Sets every phase to PAIR_ABSENT. */
void pair_criu_phases_clear(struct pair_criu_phases *c);

/* Decodes and validates one pair object. -EBADMSG with one sentence in *ret_error that names
 * the key ("pair.json lacks \"id\"", "pair.json has a wrong type for \"images.bytes\"");
 * -ENOMEM. */
int pair_from_json(json_t *j, struct pair **ret, char **ret_error);
/* A "volumes" array alone (pair.json's, or the intent journal's "snapshots"). */
int pair_volumes_from_json(json_t *a, struct pair_volume **ret, size_t *ret_n, char **ret_error);

/* Encodes a pair (the discovery object is shared, not copied). -ENOMEM. */
int pair_to_json(const struct pair *p, json_t **ret);
json_t *pair_volumes_to_json(const struct pair_volume *v, size_t n);
