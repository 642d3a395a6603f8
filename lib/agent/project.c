/* Agent projects: for every served project, list P/<pid>/ (tasks, their
 * t_status keys and run-now keys) through its listing (list.c), then watch
 * it from the listed revision + 1; the etcd watcher resumes after
 * disconnects from the last revision + 1; after a compaction the project
 * is listed again and the difference applied. Also the kill watch
 * P/kill/<pid>/ and the node registration P/register/<pid>/<ip>, written
 * under the session lease.
 *
 * Reads and writes: the projects part, the task table (through task.c);
 * hands run-now requests to claim.c and kill requests to run.c. */
#include "agent/agent_internal.h"

#include "job/job_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST_RETRY_MS	     1000
#define WATCH_ERROR_RETRY_MS 5000
#define REGISTER_RETRY_MS    1000

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

static int task_key(char *buf, size_t len, int64_t pid, const char *tid)
{
	int n = snprintf(buf, len, "%lld/%s", (long long)pid, tid);
	return n > 0 && (size_t)n < len ? n : -1;
}

static void task_remove(gc_agent *a, const char *key)
{
	if (gc__tasks_remove(&a->tasks, key))
		gc__alog_msg(&a->log, GC_LOG_DEBUG,
			     "agent: task removed key=%s", key);
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

/* Decode a task pair: 0, or 1 when it is not loaded (skipped). */
static int task_decode(gc_agent *a, gc__project *p, const gc_etcd_kv *kv,
		       const gc_key_info *info, gc_task *t)
{
	gc_error err;
	if (kv->value_len > GC_TASK_MAX_BYTES) {
		task_skip(a, p, kv->key, kv->mod_revision, info->task_id,
			  "its value is %zu bytes, over the %d bytes a task "
			  "may have",
			  kv->value_len, GC_TASK_MAX_BYTES);
		return 1;
	}
	if (gc_task_from_json(t, kv->value, kv->value_len, &err)) {
		task_skip(a, p, kv->key, kv->mod_revision, info->task_id, "%s",
			  err.msg);
		return 1;
	}
	skip_forget(p, kv->key);
	return 0;
}

/* Add or change a task from its etcd pair. */
static void task_upsert(gc_agent *a, gc__project *p, const gc_etcd_kv *kv,
			const gc_key_info *info)
{
	char key[GC_KEY_PART_MAX + 32];
	if (task_key(key, sizeof(key), p->id, info->task_id) < 0)
		return;
	gc__atask *old = gc__tasks_get(&a->tasks, key);
	if (old && old->mod_rev == kv->mod_revision) {
		old->gen = p->gen;
		return;
	}
	gc_task t = GC_TASK_INIT;
	gc_error cron_err;
	if (task_decode(a, p, kv, info, &t))
		return;
	gc__atask *n = gc__tasks_make(&a->tasks, key, p, kv, &t, &cron_err);
	if (n && !n->cron) {
		gc__alog_msg(&a->log, GC_LOG_WARNING,
			     "agent: task not scheduled key=%s: cron %s",
			     kv->key, cron_err.msg);
		gc__alog_warning(&a->log, "system", t.name, p->id,
				 "task %s (%s): bad cron expression: %s",
				 info->task_id, t.name, cron_err.msg);
	}
	int64_t due = 0;
	if (!n || gc__tasks_put(&a->tasks, n, old, gc__atime_now_ns(&a->time),
				&due)) {
		gc__alog_msg(&a->log, GC_LOG_ERR,
			     "agent: out of memory for task %s", key);
		gc_task_clear(&t);
		return;
	}
	if (GC__ALOG_ON(&a->log, GC_LOG_DEBUG))
		gc__alog_msg(&a->log, GC_LOG_DEBUG,
			     "agent: task %s key=%s cron=\"%s\" status=%d "
			     "noseize=%d exclusion=%d next=%lld",
			     old ? "changed" : "added", key, t.cron, n->status,
			     n->noseize, n->exclusion,
			     due == GC__SCHED_NEVER ? -1LL : (long long)due);
	gc_task_clear(&t);
}

static void tasks_sweep(gc_agent *a, gc__project *p, int by_gen,
			uint32_t keep_gen)
{
	size_t n = gc__tasks_sweep(&a->tasks, p, by_gen, keep_gen);
	if (n)
		gc__alog_msg(&a->log, GC_LOG_DEBUG,
			     "agent: %zu task(s) of project %lld removed", n,
			     (long long)p->id);
}

/* -------------------------------------------------------- key events */

static void apply_pair(gc_agent *a, gc__project *p, const gc_etcd_kv *kv,
		       int deleted)
{
	gc_key_info info;
	switch (gc_key_parse(a->conf.prefix, kv->key, kv->key_len, &info)) {
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
			gc__claims_run_now(a, p->id, kv);
		return;
	default:
		return; /* t_status and anything else: nothing to do */
	}
}

/* ------------------------------------------------------------ watches */

static void project_events(gc_etcd_watch *watch, const gc_etcd_event *ev,
			   size_t count, int64_t revision, void *payload)
{
	(void)watch;
	(void)revision;
	gc__project *p = payload;
	gc_agent *a = p->agent;
	for (size_t i = 0; i < count; i++)
		apply_pair(a, p, &ev[i].kv, ev[i].type == GC_ETCD_EVENT_DELETE);
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
	gc__listing_start(p->listing);
}

static void project_watch_error(gc_etcd_watch *watch, int code, const char *msg,
				void *payload)
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
	gc__listing_start_at(p->listing, gc__mono_ms() + WATCH_ERROR_RETRY_MS);
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
		    gc_key_parse(p->agent->conf.prefix, ev[i].kv.key,
				 ev[i].kv.key_len, &info) != GC_KEY_KILL ||
		    info.project_id != p->id)
			continue;
		gc__runs_kill(p->agent, p->id, info.task_id);
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
	gc__listing_start_at(p->listing, gc__mono_ms() + WATCH_ERROR_RETRY_MS);
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
	return gc_etcd_watch_add(watch, a->etcd.watcher, prefix, &o, err);
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

