/* Configuration files of the agent and the service: the TOML subset of
 * GopherCron 1.10's config files, read with inih.
 *
 * inih alone does not read TOML correctly: it cuts values at " ;" (inline
 * comment), treats indented lines as continuations of the previous key,
 * accepts ':' as a delimiter and caps lines at 200 bytes. So the reader
 * handed to ini_parse_stream() does the TOML lexing: it takes one logical
 * line (an array may span several physical lines), checks it, keeps the raw
 * value text in the parse context and hands inih a canonical "key=v" or
 * "[section]" line. inih then dispatches section and key to the handler,
 * which parses the value text and stores it through a per-file key table.
 */
#include <gophercron/config.h>

#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <ini.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define CFG_MAX_FILE (1024 * 1024) /* config files are a few hundred bytes */
#define CFG_MAX_NAME 49            /* inih keeps 50-byte names */
#define CFG_MAX_FIELDS 64
#define CFG_PUBLISHED_JWT_SECRET "fjskfjls2ifeew2mn"
#define JWT_SECRET_ID 18 /* field id of [jwt] secret */

/* ------------------------------------------------------------ values */

enum { V_STR, V_INT, V_BOOL, V_ARRAY };

typedef struct cval {
	int kind;
	char *s;        /* V_STR */
	int64_t i;      /* V_INT */
	bool b;         /* V_BOOL */
	struct cval *items; /* V_ARRAY */
	size_t n;
	int item_kind;  /* V_ARRAY: kind of the items, -1 when empty */
} cval;

static void cval_free(cval *v)
{
	if (v->kind == V_STR)
		free(v->s);
	if (v->kind == V_ARRAY) {
		for (size_t i = 0; i < v->n; i++)
			cval_free(&v->items[i]);
		free(v->items);
	}
	memset(v, 0, sizeof(*v));
}

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static int put_utf8(gc__buf *b, uint32_t cp)
{
	unsigned char o[4];
	size_t n;
	if (cp < 0x80) {
		o[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		o[0] = (unsigned char)(0xC0 | (cp >> 6));
		o[1] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		o[0] = (unsigned char)(0xE0 | (cp >> 12));
		o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		o[0] = (unsigned char)(0xF0 | (cp >> 18));
		o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
		o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		o[3] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	return gc__buf_append(b, o, n);
}

/* A "basic string" with escapes or a 'literal string'. *pp is at the
 * opening quote. Returns 0, GC_ENOMEM, or GC_EINVAL with *msg. */
static int parse_string(const char **pp, char **out, const char **msg)
{
	const char *p = *pp;
	char q = *p++;
	gc__buf b = GC__BUF_INIT;
	if (p[0] == q && p[1] == q) {
		*msg = "multi-line strings are not supported";
		return GC_EINVAL;
	}
	if (gc__buf_reserve(&b, 16) < 0)
		return GC_ENOMEM;
	for (;;) {
		char c = *p++;
		int rc = 0;
		if (c == '\0') {
			gc__buf_free(&b);
			*msg = q == '"' ? "unterminated string (missing closing \")"
					: "unterminated string (missing closing ')";
			return GC_EINVAL;
		}
		if (c == q)
			break;
		if ((unsigned char)c < 0x20 && c != '\t') {
			gc__buf_free(&b);
			*msg = "control character in string (use an escape "
			       "such as \\n)";
			return GC_EINVAL;
		}
		if (c != '\\' || q == '\'') {
			rc = gc__buf_append(&b, &c, 1);
		} else {
			char e = *p++;
			const char *r = NULL;
			int digits = 0;
			switch (e) {
			case '"': r = "\""; break;
			case '\\': r = "\\"; break;
			case 'n': r = "\n"; break;
			case 't': r = "\t"; break;
			case 'r': r = "\r"; break;
			case 'b': r = "\b"; break;
			case 'f': r = "\f"; break;
			case 'u': digits = 4; break;
			case 'U': digits = 8; break;
			default:
				gc__buf_free(&b);
				*msg = "unknown escape in string (use \\\" \\\\ "
				       "\\n \\t \\r \\b \\f \\uXXXX)";
				return GC_EINVAL;
			}
			if (r) {
				rc = gc__buf_append(&b, r, 1);
			} else {
				uint32_t cp = 0;
				for (int i = 0; i < digits; i++) {
					int h = gc__hexval(p[i]);
					if (h < 0) {
						gc__buf_free(&b);
						*msg = "bad \\u escape in string "
						       "(needs hex digits)";
						return GC_EINVAL;
					}
					cp = cp * 16 + (uint32_t)h;
				}
				p += digits;
				if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) ||
				    cp == 0) {
					gc__buf_free(&b);
					*msg = "\\u escape is not a valid "
					       "character";
					return GC_EINVAL;
				}
				rc = put_utf8(&b, cp);
			}
		}
		if (rc < 0) {
			gc__buf_free(&b);
			return GC_ENOMEM;
		}
	}
	*out = gc__buf_detach(&b);
	if (!*out)
		return GC_ENOMEM;
	*pp = p;
	return 0;
}

/* TOML decimal integer: optional sign, digits with single '_' between
 * digits, no leading zero. */
static int parse_integer(const char **pp, int64_t *out, const char **msg)
{
	const char *p = *pp;
	bool neg = false;
	uint64_t v = 0, lim;
	int nd = 0;
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	if (p[0] == '0' && p[1] >= '0' && p[1] <= '9') {
		*msg = "integers must not have leading zeros";
		return GC_EINVAL;
	}
	for (;;) {
		if (*p >= '0' && *p <= '9') {
			unsigned d = (unsigned)(*p - '0');
			if (v > (lim - d) / 10) {
				*msg = "integer is too large";
				return GC_EINVAL;
			}
			v = v * 10 + d;
			nd++;
			p++;
		} else if (*p == '_' && nd > 0 && p[1] >= '0' && p[1] <= '9') {
			p++;
		} else {
			break;
		}
	}
	if (nd == 0) {
		*msg = "expected a value (a \"string\", an integer, true, "
		       "false or an array)";
		return GC_EINVAL;
	}
	if (*p == '.' || *p == 'e' || *p == 'E' || *p == ':' || *p == '-' ||
	    *p == 'x' || *p == 'o' || *p == 'b') {
		*msg = "floats, dates and non-decimal integers are not "
		       "supported";
		return GC_EINVAL;
	}
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	*pp = p;
	return 0;
}

static bool word_at(const char *p, const char *w)
{
	size_t n = strlen(w);
	char c;
	if (strncmp(p, w, n) != 0)
		return false;
	c = p[n];
	return c == '\0' || c == ' ' || c == '\t' || c == ',' || c == ']';
}

static int parse_scalar_or_array(const char **pp, cval *v, bool in_array,
				 const char **msg);

static int parse_array(const char **pp, cval *v, const char **msg)
{
	const char *p = *pp + 1;
	size_t cap = 0;
	v->kind = V_ARRAY;
	v->item_kind = -1;
	for (;;) {
		cval item;
		int rc;
		p = skip_ws(p);
		if (*p == ']')
			break;
		if (*p == '\0') {
			*msg = "array is missing its closing \"]\"";
			return GC_EINVAL;
		}
		memset(&item, 0, sizeof(item));
		rc = parse_scalar_or_array(&p, &item, true, msg);
		if (rc < 0)
			return rc;
		if (v->item_kind >= 0 && item.kind != v->item_kind) {
			cval_free(&item);
			*msg = "array items must all have the same type";
			return GC_EINVAL;
		}
		if (v->n == cap) {
			size_t nc = cap ? cap * 2 : 4;
			cval *ni = realloc(v->items, nc * sizeof(*ni));
			if (!ni) {
				cval_free(&item);
				return GC_ENOMEM;
			}
			v->items = ni;
			cap = nc;
		}
		v->items[v->n++] = item;
		v->item_kind = item.kind;
		p = skip_ws(p);
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p == ']')
			break;
		*msg = *p ? "expected \",\" or \"]\" after an array item"
			  : "array is missing its closing \"]\"";
		return GC_EINVAL;
	}
	*pp = p + 1;
	return 0;
}

