/* Task model: TaskInfo JSON, validation, ids, etcd keys, result and
 * warning bodies, exit texts. Wire formats follow GopherCron 1.10 byte for
 * byte (see include/gophercron/job.h). */
#include "job_internal.h"

#include <gophercron/cron.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/wait.h>

/* ------------------------------------------------------ JSON primitives */

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

static int json_str(gc__buf *b, const char *s)
{
	return gc__json_gostr(b, s ? s : "", s ? strlen(s) : 0);
}

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

typedef struct raw_member {
	const char *key; /* including quotes */
	size_t key_len;
	const char *val;
	size_t val_len;
} raw_member;

/* Calls fn for each member of the object at p. Returns 0 or GC_EINVAL. */
static int scan_members(const char *p, const char *end,
			int (*fn)(const raw_member *m, void *arg), void *arg)
{
	p = skip_ws(p, end);
	if (p >= end || *p != '{')
		return GC_EINVAL;
	p = skip_ws(p + 1, end);
	if (p < end && *p == '}')
		return 0;
	while (p < end) {
		raw_member m;
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
static void raw_key(const raw_member *m, char *buf, size_t size)
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
static cJSON *parse_json(const char *json, size_t len, const char *what,
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

static const char *json_type_name(const cJSON *v)
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
static int json_int64(const cJSON *v, const char *where, const char *field,
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
			  field, json_type_name(v));
}

static int json_int(const cJSON *v, const char *where, const char *field,
		    int *out, gc_error *err)
{
	int64_t x;
	int rc = json_int64(v, where, field, &x, err);
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
static int json_string(const cJSON *v, const char *where, const char *field,
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
				  where, field, json_type_name(v));
	}
	if (!s)
		return gc__seterr(err, GC_ENOMEM, "%s: out of memory", where);
	free(*out);
	*out = s;
	return 0;
}

/* -------------------------------------------------------------- RFC3339 */

void gc__rfc3339_go(int64_t unix_ns, char out[48])
{
	char *dot, *z;
	if (unix_ns == 0) {
		memcpy(out, "0001-01-01T00:00:00Z", 21);
		return;
	}
	gc__rfc3339(unix_ns, true, out);
	dot = strchr(out, '.');
	z = strchr(out, 'Z');
	if (!dot || !z)
		return;
	while (z > dot + 1 && z[-1] == '0')
		z--;
	if (z == dot + 1)
		z = dot;
	memcpy(z, "Z", 2);
}

int gc__parse_rfc3339_go(const char *s, int64_t *unix_ns)
{
	int year = 0;
	if (!s)
		return GC_EINVAL;
	if (strcmp(s, "0001-01-01T00:00:00Z") == 0) {
		*unix_ns = 0;
		return 0;
	}
	for (int i = 0; i < 4; i++) {
		if (s[i] < '0' || s[i] > '9')
			return GC_EINVAL;
		year = year * 10 + (s[i] - '0');
	}
	/* the span int64 nanoseconds can hold */
	if (year < 1678 || year > 2261)
		return GC_EINVAL;
	return gc__parse_rfc3339(s, unix_ns);
}

/* ----------------------------------------------------------------- task */

/* Unknown members, as raw JSON text: key (quoted) and value. */
struct gc_task_extra {
	size_t n;
	struct extra_item {
		char *key;
		char *val;
	} *items;
};

static void extra_free(struct gc_task_extra *x)
{
	if (!x)
		return;
	for (size_t i = 0; i < x->n; i++) {
		free(x->items[i].key);
		free(x->items[i].val);
	}
	free(x->items);
	free(x);
}

static int extra_add(struct gc_task_extra **xp, const char *key,
		     size_t key_len, const char *val, size_t val_len)
{
	struct gc_task_extra *x = *xp;
	struct extra_item *items;
	char *k, *v;
	if (!x) {
		if (!(x = calloc(1, sizeof(*x))))
			return GC_ENOMEM;
		*xp = x;
	}
	items = realloc(x->items, (x->n + 1) * sizeof(*items));
	if (!items)
		return GC_ENOMEM;
	x->items = items;
	k = gc__strndup(key, key_len);
	v = gc__strndup(val, val_len);
	if (!k || !v) {
		free(k);
		free(v);
		return GC_ENOMEM;
	}
	items[x->n].key = k;
	items[x->n].val = v;
	x->n++;
	return 0;
}

enum ftype { F_STR, F_I64, F_INT };

static const struct task_field {
	const char *name;
	enum ftype type;
	size_t off;
} task_fields[] = {
	{"task_id", F_STR, offsetof(gc_task, task_id)},
	{"name", F_STR, offsetof(gc_task, name)},
	{"project_id", F_I64, offsetof(gc_task, project_id)},
	{"command", F_STR, offsetof(gc_task, command)},
	{"cron", F_STR, offsetof(gc_task, cron)},
	{"remark", F_STR, offsetof(gc_task, remark)},
	{"timeout", F_I64, offsetof(gc_task, timeout)},
	{"create_time", F_I64, offsetof(gc_task, create_time)},
	{"status", F_INT, offsetof(gc_task, status)},
	{"is_running", F_INT, offsetof(gc_task, is_running)},
	{"noseize", F_INT, offsetof(gc_task, noseize)},
	{"exclusion", F_INT, offsetof(gc_task, exclusion)},
	{"client_ip", F_STR, offsetof(gc_task, client_ip)},
};

static const struct task_field *task_field_find(const char *name)
{
	/* Go's encoding/json prefers an exact match, then case-insensitive */
	for (size_t i = 0; i < GC__ARRAY_LEN(task_fields); i++)
		if (strcmp(task_fields[i].name, name) == 0)
			return &task_fields[i];
	for (size_t i = 0; i < GC__ARRAY_LEN(task_fields); i++)
		if (strcasecmp(task_fields[i].name, name) == 0)
			return &task_fields[i];
	return NULL;
}

GC_EXTERN void gc_task_init(gc_task *t)
{
	if (t)
		memset(t, 0, sizeof(*t));
}

GC_EXTERN void gc_task_clear(gc_task *t)
{
	if (!t)
		return;
	free(t->task_id);
	free(t->name);
	free(t->command);
	free(t->cron);
	free(t->remark);
	free(t->client_ip);
	extra_free(t->extra);
	memset(t, 0, sizeof(*t));
}

static int dup_field(char **dst, const char *src)
{
	if (!src) {
		*dst = NULL;
		return 0;
	}
	*dst = gc__strdup(src);
	return *dst ? 0 : GC_ENOMEM;
}

GC_EXTERN int gc_task_copy(gc_task *dst, const gc_task *src, gc_error *err)
{
	gc_task tmp;
	int rc = 0;
	if (!dst || !src)
		return gc__seterr(err, GC_EINVAL, "gc_task_copy: NULL task");
	tmp = *src;
	tmp.task_id = tmp.name = tmp.command = tmp.cron = tmp.remark =
		tmp.client_ip = NULL;
	tmp.extra = NULL;
	rc |= dup_field(&tmp.task_id, src->task_id);
	rc |= dup_field(&tmp.name, src->name);
	rc |= dup_field(&tmp.command, src->command);
	rc |= dup_field(&tmp.cron, src->cron);
	rc |= dup_field(&tmp.remark, src->remark);
	rc |= dup_field(&tmp.client_ip, src->client_ip);
	if (src->extra)
		for (size_t i = 0; !rc && i < src->extra->n; i++)
			rc = extra_add(&tmp.extra, src->extra->items[i].key,
				       strlen(src->extra->items[i].key),
				       src->extra->items[i].val,
				       strlen(src->extra->items[i].val));
	if (rc) {
		gc_task_clear(&tmp);
		return gc__seterr(err, GC_ENOMEM, "task copy: out of memory");
	}
	if (dst != src)
		gc_task_clear(dst);
	*dst = tmp;
	return 0;
}

/* Known fields from cJSON; unknown ones are left to the caller. */
static int task_known_from_cjson(gc_task *t, const cJSON *obj,
				 const char *where, gc_error *err)
{
	const cJSON *v;
	int rc;
	cJSON_ArrayForEach(v, obj)
	{
		const struct task_field *f;
		char *base = (char *)t;
		if (!v->string || !(f = task_field_find(v->string)))
			continue;
		switch (f->type) {
		case F_STR:
			rc = json_string(v, where, f->name,
					 (char **)(void *)(base + f->off), err);
			break;
		case F_I64:
			rc = json_int64(v, where, f->name,
					(int64_t *)(void *)(base + f->off), err);
			break;
		default:
			rc = json_int(v, where, f->name,
				      (int *)(void *)(base + f->off), err);
		}
		if (rc)
			return rc;
	}
	/* strings absent from the JSON read as "" */
	for (size_t i = 0; i < GC__ARRAY_LEN(task_fields); i++) {
		char **s = (char **)(void *)((char *)t + task_fields[i].off);
		if (task_fields[i].type == F_STR && !*s && !(*s = gc__strdup("")))
			return gc__seterr(err, GC_ENOMEM, "%s: out of memory",
					  where);
	}
	return 0;
}

int gc__task_from_cjson(gc_task *t, const cJSON *obj, const char *where,
			gc_error *err)
{
	gc_task tmp = GC_TASK_INIT;
	const cJSON *v;
	int rc;
	if (!cJSON_IsObject(obj))
		return gc__seterr(err, GC_EINVAL, "%s: expected an object, got %s",
				  where, json_type_name(obj));
	if ((rc = task_known_from_cjson(&tmp, obj, where, err)))
		goto fail;
	cJSON_ArrayForEach(v, obj)
	{
		gc__buf k = GC__BUF_INIT;
		char *val;
		if (!v->string || task_field_find(v->string))
			continue;
		val = cJSON_PrintUnformatted(v);
		rc = val ? json_str(&k, v->string) : GC_ENOMEM;
		if (!rc)
			rc = extra_add(&tmp.extra, k.data, k.len, val,
				       strlen(val));
		gc__buf_free(&k);
		free(val);
		if (rc) {
			gc__seterr(err, rc, "%s: out of memory", where);
			goto fail;
		}
	}
	gc_task_clear(t);
	*t = tmp;
	return 0;
fail:
	gc_task_clear(&tmp);
	return rc;
}

static int collect_unknown(const raw_member *m, void *arg)
{
	gc_task *t = arg;
	char key[64];
	raw_key(m, key, sizeof(key));
	if (key[0] && task_field_find(key))
		return 0;
	return extra_add(&t->extra, m->key, m->key_len, m->val, m->val_len);
}

GC_EXTERN int gc_task_from_json(gc_task *t, const char *json, size_t len,
				gc_error *err)
{
	gc_task tmp = GC_TASK_INIT;
	cJSON *root;
	int rc;
	if (!t)
		return gc__seterr(err, GC_EINVAL, "task: NULL task");
	if (!(root = parse_json(json, len, "task", NULL, err)))
		return err ? err->code : GC_EINVAL;
	rc = task_known_from_cjson(&tmp, root, "task", err);
	cJSON_Delete(root);
	if (!rc) {
		/* cJSON skips a UTF-8 byte order mark; so does the scan */
		size_t bom = len >= 3 && !memcmp(json, "\xef\xbb\xbf", 3) ? 3 : 0;
		rc = scan_members(json + bom, json + len, collect_unknown, &tmp);
		if (rc)
			gc__seterr(err, rc, "task: %s",
				   rc == GC_ENOMEM ? "out of memory"
						   : "invalid JSON (a raw control "
						     "character in a string)");
	}
	if (rc) {
		gc_task_clear(&tmp);
		return rc;
	}
	gc_task_clear(t);
	*t = tmp;
	return 0;
}

int gc__task_json_append(gc__buf *b, const gc_task *t)
{
	int rc = 0;
	rc |= gc__buf_puts(b, "{\"task_id\":");
	rc |= json_str(b, t->task_id);
	rc |= gc__buf_puts(b, ",\"name\":");
	rc |= json_str(b, t->name);
	rc |= gc__buf_printf(b, ",\"project_id\":%" PRId64 ",\"command\":",
			     t->project_id);
	rc |= json_str(b, t->command);
	rc |= gc__buf_puts(b, ",\"cron\":");
	rc |= json_str(b, t->cron);
	rc |= gc__buf_puts(b, ",\"remark\":");
	rc |= json_str(b, t->remark);
	rc |= gc__buf_printf(b,
			     ",\"timeout\":%" PRId64 ",\"create_time\":%" PRId64
			     ",\"status\":%d,\"is_running\":%d,\"noseize\":%d,"
			     "\"exclusion\":%d,\"client_ip\":",
			     t->timeout, t->create_time, t->status,
			     t->is_running, t->noseize, t->exclusion);
	rc |= json_str(b, t->client_ip);
	if (t->extra)
		for (size_t i = 0; i < t->extra->n; i++)
			rc |= gc__buf_printf(b, ",%s:%s", t->extra->items[i].key,
					     t->extra->items[i].val);
	rc |= gc__buf_puts(b, "}");
	return rc ? GC_ENOMEM : 0;
}

GC_EXTERN char *gc_task_to_json(const gc_task *t)
{
	gc__buf b = GC__BUF_INIT;
	if (!t || gc__task_json_append(&b, t)) {
		gc__buf_free(&b);
		return NULL;
	}
	return gc__buf_detach(&b);
}

cJSON *gc__task_to_cjson(const gc_task *t)
{
	char *s = gc_task_to_json(t);
	cJSON *o = s ? cJSON_Parse(s) : NULL;
	free(s);
	return o;
}

GC_EXTERN int gc_task_id_valid(const char *id)
{
	size_t n;
	if (!id || !*id)
		return 0;
	n = strlen(id);
	if (n > GC_TASK_ID_MAX || strcmp(id, "t_scheduler") == 0 ||
	    strcmp(id, "t_status") == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)id[i];
		if (!(isalnum(c) && c < 0x80) && c != '.' && c != '_' &&
		    c != '-')
			return 0;
	}
	return 1;
}

