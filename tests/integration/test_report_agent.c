/* The reporter inside a real gcron-agent process, against a real etcd and
 * an HTTP receiver: results of tasks running every second wait in the
 * spool while the sink refuses connections, the agent is killed with
 * SIGKILL (and a torn record is left at the spool's tail), restarted while
 * the sink answers 503, then the sink comes back: every result the agent
 * spooled arrives exactly once, in order per task, each failure's warning
 * first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_agent_util.h"
#include "test_report_rx.h"

#include <curl/curl.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>

#define PREFIX "/gc_report_agent"
#define IP "127.0.0.2"

static atu_fixture F;

static int setup(void **state)
{
	(void)state;
	curl_global_init(CURL_GLOBAL_ALL);
	mg_init_library(0);
	return atu_fixture_setup(&F, "report-agent");
}

static int teardown(void **state)
{
	(void)state;
	atu_fixture_teardown(&F);
	mg_exit_library();
	curl_global_cleanup();
	return 0;
}

/* run ids the agent logged as spooled, in log order */
typedef struct ids {
	char (*v)[200];
	size_t n;
} ids;

static void spooled_ids(const char *log, ids *out)
{
	char *s = atu_slurp(log);
	for (char *p = strstr(s, "report: spooled result run_id="); p;
	     p = strstr(p + 1, "report: spooled result run_id=")) {
		const char *id = p + strlen("report: spooled result run_id=");
		size_t k = strcspn(id, " \n");
		out->v = realloc(out->v, (out->n + 1) * sizeof(*out->v));
		snprintf(out->v[out->n++], 200, "%.*s", (int)k, id);
	}
	free(s);
}

static int spooled_count(const char *log)
{
	return atu_count_in_file(log, "report: spooled result run_id=");
}

static size_t received(receiver *rx, const char *run_id)
{
	size_t n = 0;
	pthread_mutex_lock(&rx->mu);
	for (size_t i = 0; i < rx->n; i++)
		if (rx->reqs[i].status == 200 &&
		    strcmp(rx->reqs[i].run_id, run_id) == 0)
			n++;
	pthread_mutex_unlock(&rx->mu);
	return n;
}

typedef struct all_wait {
	receiver *rx;
	ids *want;
} all_wait;

static int all_received(void *arg)
{
	all_wait *w = arg;
	for (size_t i = 0; i < w->want->n; i++)
		if (!received(w->rx, w->want->v[i]))
			return 0;
	return 1;
}

static void newest_segment(const char *dir, char *out, size_t len)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char best[64] = "";
	assert_non_null(d);
	while ((de = readdir(d)))
		if (strncmp(de->d_name, "seg-", 4) == 0 &&
		    strcmp(de->d_name, best) > 0)
			snprintf(best, sizeof(best), "%.60s", de->d_name);
	closedir(d);
	assert_true(best[0]);
	snprintf(out, len, "%s/%s", dir, best);
}

/* An agent `name` (config name.toml, log name-1.log) reporting to `url`
 * (with `token` when not NULL) through `spool`. */
static void agent_config(atu_agent *a, const char *name, const char *url,
			 const char *token, const char *spool,
			 const char *prefix)
{
	char eps[1024];
	FILE *cf;
	memset(a, 0, sizeof(*a));
	snprintf(a->ip, sizeof(a->ip), IP);
	snprintf(a->cfg, sizeof(a->cfg), "%s/%s.toml", F.dir, name);
	snprintf(a->log, sizeof(a->log), "%s/%s-1.log", F.dir, name);
	atu_toml_endpoints(F.eps, 0, eps, sizeof(eps));
	cf = fopen(a->cfg, "w");
	assert_non_null(cf);
	fprintf(cf,
		"log_level = \"debug\"\n"
		"report_addr = \"%s\"\n"
		"report_token = \"%s\"\n"
		"spool_dir = \"%s\"\n"
		"client_ip = \"" IP "\"\n"
		"[etcd]\nservice = [%s]\nprefix = \"%s\"\n"
		"projects = [1]\nshell = \"/bin/sh\"\n",
		url, token ? token : "", spool, eps, prefix);
	fclose(cf);
}

