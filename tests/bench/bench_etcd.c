/* etcd client latency on loopback against a harness-started single member:
 * put, range (linearizable and serializable), claim txn (won and lost),
 * put start -> watch event received; baseline: a bare libcurl keep-alive
 * POST of the same put body (no JSON building or decoding, no failover).
 *
 *   bench_etcd RUNS N
 * prints one line per operation: name, median ms, p99 ms, lowest and
 * highest per-run median (tab-separated); figures are medians over RUNS
 * runs of N operations each, the variants interleaved within each run. */
#include <gophercron.h>

#include "harness.h"
#include "internal.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { OP_RAW, OP_PUT, OP_RANGE, OP_RANGE_SER, OP_CLAIM_WON, OP_CLAIM_LOST,
       OP_WATCH, OP_COUNT };
static const char *const op_names[OP_COUNT] = {
	"raw_libcurl_put", "put", "range", "range_serializable",
	"claim_won", "claim_lost", "put_to_watch"};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double p)
{
	int i;
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	i = (int)(p * (n - 1) + 0.5);
	return v[i];
}

static size_t sink(char *p, size_t s, size_t n, void *ud)
{
	(void)p;
	(void)ud;
	return s * n;
}

/* ---------------------------------------------------------- watching */

static atomic_int_least64_t *g_recv; /* per key: receive time, ns */
static atomic_int g_stop;
static int g_n;

static void on_events(gc_etcd_watch *w, const gc_etcd_event *ev, size_t n,
		      int64_t rev, void *p)
{
	int64_t now = gc__mono_ns();
	size_t i;
	(void)w;
	(void)rev;
	(void)p;
	for (i = 0; i < n; i++) {
		const char *slash = strrchr(ev[i].kv.key, '/');
		int64_t idx;
		if (slash && gc__parse_int64(slash + 1, &idx) == 0 && idx >= 0 &&
		    idx < g_n)
			atomic_store(&g_recv[idx], now);
	}
}

static void on_progress(gc_etcd_watch *w, int64_t rev, int created, void *p)
{
	(void)w;
	(void)rev;
	if (created)
		atomic_store((atomic_int *)p, 1);
}

static void *watch_thread(void *arg)
{
	gc_etcd_watcher *w = arg;
	while (!atomic_load(&g_stop))
		gc_etcd_watcher_poll(w, 200, NULL);
	return NULL;
}

