/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Configuration parsing: value parsers, container names, good files, and every kind of error
 * with its exact "FILE:LINE: [Section] Key=VALUE: reason" message. Files live in a temporary
 * directory that is removed at exit. */

#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>

#include "config.h"
#include "macro.h"
#include "test-util.h"

#define USEC_S 1000000ULL

static char *test_dir;

__attribute__((constructor)) static void test_dir_setup(void) {
	const char *tmp = getenv("TMPDIR");

	if (asprintf(&test_dir, "%s/test-config-XXXXXX", tmp ? tmp : "/tmp") < 0 || !mkdtemp(test_dir)) {
		perror("mkdtemp");
		abort();
	}
}

static int rm_one(const char *path, _unused_ const struct stat *st, _unused_ int flag, _unused_ struct FTW *ftw) {
	return remove(path) < 0 ? -1 : 0;
}

__attribute__((destructor)) static void test_dir_cleanup(void) {
	if (test_dir)
		(void) nftw(test_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(test_dir);
}

/* Writes n bytes to test_dir/name; returns the path (caller frees). Aborts on failure. */
static char *write_file_n(const char *name, const char *content, size_t n) {
	_cleanup_close_ int fd = -EBADF;
	char *path;

	if (asprintf(&path, "%s/%s", test_dir, name) < 0)
		abort();
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, content, n) != (ssize_t) n) {
		perror(path);
		abort();
	}
	return path;
}

static char *write_file(const char *name, const char *content) {
	return write_file_n(name, content, strlen(content));
}

static char *strjoin(const char *a, const char *b) {
	char *s;

	if (asprintf(&s, "%s%s", a, b) < 0)
		abort();
	return s;
}

/* Loads content as web.conf and expects -err and the message PATH + suffix. */
#define ASSERT_CONTAINER_ERROR(content, err, suffix)                                    \
	do {                                                                            \
		_cleanup_free_ char *_p = write_file("web.conf", content), *_e = NULL;  \
		_cleanup_free_ char *_x = strjoin(_p, suffix);                          \
		_cleanup_(container_config_freep) struct container_config *_c = NULL;  \
		ASSERT_ERROR(container_config_load(_p, &_c, &_e), err);                 \
		ASSERT_NULL(_c);                                                        \
		ASSERT_STREQ(_e, _x);                                                   \
	} while (0)

#define ASSERT_DAEMON_ERROR(content, err, suffix)                                       \
	do {                                                                            \
		_cleanup_free_ char *_p = write_file("ckptd.conf", content), *_e = NULL; \
		_cleanup_free_ char *_x = strjoin(_p, suffix);                          \
		struct daemon_config _d = { .max_parallel_jobs = 77 };                  \
		ASSERT_ERROR(daemon_config_load(_p, &_d, &_e), err);                    \
		ASSERT_EQ(_d.max_parallel_jobs, 77); /* untouched */                    \
		ASSERT_STREQ(_e, _x);                                                   \
	} while (0)

/* A minimal valid [Container] head, followed by the line(s) under test (line 4 onwards). */
#define HEAD "[Container]\nCgroup=/sys/fs/cgroup/web\nVolume=/srv/web\n"

TEST(container_name_is_valid) {
	char name[CONTAINER_NAME_MAX + 2];

	ASSERT_TRUE(container_name_is_valid("web"));
	ASSERT_TRUE(container_name_is_valid("a"));
	ASSERT_TRUE(container_name_is_valid("A-b_c.d.9"));
	ASSERT_TRUE(container_name_is_valid("-"));
	ASSERT_TRUE(container_name_is_valid("web."));

	memset(name, 'x', CONTAINER_NAME_MAX);
	name[CONTAINER_NAME_MAX] = '\0';
	ASSERT_TRUE(container_name_is_valid(name));
	name[CONTAINER_NAME_MAX] = 'x';
	name[CONTAINER_NAME_MAX + 1] = '\0';
	ASSERT_FALSE(container_name_is_valid(name)); /* 65 characters */

	ASSERT_FALSE(container_name_is_valid(NULL));
	ASSERT_FALSE(container_name_is_valid(""));
	ASSERT_FALSE(container_name_is_valid(".hidden"));
	ASSERT_FALSE(container_name_is_valid("."));
	ASSERT_FALSE(container_name_is_valid(".."));
	ASSERT_FALSE(container_name_is_valid("a/b"));
	ASSERT_FALSE(container_name_is_valid("a b"));
	ASSERT_FALSE(container_name_is_valid("\xc3\xa4")); /* "ä" */
	ASSERT_FALSE(container_name_is_valid("web\n"));
	ASSERT_FALSE(container_name_is_valid("web:1"));
	ASSERT_FALSE(container_name_is_valid("we*b"));
}

TEST(parse_boolean) {
	static const char *const yes[] = { "1", "yes", "y", "true", "t", "on", "YES", "True", "ON" };
	static const char *const no[] = { "0", "no", "n", "false", "f", "off", "NO", "False", "Off" };
	static const char *const bad[] = { "", "2", "yess", "o", " yes", "yes ", "-1", "nope" };
	bool b;

	for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
		b = false;
		ASSERT_OK(parse_boolean(yes[i], &b));
		ASSERT_TRUE(b);
	}
	for (size_t i = 0; i < ELEMENTSOF(no); i++) {
		b = true;
		ASSERT_OK(parse_boolean(no[i], &b));
		ASSERT_FALSE(b);
	}
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		b = true;
		ASSERT_ERROR(parse_boolean(bad[i], &b), EINVAL);
		ASSERT_TRUE(b); /* untouched */
	}
	ASSERT_ERROR(parse_boolean(NULL, &b), EINVAL);
}

TEST(parse_sec_good) {
	static const struct {
		const char *s;
		uint64_t usec;
	} good[] = {
		{ "10", 10 * USEC_S },
		{ "0", 0 },
		{ "1.5", 1500000 },
		{ ".5", 500000 },
		{ "1.", USEC_S },
		{ "250ms", 250000 },
		{ "2s", 2 * USEC_S },
		{ "2 s", 2 * USEC_S },
		{ "2sec", 2 * USEC_S },
		{ "1min", 60 * USEC_S },
		{ "1m", 60 * USEC_S },
		{ "1h", 3600 * USEC_S },
		{ "1d", 86400 * USEC_S },
		{ "1w", 604800 * USEC_S },
		{ "500us", 500 },
		{ "500usec", 500 },
		{ "1.5ms", 1500 },
		{ "0.0000001s", 0 }, /* below a microsecond */
		{ "1min 30s", 90 * USEC_S },
		{ "2h30min", 9000 * USEC_S },
		{ " 5s ", 5 * USEC_S },
		{ "1 2", 3 * USEC_S },
		{ "18446744073709551615us", UINT64_MAX },
	};
	uint64_t u;

	for (size_t i = 0; i < ELEMENTSOF(good); i++) {
		u = 4242;
		ASSERT_OK(parse_sec(good[i].s, &u));
		ASSERT_EQ_U(u, good[i].usec);
	}
}