/* Delivered requests in order: per task ascending plans, each failed
 * result directly after its warning. */
static void check_order(receiver *rx)
{
	int64_t last_plan[2] = {0, 0};
	pthread_mutex_lock(&rx->mu);
	for (size_t i = 0; i < rx->n; i++) {
		rx_req *q = &rx->reqs[i];
		if (q->status != 200 ||
		    strcmp(q->report_type, "report_task_result") != 0)
			continue;
		cJSON *b = cJSON_ParseWithLength(q->body, q->len);
		cJSON *task = cJSON_GetObjectItem(
			cJSON_GetObjectItem(b, "execute_info"), "task");
		const char *tid = cJSON_GetObjectItem(task, "task_id")->valuestring;
		const char *err = cJSON_GetObjectItem(b, "error")->valuestring;
		int64_t plan = (int64_t)cJSON_GetObjectItem(b, "plan_unix")
				       ->valuedouble;
		int t = strcmp(tid, "rep-bad") == 0;
		if (plan <= last_plan[t])
			fail_msg("%s: plan %" PRId64 " delivered after %" PRId64,
				 tid, plan, last_plan[t]);
		last_plan[t] = plan;
		if (t) {
			size_t j = i;
			/* a run in flight at the SIGKILL is reported as
			 * interrupted by the restarted agent */
			int cut = strcmp(err, GC_RUN_ERR_INTERRUPTED) == 0;
			if (!cut)
				assert_string_equal(err, "exit status 3");
			while (j > 0 && rx->reqs[j - 1].status != 200)
				j--;
			assert_true(j > 0);
			assert_string_equal(rx->reqs[j - 1].report_type,
					    "report_warning");
			assert_non_null(
			    strstr(rx->reqs[j - 1].body,
				   cut ? "\"data\":\"" GC_RUN_ERR_INTERRUPTED
				       : "\"data\":\"exit status 3\""));
		}
		cJSON_Delete(b);
	}
	pthread_mutex_unlock(&rx->mu);
	assert_true(last_plan[0] > 0 && last_plan[1] > 0);
}

