/* Lease keeper: one keep-alive POST per lease every TTL/3 (the gateway maps
 * the keep-alive stream onto one request and one answer), loss detection,
 * on its own thread or driven by the caller. */
#include "etcd_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct kept_lease {
	int64_t id;
	int64_t ttl_s;
	int64_t last_ok_ms; /* last confirmation (or when added) */
	int64_t next_ms;    /* next keep-alive due */
} kept_lease;

struct gc_etcd_lease_keeper {
	gc_etcd *c;
	gc__etcd_conn conn; /* used only by the driving thread */
	gc_etcd_lease_lost_fn on_lost;
	void *payload;
	int margin_ms;

	pthread_mutex_t lock; /* leases, stop */
	pthread_cond_t cond;
	kept_lease *leases;
	size_t n, cap;
	int stop;
	atomic_int abort; /* makes an in-flight keep-alive give up */
	int has_thread;
	pthread_t thread;
};

/* When the lease must be considered lost without a confirmation. */
static int64_t lost_at(const gc_etcd_lease_keeper *k, const kept_lease *l)
{
	int64_t ttl_ms = l->ttl_s * 1000;
	int64_t margin = k->margin_ms ? k->margin_ms : ttl_ms / 6;
	if (margin < 300)
		margin = 300;
	if (margin > ttl_ms / 2)
		margin = ttl_ms / 2;
	return l->last_ok_ms + ttl_ms - margin;
}

static int64_t interval_ms(int64_t ttl_s)
{
	int64_t iv = ttl_s * 1000 / 3;
	return iv < 300 ? 300 : iv;
}

static ssize_t find_lease(gc_etcd_lease_keeper *k, int64_t id)
{
	size_t i;
	for (i = 0; i < k->n; i++)
		if (k->leases[i].id == id)
			return (ssize_t)i;
	return -1;
}

static void drop_at(gc_etcd_lease_keeper *k, size_t i)
{
	k->leases[i] = k->leases[--k->n];
}

/* Must hold lock. -1 = nothing kept. */
static int64_t next_due_ms(gc_etcd_lease_keeper *k)
{
	int64_t due = -1;
	size_t i;
	for (i = 0; i < k->n; i++) {
		int64_t t = k->leases[i].next_ms, l = lost_at(k, &k->leases[i]);
		if (l < t)
			t = l;
		if (due < 0 || t < due)
			due = t;
	}
	return due;
}

GC_EXTERN int gc_etcd_lease_keeper_timeout_ms(gc_etcd_lease_keeper *k)
{
	int64_t due, now;
	if (!k)
		return -1;
	pthread_mutex_lock(&k->lock);
	due = next_due_ms(k);
	pthread_mutex_unlock(&k->lock);
	if (due < 0)
		return -1;
	now = gc__mono_ms();
	if (due <= now)
		return 0;
	return due - now > INT32_MAX ? INT32_MAX : (int)(due - now);
}

