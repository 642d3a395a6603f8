/* Go-compatible JSON: strings written the way Go's encoding/json writes
 * them, and the reading side of the task model's decoders (fields typed as
 * Go's decoder types them, unknown members kept byte-exact by scanning the
 * raw text that the strict check already accepted). */
#include "job/job_internal.h"

#include <ctype.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- writing */

static const char hexdig[] = "0123456789abcdef";

/* html: Go's escaping of < > & and of invalid UTF-8 as \ufffd; without it
 * those are written as they are (invalid bytes as a raw U+FFFD). */
static int json_escape(gc__buf *b, const char *str, size_t len, bool html)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, run = 0;
	int rc;
	/* worst case 6 bytes per input byte, reserve the common case */
	if ((rc = gc__buf_reserve(b, len + 2)))
		return rc;
	b->data[b->len++] = '"';
	while (i < len) {
		unsigned char c = s[i];
		char esc[8];
		size_t elen = 0, adv = 1;
		uint32_t cp;
		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\' &&
		    (!html || (c != '<' && c != '>' && c != '&'))) {
			i++;
			run++;
			continue;
		}
		if (run && (rc = gc__buf_append(b, s + i - run, run)))
			return rc;
		run = 0;
		if (c < 0x80) {
			esc[0] = '\\';
			switch (c) {
			case '"': esc[1] = '"'; elen = 2; break;
			case '\\': esc[1] = '\\'; elen = 2; break;
			case '\n': esc[1] = 'n'; elen = 2; break;
			case '\r': esc[1] = 'r'; elen = 2; break;
			case '\t': esc[1] = 't'; elen = 2; break;
			default:
				memcpy(esc + 1, "u00", 3);
				esc[4] = hexdig[c >> 4];
				esc[5] = hexdig[c & 15];
				elen = 6;
			}
			rc = gc__buf_append(b, esc, elen);
		} else {
			adv = gc__utf8_seq(s + i, len - i, &cp);
			if (adv == 0) {
				adv = 1;
				rc = html
					 ? gc__buf_append(b, "\\ufffd", 6)
					 : gc__buf_append(b, "\xef\xbf\xbd", 3);
			} else if (cp == 0x2028 || cp == 0x2029) {
				rc = gc__buf_append(b, cp == 0x2028 ? "\\u2028"
								    : "\\u2029",
						    6);
			} else {
				rc = gc__buf_append(b, s + i, adv);
			}
		}
		if (rc)
			return rc;
		i += adv;
	}
	if (run && (rc = gc__buf_append(b, s + i - run, run)))
		return rc;
	return gc__buf_append(b, "\"", 1);
}

int gc__json_gostr(gc__buf *b, const char *s, size_t len)
{
	return json_escape(b, s, len, true);
}

int gc__json_str(gc__buf *b, const char *s, size_t len)
{
	return json_escape(b, s, len, false);
}

int gc__gojson_cstr(gc__buf *b, const char *s)
{
	return gc__json_gostr(b, s ? s : "", s ? strlen(s) : 0);
}

/* ------------------------------------------------------------- reading */

/* Raw scanning of a JSON text that cJSON already accepted: used to keep
 * unknown members byte-exact and to find nested objects' spans. */
static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

static const char *skip_string(const char *p, const char *end)
{
	if (p >= end || *p != '"')
		return NULL;
	for (p++; p < end; p++) {
		if ((unsigned char)*p < 0x20)
			return NULL; /* raw control character: not JSON (cJSON
					lets it through, Go does not) */
		if (*p == '\\')
			p++;
		else if (*p == '"')
			return p + 1;
	}
	return NULL;
}

static const char *skip_value(const char *p, const char *end)
{
	int depth = 0;
	if (p >= end)
		return NULL;
	if (*p == '"')
		return skip_string(p, end);
	if (*p != '{' && *p != '[') {
		while (p < end && !strchr(",}] \t\r\n", *p))
			p++;
		return p;
	}
	while (p < end) {
		if (*p == '"') {
			if (!(p = skip_string(p, end)))
				return NULL;
			continue;
		}
		if (*p == '{' || *p == '[')
			depth++;
		else if ((*p == '}' || *p == ']') && --depth == 0)
			return p + 1;
		p++;
	}
	return NULL;
}

/* Calls fn for each member of the object at p. Returns 0 or GC_EINVAL. */
int gc__gojson_members(const char *p, const char *end,
		       int (*fn)(const gc__gojson_member *m, void *arg),
		       void *arg)
{
	p = skip_ws(p, end);
	if (p >= end || *p != '{')
		return GC_EINVAL;
	p = skip_ws(p + 1, end);
	if (p < end && *p == '}')
		return 0;
	while (p < end) {
		gc__gojson_member m;
		const char *q;
		int rc;
		m.key = p;
		if (!(q = skip_string(p, end)))
			return GC_EINVAL;
		m.key_len = (size_t)(q - p);
		p = skip_ws(q, end);
		if (p >= end || *p != ':')
			return GC_EINVAL;
		p = skip_ws(p + 1, end);
		m.val = p;
		if (!(q = skip_value(p, end)))
			return GC_EINVAL;
		m.val_len = (size_t)(q - p);
		if ((rc = fn(&m, arg)))
			return rc;
		p = skip_ws(q, end);
		if (p < end && *p == '}')
			return 0;
		if (p >= end || *p != ',')
			return GC_EINVAL;
		p = skip_ws(p + 1, end);
	}
	return GC_EINVAL;
}

