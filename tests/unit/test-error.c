/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "error.h"
#include "test-util.h"

TEST(setf_replaces_and_returns_code) {
	_cleanup_free_ char *e = NULL;
	ASSERT_EQ(error_setf(&e, -ENOENT, "first %s", "one"), -ENOENT);
	ASSERT_STREQ(e, "first one");
	ASSERT_EQ(error_setf(&e, -EIO, "volume %s: %m", "/srv"), -EIO);
	ASSERT_STREQ(e, "volume /srv: Input/output error");
	ASSERT_EQ(error_setf(NULL, -EINVAL, "ignored"), -EINVAL);
}

TEST(prefix_wraps_inner_message) {
	_cleanup_free_ char *e = NULL, *inner = strdup("cannot delete /x: busy");
	ASSERT_EQ(error_prefixf(&e, -EBUSY, &inner, "pair %s/%d", "web", 7), -EBUSY);
	ASSERT_STREQ(e, "pair web/7: cannot delete /x: busy");
	ASSERT_TRUE(inner == NULL);
	/* No inner message: the errno text stands in for it. */
	ASSERT_EQ(error_prefixf(&e, -ENOSPC, &inner, "pair %s", "web/8"), -ENOSPC);
	ASSERT_STREQ(e, "pair web/8: No space left on device");
}

TEST(pass_moves_or_falls_back) {
	_cleanup_free_ char *e = strdup("old"), *inner = strdup("new");
	ASSERT_EQ(error_pass(&e, -EPERM, &inner), -EPERM);
	ASSERT_STREQ(e, "new");
	ASSERT_TRUE(inner == NULL);
	ASSERT_EQ(error_pass(&e, -EPERM, &inner), -EPERM);
	ASSERT_STREQ(e, "Operation not permitted");
	char *discarded = strdup("dropped");
	ASSERT_EQ(error_pass(NULL, -EIO, &discarded), -EIO);
	ASSERT_TRUE(discarded == NULL);
}

TEST_MAIN()
