/* JSON from outside the process: one iterative pass over the text before
 * any recursive decoder sees it (see internal.h for the limits), exact
 * number texts for cJSON trees, and a string decoder that keeps NULs. */
#include "internal.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One open object or array. */
typedef struct json_level {
	const char *key; /* object: raw text of the current member's name */
	size_t key_len;
	size_t index; /* array: index of the current element */
	bool object;
} json_level;

typedef struct json_scan {
	const char *s;
	size_t len;
	const gc__json_opts *o;
	gc__json_fault *fault;
	gc_error *err;
	int depth;
	json_level lv[GC__JSON_DEPTH_MAX];
} json_scan;

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static size_t skip_ws(const char *s, size_t len, size_t i)
{
	while (i < len &&
	       (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
		i++;
	return i;
}

/* Printable ASCII copy of a raw member name for messages ('?' for the
 * rest, "..." when cut). */
static void print_name(char *out, size_t outlen, const char *k, size_t n)
{
	size_t j = 0, room = outlen > 4 ? outlen - 4 : 0;
	for (size_t i = 0; i < n && j < room; i++) {
		unsigned char c = (unsigned char)k[i];
		out[j++] = c >= 0x20 && c < 0x7f && c != '"' ? (char)c : '?';
	}
	if (j < n && outlen > 4) {
		memcpy(out + j, "...", 3);
		j += 3;
	}
	if (outlen)
		out[j] = '\0';
}

/* "execute_info.task.command", "tags[2]": where the scan stands. */
static void scan_path(const json_scan *sc, char *out, size_t outlen)
{
	size_t j = 0;
	out[0] = '\0';
	for (int d = 0; d < sc->depth && j + 1 < outlen; d++) {
		const json_level *l = &sc->lv[d];
		char part[80];
		if (l->object) {
			print_name(part, sizeof(part), l->key, l->key_len);
			snprintf(out + j, outlen - j, "%s%s", j ? "." : "",
				 part);
		} else {
			snprintf(out + j, outlen - j, "[%zu]", l->index);
		}
		j = strlen(out);
	}
}

static int syntax(json_scan *sc, size_t at, const char *what)
{
	char ctl[32];
	/* A stray control byte is named whatever was expected there. */
	if (at < sc->len && (unsigned char)sc->s[at] < 0x20) {
		snprintf(ctl, sizeof(ctl), "control character 0x%02x",
			 (unsigned char)sc->s[at]);
		what = ctl;
	}
	if (sc->fault) {
		sc->fault->kind = GC__JSON_FAULT_SYNTAX;
		sc->fault->at = at;
	}
	return gc__seterr(sc->err, GC_EINVAL, "invalid JSON at byte %zu (%s)",
			  at, what);
}

static int too_deep(json_scan *sc, int max, size_t at)
{
	if (sc->fault) {
		sc->fault->kind = GC__JSON_FAULT_DEPTH;
		sc->fault->at = at;
	}
	return gc__seterr(sc->err, GC_EINVAL,
			  "JSON nested deeper than %d levels at byte %zu", max,
			  at);
}

/* The string at s[*i] ('"'): *i moves past it. *nul is the offset of its
 * first \u0000 escape, or SIZE_MAX. NULL, or what is wrong (at *i). */
static const char *scan_string(const char *s, size_t len, size_t *i,
			       size_t *nul)
{
	size_t p = *i + 1;
	*nul = SIZE_MAX;
	while (p < len) {
		unsigned char c = (unsigned char)s[p];
		if (c == '"') {
			*i = p + 1;
			return NULL;
		}
		if (c < 0x20) {
			*i = p;
			return "control character in a string";
		}
		if (c != '\\') {
			p++;
			continue;
		}
		if (p + 1 >= len)
			break;
		c = (unsigned char)s[p + 1];
		if (c == 'u') {
			int zero = 1;
			for (size_t k = 2; k < 6; k++) {
				if (p + k >= len || gc__hexval(s[p + k]) < 0) {
					*i = p;
					return "invalid \\u escape";
				}
				zero &= s[p + k] == '0';
			}
			if (zero && *nul == SIZE_MAX)
				*nul = p;
			p += 6;
			continue;
		}
		if (!memchr("\"\\/bfnrt", c, 8)) {
			*i = p;
			return "invalid escape in a string";
		}
		p += 2;
	}
	*i = p;
	return "unterminated string";
}

/* A number as RFC 8259 writes it: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?
 * [0-9]+)?. Moves *i past it; false when there is none at *i. */
static bool scan_number(const char *s, size_t len, size_t *i)
{
	size_t p = *i;
	if (p < len && s[p] == '-')
		p++;
	if (p >= len || !is_digit(s[p]))
		return false;
	if (s[p] == '0')
		p++;
	else
		while (p < len && is_digit(s[p]))
			p++;
	if (p < len && s[p] == '.') {
		if (++p >= len || !is_digit(s[p]))
			return false;
		while (p < len && is_digit(s[p]))
			p++;
	}
	if (p < len && (s[p] == 'e' || s[p] == 'E')) {
		p++;
		if (p < len && (s[p] == '+' || s[p] == '-'))
			p++;
		if (p >= len || !is_digit(s[p]))
			return false;
		while (p < len && is_digit(s[p]))
			p++;
	}
	*i = p;
	return true;
}

/* A string value holding \u0000 at `nul`: allowed only inside the
 * top-level member the caller named. */
static int string_nul(json_scan *sc, size_t nul, bool is_key)
{
	const json_level *top = sc->depth ? &sc->lv[0] : NULL;
	const char *ok = sc->o->nul_member;
	char path[160];
	if (!is_key && ok && top && top->object && top->key_len == strlen(ok) &&
	    memcmp(top->key, ok, top->key_len) == 0)
		return 0;
	if (sc->fault) {
		sc->fault->kind = GC__JSON_FAULT_NUL;
		sc->fault->at = nul;
		if (!is_key && top && top->object)
			print_name(sc->fault->member, sizeof(sc->fault->member),
				   top->key, top->key_len);
	}
	if (is_key)
		return gc__seterr(sc->err, GC_EINVAL,
				  "a member name has a NUL character "
				  "(\\u0000) at byte %zu",
				  nul);
	scan_path(sc, path, sizeof(path));
	if (!path[0])
		return gc__seterr(sc->err, GC_EINVAL,
				  "a string has a NUL character (\\u0000) at "
				  "byte %zu",
				  nul);
	return gc__seterr(sc->err, GC_EINVAL,
			  "\"%s\": a string has a NUL character (\\u0000) at "
			  "byte %zu",
			  path, nul);
}

/* The states of the scan: a value is expected, what follows a value, a
 * member name. */
enum { SCAN_VALUE, SCAN_AFTER, SCAN_KEY };

/* An object or array opens at s[*i]. */
static int open_level(json_scan *sc, size_t *i, int max, int *st)
{
	const char *s = sc->s;
	bool obj = s[*i] == '{';
	json_level *l;
	if (sc->depth >= max)
		return too_deep(sc, max, *i);
	l = &sc->lv[sc->depth++];
	l->object = obj;
	l->key = NULL;
	l->key_len = 0;
	l->index = 0;
	*i = skip_ws(s, sc->len, *i + 1);
	if (*i < sc->len && s[*i] == (obj ? '}' : ']')) {
		sc->depth--;
		(*i)++;
		*st = SCAN_AFTER;
	} else {
		*st = obj ? SCAN_KEY : SCAN_VALUE;
	}
	return 0;
}

/* A value is expected at *i. */
static int scan_value(json_scan *sc, size_t *i, int max, int *st)
{
	const char *s = sc->s, *why;
	size_t len = sc->len, nul;
	*i = skip_ws(s, len, *i);
	if (*i >= len)
		return syntax(sc, *i,
			      sc->depth ? "unexpected end of the text"
					: "no value");
	if (s[*i] == '{' || s[*i] == '[')
		return open_level(sc, i, max, st);
	if (s[*i] == '"') {
		if ((why = scan_string(s, len, i, &nul)))
			return syntax(sc, *i, why);
		if (nul != SIZE_MAX && string_nul(sc, nul, false))
			return GC_EINVAL;
	} else if (s[*i] == '-' || is_digit(s[*i])) {
		if (!scan_number(s, len, i))
			return syntax(sc, *i, "invalid number");
	} else if (len - *i >= 4 && memcmp(s + *i, "true", 4) == 0) {
		*i += 4;
	} else if (len - *i >= 5 && memcmp(s + *i, "false", 5) == 0) {
		*i += 5;
	} else if (len - *i >= 4 && memcmp(s + *i, "null", 4) == 0) {
		*i += 4;
	} else {
		return syntax(sc, *i, "expected a value");
	}
	*st = SCAN_AFTER;
	return 0;
}

/* After a value: a separator, the end of its level, or of the text (1). */
static int scan_after(json_scan *sc, size_t *i, int *st)
{
	const char *s = sc->s;
	size_t len = sc->len;
	json_level *l = sc->depth ? &sc->lv[sc->depth - 1] : NULL;
	*i = skip_ws(s, len, *i);
	if (!l) {
		if (*i == len)
			return 1;
		if (sc->fault) {
			sc->fault->kind = GC__JSON_FAULT_SYNTAX;
			sc->fault->at = *i;
		}
		return gc__seterr(sc->err, GC_EINVAL,
				  "unexpected data after the JSON value at "
				  "byte %zu",
				  *i);
	}
	if (*i < len && s[*i] == ',') {
		(*i)++;
		if (!l->object)
			l->index++;
		*st = l->object ? SCAN_KEY : SCAN_VALUE;
		return 0;
	}
	if (*i < len && s[*i] == (l->object ? '}' : ']')) {
		(*i)++;
		sc->depth--;
		return 0;
	}
	return syntax(sc, *i,
		      l->object ? "expected ',' or '}'" : "expected ',' or ']'");
}

/* A member name and its ':'. */
static int scan_key(json_scan *sc, size_t *i, int *st)
{
	const char *s = sc->s, *why;
	size_t len = sc->len, nul, start;
	json_level *l = &sc->lv[sc->depth - 1];
	*i = skip_ws(s, len, *i);
	if (*i >= len || s[*i] != '"')
		return syntax(sc, *i, "expected a member name");
	start = *i;
	if ((why = scan_string(s, len, i, &nul)))
		return syntax(sc, *i, why);
	if (nul != SIZE_MAX)
		return string_nul(sc, nul, true);
	l->key = s + start + 1;
	l->key_len = *i - start - 2;
	*i = skip_ws(s, len, *i);
	if (*i >= len || s[*i] != ':')
		return syntax(sc, *i, "expected ':'");
	(*i)++;
	*st = SCAN_VALUE;
	return 0;
}

int gc__json_check(const char *s, size_t len, const gc__json_opts *o,
		   gc__json_fault *fault, gc_error *err)
{
	int st = SCAN_VALUE, rc = 0;
	json_scan sc;
	int max = o->max_depth;
	size_t i = 0;
	if (max < 1 || max > GC__JSON_DEPTH_MAX)
		max = GC__JSON_DEPTH_MAX;
	sc.s = s;
	sc.len = s ? len : 0;
	sc.o = o;
	sc.fault = fault;
	sc.err = err;
	sc.depth = 0;
	if (fault)
		memset(fault, 0, sizeof(*fault));
	if (!s)
		return syntax(&sc, 0, "no JSON given");
	/* cJSON skips a UTF-8 byte order mark; so does the scan */
	if (len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	while (rc == 0) {
		if (st == SCAN_VALUE)
			rc = scan_value(&sc, &i, max, &st);
		else if (st == SCAN_AFTER)
			rc = scan_after(&sc, &i, &st);
		else
			rc = scan_key(&sc, &i, &st);
	}
	return rc == 1 ? 0 : rc;
}

/* The next number token at or after *pos in a text gc__json_check
 * accepted: its span, or false when there is none. */
static bool next_number(const char *s, size_t len, size_t *pos, size_t *start)
{
	size_t i = *pos, nul;
	while (i < len) {
		if (s[i] == '"') {
			if (scan_string(s, len, &i, &nul))
				return false;
			continue;
		}
		if (s[i] == '-' || is_digit(s[i])) {
			*start = i;
			if (!scan_number(s, len, &i))
				return false;
			*pos = i;
			return true;
		}
		i++;
	}
	return false;
}

/* Give every number of the tree its text, in document order (cJSON keeps
 * members and elements in that order). Iterative: the tree is at most
 * GC__JSON_DEPTH_MAX deep. */
static int attach_number_texts(cJSON *root, const char *s, size_t len,
			       gc_error *err)
{
	cJSON *stack[GC__JSON_DEPTH_MAX + 1];
	cJSON *it = root;
	size_t pos = 0, start;
	int sp = 0;
	for (;;) {
		if (cJSON_IsNumber(it)) {
			char *t;
			if (!next_number(s, len, &pos, &start))
				return gc__seterr(err, GC_EINVAL,
						  "invalid JSON (numbers "
						  "disagree with the scan)");
			t = cJSON_malloc(pos - start + 1);
			if (!t)
				return gc__seterr(err, GC_ENOMEM,
						  "out of memory");
			memcpy(t, s + start, pos - start);
			t[pos - start] = '\0';
			it->valuestring = t;
		}
		if ((cJSON_IsArray(it) || cJSON_IsObject(it)) && it->child) {
			if (sp == (int)GC__ARRAY_LEN(stack))
				return gc__seterr(err, GC_EINVAL,
						  "JSON nested too deep");
			stack[sp++] = it;
			it = it->child;
			continue;
		}
		while (sp > 0 && !it->next)
			it = stack[--sp];
		if (sp == 0)
			return 0;
		it = it->next;
	}
}

int gc__json_parse(struct cJSON **out, const char *s, size_t len,
		   const gc__json_opts *o, gc__json_fault *fault, gc_error *err)
{
	const char *end = NULL;
	cJSON *root;
	int rc;
	*out = NULL;
	if ((rc = gc__json_check(s, len, o, fault, err)))
		return rc;
	root = cJSON_ParseWithLengthOpts(s, len, &end, 0);
	if (!root) {
		size_t at =
		    end && end >= s && end <= s + len ? (size_t)(end - s) : 0;
		if (fault) {
			fault->kind = GC__JSON_FAULT_SYNTAX;
			fault->at = at;
		}
		return gc__seterr(err, GC_EINVAL, "invalid JSON at byte %zu",
				  at);
	}
	if ((o->flags & GC__JSON_NUMBER_TEXT) &&
	    (rc = attach_number_texts(root, s, len, err))) {
		cJSON_Delete(root);
		return rc;
	}
	*out = root;
	return 0;
}

int gc__json_int64(const struct cJSON *v, int64_t *out)
{
	const char *t = v ? v->valuestring : NULL, *p, *ip, *fp = "";
	size_t ilen, flen = 0, total, first, last;
	long exp = 0, shift;
	char buf[24];
	size_t n = 0;
	if (!cJSON_IsNumber(v))
		return GC_EINVAL;
	if (!t) { /* a tree built without GC__JSON_NUMBER_TEXT */
		double d = v->valuedouble;
		if (!(d >= -9007199254740992.0 && d <= 9007199254740992.0) ||
		    d != (double)(int64_t)d)
			return GC_EINVAL;
		*out = (int64_t)d;
		return 0;
	}
	/* The exact value from the text: digits, fraction, exponent. */
	p = t + (*t == '-');
	for (ip = p; is_digit(*p); p++)
		;
	ilen = (size_t)(p - ip);
	if (*p == '.') {
		for (fp = ++p; is_digit(*p); p++)
			;
		flen = (size_t)(p - fp);
	}
	if (*p == 'e' || *p == 'E') {
		int neg = *++p == '-';
		if (*p == '-' || *p == '+')
			p++;
		for (; is_digit(*p); p++)
			if (exp < 100000)
				exp = exp * 10 + (*p - '0');
		if (neg)
			exp = -exp;
	}
	if (*p || ilen == 0)
		return GC_EINVAL;
	/* significant digits of int part + fraction: [first, last] */
	total = ilen + flen;
	for (first = 0; first < total; first++)
		if ((first < ilen ? ip[first] : fp[first - ilen]) != '0')
			break;
	if (first == total) {
		*out = 0;
		return 0;
	}
	for (last = total - 1; last > first; last--)
		if ((last < ilen ? ip[last] : fp[last - ilen]) != '0')
			break;
	/* value = digits[first..last] * 10^shift */
	shift = exp - (long)flen + (long)(total - 1 - last);
	if (shift < 0)
		return GC_EINVAL; /* not an integer */
	if ((long)(last - first + 1) + shift > 19)
		return GC_EINVAL; /* beyond int64 */
	if (*t == '-')
		buf[n++] = '-';
	for (size_t k = first; k <= last; k++)
		buf[n++] = k < ilen ? ip[k] : fp[k - ilen];
	for (long k = 0; k < shift; k++)
		buf[n++] = '0';
	buf[n] = '\0';
	return gc__parse_int64(buf, out);
}

static uint32_t hex4(const char *p)
{
	uint32_t v = 0;
	for (int k = 0; k < 4; k++)
		v = v << 4 | (uint32_t)gc__hexval((unsigned char)p[k]);
	return v;
}

int gc__json_unquote(const char *s, size_t len, char **out, size_t *outlen)
{
	size_t i = 0, j = 0, nul;
	char *d;
	*out = NULL;
	*outlen = 0;
	if (!s || len < 2 || s[0] != '"' || scan_string(s, len, &i, &nul) ||
	    i != len)
		return GC_EINVAL;
	/* never longer than the quoted text: an escape of n bytes gives at
	 * most n bytes of UTF-8 */
	if (!(d = malloc(len)))
		return GC_ENOMEM;
	for (i = 1; i + 1 < len; i++) {
		uint32_t cp, lo;
		if (s[i] != '\\') {
			d[j++] = s[i];
			continue;
		}
		switch (s[++i]) {
		case 'b':
			d[j++] = '\b';
			break;
		case 'f':
			d[j++] = '\f';
			break;
		case 'n':
			d[j++] = '\n';
			break;
		case 'r':
			d[j++] = '\r';
			break;
		case 't':
			d[j++] = '\t';
			break;
		case 'u':
			cp = hex4(s + i + 1);
			i += 4;
			if (cp >= 0xd800 && cp <= 0xdbff && i + 6 < len &&
			    s[i + 1] == '\\' && s[i + 2] == 'u' &&
			    (lo = hex4(s + i + 3)) >= 0xdc00 && lo <= 0xdfff) {
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				     (lo - 0xdc00);
				i += 6;
			} else if (cp >= 0xd800 && cp <= 0xdfff) {
				cp = 0xfffd; /* a lone surrogate, as Go */
			}
			j += gc__utf8_put(d + j, cp);
			break;
		default:
			d[j++] = s[i]; /* " \ / */
		}
	}
	d[j] = '\0';
	*out = d;
	*outlen = j;
	return 0;
}
