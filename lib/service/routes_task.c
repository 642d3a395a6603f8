/* /api/v1/crontab/... : tasks in etcd (TaskInfo JSON under P/<pid>/<tid>)
 * and node health (P/register/<pid>/<ip>). Every write is one etcd
 * transaction, so a failed request leaves nothing half-written. */
#include "svc.h"

#include <gophercron/cron.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SIGNAL_LEASE_TTL 5   /* run-now and kill keys */
#define AGENT_CMD_LEASE_TTL 60
#define SAVE_RETRIES 5

/* A task definition or registration value read from etcd, through the
 * shared JSON check (nesting bounded, as every JSON from outside): the
 * tree, or NULL when it is not valid JSON. */
static cJSON *etcd_json(const char *v, size_t len)
{
	const gc__json_opts jo = {GC__JSON_DEPTH_JOB, 0, NULL};
	cJSON *o;
	return gc__json_parse(&o, v, len, &jo, NULL, NULL) ? NULL : o;
}

static int check_task_id(gc__ctx *c, const gc__arg *a)
{
	if (!gc_task_id_valid(a->s)) {
		gc__reply_err(c, GC__C_BAD_REQUEST,
			      "parameter \"task_id\": not a valid task id "
			      "(1-%d characters of A-Z a-z 0-9 . _ -)",
			      GC_TASK_ID_MAX);
		return -1;
	}
	return 0;
}

/* Read a task's key and its status key in one round trip. */
static int read_task(gc__ctx *c, gc_etcd *etcd, int64_t pid, const char *tid,
		     gc_etcd_txn_result *res, const gc_etcd_kv **task,
		     const gc_etcd_kv **status)
{
	gc_error err = {0, ""};
	char *ktask = gc_key_task(c->svc->prefix, pid, tid);
	char *kstat = gc_key_status(c->svc->prefix, pid, tid);
	gc_etcd_op ops[2];
	gc_etcd_txn_request tx = {NULL, 0, ops, 2, NULL, 0};
	int rc;
	*task = *status = NULL;
	if (!ktask || !kstat) {
		free(ktask);
		free(kstat);
		gc__reply_err(c, GC__C_INTERNAL, "out of memory");
		return -1;
	}
	memset(ops, 0, sizeof(ops));
	ops[0].type = GC_ETCD_OP_RANGE;
	ops[0].key = ktask;
	ops[1].type = GC_ETCD_OP_RANGE;
	ops[1].key = kstat;
	rc = gc_etcd_txn(res, etcd, &tx, &err);
	free(ktask);
	free(kstat);
	if (rc) {
		gc__reply_gcerr(c, GC__SRC_ETCD, rc, &err);
		return -1;
	}
	if (res->responses_count == 2) {
		if (res->responses[0].kvs_count)
			*task = &res->responses[0].kvs[0];
		if (res->responses[1].kvs_count)
			*status = &res->responses[1].kvs[0];
	}
	if (!*task) {
		gc_etcd_txn_result_dispose(res);
		gc__reply_err(c, GC__C_NOT_FOUND,
			      "task \"%s\" not found in project %" PRId64, tid,
			      pid);
		return -1;
	}
	return 0;
}

static int is_running_value(const gc_etcd_kv *kv)
{
	return kv && kv->value_len == 7 && memcmp(kv->value, "running", 7) == 0;
}

/* ------------------------------------------------------------------ save */

enum {
	SAVE_PROJECT,
	SAVE_TASK,
	SAVE_NAME,
	SAVE_COMMAND,
	SAVE_CRON,
	SAVE_REMARK,
	SAVE_TIMEOUT,
	SAVE_STATUS,
	SAVE_NOSEIZE,
	SAVE_EXCLUSION,
	SAVE_NARGS
};
static const gc__argspec save_args[] = {
    [SAVE_PROJECT] = GC__INT("project_id", GC__ARG_REQ, 1, GC__ID_MAX),
    [SAVE_TASK] = GC__STR("task_id", 0, GC_TASK_ID_MAX),
    [SAVE_NAME] = GC__STR("name", GC__ARG_REQ, GC__NAME_MAX),
    [SAVE_COMMAND] = GC__STR("command", GC__ARG_REQ, GC__COMMAND_MAX),
    [SAVE_CRON] = GC__STR("cron", GC__ARG_REQ, GC__CRON_MAX),
    [SAVE_REMARK] = GC__STR("remark", 0, GC__REMARK_MAX),
    [SAVE_TIMEOUT] = GC__INT("timeout", 0, 0, 31 * 86400),
    [SAVE_STATUS] = GC__INT("status", 0, 0, 1),
    [SAVE_NOSEIZE] = GC__INT("noseize", 0, 0, 1),
    [SAVE_EXCLUSION] = GC__INT("exclusion", 0, 0, 1),
};

