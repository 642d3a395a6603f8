/* Integration tests of the reporter's SQL sink (no report_addr): rows in
 * real SQLite and MariaDB, compared field by field with the rows the
 * service's ingest endpoint writes for the same results over HTTP; one row
 * per run id; warnings logged and counted; a database restart while
 * results keep coming; a result no store can take goes to the dead
 * letters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "harness.h"
#include "logbuf.h"

#include <gophercron.h>

#include <cJSON.h>
#include <curl/curl.h>
#include <dirent.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TOKEN "ingest-token"
#define AGENT_IP "192.0.2.9"
#define TITLE "report-demo"

static struct {
	gct_mariadb *db; /* started once for the file */
	char *dir;
	gct_logbuf log;
} F;

static int group_setup(void **state)
{
	(void)state;
	curl_global_init(CURL_GLOBAL_ALL);
	gct_logbuf_init(&F.log);
	F.dir = gct_tmpdir("report-sql");
	return gct_mariadb_start(&F.db) == 0 && F.dir ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	gct_mariadb_stop(F.db);
	gct_rmrf(F.dir);
	free(F.dir);
	gct_logbuf_free(&F.log);
	curl_global_cleanup();
	return 0;
}

/* A fresh database for each test. */
static int test_setup(void **state)
{
	(void)state;
	gct_mariadb_sql(F.db, "DROP DATABASE IF EXISTS gophercron; CREATE "
			      "DATABASE gophercron;");
	return 0;
}

static gc_store *open_sqlite(const char *name)
{
	gc_store_options so = GC_STORE_OPTIONS_INIT;
	gc_store *s = NULL;
	gc_error err;
	char path[700];
	snprintf(path, sizeof(path), "%s/%s", F.dir, name);
	so.sqlite_path = path;
	if (gc_store_open(&s, &so, &err))
		fail_msg("sqlite %s: %s", path, err.msg);
	return s;
}

static gc_store *open_mysql(void)
{
	gc_store_options so = GC_STORE_OPTIONS_INIT;
	gc_store *s = NULL;
	gc_error err;
	char svc[64];
	snprintf(svc, sizeof(svc), "127.0.0.1:%d", gct_mariadb_port(F.db));
	so.backend = GC_STORE_MYSQL;
	so.mysql_service = svc;
	so.mysql_username = "gc";
	so.mysql_password = "gcpass";
	so.mysql_database = "gophercron";
	if (gc_store_open(&s, &so, &err))
		fail_msg("mysql: %s", err.msg);
	return s;
}

static int64_t make_project(gc_store *s)
{
	int64_t id = 0;
	gc_error err;
	if (gc_store_project_create(&id, s, TITLE, "", 1, &err))
		fail_msg("project: %s", err.msg);
	return id;
}

/* Results covering what a row is made of: success, failure, timeout,
 * output with characters JSON escapes, no client_ip (the receiver's
 * fallback), no run_id (an original agent's body), sub-second times. */
