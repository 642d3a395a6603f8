/* The reporter's journal of runs in progress, so that a run whose agent
 * dies during it (kill -9, crash, OOM kill) still gets a result.
 *
 * Layout: `running/` inside the spool dir, one file per run:
 *   <name>.run    the run's result body as it started (gc_result_to_json:
 *                 task, plan, real and start time, run id; no output)
 *   .tmp-<name>   being written; renamed to <name>.run when complete
 * <name> is the run id with every byte outside [A-Za-z0-9._-] written as
 * %XX; an id longer than 180 bytes keeps its first 180 and gets
 * "~<crc32 of the whole id>", so names stay under NAME_MAX.
 *
 * A run's file is created before its command is spawned and removed after
 * its result is in the spool. A `.run` file found at open therefore
 * belongs to a run whose result never reached the spool; the reporter
 * turns each into a result (see reporter.c). A `.tmp-` file is a run that
 * had not started: it is removed.
 *
 * Threads: add and remove from any thread (no shared state but the dir fd).
 */
#ifndef GC_REPORT_INFLIGHT_H
#define GC_REPORT_INFLIGHT_H

#include "internal.h"

#include <stddef.h>

typedef struct gc__inflight gc__inflight;

/* A run left in the journal by an earlier process. */
typedef struct gc__inflight_entry {
	char name[256]; /* file name in running/ */
	char *body;	/* its contents (NUL-terminated), NULL when the file
			   could not be read (errnum says why) */
	size_t len;
	int errnum;
} gc__inflight_entry;

/* Open (creating `running/`, mode 0700) under the spool dir `spool_dirfd`
 * (borrowed, must outlive the journal). `sync` is enum gc_reporter_sync:
 * GC_REPORTER_SYNC_ALWAYS makes add durable before it returns. `dir` is for
 * messages only. */
int gc__inflight_open(gc__inflight **out, int spool_dirfd, const char *dir,
		      int sync, gc_error *err);
void gc__inflight_close(gc__inflight *j);

/* Record that `run_id` is running, with its result body so far.
 * GC_EINVAL (empty run id), GC_EIO (the file could not be written:
 * nothing is left behind). */
int gc__inflight_add(gc__inflight *j, const char *run_id, const char *body,
		     size_t len, gc_error *err);
/* The run's result is in the spool: forget it. 0, or GC_ENOTFOUND when
 * it was not recorded. */
int gc__inflight_remove(gc__inflight *j, const char *run_id);
/* Remove one recovered entry by its file name (0 or GC_ENOTFOUND), or
 * rename it to <name>.bad, out of the way of later opens. */
int gc__inflight_remove_name(gc__inflight *j, const char *name);
void gc__inflight_set_aside(gc__inflight *j, const char *name);

/* The runs left over by an earlier process, sorted by file name; removes
 * `.tmp-` leftovers. *out is malloc'd (free with
 * gc__inflight_entries_free). Files larger than 16 MiB are not read
 * (body NULL, errnum EFBIG). */
int gc__inflight_list(gc__inflight *j, gc__inflight_entry **out, size_t *n,
		      gc_error *err);
void gc__inflight_entries_free(gc__inflight_entry *e, size_t n);

/* File name (without ".run") of a run id; `out` needs 256 bytes. */
void gc__inflight_name(const char *run_id, char out[256]);

#endif