static void problem(gc__buf *b, const char *fmt, ...) GC__PRINTF(2, 3);
static void problem(gc__buf *b, const char *fmt, ...)
{
	va_list ap;
	if (b->len)
		gc__buf_puts(b, "; ");
	va_start(ap, fmt);
	gc__buf_vprintf(b, fmt, ap);
	va_end(ap);
}

static int blank(const char *s)
{
	if (!s)
		return 1;
	for (; *s; s++)
		if (!isspace((unsigned char)*s))
			return 0;
	return 1;
}

GC_EXTERN int gc_task_validate(const gc_task *t, gc_error *err)
{
	gc__buf b = GC__BUF_INIT;
	if (!t)
		return gc__seterr(err, GC_EINVAL, "task: NULL task");
	if (t->task_id && *t->task_id && !gc_task_id_valid(t->task_id))
		problem(&b,
			"task_id: \"%.40s\" cannot be used in a key (1-%d of "
			"A-Z a-z 0-9 . _ -, not t_scheduler/t_status)",
			t->task_id, GC_TASK_ID_MAX);
	if (t->project_id <= 0)
		problem(&b, "project_id: must be a positive integer (got %" PRId64
			    ")",
			t->project_id);
	if (blank(t->name))
		problem(&b, "name: must not be empty");
	if (blank(t->command))
		problem(&b, "command: must not be empty");
	if (blank(t->cron)) {
		problem(&b, "cron: must not be empty");
	} else {
		gc_cron *c = NULL;
		gc_error cerr = {0, ""};
		if (gc_cron_parse(&c, t->cron, strlen(t->cron), &cerr))
			problem(&b, "cron: %s", cerr.msg);
		gc_cron_free(c);
	}
	if (t->timeout < 0)
		problem(&b,
			"timeout: must be 0 (none) or a number of seconds (got "
			"%" PRId64 ")",
			t->timeout);
	if (t->status != 0 && t->status != 1)
		problem(&b, "status: must be 1 (scheduled) or 0 (paused) (got %d)",
			t->status);
	if (t->noseize != 0 && t->noseize != 1)
		problem(&b, "noseize: must be 0 or 1 (got %d)", t->noseize);
	if (t->exclusion != 0 && t->exclusion != 1)
		problem(&b, "exclusion: must be 0 or 1 (got %d)", t->exclusion);
	if (b.len) {
		gc__seterr(err, GC_EINVAL, "invalid task: %s", b.data);
		gc__buf_free(&b);
		return GC_EINVAL;
	}
	gc__buf_free(&b);
	return 0;
}

