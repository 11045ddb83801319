/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* How ckptctl shows the daemon and the containers: status, the containers table and what
 * inspect sees in a container. */

#include <time.h>

#include "format.h"
#include "output-internal.h"
#include "output.h"
#include "table.h"
#include "time-util.h"

int output_containers_table(json_t *containers) {
	_cleanup_table_ struct table *t = NULL;
	const char *headers[7] = { "NAME", "STATE", "PAIRS", "LAST" };
	bool show_job = false, any_error = false;
	size_t i, n = 4;
	json_t *c;
	int r;

	json_array_foreach(containers, i, c) {
		show_job = show_job || jstr(c, "job");
		any_error = any_error || jstr(c, "error") || streq_ptr(jstr(c, "config"), "config-error");
	}
	if (show_job)
		headers[n++] = "JOB";
	headers[n++] = "CGROUP";

	r = table_new(headers, 1U << 2 | 1U << 3, &t);
	if (r < 0)
		return r;
	json_array_foreach(containers, i, c) {
		bool config_error = streq_ptr(jstr(c, "config"), "config-error");

		if ((r = table_add(t, jstr(c, "name"))) < 0 ||
		    (r = table_add(t, config_error ? "config-error" : jstr(c, "state"))) < 0 ||
		    (r = table_add_jint(t, c, "pairs")) < 0 || (r = table_add_jint(t, c, "last_pair")) < 0 ||
		    (show_job && (r = table_add(t, jstr(c, "job"))) < 0) ||
		    (r = table_add(t, jstr(c, "cgroup"))) < 0)
			return r;
	}
	if (table_rows(t) > 0) {
		r = table_print(t, stdout);
		if (r < 0)
			return r;
	}
	if (any_error) {
		fputs("\nConfiguration errors:\n", stdout);
		json_array_foreach(containers, i, c)
			if (jstr(c, "error") || streq_ptr(jstr(c, "config"), "config-error"))
				print_clean(stdout, "  %s: %s\n", jstr(c, "name") ?: "?", jstr(c, "error") ?: "invalid configuration");
	}
	json_array_foreach(containers, i, c)
		if (jstr(c, "attention"))
			output_attention(jstr(c, "name"), jstr(c, "attention"));
	printf("%s%zu %s listed.\n", table_rows(t) > 0 ? "\n" : "", table_rows(t),
	       plural((long long) table_rows(t), "container", "containers"));
	return 0;
}

/* libcriu's numbering: major * 10000 + minor * 100 + sublevel; or a version string. */
static const char *format_criu_version(char buf[static FORMAT_MAX], json_t *v) {
	long long n;

	if (json_is_integer(v)) {
		n = json_integer_value(v);
		if (n % 100)
			snprintf(buf, FORMAT_MAX, "%lld.%lld.%lld", n / 10000, n / 100 % 100, n % 100);
		else
			snprintf(buf, FORMAT_MAX, "%lld.%lld", n / 10000, n / 100 % 100);
	} else if (json_is_string(v))
		snprintf(buf, FORMAT_MAX, "%s", json_string_value(v));
	else
		snprintf(buf, FORMAT_MAX, "version unknown");
	return buf;
}

/* "10:15:02 (5min 3s ago)", or "-". */
static void format_started(char when[static 2 * FORMAT_MAX + 16], json_t *job) {
	char buf[FORMAT_MAX], ago[FORMAT_MAX];
	long long started;
	struct tm tm;
	time_t s;

	strcpy(when, "-");
	/* started_usec is CLOCK_REALTIME; anything before 2001 is not, so don't guess. */
	if (!jint(job, "started_usec", &started) || started <= 1000000000LL * 1000000)
		return;
	s = (time_t) (started / 1000000);
	if (localtime_r(&s, &tm) && strftime(buf, sizeof(buf), "%H:%M:%S", &tm) > 0)
		snprintf(when, 2 * FORMAT_MAX + 16, "%s (%s ago)", buf,
			 format_timespan(ago, (long long) now_usec(CLOCK_REALTIME) - started));
}

