/* libgophercron: the agent (what gcron-agent runs, and what a host program
 * embeds).
 *
 * An agent serves a list of projects: it loads their tasks from etcd and
 * watches them, schedules every task by its cron expression, agrees with
 * the other agents of the project through one etcd transaction per tick
 * that exactly one of them runs it (unless the task says every agent runs
 * it), runs the command (a shell command, or an in-process handler
 * registered by the host), enforces the timeout, obeys kill requests,
 * keeps its node registration alive, and hands every finished run to the
 * host through a callback. README.md, sections "Agent" and "Embedding",
 * describes the etcd keys and transactions, the timing rules and the
 * failure behaviour in full.
 *
 * One core, three ways to drive it:
 *   1. blocking:      gc_agent_run(agent, err) returns once stopped;
 *   2. own thread:    gc_agent_start(agent, err) ... gc_agent_stop(agent);
 *                     gc_agent_join(agent);
 *   3. host poll loop: wait until gc_agent_fd() is readable or
 *                     gc_agent_timeout_ms() has passed, then call
 *                     gc_agent_step(); it returns 1 once stopped.
 *
 * Threads: the result, warning and reload callbacks run on the thread that
 * drives the agent (the "agent thread"); handler functions run on the
 * agent's handler threads; log lines may also come from the agent's
 * internal threads (etcd workers), so the log function must be
 * thread-safe (gc_log_stderr is). Only
 * gc_agent_stop(), gc_agent_wakeup() and gc_agent_reload_request() may be
 * called from other threads; they are also async-signal-safe, so a SIGTERM
 * or SIGHUP handler may call them. Everything else is for the agent thread,
 * or for before the agent is started.
 *
 * Time: cron expressions are evaluated in the process's local time zone
 * (call tzset() at start-up; the library never does), or in UTC with
 * options.cron_utc. Every agent of a fleet must use the same zone.
 */
#ifndef GOPHERCRON_AGENT_H
#define GOPHERCRON_AGENT_H

#include <gophercron/common.h>
#include <gophercron/config.h>
#include <gophercron/job.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gc_agent gc_agent;

/* A finished run (or a tick skipped because the previous run of an
 * `exclusion` task was still running: error "skipped: previous run still
 * running"). Called on the agent thread; must not block: copy what you need
 * (gc_result_copy) and return. The result is freed after the call. */
typedef void (*gc_agent_result_fn)(const gc_result *result, void *payload);

/* A warning: for every failed or skipped run (delivered just BEFORE its
 * result, type "task"), and for agent trouble an operator should hear about
 * (type "system", e.g. a task whose cron expression does not parse). */
typedef void (*gc_agent_warning_fn)(const gc_warning *warning,
				    void *payload);

/* A reload was requested (the `reload_config` command in etcd, or
 * gc_agent_reload_request). Typically re-reads the configuration and calls
 * gc_agent_projects_set(). Runs on the agent thread. */
typedef void (*gc_agent_reload_fn)(gc_agent *agent, void *payload);

#define GC_AGENT_OPTIONS_VERSION 1

/* Zero means the default for every field. */
typedef struct gc_agent_options {
	unsigned version; /* GC_AGENT_OPTIONS_VERSION */

	gc_agent_result_fn on_result;   /* NULL: results are only logged */
	gc_agent_warning_fn on_warning; /* NULL: warnings are only logged */
	void *payload;                  /* for on_result and on_warning */

	/* Log lines: "agent: <what happened> key=value ...". NULL = silent.
	 * Lines above `log_level` are not produced at all; 0 = the config's
	 * log_level. Must be thread-safe (see "Threads" above). */
	gc_log_fn log;
	void *log_payload;
	int log_level;

	/* Reload: when on_reload is set it is called; otherwise, when
	 * config_path is set, the file is re-read and its project list
	 * applied (a bad file is logged and the running list kept);
	 * otherwise the request is logged and ignored. */
	gc_agent_reload_fn on_reload;
	void *reload_payload;
	const char *config_path; /* copied */

	/* 1 = evaluate cron expressions in UTC instead of local time. */
	int cron_utc;
	/* A tick is still attempted this long after its planned time (a late
	 * wake-up, an etcd outage, a forward clock step); older ticks are
	 * skipped and logged. Default 10000. Must stay below the config's
	 * claim_ttl minus the clock skew tolerated between agents. */
	int64_t late_grace_ms;
	/* Graceful stop: how long running tasks may go on after
	 * gc_agent_stop() before they are killed. Default 30000. */
	int64_t stop_grace_ms;
	/* TTL of the session lease holding the registration and t_status
	 * keys, seconds. Default 10 (as the original). */
	int64_t session_ttl_s;
	/* Threads doing etcd requests (claims, status updates, listings) so
	 * that the agent thread never blocks on etcd. Default 4. */
	int etcd_threads;
	/* Threads running in-process handlers. Default 2. */
	int handler_threads;

	/* A run is about to start: the claim is won, the command not yet
	 * spawned. The result holds the task, plan_time, real_time,
	 * start_time and run_id (output and error empty); its finished
	 * result follows through on_result. With the reporter
	 * (gc_reporter_agent_started) this records the run so that its
	 * result survives the death of the agent during it. Agent thread,
	 * must not block; `payload` as for on_result. NULL: nothing. */
	gc_agent_result_fn on_start;
} gc_agent_options;

