/* Log ingest: task results per second through the service's report
 * endpoint (POST /api/v1/report, what agents with report_addr send) into
 * SQLite and into MariaDB, against the store alone in the same run.
 *
 *   ingest      build/bin/gcron-service (one per backend, etcd: one
 *               harness member, token auth on the endpoint); C client
 *               threads POST TaskExecuteResult bodies (unique run ids,
 *               about 700 bytes) over libcurl keep-alive connections;
 *   store       baseline: gc_store_log_insert of the same rows, one row per
 *               call (as the endpoint writes them), from C threads sharing
 *               one gc_store with C connections, same database;
 *   version     the HTTP floor: GET /api/v1/version on the same service,
 *               same connections (routing, envelope, no body, no store).
 * Variants are interleaved run by run; after the last run every accepted
 * result must be a row (checked).
 *
 *   bench_ingest RUNS SECONDS CONCURRENCY sqlite|mysql
 * Prints "name<TAB>median/s<TAB>min<TAB>max" lines. */
#include <gophercron.h>

#include "harness.h"
#include "internal.h"

#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TOKEN "bench-ingest-token"

static struct {
	int port;
	int backend; /* 0 sqlite, 1 mysql */
	char db[512];
	char mysvc[64];
	gc_store *store;
} S;

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static size_t sink(char *p, size_t sz, size_t n, void *ud)
{
	(void)p;
	(void)ud;
	return sz * n;
}

static char *result_body(const char *run_id, int64_t plan)
{
	gc_result r = GC_RESULT_INIT;
	r.task.task_id = (char *)"1130000000000000001";
	r.task.name = (char *)"nightly-report";
	r.task.project_id = 1;
	r.task.command = (char *)"/usr/local/bin/report --daily";
	r.task.cron = (char *)"0 30 3 * * * *";
	r.task.remark = (char *)"bench";
	r.task.create_time = 1767225600;
	r.task.status = 1;
	r.task.client_ip = (char *)"10.0.0.7";
	r.plan_time_ns = plan * 1000000000LL;
	r.real_time_ns = r.plan_time_ns + 2000000;
	r.start_time_ns = r.plan_time_ns + 3000000;
	r.end_time_ns = r.plan_time_ns + 850000000;
	r.output = (char *)"report written: 1532 rows\nupload ok\n";
	r.output_len = strlen(r.output);
	r.error = (char *)"";
	r.run_id = (char *)run_id;
	return gc_result_to_json(&r);
}

/* ------------------------------------------------------------ workers */

typedef struct worker {
	pthread_t th;
	int idx, variant, run;
	int64_t until_ns;
	long ok, errors;
} worker;

static void *http_worker(worker *w)
{
	CURL *h = curl_easy_init();
	char url[128], rid[96];
	struct curl_slist *hdr = NULL;
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	hdr = curl_slist_append(hdr, "Report-Type: report_task_result");
	hdr = curl_slist_append(hdr, "Authorization: Bearer " TOKEN);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v1/%s", S.port,
		 w->variant == 2 ? "version" : "report");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	if (w->variant == 0)
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	while (gc__mono_ns() < w->until_ns) {
		char *body = NULL;
		if (w->variant == 0) {
			snprintf(rid, sizeof(rid), "ingest-%d-%d-%ld", w->run,
				 w->idx, w->ok + w->errors);
			body = result_body(rid, 1767225600 + w->ok);
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		}
		long status = 0;
		if (curl_easy_perform(h) == CURLE_OK &&
		    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) ==
			    CURLE_OK &&
		    status == 200)
			w->ok++;
		else
			w->errors++;
		gc_free(body);
	}
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	return NULL;
}

