/* Who is asking: the user token of a request (JWT, checked against the
 * store's user and token generation) and what the caller may see. */
#include "svc.h"

#include <inttypes.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---------------------------------------------------------------- tokens */

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

const char *gc__bearer(gc__ctx *c)
{
	const char *t = c->header(c->hctx, "Authorization");
	if (!t || strncasecmp(t, "Bearer ", 7) != 0)
		return NULL;
	t += 7;
	while (*t == ' ')
		t++;
	return t;
}

/* Token from "access-token: T" (the original) or "Authorization: Bearer T". */
static const char *request_token(gc__ctx *c)
{
	const char *t = c->header(c->hctx, "access-token");
	return t && *t ? t : gc__bearer(c);
}

int gc__authenticate(gc__ctx *c)
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
	rc = gc_store_user_get(&c->user, c->svc->store, cl.uid, &err);
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

/* -------------------------------------------------------- access control */

int gc__require_project(gc__ctx *c, int64_t pid, int manage,
			gc_store_project *proj)
{
	gc_store_project local = {0};
	gc_store_project *p = proj ? proj : &local;
	gc_error err = {0, ""};
	int rc, member = 0;
	rc = gc_store_project_get(p, c->svc->store, pid, &err);
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
		rc = gc_store_project_is_member(&member, c->svc->store, pid,
						c->user.id, &err);
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
		rc = gc_store_project_list_all(out, c->svc->store, &err);
	else
		rc = gc_store_project_list_by_user(out, c->svc->store,
						   c->user.id, &err);
	if (rc)
		gc__reply_gcerr(c, GC__SRC_STORE, rc, &err);
	return rc ? -1 : 0;
}
