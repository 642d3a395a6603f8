/* The leases the etcd workers use (see gc__leases in agent_internal.h):
 * the session lease, granted and dropped by the agent thread (session.c)
 * and read by the workers; and the claim-window lease, granted by the
 * first worker that needs one in a window, one grant at a time. Also the
 * guarded delete of a key this agent wrote (under its lease, or at a
 * revision it knows). */
#include "agent/agent_internal.h"

#include <stdlib.h>

void gc__leases_init(gc__leases *l, int64_t claim_ttl_s, int64_t window_s,
		     const gc__alog *log)
{
	pthread_mutex_init(&l->mu, NULL);
	pthread_mutex_init(&l->grant_mu, NULL);
	l->session = l->window = l->window_born_ms = 0;
	l->claim_ttl_s = claim_ttl_s;
	l->window_s = window_s;
	l->log = log;
	atomic_init(&l->lost, 0);
}

void gc__leases_destroy(gc__leases *l)
{
	pthread_mutex_destroy(&l->mu);
	pthread_mutex_destroy(&l->grant_mu);
}

/* The current window's lease, if it is still young enough (under mu). */
static int window_current(gc__leases *l, int64_t now_ms, int64_t *lease)
{
	if (!l->window || now_ms - l->window_born_ms >= l->window_s * 1000)
		return 0;
	*lease = l->window;
	return 1;
}

int gc__leases_window(gc__leases *l, gc_etcd *etcd, int64_t *lease,
		      gc_error *err)
{
	pthread_mutex_lock(&l->mu);
	int have = window_current(l, gc__mono_ms(), lease);
	pthread_mutex_unlock(&l->mu);
	if (have)
		return 0;

	/* One grant at a time; whoever waited re-checks first. */
	pthread_mutex_lock(&l->grant_mu);
	int64_t now = gc__mono_ms();
	pthread_mutex_lock(&l->mu);
	have = window_current(l, now, lease);
	pthread_mutex_unlock(&l->mu);
	if (have) {
		pthread_mutex_unlock(&l->grant_mu);
		return 0;
	}
	/* A claim made at any moment of the window lives at least claim_ttl:
	 * the lease's TTL counts from (after) `born`, and the lease is used
	 * only until born + window. */
	int64_t id = 0, ttl = l->claim_ttl_s + l->window_s;
	int rc = gc_etcd_lease_grant(&id, NULL, etcd, ttl, 0, err);
	if (rc == 0) {
		pthread_mutex_lock(&l->mu);
		l->window = id;
		l->window_born_ms = now;
		pthread_mutex_unlock(&l->mu);
		*lease = id;
		gc__alog_msg(l->log, GC_LOG_DEBUG,
			     "agent: claim lease granted lease=%lld ttl=%lld",
			     (long long)id, (long long)ttl);
	}
	pthread_mutex_unlock(&l->grant_mu);
	return rc;
}

static void window_drop(gc__leases *l, int64_t lease)
{
	pthread_mutex_lock(&l->mu);
	if (l->window == lease)
		l->window = 0;
	pthread_mutex_unlock(&l->mu);
}

int64_t gc__leases_session(gc__leases *l)
{
	pthread_mutex_lock(&l->mu);
	int64_t id = l->session;
	pthread_mutex_unlock(&l->mu);
	return id;
}

void gc__leases_session_set(gc__leases *l, int64_t lease)
{
	pthread_mutex_lock(&l->mu);
	l->session = lease;
	pthread_mutex_unlock(&l->mu);
}

void gc__leases_unknown(gc__leases *l, int64_t window, int64_t session,
			int strikes)
{
	window_drop(l, window);
	if (strikes < 2 || !session)
		return;
	atomic_store(&l->lost, session);
	pthread_mutex_lock(&l->mu);
	if (l->session == session)
		l->session = 0;
	pthread_mutex_unlock(&l->mu);
}

void gc__leases_report_lost(gc__leases *l, int64_t lease)
{
	atomic_store(&l->lost, (long long)lease);
}

int64_t gc__leases_take_lost(gc__leases *l)
{
	return atomic_exchange(&l->lost, 0);
}

static int delete_if(gc_etcd *etcd, const char *key, int target, int64_t number,
		     gc_error *err)
{
	gc_etcd_compare cmp = {key, target, GC_ETCD_CMP_EQUAL, number, NULL, 0};
	gc_etcd_op del = {0};
	del.type = GC_ETCD_OP_DELETE;
	del.key = key;
	gc_etcd_txn_request txn = {&cmp, 1, &del, 1, NULL, 0};
	gc_etcd_txn_result res = {0};
	int rc = gc_etcd_txn(&res, etcd, &txn, err);
	gc_etcd_txn_result_clear(&res);
	return rc;
}

static void delete_run(gc__pool_job *job, void *etcd)
{
	gc__delete_job *j = (gc__delete_job *)job;
	job->rc = delete_if(etcd, j->key, j->target, j->number, &job->err);
}

gc__delete_job *gc__delete_job_new(const char *key, int target, int64_t number,
				   gc__pool_done_fn done)
{
	gc__delete_job *j = calloc(1, sizeof(*j));
	if (j && !(j->key = gc__strdup(key))) {
		free(j);
		return NULL;
	}
	if (j) {
		j->base.run = delete_run;
		j->base.done = done;
		j->target = target;
		j->number = number;
	}
	return j;
}

void gc__delete_job_free(gc__delete_job *j)
{
	free(j->key);
	free(j);
}
