/* Agent internals shared by the lib/agent sources. Not installed.
 *
 * Module map of lib/agent. A file calls only the files below it; what
 * goes up goes through a callback the upper file installed (the session's
 * on_change, the listing's callbacks, the handler runner's and the
 * executor's done), never by a direct call:
 *
 *   agent.c     public lifecycle and driving: gc_agent_new/free, the step
 *               (epoll set, the order of the work), run/start/join, the
 *               stop state machine, reload, projects to serve, stats
 *   command.c   the agent's command watch P/agent/<ip>/ (reload_config)
 *   project.c   served projects: registration, project and kill watches,
 *               task keys to the task table, skipped keys
 *   list.c      a paged, pinned listing of one prefix (its paging state)
 *   session.c   the session lease: grant, loss, re-grant, revoke
 *   claim.c     tick -> claim: due ticks, claim batches and transactions
 *               (worker side), what a claim's outcome means
 *   run.c       claimed tick -> prepared run -> started run -> result;
 *               t_status writes, kills, results and warnings
 *   handler.c   in-process handlers: the registry and the runner
 *   task.c      the task table: tasks in the scheduler, their next tick
 *   time.c      the agent's clock: cluster time (the clock thread that
 *               probes etcd's clock), "now" for scheduling, the schedule
 *               timer, clock steps
 *   lease.c     the session and claim-window leases the workers read;
 *               guarded deletes of the agent's own keys
 *   pool.c      worker pool (etcd workers, handler threads); knows nothing
 *               of the agent
 *   log.c       log lines, warning reports, counters; knows nothing of the
 *               agent
 *   sched.c, croncache.c, timing.h, clocksync.c: data structures and pure
 *               rules, unit-tested on their own
 *
 * Threads:
 *  - the agent thread runs everything in gc_agent_step: it owns every part
 *    of struct gc_agent below except where a part says otherwise;
 *  - etcd workers (options.etcd_threads, pool.c) do every blocking etcd
 *    request, each with its own gc_etcd handle, so that the agent thread
 *    never blocks on the network. A job's `run` touches only its job and
 *    what the job points to: claims read gc__claim_env (leases, the stop
 *    flag, the clock, the log), nothing else of the agent;
 *  - handler threads (options.handler_threads, handler.c) run in-process
 *    handlers;
 *  - the lease keeper's thread keeps the session lease alive and reports
 *    its loss through gc__leases_report_lost;
 *  - the clock thread (time.c) probes etcd's clock with a gc_etcd handle
 *    of its own and publishes the estimate; it wakes the agent thread
 *    when the estimate's generation moves.
 * Workers and handler threads hand finished jobs back through their
 * pool's completion list and notify fd, which is in the agent's epoll
 * set; the agent thread drains them and runs each job's `done`. Shared
 * across threads, and only through the functions of their file: the log
 * sink and stats (log.c), the leases (lease.c), the clock (time.c), the
 * stop and reload requests (atomics), the configuration (read-only). */
#ifndef GC_AGENT_INTERNAL_H
#define GC_AGENT_INTERNAL_H

#include <gophercron/agent.h>
#include <gophercron/cron.h>
#include <gophercron/etcd.h>
#include <gophercron/exec.h>

#include "agent/clocksync.h"
#include "agent/listpace.h"
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
typedef struct gc__hjob_outcome gc__hjob_outcome;
typedef struct gc__hrunner gc__hrunner;
typedef struct gc__listing gc__listing;

/* Ticks due together are claimed this many per etcd txn (each needs a
 * compare and two puts; etcd allows 128 operations per txn). */
#define GC__CLAIM_BATCH 64

/* Largest answer (a listing page, a watch message) the agent's etcd
 * clients read: a page with a key whose value is bigger is read again in
 * smaller pages, and that key alone is skipped. */
#define GC__AGENT_ETCD_MAX_RESPONSE ((size_t)16 << 20)

/* ----------------------------------------------------- configuration */

/* The configuration, copied by gc_agent_new with its defaults applied;
 * read-only afterwards (any thread). */
typedef struct gc__aconf {
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
	int64_t window_s;      /* claim lease rotation period */
	int64_t max_clock_offset_ns; /* [agent] max_clock_offset */
	int64_t claim_ahead_ns;	     /* [agent] claim_ahead */
	gc_agent_options opts; /* defaults applied; config_path NULL */
	unsigned cron_flags;
} gc__aconf;

/* ------------------------------------------------------------ time */

