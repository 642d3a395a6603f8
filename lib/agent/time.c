/* The agent's clock (see gc__atime in agent_internal.h): cluster time for
 * scheduling, the clock thread that estimates it, the schedule timer and
 * the detection of steps. The one place the agent reads a clock for its
 * schedule, so that what "now" means is decided here alone. */
#include "agent/agent_internal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

/* After a failed probe, the next one waits this long. */
#define PROBE_RETRY_NS 1000000000LL
/* Between probes, the estimate is published again this often. */
#define REPUBLISH_NS 1000000000LL
/* Between rounds, one probe at least this often: it shows a clock that
 * jumped (the estimate restarts) within this time. */
#define CHECK_NS 2000000000LL
_Static_assert(CHECK_NS + 1000000000LL <= GC__CLOCK_FRESH_NS,
	       "a check probe comes before the estimate is stale");
/* The clock thread sleeps in slices this long (its stop latency). */
#define SLICE_NS 100000000LL

int gc__atime_open(gc__atime *t, gc_error *err)
{
	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->clock.mu, NULL);
	atomic_init(&t->clock.stop, 0);
	t->clock.inited = 1;
	snprintf(t->clock.est.reason, sizeof(t->clock.est.reason),
		 "cluster time unknown");
	t->timerfd =
	    timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	t->clockfd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	if (t->timerfd < 0 || t->clockfd < 0)
		return gc__seterr_errno(err, GC_ESYS, errno,
					"agent: creating its timers");
	return 0;
}

void gc__atime_close(gc__atime *t)
{
	gc__atime_stop(t);
	gc_etcd_free(t->clock.etcd);
	t->clock.etcd = NULL;
	if (t->timerfd >= 0)
		close(t->timerfd);
	if (t->clockfd >= 0)
		close(t->clockfd);
	t->timerfd = t->clockfd = -1;
	if (t->clock.inited) {
		pthread_mutex_destroy(&t->clock.mu);
		t->clock.inited = 0;
	}
}

/* ------------------------------------------------------ clock thread */

bool gc__clock_usable(const gc__clock_estimate *e)
{
	return (e->state == GC__CLOCK_OK || e->state == GC__CLOCK_UNCERTAIN) &&
	       gc__clock_fresh(e->age_ns, GC__CLOCK_FRESH_NS);
}


/* Publish `e` (mu held): a new generation when what the registration and
 * the claims depend on changed (the state, or the offset by more than
 * GC__CLOCK_REREGISTER_NS; not the reason's figures, which move with
 * every probe). Returns 0: nothing to tell, 1: a new generation, 3: and
 * the state changed (to be logged). */
static int publish(gc__aclock *c, const gc__clock_estimate *e)
{
	const gc__clock_estimate *o = &c->est;
	int changed = e->state != o->state;
	int moved =
	    gc__clock_gen_moves(o->state, e->state, c->gen_offset_ns,
				e->offset_ns, GC__CLOCK_REREGISTER_NS);
	c->est = *e;
	if (moved) {
		c->gen++;
		c->gen_offset_ns = e->offset_ns;
	}
	return changed ? 3 : moved;
}

/* Say loudly when claims stop or resume, and why. */
static void log_change(const gc__aclock *c, const gc__clock_estimate *e)
{
	if (gc__clock_usable(e))
		gc__alog_msg(c->log, GC_LOG_NOTICE,
			     "agent: cluster time %s: offset %.3f s "
			     "(error %.3f s, rtt %.3f ms); claiming ticks",
			     e->state == GC__CLOCK_OK ? "known" : "uncertain",
			     (double)e->offset_ns / 1e9,
			     (double)e->error_ns / 1e9,
			     (double)e->rtt_ns / 1e6);
	else
		gc__alog_msg(c->log, GC_LOG_ERR,
			     "agent: NOT claiming any tick: %s", e->reason);
}

/* One probe (mu not held); *retry_at is set after a failure. */
static void probe(gc__aclock *c, gc__clocksync *cs, int64_t *retry_at,
		  int *failing)
{
	gc_etcd_clock_sample s;
	gc_error err;
	if (gc_etcd_clock_probe(&s, c->etcd, &err) == 0) {
		int f = gc__clocksync_add(cs, &s);
		if (f > 0)
			gc__alog_msg(c->log, GC_LOG_WARNING,
				     "agent: cluster time estimate restarted "
				     "(%s)",
				     f & GC__CLOCKSYNC_RESET_SOURCE
					 ? "another etcd member answers"
					 : "a clock moved");
		*failing = 0;
		return;
	}
	if (!*failing)
		gc__alog_msg(c->log, GC_LOG_WARNING,
			     "agent: etcd clock probe failed: %s", err.msg);
	*failing = 1;
	*retry_at = gc__mono_ns() + PROBE_RETRY_NS;
}

