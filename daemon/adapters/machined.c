/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* systemd-machined and systemd's transient scopes over sd-bus. See machined.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <time.h>

#include "error.h"
#include "fileio.h"
#include "machined.h"
#include "macro.h"
#include "parse-util.h"
#include "time-util.h"

#define MACHINED "org.freedesktop.machine1"
#define MACHINED_PATH "/org/freedesktop/machine1"
#define MACHINED_MANAGER "org.freedesktop.machine1.Manager"
#define MACHINED_MACHINE "org.freedesktop.machine1.Machine"
#define SYSTEMD "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define SYSTEMD_MANAGER "org.freedesktop.systemd1.Manager"
#define POLL_USEC (50 * USEC_PER_MSEC)

void machine_info_done(struct machine_info *m) {
	free(m->name);
	free(m->id);
	free(m->service);
	free(m->class);
	free(m->unit);
	free(m->root_directory);
	free(m->state);
	free(m->ifindices);
	*m = (struct machine_info) {};
}

static void bus_closep(sd_bus **bus) {
	sd_bus_flush_close_unref(*bus);
}

static int bus_open(sd_bus **ret, char **ret_error) {
	int r = sd_bus_open_system(ret);
	if (r < 0)
		return error_setf(ret_error, -ENOTCONN, "cannot connect to the system bus (systemd-machined is reached over "
		                  "it; is systemd PID 1 here?): %s", strerror(-r));
	return 0;
}

static const char *bus_error_text(const sd_bus_error *e, int r) {
	return e && e->message ? e->message : strerror(-r);
}

/* The object path of the machine; -ENOENT when machined does not know it. */
static int get_machine(sd_bus *bus, const char *name, char **ret_path, char **ret_error) {
	_cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	int r = sd_bus_call_method(bus, MACHINED, MACHINED_PATH, MACHINED_MANAGER, "GetMachine", &e, &reply, "s", name);
	if (r < 0 && sd_bus_error_has_name(&e, "org.freedesktop.machine1.NoSuchMachine"))
		return error_setf(ret_error, -ENOENT, "machine %s is not registered with systemd-machined (machinectl list "
		                  "does not show it): start it with systemd-nspawn -M %s or machinectl start %s", name, name,
		                  name);
	if (r < 0)
		return error_setf(ret_error, r, "cannot ask systemd-machined about machine %s: %s", name,
		                  bus_error_text(&e, r));
	const char *path;
	if ((r = sd_bus_message_read(reply, "o", &path)) < 0)
		return error_setf(ret_error, r, "systemd-machined's answer about machine %s is malformed: %s", name,
		                  strerror(-r));
	if (ret_path && !(*ret_path = strdup(path)))
		return -ENOMEM;
	return 0;
}

static int get_string(sd_bus *bus, const char *path, const char *property, char **ret, char **ret_error) {
	_cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
	int r = sd_bus_get_property_string(bus, MACHINED, path, MACHINED_MACHINE, property, &e, ret);
	if (r < 0)
		return error_setf(ret_error, r, "cannot read %s of machine object %s: %s", property, path,
		                  bus_error_text(&e, r));
	return 0;
}

/* An array property of the machine object: its elements of TYPE ('y', 'i') in *ret_reply's
 * memory (*ret_data, *ret_size bytes), valid while the reply lives. */
static int get_array(sd_bus *bus, const char *path, const char *property, char type, sd_bus_message **ret_reply,
                     const void **ret_data, size_t *ret_size, char **ret_error) {
	_cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
	const char signature[] = { 'a', type, '\0' };
	*ret_data = NULL;
	*ret_size = 0;
	int r = sd_bus_get_property(bus, MACHINED, path, MACHINED_MACHINE, property, &e, ret_reply, signature);
	if (r >= 0)
		r = sd_bus_message_read_array(*ret_reply, type, ret_data, ret_size);
	if (r < 0)
		return error_setf(ret_error, r, "cannot read %s of %s: %s", property, path, bus_error_text(&e, r));
	return 0;
}

