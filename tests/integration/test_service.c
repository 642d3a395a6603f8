/* gc_service over HTTP against a real etcd, with SQLite and with MariaDB:
 * every route, the envelope, authentication and project isolation, bad
 * input, the report ingest (idempotent per run), metrics, the admin page,
 * the failed-login throttle, and two services sharing one etcd + store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "harness.h"
#include "logbuf.h"
#include "httpresp.h"
#include "service/svc.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <jwt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECRET "test-secret-0123456789-0123456789-abcdef"
#define REPORT_TOKEN "agent-report-token"

/* ------------------------------------------------------------- fixture */

static struct fixture {
	gct_etcd *etcd;
	gct_mariadb *db;   /* MariaDB group only */
	char *dir;
	char *prefix;      /* etcd prefix of this group */
	gc_service_config cfg;
	gc_service *svc;
	int port;
	gc_etcd *ec;       /* direct etcd access for checks */
	char *admin_tok;
	gct_logbuf log;    /* every line the services logged */
	int log_controls;  /* lines holding a control character */
} F;

/* Source address of the next requests (NULL: the kernel's choice): the
 * throttle tests log in from 127.0.0.2, 127.0.0.3, ... */
static const char *src_ip;

/* One request to port `port`. `hdrs`: NULL-terminated extra header lines. */
static void http_port(resp *r, int port, const char *method,
		      const char *path, const char *token, const char *ctype,
		      const char *body, size_t body_len,
		      const char *const *hdrs)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char url[4096], line[8192];
	CURLcode rc;
	memset(r, 0, sizeof(*r));
	assert_non_null(c);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (src_ip) {
		snprintf(line, sizeof(line), "host!%s", src_ip);
		curl_easy_setopt(c, CURLOPT_INTERFACE, line);
	}
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	if (token) {
		snprintf(line, sizeof(line), "access-token: %s", token);
		h = curl_slist_append(h, line);
	}
	if (ctype) {
		snprintf(line, sizeof(line), "Content-Type: %s", ctype);
		h = curl_slist_append(h, line);
	}
	for (size_t i = 0; hdrs && hdrs[i]; i++)
		h = curl_slist_append(h, hdrs[i]);
	h = curl_slist_append(h, "Expect:");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)body_len);
	}
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK)
		fail_msg("%s %s: %s", method, path, curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (r->body)
		r->json = cJSON_Parse(r->body);
}

static void http(resp *r, const char *method, const char *path,
		 const char *token, const char *ctype, const char *body,
		 const char *const *hdrs)
{
	http_port(r, F.port, method, path, token, ctype, body,
		  body ? strlen(body) : 0, hdrs);
}

static void get(resp *r, const char *token, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void get(resp *r, const char *token, const char *fmt, ...)
{
	char path[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	http(r, "GET", path, token, NULL, NULL, NULL);
}

/* POST a form body given printf-style. */
static void post(resp *r, const char *token, const char *path,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void post(resp *r, const char *token, const char *path,
		 const char *fmt, ...)
{
	char body[65536];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	http(r, "POST", path, token, "application/x-www-form-urlencoded", body,
	     NULL);
}

static void post_json(resp *r, const char *token, const char *path,
		      const char *json)
{
	http(r, "POST", path, token, "application/json", json, NULL);
}

static int code(const resp *r)
{
	const cJSON *m = cJSON_GetObjectItem(r->json, "meta");
	const cJSON *c = cJSON_GetObjectItem(m, "code");
	if (!cJSON_IsNumber(c))
		fail_msg("no meta.code in: %.300s", r->body ? r->body : "");
	return c->valueint;
}

static const char *msg(const resp *r)
{
	const cJSON *m = cJSON_GetObjectItem(r->json, "meta");
	const cJSON *s = cJSON_GetObjectItem(m, "msg");
	return cJSON_IsString(s) ? s->valuestring : "";
}

static cJSON *payload(const resp *r)
{
	return cJSON_GetObjectItem(r->json, "response");
}

/* Assert code (and HTTP status = code < 600 ? code : 200). */
#define expect_code(r, want)                                                 \
	do {                                                                 \
		int got_ = code(r);                                          \
		if (got_ != (want))                                          \
			fail_msg("code %d, want %d: %.400s", got_, (want),   \
				 (r)->body);                                 \
		assert_int_equal((r)->status,                                \
				 (want) == 0 ? 200 : (want) < 600 ? (want) : 200); \
	} while (0)

static void expect_msg_has(const resp *r, const char *needle)
{
	if (!strstr(msg(r), needle))
		fail_msg("message \"%s\" lacks \"%s\"", msg(r), needle);
}

static char *enc(const char *s)
{
	char *e = curl_easy_escape(NULL, s, 0), *out = strdup(e);
	curl_free(e);
	return out;
}

static char *login(const char *account, const char *password)
{
	resp r;
	char *tok;
	post(&r, NULL, "/api/v1/user/login", "account=%s&password=%s", account,
	     password);
	expect_code(&r, 0);
	tok = strdup(cJSON_GetObjectItem(payload(&r), "token")->valuestring);
	resp_free(&r);
	return tok;
}

static int64_t create_project(const char *title)
{
	resp r;
	int64_t id;
	post(&r, F.admin_tok, "/api/v1/project/create", "title=%s&remark=r",
	     title);
	expect_code(&r, 0);
	id = (int64_t)cJSON_GetObjectItem(payload(&r), "project_id")->valuedouble;
	assert_true(id > 0);
	resp_free(&r);
	return id;
}

/* Save a new task and return its id (found by name in the list). */
static char *create_task(const char *tok, int64_t pid, const char *name,
			 const char *cron, int noseize)
{
	resp r;
	char *ec = enc(cron), *id = NULL;
	cJSON *it;
	post(&r, tok, "/api/v1/crontab/save",
	     "project_id=%" PRId64 "&name=%s&command=echo+hi&cron=%s"
	     "&status=1&noseize=%d",
	     pid, name, ec, noseize);
	free(ec);
	expect_code(&r, 0);
	assert_true(cJSON_IsNull(payload(&r)));
	resp_free(&r);
	get(&r, tok, "/api/v1/crontab/list?project_id=%" PRId64, pid);
	expect_code(&r, 0);
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(payload(&r), "list"))
	{
		if (strcmp(cJSON_GetObjectItem(it, "name")->valuestring, name) ==
		    0)
			id = strdup(
				cJSON_GetObjectItem(it, "task_id")->valuestring);
	}
	resp_free(&r);
	assert_non_null(id);
	return id;
}

static char *key(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *key(const char *fmt, ...)
{
	char rest[1024], *out;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rest, sizeof(rest), fmt, ap);
	va_end(ap);
	out = malloc(strlen(F.prefix) + strlen(rest) + 1);
	memcpy(out, F.prefix, strlen(F.prefix));
	memcpy(out + strlen(F.prefix), rest, strlen(rest) + 1);
	return out;
}

/* Value of an etcd key (malloc'd) or NULL when absent; *lease optional. */
static char *etcd_value(const char *k, int64_t *lease)
{
	gc_etcd_response r = {0};
	gc_error err;
	char *v = NULL;
	assert_int_equal(gc_etcd_get(&r, F.ec, k, NULL, &err), 0);
	if (r.kvs_count) {
		v = strdup(r.kvs[0].value);
		if (lease)
			*lease = r.kvs[0].lease;
	}
	gc_etcd_response_clear(&r);
	return v;
}

static void etcd_put(const char *k, const char *v)
{
	gc_error err;
	assert_int_equal(gc_etcd_put(NULL, F.ec, k, v, strlen(v), 0, 0, &err),
			 0);
}

static void etcd_delete(const char *k)
{
	gc_error err;
	assert_int_equal(gc_etcd_delete(NULL, NULL, F.ec, k, 0, &err), 0);
}

static int etcd_count(const char *prefix)
{
	gc_etcd_get_options go = GC_ETCD_GET_OPTIONS_INIT;
	gc_etcd_response r = {0};
	gc_error err;
	int n;
	go.flags = GC_ETCD_PREFIX | GC_ETCD_COUNT_ONLY;
	assert_int_equal(gc_etcd_get(&r, F.ec, prefix, &go, &err), 0);
	n = (int)r.count;
	gc_etcd_response_clear(&r);
	return n;
}

static void quiet_log(int level, const char *m, void *p)
{
	(void)p;
	gct_logbuf_fn(level, m, &F.log);
	for (const char *s = m; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f) {
			__atomic_add_fetch(&F.log_controls, 1,
					   __ATOMIC_SEQ_CST);
			break;
		}
	if (level <= GC_LOG_WARNING && getenv("GC_TEST_VERBOSE"))
		fprintf(stderr, "service: %s\n", m);
	else if (level <= GC_LOG_ERR)
		fprintf(stderr, "service: %s\n", m);
}

static int start_service(gc_service **svc, int *port)
{
	gc_service_options o = GC_SERVICE_OPTIONS_INIT;
	gc_error err;
	o.log = quiet_log;
	o.num_threads = 8;
	o.login_max_failures = 8;
	o.login_max_delay_s = 2;
	if (gc_service_new(svc, &F.cfg, &o, &err) != 0 ||
	    gc_service_start(*svc, &err) != 0) {
		fprintf(stderr, "service: %s\n", err.msg);
		return -1;
	}
	*port = gc_service_port(*svc, 0);
	return *port > 0 ? 0 : -1;
}

static int setup_common(int mysql)
{
	char cfgtext[4096], dbline[512];
	gc_etcd_options eo;
	const char *eps[2];
	gc_error err;

	curl_global_init(CURL_GLOBAL_ALL);
	memset(&F, 0, sizeof(F));
	gct_logbuf_init(&F.log);
	if (gct_etcd_start(&F.etcd, 1, NULL) != 0)
		return -1;
	F.dir = gct_tmpdir("svc");
	F.prefix = strdup(mysql ? "/gc_my" : "/gc_lite");
	if (mysql) {
		if (gct_mariadb_start(&F.db) != 0)
			return -1;
		snprintf(dbline, sizeof(dbline),
			 "[mysql]\nservice = \"127.0.0.1:%d\"\nusername = "
			 "\"gc\"\npassword = \"gcpass\"\ndatabase = "
			 "\"gophercron\"\n",
			 gct_mariadb_port(F.db));
	} else {
		snprintf(dbline, sizeof(dbline), "[sqlite]\npath = \"%s/gc.db\"\n",
			 F.dir);
	}
	snprintf(cfgtext, sizeof(cfgtext),
		 "log_level = \"info\"\n"
		 "[deploy]\nhost = [\"127.0.0.1:1\"]\ntimeout = 5\n"
		 "view_path = \"%s/view\"\n"
		 "[etcd]\nservice = [\"%s\"]\nprefix = \"%s\"\n"
		 "%s"
		 "[jwt]\nsecret = \"" SECRET "\"\nexp = 1\n"
		 "[report]\ntoken = \"" REPORT_TOKEN "\"\n",
		 F.dir, gct_etcd_endpoint(F.etcd, 0), F.prefix, dbline);
	gc_service_config_init(&F.cfg, GC_SERVICE_CONFIG_VERSION);
	if (gc_service_config_load_string(&F.cfg, cfgtext, "test.toml", NULL,
					  NULL, &err) != 0) {
		fprintf(stderr, "config: %s\n", err.msg);
		return -1;
	}
	/* Port 0: let the kernel pick (the file format wants a real port). */
	free(F.cfg.deploy.hosts[0]);
	F.cfg.deploy.hosts[0] = strdup("127.0.0.1:0");
	if (start_service(&F.svc, &F.port) != 0)
		return -1;
	gc_etcd_options_init(&eo, GC_ETCD_OPTIONS_VERSION);
	eps[0] = gct_etcd_endpoint(F.etcd, 0);
	eps[1] = NULL;
	eo.endpoints = eps;
	if (gc_etcd_new(&F.ec, &eo, &err) != 0)
		return -1;
	F.admin_tok = login("admin", "123456");
	return 0;
}

static int setup_sqlite(void **state)
{
	(void)state;
	return setup_common(0);
}

static int setup_mysql(void **state)
{
	(void)state;
	return setup_common(1);
}

static int teardown(void **state)
{
	(void)state;
	gc_service_free(F.svc);
	gc_etcd_free(F.ec);
	gc_service_config_clear(&F.cfg);
	if (F.db)
		gct_mariadb_stop(F.db);
	gct_etcd_stop(F.etcd);
	gct_rmrf(F.dir);
	free(F.dir);
	free(F.prefix);
	free(F.admin_tok);
	gct_logbuf_free(&F.log);
	memset(&F, 0, sizeof(F));
	return 0;
}

/* --------------------------------------------------------------- tests */

static void version_has_the_envelope_and_cors(void **state)
{
	resp r;
	const cJSON *m;
	(void)state;
	get(&r, NULL, "/api/v1/version?x=1");
	expect_code(&r, 0);
	assert_true(cJSON_IsString(payload(&r)));
	assert_string_equal(payload(&r)->valuestring, "v" GC_VERSION_STRING);
	m = cJSON_GetObjectItem(r.json, "meta");
	assert_string_equal(cJSON_GetObjectItem(m, "msg")->valuestring, "");
	assert_string_equal(cJSON_GetObjectItem(m, "msg_en")->valuestring, "");
	assert_string_equal(cJSON_GetObjectItem(m, "log")->valuestring, "");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(m, "cause")));
	assert_string_equal(cJSON_GetObjectItem(m, "request_uri")->valuestring,
			    "/api/v1/version?x=1");
	assert_true(strspn(cJSON_GetObjectItem(m, "request_id")->valuestring,
			   "0123456789") > 10);
	assert_non_null(strstr(r.headers, "Access-Control-Allow-Origin: *"));
	assert_non_null(strstr(r.headers, "Access-Control-Allow-Headers: "
					  "access-token, x-requested-with, "
					  "content-type"));
	assert_non_null(strstr(r.headers,
			       "Content-Type: application/json; charset=utf-8"));
	resp_free(&r);
}

