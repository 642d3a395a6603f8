/* Agent projects: for every served project, list P/<pid>/ (tasks, their
 * t_status keys and run-now keys), then watch it from the listed revision
 * + 1; the etcd watcher resumes after disconnects from the last revision
 * + 1; after a compaction the project is listed again and the difference
 * applied. Also the kill watch P/kill/<pid>/ and the agent's own command
 * watch P/agent/<ip>/. */
#include "agent/agent_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST_RETRY_MS 1000
#define WATCH_ERROR_RETRY_MS 5000

typedef struct list_job {
	gc__pool_job base;
	gc__project *proj;
	char *prefix;
	char *range_end;
	char *start_key; /* NULL: first page */
	int start_seen;	 /* start_key is the last key of the previous page
			    (applied already), else the first key to read */
	int64_t rev;     /* revision the listing is pinned at (0: latest) */
	int64_t limit;	 /* keys in this page */
	int probe;	 /* keys only: which key is too big to read */
	size_t keys;     /* keys applied so far */
	gc_etcd_response resp;
} list_job;

typedef struct cmd_job {
	gc__pool_job base;
	char *key;
	int64_t mod_rev;
} cmd_job;

static void list_start(gc_agent *a, gc__project *p);

/* ---------------------------------------------------- skipped keys */

/* Remember that `key` at `mod_rev` is not loaded. Returns 1 when that is
 * news (warn about it), 0 when this revision was warned about already. */
static int skip_note(gc__project *p, const char *key, int64_t mod_rev)
{
	for (size_t i = 0; i < p->n_skipped; i++) {
		gc__skipped *s = &p->skipped[i];
		if (strcmp(s->key, key) != 0)
			continue;
		s->gen = p->gen;
		if (s->mod_rev == mod_rev)
			return 0;
		s->mod_rev = mod_rev;
		return 1;
	}
	gc__skipped *v = realloc(p->skipped, (p->n_skipped + 1) * sizeof(*v));
	if (v) {
		p->skipped = v;
		v[p->n_skipped].key = gc__strdup(key);
		v[p->n_skipped].mod_rev = mod_rev;
		v[p->n_skipped].gen = p->gen;
		if (v[p->n_skipped].key)
			p->n_skipped++;
	}
	return 1;
}

static void skip_drop(gc__project *p, size_t i)
{
	free(p->skipped[i].key);
	p->skipped[i] = p->skipped[--p->n_skipped];
}

/* The key was loaded or deleted: a later skip of it is news again. */
static void skip_forget(gc__project *p, const char *key)
{
	for (size_t i = 0; i < p->n_skipped; i++)
		if (strcmp(p->skipped[i].key, key) == 0) {
			skip_drop(p, i);
			return;
		}
}

/* After a listing: keys it did not see are gone. */
static void skip_sweep(gc__project *p)
{
	for (size_t i = p->n_skipped; i-- > 0;)
		if (p->skipped[i].gen != p->gen)
			skip_drop(p, i);
}

static void skip_free(gc__project *p)
{
	while (p->n_skipped)
		skip_drop(p, p->n_skipped - 1);
	free(p->skipped);
	p->skipped = NULL;
}

/* ------------------------------------------------------------ tasks */

void gc__task_free(gc_agent *a, gc__atask *t)
{
	if (!t)
		return;
	gc__croncache_put(&a->crons, t->cron);
	free(t->json);
	free(t);
}

int64_t gc__task_next(gc_agent *a, const gc__atask *t, int64_t now_s)
{
	if (!t->status || !t->cron)
		return GC__SCHED_NEVER;
	int64_t after = gc__tick_after(now_s, t->last_plan,
				       a->opts.late_grace_ms / 1000);
	int64_t next = gc_cron_next(gc__cronref_cron(t->cron), after,
				    a->cron_flags);
	return next > 0 ? next : GC__SCHED_NEVER;
}

