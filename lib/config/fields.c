/* The keys of the agent's and the service's files: for each its section,
 * its member and its setter (type, units, range). README.md,
 * "Configuration reference", lists the same keys for people. */
#include "config_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------ checks */

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

/* Digits at *pp (at least one) as a non-negative number. */
static int read_digits(const char **pp, int64_t *out)
{
	const char *p = *pp;
	int64_t num = 0;
	if (*p < '0' || *p > '9')
		return GC_EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (num > (INT64_MAX - 9) / 10)
			return GC_EINVAL;
		num = num * 10 + (*p - '0');
	}
	*pp = p;
	*out = num;
	return 0;
}

/* Duration: integer seconds, or "1h2m3s500ms"-style with units. */
static int parse_duration_ms(const gc__cfg_value *v, int64_t *ms)
{
	const char *p;
	int64_t total = 0;
	if (v->kind == GC__CFG_INT) {
		if (v->i > INT64_MAX / 1000 || v->i < INT64_MIN / 1000)
			return GC_EINVAL;
		*ms = v->i * 1000;
		return 0;
	}
	if (v->kind != GC__CFG_STR || !v->s[0])
		return GC_EINVAL;
	for (p = v->s; *p;) {
		int64_t num, mul;
		if (read_digits(&p, &num) < 0)
			return GC_EINVAL;
		if (strncmp(p, "ms", 2) == 0) {
			mul = 1;
			p++;
		} else if (*p && strchr("smh", *p)) {
			mul = *p == 's' ? 1000 : *p == 'm' ? 60000 : 3600000;
		} else {
			return GC_EINVAL;
		}
		p++;
		if (num > (INT64_MAX - total) / mul)
			return GC_EINVAL;
		total += num * mul;
	}
	*ms = total;
	return 0;
}

