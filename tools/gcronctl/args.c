/* gcronctl: subcommand option parsing and secret input. */
#include "args.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <unistd.h>

#define LINE_MAX_ 4096 /* longest secret or answer we read */

static const ctl_opt *find_long(const ctl_opt *opts, size_t n, const char *name,
				size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(opts[i].name) == len &&
		    strncmp(opts[i].name, name, len) == 0)
			return &opts[i];
	return NULL;
}

static const ctl_opt *find_short(const ctl_opt *opts, size_t n, char c)
{
	for (size_t i = 0; i < n; i++)
		if (opts[i].short_name && opts[i].short_name == c)
			return &opts[i];
	return NULL;
}

int ctl_args(const char *cmd, const ctl_opt *opts, size_t nopts, int argc,
	     char **argv, ctl_pos *pos)
{
	memset(pos, 0, sizeof(*pos));
	pos->v = calloc((size_t)argc + 1, sizeof(*pos->v));
	if (!pos->v) {
		tool_err("gcronctl", "%s: out of memory", cmd);
		return CTL_USAGE;
	}
	for (int i = 0; i < argc; i++) {
		char *a = argv[i];
		const ctl_opt *o = NULL;
		const char *val = NULL;

		if (strcmp(a, "--") == 0) {
			pos->dashdash = true;
			pos->rest = argv + i + 1;
			pos->nrest = argc - i - 1;
			return CTL_OK;
		}
		if (tool_flag(a, "-h", "--help"))
			return CTL_HELP;
		if (a[0] != '-' || a[1] == '\0') {
			pos->v[pos->n++] = a;
			continue;
		}
		if (a[1] == '-') {
			const char *eq = strchr(a, '=');
			size_t len = eq ? (size_t)(eq - a) : strlen(a);
			o = find_long(opts, nopts, a, len);
			if (o && eq) {
				if (!o->value) {
					tool_err("gcronctl",
						 "%s: %.*s takes no value", cmd,
						 (int)len, a);
					return CTL_USAGE;
				}
				val = eq + 1;
			}
		} else {
			o = find_short(opts, nopts, a[1]);
			if (o && a[2] != '\0') {
				if (!o->value) {
					tool_err("gcronctl",
						 "%s: -%c takes no value", cmd,
						 a[1]);
					return CTL_USAGE;
				}
				val = a + 2;
			}
		}
		if (!o) {
			tool_err("gcronctl",
				 "%s: unknown option '%s' (see gcronctl %s "
				 "--help)",
				 cmd, a, cmd);
			return CTL_USAGE;
		}
		if (o->value) {
			if (!val) {
				if (i + 1 >= argc) {
					tool_err("gcronctl",
						 "%s: %s needs a value", cmd,
						 a);
					return CTL_USAGE;
				}
				val = argv[++i];
			}
			*o->value = val;
		} else if (o->flag) {
			*o->flag = true;
		}
	}
	return CTL_OK;
}

void ctl_pos_free(ctl_pos *pos)
{
	free(pos->v);
	memset(pos, 0, sizeof(*pos));
}

bool ctl_parse(const char *cmd, const ctl_opt *opts, size_t nopts, int argc,
	       char **argv, void (*help)(FILE *), int min, int max,
	       const char *usage, ctl_pos *pos, int *rc)
{
	int r = ctl_args(cmd, opts, nopts, argc, argv, pos);
	if (r == CTL_HELP) {
		help(stdout);
		*rc = CTL_OK;
		return false;
	}
	if (r || !ctl_nargs(cmd, pos, min, max, usage)) {
		*rc = CTL_USAGE;
		return false;
	}
	*rc = CTL_OK;
	return true;
}

bool ctl_nargs(const char *cmd, const ctl_pos *pos, int min, int max,
	       const char *usage)
{
	if (pos->n >= min && pos->n <= max)
		return true;
	if (pos->n < min)
		tool_err("gcronctl",
			 "%s: missing argument; usage: gcronctl "
			 "%s %s",
			 cmd, cmd, usage);
	else
		tool_err("gcronctl",
			 "%s: unexpected argument '%s'; usage: gcronctl %s %s",
			 cmd, pos->v[max], cmd, usage);
	return false;
}