/* The original's snowflake layout (holdno/snowFlakeByGo): milliseconds
 * since 2018-05-07T15:05:33Z << 22 | worker(10 bits) << 12 | sequence(12).
 * Without a shared worker/sequence we fill the low 22 bits at random. */
#define GC_SNOWFLAKE_EPOCH_MS INT64_C(1525705533000)

GC_EXTERN int gc_task_id_new(char out[GC_TASK_ID_BUF], gc_error *err)
{
	uint32_t rnd;
	int64_t ms = gc__wall_ns() / 1000000 - GC_SNOWFLAKE_EPOCH_MS;
	ssize_t n;
	out[0] = '\0';
	do
		n = getrandom(&rnd, sizeof(rnd), 0);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(rnd))
		return gc__seterr_errno(err, GC_ESYS, errno, "task id: getrandom");
	if (ms < 0)
		ms = 0;
	snprintf(out, GC_TASK_ID_BUF, "%" PRId64,
		 (int64_t)((uint64_t)ms << 22 | (rnd & 0x3fffff)));
	return 0;
}

GC_EXTERN int gc_task_next_fire(const gc_task *t, int64_t from_unix,
				int64_t *next_unix, gc_error *err)
{
	gc_cron *c = NULL;
	int rc;
	if (!t || !t->cron || !next_unix)
		return gc__seterr(err, GC_EINVAL, "next fire: no cron expression");
	rc = gc_cron_parse(&c, t->cron, strlen(t->cron), err);
	if (rc)
		return rc;
	/* next_n tells "no more fire times" apart from the instant 0 */
	if (gc_cron_next_n(c, from_unix, GC_CRON_LOCAL, next_unix, 1) == 1)
		rc = 0;
	else
		rc = gc__seterr(err, GC_ENOTFOUND,
				"cron \"%.80s\" never fires after %" PRId64,
				t->cron, from_unix);
	gc_cron_free(c);
	return rc;
}

