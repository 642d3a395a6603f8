/* Next fire time: an odometer over the field bitsets. Each level (year,
 * month, day, hour, minute, second) jumps straight to its next allowed
 * value; when a level runs out, the level above advances and the ones below
 * restart at their first value. No per-second or per-minute scanning. */
#include "cron_internal.h"
#include "internal.h"

#include <time.h>

/* cronexpr receives a Go time.Time: the zero time (0001-01-01 UTC) means
 * "no time" and gives no match, and unix seconds below this bound fall
 * outside Go's representable range, whose year then lands after 2099. */
#define GO_ZERO_TIME INT64_C(-62135596800)
#define GO_MIN_TIME  (-INT64_C(9223372028715321600))

#define DAY 86400

static int ctz64(uint64_t x)
{
	return __builtin_ctzll(x);
}

static bool is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_length(int y, int m)
{
	if (m == 2)
		return 28 + is_leap(y);
	return 30 + ((m + (m >> 3)) & 1);
}

/* Days since 1970-01-01 of a date in 1970..2099 (H. Hinnant's algorithm,
 * era arithmetic dropped since the year is never negative). */
static int64_t days_from_civil(int y, int m, int d)
{
	unsigned yy = (unsigned)(y - (m <= 2)), era = yy / 400,
		 yoe = yy - era * 400,
		 doy = (153 * (unsigned)(m > 2 ? m - 3 : m + 9) + 2) / 5 +
		       (unsigned)d - 1,
		 doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (int64_t)era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
	uint64_t zz = (uint64_t)(z + 719468);
	unsigned era = (unsigned)(zz / 146097),
		 doe = (unsigned)(zz - (uint64_t)era * 146097),
		 yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365,
		 doy = doe - (365 * yoe + yoe / 4 - yoe / 100),
		 mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400) + (*m <= 2);
}

/* First listed year >= y, or 0. */
static int year_at_or_after(const gc_cron *c, int y)
{
	int i = y - GC__CRON_YEAR_MIN;
	if (i < 0)
		i = 0;
	while (i < GC__CRON_YEARS) {
		uint64_t w = c->year[i >> 6] >> (i & 63);
		if (w)
			return GC__CRON_YEAR_MIN + i + ctz64(w);
		i = (i | 63) + 1;
	}
	return 0;
}

bool gc__cron_next_civil(const gc_cron *c, int64_t t, int64_t *out)
{
	int y, mo, d, h, mi, s, ny, len, fd_y, fd_mo;
	int64_t first_day; /* days since 1970 of the 1st of (fd_y, fd_mo) */
	uint64_t m;
	uint32_t dmask = 0;

	if (c->never || t > GC__CRON_TIME_MAX)
		return false;
	if (t < 0)
		t = 0;
	civil_from_days(t / DAY, &y, &mo, &d);
	first_day = t / DAY - (d - 1);
	fd_y = y;
	fd_mo = mo;
	h = (int)(t % DAY / 3600);
	mi = (int)(t % 3600 / 60);
	s = (int)(t % 60);

year:
	ny = year_at_or_after(c, y);
	if (!ny)
		return false;
	if (ny != y) {
		y = ny;
		mo = d = 1;
		h = mi = s = 0;
	}
month:
	m = (uint64_t)c->month >> mo << mo;
	if (!m) {
		y++;
		mo = d = 1;
		h = mi = s = 0;
		goto year;
	}
	if (ctz64(m) != mo) {
		mo = ctz64(m);
		d = 1;
		h = mi = s = 0;
	}
	if (y != fd_y || mo != fd_mo) {
		first_day = days_from_civil(y, mo, 1);
		fd_y = y;
		fd_mo = mo;
	}
	len = month_length(y, mo);
	dmask = c->days[len - 28][(first_day + 4) % 7]; /* 1970-01-01: Thu */
day:
	m = d <= 31 ? (uint64_t)dmask >> d << d : 0;
	if (!m) {
		d = 1;
		h = mi = s = 0;
		if (++mo > 12) {
			y++;
			mo = 1;
			goto year;
		}
		goto month;
	}
	if (ctz64(m) != d) {
		d = ctz64(m);
		h = mi = s = 0;
	}
hour:
	m = h < 24 ? (uint64_t)c->hour >> h << h : 0;
	if (!m) {
		d++;
		h = mi = s = 0;
		goto day;
	}
	if (ctz64(m) != h) {
		h = ctz64(m);
		mi = s = 0;
	}
minute:
	m = mi < 60 ? c->min >> mi << mi : 0;
	if (!m) {
		h++;
		mi = s = 0;
		goto hour;
	}
	if (ctz64(m) != mi) {
		mi = ctz64(m);
		s = 0;
	}
	m = s < 60 ? c->sec >> s << s : 0;
	if (!m) {
		mi++;
		s = 0;
		goto minute;
	}
	s = ctz64(m);
	*out = (first_day + d - 1) * DAY + h * 3600 + mi * 60 + s;
	return true;
}

/* ------------------------------------------------------------ local time */

