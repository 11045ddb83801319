/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Varlink codec: framing, validation of calls and replies (every rule), serialisation round
 * trips, parameter helpers, and the blocking client over socketpairs and a UNIX socket in a
 * temporary directory. */

#include <fcntl.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "macro.h"
#include "test-util.h"
#include "varlink.h"

#define _cleanup_json_ _cleanup_(json_decrefp)

/* Expects varlink_call_parse() to refuse msg with -EBADMSG and an error text. */
#define ASSERT_CALL_BAD(msg)                                                             \
	do {                                                                             \
		struct varlink_call _c = { .more = true };                               \
		_cleanup_free_ char *_e = NULL;                                          \
		ASSERT_ERROR(varlink_call_parse(msg, &_c, &_e), EBADMSG);                \
		ASSERT_NOT_NULL(_e);                                                     \
		ASSERT_NULL(_c.method); /* untouched */                                  \
		ASSERT_TRUE(_c.more);                                                    \
		ASSERT_ERROR(varlink_call_parse(msg, &_c, NULL), EBADMSG);               \
	} while (0)

#define ASSERT_REPLY_BAD(msg)                                                            \
	do {                                                                             \
		struct varlink_reply _r = { .continues = true };                         \
		ASSERT_ERROR(varlink_reply_parse(msg, &_r), EBADMSG);                    \
		ASSERT_NULL(_r.parameters);                                              \
	} while (0)

TEST(buffer_partial) {
	static const char msg[] = "{\"method\":\"io.ckptd.Manager.List\"}";
	struct varlink_buffer b = {};
	char *m = NULL;

	ASSERT_EQ(varlink_buffer_take_message(&b, &m), 0);
	for (size_t i = 0; i < sizeof(msg) - 1; i++) {
		ASSERT_OK(varlink_buffer_append(&b, msg + i, 1));
		ASSERT_EQ(varlink_buffer_take_message(&b, &m), 0);
		ASSERT_NULL(m);
	}
	ASSERT_OK(varlink_buffer_append(&b, "", 1));
	ASSERT_EQ(varlink_buffer_take_message(&b, &m), 1);
	ASSERT_STREQ(m, msg);
	free(m);
	ASSERT_EQ(b.size, 0);
	ASSERT_EQ(varlink_buffer_take_message(&b, &m), 0);
	ASSERT_OK(varlink_buffer_append(&b, NULL, 0));
	varlink_buffer_done(&b);
	ASSERT_NULL(b.data);
	varlink_buffer_done(&b); /* twice is fine */
}

TEST(buffer_several_messages) {
	static const char data[] = "{\"a\":1}\0{\"b\":2}\0\0{\"c\":";
	struct varlink_buffer b = {};
	char *m;

	ASSERT_OK(varlink_buffer_append(&b, data, sizeof(data) - 1));
	ASSERT_EQ(varlink_buffer_take_message(&b, &m), 1);
	ASSERT_STREQ(m, "{\"a\":1}");
	free(m);
	ASSERT_EQ(varlink_buffer_take_message(&b, &m), 1);
	ASSERT_STREQ(m, "{\"b\":2}");
	free(m);
	ASSERT_EQ(varlink_buffer_take_message(&b, &m), 1); /* an empty message */
	ASSERT_STREQ(m, "");
	free(m);
	m = NULL;
	ASSERT_EQ(varlink_buffer_take_message(&b, &m), 0);
	ASSERT_NULL(m);
	ASSERT_OK(varlink_buffer_append(&b, "3}", 3));
	ASSERT_EQ(varlink_buffer_take_message(&b, &m), 1);
	ASSERT_STREQ(m, "{\"c\":3}");
	free(m);
	varlink_buffer_done(&b);
}

