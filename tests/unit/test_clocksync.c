/* Cluster time estimator against synthetic etcd members: a member whose
 * clock is off by a known amount (and may drift), answering probes after a
 * random round trip and reading its clock at a random instant inside it,
 * with the Date header's whole seconds. The estimator never reads a clock:
 * the simulation's time is passed in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent/clocksync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS 1000000000LL
#define MS 1000000LL
#define US 1000LL

struct sim {
	int64_t mono;		/* local CLOCK_MONOTONIC now */
	int64_t wall_off;	/* local wall = mono + wall_off */
	int64_t srv_off;	/* member clock = mono + srv_off + drift */
	double drift_ppm;	/* member clock rate - local rate */
	int64_t rtt_lo, rtt_hi; /* round trips uniform in [lo, hi] */
	int64_t send_late;	/* probes go up to this late (scheduling) */
	size_t endpoint;
	uint64_t rng;
	int probes;
};

static uint64_t rnd(struct sim *s)
{
	/* xorshift64* */
	s->rng ^= s->rng >> 12;
	s->rng ^= s->rng << 25;
	s->rng ^= s->rng >> 27;
	return s->rng * 2685821657736338717ULL;
}

static int64_t rnd_range(struct sim *s, int64_t lo, int64_t hi)
{
	return hi > lo ? lo + (int64_t)(rnd(s) % (uint64_t)(hi - lo + 1)) : lo;
}

static int64_t member_clock(const struct sim *s, int64_t mono)
{
	return mono + s->srv_off + (int64_t)((double)mono * s->drift_ppm / 1e6);
}

/* True offset: member clock - local wall clock, now. */
static int64_t true_offset(const struct sim *s)
{
	return member_clock(s, s->mono) - (s->mono + s->wall_off);
}

static int64_t floor_s(int64_t ns)
{
	return ns >= 0 ? ns / NS : -((-ns + NS - 1) / NS);
}

/* One probe sent now; the simulation's time moves to its answer. */
static void probe(struct sim *s, gc_etcd_clock_sample *out)
{
	int64_t rtt = rnd_range(s, s->rtt_lo, s->rtt_hi);
	int64_t read = s->mono + rnd_range(s, 0, rtt);
	memset(out, 0, sizeof(*out));
	out->sent_mono_ns = s->mono;
	out->sent_ns = s->mono + s->wall_off;
	out->server_s = floor_s(member_clock(s, read));
	s->mono += rtt;
	out->received_mono_ns = s->mono;
	out->received_ns = s->mono + s->wall_off;
	out->endpoint_index = s->endpoint;
	s->probes++;
}

static void estimate(const gc__clocksync *cs, const struct sim *s,
		     gc__clock_estimate *e)
{
	gc__clocksync_estimate(cs, s->mono, s->mono + s->wall_off, e);
}

/* The bound holds: |estimate - truth| <= error. */
static void check_bound(const gc__clocksync *cs, const struct sim *s,
			const char *what)
{
	gc__clock_estimate e;
	int64_t d;
	estimate(cs, s, &e);
	if (e.state == GC__CLOCK_UNKNOWN)
		return;
	d = e.offset_ns - true_offset(s);
	if (d > e.error_ns || d < -e.error_ns)
		fail_msg("%s: estimate %+lld ns is %lld ns off the true offset "
			 "%+lld ns, beyond its bound %lld ns (%d probes)",
			 what, (long long)e.offset_ns, (long long)d,
			 (long long)true_offset(s), (long long)e.error_ns,
			 s->probes);
	/* the cluster time says the same */
	d = e.cluster_now_ns - member_clock(s, s->mono);
	if (d > e.error_ns || d < -e.error_ns)
		fail_msg("%s: cluster time %lld ns off (bound %lld)", what,
			 (long long)d, (long long)e.error_ns);
}

/* Probe whenever the estimator says, until `until` (simulated mono);
 * check the bound after every sample. */
