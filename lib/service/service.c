/* gc_service: lifecycle, civetweb glue, routing, authentication and the
 * response envelope of the original:
 *   {"meta":{"code":0,"msg":"","msg_en":"","log":"","cause":null,
 *            "request_id":"...","request_uri":"..."},"response":...}
 * HTTP status = code when code < 600, else 200. */
#include "svc.h"

#include "service/admin_assets.h"

#include <civetweb.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_MAX_BODY (1u << 20)
#define DEFAULT_MAX_REPORT_BODY (16u << 20)
#define ADMIN_FILE_MAX (16u << 20)
#define CORS_HEADERS "access-token, x-requested-with, content-type, authorization"

void gc__svc_log(const struct gc_service *svc, int level, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	if (!svc->opts.log || level > svc->opts.log_level)
		return;
	va_start(ap, fmt);
	gc__log_vformat(line, sizeof(line), fmt, ap);
	va_end(ap);
	svc->opts.log(level, line, svc->opts.log_payload);
}

GC_EXTERN void gc_service_options_init(gc_service_options *opts)
{
	if (!opts)
		return;
	memset(opts, 0, sizeof(*opts));
	opts->version = GC_SERVICE_OPTIONS_VERSION;
}

/* ------------------------------------------------------------ envelope */

const char *gc__code_text(int code)
{
	switch (code) {
	case 0: return "";
	case GC__C_BAD_REQUEST: return "invalid argument";
	case GC__C_UNAUTHORIZED: return "unauthorized";
	case GC__C_NOT_FOUND: return "not found";
	case GC__C_METHOD: return "method not allowed";
	case 409: return "conflict";
	case GC__C_TOO_BIG: return "request body too large";
	case GC__C_UNSUPPORTED: return "unsupported content type";
	case GC__C_TOO_MANY: return "too many requests";
	case GC__C_INTERNAL: return "internal error";
	case GC__C_UNAVAILABLE: return "service unavailable";
	case GC__C_DATA_NOT_FOUND: return "data not found";
	case GC__C_USER_NOT_FOUND: return "user not found";
	case GC__C_BUSY: return "service busy";
	case GC__C_LOCKED: return "lock already held";
	case GC__C_NO_LOCAL_IP: return "no local IP";
	case GC__C_WRONG_PASSWORD: return "password is wrong";
	case GC__C_PROJECT_NOT_EXIST: return "project does not exist";
	case GC__C_PROJECT_EXISTS: return "project exists";
	case GC__C_NO_PERMISSION: return "insufficient permissions";
	case GC__C_BAD_CRON: return "cron expression is wrong";
	case GC__C_USER_EXISTS: return "user exists";
	case GC__C_REMOVE_ADMIN: return "cannot remove the project admin";
	case GC__C_NO_NODE: return "no working node";
	case GC__C_TASK_RUNNING: return "task is running";
	default: return "error";
	}
}

int gc__json_quote(gc__buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	int rc = gc__buf_reserve(b, len + 2);
	if (rc)
		return rc;
	rc = gc__buf_append(b, "\"", 1);
	for (size_t i = 0; i < len && !rc;) {
		unsigned c = u[i];
		size_t run = 0;
		/* copy a run of plain ASCII at once */
		while (i + run < len && u[i + run] >= 0x20 && u[i + run] < 0x80 &&
		       u[i + run] != '"' && u[i + run] != '\\')
			run++;
		if (run) {
			rc = gc__buf_append(b, s + i, run);
			i += run;
			continue;
		}
		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};
			rc = gc__buf_append(b, e, 2);
			i++;
		} else if (c < 0x20) {
			char e[6];
			switch (c) {
			case '\n': rc = gc__buf_append(b, "\\n", 2); break;
			case '\r': rc = gc__buf_append(b, "\\r", 2); break;
			case '\t': rc = gc__buf_append(b, "\\t", 2); break;
			default:
				memcpy(e, "\\u00", 4);
				e[4] = hex[c >> 4];
				e[5] = hex[c & 15];
				rc = gc__buf_append(b, e, 6);
			}
			i++;
		} else {
			/* multi-byte UTF-8: copy a valid sequence, else U+FFFD */
			size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
			if (n > 1 && i + n <= len && gc__utf8_valid(s + i, n)) {
				rc = gc__buf_append(b, s + i, n);
				i += n;
			} else {
				rc = gc__buf_append(b, "\\ufffd", 6);
				i++;
			}
		}
	}
	if (!rc)
		rc = gc__buf_append(b, "\"", 1);
	return rc;
}

static void envelope(gc__ctx *c, int code, const char *msg, const char *body)
{
	gc__buf *b = &c->resp;
	const char *uri = c->uri ? c->uri : "";
	int rc;
	gc__buf_reset(b);
	rc = gc__buf_printf(b, "{\"meta\":{\"code\":%d,\"msg\":", code);
	rc |= gc__json_quote(b, msg, strlen(msg));
	rc |= gc__buf_puts(b, ",\"msg_en\":");
	rc |= gc__json_quote(b, msg, strlen(msg));
	rc |= gc__buf_puts(b, ",\"log\":");
	rc |= gc__json_quote(b, code ? gc__code_text(code) : "",
			     code ? strlen(gc__code_text(code)) : 0);
	rc |= gc__buf_printf(b, ",\"cause\":null,\"request_id\":\"%s\","
				"\"request_uri\":",
			     c->request_id);
	rc |= gc__json_quote(b, uri, strlen(uri));
	rc |= gc__buf_puts(b, "},\"response\":");
	rc |= gc__buf_puts(b, body);
	rc |= gc__buf_puts(b, "}");
	c->status = code == 0 ? 200 : code < 600 ? code : 200;
	c->resp_type = "application/json; charset=utf-8";
	if (rc) {
		/* Out of memory while answering: a fixed body. */
		gc__buf_reset(b);
		gc__buf_puts(b, "{\"meta\":{\"code\":500,\"msg\":\"out of "
				"memory\"},\"response\":{}}");
		c->status = 500;
	}
}

