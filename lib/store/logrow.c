/* The task-log row as a record: its release, the row a result becomes
 * (gc_store_log_from_result: one function for the reporter's SQL sink and
 * the service's ingest endpoint, so a run reported either way is stored
 * as the same row), and the result text of a row rebuilt from a cut copy
 * (log lists over their byte budget). No database access: logs.c, the
 * operations on rows, sits above it. */
#include "store_internal.h"

#include "job/job_internal.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

void gc_store_log_clear(gc_store_log *l)
{
	if (!l)
		return;
	free(l->task_id);
	free(l->project);
	free(l->name);
	free(l->result);
	free(l->command);
	free(l->client_ip);
	free(l->run_id);
	free(l->agent);
	memset(l, 0, sizeof(*l));
}

void gc_store_logs_clear(gc_store_logs *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->count; i++)
		gc_store_log_clear(&l->items[i]);
	free(l->items);
	memset(l, 0, sizeof(*l));
}

/* The original's gc_task_log.result text, which Go's json.Marshal wrote:
 * {"result":OUTPUT,"system_error":ERROR,"error":""}
 * Go also escaped < > & as \u003c \u003e \u0026, so a row took up to six
 * bytes per byte of output (and the list reply, which quotes the text
 * again, seven): written here without those escapes. It is the same JSON
 * to every decoder, the original's included, and rows the original wrote
 * with the escapes read the same. */
static char *result_text(const char *output, size_t output_len,
			 const char *error)
{
	gc__buf b = GC__BUF_INIT;
	int rc = gc__buf_reserve(&b, output_len + strlen(error) + 48);
	rc |= gc__buf_puts(&b, "{\"result\":");
	rc |= gc__json_str(&b, output, output_len);
	rc |= gc__buf_puts(&b, ",\"system_error\":");
	rc |= gc__json_str(&b, error, strlen(error));
	rc |= gc__buf_puts(&b, ",\"error\":\"\"}");
	if (rc) {
		gc__buf_free(&b);
		return NULL;
	}
	return gc__buf_detach(&b);
}

/* s (NULL = "") capped at `limit` with the executor's rule, as a new
 * string; *len gets its length (it may hold NUL bytes). */
static char *capped_dup(const char *s, size_t slen, size_t limit, size_t *len)
{
	size_t room = slen < limit + GC__OMITTED_MARKER_MAX
			  ? slen
			  : limit + GC__OMITTED_MARKER_MAX;
	char *out = malloc(room + 1);
	if (!out)
		return NULL;
	*len = gc__output_cap(out, s ? s : "", s ? slen : 0, limit);
	return out;
}

static char *capped_str(const char *s, size_t limit)
{
	size_t len;
	return capped_dup(s, s ? strlen(s) : 0, limit, &len);
}

/* The tick a GopherCron 1.10 agent ran. Its plan_time is the task's NEXT
 * tick (filled in after the run was scheduled); its real_time is when the
 * tick fired, a few microseconds into that second, so its second is the
 * tick. Never after the start, so that plan_time <= start_time holds. */
static int64_t legacy_plan_time(const gc_result *res)
{
	int64_t start = res->start_time_ns / 1000000000;
	int64_t real = res->real_time_ns / 1000000000;
	if (res->real_time_ns <= 0 || real > start)
		return start;
	return real;
}

