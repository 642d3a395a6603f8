/* Agent runs: claimed tick -> prepared run -> started run -> result. A
 * tick won by a claim (or a noseize tick) is prepared (its task decoded,
 * its identity fixed), then started: a shell command on the executor or
 * an in-process handler on the handler runner; their outcomes come back
 * through the executor's and the runner's done callbacks, become results
 * (on_result, warnings) and end with the guarded delete of the run's
 * t_status key. Also kill requests and the t_status writes (README
 * "Agent", "etcd cost per run": claim.c has the whole picture).
 *
 * Reads and writes: the runs part; the task table's per-task count of
 * runs in progress (through task.c). */
#include "agent/agent_internal.h"

#include "job/job_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A t_status put of a run (the end of a run is a gc__delete_job). */
typedef struct status_job {
	gc__pool_job base;
	char *key;
	int64_t rev; /* the put's revision */
	int64_t lease;
	gc__run *run;
	int kind;
} status_job;

enum { STATUS_PUT = 1, STATUS_REASSERT };

static void run_free(gc__run *r)
{
	gc_task_clear(&r->task);
	free(r->task_id);
	free(r->sched_key);
	free(r->status_key);
	free(r->run_id);
	free(r);
}

/* ---------------------------------------------------------- results */

/* Results name the agent that ran them (as the original's do): the
 * task as stored in etcd has client_ip "". */
static int own_client_ip(gc_agent *a, gc_task *t)
{
	char *ip;
	if (t->client_ip && t->client_ip[0])
		return 0;
	if (!(ip = gc__strdup(a->conf.client_ip)))
		return GC_ENOMEM;
	free(t->client_ip);
	t->client_ip = ip;
	return 0;
}

static void deliver(gc_agent *a, gc_result *res)
{
	if (res->error && res->error[0]) {
		gc_warning w = GC_WARNING_INIT;
		gc_error err;
		if (gc_warning_for_result(&w, res, a->conf.client_ip, &err) ==
		    0) {
			gc__alog_report(&a->log, &w);
			gc_warning_clear(&w);
		}
	}
	gc__alog_msg(
	    &a->log, res->error && res->error[0] ? GC_LOG_NOTICE : GC_LOG_INFO,
	    "agent: run finished project=%lld task=%s plan=%lld "
	    "run_id=%s error=\"%s\" duration_ms=%lld output_bytes=%zu",
	    (long long)res->task.project_id, res->task.task_id,
	    (long long)(res->plan_time_ns / 1000000000LL),
	    res->run_id ? res->run_id : "", res->error ? res->error : "",
	    (long long)((res->end_time_ns - res->start_time_ns) / 1000000),
	    res->output_len);
	if (a->conf.opts.on_result)
		a->conf.opts.on_result(res, a->conf.opts.payload);
	GC__STAT(&a->stats, runs, 1);
}

void gc__run_not_run(gc_agent *a, const gc__tick *tk, const char *error)
{
	gc_result res = GC_RESULT_INIT;
	gc_error err;
	if (gc_task_from_json(&res.task, tk->json, tk->json_len, &err)) {
		gc_result_clear(&res);
		return;
	}
	if (!res.task.task_id[0]) {
		free(res.task.task_id);
		res.task.task_id = gc__strdup(tk->task_id);
	}
	if (!res.task.project_id)
		res.task.project_id = tk->project_id;
	if (own_client_ip(a, &res.task)) {
		gc_result_clear(&res);
		return;
	}
	int64_t now = gc__atime_now_ns(&a->time);
	res.plan_time_ns = tk->plan_ns;
	res.real_time_ns = now;
	res.start_time_ns = now;
	res.end_time_ns = now;
	res.output = gc__strdup("");
	res.error = gc__strdup(error);
	res.run_id = gc__strdup(tk->run_id);
	if (res.task.task_id && res.output && res.error && res.run_id)
		deliver(a, &res);
	gc_result_clear(&res);
}

/* A result of the run so far: its task (moved out of the run), times and
 * run id. */
static void run_result_init(gc__run *r, gc_result *res)
{
	res->task = r->task;
	gc_task_init(&r->task);
	res->plan_time_ns = r->plan_ns;
	res->real_time_ns = r->real_ns;
	res->run_id = gc__strdup(r->run_id);
}

/* on_start: the run so far, borrowing the run's strings. */
static void announce_start(gc_agent *a, gc__run *r)
{
	gc_result res = GC_RESULT_INIT;
	if (!a->conf.opts.on_start)
		return;
	res.task = r->task;
	res.plan_time_ns = r->plan_ns;
	res.real_time_ns = r->real_ns;
	res.start_time_ns = gc__atime_now_ns(&a->time);
	res.output = (char *)"";
	res.error = (char *)"";
	res.run_id = r->run_id;
	a->conf.opts.on_start(&res, a->conf.opts.payload);
}

