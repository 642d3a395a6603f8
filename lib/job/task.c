/* The task model: TaskInfo decoding and encoding (byte-compatible with
 * GopherCron 1.10, unknown members kept), copies, validation, new task ids
 * and the next fire time. */
#include "job/job_internal.h"

#include <gophercron/cron.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

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

int gc__job_strdup(char **dst, const char *src)
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
	rc |= gc__job_strdup(&tmp.task_id, src->task_id);
	rc |= gc__job_strdup(&tmp.name, src->name);
	rc |= gc__job_strdup(&tmp.command, src->command);
	rc |= gc__job_strdup(&tmp.cron, src->cron);
	rc |= gc__job_strdup(&tmp.remark, src->remark);
	rc |= gc__job_strdup(&tmp.client_ip, src->client_ip);
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
			rc = gc__gojson_string(v, where, f->name,
					       (char **)(void *)(base + f->off),
					       err);
			break;
		case F_I64:
			rc = gc__gojson_int64(
			    v, where, f->name,
			    (int64_t *)(void *)(base + f->off), err);
			break;
		default:
			rc =
			    gc__gojson_int(v, where, f->name,
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
		return gc__seterr(err, GC_EINVAL,
				  "%s: expected an object, got %s", where,
				  gc__gojson_type_name(obj));
	if ((rc = task_known_from_cjson(&tmp, obj, where, err)))
		goto fail;
	cJSON_ArrayForEach(v, obj)
	{
		gc__buf k = GC__BUF_INIT;
		char *val;
		if (!v->string || task_field_find(v->string))
			continue;
		val = cJSON_PrintUnformatted(v);
		rc = val ? gc__gojson_cstr(&k, v->string) : GC_ENOMEM;
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

static int collect_unknown(const gc__gojson_member *m, void *arg)
{
	gc_task *t = arg;
	char key[64];
	gc__gojson_key(m, key, sizeof(key));
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
	if (!(root = gc__gojson_object(json, len, "task", NULL, err)))
		return err ? err->code : GC_EINVAL;
	rc = task_known_from_cjson(&tmp, root, "task", err);
	cJSON_Delete(root);
	if (!rc) {
		/* cJSON skips a UTF-8 byte order mark; so does the scan */
		size_t bom = len >= 3 && !memcmp(json, "\xef\xbb\xbf", 3) ? 3 : 0;
		rc = gc__gojson_members(json + bom, json + len, collect_unknown,
					&tmp);
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
	rc |= gc__gojson_cstr(b, t->task_id);
	rc |= gc__buf_puts(b, ",\"name\":");
	rc |= gc__gojson_cstr(b, t->name);
	rc |= gc__buf_printf(b, ",\"project_id\":%" PRId64 ",\"command\":",
			     t->project_id);
	rc |= gc__gojson_cstr(b, t->command);
	rc |= gc__buf_puts(b, ",\"cron\":");
	rc |= gc__gojson_cstr(b, t->cron);
	rc |= gc__buf_puts(b, ",\"remark\":");
	rc |= gc__gojson_cstr(b, t->remark);
	rc |= gc__buf_printf(b,
			     ",\"timeout\":%" PRId64 ",\"create_time\":%" PRId64
			     ",\"status\":%d,\"is_running\":%d,\"noseize\":%d,"
			     "\"exclusion\":%d,\"client_ip\":",
			     t->timeout, t->create_time, t->status,
			     t->is_running, t->noseize, t->exclusion);
	rc |= gc__gojson_cstr(b, t->client_ip);
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

