/* gcronctl project: projects and their members.
 *
 *   gcronctl project ls
 *   gcronctl project add TITLE [--remark TEXT]
 *   gcronctl project edit PROJECT [--title TITLE] [--remark TEXT]
 *   gcronctl project rm PROJECT [--yes]
 *   gcronctl project members PROJECT
 *   gcronctl project add-member PROJECT ACCOUNT
 *   gcronctl project rm-member PROJECT USER
 */
#include "args.h"
#include "http.h"
#include "output.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

void cmd_project_help(FILE *out)
{
	fprintf(out,
		"usage: gcronctl [--json] project COMMAND ...\n"
		"\n"
		"PROJECT is a project id or title; USER a user id or "
		"account.\n"
		"\n"
		"  ls                              the projects you can see\n"
		"  add TITLE [--remark TEXT]       create a project (you "
		"become its admin)\n"
		"  edit PROJECT [--title TITLE] [--remark TEXT]\n"
		"                                  rename it or change its "
		"remark\n"
		"  rm PROJECT [-y|--yes]           delete it with all its "
		"jobs and logs (asks\n"
		"                                  first; --yes is needed "
		"without a terminal)\n"
		"  members PROJECT                 list its members\n"
		"  add-member PROJECT ACCOUNT      give an account access\n"
		"  rm-member PROJECT USER          take it away (not from "
		"the project's admin)\n"
		"\n"
		"--json output:\n"
		"  ls       [{\"project_id\", \"uid\", \"title\", \"remark\", "
		"\"task_count\"}]\n"
		"  members  [{\"id\", \"account\", \"name\", \"permission\", "
		"\"create_time\"}]\n"
		"  add, edit  {\"project_id\", \"title\", \"remark\"}\n"
		"  rm       {\"project_id\", \"deleted\": true}\n"
		"  add-member, rm-member  {\"project_id\", \"user_id\", "
		"\"account\"}\n");
}

static int members_of(ctl_client *c, int64_t pid, cJSON **list);

/* The account of project p's owner (its uid) among its members, else
 * "uid N" (an owner no longer a member, or members not readable). */
static void owner_text(ctl_client *c, const cJSON *p, char *buf, size_t cap)
{
	cJSON *members = NULL, *u;
	bool quiet = c->quiet;
	int64_t uid = ctl_num(p, "uid");
	snprintf(buf, cap, "uid %" PRId64, uid);
	c->quiet = true;
	if (members_of(c, ctl_num(p, "project_id"), &members) == CTL_OK) {
		cJSON_ArrayForEach(u, members)
		{
			if (ctl_num(u, "id") == uid) {
				snprintf(buf, cap, "%s", ctl_str(u, "account"));
				break;
			}
		}
	}
	c->quiet = quiet;
	cJSON_Delete(members);
}

static int project_ls(ctl_client *c, const ctl_globals *g, int argc,
		      char **argv)
{
	ctl_pos pos;
	cJSON *list = NULL, *p;
	int rc;
	bool go = ctl_parse("project ls", NULL, 0, argc, argv, cmd_project_help,
			    0, 0, "", &pos, &rc);
	ctl_pos_free(&pos);
	if (!go)
		return rc;
	rc = ctl_project_list(c, &list);
	if (rc)
		return rc;
	if (g->json) {
		ctl_json_print(list);
	} else {
		ctl_table *t =
		    ctl_table_new(5, "ID", "TITLE", "JOBS", "OWNER", "REMARK");
		ctl_table_limit(t, 3, 32);
		ctl_table_limit(t, 4, 60);
		cJSON_ArrayForEach(p, list)
		{
			char id[24], n[24], owner[128];
			snprintf(id, sizeof(id), "%" PRId64,
				 ctl_num(p, "project_id"));
			snprintf(n, sizeof(n), "%" PRId64,
				 ctl_num(p, "task_count"));
			owner_text(c, p, owner, sizeof(owner));
			ctl_table_row(t, id, ctl_str(p, "title"), n, owner,
				      ctl_str(p, "remark"));
		}
		if (ctl_table_rows(t))
			ctl_table_print(t, stdout);
		else
			fprintf(stderr, "No projects (gcronctl project add "
					"TITLE creates one).\n");
		ctl_table_free(t);
	}
	cJSON_Delete(list);
	return CTL_OK;
}

