/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* CRIU's phases of a dump, from the timestamps of its -v4 log (dump.log): where the frozen
 * window goes. Each line CRIU logs starts with "(SECONDS.MICROSECONDS) " since its start; a
 * phase runs from one marker line to another (the first of each, unless said otherwise):
 *
 *   predump_rpc    "Running pre-dump scripts" -> the next line that is not "RPC": the pre-dump
 *                  notification's round trip (ckptd freezes and snapshots there)
 *   prep           -> "freezing cgroup": CRIU's work before it seizes the tasks
 *   freezing       -> the first "SEIZE"
 *   dump           -> "Running post-dump scripts": memory, files, namespaces, ...
 *   cgroup_walk    part of dump: CRIU reading every cgroup of the hierarchies the tasks are in
 *                  and writing them out: the gaps between consecutive "cg: " lines (a line
 *                  of anything else, the parasite's untimestamped ones too, ends a run of them)
 *   network_tools  part of dump: the time CRIU waits for the tools it forks to save a network
 *                  namespace: the gap after each "net: Running ..." line ("ip addr save",
 *                  "iptables-save for ...") or "Running iptables [...]" (the network lock), and
 *                  the gap before each line about iptables/ip6tables ("iptables-save -V
 *                  failed", "skipping iptables dump", "iptables has nft backend"), each gap
 *                  counted once; absent when CRIU ran no tool
 *   postdump       "Running post-dump scripts" -> "Unfreezing tasks"
 *   tail           -> "Dumping finished" (ckptd's cgroup stays frozen until CRIU replied)
 *
 * A phase whose markers are missing, or out of order, is PAIR_ABSENT. The parser is pure: any
 * text is accepted (fuzzed: tests/fuzz/fuzz-criu-log.c). */

#include <stddef.h>

#include "pair-record.h"

/* The phases in TEXT (LEN bytes, need not be NUL-terminated). */
void criu_log_phases_parse(const char *text, size_t len, struct pair_criu_phases *ret);

/* The phases in the log file PATH (NULL: -ENOMEM, for a failed path_join; opened without following symlinks; at most its first 256 MiB
 * are read). On failure *ret has every phase absent and -errno is returned with one sentence in
 * *ret_error. */
int criu_log_phases_read(const char *path, struct pair_criu_phases *ret, char **ret_error);
