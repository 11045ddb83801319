/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Recovery at start-up, before anything is served: what a killed predecessor left behind. */
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/stat.h>

#include "cgroup.h"
#include "config.h"
#include "export.h"
#include "fileio.h"
#include "freezer-warm.h"
#include "intent.h"
#include "log.h"
#include "macro.h"
#include "pair.h"
#include "pair-ops.h"
#include "quarantine.h"
#include "proc-holders.h"
#include "recovery.h"
#include "time-util.h"

/* Removes pair NAME/ID of an interrupted freeze-and-dump: the snapshots its intent record lists,
 * its staging directory and its pair directory. */
static int remove_half_made(const char *state_dir, const char *name, uint64_t id, json_t *intent) {
	json_t *snapshots = json_object_get(intent, "snapshots");
	struct pair_volume *v = NULL;
	size_t n = 0;
	_cleanup_free_ char *why = NULL;
	int r = snapshots ? pair_volumes_from_json(snapshots, &v, &n, &why) : 0;
	if (r >= 0) {
		r = pair_remove_volumes(state_dir, name, id, v, n, json_string_value(json_object_get(intent, "staging")),
		                        &why);
		pair_volumes_free(v, n);
	}
	if (r < 0)
		return log_error_errno(r, "%s: cannot remove half-made pair %" PRIu64 ": %s", name, id, strna(why));
	log_container_event(LOG_WARNING, CKPTD_MESSAGE_RECOVERED, name, id, UINT64_MAX,
	                    "%s: removed half-made pair %" PRIu64 " of an interrupted %s", name, id,
	                    strna(json_string_value(json_object_get(intent, "kind"))));
	return 0;
}

#define ORPHANED_CRIU_WAIT_USEC (30 * USEC_PER_SEC)

/* CRIU's command line says "criu" (it rewrites it to "criu: dump ..."; its comm may be the
 * dynamic loader's when it runs from a private prefix), or is empty while it exits. The caller
 * has matched the start time already: this only guards against a forged journal entry. */
static bool is_criu(pid_t pid) {
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int) pid);
	_cleanup_free_ char *cmdline = NULL;
	size_t size = 0;
	if (read_full_file(path, &cmdline, &size) < 0)
		return false;
	if (size == 0)
		return true; /* exiting: its memory is gone already, the process not yet */
	for (size_t i = 0; i + 1 < size; i++)
		if (cmdline[i] == '\0')
			cmdline[i] = ' ';
	return strstr(cmdline, "criu") != NULL;
}

/* A dump's CRIU outlives a killed ckptd (adapters/criu.c): at its next message to us it finds us
 * gone, cures and releases the tasks it seized, and exits. Until then nothing may thaw the
 * cgroup or remove what it writes to; so wait for it (the intent names it by pid and start
 * time), and kill it only if it has not gone after ORPHANED_CRIU_WAIT_USEC. */
static void wait_for_orphaned_criu(const char *name, json_t *intent) {
	json_t *criu = json_object_get(intent, "criu");
	pid_t pid = (pid_t) json_integer_value(json_object_get(criu, "pid"));
	unsigned long long want = (unsigned long long) json_integer_value(json_object_get(criu, "starttime")), start;
	char state;
	if (pid <= 0 || !is_criu(pid)) {
		log_debug("%s: the CRIU (pid %d) of an interrupted dump is gone", name, (int) pid);
		return; /* gone, or that pid is now another program's */
	}
	uint64_t t0 = now_usec(CLOCK_MONOTONIC);
	bool waited = false;
	while (proc_stat(pid, &state, &start) >= 0 && start == want && state != 'Z' && state != 'X') {
		if (now_usec(CLOCK_MONOTONIC) - t0 >= ORPHANED_CRIU_WAIT_USEC) {
			(void) kill(pid, SIGKILL);
			log_warning("%s: the CRIU (pid %d) of an interrupted dump had not exited after %llu s: killed it", name,
			            (int) pid, (unsigned long long) (ORPHANED_CRIU_WAIT_USEC / USEC_PER_SEC));
			return;
		}
		waited = true;
		(void) usleep(20 * 1000);
	}
	if (waited)
		log_info("%s: waited %.0f ms for the CRIU (pid %d) of an interrupted dump to release the tasks", name,
		         (double) (now_usec(CLOCK_MONOTONIC) - t0) / 1000, (int) pid);
}

/* Thaws a cgroup a dead predecessor left frozen, removes the half-made pair of a freeze-and-dump
 * (only when it has no pair.json: a pair.json that is there but does not load is quarantined
 * later, never removed), and keeps an interrupted rollback in the journal, marked for the user.
 * Returns 1 when the record stays in the journal. */
