/* gcronctl user: accounts (admins), and your own password.
 *
 *   gcronctl user ls
 *   gcronctl user add ACCOUNT [-n NAME] [--admin] [--password-stdin]
 *   gcronctl user rm USER
 *   gcronctl user passwd [USER] [--password-stdin]
 */
#include "args.h"
#include "http.h"
#include "output.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define USER_PAGE 1000

void cmd_user_help(FILE *out)
{
	fprintf(out,
		"usage: gcronctl [--json] user COMMAND ...\n"
		"\n"
		"USER is a user id or account. ls, add, rm and passwd USER "
		"need an admin.\n"
		"\n"
		"  ls                       every account\n"
		"  add ACCOUNT [-n NAME] [--admin] [--password-stdin]\n"
		"                           create an account (NAME defaults "
		"to ACCOUNT;\n"
		"                           --admin: may manage users and "
		"every project)\n"
		"  rm USER                  delete an account\n"
		"  passwd [--password-stdin]\n"
		"                           change your own password (stdin: "
		"the current\n"
		"                           password on line 1, the new one "
		"on line 2)\n"
		"  passwd USER [--password-stdin]\n"
		"                           set another account's password "
		"(stdin: one line)\n"
		"\n"
		"Passwords are asked for on the terminal without echo, or "
		"read from stdin with\n"
		"--password-stdin; never give them as arguments.\n"
		"\n"
		"--json output:\n"
		"  ls      [{\"id\", \"account\", \"name\", \"permission\", "
		"\"create_time\"}]\n"
		"  add     {\"id\", \"account\", \"name\", \"permission\"}\n"
		"  rm      {\"id\", \"account\", \"deleted\": true}\n"
		"  passwd  {\"id\", \"account\", \"changed\": true}\n");
}

/* Every user (the API pages them). */
static int all_users(ctl_client *c, cJSON **out)
{
	cJSON *all = cJSON_CreateArray();
	char page_s[24], size_s[24];
	*out = NULL;
	snprintf(size_s, sizeof(size_s), "%d", USER_PAGE);
	for (int page = 1; all; page++) {
		ctl_param q[] = {
		    {"page", page_s}, {"pagesize", size_s}, {NULL, NULL}};
		cJSON *resp = NULL, *list;
		int rc, n;
		snprintf(page_s, sizeof(page_s), "%d", page);
		rc = ctl_call(c, "GET", "user/list", q, &resp);
		if (rc) {
			cJSON_Delete(all);
			return rc;
		}
		list = cJSON_GetObjectItemCaseSensitive(resp, "list");
		n = cJSON_GetArraySize(list);
		while (list && list->child)
			cJSON_AddItemToArray(
			    all, cJSON_DetachItemViaPointer(list, list->child));
		bool done = n < USER_PAGE ||
			    cJSON_GetArraySize(all) >= ctl_num(resp, "total");
		cJSON_Delete(resp);
		if (done)
			break;
	}
	*out = all;
	return all ? CTL_OK : CTL_REFUSED;
}

static int find_user(ctl_client *c, const char *user, cJSON **found)
{
	cJSON *all = NULL, *u, *hit = NULL;
	long long id;
	bool numeric = tool_parse_long(user, &id);
	int rc = all_users(c, &all);
	*found = NULL;
	if (rc)
		return rc;
	cJSON_ArrayForEach(u, all)
	{
		if (numeric && ctl_num(u, "id") == id) {
			hit = u;
			break;
		}
	}
	cJSON_ArrayForEach(u, all)
	{
		if (!hit && strcmp(ctl_str(u, "account"), user) == 0)
			hit = u;
	}
	if (hit)
		*found = cJSON_DetachItemViaPointer(all, hit);
	cJSON_Delete(all);
	if (!hit) {
		tool_err("gcronctl",
			 "%s: no user \"%s\" (gcronctl user ls "
			 "lists them)",
			 c->cmd, user);
		return CTL_REFUSED;
	}
	return CTL_OK;
}