static void task_remove(gc_agent *a, const char *key)
{
	void *data = NULL;
	if (gc__sched_remove(&a->sched, key, &data) == 0) {
		gc__alog_msg(&a->log, GC_LOG_DEBUG,
			     "agent: task removed key=%s", key);
		gc__task_free(a, data);
	}
}

static int task_key(char *buf, size_t len, int64_t pid, const char *tid)
{
	int n = snprintf(buf, len, "%lld/%s", (long long)pid, tid);
	return n > 0 && (size_t)n < len ? n : -1;
}

/* A task key that is not loaded (its task, if one ran under that key, is
 * removed): warned about in the log and as a "system" warning report, once
 * per key and revision. */
static void task_skip(gc_agent *a, gc__project *p, const char *etcd_key,
		      int64_t mod_rev, const char *task_id, const char *fmt,
		      ...) GC__PRINTF(6, 7);
static void task_skip(gc_agent *a, gc__project *p, const char *etcd_key,
		      int64_t mod_rev, const char *task_id, const char *fmt,
		      ...)
{
	char key[GC_KEY_PART_MAX + 32], why[512];
	va_list ap;
	if (task_key(key, sizeof(key), p->id, task_id) > 0)
		task_remove(a, key);
	if (!skip_note(p, etcd_key, mod_rev))
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	gc__alog_msg(&a->log, GC_LOG_WARNING,
		     "agent: task key=%s revision=%lld not loaded: %s",
		     etcd_key, (long long)mod_rev, why);
	gc__alog_warning(&a->log, "system", task_id, p->id,
			 "task %s not loaded: %s", task_id, why);
}

/* Add or change a task from its etcd pair. */
static void task_upsert(gc_agent *a, gc__project *p, const gc_etcd_kv *kv,
			const gc_key_info *info)
{
	char key[GC_KEY_PART_MAX + 32];
	int klen = task_key(key, sizeof(key), p->id, info->task_id);
	if (klen < 0)
		return;
	gc__atask *old = gc__sched_get(&a->sched, key, NULL);
	if (old && old->mod_rev == kv->mod_revision) {
		old->gen = p->gen;
		return;
	}

	gc_task t = GC_TASK_INIT;
	gc_error err;
	if (kv->value_len > GC_TASK_MAX_BYTES) {
		task_skip(a, p, kv->key, kv->mod_revision, info->task_id,
			  "its value is %zu bytes, over the %d bytes a task "
			  "may have",
			  kv->value_len, GC_TASK_MAX_BYTES);
		return;
	}
	if (gc_task_from_json(&t, kv->value, kv->value_len, &err)) {
		task_skip(a, p, kv->key, kv->mod_revision, info->task_id, "%s",
			  err.msg);
		return;
	}
	skip_forget(p, kv->key);

	gc__atask *n = calloc(1, sizeof(*n) + (size_t)klen + 1);
	if (!n || kv->value_len > UINT32_MAX) {
		free(n);
		gc_task_clear(&t);
		gc__alog_msg(&a->log, GC_LOG_ERR,
			     "agent: out of memory for task %s", key);
		return;
	}
	memcpy(n->key, key, (size_t)klen + 1);
	n->proj = p;
	n->json = gc__strndup(kv->value, kv->value_len);
	n->json_len = (uint32_t)kv->value_len;
	n->gen = p->gen;
	n->mod_rev = kv->mod_revision;
	n->timeout_s = t.timeout;
	n->status = t.status == 1;
	n->noseize = t.noseize == 1;
	n->exclusion = t.exclusion == 1;
	int64_t now_s = gc__wall_ns() / 1000000000LL;
	/* A new or changed task starts with the current second: ticks
	 * planned before it was (re)loaded are not attempted, and a tick
	 * this agent already attempted is never attempted again. */
	n->last_plan = now_s - 1;
	if (old) {
		n->running = old->running;
		if (old->last_plan > n->last_plan)
			n->last_plan = old->last_plan;
	}
	if (gc__croncache_get(&a->crons, t.cron, &n->cron, &err)) {
		n->cron = NULL;
		gc__alog_msg(&a->log, GC_LOG_WARNING,
			     "agent: task not scheduled key=%s: cron %s",
			     kv->key, err.msg);
		gc__alog_warning(&a->log, "system", t.name, p->id,
				 "task %s (%s): bad cron expression: %s",
				 info->task_id, t.name, err.msg);
	}
	if (!n->json) {
		gc_task_clear(&t);
		gc__task_free(a, n);
		return;
	}
	int64_t due = gc__task_next(a, n, now_s);
	if (gc__sched_set(&a->sched, n->key, due, n)) {
		gc__alog_msg(&a->log, GC_LOG_ERR,
			     "agent: out of memory for task %s", key);
		gc_task_clear(&t);
		gc__task_free(a, n);
		return;
	}
	gc__task_free(a, old);
	if (GC__ALOG_ON(&a->log, GC_LOG_DEBUG))
		gc__alog_msg(&a->log, GC_LOG_DEBUG,
			     "agent: task %s key=%s cron=\"%s\" status=%d "
			     "noseize=%d exclusion=%d next=%lld",
			     old ? "changed" : "added", key, t.cron, n->status,
			     n->noseize, n->exclusion,
			     due == GC__SCHED_NEVER ? -1LL : (long long)due);
	gc_task_clear(&t);
}

