/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Configuration: /etc/ckptd/ckptd.conf ([Daemon]) and /etc/ckptd/containers.d/NAME.conf
 * (one per container). INI syntax parsed by libinih; systemd-style keys. Parsing is pure
 * (no kernel access): it checks syntax and values only. Every error names file, line, key. */

#include <sys/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parse-util.h" /* parse_sec(), parse_boolean(), parse_min_free() */

#define CONTAINER_NAME_MAX 64

/* [A-Za-z0-9_.-]{1,64}, not starting with a dot. */
bool container_name_is_valid(const char *name);

enum staging_mode {
	STAGING_AUTO,
	STAGING_MEMORY,
	STAGING_DISK,
};

/* PreDump=auto: one pass where the kernel tracks dirty memory, none elsewhere. */
#define PRE_DUMP_AUTO (-1)
#define PRE_DUMP_MAX_PASSES 8

/* How CRIU keeps the network of the container quiet while it dumps and restores. */
enum network_lock {
	NETWORK_LOCK_AUTO,     /* skip for a network namespace with only lo and no TCP connection (the cgroup
	                        * is frozen), else nftables */
	NETWORK_LOCK_SKIP,
	NETWORK_LOCK_NFTABLES,
	NETWORK_LOCK_IPTABLES, /* CRIU's own default; only when asked for */
};

const char *network_lock_to_string(enum network_lock l);

/* Who saves the network namespace's configuration (addresses, routes, rules, iptables). */
enum network_config {
	NETWORK_CONFIG_PRESAVE,  /* ckptd, before the freeze; CRIU replays it (adapters/netns-config.h) */
	NETWORK_CONFIG_CRIU,     /* CRIU's own tools, inside the frozen window */
	NETWORK_CONFIG_AUTO,     /* external when ckptd proves it loses nothing, else presave */
	NETWORK_CONFIG_EXTERNAL, /* CRIU leaves the namespace out, ckptd keeps and rebuilds it
	                          * (adapters/netns-external.h); refused when not proven */
};

struct daemon_config {
	char *criu;           /* Criu=: path of the criu binary; NULL = search PATH */
	char *read_group;     /* ReadGroup=: group allowed to call read-only methods; NULL = none */
	char *staging_dir;    /* StagingDir=: where Staging=memory|auto puts images; NULL = /run/ckptd/staging */
	unsigned max_parallel_jobs; /* MaxParallelJobs=, default 4 */
	unsigned max_connections;   /* MaxConnections=, default 256: beyond it only root is accepted */
	unsigned max_connections_per_user; /* MaxConnectionsPerUser=, default 16; root is exempt */
};

/* ReadGroup='s value: a number is a GID as it stands; a name is looked up (-ESRCH: no such
 * group). */
int read_group_resolve(const char *group, gid_t *ret);

struct retention_config {
	unsigned keep_last;     /* KeepLast=, default 10; 0 = no limit from this key */
	unsigned keep_hourly;   /* KeepHourly=, default 0 */
	unsigned keep_daily;
	unsigned keep_weekly;
	unsigned keep_monthly;
	unsigned keep_yearly;
	/* MinFreeSpace=: either percent (min_free_percent, 0..100) or bytes (min_free_bytes,
	 * with K/M/G/T suffixes, base 1024). Both 0 = not set. */
	unsigned min_free_percent;
	uint64_t min_free_bytes;
};

struct container_config {
	char *name;
	char *file;             /* the file it came from */
	char *cgroup;           /* Cgroup=: absolute path of the cgroup directory */
	char **volumes;         /* Volume=, repeatable, NULL-terminated; "lvm:VG/LV" or a path */
	size_t n_volumes;
	int root_pid;           /* RootPid=, 0 = discover */
	char *root_directory;   /* RootDirectory=: overrides the discovered root fs; NULL = discover */
	char *lxc;              /* LXC=: an LXC container's name; cgroup, init and rootfs come from LXC (then
	                         * Cgroup= and RootPid= are not given and Volume= is optional) */
	char *lxc_path;         /* LXCPath=: its LXC path; NULL = LXC's default (lxc-config lxc.lxcpath) */
	char *machine;          /* Machine=: a machine registered with systemd-machined; cgroup, leader and root
	                         * directory come from machined (then Cgroup=, RootPid= and LXC= are not
	                         * given and Volume= is optional) */
	/* SnapshotSize=: size of the snapshots of thick LVM volumes, either a percentage of the origin
	 * (snapshot_size_percent, 1..100) or bytes (snapshot_size_bytes, K/M/G/T suffixes, base 1024).
	 * Both 0 = not set: a thick LVM volume is then refused (thin volumes need no size). */
	unsigned snapshot_size_percent;
	uint64_t snapshot_size_bytes;
	uint64_t freeze_timeout_usec; /* FreezeTimeoutSec=, default 10 s */
	uint64_t max_frozen_usec;     /* MaxFrozenSec=, default 60 s */
	enum staging_mode staging;    /* Staging=, default auto */
	bool tcp_established;         /* TcpEstablished=, default no */
	bool file_locks;              /* FileLocks=, default no */
	enum network_lock network_lock; /* NetworkLock=, default auto */
	enum network_config network_config; /* NetworkConfig=, default auto */
	bool share_images;            /* ShareImages=, default yes: a pair clones the blocks it has in common
	                               * with the previous pair (btrfs state directory) */
	unsigned full_image_every;    /* FullImageEvery=, default 8: every Nth pair of a chain is written in
	                               * full (bounds fragmentation); 0 = never */
	int pre_dump;                 /* PreDump=, default auto (PRE_DUMP_AUTO): CRIU pre-dump passes before the
	                               * frozen window where the kernel tracks dirty memory; 0 = no, N passes */
	char *on_calendar;            /* [Schedule] OnCalendar=, NULL = no timer */
	/* [Network] BridgeMap=SRC=DST, repeatable, NULL-terminated "SRC=DST" strings (NULL: none): a
	 * veth recorded in a pair as plugged into bridge SRC is plugged into DST at restore (a pair
	 * imported from a host whose bridges are named otherwise). */
	char **bridge_map;
	char *replicate_command;      /* [Replicate] Command=: every new pair is streamed into its stdin
	                               * (argv split at blanks, no shell); NULL = none */
	struct retention_config retention;
};

/* Parse errors: "FILE:LINE: [Section] Key=: what is wrong" (or "FILE: ..." without a line). */
int daemon_config_load(const char *path, struct daemon_config *ret, char **ret_error);
void daemon_config_done(struct daemon_config *c);

/* Loads containers.d/NAME.conf; NAME is taken from the file name and must be valid. */
int container_config_load(const char *path, struct container_config **ret, char **ret_error);
struct container_config *container_config_free(struct container_config *c);
static inline void container_config_freep(struct container_config **c) {
	container_config_free(*c);
}
