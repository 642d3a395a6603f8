/* Process creation for the executor: the environment, posix_spawn of
 * `shell -c command` into a new session with the output pipe, and the
 * spawner threads that start prepared runs at their start_at (see
 * include/gophercron/exec.h). */
#include "exec_internal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* A spawner takes a run this long before its start_at off the queue and
 * sleeps the rest with clock_nanosleep (precise, but not interruptible
 * when an earlier run arrives: another spawner takes that one). */
#define SPAWN_AHEAD_NS (2 * GC__EXEC_MS)

/* -------------------------------------------------------- environment */

/* Is `name=...` (or exactly `name` up to '=') overridden by our list? */
static bool env_overridden(const char *entry, char *const *ours, size_t n)
{
	const char *eq = strchr(entry, '=');
	size_t len = eq ? (size_t)(eq - entry) : strlen(entry);
	for (size_t i = 0; i < n; i++)
		if (strncmp(ours[i], entry, len) == 0 && ours[i][len] == '=')
			return true;
	return false;
}

void gc__exec_env_free(struct gc__exec_env *e)
{
	gc__strv_free(e->ours, e->nours);
	gc__strv_free(e->copies, e->ncopies);
	free(e->envp);
	memset(e, 0, sizeof(*e));
}

static int env_add(struct gc__exec_env *e, char *s)
{
	if (!s)
		return GC_ENOMEM;
	e->ours[e->nours++] = s;
	return 0;
}

/* The GOPHERCRON_* variables naming the run. */
static int env_add_run(struct gc__exec_env *e, const gc_exec_request *req)
{
	int rc = 0;
	if (!rc && req->project_id)
		rc = env_add(e, gc__sprintf("GOPHERCRON_PROJECT_ID=%" PRId64,
					    req->project_id));
	if (!rc && req->task_id)
		rc = env_add(
		    e, gc__sprintf("GOPHERCRON_TASK_ID=%s", req->task_id));
	if (!rc && req->task_name)
		rc = env_add(
		    e, gc__sprintf("GOPHERCRON_TASK_NAME=%s", req->task_name));
	if (!rc && req->plan_unix)
		rc = env_add(e, gc__sprintf("GOPHERCRON_PLAN_TIME=%" PRId64,
					    req->plan_unix));
	if (!rc && req->agent_ip)
		rc = env_add(
		    e, gc__sprintf("GOPHERCRON_AGENT_IP=%s", req->agent_ip));
	if (!rc && req->run_id)
		rc = env_add(e,
			     gc__sprintf("GOPHERCRON_RUN_ID=%s", req->run_id));
	if (!rc && req->fencing_token)
		rc = env_add(e, gc__sprintf("GOPHERCRON_FENCING_TOKEN=%s",
					    req->fencing_token));
	return rc;
}

/* envp: the inherited entries not overridden (or copies of them), then
 * ours. */
static int env_assemble(struct gc__exec_env *e, size_t ninh, bool deep)
{
	size_t k = 0;
	if (!(e->envp = calloc(ninh + e->nours + 1, sizeof(char *))))
		return GC_ENOMEM;
	if (deep && ninh && !(e->copies = calloc(ninh, sizeof(char *))))
		return GC_ENOMEM;
	for (size_t i = 0; i < ninh; i++) {
		char *v = environ[i];
		if (env_overridden(v, e->ours, e->nours))
			continue;
		if (deep && !(v = e->copies[e->ncopies++] = gc__strdup(v)))
			return GC_ENOMEM;
		e->envp[k++] = v;
	}
	for (size_t i = 0; i < e->nours; i++)
		e->envp[k++] = e->ours[i];
	e->envp[k] = NULL;
	return 0;
}

int gc__exec_env_build(const gc_exec_request *req, bool deep,
		       struct gc__exec_env *e, gc_error *err)
{
	size_t nextra = 0, ninh = 0;
	int rc = 0;
	memset(e, 0, sizeof(*e));
	if (req->env)
		while (req->env[nextra])
			nextra++;
	if (environ)
		while (environ[ninh])
			ninh++;
	if (!(e->ours = calloc(nextra + 8, sizeof(char *))))
		return gc__seterr(err, GC_ENOMEM, "exec: out of memory");
	for (size_t i = 0; !rc && i < nextra; i++) {
		if (!strchr(req->env[i], '=') || req->env[i][0] == '=') {
			gc__exec_env_free(e);
			return gc__seterr(
			    err, GC_EINVAL,
			    "exec: environment entry \"%.60s\" is "
			    "not NAME=value",
			    req->env[i]);
		}
		rc = env_add(e, gc__strdup(req->env[i]));
	}
	if (!rc)
		rc = env_add_run(e, req);
	if (!rc)
		rc = env_assemble(e, ninh, deep);
	if (rc) {
		gc__exec_env_free(e);
		return gc__seterr(err, GC_ENOMEM, "exec: out of memory");
	}
	return 0;
}

