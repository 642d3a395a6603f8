/* Oversized task values against a real etcd (started with a request limit
 * that lets them in): the agent skips each one with one warning per key
 * and revision, loads and runs the rest of the project, and does not list
 * it again and again: neither a value over the task limit it can read, nor
 * one over what its etcd client reads in one answer, in a listing or in a
 * watch event. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "logbuf.h"
#include "test_agent_util.h"

#include <inttypes.h>
#include <pthread.h>

#define PREFIX "/sizes"
#define PID 7

static atu_fixture F;

static int setup(void **state)
{
	static const char *const flags[] = {"--max-request-bytes=33554432",
					    NULL};
	(void)state;
	if (gct_etcd_start(&F.etcd, 1, flags))
		return -1;
	F.eps = gct_etcd_endpoints(F.etcd);
	F.c = atu_client(F.eps);
	F.dir = gct_tmpdir("agent-sizes");
	return F.c && F.dir ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	atu_fixture_teardown(&F);
	return 0;
}

typedef struct seen {
	pthread_mutex_t mu;
	int warnings;
	char data[8][512];
} seen;

static void on_warning(const gc_warning *w, void *payload)
{
	seen *s = payload;
	pthread_mutex_lock(&s->mu);
	if (strcmp(w->type, "system") == 0) {
		if (s->warnings < 8)
			snprintf(s->data[s->warnings], sizeof(s->data[0]), "%s",
				 w->data);
		s->warnings++;
	}
	pthread_mutex_unlock(&s->mu);
}

static int warnings(seen *s)
{
	pthread_mutex_lock(&s->mu);
	int n = s->warnings;
	pthread_mutex_unlock(&s->mu);
	return n;
}

static int h_tick(gc_agent_job *job, const char *args, void *payload)
{
	(void)job;
	(void)args;
	__atomic_add_fetch((int *)payload, 1, __ATOMIC_SEQ_CST);
	return 0;
}

/* A task whose JSON is about `bytes` long (a long remark): valid JSON, so
 * only its size keeps it out. */
static void put_big_task(const char *id, size_t bytes)
{
	gc_task t = GC_TASK_INIT;
	char *remark = malloc(bytes + 1), *json, *key;
	gc_error err;
	assert_non_null(remark);
	memset(remark, 'r', bytes);
	remark[bytes] = '\0';
	t.task_id = (char *)id;
	t.name = (char *)id;
	t.project_id = PID;
	t.command = (char *)"@handler:tick";
	t.cron = (char *)"* * * * * * *";
	t.remark = remark;
	t.status = 1;
	t.client_ip = (char *)"";
	json = gc_task_to_json(&t);
	key = gc_key_task(PREFIX, PID, id);
	assert_non_null(json);
	assert_non_null(key);
	if (gc_etcd_put(NULL, F.c, key, json, strlen(json), 0, 0, &err))
		fail_msg("put %s (%zu bytes): %s", id, strlen(json), err.msg);
	gc_free(json);
	gc_free(key);
	free(remark);
}

typedef struct at_least {
	int *v;
	int n;
} at_least;

static int at_least_cond(void *arg)
{
	at_least *w = arg;
	return __atomic_load_n(w->v, __ATOMIC_SEQ_CST) >= w->n;
}

static int warnings_cond(void *arg)
{
	at_least *w = arg;
	return warnings((seen *)(void *)w->v) >= w->n;
}

