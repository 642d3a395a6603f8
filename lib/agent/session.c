/* Agent session: one lease per agent (TTL options.session_ttl_s, default
 * 10 s) kept alive by the lease keeper's thread. It holds the node
 * registrations P/register/<pid>/<ip> (project.c) and the t_status keys of
 * runs in progress (run.c), so both vanish on their own when the agent
 * dies. A lost lease (etcd says it is gone, or keep-alives failed for
 * longer than its TTL) is re-granted; session.on_change tells the agent,
 * which has the registrations re-written and the t_status of runs still
 * in progress re-asserted.
 *
 * Reads and writes: the session part, the session lease (lease.c). */
#include "agent/agent_internal.h"

#include <stdlib.h>

#define SESSION_RETRY_MS 1000

typedef struct session_job {
	gc__pool_job base;
	int64_t ttl;
	int64_t lease;
} session_job;

static void session_submit(gc_agent *a, gc__pool_run_fn run,
			   gc__pool_done_fn done, int64_t ttl, int64_t lease)
{
	session_job *j = calloc(1, sizeof(*j));
	if (!j) {
		a->session.busy = 0;
		a->session.retry_at_ms = gc__mono_ms() + SESSION_RETRY_MS;
		return;
	}
	j->base.run = run;
	j->base.done = done;
	j->ttl = ttl;
	j->lease = lease;
	gc__agent_submit(a, &j->base);
}

/* ------------------------------------------------------------ grant */

static void grant_run(gc__pool_job *job, void *etcd)
{
	session_job *j = (session_job *)job;
	job->rc =
	    gc_etcd_lease_grant(&j->lease, NULL, etcd, j->ttl, 0, &job->err);
}

static void grant_done(gc__pool_job *job)
{
	gc_agent *a = job->data;
	session_job *j = (session_job *)job;
	int64_t lease = j->lease, ttl = j->ttl;
	int rc = job->rc;
	a->session.busy = 0;
	if (rc && rc != GC_ECANCELED) {
		GC__STAT(&a->stats, etcd_errors, 1);
		gc__alog_msg(&a->log, GC_LOG_WARNING,
			     "agent: session lease grant failed, retrying: %s",
			     job->err.msg);
		a->session.retry_at_ms = gc__mono_ms() + SESSION_RETRY_MS;
	}
	free(j);
	if (rc)
		return;
	if (a->state >= GC__AGENT_CLOSING) {
		/* Granted while closing down: give it back. */
		gc_etcd_lease_revoke(a->etcd.client, lease, NULL);
		return;
	}
	gc__leases_session_set(&a->leases, lease);
	gc_error err;
	if (gc_etcd_lease_keeper_add(a->session.keeper, lease, ttl, &err))
		gc__alog_msg(&a->log, GC_LOG_ERR,
			     "agent: cannot keep the session lease alive: %s",
			     err.msg);
	gc__alog_msg(&a->log, GC_LOG_INFO,
		     "agent: session lease granted lease=%lld ttl=%lld",
		     (long long)lease, (long long)ttl);
	a->session.on_change(a, 1);
}

void gc__session_begin(gc_agent *a)
{
	if (a->session.busy || gc__leases_session(&a->leases) ||
	    a->state >= GC__AGENT_CLOSING)
		return;
	a->session.busy = 1;
	a->session.retry_at_ms = 0;
	session_submit(a, grant_run, grant_done, a->conf.opts.session_ttl_s, 0);
}

void gc__session_lost(gc_agent *a, const char *why)
{
	int64_t lease = gc__leases_session(&a->leases);
	if (!lease)
		return;
	gc__leases_session_set(&a->leases, 0);
	gc_etcd_lease_keeper_remove(a->session.keeper, lease);
	a->session.on_change(a, 0);
	gc__alog_msg(&a->log, GC_LOG_WARNING,
		     "agent: session lease lost lease=%lld (%s); "
		     "re-granting and re-registering",
		     (long long)lease, why);
	gc__alog_warning(&a->log, "system", "", 0,
			 "agent %s lost its etcd session lease (%s)",
			 a->conf.client_ip, why);
	gc__session_begin(a);
}

void gc__session_check(gc_agent *a, int64_t now_ms)
{
	int64_t lost = gc__leases_take_lost(&a->leases);
	if (lost && lost == gc__leases_session(&a->leases))
		gc__session_lost(a, "keep-alive failed or lease expired");
	if (a->state >= GC__AGENT_CLOSING)
		return;
	if (!gc__leases_session(&a->leases) && !a->session.busy &&
	    now_ms >= a->session.retry_at_ms)
		gc__session_begin(a);
}

int gc__session_timeout_ms(gc_agent *a, int64_t now_ms)
{
	if (gc__leases_session(&a->leases) || a->session.busy)
		return -1;
	return gc__ms_until(
	    a->session.retry_at_ms ? a->session.retry_at_ms : now_ms, now_ms);
}

/* ------------------------------------------------------------ close */

static void revoke_run(gc__pool_job *job, void *etcd)
{
	session_job *j = (session_job *)job;
	job->rc = gc_etcd_lease_revoke(etcd, j->lease, &job->err);
}

static void revoke_done(gc__pool_job *job)
{
	gc_agent *a = job->data;
	session_job *j = (session_job *)job;
	if (job->rc && job->rc != GC_ENOTFOUND && job->rc != GC_ECANCELED)
		gc__alog_msg(&a->log, GC_LOG_WARNING,
			     "agent: revoking the session lease failed "
			     "(it expires by itself): %s",
			     job->err.msg);
	else if (job->rc == 0)
		gc__alog_msg(&a->log, GC_LOG_INFO,
			     "agent: session lease revoked lease=%lld",
			     (long long)j->lease);
	free(j);
	a->session.busy = 0;
}

/* Revoking the lease deletes every registration and t_status key of this
 * agent in one etcd operation. The claim leases are left to expire: their
 * keys must outlive this agent so that no other agent runs those ticks
 * again. */
void gc__session_close(gc_agent *a)
{
	int64_t lease = gc__leases_session(&a->leases);
	gc__leases_session_set(&a->leases, 0);
	a->session.on_change(a, 0);
	if (!lease)
		return;
	gc_etcd_lease_keeper_remove(a->session.keeper, lease);
	a->session.busy = 1;
	session_submit(a, revoke_run, revoke_done, 0, lease);
}

int gc__session_closed(gc_agent *a)
{
	return !a->session.busy && !gc__leases_session(&a->leases);
}