void gc__reply_ok(gc__ctx *c, cJSON *response)
{
	char *body = NULL;
	if (response) {
		body = cJSON_PrintUnformatted(response);
		cJSON_Delete(response);
		if (!body) {
			envelope(c, GC__C_INTERNAL, "out of memory", "{}");
			return;
		}
	}
	envelope(c, 0, "", body ? body : "null");
	cJSON_free(body);
}

void gc__reply_json_text(gc__ctx *c, const char *json)
{
	envelope(c, 0, "", json ? json : "null");
}

void gc__reply_err(gc__ctx *c, int code, const char *fmt, ...)
{
	char msg[GC_ERROR_MSG_MAX + 128];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	envelope(c, code, msg, "{}");
}

void gc__reply_gcerr(gc__ctx *c, int src, int rc, const gc_error *err)
{
	const char *msg = err && err->msg[0] ? err->msg : gc_strerror(rc);
	int code;
	switch (rc) {
	case GC_EINVAL: code = GC__C_BAD_REQUEST; break;
	case GC_ENOTFOUND: code = GC__C_NOT_FOUND; break;
	case GC_ECONFLICT: code = 409; break;
	case GC_EPERM: code = GC__C_NO_PERMISSION; break;
	case GC_ETOOBIG: code = GC__C_TOO_BIG; break;
	case GC_EUNAVAIL:
	case GC_ETIMEDOUT:
	case GC_EIO: code = GC__C_UNAVAILABLE; break;
	default: code = GC__C_INTERNAL; break;
	}
	if (code >= 500) {
		if (src == GC__SRC_ETCD)
			gc__metrics_inc(c->svc->metrics, GC__M_ETCD_ERRORS);
		else if (src == GC__SRC_STORE)
			gc__metrics_inc(c->svc->metrics, GC__M_STORE_ERRORS);
		gc__svc_log(c->svc, GC_LOG_ERR,
			"%s %s: %s", c->method, c->path, msg);
	}
	gc__reply_err(c, code, "%s", msg);
}

void gc__reply_text(gc__ctx *c, int status, const char *type,
		    const void *data, size_t len)
{
	gc__buf_reset(&c->resp);
	if (gc__buf_append(&c->resp, data, len)) {
		envelope(c, GC__C_INTERNAL, "out of memory", "{}");
		return;
	}
	c->status = status;
	c->resp_type = type;
}

void gc__add_header(gc__ctx *c, const char *name, const char *value)
{
	size_t used = strlen(c->resp_headers);
	snprintf(c->resp_headers + used, sizeof(c->resp_headers) - used,
		 "%s: %s\r\n", name, value);
}

cJSON *gc__json_user(const gc_store_user *u, int with_account)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddNumberToObject(o, "id", (double)u->id);
	cJSON_AddStringToObject(o, "name", u->name ? u->name : "");
	cJSON_AddStringToObject(o, "permission",
				u->permission ? u->permission : "");
	if (with_account) {
		cJSON_AddStringToObject(o, "account",
					u->account ? u->account : "");
		cJSON_AddNumberToObject(o, "create_time",
					(double)u->create_time);
	}
	return o;
}

/* ----------------------------------------------------------- etcd pool */

static void etcd_pool_destroy(gc__etcd_pool *p)
{
	for (size_t i = 0; i < p->n_free; i++)
		gc_etcd_free(p->free_list[i]);
	free(p->free_list);
	p->free_list = NULL;
	p->n_free = p->cap = 0;
	pthread_mutex_destroy(&p->mu);
}

static gc_etcd *etcd_pool_get(gc__etcd_pool *p, gc_error *err)
{
	gc_etcd *e = NULL;
	pthread_mutex_lock(&p->mu);
	if (p->n_free)
		e = p->free_list[--p->n_free];
	pthread_mutex_unlock(&p->mu);
	if (e)
		return e;
	if (gc_etcd_new(&e, &p->opts, err) != 0)
		return NULL;
	pthread_mutex_lock(&p->mu);
	p->n_total++;
	pthread_mutex_unlock(&p->mu);
	return e;
}

void gc__etcd_pool_put(gc__etcd_pool *p, gc_etcd *e)
{
	if (!e)
		return;
	pthread_mutex_lock(&p->mu);
	if (p->n_free == p->cap) {
		size_t ncap = p->cap ? p->cap * 2 : 16;
		gc_etcd **nl = realloc(p->free_list, ncap * sizeof(*nl));
		if (!nl) {
			pthread_mutex_unlock(&p->mu);
			gc_etcd_free(e);
			return;
		}
		p->free_list = nl;
		p->cap = ncap;
	}
	p->free_list[p->n_free++] = e;
	pthread_mutex_unlock(&p->mu);
}

gc_etcd *gc__ctx_etcd(gc__ctx *c)
{
	gc_error err = {0, ""};
	if (c->etcd)
		return c->etcd;
	c->etcd = etcd_pool_get(&c->svc->etcd, &err);
	if (!c->etcd)
		gc__reply_gcerr(c, GC__SRC_ETCD, GC_EUNAVAIL, &err);
	return c->etcd;
}

void gc__ctx_cleanup(gc__ctx *c)
{
	if (c->etcd)
		gc__etcd_pool_put(&c->svc->etcd, c->etcd);
	c->etcd = NULL;
	gc__params_free(&c->params);
	gc_store_user_clear(&c->user);
	gc__buf_free(&c->resp);
	free(c->uri);
	c->uri = NULL;
}

/* ------------------------------------------------------ access control */

static int has_admin(const char *permission)
{
	const char *p = permission ? permission : "";
	while (*p) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		while (n && *p == ' ') {
			p++;
			n--;
		}
		if (n == 5 && strncmp(p, "admin", 5) == 0)
			return 1;
		if (!e)
			break;
		p = e + 1;
	}
	return 0;
}