TEST(parse_sec_bad) {
	static const char *const invalid[] = {
		"", " ", "-1", "+1", "1x", "s", "1.5.5", "abc", "1 min x", ".", "1s-", "10%", "1e3",
		"0x10", "1,5", "5 minutes ago", "infinity",
	};
	static const char *const too_large[] = {
		"99999999999999999999",
		"18446744073709551616us",
		"18446744073709551615s",
		"18446744073709551615us 1us",
		"18446744073709551615.9us 1s",
		"40000000w",
	};
	uint64_t u = 4242;

	for (size_t i = 0; i < ELEMENTSOF(invalid); i++) {
		ASSERT_ERROR(parse_sec(invalid[i], &u), EINVAL);
		ASSERT_EQ_U(u, 4242); /* untouched */
	}
	for (size_t i = 0; i < ELEMENTSOF(too_large); i++) {
		ASSERT_ERROR(parse_sec(too_large[i], &u), ERANGE);
		ASSERT_EQ_U(u, 4242);
	}
	ASSERT_ERROR(parse_sec(NULL, &u), EINVAL);
}

TEST(parse_min_free) {
	static const struct {
		const char *s;
		unsigned percent;
		uint64_t bytes;
	} good[] = {
		{ "10%", 10, 0 },
		{ "0%", 0, 0 },
		{ "100%", 100, 0 },
		{ "4096", 0, 4096 },
		{ "0", 0, 0 },
		{ "1K", 0, 1024 },
		{ "512M", 0, 512ULL << 20 },
		{ "2G", 0, 2ULL << 30 },
		{ "1T", 0, 1ULL << 40 },
		{ "16777215T", 0, 16777215ULL << 40 },
	};
	static const char *const invalid[] = {
		"", "%", "-1", "-1%", "10%%", "1.5G", "10 %", " 10%", "1KB", "1k", "K", "G1", "1P", "abc", "1 G",
	};
	static const char *const too_large[] = { "101%", "16777216T", "99999999999999999999", "4294967296%" };
	unsigned p;
	uint64_t b;

	for (size_t i = 0; i < ELEMENTSOF(good); i++) {
		p = 4242;
		b = 4242;
		ASSERT_OK(parse_min_free(good[i].s, &p, &b));
		ASSERT_EQ_U(p, good[i].percent);
		ASSERT_EQ_U(b, good[i].bytes);
	}
	for (size_t i = 0; i < ELEMENTSOF(invalid); i++) {
		p = 4242;
		b = 4242;
		ASSERT_ERROR(parse_min_free(invalid[i], &p, &b), EINVAL);
		ASSERT_EQ_U(p, 4242);
		ASSERT_EQ_U(b, 4242);
	}
	for (size_t i = 0; i < ELEMENTSOF(too_large); i++) {
		ASSERT_ERROR(parse_min_free(too_large[i], &p, &b), ERANGE);
		ASSERT_EQ_U(p, 4242);
		ASSERT_EQ_U(b, 4242);
	}
}

/* The example from DESIGN.md, verbatim: inline comments and comment-only continuation lines. */
TEST(container_design_example) {
	_cleanup_free_ char *path = write_file("web.conf",
		"[Container]\n"
		"Cgroup=/sys/fs/cgroup/unified/web     # absolute path of the cgroup directory (v2 or v1 freezer)\n"
		"Volume=/srv/containers/web            # repeatable: btrfs subvolume path, or lvm:VG/LV\n"
		"RootPid=                              # optional; default: the task that is PID 1 of the\n"
		"                                      # container's own PID namespace, else the one task\n"
		"                                      # whose parent is outside the cgroup\n"
		"[Checkpoint]\n"
		"FreezeTimeoutSec=10\n"
		"MaxFrozenSec=60\n"
		"Staging=auto                          # auto | memory | disk: where CRIU writes while frozen\n"
		"TcpEstablished=no\n"
		"FileLocks=no\n"
		"[Schedule]\n"
		"OnCalendar=hourly                     # systemd calendar expression; empty = no timer\n"
		"[Retention]\n"
		"KeepLast=10\n"
		"KeepHourly=24\n"
		"KeepDaily=7\n"
		"KeepWeekly=4\n"
		"KeepMonthly=6\n"
		"MinFreeSpace=10%\n");
	_cleanup_(container_config_freep) struct container_config *c = NULL;
	_cleanup_free_ char *error = NULL;

	ASSERT_OK(container_config_load(path, &c, &error));
	ASSERT_NULL(error);
	ASSERT_STREQ(c->name, "web");
	ASSERT_STREQ(c->file, path);
	ASSERT_STREQ(c->cgroup, "/sys/fs/cgroup/unified/web");
	ASSERT_EQ(c->n_volumes, 1);
	ASSERT_STREQ(c->volumes[0], "/srv/containers/web");
	ASSERT_NULL(c->volumes[1]);
	ASSERT_EQ(c->root_pid, 0);
	ASSERT_NULL(c->root_directory);
	ASSERT_EQ_U(c->freeze_timeout_usec, 10 * USEC_S);
	ASSERT_EQ_U(c->max_frozen_usec, 60 * USEC_S);
	ASSERT_EQ(c->staging, STAGING_AUTO);
	ASSERT_FALSE(c->tcp_established);
	ASSERT_FALSE(c->file_locks);
	ASSERT_STREQ(c->on_calendar, "hourly");
	ASSERT_EQ(c->retention.keep_last, 10);
	ASSERT_EQ(c->retention.keep_hourly, 24);
	ASSERT_EQ(c->retention.keep_daily, 7);
	ASSERT_EQ(c->retention.keep_weekly, 4);
	ASSERT_EQ(c->retention.keep_monthly, 6);
	ASSERT_EQ(c->retention.keep_yearly, 0);
	ASSERT_EQ(c->retention.min_free_percent, 10);
	ASSERT_EQ_U(c->retention.min_free_bytes, 0);
}

