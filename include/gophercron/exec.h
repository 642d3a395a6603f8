/* libgophercron: the process executor.
 *
 * Runs `shell -c command` for tasks, many at once, without a thread per
 * run, from the caller's event loop:
 *
 *   gc_exec_new(&ex, &opts, err);
 *   gc_exec_start(&handle, ex, &req, err);
 *   loop: poll gc_exec_fd(ex) for input with timeout gc_exec_timeout_ms(ex),
 *         then gc_exec_step(ex, err)  -> completions via opts.on_done
 *
 * How a run is executed:
 *  - posix_spawn with POSIX_SPAWN_SETSID: the shell leads a new session and
 *    process group (pgid = pid), signal mask emptied and every signal's
 *    disposition reset to default; stdin is /dev/null; stdout and stderr
 *    share ONE pipe, so the capture keeps their arrival order byte-exact;
 *    no other descriptor reaches the child (ours are all O_CLOEXEC, and
 *    with glibc >= 2.34 every fd >= 3 is closed in the child, so a host's
 *    descriptors opened without O_CLOEXEC do not leak into tasks). Failure to start the shell (missing, not executable) is
 *    returned by gc_exec_start as "fork/exec PATH: no such file or
 *    directory" style text, as Go's os/exec reports it.
 *  - Reaping: a pidfd per run in the executor's epoll set (Linux >= 5.3).
 *    Only our own pids are waited for (never waitpid(-1)), so a host
 *    program's other children are left alone. Without pidfd_open (older
 *    kernels, seccomp) each running shell is checked with a non-blocking
 *    waitid on its own pid every 20 ms instead (still no signals, no
 *    threads); gc_exec_timeout_ms then reports that cadence.
 *  - A run ends when the shell exits. At that moment the rest of its
 *    process group (background jobs it left behind) gets SIGTERM, and
 *    SIGKILL after the kill grace if anything is left. The run completes
 *    when the shell is reaped and the output pipe is at end of file; a
 *    leftover that keeps the pipe open delays completion until it dies
 *    (at the latest the SIGKILL, plus 500 ms for processes that left the
 *    group). Leftovers that let go of the pipe do not delay completion;
 *    the executor still SIGKILLs their group after the grace.
 *  - Timeout and kill: SIGTERM to the whole group at once, SIGKILL to the
 *    group after the grace period. The shell's status is read with waitid
 *    WNOWAIT and the group signalled before the zombie is reaped, so the
 *    pgid cannot have been reused; later signals go only to a group that
 *    still has members (members keep the pgid in use).
 *  - Output: capped at output_limit bytes: the first half and the last half
 *    are kept and the cut is marked with "\n... [N bytes omitted] ...\n".
 *    Memory per run never exceeds the cap plus the marker.
 *
 *  - Starting at an instant, and in parallel: a request with start_at
 *    (CLOCK_MONOTONIC ns) is prepared by gc_exec_start (checked, its
 *    environment built, every string copied) and spawned at that instant
 *    by one of the executor's spawner threads (options.spawn_threads,
 *    default 2, started on the first such request), which sleeps with
 *    clock_nanosleep(TIMER_ABSTIME) until then; bursts of such runs are
 *    spawned by all spawners at once. The spawn's outcome comes back
 *    through gc_exec_fd; the executor's loop keeps owning the capture,
 *    timeouts, kills and reaping. The timeout counts from the spawn. A
 *    kill before the spawn cancels the run: it completes with reason
 *    GC_EXEC_KILLED and pid 0, and no process is started. A spawn that
 *    fails then (the shell was checked by gc_exec_start: this is rare,
 *    e.g. the process limit) completes with GC_EXEC_START_FAILED and
 *    Go's "fork/exec ..." text. outcome.start_ns/start_mono_ns are the
 *    actual spawn instant. Without start_at (0) the run is spawned inside
 *    gc_exec_start on the calling thread, as always.
 *    Spawner threads only call pipe2(O_CLOEXEC), posix_spawn (with dup2
 *    file actions, which clear close-on-exec on the child's 1 and 2 only)
 *    and close: no descriptor of one run reaches another's process.
 *
 * No global state, no signal handlers. A gc_exec is used by one thread at
 * a time; callbacks run inside gc_exec_step on that thread and may call
 * gc_exec_start/gc_exec_kill (not gc_exec_free). The spawner threads are
 * internal (every signal blocked) and never run callbacks.
 */
#ifndef GOPHERCRON_EXEC_H
#define GOPHERCRON_EXEC_H

#include <gophercron/common.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GC_EXEC_DEFAULT_SHELL "/bin/sh"
#define GC_EXEC_DEFAULT_KILL_GRACE_MS 2000
#define GC_EXEC_DEFAULT_OUTPUT_LIMIT (1024 * 1024)
/* Smallest accepted output_limit (room for a head, a tail and a marker). */
#define GC_EXEC_MIN_OUTPUT_LIMIT 256

