/* Exactly-once throughput against a harness-started 3-member etcd cluster
 * (fsync on the local disk, all members on this machine).
 *
 * Part 1, the transactions alone, C client threads spread over the three
 * members, interleaved run by run:
 *   raw_txn    a bare libcurl keep-alive POST /v3/kv/txn "create this key
 *              if absent" (one compare, one put): the least a tick's
 *              exactly-once decision can cost, i.e. the physical limit;
 *   claim_run  what a run costs the agent in etcd when it claims alone:
 *              gc_etcd_claim_key (claim key on a shared lease + t_status on
 *              a session lease, one txn) and the guarded delete of t_status
 *              when the run ends (second txn).
 * Part 2, through the agents: three gc_agent instances (this process, one
 * thread each, each preferring another member) serve one project of N
 * tasks that run every second (in-process handler that returns at once,
 * so process creation is not measured); runs per second delivered, ticks
 * missed and run twice, and etcd cost per run: store revisions, keys
 * written (puts + deletes) and Raft proposals, from the members' /metrics.
 *
 *   bench_claim RUNS SECONDS CONCURRENCY TASKS[,TASKS...]
 * Prints tab-separated "name<TAB>value..." lines. */
#include <gophercron.h>

#include "harness.h"
#include "internal.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PREFIX "/bclaim"

static gct_etcd *E;

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_dbl);
	return v[n / 2];
}

static gc_etcd *client_at(int first)
{
	const char *eps[GCT_MAX_MEMBERS];
	int n = gct_etcd_members(E);
	for (int i = 0; i < n; i++)
		eps[i] = gct_etcd_endpoint(E, (first + i) % n);
	gc_etcd_options o = GC_ETCD_OPTIONS_INIT;
	o.endpoints = eps;
	o.endpoints_count = (size_t)n;
	gc_etcd *c = NULL;
	gc_error err;
	if (gc_etcd_new(&c, &o, &err))
		fprintf(stderr, "gc_etcd_new: %s\n", err.msg);
	return c;
}

static size_t sink(char *p, size_t sz, size_t n, void *ud)
{
	(void)p;
	(void)ud;
	return sz * n;
}

/* ------------------------------------------------------------ part 1 */

typedef struct worker {
	pthread_t th;
	int idx;
	int variant; /* 0 raw, 1 claim */
	int run;
	int64_t until_ns;
	long ops;
	long errors;
	int64_t window, session;
} worker;

static void *raw_worker(worker *w)
{
	CURL *h = curl_easy_init();
	char url[160], key[96], body[512];
	struct curl_slist *hdr =
		curl_slist_append(NULL, "Content-Type: application/json");
	snprintf(url, sizeof(url), "%s/v3/kv/txn",
		 gct_etcd_endpoint(E, w->idx % gct_etcd_members(E)));
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
	while (gc__mono_ns() < w->until_ns) {
		snprintf(key, sizeof(key), PREFIX "/raw/%d/%d/%ld", w->run,
			 w->idx, w->ops);
		char *k = gc__base64_encode(key, strlen(key));
		char *v = gc__base64_encode("x", 1);
		snprintf(body, sizeof(body),
			 "{\"compare\":[{\"key\":\"%s\",\"target\":\"CREATE\","
			 "\"create_revision\":\"0\"}],\"success\":[{"
			 "\"requestPut\":{\"key\":\"%s\",\"value\":\"%s\"}}]}",
			 k, k, v);
		free(k);
		free(v);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		long status = 0;
		if (curl_easy_perform(h) == CURLE_OK &&
		    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) ==
			    CURLE_OK &&
		    status == 200)
			w->ops++;
		else
			w->errors++;
	}
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	return NULL;
}

