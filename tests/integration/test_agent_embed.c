/* The embedding API against a real etcd: the three ways to drive an agent
 * (own thread, blocking run stopped from another thread, host poll loop),
 * in-process handlers (output, failure, timeout and kill by cooperative
 * cancellation, unknown names), stats, and the examples/embed_agent
 * program running a handler task. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_agent_util.h"

#include <poll.h>
#include <pthread.h>

static atu_fixture F;

static int setup(void **state)
{
	(void)state;
	return atu_fixture_setup(&F, "agent-embed");
}

static int teardown(void **state)
{
	(void)state;
	atu_fixture_teardown(&F);
	return 0;
}

/* Results and warnings, collected from the agent thread. */
typedef struct sink {
	pthread_mutex_t mu;
	gc_result results[64];
	int n;
	int warnings;
	char last_warning[256];
} sink;

static void on_result(const gc_result *r, void *payload)
{
	sink *s = payload;
	pthread_mutex_lock(&s->mu);
	if (s->n < 64) {
		gc_result_init(&s->results[s->n]);
		if (gc_result_copy(&s->results[s->n], r, NULL) == 0)
			s->n++;
	}
	pthread_mutex_unlock(&s->mu);
}

static void on_warning(const gc_warning *w, void *payload)
{
	sink *s = payload;
	pthread_mutex_lock(&s->mu);
	s->warnings++;
	snprintf(s->last_warning, sizeof(s->last_warning), "%s", w->data);
	pthread_mutex_unlock(&s->mu);
}

static void sink_init(sink *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->mu, NULL);
}

static void sink_clear(sink *s)
{
	for (int i = 0; i < s->n; i++)
		gc_result_clear(&s->results[i]);
	pthread_mutex_destroy(&s->mu);
}

static int sink_count(sink *s)
{
	pthread_mutex_lock(&s->mu);
	int n = s->n;
	pthread_mutex_unlock(&s->mu);
	return n;
}

typedef struct sink_wait {
	sink *s;
	int n;
} sink_wait;

static int sink_cond(void *arg)
{
	sink_wait *w = arg;
	return sink_count(w->s) >= w->n;
}

static int sink_wait_n(sink *s, int n, int ms)
{
	sink_wait w = {s, n};
	return atu_wait(sink_cond, &w, ms);
}

static gc_agent *make_agent(const char *prefix, const char *projects,
			    const char *ip, sink *s)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/%s.toml", F.dir, ip);
	if (atu_write_config(path, ip, F.eps, 0, prefix, projects,
			     "output_limit = \"64KiB\""))
		return NULL;
	gc_agent_config cfg;
	gc_error err;
	gc_agent *a = NULL;
	if (gc_agent_config_init(&cfg, GC_AGENT_CONFIG_VERSION) ||
	    gc_agent_config_load(&cfg, path, NULL, NULL, &err)) {
		fprintf(stderr, "config: %s\n", err.msg);
		return NULL;
	}
	gc_agent_options o = GC_AGENT_OPTIONS_INIT;
	o.on_result = on_result;
	o.on_warning = on_warning;
	o.payload = s;
	o.log_level = GC_LOG_DEBUG;
	if (getenv("GC_TEST_VERBOSE")) {
		static int lvl = GC_LOG_DEBUG;
		o.log = gc_log_stderr;
		o.log_payload = &lvl;
	}
	o.stop_grace_ms = 5000;
	if (gc_agent_new(&a, &cfg, &o, &err))
		fprintf(stderr, "gc_agent_new: %s\n", err.msg);
	gc_agent_config_clear(&cfg);
	return a;
}

/* ------------------------------------------------------------ handlers */

static int h_echo(gc_agent_job *job, const char *args, void *payload)
{
	int *calls = payload;
	__atomic_add_fetch(calls, 1, __ATOMIC_SEQ_CST);
	gc_agent_job_printf(job, "echo:%s token:%s plan:%lld", args,
			    gc_agent_job_fencing_token(job),
			    (long long)gc_agent_job_plan_time(job));
	return 0;
}

static int h_fail(gc_agent_job *job, const char *args, void *payload)
{
	(void)payload;
	if (strcmp(args, "text") == 0)
		gc_agent_job_fail(job, "custom failure");
	return 3;
}

