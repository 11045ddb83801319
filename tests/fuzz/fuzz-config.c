/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Fuzzes the configuration loaders: the input is written to FUZZDIR/fuzz.conf and loaded both
 * as a container file and as ckptd.conf; it is also fed, as one string, to the value parsers.
 * Checks the invariants of the loaders' contract on the way. */

#include <fcntl.h>
#include <stdint.h>

#include "config.h"
#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *fuzz_dir, *fuzz_path;

static void fuzz_cleanup(void) {
	if (fuzz_path)
		(void) unlink(fuzz_path);
	if (fuzz_dir)
		(void) rmdir(fuzz_dir);
	free(fuzz_path);
	free(fuzz_dir);
}

static void fuzz_setup(void) {
	const char *tmp = getenv("TMPDIR");

	if (asprintf(&fuzz_dir, "%s/fuzz-config-XXXXXX", tmp ? tmp : "/tmp") < 0 || !mkdtemp(fuzz_dir) ||
	    asprintf(&fuzz_path, "%s/fuzz.conf", fuzz_dir) < 0)
		abort();
	atexit(fuzz_cleanup);
}

static void write_input(const uint8_t *data, size_t size) {
	_cleanup_close_ int fd = -EBADF;

	fd = open(fuzz_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, data, size) != (ssize_t) size)
		abort();
}

static void fuzz_container(void) {
	_cleanup_(container_config_freep) struct container_config *c = NULL;
	_cleanup_free_ char *error = NULL;
	int r;

	r = container_config_load(fuzz_path, &c, &error);
	if (r < 0) {
		/* an error leaves no config and (short of OOM) says what is wrong, naming the file */
		if (c || (r != -ENOMEM && (!error || strncmp(error, fuzz_path, strlen(fuzz_path)) != 0)))
			abort();
		return;
	}

	if (!c || error || !c->cgroup || c->cgroup[0] != '/' || c->n_volumes == 0 || !c->volumes ||
	    c->volumes[c->n_volumes] || !streq(c->name, "fuzz") || c->freeze_timeout_usec == 0 ||
	    c->max_frozen_usec == 0 || c->retention.min_free_percent > 100)
		abort();
	for (size_t i = 0; i < c->n_volumes; i++)
		if (!c->volumes[i] || (c->volumes[i][0] != '/' && strncmp(c->volumes[i], "lvm:", 4) != 0))
			abort();
}

static void fuzz_daemon(void) {
	struct daemon_config d = { .max_parallel_jobs = 12345 };
	_cleanup_free_ char *error = NULL;
	int r;

	r = daemon_config_load(fuzz_path, &d, &error);
	if (r < 0) {
		if (d.max_parallel_jobs != 12345 || (r != -ENOMEM && !error))
			abort();
		return;
	}
	if (error || d.max_parallel_jobs == 0 || (d.criu && d.criu[0] != '/') ||
	    (d.staging_dir && d.staging_dir[0] != '/'))
		abort();
	daemon_config_done(&d);
}

static void fuzz_value_parsers(const uint8_t *data, size_t size) {
	_cleanup_free_ char *s = strndup((const char *) data, size);
	uint64_t usec, bytes;
	unsigned percent;
	bool b;

	if (!s)
		return;
	(void) parse_sec(s, &usec);
	(void) parse_boolean(s, &b);
	if (parse_min_free(s, &percent, &bytes) >= 0 && (percent > 100 || (percent > 0 && bytes > 0)))
		abort();
	(void) container_name_is_valid(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	if (!fuzz_path)
		fuzz_setup();

	write_input(data, size);
	fuzz_container();
	fuzz_daemon();
	if (size <= 256)
		fuzz_value_parsers(data, size);

	return 0;
}