int gc__require_project(gc__ctx *c, int64_t pid, int manage,
			gc_store_project *proj)
{
	gc_store_project local = {0};
	gc_store_project *p = proj ? proj : &local;
	gc_error err = {0, ""};
	int rc, member = 0;
	rc = gc_store_project_get(c->svc->store, pid, p, &err);
	if (rc == GC_ENOTFOUND) {
		gc__reply_err(c, GC__C_NOT_FOUND, "project %" PRId64 " not found",
			      pid);
		return -1;
	}
	if (rc) {
		gc__reply_gcerr(c, GC__SRC_STORE, rc, &err);
		return -1;
	}
	if (!c->admin) {
		rc = gc_store_project_is_member(c->svc->store, pid, c->user.id,
						&member, &err);
		if (rc) {
			gc_store_project_clear(&local);
			gc__reply_gcerr(c, GC__SRC_STORE, rc, &err);
			return -1;
		}
		if (!member) {
			/* Same answer as for a project that does not exist. */
			gc_store_project_clear(p);
			gc__reply_err(c, GC__C_NOT_FOUND,
				      "project %" PRId64 " not found", pid);
			return -1;
		}
		if (manage && p->uid != c->user.id) {
			gc_store_project_clear(p);
			gc__reply_err(c, GC__C_NO_PERMISSION,
				      "only the project's creator or an admin "
				      "may do this to project %" PRId64,
				      pid);
			return -1;
		}
	}
	gc_store_project_clear(&local);
	return 0;
}

int gc__visible_projects(gc__ctx *c, gc_store_projects *out)
{
	gc_error err = {0, ""};
	int rc;
	if (c->admin)
		rc = gc_store_project_list_all(c->svc->store, out, &err);
	else
		rc = gc_store_project_list_by_user(c->svc->store, c->user.id,
						   out, &err);
	if (rc)
		gc__reply_gcerr(c, GC__SRC_STORE, rc, &err);
	return rc ? -1 : 0;
}

/* Token from "access-token: T" (the original) or "Authorization: Bearer T". */
static const char *request_token(gc__ctx *c)
{
	const char *t = c->header(c->hctx, "access-token");
	if (t && *t)
		return t;
	t = c->header(c->hctx, "Authorization");
	if (t && strncasecmp(t, "Bearer ", 7) == 0) {
		t += 7;
		while (*t == ' ')
			t++;
		return t;
	}
	return NULL;
}

static int authenticate(gc__ctx *c)
{
	gc_error err = {0, ""};
	gc__claims cl;
	const char *tok = request_token(c);
	int rc;
	if (!tok) {
		gc__reply_err(c, GC__C_UNAUTHORIZED,
			      "unauthorized: no token (send header access-token "
			      "or Authorization: Bearer)");
		return -1;
	}
	if (gc__jwt_verify(c->svc->jwt_secret, c->svc->jwt_secret_len, tok,
			   (int64_t)time(NULL), &cl, &err) != 0) {
		gc__reply_err(c, GC__C_UNAUTHORIZED, "unauthorized: %s",
			      err.msg);
		return -1;
	}
	/* The store, not the token, says who the user is now: a deleted user
	 * or a revoked admin right takes effect at once. */
	rc = gc_store_user_get(c->svc->store, cl.uid, &c->user, &err);
	if (rc == GC_ENOTFOUND) {
		gc__reply_err(c, GC__C_UNAUTHORIZED,
			      "unauthorized: the token's user no longer exists");
		return -1;
	}
	if (rc) {
		gc__reply_gcerr(c, GC__SRC_STORE, rc, &err);
		return -1;
	}
	/* A password change or reset bumps the user's generation: tokens
	 * issued before it stop working. A token without the claim (issued
	 * before generations existed) is generation 0: it works until the
	 * user's first password change. */
	if ((cl.has_gen ? cl.gen : 0) != c->user.token_gen) {
		gc_store_user_clear(&c->user);
		gc__reply_err(c, GC__C_UNAUTHORIZED,
			      "unauthorized: token revoked (the password was "
			      "changed after it was issued): log in again");
		return -1;
	}
	c->authed = 1;
	c->admin = has_admin(c->user.permission);
	return 0;
}

/* ----------------------------------------------------------- admin page */

/* A path below view_path we are willing to open: plain segments only. */
static int safe_rel_path(const char *rel)
{
	const char *seg = rel;
	if (!*rel || *rel == '/')
		return 0;
	for (const char *p = rel; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		      ch == '-' || ch == '/'))
			return 0;
	}
	while (seg && *seg) {
		const char *e = strchr(seg, '/');
		size_t n = e ? (size_t)(e - seg) : strlen(seg);
		if (n == 0 || seg[0] == '.')
			return 0; /* "//", "..", hidden files */
		seg = e ? e + 1 : NULL;
	}
	return 1;
}

static int serve_view_file(gc__ctx *c, const char *rel)
{
	char *path, *data;
	size_t len;
	int rc;
	if (!c->svc->view_path || !safe_rel_path(rel))
		return 0;
	path = gc__sprintf("%s/%s", c->svc->view_path, rel);
	if (!path)
		return 0;
	rc = gc__read_file_at(AT_FDCWD, path, ADMIN_FILE_MAX, &data, &len);
	free(path);
	if (rc)
		return 0;
	gc__reply_text(c, 200, gc__admin_content_type(rel), data, len);
	free(data);
	return 1;
}

static void serve_admin(gc__ctx *c)
{
	const char *rel;
	const unsigned char *data;
	size_t len;
	const char *type;
	if (strcmp(c->method, "GET") != 0 && strcmp(c->method, "HEAD") != 0) {
		gc__add_header(c, "Allow", "GET, HEAD");
		gc__reply_err(c, GC__C_METHOD, "%s is not allowed on %s",
			      c->method, c->path);
		return;
	}
	if (strcmp(c->path, "/admin") == 0) {
		gc__add_header(c, "Location", "/admin/");
		gc__reply_text(c, 301, "text/plain; charset=utf-8",
			       "moved to /admin/\n", 17);
		return;
	}
	rel = c->path + strlen("/admin/");
	gc__add_header(c, "Content-Security-Policy", GC__ADMIN_CSP);
	gc__add_header(c, "X-Content-Type-Options", "nosniff");
	gc__add_header(c, "Cache-Control", "no-cache");
	if (serve_view_file(c, *rel ? rel : "index.html"))
		return;
	if (gc__admin_asset(rel, &data, &len, &type) == 0) {
		gc__reply_text(c, 200, type, data, len);
		return;
	}
	gc__reply_text(c, 404, "text/plain; charset=utf-8",
		       "not found\n", 10);
}

/* -------------------------------------------------------------- dispatch */