static int h_sleepy(gc_agent_job *job, const char *args, void *payload)
{
	(void)args;
	(void)payload;
	gc_agent_job_printf(job, "going to sleep\n");
	if (gc_agent_job_sleep(job, 30000))
		gc_agent_job_printf(job, "woken by cancel\n");
	return gc_agent_job_cancelled(job) ? 1 : 0;
}

static int h_loud(gc_agent_job *job, const char *args, void *payload)
{
	(void)args;
	(void)payload;
	char line[100];
	memset(line, 'x', sizeof(line));
	for (int i = 0; i < 10000; i++) /* 1 MB, over the 64 KiB cap */
		gc_agent_job_write(job, line, sizeof(line));
	return 0;
}

static const gc_result *find_result(sink *s, const char *task_id)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->results[i].task.task_id, task_id) == 0)
			return &s->results[i];
	return NULL;
}

static void handler_tasks_run_fail_time_out_and_are_killed(void **state)
{
	(void)state;
	const char *prefix = "/e_handlers";
	sink s;
	sink_init(&s);
	gc_agent *a = make_agent(prefix, "1", "10.30.0.1", &s);
	assert_non_null(a);
	int calls = 0;
	gc_error err;
	assert_int_equal(gc_agent_handler_register(a, "echo", h_echo, &calls,
						   &err),
			 0);
	assert_int_equal(gc_agent_handler_register(a, "fail", h_fail, NULL,
						   &err),
			 0);
	assert_int_equal(gc_agent_handler_register(a, "sleepy", h_sleepy, NULL,
						   &err),
			 0);
	assert_int_equal(gc_agent_handler_register(a, "loud", h_loud, NULL,
						   &err),
			 0);
	assert_int_equal(gc_agent_handler_register(a, "bad name", h_echo, NULL,
						   &err),
			 GC_EINVAL);
	assert_int_equal(gc_agent_start(a, &err), 0);
	char *reg = gc_key_register(prefix, 1, "10.30.0.1");
	assert_true(atu_wait_key(F.c, reg, 1, 10000) >= 0);

	/* All run once, through run-now requests. */
	static const char *const far = "0 0 0 1 1 * 2099";
	atu_task tasks[] = {
		{"echo", far, "@handler:echo  a b  c", 0, 0, 0, 0, 0},
		{"failcode", far, "@handler:fail", 0, 0, 0, 0, 0},
		{"failtext", far, "@handler:fail text", 0, 0, 0, 0, 0},
		{"timeout", far, "@handler:sleepy", 0, 0, 1, 0, 0},
		{"killme", far, "@handler:sleepy", 0, 0, 0, 0, 0},
		{"unknown", far, "@handler:nosuch x", 0, 0, 0, 0, 0},
		{"loud", far, "@handler:loud", 0, 0, 0, 0, 0},
	};
	size_t nt = sizeof(tasks) / sizeof(tasks[0]);
	for (size_t i = 0; i < nt; i++) {
		assert_int_equal(atu_put_task(F.c, prefix, 1, &tasks[i]), 0);
		char *json = atu_task_json(1, &tasks[i]);
		char *key = gc_key_run_now(prefix, 1, tasks[i].id);
		assert_int_equal(atu_put_leased(F.c, key, json, 2), 0);
		gc_free(json);
		gc_free(key);
	}
	/* Everything but "killme" ends by itself; the timeout one after 1 s. */
	assert_true(sink_wait_n(&s, (int)nt - 1, 10000) >= 0);
	char *kill = gc_key_kill(prefix, 1, "killme");
	int64_t t0 = gc__mono_ms();
	assert_int_equal(atu_put_leased(F.c, kill, "", 2), 0);
	assert_true(sink_wait_n(&s, (int)nt, 5000) >= 0);
	fprintf(stderr, "# handler killed %lld ms after the request\n",
		(long long)(gc__mono_ms() - t0));
	gc_free(kill);

	pthread_mutex_lock(&s.mu);
	const gc_result *r = find_result(&s, "echo");
	assert_non_null(r);
	assert_string_equal(r->error, "");
	assert_true(strncmp(r->output, "echo:a b  c token:", 18) == 0);
	assert_true(strtoll(r->output + 18, NULL, 10) > 0); /* fencing token */
	r = find_result(&s, "failcode");
	assert_string_equal(r->error, "exit status 3");
	r = find_result(&s, "failtext");
	assert_string_equal(r->error, "custom failure");
	r = find_result(&s, "timeout");
	assert_string_equal(r->error, "timeout");
	assert_non_null(strstr(r->output, "woken by cancel"));
	assert_true(r->end_time_ns - r->start_time_ns < 5000000000LL);
	r = find_result(&s, "killme");
	assert_string_equal(r->error, "killed");
	r = find_result(&s, "unknown");
	assert_string_equal(r->error, "handler \"nosuch\" is not registered");
	r = find_result(&s, "loud");
	assert_string_equal(r->error, "");
	assert_true(r->output_len <= 64 * 1024 + 64);
	assert_non_null(strstr(r->output, "bytes omitted"));
	/* Failures also produced warnings (delivered before the result). */
	assert_true(s.warnings >= 5);
	pthread_mutex_unlock(&s.mu);
	assert_int_equal(calls, 1);

	gc_agent_stats st;
	gc_agent_stats_get(a, &st);
	assert_int_equal(st.projects, 1);
	assert_int_equal(st.projects_loaded, 1);
	assert_int_equal(st.tasks, nt);
	assert_int_equal(st.claims_won, nt);
	assert_int_equal(st.runs, nt);
	assert_int_equal(st.running, 0);
	assert_int_equal(st.registered, 1);

	gc_agent_stop(a);
	assert_int_equal(gc_agent_join(a, &err), 0);
	assert_int_equal(atu_key_exists(F.c, reg), 0); /* revoked */
	gc_agent_free(a);
	gc_free(reg);
	sink_clear(&s);
}