static void run_until(gc__clocksync *cs, struct sim *s, int64_t until)
{
	gc_etcd_clock_sample smp;
	while (s->mono < until) {
		int64_t next = gc__clocksync_next_probe(cs, s->mono);
		assert_true(next >= s->mono);
		if (next > until) {
			s->mono = until;
			break;
		}
		s->mono = next + rnd_range(s, 0, s->send_late);
		probe(s, &smp);
		assert_true(gc__clocksync_add(cs, &smp) >= 0);
		check_bound(cs, s, "after a sample");
	}
}

static void sim_init(struct sim *s, int64_t offset, int64_t rtt_lo,
		     int64_t rtt_hi, uint64_t seed)
{
	memset(s, 0, sizeof(*s));
	s->mono = 1000 * NS + (int64_t)(seed % 1000) * 1234567;
	s->wall_off = INT64_C(1796580000) * NS; /* wall = unix time */
	s->srv_off = s->wall_off + offset;
	s->rtt_lo = rtt_lo;
	s->rtt_hi = rtt_hi;
	s->send_late = 50 * US;
	s->rng = seed * 0x9E3779B97F4A7C15ULL + 1;
}

/* ------------------------------------------------------------ tests */

static void unknown_until_the_first_sample_then_probe_at_once(void **state)
{
	gc__clocksync cs;
	gc__clock_estimate e;
	struct sim s;
	gc_etcd_clock_sample smp;
	(void)state;
	gc__clocksync_init(&cs, NULL);
	sim_init(&s, 0, 100 * US, 100 * US, 1);
	estimate(&cs, &s, &e);
	assert_int_equal(e.state, GC__CLOCK_UNKNOWN);
	assert_non_null(strstr(e.reason, "no answer"));
	assert_true(gc__clocksync_next_probe(&cs, s.mono) == s.mono);
	probe(&s, &smp);
	assert_int_equal(gc__clocksync_add(&cs, &smp), 0);
	estimate(&cs, &s, &e);
	/* one sample: a second wide, so not usable yet */
	assert_int_equal(e.state, GC__CLOCK_UNCERTAIN);
	assert_true(e.error_ns >= NS / 2 && e.error_ns <= NS / 2 + 100 * US);
	assert_non_null(strstr(e.reason, "not known well enough"));
	/* a sample received before it was sent is refused */
	smp.received_mono_ns = smp.sent_mono_ns - 1;
	assert_int_equal(gc__clocksync_add(&cs, &smp), GC_EINVAL);
}

/* Offsets 0, +2 s, -2 s, +5 s; round trips 0.1 ms to 300 ms with jitter:
 * within a few boundaries (seconds) the estimate is within the round trip
 * of the truth, and its bound is about that too. */
static void converges_to_within_the_round_trip_in_a_few_seconds(void **state)
{
	static const int64_t offsets[] = {0, 2 * NS, -2 * NS, 5 * NS,
					  1234567891LL};
	static const int64_t rtts[] = {100 * US, 1 * MS, 10 * MS, 100 * MS,
				       300 * MS};
	(void)state;
	for (size_t i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
		for (size_t j = 0; j < sizeof(rtts) / sizeof(rtts[0]); j++) {
			gc__clocksync cs;
			gc__clock_estimate e;
			struct sim s;
			int64_t t0, rtt = rtts[j], jitter = rtt / 2, d;
			gc__clocksync_init(&cs, NULL);
			sim_init(&s, offsets[i], rtt, rtt + jitter, i * 7 + j);
			t0 = s.mono;
			/* 5 boundaries, plus the round trips of the last
			 * probes for the slow members */
			run_until(&cs, &s, t0 + 5 * NS + 2 * rtt);
			estimate(&cs, &s, &e);
			d = e.offset_ns - offsets[i];
			print_message("offset %+.3f s rtt %5.1f ms: error "
				      "%+8.3f ms, bound %7.3f ms, %d probes\n",
				      offsets[i] / 1e9, rtt / 1e6, d / 1e6,
				      e.error_ns / 1e6, s.probes);
			/* within the round trip (the longest of them) */
			if (d > rtt + jitter || d < -(rtt + jitter))
				fail_msg("estimate %lld ns off after 5 s (rtt "
					 "%lld..%lld ns)",
					 (long long)d, (long long)rtt,
					 (long long)(rtt + jitter));
			/* and the bound says about as much */
			if (e.error_ns > 3 * (rtt + jitter))
				fail_msg("bound %lld ns after 5 s (rtt %lld)",
					 (long long)e.error_ns, (long long)rtt);
			if (rtt <= 10 * MS)
				assert_int_equal(e.state,
						 llabs(offsets[i]) <= NS
						     ? GC__CLOCK_OK
						     : GC__CLOCK_TOO_FAR);
		}
	}
}

