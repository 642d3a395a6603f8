/* Reporter throughput: results per second delivered to a local HTTP sink
 * and into SQLite, against the same work done without the reporter.
 *
 *   bench_report RUNS N [VARIANT,...]
 *
 * Prints one tab-separated line per variant: name, median results/second
 * over RUNS repetitions of N results each, the slowest and fastest
 * repetition, (for reporter variants) the median time one submit took on
 * the caller's thread in microseconds, and the median CPU time (user +
 * system, all threads of this process: the receiver and SQLite included)
 * per result in microseconds -- on a loaded machine the wall-clock rates
 * swing with the load, the CPU cost much less. Variants, interleaved per
 * repetition so load drifts hit all alike:
 *   http_bare     libcurl keep-alive POST loop of the same bodies to the
 *                 same receiver: the floor without spool or thread;
 *   http_group    reporter, HTTP sink, sync=group (the default): N submits
 *                 then flush, timed from the first submit to the flush;
 *   http_always   the same with sync=always (fdatasync in every submit);
 *   sql_bare      gc_store_log_insert of the same rows in batches of 256
 *                 into SQLite (conversion included): the floor;
 *   sql_group     reporter, SQL sink into SQLite, sync=group;
 *   sql_none      the same with sync=none (no fdatasync at all);
 *   spool_only    submits with the sink down (appending to the spool is
 *                 all the caller ever waits for): submits/second;
 *   spool_started the same, each result preceded by
 *                 gc_reporter_start_submit (the record of the run in
 *                 running/ that the agent writes before every spawn):
 *                 runs/second, "submit" the caller's time for both calls.
 * The receiver is a civetweb server in this process (8 threads) answering
 * 200 {} to every POST.
 */
#include "../integration/test_report_rx.h"
#include "harness.h"

#include <gophercron.h>

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void die(const char *what, const char *msg)
{
	fprintf(stderr, "bench_report: %s: %s\n", what, msg);
	exit(1);
}

/* A result like the original's samples (~500 bytes of JSON). */
static void make_result(gc_result *r, int64_t pid, int i)
{
	static const char task[] =
		"{\"task_id\":\"1131477034980085760\",\"name\":\"sched-ok\","
		"\"project_id\":1,\"command\":\"echo tick; echo line2\","
		"\"cron\":\"*/3 * * * * * *\",\"remark\":\"\",\"timeout\":0,"
		"\"create_time\":1795470679,\"status\":1,\"is_running\":-1,"
		"\"noseize\":0,\"exclusion\":0,\"client_ip\":\"192.0.2.2\"}";
	gc_error err;
	gc_result_init(r);
	if (gc_task_from_json(&r->task, task, sizeof(task) - 1, &err))
		die("task", err.msg);
	r->task.project_id = pid;
	r->plan_time_ns = (1795470000LL + i) * 1000000000LL;
	r->real_time_ns = r->plan_time_ns + 1121297;
	r->start_time_ns = r->plan_time_ns + 851839981;
	r->end_time_ns = r->plan_time_ns + 854351653;
	r->output = strdup("tick\nline2\n");
	r->output_len = strlen(r->output);
	r->error = strdup("");
	r->run_id = gc_run_id(pid, r->task.task_id, 1795470000LL + i,
			      "192.0.2.2");
}

static curl_socket_t open_cloexec(void *p, curlsocktype t,
				  struct curl_sockaddr *a)
{
	(void)p;
	(void)t;
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static size_t drop(char *d, size_t s, size_t n, void *u)
{
	(void)d;
	(void)u;
	return s * n;
}

static double http_bare(const char *url, char **bodies, int n)
{
	CURL *e = curl_easy_init();
	struct curl_slist *h = NULL;
	double t0;
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, "Report-Type: report_task_result");
	h = curl_slist_append(h, "Expect:");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_cloexec);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, drop);
	t0 = now_s();
	for (int i = 0; i < n; i++) {
		long code = 0;
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, bodies[i]);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)strlen(bodies[i]));
		if (curl_easy_perform(e) != CURLE_OK)
			die("bare POST", "failed");
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
		if (code != 200)
			die("bare POST", "not 200");
	}
	t0 = now_s() - t0;
	curl_slist_free_all(h);
	curl_easy_cleanup(e);
	return n / t0;
}

/* Reporter run: n submits, then flush; returns results/second, and the
 * mean submit time (us). */
