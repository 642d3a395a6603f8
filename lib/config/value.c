/* TOML values of the configuration files: strings, integers, booleans and
 * one-level arrays (config_internal.h, gc__cfg_value_decode). What TOML
 * has beyond that (floats, dates, inline tables, nested arrays,
 * multi-line strings) is refused by name. */
#include "config_internal.h"

#include <stdlib.h>
#include <string.h>

#define MSG_EXPECTED_VALUE                                                     \
	"expected a value (a \"string\", an integer, true, false or an "       \
	"array)"
#define MSG_MISSING_CLOSE "array is missing its closing \"]\""

bool gc__cfg_is_key_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
}

void gc__cfg_value_clear(gc__cfg_value *v)
{
	if (v->kind == GC__CFG_STR)
		free(v->s);
	if (v->kind == GC__CFG_ARRAY) {
		for (size_t i = 0; i < v->n; i++)
			gc__cfg_value_clear(&v->items[i]);
		free(v->items);
	}
	memset(v, 0, sizeof(*v));
}

static int fail(gc__cfg_verror *e, const char *msg, const char *at)
{
	e->msg = msg;
	e->at = at;
	return GC_EINVAL;
}

/* Does a line end at p (its newline, its "\r\n", the end of the text)? */
static bool at_line_end(const char *p)
{
	return *p == '\0' || *p == '\n' ||
	       (*p == '\r' && (p[1] == '\n' || p[1] == '\0'));
}

/* ------------------------------------------------------------ strings */

/* The character after a backslash in a basic string: its byte in *out,
 * or the number of hex digits of a \u / \U escape (0 for the others). */
static int escape_char(char e, char *out)
{
	static const char from[] = "\"\\ntrbf", to[] = "\"\\\n\t\r\b\f";
	const char *k = e ? strchr(from, e) : NULL;
	if (k) {
		*out = to[k - from];
		return 0;
	}
	if (e == 'u')
		return 4;
	if (e == 'U')
		return 8;
	return -1;
}

/* \uXXXX or \UXXXXXXXX at p (after the 'u'/'U'): appended as UTF-8. */
static int unicode_escape(const char *p, int digits, gc__buf *b,
			  const char **msg)
{
	uint32_t cp = 0;
	char utf8[4];
	for (int i = 0; i < digits; i++) {
		int h = gc__hexval(p[i]);
		if (h < 0) {
			*msg = "bad \\u escape in string (needs hex digits)";
			return GC_EINVAL;
		}
		cp = cp * 16 + (uint32_t)h;
	}
	if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0) {
		*msg = "\\u escape is not a valid character";
		return GC_EINVAL;
	}
	return gc__buf_append(b, utf8, gc__utf8_put(utf8, cp));
}

/* The body of a string after its opening quote q, up to the closing one
 * (*pp then past it). */
static int string_body(const char **pp, char q, gc__buf *b, const char **msg)
{
	const char *p = *pp;
	for (;;) {
		char c = *p, r;
		int digits, rc;
		if (at_line_end(p)) {
			*msg = q == '"'
				   ? "unterminated string (missing closing \")"
				   : "unterminated string (missing closing ')";
			return GC_EINVAL;
		}
		p++;
		if (c == q)
			break;
		if ((unsigned char)c < 0x20 && c != '\t') {
			*msg = "control character in string (use an escape "
			       "such as \\n)";
			return GC_EINVAL;
		}
		if (c != '\\' || q == '\'') {
			rc = gc__buf_append(b, &c, 1);
		} else if ((digits = escape_char(*p++, &r)) < 0) {
			*msg =
			    "unknown escape in string (use \\\" \\\\ \\n \\t "
			    "\\r \\b \\f \\uXXXX)";
			return GC_EINVAL;
		} else if (digits == 0) {
			rc = gc__buf_append(b, &r, 1);
		} else {
			rc = unicode_escape(p, digits, b, msg);
			p += digits;
		}
		if (rc < 0)
			return rc;
	}
	*pp = p;
	return 0;
}

/* A "basic string" or a 'literal string'; *pp is at the opening quote. */
static int decode_string(const char **pp, char **out, gc__cfg_verror *e)
{
	const char *p = *pp;
	char q = *p++;
	gc__buf b = GC__BUF_INIT;
	int rc;
	if (p[0] == q && p[1] == q)
		return fail(e, "multi-line strings are not supported", *pp);
	rc = gc__buf_reserve(&b, 16);
	if (rc == 0)
		rc = string_body(&p, q, &b, &e->msg);
	if (rc == 0 && !(*out = gc__buf_detach(&b)))
		rc = GC_ENOMEM;
	if (rc < 0) {
		gc__buf_free(&b);
		if (rc == GC_EINVAL)
			e->at = *pp;
		return rc;
	}
	*pp = p;
	return 0;
}

/* ------------------------------------------------------------ scalars */

/* TOML decimal integer: optional sign, digits with single '_' between
 * digits, no leading zero. */
static int decode_integer(const char **pp, int64_t *out, gc__cfg_verror *e)
{
	const char *p = *pp;
	bool neg = false;
	uint64_t v = 0, lim;
	int nd = 0;
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	if (p[0] == '0' && p[1] >= '0' && p[1] <= '9')
		return fail(e, "integers must not have leading zeros", *pp);
	for (;; p++) {
		if (*p >= '0' && *p <= '9') {
			unsigned d = (unsigned)(*p - '0');
			if (v > (lim - d) / 10)
				return fail(e, "integer is too large", *pp);
			v = v * 10 + d;
			nd++;
		} else if (!(*p == '_' && nd > 0 && p[1] >= '0' &&
			     p[1] <= '9')) {
			break;
		}
	}
	if (nd == 0)
		return fail(e, MSG_EXPECTED_VALUE, *pp);
	if (*p && strchr(".eE:-xob", *p))
		return fail(e,
			    "floats, dates and non-decimal integers are not "
			    "supported",
			    *pp);
	if (*p == 'i' || *p == 'n')
		return fail(e, "floats are not supported", *pp);
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	*pp = p;
	return 0;
}