static int recover_intent(const char *state_dir, json_t *intent) {
	const char *name = json_string_value(json_object_get(intent, "container"));
	const char *kind_str = json_string_value(json_object_get(intent, "kind"));
	const char *cgroup = json_string_value(json_object_get(intent, "cgroup"));
	const char *step = json_string_value(json_object_get(intent, "step"));
	uint64_t id = (uint64_t) json_integer_value(json_object_get(intent, "pair"));
	enum cgroup_kind kind;

	if (!container_name_is_valid(name))
		return log_error_errno(EINVAL, "Intent record %s with an invalid container name: kept, skipped",
		                       strna(json_string_value(json_object_get(intent, "journal_file"))));
	wait_for_orphaned_criu(name, intent);
	if (cgroup && cgroup_kind_from_string(json_string_value(json_object_get(intent, "cgroup_kind")), &kind) >= 0 &&
	    cgroup_is_frozen(cgroup, kind) > 0) {
		int r = cgroup_thaw(cgroup, kind);
		if (r < 0)
			return log_error_errno(r, "%s: cannot thaw %s left frozen by a previous ckptd: %m", name, cgroup);
		log_container_event(LOG_WARNING, CKPTD_MESSAGE_RECOVERED, name, id, UINT64_MAX,
		                    "%s: thawed cgroup %s, left frozen by a previous ckptd during %s", name, cgroup,
		                    strna(kind_str));
	}

	if ((streq_ptr(kind_str, "freeze-and-dump") || streq_ptr(kind_str, "import")) && id > 0) {
		_cleanup_close_ int pfd = -EBADF;
		_cleanup_free_ char *damage = NULL;
		char idstr[32];
		snprintf(idstr, sizeof(idstr), "%" PRIu64, id);
		int r = catalog_open_subdir(state_dir, name, "pairs", false, &pfd);
		if (r >= 0) {
			struct stat st;
			r = fstatat(pfd, idstr, &st, AT_SYMLINK_NOFOLLOW) < 0 ? negative_errno()
			                                                   : pair_entry_damage(pfd, idstr, name, id, &damage);
		}
		if (r == 0)
			; /* it completed just before the crash: keep it */
		else if (r == -EBADMSG)
			log_warning("%s: pair %" PRIu64 " of an interrupted %s has a pair.json that does not load (%s): kept "
			            "for quarantine", name, id, kind_str, strna(damage));
		else {
			_cleanup_free_ char *why = NULL;
			if (streq(kind_str, "import") && (r = import_abort_received(name, id, intent, &why)) < 0)
				return log_error_errno(r, "%s: cannot remove what the interrupted import of pair %" PRIu64
				                       " received: %s; kept for the next start", name, id, strna(why));
			r = remove_half_made(state_dir, name, id, intent);
			if (r < 0)
				return r;
		}
	} else if (json_is_string(json_object_get(intent, "attention"))) {
		log_warning("%s: needs attention: %s", name, json_string_value(json_object_get(intent, "attention")));
		return 1; /* reported until the user acts */
	} else if (kind_str && (streq_ptr(step, "verify") || streq_ptr(step, "safety-pair"))) {
		log_container_event(LOG_WARNING, CKPTD_MESSAGE_RECOVERED, name, id, UINT64_MAX,
		                    "%s: a %s to pair %" PRIu64 " was interrupted at step '%s', before it stopped a task or "
		                    "touched a volume: nothing to repair", name, kind_str, id, step);
	} else if (kind_str) {
		_cleanup_free_ char *msg = intent_rollback_attention(name, intent, "interrupted");
		if (!msg)
			return log_error_errno(ENOMEM, "Out of memory");
		json_object_set_new(intent, "attention", json_string(msg));
		json_object_set_new(intent, "interrupted", json_true()); /* manager_finish_interrupted() */
		int r = intent_record(state_dir, name, intent);
		if (r < 0)
			return log_error_errno(r, "%s: cannot mark the interrupted rollback in %s/journal: %m", name,
			                       state_dir);
		log_container_event(LOG_WARNING, CKPTD_MESSAGE_RECOVERED, name, id, UINT64_MAX,
		                    "%s: needs attention: %s", name, msg);
		return 1;
	}
	return intent_clear(state_dir, intent);
}

int recovery_run(const char *state_dir) {
	_cleanup_(json_decrefp) json_t *intents = NULL;
	int r = intent_load_all(state_dir, &intents);
	if (r < 0)
		return log_error_errno(r, "Cannot read the intent journal in %s: %m", state_dir);
	_cleanup_(json_decrefp) json_t *kept = json_array(); /* still in the journal */
	if (!kept)
		return -ENOMEM;
	int n = freezer_warm_remove_leftovers();
	if (n > 0)
		log_info("removed %d warm-up cgroup(s) of the v1 freezer left by an earlier ckptd", n);
	size_t i;
	json_t *intent;
	int ret = 0;
	json_array_foreach(intents, i, intent) {
		r = recover_intent(state_dir, intent);
		if (r < 0)
			ret = r;
		if (r != 0)
			json_array_append(kept, intent);
	}

	/* Pair directories that are not complete pairs: removed only when ckptd marked them as its
	 * own unfinished work; every other one is moved to quarantine/, never deleted. */
	r = catalog_recover_pairs(state_dir, kept);
	if (r < 0)
		ret = r;
	return ret;
}