static void agent_sigkill_and_outage_lose_and_duplicate_nothing(void **state)
{
	receiver rx;
	atu_agent a;
	atu_task ok = {"rep-ok", "* * * * * * *", "echo ok", 0, 0, 0, 0, 0};
	atu_task bad = {"rep-bad", "* * * * * * *", "echo bad; exit 3", 0, 0, 0,
			0, 0};
	char url[128], spool[600], seg[700];
	ids before = {NULL, 0}, after = {NULL, 0};
	all_wait w;
	(void)state;

	rx_init(&rx, gct_free_port(), 1);
	rx_url(&rx, url, sizeof(url));
	snprintf(spool, sizeof(spool), "%s/spool", F.dir);
	agent_config(&a, "agent", url, "agent-token", spool, PREFIX);
	assert_int_equal(atu_put_task(F.c, PREFIX, 1, &ok), 0);
	assert_int_equal(atu_put_task(F.c, PREFIX, 1, &bad), 0);

	/* 1. sink refusing connections: results pile up in the spool */
	assert_int_equal(atu_spawn(&a, NULL, NULL), 0);
	for (int waited = 0; spooled_count(a.log) < 12; waited += 50) {
		if (waited > 40000) {
			atu_dump_log(&a, 40);
			fail_msg("the agent spooled %d results in 40 s",
				 spooled_count(a.log));
		}
		gct_sleep_ms(50);
	}
	atu_kill9(&a);
	spooled_ids(a.log, &before);
	assert_true(before.n >= 12);
	assert_int_equal(received(&rx, before.v[0]), 0);

	/* 2. a crash in the middle of an append */
	newest_segment(spool, seg, sizeof(seg));
	int fd = open(seg, O_WRONLY | O_APPEND | O_CLOEXEC);
	unsigned char torn[12 + 30] = {0x00, 2, 0, 0, 9, 9, 9, 9, 1, 1, 0, 0,
				       '{', '"'};
	assert_true(fd >= 0);
	assert_int_equal(write(fd, torn, sizeof(torn)), (ssize_t)sizeof(torn));
	close(fd);

	/* 3. restart while the sink answers 503, then let it recover */
	rx_set_mode(&rx, RX_503);
	assert_int_equal(rx_listen(&rx), 0);
	snprintf(a.log, sizeof(a.log), "%s/agent-2.log", F.dir);
	assert_int_equal(atu_spawn(&a, NULL, NULL), 0);
	gct_sleep_ms(6000);
	assert_true(atu_count_in_file(a.log, "delivery failed") >= 1);
	assert_true(atu_count_in_file(a.log, "incomplete or damaged record") ==
		    1);
	assert_true(atu_count_in_file(a.log, "from an earlier run are "
					     "delivered first") == 1);
	rx_set_mode(&rx, RX_OK);
	w.rx = &rx;
	w.want = &before;
	if (atu_wait(all_received, &w, 30000) < 0) {
		atu_dump_log(&a, 40);
		fail_msg("results spooled before the SIGKILL were not all "
			 "delivered");
	}
	gct_sleep_ms(3000); /* a few runs with the sink up */
	assert_int_equal(atu_stop(&a, 30000), 0);
	spooled_ids(a.log, &after);
	assert_true(after.n >= 3);

	/* 4. every spooled result exactly once, in order */
	for (size_t i = 0; i < before.n; i++)
		if (received(&rx, before.v[i]) != 1)
			fail_msg("%s received %zu times", before.v[i],
				 received(&rx, before.v[i]));
	for (size_t i = 0; i < after.n; i++)
		if (received(&rx, after.v[i]) != 1)
			fail_msg("%s received %zu times", after.v[i],
				 received(&rx, after.v[i]));
	check_order(&rx);
	pthread_mutex_lock(&rx.mu);
	fprintf(stderr,
		"  %zu results spooled before SIGKILL, %zu after restart; "
		"%zu requests received, %zu answered 200\n",
		before.n, after.n, rx.n, rx.ok);
	assert_string_equal(rx.reqs[rx.n - 1].auth, "Bearer agent-token");
	pthread_mutex_unlock(&rx.mu);
	free(before.v);
	free(after.v);
	rx_free(&rx);
}

/* run ids the agent logged as started, appended to *out */
static void started_ids(const char *log, ids *out)
{
	char *s = atu_slurp(log);
	for (char *p = strstr(s, "agent: run started "); p;
	     p = strstr(p + 1, "agent: run started ")) {
		const char *id = strstr(p, " run_id=");
		size_t k;
		assert_non_null(id);
		id += strlen(" run_id=");
		k = strcspn(id, " \n");
		out->v = realloc(out->v, (out->n + 1) * sizeof(*out->v));
		snprintf(out->v[out->n++], 200, "%.*s", (int)k, id);
	}
	free(s);
}

/* The delivered result of `run_id` (200 answers only), or NULL; cJSON
 * owned by the caller. */
static cJSON *result_of(receiver *rx, const char *run_id, size_t *index)
{
	cJSON *b = NULL;
	pthread_mutex_lock(&rx->mu);
	for (size_t i = 0; i < rx->n && !b; i++)
		if (rx->reqs[i].status == 200 &&
		    strcmp(rx->reqs[i].report_type, "report_task_result") ==
			0 &&
		    strcmp(rx->reqs[i].run_id, run_id) == 0) {
			b = cJSON_ParseWithLength(rx->reqs[i].body,
						  rx->reqs[i].len);
			*index = i;
		}
	pthread_mutex_unlock(&rx->mu);
	return b;
}

