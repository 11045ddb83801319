/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The configured containers: ckptd.conf and containers.d/ loaded and reloaded, the identities of
 * their volumes, and which running job shares a cgroup or volume with a container. */
#include <inttypes.h>
#include <sys/stat.h>

#include "backend.h"
#include "build-config.h"
#include "fileio.h"
#include "log.h"
#include "error.h"
#include "macro.h"
#include "manager.h"

void container_free(struct container *c) {
	if (!c)
		return;
	free(c->name);
	container_config_free(c->config);
	free(c->config_error);
	free(c->volume_ids);
	free(c->lxc_cgroup);
	free(c);
}

struct container *manager_find_container(struct manager *m, const char *name) {
	for (size_t i = 0; i < m->n_containers; i++)
		if (streq(m->containers[i]->name, name))
			return m->containers[i];
	return NULL;
}

/* What each volume is now, so that a volume swapped for another one later is refused. A
 * volume reached through a symlink is a configuration error: ckptd never follows one to a
 * volume. A volume missing now is not (its jobs fail until it is there). */
static int record_volume_identities(struct container_config *cfg, struct volume_identity **ret, char **ret_error) {
	_cleanup_free_ struct volume_identity *ids = calloc(cfg->n_volumes ? cfg->n_volumes : 1, sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->n_volumes; i++) {
		const struct snapshot_backend *b = snapshot_backend_for(cfg->volumes[i]);
		_cleanup_free_ char *why = NULL;
		if (!b || !b->identify)
			continue;
		int r = b->identify(cfg->volumes[i], &ids[i], &why);
		if (r == -ELOOP) {
			return error_setf(ret_error, r, "%s: [Container] Volume=%s: %s", cfg->file, cfg->volumes[i], strna(why));
		}
		if (r < 0)
			ids[i] = (struct volume_identity) {};
	}
	*ret = TAKE_PTR(ids);
	return 0;
}

static int add_container(struct manager *m, const char *name, struct container_config *cfg, char *error) {
	struct container *c = calloc(1, sizeof(*c));
	struct container **a = realloc(m->containers, (m->n_containers + 1) * sizeof(*a));
	if (!c || !a) {
		free(c);
		if (a)
			m->containers = a;
		return -ENOMEM;
	}
	m->containers = a;
	c->name = strdup(name);
	if (!c->name) {
		free(c);
		return -ENOMEM;
	}
	c->config = cfg;
	c->config_error = error;
	m->containers[m->n_containers++] = c;
	return 0;
}

char *manager_default_staging_dir(struct manager *m) {
	if (streq(m->state_dir, CKPTD_STATE_DIR))
		return strdup("/run/ckptd/staging");
	uint64_t h = 14695981039346656037ULL; /* FNV-1a of the state directory's path */
	for (const char *p = m->state_dir; *p; p++)
		h = (h ^ (unsigned char) *p) * 1099511628211ULL;
	char *s = NULL;
	if (asprintf(&s, "/run/ckptd/staging-%016" PRIx64, h) < 0)
		return NULL;
	return s;
}

/* Same cgroup directory or same volume: by device and inode where they exist, else by spelling. */
static bool same_object(const char *a, const char *b) {
	struct stat sa, sb;
	if (a[0] == '/' && b[0] == '/' && stat(a, &sa) >= 0 && stat(b, &sb) >= 0)
		return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
	return streq(a, b);
}

/* What `a` shares with `b` (a cgroup or a volume), NULL if nothing. */
static const char *shared_resource(const struct container_config *a, const struct container_config *b,
                                   const char **ret_key) {
	/* An LXC= container's cgroup is LXC's to say: the same container is the same name and path. */
	if (a->lxc && b->lxc && streq(a->lxc, b->lxc) && streq_ptr(a->lxc_path, b->lxc_path)) {
		*ret_key = "LXC";
		return a->lxc;
	}
	if (a->machine && b->machine && streq(a->machine, b->machine)) { /* machined's, as LXC='s */
		*ret_key = "Machine";
		return a->machine;
	}
	if (a->cgroup && b->cgroup && same_object(a->cgroup, b->cgroup)) {
		*ret_key = "Cgroup";
		return a->cgroup;
	}
	for (size_t i = 0; i < a->n_volumes; i++)
		for (size_t k = 0; k < b->n_volumes; k++)
			if (same_object(a->volumes[i], b->volumes[k])) {
				*ret_key = "Volume";
				return a->volumes[i];
			}
	return NULL;
}

