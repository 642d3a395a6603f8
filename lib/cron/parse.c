/* Cron expression parser.
 *
 * Accepts exactly what gorhill/cronexpr accepts, minus the five bugs listed
 * in SEMANTICS.md section 10. cronexpr matches each comma-separated entry
 * against anchored regular expressions built from a per-field value
 * pattern; the scanner below decides the same way (an entry with '/' must
 * be a stepped form, one with '-' a range, anything else a single value or
 * a day special) and, when it rejects, says which field, which text and
 * why. */
#include "cron_internal.h"
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum field_id { F_SEC, F_MIN, F_HOUR, F_DOM, F_MONTH, F_DOW, F_YEAR };

static const struct field_desc {
	const char *name;
	int min, max; /* value range; max is also the largest step */
	int vmax;     /* largest value token (day-of-week 7 = Sunday) */
	int base;     /* bit index = value - base */
} fields[] = {
    [F_SEC] = {"second", 0, 59, 59, 0},
    [F_MIN] = {"minute", 0, 59, 59, 0},
    [F_HOUR] = {"hour", 0, 23, 23, 0},
    [F_DOM] = {"day-of-month", 1, 31, 31, 0},
    [F_MONTH] = {"month", 1, 12, 12, 0},
    [F_DOW] = {"day-of-week", 0, 6, 7, 0},
    [F_YEAR] = {"year", GC__CRON_YEAR_MIN, GC__CRON_YEAR_MAX, GC__CRON_YEAR_MAX,
		GC__CRON_YEAR_MIN},
};

static const char *const month_names[12][2] = {
    {"jan", "january"}, {"feb", "february"}, {"mar", "march"},
    {"apr", "april"},	{"may", "may"},	     {"jun", "june"},
    {"jul", "july"},	{"aug", "august"},   {"sep", "september"},
    {"oct", "october"}, {"nov", "november"}, {"dec", "december"},
};

static const char *const dow_names[7][2] = {
    {"sun", "sunday"},	  {"mon", "monday"},   {"tue", "tuesday"},
    {"wed", "wednesday"}, {"thu", "thursday"}, {"fri", "friday"},
    {"sat", "saturday"},
};

static const struct macro {
	const char *name;
	const char *expansion;
} macros[] = {
    {"@yearly", "0 0 0 1 1 * *"},  {"@annually", "0 0 0 1 1 * *"},
    {"@monthly", "0 0 0 1 * * *"}, {"@weekly", "0 0 0 * * 0 *"},
    {"@daily", "0 0 0 * * * *"},   {"@hourly", "0 0 * * * * *"},
};

/* What one field accumulates while its entries are read. */
struct acc {
	uint64_t bits[3]; /* value - base */
	bool star;	  /* an entry was `*` or `?` */
	bool last;	  /* dom L */
	bool last_wd;	  /* dom LW */
	uint32_t wdays;	  /* dom nW: bit n */
	uint8_t dlast;	  /* dow nL: bit weekday */
	uint8_t nth[5];	  /* dow n#k: nth[k-1] bit weekday */
};

/* The field being parsed, for error messages. */
struct fctx {
	int id;
	const char *text;
	size_t len;
	gc_error *err;
};

/* Longest entry worth looking at: the longest valid one is
 * "september-december/12"; anything longer is rejected whatever it holds. */
#define ENTRY_MAX 48
/* Source bytes quoted in a message before "...". */
#define QUOTE_MAX 40

/* ------------------------------------------------------------ messages */

/* Quote `s` for a message: printable ASCII as is, '"' and '\' escaped,
 * everything else as \xHH, cut after QUOTE_MAX bytes. */
static void quote(char *out, size_t cap, const char *s, size_t n)
{
	size_t o = 0, i;
	if (cap < 8)
		return;
	out[o++] = '"';
	for (i = 0; i < n && i < QUOTE_MAX && o + 8 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c >= 0x20 && c < 0x7f) {
			out[o++] = (char)c;
		} else {
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
		}
	}
	out[o++] = '"';
	if (i < n && o + 4 < cap) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

