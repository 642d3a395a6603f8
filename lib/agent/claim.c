/* Agent claims: tick -> claim. Every due tick of the task table becomes a
 * gc__tick (which task, which second, the task as it was); a noseize tick
 * goes straight to run.c, any other is claimed in etcd by the workers, and
 * the claim's outcome decides whether it runs here (run.c), is reported as
 * skipped, or was another agent's.
 *
 * etcd writes per run (README "Agent", "etcd cost per run"):
 *  - noseize=0: ONE txn at the planned time:
 *      if create_revision(P/lock/<pid>/<tid>/<plan>) == 0
 *         [and, exclusion=1, create_revision(P/<pid>/<tid>/t_status) == 0]
 *      then put the claim (claim-window lease) + put t_status "running"
 *           (session lease)
 *      else read the claim (who holds it)
 *    and ONE guarded delete when the run ends (run.c):
 *      if mod_revision(t_status) == <claim txn revision> then delete it.
 *    The claim revision is the fencing token (GOPHERCRON_FENCING_TOKEN).
 *  - noseize=1 (every agent runs it): a put of t_status (session lease) and
 *    the same guarded delete; no claim.
 *  - exclusion=1 and the previous run still running: the claim txn fails on
 *    the t_status compare; the agents then race a second claim of the same
 *    tick (no t_status compare, no status write), and the one that wins
 *    reports the tick as skipped, so a skip is reported exactly once.
 * No lease is granted per run: claims use the agent's claim-window lease
 * (one grant per agent per window), t_status the agent's session lease.
 *
 * Threads: claim_run and batch_run run on the etcd workers and read only
 * their job and its gc__claim_env; the rest runs on the agent thread.
 * Reads and writes: the claims part, the task table (through task.c). */
#include "agent/agent_internal.h"

#include "job/job_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SKIP_ERROR     "skipped: previous run still running"
#define CLAIM_RETRY_MS 200

enum {
	CLAIM_WON = 1,
	CLAIM_LOST,
	CLAIM_SKIPPED,	 /* exclusion: we report the skip */
	CLAIM_SKIP_LOST, /* exclusion: another agent reports it */
	CLAIM_LATE,	 /* could not claim within the grace window */
	CLAIM_STOPPING,	 /* the agent is stopping: not claimed */
	CLAIM_FAILED	 /* etcd refused (permission, bad request) */
};

struct gc__claim {
	gc__pool_job base;
	gc__tick tick;
	const gc__claim_env *env;
	char *claim_key;
	char *value;
	char *skip_value;
	int64_t deadline_ns; /* give up claiming after this (agent clock) */
	int exclusion;
	int outcome;
	int64_t fence;
	int64_t status_rev;
	gc__claim *dnext; /* the deferred list (exclusion, agent thread) */
};
typedef struct gc__claim claim_job;

/* ------------------------------------------------------------ ticks */

static char *make_run_id(const gc_agent *a, const gc__tick *tk)
{
	char *id = gc_run_id(tk->project_id, tk->task_id, tk->plan_s,
			     a->conf.client_ip);
	if (id && tk->run_now) {
		/* A run-now request and a scheduled tick may share a second. */
		char *n = gc__sprintf("%s-now%lld", id, (long long)tk->now_rev);
		free(id);
		id = n;
	}
	return id;
}

static void tick_clear(gc__tick *tk)
{
	free(tk->task_id);
	free(tk->sched_key);
	free(tk->status_key);
	free(tk->json);
	free(tk->run_id);
	memset(tk, 0, sizeof(*tk));
}

/* Fill the strings of a tick whose numbers are set: 0 or GC_ENOMEM. */
static int tick_fill(gc_agent *a, gc__tick *tk, const char *task_id,
		     const char *sched_key, const char *json, size_t json_len)
{
	tk->task_id = gc__strdup(task_id);
	tk->sched_key = gc__strdup(sched_key);
	tk->json = gc__strndup(json, json_len);
	tk->json_len = json_len;
	tk->status_key = gc_key_status(a->conf.prefix, tk->project_id, task_id);
	if (tk->task_id)
		tk->run_id = make_run_id(a, tk);
	if (!tk->task_id || !tk->sched_key || !tk->json || !tk->status_key ||
	    !tk->run_id) {
		tick_clear(tk);
		return GC_ENOMEM;
	}
	return 0;
}