static void login_answers_token_and_codes_like_the_original(void **state)
{
	resp r;
	char bearer[4200];
	const char *hdrs[2] = {bearer, NULL};
	(void)state;
	post(&r, NULL, "/api/v1/user/login", "account=admin&password=123456");
	expect_code(&r, 0);
	assert_int_equal(cJSON_GetObjectItem(payload(&r), "id")->valueint, 1);
	assert_string_equal(
		cJSON_GetObjectItem(payload(&r), "permission")->valuestring,
		"admin,user");
	assert_true(cJSON_IsString(cJSON_GetObjectItem(payload(&r), "name")));
	assert_int_equal(
		cJSON_GetObjectItem(payload(&r), "default_password")->valueint, 1);
	resp_free(&r);
	get(&r, F.admin_tok, "/api/v1/user/info");
	expect_code(&r, 0);
	assert_int_equal(
		cJSON_GetObjectItem(payload(&r), "default_password")->valueint, 1);
	resp_free(&r);

	post(&r, NULL, "/api/v1/user/login", "account=admin&password=nope");
	expect_code(&r, 10011);
	assert_true(cJSON_IsObject(payload(&r)));
	resp_free(&r);
	post(&r, NULL, "/api/v1/user/login", "account=nobody&password=x");
	expect_code(&r, 10007);
	resp_free(&r);
	post(&r, NULL, "/api/v1/user/login", "account=admin");
	expect_code(&r, 400);
	expect_msg_has(&r, "password");
	resp_free(&r);
	/* JSON bodies bind the same parameters. */
	post_json(&r, NULL, "/api/v1/user/login",
		  "{\"account\":\"admin\",\"password\":\"123456\"}");
	expect_code(&r, 0);
	resp_free(&r);

	/* The token works as access-token and as a Bearer token. */
	get(&r, F.admin_tok, "/api/v1/user/info");
	expect_code(&r, 0);
	assert_string_equal(
		cJSON_GetObjectItem(payload(&r), "permission")->valuestring,
		"admin,user");
	resp_free(&r);
	snprintf(bearer, sizeof(bearer), "Authorization: Bearer %s",
		 F.admin_tok);
	http(&r, "GET", "/api/v1/user/info", NULL, NULL, NULL, hdrs);
	expect_code(&r, 0);
	resp_free(&r);
}

static void bad_tokens_get_401(void **state)
{
	resp r;
	char *tok = NULL, *none;
	gc_error err;
	int64_t now = (int64_t)time(NULL);
	(void)state;
	get(&r, NULL, "/api/v1/project/list");
	expect_code(&r, 401);
	resp_free(&r);
	get(&r, "abc.def.ghi", "/api/v1/project/list");
	expect_code(&r, 401);
	resp_free(&r);
	/* Expired. */
	assert_int_equal(gc__jwt_issue((const unsigned char *)SECRET,
				       strlen(SECRET), 1, 0, "admin", "admin,user",
				       now - 7200, 3600, &tok, &err),
			 0);
	get(&r, tok, "/api/v1/project/list");
	expect_code(&r, 401);
	expect_msg_has(&r, "expired");
	resp_free(&r);
	free(tok);
	/* Signed with another secret. */
	assert_int_equal(gc__jwt_issue((const unsigned char *)"other",
				       5, 1, 0,
				       "admin", "admin,user", now, 3600, &tok,
				       &err),
			 0);
	get(&r, tok, "/api/v1/project/list");
	expect_code(&r, 401);
	resp_free(&r);
	/* alg "none" with the admin's claims. */
	none = malloc(strlen(tok) + 64);
	snprintf(none, strlen(tok) + 64, "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.%s",
		strchr(tok, '.') + 1);
	*strrchr(none, '.') = '\0';
	strcat(none, ".");
	get(&r, none, "/api/v1/project/list");
	expect_code(&r, 401);
	resp_free(&r);
	free(none);
	free(tok);
	/* A user that does not exist (any more). */
	assert_int_equal(gc__jwt_issue((const unsigned char *)SECRET,
				       strlen(SECRET), 999999, 0, "ghost", "admin",
				       now, 3600, &tok, &err),
			 0);
	get(&r, tok, "/api/v1/project/list");
	expect_code(&r, 401);
	resp_free(&r);
	free(tok);
}

static void unknown_routes_and_methods(void **state)
{
	resp r;
	(void)state;
	get(&r, NULL, "/api/v1/nonexistent");
	expect_code(&r, 404);
	expect_msg_has(&r, "/api/v1/nonexistent");
	resp_free(&r);
	get(&r, F.admin_tok, "/api/v1/crontab/save");
	expect_code(&r, 405);
	assert_non_null(strstr(r.headers, "Allow: POST"));
	resp_free(&r);
	http(&r, "OPTIONS", "/api/v1/crontab/save", NULL, NULL, NULL, NULL);
	assert_int_equal(r.status, 204);
	assert_non_null(strstr(r.headers, "Access-Control-Allow-Methods: POST"));
	resp_free(&r);
	http(&r, "HEAD", "/api/v1/version", NULL, NULL, NULL, NULL);
	assert_int_equal(r.status, 200);
	resp_free(&r);
}

static void bad_input_gets_4xx_naming_the_problem(void **state)
{
	resp r;
	char *big, *longname;
	int64_t pid = create_project("badinput");
	(void)state;
	post_json(&r, F.admin_tok, "/api/v1/crontab/save", "{\"project_id\":");
	expect_code(&r, 400);
	expect_msg_has(&r, "malformed JSON");
	resp_free(&r);
	post_json(&r, F.admin_tok, "/api/v1/crontab/save", "[1,2]");
	expect_code(&r, 400);
	expect_msg_has(&r, "object");
	resp_free(&r);
	post_json(&r, F.admin_tok, "/api/v1/crontab/save",
		  "{\"project_id\":\"abc\",\"name\":\"n\",\"command\":\"c\","
		  "\"cron\":\"* * * * *\"}");
	expect_code(&r, 400);
	expect_msg_has(&r, "project_id");
	resp_free(&r);
	post_json(&r, F.admin_tok, "/api/v1/crontab/save",
		  "{\"project_id\":1.5,\"name\":\"n\",\"command\":\"c\","
		  "\"cron\":\"* * * * *\"}");
	expect_code(&r, 400);
	expect_msg_has(&r, "integer");
	resp_free(&r);
	post_json(&r, F.admin_tok, "/api/v1/crontab/save",
		  "{\"project_id\":1,\"name\":[1],\"command\":\"c\","
		  "\"cron\":\"* * * * *\"}");
	expect_code(&r, 400);
	expect_msg_has(&r, "name");
	resp_free(&r);
	post(&r, F.admin_tok, "/api/v1/crontab/save",
	     "project_id=%" PRId64 "&name=n&cron=*", pid);
	expect_code(&r, 400);
	expect_msg_has(&r, "missing parameter \"command\"");
	resp_free(&r);
	post(&r, F.admin_tok, "/api/v1/crontab/save",
	     "project_id=%" PRId64 "&name=n%%zz&command=c&cron=*", pid);
	expect_code(&r, 400);
	expect_msg_has(&r, "escape");
	resp_free(&r);
	post(&r, F.admin_tok, "/api/v1/crontab/save",
	     "project_id=%" PRId64 "&name=%%ff%%fe&command=c&cron=*", pid);
	expect_code(&r, 400);
	expect_msg_has(&r, "UTF-8");
	resp_free(&r);
	post(&r, F.admin_tok, "/api/v1/crontab/save",
	     "project_id=%" PRId64 "&name=n&command=c&cron=*&status=7", pid);
	expect_code(&r, 400);
	expect_msg_has(&r, "status");
	resp_free(&r);
	post(&r, F.admin_tok, "/api/v1/crontab/save",
	     "project_id=%" PRId64 "&name=n&command=c&cron=*&timeout=-1", pid);
	expect_code(&r, 400);
	expect_msg_has(&r, "timeout");
	resp_free(&r);
	longname = malloc(302);
	memset(longname, 'x', 301);
	longname[301] = '\0';
	post(&r, F.admin_tok, "/api/v1/crontab/save",
	     "project_id=%" PRId64 "&name=%s&command=c&cron=*", pid, longname);
	expect_code(&r, 400);
	expect_msg_has(&r, "too long");
	resp_free(&r);
	free(longname);
	http(&r, "POST", "/api/v1/crontab/save", F.admin_tok, "text/xml",
	     "<x/>", NULL);
	expect_code(&r, 415);
	resp_free(&r);
	/* Over 1 MiB: 413, nothing read. */
	big = malloc((1u << 20) + 2);
	memset(big, 'a', (1u << 20) + 1);
	big[(1u << 20) + 1] = '\0';
	http(&r, "POST", "/api/v1/project/create", F.admin_tok,
	     "application/x-www-form-urlencoded", big, NULL);
	expect_code(&r, 413);
	resp_free(&r);
	free(big);
	/* Unknown project and task. */
	post(&r, F.admin_tok, "/api/v1/crontab/save",
	     "project_id=999999&name=n&command=c&cron=*+*+*+*+*");
	expect_code(&r, 404);
	expect_msg_has(&r, "project 999999");
	resp_free(&r);
	post(&r, F.admin_tok, "/api/v1/crontab/save",
	     "project_id=%" PRId64 "&task_id=424242&name=n&command=c"
	     "&cron=*+*+*+*+*",
	     pid);
	expect_code(&r, 404);
	expect_msg_has(&r, "424242");
	resp_free(&r);
	post(&r, F.admin_tok, "/api/v1/crontab/save",
	     "project_id=%" PRId64 "&task_id=a/b&name=n&command=c"
	     "&cron=*+*+*+*+*",
	     pid);
	expect_code(&r, 400);
	resp_free(&r);
	/* Nothing of the above was written. */
	{
		char *p = key("/%" PRId64 "/", pid);
		assert_int_equal(etcd_count(p), 0);
		free(p);
	}
}

static void result_body(char *out, size_t len, int64_t pid, const char *tid,
			const char *run_id, const char *error, int64_t plan);

/* `depth` nested '[' (or {"a": when obj) around 1, closed, between head
 * and tail; malloc'd. */
static char *nested_json(int depth, int obj, const char *head,
			 const char *tail)
{
	size_t hl = strlen(head), tl = strlen(tail), n;
	char *s = malloc(hl + tl + (size_t)depth * 6 + 2);
	assert_non_null(s);
	memcpy(s, head, hl);
	n = hl;
	for (int i = 0; i < depth; i++) {
		memcpy(s + n, obj ? "{\"a\":" : "[", obj ? 5 : 1);
		n += obj ? 5 : 1;
	}
	s[n++] = '1';
	for (int i = 0; i < depth; i++)
		s[n++] = obj ? '}' : ']';
	memcpy(s + n, tail, tl + 1);
	return s;
}

/* The service still answers, logins included. */
static void expect_alive(void)
{
	resp r;
	get(&r, NULL, "/api/v1/version");
	expect_code(&r, 0);
	resp_free(&r);
	free(login("admin", "123456"));
}

/* A body nesting 800 levels used to overflow a 100 KB civetweb worker
 * stack inside cJSON and kill the process, before any authentication. Now
 * a 400 that says where, on every route, and the service goes on. */
static void deep_json_gets_400_and_the_service_lives(void **state)
{
	static const char *const routes[] = {"/api/v1/user/login",
					      "/api/v1/crontab/save"};
	const char *report[] = {"Authorization: Bearer " REPORT_TOKEN,
				"Report-Type: report_task_result", NULL};
	char want[128], bearer[8192];
	const char *hdrs[] = {bearer, NULL};
	resp r;
	char *body, *b64;
	(void)state;
	for (size_t k = 0; k < GC__ARRAY_LEN(routes); k++) {
		for (int obj = 0; obj < 2; obj++) {
			body = nested_json(800, obj, "", "");
			post_json(&r, k ? F.admin_tok : NULL, routes[k], body);
			expect_code(&r, 400);
			snprintf(want, sizeof(want),
				 "JSON body nested deeper than 64 levels at "
				 "byte %d",
				 obj ? 64 * 5 : 64);
			assert_string_equal(msg(&r), want);
			resp_free(&r);
			free(body);
			expect_alive();
		}
	}
	/* Inside a member: 64 levels in all are JSON the binding judges,
	 * 65 are not. */
	for (int depth = 63; depth <= 64; depth++) {
		body = nested_json(depth, 0, "{\"account\":",
				   ",\"password\":\"x\"}");
		post_json(&r, NULL, "/api/v1/user/login", body);
		expect_code(&r, 400);
		expect_msg_has(&r, depth == 63 ? "parameter \"account\": "
						 "expected a string"
					       : "nested deeper than 64 levels "
						 "at byte 74");
		resp_free(&r);
		free(body);
	}
	/* An agent's result body: the report route's own limit. */
	body = nested_json(800, 1, "{\"execute_info\":{\"task\":{\"x\":",
			   "}}}");
	http(&r, "POST", "/api/v1/report", NULL, "application/json", body,
	     report);
	expect_code(&r, 400);
	expect_msg_has(&r, "bad result body: result: JSON nested deeper than "
			   "128 levels at byte");
	resp_free(&r);
	free(body);
	/* A token whose header opens 2000 arrays: libjwt hands it to
	 * jansson, which recurses once per level, before it checks the
	 * signature. */
	body = malloc(2001);
	assert_non_null(body);
	memset(body, '[', 2000);
	body[2000] = '\0';
	b64 = gc__base64_encode(body, 2000);
	for (char *q = b64; *q; q++)
		*q = *q == '+' ? '-' : *q == '/' ? '_' : *q == '=' ? '\0' : *q;
	snprintf(bearer, sizeof(bearer), "access-token: %s.e30.AAAA", b64);
	assert_true(strlen(bearer) - 14 <= GC__TOKEN_MAX);
	free(b64);
	free(body);
	http(&r, "GET", "/api/v1/user/info", NULL, NULL, NULL, hdrs);
	expect_code(&r, 401);
	resp_free(&r);
	expect_alive();
}

/* \u0000 in a JSON string is refused naming the parameter, as %00 in form
 * data is; integers are taken exactly from their text: beyond 2^53, with
 * a fraction or an exponent, refused (never rounded through a double). */