TEST(buffer_oversize) {
	_cleanup_free_ char *big = malloc(VARLINK_MESSAGE_MAX + 2);
	struct varlink_buffer b = {};
	char *m;

	ASSERT_NOT_NULL(big);
	memset(big, ' ', VARLINK_MESSAGE_MAX + 2);

	/* exactly VARLINK_MESSAGE_MAX bytes before the NUL: accepted */
	ASSERT_OK(varlink_buffer_append(&b, big, VARLINK_MESSAGE_MAX));
	ASSERT_ERROR(varlink_buffer_append(&b, " ", 1), EMSGSIZE);
	ASSERT_EQ(b.size, VARLINK_MESSAGE_MAX); /* unchanged */
	ASSERT_OK(varlink_buffer_append(&b, "", 1));
	ASSERT_EQ(varlink_buffer_take_message(&b, &m), 1);
	ASSERT_EQ(strlen(m), VARLINK_MESSAGE_MAX);
	free(m);

	/* one more byte: refused, in one piece or in two */
	ASSERT_ERROR(varlink_buffer_append(&b, big, VARLINK_MESSAGE_MAX + 1), EMSGSIZE);
	ASSERT_EQ(b.size, 0);
	ASSERT_OK(varlink_buffer_append(&b, big, VARLINK_MESSAGE_MAX / 2));
	ASSERT_ERROR(varlink_buffer_append(&b, big, VARLINK_MESSAGE_MAX / 2 + 1), EMSGSIZE);
	ASSERT_EQ(b.size, VARLINK_MESSAGE_MAX / 2);
	varlink_buffer_done(&b);

	/* a complete but too large message inside one chunk is refused as well */
	big[VARLINK_MESSAGE_MAX + 1] = '\0';
	ASSERT_ERROR(varlink_buffer_append(&b, big, VARLINK_MESSAGE_MAX + 2), EMSGSIZE);
	ASSERT_EQ(b.size, 0);

	/* after a NUL the count starts again */
	big[VARLINK_MESSAGE_MAX] = '\0';
	ASSERT_OK(varlink_buffer_append(&b, big, VARLINK_MESSAGE_MAX + 1));
	ASSERT_OK(varlink_buffer_append(&b, big, VARLINK_MESSAGE_MAX));
	ASSERT_ERROR(varlink_buffer_append(&b, "x", 1), EMSGSIZE);
	ASSERT_EQ(b.size, 2 * VARLINK_MESSAGE_MAX + 1);
	varlink_buffer_done(&b);

	/* a limit of the caller's choosing: larger ... */
	b.max = VARLINK_MESSAGE_MAX + 1;
	ASSERT_OK(varlink_buffer_append(&b, big, VARLINK_MESSAGE_MAX));
	ASSERT_OK(varlink_buffer_append(&b, " ", 1));
	ASSERT_ERROR(varlink_buffer_append(&b, " ", 1), EMSGSIZE);
	varlink_buffer_done(&b);
	/* ... or smaller */
	b.max = 3;
	ASSERT_OK(varlink_buffer_append(&b, "{}\0{} ", 6));
	ASSERT_ERROR(varlink_buffer_append(&b, " ", 1), EMSGSIZE);
	ASSERT_EQ(b.size, 6);
	varlink_buffer_done(&b);
}

TEST(buffer_embedded_garbage) {
	static const char data[] =
		"{\"method\":\"io.ckptd.Manager.List\"}\0"
		"\x01garbage\xff\0"
		"{\"method\":\"io.ckptd.Manager.Status\"}\0";
	struct varlink_buffer b = {};
	struct varlink_call c = {};
	char *m;

	ASSERT_OK(varlink_buffer_append(&b, data, sizeof(data) - 1));

	ASSERT_EQ(varlink_buffer_take_message(&b, &m), 1);
	ASSERT_OK(varlink_call_parse(m, &c, NULL));
	ASSERT_STREQ(c.method, "io.ckptd.Manager.List");
	varlink_call_done(&c);
	free(m);

	ASSERT_EQ(varlink_buffer_take_message(&b, &m), 1);
	ASSERT_ERROR(varlink_call_parse(m, &c, NULL), EBADMSG);
	free(m);

	ASSERT_EQ(varlink_buffer_take_message(&b, &m), 1);
	ASSERT_OK(varlink_call_parse(m, &c, NULL));
	ASSERT_STREQ(c.method, "io.ckptd.Manager.Status");
	varlink_call_done(&c);
	free(m);

	ASSERT_EQ(varlink_buffer_take_message(&b, &m), 0);
	varlink_buffer_done(&b);
}

TEST(call_parse_good) {
	struct varlink_call c = {};
	_cleanup_free_ char *e = NULL;

	ASSERT_OK(varlink_call_parse("{\"method\":\"io.ckptd.Manager.List\"}", &c, &e));
	ASSERT_NULL(e);
	ASSERT_STREQ(c.method, "io.ckptd.Manager.List");
	ASSERT_TRUE(json_is_object(c.parameters));
	ASSERT_EQ(json_object_size(c.parameters), 0);
	ASSERT_FALSE(c.more);
	ASSERT_FALSE(c.oneway);
	varlink_call_done(&c);
	ASSERT_NULL(c.method);
	ASSERT_NULL(c.parameters);

	ASSERT_OK(varlink_call_parse(" {\"parameters\": {\"container\": \"web\", \"id\": 7},\n"
				     "  \"more\": true, \"oneway\": false,"
				     "  \"method\": \"io.ckptd.Manager.FreezeAndDump\"} ",
				     &c, NULL));
	ASSERT_STREQ(c.method, "io.ckptd.Manager.FreezeAndDump");
	ASSERT_STREQ(json_string_value(json_object_get(c.parameters, "container")), "web");
	ASSERT_EQ(json_integer_value(json_object_get(c.parameters, "id")), 7);
	ASSERT_TRUE(c.more);
	ASSERT_FALSE(c.oneway);
	varlink_call_done(&c);

	ASSERT_OK(varlink_call_parse("{\"method\":\"org.varlink.service.GetInfo\",\"oneway\":true}", &c, NULL));
	ASSERT_TRUE(c.oneway);
	ASSERT_FALSE(c.more);
	varlink_call_done(&c);

	ASSERT_OK(varlink_call_parse("{\"method\":\"a.b-c.D9\"}", &c, NULL));
	varlink_call_done(&c);
}

