/* Cluster time estimator (see clocksync.h): intersection of the offset
 * intervals of etcd clock samples, and when to probe next. Pure. */
#include "clocksync.h"

#include <gophercron/common.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS    1000000000LL
#define MS_NS 1000000LL

void gc__clocksync_init(gc__clocksync *cs, const gc__clocksync_options *o)
{
	memset(cs, 0, sizeof(*cs));
	if (o)
		cs->o = *o;
	if (cs->o.max_age_ns <= 0)
		cs->o.max_age_ns = 300 * NS;
	if (cs->o.period_ns <= 0)
		cs->o.period_ns = 30 * NS;
	if (cs->o.drift_ppm <= 0)
		cs->o.drift_ppm = 100;
	if (cs->o.goal_ns <= 0)
		cs->o.goal_ns = 100000;
	if (cs->o.hold_ns <= 0)
		cs->o.hold_ns = 5 * MS_NS;
	if (cs->o.probes_per_window <= 0)
		cs->o.probes_per_window = 10;
	if (cs->o.max_offset_ns <= 0)
		cs->o.max_offset_ns = NS;
	if (cs->o.max_error_ns <= 0)
		cs->o.max_error_ns = 100 * MS_NS;
}

void gc__clocksync_reset(gc__clocksync *cs)
{
	cs->n = cs->head = 0;
	cs->converged = false;
	cs->round_s = 0;
	cs->round_width = cs->conv_width = 0;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static const gc__clocksync_iv *iv_at(const gc__clocksync *cs, size_t i)
{
	return &cs->s[(cs->head + i) % GC__CLOCKSYNC_SAMPLES];
}

/* The intersection of the kept samples' intervals, each widened by the
 * drift over its age at `at`; samples older than max_age are skipped.
 * bounds_at returns how many were used (0: b untouched). */
struct bounds {
	int64_t lo, hi;
	int64_t rtt;	  /* smallest round trip */
	int64_t newest;	  /* mono of the newest sample */
	int64_t newest_s; /* its Date */
};

static size_t bounds_at(const gc__clocksync *cs, int64_t at, struct bounds *b)
{
	size_t used = 0;
	for (size_t i = 0; i < cs->n; i++) {
		const gc__clocksync_iv *v = iv_at(cs, i);
		int64_t age = at > v->mono ? at - v->mono : 0, w;
		if (age > cs->o.max_age_ns)
			continue;
		w = cs->o.drift_ppm * age / 1000000;
		if (!used || v->lo - w > b->lo)
			b->lo = v->lo - w;
		if (!used || v->hi + w < b->hi)
			b->hi = v->hi + w;
		if (!used || v->rtt < b->rtt)
			b->rtt = v->rtt;
		if (!used || v->mono >= b->newest) {
			b->newest = v->mono;
			b->newest_s = v->server_s;
		}
		used++;
	}
	return used;
}

/* Drop the samples that expired by `at` (the oldest come first). */
static void prune(gc__clocksync *cs, int64_t at)
{
	while (cs->n && at - iv_at(cs, 0)->mono > cs->o.max_age_ns) {
		cs->head = (cs->head + 1) % GC__CLOCKSYNC_SAMPLES;
		cs->n--;
	}
}

/* After a round ends (its boundary seen) with width `w`: converged when
 * within the goal (or a round trip, which is what probing can reach), or
 * when the round no longer narrowed much (jitter sets the floor). */
static void round_done(gc__clocksync *cs, int64_t w, int64_t rtt)
{
	int64_t target = 2 * cs->o.goal_ns > rtt ? 2 * cs->o.goal_ns : rtt;
	if (w <= target || (cs->round_width && w > cs->round_width * 6 / 10)) {
		if (!cs->converged)
			cs->conv_width = w;
		cs->converged = true;
	}
	cs->round_width = w;
	cs->round_s = 0;
}

/* A converged estimate whose bound grew (samples aging) past hold_ns and
 * 4x what it converged to is narrowed again at once. */
static void check_hold(gc__clocksync *cs, int64_t w)
{
	int64_t hold = 2 * cs->o.hold_ns;
	if (4 * cs->conv_width > hold)
		hold = 4 * cs->conv_width;
	if (cs->converged && w > hold) {
		cs->converged = false;
		cs->round_width = 0;
	}
}

int gc__clocksync_add(gc__clocksync *cs, const gc_etcd_clock_sample *s)
{
	gc__clocksync_iv v;
	struct bounds b;
	int flags = 0;
	if (s->received_mono_ns < s->sent_mono_ns)
		return GC_EINVAL;
	v.lo = s->server_s * NS - s->received_mono_ns;
	v.hi = (s->server_s + 1) * NS - s->sent_mono_ns;
	v.mono = s->received_mono_ns;
	v.rtt = s->received_mono_ns - s->sent_mono_ns;
	v.server_s = s->server_s;
	if (cs->n && s->endpoint_index != cs->source) {
		gc__clocksync_reset(cs);
		flags |= GC__CLOCKSYNC_RESET_SOURCE;
	}
	prune(cs, v.mono);
	if (bounds_at(cs, v.mono, &b) && (v.lo > b.hi || v.hi < b.lo)) {
		gc__clocksync_reset(cs);
		cs->resets++;
		flags |= GC__CLOCKSYNC_RESET_INCONSISTENT;
	}
	if (flags & GC__CLOCKSYNC_RESET_SOURCE)
		cs->resets++;
	if (cs->n == GC__CLOCKSYNC_SAMPLES) { /* full: drop the oldest */
		cs->head = (cs->head + 1) % GC__CLOCKSYNC_SAMPLES;
		cs->n--;
	}
	cs->s[(cs->head + cs->n) % GC__CLOCKSYNC_SAMPLES] = v;
	cs->n++;
	cs->source = s->endpoint_index;
	bounds_at(cs, v.mono, &b);
	/* the round's boundary was seen: the round is over */
	if (cs->round_s && s->server_s >= cs->round_s)
		round_done(cs, b.hi - b.lo, b.rtt);
	check_hold(cs, b.hi - b.lo);
	return flags;
}

/* The local window (monotonic) where the member's clock passes second
 * `sec`, given phi in [lo, hi], is [sec - hi, sec - lo]: its start. */
static int64_t window_start(const struct bounds *b, int64_t sec)
{
	return sec * NS - b->hi;
}

int64_t gc__clocksync_next_probe(gc__clocksync *cs, int64_t now)
{
	struct bounds b;
	int64_t w, gap, half, from, mid, sec;
	if (!bounds_at(cs, now, &b)) {
		cs->round_s = 0;
		return now;
	}
	w = b.hi - b.lo;
	half = b.rtt / 2;
	gap = w / cs->o.probes_per_window;
	if (gap < b.rtt)
		gap = b.rtt;
	/* a round under way: the next probe further into its window, or
	 * past it: a round ends only when a probe sees the new second (a
	 * probe after the window that does not is a contradiction, which
	 * restarts the estimate: a clock moved) */
	if (cs->round_s) {
		mid = window_start(&b, cs->round_s) + gap;
		if (mid < now + half)
			mid = now + half;
		return mid - half;
	}
	/* converged: the next round one period after the newest sample;
	 * else at once */
	from = now;
	if (cs->converged && b.newest + cs->o.period_ns > now)
		from = b.newest + cs->o.period_ns;
	/* the first boundary whose window still lies (partly) ahead; once
	 * converged, one that lies wholly ahead */
	sec = floor_div(from + half + b.lo, NS) + 1;
	if (cs->converged)
		while (window_start(&b, sec) + gap - half < from)
			sec++;
	cs->round_s = sec;
	mid = window_start(&b, sec) + gap;
	if (mid < from + half)
		mid = from + half;
	return mid - half > now ? mid - half : now;
}

void gc__clocksync_estimate(const gc__clocksync *cs, int64_t now_mono,
			    int64_t now_wall, gc__clock_estimate *out)
{
	struct bounds b;
	int64_t at = now_mono, phi, mag;
	const gc__clocksync_options *o = &cs->o;
	memset(out, 0, sizeof(*out));
	/* bounds only widen with time: never evaluate before the newest */
	if (cs->n && iv_at(cs, cs->n - 1)->mono > at)
		at = iv_at(cs, cs->n - 1)->mono;
	out->samples = bounds_at(cs, at, &b);
	if (!out->samples) {
		out->state = GC__CLOCK_UNKNOWN;
		snprintf(out->reason, sizeof(out->reason),
			 cs->n ? "clock offset unknown: the last answer from "
				 "etcd's clock is too old"
			       : "clock offset unknown: no answer from etcd's "
				 "clock yet");
		return;
	}
	phi = b.lo + (b.hi - b.lo) / 2;
	out->phi_lo_ns = b.lo;
	out->phi_hi_ns = b.hi;
	out->error_ns = b.hi - phi;
	out->offset_ns = phi + now_mono - now_wall;
	out->cluster_now_ns = now_mono + phi;
	out->rtt_ns = b.rtt;
	out->age_ns = now_mono - b.newest;
	mag = out->offset_ns < 0 ? -out->offset_ns : out->offset_ns;
	if (mag - out->error_ns > o->max_offset_ns ||
	    (out->error_ns <= o->max_error_ns && mag > o->max_offset_ns)) {
		out->state = GC__CLOCK_TOO_FAR;
		snprintf(out->reason, sizeof(out->reason),
			 "clock offset %+.1f ms (+-%.1f ms) to etcd exceeds "
			 "max_clock_offset (%.0f ms)",
			 out->offset_ns / 1e6, out->error_ns / 1e6,
			 o->max_offset_ns / 1e6);
	} else if (out->error_ns > o->max_error_ns) {
		out->state = GC__CLOCK_UNCERTAIN;
		snprintf(out->reason, sizeof(out->reason),
			 "clock offset %+.1f ms to etcd not known well enough "
			 "yet (+-%.1f ms, at most %.0f ms allowed)",
			 out->offset_ns / 1e6, out->error_ns / 1e6,
			 o->max_error_ns / 1e6);
	} else {
		out->state = GC__CLOCK_OK;
	}
}