/* "<field> field "<text>"[: entry "<entry>"]: <why>", returns GC_EINVAL.
 * The entry is named only when the field has more than that entry. */
static int fail(const struct fctx *f, const char *entry, size_t elen,
		const char *fmt, ...) GC__PRINTF(4, 5);

static int fail(const struct fctx *f, const char *entry, size_t elen,
		const char *fmt, ...)
{
	char ftext[QUOTE_MAX * 4 + 16], etext[QUOTE_MAX * 4 + 16];
	char why[256];
	va_list ap;

	if (!f->err)
		return GC_EINVAL;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	quote(ftext, sizeof(ftext), f->text, f->len);
	if (entry && elen != f->len) {
		quote(etext, sizeof(etext), entry, elen);
		return gc__seterr(f->err, GC_EINVAL,
				  "%s field %s: entry %s: %s",
				  fields[f->id].name, ftext, etext, why);
	}
	return gc__seterr(f->err, GC_EINVAL, "%s field %s: %s",
			  fields[f->id].name, ftext, why);
}

/* ------------------------------------------------------------ tokens */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_digit(s[i]))
			return false;
	return n > 0;
}

static bool all_alpha(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_alpha(s[i]))
			return false;
	return n > 0;
}

static bool token_is(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && memcmp(s, word, n) == 0;
}