#define GC_AGENT_OPTIONS_INIT                                               \
	{GC_AGENT_OPTIONS_VERSION, NULL, NULL, NULL, NULL, NULL, 0, NULL,   \
	 NULL, NULL, 0, 0, 0, 0, 0, 0, NULL}

GC_EXTERN int gc_agent_options_init(gc_agent_options *o, unsigned version);

/* Create an agent from a loaded configuration (`cfg` is copied: projects,
 * client_ip, shell, output_limit, kill_grace, claim_ttl, [etcd]). Does no
 * I/O; the agent begins with the first gc_agent_step (or run/start).
 * `opts` may be NULL. */
GC_EXTERN int gc_agent_new(gc_agent **out, const gc_agent_config *cfg,
			   const gc_agent_options *opts, gc_error *err);

/* Stop (gracefully if it is running on its own thread: see
 * gc_agent_stop), wait for the own thread, free. NULL is harmless. In the
 * host-poll mode, drive gc_agent_step until it returns 1 before freeing,
 * or runs still in progress are killed without results. */
GC_EXTERN void gc_agent_free(gc_agent *agent);

/* ---------------------------------------------------------- driving */

/* Mode 1: run on the calling thread until stopped. Returns 0 after a
 * graceful stop, or an error that made the agent give up (e.g. epoll
 * failed). */
GC_EXTERN int gc_agent_run(gc_agent *agent, gc_error *err);

/* Mode 2: run gc_agent_run on a new thread. gc_agent_join waits for it
 * and returns its result. */
GC_EXTERN int gc_agent_start(gc_agent *agent, gc_error *err);
GC_EXTERN int gc_agent_join(gc_agent *agent, gc_error *err);

/* Mode 3: a descriptor (epoll, close-on-exec) that is readable whenever
 * the agent has work; the longest the host may wait before calling
 * gc_agent_step (-1 = until the fd is readable); and the step itself, which
 * never blocks. gc_agent_step returns 0 while running, 1 once the agent
 * has stopped (after gc_agent_stop and the graceful shutdown), or a
 * negative GC_E* code. */
GC_EXTERN int gc_agent_fd(const gc_agent *agent);
GC_EXTERN int gc_agent_timeout_ms(gc_agent *agent);
GC_EXTERN int gc_agent_step(gc_agent *agent, gc_error *err);

/* Ask for a graceful stop: no new ticks are taken, running tasks may
 * finish within stop_grace_ms (then they are killed), their results are
 * delivered, the registration is removed and the session lease revoked.
 * Returns immediately. Thread- and async-signal-safe. */
GC_EXTERN void gc_agent_stop(gc_agent *agent);
/* Make the agent thread look at its state now. Thread/signal-safe. */
GC_EXTERN void gc_agent_wakeup(gc_agent *agent);
/* Same as a `reload_config` command arriving. Thread/signal-safe. */
GC_EXTERN void gc_agent_reload_request(gc_agent *agent);

/* --------------------------------------------------------- projects */

/* Replace the project list: watchers of removed projects stop (their
 * registration is deleted; runs in progress finish and report), new
 * projects are loaded and registered. Agent thread (e.g. from on_reload),
 * or before the agent starts. */
GC_EXTERN int gc_agent_projects_set(gc_agent *agent, const int64_t *ids,
				    size_t count, gc_error *err);

/* ----------------------------------------------------- in-process handlers
 *
 * A task whose command is
 *
 *     @handler:NAME
 *     @handler:NAME ARGS...
 *
 * (NAME made of letters, digits, '_', '-', '.'; ARGS is the rest of the
 * command after the blanks following NAME, passed verbatim, "" when absent)
 * runs the C function registered under NAME instead of a shell, with the
 * same claim, timeout, kill and report semantics. Handlers run on a small
 * pool of handler threads (options.handler_threads), never on the agent
 * thread. Cancellation is cooperative: on timeout, kill or stop the job is
 * marked cancelled and the function should return soon (poll
 * gc_agent_job_cancelled, or wait with gc_agent_job_sleep); the run ends
 * when the function returns. A task naming a handler this agent has not
 * registered fails with error `handler "NAME" is not registered`, so
 * register the handler in every agent that serves the project.
 */