/* ---------------------------------------------------------- poll mode */

static void host_poll_loop_drives_the_agent(void **state)
{
	(void)state;
	const char *prefix = "/e_poll";
	sink s;
	sink_init(&s);
	gc_agent *a = make_agent(prefix, "2", "10.30.0.2", &s);
	assert_non_null(a);
	int calls = 0;
	gc_error err;
	assert_int_equal(gc_agent_handler_register(a, "echo", h_echo, &calls,
						   &err),
			 0);
	atu_task t = {"tick", "* * * * * * *", "@handler:echo polled", 0, 0, 0,
		      0, 0};
	assert_int_equal(atu_put_task(F.c, prefix, 2, &t), 0);
	int fd = gc_agent_fd(a);
	assert_true(fd >= 0);
	int64_t t0 = gc__mono_ms();
	int stopped = 0, steps = 0, stop_sent = 0;
	while (gc__mono_ms() - t0 < 15000) {
		int rc = gc_agent_step(a, &err);
		assert_true(rc >= 0);
		steps++;
		if (rc == 1) {
			stopped = 1;
			break;
		}
		/* Once: every gc_agent_stop() is a wakeup, and a wakeup per
		 * step would make this loop busy until the agent has closed. */
		if (!stop_sent && sink_count(&s) >= 3) {
			gc_agent_stop(a);
			stop_sent = 1;
		}
		struct pollfd p = {fd, POLLIN, 0};
		int to = gc_agent_timeout_ms(a);
		assert_true(to >= -1);
		poll(&p, 1, to);
	}
	assert_true(stopped);
	assert_true(sink_count(&s) >= 3);
	fprintf(stderr, "# poll mode: %d results in %d steps\n", sink_count(&s),
		steps);
	/* Idle cost: far fewer steps than a busy loop would make. */
	assert_true(steps < 2000); /* a busy loop would make 100,000s */
	assert_int_equal(gc_agent_step(a, &err), 1); /* stays stopped */
	gc_agent_free(a);
	char *key = gc_key_task(prefix, 2, "tick");
	atu_delete(F.c, key);
	gc_free(key);
	sink_clear(&s);
}

/* ------------------------------------------------------ blocking run */

static void *run_thread(void *arg)
{
	gc_agent *a = arg;
	gc_error err;
	intptr_t rc = gc_agent_run(a, &err);
	return (void *)rc;
}