typedef struct collect {
	gc__atask **v;
	size_t n, cap;
	gc__project *proj;
	uint32_t keep_gen;
	int by_gen;
	int failed;
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
		if (!v) {
			c->failed = 1;
			return false;
		}
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n++] = t;
	return true;
}

/* Remove the project's tasks (all of them, or those not seen in the
 * listing of generation `keep_gen`). */
static void tasks_sweep(gc_agent *a, gc__project *p, int by_gen,
			uint32_t keep_gen)
{
	collect c = {NULL, 0, 0, p, keep_gen, by_gen, 0};
	gc__sched_foreach(&a->sched, collect_visit, &c);
	for (size_t i = 0; i < c.n; i++) {
		gc__atask *t = c.v[i];
		gc__sched_remove(&a->sched, t->key, NULL);
		gc__task_free(a, t);
	}
	if (c.n)
		gc__alog_msg(&a->log, GC_LOG_DEBUG,
			     "agent: %zu task(s) of project %lld removed", c.n,
			     (long long)p->id);
	free(c.v);
}

/* -------------------------------------------------------- key events */

static void apply_pair(gc_agent *a, gc__project *p, const gc_etcd_kv *kv,
		       int deleted, int from_listing)
{
	gc_key_info info;
	switch (gc_key_parse(a->prefix, kv->key, kv->key_len, &info)) {
	case GC_KEY_TASK:
		if (info.project_id != p->id)
			return;
		if (deleted) {
			char key[GC_KEY_PART_MAX + 32];
			skip_forget(p, kv->key);
			if (task_key(key, sizeof(key), p->id, info.task_id) > 0)
				task_remove(a, key);
		} else {
			task_upsert(a, p, kv, &info);
		}
		return;
	case GC_KEY_RUN_NOW:
		/* A run-now key found by a listing may be one this agent
		 * already handled; the claim per (task, request revision)
		 * makes a second attempt harmless. */
		if (!deleted && info.project_id == p->id &&
		    a->state == GC__AGENT_RUNNING)
			gc__run_now(a, p, kv);
		(void)from_listing;
		return;
	default:
		return; /* t_status and anything else: nothing to do */
	}
}

static void project_events(gc_etcd_watch *watch, const gc_etcd_event *ev,
			   size_t count, int64_t revision, void *payload)
{
	(void)watch;
	(void)revision;
	gc__project *p = payload;
	gc_agent *a = p->agent;
	for (size_t i = 0; i < count; i++)
		apply_pair(a, p, &ev[i].kv, ev[i].type == GC_ETCD_EVENT_DELETE,
			   0);
}

