/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Fuzzes the Varlink codec: the input goes into a receive buffer in chunks (the first byte picks
 * the chunk size, to exercise partial messages), every complete message is parsed as a call and
 * as a reply, and what parses is formatted again and must parse back to the same thing. */

#include <stdint.h>

#include "macro.h"
#include "varlink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_call(const char *msg) {
	struct varlink_call c = {}, c2 = {};
	_cleanup_free_ char *error = NULL, *out = NULL;
	const char *s, *bad;
	json_int_t u;
	size_t n;
	int b;
	int r;

	r = varlink_call_parse(msg, &c, &error);
	if (r < 0) {
		if (r != -EBADMSG || c.method || c.parameters)
			abort();
		return;
	}
	if (!c.method || !json_is_object(c.parameters) || (c.more && c.oneway))
		abort();

	/* the helpers on whatever the parameters hold */
	(void) varlink_params_unpack(c.parameters, &bad, "{s?s, s?I, s?b}", "container", &s, "id", &u, "safety", &b);

	r = varlink_call_format(c.method, c.parameters, c.more, &out, &n);
	if (r == 0) {
		if (n != strlen(out) + 1 || varlink_call_parse(out, &c2, NULL) < 0 ||
		    !streq(c.method, c2.method) || !json_equal(c.parameters, c2.parameters) || c.more != c2.more)
			abort();
	} else if (r != -EMSGSIZE) /* \u escapes can make the compact form longer */
		abort();

	varlink_call_done(&c2);
	varlink_call_done(&c);
}

static void check_reply(const char *msg) {
	struct varlink_reply rp = {}, rp2 = {};
	_cleanup_free_ char *out = NULL;
	size_t n;
	int r;

	r = varlink_reply_parse(msg, &rp);
	if (r < 0) {
		if (r != -EBADMSG || rp.parameters)
			abort();
		return;
	}
	if (!json_is_object(rp.parameters) || (rp.error && rp.continues))
		abort();

	r = rp.error ? varlink_error_format(rp.error, rp.parameters, &out, &n) :
		       varlink_reply_format(rp.parameters, rp.continues, &out, &n);
	if (r == 0) {
		if (n != strlen(out) + 1 || varlink_reply_parse(out, &rp2) < 0 || !streq_ptr(rp.error, rp2.error) ||
		    !json_equal(rp.parameters, rp2.parameters) || rp.continues != rp2.continues)
			abort();
	} else if (r != -EMSGSIZE)
		abort();

	varlink_reply_done(&rp2);
	varlink_reply_done(&rp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	struct varlink_buffer b = {};
	size_t chunk;

	if (size == 0)
		return 0;
	chunk = data[0] == 0 ? size : data[0];
	data++;
	size--;

	for (size_t i = 0; i < size; i += chunk) {
		size_t n = size - i < chunk ? size - i : chunk;
		char *m;
		int r;

		if (varlink_buffer_append(&b, data + i, n) < 0)
			break;
		while ((r = varlink_buffer_take_message(&b, &m)) > 0) {
			if (strlen(m) > VARLINK_MESSAGE_MAX)
				abort();
			check_call(m);
			check_reply(m);
			free(m);
		}
		if (r < 0)
			abort();
	}

	varlink_buffer_done(&b);
	return 0;
}
