/* /api/v1/log/... : task run logs from the SQL store. */
#include "svc.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* The project ids a log query may cover: the one asked for (checked), or
 * every project the caller can see. *ids NULL with *n 0 means "all"
 * (admins only); a caller with no project gets the impossible id 0. */
static int log_scope(gc__ctx *c, const gc__arg *pid, int64_t **ids, size_t *n)
{
	gc_store_projects l = {0};
	*ids = NULL;
	*n = 0;
	if (pid->present) {
		if (gc__require_project(c, pid->i, 0, NULL) != 0)
			return -1;
		*ids = malloc(sizeof(**ids));
		if (!*ids)
			goto oom;
		(*ids)[0] = pid->i;
		*n = 1;
		return 0;
	}
	if (c->admin)
		return 0;
	if (gc__visible_projects(c, &l) != 0)
		return -1;
	*ids = calloc(l.count ? l.count : 1, sizeof(**ids));
	if (!*ids) {
		gc_store_projects_clear(&l);
		goto oom;
	}
	for (size_t i = 0; i < l.count; i++)
		(*ids)[i] = l.items[i].id;
	*n = l.count ? l.count : 1; /* (*ids)[0] == 0 when there is none */
	gc_store_projects_clear(&l);
	return 0;
oom:
	gc__reply_err(c, GC__C_INTERNAL, "out of memory");
	return -1;
}

/* Smallest reply budget of log/list, in bytes of stored command and name
 * text. */
#define LIST_BUDGET_MIN (4u << 20)
/* log/list's results: whole up to 4 x this many bytes, else a
 * preview of the first and last this many (README, "REST API"). */
#define LIST_PREVIEW 2048

static int json_member(gc__buf *b, const char *name, const char *s)
{
	if (!s)
		s = "";
	return gc__buf_printf(b, ",\"%s\":", name) |
	       gc__json_quote(b, s, strlen(s));
}

/* One TaskLog, written straight into the reply (the rows are the bulk of
 * it: no second copy in a cJSON tree). Same members and order as the
 * original's, plus plan_time and run_id, and on a row listed shortened
 * "truncated": true (and "result_bytes", the whole result's length, on a
 * preview). */
static int json_log(gc__buf *b, const gc_store_log *l)
{
	int rc =
	    gc__buf_printf(b, "{\"id\":%" PRId64 ",\"project_id\":%" PRId64,
			   l->id, l->project_id);
	rc |= json_member(b, "task_id", l->task_id);
	rc |= json_member(b, "project", l->project);
	rc |= json_member(b, "name", l->name);
	rc |= json_member(b, "result", l->result);
	rc |= gc__buf_printf(
	    b, ",\"start_time\":%" PRId64 ",\"end_time\":%" PRId64,
	    l->start_time, l->end_time);
	rc |= json_member(b, "command", l->command);
	rc |= gc__buf_printf(b, ",\"with_error\":%d", l->with_error);
	rc |= json_member(b, "client_ip", l->client_ip);
	rc |= gc__buf_printf(b, ",\"plan_time\":%" PRId64, l->plan_time);
	rc |= json_member(b, "run_id", l->run_id);
	if (l->truncated)
		rc |= gc__buf_puts(b, ",\"truncated\":true");
	if (l->result_bytes)
		rc |= gc__buf_printf(b, ",\"result_bytes\":%" PRId64,
				     l->result_bytes);
	rc |= gc__buf_puts(b, "}");
	return rc;
}

enum {
	LIST_PROJECT,
	LIST_TASK,
	LIST_PAGE,
	LIST_PAGESIZE,
	LIST_ERRORS_ONLY,
	LIST_NARGS
};
static const gc__argspec list_args[] = {
    [LIST_PROJECT] = GC__INT("project_id", 0, 1, GC__ID_MAX),
    [LIST_TASK] = GC__STR("task_id", 0, GC_TASK_ID_MAX),
    [LIST_PAGE] = GC__INT("page", 0, 1, 1000000),
    [LIST_PAGESIZE] = GC__INT("pagesize", 0, 1, 1000),
    [LIST_ERRORS_ONLY] = GC__INT("errors_only", 0, 0, 1),
};