static void *claim_worker(worker *w)
{
	gc_etcd *c = client_at(w->idx);
	char claim[128], status[128], value[160];
	gc_error err;
	snprintf(status, sizeof(status), PREFIX "/1/task-%d-%d/t_status",
		 w->run, w->idx);
	while (c && gc__mono_ns() < w->until_ns) {
		snprintf(claim, sizeof(claim), PREFIX "/lock/1/task-%d-%d/%ld",
			 w->run, w->idx, w->ops);
		snprintf(value, sizeof(value),
			 "{\"client_ip\":\"10.1.0.%d\",\"run_id\":\"1-task-%d-"
			 "%ld-10.1.0.%d\"}",
			 w->idx, w->idx, w->ops, w->idx);
		gc_etcd_op put = {0};
		put.type = GC_ETCD_OP_PUT;
		put.key = status;
		put.value = "running";
		put.value_len = 7;
		put.lease = w->session;
		gc_etcd_claim cl = {GC_ETCD_CLAIM_VERSION, claim, value,
				    strlen(value), w->window, NULL, 0, &put, 1};
		gc_etcd_claim_result res = {0};
		if (gc_etcd_claim_key(&res, c, &cl, &err)) {
			w->errors++;
			gc_etcd_claim_result_clear(&res);
			continue;
		}
		int64_t rev = res.revision;
		gc_etcd_claim_result_clear(&res);
		/* the run ends: delete t_status if it is still ours */
		gc_etcd_compare cmp = {status, GC_ETCD_CMP_MOD,
				       GC_ETCD_CMP_EQUAL, rev, NULL, 0};
		gc_etcd_op del = {0};
		del.type = GC_ETCD_OP_DELETE;
		del.key = status;
		gc_etcd_txn_request txn = {&cmp, 1, &del, 1, NULL, 0};
		gc_etcd_txn_result tr = {0};
		if (gc_etcd_txn(&tr, c, &txn, &err) || !tr.succeeded)
			w->errors++;
		else
			w->ops++;
		gc_etcd_txn_result_clear(&tr);
	}
	gc_etcd_free(c);
	return NULL;
}

static void *worker_main(void *arg)
{
	worker *w = arg;
	return w->variant ? claim_worker(w) : raw_worker(w);
}

static int64_t revision(gc_etcd *c)
{
	gc_etcd_response r = {0};
	gc_error err;
	if (gc_etcd_get(&r, c, "/", NULL, &err))
		return -1;
	int64_t rev = r.revision;
	gc_etcd_response_clear(&r);
	return rev;
}

static double run_variant(int variant, int run, int conc, int seconds,
			  gc_etcd *c, int64_t window, int64_t session,
			  double *revs_per_op, long *errors)
{
	worker *w = calloc((size_t)conc, sizeof(*w));
	int64_t rev0 = revision(c);
	int64_t t0 = gc__mono_ns();
	for (int i = 0; i < conc; i++) {
		w[i].idx = i;
		w[i].variant = variant;
		w[i].run = run;
		w[i].window = window;
		w[i].session = session;
		w[i].until_ns = t0 + (int64_t)seconds * 1000000000LL;
		pthread_create(&w[i].th, NULL, worker_main, &w[i]);
	}
	long ops = 0;
	*errors = 0;
	for (int i = 0; i < conc; i++) {
		pthread_join(w[i].th, NULL);
		ops += w[i].ops;
		*errors += w[i].errors;
	}
	int64_t t1 = gc__mono_ns();
	int64_t rev1 = revision(c);
	free(w);
	*revs_per_op = ops ? (double)(rev1 - rev0) / (double)ops : 0;
	return (double)ops / ((double)(t1 - t0) / 1e9);
}

/* ------------------------------------------------------------ part 2 */

typedef struct tally {
	pthread_mutex_t mu;
	uint64_t *keys; /* task index << 32 | plan offset */
	size_t n, cap;
	int64_t from_plan_s, to_plan_s;
} tally;

static tally T = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0, 0, 0};

static void on_result(const gc_result *r, void *payload)
{
	(void)payload;
	int64_t plan = r->plan_time_ns / 1000000000LL;
	if (r->error && r->error[0])
		return;
	unsigned idx = (unsigned)strtoul(r->task.task_id + 1, NULL, 10);
	pthread_mutex_lock(&T.mu);
	if (plan >= T.from_plan_s && plan <= T.to_plan_s) {
		if (T.n == T.cap) {
			T.cap = T.cap ? 2 * T.cap : 65536;
			T.keys = realloc(T.keys, T.cap * sizeof(*T.keys));
		}
		T.keys[T.n++] = (uint64_t)idx << 32 |
				(uint64_t)(plan - T.from_plan_s);
	}
	pthread_mutex_unlock(&T.mu);
}

