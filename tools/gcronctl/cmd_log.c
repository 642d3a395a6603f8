/* gcronctl log: task run logs.
 *
 *   gcronctl log ls [-p PROJECT] [-t JOB] [--errors] [--page N] [--limit N]
 *   gcronctl log show ID [-p PROJECT] [--details]
 *   gcronctl log clean -p PROJECT [-t JOB]
 */
#include "args.h"
#include "http.h"
#include "output.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_MAX  1000000 /* the API's limits */
#define LIMIT_MAX 1000

void cmd_log_help(FILE *out)
{
	fprintf(out,
		"usage: gcronctl [--json] log COMMAND ...\n"
		"\n"
		"  ls [-p PROJECT] [-t JOB] [--errors] [--page N] [--limit "
		"N]\n"
		"                      runs, newest first (all your projects "
		"without -p);\n"
		"                      --errors: failed runs only; --limit: "
		"per page (default\n"
		"                      20, at most %d)\n"
		"  show ID [-p PROJECT] [--details]\n"
		"                      the output of run ID, byte for byte as "
		"captured (stdout\n"
		"                      and stderr in order); --details first "
		"prints what ran,\n"
		"                      where and when. A failed run's error "
		"goes to stderr.\n"
		"  clean -p PROJECT [-t JOB]\n"
		"                      delete the logs of a project (or of "
		"one of its jobs)\n"
		"\n"
		"--json output:\n"
		"  ls     {\"list\": [LOG], \"total\", \"page\", \"limit\"} "
		"(+ \"truncated_rows\")\n"
		"  show   LOG\n"
		"  clean  {\"project_id\", \"task_id\", \"deleted\"}\n"
		"LOG: {\"id\", \"project_id\", \"task_id\", \"project\", "
		"\"name\", \"command\",\n"
		"  \"client_ip\", \"start_time\", \"end_time\", \"plan_time\" "
		"(unix s), \"with_error\" (0/1),\n"
		"  \"run_id\", \"result\" (the stored JSON text), \"output\", "
		"\"error\" (decoded),\n"
		"  \"truncated\": true when the list has a preview of a long "
		"output, whose\n"
		"  \"result_bytes\" says the stored size; log show prints it "
		"whole}\n",
		LIMIT_MAX);
}

/* JOB for a log query: a task id, found by name when it is one. */
static int task_for_query(ctl_client *c, const char *project, const char *job,
			  int64_t *pid, char **task_id)
{
	cJSON *task = NULL;
	long long num;
	int rc;
	c->quiet = true;
	rc = ctl_task_find(c, project, job, pid, &task);
	c->quiet = false;
	if (rc == CTL_OK) {
		*task_id = strdup(ctl_str(task, "task_id"));
		cJSON_Delete(task);
		return *task_id ? CTL_OK : CTL_REFUSED;
	}
	/* A deleted job's logs stay: take an id as it is. */
	if (rc == CTL_REFUSED && tool_parse_long(job, &num)) {
		*task_id = strdup(job);
		return *task_id ? CTL_OK : CTL_REFUSED;
	}
	/* Say why. */
	return ctl_task_find(c, project, job, pid, &task);
}

