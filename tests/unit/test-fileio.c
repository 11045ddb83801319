/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Path safety helpers on a temp directory: no symlink is followed anywhere in a path, openat2()
 * and the component-by-component fallback agree, and a private directory must be root's and
 * writable by nobody else. */
#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "fileio.h"
#include "macro.h"
#include "test-util.h"

static char *tmp;

/* TMP/dir/sub (directories), TMP/link -> dir, TMP/dir/sublink -> sub, TMP/dir/up -> .. */
static void make_tree(void) {
	char tmpl[] = "/tmp/test-fileio-XXXXXX";
	char *d = mkdtemp(tmpl);
	ASSERT_NOT_NULL(d);
	tmp = strdup(d);
	_cleanup_free_ char *dir = path_join(tmp, "dir"), *sub = path_join(tmp, "dir", "sub");
	_cleanup_free_ char *link = path_join(tmp, "link"), *sublink = path_join(tmp, "dir", "sublink");
	_cleanup_free_ char *up = path_join(tmp, "dir", "up");
	ASSERT_OK(mkdir_p(sub, 0755));
	ASSERT_TRUE(symlink(dir, link) == 0);
	ASSERT_TRUE(symlink("sub", sublink) == 0);
	ASSERT_TRUE(symlink("..", up) == 0);
}

static int open_abs(bool walk, const char *path) {
	return walk ? open_walk_nofollow(AT_FDCWD, path, O_RDONLY | O_DIRECTORY, false) :
	              open_nofollow(path, O_RDONLY | O_DIRECTORY);
}

static int open_below(bool walk, int dirfd, const char *path) {
	return walk ? open_walk_nofollow(dirfd, path, O_RDONLY | O_DIRECTORY, true) :
	              openat_beneath(dirfd, path, O_RDONLY | O_DIRECTORY);
}

static void check_both_ways(bool walk) {
	_cleanup_free_ char *sub = path_join(tmp, "dir", "sub"), *via_link = path_join(tmp, "link", "sub");
	_cleanup_free_ char *last_link = path_join(tmp, "dir", "sublink"), *dir = path_join(tmp, "dir");
	int fd = open_abs(walk, sub);
	ASSERT_TRUE(fd >= 0);
	close(fd);
	ASSERT_ERROR(open_abs(walk, via_link), ELOOP);  /* a symlink in the middle */
	ASSERT_ERROR(open_abs(walk, last_link), ELOOP); /* a symlink at the end */

	_cleanup_close_ int dfd = open_abs(walk, dir);
	ASSERT_TRUE(dfd >= 0);
	fd = open_below(walk, dfd, "sub");
	ASSERT_TRUE(fd >= 0);
	close(fd);
	ASSERT_ERROR(open_below(walk, dfd, "sublink"), ELOOP);
	ASSERT_TRUE(open_below(walk, dfd, "up") < 0);         /* a symlink out of it */
	ASSERT_ERROR(open_below(walk, dfd, "../dir"), EXDEV); /* ".." out of it */
	ASSERT_ERROR(open_below(walk, dfd, tmp), EXDEV);      /* absolute */
}

TEST(open_nofollow_openat2) {
	make_tree();
	check_both_ways(false);
}

TEST(open_nofollow_walk) {
	check_both_ways(true);
}

TEST(open_private_dir) {
	_cleanup_close_ int fd = open_nofollow(tmp, O_RDONLY | O_DIRECTORY);
	ASSERT_TRUE(fd >= 0);
	ASSERT_ERROR(open_private_dir(fd, "link", false), ELOOP);
	ASSERT_ERROR(open_private_dir(fd, "missing", false), ENOENT);
	ASSERT_ERROR(open_private_dir(fd, "a/b", true), EINVAL);
	ASSERT_ERROR(open_private_dir(fd, "..", true), EINVAL);
	if (geteuid() != 0) { /* made by someone else than root: never private */
		ASSERT_ERROR(open_private_dir(fd, "made", true), EPERM);
		return;
	}
	int p = open_private_dir(fd, "made", true);
	ASSERT_TRUE(p >= 0);
	close(p);
	struct stat st;
	ASSERT_TRUE(fstatat(fd, "made", &st, 0) == 0);
	ASSERT_EQ(st.st_mode & 0777, 0700);
	ASSERT_TRUE(fchmodat(fd, "made", 0770, 0) == 0); /* group-writable */
	ASSERT_ERROR(open_private_dir(fd, "made", false), EPERM);
	ASSERT_TRUE(fchmodat(fd, "made", 0700, 0) == 0);
	ASSERT_TRUE(fchownat(fd, "made", 65534, 0, 0) == 0); /* another owner */
	ASSERT_ERROR(open_private_dir(fd, "made", false), EPERM);
	ASSERT_OK(rm_rf(tmp));
}

TEST_MAIN()