GC_EXTERN int gc_etcd_lease_keeper_step(gc_etcd_lease_keeper *k,
					gc_error *err)
{
	int rc = 0;
	if (!k)
		return gc__seterr(err, GC_EINVAL, "lease keeper is NULL");
	for (;;) {
		int64_t now = gc__mono_ms(), id = 0, ttl = 0, lost_deadline = 0;
		int lost = 0, krc;
		char reason[GC_ERROR_MSG_MAX];
		gc_error kerr;
		ssize_t idx;
		size_t i;

		if (atomic_load(&k->abort))
			return rc;
		/* Pick one due lease (or one past its loss deadline). */
		pthread_mutex_lock(&k->lock);
		for (i = 0; i < k->n; i++) {
			kept_lease *l = &k->leases[i];
			if (now >= lost_at(k, l)) {
				id = l->id;
				lost = GC_EUNAVAIL;
				snprintf(reason, sizeof(reason),
					 "lease %" PRId64
					 " not confirmed for %" PRId64
					 " ms (TTL %" PRId64 " s)",
					 l->id, now - l->last_ok_ms, l->ttl_s);
				drop_at(k, i);
				break;
			}
			if (now >= l->next_ms) {
				id = l->id;
				lost_deadline = lost_at(k, l);
				/* not due again until this round trip ends */
				l->next_ms = now + interval_ms(l->ttl_s);
				break;
			}
		}
		pthread_mutex_unlock(&k->lock);
		if (!id)
			return rc;
		if (lost) {
			gc__log(k->c->log, k->c->log_payload, GC_LOG_WARNING,
				"etcd: %s; reporting it lost", reason);
			if (k->on_lost)
				k->on_lost(id, lost, reason, k->payload);
			continue;
		}

		{
			int64_t left = lost_deadline - now;
			int retry = left > k->c->retry_timeout_ms
					    ? k->c->retry_timeout_ms
					    : (int)(left > 500 ? left : 500);
			krc = gc__etcd_keepalive(k->c, &k->conn, id, retry,
						 &ttl, &kerr);
		}
		now = gc__mono_ms();
		pthread_mutex_lock(&k->lock);
		idx = find_lease(k, id);
		if (idx >= 0) {
			kept_lease *l = &k->leases[idx];
			if (!krc) {
				l->last_ok_ms = now;
				if (ttl > 0)
					l->ttl_s = ttl;
				l->next_ms = now + interval_ms(l->ttl_s);
			} else if (krc == GC_ENOTFOUND) {
				drop_at(k, (size_t)idx);
				lost = GC_ENOTFOUND;
				snprintf(reason, sizeof(reason), "%s",
					 kerr.msg);
			} else {
				/* transient: try again soon, bounded by the
				 * loss deadline checked above */
				l->next_ms = now + 500;
			}
		}
		pthread_mutex_unlock(&k->lock);
		if (krc && krc != GC_ENOTFOUND) {
			gc__log(k->c->log, k->c->log_payload, GC_LOG_WARNING,
				"etcd: %s", kerr.msg);
			rc = krc;
			if (err)
				*err = kerr;
		}
		if (lost) {
			gc__log(k->c->log, k->c->log_payload, GC_LOG_WARNING,
				"etcd: %s; reporting it lost", reason);
			if (k->on_lost)
				k->on_lost(id, lost, reason, k->payload);
		}
	}
}

static void *keeper_thread(void *arg)
{
	gc_etcd_lease_keeper *k = arg;
	pthread_mutex_lock(&k->lock);
	while (!k->stop) {
		int64_t due = next_due_ms(k), now = gc__mono_ms();
		if (due >= 0 && due <= now) {
			pthread_mutex_unlock(&k->lock);
			gc_etcd_lease_keeper_step(k, NULL);
			pthread_mutex_lock(&k->lock);
			continue;
		}
		if (due < 0) {
			pthread_cond_wait(&k->cond, &k->lock);
		} else {
			struct timespec ts;
			gc__mono_deadline(&ts, due - now);
			pthread_cond_timedwait(&k->cond, &k->lock, &ts);
		}
	}
	pthread_mutex_unlock(&k->lock);
	return NULL;
}

