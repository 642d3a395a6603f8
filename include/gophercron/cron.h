/* libgophercron: cron expressions.
 *
 * Parses cron expressions with the semantics of gorhill/cronexpr (the parser
 * GopherCron uses) minus five of its bugs, and computes fire times. The full
 * contract, with examples, is SEMANTICS.md next to the test vectors; in
 * short:
 *
 *   - 5 fields: minute hour day-of-month month day-of-week
 *     6 fields: the same plus a year LAST (not Quartz's seconds-first)
 *     7 fields: second minute hour day-of-month month day-of-week year
 *   - entries `*` `?` `v` `a-b` `*`/s `v/s` `a-b/s`, comma lists, month
 *     and weekday names (any case), day-of-month `L` `LW` `nW`, day-of-week
 *     `nL` `n#k`, weekday 0 and 7 = Sunday;
 *   - macros @yearly @annually @monthly @weekly @daily @hourly, only as the
 *     whole expression;
 *   - when both day-of-month and day-of-week are restricted, a day matches
 *     if either matches;
 *   - years 1970..2099 only.
 *
 * A parsed gc_cron is immutable: every function taking a `const gc_cron *`
 * may be called from any number of threads at once. The module keeps no
 * global state.
 */
#ifndef GOPHERCRON_CRON_H
#define GOPHERCRON_CRON_H

#include <gophercron/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A parsed cron expression (opaque, immutable). */
typedef struct gc_cron gc_cron;

/* Flags for the next-time functions. */
enum {
	/* Match the fields against UTC (the default, also 0). */
	GC_CRON_UTC = 0,
	/* Match the fields against the process's local time zone, through
	 * localtime_r(): TZ as loaded at first use or by the last tzset()
	 * (the library never calls tzset; call it after changing TZ). See
	 * "Local time" below for daylight-saving transitions. */
	GC_CRON_LOCAL = 1
};

/* Parse `len` bytes at `expr` (no NUL terminator needed; a NUL byte inside
 * is just an invalid character). On success stores a new object in *out
 * and returns 0. On failure returns GC_EINVAL (GC_ENOMEM when out of
 * memory), sets *out to NULL and, when `err` is non-NULL, fills it with a
 * message naming the field, the text and the reason, e.g.
 *   day-of-week field "8": value out of range 0-7
 *   too many fields (8): at most 7
 * `expr` may be NULL only when `len` is 0. */
GC_EXTERN int gc_cron_parse(gc_cron **out, const char *expr, size_t len,
			    gc_error *err);

/* Release a parsed expression; NULL is fine. */
GC_EXTERN void gc_cron_free(gc_cron *cron);

/* Number of fields the expression was written with: 5, 6 or 7 (a macro
 * counts as 7). */
GC_EXTERN int gc_cron_field_count(const gc_cron *cron);

/* The earliest fire time strictly after `from` (unix seconds), or 0 when
 * there is none: after 2099-12-31 23:59:59, after the last year listed in
 * the expression, or when no day can ever match.
 *
 * A `from` before 1970 gives the first match in 1970, so the instant
 * 1970-01-01 00:00:00 UTC (0) can be a genuine answer only when `from` < 0;
 * use gc_cron_next_n() where that distinction matters. Two `from` values
 * give no match at all, as in cronexpr (they are outside or at the zero of
 * Go's time range): -62135596800 (0001-01-01 00:00:00 UTC) and anything
 * below -9223372028715321600.
 *
 * Local time (GC_CRON_LOCAL): the fields are matched against wall-clock
 * time, and every matching wall-clock time fires once:
 *   - a time skipped by a forward jump (spring forward: 02:30 when clocks go
 *     from 02:00 to 03:00) fires once at the first instant after the jump
 *     (03:00); several skipped times fire together, once;
 *   - a time repeated by a backward jump (fall back: 01:30 when clocks go
 *     from 02:00 back to 01:00) fires only on its first occurrence; wall
 *     times already passed before the jump do not fire again, so a job
 *     every 15 minutes does not fire during the repeated hour.
 * The 1970..2099 limits then apply to local dates. A zone changing its
 * offset twice within two days is not supported (no current zone does).
 *
 * Cost: tens of nanoseconds in UTC; local time adds a few localtime_r()
 * calls. */
GC_EXTERN int64_t gc_cron_next(const gc_cron *cron, int64_t from,
			       unsigned flags);

/* Fill `out` with up to `n` consecutive fire times after `from` (each one
 * strictly after the previous) and return how many were written; fewer
 * than `n` means there are no more. */
GC_EXTERN size_t gc_cron_next_n(const gc_cron *cron, int64_t from,
				unsigned flags, int64_t *out, size_t n);

/* Does the instant `t` (unix seconds) match the expression, in UTC or
 * local wall-clock time per `flags`? 1 or 0. (A run that gc_cron_next
 * placed right after a daylight-saving gap does not match the wall clock.) */
GC_EXTERN int gc_cron_matches(const gc_cron *cron, int64_t t, unsigned flags);

#ifdef __cplusplus
}
#endif
#endif
