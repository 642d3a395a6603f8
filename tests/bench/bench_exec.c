/* Executor throughput: runs per second of `true`.
 *
 *   bench_exec RUNS N [IN_FLIGHT]
 *
 * Prints one tab-separated line per variant: name, median runs/second over
 * RUNS repetitions of N runs each, the slowest/fastest repetition, and the
 * median CPU time (user+system) this process spent per run -- the cost of
 * starting, watching and reaping a run, which a loaded machine disturbs
 * far less than the wall-clock rate.
 * Variants, interleaved per repetition so load drifts hit all alike:
 *   bare_true      posix_spawn("/bin/true") + waitpid, one at a time: the
 *                  physical floor of starting a process here;
 *   bare_sh        posix_spawn("/bin/sh -c true") + waitpid, one at a time:
 *                  the same work the executor does, without the executor;
 *   exec_seq       gc_exec with `true` (run as /bin/sh -c true), one in
 *                  flight: what a run costs through the executor (session,
 *                  pipe, pidfd, epoll, capture, env, reaping);
 *   exec_par       the same with IN_FLIGHT (default 16) runs in flight.
 */
#include <gophercron.h>

#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double bare(char *const argv[], int n)
{
	double t0 = now_s();
	for (int i = 0; i < n; i++) {
		pid_t pid;
		int st, rc = posix_spawn(&pid, argv[0], NULL, NULL, argv,
					 environ);
		if (rc) {
			fprintf(stderr, "posix_spawn: %s\n", strerror(rc));
			exit(1);
		}
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "%s failed\n", argv[0]);
			exit(1);
		}
	}
	return n / (now_s() - t0);
}

struct counter {
	int done, failed;
};

static void on_done(gc_exec_outcome *o, void *payload)
{
	struct counter *c = payload;
	c->done++;
	if (o->reason != GC_EXEC_EXITED || o->exit_code != 0)
		c->failed++;
}

static double through_exec(int n, int in_flight)
{
	gc_exec_options opts = GC_EXEC_OPTIONS_INIT;
	gc_exec_request req = GC_EXEC_REQUEST_INIT;
	struct counter c = {0, 0};
	gc_error err;
	gc_exec *ex;
	int started = 0;
	double t0;
	opts.on_done = on_done;
	opts.payload = &c;
	if (gc_exec_new(&ex, &opts, &err)) {
		fprintf(stderr, "gc_exec_new: %s\n", err.msg);
		exit(1);
	}
	req.command = "true";
	t0 = now_s();
	while (c.done < n) {
		while (started < n && started - c.done < in_flight) {
			if (gc_exec_start(ex, &req, NULL, &err)) {
				fprintf(stderr, "gc_exec_start: %s\n", err.msg);
				exit(1);
			}
			started++;
		}
		if (gc_exec_poll(ex, -1, &err) < 0) {
			fprintf(stderr, "gc_exec_poll: %s\n", err.msg);
			exit(1);
		}
	}
	t0 = now_s() - t0;
	gc_exec_free(ex);
	if (c.failed) {
		fprintf(stderr, "%d runs failed\n", c.failed);
		exit(1);
	}
	return n / t0;
}

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	enum { V_TRUE, V_SH, V_SEQ, V_PAR, NV };
	static const char *names[NV] = {"bare_true", "bare_sh", "exec_seq",
					"exec_par"};
	char *true_argv[] = {(char *)"/bin/true", NULL};
	char *sh_argv[] = {(char *)"/bin/sh", (char *)"-c", (char *)"true",
			   NULL};
	int runs, n, in_flight;
	double *rate[NV], *cpu[NV], c0;
	if (argc < 3 || (runs = atoi(argv[1])) < 1 || (n = atoi(argv[2])) < 1) {
		fprintf(stderr, "usage: bench_exec RUNS N [IN_FLIGHT]\n");
		return 2;
	}
	in_flight = argc > 3 ? atoi(argv[3]) : 16;
	if (in_flight < 1)
		in_flight = 1;
	for (int v = 0; v < NV; v++) {
		rate[v] = calloc((size_t)runs, sizeof(double));
		cpu[v] = calloc((size_t)runs, sizeof(double));
	}
	/* warm up caches (page cache, dynamic loader) once */
	bare(sh_argv, 20);
	through_exec(20, 1);
	for (int r = 0; r < runs; r++) {
		for (int v = 0; v < NV; v++) {
			c0 = cpu_s();
			switch (v) {
			case V_TRUE: rate[v][r] = bare(true_argv, n); break;
			case V_SH: rate[v][r] = bare(sh_argv, n); break;
			case V_SEQ: rate[v][r] = through_exec(n, 1); break;
			default: rate[v][r] = through_exec(n, in_flight);
			}
			cpu[v][r] = (cpu_s() - c0) / n * 1e6;
		}
	}
	for (int v = 0; v < NV; v++) {
		qsort(rate[v], (size_t)runs, sizeof(double), cmp);
		qsort(cpu[v], (size_t)runs, sizeof(double), cmp);
		printf("%s\t%.0f\t%.0f\t%.0f\t%.1f\n", names[v],
		       rate[v][runs / 2], rate[v][0], rate[v][runs - 1],
		       cpu[v][runs / 2]);
		free(rate[v]);
		free(cpu[v]);
	}
	return 0;
}
