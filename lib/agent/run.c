/* Agent ticks and runs: the claim transaction, starting a shell command or
 * an in-process handler, kill requests, results and the t_status key.
 *
 * etcd writes per run (README "Agent", "etcd cost per run"):
 *  - noseize=0: ONE txn at the planned time:
 *      if create_revision(P/lock/<pid>/<tid>/<plan>) == 0
 *         [and, exclusion=1, create_revision(P/<pid>/<tid>/t_status) == 0]
 *      then put the claim (claim-window lease) + put t_status "running"
 *           (session lease)
 *      else read the claim (who holds it)
 *    and ONE guarded delete when the run ends:
 *      if mod_revision(t_status) == <claim txn revision> then delete it.
 *    The claim revision is the fencing token (GOPHERCRON_FENCING_TOKEN).
 *  - noseize=1 (every agent runs it): a put of t_status (session lease) and
 *    the same guarded delete; no claim.
 *  - exclusion=1 and the previous run still running: the claim txn fails on
 *    the t_status compare; the agents then race a second claim of the same
 *    tick (no t_status compare, no status write), and the one that wins
 *    reports the tick as skipped, so a skip is reported exactly once.
 * No lease is granted per run: claims use the agent's claim-window lease
 * (one grant per agent per window), t_status the agent's session lease. */
#include "agent/agent_internal.h"

#include "job/job_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SKIP_ERROR "skipped: previous run still running"
#define CLAIM_RETRY_MS 200

enum {
	CLAIM_WON = 1,
	CLAIM_LOST,
	CLAIM_SKIPPED,   /* exclusion: we report the skip */
	CLAIM_SKIP_LOST, /* exclusion: another agent reports it */
	CLAIM_LATE,      /* could not claim within the grace window */
	CLAIM_STOPPING,  /* the agent is stopping: not claimed */
	CLAIM_FAILED     /* etcd refused (permission, bad request) */
};

struct gc__claim {
	gc__ajob base;
	char *sched_key;
	char *claim_key;
	char *status_key;
	char *value;
	char *skip_value;
	char *json;
	size_t json_len;
	char *task_id;
	int64_t project_id;
	int64_t plan_s;
	int64_t plan_ns;
	int64_t deadline_ns; /* wall: give up claiming after this */
	int64_t now_rev;     /* run-now: revision of the request */
	int exclusion;
	int run_now;
	int outcome;
	int64_t fence;
	int64_t status_rev;
};
typedef struct gc__claim claim_job;

typedef struct status_job {
	gc__ajob base;
	char *key;
	int64_t rev;      /* end: delete only if mod_revision == rev */
	int64_t lease;
	gc__run *run;     /* put / reassert: the run to update */
	int kind;
} status_job;

enum { STATUS_PUT = 1, STATUS_END, STATUS_REASSERT };

static void run_start(gc_agent *a, claim_job *cj, int64_t fence,
		      int64_t status_rev);

/* -------------------------------------------------------- helpers */

static char *claim_value(const gc_agent *a, const char *run_id, int skipped)
{
	gc__buf b = GC__BUF_INIT;
	if (gc__buf_puts(&b, "{\"client_ip\":") ||
	    gc__json_gostr(&b, a->client_ip, strlen(a->client_ip)) ||
	    gc__buf_puts(&b, ",\"run_id\":") ||
	    gc__json_gostr(&b, run_id, strlen(run_id)) ||
	    gc__buf_puts(&b, skipped ? ",\"skipped\":true}" : "}")) {
		gc__buf_free(&b);
		return NULL;
	}
	return gc__buf_detach(&b);
}

static char *make_run_id(const gc_agent *a, int64_t pid, const char *tid,
			 int64_t plan_s, int run_now, int64_t now_rev)
{
	char *id = gc_run_id(pid, tid, plan_s, a->client_ip);
	if (id && run_now) {
		/* A run-now request and a scheduled tick may share a second. */
		char *n = gc__sprintf("%s-now%lld", id, (long long)now_rev);
		free(id);
		id = n;
	}
	return id;
}

static gc__atask *task_of(gc_agent *a, const char *sched_key)
{
	return sched_key ? gc__sched_get(&a->sched, sched_key, NULL) : NULL;
}

static void claim_job_free(claim_job *j)
{
	free(j->sched_key);
	free(j->claim_key);
	free(j->status_key);
	free(j->value);
	free(j->skip_value);
	free(j->json);
	free(j->task_id);
	free(j);
}

/* Results name the agent that ran them (as the original's do): the
 * task as stored in etcd has client_ip "". */
