/* Unit tests for the cron module: every public vector, error messages,
 * calendar edges, local time across DST, odd inputs, thread safety. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <gophercron.h>

#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------ helpers */

static int64_t utc(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = {0};
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	return (int64_t)timegm(&tm);
}

static gc_cron *parse_ok(const char *expr)
{
	gc_cron *c = NULL;
	gc_error err = {0, ""};
	int rc = gc_cron_parse(&c, expr, strlen(expr), &err);
	if (rc != 0)
		fail_msg("\"%s\" rejected: %s", expr, err.msg);
	assert_non_null(c);
	return c;
}

/* Parse must fail with GC_EINVAL and a message containing `want`. */
static void expect_error(const char *expr, size_t len, const char *want)
{
	gc_cron *c = (gc_cron *)&c; /* must be reset to NULL */
	gc_error err = {0, ""};
	int rc = gc_cron_parse(&c, expr, len, &err);
	if (rc != GC_EINVAL)
		fail_msg("\"%s\" accepted (rc %d), expected error \"%s\"", expr,
			 rc, want);
	assert_null(c);
	assert_int_equal(err.code, GC_EINVAL);
	if (!strstr(err.msg, want))
		fail_msg("\"%s\": message \"%s\" lacks \"%s\"", expr, err.msg,
			 want);
}

/* Next `n` UTC times after `from` must be exactly `want[0..n)` followed by
 * no more when `ends` is true. */
static void expect_times(const char *expr, int64_t from, const int64_t *want,
			 size_t n, bool ends, unsigned flags)
{
	gc_cron *c = parse_ok(expr);
	int64_t got[16];
	size_t k = gc_cron_next_n(c, from, flags, got, n + 1);
	for (size_t i = 0; i < n && i < k; i++)
		if (got[i] != want[i])
			fail_msg("\"%s\" from %" PRId64 ": time %zu is %" PRId64
				 ", want %" PRId64,
				 expr, from, i, got[i], want[i]);
	if (k < n)
		fail_msg("\"%s\" from %" PRId64 ": only %zu times, want %zu",
			 expr, from, k, n);
	if (ends && k != n)
		fail_msg("\"%s\" from %" PRId64 ": %zu times, want exactly %zu",
			 expr, from, k, n);
	gc_cron_free(c);
}

#define TIMES(...)  ((const int64_t[]){__VA_ARGS__})
#define NTIMES(...) (sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t))
#define EXPECT_UTC(expr, from, ...)                                            \
	expect_times(expr, from, TIMES(__VA_ARGS__), NTIMES(__VA_ARGS__),      \
		     false, GC_CRON_UTC)
#define EXPECT_UTC_END(expr, from, ...)                                        \
	expect_times(expr, from, TIMES(__VA_ARGS__), NTIMES(__VA_ARGS__),      \
		     true, GC_CRON_UTC)
#define EXPECT_LOCAL(expr, from, ...)                                          \
	expect_times(expr, from, TIMES(__VA_ARGS__), NTIMES(__VA_ARGS__),      \
		     false, GC_CRON_LOCAL)

static void expect_none(const char *expr, int64_t from)
{
	gc_cron *c = parse_ok(expr);
	int64_t t;
	assert_int_equal(gc_cron_next_n(c, from, GC_CRON_UTC, &t, 1), 0);
	assert_int_equal(gc_cron_next(c, from, GC_CRON_UTC), 0);
	gc_cron_free(c);
}

/* ------------------------------------------------------------ vectors */

static FILE *open_vectors(char *path, size_t cap)
{
	const char *shared = getenv("GC_SHARED"), *src = getenv("GC_SRC");
	char exe[PATH_MAX];
	ssize_t n;
	FILE *f;

	if (shared && *shared) {
		snprintf(path, cap, "%s/cron/public.tsv", shared);
		if ((f = fopen(path, "r")))
			return f;
	}
	if (src && *src) {
		snprintf(path, cap, "%s/../shared/cron/public.tsv", src);
		if ((f = fopen(path, "r")))
			return f;
	}
	snprintf(path, cap, "../shared/cron/public.tsv");
	if ((f = fopen(path, "r")))
		return f;
	/* <root>/build/tests/unit/test_cron -> <root>/../shared */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		for (int up = 0; up < 4; up++) {
			char *slash = strrchr(exe, '/');
			if (slash)
				*slash = '\0';
		}
		snprintf(path, cap, "%s/../shared/cron/public.tsv", exe);
		if ((f = fopen(path, "r")))
			return f;
	}
	return NULL;
}

/* Format a result the way public.tsv does. */
static void format_result(const gc_cron *c, int64_t from, char *out, size_t cap)
{
	int64_t t[5];
	size_t k = gc_cron_next_n(c, from, GC_CRON_UTC, t, 5), o = 0;
	out[0] = '\0';
	for (size_t i = 0; i < k; i++)
		o += (size_t)snprintf(out + o, cap - o,
				      i ? ",%" PRId64 : "%" PRId64, t[i]);
	if (k < 5)
		snprintf(out + o, cap - o, k ? ",0" : "0");
}