static int is_json_type(const char *ct)
{
	size_t n = strcspn(ct, ";");
	while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
		n--;
	return (n == 16 && strncasecmp(ct, "application/json", 16) == 0) ||
	       (n > 5 && strncasecmp(ct + n - 5, "+json", 5) == 0);
}

static int is_form_type(const char *ct)
{
	size_t n = strcspn(ct, ";");
	while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
		n--;
	return n == 33 &&
	       strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0;
}

/* Collect the parameters of a request: body first (it wins), then the
 * query string. Answers and returns -1 on malformed input. */
static int parse_params(gc__ctx *c)
{
	char msg[256];
	const char *ct = c->content_type ? c->content_type : "";
	int rc = 0;
	if (c->body_len) {
		if (is_json_type(ct)) {
			rc = gc__params_add_json(&c->params, c->body,
						 c->body_len, msg, sizeof(msg));
		} else if (is_form_type(ct) || !*ct) {
			rc = gc__params_add_form(&c->params, c->body,
						 c->body_len, msg, sizeof(msg));
		} else {
			gc__reply_err(c, GC__C_UNSUPPORTED,
				      "unsupported Content-Type \"%.64s\": send "
				      "application/x-www-form-urlencoded or "
				      "application/json",
				      ct);
			return -1;
		}
	}
	if (rc == 0 && c->query && *c->query)
		rc = gc__params_add_form(&c->params, c->query, strlen(c->query),
					 msg, sizeof(msg));
	if (rc) {
		/* no honest client nests that deep: worth an operator's eye */
		if (c->params.json_fault == GC__JSON_FAULT_DEPTH)
			gc__svc_log(c->svc, GC_LOG_WARNING,
				    "%s %s from %s: %s (refused)",
				    c->method, c->path,
				    c->remote ? c->remote : "?", msg);
		gc__reply_err(c, rc == GC_ENOMEM ? GC__C_INTERNAL
						 : GC__C_BAD_REQUEST,
			      "%s", msg);
		return -1;
	}
	return 0;
}

static const gc__route *find_route(const char *path, size_t *index,
				   int *path_known)
{
	*path_known = 0;
	for (size_t i = 0; i < gc__n_routes; i++) {
		if (strcmp(gc__routes[i].path, path) == 0) {
			*path_known = 1;
			*index = i;
			return &gc__routes[i];
		}
	}
	*index = gc__n_routes;
	return NULL;
}

static void allowed_methods(const char *path, char *out, size_t outlen)
{
	out[0] = '\0';
	for (size_t i = 0; i < gc__n_routes; i++) {
		if (strcmp(gc__routes[i].path, path) != 0)
			continue;
		if (out[0])
			strncat(out, ", ", outlen - strlen(out) - 1);
		strncat(out, gc__routes[i].method, outlen - strlen(out) - 1);
	}
	if (out[0])
		strncat(out, ", OPTIONS", outlen - strlen(out) - 1);
}

void gc__dispatch(gc__ctx *c)
{
	const gc__route *r = NULL;
	gc__arg args[GC__ARGS_MAX];
	char msg[256];
	int known;
	size_t idx;

	c->route = gc__n_routes;
	if (strcmp(c->path, "/admin") == 0 ||
	    strncmp(c->path, "/admin/", 7) == 0) {
		serve_admin(c);
		return;
	}
	r = find_route(c->path, &idx, &known);
	if (!known) {
		gc__reply_err(c, GC__C_NOT_FOUND, "no route for %s %s",
			      c->method, c->path);
		return;
	}
	c->route = idx;
	if (strcmp(c->method, "OPTIONS") == 0) {
		/* CORS preflight */
		char allow[128];
		allowed_methods(c->path, allow, sizeof(allow));
		gc__add_header(c, "Access-Control-Allow-Methods", allow);
		gc__add_header(c, "Access-Control-Max-Age", "600");
		gc__reply_text(c, 204, "text/plain; charset=utf-8", "", 0);
		return;
	}
	if (strcmp(r->method, c->method) != 0) {
		char allow[128];
		allowed_methods(c->path, allow, sizeof(allow));
		gc__add_header(c, "Allow", allow);
		gc__reply_err(c, GC__C_METHOD, "%s is not allowed on %s (use %s)",
			      c->method, c->path, allow);
		return;
	}
	if ((r->flags & (GC__R_AUTH | GC__R_ADMIN)) && authenticate(c) != 0)
		return;
	if ((r->flags & GC__R_ADMIN) && !c->admin) {
		gc__reply_err(c, GC__C_NO_PERMISSION,
			      "insufficient permissions: %s needs an admin",
			      c->path);
		return;
	}
	if (!(r->flags & GC__R_RAW)) {
		if (parse_params(c) != 0)
			return;
		if (gc__bind(&c->params, r->args, r->nargs, args, msg,
			     sizeof(msg)) != 0) {
			gc__reply_err(c, GC__C_BAD_REQUEST, "%s", msg);
			return;
		}
	}
	r->fn(c, args);
}

/* ------------------------------------------------------- civetweb glue */

static const char *mg_header_fn(void *hctx, const char *name)
{
	return mg_get_header((const struct mg_connection *)hctx, name);
}

static void new_request_id(gc_service *svc, char out[24])
{
	uint64_t seq = atomic_fetch_add(&svc->seq, 1);
	/* ms since 2020-01-01 | 10 instance bits | 12 sequence bits */
	uint64_t ms = (uint64_t)(gc__wall_ns() / 1000000) - 1577836800000ull;
	uint64_t id = (ms << 22) | ((svc->instance & 0x3FF) << 12) |
		      (seq & 0xFFF);
	snprintf(out, 24, "%" PRIu64, id);
}

/* Read and drop what is left of a body we refuse, so the client, still
 * sending, gets to read our 413 instead of a reset. Up to DRAIN_MAX bytes;
 * returns 1 when the body was consumed completely. */
#define DRAIN_MAX (64u << 20)
static int drain_body(struct mg_connection *conn)
{
	char buf[16384];
	size_t total = 0;
	int n;
	while ((n = mg_read(conn, buf, sizeof(buf))) > 0) {
		total += (size_t)n;
		if (total > DRAIN_MAX)
			return 0;
	}
	return n == 0;
}