static void *store_worker(worker *w)
{
	char rid[96];
	gc_error err;
	while (gc__mono_ns() < w->until_ns) {
		snprintf(rid, sizeof(rid), "store-%d-%d-%ld", w->run, w->idx,
			 w->ok + w->errors);
		/* the same work the endpoint does per body: decode, convert,
		 * insert one row */
		char *body = result_body(rid, 1767225600 + w->ok);
		gc_result r = GC_RESULT_INIT;
		gc_store_log row = {0};
		int rc = gc_result_from_json(&r, body, strlen(body), &err);
		if (!rc)
			rc = gc_store_log_from_result(&row, &r, "127.0.0.1",
						      "bench", 0, &err);
		if (!rc)
			rc = gc_store_log_insert(NULL, S.store, &row, 1, &err);
		if (rc) {
			w->errors++;
			if (w->errors < 3)
				fprintf(stderr, "store: %s\n", err.msg);
		} else {
			w->ok++;
		}
		gc_store_log_clear(&row);
		gc_result_clear(&r);
		gc_free(body);
	}
	return NULL;
}

static void *worker_main(void *arg)
{
	worker *w = arg;
	return w->variant == 1 ? store_worker(w) : http_worker(w);
}

static double run_variant(int variant, int run, int conc, int seconds,
			  long *ok_total)
{
	worker *w = calloc((size_t)conc, sizeof(*w));
	int64_t t0 = gc__mono_ns();
	for (int i = 0; i < conc; i++) {
		w[i].idx = i;
		w[i].variant = variant;
		w[i].run = run;
		w[i].until_ns = t0 + (int64_t)seconds * 1000000000LL;
		pthread_create(&w[i].th, NULL, worker_main, &w[i]);
	}
	long ok = 0, errors = 0;
	for (int i = 0; i < conc; i++) {
		pthread_join(w[i].th, NULL);
		ok += w[i].ok;
		errors += w[i].errors;
	}
	int64_t t1 = gc__mono_ns();
	free(w);
	if (errors)
		fprintf(stderr, "variant %d run %d: %ld errors\n", variant, run,
			errors);
	*ok_total += ok;
	return (double)ok / ((double)(t1 - t0) / 1e9);
}

/* ------------------------------------------------------------ service */

static int svc_up(void)
{
	char url[128];
	long st = 0;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v1/version", S.port);
	char *b = gct_http_get(url, &st);
	free(b);
	return st == 200;
}

static int start_service(const char *dir, const char *eps, int *pid)
{
	char cfg[600], log[600], bin[512];
	const char *b = getenv("GC_BUILD");
	snprintf(bin, sizeof(bin), "%s/bin/gcron-service", b ? b : "build");
	snprintf(cfg, sizeof(cfg), "%s/service.toml", dir);
	snprintf(log, sizeof(log), "%s/service.log", dir);
	FILE *f = fopen(cfg, "w");
	if (!f)
		return -1;
	const char *ep = strncmp(eps, "http://", 7) == 0 ? eps + 7 : eps;
	fprintf(f,
		"log_level = \"warning\"\n[deploy]\nhost = [\"127.0.0.1:%d\"]\n"
		"[etcd]\nservice = [\"%.*s\"]\n[jwt]\n"
		"secret = \"bench-ingest-secret-0123456789abcdef\"\n"
		"[report]\ntoken = \"%s\"\n",
		S.port, (int)strcspn(ep, ","), ep, TOKEN);
	if (S.backend)
		fprintf(f,
			"[mysql]\nservice = \"%s\"\nusername = \"gc\"\n"
			"password = \"gcpass\"\ndatabase = \"gophercron\"\n",
			S.mysvc);
	else
		fprintf(f, "[sqlite]\npath = \"%s\"\n", S.db);
	fclose(f);
	char *argv[] = {bin, (char *)"-c", cfg, NULL};
	*pid = gct_spawn(argv, log);
	for (int i = 0; i < 600 && *pid > 0; i++) {
		if (svc_up())
			return 0;
		gct_sleep_ms(50);
	}
	fprintf(stderr, "gcron-service did not start (log %s)\n", log);
	return -1;
}

