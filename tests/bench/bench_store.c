/* Store benchmark: task-log inserts per second (batched, with one-row
 * inserts as the baseline measured in the same run) and log-list latency
 * (p50/p99) at ROWS rows, for one backend per invocation.
 *
 *   bench_store sqlite|mysql [ROWS] [QUERIES]
 *
 * MySQL runs against a MariaDB the test harness starts (temp datadir,
 * loopback), its InnoDB buffer pool grown online from the harness's 64 MB
 * to STORE_BENCH_MYSQL_POOL bytes (default 1 GiB, "" keeps 64 MB): a million rows
 * with their indexes take about 600 MB. STORE_BENCH_MYSQL_SERVICE=host:port
 * (with STORE_BENCH_MYSQL_USER, _PASSWORD, _DATABASE) uses an existing
 * server instead. Output: "key<TAB>value" lines. */
#include <gophercron.h>

#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PROJECTS 10
#define TASKS_PER_PROJECT 20
#define BATCH 500

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double pct(double *v, size_t n, double p)
{
	qsort(v, n, sizeof(*v), cmp_double);
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i];
}

static double median(double *v, size_t n)
{
	return pct(v, n, 0.5);
}

/* Deterministic pseudo-random numbers (xorshift). */
static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static char task_ids[PROJECTS * TASKS_PER_PROJECT][24];
static uint64_t total_rows = 1000000; /* spread over 30 days */
static const char output[] =
	"{\"result\":\"2024-05-01 10:00:00 starting sync\\nfetched 1823 "
	"records from upstream\\nwrote 1823 records\\nsync done in 1.42s\\n\","
	"\"system_error\":\"\",\"error\":\"\"}";
static const char failed_output[] =
	"{\"result\":\"2024-05-01 10:00:00 starting sync\\nupstream "
	"answered 503\\n\",\"system_error\":\"exit status 1\",\"error\":\"\"}";

/* One realistic log row: 10 projects x 20 tasks, 30 days of history,
 * one run in ten failing. */
static void make_row(gc_store_log *l, char *run_id, size_t run_len,
		     uint64_t seq, int64_t base)
{
	uint64_t r = next_rand();
	int p = (int)(r % PROJECTS), t = (int)((r >> 8) % TASKS_PER_PROJECT);
	int err = (r >> 16) % 10 == 0;
	memset(l, 0, sizeof(*l));
	l->project_id = p + 1;
	l->task_id = task_ids[p * TASKS_PER_PROJECT + t];
	l->project = (char *)"billing";
	l->name = (char *)"nightly-sync";
	l->result = (char *)(err ? failed_output : output);
	l->start_time = base + (int64_t)(seq * 30 * 86400 / total_rows);
	l->end_time = l->start_time + 2;
	l->plan_time = l->start_time;
	l->command = (char *)"/usr/local/bin/sync --source upstream --all";
	l->with_error = err;
	l->client_ip = (char *)"10.0.3.17";
	l->agent = (char *)"worker-3 (10.0.3.17) v1.10.100";
	snprintf(run_id, run_len, "%s:%lld:%llu", l->task_id,
		 (long long)l->start_time, (unsigned long long)seq);
	l->run_id = run_id;
}

