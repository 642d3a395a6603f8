/* Agent session: one lease per agent (TTL options.session_ttl_s, default
 * 10 s) kept alive by the lease keeper's thread. It holds the node
 * registrations P/register/<pid>/<ip> and the t_status keys of runs in
 * progress, so both vanish on their own when the agent dies. A lost lease
 * (etcd says it is gone, or keep-alives failed for longer than its TTL) is
 * re-granted, the registrations re-written and the t_status of runs still
 * in progress re-asserted. */
#include "agent/agent_internal.h"

#include "job/job_internal.h"

#include <stdlib.h>
#include <string.h>

#define SESSION_RETRY_MS 1000

typedef struct session_job {
	gc__ajob base;
	int64_t ttl;
	int64_t lease;
	gc__project *proj;
	char *key;
	char *value;
} session_job;

static session_job *sjob_new(gc__ajob_run_fn run, gc__ajob_done_fn done)
{
	session_job *j = calloc(1, sizeof(*j));
	if (j) {
		j->base.run = run;
		j->base.done = done;
	}
	return j;
}

static void sjob_free(session_job *j)
{
	free(j->key);
	free(j->value);
	free(j);
}

static void set_registered_stat(gc_agent *a)
{
	int all = gc__lease_session(a) != 0;
	for (gc__project *p = a->projects; p; p = p->next)
		if (!p->removed && p->registered != 1)
			all = 0;
	pthread_mutex_lock(&a->stats_mu);
	a->stats.registered = all;
	pthread_mutex_unlock(&a->stats_mu);
}

/* ------------------------------------------------------------ grant */

static void grant_run(gc__ajob *job, gc__worker *w)
{
	session_job *j = (session_job *)job;
	job->rc = gc_etcd_lease_grant(&j->lease, NULL, w->etcd, j->ttl, 0,
				      &job->err);
}

static void grant_done(gc_agent *a, gc__ajob *job)
{
	session_job *j = (session_job *)job;
	a->session_granting = 0;
	if (job->rc == GC_ECANCELED) {
		sjob_free(j);
		return;
	}
	if (job->rc) {
		GC__STAT(a, etcd_errors, 1);
		gc__agent_log(a, GC_LOG_WARNING,
			      "agent: session lease grant failed, retrying: %s",
			      job->err.msg);
		a->session_retry_at_ms = gc__mono_ms() + SESSION_RETRY_MS;
		sjob_free(j);
		return;
	}
	if (a->state >= GC__AGENT_CLOSING) {
		/* Granted while closing down: give it back. */
		gc_etcd_lease_revoke(a->etcd, j->lease, NULL);
		sjob_free(j);
		return;
	}
	pthread_mutex_lock(&a->lease_mu);
	a->session_lease = j->lease;
	pthread_mutex_unlock(&a->lease_mu);
	gc_error err;
	if (gc_etcd_lease_keeper_add(a->keeper, j->lease, j->ttl, &err))
		gc__agent_log(a, GC_LOG_ERR,
			      "agent: cannot keep the session lease alive: %s",
			      err.msg);
	gc__agent_log(a, GC_LOG_INFO,
		      "agent: session lease granted lease=%lld ttl=%lld",
		      (long long)j->lease, (long long)j->ttl);
	sjob_free(j);
	for (gc__project *p = a->projects; p; p = p->next) {
		p->registered = 0;
		if (!p->removed)
			gc__session_register(a, p);
	}
	gc__runs_reassert_status(a);
	set_registered_stat(a);
}

void gc__session_begin(gc_agent *a)
{
	if (a->session_granting || gc__lease_session(a) ||
	    a->state >= GC__AGENT_CLOSING)
		return;
	session_job *j = sjob_new(grant_run, grant_done);
	if (!j) {
		a->session_retry_at_ms = gc__mono_ms() + SESSION_RETRY_MS;
		return;
	}
	j->ttl = a->opts.session_ttl_s;
	a->session_granting = 1;
	a->session_retry_at_ms = 0;
	gc__pool_submit(a, &j->base);
}

static void session_lost(gc_agent *a, const char *why)
{
	int64_t lease = gc__lease_session(a);
	if (!lease)
		return;
	pthread_mutex_lock(&a->lease_mu);
	a->session_lease = 0;
	pthread_mutex_unlock(&a->lease_mu);
	gc_etcd_lease_keeper_remove(a->keeper, lease);
	for (gc__project *p = a->projects; p; p = p->next)
		p->registered = 0;
	set_registered_stat(a);
	gc__agent_log(a, GC_LOG_WARNING,
		      "agent: session lease lost lease=%lld (%s); "
		      "re-granting and re-registering",
		      (long long)lease, why);
	gc__agent_emit_warning(a, "system", "", 0,
			       "agent %s lost its etcd session lease (%s)",
			       a->client_ip, why);
	gc__session_begin(a);
}

void gc__session_check(gc_agent *a, int64_t now_ms)
{
	long long lost = atomic_exchange(&a->session_lost, 0);
	if (lost && lost == gc__lease_session(a))
		session_lost(a, "keep-alive failed or lease expired");
	if (a->state >= GC__AGENT_CLOSING)
		return;
	if (!gc__lease_session(a) && !a->session_granting &&
	    now_ms >= a->session_retry_at_ms)
		gc__session_begin(a);
	if (gc__lease_session(a))
		for (gc__project *p = a->projects; p; p = p->next)
			if (!p->removed && !p->registered &&
			    now_ms >= p->reg_retry_at_ms)
				gc__session_register(a, p);
}