/* time.c: the agent's clock. Every reading of "now" that scheduling
 * depends on (ticks due, lateness, plan and start times, claim deadlines,
 * the first tick of a new task) goes through gc__atime_now_ns: cluster
 * time, i.e. etcd's clock as estimated by the clock thread (clocksync.h),
 * or the wall clock while there is no estimate yet (and then nothing is
 * claimed). The clock thread probes etcd with a handle of its own and
 * publishes its estimate under `mu`; `gen` changes whenever what the
 * registration says of the clock changes (state, reason, or the offset by
 * more than GC__CLOCK_REREGISTER_NS), and the agent is woken through
 * on_change. The schedule timer and the clock-set detector are the agent
 * thread's; the readers are safe from any thread. */
#define GC__CLOCK_REREGISTER_NS 100000000LL

typedef struct gc__aclock {
	pthread_mutex_t mu; /* guards est, gen, gen_offset_ns */
	atomic_int stop;
	int inited, started;
	pthread_t thread;
	gc_etcd *etcd; /* the thread's own handle */
	int64_t max_offset_ns;
	gc__clock_estimate est; /* under mu: the published estimate */
	uint64_t gen;		/* under mu */
	int64_t newest_mono;	/* under mu: mono time of the newest sample */
	int64_t gen_offset_ns;	/* offset when gen last changed */
	void (*on_change)(void *payload);
	void *payload;
	const gc__alog *log;
} gc__aclock;

typedef struct gc__atime {
	int timerfd; /* CLOCK_MONOTONIC, armed relative: the next wake */
	int clockfd; /* readable when someone sets the wall clock */
	gc__clockwatch watch;
	int64_t armed_ns; /* cluster ns the timerfd is armed for, or 0 */
	int known;	  /* the last wake read cluster time */
	int became_known; /* ... and the one before did not */
	gc__aclock clock;
} gc__atime;

int gc__atime_open(gc__atime *t, gc_error *err);
void gc__atime_close(gc__atime *t);
/* Start the clock thread probing through `etcd` (taken over: freed by
 * gc__atime_close), calling on_change(payload) when `gen` moves. */
int gc__atime_start(gc__atime *t, gc_etcd *etcd, int64_t max_offset_ns,
		    const gc__alog *log, void (*on_change)(void *),
		    void *payload, gc_error *err);
/* Stop and join the clock thread (idempotent). */
void gc__atime_stop(gc__atime *t);
/* Unix ns "now" for scheduling: cluster time (any thread). */
int64_t gc__atime_now_ns(const gc__atime *t);
/* The published estimate and its generation (any thread). */
uint64_t gc__atime_clock(const gc__atime *t, gc__clock_estimate *out);
/* May this agent claim ticks: an estimate within max_clock_offset, whose
 * newest sample is fresh (gc__clock_fresh; age as gc__atime_clock gives
 * it)? */
bool gc__clock_usable(const gc__clock_estimate *e);
/* The CLOCK_MONOTONIC instant at which cluster time has surely reached
 * `cluster_ns` (never early; through the wall clock without an estimate). */
int64_t gc__atime_mono_at(const gc__atime *t, int64_t cluster_ns);
/* Agent thread, at every wake: consume the timer and clock-set events and
 * return the step of the agent's clock (cluster time, or the wall clock
 * without an estimate) since the previous wake (ns, 0: none; see
 * timing.h); *mono_ns is the monotonic time read with it. */
int64_t gc__atime_wake(gc__atime *t, int64_t *mono_ns);
/* Arm the schedule timer for cluster time `at_ns` (0: disarm). */
void gc__atime_arm(gc__atime *t, int64_t at_ns);
/* Milliseconds until the armed instant, rounded up; -1: none. */
int gc__atime_timeout_ms(const gc__atime *t);
/* Poll timeouts (ms, -1: none): the smaller of two; until mono time
 * `at_ms` (0: none; 0 ms once past). */
int gc__ms_min(int a, int b);
int gc__ms_until(int64_t at_ms, int64_t now_ms);

/* ------------------------------------------------------------ leases */

/* lease.c: the leases the etcd workers use. The session lease holds the
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
/* A job deleting `key` (worker side) only while its compare `target`
 * (GC_ETCD_CMP_MOD, _LEASE..) still equals `number`; a failed compare is
 * not an error. `owner` is the submitter's. */
