/* gcron-agent: placeholder main until its module lands. */
#include "tool.h"

#include <string.h>

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (tool_flag(argv[i], "-h", "--help")) {
			printf("usage: gcron-agent [-c CONFIG]\n");
			return 0;
		}
		if (tool_flag(argv[i], "-V", "--version")) {
			tool_print_version("gcron-agent");
			return 0;
		}
	}
	tool_err("gcron-agent", "not built yet");
	return 2;
}
