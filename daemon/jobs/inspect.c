/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>

#include "cgroup.h"
#include "discover.h"
#include "error.h"
#include "inspect.h"
#include "job.h"
#include "fileio.h"
#include "machine-container.h"
#include "macro.h"
#include "netns-external.h"
#include "predump.h"

/* NetworkConfig= for a container with a network namespace of its own: what a checkpoint now
 * would use, and why not external (the same proof as the dump's, outside any window). */
static void inspect_network_config(const struct container_config *cfg, pid_t root, json_t *discovery) {
	json_t *net = json_object_get(discovery, "network");
	if (!json_is_true(json_object_get(net, "own_namespace")))
		return;
	static const char *const names[] = { [NETWORK_CONFIG_PRESAVE] = "presave", [NETWORK_CONFIG_CRIU] = "criu",
		                             [NETWORK_CONFIG_AUTO] = "auto", [NETWORK_CONFIG_EXTERNAL] = "external" };
	json_t *c = json_pack("{s:s}", "requested", names[cfg->network_config]);
	if (!c || json_object_set_new(net, "config", c) < 0)
		return;
	if (cfg->network_config == NETWORK_CONFIG_PRESAVE || cfg->network_config == NETWORK_CONFIG_CRIU) {
		json_object_set_new(c, "mode", json_string(names[cfg->network_config]));
		return;
	}
	char ns[64];
	(void) snprintf(ns, sizeof(ns), "/proc/%d/ns/net", (int) root);
	_cleanup_close_ int fd = open(ns, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *reason = NULL;
	_cleanup_(netns_saved_done) struct netns_saved saved = {};
	if (fd < 0)
		(void) asprintf(&reason, "cannot open %s: %s", ns, strerror(errno));
	else
		netns_external_check(fd, discovery, &saved, &reason);
	const char *mode = !reason ? "external" : cfg->network_config == NETWORK_CONFIG_EXTERNAL ? "refused" : "presave";
	json_object_set_new(c, "mode", json_string(mode));
	if (reason)
		json_object_set_new(c, "reason", json_string(reason));
}

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
	inspect_network_config(cfg, root, discovery);
	/* PreDump= where it would run: does the workload's memory let it gain anything? */
	_cleanup_free_ char *thp = NULL;
	if (cfg->pre_dump != 0 && j->criu_path && criu_dirty_tracking_available(j->criu_path) &&
	    predump_huge_page_warning(cfg->cgroup, &thp) >= 0 && thp)
		json_array_append_new(json_object_get(discovery, "warnings"), json_string(thp));
	return job_succeed(j, json_pack("{s:o}", "inspection", discovery));
}
