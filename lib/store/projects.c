/* Projects and project membership. */
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PROJECT_COLS "id, uid, title, remark"

void gc_store_project_clear(gc_store_project *p)
{
	if (!p)
		return;
	free(p->title);
	free(p->remark);
	memset(p, 0, sizeof(*p));
}

void gc_store_projects_clear(gc_store_projects *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->count; i++)
		gc_store_project_clear(&l->items[i]);
	free(l->items);
	memset(l, 0, sizeof(*l));
}

static int project_from_row(gc__dbrows *r, size_t row, gc_store_project *p,
			    gc_error *err)
{
	memset(p, 0, sizeof(*p));
	p->id = gc__dbrows_int(r, row, 0);
	p->uid = gc__dbrows_int(r, row, 1);
	p->title = gc__dbrows_take(r, row, 2);
	p->remark = gc__dbrows_take(r, row, 3);
	if (!p->title || !p->remark) {
		gc_store_project_clear(p);
		return gc__seterr(err, GC_ENOMEM, "out of memory");
	}
	return 0;
}

static int count1(gc__tx *t, const char *sql, const gc__dbparam *p,
		  size_t np, int64_t *n, gc_error *err)
{
	gc__dbrows r = {0};
	int rc = gc__tx_exec(t, sql, p, np, &r, NULL, NULL, err);
	*n = (rc == 0 && r.nrows) ? gc__dbrows_int(&r, 0, 0) : 0;
	gc__dbrows_free(&r);
	return rc;
}

static int need_project(gc__tx *t, int64_t id, int64_t *uid, gc_error *err)
{
	gc__dbrows r = {0};
	int rc =
	    gc__tx_get_row(&r, t, "SELECT uid FROM gc_project WHERE id = ?", id,
			   "project", err);
	if (rc == 0 && uid)
		*uid = gc__dbrows_int(&r, 0, 0);
	gc__dbrows_free(&r);
	return rc;
}

static int need_user(gc__tx *t, int64_t uid, gc_error *err)
{
	gc__dbrows r = {0};
	int rc = gc__tx_get_row(&r, t, "SELECT id FROM gc_user WHERE id = ?",
				uid, "user", err);
	gc__dbrows_free(&r);
	return rc;
}

static int title_taken(gc__tx *t, const char *title, int64_t except_id,
		       gc_error *err)
{
	int64_t n = 0;
	gc__dbparam p[] = {gc__ptext(title), gc__pint(except_id)};
	int rc = count1(t,
			"SELECT COUNT(*) FROM gc_project"
			" WHERE title = ? AND id <> ?",
			p, 2, &n, err);
	if (rc == 0 && n > 0)
		rc = gc__seterr(err, GC_ECONFLICT,
				"a project titled \"%.64s\" already exists",
				title);
	return rc;
}

/* ------------------------------------------------------------- create */

typedef struct create_ctx {
	const char *title, *remark;
	int64_t uid, id;
} create_ctx;

static int create_op(gc__tx *t, void *vctx, gc_error *err)
{
	create_ctx *c = vctx;
	int rc = title_taken(t, c->title, 0, err);
	if (rc == 0)
		rc = need_user(t, c->uid, err);
	if (rc)
		return rc;
	gc__dbparam p[] = {gc__pint(c->uid), gc__ptext(c->title),
			   gc__ptext(c->remark)};
	rc = gc__tx_exec(t,
			 "INSERT INTO gc_project (uid, title, remark)"
			 " VALUES (?, ?, ?)",
			 p, 3, NULL, NULL, &c->id, err);
	if (rc)
		return rc;
	gc__dbparam m[] = {gc__pint(c->uid), gc__pint(c->id),
			   gc__pint((int64_t)time(NULL))};
	return gc__tx_exec(t,
			   "INSERT INTO gc_project_relevance"
			   " (uid, project_id, create_time) VALUES (?, ?, ?)",
			   m, 3, NULL, NULL, NULL, err);
}