static void project_compacted(gc_etcd_watch *watch, int64_t compact_rev,
			      void *payload)
{
	(void)watch;
	gc__project *p = payload;
	gc__alog_msg(&p->agent->log, GC_LOG_WARNING,
		     "agent: watch of project %lld compacted at %lld; "
		     "listing again",
		     (long long)p->id, (long long)compact_rev);
	p->state = GC__PROJ_RELISTING;
	list_start(p->agent, p);
}

static void project_watch_error(gc_etcd_watch *watch, int code,
				const char *msg, void *payload)
{
	(void)watch;
	gc__project *p = payload;
	GC__STAT(&p->agent->stats, etcd_errors, 1);
	gc__alog_msg(&p->agent->log, GC_LOG_ERR,
		     "agent: watch of project %lld stopped (%s: %s); "
		     "retrying in %d s",
		     (long long)p->id, gc_strerror(code), msg,
		     WATCH_ERROR_RETRY_MS / 1000);
	p->state = GC__PROJ_RELISTING;
	p->list_retry_at_ms = gc__mono_ms() + WATCH_ERROR_RETRY_MS;
}

static void kill_events(gc_etcd_watch *watch, const gc_etcd_event *ev,
			size_t count, int64_t revision, void *payload)
{
	(void)watch;
	(void)revision;
	gc__project *p = payload;
	for (size_t i = 0; i < count; i++) {
		gc_key_info info;
		if (ev[i].type != GC_ETCD_EVENT_PUT ||
		    gc_key_parse(p->agent->prefix, ev[i].kv.key,
				 ev[i].kv.key_len, &info) != GC_KEY_KILL ||
		    info.project_id != p->id)
			continue;
		gc__kill_task(p->agent, p->id, info.task_id);
	}
}

static void kill_compacted(gc_etcd_watch *watch, int64_t compact_rev,
			   void *payload)
{
	gc__project *p = payload;
	gc_error err;
	/* Kill requests lost to the compaction are moot by now. */
	if (gc_etcd_watch_resume(watch, compact_rev + 1, &err))
		gc__alog_msg(&p->agent->log, GC_LOG_ERR,
			     "agent: kill watch of project %lld: %s",
			     (long long)p->id, err.msg);
}

static void kill_error(gc_etcd_watch *watch, int code, const char *msg,
		       void *payload)
{
	(void)watch;
	gc__project *p = payload;
	GC__STAT(&p->agent->stats, etcd_errors, 1);
	gc__alog_msg(&p->agent->log, GC_LOG_ERR,
		     "agent: kill watch of project %lld stopped (%s: %s)",
		     (long long)p->id, gc_strerror(code), msg);
	p->list_retry_at_ms = gc__mono_ms() + WATCH_ERROR_RETRY_MS;
}

/* ---------------------------------------------------------- listing */

/* A project is listed in pages of LIST_PAGE keys, all read at the
 * revision of the first page, so 100,000 tasks never need one giant
 * response; the watch then starts right after that revision. A page
 * larger than the client reads (GC__AGENT_ETCD_MAX_RESPONSE) is read
 * again LIST_SHRINK times smaller, down to the one key that is too big:
 * that key alone is skipped (found with a keys-only read), and the pages
 * grow back. */
#define LIST_PAGE 1000
#define LIST_SHRINK 8

static void list_run(gc__pool_job *job, void *etcd)
{
	list_job *j = (list_job *)job;
	gc_etcd_get_options o = GC_ETCD_GET_OPTIONS_INIT;
	o.range_end = j->range_end;
	o.limit = j->limit;
	o.revision = j->rev;
	if (j->probe)
		o.flags |= GC_ETCD_KEYS_ONLY;
	o.sort_target = GC_ETCD_SORT_KEY;
	o.sort_order = GC_ETCD_SORT_ASCEND;
	job->rc =
	    gc_etcd_get(&j->resp, etcd, j->start_key ? j->start_key : j->prefix,
			&o, &job->err);
}

