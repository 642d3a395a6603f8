/* The watch-fed copy of the keys the handlers read (like an informer):
 * task definitions and their status keys (the range P/0 .. P/: holds
 * every P/<pid>/ and nothing else, digits sorting below ':') and agent
 * registrations P/register/. One ranged listing (both ranges in one txn,
 * so at one revision), then one watch per range from the next revision
 * keeps the copy current; a compacted watch or a copy found lagging
 * lists again.
 *
 * Its own thread, with its own etcd handle, runs the watches and probes
 * etcd every PROBE_MS: a count-only range of both ranges says whether etcd
 * is reachable (gophercron_etcd_up) and, compared with the copy's counts,
 * whether the copy lags (a mismatch at a revision the copy has passed, or
 * one lasting LAG_MS: list again).
 *
 * The copy answers only while it is known current: listed, both streams
 * established, etcd reachable at the last probe, and every write made
 * through this service applied (read-your-write: a write waits, bounded,
 * until the watch has brought it back). Otherwise the handlers read etcd
 * as before (tasks.c), so an answer is never a known-stale copy.
 *
 * Task definitions are decoded once, when they arrive, and kept as the
 * list's JSON (with is_running false and true): a list answer is a
 * concatenation. */
#include "svc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROBE_MS      1000 /* etcd probe interval */
#define LAG_MS	      5000 /* counts disagreeing this long: list again */
#define POLL_MS	      250  /* longest the thread waits in a poll */
#define WRITE_WAIT_MS 1000 /* a write waits this long for its event */
#define LIST_RETRY_MS 500

enum { R_TASKS = 0, R_NODES = 1, N_RANGES = 2 };

typedef struct centry {
	char *key;
	size_t key_len;
	int kind; /* gc_key_kind */
	int64_t pid;
	char *json[2]; /* TASK: list JSON idle, running; NULL: undecodable */
	int running;   /* STATUS: "running"; TASK: its status key's */
	gc__node node; /* REGISTER (strings owned) */
} centry;

struct gc__cache {
	gc_service *svc;
	gc_etcd *etcd; /* the thread's: probes, listings, the watcher */
	gc_etcd_watcher *watcher;
	gc_etcd_watch *watch[N_RANGES];
	char *start[N_RANGES], *end[N_RANGES];
	pthread_t thread;
	int started;
	atomic_int stop;

	pthread_rwlock_t lk; /* everything below up to wmu */
	centry *v;	     /* sorted by key (etcd's order) */
	size_t n, cap;
	int listed;	 /* a listing was loaded */
	int connected;	 /* both streams established */
	int up;		 /* etcd answered the last probe */
	int64_t rev;	 /* tasks range applied up to this revision */
	int64_t lists;	 /* listings loaded */
	int64_t relists; /* listings after the first */
	char down_msg[GC_ERROR_MSG_MAX];

	pthread_mutex_t wmu; /* applied-revision waits */
	pthread_cond_t wcv;
	atomic_int_fast64_t want_rev; /* newest write through this service */

	/* thread-only */
	int need_list;
	int64_t next_probe_ms, lag_since_ms;
};

/* ---------------------------------------------------------------- nodes */