static void json_nul_and_inexact_integers_get_400(void **state)
{
	const char *report[] = {"Authorization: Bearer " REPORT_TOKEN,
				"Report-Type: report_task_result", NULL};
	static const struct {
		const char *json, *want;
	} cases[] = {
		{"{\"account\":\"adm\\u0000in\",\"password\":\"123456\"}",
		 "parameter \"account\": a string has a NUL character (\\u0000) "
		 "at byte 15"},
		{"{\"account\":\"admin\",\"password\":\"1234\\u00006\"}",
		 "parameter \"password\": a string has a NUL character"},
		{"{\"account\":\"admin\",\"password\":[\"\\u0000\"]}",
		 "parameter \"password\": a string has a NUL character"},
		{"{\"acc\\u0000\":\"admin\",\"password\":\"123456\"}",
		 "a member name has a NUL character (\\u0000) at byte 5"},
	};
	static const struct {
		int json;
		const char *body, *want;
	} ints[] = {
		{1, "{\"project_id\":9007199254740993}",
		 "parameter \"project_id\": 9007199254740993 is out of range "
		 "[1, 9007199254740992]"},
		{1, "{\"project_id\":92233720368547758070}",
		 "parameter \"project_id\": expected an integer"},
		{0, "project_id=9007199254740993", "out of range"},
		{1, "{\"project_id\":1e0}",
		 "parameter \"project_id\": expected an integer, got \"1e0\""},
		{1, "{\"project_id\":01}",
		 "malformed JSON body: invalid JSON at byte 15"},
	};
	char body[4096], rest[4096], *p;
	resp r;
	(void)state;
	for (size_t i = 0; i < GC__ARRAY_LEN(cases); i++) {
		post_json(&r, NULL, "/api/v1/user/login", cases[i].json);
		expect_code(&r, 400);
		expect_msg_has(&r, cases[i].want);
		resp_free(&r);
	}
	/* Form data says the same of %00. */
	post(&r, NULL, "/api/v1/user/login", "account=adm%%00in&password=x");
	expect_code(&r, 400);
	expect_msg_has(&r, "parameter \"account\"");
	resp_free(&r);
	/* 2^53 + 1 used to become 2^53 (and 2^63 a saturated INT64_MAX). */
	for (size_t i = 0; i < GC__ARRAY_LEN(ints); i++) {
		http(&r, "POST", "/api/v1/project/delete", F.admin_tok,
		     ints[i].json ? "application/json"
				  : "application/x-www-form-urlencoded",
		     ints[i].body, NULL);
		expect_code(&r, 400);
		expect_msg_has(&r, ints[i].want);
		resp_free(&r);
	}
	/* The same in an agent's result body: project_id beyond int64. */
	result_body(body, sizeof(body), 1, "777", "run-big", "", 0);
	p = strstr(body, "\"project_id\":1,");
	assert_non_null(p);
	snprintf(rest, sizeof(rest), "%s", p + 15);
	snprintf(p, sizeof(body) - (size_t)(p - body),
		 "\"project_id\":9223372036854775808,%s", rest);
	http(&r, "POST", "/api/v1/report", NULL, "application/json", body,
	     report);
	expect_code(&r, 400);
	expect_msg_has(&r, "field \"project_id\": 9223372036854775808 is not "
			   "an integer in the int64 range");
	resp_free(&r);
	expect_alive();
}

static void projects_create_list_update_members_delete(void **state)
{
	resp r;
	int64_t pid, bob;
	cJSON *it, *found = NULL;
	(void)state;
	pid = create_project("proj-crud");
	post(&r, F.admin_tok, "/api/v1/project/create", "title=proj-crud");
	expect_code(&r, 10013);
	resp_free(&r);
	free(create_task(F.admin_tok, pid, "t-crud", "*/5 * * * *", 0));

	get(&r, F.admin_tok, "/api/v1/project/list");
	expect_code(&r, 0);
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(payload(&r), "list"))
	{
		if (cJSON_GetObjectItem(it, "project_id")->valuedouble == pid)
			found = it;
	}
	assert_non_null(found);
	assert_string_equal(cJSON_GetObjectItem(found, "title")->valuestring,
			    "proj-crud");
	assert_int_equal(cJSON_GetObjectItem(found, "uid")->valueint, 1);
	assert_int_equal(cJSON_GetObjectItem(found, "task_count")->valueint, 1);
	resp_free(&r);

	post(&r, F.admin_tok, "/api/v1/project/update",
	     "project_id=%" PRId64 "&title=proj-crud2&remark=changed", pid);
	expect_code(&r, 0);
	resp_free(&r);

	post(&r, F.admin_tok, "/api/v1/user/create",
	     "name=Carol&password=carol-pw1&account=carol");
	expect_code(&r, 0);
	bob = (int64_t)cJSON_GetObjectItem(payload(&r), "id")->valuedouble;
	resp_free(&r);
	post(&r, F.admin_tok, "/api/v1/user/create",
	     "name=Carol&password=carol-pw2&account=carol");
	expect_code(&r, 10016);
	resp_free(&r);
	post(&r, F.admin_tok, "/api/v1/project/add_user",
	     "project_id=%" PRId64 "&user_account=carol", pid);
	expect_code(&r, 0);
	resp_free(&r);
	post(&r, F.admin_tok, "/api/v1/project/add_user",
	     "project_id=%" PRId64 "&user_account=nobody", pid);
	expect_code(&r, 10007);
	resp_free(&r);
	get(&r, F.admin_tok, "/api/v1/project/users?project_id=%" PRId64, pid);
	expect_code(&r, 0);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(payload(&r),
								 "list")),
			 2);
	it = cJSON_GetArrayItem(cJSON_GetObjectItem(payload(&r), "list"), 1);
	assert_string_equal(cJSON_GetObjectItem(it, "account")->valuestring,
			    "carol");
	resp_free(&r);
	post(&r, F.admin_tok, "/api/v1/project/remove_user",
	     "project_id=%" PRId64 "&user_id=1", pid);
	expect_code(&r, 10017);
	resp_free(&r);
	post(&r, F.admin_tok, "/api/v1/project/remove_user",
	     "project_id=%" PRId64 "&user_id=%" PRId64, pid, bob);
	expect_code(&r, 0);
	resp_free(&r);
	post(&r, F.admin_tok, "/api/v1/project/remove_user",
	     "project_id=%" PRId64 "&user_id=%" PRId64, pid, bob);
	expect_code(&r, 404);
	resp_free(&r);

	post(&r, F.admin_tok, "/api/v1/project/delete", "project_id=%" PRId64,
	     pid);
	expect_code(&r, 0);
	resp_free(&r);
	{
		char *p = key("/%" PRId64 "/", pid);
		assert_int_equal(etcd_count(p), 0);
		free(p);
	}
	get(&r, F.admin_tok, "/api/v1/project/users?project_id=%" PRId64, pid);
	expect_code(&r, 404);
	resp_free(&r);
	post(&r, F.admin_tok, "/api/v1/user/delete", "id=%" PRId64, bob);
	expect_code(&r, 0);
	resp_free(&r);
	post(&r, F.admin_tok, "/api/v1/user/delete", "id=1");
	expect_code(&r, 400);
	resp_free(&r);
	get(&r, F.admin_tok, "/api/v1/user/list?page=1&pagesize=10");
	expect_code(&r, 0);
	assert_true(cJSON_GetObjectItem(payload(&r), "total")->valueint >= 1);
	resp_free(&r);
}

static void task_save_keeps_create_time_and_unknown_fields(void **state)
{
	resp r;
	int64_t pid = create_project("tasks");
	char *tid = create_task(F.admin_tok, pid, "t1", "*/5 * * * * *", 0);
	char *k = key("/%" PRId64 "/%s", pid, tid), *v;
	cJSON *stored, *prev, *it;
	char buf[2048];
	int64_t ctime;
	(void)state;

	v = etcd_value(k, NULL);
	assert_non_null(v);
	stored = cJSON_Parse(v);
	free(v);
	/* Fixed quirk: new tasks are stored with is_running 0, not -1. */
	assert_int_equal(cJSON_GetObjectItem(stored, "is_running")->valueint, 0);
	assert_int_equal(cJSON_GetObjectItem(stored, "status")->valueint, 1);
	ctime = (int64_t)cJSON_GetObjectItem(stored, "create_time")->valuedouble;
	assert_true(ctime > 1700000000);
	/* Someone else's field and an old create_time survive an update. */
	cJSON_ReplaceItemInObject(stored, "create_time",
				  cJSON_CreateNumber(1600000000));
	cJSON_AddStringToObject(stored, "owner_note", "keep me");
	v = cJSON_PrintUnformatted(stored);
	etcd_put(k, v);
	free(v);
	cJSON_Delete(stored);

	post(&r, F.admin_tok, "/api/v1/crontab/save",
	     "project_id=%" PRId64 "&task_id=%s&name=t1-renamed&command=true"
	     "&cron=*/7+*+*+*+*+*&remark=r2",
	     pid, tid);
	expect_code(&r, 0);
	prev = payload(&r);
	assert_string_equal(cJSON_GetObjectItem(prev, "name")->valuestring, "t1");
	resp_free(&r);
	v = etcd_value(k, NULL);
	stored = cJSON_Parse(v);
	free(v);
	assert_string_equal(cJSON_GetObjectItem(stored, "name")->valuestring,
			    "t1-renamed");
	assert_int_equal(
		(int64_t)cJSON_GetObjectItem(stored, "create_time")->valuedouble,
		1600000000);
	assert_string_equal(
		cJSON_GetObjectItem(stored, "owner_note")->valuestring,
		"keep me");
	/* status was not sent: it keeps its value */
	assert_int_equal(cJSON_GetObjectItem(stored, "status")->valueint, 1);
	cJSON_Delete(stored);

	/* JSON body with every field. */
	snprintf(buf, sizeof(buf),
		 "{\"project_id\":%" PRId64 ",\"task_id\":\"%s\",\"name\":\"j\","
		 "\"command\":\"echo json\",\"cron\":\"*/7 * * * * * *\","
		 "\"remark\":\"\",\"timeout\":3,\"status\":0,\"noseize\":1,"
		 "\"exclusion\":1}",
		 pid, tid);
	post_json(&r, F.admin_tok, "/api/v1/crontab/save", buf);
	expect_code(&r, 0);
	resp_free(&r);
	get(&r, F.admin_tok, "/api/v1/crontab/list?project_id=%" PRId64, pid);
	expect_code(&r, 0);
	it = cJSON_GetArrayItem(cJSON_GetObjectItem(payload(&r), "list"), 0);
	assert_string_equal(cJSON_GetObjectItem(it, "task_id")->valuestring, tid);
	assert_int_equal(cJSON_GetObjectItem(it, "timeout")->valueint, 3);
	assert_int_equal(cJSON_GetObjectItem(it, "noseize")->valueint, 1);
	assert_int_equal(cJSON_GetObjectItem(it, "exclusion")->valueint, 1);
	assert_int_equal(cJSON_GetObjectItem(it, "status")->valueint, 0);
	assert_int_equal(cJSON_GetObjectItem(it, "is_running")->valueint, 0);
	assert_int_equal(cJSON_GetObjectItem(it, "project_id")->valueint, pid);
	resp_free(&r);

	/* A bad cron names the field: 10015. */
	post(&r, F.admin_tok, "/api/v1/crontab/save",
	     "project_id=%" PRId64 "&task_id=%s&name=x&command=true"
	     "&cron=0+0+32+*+*",
	     pid, tid);
	expect_code(&r, 10015);
	expect_msg_has(&r, "day-of-month");
	resp_free(&r);
	post(&r, F.admin_tok, "/api/v1/crontab/save",
	     "project_id=%" PRId64 "&name=x&command=true&cron=not+a+cron", pid);
	expect_code(&r, 10015);
	resp_free(&r);

	/* The next fire times preview. */
	get(&r, F.admin_tok,
	    "/api/v1/crontab/next?cron=%s&n=3&from=1700000000",
	    "0+0+1+1+*");
	expect_code(&r, 0);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(payload(&r),
								 "list")),
			 3);
	resp_free(&r);
	get(&r, F.admin_tok, "/api/v1/crontab/next?cron=%s", "61+*+*+*+*");
	expect_code(&r, 10015);
	expect_msg_has(&r, "minute");
	resp_free(&r);
	free(k);
	free(tid);
}

static void delete_removes_exactly_that_task(void **state)
{
	resp r;
	int64_t pid = create_project("exact");
	char *kab = key("/%" PRId64 "/ab", pid);
	char *kabc = key("/%" PRId64 "/abc", pid);
	char *kst = key("/%" PRId64 "/ab/t_status", pid);
	char *kst2 = key("/%" PRId64 "/abc/t_status", pid);
	char task[512];
	(void)state;
	snprintf(task, sizeof(task),
		 "{\"task_id\":\"ab\",\"name\":\"ab\",\"project_id\":%" PRId64
		 ",\"command\":\"true\",\"cron\":\"* * * * *\"}",
		 pid);
	etcd_put(kab, task);
	etcd_put(kst, "");
	snprintf(task, sizeof(task),
		 "{\"task_id\":\"abc\",\"name\":\"abc\",\"project_id\":%" PRId64
		 ",\"command\":\"true\",\"cron\":\"* * * * *\"}",
		 pid);
	etcd_put(kabc, task);
	etcd_put(kst2, "running");

	post(&r, F.admin_tok, "/api/v1/crontab/delete",
	     "project_id=%" PRId64 "&task_id=ab", pid);
	expect_code(&r, 0);
	assert_string_equal(
		cJSON_GetObjectItem(payload(&r), "task_id")->valuestring, "ab");
	resp_free(&r);
	assert_null(etcd_value(kab, NULL));
	assert_null(etcd_value(kst, NULL));
	{
		char *v1 = etcd_value(kabc, NULL), *v2 = etcd_value(kst2, NULL);
		assert_non_null(v1);
		assert_non_null(v2);
		free(v1);
		free(v2);
	}

	/* List derives is_running from t_status. */
	get(&r, F.admin_tok, "/api/v1/crontab/list?project_id=%" PRId64, pid);
	expect_code(&r, 0);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(payload(&r),
								 "list")),
			 1);
	assert_int_equal(
		cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(
								   payload(&r),
								   "list"),
							   0),
				    "is_running")
			->valueint,
		1);
	resp_free(&r);

	post(&r, F.admin_tok, "/api/v1/crontab/delete",
	     "project_id=%" PRId64 "&task_id=ab", pid);
	expect_code(&r, 404);
	resp_free(&r);
	get(&r, F.admin_tok, "/api/v1/project/list");
	expect_code(&r, 0);
	resp_free(&r);
	free(kab);
	free(kabc);
	free(kst);
	free(kst2);
}