/* The property: over many random members (offset, drift within the
 * assumed bound, round trips and their jitter, late sends, steps of the
 * local wall clock), after every sample, the bound contains the truth. */
static void the_bound_always_contains_the_true_offset(void **state)
{
	int cases = 300, samples = 0;
	(void)state;
	for (int c = 0; c < cases; c++) {
		gc__clocksync cs;
		struct sim s;
		gc__clocksync_options o;
		int64_t rtt_lo, t_end;
		sim_init(&s, 0, 0, 0, (uint64_t)c + 1000);
		memset(&o, 0, sizeof(o));
		o.probes_per_window = (int)rnd_range(&s, 2, 16);
		o.period_ns = rnd_range(&s, 2, 40) * NS;
		o.max_age_ns = rnd_range(&s, 5, 300) * NS;
		gc__clocksync_init(&cs, &o);
		s.srv_off = s.wall_off + rnd_range(&s, -10 * NS, 10 * NS);
		/* 0.9 x the assumed 100 ppm at most, either way */
		s.drift_ppm = (double)rnd_range(&s, -90, 90);
		rtt_lo = rnd_range(&s, 20 * US, 300 * MS);
		s.rtt_lo = rtt_lo;
		s.rtt_hi = rtt_lo + rnd_range(&s, 0, rtt_lo);
		s.send_late = rnd_range(&s, 0, 5 * MS);
		t_end = s.mono + rnd_range(&s, 3, 90) * NS;
		while (s.mono < t_end) {
			/* now and then the wall clock steps (date -s) */
			int64_t chunk = rnd_range(&s, NS / 2, 20 * NS);
			run_until(&cs, &s, s.mono + chunk);
			if (rnd(&s) % 4 == 0)
				s.wall_off += rnd_range(&s, -3 * NS, 3 * NS);
			check_bound(&cs, &s, "after a wall clock step");
		}
		samples += s.probes;
	}
	print_message("%d random members, %d samples: the bound always held\n",
		      cases, samples);
}

/* A step of the local wall clock changes the offset at once and needs
 * no new probe: the estimate is held against the monotonic clock. */
static void a_wall_clock_step_moves_the_offset_at_once(void **state)
{
	gc__clocksync cs;
	gc__clock_estimate before, after;
	struct sim s;
	(void)state;
	gc__clocksync_init(&cs, NULL);
	sim_init(&s, 2 * NS, 200 * US, 300 * US, 42);
	run_until(&cs, &s, s.mono + 6 * NS);
	estimate(&cs, &s, &before);
	assert_int_equal(before.state, GC__CLOCK_TOO_FAR); /* 2 s > 1 s */
	assert_non_null(strstr(before.reason, "max_clock_offset"));
	/* NTP steps this machine's wall clock 2 s forward: now it agrees */
	s.wall_off += 2 * NS;
	estimate(&cs, &s, &after);
	assert_int_equal(after.samples, before.samples);
	assert_int_equal(after.state, GC__CLOCK_OK);
	assert_true(llabs(after.offset_ns - (before.offset_ns - 2 * NS)) <=
		    1000);
	assert_true(after.cluster_now_ns == before.cluster_now_ns);
	check_bound(&cs, &s, "after the step");
	/* reset forgets everything; probing starts over at once */
	gc__clocksync_reset(&cs);
	estimate(&cs, &s, &after);
	assert_int_equal(after.state, GC__CLOCK_UNKNOWN);
	assert_true(gc__clocksync_next_probe(&cs, s.mono) == s.mono);
	run_until(&cs, &s, s.mono + 6 * NS);
	estimate(&cs, &s, &after);
	assert_int_equal(after.state, GC__CLOCK_OK);
}

