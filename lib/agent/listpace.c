/* Pace of a paged listing (see listpace.h). */
#include "agent/listpace.h"

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

void gc__listpace_init(gc__listpace *p, int timeout_ms)
{
	p->limit = GC__LISTPACE_PAGE_MAX;
	p->timeout_ms = (int)clamp64(timeout_ms, GC__LISTPACE_TIMEOUT_MIN_MS,
				     GC__LISTPACE_TIMEOUT_MAX_MS);
	p->avg_ms = 0;
	p->timeouts = 0;
}

void gc__listpace_answered(gc__listpace *p, int64_t limit, int64_t ms)
{
	if (limit < 1)
		limit = 1;
	if (ms < 1)
		ms = 1;
	/* What a page of the current size would have taken. */
	int64_t est = ms * p->limit / limit;
	if (est < 1)
		est = 1;
	p->avg_ms = p->avg_ms ? (3 * p->avg_ms + est) / 4 : est;
	p->timeouts = 0;
	if (ms * GC__LISTPACE_STEP <= p->timeout_ms &&
	    p->limit < GC__LISTPACE_PAGE_MAX) {
		/* Fast: grow back; expect the time to grow with the keys
		 * (still within the timeout this page had). */
		int64_t grown = p->limit * GC__LISTPACE_STEP;
		if (grown > GC__LISTPACE_PAGE_MAX)
			grown = GC__LISTPACE_PAGE_MAX;
		p->avg_ms = p->avg_ms * grown / p->limit;
		p->limit = grown;
	}
	p->timeout_ms = (int)clamp64(GC__LISTPACE_TIMEOUT_FACTOR * p->avg_ms,
				     GC__LISTPACE_TIMEOUT_MIN_MS,
				     GC__LISTPACE_TIMEOUT_MAX_MS);
}

void gc__listpace_timed_out(gc__listpace *p, int64_t limit)
{
	int64_t from = limit > 0 && limit < p->limit ? limit : p->limit;
	p->limit = clamp64(from / GC__LISTPACE_STEP, GC__LISTPACE_PAGE_MIN,
			   GC__LISTPACE_PAGE_MAX);
	p->timeout_ms = (int)clamp64((int64_t)p->timeout_ms * 2,
				     GC__LISTPACE_TIMEOUT_MIN_MS,
				     GC__LISTPACE_TIMEOUT_MAX_MS);
	p->avg_ms = 0;
	p->timeouts++;
}
