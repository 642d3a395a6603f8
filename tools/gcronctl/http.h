/* gcronctl: a small client for gcron-service's REST API.
 *
 * Every call answers one of the exit codes of commands.h and prints its
 * own error message ("gcronctl: CMD: ..."):
 *   CTL_OK           meta.code 0
 *   CTL_REFUSED      the server answered with an error (meta.msg printed;
 *                    401 adds "token expired or invalid: run gcronctl
 *                    login"), or with something that is not the API's
 *                    envelope
 *   CTL_UNREACHABLE  connection refused, DNS failure, timeout, TLS error,
 *                    a gateway's 502/503/504
 *   CTL_USAGE        no server configured, or a malformed server URL */
#ifndef GCRONCTL_HTTP_H
#define GCRONCTL_HTTP_H

#include "commands.h"
#include "config.h"

#include <cJSON.h>
#include <stdint.h>

typedef struct ctl_client {
	const char *cmd;   /* "job add", for messages */
	char *server;	   /* base URL, no trailing slash */
	char *token;	   /* NULL when not logged in */
	char *account;	   /* the account the token belongs to, if known */
	ctl_config config; /* loaded config file */
	void *curl;	   /* CURL *, made on first use */
	long timeout_s;
	bool quiet; /* ctl_call prints no error message */
} ctl_client;

/* A request parameter; arrays end with {NULL, NULL}. A NULL value in the
 * middle is skipped (an option left out). */
typedef struct ctl_param {
	const char *key;
	const char *value;
} ctl_param;

/* Server URL from -s, else GCRON_SERVER (both already in g->server), else
 * the config file; the token from GCRON_TOKEN, else the config file's
 * entry for that server. Returns CTL_OK or CTL_USAGE (message printed). */
int ctl_client_init(ctl_client *c, const ctl_globals *g, const char *cmd);
void ctl_client_cleanup(ctl_client *c);

/* "http://h:p" from "h:p" or "http://h:p/"; NULL (and a message) for a
 * scheme other than http/https. */
char *ctl_normalize_server(const char *cmd, const char *url);

/* Call METHOD /api/v1/PATH. GET sends the parameters as a query string,
 * POST as a form body. On CTL_OK, *response (may be NULL) receives the
 * envelope's "response" (caller frees with cJSON_Delete; may be a JSON
 * null). */
int ctl_call(ctl_client *c, const char *method, const char *path,
	     const ctl_param *params, cJSON **response);

/* A subcommand of a group ("job add"): runs with a ready client. */
typedef int (*ctl_sub_fn)(ctl_client *c, const ctl_globals *g, int argc,
			  char **argv);
typedef struct ctl_sub {
	const char *name;
	ctl_sub_fn fn;
} ctl_sub;

/* Run argv[0] of `group` from `subs` (help, -h and --help anywhere before
 * "--" print `help` without needing a server). `names` lists the
 * subcommands for the unknown-command message. */
int ctl_dispatch(const ctl_globals *g, const char *group, const ctl_sub *subs,
		 size_t n, void (*help)(FILE *out), const char *names, int argc,
		 char **argv);

/* ------------------------------------------------------------- lookups */

/* Number member of an object (0 when missing). */
int64_t ctl_num(const cJSON *o, const char *key);
/* String member of an object ("" when missing). */
const char *ctl_str(const cJSON *o, const char *key);

/* Find a project by id or title among those the caller can see. On CTL_OK
 * *pid is set and *project (if not NULL) receives the project object
 * {project_id, uid, title, remark, task_count}. */
int ctl_project_find(ctl_client *c, const char *which, int64_t *pid,
		     cJSON **project);
/* The project list (an array), for lookups by id. */
int ctl_project_list(ctl_client *c, cJSON **list);

/* The tasks of a project: an array of TaskInfo objects. */
int ctl_task_list(ctl_client *c, int64_t pid, cJSON **list);
/* Run `id` whole from GET log/detail (of project `pid` when not 0); the
 * service answers 404 "log N not found" for a run the caller cannot see.
 * *log: the log record, to cJSON_Delete. */
int ctl_log_detail(ctl_client *c, int64_t pid, int64_t id, cJSON **log);

/* Find JOB (task id, or a name unique in the project) in project `which`
 * (id or title); with `which` NULL, search every visible project. On
 * CTL_OK *task receives the TaskInfo and *pid its project. Unknown or
 * ambiguous names are CTL_REFUSED with a message listing the ids. */
int ctl_task_find(ctl_client *c, const char *which, const char *job,
		  int64_t *pid, cJSON **task);

#endif