static int print_jobs(json_t *jobs) {
	static const char *const headers[] = { "CONTAINER", "KIND", "PHASE", "PAIR", "STARTED", NULL };
	_cleanup_table_ struct table *t = NULL;
	json_t *j;
	size_t i;
	int r;

	if (json_array_size(jobs) == 0)
		return 0;
	r = table_new(headers, 1U << 3, &t);
	if (r < 0)
		return r;
	json_array_foreach(jobs, i, j) {
		char when[2 * FORMAT_MAX + 16];

		format_started(when, j);
		if ((r = table_add(t, jstr(j, "container"))) < 0 || (r = table_add(t, jstr(j, "kind"))) < 0 ||
		    (r = table_add(t, jstr(j, "phase"))) < 0 || (r = table_add_jint(t, j, "pair")) < 0 ||
		    (r = table_add(t, when)) < 0)
			return r;
	}
	fputc('\n', stdout);
	return table_print(t, stdout);
}

/* Whether pairs share their images, and what all pairs cost on disk. */
static void print_storage(json_t *status) {
	json_t *storage = json_object_get(status, "storage");
	long long v, a;
	if (jstr(status, "image_sharing"))
		print_clean(stdout, "%*s: %s\n", FIELD_WIDTH, "Image sharing", jstr(status, "image_sharing"));
	if (!storage || !jint(storage, "images_bytes", &v))
		return;
	char logical[FORMAT_BYTES_MAX], added[FORMAT_BYTES_MAX] = "-";
	format_bytes(logical, (uint64_t) v);
	if (jint(storage, "added_bytes", &a))
		format_bytes(added, (uint64_t) a);
	print_clean(stdout, "%*s: %s added on disk for %s of images; %s, compression %s\n", FIELD_WIDTH, "Pairs", added,
	            logical, jstr(storage, "filesystem") ?: "-", jstr(storage, "compression") ?: "-");
	if (jint(storage, "disk_bytes", &v) && jint(storage, "measured_added_bytes", &a) && a > 0)
		print_clean(stdout, "%*s: %s after compression for %s added (%.0f %%)\n", FIELD_WIDTH, "On disk",
		            format_bytes(logical, (uint64_t) v), format_bytes(added, (uint64_t) a), 100.0 * (double) v / (double) a);
}

int output_status(json_t *status) {
	json_t *jobs = json_object_get(status, "jobs"), *errors = json_object_get(status, "config_errors"), *j;
	char buf[FORMAT_MAX];
	long long v;
	size_t i;
	int r;

	field("Version", jstr(status, "version"));
	if (jint(status, "pid", &v))
		print_clean(stdout, "%*s: %lld\n", FIELD_WIDTH, "PID", v);
	else
		field("PID", NULL);
	field("Uptime", jint(status, "uptime_usec", &v) ? format_timespan(buf, v) : NULL);
	print_clean(stdout, "%*s: %s (%s)\n", FIELD_WIDTH, "CRIU", jstr(status, "criu") ?: "-",
		    format_criu_version(buf, json_object_get(status, "criu_version")));
	print_clean(stdout, "%*s: %zu running\n", FIELD_WIDTH, "Jobs", json_array_size(jobs));
	if (jint(status, "damaged_pairs", &v) && v > 0)
		print_clean(stdout, "%*s: %lld (kept; 'ckptctl list' names them)\n", FIELD_WIDTH, "Damaged pairs", v);
	print_storage(status);
	r = print_jobs(jobs);
	if (r < 0)
		return r;
	json_array_foreach(json_object_get(status, "attention"), i, j)
		output_attention(jstr(j, "container"), jstr(j, "message"));
	json_array_foreach(json_object_get(status, "replication"), i, j) {
		json_t *e = json_object_get(j, "error");
		long long last = 0, failed = 0;
		bool have_last = jint(j, "replicated", &last);
		if (e && jint(e, "pair", &failed))
			print_clean(stdout, "\n%s: replication of pair %lld failed at %s: %s (tried again after the next pair)\n",
			            jstr(j, "container") ?: "?", failed, jstr(e, "time") ?: "?", jstr(e, "message") ?: "?");
		if (e && have_last)
			print_clean(stdout, "%s: last replicated pair: %lld\n", jstr(j, "container") ?: "?", last);
	}
	if (json_array_size(errors) > 0) {
		fputs("\nConfiguration errors:\n", stdout);
		json_array_foreach(errors, i, j)
			print_clean(stdout, "  %s\n", json_string_value(j) ?: "?");
	}
	return 0;
}

