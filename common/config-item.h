/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The configuration's key tables: (section, key, parser, offset, default) per key. Internal to
 * config.c and config-values.c. */

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Parses one value into *field; an empty value sets the default dflt. On error returns -EINVAL
 * or -ERANGE (or -ENOMEM) with *ret_error saying what is wrong with the value (the caller adds
 * file, line and key). */
typedef int (*config_parse_t)(const char *value, void *field, uint64_t dflt, char **ret_error);

struct config_item {
	const char *section;
	const char *key;
	config_parse_t parse;
	size_t offset;
	uint64_t dflt;
};

int config_parse_path(const char *value, void *field, uint64_t dflt, char **ret_error);
int config_parse_path_or_root(const char *value, void *field, uint64_t dflt, char **ret_error);
int config_parse_string(const char *value, void *field, uint64_t dflt, char **ret_error);
int config_parse_group(const char *value, void *field, uint64_t dflt, char **ret_error);
int config_parse_lxc_name(const char *value, void *field, uint64_t dflt, char **ret_error);
int config_parse_machine_name(const char *value, void *field, uint64_t dflt, char **ret_error);
int config_parse_volume(const char *value, void *field, uint64_t dflt, char **ret_error);
int config_parse_bridge_map(const char *value, void *field, uint64_t dflt, char **ret_error);
int config_parse_pid(const char *value, void *field, uint64_t dflt, char **ret_error);
int config_parse_sec_positive(const char *value, void *field, uint64_t dflt, char **ret_error);
int config_parse_staging(const char *value, void *field, uint64_t dflt, char **ret_error);
int config_parse_network_lock(const char *value, void *field, uint64_t dflt, char **ret_error);
int config_parse_network_config(const char *value, void *field, uint64_t dflt, char **ret_error);
int config_parse_bool(const char *value, void *field, uint64_t dflt, char **ret_error);
int config_parse_unsigned(const char *value, void *field, uint64_t dflt, char **ret_error);
int config_parse_unsigned_positive(const char *value, void *field, uint64_t dflt, char **ret_error);
int config_parse_min_free(const char *value, void *field, uint64_t dflt, char **ret_error);
int config_parse_pre_dump(const char *value, void *field, uint64_t dflt, char **ret_error);
int config_parse_snapshot_size(const char *value, void *field, uint64_t dflt, char **ret_error);
