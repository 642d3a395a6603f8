/* gcronctl completion bash|zsh: print the completion script, which the
 * binary carries (assembler .incbin of completion.bash, as the service
 * does with the admin page; GC__CTL_DIR is the absolute path of
 * tools/gcronctl, so the object compiles from any directory). zsh gets
 * the same script through its bash compatibility (bashcompinit). */
#include "commands.h"

#include <string.h>

#ifndef GC__CTL_DIR
#error "define GC__CTL_DIR: the absolute path of tools/gcronctl"
#endif

__asm__(".pushsection .rodata\n"
	".globl ctl_completion_bash\n"
	".hidden ctl_completion_bash\n"
	".type ctl_completion_bash, @object\n"
	"ctl_completion_bash:\n"
	".incbin \"" GC__CTL_DIR "/completion.bash\"\n"
	".byte 0\n"
	".size ctl_completion_bash, . - ctl_completion_bash\n"
	".popsection\n");

extern const char ctl_completion_bash[] __attribute__((visibility("hidden")));

void cmd_completion_help(FILE *out)
{
	fprintf(out,
		"usage: gcronctl completion bash|zsh\n"
		"\n"
		"Prints the shell completion script: commands, options,\n"
		"and project and job names asked of the server.\n"
		"\n"
		"  source <(gcronctl completion bash)   # in ~/.bashrc\n"
		"  source <(gcronctl completion zsh)    # in ~/.zshrc\n");
}

int cmd_completion(const ctl_globals *g, int argc, char **argv)
{
	(void)g;
	if (argc == 1 && (!strcmp(argv[0], "-h") || !strcmp(argv[0], "--help"))) {
		cmd_completion_help(stdout);
		return CTL_OK;
	}
	if (argc != 1 || (strcmp(argv[0], "bash") && strcmp(argv[0], "zsh"))) {
		cmd_completion_help(stderr);
		return CTL_USAGE;
	}
	if (!strcmp(argv[0], "zsh"))
		fputs("# zsh: gcronctl's bash completion through bashcompinit\n"
		      "autoload -U +X compinit && compinit\n"
		      "autoload -U +X bashcompinit && bashcompinit\n",
		      stdout);
	fputs(ctl_completion_bash, stdout);
	return fflush(stdout) == 0 ? CTL_OK : CTL_REFUSED;
}
