/* gcronctl exec: run one command through the executor, exactly as an agent
 * would run a task, and print the TaskExecuteResult JSON it would report.
 *
 *   gcronctl exec [--timeout S] [--output-limit BYTES] [--shell PATH]
 *                 [--kill-grace MS] [--workdir DIR] [--name NAME]
 *                 [--project ID] [--task-id ID] [--ip IP] -- COMMAND...
 */
#include "commands.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#define PROG "gcronctl exec"
#define EXIT_TIMEOUT 124
#define EXIT_NOSTART 127

void cmd_exec_help(FILE *out)
{
	fprintf(out,
		"usage: gcronctl exec [OPTIONS] -- COMMAND...\n"
		"\n"
		"Run COMMAND with `SHELL -c` through the executor the agent "
		"uses (own process\n"
		"group, stdin /dev/null, stdout+stderr captured in order, "
		"capped) and print\n"
		"the TaskExecuteResult JSON an agent would report for it.\n"
		"\n"
		"  --timeout S           kill the run after S seconds "
		"(fractions allowed; 0 = none)\n"
		"  --output-limit BYTES  keep at most BYTES of output (head "
		"and tail; default %d)\n"
		"  --shell PATH          shell to run COMMAND with (default "
		"%s)\n"
		"  --kill-grace MS       SIGTERM -> SIGKILL grace (default "
		"%d)\n"
		"  --workdir DIR         run in DIR\n"
		"  --name NAME, --project ID, --task-id ID, --ip IP\n"
		"                        task identity for the report and the "
		"GOPHERCRON_*\n"
		"                        environment variables\n"
		"\n"
		"Exit status: the command's exit status; 128+N if it died by "
		"signal N;\n"
		"124 on timeout; 128+N if gcronctl got signal N (INT, TERM, "
		"HUP) and killed\n"
		"the run; 127 if the shell could not be started; 2 on a usage "
		"error.\n",
		GC_EXEC_DEFAULT_OUTPUT_LIMIT, GC_EXEC_DEFAULT_SHELL,
		GC_EXEC_DEFAULT_KILL_GRACE_MS);
}

struct exec_state {
	gc_exec_outcome out;
	int done;
};

static void on_done(gc_exec_outcome *o, void *payload)
{
	struct exec_state *st = payload;
	st->out = *o;
	o->output = NULL; /* keep it */
	st->done = 1;
}

static int need_value(int argc, char **argv, int i)
{
	if (i + 1 >= argc) {
		tool_err(PROG, "%s needs a value", argv[i]);
		return 0;
	}
	return 1;
}

static int parse_nonneg(const char *flag, const char *s, long long *out)
{
	if (!tool_parse_long(s, out) || *out < 0) {
		tool_err(PROG, "%s: '%s' is not a non-negative integer", flag, s);
		return 0;
	}
	return 1;
}

/* Wait for the run, killing it when gcronctl itself is told to stop. */
static int wait_run(gc_exec *ex, uint64_t handle, struct exec_state *st,
		    int sfd, int *got_signal)
{
	gc_error err;
	while (!st->done) {
		struct pollfd pfd[2] = {{gc_exec_fd(ex), POLLIN, 0},
					{sfd, POLLIN, 0}};
		int rc = poll(pfd, sfd >= 0 ? 2 : 1, gc_exec_timeout_ms(ex));
		if (rc < 0 && errno != EINTR) {
			tool_err(PROG, "poll: %s", strerror(errno));
			return -1;
		}
		if (sfd >= 0 && rc > 0 && (pfd[1].revents & POLLIN)) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si) &&
			    !*got_signal) {
				*got_signal = (int)si.ssi_signo;
				gc_exec_kill(ex, handle);
			}
		}
		if (gc_exec_step(ex, &err) < 0) {
			tool_err(PROG, "%s", err.msg);
			return -1;
		}
	}
	return 0;
}

