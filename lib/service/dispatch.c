/* One request, independent of civetweb: find the route, answer CORS
 * preflights and wrong methods, authenticate, parse and bind the
 * parameters, call the handler. */
#include "svc.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
		gc__serve_admin(c);
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
	if ((r->flags & (GC__R_AUTH | GC__R_ADMIN)) && gc__authenticate(c) != 0)
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
		if (gc__bind(&c->params, r->ep->args, r->ep->nargs, args, msg,
			     sizeof(msg)) != 0) {
			gc__reply_err(c, GC__C_BAD_REQUEST, "%s", msg);
			return;
		}
	}
	r->ep->fn(c, args);
}

void gc__ctx_cleanup(gc__ctx *c)
{
	gc__ctx_etcd_release(c);
	gc__params_free(&c->params);
	gc_store_user_clear(&c->user);
	gc__buf_free(&c->resp);
	free(c->uri);
	c->uri = NULL;
}
