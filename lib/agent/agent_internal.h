/* Agent internals shared by the lib/agent sources. Not installed.
 *
 * Threads:
 *  - the agent thread drives everything (gc_agent_step): epoll over a
 *    wakeup eventfd, the schedule timerfd, a clock-set timerfd, the
 *    executor's fd and the etcd watcher's fd;
 *  - etcd worker threads (options.etcd_threads) do every blocking etcd
 *    request (claims, status writes, listings, registration), each with its
 *    own gc_etcd handle, so the agent thread never blocks on the network;
 *  - handler threads run in-process handlers;
 *  - the lease keeper's thread keeps the session lease alive.
 * Workers and handler threads hand finished jobs back through one
 * mutex-protected completion list plus the wakeup eventfd; the agent
 * thread runs each job's `done` callback. Nothing else is shared except the
 * lease ids (lease_mu) and the stats (stats_mu). */
#ifndef GC_AGENT_INTERNAL_H
#define GC_AGENT_INTERNAL_H

#include <gophercron/agent.h>
#include <gophercron/cron.h>
#include <gophercron/etcd.h>
#include <gophercron/exec.h>

#include "agent/log.h"
#include "agent/sched.h"
#include "agent/timing.h"
#include "internal.h"

#include <pthread.h>
#include <stdatomic.h>

typedef struct gc__ajob gc__ajob;
typedef struct gc__worker gc__worker;
typedef struct gc__project gc__project;
typedef struct gc__atask gc__atask;
typedef struct gc__run gc__run;
typedef struct gc__hpool gc__hpool;
typedef struct gc__cronref gc__cronref;
typedef struct gc__claim gc__claim;

/* Ticks due together are claimed this many per etcd txn (each needs a
 * compare and two puts; etcd allows 128 operations per txn). */
#define GC__CLAIM_BATCH 64

/* Parsed cron expressions shared by every task with the same text. */
typedef struct gc__croncache {
	gc__cronref **buckets;
	size_t nbuckets;
	size_t count;
} gc__croncache;

/* ------------------------------------------------------------ jobs */

/* Runs on a worker thread with that worker's etcd handle. */
typedef void (*gc__ajob_run_fn)(gc__ajob *job, gc__worker *w);
/* Runs on the agent thread once the job is back; frees the job. */
typedef void (*gc__ajob_done_fn)(gc_agent *a, gc__ajob *job);

struct gc__ajob {
	gc__ajob *next;
	gc__ajob_run_fn run;   /* NULL for handler completions */
	gc__ajob_done_fn done;
	gc_agent *agent;
	int rc;
	gc_error err;
};

struct gc__worker {
	gc_agent *agent;
	gc_etcd *etcd;
	pthread_t thread;
	int started;
};

/* -------------------------------------------------------- projects */

enum {
	GC__PROJ_LISTING = 0, /* first listing in flight */
	GC__PROJ_WATCHING,    /* listed, watch running */
	GC__PROJ_RELISTING    /* watch compacted: listing again */
};

/* A key of a project the agent does not load (a value over
 * GC_TASK_MAX_BYTES or one it cannot read, not a task), remembered so it is
 * warned about once per revision, not on every listing. */
typedef struct gc__skipped {
	char *key;       /* the etcd key */
	int64_t mod_rev; /* the revision warned about */
	uint32_t gen;    /* listing generation it was last seen in */
} gc__skipped;

/* Largest answer (a listing page, a watch message) the agent's etcd
 * clients read: a page with a key whose value is bigger is read again in
 * smaller pages, and that key alone is skipped. */
#define GC__AGENT_ETCD_MAX_RESPONSE ((size_t)16 << 20)

struct gc__project {
	gc__project *next;
	gc_agent *agent;
	int64_t id;
	char *prefix;      /* P/<pid>/ */
	char *kill_prefix; /* P/kill/<pid>/ */
	char *register_key;
	int state;
	int removed;       /* no longer configured; freed when refs == 0 */
	int refs;          /* jobs in flight that point at it */
	uint32_t gen;      /* listing generation, for the re-list diff */
	int64_t listed_rev;
	size_t list_keys;  /* keys applied by the listing in progress */
	gc_etcd_watch *watch;
	gc_etcd_watch *kill_watch;
	int registered;    /* 1 = register key written under the current
			    * session lease, -1 = write in flight, 0 = no */
	int64_t reg_retry_at_ms;  /* mono time to retry a failed register */
	int64_t list_retry_at_ms; /* mono time to retry a failed listing */
	gc__skipped *skipped;     /* keys not loaded (see gc__skipped) */
	size_t n_skipped;
};