/* ----------------------------------------------------------------- keys */

#define GC_DEFAULT_PREFIX "/gopher_cron"

static size_t prefix_len(const char *prefix)
{
	size_t n = strlen(prefix);
	while (n > 0 && prefix[n - 1] == '/')
		n--;
	return n;
}

static int part_valid(const char *s, size_t n)
{
	if (n == 0 || n >= GC_KEY_PART_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f ||
		    s[i] == '/')
			return 0;
	return 1;
}

static int tid_valid_n(const char *s, size_t n)
{
	char buf[GC_TASK_ID_MAX + 1];
	if (n == 0 || n > GC_TASK_ID_MAX)
		return 0;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return gc_task_id_valid(buf);
}

/* Build "P/<fmt...>" where `fmt` holds %s for validated parts. */
static char *key_build(const char *prefix, const char *fmt, ...)
	GC__PRINTF(2, 3);
static char *key_build(const char *prefix, const char *fmt, ...)
{
	gc__buf b = GC__BUF_INIT;
	va_list ap;
	int rc;
	if (!prefix)
		prefix = GC_DEFAULT_PREFIX;
	rc = gc__buf_append(&b, prefix, prefix_len(prefix));
	rc |= gc__buf_puts(&b, "/");
	va_start(ap, fmt);
	rc |= gc__buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (rc) {
		gc__buf_free(&b);
		return NULL;
	}
	return gc__buf_detach(&b);
}

#define PID_OK(pid) ((pid) > 0)
#define TID_OK(tid) gc_task_id_valid(tid)
#define PART_OK(s) ((s) && part_valid((s), strlen(s)))

GC_EXTERN char *gc_key_task(const char *prefix, int64_t pid, const char *tid)
{
	if (!PID_OK(pid) || !TID_OK(tid))
		return NULL;
	return key_build(prefix, "%" PRId64 "/%s", pid, tid);
}

GC_EXTERN char *gc_key_run_now(const char *prefix, int64_t pid,
			       const char *tid)
{
	if (!PID_OK(pid) || !TID_OK(tid))
		return NULL;
	return key_build(prefix, "%" PRId64 "/t_scheduler/%s", pid, tid);
}

GC_EXTERN char *gc_key_status(const char *prefix, int64_t pid,
			      const char *tid)
{
	if (!PID_OK(pid) || !TID_OK(tid))
		return NULL;
	return key_build(prefix, "%" PRId64 "/%s/t_status", pid, tid);
}

GC_EXTERN char *gc_key_lock(const char *prefix, int64_t pid, const char *tid)
{
	if (!PID_OK(pid) || !TID_OK(tid))
		return NULL;
	return key_build(prefix, "lock/%" PRId64 "/%s", pid, tid);
}

GC_EXTERN char *gc_key_claim(const char *prefix, int64_t pid,
			     const char *tid, int64_t plan_unix)
{
	if (!PID_OK(pid) || !TID_OK(tid) || plan_unix < 0)
		return NULL;
	return key_build(prefix, "lock/%" PRId64 "/%s/%" PRId64, pid, tid,
			 plan_unix);
}

GC_EXTERN char *gc_key_kill(const char *prefix, int64_t pid, const char *tid)
{
	if (!PID_OK(pid) || !TID_OK(tid))
		return NULL;
	return key_build(prefix, "kill/%" PRId64 "/%s", pid, tid);
}

GC_EXTERN char *gc_key_register(const char *prefix, int64_t pid,
				const char *ip)
{
	if (!PID_OK(pid) || !PART_OK(ip))
		return NULL;
	return key_build(prefix, "register/%" PRId64 "/%s", pid, ip);
}

GC_EXTERN char *gc_key_agent_cmd(const char *prefix, const char *ip,
				 const char *command)
{
	if (!PART_OK(ip) || !PART_OK(command))
		return NULL;
	return key_build(prefix, "agent/%s/%s", ip, command);
}

