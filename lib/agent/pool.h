/* A worker pool in the manner of libuv's threadpool.c, one object per
 * owner: blocking jobs go to a queue served by a few threads, each thread
 * with a context of its own (for the agent's etcd workers: a gc_etcd
 * handle); finished jobs come back to the owner through a completion list
 * and an eventfd (gc__pool_fd) the owner adds to its poll set, and the
 * owner's thread runs each job's `done` in gc__pool_drain.
 *
 * The pool knows nothing of what its jobs do. Threads:
 *  - gc__pool_new, _submit, _drain, _stop and _free: the owner's thread;
 *  - a job's `run`: one of the pool's threads, with that thread's context;
 *  - a job's `done`: the owner's thread, inside gc__pool_drain or
 *    gc__pool_stop, exactly once per submitted job, also for a job that
 *    never ran (rc GC_ECANCELED). `done` owns the job (frees it) and may
 *    submit new jobs.
 * The pool's threads are created with every signal blocked, so they never
 * take the host's signals. */
#ifndef GC_AGENT_POOL_H
#define GC_AGENT_POOL_H

#include <gophercron/etcd.h>

#include <stdbool.h>
#include <stddef.h>

typedef struct gc__pool gc__pool;
typedef struct gc__pool_job gc__pool_job;

/* Pool thread: do the job with the thread's context (see ctx_new). */
typedef void (*gc__pool_run_fn)(gc__pool_job *job, void *ctx);
/* Owner thread: the job is back (job->rc says how it went). */
typedef void (*gc__pool_done_fn)(gc__pool_job *job);

/* Embed first in the owner's job struct; set run, done and data. */
struct gc__pool_job {
	gc__pool_job *next; /* the pool's (queue, completion list) */
	gc__pool_run_fn run;
	gc__pool_done_fn done;
	void *data;   /* the owner's */
	int rc;	      /* left to `run`; GC_ECANCELED: never ran */
	gc_error err; /* left to `run` */
};

typedef struct gc__pool_options {
	int threads; /* at least 1 */
	/* Each thread's context, made on the creating thread before the
	 * thread starts (NULL: the context is NULL). A failure fails
	 * gc__pool_new. */
	int (*ctx_new)(void **ctx, void *arg, gc_error *err);
	void (*ctx_free)(void *ctx, void *arg);
	void *ctx_arg;
	const char *what; /* names the threads in errors ("etcd worker") */
} gc__pool_options;

int gc__pool_new(gc__pool **out, const gc__pool_options *o, gc_error *err);
/* A pool whose threads each hold a gc_etcd handle made from `eo` (the
 * pool's jobs get it as their context). */
int gc__pool_new_etcd(gc__pool **out, const gc_etcd_options *eo, int threads,
		      gc_error *err);

/* Readable while completions wait for gc__pool_drain. */
int gc__pool_fd(const gc__pool *p);

/* Queue a job (owner thread). After gc__pool_stop it is not run: its
 * `done` follows with GC_ECANCELED at the next drain. */
void gc__pool_submit(gc__pool *p, gc__pool_job *job);

/* Run `done` of every finished job, including jobs finished by the dones
 * themselves, until none is left (owner thread). */
void gc__pool_drain(gc__pool *p);

/* Jobs submitted whose `done` has not run yet. */
size_t gc__pool_pending(const gc__pool *p);
/* Jobs queued that no thread has taken yet (any thread). */
size_t gc__pool_queued(gc__pool *p);

/* Stop: no new job runs; with `cancel_queued` the jobs still queued are
 * not run (GC_ECANCELED), otherwise the threads run them first. Waits for
 * the jobs in progress, joins the threads, then drains: every job's `done`
 * has run when it returns. Idempotent. */
void gc__pool_stop(gc__pool *p, bool cancel_queued);

/* Stop (finishing the queue) if still running, then free (NULL is fine). */
void gc__pool_free(gc__pool *p);

#endif