/* Size: integer bytes, or "512KiB"-style (powers of 1024). */
static int parse_size(const gc__cfg_value *v, int64_t *bytes)
{
	static const struct {
		const char *unit;
		int shift;
	} units[] = {{"", 0},	{"B", 0},    {"K", 10}, {"KiB", 10},
		     {"M", 20}, {"MiB", 20}, {"G", 30}, {"GiB", 30}};
	const char *p;
	int64_t num;
	if (v->kind == GC__CFG_INT) {
		*bytes = v->i;
		return 0;
	}
	p = v->kind == GC__CFG_STR ? v->s : "";
	if (read_digits(&p, &num) < 0)
		return GC_EINVAL;
	while (gc__cfg_is_blank(*p))
		p++;
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

/* ------------------------------------------------------------ strings */

/* Take the string of `v` into *slot (NULL for "" when `empty_is_null`). */
static int take_string(gc__cfg_ctx *c, char **slot, gc__cfg_value *v,
		       bool empty_is_null)
{
	if (v->kind != GC__CFG_STR)
		return gc__cfg_fail_key(
		    c, "expected a quoted string like \"text\"");
	free(*slot);
	*slot = empty_is_null && !v->s[0] ? NULL : v->s;
	if (*slot)
		v->s = NULL;
	return 0;
}

/* Free text, "" kept. */
static int set_text(gc__cfg_ctx *c, const gc__cfg_field *f, gc__cfg_value *v,
		    void *slot)
{
	(void)f;
	return take_string(c, slot, v, false);
}

/* Optional string: "" = not set (NULL). */
static int set_optional(gc__cfg_ctx *c, const gc__cfg_field *f,
			gc__cfg_value *v, void *slot)
{
	(void)f;
	return take_string(c, slot, v, true);
}

static int set_required(gc__cfg_ctx *c, const gc__cfg_field *f,
			gc__cfg_value *v, void *slot)
{
	(void)f;
	if (v->kind == GC__CFG_STR && !v->s[0])
		return gc__cfg_fail_key(c, "must not be empty");
	return take_string(c, slot, v, false);
}

/* A name or address: no '/', whitespace or control characters. */
static int set_ident(gc__cfg_ctx *c, const gc__cfg_field *f, gc__cfg_value *v,
		     void *slot)
{
	(void)f;
	if (v->kind == GC__CFG_STR && (!v->s[0] || has_bad_chars(v->s, false)))
		return gc__cfg_fail_key(c,
					"must be a non-empty name or address "
					"without '/', spaces or control "
					"characters");
	return take_string(c, slot, v, false);
}

/* "" or "/..." without a trailing '/'. */
static int set_prefix(gc__cfg_ctx *c, const gc__cfg_field *f, gc__cfg_value *v,
		      void *slot)
{
	size_t l;
	(void)f;
	if (v->kind != GC__CFG_STR)
		return take_string(c, slot, v, false);
	l = strlen(v->s);
	if (l && v->s[0] != '/')
		return gc__cfg_fail_key(c, "must start with \"/\" (like "
					   "\"/gopher_cron\")");
	if (has_bad_chars(v->s, true))
		return gc__cfg_fail_key(c, "must not contain spaces or "
					   "control characters");
	while (l > 0 && v->s[l - 1] == '/')
		v->s[--l] = '\0';
	return take_string(c, slot, v, false);
}

/* Optional http(s) URL; "http://" added when no scheme is given. */
static int set_url(gc__cfg_ctx *c, const gc__cfg_field *f, gc__cfg_value *v,
		   void *slot)
{
	const char *m;
	(void)f;
	if (v->kind != GC__CFG_STR || !v->s[0])
		return take_string(c, slot, v, true);
	if ((m = check_url(v->s)) != NULL)
		return gc__cfg_fail_key(c, "%s", m);
	if (!strstr(v->s, "://")) {
		char *u = gc__sprintf("http://%s", v->s);
		if (!u)
			return gc__cfg_nomem(c);
		free(v->s);
		v->s = u;
	}
	return take_string(c, slot, v, false);
}

/* ------------------------------------------------------------ numbers */

static int set_int(gc__cfg_ctx *c, const gc__cfg_field *f, gc__cfg_value *v,
		   void *slot)
{
	if (v->kind != GC__CFG_INT)
		return gc__cfg_fail_key(c, "expected an integer");
	if (v->i < f->min || v->i > f->max)
		return gc__cfg_fail_key(
		    c, "%lld is out of range (%lld to %lld)", (long long)v->i,
		    (long long)f->min, (long long)f->max);
	*(int64_t *)slot = v->i;
	return 0;
}

/* A level name (GopherCron's logrus names) -> GC_LOG_* (an int). */
static int set_log_level(gc__cfg_ctx *c, const gc__cfg_field *f,
			 gc__cfg_value *v, void *slot)
{
	int lvl;
	(void)f;
	if (v->kind != GC__CFG_STR)
		return gc__cfg_fail_key(c, "expected a quoted level name like "
					   "\"info\"");
	lvl = strcasecmp(v->s, "trace") == 0 ? GC_LOG_DEBUG
					     : gc_log_level_parse(v->s);
	if (lvl < 0)
		return gc__cfg_fail_key(c, "unknown level (use \"debug\", "
					   "\"info\", \"notice\", \"warning\" "
					   "or \"error\")");
	*(int *)slot = lvl < GC_LOG_ERR ? GC_LOG_ERR : lvl;
	return 0;
}

static int set_duration(gc__cfg_ctx *c, const gc__cfg_field *f,
			gc__cfg_value *v, int64_t *slot, bool seconds)
{
	int64_t n;
	if (parse_duration_ms(v, &n) < 0)
		return gc__cfg_fail_key(c, "expected a number of seconds or a "
					   "duration like \"500ms\", \"2s\", "
					   "\"1m\"");
	if (seconds && n % 1000)
		return gc__cfg_fail_key(c, "must be whole seconds");
	if (seconds)
		n /= 1000;
	if (n < f->min || n > f->max)
		return gc__cfg_fail_key(c, "out of range (%lld to %lld %s)",
					(long long)f->min, (long long)f->max,
					seconds ? "seconds" : "milliseconds");
	*slot = n;
	return 0;
}

/* Duration in milliseconds. */
static int set_duration_ms(gc__cfg_ctx *c, const gc__cfg_field *f,
			   gc__cfg_value *v, void *slot)
{
	return set_duration(c, f, v, slot, false);
}

/* Duration in whole seconds. */
static int set_duration_s(gc__cfg_ctx *c, const gc__cfg_field *f,
			  gc__cfg_value *v, void *slot)
{
	return set_duration(c, f, v, slot, true);
}

static int set_size(gc__cfg_ctx *c, const gc__cfg_field *f, gc__cfg_value *v,
		    void *slot)
{
	int64_t n;
	if (parse_size(v, &n) < 0)
		return gc__cfg_fail_key(c,
					"expected a number of bytes or a size "
					"like \"512KiB\" or \"1MiB\"");
	if (n < f->min || n > f->max)
		return gc__cfg_fail_key(c,
					"%lld is out of range (%lld to %lld "
					"bytes)",
					(long long)n, (long long)f->min,
					(long long)f->max);
	*(int64_t *)slot = n;
	return 0;
}

/* ------------------------------------------------------------ arrays */

/* Check `v` is a non-empty array of strings; `example` for messages. */
static int want_addresses(gc__cfg_ctx *c, const gc__cfg_value *v,
			  const char *example)
{
	if (v->kind != GC__CFG_ARRAY || (v->n && v->item_kind != GC__CFG_STR))
		return gc__cfg_fail_key(
		    c, "expected an array of strings like %s", example);
	if (v->n == 0)
		return gc__cfg_fail_key(
		    c, "needs at least one address, like %s", example);
	return 0;
}

/* Move the strings of the array `v` into the char ** at `slot`, its
 * count at the field's off_n. */
static int take_strings(gc__cfg_ctx *c, const gc__cfg_field *f,
			gc__cfg_value *v, void *slot)
{
	char ***ap = slot;
	size_t *np = (size_t *)((char *)c->cfg + f->off_n);
	char **a = calloc(v->n, sizeof(*a));
	if (!a)
		return gc__cfg_nomem(c);
	for (size_t i = 0; i < v->n; i++) {
		a[i] = v->items[i].s;
		v->items[i].s = NULL;
	}
	gc__strv_free(*ap, *np);
	*ap = a;
	*np = v->n;
	return 0;
}

/* [etcd] service: URLs or "host:port" (made URLs by
 * gc__cfg_etcd_finish). */
static int set_endpoints(gc__cfg_ctx *c, const gc__cfg_field *f,
			 gc__cfg_value *v, void *slot)
{
	if (want_addresses(c, v, "[\"127.0.0.1:2379\"]") < 0)
		return c->rc;
	for (size_t i = 0; i < v->n; i++) {
		const char *m = check_url(v->items[i].s);
		if (m)
			return gc__cfg_fail_key(c, "item %zu: %s", i + 1, m);
	}
	return take_strings(c, f, v, slot);
}

/* [deploy] host: listen addresses "host:port", "[v6]:port" or "port". */
static int set_hosts(gc__cfg_ctx *c, const gc__cfg_field *f, gc__cfg_value *v,
		     void *slot)
{
	if (want_addresses(c, v, "[\"0.0.0.0:6306\"]") < 0)
		return c->rc;
	for (size_t i = 0; i < v->n; i++) {
		const char *s = v->items[i].s;
		char *full = NULL;
		int port, rc;
		if (s[0] && strspn(s, "0123456789") == strlen(s) &&
		    !(full = gc__sprintf("0.0.0.0:%s", s)))
			return gc__cfg_nomem(c);
		rc = split_host_port(full ? full : s, NULL, &port, true);
		free(full);
		if (rc < 0)
			return gc__cfg_fail_key(c,
						"item %zu: expected "
						"\"host:port\" like "
						"\"0.0.0.0:6306\"",
						i + 1);
	}
	return take_strings(c, f, v, slot);
}

/* Project IDs: positive, each once. */
static int set_projects(gc__cfg_ctx *c, const gc__cfg_field *f,
			gc__cfg_value *v, void *slot)
{
	int64_t **ap = slot, *a;
	size_t *np = (size_t *)((char *)c->cfg + f->off_n);
	if (v->kind != GC__CFG_ARRAY || (v->n && v->item_kind != GC__CFG_INT))
		return gc__cfg_fail_key(c, "expected an array of integers like "
					   "[1,2]");
	for (size_t i = 0; i < v->n; i++) {
		if (v->items[i].i <= 0)
			return gc__cfg_fail_key(c,
						"project IDs must be positive "
						"(item %zu is %lld)",
						i + 1,
						(long long)v->items[i].i);
		for (size_t j = 0; j < i; j++)
			if (v->items[j].i == v->items[i].i)
				return gc__cfg_fail_key(
				    c, "project %lld is listed twice",
				    (long long)v->items[i].i);
	}
	a = malloc((v->n ? v->n : 1) * sizeof(*a));
	if (!a)
		return gc__cfg_nomem(c);
	for (size_t i = 0; i < v->n; i++)
		a[i] = v->items[i].i;
	free(*ap);
	*ap = a;
	*np = v->n;
	return 0;
}

/* [mysql] service "host:port" (port 3306 when absent): sets service, host
 * and port of the gc_mysql_config at `slot`; "" = no MySQL. */
static int set_mysql_service(gc__cfg_ctx *c, const gc__cfg_field *f,
			     gc__cfg_value *v, void *slot)
{
	gc_mysql_config *m = slot;
	char *host = NULL;
	int port = 0, rc;
	(void)f;
	if (v->kind != GC__CFG_STR)
		return gc__cfg_fail_key(c,
					"expected a quoted \"host:port\" like "
					"\"127.0.0.1:3306\"");
	if (v->s[0]) {
		rc = split_host_port(v->s, &host, &port, false);
		if (rc == GC_ENOMEM)
			return gc__cfg_nomem(c);
		if (rc < 0)
			return gc__cfg_fail_key(c,
						"expected \"host:port\" like "
						"\"127.0.0.1:3306\" (port "
						"1-65535)");
	}
	free(m->host);
	m->host = host;
	m->port = port ? port : 3306;
	return take_string(c, &m->service, v, true);
}

/* ------------------------------------------------------------ etcd */

int gc__cfg_etcd_finish(gc__cfg_ctx *c, gc_etcd_config *e)
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
			return gc__cfg_nomem(c);
		host = (size_t)(strstr(u, "://") - u) + 3;
		l = strlen(u);
		while (l > host + 1 && u[l - 1] == '/')
			u[--l] = '\0';
		free(s);
		e->endpoints[i] = u;
	}
	if ((e->cert_file != NULL) != (e->key_file != NULL)) {
		const char *k = e->cert_file ? "cert_file" : "key_file";
		return gc__cfg_fail(c, gc__cfg_setting_line(c, "etcd", k),
				    "etcd", k,
				    "cert_file and key_file must be set "
				    "together");
	}
	return 0;
}