#define NRES 7
static void make_results(gc_result *r, int64_t pid, int64_t plan0)
{
	for (int i = 0; i < NRES; i++) {
		char json[1024];
		gc_error err;
		snprintf(json, sizeof(json),
			 "{\"task_id\":\"113147693643491328%d\",\"name\":"
			 "\"task <%d> & co\",\"project_id\":%" PRId64 ","
			 "\"command\":\"echo \\\"%d\\\" >&2\",\"cron\":\"*/3 * "
			 "* * * * *\",\"remark\":\"\",\"timeout\":%d,"
			 "\"create_time\":1795470656,\"status\":1,"
			 "\"is_running\":-1,\"noseize\":0,\"exclusion\":0,"
			 "\"client_ip\":\"%s\"}",
			 i, i, pid, i, i == 3 ? 2 : 0, i == 4 ? "" : AGENT_IP);
		gc_result_init(&r[i]);
		if (gc_task_from_json(&r[i].task, json, strlen(json), &err))
			fail_msg("task: %s", err.msg);
		r[i].plan_time_ns = (plan0 + i * 3) * 1000000000LL;
		r[i].real_time_ns = r[i].plan_time_ns + 1234567;
		r[i].start_time_ns = r[i].plan_time_ns + 999999999; /* next s */
		r[i].end_time_ns = r[i].start_time_ns + 2500000000LL;
		r[i].output = strdup(i == 2 ? "tab\tnl\n<b>&amp;</b> \xe2\x9c\x93 \"q\"\x01"
					    : "line1\nline2\n");
		r[i].output_len = strlen(r[i].output);
		r[i].error = strdup(i == 1   ? "exit status 3"
				    : i == 3 ? "timeout"
				    : i == 6 ? "command not found"
					     : "");
		r[i].run_id = i == 5 ? NULL
				     : gc_run_id(pid, r[i].task.task_id,
						 plan0 + i * 3,
						 i == 4 ? "127.0.0.1" : AGENT_IP);
	}
}

static void submit_all(gc_reporter *rep, gc_result *r, int n)
{
	gc_error err;
	for (int i = 0; i < n; i++) {
		if (r[i].error[0]) {
			gc_warning w = GC_WARNING_INIT;
			assert_int_equal(gc_warning_for_result(&w, &r[i], AGENT_IP,
							       &err),
					 0);
			assert_int_equal(gc_reporter_warning_submit(rep, &w, &err),
					 0);
			gc_warning_clear(&w);
		}
		if (gc_reporter_result_submit(rep, &r[i], &err))
			fail_msg("submit: %s", err.msg);
	}
}

static gc_reporter *sql_reporter(gc_store *store, const char *spool)
{
	gc_reporter_options o = GC_REPORTER_OPTIONS_INIT;
	gc_reporter *rep = NULL;
	gc_error err;
	char dir[700];
	snprintf(dir, sizeof(dir), "%s/%s", F.dir, spool);
	o.store = store;
	o.agent_ip = "127.0.0.1"; /* the fallback the service uses: the peer */
	o.spool_dir = dir;
	o.retry_min_ms = 50;
	o.retry_max_ms = 500;
	o.log = gct_logbuf_fn;
	o.log_payload = &F.log;
	if (gc_reporter_new(&rep, &o, &err))
		fail_msg("reporter: %s", err.msg);
	return rep;
}

static void list_logs(gc_store *s, gc_store_logs *out)
{
	gc_store_log_query q;
	gc_error err;
	memset(&q, 0, sizeof(q));
	q.page_size = 1000;
	if (gc_store_log_list(out, s, &q, &err))
		fail_msg("list: %s", err.msg);
}

static void same_rows(const gc_store_logs *a, const gc_store_logs *b)
{
	assert_int_equal(a->count, b->count);
	for (size_t i = 0; i < a->count; i++) {
		const gc_store_log *x = &a->items[i], *y = &b->items[i];
		assert_int_equal(x->project_id, y->project_id);
		assert_string_equal(x->task_id, y->task_id);
		assert_string_equal(x->project, y->project);
		assert_string_equal(x->name, y->name);
		assert_string_equal(x->result, y->result);
		assert_int_equal(x->start_time, y->start_time);
		assert_int_equal(x->end_time, y->end_time);
		assert_string_equal(x->command, y->command);
		assert_int_equal(x->with_error, y->with_error);
		assert_string_equal(x->client_ip, y->client_ip);
		assert_int_equal(x->plan_time, y->plan_time);
		assert_string_equal(x->run_id, y->run_id);
		assert_string_equal(x->agent, y->agent);
	}
}

/* --------------------------------------------------------------- tests */

/* The same results reach a service over HTTP (its ingest writes the rows)
 * and a SQLite file through the SQL sink: the rows are identical. */