/* Decimal value of up to 9 digits; -1 when longer. */
static long digits_value(const char *s, size_t n)
{
	long v = 0;
	if (n > 9)
		return -1;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

/* Lower-case an entry the way Go's strings.ToLower does for the characters
 * that can matter: ASCII letters, plus the two non-ASCII letters whose
 * lower case is ASCII (U+0130 -> 'i', U+212A KELVIN SIGN -> 'k'), so
 * "FR\u0130" is Friday as in cronexpr. False when too long to be valid. */
static bool lower_entry(const char *s, size_t n, char *out, size_t *outlen)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (o >= ENTRY_MAX)
			return false;
		if (c >= 'A' && c <= 'Z') {
			out[o++] = (char)(c + ('a' - 'A'));
		} else if (c == 0xc4 && i + 1 < n &&
			   (unsigned char)s[i + 1] == 0xb0) {
			out[o++] = 'i';
			i++;
		} else if (c == 0xe2 && i + 2 < n &&
			   (unsigned char)s[i + 1] == 0x84 &&
			   (unsigned char)s[i + 2] == 0xaa) {
			out[o++] = 'k';
			i += 2;
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
	*outlen = o;
	return true;
}

/* Does `s` (lower case) match field `id`'s value pattern exactly? Stores
 * the value (day-of-week keeps 7 as 7) and whether it was a name of Sunday,
 * which counts as 7 at the end of some ranges. */
static bool match_value(int id, const char *s, size_t n, int *v, bool *sun)
{
	const struct field_desc *d = &fields[id];
	*sun = false;
	if (n == 0)
		return false;
	if (is_digit(s[0])) {
		long x;
		if (!all_digits(s, n))
			return false;
		/* Year: exactly 4 digits; elsewhere at most 2, so one leading
		 * zero on a one-digit value (cronexpr's `0?[0-9]` patterns). */
		if (id == F_YEAR ? n != 4 : n > 2)
			return false;
		x = digits_value(s, n);
		if (x < d->min || x > d->vmax)
			return false;
		*v = (int)x;
		return true;
	}
	if (id == F_MONTH) {
		for (int m = 0; m < 12; m++)
			if (token_is(s, n, month_names[m][0]) ||
			    token_is(s, n, month_names[m][1])) {
				*v = m + 1;
				return true;
			}
	} else if (id == F_DOW) {
		for (int w = 0; w < 7; w++)
			if (token_is(s, n, dow_names[w][0]) ||
			    token_is(s, n, dow_names[w][1])) {
				*v = w;
				*sun = w == 0;
				return true;
			}
	}
	return false;
}

/* cronexpr converts a step by looking it up in a table holding "0".."59",
 * "00".."09" and "1970".."2099"; anything else becomes 0 (and is then
 * rejected as out of range). */
static int step_value(const char *s, size_t n)
{
	long x = digits_value(s, n);
	if (n <= 2)
		return x <= 59 ? (int)x : 0;
	if (n == 4 && x >= 1970 && x <= 2099)
		return (int)x;
	return 0;
}

/* Why is the all-digits token `s` not a value of field `id`? */
static void explain_number(int id, const char *what, const char *s, size_t n,
			   char *why, size_t cap)
{
	const struct field_desc *d = &fields[id];
	long x = digits_value(s, n);
	bool in_range = x >= d->min && x <= d->vmax;
	if (id == F_YEAR && in_range)
		snprintf(why, cap, "%sa year has exactly 4 digits", what);
	else if (id != F_YEAR && in_range)
		snprintf(why, cap,
			 "%stoo many digits (at most one leading zero)", what);
	else
		snprintf(why, cap, "%svalue out of range %d-%d", what, d->min,
			 d->vmax);
}

/* A whole word that is a value elsewhere ('L', 'W') or a misspelt name:
 * true when it is one and `why` says so. */
static bool explain_word(int id, const char *what, const char *s, size_t n,
			 char *why, size_t cap)
{
	if ((token_is(s, n, "l") || token_is(s, n, "lw")) && id == F_MONTH)
		snprintf(why, cap,
			 "%s'L' is only valid in the day-of-month and "
			 "day-of-week fields",
			 what);
	else if ((token_is(s, n, "w") || token_is(s, n, "lw")) &&
		 (id == F_MONTH || id == F_DOW))
		snprintf(why, cap,
			 "%s'W' is only valid in the day-of-month field", what);
	else if (all_alpha(s, n) && id == F_MONTH)
		snprintf(why, cap,
			 "%sunknown month name (jan..dec or january..december)",
			 what);
	else if (all_alpha(s, n) && id == F_DOW)
		snprintf(why, cap,
			 "%sunknown day name (sun..sat or sunday..saturday)",
			 what);
	else
		return false;
	return true;
}

/* A character no value has: true when there is one and `why` names it. */
static bool explain_stray(const char *what, const char *s, size_t n, char *why,
			  size_t cap)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char u = (unsigned char)s[i];
		if (is_digit(s[i]) || is_alpha(s[i]) || memchr("*?#", u, 3))
			continue;
		if (u >= 0x20 && u < 0x7f)
			snprintf(why, cap, "%sunexpected character '%c'", what,
				 u);
		else
			snprintf(why, cap, "%sunexpected byte 0x%02x", what, u);
		return true;
	}
	return false;
}

/* A special ('*', '?', '#', 'L', 'W') where it cannot stand: true when
 * there is one and `why` says where it belongs. */
static bool explain_misplaced(int id, const char *what, const char *s, size_t n,
			      char *why, size_t cap)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '*' || c == '?') {
			snprintf(why, cap,
				 "%s'%c' must be the whole entry or come "
				 "before '/'",
				 what, c);
			return true;
		}
		if (c == '#') {
			snprintf(why, cap,
				 id == F_DOW ? "%s'#' cannot be combined with "
					       "a range or step"
					     : "%s'#' is only valid in the "
					       "day-of-week field",
				 what);
			return true;
		}
		if ((c == 'l' || c == 'w') && !(id == F_MONTH || id == F_DOW)) {
			char up = (char)(c - ('a' - 'A'));
			if (id == F_DOM)
				snprintf(why, cap,
					 "%s'%c' cannot be combined with a "
					 "range or step",
					 what, up);
			else if (c == 'l')
				snprintf(why, cap,
					 "%s'L' is only valid in the "
					 "day-of-month and day-of-week fields",
					 what);
			else
				snprintf(why, cap,
					 "%s'W' is only valid in the "
					 "day-of-month field",
					 what);
			return true;
		}
	}
	return false;
}

