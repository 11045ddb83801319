/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Recovery at start-up, before anything is served: what a killed predecessor left behind. */
#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>

#include "cgroup.h"
#include "config.h"
#include "intent.h"
#include "log.h"
#include "macro.h"
#include "pair.h"
#include "pair-ops.h"
#include "quarantine.h"
#include "recovery.h"

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
	                    "%s: removed half-made pair %" PRIu64 " of an interrupted freeze-and-dump", name, id);
	return 0;
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
	if (cgroup && cgroup_kind_from_string(json_string_value(json_object_get(intent, "cgroup_kind")), &kind) >= 0 &&
	    cgroup_is_frozen(cgroup, kind) > 0) {
		int r = cgroup_thaw(cgroup, kind);
		if (r < 0)
			return log_error_errno(r, "%s: cannot thaw %s left frozen by a previous ckptd: %m", name, cgroup);
		log_container_event(LOG_WARNING, CKPTD_MESSAGE_RECOVERED, name, id, UINT64_MAX,
		                    "%s: thawed cgroup %s, left frozen by a previous ckptd during %s", name, cgroup,
		                    strna(kind_str));
	}

	if (streq_ptr(kind_str, "freeze-and-dump") && id > 0) {
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
			log_warning("%s: pair %" PRIu64 " of an interrupted freeze-and-dump has a pair.json that does not "
			            "load (%s): kept for quarantine", name, id, strna(damage));
		else {
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