static void execute_and_kill_write_leased_keys_at_once(void **state)
{
	resp r;
	int64_t pid = create_project("runs");
	char *tid = create_task(F.admin_tok, pid, "r1", "0 0 1 1 *", 0);
	char *tid2 = create_task(F.admin_tok, pid, "r2", "0 0 1 1 *", 1);
	char *know = key("/%" PRId64 "/t_scheduler/%s", pid, tid);
	char *kkill = key("/kill/%" PRId64 "/%s", pid, tid);
	char *kst = key("/%" PRId64 "/%s/t_status", pid, tid);
	char *kst2 = key("/%" PRId64 "/%s/t_status", pid, tid2);
	char *ktask = key("/%" PRId64 "/%s", pid, tid);
	char *v, *before;
	int64_t lease = 0;
	(void)state;

	post(&r, F.admin_tok, "/api/v1/crontab/execute",
	     "project_id=%" PRId64 "&task_id=%s", pid, tid);
	expect_code(&r, 0);
	resp_free(&r);
	v = etcd_value(know, &lease);
	assert_non_null(v);
	assert_non_null(strstr(v, tid));
	assert_true(lease != 0);
	free(v);

	/* While t_status says running: 10019, unless noseize. */
	etcd_put(kst, "running");
	post(&r, F.admin_tok, "/api/v1/crontab/execute",
	     "project_id=%" PRId64 "&task_id=%s", pid, tid);
	expect_code(&r, 10019);
	resp_free(&r);
	etcd_put(kst2, "running");
	post(&r, F.admin_tok, "/api/v1/crontab/execute",
	     "project_id=%" PRId64 "&task_id=%s", pid, tid2);
	expect_code(&r, 0);
	resp_free(&r);

	before = etcd_value(ktask, NULL);
	post(&r, F.admin_tok, "/api/v1/crontab/kill",
	     "project_id=%" PRId64 "&task_id=%s", pid, tid);
	expect_code(&r, 0);
	resp_free(&r);
	/* Not running: said so, and no kill key is written. */
	etcd_delete(kst);
	char *kkill2 = key("/kill/%" PRId64 "/%s", pid, tid2);
	char *tid3 = create_task(F.admin_tok, pid, "r3", "0 0 1 1 *", 0);
	char *kkill3 = key("/kill/%" PRId64 "/%s", pid, tid3);
	post(&r, F.admin_tok, "/api/v1/crontab/kill",
	     "project_id=%" PRId64 "&task_id=%s", pid, tid3);
	expect_code(&r, 10020);
	assert_non_null(strstr(r.body, "task is not running"));
	resp_free(&r);
	assert_null(etcd_value(kkill3, NULL));
	/* noseize: its agents share t_status, always signalled */
	etcd_delete(kst2);
	post(&r, F.admin_tok, "/api/v1/crontab/kill",
	     "project_id=%" PRId64 "&task_id=%s", pid, tid2);
	expect_code(&r, 0);
	resp_free(&r);
	v = etcd_value(kkill2, NULL);
	assert_non_null(v);
	free(v);
	free(kkill2);
	free(kkill3);
	free(tid3);
	lease = 0;
	v = etcd_value(kkill, &lease);
	assert_non_null(v);
	assert_true(lease != 0);
	free(v);
	/* The schedule is left alone. */
	v = etcd_value(ktask, NULL);
	assert_string_equal(v, before);
	free(v);
	free(before);

	post(&r, F.admin_tok, "/api/v1/crontab/kill",
	     "project_id=%" PRId64 "&task_id=nosuch", pid);
	expect_code(&r, 404);
	resp_free(&r);
	post(&r, F.admin_tok, "/api/v1/crontab/execute",
	     "project_id=%" PRId64 "&task_id=nosuch", pid);
	expect_code(&r, 404);
	resp_free(&r);
	free(tid);
	free(tid2);
	free(know);
	free(kkill);
	free(kst);
	free(kst2);
	free(ktask);
}

static void nodes_and_reload_config(void **state)
{
	resp r;
	int64_t pid = create_project("nodes");
	char *kreg = key("/register/%" PRId64 "/192.0.2.7", pid);
	char *kcmd = key("/agent/192.0.2.7/reload_config");
	cJSON *l, *it;
	int seen = 0;
	(void)state;
	get(&r, F.admin_tok, "/api/v1/crontab/client_list?project_id=%" PRId64,
	    pid);
	expect_code(&r, 0);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(payload(&r),
								 "list")),
			 0);
	resp_free(&r);
	post(&r, F.admin_tok, "/api/v1/client/reload/config",
	     "project_id=%" PRId64 "&client_ip=192.0.2.7", pid);
	expect_code(&r, 404);
	resp_free(&r);

	etcd_put(kreg, "{\"client_ip\":\"192.0.2.7\",\"version\":\"v1.10.100\"}");
	/* written straight to etcd, not through the service: its cache has
	 * it once the watch delivers it (milliseconds; test_service_cache.c
	 * holds that to 1 s) */
	for (int64_t t0 = gc__mono_ms();; gct_sleep_ms(20)) {
		get(&r, F.admin_tok,
		    "/api/v1/crontab/client_list?project_id=%" PRId64, pid);
		l = cJSON_GetObjectItem(payload(&r), "list");
		if (cJSON_GetArraySize(l) || gc__mono_ms() - t0 > 1000)
			break;
		resp_free(&r);
	}
	expect_code(&r, 0);
	l = cJSON_GetObjectItem(payload(&r), "list");
	assert_int_equal(cJSON_GetArraySize(l), 1);
	assert_string_equal(cJSON_GetArrayItem(l, 0)->valuestring,
			    "192.0.2.7:v1.10.100");
	resp_free(&r);

	get(&r, F.admin_tok, "/api/v1/client/list");
	expect_code(&r, 0);
	cJSON_ArrayForEach(it, payload(&r))
	{
		if (cJSON_GetObjectItem(it, "project_id")->valuedouble == pid) {
			assert_string_equal(
				cJSON_GetObjectItem(it, "client_ip")->valuestring,
				"192.0.2.7");
			seen++;
		}
	}
	assert_int_equal(seen, 1);
	resp_free(&r);
	post(&r, F.admin_tok, "/api/v1/crontab/monitor",
	     "project_ids=%" PRId64, pid);
	expect_code(&r, 0);
	assert_int_equal(cJSON_GetArraySize(payload(&r)), 1);
	resp_free(&r);

	post(&r, F.admin_tok, "/api/v1/client/reload/config",
	     "project_id=%" PRId64 "&client_ip=192.0.2.7", pid);
	expect_code(&r, 0);
	resp_free(&r);
	{
		char *v = etcd_value(kcmd, NULL);
		assert_non_null(v);
		free(v);
	}
	free(kreg);
	free(kcmd);
}

/* A user outside a project can neither see nor change anything of it. */
static void outsiders_see_and_change_nothing(void **state)
{
	resp r;
	int64_t pid = create_project("secret-proj"), ownpid;
	char *tid = create_task(F.admin_tok, pid, "secret-task", "0 0 1 1 *", 0);
	char *kreg = key("/register/%" PRId64 "/192.0.2.9", pid);
	char *prefix = key("/%" PRId64 "/", pid);
	char *mallory, *ktask = key("/%" PRId64 "/%s", pid, tid), *before, *v;
	int keys_before;
	const char *posts[][2] = {
		{"/api/v1/crontab/save", "name=x&command=x&cron=*+*+*+*+*"},
		{"/api/v1/crontab/delete", "task_id="},
		{"/api/v1/crontab/kill", "task_id="},
		{"/api/v1/crontab/execute", "task_id="},
		{"/api/v1/project/update", "title=stolen"},
		{"/api/v1/project/delete", ""},
		{"/api/v1/project/add_user", "user_account=mallory"},
		{"/api/v1/project/remove_user", "user_id=1"},
		{"/api/v1/log/clean", ""},
		{"/api/v1/client/reload/config", "client_ip=192.0.2.9"},
		{"/api/v1/crontab/monitor", ""},
	};
	const char *gets[] = {
		"/api/v1/crontab/list",     "/api/v1/crontab/client_list",
		"/api/v1/project/users",    "/api/v1/log/list",
		"/api/v1/log/recent",
	};
	(void)state;
	etcd_put(kreg, "{\"client_ip\":\"192.0.2.9\",\"version\":\"v\"}");
	post(&r, F.admin_tok, "/api/v1/user/create",
	     "name=M&password=mallorypw&account=mallory");
	expect_code(&r, 0);
	resp_free(&r);
	mallory = login("mallory", "mallorypw");
	keys_before = etcd_count(prefix);
	before = etcd_value(ktask, NULL);

	for (size_t i = 0; i < GC__ARRAY_LEN(posts); i++) {
		char extra[256], body[512];
		snprintf(extra, sizeof(extra), "%s%s", posts[i][1],
			 strcmp(posts[i][1], "task_id=") == 0 ? tid : "");
		if (strcmp(posts[i][0], "/api/v1/crontab/monitor") == 0)
			snprintf(body, sizeof(body), "project_ids=%" PRId64, pid);
		else
			snprintf(body, sizeof(body), "project_id=%" PRId64 "&%s",
				 pid, extra);
		post(&r, mallory, posts[i][0], "%s", body);
		if (code(&r) != 404)
			fail_msg("%s as outsider: %.300s", posts[i][0], r.body);
		expect_code(&r, 404);
		resp_free(&r);
	}
	for (size_t i = 0; i < GC__ARRAY_LEN(gets); i++) {
		get(&r, mallory, "%s?project_id=%" PRId64, gets[i], pid);
		if (code(&r) != 404)
			fail_msg("%s as outsider: %.300s", gets[i], r.body);
		resp_free(&r);
	}
	/* Lists across projects leave the project out. */
	get(&r, mallory, "/api/v1/project/list");
	expect_code(&r, 0);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(payload(&r),
								 "list")),
			 0);
	resp_free(&r);
	get(&r, mallory, "/api/v1/client/list");
	expect_code(&r, 0);
	assert_int_equal(cJSON_GetArraySize(payload(&r)), 0);
	resp_free(&r);
	get(&r, mallory, "/api/v1/log/list");
	expect_code(&r, 0);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(payload(&r),
								 "list")),
			 0);
	resp_free(&r);
	get(&r, mallory, "/api/v1/log/recent");
	expect_code(&r, 0);
	assert_int_equal(cJSON_GetArraySize(payload(&r)), 7);
	resp_free(&r);
	/* Admin-only routes. */
	get(&r, mallory, "/api/v1/user/list");
	expect_code(&r, 10014);
	resp_free(&r);
	post(&r, mallory, "/api/v1/user/create",
	     "name=x&password=x&account=x2");
	expect_code(&r, 10014);
	resp_free(&r);
	post(&r, mallory, "/api/v1/user/delete", "id=1");
	expect_code(&r, 10014);
	resp_free(&r);
	/* Nothing changed. */
	assert_int_equal(etcd_count(prefix), keys_before);
	v = etcd_value(ktask, NULL);
	assert_string_equal(v, before);
	free(v);
	get(&r, F.admin_tok, "/api/v1/project/users?project_id=%" PRId64, pid);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(payload(&r),
								 "list")),
			 1);
	resp_free(&r);

	/* A member who did not create the project may work with its tasks
	 * but not manage the project. */
	post(&r, F.admin_tok, "/api/v1/project/add_user",
	     "project_id=%" PRId64 "&user_account=mallory", pid);
	expect_code(&r, 0);
	resp_free(&r);
	get(&r, mallory, "/api/v1/crontab/list?project_id=%" PRId64, pid);
	expect_code(&r, 0);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(payload(&r),
								 "list")),
			 1);
	resp_free(&r);
	post(&r, mallory, "/api/v1/project/delete", "project_id=%" PRId64, pid);
	expect_code(&r, 10014);
	resp_free(&r);
	/* Her own project is hers to manage. */
	post(&r, mallory, "/api/v1/project/create", "title=mallory-proj");
	expect_code(&r, 0);
	ownpid = (int64_t)cJSON_GetObjectItem(payload(&r), "project_id")
			 ->valuedouble;
	resp_free(&r);
	post(&r, mallory, "/api/v1/project/update",
	     "project_id=%" PRId64 "&title=mallory-proj2", ownpid);
	expect_code(&r, 0);
	resp_free(&r);

	/* A deleted user's token stops working at once. */
	get(&r, F.admin_tok, "/api/v1/user/list?page=1&pagesize=1000");
	{
		cJSON *it;
		int64_t mid = 0;
		cJSON_ArrayForEach(it, cJSON_GetObjectItem(payload(&r), "list"))
		{
			if (strcmp(cJSON_GetObjectItem(it, "account")->valuestring,
				   "mallory") == 0)
				mid = (int64_t)cJSON_GetObjectItem(it, "id")
					      ->valuedouble;
		}
		resp_free(&r);
		assert_true(mid > 0);
		post(&r, F.admin_tok, "/api/v1/user/delete", "id=%" PRId64, mid);
		expect_code(&r, 0);
		resp_free(&r);
	}
	get(&r, mallory, "/api/v1/project/list");
	expect_code(&r, 401);
	resp_free(&r);
	free(mallory);
	free(before);
	free(ktask);
	free(prefix);
	free(kreg);
	free(tid);
}

