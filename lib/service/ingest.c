/* POST /api/v1/report: the agents' results and warnings, with the body and
 * Report-Type header of the original's report_addr protocol. A result is
 * stored once per run id, so an agent re-sending after a lost answer
 * leaves one row. Anything but 200 makes the agent retry. */
#include "svc.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Constant-time comparison of the presented token. */
static int token_ok(const char *want, const char *got)
{
	size_t lw = strlen(want), lg = got ? strlen(got) : 0;
	unsigned char d = (unsigned char)(lw != lg);
	for (size_t i = 0; i < lw; i++)
		d |= (unsigned char)(want[i] ^ (i < lg ? got[i] : 0));
	return d == 0;
}

/* The agents send the [report] token as a bearer token. */
static const char *report_token(gc__ctx *c)
{
	const char *t = gc__bearer(c);
	return t ? t : c->header(c->hctx, "access-token");
}

static const char *outcome_of(const char *error)
{
	if (!error || !*error)
		return "success";
	if (strcmp(error, GC_RUN_ERR_TIMEOUT) == 0)
		return "timeout";
	if (strcmp(error, GC_RUN_ERR_KILLED) == 0)
		return "killed";
	if (strstr(error, "not completed") || strstr(error, "skipped"))
		return "skipped";
	return "error";
}

static void ingest_result(gc__ctx *c)
{
	gc_service *svc = c->svc;
	gc_error err = {0, ""};
	gc_result r = GC_RESULT_INIT;
	gc_store_project p = {0};
	gc_store_log row = {0};
	size_t inserted = 0;
	int rc;

	rc = gc_result_from_json(&r, c->body, c->body_len, &err);
	if (rc == 0 && (r.task.project_id <= 0 || !r.task.task_id ||
			!*r.task.task_id)) {
		rc = gc__seterr(&err, GC_EINVAL,
				"execute_info.task needs project_id and "
				"task_id");
	}
	if (rc) {
		gc__metrics_inc(svc->metrics, GC__M_INGEST_ERR_DECODE);
		/* the agent's run is not recorded: say so where it is seen */
		gc__svc_log(svc, GC_LOG_WARNING,
			    "report from %s: refused a result body: %s",
			    c->remote ? c->remote : "?", err.msg);
		gc__reply_err(c, GC__C_BAD_REQUEST, "bad result body: %s",
			      err.msg);
		goto out;
	}
	/* The project's title at the time of the run, as the original kept
	 * it; a project deleted meanwhile still gets its row. */
	rc = gc_store_project_get(&p, svc->store, r.task.project_id, &err);
	if (rc && rc != GC_ENOTFOUND) {
		gc__metrics_inc(svc->metrics, GC__M_INGEST_ERR_STORE);
		gc__reply_gcerr(c, GC__SRC_STORE, rc, &err);
		goto out;
	}
	/* The same row the agents' SQL sink writes (run id derived the same
	 * way for bodies without one), its output capped at [log]
	 * output_limit as the agents cap it. */
	rc = gc_store_log_from_result(&row, &r, c->remote, p.title,
				      svc->output_limit, &err);
	if (rc) {
		gc__reply_gcerr(c, GC__SRC_OTHER, rc, &err);
		goto out;
	}
	rc = gc_store_log_insert(&inserted, svc->store, &row, 1, &err);
	if (rc) {
		gc__metrics_inc(svc->metrics, GC__M_INGEST_ERR_STORE);
		gc__reply_gcerr(c, GC__SRC_STORE, rc, &err);
		goto out;
	}
	if (inserted) {
		/* Said once per stored run: an agent whose output_limit is
		 * above the service's loses the middle of its outputs. */
		if (r.output_len > svc->output_limit + GC__OMITTED_MARKER_MAX)
			gc__svc_log(
			    svc, GC_LOG_WARNING,
			    "report: run %.128s of task %.128s (project "
			    "%" PRId64
			    ") from %.64s: output of %zu bytes stored cut to "
			    "[log] output_limit (%zu bytes)",
			    row.run_id, r.task.task_id, r.task.project_id,
			    row.client_ip, r.output_len, svc->output_limit);
		gc__metrics_inc(svc->metrics, GC__M_INGEST_RESULTS);
		gc__metrics_result(svc->metrics, r.task.project_id,
				   outcome_of(r.error),
				   (double)(r.start_time_ns - r.plan_time_ns) /
					   1e9,
				   r.plan_time_ns != 0 && r.start_time_ns != 0);
	} else {
		gc__metrics_inc(svc->metrics, GC__M_INGEST_DUPLICATES);
	}
	gc__reply_ok(c, cJSON_CreateObject());
out:
	gc_store_log_clear(&row);
	gc_store_project_clear(&p);
	gc_result_clear(&r);
}

static void ingest_warning(gc__ctx *c)
{
	gc_service *svc = c->svc;
	gc_error err = {0, ""};
	gc_warning w = GC_WARNING_INIT;
	int rc = gc_warning_from_json(&w, c->body, c->body_len, &err);
	const char *type;
	if (rc) {
		gc__metrics_inc(svc->metrics, GC__M_INGEST_ERR_DECODE);
		gc__svc_log(svc, GC_LOG_WARNING,
			    "report from %s: refused a warning body: %s",
			    c->remote ? c->remote : "?", err.msg);
		gc__reply_err(c, GC__C_BAD_REQUEST, "bad warning body: %s",
			      err.msg);
		return;
	}
	type = w.type ? w.type : "";
	if (strcmp(type, "task") == 0)
		gc__metrics_inc(svc->metrics, GC__M_WARN_TASK);
	else if (strcmp(type, "system") == 0)
		gc__metrics_inc(svc->metrics, GC__M_WARN_SYSTEM);
	else
		gc__metrics_inc(svc->metrics, GC__M_WARN_OTHER);
	gc__svc_log(svc, GC_LOG_WARNING,
		"agent %.64s warns (%.16s, project %" PRId64
		", task \"%.100s\"): %.512s",
		w.agent_ip ? w.agent_ip : c->remote, type, w.project_id,
		w.task_name ? w.task_name : "", w.data ? w.data : "");
	gc_warning_clear(&w);
	gc__reply_ok(c, cJSON_CreateObject());
}

static void report(gc__ctx *c, const gc__arg *a)
{
	const char *type;
	(void)a;
	if (c->svc->report_token && !token_ok(c->svc->report_token, report_token(c))) {
		gc__metrics_inc(c->svc->metrics, GC__M_INGEST_ERR_AUTH);
		gc__reply_err(c, GC__C_UNAUTHORIZED,
			      "unauthorized: send the [report] token as "
			      "\"Authorization: Bearer TOKEN\"");
		return;
	}
	type = c->header(c->hctx, "Report-Type");
	if (type && strcmp(type, "report_task_result") == 0) {
		ingest_result(c);
	} else if (type && strcmp(type, "report_warning") == 0) {
		ingest_warning(c);
	} else {
		gc__metrics_inc(c->svc->metrics, GC__M_INGEST_ERR_DECODE);
		gc__reply_err(c, GC__C_BAD_REQUEST,
			      "header Report-Type must be report_task_result or "
			      "report_warning");
	}
}

GC__ENDPOINT_NOARGS(gc__ep_report, report);