static double through_reporter(gc_reporter_options *o, gc_result *res, int n,
			       int expect_delivery, int with_start,
			       double *submit_us)
{
	gc_reporter *r;
	gc_error err;
	gc_reporter_stats st;
	double t0, t1;
	char *dir = gct_tmpdir("bench-spool");
	o->spool_dir = dir;
	if (gc_reporter_new(&r, o, &err))
		die("reporter", err.msg);
	t0 = now_s();
	for (int i = 0; i < n; i++)
		if ((with_start &&
		     gc_reporter_start_submit(r, &res[i], &err)) ||
		    gc_reporter_result_submit(r, &res[i], &err))
			die("submit", err.msg);
	t1 = now_s();
	*submit_us = (t1 - t0) * 1e6 / n;
	if (expect_delivery) {
		if (gc_reporter_flush(r, 600000))
			die("flush", "timed out");
		t1 = now_s();
		gc_reporter_stats_get(r, &st);
		if (st.delivered != (uint64_t)n)
			die("reporter", "not everything was delivered");
	}
	gc_reporter_free(r);
	gct_rmrf(dir);
	free(dir);
	return n / (t1 - t0);
}

static gc_store *open_db(const char *dir, const char *name, int64_t *pid)
{
	gc_store_options so = GC_STORE_OPTIONS_INIT;
	gc_store *s;
	gc_error err;
	char path[600];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	so.sqlite_path = path;
	if (gc_store_open(&s, &so, &err))
		die("sqlite", err.msg);
	if (gc_store_project_create(pid, s, "bench", "", 1, &err))
		die("project", err.msg);
	return s;
}