/* Resume a stopped watch from `from`, or add it when there is none. */
static int watch_ensure(gc_agent *a, gc_etcd_watch **watch, const char *prefix,
			int64_t from, gc_etcd_watch_events_fn on_events,
			gc_etcd_watch_compacted_fn on_compacted,
			gc_etcd_watch_error_fn on_error, gc__project *p,
			gc_error *err)
{
	if (*watch)
		return gc_etcd_watch_active(*watch)
			       ? 0
			       : gc_etcd_watch_resume(*watch, from, err);
	gc_etcd_watch_options o = GC_ETCD_WATCH_OPTIONS_INIT;
	o.flags = GC_ETCD_PREFIX;
	o.start_revision = from;
	o.on_events = on_events;
	o.on_compacted = on_compacted;
	o.on_error = on_error;
	o.payload = p;
	return gc_etcd_watch_add(watch, a->watcher, prefix, &o, err);
}

static int watches_start(gc_agent *a, gc__project *p, int64_t from,
			 gc_error *err)
{
	int rc = watch_ensure(a, &p->watch, p->prefix, from, project_events,
			      project_compacted, project_watch_error, p, err);
	if (rc)
		return rc;
	return watch_ensure(a, &p->kill_watch, p->kill_prefix, from,
			    kill_events, kill_compacted, kill_error, p, err);
}

static void list_job_free(list_job *j)
{
	gc_etcd_response_dispose(&j->resp);
	free(j->prefix);
	free(j->range_end);
	free(j->start_key);
	free(j);
}

static void list_submit(gc_agent *a, gc__project *p, int64_t rev,
			const char *start_key, int start_seen, int64_t limit,
			int probe);

static void list_finish(gc_agent *a, gc__project *p, int64_t rev,
			size_t keys)
{
	tasks_sweep(a, p, 1, p->gen);
	skip_sweep(p);
	p->listed_rev = rev;
	gc_error err;
	if (watches_start(a, p, rev + 1, &err)) {
		gc__alog_msg(&a->log, GC_LOG_ERR,
			     "agent: cannot watch project %lld: %s",
			     (long long)p->id, err.msg);
		p->list_retry_at_ms = gc__mono_ms() + LIST_RETRY_MS;
		return;
	}
	p->state = GC__PROJ_WATCHING;
	p->list_retry_at_ms = 0;
	gc__alog_msg(&a->log, GC_LOG_INFO,
		     "agent: project %lld loaded keys=%zu revision=%lld "
		     "tasks=%zu",
		     (long long)p->id, keys, (long long)rev,
		     gc__sched_count(&a->sched));
}

/* Is kv the start key a page repeats from the previous page? */
static int seen_before(const list_job *j, const gc_etcd_kv *kv)
{
	return j->start_key && j->start_seen &&
	       strcmp(kv->key, j->start_key) == 0;
}

/* A keys-only probe found the key too big to read: skip it, go on after
 * it with full pages. */
static void list_skip_big(gc_agent *a, gc__project *p, list_job *j)
{
	const gc_etcd_kv *big = NULL;
	gc_key_info info;
	char *after;
	for (size_t i = 0; i < j->resp.kvs_count && !big; i++)
		if (!seen_before(j, &j->resp.kvs[i]))
			big = &j->resp.kvs[i];
	if (!big) { /* nothing there after all */
		list_finish(a, p, j->rev, j->keys);
		return;
	}
	if (gc_key_parse(a->prefix, big->key, big->key_len, &info) ==
		GC_KEY_TASK &&
	    info.project_id == p->id) {
		task_skip(a, p, big->key, big->mod_revision, info.task_id,
			  "its value is larger than the %zu bytes the agent "
			  "reads in one etcd answer (a task may have %d)",
			  GC__AGENT_ETCD_MAX_RESPONSE, GC_TASK_MAX_BYTES);
	} else if (skip_note(p, big->key, big->mod_revision)) {
		gc__alog_msg(&a->log, GC_LOG_WARNING,
			     "agent: key=%s revision=%lld ignored: its value "
			     "is larger than the %zu bytes the agent reads "
			     "in one etcd answer",
			     big->key, (long long)big->mod_revision,
			     GC__AGENT_ETCD_MAX_RESPONSE);
	}
	j->keys++;
	p->list_keys = j->keys;
	/* The next key after it: no key of ours holds a NUL byte, so
	 * big + "\x01" is where the rest starts. */
	after = gc__sprintf("%s\x01", big->key);
	if (!after) {
		p->list_retry_at_ms = gc__mono_ms() + LIST_RETRY_MS;
		return;
	}
	list_submit(a, p, j->rev, after, 0, LIST_PAGE, 0);
	free(after);
}

