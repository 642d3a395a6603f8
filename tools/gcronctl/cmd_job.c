/* gcronctl job: tasks of a project (TaskInfo in etcd, through the API).
 *
 *   gcronctl job ls [-p PROJECT]
 *   gcronctl job show JOB [-p PROJECT]
 *   gcronctl job add -p PROJECT -n NAME --cron EXPR [--timeout S]
 *                    [--noseize] [--exclusion] [--paused] [--remark TEXT]
 *                    -- COMMAND...
 *   gcronctl job edit JOB [-p PROJECT] [changes] [-- COMMAND...]
 *   gcronctl job rm|pause|resume|run|kill JOB [-p PROJECT]
 *
 * JOB is a task id or a job name that is unique in its project. */
#include "args.h"
#include "http.h"
#include "output.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TIMEOUT_MAX (31LL * 86400) /* the API's limit */

void cmd_job_help(FILE *out)
{
	fprintf(out,
		"usage: gcronctl [--json] job COMMAND ...\n"
		"\n"
		"JOB is a task id or a job name that is unique in its "
		"project; PROJECT a\n"
		"project id or title. Without -p, JOB is looked for in every "
		"project you see.\n"
		"\n"
		"  ls [-p PROJECT]                 jobs of a project (all "
		"your projects without -p)\n"
		"  show JOB [-p PROJECT]           one job in full, with its "
		"next fire times\n"
		"  add -p PROJECT -n NAME --cron EXPR [OPTIONS] -- "
		"COMMAND...\n"
		"                                  create a job; COMMAND runs "
		"with the agent's\n"
		"                                  shell (words after -- are "
		"joined with spaces)\n"
		"      --timeout S                 kill a run after S seconds "
		"(0 = never)\n"
		"      --noseize                   run on every agent of the "
		"project, not one\n"
		"      --exclusion                 skip a tick while a run is "
		"in progress\n"
		"      --paused                    create it paused\n"
		"      --remark TEXT               a note\n"
		"  edit JOB [-p PROJECT] [-n NAME] [--cron EXPR] [--timeout "
		"S] [--remark TEXT]\n"
		"       [--noseize|--seize] [--exclusion|--no-exclusion] "
		"[--paused|--active]\n"
		"       [-- COMMAND...]            change only what is given\n"
		"  rm JOB [-p PROJECT]             delete a job\n"
		"  pause JOB [-p PROJECT]          stop scheduling it (run "
		"and kill still work)\n"
		"  resume JOB [-p PROJECT]         schedule it again\n"
		"  run JOB [-p PROJECT] [--wait [--wait-timeout S]]\n"
		"                                  run it now (once, on one "
		"agent, also for\n"
		"                                  --noseize jobs); --wait: "
		"wait for the run and\n"
		"                                  print its output like log "
		"show, exit 1 if it\n"
		"                                  failed (default wait: its "
		"timeout + 60 s, or\n"
		"                                  600 s)\n"
		"  kill JOB [-p PROJECT]           kill its run in progress\n"
		"\n"
		"Cron expressions: 5 fields (min hour dom month dow), 6 "
		"(+ year) or 7 (seconds\n"
		"first, year last), or @daily etc.; see gcronctl help cron.\n"
		"\n"
		"--json output:\n"
		"  ls            [TaskInfo]\n"
		"  show          TaskInfo + \"next\": [unix seconds, ...]\n"
		"  add, edit     TaskInfo (as stored after the change)\n"
		"  run --wait    LOG (see gcronctl help log)\n"
		"  rm, pause, resume, run, kill\n"
		"                {\"task_id\", \"project_id\", \"name\", "
		"\"action\"}\n"
		"TaskInfo: {\"task_id\", \"name\", \"project_id\", "
		"\"command\", \"cron\", \"remark\",\n"
		"  \"timeout\" (s), \"create_time\" (unix s), \"status\" (1 "
		"active, 0 paused),\n"
		"  \"is_running\" (0/1), \"noseize\" (0/1), \"exclusion\" "
		"(0/1), \"client_ip\"}\n");
}

/* Words after "--", joined with spaces; NULL (and a message) when there
 * are none. */