static void public_vectors_all_match(void **state)
{
	char path[2 * PATH_MAX], *line = NULL, got[256];
	size_t cap = 0, lines = 0, bad = 0, errors = 0;
	ssize_t len;
	FILE *f;
	(void)state;

	f = open_vectors(path, sizeof(path));
	if (!f)
		fail_msg("cron vectors not found (set GC_SHARED; last tried "
			 "%s)",
			 path);
	while ((len = getline(&line, &cap, f)) > 0) {
		char *tab1, *tab2, *want, *end;
		gc_cron *c = NULL;
		gc_error err = {0, ""};
		long long from;

		if (line[len - 1] == '\n')
			line[--len] = '\0';
		tab1 = memchr(line, '\t', (size_t)len);
		assert_non_null(tab1);
		tab2 = strchr(tab1 + 1, '\t');
		assert_non_null(tab2);
		*tab2 = '\0';
		want = tab2 + 1;
		from = strtoll(tab1 + 1, &end, 10);
		assert_true(*end == '\0');
		lines++;

		if (gc_cron_parse(&c, line, (size_t)(tab1 - line), &err)) {
			snprintf(got, sizeof(got), "ERROR");
			errors++;
			/* Every rejection explains itself. */
			if (!strstr(err.msg, "field") &&
			    !strstr(err.msg, "macro") &&
			    !strstr(err.msg, "expression"))
				fail_msg("line %zu: vague message \"%s\"",
					 lines, err.msg);
		} else {
			format_result(c, (int64_t)from, got, sizeof(got));
			/* Every result matches the expression. */
			int64_t t[5];
			size_t k = gc_cron_next_n(c, from, 0, t, 5);
			for (size_t i = 0; i < k; i++)
				assert_true(gc_cron_matches(c, t[i], 0));
		}
		if (strcmp(got, want) != 0) {
			if (bad++ < 10)
				print_message("line %zu: \"%.*s\" from %lld: "
					      "got %s, want %s\n",
					      lines, (int)(tab1 - line), line,
					      from, got, want);
		}
		gc_cron_free(c);
	}
	free(line);
	fclose(f);
	print_message("%zu vectors from %s, %zu errors, %zu mismatches\n",
		      lines, path, errors, bad);
	assert_true(lines >= 397);
	assert_int_equal(bad, 0);
}

/* ------------------------------------------------------------ errors */

static void errors_name_field_text_and_reason(void **state)
{
	(void)state;
#define E(expr, want) expect_error(expr, strlen(expr), want)
	E("0 0 * * 8", "day-of-week field \"8\": value out of range 0-7");
	E("5 * * * * * * ignored", "too many fields (8): at most 7");
	E("* * * *", "too few fields (4)");
	E("", "empty expression");
	E(" \t\n\f\r ", "empty expression");
	E("61 * * * * * *", "second field \"61\": value out of range 0-59");
	E("60 * * * *", "minute field \"60\": value out of range 0-59");
	E("0 24 * * *", "hour field \"24\": value out of range 0-23");
	E("0 0 32 * *", "day-of-month field \"32\": value out of range 1-31");
	E("0 0 0 * *", "day-of-month field \"0\": value out of range 1-31");
	E("0 0 1 13 *", "month field \"13\": value out of range 1-12");
	E("0 0 1 1 * 2100", "year field \"2100\": value out of range "
			    "1970-2099");
	E("0 0 1 1 * 1969", "year field \"1969\"");
	E("0 0 1 sept *", "month field \"sept\": unknown month name");
	E("0 0 * * thurs", "day-of-week field \"thurs\": unknown day name");
	E("*,junk * * * *", "minute field \"*,junk\": entry \"junk\": not a "
			    "number");
	E("0 0 * *,junk *", "month field \"*,junk\": entry \"junk\"");
	E("0 23-1 * * *", "hour field \"23-1\": range start 23 is greater "
			  "than end 1");
	E("0 0 1 nov-feb *", "range start 11 is greater than end 2");
	E("0 0 * * 6-2", "day-of-week field \"6-2\": range start 6");
	E("0 0 * * * 2050-2000", "year field \"2050-2000\": range start");
	E("*/60 * * * *", "minute field \"*/60\": step out of range 1-59");
	E("0 */24 * * *", "hour field \"*/24\": step out of range 1-23");
	E("0 0 * * */7", "day-of-week field \"*/7\": step out of range 1-6");
	E("0 0 1 1 * 2000/75", "year field \"2000/75\": step out of range "
			       "(1-59 or 1970-2099)");
	E("*/005 * * * *", "step has too many digits");
	E("005 * * * *", "minute field \"005\": too many digits");
	E("?/5 * * * *", "'?' cannot take a step");
	E("*/5/2 * * * *", "more than one '/'");
	E("1-2-3 * * * *", "more than one '-'");
	E("-5 * * * *", "missing range start");
	E("5- * * * *", "missing range end");
	E("*/ * * * *", "missing step");
	E("1.5 * * * *", "unexpected character '.'");
	E(", * * * *", "minute field \",\": no entry");
	E("0 0 * * 1#6", "day-of-week field \"1#6\": week number");
	E("0 0 * * 1#", "missing week number");
	E("0 0 * * #3", "missing weekday before '#'");
	E("0 0 * * 8#1", "weekday before '#': value out of range 0-7");
	E("0 0 * * L", "day-of-week field \"L\": 'L' needs a weekday");
	E("0 0 * * 1W", "'W' is only valid in the day-of-month field");
	E("0 0 W * *", "day-of-month field \"W\": 'W' needs a day");
	E("0 0 32W * *", "day before 'W': value out of range 1-31");
	E("0 0 5L * *", "only valid in the day-of-week field");
	E("0 0 L-3 * *", "'L' cannot be combined with a range");
	E("0 0 15W/2 * *", "'W' cannot take a step");
	E("0 L * * *", "hour field \"L\": 'L' is only valid in the "
		       "day-of-month and day-of-week fields");
	E("0 0 12 L * ?", "month field \"L\"");
	E("0 0 * * * 5", "year field \"5\"");
	E("0 0 5#2 * *", "'#' is only valid in the day-of-week field");
	E("@daily 2030", "macro \"@daily\" must be the whole expression");
	E("30 @hourly", "macro \"@hourly\" must be the whole expression");
	E("@reboot", "unknown macro \"@reboot\"");
	E("@DAILY", "unknown macro \"@DAILY\"");
	/* Only the first error is reported, in cronexpr's field order. */
	E("99 99 * * *", "minute field \"99\"");
	E("* 99 99 * *", "hour field \"99\"");
#undef E
}