static void sql_sink_rows_equal_the_service_ingest_rows(void **state)
{
	gc_service_config cfg;
	gc_service_options so = GC_SERVICE_OPTIONS_INIT;
	gc_service *svc = NULL;
	gc_reporter_options ho = GC_REPORTER_OPTIONS_INIT;
	gc_reporter *http = NULL, *sql;
	gc_store *svc_db, *sink_db;
	gc_store_logs a, b;
	gc_result r[NRES];
	gc_reporter_stats st;
	gc_error err;
	char text[2048], url[128], spool[700];
	int64_t pid;
	(void)state;

	snprintf(text, sizeof(text),
		 "[deploy]\nhost = [\"127.0.0.1:1\"]\n"
		 "[etcd]\nservice = [\"127.0.0.1:9\"]\n"
		 "[sqlite]\npath = \"%s/svc.db\"\n"
		 "[jwt]\nsecret = \"s3cret-s3cret-s3cret-s3cret-s3cret\"\n"
		 "[report]\ntoken = \"" TOKEN "\"\n",
		 F.dir);
	gc_service_config_init(&cfg, GC_SERVICE_CONFIG_VERSION);
	if (gc_service_config_load_string(&cfg, text, "svc.toml", NULL, NULL,
					  &err))
		fail_msg("config: %s", err.msg);
	free(cfg.deploy.hosts[0]);
	cfg.deploy.hosts[0] = strdup("127.0.0.1:0");
	so.num_threads = 4;
	if (gc_service_new(&svc, &cfg, &so, &err) ||
	    gc_service_start(svc, &err))
		fail_msg("service: %s", err.msg);

	svc_db = open_sqlite("svc.db");
	sink_db = open_sqlite("sink.db");
	pid = make_project(svc_db);
	assert_int_equal(make_project(sink_db), pid);
	make_results(r, pid, 1795470000);

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v1/report",
		 gc_service_port(svc, 0));
	snprintf(spool, sizeof(spool), "%s/spool-http", F.dir);
	ho.report_addr = url;
	ho.report_token = TOKEN;
	ho.spool_dir = spool;
	ho.log = gct_logbuf_fn;
	ho.log_payload = &F.log;
	if (gc_reporter_new(&http, &ho, &err))
		fail_msg("reporter: %s", err.msg);
	sql = sql_reporter(sink_db, "spool-sql");
	submit_all(http, r, NRES);
	submit_all(sql, r, NRES);
	/* re-delivered results keep one row on both sides */
	submit_all(http, r, 2);
	submit_all(sql, r, 2);
	assert_int_equal(gc_reporter_flush(http, 20000), 0);
	assert_int_equal(gc_reporter_flush(sql, 20000), 0);

	gc_reporter_stats_get(sql, &st);
	assert_int_equal(st.delivered, NRES + 2 + 4); /* results + warnings */
	assert_int_equal(st.duplicates, 2);
	assert_int_equal(st.warnings_logged, 4);
	assert_int_equal(st.dead_lettered, 0);
	gc_reporter_stats_get(http, &st);
	assert_int_equal(st.delivered, NRES + 2 + 4);

	list_logs(svc_db, &a);
	list_logs(sink_db, &b);
	assert_int_equal(a.count, NRES);
	same_rows(&a, &b);
	/* and they are what the original stored */
	for (size_t i = 0; i < b.count; i++) {
		const gc_store_log *x = &b.items[i];
		assert_string_equal(x->project, TITLE);
		if (strcmp(x->task_id, "1131476936434913281") == 0) {
			assert_string_equal(x->result,
					    "{\"result\":\"line1\\nline2\\n\","
					    "\"system_error\":\"exit status 3\","
					    "\"error\":\"\"}");
			assert_int_equal(x->with_error, 1);
			assert_int_equal(x->start_time, 1795470003); /* +0.999999999 s */
			assert_int_equal(x->end_time, 1795470003 + 3); /* +3.499999999 s */
			assert_int_equal(x->plan_time, 1795470003);
			assert_string_equal(x->client_ip, AGENT_IP);
		}
		if (strcmp(x->task_id, "1131476936434913284") == 0)
			assert_string_equal(x->client_ip, "127.0.0.1");
		if (strcmp(x->task_id, "1131476936434913285") == 0)
			/* derived: pid-tid-plan-ip-start_ns */
			assert_non_null(strstr(x->run_id, "-1795470015-" AGENT_IP
							  "-"));
	}
	gc_store_logs_clear(&a);
	gc_store_logs_clear(&b);
	for (int i = 0; i < NRES; i++)
		gc_result_clear(&r[i]);
	gc_reporter_free(http);
	gc_reporter_free(sql);
	gc_store_free(svc_db);
	gc_store_free(sink_db);
	gc_service_free(svc);
	gc_service_config_clear(&cfg);
}