/* ------------------------------------------------------------ tasks */

/* One task of a served project. Kept small: 100,000 must fit. The task
 * JSON is kept as etcd holds it and decoded only when a run starts. */
struct gc__atask {
	gc__project *proj;
	gc__cronref *cron;  /* NULL: bad expression (not scheduled) */
	char *json;         /* TaskInfo as stored */
	uint32_t json_len;
	uint32_t gen;
	int64_t mod_rev;
	int64_t last_plan;  /* last tick attempted (or the load floor) */
	int64_t timeout_s;
	uint16_t running;   /* runs of it in progress on this agent */
	uint8_t status;     /* 1 scheduled, 0 paused */
	uint8_t noseize;
	uint8_t exclusion;
	char key[];         /* "<pid>/<tid>" (the scheduler's key) */
};

/* -------------------------------------------------------------- runs */

struct gc__run {
	gc__run *prev, *next;
	gc_task task;        /* snapshot decoded at start */
	int64_t project_id;  /* from the key (authoritative) */
	char *task_id;       /* from the key */
	char *sched_key;     /* "<pid>/<tid>" */
	char *status_key;
	int64_t plan_s;
	int64_t plan_ns;
	int64_t real_ns;     /* when the agent set out to run it */
	int64_t fence;       /* claim revision, 0 for noseize runs */
	int64_t status_rev;  /* revision of our t_status put (0 = none yet) */
	char *run_id;
	int run_now;
	int noseize;
	int status_pending;  /* status put in flight (noseize) */
	int end_pending;     /* run ended while the status put was in flight */
	uint64_t exec_handle;/* shell run (0 = none) */
	struct gc__hjob *hjob; /* handler run */
	int kill_reason;     /* 0, or GC_EXEC_KILLED / GC_EXEC_TIMEOUT */
	int64_t deadline_ms; /* handler timeout (mono), 0 = none */
	int done;            /* outcome delivered, only status clean-up left */
};

/* ----------------------------------------------------------- handlers */

typedef struct gc__handler {
	struct gc__handler *next;
	char *name;
	gc_agent_handler_fn fn;
	void *payload;
} gc__handler;

/* ------------------------------------------------------------ agent */

enum {
	GC__AGENT_NEW = 0,
	GC__AGENT_RUNNING,
	GC__AGENT_DRAINING, /* stop requested: runs finish */
	GC__AGENT_KILLING,  /* grace over: runs killed, waiting for them */
	GC__AGENT_CLOSING,  /* runs done: status and session clean-up */
	GC__AGENT_STOPPED
};

struct gc_agent {
	/* configuration (copied) */
	char *prefix;
	char *client_ip;
	char *shell;
	char *config_path;
	char **endpoints;
	size_t n_endpoints;
	char *etcd_user;
	char *etcd_pass;
	char *tls_ca, *tls_cert, *tls_key;
	int64_t dial_timeout_ms;
	int64_t output_limit;
	int64_t kill_grace_ms;
	int64_t claim_ttl_s;
	int64_t window_s;   /* claim lease rotation period */
	gc_agent_options opts;
	unsigned cron_flags;

	int state;
	int epfd, evfd, timerfd, clockfd;
	atomic_int stop_requested;
	atomic_int reload_requested;
	atomic_llong session_lost; /* lease id reported lost by the keeper */

	/* etcd */
	gc_etcd *etcd;          /* for the watcher and keeper */
	gc_etcd_watcher *watcher;
	gc_etcd_lease_keeper *keeper;
	gc_etcd_watch *cmd_watch;
	gc__worker *workers;
	int n_workers;
	pthread_mutex_t q_mu;
	pthread_cond_t q_cv;
	gc__ajob *q_head, *q_tail; /* pending worker jobs */
	int q_stop;
	gc__ajob *done_head, *done_tail; /* finished jobs (q_mu) */
	int jobs_in_flight;

	/* leases: read by workers (lease_mu); grants serialised by grant_mu */
	pthread_mutex_t lease_mu;
	pthread_mutex_t grant_mu;
	int64_t session_lease;  /* 0 = none */
	int64_t window_lease;   /* claim lease of the current window */
	int64_t window_born_ms; /* mono time the grant was sent */
	int session_granting;
	int64_t session_retry_at_ms;