TEST(container_defaults) {
	_cleanup_free_ char *path = write_file("db_1.conf", HEAD);
	_cleanup_(container_config_freep) struct container_config *c = NULL;

	ASSERT_OK(container_config_load(path, &c, NULL));
	ASSERT_STREQ(c->name, "db_1");
	ASSERT_EQ(c->root_pid, 0);
	ASSERT_NULL(c->root_directory);
	ASSERT_EQ(c->snapshot_size_percent, 0);
	ASSERT_EQ_U(c->snapshot_size_bytes, 0);
	ASSERT_EQ_U(c->freeze_timeout_usec, 10 * USEC_S);
	ASSERT_EQ_U(c->max_frozen_usec, 60 * USEC_S);
	ASSERT_EQ(c->staging, STAGING_AUTO);
	ASSERT_FALSE(c->tcp_established);
	ASSERT_FALSE(c->file_locks);
	ASSERT_EQ(c->network_lock, NETWORK_LOCK_AUTO);
	ASSERT_EQ(c->network_config, NETWORK_CONFIG_AUTO);
	ASSERT_TRUE(c->share_images);
	ASSERT_EQ(c->full_image_every, 8);
	ASSERT_EQ(c->pre_dump, PRE_DUMP_AUTO);
	ASSERT_NULL(c->on_calendar);
	ASSERT_EQ(c->retention.keep_last, 10);
	ASSERT_EQ(c->retention.keep_hourly, 0);
	ASSERT_EQ(c->retention.keep_daily, 0);
	ASSERT_EQ(c->retention.keep_weekly, 0);
	ASSERT_EQ(c->retention.keep_monthly, 0);
	ASSERT_EQ(c->retention.keep_yearly, 0);
	ASSERT_EQ(c->retention.min_free_percent, 0);
	ASSERT_EQ_U(c->retention.min_free_bytes, 0);
}

TEST(container_all_keys) {
	_cleanup_free_ char *path = write_file("all.conf",
		"\xEF\xBB\xBF# byte order mark, then a comment\r\n"
		"; another comment\r\n"
		"   # an indented comment\r\n"
		"\r\n"
		"[Container]\r\n"
		"Cgroup = /sys/fs/cgroup//machine.slice/./web/\r\n"
		"  Volume=lvm:vg0/data_1   \r\n"
		"\tVolume=/srv/a#b\r\n"
		"Volume=/srv/c;d ; comment\r\n"
		"RootPid=1234\r\n"
		"RootDirectory=/\r\n"
		"SnapshotSize=20%   # of each thick LVM origin\r\n"
		"[Checkpoint]\r\n"
		"FreezeTimeoutSec=250ms\r\n"
		"MaxFrozenSec=1min 30s # budget\r\n"
		"Staging=disk ; comment\r\n"
		"TcpEstablished=yes\r\n"
		"FileLocks=on\r\n"
		"NetworkLock=nftables\r\n"
		"NetworkConfig=criu\r\n"
		"ShareImages=no\r\n"
		"FullImageEvery=0\r\n"
		"PreDump=3\r\n"
		"[Schedule]\r\n"
		"OnCalendar=*-*-* 00:00:00 # daily\r\n"
		"[Retention]\r\n"
		"KeepLast=3\r\n"
		"KeepLast=5\r\n"
		"KeepYearly=2\r\n"
		"MinFreeSpace=2G\r\n"
		"[Container]\r\n"
		"Volume=/srv/e\r\n");
	_cleanup_(container_config_freep) struct container_config *c = NULL;
	_cleanup_free_ char *error = NULL;

	ASSERT_OK(container_config_load(path, &c, &error));
	ASSERT_NULL(error);
	ASSERT_STREQ(c->name, "all");
	ASSERT_STREQ(c->cgroup, "/sys/fs/cgroup/machine.slice/web");
	ASSERT_EQ(c->n_volumes, 4);
	ASSERT_STREQ(c->volumes[0], "lvm:vg0/data_1");
	ASSERT_STREQ(c->volumes[1], "/srv/a#b");
	ASSERT_STREQ(c->volumes[2], "/srv/c;d");
	ASSERT_STREQ(c->volumes[3], "/srv/e");
	ASSERT_NULL(c->volumes[4]);
	ASSERT_EQ(c->root_pid, 1234);
	ASSERT_STREQ(c->root_directory, "/");
	ASSERT_EQ(c->snapshot_size_percent, 20);
	ASSERT_EQ_U(c->snapshot_size_bytes, 0);
	ASSERT_EQ_U(c->freeze_timeout_usec, 250000);
	ASSERT_EQ_U(c->max_frozen_usec, 90 * USEC_S);
	ASSERT_EQ(c->staging, STAGING_DISK);
	ASSERT_TRUE(c->tcp_established);
	ASSERT_TRUE(c->file_locks);
	ASSERT_EQ(c->network_lock, NETWORK_LOCK_NFTABLES);
	ASSERT_EQ(c->network_config, NETWORK_CONFIG_CRIU);
	ASSERT_FALSE(c->share_images);
	ASSERT_EQ(c->full_image_every, 0);
	ASSERT_EQ(c->pre_dump, 3);
	ASSERT_STREQ(c->on_calendar, "*-*-* 00:00:00");
	ASSERT_EQ(c->retention.keep_last, 5); /* last one wins */
	ASSERT_EQ(c->retention.keep_yearly, 2);
	ASSERT_EQ(c->retention.min_free_percent, 0);
	ASSERT_EQ_U(c->retention.min_free_bytes, 2ULL << 30);
}

TEST(container_volume_reset) {
	_cleanup_free_ char *path = write_file("web.conf",
		"[Container]\n"
		"Cgroup=/sys/fs/cgroup/web\n"
		"Volume=/srv/a\n"
		"Volume=/srv/b\n"
		"Volume=\n"
		"Volume=/srv/c\n"
		"Volume=/srv/a\n" /* not a duplicate any more */
		"Volume=lvm:vg/lv\n");
	_cleanup_(container_config_freep) struct container_config *c = NULL;

	ASSERT_OK(container_config_load(path, &c, NULL));
	ASSERT_EQ(c->n_volumes, 3);
	ASSERT_STREQ(c->volumes[0], "/srv/c");
	ASSERT_STREQ(c->volumes[1], "/srv/a");
	ASSERT_STREQ(c->volumes[2], "lvm:vg/lv");
	ASSERT_NULL(c->volumes[3]);
}

TEST(container_empty_resets_to_default) {
	_cleanup_free_ char *path = write_file("web.conf",
		HEAD
		"RootPid=77\n"
		"RootPid=\n"
		"SnapshotSize=1G\n"
		"SnapshotSize=\n"
		"[Checkpoint]\n"
		"FreezeTimeoutSec=5\n"
		"FreezeTimeoutSec=\n"
		"Staging=memory\n"
		"Staging=\n"
		"FileLocks=yes\n"
		"FileLocks=\n"
		"NetworkLock=iptables\n"
		"NetworkLock=\n"
		"PreDump=no\n"
		"PreDump=\n"
		"[Schedule]\n"
		"OnCalendar=daily\n"
		"OnCalendar=\n"
		"[Retention]\n"
		"KeepLast=1\n"
		"KeepLast=\n"
		"MinFreeSpace=5%\n"
		"MinFreeSpace=\n");
	_cleanup_(container_config_freep) struct container_config *c = NULL;

	ASSERT_OK(container_config_load(path, &c, NULL));
	ASSERT_EQ(c->root_pid, 0);
	ASSERT_EQ(c->snapshot_size_percent, 0);
	ASSERT_EQ_U(c->snapshot_size_bytes, 0);
	ASSERT_EQ_U(c->freeze_timeout_usec, 10 * USEC_S);
	ASSERT_EQ(c->staging, STAGING_AUTO);
	ASSERT_FALSE(c->file_locks);
	ASSERT_EQ(c->pre_dump, PRE_DUMP_AUTO);
	ASSERT_NULL(c->on_calendar);
	ASSERT_EQ(c->retention.keep_last, 10);
	ASSERT_EQ(c->retention.min_free_percent, 0);
}

