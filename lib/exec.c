/* Process executor: posix_spawn'd shells in their own sessions, output
 * through one pipe, pidfds in an epoll set, deadlines driven by the
 * caller's loop (see include/gophercron/exec.h). */
#include "exec_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* Reads per readiness event and run: level-triggered epoll reports the
 * pipe again, so one chatty run cannot starve the others. */
#define READ_CHUNK 65536
#define READS_PER_EVENT 16
/* Child-exit polling when pidfds are unavailable (kernel < 5.3). */
#define POLL_EXIT_MS 20
/* After the SIGKILL, how long processes that left the group (setsid'd
 * daemons) may keep the output pipe open before the run completes anyway. */
#define GIVE_UP_MS 500
#define MS	   GC__EXEC_MS
/* Most spawner threads an executor starts. */
#define MAX_SPAWN_THREADS 64

#define W_PIDFD	  GC__W_PIDFD
#define W_OUT	  GC__W_OUT
#define W_SPAWNED GC__W_SPAWNED

static void take_result(gc_exec *ex, struct gc__exec_run *r);

static int sys_pidfd_open(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	errno = ENOSYS;
	return -1;
#endif
}

static void xlog(gc_exec *ex, int level, const char *fmt, ...)
	GC__PRINTF(3, 4);
static void xlog(gc_exec *ex, int level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	if (!ex->opts.log)
		return;
	va_start(ap, fmt);
	gc__log_vformat(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ex->opts.log(level, msg, ex->opts.log_payload);
}

GC_EXTERN void gc_exec_request_init(gc_exec_request *req)
{
	if (req) {
		memset(req, 0, sizeof(*req));
		req->version = GC_EXEC_REQUEST_VERSION;
	}
}

/* Version 1 ended at flags. */
GC__OPTVER(static, exec_optver, "exec", GC_EXEC_OPTIONS_VERSION,
	   offsetof(gc_exec_options, spawn_threads), sizeof(gc_exec_options));

GC_EXTERN int gc_exec_options_init(gc_exec_options *opts, unsigned version)
{
	return gc__options_init(opts, version, &exec_optver);
}

GC_EXTERN void gc_exec_outcome_clear(gc_exec_outcome *o)
{
	if (!o)
		return;
	free(o->output);
	memset(o, 0, sizeof(*o));
}

/* Copy options of any version: only the fields that version has. */
static int copy_options(gc_exec *ex, const gc_exec_options *opts, gc_error *err)
{
	int threads;
	int rc = gc__options_copy(&ex->opts, opts, &exec_optver, err);
	if (rc)
		return rc;
	threads = ex->opts.spawn_threads;
	ex->spawn_threads = threads == 0  ? GC_EXEC_DEFAULT_SPAWN_THREADS
			    : threads < 0 ? 0
			    : threads > MAX_SPAWN_THREADS ? MAX_SPAWN_THREADS
							  : threads;
	return 0;
}

GC_EXTERN int gc_exec_new(gc_exec **out, const gc_exec_options *opts,
			  gc_error *err)
{
	gc_exec *ex;
	int probe, rc;
	if (!out)
		return gc__seterr(err, GC_EINVAL, "exec: NULL out pointer");
	*out = NULL;
	if (!(ex = calloc(1, sizeof(*ex))))
		return gc__seterr(err, GC_ENOMEM, "exec: out of memory");
	if ((rc = copy_options(ex, opts, err))) {
		free(ex);
		return rc;
	}
	ex->evfd = -1;
	ex->next_handle = 1;
	if (!(ex->scratch = malloc(READ_CHUNK))) {
		free(ex);
		return gc__seterr(err, GC_ENOMEM, "exec: out of memory");
	}
	ex->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (ex->epfd < 0) {
		int e = errno;
		free(ex->scratch);
		free(ex);
		return gc__seterr_errno(err, GC_ESYS, e, "exec: epoll_create1");
	}
	/* pidfds need Linux 5.3; without them exits are polled */
	probe = ex->opts.flags & GC_EXEC_POLL_EXITS ? -1
						    : sys_pidfd_open(getpid());
	ex->have_pidfd = probe >= 0;
	if (probe >= 0)
		close(probe);
	else if (!(ex->opts.flags & GC_EXEC_POLL_EXITS))
		xlog(ex, GC_LOG_NOTICE,
		     "exec: pidfd_open unavailable (%s); polling child exits "
		     "every %d ms",
		     strerror(errno), POLL_EXIT_MS);
	*out = ex;
	return 0;
}

GC_EXTERN int gc_exec_fd(const gc_exec *ex)
{
	return ex ? ex->epfd : -1;
}

/* ------------------------------------------------------------ capture */

static int capture(struct gc__exec_run *r, const char *p, size_t n)
{
	r->total += n;
	if (r->head_len < r->head_cap) {
		size_t take = r->head_cap - r->head_len;
		if (take > n)
			take = n;
		if (r->head_len + take > r->head_alloc) {
			size_t a = r->head_alloc ? r->head_alloc : 4096;
			char *nh;
			while (a < r->head_len + take)
				a *= 2;
			if (a > r->head_cap)
				a = r->head_cap;
			if (!(nh = realloc(r->head, a + 1)))
				return GC_ENOMEM;
			r->head = nh;
			r->head_alloc = a;
		}
		memcpy(r->head + r->head_len, p, take);
		r->head_len += take;
		p += take;
		n -= take;
	}
	if (n == 0 || r->tail_cap == 0)
		return 0;
	if (!r->tail && !(r->tail = malloc(r->tail_cap)))
		return GC_ENOMEM;
	if (n >= r->tail_cap) { /* only the last tail_cap bytes matter */
		memcpy(r->tail, p + n - r->tail_cap, r->tail_cap);
		r->tail_pos = 0;
		r->tail_len = r->tail_cap;
		return 0;
	}
	while (n) {
		size_t room = r->tail_cap - r->tail_pos, k = n < room ? n : room;
		memcpy(r->tail + r->tail_pos, p, k);
		r->tail_pos = (r->tail_pos + k) % r->tail_cap;
		r->tail_len = r->tail_len + k > r->tail_cap ? r->tail_cap
							    : r->tail_len + k;
		p += k;
		n -= k;
	}
	return 0;
}

/* Head + marker + tail into one buffer (reusing the head's). */
static int capture_finish(struct gc__exec_run *r, char **out, size_t *out_len)
{
	char marker[GC__OMITTED_MARKER_MAX];
	size_t mlen = 0, len;
	uint64_t omitted = r->total - r->head_len - r->tail_len;
	char *buf;
	if (omitted)
		mlen = gc__omitted_marker(marker, sizeof(marker), omitted);
	len = r->head_len + mlen + r->tail_len;
	if (!(buf = realloc(r->head, len + 1)))
		return GC_ENOMEM;
	r->head = NULL;
	r->head_alloc = 0;
	memcpy(buf + r->head_len, marker, mlen);
	if (r->tail_len == r->tail_cap && r->tail_cap) {
		/* a full ring's oldest byte sits at tail_pos */
		char *dst = buf + r->head_len + mlen;
		memcpy(dst, r->tail + r->tail_pos, r->tail_cap - r->tail_pos);
		memcpy(dst + r->tail_cap - r->tail_pos, r->tail, r->tail_pos);
	} else if (r->tail_len) { /* not wrapped yet: it starts at 0 */
		memcpy(buf + r->head_len + mlen, r->tail, r->tail_len);
	}
	free(r->tail);
	r->tail = NULL;
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	return 0;
}

/* ---------------------------------------------------------- lifecycle */

static void list_remove(gc_exec *ex, struct gc__exec_run *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		ex->live = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->next = r->prev = NULL;
	ex->nlive--;
}

static void close_out(gc_exec *ex, struct gc__exec_run *r)
{
	if (r->outfd >= 0) {
		epoll_ctl(ex->epfd, EPOLL_CTL_DEL, r->outfd, NULL);
		close(r->outfd);
		r->outfd = -1;
	}
}

static void close_pidfd(gc_exec *ex, struct gc__exec_run *r)
{
	if (r->pidfd >= 0) {
		epoll_ctl(ex->epfd, EPOLL_CTL_DEL, r->pidfd, NULL);
		close(r->pidfd);
		r->pidfd = -1;
	}
}

static void run_free(struct gc__exec_run *r)
{
	if (!r)
		return;
	free(r->head);
	free(r->tail);
	free(r->out.output);
	gc__exec_prep_free(r->prep);
	free(r);
}

static void add_straggler(gc_exec *ex, pid_t pgid, int64_t kill_at)
{
	if (ex->nstrays == ex->strays_cap) {
		size_t cap = ex->strays_cap ? ex->strays_cap * 2 : 8;
		struct gc__exec_straggler *s =
		    realloc(ex->strays, cap * sizeof(*s));
		if (!s) { /* cannot wait for the grace: kill now */
			kill(-pgid, SIGKILL);
			return;
		}
		ex->strays = s;
		ex->strays_cap = cap;
	}
	ex->strays[ex->nstrays].pgid = pgid;
	ex->strays[ex->nstrays].kill_at = kill_at;
	ex->nstrays++;
}

/* Off the live list, onto the delivery queue (FIFO). */
static void queue_done(gc_exec *ex, struct gc__exec_run *r)
{
	list_remove(ex, r);
	if (ex->done_tail)
		ex->done_tail->next = r;
	else
		ex->done_head = r;
	ex->done_tail = r;
	ex->ndone++;
}

/* `text` into the outcome's error field; a longer one keeps its start
 * ("fork/exec ") and its end (the path's end and the reason), with
 * "..." between. */
static void set_error_text(char out[GC_EXIT_TEXT_MAX], const char *text)
{
	size_t n = strlen(text), head = 10, tail = GC_EXIT_TEXT_MAX - 1 - 13;
	if (n < GC_EXIT_TEXT_MAX) {
		memcpy(out, text, n + 1);
		return;
	}
	memcpy(out, text, head);
	memcpy(out + head, "...", 3);
	memcpy(out + head + 3, text + n - tail, tail + 1);
}

/* A run that never got a process (killed before its start_at, or its
 * spawn failed): completes at once with `reason` and `text`. */
static void complete_unstarted(gc_exec *ex, struct gc__exec_run *r,
			       gc_exec_reason reason, const char *text)
{
	gc_exec_outcome *o = &r->out;
	o->handle = r->handle;
	o->userdata = r->userdata;
	o->reason = reason;
	o->exit_code = -1;
	set_error_text(o->error, text);
	o->end_ns = gc__wall_ns();
	o->start_ns = r->result.start_ns ? r->result.start_ns : o->end_ns;
	if (!(o->output = calloc(1, 1)))
		xlog(ex, GC_LOG_ERR, "exec: run %" PRIu64 ": out of memory",
		     r->handle);
	gc__exec_prep_free(r->prep);
	r->prep = NULL;
	queue_done(ex, r);
}

/* Move a run whose shell is reaped to the delivery queue. */
static void complete(gc_exec *ex, struct gc__exec_run *r)
{
	gc_exec_outcome *o = &r->out;
	close_out(ex, r);
	close_pidfd(ex, r);
	/* members left in the group (background jobs that ignore SIGTERM and
	 * let go of the pipe) get their SIGKILL after the grace period */
	if (!r->kill_sent && kill(-r->pid, 0) == 0)
		add_straggler(ex, r->pid,
			      r->kill_at ? r->kill_at
					 : gc__mono_ns() + r->grace_ns);
	o->handle = r->handle;
	o->userdata = r->userdata;
	o->pid = r->pid;
	o->wait_status = r->wait_status;
	o->start_ns = r->start_ns;
	o->start_mono_ns = r->start_mono_ns;
	o->end_ns = r->end_ns;
	o->output_total = r->total;
	o->exit_code = WIFEXITED(r->wait_status) ? WEXITSTATUS(r->wait_status)
						 : -1;
	o->term_signal = WIFSIGNALED(r->wait_status)
				 ? WTERMSIG(r->wait_status)
				 : 0;
	if (r->have_reason) {
		o->reason = r->reason;
		snprintf(o->error, sizeof(o->error), "%s",
			 r->reason == GC_EXEC_TIMEOUT ? GC_RUN_ERR_TIMEOUT
						      : GC_RUN_ERR_KILLED);
	} else {
		o->reason = WIFEXITED(r->wait_status) ? GC_EXEC_EXITED
						      : GC_EXEC_SIGNALED;
		gc_exit_text(r->wait_status, o->error);
	}
	if (capture_finish(r, &o->output, &o->output_len)) {
		/* keep going without output rather than lose the result */
		o->output = NULL;
		o->output_len = 0;
		xlog(ex, GC_LOG_ERR, "exec: run %" PRIu64 ": out of memory "
				     "assembling its output",
		     r->handle);
	}
	queue_done(ex, r);
}

static void read_output(gc_exec *ex, struct gc__exec_run *r, int budget)
{
	while (r->outfd >= 0 && budget-- > 0) {
		ssize_t n = read(r->outfd, ex->scratch, READ_CHUNK);
		if (n > 0) {
			if (capture(r, ex->scratch, (size_t)n))
				xlog(ex, GC_LOG_ERR,
				     "exec: run %" PRIu64
				     ": out of memory, output dropped",
				     r->handle);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0)
			xlog(ex, GC_LOG_WARNING,
			     "exec: run %" PRIu64 ": read: %s", r->handle,
			     strerror(errno));
		close_out(ex, r); /* end of file (or a broken pipe) */
	}
}

static void signal_group(gc_exec *ex, struct gc__exec_run *r, int sig)
{
	/* safe until the shell is reaped: its zombie holds the pgid; after
	 * that only while the group still has members (which also hold it) */
	if (r->pid <= 0) /* never -0: that is our own group */
		return;
	if (kill(-r->pid, sig) < 0 && errno != ESRCH)
		xlog(ex, GC_LOG_WARNING, "exec: kill(-%ld, %d): %s",
		     (long)r->pid, sig, strerror(errno));
}

static void start_termination(gc_exec *ex, struct gc__exec_run *r, int64_t now)
{
	if (!r->term_sent) {
		signal_group(ex, r, SIGTERM);
		r->term_sent = true;
	}
	if (!r->kill_at)
		r->kill_at = now + r->grace_ns;
}

/* The shell exited: learn its status without reaping (the zombie keeps
 * the pgid ours while we signal the group), TERM the group, then reap. */
static void on_shell_exit(gc_exec *ex, struct gc__exec_run *r)
{
	siginfo_t si;
	int st;
	int64_t now;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)r->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
		if (errno == EINTR)
			return;
		/* someone else reaped it (SIGCHLD ignored by the host) */
		xlog(ex, GC_LOG_WARNING,
		     "exec: run %" PRIu64 ": waitid(%ld): %s; exit status "
		     "unknown",
		     r->handle, (long)r->pid, strerror(errno));
		r->exited = r->reaped = true;
		r->wait_status = 0xff00; /* reads as exit status 255 */
		r->end_ns = gc__wall_ns();
	} else if (si.si_pid == 0) {
		return; /* not yet */
	}
	now = gc__mono_ns();
	if (!r->exited) {
		r->end_ns = gc__wall_ns();
		if (si.si_code == CLD_EXITED)
			r->wait_status = (si.si_status & 0xff) << 8;
		else
			r->wait_status = (si.si_status & 0x7f) |
					 (si.si_code == CLD_DUMPED ? 0x80 : 0);
		r->exited = true;
		/* stragglers: SIGTERM now, SIGKILL after the grace */
		start_termination(ex, r, now);
		if (waitpid(r->pid, &st, 0) < 0)
			xlog(ex, GC_LOG_WARNING, "exec: waitpid(%ld): %s",
			     (long)r->pid, strerror(errno));
		r->reaped = true;
	}
	close_pidfd(ex, r);
	r->poll_at = 0;
	/* what the shell wrote is in the pipe by now; more (from stragglers)
	 * comes through the normal readiness events */
	read_output(ex, r, READS_PER_EVENT);
	if (r->outfd < 0)
		complete(ex, r);
}

