/* libgophercron: the task model and the report bodies.
 *
 * A task is the original's TaskInfo (SPEC §4). Its JSON form and the
 * result/warning bodies agents send to report_addr (SPEC §5) are
 * byte-compatible with GopherCron 1.10; deliberate departures are
 * documented next to the function concerned. The etcd keys a task lives
 * under are in keys.h (included here), the texts a run's error holds in
 * exec.h.
 *
 * Ownership: every char * inside gc_task, gc_result and gc_warning is
 * malloc'd and owned by the struct; release with the matching _clear().
 * Structs must be initialised (zero, or the _INIT macro) before a function
 * fills them; functions that fill a struct free its previous contents first
 * and leave it untouched when they fail.
 */
#ifndef GOPHERCRON_JOB_H
#define GOPHERCRON_JOB_H

#include <gophercron/common.h>
#include <gophercron/exec.h>
#include <gophercron/keys.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ task */

/* Size of the buffer gc_task_id_new() fills (ids are 19-20 digits). */
#define GC_TASK_ID_BUF 37
/* Largest TaskInfo JSON, in bytes, a task may have: the service refuses
 * to save a bigger task, and an agent skips (with a warning) a task key
 * whose value is bigger. A task's command or name longer than this cannot
 * come from a real task: stored run logs keep at most this much of them. */
#define GC_TASK_MAX_BYTES (1024 * 1024)

/* Unknown JSON members of a task, kept for read-modify-write. Opaque. */
struct gc_task_extra;

typedef struct gc_task {
	char *task_id;      /* "1131476936434913280" (snowflake-style) */
	char *name;
	int64_t project_id; /* > 0 */
	char *command;
	char *cron;         /* cron expression, see cron.h */
	char *remark;
	int64_t timeout;     /* seconds, 0 = no timeout */
	int64_t create_time; /* unix seconds of the first save */
	int status;          /* 1 = scheduled, 0 = paused */
	int is_running;      /* 1/0 (the original stores -1 for "unknown") */
	int noseize;         /* 1 = every agent of the project runs it */
	int exclusion;       /* 1 = skip a tick while a run is in progress */
	char *client_ip;
	struct gc_task_extra *extra; /* unknown JSON members (may be NULL) */
} gc_task;

#define GC_TASK_INIT                                                        \
	{NULL, NULL, 0, NULL, NULL, NULL, 0, 0, 0, 0, 0, 0, NULL, NULL}

/* Zero the struct (no allocation). */
GC_EXTERN void gc_task_init(gc_task *t);
/* Free everything the task owns and zero it. NULL is harmless. */
GC_EXTERN void gc_task_clear(gc_task *t);
/* Deep copy (including unknown members) into an initialised `dst`. */
GC_EXTERN int gc_task_copy(gc_task *dst, const gc_task *src, gc_error *err);

/* Decode TaskInfo JSON into an initialised `t`. Integers may be JSON numbers
 * or numeric strings ("3"); null leaves the field at its zero value; any
 * other type is GC_EINVAL with a message naming the field. Numbers are
 * read exactly from their text (9007199254740993 stays odd; 1.0e3 is
 * 1000; 1.5 or a value beyond the field's range is GC_EINVAL, never
 * rounded). Member names match case-insensitively, last one wins (as Go's
 * encoding/json). Members that are not TaskInfo fields are kept in
 * t->extra. Strings missing from the JSON become "" (never NULL). The text
 * must be strict JSON (RFC 8259: control bytes raw in a string or between
 * tokens other than tab/CR/LF are rejected, as Go's decoder does), nested
 * at most 128 levels (the check is iterative, so any thread's stack
 * suffices), with no \u0000 in any string (GC_EINVAL naming the member,
 * instead of a string cut at the NUL). */
GC_EXTERN int gc_task_from_json(gc_task *t, const char *json, size_t len,
				gc_error *err);

/* Encode as the original does: fields in the order task_id, name,
 * project_id, command, cron, remark, timeout, create_time, status,
 * is_running, noseize, exclusion, client_ip, then the unknown members in
 * their original order; Go's string escaping (\u003c \u003e \u0026,
 * invalid UTF-8 as \ufffd). NULL strings encode as "". Returns a malloc'd
 * string (gc_free) or NULL when out of memory. */
GC_EXTERN char *gc_task_to_json(const gc_task *t);

/* Check a task before it is stored. On failure returns GC_EINVAL and the
 * message lists every problem, "; "-separated, each naming the field:
 * empty name or command, bad cron (with the cron engine's message),
 * negative timeout, status/noseize/exclusion not 0 or 1, project_id <= 0,
 * a task_id that cannot be a key (empty is allowed: not yet assigned). */
GC_EXTERN int gc_task_validate(const gc_task *t, gc_error *err);

/* New task id in the original's format: a snowflake-style decimal number
 * (milliseconds since 2010-11-04 << 22 | 22 random bits), so ids sort by
 * creation time. 0 or GC_ESYS (no randomness available). */
