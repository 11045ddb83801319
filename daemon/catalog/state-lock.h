/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* One ckptd per state directory: an exclusive flock() on STATE/lock, taken before recovery and
 * held (the fd open, O_CLOEXEC so CRIU never inherits it) for the daemon's whole life. The
 * holder writes its pid into the file, so a second daemon can name it. */

/* Returns the locked fd. -EBUSY when another process holds it (logged, naming its pid). */
int state_dir_lock(const char *state_dir, int *ret_fd);
