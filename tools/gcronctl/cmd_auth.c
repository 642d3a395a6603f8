/* gcronctl login, logout, whoami: the token in the config file.
 *
 *   gcronctl [-s URL] login [-u ACCOUNT] [--password-stdin]
 *   gcronctl [-s URL] logout
 *   gcronctl [-s URL] [--json] whoami
 */
#include "args.h"
#include "http.h"
#include "output.h"

#include <stdlib.h>
#include <string.h>

void cmd_login_help(FILE *out)
{
	fprintf(out,
		"usage: gcronctl [-s URL] [--json] login [-u ACCOUNT] "
		"[--password-stdin]\n"
		"\n"
		"Log in to gcron-service and keep the token in "
		"$XDG_CONFIG_HOME/gophercron/config\n"
		"(~/.config/gophercron/config; mode 0600) together with the "
		"server URL, which\n"
		"becomes the default for later commands.\n"
		"\n"
		"  -u, --account ACCOUNT  account to log in as (asked for "
		"when not given)\n"
		"      --password-stdin   read the password from the first "
		"line of stdin\n"
		"                         (otherwise it is asked for on the "
		"terminal, not echoed)\n"
		"\n"
		"The server URL comes from -s, else $GCRON_SERVER, else the "
		"config file.\n"
		"A fresh service has admin / 123456: change it with gcronctl "
		"user passwd.\n");
}

void cmd_logout_help(FILE *out)
{
	fprintf(out, "usage: gcronctl [-s URL] logout\n"
		     "\n"
		     "Forget the token kept for the server (the config "
		     "file's default, or -s URL).\n");
}

void cmd_whoami_help(FILE *out)
{
	fprintf(out,
		"usage: gcronctl [-s URL] [--json] whoami\n"
		"\n"
		"Show the account the kept token belongs to, as the server "
		"sees it.\n"
		"--json: {\"server\", \"id\", \"account\", \"name\", "
		"\"permission\", \"default_password\"}\n");
}

int cmd_login(const ctl_globals *g, int argc, char **argv)
{
	const char *account = NULL;
	bool from_stdin = false;
	ctl_opt opts[] = {
	    {"--account", 'u', &account, NULL},
	    {"--password-stdin", 0, NULL, &from_stdin},
	};
	ctl_pos pos;
	ctl_client c;
	char *typed = NULL, *password = NULL;
	cJSON *resp = NULL;
	const char *token;
	int rc;
	bool go = ctl_parse("login", opts, 2, argc, argv, cmd_login_help, 0, 0,
			    "[-u ACCOUNT] [--password-stdin]", &pos, &rc);
	ctl_pos_free(&pos);
	if (!go)
		return rc;
	rc = ctl_client_init(&c, g, "login");
	if (rc)
		goto out;
	if (!account) {
		if (from_stdin || !ctl_interactive()) {
			tool_err("gcronctl", "login: give the account with -u "
					     "ACCOUNT");
			rc = CTL_USAGE;
			goto out;
		}
		typed = ctl_read_line_tty("Account: ");
		if (!typed || !*typed) {
			tool_err("gcronctl", "login: no account entered");
			rc = CTL_USAGE;
			goto out;
		}
		account = typed;
	}
	password = ctl_read_secret("login", "Password: ", from_stdin);
	if (!password) {
		rc = CTL_USAGE;
		goto out;
	}
	/* Whatever token was kept is not sent along with a login. */
	if (c.token) {
		explicit_bzero(c.token, strlen(c.token));
		free(c.token);
		c.token = NULL;
	}
	{
		ctl_param q[] = {
		    {"account", account}, {"password", password}, {NULL, NULL}};
		rc = ctl_call(&c, "POST", "user/login", q, &resp);
	}
	if (rc)
		goto out;
	token = ctl_str(resp, "token");
	if (!*token) {
		tool_err("gcronctl", "login: %s answered without a token",
			 c.server);
		rc = CTL_REFUSED;
		goto out;
	}
	if (ctl_config_set_server(&c.config, c.server) != 0 ||
	    ctl_config_set_cred(&c.config, c.server, account, token) != 0) {
		tool_err("gcronctl", "login: out of memory");
		rc = CTL_REFUSED;
		goto out;
	}
	if (ctl_config_save(&c.config) != 0) {
		rc = CTL_REFUSED;
		goto out;
	}
	if (g->json) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "server", c.server);
		cJSON_AddNumberToObject(o, "id", (double)ctl_num(resp, "id"));
		cJSON_AddStringToObject(o, "account", account);
		cJSON_AddStringToObject(o, "name", ctl_str(resp, "name"));
		cJSON_AddStringToObject(o, "permission",
					ctl_str(resp, "permission"));
		cJSON_AddBoolToObject(o, "default_password",
				      ctl_num(resp, "default_password") != 0);
		ctl_json_print(o);
		cJSON_Delete(o);
	} else {
		char *name = ctl_one_line(ctl_str(resp, "name"),
					  strlen(ctl_str(resp, "name")), 80);
		printf("Logged in to %s as %s (%s); token kept in %s\n",
		       c.server, account, name ? name : "", c.config.path);
		free(name);
	}
	if (ctl_num(resp, "default_password"))
		tool_err("gcronctl",
			 "warning: this account still has the first-start "
			 "password: change it now with gcronctl user passwd");