/* ---- inspect --------------------------------------------------------------------------- */

static void print_root_task(json_t *in) {
	long long pid = 0, tasks = 0, files = 0, leader = 0;
	json_t *m = json_object_get(in, "machine");

	print_clean(stdout, "Container %s\n", jstr(in, "container") ?: "?");
	if (m && jint(m, "leader", &leader)) /* Machine=: what machined said */
		print_clean(stdout, "%*s: %s (systemd-machined: leader %lld, unit %s, class %s, registered by %s, root %s)\n",
			    FIELD_WIDTH, "Machine", jstr(m, "name") ?: "?", leader, jstr(m, "unit") ?: "?",
			    jstr(m, "class") ?: "?", jstr(m, "service") ?: "?", jstr(m, "root_directory") ?: "?");
	field("Cgroup", jstr(in, "cgroup"));
	jint(in, "root_pid", &pid);
	jint(in, "tasks", &tasks);
	jint(in, "open_files", &files);
	print_clean(stdout, "%*s: %lld (%s), %lld %s, %lld open %s%s\n", FIELD_WIDTH, "Root task", pid,
		    jstr(in, "comm") ?: "?", tasks, plural(tasks, "task", "tasks"), files, plural(files, "file", "files"),
		    jtrue(in, "frozen") ? "; FROZEN now" : "");
}

/* "SEP a b c" for the strings of array, SEP before the first only. */
static void put_words(FILE *f, const char *sep, json_t *array) {
	json_t *v;
	size_t i;

	json_array_foreach(array, i, v)
		fprintf(f, "%s %s", i == 0 ? sep : "", json_string_value(v) ?: "?");
}

static int print_namespaces(json_t *ns) {
	struct line l;

	if (line_begin(&l) < 0)
		return -ENOMEM;
	put_words(l.f, "own", json_object_get(ns, "own"));
	if (json_array_size(json_object_get(ns, "own")) == 0)
		fputs("none of its own", l.f);
	put_words(l.f, "; shared with ckptd:", json_object_get(ns, "shared"));
	return field_line("Namespaces", &l);
}

static void print_filesystems(json_t *in) {
	json_t *root = json_object_get(in, "root"), *p = json_object_get(in, "propagation"), *v;
	bool shared = jtrue(p, "shared_with_host"), slave = jtrue(p, "slave_of_host");
	size_t i;

	if (jstr(root, "device"))
		print_clean(stdout, "%*s: %s (%s %s, fs-root %s%s)%s%s\n", FIELD_WIDTH, "Root fs",
			    jstr(root, "host_path") ?: "not on the host", jstr(root, "fstype") ?: "?", jstr(root, "device"),
			    jstr(root, "fs_root") ?: "?", jtrue(root, "read_only") ? ", read-only" : "",
			    jstr(root, "volume") ? " on volume " : ", on no configured volume", jstr(root, "volume") ?: "");
	else
		print_clean(stdout, "%*s: %s (%s)\n", FIELD_WIDTH, "Root fs", jstr(root, "host_path") ?: "?",
			    jstr(root, "from") ?: "?");
	if (streq_ptr(jstr(root, "from"), "RootDirectory="))
		field("", "overridden by RootDirectory=");

	json_array_foreach(json_object_get(in, "mounts"), i, v)
		print_clean(stdout, "%*s: %s <- %s (%s %s%s, %s)\n", FIELD_WIDTH, i == 0 ? "Host mounts" : "",
			    jstr(v, "mountpoint") ?: "?", jstr(v, "host_path") ?: "(not reachable on the host)",
			    jstr(v, "fstype") ?: "?", jstr(v, "device") ?: "?", jtrue(v, "read_only") ? ", read-only" : "",
			    jstr(v, "propagation") ?: "?");
	if (json_array_size(json_object_get(in, "mounts")) == 0)
		field("Host mounts", "none");
	field("Propagation", shared && slave ? "shares peer groups with the host and receives from it" :
			     shared          ? "shares peer groups with the host" :
			     slave           ? "slave of host mounts (receives their mount events)" :
					       "private to the container");
}

