/* Tasks and nodes in etcd: the one place the service's handlers reach
 * etcd. A pool of client handles (a handle serialises its calls, so each
 * request borrows its own, on first use, and gives it back when answered),
 * and every read and write of the keys the agents watch (layout: job.h):
 * task definitions P/<pid>/<tid> (TaskInfo JSON) with their status keys,
 * run-now and kill signals, agent registrations P/register/<pid>/<ip> and
 * agent commands. Every write is one etcd transaction, so a failed request
 * leaves nothing half-written; a task is saved with compare-and-swap.
 *
 * The list reads (gc__task_list_json, gc__task_count, gc__node_each) are
 * answered from the watch-fed copy (cache.c) while it is current, with its
 * revision in X-Gophercron-Revision; from etcd otherwise. Single-task reads
 * precede a write and read etcd. While etcd cannot be reached (the cache's
 * probe), every call answers 503 at once. */
#include "svc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SIGNAL_LEASE_TTL    5 /* run-now and kill keys */
#define AGENT_CMD_LEASE_TTL 60
#define SAVE_RETRIES	    5

/* ----------------------------------------------------------- etcd pool */

void gc__etcd_pool_init(gc__etcd_pool *p)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->mu, NULL);
}

void gc__etcd_pool_set_options(gc__etcd_pool *p, const gc_service *svc,
			       int64_t dial_timeout_ms)
{
	/* The [etcd] section (the service's copy) as every module reads it;
	 * [deploy] timeout bounds each request. */
	const gc_etcd_config e = {.endpoints = svc->etcd_endpoints,
				  .n_endpoints = svc->n_etcd_endpoints,
				  .username = svc->etcd_username,
				  .password = svc->etcd_password,
				  .dial_timeout_ms = dial_timeout_ms,
				  .ca_file = svc->etcd_ca,
				  .cert_file = svc->etcd_cert,
				  .key_file = svc->etcd_key};
	gc_etcd_options_init(&p->opts, GC_ETCD_OPTIONS_VERSION);
	gc_etcd_options_from_config(&p->opts, &e);
	p->opts.request_timeout_ms = (int)svc->op_timeout_ms;
	/* an answer within [deploy] timeout, failovers included */
	p->opts.retry_timeout_ms = (int)svc->op_timeout_ms;
	p->opts.max_response_bytes = 256u << 20;
	p->opts.log = svc->opts.log;
	p->opts.log_payload = svc->opts.log_payload;
}

void gc__etcd_pool_destroy(gc__etcd_pool *p)
{
	for (size_t i = 0; i < p->n_free; i++)
		gc_etcd_free(p->free_list[i]);
	free(p->free_list);
	p->free_list = NULL;
	p->n_free = p->cap = 0;
	pthread_mutex_destroy(&p->mu);
}

static gc_etcd *etcd_pool_get(gc__etcd_pool *p, gc_error *err)
{
	gc_etcd *e = NULL;
	pthread_mutex_lock(&p->mu);
	if (p->n_free)
		e = p->free_list[--p->n_free];
	pthread_mutex_unlock(&p->mu);
	if (e)
		return e;
	if (gc_etcd_new(&e, &p->opts, err) != 0)
		return NULL;
	pthread_mutex_lock(&p->mu);
	p->n_total++;
	pthread_mutex_unlock(&p->mu);
	return e;
}

static void etcd_pool_put(gc__etcd_pool *p, gc_etcd *e)
{
	if (!e)
		return;
	pthread_mutex_lock(&p->mu);
	if (p->n_free == p->cap) {
		size_t ncap = p->cap ? p->cap * 2 : 16;
		gc_etcd **nl = realloc(p->free_list, ncap * sizeof(*nl));
		if (!nl) {
			pthread_mutex_unlock(&p->mu);
			gc_etcd_free(e);
			return;
		}
		p->free_list = nl;
		p->cap = ncap;
	}
	p->free_list[p->n_free++] = e;
	pthread_mutex_unlock(&p->mu);
}