/* MariaDB, with the store opened by the reporter itself from an agent
 * configuration's [mysql] section: the same rows as the SQLite sink. */
static void mariadb_sink_from_config_equals_the_sqlite_sink(void **state)
{
	gc_agent_config cfg;
	gc_reporter *my = NULL, *lite;
	gc_store *mdb, *sdb;
	gc_store_logs a, b;
	gc_result r[NRES];
	gc_error err;
	char text[2048];
	int64_t pid;
	(void)state;

	mdb = open_mysql();
	sdb = open_sqlite("lite2.db");
	pid = make_project(mdb);
	assert_int_equal(make_project(sdb), pid);
	snprintf(text, sizeof(text),
		 "client_ip = \"127.0.0.1\"\n"
		 "spool_dir = \"%s/spool-my\"\n"
		 "[etcd]\nservice = [\"127.0.0.1:9\"]\nprojects = [1]\n"
		 "[mysql]\nservice = \"127.0.0.1:%d\"\nusername = \"gc\"\n"
		 "password = \"gcpass\"\ndatabase = \"gophercron\"\n",
		 F.dir, gct_mariadb_port(F.db));
	gc_agent_config_init(&cfg, GC_AGENT_CONFIG_VERSION);
	if (gc_agent_config_load_string(&cfg, text, "agent.toml", NULL, NULL,
					&err))
		fail_msg("config: %s", err.msg);
	if (gc_reporter_new_from_config(&my, &cfg, gct_logbuf_fn, &F.log,
					&err))
		fail_msg("reporter: %s", err.msg);
	lite = sql_reporter(sdb, "spool-lite2");
	make_results(r, pid, 1795480000);
	submit_all(my, r, NRES);
	submit_all(lite, r, NRES);
	assert_int_equal(gc_reporter_flush(my, 30000), 0);
	assert_int_equal(gc_reporter_flush(lite, 20000), 0);
	list_logs(mdb, &a);
	list_logs(sdb, &b);
	assert_int_equal(a.count, NRES);
	same_rows(&a, &b);
	/* the password never reaches the log */
	assert_true(F.log.text && !strstr(F.log.text, "gcpass"));
	gc_store_logs_clear(&a);
	gc_store_logs_clear(&b);
	for (int i = 0; i < NRES; i++)
		gc_result_clear(&r[i]);
	gc_reporter_free(my);
	gc_reporter_free(lite);
	gc_store_free(mdb);
	gc_store_free(sdb);
	gc_agent_config_clear(&cfg);
}

typedef struct feeder {
	gc_reporter *rep;
	int64_t pid;
	int n;
	atomic_int done;
	int failed;
} feeder;

/* Submits n results, one every 10 ms. */
static void *feed(void *arg)
{
	feeder *fd = arg;
	gc_error err;
	for (int i = 0; i < fd->n; i++) {
		gc_result r[NRES];
		make_results(r, fd->pid, 1795490000 + i * 100);
		if (gc_reporter_result_submit(fd->rep, &r[0], &err))
			fd->failed++;
		for (int k = 0; k < NRES; k++)
			gc_result_clear(&r[k]);
		atomic_fetch_add(&fd->done, 1);
		gct_sleep_ms(10);
	}
	return NULL;
}

