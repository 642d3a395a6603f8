/* placeholder until the cron module lands */
#include "commands.h"

int cmd_cron(const ctl_globals *g, int argc, char **argv)
{
	(void)g;
	(void)argc;
	(void)argv;
	tool_err("gcronctl", "cron: not built yet");
	return CTL_USAGE;
}

void cmd_cron_help(FILE *out)
{
	fprintf(out, "gcronctl cron: not built yet\n");
}
