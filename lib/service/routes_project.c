/* /api/v1/project/... */
#include "svc.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

enum { CREATE_TITLE, CREATE_REMARK, CREATE_NARGS };
static const gc__argspec create_args[] = {
    [CREATE_TITLE] = GC__STR("title", GC__ARG_REQ, GC__TITLE_MAX),
    [CREATE_REMARK] = GC__STR("remark", 0, GC__REMARK_MAX),
};

static void project_create(gc__ctx *c, const gc__arg *a)
{
	gc_error err = {0, ""};
	int64_t id = 0;
	cJSON *o;
	const char *title = a[CREATE_TITLE].s;
	int rc = gc_store_project_create(&id, c->svc->store, title,
					 gc__arg_str(&a[CREATE_REMARK], ""),
					 c->user.id, &err);
	if (rc == GC_ECONFLICT) {
		gc__reply_err(c, GC__C_PROJECT_EXISTS,
			      "project exists: title \"%.100s\" is taken",
			      title);
		return;
	}
	if (rc) {
		gc__reply_gcerr(c, GC__SRC_STORE, rc, &err);
		return;
	}
	o = cJSON_CreateObject();
	if (o)
		cJSON_AddNumberToObject(o, "project_id", (double)id);
	gc__reply_ok(c, o);
}

GC__ENDPOINT(gc__ep_project_create, create_args, CREATE_NARGS, project_create);

static void project_list(gc__ctx *c, const gc__arg *a)
{
	gc_store_projects l = {0};
	cJSON *o, *arr;
	(void)a;
	if (gc__visible_projects(c, &l) != 0)
		return;
	o = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(o, "list");
	if (!o || !arr) {
		cJSON_Delete(o);
		gc_store_projects_clear(&l);
		gc__reply_err(c, GC__C_INTERNAL, "out of memory");
		return;
	}
	for (size_t i = 0; i < l.count; i++) {
		const gc_store_project *p = &l.items[i];
		cJSON *it;
		int64_t n = 0;
		if (gc__task_count(c, p->id, &n) != 0) {
			cJSON_Delete(o);
			gc_store_projects_clear(&l);
			return;
		}
		it = cJSON_CreateObject();
		cJSON_AddNumberToObject(it, "project_id", (double)p->id);
		cJSON_AddNumberToObject(it, "uid", (double)p->uid);
		cJSON_AddStringToObject(it, "title", p->title ? p->title : "");
		cJSON_AddStringToObject(it, "remark",
					p->remark ? p->remark : "");
		cJSON_AddNumberToObject(it, "task_count", (double)n);
		cJSON_AddItemToArray(arr, it);
	}
	gc_store_projects_clear(&l);
	gc__reply_ok(c, o);
}

GC__ENDPOINT_NOARGS(gc__ep_project_list, project_list);

enum { UPDATE_PROJECT, UPDATE_TITLE, UPDATE_REMARK, UPDATE_NARGS };
static const gc__argspec update_args[] = {
    [UPDATE_PROJECT] = GC__INT("project_id", GC__ARG_REQ, 1, GC__ID_MAX),
    [UPDATE_TITLE] = GC__STR("title", GC__ARG_REQ, GC__TITLE_MAX),
    [UPDATE_REMARK] = GC__STR("remark", 0, GC__REMARK_MAX),
};

static void project_update(gc__ctx *c, const gc__arg *a)
{
	int64_t pid = a[UPDATE_PROJECT].i;
	const char *title = a[UPDATE_TITLE].s;
	const char *remark = gc__arg_str(&a[UPDATE_REMARK], NULL);
	gc_error err = {0, ""};
	int rc;
	if (gc__require_project(c, pid, 1, NULL) != 0)
		return;
	rc = gc_store_project_update(c->svc->store, pid, title, remark, &err);
	if (rc == GC_ECONFLICT) {
		gc__reply_err(c, GC__C_PROJECT_EXISTS,
			      "project exists: title \"%.100s\" is taken",
			      title);
		return;
	}
	if (rc == GC_ENOTFOUND) {
		gc__reply_err(c, GC__C_NOT_FOUND,
			      "project %" PRId64 " not found", pid);
		return;
	}
	if (rc) {
		gc__reply_gcerr(c, GC__SRC_STORE, rc, &err);
		return;
	}
	gc__reply_ok(c, cJSON_CreateObject());
}

GC__ENDPOINT(gc__ep_project_update, update_args, UPDATE_NARGS, project_update);

/* project_id alone: delete, users */
enum { PROJECT_ID, PROJECT_NARGS };
static const gc__argspec project_args[] = {
    [PROJECT_ID] = GC__INT("project_id", GC__ARG_REQ, 1, GC__ID_MAX),
};