/* The member steps its clock (or this machine's monotonic clock jumps,
 * as over a suspend): the first contradicting sample restarts the
 * estimate, which converges on the new offset. */
static void a_member_clock_step_restarts_the_estimate(void **state)
{
	gc__clocksync cs;
	gc__clock_estimate e;
	struct sim s;
	gc_etcd_clock_sample smp;
	int flags = 0;
	(void)state;
	gc__clocksync_init(&cs, NULL);
	sim_init(&s, 300 * MS, 100 * US, 200 * US, 7);
	run_until(&cs, &s, s.mono + 6 * NS);
	s.srv_off -= 700 * MS; /* now -400 ms */
	for (int i = 0; i < 200 && !(flags & GC__CLOCKSYNC_RESET_INCONSISTENT);
	     i++) {
		s.mono = gc__clocksync_next_probe(&cs, s.mono);
		probe(&s, &smp);
		flags = gc__clocksync_add(&cs, &smp);
	}
	assert_true(flags & GC__CLOCKSYNC_RESET_INCONSISTENT);
	assert_int_equal(cs.resets, 1);
	run_until(&cs, &s, s.mono + 6 * NS);
	estimate(&cs, &s, &e);
	assert_int_equal(e.state, GC__CLOCK_OK);
	assert_true(llabs(e.offset_ns + 400 * MS) <= 200 * US);
}

/* Another member (failover) has its own clock: its first sample restarts
 * the estimate. */
static void a_sample_from_another_member_restarts(void **state)
{
	gc__clocksync cs;
	gc__clock_estimate e;
	struct sim s;
	gc_etcd_clock_sample smp;
	(void)state;
	gc__clocksync_init(&cs, NULL);
	sim_init(&s, 0, 100 * US, 100 * US, 9);
	run_until(&cs, &s, s.mono + 5 * NS);
	s.endpoint = 2;
	s.srv_off += 50 * MS; /* a clock 50 ms ahead: still consistent */
	s.mono = gc__clocksync_next_probe(&cs, s.mono);
	probe(&s, &smp);
	assert_int_equal(gc__clocksync_add(&cs, &smp),
			 GC__CLOCKSYNC_RESET_SOURCE);
	estimate(&cs, &s, &e);
	assert_int_equal(e.samples, 1);
	run_until(&cs, &s, s.mono + 6 * NS);
	estimate(&cs, &s, &e);
	assert_true(llabs(e.offset_ns - 50 * MS) <= 100 * US);
}

/* Samples expire: without answers for max_age the offset is unknown
 * again and a probe is due at once. */
static void old_samples_expire(void **state)
{
	gc__clocksync cs;
	gc__clocksync_options o = {0};
	gc__clock_estimate e;
	struct sim s;
	(void)state;
	o.max_age_ns = 60 * NS;
	gc__clocksync_init(&cs, &o);
	sim_init(&s, -NS / 3, 100 * US, 100 * US, 11);
	run_until(&cs, &s, s.mono + 6 * NS);
	estimate(&cs, &s, &e);
	assert_int_equal(e.state, GC__CLOCK_OK);
	/* etcd unreachable: nothing is added for 61 s */
	s.mono += 61 * NS;
	estimate(&cs, &s, &e);
	assert_int_equal(e.state, GC__CLOCK_UNKNOWN);
	assert_non_null(strstr(e.reason, "too old"));
	assert_true(gc__clocksync_next_probe(&cs, s.mono) == s.mono);
	/* drift widens the bound as samples age (100 ppm: 1 ms in 10 s) */
	run_until(&cs, &s, s.mono + 6 * NS);
	estimate(&cs, &s, &e);
	{
		gc__clock_estimate later;
		gc__clocksync_estimate(&cs, s.mono + 10 * NS,
				       s.mono + 10 * NS + s.wall_off, &later);
		assert_true(later.error_ns >= e.error_ns + MS - 1000);
	}
}

