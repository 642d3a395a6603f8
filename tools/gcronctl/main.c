/* gcronctl: the operator's command line. */
#include "commands.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

static const ctl_command commands[] = {
	{"login", "log in and keep the token", cmd_login, cmd_login_help},
	{"logout", "forget the kept token", cmd_logout, cmd_logout_help},
	{"whoami", "show the logged-in account", cmd_whoami, cmd_whoami_help},
	{"project", "projects and their members", cmd_project,
	 cmd_project_help},
	{"job", "jobs: list, add, edit, run, kill, ...", cmd_job,
	 cmd_job_help},
	{"log", "run logs and their output", cmd_log, cmd_log_help},
	{"node", "agents serving your projects", cmd_node, cmd_node_help},
	{"user", "accounts and passwords", cmd_user, cmd_user_help},
	{"cron", "cron expressions: next fire times", cmd_cron, cmd_cron_help},
	{"exec", "run one command through the executor", cmd_exec,
	 cmd_exec_help},
	{"completion", "print the bash or zsh completion script",
	 cmd_completion, cmd_completion_help},
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: gcronctl [-s URL] [--json] COMMAND [ARGS...]\n"
		"\n"
		"Options:\n"
		"  -s, --server URL   gcron-service URL (default "
		"$GCRON_SERVER, then the\n"
		"                     server of the last login)\n"
		"      --json         machine-readable output\n"
		"  -h, --help         this help; `gcronctl help COMMAND`\n"
		"  -V, --version      print the version\n"
		"\nCommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name,
			commands[i].summary);
}

static const ctl_command *find(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

int main(int argc, char **argv)
{
	ctl_globals g = {getenv("GCRON_SERVER"), false};
	int i;
	const ctl_command *c;

	signal(SIGPIPE, SIG_IGN);
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (tool_flag(argv[i], "-h", "--help")) {
			usage(stdout);
			return CTL_OK;
		} else if (tool_flag(argv[i], "-V", "--version")) {
			tool_print_version("gcronctl");
			return CTL_OK;
		} else if (tool_flag(argv[i], "--json", NULL)) {
			g.json = true;
		} else if (tool_flag(argv[i], "-s", "--server")) {
			if (++i >= argc) {
				tool_err("gcronctl", "%s needs a URL",
					 argv[i - 1]);
				return CTL_USAGE;
			}
			g.server = argv[i];
		} else {
			tool_err("gcronctl", "unknown option '%s' (see "
					     "gcronctl --help)",
				 argv[i]);
			return CTL_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return CTL_USAGE;
	}
	if (strcmp(argv[i], "help") == 0) {
		if (i + 1 < argc && (c = find(argv[i + 1]))) {
			c->help(stdout);
			return CTL_OK;
		}
		usage(stdout);
		return i + 1 < argc ? CTL_USAGE : CTL_OK;
	}
	c = find(argv[i]);
	if (!c) {
		tool_err("gcronctl", "unknown command '%s' (see gcronctl "
				     "--help)",
			 argv[i]);
		return CTL_USAGE;
	}
	return c->run(&g, argc - i - 1, argv + i + 1);
}
