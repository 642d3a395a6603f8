/* Agent fleet: exactly once per tick across several gcron-agent processes.
 *
 *  - three agents on one project, one at +2 s and one at -2 s wall-clock
 *    skew (libfaketime), two every-second tasks (one instant, one taking
 *    300 ms) for GC_AGENT_FLEET_SECONDS (default 60): every planned second
 *    ran exactly once, none missed (after a 3 s start-up margin), none
 *    twice;
 *  - a 3-member etcd cluster loses (SIGKILL) the member both agents use:
 *    no tick missed, none doubled, both agents stay registered.
 *
 * Ticks are counted by planned time: each run appends
 * "$GOPHERCRON_PLAN_TIME $GOPHERCRON_AGENT_IP" to a file (O_APPEND). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_agent_util.h"

#include <time.h>

#define MAX_PLANS 4096

typedef struct tally {
	int64_t first, last; /* plan range seen */
	int count[MAX_PLANS]; /* runs per plan - base */
	int64_t base;
	int by_agent[4];
	int lines;
} tally;

static const char *const IPS[3] = {"10.1.0.1", "10.1.0.2", "10.1.0.3"};

static void tally_file(tally *t, const char *path, int64_t base)
{
	memset(t, 0, sizeof(*t));
	t->base = base;
	t->first = INT64_MAX;
	t->last = INT64_MIN;
	char *s = atu_slurp(path), *save = NULL;
	for (char *line = strtok_r(s, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		long long plan = 0;
		char ip[32] = "";
		if (sscanf(line, "%lld %31s", &plan, ip) != 2)
			continue;
		t->lines++;
		if (plan - base < 0 || plan - base >= MAX_PLANS)
			continue;
		t->count[plan - base]++;
		if (plan < t->first)
			t->first = plan;
		if (plan > t->last)
			t->last = plan;
		for (int i = 0; i < 3; i++)
			if (strcmp(ip, IPS[i]) == 0)
				t->by_agent[i]++;
	}
	free(s);
}

/* Missing and doubled plans within [from, to]. */
static void tally_check(const tally *t, int64_t from, int64_t to,
			int *missing, int *doubled, const char *what)
{
	*missing = *doubled = 0;
	for (int64_t p = from; p <= to; p++) {
		int c = t->count[p - t->base];
		if (c == 0) {
			(*missing)++;
			fprintf(stderr, "  %s: plan %lld never ran\n", what,
				(long long)p);
		}
	}
	for (int i = 0; i < MAX_PLANS; i++) {
		if (t->count[i] > 1) {
			(*doubled)++;
			fprintf(stderr, "  %s: plan %lld ran %d times\n", what,
				(long long)(t->base + i), t->count[i]);
		}
	}
}

static int wall_s(void)
{
	return (int)time(NULL);
}

static int fleet_seconds(void)
{
	const char *s = getenv("GC_AGENT_FLEET_SECONDS");
	int n = s ? atoi(s) : 0;
	return n >= 10 ? n : 60;
}

static void every_second_ran_once_with_skewed_agents(void **state)
{
	(void)state;
	gct_etcd *e;
	assert_int_equal(gct_etcd_start(&e, 1, NULL), 0);
	char *dir = gct_tmpdir("agent-fleet");
	const char *prefix = "/fleet";
	const char *eps = gct_etcd_endpoints(e);
	gc_etcd *c = atu_client(eps);
	assert_non_null(c);

	static const char *const skew[3] = {NULL, "+2s", "-2s"};
	atu_agent ag[3];
	for (int i = 0; i < 3; i++) {
		char name[32];
		snprintf(name, sizeof(name), "agent%d", i);
		/* 3 s tolerated: the agents 2 s off claim too, by
		 * cluster time */
		assert_int_equal(atu_start_x(&ag[i], dir, name, IPS[i], eps, 0,
					     prefix, "1", skew[i],
					     "[agent]\nmax_clock_offset = "
					     "\"3s\""),
				 0);
	}
	for (int i = 0; i < 3; i++) {
		char *key = gc_key_register(prefix, 1, IPS[i]);
		if (atu_wait_key(c, key, 1, 20000) < 0)
			atu_dump_log(&ag[i], 30);
		assert_true(atu_wait_key(c, key, 1, 1) >= 0);
		gc_free(key);
	}

	char quick_out[600], slow_out[600], quick_cmd[800], slow_cmd[800];
	snprintf(quick_out, sizeof(quick_out), "%s/quick.txt", dir);
	snprintf(slow_out, sizeof(slow_out), "%s/slow.txt", dir);
	snprintf(quick_cmd, sizeof(quick_cmd),
		 "echo \"$GOPHERCRON_PLAN_TIME $GOPHERCRON_AGENT_IP\" >> %s",
		 quick_out);
	snprintf(slow_cmd, sizeof(slow_cmd),
		 "echo \"$GOPHERCRON_PLAN_TIME $GOPHERCRON_AGENT_IP\" >> %s; "
		 "sleep 0.3",
		 slow_out);
	atu_task quick = {"quick", "* * * * * * *", quick_cmd, 0, 0, 0, 0, 0};
	atu_task slow = {"slow300ms", "* * * * * * *", slow_cmd, 0, 0, 0, 0, 0};

	int secs = fleet_seconds();
	int64_t t_put = wall_s();
	assert_int_equal(atu_put_task(c, prefix, 1, &quick), 0);
	assert_int_equal(atu_put_task(c, prefix, 1, &slow), 0);
	fprintf(stderr, "# three agents (0, +2 s, -2 s), two every-second "
			"tasks, %d s\n",
		secs);
	gct_sleep_ms(secs * 1000);
	int64_t t_del = wall_s();
	char *k1 = gc_key_task(prefix, 1, "quick");
	char *k2 = gc_key_task(prefix, 1, "slow300ms");
	assert_int_equal(atu_delete(c, k1), 0);
	assert_int_equal(atu_delete(c, k2), 0);
	gc_free(k1);
	gc_free(k2);
	gct_sleep_ms(3000); /* runs in flight end */

	for (int i = 0; i < 3; i++) {
		int st = atu_stop(&ag[i], 15000);
		if (st != 0)
			atu_dump_log(&ag[i], 40);
		assert_int_equal(st, 0);
	}

	/* Every planned second from 3 s after the put to 3 s before the
	 * delete, for both tasks. */
	static tally tq, ts;
	int64_t base = t_put - 100;
	tally_file(&tq, quick_out, base);
	tally_file(&ts, slow_out, base);
	int mq, dq, ms, ds;
	tally_check(&tq, t_put + 3, t_del - 3, &mq, &dq, "quick");
	tally_check(&ts, t_put + 3, t_del - 3, &ms, &ds, "slow300ms");
	fprintf(stderr,
		"# quick: %d runs (agent 0: %d, +2s: %d, -2s: %d), missing %d, "
		"doubled %d\n",
		tq.lines, tq.by_agent[0], tq.by_agent[1], tq.by_agent[2], mq,
		dq);
	fprintf(stderr,
		"# slow300ms: %d runs (agent 0: %d, +2s: %d, -2s: %d), "
		"missing %d, doubled %d\n",
		ts.lines, ts.by_agent[0], ts.by_agent[1], ts.by_agent[2], ms,
		ds);
	if (mq || dq || ms || ds)
		for (int i = 0; i < 3; i++)
			atu_dump_log(&ag[i], 20);
	assert_int_equal(dq, 0);
	assert_int_equal(ds, 0);
	assert_int_equal(mq, 0);
	assert_int_equal(ms, 0);
	/* Sanity: the window was really covered. */
	assert_true(tq.lines >= secs - 6);
	assert_true(ts.lines >= secs - 6);

	gc_etcd_free(c);
	gct_etcd_stop(e);
	gct_rmrf(dir);
	free(dir);
}

static void cluster_member_loss_misses_and_doubles_nothing(void **state)
{
	(void)state;
	gct_etcd *e;
	assert_int_equal(gct_etcd_start(&e, 3, NULL), 0);
	char *dir = gct_tmpdir("agent-cluster");
	const char *prefix = "/cluster";
	const char *eps = gct_etcd_endpoints(e);
	gc_etcd *c = atu_client(eps);
	assert_non_null(c);

	/* Both agents use member 0 first: losing it forces both to fail
	 * over (member 0's place in the list is what "uses" means: the
	 * client sticks to the first healthy endpoint). */
	atu_agent ag[2];
	for (int i = 0; i < 2; i++) {
		char name[32];
		snprintf(name, sizeof(name), "agent%d", i);
		assert_int_equal(atu_start(&ag[i], dir, name, IPS[i], eps, 0,
					   prefix, "7", NULL),
				 0);
	}
	for (int i = 0; i < 2; i++) {
		char *key = gc_key_register(prefix, 7, IPS[i]);
		assert_true(atu_wait_key(c, key, 1, 20000) >= 0);
		gc_free(key);
	}
	char out[600], cmd[800];
	snprintf(out, sizeof(out), "%s/ticks.txt", dir);
	snprintf(cmd, sizeof(cmd),
		 "echo \"$GOPHERCRON_PLAN_TIME $GOPHERCRON_AGENT_IP\" >> %s",
		 out);
	atu_task t = {"everysec", "* * * * * * *", cmd, 0, 0, 0, 0, 0};
	int64_t t_put = wall_s();
	assert_int_equal(atu_put_task(c, prefix, 7, &t), 0);
	gct_sleep_ms(8000);

	int leader = gct_etcd_leader(e);
	int64_t t_kill = wall_s();
	fprintf(stderr, "# killing etcd member 0 (leader: member %d)\n",
		leader);
	assert_int_equal(gct_etcd_signal(e, 0, SIGKILL), 0);
	gct_sleep_ms(15000);

	/* Both agents still hold their session (kept alive elsewhere). */
	for (int i = 0; i < 2; i++) {
		char *key = gc_key_register(prefix, 7, IPS[i]);
		int present = atu_key_exists(c, key);
		if (present != 1)
			atu_dump_log(&ag[i], 40);
		assert_int_equal(present, 1);
		gc_free(key);
	}
	int64_t t_del = wall_s();
	char *k = gc_key_task(prefix, 7, "everysec");
	assert_int_equal(atu_delete(c, k), 0);
	gc_free(k);
	gct_sleep_ms(2000);
	for (int i = 0; i < 2; i++)
		assert_int_equal(atu_stop(&ag[i], 15000), 0);

	static tally tt;
	tally_file(&tt, out, t_put - 100);
	int missing, doubled;
	tally_check(&tt, t_put + 3, t_del - 2, &missing, &doubled, "cluster");
	fprintf(stderr,
		"# cluster: %d runs (agent 0: %d, agent 1: %d), killed member "
		"0 at +%llds, missing %d, doubled %d\n",
		tt.lines, tt.by_agent[0], tt.by_agent[1],
		(long long)(t_kill - t_put), missing, doubled);
	if (missing || doubled)
		for (int i = 0; i < 2; i++)
			atu_dump_log(&ag[i], 40);
	assert_int_equal(doubled, 0);
	assert_int_equal(missing, 0);

	gc_etcd_free(c);
	gct_etcd_stop(e);
	gct_rmrf(dir);
	free(dir);
}

int main(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_second_ran_once_with_skewed_agents),
		cmocka_unit_test(cluster_member_loss_misses_and_doubles_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