/* ------------------------------------------------------------ tables */

#define FIELD(sec, key, set, st, m)                                            \
	{                                                                      \
		sec, key, set, offsetof(st, m), 0, 0, 0                        \
	}
#define RANGE(sec, key, set, st, m, lo, hi)                                    \
	{                                                                      \
		sec, key, set, offsetof(st, m), 0, lo, hi                      \
	}
#define ARRAY(sec, key, set, st, m, n)                                         \
	{                                                                      \
		sec, key, set, offsetof(st, m), offsetof(st, n), 0, 0          \
	}

#define ETCD_FIELDS(st)                                                        \
	ARRAY("etcd", "service", set_endpoints, st, etcd.endpoints,            \
	      etcd.n_endpoints),                                               \
	    FIELD("etcd", "username", set_optional, st, etcd.username),        \
	    FIELD("etcd", "password", set_optional, st, etcd.password),        \
	    RANGE("etcd", "dialtimeout", set_int, st, etcd.dial_timeout_ms, 1, \
		  600000),                                                     \
	    FIELD("etcd", "prefix", set_prefix, st, etcd.prefix),              \
	    FIELD("etcd", "ca_file", set_optional, st, etcd.ca_file),          \
	    FIELD("etcd", "cert_file", set_optional, st, etcd.cert_file),      \
	    FIELD("etcd", "key_file", set_optional, st, etcd.key_file)