/* The tick `plan_s` of task `t`. */
static int tick_of_task(gc_agent *a, gc__tick *tk, const gc__atask *t,
			int64_t plan_s)
{
	memset(tk, 0, sizeof(*tk));
	tk->project_id = t->proj->id;
	tk->plan_s = plan_s;
	tk->plan_ns = plan_s * 1000000000LL;
	return tick_fill(a, tk, strchr(t->key, '/') + 1, t->key, t->json,
			 t->json_len);
}

/* ----------------------------------------------------------- claims */

static char *claim_value(const gc_agent *a, const char *run_id, int skipped)
{
	gc__buf b = GC__BUF_INIT;
	if (gc__buf_puts(&b, "{\"client_ip\":") ||
	    gc__json_gostr(&b, a->conf.client_ip, strlen(a->conf.client_ip)) ||
	    gc__buf_puts(&b, ",\"run_id\":") ||
	    gc__json_gostr(&b, run_id, strlen(run_id)) ||
	    gc__buf_puts(&b, skipped ? ",\"skipped\":true}" : "}")) {
		gc__buf_free(&b);
		return NULL;
	}
	return gc__buf_detach(&b);
}

static void claim_job_free(claim_job *j)
{
	tick_clear(&j->tick);
	free(j->claim_key);
	free(j->value);
	free(j->skip_value);
	free(j);
}

/* The claim of a tick (taken over from *tk, which is left empty), given
 * up `grace` after `from_ns`. NULL: out of memory (the tick is cleared). */
static claim_job *claim_new(gc_agent *a, gc__tick *tk, int exclusion,
			    int64_t from_ns)
{
	claim_job *j = calloc(1, sizeof(*j));
	if (!j) {
		tick_clear(tk);
		return NULL;
	}
	j->tick = *tk;
	memset(tk, 0, sizeof(*tk));
	j->base.data = a;
	j->env = &a->claims.env;
	j->exclusion = exclusion;
	j->deadline_ns = from_ns + a->conf.opts.late_grace_ms * 1000000LL;
	j->value = claim_value(a, j->tick.run_id, 0);
	j->skip_value = claim_value(a, j->tick.run_id, 1);
	if (j->tick.run_now) {
		char *pre = gc_key_claim_prefix(
		    a->conf.prefix, j->tick.project_id, j->tick.task_id);
		if (pre)
			j->claim_key = gc__sprintf("%snow-%lld", pre,
						   (long long)j->tick.now_rev);
		free(pre);
	} else {
		j->claim_key = gc_key_claim(a->conf.prefix, j->tick.project_id,
					    j->tick.task_id, j->tick.plan_s);
	}
	if (!j->value || !j->skip_value || !j->claim_key) {
		claim_job_free(j);
		return NULL;
	}
	return j;
}

/* ------------------------------------------------- worker: the steps */

/* What the loop of a claim does after a step. */
enum { NEXT_NOW = 0, NEXT_WAIT, NEXT_DONE };

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

/* Still worth claiming? Sets the outcome of a claim that is not. */
static int claim_expired(claim_job *j, int stopping, int64_t now_ns)
{
	if (stopping)
		j->outcome = CLAIM_STOPPING;
	else if (now_ns > j->deadline_ns)
		j->outcome = CLAIM_LATE;
	return j->outcome != 0;
}

/* The leases a claim txn writes with: NEXT_NOW with them, NEXT_WAIT when
 * etcd is unreachable, or NEXT_DONE with *rc when it refused. */
