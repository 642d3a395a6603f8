/* libgophercron: the etcd key layout, the contract between the service
 * (which writes tasks, run-now and kill requests) and the agents (which
 * watch them, claim ticks and register). Same keys as GopherCron 1.10.
 *
 * Every key lives under a prefix P from the configuration (default
 * "/gopher_cron"; trailing slashes are ignored):
 *
 *   P/<pid>/<tid>                   task definition (TaskInfo JSON)
 *   P/<pid>/t_scheduler/<tid>       run now (TaskInfo JSON, short lease)
 *   P/<pid>/<tid>/t_status          "running" or "" while/after a run
 *   P/lock/<pid>/<tid>              task lock of the original (exclusion)
 *   P/lock/<pid>/<tid>/<plan_unix>  claim of one tick (noseize=0): created
 *                                   only if absent by the agent that runs
 *                                   the tick, leased, expires on its own
 *   P/kill/<pid>/<tid>              kill request (empty, short lease)
 *   P/register/<pid>/<ip>           agent registration (10 s lease)
 *   P/agent/<ip>/<command>          command for one agent (reload_config)
 *   P/update/<pid>/<tid>            the original's save lock (parsed only)
 *
 * Builders return a malloc'd key (gc_free), or NULL when out of memory or
 * when a part cannot form an exact key: project id <= 0, a task id for
 * which gc_task_id_valid() is false, an ip/command that is empty or holds
 * '/'. Use these exact keys for single-task reads, writes and deletes:
 * never a range, so task "ab" can never touch task "abc". The only ranges
 * are the '/'-terminated prefixes below, and none of them spans two
 * tasks. */
#ifndef GOPHERCRON_KEYS_H
#define GOPHERCRON_KEYS_H

#include <gophercron/common.h>

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Longest task id accepted by gc_task_validate() and the key functions. */
#define GC_TASK_ID_MAX 128

/* Is `id` usable as a task id in etcd keys: 1..GC_TASK_ID_MAX bytes of
 * [A-Za-z0-9._-], and not a reserved key word ("t_scheduler", "t_status")?
 * Returns 1 or 0. */
GC_EXTERN int gc_task_id_valid(const char *id);

GC_EXTERN char *gc_key_task(const char *prefix, int64_t project_id,
			    const char *task_id);
GC_EXTERN char *gc_key_run_now(const char *prefix, int64_t project_id,
			       const char *task_id);
GC_EXTERN char *gc_key_status(const char *prefix, int64_t project_id,
			      const char *task_id);
GC_EXTERN char *gc_key_lock(const char *prefix, int64_t project_id,
			    const char *task_id);
GC_EXTERN char *gc_key_claim(const char *prefix, int64_t project_id,
			     const char *task_id, int64_t plan_unix);
GC_EXTERN char *gc_key_kill(const char *prefix, int64_t project_id,
			    const char *task_id);
GC_EXTERN char *gc_key_register(const char *prefix, int64_t project_id,
				const char *agent_ip);
GC_EXTERN char *gc_key_agent_cmd(const char *prefix, const char *agent_ip,
				 const char *command);

/* Prefixes for range reads and watches, all ending in "/":
 *   project: "P/<pid>/" -- tasks, AND their t_status keys AND the
 *            t_scheduler/ run-now keys: classify with gc_key_parse();
 *   run_now: "P/<pid>/t_scheduler/";   kill: "P/kill/<pid>/";
 *   register: "P/register/<pid>/";     agent: "P/agent/<ip>/";
 *   claims of one task: "P/lock/<pid>/<tid>/". */
GC_EXTERN char *gc_key_project_prefix(const char *prefix, int64_t project_id);
GC_EXTERN char *gc_key_run_now_prefix(const char *prefix, int64_t project_id);
GC_EXTERN char *gc_key_kill_prefix(const char *prefix, int64_t project_id);
GC_EXTERN char *gc_key_register_prefix(const char *prefix,
				       int64_t project_id);
GC_EXTERN char *gc_key_agent_prefix(const char *prefix, const char *agent_ip);
GC_EXTERN char *gc_key_claim_prefix(const char *prefix, int64_t project_id,
				    const char *task_id);

typedef enum gc_key_kind {
	GC_KEY_UNKNOWN = 0,  /* not under P, or a layout we do not know */
	GC_KEY_TASK,         /* P/<pid>/<tid> */
	GC_KEY_STATUS,       /* P/<pid>/<tid>/t_status */
	GC_KEY_RUN_NOW,      /* P/<pid>/t_scheduler/<tid> */
	GC_KEY_KILL,         /* P/kill/<pid>/<tid> */
	GC_KEY_LOCK,         /* P/lock/<pid>/<tid> */
	GC_KEY_CLAIM,        /* P/lock/<pid>/<tid>/<plan_unix> */
	GC_KEY_REGISTER,     /* P/register/<pid>/<ip> */
	GC_KEY_AGENT_CMD,    /* P/agent/<ip>/<command> */
	GC_KEY_UPDATE        /* P/update/<pid>/<tid> (original's save lock) */
} gc_key_kind;

#define GC_KEY_PART_MAX 256

typedef struct gc_key_info {
	gc_key_kind kind;
	int64_t project_id;             /* 0 for AGENT_CMD and UNKNOWN */
	char task_id[GC_KEY_PART_MAX];  /* TASK STATUS RUN_NOW KILL LOCK
					   CLAIM UPDATE, else "" */
	char ip[GC_KEY_PART_MAX];       /* REGISTER, AGENT_CMD, else "" */
	char command[GC_KEY_PART_MAX];  /* AGENT_CMD, else "" */
	int64_t plan_unix;              /* CLAIM, else 0 */
} gc_key_info;

/* Classify `key` (len bytes, need not be NUL-terminated) under `prefix`.
 * Fills *out (zeroed first) and returns out->kind. Parts must match the
 * builders' rules exactly; anything else (extra segments, empty parts,
 * non-numeric project ids, parts longer than GC_KEY_PART_MAX-1, another
 * prefix) is GC_KEY_UNKNOWN. */
GC_EXTERN gc_key_kind gc_key_parse(const char *prefix, const char *key,
				   size_t len, gc_key_info *out);

/* "task", "status", "run_now", ... for logs; "unknown" otherwise. */
GC_EXTERN const char *gc_key_kind_name(gc_key_kind kind);

#ifdef __cplusplus
}
#endif
#endif