GC_EXTERN char *gc_key_project_prefix(const char *prefix, int64_t pid)
{
	if (!PID_OK(pid))
		return NULL;
	return key_build(prefix, "%" PRId64 "/", pid);
}

GC_EXTERN char *gc_key_run_now_prefix(const char *prefix, int64_t pid)
{
	if (!PID_OK(pid))
		return NULL;
	return key_build(prefix, "%" PRId64 "/t_scheduler/", pid);
}

GC_EXTERN char *gc_key_kill_prefix(const char *prefix, int64_t pid)
{
	if (!PID_OK(pid))
		return NULL;
	return key_build(prefix, "kill/%" PRId64 "/", pid);
}

GC_EXTERN char *gc_key_register_prefix(const char *prefix, int64_t pid)
{
	if (!PID_OK(pid))
		return NULL;
	return key_build(prefix, "register/%" PRId64 "/", pid);
}

GC_EXTERN char *gc_key_agent_prefix(const char *prefix, const char *ip)
{
	if (!PART_OK(ip))
		return NULL;
	return key_build(prefix, "agent/%s/", ip);
}

GC_EXTERN char *gc_key_claim_prefix(const char *prefix, int64_t pid,
				    const char *tid)
{
	if (!PID_OK(pid) || !TID_OK(tid))
		return NULL;
	return key_build(prefix, "lock/%" PRId64 "/%s/", pid, tid);
}

/* Canonical non-negative decimal (no sign, no leading zeros). */
static int canon_int(const char *s, size_t n, int64_t *out)
{
	int64_t v = 0;
	if (n == 0 || n > 18 || (n > 1 && s[0] == '0'))
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 1;
}

static void copy_part(char *dst, const char *s, size_t n)
{
	memcpy(dst, s, n);
	dst[n] = '\0';
}

GC_EXTERN gc_key_kind gc_key_parse(const char *prefix, const char *key,
				   size_t len, gc_key_info *out)
{
	const char *seg[5];
	size_t seglen[5], nseg = 0, plen;
	const char *p, *end;
	gc_key_info info;
	int64_t pid = 0;
	memset(&info, 0, sizeof(info));
	if (out)
		*out = info;
	if (!key || !out)
		return GC_KEY_UNKNOWN;
	if (!prefix)
		prefix = GC_DEFAULT_PREFIX;
	plen = prefix_len(prefix);
	if (len < plen + 1 || memcmp(key, prefix, plen) != 0 || key[plen] != '/')
		return GC_KEY_UNKNOWN;
	p = key + plen + 1;
	end = key + len;
	while (p <= end) {
		const char *q = memchr(p, '/', (size_t)(end - p));
		if (!q)
			q = end;
		if (nseg == 5 || q == p)
			return GC_KEY_UNKNOWN; /* too deep, or an empty part */
		seg[nseg] = p;
		seglen[nseg++] = (size_t)(q - p);
		if (!part_valid(seg[nseg - 1], seglen[nseg - 1]))
			return GC_KEY_UNKNOWN;
		p = q + 1;
	}
#define SEG_IS(i, lit) (seglen[i] == sizeof(lit) - 1 && !memcmp(seg[i], lit, seglen[i]))
	if (nseg >= 2 && canon_int(seg[0], seglen[0], &pid) && pid > 0) {
		info.project_id = pid;
		if (nseg == 2 && tid_valid_n(seg[1], seglen[1])) {
			info.kind = GC_KEY_TASK;
			copy_part(info.task_id, seg[1], seglen[1]);
		} else if (nseg == 3 && SEG_IS(1, "t_scheduler") &&
			   tid_valid_n(seg[2], seglen[2])) {
			info.kind = GC_KEY_RUN_NOW;
			copy_part(info.task_id, seg[2], seglen[2]);
		} else if (nseg == 3 && SEG_IS(2, "t_status") &&
			   tid_valid_n(seg[1], seglen[1])) {
			info.kind = GC_KEY_STATUS;
			copy_part(info.task_id, seg[1], seglen[1]);
		}
	} else if (nseg >= 3 && SEG_IS(0, "agent")) {
		if (nseg == 3) {
			info.kind = GC_KEY_AGENT_CMD;
			copy_part(info.ip, seg[1], seglen[1]);
			copy_part(info.command, seg[2], seglen[2]);
		}
	} else if (nseg >= 3 && canon_int(seg[1], seglen[1], &pid) && pid > 0) {
		info.project_id = pid;
		if (SEG_IS(0, "register")) {
			if (nseg == 3) {
				info.kind = GC_KEY_REGISTER;
				copy_part(info.ip, seg[2], seglen[2]);
			}
		} else if (tid_valid_n(seg[2], seglen[2])) {
			copy_part(info.task_id, seg[2], seglen[2]);
			if (SEG_IS(0, "lock") && nseg == 3)
				info.kind = GC_KEY_LOCK;
			else if (SEG_IS(0, "lock") && nseg == 4 &&
				 canon_int(seg[3], seglen[3], &info.plan_unix))
				info.kind = GC_KEY_CLAIM;
			else if (SEG_IS(0, "kill") && nseg == 3)
				info.kind = GC_KEY_KILL;
			else if (SEG_IS(0, "update") && nseg == 3)
				info.kind = GC_KEY_UPDATE;
		}
	}
#undef SEG_IS
	if (info.kind == GC_KEY_UNKNOWN)
		memset(&info, 0, sizeof(info));
	*out = info;
	return info.kind;
}