static int leases_step(const gc__claim_env *env, gc_etcd *etcd, int64_t *window,
		       int64_t *session, int *rc, gc_error *err)
{
	*window = 0;
	*rc = gc__leases_window(env->leases, etcd, window, err);
	if (*rc)
		return transient(*rc) ? NEXT_WAIT : NEXT_DONE;
	*session = gc__leases_session(env->leases);
	return NEXT_NOW;
}

/* A single claim's retry state. */
typedef struct claim_try {
	int skip_attempt;   /* racing to report an exclusion skip */
	int64_t status_mod; /* legacy empty t_status accepted at rev */
	int lease_retries;
	int64_t window, session;
} claim_try;

/* The claim txn was refused on its t_status compare (the claim is free
 * but t_status exists). A t_status left empty by GopherCron 1.10 is not a
 * run: accept it at its current revision; one that is gone since: try
 * again; a run's: race to report the skip. */
static void status_conflict(claim_job *j, gc_etcd *etcd, claim_try *t)
{
	gc_etcd_response st = {0};
	int grc =
	    gc_etcd_get(&st, etcd, j->tick.status_key, NULL, &j->base.err);
	if (grc == 0 && st.kvs_count == 1 && st.kvs[0].value_len == 0 &&
	    !t->status_mod)
		t->status_mod = st.kvs[0].mod_revision;
	else if (grc == 0 && st.kvs_count == 0 && !t->status_mod)
		; /* gone since: try the claim again */
	else if (grc == 0 || !transient(grc))
		t->skip_attempt = 1;
	gc_etcd_response_clear(&st);
}

/* The claim txn of this attempt (see the top of the file): the claim,
 * and unless it only races to report a skip, the t_status put (compared
 * first for exclusion=1). The request points into *put and *cmp. */
static void claim_request(const claim_job *j, const claim_try *t,
			  gc_etcd_claim *c, gc_etcd_op *put,
			  gc_etcd_compare *cmp)
{
	memset(cmp, 0, sizeof(*cmp));
	cmp->key = j->tick.status_key;
	cmp->target = t->status_mod ? GC_ETCD_CMP_MOD : GC_ETCD_CMP_CREATE;
	cmp->result = GC_ETCD_CMP_EQUAL;
	cmp->number = t->status_mod;
	memset(put, 0, sizeof(*put));
	put->type = GC_ETCD_OP_PUT;
	put->key = j->tick.status_key;
	put->value = "running";
	put->value_len = 7;
	/* Without a session lease (being re-granted) the status rides on the
	 * claim lease: it still expires by itself. */
	put->lease = t->session ? t->session : t->window;
	memset(c, 0, sizeof(*c));
	c->version = GC_ETCD_CLAIM_VERSION;
	c->key = j->claim_key;
	const char *value = t->skip_attempt ? j->skip_value : j->value;
	c->value = value;
	c->value_len = strlen(value);
	c->lease = t->window;
	if (!t->skip_attempt) {
		c->ops = put;
		c->ops_count = 1;
		if (j->exclusion) {
			c->compare = cmp;
			c->compare_count = 1;
		}
	}
}

/* One claim txn and what its answer means. */
static int claim_attempt(claim_job *j, gc_etcd *etcd, claim_try *t)
{
	gc_etcd_claim c;
	gc_etcd_op put;
	gc_etcd_compare cmp;
	claim_request(j, t, &c, &put, &cmp);
	gc_etcd_claim_result res = {0};
	int rc = gc_etcd_claim_key(&res, etcd, &c, &j->base.err);
	int holder = res.holder_present;
	if (rc == 0) {
		j->outcome = t->skip_attempt ? CLAIM_SKIPPED : CLAIM_WON;
		j->fence = res.create_revision;
		j->status_rev = res.revision;
	} else if (rc == GC_ECONFLICT && holder) {
		j->outcome = t->skip_attempt ? CLAIM_SKIP_LOST : CLAIM_LOST;
	}
	gc_etcd_claim_result_clear(&res);
	if (j->outcome) {
		j->base.rc = 0;
		return NEXT_DONE;
	}
	if (rc == GC_ECONFLICT) {
		status_conflict(j, etcd, t);
		return NEXT_NOW;
	}
	if (rc == GC_ENOTFOUND && t->lease_retries++ < 3) {
		gc__leases_unknown(j->env->leases, t->window, t->session,
				   t->lease_retries);
		return NEXT_NOW;
	}
	if (!transient(rc)) {
		j->outcome = CLAIM_FAILED;
		j->base.rc = rc;
		return NEXT_DONE;
	}
	return NEXT_WAIT;
}