TEST(call_parse_bad) {
	/* not JSON, not an object */
	ASSERT_CALL_BAD("");
	ASSERT_CALL_BAD("{");
	ASSERT_CALL_BAD("garbage");
	ASSERT_CALL_BAD("[]");
	ASSERT_CALL_BAD("[{\"method\":\"io.ckptd.Manager.List\"}]");
	ASSERT_CALL_BAD("\"io.ckptd.Manager.List\"");
	ASSERT_CALL_BAD("1");
	ASSERT_CALL_BAD("null");
	ASSERT_CALL_BAD("{\"method\":\"io.ckptd.Manager.List\"} {}");
	ASSERT_CALL_BAD("{\"method\":\"io.ckptd.Manager.List\"} x");
	ASSERT_CALL_BAD("{\"method\":\"io.ckptd.Manager.List\",}");
	ASSERT_CALL_BAD("{'method':'io.ckptd.Manager.List'}");
	ASSERT_CALL_BAD("{\"method\":\"io.ckptd.Manager.\xff\"}"); /* not UTF-8 */
	ASSERT_CALL_BAD("{\"method\":\"io.ckptd.Manager.List\",\"parameters\":{\"a\":\"\\u0000\"}}");
	/* method */
	ASSERT_CALL_BAD("{}");
	ASSERT_CALL_BAD("{\"parameters\":{}}");
	ASSERT_CALL_BAD("{\"method\":1}");
	ASSERT_CALL_BAD("{\"method\":null}");
	ASSERT_CALL_BAD("{\"method\":[\"io.ckptd.Manager.List\"]}");
	ASSERT_CALL_BAD("{\"method\":\"\"}");
	ASSERT_CALL_BAD("{\"method\":\"List\"}");
	ASSERT_CALL_BAD("{\"method\":\"io.List\"}"); /* the interface needs two components */
	ASSERT_CALL_BAD("{\"method\":\"io.ckptd.Manager.list\"}");
	ASSERT_CALL_BAD("{\"method\":\"io.ckptd.Manager.\"}");
	ASSERT_CALL_BAD("{\"method\":\".io.ckptd.Manager.List\"}");
	ASSERT_CALL_BAD("{\"method\":\"io..ckptd.Manager.List\"}");
	ASSERT_CALL_BAD("{\"method\":\"io.ckptd-.Manager.List\"}");
	ASSERT_CALL_BAD("{\"method\":\"io.-ckptd.Manager.List\"}");
	ASSERT_CALL_BAD("{\"method\":\"1o.ckptd.Manager.List\"}");
	ASSERT_CALL_BAD("{\"method\":\"io.ckptd.Manager.Li_st\"}");
	ASSERT_CALL_BAD("{\"method\":\"io.ckptd.Manager.List \"}");
	/* parameters */
	ASSERT_CALL_BAD("{\"method\":\"io.ckptd.Manager.List\",\"parameters\":[]}");
	ASSERT_CALL_BAD("{\"method\":\"io.ckptd.Manager.List\",\"parameters\":null}");
	ASSERT_CALL_BAD("{\"method\":\"io.ckptd.Manager.List\",\"parameters\":\"x\"}");
	/* more, oneway */
	ASSERT_CALL_BAD("{\"method\":\"io.ckptd.Manager.List\",\"more\":\"true\"}");
	ASSERT_CALL_BAD("{\"method\":\"io.ckptd.Manager.List\",\"more\":1}");
	ASSERT_CALL_BAD("{\"method\":\"io.ckptd.Manager.List\",\"more\":null}");
	ASSERT_CALL_BAD("{\"method\":\"io.ckptd.Manager.List\",\"oneway\":0}");
	ASSERT_CALL_BAD("{\"method\":\"io.ckptd.Manager.List\",\"more\":true,\"oneway\":true}");
	/* unknown and duplicate keys */
	ASSERT_CALL_BAD("{\"method\":\"io.ckptd.Manager.List\",\"upgrade\":false}");
	ASSERT_CALL_BAD("{\"method\":\"io.ckptd.Manager.List\",\"Method\":\"x\"}");
	ASSERT_CALL_BAD("{\"method\":\"io.ckptd.Manager.List\",\"method\":\"io.ckptd.Manager.Delete\"}");
	ASSERT_CALL_BAD("{\"method\":\"io.ckptd.Manager.List\",\"parameters\":{\"a\":1,\"a\":2}}");
}

