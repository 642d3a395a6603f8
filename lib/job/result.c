/* Results and warnings: the bodies agents send to report_addr
 * (TaskExecuteResult and the warning), byte-compatible with GopherCron
 * 1.10, their run ids, and a result filled from an executor outcome. */
#include "job/job_internal.h"

#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- results */

GC_EXTERN char *gc_run_id(int64_t pid, const char *tid, int64_t plan_unix,
			  const char *ip)
{
	return gc__sprintf("%" PRId64 "-%s-%" PRId64 "-%s", pid, tid ? tid : "",
			   plan_unix, ip ? ip : "");
}

GC_EXTERN void gc_result_init(gc_result *r)
{
	if (r)
		memset(r, 0, sizeof(*r));
}

GC_EXTERN void gc_result_clear(gc_result *r)
{
	if (!r)
		return;
	gc_task_clear(&r->task);
	free(r->output);
	free(r->error);
	free(r->run_id);
	memset(r, 0, sizeof(*r));
}

GC_EXTERN int gc_result_copy(gc_result *dst, const gc_result *src,
			     gc_error *err)
{
	gc_result tmp;
	int rc;
	if (!dst || !src)
		return gc__seterr(err, GC_EINVAL, "result copy: NULL result");
	tmp = *src;
	memset(&tmp.task, 0, sizeof(tmp.task));
	tmp.output = tmp.error = tmp.run_id = NULL;
	if ((rc = gc_task_copy(&tmp.task, &src->task, err)))
		return rc;
	if (src->output && !(tmp.output = gc__strndup(src->output,
						      src->output_len)))
		rc = GC_ENOMEM;
	rc |= gc__job_strdup(&tmp.error, src->error);
	rc |= gc__job_strdup(&tmp.run_id, src->run_id);
	if (rc) {
		gc_result_clear(&tmp);
		return gc__seterr(err, GC_ENOMEM, "result copy: out of memory");
	}
	if (dst != src)
		gc_result_clear(dst);
	*dst = tmp;
	return 0;
}

GC_EXTERN int gc_result_outcome_take(gc_result *r, gc_exec_outcome *o)
{
	char *e;
	if (!r || !o)
		return GC_EINVAL;
	if (!(e = gc__strdup(o->error)))
		return GC_ENOMEM;
	free(r->error);
	r->error = e;
	free(r->output);
	r->output = o->output;
	r->output_len = o->output ? o->output_len : 0;
	o->output = NULL;
	o->output_len = 0;
	r->start_time_ns = o->start_ns;
	r->end_time_ns = o->end_ns;
	return 0;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

GC_EXTERN char *gc_result_to_json(const gc_result *r)
{
	gc__buf b = GC__BUF_INIT;
	char t[48];
	int rc = 0;
	if (!r)
		return NULL;
	rc |= gc__buf_puts(&b, "{\"execute_info\":{\"task\":");
	rc |= gc__task_json_append(&b, &r->task);
	gc__rfc3339_go(r->plan_time_ns, t);
	rc |= gc__buf_printf(&b, ",\"plan_time\":\"%s\"", t);
	gc__rfc3339_go(r->real_time_ns, t);
	rc |= gc__buf_printf(&b, ",\"real_time\":\"%s\"},\"output\":", t);
	rc |= gc__json_gostr(&b, r->output ? r->output : "",
			     r->output ? r->output_len : 0);
	rc |= gc__buf_puts(&b, ",\"error\":");
	rc |= gc__gojson_cstr(&b, r->error);
	gc__rfc3339_go(r->start_time_ns, t);
	rc |= gc__buf_printf(&b, ",\"start_time\":\"%s\"", t);
	gc__rfc3339_go(r->end_time_ns, t);
	rc |= gc__buf_printf(&b, ",\"end_time\":\"%s\",\"run_id\":", t);
	rc |= gc__gojson_cstr(&b, r->run_id);
	rc |= gc__buf_printf(&b, ",\"plan_unix\":%" PRId64 "}",
			     floor_div(r->plan_time_ns, 1000000000));
	if (rc) {
		gc__buf_free(&b);
		return NULL;
	}
	return gc__buf_detach(&b);
}

static int json_time(const cJSON *obj, const char *name, const char *where,
		     int64_t *out, gc_error *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
	if (!v || cJSON_IsNull(v)) {
		*out = 0;
		return 0;
	}
	if (!cJSON_IsString(v))
		return gc__seterr(err, GC_EINVAL,
				  "%s: field \"%s\": expected an RFC3339 time "
				  "string, got %s",
				  where, name, gc__gojson_type_name(v));
	if (gc__parse_rfc3339_go(v->valuestring, out))
		return gc__seterr(err, GC_EINVAL,
				  "%s: field \"%s\": \"%.40s\" is not an RFC3339 "
				  "time",
				  where, name, v->valuestring);
	return 0;
}


/* Replace r->output by the whole text of the body's "output" member when
 * it holds \u0000. */
static int output_with_nuls(gc_result *r, const char *json, size_t len,
			    gc_error *err)
{
	size_t bom = len >= 3 && !memcmp(json, "\xef\xbb\xbf", 3) ? 3 : 0;
	const char *raw;
	size_t rlen, n;
	char *full;
	int rc;
	if (gc__gojson_find(json + bom, json + len, "output", &raw, &rlen) ||
	    !memmem(raw, rlen, "\\u0000", 6))
		return 0;
	if ((rc = gc__json_unquote(raw, rlen, &full, &n)))
		return gc__seterr(err, rc, "result: field \"output\": %s",
				  rc == GC_ENOMEM ? "out of memory"
						  : "invalid string");
	free(r->output);
	r->output = full;
	r->output_len = n;
	return 0;
}

/* The body's optional plan_unix: it must agree with plan_time and stands
 * in for it when plan_time is absent. */
static int plan_from_unix(gc_result *r, const cJSON *root, gc_error *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "plan_unix");
	int64_t plan_unix = 0;
	int rc;
	if (!v || cJSON_IsNull(v))
		return 0;
	if ((rc = gc__gojson_int64(v, "result", "plan_unix", &plan_unix, err)))
		return rc;
	/* it becomes nanoseconds below: keep that in int64 range */
	if (plan_unix > INT64_MAX / 1000000000 ||
	    plan_unix < INT64_MIN / 1000000000)
		return gc__seterr(err, GC_EINVAL,
				  "result: plan_unix %" PRId64
				  " is out of range",
				  plan_unix);
	if (r->plan_time_ns &&
	    floor_div(r->plan_time_ns, 1000000000) != plan_unix)
		return gc__seterr(err, GC_EINVAL,
				  "result: plan_unix %" PRId64
				  " disagrees with plan_time",
				  plan_unix);
	if (!r->plan_time_ns)
		r->plan_time_ns = plan_unix * 1000000000;
	return 0;
}

