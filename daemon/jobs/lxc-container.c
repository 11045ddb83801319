/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Jobs on LXC= containers: the configuration resolved from LXC, and the rollback's kill and
 * restore steps done through LXC. See lxc-container.h. */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>

#include "backend.h"
#include "error.h"
#include "fileio.h"
#include "lxc-container.h"
#include "lxc.h"
#include "macro.h"
#include "mountinfo.h"
#include "pair.h"
#include "parse-util.h"

/* Appends the rootfs as the job's volume. */
static int add_rootfs_volume(struct job *j, const struct lxc_container *c, char **ret_error) {
	if (!c->rootfs)
		return error_setf(ret_error, -EMEDIUMTYPE, "LXC container %s: its rootfs (lxc.rootfs.path = %s) is not a "
		                  "directory ckptd can snapshot; put it on a btrfs subvolume (lxc-create -B btrfs) or name "
		                  "the volume that holds it with Volume=", c->name, strna(c->rootfs_spec));
	_cleanup_free_ char *why = NULL;
	int r = job_add_volume(j, c->rootfs, &why);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return error_setf(ret_error, r, "LXC container %s: its rootfs %s is not a volume ckptd can snapshot (%s); "
		                  "put it on a btrfs subvolume (lxc-create -B btrfs) or name the volume that holds it with "
		                  "Volume=", c->name, c->rootfs, why ? why : strerror(-r));
	return 0;
}

/* With Volume= given, the rootfs must be one of them or lie inside one. */
static int check_rootfs_on_volumes(const struct container_config *cfg, const struct lxc_container *c,
                                   char **ret_error) {
	if (!c->rootfs) /* lvm:, overlay:, ...: the user named the volumes; discovery checks the root */
		return 0;
	for (size_t i = 0; i < cfg->n_volumes; i++)
		if (streq(cfg->volumes[i], c->rootfs) || path_is_below(c->rootfs, cfg->volumes[i]))
			return 0;
	return error_setf(ret_error, -EXDEV, "LXC container %s: its rootfs %s is on none of the configured volumes "
	                  "(Volume=%s%s)", c->name, c->rootfs, cfg->volumes[0], cfg->n_volumes > 1 ? ", ..." : "");
}

int lxc_job_resolve(struct job *j, char **ret_error) {
	if (j->kind == JOB_RESTORE)
		return error_setf(ret_error, -EOPNOTSUPP, "restore --processes-only is not available for LXC= containers "
		                  "(LXC must restore them itself): use rollback");
	if (j->kind != JOB_FREEZE_AND_DUMP && j->kind != JOB_ROLLBACK && j->kind != JOB_INSPECT)
		return 0;
	_cleanup_(lxc_container_done) struct lxc_container c = {};
	int r = lxc_lookup(j->config->lxc, j->config->lxc_path, &c, ret_error);
	if (r < 0)
		return r;
	struct container_config *cfg = j->config;
	r = cfg->n_volumes == 0 ? add_rootfs_volume(j, &c, ret_error) : check_rootfs_on_volumes(cfg, &c, ret_error);
	if (r < 0)
		return r;
	if (!c.running && j->kind == JOB_ROLLBACK) /* restored by LXC, into a cgroup LXC makes then */
		return 0;
	if (!c.running)
		return error_setf(ret_error, -ESRCH, "LXC container %s (in %s) is not running: start it with lxc-start (a "
		                  "stopped container can only be rolled back)", c.name, c.lxcpath);
	free(cfg->cgroup);
	if (!(cfg->cgroup = strdup(c.cgroup)))
		return -ENOMEM;
	cfg->root_pid = c.init_pid;
	return 0;
}

int lxc_rollback_stop(struct job *j, char **ret_error) {
	_cleanup_(lxc_container_done) struct lxc_container c = {};
	int r = lxc_lookup(j->config->lxc, j->config->lxc_path, &c, ret_error);
	if (r < 0 || !c.running)
		return r;
	return lxc_stop_kill(&c, ret_error);
}

/* What ckptd's images need beyond the options LXC passes: CRIU's older mount engine (the current
 * one cannot move LXC's bind mounts of host directories, "mnt-v2: Failed to move_mount ...
 * Invalid argument"). The network lock needs no option: CRIU's restore takes the dump's from
 * the images (it says it ignores --network-lock at restore). */
static int write_criu_config(const char *path, char **ret_error) {
	static const char text[] = "# written by ckptd for lxc-checkpoint -r\nmntns-compat-mode\n";
	int r = write_file_atomic(path, text, sizeof(text) - 1, 0600);
	if (r < 0)
		return error_setf(ret_error, r, "cannot write %s: %m", path);
	return 0;
}

/* LXC writes its CRIU log into the directory it restores from; the pair's images/ must stay as
 * pair.json lists it. So LXC gets a directory of its own, made fresh in the pair directory, with
 * a hard link to every image. */
struct link_dir {
	int fd;
	char *path;
	char **names; /* what we linked, NULL-terminated */
	size_t n;
};