static int user_ls(ctl_client *c, const ctl_globals *g, int argc, char **argv)
{
	ctl_pos pos;
	cJSON *all = NULL, *u;
	int rc;
	if (!ctl_parse("user ls", NULL, 0, argc, argv, cmd_user_help, 0, 0, "",
		       &pos, &rc))
		goto out;
	rc = all_users(c, &all);
	if (rc)
		goto out;
	if (g->json) {
		ctl_json_print(all);
	} else {
		ctl_table *t = ctl_table_new(5, "ID", "ACCOUNT", "NAME",
					     "PERMISSION", "CREATED");
		cJSON_ArrayForEach(u, all)
		{
			char id[24], ts[32];
			snprintf(id, sizeof(id), "%" PRId64, ctl_num(u, "id"));
			ctl_table_row(t, id, ctl_str(u, "account"),
				      ctl_str(u, "name"),
				      ctl_str(u, "permission"),
				      ctl_time(ctl_num(u, "create_time"), ts));
		}
		ctl_table_print(t, stdout);
		ctl_table_free(t);
	}
out:
	cJSON_Delete(all);
	ctl_pos_free(&pos);
	return rc;
}

/* A new password: from stdin, or asked twice on the terminal. */
static char *new_password(const char *cmd, const char *prompt, bool from_stdin)
{
	char *p = ctl_read_secret(cmd, prompt, from_stdin), *again;
	if (!p || from_stdin)
		goto check;
	again = ctl_read_secret(cmd, "Again: ", false);
	if (!again || strcmp(p, again) != 0) {
		if (again)
			tool_err("gcronctl", "%s: the passwords differ", cmd);
		ctl_secret_free(again);
		ctl_secret_free(p);
		return NULL;
	}
	ctl_secret_free(again);
check:
	if (p && !*p) {
		tool_err("gcronctl", "%s: the password is empty", cmd);
		ctl_secret_free(p);
		return NULL;
	}
	return p;
}

static int user_add(ctl_client *c, const ctl_globals *g, int argc, char **argv)
{
	const char *name = NULL;
	bool admin = false, from_stdin = false;
	ctl_opt opts[] = {
	    {"--name", 'n', &name, NULL},
	    {"--admin", 0, NULL, &admin},
	    {"--password-stdin", 0, NULL, &from_stdin},
	};
	ctl_pos pos;
	cJSON *resp = NULL;
	char *password = NULL;
	const char *perm;
	int rc;
	if (!ctl_parse("user add", opts, 3, argc, argv, cmd_user_help, 1, 1,
		       "ACCOUNT [-n NAME] [--admin] "
		       "[--password-stdin]",
		       &pos, &rc))
		goto out;
	password = new_password("user add",
				"Password for the new account: ", from_stdin);
	if (!password) {
		rc = CTL_USAGE;
		goto out;
	}
	perm = admin ? "admin,user" : "user";
	{
		ctl_param q[] = {{"account", pos.v[0]},
				 {"name", name ? name : pos.v[0]},
				 {"password", password},
				 {"permission", perm},
				 {NULL, NULL}};
		rc = ctl_call(c, "POST", "user/create", q, &resp);
	}
	if (rc)
		goto out;
	if (g->json) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "id", (double)ctl_num(resp, "id"));
		cJSON_AddStringToObject(o, "account", pos.v[0]);
		cJSON_AddStringToObject(o, "name", name ? name : pos.v[0]);
		cJSON_AddStringToObject(o, "permission", perm);
		ctl_json_print(o);
		cJSON_Delete(o);
	} else {
		char *a = ctl_one_line(pos.v[0], strlen(pos.v[0]), 0);
		printf("Created user %" PRId64 " (%s, %s)\n",
		       ctl_num(resp, "id"), a ? a : "", perm);
		free(a);
	}
out:
	ctl_secret_free(password);
	cJSON_Delete(resp);
	ctl_pos_free(&pos);
	return rc;
}

static void print_user_done(const ctl_globals *g, int64_t id,
			    const char *account, const char *key,
			    const char *verb)
{
	if (g->json) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "id", (double)id);
		cJSON_AddStringToObject(o, "account", account);
		cJSON_AddBoolToObject(o, key, true);
		ctl_json_print(o);
		cJSON_Delete(o);
	} else {
		char *a = ctl_one_line(account, strlen(account), 0);
		printf("%s %" PRId64 " (%s)\n", verb, id, a ? a : "");
		free(a);
	}
}