static void result_body(char *out, size_t len, int64_t pid, const char *tid,
			const char *run_id, const char *error, int64_t plan)
{
	char rid[128] = "";
	if (run_id)
		snprintf(rid, sizeof(rid), ",\"run_id\":\"%s\"", run_id);
	snprintf(out, len,
		 "{\"execute_info\":{\"task\":{\"task_id\":\"%s\",\"name\":"
		 "\"ingest\",\"project_id\":%" PRId64 ",\"command\":\"echo "
		 "tick\",\"cron\":\"* * * * * *\",\"remark\":\"\",\"timeout\":0,"
		 "\"create_time\":1795470679,\"status\":1,\"is_running\":0,"
		 "\"noseize\":0,\"exclusion\":0,\"client_ip\":\"192.0.2.2\"},"
		 "\"plan_time\":\"%s\",\"real_time\":\"2026-11-23T21:52:27."
		 "000372508Z\"},\"output\":\"tick\\nline2\\n\\u0000end\","
		 "\"error\":\"%s\",\"start_time\":\"2026-11-23T21:52:27."
		 "500374063Z\",\"end_time\":\"2026-11-23T21:52:28Z\"%s}",
		 tid, pid,
		 plan == 0 ? "2026-11-23T21:52:27Z" : "2026-11-23T21:52:30Z",
		 error, rid);
}

static void report_ingest_is_authenticated_and_idempotent(void **state)
{
	resp r;
	int64_t pid = create_project("ingest");
	char body[4096];
	const char *auth[] = {"Authorization: Bearer " REPORT_TOKEN,
			      "Report-Type: report_task_result", NULL};
	const char *wrong[] = {"Authorization: Bearer nope",
			       "Report-Type: report_task_result", NULL};
	const char *warn[] = {"Authorization: Bearer " REPORT_TOKEN,
			      "Report-Type: report_warning", NULL};
	const char *notype[] = {"Authorization: Bearer " REPORT_TOKEN, NULL};
	cJSON *l, *it, *res;
	(void)state;

	result_body(body, sizeof(body), pid, "777", "run-1", "", 0);
	http(&r, "POST", "/api/v1/report", NULL, "application/json", body,
	     wrong);
	expect_code(&r, 401);
	resp_free(&r);
	http(&r, "POST", "/api/v1/report", NULL, "application/json", body,
	     notype);
	expect_code(&r, 400);
	resp_free(&r);
	for (int i = 0; i < 3; i++) { /* re-delivered: one row */
		http(&r, "POST", "/api/v1/report", NULL, "application/json",
		     body, auth);
		expect_code(&r, 0);
		resp_free(&r);
	}
	result_body(body, sizeof(body), pid, "777", "run-2", "exit status 3", 0);
	http(&r, "POST", "/api/v1/report", NULL, "application/json", body, auth);
	expect_code(&r, 0);
	resp_free(&r);
	/* Without run_id (an original agent): still stored once. */
	result_body(body, sizeof(body), pid, "778", NULL, "timeout", 1);
	for (int i = 0; i < 2; i++) {
		http(&r, "POST", "/api/v1/report", NULL, "application/json",
		     body, auth);
		expect_code(&r, 0);
		resp_free(&r);
	}
	http(&r, "POST", "/api/v1/report", NULL, "application/json",
	     "{\"execute_info\":", auth);
	expect_code(&r, 400);
	resp_free(&r);
	http(&r, "POST", "/api/v1/report", NULL, "application/json",
	     "{\"data\":\"exit status 3\",\"type\":\"task\",\"agent_ip\":"
	     "\"192.0.2.2\",\"task_name\":\"ingest\",\"project_id\":1}",
	     warn);
	expect_code(&r, 0);
	resp_free(&r);

	get(&r, F.admin_tok,
	    "/api/v1/log/list?project_id=%" PRId64 "&page=1&pagesize=10", pid);
	expect_code(&r, 0);
	assert_int_equal(cJSON_GetObjectItem(payload(&r), "total")->valueint, 3);
	l = cJSON_GetObjectItem(payload(&r), "list");
	it = cJSON_GetArrayItem(l, 2); /* oldest: run-1 */
	assert_string_equal(cJSON_GetObjectItem(it, "project")->valuestring,
			    "ingest");
	assert_string_equal(cJSON_GetObjectItem(it, "client_ip")->valuestring,
			    "192.0.2.2");
	assert_int_equal(cJSON_GetObjectItem(it, "with_error")->valueint, 0);
	assert_true(cJSON_GetObjectItem(it, "plan_time")->valuedouble > 0);
	res = cJSON_Parse(cJSON_GetObjectItem(it, "result")->valuestring);
	assert_non_null(res);
	assert_int_equal(cJSON_GetArraySize(res), 3);
	assert_string_equal(cJSON_GetObjectItem(res, "result")->valuestring,
			    "tick\nline2\n");
	/* the output's NUL byte is kept (cJSON's copy above stops there) */
	assert_non_null(strstr(cJSON_GetObjectItem(it, "result")->valuestring,
			       "{\"result\":\"tick\\nline2\\n\\u0000end\","));
	cJSON_Delete(res);
	resp_free(&r);

	get(&r, F.admin_tok,
	    "/api/v1/log/list?project_id=%" PRId64 "&errors_only=1", pid);
	expect_code(&r, 0);
	assert_int_equal(cJSON_GetObjectItem(payload(&r), "total")->valueint, 2);
	resp_free(&r);
	get(&r, F.admin_tok,
	    "/api/v1/log/list?project_id=%" PRId64 "&task_id=778", pid);
	expect_code(&r, 0);
	assert_int_equal(cJSON_GetObjectItem(payload(&r), "total")->valueint, 1);
	/* the original's plan_time (21:52:30, its next tick) is replaced by
	 * the tick that ran: the second of real_time, 21:52:27 */
	it = cJSON_GetArrayItem(cJSON_GetObjectItem(payload(&r), "list"), 0);
	assert_int_equal(
	    (int64_t)cJSON_GetObjectItem(it, "plan_time")->valuedouble,
	    1795470747);
	assert_true(cJSON_GetObjectItem(it, "plan_time")->valuedouble <=
		    cJSON_GetObjectItem(it, "start_time")->valuedouble);
	resp_free(&r);
	get(&r, F.admin_tok, "/api/v1/log/recent");
	expect_code(&r, 0);
	assert_int_equal(cJSON_GetArraySize(payload(&r)), 7);
	it = cJSON_GetArrayItem(payload(&r), 0);
	assert_true(cJSON_IsString(cJSON_GetObjectItem(it, "date")));
	assert_true(cJSON_IsNumber(cJSON_GetObjectItem(it, "success_count")));
	resp_free(&r);

	get(&r, NULL, "/metrics");
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "gophercron_report_ingest_total{kind="
				       "\"duplicate\"} 3"));
	assert_non_null(strstr(r.body, "gophercron_report_ingest_errors_total{"
				       "reason=\"unauthorized\"} 1"));
	assert_non_null(strstr(r.body, "gophercron_report_warnings_total{type="
				       "\"task\"} 1"));
	{
		char line[128];
		snprintf(line, sizeof(line),
			 "gophercron_task_results_total{project_id=\"%" PRId64
			 "\",outcome=\"timeout\"} 1",
			 pid);
		assert_non_null(strstr(r.body, line));
	}
	assert_non_null(strstr(r.body, "gophercron_task_start_lateness_seconds_"
				       "bucket{le=\"1\"}"));
	resp_free(&r);

	post(&r, F.admin_tok, "/api/v1/log/clean",
	     "project_id=%" PRId64 "&task_id=778", pid);
	expect_code(&r, 0);
	assert_int_equal(cJSON_GetObjectItem(payload(&r), "deleted")->valueint,
			 1);
	resp_free(&r);
	get(&r, F.admin_tok, "/api/v1/log/list?project_id=%" PRId64, pid);
	assert_int_equal(cJSON_GetObjectItem(payload(&r), "total")->valueint, 2);
	resp_free(&r);
}

static void metrics_count_requests_by_route_and_status(void **state)
{
	resp r;
	(void)state;
	get(&r, NULL, "/api/v1/version");
	resp_free(&r);
	get(&r, NULL, "/metrics");
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.headers, "text/plain; version=0.0.4"));
	assert_non_null(strstr(r.body, "gophercron_http_requests_total{route="
				       "\"/api/v1/version\",status=\"200\"}"));
	assert_non_null(strstr(r.body, "gophercron_http_requests_total{route="
				       "\"/api/v1/project/list\",status="
				       "\"401\"}"));
	assert_non_null(strstr(r.body, "# TYPE gophercron_etcd_errors_total "
				       "counter"));
	resp_free(&r);
}

static void admin_page_is_served_embedded_or_from_view_path(void **state)
{
	resp r;
	char path[1024];
	FILE *f;
	(void)state;
	get(&r, NULL, "/admin");
	assert_int_equal(r.status, 301);
	assert_non_null(strstr(r.headers, "Location: /admin/"));
	resp_free(&r);
	get(&r, NULL, "/admin/");
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.headers, "text/html"));
	assert_non_null(strstr(r.headers, "Content-Security-Policy"));
	resp_free(&r);
	get(&r, NULL, "/admin/app.js");
	assert_int_equal(r.status, 200);
	resp_free(&r);
	get(&r, NULL, "/admin/nope.txt");
	assert_int_equal(r.status, 404);
	resp_free(&r);
	/* view_path overrides a file that exists there. */
	snprintf(path, sizeof(path), "%s/view", F.dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/view/app.css", F.dir);
	f = fopen(path, "w");
	fputs("body{color:red}", f);
	fclose(f);
	get(&r, NULL, "/admin/app.css");
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "body{color:red}");
	resp_free(&r);
	get(&r, NULL, "/admin/../view/app.css");
	assert_int_not_equal(r.status, 500);
	resp_free(&r);
	get(&r, NULL, "/admin/%%2e%%2e/%%2e%%2e/etc/passwd");
	assert_true(r.status == 404 || r.status == 400);
	resp_free(&r);
}

static void second_service_shares_etcd_and_store(void **state)
{
	resp r;
	gc_service *two = NULL;
	int port2 = 0;
	int64_t pid;
	char *tid;
	(void)state;
	assert_int_equal(start_service(&two, &port2), 0);
	assert_int_not_equal(port2, F.port);
	pid = create_project("shared");
	tid = create_task(F.admin_tok, pid, "shared-task", "0 0 1 1 *", 0);
	/* The token and the task are good on the other instance. */
	{
		char path[256];
		snprintf(path, sizeof(path),
			 "/api/v1/crontab/list?project_id=%" PRId64, pid);
		http_port(&r, port2, "GET", path, F.admin_tok, NULL, NULL, 0,
			  NULL);
	}
	expect_code(&r, 0);
	assert_non_null(strstr(r.body, tid));
	resp_free(&r);
	/* Stop and start again on a new port. */
	gc_service_stop(two);
	assert_int_equal(gc_service_port(two, 0), -1);
	assert_int_equal(gc_service_start(two, NULL), 0);
	port2 = gc_service_port(two, 0);
	assert_true(port2 > 0);
	http_port(&r, port2, "GET", "/api/v1/version", NULL, NULL, NULL, 0,
		  NULL);
	expect_code(&r, 0);
	resp_free(&r);
	gc_service_free(two);
	free(tid);
}

/* etcd unreachable: task routes answer 503 naming etcd (bounded by the
 * operation timeout), store-only routes keep working. */
static void etcd_down_gives_503_and_store_routes_still_work(void **state)
{
	gc_service_config cfg;
	gc_service_options o = GC_SERVICE_OPTIONS_INIT;
	gc_service *svc = NULL;
	gc_error err;
	char text[1024], path[256];
	resp r;
	int port;
	int64_t t0;
	(void)state;
	snprintf(text, sizeof(text),
		 "[deploy]\nhost = [\"127.0.0.1:1\"]\ntimeout = 1\n"
		 "[etcd]\nservice = [\"127.0.0.1:%d\"]\ndialtimeout = 200\n"
		 "[sqlite]\npath = \"%s/down.db\"\n[jwt]\nsecret = \"" SECRET
		 "\"\n",
		 gct_free_port(), F.dir);
	gc_service_config_init(&cfg, GC_SERVICE_CONFIG_VERSION);
	assert_int_equal(gc_service_config_load_string(&cfg, text, "down.toml",
						       NULL, NULL, &err),
			 0);
	free(cfg.deploy.hosts[0]);
	cfg.deploy.hosts[0] = strdup("127.0.0.1:0");
	o.log = quiet_log;
	assert_int_equal(gc_service_new(&svc, &cfg, &o, &err), 0);
	assert_int_equal(gc_service_start(svc, &err), 0);
	port = gc_service_port(svc, 0);

	http_port(&r, port, "POST", "/api/v1/user/login", NULL,
		  "application/x-www-form-urlencoded",
		  "account=admin&password=123456", 29, NULL);
	expect_code(&r, 0);
	{
		char *tok = strdup(cJSON_GetObjectItem(payload(&r), "token")
					   ->valuestring);
		resp_free(&r);
		http_port(&r, port, "POST", "/api/v1/project/create", tok,
			  "application/x-www-form-urlencoded", "title=down", 10,
			  NULL);
		expect_code(&r, 0);
		resp_free(&r);
		t0 = gc__mono_ms();
		snprintf(path, sizeof(path), "/api/v1/crontab/list?project_id=1");
		http_port(&r, port, "GET", path, tok, NULL, NULL, 0, NULL);
		expect_code(&r, 503);
		expect_msg_has(&r, "etcd");
		/* generous bound: the point is "bounded", not "fast" */
		assert_true(gc__mono_ms() - t0 < 20000);
		resp_free(&r);
		free(tok);
	}
	http_port(&r, port, "GET", "/metrics", NULL, NULL, NULL, 0, NULL);
	assert_non_null(strstr(r.body, "gophercron_etcd_errors_total 1"));
	resp_free(&r);
	gc_service_free(svc);
	gc_service_config_clear(&cfg);
}