static void apply_args(gc_task *t, const gc__arg *a, int is_new)
{
	/* Optional fields left out keep their stored value on an update (0
	 * / "" for a new task); required ones are always given. */
	free(t->name);
	t->name = gc__strdup(a[SAVE_NAME].s);
	free(t->command);
	t->command = gc__strdup(a[SAVE_COMMAND].s);
	free(t->cron);
	t->cron = gc__strdup(a[SAVE_CRON].s);
	if (a[SAVE_REMARK].present || is_new) {
		free(t->remark);
		t->remark = gc__strdup(gc__arg_str(&a[SAVE_REMARK], ""));
	}
	if (a[SAVE_TIMEOUT].present)
		t->timeout = a[SAVE_TIMEOUT].i;
	if (a[SAVE_STATUS].present)
		t->status = (int)a[SAVE_STATUS].i;
	if (a[SAVE_NOSEIZE].present)
		t->noseize = (int)a[SAVE_NOSEIZE].i;
	if (a[SAVE_EXCLUSION].present)
		t->exclusion = (int)a[SAVE_EXCLUSION].i;
	if (!t->client_ip)
		t->client_ip = gc__strdup("");
}

static void task_save(gc__ctx *c, const gc__arg *a)
{
	gc_error err = {0, ""};
	int64_t pid = a[SAVE_PROJECT].i;
	int is_new = !a[SAVE_TASK].present || a[SAVE_TASK].len == 0;
	gc_cron *cron = NULL;
	gc_etcd *etcd;
	char idbuf[GC_TASK_ID_BUF];
	const char *tid;
	char *key = NULL;
	int rc;

	if (!is_new && check_task_id(c, &a[SAVE_TASK]) != 0)
		return;
	/* The cron engine's message names the bad field. */
	if (gc_cron_parse(&cron, a[SAVE_CRON].s, a[SAVE_CRON].len, &err) != 0) {
		gc__reply_err(c, GC__C_BAD_CRON, "cron expression is wrong: %s",
			      err.msg);
		return;
	}
	gc_cron_free(cron);
	if (gc__require_project(c, pid, 0, NULL) != 0)
		return;
	if (!(etcd = gc__ctx_etcd(c)))
		return;

	if (is_new) {
		if (gc_task_id_new(idbuf, &err) != 0) {
			gc__reply_gcerr(c, GC__SRC_OTHER, GC_ESYS, &err);
			return;
		}
		tid = idbuf;
	} else {
		tid = a[SAVE_TASK].s;
	}
	key = gc_key_task(c->svc->prefix, pid, tid);
	if (!key) {
		gc__reply_err(c, GC__C_INTERNAL, "out of memory");
		return;
	}

	for (int attempt = 0; attempt < SAVE_RETRIES; attempt++) {
		gc_task t = GC_TASK_INIT;
		gc_etcd_response old = {0};
		gc_etcd_compare cmp = {key, GC_ETCD_CMP_CREATE,
				       GC_ETCD_CMP_EQUAL, 0, NULL, 0};
		gc_etcd_op put;
		gc_etcd_txn_request tx = {&cmp, 1, &put, 1, NULL, 0};
		gc_etcd_txn_result res = {0};
		char *json;

		if (!is_new) {
			rc = gc_etcd_get(&old, etcd, key, NULL, &err);
			if (rc) {
				gc__reply_gcerr(c, GC__SRC_ETCD, rc, &err);
				break;
			}
			if (!old.kvs_count) {
				gc__reply_err(c, GC__C_NOT_FOUND,
					      "task \"%s\" not found in project "
					      "%" PRId64,
					      tid, pid);
				gc_etcd_response_dispose(&old);
				break;
			}
			if (gc_task_from_json(&t, old.kvs[0].value,
					      old.kvs[0].value_len, &err) != 0) {
				/* Unreadable definition: start from scratch
				 * but keep the id. */
				gc_task_clear(&t);
				t.create_time = (int64_t)time(NULL);
			}
			cmp.target = GC_ETCD_CMP_MOD;
			cmp.number = old.kvs[0].mod_revision;
		} else {
			t.create_time = (int64_t)time(NULL);
		}
		free(t.task_id);
		t.task_id = gc__strdup(tid);
		t.project_id = pid;
		t.is_running = 0;
		if (t.create_time <= 0)
			t.create_time = (int64_t)time(NULL);
		apply_args(&t, a, is_new);
		rc = gc_task_validate(&t, &err);
		if (rc) {
			gc_task_clear(&t);
			gc_etcd_response_dispose(&old);
			gc__reply_err(c, GC__C_BAD_REQUEST, "%s", err.msg);
			break;
		}
		json = gc_task_to_json(&t);
		gc_task_clear(&t);
		if (!json) {
			gc_etcd_response_dispose(&old);
			gc__reply_err(c, GC__C_INTERNAL, "out of memory");
			break;
		}
		/* Agents skip a bigger task: refuse to store one. */
		if (strlen(json) > GC_TASK_MAX_BYTES) {
			gc__reply_err(c, GC__C_BAD_REQUEST,
				      "task is %zu bytes as stored (TaskInfo "
				      "JSON), over the %d bytes a task may "
				      "have: shorten its command or remark",
				      strlen(json), GC_TASK_MAX_BYTES);
			free(json);
			gc_etcd_response_dispose(&old);
			break;
		}
		memset(&put, 0, sizeof(put));
		put.type = GC_ETCD_OP_PUT;
		put.key = key;
		put.value = json;
		put.value_len = strlen(json);
		rc = gc_etcd_txn(&res, etcd, &tx, &err);
		free(json);
		if (rc) {
			gc_etcd_response_dispose(&old);
			gc__reply_gcerr(c, GC__SRC_ETCD, rc, &err);
			break;
		}
		if (res.succeeded) {
			gc_etcd_txn_result_dispose(&res);
			if (is_new) {
				gc__reply_ok(c, NULL);
			} else {
				/* The original answers with the previous
				 * definition. */
				cJSON *prev = etcd_json(old.kvs[0].value,
							old.kvs[0].value_len);
				gc__reply_ok(c, prev);
			}
			gc_etcd_response_dispose(&old);
			break;
		}
		/* Changed (or, for a new id, taken) in between: read again. */
		gc_etcd_txn_result_dispose(&res);
		gc_etcd_response_dispose(&old);
		if (is_new) {
			if (gc_task_id_new(idbuf, &err) != 0) {
				gc__reply_gcerr(c, GC__SRC_OTHER, GC_ESYS, &err);
				break;
			}
			free(key);
			key = gc_key_task(c->svc->prefix, pid, idbuf);
			if (!key) {
				gc__reply_err(c, GC__C_INTERNAL, "out of memory");
				break;
			}
		}
		if (attempt == SAVE_RETRIES - 1)
			gc__reply_err(c, 409,
				      "task \"%s\" is being changed by someone "
				      "else; try again",
				      tid);
	}
	free(key);
}