static void oversized_tasks_are_skipped_once_and_the_rest_runs(void **state)
{
	(void)state;
	char path[600], loaded[64];
	gc_agent_config cfg;
	gc_agent_options o = GC_AGENT_OPTIONS_INIT;
	gct_logbuf log;
	gc_agent *a = NULL;
	gc_error err;
	seen s;
	int ticks = 0;

	memset(&s, 0, sizeof(s));
	pthread_mutex_init(&s.mu, NULL);
	gct_logbuf_init(&log);
	snprintf(loaded, sizeof(loaded), "agent: project %d loaded", PID);

	/* Next to a normal task: one over the task limit (2 MiB, which the
	 * agent can read) and one over what the agent reads in one etcd
	 * answer (17 MiB; 23 MiB as the gateway's base64). */
	atu_task ok = {"ok", "* * * * * * *", "@handler:tick", 0, 0, 0, 0, 0};
	assert_int_equal(atu_put_task(F.c, PREFIX, PID, &ok), 0);
	put_big_task("big", 2u << 20);
	put_big_task("huge", 17u << 20);
	atu_task ok2 = {"zz-ok", "0 0 0 1 1 * 2099", "@handler:tick", 0, 0,
			0, 0, 0};
	assert_int_equal(atu_put_task(F.c, PREFIX, PID, &ok2), 0);

	snprintf(path, sizeof(path), "%s/agent.toml", F.dir);
	assert_int_equal(atu_write_config(path, "10.40.0.1", F.eps, 0, PREFIX,
					  "7", NULL),
			 0);
	assert_int_equal(gc_agent_config_init(&cfg, GC_AGENT_CONFIG_VERSION), 0);
	assert_int_equal(gc_agent_config_load(&cfg, path, NULL, NULL, &err), 0);
	o.on_warning = on_warning;
	o.payload = &s;
	o.log = gct_logbuf_fn;
	o.log_payload = &log;
	o.log_level = GC_LOG_INFO;
	assert_int_equal(gc_agent_new(&a, &cfg, &o, &err), 0);
	gc_agent_config_clear(&cfg);
	assert_int_equal(gc_agent_handler_register(a, "tick", h_tick, &ticks,
						   &err),
			 0);
	assert_int_equal(gc_agent_start(a, &err), 0);

	/* The normal task runs; each big one is warned about once. */
	at_least two_ticks = {&ticks, 2};
	assert_true(atu_wait(at_least_cond, &two_ticks, 15000) >= 0);
	at_least two_warnings = {(int *)(void *)&s, 2};
	assert_true(atu_wait(warnings_cond, &two_warnings, 5000) >= 0);
	gct_sleep_ms(3000); /* time to list again, had it to */
	assert_int_equal(gct_logbuf_count(&log, loaded), 1);
	assert_int_equal(warnings(&s), 2);
	pthread_mutex_lock(&s.mu);
	for (int i = 0; i < 2; i++) {
		const char *d = s.data[i];
		if (strstr(d, "task big not loaded"))
			assert_non_null(strstr(d, "over the 1048576 bytes"));
		else if (strstr(d, "task huge not loaded"))
			assert_non_null(strstr(d, "larger than the 16777216 "
						  "bytes the agent reads"));
		else
			fail_msg("unexpected warning: %s", d);
	}
	pthread_mutex_unlock(&s.mu);
	assert_int_equal(gct_logbuf_count(&log, "not loaded"), 2);
	gc_agent_stats st;
	gc_agent_stats_get(a, &st);
	assert_int_equal(st.projects_loaded, 1);
	assert_int_equal(st.tasks, 2);

	/* Through the watch: a new big task is warned about once, without a
	 * new listing; a new revision of the huge one is too big for a
	 * watch message: one listing, one warning, then quiet. */
	put_big_task("big2", 3u << 20);
	at_least three = {(int *)(void *)&s, 3};
	assert_true(atu_wait(warnings_cond, &three, 5000) >= 0);
	assert_int_equal(gct_logbuf_count(&log, loaded), 1);
	put_big_task("huge", 17u << 20);
	at_least four = {(int *)(void *)&s, 4};
	assert_true(atu_wait(warnings_cond, &four, 20000) >= 0);
	gct_sleep_ms(8000); /* longer than the watch's retry delay */
	assert_int_equal(gct_logbuf_count(&log, loaded), 2);
	assert_int_equal(warnings(&s), 4);
	int before = __atomic_load_n(&ticks, __ATOMIC_SEQ_CST);
	at_least more = {&ticks, before + 2};
	assert_true(atu_wait(at_least_cond, &more, 10000) >= 0);

	gc_agent_stop(a);
	gc_agent_free(a);
	gct_logbuf_free(&log);
	pthread_mutex_destroy(&s.mu);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			oversized_tasks_are_skipped_once_and_the_rest_runs),
	};
	return cmocka_run_group_tests_name("agent_sizes", tests, setup,
					   teardown);
}
