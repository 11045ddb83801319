/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Jobs on Machine= containers: the configuration resolved from systemd-machined, and the unit and
 * registration a rollback gives the restored machine. See machine-container.h. */
#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <signal.h>
#include <sys/stat.h>

#include "error.h"
#include "json-util.h"
#include "lxc.h"
#include "machine-container.h"
#include "machined.h"
#include "macro.h"
#include "mountinfo.h"
#include "pair.h"
#include "parse-util.h"
#include "process.h"
#include "time-util.h"

#define MACHINE_WAIT_USEC (10 * USEC_PER_SEC)

static bool has_suffix(const char *s, const char *suffix) {
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && streq(s + n - k, suffix);
}

json_t *machine_info_to_json(const struct machine_info *m, const char *cgroup) {
	json_t *ifs = json_array();
	for (size_t i = 0; ifs && i < m->n_ifindices; i++)
		json_array_append_new(ifs, json_integer(m->ifindices[i]));
	return ifs ? json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:o,s:s?}", "name", m->name, "id", strempty(m->id),
	                       "class", strempty(m->class), "service", strempty(m->service), "unit", m->unit,
	                       "root_directory", strempty(m->root_directory), "leader", (int) m->leader,
	                       "network_interfaces", ifs, "cgroup", cgroup)
	           : NULL;
}

/* With Volume= given, the root directory must be one of them or lie inside one. */
static int check_root_on_volumes(const struct container_config *cfg, const struct machine_info *m,
                                 char **ret_error) {
	if (isempty(m->root_directory)) /* machined does not know it: discovery checks the root */
		return 0;
	for (size_t i = 0; i < cfg->n_volumes; i++)
		if (streq(cfg->volumes[i], m->root_directory) || path_is_below(m->root_directory, cfg->volumes[i]))
			return 0;
	return error_setf(ret_error, -EXDEV, "machine %s: its root directory %s is on none of the configured volumes "
	                  "(Volume=%s%s)", m->name, m->root_directory, cfg->volumes[0], cfg->n_volumes > 1 ? ", ..." : "");
}

static int add_root_volume(struct job *j, const struct machine_info *m, char **ret_error) {
	if (isempty(m->root_directory))
		return error_setf(ret_error, -EMEDIUMTYPE, "machine %s: systemd-machined knows no root directory for it; "
		                  "name the volume that holds it with Volume=", m->name);
	_cleanup_free_ char *why = NULL;
	int r = job_add_volume(j, m->root_directory, &why);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return error_setf(ret_error, r, "machine %s: its root directory %s is not a volume ckptd can snapshot (%s); "
		                  "put it on a btrfs subvolume or name the volume that holds it with Volume=", m->name,
		                  m->root_directory, why ? why : strerror(-r));
	return 0;
}

/* Splits the job's cgroup at the old unit's directory: the parent directory (its slice) and the
 * path below the unit ("/payload", or ""). */
static int split_cgroup(const char *cgroup, const char *unit, char **ret_parent, const char **ret_below,
                        char **ret_error) {
	size_t n = strlen(unit);
	for (const char *p = strstr(cgroup, unit); p; p = strstr(p + 1, unit))
		if (p > cgroup && p[-1] == '/' && (p[n] == '/' || p[n] == '\0')) {
			if (!(*ret_parent = strndup(cgroup, p - 1 - cgroup)))
				return -ENOMEM;
			*ret_below = p + n;
			return 0;
		}
	return error_setf(ret_error, -EINVAL, "the machine's cgroup %s is not below its unit %s", cgroup, unit);
}

static int strdup_member(json_t *o, const char *key, char **ret) {
	const char *s = json_string_value(json_object_get(o, key));
	return (*ret = strdup(s ? s : "")) ? 0 : -ENOMEM;
}

/* A rollback of a machine machined does not know (it was stopped, or it died): its
 * registration as the pair recorded it; the job's Cgroup= stays unset (nothing to stop). */