typedef struct gc_exec gc_exec;

/* How a run ended. */
typedef enum gc_exec_reason {
	GC_EXEC_EXITED = 0,   /* the shell exited; see exit_code */
	GC_EXEC_SIGNALED = 1, /* the shell died by a signal we did not send */
	GC_EXEC_TIMEOUT = 2,  /* timeout_ms passed; the group was killed */
	GC_EXEC_KILLED = 3,   /* gc_exec_kill / gc_exec_kill_all (pid 0 when
			       * killed before a start_at spawn) */
	GC_EXEC_START_FAILED = 4 /* a start_at run could not be spawned; see
				  * error ("fork/exec /bin/sh: ...") */
} gc_exec_reason;

#define GC_EXEC_REQUEST_VERSION 2
/* gc_exec_request.start_at for "as soon as a spawner thread is free" (an
 * instant long past). */
#define GC_EXEC_ASAP 1

/* One run. Strings are copied by gc_exec_start; zero means default. */
typedef struct gc_exec_request {
	unsigned version;      /* GC_EXEC_REQUEST_VERSION (1: no start_at) */
	const char *shell;     /* NULL = "/bin/sh"; run as SHELL -c COMMAND */
	const char *command;   /* required */
	int64_t timeout_ms;    /* 0 = none (task timeouts are seconds*1000) */
	int64_t kill_grace_ms; /* SIGTERM -> SIGKILL; 0 = 2000 */
	size_t output_limit;   /* bytes kept; 0 = 1 MiB */
	const char *workdir;   /* NULL = the host's current directory */
	/* Extra environment, NULL-terminated "NAME=value" strings; they
	 * override inherited variables of the same name. May be NULL. */
	const char *const *env;
	/* Exported as GOPHERCRON_PROJECT_ID, _TASK_ID, _TASK_NAME,
	 * _PLAN_TIME (unix seconds), _AGENT_IP, _RUN_ID, _FENCING_TOKEN;
	 * NULL strings / project_id 0 / plan_unix 0 are not exported. */
	int64_t project_id;
	const char *task_id;
	const char *task_name;
	int64_t plan_unix;
	const char *agent_ip;
	const char *run_id;
	const char *fencing_token;
	void *userdata; /* handed back in the outcome */
	/* Version 2. CLOCK_MONOTONIC instant (ns) at which a spawner thread
	 * starts the run (see "Starting at an instant" above); an instant
	 * already past (e.g. GC_EXEC_ASAP) means at once, on a spawner.
	 * 0 = spawn inside gc_exec_start on the calling thread. */
	int64_t start_at;
} gc_exec_request;

#define GC_EXEC_REQUEST_INIT                                                \
	{GC_EXEC_REQUEST_VERSION, NULL, NULL, 0, 0, 0, NULL, NULL, 0, NULL,  \
	 NULL, 0, NULL, NULL, NULL, NULL, 0}
/* Zero `req` and set its version to GC_EXEC_REQUEST_VERSION. */
GC_EXTERN void gc_exec_request_init(gc_exec_request *req);

/* Error texts of a run, as the original reports them ("" = success). */
#define GC_RUN_ERR_TIMEOUT   "timeout"
#define GC_RUN_ERR_KILLED    "killed"
#define GC_RUN_ERR_NOT_FOUND "command not found"

/* Text for a wait(2) status, as Go's os/exec prints it: "" for exit 0,
 * "command not found" for 127, "exit status N", "signal: killed",
 * "signal: segmentation fault (core dumped)", ... Always NUL-terminates. */
#define GC_EXIT_TEXT_MAX 64
GC_EXTERN void gc_exit_text(int wait_status, char out[GC_EXIT_TEXT_MAX]);

typedef struct gc_exec_outcome {
	uint64_t handle;
	void *userdata;
	gc_exec_reason reason;
	int exit_code;      /* EXITED: the shell's exit code, else -1 */
	int term_signal;    /* the signal that ended the shell, else 0 */
	int wait_status;    /* raw wait(2) status of the shell */
	char error[GC_EXIT_TEXT_MAX]; /* "" on success, "exit status 3",
					 "command not found", "timeout",
					 "killed", "signal: killed", ... */
	char *output;       /* malloc'd capture, NUL-terminated; may hold NULs */
	size_t output_len;
	uint64_t output_total; /* bytes the run wrote (including cut ones) */
	int64_t pid;           /* the shell's pid (= its pgid); 0 when no
				  process was started */
	int64_t start_ns;      /* wall clock: spawned */
	int64_t end_ns;        /* wall clock: shell exited */
	int64_t start_mono_ns; /* CLOCK_MONOTONIC: spawned (0: not started) */
} gc_exec_outcome;

/* Free the output and zero the outcome. */
GC_EXTERN void gc_exec_outcome_clear(gc_exec_outcome *o);

/* Called once per finished run from gc_exec_step. The callback may take
 * the output by setting o->output to NULL (then it frees it with gc_free);
 * otherwise it is freed after the callback returns. */
