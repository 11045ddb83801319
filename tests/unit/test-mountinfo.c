/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Discovery's parsers on real mountinfo texts: the hand-built container of the integration
 * tests and a systemd-nspawn machine, each against the host's table. */
#include <sys/mount.h>

#include "macro.h"
#include "mountinfo.h"
#include "test-util.h"

static const char host_text[] =
	"21 26 0:20 / /proc rw,relatime - proc proc rw\n"
	"26 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
	"40 26 0:38 / /tmp/ckptd\\040test/mnt rw,relatime shared:7 - btrfs /dev/loop0 rw,subvol=/\n"
	"41 26 0:36 / /sys/fs/cgroup/systemd rw,nosuid - cgroup cgroup rw,name=systemd\n";

/* tests/integration/ct-init.sh: pivot_root into a subvolume, slaves of the host. */
static const char ct_text[] =
	"71 41 0:38 /ct / rw,relatime master:7 - btrfs /dev/loop0 rw,subvolid=256,subvol=/ct\n"
	"72 71 0:42 / /dev rw,nosuid,relatime - tmpfs tmpfs rw,size=1024k,mode=755\n"
	"73 72 0:43 / /dev/pts rw,relatime - devpts devpts rw,mode=620,ptmxmode=666\n"
	"76 71 0:45 / /sys ro,nosuid,nodev,noexec,relatime - sysfs sysfs ro\n"
	"77 71 254:0 /usr /usr ro,relatime master:1 - ext4 /dev/vda rw\n"
	"78 71 254:0 /srv/share /srv/share rw,relatime - ext4 /dev/vda rw\n"
	"79 71 0:46 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n";

/* systemd-nspawn --private-network: sysfs subtrees without their root; boot_id bound twice
 * from a deleted file. */
static const char nspawn_text[] =
	"111 86 0:38 /machine / rw,relatime shared:1 - btrfs /dev/loop3 rw,subvol=/machine\n"
	"113 111 0:50 / /sys ro,nosuid,nodev,noexec,relatime shared:3 - tmpfs tmpfs rw,mode=555\n"
	"117 111 0:53 / /run rw,nosuid,nodev shared:6 - tmpfs tmpfs rw,mode=755\n"
	"41 111 0:56 / /proc rw,nosuid,nodev,noexec,relatime shared:11 - proc proc rw\n"
	"44 41 0:56 /sys /proc/sys ro,nosuid,nodev,noexec,relatime shared:11 - proc proc rw\n"
	"61 113 0:57 /kernel /sys/kernel ro,nosuid,nodev,noexec,relatime shared:13 - sysfs sysfs ro\n"
	"70 52 0:36 /ckptd-test.1/nspawn/payload /sys/fs/cgroup/systemd rw,nosuid shared:23 - cgroup cgroup rw,name=systemd\n"
	"71 44 0:53 /.#proc-sys-kernel-random-boot-id1c//deleted /proc/sys/kernel/random/boot_id ro shared:6 - tmpfs tmpfs rw\n"
	"72 41 0:53 /.#proc-sys-kernel-random-boot-id1c//deleted /proc/sys/kernel/random/boot_id rw shared:6 - tmpfs tmpfs rw\n";

TEST(parse_host) {
	_cleanup_(mounts_done) struct mounts host = {};
	ASSERT_OK(mounts_parse_text(host_text, &host));
	ASSERT_EQ(host.n, 4);
	ASSERT_STREQ(host.m[2].mountpoint, "/tmp/ckptd test/mnt"); /* \040 unescaped */
	ASSERT_EQ(host.m[2].major, 0);
	ASSERT_EQ(host.m[2].minor, 38);
	ASSERT_STREQ(host.m[2].optional, "shared:7");
	ASSERT_STREQ(host.m[2].fstype, "btrfs");
	ASSERT_STREQ(host.m[0].optional, "");
	ASSERT_TRUE(mounts_has_peer_group(&host, 7));
	ASSERT_TRUE(mounts_has_peer_group(&host, 1));
	ASSERT_FALSE(mounts_has_peer_group(&host, 17)); /* not a prefix match of shared:1 */
	ASSERT_STREQ(mounts_root(&host)->mountpoint, "/");
}

TEST(hand_built_container) {
	_cleanup_(mounts_done) struct mounts host = {}, ct = {};
	ASSERT_OK(mounts_parse_text(host_text, &host));
	ASSERT_OK(mounts_parse_text(ct_text, &ct));
	const struct mount *rm = mounts_root(&ct);
	ASSERT_NOT_NULL(rm);
	ASSERT_EQ(rm->id, 71);
	ASSERT_FALSE(mount_read_only(rm));
	_cleanup_free_ char *root = mounts_host_path(&host, rm->major, rm->minor, rm->root);
	ASSERT_STREQ(root, "/tmp/ckptd test/mnt/ct");
	_cleanup_free_ char *usr = mounts_host_path(&host, 254, 0, "/usr");
	ASSERT_STREQ(usr, "/usr");
	ASSERT_TRUE(mount_read_only(&ct.m[4]));
	_cleanup_free_ char *share = mounts_host_path(&host, 254, 0, "/srv/share");
	ASSERT_STREQ(share, "/srv/share");
	ASSERT_NULL(mounts_host_path(&host, 0, 42, "/")); /* the container's own tmpfs */
	ASSERT_TRUE(mounts_has_id(&ct, 79));
	ASSERT_FALSE(mounts_has_id(&ct, 21)); /* the host's /proc is not the container's */
	ASSERT_TRUE(mounts_fs_root_mounted(&ct, 0, 45));
}