/* SnapshotSize=: a percentage of the origin or an absolute size; the last value wins, and a
 * percentage replaces a size (and the other way round). */
TEST(container_snapshot_size) {
	static const struct {
		const char *value;
		unsigned percent;
		uint64_t bytes;
	} good[] = {
		{ "20%", 20, 0 },
		{ "1%", 1, 0 },
		{ "100%", 100, 0 },
		{ "512M", 0, 512ULL << 20 },
		{ "2G", 0, 2ULL << 30 },
		{ "4096", 0, 4096 },
		{ "1T", 0, 1ULL << 40 },
	};

	for (size_t i = 0; i < ELEMENTSOF(good); i++) {
		_cleanup_free_ char *content = NULL, *path = NULL, *error = NULL;
		_cleanup_(container_config_freep) struct container_config *c = NULL;

		ASSERT_TRUE(asprintf(&content, HEAD "Volume=lvm:vg0/web\nSnapshotSize=%s\n", good[i].value) > 0);
		path = write_file("web.conf", content);
		ASSERT_OK(container_config_load(path, &c, &error));
		ASSERT_NULL(error);
		ASSERT_EQ(c->snapshot_size_percent, good[i].percent);
		ASSERT_EQ_U(c->snapshot_size_bytes, good[i].bytes);
	}

	_cleanup_free_ char *path = write_file("web.conf", HEAD "SnapshotSize=10%\nSnapshotSize=256M\n");
	_cleanup_(container_config_freep) struct container_config *c = NULL;
	ASSERT_OK(container_config_load(path, &c, NULL));
	ASSERT_EQ(c->snapshot_size_percent, 0);
	ASSERT_EQ_U(c->snapshot_size_bytes, 256ULL << 20);
	container_config_free(TAKE_PTR(c));

	free(path);
	path = write_file("web.conf", HEAD "SnapshotSize=256M\nSnapshotSize=10%\n");
	ASSERT_OK(container_config_load(path, &c, NULL));
	ASSERT_EQ(c->snapshot_size_percent, 10);
	ASSERT_EQ_U(c->snapshot_size_bytes, 0);
}

TEST(container_long_comment_is_fine) {
	char line[1000];
	_cleanup_free_ char *content = NULL, *path = NULL, *error = NULL;
	_cleanup_(container_config_freep) struct container_config *c = NULL;

	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	ASSERT_TRUE(asprintf(&content, HEAD "[Retention]\nKeepLast=3   # %s\n# %s\n", line, line) > 0);
	path = write_file("web.conf", content);
	ASSERT_OK(container_config_load(path, &c, &error));
	ASSERT_NULL(error);
	ASSERT_EQ(c->retention.keep_last, 3);
}

TEST(container_errors_structure) {
	ASSERT_CONTAINER_ERROR(HEAD "[Foo]\n", EINVAL, ":4: [Foo]: unknown section");
	ASSERT_CONTAINER_ERROR(HEAD "[Daemon]\n", EINVAL, ":4: [Daemon]: unknown section");
	ASSERT_CONTAINER_ERROR(HEAD "[container]\n", EINVAL, ":4: [container]: unknown section");
	ASSERT_CONTAINER_ERROR(HEAD "Foo=bar\n", EINVAL, ":4: [Container] Foo=bar: unknown key");
	ASSERT_CONTAINER_ERROR(HEAD "cgroup=/a\n", EINVAL, ":4: [Container] cgroup=/a: unknown key");
	ASSERT_CONTAINER_ERROR(HEAD "KeepLast=1\n", EINVAL, ":4: [Container] KeepLast=1: unknown key");
	ASSERT_CONTAINER_ERROR("Cgroup=/a\n", EINVAL, ":1: Cgroup=/a: key outside of any section");
	ASSERT_CONTAINER_ERROR(HEAD "garbage\n", EINVAL, ":4: garbage: expected Key=Value, [Section] or a comment");
	ASSERT_CONTAINER_ERROR(HEAD "Cgroup: /a\n", EINVAL, ":4: Cgroup: /a: expected Key=Value, [Section] or a comment");
	ASSERT_CONTAINER_ERROR(HEAD "=foo\n", EINVAL, ":4: =foo: expected Key=Value, [Section] or a comment");
	ASSERT_CONTAINER_ERROR("[Container\n", EINVAL, ":1: [Container: invalid section header");
	ASSERT_CONTAINER_ERROR("[Container] x\n", EINVAL, ":1: [Container] x: invalid section header");
	ASSERT_CONTAINER_ERROR("[Con]tainer]\n", EINVAL, ":1: [Con]tainer]: invalid section header");
	ASSERT_CONTAINER_ERROR("[]\n", EINVAL, ":1: []: invalid section header");
	/* the first error is the one reported */
	ASSERT_CONTAINER_ERROR("[Container]\nFoo=1\nBar=2\n[Baz]\n", EINVAL, ":2: [Container] Foo=1: unknown key");
}

#define BRIDGE_MAP_BAD "expected SRC=DST, two bridge names (1-15 characters, no '/', ':', '=' or spaces)"

TEST(container_bridge_map) {
	_cleanup_free_ char *path = write_file("web.conf", HEAD "[Network]\nBridgeMap=br0=lxcbr1\nBridgeMap=virbr0=br-lan\n");
	_cleanup_(container_config_freep) struct container_config *c = NULL;
	ASSERT_OK(container_config_load(path, &c, NULL));
	ASSERT_NOT_NULL(c->bridge_map);
	ASSERT_STREQ(c->bridge_map[0], "br0=lxcbr1");
	ASSERT_STREQ(c->bridge_map[1], "virbr0=br-lan");
	ASSERT_NULL(c->bridge_map[2]);
	c = container_config_free(c);

	_cleanup_free_ char *reset = write_file("web.conf", HEAD "[Network]\nBridgeMap=br0=br1\nBridgeMap=\n");
	ASSERT_OK(container_config_load(reset, &c, NULL));
	ASSERT_NULL(c->bridge_map);

	ASSERT_CONTAINER_ERROR(HEAD "[Network]\nBridgeMap=br0\n", EINVAL, ":5: [Network] BridgeMap=br0: " BRIDGE_MAP_BAD);
	ASSERT_CONTAINER_ERROR(HEAD "[Network]\nBridgeMap=br0=a/b\n", EINVAL, ":5: [Network] BridgeMap=br0=a/b: " BRIDGE_MAP_BAD);
	ASSERT_CONTAINER_ERROR(HEAD "[Network]\nBridgeMap=br0=abcdefghijklmnop\n", EINVAL,
	                       ":5: [Network] BridgeMap=br0=abcdefghijklmnop: " BRIDGE_MAP_BAD);
	ASSERT_CONTAINER_ERROR(HEAD "[Network]\nBridgeMap=br0=br1\nBridgeMap=br0=br2\n", EINVAL,
	                       ":6: [Network] BridgeMap=br0=br2: bridge br0 is mapped twice");
}

