/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

struct job;

/* What discovery sees in the running container j->container, and whether it could be
 * checkpointed now: a scan of /proc and netlink, so a job of its own. */
int job_inspect(struct job *j);