TEST(call_parse_error_text) {
	struct varlink_call c = {};
	_cleanup_free_ char *e1 = NULL, *e2 = NULL, *e3 = NULL;

	ASSERT_ERROR(varlink_call_parse("{\"method\":\"io.ckptd.Manager.List\",\"bogus\":1}", &c, &e1), EBADMSG);
	ASSERT_STREQ(e1, "unknown key \"bogus\"");
	ASSERT_ERROR(varlink_call_parse("{\"method\":\"io.ckptd.Manager.List\",\"more\":1}", &c, &e2), EBADMSG);
	ASSERT_STREQ(e2, "\"more\" is not a boolean");
	ASSERT_ERROR(varlink_call_parse("{\"parameters\":{}}", &c, &e3), EBADMSG);
	ASSERT_STREQ(e3, "\"method\" is missing");
	ASSERT_ERROR(varlink_call_parse(NULL, &c, NULL), EINVAL);
}

TEST(reply_parse) {
	struct varlink_reply r = {};

	ASSERT_OK(varlink_reply_parse("{}", &r));
	ASSERT_NULL(r.error);
	ASSERT_TRUE(json_is_object(r.parameters));
	ASSERT_FALSE(r.continues);
	varlink_reply_done(&r);

	ASSERT_OK(varlink_reply_parse("{\"parameters\":{\"phase\":\"freeze\"},\"continues\":true}", &r));
	ASSERT_NULL(r.error);
	ASSERT_STREQ(json_string_value(json_object_get(r.parameters, "phase")), "freeze");
	ASSERT_TRUE(r.continues);
	varlink_reply_done(&r);

	ASSERT_OK(varlink_reply_parse("{\"error\":\"org.varlink.service.InvalidParameter\","
				      "\"parameters\":{\"parameter\":\"id\"},\"continues\":false}", &r));
	ASSERT_STREQ(r.error, VARLINK_ERROR_INVALID_PARAMETER);
	ASSERT_STREQ(json_string_value(json_object_get(r.parameters, "parameter")), "id");
	varlink_reply_done(&r);
	ASSERT_NULL(r.error);

	ASSERT_REPLY_BAD("");
	ASSERT_REPLY_BAD("[]");
	ASSERT_REPLY_BAD("{} x");
	ASSERT_REPLY_BAD("{\"parameters\":[]}");
	ASSERT_REPLY_BAD("{\"parameters\":null}");
	ASSERT_REPLY_BAD("{\"continues\":\"yes\"}");
	ASSERT_REPLY_BAD("{\"error\":1}");
	ASSERT_REPLY_BAD("{\"error\":\"NotQualified\"}");
	ASSERT_REPLY_BAD("{\"error\":\"io.ckptd.Manager.NoSuchPair\",\"continues\":true}");
	ASSERT_REPLY_BAD("{\"method\":\"io.ckptd.Manager.List\"}");
	ASSERT_REPLY_BAD("{\"continues\":true,\"continues\":false}");
	ASSERT_ERROR(varlink_reply_parse(NULL, &r), EINVAL);
}

TEST(format_exact) {
	_cleanup_json_ json_t *p = json_pack("{s:s}", "container", "web");
	_cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL, *e = NULL;
	size_t n;

	ASSERT_NOT_NULL(p);
	ASSERT_OK(varlink_call_format("io.ckptd.Manager.List", p, true, &a, &n));
	ASSERT_STREQ(a, "{\"method\":\"io.ckptd.Manager.List\",\"parameters\":{\"container\":\"web\"},\"more\":true}");
	ASSERT_EQ(n, strlen(a) + 1);
	ASSERT_EQ(p->refcount, 1); /* the caller keeps its reference, nothing else holds one */

	ASSERT_OK(varlink_call_format("io.ckptd.Manager.Status", NULL, false, &b, &n));
	ASSERT_STREQ(b, "{\"method\":\"io.ckptd.Manager.Status\",\"parameters\":{}}");

	ASSERT_OK(varlink_reply_format(p, true, &c, &n));
	ASSERT_STREQ(c, "{\"parameters\":{\"container\":\"web\"},\"continues\":true}");
	ASSERT_OK(varlink_reply_format(NULL, false, &d, &n));
	ASSERT_STREQ(d, "{\"parameters\":{}}");

	ASSERT_OK(varlink_error_format(VARLINK_ERROR_METHOD_NOT_FOUND, p, &e, &n));
	ASSERT_STREQ(e, "{\"error\":\"org.varlink.service.MethodNotFound\",\"parameters\":{\"container\":\"web\"}}");
	ASSERT_EQ(n, strlen(e) + 1);
	ASSERT_EQ(p->refcount, 1);
}