#define MYSQL_FIELDS(st)                                                       \
	FIELD("mysql", "service", set_mysql_service, st, mysql),               \
	    FIELD("mysql", "username", set_optional, st, mysql.username),      \
	    FIELD("mysql", "password", set_optional, st, mysql.password),      \
	    FIELD("mysql", "database", set_optional, st, mysql.database)

static const gc__cfg_field agent_fields[] = {
    FIELD("", "log_level", set_log_level, gc_agent_config, log_level),
    FIELD("", "report_addr", set_url, gc_agent_config, report_addr),
    FIELD("", "report_token", set_optional, gc_agent_config, report_token),
    FIELD("", "client_ip", set_ident, gc_agent_config, client_ip),
    FIELD("", "spool_dir", set_required, gc_agent_config, spool_dir),
    RANGE("", "output_limit", set_size, gc_agent_config, output_limit, 1,
	  INT64_C(1) << 30),
    RANGE("", "kill_grace", set_duration_ms, gc_agent_config, kill_grace_ms, 0,
	  3600000),
    RANGE("", "claim_ttl", set_duration_s, gc_agent_config, claim_ttl_s, 1,
	  86400),
    ARRAY("", "projects", set_projects, gc_agent_config, projects, n_projects),
    FIELD("", "shell", set_required, gc_agent_config, shell),
    /* GopherCron 1.10's client files put these two inside [etcd]: the
     * same settings as at top level. */
    ARRAY("etcd", "projects", set_projects, gc_agent_config, projects,
	  n_projects),
    FIELD("etcd", "shell", set_required, gc_agent_config, shell),
    FIELD("deploy", "environment", set_text, gc_agent_config,
	  deploy.environment),
    RANGE("deploy", "timeout", set_duration_s, gc_agent_config,
	  deploy.timeout_s, 1, 3600),
    ETCD_FIELDS(gc_agent_config),
    MYSQL_FIELDS(gc_agent_config),
    FIELD("sqlite", "path", set_optional, gc_agent_config, sqlite.path),
    RANGE("agent", "max_clock_offset", set_duration_ms, gc_agent_config,
	  agent.max_clock_offset_ms, 1, 3600000),
    RANGE("agent", "claim_ahead", set_duration_ms, gc_agent_config,
	  agent.claim_ahead_ms, 0, 5000),
};