bool ctl_parse_int(const char *cmd, const char *what, const char *s,
		   long long min, long long max, long long *out)
{
	if (!tool_parse_long(s, out) || *out < min || *out > max) {
		tool_err("gcronctl",
			 "%s: %s \"%s\" is not a number from %lld "
			 "to %lld",
			 cmd, what, s, min, max);
		return false;
	}
	return true;
}

/* ------------------------------------------------------------ secrets */

static int tty_fd = -1;
static struct termios tty_saved;
static volatile sig_atomic_t tty_echo_off;

/* Ctrl-C at a password prompt must not leave the terminal without echo. */
static void restore_tty_and_die(int sig)
{
	if (tty_echo_off)
		tcsetattr(tty_fd, TCSAFLUSH, &tty_saved);
	signal(sig, SIG_DFL);
	raise(sig);
}

bool ctl_interactive(void)
{
	int fd;
	if (!isatty(STDIN_FILENO))
		return false;
	fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* Read one line from fd into a malloc'd string, byte by byte (a terminal
 * delivers lines; nothing is read past the newline). */
static char *read_fd_line(int fd, bool *eof)
{
	char *s = malloc(LINE_MAX_ + 1);
	size_t n = 0;
	*eof = false;
	if (!s)
		return NULL;
	for (;;) {
		char ch;
		ssize_t r = read(fd, &ch, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			*eof = n == 0;
			break;
		}
		if (ch == '\n')
			break;
		if (n < LINE_MAX_)
			s[n++] = ch;
	}
	if (n && s[n - 1] == '\r')
		n--;
	s[n] = '\0';
	return s;
}

static bool write_prompt(const char *prompt)
{
	return write(tty_fd, prompt, strlen(prompt)) >= 0;
}

static char *tty_prompt(const char *prompt, bool echo)
{
	struct termios t;
	struct sigaction sa, old_int, old_term, old_hup;
	char *line;
	bool eof;

	tty_fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (tty_fd < 0)
		return NULL;
	if (!echo && tcgetattr(tty_fd, &tty_saved) == 0) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = restore_tty_and_die;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, &old_int);
		sigaction(SIGTERM, &sa, &old_term);
		sigaction(SIGHUP, &sa, &old_hup);
		t = tty_saved;
		t.c_lflag &= ~(tcflag_t)ECHO;
		t.c_lflag |= ECHONL;
		tty_echo_off = 1;
		/* Echo goes off before the prompt shows, so nothing typed
		 * after it is echoed or flushed away. */
		tcsetattr(tty_fd, TCSAFLUSH, &t);
		line = write_prompt(prompt) ? read_fd_line(tty_fd, &eof) : NULL;
		tcsetattr(tty_fd, TCSAFLUSH, &tty_saved);
		tty_echo_off = 0;
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
		sigaction(SIGHUP, &old_hup, NULL);
	} else {
		line = write_prompt(prompt) ? read_fd_line(tty_fd, &eof) : NULL;
	}
	close(tty_fd);
	tty_fd = -1;
	if (line && eof) {
		free(line);
		return NULL;
	}
	return line;
}

char *ctl_read_line_tty(const char *prompt)
{
	return tty_prompt(prompt, true);
}

char *ctl_read_secret(const char *cmd, const char *prompt, bool from_stdin)
{
	char *line = NULL;
	if (from_stdin) {
		size_t cap = 0;
		ssize_t n = getline(&line, &cap, stdin);
		if (n < 0) {
			free(line);
			tool_err("gcronctl", "%s: no password on stdin", cmd);
			return NULL;
		}
		if (n && line[n - 1] == '\n')
			line[--n] = '\0';
		if (n && line[n - 1] == '\r')
			line[--n] = '\0';
		return line;
	}
	if (!ctl_interactive()) {
		tool_err("gcronctl",
			 "%s: no terminal to ask for the password on: use "
			 "--password-stdin",
			 cmd);
		return NULL;
	}
	line = tty_prompt(prompt, false);
	if (!line)
		tool_err("gcronctl", "%s: no password entered", cmd);
	return line;
}

bool ctl_confirm(const char *prompt)
{
	char *ans = tty_prompt(prompt, true);
	bool yes = ans && (strcmp(ans, "y") == 0 || strcmp(ans, "Y") == 0 ||
			   strcasecmp(ans, "yes") == 0);
	free(ans);
	return yes;
}

void ctl_secret_free(char *s)
{
	if (!s)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}