static int log_ls(ctl_client *c, const ctl_globals *g, int argc, char **argv)
{
	const char *project = NULL, *job = NULL, *page_s = NULL,
		   *limit_s = NULL;
	bool errors = false;
	ctl_opt opts[] = {
	    {"--project", 'p', &project, NULL}, {"--task", 't', &job, NULL},
	    {"--errors", 'e', NULL, &errors},	{"--page", 0, &page_s, NULL},
	    {"--limit", 'l', &limit_s, NULL},
	};
	ctl_pos pos;
	long long page = 1, limit = 20;
	int64_t pid = 0, total, cut;
	char pid_s[24], page_b[24], limit_b[24], *task_id = NULL;
	cJSON *resp = NULL, *list, *l;
	ctl_table *t = NULL;
	int rc = ctl_args("log ls", opts, sizeof(opts) / sizeof(opts[0]), argc,
			  argv, &pos);
	if (rc == CTL_HELP) {
		cmd_log_help(stdout);
		rc = CTL_OK;
		goto out;
	}
	if (rc ||
	    !ctl_nargs("log ls", &pos, 0, 0,
		       "[-p PROJECT] [-t JOB] [--errors] [--page N] "
		       "[--limit N]") ||
	    (page_s &&
	     !ctl_parse_int("log ls", "--page", page_s, 1, PAGE_MAX, &page)) ||
	    (limit_s && !ctl_parse_int("log ls", "--limit", limit_s, 1,
				       LIMIT_MAX, &limit))) {
		rc = CTL_USAGE;
		goto out;
	}
	if (project && (rc = ctl_project_find(c, project, &pid, NULL)))
		goto out;
	if (job && (rc = task_for_query(c, project, job, &pid, &task_id)))
		goto out;
	snprintf(pid_s, sizeof(pid_s), "%" PRId64, pid);
	snprintf(page_b, sizeof(page_b), "%lld", page);
	snprintf(limit_b, sizeof(limit_b), "%lld", limit);
	{
		ctl_param q[] = {{"project_id", pid ? pid_s : NULL},
				 {"task_id", task_id},
				 {"page", page_b},
				 {"pagesize", limit_b},
				 {"errors_only", errors ? "1" : NULL},
				 {NULL, NULL}};
		rc = ctl_call(c, "GET", "log/list", q, &resp);
	}
	if (rc)
		goto out;
	list = cJSON_GetObjectItemCaseSensitive(resp, "list");
	total = ctl_num(resp, "total");
	/* Rows listed shortened: previews of long outputs. */
	cut = ctl_num(resp, "truncated_rows");
	if (g->json) {
		cJSON *o = cJSON_CreateObject();
		cJSON *arr = cJSON_DetachItemViaPointer(resp, list);
		if (!cJSON_IsArray(arr)) {
			cJSON_Delete(arr);
			arr = cJSON_CreateArray();
		}
		cJSON_ArrayForEach(l, arr) ctl_log_decode(l);
		cJSON_AddItemToObject(o, "list", arr);
		cJSON_AddNumberToObject(o, "total", (double)total);
		cJSON_AddNumberToObject(o, "page", (double)page);
		cJSON_AddNumberToObject(o, "limit", (double)limit);
		if (cut)
			cJSON_AddNumberToObject(o, "truncated_rows",
						(double)cut);
		ctl_json_print(o);
		cJSON_Delete(o);
		goto out;
	}
	t = ctl_table_new(7, "ID", "STARTED", "TOOK", "JOB", "PROJECT", "NODE",
			  "RESULT");
	ctl_table_limit(t, 3, 30);
	ctl_table_limit(t, 4, 20);
	ctl_table_limit(t, 6, 50);
	cJSON_ArrayForEach(l, list)
	{
		char id[24], start[32], took[32], res[160];
		ctl_bytes out, err, sys;
		const ctl_bytes *e;
		ctl_log_result(ctl_str(l, "result"), &out, &err, &sys);
		e = ctl_run_error(&err, &sys);
		if (ctl_num(l, "with_error"))
			snprintf(res, sizeof(res), "failed: %.*s",
				 (int)(e->len > 140 ? 140 : e->len),
				 e->len ? e->data : "error");
		else
			snprintf(res, sizeof(res), "ok");
		snprintf(id, sizeof(id), "%" PRId64, ctl_num(l, "id"));
		ctl_table_row(t, id, ctl_time(ctl_num(l, "start_time"), start),
			      ctl_duration(ctl_num(l, "end_time") -
					       ctl_num(l, "start_time"),
					   took),
			      ctl_str(l, "name"), ctl_str(l, "project"),
			      ctl_str(l, "client_ip"), res);
		ctl_bytes_free(&out);
		ctl_bytes_free(&err);
		ctl_bytes_free(&sys);
	}
	if (ctl_table_rows(t)) {
		int64_t pages = (total + limit - 1) / limit;
		ctl_table_print(t, stdout);
		if (page < pages)
			fprintf(stderr,
				"page %lld of %" PRId64 " (%" PRId64
				" runs); --page %lld for more\n",
				page, pages, total, page + 1);
		if (cut)
			fprintf(stderr,
				"%" PRId64 " run%s on this page listed with "
				"a preview of %s output; gcronctl log show "
				"ID prints one whole\n",
				cut, cut == 1 ? "" : "s",
				cut == 1 ? "its" : "their");
	} else {
		fprintf(stderr, "No runs%s.\n",
			page > 1 && total ? " on this page" : "");
	}
out:
	ctl_table_free(t);
	free(task_id);
	cJSON_Delete(resp);
	ctl_pos_free(&pos);
	return rc;
}

