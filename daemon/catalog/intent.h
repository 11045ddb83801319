/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The intent journal: one file per job, STATE/journal/NAME-KIND-PAIR-USEC.json, says "a job on
 * NAME may have frozen its cgroup, made these snapshots, be at this step of a rollback". The
 * first intent_record() of a job creates its file (never replacing another: link(2), which
 * fails on an existing name) and remembers the file's name in the record ("journal_file"); the
 * next ones rewrite that same file atomically; intent_clear() removes it when the job is over.
 * A daemon that finds one at start knows a predecessor died mid-job and repairs: it thaws the
 * cgroup and removes the half-made pair of a freeze-and-dump; an interrupted rollback is kept,
 * marked "attention" and "interrupted", finished once by a job when its pair is intact
 * (manager_finish_interrupted()), and reported until a rollback or restore of the container
 * succeeds or the user acknowledges it (see manager_recover()). */

#include <jansson.h>
#include <stdbool.h>

int intent_record(const char *state_dir, const char *container, json_t *intent);
int intent_clear(const char *state_dir, json_t *intent);
/* Every recorded intent, as an array of objects, each with its "journal_file" (unparsable
 * files are reported and skipped, never removed). */
int intent_load_all(const char *state_dir, json_t **ret_array);
/* The "attention" messages of interrupted rollbacks of NAME (NULL: of every container), as an
 * array of {"container", "message", "journal_file"}. */
int intent_attention(const char *state_dir, const char *container, json_t **ret_array);
/* What an interrupted (or failed: how = "failed") rollback left, for the user: at which step,
 * how far, the command that undoes it (a rollback to its safety pair) and the one that finishes it. */
char *intent_rollback_attention(const char *container, json_t *intent, const char *how);
/* Forgets the interrupted rollbacks of NAME (a later rollback or restore succeeded, or the user
 * acknowledged them). Returns how many were removed. */
int intent_clear_attention(const char *state_dir, const char *container);