static void estimate(const gc__clocksync *cs, gc__clock_estimate *e)
{
	gc__clocksync_estimate(cs, gc__mono_ns(), gc__wall_ns(), e);
	if (e->state == GC__CLOCK_UNKNOWN && !e->reason[0])
		snprintf(e->reason, sizeof(e->reason), "cluster time unknown");
}

/* Sleep until mono time `at` or a stop, in slices: plain relative
 * nanosleeps (no condition variable: under libfaketime with the monotonic
 * clock left alone, a monotonic pthread_cond_timedwait returns at once). */
static void sleep_until(gc__aclock *c, int64_t at)
{
	int64_t now, from = gc__mono_ns();
	/* a monotonic clock going back ends the sleep (the estimate is
	 * restarted at once) */
	while (!atomic_load(&c->stop) && (now = gc__mono_ns()) < at &&
	       now >= from) {
		int64_t d = at - now < SLICE_NS ? at - now : SLICE_NS;
		struct timespec ts = {0, (long)d};
		nanosleep(&ts, NULL);
	}
}

/* When to wake next: the probe the estimator asks for, or a check probe
 * between rounds (a clock that jumped shows within CHECK_NS), and at
 * least every REPUBLISH_NS to re-evaluate the offset to the wall clock
 * (a step of the wall clock, date -s, shows without a probe). *probe_at
 * is when the next probe is due. */
static int64_t next_wake(gc__clocksync *cs, int64_t retry_at,
			 int64_t last_probe, int64_t *probe_at)
{
	int64_t now = gc__mono_ns();
	int64_t at = gc__clocksync_next_probe(cs, now);
	if (at > last_probe + CHECK_NS || now < last_probe)
		at = now < last_probe ? now : last_probe + CHECK_NS;
	if (at < retry_at)
		at = retry_at;
	*probe_at = at;
	return at < now + REPUBLISH_NS ? at : now + REPUBLISH_NS;
}

/* Publish the estimate and tell the agent when it changed. */
static void clock_publish(gc__aclock *c, const gc__clocksync *cs, int probed)
{
	gc__clock_estimate e;
	estimate(cs, &e);
	if (probed && GC__ALOG_ON(c->log, GC_LOG_DEBUG))
		gc__alog_msg(c->log, GC_LOG_DEBUG,
			     "agent: clock probe: offset %.3f ms error %.3f ms "
			     "rtt %.3f ms samples %zu",
			     e.offset_ns / 1e6, e.error_ns / 1e6,
			     e.rtt_ns / 1e6, e.samples);
	pthread_mutex_lock(&c->mu);
	int ch = publish(c, &e);
	c->newest_mono = gc__mono_ns() - e.age_ns;
	pthread_mutex_unlock(&c->mu);
	if (ch == 3)
		log_change(c, &e);
	if (ch && c->on_change)
		c->on_change(c->payload);
}

static void *clock_thread(void *arg)
{
	gc__aclock *c = arg;
	gc__clocksync cs;
	gc__clocksync_options o = {0};
	o.max_offset_ns = c->max_offset_ns;
	gc__clocksync_init(&cs, &o);
	int64_t retry_at = 0, last_probe = 0, probe_at;
	int failing = 0;
	while (!atomic_load(&c->stop)) {
		sleep_until(c, next_wake(&cs, retry_at, last_probe, &probe_at));
		if (atomic_load(&c->stop))
			break;
		int probed = gc__mono_ns() >= probe_at;
		if (gc__mono_ns() < last_probe) {
			/* The monotonic clock went back: the samples kept are
			 * in its future, which the estimator cannot weigh. */
			gc__clocksync_reset(&cs);
			gc__alog_msg(c->log, GC_LOG_WARNING,
				     "agent: cluster time estimate restarted "
				     "(a clock moved: the monotonic clock went "
				     "back)");
		}
		if (probed) {
			probe(c, &cs, &retry_at, &failing);
			last_probe = gc__mono_ns();
		}
		clock_publish(c, &cs, probed);
	}
	return NULL;
}

int gc__atime_start(gc__atime *t, gc_etcd *etcd, int64_t max_offset_ns,
		    const gc__alog *log, void (*on_change)(void *),
		    void *payload, gc_error *err)
{
	gc__aclock *c = &t->clock;
	c->etcd = etcd;
	c->max_offset_ns = max_offset_ns;
	c->log = log;
	c->on_change = on_change;
	c->payload = payload;
	gc__alog_msg(log, GC_LOG_NOTICE,
		     "agent: not claiming ticks until cluster time is known "
		     "(probing etcd's clock)");
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int e = pthread_create(&c->thread, NULL, clock_thread, c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e)
		return gc__seterr_errno(err, GC_ESYS, e,
					"agent: starting its clock thread");
	c->started = 1;
	return 0;
}