int gc_store_project_create(int64_t *id_out, gc_store *s, const char *title,
			    const char *remark, int64_t uid, gc_error *err)
{
	if (!s || !title || !*title)
		return gc__seterr(err, GC_EINVAL,
				  "create project: empty title");
	create_ctx c = {title, remark ? remark : "", uid, 0};
	int rc = gc__store_run(s, "create project",
			       GC__OP_WRITE | GC__OP_TX | GC__OP_LOCKED,
			       create_op, &c, err);
	if (rc == 0 && id_out)
		*id_out = c.id;
	return rc;
}

/* ---------------------------------------------------------- get/list */

typedef struct get_ctx {
	int64_t id;
	gc_store_project *out;
} get_ctx;

static int get_op(gc__tx *t, void *vctx, gc_error *err)
{
	get_ctx *c = vctx;
	gc__dbrows r = {0};
	int rc = gc__tx_get_row(&r, t,
				"SELECT " PROJECT_COLS " FROM gc_project"
				" WHERE id = ?",
				c->id, "project", err);
	if (rc == 0)
		rc = project_from_row(&r, 0, c->out, err);
	gc__dbrows_free(&r);
	return rc;
}

int gc_store_project_get(gc_store_project *out, gc_store *s, int64_t id,
			 gc_error *err)
{
	if (!s || !out)
		return gc__seterr(err, GC_EINVAL, "get project: NULL argument");
	memset(out, 0, sizeof(*out));
	get_ctx c = {id, out};
	return gc__store_run(s, "get project", GC__OP_IDEMPOTENT, get_op, &c,
			     err);
}

typedef struct list_ctx {
	int64_t uid; /* < 0: all */
	gc_store_projects *out;
} list_ctx;

static int list_op(gc__tx *t, void *vctx, gc_error *err)
{
	list_ctx *c = vctx;
	gc__dbrows r = {0};
	gc__dbparam p = gc__pint(c->uid);
	int rc;
	gc_store_projects_clear(c->out);
	if (c->uid < 0)
		rc = gc__tx_exec(t,
				 "SELECT " PROJECT_COLS " FROM gc_project"
				 " ORDER BY id",
				 NULL, 0, &r, NULL, NULL, err);
	else
		rc = gc__tx_exec(t,
				 "SELECT " PROJECT_COLS " FROM gc_project"
				 " WHERE id IN (SELECT project_id FROM"
				 " gc_project_relevance WHERE uid = ?)"
				 " ORDER BY id",
				 &p, 1, &r, NULL, NULL, err);
	if (rc == 0 && r.nrows) {
		c->out->items = calloc(r.nrows, sizeof(*c->out->items));
		if (!c->out->items)
			rc = gc__seterr(err, GC_ENOMEM, "out of memory");
		for (size_t i = 0; rc == 0 && i < r.nrows; i++) {
			rc = project_from_row(&r, i, &c->out->items[i], err);
			if (rc == 0)
				c->out->count++;
		}
	}
	gc__dbrows_free(&r);
	return rc;
}

int gc_store_project_list_all(gc_store_projects *out, gc_store *s, gc_error *err)
{
	if (!s || !out)
		return gc__seterr(err, GC_EINVAL,
				  "list projects: NULL argument");
	memset(out, 0, sizeof(*out));
	list_ctx c = {-1, out};
	int rc = gc__store_run(s, "list projects", GC__OP_IDEMPOTENT, list_op,
			       &c, err);
	if (rc)
		gc_store_projects_clear(out);
	return rc;
}

int gc_store_project_list_by_user(gc_store_projects *out, gc_store *s,
				  int64_t uid, gc_error *err)
{
	if (!s || !out || uid < 0)
		return gc__seterr(err, GC_EINVAL,
				  "list projects of user: bad argument");
	memset(out, 0, sizeof(*out));
	list_ctx c = {uid, out};
	int rc = gc__store_run(s, "list projects of user", GC__OP_IDEMPOTENT,
			       list_op, &c, err);
	if (rc)
		gc_store_projects_clear(out);
	return rc;
}

/* ------------------------------------------------------ update/delete */

typedef struct update_ctx {
	int64_t id;
	const char *title, *remark;
} update_ctx;