static void print_project(const ctl_globals *g, int64_t pid, const char *title,
			  const char *remark, const char *verb)
{
	if (g->json) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "project_id", (double)pid);
		cJSON_AddStringToObject(o, "title", title);
		cJSON_AddStringToObject(o, "remark", remark);
		ctl_json_print(o);
		cJSON_Delete(o);
	} else {
		char *t = ctl_one_line(title, strlen(title), 0);
		printf("%s project %" PRId64 " (%s)\n", verb, pid, t ? t : "");
		free(t);
	}
}

static int project_add(ctl_client *c, const ctl_globals *g, int argc,
		       char **argv)
{
	const char *remark = NULL;
	ctl_opt opts[] = {{"--remark", 'r', &remark, NULL}};
	ctl_pos pos;
	cJSON *resp = NULL;
	int rc;
	if (!ctl_parse("project add", opts, 1, argc, argv, cmd_project_help, 1,
		       1, "TITLE [--remark TEXT]", &pos, &rc))
		goto out;
	{
		ctl_param q[] = {
		    {"title", pos.v[0]}, {"remark", remark}, {NULL, NULL}};
		rc = ctl_call(c, "POST", "project/create", q, &resp);
	}
	if (rc == CTL_OK)
		print_project(g, ctl_num(resp, "project_id"), pos.v[0],
			      remark ? remark : "", "Created");
out:
	cJSON_Delete(resp);
	ctl_pos_free(&pos);
	return rc;
}

static int project_edit(ctl_client *c, const ctl_globals *g, int argc,
			char **argv)
{
	const char *title = NULL, *remark = NULL;
	ctl_opt opts[] = {{"--title", 't', &title, NULL},
			  {"--remark", 'r', &remark, NULL}};
	ctl_pos pos;
	cJSON *proj = NULL;
	int64_t pid = 0;
	int rc;
	if (!ctl_parse("project edit", opts, 2, argc, argv, cmd_project_help, 1,
		       1, "PROJECT [--title TITLE] [--remark TEXT]", &pos, &rc))
		goto out;
	if (!title && !remark) {
		tool_err("gcronctl", "project edit: nothing to change: give "
				     "--title and/or --remark");
		rc = CTL_USAGE;
		goto out;
	}
	rc = ctl_project_find(c, pos.v[0], &pid, &proj);
	if (rc)
		goto out;
	{
		char id[24];
		/* The API wants the title every time: keep the current one
		 * unless a new one is given. */
		const char *new_title = title ? title : ctl_str(proj, "title");
		ctl_param q[] = {{"project_id", id},
				 {"title", new_title},
				 {"remark", remark},
				 {NULL, NULL}};
		snprintf(id, sizeof(id), "%" PRId64, pid);
		rc = ctl_call(c, "POST", "project/update", q, NULL);
		if (rc == CTL_OK)
			print_project(g, pid, new_title,
				      remark ? remark : ctl_str(proj, "remark"),
				      "Updated");
	}
out:
	cJSON_Delete(proj);
	ctl_pos_free(&pos);
	return rc;
}