static char *join_command(const char *cmd, const ctl_pos *pos)
{
	size_t len = 1;
	char *s;
	if (!pos->dashdash || pos->nrest == 0) {
		tool_err("gcronctl",
			 "%s: give the command after --, e.g. "
			 "-- /usr/bin/backup --full",
			 cmd);
		return NULL;
	}
	for (int i = 0; i < pos->nrest; i++)
		len += strlen(pos->rest[i]) + 1;
	s = malloc(len);
	if (!s)
		return NULL;
	len = 0;
	for (int i = 0; i < pos->nrest; i++) {
		size_t n = strlen(pos->rest[i]);
		if (i)
			s[len++] = ' ';
		memcpy(s + len, pos->rest[i], n);
		len += n;
	}
	s[len] = '\0';
	return s;
}

static const char *status_text(const cJSON *t)
{
	bool paused = ctl_num(t, "status") == 0;
	if (ctl_num(t, "is_running"))
		return paused ? "paused, running" : "running";
	return paused ? "paused" : "active";
}

static void flags_text(const cJSON *t, char *buf, size_t cap)
{
	bool ns = ctl_num(t, "noseize") != 0, ex = ctl_num(t, "exclusion") != 0;
	snprintf(buf, cap, "%s%s%s%s", ns ? "noseize" : "", ns && ex ? "," : "",
		 ex ? "exclusion" : "", !ns && !ex ? "-" : "");
}

static void timeout_text(const cJSON *t, char *buf)
{
	int64_t s = ctl_num(t, "timeout");
	if (s <= 0)
		snprintf(buf, 32, "-");
	else
		ctl_duration(s, buf);
}

/* ------------------------------------------------------------------ ls */

static cJSON *next_times(ctl_client *c, const char *cron, int n);

/* The next run of a job: "paused", its time, or "-" (no future time, or
 * the service cannot say). `seen` caches the service's answer per
 * expression (unix seconds, -1 for none), so a listing asks once for each
 * distinct schedule. */
static void next_text(ctl_client *c, cJSON *seen, const cJSON *task,
		      char buf[32])
{
	const char *cron = ctl_str(task, "cron");
	const cJSON *hit;
	if (ctl_num(task, "status") == 0) {
		snprintf(buf, 32, "paused");
		return;
	}
	hit = cJSON_GetObjectItemCaseSensitive(seen, cron);
	if (!hit) {
		cJSON *l = next_times(c, cron, 1);
		const cJSON *first = cJSON_GetArrayItem(l, 0);
		hit = cJSON_AddNumberToObject(
		    seen, cron, cJSON_IsNumber(first) ? first->valuedouble : -1);
		cJSON_Delete(l);
	}
	if (!hit || hit->valuedouble < 0)
		snprintf(buf, 32, "-");
	else
		ctl_time((int64_t)hit->valuedouble, buf);
}

static void add_rows(ctl_client *c, cJSON *seen, ctl_table *t,
		     const cJSON *tasks, const char *project)
{
	const cJSON *k;
	cJSON_ArrayForEach(k, tasks)
	{
		char flags[32], to[32], next[32];
		flags_text(k, flags, sizeof(flags));
		timeout_text(k, to);
		next_text(c, seen, k, next);
		if (project)
			ctl_table_row(t, project, ctl_str(k, "task_id"),
				      ctl_str(k, "name"), ctl_str(k, "cron"),
				      next, status_text(k), to, flags,
				      ctl_str(k, "command"));
		else
			ctl_table_row(t, ctl_str(k, "task_id"),
				      ctl_str(k, "name"), ctl_str(k, "cron"),
				      next, status_text(k), to, flags,
				      ctl_str(k, "command"));
	}
}