/* Why is `s` not a value of field `id`? `what` names the token when it is
 * only part of the entry ("range end "8": "), else "". */
static void explain_value(int id, const char *what, const char *s, size_t n,
			  char *why, size_t cap)
{
	if (n == 0)
		snprintf(why, cap, "%smissing value", what);
	else if (all_digits(s, n))
		explain_number(id, what, s, n, why, cap);
	else if (!explain_word(id, what, s, n, why, cap) &&
		 !explain_stray(what, s, n, why, cap) &&
		 !explain_misplaced(id, what, s, n, why, cap))
		snprintf(why, cap, "%snot a number%s", what,
			 id == F_MONTH || id == F_DOW ? " or name" : "");
}

/* ------------------------------------------------------------ entries */

static void set_bit(struct acc *a, int bit)
{
	a->bits[bit >> 6] |= UINT64_C(1) << (bit & 63);
}

/* first, first+step, ... up to last; day-of-week 7 lands on Sunday. */
static void set_span(int id, struct acc *a, int first, int last, int step)
{
	for (int v = first; v <= last; v += step)
		set_bit(a, (id == F_DOW ? v % 7 : v) - fields[id].base);
}

/* Read a value token, failing with an explanation. */
static int read_value(const struct fctx *f, const char *entry, size_t elen,
		      const char *what, const char *s, size_t n, int *v,
		      bool *sun)
{
	char why[200];
	if (match_value(f->id, s, n, v, sun))
		return 0;
	explain_value(f->id, what, s, n, why, sizeof(why));
	return fail(f, entry, elen, "%s", why);
}

/* "a-b" in `s`: both ends values, a <= b. Day-of-week: an end of 7, or of
 * a name of Sunday after Monday..Saturday or 7, is 7 (Sunday). */
static int read_range(const struct fctx *f, const char *entry, size_t elen,
		      const char *s, size_t n, int *a, int *b)
{
	const char *dash = memchr(s, '-', n);
	size_t ln = (size_t)(dash - s), rn = n - ln - 1;
	const char *r = dash + 1;
	bool sun_a, sun_b;
	int rc;

	if (ln == 0)
		return fail(f, entry, elen, "missing range start before '-'");
	if (rn == 0)
		return fail(f, entry, elen, "missing range end after '-'");
	if (memchr(r, '-', rn))
		return fail(f, entry, elen, "more than one '-'");
	if (ln == 1 && (s[0] == '*' || s[0] == '?'))
		return fail(f, entry, elen,
			    "'%c' cannot start a range; write a-b", s[0]);
	if ((rc =
		 read_value(f, entry, elen, "range start: ", s, ln, a, &sun_a)))
		return rc;
	if ((rc = read_value(f, entry, elen, "range end: ", r, rn, b, &sun_b)))
		return rc;
	if (f->id == F_DOW && sun_b && *a >= 1)
		*b = 7;
	if (*a > *b)
		return fail(f, entry, elen,
			    "range start %d is greater than end %d (ranges do "
			    "not wrap around%s)",
			    *a, *b,
			    f->id == F_DOW ? "; only 7 = Sunday may end a "
					     "range after Saturday"
					   : "");
	return 0;
}

/* base/step: "*<slash>s", "v/s" or "a-b/s". */
static int read_stepped(const struct fctx *f, const char *entry, size_t elen,
			const char *s, size_t n, const char *slash,
			struct acc *a)
{
	const struct field_desc *d = &fields[f->id];
	const char *st = slash + 1, *base = s;
	size_t sn = n - (size_t)(st - s), bn = (size_t)(slash - s);
	int first, last, step, rc;
	bool sun;

