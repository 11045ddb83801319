/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* CRIU through libcriu's RPC: we spawn `criu swrk FD` ourselves (so we know its pid, can kill it
 * when the frozen-window budget runs out, and it dies with the daemon via PR_SET_PDEATHSIG) and
 * hand the connected socket to libcriu (criu_local_set_service_fd). libcriu's notify callback
 * gives us CRIU's "pre-dump" point, after its start-up probing: the daemon freezes and snapshots
 * there, so CRIU's warm-up stays outside the frozen window. */

#include <stdbool.h>
#include <sys/types.h>

struct json_t;

struct criu_hooks {
	/* Called with the pid of the criu process right after it was spawned, before it gets its
	 * request, and our end of its socket (valid during the call only: dup it to keep it; a
	 * shutdown() of it makes CRIU give up at its next message, cleanly); a negative return aborts
	 * the call. */
	int (*spawned)(pid_t pid, int service_fd, void *userdata);
	/* Called at CRIU's pre-dump notification; non-zero aborts the dump. */
	int (*pre_dump)(void *userdata);
	/* Called when CRIU has answered a dump with success (images written, tasks detached), before
	 * waiting for the criu process to exit: the frozen window may close here. */
	void (*dumped)(void *userdata);
	/* Called at CRIU's post-restore notification: the tasks are restored but not yet running
	 * and the network is still locked; non-zero aborts the restore (CRIU kills the tasks). */
	int (*post_restore)(void *userdata);
	void *userdata;
};

/* How CRIU keeps the network quiet while it works (--network-lock). */
enum criu_net_lock {
	CRIU_NET_LOCK_DEFAULT, /* not set: CRIU's own default (iptables) */
	CRIU_NET_LOCK_SKIP,
	CRIU_NET_LOCK_NFTABLES,
	CRIU_NET_LOCK_IPTABLES,
};
const char *criu_net_lock_to_string(enum criu_net_lock l);
int criu_net_lock_from_string(const char *s, enum criu_net_lock *ret);

/* For containers with namespaces of their own (discover.h says which apply). */
struct criu_ns_options {
	const char *root;       /* restore: the host directory that becomes the container's "/"; NULL = ckptd's */
	bool external_mounts;   /* both: mounts from the host found and rebound automatically (--external mnt[]) */
	bool external_sharing;  /* dump: --enable-external-sharing (mounts share peer groups with the host) */
	bool external_masters;  /* dump: --enable-external-masters (mounts are slaves of host mounts) */
	enum criu_net_lock network_lock;
	/* restore: CRIU's older mount engine (--mntns-compat-mode); the current one re-creates a
	 * deleted file once per mount that binds it and fails at the second (nspawn binds its
	 * boot_id file twice). */
	bool mntns_compat_mode;
	/* restore: --manage-cgroups=soft instead of ignore. A container with a cgroup namespace of
	 * its own needs CRIU to set up its cgroups (its threads fail to move otherwise); soft finds
	 * them where the image says, which is where the daemon placed CRIU. */
	bool cgroups_soft;
	/* dump, with cgroups_soft: the hierarchies to record (a JSON array of names as in
	 * /proc/PID/cgroup); empty: none, so the dump skips CRIU's cgroup walk altogether. */
	const struct json_t *cgroup_controllers;
	/* dump: the root task's /proc is not its PID namespace's, so CRIU's parasite mounts a
	 * private procfs at "proc.crtools" in the root task's working directory; two such dumps at
	 * once can collide on that name, so the daemon runs them one at a time. */
	bool private_procfs;
};