typedef struct gc_agent_job gc_agent_job;

/* Return 0 for success; any other value is the run's failure, reported as
 * "exit status N" unless gc_agent_job_fail() set a text. */
typedef int (*gc_agent_handler_fn)(gc_agent_job *job, const char *args,
				   void *payload);

/* Register (or replace) a handler. Agent thread or before start. NAME as
 * described above; GC_EINVAL otherwise. */
GC_EXTERN int gc_agent_handler_register(gc_agent *agent, const char *name,
					gc_agent_handler_fn fn, void *payload,
					gc_error *err);

/* For use inside a handler, on its handler thread: */
/* The task being run (valid during the call). */
GC_EXTERN const gc_task *gc_agent_job_task(const gc_agent_job *job);
/* The planned time of the tick (unix seconds). */
GC_EXTERN int64_t gc_agent_job_plan_time(const gc_agent_job *job);
/* Fencing token (the claim's etcd revision, decimal; "" when the task runs
 * on every agent) and run id, as exported to shell commands in
 * GOPHERCRON_FENCING_TOKEN and GOPHERCRON_RUN_ID. */
GC_EXTERN const char *gc_agent_job_fencing_token(const gc_agent_job *job);
GC_EXTERN const char *gc_agent_job_run_id(const gc_agent_job *job);
/* 1 once the run is cancelled (timeout, kill, agent stopping). */
GC_EXTERN int gc_agent_job_cancelled(const gc_agent_job *job);
/* Sleep up to `ms`, waking early on cancellation; returns 1 if cancelled. */
GC_EXTERN int gc_agent_job_sleep(gc_agent_job *job, int64_t ms);
/* Append to the run's output (bounded by output_limit: the head and the
 * tail are kept, as for shell commands). 0 or GC_ENOMEM. */
GC_EXTERN int gc_agent_job_write(gc_agent_job *job, const void *data,
				 size_t len);
GC_EXTERN int gc_agent_job_printf(gc_agent_job *job, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;
/* Set the run's error text (reported instead of "exit status N"). */
GC_EXTERN void gc_agent_job_fail(gc_agent_job *job, const char *text);

/* ------------------------------------------------------------ stats */

/* Counters and sizes for monitoring, tests and benchmarks. */
typedef struct gc_agent_stats {
	size_t projects;        /* configured */
	size_t projects_loaded; /* listed and watching */
	size_t tasks;           /* known tasks (scheduled or paused) */
	size_t scheduled;       /* tasks with a next fire time */
	size_t running;         /* runs in progress on this agent */
	uint64_t ticks;         /* ticks attempted */
	uint64_t claims_won;
	uint64_t claims_lost;   /* another agent had the tick */
	uint64_t runs;          /* runs finished (results delivered) */
	uint64_t skipped;       /* exclusion skips reported by this agent */
	uint64_t late_skipped;  /* ticks older than late_grace_ms not tried */
	uint64_t clock_steps;   /* wall-clock steps detected */
	uint64_t etcd_errors;   /* etcd requests that failed */
	int registered;         /* session lease held and keys written */
} gc_agent_stats;

/* Snapshot of the counters; any thread (values may be a moment old). */
GC_EXTERN void gc_agent_stats_get(gc_agent *agent, gc_agent_stats *out);

/* ------------------------------------------------------------ clock */

/* The agent's view of cluster time: etcd's clock, estimated from the
 * Date headers of probes timed against CLOCK_MONOTONIC (README "Cluster
 * time"). Ticks are scheduled by it; nothing is claimed while it is
 * unknown or further than max_clock_offset from the local wall clock. */
#define GC_AGENT_CLOCK_VERSION 1
typedef struct gc_agent_clock {
	unsigned version;  /* set to GC_AGENT_CLOCK_VERSION by the caller */
	int known;         /* an estimate exists */
	int ok;            /* 1: ticks are claimed */
	int64_t offset_ns; /* etcd's clock - local wall clock (midpoint) */
	int64_t error_ns;  /* bound of |true offset - offset_ns| */
	int64_t rtt_ns;    /* best probe round trip */
	char reason[160];  /* why not ok ("" when ok) */
} gc_agent_clock;

/* Snapshot of the clock estimate; any thread. GC_EINVAL for a NULL
 * argument or an unknown version. */
GC_EXTERN int gc_agent_clock_get(gc_agent *agent, gc_agent_clock *out);

#ifdef __cplusplus
}
#endif
#endif
