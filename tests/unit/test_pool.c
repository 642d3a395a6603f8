/* Unit tests for the agent's worker pool (lib/agent/pool.c) on its own:
 * jobs run on the pool's threads with their thread's context, come back
 * through the notify fd and gc__pool_drain on the owner's thread, dones
 * may submit more, and stopping with jobs queued hands every job back
 * through `done` (cancelled, or run first, as asked). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent/pool.h"
#include "internal.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What the test's threads share. */
typedef struct world {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int gate_open;		     /* gated jobs wait for it */
	int gated_in;		     /* gated jobs that started waiting */
	atomic_int ran;		     /* `run` calls */
	atomic_int ctxs;	     /* contexts made */
	int done_ok, done_cancelled; /* owner thread */
	pthread_t owner;
	int done_off_owner; /* a done ran on another thread */
	int ctx_fail_at;    /* ctx_new fails for this context (1-based) */
} world;

typedef struct tjob {
	gc__pool_job base;
	world *w;
	int gated;
	int resubmit;	/* done submits one more job */
	gc__pool *pool; /* for resubmit */
	void *ran_ctx;	/* the context run was given */
	int ran;
} tjob;

static int ctx_new(void **ctx, void *arg, gc_error *err)
{
	world *w = arg;
	int n = atomic_fetch_add(&w->ctxs, 1) + 1;
	if (n == w->ctx_fail_at)
		return gc__seterr(err, GC_EIO, "context %d refused", n);
	int *c = malloc(sizeof(*c));
	*c = n;
	*ctx = c;
	return 0;
}

static void ctx_free(void *ctx, void *arg)
{
	(void)arg;
	free(ctx);
}

static void job_run(gc__pool_job *job, void *ctx)
{
	tjob *j = (tjob *)job;
	world *w = j->w;
	j->ran_ctx = ctx;
	j->ran = 1;
	atomic_fetch_add(&w->ran, 1);
	if (!j->gated)
		return;
	pthread_mutex_lock(&w->mu);
	w->gated_in++;
	pthread_cond_broadcast(&w->cv);
	while (!w->gate_open)
		pthread_cond_wait(&w->cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
}

static tjob *job_new(world *w, int gated);

static void job_done(gc__pool_job *job)
{
	tjob *j = (tjob *)job;
	world *w = j->w;
	if (!pthread_equal(pthread_self(), w->owner))
		w->done_off_owner = 1;
	if (job->rc == GC_ECANCELED) {
		assert_int_equal(j->ran, 0);
		w->done_cancelled++;
	} else {
		assert_int_equal(job->rc, 0);
		assert_int_equal(j->ran, 1);
		assert_non_null(j->ran_ctx);
		w->done_ok++;
	}
	if (j->resubmit)
		gc__pool_submit(j->pool, &job_new(w, 0)->base);
	free(j);
}

static tjob *job_new(world *w, int gated)
{
	tjob *j = calloc(1, sizeof(*j));
	assert_non_null(j);
	j->w = w;
	j->gated = gated;
	j->base.run = job_run;
	j->base.done = job_done;
	j->base.data = w;
	return j;
}

static void world_init(world *w)
{
	memset(w, 0, sizeof(*w));
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	w->owner = pthread_self();
}

static void world_clear(world *w)
{
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
}

static gc__pool *pool_new(world *w, int threads)
{
	gc__pool_options o = {threads, ctx_new, ctx_free, w, "test pool"};
	gc__pool *p = NULL;
	gc_error err;
	assert_int_equal(gc__pool_new(&p, &o, &err), 0);
	assert_int_equal(atomic_load(&w->ctxs), threads);
	return p;
}

static int fd_readable(int fd, int timeout_ms)
{
	struct pollfd pfd = {fd, POLLIN, 0};
	return poll(&pfd, 1, timeout_ms) == 1 && (pfd.revents & POLLIN);
}

/* Wait on the notify fd and drain until `want` dones have run. */
static void drain_until(gc__pool *p, world *w, int want)
{
	for (int i = 0; i < 1000 && w->done_ok + w->done_cancelled < want;
	     i++) {
		if (fd_readable(gc__pool_fd(p), 5000))
			gc__pool_drain(p);
	}
	assert_int_equal(w->done_ok + w->done_cancelled, want);
}

static void test_submit_and_drain(void **state)
{
	(void)state;
	world w;
	world_init(&w);
	gc__pool *p = pool_new(&w, 3);
	assert_false(fd_readable(gc__pool_fd(p), 0));
	for (int i = 0; i < 200; i++)
		gc__pool_submit(p, &job_new(&w, 0)->base);
	assert_int_equal(gc__pool_pending(p), 200);
	drain_until(p, &w, 200);
	assert_int_equal(w.done_ok, 200);
	assert_int_equal(w.done_cancelled, 0);
	assert_int_equal(atomic_load(&w.ran), 200);
	assert_int_equal(w.done_off_owner, 0);
	assert_int_equal(gc__pool_pending(p), 0);
	/* Everything delivered: the fd is quiet again. */
	assert_false(fd_readable(gc__pool_fd(p), 0));
	gc__pool_free(p);
	world_clear(&w);
}

static void test_done_submits_more(void **state)
{
	(void)state;
	world w;
	world_init(&w);
	gc__pool *p = pool_new(&w, 2);
	for (int i = 0; i < 10; i++) {
		tjob *j = job_new(&w, 0);
		j->resubmit = 1;
		j->pool = p;
		gc__pool_submit(p, &j->base);
	}
	drain_until(p, &w, 20);
	assert_int_equal(w.done_ok, 20);
	assert_int_equal(gc__pool_pending(p), 0);
	gc__pool_free(p);
	world_clear(&w);
}

/* Threads of the stop tests: open the gates once the queue is empty (taken
 * by gc__pool_stop), so that the queued jobs cannot start before it; after
 * 10 s anyway, so that a stop that leaves the queue fails the checks
 * rather than hangs. */
typedef struct opener {
	world *w;
	gc__pool *p;
} opener;

static void *open_when_queue_empty(void *arg)
{
	opener *o = arg;
	for (int i = 0; i < 10000 && gc__pool_queued(o->p) > 0; i++)
		usleep(1000);
	pthread_mutex_lock(&o->w->mu);
	o->w->gate_open = 1;
	pthread_cond_broadcast(&o->w->cv);
	pthread_mutex_unlock(&o->w->mu);
	return NULL;
}

/* Both threads busy on a gated job, `queued` more waiting. */
static gc__pool *busy_pool(world *w, int queued)
{
	gc__pool *p = pool_new(w, 2);
	gc__pool_submit(p, &job_new(w, 1)->base);
	gc__pool_submit(p, &job_new(w, 1)->base);
	pthread_mutex_lock(&w->mu);
	while (w->gated_in < 2)
		pthread_cond_wait(&w->cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
	for (int i = 0; i < queued; i++)
		gc__pool_submit(p, &job_new(w, 0)->base);
	assert_int_equal(gc__pool_queued(p), (size_t)queued);
	return p;
}

static void test_stop_cancels_queued(void **state)
{
	(void)state;
	world w;
	world_init(&w);
	gc__pool *p = busy_pool(&w, 10);
	opener o = {&w, p};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, open_when_queue_empty, &o),
			 0);
	gc__pool_stop(p, true);
	pthread_join(t, NULL);
	/* Every job came back through done before stop returned: the two
	 * running ones finished, the ten queued ones never ran. */
	assert_int_equal(w.done_ok, 2);
	assert_int_equal(w.done_cancelled, 10);
	assert_int_equal(atomic_load(&w.ran), 2);
	assert_int_equal(gc__pool_pending(p), 0);
	/* Submitted after the stop: not run, cancelled at the next drain. */
	gc__pool_submit(p, &job_new(&w, 0)->base);
	assert_true(fd_readable(gc__pool_fd(p), 0));
	gc__pool_drain(p);
	assert_int_equal(w.done_cancelled, 11);
	assert_int_equal(atomic_load(&w.ran), 2);
	assert_int_equal(w.done_off_owner, 0);
	gc__pool_free(p);
	world_clear(&w);
}