TEST(container_replicate_command) {
	_cleanup_free_ char *path = write_file("web.conf", HEAD "[Replicate]\nCommand=ssh backup ckptctl import web\n");
	_cleanup_(container_config_freep) struct container_config *c = NULL;
	ASSERT_OK(container_config_load(path, &c, NULL));
	ASSERT_STREQ(c->replicate_command, "ssh backup ckptctl import web");
	c = container_config_free(c);
	_cleanup_free_ char *none = write_file("web.conf", HEAD);
	ASSERT_OK(container_config_load(none, &c, NULL));
	ASSERT_NULL(c->replicate_command);
}

TEST(container_errors_values) {
	ASSERT_CONTAINER_ERROR(HEAD "Cgroup=relative/path\n", EINVAL,
			       ":4: [Container] Cgroup=relative/path: not an absolute path");
	ASSERT_CONTAINER_ERROR(HEAD "Cgroup=/sys/fs/cgroup/../etc\n", EINVAL,
			       ":4: [Container] Cgroup=/sys/fs/cgroup/../etc: path contains a \"..\" component");
	ASSERT_CONTAINER_ERROR(HEAD "Cgroup=//\n", EINVAL, ":4: [Container] Cgroup=//: refusing the root directory");
	ASSERT_CONTAINER_ERROR(HEAD "Volume=srv/web\n", EINVAL,
			       ":4: [Container] Volume=srv/web: not an absolute path or lvm:VG/LV");
	ASSERT_CONTAINER_ERROR(HEAD "Volume=/\n", EINVAL, ":4: [Container] Volume=/: refusing the root directory");
	ASSERT_CONTAINER_ERROR(HEAD "Volume=/srv/web/\n", EINVAL, ":4: [Container] Volume=/srv/web/: volume listed twice");
	ASSERT_CONTAINER_ERROR(HEAD "Volume=lvm:vg\n", EINVAL, ":4: [Container] Volume=lvm:vg: expected lvm:VG/LV");
	ASSERT_CONTAINER_ERROR(HEAD "Volume=lvm:vg/a/b\n", EINVAL, ":4: [Container] Volume=lvm:vg/a/b: expected lvm:VG/LV");
	ASSERT_CONTAINER_ERROR(HEAD "Volume=lvm:/lv\n", EINVAL,
			       ":4: [Container] Volume=lvm:/lv: invalid LVM volume group name");
	ASSERT_CONTAINER_ERROR(HEAD "Volume=lvm:-vg/lv\n", EINVAL,
			       ":4: [Container] Volume=lvm:-vg/lv: invalid LVM volume group name");
	ASSERT_CONTAINER_ERROR(HEAD "Volume=lvm:../lv\n", EINVAL,
			       ":4: [Container] Volume=lvm:../lv: invalid LVM volume group name");
	ASSERT_CONTAINER_ERROR(HEAD "Volume=lvm:vg/\n", EINVAL,
			       ":4: [Container] Volume=lvm:vg/: invalid LVM logical volume name");
	ASSERT_CONTAINER_ERROR(HEAD "Volume=lvm:vg/l v\n", EINVAL,
			       ":4: [Container] Volume=lvm:vg/l v: invalid LVM logical volume name");
	ASSERT_CONTAINER_ERROR(HEAD "Volume=lvm:vg/.\n", EINVAL,
			       ":4: [Container] Volume=lvm:vg/.: invalid LVM logical volume name");
	ASSERT_CONTAINER_ERROR(HEAD "Volume=lvm:vg/l\xc3\xa4\n", EINVAL,
			       ":4: [Container] Volume=lvm:vg/l\xc3\xa4: invalid LVM logical volume name");
	ASSERT_CONTAINER_ERROR(HEAD "RootPid=0\n", EINVAL, ":4: [Container] RootPid=0: not a valid PID (empty = discover)");
	ASSERT_CONTAINER_ERROR(HEAD "RootPid=-1\n", EINVAL, ":4: [Container] RootPid=-1: not a valid PID (empty = discover)");
	ASSERT_CONTAINER_ERROR(HEAD "RootPid=12a\n", EINVAL, ":4: [Container] RootPid=12a: not a valid PID (empty = discover)");
	ASSERT_CONTAINER_ERROR(HEAD "RootPid=4194305\n", EINVAL,
			       ":4: [Container] RootPid=4194305: not a valid PID (empty = discover)");
	ASSERT_CONTAINER_ERROR(HEAD "RootDirectory=rootfs\n", EINVAL,
			       ":4: [Container] RootDirectory=rootfs: not an absolute path");
	ASSERT_CONTAINER_ERROR(HEAD "SnapshotSize=0\n", EINVAL, ":4: [Container] SnapshotSize=0: must be greater than zero");
	ASSERT_CONTAINER_ERROR(HEAD "SnapshotSize=0%\n", EINVAL, ":4: [Container] SnapshotSize=0%: must be greater than zero");
	ASSERT_CONTAINER_ERROR(HEAD "SnapshotSize=0G\n", EINVAL, ":4: [Container] SnapshotSize=0G: must be greater than zero");
	ASSERT_CONTAINER_ERROR(HEAD "SnapshotSize=101%\n", ERANGE, ":4: [Container] SnapshotSize=101%: value too large");
	ASSERT_CONTAINER_ERROR(HEAD "SnapshotSize=16777216T\n", ERANGE,
			       ":4: [Container] SnapshotSize=16777216T: value too large");
	ASSERT_CONTAINER_ERROR(HEAD "SnapshotSize=1.5G\n", EINVAL,
			       ":4: [Container] SnapshotSize=1.5G: expected a percentage of the origin (20%) or a size (512M, 2G)");
	ASSERT_CONTAINER_ERROR(HEAD "SnapshotSize=20%ORIGIN\n", EINVAL,
			       ":4: [Container] SnapshotSize=20%ORIGIN: expected a percentage of the origin (20%) or a size (512M, 2G)");
	ASSERT_CONTAINER_ERROR(HEAD "SnapshotSize=-1\n", EINVAL,
			       ":4: [Container] SnapshotSize=-1: expected a percentage of the origin (20%) or a size (512M, 2G)");
	ASSERT_CONTAINER_ERROR(HEAD "[Checkpoint]\nFreezeTimeoutSec=abc\n", EINVAL,
			       ":5: [Checkpoint] FreezeTimeoutSec=abc: invalid time span");
	ASSERT_CONTAINER_ERROR(HEAD "[Checkpoint]\nFreezeTimeoutSec=-1\n", EINVAL,
			       ":5: [Checkpoint] FreezeTimeoutSec=-1: invalid time span");
	ASSERT_CONTAINER_ERROR(HEAD "[Checkpoint]\nFreezeTimeoutSec=0\n", EINVAL,
			       ":5: [Checkpoint] FreezeTimeoutSec=0: must be greater than zero");
	ASSERT_CONTAINER_ERROR(HEAD "[Checkpoint]\nMaxFrozenSec=99999999999999999999\n", ERANGE,
			       ":5: [Checkpoint] MaxFrozenSec=99999999999999999999: time span too large");
	ASSERT_CONTAINER_ERROR(HEAD "[Checkpoint]\nStaging=fast\n", EINVAL,
			       ":5: [Checkpoint] Staging=fast: expected auto, memory or disk");
	ASSERT_CONTAINER_ERROR(HEAD "[Checkpoint]\nStaging=Auto\n", EINVAL,
			       ":5: [Checkpoint] Staging=Auto: expected auto, memory or disk");
	ASSERT_CONTAINER_ERROR(HEAD "[Checkpoint]\nPreDump=9\n", EINVAL,
			       ":5: [Checkpoint] PreDump=9: expected auto, no or a number of passes from 0 to 8");
	ASSERT_CONTAINER_ERROR(HEAD "[Checkpoint]\nPreDump=yes\n", EINVAL,
			       ":5: [Checkpoint] PreDump=yes: expected auto, no or a number of passes from 0 to 8");
	ASSERT_CONTAINER_ERROR(HEAD "[Checkpoint]\nPreDump=-1\n", EINVAL,
			       ":5: [Checkpoint] PreDump=-1: expected auto, no or a number of passes from 0 to 8");
	ASSERT_CONTAINER_ERROR(HEAD "[Checkpoint]\nTcpEstablished=maybe\n", EINVAL,
			       ":5: [Checkpoint] TcpEstablished=maybe: expected a boolean (yes/no, true/false, on/off, 1/0)");
	ASSERT_CONTAINER_ERROR(HEAD "[Checkpoint]\nFileLocks=2\n", EINVAL,
			       ":5: [Checkpoint] FileLocks=2: expected a boolean (yes/no, true/false, on/off, 1/0)");
	ASSERT_CONTAINER_ERROR(HEAD "[Checkpoint]\nNetworkLock=none\n", EINVAL,
			       ":5: [Checkpoint] NetworkLock=none: expected auto, skip, nftables or iptables");
	ASSERT_CONTAINER_ERROR(HEAD "[Checkpoint]\nNetworkConfig=ckptd\n", EINVAL,
			       ":5: [Checkpoint] NetworkConfig=ckptd: expected auto, external, presave or criu");
	ASSERT_CONTAINER_ERROR(HEAD "[Retention]\nKeepLast=-1\n", EINVAL,
			       ":5: [Retention] KeepLast=-1: expected a non-negative integer");
	ASSERT_CONTAINER_ERROR(HEAD "[Retention]\nKeepDaily=1x\n", EINVAL,
			       ":5: [Retention] KeepDaily=1x: expected a non-negative integer");
	ASSERT_CONTAINER_ERROR(HEAD "[Retention]\nKeepYearly=4294967296\n", ERANGE,
			       ":5: [Retention] KeepYearly=4294967296: number too large");
	ASSERT_CONTAINER_ERROR(HEAD "[Retention]\nMinFreeSpace=101%\n", ERANGE,
			       ":5: [Retention] MinFreeSpace=101%: value too large");
	ASSERT_CONTAINER_ERROR(HEAD "[Retention]\nMinFreeSpace=10 %\n", EINVAL,
			       ":5: [Retention] MinFreeSpace=10 %: expected a percentage (10%) or a size (512M, 2G)");
}

