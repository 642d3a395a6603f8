/* gcronctl node: the agents serving your projects.
 *
 *   gcronctl node ls [-p PROJECT]
 */
#include "args.h"
#include "http.h"
#include "output.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

void cmd_node_help(FILE *out)
{
	fprintf(out,
		"usage: gcronctl [--json] node ls [-p PROJECT]\n"
		"\n"
		"The agents registered (alive) for a project, or for every "
		"project you can\n"
		"see; one row per agent and project. OFFSET: cluster time "
		"minus the agent's\n"
		"clock, as the agent measured it (\"-\" for agents that do "
		"not report it;\n"
		"\"!\" when the agent found it too far off to claim ticks).\n"
		"\n"
		"--json output: [{\"project_id\", \"client_ip\", "
		"\"version\"}], plus\n"
		"\"clock_offset_ms\", \"clock_error_ms\", \"clock_ok\", "
		"\"clock_reason\" when reported\n");
}

/* "+3ms", "-1.25s", "-" when the agent does not report its clock; "!"
 * when it does not claim ticks because of it. */
static void clock_offset(const cJSON *n, char *out, size_t len)
{
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(n, "clock_offset_ms");
	const cJSON *ok = cJSON_GetObjectItemCaseSensitive(n, "clock_ok");
	const char *bad = cJSON_IsFalse(ok) ? " !" : "";
	if (!cJSON_IsNumber(o))
		snprintf(out, len, "-%s", bad);
	else if (o->valuedouble > -1000 && o->valuedouble < 1000)
		snprintf(out, len, "%+.0fms%s", o->valuedouble, bad);
	else
		snprintf(out, len, "%+.2fs%s", o->valuedouble / 1000, bad);
}

static int node_ls(ctl_client *c, const ctl_globals *g, int argc, char **argv)
{
	const char *project = NULL;
	ctl_opt opts[] = {{"--project", 'p', &project, NULL}};
	ctl_pos pos;
	cJSON *nodes = NULL, *projects = NULL, *n, *p;
	ctl_table *t = NULL;
	int64_t pid = 0;
	char pid_s[24];
	int rc;
	if (!ctl_parse("node ls", opts, 1, argc, argv, cmd_node_help, 0, 0,
		       "[-p PROJECT]", &pos, &rc))
		goto out;
	/* The project list names the projects in the table (and resolves
	 * -p). */
	rc = ctl_project_list(c, &projects);
	if (rc == CTL_OK && project)
		rc = ctl_project_find(c, project, &pid, NULL);
	if (rc)
		goto out;
	snprintf(pid_s, sizeof(pid_s), "%" PRId64, pid);
	if (project) {
		ctl_param q[] = {{"project_ids", pid_s}, {NULL, NULL}};
		rc = ctl_call(c, "POST", "crontab/monitor", q, &nodes);
	} else {
		rc = ctl_call(c, "GET", "client/list", NULL, &nodes);
	}
	if (rc)
		goto out;
	if (!cJSON_IsArray(nodes)) {
		tool_err("gcronctl", "node ls: %s answered without a list",
			 c->server);
		rc = CTL_REFUSED;
		goto out;
	}
	if (g->json) {
		ctl_json_print(nodes);
		goto out;
	}
	t = ctl_table_new(5, "NODE", "VERSION", "OFFSET", "PROJECT", "TITLE");
	ctl_table_limit(t, 4, 40);
	cJSON_ArrayForEach(n, nodes)
	{
		const char *title = "";
		char id[24], off[32];
		cJSON_ArrayForEach(p, projects)
		{
			if (ctl_num(p, "project_id") ==
			    ctl_num(n, "project_id"))
				title = ctl_str(p, "title");
		}
		snprintf(id, sizeof(id), "%" PRId64, ctl_num(n, "project_id"));
		clock_offset(n, off, sizeof(off));
		ctl_table_row(t, ctl_str(n, "client_ip"), ctl_str(n, "version"),
			      off, id, title);
	}
	if (ctl_table_rows(t))
		ctl_table_print(t, stdout);
	else
		fprintf(stderr, "No agents are registered%s%s.\n",
			project ? " for project " : "", project ? project : "");
out:
	ctl_table_free(t);
	cJSON_Delete(nodes);
	cJSON_Delete(projects);
	ctl_pos_free(&pos);
	return rc;
}

static const ctl_sub subs[] = {
    {"ls", node_ls},
    {"list", node_ls},
};

int cmd_node(const ctl_globals *g, int argc, char **argv)
{
	return ctl_dispatch(g, "node", subs, sizeof(subs) / sizeof(subs[0]),
			    cmd_node_help, "ls", argc, argv);
}