TEST(format_bad) {
	_cleanup_json_ json_t *arr = json_array(), *big = NULL;
	_cleanup_free_ char *s = NULL, *huge = malloc(VARLINK_MESSAGE_MAX + 1);
	size_t n = 4242;

	ASSERT_NOT_NULL(huge);
	ASSERT_ERROR(varlink_call_format("List", NULL, false, &s, &n), EINVAL);
	ASSERT_ERROR(varlink_call_format(NULL, NULL, false, &s, &n), EINVAL);
	ASSERT_ERROR(varlink_call_format("io.ckptd.Manager.List", arr, false, &s, &n), EINVAL);
	ASSERT_ERROR(varlink_reply_format(arr, false, &s, &n), EINVAL);
	ASSERT_ERROR(varlink_error_format("bad", NULL, &s, &n), EINVAL);
	ASSERT_ERROR(varlink_error_format(NULL, NULL, &s, &n), EINVAL);
	ASSERT_ERROR(varlink_error_format(VARLINK_ERROR_EXPECTED_MORE, arr, &s, &n), EINVAL);

	/* calls are limited to VARLINK_MESSAGE_MAX, replies to VARLINK_REPLY_MAX */
	memset(huge, 'x', VARLINK_MESSAGE_MAX);
	huge[VARLINK_MESSAGE_MAX] = '\0';
	big = json_pack("{s:s}", "blob", huge);
	ASSERT_NOT_NULL(big);
	ASSERT_ERROR(varlink_call_format("io.ckptd.Manager.List", big, false, &s, &n), EMSGSIZE);
	ASSERT_NULL(s);
	ASSERT_EQ(n, 4242);
	ASSERT_OK(varlink_reply_format(big, false, &s, &n));
	ASSERT_EQ(n, strlen(s) + 1);
	free(s);
	s = NULL;

	free(huge);
	huge = malloc(VARLINK_REPLY_MAX + 1);
	ASSERT_NOT_NULL(huge);
	memset(huge, 'x', VARLINK_REPLY_MAX);
	huge[VARLINK_REPLY_MAX] = '\0';
	json_decref(big);
	big = json_pack("{s:s}", "blob", huge);
	ASSERT_NOT_NULL(big);
	n = 4242;
	ASSERT_ERROR(varlink_reply_format(big, false, &s, &n), EMSGSIZE);
	ASSERT_ERROR(varlink_error_format(VARLINK_ERROR_INVALID_PARAMETER, big, &s, &n), EMSGSIZE);
	ASSERT_NULL(s);
	ASSERT_EQ(n, 4242);
}

TEST(round_trip) {
	_cleanup_json_ json_t *p = json_pack("{s:s, s:I, s:b, s:n, s:[i,i], s:{s:s}, s:s}",
					     "container", "web", "id", (json_int_t) 9007199254740993LL,
					     "safety", 1, "tag", "list", 1, 2, "nested", "k", "v",
					     "text", "caf\xc3\xa9 \"quoted\" \\ \n\t");
	struct varlink_call c = {};
	struct varlink_reply r = {};
	_cleanup_free_ char *a = NULL, *b = NULL, *e = NULL;
	size_t n;

	ASSERT_NOT_NULL(p);
	ASSERT_OK(varlink_call_format("io.ckptd.Manager.Rollback", p, true, &a, &n));
	ASSERT_OK(varlink_call_parse(a, &c, NULL));
	ASSERT_STREQ(c.method, "io.ckptd.Manager.Rollback");
	ASSERT_TRUE(json_equal(c.parameters, p));
	ASSERT_TRUE(c.more);
	ASSERT_FALSE(c.oneway);
	varlink_call_done(&c);

	ASSERT_OK(varlink_reply_format(p, true, &b, &n));
	ASSERT_OK(varlink_reply_parse(b, &r));
	ASSERT_NULL(r.error);
	ASSERT_TRUE(json_equal(r.parameters, p));
	ASSERT_TRUE(r.continues);
	varlink_reply_done(&r);

	ASSERT_OK(varlink_error_format("io.ckptd.Manager.NoSuchPair", p, &e, &n));
	ASSERT_OK(varlink_reply_parse(e, &r));
	ASSERT_STREQ(r.error, "io.ckptd.Manager.NoSuchPair");
	ASSERT_TRUE(json_equal(r.parameters, p));
	ASSERT_FALSE(r.continues);
	varlink_reply_done(&r);

	/* a formatted message goes through the buffer unchanged */
	struct varlink_buffer buf = {};
	char *m;
	ASSERT_OK(varlink_buffer_append(&buf, a, strlen(a) + 1));
	ASSERT_EQ(varlink_buffer_take_message(&buf, &m), 1);
	ASSERT_STREQ(m, a);
	free(m);
	varlink_buffer_done(&buf);
}

