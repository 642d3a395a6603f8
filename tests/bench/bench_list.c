/* Listing a large project (issue: 100,000 tasks must load also while etcd
 * answers slowly), against one harness-started etcd member, directly and
 * through tests/lib/slowproxy.py. For each condition, in the same run and
 * interleaved, median of LIST_BENCH_RUNS:
 *
 *   bare     the floor: a paged read of the same keys with gc_etcd_get,
 *            1,000 keys a page, one revision, each page allowed 60 s
 *            (it waits out every answer, however slow);
 *   listing  the agent's listing (lib/agent/list.c: pinned revision,
 *            next page fetched while one is applied, adaptive page size
 *            and timeout, resume from a failed page) with no-op callbacks;
 *   agent    a whole agent serving the project: from start until every
 *            task is listed, parsed and scheduled.
 *
 * Conditions: "direct" (no proxy), "latency" (every answer
 * LIST_BENCH_LATENCY_MS late), "stalls" (every LIST_BENCH_STALL_EVERY-th
 * page answer held LIST_BENCH_STALL_MS; the proxy is started afresh for
 * each measurement, so every variant meets the stalls at the same request
 * numbers).
 *
 * Output: tab-separated "condition variant median_ms min_ms max_ms
 * timeouts" lines (timeouts: pages the listing gave up and read again,
 * median; -1 where not known). Knobs: LIST_BENCH_TASKS (100000),
 * LIST_BENCH_RUNS (3), LIST_BENCH_LATENCY_MS (200), LIST_BENCH_STALL_EVERY
 * (25), LIST_BENCH_STALL_MS (10000), LIST_BENCH_CONDITIONS
 * ("direct,latency,stalls"). */
#include <gophercron.h>

#include "agent/agent_internal.h"
#include "harness.h"
#include "internal.h"
#include "slowproxy.h"
#include "agentcfg.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PREFIX	 "/benchlist"
#define PID	 1
#define MAX_RUNS 16