/* Worker: claim one tick, retrying until it is decided or too late. */
static void claim_run(gc__pool_job *job, void *etcd)
{
	claim_job *j = (claim_job *)job;
	const gc__claim_env *env = j->env;
	claim_try t = {0};
	for (int next = NEXT_NOW; next != NEXT_DONE;) {
		if (next == NEXT_WAIT)
			sleep_ms(CLAIM_RETRY_MS);
		if (claim_expired(j, atomic_load(env->stopping),
				  gc__atime_now_ns(env->time)))
			return;
		int rc = 0;
		next = leases_step(env, etcd, &t.window, &t.session, &rc,
				   &job->err);
		if (next == NEXT_DONE) {
			j->outcome = CLAIM_FAILED;
			job->rc = rc;
		} else if (next == NEXT_NOW) {
			next = claim_attempt(j, etcd, &t);
		}
	}
}

/* ------------------------------------------- worker: batched claims
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
	gc__pool_job base;
	const gc__claim_env *env;
	size_t n;
	claim_job *items[GC__CLAIM_BATCH];
} batch_job;

/* A batch's retry state: the ticks still open and the leases used. */
typedef struct batch_try {
	claim_job *pend[GC__CLAIM_BATCH];
	size_t m;
	int64_t used[8]; /* window leases our attempts wrote with */
	size_t n_used;
	int lease_retries;
	int64_t window, session;
} batch_try;

static int lease_used(const batch_try *t, int64_t lease)
{
	for (size_t i = 0; i < t->n_used; i++)
		if (t->used[i] == lease)
			return 1;
	return 0;
}

/* The ticks still open (the others get their outcome): how many. */
static size_t batch_open(batch_job *b, batch_try *t)
{
	int stopping = atomic_load(b->env->stopping);
	int64_t now = gc__atime_now_ns(b->env->time);
	t->m = 0;
	for (size_t i = 0; i < b->n; i++) {
		claim_job *j = b->items[i];
		if (!j->outcome && !claim_expired(j, stopping, now))
			t->pend[t->m++] = j;
	}
	return t->m;
}

/* The batch txn of the open ticks (the arrays get its compares and ops). */
static int batch_txn(batch_try *t, gc_etcd *etcd, gc_etcd_txn_result *res,
		     gc_error *err)
{
	gc_etcd_compare cmp[GC__CLAIM_BATCH];
	gc_etcd_op succ[2 * GC__CLAIM_BATCH], fail[GC__CLAIM_BATCH];
	memset(succ, 0, 2 * t->m * sizeof(succ[0]));
	memset(fail, 0, t->m * sizeof(fail[0]));
	for (size_t k = 0; k < t->m; k++) {
		claim_job *j = t->pend[k];
		cmp[k] = (gc_etcd_compare){j->claim_key,
					   GC_ETCD_CMP_CREATE,
					   GC_ETCD_CMP_EQUAL,
					   0,
					   NULL,
					   0};
		succ[2 * k].type = GC_ETCD_OP_PUT;
		succ[2 * k].key = j->claim_key;
		succ[2 * k].value = j->value;
		succ[2 * k].value_len = strlen(j->value);
		succ[2 * k].lease = t->window;
		succ[2 * k + 1].type = GC_ETCD_OP_PUT;
		succ[2 * k + 1].key = j->tick.status_key;
		succ[2 * k + 1].value = "running";
		succ[2 * k + 1].value_len = 7;
		succ[2 * k + 1].lease = t->session ? t->session : t->window;
		fail[k].type = GC_ETCD_OP_RANGE;
		fail[k].key = j->claim_key;
	}
	gc_etcd_txn_request txn = {cmp, t->m, succ, 2 * t->m, fail, t->m};
	return gc_etcd_txn(res, etcd, &txn, err);
}