void gc__exec_prep_free(struct gc__exec_prep *p)
{
	if (!p)
		return;
	free(p->shell);
	free(p->command);
	free(p->workdir);
	gc__exec_env_free(&p->env);
	free(p);
}

/* ------------------------------------------------------------- spawn */

void gc__exec_go_errstr(int e, char *buf, size_t size)
{
	snprintf(buf, size, "%s", strerror(e));
	if (buf[0])
		buf[0] = (char)tolower((unsigned char)buf[0]);
}

/* Keep our pipe ends off 0-2 so the child's dup2/open of 0,1,2 cannot
 * clobber them when the host runs with a standard fd closed. */
static int fd_above_stdio(int fd)
{
	int nfd;
	if (fd > 2)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	return nfd;
}

/* posix_spawn into a new session, signals reset, stdin /dev/null, stdout
 * and stderr the pipe's write end, nothing else inherited. 0, an errno
 * value, or -1 when the attributes could not be allocated. */
static int spawn_shell(const char *shell, const char *command,
		       const char *workdir, int wfd, char *const *envp,
		       pid_t *pid)
{
	posix_spawnattr_t attr;
	posix_spawn_file_actions_t fa;
	sigset_t none, all;
	char *argv[4];
	int rc;
	argv[0] = (char *)shell;
	argv[1] = (char *)"-c";
	argv[2] = (char *)command;
	argv[3] = NULL;
	sigemptyset(&none);
	sigfillset(&all);
	if (posix_spawnattr_init(&attr))
		return -1;
	if (posix_spawn_file_actions_init(&fa)) {
		posix_spawnattr_destroy(&attr);
		return -1;
	}
	rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID |
						 POSIX_SPAWN_SETSIGMASK |
						 POSIX_SPAWN_SETSIGDEF);
	rc = rc ? rc : posix_spawnattr_setsigmask(&attr, &none);
	rc = rc ? rc : posix_spawnattr_setsigdefault(&attr, &all);
	rc = rc ? rc
		: posix_spawn_file_actions_addopen(&fa, 0, "/dev/null",
						   O_RDONLY, 0);
	/* dup2 clears close-on-exec on 1 and 2 only: the pipe ends of other
	 * runs being spawned at the same time stay close-on-exec */
	rc = rc ? rc : posix_spawn_file_actions_adddup2(&fa, wfd, 1);
	rc = rc ? rc : posix_spawn_file_actions_adddup2(&fa, wfd, 2);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 34)
	/* descriptors a host or another library opened without O_CLOEXEC
	 * must not reach tasks either */
	rc = rc ? rc : posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
	if (!rc && workdir)
		rc = posix_spawn_file_actions_addchdir_np(&fa, workdir);
	if (!rc)
		rc = posix_spawn(pid, shell, &fa, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return rc;
}

void gc__exec_spawn(const char *shell, const char *command, const char *workdir,
		    char *const *envp, struct gc__exec_spawned *res)
{
	int p[2], rc;
	res->outfd = -1;
	res->pid = 0;
	res->err = 0;
	if (pipe2(p, O_CLOEXEC) < 0) {
		res->err = errno;
		res->stage = GC__SPAWN_PIPE;
		return;
	}
	p[0] = fd_above_stdio(p[0]);
	p[1] = fd_above_stdio(p[1]);
	if (p[0] < 0 || p[1] < 0) {
		res->err = errno;
		res->stage = GC__SPAWN_FCNTL;
		if (p[0] >= 0)
			close(p[0]);
		if (p[1] >= 0)
			close(p[1]);
		return;
	}
	res->start_ns = gc__wall_ns();
	res->start_mono_ns = gc__mono_ns();
	rc = spawn_shell(shell, command, workdir, p[1], envp, &res->pid);
	close(p[1]);
	if (rc) {
		close(p[0]);
		res->pid = 0;
		res->err = rc < 0 ? ENOMEM : rc;
		res->stage = rc < 0 ? GC__SPAWN_NOMEM : GC__SPAWN_SPAWN;
		return;
	}
	fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
	res->outfd = p[0];
}