/* Last in its group: it leaves this address throttled for a while. */
static void failed_logins_are_throttled_with_429(void **state)
{
	resp r;
	int n429 = 0, wait_s = 0;
	char *tok;
	(void)state;
	post(&r, F.admin_tok, "/api/v1/user/create",
	     "name=T&password=good-password&account=throttled");
	expect_code(&r, 0);
	resp_free(&r);
	for (int i = 0; i < 12; i++) {
		post(&r, NULL, "/api/v1/user/login",
		     "account=throttled&password=bad");
		if (code(&r) == 429) {
			const char *ra = strstr(r.headers, "Retry-After: ");
			assert_non_null(ra);
			wait_s = atoi(ra + 13);
			n429++;
		} else {
			expect_code(&r, 10011);
		}
		resp_free(&r);
	}
	assert_true(n429 > 0);
	assert_true(wait_s >= 1 && wait_s <= 2); /* login_max_delay_s = 2 */
	/* Even the right password waits while locked... */
	post(&r, NULL, "/api/v1/user/login", "account=throttled&password=good-password");
	expect_code(&r, 429);
	resp_free(&r);
	get(&r, NULL, "/metrics");
	assert_non_null(strstr(r.body, "gophercron_login_throttled_total"));
	resp_free(&r);
	/* ...and gets in once the lock has passed (bounded wait). */
	for (int i = 0; i < 50; i++) {
		post(&r, NULL, "/api/v1/user/login",
		     "account=throttled&password=good-password");
		if (code(&r) == 0)
			break;
		resp_free(&r);
		gct_sleep_ms(200);
	}
	expect_code(&r, 0);
	tok = strdup(cJSON_GetObjectItem(payload(&r), "token")->valuestring);
	resp_free(&r);
	get(&r, tok, "/api/v1/user/info");
	expect_code(&r, 0);
	resp_free(&r);
	free(tok);
}

static void change_password_checks_the_old_one(void **state)
{
	resp r;
	char *tok;
	(void)state;
	post(&r, F.admin_tok, "/api/v1/user/create",
	     "name=Dave&password=dave-pw-1&account=dave");
	expect_code(&r, 0);
	resp_free(&r);
	tok = login("dave", "dave-pw-1");
	post(&r, tok, "/api/v1/user/change_password",
	     "password=wrong&new_password=dave-new-pw");
	expect_code(&r, 10011);
	resp_free(&r);
	post(&r, tok, "/api/v1/user/change_password",
	     "password=dave-pw-1&new_password=dave-new-pw");
	expect_code(&r, 0);
	/* the token used is revoked: the answer hands over a new one */
	free(tok);
	tok = strdup(cJSON_GetObjectItem(payload(&r), "token")->valuestring);
	resp_free(&r);
	/* Only an admin resets someone else's password. */
	post(&r, tok, "/api/v1/user/reset_password", "id=1&new_password=x");
	expect_code(&r, 10014);
	resp_free(&r);
	free(tok);
	tok = login("dave", "dave-new-pw");
	get(&r, tok, "/api/v1/user/info");
	expect_code(&r, 0);
	assert_string_equal(cJSON_GetObjectItem(payload(&r), "account")->valuestring,
			    "dave");
	{
		int64_t id = (int64_t)cJSON_GetObjectItem(payload(&r), "id")
				     ->valuedouble;
		assert_int_equal(cJSON_GetObjectItem(payload(&r),
						     "default_password")
					 ->valueint,
				 0);
		resp_free(&r);
		post(&r, F.admin_tok, "/api/v1/user/reset_password",
		     "id=%" PRId64 "&new_password=dave-reset-pw", id);
		expect_code(&r, 0);
		resp_free(&r);
	}
	post(&r, F.admin_tok, "/api/v1/user/reset_password",
	     "id=987654&new_password=whatever-pw");
	expect_code(&r, 404);
	resp_free(&r);
	free(tok);
	tok = login("dave", "dave-reset-pw");
	free(tok);
}

/* A token as issued before token generations existed: no "gen" claim. */
static char *token_without_gen(int64_t uid)
{
	jwt_t *j = NULL;
	char *tok;
	long now = (long)time(NULL);
	assert_int_equal(jwt_new(&j), 0);
	assert_int_equal(jwt_add_grant(j, "biz", "gopherCron"), 0);
	assert_int_equal(jwt_add_grant_int(j, "uid", (long)uid), 0);
	assert_int_equal(jwt_add_grant_int(j, "user", (long)uid), 0);
	assert_int_equal(jwt_add_grant_int(j, "iat", now), 0);
	assert_int_equal(jwt_add_grant_int(j, "exp", now + 3600), 0);
	assert_int_equal(jwt_set_alg(j, JWT_ALG_HS256,
				     (const unsigned char *)SECRET,
				     (int)strlen(SECRET)),
			 0);
	tok = jwt_encode_str(j);
	assert_non_null(tok);
	jwt_free(j);
	return tok;
}

static void expect_token_works(const char *tok)
{
	resp r;
	get(&r, tok, "/api/v1/user/info");
	expect_code(&r, 0);
	resp_free(&r);
}

static void expect_token_revoked(const char *tok)
{
	resp r;
	get(&r, tok, "/api/v1/user/info");
	expect_code(&r, 401);
	expect_msg_has(&r, "token revoked");
	resp_free(&r);
}

static char *token_in(const resp *r)
{
	const cJSON *t = cJSON_GetObjectItem(payload(r), "token");
	if (!cJSON_IsString(t))
		fail_msg("no token in: %.300s", r->body ? r->body : "");
	return strdup(t->valuestring);
}

static int64_t create_user(const char *account, const char *password,
			   const char *permission)
{
	resp r;
	int64_t id;
	post(&r, F.admin_tok, "/api/v1/user/create",
	     "name=%s&password=%s&account=%s&permission=%s", account, password,
	     account, permission);
	expect_code(&r, 0);
	id = (int64_t)cJSON_GetObjectItem(payload(&r), "id")->valuedouble;
	resp_free(&r);
	return id;
}

/* Tokens issued before a password change or an admin's reset are refused
 * afterwards, also those issued in the same second just before it; the
 * new ones work. Tokens from before token generations existed work until
 * the user's first change. */
static void password_change_and_reset_revoke_older_tokens(void **state)
{
	resp r;
	char *t1, *t2, *t3, *t4, *t5, *old, *ft, *ft2;
	int64_t id, fid;
	(void)state;
	id = create_user("erin", "erin-pw-1", "user");
	t1 = login("erin", "erin-pw-1");
	t2 = login("erin", "erin-pw-1");
	old = token_without_gen(id);
	expect_token_works(t1);
	expect_token_works(old);
	post(&r, t1, "/api/v1/user/change_password",
	     "password=erin-pw-1&new_password=erin-pw-2");
	expect_code(&r, 0);
	t3 = token_in(&r);
	resp_free(&r);
	expect_token_revoked(t1);
	expect_token_revoked(t2);
	expect_token_revoked(old);
	expect_token_works(t3);
	t4 = login("erin", "erin-pw-2");
	expect_token_works(t4);
	/* an admin's reset: every token of the user goes, the admin's stays */
	post(&r, F.admin_tok, "/api/v1/user/reset_password",
	     "id=%" PRId64 "&new_password=erin-pw-3", id);
	expect_code(&r, 0);
	assert_null(cJSON_GetObjectItem(payload(&r), "token"));
	resp_free(&r);
	expect_token_revoked(t3);
	expect_token_revoked(t4);
	expect_token_works(F.admin_tok);
	t5 = login("erin", "erin-pw-3");
	expect_token_works(t5);
	/* an admin who resets their own password is handed a new token */
	fid = create_user("fiona", "fiona-pw-1", "admin");
	ft = login("fiona", "fiona-pw-1");
	post(&r, ft, "/api/v1/user/reset_password",
	     "id=%" PRId64 "&new_password=fiona-pw-2", fid);
	expect_code(&r, 0);
	ft2 = token_in(&r);
	resp_free(&r);
	expect_token_revoked(ft);
	expect_token_works(ft2);
	free(t1);
	free(t2);
	free(t3);
	free(t4);
	free(t5);
	free(old); /* libjwt's jwt_encode_str() mallocs */
	free(ft);
	free(ft2);
}

/* New passwords have at least 8 characters (not bytes): create, change and
 * reset answer 400 naming the parameter. Logins take any length. */
static void new_passwords_need_8_characters(void **state)
{
	resp r;
	char *seven = enc("\xe5\xaf\x86\xe7\xa0\x81\xe5\xaf\x86\xe7\xa0\x81"
			  "\xe5\xaf\x86\xe7\xa0\x81\xe5\xaf\x86"); /* 21 bytes */
	char *eight = enc("\xe5\xaf\x86\xe7\xa0\x81\xe5\xaf\x86\xe7\xa0\x81"
			  "\xe5\xaf\x86\xe7\xa0\x81\xe5\xaf\x86\xe7\xa0\x81");
	char *tok;
	int64_t id;
	(void)state;
	post(&r, F.admin_tok, "/api/v1/user/create",
	     "name=G&password=short77&account=gina");
	expect_code(&r, 400);
	expect_msg_has(&r, "parameter \"password\": password too short (7 "
			   "characters, at least 8)");
	resp_free(&r);
	post(&r, F.admin_tok, "/api/v1/user/create",
	     "name=G&password=%s&account=gina", seven);
	expect_code(&r, 400);
	expect_msg_has(&r, "(7 characters, at least 8)");
	resp_free(&r);
	post(&r, F.admin_tok, "/api/v1/user/create",
	     "name=G&password=%s&account=gina", eight);
	expect_code(&r, 0);
	id = (int64_t)cJSON_GetObjectItem(payload(&r), "id")->valuedouble;
	resp_free(&r);
	tok = login("gina", eight);
	post(&r, tok, "/api/v1/user/change_password",
	     "password=%s&new_password=short", eight);
	expect_code(&r, 400);
	expect_msg_has(&r, "parameter \"new_password\": password too short");
	resp_free(&r);
	expect_token_works(tok); /* nothing changed */
	post(&r, F.admin_tok, "/api/v1/user/reset_password",
	     "id=%" PRId64 "&new_password=1234567", id);
	expect_code(&r, 400);
	expect_msg_has(&r, "parameter \"new_password\": password too short");
	resp_free(&r);
	post_json(&r, F.admin_tok, "/api/v1/user/create",
		  "{\"name\":\"H\",\"account\":\"hugo\",\"password\":\"x\"}");
	expect_code(&r, 400);
	expect_msg_has(&r, "parameter \"password\"");
	resp_free(&r);
	/* the first-start admin/123456 still logs in (compat) */
	free(login("admin", "123456"));
	free(tok);
	free(seven);
	free(eight);
}

/* Failed logins from one address lock only that address (for that
 * account, or for all after many accounts), never the account for a
 * client elsewhere that knows the password. */
static void lockout_from_one_address_spares_the_others(void **state)
{
	resp r;
	int n429 = 0;
	char acct[32];
	(void)state;
	create_user("lockee", "lockee-password", "user");
	src_ip = "127.0.0.2";
	for (int i = 0; i < 12; i++) {
		post(&r, NULL, "/api/v1/user/login",
		     "account=lockee&password=guess-%d", i);
		if (code(&r) == 429) {
			assert_non_null(strstr(r.headers, "Retry-After: "));
			n429++;
		} else {
			expect_code(&r, 10011);
		}
		resp_free(&r);
	}
	assert_true(n429 > 0);
	post(&r, NULL, "/api/v1/user/login",
	     "account=lockee&password=lockee-password");
	expect_code(&r, 429); /* the guesser's address waits */
	resp_free(&r);
	src_ip = "127.0.0.3";
	post(&r, NULL, "/api/v1/user/login",
	     "account=lockee&password=lockee-password");
	expect_code(&r, 0); /* the real user elsewhere does not */
	resp_free(&r);

	/* one address spraying accounts: locked after 4 x 8 failures */
	src_ip = "127.0.0.4";
	for (int i = 0; i < 32; i++) {
		snprintf(acct, sizeof(acct), "spray-%d", i);
		post(&r, NULL, "/api/v1/user/login",
		     "account=%s&password=guess", acct);
		if (code(&r) != 429)
			expect_code(&r, 10007);
		resp_free(&r);
	}
	post(&r, NULL, "/api/v1/user/login",
	     "account=lockee&password=lockee-password");
	expect_code(&r, 429);
	expect_msg_has(&r, "from this address");
	resp_free(&r);
	src_ip = "127.0.0.3";
	post(&r, NULL, "/api/v1/user/login",
	     "account=lockee&password=lockee-password");
	expect_code(&r, 0);
	resp_free(&r);
	src_ip = NULL;
}

/* A [jwt] secret under 32 bytes set by an embedder (the config loader
 * refuses it with file and line) stops gc_service_new, naming the key. */
static void short_jwt_secret_is_refused_by_the_service(void **state)
{
	gc_service *svc = NULL;
	gc_error err = {0, ""};
	char *saved = F.cfg.jwt.secret;
	int rc;
	(void)state;
	F.cfg.jwt.secret = (char *)"k";
	rc = gc_service_new(&svc, &F.cfg, NULL, &err);
	F.cfg.jwt.secret = saved;
	gc_service_free(svc);
	assert_int_equal(rc, GC_EINVAL);
	assert_non_null(strstr(err.msg, "jwt.secret"));
	assert_non_null(strstr(err.msg, "at least 32"));
}

/* ------------------------------------ output sizes, list budget, log lines */

/* POST a report body of `len` bytes; returns the answer's meta.code. */
static int post_report(const char *type, const char *body, size_t len)
{
	resp r;
	char th[64];
	const char *h[] = {"Authorization: Bearer " REPORT_TOKEN, th, NULL};
	int rc;
	snprintf(th, sizeof(th), "Report-Type: %s", type);
	http_port(&r, F.port, "POST", "/api/v1/report", NULL,
		  "application/json", body, len, h);
	rc = code(&r);
	resp_free(&r);
	return rc;
}

/* A result of task `tid` whose output is `n` bytes of `fill` (written raw
 * in the JSON, as JSON allows and a careless agent may), then `end`. */
static char *big_result(int64_t pid, const char *tid, const char *run_id,
			const char *fill, size_t n, const char *end,
			const char *error, size_t *len)
{
	char head[1024], tail[512];
	size_t hl, tl, fl = strlen(fill);
	char *b;
	hl = (size_t)snprintf(
		head, sizeof(head),
		"{\"execute_info\":{\"task\":{\"task_id\":\"%s\",\"name\":"
		"\"big\",\"project_id\":%" PRId64 ",\"command\":\"echo big\","
		"\"cron\":\"* * * * *\",\"client_ip\":\"192.0.2.2\"},"
		"\"plan_time\":\"2026-11-23T21:52:27Z\",\"real_time\":"
		"\"2026-11-23T21:52:27Z\"},\"output\":\"",
		tid, pid);
	tl = (size_t)snprintf(tail, sizeof(tail),
			      "%s\",\"error\":\"%s\",\"start_time\":"
			      "\"2026-11-23T21:52:27Z\",\"end_time\":"
			      "\"2026-11-23T21:52:28Z\",\"run_id\":\"%s\"}",
			      end, error, run_id);
	b = malloc(hl + n * fl + tl + 1);
	assert_non_null(b);
	memcpy(b, head, hl);
	for (size_t i = 0; i < n; i++)
		memcpy(b + hl + i * fl, fill, fl);
	memcpy(b + hl + n * fl, tail, tl + 1);
	*len = hl + n * fl + tl;
	return b;
}