/* ---------------------------------------------------------- listing */

static void list_begin(int64_t rev, void *payload)
{
	(void)rev;
	gc__project *p = payload;
	p->gen++; /* a new listing generation, for the sweep at its end */
}

static void list_pair(const gc_etcd_kv *kv, void *payload)
{
	gc__project *p = payload;
	apply_pair(p->agent, p, kv, 0);
}

static void list_too_big(const gc_etcd_kv *big, void *payload)
{
	gc__project *p = payload;
	gc_agent *a = p->agent;
	gc_key_info info;
	if (gc_key_parse(a->conf.prefix, big->key, big->key_len, &info) ==
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
}

static void list_done(int64_t rev, size_t keys, void *payload)
{
	gc__project *p = payload;
	gc_agent *a = p->agent;
	tasks_sweep(a, p, 1, p->gen);
	skip_sweep(p);
	p->listed_rev = rev;
	gc_error err;
	if (watches_start(a, p, rev + 1, &err)) {
		gc__alog_msg(&a->log, GC_LOG_ERR,
			     "agent: cannot watch project %lld: %s",
			     (long long)p->id, err.msg);
		gc__listing_start_at(p->listing, gc__mono_ms() + LIST_RETRY_MS);
		return;
	}
	p->state = GC__PROJ_WATCHING;
	gc__alog_msg(&a->log, GC_LOG_INFO,
		     "agent: project %lld loaded keys=%zu revision=%lld "
		     "tasks=%zu",
		     (long long)p->id, keys, (long long)rev,
		     gc__tasks_count(&a->tasks));
}

/* A page failed: the listing reads it again (it does not start over). */
static void list_error(int code, const char *msg, void *payload)
{
	gc__project *p = payload;
	const gc__listpace *pace = gc__listing_pace(p->listing);
	GC__STAT(&p->agent->stats, etcd_errors, 1);
	if (code == GC_ETIMEDOUT)
		gc__alog_msg(&p->agent->log, GC_LOG_WARNING,
			     "agent: listing project %lld: a page timed out "
			     "(%s); reading it again with %lld keys within "
			     "%d ms",
			     (long long)p->id, msg, (long long)pace->limit,
			     pace->timeout_ms);
	else
		gc__alog_msg(&p->agent->log, GC_LOG_WARNING,
			     "agent: listing project %lld: a page failed, "
			     "reading it again shortly: %s",
			     (long long)p->id, msg);
}

static const gc__listing_cbs list_cbs = {list_begin, list_pair, list_too_big,
					 list_done, list_error};

/* ----------------------------------------------------- registration */

typedef struct reg_job {
	gc__pool_job base;
	gc__project *proj;
	uint64_t gen; /* clock generation of the value */
	int rewrite;  /* the key is written: this updates its clock fields */
	int64_t lease;
	char *key;
	char *value;
} reg_job;

static void reg_job_free(reg_job *j)
{
	free(j->key);
	free(j->value);
	free(j);
}

/* Registered: the session lease is held and every project's key is
 * written under it. */
static void registered_stat(gc_agent *a)
{
	int all = gc__leases_session(&a->leases) != 0;
	for (gc__project *p = a->projects.list; p; p = p->next)
		if (!p->removed && p->registered != 1)
			all = 0;
	GC__STAT_SET(&a->stats, registered, all);
}

static void register_run(gc__pool_job *job, void *etcd)
{
	reg_job *j = (reg_job *)job;
	job->rc = gc_etcd_put(NULL, etcd, j->key, j->value, strlen(j->value),
			      j->lease, 0, &job->err);
}

static void project_unref(gc_agent *a, gc__project *p);

/* A rewrite (the clock fields changed) came back. */
static void rewrite_done(gc_agent *a, gc__project *p, reg_job *j, int64_t lease)
{
	p->rewriting = 0;
	if (j->base.rc == 0 && j->lease == lease) {
		p->reg_gen = j->gen;
	} else if (j->base.rc == GC_ENOTFOUND && j->lease == lease) {
		gc__session_lost(a, "etcd no longer knows it");
	} else if (j->base.rc && j->base.rc != GC_ECANCELED) {
		GC__STAT(&a->stats, etcd_errors, 1);
		p->reg_retry_at_ms = gc__mono_ms() + REGISTER_RETRY_MS;
	}
}

static void register_done(gc__pool_job *job)
{
	gc_agent *a = job->data;
	reg_job *j = (reg_job *)job;
	gc__project *p = j->proj;
	int64_t lease = gc__leases_session(&a->leases);
	if (j->rewrite) {
		rewrite_done(a, p, j, lease);
		reg_job_free(j);
		project_unref(a, p);
		return;
	}
	p->registered = 0;
	if (job->rc == 0 && j->lease == lease && !p->removed) {
		p->registered = 1;
		p->reg_gen = j->gen;
		gc__alog_msg(&a->log, GC_LOG_INFO,
			     "agent: registered project=%lld key=%s",
			     (long long)p->id, j->key);
	} else if (job->rc == GC_ENOTFOUND && j->lease == lease) {
		gc__session_lost(a, "etcd no longer knows it");
	} else if (job->rc && job->rc != GC_ECANCELED) {
		GC__STAT(&a->stats, etcd_errors, 1);
		p->reg_retry_at_ms = gc__mono_ms() + REGISTER_RETRY_MS;
		gc__alog_msg(&a->log, GC_LOG_WARNING,
			     "agent: registration failed project=%lld: %s",
			     (long long)p->id, job->err.msg);
	}
	registered_stat(a);
	reg_job_free(j);
	project_unref(a, p);
}

/* The registration value: GopherCron 1.10's client_ip and version, and
 * the clock fields (1.10 readers ignore them; design in README "Cluster
 * time"). *gen: the clock generation it says. NULL: out of memory. */
static char *register_value(gc_agent *a, uint64_t *gen)
{
	gc__clock_estimate e;
	*gen = gc__atime_clock(&a->time, &e);
	int ok = gc__clock_usable(&e);
	const char *why = ok ? "" : e.reason;
	char num[96];
	gc__buf v = GC__BUF_INIT;
	snprintf(num, sizeof(num),
		 ",\"clock_offset_ms\":%.3f,\"clock_error_ms\":%.3f,"
		 "\"clock_ok\":%s,\"clock_reason\":",
		 e.state == GC__CLOCK_UNKNOWN ? 0.0 : e.offset_ns / 1e6,
		 e.state == GC__CLOCK_UNKNOWN ? 0.0 : e.error_ns / 1e6,
		 ok ? "true" : "false");
	if (gc__buf_puts(&v, "{\"client_ip\":") ||
	    gc__json_gostr(&v, a->conf.client_ip, strlen(a->conf.client_ip)) ||
	    gc__buf_puts(&v, ",\"version\":\"v" GC_VERSION_STRING "\"") ||
	    gc__buf_puts(&v, num) || gc__json_gostr(&v, why, strlen(why)) ||
	    gc__buf_puts(&v, "}")) {
		gc__buf_free(&v);
		return NULL;
	}
	return gc__buf_detach(&v);
}

/* Write the registration key; `rewrite`: it is written, the clock fields
 * changed. */
static void register_submit(gc_agent *a, gc__project *p, int rewrite)
{
	int64_t lease = gc__leases_session(&a->leases);
	if (!lease ||
	    (rewrite ? p->registered != 1 || p->rewriting : p->registered != 0))
		return;
	reg_job *j = calloc(1, sizeof(*j));
	if (!j)
		return;
	j->key = gc__strdup(p->register_key);
	j->value = register_value(a, &j->gen);
	if (!j->key || !j->value) {
		reg_job_free(j);
		return;
	}
	j->base.run = register_run;
	j->base.done = register_done;
	j->lease = lease;
	j->proj = p;
	j->rewrite = rewrite;
	p->refs++;
	if (rewrite)
		p->rewriting = 1;
	else
		p->registered = -1; /* in flight */
	gc__agent_submit(a, &j->base);
}

static void unregister_done(gc__pool_job *job)
{
	gc_agent *a = job->data;
	gc__delete_job *j = (gc__delete_job *)job;
	if (job->rc && job->rc != GC_ECANCELED)
		gc__alog_msg(&a->log, GC_LOG_WARNING,
			     "agent: removing registration %s failed "
			     "(it expires with the session lease): %s",
			     j->key, job->err.msg);
	gc__project *p = j->owner;
	gc__delete_job_free(j);
	project_unref(a, p);
}

/* Delete our registration only while it still carries our lease. */
static void unregister_submit(gc_agent *a, gc__project *p)
{
	int64_t lease = gc__leases_session(&a->leases);
	if (!lease)
		return;
	gc__delete_job *j = gc__delete_job_new(
	    p->register_key, GC_ETCD_CMP_LEASE, lease, unregister_done);
	if (!j)
		return;
	j->owner = p;
	p->refs++;
	p->registered = 0;
	gc__agent_submit(a, &j->base);
}

void gc__projects_session(gc_agent *a, int granted)
{
	for (gc__project *p = a->projects.list; p; p = p->next) {
		p->registered = 0;
		if (granted && !p->removed)
			register_submit(a, p, 0);
	}
	registered_stat(a);
}

/* --------------------------------------------------- project set-up */

static void project_free(gc__project *p)
{
	skip_free(p);
	gc__listing_free(p->listing);
	free(p->prefix);
	free(p->kill_prefix);
	free(p->register_key);
	free(p);
}

static void project_unref(gc_agent *a, gc__project *p)
{
	if (--p->refs > 0 || !p->removed)
		return;
	for (gc__project **pp = &a->projects.list; *pp; pp = &(*pp)->next) {
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
	p->prefix = gc_key_project_prefix(a->conf.prefix, id);
	p->kill_prefix = gc_key_kill_prefix(a->conf.prefix, id);
	p->register_key =
	    gc_key_register(a->conf.prefix, id, a->conf.client_ip);
	if (p->prefix)
		p->listing =
		    gc__listing_new(a->etcd.pool, p->prefix, &list_cbs, p);
	if (!p->prefix || !p->kill_prefix || !p->register_key || !p->listing) {
		project_free(p);
		return NULL;
	}
	return p;
}

static void project_remove(gc_agent *a, gc__project *p)
{
	p->removed = 1;
	gc__listing_free(p->listing);
	p->listing = NULL;
	gc_etcd_watch_cancel(p->watch);
	gc_etcd_watch_cancel(p->kill_watch);
	p->watch = p->kill_watch = NULL;
	tasks_sweep(a, p, 0, 0);
	if (p->registered)
		unregister_submit(a, p);
	gc__alog_msg(&a->log, GC_LOG_INFO,
		     "agent: project %lld no longer served", (long long)p->id);
	project_unref(a, p);
}

static int wanted(const gc_agent *a, int64_t id)
{
	for (size_t i = 0; i < a->projects.n_want; i++)
		if (a->projects.want[i] == id)
			return 1;
	return 0;
}

static int served(const gc_agent *a, int64_t id)
{
	for (const gc__project *p = a->projects.list; p; p = p->next)
		if (!p->removed && p->id == id)
			return 1;
	return 0;
}

int gc__projects_apply(gc_agent *a)
{
	/* Removed first: project_remove may free the node. */
	for (gc__project *p = a->projects.list, *next; p; p = next) {
		next = p->next;
		if (!p->removed && !wanted(a, p->id))
			project_remove(a, p);
	}
	int rc = 0;
	for (size_t i = 0; i < a->projects.n_want; i++) {
		int64_t id = a->projects.want[i];
		if (served(a, id))
			continue;
		gc__project *p = project_new(a, id);
		if (!p) {
			rc = GC_ENOMEM;
			continue;
		}
		p->next = a->projects.list;
		a->projects.list = p;
		gc__alog_msg(&a->log, GC_LOG_INFO,
			     "agent: serving project %lld", (long long)id);
		gc__listing_start(p->listing);
		register_submit(a, p, 0);
	}
	size_t n = 0;
	for (gc__project *p = a->projects.list; p; p = p->next)
		n += !p->removed;
	GC__STAT_SET(&a->stats, projects, n);
	return rc;
}

void gc__projects_tick(gc_agent *a, int64_t now_ms)
{
	gc__clock_estimate e;
	uint64_t gen = gc__atime_clock(&a->time, &e);
	for (gc__project *p = a->projects.list; p; p = p->next) {
		if (p->removed)
			continue;
		if (a->state == GC__AGENT_RUNNING)
			gc__listing_tick(p->listing, now_ms);
		if (a->state >= GC__AGENT_CLOSING ||
		    now_ms < p->reg_retry_at_ms)
			continue;
		if (!p->registered)
			register_submit(a, p, 0);
		else if (p->registered == 1 && p->reg_gen != gen)
			register_submit(a, p, 1);
	}
}

int gc__projects_timeout_ms(gc_agent *a, int64_t now_ms)
{
	int t = -1;
	int64_t lease = gc__leases_session(&a->leases);
	for (gc__project *p = a->projects.list; p; p = p->next) {
		if (p->removed)
			continue;
		t = gc__ms_min(
		    t, gc__ms_until(gc__listing_next_at(p->listing), now_ms));
		if (!p->registered && lease)
			t = gc__ms_min(t, gc__ms_until(p->reg_retry_at_ms
							   ? p->reg_retry_at_ms
							   : now_ms,
						       now_ms));
	}
	return t;
}

size_t gc__projects_loaded(gc_agent *a)
{
	size_t loaded = 0;
	for (gc__project *p = a->projects.list; p; p = p->next)
		loaded += !p->removed && p->listed_rev > 0;
	return loaded;
}

void gc__projects_unwatch(gc_agent *a)
{
	for (gc__project *p = a->projects.list; p; p = p->next) {
		gc_etcd_watch_cancel(p->watch);
		gc_etcd_watch_cancel(p->kill_watch);
		p->watch = p->kill_watch = NULL;
	}
}

void gc__projects_free(gc_agent *a)
{
	gc__project *p = a->projects.list;
	while (p) {
		gc__project *next = p->next;
		gc_etcd_watch_cancel(p->watch);
		gc_etcd_watch_cancel(p->kill_watch);
		project_free(p);
		p = next;
	}
	a->projects.list = NULL;
	gc__tasks_clear(&a->tasks);
}