GC_EXTERN const char *gc_key_kind_name(gc_key_kind kind)
{
	switch (kind) {
	case GC_KEY_TASK: return "task";
	case GC_KEY_STATUS: return "status";
	case GC_KEY_RUN_NOW: return "run_now";
	case GC_KEY_KILL: return "kill";
	case GC_KEY_LOCK: return "lock";
	case GC_KEY_CLAIM: return "claim";
	case GC_KEY_REGISTER: return "register";
	case GC_KEY_AGENT_CMD: return "agent_cmd";
	case GC_KEY_UPDATE: return "update";
	default: return "unknown";
	}
}

/* ----------------------------------------------------------- exit texts */

/* Go's names for Linux signals (syscall.signals), which os/exec prints. */
static const char *go_signal_name(int sig)
{
	switch (sig) {
	case SIGHUP: return "hangup";
	case SIGINT: return "interrupt";
	case SIGQUIT: return "quit";
	case SIGILL: return "illegal instruction";
	case SIGTRAP: return "trace/breakpoint trap";
	case SIGABRT: return "aborted";
	case SIGBUS: return "bus error";
	case SIGFPE: return "floating point exception";
	case SIGKILL: return "killed";
	case SIGUSR1: return "user defined signal 1";
	case SIGSEGV: return "segmentation fault";
	case SIGUSR2: return "user defined signal 2";
	case SIGPIPE: return "broken pipe";
	case SIGALRM: return "alarm clock";
	case SIGTERM: return "terminated";
#ifdef SIGSTKFLT
	case SIGSTKFLT: return "stack fault";
#endif
	case SIGCHLD: return "child exited";
	case SIGCONT: return "continued";
	case SIGSTOP: return "stopped (signal)";
	case SIGTSTP: return "stopped";
	case SIGTTIN: return "stopped (tty input)";
	case SIGTTOU: return "stopped (tty output)";
	case SIGURG: return "urgent I/O condition";
	case SIGXCPU: return "CPU time limit exceeded";
	case SIGXFSZ: return "file size limit exceeded";
	case SIGVTALRM: return "virtual timer expired";
	case SIGPROF: return "profiling timer expired";
	case SIGWINCH: return "window changed";
	case SIGIO: return "I/O possible";
#ifdef SIGPWR
	case SIGPWR: return "power failure";
#endif
	case SIGSYS: return "bad system call";
	default: return NULL;
	}
}

GC_EXTERN void gc_exit_text(int st, char out[GC_EXIT_TEXT_MAX])
{
	if (WIFEXITED(st)) {
		int code = WEXITSTATUS(st);
		if (code == 0)
			out[0] = '\0';
		else if (code == 127)
			snprintf(out, GC_EXIT_TEXT_MAX, "%s", GC_RUN_ERR_NOT_FOUND);
		else
			snprintf(out, GC_EXIT_TEXT_MAX, "exit status %d", code);
	} else if (WIFSIGNALED(st)) {
		const char *name = go_signal_name(WTERMSIG(st));
		const char *core = WCOREDUMP(st) ? " (core dumped)" : "";
		if (name)
			snprintf(out, GC_EXIT_TEXT_MAX, "signal: %s%s", name, core);
		else
			snprintf(out, GC_EXIT_TEXT_MAX, "signal: signal %d%s",
				 WTERMSIG(st), core);
	} else {
		snprintf(out, GC_EXIT_TEXT_MAX, "unknown wait status %d", st);
	}
}

GC_EXTERN char *gc_run_id(int64_t pid, const char *tid, int64_t plan_unix,
			  const char *ip)
{
	return gc__sprintf("%" PRId64 "-%s-%" PRId64 "-%s", pid, tid ? tid : "",
			   plan_unix, ip ? ip : "");
}

/* -------------------------------------------------------------- results */

GC_EXTERN void gc_result_init(gc_result *r)
{
	if (r)
		memset(r, 0, sizeof(*r));
}

GC_EXTERN void gc_result_clear(gc_result *r)
{
	if (!r)
		return;
	gc_task_clear(&r->task);
	free(r->output);
	free(r->error);
	free(r->run_id);
	memset(r, 0, sizeof(*r));
}