static int print_interfaces(json_t *net) {
	struct line l;
	json_t *v;
	size_t i;

	if (!jtrue(net, "own_namespace")) {
		field("Network", "shares ckptd's network namespace");
		return 0;
	}
	if (line_begin(&l) < 0)
		return -ENOMEM;
	fputs("own namespace; interfaces", l.f);
	json_array_foreach(json_object_get(net, "interfaces"), i, v) {
		json_t *up = json_object_get(v, "up");

		fprintf(l.f, "%s %s", i ? "," : "", jstr(v, "name") ?: "?");
		if (jstr(v, "kind") && !streq(jstr(v, "kind"), "loopback"))
			fprintf(l.f, " (%s)", jstr(v, "kind"));
		if (json_is_boolean(up))
			fputs(json_is_true(up) ? " up" : " down", l.f);
	}
	int r = field_line("Network", &l);
	json_t *c = json_object_get(net, "config");
	if (r < 0 || !jstr(c, "mode"))
		return r;
	/* NetworkConfig=: what a checkpoint uses (inspect: would use), and why not external */
	if (line_begin(&l) < 0)
		return -ENOMEM;
	fprintf(l.f, "%s (NetworkConfig=%s)", jstr(c, "mode"), jstr(c, "requested") ?: "?");
	if (jstr(c, "reason"))
		fprintf(l.f, ", not external: %s", jstr(c, "reason"));
	return field_line("Network config", &l);
}

/* " ADDRESS/PREFIXLEN" for each of addresses, FIRST before the first and SEP between them. */
static void put_addresses(FILE *f, json_t *addresses, const char *first, const char *sep) {
	json_t *a;
	size_t k;

	json_array_foreach(addresses, k, a)
		fprintf(f, "%s%s/%lld", k ? sep : first, jstr(a, "address") ?: "?",
			(long long) json_integer_value(json_object_get(a, "prefixlen")));
}

static int print_veths(json_t *net) {
	json_t *v;
	size_t i;
	int r;

	json_array_foreach(json_object_get(net, "veths"), i, v) {
		struct line l;

		if (line_begin(&l) < 0)
			return -ENOMEM;
		fprintf(l.f, "%s <-> %s", jstr(v, "container_if") ?: "?", jstr(v, "host_if") ?: "?");
		if (jstr(v, "bridge"))
			fprintf(l.f, " in bridge %s", jstr(v, "bridge"));
		else {
			fputs(" (routed; host end", l.f);
			put_addresses(l.f, json_object_get(v, "addresses"), " ", " ");
			fprintf(l.f, ", MTU %lld)", (long long) json_integer_value(json_object_get(v, "mtu")));
		}
		put_addresses(l.f, json_object_get(v, "container_addresses"), "; container ", ", ");
		r = field_line(i == 0 ? "Veth pairs" : "", &l);
		if (r < 0)
			return r;
	}
	if (json_array_size(json_object_get(net, "veths")) > 0)
		field("", "connections inside the container survive a rollback; connections to peers outside it "
			  "are reset by it");
	return 0;
}