static void on_deadlines(gc_exec *ex, struct gc__exec_run *r, int64_t now)
{
	if (!r->exited && r->deadline && now >= r->deadline &&
	    !r->have_reason) {
		r->have_reason = true;
		r->reason = GC_EXEC_TIMEOUT;
		start_termination(ex, r, now);
	}
	if (r->kill_at && now >= r->kill_at && !r->kill_sent) {
		/* after the reap only a non-empty group may be signalled */
		if (!r->reaped || kill(-r->pid, 0) == 0)
			signal_group(ex, r, SIGKILL);
		r->kill_sent = true;
		r->give_up = now + GIVE_UP_MS * MS;
	}
	if (!r->exited && r->poll_at && now >= r->poll_at) {
		r->poll_at = now + POLL_EXIT_MS * MS;
		on_shell_exit(ex, r);
		return;
	}
	if (r->reaped && r->give_up && now >= r->give_up) {
		xlog(ex, GC_LOG_WARNING,
		     "exec: run %" PRIu64 ": output pipe still open %d ms "
		     "after SIGKILL (a process left the group?); completing",
		     r->handle, GIVE_UP_MS);
		complete(ex, r);
	}
}

static int64_t run_next_timer(const struct gc__exec_run *r)
{
	int64_t t = INT64_MAX;
	if (!r->exited && r->deadline && !r->have_reason)
		t = r->deadline;
	if (r->kill_at && !r->kill_sent && r->kill_at < t)
		t = r->kill_at;
	if (!r->exited && r->poll_at && r->poll_at < t)
		t = r->poll_at;
	if (r->reaped && r->give_up && r->give_up < t)
		t = r->give_up;
	return t;
}