static int parse_scalar_or_array(const char **pp, cval *v, bool in_array,
				 const char **msg)
{
	const char *p = *pp;
	int rc;
	if (*p == '"' || *p == '\'') {
		v->kind = V_STR;
		rc = parse_string(&p, &v->s, msg);
	} else if (*p == '[') {
		if (in_array) {
			*msg = "nested arrays are not supported";
			return GC_EINVAL;
		}
		rc = parse_array(&p, v, msg);
	} else if (*p == '{') {
		*msg = "inline tables are not supported";
		return GC_EINVAL;
	} else if (word_at(p, "true") || word_at(p, "false")) {
		v->kind = V_BOOL;
		v->b = *p == 't';
		p += v->b ? 4 : 5;
		rc = 0;
	} else if ((*p >= '0' && *p <= '9') || *p == '+' || *p == '-') {
		v->kind = V_INT;
		rc = parse_integer(&p, &v->i, msg);
		if (rc == 0 && (p[0] == 'i' || p[0] == 'n')) {
			*msg = "floats are not supported";
			rc = GC_EINVAL;
		}
	} else if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		   *p == '/' || *p == '.') {
		*msg = "strings must be quoted, like \"text\"";
		return GC_EINVAL;
	} else {
		*msg = "expected a value (a \"string\", an integer, true, false "
		       "or an array)";
		return GC_EINVAL;
	}
	if (rc < 0) {
		cval_free(v);
		return rc;
	}
	*pp = p;
	return 0;
}

/* The whole value text (comment already removed, trimmed). */
static int parse_value(const char *text, cval *v, const char **msg)
{
	const char *p = skip_ws(text);
	int rc;
	memset(v, 0, sizeof(*v));
	if (*p == '\0') {
		*msg = "missing value after \"=\"";
		return GC_EINVAL;
	}
	rc = parse_scalar_or_array(&p, v, false, msg);
	if (rc < 0)
		return rc;
	p = skip_ws(p);
	if (*p != '\0') {
		cval_free(v);
		*msg = "unexpected text after the value";
		return GC_EINVAL;
	}
	return 0;
}

/* ------------------------------------------------------------ key tables */

enum ftype {
	F_TEXT,       /* string, "" kept */
	F_OPT,        /* optional string, "" -> NULL */
	F_REQ,        /* non-empty string */
	F_IDENT,      /* non-empty, no '/', whitespace or control characters */
	F_PREFIX,     /* "" or "/..." without trailing '/' */
	F_URL,        /* optional http(s) URL, scheme added when missing */
	F_INT,        /* integer in [min, max] */
	F_LOGLEVEL,   /* level name -> GC_LOG_* (int) */
	F_DUR_MS,     /* seconds or "500ms"/"2s"/"1m" -> ms */
	F_DUR_S,      /* seconds or "30s"/"1m" -> whole seconds */
	F_SIZE,       /* bytes or "512KiB"/"1MiB" */
	F_ENDPOINTS,  /* array of endpoints, normalised later */
	F_HOSTS,      /* array of "host:port" listen addresses */
	F_PROJECTS,   /* array of positive distinct integers */
	F_MYSQL       /* "host:port" -> service, host, port */
};

typedef struct field {
	const char *section; /* "" = top level */
	const char *key;
	int type;
	int id;              /* same id = same setting (aliases) */
	size_t off;
	size_t off_n;        /* arrays: offset of the size_t count */
	int64_t min, max;
} field;

#define FLD(sec, k, t, id, st, m) {sec, k, t, id, offsetof(st, m), 0, 0, 0}
#define FLDR(sec, k, t, id, st, m, lo, hi)                                    \
	{sec, k, t, id, offsetof(st, m), 0, lo, hi}
#define FLDA(sec, k, t, id, st, m, n) {sec, k, t, id, offsetof(st, m),       \
				      offsetof(st, n), 0, 0}

#define ETCD_FIELDS(st, base)                                                 \
	FLDA("etcd", "service", F_ENDPOINTS, base, st, etcd.endpoints,       \
	     etcd.n_endpoints),                                               \
	FLD("etcd", "username", F_OPT, base + 1, st, etcd.username),          \
	FLD("etcd", "password", F_OPT, base + 2, st, etcd.password),          \
	FLDR("etcd", "dialtimeout", F_INT, base + 3, st,                      \
	     etcd.dial_timeout_ms, 1, 600000),                                \
	FLD("etcd", "prefix", F_PREFIX, base + 4, st, etcd.prefix),           \
	FLD("etcd", "ca_file", F_OPT, base + 5, st, etcd.ca_file),            \
	FLD("etcd", "cert_file", F_OPT, base + 6, st, etcd.cert_file),        \
	FLD("etcd", "key_file", F_OPT, base + 7, st, etcd.key_file)

#define MYSQL_FIELDS(st, base)                                                \
	FLD("mysql", "service", F_MYSQL, base, st, mysql),                    \
	FLD("mysql", "username", F_OPT, base + 1, st, mysql.username),        \
	FLD("mysql", "password", F_OPT, base + 2, st, mysql.password),        \
	FLD("mysql", "database", F_OPT, base + 3, st, mysql.database)

static const field agent_fields[] = {
	FLD("", "log_level", F_LOGLEVEL, 0, gc_agent_config, log_level),
	FLD("", "report_addr", F_URL, 1, gc_agent_config, report_addr),
	FLD("", "report_token", F_OPT, 2, gc_agent_config, report_token),
	FLD("", "client_ip", F_IDENT, 3, gc_agent_config, client_ip),
	FLD("", "spool_dir", F_REQ, 4, gc_agent_config, spool_dir),
	FLDR("", "output_limit", F_SIZE, 5, gc_agent_config, output_limit, 1,
	     INT64_C(1) << 30),
	FLDR("", "kill_grace", F_DUR_MS, 6, gc_agent_config, kill_grace_ms, 0,
	     3600000),
	FLDR("", "claim_ttl", F_DUR_S, 7, gc_agent_config, claim_ttl_s, 1,
	     86400),
	FLDA("", "projects", F_PROJECTS, 8, gc_agent_config, projects,
	     n_projects),
	FLD("", "shell", F_REQ, 9, gc_agent_config, shell),
	/* GopherCron 1.10's client files put these two inside [etcd]. */
	FLDA("etcd", "projects", F_PROJECTS, 8, gc_agent_config, projects,
	     n_projects),
	FLD("etcd", "shell", F_REQ, 9, gc_agent_config, shell),
	FLD("deploy", "environment", F_TEXT, 10, gc_agent_config,
	    deploy.environment),
	FLDR("deploy", "timeout", F_DUR_S, 11, gc_agent_config,
	     deploy.timeout_s, 1, 3600),
	ETCD_FIELDS(gc_agent_config, 12),
	MYSQL_FIELDS(gc_agent_config, 20),
	FLD("sqlite", "path", F_OPT, 24, gc_agent_config, sqlite.path),
};