	if (bn == 1 && base[0] == '*') {
		first = d->min;
		last = d->max;
	} else if (bn == 1 && base[0] == '?') {
		return fail(f, entry, elen,
			    "'?' cannot take a step; write */N");
	} else if (bn == 0) {
		return fail(f, entry, elen, "missing start before '/'");
	} else if (memchr(base, '-', bn)) {
		if ((rc = read_range(f, entry, elen, base, bn, &first, &last)))
			return rc;
	} else {
		char why[200];
		if (!match_value(f->id, base, bn, &first, &sun)) {
			if (f->id == F_DOM || f->id == F_DOW) {
				char c = base[bn - 1];
				if (memchr(base, '#', bn) || c == 'l' ||
				    c == 'w')
					return fail(f, entry, elen,
						    "'%c' cannot take a step",
						    c == 'l'   ? 'L'
						    : c == 'w' ? 'W'
							       : '#');
			}
			explain_value(f->id, "start: ", base, bn, why,
				      sizeof(why));
			return fail(f, entry, elen, "%s", why);
		}
		if (f->id == F_DOW)
			first %= 7; /* 7/2 = 0/2 */
		last = d->max;
	}

	if (sn == 0)
		return fail(f, entry, elen, "missing step after '/'");
	if (memchr(st, '/', sn))
		return fail(f, entry, elen, "more than one '/'");
	if (!all_digits(st, sn))
		return fail(f, entry, elen, "step is not a number");
	step = step_value(st, sn);
	if (step < 1 || step > d->max) {
		long x = digits_value(st, sn);
		if (x >= 1 && x <= d->max && sn > 2 && st[0] == '0')
			return fail(f, entry, elen,
				    "step has too many digits (at most one "
				    "leading zero)");
		if (f->id == F_YEAR)
			return fail(f, entry, elen,
				    "step out of range (1-59 or 1970-2099)");
		return fail(f, entry, elen, "step out of range 1-%d", d->max);
	}
	set_span(f->id, a, first, last, step);
	return 0;
}

/* Day-of-month L, LW, nW. */
static int read_dom_special(const struct fctx *f, const char *entry,
			    size_t elen, const char *s, size_t n, struct acc *a)
{
	int v;
	bool sun;
	char why[200];

	if (token_is(s, n, "l")) {
		a->last = true;
		return 0;
	}
	if (token_is(s, n, "lw")) {
		a->last_wd = true;
		return 0;
	}
	if (s[n - 1] == 'w') {
		if (n == 1)
			return fail(f, entry, elen,
				    "'W' needs a day before it (e.g. 15W) or "
				    "L before it (LW)");
		if (match_value(F_DOM, s, n - 1, &v, &sun)) {
			a->wdays |= UINT32_C(1) << v;
			return 0;
		}
		explain_value(F_DOM, "day before 'W': ", s, n - 1, why,
			      sizeof(why));
		return fail(f, entry, elen, "%s", why);
	}
	if (memchr(s, 'w', n))
		return fail(f, entry, elen, "'W' must follow a day (e.g. 15W)");
	if (s[n - 1] == 'l' && n > 1)
		return fail(f, entry, elen,
			    "nL (last weekday n) is only valid in the "
			    "day-of-week field; L alone is the last day");
	if (memchr(s, 'l', n))
		return fail(f, entry, elen, "'L' must stand alone or as LW");
	explain_value(F_DOM, "", s, n, why, sizeof(why));
	return fail(f, entry, elen, "%s", why);
}

