/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* PreDump=: CRIU pre-dump passes before the frozen window, where the kernel tracks dirty memory.
 * Each pass (`criu pre-dump --track-mem`, into IMAGES/predump-K below the dump's own image
 * directory) stops the tasks briefly while CRIU collects their memory and resets the kernel's
 * dirty bits, then writes the pages with the tasks running again; the final dump inside the
 * window (--track-mem --prev-images-dir predump-N) writes only the pages dirtied since. After the
 * thaw predump_finish() makes the images self-contained again (the pages of the pre-dumps are
 * merged into the dump's own page files, criu-pagemap.h) and removes the pre-dumps: a pair never
 * depends on anything but its own images. The pre-dumps live inside the job's image directory,
 * so every cleanup of a failed job (and recovery after a crash) removes them with it. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroup.h"
#include "config.h"
#include "criu.h"
#include "criu-pagemap.h"

struct job;

struct predump {
	char *images_dir;     /* the final dump's image directory; the passes are below it */
	unsigned passes;      /* passes the final dump builds on (0: a full dump) */
	char *parent;         /* "predump-N", relative to images_dir, or NULL */
	/* CLOCK_MONOTONIC µs: the passes' wall time, how long they stopped the tasks (all passes, the
	 * longest one), the merge after the thaw. */
	uint64_t usec, stopped_usec, stopped_max_usec, merge_usec;
	struct criu_pagemap_merge_stats merged;
};

struct predump_target {
	struct job *job;
	const struct container_config *cfg;
	pid_t root;
	bool shell_job;
	struct criu_ns_options ns;
	int freezer_fd; /* the cgroup's freeze file, as the dump opened it */
	enum cgroup_kind kind;
	const char *images_dir;
	/* Called with each pass's criu as it starts, like the dump's (the job's watchdog must be
	 * able to stop it, and the intent names it: a killed ckptd's successor waits for it). */
	int (*spawned)(pid_t pid, int service_fd, void *userdata);
	void *userdata;
};

/* Before the window: the passes PreDump= asks for, where CRIU and the kernel can track dirty
 * memory (quietly none for PreDump=auto elsewhere; a warning for PreDump=N) and the image
 * directory's file system has room for a pre-dump and a dump. A pass that fails is logged and
 * the pre-dumps are dropped: the final dump is then a full one. Fails (-ETIME) only when a pass
 * kept the tasks stopped past MaxFrozenSec (the job's watchdog stopped CRIU and thawed). */
int predump_run(struct predump *p, const struct predump_target *t, char **ret_error);
/* After the thaw: merges the pre-dumps into the dump's images and removes them. */
int predump_finish(struct predump *p, char **ret_error);
void predump_done(struct predump *p);

/* For inspect: a warning (NULL: none) when the tasks of cgroup keep much of their anonymous
 * memory in transparent huge pages, whose dirty bits the kernel keeps per huge page: a few
 * scattered writes then dirty nearly all of it, and a pre-dump saves nothing. */
int predump_huge_page_warning(const char *cgroup, char **ret_warning);