int cmd_exec(const ctl_globals *g, int argc, char **argv)
{
	gc_exec_request req = GC_EXEC_REQUEST_INIT;
	gc_exec_options opts = GC_EXEC_OPTIONS_INIT;
	struct exec_state st;
	gc_result res = GC_RESULT_INIT;
	gc_exec *ex = NULL;
	gc_error err = {0, ""};
	char *command = NULL, *json;
	const char *name = "gcronctl-exec", *task_id = "", *ip = "";
	long long project = 0, v;
	double timeout_s = 0;
	uint64_t handle = 0;
	size_t clen = 0;
	int i, rc, sfd = -1, got_signal = 0, status;
	sigset_t stop_sigs, old_mask;
	(void)g;

	for (i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		} else if (tool_flag(a, "-h", "--help")) {
			cmd_exec_help(stdout);
			return CTL_OK;
		} else if (strcmp(a, "--timeout") == 0) {
			char *end;
			if (!need_value(argc, argv, i))
				return CTL_USAGE;
			errno = 0;
			timeout_s = strtod(argv[++i], &end);
			if (errno || *end || end == argv[i] || !(timeout_s >= 0) ||
			    timeout_s > 1e9) {
				tool_err(PROG, "--timeout: '%s' is not a number of "
					       "seconds",
					 argv[i]);
				return CTL_USAGE;
			}
			req.timeout_ms = (int64_t)ceil(timeout_s * 1000);
		} else if (strcmp(a, "--output-limit") == 0) {
			if (!need_value(argc, argv, i) ||
			    !parse_nonneg(a, argv[++i], &v))
				return CTL_USAGE;
			req.output_limit = (size_t)v;
		} else if (strcmp(a, "--kill-grace") == 0) {
			if (!need_value(argc, argv, i) ||
			    !parse_nonneg(a, argv[++i], &v))
				return CTL_USAGE;
			req.kill_grace_ms = v;
		} else if (strcmp(a, "--shell") == 0) {
			if (!need_value(argc, argv, i))
				return CTL_USAGE;
			req.shell = argv[++i];
		} else if (strcmp(a, "--workdir") == 0) {
			if (!need_value(argc, argv, i))
				return CTL_USAGE;
			req.workdir = argv[++i];
		} else if (strcmp(a, "--name") == 0) {
			if (!need_value(argc, argv, i))
				return CTL_USAGE;
			name = argv[++i];
		} else if (strcmp(a, "--task-id") == 0) {
			if (!need_value(argc, argv, i))
				return CTL_USAGE;
			task_id = argv[++i];
		} else if (strcmp(a, "--ip") == 0) {
			if (!need_value(argc, argv, i))
				return CTL_USAGE;
			ip = argv[++i];
		} else if (strcmp(a, "--project") == 0) {
			if (!need_value(argc, argv, i) ||
			    !parse_nonneg(a, argv[++i], &project))
				return CTL_USAGE;
		} else if (a[0] == '-') {
			tool_err(PROG, "unknown option '%s' (see gcronctl help "
				       "exec)",
				 a);
			return CTL_USAGE;
		} else {
			break; /* COMMAND without "--" */
		}
	}
	if (i >= argc) {
		tool_err(PROG, "no command given (gcronctl exec [OPTIONS] -- "
			       "COMMAND...)");
		return CTL_USAGE;
	}
	/* COMMAND... joined with spaces, as `sh -c "$*"` would see it */
	for (int k = i; k < argc; k++)
		clen += strlen(argv[k]) + 1;
	if (!(command = malloc(clen))) {
		tool_err(PROG, "out of memory");
		return CTL_REFUSED;
	}
	clen = 0;
	for (int k = i; k < argc; k++) {
		size_t n = strlen(argv[k]);
		if (k > i)
			command[clen++] = ' ';
		memcpy(command + clen, argv[k], n);
		clen += n;
	}
	command[clen] = '\0';

	/* the task snapshot the report carries */
	res.task.task_id = strdup(task_id);
	res.task.name = strdup(name);
	res.task.project_id = project;
	res.task.command = strdup(command);
	res.task.cron = strdup("");
	res.task.remark = strdup("");
	res.task.timeout = (int64_t)ceil(timeout_s);
	res.task.create_time = (int64_t)time(NULL);
	res.task.status = 1;
	res.task.client_ip = strdup(ip);
	{
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		res.real_time_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
		res.plan_time_ns = (int64_t)ts.tv_sec * 1000000000;
	}
	res.run_id = gc_run_id(project, task_id, res.plan_time_ns / 1000000000,
			       ip);
	if (!res.task.task_id || !res.task.name || !res.task.command ||
	    !res.task.cron || !res.task.remark || !res.task.client_ip ||
	    !res.run_id) {
		tool_err(PROG, "out of memory");
		gc_result_clear(&res);
		free(command);
		return CTL_REFUSED;
	}
	req.command = command;
	req.project_id = project;
	req.task_id = *task_id ? task_id : NULL;
	req.task_name = name;
	req.plan_unix = res.plan_time_ns / 1000000000;
	req.agent_ip = *ip ? ip : NULL;
	req.run_id = res.run_id;

	/* INT/TERM/HUP kill the run (its own session does not get them from
	 * the terminal) and are then reported as the exit status */
	sigemptyset(&stop_sigs);
	sigaddset(&stop_sigs, SIGINT);
	sigaddset(&stop_sigs, SIGTERM);
	sigaddset(&stop_sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &stop_sigs, &old_mask);
	sfd = signalfd(-1, &stop_sigs, SFD_CLOEXEC | SFD_NONBLOCK);

	memset(&st, 0, sizeof(st));
	opts.on_done = on_done;
	opts.payload = &st;
	rc = gc_exec_new(&ex, &opts, &err);
	if (rc == 0)
		rc = gc_exec_start(&handle, ex, &req, &err);
	if (rc == GC_ESYS && ex) {
		/* could not start the shell: report it as the agent would */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		res.start_time_ns = res.end_time_ns =
			(int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
		res.error = strdup(err.msg);
		res.output = strdup("");
		status = EXIT_NOSTART;
	} else if (rc) {
		tool_err(PROG, "%s", err.msg);
		status = rc == GC_EINVAL ? CTL_USAGE : CTL_REFUSED;
		goto out;
	} else {
		if (wait_run(ex, handle, &st, sfd, &got_signal)) {
			status = CTL_REFUSED;
			goto out;
		}
		if (gc_result_outcome_take(&res, &st.out)) {
			tool_err(PROG, "out of memory");
			status = CTL_REFUSED;
			goto out;
		}
		if (got_signal)
			status = 128 + got_signal;
		else if (st.out.reason == GC_EXEC_TIMEOUT)
			status = EXIT_TIMEOUT;
		else if (st.out.reason == GC_EXEC_SIGNALED)
			status = 128 + st.out.term_signal;
		else
			status = st.out.exit_code;
	}
	json = gc_result_to_json(&res);
	if (!json) {
		tool_err(PROG, "out of memory");
		status = CTL_REFUSED;
		goto out;
	}
	printf("%s\n", json);
	gc_free(json);
	if (fflush(stdout) != 0) {
		tool_err(PROG, "writing the result: %s", strerror(errno));
		status = CTL_REFUSED;
	}
out:
	gc_exec_free(ex);
	gc_exec_outcome_clear(&st.out);
	gc_result_clear(&res);
	if (sfd >= 0)
		close(sfd);
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	free(command);
	return status;
}