GC__ENDPOINT(gc__ep_task_save, save_args, SAVE_NARGS, task_save);

/* ---------------------------------------------------------------- delete */

/* project_id and task_id: delete, kill, execute */
enum { TASK_PROJECT, TASK_ID, TASK_NARGS };
static const gc__argspec task_args[] = {
    [TASK_PROJECT] = GC__INT("project_id", GC__ARG_REQ, 1, GC__ID_MAX),
    [TASK_ID] = GC__STR("task_id", GC__ARG_REQ, GC_TASK_ID_MAX),
};

static void task_delete(gc__ctx *c, const gc__arg *a)
{
	gc_error err = {0, ""};
	int64_t pid = a[TASK_PROJECT].i;
	const char *tid = a[TASK_ID].s;
	gc_etcd *etcd;
	char *ktask, *kstat, *know;
	gc_etcd_compare cmp;
	gc_etcd_op ops[3];
	gc_etcd_txn_request tx = {&cmp, 1, ops, 3, NULL, 0};
	gc_etcd_txn_result res = {0};
	int rc;

	if (check_task_id(c, &a[TASK_ID]) != 0 ||
	    gc__require_project(c, pid, 0, NULL) != 0 ||
	    !(etcd = gc__ctx_etcd(c)))
		return;
	ktask = gc_key_task(c->svc->prefix, pid, tid);
	kstat = gc_key_status(c->svc->prefix, pid, tid);
	know = gc_key_run_now(c->svc->prefix, pid, tid);
	if (!ktask || !kstat || !know) {
		gc__reply_err(c, GC__C_INTERNAL, "out of memory");
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
		gc__reply_gcerr(c, GC__SRC_ETCD, rc, &err);
		goto out;
	}
	if (!res.succeeded) {
		gc__reply_err(c, GC__C_NOT_FOUND,
			      "task \"%s\" not found in project %" PRId64, tid,
			      pid);
	} else if (res.responses_count && res.responses[0].kvs_count) {
		const gc_etcd_kv *kv = &res.responses[0].kvs[0];
		gc__reply_ok(c, etcd_json(kv->value, kv->value_len));
	} else {
		gc__reply_ok(c, cJSON_CreateObject());
	}
	gc_etcd_txn_result_dispose(&res);
out:
	free(ktask);
	free(kstat);
	free(know);
}