/* Day-of-week nL, n#k. */
static int read_dow_special(const struct fctx *f, const char *entry,
			    size_t elen, const char *s, size_t n, struct acc *a)
{
	const char *hash = memchr(s, '#', n);
	int v;
	bool sun;
	char why[200];

	if (hash) {
		size_t ln = (size_t)(hash - s), kn = n - ln - 1;
		const char *k = hash + 1;
		if (ln == 0)
			return fail(f, entry, elen,
				    "missing weekday before '#' (e.g. 1#3)");
		if (!match_value(F_DOW, s, ln, &v, &sun)) {
			explain_value(F_DOW, "weekday before '#': ", s, ln, why,
				      sizeof(why));
			return fail(f, entry, elen, "%s", why);
		}
		if (kn == 0)
			return fail(f, entry, elen,
				    "missing week number 1-5 after '#'");
		if (kn != 1 || k[0] < '1' || k[0] > '5')
			return fail(f, entry, elen,
				    all_digits(k, kn)
					? "week number after '#' out of "
					  "range 1-5 (one digit)"
					: "week number after '#' is not a "
					  "digit 1-5");
		a->nth[k[0] - '1'] |= (uint8_t)(1u << (v % 7));
		return 0;
	}
	if (s[n - 1] == 'l') {
		if (n == 1)
			return fail(f, entry, elen,
				    "'L' needs a weekday before it (e.g. 5L "
				    "= last Friday)");
		if (match_value(F_DOW, s, n - 1, &v, &sun)) {
			a->dlast |= (uint8_t)(1u << (v % 7));
			return 0;
		}
		explain_value(F_DOW, "weekday before 'L': ", s, n - 1, why,
			      sizeof(why));
		return fail(f, entry, elen, "%s", why);
	}
	if (s[n - 1] == 'w' && n > 1 && all_digits(s, n - 1))
		return fail(f, entry, elen,
			    "'W' is only valid in the day-of-month field");
	explain_value(F_DOW, "", s, n, why, sizeof(why));
	return fail(f, entry, elen, "%s", why);
}

static int read_entry(const struct fctx *f, const char *entry, size_t elen,
		      struct acc *a)
{
	char s[ENTRY_MAX + 1];
	size_t n;
	const char *slash;
	int v, rc;
	bool sun;

	if (!lower_entry(entry, elen, s, &n)) {
		if (all_digits(entry, elen))
			return fail(f, entry, elen,
				    "value has too many digits");
		return fail(f, entry, elen, "entry too long (%zu bytes)", elen);
	}
	if (n == 1 && (s[0] == '*' || s[0] == '?')) {
		a->star = true;
		return 0;
	}
	if ((slash = memchr(s, '/', n)))
		return read_stepped(f, entry, elen, s, n, slash, a);
	if (memchr(s, '-', n)) {
		int b;
		if ((rc = read_range(f, entry, elen, s, n, &v, &b)))
			return rc;
		set_span(f->id, a, v, b, 1);
		return 0;
	}
	if (match_value(f->id, s, n, &v, &sun)) {
		set_span(f->id, a, v, v, 1);
		return 0;
	}
	if (f->id == F_DOM)
		return read_dom_special(f, entry, elen, s, n, a);
	if (f->id == F_DOW)
		return read_dow_special(f, entry, elen, s, n, a);
	return read_value(f, entry, elen, "", s, n, &v, &sun);
}

/* A field: comma-separated entries, empty ones skipped, at least one. */
static int read_field(int id, const char *text, size_t len, struct acc *a,
		      gc_error *err)
{
	struct fctx f = {id, text, len, err};
	size_t i = 0, entries = 0;
	int rc;

	memset(a, 0, sizeof(*a));
	while (i < len) {
		size_t j = i;
		while (j < len && text[j] != ',')
			j++;
		if (j > i) {
			if ((rc = read_entry(&f, text + i, j - i, a)))
				return rc;
			entries++;
		}
		i = j + 1;
	}
	if (!entries)
		return fail(&f, NULL, 0, "no entry (only commas)");
	return 0;
}

/* ------------------------------------------------------------ assembly */

static uint64_t low_bits(int n)
{
	return n >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << n) - 1;
}