/* MariaDB is killed and restarted while results keep coming: the spool
 * holds them, every one ends up stored exactly once. (The restart runs on
 * the main thread: the harness ties the server's life to the thread that
 * started it.) */
static void a_database_restart_loses_and_duplicates_nothing(void **state)
{
	gc_store *mdb = open_mysql();
	gc_reporter *rep;
	gc_reporter_stats st;
	gc_store_logs l;
	gc_store_log_query q;
	pthread_t t;
	gc_error err;
	const int n = 300;
	feeder fd;
	(void)state;

	memset(&fd, 0, sizeof(fd));
	fd.pid = make_project(mdb);
	fd.n = n;
	rep = sql_reporter(mdb, "spool-restart");
	fd.rep = rep;
	atomic_init(&fd.done, 0);
	assert_int_equal(pthread_create(&t, NULL, feed, &fd), 0);
	while (atomic_load(&fd.done) < 50)
		gct_sleep_ms(5);
	assert_int_equal(gct_mariadb_restart(F.db), 0);
	pthread_join(t, NULL);
	assert_int_equal(fd.failed, 0);
	assert_int_equal(gc_reporter_flush(rep, 60000), 0);
	gc_reporter_stats_get(rep, &st);
	assert_int_equal(st.delivered, n);
	assert_int_equal(st.pending_records, 0);
	assert_int_equal(st.refused, 0);
	assert_true(st.attempts_failed >= 1); /* the outage was felt */
	gc_reporter_free(rep);

	memset(&q, 0, sizeof(q));
	q.page_size = 1000;
	for (int tries = 0; tries < 50; tries++) { /* pool reconnects */
		if (gc_store_log_list(&l, mdb, &q, &err) == 0)
			break;
		gct_sleep_ms(100);
	}
	assert_int_equal(l.total, n);
	for (size_t i = 1; i < l.count; i++) /* newest first, all distinct */
		assert_true(l.items[i].plan_time < l.items[i - 1].plan_time);
	gc_store_logs_clear(&l);
	gc_store_free(mdb);
}

/* A result no store can take (no project id) is dead-lettered at once,
 * loudly; the results after it are stored. */
static void a_result_no_store_can_take_is_dead_lettered(void **state)
{
	gc_store *db = open_sqlite("dead.db");
	gc_reporter *rep = sql_reporter(db, "spool-dead");
	gc_reporter_stats st;
	gc_result r[NRES];
	gc_store_logs l;
	gc_error err;
	int64_t pid = make_project(db);
	char path[700];
	(void)state;

	make_results(r, pid, 1795500000);
	r[1].task.project_id = 0;
	for (int i = 0; i < 3; i++)
		assert_int_equal(gc_reporter_result_submit(rep, &r[i], &err), 0);
	assert_int_equal(gc_reporter_flush(rep, 20000), 0);
	gc_reporter_stats_get(rep, &st);
	assert_int_equal(st.dead_lettered, 1);
	assert_int_equal(st.delivered, 2);
	assert_true(gct_logbuf_count(&F.log, "dead-letter.jsonl") >= 1);
	list_logs(db, &l);
	assert_int_equal(l.count, 2);
	gc_store_logs_clear(&l);
	snprintf(path, sizeof(path), "%s/spool-dead/dead-letter.jsonl", F.dir);
	assert_int_equal(access(path, R_OK), 0);
	for (int i = 0; i < NRES; i++)
		gc_result_clear(&r[i]);
	gc_reporter_free(rep);
	gc_store_free(db);
}

