/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Rendering of daemon replies for ckptctl: aligned tables and multi-line views for people,
 * JSON for scripts. Every string that came from the daemon is printed with terminal control
 * characters replaced, so a tag or a file name cannot drive the terminal. Functions print to
 * stdout (results) or stderr (progress, errors) and return 0 or -ENOMEM.
 *
 * Pairs (output-pairs.c) are decoded with the catalog's codec (pair-record.h) before anything
 * is printed: a pair the codec refuses fails with -EBADMSG and one sentence in *ret_error
 * ("pair 3: pair.json lacks \"id\""). The other replies (output-results.c, output-status.c)
 * are read tolerantly: missing or mistyped fields are printed as "-", because the daemon may be
 * older or newer than we are. */

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "macro.h"

/* json_decrefp() comes with jansson ≥ 2.9 (Debian 12: 2.14). */
#define _cleanup_json_ _cleanup_(json_decrefp)

/* Sets up what output depends on (locale for character widths and UTF-8 glyphs). */
void output_init(void);

/* Prints v on stdout: indented on a terminal, compact otherwise, followed by a newline. */
int output_json(json_t *v);

/* One progress reply ({"phase": ..., "message": ...}) as a line on stderr. */
void output_progress(json_t *progress);

/* "ckptctl: VERB failed: <message>" on stderr, the message built from a Varlink error name and
 * its parameters; OperationFailed adds its state and details on their own lines. */
void output_varlink_error(const char *verb, const char *error, json_t *parameters);

/* "ckptctl: VERB failed: invalid reply from ckptd: MESSAGE" on stderr. */
void output_invalid_reply(const char *verb, const char *message);

/* freeze-and-dump: one line with the frozen-window breakdown. */
int output_pair_summary(json_t *pair, char **ret_error);
/* show: every field of the pair, one per line (fields this client does not know under their
 * JSON name). */
int output_pair_details(json_t *pair, char **ret_error);
/* "NAME needs attention: MESSAGE" (an interrupted or failed rollback). */
void output_attention(const char *container, const char *message);
/* list: one row per pair; damaged pairs (state "damaged") below, with their reason and path. */
int output_pairs_table(json_t *pairs, char **ret_error);
/* containers: one row per configured container, configuration errors below. */
int output_containers_table(json_t *containers);
/* status: the daemon, its CRIU, running jobs, configuration errors. */
int output_status(json_t *status);
/* prune: one row per decision. */
int output_prune_decisions(json_t *decisions, bool dry_run);
/* rollback / restore: what was restored, the new root task and the timings. */
int output_rollback_result(const char *container, long long id, json_t *result);
int output_restore_result(const char *container, long long id, json_t *result);
/* inspect: what discovery sees in the container, and why a checkpoint would be refused. */
int output_inspection(json_t *inspection);
/* verify: "Pair NAME/ID verified: OK" on stdout, or the problems on stderr. */
int output_verify(const char *container, long long id, bool ok, json_t *problems);
