/* The task table (see gc__tasks in agent_internal.h): every task of the
 * served projects in the scheduler, keyed "<pid>/<tid>", by the next tick
 * to attempt (timing.h has the rules), with parsed cron expressions shared
 * through the cron cache. Agent thread. */
#include "agent/agent_internal.h"

#include <stdlib.h>
#include <string.h>

void gc__tasks_init(gc__tasks *ts, int64_t grace_ms, unsigned cron_flags)
{
	memset(ts, 0, sizeof(*ts));
	gc__sched_init(&ts->sched);
	ts->grace_ms = grace_ms;
	ts->cron_flags = cron_flags;
}

static void task_free(gc__tasks *ts, gc__atask *t)
{
	if (!t)
		return;
	gc__croncache_put(&ts->crons, t->cron);
	free(t->json);
	free(t);
}

static bool free_visit(const char *key, int64_t due, void *data, void *arg)
{
	(void)key;
	(void)due;
	task_free(arg, data);
	return true;
}

void gc__tasks_clear(gc__tasks *ts)
{
	gc__sched_foreach(&ts->sched, free_visit, ts);
	gc__sched_clear(&ts->sched);
	gc__croncache_clear(&ts->crons);
}

gc__atask *gc__tasks_get(gc__tasks *ts, const char *key)
{
	return key ? gc__sched_get(&ts->sched, key, NULL) : NULL;
}

/* Next tick to attempt after `now_s` (GC__SCHED_NEVER: none). */
static int64_t task_next(const gc__tasks *ts, const gc__atask *t, int64_t now_s)
{
	if (!t->status || !t->cron)
		return GC__SCHED_NEVER;
	int64_t after =
	    gc__tick_after(now_s, t->last_plan, ts->grace_ms / 1000);
	int64_t next =
	    gc_cron_next(gc__cronref_cron(t->cron), after, ts->cron_flags);
	return next > 0 ? next : GC__SCHED_NEVER;
}

gc__atask *gc__tasks_make(gc__tasks *ts, const char *key, gc__project *p,
			  const gc_etcd_kv *kv, const gc_task *t,
			  gc_error *cron_err)
{
	size_t klen = strlen(key);
	if (kv->value_len > UINT32_MAX)
		return NULL;
	gc__atask *n = calloc(1, sizeof(*n) + klen + 1);
	if (!n)
		return NULL;
	memcpy(n->key, key, klen + 1);
	n->proj = p;
	n->json = gc__strndup(kv->value, kv->value_len);
	n->json_len = (uint32_t)kv->value_len;
	n->gen = p->gen;
	n->mod_rev = kv->mod_revision;
	n->timeout_s = t->timeout;
	n->status = t->status == 1;
	n->noseize = t->noseize == 1;
	n->exclusion = t->exclusion == 1;
	cron_err->msg[0] = '\0';
	if (gc__croncache_get(&ts->crons, t->cron, &n->cron, cron_err))
		n->cron = NULL;
	if (!n->json) {
		task_free(ts, n);
		return NULL;
	}
	return n;
}

int gc__tasks_put(gc__tasks *ts, gc__atask *n, gc__atask *old, int64_t now_ns,
		  int64_t *due)
{
	/* A new or changed task starts after the instant it was (re)loaded:
	 * ticks planned before it (a task created at :01.88 has no :01
	 * tick) are not attempted, and a tick this agent already attempted
	 * is never attempted again. */
	int64_t now_s = now_ns / 1000000000LL;
	n->last_plan = gc__tick_floor(now_ns);
	if (old) {
		n->running = old->running;
		if (old->last_plan > n->last_plan)
			n->last_plan = old->last_plan;
	}
	*due = task_next(ts, n, now_s);
	if (gc__sched_set(&ts->sched, n->key, *due, n)) {
		task_free(ts, n);
		return GC_ENOMEM;
	}
	task_free(ts, old);
	return 0;
}

int gc__tasks_remove(gc__tasks *ts, const char *key)
{
	void *data = NULL;
	if (gc__sched_remove(&ts->sched, key, &data))
		return 0;
	task_free(ts, data);
	return 1;
}

typedef struct collect {
	gc__atask **v;
	size_t n, cap;
	gc__project *proj;
	uint32_t keep_gen;
	int by_gen;
} collect;

static bool collect_visit(const char *key, int64_t due, void *data, void *arg)
{
	(void)key;
	(void)due;
	collect *c = arg;
	gc__atask *t = data;
	if (t->proj != c->proj || (c->by_gen && t->gen == c->keep_gen))
		return true;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		gc__atask **v = realloc(c->v, cap * sizeof(*v));
		if (!v)
			return false;
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n++] = t;
	return true;
}

size_t gc__tasks_sweep(gc__tasks *ts, gc__project *p, int by_gen,
		       uint32_t keep_gen)
{
	collect c = {NULL, 0, 0, p, keep_gen, by_gen};
	gc__sched_foreach(&ts->sched, collect_visit, &c);
	for (size_t i = 0; i < c.n; i++) {
		gc__atask *t = c.v[i];
		gc__sched_remove(&ts->sched, t->key, NULL);
		task_free(ts, t);
	}
	free(c.v);
	return c.n;
}

typedef struct recompute_ctx {
	const gc__tasks *ts;
	int64_t now_s;
	int64_t floor; /* last_plan raised to it (0: none) */
} recompute_ctx;

static int64_t recompute_due(const char *key, void *data, void *arg)
{
	(void)key;
	const recompute_ctx *ctx = arg;
	gc__atask *t = data;
	if (t->last_plan < ctx->floor)
		t->last_plan = ctx->floor;
	return task_next(ctx->ts, t, ctx->now_s);
}

void gc__tasks_recompute(gc__tasks *ts, int64_t now_ns, int from_now)
{
	recompute_ctx ctx = {ts, now_ns / 1000000000LL,
			     from_now ? gc__tick_floor(now_ns) : 0};
	gc__sched_recompute(&ts->sched, recompute_due, &ctx);
}

gc__atask *gc__tasks_due(gc__tasks *ts, int64_t now_ns, int64_t *due_s)
{
	void *data;
	if (!gc__sched_peek(&ts->sched, due_s, NULL, &data) ||
	    *due_s * 1000000000LL > now_ns)
		return NULL;
	return data;
}

void gc__tasks_advance(gc__tasks *ts, gc__atask *t, int64_t plan_s,
		       int64_t now_s)
{
	t->last_plan = plan_s;
	gc__sched_reschedule(&ts->sched, t->key, task_next(ts, t, now_s));
}

size_t gc__tasks_count(const gc__tasks *ts)
{
	return gc__sched_count(&ts->sched);
}

size_t gc__tasks_scheduled(const gc__tasks *ts)
{
	return gc__sched_scheduled(&ts->sched);
}

int64_t gc__tasks_first_due(const gc__tasks *ts)
{
	int64_t due;
	return gc__sched_peek(&ts->sched, &due, NULL, NULL) ? due
							    : GC__SCHED_NEVER;
}
