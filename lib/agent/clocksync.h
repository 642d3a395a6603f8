/* Cluster time: estimate of etcd's clock from gc_etcd_clock_probe samples.
 * Pure: no I/O, no clock read inside; callers pass every time in. Not
 * thread-safe (one owner; publish the estimate to other threads).
 *
 * Model. A probe sent at local monotonic time ts, answered at tr, whose
 * Date header says D, tells that the member read a time in [D, D + 1 s)
 * at some instant in [ts, tr]. So phi = member clock - CLOCK_MONOTONIC
 * lies in [D - tr, D + 1 s - ts]. The estimator intersects these
 * intervals over the samples it keeps:
 *  - each interval is widened by `drift_ppm` of its age on both sides
 *    (the two clocks may run at slightly different rates), so that an old
 *    sample can never exclude the truth;
 *  - samples older than `max_age_ns` are dropped (at most
 *    GC__CLOCKSYNC_SAMPLES are kept: dropping one only widens the bound);
 *  - a sample whose interval does not meet the current intersection
 *    proves that a clock moved (the member stepped its clock, or this
 *    machine's monotonic clock jumped, e.g. over a suspend): the
 *    estimator restarts from that sample alone; so does a sample from
 *    another member (endpoint_index differs: each member has its clock).
 * Working against CLOCK_MONOTONIC makes the estimate immune to steps of
 * the local wall clock (date -s, an NTP step): the offset to the wall
 * clock is derived at query time from (wall - monotonic) then, and
 * follows a step at once. gc__clocksync_reset is there for callers that
 * want to start over anyway.
 *
 * The estimate is the midpoint of the intersection; its half-width is a
 * hard error bound (under the drift assumption): |true - estimate| <=
 * error_ns.
 *
 * Probing: a probe narrows the interval only when a member's second
 * boundary falls near it. gc__clocksync_next_probe says when to send the
 * next probe so that it does: a round of probes is spread over the local
 * window where the estimate places the next boundary (spacing: the
 * window / probes_per_window, at least one round trip), each answer
 * moving the window's edge, until a probe sees the new second (a probe
 * past the window that does not see it contradicts the estimate, which
 * then restarts). Each round divides the width by about
 * probes_per_window: from the first probe's 1 s to a few round trips in
 * 3-5 rounds (seconds). Rounds follow each other until the bound is
 * within goal_ns (or a round trip), or a round no longer narrows it
 * much; then one round every `period_ns` keeps it there, and when it
 * grows past hold_ns (and 4x its converged width) rounds resume at once.
 *
 * Usability (gc__clocksync_estimate): UNKNOWN without samples, TOO_FAR
 * when |offset| > max_offset_ns, UNCERTAIN while the error bound exceeds
 * max_error_ns, else OK. A caller that must never start before etcd's
 * clock reads T starts at the monotonic instant T - phi_lo_ns
 * (gc__clock_mono_at).
 *
 * Use (a thread of its own with a gc_etcd handle of its own, so that a
 * probe is sent at its instant and not after someone else's call):
 *
 *   gc__clocksync_init(&cs, &opts);
 *   while (running) {
 *       int64_t at = gc__clocksync_next_probe(&cs, gc__mono_ns());
 *       sleep until `at` (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME))
 *       if (gc_etcd_clock_probe(&s, own_handle, &err) == 0)
 *           gc__clocksync_add(&cs, &s);     (log the RESET_* flags)
 *       else
 *           back off (e.g. 1 s): next_probe says "now" again
 *       gc__clocksync_estimate(&cs, gc__mono_ns(), gc__wall_ns(), &e);
 *       publish e (a mutex or a seqlock) for the agent thread
 *   }
 *
 * The agent thread then reads etcd's clock as mono_now + phi (the
 * midpoint of phi_lo_ns..phi_hi_ns of the published estimate), which does
 * not depend on the wall clock at all, and arms its (monotonic) timers for
 * gc__clock_mono_at(&e, planned_unix_ns) to never start early. A clock
 * step reported by the agent's clockwatch needs no reset. */
#ifndef GC_AGENT_CLOCKSYNC_H
#define GC_AGENT_CLOCKSYNC_H

#include <gophercron/etcd.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GC__CLOCKSYNC_SAMPLES 64

