/* Agent timing rules: which planned tick to attempt next, lateness, and
 * wall-clock step detection. Pure functions, unit-tested on their own.
 *
 * Rules (README "Agent", "Clock jumps and late ticks"):
 *  - A task remembers the last planned time it attempted (`last_plan`).
 *    The next tick is the first cron time strictly after
 *    max(last_plan, now - grace - 1 s): a tick is never attempted twice by
 *    the same agent, whatever the wall clock does, and a tick more than
 *    `grace` seconds in the past is never attempted.
 *  - Wall-clock steps: at every wake the agent compares how far
 *    CLOCK_REALTIME moved with how far CLOCK_MONOTONIC moved; a difference
 *    above GC__CLOCK_STEP_NS is a step (NTP step, `date -s`), and every
 *    task's next time is recomputed with the rule above.
 *    Backward step: ticks already attempted are not attempted again; the
 *    task waits for the first tick after the last one it attempted.
 *    Forward step: ticks inside the skipped interval that are within
 *    `grace` of the new time are attempted late (the claim still makes
 *    them run at most once fleet-wide); older ones are skipped and logged.
 */
#ifndef GC_AGENT_TIMING_H
#define GC_AGENT_TIMING_H

#include <stdbool.h>
#include <stdint.h>

#define GC__CLOCK_STEP_NS 1000000000LL /* > 1 s difference = a step */

/* The "after" argument for the cron next-time computation: the next tick
 * to attempt is cron_next(gc__tick_after(...)), strictly greater. */
static inline int64_t gc__tick_after(int64_t now_s, int64_t last_plan,
				     int64_t grace_s)
{
	int64_t floor_s = now_s - grace_s - 1;
	return last_plan > floor_s ? last_plan : floor_s;
}

/* Is a tick planned at `plan_s` too late to attempt at `now_ns`? */
static inline bool gc__tick_expired(int64_t plan_s, int64_t now_ns,
				    int64_t grace_ms)
{
	return now_ns - plan_s * 1000000000LL > grace_ms * 1000000LL;
}

/* Nanoseconds from `now_ns` until the tick at `due_s` (0 if due). */
static inline int64_t gc__tick_wait_ns(int64_t due_s, int64_t now_ns)
{
	int64_t d = due_s * 1000000000LL - now_ns;
	return d > 0 ? d : 0;
}

/* The last second before the instant `now_ns` that is not a tick to
 * attempt: a task loaded at `now_ns` first attempts the first tick at or
 * after that instant (one created at :01.88 has no :01 tick; one loaded
 * at :02.000000000 has its :02 tick). */
static inline int64_t gc__tick_floor(int64_t now_ns)
{
	return (now_ns + 999999999LL) / 1000000000LL - 1;
}

/* Claim ahead: the ticks to attempt at `now_ns` are those due by
 * now_ns + ahead_ns; the schedule timer wakes ahead_ns before a tick. */
static inline int64_t gc__claim_upto(int64_t now_ns, int64_t ahead_ns)
{
	return now_ns + ahead_ns;
}

/* Cluster time published by the clock thread: a new generation (the
 * registration is rewritten) when the clock's state changed or its offset
 * to the wall clock moved by more than `move_ns` since the last one; the
 * reason's figures, which move with every probe, do not count. */
static inline bool gc__clock_gen_moves(int old_state, int new_state,
				       int64_t gen_offset_ns,
				       int64_t offset_ns, int64_t move_ns)
{
	int64_t d = offset_ns - gen_offset_ns;
	return old_state != new_state || d > move_ns || d < -move_ns;
}

/* An estimate of cluster time is only used while its newest sample is at
 * most this old (check probes come every 2 s): a monotonic clock that
 * jumped forward (a suspended or migrated VM, libfaketime) makes it stale
 * at once, so no tick is claimed by a clock that may be far off until a
 * probe has checked it; one that jumped backward makes the age negative. */
#define GC__CLOCK_FRESH_NS 3500000000LL

static inline bool gc__clock_fresh(int64_t age_ns, int64_t fresh_ns)
{
	return age_ns >= -100000000LL && age_ns <= fresh_ns;
}

typedef struct gc__clockwatch {
	int64_t wall_ns;
	int64_t mono_ns;
	bool init;
} gc__clockwatch;

/* Record a wake and return the wall-clock step since the previous one
 * (wall delta minus monotonic delta, ns; positive = forward) when it
 * exceeds GC__CLOCK_STEP_NS in either direction, else 0. */
static inline int64_t gc__clockwatch_step(gc__clockwatch *cw, int64_t wall_ns,
					  int64_t mono_ns)
{
	int64_t step = 0;
	if (cw->init) {
		int64_t d = (wall_ns - cw->wall_ns) - (mono_ns - cw->mono_ns);
		if (d > GC__CLOCK_STEP_NS || d < -GC__CLOCK_STEP_NS)
			step = d;
	}
	cw->wall_ns = wall_ns;
	cw->mono_ns = mono_ns;
	cw->init = true;
	return step;
}

#endif