int main(int argc, char **argv)
{
	int runs = argc > 1 ? atoi(argv[1]) : 5;
	int n = argc > 2 ? atoi(argv[2]) : 500;
	double *samples, *medians[OP_COUNT], *p99s[OP_COUNT];
	const char *eps[2] = {NULL, NULL};
	gc_etcd_options o = GC_ETCD_OPTIONS_INIT;
	gct_etcd *e;
	gc_etcd *c;
	gc_etcd_watcher *w;
	gc_etcd_watch *wa;
	gc_etcd_watch_options wo = GC_ETCD_WATCH_OPTIONS_INIT;
	pthread_t th;
	atomic_int created;
	gc_error err;
	int64_t lease;
	CURL *raw;
	struct curl_slist *hdrs;
	char url[256];
	int r, i, k;

	if (runs < 1 || n < 10) {
		fprintf(stderr, "usage: bench_etcd RUNS N (N >= 10)\n");
		return 2;
	}
	if (gct_etcd_start(&e, 1, NULL))
		return 1;
	eps[0] = gct_etcd_endpoint(e, 0);
	o.endpoints = eps;
	if (gc_etcd_new(&c, &o, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	if (gc_etcd_lease_grant(&lease, NULL, c, 600, 0, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	samples = calloc((size_t)n, sizeof(double));
	g_n = n;
	g_recv = calloc((size_t)n, sizeof(*g_recv));
	for (k = 0; k < OP_COUNT; k++) {
		medians[k] = calloc((size_t)runs, sizeof(double));
		p99s[k] = calloc((size_t)runs, sizeof(double));
	}

	/* baseline: the same put as a bare keep-alive POST */
	raw = curl_easy_init();
	hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	snprintf(url, sizeof(url), "%s/v3/kv/put", eps[0]);
	curl_easy_setopt(raw, CURLOPT_URL, url);
	curl_easy_setopt(raw, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(raw, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(raw, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(raw, CURLOPT_WRITEFUNCTION, sink);
	/* {"key":"/bench/raw","value":"value-0123456789"} */
	curl_easy_setopt(raw, CURLOPT_POSTFIELDS,
			 "{\"key\":\"L2JlbmNoL3Jhdw==\",\"value\":"
			 "\"dmFsdWUtMDEyMzQ1Njc4OQ==\"}");

	/* the watch, on its own thread like an agent's loop */
	atomic_init(&created, 0);
	atomic_init(&g_stop, 0);
	wo.flags = GC_ETCD_PREFIX;
	wo.on_events = on_events;
	wo.on_progress = on_progress;
	wo.payload = &created;
	if (gc_etcd_watcher_new(&w, c, &err) ||
	    gc_etcd_watch_add(&wa, w, "/bench/w/", &wo, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	pthread_create(&th, NULL, watch_thread, w);
	for (i = 0; i < 500 && !atomic_load(&created); i++)
		gct_sleep_ms(10);

	/* warm up connections and the server */
	for (i = 0; i < 50; i++) {
		curl_easy_perform(raw);
		gc_etcd_put(NULL, c, "/bench/put", "value-0123456789", 16, 0,
			    0, NULL);
	}

	for (r = 0; r < runs; r++) {
		for (k = 0; k < OP_COUNT; k++) {
			for (i = 0; i < n; i++) {
				char key[64];
				int64_t t0 = gc__mono_ns(), t1;
				int rc = 0;
				switch (k) {
				case OP_RAW: {
					long st = 0;
					rc = curl_easy_perform(raw) != CURLE_OK;
					curl_easy_getinfo(raw,
							  CURLINFO_RESPONSE_CODE,
							  &st);
					rc |= st != 200;
					break;
				}
				case OP_PUT:
					rc = gc_etcd_put(NULL, c, "/bench/put",
							 "value-0123456789",
							 16, 0, 0, &err);
					break;
				case OP_RANGE:
				case OP_RANGE_SER: {
					gc_etcd_get_options go =
						GC_ETCD_GET_OPTIONS_INIT;
					gc_etcd_response resp;
					go.flags = k == OP_RANGE_SER
							   ? GC_ETCD_SERIALIZABLE
							   : 0;
					rc = gc_etcd_get(&resp, c, "/bench/put",
							 &go, &err);
					gc_etcd_response_clear(&resp);
					break;
				}
				case OP_CLAIM_WON:
				case OP_CLAIM_LOST: {
					gc_etcd_claim cl = {
						GC_ETCD_CLAIM_VERSION, key,
						"agent-1", 7, lease, NULL, 0,
						NULL, 0};
					if (k == OP_CLAIM_WON)
						snprintf(key, sizeof(key),
							 "/bench/lock/%d/%d", r,
							 i);
					else
						snprintf(key, sizeof(key),
							 "/bench/lock/%d/0", r);
					rc = gc_etcd_claim_key(NULL, c, &cl,
							       &err);
					if (k == OP_CLAIM_LOST &&
					    rc == GC_ECONFLICT)
						rc = 0;
					break;
				}
				case OP_WATCH:
					snprintf(key, sizeof(key),
						 "/bench/w/%d", i);
					atomic_store(&g_recv[i], 0);
					t0 = gc__mono_ns();
					rc = gc_etcd_put(NULL, c, key, "v", 1,
							 0, 0, &err);
					/* the receive time is stamped by the
					 * watch thread: sleeping here does
					 * not skew it */
					for (int64_t end = t0 + 5000000000LL;
					     !rc && !atomic_load(&g_recv[i]);) {
						struct timespec ts = {0, 50000};
						if (gc__mono_ns() > end) {
							snprintf(err.msg,
								 sizeof(err.msg),
								 "no event");
							rc = -1;
						}
						nanosleep(&ts, NULL);
					}
					break;
				}
				if (rc) {
					fprintf(stderr, "%s failed: %s\n",
						op_names[k], err.msg);
					return 1;
				}
				t1 = k == OP_WATCH ? atomic_load(&g_recv[i])
						   : gc__mono_ns();
				samples[i] = (double)(t1 - t0) / 1e6;
			}
			medians[k][r] = pct(samples, n, 0.5);
			p99s[k][r] = pct(samples, n, 0.99);
		}
	}
	for (k = 0; k < OP_COUNT; k++) {
		double lo, hi, med, p99;
		med = pct(medians[k], runs, 0.5);
		lo = medians[k][0];
		hi = medians[k][runs - 1];
		p99 = pct(p99s[k], runs, 0.5);
		printf("%s\t%.3f\t%.3f\t%.3f\t%.3f\n", op_names[k], med, p99,
		       lo, hi);
	}

	atomic_store(&g_stop, 1);
	gc_etcd_watcher_wakeup(w);
	pthread_join(th, NULL);
	gc_etcd_watcher_free(w);
	curl_easy_cleanup(raw);
	curl_slist_free_all(hdrs);
	gc_etcd_free(c);
	gct_etcd_stop(e);
	for (k = 0; k < OP_COUNT; k++) {
		free(medians[k]);
		free(p99s[k]);
	}
	free(samples);
	free((void *)g_recv);
	return 0;
}
