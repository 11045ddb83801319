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
	/* A descriptor the client passed (SCM_RIGHTS) with the call being read: the method that
	 * takes one (Export, Import) takes it with connection_take_fd(); otherwise it is closed once
	 * the call is dispatched. More than one, or a truncated control message, is refused. */
	int passed_fd;
	bool passed_fds_refused;
};

int server_accept(struct manager *m, int listen_fd);
/* Queue replies; they go out as soon as the socket takes them. */
int connection_reply(struct connection *c, json_t *parameters, bool continues);
int connection_error(struct connection *c, const char *error, json_t *parameters /* stolen, may be NULL */);
void connection_close(struct connection *c);
/* The descriptor passed with the current call (the caller owns it), -EBADF if none, -EMSGSIZE
 * if the client passed more than one. */
int connection_take_fd(struct connection *c);

/* methods.c */
int methods_dispatch(struct connection *c, struct varlink_call *call);
extern const char varlink_interface_description[];
