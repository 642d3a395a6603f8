/* Executor internals shared by lib/exec.c (the event loop: capture,
 * deadlines, kills, reaping, delivery) and lib/exec_spawn.c (process
 * creation and the spawner threads). Not installed. */
#ifndef GC_EXEC_INTERNAL_H
#define GC_EXEC_INTERNAL_H

#include "internal.h"

#include <gophercron/exec.h>

#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

#define GC__EXEC_MS (INT64_C(1000000))

enum gc__exec_watch_kind { GC__W_PIDFD = 1, GC__W_OUT = 2, GC__W_SPAWNED = 3 };

struct gc__exec_run;
struct gc__exec_watch {
	struct gc__exec_run *run; /* NULL for the spawn-result eventfd */
	enum gc__exec_watch_kind kind;
};

/* The environment of a run: "NAME=value" strings we add (ours) and, for
 * runs spawned later by a spawner thread, copies of the inherited ones. */
struct gc__exec_env {
	char **ours; /* malloc'd strings we add */
	size_t nours;
	char **copies; /* malloc'd copies of inherited entries (deep copy) */
	size_t ncopies;
	char **envp; /* NULL-terminated: inherited (or copies) + ours */
};

/* What a run spawned after gc_exec_start returned needs (private copies:
 * the request's strings belong to the caller). */
struct gc__exec_prep {
	char *shell;
	char *command;
	char *workdir; /* may be NULL */
	struct gc__exec_env env;
};

/* Where a run spawned later stands (guarded by gc_exec.qlock). */
enum gc__exec_qstate {
	GC__Q_NONE = 0,	    /* spawned inside gc_exec_start, or taken back */
	GC__Q_WAITING = 1,  /* in the heap, waiting for its start_at */
	GC__Q_SPAWNING = 2, /* a spawner took it */
	GC__Q_DONE = 3	    /* in the results list */
};

/* How a spawn attempt went (filled by whoever spawned). */
struct gc__exec_spawned {
	int err;       /* 0, or the errno of the failed step */
	int stage;     /* GC__SPAWN_PIPE, _FCNTL, _SPAWN, _NOMEM */
	bool canceled; /* killed before the spawn: nothing was started */
	pid_t pid;
	int outfd; /* read end of the output pipe, O_NONBLOCK */
	int64_t start_ns, start_mono_ns;
};
enum { GC__SPAWN_PIPE = 1, GC__SPAWN_FCNTL, GC__SPAWN_SPAWN, GC__SPAWN_NOMEM };

struct gc__exec_run {
	struct gc__exec_run *next, *prev; /* live list, then done queue */
	uint64_t handle;
	void *userdata;
	pid_t pid; /* = pgid; 0 until spawned */
	int pidfd; /* -1 when polling or done */
	int outfd; /* -1 after end of file */
	struct gc__exec_watch w_pid, w_out;
	bool spawned; /* a process exists (executor thread's view) */
	bool exited;  /* the shell exited (status known) */
	bool reaped;  /* and was waited for */
	int wait_status;
	bool have_reason;
	gc_exec_reason reason;
	bool term_sent, kill_sent;
	int64_t grace_ns;
	int64_t timeout_ns; /* 0 = none; the deadline counts from the spawn */
	int64_t deadline;   /* mono ns: timeout (0 = none) */
	int64_t kill_at;    /* mono ns: SIGKILL the group (0 = not armed) */
	int64_t give_up;    /* mono ns: complete without end of file */
	int64_t poll_at;    /* mono ns: next exit poll without pidfd */
	/* output capture: head, then a ring holding the latest bytes */
	size_t head_cap, tail_cap;
	char *head;
	size_t head_len, head_alloc;
	char *tail;
	size_t tail_pos, tail_len;
	uint64_t total;
	int64_t start_ns, start_mono_ns, end_ns;
	/* spawned later (start_at != 0) */
	int64_t start_at;		/* CLOCK_MONOTONIC ns */
	uint64_t seq;			/* order among equal start_at */
	struct gc__exec_prep *prep;	/* until spawned */
	enum gc__exec_qstate qstate;	/* qlock */
	size_t heap_idx;		/* qlock, while WAITING */
	atomic_bool cancel;		/* kill requested before the spawn */
	struct gc__exec_spawned result; /* written by the spawner */
	struct gc__exec_run *rnext;	/* results list (qlock) */
	gc_exec_outcome out;		/* filled when the run completes */
};