static void list_done(gc__pool_job *job)
{
	gc_agent *a = job->data;
	list_job *j = (list_job *)job;
	gc__project *p = j->proj;
	if (job->rc == 0 && !p->removed) {
		if (!j->start_key) {
			/* First page: a new listing generation, pinned at
			 * this revision. */
			p->gen++;
			j->rev = j->resp.revision;
			j->keys = 0;
		}
		if (j->probe) {
			list_skip_big(a, p, j);
			goto out;
		}
		int more = j->resp.more && j->resp.kvs_count;
		size_t page = 0;
		for (size_t i = 0; i < j->resp.kvs_count; i++)
			page += !seen_before(j, &j->resp.kvs[i]);
		if (more) {
			/* Fetch the next page while this one is applied;
			 * pages cut short by a big key grow back. */
			int64_t next =
			    j->limit < LIST_PAGE / 2 ? j->limit * 2 : LIST_PAGE;
			p->list_keys = j->keys + page;
			list_submit(a, p, j->rev,
				    j->resp.kvs[j->resp.kvs_count - 1].key, 1,
				    next < 2 ? 2 : next, 0);
		}
		for (size_t i = 0; i < j->resp.kvs_count; i++) {
			const gc_etcd_kv *kv = &j->resp.kvs[i];
			if (seen_before(j, kv))
				continue; /* the previous page's last key */
			apply_pair(a, p, kv, 0, 1);
		}
		j->keys += page;
		if (!more)
			list_finish(a, p, j->rev, j->keys);
	} else if (job->rc == GC_ETOOBIG && !j->probe && !p->removed) {
		/* A value in this page is bigger than the client reads:
		 * smaller pages, down to that key alone, which is skipped. A
		 * page after a seen key needs 2 (that key and the next). */
		int64_t least = j->start_seen ? 2 : 1;
		if (j->limit > least)
			list_submit(a, p, j->rev, j->start_key, j->start_seen,
				    j->limit / LIST_SHRINK > least
					? j->limit / LIST_SHRINK
					: least,
				    0);
		else
			list_submit(a, p, j->rev, j->start_key, j->start_seen,
				    least, 1);
	} else if (job->rc == GC_ECOMPACTED && j->start_key && !p->removed) {
		/* The pinned revision went away mid-listing: start over. */
		list_submit(a, p, 0, NULL, 0, LIST_PAGE, 0);
	} else if (job->rc && job->rc != GC_ECANCELED && !p->removed) {
		GC__STAT(&a->stats, etcd_errors, 1);
		gc__alog_msg(&a->log, GC_LOG_WARNING,
			     "agent: listing project %lld failed, retrying: %s",
			     (long long)p->id, job->err.msg);
		p->list_retry_at_ms = gc__mono_ms() + LIST_RETRY_MS;
	}
out:
	list_job_free(j);
	gc__project_unref(a, p);
}

static void list_submit(gc_agent *a, gc__project *p, int64_t rev,
			const char *start_key, int start_seen, int64_t limit,
			int probe)
{
	list_job *j = calloc(1, sizeof(*j));
	size_t end_len;
	if (j) {
		j->prefix = gc__strdup(p->prefix);
		j->start_key = start_key ? gc__strdup(start_key) : NULL;
		if (gc_etcd_prefix_end(&j->range_end, &end_len, p->prefix,
				       strlen(p->prefix)))
			j->range_end = NULL;
	}
	if (!j || !j->prefix || !j->range_end || (start_key && !j->start_key)) {
		if (j)
			list_job_free(j);
		p->list_retry_at_ms = gc__mono_ms() + LIST_RETRY_MS;
		return;
	}
	j->base.run = list_run;
	j->base.done = list_done;
	j->proj = p;
	j->rev = rev;
	j->start_seen = start_seen;
	j->limit = limit;
	j->probe = probe;
	j->keys = start_key ? p->list_keys : 0;
	p->refs++;
	p->list_retry_at_ms = 0;
	gc__agent_submit(a, &j->base);
}

