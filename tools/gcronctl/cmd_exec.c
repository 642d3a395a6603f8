/* placeholder until the exec module lands */
#include "commands.h"

int cmd_exec(const ctl_globals *g, int argc, char **argv)
{
	(void)g;
	(void)argc;
	(void)argv;
	tool_err("gcronctl", "exec: not built yet");
	return CTL_USAGE;
}

void cmd_exec_help(FILE *out)
{
	fprintf(out, "gcronctl exec: not built yet\n");
}