/* ---------------------------------------------------------- t_status */

/* A t_status put: plain (noseize), or put back only if nobody has it
 * (re-asserted after the session lease was lost). */
static void status_run(gc__pool_job *job, void *etcd)
{
	status_job *j = (status_job *)job;
	if (j->kind == STATUS_PUT) {
		gc_etcd_response r = {0};
		job->rc = gc_etcd_put(&r, etcd, j->key, "running", 7, j->lease,
				      0, &job->err);
		j->rev = r.revision;
		gc_etcd_response_clear(&r);
		return;
	}
	gc_etcd_compare cmp = {
	    j->key, GC_ETCD_CMP_CREATE, GC_ETCD_CMP_EQUAL, 0, NULL, 0};
	gc_etcd_op op = {0};
	op.key = j->key;
	op.type = GC_ETCD_OP_PUT;
	op.value = "running";
	op.value_len = 7;
	op.lease = j->lease;
	gc_etcd_txn_request txn = {&cmp, 1, &op, 1, NULL, 0};
	gc_etcd_txn_result res = {0};
	job->rc = gc_etcd_txn(&res, etcd, &txn, &job->err);
	if (job->rc == 0 && !res.succeeded)
		job->rc = GC_ECONFLICT;
	j->rev = res.revision;
	gc_etcd_txn_result_clear(&res);
}

static void status_failed(gc_agent *a, const char *key, const gc_error *err)
{
	GC__STAT(&a->stats, etcd_errors, 1);
	gc__alog_msg(&a->log, GC_LOG_WARNING,
		     "agent: t_status update failed key=%s: %s "
		     "(it expires with the session lease)",
		     key, err->msg);
}

static void status_done(gc__pool_job *job)
{
	gc_agent *a = job->data;
	status_job *j = (status_job *)job;
	gc__run *r = j->run;
	if (job->rc && job->rc != GC_ECANCELED &&
	    !(job->rc == GC_ECONFLICT && j->kind != STATUS_PUT))
		status_failed(a, j->key, &job->err);
	if (job->rc == 0)
		r->status_rev = j->rev;
	r->status_pending = 0;
	if (r->end_pending) {
		if (r->status_rev)
			gc__status_end(a, r->status_key, r->status_rev);
		run_free(r);
	}
	free(j->key);
	free(j);
}

static void status_end_done(gc__pool_job *job)
{
	gc_agent *a = job->data;
	gc__delete_job *j = (gc__delete_job *)job;
	if (job->rc && job->rc != GC_ECANCELED)
		status_failed(a, j->key, &job->err);
	a->runs.status_jobs--;
	gc__delete_job_free(j);
}

/* The end of a run: t_status deleted only while it is still the one this
 * agent wrote (mod_revision == rev). */
void gc__status_end(gc_agent *a, const char *key, int64_t rev)
{
	gc__delete_job *j =
	    gc__delete_job_new(key, GC_ETCD_CMP_MOD, rev, status_end_done);
	if (!j)
		return; /* the key expires with the session lease */
	a->runs.status_jobs++;
	gc__agent_submit(a, &j->base);
}

static void status_put_submit(gc_agent *a, gc__run *r, int kind)
{
	int64_t lease = gc__leases_session(&a->leases);
	if (!lease)
		return; /* re-asserted once the session is back */
	status_job *j = calloc(1, sizeof(*j));
	if (j && !(j->key = gc__strdup(r->status_key))) {
		free(j);
		return;
	}
	if (!j)
		return;
	j->base.run = status_run;
	j->base.done = status_done;
	j->kind = kind;
	j->lease = lease;
	j->run = r;
	r->status_pending = 1;
	gc__agent_submit(a, &j->base);
}

void gc__runs_reassert_status(gc_agent *a)
{
	for (gc__run *r = a->runs.list; r; r = r->next)
		if (!r->status_pending)
			status_put_submit(a, r, STATUS_REASSERT);
}

/* ------------------------------------------------------------- runs */

static void run_link(gc_agent *a, gc__run *r)
{
	r->prev = NULL;
	r->next = a->runs.list;
	if (a->runs.list)
		a->runs.list->prev = r;
	a->runs.list = r;
	a->runs.n++;
	gc__atask *t = gc__tasks_get(&a->tasks, r->sched_key);
	if (t)
		t->running++;
	GC__STAT(&a->stats, running, 1);
}

static void run_unlink(gc_agent *a, gc__run *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		a->runs.list = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->prev = r->next = NULL;
	a->runs.n--;
	gc__atask *t = gc__tasks_get(&a->tasks, r->sched_key);
	if (t && t->running)
		t->running--;
	GC__STAT(&a->stats, running, -1);
}

