/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A pair as one stream, between hosts (export.c writes it, import.c reads it).
 *
 * The stream is a POSIX tar archive (pax, written and read by libarchive) whose members come in
 * this order:
 *   manifest.json         format and version, source host, container, pair id, base pair id
 *                         (null: full), the volumes (index, backend, source path, incremental or
 *                         not), and the name, size and SHA-256 of every member known before
 *                         streaming (pair.json, the images)
 *   pair.json             the pair's record as the source host has it
 *   images/FILE           the CRIU images, one member each
 *   volumes/I/NNNNNN      volume I's snapshot as a `btrfs send` stream (incremental with `-p`
 *                         against the base pair's snapshot), cut into chunks of at most
 *                         EXPORT_CHUNK_BYTES; each chunk carries its own SHA-256 in the pax
 *                         header (extended attribute EXPORT_CHUNK_SUM_XATTR), so that the reader
 *                         verifies it before handing it on
 *   end.json              per volume: chunks, bytes and the SHA-256 of the whole stream; the
 *                         number of members and bytes before it. A stream without it, or with
 *                         anything after it, is truncated or not ours.
 * Nothing is staged on disk on either side: the sender reads the pair while writing, the
 * receiver verifies each member as it comes and applies it. */

#define EXPORT_FORMAT "ckptd-export"
#define EXPORT_FORMAT_VERSION 1
#define EXPORT_MANIFEST "manifest.json"
#define EXPORT_PAIR "pair.json"
#define EXPORT_END "end.json"
#define EXPORT_IMAGES_PREFIX "images/"
#define EXPORT_VOLUMES_PREFIX "volumes/"
#define EXPORT_CHUNK_BYTES (8U << 20)
#define EXPORT_CHUNK_SUM_XATTR "ckptd.sha256"
/* A manifest or record larger than this is not ours. */
#define EXPORT_JSON_MAX (16U << 20)

#include <jansson.h>
#include <stdint.h>

struct job;

/* Export: j->pair (and j->base_pair, 0 = full) of j->container into j->stream_fd. Replies
 * {"export": {container, pair, base, host, bytes, members: [{name, bytes}]}}. */
int job_export(struct job *j);
/* The same, for another caller (replicate.c): the export's result, or an error; j needs only
 * container, state_dir, pair, base_pair and stream_fd. */
int export_pair(struct job *j, json_t **ret_result, char **ret_error);
/* Import: the stream read from j->stream_fd becomes a new pair of j->container (volumes mapped
 * by j->volume_map). Replies {"import": {container, pair, origin, bytes, ...}}. */
int job_import(struct job *j);
/* At start (recovery.c), for the intent of an import a killed ckptd left: removes what its
 * receives left in the snapshots' directories (checked to be where ckptd keeps pair NAME/ID's
 * snapshots). The half-made pair itself goes as a dump's does. */
int import_abort_received(const char *name, uint64_t id, json_t *intent, char **ret_error);
