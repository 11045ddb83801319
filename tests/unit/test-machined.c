/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The scope name a rollback gives a machine whose unit was not a scope: machined's
 * machine-NAME.scope with NAME escaped as `systemd-escape NAME` prints it (systemd 252 here). */
#include "machined.h"
#include "macro.h"
#include "test-util.h"

static void check(const char *name, const char *want) {
	_cleanup_free_ char *s = machine_scope_name(name);
	ASSERT_STREQ(s, want);
}

TEST(scope_name) {
	check("web01", "machine-web01.scope");
	check("ckptd-inner", "machine-ckptd\\x2dinner.scope");
	check("a.b_c", "machine-a.b_c.scope");
	check(".hidden", "machine-\\x2ehidden.scope");
	check("x y", "machine-x\\x20y.scope");
	check("\xc3\xbc", "machine-\\xc3\\xbc.scope");
}

TEST_MAIN()