static void claim_won(claim_job *j, int64_t revision)
{
	j->outcome = CLAIM_WON;
	j->fence = revision;
	j->status_rev = revision;
}

/* The txn failed its compares: the reads say who holds which tick. */
static void batch_sort_out(batch_try *t, const gc_etcd_txn_result *res)
{
	for (size_t k = 0; k < t->m && k < res->responses_count; k++) {
		const gc_etcd_response *r = &res->responses[k];
		if (r->kvs_count == 0)
			continue; /* still free: next round */
		const gc_etcd_kv *kv = &r->kvs[0];
		if (lease_used(t, kv->lease) &&
		    strcmp(kv->value, t->pend[k]->value) == 0)
			/* An earlier attempt of ours went through; its
			 * answer was lost. */
			claim_won(t->pend[k], kv->create_revision);
		else
			t->pend[k]->outcome = CLAIM_LOST;
	}
}

/* etcd refused the batch as a whole (a limit, a bad key): claim what is
 * left one by one, so that one bad tick cannot cost the others theirs. */
static void batch_one_by_one(batch_job *b, batch_try *t, gc_etcd *etcd)
{
	gc__alog_msg(b->env->log, GC_LOG_WARNING,
		     "agent: batched claim of %zu ticks refused "
		     "(%s); claiming them one by one",
		     t->m, b->base.err.msg);
	for (size_t k = 0; k < t->m; k++) {
		t->pend[k]->base.err.msg[0] = '\0';
		claim_run(&t->pend[k]->base, etcd);
	}
}

/* One batch txn and what its answer means. */
static int batch_attempt(batch_job *b, batch_try *t, gc_etcd *etcd)
{
	gc_etcd_txn_result res = {0};
	int rc = batch_txn(t, etcd, &res, &b->base.err);
	int succeeded = rc == 0 && res.succeeded;
	if (succeeded) {
		for (size_t k = 0; k < t->m; k++)
			claim_won(t->pend[k], res.revision);
		b->base.rc = 0;
	} else if (rc == 0) {
		batch_sort_out(t, &res);
	}
	gc_etcd_txn_result_clear(&res);
	if (rc == 0)
		return succeeded ? NEXT_DONE : NEXT_NOW;
	if (rc == GC_ENOTFOUND && t->lease_retries++ < 3) {
		gc__leases_unknown(b->env->leases, t->window, t->session,
				   t->lease_retries);
		return NEXT_NOW;
	}
	if (!transient(rc)) {
		batch_one_by_one(b, t, etcd);
		return NEXT_DONE;
	}
	return NEXT_WAIT;
}

/* Worker: claim a batch of ticks, retrying until each is decided. */
static void batch_run(gc__pool_job *job, void *etcd)
{
	batch_job *b = (batch_job *)job;
	batch_try t = {0};
	for (int next = NEXT_NOW; next != NEXT_DONE;) {
		if (next == NEXT_WAIT)
			sleep_ms(CLAIM_RETRY_MS);
		if (!batch_open(b, &t))
			return;
		int rc = 0;
		next = leases_step(b->env, etcd, &t.window, &t.session, &rc,
				   &job->err);
		if (next == NEXT_DONE) {
			for (size_t k = 0; k < t.m; k++)
				t.pend[k]->outcome = CLAIM_FAILED;
			job->rc = rc;
		} else if (next == NEXT_NOW) {
			if (!lease_used(&t, t.window) && t.n_used < 8)
				t.used[t.n_used++] = t.window;
			next = batch_attempt(b, &t, etcd);
		}
	}
}

/* ---------------------------------------------- agent thread: outcome */