static int update_op(gc__tx *t, void *vctx, gc_error *err)
{
	update_ctx *c = vctx;
	int rc = need_project(t, c->id, NULL, err);
	if (rc == 0 && c->title)
		rc = title_taken(t, c->title, c->id, err);
	if (rc)
		return rc;
	gc__dbparam none = {GC__P_NULL, 0, NULL, 0};
	gc__dbparam p[] = {c->title ? gc__ptext(c->title) : none,
			   c->remark ? gc__ptext(c->remark) : none,
			   gc__pint(c->id)};
	return gc__tx_exec(t,
			   "UPDATE gc_project SET title = COALESCE(?, title),"
			   " remark = COALESCE(?, remark) WHERE id = ?",
			   p, 3, NULL, NULL, NULL, err);
}

int gc_store_project_update(gc_store *s, int64_t id, const char *title,
			    const char *remark, gc_error *err)
{
	if (!s || (title && !*title))
		return gc__seterr(err, GC_EINVAL,
				  "update project: empty title");
	update_ctx c = {id, title, remark};
	return gc__store_run(s, "update project",
			     GC__OP_WRITE | GC__OP_TX | GC__OP_LOCKED |
				     GC__OP_IDEMPOTENT,
			     update_op, &c, err);
}

static int delete_op(gc__tx *t, void *vctx, gc_error *err)
{
	int64_t id = *(int64_t *)vctx, n = 0;
	gc__dbparam p = gc__pint(id);
	int rc = gc__tx_exec(t,
			     "DELETE FROM gc_project_relevance"
			     " WHERE project_id = ?",
			     &p, 1, NULL, NULL, NULL, err);
	if (rc == 0)
		rc = gc__tx_exec(t, "DELETE FROM gc_project WHERE id = ?", &p,
				 1, NULL, &n, NULL, err);
	if (rc == 0 && n == 0)
		rc = gc__seterr(err, GC_ENOTFOUND, "no project with id %lld",
				(long long)id);
	return rc;
}

int gc_store_project_delete(gc_store *s, int64_t id, unsigned flags,
			    gc_error *err)
{
	if (!s)
		return gc__seterr(err, GC_EINVAL, "delete project: NULL store");
	int rc = gc__store_run(s, "delete project",
			       GC__OP_WRITE | GC__OP_TX | GC__OP_LOCKED,
			       delete_op, &id, err);
	/* Logs go afterwards in batches: a project with millions of runs
	 * must not hold one huge transaction. */
	if (rc == 0 && (flags & GC_STORE_DELETE_LOGS))
		rc = gc_store_log_delete(NULL, s, id, NULL, 0, err);
	return rc;
}

/* ------------------------------------------------------------ members */

typedef struct member_ctx {
	int64_t project_id, uid;
	gc_store_users *out;
	int is_member;
} member_ctx;

static int members_op(gc__tx *t, void *vctx, gc_error *err)
{
	member_ctx *c = vctx;
	gc__dbrows r = {0};
	gc__dbparam p = gc__pint(c->project_id);
	gc_store_users_clear(c->out);
	int rc = need_project(t, c->project_id, NULL, err);
	if (rc == 0)
		rc = gc__tx_exec(t,
				 "SELECT id, account, name, permission,"
				 " create_time, token_gen FROM gc_user"
				 " WHERE id IN"
				 " (SELECT uid FROM gc_project_relevance"
				 " WHERE project_id = ?) ORDER BY id",
				 &p, 1, &r, NULL, NULL, err);
	if (rc == 0)
		rc = gc__store_users_from_rows(&r, c->out, err);
	c->out->total = (int64_t)c->out->count;
	gc__dbrows_free(&r);
	return rc;
}

int gc_store_project_member_list(gc_store_users *out, gc_store *s,
				 int64_t project_id, gc_error *err)
{
	if (!s || !out)
		return gc__seterr(err, GC_EINVAL,
				  "list project members: NULL argument");
	memset(out, 0, sizeof(*out));
	member_ctx c = {project_id, 0, out, 0};
	int rc = gc__store_run(s, "list project members", GC__OP_IDEMPOTENT,
			       members_op, &c, err);
	if (rc)
		gc_store_users_clear(out);
	return rc;
}