GC__ENDPOINT(gc__ep_task_delete, task_args, TASK_NARGS, task_delete);

/* ------------------------------------------------------------------ list */

static int cmp_str(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/* project_id alone: list, client_list */
enum { PROJECT_ID, PROJECT_NARGS };
static const gc__argspec project_args[] = {
    [PROJECT_ID] = GC__INT("project_id", GC__ARG_REQ, 1, GC__ID_MAX),
};

static void task_list(gc__ctx *c, const gc__arg *a)
{
	gc_error err = {0, ""};
	int64_t pid = a[PROJECT_ID].i;
	gc_etcd_get_options go = GC_ETCD_GET_OPTIONS_INIT;
	gc_etcd_response r = {0};
	gc_etcd *etcd;
	gc__buf out = GC__BUF_INIT;
	char *prefix, **running = NULL;
	size_t n_running = 0, n_tasks = 0;
	gc_key_info ki;
	int rc, oom = 0;

	if (gc__require_project(c, pid, 0, NULL) != 0 ||
	    !(etcd = gc__ctx_etcd(c)))
		return;
	prefix = gc_key_project_prefix(c->svc->prefix, pid);
	if (!prefix) {
		gc__reply_err(c, GC__C_INTERNAL, "out of memory");
		return;
	}
	/* etcd answers a range in key order without being asked to sort. */
	go.flags = GC_ETCD_PREFIX;
	rc = gc_etcd_get(&r, etcd, prefix, &go, &err);
	free(prefix);
	if (rc) {
		gc__reply_gcerr(c, GC__SRC_ETCD, rc, &err);
		return;
	}
	/* Pass 1: which tasks run now (t_status = "running"). */
	running = calloc(r.kvs_count + 1, sizeof(*running));
	if (!running)
		oom = 1;
	for (size_t i = 0; !oom && i < r.kvs_count; i++) {
		const gc_etcd_kv *kv = &r.kvs[i];
		if (gc_key_parse(c->svc->prefix, kv->key, kv->key_len, &ki) ==
			    GC_KEY_STATUS &&
		    is_running_value(kv)) {
			running[n_running] = gc__strdup(ki.task_id);
			if (!running[n_running++])
				oom = 1;
		}
	}
	if (!oom)
		qsort(running, n_running, sizeof(*running), cmp_str);
	/* Pass 2: the tasks, in key order. */
	oom |= gc__buf_puts(&out, "{\"list\":[") != 0;
	for (size_t i = 0; !oom && i < r.kvs_count; i++) {
		const gc_etcd_kv *kv = &r.kvs[i];
		gc_task t = GC_TASK_INIT;
		const char *tidp;
		char *json;
		if (gc_key_parse(c->svc->prefix, kv->key, kv->key_len, &ki) !=
		    GC_KEY_TASK)
			continue;
		if (gc_task_from_json(&t, kv->value, kv->value_len, &err) != 0) {
			gc__svc_log(c->svc,
				GC_LOG_WARNING, "skipping %s: %s", kv->key,
				err.msg);
			continue;
		}
		tidp = ki.task_id;
		t.is_running = n_running &&
			       bsearch(&tidp, running, n_running,
				       sizeof(*running), cmp_str) != NULL;
		json = gc_task_to_json(&t);
		gc_task_clear(&t);
		if (!json) {
			oom = 1;
			break;
		}
		if ((n_tasks++ && gc__buf_puts(&out, ",")) ||
		    gc__buf_puts(&out, json))
			oom = 1;
		free(json);
	}
	oom |= gc__buf_puts(&out, "]}") != 0;
	if (oom)
		gc__reply_err(c, GC__C_INTERNAL, "out of memory");
	else
		gc__reply_json_text(c, out.data);
	for (size_t i = 0; running && i < n_running; i++)
		free(running[i]);
	free(running);
	gc__buf_free(&out);
	gc_etcd_response_dispose(&r);
}

GC__ENDPOINT(gc__ep_task_list, project_args, PROJECT_NARGS, task_list);

/* --------------------------------------------------------- kill, execute */

/* Put `key` = value under a fresh lease of `ttl` seconds. */
static int put_leased(gc__ctx *c, gc_etcd *etcd, const char *key,
		      const char *value, size_t len, int64_t ttl)
{
	gc_error err = {0, ""};
	int64_t lease = 0;
	int rc = gc_etcd_lease_grant(&lease, NULL, etcd, ttl, 0, &err);
	if (rc == 0)
		rc = gc_etcd_put(NULL, etcd, key, value, len, lease, 0, &err);
	if (rc) {
		gc__reply_gcerr(c, GC__SRC_ETCD, rc, &err);
		return -1;
	}
	return 0;
}

static void task_kill(gc__ctx *c, const gc__arg *a)
{
	int64_t pid = a[TASK_PROJECT].i;
	const char *tid = a[TASK_ID].s;
	gc_etcd_txn_result res = {0};
	const gc_etcd_kv *task, *status;
	gc_etcd *etcd;
	char *key;

	if (check_task_id(c, &a[TASK_ID]) != 0 ||
	    gc__require_project(c, pid, 0, NULL) != 0 ||
	    !(etcd = gc__ctx_etcd(c)) ||
	    read_task(c, etcd, pid, tid, &res, &task, &status) != 0)
		return;
	gc_etcd_txn_result_dispose(&res);
	/* Agents watching P/kill/<pid>/ end the run's process group; the
	 * task's schedule (status) is left alone. */
	key = gc_key_kill(c->svc->prefix, pid, tid);
	if (!key) {
		gc__reply_err(c, GC__C_INTERNAL, "out of memory");
		return;
	}
	if (put_leased(c, etcd, key, "", 0, SIGNAL_LEASE_TTL) == 0)
		gc__reply_ok(c, cJSON_CreateObject());
	free(key);
}

GC__ENDPOINT(gc__ep_task_kill, task_args, TASK_NARGS, task_kill);

static void task_execute(gc__ctx *c, const gc__arg *a)
{
	gc_error err = {0, ""};
	int64_t pid = a[TASK_PROJECT].i;
	const char *tid = a[TASK_ID].s;
	gc_etcd_txn_result res = {0};
	const gc_etcd_kv *task, *status;
	gc_task t = GC_TASK_INIT;
	gc_etcd *etcd;
	char *key;

	if (check_task_id(c, &a[TASK_ID]) != 0 ||
	    gc__require_project(c, pid, 0, NULL) != 0 ||
	    !(etcd = gc__ctx_etcd(c)) ||
	    read_task(c, etcd, pid, tid, &res, &task, &status) != 0)
		return;
	if (gc_task_from_json(&t, task->value, task->value_len, &err) != 0) {
		gc_etcd_txn_result_dispose(&res);
		gc__reply_err(c, GC__C_INTERNAL,
			      "stored task \"%s\" cannot be read: %s", tid,
			      err.msg);
		return;
	}
	if (!t.noseize && is_running_value(status)) {
		gc_task_clear(&t);
		gc_etcd_txn_result_dispose(&res);
		gc__reply_err(c, GC__C_TASK_RUNNING,
			      "task is running: \"%s\" has a run in progress "
			      "(kill it first, or wait)",
			      tid);
		return;
	}
	gc_task_clear(&t);
	key = gc_key_run_now(c->svc->prefix, pid, tid);
	if (!key) {
		gc_etcd_txn_result_dispose(&res);
		gc__reply_err(c, GC__C_INTERNAL, "out of memory");
		return;
	}
	if (put_leased(c, etcd, key, task->value, task->value_len,
		       SIGNAL_LEASE_TTL) == 0)
		gc__reply_ok(c, cJSON_CreateObject());
	free(key);
	gc_etcd_txn_result_dispose(&res);
}

GC__ENDPOINT(gc__ep_task_execute, task_args, TASK_NARGS, task_execute);

/* ------------------------------------------------------------ nodes */

/* Decode a registration value {"client_ip","version"}; the key's ip is used
 * when the value has none. */
static void reg_value(const gc_etcd_kv *kv, const char *key_ip, char *ip,
		      size_t iplen, char *ver, size_t verlen)
{
	cJSON *o = etcd_json(kv->value, kv->value_len);
	const cJSON *ci = cJSON_GetObjectItemCaseSensitive(o, "client_ip");
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "version");
	snprintf(ip, iplen, "%s",
		 cJSON_IsString(ci) && *ci->valuestring ? ci->valuestring
							: key_ip);
	snprintf(ver, verlen, "%s", cJSON_IsString(v) ? v->valuestring : "");
	cJSON_Delete(o);
}