void gc__atime_stop(gc__atime *t)
{
	gc__aclock *c = &t->clock;
	if (!c->started)
		return;
	atomic_store(&c->stop, 1);
	pthread_join(c->thread, NULL);
	c->started = 0;
}

uint64_t gc__atime_clock(const gc__atime *t, gc__clock_estimate *out)
{
	gc__aclock *c = (gc__aclock *)&t->clock;
	pthread_mutex_lock(&c->mu);
	*out = c->est;
	/* the age now: a monotonic clock that jumped makes it stale */
	if (out->state != GC__CLOCK_UNKNOWN)
		out->age_ns = gc__mono_ns() - c->newest_mono;
	uint64_t gen = c->gen;
	pthread_mutex_unlock(&c->mu);
	return gen;
}

/* phi (cluster - monotonic) bounds, or 0 without an estimate. */
static int clock_phi(const gc__atime *t, int64_t *lo, int64_t *hi)
{
	gc__aclock *c = (gc__aclock *)&t->clock;
	pthread_mutex_lock(&c->mu);
	int known = c->est.state != GC__CLOCK_UNKNOWN;
	*lo = c->est.phi_lo_ns;
	*hi = c->est.phi_hi_ns;
	pthread_mutex_unlock(&c->mu);
	return known;
}

int64_t gc__atime_now_ns(const gc__atime *t)
{
	int64_t lo, hi;
	if (!clock_phi(t, &lo, &hi))
		return gc__wall_ns();
	return gc__mono_ns() + lo + (hi - lo) / 2;
}

int64_t gc__atime_mono_at(const gc__atime *t, int64_t cluster_ns)
{
	int64_t lo, hi;
	if (!clock_phi(t, &lo, &hi))
		return cluster_ns - (gc__wall_ns() - gc__mono_ns());
	return cluster_ns - lo;
}

/* ----------------------------------------------------------- timers */

static void arm_clockfd(gc__atime *t)
{
	/* Readable (ECANCELED) as soon as someone sets the wall clock; the
	 * expiry itself is a year away and never matters. */
	struct itimerspec its;
	memset(&its, 0, sizeof(its));
	clock_gettime(CLOCK_REALTIME, &its.it_value);
	its.it_value.tv_sec += 365 * 86400;
	timerfd_settime(t->clockfd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET,
			&its, NULL);
}

int64_t gc__atime_wake(gc__atime *t, int64_t *mono_ns)
{
	uint64_t v;
	while (read(t->timerfd, &v, sizeof(v)) > 0)
		;
	if (!t->watch.init ||
	    (read(t->clockfd, &v, sizeof(v)) < 0 && errno == ECANCELED))
		arm_clockfd(t); /* first wake, or the wall clock was set */
	int64_t lo, hi, now;
	int known = clock_phi(t, &lo, &hi);
	*mono_ns = gc__mono_ns();
	now = known ? *mono_ns + lo + (hi - lo) / 2
		    : gc__wall_ns() - gc__mono_ns() + *mono_ns;
	t->became_known = known && !t->known;
	t->known = known;
	int64_t step = gc__clockwatch_step(&t->watch, now, *mono_ns);
	/* Moving to cluster time is a step however small. */
	return step || !t->became_known ? step : (now > 0 ? 1 : -1);
}

void gc__atime_arm(gc__atime *t, int64_t at_ns)
{
	struct itimerspec its;
	memset(&its, 0, sizeof(its));
	if (at_ns) {
		int64_t wait = at_ns - gc__atime_now_ns(t);
		if (wait <= 0)
			wait = 1; /* due now: fire at once */
		its.it_value.tv_sec = wait / 1000000000LL;
		its.it_value.tv_nsec = wait % 1000000000LL;
	}
	t->armed_ns = at_ns;
	timerfd_settime(t->timerfd, 0, &its, NULL);
}

int gc__atime_timeout_ms(const gc__atime *t)
{
	if (!t->armed_ns)
		return -1;
	int64_t ns = t->armed_ns - gc__atime_now_ns(t);
	if (ns < 0)
		ns = 0;
	int64_t ms = (ns + 999999) / 1000000;
	return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

int gc__ms_min(int a, int b)
{
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return a < b ? a : b;
}

int gc__ms_until(int64_t at_ms, int64_t now_ms)
{
	if (!at_ms)
		return -1;
	int64_t d = at_ms - now_ms;
	if (d < 0)
		return 0;
	return d > INT32_MAX ? INT32_MAX : (int)d;
}
