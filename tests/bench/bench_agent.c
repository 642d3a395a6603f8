/* Agent benchmarks against a harness-started single etcd member:
 *
 *   load:  an agent serving one project of N tasks (default 100,000):
 *          time from start until every task is loaded and scheduled, and
 *          the process RSS then; baselines in the same run: a bare paged
 *          listing of the same keys with gc_etcd_get (the network and
 *          decoding floor) and the RSS of an agent serving an empty
 *          project (what the process costs without tasks);
 *   idle:  CPU seconds and wake-ups of an agent with 1,000 far-future
 *          tasks over 60 idle seconds, next to an agent with no task,
 *          both running at the same time;
 *   late:  start lateness by the real clock (start - planned time) of
 *          1 shell task (every 2 s), and of 500 tasks due in the same
 *          second, every AGENT_BENCH_LATE_PERIOD seconds, as in-process
 *          handlers (start: the handler function is called) and as
 *          shell commands (start: `echo $EPOCHREALTIME`, read by the
 *          command itself); after each, the spawn floor in the same run:
 *          as many `bash -c 'echo $EPOCHREALTIME'` started bare at one
 *          instant by 2 threads (floor_N_ms_*).
 *
 *   bench_agent                     everything; tab-separated lines
 *                                   "name<TAB>value" on stdout
 *   bench_agent child-... ARGS      one measurement in a fresh process
 *
 * Knobs: AGENT_BENCH_TASKS (100000), AGENT_BENCH_RUNS (3),
 * AGENT_BENCH_IDLE_TASKS (1000), AGENT_BENCH_IDLE_SECONDS (60),
 * AGENT_BENCH_SAME_SECOND (500), AGENT_BENCH_LATE_ROUNDS (5),
 * AGENT_BENCH_LATE_VARIANTS (7: bits 1 task, handlers, shell),
 * AGENT_BENCH_LATE_PERIOD (10; the shell variant uses twice that). */
#include <gophercron.h>

#include "harness.h"
#include "internal.h"
#include "agentcfg.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PREFIX "/bench"

static int env_int(const char *name, int def)
{
	const char *s = getenv(name);
	int v = s ? atoi(s) : 0;
	return v > 0 ? v : def;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static int64_t pct_i64(int64_t *v, size_t n, double p)
{
	if (!n)
		return -1;
	qsort(v, n, sizeof(*v), cmp_i64);
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i];
}

static double median_d(double *v, int n)
{
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
			double t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return n ? v[n / 2] : 0;
}

static long status_kb(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	size_t n = strlen(field);
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, n) == 0 && line[n] == ':')
			kb = strtol(line + n + 1, NULL, 10);
	fclose(f);
	return kb;
}

