/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "cgroup.h"
#include "discover.h"
#include "error.h"
#include "inspect.h"
#include "job.h"
#include "machine-container.h"
#include "macro.h"
#include "predump.h"

int job_inspect(struct job *j) {
	const struct container_config *cfg = j->config;
	_cleanup_free_ char *why = NULL;
	pid_t root = cfg->root_pid;
	enum cgroup_kind kind;
	int r = cgroup_detect(cfg->cgroup, &kind);
	if (r < 0)
		(void) error_setf(&why, r, "cgroup %s %s", cfg->cgroup, r == -ENOENT ? "does not exist" : "is not usable");
	else if (root <= 0)
		r = cgroup_find_root(cfg->cgroup, &root, &why);
	json_t *discovery = NULL;
	if (r >= 0)
		r = discover_container(cfg, root, &discovery, &why);
	if (r < 0)
		return job_finish_error(j, "io.ckptd.Manager.OperationFailed",
		                        json_pack("{s:s,s:s,s:s}", "container", j->container, "step", "discover", "message",
		                                  why ? why : strerror(-r)));
	json_object_set_new(discovery, "container", json_string(j->container));
	json_object_set_new(discovery, "cgroup", json_string(cfg->cgroup));
	json_object_set_new(discovery, "frozen", json_boolean(cgroup_is_frozen(cfg->cgroup, kind) > 0));
	if (j->machine) /* Machine=: where systemd-machined's answer led */
		json_object_set_new(discovery, "machine", machine_info_to_json(j->machine, cfg->cgroup));
	/* PreDump= where it would run: does the workload's memory let it gain anything? */
	_cleanup_free_ char *thp = NULL;
	if (cfg->pre_dump != 0 && j->criu_path && criu_dirty_tracking_available(j->criu_path) &&
	    predump_huge_page_warning(cfg->cgroup, &thp) >= 0 && thp)
		json_array_append_new(json_object_get(discovery, "warnings"), json_string(thp));
	return job_succeed(j, json_pack("{s:o}", "inspection", discovery));
}