static double sql_bare(gc_store *s, gc_result *res, int n)
{
	gc_store_log rows[256];
	gc_store_project p = {0};
	gc_error err;
	double t0 = now_s();
	memset(rows, 0, sizeof(rows));
	for (int i = 0; i < n;) {
		int k = 0;
		if (gc_store_project_get(&p, s, res[i].task.project_id, &err))
			die("project", err.msg);
		for (; k < 256 && i < n; k++, i++)
			if (gc_store_log_from_result(&rows[k], &res[i],
						     "127.0.0.1", p.title, 0,
						     &err))
				die("row", err.msg);
		gc_store_project_clear(&p);
		if (gc_store_log_insert(NULL, s, rows, (size_t)k, &err))
			die("insert", err.msg);
	}
	t0 = now_s() - t0;
	for (int k = 0; k < 256; k++)
		gc_store_log_clear(&rows[k]);
	return n / t0;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

#define NV 8
static const char *names[NV] = {"http_bare", "http_group", "http_always",
				"sql_bare",  "sql_group",  "spool_only",
				"sql_none",  "spool_started"};

static int want(const char *only, int v)
{
	const char *p = only;
	size_t l = strlen(names[v]);
	if (!only)
		return 1;
	for (; (p = strstr(p, names[v])); p += l)
		if ((p == only || p[-1] == ',') && (p[l] == ',' || !p[l]))
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	int runs = argc > 1 ? atoi(argv[1]) : 5;
	int n = argc > 2 ? atoi(argv[2]) : 5000;
	const char *only = argc > 3 ? argv[3] : NULL;
	double rate[NV][64], sub[NV][64], cpu[NV][64];
	receiver rx;
	char url[128], *dir;
	gc_result *res;
	char **bodies;

	if (runs < 1 || runs > 64 || n < 1)
		die("usage", "bench_report RUNS(1..64) N");
	curl_global_init(CURL_GLOBAL_ALL);
	mg_init_library(0);
	rx_init(&rx, gct_free_port(), 0);
	if (rx_listen(&rx))
		die("receiver", "cannot listen");
	rx_url(&rx, url, sizeof(url));
	dir = gct_tmpdir("bench-report");
	res = calloc((size_t)n, sizeof(*res));
	bodies = calloc((size_t)n, sizeof(*bodies));
	for (int i = 0; i < n; i++) {
		make_result(&res[i], 1, i);
		bodies[i] = gc_result_to_json(&res[i]);
	}
	memset(sub, 0, sizeof(sub));
	memset(rate, 0, sizeof(rate));
	memset(cpu, 0, sizeof(cpu));
	for (int rep = 0; rep < runs; rep++) {
		gc_reporter_options o = GC_REPORTER_OPTIONS_INIT;
		char db[32];
		int64_t pid;
		gc_store *s;

		if (want(only, 0))
			{
			double c0 = cpu_s();
			rate[0][rep] = http_bare(url, bodies, n);
			cpu[0][rep] = (cpu_s() - c0) * 1e6 / n;
		}
		o.report_addr = url;
		o.sync = GC_REPORTER_SYNC_GROUP;
		if (want(only, 1))
			{
			double c0 = cpu_s();
			rate[1][rep] = through_reporter(&o, res, n, 1, 0,
							&sub[1][rep]);
			cpu[1][rep] = (cpu_s() - c0) * 1e6 / n;
		}
		o.sync = GC_REPORTER_SYNC_ALWAYS;
		if (want(only, 2))
			{
			double c0 = cpu_s();
			rate[2][rep] = through_reporter(&o, res, n, 1, 0,
							&sub[2][rep]);
			cpu[2][rep] = (cpu_s() - c0) * 1e6 / n;
		}
		if (want(only, 3)) {
			snprintf(db, sizeof(db), "bare-%d.db", rep);
			s = open_db(dir, db, &pid);
			{
			double c0 = cpu_s();
			rate[3][rep] = sql_bare(s, res, n);
			cpu[3][rep] = (cpu_s() - c0) * 1e6 / n;
		}
			gc_store_free(s);
		}
		if (want(only, 4)) {
			snprintf(db, sizeof(db), "sink-%d.db", rep);
			s = open_db(dir, db, &pid);
			memset(&o, 0, sizeof(o));
			o.version = GC_REPORTER_OPTIONS_VERSION;
			o.store = s;
			{
			double c0 = cpu_s();
			rate[4][rep] = through_reporter(&o, res, n, 1, 0,
							&sub[4][rep]);
			cpu[4][rep] = (cpu_s() - c0) * 1e6 / n;
		}
			gc_store_free(s);
		}
		if (want(only, 6)) {
			snprintf(db, sizeof(db), "none-%d.db", rep);
			s = open_db(dir, db, &pid);
			memset(&o, 0, sizeof(o));
			o.version = GC_REPORTER_OPTIONS_VERSION;
			o.store = s;
			o.sync = GC_REPORTER_SYNC_NONE;
			double c0 = cpu_s();
			rate[6][rep] = through_reporter(&o, res, n, 1, 0,
							&sub[6][rep]);
			cpu[6][rep] = (cpu_s() - c0) * 1e6 / n;
			gc_store_free(s);
		}
		memset(&o, 0, sizeof(o));
		o.version = GC_REPORTER_OPTIONS_VERSION;
		o.report_addr = "http://127.0.0.1:9/nowhere";
		o.retry_min_ms = 60000;
		if (want(only, 5))
			{
			double c0 = cpu_s();
			rate[5][rep] = through_reporter(&o, res, n, 0, 0,
							&sub[5][rep]);
			cpu[5][rep] = (cpu_s() - c0) * 1e6 / n;
		}
		if (want(only, 7)) {
			double c0 = cpu_s();
			rate[7][rep] = through_reporter(&o, res, n, 0, 1,
							&sub[7][rep]);
			cpu[7][rep] = (cpu_s() - c0) * 1e6 / n;
		}
	}
	for (int v = 0; v < NV; v++) {
		double r[64], s[64], c[64];
		if (!want(only, v))
			continue;
		memcpy(r, rate[v], sizeof(double) * (size_t)runs);
		memcpy(s, sub[v], sizeof(double) * (size_t)runs);
		memcpy(c, cpu[v], sizeof(double) * (size_t)runs);
		qsort(r, (size_t)runs, sizeof(double), cmp_d);
		qsort(s, (size_t)runs, sizeof(double), cmp_d);
		qsort(c, (size_t)runs, sizeof(double), cmp_d);
		printf("%s\t%.0f\t%.0f\t%.0f\t%.1f\t%.1f\n", names[v],
		       r[runs / 2], r[0], r[runs - 1], s[runs / 2], c[runs / 2]);
	}
	for (int i = 0; i < n; i++) {
		gc_result_clear(&res[i]);
		gc_free(bodies[i]);
	}
	free(res);
	free(bodies);
	rx_free(&rx);
	gct_rmrf(dir);
	free(dir);
	mg_exit_library();
	curl_global_cleanup();
	return 0;
}