static void list_start(gc_agent *a, gc__project *p)
{
	list_submit(a, p, 0, NULL, 0, LIST_PAGE, 0);
}

void gc__projects_tick(gc_agent *a, int64_t now_ms)
{
	for (gc__project *p = a->projects; p; p = p->next)
		if (!p->removed && p->list_retry_at_ms &&
		    now_ms >= p->list_retry_at_ms)
			list_start(a, p);
}

/* --------------------------------------------------- project set-up */

static void project_free(gc__project *p)
{
	skip_free(p);
	free(p->prefix);
	free(p->kill_prefix);
	free(p->register_key);
	free(p);
}

void gc__project_unref(gc_agent *a, gc__project *p)
{
	if (--p->refs > 0 || !p->removed)
		return;
	for (gc__project **pp = &a->projects; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	project_free(p);
}

static gc__project *project_new(gc_agent *a, int64_t id)
{
	gc__project *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->agent = a;
	p->id = id;
	p->refs = 1; /* the project list's own reference */
	p->prefix = gc_key_project_prefix(a->prefix, id);
	p->kill_prefix = gc_key_kill_prefix(a->prefix, id);
	p->register_key = gc_key_register(a->prefix, id, a->client_ip);
	if (!p->prefix || !p->kill_prefix || !p->register_key) {
		project_free(p);
		return NULL;
	}
	return p;
}

static void project_remove(gc_agent *a, gc__project *p)
{
	p->removed = 1;
	gc_etcd_watch_cancel(p->watch);
	gc_etcd_watch_cancel(p->kill_watch);
	p->watch = p->kill_watch = NULL;
	tasks_sweep(a, p, 0, 0);
	if (p->registered)
		gc__session_unregister(a, p);
	gc__alog_msg(&a->log, GC_LOG_INFO,
		     "agent: project %lld no longer served", (long long)p->id);
	gc__project_unref(a, p);
}

static int wanted(const gc_agent *a, int64_t id)
{
	for (size_t i = 0; i < a->n_want; i++)
		if (a->want_projects[i] == id)
			return 1;
	return 0;
}

int gc__projects_apply(gc_agent *a)
{
	/* Removed first: project_remove may free the node. */
	for (gc__project *p = a->projects, *next; p; p = next) {
		next = p->next;
		if (!p->removed && !wanted(a, p->id))
			project_remove(a, p);
	}
	int rc = 0;
	for (size_t i = 0; i < a->n_want; i++) {
		int64_t id = a->want_projects[i];
		int have = 0;
		for (gc__project *p = a->projects; p; p = p->next)
			if (!p->removed && p->id == id)
				have = 1;
		if (have)
			continue;
		gc__project *p = project_new(a, id);
		if (!p) {
			rc = GC_ENOMEM;
			continue;
		}
		p->next = a->projects;
		a->projects = p;
		gc__alog_msg(&a->log, GC_LOG_INFO,
			     "agent: serving project %lld", (long long)id);
		list_start(a, p);
		gc__session_register(a, p);
	}
	size_t n = 0;
	for (gc__project *p = a->projects; p; p = p->next)
		n += !p->removed;
	GC__STAT_SET(&a->stats, projects, n);
	return rc;
}

static bool free_visit(const char *key, int64_t due, void *data, void *arg)
{
	(void)key;
	(void)due;
	gc__task_free(arg, data);
	return true;
}

void gc__projects_free(gc_agent *a)
{
	gc__project *p = a->projects;
	while (p) {
		gc__project *next = p->next;
		gc_etcd_watch_cancel(p->watch);
		gc_etcd_watch_cancel(p->kill_watch);
		project_free(p);
		p = next;
	}
	a->projects = NULL;
	gc__sched_foreach(&a->sched, free_visit, a);
	gc__sched_clear(&a->sched);
	gc__croncache_clear(&a->crons);
}

/* ------------------------------------------------- command watch */

static void cmd_delete_run(gc__pool_job *job, void *etcd)
{
	cmd_job *j = (cmd_job *)job;
	job->rc = gc__etcd_delete_if(etcd, j->key, GC_ETCD_CMP_MOD, j->mod_rev,
				     &job->err);
}

static void cmd_delete_done(gc__pool_job *job)
{
	gc_agent *a = job->data;
	cmd_job *j = (cmd_job *)job;
	if (job->rc && job->rc != GC_ECANCELED)
		gc__alog_msg(&a->log, GC_LOG_WARNING,
			     "agent: could not delete command key %s: %s",
			     j->key, job->err.msg);
	free(j->key);
	free(j);
}

static void cmd_events(gc_etcd_watch *watch, const gc_etcd_event *ev,
		       size_t count, int64_t revision, void *payload)
{
	(void)watch;
	(void)revision;
	gc_agent *a = payload;
	for (size_t i = 0; i < count; i++) {
		gc_key_info info;
		if (ev[i].type != GC_ETCD_EVENT_PUT ||
		    gc_key_parse(a->prefix, ev[i].kv.key, ev[i].kv.key_len,
				 &info) != GC_KEY_AGENT_CMD ||
		    strcmp(info.ip, a->client_ip) != 0)
			continue;
		if (strcmp(info.command, "reload_config") == 0) {
			gc__alog_msg(&a->log, GC_LOG_INFO,
				     "agent: reload_config received");
			atomic_store(&a->reload_requested, 1);
		} else {
			gc__alog_msg(&a->log, GC_LOG_WARNING,
				     "agent: unknown command \"%s\" ignored",
				     info.command);
		}
		/* Consume the command so it is not seen again. */
		cmd_job *j = calloc(1, sizeof(*j));
		if (j && (j->key = gc__strdup(ev[i].kv.key)) != NULL) {
			j->base.run = cmd_delete_run;
			j->base.done = cmd_delete_done;
			j->mod_rev = ev[i].kv.mod_revision;
			gc__agent_submit(a, &j->base);
		} else {
			free(j);
		}
	}
}

static void cmd_compacted(gc_etcd_watch *watch, int64_t compact_rev,
			  void *payload)
{
	gc_agent *a = payload;
	gc_error err;
	if (gc_etcd_watch_resume(watch, compact_rev + 1, &err))
		gc__alog_msg(&a->log, GC_LOG_ERR, "agent: command watch: %s",
			     err.msg);
}

static void cmd_error(gc_etcd_watch *watch, int code, const char *msg,
		      void *payload)
{
	(void)watch;
	gc_agent *a = payload;
	GC__STAT(&a->stats, etcd_errors, 1);
	gc__alog_msg(&a->log, GC_LOG_ERR,
		     "agent: command watch stopped (%s: %s)", gc_strerror(code),
		     msg);
}

int gc__cmd_watch_start(gc_agent *a, gc_error *err)
{
	char *prefix = gc_key_agent_prefix(a->prefix, a->client_ip);
	if (!prefix)
		return gc__seterr(err, GC_EINVAL,
				  "agent: client_ip \"%s\" cannot form a key",
				  a->client_ip);
	gc_etcd_watch_options o = GC_ETCD_WATCH_OPTIONS_INIT;
	o.flags = GC_ETCD_PREFIX;
	o.on_events = cmd_events;
	o.on_compacted = cmd_compacted;
	o.on_error = cmd_error;
	o.payload = a;
	int rc = gc_etcd_watch_add(&a->cmd_watch, a->watcher, prefix, &o, err);
	free(prefix);
	return rc;
}