static void project_delete(gc__ctx *c, const gc__arg *a)
{
	int64_t pid = a[PROJECT_ID].i;
	gc_error err = {0, ""};
	int64_t deleted = 0;
	int rc;
	if (gc__require_project(c, pid, 1, NULL) != 0)
		return;
	/* Tasks first: a project row without tasks is harmless, tasks of a
	 * deleted project would keep running. */
	if (gc__project_purge(c, pid, &deleted) != 0)
		return;
	rc = gc_store_project_delete(c->svc->store, pid, GC_STORE_DELETE_LOGS,
				     &err);
	if (rc && rc != GC_ENOTFOUND) {
		gc__reply_gcerr(c, GC__SRC_STORE, rc, &err);
		return;
	}
	gc__svc_log(c->svc, GC_LOG_NOTICE,
		    "user %" PRId64 " (%s) deleted project %" PRId64
		    " (%" PRId64 " etcd keys)",
		    c->user.id, c->user.account, pid, deleted);
	gc__reply_ok(c, cJSON_CreateObject());
}

GC__ENDPOINT(gc__ep_project_delete, project_args, PROJECT_NARGS,
	     project_delete);

static void project_users(gc__ctx *c, const gc__arg *a)
{
	int64_t pid = a[PROJECT_ID].i;
	gc_store_users l = {0};
	gc_error err = {0, ""};
	int rc;
	if (gc__require_project(c, pid, 0, NULL) != 0)
		return;
	rc = gc_store_project_member_list(&l, c->svc->store, pid, &err);
	if (rc) {
		gc__reply_gcerr(c, GC__SRC_STORE, rc, &err);
		return;
	}
	gc__reply_ok(c, gc__json_users(&l, 0));
	gc_store_users_clear(&l);
}

GC__ENDPOINT(gc__ep_project_users, project_args, PROJECT_NARGS, project_users);

enum { ADD_PROJECT, ADD_ACCOUNT, ADD_NARGS };
static const gc__argspec add_args[] = {
    [ADD_PROJECT] = GC__INT("project_id", GC__ARG_REQ, 1, GC__ID_MAX),
    [ADD_ACCOUNT] = GC__STR("user_account", GC__ARG_REQ, GC__ACCOUNT_MAX),
};

static void project_add_user(gc__ctx *c, const gc__arg *a)
{
	int64_t pid = a[ADD_PROJECT].i;
	const char *account = a[ADD_ACCOUNT].s;
	gc_store_user u = {0};
	gc_error err = {0, ""};
	int rc;
	if (gc__require_project(c, pid, 1, NULL) != 0)
		return;
	rc = gc_store_user_get_by_account(&u, c->svc->store, account, &err);
	if (rc == GC_ENOTFOUND) {
		gc__reply_err(c, GC__C_USER_NOT_FOUND,
			      "user not found: no account \"%.100s\"", account);
		return;
	}
	if (rc) {
		gc__reply_gcerr(c, GC__SRC_STORE, rc, &err);
		return;
	}
	rc = gc_store_project_member_add(c->svc->store, pid, u.id, &err);
	gc_store_user_clear(&u);
	/* Already a member: the requested state holds, so succeed. */
	if (rc && rc != GC_ECONFLICT) {
		if (rc == GC_ENOTFOUND)
			gc__reply_err(c, GC__C_NOT_FOUND, "%s", err.msg);
		else
			gc__reply_gcerr(c, GC__SRC_STORE, rc, &err);
		return;
	}
	gc__reply_ok(c, cJSON_CreateObject());
}

GC__ENDPOINT(gc__ep_project_add_user, add_args, ADD_NARGS, project_add_user);

enum { REMOVE_PROJECT, REMOVE_USER, REMOVE_NARGS };
static const gc__argspec remove_args[] = {
    [REMOVE_PROJECT] = GC__INT("project_id", GC__ARG_REQ, 1, GC__ID_MAX),
    [REMOVE_USER] = GC__INT("user_id", GC__ARG_REQ, 1, GC__ID_MAX),
};

static void project_remove_user(gc__ctx *c, const gc__arg *a)
{
	int64_t pid = a[REMOVE_PROJECT].i;
	int64_t uid = a[REMOVE_USER].i;
	gc_store_project p = {0};
	gc_error err = {0, ""};
	int rc;
	if (gc__require_project(c, pid, 1, &p) != 0)
		return;
	if (uid == p.uid) {
		gc_store_project_clear(&p);
		gc__reply_err(c, GC__C_REMOVE_ADMIN,
			      "cannot remove the project admin: user %" PRId64
			      " created project %" PRId64,
			      uid, pid);
		return;
	}
	gc_store_project_clear(&p);
	rc = gc_store_project_member_remove(c->svc->store, pid, uid, &err);
	if (rc == GC_EPERM) {
		gc__reply_err(c, GC__C_REMOVE_ADMIN,
			      "cannot remove the project admin");
		return;
	}
	if (rc == GC_ENOTFOUND) {
		gc__reply_err(c, GC__C_NOT_FOUND,
			      "user %" PRId64 " is not a member of project "
			      "%" PRId64,
			      uid, pid);
		return;
	}
	if (rc) {
		gc__reply_gcerr(c, GC__SRC_STORE, rc, &err);
		return;
	}
	gc__reply_ok(c, cJSON_CreateObject());
}

GC__ENDPOINT(gc__ep_project_remove_user, remove_args, REMOVE_NARGS,
	     project_remove_user);
