/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <jansson.h>
#include <stdbool.h>

struct manager;
struct container;
struct connection;
struct varlink_call;

/* Applies the container's [Retention] now (or only reports, dry_run); one object per pair
 * ({container, id, remove, reason}) appended to decisions if non-NULL. */
int prune_container(struct manager *m, struct container *ct, bool dry_run, json_t *decisions);
int method_prune(struct connection *c, struct varlink_call *call);