int main(int argc, char **argv)
{
	if (argc < 2 || (strcmp(argv[1], "sqlite") && strcmp(argv[1], "mysql"))) {
		fprintf(stderr, "usage: bench_store sqlite|mysql [ROWS] [QUERIES]\n");
		return 2;
	}
	int mysql = strcmp(argv[1], "mysql") == 0;
	long rows = argc > 2 ? strtol(argv[2], NULL, 10) : 1000000;
	int queries = argc > 3 ? (int)strtol(argv[3], NULL, 10) : 300;
	/* page 50 of 20 needs 1000 rows in every project */
	if (rows < 20000 || queries < 10) {
		fprintf(stderr, "bench_store: ROWS >= 20000, QUERIES >= 10\n");
		return 2;
	}
	total_rows = (uint64_t)rows;
	for (int i = 0; i < PROJECTS * TASKS_PER_PROJECT; i++)
		snprintf(task_ids[i], sizeof(task_ids[i]), "11314770%011d",
			 i * 7919);

	gct_mariadb *m = NULL;
	char *dir = gct_tmpdir("bench-store");
	char path[600], service[64];
	gc_store_options o;
	gc_store *s = NULL;
	gc_error e = {0, ""};
	gc_store_options_init(&o, GC_STORE_OPTIONS_VERSION);
	const char *ext = getenv("STORE_BENCH_MYSQL_SERVICE");
	if (mysql && ext && *ext) {
		/* An existing server (its tables are left behind). */
		const char *u = getenv("STORE_BENCH_MYSQL_USER");
		const char *pw = getenv("STORE_BENCH_MYSQL_PASSWORD");
		const char *db = getenv("STORE_BENCH_MYSQL_DATABASE");
		o.backend = GC_STORE_MYSQL;
		o.mysql_service = ext;
		o.mysql_username = u ? u : "gc";
		o.mysql_password = pw ? pw : "gcpass";
		o.mysql_database = db ? db : "gophercron";
	} else if (mysql) {
		if (gct_mariadb_start(&m)) {
			fprintf(stderr, "bench_store: cannot start MariaDB\n");
			return 1;
		}
		snprintf(service, sizeof(service), "127.0.0.1:%d",
			 gct_mariadb_port(m));
		const char *pool = getenv("STORE_BENCH_MYSQL_POOL");
		if (!pool)
			pool = "1073741824";
		if (*pool) {
			char sql[128];
			snprintf(sql, sizeof(sql),
				 "SET GLOBAL innodb_buffer_pool_size = %s", pool);
			if (gct_mariadb_sql(m, sql)) {
				fprintf(stderr, "bench_store: %s failed\n", sql);
				return 1;
			}
		}
		printf("mysql_buffer_pool_mb\t%lld\n",
		       *pool ? strtoll(pool, NULL, 10) >> 20 : 64);
		o.backend = GC_STORE_MYSQL;
		o.mysql_service = service;
		o.mysql_username = "gc";
		o.mysql_password = "gcpass";
		o.mysql_database = "gophercron";
	} else {
		snprintf(path, sizeof(path), "%s/bench.db", dir);
		o.sqlite_path = path;
	}
	if (gc_store_open(&s, &o, &e)) {
		fprintf(stderr, "bench_store: open: %s\n", e.msg);
		return 1;
	}
	printf("backend\t%s\n", gc_store_describe(s));

	int64_t base = (int64_t)time(NULL) - 30 * 86400;
	gc_store_log *batch = calloc(BATCH, sizeof(*batch));
	char (*ids)[64] = calloc(BATCH, sizeof(*ids));
	uint64_t seq = 0;

	/* Batched: load up to `rows` in 10 segments. Before each segment,
	 * the baseline: 300 records one per call (one transaction each), so
	 * both are measured at the same table size. */
	enum { SEGMENTS = 10, SINGLE_PER_SEGMENT = 300 };
	double seg_rate[SEGMENTS], single[SEGMENTS], load_busy = 0;
	long per_seg = rows / SEGMENTS;
	double load0 = now_s();
	for (int sgm = 0; sgm < SEGMENTS; sgm++) {
		double t0 = now_s();
		for (int i = 0; i < SINGLE_PER_SEGMENT; i++) {
			make_row(&batch[0], ids[0], sizeof(ids[0]), seq++, base);
			if (gc_store_log_insert(NULL, s, batch, 1, &e)) {
				fprintf(stderr, "insert: %s\n", e.msg);
				return 1;
			}
		}
		single[sgm] = SINGLE_PER_SEGMENT / (now_s() - t0);
		long goal = sgm == SEGMENTS - 1 ? rows - (long)seq
						: per_seg - SINGLE_PER_SEGMENT;
		long done = 0;
		t0 = now_s();
		while (done < goal) {
			size_t n = goal - done < BATCH ? (size_t)(goal - done)
						       : BATCH;
			for (size_t i = 0; i < n; i++)
				make_row(&batch[i], ids[i], sizeof(ids[i]),
					 seq++, base);
			size_t added = 0;
			if (gc_store_log_insert(&added, s, batch, n, &e) ||
			    added != n) {
				fprintf(stderr, "insert: %s (added %zu of %zu)\n",
					e.msg, added, n);
				return 1;
			}
			done += (long)n;
		}
		double dt = now_s() - t0;
		load_busy += dt;
		seg_rate[sgm] = (double)goal / dt;
	}
	double load_s = now_s() - load0;
	double first_seg = seg_rate[0], last_seg = seg_rate[SEGMENTS - 1];
	double single_first = single[0], single_last = single[SEGMENTS - 1];
	printf("rows\t%llu\n", (unsigned long long)seq);
	printf("insert_single_rows_per_s_median\t%.0f\n",
	       median(single, SEGMENTS));
	printf("insert_single_rows_per_s_first_segment\t%.0f\n", single_first);
	printf("insert_single_rows_per_s_last_segment\t%.0f\n", single_last);
	printf("insert_batched_rows_per_s_median\t%.0f\n",
	       median(seg_rate, SEGMENTS));
	printf("insert_batched_rows_per_s_first_segment\t%.0f\n", first_seg);
	printf("insert_batched_rows_per_s_last_segment\t%.0f\n", last_seg);
	printf("insert_batched_seconds\t%.1f\n", load_busy);
	printf("load_seconds\t%.1f\n", load_s);

	/* List latency: what GET /log/list asks, page 1 of 20 (with the
	 * total count), random project/task; and a deep page. */
	static const char *names[] = {"project", "project_task",
				      "project_errors", "project_page50",
				      "all_projects_errors"};
	double *lat = calloc((size_t)queries, sizeof(*lat));
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		int64_t total_sum = 0;
		for (int i = 0; i < queries; i++) {
			uint64_t r = next_rand();
			int64_t pid = (int64_t)(r % PROJECTS) + 1;
			gc_store_log_query q = {&pid, 1, NULL, 0, 1, 20, 0, 0};
			if (k == 1)
				q.task_id = task_ids[(pid - 1) * TASKS_PER_PROJECT +
						     (int)((r >> 8) % TASKS_PER_PROJECT)];
			if (k == 2 || k == 4)
				q.errors_only = 1;
			if (k == 3)
				q.page = 50;
			if (k == 4)
				q.project_ids = NULL;
			gc_store_logs l;
			double t0 = now_s();
			if (gc_store_log_list(&l, s, &q, &e)) {
				fprintf(stderr, "list: %s\n", e.msg);
				return 1;
			}
			lat[i] = (now_s() - t0) * 1e3;
			if (l.count != 20) {
				fprintf(stderr, "list %s: %zu rows\n", names[k],
					l.count);
				return 1;
			}
			total_sum += l.total;
			gc_store_logs_clear(&l);
		}
		double p50 = pct(lat, (size_t)queries, 0.50);
		double p99 = pct(lat, (size_t)queries, 0.99);
		printf("list_%s_ms_p50\t%.2f\n", names[k], p50);
		printf("list_%s_ms_p99\t%.2f\n", names[k], p99);
		printf("list_%s_avg_total\t%lld\n", names[k],
		       (long long)(total_sum / queries));
	}
	/* recent 7 days over everything */
	int nrec = queries / 10;
	for (int i = 0; i < nrec; i++) {
		gc_store_day_count d[7];
		double t0 = now_s();
		if (gc_store_log_recent(d, s, NULL, 0, 0, &e)) {
			fprintf(stderr, "recent: %s\n", e.msg);
			return 1;
		}
		lat[i] = (now_s() - t0) * 1e3;
	}
	printf("recent_all_ms_p50\t%.2f\n", pct(lat, (size_t)nrec, 0.50));
	printf("recent_all_ms_p99\t%.2f\n", pct(lat, (size_t)nrec, 0.99));

	free(lat);
	free(batch);
	free(ids);
	gc_store_free(s);
	gct_mariadb_stop(m);
	if (!getenv("GCT_KEEP"))
		gct_rmrf(dir);
	free(dir);
	return 0;
}