/* Strict unpacking: the values, null as absent, and the offending parameter named. */
/* o: an array parameter (Import's volume map), borrowed from the parameters; anything else named. */
TEST(params_unpack_array) {
	_cleanup_json_ json_t *p = json_pack("{s:s, s:[s,s]}", "container", "web", "volumes", "/a=/b", "/c=/d");
	const char *s = NULL, *bad = NULL;
	json_t *volumes = NULL;
	ASSERT_OK(varlink_params_unpack(p, &bad, "{s:s, s?o}", "container", &s, "volumes", &volumes));
	ASSERT_TRUE(json_is_array(volumes));
	ASSERT_EQ_U(json_array_size(volumes), 2);
	ASSERT_TRUE(volumes == json_object_get(p, "volumes"));

	volumes = NULL;
	_cleanup_json_ json_t *absent = json_pack("{s:s, s:n}", "container", "web", "volumes");
	ASSERT_OK(varlink_params_unpack(absent, &bad, "{s:s, s?o}", "container", &s, "volumes", &volumes));
	ASSERT_NULL(volumes);

	_cleanup_json_ json_t *wrong = json_pack("{s:s, s:s}", "container", "web", "volumes", "/a=/b");
	ASSERT_ERROR(varlink_params_unpack(wrong, &bad, "{s:s, s?o}", "container", &s, "volumes", &volumes), EINVAL);
	ASSERT_STREQ(bad, "volumes");
}

/* A call with a descriptor: the descriptor arrives with the message's first byte, the message whole. */
TEST(send_with_fd) {
	int sv[2], pipefd[2];
	ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	ASSERT_OK(pipe2(pipefd, O_CLOEXEC));
	_cleanup_json_ json_t *params = json_pack("{s:s,s:i}", "container", "web", "id", 3);
	ASSERT_OK(varlink_send_with_fd(sv[0], "io.ckptd.Manager.Export", params, true, pipefd[1]));
	ASSERT_ERROR(varlink_send_with_fd(sv[0], "io.ckptd.Manager.Export", params, true, -1), EBADF);

	char buf[4096];
	size_t got = 0;
	int passed = -1;
	while (got == 0 || buf[got - 1] != '\0') {
		union {
			struct cmsghdr align;
			char space[CMSG_SPACE(sizeof(int) * 4)];
		} control = {};
		struct iovec iov = { .iov_base = buf + got, .iov_len = sizeof(buf) - got };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control, .msg_controllen = sizeof(control) };
		ssize_t k = recvmsg(sv[1], &mh, MSG_CMSG_CLOEXEC);
		ASSERT_TRUE(k > 0);
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			ASSERT_TRUE(cm->cmsg_type == SCM_RIGHTS && cm->cmsg_len == CMSG_LEN(sizeof(int)));
			ASSERT_TRUE(got == 0); /* with the first byte only */
			memcpy(&passed, CMSG_DATA(cm), sizeof(int));
		}
		got += (size_t) k;
	}
	ASSERT_TRUE(passed >= 0);
	struct varlink_call call = {};
	ASSERT_OK(varlink_call_parse(buf, &call, NULL));
	ASSERT_STREQ(call.method, "io.ckptd.Manager.Export");
	ASSERT_TRUE(call.more);
	varlink_call_done(&call);
	/* it is the pipe's write end */
	ASSERT_EQ(write(passed, "x", 1), 1);
	char c = 0;
	ASSERT_EQ(read(pipefd[0], &c, 1), 1);
	ASSERT_EQ(c, 'x');
	close(passed);
	close(pipefd[0]);
	close(pipefd[1]);
	close(sv[0]);
	close(sv[1]);
}

TEST(params_unpack) {
	_cleanup_json_ json_t *p = json_pack("{s:s, s:i, s:b, s:n}", "container", "web", "id", 7, "flag", 1, "tag");
	const char *s = "untouched", *tag = "untouched", *bad = NULL;
	json_int_t id = 4242;
	int b = -1, other = -1;

	ASSERT_NOT_NULL(p);
	ASSERT_OK(varlink_params_unpack(p, &bad, "{s:s, s:I, s?b, s?s, s?b}", "container", &s, "id", &id, "flag", &b,
	                                "tag", &tag, "other", &other));
	ASSERT_STREQ(s, "web");
	ASSERT_EQ(id, 7);
	ASSERT_EQ(b, 1);
	ASSERT_STREQ(tag, "untouched"); /* null = absent */
	ASSERT_EQ(other, -1);           /* absent: untouched */
	ASSERT_NULL(bad);

	/* an unknown key, a null one too; the first in message order */
	_cleanup_json_ json_t *extra = json_pack("{s:s, s:n, s:i}", "container", "web", "Id", "x", 2);
	ASSERT_ERROR(varlink_params_unpack(extra, &bad, "{s:s, s?I}", "container", &s, "id", &id), EINVAL);
	ASSERT_STREQ(bad, "Id");
	ASSERT_ERROR(varlink_params_unpack(p, &bad, "{}"), EINVAL);
	ASSERT_STREQ(bad, "container");

	/* a wrong type, whichever parameter it is */
	static const char *const wrong[] = { "container", "id", "flag" };
	for (size_t i = 0; i < ELEMENTSOF(wrong); i++) {
		_cleanup_json_ json_t *q = json_deep_copy(p);
		json_object_set_new(q, wrong[i], json_real(1.5));
		bad = NULL;
		ASSERT_ERROR(varlink_params_unpack(q, &bad, "{s:s, s:I, s?b, s?s}", "container", &s, "id", &id, "flag", &b,
		                                   "tag", &tag), EINVAL);
		ASSERT_STREQ(bad, wrong[i]);
	}
	_cleanup_json_ json_t *idstr = json_pack("{s:s, s:s}", "container", "web", "id", "7");
	ASSERT_ERROR(varlink_params_unpack(idstr, &bad, "{s:s, s:I}", "container", &s, "id", &id), EINVAL);
	ASSERT_STREQ(bad, "id");

	/* missing, or null, and required */
	ASSERT_ERROR(varlink_params_unpack(p, &bad, "{s:s, s?I, s?b, s:s}", "container", &s, "id", &id, "flag", &b, "tag",
	                                   &tag), EINVAL);
	ASSERT_STREQ(bad, "tag");
	_cleanup_json_ json_t *empty = json_object();
	ASSERT_ERROR(varlink_params_unpack(empty, &bad, "{s?s, s:I}", "container", &s, "id", &id), EINVAL);
	ASSERT_STREQ(bad, "id");
	ASSERT_OK(varlink_params_unpack(empty, &bad, "{s?s}", "container", &s));
	ASSERT_OK(varlink_params_unpack(NULL, &bad, "{s?b}", "flag", &b));

	/* not an object; a format the helper does not know */
	_cleanup_json_ json_t *arr = json_array();
	ASSERT_ERROR(varlink_params_unpack(arr, &bad, "{s?s}", "container", &s), EINVAL);
	ASSERT_STREQ(bad, "parameters");
	ASSERT_ERROR(varlink_params_unpack(p, &bad, "{s:f}", "container", &s), EINVAL);
}