/* Many results at once go in batches, each run once. */
static void a_burst_is_stored_in_batches_once_each(void **state)
{
	gc_store *db = open_sqlite("burst.db");
	gc_reporter *rep = sql_reporter(db, "spool-burst");
	gc_reporter_stats st;
	gc_store_logs l;
	gc_store_log_query q;
	gc_error err;
	int64_t pid = make_project(db);
	const int n = 3000;
	(void)state;

	for (int i = 0; i < n; i++) {
		gc_result r[NRES];
		make_results(r, pid, 1795600000 + i * 100);
		assert_int_equal(gc_reporter_result_submit(rep, &r[i % NRES],
							   &err),
				 0);
		for (int k = 0; k < NRES; k++)
			gc_result_clear(&r[k]);
	}
	assert_int_equal(gc_reporter_flush(rep, 60000), 0);
	gc_reporter_stats_get(rep, &st);
	assert_int_equal(st.delivered, n);
	assert_int_equal(st.duplicates, 0);
	memset(&q, 0, sizeof(q));
	q.page_size = 1;
	assert_int_equal(gc_store_log_list(&l, db, &q, &err), 0);
	assert_int_equal(l.total, n);
	gc_store_logs_clear(&l);
	gc_reporter_free(rep);
	gc_store_free(db);
}

/* Rows written straight to the store are bounded as the service's are:
 * the output capped at the reporter's output_limit (1 MiB by default) with
 * the executor's head + marker + tail rule, stored once without Go's
 * \u003c escapes. */
static void sql_sink_caps_output_as_the_service_does(void **state)
{
	gc_store *db = open_sqlite("cap.db");
	gc_reporter *dflt = sql_reporter(db, "spool-cap");
	gc_reporter_options o = GC_REPORTER_OPTIONS_INIT;
	gc_reporter *small = NULL;
	gc_store_logs l;
	gc_error err;
	char dir[700], marker[64];
	int64_t pid = make_project(db);
	gc_result r[NRES];
	const size_t big = 3u << 20;
	(void)state;

	snprintf(dir, sizeof(dir), "%s/spool-cap-small", F.dir);
	o.store = db;
	o.spool_dir = dir;
	o.output_limit = 4096;
	assert_int_equal(gc_reporter_new(&small, &o, &err), 0);
	make_results(r, pid, 1795700000);
	for (int i = 0; i < 2; i++) {
		free(r[i].output);
		r[i].output = malloc(big + 1);
		memset(r[i].output, '<', big);
		memcpy(r[i].output + big - 4, "END\n", 4);
		r[i].output[big] = '\0';
		r[i].output_len = big;
		assert_int_equal(gc_reporter_result_submit(i ? small : dflt,
							   &r[i], &err),
				 0);
	}
	assert_int_equal(gc_reporter_flush(dflt, 30000), 0);
	assert_int_equal(gc_reporter_flush(small, 30000), 0);
	list_logs(db, &l);
	assert_int_equal(l.count, 2);
	for (size_t i = 0; i < l.count; i++) {
		const gc_store_log *row = &l.items[i];
		int is_small = strcmp(row->run_id, r[1].run_id) == 0;
		size_t limit = is_small ? 4096 : 1u << 20;
		cJSON *res = cJSON_Parse(row->result);
		const char *out;
		assert_null(strstr(row->result, "\\u003c"));
		assert_non_null(res);
		out = cJSON_GetObjectItem(res, "result")->valuestring;
		snprintf(marker, sizeof(marker),
			 "\n... [%zu bytes omitted] ...\n", big - limit);
		assert_int_equal(strlen(out), limit + strlen(marker));
		assert_int_equal(strspn(out, "<"), limit / 2);
		assert_memory_equal(out + limit / 2, marker, strlen(marker));
		assert_string_equal(out + strlen(out) - 4, "END\n");
		cJSON_Delete(res);
	}
	gc_store_logs_clear(&l);
	for (int i = 0; i < NRES; i++)
		gc_result_clear(&r[i]);
	gc_reporter_free(dflt);
	gc_reporter_free(small);
	gc_store_free(db);
}