/* Read the body, at most max_body bytes. Returns 0, or the status to
 * answer (413, 400, 500); *clean = 0 when the connection must be closed
 * because unread bytes remain. */
static int read_body(struct mg_connection *conn, size_t max_body,
		     gc__buf *body, int *clean)
{
	const struct mg_request_info *ri = mg_get_request_info(conn);
	const char *expect = mg_get_header(conn, "Expect");
	/* A client waiting for "100 Continue" has sent nothing yet: answer
	 * without inviting the body. */
	int may_drain = !expect || strncasecmp(expect, "100-continue", 12) != 0;
	char chunk[8192];
	int n;
	*clean = 1;
	if (ri->content_length > 0 && (uint64_t)ri->content_length > max_body) {
		*clean = may_drain && (uint64_t)ri->content_length <= DRAIN_MAX &&
			 drain_body(conn);
		return 413;
	}
	if (ri->content_length == 0)
		return 0;
	for (;;) {
		n = mg_read(conn, chunk, sizeof(chunk));
		if (n <= 0)
			break;
		if (body->len + (size_t)n > max_body) {
			*clean = may_drain && drain_body(conn);
			return 413;
		}
		if (gc__buf_append(body, chunk, (size_t)n)) {
			*clean = 0;
			return 500;
		}
	}
	if (n < 0 ||
	    (ri->content_length > 0 && body->len != (size_t)ri->content_length)) {
		*clean = 0;
		return 400;
	}
	return 0;
}

static const char *status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

/* Would civetweb keep this connection open after our answer? (Its rule:
 * not after a 401, an HTTP/1.0 request needs "Connection: keep-alive", an
 * explicit Connection header must ask for keep-alive.) */
static int keep_alive(const struct mg_connection *conn, int status)
{
	const struct mg_request_info *ri = mg_get_request_info(conn);
	const char *h = mg_get_header(conn, "Connection");
	if (status == 401)
		return 0;
	if (h)
		return strcasestr(h, "keep-alive") != NULL;
	return ri->http_version && strcmp(ri->http_version, "1.1") == 0;
}

/* Status line, headers and body in one write: fewer packets, and no
 * second small write waiting on the peer's delayed ACK. */
static void send_response(struct mg_connection *conn, gc__ctx *c,
			  int head_only, int clean)
{
	gc__buf out = GC__BUF_INIT;
	char date[64];
	struct tm tm;
	time_t now = time(NULL);
	int keep = clean && keep_alive(conn, c->status);
	int rc;
	if (!keep)
		mg_disable_keep_alive(conn);
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	rc = gc__buf_reserve(&out, 512 + c->resp.len);
	rc |= gc__buf_printf(
		&out,
		"HTTP/1.1 %d %s\r\n"
		"Access-Control-Allow-Headers: " CORS_HEADERS "\r\n"
		"Access-Control-Allow-Origin: *\r\n"
		"Content-Type: %s\r\n"
		"Date: %s\r\n"
		"X-Request-Id: %s\r\n"
		"Connection: %s\r\n"
		"Content-Length: %zu\r\n"
		"%s\r\n",
		c->status, status_text(c->status),
		c->resp_type ? c->resp_type : "text/plain; charset=utf-8", date,
		c->request_id, keep ? "keep-alive" : "close", c->resp.len,
		c->resp_headers);
	if (!head_only && c->resp.len)
		rc |= gc__buf_append(&out, c->resp.data, c->resp.len);
	if (rc == 0)
		mg_write(conn, out.data, out.len);
	else
		mg_disable_keep_alive(conn);
	gc__buf_free(&out);
}

static int begin_request(struct mg_connection *conn)
{
	const struct mg_request_info *ri = mg_get_request_info(conn);
	gc_service *svc = ri->user_data;
	gc__conn *tracked = mg_get_user_connection_data(conn);
	gc__ctx c;
	gc__buf body = GC__BUF_INIT;
	int64_t t0 = gc__mono_ns();
	int status, head_only, clean;
	size_t limit;
	const char *path = ri->local_uri ? ri->local_uri : "/";

	gc__guard_busy(tracked, ri->remote_addr, ri->remote_port,
		       ri->server_port);
	memset(&c, 0, sizeof(c));
	c.svc = svc;
	c.method = ri->request_method ? ri->request_method : "GET";
	head_only = strcmp(c.method, "HEAD") == 0;
	if (head_only)
		c.method = "GET";
	c.path = path;
	c.query = ri->query_string;
	c.remote = ri->remote_addr;
	c.content_type = mg_get_header(conn, "Content-Type");
	c.header = mg_header_fn;
	c.hctx = conn;
	new_request_id(svc, c.request_id);
	c.uri = c.query ? gc__sprintf("%s?%s", path, c.query)
			: gc__strdup(path);

	limit = strcmp(path, "/api/v1/report") == 0 ? svc->opts.max_report_body
						     : svc->opts.max_body;
	status = read_body(conn, limit, &body, &clean);
	if (status == 413) {
		gc__reply_err(&c, GC__C_TOO_BIG,
			      "request body too large (at most %zu bytes)",
			      limit);
	} else if (status) {
		gc__reply_err(&c, status == 500 ? GC__C_INTERNAL
						: GC__C_BAD_REQUEST,
			      "could not read the request body");
	} else {
		c.body = body.data ? body.data : "";
		c.body_len = body.len;
		gc__dispatch(&c);
	}
	send_response(conn, &c, head_only, clean);
	status = c.status;
	gc__metrics_request(svc->metrics, c.route, status,
			    (double)(gc__mono_ns() - t0) / 1e9);
	gc__svc_log(svc, GC_LOG_DEBUG,
		"%s %s %d %.1fms %s", ri->request_method, path, status,
		(double)(gc__mono_ns() - t0) / 1e6, c.request_id);
	gc__ctx_cleanup(&c);
	gc__buf_free(&body);
	gc__guard_idle(tracked);
	return status > 0 && status < 1000 ? status : 500;
}

/* A worker took a new connection (before reading anything from it; civetweb
 * tells nothing about it yet: mg_get_request_info() is NULL here). */