static int64_t count_rows(void)
{
	gc_store_log_query q = {NULL, 0, NULL, 0, 1, 1, 0, 0};
	gc_store_logs l = {0};
	gc_error err;
	if (gc_store_log_list(&l, S.store, &q, &err)) {
		fprintf(stderr, "count: %s\n", err.msg);
		return -1;
	}
	int64_t n = l.total;
	gc_store_logs_clear(&l);
	return n;
}

int main(int argc, char **argv)
{
	int runs = argc > 1 ? atoi(argv[1]) : 5;
	int seconds = argc > 2 ? atoi(argv[2]) : 5;
	int conc = argc > 3 ? atoi(argv[3]) : 8;
	const char *backend = argc > 4 ? argv[4] : "sqlite";
	if (runs < 1 || runs > 32 || seconds < 1 || conc < 1 || conc > 64 ||
	    (strcmp(backend, "sqlite") && strcmp(backend, "mysql"))) {
		fprintf(stderr, "usage: bench_ingest RUNS SECONDS CONCURRENCY "
				"sqlite|mysql\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_ALL);
	S.backend = strcmp(backend, "mysql") == 0;
	char *dir = gct_tmpdir("bench-ingest");
	gct_etcd *e = NULL;
	gct_mariadb *m = NULL;
	int pid = -1, rc = 1;
	if (!dir || gct_etcd_start(&e, 1, NULL))
		goto out;
	snprintf(S.db, sizeof(S.db), "%s/ingest.db", dir);
	if (S.backend) {
		if (gct_mariadb_start(&m))
			goto out;
		snprintf(S.mysvc, sizeof(S.mysvc), "%s:%d", gct_mariadb_host(m),
			 gct_mariadb_port(m));
	}
	S.port = gct_free_port();
	if (start_service(dir, gct_etcd_endpoints(e), &pid))
		goto out;
	gc_store_options so;
	gc_store_options_init(&so, GC_STORE_OPTIONS_VERSION);
	so.pool_size = conc;
	if (S.backend) {
		so.backend = GC_STORE_MYSQL;
		so.mysql_service = S.mysvc;
		so.mysql_username = "gc";
		so.mysql_password = "gcpass";
		so.mysql_database = "gophercron";
	} else {
		so.sqlite_path = S.db;
	}
	gc_error err;
	if (gc_store_open(&S.store, &so, &err)) {
		fprintf(stderr, "store: %s\n", err.msg);
		goto out;
	}
	double ing[32], sto[32], ver[32];
	long ing_ok = 0, sto_ok = 0, ver_ok = 0;
	int64_t rows0 = count_rows();
	for (int r = 0; r < runs; r++) {
		ing[r] = run_variant(0, r, conc, seconds, &ing_ok);
		sto[r] = run_variant(1, r, conc, seconds, &sto_ok);
		ver[r] = run_variant(2, r, conc, seconds, &ver_ok);
		fprintf(stderr,
			"%s run %d: ingest %.0f/s, store %.0f/s, version %.0f/s\n",
			backend, r + 1, ing[r], sto[r], ver[r]);
	}
	int64_t rows1 = count_rows();
	const char *names[3] = {"ingest", "store_insert", "version"};
	double *vals[3] = {ing, sto, ver};
	for (int k = 0; k < 3; k++) {
		qsort(vals[k], (size_t)runs, sizeof(double), cmp_dbl);
		printf("%s\t%.0f\t%.0f\t%.0f\n", names[k], vals[k][runs / 2],
		       vals[k][0], vals[k][runs - 1]);
	}
	printf("rows_check\t%lld\t%ld\n", (long long)(rows1 - rows0),
	       ing_ok + sto_ok);
	rc = rows1 - rows0 == ing_ok + sto_ok ? 0 : 1;
	if (rc)
		fprintf(stderr, "rows: %lld new, %ld accepted\n",
			(long long)(rows1 - rows0), ing_ok + sto_ok);
out:
	gc_store_free(S.store);
	if (pid > 0) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
	}
	gct_mariadb_stop(m);
	gct_etcd_stop(e);
	if (dir)
		gct_rmrf(dir);
	free(dir);
	curl_global_cleanup();
	return rc;
}
