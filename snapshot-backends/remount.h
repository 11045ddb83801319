/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Unmounting a block device and mounting it again where it was, with the options it had (from
 * common/mountinfo.h's mounts_of_device()). */

#include <sys/types.h>

#include "mountinfo.h"

/* Mounts DEVICE again at every mount of m (mount order), with the options it had; bind mounts of
 * a subdirectory are bound from the first whole mount. */
int remount_all(const char *device, const struct mounts *m, char **ret_error);
/* Unmounts every mount of m (last first). On failure mounts back what it unmounted; the message
 * names VOLUME and what holds DEV busy. */
int unmount_all(const char *volume, dev_t dev, const char *device, const struct mounts *m, char **ret_error);
/* Waits (10 s at most) until the device node PATH is there: -ETIMEDOUT otherwise. */
int wait_for_device(const char *path);