GC_EXTERN int gc_result_from_json(gc_result *r, const char *json, size_t len,
				  gc_error *err)
{
	static const char *where = "result";
	gc_result tmp = GC_RESULT_INIT;
	const cJSON *ei, *v;
	const char *traw, *eiraw;
	size_t tlen, eilen;
	cJSON *root;
	int rc;
	if (!r)
		return gc__seterr(err, GC_EINVAL, "result: NULL result");
	if (!(root = gc__gojson_object(json, len, where, "output", err)))
		return err ? err->code : GC_EINVAL;
	ei = cJSON_GetObjectItemCaseSensitive(root, "execute_info");
	if (!cJSON_IsObject(ei)) {
		rc = gc__seterr(err, GC_EINVAL,
				"result: field \"execute_info\": expected an "
				"object, got %s",
				ei ? gc__gojson_type_name(ei) : "nothing");
		goto out;
	}
	v = cJSON_GetObjectItemCaseSensitive(ei, "task");
	if (!cJSON_IsObject(v)) {
		rc = gc__seterr(err, GC_EINVAL,
				"result: field \"execute_info.task\": expected "
				"an object, got %s",
				v ? gc__gojson_type_name(v) : "nothing");
		goto out;
	}
	/* decode the task from its own text so unknown members stay exact */
	if (!gc__gojson_find(json, json + len, "execute_info", &eiraw, &eilen) &&
	    !gc__gojson_find(eiraw, eiraw + eilen, "task", &traw, &tlen))
		rc = gc_task_from_json(&tmp.task, traw, tlen, err);
	else
		rc = gc__task_from_cjson(&tmp.task, v, "execute_info.task", err);
	if (rc) {
		gc__err_prefix(err, "result: execute_info");
		goto out;
	}
	if ((rc = json_time(ei, "plan_time", "result.execute_info",
			    &tmp.plan_time_ns, err)) ||
	    (rc = json_time(ei, "real_time", "result.execute_info",
			    &tmp.real_time_ns, err)) ||
	    (rc = json_time(root, "start_time", where, &tmp.start_time_ns,
			    err)) ||
	    (rc = json_time(root, "end_time", where, &tmp.end_time_ns, err)))
		goto out;
	v = cJSON_GetObjectItemCaseSensitive(root, "output");
	if ((rc = gc__gojson_string(v, where, "output", &tmp.output, err)))
		goto out;
	tmp.output_len = strlen(tmp.output);
	/* Output may hold NUL bytes (\u0000), which cJSON's copy stops at:
	 * decode it again from its text, whole. */
	if (cJSON_IsString(v) && (rc = output_with_nuls(&tmp, json, len, err)))
		goto out;
	v = cJSON_GetObjectItemCaseSensitive(root, "error");
	if ((rc = gc__gojson_string(v, where, "error", &tmp.error, err)))
		goto out;
	v = cJSON_GetObjectItemCaseSensitive(root, "run_id");
	if ((rc = gc__gojson_string(v, where, "run_id", &tmp.run_id, err)))
		goto out;
	if ((rc = plan_from_unix(&tmp, root, err)))
		goto out;
	rc = 0;
out:
	cJSON_Delete(root);
	if (rc) {
		gc_result_clear(&tmp);
		return rc;
	}
	gc_result_clear(r);
	*r = tmp;
	return 0;
}

