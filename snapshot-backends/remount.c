/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unmounting a block device everywhere and mounting it again as it was: what a backend that
 * replaces a device's content (LVM rollback) does around the swap. See remount.h. */
#include <sys/mount.h>
#include <sys/stat.h>

#include "error.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "proc-holders.h"
#include "remount.h"
#include "time-util.h"

#define DEVICE_WAIT_USEC (10 * USEC_PER_SEC)

/* Mounts DEVICE again where it was (mount order), with the options it had; bind mounts of a
 * subdirectory are bound from the first whole mount. */
int remount_all(const char *device, const struct mounts *m, char **ret_error) {
	const char *whole = NULL;
	for (size_t i = 0; i < m->n; i++) {
		const struct mount *e = &m->m[i];
		_cleanup_free_ char *data = NULL;
		unsigned long flags;
		int r = mount_flags(e, &flags, &data);
		if (r < 0)
			return error_setf(ret_error, r, "cannot mount %s at %s again: options %s / %s: %m", device,
			                  e->mountpoint, e->options, e->super);
		if (streq(e->root, "/") || !whole) {
			if (mount(device, e->mountpoint, e->fstype, flags, data && *data ? data : NULL) < 0) {
				r = negative_errno();
				/* Not every option mountinfo shows is accepted back: retry with the flags only. */
				if (r == -EINVAL && mount(device, e->mountpoint, e->fstype, flags, NULL) >= 0)
					r = 0;
			}
			if (r >= 0 && !streq(e->root, "/")) {
				/* Only subdirectory mounts existed: this one is the whole filesystem now. */
				log_warning("%s was mounted at %s as a bind mount of %s; it is now mounted whole", device,
				            e->mountpoint, e->root);
			}
			if (r >= 0 && !whole)
				whole = e->mountpoint;
		} else {
			_cleanup_free_ char *src = path_join(whole, e->root);
			if (!src)
				return -ENOMEM;
			if (mount(src, e->mountpoint, NULL, MS_BIND, NULL) < 0 ||
			    ((flags & MS_RDONLY) && mount(NULL, e->mountpoint, NULL, MS_REMOUNT | MS_BIND | flags, NULL) < 0))
				r = negative_errno();
		}
		if (r < 0)
			return error_setf(ret_error, r, "cannot mount %s at %s again (%s, %s): %s", device, e->mountpoint, e->fstype,
			            e->options, strerror(-r));
	}
	return 0;
}

/* Unmounts every mount of DEV (last first). On failure mounts back what it unmounted and names
 * what holds the device. */
int unmount_all(const char *volume, dev_t dev, const char *device, const struct mounts *m,
                       char **ret_error) {
	for (size_t i = m->n; i > 0; i--) {
		const struct mount *e = &m->m[i - 1];
		if (umount2(e->mountpoint, UMOUNT_NOFOLLOW) >= 0)
			continue;
		int r = negative_errno();
		_cleanup_free_ char *holders = r == -EBUSY ? device_holders_describe(dev, m) : NULL;
		/* Put back what was unmounted already. */
		struct mounts rest = { .m = m->m + i, .n = m->n - i };
		_cleanup_free_ char *why = NULL;
		if (rest.n > 0 && remount_all(device, &rest, &why) < 0)
			log_warning("%s", strna(why));
		if (r == -EBUSY)
			return error_setf(ret_error, r, "cannot unmount %s (%s) from %s: it is busy; held by: %s", volume, device,
			            e->mountpoint, holders ? holders : "nothing found (a kernel user such as swap or an NFS export?)");
		return error_setf(ret_error, r, "cannot unmount %s (%s) from %s: %s", volume, device, e->mountpoint, strerror(-r));
	}
	return 0;
}

/* Waits until the device node of a (re)activated or renamed LV is there. */
int wait_for_device(const char *path) {
	uint64_t deadline = now_usec(CLOCK_MONOTONIC) + DEVICE_WAIT_USEC;
	for (;;) {
		struct stat st;
		if (stat(path, &st) >= 0 && S_ISBLK(st.st_mode))
			return 0;
		if (now_usec(CLOCK_MONOTONIC) > deadline)
			return -ETIMEDOUT;
		usleep(20000);
	}
}