/* Once converged the estimator probes one round per period, and the bound
 * stays within a few ms (drift allowance) for minutes. */
static void steady_state_costs_few_probes_and_keeps_the_bound(void **state)
{
	gc__clocksync cs;
	gc__clock_estimate e;
	struct sim s;
	int p0;
	int64_t worst = 0;
	(void)state;
	gc__clocksync_init(&cs, NULL);
	sim_init(&s, -2 * NS, 300 * US, 500 * US, 13);
	s.drift_ppm = 30;
	run_until(&cs, &s, s.mono + 6 * NS);
	p0 = s.probes;
	for (int i = 0; i < 600; i++) { /* 10 minutes, checked every s */
		run_until(&cs, &s, s.mono + NS);
		estimate(&cs, &s, &e);
		assert_int_equal(e.state == GC__CLOCK_UNKNOWN, 0);
		if (e.error_ns > worst)
			worst = e.error_ns;
	}
	print_message("steady: %d probes in 10 minutes, worst bound %.3f ms\n",
		      s.probes - p0, worst / 1e6);
	/* 20 rounds of a few probes each */
	assert_true(s.probes - p0 <= 20 * 12);
	assert_true(worst <= 5 * MS);
}

/* The round aims at the boundary: the next probe after convergence is
 * one period later and its window brackets a member second. */
static void probes_are_timed_at_the_members_second_boundaries(void **state)
{
	gc__clocksync cs;
	struct sim s;
	gc__clock_estimate e;
	int64_t next, boundary, member_at_next;
	(void)state;
	gc__clocksync_init(&cs, NULL);
	sim_init(&s, 5 * NS + 123456789, 100 * US, 100 * US, 17);
	run_until(&cs, &s, s.mono + 6 * NS);
	estimate(&cs, &s, &e);
	assert_int_equal(e.state, GC__CLOCK_TOO_FAR);
	/* one period (30 s) after the newest sample, at the first member
	 * second boundary then */
	next = gc__clocksync_next_probe(&cs, s.mono);
	assert_true(next >= s.mono - e.age_ns + 30 * NS - MS);
	assert_true(next <= s.mono - e.age_ns + 31 * NS);
	/* the member's clock at the planned probe is within a few ms after
	 * a whole second: the probe straddles its boundary */
	member_at_next = member_clock(&s, next);
	boundary = (member_at_next / NS) * NS;
	if (member_at_next - boundary > 5 * MS &&
	    boundary + NS - member_at_next > 5 * MS)
		fail_msg("probe planned %lld ns past a member second",
			 (long long)(member_at_next - boundary));
	/* usable thresholds */
	assert_true(gc__clock_mono_at(&e, e.cluster_now_ns) >= s.mono);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(unknown_until_the_first_sample_then_probe_at_once),
	    cmocka_unit_test(
		converges_to_within_the_round_trip_in_a_few_seconds),
	    cmocka_unit_test(the_bound_always_contains_the_true_offset),
	    cmocka_unit_test(a_wall_clock_step_moves_the_offset_at_once),
	    cmocka_unit_test(a_member_clock_step_restarts_the_estimate),
	    cmocka_unit_test(a_sample_from_another_member_restarts),
	    cmocka_unit_test(old_samples_expire),
	    cmocka_unit_test(steady_state_costs_few_probes_and_keeps_the_bound),
	    cmocka_unit_test(probes_are_timed_at_the_members_second_boundaries),
	};
	return cmocka_run_group_tests_name("clocksync", tests, NULL, NULL);
}