/* `w` at p as a whole word (followed by what may follow a value). */
static bool word_at(const char *p, const char *w)
{
	size_t n = strlen(w);
	if (strncmp(p, w, n) != 0)
		return false;
	p += n;
	return at_line_end(p) || gc__cfg_is_blank(*p) || *p == ',' ||
	       *p == ']' || *p == '#' || *p == '\r';
}

/* ------------------------------------------------------------ arrays */

/* Does the line at p start like a statement (a [section] or `key =`)? */
static bool starts_statement(const char *p)
{
	while (gc__cfg_is_blank(*p))
		p++;
	if (*p == '[')
		return true;
	while (gc__cfg_is_key_char(*p))
		p++;
	while (gc__cfg_is_blank(*p))
		p++;
	return *p == '=';
}

/* Skip what may stand between array items: blanks, comments, newlines.
 * `open` is the array's '[' (where a missing "]" is reported). */
static int skip_array_space(const char **pp, const char *open,
			    gc__cfg_verror *e)
{
	const char *p = *pp;
	for (;;) {
		while (gc__cfg_is_blank(*p))
			p++;
		if (*p == '#')
			p += strcspn(p, "\n");
		if (*p == '\r' && p[1] == '\n')
			p++;
		if (*p != '\n')
			break;
		if (starts_statement(++p))
			return fail(e, MSG_MISSING_CLOSE, open);
	}
	*pp = p;
	return 0;
}

static int decode_any(const char **pp, gc__cfg_value *v, bool in_array,
		      gc__cfg_verror *e);

/* Append `item` to the array `v` (taking it over, also on failure). */
static int push_item(gc__cfg_value *v, gc__cfg_value *item, size_t *cap)
{
	if (v->n == *cap) {
		size_t nc = *cap ? *cap * 2 : 4;
		gc__cfg_value *ni = realloc(v->items, nc * sizeof(*ni));
		if (!ni) {
			gc__cfg_value_clear(item);
			return GC_ENOMEM;
		}
		v->items = ni;
		*cap = nc;
	}
	v->items[v->n++] = *item;
	v->item_kind = item->kind;
	return 0;
}

static int decode_array(const char **pp, gc__cfg_value *v, gc__cfg_verror *e)
{
	const char *open = *pp, *p = open + 1;
	size_t cap = 0;
	int rc = 0;
	v->kind = GC__CFG_ARRAY;
	v->item_kind = -1;
	while (rc == 0 && (rc = skip_array_space(&p, open, e)) == 0) {
		gc__cfg_value item;
		const char *at = p;
		if (*p == ']')
			break;
		if (*p == '\0')
			return fail(e, MSG_MISSING_CLOSE, open);
		memset(&item, 0, sizeof(item));
		if ((rc = decode_any(&p, &item, true, e)) < 0)
			break;
		if (v->item_kind >= 0 && item.kind != v->item_kind) {
			gc__cfg_value_clear(&item);
			return fail(
			    e, "array items must all have the same type", at);
		}
		if ((rc = push_item(v, &item, &cap)) < 0 ||
		    (rc = skip_array_space(&p, open, e)) < 0)
			break;
		if (*p == ',')
			p++;
		else if (*p != ']')
			rc = *p ? fail(e,
				       "expected \",\" or \"]\" after an array "
				       "item",
				       p)
				: fail(e, MSG_MISSING_CLOSE, open);
	}
	if (rc < 0)
		return rc;
	*pp = p + 1;
	return 0;
}

/* ------------------------------------------------------------ values */

static int decode_any(const char **pp, gc__cfg_value *v, bool in_array,
		      gc__cfg_verror *e)
{
	const char *p = *pp;
	int rc;
	if (*p == '"' || *p == '\'') {
		v->kind = GC__CFG_STR;
		rc = decode_string(&p, &v->s, e);
	} else if (*p == '[') {
		if (in_array)
			return fail(e, "nested arrays are not supported", p);
		rc = decode_array(&p, v, e);
	} else if (*p == '{') {
		return fail(e, "inline tables are not supported", p);
	} else if (word_at(p, "true") || word_at(p, "false")) {
		v->kind = GC__CFG_BOOL;
		v->b = *p == 't';
		p += v->b ? 4 : 5;
		rc = 0;
	} else if ((*p >= '0' && *p <= '9') || *p == '+' || *p == '-') {
		v->kind = GC__CFG_INT;
		rc = decode_integer(&p, &v->i, e);
	} else if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		   *p == '/' || *p == '.') {
		return fail(e, "strings must be quoted, like \"text\"", p);
	} else {
		return fail(e, MSG_EXPECTED_VALUE, p);
	}
	if (rc < 0) {
		gc__cfg_value_clear(v);
		return rc;
	}
	*pp = p;
	return 0;
}

int gc__cfg_value_decode(gc__cfg_value *out, const char **pp, gc__cfg_verror *e)
{
	const char *p = *pp;
	int rc;
	memset(out, 0, sizeof(*out));
	while (gc__cfg_is_blank(*p))
		p++;
	if (at_line_end(p) || *p == '#')
		return fail(e, "missing value after \"=\"", p);
	rc = decode_any(&p, out, false, e);
	if (rc == 0)
		*pp = p;
	return rc;
}