GC_EXTERN int gc_etcd_lease_keeper_new(gc_etcd_lease_keeper **out, gc_etcd *c,
				       const gc_etcd_keeper_options *o,
				       gc_error *err)
{
	gc_etcd_keeper_options copy;
	gc_etcd_lease_keeper *k;
	pthread_condattr_t ca;
	int rc;
	if (!out || !c)
		return gc__seterr(err, GC_EINVAL,
				  "lease keeper: out and client are required");
	*out = NULL;
	if ((rc = gc__options_copy(&copy, o, &gc__etcd_keeper_optver, err)))
		return rc;
	o = &copy;
	k = calloc(1, sizeof(*k));
	if (!k)
		return gc__seterr(err, GC_ENOMEM, "out of memory");
	k->c = c;
	if (o) {
		k->on_lost = o->on_lost;
		k->payload = o->payload;
		k->margin_ms = o->margin_ms > 0 ? o->margin_ms : 0;
	}
	rc = gc__etcd_conn_init(c, &k->conn, err);
	if (rc) {
		free(k);
		return rc;
	}
	atomic_init(&k->abort, 0);
	k->conn.abort = &k->abort;
	pthread_mutex_init(&k->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&k->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (o && o->own_thread) {
		sigset_t all, old;
		/* the thread must never run the host's signal handlers */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		rc = pthread_create(&k->thread, NULL, keeper_thread, k);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (rc) {
			gc__etcd_conn_dispose(&k->conn);
			pthread_cond_destroy(&k->cond);
			pthread_mutex_destroy(&k->lock);
			free(k);
			return gc__seterr_errno(err, GC_ESYS, rc,
						"lease keeper: pthread_create");
		}
		k->has_thread = 1;
	}
	*out = k;
	return 0;
}

GC_EXTERN int gc_etcd_lease_keeper_add(gc_etcd_lease_keeper *k, int64_t lease,
				       int64_t ttl_s, gc_error *err)
{
	ssize_t i;
	int64_t now = gc__mono_ms();
	if (!k || lease == 0 || ttl_s <= 0)
		return gc__seterr(err, GC_EINVAL,
				  "lease keeper: a lease and a TTL > 0 are "
				  "required");
	pthread_mutex_lock(&k->lock);
	i = find_lease(k, lease);
	if (i < 0) {
		if (k->n == k->cap) {
			size_t cap = k->cap ? k->cap * 2 : 8;
			kept_lease *v = realloc(k->leases, cap * sizeof(*v));
			if (!v) {
				pthread_mutex_unlock(&k->lock);
				return gc__seterr(err, GC_ENOMEM,
						  "out of memory");
			}
			k->leases = v;
			k->cap = cap;
		}
		i = (ssize_t)k->n++;
		k->leases[i].id = lease;
	}
	k->leases[i].ttl_s = ttl_s;
	k->leases[i].last_ok_ms = now;
	k->leases[i].next_ms = now + interval_ms(ttl_s);
	pthread_cond_signal(&k->cond);
	pthread_mutex_unlock(&k->lock);
	return 0;
}

GC_EXTERN int gc_etcd_lease_keeper_remove(gc_etcd_lease_keeper *k,
					  int64_t lease)
{
	ssize_t i;
	if (!k)
		return GC_EINVAL;
	pthread_mutex_lock(&k->lock);
	i = find_lease(k, lease);
	if (i >= 0)
		drop_at(k, (size_t)i);
	pthread_cond_signal(&k->cond);
	pthread_mutex_unlock(&k->lock);
	return i >= 0 ? 0 : GC_ENOTFOUND;
}

GC_EXTERN size_t gc_etcd_lease_keeper_count(gc_etcd_lease_keeper *k)
{
	size_t n;
	if (!k)
		return 0;
	pthread_mutex_lock(&k->lock);
	n = k->n;
	pthread_mutex_unlock(&k->lock);
	return n;
}

GC_EXTERN void gc_etcd_lease_keeper_free(gc_etcd_lease_keeper *k)
{
	if (!k)
		return;
	if (k->has_thread) {
		pthread_mutex_lock(&k->lock);
		k->stop = 1;
		atomic_store(&k->abort, 1);
		pthread_cond_signal(&k->cond);
		pthread_mutex_unlock(&k->lock);
		curl_multi_wakeup(k->conn.multi);
		pthread_join(k->thread, NULL);
	}
	gc__etcd_conn_dispose(&k->conn);
	pthread_cond_destroy(&k->cond);
	pthread_mutex_destroy(&k->lock);
	free(k->leases);
	free(k);
}