/* Range-read registrations under `key` (a prefix) and call `fn` for each. */
static int each_registration(gc__ctx *c, gc_etcd *etcd, const char *key,
			     void (*fn)(void *arg, int64_t pid, const char *ip,
					const char *ver),
			     void *arg)
{
	gc_error err = {0, ""};
	gc_etcd_get_options go = GC_ETCD_GET_OPTIONS_INIT;
	gc_etcd_response r = {0};
	gc_key_info ki;
	char ip[GC_KEY_PART_MAX], ver[128];
	int rc;
	go.flags = GC_ETCD_PREFIX;
	rc = gc_etcd_get(&r, etcd, key, &go, &err);
	if (rc) {
		gc__reply_gcerr(c, GC__SRC_ETCD, rc, &err);
		return -1;
	}
	for (size_t i = 0; i < r.kvs_count; i++) {
		if (gc_key_parse(c->svc->prefix, r.kvs[i].key, r.kvs[i].key_len,
				 &ki) != GC_KEY_REGISTER)
			continue;
		reg_value(&r.kvs[i], ki.ip, ip, sizeof(ip), ver, sizeof(ver));
		fn(arg, ki.project_id, ip, ver);
	}
	gc_etcd_response_dispose(&r);
	return 0;
}

static void add_ip_version(void *arg, int64_t pid, const char *ip,
			   const char *ver)
{
	char buf[GC_KEY_PART_MAX + 140];
	(void)pid;
	snprintf(buf, sizeof(buf), "%s:%s", ip, ver);
	cJSON_AddItemToArray((cJSON *)arg, cJSON_CreateString(buf));
}