static int get_id(sd_bus *bus, const char *path, char **ret, char **ret_error) {
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	const void *bytes;
	size_t n;
	int r = get_array(bus, path, "Id", 'y', &reply, &bytes, &n, ret_error);
	if (r < 0)
		return r;
	char *s = calloc(33, 1);
	if (!s)
		return -ENOMEM;
	bool zero = true;
	for (size_t i = 0; i < n && i < 16; i++) {
		snprintf(s + 2 * i, 3, "%02x", ((const uint8_t *) bytes)[i]);
		zero = zero && ((const uint8_t *) bytes)[i] == 0;
	}
	if (n != 16 || zero)
		s[0] = '\0';
	*ret = s;
	return 0;
}

static int get_ifindices(sd_bus *bus, const char *path, int **ret, size_t *ret_n, char **ret_error) {
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	const void *v;
	size_t size;
	int r = get_array(bus, path, "NetworkInterfaces", 'i', &reply, &v, &size, ret_error);
	if (r < 0)
		return r;
	*ret_n = size / sizeof(int32_t);
	*ret = NULL;
	if (*ret_n > 0 && !(*ret = malloc(size)))
		return -ENOMEM;
	if (*ret_n > 0)
		memcpy(*ret, v, size);
	return 0;
}

int machined_lookup(const char *name, struct machine_info *ret, char **ret_error) {
	_cleanup_(bus_closep) sd_bus *bus = NULL;
	_cleanup_free_ char *path = NULL;
	_cleanup_free_ char *why = NULL;
	int r = bus_open(&bus, &why);
	if (r < 0)
		return error_prefixf(ret_error, r, &why, "machine %s", name);
	if ((r = get_machine(bus, name, &path, ret_error)) < 0)
		return r;
	_cleanup_(machine_info_done) struct machine_info m = {};
	_cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
	uint32_t leader = 0;
	if ((r = sd_bus_get_property_trivial(bus, MACHINED, path, MACHINED_MACHINE, "Leader", &e, 'u', &leader)) < 0)
		return error_setf(ret_error, r, "cannot read the leader of machine %s: %s", name, bus_error_text(&e, r));
	if ((r = get_string(bus, path, "Service", &m.service, ret_error)) < 0 ||
	    (r = get_string(bus, path, "Class", &m.class, ret_error)) < 0 ||
	    (r = get_string(bus, path, "Unit", &m.unit, ret_error)) < 0 ||
	    (r = get_string(bus, path, "RootDirectory", &m.root_directory, ret_error)) < 0 ||
	    (r = get_string(bus, path, "State", &m.state, ret_error)) < 0 || (r = get_id(bus, path, &m.id, ret_error)) < 0 ||
	    (r = get_ifindices(bus, path, &m.ifindices, &m.n_ifindices, ret_error)) < 0)
		return r;
	if (!(m.name = strdup(name)))
		return -ENOMEM;
	if (leader == 0 || isempty(m.unit))
		return error_setf(ret_error, -ESRCH, "machine %s: systemd-machined knows no %s for it (state %s)", name,
		                  leader == 0 ? "leader" : "unit", strna(m.state));
	m.leader = (pid_t) leader;
	*ret = m;
	m = (struct machine_info) {};
	return 0;
}

