/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The io.ckptd.Manager methods, inside the service: methods.c dispatches (and authorizes),
 * methods-jobs.c starts the jobs, methods-catalog.c answers the quick questions on the event loop
 * (lists, status, pin). */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "varlink.h"

struct connection;
struct container;

#define ERR(name) "io.ckptd.Manager." name

int invalid_parameter(struct connection *c, const char *name);
/* A container named by the caller: valid name, configured, config parses. Sends the error and
 * returns NULL otherwise (*ret_r gets what connection_error returned). */
struct container *lookup(struct connection *c, const char *name, bool need_config, int *ret_r);
int reply_load_error(struct connection *c, const char *name, uint64_t id, int r, const char *why);

/* Parameters. These helpers return 1 when the parameters are what the method takes; otherwise
 * they have answered (InvalidParameter naming the offending one) and return what the caller
 * returns (0, or what sending the reply or unpacking returned, < 0). */
/* Unpacks params with varlink_params_unpack() and FORMAT. */
int unpack_params(struct connection *c, json_t *params, const char *format, ...);
/* A pair id: positive. */
int pair_id_param(struct connection *c, json_int_t id, uint64_t *ret_id);
/* Exactly "container" and a positive "id". */
int get_container_and_id(struct connection *c, json_t *params, const char **ret_name, uint64_t *ret_id);
/* Exactly "container". */
int get_container_only(struct connection *c, json_t *params, const char **ret_name);

typedef int (*method_t)(struct connection *c, struct varlink_call *call);
int method_freeze_and_dump(struct connection *c, struct varlink_call *call);
int method_rollback(struct connection *c, struct varlink_call *call);
int method_restore(struct connection *c, struct varlink_call *call);
int method_verify(struct connection *c, struct varlink_call *call);
int method_inspect(struct connection *c, struct varlink_call *call);
int method_delete(struct connection *c, struct varlink_call *call);
int method_prune(struct connection *c, struct varlink_call *call);
int method_list(struct connection *c, struct varlink_call *call);
int method_show(struct connection *c, struct varlink_call *call);
int method_pin(struct connection *c, struct varlink_call *call, bool pin);
int method_containers(struct connection *c, struct varlink_call *call);
int method_status(struct connection *c, struct varlink_call *call);
int method_acknowledge(struct connection *c, struct varlink_call *call);
int method_export(struct connection *c, struct varlink_call *call);
int method_import(struct connection *c, struct varlink_call *call);
