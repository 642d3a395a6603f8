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
 *
 *   bench_exec burst ROUNDS N THREADS SHELL...
 *
 * Lateness of N runs due at the same instant T: each child is `SHELL -c
 * 'date +%s%N'`, so the time is the child's own reading of the real clock
 * once it runs; lateness = that - T. Per round and shell, interleaved:
 *   floor          THREADS bare threads wait for T (clock_nanosleep) and
 *                  posix_spawn the N children as fast as they can (shared
 *                  output file, no pipe, no capture, reaped afterwards;
 *                  each child in its own session like the executor's,
 *                  which matters with autogroup scheduling): the
 *                  machine's process-creation limit;
 *   exec           gc_exec with spawn_threads = THREADS, the N runs
 *                  prepared before T with start_at = T (own session, pipe,
 *                  capture, environment, reaping on this thread);
 *   exec_inline    the same with GC_EXEC_SPAWN_INLINE: the runs spawned
 *                  one after another by gc_exec_step on this thread (what
 *                  an executor without spawner threads does).
 * Prints per shell and variant: the medians over the rounds of the
 * round's p50, p99 and max lateness (ms), and the range of the round p99s.
 */
#include <gophercron.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
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
			if (gc_exec_start(NULL, ex, &req, &err)) {
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

/* ------------------------------------------------------------- burst */

#define MS_NS INT64_C(1000000)

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* CLOCK_REALTIME - CLOCK_MONOTONIC (the tightest of a few readings). */
static int64_t wall_minus_mono(void)
{
	int64_t best = INT64_MAX, off = 0;
	for (int i = 0; i < 9; i++) {
		int64_t m0 = mono_ns(), w = wall_ns(), m1 = mono_ns();
		if (m1 - m0 < best) {
			best = m1 - m0;
			off = w - (m0 + (m1 - m0) / 2);
		}
	}
	return off;
}

static void sleep_until(int64_t mono)
{
	struct timespec ts = {(time_t)(mono / 1000000000),
			      (long)(mono % 1000000000)};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR)
		;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

struct floor_run {
	int64_t t;
	int n;
	char *const *argv;
	int outfd;
	atomic_int next;
	pid_t *pids;
};

static void *floor_thread(void *arg)
{
	struct floor_run *f = arg;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, f->outfd, 1);
	/* each child in its own session, as the executor's: with the
	 * kernel's autogroup scheduling a session is a scheduling group, so
	 * children sharing the spawner's session would get less CPU against
	 * the rest of the machine and make the floor look slow */
	posix_spawnattr_init(&at);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID);
	sleep_until(f->t);
	for (;;) {
		int i = atomic_fetch_add(&f->next, 1), rc;
		if (i >= f->n)
			break;
		rc = posix_spawn(&f->pids[i], f->argv[0], &fa, &at, f->argv,
				 environ);
		if (rc) {
			fprintf(stderr, "posix_spawn: %s\n", strerror(rc));
			exit(1);
		}
	}
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	return NULL;
}

/* Children's clock readings (realtime ns) from `text`, one per line. */
static int read_stamps(const char *text, int64_t *out, int max)
{
	int n = 0;
	const char *p = text;
	while (*p && n < max) {
		char *end;
		long long v = strtoll(p, &end, 10);
		if (end == p)
			break;
		out[n++] = v;
		p = end;
		while (*p == '\n')
			p++;
	}
	return n;
}

static void floor_burst(const char *shell, int n, int threads,
			int64_t *stamps, int64_t *t_wall)
{
	char *argv[] = {(char *)shell, (char *)"-c", (char *)"date +%s%N",
			NULL};
	char path[] = "/tmp/gc-bench-floor-XXXXXX";
	struct floor_run f;
	pthread_t *th = calloc((size_t)threads, sizeof(*th));
	char *text;
	off_t len;
	/* children append one line each (one write: atomic) */
	int fd = mkostemp(path, O_APPEND | O_CLOEXEC), got;
	if (fd < 0) {
		perror("mkostemp");
		exit(1);
	}
	unlink(path);
	memset(&f, 0, sizeof(f));
	f.n = n;
	f.argv = argv;
	f.outfd = fd;
	f.pids = calloc((size_t)n, sizeof(pid_t));
	atomic_init(&f.next, 0);
	f.t = mono_ns() + 300 * MS_NS;
	*t_wall = f.t + wall_minus_mono();
	for (int i = 0; i < threads; i++)
		pthread_create(&th[i], NULL, floor_thread, &f);
	for (int i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < n; i++)
		while (waitpid(f.pids[i], NULL, 0) < 0 && errno == EINTR)
			;
	len = lseek(fd, 0, SEEK_END);
	text = calloc(1, (size_t)len + 1);
	if (pread(fd, text, (size_t)len, 0) != len) {
		perror("pread");
		exit(1);
	}
	close(fd);
	got = read_stamps(text, stamps, n);
	if (got != n) {
		fprintf(stderr, "floor: %d of %d stamps\n", got, n);
		exit(1);
	}
	free(text);
	free(f.pids);
	free(th);
}

struct exec_burst {
	int done, bad;
	int64_t *stamps;
};