/* Act on the outcome of one claim; `err` explains LATE and FAILED. */
static void claim_outcome(gc_agent *a, claim_job *j, const gc_error *err)
{
	const gc__tick *tk = &j->tick;
	switch (j->outcome) {
	case CLAIM_WON:
		GC__STAT(&a->stats, claims_won, 1);
		if (a->state >= GC__AGENT_KILLING) {
			/* Ours, but the agent is going down: say so rather
			 * than leave the tick silently unrun. */
			gc__run_not_run(a, tk, "not run: agent stopping");
			gc__status_end(a, tk->status_key, j->status_rev);
			break;
		}
		gc__run_start(a, tk, j->fence, j->status_rev);
		break;
	case CLAIM_SKIPPED:
		GC__STAT(&a->stats, skipped, 1);
		gc__alog_msg(&a->log, GC_LOG_NOTICE,
			     "agent: tick skipped, previous run still "
			     "running project=%lld task=%s plan=%lld",
			     (long long)tk->project_id, tk->task_id,
			     (long long)tk->plan_s);
		gc__run_not_run(a, tk, SKIP_ERROR);
		break;
	case CLAIM_LOST:
	case CLAIM_SKIP_LOST:
		GC__STAT(&a->stats, claims_lost, 1);
		gc__alog_msg(&a->log, GC_LOG_DEBUG,
			     "agent: tick taken by another agent project=%lld "
			     "task=%s plan=%lld",
			     (long long)tk->project_id, tk->task_id,
			     (long long)tk->plan_s);
		break;
	case CLAIM_LATE:
		GC__STAT(&a->stats, late_skipped, 1);
		GC__STAT(&a->stats, etcd_errors, 1);
		gc__alog_msg(&a->log, GC_LOG_WARNING,
			     "agent: tick not run, etcd unreachable until "
			     "past the grace window project=%lld task=%s "
			     "plan=%lld: %s",
			     (long long)tk->project_id, tk->task_id,
			     (long long)tk->plan_s,
			     err->msg[0] ? err->msg : "no attempt in time");
		break;
	case CLAIM_FAILED:
		GC__STAT(&a->stats, etcd_errors, 1);
		gc__alog_msg(&a->log, GC_LOG_ERR,
			     "agent: claim refused by etcd project=%lld "
			     "task=%s plan=%lld: %s",
			     (long long)tk->project_id, tk->task_id,
			     (long long)tk->plan_s, err->msg);
		break;
	default:
		break;
	}
}

static void claim_done(gc__pool_job *job)
{
	gc_agent *a = job->data;
	claim_job *j = (claim_job *)job;
	a->claims.in_flight--;
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
	a->claims.in_flight++;
	gc__agent_submit(a, &j->base);
}

static void batch_done(gc__pool_job *job)
{
	gc_agent *a = job->data;
	batch_job *b = (batch_job *)job;
	a->claims.in_flight--;
	for (size_t i = 0; i < b->n; i++) {
		claim_job *j = b->items[i];
		if (job->rc == GC_ECANCELED && !j->outcome)
			j->outcome = CLAIM_STOPPING;
		/* Items claimed one by one carry their own error text. */
		claim_outcome(a, j,
			      j->base.err.msg[0] ? &j->base.err : &job->err);
		claim_job_free(j);
	}
	free(b);
}

/* Submit the ticks collected since the last flush. */
static void claims_flush(gc_agent *a)
{
	size_t n = a->claims.n_pending;
	a->claims.n_pending = 0;
	if (n == 1) {
		claim_submit(a, a->claims.pending[0]);
		return;
	}
	if (!n)
		return;
	batch_job *b = calloc(1, sizeof(*b));
	if (!b) {
		for (size_t i = 0; i < n; i++)
			claim_submit(a, a->claims.pending[i]);
		return;
	}
	b->env = &a->claims.env;
	b->n = n;
	memcpy(b->items, a->claims.pending, n * sizeof(b->items[0]));
	b->base.run = batch_run;
	b->base.done = batch_done;
	a->claims.in_flight++;
	gc__agent_submit(a, &b->base);
}