/* Files in <spool>/running/ whose name ends with `suffix`. */
static int running_files(const char *spool, const char *suffix)
{
	char dir[800];
	DIR *d;
	struct dirent *de;
	int n = 0;
	snprintf(dir, sizeof(dir), "%s/%s/running", F.dir, spool);
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name), sl = strlen(suffix);
		if (de->d_name[0] != '.' && len > sl &&
		    strcmp(de->d_name + len - sl, suffix) == 0)
			n++;
	}
	closedir(d);
	return n;
}

static const gc_store_log *row_of(const gc_store_logs *l, const char *run_id)
{
	for (size_t i = 0; i < l->count; i++)
		if (strcmp(l->items[i].run_id, run_id) == 0)
			return &l->items[i];
	return NULL;
}

/* A run recorded as started whose result never comes (the process died)
 * is stored as interrupted by the next reporter on the spool; a finished
 * run leaves nothing behind; a run whose result was spooled just before
 * the process died keeps its real result; an unreadable record is set
 * aside and logged. Run ids need not be file-name safe. */
static void a_run_whose_agent_died_is_reported_as_interrupted(void **state)
{
	gc_store *db = open_sqlite("interrupted.db");
	gc_reporter *rep = sql_reporter(db, "spool-int");
	gc_reporter_stats st;
	gc_result r[NRES];
	gc_store_logs l;
	gc_error err;
	int64_t pid = make_project(db);
	char path[900], odd_id[400];
	const gc_store_log *row;
	int64_t before = time(NULL);
	FILE *f;
	(void)state;

	make_results(r, pid, 1795700000);
	/* r[2]: an id with '/', '%', spaces and 250 bytes (the store's limit is
	 * 255) */
	free(r[2].run_id);
	memset(odd_id, 'x', sizeof(odd_id));
	snprintf(odd_id, 32, "%" PRId64 "-a/b %%c-", pid);
	odd_id[strlen(odd_id)] = 'x';
	odd_id[250] = '\0';
	r[2].run_id = strdup(odd_id);
	/* r[0] finishes, r[1] and r[2] are still running at the "crash" */
	for (int i = 0; i < 3; i++)
		assert_int_equal(gc_reporter_start_submit(rep, &r[i], &err),
				 0);
	assert_int_equal(running_files("spool-int", ".run"), 3);
	assert_int_equal(gc_reporter_result_submit(rep, &r[0], &err), 0);
	assert_int_equal(running_files("spool-int", ".run"), 2);
	/* r[3]: its result is spooled, then the process dies before it can
	 * forget the run (its record is put back by hand). */
	assert_int_equal(gc_reporter_start_submit(rep, &r[3], &err), 0);
	snprintf(path, sizeof(path), "%s/spool-int/running", F.dir);
	char cmd[2000];
	snprintf(cmd, sizeof(cmd),
		 "mkdir -p %s/keep && cp %s/*-1131476936434913283-* %s/keep/",
		 F.dir, path, F.dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(gc_reporter_result_submit(rep, &r[3], &err), 0);
	assert_int_equal(gc_reporter_flush(rep, 20000), 0);
	gc_reporter_stats_get(rep, &st);
	assert_int_equal(st.started, 4);
	assert_int_equal(st.interrupted, 0);
	gc_reporter_free(rep); /* as if killed: r[1], r[2] never finish */
	snprintf(cmd, sizeof(cmd), "cp %s/keep/* %s/", F.dir, path);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "%s/garbage.run", path);
	f = fopen(cmd, "w");
	assert_non_null(f);
	fputs("{\"execute_info\":", f);
	fclose(f);
	assert_int_equal(running_files("spool-int", ".run"), 4);

	gct_logbuf_free(&F.log);
	gct_logbuf_init(&F.log);
	rep = sql_reporter(db, "spool-int");
	assert_int_equal(gc_reporter_flush(rep, 20000), 0);
	gc_reporter_stats_get(rep, &st);
	assert_int_equal(st.interrupted, 3); /* r[1], r[2], r[3] again */
	assert_int_equal(st.duplicates, 1);  /* r[3]'s real result stays */
	assert_int_equal(running_files("spool-int", ".run"), 0);
	assert_int_equal(running_files("spool-int", ".bad"), 1);
	assert_int_equal(gct_logbuf_count(&F.log, "garbage.run"), 1);
	assert_int_equal(gct_logbuf_count(&F.log, "was interrupted"), 3);
	/* warnings come first, as for every failed run */
	assert_int_equal(gct_logbuf_count(&F.log, GC_RUN_ERR_INTERRUPTED), 6);

	list_logs(db, &l);
	assert_int_equal(l.count, 4);
	row = row_of(&l, r[0].run_id);
	assert_non_null(row);
	assert_int_equal(row->with_error, 0);
	row = row_of(&l, r[3].run_id);
	assert_non_null(row);
	assert_null(strstr(row->result, "outcome unknown"));
	for (int i = 1; i <= 2; i++) {
		row = row_of(&l, r[i].run_id);
		assert_non_null(row);
		assert_int_equal(row->with_error, 1);
		assert_non_null(strstr(row->result, GC_RUN_ERR_INTERRUPTED));
		assert_string_equal(row->name, r[i].task.name);
		assert_string_equal(row->client_ip, AGENT_IP);
		assert_int_equal(row->plan_time,
				 r[i].plan_time_ns / 1000000000);
		assert_int_equal(row->start_time,
				 r[i].start_time_ns / 1000000000);
		assert_true(row->end_time >= before);
	}
	gc_store_logs_clear(&l);

	/* nothing is reported twice by a third start */
	gc_reporter_free(rep);
	rep = sql_reporter(db, "spool-int");
	assert_int_equal(gc_reporter_flush(rep, 20000), 0);
	gc_reporter_stats_get(rep, &st);
	assert_int_equal(st.interrupted, 0);
	list_logs(db, &l);
	assert_int_equal(l.count, 4);
	gc_store_logs_clear(&l);

	assert_int_equal(gc_reporter_start_submit(rep, &r[5], &err),
			 GC_EINVAL); /* no run id */
	for (int i = 0; i < NRES; i++)
		gc_result_clear(&r[i]);
	gc_reporter_free(rep);
	gc_store_free(db);
}