static int job_ls(ctl_client *c, const ctl_globals *g, int argc, char **argv)
{
	const char *project = NULL;
	ctl_opt opts[] = {{"--project", 'p', &project, NULL}};
	ctl_pos pos;
	cJSON *all = NULL, *projects = NULL, *tasks = NULL, *p;
	cJSON *seen = cJSON_CreateObject();
	ctl_table *t = NULL;
	int64_t pid = 0;
	int rc;
	if (!ctl_parse("job ls", opts, 1, argc, argv, cmd_job_help, 0, 0,
		       "[-p PROJECT]", &pos, &rc))
		goto out;
	if (project) {
		rc = ctl_project_find(c, project, &pid, NULL);
		if (rc == CTL_OK)
			rc = ctl_task_list(c, pid, &all);
		if (rc)
			goto out;
		t = ctl_table_new(8, "ID", "NAME", "SCHEDULE", "NEXT RUN",
				  "STATUS", "TIMEOUT", "FLAGS", "COMMAND");
		ctl_table_limit(t, 7, 50);
		if (!g->json)
			add_rows(c, seen, t, all, NULL);
	} else {
		rc = ctl_project_list(c, &projects);
		if (rc)
			goto out;
		all = cJSON_CreateArray();
		t = ctl_table_new(9, "PROJECT", "ID", "NAME", "SCHEDULE",
				  "NEXT RUN", "STATUS", "TIMEOUT", "FLAGS",
				  "COMMAND");
		ctl_table_limit(t, 0, 24);
		ctl_table_limit(t, 8, 40);
		cJSON_ArrayForEach(p, projects)
		{
			rc = ctl_task_list(c, ctl_num(p, "project_id"), &tasks);
			if (rc)
				goto out;
			if (!g->json)
				add_rows(c, seen, t, tasks,
					 ctl_str(p, "title"));
			while (tasks->child)
				cJSON_AddItemToArray(all,
						     cJSON_DetachItemViaPointer(
							 tasks, tasks->child));
			cJSON_Delete(tasks);
			tasks = NULL;
		}
	}
	if (g->json) {
		ctl_json_print(all);
	} else if (ctl_table_rows(t)) {
		ctl_table_print(t, stdout);
	} else {
		fprintf(stderr, "No jobs%s%s (gcronctl job add creates one).\n",
			project ? " in project " : "", project ? project : "");
	}
out:
	ctl_table_free(t);
	cJSON_Delete(all);
	cJSON_Delete(projects);
	cJSON_Delete(tasks);
	cJSON_Delete(seen);
	ctl_pos_free(&pos);
	return rc;
}

/* ---------------------------------------------------------------- show */

/* Next fire times from the service (which schedules as the agents do);
 * NULL when it cannot say. */
static cJSON *next_times(ctl_client *c, const char *cron, int n)
{
	char nbuf[8];
	ctl_param q[] = {{"cron", cron}, {"n", nbuf}, {NULL, NULL}};
	cJSON *resp = NULL, *list;
	bool quiet = c->quiet;
	snprintf(nbuf, sizeof(nbuf), "%d", n);
	c->quiet = true;
	if (ctl_call(c, "GET", "crontab/next", q, &resp) != CTL_OK) {
		c->quiet = quiet;
		return NULL;
	}
	c->quiet = quiet;
	list = cJSON_DetachItemFromObjectCaseSensitive(resp, "list");
	cJSON_Delete(resp);
	if (!cJSON_IsArray(list)) {
		cJSON_Delete(list);
		return NULL;
	}
	return list;
}

/* The command, its later lines aligned under the first. */
static void print_command(const char *cmd)
{
	size_t len = strcspn(cmd, "\n");
	char *first = strndup(cmd, len);
	ctl_kv("command", first ? first : "");
	free(first);
	while (cmd[len] == '\n' && cmd[len + 1] != '\0') {
		cmd += len + 1;
		len = strcspn(cmd, "\n");
		ctl_kv_bytes_more(cmd, len);
	}
}