struct container *manager_find_sharing_job(struct manager *m, struct container *ct, const char **ret_key,
                                           const char **ret_what) {
	for (size_t i = 0; ct->config && i < m->n_containers; i++) {
		struct container *o = m->containers[i];
		struct job *oj = o == ct ? NULL : manager_container_job(m, o->name);
		/* The running job's own copy of the configuration: what it acts on. */
		const struct container_config *ocfg = oj ? job_held_config(oj, o->name) : NULL;
		if (!ocfg)
			continue;
		const char *what = shared_resource(ct->config, ocfg, ret_key);
		if (what) {
			*ret_what = what;
			return o;
		}
	}
	return NULL;
}

int manager_load_config(struct manager *m) {
	_cleanup_free_ char *main_conf = path_join(m->config_dir, "ckptd.conf");
	_cleanup_free_ char *dir = path_join(m->config_dir, "containers.d");
	if (!main_conf || !dir)
		return -ENOMEM;

	daemon_config_done(&m->daemon);
	free(m->daemon_config_error);
	m->daemon_config_error = NULL;
	int r = daemon_config_load(main_conf, &m->daemon, &m->daemon_config_error);
	if (r < 0) {
		log_error("%s", strna(m->daemon_config_error));
		/* Keep going with the defaults: containers can still be served. */
		daemon_config_done(&m->daemon);
		_cleanup_free_ char *ignored = NULL;
		(void) daemon_config_load("/dev/null", &m->daemon, &ignored);
	}
	if (m->daemon.max_parallel_jobs == 0)
		m->daemon.max_parallel_jobs = 4;
	/* Root's and read-only callers' jobs each have MaxParallelJobs slots (see start_job() in methods-jobs.c; the quick queries such as inspect a third set). */
	fd_budget_set_jobs(&m->fds, _JOB_POOL_MAX * m->daemon.max_parallel_jobs);
	m->read_gid = (gid_t) -1;
	if (m->daemon.read_group) {
		gid_t gid;
		r = read_group_resolve(m->daemon.read_group, &gid);
		if (r < 0) {
			free(m->daemon_config_error);
			if (asprintf(&m->daemon_config_error, "%s: [Daemon] ReadGroup=%s: %s", main_conf,
			             m->daemon.read_group, r == -ESRCH ? "no such group" : strerror(-r)) < 0)
				m->daemon_config_error = NULL;
			log_error("%s", strna(m->daemon_config_error));
		} else
			m->read_gid = gid;
	}

	_cleanup_closedir_ DIR *d = opendir(dir);
	if (!d) {
		if (errno != ENOENT)
			log_error_errno(errno, "Cannot read %s: %m", dir);
		return 0;
	}
	for (struct dirent *de; (de = readdir(d));) {
		size_t len = strlen(de->d_name);
		if (de->d_name[0] == '.' || len <= 5 || !streq(de->d_name + len - 5, ".conf"))
			continue;
		_cleanup_free_ char *path = path_join(dir, de->d_name);
		_cleanup_free_ char *name = strndup(de->d_name, len - 5);
		if (!path || !name)
			return -ENOMEM;
		struct container_config *cfg = NULL;
		struct volume_identity *ids = NULL;
		char *error = NULL;
		r = container_config_load(path, &cfg, &error);
		if (r >= 0 && (r = record_volume_identities(cfg, &ids, &error)) < 0)
			cfg = container_config_free(cfg);
		if (r < 0) {
			log_error("%s", strna(error));
			if (!container_name_is_valid(name)) { /* cannot be addressed at all: report, skip */
				free(error);
				continue;
			}
		}
		r = add_container(m, name, cfg, error);
		if (r < 0) {
			free(ids);
			return r;
		}
		m->containers[m->n_containers - 1]->volume_ids = ids;
	}
	log_info("Configuration: %zu container(s) from %s", m->n_containers, dir);
	return 0;
}

int manager_reload_config(struct manager *m) {
	struct container **old = m->containers;
	size_t n_old = m->n_containers;
	m->containers = NULL;
	m->n_containers = 0;
	int r = manager_load_config(m);
	for (size_t i = 0; i < n_old; i++) {
		struct container *c = old[i];
		if (manager_container_job(m, c->name) && !manager_find_container(m, c->name) &&
		    add_container(m, c->name, TAKE_PTR(c->config), TAKE_PTR(c->config_error)) < 0)
			log_warning("%s: out of memory; the container stays unlisted until its job ends", c->name);
		container_free(c);
	}
	free(old);
	return r;
}