static void log_list(gc__ctx *c, const gc__arg *a)
{
	gc_error err = {0, ""};
	gc_store_log_query q;
	gc_store_logs l = {0};
	gc__buf b = GC__BUF_INIT;
	int64_t *ids;
	size_t n, cut = 0;
	int rc;

	if (log_scope(c, &a[LIST_PROJECT], &ids, &n) != 0)
		return;
	memset(&q, 0, sizeof(q));
	q.project_ids = ids;
	q.n_project_ids = n;
	q.task_id = gc__arg_str(&a[LIST_TASK], NULL);
	q.page = (int)gc__arg_int(&a[LIST_PAGE], 1);
	q.page_size = (int)gc__arg_int(&a[LIST_PAGESIZE], 20);
	q.errors_only = (int)gc__arg_int(&a[LIST_ERRORS_ONLY], 0);
	/* A bounded reply whatever the page size and the rows' sizes: long
	 * results come as previews, read so in SQL, and the name and command
	 * of the rows past the budget come cut. log/detail has a run whole. */
	q.preview_bytes = LIST_PREVIEW;
	q.max_bytes = c->svc->output_limit * 8;
	if (q.max_bytes < LIST_BUDGET_MIN)
		q.max_bytes = LIST_BUDGET_MIN;
	rc = gc_store_log_list(&l, c->svc->store, &q, &err);
	free(ids);
	if (rc) {
		gc__reply_gcerr(c, GC__SRC_STORE, rc, &err);
		return;
	}
	rc = gc__buf_puts(&b, "{\"list\":[");
	for (size_t i = 0; i < l.count; i++) {
		if (i)
			rc |= gc__buf_puts(&b, ",");
		rc |= json_log(&b, &l.items[i]);
		cut += l.items[i].truncated != 0;
		gc_store_log_clear(&l.items[i]); /* written: let it go */
	}
	rc |= gc__buf_printf(&b, "],\"total\":%" PRId64, l.total);
	/* Said only when it happened: answers stay as the original's. */
	if (cut)
		rc |= gc__buf_printf(&b,
				     ",\"truncated\":true,"
				     "\"truncated_rows\":%zu",
				     cut);
	rc |= gc__buf_puts(&b, "}");
	gc_store_logs_clear(&l);
	if (rc)
		gc__reply_err(c, GC__C_INTERNAL, "out of memory");
	else
		gc__reply_json_text(c, b.data);
	gc__buf_free(&b);
}

GC__ENDPOINT(gc__ep_log_list, list_args, LIST_NARGS, log_list);

enum { DETAIL_ID, DETAIL_PROJECT, DETAIL_NARGS };
static const gc__argspec detail_args[] = {
    [DETAIL_ID] = GC__INT("id", GC__ARG_REQ, 1, GC__ID_MAX),
    [DETAIL_PROJECT] = GC__INT("project_id", 0, 1, GC__ID_MAX),
};

/* Whether the caller may read a log of project `pid`: what log/list
 * shows them. 0 yes, 1 no, -1 answered (an error). */
static int log_visible(gc__ctx *c, int64_t pid)
{
	gc_error err = {0, ""};
	int member = 0, rc;
	if (c->admin)
		return 0;
	rc = gc_store_project_is_member(&member, c->svc->store, pid, c->user.id,
					&err);
	if (rc) {
		gc__reply_gcerr(c, GC__SRC_STORE, rc, &err);
		return -1;
	}
	return member ? 0 : 1;
}

/* One run whole: the row log/list has, its result never previewed nor
 * cut. A run of a project the caller cannot see answers as one that does
 * not exist, so ids tell nothing about other projects. */