static void sleep_usec(uint64_t usec) {
	struct timespec ts = { .tv_sec = usec / USEC_PER_SEC, .tv_nsec = (usec % USEC_PER_SEC) * 1000 };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int machined_wait_unregistered(const char *name, uint64_t timeout_usec, char **ret_error) {
	_cleanup_(bus_closep) sd_bus *bus = NULL;
	int r = bus_open(&bus, ret_error);
	if (r < 0)
		return r;
	uint64_t deadline = now_usec(CLOCK_MONOTONIC) + timeout_usec;
	for (;;) {
		_cleanup_free_ char *why = NULL;
		r = get_machine(bus, name, NULL, &why);
		if (r == -ENOENT)
			return 0;
		if (r < 0)
			return error_pass(ret_error, r, &why);
		if (now_usec(CLOCK_MONOTONIC) >= deadline)
			return error_setf(ret_error, -ETIMEDOUT, "systemd-machined still lists machine %s %.1f s after its "
			                  "tasks were stopped", name, (double) timeout_usec / USEC_PER_SEC);
		sleep_usec(POLL_USEC);
	}
}

/* The unit's ActiveState, or -ENOENT when systemd has no such unit loaded. */
static int unit_state(sd_bus *bus, const char *unit, char **ret, char **ret_error) {
	_cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	int r = sd_bus_call_method(bus, SYSTEMD, SYSTEMD_PATH, SYSTEMD_MANAGER, "GetUnit", &e, &reply, "s", unit);
	if (r < 0 && sd_bus_error_has_name(&e, "org.freedesktop.systemd1.NoSuchUnit"))
		return -ENOENT;
	const char *path = NULL;
	if (r >= 0)
		r = sd_bus_message_read(reply, "o", &path);
	if (r >= 0)
		r = sd_bus_get_property_string(bus, SYSTEMD, path, "org.freedesktop.systemd1.Unit", "ActiveState", &e, ret);
	if (r < 0)
		return error_setf(ret_error, r, "cannot ask systemd about unit %s: %s", unit, bus_error_text(&e, r));
	return 0;
}

int systemd_unit_wait_gone(const char *unit, uint64_t timeout_usec, char **ret_error) {
	_cleanup_(bus_closep) sd_bus *bus = NULL;
	int r = bus_open(&bus, ret_error);
	if (r < 0)
		return r;
	uint64_t deadline = now_usec(CLOCK_MONOTONIC) + timeout_usec;
	for (;;) {
		_cleanup_free_ char *state = NULL;
		r = unit_state(bus, unit, &state, ret_error);
		if (r == -ENOENT)
			return 0;
		if (r < 0)
			return r;
		if (streq(state, "failed") || streq(state, "inactive"))
			(void) sd_bus_call_method(bus, SYSTEMD, SYSTEMD_PATH, SYSTEMD_MANAGER, "ResetFailedUnit", NULL, NULL,
			                          "s", unit);
		if (now_usec(CLOCK_MONOTONIC) >= deadline)
			return error_setf(ret_error, -ETIMEDOUT, "systemd still has unit %s (%s) %.1f s after the machine's "
			                  "tasks were stopped", unit, state, (double) timeout_usec / USEC_PER_SEC);
		sleep_usec(POLL_USEC);
	}
}

/* Is pid in a cgroup (any hierarchy) whose path ends in /unit or has /unit/ in it? */
static int pid_in_unit(pid_t pid, const char *unit) {
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int) pid);
	_cleanup_free_ char *text = NULL;
	int r = read_full_file(path, &text, NULL);
	if (r < 0)
		return r;
	size_t n = strlen(unit);
	for (const char *p = strstr(text, unit); p; p = strstr(p + 1, unit))
		if (p > text && p[-1] == '/' && (p[n] == '/' || p[n] == '\n' || p[n] == '\0'))
			return 1;
	return 0;
}

