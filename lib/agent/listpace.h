/* Pace of a paged listing: how many keys the next page asks for and how
 * long it may take, adapted to what etcd answers. Pure: no I/O, no clock
 * read; the caller passes each page's duration in. One owner.
 *
 * Rules (bounded on both sides):
 *  - a page that timed out: the next (the same page, read again) asks for
 *    GC__LISTPACE_STEP times fewer keys, down to GC__LISTPACE_PAGE_MIN,
 *    and may take twice as long, up to GC__LISTPACE_TIMEOUT_MAX_MS: a slow
 *    etcd gets both smaller answers to give and more time to give them;
 *  - an answered page updates the smoothed duration of a page (scaled to
 *    the current page size, linearly: a conservative guess when a page is
 *    mostly latency); when it came within 1/GC__LISTPACE_STEP of its
 *    timeout, the pages grow as much again, up to GC__LISTPACE_PAGE_MAX
 *    (so an answer that was only stalled, not slow for its size, costs
 *    one small page, not a slow climb back);
 *  - the timeout follows the answers: GC__LISTPACE_TIMEOUT_FACTOR times the
 *    smoothed duration, within [GC__LISTPACE_TIMEOUT_MIN_MS, _MAX_MS], so
 *    that a stalled answer is given up on soon after etcd is fast again,
 *    and a uniformly slow etcd is waited for long enough. */
#ifndef GC_AGENT_LISTPACE_H
#define GC_AGENT_LISTPACE_H

#include <stddef.h>
#include <stdint.h>

#define GC__LISTPACE_PAGE_MAX	    1000
#define GC__LISTPACE_PAGE_MIN	    16
#define GC__LISTPACE_TIMEOUT_MIN_MS 2000
/* Bounded also because the agent's stop waits for a page in flight. */
#define GC__LISTPACE_TIMEOUT_MAX_MS 15000
#define GC__LISTPACE_TIMEOUT_FACTOR 8
#define GC__LISTPACE_STEP	    4

typedef struct gc__listpace {
	int64_t limit;	   /* keys the next page asks for */
	int timeout_ms;	   /* the next page's own timeout */
	int64_t avg_ms;	   /* smoothed duration of a page of `limit` keys, 0:
			    * none since the start or the last timeout */
	unsigned timeouts; /* pages timed out in a row */
} gc__listpace;

/* Start at full pages with `timeout_ms` (clamped to the bounds). */
void gc__listpace_init(gc__listpace *p, int timeout_ms);
/* A page that asked for `limit` keys was answered in `ms`. */
void gc__listpace_answered(gc__listpace *p, int64_t limit, int64_t ms);
/* A page that asked for `limit` keys ran out of its timeout. */
void gc__listpace_timed_out(gc__listpace *p, int64_t limit);

#endif