static int job_show(ctl_client *c, const ctl_globals *g, int argc, char **argv)
{
	const char *project = NULL;
	ctl_opt opts[] = {{"--project", 'p', &project, NULL}};
	ctl_pos pos;
	cJSON *task = NULL, *next = NULL, *proj = NULL, *v;
	int64_t pid = 0;
	char buf[64], ts[32];
	int rc;
	if (!ctl_parse("job show", opts, 1, argc, argv, cmd_job_help, 1, 1,
		       "JOB [-p PROJECT]", &pos, &rc))
		goto out;
	rc = ctl_task_find(c, project, pos.v[0], &pid, &task);
	if (rc)
		goto out;
	next = next_times(c, ctl_str(task, "cron"), 3);
	if (g->json) {
		cJSON_AddItemToObject(task, "next",
				      next ? next : cJSON_CreateArray());
		next = NULL;
		ctl_json_print(task);
		goto out;
	}
	snprintf(buf, sizeof(buf), "%" PRId64, pid);
	if (ctl_project_find(c, buf, &pid, &proj) == CTL_OK)
		snprintf(buf, sizeof(buf), "%" PRId64 " (%.40s)", pid,
			 ctl_str(proj, "title"));
	ctl_kv("id", ctl_str(task, "task_id"));
	ctl_kv("name", ctl_str(task, "name"));
	ctl_kv("project", buf);
	ctl_kv("schedule", ctl_str(task, "cron"));
	if (next && cJSON_GetArraySize(next) > 0) {
		bool first = true;
		cJSON_ArrayForEach(v, next)
		{
			ctl_time((int64_t)v->valuedouble, ts);
			if (first)
				ctl_kv("next runs", ts);
			else
				ctl_kv_more(ts);
			first = false;
		}
	} else if (next) {
		ctl_kv("next runs", "none (the expression has no future time)");
	}
	ctl_kv("status", status_text(task));
	timeout_text(task, buf);
	ctl_kv("timeout", strcmp(buf, "-") ? buf : "none");
	ctl_kv("noseize", ctl_num(task, "noseize") ? "yes (every agent runs it)"
						   : "no (one agent per tick)");
	ctl_kv("exclusion", ctl_num(task, "exclusion")
				? "yes (a tick is skipped while it runs)"
				: "no");
	ctl_kv("remark", ctl_str(task, "remark"));
	ctl_kv("created", ctl_time(ctl_num(task, "create_time"), ts));
	print_command(ctl_str(task, "command"));
out:
	cJSON_Delete(task);
	cJSON_Delete(next);
	cJSON_Delete(proj);
	ctl_pos_free(&pos);
	return rc;
}

/* ------------------------------------------------------------ add/edit */

/* Other tasks of `tasks` named `name` (not `except_id`): prints them and
 * answers true. */
static bool name_taken(const char *cmd, const cJSON *tasks, const char *name,
		       const char *except_id, const char *project)
{
	const cJSON *k;
	cJSON_ArrayForEach(k, tasks)
	{
		if (strcmp(ctl_str(k, "name"), name) == 0 &&
		    (!except_id || strcmp(ctl_str(k, "task_id"), except_id))) {
			tool_err("gcronctl",
				 "%s: project %s already has a job named "
				 "\"%s\" (id %s); names identify jobs here, so "
				 "choose another",
				 cmd, project, name, ctl_str(k, "task_id"));
			return true;
		}
	}
	return false;
}

static int print_task(const ctl_globals *g, const cJSON *task, const char *verb)
{
	if (g->json)
		return ctl_json_print(task) ? CTL_REFUSED : CTL_OK;
	char *name = ctl_one_line(ctl_str(task, "name"),
				  strlen(ctl_str(task, "name")), 0);
	printf("%s job %s (%s) in project %" PRId64 "\n", verb,
	       ctl_str(task, "task_id"), name ? name : "",
	       ctl_num(task, "project_id"));
	free(name);
	return CTL_OK;
}

static bool parse_timeout(const char *cmd, const char *s, char *out)
{
	long long v;
	if (!ctl_parse_int(cmd, "--timeout", s, 0, TIMEOUT_MAX, &v))
		return false;
	snprintf(out, 24, "%lld", v);
	return true;
}