typedef struct gc__delete_job {
	gc__pool_job base;
	char *key;
	int target;
	int64_t number;
	void *owner;
} gc__delete_job;
/* NULL: out of memory. */
gc__delete_job *gc__delete_job_new(const char *key, int target, int64_t number,
				   gc__pool_done_fn done);
void gc__delete_job_free(gc__delete_job *j);

/* -------------------------------------------------------------- etcd */

/* The agent's etcd connections, made when the agent starts. */
typedef struct gc__aetcd {
	gc_etcd *client;	  /* agent thread: watcher, keeper */
	gc_etcd_watcher *watcher; /* agent thread */
	gc__pool *pool;		  /* the etcd workers */
} gc__aetcd;

/* ----------------------------------------------------------- session */

/* session.c: the session lease (TTL options.session_ttl_s) kept alive by
 * the lease keeper. What hangs on it (registrations, t_status keys) is
 * the business of project.c and run.c, which agent.c tells through
 * on_change. Agent thread. */
typedef struct gc__asession {
	gc_etcd_lease_keeper *keeper;
	int busy;	     /* a grant, or the closing revoke, in flight */
	int64_t retry_at_ms; /* mono time to retry a failed grant */
	/* The lease was granted (granted=1), or lost or given up (0). */
	void (*on_change)(gc_agent *a, int granted);
} gc__asession;

void gc__session_begin(gc_agent *a);
/* Each step: a loss the keeper reported, a grant to retry. */
void gc__session_check(gc_agent *a, int64_t now_ms);
/* etcd refused a write under the session lease as unknown. */
void gc__session_lost(gc_agent *a, const char *why);
void gc__session_close(gc_agent *a);
int gc__session_closed(gc_agent *a);
int gc__session_timeout_ms(gc_agent *a, int64_t now_ms);

/* ------------------------------------------------------------ tasks */

/* One task of a served project. Kept small: 100,000 must fit. The task
 * JSON is kept as etcd holds it and decoded only when a run starts. */
struct gc__atask {
	gc__project *proj;
	gc__cronref *cron; /* NULL: bad expression (not scheduled) */
	char *json;	   /* TaskInfo as stored */
	uint32_t json_len;
	uint32_t gen; /* listing generation it was last seen in */
	int64_t mod_rev;
	int64_t last_plan; /* last tick attempted (or the load floor) */
	int64_t timeout_s;
	uint16_t running; /* its runs in runs.list (run.c keeps it) */
	uint8_t status;	  /* 1 scheduled, 0 paused */
	uint8_t noseize;
	uint8_t exclusion;
	char key[]; /* "<pid>/<tid>" (the scheduler's key) */
};

/* Parsed cron expressions shared by every task with the same text. */
typedef struct gc__croncache {
	gc__cronref **buckets;
	size_t nbuckets;
	size_t count;
} gc__croncache;

/* task.c: the task table. Every task of every served project, keyed
 * "<pid>/<tid>", in a scheduler by its next due tick, with its cron
 * expression shared through the cache. Agent thread. */
typedef struct gc__tasks {
	gc__sched sched;
	gc__croncache crons;
	int64_t grace_ms; /* late_grace_ms */
	unsigned cron_flags;
} gc__tasks;

void gc__tasks_init(gc__tasks *ts, int64_t grace_ms, unsigned cron_flags);
void gc__tasks_clear(gc__tasks *ts);
gc__atask *gc__tasks_get(gc__tasks *ts, const char *key);
/* The task object for `key` of project `p` from its etcd pair and its
 * decoded definition (NULL: out of memory). A cron expression that does
 * not parse leaves it unscheduled and is explained in `cron_err`. */
gc__atask *gc__tasks_make(gc__tasks *ts, const char *key, gc__project *p,
			  const gc_etcd_kv *kv, const gc_task *t,
			  gc_error *cron_err);
/* Put `n` in the table in place of `old` (NULL: a new task), first due at
 * the first tick at or after `now_ns` that was not attempted (old's): a
 * tick planned before the task was loaded is not attempted; *due says
 * when (GC__SCHED_NEVER: not scheduled). Frees `old`; GC_ENOMEM frees `n`
 * and keeps `old`. */
int gc__tasks_put(gc__tasks *ts, gc__atask *n, gc__atask *old, int64_t now_ns,
		  int64_t *due);
/* Remove `key`: 1 if it was there, else 0. */
int gc__tasks_remove(gc__tasks *ts, const char *key);
/* Remove the tasks of `p` (all of them, or only those not seen in
 * listing generation `keep_gen`); returns how many. */
