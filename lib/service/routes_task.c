/* /api/v1/crontab/... and /api/v1/client/...: what the caller may do to
 * the tasks and nodes of its projects. The keys themselves are read and
 * written in tasks.c. */
#include "svc.h"

#include <gophercron/cron.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int check_task_id(gc__ctx *c, const char *tid)
{
	if (!gc_task_id_valid(tid)) {
		gc__reply_err(c, GC__C_BAD_REQUEST,
			      "parameter \"task_id\": not a valid task id "
			      "(1-%d characters of A-Z a-z 0-9 . _ -)",
			      GC_TASK_ID_MAX);
		return -1;
	}
	return 0;
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

static void apply_args(gc_task *t, int is_new, const void *arg)
{
	const gc__arg *a = arg;
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
	/* no task_id (or an empty one): a new task */
	const char *tid = gc__arg_str(&a[SAVE_TASK], "");
	gc_cron *cron = NULL;
	cJSON *prev;

	if (*tid && check_task_id(c, tid) != 0)
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
	/* The original answers an update with the previous definition, a
	 * new task with null. */
	if (gc__task_save(c, pid, *tid ? tid : NULL, apply_args, a, &prev) == 0)
		gc__reply_ok(c, prev);
}

GC__ENDPOINT(gc__ep_task_save, save_args, SAVE_NARGS, task_save);

/* ------------------------------------------------ delete, kill, execute */

/* project_id and task_id: delete, kill, execute */
enum { TASK_PROJECT, TASK_ID, TASK_NARGS };
static const gc__argspec task_args[] = {
    [TASK_PROJECT] = GC__INT("project_id", GC__ARG_REQ, 1, GC__ID_MAX),
    [TASK_ID] = GC__STR("task_id", GC__ARG_REQ, GC_TASK_ID_MAX),
};

/* The task of the request, in a project the caller can see. */
static int task_arg(gc__ctx *c, const gc__arg *a)
{
	if (check_task_id(c, a[TASK_ID].s) != 0 ||
	    gc__require_project(c, a[TASK_PROJECT].i, 0, NULL) != 0)
		return -1;
	return 0;
}

static void task_delete(gc__ctx *c, const gc__arg *a)
{
	cJSON *prev;
	/* answered with the deleted definition */
	if (task_arg(c, a) == 0 &&
	    gc__task_delete(c, a[TASK_PROJECT].i, a[TASK_ID].s, &prev) == 0)
		gc__reply_ok(c, prev);
}

GC__ENDPOINT(gc__ep_task_delete, task_args, TASK_NARGS, task_delete);

static void task_kill(gc__ctx *c, const gc__arg *a)
{
	gc_error err = {0, ""};
	int64_t pid = a[TASK_PROJECT].i;
	const char *tid = a[TASK_ID].s;
	gc_task t = GC_TASK_INIT;
	char *value = NULL;
	size_t len = 0;
	int running = 0;

	if (task_arg(c, a) != 0 ||
	    gc__task_get(c, pid, tid, &value, &len, &running) != 0)
		return;
	/* Saying "kill sent" for a run that does not exist misleads. A
	 * noseize task's runs on several agents share one t_status, which
	 * the first to end may remove: those are always signalled. */
	if (!running && gc_task_from_json(&t, value, len, &err) == 0 &&
	    !t.noseize)
		gc__reply_err(c, GC__C_TASK_NOT_RUNNING,
			      "task is not running: \"%s\" has no run in "
			      "progress, nothing to kill",
			      tid);
	else if (gc__task_kill(c, pid, tid) == 0)
		gc__reply_ok(c, cJSON_CreateObject());
	gc_task_clear(&t);
	free(value);
}

GC__ENDPOINT(gc__ep_task_kill, task_args, TASK_NARGS, task_kill);

static void task_execute(gc__ctx *c, const gc__arg *a)
{
	gc_error err = {0, ""};
	int64_t pid = a[TASK_PROJECT].i;
	const char *tid = a[TASK_ID].s;
	gc_task t = GC_TASK_INIT;
	char *value = NULL;
	size_t len = 0;
	int running = 0;

	if (task_arg(c, a) != 0 ||
	    gc__task_get(c, pid, tid, &value, &len, &running) != 0)
		return;
	if (gc_task_from_json(&t, value, len, &err) != 0) {
		gc__reply_err(c, GC__C_INTERNAL,
			      "stored task \"%s\" cannot be read: %s", tid,
			      err.msg);
	} else if (!t.noseize && running) {
		gc__reply_err(c, GC__C_TASK_RUNNING,
			      "task is running: \"%s\" has a run in progress "
			      "(kill it first, or wait)",
			      tid);
	} else if (gc__task_run_now(c, pid, tid, value, len) == 0) {
		/* agents run the definition the signal carries */
		gc__reply_ok(c, cJSON_CreateObject());
	}
	gc_task_clear(&t);
	free(value);
}

GC__ENDPOINT(gc__ep_task_execute, task_args, TASK_NARGS, task_execute);

/* ------------------------------------------------------------------ list */

/* project_id alone: list, client_list */
enum { PROJECT_ID, PROJECT_NARGS };
static const gc__argspec project_args[] = {
    [PROJECT_ID] = GC__INT("project_id", GC__ARG_REQ, 1, GC__ID_MAX),
};

struct task_list {
	gc__buf out;
	size_t n;
	int oom;
};

static int add_task(gc_task *t, void *arg)
{
	struct task_list *l = arg;
	char *json = gc_task_to_json(t);
	if (!json || (l->n++ && gc__buf_puts(&l->out, ",")) ||
	    gc__buf_puts(&l->out, json))
		l->oom = 1;
	free(json);
	return l->oom;
}

static void task_list(gc__ctx *c, const gc__arg *a)
{
	struct task_list l = {GC__BUF_INIT, 0, 0};
	int rc;
	if (gc__require_project(c, a[PROJECT_ID].i, 0, NULL) != 0)
		return;
	/* {"list":[TaskInfo with is_running, in key order]} */
	l.oom = gc__buf_puts(&l.out, "{\"list\":[") != 0;
	rc = l.oom ? 0 : gc__task_each(c, a[PROJECT_ID].i, add_task, &l);
	if (rc >= 0) {
		l.oom |= gc__buf_puts(&l.out, "]}") != 0;
		if (l.oom)
			gc__reply_err(c, GC__C_INTERNAL, "out of memory");
		else
			gc__reply_json_text(c, l.out.data);
	}
	gc__buf_free(&l.out);
}

GC__ENDPOINT(gc__ep_task_list, project_args, PROJECT_NARGS, task_list);

/* ----------------------------------------------------------------- nodes */

static void add_ip_version(int64_t pid, const char *ip, const char *ver,
			   void *arg)
{
	char buf[GC_KEY_PART_MAX + 140];
	(void)pid;
	snprintf(buf, sizeof(buf), "%s:%s", ip, ver);
	cJSON_AddItemToArray((cJSON *)arg, cJSON_CreateString(buf));
}

static void task_client_list(gc__ctx *c, const gc__arg *a)
{
	int64_t pid = a[PROJECT_ID].i;
	cJSON *o, *arr;
	if (gc__require_project(c, pid, 0, NULL) != 0)
		return;
	o = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(o, "list");
	if (!o || !arr) {
		cJSON_Delete(o);
		gc__reply_err(c, GC__C_INTERNAL, "out of memory");
		return;
	}
	/* {"list":["ip:version", ...]} */
	if (gc__node_each(c, pid, add_ip_version, arr) == 0)
		gc__reply_ok(c, o);
	else
		cJSON_Delete(o);
}

GC__ENDPOINT(gc__ep_task_client_list, project_args, PROJECT_NARGS,
	     task_client_list);

struct node_filter {
	cJSON *arr;
	const int64_t *ids;
	size_t n; /* 0 = every project */
};

static void add_node(int64_t pid, const char *ip, const char *ver, void *arg)
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

/* The ids of the projects the caller can see in *ids (malloc'd), NULL
 * for an admin, who sees every project. */
static int visible_ids(gc__ctx *c, int64_t **ids, size_t *n)
{
	gc_store_projects l = {0};
	*ids = NULL;
	*n = 0;
	if (gc__visible_projects(c, &l) != 0)
		return -1;
	if (!c->admin && l.count) {
		*ids = calloc(l.count, sizeof(**ids));
		if (!*ids) {
			gc_store_projects_clear(&l);
			gc__reply_err(c, GC__C_INTERNAL, "out of memory");
			return -1;
		}
		for (size_t i = 0; i < l.count; i++)
			(*ids)[i] = l.items[i].id;
		*n = l.count;
	}
	gc_store_projects_clear(&l);
	return 0;
}

/* [{project_id, client_ip, version}] for the given projects (all the
 * caller can see when ids is NULL). */
static void node_list(gc__ctx *c, const int64_t *ids, size_t n)
{
	struct node_filter f = {NULL, ids, n};
	int64_t *vis = NULL;
	if (!ids) {
		if (visible_ids(c, &vis, &f.n) != 0)
			return;
		if (!c->admin && !vis) {
			/* a user without projects sees no node */
			gc__reply_ok(c, cJSON_CreateArray());
			return;
		}
		f.ids = vis;
	}
	f.arr = cJSON_CreateArray();
	if (!f.arr)
		gc__reply_err(c, GC__C_INTERNAL, "out of memory");
	else if (gc__node_each(c, 0, add_node, &f) == 0)
		gc__reply_ok(c, f.arr);
	else
		cJSON_Delete(f.arr);
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
	int64_t pid = a[RELOAD_PROJECT].i;
	if (gc__require_project(c, pid, 0, NULL) == 0 &&
	    gc__node_command(c, pid, a[RELOAD_IP].s, "reload_config") == 0)
		gc__reply_ok(c, cJSON_CreateObject());
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
