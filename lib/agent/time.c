/* The agent's clock (see gc__atime in agent_internal.h): "now" for
 * scheduling, the schedule timer and the detection of wall-clock steps.
 * The one place the agent reads the wall clock for its schedule, so that
 * what "now" means can change here alone. */
#include "agent/agent_internal.h"

#include <errno.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

int gc__atime_open(gc__atime *t, gc_error *err)
{
	memset(t, 0, sizeof(*t));
	t->armed_due = GC__SCHED_NEVER;
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
	if (t->timerfd >= 0)
		close(t->timerfd);
	if (t->clockfd >= 0)
		close(t->clockfd);
	t->timerfd = t->clockfd = -1;
}

int64_t gc__atime_now_ns(const gc__atime *t)
{
	(void)t;
	return gc__wall_ns();
}

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
	int64_t wall = gc__wall_ns();
	*mono_ns = gc__mono_ns();
	return gc__clockwatch_step(&t->watch, wall, *mono_ns);
}

void gc__atime_arm(gc__atime *t, int64_t due_s)
{
	struct itimerspec its;
	memset(&its, 0, sizeof(its));
	if (due_s != GC__SCHED_NEVER) {
		int64_t wait = gc__tick_wait_ns(due_s, gc__atime_now_ns(t));
		if (wait <= 0)
			wait = 1; /* due now: fire at once */
		its.it_value.tv_sec = wait / 1000000000LL;
		its.it_value.tv_nsec = wait % 1000000000LL;
	}
	t->armed_due = due_s;
	timerfd_settime(t->timerfd, 0, &its, NULL);
}

int gc__atime_timeout_ms(const gc__atime *t)
{
	if (t->armed_due == GC__SCHED_NEVER)
		return -1;
	int64_t ns = gc__tick_wait_ns(t->armed_due, gc__atime_now_ns(t));
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