static int env_int(const char *name, int def)
{
	const char *s = getenv(name);
	int v = s ? atoi(s) : 0;
	return v > 0 ? v : def;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median_d(const double *v, int n)
{
	double s[MAX_RUNS];
	memcpy(s, v, (size_t)n * sizeof(*v));
	qsort(s, (size_t)n, sizeof(*s), cmp_d);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* ---------------------------------------------------------- populating */

/* `n` realistic TaskInfo values (about 300 bytes of JSON each, 30% with
 * one of 4 common cron expressions, the rest with one of their own), 100
 * puts per txn. Every expression is in the year 2099: parsed and
 * scheduled like any other, but no run competes with the listing for the
 * agent's etcd workers during the measurement. */
static int populate(gc_etcd *c, size_t n)
{
	enum { BATCH = 100 };
	static const char *const common[] = {
	    "0 * * * * * 2099", "0 */5 * * * * 2099", "0 0 * * * * 2099",
	    "0 0 0 * * * 2099"};
	for (size_t i = 0; i < n; i += BATCH) {
		gc_etcd_op ops[BATCH];
		char *keys[BATCH], *vals[BATCH];
		size_t m = n - i < BATCH ? n - i : BATCH;
		for (size_t k = 0; k < m; k++) {
			size_t id = i + k;
			char tid[32], cron[64], name[64];
			snprintf(tid, sizeof(tid), "%llu",
				 1131476895460757504ULL + id * 7919);
			snprintf(name, sizeof(name), "bench task %zu", id);
			if (id % 10 < 3)
				snprintf(cron, sizeof(cron), "%s",
					 common[id % 4]);
			else
				snprintf(cron, sizeof(cron),
					 "%zu %zu %zu * * * 2099", id % 60,
					 (id / 60) % 60, (id / 3600) % 24);
			gc_task t = GC_TASK_INIT;
			t.task_id = tid;
			t.name = name;
			t.project_id = PID;
			t.command = (char *)"noop";
			t.cron = cron;
			t.remark =
			    (char *)"benchmark task with a typical remark";
			t.timeout = 60;
			t.create_time = 1795470646;
			t.status = 1;
			t.client_ip = (char *)"";
			keys[k] = gc_key_task(PREFIX, PID, tid);
			vals[k] = gc_task_to_json(&t);
			memset(&ops[k], 0, sizeof(ops[k]));
			ops[k].type = GC_ETCD_OP_PUT;
			ops[k].key = keys[k];
			ops[k].value = vals[k];
			ops[k].value_len = strlen(vals[k]);
		}
		gc_etcd_txn_request txn = {NULL, 0, ops, m, NULL, 0};
		gc_etcd_txn_result res = {0};
		gc_error err;
		int rc = gc_etcd_txn(&res, c, &txn, &err);
		gc_etcd_txn_result_clear(&res);
		for (size_t k = 0; k < m; k++) {
			gc_free(keys[k]);
			gc_free(vals[k]);
		}
		if (rc) {
			fprintf(stderr, "populate: %s\n", err.msg);
			return rc;
		}
	}
	return 0;
}

/* ---------------------------------------------------------- variants */

static gc_etcd *client(const char *ep)
{
	const char *eps[1] = {ep};
	gc_etcd_options o = GC_ETCD_OPTIONS_INIT;
	gc_etcd *c = NULL;
	gc_error err;
	o.endpoints = eps;
	o.endpoints_count = 1;
	o.max_response_bytes = GC__AGENT_ETCD_MAX_RESPONSE;
	if (gc_etcd_new(&c, &o, &err))
		fprintf(stderr, "client: %s\n", err.msg);
	return c;
}

/* The floor; returns ms, or -1. */
static double bare_ms(const char *ep, size_t *count)
{
	gc_etcd *c = client(ep);
	char *prefix = gc_key_project_prefix(PREFIX, PID), *end = NULL;
	size_t end_len;
	if (!c || !prefix ||
	    gc_etcd_prefix_end(&end, &end_len, prefix, strlen(prefix)))
		return -1;
	int64_t t0 = gc__mono_ns(), rev = 0;
	char *start = gc__strdup(prefix);
	int ok = 1;
	*count = 0;
	for (;;) {
		gc_etcd_get_options o = GC_ETCD_GET_OPTIONS_INIT;
		gc_etcd_response r = {0};
		gc_error err;
		o.range_end = end;
		o.limit = 1000;
		o.revision = rev;
		o.sort_target = GC_ETCD_SORT_KEY;
		o.sort_order = GC_ETCD_SORT_ASCEND;
		o.timeout_ms = 60000;
		o.retry_timeout_ms = 120000;
		if (gc_etcd_get(&r, c, start, &o, &err)) {
			fprintf(stderr, "bare listing: %s\n", err.msg);
			ok = 0;
			break;
		}
		if (!rev)
			rev = r.revision;
		*count += r.kvs_count;
		int more = r.more && r.kvs_count;
		if (more) {
			free(start);
			start = gc__strdup(r.kvs[r.kvs_count - 1].key);
			(*count)--; /* read again as the next page's first key
				     */
		}
		gc_etcd_response_clear(&r);
		if (!more)
			break;
	}
	double ms = (double)(gc__mono_ns() - t0) / 1e6;
	free(start);
	gc_free(prefix);
	gc_free(end);
	gc_etcd_free(c);
	return ok ? ms : -1;
}

typedef struct noop_list {
	int done;
	size_t keys;
} noop_list;

static void nl_begin(int64_t rev, void *p)
{
	(void)rev;
	(void)p;
}
static void nl_pair(const gc_etcd_kv *kv, void *p)
{
	(void)kv;
	(void)p;
}
static void nl_big(const gc_etcd_kv *kv, void *p)
{
	(void)kv;
	(void)p;
}
static void nl_done(int64_t rev, size_t keys, void *p)
{
	(void)rev;
	noop_list *n = p;
	n->done = 1;
	n->keys = keys;
}
static void nl_error(int code, const char *msg, void *p)
{
	(void)code;
	(void)msg;
	(void)p;
}

/* The agent's listing alone; returns ms, or -1. */
static double listing_ms(const char *ep, size_t *count, double *timeouts)
{
	static const gc__listing_cbs cbs = {nl_begin, nl_pair, nl_big, nl_done,
					    nl_error};
	const char *eps[1] = {ep};
	gc_etcd_options eo = GC_ETCD_OPTIONS_INIT;
	gc__pool *pool;
	gc_error err;
	noop_list n = {0, 0};
	eo.endpoints = eps;
	eo.endpoints_count = 1;
	eo.max_response_bytes = GC__AGENT_ETCD_MAX_RESPONSE;
	if (gc__pool_new_etcd(&pool, &eo, 1, &err))
		return -1;
	char *prefix = gc_key_project_prefix(PREFIX, PID);
	gc__listing *l = gc__listing_new(pool, prefix, &cbs, &n);
	int64_t t0 = gc__mono_ns(), end = t0 + 600 * 1000000000LL;
	gc__listing_start(l);
	while (!n.done && gc__mono_ns() < end) {
		int64_t next = gc__listing_next_at(l);
		int t = next ? (int)gc__ms_until(next, gc__mono_ms()) : 1000;
		struct pollfd pfd = {gc__pool_fd(pool), POLLIN, 0};
		poll(&pfd, 1, t < 0 || t > 1000 ? 1000 : t);
		gc__pool_drain(pool);
		gc__listing_tick(l, gc__mono_ms());
	}
	double ms = (double)(gc__mono_ns() - t0) / 1e6;
	*count = n.keys;
	*timeouts = (double)gc__listing_stats_get(l).timeouts;
	gc__listing_free(l);
	gc__pool_free(pool);
	gc_free(prefix);
	return n.done ? ms : -1;
}

static int noop(gc_agent_job *job, const char *args, void *payload)
{
	(void)job;
	(void)args;
	(void)payload;
	return 0;
}

static gc_agent *agent_new(const char *ep)
{
	gc_agent_config cfg;
	gc_error err;
	gc_agent *a = NULL;
	if (gct_agent_config_one(&cfg, ep, PREFIX, PID, "10.77.1.1")) {
		gc_agent_config_clear(&cfg);
		return NULL;
	}
	gc_agent_options o = GC_AGENT_OPTIONS_INIT;
	o.cron_utc = 1;
	if (gc_agent_new(&a, &cfg, &o, &err) ||
	    gc_agent_handler_register(a, "noop", noop, NULL, &err)) {
		fprintf(stderr, "agent: %s\n", err.msg);
		gc_agent_free(a);
		a = NULL;
	}
	gc_agent_config_clear(&cfg);
	return a;
}

static void agent_stop(gc_agent *a)
{
	gc_error err;
	gc_agent_stop(a);
	while (gc_agent_step(a, &err) == 0) {
		struct pollfd p = {gc_agent_fd(a), POLLIN, 0};
		poll(&p, 1, gc_agent_timeout_ms(a));
	}
	gc_agent_free(a);
}

/* A whole agent: start until every task is scheduled; ms, or -1. */
static double agent_ms(const char *ep, size_t want, size_t *count)
{
	gc_agent *a = agent_new(ep);
	gc_agent_stats st = {0};
	gc_error err;
	if (!a)
		return -1;
	int64_t t0 = gc__mono_ns(), end = t0 + 600 * 1000000000LL;
	while (gc__mono_ns() < end) {
		if (gc_agent_step(a, &err) != 0)
			break;
		gc_agent_stats_get(a, &st);
		if (st.projects_loaded == 1 && st.tasks >= want)
			break;
		int t = gc_agent_timeout_ms(a);
		struct pollfd p = {gc_agent_fd(a), POLLIN, 0};
		poll(&p, 1, t < 0 || t > 1000 ? 1000 : t);
	}
	double ms = (double)(gc__mono_ns() - t0) / 1e6;
	*count = st.tasks;
	agent_stop(a);
	return st.tasks >= want ? ms : -1;
}

/* ------------------------------------------------------------- main */

enum { V_BARE, V_LISTING, V_AGENT, N_VARIANTS };
static const char *const VARIANT[N_VARIANTS] = {"bare", "listing", "agent"};

/* One measurement of variant v under `settings` (NULL: no proxy). */
static double measure(int v, const char *etcd_ep, const char *settings,
		      size_t want, double *timeouts)
{
	gct_proxy p;
	const char *ep = etcd_ep;
	size_t count = 0;
	double ms = -1;
	*timeouts = -1;
	if (settings) {
		if (gct_proxy_start(&p, etcd_ep, settings))
			return -1;
		ep = gct_proxy_endpoint(&p);
	}
	if (v == V_BARE)
		ms = bare_ms(ep, &count);
	else if (v == V_LISTING)
		ms = listing_ms(ep, &count, timeouts);
	else
		ms = agent_ms(ep, want, &count);
	if (settings)
		gct_proxy_stop(&p);
	if (ms >= 0 && count != want) {
		fprintf(stderr, "%s: %zu keys, not %zu\n", VARIANT[v], count,
			want);
		ms = -1;
	}
	return ms;
}

static int condition(const char *name, const char *etcd_ep,
		     const char *settings, int runs, size_t want)
{
	double ms[N_VARIANTS][MAX_RUNS], to[N_VARIANTS][MAX_RUNS];
	for (int r = 0; r < runs; r++) {
		for (int v = 0; v < N_VARIANTS; v++) {
			/* interleaved, the order turning each run */
			int w = (v + r) % N_VARIANTS;
			ms[w][r] =
			    measure(w, etcd_ep, settings, want, &to[w][r]);
			if (ms[w][r] < 0)
				return -1;
			fprintf(stderr, "%s run %d: %s %.0f ms\n", name, r + 1,
				VARIANT[w], ms[w][r]);
		}
	}
	for (int v = 0; v < N_VARIANTS; v++) {
		double lo = ms[v][0], hi = ms[v][0];
		for (int r = 1; r < runs; r++) {
			lo = ms[v][r] < lo ? ms[v][r] : lo;
			hi = ms[v][r] > hi ? ms[v][r] : hi;
		}
		printf("%s\t%s\t%.0f\t%.0f\t%.0f\t%.0f\n", name, VARIANT[v],
		       median_d(ms[v], runs), lo, hi, median_d(to[v], runs));
		fflush(stdout);
	}
	return 0;
}

int main(void)
{
	setenv("TZ", "UTC", 1);
	size_t ntasks = (size_t)env_int("LIST_BENCH_TASKS", 100000);
	int runs = env_int("LIST_BENCH_RUNS", 3);
	int latency = env_int("LIST_BENCH_LATENCY_MS", 200);
	int every = env_int("LIST_BENCH_STALL_EVERY", 25);
	int stall = env_int("LIST_BENCH_STALL_MS", 10000);
	const char *conds = getenv("LIST_BENCH_CONDITIONS");
	if (!conds || !*conds)
		conds = "direct,latency,stalls";
	if (runs > MAX_RUNS)
		runs = MAX_RUNS;

	static const char *const flags[] = {"--quota-backend-bytes=4294967296",
					    NULL};
	gct_etcd *e;
	if (gct_etcd_start(&e, 1, flags))
		return 1;
	const char *ep = gct_etcd_endpoint(e, 0);
	gc_etcd *c = client(ep);
	if (!c)
		return 1;
	int64_t t0 = gc__mono_ns();
	if (populate(c, ntasks))
		return 1;
	fprintf(stderr, "populated %zu tasks in %.1f s\n", ntasks,
		(double)(gc__mono_ns() - t0) / 1e9);
	printf("tasks\t%zu\nruns\t%d\nlatency_ms\t%d\nstall_every\t%d\n"
	       "stall_ms\t%d\n",
	       ntasks, runs, latency, every, stall);
	char lat[64], stl[128];
	snprintf(lat, sizeof(lat), "latency_ms=%d\n", latency);
	snprintf(stl, sizeof(stl), "stall_every=%d\nstall_ms=%d\n", every,
		 stall);
	int failed = 0;
	if (strstr(conds, "direct"))
		failed |= condition("direct", ep, NULL, runs, ntasks);
	if (strstr(conds, "latency"))
		failed |= condition("latency", ep, lat, runs, ntasks);
	if (strstr(conds, "stalls"))
		failed |= condition("stalls", ep, stl, runs, ntasks);
	gc_etcd_free(c);
	gct_etcd_stop(e);
	return failed ? 1 : 0;
}
