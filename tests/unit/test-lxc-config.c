/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The parsers of LXC's texts, on what LXC 5.0.2 wrote here: the config `lxc-create -t busybox
 * -B btrfs` makes (edited the way test-lxc does), lxc-info's answers, and /proc/PID/cgroup of a
 * container's init on this hybrid cgroup host. */
#include "lxc.h"
#include "macro.h"
#include "test-util.h"

static char *mfree_str(char *p) {
	free(p);
	return NULL;
}

static const char busybox_config[] =
	"# Template used to create this container: /usr/share/lxc/templates/lxc-busybox\n"
	"lxc.net.0.type = veth\n"
	"lxc.rootfs.path = btrfs:/srv/lxc/web/rootfs\n"
	"lxc.rootfs.mount = /usr/lib/x86_64-linux-gnu/lxc/rootfs\n"
	"  lxc.rootfs.options = ro\n"
	"#lxc.rootfs.path = dir:/commented/out\n"
	"lxc.uts.name = \"web\"\n"
	"lxc.mount.entry = /lib lib none ro,bind 0 0\n";

TEST(config_rootfs) {
	_cleanup_free_ char *v = NULL;
	ASSERT_OK(lxc_config_rootfs(busybox_config, &v));
	ASSERT_STREQ(v, "btrfs:/srv/lxc/web/rootfs");
	v = mfree_str(v);
	/* The last one wins; spaces around '=' and at the end do not matter; the older key. */
	ASSERT_OK(lxc_config_rootfs("lxc.rootfs.path=dir:/a\n\tlxc.rootfs.path   =   dir:/b  \r\n", &v));
	ASSERT_STREQ(v, "dir:/b");
	v = mfree_str(v);
	ASSERT_OK(lxc_config_rootfs("lxc.rootfs = /old\n", &v));
	ASSERT_STREQ(v, "/old");
	v = mfree_str(v);
	ASSERT_OK(lxc_config_rootfs("lxc.rootfs.mount = /x\nlxc.rootfs.pathx = /y\n", &v));
	ASSERT_NULL(v);
	ASSERT_OK(lxc_config_rootfs("", &v));
	ASSERT_NULL(v);
}

TEST(rootfs_directory) {
	_cleanup_free_ char *d = NULL;
	ASSERT_OK(lxc_rootfs_directory("dir:/srv/lxc/web/rootfs", &d));
	ASSERT_STREQ(d, "/srv/lxc/web/rootfs");
	d = mfree_str(d);
	ASSERT_OK(lxc_rootfs_directory("btrfs:/srv/x", &d));
	ASSERT_STREQ(d, "/srv/x");
	d = mfree_str(d);
	ASSERT_OK(lxc_rootfs_directory("/plain", &d));
	ASSERT_STREQ(d, "/plain");
	d = mfree_str(d);
	ASSERT_OK(lxc_rootfs_directory("overlay:/lower:/upper", &d));
	ASSERT_NULL(d);
	ASSERT_OK(lxc_rootfs_directory("lvm:/dev/vg/web", &d));
	ASSERT_NULL(d);
	ASSERT_OK(lxc_rootfs_directory("dir:relative", &d));
	ASSERT_NULL(d);
}

TEST(info_parse) {
	bool running;
	pid_t pid;
	ASSERT_OK(lxc_info_parse("State:          RUNNING\nPID:            30972\n", &running, &pid));
	ASSERT_TRUE(running);
	ASSERT_EQ(pid, 30972);
	ASSERT_OK(lxc_info_parse("State:          STOPPED\n", &running, &pid));
	ASSERT_FALSE(running);
	ASSERT_EQ(pid, 0);
	ASSERT_ERROR(lxc_info_parse("State:          RUNNING\n", &running, &pid), EBADMSG);
	ASSERT_ERROR(lxc_info_parse("State:          RUNNING\nPID:            0\n", &running, &pid), EBADMSG);
	ASSERT_ERROR(lxc_info_parse("web doesn't exist\n", &running, &pid), EBADMSG);
}

static const char hybrid_cgroup[] =
	"9:name=systemd:/lxc.payload.web\n"
	"8:pids:/lxc.payload.web\n"
	"6:freezer:/lxc.payload.web\n"
	"2:cpu,cpuacct:/lxc.payload.web/sub\n"
	"0::/lxc.payload.web\n";

TEST(cgroup_path_of) {
	_cleanup_free_ char *p = NULL;
	ASSERT_OK(lxc_cgroup_path_of(hybrid_cgroup, NULL, &p));
	ASSERT_STREQ(p, "/lxc.payload.web");
	p = mfree_str(p);
	ASSERT_OK(lxc_cgroup_path_of(hybrid_cgroup, "freezer", &p));
	ASSERT_STREQ(p, "/lxc.payload.web");
	p = mfree_str(p);
	ASSERT_OK(lxc_cgroup_path_of(hybrid_cgroup, "cpuacct", &p));
	ASSERT_STREQ(p, "/lxc.payload.web/sub");
	p = mfree_str(p);
	/* "name=systemd" is not the controller "systemd"; "cpu" is not "cpuset". */
	ASSERT_ERROR(lxc_cgroup_path_of(hybrid_cgroup, "systemd", &p), ENOENT);
	ASSERT_ERROR(lxc_cgroup_path_of(hybrid_cgroup, "cpuset", &p), ENOENT);
	ASSERT_ERROR(lxc_cgroup_path_of("6:freezer:/x\n", NULL, &p), ENOENT);
	ASSERT_ERROR(lxc_cgroup_path_of("0::\n", NULL, &p), ENOENT);
	ASSERT_OK(lxc_cgroup_path_of("0::/", NULL, &p)); /* no newline at the end */
	ASSERT_STREQ(p, "/");
}

TEST_MAIN()