/* Bits of a plain field: all of min..max for `*`. */
static uint64_t field_bits(int id, const struct acc *a)
{
	const struct field_desc *d = &fields[id];
	if (a->star)
		return low_bits(d->max + 1) & ~low_bits(d->min);
	return a->bits[0];
}

/* The day nW moves to: the nearest Monday..Friday within the month. */
static int nearest_weekday(int n, int len, int first_wday)
{
	int wd = (first_wday + n - 1) % 7;
	if (wd == 6)
		return n > 1 ? n - 1 : n + 2;
	if (wd == 0)
		return n < len ? n + 1 : n - 2;
	return n;
}

static uint32_t day_mask(const struct acc *dom, const struct acc *dow, int len,
			 int fw)
{
	uint32_t all = (uint32_t)(low_bits(len + 1) & ~UINT64_C(1)), m = 0;
	bool dom_r = !dom->star, dow_r = !dow->star;

	if (!dom_r && !dow_r)
		return all;
	if (dom_r) {
		m |= (uint32_t)dom->bits[0] & all;
		if (dom->last)
			m |= UINT32_C(1) << len;
		if (dom->last_wd)
			m |= UINT32_C(1) << nearest_weekday(len, len, fw);
		for (int n = 1; n <= len; n++)
			if (dom->wdays >> n & 1)
				m |= UINT32_C(1) << nearest_weekday(n, len, fw);
	}
	if (dow_r) {
		for (int d = 1; d <= len; d++) {
			int wd = (fw + d - 1) % 7;
			if ((dow->bits[0] >> wd & 1) ||
			    (d + 7 > len && (dow->dlast >> wd & 1)) ||
			    (dow->nth[(d - 1) / 7] >> wd & 1))
				m |= UINT32_C(1) << d;
		}
	}
	return m;
}

static void assemble(gc_cron *c, int nfields, const struct acc acc[7])
{
	const struct acc *dom = &acc[F_DOM], *dow = &acc[F_DOW];
	static const int month_len[2][13] = {
	    {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31},
	    {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}};

	c->nfields = (uint8_t)nfields;
	c->sec = field_bits(F_SEC, &acc[F_SEC]);
	c->min = field_bits(F_MIN, &acc[F_MIN]);
	c->hour = (uint32_t)field_bits(F_HOUR, &acc[F_HOUR]);
	c->month = (uint16_t)field_bits(F_MONTH, &acc[F_MONTH]);
	if (acc[F_YEAR].star) {
		c->year[0] = c->year[1] = ~UINT64_C(0);
		c->year[2] = low_bits(GC__CRON_YEARS - 128);
	} else {
		memcpy(c->year, acc[F_YEAR].bits, sizeof(c->year));
	}
	for (int len = 28; len <= 31; len++)
		for (int fw = 0; fw < 7; fw++)
			c->days[len - 28][fw] = day_mask(dom, dow, len, fw);

	/* Can any selected month ever have a matching day? Saves scanning
	 * every year up to 2099 for expressions like `0 0 30 2 *`. */
	c->never = true;
	for (int m = 1; m <= 12; m++) {
		if (!(c->month >> m & 1))
			continue;
		for (int leap = 0; leap < 2; leap++)
			for (int fw = 0; fw < 7; fw++)
				if (c->days[month_len[leap][m] - 28][fw])
					c->never = false;
	}
}

/* ------------------------------------------------------------ API */