/* --------------------------------------------------------- register */

static void register_run(gc__ajob *job, gc__worker *w)
{
	session_job *j = (session_job *)job;
	job->rc = gc_etcd_put(NULL, w->etcd, j->key, j->value,
			      strlen(j->value), j->lease, 0, &job->err);
}

static void register_done(gc_agent *a, gc__ajob *job)
{
	session_job *j = (session_job *)job;
	gc__project *p = j->proj;
	p->registered = 0;
	if (job->rc == 0 && j->lease == gc__lease_session(a) && !p->removed) {
		p->registered = 1;
		gc__agent_log(a, GC_LOG_INFO,
			      "agent: registered project=%lld key=%s",
			      (long long)p->id, j->key);
	} else if (job->rc == GC_ENOTFOUND && j->lease == gc__lease_session(a)) {
		session_lost(a, "etcd no longer knows it");
	} else if (job->rc && job->rc != GC_ECANCELED) {
		GC__STAT(a, etcd_errors, 1);
		p->reg_retry_at_ms = gc__mono_ms() + SESSION_RETRY_MS;
		gc__agent_log(a, GC_LOG_WARNING,
			      "agent: registration failed project=%lld: %s",
			      (long long)p->id, job->err.msg);
	}
	set_registered_stat(a);
	sjob_free(j);
	gc__project_unref(a, p);
}

void gc__session_register(gc_agent *a, gc__project *p)
{
	int64_t lease = gc__lease_session(a);
	if (!lease || p->registered)
		return;
	session_job *j = sjob_new(register_run, register_done);
	gc__buf v = GC__BUF_INIT;
	if (!j || gc__buf_puts(&v, "{\"client_ip\":") ||
	    gc__json_gostr(&v, a->client_ip, strlen(a->client_ip)) ||
	    gc__buf_puts(&v, ",\"version\":\"v" GC_VERSION_STRING "\"}")) {
		gc__buf_free(&v);
		free(j);
		return;
	}
	j->key = gc__strdup(p->register_key);
	j->value = gc__buf_detach(&v);
	if (!j->key || !j->value) {
		sjob_free(j);
		return;
	}
	j->lease = lease;
	j->proj = p;
	p->refs++;
	p->registered = -1; /* in flight */
	gc__pool_submit(a, &j->base);
}

/* Delete our registration only while it still carries our lease. */
static void unregister_run(gc__ajob *job, gc__worker *w)
{
	session_job *j = (session_job *)job;
	job->rc = gc__etcd_delete_if(w, j->key, GC_ETCD_CMP_LEASE, j->lease,
				     &job->err);
}

static void unregister_done(gc_agent *a, gc__ajob *job)
{
	session_job *j = (session_job *)job;
	if (job->rc && job->rc != GC_ECANCELED)
		gc__agent_log(a, GC_LOG_WARNING,
			      "agent: removing registration %s failed "
			      "(it expires with the session lease): %s",
			      j->key, job->err.msg);
	gc__project *p = j->proj;
	sjob_free(j);
	gc__project_unref(a, p);
}

void gc__session_unregister(gc_agent *a, gc__project *p)
{
	int64_t lease = gc__lease_session(a);
	if (!lease)
		return;
	session_job *j = sjob_new(unregister_run, unregister_done);
	if (!j)
		return;
	j->key = gc__strdup(p->register_key);
	if (!j->key) {
		sjob_free(j);
		return;
	}
	j->lease = lease;
	j->proj = p;
	p->refs++;
	p->registered = 0;
	gc__pool_submit(a, &j->base);
}

/* ------------------------------------------------------------ close */

static void revoke_run(gc__ajob *job, gc__worker *w)
{
	session_job *j = (session_job *)job;
	job->rc = gc_etcd_lease_revoke(w->etcd, j->lease, &job->err);
}

static void revoke_done(gc_agent *a, gc__ajob *job)
{
	session_job *j = (session_job *)job;
	if (job->rc && job->rc != GC_ENOTFOUND && job->rc != GC_ECANCELED)
		gc__agent_log(a, GC_LOG_WARNING,
			      "agent: revoking the session lease failed "
			      "(it expires by itself): %s",
			      job->err.msg);
	else if (job->rc == 0)
		gc__agent_log(a, GC_LOG_INFO,
			      "agent: session lease revoked lease=%lld",
			      (long long)j->lease);
	sjob_free(j);
	a->session_granting = 0; /* reused as "revoke in flight" */
}

/* Revoking the lease deletes every registration and t_status key of this
 * agent in one etcd operation. The claim leases are left to expire: their
 * keys must outlive this agent so that no other agent runs those ticks
 * again. */
void gc__session_close(gc_agent *a)
{
	int64_t lease = gc__lease_session(a);
	for (gc__project *p = a->projects; p; p = p->next)
		p->registered = 0;
	if (!lease)
		return;
	pthread_mutex_lock(&a->lease_mu);
	a->session_lease = 0;
	pthread_mutex_unlock(&a->lease_mu);
	gc_etcd_lease_keeper_remove(a->keeper, lease);
	set_registered_stat(a);
	session_job *j = sjob_new(revoke_run, revoke_done);
	if (!j)
		return;
	j->lease = lease;
	a->session_granting = 1;
	gc__pool_submit(a, &j->base);
}

int gc__session_closed(gc_agent *a)
{
	return !a->session_granting && !gc__lease_session(a);
}