GC_EXTERN int gc_exec_timeout_ms(const gc_exec *ex)
{
	int64_t t = INT64_MAX, now;
	if (!ex)
		return -1;
	if (ex->ndone)
		return 0;
	for (const struct gc__exec_run *r = ex->live; r; r = r->next) {
		int64_t x = run_next_timer(r);
		if (x < t)
			t = x;
	}
	for (size_t i = 0; i < ex->nstrays; i++)
		if (ex->strays[i].kill_at < t)
			t = ex->strays[i].kill_at;
	if (ex->nqueued) { /* inline mode: the next start_at to spawn */
		int64_t x = gc__exec_next_start((gc_exec *)ex);
		if (x < t)
			t = x;
	}
	if (t == INT64_MAX)
		return -1;
	now = gc__mono_ns();
	if (t <= now)
		return 0;
	t = (t - now + MS - 1) / MS;
	return t > INT32_MAX ? INT32_MAX : (int)t;
}

static void handle_strays(gc_exec *ex, int64_t now)
{
	size_t i = 0;
	while (i < ex->nstrays) {
		struct gc__exec_straggler *s = &ex->strays[i];
		if (now < s->kill_at) {
			i++;
			continue;
		}
		/* a non-empty group still owns its pgid */
		if (kill(-s->pgid, 0) == 0)
			kill(-s->pgid, SIGKILL);
		ex->strays[i] = ex->strays[--ex->nstrays];
	}
}