static int job_add(ctl_client *c, const ctl_globals *g, int argc, char **argv)
{
	const char *project = NULL, *name = NULL, *cron = NULL, *timeout = NULL,
		   *remark = NULL;
	bool noseize = false, exclusion = false, paused = false;
	ctl_opt opts[] = {
	    {"--project", 'p', &project, NULL},
	    {"--name", 'n', &name, NULL},
	    {"--cron", 'c', &cron, NULL},
	    {"--timeout", 0, &timeout, NULL},
	    {"--remark", 'r', &remark, NULL},
	    {"--noseize", 0, NULL, &noseize},
	    {"--exclusion", 0, NULL, &exclusion},
	    {"--paused", 0, NULL, &paused},
	};
	ctl_pos pos;
	cJSON *before = NULL, *after = NULL, *k, *hit = NULL;
	char *command = NULL, id[24], to[24];
	int64_t pid = 0;
	int rc = ctl_args("job add", opts, sizeof(opts) / sizeof(opts[0]), argc,
			  argv, &pos);
	if (rc == CTL_HELP) {
		cmd_job_help(stdout);
		rc = CTL_OK;
		goto out;
	}
	if (rc == CTL_OK && pos.n > 0) {
		tool_err("gcronctl",
			 "job add: unexpected argument '%s': put "
			 "the command after --",
			 pos.v[0]);
		rc = CTL_USAGE;
	}
	if (rc == CTL_OK && (!project || !name || !cron)) {
		tool_err("gcronctl",
			 "job add: missing %s; usage: gcronctl job "
			 "add -p PROJECT -n NAME --cron EXPR -- "
			 "COMMAND...",
			 !project ? "-p PROJECT"
			 : !name  ? "-n NAME"
				  : "--cron EXPR");
		rc = CTL_USAGE;
	}
	if (rc == CTL_OK && timeout && !parse_timeout("job add", timeout, to))
		rc = CTL_USAGE;
	if (rc == CTL_OK && !(command = join_command("job add", &pos)))
		rc = CTL_USAGE;
	if (rc)
		goto out;
	rc = ctl_project_find(c, project, &pid, NULL);
	if (rc == CTL_OK)
		rc = ctl_task_list(c, pid, &before);
	if (rc)
		goto out;
	if (name_taken("job add", before, name, NULL, project)) {
		rc = CTL_REFUSED;
		goto out;
	}
	snprintf(id, sizeof(id), "%" PRId64, pid);
	{
		ctl_param q[] = {{"project_id", id},
				 {"name", name},
				 {"command", command},
				 {"cron", cron},
				 {"remark", remark ? remark : ""},
				 {"timeout", timeout ? to : "0"},
				 {"status", paused ? "0" : "1"},
				 {"noseize", noseize ? "1" : "0"},
				 {"exclusion", exclusion ? "1" : "0"},
				 {NULL, NULL}};
		rc = ctl_call(c, "POST", "crontab/save", q, NULL);
	}
	if (rc)
		goto out;
	/* The API does not answer with the new id: it is the task of that
	 * name that was not there before. */
	rc = ctl_task_list(c, pid, &after);
	if (rc)
		goto out;
	cJSON_ArrayForEach(k, after)
	{
		const cJSON *b;
		bool old = false;
		if (strcmp(ctl_str(k, "name"), name) != 0)
			continue;
		cJSON_ArrayForEach(b, before)
		{
			if (!strcmp(ctl_str(b, "task_id"),
				    ctl_str(k, "task_id")))
				old = true;
		}
		if (!old)
			hit = k;
	}
	if (!hit) {
		tool_err("gcronctl", "job add: the job was saved but is not in "
				     "the project's list");
		rc = CTL_REFUSED;
		goto out;
	}
	rc = print_task(g, hit, "Created");
out:
	free(command);
	cJSON_Delete(before);
	cJSON_Delete(after);
	ctl_pos_free(&pos);
	return rc;
}

/* Save `task` (its current definition) with the given changes; NULL
 * fields keep the stored value. */
struct changes {
	const char *name, *command, *cron, *remark, *timeout, *status, *noseize,
	    *exclusion;
};

static int save_changes(ctl_client *c, const cJSON *task,
			const struct changes *ch)
{
	char pid[24];
	ctl_param q[] = {
	    {"project_id", pid},
	    {"task_id", ctl_str(task, "task_id")},
	    /* required by the API: the current values unless changed */
	    {"name", ch->name ? ch->name : ctl_str(task, "name")},
	    {"command", ch->command ? ch->command : ctl_str(task, "command")},
	    {"cron", ch->cron ? ch->cron : ctl_str(task, "cron")},
	    /* optional: left out, they keep what is stored right now */
	    {"remark", ch->remark},
	    {"timeout", ch->timeout},
	    {"status", ch->status},
	    {"noseize", ch->noseize},
	    {"exclusion", ch->exclusion},
	    {NULL, NULL},
	};
	snprintf(pid, sizeof(pid), "%" PRId64, ctl_num(task, "project_id"));
	return ctl_call(c, "POST", "crontab/save", q, NULL);
}