TEST(container_errors_missing) {
	ASSERT_CONTAINER_ERROR("", EINVAL, ": [Container] Cgroup= is missing (or LXC= or Machine=)");
	ASSERT_CONTAINER_ERROR("# only a comment\n", EINVAL, ": [Container] Cgroup= is missing (or LXC= or Machine=)");
	ASSERT_CONTAINER_ERROR("[Container]\nVolume=/srv/web\n", EINVAL, ": [Container] Cgroup= is missing (or LXC= or Machine=)");
	ASSERT_CONTAINER_ERROR("[Container]\nCgroup=/a\nCgroup=\nVolume=/srv/web\n", EINVAL, ": [Container] Cgroup= is missing (or LXC= or Machine=)");
	ASSERT_CONTAINER_ERROR("[Container]\nCgroup=/a\n", EINVAL,
			       ": [Container] Volume= is missing (at least one is needed)");
	ASSERT_CONTAINER_ERROR(HEAD "Volume=\n", EINVAL, ": [Container] Volume= is missing (at least one is needed)");
}

TEST(container_lxc) {
	_cleanup_free_ char *path = write_file("web.conf", "[Container]\nLXC=web-1.a+b\nLXCPath=/srv/lxc/\n");
	_cleanup_(container_config_freep) struct container_config *c = NULL;
	_cleanup_free_ char *error = NULL;
	ASSERT_OK(container_config_load(path, &c, &error));
	ASSERT_STREQ(c->lxc, "web-1.a+b");
	ASSERT_STREQ(c->lxc_path, "/srv/lxc");
	ASSERT_NULL(c->cgroup);
	ASSERT_EQ(c->n_volumes, 0);
	c = container_config_free(c);
	free(path);
	path = write_file("web.conf", "[Container]\nLXC=web\nVolume=/srv/lxc/web/rootfs\n");
	ASSERT_OK(container_config_load(path, &c, &error));
	ASSERT_NULL(c->lxc_path);
	ASSERT_EQ(c->n_volumes, 1);

	ASSERT_CONTAINER_ERROR("[Container]\nLXC=web\nCgroup=/a\n", EINVAL,
			       ": [Container] Cgroup= and LXC= exclude each other (LXC knows the container's cgroup)");
	ASSERT_CONTAINER_ERROR("[Container]\nLXC=web\nRootPid=5\n", EINVAL,
			       ": [Container] RootPid= and LXC= exclude each other (LXC knows the container's init)");
	ASSERT_CONTAINER_ERROR(HEAD "LXCPath=/srv/lxc\n", EINVAL, ": [Container] LXCPath= is set but LXC= is not");
	ASSERT_CONTAINER_ERROR("[Container]\nLXC=../web\n", EINVAL,
			       ":2: [Container] LXC=../web: not a valid LXC container name ([A-Za-z0-9_.+-], not starting with "
			       "'.' or '-', at most 255 characters)");
	ASSERT_CONTAINER_ERROR("[Container]\nLXC=a/b\n", EINVAL,
			       ":2: [Container] LXC=a/b: not a valid LXC container name ([A-Za-z0-9_.+-], not starting with "
			       "'.' or '-', at most 255 characters)");
	ASSERT_CONTAINER_ERROR("[Container]\nLXC=web\nLXCPath=lxc\n", EINVAL,
			       ":3: [Container] LXCPath=lxc: not an absolute path");
}