TEST(nspawn_machine) {
	_cleanup_(mounts_done) struct mounts host = {}, ct = {};
	ASSERT_OK(mounts_parse_text(host_text, &host));
	ASSERT_OK(mounts_parse_text(nspawn_text, &ct));
	ASSERT_EQ(mounts_root(&ct)->id, 111);
	/* /sys/kernel binds /kernel of a sysfs whose root nobody mounts: CRIU cannot dump it. */
	ASSERT_FALSE(mounts_has_device(&host, 0, 57));
	ASSERT_FALSE(mounts_fs_root_mounted(&ct, 0, 57));
	/* /proc/sys binds /sys of the proc mounted at /proc: fine. */
	ASSERT_TRUE(mounts_fs_root_mounted(&ct, 0, 56));
	/* The cgroup hierarchy: the subtree of the host's mount. */
	_cleanup_free_ char *cg = mounts_host_path(&host, 0, 36, "/ckptd-test.1/nspawn/payload");
	ASSERT_STREQ(cg, "/sys/fs/cgroup/systemd/ckptd-test.1/nspawn/payload");
	ASSERT_STREQ(ct.m[7].root, ct.m[8].root);
}

TEST(paths) {
	ASSERT_TRUE(path_is_below("/srv/ct", "/srv/ct"));
	ASSERT_TRUE(path_is_below("/srv/ct/rootfs", "/srv/ct"));
	ASSERT_FALSE(path_is_below("/srv/ct2", "/srv/ct"));
	ASSERT_TRUE(path_is_below("/anything", "/"));
	_cleanup_free_ char *a = path_rebase("/mnt", "/ct/x", "/ct"), *b = path_rebase("/", "/usr", "/"),
	                    *c = path_rebase("/mnt", "/ct", "/ct"), *d = path_rebase("/mnt", "/ct", "/");
	ASSERT_STREQ(a, "/mnt/x");
	ASSERT_STREQ(b, "/usr");
	ASSERT_STREQ(c, "/mnt");
	ASSERT_STREQ(d, "/mnt/ct");
	_cleanup_free_ char *e = mountinfo_unescape("/a\\040b\\011c\\134d");
	ASSERT_STREQ(e, "/a b\tc\\d");
}

TEST(flags_for_mounting_again) {
	_cleanup_(mounts_done) struct mounts ms = {};
	ASSERT_OK(mounts_parse_text(
		"30 26 253:3 / /srv/d\\040x ro,nosuid,noatime shared:9 - ext4 /dev/mapper/vg-d rw,errors=remount-ro,stripe=4\n"
		"31 26 253:3 /sub /mnt rw,relatime - ext4 /dev/mapper/vg-d rw,errors=remount-ro,stripe=4\n"
		"garbage line\n",
		&ms));
	ASSERT_EQ_U(ms.n, 2);
	ASSERT_STREQ(ms.m[0].mountpoint, "/srv/d x");
	ASSERT_STREQ(ms.m[0].super, "rw,errors=remount-ro,stripe=4");
	ASSERT_STREQ(ms.m[0].optional, "shared:9");
	unsigned long flags;
	_cleanup_free_ char *data = NULL, *data2 = NULL;
	ASSERT_OK(mount_flags(&ms.m[0], &flags, &data));
	ASSERT_EQ_U(flags, MS_RDONLY | MS_NOSUID | MS_NOATIME);
	ASSERT_STREQ(data, "errors=remount-ro,stripe=4");
	ASSERT_OK(mount_flags(&ms.m[1], &flags, &data2));
	ASSERT_EQ_U(flags, MS_RELATIME);
}

TEST(cgroup_hierarchies) {
	static const char text[] =
		"30 26 0:26 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw\n"
		"31 26 0:27 / /sys/fs/cgroup/freezer rw,nosuid - cgroup cgroup rw,freezer\n"
		"32 26 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct\n"
		"33 26 0:29 / /sys/fs/cgroup/net_cls rw,nosuid - cgroup cgroup rw,net_cls,freezer_x\n";
	_cleanup_(mounts_done) struct mounts ms = {};
	ASSERT_OK(mounts_parse_text(text, &ms));
	ASSERT_TRUE(mount_is_cgroup_hierarchy(&ms.m[0], NULL));
	ASSERT_FALSE(mount_is_cgroup_hierarchy(&ms.m[1], NULL));
	ASSERT_TRUE(mount_is_cgroup_hierarchy(&ms.m[1], "freezer"));
	ASSERT_FALSE(mount_is_cgroup_hierarchy(&ms.m[0], "freezer"));
	ASSERT_TRUE(mount_is_cgroup_hierarchy(&ms.m[2], "cpuacct")); /* the last token */
	ASSERT_FALSE(mount_is_cgroup_hierarchy(&ms.m[2], "cpu,cpuacct"));
	ASSERT_FALSE(mount_is_cgroup_hierarchy(&ms.m[3], "freezer")); /* a whole token, not a prefix */
}

TEST_MAIN()