static int machine_from_pair(struct job *j, struct machine_info *ret, char **ret_error) {
	_cleanup_(pair_freep) struct pair *p = NULL;
	_cleanup_free_ char *why = NULL;
	int r = catalog_load_pair_record(j->state_dir, j->container, j->pair, true, &p, &why);
	if (r < 0) /* the rollback itself says what is wrong with the pair */
		return 0;
	json_t *rec = json_object_get(p->discovery, "machine");
	if (!json_is_object(rec) || !json_string_value(json_object_get(rec, "unit")))
		return error_setf(ret_error, -ENOENT, "machine %s is not registered with systemd-machined and pair %s/%" PRIu64
		                  " has no record of it (discovery.machine): start it, then roll back", j->config->machine,
		                  j->container, j->pair);
	if ((r = strdup_member(rec, "id", &ret->id)) < 0 || (r = strdup_member(rec, "class", &ret->class)) < 0 ||
	    (r = strdup_member(rec, "service", &ret->service)) < 0 || (r = strdup_member(rec, "unit", &ret->unit)) < 0 ||
	    (r = strdup_member(rec, "root_directory", &ret->root_directory)) < 0 || !(ret->name = strdup(j->config->machine)))
		return -ENOMEM;
	return 1;
}

int machine_job_resolve(struct job *j, char **ret_error) {
	if (j->kind == JOB_RESTORE)
		return error_setf(ret_error, -EOPNOTSUPP, "restore --processes-only is not available for Machine= "
		                  "containers (the machine's unit and registration are remade by a rollback): use rollback");
	if (j->kind != JOB_FREEZE_AND_DUMP && j->kind != JOB_ROLLBACK && j->kind != JOB_INSPECT)
		return 0;
	struct container_config *cfg = j->config;
	_cleanup_(machine_info_done) struct machine_info m = {};
	_cleanup_free_ char *cgroup = NULL, *why = NULL;
	int r = machined_lookup(cfg->machine, &m, &why);
	if (r == -ENOENT && j->kind == JOB_ROLLBACK) {
		machine_info_done(&m);
		r = machine_from_pair(j, &m, ret_error);
		if (r <= 0)
			return r == 0 ? error_pass(ret_error, -ENOENT, &why) : r;
	} else if (r < 0)
		return error_pass(ret_error, r, &why);
	if (!streq(m.class, "container"))
		return error_setf(ret_error, -EOPNOTSUPP, "machine %s is a %s, not a container: ckptd checkpoints "
		                  "containers only", m.name, m.class);
	if (m.leader > 0 && (r = pid_freezer_cgroup(m.leader, &cgroup, &why)) < 0)
		return error_prefixf(ret_error, r, &why, "machine %s (leader %d, unit %s)", m.name, (int) m.leader, m.unit);
	/* A rollback stops every task of that cgroup: it must be the machine's unit's, or below it. */
	_cleanup_free_ char *parent = NULL;
	const char *below;
	if (cgroup && (r = split_cgroup(cgroup, m.unit, &parent, &below, &why)) < 0)
		return error_prefixf(ret_error, r, &why, "machine %s (leader %d)", m.name, (int) m.leader);
	r = cfg->n_volumes == 0 ? add_root_volume(j, &m, ret_error) : check_root_on_volumes(cfg, &m, ret_error);
	if (r < 0)
		return r;
	free(cfg->cgroup);
	cfg->cgroup = TAKE_PTR(cgroup); /* NULL: not running (a rollback restores it) */
	cfg->root_pid = m.leader;
	if (!(j->machine = malloc(sizeof(*j->machine))))
		return -ENOMEM;
	*j->machine = m;
	m = (struct machine_info) {};
	return 0;
}

void machine_scope_done(struct machine_scope *s) {
	if (s->holder > 0) {
		(void) kill(s->holder, SIGKILL);
		(void) process_reap(s->holder);
	}
	free(s->unit);
	free(s->slice);
	free(s->cgroup);
	*s = (struct machine_scope) {};
}

/* mkdir of each directory of below under base (which must exist). */
static int make_below(const char *base, const char *below, char **ret_error) {
	_cleanup_free_ char *path = strdup(base);
	for (const char *p = below; path && *p;) {
		p += strspn(p, "/");
		size_t len = strcspn(p, "/");
		if (len == 0)
			break;
		char *next = NULL;
		if (asprintf(&next, "%s/%.*s", path, (int) len, p) < 0)
			return -ENOMEM;
		free(path);
		path = next;
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return error_setf(ret_error, -errno, "cannot make cgroup %s: %m", path);
		p += len;
	}
	return path ? 0 : -ENOMEM;
}