static double cpu_seconds(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* ------------------------------------------------------------ the agent */

typedef struct child {
	gc_agent *agent;
	pthread_mutex_t mu;
	int64_t *claim_late; /* real_time - plan, ns */
	int64_t *start_late; /* start_time - plan, ns */
	size_t n, cap;
	int64_t from_plan_ns; /* results for earlier ticks are ignored */
} child;

static void on_result(const gc_result *r, void *payload)
{
	child *c = payload;
	if (!c || r->plan_time_ns < c->from_plan_ns || r->error[0])
		return;
	/* A shell task prints its own start ($EPOCHREALTIME): the
	 * lateness of the command itself, by the real clock; a handler's
	 * start is when its function is called. */
	int64_t start = r->start_time_ns;
	if (r->output && r->output_len >= 10)
		start = (int64_t)(atof(r->output) * 1e9);
	pthread_mutex_lock(&c->mu);
	if (c->n < c->cap) {
		c->claim_late[c->n] = r->real_time_ns - r->plan_time_ns;
		c->start_late[c->n] = start - r->plan_time_ns;
		c->n++;
	}
	pthread_mutex_unlock(&c->mu);
}

static int noop(gc_agent_job *job, const char *args, void *payload)
{
	(void)job;
	(void)args;
	(void)payload;
	return 0;
}

static gc_agent *agent_new(const char *ep, int64_t project, void *payload,
			   int etcd_threads)
{
	gc_agent_config cfg;
	gc_error err;
	gc_agent *a = NULL;
	char ip[32];
	snprintf(ip, sizeof(ip), "10.77.0.%lld", (long long)project);
	if (gct_agent_config_one(&cfg, ep, PREFIX, project, ip)) {
		gc_agent_config_clear(&cfg);
		return NULL;
	}
	free(cfg.shell);
	cfg.shell = gc__strdup("/bin/bash"); /* $EPOCHREALTIME */
	gc_agent_options o = GC_AGENT_OPTIONS_INIT;
	o.on_result = on_result;
	o.payload = payload;
	o.cron_utc = 1;
	o.etcd_threads = etcd_threads;
	o.handler_threads = 2;
	if (gc_agent_new(&a, &cfg, &o, &err) ||
	    gc_agent_handler_register(a, "noop", noop, NULL, &err)) {
		fprintf(stderr, "agent: %s\n", err.msg);
		gc_agent_free(a);
		a = NULL;
	}
	gc_agent_config_clear(&cfg);
	return a;
}

/* Drive the agent from this thread until `until_ns` (mono) or until
 * `done(arg)`; returns the number of steps (wake-ups). */
static long drive(gc_agent *a, int64_t until_ns, int (*done)(void *),
		  void *arg)
{
	gc_error err;
	long steps = 0;
	while (gc__mono_ns() < until_ns) {
		if (gc_agent_step(a, &err) != 0)
			break;
		steps++;
		if (done && done(arg))
			break;
		int t = gc_agent_timeout_ms(a);
		int64_t left = (until_ns - gc__mono_ns()) / 1000000 + 1;
		if (t < 0 || t > left)
			t = (int)left;
		struct pollfd p = {gc_agent_fd(a), POLLIN, 0};
		poll(&p, 1, t);
	}
	return steps;
}

static void agent_stop(gc_agent *a)
{
	gc_error err;
	gc_agent_stop(a);
	while (gc_agent_step(a, &err) == 0) {
		struct pollfd p = {gc_agent_fd(a), POLLIN, 0};
		poll(&p, 1, gc_agent_timeout_ms(a));
	}
	gc_agent_free(a);
}

typedef struct loaded_arg {
	gc_agent *a;
	size_t tasks;
} loaded_arg;

static int loaded(void *arg)
{
	loaded_arg *l = arg;
	gc_agent_stats st;
	gc_agent_stats_get(l->a, &st);
	return st.projects_loaded == 1 && st.tasks >= l->tasks;
}

/* child-load EP PROJECT N: load time and RSS. */
static int child_load(const char *ep, int64_t project, size_t n)
{
	long rss0 = status_kb("VmRSS");
	gc_agent *a = agent_new(ep, project, NULL, 0);
	if (!a)
		return 1;
	loaded_arg l = {a, n};
	int64_t t0 = gc__mono_ns();
	drive(a, t0 + 300 * 1000000000LL, loaded, &l);
	int64_t t1 = gc__mono_ns();
	if (!loaded(&l)) {
		fprintf(stderr, "child-load: not loaded in 300 s\n");
		return 1;
	}
	/* Let the listing's transient buffers go, then measure. */
	drive(a, gc__mono_ns() + 1000000000LL, NULL, NULL);
	gc_agent_stats st;
	gc_agent_stats_get(a, &st);
	printf("load_ms\t%.1f\n", (double)(t1 - t0) / 1e6);
	printf("rss_kb\t%ld\n", status_kb("VmRSS"));
	printf("hwm_kb\t%ld\n", status_kb("VmHWM"));
	printf("rss_before_kb\t%ld\n", rss0);
	printf("scheduled\t%zu\n", st.scheduled);
	fflush(stdout);
	agent_stop(a);
	return 0;
}

/* child-idle EP PROJECT N SECONDS: CPU and wake-ups while idle. */
static int child_idle(const char *ep, int64_t project, size_t n, int secs)
{
	gc_agent *a = agent_new(ep, project, NULL, 0);
	if (!a)
		return 1;
	loaded_arg l = {a, n};
	drive(a, gc__mono_ns() + 60 * 1000000000LL, loaded, &l);
	/* Settle (registration, claim-free start-up), then measure. */
	drive(a, gc__mono_ns() + 2000000000LL, NULL, NULL);
	double c0 = cpu_seconds();
	long steps = drive(a, gc__mono_ns() + (int64_t)secs * 1000000000LL,
			   NULL, NULL);
	double c1 = cpu_seconds();
	printf("cpu_s\t%.3f\n", c1 - c0);
	printf("wakeups\t%ld\n", steps);
	fflush(stdout);
	agent_stop(a);
	return 0;
}

typedef struct late_arg {
	child *c;
	size_t want;
} late_arg;

static int late_done(void *arg)
{
	late_arg *l = arg;
	pthread_mutex_lock(&l->c->mu);
	size_t n = l->c->n;
	pthread_mutex_unlock(&l->c->mu);
	return n >= l->want;
}

static int clock_ok(void *arg)
{
	gc_agent_clock k = {GC_AGENT_CLOCK_VERSION, 0, 0, 0, 0, 0, ""};
	return gc_agent_clock_get(arg, &k) == 0 && k.ok;
}

/* child-late EP PROJECT N ROUNDS PERIOD: lateness of N same-second ticks. */
static int child_late(const char *ep, int64_t project, size_t n, int rounds,
		      int period)
{
	child c;
	memset(&c, 0, sizeof(c));
	pthread_mutex_init(&c.mu, NULL);
	c.cap = n * (size_t)rounds;
	c.claim_late = calloc(c.cap, sizeof(int64_t));
	c.start_late = calloc(c.cap, sizeof(int64_t));
	c.from_plan_ns = INT64_MAX;
	gc_agent *a = agent_new(ep, project, &c, 0);
	if (!a || !c.claim_late || !c.start_late)
		return 1;
	loaded_arg l = {a, n};
	drive(a, gc__mono_ns() + 60 * 1000000000LL, loaded, &l);
	/* and cluster time known (nothing is claimed before) */
	drive(a, gc__mono_ns() + 30 * 1000000000LL, clock_ok, a);
	/* Count from the first whole period at least 2 s away. */
	int64_t now_s = gc__wall_ns() / 1000000000LL;
	int64_t first = (now_s + 2 + period - 1) / period * period;
	pthread_mutex_lock(&c.mu);
	c.from_plan_ns = first * 1000000000LL;
	pthread_mutex_unlock(&c.mu);
	late_arg la = {&c, c.cap};
	int64_t until = gc__mono_ns() +
			(first - now_s + (int64_t)rounds * period + 30) *
				1000000000LL;
	drive(a, until, late_done, &la);
	gc_agent_clock k = {GC_AGENT_CLOCK_VERSION, 0, 0, 0, 0, 0, ""};
	gc_agent_clock_get(a, &k);
	printf("clock_error_ms\t%.3f\n", k.error_ns / 1e6);
	printf("clock_rtt_ms\t%.3f\n", k.rtt_ns / 1e6);
	printf("samples\t%zu\n", c.n);
	printf("claim_ms_p50\t%.1f\n", pct_i64(c.claim_late, c.n, 0.5) / 1e6);
	printf("claim_ms_p99\t%.1f\n", pct_i64(c.claim_late, c.n, 0.99) / 1e6);
	printf("claim_ms_max\t%.1f\n", pct_i64(c.claim_late, c.n, 1.0) / 1e6);
	printf("start_ms_p50\t%.1f\n", pct_i64(c.start_late, c.n, 0.5) / 1e6);
	printf("start_ms_p99\t%.1f\n", pct_i64(c.start_late, c.n, 0.99) / 1e6);
	printf("start_ms_max\t%.1f\n", pct_i64(c.start_late, c.n, 1.0) / 1e6);
	fflush(stdout);
	agent_stop(a);
	free(c.claim_late);
	free(c.start_late);
	return 0;
}

/* ---------------------------------------------------------- populating */

static const char *const COMMON_CRON[] = {
	"0 * * * * * *",     "0 */5 * * * * *",  "0 0 * * * * *",
	"0 30 2 * * * *",    "0 0 0 * * * *",    "0 0 12 * * 1-5 *",
	"0 15 10 ? * MON-FRI", "0 0 0 1 * * *",  "30 */10 * * * * *",
	"0 0 */2 * * * *",   "@hourly",          "@daily",
};

/* Put `n` tasks of project `pid` with 100 puts per txn. `mode`:
 * 0 = realistic mix (daily/hourly, some common expressions),
 * 1 = far future, 2 = every `period` s in the same second. */
static int populate(gc_etcd *c, int64_t pid, size_t n, int mode,
		    const char *command, int period, size_t *distinct)
{
	enum { BATCH = 100 };
	gc_etcd_op ops[BATCH];
	char *keys[BATCH], *vals[BATCH];
	gc_error err;
	size_t uniq = 0;
	for (size_t i = 0; i < n; i += BATCH) {
		size_t m = n - i < BATCH ? n - i : BATCH;
		for (size_t k = 0; k < m; k++) {
			size_t id = i + k;
			char tid[32], cron[64], name[64];
			snprintf(tid, sizeof(tid), "%llu",
				 1131476895460757504ULL + id * 7919);
			snprintf(name, sizeof(name), "bench task %zu", id);
			if (mode == 1) {
				snprintf(cron, sizeof(cron), "0 0 0 1 1 * 2099");
			} else if (mode == 2) {
				snprintf(cron, sizeof(cron), "*/%d * * * * * *",
					 period);
			} else if (id % 10 < 3) {
				snprintf(cron, sizeof(cron), "%s",
					 COMMON_CRON[id % (sizeof(COMMON_CRON) /
							   sizeof(COMMON_CRON[0]))]);
			} else {
				/* once a day at a time of its own */
				snprintf(cron, sizeof(cron), "%zu %zu %zu * * * *",
					 id % 60, (id / 60) % 60,
					 (id / 3600) % 24);
				uniq++;
			}
			gc_task t = GC_TASK_INIT;
			t.task_id = tid;
			t.name = name;
			t.project_id = pid;
			t.command = (char *)command;
			t.cron = cron;
			t.remark = (char *)"benchmark task with a typical remark";
			t.timeout = 60;
			t.create_time = 1795470646;
			t.status = 1;
			t.client_ip = (char *)"";
			keys[k] = gc_key_task(PREFIX, pid, tid);
			vals[k] = gc_task_to_json(&t);
			memset(&ops[k], 0, sizeof(ops[k]));
			ops[k].type = GC_ETCD_OP_PUT;
			ops[k].key = keys[k];
			ops[k].value = vals[k];
			ops[k].value_len = strlen(vals[k]);
		}
		gc_etcd_txn_request txn = {NULL, 0, ops, m, NULL, 0};
		gc_etcd_txn_result res = {0};
		int rc = gc_etcd_txn(&res, c, &txn, &err);
		gc_etcd_txn_result_clear(&res);
		for (size_t k = 0; k < m; k++) {
			gc_free(keys[k]);
			gc_free(vals[k]);
		}
		if (rc) {
			fprintf(stderr, "populate: %s\n", err.msg);
			return rc;
		}
	}
	if (distinct)
		*distinct = uniq + (mode == 0 ? sizeof(COMMON_CRON) /
							sizeof(COMMON_CRON[0])
					      : 1);
	return 0;
}

/* The floor: a paged listing of the same keys with the same page size. */
static double raw_listing_ms(gc_etcd *c, int64_t pid, size_t *count)
{
	char *prefix = gc_key_project_prefix(PREFIX, pid), *end = NULL;
	size_t end_len;
	gc_etcd_prefix_end(&end, &end_len, prefix, strlen(prefix));
	int64_t t0 = gc__mono_ns(), rev = 0;
	char *start = gc__strdup(prefix);
	*count = 0;
	for (;;) {
		gc_etcd_get_options o = GC_ETCD_GET_OPTIONS_INIT;
		gc_etcd_response r = {0};
		gc_error err;
		o.range_end = end;
		o.limit = 1000;
		o.revision = rev;
		o.sort_target = GC_ETCD_SORT_KEY;
		o.sort_order = GC_ETCD_SORT_ASCEND;
		if (gc_etcd_get(&r, c, start, &o, &err)) {
			fprintf(stderr, "listing: %s\n", err.msg);
			break;
		}
		if (!rev)
			rev = r.revision;
		*count += r.kvs_count;
		int more = r.more && r.kvs_count;
		if (more) {
			free(start);
			start = gc__strdup(r.kvs[r.kvs_count - 1].key);
			(*count)--; /* re-read as the next page's first key */
		}
		gc_etcd_response_clear(&r);
		if (!more)
			break;
	}
	double ms = (double)(gc__mono_ns() - t0) / 1e6;
	free(start);
	gc_free(prefix);
	gc_free(end);
	return ms;
}

/* Run this binary as a child and collect its "name\tvalue" lines. */
typedef struct kv_out {
	char name[16][32];
	double value[16];
	int n;
} kv_out;

static int spawn_child(char *const argv[], kv_out *out)
{
	int fds[2];
	if (pipe(fds))
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	close(fds[1]);
	FILE *f = fdopen(fds[0], "r");
	char line[256];
	out->n = 0;
	while (f && fgets(line, sizeof(line), f)) {
		char *tab = strchr(line, '\t');
		if (!tab || out->n >= 16)
			continue;
		*tab = '\0';
		snprintf(out->name[out->n], sizeof(out->name[0]), "%.31s", line);
		out->value[out->n++] = atof(tab + 1);
	}
	if (f)
		fclose(f);
	int st;
	waitpid(pid, &st, 0);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (WIFSIGNALED(st))
		fprintf(stderr, "bench_agent: %s died of signal %d\n", argv[1],
			WTERMSIG(st));
	else
		fprintf(stderr, "bench_agent: %s exited with %d\n", argv[1],
			WEXITSTATUS(st));
	return -1;
}

static double kv_get(const kv_out *o, const char *name)
{
	for (int i = 0; i < o->n; i++)
		if (strcmp(o->name[i], name) == 0)
			return o->value[i];
	return -1;
}

static void print_kv(const char *prefix, const kv_out *o)
{
	for (int i = 0; i < o->n; i++)
		printf("%s%s\t%g\n", prefix, o->name[i], o->value[i]);
}

/* The spawn floor of this machine: `n` processes started at one instant
 * T (2 threads, as the executor's spawners, posix_spawn of the same
 * `bash -c 'echo $EPOCHREALTIME'`), the lateness of each command's own
 * start after T, `rounds` times; printed as floor_<n>_ms_p50/p99/max. */
typedef struct floor_arg {
	size_t from, to;
	int64_t at; /* CLOCK_REALTIME ns */
	int *fds;
	pid_t *pids;
} floor_arg;

static void *floor_thread(void *arg)
{
	floor_arg *f = arg;
	struct timespec ts = {(time_t)(f->at / 1000000000LL),
			      (long)(f->at % 1000000000LL)};
	extern char **environ;
	clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, NULL);
	for (size_t i = f->from; i < f->to; i++) {
		int fd[2];
		f->fds[i] = -1;
		f->pids[i] = 0;
		if (pipe2(fd, O_CLOEXEC))
			continue;
		posix_spawn_file_actions_t fa;
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_adddup2(&fa, fd[1], 1);
		/* each child in its own session, as the executor's (with
		 * autogroup scheduling a session is a scheduling group) */
		posix_spawnattr_t at;
		posix_spawnattr_init(&at);
		posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID);
		char *av[] = {(char *)"/bin/bash", (char *)"-c",
			      (char *)"echo $EPOCHREALTIME", NULL};
		if (posix_spawn(&f->pids[i], "/bin/bash", &fa, &at, av,
				environ))
			f->pids[i] = 0;
		posix_spawnattr_destroy(&at);
		posix_spawn_file_actions_destroy(&fa);
		close(fd[1]);
		f->fds[i] = fd[0];
	}
	return NULL;
}