static void task_client_list(gc__ctx *c, const gc__arg *a)
{
	gc_etcd *etcd;
	char *key;
	cJSON *o, *arr;
	if (gc__require_project(c, a[PROJECT_ID].i, 0, NULL) != 0 ||
	    !(etcd = gc__ctx_etcd(c)))
		return;
	key = gc_key_register_prefix(c->svc->prefix, a[PROJECT_ID].i);
	o = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(o, "list");
	if (!key || !o || !arr) {
		free(key);
		cJSON_Delete(o);
		gc__reply_err(c, GC__C_INTERNAL, "out of memory");
		return;
	}
	if (each_registration(c, etcd, key, add_ip_version, arr) == 0)
		gc__reply_ok(c, o);
	else
		cJSON_Delete(o);
	free(key);
}

GC__ENDPOINT(gc__ep_task_client_list, project_args, PROJECT_NARGS,
	     task_client_list);

struct node_filter {
	cJSON *arr;
	const int64_t *ids;
	size_t n; /* 0 = every project */
};

static void add_node(void *arg, int64_t pid, const char *ip, const char *ver)
{
	struct node_filter *f = arg;
	cJSON *o;
	size_t i;
	for (i = 0; i < f->n; i++)
		if (f->ids[i] == pid)
			break;
	if (f->n && i == f->n)
		return;
	o = cJSON_CreateObject();
	if (!o)
		return;
	cJSON_AddNumberToObject(o, "project_id", (double)pid);
	cJSON_AddStringToObject(o, "client_ip", ip);
	cJSON_AddStringToObject(o, "version", ver);
	cJSON_AddItemToArray(f->arr, o);
}

