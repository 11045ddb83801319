/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The image size estimate of a dump, from the cgroup's own memory accounting.
 *
 * What CRIU writes (pages-*.img) is every task's private anonymous memory that is present or
 * swapped out (private file mappings count once written to: copy-on-write made them anonymous),
 * and the pages of shared anonymous and tmpfs/memfd/SysV memory (shmem); clean page cache of
 * regular files is not dumped, it is read back from the files. So the estimate is
 *   v2: memory.stat anon + shmem, plus memory.swap.current where swap is accounted;
 *   v1: memory.stat total_rss (anonymous and swap cache) + total_shmem + total_swap;
 * both count the cgroup and its children, as the dump does. The "file" pages (page cache) are
 * left out on purpose: counting them would refuse dumps of containers that merely read a lot.
 * shmem counts tmpfs files the container owns even if no task maps them (CRIU dumps the
 * contents of the container's own tmpfs mounts too), an over-estimate where it does not.
 *
 * Where it can fall short of the images, which the caller's margin (a fifth, plus 16 MiB) has to
 * cover: a task moved into the cgroup after it allocated keeps its charges where they were (v2
 * never moves charges; v1 only with memory.move_charge_at_immigrate); and pages that forked
 * tasks still share copy-on-write are charged once but dumped once per task.
 *
 * A cgroup without memory accounting of its own (no memory.stat: a v1 freezer hierarchy, or a
 * v2 cgroup whose parent does not enable the memory controller) falls back to the sum of the
 * tasks' resident memory (/proc/PID/statm): shared file pages counted per task make it larger
 * than the images, swapped-out pages are missing from it. */
#include <inttypes.h>

#include "cgroup-memory.h"
#include "cgroup.h"
#include "fileio.h"
#include "macro.h"

#define SOURCE_V2 "the cgroup's memory.stat (anon + shmem) and memory.swap.current"
#define SOURCE_V1 "the cgroup's memory.stat (total_rss + total_shmem + total_swap)"
#define SOURCE_TASKS "the resident memory of the cgroup's tasks (/proc/PID/statm; the cgroup has no memory accounting)"

/* The value of "key N" in a flat-keyed cgroup file's text. */
static int keyed_value(const char *text, const char *key, uint64_t *ret) {
	size_t kl = strlen(key);
	for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
		if (strncmp(line, key, kl) == 0 && line[kl] == ' ') {
			char *end;
			errno = 0;
			unsigned long long v = strtoull(line + kl + 1, &end, 10);
			if (errno != 0 || end == line + kl + 1)
				return -EBADMSG;
			*ret = v;
			return 0;
		}
	return -ENODATA;
}

static int from_memory_stat(const char *path, uint64_t *ret_bytes, const char **ret_source) {
	_cleanup_free_ char *stat_path = path_join(path, "memory.stat"), *swap_path = path_join(path, "memory.swap.current");
	_cleanup_free_ char *text = NULL, *swap = NULL;
	if (!stat_path || !swap_path)
		return -ENOMEM;
	int r = read_full_file(stat_path, &text, NULL);
	if (r < 0)
		return r;
	uint64_t anon = 0, shmem = 0, swapped = 0;
	if (keyed_value(text, "anon", &anon) >= 0) {
		if (keyed_value(text, "shmem", &shmem) < 0)
			return -EBADMSG;
		if (read_one_line_file(swap_path, &swap) >= 0 && sscanf(swap, "%" SCNu64, &swapped) != 1)
			swapped = 0;
		*ret_source = SOURCE_V2;
	} else if (keyed_value(text, "total_rss", &anon) >= 0) {
		if (keyed_value(text, "total_shmem", &shmem) < 0)
			return -EBADMSG;
		(void) keyed_value(text, "total_swap", &swapped); /* only with swap accounting */
		*ret_source = SOURCE_V1;
	} else
		return -EBADMSG;
	*ret_bytes = anon + shmem + swapped;
	return 0;
}

static int from_tasks(const char *path, uint64_t *ret) {
	_cleanup_free_ pid_t *pids = NULL;
	size_t n;
	int r = cgroup_list_pids(path, &pids, &n);
	if (r < 0)
		return r;
	uint64_t total = 0;
	long page = sysconf(_SC_PAGESIZE);
	for (size_t i = 0; i < n; i++) {
		char p[64];
		snprintf(p, sizeof(p), "/proc/%d/statm", (int) pids[i]);
		_cleanup_free_ char *line = NULL;
		unsigned long size, resident;
		if (read_one_line_file(p, &line) < 0 || sscanf(line, "%lu %lu", &size, &resident) != 2)
			continue;
		total += (uint64_t) resident * (uint64_t) page;
	}
	*ret = total;
	return 0;
}

int cgroup_memory_estimate(const char *path, uint64_t *ret_bytes, const char **ret_source) {
	if (from_memory_stat(path, ret_bytes, ret_source) >= 0)
		return 0;
	*ret_source = SOURCE_TASKS;
	return from_tasks(path, ret_bytes);
}
