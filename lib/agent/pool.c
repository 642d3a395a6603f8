/* Agent etcd workers: a queue of blocking etcd jobs served by a few
 * threads, each with its own gc_etcd handle, and the completion list the
 * agent thread drains. Also the claim-window lease shared by the workers. */
#include "agent/agent_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void notify(gc_agent *a)
{
	uint64_t one = 1;
	ssize_t n;
	do
		n = write(a->evfd, &one, sizeof(one));
	while (n < 0 && errno == EINTR);
	/* EAGAIN: the counter is saturated, the agent wakes anyway. */
}

void gc__pool_complete(gc_agent *a, gc__ajob *job)
{
	job->next = NULL;
	pthread_mutex_lock(&a->q_mu);
	if (a->done_tail)
		a->done_tail->next = job;
	else
		a->done_head = job;
	a->done_tail = job;
	pthread_mutex_unlock(&a->q_mu);
	notify(a);
}

static void *worker_main(void *arg)
{
	gc__worker *w = arg;
	gc_agent *a = w->agent;
	pthread_mutex_lock(&a->q_mu);
	for (;;) {
		while (!a->q_head && !a->q_stop)
			pthread_cond_wait(&a->q_cv, &a->q_mu);
		if (!a->q_head)
			break; /* stopping and nothing left */
		gc__ajob *job = a->q_head;
		a->q_head = job->next;
		if (!a->q_head)
			a->q_tail = NULL;
		pthread_mutex_unlock(&a->q_mu);
		job->run(job, w);
		gc__pool_complete(a, job);
		pthread_mutex_lock(&a->q_mu);
	}
	pthread_mutex_unlock(&a->q_mu);
	return NULL;
}

static int etcd_client_new(gc_agent *a, gc_etcd **out, gc_error *err)
{
	gc_etcd_options o = GC_ETCD_OPTIONS_INIT;
	o.endpoints = (const char *const *)a->endpoints;
	o.endpoints_count = a->n_endpoints;
	o.username = a->etcd_user;
	o.password = a->etcd_pass;
	if (a->dial_timeout_ms > 0 && a->dial_timeout_ms < 1000)
		o.connect_timeout_ms = (int)a->dial_timeout_ms;
	o.tls_ca_file = a->tls_ca;
	o.tls_cert_file = a->tls_cert;
	o.tls_key_file = a->tls_key;
	o.max_response_bytes = GC__AGENT_ETCD_MAX_RESPONSE;
	o.log = a->opts.log;
	o.log_payload = a->opts.log_payload;
	return gc_etcd_new(out, &o, err);
}

int gc__pool_start(gc_agent *a, gc_error *err)
{
	int rc = etcd_client_new(a, &a->etcd, err);
	if (rc)
		return rc;
	a->workers = calloc((size_t)a->n_workers, sizeof(*a->workers));
	if (!a->workers)
		return gc__seterr(err, GC_ENOMEM, "agent: out of memory");
	for (int i = 0; i < a->n_workers; i++) {
		gc__worker *w = &a->workers[i];
		w->agent = a;
		rc = etcd_client_new(a, &w->etcd, err);
		if (rc)
			return rc;
		int e = pthread_create(&w->thread, NULL, worker_main, w);
		if (e)
			return gc__seterr_errno(err, GC_ESYS, e,
						"agent: starting etcd worker");
		w->started = 1;
	}
	return 0;
}

void gc__pool_stop(gc_agent *a)
{
	pthread_mutex_lock(&a->q_mu);
	a->q_stop = 1;
	pthread_cond_broadcast(&a->q_cv);
	pthread_mutex_unlock(&a->q_mu);
	for (int i = 0; a->workers && i < a->n_workers; i++) {
		if (a->workers[i].started)
			pthread_join(a->workers[i].thread, NULL);
		gc_etcd_free(a->workers[i].etcd);
	}
	free(a->workers);
	a->workers = NULL;
	/* Jobs never run or never drained: release them through `done` with
	 * GC_ECANCELED so their owners can free what they hold. */
	gc__ajob *pending = a->q_head;
	a->q_head = a->q_tail = NULL;
	while (pending) {
		gc__ajob *next = pending->next;
		pending->rc = GC_ECANCELED;
		gc__pool_complete(a, pending);
		pending = next;
	}
	gc__pool_drain(a);
}