static void spawn_floor(size_t n, int rounds)
{
	int64_t *late = calloc(n * (size_t)rounds, sizeof(int64_t));
	int *fds = calloc(n, sizeof(int));
	pid_t *pids = calloc(n, sizeof(pid_t));
	size_t m = 0;
	for (int r = 0; r < rounds && late && fds && pids; r++) {
		int64_t at = gc__wall_ns() + 200000000LL;
		floor_arg fa[2] = {{0, n / 2, at, fds, pids},
				   {n / 2, n, at, fds, pids}};
		pthread_t th[2];
		for (int k = 0; k < 2; k++)
			pthread_create(&th[k], NULL, floor_thread, &fa[k]);
		for (int k = 0; k < 2; k++)
			pthread_join(th[k], NULL);
		for (size_t i = 0; i < n; i++) {
			char buf[64] = "";
			ssize_t k = fds[i] >= 0 ? read(fds[i], buf, 63) : -1;
			if (fds[i] >= 0)
				close(fds[i]);
			if (pids[i] > 0)
				waitpid(pids[i], NULL, 0);
			if (k > 0) {
				buf[k] = '\0';
				late[m++] = (int64_t)(atof(buf) * 1e9) - at;
			}
		}
		sleep(1);
	}
	printf("floor_%zu_samples\t%zu\n", n, m);
	printf("floor_%zu_ms_p50\t%.1f\n", n, pct_i64(late, m, 0.5) / 1e6);
	printf("floor_%zu_ms_p99\t%.1f\n", n, pct_i64(late, m, 0.99) / 1e6);
	printf("floor_%zu_ms_max\t%.1f\n", n, pct_i64(late, m, 1.0) / 1e6);
	fflush(stdout);
	free(late);
	free(fds);
	free(pids);
}