/* Read the task back after a change, to show what is stored. */
static int show_saved(ctl_client *c, const ctl_globals *g, int64_t pid,
		      const char *task_id, const char *verb)
{
	char p[24];
	cJSON *task = NULL;
	int rc;
	snprintf(p, sizeof(p), "%" PRId64, pid);
	rc = ctl_task_find(c, p, task_id, &pid, &task);
	if (rc == CTL_OK)
		rc = print_task(g, task, verb);
	cJSON_Delete(task);
	return rc;
}

static int two_way(const char *cmd, bool on, bool off, const char *on_name,
		   const char *off_name, const char **out)
{
	if (on && off) {
		tool_err("gcronctl", "%s: %s and %s contradict each other", cmd,
			 on_name, off_name);
		return -1;
	}
	*out = on ? "1" : off ? "0" : NULL;
	return 0;
}

static int job_edit(ctl_client *c, const ctl_globals *g, int argc, char **argv)
{
	const char *project = NULL, *timeout = NULL;
	bool noseize = false, seize = false, excl = false, no_excl = false,
	     paused = false, active = false;
	struct changes ch = {0};
	ctl_opt opts[] = {
	    {"--project", 'p', &project, NULL},
	    {"--name", 'n', &ch.name, NULL},
	    {"--cron", 'c', &ch.cron, NULL},
	    {"--timeout", 0, &timeout, NULL},
	    {"--remark", 'r', &ch.remark, NULL},
	    {"--noseize", 0, NULL, &noseize},
	    {"--seize", 0, NULL, &seize},
	    {"--exclusion", 0, NULL, &excl},
	    {"--no-exclusion", 0, NULL, &no_excl},
	    {"--paused", 0, NULL, &paused},
	    {"--active", 0, NULL, &active},
	};
	ctl_pos pos;
	cJSON *task = NULL, *tasks = NULL;
	char *command = NULL, to[24], p[24];
	int64_t pid = 0;
	int rc = ctl_args("job edit", opts, sizeof(opts) / sizeof(opts[0]),
			  argc, argv, &pos);
	if (rc == CTL_HELP) {
		cmd_job_help(stdout);
		rc = CTL_OK;
		goto out;
	}
	if (rc ||
	    !ctl_nargs("job edit", &pos, 1, 1,
		       "JOB [-p PROJECT] [CHANGES] [-- COMMAND...]") ||
	    two_way("job edit", noseize, seize, "--noseize", "--seize",
		    &ch.noseize) ||
	    two_way("job edit", excl, no_excl, "--exclusion", "--no-exclusion",
		    &ch.exclusion) ||
	    two_way("job edit", active, paused, "--active", "--paused",
		    &ch.status) ||
	    (timeout && !parse_timeout("job edit", timeout, to)) ||
	    (pos.dashdash && !(command = join_command("job edit", &pos)))) {
		rc = CTL_USAGE;
		goto out;
	}
	ch.timeout = timeout ? to : NULL;
	ch.command = command;
	if (!ch.name && !ch.cron && !ch.remark && !ch.timeout && !ch.command &&
	    !ch.noseize && !ch.exclusion && !ch.status) {
		tool_err("gcronctl", "job edit: nothing to change (see "
				     "gcronctl job --help)");
		rc = CTL_USAGE;
		goto out;
	}
	rc = ctl_task_find(c, project, pos.v[0], &pid, &task);
	if (rc)
		goto out;
	if (ch.name) {
		snprintf(p, sizeof(p), "%" PRId64, pid);
		rc = ctl_task_list(c, pid, &tasks);
		if (rc)
			goto out;
		if (name_taken("job edit", tasks, ch.name,
			       ctl_str(task, "task_id"),
			       project ? project : p)) {
			rc = CTL_REFUSED;
			goto out;
		}
	}
	rc = save_changes(c, task, &ch);
	if (rc == CTL_OK)
		rc = show_saved(c, g, pid, ctl_str(task, "task_id"), "Updated");
out:
	free(command);
	cJSON_Delete(task);
	cJSON_Delete(tasks);
	ctl_pos_free(&pos);
	return rc;
}

