/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Varlink connections: accept, authorise (SO_PEERCRED), read NUL-framed calls (size-capped),
 * dispatch to methods.c, queue replies without ever blocking the event loop. */

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "varlink.h"

struct manager;

struct connection {
	struct manager *manager;
	int fd;
	sd_event_source *io;
	struct varlink_buffer in;
	char *out;          /* unread replies: out_size bytes at out + out_start */
	size_t out_start, out_size, out_alloc;
	uid_t uid;
	gid_t gid;
	pid_t pid;
	bool may_read;  /* read-only methods */
	bool may_write; /* everything */
	bool close_after_flush;
};

int server_accept(struct manager *m, int listen_fd);
/* Queue replies; they go out as soon as the socket takes them. */
int connection_reply(struct connection *c, json_t *parameters, bool continues);
int connection_error(struct connection *c, const char *error, json_t *parameters /* stolen, may be NULL */);
void connection_close(struct connection *c);

/* methods.c */
int methods_dispatch(struct connection *c, struct varlink_call *call);
extern const char varlink_interface_description[];