/* The run's result is in: deliver it, then release its t_status. */
static void run_finish(gc_agent *a, gc__run *r, gc_result *res)
{
	deliver(a, res);
	run_unlink(a, r);
	r->done = 1;
	if (r->status_pending) {
		r->end_pending = 1; /* freed when the put comes back */
		return;
	}
	if (r->status_rev)
		gc__status_end(a, r->status_key, r->status_rev);
	run_free(r);
}

/* Build and deliver the result of a run that failed before starting. */
static void run_fail_early(gc_agent *a, gc__run *r, const char *error)
{
	gc_result res = GC_RESULT_INIT;
	int64_t now = gc__atime_now_ns(&a->time);
	run_result_init(r, &res);
	res.start_time_ns = now;
	res.end_time_ns = now;
	res.output = gc__strdup("");
	res.error = gc__strdup(error);
	run_finish(a, r, &res);
	gc_result_clear(&res);
}

/* Step 1, prepared: the run of a tick with its task decoded and its
 * identity fixed (the key is authoritative). NULL: it cannot run (logged). */
static gc__run *run_prepare(gc_agent *a, const gc__tick *tk, int64_t fence,
			    int64_t status_rev)
{
	gc__run *r = calloc(1, sizeof(*r));
	gc_error err;
	if (!r)
		goto oom;
	r->project_id = tk->project_id;
	r->plan_s = tk->plan_s;
	r->plan_ns = tk->plan_ns;
	r->fence = fence;
	r->status_rev = status_rev;
	r->run_now = tk->run_now;
	r->noseize = fence == 0;
	r->task_id = gc__strdup(tk->task_id);
	r->sched_key = gc__strdup(tk->sched_key);
	r->status_key = gc__strdup(tk->status_key);
	r->run_id = gc__strdup(tk->run_id);
	if (!r->task_id || !r->sched_key || !r->status_key || !r->run_id)
		goto oom;
	if (gc_task_from_json(&r->task, tk->json, tk->json_len, &err)) {
		gc__alog_msg(&a->log, GC_LOG_ERR, "agent: task %s: %s",
			     tk->task_id, err.msg);
		run_free(r);
		return NULL;
	}
	if (strcmp(r->task.task_id, r->task_id) != 0) {
		char *id = gc__strdup(r->task_id);
		if (!id)
			goto oom;
		free(r->task.task_id);
		r->task.task_id = id;
	}
	r->task.project_id = r->project_id;
	if (own_client_ip(a, &r->task))
		goto oom;
	return r;
oom:
	gc__alog_msg(&a->log, GC_LOG_ERR, "agent: out of memory starting %s",
		     tk->task_id);
	if (r)
		run_free(r);
	return NULL;
}

/* The monotonic instant a run starts at: its planned second by cluster
 * time, never before (a run-now request: at once). A claim that came
 * back late gives an instant already past: started at once. */
static int64_t run_start_at(gc_agent *a, const gc__run *r)
{
	if (r->run_now)
		return GC_EXEC_ASAP;
	return gc__atime_mono_at(&a->time, r->plan_ns);
}

/* Step 3a: an in-process handler on the handler runner. */
static void run_handler(gc_agent *a, gc__run *r)
{
	char name[64];
	gc_error err;
	gc__hjob_request hr;
	memset(&hr, 0, sizeof(hr));
	hr.task = &r->task;
	hr.plan_s = r->plan_s;
	hr.fence = r->fence;
	hr.run_id = r->run_id;
	hr.output_limit = (size_t)a->conf.output_limit;
	hr.userdata = r;
	hr.handler = gc__handler_find(a->handlers, r->task.command, &hr.args,
				      name, sizeof(name));
	if (!hr.handler) {
		char msg[128];
		snprintf(msg, sizeof(msg), "handler \"%s\" is not registered",
			 name);
		run_fail_early(a, r, msg);
		return;
	}
	if (r->task.timeout > 0)
		hr.timeout_ms = r->task.timeout * 1000;
	hr.start_at = run_start_at(a, r);
	if (gc__hjob_start(&r->hjob, a->runs.hrunner, &hr, &err)) {
		r->hjob = NULL;
		run_fail_early(a, r, err.msg);
	}
}