static int is_member(gc__tx *t, int64_t project_id, int64_t uid, int *yes,
		     gc_error *err)
{
	int64_t n = 0;
	gc__dbparam p[] = {gc__pint(project_id), gc__pint(uid)};
	int rc = count1(t,
			"SELECT COUNT(*) FROM gc_project_relevance"
			" WHERE project_id = ? AND uid = ?",
			p, 2, &n, err);
	*yes = n > 0;
	return rc;
}

static int add_member_op(gc__tx *t, void *vctx, gc_error *err)
{
	member_ctx *c = vctx;
	int yes = 0;
	int rc = need_project(t, c->project_id, NULL, err);
	if (rc == 0)
		rc = need_user(t, c->uid, err);
	if (rc == 0)
		rc = is_member(t, c->project_id, c->uid, &yes, err);
	if (rc)
		return rc;
	if (yes)
		return gc__seterr(err, GC_ECONFLICT,
				  "user %lld is already a member of project "
				  "%lld",
				  (long long)c->uid, (long long)c->project_id);
	gc__dbparam p[] = {gc__pint(c->uid), gc__pint(c->project_id),
			   gc__pint((int64_t)time(NULL))};
	return gc__tx_exec(t,
			   "INSERT INTO gc_project_relevance"
			   " (uid, project_id, create_time) VALUES (?, ?, ?)",
			   p, 3, NULL, NULL, NULL, err);
}

int gc_store_project_member_add(gc_store *s, int64_t project_id, int64_t uid,
				gc_error *err)
{
	if (!s)
		return gc__seterr(err, GC_EINVAL, "add member: NULL store");
	member_ctx c = {project_id, uid, NULL, 0};
	return gc__store_run(s, "add project member",
			     GC__OP_WRITE | GC__OP_TX | GC__OP_LOCKED,
			     add_member_op, &c, err);
}

static int remove_member_op(gc__tx *t, void *vctx, gc_error *err)
{
	member_ctx *c = vctx;
	int64_t owner = 0, n = 0;
	int rc = need_project(t, c->project_id, &owner, err);
	if (rc)
		return rc;
	if (owner == c->uid)
		return gc__seterr(err, GC_EPERM,
				  "user %lld created project %lld and cannot "
				  "be removed from it",
				  (long long)c->uid, (long long)c->project_id);
	gc__dbparam p[] = {gc__pint(c->project_id), gc__pint(c->uid)};
	rc = gc__tx_exec(t,
			 "DELETE FROM gc_project_relevance"
			 " WHERE project_id = ? AND uid = ?",
			 p, 2, NULL, &n, NULL, err);
	if (rc == 0 && n == 0)
		rc = gc__seterr(err, GC_ENOTFOUND,
				"user %lld is not a member of project %lld",
				(long long)c->uid, (long long)c->project_id);
	return rc;
}

int gc_store_project_member_remove(gc_store *s, int64_t project_id,
				   int64_t uid, gc_error *err)
{
	if (!s)
		return gc__seterr(err, GC_EINVAL, "remove member: NULL store");
	member_ctx c = {project_id, uid, NULL, 0};
	return gc__store_run(s, "remove project member",
			     GC__OP_WRITE | GC__OP_TX | GC__OP_LOCKED,
			     remove_member_op, &c, err);
}

static int is_member_op(gc__tx *t, void *vctx, gc_error *err)
{
	member_ctx *c = vctx;
	return is_member(t, c->project_id, c->uid, &c->is_member, err);
}

int gc_store_project_is_member(int *out, gc_store *s, int64_t project_id,
			       int64_t uid, gc_error *err)
{
	if (!s || !out)
		return gc__seterr(err, GC_EINVAL,
				  "membership check: NULL argument");
	member_ctx c = {project_id, uid, NULL, 0};
	int rc = gc__store_run(s, "membership check", GC__OP_IDEMPOTENT,
			       is_member_op, &c, err);
	*out = rc == 0 ? c.is_member : 0;
	return rc;
}