/* 503 at once while etcd is known unreachable. */
static int etcd_down(gc__ctx *c)
{
	char msg[GC_ERROR_MSG_MAX];
	const gc__etcd_pool *p = &c->svc->etcd;
	if (!gc__cache_etcd_down(c->svc->cache, msg, sizeof(msg)))
		return 0;
	gc__metrics_inc(c->svc->metrics, GC__M_ETCD_ERRORS);
	gc__reply_err(c, GC__C_UNAVAILABLE, "cannot reach etcd at %s%s: %s",
		      p->opts.endpoints_count ? p->opts.endpoints[0] : "?",
		      p->opts.endpoints_count > 1 ? " (and the others)" : "",
		      msg);
	return 1;
}

/* Answer an etcd error; etcd out of reach: later requests get 503 at once
 * until the cache's probe reaches it again. */
static void etcd_failed(gc__ctx *c, int rc, const gc_error *err)
{
	if (rc == GC_EUNAVAIL || rc == GC_ETIMEDOUT)
		gc__cache_etcd_failed(c->svc->cache, err->msg);
	gc__reply_gcerr(c, GC__SRC_ETCD, rc, err);
}

/* Borrow the request's etcd handle (NULL and a 500 answer on failure). */
static gc_etcd *ctx_etcd(gc__ctx *c)
{
	gc_error err = {0, ""};
	if (c->etcd)
		return c->etcd;
	if (etcd_down(c))
		return NULL;
	c->etcd = etcd_pool_get(&c->svc->etcd, &err);
	if (!c->etcd)
		gc__reply_gcerr(c, GC__SRC_ETCD, GC_EUNAVAIL, &err);
	return c->etcd;
}

void gc__ctx_etcd_release(gc__ctx *c)
{
	etcd_pool_put(&c->svc->etcd, c->etcd);
	c->etcd = NULL;
}

/* ------------------------------------------------------------- helpers */

/* A task definition or registration value read from etcd, through the
 * shared JSON check (nesting bounded, as every JSON from outside): the
 * tree, or NULL when it is not valid JSON. */
static cJSON *etcd_json(const char *v, size_t len)
{
	const gc__json_opts jo = {GC__JSON_DEPTH_JOB, 0, NULL};
	cJSON *o;
	return gc__json_parse(&o, v, len, &jo, NULL, NULL) ? NULL : o;
}

/* The answer came from the cache at `rev` (once: the project list counts
 * the tasks of every project). */
static void cache_rev_header(gc__ctx *c, int64_t rev)
{
	char v[24];
	if (strstr(c->resp_headers, "X-Gophercron-Revision:"))
		return;
	snprintf(v, sizeof(v), "%" PRId64, rev);
	gc__add_header(c, "X-Gophercron-Revision", v);
}

static int is_running_value(const gc_etcd_kv *kv)
{
	return kv && kv->value_len == 7 && memcmp(kv->value, "running", 7) == 0;
}

static int not_found(gc__ctx *c, int64_t pid, const char *tid)
{
	gc__reply_err(c, GC__C_NOT_FOUND,
		      "task \"%s\" not found in project %" PRId64, tid, pid);
	return -1;
}

static int out_of_memory(gc__ctx *c)
{
	gc__reply_err(c, GC__C_INTERNAL, "out of memory");
	return -1;
}

/* Put `key` = value under a fresh lease of `ttl` seconds. */
static int put_leased(gc__ctx *c, const char *key, const char *value,
		      size_t len, int64_t ttl)
{
	gc_error err = {0, ""};
	gc_etcd *etcd = ctx_etcd(c);
	int64_t lease = 0;
	int rc;
	if (!etcd)
		return -1;
	rc = gc_etcd_lease_grant(&lease, NULL, etcd, ttl, 0, &err);
	if (rc == 0)
		rc = gc_etcd_put(NULL, etcd, key, value, len, lease, 0, &err);
	if (rc) {
		etcd_failed(c, rc, &err);
		return -1;
	}
	return 0;
}