/* Decode a raw member key (quoted JSON string) into buf; keys longer than
 * the buffer are reported as "" (they match nothing we know). */
void gc__gojson_key(const gc__gojson_member *m, char *buf, size_t size)
{
	cJSON *k;
	buf[0] = '\0';
	if (!memchr(m->key, '\\', m->key_len)) {
		if (m->key_len - 2 < size) {
			memcpy(buf, m->key + 1, m->key_len - 2);
			buf[m->key_len - 2] = '\0';
		}
		return;
	}
	k = cJSON_ParseWithLengthOpts(m->key, m->key_len, NULL, 0);
	if (k && cJSON_IsString(k) && strlen(k->valuestring) < size)
		memcpy(buf, k->valuestring, strlen(k->valuestring) + 1);
	cJSON_Delete(k);
}

/* Parse a whole JSON object through the shared check (nesting, strict
 * grammar, no \u0000 but in `nul_member`); numbers keep their text. */
cJSON *gc__gojson_object(const char *json, size_t len, const char *what,
			 const char *nul_member, gc_error *err)
{
	const gc__json_opts jo = {GC__JSON_DEPTH_JOB, GC__JSON_NUMBER_TEXT,
				  nul_member};
	cJSON *root;
	if (!json) {
		gc__seterr(err, GC_EINVAL, "%s: no JSON given", what);
		return NULL;
	}
	if (gc__json_parse(&root, json, len, &jo, NULL, err)) {
		gc__err_prefix(err, "%s", what);
		return NULL;
	}
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		gc__seterr(err, GC_EINVAL, "%s: expected a JSON object", what);
		return NULL;
	}
	return root;
}

const char *gc__gojson_type_name(const cJSON *v)
{
	if (cJSON_IsString(v))
		return "a string";
	if (cJSON_IsNumber(v))
		return "a number";
	if (cJSON_IsBool(v))
		return "a boolean";
	if (cJSON_IsArray(v))
		return "an array";
	if (cJSON_IsObject(v))
		return "an object";
	return "null";
}

/* Integer from a number (exactly as written: no fraction, no exponent,
 * within int64) or a numeric string; null -> 0. */
int gc__gojson_int64(const cJSON *v, const char *where, const char *field,
		     int64_t *out, gc_error *err)
{
	if (!v || cJSON_IsNull(v)) {
		*out = 0;
		return 0;
	}
	if (cJSON_IsNumber(v)) {
		if (gc__json_int64(v, out) == 0)
			return 0;
		if (v->valuestring)
			return gc__seterr(err, GC_EINVAL,
					  "%s: field \"%s\": %.40s is not an "
					  "integer in the int64 range",
					  where, field, v->valuestring);
		return gc__seterr(err, GC_EINVAL,
				  "%s: field \"%s\": %g is not an integer",
				  where, field, v->valuedouble);
	}
	if (cJSON_IsString(v)) {
		const char *s = v->valuestring;
		if (gc__parse_int64(s, out) == 0 && !isspace((unsigned char)*s))
			return 0;
		return gc__seterr(err, GC_EINVAL,
				  "%s: field \"%s\": \"%.40s\" is not an "
				  "integer",
				  where, field, s);
	}
	return gc__seterr(err, GC_EINVAL,
			  "%s: field \"%s\": expected an integer, got %s", where,
			  field, gc__gojson_type_name(v));
}

int gc__gojson_int(const cJSON *v, const char *where, const char *field,
		   int *out, gc_error *err)
{
	int64_t x;
	int rc = gc__gojson_int64(v, where, field, &x, err);
	if (rc)
		return rc;
	if (x < INT_MIN || x > INT_MAX)
		return gc__seterr(err, GC_EINVAL,
				  "%s: field \"%s\": %" PRId64
				  " is out of range",
				  where, field, x);
	*out = (int)x;
	return 0;
}

/* String; null -> "". *out is replaced (old value freed). */
int gc__gojson_string(const cJSON *v, const char *where, const char *field,
		      char **out, gc_error *err)
{
	char *s;
	if (!v || cJSON_IsNull(v)) { /* absent or null */
		s = gc__strdup("");
	} else if (cJSON_IsString(v)) {
		s = gc__strdup(v->valuestring);
	} else {
		return gc__seterr(err, GC_EINVAL,
				  "%s: field \"%s\": expected a string, got %s",
				  where, field, gc__gojson_type_name(v));
	}
	if (!s)
		return gc__seterr(err, GC_ENOMEM, "%s: out of memory", where);
	free(*out);
	*out = s;
	return 0;
}

struct find_member {
	const char *name;
	const char *val;
	size_t val_len;
};

static int find_member_cb(const gc__gojson_member *m, void *arg)
{
	struct find_member *f = arg;
	char key[64];
	gc__gojson_key(m, key, sizeof(key));
	if (!f->val && strcmp(key, f->name) == 0) { /* first, as cJSON */
		f->val = m->val;
		f->val_len = m->val_len;
	}
	return 0;
}

/* Raw span of member `name` of the object at [p, end). */
int gc__gojson_find(const char *p, const char *end, const char *name,
		    const char **val, size_t *val_len)
{
	struct find_member f = {name, NULL, 0};
	if (gc__gojson_members(p, end, find_member_cb, &f) || !f.val)
		return GC_ENOTFOUND;
	*val = f.val;
	*val_len = f.val_len;
	return 0;
}