static const field service_fields[] = {
	FLD("", "log_level", F_LOGLEVEL, 0, gc_service_config, log_level),
	FLD("deploy", "environment", F_TEXT, 1, gc_service_config,
	    deploy.environment),
	FLDA("deploy", "host", F_HOSTS, 2, gc_service_config, deploy.hosts,
	     deploy.n_hosts),
	FLDR("deploy", "timeout", F_DUR_S, 3, gc_service_config,
	     deploy.timeout_s, 1, 3600),
	FLD("deploy", "view_path", F_OPT, 4, gc_service_config,
	    deploy.view_path),
	ETCD_FIELDS(gc_service_config, 5),
	MYSQL_FIELDS(gc_service_config, 13),
	FLD("sqlite", "path", F_REQ, 17, gc_service_config, sqlite.path),
	FLD("jwt", "secret", F_OPT, JWT_SECRET_ID, gc_service_config,
	    jwt.secret),
	FLDR("jwt", "exp", F_INT, 19, gc_service_config, jwt.exp_hours, 1,
	     87600),
	FLD("report", "token", F_OPT, 20, gc_service_config, report.token),
	FLDR("log", "retention_days", F_INT, 21, gc_service_config,
	     log.retention_days, 0, 36500),
	/* id 40: away from the ids the tables add in sequence */
	FLDR("log", "output_limit", F_SIZE, 40, gc_service_config,
	     log.output_limit, 256, INT64_C(64) << 20),
	FLDR("http", "threads", F_INT, 22, gc_service_config, http.threads, 1,
	     4096),
	FLDR("http", "header_timeout", F_DUR_MS, 23, gc_service_config,
	     http.header_timeout_ms, 100, 3600000),
	FLDR("http", "keep_alive_timeout", F_DUR_MS, 24, gc_service_config,
	     http.keep_alive_timeout_ms, 100, 3600000),
	FLDR("http", "request_timeout", F_DUR_MS, 25, gc_service_config,
	     http.request_timeout_ms, 1000, 3600000),
	FLDR("http", "max_idle_per_address", F_INT, 26, gc_service_config,
	     http.max_idle_per_address, 0, 65536),
};

static const char *const agent_sections[] = {"etcd", "mysql", "deploy",
					     "sqlite"};
static const char *const service_sections[] = {"etcd", "mysql", "deploy",
					       "sqlite", "jwt", "report",
					       "log", "http"};

/* ------------------------------------------------------------ context */

typedef struct cfg_ctx {
	const char *name;      /* file name for messages */
	const char *text;      /* whole input */
	size_t len, pos;
	int lineno;            /* physical line last read */
	int key_line;          /* line where the current key starts */
	gc__buf value;         /* raw value text of the current key */
	const field *fields;
	size_t n_fields;
	const char *const *sections;
	size_t n_sections;
	void *cfg;             /* gc_agent_config or gc_service_config */
	int seen[CFG_MAX_FIELDS]; /* line a setting was set on, 0 = not yet */
	gc_log_fn log;
	void *payload;
	int rc;                /* first error */
	gc_error err;
} cfg_ctx;

static int ctx_fail(cfg_ctx *c, int line, const char *section,
		    const char *key, const char *fmt, ...) GC__PRINTF(5, 6);

static int ctx_fail(cfg_ctx *c, int line, const char *section,
		    const char *key, const char *fmt, ...)
{
	char detail[GC_ERROR_MSG_MAX];
	va_list ap;
	if (c->rc < 0)
		return c->rc;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (key)
		gc__seterr(&c->err, GC_EINVAL, "%s:%d: key \"%s%s%s\": %s",
			   c->name, line, section && *section ? section : "",
			   section && *section ? "." : "", key, detail);
	else
		gc__seterr(&c->err, GC_EINVAL, "%s:%d: %s", c->name, line,
			   detail);
	c->rc = GC_EINVAL;
	return c->rc;
}

static int ctx_nomem(cfg_ctx *c)
{
	if (c->rc == 0) {
		gc__seterr(&c->err, GC_ENOMEM, "%s: out of memory", c->name);
		c->rc = GC_ENOMEM;
	}
	return c->rc;
}

/* ------------------------------------------------------------ reader */

static bool known_section(const cfg_ctx *c, const char *section)
{
	if (!*section)
		return true;
	for (size_t i = 0; i < c->n_sections; i++)
		if (strcmp(c->sections[i], section) == 0)
			return true;
	return false;
}

/* Next physical line (without "\n" / "\r\n"); false at the end. */
static bool next_line(cfg_ctx *c, const char **line, size_t *len)
{
	const char *s, *nl;
	size_t n;
	if (c->pos >= c->len)
		return false;
	s = c->text + c->pos;
	nl = memchr(s, '\n', c->len - c->pos);
	n = nl ? (size_t)(nl - s) : c->len - c->pos;
	c->pos += n + (nl ? 1 : 0);
	if (n > 0 && s[n - 1] == '\r')
		n--;
	c->lineno++;
	if (c->lineno == 1 && n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
		s += 3;
		n -= 3;
	}
	*line = s;
	*len = n;
	return true;
}

/* Scan value text: find where a '#' comment starts (outside strings), check
 * strings are closed and track '[' / ']' depth. Returns the length of the
 * value part, or -1 with *msg for an unterminated string. */
static long scan_value(const char *s, size_t n, int *depth, const char **msg)
{
	size_t i = 0;
	while (i < n) {
		char ch = s[i];
		if (ch == '#')
			break;
		if (ch == '"' || ch == '\'') {
			size_t j = i + 1;
			while (j < n && s[j] != ch) {
				if (ch == '"' && s[j] == '\\' && j + 1 < n)
					j++;
				j++;
			}
			if (j >= n) {
				*msg = ch == '"' ? "unterminated string "
						   "(missing closing \")"
						 : "unterminated string "
						   "(missing closing ')";
				return -1;
			}
			i = j + 1;
			continue;
		}
		if (ch == '[')
			(*depth)++;
		else if (ch == ']')
			(*depth)--;
		i++;
	}
	while (i > 0 && (s[i - 1] == ' ' || s[i - 1] == '\t'))
		i--;
	return (long)i;
}

static bool is_key_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
}

/* Does a continuation line of an array look like the start of something
 * else (a section or a key), i.e. the array was never closed? */
static bool looks_like_new_statement(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i < n && s[i] == '[')
		return true;
	while (i < n && is_key_char(s[i]))
		i++;
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	return i < n && s[i] == '=';
}

/* Read the rest of a multi-line array into c->value. */
static int read_array_rest(cfg_ctx *c, int depth, const char *key)
{
	const char *line, *msg = NULL;
	size_t n;
	while (depth > 0) {
		long vl;
		size_t i = 0;
		if (!next_line(c, &line, &n) || looks_like_new_statement(line, n))
			return ctx_fail(c, c->key_line, NULL, key,
					"array is missing its closing \"]\"");
		while (i < n && (line[i] == ' ' || line[i] == '\t'))
			i++;
		vl = scan_value(line + i, n - i, &depth, &msg);
		if (vl < 0)
			return ctx_fail(c, c->lineno, NULL, key, "%s", msg);
		if (gc__buf_puts(&c->value, " ") < 0 ||
		    gc__buf_append(&c->value, line + i, (size_t)vl) < 0)
			return ctx_nomem(c);
	}
	return 0;
}