int systemd_scope_start(const char *unit, const char *slice, const char *description, pid_t pid,
                        uint64_t timeout_usec, char **ret_error) {
	_cleanup_(bus_closep) sd_bus *bus = NULL;
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
	_cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
	int r = bus_open(&bus, ret_error);
	if (r < 0)
		return r;
	r = sd_bus_message_new_method_call(bus, &m, SYSTEMD, SYSTEMD_PATH, SYSTEMD_MANAGER, "StartTransientUnit");
	if (r >= 0)
		r = sd_bus_message_append(m, "ss", unit, "fail");
	if (r >= 0)
		r = sd_bus_message_open_container(m, 'a', "(sv)");
	if (r >= 0)
		r = sd_bus_message_append(m, "(sv)(sv)(sv)(sv)(sv)", "Description", "s", description, "Slice", "s", slice,
		                          "Delegate", "b", 1, "CollectMode", "s", "inactive-or-failed", "PIDs", "au", 1,
		                          (uint32_t) pid);
	if (r >= 0)
		r = sd_bus_message_close_container(m);
	if (r >= 0)
		r = sd_bus_message_append(m, "a(sa(sv))", 0);
	if (r < 0)
		return error_setf(ret_error, r, "cannot build the request for unit %s: %s", unit, strerror(-r));
	if ((r = sd_bus_call(bus, m, 0, &e, &reply)) < 0)
		return error_setf(ret_error, r, "systemd cannot start scope %s in %s: %s", unit, slice,
		                  bus_error_text(&e, r));
	uint64_t deadline = now_usec(CLOCK_MONOTONIC) + timeout_usec;
	while ((r = pid_in_unit(pid, unit)) == 0 && now_usec(CLOCK_MONOTONIC) < deadline)
		sleep_usec(10 * USEC_PER_MSEC);
	if (r < 0)
		return error_setf(ret_error, r, "the process that holds scope %s is gone: %s", unit, strerror(-r));
	if (r == 0)
		return error_setf(ret_error, -ETIMEDOUT, "systemd did not move process %d into scope %s within %.1f s",
		                  (int) pid, unit, (double) timeout_usec / USEC_PER_SEC);
	return 0;
}

static int id_to_bytes(const char *hex, uint8_t bytes[16]) {
	if (strlen(hex) != 32)
		return -EINVAL;
	for (size_t i = 0; i < 16; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -EINVAL;
		bytes[i] = (uint8_t) v;
	}
	return 0;
}

int machined_register(const struct machine_info *mi, pid_t leader, const int *ifindices, size_t n_ifindices,
                     char **ret_error) {
	_cleanup_(bus_closep) sd_bus *bus = NULL;
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
	_cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
	uint8_t id[16] = {};
	size_t id_size = 0;
	if (!isempty(mi->id)) {
		if (id_to_bytes(mi->id, id) < 0)
			return error_setf(ret_error, -EINVAL, "machine %s: its id %s is not 32 hex digits", mi->name, mi->id);
		id_size = sizeof(id);
	}
	int r = bus_open(&bus, ret_error);
	if (r < 0)
		return r;
	r = sd_bus_message_new_method_call(bus, &m, MACHINED, MACHINED_PATH, MACHINED_MANAGER,
	                                   "RegisterMachineWithNetwork");
	if (r >= 0)
		r = sd_bus_message_append(m, "s", mi->name);
	if (r >= 0)
		r = sd_bus_message_append_array(m, 'y', id, id_size);
	if (r >= 0)
		r = sd_bus_message_append(m, "ssus", strempty(mi->service), strempty(mi->class), (uint32_t) leader,
		                          strempty(mi->root_directory));
	if (r >= 0)
		r = sd_bus_message_append_array(m, 'i', ifindices, n_ifindices * sizeof(int));
	if (r < 0)
		return error_setf(ret_error, r, "cannot build the registration of machine %s: %s", mi->name, strerror(-r));
	if ((r = sd_bus_call(bus, m, 0, &e, NULL)) < 0)
		return error_setf(ret_error, r, "systemd-machined refused to register machine %s with leader %d: %s",
		                  mi->name, (int) leader, bus_error_text(&e, r));
	return 0;
}

char *machine_scope_name(const char *name) {
	static const char prefix[] = "machine-", suffix[] = ".scope";
	char *s = malloc(sizeof(prefix) + 4 * strlen(name) + sizeof(suffix));
	if (!s)
		return NULL;
	char *p = stpcpy(s, prefix);
	for (const char *c = name; *c; c++) {
		bool plain = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		             *c == ':' || *c == '_' || (*c == '.' && c != name);
		if (plain)
			*p++ = *c;
		else
			p += sprintf(p, "\\x%02x", (unsigned char) *c);
	}
	strcpy(p, suffix);
	return s;
}
