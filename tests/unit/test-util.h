/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A minimal unit-test harness. TEST(name) { ... } defines and registers a test case; the
 * ASSERT_*() macros print "file:line: what failed" and end the current test case (they
 * `return`, so use them in TEST bodies and void helpers only); TEST_MAIN() defines main(),
 * which runs every case and exits non-zero if any failed. */

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*test_func_t)(void);

static struct {
	const char *name;
	test_func_t func;
} test_cases[512];
static size_t test_n_cases;
static bool test_current_failed;

static inline void test_register(const char *name, test_func_t func) {
	if (test_n_cases >= sizeof(test_cases) / sizeof(test_cases[0])) {
		fprintf(stderr, "too many test cases\n");
		abort();
	}
	test_cases[test_n_cases].name = name;
	test_cases[test_n_cases++].func = func;
}

#define TEST(name)                                                                        \
	static void test_##name(void);                                                    \
	__attribute__((constructor)) static void test_register_##name(void) {             \
		test_register(#name, test_##name);                                        \
	}                                                                                 \
	static void test_##name(void)

#define TEST_FAIL_(...)                                                                   \
	do {                                                                              \
		fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                           \
		fprintf(stderr, __VA_ARGS__);                                             \
		fputc('\n', stderr);                                                      \
		test_current_failed = true;                                               \
		return;                                                                   \
	} while (0)

#define ASSERT_TRUE(expr)                                                                 \
	do {                                                                              \
		if (!(expr))                                                              \
			TEST_FAIL_("ASSERT_TRUE(%s) failed", #expr);                      \
	} while (0)

#define ASSERT_FALSE(expr)                                                                \
	do {                                                                              \
		if (expr)                                                                 \
			TEST_FAIL_("ASSERT_FALSE(%s) failed", #expr);                     \
	} while (0)

#define ASSERT_EQ(a, b)                                                                   \
	do {                                                                              \
		intmax_t _ta = (intmax_t) (a), _tb = (intmax_t) (b);                      \
		if (_ta != _tb)                                                           \
			TEST_FAIL_("ASSERT_EQ(%s, %s) failed: %jd != %jd", #a, #b, _ta, _tb); \
	} while (0)

#define ASSERT_EQ_U(a, b)                                                                 \
	do {                                                                              \
		uintmax_t _ta = (uintmax_t) (a), _tb = (uintmax_t) (b);                   \
		if (_ta != _tb)                                                           \
			TEST_FAIL_("ASSERT_EQ_U(%s, %s) failed: %ju != %ju", #a, #b, _ta, _tb); \
	} while (0)

/* expr returns 0 or a positive value */
#define ASSERT_OK(expr)                                                                   \
	do {                                                                              \
		int _tr = (expr);                                                         \
		if (_tr < 0)                                                              \
			TEST_FAIL_("ASSERT_OK(%s) failed: %s", #expr, strerror(-_tr));    \
	} while (0)

/* expr returns -err */
#define ASSERT_ERROR(expr, err)                                                           \
	do {                                                                              \
		int _tr = (expr);                                                         \
		if (_tr != -(err))                                                        \
			TEST_FAIL_("ASSERT_ERROR(%s, %s) failed: got %d (%s)", #expr, #err, \
				   _tr, _tr < 0 ? strerror(-_tr) : "no error");           \
	} while (0)

#define ASSERT_STREQ(a, b)                                                                \
	do {                                                                              \
		const char *_tsa = (a), *_tsb = (b);                                      \
		if (!_tsa || !_tsb ? _tsa != _tsb : strcmp(_tsa, _tsb) != 0)              \
			TEST_FAIL_("ASSERT_STREQ(%s, %s) failed:\n  \"%s\"\n  \"%s\"", #a, #b, \
				   _tsa ? _tsa : "(null)", _tsb ? _tsb : "(null)");       \
	} while (0)

#define ASSERT_NULL(p)                                                                    \
	do {                                                                              \
		if ((p) != NULL)                                                          \
			TEST_FAIL_("ASSERT_NULL(%s) failed", #p);                         \
	} while (0)

#define ASSERT_NOT_NULL(p)                                                                \
	do {                                                                              \
		if ((p) == NULL)                                                          \
			TEST_FAIL_("ASSERT_NOT_NULL(%s) failed", #p);                     \
	} while (0)

static inline int test_run_all(void) {
	unsigned failed = 0;

	for (size_t i = 0; i < test_n_cases; i++) {
		test_current_failed = false;
		fflush(stdout);
		test_cases[i].func();
		fflush(stderr);
		printf("%s %s\n", test_current_failed ? "FAIL" : "ok  ", test_cases[i].name);
		if (test_current_failed)
			failed++;
	}

	printf("%zu test cases, %u failed\n", test_n_cases, failed);
	return failed > 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

#define TEST_MAIN()                                                                       \
	int main(void) {                                                                  \
		return test_run_all();                                                    \
	}