/* Collect a claim for the next batch. */
static void claims_collect(gc_agent *a, claim_job *j)
{
	/* A task late by more than its period has two ticks due in one
	 * pass; one txn cannot write its t_status twice. */
	for (size_t i = 0; i < a->claims.n_pending; i++)
		if (strcmp(a->claims.pending[i]->tick.status_key,
			   j->tick.status_key) == 0) {
			claims_flush(a);
			break;
		}
	a->claims.pending[a->claims.n_pending++] = j;
	if (a->claims.n_pending == GC__CLAIM_BATCH)
		claims_flush(a);
}

/* exclusion=1: claimed at the planned instant, not ahead: the claim
 * requires the previous run to be over, which it may be by then. Held
 * here (agent thread) until due. */
static void claim_defer(gc_agent *a, claim_job *j)
{
	if (j->tick.plan_ns <= gc__atime_now_ns(&a->time)) {
		claim_submit(a, j);
		return;
	}
	j->dnext = a->claims.deferred;
	a->claims.deferred = j;
}

/* Submit the deferred claims that are due; the earliest left (0: none). */
static int64_t deferred_due(gc_agent *a, int64_t now_ns)
{
	int64_t next = 0;
	for (claim_job **pp = &a->claims.deferred; *pp;) {
		claim_job *j = *pp;
		if (j->tick.plan_ns <= now_ns) {
			*pp = j->dnext;
			claim_submit(a, j);
			continue;
		}
		if (!next || j->tick.plan_ns < next)
			next = j->tick.plan_ns;
		pp = &j->dnext;
	}
	return next;
}

int64_t gc__claims_deferred_at(gc_agent *a)
{
	int64_t next = 0;
	for (claim_job *j = a->claims.deferred; j; j = j->dnext)
		if (!next || j->tick.plan_ns < next)
			next = j->tick.plan_ns;
	return next;
}

void gc__claims_drop_deferred(gc_agent *a)
{
	while (a->claims.deferred) {
		claim_job *j = a->claims.deferred;
		a->claims.deferred = j->dnext;
		claim_job_free(j);
	}
}

/* noseize: every agent runs every tick; exclusion is per agent. */
static void tick_noseize(gc_agent *a, const gc__atask *t, gc__tick *tk)
{
	if (t->exclusion && t->running) {
		GC__STAT(&a->stats, skipped, 1);
		gc__run_not_run(a, tk, SKIP_ERROR);
	} else {
		gc__run_start(a, tk, 0, 0);
	}
	tick_clear(tk);
}

/* The tick `plan_s` of task `t` is due: claim it (or run it). */
static void tick_due(gc_agent *a, const gc__atask *t, int64_t plan_s)
{
	if (a->state != GC__AGENT_RUNNING)
		return;
	GC__STAT(&a->stats, ticks, 1);
	gc__tick tk;
	claim_job *j = NULL;
	if (tick_of_task(a, &tk, t, plan_s) == 0) {
		if (t->noseize) {
			tick_noseize(a, t, &tk);
			return;
		}
		j = claim_new(a, &tk, t->exclusion, plan_s * 1000000000LL);
	}
	if (!j)
		gc__alog_msg(&a->log, GC_LOG_ERR,
			     "agent: out of memory, tick lost key=%s plan=%lld",
			     t->key, (long long)plan_s);
	else if (t->exclusion)
		claim_defer(a, j);
	else
		claims_collect(a, j);
}

/* The clock is not usable: the ticks due pass unattempted (other agents
 * claim them); the clock thread has said why, loudly. */
static void ticks_pass(gc_agent *a, int64_t upto_ns, int64_t now_s)
{
	int64_t due;
	gc__atask *t;
	size_t n = 0;
	while ((t = gc__tasks_due(&a->tasks, upto_ns, &due))) {
		gc__tasks_advance(&a->tasks, t, due, now_s);
		n++;
	}
	if (n)
		gc__alog_msg(&a->log, GC_LOG_DEBUG,
			     "agent: %zu tick(s) not claimed: clock not usable",
			     n);
}