static void log_detail(gc__ctx *c, const gc__arg *a)
{
	int64_t id = a[DETAIL_ID].i;
	gc_error err = {0, ""};
	gc_store_log l = {0};
	gc__buf b = GC__BUF_INIT;
	int rc = gc_store_log_get(&l, c->svc->store, id, &err), hidden = 0;
	if (rc && rc != GC_ENOTFOUND) {
		gc__reply_gcerr(c, GC__SRC_STORE, rc, &err);
		return;
	}
	if (rc == 0 && a[DETAIL_PROJECT].present &&
	    a[DETAIL_PROJECT].i != l.project_id)
		hidden = 1;
	else if (rc == 0 && (hidden = log_visible(c, l.project_id)) < 0)
		goto out;
	if (rc == GC_ENOTFOUND || hidden) {
		gc__reply_err(c, GC__C_NOT_FOUND, "log %" PRId64 " not found",
			      id);
		goto out;
	}
	if (json_log(&b, &l))
		gc__reply_err(c, GC__C_INTERNAL, "out of memory");
	else
		gc__reply_json_text(c, b.data);
out:
	gc_store_log_clear(&l);
	gc__buf_free(&b);
}

GC__ENDPOINT(gc__ep_log_detail, detail_args, DETAIL_NARGS, log_detail);

enum { CLEAN_PROJECT, CLEAN_TASK, CLEAN_NARGS };
static const gc__argspec clean_args[] = {
    [CLEAN_PROJECT] = GC__INT("project_id", GC__ARG_REQ, 1, GC__ID_MAX),
    [CLEAN_TASK] = GC__STR("task_id", 0, GC_TASK_ID_MAX),
};

static void log_clean(gc__ctx *c, const gc__arg *a)
{
	int64_t pid = a[CLEAN_PROJECT].i;
	const char *tid = gc__arg_str(&a[CLEAN_TASK], NULL);
	gc_error err = {0, ""};
	int64_t deleted = 0;
	cJSON *o;
	int rc;
	if (tid && *tid && !gc_task_id_valid(tid)) {
		gc__reply_err(c, GC__C_BAD_REQUEST,
			      "parameter \"task_id\": not a valid task id");
		return;
	}
	if (gc__require_project(c, pid, 1, NULL) != 0)
		return;
	rc = gc_store_log_delete(&deleted, c->svc->store, pid, tid, 0, &err);
	if (rc) {
		gc__reply_gcerr(c, GC__SRC_STORE, rc, &err);
		return;
	}
	o = cJSON_CreateObject();
	if (o)
		cJSON_AddNumberToObject(o, "deleted", (double)deleted);
	gc__reply_ok(c, o);
}

GC__ENDPOINT(gc__ep_log_clean, clean_args, CLEAN_NARGS, log_clean);

enum { RECENT_PROJECT, RECENT_NARGS };
static const gc__argspec recent_args[] = {
    [RECENT_PROJECT] = GC__INT("project_id", 0, 1, GC__ID_MAX),
};

static void log_recent(gc__ctx *c, const gc__arg *a)
{
	gc_error err = {0, ""};
	gc_store_day_count days[7];
	int64_t *ids;
	size_t n;
	cJSON *arr;
	int rc;

	if (log_scope(c, &a[RECENT_PROJECT], &ids, &n) != 0)
		return;
	rc = gc_store_log_recent(days, c->svc->store, ids, n, 0, &err);
	free(ids);
	if (rc) {
		gc__reply_gcerr(c, GC__SRC_STORE, rc, &err);
		return;
	}
	arr = cJSON_CreateArray();
	for (int i = 0; arr && i < 7; i++) {
		cJSON *o = cJSON_CreateObject();
		if (!o)
			break;
		cJSON_AddNumberToObject(o, "success_count",
					(double)days[i].success_count);
		cJSON_AddNumberToObject(o, "error_count",
					(double)days[i].error_count);
		cJSON_AddStringToObject(o, "date", days[i].date);
		cJSON_AddItemToArray(arr, o);
	}
	gc__reply_ok(c, arr);
}

GC__ENDPOINT(gc__ep_log_recent, recent_args, RECENT_NARGS, log_recent);