int main(int argc, char **argv)
{
	setenv("TZ", "UTC", 1);
	tzset();
	if (argc >= 2 && strncmp(argv[1], "child-", 6) == 0) {
		if (strcmp(argv[1], "child-load") == 0 && argc == 5)
			return child_load(argv[2], atoll(argv[3]),
					  (size_t)atoll(argv[4]));
		if (strcmp(argv[1], "child-idle") == 0 && argc == 6)
			return child_idle(argv[2], atoll(argv[3]),
					  (size_t)atoll(argv[4]), atoi(argv[5]));
		if (strcmp(argv[1], "child-late") == 0 && argc == 7)
			return child_late(argv[2], atoll(argv[3]),
					  (size_t)atoll(argv[4]), atoi(argv[5]),
					  atoi(argv[6]));
		fprintf(stderr, "bench_agent: bad child arguments\n");
		return 2;
	}

	int ntasks = env_int("AGENT_BENCH_TASKS", 100000);
	int runs = env_int("AGENT_BENCH_RUNS", 3);
	int idle_tasks = env_int("AGENT_BENCH_IDLE_TASKS", 1000);
	int idle_secs = env_int("AGENT_BENCH_IDLE_SECONDS", 60);
	int same = env_int("AGENT_BENCH_SAME_SECOND", 500);
	int rounds = env_int("AGENT_BENCH_LATE_ROUNDS", 5);
	int period = env_int("AGENT_BENCH_LATE_PERIOD", 10);
	const char *only = getenv("AGENT_BENCH_ONLY"); /* load|idle|late */

	static const char *const flags[] = {"--quota-backend-bytes=4294967296",
					    NULL};
	gct_etcd *e;
	if (gct_etcd_start(&e, 1, flags))
		return 1;
	const char *ep = gct_etcd_endpoint(e, 0);
	const char *eps[1] = {ep};
	gc_etcd_options o = GC_ETCD_OPTIONS_INIT;
	o.endpoints = eps;
	o.endpoints_count = 1;
	o.request_timeout_ms = 30000;
	o.retry_timeout_ms = 60000;
	gc_etcd *c;
	gc_error err;
	if (gc_etcd_new(&c, &o, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	char num[32], pid_s[32], n2[32], n3[32];
	kv_out out;
	int failed = 0;

	if (!only || strcmp(only, "load") == 0) {
		size_t distinct = 0;
		int64_t t0 = gc__mono_ns();
		if (populate(c, 1, (size_t)ntasks, 0, "@handler:noop", 0,
			     &distinct))
			return 1;
		printf("load_tasks\t%d\n", ntasks);
		printf("load_distinct_cron\t%zu\n", distinct);
		printf("load_populate_s\t%.1f\n",
		       (double)(gc__mono_ns() - t0) / 1e9);
		double load_ms[16], rss[16], hwm[16], raw[16], empty_rss[16];
		snprintf(num, sizeof(num), "%d", ntasks);
		for (int r = 0; r < runs && r < 16; r++) {
			size_t count = 0;
			raw[r] = raw_listing_ms(c, 1, &count);
			char *argv1[] = {argv[0], (char *)"child-load", (char *)ep,
					 (char *)"1", num, NULL};
			if (spawn_child(argv1, &out)) {
				failed = 1;
				break;
			}
			load_ms[r] = kv_get(&out, "load_ms");
			rss[r] = kv_get(&out, "rss_kb");
			hwm[r] = kv_get(&out, "hwm_kb");
			char *argv0[] = {argv[0], (char *)"child-load", (char *)ep,
					 (char *)"2", (char *)"0", NULL};
			if (spawn_child(argv0, &out)) {
				failed = 1;
				break;
			}
			empty_rss[r] = kv_get(&out, "rss_kb");
			fprintf(stderr,
				"load run %d: %.0f ms (raw listing %.0f ms, %zu "
				"keys), RSS %.0f kB (empty agent %.0f kB)\n",
				r + 1, load_ms[r], raw[r], count, rss[r],
				empty_rss[r]);
		}
		if (!failed) {
			double lm = median_d(load_ms, runs),
			       rm = median_d(raw, runs), rs = median_d(rss, runs),
			       er = median_d(empty_rss, runs),
			       hw = median_d(hwm, runs);
			printf("load_ms_median\t%.0f\n", lm);
			printf("load_raw_listing_ms_median\t%.0f\n", rm);
			printf("load_ratio\t%.2f\n", lm / rm);
			printf("load_rss_kb_median\t%.0f\n", rs);
			printf("load_hwm_kb_median\t%.0f\n", hw);
			printf("load_empty_rss_kb_median\t%.0f\n", er);
			printf("load_bytes_per_task\t%.0f\n",
			       (rs - er) * 1024.0 / ntasks);
		}
	}

	if (!only || strcmp(only, "idle") == 0) {
		if (populate(c, 3, (size_t)idle_tasks, 1, "true", 0, NULL))
			return 1;
		snprintf(num, sizeof(num), "%d", idle_tasks);
		snprintf(n2, sizeof(n2), "%d", idle_secs);
		char *argv1[] = {argv[0], (char *)"child-idle", (char *)ep,
				 (char *)"3", num, n2, NULL};
		char *argv0[] = {argv[0], (char *)"child-idle", (char *)ep,
				 (char *)"4", (char *)"0", n2, NULL};
		/* Both at once: same machine noise for both. */
		fflush(stdout);
		pid_t p = fork();
		if (p == 0) {
			kv_out o0;
			int rc = spawn_child(argv0, &o0);
			printf("idle_empty_cpu_s\t%g\nidle_empty_wakeups\t%g\n",
			       kv_get(&o0, "cpu_s"), kv_get(&o0, "wakeups"));
			fflush(stdout);
			_exit(rc ? 1 : 0);
		}
		if (spawn_child(argv1, &out))
			failed = 1;
		int st;
		waitpid(p, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			failed = 1;
		printf("idle_tasks\t%d\nidle_seconds\t%d\n", idle_tasks,
		       idle_secs);
		print_kv("idle_", &out);
	}

	if (!only || strcmp(only, "late") == 0) {
		/* 1 shell task every 2 s, 500 handlers, 500 shell tasks */
		static const char *const names[3] = {"late_one_", "late_handler_",
						     "late_shell_"};
		/* AGENT_BENCH_LATE_VARIANTS: 1 = 1 task, 2 = handlers,
		 * 4 = shell (bits; default all) */
		int vmask = env_int("AGENT_BENCH_LATE_VARIANTS", 7);
		for (int variant = 0; variant < 3; variant++) {
			if (!(vmask & (1 << variant)))
				continue;
			int pid = 5 + variant, n = variant ? same : 1;
			int per = variant == 0 ? 2 : period * variant;
			int rnd = variant == 0 ? 5 * rounds : rounds;
			snprintf(num, sizeof(num), "%d", n);
			snprintf(n2, sizeof(n2), "%d", rnd);
			if (populate(c, pid, (size_t)n, 2,
				     variant == 1 ? "@handler:noop"
						  : "echo $EPOCHREALTIME",
				     per, NULL))
				return 1;
			snprintf(pid_s, sizeof(pid_s), "%d", pid);
			snprintf(n3, sizeof(n3), "%d", per);
			char *argvl[] = {argv[0], (char *)"child-late", (char *)ep,
					 pid_s, num, n2, n3, NULL};
			if (spawn_child(argvl, &out)) {
				failed = 1;
				continue;
			}
			print_kv(names[variant], &out);
			printf("%speriod_s\t%d\n", names[variant], per);
			/* the floor right after, on the same machine state */
			spawn_floor(variant ? (size_t)same : 1, rnd);
		}
		printf("late_same_second\t%d\nlate_rounds\t%d\n", same, rounds);
	}
	gc_etcd_free(c);
	gct_etcd_stop(e);
	return failed;
}