TEST(client_send_recv) {
	_cleanup_json_ json_t *p = json_pack("{s:s}", "container", "web");
	int fds[2] = { -EBADF, -EBADF };
	struct varlink_buffer buf = {};
	struct varlink_reply r = {};
	char raw[256] = {};
	static const char replies[] =
		"{\"parameters\":{\"phase\":\"freeze\"},\"continues\":true}\0"
		"{\"parameters\":{\"id\":7}}\0"
		"{\"error\":\"io.ckptd.Manager.Busy\",\"parameters\":{}}\0"
		"{\"bogus\":1}\0"
		"{\"parameters\":";
	ssize_t k;

	ASSERT_TRUE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);

	ASSERT_OK(varlink_send(fds[0], "io.ckptd.Manager.FreezeAndDump", p, true));
	k = read(fds[1], raw, sizeof(raw) - 1);
	ASSERT_TRUE(k > 0);
	ASSERT_EQ(raw[k - 1], '\0');
	ASSERT_STREQ(raw, "{\"method\":\"io.ckptd.Manager.FreezeAndDump\",\"parameters\":{\"container\":\"web\"},\"more\":true}");
	ASSERT_ERROR(varlink_send(fds[0], "bad", p, false), EINVAL);

	/* several replies in one write, read one at a time */
	ASSERT_EQ(write(fds[1], replies, sizeof(replies) - 1), (ssize_t) sizeof(replies) - 1);
	ASSERT_OK(varlink_recv(fds[0], &buf, &r));
	ASSERT_TRUE(r.continues);
	ASSERT_STREQ(json_string_value(json_object_get(r.parameters, "phase")), "freeze");
	varlink_reply_done(&r);
	ASSERT_OK(varlink_recv(fds[0], &buf, &r));
	ASSERT_FALSE(r.continues);
	ASSERT_EQ(json_integer_value(json_object_get(r.parameters, "id")), 7);
	varlink_reply_done(&r);
	ASSERT_OK(varlink_recv(fds[0], &buf, &r));
	ASSERT_STREQ(r.error, "io.ckptd.Manager.Busy");
	varlink_reply_done(&r);
	ASSERT_ERROR(varlink_recv(fds[0], &buf, &r), EBADMSG);

	/* the peer closes in the middle of a message */
	close(fds[1]);
	fds[1] = -EBADF;
	ASSERT_ERROR(varlink_recv(fds[0], &buf, &r), ECONNRESET);
	ASSERT_NULL(r.parameters);

	/* sending to a closed peer: EPIPE, and no SIGPIPE kills us */
	ASSERT_ERROR(varlink_send(fds[0], "io.ckptd.Manager.List", NULL, false), EPIPE);

	close(fds[0]);
	varlink_buffer_done(&buf);
	ASSERT_ERROR(varlink_recv(-EBADF, &buf, &r), EBADF);
	ASSERT_ERROR(varlink_send(-EBADF, "io.ckptd.Manager.List", NULL, false), EBADF);
}

/* Writes n bytes to fd from a child process (more than a socket buffer holds would block). */
static pid_t write_from_child(int fd, const char *p, size_t n) {
	pid_t pid = fork();

	if (pid == 0) {
		(void) !send(fd, p, n, MSG_NOSIGNAL);
		_exit(0);
	}
	return pid;
}