/* ------------------------------------------ rm, pause, resume, run, kill */

/* Ids of the newest logs of a task (before a run-now), so that the run's
 * own log can be told apart. */
#define WAIT_PAGE 50

static int recent_log_ids(ctl_client *c, const char *pid_s, const char *tid,
			  cJSON **list)
{
	char size[8];
	ctl_param q[] = {{"project_id", pid_s},
			 {"task_id", tid},
			 {"pagesize", size},
			 {NULL, NULL}};
	cJSON *resp = NULL;
	int rc;
	snprintf(size, sizeof(size), "%d", WAIT_PAGE);
	*list = NULL;
	rc = ctl_call(c, "GET", "log/list", q, &resp);
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

static bool has_id(const cJSON *list, int64_t id)
{
	const cJSON *l;
	cJSON_ArrayForEach(l, list)
	{
		if (ctl_num(l, "id") == id)
			return true;
	}
	return false;
}

/* After a run-now: wait for the first log of the task that was not there
 * before, and print it like log show. */
static int wait_for_run(ctl_client *c, const ctl_globals *g, const char *pid_s,
			const cJSON *task, const cJSON *before, long long secs)
{
	const char *tid = ctl_str(task, "task_id");
	struct timespec start, now, nap = {0, 300 * 1000000L};
	cJSON *list = NULL, *l, *hit = NULL;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		rc = recent_log_ids(c, pid_s, tid, &list);
		if (rc)
			return rc;
		cJSON_ArrayForEach(l, list)
		{
			if (!has_id(before, ctl_num(l, "id")))
				hit = l;
		}
		if (hit)
			break;
		cJSON_Delete(list);
		list = NULL;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= secs) {
			tool_err("gcronctl",
				 "job run: no result of job %s within %lld s "
				 "(is an agent serving project %s? gcronctl "
				 "node ls -p %s)",
				 tid, secs, pid_s, pid_s);
			return CTL_REFUSED;
		}
		nanosleep(&nap, NULL);
	}
	/* A long output is listed as a preview: print the run whole. */
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(hit, "truncated"))) {
		cJSON *whole = NULL;
		rc = ctl_log_detail(c, 0, ctl_num(hit, "id"), &whole);
		if (rc) {
			cJSON_Delete(list);
			return rc;
		}
		cJSON_Delete(list);
		list = whole;
		hit = whole;
	}
	rc = ctl_run_print("job run", g->json, hit, false);
	if (rc == 0 && ctl_num(hit, "with_error"))
		rc = CTL_REFUSED; /* the run failed (its error is printed) */
	cJSON_Delete(list);
	return rc;
}