static bool is_space(char c)
{
	/* Go's \s: the separators cronexpr splits fields on. Vertical tab
	 * and non-ASCII spaces are not among them. */
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

static const struct macro *find_macro(const char *s, size_t n)
{
	for (size_t i = 0; i < GC__ARRAY_LEN(macros); i++)
		if (token_is(s, n, macros[i].name))
			return &macros[i];
	return NULL;
}

static int parse_fields(gc_cron *c, const char *expr, size_t len, bool expanded,
			gc_error *err)
{
	const char *ftext[7];
	size_t flen[7], nf = 0, i = 0;
	const char *at_field = NULL;
	size_t at_len = 0;
	struct acc acc[7];
	int rc;

	while (i < len) {
		size_t j;
		while (i < len && is_space(expr[i]))
			i++;
		if (i >= len)
			break;
		j = i;
		while (j < len && !is_space(expr[j]))
			j++;
		if (nf < 7) {
			ftext[nf] = expr + i;
			flen[nf] = j - i;
		}
		if (!at_field && expr[i] == '@') {
			at_field = expr + i;
			at_len = j - i;
		}
		nf++;
		i = j;
	}

	if (at_field && !expanded) {
		char q[QUOTE_MAX * 4 + 16];
		const struct macro *m = find_macro(at_field, at_len);
		quote(q, sizeof(q), at_field, at_len);
		if (m && nf == 1)
			return parse_fields(c, m->expansion,
					    strlen(m->expansion), true, err);
		if (m)
			return gc__seterr(err, GC_EINVAL,
					  "macro %s must be the whole "
					  "expression (found %zu fields)",
					  q, nf);
		return gc__seterr(err, GC_EINVAL,
				  "unknown macro %s: expected @yearly, "
				  "@annually, @monthly, @weekly, @daily or "
				  "@hourly (lower case)",
				  q);
	}
	if (nf == 0)
		return gc__seterr(err, GC_EINVAL,
				  "empty expression: need 5 to 7 fields");
	if (nf < 5)
		return gc__seterr(err, GC_EINVAL,
				  "too few fields (%zu): need 5 to 7 (minute "
				  "hour day-of-month month day-of-week)",
				  nf);
	if (nf > 7)
		return gc__seterr(err, GC_EINVAL,
				  "too many fields (%zu): at most 7", nf);

	/* 5 fields: min hour dom month dow; 6: + year; 7: sec first. */
	{
		static const int layout[3][7] = {
		    {F_MIN, F_HOUR, F_DOM, F_MONTH, F_DOW},
		    {F_MIN, F_HOUR, F_DOM, F_MONTH, F_DOW, F_YEAR},
		    {F_SEC, F_MIN, F_HOUR, F_DOM, F_MONTH, F_DOW, F_YEAR},
		};
		const int *ids = layout[nf - 5];
		bool present[7] = {false};

		/* Fields are read in cronexpr's order, so the first error
		 * reported is the one cronexpr would stop at. */
		for (i = 0; i < nf; i++) {
			if ((rc = read_field(ids[i], ftext[i], flen[i],
					     &acc[ids[i]], err)))
				return rc;
			present[ids[i]] = true;
		}
		if (!present[F_SEC]) {
			memset(&acc[F_SEC], 0, sizeof(acc[F_SEC]));
			acc[F_SEC].bits[0] = 1; /* second 0 */
		}
		if (!present[F_YEAR]) {
			memset(&acc[F_YEAR], 0, sizeof(acc[F_YEAR]));
			acc[F_YEAR].star = true;
		}
	}
	assemble(c, expanded ? 7 : (int)nf, acc);
	return 0;
}

int gc_cron_parse(gc_cron **out, const char *expr, size_t len, gc_error *err)
{
	gc_cron *c;
	int rc;

	if (!out)
		return gc__seterr(err, GC_EINVAL, "cron: out is NULL");
	*out = NULL;
	if (!expr && len)
		return gc__seterr(err, GC_EINVAL, "cron: expression is NULL");
	c = calloc(1, sizeof(*c));
	if (!c)
		return gc__seterr(err, GC_ENOMEM, "cron: out of memory");
	rc = parse_fields(c, expr ? expr : "", len, false, err);
	if (rc) {
		free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void gc_cron_free(gc_cron *cron)
{
	free(cron);
}

int gc_cron_field_count(const gc_cron *cron)
{
	return cron ? cron->nfields : 0;
}
