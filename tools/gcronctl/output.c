/* gcronctl: tables, times, JSON output and log results (see output.h). */
#include "output.h"

#include "tool.h"

#include <inttypes.h>

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t num_(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : 0;
}

static const char *ctl_str_(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) && v->valuestring ? v->valuestring : "";
}

/* ------------------------------------------------------------- tables */

struct ctl_table {
	size_t ncols, nrows, cap;
	char **cells; /* row-major, row 0 = header */
	size_t *limit;
};

/* Characters (not bytes) of UTF-8 text. */
static size_t width(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

char *ctl_one_line(const char *s, size_t len, size_t max)
{
	char *out = malloc(len + 4), *o = out;
	size_t chars = 0;
	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		bool lead = (c & 0xC0) != 0x80;
		if (lead && max && chars == max) {
			/* Leave room for "..." within the limit. */
			size_t keep = max > 3 ? max - 3 : 0, seen = 0;
			char *p = out;
			while (p < o) {
				if (((unsigned char)*p & 0xC0) != 0x80) {
					if (seen == keep)
						break;
					seen++;
				}
				p++;
			}
			o = p;
			memcpy(o, "...", 3);
			o += 3;
			break;
		}
		if (lead)
			chars++;
		if (c == '\n' || c == '\t' || c == '\r')
			*o++ = ' ';
		else if (c < 0x20 || c == 0x7f)
			*o++ = '?';
		else
			*o++ = (char)c;
	}
	*o = '\0';
	return out;
}

ctl_table *ctl_table_new(size_t ncols, ...)
{
	ctl_table *t = calloc(1, sizeof(*t));
	va_list ap;
	if (!t)
		return NULL;
	t->ncols = ncols;
	t->limit = calloc(ncols, sizeof(*t->limit));
	t->cap = 16;
	t->cells = calloc(t->cap * ncols, sizeof(*t->cells));
	if (!t->limit || !t->cells) {
		ctl_table_free(t);
		return NULL;
	}
	va_start(ap, ncols);
	for (size_t i = 0; i < ncols; i++) {
		const char *h = va_arg(ap, const char *);
		t->cells[i] = strdup(h ? h : "");
	}
	va_end(ap);
	t->nrows = 1;
	return t;
}

void ctl_table_limit(ctl_table *t, size_t col, size_t w)
{
	if (t && col < t->ncols)
		t->limit[col] = w;
}

void ctl_table_row(ctl_table *t, ...)
{
	va_list ap;
	if (!t)
		return;
	if (t->nrows == t->cap) {
		char **n =
		    realloc(t->cells, t->cap * 2 * t->ncols * sizeof(*n));
		if (!n)
			return;
		t->cells = n;
		t->cap *= 2;
	}
	va_start(ap, t);
	for (size_t i = 0; i < t->ncols; i++) {
		const char *s = va_arg(ap, const char *);
		if (!s)
			s = "";
		t->cells[t->nrows * t->ncols + i] =
		    ctl_one_line(s, strlen(s), t->limit[i]);
	}
	va_end(ap);
	t->nrows++;
}

size_t ctl_table_rows(const ctl_table *t)
{
	return t ? t->nrows - 1 : 0;
}

void ctl_table_print(const ctl_table *t, FILE *out)
{
	size_t *w;
	if (!t)
		return;
	w = calloc(t->ncols, sizeof(*w));
	if (!w)
		return;
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];
			size_t n = s ? width(s) : 0;
			if (n > w[c])
				w[c] = n;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];
			if (!s)
				s = "";
			fputs(s, out);
			if (c + 1 < t->ncols)
				fprintf(out, "%*s", (int)(w[c] - width(s) + 2),
					"");
		}
		fputc('\n', out);
	}
	free(w);
}

void ctl_table_free(ctl_table *t)
{
	if (!t)
		return;
	if (t->cells)
		for (size_t i = 0; i < t->nrows * t->ncols; i++)
			free(t->cells[i]);
	free(t->cells);
	free(t->limit);
	free(t);
}

#define KV_COL 14 /* where values start */