int gc__exec_spawn_error(const struct gc__exec_spawned *res, const char *shell,
			 gc_error *err)
{
	char ebuf[128];
	switch (res->stage) {
	case GC__SPAWN_PIPE:
		return gc__seterr_errno(err, GC_ESYS, res->err, "exec: pipe2");
	case GC__SPAWN_FCNTL:
		return gc__seterr_errno(err, GC_ESYS, res->err, "exec: fcntl");
	case GC__SPAWN_NOMEM:
		return gc__seterr(err, GC_ENOMEM, "exec: out of memory");
	default:
		gc__exec_go_errstr(res->err, ebuf, sizeof(ebuf));
		return gc__seterr(err, GC_ESYS, "fork/exec %s: %s", shell,
				  ebuf);
	}
}

int gc__exec_shell_check(const char *shell, gc_error *err)
{
	struct gc__exec_spawned res;
	struct stat sb;
	/* a relative path is resolved in the run's workdir at exec time */
	if (shell[0] != '/')
		return 0;
	memset(&res, 0, sizeof(res));
	res.stage = GC__SPAWN_SPAWN;
	if (stat(shell, &sb) < 0)
		res.err = errno;
	else if (!S_ISREG(sb.st_mode))
		res.err = EACCES;
	else if (faccessat(AT_FDCWD, shell, X_OK, AT_EACCESS) < 0)
		res.err = errno;
	return res.err ? gc__exec_spawn_error(&res, shell, err) : 0;
}

/* --------------------------------------------------------------- heap */

static bool heap_less(const struct gc__exec_run *a,
		      const struct gc__exec_run *b)
{
	return a->start_at < b->start_at ||
	       (a->start_at == b->start_at && a->seq < b->seq);
}

static void heap_set(gc_exec *ex, size_t i, struct gc__exec_run *r)
{
	ex->heap[i] = r;
	r->heap_idx = i;
}

static void heap_up(gc_exec *ex, size_t i)
{
	struct gc__exec_run *r = ex->heap[i];
	while (i > 0 && heap_less(r, ex->heap[(i - 1) / 2])) {
		heap_set(ex, i, ex->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_set(ex, i, r);
}

static void heap_down(gc_exec *ex, size_t i)
{
	struct gc__exec_run *r = ex->heap[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= ex->heap_len)
			break;
		if (c + 1 < ex->heap_len &&
		    heap_less(ex->heap[c + 1], ex->heap[c]))
			c++;
		if (!heap_less(ex->heap[c], r))
			break;
		heap_set(ex, i, ex->heap[c]);
		i = c;
	}
	heap_set(ex, i, r);
}

static int heap_push(gc_exec *ex, struct gc__exec_run *r)
{
	if (ex->heap_len == ex->heap_cap) {
		size_t cap = ex->heap_cap ? ex->heap_cap * 2 : 64;
		struct gc__exec_run **h = realloc(ex->heap, cap * sizeof(*h));
		if (!h)
			return GC_ENOMEM;
		ex->heap = h;
		ex->heap_cap = cap;
	}
	ex->heap[ex->heap_len++] = r;
	heap_up(ex, ex->heap_len - 1);
	return 0;
}

static void heap_remove(gc_exec *ex, size_t i)
{
	struct gc__exec_run *last = ex->heap[--ex->heap_len];
	if (i == ex->heap_len)
		return;
	heap_set(ex, i, last);
	heap_down(ex, i);
	if (last->heap_idx == i) /* did not move down: maybe up */
		heap_up(ex, i);
}

/* ------------------------------------------------------------ spawners */

static void mono_timespec(int64_t ns, struct timespec *ts)
{
	ts->tv_sec = (time_t)(ns / 1000000000);
	ts->tv_nsec = (long)(ns % 1000000000);
}

/* Sleep until the run's start_at, then spawn it (unless it was killed in
 * the meantime). */
static void spawn_at_start(struct gc__exec_run *r)
{
	struct timespec ts;
	if (r->start_at > gc__mono_ns()) {
		mono_timespec(r->start_at, &ts);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts,
				       NULL) == EINTR)
			;
	}
	if (atomic_load(&r->cancel)) {
		r->result.canceled = true;
		return;
	}
	gc__exec_spawn(r->prep->shell, r->prep->command, r->prep->workdir,
		       r->prep->env.envp, &r->result);
}

