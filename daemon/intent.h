/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The intent journal: STATE/journal/NAME.json says "a job on NAME may have frozen its cgroup and
 * made these snapshots". Written durably before freezing, removed when the job is over. A
 * daemon that finds one at start knows a predecessor died mid-job and repairs: it thaws the
 * cgroup and removes the half-made pair. */

#include <jansson.h>

int intent_record(const char *state_dir, const char *container, json_t *intent);
int intent_clear(const char *state_dir, const char *container);
/* Every recorded intent, as an array of objects (unparsable files are reported and skipped). */
int intent_load_all(const char *state_dir, json_t **ret_array);
