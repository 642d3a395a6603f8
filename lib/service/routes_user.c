/* /api/v1/version, /api/v1/user/... */
#include "svc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void version(gc__ctx *c, const gc__arg *a)
{
	(void)a;
	gc__reply_ok(c, cJSON_CreateString("v" GC_VERSION_STRING));
}

GC__ENDPOINT_NOARGS(gc__ep_version, version);

static void throttled(gc__ctx *c, int wait)
{
	char s[16];
	snprintf(s, sizeof(s), "%d", wait);
	gc__add_header(c, "Retry-After", s);
	gc__metrics_inc(c->svc->metrics, GC__M_LOGIN_THROTTLED);
	gc__reply_err(c, GC__C_TOO_MANY,
		      "too many failed logins from this address: retry in "
		      "%d s",
		      wait);
}

/* A new password has at least GC__PASSWORD_MIN characters (code points:
 * the binder has checked it is UTF-8). Otherwise answers 400 naming the
 * parameter and returns -1. */
static int password_long_enough(gc__ctx *c, const gc__arg *a, const char *param)
{
	size_t chars = 0;
	for (size_t i = 0; i < a->len; i++)
		chars += ((unsigned char)a->s[i] & 0xC0) != 0x80;
	if (chars >= GC__PASSWORD_MIN)
		return 0;
	gc__reply_err(c, GC__C_BAD_REQUEST,
		      "parameter \"%s\": password too short (%zu characters, "
		      "at least %d)",
		      param, chars, GC__PASSWORD_MIN);
	return -1;
}

/* A token for user `uid` as the store has it now (its current token
 * generation). NULL and an answer on failure. */
static char *issue_token(gc__ctx *c, int64_t uid)
{
	gc_service *svc = c->svc;
	gc_store_user u = {0};
	gc_error err = {0, ""};
	char *token = NULL;
	int rc = gc_store_user_get(&u, svc->store, uid, &err);
	if (rc) {
		gc__reply_gcerr(c, GC__SRC_STORE, rc, &err);
		return NULL;
	}
	rc = gc__jwt_issue(svc->jwt_secret, svc->jwt_secret_len, u.id,
			   u.token_gen, u.account, u.permission,
			   (int64_t)time(NULL), svc->jwt_lifetime_s, &token,
			   &err);
	gc_store_user_clear(&u);
	if (rc)
		gc__reply_gcerr(c, GC__SRC_OTHER, rc, &err);
	return token;
}

/* {"token": T} for the caller after a change of its own password (the
 * token it used is revoked). */
static cJSON *own_new_token(gc__ctx *c)
{
	char *token = issue_token(c, c->user.id);
	cJSON *o;
	if (!token)
		return NULL;
	o = cJSON_CreateObject();
	if (o && !cJSON_AddStringToObject(o, "token", token)) {
		cJSON_Delete(o);
		o = NULL;
	}
	explicit_bzero(token, strlen(token));
	free(token);
	if (!o)
		gc__reply_err(c, GC__C_INTERNAL, "out of memory");
	return o;
}

enum { LOGIN_ACCOUNT, LOGIN_PASSWORD, LOGIN_NARGS };
static const gc__argspec login_args[] = {
    [LOGIN_ACCOUNT] = GC__STR("account", GC__ARG_REQ, GC__ACCOUNT_MAX),
    [LOGIN_PASSWORD] = GC__STR("password", GC__ARG_REQ, GC__PASSWORD_MAX),
};

