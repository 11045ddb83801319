/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Varlink wire format over jansson: framing (NUL-terminated JSON objects), strict validation of
 * calls and replies, serialisation, and method parameters unpacked by jansson (json_unpack_ex() with
 * JSON_STRICT) with the offending parameter named (varlink-client.c: a small blocking client).
 *
 * Parsing is strict on purpose: duplicate keys are refused (JSON_REJECT_DUPLICATES; two
 * parsers could otherwise read different values from one message), as are unknown top-level
 * keys, wrong types, malformed method and error names, and "more" together with "oneway".
 * jansson also refuses "\u0000" in strings, so every string is a C string, and limits nesting
 * depth. */

#include "varlink.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

#define VARLINK_NAME_MAX 255

/* jansson ≥ 2.14 has json_auto_t; spelled out to match the rest of the code. */
#define _cleanup_json_ _cleanup_(json_decrefp)

void varlink_buffer_done(struct varlink_buffer *b) {
	if (!b)
		return;

	free(b->data);
	*b = (struct varlink_buffer) {};
}

/* Length of the message at the end of the buffer that has no NUL yet. */
static size_t buffer_pending(const struct varlink_buffer *b) {
	const char *nul;

	if (b->size == 0)
		return 0;

	nul = memrchr(b->data, 0, b->size);
	return nul ? b->size - (size_t) (nul - b->data) - 1 : b->size;
}

int varlink_buffer_append(struct varlink_buffer *b, const void *p, size_t n) {
	const char *in = p;
	size_t pending, need;

	if (n == 0)
		return 0;

	/* Every message the new bytes extend or contain must fit; checked before anything is
	 * copied, so the buffer is unchanged on error. */
	size_t max = b->max > 0 ? b->max : VARLINK_MESSAGE_MAX;
	pending = buffer_pending(b);
	for (size_t i = 0; i < n;) {
		const char *nul = memchr(in + i, 0, n - i);
		size_t chunk = nul ? (size_t) (nul - (in + i)) : n - i;

		if (chunk > max - pending)
			return -EMSGSIZE;
		if (!nul)
			break;
		pending = 0;
		i += chunk + 1;
	}

	if (n > SIZE_MAX - b->size)
		return -ENOMEM;
	need = b->size + n;
	if (need > b->allocated) {
		size_t a = b->allocated > SIZE_MAX / 2 ? need : b->allocated * 2;
		char *d;

		if (a < need)
			a = need;
		if (a < 4096)
			a = 4096;
		d = realloc(b->data, a);
		if (!d)
			return -ENOMEM;
		b->data = d;
		b->allocated = a;
	}

	memcpy(b->data + b->size, in, n);
	b->size = need;
	return 0;
}

int varlink_buffer_take_message(struct varlink_buffer *b, char **ret_msg) {
	const char *nul;
	size_t len;
	char *m;

	if (b->size == 0)
		return 0;

	nul = memchr(b->data, 0, b->size);
	if (!nul)
		return 0;

	len = (size_t) (nul - b->data);
	m = malloc(len + 1);
	if (!m)
		return -ENOMEM;
	memcpy(m, b->data, len + 1);

	memmove(b->data, b->data + len + 1, b->size - len - 1);
	b->size -= len + 1;

	*ret_msg = m;
	return 1;
}

/* Varlink names. Interface: reverse-domain, "[A-Za-z]([-]*[A-Za-z0-9])*(\.[A-Za-z0-9]([-]*[A-Za-z0-9])*)+";
 * member (method or error): "[A-Z][A-Za-z0-9]*". A qualified name is "interface.Member". */