void gc__pool_submit(gc_agent *a, gc__ajob *job)
{
	job->next = NULL;
	job->agent = a;
	a->jobs_in_flight++;
	pthread_mutex_lock(&a->q_mu);
	if (a->q_stop) {
		pthread_mutex_unlock(&a->q_mu);
		job->rc = GC_ECANCELED;
		gc__pool_complete(a, job);
		return;
	}
	if (a->q_tail)
		a->q_tail->next = job;
	else
		a->q_head = job;
	a->q_tail = job;
	pthread_cond_signal(&a->q_cv);
	pthread_mutex_unlock(&a->q_mu);
}

void gc__pool_drain(gc_agent *a)
{
	for (;;) {
		pthread_mutex_lock(&a->q_mu);
		gc__ajob *list = a->done_head;
		a->done_head = a->done_tail = NULL;
		pthread_mutex_unlock(&a->q_mu);
		if (!list)
			return;
		while (list) {
			gc__ajob *next = list->next;
			if (list->run)
				a->jobs_in_flight--;
			list->done(a, list);
			list = next;
		}
	}
}

/* ------------------------------------------------------------ leases */

int gc__lease_window(gc__worker *w, int64_t *lease, gc_error *err)
{
	gc_agent *a = w->agent;
	int64_t now = gc__mono_ms();
	pthread_mutex_lock(&a->lease_mu);
	if (a->window_lease && now - a->window_born_ms < a->window_s * 1000) {
		*lease = a->window_lease;
		pthread_mutex_unlock(&a->lease_mu);
		return 0;
	}
	pthread_mutex_unlock(&a->lease_mu);

	/* One grant at a time; whoever waited re-checks first. */
	pthread_mutex_lock(&a->grant_mu);
	now = gc__mono_ms();
	pthread_mutex_lock(&a->lease_mu);
	if (a->window_lease && now - a->window_born_ms < a->window_s * 1000) {
		*lease = a->window_lease;
		pthread_mutex_unlock(&a->lease_mu);
		pthread_mutex_unlock(&a->grant_mu);
		return 0;
	}
	pthread_mutex_unlock(&a->lease_mu);
	/* A claim made at any moment of the window lives at least claim_ttl:
	 * the lease's TTL counts from (after) `born`, and the lease is used
	 * only until born + window. */
	int64_t id = 0;
	int rc = gc_etcd_lease_grant(&id, NULL, w->etcd,
				     a->claim_ttl_s + a->window_s, 0, err);
	if (rc == 0) {
		pthread_mutex_lock(&a->lease_mu);
		a->window_lease = id;
		a->window_born_ms = now;
		pthread_mutex_unlock(&a->lease_mu);
		*lease = id;
		gc__alog_msg(&a->log, GC_LOG_DEBUG,
			     "agent: claim lease granted lease=%lld ttl=%lld",
			     (long long)id,
			     (long long)(a->claim_ttl_s + a->window_s));
	}
	pthread_mutex_unlock(&a->grant_mu);
	return rc;
}

void gc__lease_window_drop(gc_agent *a, int64_t lease)
{
	pthread_mutex_lock(&a->lease_mu);
	if (a->window_lease == lease)
		a->window_lease = 0;
	pthread_mutex_unlock(&a->lease_mu);
}

int64_t gc__lease_session(gc_agent *a)
{
	pthread_mutex_lock(&a->lease_mu);
	int64_t id = a->session_lease;
	pthread_mutex_unlock(&a->lease_mu);
	return id;
}

int gc__etcd_delete_if(gc__worker *w, const char *key, int target,
		       int64_t number, gc_error *err)
{
	gc_etcd_compare cmp = {key, target, GC_ETCD_CMP_EQUAL, number, NULL, 0};
	gc_etcd_op del = {0};
	del.type = GC_ETCD_OP_DELETE;
	del.key = key;
	gc_etcd_txn_request txn = {&cmp, 1, &del, 1, NULL, 0};
	gc_etcd_txn_result res = {0};
	int rc = gc_etcd_txn(&res, w->etcd, &txn, err);
	gc_etcd_txn_result_dispose(&res);
	return rc;
}