static char *emit(char *str, int num, const char *a, size_t alen,
		  const char *b)
{
	size_t bl = strlen(b);
	if (num < 0 || alen + bl + 1 > (size_t)num)
		return NULL;
	memcpy(str, a, alen);
	memcpy(str + alen, b, bl + 1);
	return str;
}

static char *cfg_reader(char *str, int num, void *stream)
{
	cfg_ctx *c = stream;
	const char *line, *msg = NULL;
	size_t n, i = 0, k0, kl;
	char *r;

	if (c->rc < 0 || !next_line(c, &line, &n))
		return NULL;
	if (memchr(line, '\0', n))
		return ctx_fail(c, c->lineno, NULL, NULL,
				"NUL byte in the file"),
		       NULL;
	while (i < n && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i == n || line[i] == '#')
		return emit(str, num, "", 0, "\n");

	if (line[i] == '[') {
		size_t j;
		i++;
		if (i < n && line[i] == '[')
			return ctx_fail(c, c->lineno, NULL, NULL,
					"arrays of tables ([[...]]) are not "
					"supported"),
			       NULL;
		while (i < n && (line[i] == ' ' || line[i] == '\t'))
			i++;
		k0 = i;
		while (i < n && (is_key_char(line[i]) || line[i] == '.'))
			i++;
		kl = i - k0;
		while (i < n && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (i >= n || line[i] != ']')
			return ctx_fail(c, c->lineno, NULL, NULL,
					kl && (i >= n || line[i] == '#')
						? "section header is missing "
						  "its closing \"]\""
						: "bad section header (expected "
						  "[name] with letters, digits, "
						  "'_' or '-')"),
			       NULL;
		if (kl == 0)
			return ctx_fail(c, c->lineno, NULL, NULL,
					"empty section name"),
			       NULL;
		if (kl > CFG_MAX_NAME)
			return ctx_fail(c, c->lineno, NULL, NULL,
					"section name longer than %d "
					"characters",
					CFG_MAX_NAME),
			       NULL;
		for (j = i + 1; j < n && (line[j] == ' ' || line[j] == '\t');)
			j++;
		if (j < n && line[j] != '#')
			return ctx_fail(c, c->lineno, NULL, NULL,
					"unexpected text after section "
					"header"),
			       NULL;
		{
			char buf[CFG_MAX_NAME + 4];
			buf[0] = '[';
			memcpy(buf + 1, line + k0, kl);
			buf[kl + 1] = '\0';
			if (!known_section(c, buf + 1))
				gc__log(c->log, c->payload, GC_LOG_WARNING,
					"%s:%d: unknown section %s], its keys "
					"are ignored",
					c->name, c->lineno, buf);
			r = emit(str, num, buf, kl + 1, "]\n");
		}
		if (!r)
			ctx_fail(c, c->lineno, NULL, NULL, "line too long");
		return r;
	}

	k0 = i;
	while (i < n && is_key_char(line[i]))
		i++;
	kl = i - k0;
	if (kl == 0) {
		if (line[i] == '"' || line[i] == '\'')
			msg = "quoted keys are not supported";
		else
			msg = "expected key = value, a [section] or a "
			      "# comment";
		return ctx_fail(c, c->lineno, NULL, NULL, "%s", msg), NULL;
	}
	{
		char key[CFG_MAX_NAME + 1];
		int depth = 0;
		long vl;
		if (kl > CFG_MAX_NAME)
			return ctx_fail(c, c->lineno, NULL, NULL,
					"key name longer than %d characters",
					CFG_MAX_NAME),
			       NULL;
		memcpy(key, line + k0, kl);
		key[kl] = '\0';
		c->key_line = c->lineno;
		while (i < n && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (i < n && line[i] == '.')
			return ctx_fail(c, c->lineno, NULL, key,
					"dotted keys are not supported; use a "
					"[section]"),
			       NULL;
		if (i >= n || line[i] != '=')
			return ctx_fail(c, c->lineno, NULL, key,
					"expected \"=\" after the key"),
			       NULL;
		i++;
		while (i < n && (line[i] == ' ' || line[i] == '\t'))
			i++;
		vl = scan_value(line + i, n - i, &depth, &msg);
		if (vl < 0)
			return ctx_fail(c, c->lineno, NULL, key, "%s", msg),
			       NULL;
		gc__buf_reset(&c->value);
		if (gc__buf_append(&c->value, line + i, (size_t)vl) < 0 ||
		    gc__buf_puts(&c->value, "") < 0)
			return ctx_nomem(c), NULL;
		if (depth > 0 && read_array_rest(c, depth, key) < 0)
			return NULL;
		r = emit(str, num, key, kl, "=v\n");
		if (!r)
			ctx_fail(c, c->key_line, NULL, NULL, "line too long");
		return r;
	}
}

/* ------------------------------------------------------------ setters */

static bool has_bad_chars(const char *s, bool slash_ok)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch <= ' ' || ch == 0x7F || (!slash_ok && ch == '/'))
			return true;
	}
	return false;
}

/* "host:port", "[v6]:port" or "host": host part and port (0 = none). */
static int split_host_port(const char *s, char **host, int *port,
			   bool port_required)
{
	const char *colon, *h = s, *he;
	int64_t p = 0;
	if (*s == '[') {
		he = strchr(s, ']');
		if (!he || he == s + 1)
			return GC_EINVAL;
		h = s + 1;
		colon = he[1] == ':' ? he + 1 : NULL;
		if (he[1] && !colon)
			return GC_EINVAL;
	} else {
		colon = strrchr(s, ':');
		if (colon && strchr(s, ':') != colon)
			return GC_EINVAL; /* bare IPv6 needs brackets */
		he = colon ? colon : s + strlen(s);
	}
	if (colon) {
		if (gc__parse_int64(colon + 1, &p) < 0 || p < 1 || p > 65535 ||
		    colon[1] == '+' || colon[1] == '-')
			return GC_EINVAL;
	} else if (port_required) {
		return GC_EINVAL;
	}
	if (he == h || has_bad_chars(s, false))
		return GC_EINVAL;
	if (host) {
		*host = gc__strndup(h, (size_t)(he - h));
		if (!*host)
			return GC_ENOMEM;
	}
	*port = (int)p;
	return 0;
}

/* http(s) URL check: optional scheme, non-empty host. */
static const char *check_url(const char *s)
{
	const char *sep = strstr(s, "://"), *host = s;
	if (sep) {
		size_t sl = (size_t)(sep - s);
		if (!((sl == 4 && strncasecmp(s, "http", 4) == 0) ||
		      (sl == 5 && strncasecmp(s, "https", 5) == 0)))
			return "unsupported URL scheme (use http:// or "
			       "https://)";
		host = sep + 3;
	}
	if (*host == '\0' || *host == '/' || *host == ':')
		return "URL has no host";
	if (has_bad_chars(s, true))
		return "URL contains spaces or control characters";
	return NULL;
}

/* Duration: integer seconds, or "1h2m3s500ms"-style with units. */
static int parse_duration_ms(const cval *v, int64_t *ms)
{
	const char *p;
	int64_t total = 0;
	if (v->kind == V_INT) {
		if (v->i > INT64_MAX / 1000 || v->i < INT64_MIN / 1000)
			return GC_EINVAL;
		*ms = v->i * 1000;
		return 0;
	}
	if (v->kind != V_STR || !v->s[0])
		return GC_EINVAL;
	p = v->s;
	while (*p) {
		int64_t num = 0, mul;
		int nd = 0;
		while (*p >= '0' && *p <= '9') {
			if (num > (INT64_MAX - 9) / 10)
				return GC_EINVAL;
			num = num * 10 + (*p++ - '0');
			nd++;
		}
		if (!nd)
			return GC_EINVAL;
		if (strncmp(p, "ms", 2) == 0) {
			mul = 1;
			p += 2;
		} else if (*p == 's') {
			mul = 1000;
			p++;
		} else if (*p == 'm') {
			mul = 60000;
			p++;
		} else if (*p == 'h') {
			mul = 3600000;
			p++;
		} else {
			return GC_EINVAL;
		}
		if (num > (INT64_MAX - total) / mul)
			return GC_EINVAL;
		total += num * mul;
	}
	*ms = total;
	return 0;
}