int machine_rollback_scope(struct job *j, json_t *pair_discovery, struct machine_scope *s, char **ret_error) {
	const struct machine_info *m = j->machine;
	/* Where the tasks were: now, or (a machine that was not running) when the pair was taken. */
	const char *old = j->config->cgroup ? j->config->cgroup
	                                    : json_string_value(json_object_get(json_object_get(pair_discovery, "machine"),
	                                                                        "cgroup"));
	if (!old)
		return error_setf(ret_error, -ENOENT, "machine %s: the pair does not record its cgroup", m->name);
	_cleanup_free_ char *parent = NULL;
	const char *below = "";
	int r = split_cgroup(old, m->unit, &parent, &below, ret_error);
	if (r < 0)
		return r;
	const char *slice = strrchr(parent, '/');
	slice = slice && has_suffix(slice + 1, ".slice") ? slice + 1 : "-.slice";
	s->unit = has_suffix(m->unit, ".scope") ? strdup(m->unit) : machine_scope_name(m->name);
	s->slice = strdup(slice);
	if (!s->unit || !s->slice || asprintf(&s->cgroup, "%s/%s%s", parent, s->unit, below) < 0)
		return -ENOMEM;

	job_progress(j, "restore", "waiting for systemd-machined to let go of machine %s", m->name);
	uint64_t t0 = now_usec(CLOCK_MONOTONIC);
	if ((r = machined_wait_unregistered(m->name, MACHINE_WAIT_USEC, ret_error)) < 0 ||
	    (r = systemd_unit_wait_gone(m->unit, MACHINE_WAIT_USEC, ret_error)) < 0 ||
	    (!streq(s->unit, m->unit) && (r = systemd_unit_wait_gone(s->unit, MACHINE_WAIT_USEC, ret_error)) < 0))
		return r;
	uint64_t t_gone = now_usec(CLOCK_MONOTONIC);
	s->wait_usec = t_gone - t0;

	const char *argv[] = { "sleep", "infinity", NULL };
	struct process_spec spec = { .argv = argv };
	_cleanup_free_ char *why = NULL;
	if ((r = process_spawn(&spec, &s->holder, &why)) < 0)
		return error_prefixf(ret_error, r, &why, "cannot start the process that holds scope %s", s->unit);
	_cleanup_free_ char *description = NULL;
	if (asprintf(&description, "Virtual Machine and Container %s (restored by ckptd)", m->name) < 0)
		return -ENOMEM;
	job_progress(j, "restore", "starting scope %s in %s for machine %s", s->unit, s->slice, m->name);
	if ((r = systemd_scope_start(s->unit, s->slice, description, s->holder, MACHINE_WAIT_USEC, ret_error)) < 0)
		return r;
	s->scope_usec = now_usec(CLOCK_MONOTONIC) - t_gone;
	_cleanup_free_ char *unit_dir = NULL;
	if (asprintf(&unit_dir, "%s/%s", parent, s->unit) < 0)
		return -ENOMEM;
	return make_below(unit_dir, below, ret_error);
}

int machine_rollback_register(struct job *j, struct machine_scope *s, json_t *pair_discovery, pid_t leader,
                              json_t **ret_registered, char **ret_error) {
	if (s->holder > 0) { /* the restored tree holds the scope now */
		(void) kill(s->holder, SIGKILL);
		(void) process_reap(s->holder);
		s->holder = 0;
	}
	/* The host ends of the machine's veths as CRIU re-created them (new interfaces). */
	_cleanup_free_ int *ifs = NULL;
	size_t n_ifs = 0, i;
	json_t *veths = json_object_get(json_object_get(pair_discovery, "network"), "veths"), *v;
	if (json_array_size(veths) > 0 && !(ifs = calloc(json_array_size(veths), sizeof(int))))
		return -ENOMEM;
	json_array_foreach(veths, i, v) {
		const char *host_if = json_string_value(json_object_get(v, "host_if"));
		unsigned idx = host_if ? if_nametoindex(host_if) : 0;
		if (idx > 0)
			ifs[n_ifs++] = (int) idx;
	}
	struct machine_info m = *j->machine;
	m.service = (char *) "ckptd";
	m.unit = s->unit;
	m.leader = leader;
	m.ifindices = ifs;
	m.n_ifindices = n_ifs;
	job_progress(j, "restore", "registering machine %s with systemd-machined (leader %d)", m.name, (int) leader);
	uint64_t t0 = now_usec(CLOCK_MONOTONIC);
	int r = machined_register(&m, leader, ifs, n_ifs, ret_error);
	if (r < 0)
		return r;
	json_t *o = machine_info_to_json(&m, s->cgroup);
	if (o && json_object_set_new(o, "timings", json_pack("{s:I,s:I,s:I}", "wait_usec", (json_int_t) s->wait_usec,
	                                                      "scope_usec", (json_int_t) s->scope_usec, "register_usec",
	                                                      (json_int_t) (now_usec(CLOCK_MONOTONIC) - t0))) < 0)
		o = json_decref_null(o);
	*ret_registered = o;
	return o ? 0 : -ENOMEM;
}