static void blocking_run_stops_from_another_thread(void **state)
{
	(void)state;
	const char *prefix = "/e_run";
	sink s;
	sink_init(&s);
	gc_agent *a = make_agent(prefix, "3", "10.30.0.3", &s);
	assert_non_null(a);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, run_thread, a), 0);
	char *reg = gc_key_register(prefix, 3, "10.30.0.3");
	assert_true(atu_wait_key(F.c, reg, 1, 10000) >= 0);
	char out[600], cmd[800];
	snprintf(out, sizeof(out), "%s/run.txt", F.dir);
	snprintf(cmd, sizeof(cmd), "echo $GOPHERCRON_TASK_ID >> %s", out);
	atu_task t = {"shell", "* * * * * * *", cmd, 0, 0, 0, 0, 0};
	assert_int_equal(atu_put_task(F.c, prefix, 3, &t), 0);
	assert_true(sink_wait_n(&s, 2, 5000) >= 0);
	int64_t t0 = gc__mono_ms();
	gc_agent_stop(a);
	void *rc;
	pthread_join(th, &rc);
	assert_int_equal((intptr_t)rc, 0);
	fprintf(stderr, "# blocking run stopped in %lld ms\n",
		(long long)(gc__mono_ms() - t0));
	assert_int_equal(atu_key_exists(F.c, reg), 0);
	gc_agent_free(a);
	gc_free(reg);
	char *key = gc_key_task(prefix, 3, "shell");
	atu_delete(F.c, key);
	gc_free(key);
	sink_clear(&s);
}

static void agent_rejects_bad_configuration(void **state)
{
	(void)state;
	gc_agent_config cfg;
	gc_error err;
	gc_agent *a = NULL;
	assert_int_equal(gc_agent_config_init(&cfg, GC_AGENT_CONFIG_VERSION), 0);
	free(cfg.client_ip);
	cfg.client_ip = strdup("10.0.0.1/evil");
	assert_int_equal(gc_agent_new(&a, &cfg, NULL, &err), GC_EINVAL);
	assert_non_null(strstr(err.msg, "client_ip"));
	assert_null(a);
	free(cfg.client_ip);
	cfg.client_ip = strdup("10.0.0.1");
	gc_agent_options o = GC_AGENT_OPTIONS_INIT;
	o.late_grace_ms = 120000; /* longer than claim_ttl (60 s) */
	assert_int_equal(gc_agent_new(&a, &cfg, &o, &err), GC_EINVAL);
	assert_non_null(strstr(err.msg, "claim_ttl"));
	o.late_grace_ms = 0;
	o.version = 99;
	assert_int_equal(gc_agent_new(&a, &cfg, &o, &err), GC_EINVAL);
	/* Freed without ever running: no threads, no I/O. */
	assert_int_equal(gc_agent_new(&a, &cfg, NULL, &err), 0);
	int64_t bad[] = {1, -2};
	assert_int_equal(gc_agent_projects_set(a, bad, 2, &err), GC_EINVAL);
	gc_agent_free(a);
	gc_agent_free(NULL);
	gc_agent_config_clear(&cfg);
}

/* ----------------------------------------------------- the example */

static void example_program_runs_a_handler_task(void **state)
{
	(void)state;
	char bin[512], log[600];
	const char *b = getenv("GC_BUILD");
	snprintf(bin, sizeof(bin), "%s/examples/embed_agent", b ? b : "build");
	snprintf(log, sizeof(log), "%s/example.log", F.dir);
	char *argv[] = {bin,		(char *)"--endpoints",
			(char *)F.eps,	(char *)"--project",
			(char *)"4",	(char *)"--prefix",
			(char *)"/e_example", (char *)"--client-ip",
			(char *)"10.30.0.4", (char *)"--demo",
			(char *)"2",	NULL};
	int pid = gct_spawn(argv, log);
	assert_true(pid > 0);
	int st = -1;
	for (int i = 0; i < 1000; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			break;
		gct_sleep_ms(20);
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		fprintf(stderr, "%s", atu_slurp(log));
		fail_msg("embed_agent did not finish cleanly");
	}
	assert_int_equal(atu_count_in_file(log, "output=\"hello, embedded "
						"world (task embed-demo"),
			 2);
	assert_int_equal(atu_count_in_file(log, "stopped after 2 result(s)"),
			 1);
	/* It deleted its demo task on the way out. */
	char *key = gc_key_task("/e_example", 4, "embed-demo");
	assert_int_equal(atu_key_exists(F.c, key), 0);
	gc_free(key);
}

int main(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(agent_rejects_bad_configuration),
		cmocka_unit_test(handler_tasks_run_fail_time_out_and_are_killed),
		cmocka_unit_test(host_poll_loop_drives_the_agent),
		cmocka_unit_test(blocking_run_stops_from_another_thread),
		cmocka_unit_test(example_program_runs_a_handler_task),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