out:
	cJSON_Delete(resp);
	ctl_secret_free(password);
	free(typed);
	ctl_client_cleanup(&c);
	return rc;
}

int cmd_logout(const ctl_globals *g, int argc, char **argv)
{
	ctl_pos pos;
	ctl_client c;
	int rc;
	bool go = ctl_parse("logout", NULL, 0, argc, argv, cmd_logout_help, 0,
			    0, "", &pos, &rc);
	ctl_pos_free(&pos);
	if (!go)
		return rc;
	rc = ctl_client_init(&c, g, "logout");
	if (rc == CTL_OK) {
		if (ctl_config_remove_cred(&c.config, c.server)) {
			if (ctl_config_save(&c.config) != 0)
				rc = CTL_REFUSED;
			else if (!g->json)
				printf("Logged out of %s\n", c.server);
		} else if (!g->json) {
			printf("Not logged in to %s\n", c.server);
		}
		if (rc == CTL_OK && g->json) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "server", c.server);
			cJSON_AddBoolToObject(o, "logged_out", true);
			ctl_json_print(o);
			cJSON_Delete(o);
		}
	}
	ctl_client_cleanup(&c);
	return rc;
}

int cmd_whoami(const ctl_globals *g, int argc, char **argv)
{
	ctl_pos pos;
	ctl_client c;
	cJSON *resp = NULL;
	int rc;
	bool go = ctl_parse("whoami", NULL, 0, argc, argv, cmd_whoami_help, 0,
			    0, "", &pos, &rc);
	ctl_pos_free(&pos);
	if (!go)
		return rc;
	rc = ctl_client_init(&c, g, "whoami");
	if (rc == CTL_OK)
		rc = ctl_call(&c, "GET", "user/info", NULL, &resp);
	if (rc == CTL_OK && g->json) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "server", c.server);
		cJSON_AddNumberToObject(o, "id", (double)ctl_num(resp, "id"));
		cJSON_AddStringToObject(o, "account", ctl_str(resp, "account"));
		cJSON_AddStringToObject(o, "name", ctl_str(resp, "name"));
		cJSON_AddStringToObject(o, "permission",
					ctl_str(resp, "permission"));
		cJSON_AddBoolToObject(o, "default_password",
				      ctl_num(resp, "default_password") != 0);
		ctl_json_print(o);
		cJSON_Delete(o);
	} else if (rc == CTL_OK) {
		char id[24];
		snprintf(id, sizeof(id), "%lld",
			 (long long)ctl_num(resp, "id"));
		ctl_kv("account", ctl_str(resp, "account"));
		ctl_kv("name", ctl_str(resp, "name"));
		ctl_kv("id", id);
		ctl_kv("permission", ctl_str(resp, "permission"));
		ctl_kv("server", c.server);
		if (ctl_num(resp, "default_password"))
			tool_err("gcronctl",
				 "warning: the first-start admin password is "
				 "still in use: change it with gcronctl user "
				 "passwd");
	}
	cJSON_Delete(resp);
	ctl_client_cleanup(&c);
	return rc;
}