GC_EXTERN int gc_store_log_from_result(gc_store_log *out, const gc_result *res,
				       const char *fallback_ip,
				       const char *project_title,
				       size_t output_limit, gc_error *err)
{
	gc_store_log row;
	const char *ip;
	const gc_task *t;
	char *output, *error;
	size_t output_len;
	bool legacy;
	if (!res || !out)
		return gc__seterr(err, GC_EINVAL, "result to log row: NULL "
						  "argument");
	t = &res->task;
	legacy = !res->run_id || !*res->run_id;
	if (t->project_id <= 0 || !t->task_id || !*t->task_id)
		return gc__seterr(err, GC_EINVAL,
				  "result to log row: execute_info.task needs "
				  "project_id and task_id");
	ip = t->client_ip && *t->client_ip ? t->client_ip
					   : fallback_ip ? fallback_ip : "";
	if (strlen(ip) > GC_KEY_PART_MAX)
		return gc__seterr(err, GC_EINVAL,
				  "result to log row: execute_info.task."
				  "client_ip is longer than %d bytes",
				  GC_KEY_PART_MAX);
	if (output_limit == 0)
		output_limit = GC_EXEC_DEFAULT_OUTPUT_LIMIT;
	else if (output_limit < GC_EXEC_MIN_OUTPUT_LIMIT)
		output_limit = GC_EXEC_MIN_OUTPUT_LIMIT;
	memset(&row, 0, sizeof(row));
	row.project_id = t->project_id;
	row.task_id = gc__strdup(t->task_id);
	row.project = gc__strdup(project_title ? project_title : "");
	/* A name or command longer than a task can be did not come from a
	 * task: kept as far as a task could hold them. */
	row.name = capped_str(t->name, GC_TASK_MAX_BYTES);
	output =
	    capped_dup(res->output, res->output_len, output_limit, &output_len);
	error = capped_str(res->error, output_limit);
	row.result =
	    output && error ? result_text(output, output_len, error) : NULL;
	free(output);
	free(error);
	row.start_time = res->start_time_ns / 1000000000;
	row.end_time = res->end_time_ns / 1000000000;
	row.command = capped_str(t->command, GC_TASK_MAX_BYTES);
	row.with_error = res->error && *res->error ? 1 : 0;
	row.client_ip = gc__strdup(ip);
	row.plan_time =
	    legacy ? legacy_plan_time(res) : res->plan_time_ns / 1000000000;
	if (!legacy)
		row.run_id = gc__strdup(res->run_id);
	else
		/* A body without run_id (an original agent): derive one from
		 * what identifies the run, so a re-sent body is still
		 * recognised. */
		row.run_id = gc__sprintf("%" PRId64 "-%s-%" PRId64 "-%s-%" PRId64,
					 t->project_id, t->task_id,
					 row.plan_time, ip,
					 res->start_time_ns);
	row.agent = gc__strdup(ip);
	if (!row.task_id || !row.project || !row.name || !row.result ||
	    !row.command || !row.client_ip || !row.run_id || !row.agent) {
		gc_store_log_clear(&row);
		return gc__seterr(err, GC_ENOMEM,
				  "result to log row: out of memory");
	}
	gc_store_log_clear(out);
	*out = row;
	return 0;
}

/* -------------------------------------------------- rows cut for a list */

/* The JSON string body at p (just after its opening quote), up to its
 * closing quote, decoded into b (NULL: skipped) with gc__json_unquote, so
 * rows the original wrote (\u003c and friends) decode like ours. When the
 * piece ends first, what it holds up to its last whole escape is decoded
 * (a surrogate pair counts as one) and NULL is returned; else the position
 * after the closing quote. */
static const char *str_body(const char *p, const char *end, gc__buf *b)
{
	const char *q = p;
	while (q < end && *q != '"') {
		ptrdiff_t need = 2;
		if (*q != '\\') {
			q++;
			continue;
		}
		if (end - q >= 2 && q[1] == 'u') {
			int h =
			    end - q >= 4 ? gc__hexval((unsigned char)q[3]) : -1;
			/* \uD800-\uDBFF: its low half must come along */
			need = (q + 2 < end && (q[2] | 0x20) == 'd' && h >= 8 &&
				h <= 0xb)
				   ? 12
				   : 6;
		}
		if (end - q < need)
			break;
		q += need == 12 ? 6 : need;
	}
	if (b && q > p) {
		gc__buf quoted = GC__BUF_INIT;
		char *text = NULL;
		size_t len = 0;
		int rc = gc__buf_append(&quoted, "\"", 1) |
			 gc__buf_append(&quoted, p, (size_t)(q - p)) |
			 gc__buf_append(&quoted, "\"", 1);
		if (rc == 0)
			rc = gc__json_unquote(quoted.data, quoted.len, &text,
					      &len);
		if (rc == 0)
			rc = gc__buf_append(b, text, len);
		free(text);
		gc__buf_free(&quoted);
		if (rc)
			return NULL;
	}
	return q < end && *q == '"' ? q + 1 : NULL;
}

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

typedef struct cut_parts {
	gc__buf out, sys, err;
	bool out_whole; /* the result string ended inside the piece */
} cut_parts;

/* Members "key":"string" from p (at a key) on, into the parts; stops at
 * the end of the piece or at anything else. */
static void members(const char *p, const char *end, cut_parts *c)
{
	for (;;) {
		gc__buf key = GC__BUF_INIT, *dst;
		const char *q;
		p = skip_ws(p, end);
		if (p >= end || *p != '"')
			return;
		q = str_body(p + 1, p + 1 + 32 < end ? p + 1 + 32 : end, &key);
		dst = !q ? NULL
		      : strcmp(key.data ? key.data : "", "result") == 0
			  ? &c->out
		      : strcmp(key.data ? key.data : "", "system_error") == 0
			  ? &c->sys
		      : strcmp(key.data ? key.data : "", "error") == 0 ? &c->err
								       : NULL;
		gc__buf_free(&key);
		if (!q)
			return;
		p = skip_ws(q, end);
		if (p >= end || *p != ':')
			return;
		p = skip_ws(p + 1, end);
		if (p >= end || *p != '"')
			return;
		if (dst)
			gc__buf_reset(dst);
		q = str_body(p + 1, end, dst);
		if (!q)
			return;
		if (dst == &c->out)
			c->out_whole = true;
		p = skip_ws(q, end);
		if (p >= end || *p != ',')
			return;
		p++;
	}
}