static int job_action(ctl_client *c, const ctl_globals *g, int argc,
		      char **argv, const char *action)
{
	const char *project = NULL, *wait_s = NULL;
	bool wait = false, run = !strcmp(action, "run");
	ctl_opt opts[] = {{"--project", 'p', &project, NULL},
			  {"--wait", 'w', NULL, &wait},
			  {"--wait-timeout", 0, &wait_s, NULL}};
	char cmd[32], pid_s[24];
	ctl_pos pos;
	cJSON *task = NULL, *before = NULL;
	int64_t pid = 0;
	long long wait_secs = 0;
	int rc;

	snprintf(cmd, sizeof(cmd), "job %s", action);
	rc = ctl_args(cmd, opts, run ? 3 : 1, argc, argv, &pos);
	if (rc == CTL_HELP) {
		cmd_job_help(stdout);
		rc = CTL_OK;
		goto out;
	}
	if (rc ||
	    !ctl_nargs(cmd, &pos, 1, 1,
		       run ? "JOB [-p PROJECT] [--wait [--wait-timeout "
			     "S]]"
			   : "JOB [-p PROJECT]") ||
	    (wait_s && !ctl_parse_int(cmd, "--wait-timeout", wait_s, 1,
				      31LL * 86400, &wait_secs))) {
		rc = CTL_USAGE;
		goto out;
	}
	wait = wait || wait_s;
	rc = ctl_task_find(c, project, pos.v[0], &pid, &task);
	if (rc)
		goto out;
	snprintf(pid_s, sizeof(pid_s), "%" PRId64, pid);
	if (wait) {
		/* Long enough for the run's own timeout, else ten minutes. */
		if (!wait_secs)
			wait_secs = ctl_num(task, "timeout") > 0
					? ctl_num(task, "timeout") + 60
					: 600;
		rc =
		    recent_log_ids(c, pid_s, ctl_str(task, "task_id"), &before);
		if (rc)
			goto out;
	}
	if (!strcmp(action, "pause") || !strcmp(action, "resume")) {
		struct changes ch = {0};
		ch.status = action[0] == 'p' ? "0" : "1";
		rc = save_changes(c, task, &ch);
	} else {
		ctl_param q[] = {{"project_id", pid_s},
				 {"task_id", ctl_str(task, "task_id")},
				 {NULL, NULL}};
		const char *path = !strcmp(action, "rm")    ? "crontab/delete"
				   : !strcmp(action, "run") ? "crontab/execute"
							    : "crontab/kill";
		rc = ctl_call(c, "POST", path, q, NULL);
	}
	if (rc)
		goto out;
	if (wait) {
		rc = wait_for_run(c, g, pid_s, task, before, wait_secs);
		goto out;
	}
	if (g->json) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "task_id", ctl_str(task, "task_id"));
		cJSON_AddNumberToObject(o, "project_id", (double)pid);
		cJSON_AddStringToObject(o, "name", ctl_str(task, "name"));
		cJSON_AddStringToObject(o, "action", action);
		ctl_json_print(o);
		cJSON_Delete(o);
	} else {
		const char *what = !strcmp(action, "rm")       ? "Deleted"
				   : !strcmp(action, "pause")  ? "Paused"
				   : !strcmp(action, "resume") ? "Resumed"
				   : !strcmp(action, "run")
				       ? "Asked the agents to run"
				       : "Asked the agents to kill the run "
					 "of";
		char *name = ctl_one_line(ctl_str(task, "name"),
					  strlen(ctl_str(task, "name")), 0);
		printf("%s job %s (%s) in project %" PRId64 "\n", what,
		       ctl_str(task, "task_id"), name ? name : "", pid);
		free(name);
	}
out:
	cJSON_Delete(task);
	cJSON_Delete(before);
	ctl_pos_free(&pos);
	return rc;
}

static int job_rm(ctl_client *c, const ctl_globals *g, int argc, char **argv)
{
	return job_action(c, g, argc, argv, "rm");
}

static int job_pause(ctl_client *c, const ctl_globals *g, int argc, char **argv)
{
	return job_action(c, g, argc, argv, "pause");
}

static int job_resume(ctl_client *c, const ctl_globals *g, int argc,
		      char **argv)
{
	return job_action(c, g, argc, argv, "resume");
}

static int job_run(ctl_client *c, const ctl_globals *g, int argc, char **argv)
{
	return job_action(c, g, argc, argv, "run");
}

static int job_kill(ctl_client *c, const ctl_globals *g, int argc, char **argv)
{
	return job_action(c, g, argc, argv, "kill");
}

static const ctl_sub subs[] = {
    {"ls", job_ls},	    {"list", job_ls},	 {"show", job_show},
    {"add", job_add},	    {"create", job_add}, {"edit", job_edit},
    {"rm", job_rm},	    {"delete", job_rm},	 {"pause", job_pause},
    {"resume", job_resume}, {"run", job_run},	 {"kill", job_kill},
};

int cmd_job(const ctl_globals *g, int argc, char **argv)
{
	return ctl_dispatch(
	    g, "job", subs, sizeof(subs) / sizeof(subs[0]), cmd_job_help,
	    "ls, show, add, edit, rm, pause, resume, run, kill", argc, argv);
}