static int own_client_ip(gc_agent *a, gc_task *t)
{
	char *ip;
	if (t->client_ip && t->client_ip[0])
		return 0;
	if (!(ip = gc__strdup(a->client_ip)))
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
		if (gc_warning_for_result(&w, res, a->client_ip, &err) == 0) {
			if (a->opts.on_warning)
				a->opts.on_warning(&w, a->opts.payload);
			gc_warning_clear(&w);
		}
	}
	gc__agent_log(a, res->error && res->error[0] ? GC_LOG_NOTICE
						     : GC_LOG_INFO,
		      "agent: run finished project=%lld task=%s plan=%lld "
		      "run_id=%s error=\"%s\" duration_ms=%lld output_bytes=%zu",
		      (long long)res->task.project_id, res->task.task_id,
		      (long long)(res->plan_time_ns / 1000000000LL),
		      res->run_id ? res->run_id : "", res->error ? res->error : "",
		      (long long)((res->end_time_ns - res->start_time_ns) /
				  1000000),
		      res->output_len);
	if (a->opts.on_result)
		a->opts.on_result(res, a->opts.payload);
	GC__STAT(a, runs, 1);
}

/* A result for a tick that did not run (skipped, or not startable). */
static void report_not_run(gc_agent *a, const char *json, size_t json_len,
			   int64_t pid, const char *tid, int64_t plan_ns,
			   const char *run_id, const char *error)
{
	gc_result res = GC_RESULT_INIT;
	gc_error err;
	if (gc_task_from_json(&res.task, json, json_len, &err)) {
		gc_result_clear(&res);
		return;
	}
	if (!res.task.task_id[0]) {
		free(res.task.task_id);
		res.task.task_id = gc__strdup(tid);
	}
	if (!res.task.project_id)
		res.task.project_id = pid;
	if (own_client_ip(a, &res.task)) {
		gc_result_clear(&res);
		return;
	}
	int64_t now = gc__wall_ns();
	res.plan_time_ns = plan_ns;
	res.real_time_ns = now;
	res.start_time_ns = now;
	res.end_time_ns = now;
	res.output = gc__strdup("");
	res.error = gc__strdup(error);
	res.run_id = gc__strdup(run_id ? run_id : "");
	if (res.task.task_id && res.output && res.error && res.run_id)
		deliver(a, &res);
	gc_result_clear(&res);
}

/* ---------------------------------------------------------- status */

static void status_run(gc__ajob *job, gc__worker *w)
{
	status_job *j = (status_job *)job;
	gc_etcd_txn_result res = {0};
	if (j->kind == STATUS_PUT) {
		gc_etcd_response r = {0};
		job->rc = gc_etcd_put(&r, w->etcd, j->key, "running", 7,
				      j->lease, 0, &job->err);
		j->rev = r.revision;
		gc_etcd_response_dispose(&r);
		return;
	}
	gc_etcd_compare cmp = {j->key, GC_ETCD_CMP_MOD, GC_ETCD_CMP_EQUAL,
			       j->rev, NULL, 0};
	gc_etcd_op op = {0};
	op.key = j->key;
	if (j->kind == STATUS_END) {
		op.type = GC_ETCD_OP_DELETE;
	} else { /* REASSERT: put it back only if nobody has it */
		cmp.target = GC_ETCD_CMP_CREATE;
		cmp.number = 0;
		op.type = GC_ETCD_OP_PUT;
		op.value = "running";
		op.value_len = 7;
		op.lease = j->lease;
	}
	gc_etcd_txn_request txn = {&cmp, 1, &op, 1, NULL, 0};
	job->rc = gc_etcd_txn(&res, w->etcd, &txn, &job->err);
	if (job->rc == 0 && !res.succeeded)
		job->rc = GC_ECONFLICT;
	j->rev = res.revision;
	gc_etcd_txn_result_dispose(&res);
}

static void status_end_submit(gc_agent *a, const char *key, int64_t rev);

static void run_free(gc__run *r)
{
	gc_task_clear(&r->task);
	free(r->task_id);
	free(r->sched_key);
	free(r->status_key);
	free(r->run_id);
	free(r);
}

static void status_done(gc_agent *a, gc__ajob *job)
{
	status_job *j = (status_job *)job;
	gc__run *r = j->run;
	if (job->rc && job->rc != GC_ECANCELED &&
	    !(job->rc == GC_ECONFLICT && j->kind != STATUS_PUT)) {
		GC__STAT(a, etcd_errors, 1);
		gc__agent_log(a, GC_LOG_WARNING,
			      "agent: t_status update failed key=%s: %s "
			      "(it expires with the session lease)",
			      j->key, job->err.msg);
	}
	if (j->kind == STATUS_END) {
		a->status_jobs--;
	} else if (r) {
		if (job->rc == 0)
			r->status_rev = j->rev;
		r->status_pending = 0;
		if (r->end_pending) {
			if (r->status_rev)
				status_end_submit(a, r->status_key,
						  r->status_rev);
			run_free(r);
		}
	}
	free(j->key);
	free(j);
}

static void status_end_submit(gc_agent *a, const char *key, int64_t rev)
{
	status_job *j = calloc(1, sizeof(*j));
	if (j)
		j->key = gc__strdup(key);
	if (!j || !j->key) {
		free(j);
		return; /* the key expires with the session lease */
	}
	j->base.run = status_run;
	j->base.done = status_done;
	j->kind = STATUS_END;
	j->rev = rev;
	a->status_jobs++;
	gc__pool_submit(a, &j->base);
}

