/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The names under which ckptd keeps a tool's pre-saved answer (netns-config.c writes them,
 * ckptd-netns-replay reads them): one command line, e.g. {"ip", "-6", "route", "save"}, is the
 * key "ip_-6_route_save"; its answer is KEY.out (stdout, byte for byte), KEY.err (stderr) and
 * KEY.rc (the exit status, decimal); KEY.used is created by the replay the first time it
 * answers. Header-only: the replay program links nothing of ckptd. */

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#define NETNS_REPLAY_DIR_ENV "CKPTD_NETNS_REPLAY_DIR"
#define NETNS_REPLAY_KEY_MAX 200
#define NETNS_REPLAY_WORDS_MAX 8

static inline bool netns_replay_word_ok(const char *w) {
	if (!w || !*w)
		return false;
	for (const char *c = w; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '-' ||
		      *c == '.'))
			return false;
	return true;
}

/* The key of WORDS (N of them) into BUF (NETNS_REPLAY_KEY_MAX + 1 bytes); false when a word is
 * empty or has a character other than letters, digits, '-' and '.', or the key is too long. */
static inline bool netns_replay_key(const char *const *words, size_t n, char *buf) {
	size_t len = 0;
	if (n == 0 || n > NETNS_REPLAY_WORDS_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		size_t k = words[i] ? strlen(words[i]) : 0;
		if (!netns_replay_word_ok(words[i]) || len + k + (i > 0) > NETNS_REPLAY_KEY_MAX)
			return false;
		if (i > 0)
			buf[len++] = '_';
		memcpy(buf + len, words[i], k);
		len += k;
	}
	buf[len] = '\0';
	return true;
}

/* The tools the replay answers for under their own names (CRIU execs them through $PATH or
 * $CR_IP_TOOL, or runs them with `sh -c NAME`). */
static inline bool netns_replay_is_tool(const char *name) {
	static const char *const tools[] = { "ip", "iptables-save", "ip6tables-save", "iptables-legacy-save",
		                             "ip6tables-legacy-save" };
	for (size_t i = 0; i < sizeof(tools) / sizeof(tools[0]); i++)
		if (strcmp(name, tools[i]) == 0)
			return true;
	return false;
}
