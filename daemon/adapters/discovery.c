/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* struct discovery: its JSON codec (pair.json's "discovery", Inspect's reply), the CRIU options
 * it asks for, and what a restore needs to be there first. The probing is in discover*.c. */
#include <sys/stat.h>

#include "discover.h"
#include "error.h"
#include "fileio.h"
#include "macro.h"

struct discovery *discovery_free(struct discovery *d) {
	if (!d)
		return NULL;
	free(d->criu.root);
	json_decref(d->criu.external_veths);
	json_decref(d->criu.cgroup_controllers);
	json_decref(d->report);
	json_decref(d->problems);
	json_decref(d->warnings);
	free(d);
	return NULL;
}

static json_t *criu_to_json(const struct discovery_criu *c) {
	return json_pack("{s:s?,s:b,s:b,s:b,s:s,s:b,s:b,s:s,s:b,s:O*,s:O*}", "root", c->root, "external_mounts",
	                 c->external_mounts, "external_sharing", c->external_sharing, "external_masters",
	                 c->external_masters, "network_lock", criu_net_lock_to_string(c->network_lock), "tcp_established",
	                 c->tcp_established, "mntns_compat_mode", c->mntns_compat_mode, "manage_cgroups",
	                 c->cgroups_soft ? "soft" : "ignore", "private_procfs", c->private_procfs, "external_veths",
	                 c->external_veths, "cgroup_controllers", c->cgroup_controllers);
}

int discovery_to_json(const struct discovery *d, json_t **ret) {
	_cleanup_(json_decrefp) json_t *o = d->report ? json_copy(d->report) : json_object();
	if (!o || (d->has_criu && json_object_set_new(o, "criu", criu_to_json(&d->criu)) < 0) ||
	    json_object_set_new(o, "checkpointable", json_boolean(json_array_size(d->problems) == 0)) < 0 ||
	    json_object_set_new(o, "problems", d->problems ? json_incref(d->problems) : json_array()) < 0 ||
	    json_object_set_new(o, "warnings", d->warnings ? json_incref(d->warnings) : json_array()) < 0)
		return -ENOMEM;
	*ret = TAKE_PTR(o);
	return 0;
}

static int strings_from_json(json_t *j, const char *key, json_t **ret, char **ret_error) {
	json_t *a = json_object_get(j, key), *v;
	size_t i;
	if (!a) {
		*ret = json_array();
		return *ret ? 0 : -ENOMEM;
	}
	if (!json_is_array(a))
		return error_setf(ret_error, -EBADMSG, "discovery has a wrong type for \"%s\"", key);
	json_array_foreach(a, i, v)
		if (!json_is_string(v))
			return error_setf(ret_error, -EBADMSG, "discovery has a wrong type for \"%s\"", key);
	*ret = json_incref(a);
	return 0;
}

static int criu_from_json(json_t *c, struct discovery_criu *ret, char **ret_error) {
	json_t *root = json_object_get(c, "root"), *veths = json_object_get(c, "external_veths"),
	       *controllers = json_object_get(c, "cgroup_controllers");
	if (!json_is_object(c) || (root && !json_is_string(root) && !json_is_null(root)) ||
	    (veths && !json_is_array(veths)) || (controllers && !json_is_array(controllers)))
		return error_setf(ret_error, -EBADMSG, "%s", "discovery has a wrong type for \"criu\"");
	*ret = (struct discovery_criu) {
		.external_mounts = json_is_true(json_object_get(c, "external_mounts")),
		.external_sharing = json_is_true(json_object_get(c, "external_sharing")),
		.external_masters = json_is_true(json_object_get(c, "external_masters")),
		.tcp_established = json_is_true(json_object_get(c, "tcp_established")),
		.mntns_compat_mode = json_is_true(json_object_get(c, "mntns_compat_mode")),
		.cgroups_soft = streq_ptr(json_string_value(json_object_get(c, "manage_cgroups")), "soft"),
		.private_procfs = json_is_true(json_object_get(c, "private_procfs")),
		.external_veths = veths ? json_incref(veths) : NULL,
		.cgroup_controllers = controllers ? json_incref(controllers) : NULL,
	};
	if (criu_net_lock_from_string(json_string_value(json_object_get(c, "network_lock")), &ret->network_lock) < 0)
		ret->network_lock = CRIU_NET_LOCK_DEFAULT;
	if (json_is_string(root) && !(ret->root = strdup(json_string_value(root))))
		return -ENOMEM;
	return 0;
}

int discovery_from_json(json_t *j, struct discovery **ret, char **ret_error) {
	if (j && !json_is_object(j))
		return error_setf(ret_error, -EBADMSG, "%s", "discovery is not a JSON object");
	_cleanup_(discovery_freep) struct discovery *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	int r;
	if ((r = strings_from_json(j, "problems", &d->problems, ret_error)) < 0 ||
	    (r = strings_from_json(j, "warnings", &d->warnings, ret_error)) < 0)
		return r;
	json_t *c = json_object_get(j, "criu");
	if (c) {
		d->has_criu = true;
		if ((r = criu_from_json(c, &d->criu, ret_error)) < 0)
			return r;
	}
	d->report = j ? json_copy(j) : json_object();
	if (!d->report)
		return -ENOMEM;
	const char *const ours[] = { "criu", "checkpointable", "problems", "warnings" };
	for (size_t i = 0; i < ELEMENTSOF(ours); i++)
		(void) json_object_del(d->report, ours[i]);
	*ret = TAKE_PTR(d);
	return 0;
}

void discovery_criu_options(const struct discovery *d, struct criu_ns_options *ret) {
	const struct discovery_criu *c = &d->criu;
	*ret = (struct criu_ns_options) {
		.root = c->root,
		.external_mounts = c->external_mounts,
		.external_sharing = c->external_sharing,
		.external_masters = c->external_masters,
		.network_lock = c->network_lock,
		.mntns_compat_mode = c->mntns_compat_mode,
		.cgroups_soft = c->cgroups_soft,
		.cgroup_controllers = c->cgroup_controllers,
		.private_procfs = c->private_procfs,
	};
}

const char *discovery_root(const struct discovery *d) {
	return d->criu.root;
}

int discovery_prepare_restore(const struct discovery *d, json_t *warnings, char **ret_error) {
	const char *root = discovery_root(d);
	struct stat st;
	if (root && (stat(root, &st) < 0 || !S_ISDIR(st.st_mode)))
		return error_setf(ret_error, -ENOENT, "the container's root directory %s is gone", root);
	size_t i;
	json_t *m;
	json_array_foreach(json_object_get(d->report, "mounts"), i, m) {
		const char *hp = json_string_value(json_object_get(m, "host_path"));
		const char *mp = json_string_value(json_object_get(m, "mountpoint"));
		if (!hp || access(hp, F_OK) >= 0)
			continue;
		if (!streq_ptr(json_string_value(json_object_get(m, "host_type")), "directory"))
			return error_setf(ret_error, -ENOENT, "the mount at %s is bound from %s on the host, which is gone",
			                  strna(mp), hp);
		/* nspawn removes its propagation directory (/run/host/incoming) when its supervisor
		 * exits: an empty one serves the restored container as well. */
		int r = mkdir_p(hp, 0755);
		if (r < 0)
			return error_setf(ret_error, r, "the mount at %s is bound from %s on the host, which is gone and "
			                  "cannot be created again: %m", strna(mp), hp);
		_cleanup_free_ char *s = NULL;
		if (asprintf(&s, "created %s on the host again (empty) for the mount at %s: it was gone", hp, strna(mp)) >= 0)
			json_array_append_new(warnings, json_string(s));
	}
	return 0;
}