static void status_put_submit(gc_agent *a, gc__run *r, int kind)
{
	int64_t lease = gc__lease_session(a);
	if (!lease)
		return; /* re-asserted once the session is back */
	status_job *j = calloc(1, sizeof(*j));
	if (j)
		j->key = gc__strdup(r->status_key);
	if (!j || !j->key) {
		free(j);
		return;
	}
	j->base.run = status_run;
	j->base.done = status_done;
	j->kind = kind;
	j->lease = lease;
	j->run = r;
	r->status_pending = 1;
	gc__pool_submit(a, &j->base);
}

void gc__runs_reassert_status(gc_agent *a)
{
	for (gc__run *r = a->runs; r; r = r->next)
		if (!r->status_pending)
			status_put_submit(a, r, STATUS_REASSERT);
}

/* ----------------------------------------------------------- claim */

static int transient(int rc)
{
	return rc == GC_EUNAVAIL || rc == GC_EIO || rc == GC_ETIMEDOUT ||
	       rc == GC_ENOMEM;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* A claim was refused for a lease etcd does not know: the claim window
 * lease (expired early after an etcd restart?) or the session lease. Drop
 * the window lease; if a fresh one still fails (second strike), the
 * session is the culprit. Worker side. */
static void lease_unknown(gc_agent *a, int64_t window, int64_t session,
			  int strikes)
{
	gc__lease_window_drop(a, window);
	if (strikes < 2 || !session)
		return;
	atomic_store(&a->session_lost, session);
	pthread_mutex_lock(&a->lease_mu);
	if (a->session_lease == session)
		a->session_lease = 0;
	pthread_mutex_unlock(&a->lease_mu);
}

static void claim_run(gc__ajob *job, gc__worker *w)
{
	claim_job *j = (claim_job *)job;
	gc_agent *a = w->agent;
	int exclusion = j->exclusion;
	int skip_attempt = 0;    /* racing to report an exclusion skip */
	int64_t status_mod = 0;  /* legacy empty t_status accepted at rev */
	int lease_retries = 0;

	for (;;) {
		if (atomic_load(&a->stop_requested)) {
			j->outcome = CLAIM_STOPPING;
			return;
		}
		if (gc__wall_ns() > j->deadline_ns) {
			j->outcome = CLAIM_LATE;
			return;
		}
		int64_t window = 0;
		int rc = gc__lease_window(w, &window, &job->err);
		if (rc) {
			if (!transient(rc)) {
				j->outcome = CLAIM_FAILED;
				job->rc = rc;
				return;
			}
			sleep_ms(CLAIM_RETRY_MS);
			continue;
		}
		int64_t session = gc__lease_session(a);
		gc_etcd_compare cmp = {j->status_key, GC_ETCD_CMP_CREATE,
				       GC_ETCD_CMP_EQUAL, 0, NULL, 0};
		if (status_mod) {
			cmp.target = GC_ETCD_CMP_MOD;
			cmp.number = status_mod;
		}
		gc_etcd_op put = {0};
		put.type = GC_ETCD_OP_PUT;
		put.key = j->status_key;
		put.value = "running";
		put.value_len = 7;
		/* Without a session lease (being re-granted) the status rides
		 * on the claim lease: it still expires by itself. */
		put.lease = session ? session : window;
		gc_etcd_claim c = {GC_ETCD_CLAIM_VERSION, j->claim_key,
				   skip_attempt ? j->skip_value : j->value, 0,
				   window, NULL, 0, NULL, 0};
		c.value_len = strlen(c.value);
		if (!skip_attempt) {
			c.ops = &put;
			c.ops_count = 1;
			if (exclusion) {
				c.compare = &cmp;
				c.compare_count = 1;
			}
		}
		gc_etcd_claim_result res = {0};
		rc = gc_etcd_claim_key(&res, w->etcd, &c, &job->err);
		if (rc == 0) {
			j->outcome = skip_attempt ? CLAIM_SKIPPED : CLAIM_WON;
			j->fence = res.create_revision;
			j->status_rev = res.revision;
			gc_etcd_claim_result_dispose(&res);
			job->rc = 0;
			return;
		}
		if (rc == GC_ECONFLICT && res.holder_present) {
			j->outcome = skip_attempt ? CLAIM_SKIP_LOST : CLAIM_LOST;
			gc_etcd_claim_result_dispose(&res);
			job->rc = 0;
			return;
		}
		gc_etcd_claim_result_dispose(&res);
		if (rc == GC_ECONFLICT) {
			/* The claim is free but t_status exists. A t_status
			 * left empty by GopherCron 1.10 is not a run: accept
			 * it at its current revision. */
			gc_etcd_response st = {0};
			int grc = gc_etcd_get(&st, w->etcd, j->status_key,
					      NULL, &job->err);
			if (grc == 0 && st.kvs_count == 1 &&
			    st.kvs[0].value_len == 0 && !status_mod) {
				status_mod = st.kvs[0].mod_revision;
			} else if (grc == 0 && st.kvs_count == 0 &&
				   !status_mod) {
				/* Gone since: try the claim again. */
			} else if (grc == 0 || !transient(grc)) {
				skip_attempt = 1;
			}
			gc_etcd_response_dispose(&st);
			continue;
		}
		if (rc == GC_ENOTFOUND && lease_retries++ < 3) {
			lease_unknown(a, window, session, lease_retries);
			continue;
		}
		if (!transient(rc)) {
			j->outcome = CLAIM_FAILED;
			job->rc = rc;
			return;
		}
		sleep_ms(CLAIM_RETRY_MS);
	}
}

/* Act on the outcome of one claim (agent thread); `err` explains LATE and
 * FAILED outcomes. */
static void claim_outcome(gc_agent *a, claim_job *j, const gc_error *err)
{
	switch (j->outcome) {
	case CLAIM_WON:
		GC__STAT(a, claims_won, 1);
		if (a->state >= GC__AGENT_KILLING) {
			/* Ours, but the agent is going down: say so rather
			 * than leave the tick silently unrun. */
			char *rid = make_run_id(a, j->project_id, j->task_id,
						j->plan_s, j->run_now,
						j->now_rev);
			report_not_run(a, j->json, j->json_len, j->project_id,
				       j->task_id, j->plan_ns, rid,
				       "not run: agent stopping");
			free(rid);
			status_end_submit(a, j->status_key, j->status_rev);
			break;
		}
		run_start(a, j, j->fence, j->status_rev);
		break;
	case CLAIM_SKIPPED: {
		GC__STAT(a, skipped, 1);
		char *rid = make_run_id(a, j->project_id, j->task_id, j->plan_s,
					j->run_now, j->now_rev);
		gc__agent_log(a, GC_LOG_NOTICE,
			      "agent: tick skipped, previous run still "
			      "running project=%lld task=%s plan=%lld",
			      (long long)j->project_id, j->task_id,
			      (long long)j->plan_s);
		report_not_run(a, j->json, j->json_len, j->project_id,
			       j->task_id, j->plan_ns, rid, SKIP_ERROR);
		free(rid);
		break;
	}
	case CLAIM_LOST:
	case CLAIM_SKIP_LOST:
		GC__STAT(a, claims_lost, 1);
		gc__agent_log(a, GC_LOG_DEBUG,
			      "agent: tick taken by another agent project=%lld "
			      "task=%s plan=%lld",
			      (long long)j->project_id, j->task_id,
			      (long long)j->plan_s);
		break;
	case CLAIM_LATE:
		GC__STAT(a, late_skipped, 1);
		GC__STAT(a, etcd_errors, 1);
		gc__agent_log(a, GC_LOG_WARNING,
			      "agent: tick not run, etcd unreachable until "
			      "past the grace window project=%lld task=%s "
			      "plan=%lld: %s",
			      (long long)j->project_id, j->task_id,
			      (long long)j->plan_s,
			      err->msg[0] ? err->msg : "no attempt in time");
		break;
	case CLAIM_FAILED:
		GC__STAT(a, etcd_errors, 1);
		gc__agent_log(a, GC_LOG_ERR,
			      "agent: claim refused by etcd project=%lld "
			      "task=%s plan=%lld: %s",
			      (long long)j->project_id, j->task_id,
			      (long long)j->plan_s, err->msg);
		break;
	default:
		break;
	}
}

static void claim_done(gc_agent *a, gc__ajob *job)
{
	claim_job *j = (claim_job *)job;
	a->claims_in_flight--;
	if (job->rc == GC_ECANCELED && !j->outcome)
		j->outcome = CLAIM_STOPPING;
	claim_outcome(a, j, &job->err);
	claim_job_free(j);
}

static void claim_submit(gc_agent *a, claim_job *j)
{
	j->base.run = claim_run;
	j->base.done = claim_done;
	j->base.err.msg[0] = '\0';
	a->claims_in_flight++;
	gc__pool_submit(a, &j->base);
}

/* ------------------------------------------------------- batched claims
 *
 * Ticks of many tasks due at the same moment (the common "every minute"
 * or "at 03:00" fleets) are claimed GC__CLAIM_BATCH at a time in one txn:
 *   if every claim key is absent: put all claims and all t_status keys;
 *   else: read every claim key.
 * When the txn fails, the reads say which ticks another agent holds
 * (lost), which we hold from an earlier attempt whose answer was lost
 * (won), and which are still free: those are tried again in the next txn.
 * With one fast agent that is one txn for the whole batch; with racing
 * agents a couple. Tasks with exclusion=1 and run-now requests use the
 * single claim above. All ticks won by one txn share its revision as
 * fencing token (still increasing for every task). */

typedef struct batch_job {
	gc__ajob base;
	size_t n;
	claim_job *items[GC__CLAIM_BATCH];
} batch_job;

static int lease_used(const int64_t *used, size_t n, int64_t lease)
{
	for (size_t i = 0; i < n; i++)
		if (used[i] == lease)
			return 1;
	return 0;
}

static void batch_run(gc__ajob *job, gc__worker *w)
{
	batch_job *b = (batch_job *)job;
	gc_agent *a = w->agent;
	gc_etcd_compare cmp[GC__CLAIM_BATCH];
	gc_etcd_op succ[2 * GC__CLAIM_BATCH], fail[GC__CLAIM_BATCH];
	claim_job *pend[GC__CLAIM_BATCH];
	int64_t used[8];
	size_t n_used = 0;
	int lease_retries = 0;

	for (;;) {
		size_t m = 0;
		int64_t now = gc__wall_ns();
		int stopping = atomic_load(&a->stop_requested);
		for (size_t i = 0; i < b->n; i++) {
			claim_job *j = b->items[i];
			if (j->outcome)
				continue;
			if (stopping)
				j->outcome = CLAIM_STOPPING;
			else if (now > j->deadline_ns)
				j->outcome = CLAIM_LATE;
			else
				pend[m++] = j;
		}
		if (!m)
			return;
		int64_t window = 0;
		int rc = gc__lease_window(w, &window, &job->err);
		if (rc) {
			if (!transient(rc)) {
				for (size_t k = 0; k < m; k++)
					pend[k]->outcome = CLAIM_FAILED;
				job->rc = rc;
				return;
			}
			sleep_ms(CLAIM_RETRY_MS);
			continue;
		}
		if (!lease_used(used, n_used, window) && n_used < 8)
			used[n_used++] = window;
		int64_t session = gc__lease_session(a);
		for (size_t k = 0; k < m; k++) {
			claim_job *j = pend[k];
			cmp[k] = (gc_etcd_compare){j->claim_key, GC_ETCD_CMP_CREATE,
						   GC_ETCD_CMP_EQUAL, 0, NULL, 0};
			memset(&succ[2 * k], 0, 2 * sizeof(succ[0]));
			succ[2 * k].type = GC_ETCD_OP_PUT;
			succ[2 * k].key = j->claim_key;
			succ[2 * k].value = j->value;
			succ[2 * k].value_len = strlen(j->value);
			succ[2 * k].lease = window;
			succ[2 * k + 1].type = GC_ETCD_OP_PUT;
			succ[2 * k + 1].key = j->status_key;
			succ[2 * k + 1].value = "running";
			succ[2 * k + 1].value_len = 7;
			succ[2 * k + 1].lease = session ? session : window;
			memset(&fail[k], 0, sizeof(fail[k]));
			fail[k].type = GC_ETCD_OP_RANGE;
			fail[k].key = j->claim_key;
		}
		gc_etcd_txn_request txn = {cmp, m, succ, 2 * m, fail, m};
		gc_etcd_txn_result res = {0};
		rc = gc_etcd_txn(&res, w->etcd, &txn, &job->err);
		if (rc == 0 && res.succeeded) {
			for (size_t k = 0; k < m; k++) {
				pend[k]->outcome = CLAIM_WON;
				pend[k]->fence = res.revision;
				pend[k]->status_rev = res.revision;
			}
			gc_etcd_txn_result_dispose(&res);
			job->rc = 0;
			return;
		}
		if (rc == 0) {
			for (size_t k = 0; k < m && k < res.responses_count; k++) {
				const gc_etcd_response *r = &res.responses[k];
				if (r->kvs_count == 0)
					continue; /* still free: next round */
				const gc_etcd_kv *kv = &r->kvs[0];
				if (lease_used(used, n_used, kv->lease) &&
				    strcmp(kv->value, pend[k]->value) == 0) {
					/* An earlier attempt of ours went
					 * through; its answer was lost. */
					pend[k]->outcome = CLAIM_WON;
					pend[k]->fence = kv->create_revision;
					pend[k]->status_rev = kv->create_revision;
				} else {
					pend[k]->outcome = CLAIM_LOST;
				}
			}
			gc_etcd_txn_result_dispose(&res);
			continue;
		}
		gc_etcd_txn_result_dispose(&res);
		if (rc == GC_ENOTFOUND && lease_retries++ < 3) {
			lease_unknown(a, window, session, lease_retries);
			continue;
		}
		if (!transient(rc)) {
			/* etcd refused the batch as a whole (a limit, a bad
			 * key): claim what is left one by one, so that one bad
			 * tick cannot cost the others theirs. */
			gc__agent_log(a, GC_LOG_WARNING,
				      "agent: batched claim of %zu ticks refused "
				      "(%s); claiming them one by one",
				      m, job->err.msg);
			for (size_t k = 0; k < m; k++) {
				pend[k]->base.err.msg[0] = '\0';
				claim_run(&pend[k]->base, w);
			}
			return;
		}
		sleep_ms(CLAIM_RETRY_MS);
	}
}

static void batch_done(gc_agent *a, gc__ajob *job)
{
	batch_job *b = (batch_job *)job;
	a->claims_in_flight--;
	for (size_t i = 0; i < b->n; i++) {
		claim_job *j = b->items[i];
		if (job->rc == GC_ECANCELED && !j->outcome)
			j->outcome = CLAIM_STOPPING;
		/* Items claimed one by one carry their own error text. */
		claim_outcome(a, j, j->base.err.msg[0] ? &j->base.err : &job->err);
		claim_job_free(j);
	}
	free(b);
}

/* Submit the ticks collected by gc__tick since the last flush. */
void gc__tick_flush(gc_agent *a)
{
	size_t n = a->n_pending;
	a->n_pending = 0;
	if (n == 1) {
		claim_submit(a, a->pending[0]);
		return;
	}
	if (!n)
		return;
	batch_job *b = calloc(1, sizeof(*b));
	if (!b) {
		for (size_t i = 0; i < n; i++)
			claim_submit(a, a->pending[i]);
		return;
	}
	b->n = n;
	memcpy(b->items, a->pending, n * sizeof(b->items[0]));
	b->base.run = batch_run;
	b->base.done = batch_done;
	a->claims_in_flight++;
	gc__pool_submit(a, &b->base);
}

static claim_job *claim_job_new(gc_agent *a, int64_t pid, const char *tid,
				const char *json, size_t json_len,
				int64_t plan_s, int64_t plan_ns, int run_now,
				int64_t now_rev)
{
	claim_job *j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	j->project_id = pid;
	j->plan_s = plan_s;
	j->plan_ns = plan_ns;
	j->run_now = run_now;
	j->now_rev = now_rev;
	j->task_id = gc__strdup(tid);
	j->json = gc__strndup(json, json_len);
	j->json_len = json_len;
	j->status_key = gc_key_status(a->prefix, pid, tid);
	char *rid = make_run_id(a, pid, tid, plan_s, run_now, now_rev);
	if (rid) {
		j->value = claim_value(a, rid, 0);
		j->skip_value = claim_value(a, rid, 1);
	}
	free(rid);
	if (run_now) {
		char *pre = gc_key_claim_prefix(a->prefix, pid, tid);
		if (pre)
			j->claim_key = gc__sprintf("%snow-%lld", pre,
						   (long long)now_rev);
		free(pre);
	} else {
		j->claim_key = gc_key_claim(a->prefix, pid, tid, plan_s);
	}
	if (!j->task_id || !j->json || !j->status_key || !j->value ||
	    !j->skip_value || !j->claim_key) {
		claim_job_free(j);
		return NULL;
	}
	return j;
}

/* ------------------------------------------------------------ ticks */

void gc__tick(gc_agent *a, gc__atask *t, int64_t plan_s)
{
	if (a->state != GC__AGENT_RUNNING)
		return;
	GC__STAT(a, ticks, 1);
	const char *tid = strchr(t->key, '/') + 1;
	int64_t plan_ns = plan_s * 1000000000LL;
	claim_job *j = claim_job_new(a, t->proj->id, tid, t->json, t->json_len,
				     plan_s, plan_ns, 0, 0);
	if (!j) {
		gc__agent_log(a, GC_LOG_ERR,
			      "agent: out of memory, tick lost key=%s plan=%lld",
			      t->key, (long long)plan_s);
		return;
	}
	j->sched_key = gc__strdup(t->key);
	j->exclusion = t->exclusion;
	j->deadline_ns = plan_ns + a->opts.late_grace_ms * 1000000LL;
	if (!t->noseize && t->exclusion) {
		claim_submit(a, j);
		return;
	}
	if (!t->noseize) {
		/* A task late by more than its period has two ticks due in
		 * one pass; one txn cannot write its t_status twice. */
		for (size_t i = 0; i < a->n_pending; i++)
			if (strcmp(a->pending[i]->status_key, j->status_key) == 0) {
				gc__tick_flush(a);
				break;
			}
		a->pending[a->n_pending++] = j;
		if (a->n_pending == GC__CLAIM_BATCH)
			gc__tick_flush(a);
		return;
	}
	/* noseize: every agent runs every tick; exclusion is per agent. */
	if (t->exclusion && t->running) {
		GC__STAT(a, skipped, 1);
		char *rid = make_run_id(a, j->project_id, tid, plan_s, 0, 0);
		report_not_run(a, j->json, j->json_len, j->project_id, tid,
			       plan_ns, rid, SKIP_ERROR);
		free(rid);
		claim_job_free(j);
		return;
	}
	run_start(a, j, 0, 0);
	claim_job_free(j);
}

void gc__run_now(gc_agent *a, gc__project *p, const gc_etcd_kv *kv)
{
	gc_key_info info;
	if (gc_key_parse(a->prefix, kv->key, kv->key_len, &info) !=
	    GC_KEY_RUN_NOW)
		return;
	gc_task t = GC_TASK_INIT;
	gc_error err;
	if (gc_task_from_json(&t, kv->value, kv->value_len, &err)) {
		gc__agent_log(a, GC_LOG_WARNING,
			      "agent: ignoring run-now request %s: %s", kv->key,
			      err.msg);
		return;
	}
	int64_t now_ns = gc__wall_ns();
	claim_job *j = claim_job_new(a, p->id, info.task_id, kv->value,
				     kv->value_len, now_ns / 1000000000LL,
				     now_ns, 1, kv->mod_revision);
	if (j) {
		j->exclusion = t.exclusion == 1;
		j->deadline_ns = now_ns + a->opts.late_grace_ms * 1000000LL;
		char key[GC_KEY_PART_MAX + 32];
		snprintf(key, sizeof(key), "%lld/%s", (long long)p->id,
			 info.task_id);
		j->sched_key = gc__strdup(key);
		gc__agent_log(a, GC_LOG_INFO,
			      "agent: run-now request project=%lld task=%s "
			      "revision=%lld",
			      (long long)p->id, info.task_id,
			      (long long)kv->mod_revision);
		claim_submit(a, j);
	}
	gc_task_clear(&t);
}

/* ------------------------------------------------------------- runs */

static void run_link(gc_agent *a, gc__run *r)
{
	r->prev = NULL;
	r->next = a->runs;
	if (a->runs)
		a->runs->prev = r;
	a->runs = r;
	a->n_runs++;
	gc__atask *t = task_of(a, r->sched_key);
	if (t)
		t->running++;
	GC__STAT(a, running, 1);
}

static void run_unlink(gc_agent *a, gc__run *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		a->runs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->prev = r->next = NULL;
	a->n_runs--;
	gc__atask *t = task_of(a, r->sched_key);
	if (t && t->running)
		t->running--;
	GC__STAT(a, running, -1);
}

/* Build and deliver the result of a run that failed before starting. */
static void run_fail_early(gc_agent *a, gc__run *r, const char *error)
{
	gc_result res = GC_RESULT_INIT;
	int64_t now = gc__wall_ns();
	res.task = r->task;
	gc_task_init(&r->task);
	res.plan_time_ns = r->plan_ns;
	res.real_time_ns = r->real_ns;
	res.start_time_ns = now;
	res.end_time_ns = now;
	res.output = gc__strdup("");
	res.error = gc__strdup(error);
	res.run_id = gc__strdup(r->run_id);
	gc__run_finish(a, r, &res);
	gc_result_clear(&res);
}

/* on_start: the run so far, borrowing the run's strings. */
static void announce_start(gc_agent *a, gc__run *r)
{
	gc_result res = GC_RESULT_INIT;
	if (!a->opts.on_start)
		return;
	res.task = r->task;
	res.plan_time_ns = r->plan_ns;
	res.real_time_ns = r->real_ns;
	res.start_time_ns = gc__wall_ns();
	res.output = (char *)"";
	res.error = (char *)"";
	res.run_id = r->run_id;
	a->opts.on_start(&res, a->opts.payload);
}

static void run_start(gc_agent *a, claim_job *cj, int64_t fence,
		      int64_t status_rev)
{
	gc__run *r = calloc(1, sizeof(*r));
	gc_error err;
	if (!r)
		goto oom;
	r->project_id = cj->project_id;
	r->plan_s = cj->plan_s;
	r->plan_ns = cj->plan_ns;
	r->real_ns = gc__wall_ns();
	r->fence = fence;
	r->status_rev = status_rev;
	r->run_now = cj->run_now;
	r->noseize = fence == 0;
	r->task_id = gc__strdup(cj->task_id);
	r->sched_key = gc__strdup(cj->sched_key ? cj->sched_key : "");
	r->status_key = gc__strdup(cj->status_key);
	r->run_id = make_run_id(a, cj->project_id, cj->task_id, cj->plan_s,
				cj->run_now, cj->now_rev);
	if (!r->task_id || !r->sched_key || !r->status_key || !r->run_id)
		goto oom;
	if (gc_task_from_json(&r->task, cj->json, cj->json_len, &err)) {
		gc__agent_log(a, GC_LOG_ERR, "agent: task %s: %s", cj->task_id,
			      err.msg);
		run_free(r);
		return;
	}
	/* The key is authoritative for identity. */
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
	run_link(a, r);

	char fence_str[24] = "";
	if (fence)
		snprintf(fence_str, sizeof(fence_str), "%lld",
			 (long long)fence);
	gc__agent_log(a, GC_LOG_INFO,
		      "agent: run started project=%lld task=%s name=\"%s\" "
		      "plan=%lld late_ms=%lld token=%s run_id=%s%s",
		      (long long)r->project_id, r->task_id, r->task.name,
		      (long long)r->plan_s,
		      (long long)((r->real_ns - r->plan_ns) / 1000000),
		      fence ? fence_str : "-", r->run_id,
		      r->run_now ? " run_now=1" : "");
	if (r->noseize)
		status_put_submit(a, r, STATUS_PUT);
	announce_start(a, r);

	if (gc__handler_is_call(r->task.command)) {
		char name[64];
		const char *args = "";
		const gc__handler *h = gc__handler_find(a, r->task.command,
							&args, name,
							sizeof(name));
		if (!h) {
			char msg[128];
			snprintf(msg, sizeof(msg),
				 "handler \"%s\" is not registered", name);
			run_fail_early(a, r, msg);
			return;
		}
		if (r->task.timeout > 0)
			r->deadline_ms = gc__mono_ms() + r->task.timeout * 1000;
		if (gc__hjob_start(a, r, h, args, &err)) {
			r->deadline_ms = 0;
			run_fail_early(a, r, err.msg);
		}
		return;
	}

	gc_exec_request req = GC_EXEC_REQUEST_INIT;
	req.shell = a->shell;
	req.command = r->task.command;
	req.timeout_ms = r->task.timeout > 0 ? r->task.timeout * 1000 : 0;
	req.kill_grace_ms = a->kill_grace_ms;
	req.output_limit = (size_t)a->output_limit;
	req.project_id = r->project_id;
	req.task_id = r->task_id;
	req.task_name = r->task.name;
	req.plan_unix = r->plan_s;
	req.agent_ip = a->client_ip;
	req.run_id = r->run_id;
	req.fencing_token = fence ? fence_str : NULL;
	req.userdata = r;
	if (gc_exec_start(a->exec, &req, &r->exec_handle, &err)) {
		r->exec_handle = 0;
		gc__agent_log(a, GC_LOG_ERR,
			      "agent: cannot start task %s: %s", r->task_id,
			      err.msg);
		run_fail_early(a, r, err.msg);
	}
	return;
oom:
	gc__agent_log(a, GC_LOG_ERR, "agent: out of memory starting %s",
		      cj->task_id);
	if (r)
		run_free(r);
}

void gc__run_finish(gc_agent *a, gc__run *r, gc_result *res)
{
	deliver(a, res);
	run_unlink(a, r);
	r->done = 1;
	if (r->status_pending) {
		r->end_pending = 1; /* freed when the put comes back */
		return;
	}
	if (r->status_rev)
		status_end_submit(a, r->status_key, r->status_rev);
	run_free(r);
}

void gc__exec_done(gc_exec_outcome *o, void *payload)
{
	gc_agent *a = payload;
	gc__run *r = o->userdata;
	gc_result res = GC_RESULT_INIT;
	res.task = r->task;
	gc_task_init(&r->task);
	res.plan_time_ns = r->plan_ns;
	res.real_time_ns = r->real_ns;
	res.run_id = gc__strdup(r->run_id);
	if (gc_result_take_outcome(&res, o) || !res.run_id) {
		gc__agent_log(a, GC_LOG_ERR,
			      "agent: out of memory for the result of %s",
			      r->task_id);
	}
	r->exec_handle = 0;
	gc__run_finish(a, r, &res);
	gc_result_clear(&res);
}

void gc__kill_task(gc_agent *a, int64_t project_id, const char *task_id)
{
	int n = 0;
	for (gc__run *r = a->runs; r; r = r->next) {
		if (r->project_id != project_id || strcmp(r->task_id, task_id))
			continue;
		n++;
		if (r->exec_handle)
			gc_exec_kill(a->exec, r->exec_handle);
		else if (r->hjob)
			gc__hjob_cancel(r->hjob, GC_EXEC_KILLED);
	}
	gc__agent_log(a, n ? GC_LOG_NOTICE : GC_LOG_DEBUG,
		      "agent: kill request project=%lld task=%s runs=%d",
		      (long long)project_id, task_id, n);
}

int gc__runs_timeout_ms(gc_agent *a, int64_t now_ms)
{
	int64_t best = -1;
	for (gc__run *r = a->runs; r; r = r->next) {
		if (!r->hjob || !r->deadline_ms)
			continue;
		int64_t d = r->deadline_ms - now_ms;
		if (d < 0)
			d = 0;
		if (best < 0 || d < best)
			best = d;
	}
	return best > INT32_MAX ? INT32_MAX : (int)best;
}

void gc__runs_check_deadlines(gc_agent *a, int64_t now_ms)
{
	for (gc__run *r = a->runs; r; r = r->next) {
		if (r->hjob && r->deadline_ms && now_ms >= r->deadline_ms) {
			r->deadline_ms = 0;
			gc__hjob_cancel(r->hjob, GC_EXEC_TIMEOUT);
		}
	}
}

void gc__runs_cancel_all(gc_agent *a)
{
	gc_exec_kill_all(a->exec);
	for (gc__run *r = a->runs; r; r = r->next)
		if (r->hjob)
			gc__hjob_cancel(r->hjob, GC_EXEC_KILLED);
}

void gc__runs_free(gc_agent *a)
{
	while (a->runs) {
		gc__run *r = a->runs;
		run_unlink(a, r);
		run_free(r);
	}
}
