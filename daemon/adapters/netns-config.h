/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A container's network namespace configuration, saved before the freeze instead of inside it.
 *
 * CRIU saves a network namespace by running external tools (criu/net.c, CRIU 4.2): `ip addr
 * save`, `ip route save`, `ip -6 route save`, `ip rule save` through $CR_IP_TOOL (default "ip"),
 * then, built with libnftables as ours is, `iptables-save -V` (and `iptables-legacy-save -V`
 * when the first says "nf_tables" or fails) to pick a legacy iptables-save, which it runs as `sh
 * -c NAME` ($CR_IPTABLES replaces NAME, for IPv4 and IPv6 alike), the same for ip6tables; every
 * one through execvp(), ≈ 10 ms each here, all inside the frozen window. (Links, sysctls and the
 * nftables ruleset it reads itself, through netlink and libnftables.)
 *
 * netns_config_presave() runs exactly those command lines, in the container's network namespace
 * and before the freeze, and keeps each one's stdout, stderr and exit status in DIR (see
 * netns-replay-key.h), with DIR/bin holding `ip`, the four iptables save names and `sh` as
 * symlinks to ckptd-netns-replay. criu.c (criu_dump_options.netns_replay_dir) gives CRIU the environment that makes it
 * run those instead ($PATH with DIR/bin first, $CR_IP_TOOL, $CKPTD_NETNS_REPLAY_DIR): CRIU then
 * writes the pre-saved bytes into its images, in well under a millisecond per tool.
 *
 * Between the pre-save and the freeze the configuration can change (from the host, or by a
 * container task before it is frozen): netns_config_verify(), after the thaw, runs the state
 * commands again and compares. What is compared is the configuration, not the clock: the
 * netlink sequence numbers and port ids ip(8) puts into its messages, addresses' lifetimes and
 * time stamps (IFA_CACHEINFO), the tentative flag of an address still in DAD, routes' expiry
 * and cache info (RTA_EXPIRES, RTA_CACHEINFO), iptables-save's "#" comment lines (a date) and
 * chain counters are masked; everything else must be the same bytes. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* The replay program: ckptd-netns-replay next to the running ckptd (a build tree), else in
 * CKPTD_LIBEXEC_DIR. -ENOENT if neither is executable. */
int netns_config_find_replay(char **ret);

/* Why the pre-save cannot stand in for CRIU's tools in this daemon's environment (the user set
 * $CR_IPTABLES, whose one command CRIU runs for IPv4 and IPv6 alike), or NULL. */
const char *netns_config_unsupported(void);

/* A task of ROOT's process tree (the tree CRIU dumps) in another network namespace than ROOT's
 * (CRIU would save that namespace too, and a pre-save holds one namespace's answers): its pid; 0
 * if none; ROOT itself when the tree cannot be read. */
pid_t netns_config_other_netns_task(pid_t root);

/* Saves into DIR (created here; must not exist) the answers of CRIU's tools in the network
 * namespace NETNS_FD, and DIR/bin with links to REPLAY. */
int netns_config_presave(int netns_fd, const char *dir, const char *replay, char **ret_error);

/* Runs the state commands again in NETNS_FD and compares with DIR's answers: 0 if all are the
 * same configuration, -ESTALE with *ret_error naming the command(s) whose output changed. */
int netns_config_verify(int netns_fd, const char *dir, char **ret_error);

/* Whether two answers of a state command hold the same configuration (the masks above): NETLINK
 * for `ip ... save` output, else iptables-save text. Normalizes A and B in place. Pure (fuzzed:
 * tests/fuzz/fuzz-netns-config.c). */
bool netns_config_same_answer(bool netlink, char *a, size_t na, char *b, size_t nb);