/* The earliest waiting run if it is due within `ahead_ns`, taken off the
 * heap (qlock held). */
static struct gc__exec_run *take_due(gc_exec *ex, int64_t now, int64_t ahead_ns)
{
	struct gc__exec_run *r;
	if (!ex->heap_len || ex->heap[0]->start_at - ahead_ns > now)
		return NULL;
	r = ex->heap[0];
	heap_remove(ex, 0);
	r->qstate = GC__Q_SPAWNING;
	return r;
}

static void post_result(gc_exec *ex, struct gc__exec_run *r)
{
	uint64_t one = 1;
	pthread_mutex_lock(&ex->qlock);
	r->qstate = GC__Q_DONE;
	r->rnext = NULL;
	if (ex->results_tail)
		ex->results_tail->rnext = r;
	else
		ex->results_head = r;
	ex->results_tail = r;
	pthread_mutex_unlock(&ex->qlock);
	/* an eventfd write fails only when the counter would overflow, and
	 * then it is set anyway */
	if (write(ex->evfd, &one, sizeof(one)) < 0) {
		/* nothing to do */
	}
}

static void *spawner_main(void *arg)
{
	gc_exec *ex = arg;
	pthread_mutex_lock(&ex->qlock);
	while (!ex->stop) {
		struct gc__exec_run *r;
		struct timespec ts;
		if (!ex->heap_len) {
			pthread_cond_wait(&ex->qcond, &ex->qlock);
			continue;
		}
		if (!(r = take_due(ex, gc__mono_ns(), SPAWN_AHEAD_NS))) {
			mono_timespec(ex->heap[0]->start_at - SPAWN_AHEAD_NS,
				      &ts);
			pthread_cond_timedwait(&ex->qcond, &ex->qlock, &ts);
			continue;
		}
		/* another spawner may take the next one meanwhile */
		if (ex->heap_len)
			pthread_cond_signal(&ex->qcond);
		pthread_mutex_unlock(&ex->qlock);
		spawn_at_start(r);
		post_result(ex, r);
		pthread_mutex_lock(&ex->qlock);
	}
	pthread_mutex_unlock(&ex->qlock);
	return NULL;
}

/* Lock, condition and eventfd, then the threads (with every signal
 * blocked: the host's handlers run on its own threads). */
static int pool_init(gc_exec *ex, gc_error *err)
{
	pthread_condattr_t ca;
	struct epoll_event ev;
	sigset_t all, old;
	ex->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ex->evfd < 0)
		return gc__seterr_errno(err, GC_ESYS, errno, "exec: eventfd");
	ex->w_ev.run = NULL;
	ex->w_ev.kind = GC__W_SPAWNED;
	ev.events = EPOLLIN;
	ev.data.ptr = &ex->w_ev;
	if (epoll_ctl(ex->epfd, EPOLL_CTL_ADD, ex->evfd, &ev) < 0) {
		int e = errno;
		close(ex->evfd);
		ex->evfd = -1;
		return gc__seterr_errno(err, GC_ESYS, e, "exec: epoll_ctl");
	}
	pthread_mutex_init(&ex->qlock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ex->qcond, &ca);
	pthread_condattr_destroy(&ca);
	ex->q_ready = true;
	if (ex->spawn_threads <= 0 ||
	    !(ex->threads =
		  calloc((size_t)ex->spawn_threads, sizeof(pthread_t))))
		return 0;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (int i = 0; i < ex->spawn_threads; i++) {
		int e = pthread_create(&ex->threads[ex->nthreads], NULL,
				       spawner_main, ex);
		if (e) {
			gc__log(ex->opts.log, ex->opts.log_payload,
				GC_LOG_WARNING,
				"exec: spawner thread %d of %d: %s", i + 1,
				ex->spawn_threads, strerror(e));
			break;
		}
		ex->nthreads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return 0;
}