static int project_rm(ctl_client *c, const ctl_globals *g, int argc,
		      char **argv)
{
	bool yes = false;
	ctl_opt opts[] = {{"--yes", 'y', NULL, &yes}};
	ctl_pos pos;
	cJSON *proj = NULL;
	int64_t pid = 0;
	char id[24];
	int rc;
	if (!ctl_parse("project rm", opts, 1, argc, argv, cmd_project_help, 1,
		       1, "PROJECT [--yes]", &pos, &rc))
		goto out;
	rc = ctl_project_find(c, pos.v[0], &pid, &proj);
	if (rc)
		goto out;
	if (!yes) {
		char q[400],
		    *t = ctl_one_line(ctl_str(proj, "title"),
				      strlen(ctl_str(proj, "title")), 100);
		if (!ctl_interactive()) {
			tool_err("gcronctl",
				 "project rm: deleting project %" PRId64
				 " (%s) with its %" PRId64
				 " jobs and all its logs needs --yes",
				 pid, t ? t : "", ctl_num(proj, "task_count"));
			free(t);
			rc = CTL_USAGE;
			goto out;
		}
		snprintf(q, sizeof(q),
			 "Delete project %" PRId64 " (%s) with its %" PRId64
			 " jobs and all its logs? [y/N] ",
			 pid, t ? t : "", ctl_num(proj, "task_count"));
		free(t);
		if (!ctl_confirm(q)) {
			tool_err("gcronctl", "project rm: not deleted");
			rc = CTL_USAGE;
			goto out;
		}
	}
	snprintf(id, sizeof(id), "%" PRId64, pid);
	{
		ctl_param q[] = {{"project_id", id}, {NULL, NULL}};
		rc = ctl_call(c, "POST", "project/delete", q, NULL);
	}
	if (rc == CTL_OK && g->json) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "project_id", (double)pid);
		cJSON_AddBoolToObject(o, "deleted", true);
		ctl_json_print(o);
		cJSON_Delete(o);
	} else if (rc == CTL_OK) {
		printf("Deleted project %" PRId64 "\n", pid);
	}
out:
	cJSON_Delete(proj);
	ctl_pos_free(&pos);
	return rc;
}

static int members_of(ctl_client *c, int64_t pid, cJSON **list)
{
	char id[24];
	ctl_param q[] = {{"project_id", id}, {NULL, NULL}};
	cJSON *resp = NULL;
	int rc;
	snprintf(id, sizeof(id), "%" PRId64, pid);
	*list = NULL;
	rc = ctl_call(c, "GET", "project/users", q, &resp);
	if (rc == CTL_OK) {
		*list = cJSON_DetachItemFromObjectCaseSensitive(resp, "list");
		if (!cJSON_IsArray(*list)) {
			cJSON_Delete(*list);
			*list = cJSON_CreateArray();
		}
	}
	cJSON_Delete(resp);
	return rc;
}

static int project_members(ctl_client *c, const ctl_globals *g, int argc,
			   char **argv)
{
	ctl_pos pos;
	cJSON *list = NULL, *u;
	int64_t pid = 0;
	int rc;
	if (!ctl_parse("project members", NULL, 0, argc, argv, cmd_project_help,
		       1, 1, "PROJECT", &pos, &rc))
		goto out;
	rc = ctl_project_find(c, pos.v[0], &pid, NULL);
	if (rc == CTL_OK)
		rc = members_of(c, pid, &list);
	if (rc)
		goto out;
	if (g->json) {
		ctl_json_print(list);
	} else {
		ctl_table *t =
		    ctl_table_new(4, "ID", "ACCOUNT", "NAME", "PERMISSION");
		cJSON_ArrayForEach(u, list)
		{
			char id[24];
			snprintf(id, sizeof(id), "%" PRId64, ctl_num(u, "id"));
			ctl_table_row(t, id, ctl_str(u, "account"),
				      ctl_str(u, "name"),
				      ctl_str(u, "permission"));
		}
		ctl_table_print(t, stdout);
		ctl_table_free(t);
	}
out:
	cJSON_Delete(list);
	ctl_pos_free(&pos);
	return rc;
}

static void print_member(const ctl_globals *g, int64_t pid, int64_t uid,
			 const char *account, const char *verb)
{
	if (g->json) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "project_id", (double)pid);
		cJSON_AddNumberToObject(o, "user_id", (double)uid);
		cJSON_AddStringToObject(o, "account", account);
		ctl_json_print(o);
		cJSON_Delete(o);
	} else {
		char *a = ctl_one_line(account, strlen(account), 0);
		printf("%s %s %s project %" PRId64 "\n", verb, a ? a : "",
		       verb[0] == 'A' ? "to" : "from", pid);
		free(a);
	}
}