TEST(container_machine) {
	_cleanup_free_ char *path = write_file("web.conf", "[Container]\nMachine=web-1.b_2\n");
	_cleanup_(container_config_freep) struct container_config *c = NULL;
	_cleanup_free_ char *error = NULL;
	ASSERT_OK(container_config_load(path, &c, &error));
	ASSERT_STREQ(c->machine, "web-1.b_2");
	ASSERT_NULL(c->cgroup);
	ASSERT_EQ(c->n_volumes, 0);

	ASSERT_CONTAINER_ERROR("[Container]\nMachine=web\nCgroup=/a\n", EINVAL,
			       ": [Container] Cgroup= and Machine= exclude each other (systemd-machined knows the machine's "
			       "cgroup, leader and root directory)");
	ASSERT_CONTAINER_ERROR("[Container]\nMachine=web\nRootPid=5\n", EINVAL,
			       ": [Container] RootPid= and Machine= exclude each other (systemd-machined knows the machine's "
			       "cgroup, leader and root directory)");
	ASSERT_CONTAINER_ERROR("[Container]\nMachine=web\nLXC=web\n", EINVAL,
			       ": [Container] LXC= and Machine= exclude each other (systemd-machined knows the machine's "
			       "cgroup, leader and root directory)");
	const char *bad[] = { "-web", "web.", "a..b", "a/b", "we b",
		              "a1234567890123456789012345678901234567890123456789012345678901234" };
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		_cleanup_free_ char *text = NULL, *want = NULL;
		ASSERT_TRUE(asprintf(&text, "[Container]\nMachine=%s\n", bad[i]) > 0);
		ASSERT_TRUE(asprintf(&want, ":2: [Container] Machine=%s: not a valid machine name (1 to 64 characters "
		                     "[A-Za-z0-9_.-], not starting or ending with '.' or '-')", bad[i]) > 0);
		ASSERT_CONTAINER_ERROR(text, EINVAL, want);
	}
}

TEST(container_errors_volume_layout) {
	ASSERT_CONTAINER_ERROR(HEAD "Volume=/srv/web/data\n", EINVAL,
			       ": [Container] Volume=/srv/web/data lies inside Volume=/srv/web: name only the outer one "
			       "(ckptd snapshots the subvolumes nested in a volume with it)");
	ASSERT_CONTAINER_ERROR("[Container]\nCgroup=/a\nVolume=/srv/x/y/z\nVolume=/srv/x\n", EINVAL,
			       ": [Container] Volume=/srv/x/y/z lies inside Volume=/srv/x: name only the outer one "
			       "(ckptd snapshots the subvolumes nested in a volume with it)");
	ASSERT_CONTAINER_ERROR(HEAD "Volume=/srv/web.nested\n", EINVAL,
			       ": [Container] Volume=/srv/web.nested is named like the directory that holds the nested "
			       "subvolume snapshots of Volume=/srv/web: rename one of them");
	ASSERT_CONTAINER_ERROR("[Container]\nCgroup=/a\nVolume=/v.nested\nVolume=/v\n", EINVAL,
			       ": [Container] Volume=/v.nested is named like the directory that holds the nested "
			       "subvolume snapshots of Volume=/v: rename one of them");

	/* Neighbours, a common prefix that is not a parent, and LVM volumes are fine. */
	_cleanup_(container_config_freep) struct container_config *c = NULL;
	_cleanup_free_ char *error = NULL;
	_cleanup_free_ char *path = write_file("web.conf", HEAD "Volume=/srv/webdata\nVolume=/srv/other/web.nested\n"
	                                                  "Volume=/srv/web.nested2\nVolume=lvm:vg/web\n");
	ASSERT_OK(container_config_load(path, &c, &error));
	ASSERT_NULL(error);
	ASSERT_EQ(c->n_volumes, 5);
}

TEST(container_errors_bytes) {
	static const char nul[] = "[Container]\nCgroup=/a\0b\nVolume=/srv\n";
	_cleanup_free_ char *path = write_file_n("web.conf", nul, sizeof(nul) - 1);
	_cleanup_free_ char *error = NULL, *expected = strjoin(path, ":2: line contains a NUL byte");
	_cleanup_(container_config_freep) struct container_config *c = NULL;
	_cleanup_free_ char *content = NULL, *prefix = NULL;
	char line[300];

	ASSERT_ERROR(container_config_load(path, &c, &error), EINVAL);
	ASSERT_STREQ(error, expected);

	/* libinih's line buffer is 200 bytes on Debian; longer lines are refused, not split */
	memset(line, 'a', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	ASSERT_TRUE(asprintf(&content, "[Container]\nCgroup=/%s\n", line) > 0);
	free(path);
	path = write_file("web.conf", content);
	free(error);
	error = NULL;
	ASSERT_ERROR(container_config_load(path, &c, &error), EINVAL);
	prefix = strjoin(path, ":2: line too long (at most ");
	ASSERT_NOT_NULL(error);
	ASSERT_TRUE(strncmp(error, prefix, strlen(prefix)) == 0);
}

TEST(container_file_names) {
	static const char *const bad[] = {
		"bad name.conf", ".hidden.conf", ".conf", "web.ini", "web.conf.bak", "web",
		"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.conf", /* 65 */
	};
	_cleanup_free_ char *good = write_file("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.conf", HEAD);
	_cleanup_(container_config_freep) struct container_config *c = NULL;

	ASSERT_OK(container_config_load(good, &c, NULL));
	ASSERT_EQ(strlen(c->name), CONTAINER_NAME_MAX);

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		_cleanup_free_ char *path = write_file(bad[i], HEAD), *error = NULL;
		_cleanup_free_ char *prefix = strjoin(path, ": the file name must be NAME.conf");
		_cleanup_(container_config_freep) struct container_config *d = NULL;

		ASSERT_ERROR(container_config_load(path, &d, &error), EINVAL);
		ASSERT_NULL(d);
		ASSERT_NOT_NULL(error);
		ASSERT_TRUE(strncmp(error, prefix, strlen(prefix)) == 0);
	}
}