static int deliver(gc_exec *ex)
{
	int n = 0;
	struct gc__exec_run *r;
	while ((r = ex->done_head)) {
		ex->done_head = r->next;
		if (!ex->done_head)
			ex->done_tail = NULL;
		ex->ndone--;
		r->next = NULL;
		if (ex->opts.on_done)
			ex->opts.on_done(&r->out, ex->opts.payload);
		run_free(r);
		n++;
	}
	return n;
}

GC_EXTERN int gc_exec_step(gc_exec *ex, gc_error *err)
{
	struct epoll_event ev[64];
	int n, rounds = 0;
	int64_t now;
	bool spawned = false;
	if (!ex)
		return gc__seterr(err, GC_EINVAL, "exec: NULL executor");
	do {
		n = epoll_wait(ex->epfd, ev, (int)GC__ARRAY_LEN(ev), 0);
		if (n < 0) {
			if (errno == EINTR)
				break;
			return gc__seterr_errno(err, GC_ESYS, errno,
						"exec: epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			struct gc__exec_watch *w = ev[i].data.ptr;
			struct gc__exec_run *r = w->run;
			/* a run completed earlier in this batch is queued for
			 * delivery and has no fds left: skip stale events */
			if (w->kind == W_SPAWNED) {
				spawned = true; /* collected below */
			} else if (w->kind == W_OUT && r->outfd >= 0) {
				read_output(ex, r, READS_PER_EVENT);
				if (r->outfd < 0 && r->reaped)
					complete(ex, r);
				else if (r->outfd < 0 && r->pidfd < 0)
					on_shell_exit(ex, r); /* polling mode */
			} else if (w->kind == W_PIDFD && r->pidfd >= 0) {
				on_shell_exit(ex, r);
			}
		}
	} while (n == (int)GC__ARRAY_LEN(ev) && ++rounds < 8);
	/* spawns that finished (and, inline, those now due); a readable
	 * eventfd is drained even when its result was collected already */
	if (ex->nqueued || spawned)
		gc__exec_collect(ex, take_result);
	now = gc__mono_ns();
	for (struct gc__exec_run *r = ex->live, *next; r; r = next) {
		next = r->next;
		if (run_next_timer(r) <= now)
			on_deadlines(ex, r, now);
	}
	handle_strays(ex, now);
	return deliver(ex);
}

GC_EXTERN int gc_exec_poll(gc_exec *ex, int max_wait_ms, gc_error *err)
{
	struct pollfd pfd;
	int t;
	if (!ex)
		return gc__seterr(err, GC_EINVAL, "exec: NULL executor");
	t = gc_exec_timeout_ms(ex);
	if (t < 0 || (max_wait_ms >= 0 && max_wait_ms < t))
		t = max_wait_ms;
	pfd.fd = ex->epfd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	if (poll(&pfd, 1, t) < 0 && errno != EINTR)
		return gc__seterr_errno(err, GC_ESYS, errno, "exec: poll");
	return gc_exec_step(ex, err);
}

/* ------------------------------------------------------------- start */

/* Register a spawned run's output pipe and pidfd in the epoll set and arm
 * its timers. On failure the process is killed and reaped. */
static int watch_run(gc_exec *ex, struct gc__exec_run *r, gc_error *err)
{
	struct epoll_event ev;
	int e, rc;
	ev.events = EPOLLIN;
	ev.data.ptr = &r->w_out;
	if (epoll_ctl(ex->epfd, EPOLL_CTL_ADD, r->outfd, &ev) < 0)
		goto fail;
	if (ex->have_pidfd) {
		r->pidfd = sys_pidfd_open(r->pid);
		if (r->pidfd < 0 && errno != ESRCH)
			goto fail;
		if (r->pidfd >= 0) {
			ev.events = EPOLLIN;
			ev.data.ptr = &r->w_pid;
			if (epoll_ctl(ex->epfd, EPOLL_CTL_ADD, r->pidfd, &ev) <
			    0)
				goto fail;
		}
	}
	if (r->pidfd < 0)
		r->poll_at = gc__mono_ns() + POLL_EXIT_MS * MS;
	if (r->timeout_ns)
		r->deadline = r->start_mono_ns + r->timeout_ns;
	return 0;
fail:
	e = errno;
	rc = gc__seterr_errno(err, GC_ESYS, e, "exec: watching pid %ld",
			      (long)r->pid);
	kill(-r->pid, SIGKILL);
	waitpid(r->pid, NULL, 0);
	r->exited = r->reaped = true;
	close_pidfd(ex, r);
	close_out(ex, r);
	return rc;
}

/* The process of a spawn that succeeded becomes the run's. */
static void adopt_process(struct gc__exec_run *r)
{
	r->pid = r->result.pid;
	r->outfd = r->result.outfd;
	r->start_ns = r->result.start_ns;
	r->start_mono_ns = r->result.start_mono_ns;
	r->spawned = true;
}

/* A start_at run is back from its spawner (executor thread). */
static void take_result(gc_exec *ex, struct gc__exec_run *r)
{
	gc_error e = {0, ""};
	if (r->result.canceled ||
	    (r->result.err && r->have_reason)) { /* killed before the start */
		complete_unstarted(ex, r, GC_EXEC_KILLED, GC_RUN_ERR_KILLED);
		return;
	}
	if (r->result.err) {
		gc__exec_spawn_error(&r->result, r->prep->shell, &e);
		xlog(ex, GC_LOG_ERR, "exec: run %" PRIu64 ": %s", r->handle,
		     e.msg);
		complete_unstarted(ex, r, GC_EXEC_START_FAILED, e.msg);
		return;
	}
	adopt_process(r);
	gc__exec_prep_free(r->prep);
	r->prep = NULL;
	if (watch_run(ex, r, &e)) {
		xlog(ex, GC_LOG_ERR, "exec: run %" PRIu64 ": %s", r->handle,
		     e.msg);
		r->pid = 0; /* reaped: no pid to report or signal */
		complete_unstarted(ex, r, GC_EXEC_START_FAILED, e.msg);
		return;
	}
	if (r->have_reason) /* killed while it was being spawned */
		start_termination(ex, r, gc__mono_ns());
}

/* Check a request; *shell and *limit receive the effective values. */
static int check_request(const gc_exec_request *req, const char **shell,
			 size_t *limit, gc_error *err)
{
	struct stat sb;
	if (!req->command)
		return gc__seterr(err, GC_EINVAL, "exec: no command given");
	if (req->timeout_ms < 0 || req->kill_grace_ms < 0)
		return gc__seterr(err, GC_EINVAL,
				  "exec: negative timeout or kill grace");
	if (req->version > GC_EXEC_REQUEST_VERSION)
		return gc__seterr(err, GC_EINVAL,
				  "exec: unknown request version %u",
				  req->version);
	*shell = req->shell && *req->shell ? req->shell : GC_EXEC_DEFAULT_SHELL;
	*limit = req->output_limit ? req->output_limit
				   : GC_EXEC_DEFAULT_OUTPUT_LIMIT;
	if (*limit < GC_EXEC_MIN_OUTPUT_LIMIT)
		return gc__seterr(err, GC_EINVAL,
				  "exec: output limit %zu is below the minimum "
				  "of %d bytes",
				  *limit, GC_EXEC_MIN_OUTPUT_LIMIT);
	if (req->workdir) {
		/* checked here so the message can name the directory */
		int e = stat(req->workdir, &sb) < 0 ? errno
			: !S_ISDIR(sb.st_mode)	    ? ENOTDIR
						    : 0;
		if (e) {
			char ebuf[128];
			gc__exec_go_errstr(e, ebuf, sizeof(ebuf));
			return gc__seterr(err, GC_ESYS, "chdir %s: %s",
					  req->workdir, ebuf);
		}
	}
	return 0;
}

static struct gc__exec_run *run_new(const gc_exec_request *req, size_t limit)
{
	struct gc__exec_run *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->pidfd = r->outfd = -1;
	r->result.outfd = -1;
	r->head_cap = limit / 2;
	r->tail_cap = limit - r->head_cap;
	r->grace_ns = (req->kill_grace_ms ? req->kill_grace_ms
					  : GC_EXEC_DEFAULT_KILL_GRACE_MS) *
		      MS;
	r->timeout_ns = req->timeout_ms * MS;
	r->userdata = req->userdata;
	r->w_pid.run = r->w_out.run = r;
	r->w_pid.kind = W_PIDFD;
	r->w_out.kind = W_OUT;
	atomic_init(&r->cancel, false);
	return r;
}

static void link_live(gc_exec *ex, struct gc__exec_run *r)
{
	r->handle = ex->next_handle++;
	r->next = ex->live;
	if (ex->live)
		ex->live->prev = r;
	ex->live = r;
	ex->nlive++;
}

/* Spawn now, on this thread. */
static int start_now(gc_exec *ex, const gc_exec_request *req, const char *shell,
		     struct gc__exec_run *r, gc_error *err)
{
	struct gc__exec_env env;
	int rc;
	if ((rc = gc__exec_env_build(req, false, &env, err)))
		return rc;
	gc__exec_spawn(shell, req->command, req->workdir, env.envp, &r->result);
	gc__exec_env_free(&env);
	if (r->result.err)
		return gc__exec_spawn_error(&r->result, shell, err);
	adopt_process(r);
	return watch_run(ex, r, err);
}

/* Prepare for a spawner: private copies of everything the spawn needs. */
static int start_later(gc_exec *ex, const gc_exec_request *req,
		       const char *shell, struct gc__exec_run *r, gc_error *err)
{
	struct gc__exec_prep *p;
	int rc;
	if ((rc = gc__exec_shell_check(shell, err)))
		return rc;
	if (!(p = r->prep = calloc(1, sizeof(*p))) ||
	    !(p->shell = gc__strdup(shell)) ||
	    !(p->command = gc__strdup(req->command)) ||
	    (req->workdir && !(p->workdir = gc__strdup(req->workdir))))
		return gc__seterr(err, GC_ENOMEM, "exec: out of memory");
	if ((rc = gc__exec_env_build(req, true, &p->env, err)))
		return rc;
	r->start_at = req->start_at;
	link_live(ex, r);
	if ((rc = gc__exec_queue(ex, r, err)))
		list_remove(ex, r);
	return rc;
}

GC_EXTERN int gc_exec_start(uint64_t *handle, gc_exec *ex,
			    const gc_exec_request *req, gc_error *err)
{
	const char *shell;
	struct gc__exec_run *r;
	size_t limit;
	int rc;
	if (handle)
		*handle = 0;
	if (!ex || !req)
		return gc__seterr(err, GC_EINVAL, "exec: NULL argument");
	if ((rc = check_request(req, &shell, &limit, err)))
		return rc;
	if (!(r = run_new(req, limit)))
		return gc__seterr(err, GC_ENOMEM, "exec: out of memory");
	if (req->version >= 2 && req->start_at) {
		rc = start_later(ex, req, shell, r, err);
	} else {
		rc = start_now(ex, req, shell, r, err);
		if (!rc)
			link_live(ex, r);
	}
	if (rc) {
		run_free(r);
		return rc;
	}
	if (handle)
		*handle = r->handle;
	return 0;
}

static struct gc__exec_run *find_run(const gc_exec *ex, uint64_t handle)
{
	for (struct gc__exec_run *r = ex->live; r; r = r->next)
		if (r->handle == handle)
			return r;
	return NULL;
}

static void kill_run(gc_exec *ex, struct gc__exec_run *r)
{
	int64_t now = gc__mono_ns();
	if (!r->spawned) {
		/* waiting for its start_at: cancel it (or, when its spawn is
		 * under way, it is terminated as soon as it comes back) */
		if (gc__exec_unqueue(ex, r)) {
			complete_unstarted(ex, r, GC_EXEC_KILLED,
					   GC_RUN_ERR_KILLED);
		} else if (!r->have_reason) {
			r->have_reason = true;
			r->reason = GC_EXEC_KILLED;
		}
		return;
	}
	if (r->exited) {
		/* only stragglers are left: no need to wait the grace */
		if (!r->kill_sent) {
			r->kill_at = now;
			on_deadlines(ex, r, now);
		}
		return;
	}
	if (!r->have_reason) {
		r->have_reason = true;
		r->reason = GC_EXEC_KILLED;
	}
	start_termination(ex, r, now);
}

GC_EXTERN int gc_exec_kill(gc_exec *ex, uint64_t handle)
{
	struct gc__exec_run *r;
	if (!ex || !(r = find_run(ex, handle)))
		return GC_ENOTFOUND;
	kill_run(ex, r);
	return 0;
}

GC_EXTERN size_t gc_exec_kill_all(gc_exec *ex)
{
	size_t n = 0;
	if (!ex)
		return 0;
	for (struct gc__exec_run *r = ex->live, *next; r; r = next) {
		next = r->next; /* kill_run may complete a draining run */
		kill_run(ex, r);
		n++;
	}
	return n;
}

GC_EXTERN size_t gc_exec_running(const gc_exec *ex)
{
	return ex ? ex->nlive + ex->ndone : 0;
}

GC_EXTERN int64_t gc_exec_pid(const gc_exec *ex, uint64_t handle)
{
	/* pid stays 0 until the executor took a spawner's result */
	const struct gc__exec_run *r = ex ? find_run(ex, handle) : NULL;
	if (!r && ex)
		for (r = ex->done_head; r && r->handle != handle; r = r->next)
			;
	return r ? (int64_t)r->pid : -1;
}

/* gc_exec_free: a run a spawner started is killed with the others. */
static void adopt_for_free(gc_exec *ex, struct gc__exec_run *r)
{
	(void)ex;
	if (!r->result.canceled && !r->result.err)
		adopt_process(r);
}

GC_EXTERN void gc_exec_free(gc_exec *ex)
{
	struct gc__exec_run *r;
	if (!ex)
		return;
	gc__exec_pool_stop(ex, adopt_for_free);
	while ((r = ex->live)) {
		if (!r->spawned) {
			/* never started */
		} else if (!r->reaped) {
			kill(-r->pid, SIGKILL);
			while (waitpid(r->pid, NULL, 0) < 0 && errno == EINTR)
				;
		} else if (kill(-r->pid, 0) == 0) {
			kill(-r->pid, SIGKILL);
		}
		close_out(ex, r);
		close_pidfd(ex, r);
		list_remove(ex, r);
		run_free(r);
	}
	while ((r = ex->done_head)) {
		ex->done_head = r->next;
		run_free(r);
	}
	for (size_t i = 0; i < ex->nstrays; i++)
		if (kill(-ex->strays[i].pgid, 0) == 0)
			kill(-ex->strays[i].pgid, SIGKILL);
	free(ex->strays);
	free(ex->scratch);
	close(ex->epfd);
	free(ex);
}

/* ------------------------------------------------------ conveniences */

struct sync_state {
	gc_exec_outcome *out;
	bool done;
};

static void sync_done(gc_exec_outcome *o, void *payload)
{
	struct sync_state *s = payload;
	*s->out = *o;
	o->output = NULL; /* moved */
	s->done = true;
}

GC_EXTERN int gc_exec_run_sync(gc_exec_outcome *out, const gc_exec_request *req,
			       gc_error *err)
{
	gc_exec_options opts = GC_EXEC_OPTIONS_INIT;
	struct sync_state st;
	gc_exec *ex;
	int rc;
	if (!out)
		return gc__seterr(err, GC_EINVAL, "exec: NULL outcome");
	memset(out, 0, sizeof(*out));
	st.out = out;
	st.done = false;
	opts.on_done = sync_done;
	opts.payload = &st;
	if ((rc = gc_exec_new(&ex, &opts, err)))
		return rc;
	if ((rc = gc_exec_start(NULL, ex, req, err)) == 0) {
		while (!st.done) {
			rc = gc_exec_poll(ex, -1, err);
			if (rc < 0)
				break;
			rc = 0;
		}
	}
	gc_exec_free(ex);
	return rc;
}
