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

static cJSON *json_log(const gc_store_log *l)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddNumberToObject(o, "id", (double)l->id);
	cJSON_AddNumberToObject(o, "project_id", (double)l->project_id);
	cJSON_AddStringToObject(o, "task_id", l->task_id ? l->task_id : "");
	cJSON_AddStringToObject(o, "project", l->project ? l->project : "");
	cJSON_AddStringToObject(o, "name", l->name ? l->name : "");
	cJSON_AddStringToObject(o, "result", l->result ? l->result : "");
	cJSON_AddNumberToObject(o, "start_time", (double)l->start_time);
	cJSON_AddNumberToObject(o, "end_time", (double)l->end_time);
	cJSON_AddStringToObject(o, "command", l->command ? l->command : "");
	cJSON_AddNumberToObject(o, "with_error", l->with_error);
	cJSON_AddStringToObject(o, "client_ip", l->client_ip ? l->client_ip : "");
	cJSON_AddNumberToObject(o, "plan_time", (double)l->plan_time);
	cJSON_AddStringToObject(o, "run_id", l->run_id ? l->run_id : "");
	return o;
}

void gc__h_log_list(gc__ctx *c, const gc__arg *a)
{
	gc_error err = {0, ""};
	gc_store_log_query q;
	gc_store_logs l = {0};
	int64_t *ids;
	size_t n;
	cJSON *o, *arr;
	int rc;

	if (log_scope(c, &a[0], &ids, &n) != 0)
		return;
	memset(&q, 0, sizeof(q));
	q.project_ids = ids;
	q.n_project_ids = n;
	q.task_id = a[1].present ? a[1].s : NULL;
	q.page = a[2].present ? (int)a[2].i : 1;
	q.page_size = a[3].present ? (int)a[3].i : 20;
	q.errors_only = a[4].present ? (int)a[4].i : 0;
	rc = gc_store_log_list(c->svc->store, &q, &l, &err);
	free(ids);
	if (rc) {
		gc__reply_gcerr(c, GC__SRC_STORE, rc, &err);
		return;
	}
	o = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(o, "list");
	if (!o || !arr) {
		cJSON_Delete(o);
		gc_store_logs_clear(&l);
		gc__reply_err(c, GC__C_INTERNAL, "out of memory");
		return;
	}
	for (size_t i = 0; i < l.count; i++)
		cJSON_AddItemToArray(arr, json_log(&l.items[i]));
	cJSON_AddNumberToObject(o, "total", (double)l.total);
	gc_store_logs_clear(&l);
	gc__reply_ok(c, o);
}

void gc__h_log_clean(gc__ctx *c, const gc__arg *a)
{
	gc_error err = {0, ""};
	int64_t deleted = 0;
	cJSON *o;
	int rc;
	if (a[1].present && a[1].len && !gc_task_id_valid(a[1].s)) {
		gc__reply_err(c, GC__C_BAD_REQUEST,
			      "parameter \"task_id\": not a valid task id");
		return;
	}
	if (gc__require_project(c, a[0].i, 1, NULL) != 0)
		return;
	rc = gc_store_log_delete(c->svc->store, a[0].i,
				 a[1].present ? a[1].s : NULL, 0, &deleted,
				 &err);
	if (rc) {
		gc__reply_gcerr(c, GC__SRC_STORE, rc, &err);
		return;
	}
	o = cJSON_CreateObject();
	if (o)
		cJSON_AddNumberToObject(o, "deleted", (double)deleted);
	gc__reply_ok(c, o);
}

void gc__h_log_recent(gc__ctx *c, const gc__arg *a)
{
	gc_error err = {0, ""};
	gc_store_day_count days[7];
	int64_t *ids;
	size_t n;
	cJSON *arr;
	int rc;

	if (log_scope(c, &a[0], &ids, &n) != 0)
		return;
	rc = gc_store_log_recent(c->svc->store, ids, n, 0, days, &err);
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
