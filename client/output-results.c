/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* How ckptctl shows what a job did: the decisions of prune, the result of rollback and
 * restore, the verdict of verify. */

#include "output-internal.h"
#include "output.h"
#include "table.h"

int output_prune_decisions(json_t *decisions, bool dry_run) {
	static const char *const headers[] = { "CONTAINER", "ID", "ACTION", "REASON", NULL };
	_cleanup_table_ struct table *t = NULL;
	size_t i, removed = 0;
	json_t *d;
	int r;

	r = table_new(headers, 1U << 1, &t);
	if (r < 0)
		return r;
	json_array_foreach(decisions, i, d) {
		bool remove = jtrue(d, "remove");

		removed += remove;
		if ((r = table_add(t, jstr(d, "container"))) < 0 || (r = table_add_jint(t, d, "id")) < 0 ||
		    (r = table_add(t, remove ? (dry_run ? "would remove" : "removed") : "keep")) < 0 ||
		    (r = table_add(t, jstr(d, "reason"))) < 0)
			return r;
	}
	if (table_rows(t) == 0) {
		puts("Nothing to prune.");
		return 0;
	}
	r = table_print(t, stdout);
	if (r < 0)
		return r;
	printf("\n%zu of %zu %s %s%s.\n", removed, table_rows(t), plural((long long) table_rows(t), "pair", "pairs"),
	       dry_run ? "would be removed" : "removed", dry_run ? " (dry run)" : "");
	return 0;
}

/* "Rolled back web to pair 7: root pid 1234 (kill 1.2 ms, ...)." with the safety pair taken
 * (rollback) and the warnings. */
static int print_result(const char *container, long long id, json_t *result, bool rollback) {
	_cleanup_free_ char *timings = format_timings(json_object_get(result, "timings"));
	long long pid, safety;
	json_t *w;
	size_t i;

	if (!timings)
		return -ENOMEM;
	if (rollback)
		print_clean(stdout, "Rolled back %s to pair %lld", container, id);
	else
		print_clean(stdout, "Restored the processes of %s from pair %lld", container, id);
	if (jint(result, "root_pid", &pid))
		printf(": root pid %lld", pid);
	print_clean(stdout, "%s%s%s.\n", *timings ? " (" : "", timings, *timings ? ")" : "");
	if (rollback && jint(result, "safety_pair", &safety))
		print_clean(stdout, "Safety pair %s/%lld holds the state before the rollback "
			    "(undo with 'ckptctl rollback %s %lld').\n", container, safety, container, safety);
	else if (rollback)
		fputs("No safety pair was taken.\n", stdout);
	json_t *m = json_object_get(result, "machine_registered");
	long long leader;
	if (m && jint(m, "leader", &leader))
		print_clean(stdout, "Machine %s registered with systemd-machined again: leader %lld, unit %s.\n",
			    jstr(m, "name") ?: "?", leader, jstr(m, "unit") ?: "?");
	json_array_foreach(json_object_get(result, "warnings"), i, w)
		if (json_is_string(w))
			print_clean(stdout, "Warning: %s\n", json_string_value(w));
	return 0;
}

int output_rollback_result(const char *container, long long id, json_t *result) {
	return print_result(container, id, result, true);
}

int output_restore_result(const char *container, long long id, json_t *result) {
	return print_result(container, id, result, false);
}

int output_verify(const char *container, long long id, bool ok, json_t *problems) {
	json_t *p;
	size_t i;

	if (ok) {
		print_clean(stdout, "Pair %s/%lld verified: OK\n", container, id);
		return 0;
	}
	if (json_array_size(problems) == 0)
		print_clean(stderr, "ckptctl: verify failed: pair %s/%lld did not verify\n", container, id);
	else
		print_clean(stderr, "ckptctl: verify failed: pair %s/%lld has %zu %s:\n", container, id,
			    json_array_size(problems), plural((long long) json_array_size(problems), "problem", "problems"));
	json_array_foreach(problems, i, p)
		print_clean(stderr, "  %s\n", json_string_value(p) ?: "?");
	return 0;
}