/* Range-read the keys under `prefix` (freed here; NULL: out of memory),
 * with `flags` besides GC_ETCD_PREFIX. etcd answers in key order without
 * being asked to sort. */
static int get_prefix(gc__ctx *c, char *prefix, unsigned flags,
		      gc_etcd_response *r)
{
	gc_error err = {0, ""};
	gc_etcd_get_options go = GC_ETCD_GET_OPTIONS_INIT;
	gc_etcd *etcd = ctx_etcd(c);
	int rc;
	if (!etcd || !prefix) {
		free(prefix);
		return etcd ? out_of_memory(c) : -1;
	}
	go.flags = GC_ETCD_PREFIX | flags;
	rc = gc_etcd_get(r, etcd, prefix, &go, &err);
	free(prefix);
	if (rc) {
		etcd_failed(c, rc, &err);
		return -1;
	}
	return 0;
}

/* ----------------------------------------------------------------- read */

int gc__task_get(gc__ctx *c, int64_t pid, const char *tid, char **value,
		 size_t *len, int *running)
{
	gc_error err = {0, ""};
	gc_etcd *etcd = ctx_etcd(c);
	char *ktask = gc_key_task(c->svc->prefix, pid, tid);
	char *kstat = gc_key_status(c->svc->prefix, pid, tid);
	gc_etcd_op ops[2];
	gc_etcd_txn_request tx = {NULL, 0, ops, 2, NULL, 0};
	gc_etcd_txn_result res = {0};
	const gc_etcd_kv *task = NULL, *status = NULL;
	int rc;
	if (!etcd || !ktask || !kstat) {
		free(ktask);
		free(kstat);
		return etcd ? out_of_memory(c) : -1;
	}
	/* the task's key and its status key in one round trip */
	memset(ops, 0, sizeof(ops));
	ops[0].type = GC_ETCD_OP_RANGE;
	ops[0].key = ktask;
	ops[1].type = GC_ETCD_OP_RANGE;
	ops[1].key = kstat;
	rc = gc_etcd_txn(&res, etcd, &tx, &err);
	free(ktask);
	free(kstat);
	if (rc) {
		etcd_failed(c, rc, &err);
		return -1;
	}
	if (res.responses_count == 2) {
		if (res.responses[0].kvs_count)
			task = &res.responses[0].kvs[0];
		if (res.responses[1].kvs_count)
			status = &res.responses[1].kvs[0];
	}
	rc = 0;
	if (!task)
		rc = not_found(c, pid, tid);
	else if (value && !(*value = gc__strndup(task->value, task->value_len)))
		rc = out_of_memory(c);
	if (rc == 0 && len)
		*len = task->value_len;
	if (rc == 0 && running)
		*running = is_running_value(status);
	gc_etcd_txn_result_clear(&res);
	return rc;
}

