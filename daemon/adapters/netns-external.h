/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A container's network namespace treated as external to CRIU (NetworkConfig=auto|external): the
 * dump passes `--external net[INODE]:KEY` and CRIU records nothing of the namespace (no tool
 * forked, no netlink reading inside the frozen window); ckptd keeps the namespace's configuration
 * in the pair itself and, at restore, builds a fresh namespace from it and hands it to CRIU
 * (`inherit-fd fd[0]:KEY`).
 *
 * That is only valid when the restore loses nothing, which ckptd proves before the freeze:
 * netns_external_save() reads the configuration with the real tools (what it keeps is listed
 * below), netns_external_replay() writes it into a scratch namespace of its own, and the
 * fingerprints of both namespaces must be equal. A fingerprint is the text of, in this order:
 *   link       `ip -d -o link show`: every link, its kind, flags (UP), MTU, MAC, queues
 *   addr       `ip -o addr show`: every address with its flags and lifetimes
 *   route4     `ip -4 route show table all`     route6  `ip -6 route show table all`
 *   rule4      `ip -4 rule show`                 rule6   `ip -6 rule show`
 *   iptables-legacy / ip6tables-legacy  `iptables-legacy-save`, `ip6tables-legacy-save` (without
 *              the "#" lines and chain counters)
 *   nft        `nft list ruleset` (this includes what iptables-nft made)
 *   sysctl     `sysctl net`: every sysctl under /proc/sys/net as the namespace sees it, except
 *              net.netfilter.nf_conntrack_count (a count of connections, not configuration)
 * What is kept and replayed: lo's MTU and UP flag (`ip link set lo mtu N up`), `ip addr save`,
 * `ip -4 route save table all`, `ip -6 route save table T` for main and every other table but
 * local (the kernel makes those), `ip -4/-6 rule save`, the legacy iptables/ip6tables rulesets
 * (iptables-legacy-restore) and `nft list ruleset` (nft -f). Sysctls are not replayed: a
 * namespace whose sysctls differ from a new namespace's is not proven, and stays with the
 * pre-save (netns-config.h). Links other than lo are out of scope (a veth's peer lives outside
 * the namespace): such a namespace is never proven. */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "netns-fingerprint.h"

/* The name CRIU knows the namespace by, in the dump's --external and the restore's inherit-fd. */
#define NETNS_EXTERNAL_KEY "ckptd-netns"

/* A new, empty network namespace (only lo, down), as an fd; nothing on the host names it, so it
 * is gone when the fd is closed. Made by this thread, which stays in its own namespace. */
int netns_external_new(int *ret_fd, char **ret_error);

/* The configuration of a namespace as the replay needs it: named blobs. */
struct netns_saved_file {
	char *name;
	char *data;
	size_t size;
};
struct netns_saved {
	struct netns_saved_file *f;
	size_t n;
};
void netns_saved_done(struct netns_saved *s);

/* Reads NETNS_FD's configuration (the list above) and its fingerprint ("fingerprint"). */
int netns_external_save(int netns_fd, struct netns_saved *ret, char **ret_error);
/* The name of the file in a pair's images/ that holds it (there it is checksummed, exported and
 * imported with the images: the pair stays self-contained). */
#define NETNS_EXTERNAL_FILE "ckptd-netns-external"
/* Writes S into PATH (created here; must not exist; synced) / reads it back (no symlink
 * followed) / parses it from memory (pure). */
int netns_saved_write_file(const struct netns_saved *s, const char *path, char **ret_error);
int netns_saved_read_file(const char *path, struct netns_saved *ret, char **ret_error);
int netns_saved_parse(const char *buf, size_t size, struct netns_saved *ret, char **ret_error);
/* The saved fingerprint, or NULL. */
const char *netns_saved_fingerprint(const struct netns_saved *s);

/* Writes S into NETNS_FD (a new namespace): -EIO with the tool's message when a firewall ruleset
 * is refused (the ip restores ignore "File exists": the kernel made those entries already; the
 * fingerprint shows whether anything else is missing). */
int netns_external_replay(int netns_fd, const struct netns_saved *s, char **ret_error);

/* Proves that NETNS_FD would come back the same from S: replays S into a scratch namespace and
 * compares the fingerprints. 0 and *ret_reason NULL when proven; 0 and *ret_reason set (why not)
 * when not; negative only when the proof itself could not be made. */
int netns_external_prove(const struct netns_saved *s, char **ret_reason, char **ret_error);

/* Why a namespace is not even tried, from discovery's report: an nspawn machine (machines keep
 * the pre-save: nspawn removes its veth when the machine dies, and a machine's sysfs and
 * preparation were not tried with an external namespace), a link other than lo (named with its
 * kind); NULL when a proof may decide. (TCP connections inside the namespace
 * are restored into the rebuilt one: CRIU's nftables lock and TCP repair work there as in a
 * namespace it re-created.) */
char *netns_external_out_of_scope(json_t *report);

/* The whole decision for NETNS_FD, whose discovery report is REPORT: *ret_reason NULL and *ret_saved
 * the configuration to keep when proven; else *ret_reason says why not (the scope, the first
 * difference, or why no proof could be made) and *ret_saved is empty. */
void netns_external_check(int netns_fd, json_t *report, struct netns_saved *ret_saved, char **ret_reason);
