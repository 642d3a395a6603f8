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
#include "agent/pool.h"
#include "agent/sched.h"
#include "agent/timing.h"
#include "internal.h"

#include <pthread.h>
#include <stdatomic.h>

typedef struct gc__project gc__project;
typedef struct gc__atask gc__atask;
typedef struct gc__run gc__run;
typedef struct gc__cronref gc__cronref;
typedef struct gc__claim gc__claim;
typedef struct gc__hjob gc__hjob;

/* Ticks due together are claimed this many per etcd txn (each needs a
 * compare and two puts; etcd allows 128 operations per txn). */
#define GC__CLAIM_BATCH 64

/* Parsed cron expressions shared by every task with the same text. */
typedef struct gc__croncache {
	gc__cronref **buckets;
	size_t nbuckets;
	size_t count;
} gc__croncache;

/* ------------------------------------------------------------ leases */

/* The leases the etcd workers use (lease.c). The session lease holds the
 * registrations and t_status keys: granted, lost and revoked by the agent
 * thread (session.c), read by the workers. The claim-window lease holds
 * the claims: granted by the first worker that needs one in a window
 * (one grant at a time), used for window_s, then replaced. Any thread. */
typedef struct gc__leases {
	pthread_mutex_t mu;	  /* guards session, window, window_born_ms */
	pthread_mutex_t grant_mu; /* one window grant at a time */
	int64_t session;	  /* 0 = none */
	int64_t window;		  /* 0 = none */
	int64_t window_born_ms;	  /* mono time its grant was sent */
	int64_t claim_ttl_s;	  /* set once */
	int64_t window_s;	  /* set once */
	atomic_llong lost;	  /* session lease reported lost, 0 = none */
	const gc__alog *log;
} gc__leases;

void gc__leases_init(gc__leases *l, int64_t claim_ttl_s, int64_t window_s,
		     const gc__alog *log);
void gc__leases_destroy(gc__leases *l);
/* Worker: the claim-window lease, granting a new one when the current
 * window is over. 0 or an error. */
int gc__leases_window(gc__leases *l, gc_etcd *etcd, int64_t *lease,
		      gc_error *err);
void gc__leases_window_drop(gc__leases *l, int64_t lease);
int64_t gc__leases_session(gc__leases *l);
void gc__leases_session_set(gc__leases *l, int64_t lease);
/* Worker: a claim was refused for a lease etcd does not know: the claim
 * window lease (expired early after an etcd restart?) or the session
 * lease. Drops the window lease; if a fresh one still fails (second
 * strike), the session is the culprit: reported lost and dropped. */
void gc__leases_unknown(gc__leases *l, int64_t window, int64_t session,
			int strikes);
/* The keeper's thread: the session lease `lease` is gone. */
void gc__leases_report_lost(gc__leases *l, int64_t lease);
/* Agent thread: the lease reported lost since the last call, or 0. */
int64_t gc__leases_take_lost(gc__leases *l);
/* Worker: delete `key` only while its compare `target` (GC_ETCD_CMP_MOD,
 * _LEASE..) still equals `number`; a failed compare is not an error. */
int gc__etcd_delete_if(gc_etcd *etcd, const char *key, int target,
		       int64_t number, gc_error *err);

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
	gc__hjob *hjob;	     /* handler run */
	int done;            /* outcome delivered, only status clean-up left */
};

/* ----------------------------------------------------------- handlers */

/* handler.c: the registry of in-process handlers, and their runner. */
typedef struct gc__handler {
	struct gc__handler *next;
	char *name;
	gc_agent_handler_fn fn;
	void *payload;
} gc__handler;

int gc__handler_is_call(const char *command);
/* The handler a "@handler:NAME ARGS" command names (NULL if none), its
 * ARGS, and NAME copied into `name`. */
const gc__handler *gc__handler_find(const gc__handler *list,
				    const char *command, const char **args,
				    char *name, size_t name_len);
void gc__handlers_free(gc__handler *list);

typedef struct gc__hrunner gc__hrunner;

/* What a handler job needs; every pointer is borrowed only by
 * gc__hjob_start, except `task`, which must stay valid until the job's
 * outcome is delivered. */
typedef struct gc__hjob_request {
	const gc__handler *handler;
	const char *args;
	const gc_task *task;
	int64_t plan_s;
	int64_t fence; /* 0: none */
	const char *run_id;
	size_t output_limit;
	int64_t timeout_ms; /* 0: none */
	void *userdata;
} gc__hjob_request;

/* A finished handler job. `output` (malloc'd, NULL when out of memory) may
 * be taken by the callback (set it to NULL); the rest is borrowed. */
typedef struct gc__hjob_outcome {
	void *userdata;
	const char *error; /* "" = success */
	char *output;
	size_t output_len;
	int64_t start_ns, end_ns;
} gc__hjob_outcome;

/* Owner thread (gc__hrunner_drain, gc__hrunner_stop): once per job. */
typedef void (*gc__hjob_done_fn)(gc__hjob_outcome *o, void *payload);

int gc__hrunner_new(gc__hrunner **out, int threads, gc__hjob_done_fn done,
		    void *payload, gc_error *err);
/* Readable while outcomes wait for gc__hrunner_drain. */
int gc__hrunner_fd(const gc__hrunner *r);
void gc__hrunner_drain(gc__hrunner *r);
/* Milliseconds until the next job timeout, -1 for none. */
int gc__hrunner_timeout_ms(const gc__hrunner *r, int64_t now_ms);
/* Cancel (GC_EXEC_TIMEOUT) the jobs past their timeout. */
void gc__hrunner_expire(gc__hrunner *r, int64_t now_ms);
/* Cancel (GC_EXEC_KILLED) every job. */
void gc__hrunner_cancel_all(gc__hrunner *r);
/* Jobs not started are cancelled (killed), running ones waited for:
 * every outcome is delivered when it returns. */
void gc__hrunner_stop(gc__hrunner *r);
void gc__hrunner_free(gc__hrunner *r);
int gc__hjob_start(gc__hjob **out, gc__hrunner *r, const gc__hjob_request *req,
		   gc_error *err);
/* Ask the job to stop (GC_EXEC_KILLED or GC_EXEC_TIMEOUT); the first
 * reason given is the one reported. */
void gc__hjob_cancel(gc__hjob *j, int reason);

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

	/* etcd */
	gc_etcd *etcd;          /* for the watcher and keeper */
	gc_etcd_watcher *watcher;
	gc_etcd_lease_keeper *keeper;
	gc_etcd_watch *cmd_watch;
	gc__pool *pool; /* etcd workers */
	gc__leases leases;
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
	gc__hrunner *hrunner;
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
/* Queue an etcd job of the agent: its `data` is set to the agent. */
void gc__agent_submit(gc_agent *a, gc__pool_job *job);

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
void gc__runs_cancel_all(gc_agent *a);
void gc__runs_free(gc_agent *a);
void gc__run_finish(gc_agent *a, gc__run *r, gc_result *res);
/* The handler runner's done callback (payload: the agent). */
void gc__handler_done(gc__hjob_outcome *o, void *payload);

/* croncache.c */
int gc__croncache_get(gc__croncache *cc, const char *expr, gc__cronref **out,
		      gc_error *err);
const gc_cron *gc__cronref_cron(const gc__cronref *r);
void gc__croncache_put(gc__croncache *cc, gc__cronref *ref);
void gc__croncache_clear(gc__croncache *cc);

#endif