size_t gc__tasks_sweep(gc__tasks *ts, gc__project *p, int by_gen,
		       uint32_t keep_gen);
/* After a clock step: every task's next tick again; `from_now`: no tick
 * planned before now_ns is attempted (the clock was not known before). */
void gc__tasks_recompute(gc__tasks *ts, int64_t now_ns, int from_now);
/* The earliest task due at or before `now_ns` (NULL: none); *due_s is its
 * tick. The caller attempts (or skips) it, then gc__tasks_advance. */
gc__atask *gc__tasks_due(gc__tasks *ts, int64_t now_ns, int64_t *due_s);
/* The tick `plan_s` of `t` was dealt with: schedule its next one. */
void gc__tasks_advance(gc__tasks *ts, gc__atask *t, int64_t plan_s,
		       int64_t now_s);
/* Tasks known / with a next tick; the first due tick (or NEVER). */
size_t gc__tasks_count(const gc__tasks *ts);
size_t gc__tasks_scheduled(const gc__tasks *ts);
int64_t gc__tasks_first_due(const gc__tasks *ts);

/* croncache.c */
int gc__croncache_get(gc__croncache *cc, const char *expr, gc__cronref **out,
		      gc_error *err);
const gc_cron *gc__cronref_cron(const gc__cronref *r);
void gc__croncache_put(gc__croncache *cc, gc__cronref *ref);
void gc__croncache_clear(gc__croncache *cc);

/* ---------------------------------------------------------- listings */

/* list.c: a listing of one prefix in pages read at the revision of the
 * first page (all pages see the same snapshot), each page fetched while
 * the previous one is applied. It holds the paging state (revision, the
 * key to go on from, page size, keys so far) and when to list again after
 * a failure (the failed page, read again); its owner gets the pairs and
 * the end through callbacks, on the agent thread. */
typedef struct gc__listing_cbs {
	/* A first page arrived: a new pass at `rev` begins. */
	void (*on_begin)(int64_t rev, void *payload);
	/* A pair of the listing, in key order, each once per pass. */
	void (*on_pair)(const gc_etcd_kv *kv, void *payload);
	/* A key whose value is larger than the client reads: skipped (the
	 * pair holds its key and revisions, no value). */
	void (*on_too_big)(const gc_etcd_kv *kv, void *payload);
	/* Every page applied: `keys` keys seen at revision `rev`. */
	void (*on_done)(int64_t rev, size_t keys, void *payload);
	/* A page failed: GC_ETIMEDOUT, it is read again at once (smaller,
	 * with more time: gc__listing_pace); otherwise again after a pause.
	 * Either way the pass resumes from that page. */
	void (*on_error)(int code, const char *msg, void *payload);
} gc__listing_cbs;

/* What a listing went through (since it was made). */
typedef struct gc__listing_stats {
	uint64_t pages;	   /* pages asked for, also again */
	uint64_t timeouts; /* pages that ran out of their timeout */
	uint64_t errors;   /* pages that failed otherwise */
	uint64_t resumed;  /* passes resumed at a failed page after a pause */
	uint64_t restarts; /* passes started over: pinned revision compacted */
} gc__listing_stats;

/* The listing of `prefix` through `pool`'s etcd workers (NULL: out of
 * memory). */
gc__listing *gc__listing_new(gc__pool *pool, const char *prefix,
			     const gc__listing_cbs *cbs, void *payload);
/* Start a pass from the first page now (a page in flight is dropped). */
void gc__listing_start(gc__listing *l);
/* Start a pass at mono time `at_ms` (through gc__listing_tick). */
void gc__listing_start_at(gc__listing *l, int64_t at_ms);
/* Each step: start the pass (or read again the failed page) that is due. */
void gc__listing_tick(gc__listing *l, int64_t now_ms);
/* Mono time of the next pass to start or page to read again, 0: none. */
int64_t gc__listing_next_at(const gc__listing *l);
/* Page size and timeout of the next page. */
const gc__listpace *gc__listing_pace(const gc__listing *l);
gc__listing_stats gc__listing_stats_get(const gc__listing *l);
/* No more callbacks; freed now or when its page in flight is back. */
void gc__listing_free(gc__listing *l);

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
	char *key;	 /* the etcd key */
	int64_t mod_rev; /* the revision warned about */
	uint32_t gen;	 /* listing generation it was last seen in */
} gc__skipped;