static void errors_quote_odd_bytes_and_stay_bounded(void **state)
{
	char big[5000];
	gc_error err;
	gc_cron *c;
	(void)state;

	expect_error("0 0 * * 1\0", 10,
		     "day-of-week field \"1\\x00\": unexpected byte 0x00");
	expect_error("0 0 * * \x01", 9, "\"\\x01\"");
	expect_error("0 0 * * \"x\\", 11, "\"\\\"x\\\\\"");
	/* A huge field is quoted in part, the message stays in bounds. */
	memset(big, 'x', sizeof(big));
	memcpy(big, "0 0 * * ", 8);
	assert_int_equal(gc_cron_parse(&c, big, sizeof(big), &err), GC_EINVAL);
	assert_true(strlen(err.msg) < sizeof(err.msg));
	assert_non_null(strstr(err.msg, "day-of-week field \"xxxx"));
	assert_non_null(strstr(err.msg, "\"..."));
	/* A long run of digits. */
	memset(big, '1', sizeof(big));
	memcpy(big, "0 0 * * ", 8);
	assert_int_equal(gc_cron_parse(&c, big, sizeof(big), &err), GC_EINVAL);
	assert_non_null(strstr(err.msg, "too many digits"));
}

static void bad_arguments_are_rejected(void **state)
{
	gc_cron *c = NULL;
	gc_error err = {0, ""};
	int64_t t;
	(void)state;

	assert_int_equal(gc_cron_parse(NULL, "* * * * *", 9, &err), GC_EINVAL);
	assert_int_equal(gc_cron_parse(&c, NULL, 3, &err), GC_EINVAL);
	assert_null(c);
	assert_int_equal(gc_cron_parse(&c, NULL, 0, &err), GC_EINVAL);
	assert_non_null(strstr(err.msg, "empty"));
	assert_int_equal(gc_cron_parse(&c, "junk", 4, NULL), GC_EINVAL);
	gc_cron_free(NULL);
	assert_int_equal(gc_cron_next(NULL, 0, 0), 0);
	assert_int_equal(gc_cron_next_n(NULL, 0, 0, &t, 1), 0);
	assert_int_equal(gc_cron_matches(NULL, 0, 0), 0);
	assert_int_equal(gc_cron_field_count(NULL), 0);
	c = parse_ok("* * * * *");
	assert_int_equal(gc_cron_next_n(c, 0, 0, NULL, 5), 0);
	assert_int_equal(gc_cron_next_n(c, 0, 0, &t, 0), 0);
	gc_cron_free(c);
}

/* ------------------------------------------------------------ grammar */

static void field_counts_and_macros(void **state)
{
	gc_cron *c;
	(void)state;
	c = parse_ok("* * * * *");
	assert_int_equal(gc_cron_field_count(c), 5);
	gc_cron_free(c);
	c = parse_ok("5 * * * * 2014");
	assert_int_equal(gc_cron_field_count(c), 6);
	gc_cron_free(c);
	c = parse_ok(" \t@daily\r\n");
	assert_int_equal(gc_cron_field_count(c), 7);
	gc_cron_free(c);

	/* 6 fields: the year is last. */
	EXPECT_UTC("5 * * * * 2014", utc(2013, 6, 1, 0, 0, 0),
		   utc(2014, 1, 1, 0, 5, 0), utc(2014, 1, 1, 1, 5, 0));
	/* 7 fields: seconds first. */
	EXPECT_UTC("5 * * * * * *", utc(2020, 1, 1, 0, 0, 0),
		   utc(2020, 1, 1, 0, 0, 5), utc(2020, 1, 1, 0, 1, 5));
	EXPECT_UTC("@weekly", utc(2024, 5, 1, 0, 0, 0),
		   utc(2024, 5, 5, 0, 0, 0), utc(2024, 5, 12, 0, 0, 0));
	EXPECT_UTC("@hourly", utc(2024, 5, 1, 0, 0, 0),
		   utc(2024, 5, 1, 1, 0, 0));
	EXPECT_UTC("@annually", utc(2024, 5, 1, 0, 0, 0),
		   utc(2025, 1, 1, 0, 0, 0));
}

static void separators_are_go_whitespace_only(void **state)
{
	(void)state;
	/* Space, tab, LF, FF and CR separate fields... */
	EXPECT_UTC("0\t12\n*\f*\r*", utc(2024, 1, 1, 0, 0, 0),
		   utc(2024, 1, 1, 12, 0, 0));
	/* ...vertical tab and non-ASCII spaces do not. */
	expect_error("0\v12 * * * *", 12, "unexpected byte 0x0b");
	expect_error("0\xc2\xa0"
		     "12 * * * *",
		     13, "unexpected byte 0xc2");
}

static void names_are_case_insensitive(void **state)
{
	(void)state;
	EXPECT_UTC("0 0 1 sEpTeMbEr *", utc(2024, 1, 1, 0, 0, 0),
		   utc(2024, 9, 1, 0, 0, 0));
	EXPECT_UTC("0 0 * * FRIL", utc(2024, 1, 1, 0, 0, 0),
		   utc(2024, 1, 26, 0, 0, 0));
	EXPECT_UTC("0 0 lw * *", utc(2016, 1, 1, 0, 0, 0),
		   utc(2016, 1, 29, 0, 0, 0));
	/* Go lower-cases U+0130 to 'i', so cronexpr takes "FR\u0130". */
	EXPECT_UTC("0 0 * * FR\xc4\xb0", utc(2024, 1, 1, 0, 0, 0),
		   utc(2024, 1, 5, 0, 0, 0));
}

static void leading_zeros_mean_what_they_say(void **state)
{
	(void)state;
	EXPECT_UTC("0 0 1 01 *", utc(2024, 2, 1, 0, 0, 0),
		   utc(2025, 1, 1, 0, 0, 0), utc(2026, 1, 1, 0, 0, 0));
	EXPECT_UTC("0 0 * * 05", utc(2024, 1, 1, 0, 0, 0),
		   utc(2024, 1, 5, 0, 0, 0));
	EXPECT_UTC("0 0 * * 01#1", utc(2024, 1, 1, 0, 0, 0),
		   utc(2024, 2, 5, 0, 0, 0));
	EXPECT_UTC("*/05 * * * *", utc(2024, 1, 1, 0, 0, 0),
		   utc(2024, 1, 1, 0, 5, 0));
}