void ctl_kv(const char *key, const char *value)
{
	char *v =
	    ctl_one_line(value ? value : "", value ? strlen(value) : 0, 0);
	size_t klen = strlen(key) + 1;
	printf("%s:%*s%s\n", key, (int)(klen < KV_COL ? KV_COL - klen : 1), "",
	       v ? v : "");
	free(v);
}

void ctl_kv_more(const char *value)
{
	ctl_kv_bytes_more(value, value ? strlen(value) : 0);
}

void ctl_kv_bytes_more(const char *value, size_t len)
{
	char *v = ctl_one_line(value ? value : "", value ? len : 0, 0);
	printf("%*s%s\n", KV_COL, "", v ? v : "");
	free(v);
}

/* -------------------------------------------------------------- times */

const char *ctl_time(int64_t unix_s, char buf[32])
{
	time_t tt = (time_t)unix_s;
	struct tm tm;
	if (unix_s <= 0 || !localtime_r(&tt, &tm)) {
		snprintf(buf, 32, "-");
		return buf;
	}
	strftime(buf, 32, "%Y-%m-%d %H:%M:%S", &tm);
	return buf;
}

const char *ctl_duration(int64_t s, char buf[32])
{
	if (s < 0)
		snprintf(buf, 32, "-");
	else if (s < 60)
		snprintf(buf, 32, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(buf, 32, "%lldm%02llds", (long long)(s / 60),
			 (long long)(s % 60));
	else
		snprintf(buf, 32, "%lldh%02lldm", (long long)(s / 3600),
			 (long long)(s % 3600 / 60));
	return buf;
}

/* --------------------------------------------------------------- JSON */

/* Indent compact JSON with two spaces per level (cJSON_Print uses tabs
 * and keeps "[{" together). Strings are copied as they are. */
static void print_indented(const char *s, FILE *out)
{
	int depth = 0;
	bool in_str = false;
	for (; *s; s++) {
		char c = *s;
		if (in_str) {
			fputc(c, out);
			if (c == '\\' && s[1])
				fputc(*++s, out);
			else if (c == '"')
				in_str = false;
			continue;
		}
		switch (c) {
		case '"':
			in_str = true;
			fputc(c, out);
			break;
		case '{':
		case '[':
			fputc(c, out);
			if (s[1] == (c == '{' ? '}' : ']')) {
				fputc(*++s, out);
				break;
			}
			depth++;
			fprintf(out, "\n%*s", depth * 2, "");
			break;
		case '}':
		case ']':
			depth--;
			fprintf(out, "\n%*s%c", depth * 2, "", c);
			break;
		case ',':
			fprintf(out, ",\n%*s", depth * 2, "");
			break;
		case ':':
			fputs(": ", out);
			break;
		default:
			fputc(c, out);
		}
	}
	fputc('\n', out);
}

int ctl_json_print(const cJSON *v)
{
	char *s = cJSON_PrintUnformatted(v);
	if (!s) {
		tool_err("gcronctl", "out of memory");
		return -1;
	}
	print_indented(s, stdout);
	cJSON_free(s);
	return 0;
}

void ctl_bytes_free(ctl_bytes *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
}

static int bytes_put(ctl_bytes *b, size_t *cap, const char *s, size_t n)
{
	if (b->len + n + 1 > *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		char *d;
		while (c < b->len + n + 1)
			c *= 2;
		d = realloc(b->data, c);
		if (!d)
			return -1;
		b->data = d;
		*cap = c;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

static int put_utf8(ctl_bytes *b, size_t *cap, unsigned long cp)
{
	char u[4];
	size_t n;
	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (char)(0xF0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	return bytes_put(b, cap, u, n);
}

static bool hex4(const char *p, unsigned long *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		*v <<= 4;
		if (c >= '0' && c <= '9')
			*v |= (unsigned long)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*v |= (unsigned long)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			*v |= (unsigned long)(c - 'A' + 10);
		else
			return false;
	}
	return true;
}

/* Decode the JSON string starting at *p (on its opening quote) into out
 * (NULL: skip it). *p ends past the closing quote. */
static int json_string(const char **p, ctl_bytes *out)
{
	const char *s = *p + 1;
	ctl_bytes tmp = {NULL, 0};
	size_t cap = 0;
	ctl_bytes *b = out ? out : &tmp;

	if (**p != '"')
		return -1;
	b->len = 0;
	for (;;) {
		const char *run = s;
		while (*s && *s != '"' && *s != '\\')
			s++;
		if (s > run && bytes_put(b, &cap, run, (size_t)(s - run)))
			goto fail;
		if (*s == '"')
			break;
		if (*s != '\\')
			goto fail; /* unterminated */
		s++;
		char e = *s++, c;
		unsigned long cp, lo;
		switch (e) {
		case '"':
			c = '"';
			break;
		case '\\':
			c = '\\';
			break;
		case '/':
			c = '/';
			break;
		case 'b':
			c = '\b';
			break;
		case 'f':
			c = '\f';
			break;
		case 'n':
			c = '\n';
			break;
		case 'r':
			c = '\r';
			break;
		case 't':
			c = '\t';
			break;
		case 'u':
			if (!hex4(s, &cp))
				goto fail;
			s += 4;
			if (cp >= 0xD800 && cp < 0xDC00 && s[0] == '\\' &&
			    s[1] == 'u' && hex4(s + 2, &lo) && lo >= 0xDC00 &&
			    lo < 0xE000) {
				cp = 0x10000 + ((cp - 0xD800) << 10) +
				     (lo - 0xDC00);
				s += 6;
			} else if (cp >= 0xD800 && cp < 0xE000) {
				cp = 0xFFFD; /* a lone surrogate, as Go does */
			}
			if (put_utf8(b, &cap, cp))
				goto fail;
			continue;
		default:
			goto fail;
		}
		if (bytes_put(b, &cap, &c, 1))
			goto fail;
	}
	*p = s + 1;
	if (!b->data && bytes_put(b, &cap, "", 0))
		goto fail;
	free(tmp.data);
	return 0;
fail:
	free(tmp.data);
	return -1;
}

static const char *skip_ws(const char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	return s;
}

static int empty_bytes(ctl_bytes *b)
{
	b->data = calloc(1, 1);
	b->len = 0;
	return b->data ? 0 : -1;
}

int ctl_log_result(const char *text, ctl_bytes *output, ctl_bytes *error,
		   ctl_bytes *system_error)
{
	const char *s = skip_ws(text);
	ctl_bytes key = {NULL, 0};
	int rc = -1;

	memset(output, 0, sizeof(*output));
	memset(error, 0, sizeof(*error));
	memset(system_error, 0, sizeof(*system_error));
	if (*s != '{')
		goto bad;
	s = skip_ws(s + 1);
	while (*s != '}') {
		ctl_bytes *dst = NULL;
		if (json_string(&s, &key) != 0)
			goto bad;
		if (strcmp(key.data, "result") == 0)
			dst = output;
		else if (strcmp(key.data, "error") == 0)
			dst = error;
		else if (strcmp(key.data, "system_error") == 0)
			dst = system_error;
		s = skip_ws(s);
		if (*s != ':')
			goto bad;
		s = skip_ws(s + 1);
		if (*s == '"') {
			if (dst)
				ctl_bytes_free(dst);
			if (json_string(&s, dst) != 0)
				goto bad;
		} else if (strncmp(s, "null", 4) == 0) {
			s += 4;
		} else {
			goto bad;
		}
		s = skip_ws(s);
		if (*s == ',')
			s = skip_ws(s + 1);
		else if (*s != '}')
			goto bad;
	}
	rc = 0;
	goto done;
bad:
	/* Not the expected object: show the text as it is. */
	ctl_bytes_free(output);
	ctl_bytes_free(error);
	ctl_bytes_free(system_error);
	output->data = strdup(text);
	output->len = output->data ? strlen(text) : 0;
done:
	ctl_bytes_free(&key);
	if ((!output->data && empty_bytes(output)) ||
	    (!error->data && empty_bytes(error)) ||
	    (!system_error->data && empty_bytes(system_error)))
		rc = -1;
	return rc;
}

cJSON *ctl_json_bytes(const ctl_bytes *b)
{
	static const char hex[] = "0123456789abcdef";
	ctl_bytes q = {NULL, 0};
	size_t cap = 0;
	int rc = bytes_put(&q, &cap, "\"", 1);
	cJSON *item;

	for (size_t i = 0; i < b->len && rc == 0; i++) {
		unsigned char c = (unsigned char)b->data[i];
		char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
		if (c == '"' || c == '\\') {
			e[1] = (char)c;
			rc = bytes_put(&q, &cap, e, 2);
		} else if (c == '\n') {
			rc = bytes_put(&q, &cap, "\\n", 2);
		} else if (c == '\t') {
			rc = bytes_put(&q, &cap, "\\t", 2);
		} else if (c == '\r') {
			rc = bytes_put(&q, &cap, "\\r", 2);
		} else if (c < 0x20 || c == 0x7f) {
			rc = bytes_put(&q, &cap, e, 6);
		} else {
			rc = bytes_put(&q, &cap, (const char *)&b->data[i], 1);
		}
	}
	if (rc == 0)
		rc = bytes_put(&q, &cap, "\"", 1);
	item = rc == 0 ? cJSON_CreateRaw(q.data) : NULL;
	free(q.data);
	return item;
}

/* ---------------------------------------------------------------- runs */

const ctl_bytes *ctl_run_error(const ctl_bytes *err, const ctl_bytes *sys)
{
	return sys->len ? sys : err;
}

void ctl_log_decode(cJSON *log)
{
	ctl_bytes out, err, sys;
	ctl_log_result(ctl_str_(log, "result"), &out, &err, &sys);
	cJSON_AddItemToObject(log, "output", ctl_json_bytes(&out));
	cJSON_AddItemToObject(log, "error",
			      ctl_json_bytes(ctl_run_error(&err, &sys)));
	ctl_bytes_free(&out);
	ctl_bytes_free(&err);
	ctl_bytes_free(&sys);
}

int ctl_run_print(const char *cmd, bool json, cJSON *log, bool details)
{
	ctl_bytes out, err, sys;
	const ctl_bytes *e;
	int64_t id = num_(log, "id");
	bool failed = num_(log, "with_error") != 0;
	int rc = 0;

	if (json) {
		ctl_log_decode(log);
		return ctl_json_print(log) ? 1 : 0;
	}
	ctl_log_result(ctl_str_(log, "result"), &out, &err, &sys);
	e = ctl_run_error(&err, &sys);
	if (details) {
		char b[64], ts[32], took[32];
		snprintf(b, sizeof(b), "%" PRId64, id);
		ctl_kv("run", b);
		snprintf(b, sizeof(b), "%.40s (%s)", ctl_str_(log, "name"),
			 ctl_str_(log, "task_id"));
		ctl_kv("job", b);
		snprintf(b, sizeof(b), "%.40s (%" PRId64 ")",
			 ctl_str_(log, "project"), num_(log, "project_id"));
		ctl_kv("project", b);
		ctl_kv("node", ctl_str_(log, "client_ip"));
		if (num_(log, "plan_time"))
			ctl_kv("planned", ctl_time(num_(log, "plan_time"), ts));
		ctl_kv("started", ctl_time(num_(log, "start_time"), ts));
		ctl_kv("took", ctl_duration(num_(log, "end_time") -
						num_(log, "start_time"),
					    took));
		if (failed) {
			char *s = ctl_one_line(e->data, e->len, 0);
			snprintf(b, sizeof(b), "failed: %.50s", s ? s : "");
			free(s);
			ctl_kv("result", b);
		} else {
			ctl_kv("result", "ok");
		}
		ctl_kv("command", ctl_str_(log, "command"));
		printf("output:\n");
	}
	fflush(stdout);
	if (out.len && (fwrite(out.data, 1, out.len, stdout) != out.len ||
			fflush(stdout) != 0)) {
		tool_err("gcronctl", "%s: cannot write the output", cmd);
		rc = 1;
	} else if (!details && failed) {
		char *s = ctl_one_line(e->data, e->len, 200);
		tool_err("gcronctl", "%s: run %" PRId64 " failed: %s", cmd, id,
			 s && *s ? s : "error");
		free(s);
	}
	ctl_bytes_free(&out);
	ctl_bytes_free(&err);
	ctl_bytes_free(&sys);
	return rc;
}