static void burst_done(gc_exec_outcome *o, void *payload)
{
	struct exec_burst *b = payload;
	if (o->reason != GC_EXEC_EXITED || o->exit_code != 0 || !o->output ||
	    read_stamps(o->output, &b->stamps[b->done], 1) != 1) {
		b->bad++;
		fprintf(stderr, "run failed: %s %s\n", o->error,
			o->output ? o->output : "");
	}
	b->done++;
}

static void exec_burst(const char *shell, int n, int threads,
		       int64_t *stamps, int64_t *t_wall)
{
	gc_exec_options opts = GC_EXEC_OPTIONS_INIT;
	struct exec_burst b = {0, 0, stamps};
	gc_error err;
	gc_exec *ex;
	int64_t t;
	opts.on_done = burst_done;
	opts.payload = &b;
	opts.spawn_threads = threads;
	if (gc_exec_new(&ex, &opts, &err)) {
		fprintf(stderr, "gc_exec_new: %s\n", err.msg);
		exit(1);
	}
	t = mono_ns() + 300 * MS_NS;
	*t_wall = t + wall_minus_mono();
	for (int i = 0; i < n; i++) {
		gc_exec_request req = GC_EXEC_REQUEST_INIT;
		req.shell = shell;
		req.command = "date +%s%N";
		req.start_at = t;
		if (gc_exec_start(NULL, ex, &req, &err)) {
			fprintf(stderr, "gc_exec_start: %s\n", err.msg);
			exit(1);
		}
	}
	if (mono_ns() >= t) {
		fprintf(stderr, "preparing %d runs took past the instant\n", n);
		exit(1);
	}
	while (b.done < n)
		if (gc_exec_poll(ex, -1, &err) < 0) {
			fprintf(stderr, "gc_exec_poll: %s\n", err.msg);
			exit(1);
		}
	gc_exec_free(ex);
	if (b.bad)
		exit(1);
}

/* p50, p99, max lateness (ms) of one round. */
static void lateness(int64_t *stamps, int n, int64_t t_wall, double q[3])
{
	for (int i = 0; i < n; i++)
		stamps[i] -= t_wall;
	qsort(stamps, (size_t)n, sizeof(stamps[0]), cmp_i64);
	if (stamps[0] < 0) {
		fprintf(stderr, "a child started %.3f ms before the instant\n",
			-stamps[0] / 1e6);
		exit(1);
	}
	q[0] = stamps[n / 2] / 1e6;
	q[1] = stamps[(n * 99 + 99) / 100 - 1] / 1e6;
	q[2] = stamps[n - 1] / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int burst_main(int rounds, int n, int threads, int nshells,
		      char **shells)
{
	enum { V_FLOOR, V_EXEC, V_INLINE, NVAR };
	static const char *const vname[NVAR] = {"floor", "exec",
						"exec_inline"};
	int64_t *stamps = calloc((size_t)n, sizeof(int64_t)), t_wall;
	double *q = calloc((size_t)(nshells * NVAR * rounds * 3),
			   sizeof(double));
#define Q(s, v, r, k) q[(((s) * NVAR + (v)) * rounds + (r)) * 3 + (k)]
	for (int r = 0; r < rounds; r++)
		for (int si = 0; si < nshells; si++)
			for (int v = 0; v < NVAR; v++) {
				double x[3];
				if (v == V_FLOOR)
					floor_burst(shells[si], n, threads,
						    stamps, &t_wall);
				else
					exec_burst(shells[si], n,
						   v == V_EXEC
							   ? threads
							   : GC_EXEC_SPAWN_INLINE,
						   stamps, &t_wall);
				lateness(stamps, n, t_wall, x);
				for (int k = 0; k < 3; k++)
					Q(si, v, r, k) = x[k];
				/* let the machine settle */
				sleep_until(mono_ns() + 200 * MS_NS);
			}
	for (int si = 0; si < nshells; si++)
		for (int v = 0; v < NVAR; v++) {
			double med[3], col[64];
			for (int k = 0; k < 3; k++) {
				for (int r = 0; r < rounds; r++)
					col[r] = Q(si, v, r, k);
				qsort(col, (size_t)rounds, sizeof(double),
				      cmp_d);
				med[k] = col[rounds / 2];
			}
			for (int r = 0; r < rounds; r++)
				col[r] = Q(si, v, r, 1);
			qsort(col, (size_t)rounds, sizeof(double), cmp_d);
			printf("%s\t%s\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\n",
			       shells[si], vname[v], med[0], med[1], med[2],
			       col[0], col[rounds - 1]);
		}
#undef Q
	free(stamps);
	free(q);
	return 0;
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
	if (argc >= 6 && strcmp(argv[1], "burst") == 0) {
		int rounds = atoi(argv[2]), nb = atoi(argv[3]),
		    threads = atoi(argv[4]);
		if (rounds < 1 || rounds > 64 || nb < 1 || threads < 1) {
			fprintf(stderr, "usage: bench_exec burst ROUNDS(1-64) N "
					"THREADS SHELL...\n");
			return 2;
		}
		return burst_main(rounds, nb, threads, argc - 5, argv + 5);
	}
	if (argc < 3 || (runs = atoi(argv[1])) < 1 || (n = atoi(argv[2])) < 1) {
		fprintf(stderr, "usage: bench_exec RUNS N [IN_FLIGHT]\n"
				"       bench_exec burst ROUNDS N THREADS "
				"SHELL...\n");
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