static void day_of_week_ranges_may_end_on_sunday(void **state)
{
	(void)state;
	/* 2024-01-05 is a Friday. */
	EXPECT_UTC("0 0 * * 5-7", utc(2024, 1, 4, 0, 0, 0),
		   utc(2024, 1, 5, 0, 0, 0), utc(2024, 1, 6, 0, 0, 0),
		   utc(2024, 1, 7, 0, 0, 0), utc(2024, 1, 12, 0, 0, 0));
	EXPECT_UTC("0 0 * * fri-sun", utc(2024, 1, 4, 0, 0, 0),
		   utc(2024, 1, 5, 0, 0, 0), utc(2024, 1, 6, 0, 0, 0),
		   utc(2024, 1, 7, 0, 0, 0));
	/* sun-sun is just Sunday, 1-7/2 = Mon, Wed, Fri, Sun. */
	EXPECT_UTC("0 0 * * sun-sun", utc(2024, 1, 1, 0, 0, 0),
		   utc(2024, 1, 7, 0, 0, 0), utc(2024, 1, 14, 0, 0, 0));
	EXPECT_UTC("0 0 * * 1-7/2", utc(2024, 1, 1, 0, 0, 0),
		   utc(2024, 1, 3, 0, 0, 0), utc(2024, 1, 5, 0, 0, 0),
		   utc(2024, 1, 7, 0, 0, 0), utc(2024, 1, 8, 0, 0, 0));
	expect_error("0 0 * * 7-0", 11, "range start 7 is greater than end 0");
}

static void dom_dow_or_rule_and_star_in_lists(void **state)
{
	(void)state;
	/* The 13th or any Friday: 2024-09-13 is both. */
	EXPECT_UTC("0 0 13 * 5", utc(2024, 9, 1, 0, 0, 0),
		   utc(2024, 9, 6, 0, 0, 0), utc(2024, 9, 13, 0, 0, 0),
		   utc(2024, 9, 20, 0, 0, 0));
	/* A `*` anywhere in the list: that field is unrestricted. */
	EXPECT_UTC("0 0 L,* * 1", utc(2024, 1, 1, 0, 0, 0),
		   utc(2024, 1, 8, 0, 0, 0), utc(2024, 1, 15, 0, 0, 0));
	/* `*`/1 still counts as restricted. */
	EXPECT_UTC("0 0 */2 * 1", utc(2024, 1, 1, 0, 0, 0),
		   utc(2024, 1, 3, 0, 0, 0), utc(2024, 1, 5, 0, 0, 0),
		   utc(2024, 1, 7, 0, 0, 0), utc(2024, 1, 8, 0, 0, 0));
}

/* ------------------------------------------------------------ calendar */

static void leap_years_including_2000(void **state)
{
	(void)state;
	EXPECT_UTC("0 0 29 2 *", utc(1999, 3, 1, 0, 0, 0),
		   utc(2000, 2, 29, 0, 0, 0), utc(2004, 2, 29, 0, 0, 0));
	EXPECT_UTC_END("0 0 29 2 *", utc(2092, 3, 1, 0, 0, 0),
		       utc(2096, 2, 29, 0, 0, 0));
	expect_none("0 0 29 2 *", utc(2096, 3, 1, 0, 0, 0));
	EXPECT_UTC("0 0 L 2 *", utc(1999, 12, 31, 0, 0, 0),
		   utc(2000, 2, 29, 0, 0, 0), utc(2001, 2, 28, 0, 0, 0));
	EXPECT_UTC("0 0 L 2 *", utc(1970, 1, 1, 0, 0, 0),
		   utc(1970, 2, 28, 0, 0, 0), utc(1971, 2, 28, 0, 0, 0),
		   utc(1972, 2, 29, 0, 0, 0));
	/* 2100 would not be a leap year, but nothing fires in 2100. */
	EXPECT_UTC_END("0 0 L 2 *", utc(2099, 1, 1, 0, 0, 0),
		       utc(2099, 2, 28, 0, 0, 0));
	expect_none("0 0 30 2 *", 0);
	expect_none("0 0 31 4,6,9,11 *", 0);
}

static void month_ends_and_last_days(void **state)
{
	(void)state;
	EXPECT_UTC("0 0 31 * *", utc(2024, 4, 1, 0, 0, 0),
		   utc(2024, 5, 31, 0, 0, 0), utc(2024, 7, 31, 0, 0, 0),
		   utc(2024, 8, 31, 0, 0, 0), utc(2024, 10, 31, 0, 0, 0));
	EXPECT_UTC("0 0 L * *", utc(2016, 1, 1, 0, 0, 0),
		   utc(2016, 1, 31, 0, 0, 0), utc(2016, 2, 29, 0, 0, 0),
		   utc(2016, 3, 31, 0, 0, 0), utc(2016, 4, 30, 0, 0, 0));
	/* Last weekday: Sunday 2016-01-31 -> Friday 29th; Saturday
	 * 2020-02-29 -> Friday 28th. */
	EXPECT_UTC("0 0 LW * *", utc(2016, 1, 1, 0, 0, 0),
		   utc(2016, 1, 29, 0, 0, 0), utc(2016, 2, 29, 0, 0, 0));
	EXPECT_UTC("0 0 LW 2 *", utc(2020, 1, 1, 0, 0, 0),
		   utc(2020, 2, 28, 0, 0, 0));
	/* 23:59:59 on the last day of the year rolls into next year. */
	EXPECT_UTC("59 59 23 L 12 * *", utc(2023, 12, 31, 23, 59, 58),
		   utc(2023, 12, 31, 23, 59, 59),
		   utc(2024, 12, 31, 23, 59, 59));
}