static int user_rm(ctl_client *c, const ctl_globals *g, int argc, char **argv)
{
	ctl_pos pos;
	cJSON *u = NULL;
	char id[24];
	int rc;
	if (!ctl_parse("user rm", NULL, 0, argc, argv, cmd_user_help, 1, 1,
		       "USER", &pos, &rc))
		goto out;
	rc = find_user(c, pos.v[0], &u);
	if (rc)
		goto out;
	snprintf(id, sizeof(id), "%" PRId64, ctl_num(u, "id"));
	{
		ctl_param q[] = {{"id", id}, {NULL, NULL}};
		rc = ctl_call(c, "POST", "user/delete", q, NULL);
	}
	if (rc == CTL_OK)
		print_user_done(g, ctl_num(u, "id"), ctl_str(u, "account"),
				"deleted", "Deleted user");
out:
	cJSON_Delete(u);
	ctl_pos_free(&pos);
	return rc;
}

/* A change of one's own password revokes the token it was made with; the
 * answer carries a new one. Keep it where the old one came from (the
 * config file), or say that GCRON_TOKEN needs a new login. */
static void keep_new_token(ctl_client *c, const cJSON *resp)
{
	const char *token = ctl_str(resp, "token");
	const ctl_cred *cred = ctl_config_cred(&c->config, c->server);
	char *account;
	if (!*token)
		return;
	if (!cred || !c->token || strcmp(cred->token, c->token) != 0) {
		tool_err("gcronctl",
			 "user passwd: the token in GCRON_TOKEN no longer "
			 "works: log in again");
		return;
	}
	account = cred->account ? strdup(cred->account) : NULL;
	if ((cred->account && !account) ||
	    ctl_config_set_cred(&c->config, c->server, account, token) != 0)
		tool_err("gcronctl", "user passwd: out of memory");
	else
		ctl_config_save(&c->config);
	free(account);
}

static int user_passwd(ctl_client *c, const ctl_globals *g, int argc,
		       char **argv)
{
	bool from_stdin = false;
	ctl_opt opts[] = {{"--password-stdin", 0, NULL, &from_stdin}};
	ctl_pos pos;
	cJSON *u = NULL, *resp = NULL;
	char *current = NULL, *fresh = NULL, id[24];
	int rc;
	if (!ctl_parse("user passwd", opts, 1, argc, argv, cmd_user_help, 0, 1,
		       "[USER] [--password-stdin]", &pos, &rc))
		goto out;
	if (pos.n == 1) {
		/* An admin sets someone's password. */
		rc = find_user(c, pos.v[0], &u);
		if (rc)
			goto out;
		fresh =
		    new_password("user passwd", "New password: ", from_stdin);
		if (!fresh) {
			rc = CTL_USAGE;
			goto out;
		}
		snprintf(id, sizeof(id), "%" PRId64, ctl_num(u, "id"));
		ctl_param q[] = {
		    {"id", id}, {"new_password", fresh}, {NULL, NULL}};
		rc = ctl_call(c, "POST", "user/reset_password", q, &resp);
	} else {
		rc = ctl_call(c, "GET", "user/info", NULL, &u);
		if (rc)
			goto out;
		current = ctl_read_secret("user passwd",
					  "Current password: ", from_stdin);
		if (current)
			fresh = new_password("user passwd",
					     "New password: ", from_stdin);
		if (!current || !fresh) {
			rc = CTL_USAGE;
			goto out;
		}
		ctl_param q[] = {{"password", current},
				 {"new_password", fresh},
				 {NULL, NULL}};
		rc = ctl_call(c, "POST", "user/change_password", q, &resp);
	}
	if (rc == CTL_OK)
		keep_new_token(c, resp);
	if (rc == CTL_OK)
		print_user_done(g, ctl_num(u, "id"), ctl_str(u, "account"),
				"changed", "Changed the password of user");
out:
	ctl_secret_free(current);
	ctl_secret_free(fresh);
	cJSON_Delete(resp);
	cJSON_Delete(u);
	ctl_pos_free(&pos);
	return rc;
}

static const ctl_sub subs[] = {
    {"ls", user_ls},	     {"list", user_ls}, {"add", user_add},
    {"create", user_add},    {"rm", user_rm},	{"delete", user_rm},
    {"passwd", user_passwd},
};

int cmd_user(const ctl_globals *g, int argc, char **argv)
{
	return ctl_dispatch(g, "user", subs, sizeof(subs) / sizeof(subs[0]),
			    cmd_user_help, "ls, add, rm, passwd", argc, argv);
}