int gc__exec_queue(gc_exec *ex, struct gc__exec_run *r, gc_error *err)
{
	int rc;
	bool first;
	if (!ex->q_ready && (rc = pool_init(ex, err)))
		return rc;
	r->seq = ex->seq++;
	pthread_mutex_lock(&ex->qlock);
	rc = heap_push(ex, r);
	if (!rc)
		r->qstate = GC__Q_WAITING;
	first = !rc && ex->heap[0] == r;
	pthread_mutex_unlock(&ex->qlock);
	if (rc)
		return gc__seterr(err, GC_ENOMEM, "exec: out of memory");
	/* the earliest changed: a waiting spawner must look again */
	if (first)
		pthread_cond_signal(&ex->qcond);
	ex->nqueued++;
	return 0;
}

bool gc__exec_unqueue(gc_exec *ex, struct gc__exec_run *r)
{
	bool taken = false;
	pthread_mutex_lock(&ex->qlock);
	if (r->qstate == GC__Q_WAITING) {
		heap_remove(ex, r->heap_idx);
		r->qstate = GC__Q_NONE;
		taken = true;
	} else {
		atomic_store(&r->cancel, true);
	}
	pthread_mutex_unlock(&ex->qlock);
	if (taken)
		ex->nqueued--;
	return taken;
}

int64_t gc__exec_next_start(gc_exec *ex)
{
	/* inline mode only: no other thread touches the heap */
	if (!ex->q_ready || ex->nthreads || !ex->heap_len)
		return INT64_MAX;
	return ex->heap[0]->start_at;
}

/* Detach the results list (qlock). */
static struct gc__exec_run *take_results(gc_exec *ex)
{
	struct gc__exec_run *list;
	pthread_mutex_lock(&ex->qlock);
	list = ex->results_head;
	ex->results_head = ex->results_tail = NULL;
	for (struct gc__exec_run *r = list; r; r = r->rnext)
		r->qstate = GC__Q_NONE;
	pthread_mutex_unlock(&ex->qlock);
	return list;
}

static void hand_over(gc_exec *ex, struct gc__exec_run *list,
		      void (*on_result)(gc_exec *, struct gc__exec_run *))
{
	while (list) {
		struct gc__exec_run *r = list;
		list = r->rnext;
		r->rnext = NULL;
		ex->nqueued--;
		on_result(ex, r);
	}
}

void gc__exec_collect(gc_exec *ex,
		      void (*on_result)(gc_exec *, struct gc__exec_run *))
{
	uint64_t v;
	if (!ex->q_ready)
		return;
	if (!ex->nthreads) { /* inline: spawn what is due on this thread */
		struct gc__exec_run *r;
		while ((r = take_due(ex, gc__mono_ns(), 0))) {
			r->qstate = GC__Q_NONE;
			spawn_at_start(r);
			ex->nqueued--;
			on_result(ex, r);
		}
		return;
	}
	/* read the counter before the list: a result posted after the
	 * read sets it again */
	if (read(ex->evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		gc__log(ex->opts.log, ex->opts.log_payload, GC_LOG_WARNING,
			"exec: reading the spawn eventfd: %s", strerror(errno));
	hand_over(ex, take_results(ex), on_result);
}

void gc__exec_pool_stop(gc_exec *ex,
			void (*on_result)(gc_exec *, struct gc__exec_run *))
{
	if (!ex->q_ready)
		return;
	pthread_mutex_lock(&ex->qlock);
	ex->stop = true;
	pthread_cond_broadcast(&ex->qcond);
	pthread_mutex_unlock(&ex->qlock);
	for (int i = 0; i < ex->nthreads; i++)
		pthread_join(ex->threads[i], NULL);
	free(ex->threads);
	ex->threads = NULL;
	ex->nthreads = 0;
	hand_over(ex, take_results(ex), on_result);
	for (size_t i = 0; i < ex->heap_len; i++)
		ex->heap[i]->qstate = GC__Q_NONE;
	ex->heap_len = 0;
	free(ex->heap);
	ex->heap = NULL;
	pthread_cond_destroy(&ex->qcond);
	pthread_mutex_destroy(&ex->qlock);
	epoll_ctl(ex->epfd, EPOLL_CTL_DEL, ex->evfd, NULL);
	close(ex->evfd);
	ex->evfd = -1;
	ex->q_ready = false;
}