static int parse_size(const cval *v, int64_t *bytes)
{
	static const struct {
		const char *unit;
		int shift;
	} units[] = {{"", 0},    {"B", 0},    {"K", 10},  {"KiB", 10},
		     {"M", 20},  {"MiB", 20}, {"G", 30},  {"GiB", 30}};
	const char *p;
	int64_t num = 0;
	int nd = 0;
	if (v->kind == V_INT) {
		*bytes = v->i;
		return 0;
	}
	if (v->kind != V_STR)
		return GC_EINVAL;
	p = v->s;
	while (*p >= '0' && *p <= '9') {
		if (num > (INT64_MAX - 9) / 10)
			return GC_EINVAL;
		num = num * 10 + (*p++ - '0');
		nd++;
	}
	if (!nd)
		return GC_EINVAL;
	p = skip_ws(p);
	for (size_t i = 0; i < GC__ARRAY_LEN(units); i++) {
		if (strcmp(p, units[i].unit) == 0) {
			if (num > (INT64_MAX >> units[i].shift))
				return GC_EINVAL;
			*bytes = num << units[i].shift;
			return 0;
		}
	}
	return GC_EINVAL;
}

static int set_string(cfg_ctx *c, char **slot, const char *s)
{
	char *d = NULL;
	if (s) {
		d = gc__strdup(s);
		if (!d)
			return ctx_nomem(c);
	}
	free(*slot);
	*slot = d;
	return 0;
}

/* Move the strings of an array value into a char ** (items become NULL). */
static int take_strv(cfg_ctx *c, cval *v, char ***out, size_t *outn)
{
	char **a = calloc(v->n ? v->n : 1, sizeof(*a));
	if (!a)
		return ctx_nomem(c);
	for (size_t i = 0; i < v->n; i++) {
		a[i] = v->items[i].s;
		v->items[i].s = NULL;
	}
	*out = a;
	*outn = v->n;
	return 0;
}

static int apply(cfg_ctx *c, const field *f, const char *section, cval *v)
{
	char *base = (char *)c->cfg;
	int line = c->key_line;
	const char *key = f->key;
	char **sp = (char **)(base + f->off);
	int64_t *ip = (int64_t *)(base + f->off);
	int64_t n64;

#define FAIL(...) ctx_fail(c, line, section, key, __VA_ARGS__)
	switch (f->type) {
	case F_TEXT:
	case F_OPT:
	case F_REQ:
	case F_IDENT:
	case F_PREFIX:
	case F_URL:
		if (v->kind != V_STR)
			return FAIL("expected a quoted string like \"text\"");
		if (f->type == F_OPT && !v->s[0])
			return set_string(c, sp, NULL);
		if (f->type == F_URL) {
			const char *m;
			if (!v->s[0])
				return set_string(c, sp, NULL);
			if ((m = check_url(v->s)) != NULL)
				return FAIL("%s", m);
			if (!strstr(v->s, "://")) {
				char *u = gc__sprintf("http://%s", v->s);
				if (!u)
					return ctx_nomem(c);
				free(*sp);
				*sp = u;
				return 0;
			}
		}
		if (f->type == F_REQ && !v->s[0])
			return FAIL("must not be empty");
		if (f->type == F_IDENT &&
		    (!v->s[0] || has_bad_chars(v->s, false)))
			return FAIL("must be a non-empty name or address "
				    "without '/', spaces or control "
				    "characters");
		if (f->type == F_PREFIX) {
			size_t l = strlen(v->s);
			if (l && v->s[0] != '/')
				return FAIL("must start with \"/\" (like "
					    "\"/gopher_cron\")");
			if (has_bad_chars(v->s, true))
				return FAIL("must not contain spaces or "
					    "control characters");
			while (l > 0 && v->s[l - 1] == '/')
				v->s[--l] = '\0';
		}
		return set_string(c, sp, v->s);
	case F_INT:
		if (v->kind != V_INT)
			return FAIL("expected an integer");
		if (v->i < f->min || v->i > f->max)
			return FAIL("%lld is out of range (%lld to %lld)",
				    (long long)v->i, (long long)f->min,
				    (long long)f->max);
		*ip = v->i;
		return 0;
	case F_LOGLEVEL: {
		int lvl;
		if (v->kind != V_STR)
			return FAIL("expected a quoted level name like "
				    "\"info\"");
		lvl = strcasecmp(v->s, "trace") == 0 ? GC_LOG_DEBUG
						       : gc_log_level_parse(v->s);
		if (lvl < 0)
			return FAIL("unknown level (use \"debug\", \"info\", "
				    "\"notice\", \"warning\" or \"error\")");
		*(int *)(base + f->off) = lvl < GC_LOG_ERR ? GC_LOG_ERR : lvl;
		return 0;
	}
	case F_DUR_MS:
	case F_DUR_S:
		if (parse_duration_ms(v, &n64) < 0)
			return FAIL("expected a number of seconds or a "
				    "duration like \"500ms\", \"2s\", \"1m\"");
		if (f->type == F_DUR_S) {
			if (n64 % 1000)
				return FAIL("must be whole seconds");
			n64 /= 1000;
		}
		if (n64 < f->min || n64 > f->max)
			return FAIL("out of range (%lld to %lld %s)",
				    (long long)f->min, (long long)f->max,
				    f->type == F_DUR_S ? "seconds"
						       : "milliseconds");
		*ip = n64;
		return 0;
	case F_SIZE:
		if (parse_size(v, &n64) < 0)
			return FAIL("expected a number of bytes or a size "
				    "like \"512KiB\" or \"1MiB\"");
		if (n64 < f->min || n64 > f->max)
			return FAIL("%lld is out of range (%lld to %lld bytes)",
				    (long long)n64, (long long)f->min,
				    (long long)f->max);
		*ip = n64;
		return 0;
	case F_ENDPOINTS:
	case F_HOSTS: {
		char ***ap = (char ***)(base + f->off);
		size_t *np = (size_t *)(base + f->off_n);
		const char *ex = f->type == F_HOSTS ? "[\"0.0.0.0:6306\"]"
						    : "[\"127.0.0.1:2379\"]";
		if (v->kind != V_ARRAY ||
		    (v->n && v->item_kind != V_STR))
			return FAIL("expected an array of strings like %s", ex);
		if (v->n == 0)
			return FAIL("needs at least one address, like %s", ex);
		for (size_t i = 0; i < v->n; i++) {
			const char *s = v->items[i].s;
			int port;
			if (f->type == F_HOSTS) {
				bool digits = s[0] && strspn(s, "0123456789") ==
							      strlen(s);
				char *tmp = NULL;
				if (digits) {
					tmp = gc__sprintf("0.0.0.0:%s", s);
					if (!tmp)
						return ctx_nomem(c);
				}
				int rc = split_host_port(tmp ? tmp : s, NULL,
							 &port, true);
				free(tmp);
				if (rc < 0)
					return FAIL("item %zu: expected "
						    "\"host:port\" like "
						    "\"0.0.0.0:6306\"",
						    i + 1);
			} else {
				const char *m = check_url(s);
				if (m)
					return FAIL("item %zu: %s", i + 1, m);
			}
		}
		gc__strv_free(*ap, *np);
		*ap = NULL;
		*np = 0;
		return take_strv(c, v, ap, np);
	}
	case F_PROJECTS: {
		int64_t **ap = (int64_t **)(base + f->off);
		size_t *np = (size_t *)(base + f->off_n);
		int64_t *a;
		if (v->kind != V_ARRAY || (v->n && v->item_kind != V_INT))
			return FAIL("expected an array of integers like [1,2]");
		for (size_t i = 0; i < v->n; i++) {
			if (v->items[i].i <= 0)
				return FAIL("project IDs must be positive "
					    "(item %zu is %lld)",
					    i + 1, (long long)v->items[i].i);
			for (size_t j = 0; j < i; j++)
				if (v->items[j].i == v->items[i].i)
					return FAIL("project %lld is listed "
						    "twice",
						    (long long)v->items[i].i);
		}
		a = malloc((v->n ? v->n : 1) * sizeof(*a));
		if (!a)
			return ctx_nomem(c);
		for (size_t i = 0; i < v->n; i++)
			a[i] = v->items[i].i;
		free(*ap);
		*ap = a;
		*np = v->n;
		return 0;
	}
	case F_MYSQL: {
		gc_mysql_config *m = (gc_mysql_config *)(base + f->off);
		char *host = NULL;
		int port = 0, rc;
		if (v->kind != V_STR)
			return FAIL("expected a quoted \"host:port\" like "
				    "\"127.0.0.1:3306\"");
		if (!v->s[0]) {
			free(m->host);
			m->host = NULL;
			m->port = 3306;
			return set_string(c, &m->service, NULL);
		}
		rc = split_host_port(v->s, &host, &port, false);
		if (rc == GC_ENOMEM)
			return ctx_nomem(c);
		if (rc < 0)
			return FAIL("expected \"host:port\" like "
				    "\"127.0.0.1:3306\" (port 1-65535)");
		if (set_string(c, &m->service, v->s) < 0) {
			free(host);
			return c->rc;
		}
		free(m->host);
		m->host = host;
		m->port = port ? port : 3306;
		return 0;
	}
	}
#undef FAIL
	return ctx_fail(c, line, section, key, "internal: unknown key type");
}