static int init_connection(const struct mg_connection *conn, void **data)
{
	gc_service *svc = mg_get_user_data(mg_get_context(conn));
	*data = gc__guard_open(svc->guard);
	return 0;
}

static void connection_close(const struct mg_connection *conn)
{
	gc_service *svc = mg_get_user_data(mg_get_context(conn));
	gc__guard_close(svc->guard, mg_get_user_connection_data(conn));
}

static int log_message(const struct mg_connection *conn, const char *message)
{
	const struct mg_context *ctx = mg_get_context(conn);
	gc_service *svc = ctx ? mg_get_user_data(ctx) : NULL;
	if (svc)
		gc__svc_log(svc, GC_LOG_WARNING,
			"http: %s", message);
	return 1;
}

/* -------------------------------------------------------------- lifecycle */

static char **copy_strv(char *const *v, size_t n)
{
	char **out = calloc(n + 1, sizeof(*out));
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		out[i] = gc__strdup(v[i] ? v[i] : "");
		if (!out[i]) {
			for (size_t j = 0; j < i; j++)
				free(out[j]);
			free(out);
			return NULL;
		}
	}
	return out;
}

static char *dup_opt(const char *s)
{
	return s && *s ? gc__strdup(s) : NULL;
}

static int copy_config(gc_service *svc, const gc_service_config *cfg,
		       gc_error *err)
{
	const char *prefix = cfg->etcd.prefix ? cfg->etcd.prefix : "/gopher_cron";
	size_t plen = strlen(prefix);
	while (plen > 1 && prefix[plen - 1] == '/')
		plen--;
	svc->prefix = gc__strndup(prefix, plen);
	svc->hosts = copy_strv(cfg->deploy.hosts, cfg->deploy.n_hosts);
	svc->n_hosts = cfg->deploy.n_hosts;
	svc->etcd_endpoints =
		copy_strv(cfg->etcd.endpoints, cfg->etcd.n_endpoints);
	svc->n_etcd_endpoints = cfg->etcd.n_endpoints;
	svc->report_token = dup_opt(cfg->report.token);
	svc->output_limit = cfg->log.output_limit > 0
				    ? (size_t)cfg->log.output_limit
				    : (size_t)1 << 20;
	svc->view_path = dup_opt(cfg->deploy.view_path);
	svc->etcd_username = dup_opt(cfg->etcd.username);
	svc->etcd_password = dup_opt(cfg->etcd.password);
	svc->etcd_ca = dup_opt(cfg->etcd.ca_file);
	svc->etcd_cert = dup_opt(cfg->etcd.cert_file);
	svc->etcd_key = dup_opt(cfg->etcd.key_file);
	if (!svc->prefix || !svc->hosts || !svc->etcd_endpoints ||
	    (cfg->report.token && *cfg->report.token && !svc->report_token) ||
	    (cfg->deploy.view_path && *cfg->deploy.view_path &&
	     !svc->view_path))
		return gc__seterr(err, GC_ENOMEM, "service: out of memory");
	if (svc->n_hosts == 0)
		return gc__seterr(err, GC_EINVAL,
				  "service: [deploy] host lists no address");
	if (svc->n_hosts > GC__MAX_LISTENERS)
		return gc__seterr(err, GC_EINVAL,
				  "service: [deploy] host lists %zu addresses "
				  "(at most %d)",
				  svc->n_hosts, GC__MAX_LISTENERS);
	if (cfg->jwt.secret && *cfg->jwt.secret &&
	    strlen(cfg->jwt.secret) < GC__JWT_SECRET_MIN)
		/* The config loader says this with file and line; this is
		 * for embedders that fill the struct themselves. */
		return gc__seterr(err, GC_EINVAL,
				  "service: key \"jwt.secret\": too short (%zu "
				  "bytes, at least %d): login tokens could be "
				  "forged by guessing it; set a random one, "
				  "e.g. `head -c 32 /dev/urandom | base64`",
				  strlen(cfg->jwt.secret), GC__JWT_SECRET_MIN);
	if (cfg->jwt.secret && *cfg->jwt.secret) {
		svc->jwt_secret_len = strlen(cfg->jwt.secret);
		svc->jwt_secret = (unsigned char *)gc__strdup(cfg->jwt.secret);
		if (!svc->jwt_secret)
			return gc__seterr(err, GC_ENOMEM,
					  "service: out of memory");
	} else {
		/* Tokens then only work with this process, until it stops. */
		svc->jwt_secret_len = 32;
		svc->jwt_secret = malloc(32);
		if (!svc->jwt_secret)
			return gc__seterr(err, GC_ENOMEM,
					  "service: out of memory");
		if (getrandom(svc->jwt_secret, 32, 0) != 32)
			return gc__seterr_errno(err, GC_ESYS, errno,
						"service: getrandom");
		gc__svc_log(svc, GC_LOG_WARNING,
			"[jwt] secret is not set: using a random secret, so "
			"tokens stop working when this process restarts and "
			"are not accepted by other service instances");
	}
	svc->jwt_lifetime_s = (cfg->jwt.exp_hours > 0 ? cfg->jwt.exp_hours : 168) *
			      3600;
	svc->op_timeout_ms =
		(cfg->deploy.timeout_s > 0 ? cfg->deploy.timeout_s : 5) * 1000;
	svc->threads = (int)(cfg->http.threads > 0 && cfg->http.threads <= 4096
				     ? cfg->http.threads
				     : GC__HTTP_THREADS);
	svc->header_timeout_ms = cfg->http.header_timeout_ms > 0
					 ? cfg->http.header_timeout_ms
					 : GC__HTTP_HEADER_TIMEOUT_MS;
	svc->keep_alive_timeout_ms = cfg->http.keep_alive_timeout_ms > 0
					     ? cfg->http.keep_alive_timeout_ms
					     : GC__HTTP_KEEP_ALIVE_TIMEOUT_MS;
	svc->request_timeout_ms = cfg->http.request_timeout_ms > 0
					  ? cfg->http.request_timeout_ms
					  : GC__HTTP_REQUEST_TIMEOUT_MS;
	svc->max_idle_per_address =
		cfg->http.max_idle_per_address > 0
			? (int)(cfg->http.max_idle_per_address < 65536
					? cfg->http.max_idle_per_address
					: 65536)
			: 0;
	return 0;
}