static void nearest_weekday_stays_in_the_month(void **state)
{
	(void)state;
	/* Saturday the 1st -> Monday the 3rd, Sunday the 1st -> Monday
	 * the 2nd. */
	EXPECT_UTC("0 0 1W * *", utc(2014, 10, 15, 0, 0, 0),
		   utc(2014, 11, 3, 0, 0, 0), utc(2014, 12, 1, 0, 0, 0));
	EXPECT_UTC("0 0 1W * *", utc(2015, 1, 15, 0, 0, 0),
		   utc(2015, 2, 2, 0, 0, 0));
	/* Sunday the last day -> the Friday before. */
	EXPECT_UTC("0 0 31W * *", utc(2016, 1, 1, 0, 0, 0),
		   utc(2016, 1, 29, 0, 0, 0), utc(2016, 3, 31, 0, 0, 0));
	EXPECT_UTC("0 0 29W 2 *", utc(2032, 1, 1, 0, 0, 0),
		   utc(2032, 2, 27, 0, 0, 0));
	/* 30W never fires in February. */
	EXPECT_UTC("0 0 30W 2,3 *", utc(2024, 1, 1, 0, 0, 0),
		   utc(2024, 3, 29, 0, 0, 0), utc(2025, 3, 31, 0, 0, 0));
}

static void nth_and_last_weekdays(void **state)
{
	(void)state;
	EXPECT_UTC("0 0 * * 1#5", utc(2016, 1, 1, 0, 0, 0),
		   utc(2016, 2, 29, 0, 0, 0), utc(2016, 5, 30, 0, 0, 0),
		   utc(2016, 8, 29, 0, 0, 0), utc(2016, 10, 31, 0, 0, 0),
		   utc(2017, 1, 30, 0, 0, 0));
	EXPECT_UTC("0 0 * * 1#3", utc(2024, 1, 1, 0, 0, 0),
		   utc(2024, 1, 15, 0, 0, 0), utc(2024, 2, 19, 0, 0, 0));
	EXPECT_UTC("0 0 * * 7#1", utc(2024, 1, 1, 0, 0, 0),
		   utc(2024, 1, 7, 0, 0, 0), utc(2024, 2, 4, 0, 0, 0));
	EXPECT_UTC("0 0 * * 0L", utc(2024, 1, 1, 0, 0, 0),
		   utc(2024, 1, 28, 0, 0, 0), utc(2024, 2, 25, 0, 0, 0));
	EXPECT_UTC("0 0 * * 6#5,6L", utc(2013, 9, 2, 0, 0, 0),
		   utc(2013, 9, 28, 0, 0, 0), utc(2013, 10, 26, 0, 0, 0),
		   utc(2013, 11, 30, 0, 0, 0));
}

static void year_bounds_1970_to_2099(void **state)
{
	int64_t t[4];
	gc_cron *c;
	(void)state;

	EXPECT_UTC_END("* * * * * * *", utc(2099, 12, 31, 23, 59, 57),
		       utc(2099, 12, 31, 23, 59, 58),
		       utc(2099, 12, 31, 23, 59, 59));
	expect_none("* * * * *", utc(2100, 1, 1, 0, 0, 0));
	EXPECT_UTC_END("0 0 1 1 * 2099", utc(2098, 5, 1, 0, 0, 0),
		       utc(2099, 1, 1, 0, 0, 0));
	expect_none("* * * * * 1980", utc(2013, 1, 1, 0, 0, 0));
	EXPECT_UTC_END("0 0 1 1 * 2013-2015", utc(2013, 6, 1, 0, 0, 0),
		       utc(2014, 1, 1, 0, 0, 0), utc(2015, 1, 1, 0, 0, 0));
	/* Year steps 1970..2099 are accepted; 60..1969 are not. */
	EXPECT_UTC_END("0 0 1 1 * 2000/1975", 0, utc(2000, 1, 1, 0, 0, 0));
	expect_error("0 0 1 1 * 2000/100", 18, "step out of range");

	/* From before 1970: the first match in 1970; the first instant of
	 * 1970 is a real result that gc_cron_next_n tells apart. */
	EXPECT_UTC("0 12 * * *", utc(1969, 12, 31, 0, 0, 0),
		   utc(1970, 1, 1, 12, 0, 0));
	EXPECT_UTC("0 12 1 1 * 1970", utc(1960, 1, 1, 0, 0, 0),
		   utc(1970, 1, 1, 12, 0, 0));
	c = parse_ok("0 0 1 1 * 1970");
	assert_int_equal(gc_cron_next_n(c, -1, 0, t, 4), 1);
	assert_int_equal(t[0], 0);
	assert_int_equal(gc_cron_next_n(c, INT64_C(-5000000000), 0, t, 4), 1);
	assert_int_equal(t[0], 0);
	gc_cron_free(c);
}

static void go_time_quirks_at_the_extremes(void **state)
{
	(void)state;
	/* cronexpr's zero time and out-of-range instants: no match. */
	expect_none("* * * * *", INT64_C(-62135596800));
	EXPECT_UTC("* * * * *", INT64_C(-62135596799), 0, 60);
	expect_none("* * * * *", INT64_MIN);
	expect_none("* * * * *", INT64_C(-9223372028715321601));
	EXPECT_UTC("* * * * *", INT64_C(-9223372028715321600), 0);
	expect_none("* * * * *", INT64_MAX);
	expect_none("* * * * * * *", utc(2099, 12, 31, 23, 59, 59));
}

