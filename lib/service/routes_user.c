/* /api/v1/version, /api/v1/user/..., /metrics */
#include "svc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gc__h_version(gc__ctx *c, const gc__arg *a)
{
	(void)a;
	gc__reply_ok(c, cJSON_CreateString("v" GC_VERSION_STRING));
}

void gc__h_metrics(gc__ctx *c, const gc__arg *a)
{
	gc__buf b = GC__BUF_INIT;
	(void)a;
	if (gc__metrics_render(c->svc->metrics, &b) != 0) {
		gc__buf_free(&b);
		gc__reply_err(c, GC__C_INTERNAL, "out of memory");
		return;
	}
	gc__reply_text(c, 200, "text/plain; version=0.0.4; charset=utf-8",
		       b.data, b.len);
	gc__buf_free(&b);
}

static void throttled(gc__ctx *c, int wait)
{
	char s[16];
	snprintf(s, sizeof(s), "%d", wait);
	gc__add_header(c, "Retry-After", s);
	gc__metrics_inc(c->svc->metrics, GC__M_LOGIN_THROTTLED);
	gc__reply_err(c, GC__C_TOO_MANY,
		      "too many failed logins for this account or address: "
		      "retry in %d s",
		      wait);
}

void gc__h_user_login(gc__ctx *c, const gc__arg *a)
{
	gc_service *svc = c->svc;
	const char *account = a[0].s, *password = a[1].s;
	gc_store_user u = {0};
	gc_error err = {0, ""};
	char *token = NULL;
	int64_t now_ms = gc__mono_ms();
	int wait, rc;
	cJSON *o;

	wait = gc__throttle_check(svc->throttle, account, c->remote, now_ms);
	if (wait > 0) {
		throttled(c, wait);
		return;
	}
	rc = gc_store_user_verify(svc->store, account, password, &u, &err);
	if (rc == GC_ENOTFOUND || rc == GC_EAUTH) {
		gc__throttle_fail(svc->throttle, account, c->remote, now_ms);
		gc__metrics_inc(svc->metrics, GC__M_LOGIN_FAILURES);
		gc__svc_log(svc, GC_LOG_NOTICE,
			"failed login for account \"%.100s\" from %s: %s",
			account, c->remote,
			rc == GC_EAUTH ? "wrong password" : "no such account");
		if (rc == GC_ENOTFOUND)
			gc__reply_err(c, GC__C_USER_NOT_FOUND,
				      "user not found: no account \"%.100s\"",
				      account);
		else
			gc__reply_err(c, GC__C_WRONG_PASSWORD,
				      "password is wrong");
		return;
	}
	if (rc) {
		gc__reply_gcerr(c, GC__SRC_STORE, rc, &err);
		return;
	}
	gc__throttle_success(svc->throttle, account, now_ms);
	rc = gc__jwt_issue(svc->jwt_secret, svc->jwt_secret_len, u.id,
			   u.account, u.permission, (int64_t)time(NULL),
			   svc->jwt_lifetime_s, &token, &err);
	if (rc) {
		gc_store_user_clear(&u);
		gc__reply_gcerr(c, GC__SRC_OTHER, rc, &err);
		return;
	}
	o = gc__json_user(&u, 0);
	if (o) {
		cJSON_AddStringToObject(o, "token", token);
		/* Lets the admin page nag until the first-start password is
		 * changed. */
		cJSON_AddNumberToObject(o, "default_password",
					strcmp(account, "admin") == 0 &&
						strcmp(password, "123456") == 0);
	}
	free(token);
	gc_store_user_clear(&u);
	gc__reply_ok(c, o);
}

void gc__h_user_info(gc__ctx *c, const gc__arg *a)
{
	cJSON *o = gc__json_user(&c->user, 0);
	int in_use = 0;
	(void)a;
	if (c->user.account && strcmp(c->user.account, "admin") == 0 &&
	    gc_store_default_password_in_use(c->svc->store, &in_use, NULL) != 0)
		in_use = 0;
	if (o) {
		cJSON_AddStringToObject(o, "account",
					c->user.account ? c->user.account : "");
		cJSON_AddNumberToObject(o, "default_password", in_use);
	}
	gc__reply_ok(c, o);
}

void gc__h_user_change_password(gc__ctx *c, const gc__arg *a)
{
	gc_service *svc = c->svc;
	gc_error err = {0, ""};
	int64_t now_ms = gc__mono_ms();
	const char *account = c->user.account ? c->user.account : "";
	int wait, rc;

	/* A stolen token must not become a way to guess the password. */
	wait = gc__throttle_check(svc->throttle, account, c->remote, now_ms);
	if (wait > 0) {
		throttled(c, wait);
		return;
	}
	rc = gc_store_user_change_password(svc->store, c->user.id, a[0].s,
					   a[1].s, &err);
	if (rc == GC_EAUTH) {
		gc__throttle_fail(svc->throttle, account, c->remote, now_ms);
		gc__metrics_inc(svc->metrics, GC__M_LOGIN_FAILURES);
		gc__reply_err(c, GC__C_WRONG_PASSWORD,
			      "password is wrong: the current password does "
			      "not match");
		return;
	}
	if (rc) {
		gc__reply_gcerr(c, GC__SRC_STORE, rc, &err);
		return;
	}
	gc__throttle_success(svc->throttle, account, now_ms);
	gc__svc_log(svc, GC_LOG_NOTICE,
		"user %" PRId64 " (%s) changed their password", c->user.id,
		account);
	gc__reply_ok(c, cJSON_CreateObject());
}