static int cfg_handler(void *user, const char *section, const char *name,
		       const char *value)
{
	cfg_ctx *c = user;
	const field *f = NULL, *top = NULL;
	const char *msg = NULL;
	cval v;
	int rc;
	(void)value; /* the raw text is in c->value */

	if (c->rc < 0)
		return 0;
	/* Check the syntax of every value, even of keys that are ignored. */
	rc = parse_value(c->value.data ? c->value.data : "", &v, &msg);
	if (rc == GC_ENOMEM)
		return ctx_nomem(c), 0;
	if (rc < 0)
		return ctx_fail(c, c->key_line, section, name, "%s", msg), 0;

	for (size_t i = 0; i < c->n_fields; i++) {
		if (strcmp(c->fields[i].key, name) != 0)
			continue;
		if (strcmp(c->fields[i].section, section) == 0)
			f = &c->fields[i];
		else if (!c->fields[i].section[0])
			top = &c->fields[i];
	}
	if (!f) {
		cval_free(&v);
		if (top)
			return ctx_fail(c, c->key_line, section, name,
					"\"%s\" is a top-level key: put it "
					"before the first [section]",
					name),
			       0;
		if (!known_section(c, section))
			return 1; /* warned about at the section header */
		gc__log(c->log, c->payload, GC_LOG_WARNING,
			"%s:%d: unknown key \"%s%s%s\", ignored", c->name,
			c->key_line, section, *section ? "." : "", name);
		return 1;
	}
	if (c->seen[f->id]) {
		cval_free(&v);
		return ctx_fail(c, c->key_line, section, name,
				"set twice (first on line %d)", c->seen[f->id]),
		       0;
	}
	c->seen[f->id] = c->key_line;
	rc = apply(c, f, section, &v);
	cval_free(&v);
	return rc < 0 ? 0 : 1;
}

static int run_parser(cfg_ctx *c)
{
	int rc = ini_parse_stream(cfg_reader, c, cfg_handler, c);
	if (c->rc < 0)
		return c->rc;
	if (rc == -2)
		return ctx_nomem(c);
	if (rc != 0)
		return ctx_fail(c, rc > 0 ? rc : c->lineno, NULL, NULL,
				"syntax error");
	return 0;
}

/* ------------------------------------------------------------ defaults */

GC_EXTERN int gc_config_default_client_ip(char *buf, size_t len)
{
	struct ifaddrs *ifs = NULL;
	bool found = false;
	if (!buf || len < INET_ADDRSTRLEN)
		return GC_EINVAL;
	if (getifaddrs(&ifs) == 0) {
		for (struct ifaddrs *i = ifs; i && !found; i = i->ifa_next) {
			const struct sockaddr_in *sin;
			uint32_t a;
			if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET ||
			    !(i->ifa_flags & IFF_UP) ||
			    (i->ifa_flags & IFF_LOOPBACK))
				continue;
			sin = (const struct sockaddr_in *)(const void *)
				      i->ifa_addr;
			a = ntohl(sin->sin_addr.s_addr);
			/* loopback and link-local are not reachable
			 * identities */
			if ((a >> 24) == 127 || (a >> 16) == 0xA9FE || a == 0)
				continue;
			found = inet_ntop(AF_INET, &sin->sin_addr, buf,
					  (socklen_t)len) != NULL;
		}
		freeifaddrs(ifs);
	}
	if (!found)
		snprintf(buf, len, "127.0.0.1");
	return 0;
}

static char *default_spool_dir(void)
{
	const char *state = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	if (geteuid() == 0)
		return gc__strdup("/var/lib/gophercron/spool");
	if (state && state[0] == '/')
		return gc__sprintf("%s/gophercron/spool", state);
	if (home && home[0] == '/')
		return gc__sprintf("%s/.local/state/gophercron/spool", home);
	return gc__sprintf("/tmp/gophercron-%u/spool", (unsigned)geteuid());
}

static int etcd_defaults(gc_etcd_config *e)
{
	e->dial_timeout_ms = 5000;
	e->prefix = gc__strdup("/gopher_cron");
	e->endpoints = calloc(1, sizeof(*e->endpoints));
	if (!e->prefix || !e->endpoints)
		return GC_ENOMEM;
	e->endpoints[0] = gc__strdup("http://127.0.0.1:2379");
	if (!e->endpoints[0])
		return GC_ENOMEM;
	e->n_endpoints = 1;
	return 0;
}

static void etcd_clear(gc_etcd_config *e)
{
	gc__strv_free(e->endpoints, e->n_endpoints);
	free(e->username);
	gc__secret_free(e->password);
	free(e->prefix);
	free(e->ca_file);
	free(e->cert_file);
	free(e->key_file);
	memset(e, 0, sizeof(*e));
}

static void mysql_clear(gc_mysql_config *m)
{
	free(m->service);
	free(m->host);
	free(m->username);
	gc__secret_free(m->password);
	free(m->database);
	memset(m, 0, sizeof(*m));
}