/* The member matching USER (id or account) in a member list. */
static const cJSON *find_member(const cJSON *list, const char *user)
{
	const cJSON *u;
	long long id;
	bool numeric = tool_parse_long(user, &id);
	cJSON_ArrayForEach(u, list)
	{
		if (numeric && ctl_num(u, "id") == id)
			return u;
	}
	cJSON_ArrayForEach(u, list)
	{
		if (strcmp(ctl_str(u, "account"), user) == 0)
			return u;
	}
	return NULL;
}

static int project_add_member(ctl_client *c, const ctl_globals *g, int argc,
			      char **argv)
{
	ctl_pos pos;
	cJSON *list = NULL;
	int64_t pid = 0;
	char id[24];
	int rc;
	if (!ctl_parse("project add-member", NULL, 0, argc, argv,
		       cmd_project_help, 2, 2, "PROJECT ACCOUNT", &pos, &rc))
		goto out;
	rc = ctl_project_find(c, pos.v[0], &pid, NULL);
	if (rc)
		goto out;
	snprintf(id, sizeof(id), "%" PRId64, pid);
	{
		ctl_param q[] = {{"project_id", id},
				 {"user_account", pos.v[1]},
				 {NULL, NULL}};
		rc = ctl_call(c, "POST", "project/add_user", q, NULL);
	}
	/* The answer is empty; the member list gives the user's id. */
	if (rc == CTL_OK && (rc = members_of(c, pid, &list)) == CTL_OK) {
		const cJSON *u = find_member(list, pos.v[1]);
		print_member(g, pid, u ? ctl_num(u, "id") : 0, pos.v[1],
			     "Added");
	}
out:
	cJSON_Delete(list);
	ctl_pos_free(&pos);
	return rc;
}

static int project_rm_member(ctl_client *c, const ctl_globals *g, int argc,
			     char **argv)
{
	ctl_pos pos;
	cJSON *list = NULL;
	const cJSON *u;
	int64_t pid = 0;
	char id[24], uid[24];
	int rc;
	if (!ctl_parse("project rm-member", NULL, 0, argc, argv,
		       cmd_project_help, 2, 2, "PROJECT USER", &pos, &rc))
		goto out;
	rc = ctl_project_find(c, pos.v[0], &pid, NULL);
	if (rc == CTL_OK)
		rc = members_of(c, pid, &list);
	if (rc)
		goto out;
	u = find_member(list, pos.v[1]);
	if (!u) {
		tool_err("gcronctl",
			 "project rm-member: \"%s\" is not a member of "
			 "project %s (gcronctl project members %s lists them)",
			 pos.v[1], pos.v[0], pos.v[0]);
		rc = CTL_REFUSED;
		goto out;
	}
	snprintf(id, sizeof(id), "%" PRId64, pid);
	snprintf(uid, sizeof(uid), "%" PRId64, ctl_num(u, "id"));
	{
		ctl_param q[] = {
		    {"project_id", id}, {"user_id", uid}, {NULL, NULL}};
		rc = ctl_call(c, "POST", "project/remove_user", q, NULL);
	}
	if (rc == CTL_OK)
		print_member(g, pid, ctl_num(u, "id"), ctl_str(u, "account"),
			     "Removed");
out:
	cJSON_Delete(list);
	ctl_pos_free(&pos);
	return rc;
}

static const ctl_sub subs[] = {
    {"ls", project_ls},
    {"list", project_ls},
    {"add", project_add},
    {"create", project_add},
    {"edit", project_edit},
    {"rm", project_rm},
    {"delete", project_rm},
    {"members", project_members},
    {"add-member", project_add_member},
    {"rm-member", project_rm_member},
};

int cmd_project(const ctl_globals *g, int argc, char **argv)
{
	return ctl_dispatch(g, "project", subs, sizeof(subs) / sizeof(subs[0]),
			    cmd_project_help,
			    "ls, add, edit, rm, members, add-member, rm-member",
			    argc, argv);
}