void gc__node_decode(gc__node *n, int64_t pid, const char *key_ip,
		     const char *value, size_t len)
{
	const gc__json_opts jo = {GC__JSON_DEPTH_JOB, 0, NULL};
	cJSON *o = NULL;
	const cJSON *ci, *v, *x;
	memset(n, 0, sizeof(*n));
	n->pid = pid;
	if (gc__json_parse(&o, value, len, &jo, NULL, NULL))
		o = NULL;
	ci = cJSON_GetObjectItemCaseSensitive(o, "client_ip");
	v = cJSON_GetObjectItemCaseSensitive(o, "version");
	n->ip = gc__strdup(
	    cJSON_IsString(ci) && *ci->valuestring ? ci->valuestring : key_ip);
	n->version = gc__strdup(cJSON_IsString(v) ? v->valuestring : "");
	/* the agent's clock (design: optional, absent for 1.10 agents) */
	x = cJSON_GetObjectItemCaseSensitive(o, "clock_offset_ms");
	if ((n->has_offset = cJSON_IsNumber(x)))
		n->clock_offset_ms = x->valuedouble;
	x = cJSON_GetObjectItemCaseSensitive(o, "clock_error_ms");
	if ((n->has_error = cJSON_IsNumber(x)))
		n->clock_error_ms = x->valuedouble;
	x = cJSON_GetObjectItemCaseSensitive(o, "clock_ok");
	if ((n->has_ok = cJSON_IsBool(x)))
		n->clock_ok = cJSON_IsTrue(x);
	x = cJSON_GetObjectItemCaseSensitive(o, "clock_reason");
	if (cJSON_IsString(x))
		n->clock_reason = gc__strdup(x->valuestring);
	cJSON_Delete(o);
}

void gc__node_clear(gc__node *n)
{
	free(n->ip);
	free(n->version);
	free(n->clock_reason);
	memset(n, 0, sizeof(*n));
}

/* -------------------------------------------------------------- entries */

static void entry_clear(centry *e)
{
	free(e->key);
	free(e->json[0]);
	free(e->json[1]);
	gc__node_clear(&e->node);
	memset(e, 0, sizeof(*e));
}

static int key_cmp(const char *a, size_t al, const char *b, size_t bl)
{
	int r = memcmp(a, b, al < bl ? al : bl);
	return r ? r : (al > bl) - (al < bl);
}