static int link_images(const char *images, const char *pair_dir, struct link_dir *ld, char **ret_error) {
	ld->path = path_join(pair_dir, "lxc-restore.XXXXXX");
	if (!ld->path || !(ld->names = calloc(1, sizeof(char *))))
		return -ENOMEM;
	if (!mkdtemp(ld->path))
		return error_setf(ret_error, negative_errno(), "cannot create a directory in %s: %m", pair_dir);
	ld->fd = open_nofollow(ld->path, O_RDONLY | O_DIRECTORY);
	if (ld->fd < 0)
		return error_setf(ret_error, ld->fd, "cannot open %s: %m", ld->path);
	_cleanup_close_ int ifd = open_nofollow(images, O_RDONLY | O_DIRECTORY);
	if (ifd < 0)
		return error_setf(ret_error, ifd, "cannot open %s: %m", images);
	_cleanup_closedir_ DIR *dir = fdopendir(dup(ifd));
	if (!dir)
		return error_setf(ret_error, negative_errno(), "cannot read %s: %m", images);
	for (struct dirent *de; (de = readdir(dir));) {
		struct stat st;
		if (de->d_name[0] == '.' || fstatat(ifd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		char **n = realloc(ld->names, (ld->n + 2) * sizeof(char *));
		if (!n)
			return -ENOMEM;
		ld->names = n;
		if (!(ld->names[ld->n] = strdup(de->d_name)))
			return -ENOMEM;
		if (linkat(ifd, de->d_name, ld->fd, de->d_name, 0) < 0) {
			free(ld->names[ld->n]);
			ld->names[ld->n] = NULL;
			return error_setf(ret_error, negative_errno(), "cannot link %s/%s into %s: %m", images, de->d_name,
			                  ld->path);
		}
		ld->names[++ld->n] = NULL;
	}
	return 0;
}

/* Moves CRIU's restore.log and lxc-checkpoint's output to the pair directory (replacing what is
 * there by that name, never following it), removes the links we made and what CRIU writes at our
 * request (stats-restore), then the directory; anything else there is kept and said. */
static void link_dir_remove(struct link_dir *ld, const char *pair_dir, json_t *warnings) {
	static const char *const moved_out[] = { "restore.log", "lxc-checkpoint.log" };
	if (ld->fd >= 0) {
		_cleanup_close_ int pfd = open_nofollow(pair_dir, O_RDONLY | O_DIRECTORY);
		for (size_t i = 0; pfd >= 0 && i < ELEMENTSOF(moved_out); i++)
			(void) renameat(ld->fd, moved_out[i], pfd, moved_out[i]);
		for (size_t i = 0; i < ld->n; i++)
			(void) unlinkat(ld->fd, ld->names[i], 0);
		(void) unlinkat(ld->fd, "stats-restore", 0);
		if (rmdir(ld->path) < 0 && errno != ENOENT && warnings) {
			_cleanup_free_ char *s = NULL;
			if (asprintf(&s, "kept %s: it holds files ckptd did not put there", ld->path) >= 0)
				json_array_append_new(warnings, json_string(s));
		}
		close(ld->fd);
	}
	strv_free(ld->names);
	free(ld->path);
	*ld = (struct link_dir) { .fd = -EBADF };
}

int lxc_rollback_restore(struct job *j, json_t *warnings, pid_t *ret_pid, char **ret_cgroup,
                         enum cgroup_kind *ret_kind, char **ret_error) {
	_cleanup_free_ char *dir = catalog_pair_dir(j->state_dir, j->container, j->pair);
	_cleanup_free_ char *images = dir ? path_join(dir, "images") : NULL;
	_cleanup_free_ char *conf = dir ? path_join(dir, "lxc-restore.criu.conf") : NULL;
	if (!images || !conf)
		return -ENOMEM;
	_cleanup_(lxc_container_done) struct lxc_container c = {};
	int r = lxc_lookup(j->config->lxc, j->config->lxc_path, &c, ret_error);
	if (r < 0)
		return r;
	if (c.running)
		return error_setf(ret_error, -EBUSY, "LXC container %s runs again (someone started it during the "
		                  "rollback): not restoring over it", c.name);
	if ((r = write_criu_config(conf, ret_error)) < 0)
		return r;
	struct link_dir ld = { .fd = -EBADF };
	_cleanup_free_ char *error = NULL;
	r = link_images(images, dir, &ld, &error);
	_cleanup_free_ char *output = r >= 0 ? path_join(ld.path, "lxc-checkpoint.log") : NULL;
	if (r >= 0)
		r = output ? lxc_restore(&c, ld.path, j->criu_path, conf, output, &error) : -ENOMEM;
	link_dir_remove(&ld, dir, warnings);
	if (r < 0)
		return error_setf(ret_error, r, "%s (CRIU's log: %s/restore.log)", error ? error : strerror(-r), dir);
	lxc_container_done(&c);
	if ((r = lxc_lookup(j->config->lxc, j->config->lxc_path, &c, ret_error)) < 0)
		return r;
	if (!c.running)
		return error_setf(ret_error, -ESRCH, "LXC container %s is not running after lxc-checkpoint -r reported "
		                  "success (see %s/lxc-checkpoint.log)", c.name, dir);
	if ((r = lxc_thaw(&c, ret_error)) < 0)
		return r;
	if ((r = cgroup_detect(c.cgroup, ret_kind)) < 0)
		return error_setf(ret_error, r, "cgroup %s of the restored container is not usable: %m", c.cgroup);
	/* The job's own copy: what `containers` shows as the container's cgroup once the job is done
	 * (the caller's cgroup pointer is replaced by *ret_cgroup). */
	char *copy = strdup(c.cgroup);
	if (!copy)
		return -ENOMEM;
	free(j->config->cgroup);
	j->config->cgroup = copy;
	*ret_pid = c.init_pid;
	*ret_cgroup = TAKE_PTR(c.cgroup);
	return 0;
}