struct criu_dump_options {
	const char *criu_path;
	pid_t root_pid;
	const char *images_dir;
	const char *work_dir;   /* dump.log goes here */
	const char *freeze_cgroup;
	bool tcp_established;
	bool file_locks;
	bool shell_job;
	bool stop; /* CRIU kills the tasks once dumped instead of leaving them running (migrate) */
	struct criu_ns_options ns;
	/* The network namespace's configuration saved before the freeze (netns-config.h): CRIU runs
	 * ckptd-netns-replay from there instead of ip/iptables-save; NULL: CRIU's own tools. */
	const char *netns_replay_dir;
	/* NetworkConfig=auto|external, proven (netns-external.h): the inode of the container's
	 * network namespace, which CRIU then leaves out (--external net[INODE]:NETNS_EXTERNAL_KEY);
	 * 0: CRIU dumps the namespace. */
	unsigned long external_netns_inode;
	/* After pre-dump passes: parent_images (a path relative to images_dir) holds the last
	 * pre-dump, and the dump writes only the pages dirtied since (--track-mem --prev-images-dir);
	 * its pagemaps then point into the parent for the rest. NULL: a full dump. */
	const char *parent_images;
};

/* One pass of `criu pre-dump --track-mem`: CRIU stops the tasks (freezing freeze_cgroup while
 * it seizes them), collects their memory and resets the kernel's dirty-page tracking, lets them
 * run again and only then writes the pages. CRIU sends no notification for any of it. */
struct criu_pre_dump_options {
	const char *criu_path;
	pid_t root_pid;
	const char *images_dir;
	const char *work_dir;      /* the log goes here */
	const char *log_name;
	const char *parent_images; /* the previous pass, relative to images_dir; NULL for the first */
	const char *freeze_cgroup;
	bool shell_job;
	struct criu_ns_options ns;
	/* CRIU's own limit on freezing and seizing the tasks (--timeout, whole seconds; 0: CRIU's
	 * default, 10 s): a pass cut short by MaxFrozenSec then gives up by itself, before it would
	 * have to be killed. */
	unsigned timeout_sec;
};

/* A veth pair CRIU re-creates at restore: the container end's name and "HOST-IF[@BRIDGE]". */
struct criu_veth_pair {
	const char *in, *out;
};

struct criu_restore_options {
	const char *criu_path;
	const char *images_dir;
	const char *work_dir;   /* restore.log goes here */
	const char *log_name;
	const struct criu_veth_pair *veths;
	size_t n_veths;
	bool tcp_established;
	bool file_locks;
	bool shell_job;
	struct criu_ns_options ns;
	/* A pair whose network namespace was external: the namespace the tasks go into (ckptd made
	 * and configured it), given to CRIU as its stdin and `inherit-fd fd[0]:NETNS_EXTERNAL_KEY`;
	 * 0 (unset): CRIU re-creates the namespace from the images. */
	int external_netns_fd;
};

/* 0 on success; on failure *ret_error has CRIU's decisive log lines (or what else failed). */
int criu_run_dump(const struct criu_dump_options *o, const struct criu_hooks *hooks, char **ret_error);
/* Only hooks->spawned is called (CRIU has no notification for a pre-dump). */
int criu_run_pre_dump(const struct criu_pre_dump_options *o, const struct criu_hooks *hooks, char **ret_error);
/* Whether CRIU and the kernel can track dirty memory (`criu check --feature mem_dirty_track`:
 * soft-dirty bits); false also when this CRIU cannot say. Asked once per criu binary. */
bool criu_dirty_tracking_available(const char *criu_path);
/* Restores detached; returns the pid of the restored root task. */
int criu_run_restore(const struct criu_restore_options *o, const struct criu_hooks *hooks, pid_t *ret_pid,
                     char **ret_error);
/* CRIU's version as MAJOR*10000+MINOR*100+SUBLEVEL (e.g. 40201). */
int criu_query_version(const char *criu_path, int *ret_version);
/* The criu binary to use: explicit if set, else the first "criu" on PATH. */
int criu_find_binary(const char *configured, char **ret);
/* The "Error" lines of a CRIU log (last few), joined by newlines; NULL if none. */
char *criu_log_errors(const char *log_path);