static void from_is_excluded_and_results_increase(void **state)
{
	gc_cron *c = parse_ok("0 0 1 12 *");
	int64_t t[64];
	size_t k;
	(void)state;
	assert_int_equal(gc_cron_next(c, utc(2016, 12, 1, 0, 0, 0), 0),
			 utc(2017, 12, 1, 0, 0, 0));
	gc_cron_free(c);

	c = parse_ok("*/7 1-5 L,1W,15 * 1#2,5L");
	k = gc_cron_next_n(c, utc(2024, 1, 1, 0, 0, 0), 0, t, 64);
	assert_int_equal(k, 64);
	for (size_t i = 1; i < k; i++) {
		assert_true(t[i] > t[i - 1]);
		assert_true(gc_cron_matches(c, t[i], 0));
		/* No match was skipped: every minute in between fails. */
		if (i < 4)
			for (int64_t x = t[i - 1] + 60; x < t[i]; x += 60)
				assert_false(gc_cron_matches(c, x, 0));
	}
	gc_cron_free(c);
}

/* ------------------------------------------------------------ local */

static char *saved_tz;

static int tz_setup(void **state)
{
	const char *tz = getenv("TZ");
	(void)state;
	saved_tz = tz ? strdup(tz) : NULL;
	return 0;
}

static int tz_teardown(void **state)
{
	(void)state;
	if (saved_tz)
		setenv("TZ", saved_tz, 1);
	else
		unsetenv("TZ");
	tzset();
	free(saved_tz);
	saved_tz = NULL;
	return 0;
}

/* POSIX rule strings need no tzdata files. */
static void use_tz(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
}

#define US_EASTERN "EST5EDT,M3.2.0,M11.1.0"
#define CENTRAL_EU "CET-1CEST,M3.5.0,M10.5.0/3"
#define LORD_HOWE  "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0"

static void local_time_follows_the_zone(void **state)
{
	(void)state;
	use_tz(CENTRAL_EU);
	/* 09:00 CET = 08:00 UTC in winter, 09:00 CEST = 07:00 UTC in
	 * summer. */
	EXPECT_LOCAL("0 9 * * *", utc(2024, 1, 15, 0, 0, 0),
		     utc(2024, 1, 15, 8, 0, 0), utc(2024, 1, 16, 8, 0, 0));
	EXPECT_LOCAL("0 9 * * *", utc(2024, 7, 15, 0, 0, 0),
		     utc(2024, 7, 15, 7, 0, 0));
	/* The local date decides the day: 00:30 CET on Monday 2024-01-15 is
	 * still Sunday in UTC. */
	EXPECT_LOCAL("30 0 * * mon", utc(2024, 1, 13, 0, 0, 0),
		     utc(2024, 1, 14, 23, 30, 0));
	/* UTC mode ignores TZ. */
	EXPECT_UTC("0 9 * * *", utc(2024, 7, 15, 0, 0, 0),
		   utc(2024, 7, 15, 9, 0, 0));
	{
		gc_cron *c = parse_ok("0 9 * * *");
		assert_true(gc_cron_matches(c, utc(2024, 7, 15, 7, 0, 0),
					    GC_CRON_LOCAL));
		assert_false(gc_cron_matches(c, utc(2024, 7, 15, 9, 0, 0),
					     GC_CRON_LOCAL));
		assert_true(
		    gc_cron_matches(c, utc(2024, 7, 15, 9, 0, 0), GC_CRON_UTC));
		gc_cron_free(c);
	}
}

static void local_spring_forward_gap_fires_once_right_after(void **state)
{
	(void)state;
	use_tz(US_EASTERN);
	/* 2024-03-10 02:00 EST -> 03:00 EDT at 07:00 UTC: 02:30 does not
	 * exist and fires at 03:00 EDT, then normally the next day. */
	EXPECT_LOCAL("30 2 * * *", utc(2024, 3, 9, 12, 0, 0),
		     utc(2024, 3, 10, 7, 0, 0), utc(2024, 3, 11, 6, 30, 0));
	/* Every skipped time fires together, once; 03:00 itself is that
	 * same instant. */
	EXPECT_LOCAL("*/15 * * * *", utc(2024, 3, 10, 6, 40, 0),
		     utc(2024, 3, 10, 6, 45, 0), utc(2024, 3, 10, 7, 0, 0),
		     utc(2024, 3, 10, 7, 15, 0));
	/* Times after the gap are unaffected. */
	EXPECT_LOCAL("30 3 * * *", utc(2024, 3, 9, 12, 0, 0),
		     utc(2024, 3, 10, 7, 30, 0), utc(2024, 3, 11, 7, 30, 0));

	/* Half-hour DST (Lord Howe): 2024-10-06 02:00 -> 02:30 local, at
	 * 15:30 UTC the day before. */
	use_tz(LORD_HOWE);
	EXPECT_LOCAL("15 2 * * *", utc(2024, 10, 5, 0, 0, 0),
		     utc(2024, 10, 5, 15, 30, 0), utc(2024, 10, 6, 15, 15, 0));
}

static void local_fall_back_overlap_fires_once(void **state)
{
	(void)state;
	use_tz(US_EASTERN);
	/* 2024-11-03 02:00 EDT -> 01:00 EST at 06:00 UTC: 01:30 happens
	 * twice and fires at the first (05:30 UTC) only. */
	EXPECT_LOCAL("30 1 * * *", utc(2024, 11, 2, 12, 0, 0),
		     utc(2024, 11, 3, 5, 30, 0), utc(2024, 11, 4, 6, 30, 0));
	/* Asked from inside the repeated hour: 01:45 already happened. */
	EXPECT_LOCAL("45 1 * * *", utc(2024, 11, 3, 6, 10, 0),
		     utc(2024, 11, 4, 6, 45, 0));
	/* ...but 02:00 has not. */
	EXPECT_LOCAL("0 2 * * *", utc(2024, 11, 3, 6, 10, 0),
		     utc(2024, 11, 3, 7, 0, 0));
	/* Interval jobs pause during the repeated hour. */
	EXPECT_LOCAL("*/30 * * * *", utc(2024, 11, 3, 5, 0, 0),
		     utc(2024, 11, 3, 5, 30, 0), utc(2024, 11, 3, 7, 0, 0),
		     utc(2024, 11, 3, 7, 30, 0));
	/* Central Europe: 2024-10-27 03:00 CEST -> 02:00 CET at 01:00 UTC. */
	use_tz(CENTRAL_EU);
	EXPECT_LOCAL("30 2 * * *", utc(2024, 10, 26, 12, 0, 0),
		     utc(2024, 10, 27, 0, 30, 0), utc(2024, 10, 28, 1, 30, 0));
}