/* An agent SIGKILLed while runs are in progress: restarted on the same
 * spool, it reports each of them once as interrupted (warning first), so
 * every run that started has exactly one result; every result names the
 * agent (task.client_ip). */
static void runs_cut_by_a_sigkill_are_reported_as_interrupted(void **state)
{
	receiver rx;
	atu_agent a;
	atu_task slow = {
	    "rep-slow", "* * * * * * *", "sleep 3; echo slow", 0, 0, 0, 0, 0};
	char url[128], spool[600];
	ids started = {NULL, 0}, spooled = {NULL, 0};
	size_t cut = 0, in_flight;
	(void)state;

	rx_init(&rx, gct_free_port(), 1);
	rx_url(&rx, url, sizeof(url));
	assert_int_equal(rx_listen(&rx), 0);
	snprintf(spool, sizeof(spool), "%s/spool-cut", F.dir);
	agent_config(&a, "agent-cut", url, NULL, spool, PREFIX "/cut");
	assert_int_equal(atu_put_task(F.c, PREFIX "/cut", 1, &slow), 0);

	/* runs start every second and take 3 s: three or so are in
	 * progress at any moment */
	assert_int_equal(atu_spawn(&a, NULL, NULL), 0);
	for (int waited = 0; spooled_count(a.log) < 2; waited += 50) {
		if (waited > 40000) {
			atu_dump_log(&a, 40);
			fail_msg("the agent finished %d runs in 40 s",
				 spooled_count(a.log));
		}
		gct_sleep_ms(50);
	}
	gct_sleep_ms(500);
	atu_kill9(&a);
	started_ids(a.log, &started);
	spooled_ids(a.log, &spooled);
	in_flight = started.n - spooled.n;
	assert_true(in_flight >= 2);

	/* the next start reports them; then it runs normally for a while */
	snprintf(a.log, sizeof(a.log), "%s/agent-cut-2.log", F.dir);
	assert_int_equal(atu_spawn(&a, NULL, NULL), 0);
	gct_sleep_ms(5000);
	assert_int_equal(atu_stop(&a, 30000), 0);
	assert_int_equal(atu_count_in_file(a.log, "was interrupted"),
			 (int)in_flight);
	started_ids(a.log, &started);
	gct_sleep_ms(500);

	for (size_t i = 0; i < started.n; i++) {
		size_t at = 0;
		cJSON *b = result_of(&rx, started.v[i], &at);
		if (!b)
			fail_msg("no result for run %s", started.v[i]);
		assert_int_equal(received(&rx, started.v[i]), 1);
		cJSON *task = cJSON_GetObjectItem(
		    cJSON_GetObjectItem(b, "execute_info"), "task");
		const char *err = cJSON_GetObjectItem(b, "error")->valuestring;
		assert_string_equal(
		    cJSON_GetObjectItem(task, "client_ip")->valuestring, IP);
		if (strcmp(err, GC_RUN_ERR_INTERRUPTED) == 0) {
			cut++;
			pthread_mutex_lock(&rx.mu);
			assert_string_equal(rx.reqs[at - 1].report_type,
					    "report_warning");
			assert_non_null(strstr(rx.reqs[at - 1].body,
					       GC_RUN_ERR_INTERRUPTED));
			pthread_mutex_unlock(&rx.mu);
		} else {
			assert_string_equal(err, "");
		}
		cJSON_Delete(b);
	}
	assert_int_equal(cut, in_flight); /* and no other */
	fprintf(stderr,
		"  %zu runs started, %zu cut by the SIGKILL, each reported "
		"once\n",
		started.n, cut);
	free(started.v);
	free(spooled.v);
	rx_free(&rx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			agent_sigkill_and_outage_lose_and_duplicate_nothing),
		cmocka_unit_test(
			runs_cut_by_a_sigkill_are_reported_as_interrupted),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