static void deploy_clear(gc_deploy_config *d)
{
	free(d->environment);
	gc__strv_free(d->hosts, d->n_hosts);
	free(d->view_path);
	memset(d, 0, sizeof(*d));
}

/* Line on which a key was set (0 = not set). */
static int seen_line(const cfg_ctx *c, const char *section, const char *key)
{
	for (size_t i = 0; i < c->n_fields; i++)
		if (strcmp(c->fields[i].section, section) == 0 &&
		    strcmp(c->fields[i].key, key) == 0)
			return c->seen[c->fields[i].id];
	return 0;
}

/* Endpoints without a scheme get http://, or https:// when TLS files are
 * configured; trailing '/' removed. */
static int etcd_finish(cfg_ctx *c, gc_etcd_config *e)
{
	bool tls = e->ca_file || e->cert_file;
	for (size_t i = 0; i < e->n_endpoints; i++) {
		char *s = e->endpoints[i], *u;
		size_t l, host;
		if (strstr(s, "://"))
			u = gc__strdup(s);
		else
			u = gc__sprintf("%s://%s", tls ? "https" : "http", s);
		if (!u)
			return ctx_nomem(c);
		host = (size_t)(strstr(u, "://") - u) + 3;
		l = strlen(u);
		while (l > host + 1 && u[l - 1] == '/')
			u[--l] = '\0';
		free(s);
		e->endpoints[i] = u;
	}
	if ((e->cert_file != NULL) != (e->key_file != NULL)) {
		const char *k = e->cert_file ? "cert_file" : "key_file";
		return ctx_fail(c, seen_line(c, "etcd", k), "etcd", k,
				"cert_file and key_file must be set together");
	}
	return 0;
}

GC_EXTERN void gc_agent_config_clear(gc_agent_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->report_addr);
	gc__secret_free(cfg->report_token);
	free(cfg->client_ip);
	free(cfg->spool_dir);
	free(cfg->projects);
	free(cfg->shell);
	deploy_clear(&cfg->deploy);
	etcd_clear(&cfg->etcd);
	mysql_clear(&cfg->mysql);
	free(cfg->sqlite.path);
	memset(cfg, 0, sizeof(*cfg));
}

GC_EXTERN int gc_agent_config_init(gc_agent_config *cfg)
{
	char ip[INET_ADDRSTRLEN];
	if (!cfg)
		return GC_EINVAL;
	memset(cfg, 0, sizeof(*cfg));
	cfg->log_level = GC_LOG_INFO;
	cfg->output_limit = 1024 * 1024;
	cfg->kill_grace_ms = 2000;
	cfg->claim_ttl_s = 60;
	cfg->deploy.timeout_s = 5;
	cfg->mysql.port = 3306;
	gc_config_default_client_ip(ip, sizeof(ip));
	cfg->client_ip = gc__strdup(ip);
	cfg->spool_dir = default_spool_dir();
	cfg->shell = gc__strdup(access("/bin/bash", X_OK) == 0 ? "/bin/bash"
								 : "/bin/sh");
	cfg->deploy.environment = gc__strdup("release");
	if (!cfg->client_ip || !cfg->spool_dir || !cfg->shell ||
	    !cfg->deploy.environment || etcd_defaults(&cfg->etcd) < 0) {
		gc_agent_config_clear(cfg);
		return GC_ENOMEM;
	}
	return 0;
}

GC_EXTERN void gc_service_config_clear(gc_service_config *cfg)
{
	if (!cfg)
		return;
	deploy_clear(&cfg->deploy);
	etcd_clear(&cfg->etcd);
	mysql_clear(&cfg->mysql);
	free(cfg->sqlite.path);
	gc__secret_free(cfg->jwt.secret);
	gc__secret_free(cfg->report.token);
	memset(cfg, 0, sizeof(*cfg));
}

GC_EXTERN int gc_service_config_init(gc_service_config *cfg)
{
	if (!cfg)
		return GC_EINVAL;
	memset(cfg, 0, sizeof(*cfg));
	cfg->log_level = GC_LOG_INFO;
	cfg->deploy.timeout_s = 5;
	cfg->mysql.port = 3306;
	cfg->jwt.exp_hours = 168;
	cfg->log.output_limit = 1024 * 1024;
	cfg->http.threads = GC__HTTP_THREADS;
	cfg->http.header_timeout_ms = GC__HTTP_HEADER_TIMEOUT_MS;
	cfg->http.keep_alive_timeout_ms = GC__HTTP_KEEP_ALIVE_TIMEOUT_MS;
	cfg->http.request_timeout_ms = GC__HTTP_REQUEST_TIMEOUT_MS;
	cfg->http.max_idle_per_address = GC__HTTP_MAX_IDLE_PER_ADDRESS;
	cfg->deploy.environment = gc__strdup("release");
	cfg->deploy.hosts = calloc(1, sizeof(*cfg->deploy.hosts));
	if (cfg->deploy.hosts) {
		cfg->deploy.hosts[0] = gc__strdup("0.0.0.0:6306");
		cfg->deploy.n_hosts = cfg->deploy.hosts[0] ? 1 : 0;
	}
	cfg->sqlite.path = gc__strdup("gophercron.db");
	if (!cfg->deploy.environment || !cfg->deploy.n_hosts ||
	    !cfg->sqlite.path || etcd_defaults(&cfg->etcd) < 0) {
		gc_service_config_clear(cfg);
		return GC_ENOMEM;
	}
	return 0;
}

/* ------------------------------------------------------------ loading */

static void ctx_setup(cfg_ctx *c, const char *text, size_t len,
		      const char *name, gc_log_fn log, void *payload)
{
	memset(c, 0, sizeof(*c));
	c->name = name ? name : "<string>";
	c->text = text;
	c->len = len;
	c->log = log;
	c->payload = payload;
}

static int finish(cfg_ctx *c, int rc, gc_error *err)
{
	gc__buf_free(&c->value);
	if (rc < 0 && err)
		*err = c->err;
	return rc;
}

/* Parse the text set up in `c` into `cfg` against one kind's settings and
 * sections, then check its [etcd] section. */
static int parse_into(cfg_ctx *c, void *cfg, gc_etcd_config *etcd,
		      const field *fields, size_t n_fields,
		      const char *const *sections, size_t n_sections)
{
	int rc;
	c->cfg = cfg;
	c->fields = fields;
	c->n_fields = n_fields;
	c->sections = sections;
	c->n_sections = n_sections;
	rc = run_parser(c);
	if (rc == 0)
		rc = etcd_finish(c, etcd);
	return rc;
}

/* A file that holds secrets should not be readable by every local user:
 * warn (it still loads) when its mode lets others read or write it.
 * `secrets` lists the settings found, for the message. mode 0: not a file
 * (loaded from a string). */
static void warn_if_readable(const cfg_ctx *c, unsigned mode,
			     const char *secrets)
{
	if (!mode || !*secrets || !(mode & (S_IROTH | S_IWOTH)))
		return;
	gc__log(c->log, c->payload, GC_LOG_WARNING,
		"%s holds secrets (%s) but its mode %04o lets other users "
		"%s it: chmod 640 %s (and give it to the group the daemon "
		"runs as)",
		c->name, secrets, mode & 07777,
		(mode & S_IWOTH) ? "read and change" : "read", c->name);
}

/* Append ", what" to the list when `v` is set. */
static void add_secret(char *list, size_t cap, const char *v,
		       const char *what)
{
	size_t n = strlen(list);
	if (v && *v)
		snprintf(list + n, cap - n, "%s%s", n ? ", " : "", what);
}