/* The listed rows of project `pid` (page, pagesize); r keeps the answer. */
static cJSON *list_logs(resp *r, int64_t pid, int page, int pagesize)
{
	get(r, F.admin_tok,
	    "/api/v1/log/list?project_id=%" PRId64 "&page=%d&pagesize=%d", pid,
	    page, pagesize);
	expect_code(r, 0);
	return cJSON_GetObjectItem(payload(r), "list");
}

/* A listed row's result text, decoded: output (malloc'd, *len bytes) and
 * system_error (malloc'd). */
static char *row_output(const cJSON *row, size_t *len, char **syserr)
{
	const char *text = cJSON_GetObjectItem(row, "result")->valuestring;
	cJSON *res = cJSON_Parse(text);
	char *out;
	assert_non_null(res);
	out = strdup(cJSON_GetObjectItem(res, "result")->valuestring);
	*len = strlen(out);
	if (syserr)
		*syserr = strdup(
			cJSON_GetObjectItem(res, "system_error")->valuestring);
	cJSON_Delete(res);
	return out;
}

static int row_truncated(const cJSON *row)
{
	return cJSON_IsTrue(cJSON_GetObjectItem(row, "truncated"));
}

/* GET /api/v1/log/detail of run `id` as the admin; r keeps the answer. */
static const cJSON *log_detail(resp *r, int64_t id)
{
	get(r, F.admin_tok, "/api/v1/log/detail?id=%" PRId64, id);
	expect_code(r, 0);
	return payload(r);
}

/* The newest run of project `pid`, whole (log/detail); r keeps it. */
static const cJSON *newest_whole(resp *r, int64_t pid)
{
	resp l;
	int64_t id = (int64_t)cJSON_GetObjectItem(
			     cJSON_GetArrayItem(list_logs(&l, pid, 1, 1), 0),
			     "id")
			     ->valuedouble;
	resp_free(&l);
	return log_detail(r, id);
}

/* A 3 MiB output of '<' used to become an 18 MiB row (Go's \u003c, six
 * bytes each): now it is stored once, unescaped, and capped at [log]
 * output_limit (1 MiB by default) with the executor's head + marker +
 * tail rule; an output an agent already capped at that limit is kept. */
static void report_output_is_stored_once_and_capped(void **state)
{
	resp r;
	int64_t pid = create_project("bigout");
	size_t len, olen;
	char *body, *out, marker[64];
	const cJSON *row;
	const char *text;
	(void)state;

	body = big_result(pid, "901", "cap-1", "<", 3u << 20, "END\\n", "",
			  &len);
	assert_int_equal(post_report("report_task_result", body, len), 0);
	free(body);
	row = newest_whole(&r, pid);
	assert_false(row_truncated(row));
	text = cJSON_GetObjectItem(row, "result")->valuestring;
	assert_null(strstr(text, "\\u003c")); /* stored as it is */
	assert_true(strlen(text) < (1u << 20) + 256);
	out = row_output(row, &olen, NULL);
	/* said in the log, once */
	assert_int_equal(gct_logbuf_count(&F.log, "run cap-1 of task 901 ("),
			 1);
	assert_int_equal(gct_logbuf_count(&F.log, "output of 3145732 bytes "
						  "stored cut to [log] "
						  "output_limit (1048576 "
						  "bytes)"),
			 1);
	snprintf(marker, sizeof(marker), "\n... [%u bytes omitted] ...\n",
		 (3u << 20) + 4 - (1u << 20));
	assert_int_equal(olen, (1u << 20) + strlen(marker));
	assert_int_equal(strspn(out, "<"), 512u * 1024);
	assert_memory_equal(out + 512 * 1024, marker, strlen(marker));
	assert_string_equal(out + olen - 4, "END\n");
	free(out);
	resp_free(&r);

	/* An agent's capped output (1 MiB and its marker) stays as it is. */
	{
		static const char agent_marker[] =
			"\\n... [777 bytes omitted] ...\\n";
		size_t half = 512u * 1024;
		body = big_result(pid, "901", "cap-2", "a", half, agent_marker,
				  "", &len);
		/* the tail: half a MiB of 'b' after the marker */
		char *b2 = malloc(len + half + 1);
		char *q = strstr(body, agent_marker) + strlen(agent_marker);
		size_t pre = (size_t)(q - body);
		memcpy(b2, body, pre);
		memset(b2 + pre, 'b', half);
		memcpy(b2 + pre + half, q, len - pre + 1);
		assert_int_equal(post_report("report_task_result", b2,
					     len + half),
				 0);
		free(body);
		free(b2);
	}
	row = newest_whole(&r, pid);
	out = row_output(row, &olen, NULL);
	assert_int_equal(olen, (1u << 20) + strlen("\n... [777 bytes "
						   "omitted] ...\n"));
	assert_int_equal(strspn(out, "a"), 512u * 1024);
	assert_non_null(strstr(out, "\n... [777 bytes omitted] ...\n"));
	assert_int_equal(strspn(out + olen - 512 * 1024, "b"), 512u * 1024);
	free(out);
	resp_free(&r);
}

/* Inserts a row the original wrote: Go's \u003c escapes (6 bytes a
 * byte), 2 Mi of them then TAILEND, 12 MiB, the newest of project pid. */
static void insert_original_row(int64_t pid)
{
	gc_store_log old = {0};
	gc_error err;
	gc__buf t = GC__BUF_INIT;
	size_t inserted = 0;
	assert_int_equal(gc__buf_puts(&t, "{\"result\":\""), 0);
	for (int i = 0; i < 2 * 1024 * 1024; i++)
		assert_int_equal(gc__buf_puts(&t, "\\u003c"), 0);
	assert_int_equal(gc__buf_puts(&t, "TAILEND\",\"system_error\":"
					  "\"exit status 9\",\"error\":"
					  "\"\"}"),
			 0);
	old.project_id = pid;
	old.task_id = (char *)"903";
	old.name = (char *)"old";
	old.command = (char *)"echo old";
	old.result = t.data;
	old.start_time = (int64_t)time(NULL) + 3600;
	old.end_time = old.start_time;
	old.with_error = 1;
	old.run_id = (char *)"original-1";
	assert_int_equal(
		gc_store_log_insert(&inserted, F.svc->store, &old, 1, &err), 0);
	assert_int_equal(inserted, 1);
	gc__buf_free(&t);
}

/* Row i of the 14 listed by log_list_previews_and_detail_is_whole against
 * the run's log/detail: a preview's ends are the whole output's, its marker
 * says the stored size; the short row is whole; detail is byte-exact. */
static void check_row_against_detail(const cJSON *row, int i, size_t out_len)
{
	resp d;
	const cJSON *w;
	int64_t id = (int64_t)cJSON_GetObjectItem(row, "id")->valuedouble;
	char marker[160], *wout, *werr, *out, *err;
	size_t wlen, olen;
	out = row_output(row, &olen, &err);
	w = log_detail(&d, id);
	wout = row_output(w, &wlen, &werr);
	assert_false(row_truncated(w));
	assert_null(cJSON_GetObjectItem(w, "result_bytes"));
	assert_string_equal(cJSON_GetObjectItem(w, "run_id")->valuestring,
			    cJSON_GetObjectItem(row, "run_id")->valuestring);
	if (i == 13) { /* the oldest: a short output, whole */
		assert_false(row_truncated(row));
		assert_null(cJSON_GetObjectItem(row, "result_bytes"));
		assert_int_equal(olen, 100);
		assert_string_equal(out, wout);
	} else {
		int64_t all = (int64_t)cJSON_GetObjectItem(row, "result_bytes")
				      ->valuedouble;
		assert_true(row_truncated(row));
		assert_true(olen < 8 * 1024);
		snprintf(marker, sizeof(marker),
			 " bytes of the middle left out; the stored "
			 "result has %" PRId64
			 " bytes; GET /api/v1/log/detail?id=%" PRId64
			 " returns all of it] ...\n",
			 all, id);
		assert_non_null(strstr(out, "\n... [preview: about "));
		assert_non_null(strstr(out, marker));
		/* the whole text is as long as said */
		assert_int_equal(
			strlen(cJSON_GetObjectItem(w, "result")->valuestring),
			all);
		/* the preview's ends are the output's */
		size_t pre = (size_t)(strstr(out, "\n... [preview") - out);
		size_t suf = olen - (size_t)(strstr(out, marker) +
					     strlen(marker) - out);
		/* 2 KiB of the original's \u003c: 341 characters */
		assert_true(pre > 300 && suf > 300);
		assert_memory_equal(out, wout, pre);
		assert_memory_equal(out + olen - suf, wout + wlen - suf, suf);
		assert_string_equal(err, werr);
	}
	if (i == 0) { /* the original's row, decoded whole */
		assert_int_equal(wlen, 2u * 1024 * 1024 + 7);
		assert_int_equal(strspn(wout, "<"), 2u * 1024 * 1024);
		assert_string_equal(wout + wlen - 7, "TAILEND");
		assert_string_equal(werr, "exit status 9");
	} else if (i < 13) {
		char end[32];
		snprintf(end, sizeof(end), "tail-%d\n", 12 - i);
		assert_int_equal(wlen, out_len + strlen(end));
		assert_int_equal(strspn(wout, "x"), out_len);
		assert_string_equal(wout + out_len, end);
		assert_string_equal(werr, "exit status 3");
	}
	free(out);
	free(err);
	free(wout);
	free(werr);
	resp_free(&d);
}

/* log/list answers previews of long results whatever the page size: the
 * first and last 2 KiB of the stored text, a marker with the bytes left
 * out and where the rest is; the rows flagged and counted. A short result
 * comes whole, unflagged, as the original's did. log/detail answers every
 * run whole, byte for byte, the original's 12 MiB row too. */
static void log_list_previews_and_detail_is_whole(void **state)
{
	resp r;
	int64_t pid = create_project("biglist");
	const size_t out_len = 1000u * 1024;
	cJSON *list;
	char *body;
	size_t len;
	(void)state;

	body = big_result(pid, "904", "small-1", "s", 100, "", "", &len);
	assert_int_equal(post_report("report_task_result", body, len), 0);
	free(body);
	for (int i = 0; i < 12; i++) {
		char rid[32], end[32];
		snprintf(rid, sizeof(rid), "list-%d", i);
		snprintf(end, sizeof(end), "tail-%d\\n", i);
		body = big_result(pid, "902", rid, "x", out_len, end,
				  "exit status 3", &len);
		assert_int_equal(post_report("report_task_result", body, len),
				 0);
		free(body);
	}
	insert_original_row(pid);

	list = list_logs(&r, pid, 1, 1000);
	assert_true(r.len < 13 * 16 * 1024);
	assert_int_equal(cJSON_GetArraySize(list), 14);
	assert_int_equal(cJSON_GetObjectItem(payload(&r), "total")->valueint,
			 14);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(payload(&r), "truncated")));
	assert_int_equal(
		cJSON_GetObjectItem(payload(&r), "truncated_rows")->valueint,
		13);
	for (int i = 0; i < 14; i++)
		check_row_against_detail(cJSON_GetArrayItem(list, i), i, out_len);
	resp_free(&r);
	/* A page of only short results says nothing more than 1.10 did. */
	list = list_logs(&r, pid, 14, 1);
	assert_false(row_truncated(cJSON_GetArrayItem(list, 0)));
	assert_null(cJSON_GetObjectItem(payload(&r), "truncated"));
	assert_null(cJSON_GetObjectItem(payload(&r), "truncated_rows"));
	resp_free(&r);
}

/* 3,000 three-byte characters (9,000 bytes): SQLite, which cuts
 * characters, lists them whole (a head and tail of 2,048 characters would
 * overlap); MySQL, which cuts bytes, as a preview whose ends are the
 * output's. Never a character twice, never one split. */
static void a_wide_character_output_is_never_doubled(void **state)
{
	resp r, d;
	int64_t pid = create_project("wide"), id;
	gc__buf fill = GC__BUF_INIT;
	const cJSON *row;
	char *body, *out, *whole;
	size_t len, olen, wlen;
	(void)state;
	for (int i = 0; i < 3000; i++)
		assert_int_equal(gc__buf_puts(&fill, "\xe2\x82\xac"), 0);
	body = big_result(pid, "907", "wide-1", fill.data, 1, "", "", &len);
	assert_int_equal(post_report("report_task_result", body, len), 0);
	free(body);
	row = cJSON_GetArrayItem(list_logs(&r, pid, 1, 1), 0);
	id = (int64_t)cJSON_GetObjectItem(row, "id")->valuedouble;
	out = row_output(row, &olen, NULL);
	whole = row_output(log_detail(&d, id), &wlen, NULL);
	assert_int_equal(wlen, fill.len);
	assert_memory_equal(whole, fill.data, wlen);
	if (!F.db) {
		assert_false(row_truncated(row));
		assert_string_equal(out, whole);
	} else {
		const char *m = strstr(out, "\n... [preview: about ");
		const char *e = m ? strstr(m, "] ...\n") : NULL;
		assert_true(row_truncated(row));
		assert_non_null(e);
		e += strlen("] ...\n");
		assert_int_equal((size_t)(m - out) % 3, 0);
		assert_int_equal(strlen(e) % 3, 0);
		assert_true((size_t)(m - out) + strlen(e) < wlen);
		assert_memory_equal(out, whole, (size_t)(m - out));
		assert_string_equal(e, whole + wlen - strlen(e));
	}
	free(out);
	free(whole);
	gc__buf_free(&fill);
	resp_free(&r);
	resp_free(&d);
}