GC_EXTERN int gc_result_copy(gc_result *dst, const gc_result *src,
			     gc_error *err)
{
	gc_result tmp;
	int rc;
	if (!dst || !src)
		return gc__seterr(err, GC_EINVAL, "result copy: NULL result");
	tmp = *src;
	memset(&tmp.task, 0, sizeof(tmp.task));
	tmp.output = tmp.error = tmp.run_id = NULL;
	if ((rc = gc_task_copy(&tmp.task, &src->task, err)))
		return rc;
	if (src->output && !(tmp.output = gc__strndup(src->output,
						      src->output_len)))
		rc = GC_ENOMEM;
	rc |= dup_field(&tmp.error, src->error);
	rc |= dup_field(&tmp.run_id, src->run_id);
	if (rc) {
		gc_result_clear(&tmp);
		return gc__seterr(err, GC_ENOMEM, "result copy: out of memory");
	}
	if (dst != src)
		gc_result_clear(dst);
	*dst = tmp;
	return 0;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

GC_EXTERN char *gc_result_to_json(const gc_result *r)
{
	gc__buf b = GC__BUF_INIT;
	char t[48];
	int rc = 0;
	if (!r)
		return NULL;
	rc |= gc__buf_puts(&b, "{\"execute_info\":{\"task\":");
	rc |= gc__task_json_append(&b, &r->task);
	gc__rfc3339_go(r->plan_time_ns, t);
	rc |= gc__buf_printf(&b, ",\"plan_time\":\"%s\"", t);
	gc__rfc3339_go(r->real_time_ns, t);
	rc |= gc__buf_printf(&b, ",\"real_time\":\"%s\"},\"output\":", t);
	rc |= gc__json_gostr(&b, r->output ? r->output : "",
			     r->output ? r->output_len : 0);
	rc |= gc__buf_puts(&b, ",\"error\":");
	rc |= json_str(&b, r->error);
	gc__rfc3339_go(r->start_time_ns, t);
	rc |= gc__buf_printf(&b, ",\"start_time\":\"%s\"", t);
	gc__rfc3339_go(r->end_time_ns, t);
	rc |= gc__buf_printf(&b, ",\"end_time\":\"%s\",\"run_id\":", t);
	rc |= json_str(&b, r->run_id);
	rc |= gc__buf_printf(&b, ",\"plan_unix\":%" PRId64 "}",
			     floor_div(r->plan_time_ns, 1000000000));
	if (rc) {
		gc__buf_free(&b);
		return NULL;
	}
	return gc__buf_detach(&b);
}

static int json_time(const cJSON *obj, const char *name, const char *where,
		     int64_t *out, gc_error *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
	if (!v || cJSON_IsNull(v)) {
		*out = 0;
		return 0;
	}
	if (!cJSON_IsString(v))
		return gc__seterr(err, GC_EINVAL,
				  "%s: field \"%s\": expected an RFC3339 time "
				  "string, got %s",
				  where, name, json_type_name(v));
	if (gc__parse_rfc3339_go(v->valuestring, out))
		return gc__seterr(err, GC_EINVAL,
				  "%s: field \"%s\": \"%.40s\" is not an RFC3339 "
				  "time",
				  where, name, v->valuestring);
	return 0;
}

struct find_member {
	const char *name;
	const char *val;
	size_t val_len;
};

static int find_member_cb(const raw_member *m, void *arg)
{
	struct find_member *f = arg;
	char key[64];
	raw_key(m, key, sizeof(key));
	if (!f->val && strcmp(key, f->name) == 0) { /* first, as cJSON */
		f->val = m->val;
		f->val_len = m->val_len;
	}
	return 0;
}

/* Raw span of member `name` of the object at [p, end). */
static int raw_find(const char *p, const char *end, const char *name,
		    const char **val, size_t *val_len)
{
	struct find_member f = {name, NULL, 0};
	if (scan_members(p, end, find_member_cb, &f) || !f.val)
		return GC_ENOTFOUND;
	*val = f.val;
	*val_len = f.val_len;
	return 0;
}

/* Replace r->output by the whole text of the body's "output" member when
 * it holds \u0000. */
static int output_with_nuls(gc_result *r, const char *json, size_t len,
			    gc_error *err)
{
	size_t bom = len >= 3 && !memcmp(json, "\xef\xbb\xbf", 3) ? 3 : 0;
	const char *raw;
	size_t rlen, n;
	char *full;
	int rc;
	if (raw_find(json + bom, json + len, "output", &raw, &rlen) != 0 ||
	    !memmem(raw, rlen, "\\u0000", 6))
		return 0;
	if ((rc = gc__json_unquote(raw, rlen, &full, &n)))
		return gc__seterr(err, rc, "result: field \"output\": %s",
				  rc == GC_ENOMEM ? "out of memory"
						  : "invalid string");
	free(r->output);
	r->output = full;
	r->output_len = n;
	return 0;
}

GC_EXTERN int gc_result_from_json(gc_result *r, const char *json, size_t len,
				  gc_error *err)
{
	static const char *where = "result";
	gc_result tmp = GC_RESULT_INIT;
	const cJSON *ei, *v;
	const char *traw, *eiraw;
	size_t tlen, eilen;
	cJSON *root;
	int rc;
	int64_t plan_unix = 0;
	bool have_plan_unix = false;
	if (!r)
		return gc__seterr(err, GC_EINVAL, "result: NULL result");
	if (!(root = parse_json(json, len, where, "output", err)))
		return err ? err->code : GC_EINVAL;
	ei = cJSON_GetObjectItemCaseSensitive(root, "execute_info");
	if (!cJSON_IsObject(ei)) {
		rc = gc__seterr(err, GC_EINVAL,
				"result: field \"execute_info\": expected an "
				"object, got %s",
				ei ? json_type_name(ei) : "nothing");
		goto out;
	}
	v = cJSON_GetObjectItemCaseSensitive(ei, "task");
	if (!cJSON_IsObject(v)) {
		rc = gc__seterr(err, GC_EINVAL,
				"result: field \"execute_info.task\": expected "
				"an object, got %s",
				v ? json_type_name(v) : "nothing");
		goto out;
	}
	/* decode the task from its own text so unknown members stay exact */
	if (raw_find(json, json + len, "execute_info", &eiraw, &eilen) == 0 &&
	    raw_find(eiraw, eiraw + eilen, "task", &traw, &tlen) == 0)
		rc = gc_task_from_json(&tmp.task, traw, tlen, err);
	else
		rc = gc__task_from_cjson(&tmp.task, v, "execute_info.task", err);
	if (rc) {
		gc__err_prefix(err, "result: execute_info");
		goto out;
	}
	if ((rc = json_time(ei, "plan_time", "result.execute_info",
			    &tmp.plan_time_ns, err)) ||
	    (rc = json_time(ei, "real_time", "result.execute_info",
			    &tmp.real_time_ns, err)) ||
	    (rc = json_time(root, "start_time", where, &tmp.start_time_ns,
			    err)) ||
	    (rc = json_time(root, "end_time", where, &tmp.end_time_ns, err)))
		goto out;
	v = cJSON_GetObjectItemCaseSensitive(root, "output");
	if ((rc = json_string(v, where, "output", &tmp.output, err)))
		goto out;
	tmp.output_len = strlen(tmp.output);
	/* Output may hold NUL bytes (\u0000), which cJSON's copy stops at:
	 * decode it again from its text, whole. */
	if (cJSON_IsString(v) && (rc = output_with_nuls(&tmp, json, len, err)))
		goto out;
	v = cJSON_GetObjectItemCaseSensitive(root, "error");
	if ((rc = json_string(v, where, "error", &tmp.error, err)))
		goto out;
	v = cJSON_GetObjectItemCaseSensitive(root, "run_id");
	if ((rc = json_string(v, where, "run_id", &tmp.run_id, err)))
		goto out;
	v = cJSON_GetObjectItemCaseSensitive(root, "plan_unix");
	if (v && !cJSON_IsNull(v)) {
		if ((rc = json_int64(v, where, "plan_unix", &plan_unix, err)))
			goto out;
		/* it becomes nanoseconds below: keep that in int64 range */
		if (plan_unix > INT64_MAX / 1000000000 ||
		    plan_unix < INT64_MIN / 1000000000) {
			rc = gc__seterr(err, GC_EINVAL,
					"result: plan_unix %" PRId64
					" is out of range",
					plan_unix);
			goto out;
		}
		have_plan_unix = true;
	}
	if (have_plan_unix && tmp.plan_time_ns &&
	    floor_div(tmp.plan_time_ns, 1000000000) != plan_unix) {
		rc = gc__seterr(err, GC_EINVAL,
				"result: plan_unix %" PRId64
				" disagrees with plan_time",
				plan_unix);
		goto out;
	}
	if (have_plan_unix && !tmp.plan_time_ns)
		tmp.plan_time_ns = plan_unix * 1000000000;
	rc = 0;
out:
	cJSON_Delete(root);
	if (rc) {
		gc_result_clear(&tmp);
		return rc;
	}
	gc_result_clear(r);
	*r = tmp;
	return 0;
}

/* -------------------------------------------------------------- warning */

GC_EXTERN void gc_warning_clear(gc_warning *w)
{
	if (!w)
		return;
	free(w->data);
	free(w->type);
	free(w->agent_ip);
	free(w->task_name);
	memset(w, 0, sizeof(*w));
}

GC_EXTERN char *gc_warning_to_json(const gc_warning *w)
{
	gc__buf b = GC__BUF_INIT;
	int rc = 0;
	if (!w)
		return NULL;
	rc |= gc__buf_puts(&b, "{\"data\":");
	rc |= json_str(&b, w->data);
	rc |= gc__buf_puts(&b, ",\"type\":");
	rc |= json_str(&b, w->type);
	rc |= gc__buf_puts(&b, ",\"agent_ip\":");
	rc |= json_str(&b, w->agent_ip);
	rc |= gc__buf_puts(&b, ",\"task_name\":");
	rc |= json_str(&b, w->task_name);
	rc |= gc__buf_printf(&b, ",\"project_id\":%" PRId64 "}", w->project_id);
	if (rc) {
		gc__buf_free(&b);
		return NULL;
	}
	return gc__buf_detach(&b);
}

GC_EXTERN int gc_warning_from_json(gc_warning *w, const char *json,
				   size_t len, gc_error *err)
{
	static const char *where = "warning";
	gc_warning tmp = GC_WARNING_INIT;
	cJSON *root;
	int rc;
	if (!w)
		return gc__seterr(err, GC_EINVAL, "warning: NULL warning");
	if (!(root = parse_json(json, len, where, NULL, err)))
		return err ? err->code : GC_EINVAL;
	if ((rc = json_string(cJSON_GetObjectItemCaseSensitive(root, "data"),
			      where, "data", &tmp.data, err)) ||
	    (rc = json_string(cJSON_GetObjectItemCaseSensitive(root, "type"),
			      where, "type", &tmp.type, err)) ||
	    (rc = json_string(cJSON_GetObjectItemCaseSensitive(root,
							       "agent_ip"),
			      where, "agent_ip", &tmp.agent_ip, err)) ||
	    (rc = json_string(cJSON_GetObjectItemCaseSensitive(root,
							       "task_name"),
			      where, "task_name", &tmp.task_name, err)))
		goto out;
	{
		const cJSON *v =
			cJSON_GetObjectItemCaseSensitive(root, "project_id");
		if (v)
			rc = json_int64(v, where, "project_id", &tmp.project_id,
					err);
	}
out:
	cJSON_Delete(root);
	if (rc) {
		gc_warning_clear(&tmp);
		return rc;
	}
	gc_warning_clear(w);
	*w = tmp;
	return 0;
}

GC_EXTERN int gc_warning_for_result(gc_warning *w, const gc_result *r,
				    const char *agent_ip, gc_error *err)
{
	gc_warning tmp = GC_WARNING_INIT;
	if (!w || !r)
		return gc__seterr(err, GC_EINVAL, "warning: NULL argument");
	tmp.data = gc__strdup(r->error ? r->error : "");
	tmp.type = gc__strdup("task");
	tmp.agent_ip = gc__strdup(agent_ip ? agent_ip : "");
	tmp.task_name = gc__strdup(r->task.name ? r->task.name : "");
	tmp.project_id = r->task.project_id;
	if (!tmp.data || !tmp.type || !tmp.agent_ip || !tmp.task_name) {
		gc_warning_clear(&tmp);
		return gc__seterr(err, GC_ENOMEM, "warning: out of memory");
	}
	gc_warning_clear(w);
	*w = tmp;
	return 0;
}
