/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The cgroup v1 freezer's first freeze and last thaw flip a kernel-wide switch (the
 * freezer_active static key: code patched on every CPU), measured here at 3-5 ms for each, both
 * inside the frozen window; while any v1 freezer cgroup is frozen the switch stays on and a
 * freeze takes 0.1 ms. So a job that freezes a v1 container first freezes an empty cgroup of its
 * own at the top of that freezer hierarchy ("ckptd-warm.PID.N"), and thaws and removes it after
 * the container is thawed: the switch flips outside the window. Best effort: without it a freeze
 * is only slower. */

struct freezer_warm {
	int fd;     /* its freezer.state, -EBADF when none is held */
	char *path; /* the cgroup this job made */
};

#define FREEZER_WARM_NONE ((struct freezer_warm){ .fd = -EBADF })

/* Makes and freezes the warm cgroup in the v1 freezer hierarchy that holds cgroup_path. */
int freezer_warm_acquire(const char *cgroup_path, struct freezer_warm *ret);
/* Thaws and removes it; nothing if none is held. */
void freezer_warm_release(struct freezer_warm *w);
/* At start-up: thaws and removes the warm cgroups a killed ckptd left, those whose pid in the name
 * no longer runs (empty ones only: the kernel refuses to remove a cgroup with tasks, and those
 * are reported). Returns how many. */
int freezer_warm_remove_leftovers(void);