static void user_login(gc__ctx *c, const gc__arg *a)
{
	gc_service *svc = c->svc;
	const char *account = a[LOGIN_ACCOUNT].s;
	const char *password = a[LOGIN_PASSWORD].s;
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
	rc = gc_store_user_verify(&u, svc->store, account, password, &err);
	if (rc == GC_ENOTFOUND || rc == GC_EAUTH) {
		gc__throttle_fail(svc->throttle, account, c->remote,
				  gc__mono_ms());
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
	gc__throttle_success(svc->throttle, account, c->remote, gc__mono_ms());
	rc = gc__jwt_issue(svc->jwt_secret, svc->jwt_secret_len, u.id,
			   u.token_gen, u.account, u.permission,
			   (int64_t)time(NULL), svc->jwt_lifetime_s, &token,
			   &err);
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

GC__ENDPOINT(gc__ep_user_login, login_args, LOGIN_NARGS, user_login);

static void user_info(gc__ctx *c, const gc__arg *a)
{
	cJSON *o = gc__json_user(&c->user, 0);
	int in_use = 0;
	(void)a;
	if (c->user.account && strcmp(c->user.account, "admin") == 0 &&
	    gc_store_default_password_in_use(&in_use, c->svc->store, NULL) != 0)
		in_use = 0;
	if (o) {
		cJSON_AddStringToObject(o, "account",
					c->user.account ? c->user.account : "");
		cJSON_AddNumberToObject(o, "default_password", in_use);
	}
	gc__reply_ok(c, o);
}

GC__ENDPOINT_NOARGS(gc__ep_user_info, user_info);

enum { CHANGE_PASSWORD, CHANGE_NEW_PASSWORD, CHANGE_NARGS };
static const gc__argspec change_args[] = {
    [CHANGE_PASSWORD] = GC__STR("password", GC__ARG_REQ, GC__PASSWORD_MAX),
    [CHANGE_NEW_PASSWORD] =
	GC__STR("new_password", GC__ARG_REQ, GC__PASSWORD_MAX),
};

static void user_change_password(gc__ctx *c, const gc__arg *a)
{
	gc_service *svc = c->svc;
	gc_error err = {0, ""};
	int64_t now_ms = gc__mono_ms();
	const char *account = c->user.account ? c->user.account : "";
	int wait, rc;
	cJSON *o;

	if (password_long_enough(c, &a[CHANGE_NEW_PASSWORD], "new_password"))
		return;
	/* A stolen token must not become a way to guess the password. */
	wait = gc__throttle_check(svc->throttle, account, c->remote, now_ms);
	if (wait > 0) {
		throttled(c, wait);
		return;
	}
	rc = gc_store_user_password_change(svc->store, c->user.id,
					   a[CHANGE_PASSWORD].s,
					   a[CHANGE_NEW_PASSWORD].s, &err);
	if (rc == GC_EAUTH) {
		gc__throttle_fail(svc->throttle, account, c->remote,
				  gc__mono_ms());
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
	gc__throttle_success(svc->throttle, account, c->remote, gc__mono_ms());
	gc__svc_log(svc, GC_LOG_NOTICE,
		    "user %" PRId64
		    " (%s) changed their password; tokens issued "
		    "before are revoked",
		    c->user.id, account);
	/* The token of this request is revoked too: hand over a new one. */
	o = own_new_token(c);
	if (o)
		gc__reply_ok(c, o);
}

GC__ENDPOINT(gc__ep_user_change_password, change_args, CHANGE_NARGS,
	     user_change_password);

enum { RESET_ID, RESET_NEW_PASSWORD, RESET_NARGS };
static const gc__argspec reset_args[] = {
    [RESET_ID] = GC__INT("id", GC__ARG_REQ, 1, GC__ID_MAX),
    [RESET_NEW_PASSWORD] =
	GC__STR("new_password", GC__ARG_REQ, GC__PASSWORD_MAX),
};

static void user_reset_password(gc__ctx *c, const gc__arg *a)
{
	int64_t uid = a[RESET_ID].i;
	gc_error err = {0, ""};
	cJSON *o;
	int rc;
	if (password_long_enough(c, &a[RESET_NEW_PASSWORD], "new_password"))
		return;
	rc = gc_store_user_password_change(c->svc->store, uid, NULL,
					   a[RESET_NEW_PASSWORD].s, &err);
	if (rc == GC_ENOTFOUND) {
		gc__reply_err(c, GC__C_NOT_FOUND, "user %" PRId64 " not found",
			      uid);
		return;
	}
	if (rc) {
		gc__reply_gcerr(c, GC__SRC_STORE, rc, &err);
		return;
	}
	gc__svc_log(c->svc, GC_LOG_NOTICE,
		    "user %" PRId64 " (%s) reset the password of user %" PRId64
		    "; its tokens issued before are revoked",
		    c->user.id, c->user.account, uid);
	/* An admin who resets their own password keeps working. */
	if (uid != c->user.id) {
		gc__reply_ok(c, cJSON_CreateObject());
		return;
	}
	o = own_new_token(c);
	if (o)
		gc__reply_ok(c, o);
}

GC__ENDPOINT(gc__ep_user_reset_password, reset_args, RESET_NARGS,
	     user_reset_password);

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

enum {
	CREATE_NAME,
	CREATE_PASSWORD,
	CREATE_ACCOUNT,
	CREATE_PERMISSION,
	CREATE_NARGS
};
static const gc__argspec create_args[] = {
    [CREATE_NAME] = GC__STR("name", GC__ARG_REQ, GC__NAME_MAX),
    [CREATE_PASSWORD] = GC__STR("password", GC__ARG_REQ, GC__PASSWORD_MAX),
    [CREATE_ACCOUNT] = GC__STR("account", GC__ARG_REQ, GC__ACCOUNT_MAX),
    [CREATE_PERMISSION] = GC__STR("permission", 0, 100),
};

static void user_create(gc__ctx *c, const gc__arg *a)
{
	const char *account = a[CREATE_ACCOUNT].s;
	gc_error err = {0, ""};
	const char *perm = normalize_permission(&a[CREATE_PERMISSION]);
	int64_t id = 0;
	int rc;
	cJSON *o;

	if (!perm) {
		gc__reply_err(c, GC__C_BAD_REQUEST,
			      "parameter \"permission\": expected \"user\" or "
			      "\"admin,user\"");
		return;
	}
	if (password_long_enough(c, &a[CREATE_PASSWORD], "password"))
		return;
	rc = gc_store_user_create(&id, c->svc->store, account, a[CREATE_NAME].s,
				  a[CREATE_PASSWORD].s, perm, &err);
	if (rc == GC_ECONFLICT) {
		gc__reply_err(c, GC__C_USER_EXISTS,
			      "user exists: account \"%.100s\" is taken",
			      account);
		return;
	}
	if (rc) {
		gc__reply_gcerr(c, GC__SRC_STORE, rc, &err);
		return;
	}
	gc__svc_log(c->svc, GC_LOG_NOTICE,
		    "user %" PRId64 " (%s) created account \"%.100s\" (%s)",
		    c->user.id, c->user.account, account, perm);
	o = cJSON_CreateObject();
	if (o)
		cJSON_AddNumberToObject(o, "id", (double)id);
	gc__reply_ok(c, o);
}

GC__ENDPOINT(gc__ep_user_create, create_args, CREATE_NARGS, user_create);

enum { DELETE_ID, DELETE_NARGS };
static const gc__argspec delete_args[] = {
    [DELETE_ID] = GC__INT("id", GC__ARG_REQ, 1, GC__ID_MAX),
};

static void user_delete(gc__ctx *c, const gc__arg *a)
{
	int64_t uid = a[DELETE_ID].i;
	gc_error err = {0, ""};
	int rc;
	if (uid == c->user.id) {
		gc__reply_err(c, GC__C_BAD_REQUEST,
			      "you cannot delete your own account");
		return;
	}
	rc = gc_store_user_delete(c->svc->store, uid, &err);
	if (rc == GC_ENOTFOUND) {
		gc__reply_err(c, GC__C_NOT_FOUND, "user %" PRId64 " not found",
			      uid);
		return;
	}
	if (rc) {
		gc__reply_gcerr(c, GC__SRC_STORE, rc, &err);
		return;
	}
	gc__svc_log(c->svc, GC_LOG_NOTICE,
		    "user %" PRId64 " (%s) deleted user %" PRId64, c->user.id,
		    c->user.account, uid);
	gc__reply_ok(c, cJSON_CreateObject());
}

GC__ENDPOINT(gc__ep_user_delete, delete_args, DELETE_NARGS, user_delete);

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

enum { LIST_PAGE, LIST_PAGESIZE, LIST_NARGS };
static const gc__argspec list_args[] = {
    [LIST_PAGE] = GC__INT("page", 0, 1, 1000000),
    [LIST_PAGESIZE] = GC__INT("pagesize", 0, 1, 1000),
};

static void user_list(gc__ctx *c, const gc__arg *a)
{
	gc_store_users l = {0};
	gc_error err = {0, ""};
	int page = (int)gc__arg_int(&a[LIST_PAGE], 1);
	int size = (int)gc__arg_int(&a[LIST_PAGESIZE], 20);
	int rc = gc_store_user_list(&l, c->svc->store, page, size, &err);
	if (rc) {
		gc__reply_gcerr(c, GC__SRC_STORE, rc, &err);
		return;
	}
	gc__reply_ok(c, gc__json_users(&l, 1));
	gc_store_users_clear(&l);
}

GC__ENDPOINT(gc__ep_user_list, list_args, LIST_NARGS, user_list);