static void local_results_match_and_increase_through_a_year(void **state)
{
	static const char *zones[] = {US_EASTERN, CENTRAL_EU, LORD_HOWE,
				      "UTC0",	  "JST-9",    "<-0330>3:30"};
	(void)state;
	for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
		gc_cron *c = parse_ok("*/20 * * * *");
		int64_t t = utc(2024, 1, 1, 0, 0, 0), prev = t;
		use_tz(zones[z]);
		for (int i = 0; i < 3 * 24 * 366; i++) {
			t = gc_cron_next(c, t, GC_CRON_LOCAL);
			if (t <= prev)
				fail_msg("TZ=%s: %" PRId64 " after %" PRId64,
					 zones[z], t, prev);
			/* At most 20 minutes apart, plus a DST jump. */
			assert_true(t - prev <= 20 * 60 + 3600);
			prev = t;
		}
		gc_cron_free(c);
	}
}

/* Reference for local time: a daemon waking every minute, remembering the
 * highest wall-clock time it has seen, firing at each wake-up for every
 * matching wall-clock minute it has newly passed. */
static int64_t wall_of(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	assert_non_null(localtime_r(&tt, &tm));
	return t + tm.tm_gmtoff;
}

static int64_t simulate_local(const gc_cron *c, int64_t from)
{
	int64_t high = wall_of(from), t;
	for (t = (from - 86400) / 60 * 60; t < from; t += 60)
		if (wall_of(t) > high)
			high = wall_of(t);
	for (t = (from / 60 + 1) * 60; t < from + 3 * 86400; t += 60) {
		int64_t w = wall_of(t);
		if (w <= high)
			continue;
		for (int64_t x = (high / 60 + 1) * 60; x <= w; x += 60)
			if (gc_cron_matches(c, x, GC_CRON_UTC))
				return t;
		high = w;
	}
	return -1;
}

static void local_agrees_with_a_minute_by_minute_daemon(void **state)
{
	static const char *zones[] = {US_EASTERN, CENTRAL_EU, LORD_HOWE,
				      "AEST-10AEDT,M10.1.0,M4.1.0/3"};
	static const char *exprs[] = {"*/20 * * * *", "30 2 * * *",
				      "0,30 1-3 * * *", "45 1 * * *"};
	size_t checks = 0;
	(void)state;
	for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
		int64_t jumps[2];
		int nj = 0;
		use_tz(zones[z]);
		/* This zone's two transitions in 2024. */
		for (int64_t t = utc(2024, 1, 1, 0, 0, 0);
		     nj < 2 && t < utc(2025, 1, 1, 0, 0, 0); t += 3600) {
			int64_t lo = t, hi = t + 3600;
			if (wall_of(hi) - hi == wall_of(lo) - lo)
				continue;
			while (hi - lo > 1) {
				int64_t mid = lo + (hi - lo) / 2;
				if (wall_of(mid) - mid == wall_of(lo) - lo)
					lo = mid;
				else
					hi = mid;
			}
			jumps[nj++] = hi;
		}
		assert_int_equal(nj, 2);
		for (size_t e = 0; e < sizeof(exprs) / sizeof(exprs[0]); e++) {
			gc_cron *c = parse_ok(exprs[e]);
			for (int j = 0; j < nj; j++) {
				for (int k = -45; k <= 45; k++) {
					int64_t from = jumps[j] + k * 1931;
					int64_t want = simulate_local(c, from);
					int64_t got = gc_cron_next(
					    c, from, GC_CRON_LOCAL);
					if (got != want)
						fail_msg(
						    "TZ=%s \"%s\" from %" PRId64
						    ": got %" PRId64
						    ", want %" PRId64,
						    zones[z], exprs[e], from,
						    got, want);
					checks++;
				}
			}
			gc_cron_free(c);
		}
	}
	print_message("%zu local-time checks around DST transitions\n", checks);
}

static void local_year_bounds_follow_local_dates(void **state)
{
	gc_cron *c;
	(void)state;
	use_tz("JST-9");
	/* 2099-12-31 23:59 JST is 14:59 UTC; nothing after it. */
	EXPECT_LOCAL("59 23 31 12 *", utc(2099, 1, 1, 0, 0, 0),
		     utc(2099, 12, 31, 14, 59, 0));
	c = parse_ok("* * * * *");
	assert_int_equal(
	    gc_cron_next(c, utc(2099, 12, 31, 14, 59, 0), GC_CRON_LOCAL), 0);
	/* 1970-01-01 00:00 JST is before the epoch, still a 1970 date. */
	assert_int_equal(gc_cron_next(c, INT64_C(-100000), GC_CRON_LOCAL),
			 -9 * 3600);
	assert_int_equal(gc_cron_next(c, INT64_MIN, GC_CRON_LOCAL), 0);
	assert_int_equal(gc_cron_next(c, INT64_MAX, GC_CRON_LOCAL), 0);
	gc_cron_free(c);
}

/* ------------------------------------------------------------ inputs */