static int noop(gc_agent_job *job, const char *args, void *payload)
{
	(void)job;
	(void)args;
	(void)payload;
	return 0;
}

static gc_agent *agent_new(int idx)
{
	gc_agent_config cfg;
	gc_error err;
	gc_agent *a = NULL;
	if (gc_agent_config_init(&cfg, GC_AGENT_CONFIG_VERSION))
		return NULL;
	for (size_t i = 0; i < cfg.etcd.n_endpoints; i++)
		free(cfg.etcd.endpoints[i]);
	free(cfg.etcd.endpoints);
	int n = gct_etcd_members(E);
	cfg.etcd.endpoints = calloc((size_t)n, sizeof(char *));
	for (int i = 0; i < n; i++)
		cfg.etcd.endpoints[i] =
			gc__strdup(gct_etcd_endpoint(E, (idx + i) % n));
	cfg.etcd.n_endpoints = (size_t)n;
	free(cfg.etcd.prefix);
	cfg.etcd.prefix = gc__strdup(PREFIX);
	free(cfg.projects);
	cfg.projects = malloc(sizeof(int64_t));
	cfg.projects[0] = 2;
	cfg.n_projects = 1;
	free(cfg.client_ip);
	cfg.client_ip = gc__sprintf("10.88.0.%d", idx + 1);
	gc_agent_options o = GC_AGENT_OPTIONS_INIT;
	o.on_result = on_result;
	o.cron_utc = 1;
	/* BENCH_CLAIM_LOG=1: the agents' warnings on stderr */
	static int level = GC_LOG_WARNING;
	if (getenv("BENCH_CLAIM_LOG")) {
		o.log = gc_log_stderr;
		o.log_payload = &level;
		o.log_level = GC_LOG_WARNING;
	}
	if (gc_agent_new(&a, &cfg, &o, &err) ||
	    gc_agent_handler_register(a, "noop", noop, NULL, &err)) {
		fprintf(stderr, "agent: %s\n", err.msg);
		gc_agent_free(a);
		a = NULL;
	}
	gc_agent_config_clear(&cfg);
	return a;
}

/* Sum of one counter over every member's /metrics. */
static double metric(const char *name)
{
	double sum = 0;
	for (int m = 0; m < gct_etcd_members(E); m++) {
		char url[160];
		long st = 0;
		snprintf(url, sizeof(url), "%s/metrics", gct_etcd_endpoint(E, m));
		char *b = gct_http_get(url, &st);
		size_t nl = strlen(name);
		for (char *p = b; p && (p = strstr(p, name)); p += nl) {
			if ((p == b || p[-1] == '\n') && p[nl] == ' ') {
				sum += strtod(p + nl + 1, NULL);
				break;
			}
		}
		free(b);
	}
	return sum / gct_etcd_members(E); /* per member */
}