static int agent_load_text(gc_agent_config *cfg, const char *text, size_t len,
			   const char *name, unsigned mode, gc_log_fn log,
			   void *payload, gc_error *err)
{
	char secrets[128] = "";
	gc_agent_config tmp;
	cfg_ctx c;
	int rc;
	if (!cfg || !text)
		return gc__seterr(err, GC_EINVAL, "config: NULL argument");
	ctx_setup(&c, text, len, name, log, payload);
	if (gc_agent_config_init(&tmp) < 0) {
		ctx_nomem(&c);
		return finish(&c, GC_ENOMEM, err);
	}
	rc = parse_into(&c, &tmp, &tmp.etcd, agent_fields,
			GC__ARRAY_LEN(agent_fields), agent_sections,
			GC__ARRAY_LEN(agent_sections));
	if (rc == 0 && access(tmp.shell, X_OK) != 0)
		gc__log(log, payload, GC_LOG_WARNING,
			"%s: shell \"%s\" is not executable here", c.name,
			tmp.shell);
	if (rc < 0) {
		gc_agent_config_clear(&tmp);
		return finish(&c, rc, err);
	}
	add_secret(secrets, sizeof(secrets), tmp.report_token, "report_token");
	add_secret(secrets, sizeof(secrets), tmp.etcd.password,
		   "[etcd] password");
	add_secret(secrets, sizeof(secrets), tmp.mysql.password,
		   "[mysql] password");
	warn_if_readable(&c, mode, secrets);
	gc_agent_config_clear(cfg);
	*cfg = tmp;
	return finish(&c, 0, err);
}

/* The [jwt] secret: unset or empty (a random one per start), or at least
 * GC__JWT_SECRET_MIN bytes. Anyone who guesses it forges tokens. */
static int check_jwt_secret(cfg_ctx *c, const char *secret)
{
	size_t n = secret ? strlen(secret) : 0;
	int line = c->seen[JWT_SECRET_ID];
	if (n == 0 || n >= GC__JWT_SECRET_MIN)
		return 0;
	if (strcmp(secret, CFG_PUBLISHED_JWT_SECRET) == 0)
		return ctx_fail(c, line, "jwt", "secret",
				"the value published in GopherCron's README: "
				"anyone can forge login tokens with it; set a "
				"random one of at least %d bytes, e.g. `head "
				"-c 32 /dev/urandom | base64`",
				GC__JWT_SECRET_MIN);
	return ctx_fail(c, line, "jwt", "secret",
			"too short (%zu bytes, at least %d): a short secret "
			"can be guessed and login tokens forged with it; set "
			"a random one, e.g. `head -c 32 /dev/urandom | "
			"base64`, or leave it empty for a random secret per "
			"start",
			n, GC__JWT_SECRET_MIN);
}

static int service_load_text(gc_service_config *cfg, const char *text,
			     size_t len, const char *name, unsigned mode,
			     gc_log_fn log, void *payload, gc_error *err)
{
	gc_service_config tmp;
	char secrets[128] = "";
	cfg_ctx c;
	int rc;
	if (!cfg || !text)
		return gc__seterr(err, GC_EINVAL, "config: NULL argument");
	ctx_setup(&c, text, len, name, log, payload);
	if (gc_service_config_init(&tmp) < 0) {
		ctx_nomem(&c);
		return finish(&c, GC_ENOMEM, err);
	}
	rc = parse_into(&c, &tmp, &tmp.etcd, service_fields,
			GC__ARRAY_LEN(service_fields), service_sections,
			GC__ARRAY_LEN(service_sections));
	if (rc == 0)
		rc = check_jwt_secret(&c, tmp.jwt.secret);
	if (rc < 0) {
		gc_service_config_clear(&tmp);
		return finish(&c, rc, err);
	}
	add_secret(secrets, sizeof(secrets), tmp.jwt.secret, "[jwt] secret");
	add_secret(secrets, sizeof(secrets), tmp.report.token,
		   "[report] token");
	add_secret(secrets, sizeof(secrets), tmp.etcd.password,
		   "[etcd] password");
	add_secret(secrets, sizeof(secrets), tmp.mysql.password,
		   "[mysql] password");
	warn_if_readable(&c, mode, secrets);
	gc_service_config_clear(cfg);
	*cfg = tmp;
	return finish(&c, 0, err);
}

/* Read a whole config file (bounded) through an O_CLOEXEC stream; *mode
 * gets the mode of the file read (fstat of that very descriptor). */
static int read_file(const char *path, char **out, size_t *outlen,
		     unsigned *mode, gc_error *err)
{
	gc__buf b = GC__BUF_INIT;
	struct stat st;
	FILE *f;
	char chunk[4096];
	size_t n;
	*mode = 0;
	if (!path)
		return gc__seterr(err, GC_EINVAL, "config: NULL path");
	f = fopen(path, "re");
	if (!f)
		return gc__seterr_errno(err, errno == ENOENT ? GC_ENOTFOUND
							      : GC_ESYS,
					errno, "%s: cannot open", path);
	if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode))
		*mode = (unsigned)st.st_mode & 07777;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (b.len + n > CFG_MAX_FILE) {
			fclose(f);
			gc__buf_free(&b);
			return gc__seterr(err, GC_ETOOBIG,
					  "%s: larger than %d bytes", path,
					  CFG_MAX_FILE);
		}
		if (gc__buf_append(&b, chunk, n) < 0) {
			fclose(f);
			gc__buf_free(&b);
			return gc__seterr(err, GC_ENOMEM, "%s: out of memory",
					  path);
		}
	}
	if (ferror(f)) {
		int e = errno;
		fclose(f);
		gc__buf_free(&b);
		return gc__seterr_errno(err, GC_EIO, e, "%s: read failed",
					path);
	}
	fclose(f);
	*outlen = b.len;
	*out = gc__buf_detach(&b);
	if (!*out)
		return gc__seterr(err, GC_ENOMEM, "%s: out of memory", path);
	return 0;
}

GC_EXTERN int gc_agent_config_load_string(gc_agent_config *cfg,
					  const char *text, const char *name,
					  gc_log_fn log, void *payload,
					  gc_error *err)
{
	return agent_load_text(cfg, text, text ? strlen(text) : 0, name, 0, log,
			       payload, err);
}

GC_EXTERN int gc_agent_config_load(gc_agent_config *cfg, const char *path,
				   gc_log_fn log, void *payload,
				   gc_error *err)
{
	char *text = NULL;
	size_t len = 0;
	unsigned mode = 0;
	int rc = read_file(path, &text, &len, &mode, err);
	if (rc < 0)
		return rc;
	rc = agent_load_text(cfg, text, len, path, mode, log, payload, err);
	gc__secret_free(text); /* it holds the secrets in clear */
	return rc;
}

GC_EXTERN int gc_service_config_load_string(gc_service_config *cfg,
					    const char *text,
					    const char *name, gc_log_fn log,
					    void *payload, gc_error *err)
{
	return service_load_text(cfg, text, text ? strlen(text) : 0, name, 0,
				 log, payload, err);
}

GC_EXTERN int gc_service_config_load(gc_service_config *cfg,
				     const char *path, gc_log_fn log,
				     void *payload, gc_error *err)
{
	char *text = NULL;
	size_t len = 0;
	unsigned mode = 0;
	int rc = read_file(path, &text, &len, &mode, err);
	if (rc < 0)
		return rc;
	rc = service_load_text(cfg, text, len, path, mode, log, payload, err);
	gc__secret_free(text); /* it holds the secrets in clear */
	return rc;
}
