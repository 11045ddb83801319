/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The io.ckptd.Manager methods (and org.varlink.service for generic clients): the table, who
 * may call what, and the helpers the methods share. Quick methods answer on the event loop
 * (methods-catalog.c); everything that does work starts a job (methods-jobs.c). */
#include <stdarg.h>

#include "build-config.h"
#include "config.h"
#include "delete.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "methods.h"
#include "server.h"

int invalid_parameter(struct connection *c, const char *name) {
	return connection_error(c, VARLINK_ERROR_INVALID_PARAMETER, json_pack("{s:s}", "parameter", name));
}

int unpack_params(struct connection *c, json_t *params, const char *format, ...) {
	const char *bad = "parameters";
	va_list ap;
	va_start(ap, format);
	int r = varlink_params_vunpack(params, &bad, format, ap);
	va_end(ap);
	if (r == -EINVAL)
		return invalid_parameter(c, bad);
	return r < 0 ? r : 1;
}

int pair_id_param(struct connection *c, json_int_t id, uint64_t *ret_id) {
	if (id <= 0)
		return invalid_parameter(c, "id");
	*ret_id = (uint64_t) id;
	return 1;
}

/* A container named by the caller: valid name, configured, config parses. Sends the error and
 * returns NULL otherwise (*ret_r gets what connection_error returned). */
struct container *lookup(struct connection *c, const char *name, bool need_config, int *ret_r) {
	if (!container_name_is_valid(name)) {
		*ret_r = connection_error(c, ERR("InvalidContainerName"), json_pack("{s:s}", "name", name));
		return NULL;
	}
	struct container *ct = manager_find_container(c->manager, name);
	if (!ct) {
		*ret_r = connection_error(c, ERR("NoSuchContainer"), json_pack("{s:s}", "container", name));
		return NULL;
	}
	if (need_config && !ct->config) {
		*ret_r = connection_error(c, ERR("ConfigInvalid"),
		                          json_pack("{s:s,s:s}", "container", name, "message", strna(ct->config_error)));
		return NULL;
	}
	*ret_r = 0;
	return ct;
}

int get_container_and_id(struct connection *c, json_t *params, const char **ret_name, uint64_t *ret_id) {
	json_int_t id;
	int r = unpack_params(c, params, "{s:s, s:I}", "container", ret_name, "id", &id);
	return r <= 0 ? r : pair_id_param(c, id, ret_id);
}

int get_container_only(struct connection *c, json_t *params, const char **ret_name) {
	return unpack_params(c, params, "{s:s}", "container", ret_name);
}

int reply_load_error(struct connection *c, const char *name, uint64_t id, int r, const char *why) {
	const char *error;
	json_t *params = pair_load_error(c->manager->state_dir, name, id, r, why, &error);
	return connection_error(c, error, params);
}

static int method_get_info(struct connection *c, struct varlink_call *call) {
	json_t *reply = json_pack("{s:s,s:s,s:s,s:s,s:[s,s]}", "vendor", "ckptd", "product", "ckptd", "version",
	        CKPTD_VERSION, "url", "https://github.com/ckptd/ckptd", "interfaces", "org.varlink.service",
	        VARLINK_INTERFACE);
	int r = connection_reply(c, reply, false);
	json_decref(reply);
	return r;
}

static int method_get_interface_description(struct connection *c, struct varlink_call *call) {
	const char *iface;
	int r = unpack_params(c, call->parameters, "{s:s}", "interface", &iface);
	if (r <= 0)
		return r;
	if (!streq(iface, VARLINK_INTERFACE))
		return connection_error(c, VARLINK_ERROR_INTERFACE_NOT_FOUND, json_pack("{s:s}", "interface", iface));
	json_t *reply = json_pack("{s:s}", "description", varlink_interface_description);
	r = connection_reply(c, reply, false);
	json_decref(reply);
	return r;
}


static const struct method {
	const char *name;
	bool writes;
	int (*handler)(struct connection *c, struct varlink_call *call);
	int (*handler_flag)(struct connection *c, struct varlink_call *call, bool flag);
	bool flag;
} methods[] = {
	{ "org.varlink.service.GetInfo", false, method_get_info },
	{ "org.varlink.service.GetInterfaceDescription", false, method_get_interface_description },
	{ VARLINK_INTERFACE ".FreezeAndDump", true, method_freeze_and_dump },
	{ VARLINK_INTERFACE ".List", false, method_list },
	{ VARLINK_INTERFACE ".Show", false, method_show },
	{ VARLINK_INTERFACE ".Delete", true, method_delete },
	{ VARLINK_INTERFACE ".Verify", false, method_verify },
	{ VARLINK_INTERFACE ".Rollback", true, method_rollback },
	{ VARLINK_INTERFACE ".Restore", true, method_restore },
	{ VARLINK_INTERFACE ".Prune", true, method_prune },
	{ VARLINK_INTERFACE ".Pin", true, NULL, method_pin, true },
	{ VARLINK_INTERFACE ".Unpin", true, NULL, method_pin, false },
	{ VARLINK_INTERFACE ".Containers", false, method_containers },
	{ VARLINK_INTERFACE ".Inspect", false, method_inspect },
	{ VARLINK_INTERFACE ".Status", false, method_status },
	{ VARLINK_INTERFACE ".Acknowledge", true, method_acknowledge },
	{ VARLINK_INTERFACE ".Export", true, method_export },
	{ VARLINK_INTERFACE ".Import", true, method_import },
};

int methods_dispatch(struct connection *c, struct varlink_call *call) {
	const struct method *found = NULL;
	for (size_t i = 0; i < ELEMENTSOF(methods); i++)
		if (streq(methods[i].name, call->method))
			found = &methods[i];
	if (!found) {
		const char *dot = strrchr(call->method, '.');
		size_t iface_len = dot ? (size_t) (dot - call->method) : 0;
		bool known_iface = (iface_len == strlen(VARLINK_INTERFACE) &&
		                    strncmp(call->method, VARLINK_INTERFACE, iface_len) == 0) ||
		                   (iface_len == 19 && strncmp(call->method, "org.varlink.service", 19) == 0);
		if (!known_iface)
			return connection_error(c, VARLINK_ERROR_INTERFACE_NOT_FOUND,
			                        json_pack("{s:s%}", "interface", call->method, iface_len));
		return connection_error(c, VARLINK_ERROR_METHOD_NOT_FOUND, json_pack("{s:s}", "method", call->method));
	}
	if (!c->may_read || (found->writes && !c->may_write)) {
		log_notice("Refused %s for pid %d uid %d", call->method, (int) c->pid, (int) c->uid);
		/* A caller with no access at all has nothing more to do here: closed once it has the answer. */
		if (!c->may_read)
			c->close_after_flush = true;
		return connection_error(c, ERR("PermissionDenied"), json_pack("{s:s}", "method", call->method));
	}
	if (call->oneway && !found->writes)
		return 0; /* nothing to do for a reply nobody wants */
	return found->handler ? found->handler(c, call) : found->handler_flag(c, call, found->flag);
}
