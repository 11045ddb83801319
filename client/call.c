/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ckptctl: one Varlink call per command, and the exit status of what happened. */

#include <stdbool.h>

#include "build-config.h" /* generated: CKPTD_SOCKET_PATH */
#include "ckptctl.h"
#include "macro.h"
#include "output.h"
#include "varlink.h"

const char *socket_path(void) {
	const char *e;

	if (arg_socket)
		return arg_socket;
	e = getenv("CKPTD_SOCKET");
	return e && *e ? e : CKPTD_SOCKET_PATH;
}

int log_oom(void) {
	fputs("ckptctl: out of memory\n", stderr);
	return EXIT_FAILURE;
}

/* The daemon is gone (or never answered): exit 3 rather than 1. */
static bool errno_is_disconnect(int r) {
	return r == -ECONNRESET || r == -EPIPE || r == -ENOTCONN || r == -ECONNABORTED || r == -ECONNREFUSED;
}

/* ---- talking to ckptd ------------------------------------------------------------------ */

int unreachable(int r) {
	fprintf(stderr, "ckptctl: cannot reach ckptd at %s: %s\n", socket_path(), strerror(-r));
	return EXIT_UNREACHABLE;
}

/* Calls method (full name) with parameters. With more, the daemon streams progress replies
 * ("continues": true), shown on stderr when it is a terminal. Returns EXIT_SUCCESS with the
 * final reply's parameters in *ret, or an exit status after saying on stderr what failed. */
int call(const char *verb, const char *method, json_t *parameters, bool more, json_t **ret) {
	return call_with_fd(verb, method, parameters, more, -EBADF, ret);
}

int call_with_fd(const char *verb, const char *method, json_t *parameters, bool more, int pass_fd, json_t **ret) {
	_cleanup_(varlink_buffer_done) struct varlink_buffer buf = {};
	_cleanup_close_ int fd = -EBADF;
	bool progress = more && isatty(STDERR_FILENO);
	int r;

	r = varlink_connect(socket_path(), &fd);
	if (r < 0)
		return unreachable(r);
	r = pass_fd >= 0 ? varlink_send_with_fd(fd, method, parameters, more, pass_fd)
	                 : varlink_send(fd, method, parameters, more);
	if (r < 0) {
		if (errno_is_disconnect(r))
			return unreachable(r);
		fprintf(stderr, "ckptctl: %s failed: cannot send the request: %s\n", verb, strerror(-r));
		return EXIT_FAILURE;
	}
	for (;;) {
		_cleanup_(varlink_reply_done) struct varlink_reply reply = {};

		r = varlink_recv(fd, &buf, &reply);
		if (r < 0) {
			if (errno_is_disconnect(r))
				return unreachable(r);
			fprintf(stderr, "ckptctl: %s failed: invalid reply from ckptd: %s\n", verb, strerror(-r));
			return EXIT_FAILURE;
		}
		if (reply.error) {
			output_varlink_error(verb, reply.error, reply.parameters);
			return EXIT_FAILURE;
		}
		if (reply.continues) {
			if (progress)
				output_progress(json_object_get(reply.parameters, "progress"));
			continue;
		}
		*ret = json_incref(reply.parameters);
		return EXIT_SUCCESS;
	}
}

/* The member key of a final reply, which must have the given type. */
json_t *reply_get(const char *verb, json_t *reply, const char *key, json_type type) {
	json_t *v = json_object_get(reply, key);

	if (!v || json_typeof(v) != type) {
		fprintf(stderr, "ckptctl: %s failed: invalid reply from ckptd: no '%s' %s\n", verb, key,
			type == JSON_ARRAY ? "array" : type == JSON_OBJECT ? "object" : "value");
		return NULL;
	}
	return v;
}

/* The exit status for what an output_*() call returned. */
int render(int r) {
	if (r == -ENOMEM)
		return log_oom();
	if (r < 0) {
		fprintf(stderr, "ckptctl: failed to print the reply: %s\n", strerror(-r));
		return EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}

int render_reply(const char *verb, int r, char *error) {
	_cleanup_free_ char *e = error;

	if (r == -EBADMSG) {
		output_invalid_reply(verb, e ?: strerror(-r));
		return EXIT_FAILURE;
	}
	return render(r);
}

int call_member(const char *verb, const char *method, json_t *parameters, bool more, const char *key, json_type type,
                json_t **ret_reply, json_t **ret_member) {
	_cleanup_json_ json_t *reply = NULL;
	int r;

	r = call(verb, method, parameters, more, &reply);
	if (r != EXIT_SUCCESS)
		return r;
	*ret_member = reply_get(verb, reply, key, type);
	if (!*ret_member)
		return EXIT_FAILURE;
	*ret_reply = TAKE_PTR(reply);
	return EXIT_SUCCESS;
}
