/* gcronctl: option parsing for subcommands, and reading secrets from the
 * terminal or stdin. */
#ifndef GCRONCTL_ARGS_H
#define GCRONCTL_ARGS_H

#include "commands.h"

#include <stddef.h>
#include <stdio.h>

/* Returned by ctl_args() when -h/--help was given: the caller prints its
 * help and exits 0. */
#define CTL_HELP (-1)

typedef struct ctl_opt {
	const char *name;   /* long spelling, "--project" */
	char short_name;    /* 'p' for -p, 0 for none */
	const char **value; /* takes a value, stored here (NULL: a flag) */
	bool *flag;	    /* set to true when the flag is given */
} ctl_opt;

typedef struct ctl_pos {
	char **v; /* positional arguments (options removed) */
	int n;
	char **rest; /* what followed "--" */
	int nrest;
	bool dashdash; /* "--" was given */
} ctl_pos;

/* Parse argv: options anywhere before "--" (--name VALUE, --name=VALUE,
 * -x VALUE, -xVALUE), positionals kept in order. `cmd` names the command
 * in messages ("job add"). Returns CTL_OK, CTL_HELP or CTL_USAGE (message
 * printed). pos->v must be freed with ctl_pos_free. */
int ctl_args(const char *cmd, const ctl_opt *opts, size_t nopts, int argc,
	     char **argv, ctl_pos *pos);
void ctl_pos_free(ctl_pos *pos);

/* Check the number of positionals; prints "cmd: usage: cmd USAGE" when
 * wrong. */
bool ctl_nargs(const char *cmd, const ctl_pos *pos, int min, int max,
	       const char *usage);

/* ctl_args then ctl_nargs, for a command whose -h prints `help`. True
 * when the command should go on; false with *rc set to its exit code
 * (CTL_OK after help, CTL_USAGE after a message). pos->v must be freed
 * with ctl_pos_free in either case. */
bool ctl_parse(const char *cmd, const ctl_opt *opts, size_t nopts, int argc,
	       char **argv, void (*help)(FILE *), int min, int max,
	       const char *usage, ctl_pos *pos, int *rc);

/* Strict non-negative integer in [min, max]; prints an error naming
 * `what` on failure. */
bool ctl_parse_int(const char *cmd, const char *what, const char *s,
		   long long min, long long max, long long *out);

/* Is stdin a terminal (and /dev/tty usable)? */
bool ctl_interactive(void);

/* Read a secret. From stdin (one line, newline stripped) when from_stdin,
 * else prompt on /dev/tty without echo. Returns a malloc'd string, or
 * NULL with a message printed. */
char *ctl_read_secret(const char *cmd, const char *prompt, bool from_stdin);
/* Read one line with echo from /dev/tty (NULL when there is none). */
char *ctl_read_line_tty(const char *prompt);
/* Ask "prompt [y/N] " on /dev/tty; true only for y/yes. */
bool ctl_confirm(const char *prompt);

/* Wipe and free a secret. */
void ctl_secret_free(char *s);

#endif