/* ------------------------------------------------------------- warnings */

GC_EXTERN void gc_warning_clear(gc_warning *w)
{
	if (!w)
		return;
	free(w->data);
	free(w->type);
	free(w->agent_ip);
	free(w->task_name);
	memset(w, 0, sizeof(*w));
}

GC_EXTERN char *gc_warning_to_json(const gc_warning *w)
{
	gc__buf b = GC__BUF_INIT;
	int rc = 0;
	if (!w)
		return NULL;
	rc |= gc__buf_puts(&b, "{\"data\":");
	rc |= gc__gojson_cstr(&b, w->data);
	rc |= gc__buf_puts(&b, ",\"type\":");
	rc |= gc__gojson_cstr(&b, w->type);
	rc |= gc__buf_puts(&b, ",\"agent_ip\":");
	rc |= gc__gojson_cstr(&b, w->agent_ip);
	rc |= gc__buf_puts(&b, ",\"task_name\":");
	rc |= gc__gojson_cstr(&b, w->task_name);
	rc |= gc__buf_printf(&b, ",\"project_id\":%" PRId64 "}", w->project_id);
	if (rc) {
		gc__buf_free(&b);
		return NULL;
	}
	return gc__buf_detach(&b);
}

GC_EXTERN int gc_warning_from_json(gc_warning *w, const char *json,
				   size_t len, gc_error *err)
{
	static const char *where = "warning";
	gc_warning tmp = GC_WARNING_INIT;
	cJSON *root;
	int rc;
	if (!w)
		return gc__seterr(err, GC_EINVAL, "warning: NULL warning");
	if (!(root = gc__gojson_object(json, len, where, NULL, err)))
		return err ? err->code : GC_EINVAL;
	if ((rc = gc__gojson_string(
		 cJSON_GetObjectItemCaseSensitive(root, "data"), where, "data",
		 &tmp.data, err)) ||
	    (rc = gc__gojson_string(
		 cJSON_GetObjectItemCaseSensitive(root, "type"), where, "type",
		 &tmp.type, err)) ||
	    (rc = gc__gojson_string(
		 cJSON_GetObjectItemCaseSensitive(root, "agent_ip"), where,
		 "agent_ip", &tmp.agent_ip, err)) ||
	    (rc = gc__gojson_string(
		 cJSON_GetObjectItemCaseSensitive(root, "task_name"), where,
		 "task_name", &tmp.task_name, err)))
		goto out;
	{
		const cJSON *v =
			cJSON_GetObjectItemCaseSensitive(root, "project_id");
		if (v)
			rc = gc__gojson_int64(v, where, "project_id",
					      &tmp.project_id, err);
	}
out:
	cJSON_Delete(root);
	if (rc) {
		gc_warning_clear(&tmp);
		return rc;
	}
	gc_warning_clear(w);
	*w = tmp;
	return 0;
}

GC_EXTERN int gc_warning_for_result(gc_warning *w, const gc_result *r,
				    const char *agent_ip, gc_error *err)
{
	gc_warning tmp = GC_WARNING_INIT;
	if (!w || !r)
		return gc__seterr(err, GC_EINVAL, "warning: NULL argument");
	tmp.data = gc__strdup(r->error ? r->error : "");
	tmp.type = gc__strdup("task");
	tmp.agent_ip = gc__strdup(agent_ip ? agent_ip : "");
	tmp.task_name = gc__strdup(r->task.name ? r->task.name : "");
	tmp.project_id = r->task.project_id;
	if (!tmp.data || !tmp.type || !tmp.agent_ip || !tmp.task_name) {
		gc_warning_clear(&tmp);
		return gc__seterr(err, GC_ENOMEM, "warning: out of memory");
	}
	gc_warning_clear(w);
	*w = tmp;
	return 0;
}