static void a_config_without_any_sink_says_so(void **state)
{
	gc_agent_config cfg;
	gc_reporter *rep = NULL;
	gc_error err;
	(void)state;
	gc_agent_config_init(&cfg, GC_AGENT_CONFIG_VERSION);
	assert_int_equal(gc_reporter_new_from_config(&rep, &cfg, NULL, NULL,
						     &err),
			 GC_ENOTFOUND);
	assert_non_null(strstr(err.msg, "report_addr"));
	assert_null(rep);
	gc_agent_config_clear(&cfg);
}

#define T(fn) cmocka_unit_test_setup(fn, test_setup)

int main(void)
{
	if (getenv("GC_TEST_FILTER"))
		cmocka_set_test_filter(getenv("GC_TEST_FILTER"));
	const struct CMUnitTest tests[] = {
		T(sql_sink_rows_equal_the_service_ingest_rows),
		T(mariadb_sink_from_config_equals_the_sqlite_sink),
		T(a_database_restart_loses_and_duplicates_nothing),
		T(a_result_no_store_can_take_is_dead_lettered),
		T(a_burst_is_stored_in_batches_once_each),
		T(sql_sink_caps_output_as_the_service_does),
		T(a_run_whose_agent_died_is_reported_as_interrupted),
		T(a_config_without_any_sink_says_so),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
