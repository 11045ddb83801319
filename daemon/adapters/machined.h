/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* systemd-machined and systemd over the system bus (sd-bus), for `[Container] Machine=NAME`:
 *
 *   - machined_lookup(): what machined knows of a registered machine now (GetMachine, then the
 *     Machine object's properties): leader, unit, class, id, root directory, service, network
 *     interfaces;
 *   - after ckptd killed a machine's tasks (its systemd-nspawn then exits and machined drops the
 *     machine when its unit stops), machined_wait_unregistered() and systemd_unit_wait_gone()
 *     wait for that, systemd_scope_start() makes a transient scope of the same name (Delegate=yes,
 *     in the same slice) that a placeholder process holds while CRIU restores the tasks into it,
 *     and machined_register() registers the restored leader with the machine's identity
 *     (RegisterMachineWithNetwork: machined takes the unit from the leader's cgroup).
 *
 * Every call opens its own connection (job threads share none). Errors name the machine or unit;
 * no system bus (systemd not PID 1) is -ENOTCONN with a message that says so. */

#include <stdint.h>
#include <sys/types.h>

struct machine_info {
	char *name;
	char *id;             /* 32 hex digits; "" when machined has none (all zero) */
	char *service;        /* who registered it: "systemd-nspawn", ... */
	char *class;          /* "container", "vm" */
	char *unit;           /* its systemd unit: machine-NAME.scope, systemd-nspawn@NAME.service */
	char *root_directory; /* "" when not known */
	char *state;          /* opening, running, closing */
	pid_t leader;
	int *ifindices;       /* NetworkInterfaces (host side); n_ifindices of them */
	size_t n_ifindices;
};

void machine_info_done(struct machine_info *m);

/* -ENOENT: machined does not know the machine; -ENOTCONN: no system bus. */
int machined_lookup(const char *name, struct machine_info *ret, char **ret_error);

/* Waits until machined no longer lists name (GetMachine: NoSuchMachine); -ETIMEDOUT. */
int machined_wait_unregistered(const char *name, uint64_t timeout_usec, char **ret_error);

/* Waits until systemd has no unit of that name loaded (a failed one is reset); -ETIMEDOUT. */
int systemd_unit_wait_gone(const char *unit, uint64_t timeout_usec, char **ret_error);

/* StartTransientUnit of a scope in slice with pid in it (Delegate=yes, collected when it stops),
 * and waits (up to timeout_usec) until pid is in it. */
int systemd_scope_start(const char *unit, const char *slice, const char *description, pid_t pid,
                        uint64_t timeout_usec, char **ret_error);

/* RegisterMachineWithNetwork: name, id (hex, "" = none), service, class, root directory of m,
 * with leader and the host interfaces ifindices. */
int machined_register(const struct machine_info *m, pid_t leader, const int *ifindices, size_t n_ifindices,
                     char **ret_error);

/* The unit name machined gives a machine's scope: machine-NAME.scope, NAME escaped as systemd
 * escapes unit names ('-' and other characters as \xHH). NULL: out of memory. */
char *machine_scope_name(const char *name);
