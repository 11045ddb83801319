/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <libgen.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>

#include "backend.h"
#include "build-config.h"
#include "cgroup.h"
#include "fileio.h"
#include "intent.h"
#include "job.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "pair.h"
#include "pair-ops.h"
#include "prune.h"
#include "quarantine.h"
#include "server.h"
#include "time-util.h"

#define WATCHDOG_INTERVAL_USEC (20 * USEC_PER_MSEC)

static struct container *container_free(struct container *c) {
	if (!c)
		return NULL;
	free(c->name);
	container_config_free(c->config);
	free(c->config_error);
	free(c->volume_ids);
	free(c);
	return NULL;
}

struct manager *manager_free(struct manager *m) {
	if (!m)
		return NULL;
	while (m->n_connections > 0)
		connection_close(m->connections[0]);
	free(m->connections);
	for (size_t i = 0; i < m->n_jobs; i++)
		job_free(m->jobs[i]);
	free(m->jobs);
	for (size_t i = 0; i < m->n_containers; i++)
		container_free(m->containers[i]);
	free(m->containers);
	sd_event_source_disable_unref(m->job_event_source);
	sd_event_source_disable_unref(m->watchdog_timer);
	sd_event_source_disable_unref(m->listen_source);
	sd_event_source_disable_unref(m->accept_retry_timer);
	fd_budget_done(&m->fds);
	if (m->job_eventfd >= 0)
		close(m->job_eventfd);
	if (m->listen_fd >= 0) {
		close(m->listen_fd);
		if (m->listen_fd_owned && m->socket_path)
			(void) unlink(m->socket_path);
	}
	daemon_config_done(&m->daemon);
	free(m->daemon_config_error);
	free(m->config_dir);
	free(m->state_dir);
	free(m->socket_path);
	free(m->criu_path);
	sd_event_unref(m->event);
	free(m);
	return NULL;
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
			free(*ret_error);
			if (asprintf(ret_error, "%s: [Container] Volume=%s: %s", cfg->file, cfg->volumes[i], strna(why)) < 0)
				*ret_error = NULL;
			return r;
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
	if (same_object(a->cgroup, b->cgroup)) {
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
		if (o == ct || !o->job)
			continue;
		/* The running job's own copy of the configuration: what it acts on. */
		const char *what = shared_resource(ct->config, o->job->config, ret_key);
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
	/* Root's and read-only callers' jobs each have MaxParallelJobs slots (see start_job()). */
	fd_budget_set_jobs(&m->fds, 2 * m->daemon.max_parallel_jobs);
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

/* Thaws a cgroup a dead predecessor left frozen, removes the half-made pair of a freeze-and-dump
 * (only when it has no pair.json: a pair.json that is there but does not load is quarantined
 * later, never removed), and keeps an interrupted rollback in the journal, marked for the user.
 * Returns 1 when the record stays in the journal. */
static int recover_intent(struct manager *m, json_t *intent) {
	const char *name = json_string_value(json_object_get(intent, "container"));
	const char *kind_str = json_string_value(json_object_get(intent, "kind"));
	const char *cgroup = json_string_value(json_object_get(intent, "cgroup"));
	const char *staging = json_string_value(json_object_get(intent, "staging"));
	const char *step = json_string_value(json_object_get(intent, "step"));
	uint64_t id = (uint64_t) json_integer_value(json_object_get(intent, "pair"));
	enum cgroup_kind kind;

	if (!container_name_is_valid(name))
		return log_error_errno(EINVAL, "Intent record %s with an invalid container name: kept, skipped",
		                       strna(json_string_value(json_object_get(intent, "journal_file"))));
	if (cgroup && cgroup_kind_from_string(json_string_value(json_object_get(intent, "cgroup_kind")), &kind) >= 0 &&
	    cgroup_is_frozen(cgroup, kind) > 0) {
		int r = cgroup_thaw(cgroup, kind);
		if (r < 0)
			return log_error_errno(r, "%s: cannot thaw %s left frozen by a previous ckptd: %m", name, cgroup);
		log_container_event(LOG_WARNING, CKPTD_MESSAGE_RECOVERED, name, id, UINT64_MAX,
		                    "%s: thawed cgroup %s, left frozen by a previous ckptd during %s", name, cgroup,
		                    strna(kind_str));
	}

	if (streq_ptr(kind_str, "freeze-and-dump") && id > 0) {
		_cleanup_close_ int pfd = -EBADF;
		_cleanup_free_ char *damage = NULL;
		char idstr[32];
		snprintf(idstr, sizeof(idstr), "%" PRIu64, id);
		int r = catalog_open_subdir(m->state_dir, name, "pairs", false, &pfd);
		if (r >= 0) {
			struct stat st;
			r = fstatat(pfd, idstr, &st, AT_SYMLINK_NOFOLLOW) < 0 ? negative_errno()
			                                                   : pair_entry_damage(pfd, idstr, name, id, &damage);
		}
		if (r == 0)
			; /* it completed just before the crash: keep it */
		else if (r == -EBADMSG)
			log_warning("%s: pair %" PRIu64 " of an interrupted freeze-and-dump has a pair.json that does not "
			            "load (%s): kept for quarantine", name, id, strna(damage));
		else {
			_cleanup_free_ char *why = NULL;
			r = pair_remove(m->state_dir, name, id, json_object_get(intent, "snapshots"), staging, &why);
			if (r < 0)
				return log_error_errno(r, "%s: cannot remove half-made pair %" PRIu64 ": %s", name, id,
				                       strna(why));
			log_container_event(LOG_WARNING, CKPTD_MESSAGE_RECOVERED, name, id, UINT64_MAX,
			                    "%s: removed half-made pair %" PRIu64 " of an interrupted freeze-and-dump", name, id);
		}
	} else if (json_is_string(json_object_get(intent, "attention"))) {
		log_warning("%s: needs attention: %s", name, json_string_value(json_object_get(intent, "attention")));
		return 1; /* reported until the user acts */
	} else if (kind_str && (streq_ptr(step, "verify") || streq_ptr(step, "safety-pair"))) {
		log_container_event(LOG_WARNING, CKPTD_MESSAGE_RECOVERED, name, id, UINT64_MAX,
		                    "%s: a %s to pair %" PRIu64 " was interrupted at step '%s', before it stopped a task or "
		                    "touched a volume: nothing to repair", name, kind_str, id, step);
	} else if (kind_str) {
		_cleanup_free_ char *msg = intent_rollback_attention(name, intent, "interrupted");
		if (!msg)
			return log_error_errno(ENOMEM, "Out of memory");
		json_object_set_new(intent, "attention", json_string(msg));
		json_object_set_new(intent, "interrupted", json_true()); /* manager_finish_interrupted() */
		int r = intent_record(m->state_dir, name, intent);
		if (r < 0)
			return log_error_errno(r, "%s: cannot mark the interrupted rollback in %s/journal: %m", name,
			                       m->state_dir);
		log_container_event(LOG_WARNING, CKPTD_MESSAGE_RECOVERED, name, id, UINT64_MAX,
		                    "%s: needs attention: %s", name, msg);
		return 1;
	}
	return intent_clear(m->state_dir, intent);
}

int manager_recover(struct manager *m) {
	_cleanup_(json_decrefp) json_t *intents = NULL;
	int r = intent_load_all(m->state_dir, &intents);
	if (r < 0)
		return log_error_errno(r, "Cannot read the intent journal in %s: %m", m->state_dir);
	_cleanup_(json_decrefp) json_t *kept = json_array(); /* still in the journal */
	if (!kept)
		return -ENOMEM;
	size_t i;
	json_t *intent;
	int ret = 0;
	json_array_foreach(intents, i, intent) {
		r = recover_intent(m, intent);
		if (r < 0)
			ret = r;
		if (r != 0)
			json_array_append(kept, intent);
	}

	/* Pair directories that are not complete pairs: removed only when ckptd marked them as its
	 * own unfinished work; every other one is moved to quarantine/, never deleted. */
	r = catalog_recover_pairs(m->state_dir, kept);
	if (r < 0)
		ret = r;
	return ret;
}

/* Finishes the rollbacks a predecessor was interrupted in, once each: the job verifies the pair
 * first (checksums, snapshots) and changes nothing when it is not intact; it takes no new safety
 * pair (the interrupted rollback's one stays, and its undo command works). The record stays, and
 * is reported, until a rollback or restore of the container succeeds. */
int manager_finish_interrupted(struct manager *m) {
	_cleanup_(json_decrefp) json_t *intents = NULL;
	int r = intent_load_all(m->state_dir, &intents);
	if (r < 0)
		return r;
	size_t i;
	json_t *intent;
	json_array_foreach(intents, i, intent) {
		const char *name = json_string_value(json_object_get(intent, "container"));
		uint64_t id = (uint64_t) json_integer_value(json_object_get(intent, "pair"));
		if (!json_is_true(json_object_get(intent, "interrupted")) ||
		    json_is_true(json_object_get(intent, "finish_attempted")) ||
		    !streq_ptr(json_string_value(json_object_get(intent, "kind")), "rollback") || id == 0)
			continue;
		struct container *ct = manager_find_container(m, name);
		if (!ct || !ct->config || ct->job || m->n_jobs >= m->daemon.max_parallel_jobs) {
			log_warning("%s: cannot finish the interrupted rollback to pair %" PRIu64 " now (%s)", name, id,
			            !ct || !ct->config ? "the container's configuration is missing or invalid"
			                               : "other jobs are running");
			continue;
		}
		json_object_set_new(intent, "finish_attempted", json_true());
		struct job **a = realloc(m->jobs, (m->n_jobs + 1) * sizeof(*a));
		if (!a)
			return -ENOMEM;
		m->jobs = a;
		struct job *j;
		if (intent_record(m->state_dir, name, intent) < 0 || job_new(m, ct, JOB_ROLLBACK, job_rollback, &j) < 0)
			continue;
		j->pair = id;
		j->safety_pair = false;
		m->jobs[m->n_jobs++] = j;
		ct->job = j;
		if (job_start(j) < 0) {
			m->n_jobs--;
			ct->job = NULL;
			job_free(j);
			continue;
		}
		log_container_event(LOG_WARNING, CKPTD_MESSAGE_RECOVERED, name, id, UINT64_MAX,
		                    "%s: finishing the rollback to pair %" PRIu64 " interrupted at step '%s' (the pair is "
		                    "verified first; no new safety pair)", name, id,
		                    strna(json_string_value(json_object_get(intent, "step"))));
	}
	return 0;
}

static void send_job_updates(struct manager *m, struct job *j, json_t *progress) {
	if (!j->connection || !j->more)
		return;
	size_t i;
	json_t *p;
	json_array_foreach(progress, i, p) {
		json_t *params = json_pack("{s:O}", "progress", p);
		int r = connection_reply(j->connection, params, true);
		json_decref(params);
		if (r < 0) {
			connection_close(j->connection); /* also detaches it from the job */
			return;
		}
	}
}

static void finish_job(struct manager *m, struct job *j) {
	/* Retention runs after every successful pair, before the client hears of it. */
	struct container *ct = manager_find_container(m, j->container);
	if (ct && j->kind == JOB_FREEZE_AND_DUMP && !j->error_name)
		(void) prune_container(m, ct, false, NULL);
	/* The volumes a rollback replaced are new subvolumes: every container that names them
	 * (two may share a volume) takes their identities. */
	for (size_t c = 0; j->kind == JOB_ROLLBACK && c < m->n_containers; c++) {
		struct container *o = m->containers[c];
		for (size_t i = 0; o->config && o->volume_ids && i < j->config->n_volumes; i++)
			for (size_t k = 0; k < o->config->n_volumes; k++)
				if (j->volume_ids[i].id != 0 && streq(j->config->volumes[i], o->config->volumes[k]))
					o->volume_ids[k] = j->volume_ids[i];
	}
	if (j->connection) {
		int r;
		if (j->error_name)
			r = connection_error(j->connection, j->error_name, json_incref(j->error_parameters));
		else
			r = connection_reply(j->connection, j->result, false);
		if (r < 0)
			connection_close(j->connection);
	}
	for (size_t i = 0; i < m->n_containers; i++)
		if (m->containers[i]->job == j)
			m->containers[i]->job = NULL;
	for (size_t i = 0; i < m->n_jobs; i++)
		if (m->jobs[i] == j) {
			memmove(m->jobs + i, m->jobs + i + 1, (m->n_jobs - i - 1) * sizeof(*m->jobs));
			m->n_jobs--;
			break;
		}
	job_free(j);
}

static int on_job_event(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
	struct manager *m = userdata;
	uint64_t v;
	(void) !read(fd, &v, sizeof(v));

	for (size_t i = 0; i < m->n_jobs;) {
		struct job *j = m->jobs[i];
		pthread_mutex_lock(&j->lock);
		json_t *progress = j->pending;
		j->pending = json_array();
		bool finished = j->finished;
		bool frozen = j->frozen_since > 0;
		pthread_mutex_unlock(&j->lock);

		send_job_updates(m, j, progress);
		json_decref(progress);
		if (frozen)
			(void) sd_event_source_set_enabled(m->watchdog_timer, SD_EVENT_ON);
		if (finished) {
			finish_job(m, j);
			continue;
		}
		i++;
	}
	manager_update_status(m);
	if (m->shutting_down && m->n_jobs == 0)
		sd_event_exit(m->event, 0);
	return 0;
}

/* MaxFrozenSec: a frozen window that runs over is cut short by killing CRIU; the job then
 * thaws and removes the partial pair. */
static int on_watchdog(sd_event_source *s, uint64_t usec, void *userdata) {
	struct manager *m = userdata;
	bool any_frozen = false;
	uint64_t now = now_usec(CLOCK_MONOTONIC);
	for (size_t i = 0; i < m->n_jobs; i++) {
		struct job *j = m->jobs[i];
		pthread_mutex_lock(&j->lock);
		if (j->frozen_since > 0) {
			any_frozen = true;
			if (!j->budget_exceeded && now - j->frozen_since > j->config->max_frozen_usec) {
				j->budget_exceeded = true;
				log_error("%s: frozen for longer than MaxFrozenSec=%.3gs; stopping criu (pid %d)", j->container,
				          (double) j->config->max_frozen_usec / USEC_PER_SEC, (int) j->criu_pid);
				if (j->criu_pid > 0)
					(void) kill(j->criu_pid, SIGKILL);
			}
		}
		pthread_mutex_unlock(&j->lock);
	}
	(void) sd_event_source_set_time(s, now + WATCHDOG_INTERVAL_USEC);
	if (!any_frozen)
		(void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
	return 0;
}

/* Restored process trees end up as our children (we are a subreaper): reap them at once, so a
 * later restore never finds their PIDs taken. Only the main thread's children: each CRIU
 * process is a child of its job thread, which waits for it itself. */
static int on_sigchld(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int) getpid());
	_cleanup_free_ char *buf = NULL;
	if (read_full_file(path, &buf, NULL) < 0)
		return 0;
	for (char *p = buf, *e; *p; p = e) {
		long pid = strtol(p, &e, 10);
		if (e == p)
			break;
		int status;
		if (waitpid((pid_t) pid, &status, WNOHANG) > 0)
			log_debug("Reaped process %ld", pid);
	}
	return 0;
}

/* SIGHUP: read the configuration again. A container with a running job keeps its job (which
 * works on its own copy of the configuration); one whose file went away stays until its job ends. */
static int manager_reload_config(struct manager *m) {
	struct container **old = m->containers;
	size_t n_old = m->n_containers;
	m->containers = NULL;
	m->n_containers = 0;
	int r = manager_load_config(m);
	for (size_t i = 0; i < n_old; i++) {
		struct container *c = old[i];
		if (!c->job) {
			container_free(c);
			continue;
		}
		struct container *now = manager_find_container(m, c->name);
		if (now) {
			now->job = c->job;
			container_free(c);
		} else if (add_container(m, c->name, TAKE_PTR(c->config), TAKE_PTR(c->config_error)) >= 0) {
			manager_find_container(m, c->name)->job = c->job;
			container_free(c);
		} else
			container_free(c); /* out of memory: the job still finishes, unlisted */
	}
	free(old);
	return r;
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
	struct manager *m = userdata;
	(void) sd_notify(0, "RELOADING=1");
	int r = manager_reload_config(m);
	if (r < 0)
		log_error_errno(r, "Reloading the configuration failed: %m");
	else
		log_info("Configuration reloaded");
	(void) sd_notify(0, "READY=1");
	manager_update_status(m);
	return 0;
}

static int on_signal_exit(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
	struct manager *m = userdata;
	log_info("Received %s, %s", strsignal((int) si->ssi_signo),
	         m->n_jobs > 0 ? "finishing running jobs first" : "exiting");
	manager_begin_shutdown(m);
	return 0;
}

void manager_begin_shutdown(struct manager *m) {
	m->shutting_down = true;
	(void) sd_notify(0, "STOPPING=1");
	if (m->n_jobs == 0)
		sd_event_exit(m->event, 0);
}

void manager_update_status(struct manager *m) {
	if (m->n_jobs == 0) {
		(void) sd_notifyf(0, "STATUS=Idle, %zu container(s)", m->n_containers);
		return;
	}
	struct job *j = m->jobs[0];
	pthread_mutex_lock(&j->lock);
	(void) sd_notifyf(0, "STATUS=%s %s: %s%s", job_kind_to_string(j->kind), j->container, strna(j->phase),
	                  m->n_jobs > 1 ? " (and more)" : "");
	pthread_mutex_unlock(&j->lock);
}

#define ACCEPT_RETRY_USEC (100 * USEC_PER_MSEC)

static int on_accept_retry(sd_event_source *s, uint64_t usec, void *userdata) {
	struct manager *m = userdata;
	(void) sd_event_source_set_enabled(m->listen_source, SD_EVENT_ON);
	return 0;
}

/* A few connections per wake-up; when accept() fails for want of descriptors or memory, the
 * socket is left alone for a moment instead of being asked again at once (which spins). */
static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
	struct manager *m = userdata;
	for (int i = 0; i < 16; i++) {
		int r = server_accept(m, fd);
		if (r > 0)
			continue;
		if (r < 0) {
			unsigned suppressed;
			if (ratelimit_below(&m->accept_error_log, &suppressed))
				log_warning_errno(r, "Cannot accept connections: %m; pausing for %u ms (%u similar messages "
				                  "suppressed)", (unsigned) (ACCEPT_RETRY_USEC / USEC_PER_MSEC), suppressed);
			(void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
			(void) sd_event_source_set_time(m->accept_retry_timer,
			                                now_usec(CLOCK_MONOTONIC) + ACCEPT_RETRY_USEC);
			(void) sd_event_source_set_enabled(m->accept_retry_timer, SD_EVENT_ONESHOT);
		}
		break;
	}
	return 0;
}

int manager_start_listening(struct manager *m) {
	int n = sd_listen_fds(true);
	if (n < 0)
		return log_error_errno(n, "Socket activation failed: %m");
	if (n > 1)
		return log_error_errno(EINVAL, "Expected one socket from the service manager, got %d", n);
	if (n == 1) {
		m->listen_fd = SD_LISTEN_FDS_START;
		/* on_accept() takes several connections per wake-up: accept() must not block. */
		int flags = fcntl(m->listen_fd, F_GETFL);
		if (flags < 0 || fcntl(m->listen_fd, F_SETFL, flags | O_NONBLOCK) < 0)
			return log_error_errno(errno, "Cannot make the socket from the service manager non-blocking: %m");
		log_info("Listening on the socket passed by the service manager");
	} else {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		if (strlen(m->socket_path) >= sizeof(sa.sun_path))
			return log_error_errno(ENAMETOOLONG, "Socket path %s is too long", m->socket_path);
		strcpy(sa.sun_path, m->socket_path);
		_cleanup_free_ char *dir = strdup(m->socket_path);
		if (!dir)
			return -ENOMEM;
		int r = mkdir_p(dirname(dir), 0755);
		if (r < 0)
			return log_error_errno(r, "Cannot create the directory of %s: %m", m->socket_path);
		m->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (m->listen_fd < 0)
			return log_error_errno(errno, "socket() failed: %m");
		(void) unlink(m->socket_path);
		if (bind(m->listen_fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
			return log_error_errno(errno, "Cannot bind %s: %m", m->socket_path);
		m->listen_fd_owned = true;
		/* Anyone may connect; each call is authorised by the peer's credentials. */
		if (chmod(m->socket_path, 0666) < 0 || listen(m->listen_fd, SOMAXCONN) < 0)
			return log_error_errno(errno, "Cannot listen on %s: %m", m->socket_path);
		log_info("Listening on %s", m->socket_path);
	}
	int r = sd_event_add_time(m->event, &m->accept_retry_timer, CLOCK_MONOTONIC, 0, 10 * USEC_PER_MSEC,
	                          on_accept_retry, m);
	if (r < 0)
		return log_error_errno(r, "Cannot set up the accept timer: %m");
	(void) sd_event_source_set_enabled(m->accept_retry_timer, SD_EVENT_OFF);
	log_debug("File descriptors: limit %u, %u kept for jobs; clients: at most %u, %u per user but root",
	          m->fds.limit, m->fds.reserve, m->daemon.max_connections, m->daemon.max_connections_per_user);
	return sd_event_add_io(m->event, &m->listen_source, m->listen_fd, EPOLLIN, on_accept, m);
}

int manager_new(struct manager **ret) {
	struct manager *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->listen_fd = -EBADF;
	m->job_eventfd = -EBADF;
	m->read_gid = (gid_t) -1;
	m->started_usec = now_usec(CLOCK_MONOTONIC);
	m->fds.proc_fd_dir = -EBADF;
	m->refusal_log = (struct ratelimit) RATELIMIT_INIT(10 * USEC_PER_SEC, 5);
	m->drop_log = (struct ratelimit) RATELIMIT_INIT(10 * USEC_PER_SEC, 5);
	m->accept_error_log = (struct ratelimit) RATELIMIT_INIT(10 * USEC_PER_SEC, 3);
	int r = fd_budget_init(&m->fds, 8);
	if (r < 0) {
		log_error_errno(r, "Cannot open /proc/self/fd to count descriptors: %m");
		goto fail;
	}
	r = sd_event_default(&m->event);
	if (r < 0)
		goto fail;
	m->job_eventfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (m->job_eventfd < 0) {
		r = negative_errno();
		goto fail;
	}
	r = sd_event_add_io(m->event, &m->job_event_source, m->job_eventfd, EPOLLIN, on_job_event, m);
	if (r < 0)
		goto fail;
	r = sd_event_add_time(m->event, &m->watchdog_timer, CLOCK_MONOTONIC, 0, 1000, on_watchdog, m);
	if (r < 0)
		goto fail;
	(void) sd_event_source_set_enabled(m->watchdog_timer, SD_EVENT_OFF);
	if ((r = sd_event_add_signal(m->event, NULL, SIGTERM, on_signal_exit, m)) < 0 ||
	    (r = sd_event_add_signal(m->event, NULL, SIGINT, on_signal_exit, m)) < 0 ||
	    (r = sd_event_add_signal(m->event, NULL, SIGHUP, on_sighup, m)) < 0 ||
	    (r = sd_event_add_signal(m->event, NULL, SIGCHLD, on_sigchld, m)) < 0)
		goto fail;
	(void) sd_event_set_watchdog(m->event, true);
	*ret = m;
	return 0;
fail:
	manager_free(m);
	return r;
}
