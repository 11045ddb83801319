/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cgroup_memory_estimate() on the real kernel: a child with 48 MiB of anonymous memory and a
 * 16 MiB memfd, in a cgroup with memory accounting (v2 with the memory controller, or the v1
 * memory hierarchy, whichever this machine has) and in one without (a v1 freezer or v2 cgroup
 * without the controller), where the tasks' resident memory stands in. Needs root; parts the
 * machine cannot offer are skipped and said so. */
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "cgroup-memory.h"
#include "fileio.h"
#include "macro.h"
#include "test-util.h"

#define ANON_BYTES (48ULL << 20)
#define SHMEM_BYTES (16ULL << 20)

/* The child fills its memory and waits to be killed. */
static pid_t child_start(void) {
	pid_t pid = fork();
	if (pid == 0) {
		char *anon = mmap(NULL, ANON_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		int mfd = memfd_create("test-cgroup-memory", 0);
		if (anon == MAP_FAILED || mfd < 0 || ftruncate(mfd, (off_t) SHMEM_BYTES) < 0)
			_exit(2);
		char *shm = mmap(NULL, SHMEM_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
		if (shm == MAP_FAILED)
			_exit(2);
		memset(anon, 1, ANON_BYTES);
		memset(shm, 2, SHMEM_BYTES);
		for (;;)
			pause();
	}
	return pid;
}

/* Moves pid into a new cgroup under parent before it allocates: a task's charges stay where it
 * made them. Returns the new cgroup's path, or NULL if parent cannot have one. */
static char *cgroup_new(const char *parent, pid_t pid) {
	char *path = NULL;
	if (asprintf(&path, "%s/ckptd-unit-memory-%d", parent, (int) getpid()) < 0)
		return NULL;
	if (mkdir(path, 0755) < 0) {
		free(path);
		return NULL;
	}
	_cleanup_free_ char *procs = path_join(path, "cgroup.procs");
	char v[32];
	snprintf(v, sizeof(v), "%d", (int) pid);
	if (write_string_file(procs, v) < 0) {
		(void) rmdir(path);
		free(path);
		return NULL;
	}
	return path;
}

static bool has_line(const char *file, const char *word) {
	_cleanup_free_ char *text = NULL;
	return read_full_file(file, &text, NULL) >= 0 && strstr(text, word);
}

/* The cgroup roots of this machine: with memory accounting, without. */
static const char *memory_root(void) {
	if (has_line("/sys/fs/cgroup/cgroup.subtree_control", "memory"))
		return "/sys/fs/cgroup";
	if (access("/sys/fs/cgroup/memory/memory.stat", F_OK) >= 0)
		return "/sys/fs/cgroup/memory";
	return NULL;
}

static const char *plain_root(void) {
	if (access("/sys/fs/cgroup/freezer/freezer.state", F_OK) >= 0 || access("/sys/fs/cgroup/freezer/tasks", F_OK) >= 0)
		return "/sys/fs/cgroup/freezer";
	if (access("/sys/fs/cgroup/unified/cgroup.procs", F_OK) >= 0 &&
	    !has_line("/sys/fs/cgroup/unified/cgroup.subtree_control", "memory"))
		return "/sys/fs/cgroup/unified";
	return NULL;
}

static void check(const char *root, bool accounted) {
	if (!root) {
		printf("  skipped: no cgroup %s memory accounting here\n", accounted ? "with" : "without");
		return;
	}
	/* Stopped until it is in the cgroup, so that its memory is charged there. */
	int gate[2];
	ASSERT_TRUE(pipe(gate) >= 0);
	pid_t pid = fork();
	ASSERT_TRUE(pid >= 0);
	if (pid == 0) {
		char b;
		close(gate[1]);
		if (read(gate[0], &b, 1) != 1)
			_exit(3);
		pid_t c = child_start();
		int status;
		_exit(waitpid(c, &status, 0) == c ? 0 : 4);
	}
	close(gate[0]);
	_cleanup_free_ char *cg = cgroup_new(root, pid);
	if (!cg) {
		printf("  skipped: cannot make a cgroup under %s\n", root);
		kill(pid, SIGKILL);
		(void) waitpid(pid, NULL, 0);
		return;
	}
	ASSERT_EQ(write(gate[1], "x", 1), 1);
	close(gate[1]);
	/* Until the grandchild has filled its memory. */
	uint64_t bytes = 0;
	const char *source = NULL;
	for (int i = 0; i < 500; i++) {
		ASSERT_OK(cgroup_memory_estimate(cg, &bytes, &source));
		if (bytes >= ANON_BYTES + SHMEM_BYTES)
			break;
		usleep(10 * 1000);
	}
	printf("  %s: %llu MiB from %s\n", cg, (unsigned long long) (bytes >> 20), source);
	ASSERT_TRUE(bytes >= ANON_BYTES + SHMEM_BYTES);
	ASSERT_TRUE(bytes < ANON_BYTES + SHMEM_BYTES + (48ULL << 20)); /* page cache and libraries left out */
	ASSERT_TRUE((strstr(source, "memory.stat") != NULL) == accounted);
	_cleanup_free_ char *procs = path_join(cg, "cgroup.procs"), *list = NULL;
	ASSERT_OK(read_full_file(procs, &list, NULL));
	for (char *s = list, *e; *s; s = e) {
		long v = strtol(s, &e, 10);
		if (e == s)
			break;
		(void) kill((pid_t) v, SIGKILL);
		e += strspn(e, "\n");
	}
	(void) waitpid(pid, NULL, 0);
	for (int i = 0; i < 200 && rmdir(cg) < 0 && errno == EBUSY; i++)
		usleep(10 * 1000);
}

TEST(accounted) {
	check(memory_root(), true);
}

TEST(not_accounted) {
	check(plain_root(), false);
}

TEST_MAIN()