static void test_stop_runs_queued(void **state)
{
	(void)state;
	world w;
	world_init(&w);
	gc__pool *p = busy_pool(&w, 10);
	/* Without cancelling, the queue is still worked off: open the gates
	 * from here, the stop then waits for all twelve. */
	pthread_mutex_lock(&w.mu);
	w.gate_open = 1;
	pthread_cond_broadcast(&w.cv);
	pthread_mutex_unlock(&w.mu);
	gc__pool_stop(p, false);
	assert_int_equal(w.done_ok, 12);
	assert_int_equal(w.done_cancelled, 0);
	assert_int_equal(atomic_load(&w.ran), 12);
	gc__pool_stop(p, true); /* idempotent */
	gc__pool_free(p);
	world_clear(&w);
}

static void test_free_with_jobs_pending(void **state)
{
	(void)state;
	world w;
	world_init(&w);
	gc__pool *p = pool_new(&w, 1);
	for (int i = 0; i < 50; i++)
		gc__pool_submit(p, &job_new(&w, 0)->base);
	/* Not drained: free stops, runs the queue and delivers every done. */
	gc__pool_free(p);
	assert_int_equal(w.done_ok, 50);
	world_clear(&w);
}

static void test_context_failure(void **state)
{
	(void)state;
	world w;
	world_init(&w);
	w.ctx_fail_at = 3;
	gc__pool_options o = {4, ctx_new, ctx_free, &w, "test pool"};
	gc__pool *p = (gc__pool *)&w; /* must be reset to NULL */
	gc_error err;
	assert_int_equal(gc__pool_new(&p, &o, &err), GC_EIO);
	assert_null(p);
	assert_string_equal(err.msg, "context 3 refused");
	o.threads = 0;
	assert_int_equal(gc__pool_new(&p, &o, &err), GC_EINVAL);
	assert_non_null(strstr(err.msg, "test pool"));
	world_clear(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_submit_and_drain),
	    cmocka_unit_test(test_done_submits_more),
	    cmocka_unit_test(test_stop_cancels_queued),
	    cmocka_unit_test(test_stop_runs_queued),
	    cmocka_unit_test(test_free_with_jobs_pending),
	    cmocka_unit_test(test_context_failure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