static int cmp_str(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/* The ids of the tasks whose status key says "running", sorted; NULL when
 * out of memory. */
static char **running_ids(const gc_service *svc, const gc_etcd_response *r,
			  size_t *n)
{
	char **v = calloc(r->kvs_count + 1, sizeof(*v));
	gc_key_info ki;
	*n = 0;
	for (size_t i = 0; v && i < r->kvs_count; i++) {
		const gc_etcd_kv *kv = &r->kvs[i];
		if (gc_key_parse(svc->prefix, kv->key, kv->key_len, &ki) !=
			GC_KEY_STATUS ||
		    !is_running_value(kv))
			continue;
		v[*n] = gc__strdup(ki.task_id);
		if (!v[(*n)++]) {
			gc__strv_free(v, *n);
			return NULL;
		}
	}
	if (v)
		qsort(v, *n, sizeof(*v), cmp_str);
	return v;
}

/* Decode the task keys of a project range in key order, marking those
 * that run, and pass each to `fn`. */
static int each_task(gc__ctx *c, const gc_etcd_response *r, char **running,
		     size_t n_running, gc__task_fn fn, void *arg)
{
	gc_error err = {0, ""};
	gc_key_info ki;
	for (size_t i = 0; i < r->kvs_count; i++) {
		const gc_etcd_kv *kv = &r->kvs[i];
		gc_task t = GC_TASK_INIT;
		const char *tid;
		int stop;
		if (gc_key_parse(c->svc->prefix, kv->key, kv->key_len, &ki) !=
		    GC_KEY_TASK)
			continue;
		if (gc_task_from_json(&t, kv->value, kv->value_len, &err) !=
		    0) {
			gc__svc_log(c->svc, GC_LOG_WARNING, "skipping %s: %s",
				    kv->key, err.msg);
			continue;
		}
		tid = ki.task_id;
		t.is_running =
		    n_running && bsearch(&tid, running, n_running,
					 sizeof(*running), cmp_str) != NULL;
		stop = fn(&t, arg);
		gc_task_clear(&t);
		if (stop)
			return 1;
	}
	return 0;
}

int gc__task_each(gc__ctx *c, int64_t pid, gc__task_fn fn, void *arg)
{
	gc_etcd_response r = {0};
	char **running;
	size_t n_running = 0;
	int rc;
	if (get_prefix(c, gc_key_project_prefix(c->svc->prefix, pid), 0, &r))
		return -1;
	running = running_ids(c->svc, &r, &n_running);
	rc = running ? each_task(c, &r, running, n_running, fn, arg)
		     : out_of_memory(c);
	gc__strv_free(running, n_running);
	gc_etcd_response_clear(&r);
	return rc;
}

int gc__task_count(gc__ctx *c, int64_t pid, int64_t *count)
{
	gc_etcd_response r = {0};
	gc_key_info ki;
	int64_t rev;
	int hit = gc__cache_task_count(c->svc->cache, pid, count, &rev);
	if (hit > 0) {
		cache_rev_header(c, rev);
		return 0;
	}
	if (hit < 0)
		return out_of_memory(c);
	*count = 0;
	/* task keys only: status and run-now keys are not tasks, unlike the
	 * original's count */
	if (get_prefix(c, gc_key_project_prefix(c->svc->prefix, pid),
		       GC_ETCD_KEYS_ONLY, &r))
		return -1;
	for (size_t i = 0; i < r.kvs_count; i++)
		if (gc_key_parse(c->svc->prefix, r.kvs[i].key, r.kvs[i].key_len,
				 &ki) == GC_KEY_TASK)
			(*count)++;
	gc_etcd_response_clear(&r);
	return 0;
}

struct list_json {
	gc__buf *out;
	size_t n;
	int oom;
};

static int add_task_json(gc_task *t, void *arg)
{
	struct list_json *l = arg;
	char *json = gc_task_to_json(t);
	if (!json || (l->n++ && gc__buf_puts(l->out, ",")) ||
	    gc__buf_puts(l->out, json))
		l->oom = 1;
	free(json);
	return l->oom;
}

int gc__task_list_json(gc__ctx *c, int64_t pid, gc__buf *out)
{
	struct list_json l = {out, 0, 0};
	int64_t rev;
	int rc = gc__cache_task_list(c->svc->cache, pid, out, &rev);
	if (rc > 0) {
		cache_rev_header(c, rev);
		return 0;
	}
	if (rc < 0)
		return out_of_memory(c);
	rc = gc__task_each(c, pid, add_task_json, &l);
	if (rc >= 0 && l.oom)
		return out_of_memory(c);
	return rc < 0 ? -1 : 0;
}

/* ----------------------------------------------------------------- save */

/* The stored definition of an existing task, to be edited: its key's
 * value in *old (the caller disposes it). An unreadable definition starts
 * from scratch but keeps the id. */
static int save_read(gc__ctx *c, gc_etcd *etcd, int64_t pid, const char *tid,
		     const char *key, gc_task *t, gc_etcd_response *old)
{
	gc_error err = {0, ""};
	int rc = gc_etcd_get(old, etcd, key, NULL, &err);
	if (rc) {
		etcd_failed(c, rc, &err);
		return -1;
	}
	if (!old->kvs_count)
		return not_found(c, pid, tid);
	if (gc_task_from_json(t, old->kvs[0].value, old->kvs[0].value_len,
			      &err) != 0) {
		gc_task_clear(t);
		t->create_time = (int64_t)time(NULL);
	}
	return 0;
}

/* The task as stored (TaskInfo JSON), checked; NULL answered. */
static char *save_encode(gc__ctx *c, const gc_task *t)
{
	gc_error err = {0, ""};
	char *json;
	if (gc_task_validate(t, &err) != 0) {
		gc__reply_err(c, GC__C_BAD_REQUEST, "%s", err.msg);
		return NULL;
	}
	json = gc_task_to_json(t);
	if (!json) {
		out_of_memory(c);
		return NULL;
	}
	/* Agents skip a bigger task: refuse to store one. */
	if (strlen(json) > GC_TASK_MAX_BYTES) {
		gc__reply_err(c, GC__C_BAD_REQUEST,
			      "task is %zu bytes as stored (TaskInfo JSON), "
			      "over the %d bytes a task may have: shorten its "
			      "command or remark",
			      strlen(json), GC_TASK_MAX_BYTES);
		free(json);
		return NULL;
	}
	return json;
}

/* One compare-and-swap of task `tid` at `key`: read it (unless new), let
 * `edit` change it, write it if the key is still as read (a new one: if it
 * does not exist). 1 written, 0 changed (or taken) meanwhile, -1 answered.
 * *old gets what was read, for the answer. */
static int save_once(gc__ctx *c, gc_etcd *etcd, int64_t pid, const char *tid,
		     const char *key, int is_new, gc__task_edit edit,
		     const void *arg, gc_etcd_response *old)
{
	gc_error err = {0, ""};
	gc_task t = GC_TASK_INIT;
	gc_etcd_compare cmp = {
	    key, GC_ETCD_CMP_CREATE, GC_ETCD_CMP_EQUAL, 0, NULL, 0};
	gc_etcd_op put;
	gc_etcd_txn_request tx = {&cmp, 1, &put, 1, NULL, 0};
	gc_etcd_txn_result res = {0};
	char *json;
	int rc;

	if (is_new) {
		t.create_time = (int64_t)time(NULL);
	} else {
		if (save_read(c, etcd, pid, tid, key, &t, old) != 0)
			return -1;
		cmp.target = GC_ETCD_CMP_MOD;
		cmp.number = old->kvs[0].mod_revision;
	}
	free(t.task_id);
	t.task_id = gc__strdup(tid);
	t.project_id = pid;
	t.is_running = 0;
	if (t.create_time <= 0)
		t.create_time = (int64_t)time(NULL);
	edit(&t, is_new, arg);
	json = save_encode(c, &t);
	gc_task_clear(&t);
	if (!json)
		return -1;
	memset(&put, 0, sizeof(put));
	put.type = GC_ETCD_OP_PUT;
	put.key = key;
	put.value = json;
	put.value_len = strlen(json);
	rc = gc_etcd_txn(&res, etcd, &tx, &err);
	free(json);
	if (rc) {
		etcd_failed(c, rc, &err);
		return -1;
	}
	rc = res.succeeded ? 1 : 0;
	if (rc)
		gc__cache_written(c->svc->cache, res.revision);
	gc_etcd_txn_result_clear(&res);
	return rc;
}

int gc__task_save(gc__ctx *c, int64_t pid, const char *tid, gc__task_edit edit,
		  const void *arg, cJSON **prev)
{
	gc_error err = {0, ""};
	int is_new = tid == NULL;
	char idbuf[GC_TASK_ID_BUF];
	char *key = NULL;
	gc_etcd *etcd = ctx_etcd(c);
	int rc = -1;

	*prev = NULL;
	if (!etcd)
		return -1;
	for (int attempt = 0; attempt < SAVE_RETRIES; attempt++) {
		gc_etcd_response old = {0};
		int done;
		if (is_new) {
			/* a fresh id each time: the last one was taken */
			if (gc_task_id_new(idbuf, &err) != 0) {
				gc__reply_gcerr(c, GC__SRC_OTHER, GC_ESYS,
						&err);
				break;
			}
			tid = idbuf;
		}
		free(key);
		key = gc_key_task(c->svc->prefix, pid, tid);
		if (!key) {
			out_of_memory(c);
			break;
		}
		done =
		    save_once(c, etcd, pid, tid, key, is_new, edit, arg, &old);
		/* The original answers an update with the previous
		 * definition. */
		if (done > 0 && !is_new)
			*prev =
			    etcd_json(old.kvs[0].value, old.kvs[0].value_len);
		gc_etcd_response_clear(&old);
		if (done) {
			rc = done > 0 ? 0 : -1;
			break;
		}
		if (attempt == SAVE_RETRIES - 1)
			gc__reply_err(c, 409,
				      "task \"%s\" is being changed by someone "
				      "else; try again",
				      tid);
	}
	free(key);
	return rc;
}

/* --------------------------------------------------------------- delete */

int gc__task_delete(gc__ctx *c, int64_t pid, const char *tid, cJSON **prev)
{
	gc_error err = {0, ""};
	gc_etcd *etcd = ctx_etcd(c);
	char *ktask = gc_key_task(c->svc->prefix, pid, tid);
	char *kstat = gc_key_status(c->svc->prefix, pid, tid);
	char *know = gc_key_run_now(c->svc->prefix, pid, tid);
	gc_etcd_compare cmp;
	gc_etcd_op ops[3];
	gc_etcd_txn_request tx = {&cmp, 1, ops, 3, NULL, 0};
	gc_etcd_txn_result res = {0};
	int rc = -1;

	*prev = NULL;
	if (!etcd)
		goto out;
	if (!ktask || !kstat || !know) {
		out_of_memory(c);
		goto out;
	}
	/* Exactly these keys (never a prefix: task "ab" must not take "abc"
	 * with it), and only if the task exists. */
	memset(&cmp, 0, sizeof(cmp));
	cmp.key = ktask;
	cmp.target = GC_ETCD_CMP_CREATE;
	cmp.result = GC_ETCD_CMP_GREATER;
	cmp.number = 0;
	memset(ops, 0, sizeof(ops));
	ops[0].type = GC_ETCD_OP_DELETE;
	ops[0].key = ktask;
	ops[0].flags = GC_ETCD_PREV_KV;
	ops[1].type = GC_ETCD_OP_DELETE;
	ops[1].key = kstat;
	ops[2].type = GC_ETCD_OP_DELETE;
	ops[2].key = know;
	rc = gc_etcd_txn(&res, etcd, &tx, &err);
	if (rc) {
		etcd_failed(c, rc, &err);
		rc = -1;
		goto out;
	}
	if (res.succeeded)
		gc__cache_written(c->svc->cache, res.revision);
	if (!res.succeeded) {
		rc = not_found(c, pid, tid);
	} else if (res.responses_count && res.responses[0].kvs_count) {
		const gc_etcd_kv *kv = &res.responses[0].kvs[0];
		*prev = etcd_json(kv->value, kv->value_len);
	} else {
		*prev = cJSON_CreateObject();
	}
	gc_etcd_txn_result_clear(&res);
out:
	free(ktask);
	free(kstat);
	free(know);
	return rc;
}

/* -------------------------------------------------------------- signals */

/* A signal to the agents under a lease that ends it by itself; `key` is
 * freed. */
static int signal_agents(gc__ctx *c, char *key, const char *value, size_t len)
{
	int rc = key ? put_leased(c, key, value, len, SIGNAL_LEASE_TTL)
		     : out_of_memory(c);
	free(key);
	return rc;
}

int gc__task_kill(gc__ctx *c, int64_t pid, const char *tid)
{
	/* Agents watching P/kill/<pid>/ end the run's process group; the
	 * task's schedule (status) is left alone. */
	return signal_agents(c, gc_key_kill(c->svc->prefix, pid, tid), "", 0);
}

int gc__task_run_now(gc__ctx *c, int64_t pid, const char *tid,
		     const char *value, size_t len)
{
	return signal_agents(c, gc_key_run_now(c->svc->prefix, pid, tid), value,
			     len);
}

/* -------------------------------------------------------------- project */

int gc__project_purge(gc__ctx *c, int64_t pid, int64_t *deleted)
{
	gc_error err = {0, ""};
	gc_etcd *etcd = ctx_etcd(c);
	gc_etcd_response r = {0};
	char *prefix;
	int rc;
	*deleted = 0;
	if (!etcd)
		return -1;
	/* "P/<pid>/" ends with '/', so project 1 never takes project 10's
	 * keys with it. */
	prefix = gc_key_project_prefix(c->svc->prefix, pid);
	if (!prefix)
		return out_of_memory(c);
	rc = gc_etcd_delete(&r, deleted, etcd, prefix, GC_ETCD_PREFIX, &err);
	free(prefix);
	if (rc == 0 && *deleted)
		gc__cache_written(c->svc->cache, r.revision);
	gc_etcd_response_clear(&r);
	if (rc) {
		etcd_failed(c, rc, &err);
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- nodes */

int gc__node_each(gc__ctx *c, int64_t pid, gc__node_fn fn, void *arg)
{
	gc_etcd_response r = {0};
	gc_key_info ki;
	int64_t rev;
	int hit = gc__cache_node_each(c->svc->cache, pid, fn, arg, &rev);
	if (hit > 0) {
		cache_rev_header(c, rev);
		return 0;
	}
	if (hit < 0)
		return out_of_memory(c);
	/* One range read: P/register/<pid>/, or P/register/ for every
	 * project at once. */
	if (get_prefix(c,
		       pid ? gc_key_register_prefix(c->svc->prefix, pid)
			   : gc__sprintf("%s/register/", c->svc->prefix),
		       0, &r))
		return -1;
	for (size_t i = 0; i < r.kvs_count; i++) {
		gc__node n;
		if (gc_key_parse(c->svc->prefix, r.kvs[i].key, r.kvs[i].key_len,
				 &ki) != GC_KEY_REGISTER)
			continue;
		gc__node_decode(&n, ki.project_id, ki.ip, r.kvs[i].value,
				r.kvs[i].value_len);
		if (n.ip && n.version)
			fn(&n, arg);
		gc__node_clear(&n);
	}
	gc_etcd_response_clear(&r);
	return 0;
}

int gc__node_command(gc__ctx *c, int64_t pid, const char *ip, const char *cmd)
{
	gc_error err = {0, ""};
	gc_etcd_response r = {0};
	gc_etcd *etcd = ctx_etcd(c);
	char *kreg, *kcmd;
	int rc = -1;
	if (!etcd)
		return -1;
	kreg = gc_key_register(c->svc->prefix, pid, ip);
	kcmd = gc_key_agent_cmd(c->svc->prefix, ip, cmd);
	if (!kreg || !kcmd) {
		gc__reply_err(c, GC__C_BAD_REQUEST,
			      "parameter \"client_ip\": not a valid agent "
			      "address");
		goto out;
	}
	/* Only agents serving this project may be told what to do by its
	 * members. */
	rc = gc_etcd_get(&r, etcd, kreg, NULL, &err);
	if (rc) {
		etcd_failed(c, rc, &err);
		rc = -1;
	} else if (!r.kvs_count) {
		gc__reply_err(c, GC__C_NOT_FOUND,
			      "no agent %s is registered in project %" PRId64,
			      ip, pid);
		rc = -1;
	} else {
		rc = put_leased(c, kcmd, cmd, strlen(cmd), AGENT_CMD_LEASE_TTL);
	}
	gc_etcd_response_clear(&r);
out:
	free(kreg);
	free(kcmd);
	return rc;
}