/* log/detail: project access exactly as log/list (a member reads it; an
 * outsider and a wrong project_id get the 404 of a missing id), a clear
 * 400 for an id that is not one. */
static void log_detail_access_and_bad_ids(void **state)
{
	resp r;
	int64_t pid = create_project("detail-acl"), id;
	char *body, *tok, path[128];
	size_t len;
	const char *bad[] = {"", "?id=", "?id=abc", "?id=0", "?id=-3",
			     "?id=1.5", "?id=99999999999999999999"};
	(void)state;
	body = big_result(pid, "905", "acl-1", "a", 10, "", "", &len);
	assert_int_equal(post_report("report_task_result", body, len), 0);
	free(body);
	id = (int64_t)cJSON_GetObjectItem(
		     cJSON_GetArrayItem(list_logs(&r, pid, 1, 1), 0), "id")
		     ->valuedouble;
	resp_free(&r);

	create_user("detailout", "outsider1", "user");
	tok = login("detailout", "outsider1");
	get(&r, tok, "/api/v1/log/detail?id=%" PRId64, id);
	expect_code(&r, 404);
	snprintf(path, sizeof(path), "log %" PRId64 " not found", id);
	expect_msg_has(&r, path);
	resp_free(&r);
	get(&r, tok, "/api/v1/log/detail?id=%" PRId64 "&project_id=%" PRId64,
	    id, pid);
	expect_code(&r, 404);
	resp_free(&r);

	post(&r, F.admin_tok, "/api/v1/project/add_user",
	     "project_id=%" PRId64 "&user_account=detailout", pid);
	expect_code(&r, 0);
	resp_free(&r);
	get(&r, tok, "/api/v1/log/detail?id=%" PRId64, id);
	expect_code(&r, 0);
	assert_int_equal(
		(int64_t)cJSON_GetObjectItem(payload(&r), "project_id")
			->valuedouble,
		pid);
	resp_free(&r);
	/* the right id in another project: not there */
	get(&r, F.admin_tok,
	    "/api/v1/log/detail?id=%" PRId64 "&project_id=%" PRId64, id,
	    pid + 1000);
	expect_code(&r, 404);
	resp_free(&r);
	get(&r, tok, "/api/v1/log/detail?id=%" PRId64, id + 100000);
	expect_code(&r, 404);
	resp_free(&r);
	get(&r, NULL, "/api/v1/log/detail?id=%" PRId64, id);
	expect_code(&r, 401);
	resp_free(&r);
	for (size_t i = 0; i < GC__ARRAY_LEN(bad); i++) {
		get(&r, tok, "/api/v1/log/detail%s", bad[i]);
		if (code(&r) != 400)
			fail_msg("detail%s: %.300s", bad[i], r.body);
		expect_code(&r, 400);
		expect_msg_has(&r, "\"id\"");
		resp_free(&r);
	}
	free(tok);
}

/* The peak resident size of this process (the service runs in it), in
 * KiB, since the last peak_reset(). */
static long peak_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "re");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static void peak_reset(void)
{
	FILE *f;
	/* Freed heap left resident would serve the next request unseen. */
	malloc_trim(0);
	f = fopen("/proc/self/clear_refs", "we");
	assert_non_null(f);
	fputs("5", f); /* resets VmHWM to the current resident size */
	fclose(f);
}

/* Peak RSS growth, KiB, of one gc_store_log_list of `rows` rows of
 * project pid with these preview and budget settings. */
static long store_list_kib(int64_t pid, int rows, size_t preview,
			   size_t budget)
{
	gc_store_log_query q = {&pid, 1, NULL, 0, 1, rows, budget, preview};
	gc_store_logs l = {0};
	gc_error err;
	long base;
	peak_reset();
	base = peak_kib();
	assert_int_equal(gc_store_log_list(&l, F.svc->store, &q, &err), 0);
	assert_int_equal(l.count, (size_t)rows);
	gc_store_logs_clear(&l);
	return peak_kib() - base;
}

/* A page of 1,000 rows of 256 KiB outputs (250 MiB stored) costs the
 * service a few MiB: previews read in SQL. The same page read whole (as
 * 1.10 did, the store's rows without preview nor budget) is measured in
 * the same run for the ratio (docs/BENCHMARKS.md, "Log list memory"). */
static void a_page_of_1000_large_rows_stays_bounded(void **state)
{
	enum { ROWS = 1000, BATCH = 25 };
	const size_t out_len = 256u * 1024;
	int64_t pid = create_project("thousand");
	gc_store_log rows[BATCH];
	gc__buf text = GC__BUF_INIT;
	char *fill = malloc(out_len + 1), runid[BATCH][32];
	long base, cold_kib, list_kib, whole_kib, store_kib[2];
	size_t inserted;
	gc_error err;
	resp r;
	(void)state;
	assert_non_null(fill);
	memset(fill, 'y', out_len);
	fill[out_len] = '\0';
	assert_int_equal(gc__buf_printf(&text,
					"{\"result\":\"%s\",\"system_error\":"
					"\"\",\"error\":\"\"}",
					fill),
			 0);
	free(fill);
	for (int k = 0; k < ROWS; k += BATCH) {
		memset(rows, 0, sizeof(rows));
		for (int i = 0; i < BATCH; i++) {
			snprintf(runid[i], sizeof(runid[i]), "k-%d", k + i);
			rows[i].project_id = pid;
			rows[i].task_id = (char *)"906";
			rows[i].name = (char *)"thousand";
			rows[i].command = (char *)"yes | head -c 256k";
			rows[i].result = text.data;
			rows[i].start_time = 1700000000 + k + i;
			rows[i].end_time = rows[i].start_time + 1;
			rows[i].run_id = runid[i];
		}
		assert_int_equal(gc_store_log_insert(&inserted, F.svc->store,
						     rows, BATCH, &err),
				 0);
		assert_int_equal(inserted, BATCH);
	}
	gc__buf_free(&text);

	/* Cold, then warm: SQLite reads the file through a shared mapping
	 * ([sqlite] mmap_size, 256 MiB), whose pages count as resident once
	 * read; the second request shows what the answer itself costs. */
	peak_reset();
	base = peak_kib();
	list_logs(&r, pid, 1, 1000);
	cold_kib = peak_kib() - base;
	resp_free(&r);
	peak_reset();
	base = peak_kib();
	list_logs(&r, pid, 1, 1000);
	list_kib = peak_kib() - base;
	assert_int_equal(cJSON_GetArraySize(
				 cJSON_GetObjectItem(payload(&r), "list")),
			 ROWS);
	assert_int_equal(
		cJSON_GetObjectItem(payload(&r), "truncated_rows")->valueint,
		ROWS);
	assert_true(r.len < ROWS * 8 * 1024);
	resp_free(&r);
	/* The store's read alone: with previews (as log/list), with only the
	 * byte budget the list had before them, and whole (as 1.10). */
	store_kib[0] = store_list_kib(pid, ROWS, 2048, 8u << 20);
	store_kib[1] = store_list_kib(pid, ROWS, 0, 8u << 20);
	whole_kib = store_list_kib(pid, ROWS, 0, 0);
	printf("bench: log/list of %d rows of %zu KiB (%s): peak RSS +%ld "
	       "KiB (first request: +%ld KiB); store read with previews "
	       "+%ld KiB, with the 8 MiB budget alone +%ld KiB, whole +%ld "
	       "KiB (whole / log/list: %.1fx)\n",
	       ROWS, out_len / 1024, F.db ? "mariadb" : "sqlite", list_kib,
	       cold_kib, store_kib[0], store_kib[1], whole_kib,
	       list_kib > 0 ? (double)whole_kib / list_kib : 0.0);
	/* the whole rows are 250 MiB; the list's cost is its answer */
	assert_true(whole_kib > 200 * 1024);
	assert_true(list_kib < 48 * 1024);
}

/* A task is refused when its stored JSON would be over GC_TASK_MAX_BYTES
 * (agents skip such a task). The REST parameters cannot get there alone;
 * an update keeps the JSON members it does not know, which a value written
 * to etcd directly may bring: 1.1 MiB of them here. */
static void task_save_refuses_a_task_over_the_size_limit(void **state)
{
	resp r;
	int64_t pid = create_project("bigtask");
	char *tid = create_task(F.admin_tok, pid, "grows", "0 0 1 1 *", 0);
	char *k = key("/%" PRId64 "/%s", pid, tid), *v, *now;
	size_t n = 1100u * 1024;
	gc__buf b = GC__BUF_INIT;
	(void)state;
	assert_int_equal(gc__buf_printf(&b,
					"{\"task_id\":\"%s\",\"name\":\"grows\","
					"\"project_id\":%" PRId64
					",\"command\":\"true\",\"cron\":\"0 0 1 "
					"1 *\",\"status\":1,\"blob\":\"",
					tid, pid),
			 0);
	v = malloc(n + 1);
	memset(v, 'x', n);
	v[n] = '\0';
	assert_int_equal(gc__buf_puts(&b, v), 0);
	assert_int_equal(gc__buf_puts(&b, "\"}"), 0);
	free(v);
	etcd_put(k, b.data);
	post(&r, F.admin_tok, "/api/v1/crontab/save",
	     "project_id=%" PRId64 "&task_id=%s&name=grows&command=echo+hi"
	     "&cron=0+0+1+1+*",
	     pid, tid);
	expect_code(&r, 400);
	expect_msg_has(&r, "over the 1048576 bytes a task may have");
	resp_free(&r);
	now = etcd_value(k, NULL); /* left as it was */
	assert_non_null(now);
	assert_string_equal(now, b.data);
	free(now);
	gc__buf_free(&b);
	free(k);
	free(tid);
}

/* A newline in a login account or in a warning's data cannot write a
 * line of its own into the service's log. */
static void log_lines_cannot_be_forged(void **state)
{
	resp r;
	(void)state;
	post(&r, NULL, "/api/v1/user/login",
	     "account=x%%0A2026-01-01T00:00:00Z+err+forged-login&password=p");
	expect_code(&r, GC__C_USER_NOT_FOUND);
	resp_free(&r);
	assert_int_equal(
		post_report("report_warning",
			    "{\"data\":\"boom\\n2026-01-01T00:00:00Z err "
			    "forged-warning\\r\\n\\u001b[2J\",\"type\":\"task\","
			    "\"agent_ip\":\"192.0.2.2\",\"task_name\":\"t\\nx\","
			    "\"project_id\":1}",
			    strlen("{\"data\":\"boom\\n2026-01-01T00:00:00Z err "
				   "forged-warning\\r\\n\\u001b[2J\",\"type\":"
				   "\"task\",\"agent_ip\":\"192.0.2.2\","
				   "\"task_name\":\"t\\nx\",\"project_id\":1}")),
		0);
	assert_int_equal(__atomic_load_n(&F.log_controls, __ATOMIC_SEQ_CST),
			 0);
	assert_int_equal(gct_logbuf_count(&F.log, "\n2026-01-01T00:00:00Z"), 0);
	assert_int_equal(
		gct_logbuf_count(&F.log, "account \"x\\n2026-01-01T00:00:00Z "
					 "err forged-login\""),
		1);
	assert_int_equal(gct_logbuf_count(&F.log, "task \"t\\nx\"): boom\\n"
						  "2026-01-01T00:00:00Z err "
						  "forged-warning\\r\\n\\x1b[2J"),
			 1);
}

#define COMMON_TESTS                                                         \
	cmocka_unit_test(version_has_the_envelope_and_cors),                 \
	cmocka_unit_test(login_answers_token_and_codes_like_the_original),   \
	cmocka_unit_test(bad_tokens_get_401),                                \
	cmocka_unit_test(unknown_routes_and_methods),                        \
	cmocka_unit_test(bad_input_gets_4xx_naming_the_problem),             \
	cmocka_unit_test(deep_json_gets_400_and_the_service_lives),          \
	cmocka_unit_test(json_nul_and_inexact_integers_get_400),             \
	cmocka_unit_test(projects_create_list_update_members_delete),       \
	cmocka_unit_test(task_save_keeps_create_time_and_unknown_fields),    \
	cmocka_unit_test(delete_removes_exactly_that_task),                  \
	cmocka_unit_test(execute_and_kill_write_leased_keys_at_once),        \
	cmocka_unit_test(nodes_and_reload_config),                           \
	cmocka_unit_test(outsiders_see_and_change_nothing),                  \
	cmocka_unit_test(report_ingest_is_authenticated_and_idempotent),     \
	cmocka_unit_test(change_password_checks_the_old_one),                \
	cmocka_unit_test(password_change_and_reset_revoke_older_tokens),    \
	cmocka_unit_test(new_passwords_need_8_characters),                  \
	cmocka_unit_test(second_service_shares_etcd_and_store),              \
	cmocka_unit_test(report_output_is_stored_once_and_capped),           \
	cmocka_unit_test(log_list_previews_and_detail_is_whole),             \
	cmocka_unit_test(a_wide_character_output_is_never_doubled),          \
	cmocka_unit_test(log_detail_access_and_bad_ids),                     \
	cmocka_unit_test(a_page_of_1000_large_rows_stays_bounded),           \
	cmocka_unit_test(task_save_refuses_a_task_over_the_size_limit),      \
	cmocka_unit_test(log_lines_cannot_be_forged)

int main(void)
{
	const struct CMUnitTest sqlite_tests[] = {
		COMMON_TESTS,
		cmocka_unit_test(metrics_count_requests_by_route_and_status),
		cmocka_unit_test(admin_page_is_served_embedded_or_from_view_path),
		cmocka_unit_test(etcd_down_gives_503_and_store_routes_still_work),
		cmocka_unit_test(short_jwt_secret_is_refused_by_the_service),
		cmocka_unit_test(lockout_from_one_address_spares_the_others),
		cmocka_unit_test(failed_logins_are_throttled_with_429),
	};
	const struct CMUnitTest mysql_tests[] = {
		COMMON_TESTS,
	};
	int fails = 0;
	fails += cmocka_run_group_tests_name("service_sqlite", sqlite_tests,
					     setup_sqlite, teardown);
	fails += cmocka_run_group_tests_name("service_mariadb", mysql_tests,
					     setup_mysql, teardown);
	return fails ? 1 : 0;
}