void gc__claims_due(gc_agent *a, int64_t now_ns)
{
	int64_t now_s = now_ns / 1000000000LL, due;
	int64_t upto_ns = gc__claim_upto(now_ns, a->conf.claim_ahead_ns);
	size_t late = 0;
	int64_t late_max_ms = 0;
	gc__atask *t;
	gc__clock_estimate e;
	gc__atime_clock(&a->time, &e);
	if (!gc__clock_usable(&e)) {
		/* A stale estimate (no probe answered lately) keeps the ticks
		 * due: claimed within the grace once it is checked again. */
		if (!gc__clock_fresh(e.age_ns, GC__CLOCK_FRESH_NS) &&
		    e.state != GC__CLOCK_UNKNOWN && e.state != GC__CLOCK_TOO_FAR)
			return;
		ticks_pass(a, upto_ns, now_s);
		return;
	}
	deferred_due(a, now_ns);
	while ((t = gc__tasks_due(&a->tasks, upto_ns, &due))) {
		if (gc__tick_expired(due, now_ns, a->conf.opts.late_grace_ms)) {
			late++;
			int64_t ms = (now_ns - due * 1000000000LL) / 1000000;
			if (ms > late_max_ms)
				late_max_ms = ms;
		} else {
			tick_due(a, t, due);
		}
		gc__tasks_advance(&a->tasks, t, due, now_s);
	}
	claims_flush(a);
	if (late) {
		GC__STAT(&a->stats, late_skipped, (int64_t)late);
		gc__alog_msg(&a->log, GC_LOG_WARNING,
			     "agent: %zu tick(s) skipped, up to %lld ms past "
			     "their planned time (grace %lld ms)",
			     late, (long long)late_max_ms,
			     (long long)a->conf.opts.late_grace_ms);
	}
}

void gc__claims_run_now(gc_agent *a, int64_t pid, const gc_etcd_kv *kv)
{
	gc_key_info info;
	if (gc_key_parse(a->conf.prefix, kv->key, kv->key_len, &info) !=
	    GC_KEY_RUN_NOW)
		return;
	gc_task t = GC_TASK_INIT;
	gc_error err;
	if (gc_task_from_json(&t, kv->value, kv->value_len, &err)) {
		gc__alog_msg(&a->log, GC_LOG_WARNING,
			     "agent: ignoring run-now request %s: %s", kv->key,
			     err.msg);
		return;
	}
	int exclusion = t.exclusion == 1;
	gc_task_clear(&t);
	gc__clock_estimate e;
	gc__atime_clock(&a->time, &e);
	if (!gc__clock_usable(&e)) {
		gc__alog_msg(&a->log, GC_LOG_WARNING,
			     "agent: run-now request %s not claimed: %s",
			     kv->key, e.reason);
		return;
	}
	int64_t now_ns = gc__atime_now_ns(&a->time);
	char key[GC_KEY_PART_MAX + 32];
	snprintf(key, sizeof(key), "%lld/%s", (long long)pid, info.task_id);
	gc__tick tk;
	memset(&tk, 0, sizeof(tk));
	tk.project_id = pid;
	tk.plan_s = now_ns / 1000000000LL;
	tk.plan_ns = now_ns;
	tk.run_now = 1;
	tk.now_rev = kv->mod_revision;
	if (tick_fill(a, &tk, info.task_id, key, kv->value, kv->value_len))
		return;
	claim_job *j = claim_new(a, &tk, exclusion, now_ns);
	if (!j)
		return;
	gc__alog_msg(&a->log, GC_LOG_INFO,
		     "agent: run-now request project=%lld task=%s "
		     "revision=%lld",
		     (long long)pid, info.task_id, (long long)kv->mod_revision);
	claim_submit(a, j);
}