GC_EXTERN int gc_service_new(gc_service **out, const gc_service_config *cfg,
			     const gc_service_options *opts, gc_error *err)
{
	gc_service *svc;
	gc_store_options so;
	int rc;

	*out = NULL;
	if (!cfg)
		return gc__seterr(err, GC_EINVAL, "service: no configuration");
	svc = calloc(1, sizeof(*svc));
	if (!svc)
		return gc__seterr(err, GC_ENOMEM, "service: out of memory");
	pthread_mutex_init(&svc->run_mu, NULL);
	pthread_mutex_init(&svc->etcd.mu, NULL);
	if (opts)
		svc->opts = *opts;
	else
		gc_service_options_init(&svc->opts);
	if (svc->opts.max_body == 0)
		svc->opts.max_body = DEFAULT_MAX_BODY;
	if (svc->opts.log_level <= 0)
		svc->opts.log_level = GC_LOG_INFO;
	if (svc->opts.max_report_body == 0)
		svc->opts.max_report_body = DEFAULT_MAX_REPORT_BODY;
	atomic_init(&svc->seq, 0);
	if (getrandom(&svc->instance, sizeof(svc->instance), 0) !=
	    (ssize_t)sizeof(svc->instance))
		svc->instance = (uint64_t)getpid();

	rc = copy_config(svc, cfg, err);
	if (rc)
		goto fail;
	if (svc->opts.num_threads <= 0)
		svc->opts.num_threads = svc->threads;

	svc->route_labels = calloc(gc__n_routes + 1, sizeof(char *));
	if (!svc->route_labels) {
		rc = gc__seterr(err, GC_ENOMEM, "service: out of memory");
		goto fail;
	}
	for (size_t i = 0; i < gc__n_routes; i++)
		svc->route_labels[i] = gc__routes[i].path;
	if (gc__metrics_new(&svc->metrics, gc__n_routes,
			    svc->route_labels) != 0 ||
	    gc__throttle_new(&svc->throttle, svc->opts.login_max_failures,
			     svc->opts.login_max_delay_s) != 0) {
		rc = gc__seterr(err, GC_ENOMEM, "service: out of memory");
		goto fail;
	}

	gc_etcd_options_init(&svc->etcd.opts, GC_ETCD_OPTIONS_VERSION);
	svc->etcd.opts.endpoints = (const char *const *)svc->etcd_endpoints;
	svc->etcd.opts.endpoints_count = svc->n_etcd_endpoints;
	svc->etcd.opts.username = svc->etcd_username;
	svc->etcd.opts.password = svc->etcd_password;
	svc->etcd.opts.connect_timeout_ms =
		cfg->etcd.dial_timeout_ms > 0 && cfg->etcd.dial_timeout_ms < 60000
			? (int)cfg->etcd.dial_timeout_ms
			: 0;
	svc->etcd.opts.request_timeout_ms = (int)svc->op_timeout_ms;
	svc->etcd.opts.tls_ca_file = svc->etcd_ca;
	svc->etcd.opts.tls_cert_file = svc->etcd_cert;
	svc->etcd.opts.tls_key_file = svc->etcd_key;
	svc->etcd.opts.max_response_bytes = 256u << 20;
	svc->etcd.opts.log = svc->opts.log;
	svc->etcd.opts.log_payload = svc->opts.log_payload;

	gc_store_options_init(&so);
	if (cfg->mysql.service && *cfg->mysql.service) {
		so.backend = GC_STORE_MYSQL;
		so.mysql_service = cfg->mysql.service;
		so.mysql_username = cfg->mysql.username;
		so.mysql_password = cfg->mysql.password;
		so.mysql_database = cfg->mysql.database;
	} else {
		so.backend = GC_STORE_SQLITE;
		so.sqlite_path = cfg->sqlite.path;
	}
	so.connect_timeout_s = (int)(svc->op_timeout_ms / 1000);
	so.pool_size = svc->opts.num_threads < 8 ? svc->opts.num_threads : 8;
	so.retention_days = (int)cfg->log.retention_days;
	so.log = svc->opts.log;
	so.log_payload = svc->opts.log_payload;
	rc = gc_store_open(&svc->store, &so, err);
	if (rc) {
		gc__err_prefix(err, "service");
		goto fail;
	}
	*out = svc;
	return 0;
fail:
	gc_service_free(svc);
	return rc;
}

/* civetweb wants "ip:port" / "[v6]:port" / "port". */
static char *listen_spec(const char *host)
{
	if (host[0] == ':')
		return gc__strdup(host + 1);
	return gc__strdup(host);
}