struct gc__project {
	gc__project *next;
	gc_agent *agent;
	int64_t id;
	char *prefix;	   /* P/<pid>/ */
	char *kill_prefix; /* P/kill/<pid>/ */
	char *register_key;
	int state;
	int removed;  /* no longer configured; freed when refs == 0 */
	int refs;     /* the list's, and registration jobs in flight */
	uint32_t gen; /* listing generation, for the re-list diff */
	int64_t listed_rev;
	gc__listing *listing;
	gc_etcd_watch *watch;
	gc_etcd_watch *kill_watch;
	/* 1 = register key written under the current session lease,
	 * -1 = write in flight, 0 = no */
	int registered;
	int64_t reg_retry_at_ms; /* mono time to retry a failed register */
	uint64_t reg_gen;	 /* clock generation the value written says */
	int rewriting;		 /* a rewrite of a written key in flight */
	gc__skipped *skipped;	 /* keys not loaded (see gc__skipped) */
	size_t n_skipped;
};

/* project.c: the projects served, as configured (want) and as running
 * (list). A project stays in the list while it has references: the
 * list's own, dropped when it is removed, and one per registration job in
 * flight. Its listing is given up at removal (a listing outlives its page
 * in flight by itself). Agent thread. */
typedef struct gc__aprojects {
	int64_t *want;
	size_t n_want;
	gc__project *list;
} gc__aprojects;

/* Bring the running projects in line with `want`. */
int gc__projects_apply(gc_agent *a);
void gc__projects_free(gc_agent *a);
/* Each step: listings and registrations to retry. */
void gc__projects_tick(gc_agent *a, int64_t now_ms);
int gc__projects_timeout_ms(gc_agent *a, int64_t now_ms);
size_t gc__projects_loaded(gc_agent *a);
/* The session lease was granted (register everything again) or is gone
 * (nothing is registered). */
void gc__projects_session(gc_agent *a, int granted);
/* At close: stop watching. */
void gc__projects_unwatch(gc_agent *a);

/* ----------------------------------------------------------- claims */

/* A tick on its way from the schedule to a run: which task, which second,
 * the task as it was when the tick was taken, and its keys. Strings are
 * owned. */
typedef struct gc__tick {
	int64_t project_id; /* from the key (authoritative) */
	char *task_id;	    /* from the key */
	char *sched_key;    /* "<pid>/<tid>" */
	char *status_key;
	char *json; /* the task, as etcd held it */
	size_t json_len;
	int64_t plan_s;
	int64_t plan_ns;
	int run_now;
	int64_t now_rev; /* run-now: revision of the request */
	char *run_id;
} gc__tick;

/* What claim jobs read on the etcd workers: thread-safe parts only. */
typedef struct gc__claim_env {
	gc__leases *leases;
	const atomic_int *stopping;
	const gc__atime *time;
	const gc__alog *log;
} gc__claim_env;

/* claim.c. `pending` holds the claims collected while due ticks are
 * taken, submitted as batches when full and at the end of the pass;
 * `in_flight` counts claim jobs (single or batch) submitted and not back:
 * the graceful stop waits for it to reach 0. Agent thread, except `env`
 * (read by the workers). */
typedef struct gc__aclaims {
	gc__claim *pending[GC__CLAIM_BATCH]; /* ticks not yet submitted */
	size_t n_pending;
	size_t in_flight; /* claim jobs submitted, not back */
	gc__claim *deferred; /* exclusion claims held until their instant */
	gc__claim_env env;
} gc__aclaims;

/* Attempt every tick due by `now_ns` + claim_ahead (claimed ahead, run
 * at its instant); ticks past the grace are skipped; while the clock is
 * not usable (gc__clock_usable) no tick is attempted. */
void gc__claims_due(gc_agent *a, int64_t now_ns);
/* The planned instant (cluster ns) of the earliest exclusion claim held
 * until due (0: none); dropping them (the agent stops). */
int64_t gc__claims_deferred_at(gc_agent *a);
void gc__claims_drop_deferred(gc_agent *a);
/* A run-now request (its etcd pair) for a task of project `pid`. */
void gc__claims_run_now(gc_agent *a, int64_t pid, const gc_etcd_kv *kv);

/* -------------------------------------------------------------- runs */

