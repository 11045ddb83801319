/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* LXC containers, as LXC itself knows them (`[Container] LXC=NAME`, `LXCPath=`): where the
 * container lives (LXCPATH/NAME/config), its rootfs (lxc.rootfs.path), whether it runs, its init
 * and the cgroup LXC made for it (the "payload" cgroup that holds every task of the container,
 * not the monitor's). Asked of LXC's own tools (lxc-config, lxc-info) and /proc; nothing here
 * changes the container except lxc_stop_kill() and lxc_restore().
 *
 * Why rollback goes through LXC: the container's init is a child of LXC's monitor (the
 * "[lxc monitor] LXCPATH NAME" process of lxc-start). When init dies the monitor tears the
 * container down (removes the payload and monitor cgroups and the host ends of veths) and exits,
 * so tasks that CRIU restores on their own would run without a monitor: `lxc-info` says STOPPED,
 * `lxc-stop` cannot reach them, and `lxc-start` would boot a second copy on the same rootfs.
 * `lxc-checkpoint -r` restores through a new monitor, which LXC then knows as the container's. */

#include <stdbool.h>
#include <sys/types.h>

struct lxc_container {
	char *name;
	char *lxcpath;     /* the LXC path it was found in (LXCPath=, or LXC's default) */
	char *config_file; /* LXCPATH/NAME/config */
	char *rootfs_spec; /* lxc.rootfs.path as written ("dir:/x", "btrfs:/x", "/x", "overlay:...") */
	char *rootfs;      /* its host directory for dir:, btrfs: and a plain path; NULL for other kinds */
	bool running;
	pid_t init_pid;    /* when running */
	char *cgroup;      /* when running: the payload cgroup (cgroup v2 directory, else the v1 freezer's) */
};

void lxc_container_done(struct lxc_container *c);

/* Parsers of LXC's texts (lxc-config.c, pure). lxc.rootfs.path (or the older lxc.rootfs) of a
 * config file, the last one ("key = value" lines, '#' comments; lxc.include'd files are not
 * read): *ret NULL when there is none. */
int lxc_config_rootfs(const char *text, char **ret);
/* The host directory of a rootfs spec, for the kinds that are one: "dir:/x", "btrfs:/x", "/x";
 * *ret NULL for other kinds ("overlay:...", "lvm:..."). */
int lxc_rootfs_directory(const char *spec, char **ret);
/* "State: RUNNING" and "PID: 123" of lxc-info -s -p; -EBADMSG if they are not there. */
int lxc_info_parse(const char *out, bool *ret_running, pid_t *ret_pid);
/* The path in a /proc/PID/cgroup text of the cgroup2 hierarchy (v1_controller NULL) or of the v1
 * hierarchy with that controller. -ENOENT: none. */
int lxc_cgroup_path_of(const char *text, const char *v1_controller, char **ret);

/* LXC's default LXC path (`lxc-config lxc.lxcpath`). */
int lxc_default_path(char **ret, char **ret_error);

/* Looks the container up. lxcpath NULL: LXC's default. -ENOENT: no such container (its config
 * file is missing). A container that is not running is found with running = false. */
int lxc_lookup(const char *name, const char *lxcpath, struct lxc_container *ret, char **ret_error);

/* Thaws every freezer cgroup of the container's init, v2 and v1: CRIU's restore with LXC's
 * --manage-cgroups=full brings the v1 freezer back FROZEN (as it was while ckptd dumped). */
int lxc_thaw(const struct lxc_container *c, char **ret_error);

/* `lxc-stop --kill`: SIGKILL to the container's init, and waits until LXC says STOPPED (the
 * monitor has removed the cgroups and network). */
int lxc_stop_kill(const struct lxc_container *c, char **ret_error);

/* `lxc-checkpoint -r -D images_dir`: LXC mounts the rootfs, sets up the cgroups and network and
 * runs `criu restore` under a new monitor. criu_path: the criu LXC should run (LXC runs "criu"
 * from PATH; the directory of criu_path goes first in PATH, so it must be named criu); NULL:
 * PATH as it is. criu_config: a CRIU configuration file with the options ckptd's images need
 * (CRIU reads it through CRIU_CONFIG_FILE, under the options LXC passes). What lxc-checkpoint
 * prints goes to output_file (created or truncated). */
int lxc_restore(const struct lxc_container *c, const char *images_dir, const char *criu_path,
                const char *criu_config, const char *output_file, char **ret_error);

/* The cgroup of pid that ckptd freezes: its cgroup v2 directory when that has cgroup.freeze, else
 * its v1 freezer cgroup (also how a Machine='s leader is placed). */
int pid_freezer_cgroup(pid_t pid, char **ret, char **ret_error);