static bool ascii_isalnum(char c) {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool interface_name_is_valid(const char *s, size_t n) {
	size_t segments = 0;

	if (n == 0 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return false;

	for (size_t i = 0; i < n;) {
		/* one segment: alphanumerics with inner dashes */
		if (!ascii_isalnum(s[i]))
			return false;
		while (i < n && (ascii_isalnum(s[i]) || s[i] == '-'))
			i++;
		if (s[i - 1] == '-')
			return false;
		segments++;
		if (i < n) {
			if (s[i] != '.' || i + 1 == n)
				return false;
			i++;
		}
	}

	return segments >= 2;
}

static bool qualified_name_is_valid(const char *s) {
	const char *dot;
	size_t n;

	if (!s)
		return false;
	n = strlen(s);
	if (n == 0 || n > VARLINK_NAME_MAX)
		return false;

	dot = strrchr(s, '.');
	if (!dot || !(dot[1] >= 'A' && dot[1] <= 'Z'))
		return false;
	for (const char *c = dot + 1; *c; c++)
		if (!ascii_isalnum(*c))
			return false;

	return interface_name_is_valid(s, (size_t) (dot - s));
}

_printf_(2, 3) static int parse_fail(char **ret_error, const char *fmt, ...) {
	va_list ap;

	if (ret_error) {
		char *m;

		va_start(ap, fmt);
		if (vasprintf(&m, fmt, ap) < 0)
			m = NULL;
		va_end(ap);
		*ret_error = m;
	}

	return -EBADMSG;
}

static json_t *message_load(const char *msg, char **ret_error) {
	json_error_t e;
	json_t *j;

	j = json_loads(msg, JSON_REJECT_DUPLICATES, &e);
	if (!j) {
		parse_fail(ret_error, "invalid JSON: %s (line %d, column %d)", e.text, e.line, e.column);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		parse_fail(ret_error, "message is not a JSON object");
		return NULL;
	}

	return j;
}

void varlink_call_done(struct varlink_call *c) {
	if (!c)
		return;

	free(c->method);
	json_decref(c->parameters);
	*c = (struct varlink_call) {};
}

int varlink_call_parse(const char *msg, struct varlink_call *ret, char **ret_error) {
	_cleanup_json_ json_t *j = NULL;
	json_t *method = NULL, *parameters = NULL, *v;
	bool more = false, oneway = false;
	const char *key;
	char *m;

	if (!msg)
		return -EINVAL;

	j = message_load(msg, ret_error);
	if (!j)
		return -EBADMSG;

	json_object_foreach(j, key, v) {
		if (streq(key, "method")) {
			if (!json_is_string(v))
				return parse_fail(ret_error, "\"method\" is not a string");
			method = v;
		} else if (streq(key, "parameters")) {
			if (!json_is_object(v))
				return parse_fail(ret_error, "\"parameters\" is not an object");
			parameters = v;
		} else if (streq(key, "more")) {
			if (!json_is_boolean(v))
				return parse_fail(ret_error, "\"more\" is not a boolean");
			more = json_is_true(v);
		} else if (streq(key, "oneway")) {
			if (!json_is_boolean(v))
				return parse_fail(ret_error, "\"oneway\" is not a boolean");
			oneway = json_is_true(v);
		} else
			return parse_fail(ret_error, "unknown key \"%.64s\"", key);
	}

	if (!method)
		return parse_fail(ret_error, "\"method\" is missing");
	if (!qualified_name_is_valid(json_string_value(method)))
		return parse_fail(ret_error, "invalid method name \"%.*s\"", VARLINK_NAME_MAX,
				  json_string_value(method));
	if (more && oneway)
		return parse_fail(ret_error, "\"more\" and \"oneway\" exclude each other");

	m = strdup(json_string_value(method));
	if (!m)
		return -ENOMEM;
	parameters = parameters ? json_incref(parameters) : json_object();
	if (!parameters) {
		free(m);
		return -ENOMEM;
	}

	*ret = (struct varlink_call) {
		.method = m,
		.parameters = parameters,
		.more = more,
		.oneway = oneway,
	};
	return 0;
}

void varlink_reply_done(struct varlink_reply *r) {
	if (!r)
		return;

	free(r->error);
	json_decref(r->parameters);
	*r = (struct varlink_reply) {};
}

int varlink_reply_parse(const char *msg, struct varlink_reply *ret) {
	_cleanup_json_ json_t *j = NULL;
	json_t *error = NULL, *parameters = NULL, *v;
	bool continues = false;
	const char *key;
	char *e = NULL;

	if (!msg)
		return -EINVAL;

	j = message_load(msg, NULL);
	if (!j)
		return -EBADMSG;

	json_object_foreach(j, key, v) {
		if (streq(key, "error")) {
			if (!json_is_string(v))
				return -EBADMSG;
			error = v;
		} else if (streq(key, "parameters")) {
			if (!json_is_object(v))
				return -EBADMSG;
			parameters = v;
		} else if (streq(key, "continues")) {
			if (!json_is_boolean(v))
				return -EBADMSG;
			continues = json_is_true(v);
		} else
			return -EBADMSG;
	}

	if (error) {
		if (!qualified_name_is_valid(json_string_value(error)))
			return -EBADMSG;
		if (continues) /* an error ends the call */
			return -EBADMSG;
		e = strdup(json_string_value(error));
		if (!e)
			return -ENOMEM;
	}
	parameters = parameters ? json_incref(parameters) : json_object();
	if (!parameters) {
		free(e);
		return -ENOMEM;
	}

	*ret = (struct varlink_reply) {
		.error = e,
		.parameters = parameters,
		.continues = continues,
	};
	return 0;
}

/* Serialises one message: compact JSON, NUL included in *ret_size. -EMSGSIZE if the peer would
 * refuse it as too large. */
static int message_dump(json_t *j, size_t max, char **ret, size_t *ret_size) {
	char *s;
	size_t n;

	s = json_dumps(j, JSON_COMPACT);
	if (!s)
		return -ENOMEM;

	n = strlen(s);
	if (n > max) {
		free(s);
		return -EMSGSIZE;
	}

	*ret = s;
	*ret_size = n + 1;
	return 0;
}

/* Adds "parameters" (an empty object if NULL); the caller keeps its reference. */
static int message_set_parameters(json_t *j, json_t *parameters) {
	if (!parameters)
		return json_object_set_new(j, "parameters", json_object()) < 0 ? -ENOMEM : 0;
	if (!json_is_object(parameters))
		return -EINVAL;

	return json_object_set(j, "parameters", parameters) < 0 ? -ENOMEM : 0;
}

int varlink_call_format(const char *method, json_t *parameters, bool more, char **ret, size_t *ret_size) {
	_cleanup_json_ json_t *j = NULL;
	int r;

	if (!qualified_name_is_valid(method))
		return -EINVAL;

	j = json_object();
	if (!j)
		return -ENOMEM;
	if (json_object_set_new(j, "method", json_string(method)) < 0)
		return -ENOMEM;
	r = message_set_parameters(j, parameters);
	if (r < 0)
		return r;
	if (more && json_object_set_new(j, "more", json_true()) < 0)
		return -ENOMEM;

	return message_dump(j, VARLINK_MESSAGE_MAX, ret, ret_size);
}

int varlink_reply_format(json_t *parameters, bool continues, char **ret, size_t *ret_size) {
	_cleanup_json_ json_t *j = NULL;
	int r;

	j = json_object();
	if (!j)
		return -ENOMEM;
	r = message_set_parameters(j, parameters);
	if (r < 0)
		return r;
	if (continues && json_object_set_new(j, "continues", json_true()) < 0)
		return -ENOMEM;

	return message_dump(j, VARLINK_REPLY_MAX, ret, ret_size);
}

int varlink_error_format(const char *error, json_t *parameters, char **ret, size_t *ret_size) {
	_cleanup_json_ json_t *j = NULL;
	int r;

	if (!qualified_name_is_valid(error))
		return -EINVAL;

	j = json_object();
	if (!j)
		return -ENOMEM;
	if (json_object_set_new(j, "error", json_string(error)) < 0)
		return -ENOMEM;
	r = message_set_parameters(j, parameters);
	if (r < 0)
		return r;

	return message_dump(j, VARLINK_REPLY_MAX, ret, ret_size);
}

/* One parameter of a method's unpack format: its key, its value's format character, and
 * whether the key may be missing ("s?"). */
struct param_spec {
	const char *key;
	char type;
	bool optional;
};

#define PARAMS_MAX 16

/* The parameters FORMAT names, reading the keys from AP as json_unpack() will (each key is
 * followed by one destination pointer). Only what methods need: an object of keys with
 * s (string), I (integer), b (boolean) or o (json_t *, which must be an array) values. */
static int params_format_parse(const char *format, va_list ap, struct param_spec *specs, size_t *ret_n) {
	size_t n = 0;
	bool want_key = true;
	for (const char *f = format; *f; f++) {
		if (strchr("{}:, ", *f))
			continue;
		if (want_key) {
			if (*f != 's' || n >= PARAMS_MAX)
				return -EINVAL;
			specs[n] = (struct param_spec) { .key = va_arg(ap, const char *), .optional = f[1] == '?' };
			f += specs[n].optional;
		} else {
			if (!strchr("sIbo", *f))
				return -EINVAL;
			specs[n++].type = *f;
			(void) va_arg(ap, void *);
		}
		want_key = !want_key;
	}
	*ret_n = n;
	return want_key ? 0 : -EINVAL;
}

static const struct param_spec *params_find(const struct param_spec *specs, size_t n, const char *key) {
	for (size_t i = 0; i < n; i++)
		if (streq(specs[i].key, key))
			return &specs[i];
	return NULL;
}

static bool param_fits(char type, json_t *v) {
	return (type == 's' && json_is_string(v)) || (type == 'I' && json_is_integer(v)) ||
	       (type == 'b' && json_is_boolean(v)) || (type == 'o' && json_is_array(v));
}

/* What json_unpack_ex() refused, as a parameter name: the first key of params the format does not
 * know, in message order, else the first parameter of the format that is missing from present (params
 * without nulls) or has the wrong type there. */
static const char *params_offender(json_t *params, json_t *present, const struct param_spec *specs, size_t n) {
	const char *key;
	json_t *v;
	json_object_foreach(params, key, v)
		if (!params_find(specs, n, key))
			return key;
	for (size_t i = 0; i < n; i++) {
		v = json_object_get(present, specs[i].key);
		if (v ? !param_fits(specs[i].type, v) : !specs[i].optional)
			return specs[i].key;
	}
	return "parameters";
}

int varlink_params_vunpack(json_t *params, const char **ret_bad, const char *format, va_list ap) {
	struct param_spec specs[PARAMS_MAX];
	size_t n;
	va_list aq;
	va_copy(aq, ap);
	int r = params_format_parse(format, aq, specs, &n);
	va_end(aq);
	if (r < 0)
		return r;
	if (params && !json_is_object(params)) {
		*ret_bad = "parameters";
		return -EINVAL;
	}
	/* null is the Varlink spelling of an absent value: a known key that holds it is left out */
	_cleanup_json_ json_t *present = json_object();
	if (!present)
		return -ENOMEM;
	const char *key;
	json_t *v;
	json_object_foreach(params, key, v)
		if (!(json_is_null(v) && params_find(specs, n, key)) && json_object_set(present, key, v) < 0)
			return -ENOMEM;
	json_error_t error;
	/* jansson's o takes any value: ours must be an array */
	for (size_t i = 0; i < n; i++)
		if (specs[i].type == 'o' && (v = json_object_get(present, specs[i].key)) && !json_is_array(v)) {
			*ret_bad = specs[i].key;
			return -EINVAL;
		}
	if (json_vunpack_ex(present, &error, JSON_STRICT, format, ap) < 0) {
		*ret_bad = params_offender(params, present, specs, n);
		return -EINVAL;
	}
	return 0;
}

int varlink_params_unpack(json_t *params, const char **ret_bad, const char *format, ...) {
	va_list ap;
	va_start(ap, format);
	int r = varlink_params_vunpack(params, ret_bad, format, ap);
	va_end(ap);
	return r;
}