/* [{project_id, client_ip, version}] for the given projects (all the
 * caller can see when ids is NULL). */
static void node_list(gc__ctx *c, const int64_t *ids, size_t n)
{
	gc_store_projects l = {0};
	struct node_filter f = {NULL, ids, n};
	int64_t *vis = NULL;
	gc_etcd *etcd;
	char *key;
	if (!ids) {
		if (gc__visible_projects(c, &l) != 0)
			return;
		if (!c->admin) {
			if (l.count == 0) {
				gc_store_projects_clear(&l);
				gc__reply_ok(c, cJSON_CreateArray());
				return;
			}
			vis = calloc(l.count, sizeof(*vis));
			if (!vis) {
				gc_store_projects_clear(&l);
				gc__reply_err(c, GC__C_INTERNAL, "out of memory");
				return;
			}
			for (size_t i = 0; i < l.count; i++)
				vis[i] = l.items[i].id;
			f.ids = vis;
			f.n = l.count;
		}
		gc_store_projects_clear(&l);
	}
	if (!(etcd = gc__ctx_etcd(c))) {
		free(vis);
		return;
	}
	/* One range read of P/register/ for every project at once. */
	key = gc__sprintf("%s/register/", c->svc->prefix);
	f.arr = cJSON_CreateArray();
	if (!key || !f.arr) {
		free(key);
		free(vis);
		cJSON_Delete(f.arr);
		gc__reply_err(c, GC__C_INTERNAL, "out of memory");
		return;
	}
	if (each_registration(c, etcd, key, add_node, &f) == 0)
		gc__reply_ok(c, f.arr);
	else
		cJSON_Delete(f.arr);
	free(key);
	free(vis);
}

static void client_list(gc__ctx *c, const gc__arg *a)
{
	(void)a;
	node_list(c, NULL, 0);
}

GC__ENDPOINT_NOARGS(gc__ep_client_list, client_list);

enum { MONITOR_PROJECTS, MONITOR_NARGS };
static const gc__argspec monitor_args[] = {
    [MONITOR_PROJECTS] = GC__STR("project_ids", 0, 4096),
};

static void task_monitor(gc__ctx *c, const gc__arg *a)
{
	int64_t ids[64];
	size_t n = 0;
	const char *p = gc__arg_str(&a[MONITOR_PROJECTS], "");
	if (!*p) {
		node_list(c, NULL, 0);
		return;
	}
	/* "1,2,3": each must be a project the caller can see. */
	while (*p) {
		char num[24];
		size_t len = strcspn(p, ",");
		int64_t v;
		if (len == 0 || len >= sizeof(num) || n == GC__ARRAY_LEN(ids)) {
			gc__reply_err(c, GC__C_BAD_REQUEST,
				      "parameter \"project_ids\": expected up to "
				      "%zu comma-separated project ids",
				      GC__ARRAY_LEN(ids));
			return;
		}
		memcpy(num, p, len);
		num[len] = '\0';
		if (gc__parse_int64(num, &v) != 0 || v <= 0) {
			gc__reply_err(c, GC__C_BAD_REQUEST,
				      "parameter \"project_ids\": \"%s\" is not "
				      "a project id",
				      num);
			return;
		}
		if (gc__require_project(c, v, 0, NULL) != 0)
			return;
		ids[n++] = v;
		p += len;
		if (*p == ',')
			p++;
	}
	node_list(c, ids, n);
}

GC__ENDPOINT(gc__ep_task_monitor, monitor_args, MONITOR_NARGS, task_monitor);

