/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "error.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "pair.h"
#include "quarantine.h"

/* "ID" (pairs/) or "ID-..." (quarantine/): a positive id without leading zero, at most INT64_MAX. */
static bool parse_entry_id(const char *s, bool allow_suffix, uint64_t *ret) {
	uint64_t v = 0;
	const char *p = s;
	if (*p < '1' || *p > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > ((uint64_t) INT64_MAX - (uint64_t) (*p - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t) (*p - '0');
	}
	if (*p && !(allow_suffix && *p == '-'))
		return false;
	*ret = v;
	return true;
}

int catalog_open_subdir(const char *state_dir, const char *name, const char *sub, bool create, int *ret_fd) {
	const char *steps[] = { "containers", name, sub };
	_cleanup_close_ int fd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
		int next = openat(fd, steps[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 && errno == ENOENT && create) {
			if (mkdirat(fd, steps[i], 0700) < 0 && errno != EEXIST)
				return negative_errno();
			next = openat(fd, steps[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (next < 0)
			return negative_errno();
		close(fd);
		fd = next;
	}
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int pair_entry_damage(int dfd, const char *entry, const char *name, uint64_t id, char **ret_reason) {
	struct stat st;
	if (fstatat(dfd, entry, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return error_setf(ret_reason, negative_errno(), "cannot stat the pair directory: %m");
	if (!S_ISDIR(st.st_mode))
		return error_setf(ret_reason, -EBADMSG, "the pair directory is %s",
		                  S_ISLNK(st.st_mode) ? "a symlink" : "not a directory");
	_cleanup_close_ int pfd = openat(dfd, entry, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0)
		return error_setf(ret_reason, -EBADMSG, "cannot open the pair directory: %s", strerror(errno));
	_cleanup_close_ int fd = openat(pfd, "pair.json", O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 && errno == ENOENT)
		return error_setf(ret_reason, -ENOENT, "%s", "pair.json is missing");
	if (fd < 0)
		return error_setf(ret_reason, -EBADMSG, "pair.json cannot be opened: %s",
		                  errno == ELOOP ? "it is a symlink" : strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return error_setf(ret_reason, -EBADMSG, "%s", "pair.json is not a regular file");
	json_error_t jerr;
	_cleanup_json_ json_t *pair = json_loadfd(fd, JSON_REJECT_DUPLICATES, &jerr);
	if (!pair)
		return error_setf(ret_reason, -EBADMSG, "pair.json does not parse: %s", jerr.text);
	_cleanup_(pair_freep) struct pair *p = NULL;
	int r = pair_from_json(pair, &p, ret_reason);
	if (r < 0)
		return -EBADMSG;
	if (p->id != id || !streq(p->container, name))
		return error_setf(ret_reason, -EBADMSG, "pair.json names pair %s/%" PRIu64 ", not %s/%" PRIu64,
		                  p->container, p->id, name, id);
	if (!pair_is_complete_record(p))
		return error_setf(ret_reason, -EBADMSG, "pair.json says state '%s', not complete", p->state);
	return 0;
}

int rm_rf_at(int dfd, const char *entry) {
	struct stat st, parent;
	if (fstatat(dfd, entry, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : negative_errno();
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dfd, entry, 0) < 0 && errno != ENOENT ? negative_errno() : 0;
	if (fstat(dfd, &parent) < 0)
		return negative_errno();
	if (st.st_dev != parent.st_dev)
		return -EXDEV; /* a mount point or another subvolume: not ours to remove */
	int fd = openat(dfd, entry, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	DIR *d = fdopendir(fd);
	if (!d) {
		int r = negative_errno();
		close(fd);
		return r;
	}
	int ret = 0;
	for (struct dirent *de; (de = readdir(d));) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		int r = rm_rf_at(dirfd(d), de->d_name);
		if (r < 0 && ret >= 0)
			ret = r;
	}
	closedir(d);
	if (ret < 0)
		return ret;
	return unlinkat(dfd, entry, AT_REMOVEDIR) < 0 && errno != ENOENT ? negative_errno() : 0;
}

/* The entries of a directory fd (without . and ..), NULL-terminated. */
static int list_entries(int dfd, char ***ret) {
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -ENOMEM;
	}
	_cleanup_strv_free_ char **names = calloc(1, sizeof(char *));
	size_t n = 0;
	for (struct dirent *de; names && (de = readdir(d));) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		char **a = realloc(names, (n + 2) * sizeof(char *));
		if (!a)
			break;
		names = a;
		names[n] = strdup(de->d_name);
		names[n + 1] = NULL;
		if (names[n])
			n++;
	}
	closedir(d);
	if (!names)
		return -ENOMEM;
	*ret = TAKE_PTR(names);
	return 0;
}

int quarantine_pair(const char *state_dir, const char *name, uint64_t id, char **ret_path) {
	_cleanup_close_ int pfd = -EBADF, qfd = -EBADF;
	int r = catalog_open_subdir(state_dir, name, "pairs", false, &pfd);
	if (r < 0)
		return r;
	r = catalog_open_subdir(state_dir, name, "quarantine", true, &qfd);
	if (r < 0)
		return r;
	char idstr[32], stamp[32], target[96];
	snprintf(idstr, sizeof(idstr), "%" PRIu64, id);
	time_t now = time(NULL);
	struct tm tm;
	if (!gmtime_r(&now, &tm) || strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm) == 0)
		return -EINVAL;
	for (int i = 1;; i++) {
		if (i == 1)
			snprintf(target, sizeof(target), "%s-%s", idstr, stamp);
		else
			snprintf(target, sizeof(target), "%s-%s-%d", idstr, stamp, i);
		if (renameat2(pfd, idstr, qfd, target, RENAME_NOREPLACE) >= 0)
			break;
		if (errno != EEXIST || i >= 100)
			return negative_errno();
	}
	(void) fsync(qfd);
	(void) fsync(pfd);
	if (ret_path) {
		*ret_path = path_join(state_dir, "containers", name, "quarantine", target);
		if (!*ret_path)
			return -ENOMEM;
	}
	return 0;
}

/* Does an intent record name pair NAME/ID? (Its repair failed: leave the pair to the next start.) */
static bool intent_names(json_t *intents, const char *name, uint64_t id) {
	size_t i;
	json_t *intent;
	json_array_foreach(intents, i, intent)
		if (streq_ptr(json_string_value(json_object_get(intent, "container")), name) &&
		    json_integer_value(json_object_get(intent, "pair")) == (json_int_t) id)
			return true;
	return false;
}

static bool marked_incomplete(int pfd, const char *entry) {
	_cleanup_close_ int fd = openat(pfd, entry, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	return fd >= 0 && fstatat(fd, PAIR_INCOMPLETE_MARKER, &st, AT_SYMLINK_NOFOLLOW) >= 0 && S_ISREG(st.st_mode);
}

int catalog_remove_unborn_pair(int pfd, const char *entry) {
	_cleanup_close_ int dfd = openat(pfd, entry, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT ? 0 : negative_errno();
	_cleanup_strv_free_ char **entries = NULL;
	int r = list_entries(dfd, &entries);
	if (r < 0)
		return r;
	for (char **e = entries; *e; e++)
		if (!streq(*e, PAIR_INCOMPLETE_MARKER))
			return -ENOTEMPTY; /* not what pair_dir_create() leaves: not ours to remove */
	if (entries[0] && unlinkat(dfd, PAIR_INCOMPLETE_MARKER, 0) < 0)
		return negative_errno();
	return unlinkat(pfd, entry, AT_REMOVEDIR) < 0 ? negative_errno() : 1;
}

/* ".ID.new": a pair directory being created when a predecessor died. */
static bool is_unborn_pair(const char *entry) {
	uint64_t id;
	size_t n = strlen(entry);
	if (entry[0] != '.' || n < 6 || !streq(entry + n - 4, ".new"))
		return false;
	_cleanup_free_ char *digits = strndup(entry + 1, n - 5);
	return digits && parse_entry_id(digits, false, &id);
}

static int recover_container(const char *state_dir, const char *name, json_t *intents) {
	_cleanup_close_ int pfd = -EBADF;
	int r = catalog_open_subdir(state_dir, name, "pairs", false, &pfd);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return log_error_errno(r, "%s: cannot open %s/containers/%s/pairs (a symlink?): %m; left alone", name,
		                       state_dir, name);
	_cleanup_strv_free_ char **entries = NULL;
	r = list_entries(pfd, &entries);
	if (r < 0)
		return log_error_errno(r, "%s: cannot read %s/containers/%s/pairs: %m", name, state_dir, name);
	int ret = 0;
	for (char **e = entries; *e; e++) {
		uint64_t id;
		if (is_unborn_pair(*e)) {
			r = catalog_remove_unborn_pair(pfd, *e);
			if (r < 0)
				log_warning("%s: %s/containers/%s/pairs/%s holds more than a pair directory being created does: "
				            "left alone", name, state_dir, name, *e);
			continue;
		}
		if (!parse_entry_id(*e, false, &id))
			continue; /* not a pair directory ckptd could have made: not ours to judge */
		_cleanup_free_ char *why = NULL;
		r = pair_entry_damage(pfd, *e, name, id, &why);
		if (r >= 0)
			continue;
		if (intent_names(intents, name, id)) {
			log_warning("%s: pair %" PRIu64 " (%s) belongs to an interrupted job whose repair failed; "
			            "left for the next start", name, id, strna(why));
			continue;
		}
		if (r == -ENOENT && marked_incomplete(pfd, *e)) {
			/* Allocated by ckptd, and no intent: nothing was snapshotted for it. */
			r = rm_rf_at(pfd, *e);
			if (r < 0)
				ret = log_error_errno(r, "%s: cannot remove the unfinished pair directory "
				                      "%s/containers/%s/pairs/%s: %m", name, state_dir, name, *e);
			else
				log_warning("%s: removed the directory of pair %" PRIu64 ", left unfinished (before any "
				            "snapshot) by a previous ckptd", name, id);
			continue;
		}
		_cleanup_free_ char *moved = NULL;
		r = quarantine_pair(state_dir, name, id, &moved);
		if (r < 0)
			ret = log_error_errno(r, "%s: pair %" PRIu64 " is damaged (%s) and cannot be moved to %s/containers/%s/"
			                      "quarantine: %m; left in place", name, id, strna(why), state_dir, name);
		else
			log_container_event(LOG_WARNING, CKPTD_MESSAGE_RECOVERED, name, id, UINT64_MAX,
			                    "%s: pair %" PRIu64 " is damaged (%s): moved to %s; its snapshots are left in "
			                    "place; 'ckptctl delete %s %" PRIu64 " --force' removes it", name, id,
			                    strna(why), strna(moved), name, id);
	}
	return ret;
}

int catalog_recover_pairs(const char *state_dir, json_t *intents) {
	_cleanup_strv_free_ char **names = NULL;
	int r = catalog_list_containers(state_dir, &names);
	if (r < 0)
		return log_error_errno(r, "Cannot read %s/containers: %m", state_dir);
	int ret = 0;
	for (char **n = names; *n; n++) {
		r = recover_container(state_dir, *n, intents);
		if (r < 0)
			ret = r;
	}
	return ret;
}

static int add_damaged(json_t *array, const char *state_dir, const char *name, uint64_t id, const char *sub,
                       const char *entry, const char *reason) {
	_cleanup_free_ char *path = path_join(state_dir, "containers", name, sub, entry);
	if (!path)
		return -ENOMEM;
	return json_array_append_new(array, json_pack("{s:s,s:I,s:s,s:s,s:s}", "container", name, "id",
	                                              (json_int_t) id, "state", "damaged", "reason", reason,
	                                              "path", path)) < 0 ? -ENOMEM : 0;
}

static int list_damaged_one(const char *state_dir, const char *name, json_t *array) {
	static const char *const subs[] = { "pairs", "quarantine" };
	for (size_t s = 0; s < ELEMENTSOF(subs); s++) {
		_cleanup_close_ int dfd = -EBADF;
		_cleanup_strv_free_ char **entries = NULL;
		if (catalog_open_subdir(state_dir, name, subs[s], false, &dfd) < 0 || list_entries(dfd, &entries) < 0)
			continue;
		for (char **e = entries; *e; e++) {
			uint64_t id;
			if (!parse_entry_id(*e, s == 1, &id))
				continue;
			_cleanup_free_ char *why = NULL;
			int r = pair_entry_damage(dfd, *e, name, id, &why);
			if (s == 0 && r != -EBADMSG)
				continue; /* complete, or being made (no pair.json yet) */
			if (s == 1 && r >= 0) {
				free(why);
				why = strdup("moved to quarantine at start; its pair.json loads now");
			}
			r = add_damaged(array, state_dir, name, id, subs[s], *e, strna(why));
			if (r < 0)
				return r;
		}
	}
	return 0;
}

int catalog_list_damaged(const char *state_dir, const char *name, json_t *array) {
	if (name)
		return list_damaged_one(state_dir, name, array);
	_cleanup_strv_free_ char **names = NULL;
	int r = catalog_list_containers(state_dir, &names);
	for (char **n = names; r >= 0 && *n; n++)
		r = list_damaged_one(state_dir, *n, array);
	return r;
}

int catalog_find_damaged(const char *state_dir, const char *name, uint64_t id, char **ret_path, char **ret_reason) {
	_cleanup_json_ json_t *all = json_array();
	if (!all)
		return -ENOMEM;
	int r = list_damaged_one(state_dir, name, all);
	if (r < 0)
		return r;
	size_t i;
	json_t *d;
	json_array_foreach(all, i, d) {
		if (json_integer_value(json_object_get(d, "id")) != (json_int_t) id)
			continue;
		if (ret_path && !(*ret_path = strdup(json_string_value(json_object_get(d, "path")))))
			return -ENOMEM;
		if (ret_reason && !(*ret_reason = strdup(json_string_value(json_object_get(d, "reason")))))
			return -ENOMEM;
		return 0;
	}
	return -ENOENT;
}

int catalog_remove_damaged(const char *state_dir, const char *name, uint64_t id, json_t *removed, char **ret_error) {
	char idstr[32];
	snprintf(idstr, sizeof(idstr), "%" PRIu64, id);
	int found = 0, r;
	_cleanup_close_ int pfd = -EBADF, qfd = -EBADF;
	if (catalog_open_subdir(state_dir, name, "pairs", false, &pfd) >= 0) {
		struct stat st;
		if (fstatat(pfd, idstr, &st, AT_SYMLINK_NOFOLLOW) >= 0) {
			_cleanup_free_ char *why = NULL;
			if (pair_entry_damage(pfd, idstr, name, id, &why) >= 0)
				return error_setf(ret_error, -EEXIST, "pair %s/%" PRIu64 " is complete, not damaged", name, id);
			r = rm_rf_at(pfd, idstr);
			if (r < 0)
				return error_setf(ret_error, r, "cannot remove %s/containers/%s/pairs/%s: %m", state_dir, name,
				                  idstr);
			json_array_append_new(removed, json_sprintf("%s/containers/%s/pairs/%s", state_dir, name, idstr));
			found++;
		}
	}
	_cleanup_strv_free_ char **entries = NULL;
	if (catalog_open_subdir(state_dir, name, "quarantine", false, &qfd) >= 0 && list_entries(qfd, &entries) >= 0)
		for (char **e = entries; *e; e++) {
			uint64_t qid;
			if (!parse_entry_id(*e, true, &qid) || qid != id)
				continue;
			r = rm_rf_at(qfd, *e);
			if (r < 0)
				return error_setf(ret_error, r, "cannot remove %s/containers/%s/quarantine/%s: %m", state_dir,
				                  name, *e);
			json_array_append_new(removed, json_sprintf("%s/containers/%s/quarantine/%s", state_dir, name, *e));
			found++;
		}
	if (found == 0)
		return error_setf(ret_error, -ENOENT, "pair %s/%" PRIu64 " has no damaged record", name, id);
	if (qfd >= 0)
		(void) fsync(qfd);
	if (pfd >= 0)
		(void) fsync(pfd);
	return 0;
}

uint64_t quarantine_max_id(const char *state_dir, const char *name) {
	_cleanup_close_ int qfd = -EBADF;
	_cleanup_strv_free_ char **entries = NULL;
	uint64_t max = 0;
	if (catalog_open_subdir(state_dir, name, "quarantine", false, &qfd) < 0 || list_entries(qfd, &entries) < 0)
		return 0;
	for (char **e = entries; *e; e++) {
		uint64_t id;
		if (parse_entry_id(*e, true, &id) && id > max)
			max = id;
	}
	return max;
}