TEST(container_file_kinds) {
	_cleanup_free_ char *missing = NULL, *dir = NULL, *fifo = NULL, *error = NULL, *expected = NULL;
	_cleanup_(container_config_freep) struct container_config *c = NULL;

	ASSERT_TRUE(asprintf(&missing, "%s/missing.conf", test_dir) > 0);
	ASSERT_ERROR(container_config_load(missing, &c, &error), ENOENT);
	expected = strjoin(missing, ": No such file or directory");
	ASSERT_STREQ(error, expected);
	ASSERT_ERROR(container_config_load(missing, &c, NULL), ENOENT);

	ASSERT_TRUE(asprintf(&dir, "%s/dir.conf", test_dir) > 0);
	ASSERT_TRUE(mkdir(dir, 0755) == 0);
	free(error);
	error = NULL;
	ASSERT_ERROR(container_config_load(dir, &c, &error), EISDIR);
	free(expected);
	expected = strjoin(dir, ": Is a directory");
	ASSERT_STREQ(error, expected);

	/* a FIFO must not block the loader */
	ASSERT_TRUE(asprintf(&fifo, "%s/fifo.conf", test_dir) > 0);
	ASSERT_TRUE(mkfifo(fifo, 0644) == 0);
	free(error);
	error = NULL;
	ASSERT_ERROR(container_config_load(fifo, &c, &error), EBADFD);
	free(expected);
	expected = strjoin(fifo, ": not a regular file");
	ASSERT_STREQ(error, expected);
	ASSERT_NULL(c);
}

TEST(daemon_missing_file_gives_defaults) {
	_cleanup_free_ char *path = NULL, *error = NULL;
	struct daemon_config d = { .max_parallel_jobs = 77 };

	ASSERT_TRUE(asprintf(&path, "%s/nonexistent/ckptd.conf", test_dir) > 0);
	ASSERT_OK(daemon_config_load(path, &d, &error));
	ASSERT_NULL(error);
	ASSERT_NULL(d.criu);
	ASSERT_NULL(d.read_group);
	ASSERT_NULL(d.staging_dir);
	ASSERT_EQ(d.max_parallel_jobs, 4);
	ASSERT_EQ(d.max_connections, 256);
	ASSERT_EQ(d.max_connections_per_user, 16);
	daemon_config_done(&d);
}

TEST(daemon_good) {
	_cleanup_free_ char *path = write_file("ckptd.conf",
		"# ckptd.conf\n"
		"[Daemon]\n"
		"Criu=/opt/criu/bin/criu   # a newer CRIU\n"
		"ReadGroup=ckptd-readers\n"
		"StagingDir=/run/ckptd/staging/\n"
		"MaxParallelJobs=2\n"
		"MaxConnections=64\n"
		"MaxConnectionsPerUser=4\n");
	_cleanup_free_ char *empty = write_file("empty.conf", "");
	struct daemon_config d = {};

	ASSERT_OK(daemon_config_load(path, &d, NULL));
	ASSERT_STREQ(d.criu, "/opt/criu/bin/criu");
	ASSERT_STREQ(d.read_group, "ckptd-readers");
	ASSERT_STREQ(d.staging_dir, "/run/ckptd/staging");
	ASSERT_EQ(d.max_parallel_jobs, 2);
	ASSERT_EQ(d.max_connections, 64);
	ASSERT_EQ(d.max_connections_per_user, 4);
	daemon_config_done(&d);
	ASSERT_NULL(d.criu);

	ASSERT_OK(daemon_config_load(empty, &d, NULL));
	ASSERT_EQ(d.max_parallel_jobs, 4);
	ASSERT_EQ(d.max_connections, 256);
	ASSERT_EQ(d.max_connections_per_user, 16);
	daemon_config_done(&d);

	free(path);
	path = write_file("ckptd.conf", "[Daemon]\nReadGroup=1000\nMaxParallelJobs=8\nMaxParallelJobs=\n");
	ASSERT_OK(daemon_config_load(path, &d, NULL));
	ASSERT_STREQ(d.read_group, "1000");
	ASSERT_EQ(d.max_parallel_jobs, 4);
	daemon_config_done(&d);
}

TEST(daemon_errors) {
	ASSERT_DAEMON_ERROR("[Daemon]\nMaxParallelJobs=0\n", EINVAL, ":2: [Daemon] MaxParallelJobs=0: must be at least 1");
	ASSERT_DAEMON_ERROR("[Daemon]\nMaxParallelJobs=many\n", EINVAL,
			    ":2: [Daemon] MaxParallelJobs=many: expected a non-negative integer");
	ASSERT_DAEMON_ERROR("[Daemon]\nCriu=criu\n", EINVAL, ":2: [Daemon] Criu=criu: not an absolute path");
	ASSERT_DAEMON_ERROR("[Daemon]\nStagingDir=tmp\n", EINVAL, ":2: [Daemon] StagingDir=tmp: not an absolute path");
	ASSERT_DAEMON_ERROR("[Daemon]\nReadGroup=bad group\n", EINVAL,
			    ":2: [Daemon] ReadGroup=bad group: not a valid group name or GID");
	ASSERT_DAEMON_ERROR("[Daemon]\nReadGroup=-wheel\n", EINVAL,
			    ":2: [Daemon] ReadGroup=-wheel: not a valid group name or GID");
	ASSERT_DAEMON_ERROR("[Daemon]\nReadGroup=4294967295\n", EINVAL,
			    ":2: [Daemon] ReadGroup=4294967295: not a valid group name or GID");
	ASSERT_DAEMON_ERROR("[Daemon]\nMaxConnections=0\n", EINVAL, ":2: [Daemon] MaxConnections=0: must be at least 1");
	ASSERT_DAEMON_ERROR("[Daemon]\nMaxConnectionsPerUser=lots\n", EINVAL,
			    ":2: [Daemon] MaxConnectionsPerUser=lots: expected a non-negative integer");
	ASSERT_DAEMON_ERROR("[Daemon]\nFoo=1\n", EINVAL, ":2: [Daemon] Foo=1: unknown key");
	ASSERT_DAEMON_ERROR("[Daemon]\n[Container]\nCgroup=/a\n", EINVAL, ":2: [Container]: unknown section");
}

/* ReadGroup=100 is GID 100 whether or not a group has that name (it failed as "no such
 * group" before); a name is looked up. */
TEST(read_group_resolve) {
	gid_t gid = 1;

	ASSERT_OK(read_group_resolve("100", &gid));
	ASSERT_EQ(gid, 100);
	ASSERT_OK(read_group_resolve("47113", &gid));
	ASSERT_EQ(gid, 47113);
	ASSERT_OK(read_group_resolve("0", &gid));
	ASSERT_EQ(gid, 0);
	ASSERT_OK(read_group_resolve("root", &gid));
	ASSERT_EQ(gid, 0);
	ASSERT_EQ(read_group_resolve("no-such-group-ckptd", &gid), -ESRCH);
	ASSERT_EQ(read_group_resolve("4294967295", &gid), -EINVAL);
	ASSERT_EQ(read_group_resolve("bad group", &gid), -EINVAL);
	ASSERT_EQ(read_group_resolve(NULL, &gid), -EINVAL);
	ASSERT_EQ(gid, 0); /* untouched on failure */
}

TEST_MAIN()