typedef struct gc__clocksync_options {
	int64_t max_age_ns;    /* samples dropped after; default 300 s */
	int64_t period_ns;     /* one round per period once converged; 30 s */
	int64_t drift_ppm;     /* assumed rate difference bound; 100 ppm */
	int64_t goal_ns;       /* error bound aimed at; 100 us (or what the
				* round trips allow: 2 of them) */
	int64_t hold_ns;       /* converged: narrowed again at once past this
				* error bound (else once per period); 5 ms */
	int probes_per_window; /* probes spread over one boundary; 10 */
	int64_t max_offset_ns; /* |offset| allowed (max_clock_offset); 1 s */
	int64_t max_error_ns;  /* error bound allowed; 100 ms */
} gc__clocksync_options;

typedef struct gc__clocksync_iv {
	int64_t lo, hi; /* phi bounds (ns) when received */
	int64_t mono;	/* received_mono_ns */
	int64_t rtt;	/* received_mono_ns - sent_mono_ns */
	int64_t server_s;
} gc__clocksync_iv;

typedef struct gc__clocksync {
	gc__clocksync_options o;
	gc__clocksync_iv s[GC__CLOCKSYNC_SAMPLES]; /* ring */
	size_t n, head;	     /* count, index of the oldest */
	size_t source;	     /* endpoint_index of the kept samples */
	bool converged;	     /* rounds only once per period */
	int64_t round_s;     /* member second the current round targets, 0 =
			      * no round */
	int64_t round_width; /* width after the last round (0 = none) */
	int64_t conv_width;  /* width when it converged */
	uint64_t resets;     /* restarts (member change, inconsistency) */
} gc__clocksync;

typedef enum gc__clock_state {
	GC__CLOCK_UNKNOWN = 0, /* no usable sample */
	GC__CLOCK_OK = 1,
	GC__CLOCK_UNCERTAIN = 2, /* error bound above max_error_ns */
	GC__CLOCK_TOO_FAR = 3	 /* |offset| above max_offset_ns */
} gc__clock_state;

typedef struct gc__clock_estimate {
	gc__clock_state state;
	int64_t offset_ns; /* member clock - local wall clock (midpoint) */
	int64_t error_ns;  /* half-width of the interval: the bound */
	int64_t phi_lo_ns, phi_hi_ns; /* member clock - CLOCK_MONOTONIC */
	int64_t cluster_now_ns;	      /* member clock now, unix ns (midpoint) */
	int64_t rtt_ns; /* smallest round trip among the kept samples */
	int64_t age_ns; /* since the newest sample was received */
	size_t samples;
	char reason[160]; /* why not OK ("" when OK) */
} gc__clock_estimate;

/* gc__clocksync_add results (bit flags). */
enum {
	GC__CLOCKSYNC_RESET_SOURCE = 1,	     /* another member: restarted */
	GC__CLOCKSYNC_RESET_INCONSISTENT = 2 /* a clock moved: restarted */
};

/* Options: NULL or zero fields take the defaults above. */
void gc__clocksync_init(gc__clocksync *cs, const gc__clocksync_options *o);
/* Forget every sample (the state becomes UNKNOWN). */
void gc__clocksync_reset(gc__clocksync *cs);
/* Take a sample. Returns GC__CLOCKSYNC_RESET_* flags (0: simply added) or
 * GC_EINVAL for a sample received before it was sent. */
int gc__clocksync_add(gc__clocksync *cs, const gc_etcd_clock_sample *s);
/* The estimate at local monotonic time now_mono (wall clock now_wall, read
 * at the same moment). Samples older than max_age are ignored. */
void gc__clocksync_estimate(const gc__clocksync *cs, int64_t now_mono,
			    int64_t now_wall, gc__clock_estimate *out);
/* When to send the next probe (CLOCK_MONOTONIC ns, >= now_mono; now_mono
 * itself when a probe is due at once). Call again after each sample. */
int64_t gc__clocksync_next_probe(gc__clocksync *cs, int64_t now_mono);
/* The monotonic instant at which the member's clock has surely reached
 * `cluster_ns` (never early): cluster_ns - phi_lo_ns. */
static inline int64_t gc__clock_mono_at(const gc__clock_estimate *e,
					int64_t cluster_ns)
{
	return cluster_ns - e->phi_lo_ns;
}

#endif