static const gc__cfg_field service_fields[] = {
    FIELD("", "log_level", set_log_level, gc_service_config, log_level),
    FIELD("deploy", "environment", set_text, gc_service_config,
	  deploy.environment),
    ARRAY("deploy", "host", set_hosts, gc_service_config, deploy.hosts,
	  deploy.n_hosts),
    RANGE("deploy", "timeout", set_duration_s, gc_service_config,
	  deploy.timeout_s, 1, 3600),
    FIELD("deploy", "view_path", set_optional, gc_service_config,
	  deploy.view_path),
    ETCD_FIELDS(gc_service_config),
    MYSQL_FIELDS(gc_service_config),
    FIELD("sqlite", "path", set_required, gc_service_config, sqlite.path),
    FIELD("jwt", "secret", set_optional, gc_service_config, jwt.secret),
    RANGE("jwt", "exp", set_int, gc_service_config, jwt.exp_hours, 1, 87600),
    FIELD("report", "token", set_optional, gc_service_config, report.token),
    RANGE("log", "retention_days", set_int, gc_service_config,
	  log.retention_days, 0, 36500),
    RANGE("log", "output_limit", set_size, gc_service_config, log.output_limit,
	  256, INT64_C(64) << 20),
    RANGE("http", "threads", set_int, gc_service_config, http.threads, 1, 4096),
    RANGE("http", "header_timeout", set_duration_ms, gc_service_config,
	  http.header_timeout_ms, 100, 3600000),
    RANGE("http", "keep_alive_timeout", set_duration_ms, gc_service_config,
	  http.keep_alive_timeout_ms, 100, 3600000),
    RANGE("http", "request_timeout", set_duration_ms, gc_service_config,
	  http.request_timeout_ms, 1000, 3600000),
    RANGE("http", "max_idle_per_address", set_int, gc_service_config,
	  http.max_idle_per_address, 0, 65536),
};

static const char *const agent_sections[] = {"etcd", "mysql", "deploy",
					     "sqlite", "agent"};
static const char *const service_sections[] = {
    "etcd", "mysql", "deploy", "sqlite", "jwt", "report", "log", "http"};

_Static_assert(GC__ARRAY_LEN(agent_fields) <= GC__CFG_MAX_FIELDS &&
		   GC__ARRAY_LEN(service_fields) <= GC__CFG_MAX_FIELDS,
	       "gc__cfg_ctx.seen has room for GC__CFG_MAX_FIELDS fields");

const gc__cfg_schema gc__cfg_agent_schema = {
    agent_fields, GC__ARRAY_LEN(agent_fields), agent_sections,
    GC__ARRAY_LEN(agent_sections)};
const gc__cfg_schema gc__cfg_service_schema = {
    service_fields, GC__ARRAY_LEN(service_fields), service_sections,
    GC__ARRAY_LEN(service_sections)};
