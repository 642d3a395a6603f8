/* Fault-injection suite: a 3-member etcd cluster, gcron-service (SQLite,
 * and a second one on MariaDB), three gcron-agents reporting to the
 * service through POST /api/v1/report with their own spools, and one task
 * per fault that runs every second and appends
 * "$GOPHERCRON_PLAN_TIME $GOPHERCRON_AGENT_IP <real start time>" to a file
 * (O_APPEND), so runs are counted per planned tick independently of the
 * reporting path. Faults, one at a time and then together: SIGKILL of an
 * agent mid-run, SIGKILL of the etcd leader, quorum lost and restored, the
 * service down (results wait in the spools), MariaDB restarted, agents
 * at +-3 s (libfaketime), a wall-clock step forward and back on one agent,
 * an agent frozen (SIGSTOP) for longer than its session lease, every agent
 * stalled for a few seconds at once.
 *
 * Per fault and per planned tick it counts: ticks missed outside the
 * documented failover window, ticks run twice, runs without exactly one
 * log row in the service's database (result lost), and the task's
 * t_status key left behind once everything is idle. Every count must be
 * zero. docs/RELIABILITY.md describes the suite, the windows and figures.
 *
 *   gc_reliability [--profile short|long] [--only NAME[,NAME...]]
 *                  [--list] [--keep]
 *
 * Prints one "ok -" / "not ok -" line per fault, a table, and
 * "N passed, M failed" last; exits 1 on any failure. */
#include <gophercron.h>

#include "harness.h"
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FAKETIME_LIB "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"
#define NAGENTS 3
#define PROJECT 1
#define PREFIX "/rel"
#define TOKEN "reliability-token"
#define LATE_GRACE_S 10 /* gc_agent_options.late_grace_ms default */
#define SESSION_TTL_S 10
#define MAX_WINDOWS 8
#define MAX_INTERRUPTED 16
#define TASK_SLEEP "0.4"

enum { SINK_SQLITE = 0, SINK_MARIADB = 1 };
enum { CLK_REAL = 0, CLK_PLUS3, CLK_MINUS3, CLK_STEP };

typedef struct svc {
	int pid;
	int port;
	int backend;
	char name[16];
	char cfg[512];
	char log[512];
	char db[512];
} svc;

typedef struct agent {
	int idx;
	int pid;
	int stopped; /* SIGSTOPped */
	int sink;
	int clock;
	int exits_bad; /* unexpected exits seen */
	char ip[32];
	char cfg[512];
	char log[512];
	char stamp[512]; /* libfaketime offset file (CLK_STEP) */
} agent;

typedef struct window {
	int64_t from, to; /* plans in [from, to] may be missed */
} window;

typedef struct phase_ctx {
	const struct phase *ph;
	char task_id[64];
	char ticks[512];
	int64_t t_put, t_del;
	window win[MAX_WINDOWS];
	int nwin;
	struct {
		int64_t plan;
		char ip[32];
	} interrupted[MAX_INTERRUPTED];
	int ninterrupted;
	int checks_failed;
	char notes[1024];
} phase_ctx;

typedef struct phase {
	const char *name;
	const char *what;
	int sink;
	int clock[NAGENTS];
	void (*inject)(phase_ctx *);
} phase;

typedef struct result_row {
	const char *name;
	int planned, runs, missed, missed_win, doubled, lost, stuck;
	int extra_rows, error_rows, wrong_ip, checks_failed;
	double max_delay_s, min_delay_s;
	int64_t seconds;
	int ok;
} result_row;

static struct {
	int long_profile;
	int keep;
	char *dir;
	gct_etcd *etcd;
	gct_mariadb *maria;
	gc_etcd *c;
	svc svc[2];
	agent ag[NAGENTS];
	result_row results[16];
	int nresults;
} G;

/* ------------------------------------------------------------ helpers */