typedef void (*gc_exec_done_fn)(gc_exec_outcome *o, void *payload);

/* gc_exec_options.flags */
enum {
	/* Do not use pidfds: poll each running shell with waitid every 20 ms
	 * (what happens anyway where pidfd_open is missing or filtered). */
	GC_EXEC_POLL_EXITS = 1
};

#define GC_EXEC_OPTIONS_VERSION 2
#define GC_EXEC_DEFAULT_SPAWN_THREADS 2
/* gc_exec_options.spawn_threads: no threads; start_at runs are spawned on
 * the caller's thread by gc_exec_step when due (gc_exec_timeout_ms counts
 * their start_at), one after another. */
#define GC_EXEC_SPAWN_INLINE (-1)

typedef struct gc_exec_options {
	unsigned version;       /* GC_EXEC_OPTIONS_VERSION (1: up to flags) */
	gc_exec_done_fn on_done;
	void *payload;          /* for on_done */
	gc_log_fn log;          /* NULL = silent */
	void *log_payload;
	unsigned flags;         /* GC_EXEC_* flags above, 0 = none */
	/* Version 2. Threads spawning start_at runs (started on the first
	 * one): 0 = GC_EXEC_DEFAULT_SPAWN_THREADS, at most 64, or
	 * GC_EXEC_SPAWN_INLINE. */
	int spawn_threads;
} gc_exec_options;

#define GC_EXEC_OPTIONS_INIT {GC_EXEC_OPTIONS_VERSION, NULL, NULL, NULL, NULL, 0, 0}
/* Zero `opts` for `version` (pass GC_EXEC_OPTIONS_VERSION): 0, or
 * GC_EINVAL for a version this library does not know. */
GC_EXTERN int gc_exec_options_init(gc_exec_options *opts, unsigned version);

/* Options of any version from 1 to GC_EXEC_OPTIONS_VERSION are accepted
 * (only the fields that version has are read); a newer one is
 * GC_EINVAL. */
GC_EXTERN int gc_exec_new(gc_exec **out, const gc_exec_options *opts,
			  gc_error *err);
/* Stop the spawner threads, kill every run's group with SIGKILL, reap the
 * shells, free. Runs not yet spawned are dropped. No callbacks are
 * delivered. NULL is harmless. */
GC_EXTERN void gc_exec_free(gc_exec *ex);

/* Descriptor to poll for input (an epoll fd). */
GC_EXTERN int gc_exec_fd(const gc_exec *ex);
/* Milliseconds until the next timeout/grace deadline: -1 = none, 0 = due.
 * The host must call gc_exec_step by then even if the fd stays quiet. */
GC_EXTERN int gc_exec_timeout_ms(const gc_exec *ex);
/* Process whatever is ready without blocking: read output, reap, enforce
 * deadlines, deliver completions. Returns the number of completions
 * delivered, or a negative GC_E* code. */
GC_EXTERN int gc_exec_step(gc_exec *ex, gc_error *err);
/* Block up to max_wait_ms (-1 = until something happens) for the fd or
 * the next deadline, then gc_exec_step. For simple loops and tests. */
GC_EXTERN int gc_exec_poll(gc_exec *ex, int max_wait_ms, gc_error *err);

/* Start a run (or, with start_at, prepare it for its instant). On success
 * *handle (never 0) identifies it. Returns GC_EINVAL for a bad request,
 * GC_ESYS when the shell cannot be started (message "fork/exec
 * /bin/nosuch: no such file or directory"; checked up front for start_at
 * runs), and then no callback follows. */
GC_EXTERN int gc_exec_start(uint64_t *handle, gc_exec *ex,
			    const gc_exec_request *req, gc_error *err);
/* Kill a run: SIGTERM to its group now, SIGKILL after the grace; it
 * completes with reason GC_EXEC_KILLED and error "killed" (unless it had
 * already finished or timed out). GC_ENOTFOUND for an unknown handle. */
GC_EXTERN int gc_exec_kill(gc_exec *ex, uint64_t handle);
/* gc_exec_kill for every run; returns how many were signalled. */
GC_EXTERN size_t gc_exec_kill_all(gc_exec *ex);
/* Runs started (or waiting for their start_at) and not yet delivered. */
GC_EXTERN size_t gc_exec_running(const gc_exec *ex);
/* The shell's pid (= pgid) of a run, 0 while it waits for its start_at,
 * or -1 for an unknown handle. */
GC_EXTERN int64_t gc_exec_pid(const gc_exec *ex, uint64_t handle);

/* Run one request to completion on a private executor (blocking). On
 * success *out holds the outcome (clear it with gc_exec_outcome_clear). */
GC_EXTERN int gc_exec_run_sync(gc_exec_outcome *out, const gc_exec_request *req,
			       gc_error *err);

#ifdef __cplusplus
}
#endif
#endif
