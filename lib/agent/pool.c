/* A worker pool with a completion eventfd (see pool.h). */
#include "agent/pool.h"

#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

typedef struct pool_thread {
	gc__pool *pool;
	void *ctx;
	pthread_t thread;
	int started;
} pool_thread;

struct gc__pool {
	pthread_mutex_t mu; /* guards the lists, `queued` and `stop` */
	pthread_cond_t cv;  /* a job was queued, or stop */
	gc__pool_job *q_head, *q_tail;	     /* waiting for a thread */
	gc__pool_job *done_head, *done_tail; /* waiting for the drain */
	size_t queued;
	int stop;
	int evfd;
	size_t pending; /* owner thread: submitted, `done` not yet run */
	int stopped;	/* owner thread: gc__pool_stop ran */
	pool_thread *threads;
	int n_threads;
	void (*ctx_free)(void *ctx, void *arg);
	void *ctx_arg;
};

static void notify(gc__pool *p)
{
	uint64_t one = 1;
	ssize_t n;
	do
		n = write(p->evfd, &one, sizeof(one));
	while (n < 0 && errno == EINTR);
	/* EAGAIN: the counter is saturated, the owner wakes anyway. */
}

/* Append to a singly linked list given by head and tail (under mu). */
static void list_append(gc__pool_job **head, gc__pool_job **tail,
			gc__pool_job *job)
{
	job->next = NULL;
	if (*tail)
		(*tail)->next = job;
	else
		*head = job;
	*tail = job;
}

static void complete(gc__pool *p, gc__pool_job *job)
{
	pthread_mutex_lock(&p->mu);
	list_append(&p->done_head, &p->done_tail, job);
	pthread_mutex_unlock(&p->mu);
	notify(p);
}

static void *thread_main(void *arg)
{
	pool_thread *t = arg;
	gc__pool *p = t->pool;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->q_head && !p->stop)
			pthread_cond_wait(&p->cv, &p->mu);
		if (!p->q_head)
			break; /* stopping and nothing left */
		gc__pool_job *job = p->q_head;
		p->q_head = job->next;
		if (!p->q_head)
			p->q_tail = NULL;
		p->queued--;
		pthread_mutex_unlock(&p->mu);
		job->run(job, t->ctx);
		complete(p, job);
		pthread_mutex_lock(&p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* A thread that takes none of the host's signals. */
static int thread_start(pool_thread *t)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int e = pthread_create(&t->thread, NULL, thread_main, t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	t->started = e == 0;
	return e;
}

int gc__pool_new(gc__pool **out, const gc__pool_options *o, gc_error *err)
{
	const char *what = o->what ? o->what : "pool";
	*out = NULL;
	if (o->threads < 1)
		return gc__seterr(err, GC_EINVAL, "%s: no thread", what);
	gc__pool *p = calloc(1, sizeof(*p));
	if (!p)
		return gc__seterr(err, GC_ENOMEM, "%s: out of memory", what);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->ctx_free = o->ctx_free;
	p->ctx_arg = o->ctx_arg;
	p->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	p->threads = calloc((size_t)o->threads, sizeof(*p->threads));
	int rc = 0;
	if (p->evfd < 0)
		rc = gc__seterr_errno(err, GC_ESYS, errno, "%s: eventfd", what);
	else if (!p->threads)
		rc = gc__seterr(err, GC_ENOMEM, "%s: out of memory", what);
	for (int i = 0; !rc && i < o->threads; i++) {
		pool_thread *t = &p->threads[i];
		t->pool = p;
		p->n_threads++;
		if (o->ctx_new && (rc = o->ctx_new(&t->ctx, o->ctx_arg, err)))
			break;
		int e = thread_start(t);
		if (e)
			rc = gc__seterr_errno(err, GC_ESYS, e,
					      "%s: starting a thread", what);
	}
	if (rc) {
		gc__pool_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

static int etcd_ctx_new(void **ctx, void *arg, gc_error *err)
{
	gc_etcd *e = NULL;
	int rc = gc_etcd_new(&e, arg, err);
	*ctx = e;
	return rc;
}

static void etcd_ctx_free(void *ctx, void *arg)
{
	(void)arg;
	gc_etcd_free(ctx);
}

int gc__pool_new_etcd(gc__pool **out, const gc_etcd_options *eo, int threads,
		      gc_error *err)
{
	gc__pool_options o = {threads, etcd_ctx_new, etcd_ctx_free, (void *)eo,
			      "etcd worker"};
	return gc__pool_new(out, &o, err);
}

int gc__pool_fd(const gc__pool *p)
{
	return p->evfd;
}

void gc__pool_submit(gc__pool *p, gc__pool_job *job)
{
	job->rc = 0;
	p->pending++;
	pthread_mutex_lock(&p->mu);
	if (p->stop) {
		job->rc = GC_ECANCELED;
		list_append(&p->done_head, &p->done_tail, job);
		pthread_mutex_unlock(&p->mu);
		notify(p);
		return;
	}
	list_append(&p->q_head, &p->q_tail, job);
	p->queued++;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

void gc__pool_drain(gc__pool *p)
{
	for (;;) {
		uint64_t v;
		while (read(p->evfd, &v, sizeof(v)) > 0)
			;
		pthread_mutex_lock(&p->mu);
		gc__pool_job *list = p->done_head;
		p->done_head = p->done_tail = NULL;
		pthread_mutex_unlock(&p->mu);
		if (!list)
			return;
		while (list) {
			gc__pool_job *next = list->next;
			p->pending--;
			list->done(list);
			list = next;
		}
	}
}

size_t gc__pool_pending(const gc__pool *p)
{
	return p->pending;
}

size_t gc__pool_queued(gc__pool *p)
{
	pthread_mutex_lock(&p->mu);
	size_t n = p->queued;
	pthread_mutex_unlock(&p->mu);
	return n;
}

void gc__pool_stop(gc__pool *p, bool cancel_queued)
{
	if (p->stopped)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	gc__pool_job *cancelled = NULL;
	if (cancel_queued) {
		cancelled = p->q_head;
		p->q_head = p->q_tail = NULL;
		p->queued = 0;
	}
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->n_threads; i++) {
		if (p->threads[i].started)
			pthread_join(p->threads[i].thread, NULL);
		if (p->ctx_free && p->threads[i].ctx)
			p->ctx_free(p->threads[i].ctx, p->ctx_arg);
		p->threads[i].ctx = NULL;
	}
	p->n_threads = 0;
	/* Jobs no thread took (none started, or cancelled): back through
	 * `done`, so that their owners free what they hold. */
	if (!cancelled) {
		cancelled = p->q_head;
		p->q_head = p->q_tail = NULL;
		p->queued = 0;
	}
	while (cancelled) {
		gc__pool_job *next = cancelled->next;
		cancelled->rc = GC_ECANCELED;
		complete(p, cancelled);
		cancelled = next;
	}
	p->stopped = 1;
	gc__pool_drain(p);
}

void gc__pool_free(gc__pool *p)
{
	if (!p)
		return;
	gc__pool_stop(p, false);
	free(p->threads);
	if (p->evfd >= 0)
		close(p->evfd);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p);
}