enum { RELOAD_PROJECT, RELOAD_IP, RELOAD_NARGS };
static const gc__argspec reload_args[] = {
    [RELOAD_PROJECT] = GC__INT("project_id", GC__ARG_REQ, 1, GC__ID_MAX),
    [RELOAD_IP] = GC__STR("client_ip", GC__ARG_REQ, GC__IP_MAX),
};

static void client_reload(gc__ctx *c, const gc__arg *a)
{
	gc_error err = {0, ""};
	int64_t pid = a[RELOAD_PROJECT].i;
	const char *ip = a[RELOAD_IP].s;
	gc_etcd_response r = {0};
	gc_etcd *etcd;
	char *kreg, *kcmd;
	int rc;

	if (gc__require_project(c, pid, 0, NULL) != 0 ||
	    !(etcd = gc__ctx_etcd(c)))
		return;
	kreg = gc_key_register(c->svc->prefix, pid, ip);
	kcmd = gc_key_agent_cmd(c->svc->prefix, ip, "reload_config");
	if (!kreg || !kcmd) {
		free(kreg);
		free(kcmd);
		gc__reply_err(c, GC__C_BAD_REQUEST,
			      "parameter \"client_ip\": not a valid agent "
			      "address");
		return;
	}
	/* Only agents serving this project may be told what to do by its
	 * members. */
	rc = gc_etcd_get(&r, etcd, kreg, NULL, &err);
	if (rc) {
		gc__reply_gcerr(c, GC__SRC_ETCD, rc, &err);
	} else if (!r.kvs_count) {
		gc__reply_err(c, GC__C_NOT_FOUND,
			      "no agent %s is registered in project %" PRId64,
			      ip, pid);
	} else if (put_leased(c, etcd, kcmd, "reload_config", 13,
			      AGENT_CMD_LEASE_TTL) == 0) {
		gc__reply_ok(c, cJSON_CreateObject());
	}
	gc_etcd_response_dispose(&r);
	free(kreg);
	free(kcmd);
}

GC__ENDPOINT(gc__ep_client_reload, reload_args, RELOAD_NARGS, client_reload);

/* ------------------------------------------------------------- cron next */

enum { NEXT_CRON, NEXT_N, NEXT_FROM, NEXT_NARGS };
static const gc__argspec next_args[] = {
    [NEXT_CRON] = GC__STR("cron", GC__ARG_REQ, GC__CRON_MAX),
    [NEXT_N] = GC__INT("n", 0, 1, 100),
    [NEXT_FROM] = GC__INT("from", 0, 0, 4102444800LL),
};

static void cron_next(gc__ctx *c, const gc__arg *a)
{
	gc_error err = {0, ""};
	gc_cron *cron = NULL;
	int64_t times[100];
	size_t n = (size_t)gc__arg_int(&a[NEXT_N], 5), got;
	int64_t from = gc__arg_int(&a[NEXT_FROM], (int64_t)time(NULL));
	cJSON *o, *list, *fmt;

	if (gc_cron_parse(&cron, a[NEXT_CRON].s, a[NEXT_CRON].len, &err) != 0) {
		gc__reply_err(c, GC__C_BAD_CRON, "cron expression is wrong: %s",
			      err.msg);
		return;
	}
	/* Agents schedule in their local time zone; so does this preview. */
	got = gc_cron_next_n(cron, from, GC_CRON_LOCAL, times, n);
	gc_cron_free(cron);
	o = cJSON_CreateObject();
	list = cJSON_AddArrayToObject(o, "list");
	fmt = cJSON_AddArrayToObject(o, "times");
	if (!o || !list || !fmt) {
		cJSON_Delete(o);
		gc__reply_err(c, GC__C_INTERNAL, "out of memory");
		return;
	}
	for (size_t i = 0; i < got; i++) {
		char ts[48];
		gc__rfc3339(times[i] * 1000000000LL, false, ts);
		cJSON_AddItemToArray(list, cJSON_CreateNumber((double)times[i]));
		cJSON_AddItemToArray(fmt, cJSON_CreateString(ts));
	}
	gc__reply_ok(c, o);
}

GC__ENDPOINT(gc__ep_cron_next, next_args, NEXT_NARGS, cron_next);
