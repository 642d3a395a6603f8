/* gcronctl command groups: one file per group, each exporting a run
 * function taking the arguments after the group name. */
#ifndef GCRONCTL_COMMANDS_H
#define GCRONCTL_COMMANDS_H

#include "tool.h"

/* Exit codes: 0 success, 1 the server refused, 2 usage error,
 * 3 cannot reach the server. */
enum { CTL_OK = 0, CTL_REFUSED = 1, CTL_USAGE = 2, CTL_UNREACHABLE = 3 };

/* Global options parsed by main() before the group name. */
typedef struct ctl_globals {
	const char *server; /* -s URL / GCRON_SERVER / config */
	bool json;          /* --json */
} ctl_globals;

typedef struct ctl_command {
	const char *name;
	const char *summary;
	int (*run)(const ctl_globals *g, int argc, char **argv);
	void (*help)(FILE *out);
} ctl_command;

int cmd_completion(const ctl_globals *g, int argc, char **argv);
void cmd_completion_help(FILE *out);
int cmd_cron(const ctl_globals *g, int argc, char **argv);
void cmd_cron_help(FILE *out);
int cmd_exec(const ctl_globals *g, int argc, char **argv);
void cmd_exec_help(FILE *out);
int cmd_login(const ctl_globals *g, int argc, char **argv);
void cmd_login_help(FILE *out);
int cmd_logout(const ctl_globals *g, int argc, char **argv);
void cmd_logout_help(FILE *out);
int cmd_whoami(const ctl_globals *g, int argc, char **argv);
void cmd_whoami_help(FILE *out);
int cmd_project(const ctl_globals *g, int argc, char **argv);
void cmd_project_help(FILE *out);
int cmd_job(const ctl_globals *g, int argc, char **argv);
void cmd_job_help(FILE *out);
int cmd_log(const ctl_globals *g, int argc, char **argv);
void cmd_log_help(FILE *out);
int cmd_node(const ctl_globals *g, int argc, char **argv);
void cmd_node_help(FILE *out);
int cmd_user(const ctl_globals *g, int argc, char **argv);
void cmd_user_help(FILE *out);

#endif
