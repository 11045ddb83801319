/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A network namespace's fingerprint: the text netns-external.h describes (links, addresses,
 * routes, rules, legacy iptables, nftables, sysctls under /proc/sys/net), section by section
 * ("## NAME" lines), as the real tools print it in that namespace; and the comparison of two. */

#include <stddef.h>

struct process_result;

/* Runs ARGV in NETNS_FD with STDIN_DATA (NULL: /dev/null) as its stdin, into *RES. -ENOENT when
 * the program is not installed; a timeout, a signal or too much output is an error. */
int netns_run_tool(int netns_fd, const char *const *argv, const char *stdin_data, size_t stdin_size,
                   struct process_result *res, char **ret_error);

/* NETNS_FD's fingerprint (netns-external.h lists its sections), newly allocated. */
int netns_fingerprint(int netns_fd, char **ret, char **ret_error);

/* Whether two fingerprints describe the same namespace: NULL if so, else the first difference,
 * e.g. "sysctl net.ipv4.ip_forward differs (1 in the container, 0 in the replay)" (then the other
 * sysctls that differ, by name) or "route4: '10.1.0.0/16 dev lo table 100' is in the container,
 * not in the replay". A and B are the names of the two sides ("the container", "the replay").
 * Order of lines inside a section does not matter; sysctls and links are keyed by name. Pure
 * (unit-tested: tests/unit/test-netns-fingerprint.c). */
char *netns_fingerprint_difference(const char *fa, const char *fb, const char *a, const char *b);

