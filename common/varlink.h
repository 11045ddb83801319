/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Varlink wire format: each message is one JSON object terminated by a NUL byte.
 * Calls:   {"method": "io.ckptd.Manager.List", "parameters": {...}, "more": true, "oneway": false}
 * Replies: {"parameters": {...}, "continues": true}   or   {"error": "iface.Name", "parameters": {...}}
 * Pure code: framing and validation over buffers, no sockets except the small blocking client
 * helpers at the end (used by ckptctl and tests). */

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define VARLINK_MESSAGE_MAX (64U * 1024U)        /* larger calls are refused */
#define VARLINK_REPLY_MAX (64U * 1024U * 1024U)   /* replies (a long pair list) may be larger */
#define VARLINK_INTERFACE "io.ckptd.Manager"

#define VARLINK_ERROR_INVALID_PARAMETER "org.varlink.service.InvalidParameter"
#define VARLINK_ERROR_METHOD_NOT_FOUND "org.varlink.service.MethodNotFound"
#define VARLINK_ERROR_INTERFACE_NOT_FOUND "org.varlink.service.InterfaceNotFound"
#define VARLINK_ERROR_METHOD_NOT_IMPLEMENTED "org.varlink.service.MethodNotImplemented"
#define VARLINK_ERROR_EXPECTED_MORE "org.varlink.service.ExpectedMore"

/* Receive buffer: feed bytes, take complete messages out. */
struct varlink_buffer {
	char *data;
	size_t size;
	size_t allocated;
	size_t max; /* largest message accepted; 0 = VARLINK_MESSAGE_MAX */
};

void varlink_buffer_done(struct varlink_buffer *b);
/* Appends bytes; -EMSGSIZE if the pending (not yet NUL-terminated) message would exceed
 * VARLINK_MESSAGE_MAX, -ENOMEM. */
int varlink_buffer_append(struct varlink_buffer *b, const void *p, size_t n);
/* Takes the first complete message out of the buffer: 1 and *ret_msg (caller frees) if one
 * was complete, 0 if none yet. */
int varlink_buffer_take_message(struct varlink_buffer *b, char **ret_msg);

struct varlink_call {
	char *method;       /* full name, e.g. "io.ckptd.Manager.List" */
	json_t *parameters; /* always an object (empty if absent) */
	bool more;
	bool oneway;
};

void varlink_call_done(struct varlink_call *c);
/* Parses and validates one call message. Errors: -EBADMSG (not JSON / not an object /
 * "method" missing or not a string / "parameters" not an object / "more","oneway" not bool /
 * unknown top-level keys). On error *ret_error (if non-NULL) gets a short text. */
int varlink_call_parse(const char *msg, struct varlink_call *ret, char **ret_error);

/* Serialise (NUL terminator included in *ret_size). Steal nothing: the caller keeps its refs.
 * -EINVAL for a malformed method/error name or non-object parameters, -EMSGSIZE if the result
 * exceeds VARLINK_MESSAGE_MAX (calls) or VARLINK_REPLY_MAX (replies, errors). */
int varlink_call_format(const char *method, json_t *parameters, bool more, char **ret, size_t *ret_size);
int varlink_reply_format(json_t *parameters, bool continues, char **ret, size_t *ret_size);
int varlink_error_format(const char *error, json_t *parameters, char **ret, size_t *ret_size);

struct varlink_reply {
	char *error;        /* NULL on success */
	json_t *parameters; /* always an object */
	bool continues;
};
void varlink_reply_done(struct varlink_reply *r);
int varlink_reply_parse(const char *msg, struct varlink_reply *ret);

/* A method's parameters, unpacked by jansson: json_unpack_ex() with JSON_STRICT and FORMAT, an
 * object of keys with s (const char *), I (json_int_t), b (int) or o (json_t *, an array: borrowed) values, a key written "s?"
 * being optional ("{s:s, s:I, s?b}", "container", &name, "id", &id, "force", &force). A null
 * value counts as absent; destinations of absent keys are left untouched; strings point into
 * params. -EINVAL when the parameters do not fit, *ret_bad naming the offending one (the first
 * unknown key in message order, else the first missing or mistyped parameter of the format; the
 * string lives as long as params or is static); -ENOMEM. */
int varlink_params_unpack(json_t *params, const char **ret_bad, const char *format, ...);
int varlink_params_vunpack(json_t *params, const char **ret_bad, const char *format, va_list ap);

/* Blocking client side (ckptctl, tests). */
int varlink_connect(const char *path, int *ret_fd);
int varlink_send(int fd, const char *method, json_t *parameters, bool more);
/* The same, passing pass_fd along with the call (SCM_RIGHTS, with its first byte): the daemon's
 * Export writes into it, Import reads from it. */
int varlink_send_with_fd(int fd, const char *method, json_t *parameters, bool more, int pass_fd);
/* Reads one reply (waits). -ECONNRESET if the daemon closed the connection. */
int varlink_recv(int fd, struct varlink_buffer *buf, struct varlink_reply *ret);