GC_EXTERN int gc_service_start(gc_service *svc, gc_error *err)
{
	struct mg_callbacks cb;
	struct mg_init_data init;
	struct mg_error_data edata;
	struct mg_server_port ports[GC__MAX_LISTENERS];
	char ebuf[256] = "";
	unsigned ecode = 0;
	char threads[16], keep_alive_ms[24], request_ms[24];
	gc__buf listen = GC__BUF_INIT;
	const char *options[32];
	size_t k = 0;
	int n, in_use = 0, rc = 0;

	if (!svc)
		return gc__seterr(err, GC_EINVAL, "service: NULL");
	pthread_mutex_lock(&svc->run_mu);
	if (svc->mg) {
		pthread_mutex_unlock(&svc->run_mu);
		return 0;
	}
	for (size_t i = 0; i < svc->n_hosts; i++) {
		char *spec;
		if (svc->hosts[i][0] == '[' && !mg_check_feature(8)) {
			rc = gc__seterr(err, GC_EINVAL,
					"service: [deploy] host \"%s\": this "
					"civetweb build has no IPv6 support",
					svc->hosts[i]);
			goto out;
		}
		spec = listen_spec(svc->hosts[i]);
		if (!spec || (i && gc__buf_puts(&listen, ",")) ||
		    gc__buf_puts(&listen, spec)) {
			free(spec);
			rc = gc__seterr(err, GC_ENOMEM, "service: out of memory");
			goto out;
		}
		free(spec);
	}
	snprintf(threads, sizeof(threads), "%d", svc->opts.num_threads);
	snprintf(keep_alive_ms, sizeof(keep_alive_ms), "%" PRId64,
		 svc->keep_alive_timeout_ms);
	snprintf(request_ms, sizeof(request_ms), "%" PRId64,
		 svc->request_timeout_ms);
	options[k++] = "listening_ports";
	options[k++] = listen.data;
	options[k++] = "num_threads";
	options[k++] = threads;
	options[k++] = "enable_keep_alive";
	options[k++] = "yes";
	/* Headers and body go out in two writes: without TCP_NODELAY the
	 * second waits for the peer's delayed ACK (~40 ms per request). */
	options[k++] = "tcp_nodelay";
	options[k++] = "1";
	/* The wait for the next request on a kept-alive connection. */
	options[k++] = "keep_alive_timeout_ms";
	options[k++] = keep_alive_ms;
	/* civetweb's limit on the first request's header, and on every stall
	 * of a body read or a response write: the guard closes a connection
	 * without a complete header sooner ([http] header_timeout). */
	options[k++] = "request_timeout_ms";
	options[k++] = request_ms;
	options[k++] = "max_request_size";
	options[k++] = "65536";
	/* Room for connections TCP_DEFER_ACCEPT holds back (the kernel caps it
	 * at net.core.somaxconn). */
	options[k++] = "listen_backlog";
	options[k++] = "4096";
	options[k++] = NULL;

	rc = gc__guard_new(&svc->guard, svc, svc->opts.num_threads,
			   svc->max_idle_per_address, svc->header_timeout_ms);
	if (rc) {
		rc = gc__seterr(err, rc, "service: out of memory");
		goto out;
	}
	memset(&cb, 0, sizeof(cb));
	cb.begin_request = begin_request;
	cb.log_message = log_message;
	cb.init_connection = init_connection;
	cb.connection_close = connection_close;
	init.callbacks = &cb;
	init.user_data = svc;
	init.configuration_options = options;
	edata.code = &ecode;
	edata.text = ebuf;
	edata.text_buffer_size = sizeof(ebuf);
	svc->mg = mg_start2(&init, &edata);
	if (!svc->mg) {
		rc = gc__seterr(err, GC_ESYS,
				"service: cannot listen on %s: %s",
				listen.data, ebuf[0] ? ebuf : "unknown error");
		gc__guard_free(svc->guard);
		svc->guard = NULL;
		goto out;
	}
	n = mg_get_server_ports(svc->mg, GC__MAX_LISTENERS, ports);
	svc->n_ports = n > 0 ? (size_t)n : 0;
	for (size_t i = 0; i < svc->n_ports; i++)
		svc->ports[i] = ports[i].port;
	if (gc__guard_start(svc->guard, svc->hosts, svc->n_hosts, svc->ports,
			    svc->n_ports) != 0) {
		rc = gc__seterr_errno(err, GC_ESYS, errno,
				      "service: cannot start the connection "
				      "guard thread");
		mg_stop(svc->mg);
		svc->mg = NULL;
		svc->n_ports = 0;
		gc__guard_free(svc->guard);
		svc->guard = NULL;
		goto out;
	}
	for (size_t i = 0; i < svc->n_ports && i < svc->n_hosts; i++)
		gc__svc_log(svc, GC_LOG_NOTICE,
			"service listening on %s (port %d), store %s",
			svc->hosts[i], svc->ports[i],
			gc_store_describe(svc->store));
	if (!svc->report_token)
		gc__svc_log(svc, GC_LOG_WARNING,
			"[report] token is not set: POST /api/v1/report accepts "
			"results from anyone who can reach this port");
	if (gc_store_default_password_in_use(svc->store, &in_use, NULL) == 0 &&
	    in_use)
		gc__svc_log(svc, GC_LOG_WARNING,
			"SECURITY: the account \"admin\" still has the default "
			"password 123456 -- log in and change it now "
			"(POST /api/v1/user/change_password)");
out:
	gc__buf_free(&listen);
	pthread_mutex_unlock(&svc->run_mu);
	return rc;
}

GC_EXTERN size_t gc_service_listener_count(const gc_service *svc)
{
	return svc && svc->mg ? svc->n_ports : 0;
}

GC_EXTERN int gc_service_port(const gc_service *svc, size_t i)
{
	if (!svc || !svc->mg || i >= svc->n_ports)
		return -1;
	return svc->ports[i];
}

GC_EXTERN int gc_service_default_password_in_use(gc_service *svc,
						 int *in_use, gc_error *err)
{
	if (!svc || !in_use)
		return gc__seterr(err, GC_EINVAL, "service: NULL argument");
	return gc_store_default_password_in_use(svc->store, in_use, err);
}

GC_EXTERN void gc_service_stop(gc_service *svc)
{
	if (!svc)
		return;
	pthread_mutex_lock(&svc->run_mu);
	if (svc->mg) {
		gc__guard_stop(svc->guard);
		mg_stop(svc->mg);
		svc->mg = NULL;
		svc->n_ports = 0;
		gc__guard_free(svc->guard);
		svc->guard = NULL;
		gc__svc_log(svc, GC_LOG_NOTICE,
			"service stopped");
	}
	pthread_mutex_unlock(&svc->run_mu);
}

GC_EXTERN void gc_service_free(gc_service *svc)
{
	if (!svc)
		return;
	gc_service_stop(svc);
	gc_store_close(svc->store);
	etcd_pool_destroy(&svc->etcd);
	gc__metrics_free(svc->metrics);
	gc__throttle_free(svc->throttle);
	free(svc->route_labels);
	free(svc->prefix);
	if (svc->jwt_secret) {
		explicit_bzero(svc->jwt_secret, svc->jwt_secret_len);
		free(svc->jwt_secret);
	}
	gc__secret_free(svc->report_token);
	free(svc->view_path);
	gc__strv_free(svc->hosts, svc->n_hosts);
	gc__strv_free(svc->etcd_endpoints, svc->n_etcd_endpoints);
	free(svc->etcd_username);
	gc__secret_free(svc->etcd_password);
	free(svc->etcd_ca);
	free(svc->etcd_cert);
	free(svc->etcd_key);
	pthread_mutex_destroy(&svc->run_mu);
	free(svc);
}