static void say(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;
	char ts[32];
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%H:%M:%S", &tm);
	printf("# %s ", ts);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void note(phase_ctx *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void note(phase_ctx *p, const char *fmt, ...)
{
	va_list ap;
	size_t n = strlen(p->notes);
	if (n && n + 2 < sizeof(p->notes)) {
		p->notes[n++] = ';';
		p->notes[n++] = ' ';
		p->notes[n] = '\0';
	}
	va_start(ap, fmt);
	vsnprintf(p->notes + n, sizeof(p->notes) - n, fmt, ap);
	va_end(ap);
}

static void check(phase_ctx *p, int ok, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void check(phase_ctx *p, int ok, const char *fmt, ...)
{
	va_list ap;
	printf("#   check %s: ", ok ? "ok" : "FAILED");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	if (!ok)
		p->checks_failed++;
}

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

static void sleep_ms(int ms)
{
	gct_sleep_ms(ms);
}

static int write_file(const char *path, const char *text)
{
	char tmp[600];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -1;
	fputs(text, f);
	if (fclose(f))
		return -1;
	return rename(tmp, path);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	gc__buf b = GC__BUF_INIT;
	char chunk[8192];
	size_t n;
	if (len)
		*len = 0;
	if (!f)
		return gc__strdup("");
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		gc__buf_append(&b, chunk, n);
	fclose(f);
	if (len)
		*len = b.len;
	return b.data ? gc__buf_detach(&b) : gc__strdup("");
}

static int count_in_file(const char *path, const char *needle)
{
	char *s = slurp(path, NULL);
	int n = 0;
	for (char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
		n++;
	free(s);
	return n;
}

static off_t file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? st.st_size : 0;
}

/* fork + exec with PDEATHSIG, own process group, output appended to
 * `log`, and `env` ("NAME=VALUE", NULL-terminated) added. */
static int spawn(char *const argv[], const char *log, const char *const *env)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		setpgid(0, 0);
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		fd = open("/dev/null", O_RDONLY);
		if (fd >= 0) {
			dup2(fd, 0);
			close(fd);
		}
		for (int i = 0; env && env[i]; i++)
			putenv((char *)env[i]);
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* Reap `pid` if it exited; returns 1 when it is gone (status in *st). */
static int reaped(int pid, int *st)
{
	return pid > 0 && waitpid(pid, st, WNOHANG) == pid;
}

/* SIGTERM, wait up to ms; returns the exit status, or -1 (SIGKILLed). */
static int stop_pid(int pid, int ms)
{
	int st = 0;
	if (pid <= 0)
		return 0;
	kill(pid, SIGCONT);
	kill(pid, SIGTERM);
	for (int waited = 0; waited <= ms; waited += 20) {
		if (reaped(pid, &st))
			return WIFEXITED(st) ? WEXITSTATUS(st)
					     : 128 + WTERMSIG(st);
		sleep_ms(20);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

static void kill9(int pid)
{
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
}

/* "http://a:1,http://b:2" -> "\"a:1\", \"b:2\"", starting at member
 * `first`. */
static void toml_endpoints(int first, char *out, size_t len)
{
	int n = gct_etcd_members(G.etcd);
	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		const char *ep = gct_etcd_endpoint(G.etcd, (first + i) % n);
		if (strncmp(ep, "http://", 7) == 0)
			ep += 7;
		size_t l = strlen(out);
		snprintf(out + l, len - l, "%s\"%s\"", i ? ", " : "", ep);
	}
}

/* --------------------------------------------------------------- etcd */

static gc_etcd *etcd_client(void)
{
	const char *eps[GCT_MAX_MEMBERS];
	int n = gct_etcd_members(G.etcd);
	for (int i = 0; i < n; i++)
		eps[i] = gct_etcd_endpoint(G.etcd, i);
	gc_etcd_options o = GC_ETCD_OPTIONS_INIT;
	o.endpoints = eps;
	o.endpoints_count = (size_t)n;
	gc_etcd *c = NULL;
	gc_error err;
	if (gc_etcd_new(&c, &o, &err))
		say("gc_etcd_new: %s", err.msg);
	return c;
}

/* Retry a write for up to 30 s (the cluster may be electing a leader). */
static int put_task(const char *tid, const char *command)
{
	gc_task t = GC_TASK_INIT;
	t.task_id = (char *)tid;
	t.name = (char *)tid;
	t.project_id = PROJECT;
	t.command = (char *)command;
	t.cron = (char *)"* * * * * * *";
	t.remark = (char *)"reliability";
	t.create_time = now_s();
	t.status = 1;
	t.client_ip = (char *)"";
	char *json = gc_task_to_json(&t);
	char *key = gc_key_task(PREFIX, PROJECT, tid);
	gc_error err;
	int rc = -1;
	for (int i = 0; i < 60 && json && key; i++) {
		rc = gc_etcd_put(NULL, G.c, key, json, strlen(json), 0, 0, &err);
		if (rc == 0)
			break;
		say("put %s: %s (retrying)", key, err.msg);
		sleep_ms(500);
	}
	gc_free(json);
	gc_free(key);
	return rc;
}

static int delete_key(const char *key)
{
	gc_error err;
	int rc = -1;
	for (int i = 0; i < 60; i++) {
		rc = gc_etcd_delete(NULL, NULL, G.c, key, 0, &err);
		if (rc == 0)
			break;
		say("delete %s: %s (retrying)", key, err.msg);
		sleep_ms(500);
	}
	return rc;
}

/* 1 present, 0 absent, -1 error. */
static int key_exists(const char *key)
{
	gc_etcd_response r = {0};
	gc_error err;
	if (gc_etcd_get(&r, G.c, key, NULL, &err))
		return -1;
	int n = (int)r.kvs_count;
	gc_etcd_response_clear(&r);
	return n > 0;
}

static int wait_key(const char *key, int want, int ms)
{
	int64_t t0 = gc__mono_ms();
	while (gc__mono_ms() - t0 <= ms) {
		if (key_exists(key) == want)
			return (int)(gc__mono_ms() - t0);
		sleep_ms(100);
	}
	return -1;
}

/* Whether the agent's registration says its clock is usable (it claims):
 * 1 yes, 0 not (yet), -1 no answer. A registration under `old_lease` (a
 * killed process's, until its lease expires) does not count. Its lease
 * in *lease when not NULL. */
static int clock_ok(const agent *a, int64_t old_lease, int64_t *lease)
{
	char *reg = gc_key_register(PREFIX, PROJECT, a->ip);
	gc_etcd_response r = {0};
	gc_error err;
	int ok = -1;
	if (reg && gc_etcd_get(&r, G.c, reg, NULL, &err) == 0) {
		ok = r.kvs_count > 0 && r.kvs[0].lease != old_lease &&
		     strstr(r.kvs[0].value, "\"clock_ok\":true") != NULL;
		if (lease)
			*lease = r.kvs_count ? r.kvs[0].lease : 0;
		gc_etcd_response_clear(&r);
	}
	free(reg);
	return ok;
}

/* Wait until the agent claims (its clock is known); how long it took, or
 * -1 after ms. */
static int wait_clock_ok(const agent *a, int64_t old_lease, int ms)
{
	int64_t t0 = gc__mono_ms();
	while (gc__mono_ms() - t0 <= ms) {
		if (clock_ok(a, old_lease, NULL) == 1)
			return (int)(gc__mono_ms() - t0);
		sleep_ms(100);
	}
	return -1;
}

static int wait_leader(int ms)
{
	int64_t t0 = gc__mono_ms();
	while (gc__mono_ms() - t0 <= ms) {
		int l = gct_etcd_leader(G.etcd);
		if (l >= 0)
			return l;
		sleep_ms(50);
	}
	return -1;
}

/* ------------------------------------------------------------ service */

static int svc_write_cfg(svc *s)
{
	char eps[1024];
	FILE *f = fopen(s->cfg, "w");
	if (!f)
		return -1;
	toml_endpoints(0, eps, sizeof(eps));
	fprintf(f,
		"log_level = \"info\"\n"
		"[deploy]\n"
		"host = [\"127.0.0.1:%d\"]\n"
		"timeout = 5\n"
		"[etcd]\n"
		"service = [%s]\n"
		"prefix = \"%s\"\n"
		"[jwt]\n"
		"secret = \"reliability-suite-jwt-secret-0123456789\"\n"
		"[report]\n"
		"token = \"%s\"\n",
		s->port, eps, PREFIX, TOKEN);
	if (s->backend == SINK_MARIADB)
		fprintf(f,
			"[mysql]\n"
			"service = \"%s:%d\"\n"
			"username = \"gc\"\n"
			"password = \"gcpass\"\n"
			"database = \"gophercron\"\n",
			gct_mariadb_host(G.maria), gct_mariadb_port(G.maria));
	else
		fprintf(f, "[sqlite]\npath = \"%s\"\n", s->db);
	return fclose(f);
}

static void svc_kill9(svc *s);

static int svc_up(const svc *s)
{
	char url[128];
	long st = 0;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v1/version",
		 s->port);
	char *b = gct_http_get(url, &st);
	free(b);
	return st == 200;
}

/* Start the service and wait until it answers; like a supervisor
 * (systemd Restart=on-failure, RestartSec=1) start it again when it exits
 * during start-up: gcron-service refuses to start while its database is
 * unreachable. */
static int svc_start(svc *s)
{
	char bin[512];
	const char *b = getenv("GC_BUILD");
	snprintf(bin, sizeof(bin), "%s/bin/gcron-service", b ? b : "build");
	char *argv[] = {bin, (char *)"-c", s->cfg, NULL};
	int64_t t0 = gc__mono_ms();
	int starts = 0;
	while (gc__mono_ms() - t0 < 60000) {
		s->pid = spawn(argv, s->log, NULL);
		if (s->pid <= 0)
			return -1;
		starts++;
		while (gc__mono_ms() - t0 < 60000) {
			if (svc_up(s)) {
				if (starts > 1)
					say("%s up after %d starts", s->name,
					    starts);
				return 0;
			}
			int st;
			if (reaped(s->pid, &st)) {
				s->pid = 0;
				break;
			}
			sleep_ms(50);
		}
		if (s->pid > 0)
			break;
		sleep_ms(1000);
	}
	say("%s did not come up within 60 s (log %s)", s->name, s->log);
	svc_kill9(s);
	return -1;
}

static void svc_kill9(svc *s)
{
	kill9(s->pid);
	s->pid = 0;
}

static gc_store *store_open(int backend)
{
	gc_store_options o;
	gc_store_options_init(&o, GC_STORE_OPTIONS_VERSION);
	char mysvc[64];
	if (backend == SINK_MARIADB) {
		snprintf(mysvc, sizeof(mysvc), "%s:%d", gct_mariadb_host(G.maria),
			 gct_mariadb_port(G.maria));
		o.backend = GC_STORE_MYSQL;
		o.mysql_service = mysvc;
		o.mysql_username = "gc";
		o.mysql_password = "gcpass";
		o.mysql_database = "gophercron";
	} else {
		o.sqlite_path = G.svc[SINK_SQLITE].db;
	}
	o.pool_size = 1;
	gc_store *s = NULL;
	gc_error err;
	if (gc_store_open(&s, &o, &err)) {
		say("opening the %s store: %s",
		    backend == SINK_MARIADB ? "MariaDB" : "SQLite", err.msg);
		return NULL;
	}
	return s;
}

/* -------------------------------------------------------------- agents */

static int agent_write_cfg(agent *a)
{
	char eps[1024];
	FILE *f = fopen(a->cfg, "w");
	if (!f)
		return -1;
	toml_endpoints(a->idx, eps, sizeof(eps));
	fprintf(f,
		"log_level = \"info\"\n"
		"report_addr = \"http://127.0.0.1:%d/api/v1/report\"\n"
		"report_token = \"%s\"\n"
		"client_ip = \"%s\"\n"
		"spool_dir = \"%s/spool-%s-%d\"\n"
		"claim_ttl = 60\n"
		"kill_grace = \"1s\"\n"
		"[agent]\n"
		"max_clock_offset = \"4s\"\n"
		"[deploy]\n"
		"timeout = 5\n"
		"[etcd]\n"
		"service = [%s]\n"
		"prefix = \"%s\"\n"
		"projects = [%d]\n"
		"shell = \"/bin/bash\"\n",
		G.svc[a->sink].port, TOKEN, a->ip, G.dir,
		a->sink == SINK_MARIADB ? "mariadb" : "sqlite", a->idx, eps,
		PREFIX, PROJECT);
	return fclose(f);
}

static int agent_registrations(const agent *a)
{
	return count_in_file(a->log, "agent: registered project=");
}

static int agent_start(agent *a)
{
	char bin[512];
	const char *b = getenv("GC_BUILD");
	snprintf(bin, sizeof(bin), "%s/bin/gcron-agent", b ? b : "build");
	char *argv[] = {bin, (char *)"-c", a->cfg, NULL};
	static char env[6][600];
	const char *envp[7] = {NULL};
	int n = 0;
	if (agent_write_cfg(a))
		return -1;
	if (a->clock != CLK_REAL) {
		snprintf(env[n], sizeof(env[n]), "LD_PRELOAD=%s", FAKETIME_LIB);
		envp[n] = env[n], n++;
		snprintf(env[n], sizeof(env[n]), "FAKETIME_NO_CACHE=1");
		envp[n] = env[n], n++;
		if (a->clock == CLK_STEP) {
			if (write_file(a->stamp, "+0s\n"))
				return -1;
			/* The monotonic clock is faked too, so it steps
			 * with the wall clock (FAKETIME_DONT_FAKE_MONOTONIC
			 * would make libfaketime's monotonic
			 * pthread_cond_timedwait return at once: threads
			 * waiting on one would spin). The agent's check
			 * probes of etcd's clock see the jump. */
			snprintf(env[n], sizeof(env[n]),
				 "FAKETIME_TIMESTAMP_FILE=%s", a->stamp);
			envp[n] = env[n], n++;
		} else {
			snprintf(env[n], sizeof(env[n]), "FAKETIME=%s",
				 a->clock == CLK_PLUS3 ? "+3s" : "-3s");
			envp[n] = env[n], n++;
		}
	}
	envp[n] = NULL;
	int before = agent_registrations(a);
	a->pid = spawn(argv, a->log, envp);
	a->stopped = 0;
	if (a->pid <= 0)
		return -1;
	int64_t t0 = gc__mono_ms();
	while (gc__mono_ms() - t0 < 30000) {
		if (agent_registrations(a) > before)
			return 0;
		int st;
		if (reaped(a->pid, &st)) {
			say("agent %s exited during start-up (log %s)", a->ip,
			    a->log);
			a->pid = 0;
			return -1;
		}
		sleep_ms(50);
	}
	say("agent %s did not register within 30 s (log %s)", a->ip, a->log);
	return -1;
}

static int agent_stop(agent *a)
{
	int st = stop_pid(a->pid, 30000);
	a->pid = 0;
	a->stopped = 0;
	return st;
}

static void agent_kill9(agent *a)
{
	kill9(a->pid);
	a->pid = 0;
	a->stopped = 0;
}

static const char *clock_name(int c)
{
	static const char *const n[] = {"real", "+3s", "-3s", "stepping"};
	return n[c];
}

/* Bring every agent to the phase's sink and clock (rolling restart, one
 * at a time, graceful). */
static int agents_prepare(const phase *ph)
{
	for (int i = 0; i < NAGENTS; i++) {
		agent *a = &G.ag[i];
		if (a->pid > 0 && a->sink == ph->sink &&
		    a->clock == ph->clock[i] && ph->clock[i] != CLK_STEP)
			continue;
		if (a->pid > 0) {
			int st = agent_stop(a);
			if (st != 0) {
				say("agent %s: graceful stop gave status %d",
				    a->ip, st);
				a->exits_bad++;
			}
		}
		a->sink = ph->sink;
		a->clock = ph->clock[i];
		if (agent_start(a))
			return -1;
		say("agent %s up (sink %s, clock %s)", a->ip,
		    G.svc[a->sink].name, clock_name(a->clock));
	}
	return 0;
}

/* Agents that died by themselves count as failures; everything that was
 * stopped or killed on purpose is brought back. */
static int agents_heal(phase_ctx *p)
{
	int rc = 0;
	for (int i = 0; i < NAGENTS; i++) {
		agent *a = &G.ag[i];
		int st;
		if (a->pid > 0 && reaped(a->pid, &st)) {
			check(p, 0, "agent %s exited on its own (status %d)",
			      a->ip, st);
			a->pid = 0;
		}
		if (a->stopped) {
			kill(a->pid, SIGCONT);
			a->stopped = 0;
		}
		if (a->pid <= 0 && agent_start(a))
			rc = -1;
	}
	return rc;
}

/* ------------------------------------------------------------- ticks */

typedef struct tick_line {
	int64_t plan;
	char ip[32];
	double real;
	int matched;
} tick_line;

static tick_line *read_ticks(const char *path, int *count)
{
	char *s = slurp(path, NULL), *save = NULL;
	int n = 0, cap = 0;
	tick_line *v = NULL;
	for (char *l = strtok_r(s, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		long long plan;
		char ip[32];
		double real = 0;
		if (sscanf(l, "%lld %31s %lf", &plan, ip, &real) < 2)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			v = realloc(v, (size_t)cap * sizeof(*v));
		}
		v[n].plan = plan;
		snprintf(v[n].ip, sizeof(v[n].ip), "%s", ip);
		v[n].real = real;
		v[n].matched = 0;
		n++;
	}
	free(s);
	*count = n;
	return v;
}

static int agent_by_ip(const char *ip)
{
	for (int i = 0; i < NAGENTS; i++)
		if (strcmp(G.ag[i].ip, ip) == 0)
			return i;
	return -1;
}

/* Wait for a run that starts now (a new line), return its agent and plan:
 * that agent is mid-run for the next TASK_SLEEP seconds. `exclude` is an
 * agent index not to return (-1: any). */
static int wait_fresh_run(phase_ctx *p, int exclude, int64_t *plan,
			  int ms)
{
	int64_t t0 = gc__mono_ms();
	off_t size = file_size(p->ticks);
	while (gc__mono_ms() - t0 < ms) {
		off_t now = file_size(p->ticks);
		if (now > size) {
			char *s = slurp(p->ticks, NULL);
			size_t len = strlen(s);
			while (len && s[len - 1] == '\n')
				s[--len] = '\0';
			char *last = strrchr(s, '\n');
			long long pl = 0;
			char ip[32] = "";
			int ok = sscanf(last ? last + 1 : s, "%lld %31s", &pl,
					ip) == 2;
			free(s);
			size = now;
			int i = ok ? agent_by_ip(ip) : -1;
			if (i >= 0 && i != exclude && G.ag[i].pid > 0 &&
			    !G.ag[i].stopped) {
				if (plan)
					*plan = pl;
				return i;
			}
		}
		sleep_ms(5);
	}
	return -1;
}

/* ------------------------------------------------------------- faults */

static int hold_ms(int short_ms, int long_ms)
{
	return G.long_profile ? long_ms : short_ms;
}

static void add_window(phase_ctx *p, int64_t from, int64_t to)
{
	if (p->nwin < MAX_WINDOWS) {
		p->win[p->nwin].from = from;
		p->win[p->nwin].to = to;
		p->nwin++;
	}
}

static void kill_agent_mid_run(phase_ctx *p, int exclude, int restart_ms)
{
	int64_t plan = 0;
	int v = wait_fresh_run(p, exclude, &plan, 5000);
	if (v < 0) {
		check(p, 0, "found a run in progress to kill");
		return;
	}
	agent *a = &G.ag[v];
	int64_t t_kill = gc__wall_ns();
	agent_kill9(a);
	say("SIGKILL agent %s while it runs plan %lld", a->ip,
	    (long long)plan);
	/* Failover window: a tick the killed agent had claimed ahead
	 * (claim_ahead, 500 ms) is not run; it is planned within that of
	 * the kill. Later ticks are claimed by the others. */
	add_window(p, (t_kill + 500000000LL) / 1000000000LL,
		   (t_kill + 500000000LL) / 1000000000LL);
	if (p->ninterrupted < MAX_INTERRUPTED) {
		p->interrupted[p->ninterrupted].plan = plan;
		snprintf(p->interrupted[p->ninterrupted].ip,
			 sizeof(p->interrupted[0].ip), "%s", a->ip);
		p->ninterrupted++;
	}
	if (restart_ms >= 0) {
		sleep_ms(restart_ms);
		if (agent_start(a))
			check(p, 0, "agent %s restarted after SIGKILL", a->ip);
		else
			say("agent %s restarted", a->ip);
	}
}

static void inject_agent_kill(phase_ctx *p)
{
	int kills = G.long_profile ? 5 : 2;
	for (int k = 0; k < kills; k++) {
		kill_agent_mid_run(p, -1, 2000);
		sleep_ms(hold_ms(2000, 5000));
	}
}

static int kill_leader(phase_ctx *p, int64_t *t_kill)
{
	int l = wait_leader(15000);
	if (l < 0) {
		check(p, 0, "etcd has a leader before the kill");
		return -1;
	}
	*t_kill = now_s();
	gct_etcd_signal(G.etcd, l, SIGKILL);
	int64_t t0 = gc__mono_ms();
	int nl = wait_leader(20000);
	say("SIGKILL etcd leader (member %d); new leader member %d after "
	    "%lld ms",
	    l, nl, (long long)(gc__mono_ms() - t0));
	if (nl < 0)
		check(p, 0, "a new etcd leader was elected");
	return l;
}

static void restart_member(phase_ctx *p, int m)
{
	if (gct_etcd_restart(G.etcd, m) ||
	    gct_etcd_wait_healthy(G.etcd, m, 30000))
		check(p, 0, "etcd member %d restarted and healthy", m);
	else
		say("etcd member %d restarted", m);
}

static void inject_leader_kill(phase_ctx *p)
{
	int rounds = G.long_profile ? 3 : 1;
	for (int r = 0; r < rounds; r++) {
		int64_t t;
		int l = kill_leader(p, &t);
		sleep_ms(hold_ms(4000, 8000));
		if (l >= 0)
			restart_member(p, l);
		sleep_ms(hold_ms(2000, 5000));
	}
}

/* Kill the leader and one follower: the last member has no quorum. */
static void quorum_loss(phase_ctx *p, int hold)
{
	int l = wait_leader(15000);
	if (l < 0) {
		check(p, 0, "etcd has a leader before quorum loss");
		return;
	}
	int f = (l + 1) % 3;
	int64_t t_loss = now_s();
	gct_etcd_signal(G.etcd, l, SIGKILL);
	gct_etcd_signal(G.etcd, f, SIGKILL);
	say("quorum lost: SIGKILL members %d (leader) and %d", l, f);
	sleep_ms(hold);
	restart_member(p, l);
	restart_member(p, f);
	int nl = wait_leader(30000);
	int64_t t_back = now_s();
	say("quorum back (leader member %d), %lld s without quorum", nl,
	    (long long)(t_back - t_loss));
	if (nl < 0)
		check(p, 0, "etcd elected a leader after quorum came back");
	/* Ticks planned while there was no quorum are claimed late once it
	 * is back, if still within the agents' late grace (10 s); older
	 * ones are skipped. 5 s of margin for a request that was waiting
	 * on the surviving member when quorum came back. */
	add_window(p, t_loss - 1, t_back - LATE_GRACE_S + 5);
	note(p, "no quorum %llds", (long long)(t_back - t_loss));
}

static void inject_quorum(phase_ctx *p)
{
	quorum_loss(p, hold_ms(6000, 20000));
	if (G.long_profile) {
		sleep_ms(8000);
		quorum_loss(p, 5000);
	}
}

static void service_outage(phase_ctx *p, svc *s, int hold, int graceful)
{
	if (graceful) {
		int st = stop_pid(s->pid, 20000);
		s->pid = 0;
		if (st != 0)
			check(p, 0, "%s stopped gracefully (status %d)", s->name,
			      st);
	} else {
		svc_kill9(s);
	}
	say("%s down (%s) for %d s", s->name, graceful ? "SIGTERM" : "SIGKILL",
	    hold / 1000);
	sleep_ms(hold);
	if (svc_start(s))
		check(p, 0, "%s restarted", s->name);
	else
		say("%s back", s->name);
}

static void inject_service_down(phase_ctx *p)
{
	service_outage(p, &G.svc[SINK_SQLITE], hold_ms(8000, 25000), 0);
	if (G.long_profile) {
		sleep_ms(5000);
		service_outage(p, &G.svc[SINK_SQLITE], 10000, 1);
	}
}

static void mariadb_outage(phase_ctx *p, int hold)
{
	kill(gct_mariadb_pid(G.maria), SIGKILL);
	say("MariaDB SIGKILLed, down for %d s", hold / 1000);
	sleep_ms(hold);
	if (gct_mariadb_restart(G.maria))
		check(p, 0, "MariaDB restarted");
	else
		say("MariaDB back");
}

static void inject_mariadb(phase_ctx *p)
{
	mariadb_outage(p, hold_ms(4000, 15000));
	sleep_ms(hold_ms(3000, 8000));
	mariadb_outage(p, 0);
	if (G.long_profile) {
		sleep_ms(8000);
		mariadb_outage(p, 5000);
	}
}

static void inject_skew(phase_ctx *p)
{
	(void)p;
	sleep_ms(hold_ms(12000, 45000));
}

static void step_clock(agent *a, const char *offset)
{
	char text[32];
	snprintf(text, sizeof(text), "%s\n", offset);
	write_file(a->stamp, text);
	say("agent %s wall clock now at %s", a->ip, offset);
}

static void inject_clock_step(phase_ctx *p)
{
	agent *a = &G.ag[2];
	const char *moved = "cluster time estimate restarted (a clock moved";
	int before = count_in_file(a->log, moved);
	step_clock(a, "+20s"); /* forward 20 s */
	sleep_ms(hold_ms(5000, 10000));
	step_clock(a, "+0s"); /* back 20 s */
	sleep_ms(hold_ms(5000, 10000));
	if (G.long_profile) {
		step_clock(a, "-25s"); /* back 25 s */
		sleep_ms(10000);
		step_clock(a, "+0s"); /* forward 25 s */
		sleep_ms(10000);
	}
	int64_t t0 = gc__mono_ms();
	int want = before + (G.long_profile ? 4 : 2);
	while (gc__mono_ms() - t0 < 5000 &&
	       count_in_file(a->log, moved) < want)
		sleep_ms(100);
	/* Its clocks (wall and monotonic) jumped: its check probes of
	 * etcd's clock saw each jump and restarted the estimate. */
	check(p, count_in_file(a->log, moved) >= want,
	      "agent %s saw each step of its clocks (%d estimate restarts)",
	      a->ip, count_in_file(a->log, moved) - before);
}

static void freeze_agent(phase_ctx *p, int exclude, int hold)
{
	int64_t plan = 0;
	int v = wait_fresh_run(p, exclude, &plan, 5000);
	if (v < 0) {
		check(p, 0, "found a run in progress to freeze");
		return;
	}
	agent *a = &G.ag[v];
	char *reg = gc_key_register(PREFIX, PROJECT, a->ip);
	int before = agent_registrations(a);
	int lost_before = count_in_file(a->log, "agent: session lease lost");
	kill(a->pid, SIGSTOP);
	a->stopped = 1;
	say("SIGSTOP agent %s while it runs plan %lld, for %d s", a->ip,
	    (long long)plan, hold / 1000);
	sleep_ms(hold);
	int gone = key_exists(reg) == 0;
	kill(a->pid, SIGCONT);
	a->stopped = 0;
	say("SIGCONT agent %s (registration %s while frozen)", a->ip,
	    gone ? "expired" : "still present");
	int64_t t0 = gc__mono_ms();
	while (gone && gc__mono_ms() - t0 < 20000 &&
	       (agent_registrations(a) == before || key_exists(reg) != 1))
		sleep_ms(100);
	int back = agent_registrations(a) > before && key_exists(reg) == 1;
	int noticed = count_in_file(a->log, "agent: session lease lost") >
		      lost_before;
	/* An etcd leader change while it is frozen resets the lease's TTL
	 * (etcd-gateway.md 5), so the lease may outlive the freeze: then
	 * there is nothing to notice, but the agent must be registered. */
	int registered = key_exists(reg) == 1;
	check(p, registered && (!gone || (noticed && back)),
	      "agent %s: lease expired while frozen (%s), agent noticed (%s), "
	      "registered again %lld ms after SIGCONT (%s)",
	      a->ip, gone ? "yes" : "no", noticed ? "yes" : "no",
	      (long long)(gc__mono_ms() - t0), registered ? "yes" : "no");
	if (!gone && hold >= (SESSION_TTL_S + 3) * 1000)
		note(p, "lease outlived the %d s freeze", hold / 1000);
	gc_free(reg);
}

static void inject_sigstop(phase_ctx *p)
{
	freeze_agent(p, -1, hold_ms(14000, 25000));
	sleep_ms(hold_ms(2000, 5000));
}

/* Every agent stalls at once (a suspended VM, an overloaded host): the
 * ticks that fell due meanwhile are still within the late grace when the
 * agents resume, so each must run, late, exactly once. */
static void fleet_stall(phase_ctx *p, int hold)
{
	(void)p;
	for (int i = 0; i < NAGENTS; i++) {
		kill(G.ag[i].pid, SIGSTOP);
		G.ag[i].stopped = 1;
	}
	say("SIGSTOP every agent for %d s", hold / 1000);
	sleep_ms(hold);
	for (int i = 0; i < NAGENTS; i++) {
		kill(G.ag[i].pid, SIGCONT);
		G.ag[i].stopped = 0;
	}
	say("SIGCONT every agent");
}

static void inject_stall(phase_ctx *p)
{
	fleet_stall(p, 4000);
	sleep_ms(hold_ms(3000, 6000));
	if (G.long_profile) {
		fleet_stall(p, 8000);
		sleep_ms(6000);
	}
}

/* Everything at once: skewed and stepping agents (set by the phase), the
 * etcd leader, an agent mid-run, the service, MariaDB, a frozen agent,
 * quorum. */
static void inject_combined(phase_ctx *p)
{
	svc *s = &G.svc[SINK_MARIADB];
	agent *stepper = &G.ag[2];
	int64_t t;
	int l = kill_leader(p, &t);
	svc_kill9(s);
	say("%s SIGKILLed", s->name);
	/* The agent running a tick (not the stepping one, which claims
	 * everything first once it is ahead). */
	kill_agent_mid_run(p, 2, -1); /* restarted below */
	int victim = G.ag[0].pid <= 0 ? 0 : 1;
	int64_t dead_lease = 0; /* the killed process's registration */
	clock_ok(&G.ag[victim], -1, &dead_lease);
	step_clock(stepper, "+5s");
	sleep_ms(2000);
	if (G.ag[victim].pid > 0)
		check(p, 0, "an agent was killed mid-run");
	else if (agent_start(&G.ag[victim]))
		check(p, 0, "agent %s restarted", G.ag[victim].ip);
	else
		say("agent %s restarted", G.ag[victim].ip);
	/* A restarted agent claims once it knows etcd's clock (a few
	 * seconds); with the stepper off by 5 s, it is the one agent left
	 * to claim when the other is frozen: without it nobody may claim,
	 * by design, and ticks past the late grace would be missed. */
	int waited = wait_clock_ok(&G.ag[victim], dead_lease, 20000);
	if (waited < 0)
		check(p, 0, "agent %s knows etcd's clock after its restart",
		      G.ag[victim].ip);
	else
		say("agent %s knows etcd's clock (it claims) %d ms after "
		    "its restart",
		    G.ag[victim].ip, waited);
	/* Freeze the other skewed agent for longer than its lease. */
	int frozen = 1 - victim;
	agent *fa = &G.ag[frozen];
	/* Frozen at a random instant, it may hold the next tick, claimed
	 * ahead (claim_ahead, 500 ms): not run, as for a killed agent. */
	int64_t t_stop = gc__wall_ns();
	add_window(p, (t_stop + 500000000LL) / 1000000000LL,
		   (t_stop + 500000000LL) / 1000000000LL);
	kill(fa->pid, SIGSTOP);
	fa->stopped = 1;
	say("SIGSTOP agent %s", fa->ip);
	if (l >= 0)
		restart_member(p, l);
	sleep_ms(2000);
	if (svc_start(s))
		check(p, 0, "%s restarted", s->name);
	else
		say("%s back", s->name);
	sleep_ms(1000);
	mariadb_outage(p, 3000);
	step_clock(stepper, "+0s");
	quorum_loss(p, hold_ms(5000, 12000));
	kill(fa->pid, SIGCONT);
	fa->stopped = 0;
	say("SIGCONT agent %s", fa->ip);
	sleep_ms(hold_ms(4000, 10000));
}

/* -------------------------------------------------------------- count */

static int in_window(const phase_ctx *p, int64_t plan)
{
	for (int i = 0; i < p->nwin; i++)
		if (plan >= p->win[i].from && plan <= p->win[i].to)
			return 1;
	return 0;
}

static int was_interrupted(const phase_ctx *p, const tick_line *l)
{
	for (int i = 0; i < p->ninterrupted; i++)
		if (p->interrupted[i].plan == l->plan &&
		    strcmp(p->interrupted[i].ip, l->ip) == 0)
			return 1;
	return 0;
}

typedef struct rows {
	gc_store_log *v;
	size_t n;
} rows;

static void rows_free(rows *r)
{
	for (size_t i = 0; i < r->n; i++)
		gc_store_log_clear(&r->v[i]);
	free(r->v);
	r->v = NULL;
	r->n = 0;
}

static int fetch_rows(int backend, const char *tid, rows *out)
{
	gc_store *s = store_open(backend);
	int64_t pid = PROJECT;
	gc_error err;
	memset(out, 0, sizeof(*out));
	if (!s)
		return -1;
	for (int page = 1;; page++) {
		gc_store_log_query q = {&pid, 1, tid, 0, page, 1000, 0, 0};
		gc_store_logs l = {0};
		if (gc_store_log_list(&l, s, &q, &err)) {
			say("listing logs: %s", err.msg);
			gc_store_free(s);
			rows_free(out);
			return -1;
		}
		out->v = realloc(out->v, (out->n + l.count + 1) * sizeof(*out->v));
		for (size_t i = 0; i < l.count; i++) {
			out->v[out->n++] = l.items[i];
			memset(&l.items[i], 0, sizeof(l.items[i]));
		}
		size_t got = l.count;
		gc_store_logs_clear(&l);
		if (got < 1000)
			break;
	}
	gc_store_free(s);
	return 0;
}

/* Match runs to log rows by run id ("<project>-<task>-<plan>-<agent>",
 * the same on every re-delivery); returns the runs without a row. Rows
 * whose client_ip is not the agent that ran them are counted in
 * *wrong_ip. */
static int match_rows(const char *tid, tick_line *lines, int n, rows *r,
		      int *unmatched_rows, int *wrong_ip)
{
	char *used = calloc(r->n + 1, 1);
	int lost = 0;
	if (wrong_ip)
		*wrong_ip = 0;
	for (int i = 0; i < n; i++) {
		char *rid = gc_run_id(PROJECT, tid, lines[i].plan, lines[i].ip);
		lines[i].matched = 0;
		for (size_t k = 0; rid && k < r->n; k++) {
			if (used[k] || strcmp(r->v[k].run_id, rid) != 0)
				continue;
			used[k] = 1;
			lines[i].matched = 1;
			if (wrong_ip && strcmp(r->v[k].client_ip, lines[i].ip))
				(*wrong_ip)++;
			break;
		}
		gc_free(rid);
		lost += !lines[i].matched;
	}
	*unmatched_rows = 0;
	for (size_t k = 0; k < r->n; k++)
		*unmatched_rows += !used[k];
	free(used);
	return lost;
}

/* Wait until every run but the interrupted ones has its row (results may
 * still be in the spools, retried with backoff up to 30 s). */
static void wait_delivery(phase_ctx *p, int backend, int ms)
{
	int64_t t0 = gc__mono_ms();
	for (;;) {
		int n = 0, extra = 0, missing = 0;
		tick_line *lines = read_ticks(p->ticks, &n);
		rows r;
		if (fetch_rows(backend, p->task_id, &r) == 0) {
			match_rows(p->task_id, lines, n, &r, &extra, NULL);
			for (int i = 0; i < n; i++)
				missing += !lines[i].matched &&
					   !was_interrupted(p, &lines[i]);
			rows_free(&r);
		} else {
			missing = -1;
		}
		free(lines);
		if (missing == 0) {
			say("results delivered after %lld ms",
			    (long long)(gc__mono_ms() - t0));
			return;
		}
		if (gc__mono_ms() - t0 > ms) {
			say("gave up waiting for %d result(s) after %d s",
			    missing, ms / 1000);
			return;
		}
		sleep_ms(500);
	}
}

static void count_phase(phase_ctx *p, result_row *res)
{
	int n = 0, extra = 0;
	tick_line *lines = read_ticks(p->ticks, &n);
	rows r = {0};
	int64_t first = p->t_put + 2, last = p->t_del - 2;

	memset(res, 0, sizeof(*res));
	res->name = p->ph->name;
	res->runs = n;
	res->planned = (int)(last - first + 1);
	/* missed */
	for (int64_t plan = first; plan <= last; plan++) {
		int c = 0;
		for (int i = 0; i < n; i++)
			c += lines[i].plan == plan;
		if (c)
			continue;
		if (in_window(p, plan)) {
			res->missed_win++;
			printf("#   plan %lld not run (inside the failover "
			       "window)\n",
			       (long long)plan);
		} else {
			res->missed++;
			printf("#   MISSED plan %lld\n", (long long)plan);
		}
	}
	/* doubled */
	for (int i = 0; i < n; i++) {
		int c = 0, seen_before = 0;
		for (int k = 0; k < n; k++) {
			if (lines[k].plan != lines[i].plan)
				continue;
			c++;
			if (k < i)
				seen_before = 1;
		}
		if (c > 1 && !seen_before) {
			res->doubled++;
			printf("#   DOUBLED plan %lld ran %d times:",
			       (long long)lines[i].plan, c);
			for (int k = 0; k < n; k++)
				if (lines[k].plan == lines[i].plan)
					printf(" %s@%.3f", lines[k].ip,
					       lines[k].real);
			putchar('\n');
		}
	}
	/* start delay, from the real time each run recorded (negative: a
	 * run started before its planned time, by an agent whose clock is
	 * ahead) */
	res->min_delay_s = 1e9;
	for (int i = 0; i < n; i++) {
		double d = lines[i].real - (double)lines[i].plan;
		if (lines[i].plan < first || lines[i].plan > last)
			continue;
		if (lines[i].real > 0 && d > res->max_delay_s)
			res->max_delay_s = d;
		if (lines[i].real > 0 && d < res->min_delay_s)
			res->min_delay_s = d;
	}
	if (res->min_delay_s > 1e8)
		res->min_delay_s = 0;
	/* lost */
	if (fetch_rows(p->ph->sink, p->task_id, &r) == 0) {
		res->lost = match_rows(p->task_id, lines, n, &r, &extra,
				       &res->wrong_ip);
		for (int i = 0; i < n; i++)
			if (!lines[i].matched)
				printf("#   LOST result of plan %lld on %s%s\n",
				       (long long)lines[i].plan, lines[i].ip,
				       was_interrupted(p, &lines[i])
					       ? " (its agent was SIGKILLed "
						 "during the run)"
					       : "");
		for (size_t k = 0; k < r.n; k++) {
			if (r.v[k].with_error) {
				res->error_rows++;
				printf("#   row with error: plan %lld %s %s\n",
				       (long long)r.v[k].plan_time,
				       r.v[k].client_ip, r.v[k].result);
			}
		}
		res->extra_rows = extra;
		if (extra)
			printf("#   %d row(s) without a run in the file\n",
			       extra);
		rows_free(&r);
	} else {
		res->lost = n;
		check(p, 0, "reading the task log from the store");
	}
	free(lines);
}

/* -------------------------------------------------------------- phases */

static const phase PHASES[] = {
	{"agent-kill", "SIGKILL of the agent running a tick, restarted 2 s later",
	 SINK_SQLITE, {CLK_REAL, CLK_REAL, CLK_REAL}, inject_agent_kill},
	{"leader-kill", "SIGKILL of the etcd leader, restarted later",
	 SINK_SQLITE, {CLK_REAL, CLK_REAL, CLK_REAL}, inject_leader_kill},
	{"quorum", "2 of 3 etcd members SIGKILLed, restarted later",
	 SINK_SQLITE, {CLK_REAL, CLK_REAL, CLK_REAL}, inject_quorum},
	{"service-down", "gcron-service (SQLite) SIGKILLed, restarted later",
	 SINK_SQLITE, {CLK_REAL, CLK_REAL, CLK_REAL}, inject_service_down},
	{"skew", "agents at +3 s, -3 s and 0 s (libfaketime)", SINK_SQLITE,
	 {CLK_PLUS3, CLK_MINUS3, CLK_REAL}, inject_skew},
	{"clock-step", "one agent's wall clock stepped +20 s, then back",
	 SINK_SQLITE, {CLK_REAL, CLK_REAL, CLK_STEP}, inject_clock_step},
	{"sigstop", "the agent running a tick frozen (SIGSTOP) past its lease",
	 SINK_SQLITE, {CLK_REAL, CLK_REAL, CLK_REAL}, inject_sigstop},
	{"stall", "every agent frozen (SIGSTOP) 4 s, within the late grace",
	 SINK_SQLITE, {CLK_REAL, CLK_REAL, CLK_REAL}, inject_stall},
	{"mariadb", "MariaDB behind the service SIGKILLed and restarted",
	 SINK_MARIADB, {CLK_REAL, CLK_REAL, CLK_REAL}, inject_mariadb},
	{"combined", "all of the above in one round (MariaDB service)",
	 SINK_MARIADB, {CLK_PLUS3, CLK_MINUS3, CLK_STEP}, inject_combined},
};
#define NPHASES (sizeof(PHASES) / sizeof(PHASES[0]))

static int run_phase(const phase *ph)
{
	phase_ctx p;
	char cmd[1024];
	result_row *res = &G.results[G.nresults++];
	int64_t t_start = now_s();

	memset(&p, 0, sizeof(p));
	p.ph = ph;
	snprintf(p.task_id, sizeof(p.task_id), "rel-%s", ph->name);
	snprintf(p.ticks, sizeof(p.ticks), "%s/ticks-%s.txt", G.dir, ph->name);
	say("== %s: %s", ph->name, ph->what);
	if (agents_prepare(ph)) {
		memset(res, 0, sizeof(*res));
		res->name = ph->name;
		res->checks_failed = 1;
		printf("not ok - %s: agents did not start\n", ph->name);
		return -1;
	}
	/* The real start time comes from date(1) without libfaketime. */
	snprintf(cmd, sizeof(cmd),
		 "echo \"$GOPHERCRON_PLAN_TIME $GOPHERCRON_AGENT_IP "
		 "$(LD_PRELOAD= date +%%s.%%N)\" >> %s; sleep " TASK_SLEEP,
		 p.ticks);
	p.t_put = now_s();
	if (put_task(p.task_id, cmd)) {
		check(&p, 0, "task stored in etcd");
		goto out;
	}
	sleep_ms(hold_ms(4000, 6000));
	ph->inject(&p);
	sleep_ms(hold_ms(4000, 8000));
	char *key = gc_key_task(PREFIX, PROJECT, p.task_id);
	if (delete_key(key))
		check(&p, 0, "task deleted from etcd");
	p.t_del = now_s();
	gc_free(key);
	sleep_ms(1500); /* runs in flight end */

	/* Back to normal so every spool can drain. */
	if (agents_heal(&p))
		check(&p, 0, "agents running again");
	for (int b = 0; b < 2; b++)
		if (G.svc[b].port && G.svc[b].pid <= 0 && svc_start(&G.svc[b]))
			check(&p, 0, "%s running again", G.svc[b].name);
	wait_delivery(&p, ph->sink, 60000);

	/* t_status: gone once runs end (a SIGKILLed runner's key goes with
	 * its session lease: TTL 10 s, reset by an etcd leader change). */
	char *status = gc_key_status(PREFIX, PROJECT, p.task_id);
	int stuck = wait_key(status, 0, 3 * SESSION_TTL_S * 1000) < 0;
	gc_free(status);

	count_phase(&p, res);
	res->stuck = stuck;
	if (stuck)
		printf("#   STUCK %s/%d/%s/t_status still present\n", PREFIX,
		       PROJECT, p.task_id);
out:
	res->name = ph->name;
	res->checks_failed += p.checks_failed;
	res->seconds = now_s() - t_start;
	res->ok = res->missed == 0 && res->doubled == 0 && res->lost == 0 &&
		  res->stuck == 0 && res->checks_failed == 0 && res->runs > 0;
	printf("%s - %s: planned %d, runs %d, missed %d (+%d in window), "
	       "doubled %d, lost %d, t_status stuck %d, start delay %.2f.."
	       "%.2f s, %lld s%s%s\n",
	       res->ok ? "ok" : "not ok", ph->name, res->planned, res->runs,
	       res->missed, res->missed_win, res->doubled, res->lost,
	       res->stuck, res->min_delay_s, res->max_delay_s,
	       (long long)res->seconds,
	       p.notes[0] ? "; " : "", p.notes);
	fflush(stdout);
	return res->ok ? 0 : -1;
}

/* ------------------------------------------------------------- final */

/* After a graceful stop of everything: no t_status key anywhere, every
 * claim key on a lease. */
static int final_checks(void)
{
	gc_etcd_get_options o = GC_ETCD_GET_OPTIONS_INIT;
	gc_etcd_response r = {0};
	gc_error err;
	int status_keys = 0, claims = 0, unleased = 0, rc;
	o.flags = GC_ETCD_PREFIX | GC_ETCD_KEYS_ONLY;
	rc = gc_etcd_get(&r, G.c, PREFIX "/", &o, &err);
	if (rc) {
		printf("not ok - final: listing %s/: %s\n", PREFIX, err.msg);
		return -1;
	}
	for (size_t i = 0; i < r.kvs_count; i++) {
		const char *k = r.kvs[i].key;
		size_t kl = r.kvs[i].key_len;
		if (kl > 9 && strcmp(k + kl - 9, "/t_status") == 0) {
			status_keys++;
			printf("#   t_status left: %s\n", k);
		}
		if (strncmp(k, PREFIX "/lock/", strlen(PREFIX "/lock/")) == 0) {
			claims++;
			unleased += r.kvs[i].lease == 0;
		}
	}
	gc_etcd_response_clear(&r);
	int bad_exits = 0;
	for (int i = 0; i < NAGENTS; i++)
		bad_exits += G.ag[i].exits_bad;
	int ok = status_keys == 0 && unleased == 0 && bad_exits == 0;
	printf("%s - final: %d t_status key(s) left, %d claim key(s) alive "
	       "(%d without a lease), %d unclean agent exit(s)\n",
	       ok ? "ok" : "not ok", status_keys, claims, unleased, bad_exits);
	return ok ? 0 : -1;
}

/* The log row of a run names the agent that ran it (its client_ip), as
 * the agents' own SQL sink writes it. */
static int client_ip_check(void)
{
	int wrong = 0, rows_seen = 0;
	for (int i = 0; i < G.nresults; i++) {
		wrong += G.results[i].wrong_ip;
		rows_seen += G.results[i].runs - G.results[i].lost;
	}
	printf("%s - log rows name the agent that ran them: %d of %d rows "
	       "carry another client_ip\n",
	       wrong ? "not ok" : "ok", wrong, rows_seen);
	return wrong ? -1 : 0;
}

static void print_table(void)
{
	printf("#\n# %-13s %7s %5s %6s %6s %7s %4s %5s %14s %6s %5s\n",
	       "fault", "planned", "runs", "missed", "in-win", "doubled",
	       "lost", "stuck", "start delay s", "checks", "secs");
	for (int i = 0; i < G.nresults; i++) {
		result_row *r = &G.results[i];
		printf("# %-13s %7d %5d %6d %6d %7d %4d %5d %6.2f..%-6.2f %6s "
		       "%5lld\n",
		       r->name, r->planned, r->runs, r->missed, r->missed_win,
		       r->doubled, r->lost, r->stuck, r->min_delay_s,
		       r->max_delay_s,
		       r->checks_failed ? "FAILED" : "ok", (long long)r->seconds);
	}
}

static int wanted(const char *only, const char *name)
{
	if (!only)
		return 1;
	size_t n = strlen(name);
	for (const char *p = only; (p = strstr(p, name)); p++)
		if ((p == only || p[-1] == ',') && (p[n] == ',' || !p[n]))
			return 1;
	return 0;
}

static int setup(int need_maria)
{
	G.dir = gct_tmpdir("reliability");
	if (!G.dir)
		return -1;
	say("work dir %s", G.dir);
	if (gct_etcd_start(&G.etcd, 3, NULL)) {
		say("etcd cluster did not start");
		return -1;
	}
	G.c = etcd_client();
	if (!G.c)
		return -1;
	if (need_maria && gct_mariadb_start(&G.maria)) {
		say("MariaDB did not start");
		return -1;
	}
	for (int b = 0; b < 2; b++) {
		svc *s = &G.svc[b];
		if (b == SINK_MARIADB && !need_maria)
			continue;
		s->backend = b;
		s->port = gct_free_port();
		snprintf(s->name, sizeof(s->name), "service-%s",
			 b ? "mariadb" : "sqlite");
		/* a local copy: gcc -O1 cannot tell s->name from s->cfg
		 * (-Wrestrict) */
		const char *name = b ? "service-mariadb" : "service-sqlite";
		snprintf(s->cfg, sizeof(s->cfg), "%s/%s.toml", G.dir, name);
		snprintf(s->log, sizeof(s->log), "%s/%s.log", G.dir, name);
		snprintf(s->db, sizeof(s->db), "%s/service.db", G.dir);
		if (svc_write_cfg(s) || svc_start(s))
			return -1;
		say("%s on port %d", s->name, s->port);
	}
	for (int i = 0; i < NAGENTS; i++) {
		agent *a = &G.ag[i];
		a->idx = i;
		snprintf(a->ip, sizeof(a->ip), "10.77.0.%d", i + 1);
		snprintf(a->cfg, sizeof(a->cfg), "%s/agent%d.toml", G.dir, i);
		snprintf(a->log, sizeof(a->log), "%s/agent%d.log", G.dir, i);
		snprintf(a->stamp, sizeof(a->stamp), "%s/agent%d.faketime",
			 G.dir, i);
	}
	return 0;
}

static void teardown(void)
{
	for (int i = 0; i < NAGENTS; i++)
		if (G.ag[i].pid > 0)
			agent_kill9(&G.ag[i]);
	for (int b = 0; b < 2; b++)
		if (G.svc[b].pid > 0)
			svc_kill9(&G.svc[b]);
	gc_etcd_free(G.c);
	gct_mariadb_stop(G.maria);
	gct_etcd_stop(G.etcd);
	if (G.dir && !G.keep)
		gct_rmrf(G.dir);
	else if (G.dir)
		say("kept %s", G.dir);
	free(G.dir);
}

int main(int argc, char **argv)
{
	const char *only = NULL;
	int passed = 0, failed = 0;
	const char *prof = getenv("GC_RELIABILITY_PROFILE");
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--profile") && i + 1 < argc)
			prof = argv[++i];
		else if (!strcmp(argv[i], "--only") && i + 1 < argc)
			only = argv[++i];
		else if (!strcmp(argv[i], "--keep"))
			G.keep = 1;
		else if (!strcmp(argv[i], "--list")) {
			for (size_t k = 0; k < NPHASES; k++)
				printf("%-13s %s\n", PHASES[k].name,
				       PHASES[k].what);
			return 0;
		} else {
			fprintf(stderr,
				"usage: %s [--profile short|long] [--only "
				"NAME,...] [--keep] [--list]\n",
				argv[0]);
			return 2;
		}
	}
	G.long_profile = prof && !strcmp(prof, "long");
	if (getenv("GCT_KEEP"))
		G.keep = 1;
	setenv("TZ", "UTC", 1);
	tzset();
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (access(FAKETIME_LIB, R_OK) != 0) {
		printf("not ok - setup: %s missing (apt-get install faketime)\n",
		       FAKETIME_LIB);
		printf("0 passed, 1 failed\n");
		return 1;
	}
	int need_maria = 0;
	for (size_t k = 0; k < NPHASES; k++)
		if (wanted(only, PHASES[k].name) &&
		    PHASES[k].sink == SINK_MARIADB)
			need_maria = 1;
	say("profile %s", G.long_profile ? "long" : "short");
	int64_t t0 = now_s();
	if (setup(need_maria)) {
		printf("not ok - setup\n0 passed, 1 failed\n");
		teardown();
		return 1;
	}
	for (size_t k = 0; k < NPHASES; k++) {
		if (!wanted(only, PHASES[k].name))
			continue;
		if (run_phase(&PHASES[k]) == 0)
			passed++;
		else
			failed++;
	}
	/* Graceful stop of every agent, then nothing may be left behind. */
	for (int i = 0; i < NAGENTS; i++) {
		agent *a = &G.ag[i];
		if (a->pid > 0) {
			int st = agent_stop(a);
			if (st != 0) {
				say("agent %s: graceful stop gave status %d",
				    a->ip, st);
				a->exits_bad++;
			}
		}
	}
	if (final_checks() == 0)
		passed++;
	else
		failed++;
	if (client_ip_check() == 0)
		passed++;
	else
		failed++;
	print_table();
	say("total %lld s", (long long)(now_s() - t0));
	teardown();
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
