/* Exit texts: how a run ended, in the words Go's os/exec uses and the
 * original reports ("exit status 3", "signal: killed", ...; see
 * include/gophercron/exec.h). */
#include "internal.h"

#include <gophercron/exec.h>

#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

/* Go's names for Linux signals (syscall.signals), which os/exec prints. */
static const char *go_signal_name(int sig)
{
	switch (sig) {
	case SIGHUP: return "hangup";
	case SIGINT: return "interrupt";
	case SIGQUIT: return "quit";
	case SIGILL: return "illegal instruction";
	case SIGTRAP: return "trace/breakpoint trap";
	case SIGABRT: return "aborted";
	case SIGBUS: return "bus error";
	case SIGFPE: return "floating point exception";
	case SIGKILL: return "killed";
	case SIGUSR1: return "user defined signal 1";
	case SIGSEGV: return "segmentation fault";
	case SIGUSR2: return "user defined signal 2";
	case SIGPIPE: return "broken pipe";
	case SIGALRM: return "alarm clock";
	case SIGTERM: return "terminated";
#ifdef SIGSTKFLT
	case SIGSTKFLT: return "stack fault";
#endif
	case SIGCHLD: return "child exited";
	case SIGCONT: return "continued";
	case SIGSTOP: return "stopped (signal)";
	case SIGTSTP: return "stopped";
	case SIGTTIN: return "stopped (tty input)";
	case SIGTTOU: return "stopped (tty output)";
	case SIGURG: return "urgent I/O condition";
	case SIGXCPU: return "CPU time limit exceeded";
	case SIGXFSZ: return "file size limit exceeded";
	case SIGVTALRM: return "virtual timer expired";
	case SIGPROF: return "profiling timer expired";
	case SIGWINCH: return "window changed";
	case SIGIO: return "I/O possible";
#ifdef SIGPWR
	case SIGPWR: return "power failure";
#endif
	case SIGSYS: return "bad system call";
	default: return NULL;
	}
}

GC_EXTERN void gc_exit_text(int st, char out[GC_EXIT_TEXT_MAX])
{
	if (WIFEXITED(st)) {
		int code = WEXITSTATUS(st);
		if (code == 0)
			out[0] = '\0';
		else if (code == 127)
			snprintf(out, GC_EXIT_TEXT_MAX, "%s", GC_RUN_ERR_NOT_FOUND);
		else
			snprintf(out, GC_EXIT_TEXT_MAX, "exit status %d", code);
	} else if (WIFSIGNALED(st)) {
		const char *name = go_signal_name(WTERMSIG(st));
		const char *core = WCOREDUMP(st) ? " (core dumped)" : "";
		if (name)
			snprintf(out, GC_EXIT_TEXT_MAX, "signal: %s%s", name, core);
		else
			snprintf(out, GC_EXIT_TEXT_MAX, "signal: signal %d%s",
				 WTERMSIG(st), core);
	} else {
		snprintf(out, GC_EXIT_TEXT_MAX, "unknown wait status %d", st);
	}
}