GC_EXTERN int gc_task_id_new(char out[GC_TASK_ID_BUF], gc_error *err);

/* Next fire time of the task's cron expression strictly after `from_unix`
 * (unix seconds), in the process's local time zone (TZ). Returns 0 and
 * sets *next_unix, GC_ENOTFOUND when the expression never fires again,
 * GC_EINVAL for a bad expression (message from the cron engine). */
GC_EXTERN int gc_task_next_fire(const gc_task *t, int64_t from_unix,
				int64_t *next_unix, gc_error *err);

/* --------------------------------------------------------------- results */

/* A run whose agent stopped (was killed, crashed) while it ran: reported
 * when the agent starts again on the same spool (reporter.h). The other
 * error texts of a run (GC_RUN_ERR_TIMEOUT, ...) are the executor's
 * (exec.h). */
#define GC_RUN_ERR_INTERRUPTED "agent stopped during the run; outcome unknown"

/* Stable id of one run of a task: "<pid>-<tid>-<plan_unix>-<agent_ip>".
 * Deterministic, so a result re-sent after a crash or retry carries the
 * same id and the receiver can drop duplicates. Malloc'd, NULL on OOM. */
GC_EXTERN char *gc_run_id(int64_t project_id, const char *task_id,
			  int64_t plan_unix, const char *agent_ip);

/* TaskExecuteResult. Times are unix nanoseconds. */
typedef struct gc_result {
	gc_task task;          /* snapshot of the task that ran */
	int64_t plan_time_ns;  /* the tick that ran (not the next one) */
	int64_t real_time_ns;  /* when the agent set out to run it */
	int64_t start_time_ns; /* process started */
	int64_t end_time_ns;   /* process ended */
	char *output;          /* captured stdout+stderr (may hold NULs) */
	size_t output_len;
	char *error;           /* "" on success, else the text (exec.h's
				  gc_exit_text and GC_RUN_ERR_*, or
				  GC_RUN_ERR_INTERRUPTED) */
	char *run_id;          /* gc_run_id(); may be NULL/"" */
} gc_result;

#define GC_RESULT_INIT {GC_TASK_INIT, 0, 0, 0, 0, NULL, 0, NULL, NULL}

GC_EXTERN void gc_result_init(gc_result *r);
GC_EXTERN void gc_result_clear(gc_result *r);
GC_EXTERN int gc_result_copy(gc_result *dst, const gc_result *src,
			     gc_error *err);

/* Fill a result from an executor outcome: error text, start/end times,
 * and the output, which is MOVED (o->output becomes NULL). The task
 * snapshot, plan/real time and run id are the caller's to set. 0 or
 * GC_ENOMEM. */
GC_EXTERN int gc_result_outcome_take(gc_result *r, gc_exec_outcome *o);

/* Encode exactly like the original's body:
 *   {"execute_info":{"task":{TaskInfo},"plan_time":T,"real_time":T},
 *    "output":"...","error":"...","start_time":T,"end_time":T,
 *    "run_id":"...","plan_unix":N}
 * T is Go's RFC3339Nano in UTC ("2026-11-23T21:51:21.00065131Z", trailing
 * zeros and an all-zero fraction dropped). run_id and plan_unix (unix
 * seconds of plan_time) are additions; receivers that do not know them
 * ignore them. Malloc'd, NULL when out of memory. */
GC_EXTERN char *gc_result_to_json(const gc_result *r);

/* Decode a TaskExecuteResult body (what the service's ingest endpoint
 * receives). Times accept any RFC3339 offset. run_id/plan_unix are
 * optional; when plan_unix is present it must agree with plan_time.
 * Output that held NUL bytes (sent as \u0000) keeps them: output_len
 * counts every byte. \u0000 anywhere else is GC_EINVAL; the text is
 * checked as gc_task_from_json's is (strict, at most 128 levels). */
GC_EXTERN int gc_result_from_json(gc_result *r, const char *json, size_t len,
				  gc_error *err);

/* Warning body: {"data","type","agent_ip","task_name","project_id"}. */
typedef struct gc_warning {
	char *data;      /* the message, e.g. "exit status 3" */
	char *type;      /* "task" or "system" */
	char *agent_ip;
	char *task_name;
	int64_t project_id;
} gc_warning;

#define GC_WARNING_INIT {NULL, NULL, NULL, NULL, 0}

GC_EXTERN void gc_warning_clear(gc_warning *w);
GC_EXTERN char *gc_warning_to_json(const gc_warning *w);
GC_EXTERN int gc_warning_from_json(gc_warning *w, const char *json,
				   size_t len, gc_error *err);

/* Warning a failed result produces (type "task", data = r->error). */
GC_EXTERN int gc_warning_for_result(gc_warning *w, const gc_result *r,
				    const char *agent_ip, gc_error *err);

#ifdef __cplusplus
}
#endif
#endif