/* The first position of s[0..n) where a token of a JSON string's body
 * starts, for a piece cut at an unknown point: a backslash after anything
 * but a backslash starts an escape; and no escape (6 bytes at most)
 * covers a position with no backslash in the 5 bytes before it. */
static size_t token_start(const char *s, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		if (s[i] == '\\' && s[i - 1] != '\\')
			return i;
		if (i >= 5 && !memchr(s + i - 5, '\\', 5)) {
			while (i < n && ((unsigned char)s[i] & 0xc0) == 0x80)
				i++; /* not inside a UTF-8 character */
			return i;
		}
	}
	return n;
}

/* The tail's members from the last "system_error" key on, and the end of
 * the output before it. */
static void tail_parts(const char *t, size_t n, cut_parts *c, gc__buf *tail_out)
{
	static const char key[] = "\"system_error\"";
	const size_t klen = sizeof(key) - 1;
	for (size_t k = n >= klen ? n - klen + 1 : 0; k-- > 0;) {
		size_t bs = 0;
		const char *q;
		if (memcmp(t + k, key, klen) != 0)
			continue;
		while (bs < k && t[k - 1 - bs] == '\\')
			bs++;
		if (bs % 2)
			continue; /* \"system_error\" inside a string */
		members(t + k, t + n, c);
		/* before the key: `"...output",` ends the result string */
		q = t + k;
		while (q > t && (q[-1] == ' ' || q[-1] == '\n' ||
				 q[-1] == '\t' || q[-1] == '\r'))
			q--;
		if (q > t && q[-1] == ',') {
			q--;
			while (q > t && (q[-1] == ' ' || q[-1] == '\n' ||
					 q[-1] == '\t' || q[-1] == '\r'))
				q--;
			if (q > t && q[-1] == '"') {
				size_t end = (size_t)(q - 1 - t);
				size_t s = token_start(t, end);
				int h0 =
				    s + 6 <= end && t[s] == '\\' &&
					    t[s + 1] == 'u'
					? gc__hexval((unsigned char)t[s + 2])
					: -1;
				int h1 =
				    h0 >= 0
					? gc__hexval((unsigned char)t[s + 3])
					: -1;
				/* the low half of a pair cut off: left out */
				if (h0 == 0xd && h1 >= 0xc)
					s += 6;
				str_body(t + s, t + end, tail_out);
			}
		}
		return;
	}
}

int gc__log_result_cut(const char *head, size_t head_len, const char *tail,
		       size_t tail_len, const char *marker, gc__buf *out)
{
	if (!marker)
		marker = "\n... [output cut] ...\n";
	cut_parts c = {GC__BUF_INIT, GC__BUF_INIT, GC__BUF_INIT, false};
	gc__buf tail_out = GC__BUF_INIT, all = GC__BUF_INIT;
	const char *p = skip_ws(head, head + head_len);
	int rc = 0;
	if (p < head + head_len && *p == '{')
		members(p + 1, head + head_len, &c);
	if (!c.out_whole) {
		/* a character the cut split: left out, not made U+FFFD */
		size_t i = c.out.len, k = 0;
		while (i > 0 && k < 3 &&
		       ((unsigned char)c.out.data[i - 1] & 0xc0) == 0x80) {
			i--;
			k++;
		}
		if (i > 0 && (unsigned char)c.out.data[i - 1] >= 0xc0) {
			unsigned char lead = (unsigned char)c.out.data[i - 1];
			size_t need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
			if (k + 1 < need)
				c.out.len = i - 1;
		}
	}
	if (tail_len)
		tail_parts(tail, tail_len, &c, c.out_whole ? NULL : &tail_out);
	if (c.out.len)
		rc |= gc__buf_append(&all, c.out.data, c.out.len);
	if (!c.out_whole) {
		rc |= gc__buf_puts(&all, marker);
		if (tail_out.len)
			rc |= gc__buf_append(&all, tail_out.data, tail_out.len);
	}
	rc |= gc__buf_puts(out, "{\"result\":");
	rc |= gc__json_str(out, all.data ? all.data : "", all.len);
	rc |= gc__buf_puts(out, ",\"system_error\":");
	rc |= gc__json_str(out, c.sys.data ? c.sys.data : "", c.sys.len);
	rc |= gc__buf_puts(out, ",\"error\":");
	rc |= gc__json_str(out, c.err.data ? c.err.data : "", c.err.len);
	rc |= gc__buf_puts(out, "}");
	gc__buf_free(&c.out);
	gc__buf_free(&c.sys);
	gc__buf_free(&c.err);
	gc__buf_free(&tail_out);
	gc__buf_free(&all);
	return rc ? GC_ENOMEM : 0;
}