static bool utc_offset(int64_t t, long *off)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!localtime_r(&tt, &tm))
		return false;
	*off = tm.tm_gmtoff;
	return true;
}

/* Smallest t in (lo, hi] whose offset differs from the offset at lo, given
 * one transition in between. */
static bool find_transition(int64_t lo, int64_t hi, long off_lo, int64_t *t)
{
	long o;
	while (hi - lo > 1) {
		int64_t mid = lo + (hi - lo) / 2;
		if (!utc_offset(mid, &o))
			return false;
		if (o == off_lo)
			lo = mid;
		else
			hi = mid;
	}
	*t = hi;
	return true;
}

/* The earliest instant showing wall-clock time `wall`; when a forward jump
 * skips it, the first instant after the jump. `hint` is an offset in use
 * near `wall`. */
static bool wall_to_unix(int64_t wall, long hint, int64_t *out)
{
	int64_t t0 = wall - hint, best = INT64_MAX;
	long o[3], omin, omax, ov;
	int i;

	if (!utc_offset(t0 - DAY, &o[0]) || !utc_offset(t0 + DAY, &o[2]))
		return false;
	if (o[0] == hint && o[2] == hint) {
		/* Same offset a day before and after: no transition nearby
		 * (two within two days are not supported), the common
		 * case. */
		*out = t0;
		return true;
	}
	if (!utc_offset(t0, &o[1]))
		return false;
	omin = omax = o[0];
	for (i = 0; i < 3; i++) {
		int64_t cand = wall - o[i];
		if (o[i] < omin)
			omin = o[i];
		if (o[i] > omax)
			omax = o[i];
		if (!utc_offset(cand, &ov))
			return false;
		if (ov == o[i] && cand < best)
			best = cand;
	}
	if (best != INT64_MAX) {
		*out = best; /* in a repeated hour: the first occurrence */
		return true;
	}
	/* Skipped by a forward jump: wall clock is below `wall` just before
	 * the jump and above it right after. */
	{
		int64_t lo = wall - omax - 1, hi = wall - omin;
		long off_lo;
		if (!utc_offset(lo, &off_lo))
			return false;
		return find_transition(lo, hi, off_lo, out);
	}
}

static bool next_local(const gc_cron *c, int64_t from, int64_t *out)
{
	long off, off_before;
	int64_t wall, wall_next, t;

	/* Far outside 1970..2099 every zone gives the same answer; clamping
	 * keeps the arithmetic below away from overflow. */
	if (from > GC__CRON_TIME_MAX + 2 * DAY)
		return false;
	if (from < -2 * DAY)
		from = -2 * DAY;
	if (!utc_offset(from, &off) || !utc_offset(from - DAY, &off_before))
		return false;
	wall = from + off;
	/* Clocks went back within the last day: wall-clock times up to the
	 * one shown just before the jump have already had their turn. */
	if (off_before > off) {
		int64_t jump;
		if (!find_transition(from - DAY, from, off_before, &jump))
			return false;
		if (jump - 1 + off_before > wall)
			wall = jump - 1 + off_before;
	}
	/* A few rounds at most; only a zone whose rules break the one
	 * transition per day assumption can need more than one. */
	for (int round = 0; round < 4; round++) {
		if (!gc__cron_next_civil(c, wall + 1, &wall_next))
			return false;
		if (!wall_to_unix(wall_next, off, &t))
			return false;
		if (t > from) {
			*out = t;
			return true;
		}
		wall = wall_next;
	}
	return false;
}

/* ------------------------------------------------------------ API */

static bool next_one(const gc_cron *c, int64_t from, unsigned flags,
		     int64_t *out)
{
	if (!c || from == GO_ZERO_TIME || from < GO_MIN_TIME)
		return false;
	if (flags & GC_CRON_LOCAL)
		return next_local(c, from, out);
	if (from >= GC__CRON_TIME_MAX)
		return false;
	return gc__cron_next_civil(c, from + 1, out);
}

int64_t gc_cron_next(const gc_cron *cron, int64_t from, unsigned flags)
{
	int64_t t;
	return next_one(cron, from, flags, &t) ? t : 0;
}

size_t gc_cron_next_n(const gc_cron *cron, int64_t from, unsigned flags,
		      int64_t *out, size_t n)
{
	size_t i;
	if (!out)
		return 0;
	for (i = 0; i < n; i++) {
		if (!next_one(cron, from, flags, &out[i]))
			break;
		from = out[i];
	}
	return i;
}

int gc_cron_matches(const gc_cron *cron, int64_t t, unsigned flags)
{
	long off = 0;
	int64_t found;

	if (!cron)
		return 0;
	if (t < -2 * DAY || t > GC__CRON_TIME_MAX + 2 * DAY)
		return 0;
	if ((flags & GC_CRON_LOCAL) && !utc_offset(t, &off))
		return 0;
	t += off;
	if (t < 0 || t > GC__CRON_TIME_MAX)
		return 0;
	return gc__cron_next_civil(cron, t, &found) && found == t;
}