/* Step 3b: a shell command on the executor. */
static void run_exec(gc_agent *a, gc__run *r, const char *fence)
{
	gc_error err;
	gc_exec_request req = GC_EXEC_REQUEST_INIT;
	req.shell = a->conf.shell;
	req.command = r->task.command;
	req.timeout_ms = r->task.timeout > 0 ? r->task.timeout * 1000 : 0;
	req.kill_grace_ms = a->conf.kill_grace_ms;
	req.output_limit = (size_t)a->conf.output_limit;
	req.project_id = r->project_id;
	req.task_id = r->task_id;
	req.task_name = r->task.name;
	req.plan_unix = r->plan_s;
	req.agent_ip = a->conf.client_ip;
	req.run_id = r->run_id;
	req.fencing_token = fence;
	req.userdata = r;
	/* Prepared now, spawned at its instant by a spawner thread. */
	req.start_at = run_start_at(a, r);
	if (gc_exec_start(&r->exec_handle, a->runs.exec, &req, &err)) {
		r->exec_handle = 0;
		gc__alog_msg(&a->log, GC_LOG_ERR,
			     "agent: cannot start task %s: %s", r->task_id,
			     err.msg);
		run_fail_early(a, r, err.msg);
	}
}

/* Step 2, started: in the list of runs, logged, its t_status written
 * (noseize: claimed runs have theirs from the claim), announced, then
 * handed to the handler runner or the executor. */
static void run_launch(gc_agent *a, gc__run *r)
{
	char fence[24] = "";
	r->real_ns = gc__atime_now_ns(&a->time);
	run_link(a, r);
	if (r->fence)
		snprintf(fence, sizeof(fence), "%lld", (long long)r->fence);
	gc__alog_msg(&a->log, GC_LOG_INFO,
		     "agent: run started project=%lld task=%s name=\"%s\" "
		     "plan=%lld prepared_ms=%lld token=%s run_id=%s%s",
		     (long long)r->project_id, r->task_id, r->task.name,
		     (long long)r->plan_s,
		     (long long)((r->real_ns - r->plan_ns) / 1000000),
		     r->fence ? fence : "-", r->run_id,
		     r->run_now ? " run_now=1" : "");
	if (r->noseize)
		status_put_submit(a, r, STATUS_PUT);
	announce_start(a, r);
	if (gc__handler_is_call(r->task.command))
		run_handler(a, r);
	else
		run_exec(a, r, r->fence ? fence : NULL);
}

void gc__run_start(gc_agent *a, const gc__tick *tk, int64_t fence,
		   int64_t status_rev)
{
	gc__run *r = run_prepare(a, tk, fence, status_rev);
	if (r)
		run_launch(a, r);
}

/* ---------------------------------------------------------- outcomes */

void gc__exec_done(gc_exec_outcome *o, void *payload)
{
	gc_agent *a = payload;
	gc__run *r = o->userdata;
	gc_result res = GC_RESULT_INIT;
	run_result_init(r, &res);
	if (gc_result_outcome_take(&res, o) || !res.run_id) {
		gc__alog_msg(&a->log, GC_LOG_ERR,
			     "agent: out of memory for the result of %s",
			     r->task_id);
	}
	r->exec_handle = 0;
	run_finish(a, r, &res);
	gc_result_clear(&res);
}

void gc__handler_done(gc__hjob_outcome *o, void *payload)
{
	gc_agent *a = payload;
	gc__run *r = o->userdata;
	gc_result res = GC_RESULT_INIT;
	run_result_init(r, &res);
	res.start_time_ns = o->start_ns;
	res.end_time_ns = o->end_ns;
	res.output = o->output;
	res.output_len = o->output_len;
	o->output = NULL;
	res.error = gc__strdup(o->error);
	r->hjob = NULL;
	if (!res.output || !res.error || !res.run_id)
		gc__alog_msg(&a->log, GC_LOG_ERR,
			     "agent: out of memory for a handler result");
	run_finish(a, r, &res);
	gc_result_clear(&res);
}

/* ------------------------------------------------------------ kills */

void gc__runs_kill(gc_agent *a, int64_t project_id, const char *task_id)
{
	int n = 0;
	for (gc__run *r = a->runs.list; r; r = r->next) {
		if (r->project_id != project_id || strcmp(r->task_id, task_id))
			continue;
		n++;
		if (r->exec_handle)
			gc_exec_kill(a->runs.exec, r->exec_handle);
		else if (r->hjob)
			gc__hjob_cancel(r->hjob, GC_EXEC_KILLED);
	}
	gc__alog_msg(&a->log, n ? GC_LOG_NOTICE : GC_LOG_DEBUG,
		     "agent: kill request project=%lld task=%s runs=%d",
		     (long long)project_id, task_id, n);
}

void gc__runs_cancel_all(gc_agent *a)
{
	gc_exec_kill_all(a->runs.exec);
	if (a->runs.hrunner)
		gc__hrunner_cancel_all(a->runs.hrunner);
}

void gc__runs_free(gc_agent *a)
{
	while (a->runs.list) {
		gc__run *r = a->runs.list;
		run_unlink(a, r);
		run_free(r);
	}
}