static void print_sockets(json_t *in, json_t *net) {
	long long n_unix = 0;
	json_t *v;
	size_t i;

	json_array_foreach(json_object_get(net, "tcp"), i, v) {
		long long p = 0;

		jint(v, "pid", &p);
		print_clean(stdout, "%*s: %s %s%s%s (pid %lld %s)\n", FIELD_WIDTH, i == 0 ? "TCP" : "",
			    jstr(v, "state") ?: "?", jstr(v, "local") ?: "?", jstr(v, "remote") ? " -> " : "",
			    jstr(v, "remote") ?: "", p, jstr(v, "comm") ?: "?");
	}
	if (json_array_size(json_object_get(net, "tcp")) == 0)
		field("TCP", "none");
	jint(json_object_get(in, "sockets"), "unix", &n_unix);
	print_clean(stdout, "%*s: %lld, %zu with a peer outside the container\n", FIELD_WIDTH, "Unix sockets", n_unix,
		    json_array_size(json_object_get(net, "unix_external")));
	json_array_foreach(json_object_get(in, "devices"), i, v)
		print_clean(stdout, "%*s: %s (%s) fd %s of pid %lld %s\n", FIELD_WIDTH, i == 0 ? "Devices" : "",
			    jstr(v, "path") ?: "?", jstr(v, "device") ?: "?", jstr(v, "fd") ?: "?",
			    (long long) json_integer_value(json_object_get(v, "pid")), jstr(v, "comm") ?: "?");
	if (json_array_size(json_object_get(in, "devices")) == 0)
		field("Devices", "none");
}

/* An nspawn machine, what ckptd does to its mount namespace before the first checkpoint (or
 * found done), and its boot id (written back after a restore). */
static void print_nspawn(json_t *in) {
	json_t *prep = json_object_get(in, "preparation"), *v;
	size_t i, n = 0;

	if (jstr(json_object_get(in, "nspawn"), "machine"))
		field("nspawn machine", jstr(json_object_get(in, "nspawn"), "machine"));
	if (jstr(prep, "sysfs_dir"))
		print_clean(stdout, "%*s: at the first checkpoint: mount the network namespace's sysfs at %s\n", FIELD_WIDTH,
			    n++ ? "" : "Preparation", jstr(prep, "sysfs_dir"));
	json_array_foreach(json_object_get(prep, "make_private"), i, v)
		print_clean(stdout, "%*s: at the first checkpoint: make the mounts at and below %s private\n", FIELD_WIDTH,
			    n++ ? "" : "Preparation", json_string_value(v) ?: "?");
	json_array_foreach(json_object_get(prep, "prepared"), i, v)
		print_clean(stdout, "%*s: done: %s\n", FIELD_WIDTH, n++ ? "" : "Preparation", json_string_value(v) ?: "?");
	json_array_foreach(json_object_get(prep, "done_now"), i, v)
		print_clean(stdout, "%*s: by this checkpoint: %s\n", FIELD_WIDTH, n++ ? "" : "Preparation",
			    json_string_value(v) ?: "?");
	if (jstr(json_object_get(in, "boot_id"), "content")) {
		_cleanup_free_ char *id = strdup(jstr(json_object_get(in, "boot_id"), "content"));
		if (id)
			id[strcspn(id, "\n")] = '\0';
		print_clean(stdout, "%*s: %s (bound from a deleted file at %s; written back after a restore)\n", FIELD_WIDTH,
			    "Boot id", strna(id), jstr(json_object_get(in, "boot_id"), "path") ?: "?");
	}
}

/* inspect: one "Label: value" line per aspect, the problems (reasons a checkpoint would be
 * refused) last. */
int output_inspection(json_t *in) {
	json_t *net = json_object_get(in, "network"), *problems = json_object_get(in, "problems"), *v;
	_cleanup_free_ char *criu = NULL;
	size_t i;
	int r;

	print_root_task(in);
	r = print_namespaces(json_object_get(in, "namespaces"));
	if (r < 0)
		return r;
	print_filesystems(in);
	print_nspawn(in);
	if ((r = print_interfaces(net)) < 0 || (r = print_veths(net)) < 0)
		return r;
	print_sockets(in, net);
	criu = format_criu_options(json_object_get(in, "criu"));
	if (!criu)
		return -ENOMEM;
	field("CRIU options", criu);
	json_array_foreach(json_object_get(in, "warnings"), i, v)
		print_clean(stdout, "%*s: %s\n", FIELD_WIDTH, i == 0 ? "Warnings" : "", json_string_value(v) ?: "?");
	field("Checkpointable", json_array_size(problems) == 0 ? "yes" : "NO");
	json_array_foreach(problems, i, v)
		print_clean(stdout, "  - %s\n", json_string_value(v) ?: "?");
	return 0;
}