/* A group whose shell is gone but which still had members: SIGKILL it at
 * `kill_at` if anything is left by then. */
struct gc__exec_straggler {
	pid_t pgid;
	int64_t kill_at;
};

struct gc_exec {
	int epfd;
	char *scratch; /* READ_CHUNK bytes: off the stack of small threads */
	bool have_pidfd;
	gc_exec_options opts;
	uint64_t next_handle;
	struct gc__exec_run *live;	/* queued, running or draining */
	struct gc__exec_run *done_head; /* completed, awaiting delivery */
	struct gc__exec_run *done_tail;
	size_t nlive, ndone;
	struct gc__exec_straggler *strays;
	size_t nstrays, strays_cap;

	/* Runs spawned later (start_at): a min-heap by start_at, taken by
	 * spawner threads (or by gc_exec_step when spawn_threads is
	 * GC_EXEC_SPAWN_INLINE); results come back through `evfd`. */
	int spawn_threads;  /* wanted: 0 = inline, n = threads */
	pthread_t *threads; /* started on the first run queued */
	int nthreads;
	bool q_ready; /* qlock, qcond and evfd exist */
	pthread_mutex_t qlock;
	pthread_cond_t qcond;				  /* CLOCK_MONOTONIC */
	struct gc__exec_run **heap;			  /* qlock */
	size_t heap_len, heap_cap;			  /* qlock */
	struct gc__exec_run *results_head, *results_tail; /* qlock */
	bool stop; /* qlock: spawner threads exit */
	uint64_t seq;
	int evfd; /* eventfd: results are waiting */
	struct gc__exec_watch w_ev;
	size_t nqueued; /* runs not yet back from spawning */
};

/* lib/exec_spawn.c */

/* The environment for `req` (inherited + overrides + GOPHERCRON_*); with
 * deep, inherited entries are copied too. */
int gc__exec_env_build(const gc_exec_request *req, bool deep,
		       struct gc__exec_env *e, gc_error *err);
void gc__exec_env_free(struct gc__exec_env *e);
/* Go's errno texts: the C library's with a lower-case first letter. */
void gc__exec_go_errstr(int e, char *buf, size_t size);
/* Create the output pipe and posix_spawn `shell -c command` into a new
 * session; fills `res` (pid, outfd, start times, or err and stage). Safe
 * on any thread: every descriptor is close-on-exec, nothing global. */
void gc__exec_spawn(const char *shell, const char *command, const char *workdir,
		    char *const *envp, struct gc__exec_spawned *res);
/* Message of a failed spawn ("fork/exec /bin/sh: ..."). */
int gc__exec_spawn_error(const struct gc__exec_spawned *res, const char *shell,
			 gc_error *err);
/* Check that `shell` can be executed (for runs spawned later, so that
 * the obvious mistakes are still reported by gc_exec_start). */
int gc__exec_shell_check(const char *shell, gc_error *err);
/* Queue a prepared run for its start_at (starts the spawner threads on
 * first use). */
int gc__exec_queue(gc_exec *ex, struct gc__exec_run *r, gc_error *err);
/* Take a waiting run back (kill before the spawn): true when it was still
 * waiting and is now out of the queue; else its spawn is under way and
 * r->cancel has been set. */
bool gc__exec_unqueue(gc_exec *ex, struct gc__exec_run *r);
/* Spawn what is due on this thread (inline mode) and collect every
 * result: calls `on_result` for each run back from spawning. */
void gc__exec_collect(gc_exec *ex,
		      void (*on_result)(gc_exec *, struct gc__exec_run *));
/* Earliest start_at waiting in inline mode (INT64_MAX: none). */
int64_t gc__exec_next_start(gc_exec *ex);
/* Stop and join the spawner threads; runs they spawned are handed to
 * on_result, waiting ones are left in the live list unspawned. */
void gc__exec_pool_stop(gc_exec *ex,
			void (*on_result)(gc_exec *, struct gc__exec_run *));
void gc__exec_prep_free(struct gc__exec_prep *p);

#endif
