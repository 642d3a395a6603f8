/* The task-log row a result becomes. One function for the reporter's SQL
 * sink and the service's ingest endpoint, so a run reported either way is
 * stored as the same row. */
#include "job_internal.h"

#include <gophercron/report.h>

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* The original's gc_task_log.result text, which Go's json.Marshal wrote:
 * {"result":OUTPUT,"system_error":ERROR,"error":""} */
static char *result_text(const gc_result *r)
{
	gc__buf b = GC__BUF_INIT;
	const char *e = r->error ? r->error : "";
	int rc = gc__buf_puts(&b, "{\"result\":");
	rc |= gc__json_gostr(&b, r->output ? r->output : "",
			     r->output ? r->output_len : 0);
	rc |= gc__buf_puts(&b, ",\"system_error\":");
	rc |= gc__json_gostr(&b, e, strlen(e));
	rc |= gc__buf_puts(&b, ",\"error\":\"\"}");
	if (rc) {
		gc__buf_free(&b);
		return NULL;
	}
	return gc__buf_detach(&b);
}

static char *dup_or_empty(const char *s)
{
	return gc__strdup(s ? s : "");
}

GC_EXTERN int gc_result_to_store_log(const gc_result *res,
				     const char *fallback_ip,
				     const char *project_title,
				     gc_store_log *out, gc_error *err)
{
	gc_store_log row;
	const char *ip;
	const gc_task *t;
	if (!res || !out)
		return gc__seterr(err, GC_EINVAL, "result to log row: NULL "
						  "argument");
	t = &res->task;
	if (t->project_id <= 0 || !t->task_id || !*t->task_id)
		return gc__seterr(err, GC_EINVAL,
				  "result to log row: execute_info.task needs "
				  "project_id and task_id");
	ip = t->client_ip && *t->client_ip ? t->client_ip
					   : fallback_ip ? fallback_ip : "";
	memset(&row, 0, sizeof(row));
	row.project_id = t->project_id;
	row.task_id = gc__strdup(t->task_id);
	row.project = dup_or_empty(project_title);
	row.name = dup_or_empty(t->name);
	row.result = result_text(res);
	row.start_time = res->start_time_ns / 1000000000;
	row.end_time = res->end_time_ns / 1000000000;
	row.command = dup_or_empty(t->command);
	row.with_error = res->error && *res->error ? 1 : 0;
	row.client_ip = gc__strdup(ip);
	row.plan_time = res->plan_time_ns / 1000000000;
	if (res->run_id && *res->run_id)
		row.run_id = gc__strdup(res->run_id);
	else
		/* A body without run_id (an original agent): derive one from
		 * what identifies the run, so a re-sent body is still
		 * recognised. */
		row.run_id = gc__sprintf("%" PRId64 "-%s-%" PRId64 "-%s-%" PRId64,
					 t->project_id, t->task_id,
					 res->plan_time_ns / 1000000000, ip,
					 res->start_time_ns);
	row.agent = gc__strdup(ip);
	if (!row.task_id || !row.project || !row.name || !row.result ||
	    !row.command || !row.client_ip || !row.run_id || !row.agent) {
		gc_store_log_clear(&row);
		return gc__seterr(err, GC_ENOMEM,
				  "result to log row: out of memory");
	}
	gc_store_log_clear(out);
	*out = row;
	return 0;
}