TEST(client_recv_limits) {
	size_t n = VARLINK_MESSAGE_MAX * 2;
	_cleanup_free_ char *big = malloc(n + 1);
	struct varlink_buffer buf = {};
	struct varlink_reply r = {};
	int fds[2];
	pid_t pid;

	/* by default a reply may be larger than a call */
	ASSERT_NOT_NULL(big);
	memset(big, ' ', n + 1);
	memcpy(big, "{\"parameters\":{}}", strlen("{\"parameters\":{}}"));
	big[n] = '\0';
	ASSERT_TRUE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
	pid = write_from_child(fds[1], big, n + 1);
	ASSERT_TRUE(pid >= 0);
	ASSERT_OK(varlink_recv(fds[0], &buf, &r));
	ASSERT_TRUE(json_is_object(r.parameters));
	varlink_reply_done(&r);
	ASSERT_EQ(waitpid(pid, NULL, 0), pid);
	close(fds[0]);
	close(fds[1]);
	varlink_buffer_done(&buf);

	/* a smaller limit set by the caller is kept */
	buf.max = 1024;
	ASSERT_TRUE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
	pid = write_from_child(fds[1], big, 1025);
	ASSERT_TRUE(pid >= 0);
	close(fds[1]);
	ASSERT_ERROR(varlink_recv(fds[0], &buf, &r), EMSGSIZE);
	ASSERT_NULL(r.parameters);
	ASSERT_EQ(buf.max, 1024);
	ASSERT_EQ(waitpid(pid, NULL, 0), pid);
	close(fds[0]);
	varlink_buffer_done(&buf);
}

TEST(client_connect) {
	char dir[] = "/tmp/test-varlink-XXXXXX";
	_cleanup_free_ char *path = NULL, *abstract = NULL, *missing = NULL;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int listener = -EBADF, client = -EBADF, conn = -EBADF, abstract_fd = -EBADF;
	char name[sizeof(sa.sun_path) + 2];
	int fd = -EBADF;

	/* a path needs its NUL inside sun_path: 107 characters at most */
	memset(name, 'a', sizeof(name));
	name[0] = '/';
	name[sizeof(sa.sun_path)] = '\0';
	ASSERT_ERROR(varlink_connect(name, &fd), ENAMETOOLONG);
	name[sizeof(sa.sun_path) - 1] = '\0';
	ASSERT_ERROR(varlink_connect(name, &fd), ENOENT);
	/* an abstract name does not: '@' + 107 characters fit, '@' + 108 do not */
	name[0] = '@';
	name[sizeof(sa.sun_path) - 1] = 'a';
	ASSERT_ERROR(varlink_connect(name, &fd), ECONNREFUSED);
	name[sizeof(sa.sun_path)] = 'a';
	name[sizeof(sa.sun_path) + 1] = '\0';
	ASSERT_ERROR(varlink_connect(name, &fd), ENAMETOOLONG);
	ASSERT_EQ(fd, -EBADF);
	ASSERT_ERROR(varlink_connect("", &fd), EINVAL);
	ASSERT_ERROR(varlink_connect("@", &fd), EINVAL);
	ASSERT_ERROR(varlink_connect(NULL, &fd), EINVAL);

	ASSERT_NOT_NULL(mkdtemp(dir));
	ASSERT_TRUE(asprintf(&missing, "%s/missing", dir) > 0);
	ASSERT_ERROR(varlink_connect(missing, &fd), ENOENT);

	ASSERT_TRUE(asprintf(&path, "%s/io.ckptd.Manager", dir) > 0);
	strcpy(sa.sun_path, path);
	listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_TRUE(listener >= 0);
	ASSERT_TRUE(bind(listener, (struct sockaddr *) &sa, sizeof(sa)) == 0);
	ASSERT_TRUE(listen(listener, 1) == 0);
	ASSERT_OK(varlink_connect(path, &client));
	ASSERT_TRUE(client >= 0);
	ASSERT_TRUE(fcntl(client, F_GETFD) & FD_CLOEXEC);
	conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
	ASSERT_TRUE(conn >= 0);
	ASSERT_OK(varlink_send(client, "io.ckptd.Manager.Status", NULL, false));
	unlink(path);

	/* abstract namespace, "@name" */
	close(listener);
	ASSERT_TRUE(asprintf(&abstract, "@test-varlink-%d", (int) getpid()) > 0);
	sa = (struct sockaddr_un) { .sun_family = AF_UNIX };
	memcpy(sa.sun_path + 1, abstract + 1, strlen(abstract) - 1);
	listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_TRUE(bind(listener, (struct sockaddr *) &sa,
			 (socklen_t) (offsetof(struct sockaddr_un, sun_path) + strlen(abstract))) == 0);
	ASSERT_TRUE(listen(listener, 1) == 0);
	ASSERT_OK(varlink_connect(abstract, &abstract_fd));
	ASSERT_TRUE(abstract_fd >= 0);

	ASSERT_TRUE(rmdir(dir) == 0);
}

TEST_MAIN()