int ctl_log_detail(ctl_client *c, int64_t pid, int64_t id, cJSON **found)
{
	char pid_s[24], id_s[24];
	ctl_param q[] = {{"id", id_s}, {"project_id", pid ? pid_s : NULL},
			 {NULL, NULL}};
	snprintf(pid_s, sizeof(pid_s), "%" PRId64, pid);
	snprintf(id_s, sizeof(id_s), "%" PRId64, id);
	return ctl_call(c, "GET", "log/detail", q, found);
}

static int log_show(ctl_client *c, const ctl_globals *g, int argc, char **argv)
{
	const char *project = NULL;
	bool details = false;
	ctl_opt opts[] = {{"--project", 'p', &project, NULL},
			  {"--details", 'd', NULL, &details}};
	ctl_pos pos;
	long long id;
	int64_t pid = 0;
	cJSON *log = NULL;
	int rc;
	if (!ctl_parse("log show", opts, 2, argc, argv, cmd_log_help, 1, 1,
		       "ID [-p PROJECT]", &pos, &rc))
		goto out;
	if (!ctl_parse_int("log show", "ID", pos.v[0], 1, INT64_MAX, &id)) {
		rc = CTL_USAGE;
		goto out;
	}
	if (project && (rc = ctl_project_find(c, project, &pid, NULL)))
		goto out;
	rc = ctl_log_detail(c, pid, (int64_t)id, &log);
	if (rc)
		goto out;
	rc = ctl_run_print("log show", g->json, log, details);
out:
	cJSON_Delete(log);
	ctl_pos_free(&pos);
	return rc;
}

static int log_clean(ctl_client *c, const ctl_globals *g, int argc, char **argv)
{
	const char *project = NULL, *job = NULL;
	ctl_opt opts[] = {{"--project", 'p', &project, NULL},
			  {"--task", 't', &job, NULL}};
	ctl_pos pos;
	int64_t pid = 0, tpid = 0;
	char pid_s[24], *task_id = NULL;
	cJSON *resp = NULL;
	int rc;
	if (!ctl_parse("log clean", opts, 2, argc, argv, cmd_log_help, 0, 0,
		       "-p PROJECT [-t JOB]", &pos, &rc))
		goto out;
	if (!project) {
		tool_err("gcronctl", "log clean: missing -p PROJECT");
		rc = CTL_USAGE;
		goto out;
	}
	rc = ctl_project_find(c, project, &pid, NULL);
	if (rc == CTL_OK && job)
		rc = task_for_query(c, project, job, &tpid, &task_id);
	if (rc)
		goto out;
	snprintf(pid_s, sizeof(pid_s), "%" PRId64, pid);
	{
		ctl_param q[] = {
		    {"project_id", pid_s}, {"task_id", task_id}, {NULL, NULL}};
		rc = ctl_call(c, "POST", "log/clean", q, &resp);
	}
	if (rc)
		goto out;
	if (g->json) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "project_id", (double)pid);
		if (task_id)
			cJSON_AddStringToObject(o, "task_id", task_id);
		else
			cJSON_AddNullToObject(o, "task_id");
		cJSON_AddNumberToObject(o, "deleted",
					(double)ctl_num(resp, "deleted"));
		ctl_json_print(o);
		cJSON_Delete(o);
	} else {
		printf("Deleted %" PRId64 " log%s of %s%s in project %" PRId64
		       "\n",
		       ctl_num(resp, "deleted"),
		       ctl_num(resp, "deleted") == 1 ? "" : "s",
		       task_id ? "job " : "every job", task_id ? task_id : "",
		       pid);
	}
out:
	free(task_id);
	cJSON_Delete(resp);
	ctl_pos_free(&pos);
	return rc;
}

static const ctl_sub subs[] = {
    {"ls", log_ls},
    {"list", log_ls},
    {"show", log_show},
    {"clean", log_clean},
};

int cmd_log(const ctl_globals *g, int argc, char **argv)
{
	return ctl_dispatch(g, "log", subs, sizeof(subs) / sizeof(subs[0]),
			    cmd_log_help, "ls, show, clean", argc, argv);
}