static int put_tasks(gc_etcd *c, int n)
{
	gc_error err;
	for (int i = 0; i < n; i++) {
		char id[32], key[96], json[400];
		snprintf(id, sizeof(id), "t%d", i);
		snprintf(key, sizeof(key), PREFIX "/2/%s", id);
		snprintf(json, sizeof(json),
			 "{\"task_id\":\"%s\",\"name\":\"%s\",\"project_id\":2,"
			 "\"command\":\"@handler:noop\",\"cron\":\"* * * * * * "
			 "*\",\"remark\":\"\",\"timeout\":0,\"create_time\":1,"
			 "\"status\":1,\"is_running\":0,\"noseize\":0,"
			 "\"exclusion\":0,\"client_ip\":\"\"}",
			 id, id);
		if (gc_etcd_put(NULL, c, key, json, strlen(json), 0, 0, &err)) {
			fprintf(stderr, "put %s: %s\n", key, err.msg);
			return -1;
		}
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void agents_part(gc_etcd *c, int tasks, int windows, int seconds)
{
	gc_error err;
	gc_etcd_delete(NULL, NULL, c, PREFIX "/2/", GC_ETCD_PREFIX, &err);
	if (put_tasks(c, tasks))
		return;
	gc_agent *ag[3];
	for (int i = 0; i < 3; i++) {
		ag[i] = agent_new(i);
		if (!ag[i] || gc_agent_start(ag[i], &err)) {
			fprintf(stderr, "agent start failed\n");
			return;
		}
	}
	/* Loaded and scheduled everywhere, then a few seconds to settle. */
	for (int waited = 0; waited < 120000; waited += 100) {
		int ok = 0;
		for (int i = 0; i < 3; i++) {
			gc_agent_stats st;
			gc_agent_stats_get(ag[i], &st);
			ok += st.scheduled >= (size_t)tasks;
		}
		if (ok == 3)
			break;
		gct_sleep_ms(100);
	}
	gct_sleep_ms(3000);
	double rates[32], revs[32], keys[32], props[32], late[32];
	int64_t missed = 0, doubled = 0;
	for (int wdx = 0; wdx < windows && wdx < 32; wdx++) {
		int64_t now = (int64_t)time(NULL);
		pthread_mutex_lock(&T.mu);
		T.n = 0;
		T.from_plan_s = now + 1;
		T.to_plan_s = now + seconds;
		pthread_mutex_unlock(&T.mu);
		/* the window's ticks, then 5 s for the last runs to end */
		while ((int64_t)time(NULL) < T.from_plan_s)
			gct_sleep_ms(10);
		int64_t rev0 = revision(c);
		double p0 = metric("etcd_server_proposals_committed_total");
		double k0 = metric("etcd_mvcc_put_total") +
			    metric("etcd_mvcc_delete_total");
		while ((int64_t)time(NULL) <= T.to_plan_s)
			gct_sleep_ms(20);
		int64_t rev1 = revision(c);
		double p1 = metric("etcd_server_proposals_committed_total");
		double k1 = metric("etcd_mvcc_put_total") +
			    metric("etcd_mvcc_delete_total");
		gct_sleep_ms(5000);
		pthread_mutex_lock(&T.mu);
		qsort(T.keys, T.n, sizeof(*T.keys), cmp_u64);
		size_t uniq = 0;
		for (size_t i = 0; i < T.n; i++) {
			if (i && T.keys[i] == T.keys[i - 1])
				doubled++;
			else
				uniq++;
		}
		size_t n = T.n;
		T.from_plan_s = T.to_plan_s = 0;
		pthread_mutex_unlock(&T.mu);
		int64_t want = (int64_t)tasks * seconds;
		missed += want - (int64_t)uniq;
		rates[wdx] = (double)uniq / seconds;
		revs[wdx] = n ? (double)(rev1 - rev0) / (double)n : 0;
		keys[wdx] = n ? (k1 - k0) / (double)n : 0;
		props[wdx] = n ? (p1 - p0) / (double)n : 0;
		late[wdx] = 100.0 * (double)(want - (int64_t)uniq) / (double)want;
		fprintf(stderr,
			"window %d: %zu results, %zu ticks of %" PRId64
			", %.3f revisions, %.3f keys, %.3f proposals per run\n",
			wdx + 1, n, uniq, want, revs[wdx], keys[wdx],
			props[wdx]);
	}
	printf("agents_runs_per_s\t%d\t%.0f\t%.0f\n", tasks,
	       median(rates, windows), (double)tasks);
	printf("agents_revisions_per_run\t%d\t%.3f\n", tasks,
	       median(revs, windows));
	printf("agents_keys_written_per_run\t%d\t%.3f\n", tasks,
	       median(keys, windows));
	printf("agents_proposals_per_run\t%d\t%.3f\n", tasks,
	       median(props, windows));
	printf("agents_missed_pct\t%d\t%.2f\n", tasks, median(late, windows));
	printf("agents_missed_doubled\t%d\t%" PRId64 "\t%" PRId64 "\n", tasks,
	       missed, doubled);
	/* Half a second after a tick every run has ended: its t_status key
	 * should be gone. */
	{
		while (gc__wall_ns() % 1000000000LL < 500000000LL ||
		       gc__wall_ns() % 1000000000LL > 600000000LL)
			gct_sleep_ms(5);
		gc_etcd_get_options go = GC_ETCD_GET_OPTIONS_INIT;
		gc_etcd_response r = {0};
		go.flags = GC_ETCD_PREFIX | GC_ETCD_KEYS_ONLY;
		size_t left = 0;
		if (gc_etcd_get(&r, c, PREFIX "/2/", &go, &err) == 0)
			for (size_t i = 0; i < r.kvs_count; i++)
				left += strstr(r.kvs[i].key, "/t_status") != NULL;
		gc_etcd_response_clear(&r);
		printf("agents_t_status_keys_mid_second\t%d\t%zu\n", tasks,
		       left);
	}
	fflush(stdout);
	for (int i = 0; i < 3; i++) {
		gc_agent_stop(ag[i]);
		gc_agent_join(ag[i], &err);
		gc_agent_free(ag[i]);
	}
}

int main(int argc, char **argv)
{
	int runs = argc > 1 ? atoi(argv[1]) : 5;
	int seconds = argc > 2 ? atoi(argv[2]) : 5;
	int conc = argc > 3 ? atoi(argv[3]) : 16;
	const char *tasks = argc > 4 ? argv[4] : "500,1000,2000";
	if (runs < 1 || runs > 32 || seconds < 1 || conc < 1 || conc > 256) {
		fprintf(stderr,
			"usage: bench_claim RUNS SECONDS CONCURRENCY "
			"TASKS[,TASKS...]\n");
		return 2;
	}
	setenv("TZ", "UTC", 1);
	tzset();
	curl_global_init(CURL_GLOBAL_ALL);
	if (gct_etcd_start(&E, 3, NULL)) {
		fprintf(stderr, "etcd cluster did not start\n");
		return 1;
	}
	gc_etcd *c = client_at(0);
	gc_error err;
	int64_t window = 0, session = 0;
	if (!c || gc_etcd_lease_grant(&window, NULL, c, 600, 0, &err) ||
	    gc_etcd_lease_grant(&session, NULL, c, 600, 0, &err)) {
		fprintf(stderr, "lease grant failed\n");
		return 1;
	}
	double raw[32], clm[32], raw_rev[32], clm_rev[32];
	long raw_err = 0, clm_err = 0;
	for (int r = 0; r < runs; r++) {
		long e1, e2;
		raw[r] = run_variant(0, r, conc, seconds, c, window, session,
				     &raw_rev[r], &e1);
		clm[r] = run_variant(1, r, conc, seconds, c, window, session,
				     &clm_rev[r], &e2);
		raw_err += e1;
		clm_err += e2;
		fprintf(stderr, "run %d: raw %.0f txn/s, claim %.0f runs/s\n",
			r + 1, raw[r], clm[r]);
	}
	double lo_raw = 1e18, hi_raw = 0, lo_clm = 1e18, hi_clm = 0;
	for (int r = 0; r < runs; r++) {
		lo_raw = raw[r] < lo_raw ? raw[r] : lo_raw;
		hi_raw = raw[r] > hi_raw ? raw[r] : hi_raw;
		lo_clm = clm[r] < lo_clm ? clm[r] : lo_clm;
		hi_clm = clm[r] > hi_clm ? clm[r] : hi_clm;
	}
	printf("raw_txn_per_s\t%.0f\t%.0f\t%.0f\t%ld\n", median(raw, runs),
	       lo_raw, hi_raw, raw_err);
	printf("claim_runs_per_s\t%.0f\t%.0f\t%.0f\t%ld\n", median(clm, runs),
	       lo_clm, hi_clm, clm_err);
	printf("raw_revisions_per_txn\t%.3f\n", median(raw_rev, runs));
	printf("claim_revisions_per_run\t%.3f\n", median(clm_rev, runs));
	fflush(stdout);
	/* part 1 keys go: part 2 measures from a clean prefix */
	gc_etcd_delete(NULL, NULL, c, PREFIX "/", GC_ETCD_PREFIX, &err);

	char *copy = gc__strdup(tasks), *save = NULL;
	for (char *tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		int n = atoi(tok);
		if (n > 0)
			agents_part(c, n, runs < 3 ? 3 : runs, seconds < 5 ? 5
								       : seconds);
	}
	free(copy);
	gc_etcd_free(c);
	gct_etcd_stop(E);
	curl_global_cleanup();
	free(T.keys);
	return 0;
}