void gc__h_user_reset_password(gc__ctx *c, const gc__arg *a)
{
	gc_error err = {0, ""};
	int rc = gc_store_user_change_password(c->svc->store, a[0].i, NULL,
					       a[1].s, &err);
	if (rc == GC_ENOTFOUND) {
		gc__reply_err(c, GC__C_NOT_FOUND, "user %" PRId64 " not found",
			      a[0].i);
		return;
	}
	if (rc) {
		gc__reply_gcerr(c, GC__SRC_STORE, rc, &err);
		return;
	}
	gc__svc_log(c->svc, GC_LOG_NOTICE,
		"user %" PRId64 " (%s) reset the password of user %" PRId64,
		c->user.id, c->user.account, a[0].i);
	gc__reply_ok(c, cJSON_CreateObject());
}

/* "user", "admin" or "admin,user" (the original's two roles). */
static const char *normalize_permission(const gc__arg *p)
{
	if (!p->present || p->len == 0 || strcmp(p->s, "user") == 0)
		return "user";
	if (strcmp(p->s, "admin") == 0 || strcmp(p->s, "admin,user") == 0 ||
	    strcmp(p->s, "user,admin") == 0)
		return "admin,user";
	return NULL;
}

void gc__h_user_create(gc__ctx *c, const gc__arg *a)
{
	gc_error err = {0, ""};
	const char *perm = normalize_permission(&a[3]);
	int64_t id = 0;
	int rc;
	cJSON *o;

	if (!perm) {
		gc__reply_err(c, GC__C_BAD_REQUEST,
			      "parameter \"permission\": expected \"user\" or "
			      "\"admin,user\"");
		return;
	}
	rc = gc_store_user_create(c->svc->store, a[2].s, a[0].s, a[1].s, perm,
				  &id, &err);
	if (rc == GC_ECONFLICT) {
		gc__reply_err(c, GC__C_USER_EXISTS,
			      "user exists: account \"%.100s\" is taken",
			      a[2].s);
		return;
	}
	if (rc) {
		gc__reply_gcerr(c, GC__SRC_STORE, rc, &err);
		return;
	}
	gc__svc_log(c->svc, GC_LOG_NOTICE,
		"user %" PRId64 " (%s) created account \"%.100s\" (%s)",
		c->user.id, c->user.account, a[2].s, perm);
	o = cJSON_CreateObject();
	if (o)
		cJSON_AddNumberToObject(o, "id", (double)id);
	gc__reply_ok(c, o);
}

void gc__h_user_delete(gc__ctx *c, const gc__arg *a)
{
	gc_error err = {0, ""};
	int rc;
	if (a[0].i == c->user.id) {
		gc__reply_err(c, GC__C_BAD_REQUEST,
			      "you cannot delete your own account");
		return;
	}
	rc = gc_store_user_delete(c->svc->store, a[0].i, &err);
	if (rc == GC_ENOTFOUND) {
		gc__reply_err(c, GC__C_NOT_FOUND, "user %" PRId64 " not found",
			      a[0].i);
		return;
	}
	if (rc) {
		gc__reply_gcerr(c, GC__SRC_STORE, rc, &err);
		return;
	}
	gc__svc_log(c->svc, GC_LOG_NOTICE,
		"user %" PRId64 " (%s) deleted user %" PRId64, c->user.id,
		c->user.account, a[0].i);
	gc__reply_ok(c, cJSON_CreateObject());
}

cJSON *gc__json_users(const gc_store_users *l, int with_total)
{
	cJSON *o = cJSON_CreateObject(), *arr = cJSON_CreateArray();
	if (!o || !arr) {
		cJSON_Delete(o);
		cJSON_Delete(arr);
		return NULL;
	}
	for (size_t i = 0; i < l->count; i++) {
		cJSON *u = gc__json_user(&l->items[i], 1);
		if (!u) {
			cJSON_Delete(o);
			cJSON_Delete(arr);
			return NULL;
		}
		cJSON_AddItemToArray(arr, u);
	}
	cJSON_AddItemToObject(o, "list", arr);
	if (with_total)
		cJSON_AddNumberToObject(o, "total", (double)l->total);
	return o;
}

void gc__h_user_list(gc__ctx *c, const gc__arg *a)
{
	gc_store_users l = {0};
	gc_error err = {0, ""};
	int page = a[0].present ? (int)a[0].i : 1;
	int size = a[1].present ? (int)a[1].i : 20;
	int rc = gc_store_user_list(c->svc->store, page, size, &l, &err);
	if (rc) {
		gc__reply_gcerr(c, GC__SRC_STORE, rc, &err);
		return;
	}
	gc__reply_ok(c, gc__json_users(&l, 1));
	gc_store_users_clear(&l);
}