struct gc__run {
	gc__run *prev, *next;
	gc_task task;	    /* snapshot decoded at start */
	int64_t project_id; /* from the key (authoritative) */
	char *task_id;	    /* from the key */
	char *sched_key;    /* "<pid>/<tid>" */
	char *status_key;
	int64_t plan_s;
	int64_t plan_ns;
	int64_t real_ns;    /* when the agent set out to run it */
	int64_t fence;	    /* claim revision, 0 for noseize runs */
	int64_t status_rev; /* revision of our t_status put (0 = none yet) */
	char *run_id;
	int run_now;
	int noseize;
	int status_pending;   /* status put in flight (noseize) */
	int end_pending;      /* run ended while the status put was in flight */
	uint64_t exec_handle; /* shell run (0 = none) */
	gc__hjob *hjob;	      /* handler run */
	int done;	      /* outcome delivered, only status clean-up left */
};

/* run.c: runs in progress and the t_status writes. `list` holds the `n`
 * runs started and not finished (each counted in its task's `running`);
 * a finished noseize run whose t_status put is still in flight lives on
 * outside the list until the put is back (end_pending). `status_jobs`
 * counts the end-of-run deletes in flight: the close waits for 0. Agent
 * thread; the executor and the handler runner call back on it. */
typedef struct gc__aruns {
	gc_exec *exec;
	gc__hrunner *hrunner;
	gc__run *list;
	size_t n;
	size_t status_jobs; /* end-of-run t_status writes in flight */
} gc__aruns;

/* Run a tick: claimed (fence = the claim's revision, its t_status written
 * at status_rev) or noseize (both 0). */
void gc__run_start(gc_agent *a, const gc__tick *tk, int64_t fence,
		   int64_t status_rev);
/* Report a tick that does not run (skipped, agent stopping). */
void gc__run_not_run(gc_agent *a, const gc__tick *tk, const char *error);
/* Delete a t_status key this agent wrote at `rev`. */
void gc__status_end(gc_agent *a, const char *key, int64_t rev);
void gc__runs_kill(gc_agent *a, int64_t project_id, const char *task_id);
void gc__runs_reassert_status(gc_agent *a);
void gc__runs_cancel_all(gc_agent *a);
void gc__runs_free(gc_agent *a);
/* The executor's and the handler runner's done callbacks (payload: the
 * agent). */
void gc__exec_done(gc_exec_outcome *o, void *payload);
void gc__handler_done(gc__hjob_outcome *o, void *payload);

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
	int64_t timeout_ms; /* 0: none; counted from the start */
	int64_t start_at;   /* CLOCK_MONOTONIC ns to start at; 0: at once */
	void *userdata;
} gc__hjob_request;

/* A finished handler job. `output` (malloc'd, NULL when out of memory) may
 * be taken by the callback (set it to NULL); the rest is borrowed. */
struct gc__hjob_outcome {
	void *userdata;
	const char *error; /* "" = success */
	char *output;
	size_t output_len;
	int64_t start_ns, end_ns;
};

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

/* agent.c: the loop and how it is driven. The requests are set from any
 * thread; the rest is the agent thread's (the thread fields: the host's). */
typedef struct gc__aloop {
	int epfd, evfd;
	atomic_int stop_requested;
	atomic_int reload_requested;
	int64_t drain_deadline_ms;
	int64_t close_deadline_ms;
	gc_etcd_watch *cmd_watch; /* command.c */
	pthread_t thread;
	int thread_started;
	int thread_rc;
	gc_error thread_err;
} gc__aloop;

/* The agent. Each part belongs to the file named with it; other files
 * read a part only through that file's functions, except the read-only
 * configuration and `state`. */
struct gc_agent {
	int state;		/* GC__AGENT_*; agent.c writes it */
	gc__aconf conf;		/* read-only after gc_agent_new */
	gc__alog log;		/* log.c; any thread */
	gc__astats stats;	/* log.c; any thread */
	gc__aloop loop;		/* agent.c, command.c */
	gc__atime time;		/* time.c */
	gc__aetcd etcd;		/* agent.c makes it; jobs go to its pool */
	gc__leases leases;	/* lease.c; any thread */
	gc__asession session;	/* session.c */
	gc__aprojects projects; /* project.c */
	gc__tasks tasks;	/* task.c */
	gc__aclaims claims;	/* claim.c */
	gc__aruns runs;		/* run.c */
	gc__handler *handlers;	/* handler.c: registered by the host */
};

/* Queue an etcd job of the agent (its `data` is the agent). */
static inline void gc__agent_submit(gc_agent *a, gc__pool_job *job)
{
	job->data = a;
	gc__pool_submit(a->etcd.pool, job);
}

/* command.c */
int gc__command_watch_start(gc_agent *a, gc_error *err);

#endif
