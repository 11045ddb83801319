/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Thaws what a killed predecessor left frozen, removes its half-made pairs, marks interrupted
 * rollbacks for the user (and for the service, which finishes them as jobs), and moves
 * incomplete pair directories that are not ckptd's own unfinished work to quarantine. */
int recovery_run(const char *state_dir);