/* Index of the first entry >= key. */
static size_t lower_bound(const gc__cache *k, const char *key, size_t len)
{
	size_t lo = 0, hi = k->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (key_cmp(k->v[mid].key, k->v[mid].key_len, key, len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* An entry for a key-value pair; kind UNKNOWN when it is none the
 * handlers read. */
static int entry_make(gc__cache *k, centry *e, const gc_etcd_kv *kv)
{
	gc_key_info ki;
	memset(e, 0, sizeof(*e));
	e->kind = gc_key_parse(k->svc->prefix, kv->key, kv->key_len, &ki);
	e->pid = ki.project_id;
	if (e->kind == GC_KEY_TASK) {
		gc_error err = {0, ""};
		gc_task t = GC_TASK_INIT;
		if (gc_task_from_json(&t, kv->value, kv->value_len, &err) ==
		    0) {
			t.is_running = 0;
			e->json[0] = gc_task_to_json(&t);
			t.is_running = 1;
			e->json[1] = gc_task_to_json(&t);
			gc_task_clear(&t);
			if (!e->json[0] || !e->json[1])
				goto oom;
		} else {
			gc__svc_log(k->svc, GC_LOG_WARNING, "skipping %s: %s",
				    kv->key, err.msg);
		}
	} else if (e->kind == GC_KEY_STATUS) {
		e->running =
		    kv->value_len == 7 && memcmp(kv->value, "running", 7) == 0;
	} else if (e->kind == GC_KEY_REGISTER) {
		gc__node_decode(&e->node, ki.project_id, ki.ip, kv->value,
				kv->value_len);
		if (!e->node.ip || !e->node.version)
			goto oom;
	}
	/* every key of the ranges is kept (others by key alone), so the
	 * copy's counts can be checked against etcd's */
	e->key = gc__strndup(kv->key, kv->key_len);
	e->key_len = kv->key_len;
	if (e->key)
		return 0;
oom:
	entry_clear(e);
	return GC_ENOMEM;
}

static centry *find(gc__cache *k, const char *key, size_t len)
{
	size_t i = lower_bound(k, key, len);
	return i < k->n && key_cmp(k->v[i].key, k->v[i].key_len, key, len) == 0
		   ? &k->v[i]
		   : NULL;
}

#define STATUS_SUFFIX "/t_status"

/* Whether the status key of a task entry says "running". */
static int status_running(gc__cache *k, const centry *task)
{
	char key[2 * GC_KEY_PART_MAX + 64];
	int len = snprintf(key, sizeof(key), "%s" STATUS_SUFFIX, task->key);
	const centry *st;
	if (len < 0 || (size_t)len >= sizeof(key))
		return 0;
	st = find(k, key, (size_t)len);
	return st && st->kind == GC_KEY_STATUS && st->running;
}

/* A status key changed: its task's entry keeps the flag, so a list does
 * not look the status up per task. */
static void status_changed(gc__cache *k, const char *key, size_t len,
			   int running)
{
	size_t tlen = len - (sizeof(STATUS_SUFFIX) - 1);
	centry *t = find(k, key, tlen);
	if (t && t->kind == GC_KEY_TASK)
		t->running = running;
}

/* Entry i was put: link a task and its status flag. */
static int entry_linked(gc__cache *k, size_t i)
{
	centry *e = &k->v[i];
	if (e->kind == GC_KEY_TASK)
		e->running = status_running(k, e);
	else if (e->kind == GC_KEY_STATUS)
		status_changed(k, e->key, e->key_len, e->running);
	return 0;
}

/* Put or delete one key (write lock held). */
static int apply_event(gc__cache *k, const gc_etcd_event *ev)
{
	const gc_etcd_kv *kv = &ev->kv;
	size_t i = lower_bound(k, kv->key, kv->key_len);
	int found = i < k->n && key_cmp(k->v[i].key, k->v[i].key_len, kv->key,
					kv->key_len) == 0;
	centry e;
	if (ev->type == GC_ETCD_EVENT_DELETE) {
		if (found) {
			int status = k->v[i].kind == GC_KEY_STATUS;
			entry_clear(&k->v[i]);
			memmove(&k->v[i], &k->v[i + 1],
				(k->n - i - 1) * sizeof(*k->v));
			k->n--;
			if (status)
				status_changed(k, kv->key, kv->key_len, 0);
		}
		return 0;
	}
	if (entry_make(k, &e, kv) != 0)
		return GC_ENOMEM;
	if (found) {
		entry_clear(&k->v[i]);
		k->v[i] = e;
		return entry_linked(k, i);
	}
	if (k->n == k->cap) {
		size_t ncap = k->cap ? k->cap * 2 : 256;
		centry *nv = realloc(k->v, ncap * sizeof(*nv));
		if (!nv) {
			entry_clear(&e);
			return GC_ENOMEM;
		}
		k->v = nv;
		k->cap = ncap;
	}
	memmove(&k->v[i + 1], &k->v[i], (k->n - i) * sizeof(*k->v));
	k->v[i] = e;
	k->n++;
	return entry_linked(k, i);
}

static void entries_free(centry *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		entry_clear(&v[i]);
	free(v);
}

/* ------------------------------------------------------------ listing */

static void set_rev(gc__cache *k, int64_t rev)
{
	pthread_mutex_lock(&k->wmu);
	k->rev = rev;
	pthread_cond_broadcast(&k->wcv);
	pthread_mutex_unlock(&k->wmu);
}

/* Both ranges at one revision (a txn of two ranges). */
static int list_txn(gc__cache *k, gc_etcd_txn_result *res, unsigned flags,
		    gc_error *err)
{
	gc_etcd_op ops[N_RANGES];
	gc_etcd_txn_request tx = {NULL, 0, ops, N_RANGES, NULL, 0};
	memset(ops, 0, sizeof(ops));
	for (int r = 0; r < N_RANGES; r++) {
		ops[r].type = GC_ETCD_OP_RANGE;
		ops[r].key = k->start[r];
		ops[r].range_end = k->end[r];
		ops[r].flags = flags;
	}
	return gc_etcd_txn(res, k->etcd, &tx, err);
}

static void on_events(gc_etcd_watch *w, const gc_etcd_event *ev, size_t n,
		      int64_t revision, void *payload);
static void on_compacted(gc_etcd_watch *w, int64_t rev, void *payload);
static void on_error(gc_etcd_watch *w, int code, const char *msg,
		     void *payload);

static int watch_from(gc__cache *k, int64_t from, gc_error *err)
{
	for (int r = 0; r < N_RANGES; r++) {
		gc_etcd_watch_options o = GC_ETCD_WATCH_OPTIONS_INIT;
		gc_etcd_watch_cancel(k->watch[r]);
		k->watch[r] = NULL;
		o.range_end = k->end[r];
		o.start_revision = from;
		o.on_events = on_events;
		o.on_compacted = on_compacted;
		o.on_error = on_error;
		o.payload = k;
		if (gc_etcd_watch_add(&k->watch[r], k->watcher, k->start[r], &o,
				      err) != 0)
			return -1;
	}
	return 0;
}

/* List both ranges, replace the copy, watch from the next revision. */
static int relist(gc__cache *k, gc_error *err)
{
	gc_etcd_txn_result res = {0};
	centry *v = NULL;
	size_t n = 0, cap = 0;
	int rc = list_txn(k, &res, 0, err);
	for (size_t r = 0; rc == 0 && r < res.responses_count; r++)
		cap += res.responses[r].kvs_count;
	if (rc == 0 && !(v = calloc(cap + 1, sizeof(*v))))
		rc = gc__seterr(err, GC_ENOMEM, "cache: out of memory");
	/* ranges in key order, tasks before registrations: sorted */
	for (size_t r = 0; rc == 0 && r < res.responses_count; r++)
		for (size_t i = 0; rc == 0 && i < res.responses[r].kvs_count;
		     i++) {
			rc = entry_make(k, &v[n], &res.responses[r].kvs[i]);
			n += rc == 0;
		}
	if (rc == 0)
		rc = watch_from(k, res.revision + 1, err);
	if (rc) {
		entries_free(v, n);
		gc_etcd_txn_result_clear(&res);
		return -1;
	}
	pthread_rwlock_wrlock(&k->lk);
	entries_free(k->v, k->n);
	k->v = v;
	k->n = n;
	k->cap = cap + 1;
	for (size_t i = 0; i < n; i++)
		if (v[i].kind == GC_KEY_TASK)
			v[i].running = status_running(k, &v[i]);
	k->relists += k->lists++ > 0;
	k->listed = 1;
	k->connected = 0;
	set_rev(k, res.revision);
	pthread_rwlock_unlock(&k->lk);
	gc__svc_log(k->svc, GC_LOG_INFO,
		    "cache: listed %zu keys at revision %" PRId64, n,
		    res.revision);
	gc_etcd_txn_result_clear(&res);
	return 0;
}

/* ------------------------------------------------------------- watches */

static void on_events(gc_etcd_watch *w, const gc_etcd_event *ev, size_t n,
		      int64_t revision, void *payload)
{
	gc__cache *k = payload;
	int rc = 0;
	(void)revision;
	pthread_rwlock_wrlock(&k->lk);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = apply_event(k, &ev[i]);
	/* the last event's revision: a replay's message revision may be
	 * ahead of events still to come */
	if (rc == 0 && w == k->watch[R_TASKS] && n &&
	    ev[n - 1].kv.mod_revision > k->rev)
		set_rev(k, ev[n - 1].kv.mod_revision);
	if (rc) {
		k->listed = 0; /* an event is missing: not current */
		k->need_list = 1;
	}
	pthread_rwlock_unlock(&k->lk);
}

static void on_compacted(gc_etcd_watch *w, int64_t rev, void *payload)
{
	gc__cache *k = payload;
	(void)w;
	gc__svc_log(k->svc, GC_LOG_NOTICE,
		    "cache: watch compacted at revision %" PRId64
		    ": listing again",
		    rev);
	pthread_rwlock_wrlock(&k->lk);
	k->listed = 0;
	pthread_rwlock_unlock(&k->lk);
	k->need_list = 1;
}

static void on_error(gc_etcd_watch *w, int code, const char *msg, void *payload)
{
	gc__cache *k = payload;
	(void)w;
	gc__svc_log(k->svc, GC_LOG_ERR, "cache: watch stopped (%s): %s",
		    gc_strerror(code), msg);
	pthread_rwlock_wrlock(&k->lk);
	k->listed = 0;
	pthread_rwlock_unlock(&k->lk);
	k->need_list = 1;
}

/* -------------------------------------------------------------- probe */

/* Compare etcd's key counts with the copy's (lock held). */
static int counts_differ(gc__cache *k, const gc_etcd_txn_result *res)
{
	size_t split =
	    lower_bound(k, k->start[R_NODES], strlen(k->start[R_NODES]));
	if (res->responses_count != N_RANGES)
		return 0;
	return (int64_t)split != res->responses[R_TASKS].count ||
	       (int64_t)(k->n - split) != res->responses[R_NODES].count;
}

static void probe(gc__cache *k, int64_t now)
{
	gc_error err = {0, ""};
	gc_etcd_txn_result res = {0};
	int rc = list_txn(k, &res, GC_ETCD_COUNT_ONLY, &err);
	int differ = 0, up_before;
	pthread_rwlock_wrlock(&k->lk);
	up_before = k->up;
	k->up = rc == 0;
	if (rc)
		snprintf(k->down_msg, sizeof(k->down_msg), "%s", err.msg);
	else if (k->listed && k->connected)
		differ = counts_differ(k, &res);
	pthread_rwlock_unlock(&k->lk);
	if (rc && up_before)
		gc__svc_log(k->svc, GC_LOG_ERR, "cannot reach etcd: %s",
			    err.msg);
	else if (!rc && !up_before)
		gc__svc_log(k->svc, GC_LOG_NOTICE, "etcd is reachable again");
	if (!differ) {
		k->lag_since_ms = 0;
	} else if (res.revision <= k->rev ||
		   (k->lag_since_ms && now - k->lag_since_ms >= LAG_MS)) {
		gc__svc_log(k->svc, GC_LOG_WARNING,
			    "cache: behind etcd (revision %" PRId64
			    " of %" PRId64 "): listing again",
			    k->rev, res.revision);
		k->need_list = 1;
		k->lag_since_ms = 0;
	} else if (!k->lag_since_ms) {
		k->lag_since_ms = now;
	}
	gc_etcd_txn_result_clear(&res);
}

/* ------------------------------------------------------------- thread */

static void update_connected(gc__cache *k)
{
	int c = gc_etcd_watch_connected(k->watch[R_TASKS]) &&
		gc_etcd_watch_connected(k->watch[R_NODES]);
	if (c == k->connected)
		return;
	pthread_rwlock_wrlock(&k->lk);
	k->connected = c;
	pthread_rwlock_unlock(&k->lk);
}

static void *cache_thread(void *arg)
{
	gc__cache *k = arg;
	int64_t list_at = 0;
	while (!atomic_load(&k->stop)) {
		gc_error err = {0, ""};
		int64_t now = gc__mono_ms();
		if (now >= k->next_probe_ms) {
			probe(k, now);
			k->next_probe_ms = gc__mono_ms() + PROBE_MS;
		}
		if (k->need_list && now >= list_at) {
			if (relist(k, &err) == 0)
				k->need_list = 0;
			else
				list_at = now + LIST_RETRY_MS;
		}
		if (gc_etcd_watcher_poll(k->watcher, POLL_MS, &err) != 0) {
			gc__svc_log(k->svc, GC_LOG_ERR, "cache: %s", err.msg);
			k->need_list = 1;
		}
		update_connected(k);
	}
	return NULL;
}

/* ---------------------------------------------------------- lifecycle */

static int ranges_init(gc__cache *k)
{
	const char *p = k->svc->prefix;
	size_t len;
	k->start[R_TASKS] = gc__sprintf("%s/0", p);
	k->end[R_TASKS] = gc__sprintf("%s/:", p);
	k->start[R_NODES] = gc__sprintf("%s/register/", p);
	if (!k->start[R_NODES])
		return GC_ENOMEM;
	if (gc_etcd_prefix_end(&k->end[R_NODES], &len, k->start[R_NODES],
			       strlen(k->start[R_NODES])) != 0)
		return GC_ENOMEM;
	return k->start[R_TASKS] && k->end[R_TASKS] ? 0 : GC_ENOMEM;
}

int gc__cache_new(gc__cache **out, gc_service *svc, gc_error *err)
{
	gc__cache *k = calloc(1, sizeof(*k));
	pthread_condattr_t ca;
	*out = NULL;
	if (!k)
		return gc__seterr(err, GC_ENOMEM, "cache: out of memory");
	k->svc = svc;
	pthread_rwlock_init(&k->lk, NULL);
	pthread_mutex_init(&k->wmu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&k->wcv, &ca);
	pthread_condattr_destroy(&ca);
	atomic_init(&k->stop, 0);
	atomic_init(&k->want_rev, 0);
	k->up = 1; /* until the first probe says otherwise */
	k->need_list = 1;
	snprintf(k->down_msg, sizeof(k->down_msg), "not probed yet");
	*out = k;
	if (ranges_init(k) != 0)
		return gc__seterr(err, GC_ENOMEM, "cache: out of memory");
	if (gc_etcd_new(&k->etcd, &svc->etcd.opts, err) != 0 ||
	    gc_etcd_watcher_new(&k->watcher, k->etcd, err) != 0)
		return gc__err_prefix(err, "cache"), err->code;
	return 0;
}

int gc__cache_start(gc__cache *k, gc_error *err)
{
	int e;
	if (k->started)
		return 0;
	atomic_store(&k->stop, 0);
	/* the first probe and listing before the service listens, so the
	 * operator hears at once when etcd cannot be reached */
	probe(k, gc__mono_ms());
	k->next_probe_ms = gc__mono_ms() + PROBE_MS;
	if (k->up && relist(k, err) == 0)
		k->need_list = 0;
	if (!k->up)
		gc__svc_log(k->svc, GC_LOG_WARNING,
			    "cannot reach etcd at %s: %s; task and node "
			    "requests answer 503 until it can be reached",
			    k->svc->etcd.opts.endpoints_count
				? k->svc->etcd.opts.endpoints[0]
				: "?",
			    k->down_msg);
	e = pthread_create(&k->thread, NULL, cache_thread, k);
	if (e)
		return gc__seterr_errno(err, GC_ESYS, e, "cache: thread");
	k->started = 1;
	return 0;
}

void gc__cache_stop(gc__cache *k)
{
	if (!k || !k->started)
		return;
	atomic_store(&k->stop, 1);
	gc_etcd_watcher_wakeup(k->watcher);
	pthread_join(k->thread, NULL);
	k->started = 0;
}

void gc__cache_free(gc__cache *k)
{
	if (!k)
		return;
	gc__cache_stop(k);
	for (int r = 0; r < N_RANGES; r++) {
		gc_etcd_watch_cancel(k->watch[r]);
		free(k->start[r]);
		free(k->end[r]);
	}
	gc_etcd_watcher_free(k->watcher);
	gc_etcd_free(k->etcd);
	entries_free(k->v, k->n);
	pthread_rwlock_destroy(&k->lk);
	pthread_mutex_destroy(&k->wmu);
	pthread_cond_destroy(&k->wcv);
	free(k);
}

/* --------------------------------------------------------------- reads */

/* Whether the copy may answer (read lock held). */
static int current(gc__cache *k)
{
	return k->listed && k->connected && k->up &&
	       k->rev >= atomic_load(&k->want_rev);
}

/* Take the read lock when the copy may answer: 1 (locked, *rev set) or 0. */
static int read_begin(gc__cache *k, int64_t *rev)
{
	if (!k)
		return 0;
	pthread_rwlock_rdlock(&k->lk);
	if (current(k)) {
		*rev = k->rev;
		return 1;
	}
	pthread_rwlock_unlock(&k->lk);
	return 0;
}

static int has_prefix(const centry *e, const char *p, size_t len)
{
	return e->key_len >= len && memcmp(e->key, p, len) == 0;
}

int gc__cache_task_list(gc__cache *k, int64_t pid, gc__buf *out, int64_t *rev)
{
	char *p = gc_key_project_prefix(k ? k->svc->prefix : "", pid);
	size_t len = p ? strlen(p) : 0, n = 0;
	int rc = 1;
	if (!p || !read_begin(k, rev)) {
		free(p);
		return p ? 0 : GC_ENOMEM;
	}
	for (size_t i = lower_bound(k, p, len);
	     i < k->n && has_prefix(&k->v[i], p, len) && rc > 0; i++) {
		const centry *e = &k->v[i];
		if (e->kind != GC_KEY_TASK || !e->json[0])
			continue;
		if ((n++ && gc__buf_puts(out, ",")) ||
		    gc__buf_puts(out, e->json[e->running ? 1 : 0]))
			rc = GC_ENOMEM;
	}
	pthread_rwlock_unlock(&k->lk);
	free(p);
	return rc;
}

int gc__cache_task_count(gc__cache *k, int64_t pid, int64_t *count,
			 int64_t *rev)
{
	char *p = gc_key_project_prefix(k ? k->svc->prefix : "", pid);
	size_t len = p ? strlen(p) : 0;
	*count = 0;
	if (!p || !read_begin(k, rev)) {
		free(p);
		return p ? 0 : GC_ENOMEM;
	}
	for (size_t i = lower_bound(k, p, len);
	     i < k->n && has_prefix(&k->v[i], p, len); i++)
		*count += k->v[i].kind == GC_KEY_TASK;
	pthread_rwlock_unlock(&k->lk);
	free(p);
	return 1;
}

int gc__cache_node_each(gc__cache *k, int64_t pid, gc__node_fn fn, void *arg,
			int64_t *rev)
{
	char *p = !k	? NULL
		  : pid ? gc_key_register_prefix(k->svc->prefix, pid)
			: gc__strdup(k->start[R_NODES]);
	size_t len = p ? strlen(p) : 0;
	if (!p || !read_begin(k, rev)) {
		free(p);
		return p || !k ? 0 : GC_ENOMEM;
	}
	for (size_t i = lower_bound(k, p, len);
	     i < k->n && has_prefix(&k->v[i], p, len); i++)
		if (k->v[i].kind == GC_KEY_REGISTER)
			fn(&k->v[i].node, arg);
	pthread_rwlock_unlock(&k->lk);
	free(p);
	return 1;
}

void gc__cache_written(gc__cache *k, int64_t rev)
{
	struct timespec dl;
	int64_t cur;
	int live;
	if (!k || rev <= 0)
		return;
	cur = atomic_load(&k->want_rev);
	while (cur < rev &&
	       !atomic_compare_exchange_weak(&k->want_rev, &cur, rev))
		;
	pthread_rwlock_rdlock(&k->lk);
	live = k->listed && k->connected && k->up;
	pthread_rwlock_unlock(&k->lk);
	if (!live)
		return; /* reads go to etcd anyway */
	/* Wait for the watch to bring the write back, so the next read,
	 * from anyone, is answered from a copy that has it; past the bound,
	 * reads go to etcd until it arrives. */
	gc__mono_deadline(&dl, WRITE_WAIT_MS);
	pthread_mutex_lock(&k->wmu);
	while (k->rev < rev &&
	       pthread_cond_timedwait(&k->wcv, &k->wmu, &dl) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&k->wmu);
}

int gc__cache_etcd_down(gc__cache *k, char *msg, size_t len)
{
	int down;
	if (!k)
		return 0;
	pthread_rwlock_rdlock(&k->lk);
	down = !k->up;
	if (down)
		snprintf(msg, len, "%s", k->down_msg);
	pthread_rwlock_unlock(&k->lk);
	return down;
}

void gc__cache_etcd_failed(gc__cache *k, const char *msg)
{
	if (!k)
		return;
	pthread_rwlock_wrlock(&k->lk);
	k->up = 0;
	snprintf(k->down_msg, sizeof(k->down_msg), "%s", msg);
	pthread_rwlock_unlock(&k->lk);
}

/* Once per address: an agent serving several projects registers in
 * each. */
static int node_seen(const gc__cache *k, size_t split, size_t i)
{
	for (size_t j = split; j < i; j++)
		if (k->v[j].kind == GC_KEY_REGISTER &&
		    strcmp(k->v[j].node.ip, k->v[i].node.ip) == 0)
			return 1;
	return 0;
}

static int render_clocks(gc__cache *k, gc__buf *o)
{
	size_t split =
	    lower_bound(k, k->start[R_NODES], strlen(k->start[R_NODES]));
	int rc = gc__buf_puts(
	    o, "# HELP gophercron_agent_clock_offset_seconds Cluster time "
	       "minus the agent's clock, as the agent registered it.\n"
	       "# TYPE gophercron_agent_clock_offset_seconds gauge\n");
	for (size_t i = split; i < k->n; i++) {
		const gc__node *n = &k->v[i].node;
		if (k->v[i].kind == GC_KEY_REGISTER && n->has_offset &&
		    !node_seen(k, split, i))
			rc |= gc__buf_printf(
			    o,
			    "gophercron_agent_clock_offset_seconds{ip=\"%s\"} "
			    "%.3f\n",
			    n->ip, n->clock_offset_ms / 1000.0);
	}
	rc |= gc__buf_puts(
	    o, "# HELP gophercron_agent_clock_ok 1 when the agent's clock is "
	       "within its max_clock_offset (it claims ticks).\n"
	       "# TYPE gophercron_agent_clock_ok gauge\n");
	for (size_t i = split; i < k->n; i++) {
		const gc__node *n = &k->v[i].node;
		if (k->v[i].kind == GC_KEY_REGISTER && n->has_ok &&
		    !node_seen(k, split, i))
			rc |= gc__buf_printf(
			    o, "gophercron_agent_clock_ok{ip=\"%s\"} %d\n",
			    n->ip, n->clock_ok);
	}
	return rc;
}

int gc__cache_metrics(gc__cache *k, gc__buf *o)
{
	int rc;
	if (!k)
		return 0;
	pthread_rwlock_rdlock(&k->lk);
	rc = gc__buf_printf(
	    o,
	    "# HELP gophercron_etcd_up 1 when etcd answered the service's "
	    "last probe.\n# TYPE gophercron_etcd_up gauge\n"
	    "gophercron_etcd_up %d\n"
	    "# HELP gophercron_cache_revision etcd revision the task cache "
	    "has applied.\n# TYPE gophercron_cache_revision gauge\n"
	    "gophercron_cache_revision %" PRId64 "\n"
	    "# HELP gophercron_cache_in_sync 1 when the cache answers reads, "
	    "0 when they go to etcd.\n# TYPE gophercron_cache_in_sync gauge\n"
	    "gophercron_cache_in_sync %d\n"
	    "# HELP gophercron_cache_keys Keys held by the cache.\n"
	    "# TYPE gophercron_cache_keys gauge\ngophercron_cache_keys %zu\n"
	    "# HELP gophercron_cache_relists_total Listings after the first "
	    "(compaction, lag, errors).\n"
	    "# TYPE gophercron_cache_relists_total counter\n"
	    "gophercron_cache_relists_total %" PRId64 "\n",
	    k->up, k->rev, current(k), k->n, k->relists);
	rc |= render_clocks(k, o);
	pthread_rwlock_unlock(&k->lk);
	return rc;
}
