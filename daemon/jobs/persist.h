/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pair-record.h"

/* Copies the images from the staging directory FROM to TO (or, when FROM is TO, syncs them in
 * place), checksumming each: im gets their sums, byte and file counts. */
int persist_images(const char *from, const char *to, struct pair_images *im, char **ret_error);
