/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The regular files a CRIU image needs (files.img "REG" records: path, size, mode), read with
 * CRIU's own image tool (crit, with a time limit), checked against the filesystem as it is now. */

#include <jansson.h>

/* Appends "missing: PATH" and "size changed: PATH (checkpoint N bytes, now M)" strings to
 * problems. root: where the image's "/" is now. */
int image_files_check(const char *images_dir, const char *root, json_t *problems, char **ret_error);

/* The same for crit's output (`crit decode` of files.img, JSON) already read: pure but for the
 * stat() of each file below root; -EBADMSG when it is not an image document. Fuzzed. */
int image_files_parse(const char *crit_output, const char *root, json_t *problems, char **ret_error);