static void input_is_pointer_and_length(void **state)
{
	const char *text = "0 0 * * *garbage";
	char *exact;
	gc_cron *c = NULL;
	(void)state;

	/* Only `len` bytes are read. */
	assert_int_equal(gc_cron_parse(&c, text, 9, NULL), 0);
	assert_int_equal(gc_cron_next(c, 0, 0), 86400);
	gc_cron_free(c);
	/* An exactly sized heap copy without terminator (ASan checks the
	 * reads stay inside). */
	exact = malloc(9);
	assert_non_null(exact);
	memcpy(exact, "0 0 * * 1", 9);
	assert_int_equal(gc_cron_parse(&c, exact, 9, NULL), 0);
	gc_cron_free(c);
	memcpy(exact, "@daily   ", 9);
	assert_int_equal(gc_cron_parse(&c, exact, 6, NULL), 0);
	gc_cron_free(c);
	memcpy(exact, "0 0 * * L", 9);
	expect_error(exact, 9, "'L' needs a weekday");
	free(exact);
	/* An embedded NUL is an ordinary, invalid byte. */
	expect_error("0 0 * * *\0", 10, "unexpected byte 0x00");
	expect_error("\0 0 0 * * *", 11, "unexpected byte 0x00");
	expect_error("0 0 * * * * * \0", 15, "too many fields (8)");
}

static void long_inputs_parse_in_linear_time(void **state)
{
	size_t n = 1 << 20, i;
	char *s = malloc(n + 16);
	gc_cron *c = NULL;
	gc_error err;
	(void)state;

	assert_non_null(s);
	/* A 1 MiB minute list "7,,,,...,,8 * * * *" is valid. */
	s[0] = '7';
	for (i = 1; i < n; i++)
		s[i] = ',';
	memcpy(s + n, "8 * * * *", 9);
	assert_int_equal(gc_cron_parse(&c, s, n + 9, &err), 0);
	assert_int_equal(gc_cron_next(c, 0, 0), 7 * 60);
	assert_int_equal(gc_cron_next(c, 7 * 60, 0), 8 * 60);
	gc_cron_free(c);
	/* 500k fields: counted, rejected. */
	for (i = 0; i < n; i++)
		s[i] = i % 2 ? ' ' : '*';
	assert_int_equal(gc_cron_parse(&c, s, n, &err), GC_EINVAL);
	assert_non_null(strstr(err.msg, "too many fields (524288)"));
	free(s);
}

static void every_byte_in_every_position_is_safe(void **state)
{
	char expr[32];
	gc_cron *c;
	gc_error err;
	(void)state;
	for (int pos = 0; pos < 13; pos++) {
		for (int b = 0; b < 256; b++) {
			memcpy(expr, "0 0 1W * 5L *", 13);
			expr[pos] = (char)b;
			if (gc_cron_parse(&c, expr, 13, &err) == 0) {
				int64_t t[3];
				size_t k = gc_cron_next_n(c, 0, 0, t, 3);
				for (size_t i = 1; i < k; i++)
					assert_true(t[i] > t[i - 1]);
				gc_cron_free(c);
			} else {
				assert_true(err.msg[0] != '\0');
			}
		}
	}
}

/* ------------------------------------------------------------ threads */

struct thread_arg {
	const gc_cron *c;
	int64_t sum;
};

static void *next_many(void *p)
{
	struct thread_arg *a = p;
	int64_t t = utc(2024, 1, 1, 0, 0, 0);
	a->sum = 0;
	for (int i = 0; i < 20000; i++) {
		t = gc_cron_next(a->c, t, GC_CRON_UTC);
		a->sum += t % 1000003;
	}
	return NULL;
}

static void one_object_serves_many_threads(void **state)
{
	gc_cron *c = parse_ok("*/7 */3 L,1-10 * 1#2,5L");
	struct thread_arg serial = {c, 0}, args[4];
	pthread_t th[4];
	(void)state;

	next_many(&serial);
	for (int i = 0; i < 4; i++) {
		args[i].c = c;
		assert_int_equal(
		    pthread_create(&th[i], NULL, next_many, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].sum, serial.sum);
	}
	gc_cron_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(public_vectors_all_match),
	    cmocka_unit_test(errors_name_field_text_and_reason),
	    cmocka_unit_test(errors_quote_odd_bytes_and_stay_bounded),
	    cmocka_unit_test(bad_arguments_are_rejected),
	    cmocka_unit_test(field_counts_and_macros),
	    cmocka_unit_test(separators_are_go_whitespace_only),
	    cmocka_unit_test(names_are_case_insensitive),
	    cmocka_unit_test(leading_zeros_mean_what_they_say),
	    cmocka_unit_test(day_of_week_ranges_may_end_on_sunday),
	    cmocka_unit_test(dom_dow_or_rule_and_star_in_lists),
	    cmocka_unit_test(leap_years_including_2000),
	    cmocka_unit_test(month_ends_and_last_days),
	    cmocka_unit_test(nearest_weekday_stays_in_the_month),
	    cmocka_unit_test(nth_and_last_weekdays),
	    cmocka_unit_test(year_bounds_1970_to_2099),
	    cmocka_unit_test(go_time_quirks_at_the_extremes),
	    cmocka_unit_test(from_is_excluded_and_results_increase),
	    cmocka_unit_test_setup_teardown(local_time_follows_the_zone,
					    tz_setup, tz_teardown),
	    cmocka_unit_test_setup_teardown(
		local_spring_forward_gap_fires_once_right_after, tz_setup,
		tz_teardown),
	    cmocka_unit_test_setup_teardown(local_fall_back_overlap_fires_once,
					    tz_setup, tz_teardown),
	    cmocka_unit_test_setup_teardown(
		local_results_match_and_increase_through_a_year, tz_setup,
		tz_teardown),
	    cmocka_unit_test_setup_teardown(
		local_agrees_with_a_minute_by_minute_daemon, tz_setup,
		tz_teardown),
	    cmocka_unit_test_setup_teardown(
		local_year_bounds_follow_local_dates, tz_setup, tz_teardown),
	    cmocka_unit_test(input_is_pointer_and_length),
	    cmocka_unit_test(long_inputs_parse_in_linear_time),
	    cmocka_unit_test(every_byte_in_every_position_is_safe),
	    cmocka_unit_test(one_object_serves_many_threads),
	};
	return cmocka_run_group_tests_name("cron", tests, NULL, NULL);
}