	/* projects and tasks */
	int64_t *want_projects;
	size_t n_want;
	gc__project *projects;
	gc__sched sched;
	gc__croncache crons;

	/* runs */
	gc_exec *exec;
	gc__run *runs;
	size_t n_runs;
	size_t status_jobs;     /* end-of-run status writes in flight */
	size_t claims_in_flight;
	gc__claim *pending[GC__CLAIM_BATCH]; /* ticks not yet submitted */
	size_t n_pending;
	gc__hpool *hpool;
	gc__handler *handlers;

	/* time */
	gc__clockwatch clock;
	int64_t armed_due;      /* due time the timerfd is armed for */
	int64_t drain_deadline_ms;
	int64_t close_deadline_ms;

	/* own thread */
	pthread_t thread;
	int thread_started;
	int thread_rc;
	gc_error thread_err;

	gc__alog log;
	gc__astats stats;
};

/* agent.c */
void gc__agent_rearm(gc_agent *a);

/* pool.c */
int gc__pool_start(gc_agent *a, gc_error *err);
void gc__pool_stop(gc_agent *a);
void gc__pool_submit(gc_agent *a, gc__ajob *job);
/* Hand a finished job to the agent thread (any thread). */
void gc__pool_complete(gc_agent *a, gc__ajob *job);
/* Agent thread: run `done` of every finished job. */
void gc__pool_drain(gc_agent *a);
/* Worker side: the window (claim) lease, granting a new one when the
 * current window is over. 0 or an error. */
int gc__lease_window(gc__worker *w, int64_t *lease, gc_error *err);
void gc__lease_window_drop(gc_agent *a, int64_t lease);
int64_t gc__lease_session(gc_agent *a);
/* Worker side: delete `key` only while its compare `target` (GC_ETCD_CMP_MOD,
 * _LEASE..) still equals `number`; a failed compare is not an error. */
int gc__etcd_delete_if(gc__worker *w, const char *key, int target,
		       int64_t number, gc_error *err);

/* project.c */
int gc__projects_apply(gc_agent *a);
void gc__project_unref(gc_agent *a, gc__project *p);
void gc__projects_free(gc_agent *a);
void gc__projects_tick(gc_agent *a, int64_t now_ms);
int gc__cmd_watch_start(gc_agent *a, gc_error *err);
void gc__task_free(gc_agent *a, gc__atask *t);
int64_t gc__task_next(gc_agent *a, const gc__atask *t, int64_t now_s);

/* session.c */
void gc__session_begin(gc_agent *a);
void gc__session_check(gc_agent *a, int64_t now_ms);
void gc__session_register(gc_agent *a, gc__project *p);
void gc__session_unregister(gc_agent *a, gc__project *p);
void gc__session_close(gc_agent *a);
int gc__session_closed(gc_agent *a);

/* run.c */
void gc__tick(gc_agent *a, gc__atask *t, int64_t plan_s);
void gc__tick_flush(gc_agent *a);
void gc__run_now(gc_agent *a, gc__project *p, const gc_etcd_kv *kv);
void gc__kill_task(gc_agent *a, int64_t project_id, const char *task_id);
void gc__exec_done(gc_exec_outcome *o, void *payload);
void gc__runs_reassert_status(gc_agent *a);
int gc__runs_timeout_ms(gc_agent *a, int64_t now_ms);
void gc__runs_check_deadlines(gc_agent *a, int64_t now_ms);
void gc__runs_cancel_all(gc_agent *a);
void gc__runs_free(gc_agent *a);
void gc__run_finish(gc_agent *a, gc__run *r, gc_result *res);

/* croncache.c */
int gc__croncache_get(gc__croncache *cc, const char *expr, gc__cronref **out,
		      gc_error *err);
const gc_cron *gc__cronref_cron(const gc__cronref *r);
void gc__croncache_put(gc__croncache *cc, gc__cronref *ref);
void gc__croncache_clear(gc__croncache *cc);

/* handler.c */
int gc__hpool_start(gc_agent *a, gc_error *err);
void gc__hpool_stop(gc_agent *a);
const gc__handler *gc__handler_find(gc_agent *a, const char *command,
				    const char **args, char *name,
				    size_t name_len);
int gc__handler_is_call(const char *command);
int gc__hjob_start(gc_agent *a, gc__run *r, const gc__handler *h,
		   const char *args, gc_error *err);
void gc__hjob_cancel(struct gc__hjob *j, int reason);

#endif
