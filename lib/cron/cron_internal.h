/* Cron module internals: the parsed form shared by the parser and the
 * next-time engine. Not installed. */
#ifndef GC_CRON_INTERNAL_H
#define GC_CRON_INTERNAL_H

#include <gophercron/cron.h>

#include <stdbool.h>
#include <stdint.h>

#define GC__CRON_YEAR_MIN 1970
#define GC__CRON_YEAR_MAX 2099
#define GC__CRON_YEARS	  (GC__CRON_YEAR_MAX - GC__CRON_YEAR_MIN + 1)

/* Every field is a bitset, so finding the next allowed value is a shift and
 * a count-trailing-zeros. Day matching (day-of-month, day-of-week, L, LW,
 * nW, nL, n#k and the OR rule between them) depends only on the month's
 * length and the weekday of its 1st, so it is resolved at parse time into
 * one 31-bit mask per (length, first weekday) pair. */
struct gc_cron {
	uint64_t sec;	     /* bit s, 0..59 */
	uint64_t min;	     /* bit m, 0..59 */
	uint64_t year[3];    /* bit y - 1970, 1970..2099 */
	uint32_t hour;	     /* bit h, 0..23 */
	uint32_t days[4][7]; /* [month length - 28][weekday of the 1st, 0 =
			      * Sun]: bit d set when day d (1..31) matches */
	uint16_t month;	     /* bit m, 1..12 */
	uint8_t nfields;     /* 5, 6 or 7 as written (macros count as 7) */
	bool never;	     /* no day of any selected month can ever match */
};

/* 2099-12-31 23:59:59 UTC: nothing fires after it. */
#define GC__CRON_TIME_MAX INT64_C(4102444799)

/* Earliest time >= t (seconds since 1970 in the zone the fields are matched
 * against) matching every field; false when there is none. */
bool gc__cron_next_civil(const gc_cron *c, int64_t t, int64_t *out);

#endif
