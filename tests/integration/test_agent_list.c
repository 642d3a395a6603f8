/* The agent's paged listing (lib/agent/list.c) against a real etcd seen
 * through a slow proxy (tests/lib/slowproxy.py): a page that times out is
 * read again (smaller, with more time) and the pass goes on from it, at
 * the revision of its first page; a page that fails otherwise is read
 * again after a pause; only a compaction of the pinned revision starts a
 * new pass; pages shrink when etcd is too slow for them and grow back.
 * The proxy's request log shows what was asked (start key, revision,
 * limit). Also gc_etcd_get's own per-call timeout (options version 2) and
 * that version-1 options are still accepted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent/agent_internal.h"
#include "harness.h"
#include "slowproxy.h"
#include "test_etcd_util.h"
#include "agentcfg.h"

#include <cJSON.h>
#include <poll.h>
#include <pthread.h>

#define PREFIX "/gclist/"

static struct {
	gct_etcd *etcd;
	gc_etcd *c; /* straight to etcd */
	int next;   /* prefix number of the next populated set */
} F;

static int setup(void **state)
{
	(void)state;
	if (gct_etcd_start(&F.etcd, 1, NULL))
		return -1;
	F.c = etu_client(gct_etcd_endpoints(F.etcd));
	return F.c ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	gc_etcd_free(F.c);
	gct_etcd_stop(F.etcd);
	return 0;
}

/* Put `n` keys of `value_len` bytes under a new prefix (malloc'd). */
static char *populate(size_t n, size_t value_len)
{
	char *prefix = gc__sprintf(PREFIX "%d/", F.next++);
	char *value = malloc(value_len + 1);
	assert_non_null(prefix);
	assert_non_null(value);
	memset(value, 'v', value_len);
	value[value_len] = '\0';
	for (size_t i = 0; i < n; i += 100) {
		gc_etcd_op ops[100];
		char keys[100][64];
		size_t m = n - i < 100 ? n - i : 100;
		memset(ops, 0, sizeof(ops));
		for (size_t k = 0; k < m; k++) {
			snprintf(keys[k], sizeof(keys[k]), "%sk%06zu", prefix,
				 i + k);
			ops[k].type = GC_ETCD_OP_PUT;
			ops[k].key = keys[k];
			ops[k].value = value;
			ops[k].value_len = value_len;
		}
		gc_etcd_txn_request txn = {NULL, 0, ops, m, NULL, 0};
		gc_etcd_txn_result res = {0};
		gc_error err;
		if (gc_etcd_txn(&res, F.c, &txn, &err))
			fail_msg("populate: %s", err.msg);
		gc_etcd_txn_result_clear(&res);
	}
	free(value);
	return prefix;
}

/* ------------------------------------------------------- a listing */

typedef struct lst {
	gc__pool *pool;
	gc__listing *l;
	int begins;
	size_t pairs;	/* of the pass in progress */
	char last[128]; /* last key of the pass, for the order */
	int out_of_order;
	int done;
	size_t done_keys;
	int64_t done_rev;
	int errors, timeouts;
	/* run in on_error before the page is read again (or NULL) */
	void (*on_error_hook)(struct lst *t);
} lst;

static void on_begin(int64_t rev, void *payload)
{
	(void)rev;
	lst *t = payload;
	t->begins++;
	t->pairs = 0;
	t->last[0] = '\0';
}

static void on_pair(const gc_etcd_kv *kv, void *payload)
{
	lst *t = payload;
	if (strcmp(kv->key, t->last) <= 0)
		t->out_of_order++;
	snprintf(t->last, sizeof(t->last), "%s", kv->key);
	t->pairs++;
}

static void on_too_big(const gc_etcd_kv *kv, void *payload)
{
	(void)kv;
	(void)payload;
	fail_msg("no key is too big here");
}

static void on_done(int64_t rev, size_t keys, void *payload)
{
	lst *t = payload;
	t->done = 1;
	t->done_keys = keys;
	t->done_rev = rev;
}

static void on_error(int code, const char *msg, void *payload)
{
	lst *t = payload;
	print_message("listing: page failed (%s): %s\n", gc_strerror(code),
		      msg);
	if (code == GC_ETIMEDOUT)
		t->timeouts++;
	else
		t->errors++;
	if (t->on_error_hook)
		t->on_error_hook(t);
}

static const gc__listing_cbs CBS = {on_begin, on_pair, on_too_big, on_done,
				    on_error};

static void lst_open(lst *t, const char *endpoint, const char *prefix)
{
	const char *eps[] = {endpoint};
	gc_etcd_options eo = GC_ETCD_OPTIONS_INIT;
	gc_error err;
	memset(t, 0, sizeof(*t));
	eo.endpoints = eps;
	eo.endpoints_count = 1;
	eo.max_response_bytes = GC__AGENT_ETCD_MAX_RESPONSE;
	if (gc__pool_new_etcd(&t->pool, &eo, 1, &err))
		fail_msg("pool: %s", err.msg);
	t->l = gc__listing_new(t->pool, prefix, &CBS, t);
	assert_non_null(t->l);
}

/* Drive the listing as the agent thread does until it is done. */
static void lst_run(lst *t, int max_s)
{
	int64_t end = gc__mono_ms() + max_s * 1000LL;
	gc__listing_start(t->l);
	while (!t->done && gc__mono_ms() < end) {
		struct pollfd pfd = {gc__pool_fd(t->pool), POLLIN, 0};
		poll(&pfd, 1, 50);
		gc__pool_drain(t->pool);
		gc__listing_tick(t->l, gc__mono_ms());
	}
}

static void lst_close(lst *t)
{
	gc__listing_free(t->l);
	gc__pool_free(t->pool);
}

/* ------------------------------------------------ the proxy's log */

typedef struct req {
	int stalled; /* 0, 1 stalled, 2 failed by the proxy */
	char key[256];
	int64_t revision; /* 0: none (a first page) */
	int64_t limit;
} req;

/* The range requests the proxy saw, in order; returns how many. */
static int reqs_read(const gct_proxy *p, req *out, int max)
{
	FILE *f = fopen(gct_proxy_log(p), "re");
	char line[4096];
	int n = 0;
	assert_non_null(f);
	while (n < max && fgets(line, sizeof(line), f)) {
		char *tab1 = strchr(line, '\t');
		char *tab2 = tab1 ? strchr(tab1 + 1, '\t') : NULL;
		char *tab3 = tab2 ? strchr(tab2 + 1, '\t') : NULL;
		if (!tab3)
			continue;
		req *r = &out[n++];
		memset(r, 0, sizeof(*r));
		r->stalled = atoi(tab2 + 1);
		cJSON *j = cJSON_Parse(tab3 + 1);
		assert_non_null(j);
		cJSON *k = cJSON_GetObjectItem(j, "key");
		cJSON *rv = cJSON_GetObjectItem(j, "revision");
		cJSON *lm = cJSON_GetObjectItem(j, "limit");
		snprintf(r->key, sizeof(r->key), "%s",
			 cJSON_IsString(k) ? k->valuestring : "");
		r->revision = cJSON_IsString(rv) ? atoll(rv->valuestring) : 0;
		r->limit = cJSON_IsString(lm) ? atoll(lm->valuestring) : 0;
		cJSON_Delete(j);
	}
	fclose(f);
	return n;
}

static void reqs_print(const req *r, int n)
{
	for (int i = 0; i < n; i++)
		print_message("  request %d: key=%.24s revision=%lld "
			      "limit=%lld%s\n",
			      i + 1, r[i].key, (long long)r[i].revision,
			      (long long)r[i].limit,
			      r[i].stalled == 1	  ? " (stalled)"
			      : r[i].stalled == 2 ? " (failed)"
						  : "");
}

/* Requests without a revision: first pages, i.e. passes begun. */
static int first_pages(const req *r, int n)
{
	int k = 0;
	for (int i = 0; i < n; i++)
		k += r[i].revision == 0;
	return k;
}

/* ------------------------------------------------------------ tests */

static void a_timed_out_page_is_read_again_not_the_listing(void **state)
{
	(void)state;
	char *prefix = populate(3000, 150);
	gct_proxy p;
	/* the third page is held for 20 s: far beyond its timeout */
	assert_int_equal(gct_proxy_start(&p, gct_etcd_endpoint(F.etcd, 0),
					 "stall_nth=3\nstall_ms=20000\n"),
			 0);
	lst t;
	lst_open(&t, gct_proxy_endpoint(&p), prefix);
	int64_t t0 = gc__mono_ms();
	lst_run(&t, 60);
	int64_t took = gc__mono_ms() - t0;
	gc__listing_stats st = gc__listing_stats_get(t.l);
	req r[64];
	int n = reqs_read(&p, r, 64);
	reqs_print(r, n);
	print_message("listed in %lld ms\n", (long long)took);

	assert_true(t.done);
	assert_int_equal(t.done_keys, 3000);
	assert_int_equal(t.pairs, 3000);
	assert_int_equal(t.out_of_order, 0);
	assert_int_equal(t.begins, 1); /* never started over */
	assert_int_equal(t.timeouts, 1);
	assert_int_equal(st.timeouts, 1);
	assert_int_equal(st.restarts, 0);
	assert_true(took < 20000); /* did not wait for the stalled answer */
	/* request 4 reads page 3 again: same start, same revision, fewer
	 * keys; the pages then grow back */
	assert_true(n >= 5);
	assert_int_equal(first_pages(r, n), 1);
	assert_int_equal(r[2].stalled, 1);
	assert_string_equal(r[3].key, r[2].key);
	assert_int_equal(r[3].revision, r[1].revision);
	assert_int_equal(r[2].revision, r[1].revision);
	assert_int_equal(r[3].revision, t.done_rev);
	assert_int_equal(r[2].limit, GC__LISTPACE_PAGE_MAX);
	assert_int_equal(r[3].limit, GC__LISTPACE_PAGE_MAX / GC__LISTPACE_STEP);
	assert_int_equal(r[4].limit, GC__LISTPACE_PAGE_MAX);
	lst_close(&t);
	gct_proxy_stop(&p);
	free(prefix);
}

static void a_failed_page_is_read_again_after_a_pause(void **state)
{
	(void)state;
	char *prefix = populate(2500, 150);
	gct_proxy p;
	/* the second page gets an error answer (not a timeout) */
	assert_int_equal(
	    gct_proxy_start(&p, gct_etcd_endpoint(F.etcd, 0), "fail_nth=2\n"),
	    0);
	lst t;
	lst_open(&t, gct_proxy_endpoint(&p), prefix);
	lst_run(&t, 60);
	gc__listing_stats st = gc__listing_stats_get(t.l);
	req r[64];
	int n = reqs_read(&p, r, 64);
	reqs_print(r, n);

	assert_true(t.done);
	assert_int_equal(t.done_keys, 2500);
	assert_int_equal(t.pairs, 2500);
	assert_int_equal(t.out_of_order, 0);
	assert_int_equal(t.begins, 1);
	assert_int_equal(t.errors, 1);
	assert_int_equal(st.resumed, 1);
	assert_int_equal(st.restarts, 0);
	assert_true(n >= 4);
	assert_int_equal(first_pages(r, n), 1);
	assert_int_equal(r[1].stalled, 2);
	assert_string_equal(r[2].key, r[1].key);
	assert_int_equal(r[2].revision, r[1].revision);
	lst_close(&t);
	gct_proxy_stop(&p);
	free(prefix);
}

static char *compact_prefix;

/* While the timed-out page waits to be read again: a change, and the
 * listing's revision compacted away. */
static void compact_now(lst *t)
{
	(void)t;
	gc_etcd_response r;
	gc_error err;
	char *key = gc__sprintf("%sz-added", compact_prefix);
	assert_int_equal(gc_etcd_put(&r, F.c, key, "x", 1, 0, 0, &err), 0);
	assert_int_equal(gc_etcd_compact(F.c, r.revision, 1, &err), 0);
	gc_etcd_response_clear(&r);
	free(key);
}

static void a_compacted_revision_starts_a_new_pass(void **state)
{
	(void)state;
	char *prefix = populate(2500, 150);
	gct_proxy p;
	assert_int_equal(gct_proxy_start(&p, gct_etcd_endpoint(F.etcd, 0),
					 "stall_nth=2\nstall_ms=20000\n"),
			 0);
	lst t;
	lst_open(&t, gct_proxy_endpoint(&p), prefix);
	compact_prefix = prefix;
	t.on_error_hook = compact_now;
	lst_run(&t, 60);
	gc__listing_stats st = gc__listing_stats_get(t.l);
	req r[64];
	int n = reqs_read(&p, r, 64);
	reqs_print(r, n);

	assert_true(t.done);
	assert_int_equal(t.timeouts, 1);
	assert_int_equal(st.restarts, 1);
	assert_int_equal(t.begins, 2);
	assert_int_equal(first_pages(r, n), 2);
	/* the new pass is one snapshot with the added key */
	assert_int_equal(t.done_keys, 2501);
	assert_int_equal(t.pairs, 2501);
	assert_int_equal(t.out_of_order, 0);
	assert_true(t.done_rev > r[1].revision);
	lst_close(&t);
	gct_proxy_stop(&p);
	free(prefix);
}

static void pages_shrink_for_a_slow_etcd_and_grow_back(void **state)
{
	(void)state;
	/* ~190 bytes of JSON a key: a full page takes ~6.5 s at 30 kB/s,
	 * beyond the first page's 5 s; a quarter page takes ~1.6 s. */
	char *prefix = populate(1500, 100);
	gct_proxy p;
	assert_int_equal(
	    gct_proxy_start(&p, gct_etcd_endpoint(F.etcd, 0), "rate=30000\n"),
	    0);
	lst t;
	lst_open(&t, gct_proxy_endpoint(&p), prefix);
	lst_run(&t, 120);
	gc__listing_stats st = gc__listing_stats_get(t.l);
	const gc__listpace *pace = gc__listing_pace(t.l);
	req r[64];
	int n = reqs_read(&p, r, 64);
	reqs_print(r, n);
	print_message("pace at the end: %lld keys within %d ms\n",
		      (long long)pace->limit, pace->timeout_ms);

	assert_true(t.done);
	assert_int_equal(t.done_keys, 1500);
	assert_int_equal(t.begins, 1);
	assert_int_equal(st.restarts, 0);
	assert_true(st.timeouts >= 1);
	/* shrunk on the timeout, then grew back to full pages */
	assert_true(n >= 4);
	assert_int_equal(r[0].limit, GC__LISTPACE_PAGE_MAX);
	assert_int_equal(r[1].limit, GC__LISTPACE_PAGE_MAX / GC__LISTPACE_STEP);
	assert_int_equal(r[1].revision, 0); /* still the first page */
	int grown = 0;
	for (int i = 2; i < n; i++)
		grown |= r[i].limit == GC__LISTPACE_PAGE_MAX;
	assert_true(grown);
	assert_true(pace->timeout_ms > 5000); /* waits longer now */
	lst_close(&t);
	gct_proxy_stop(&p);
	free(prefix);
}

/* ---------------------------------------------------- a whole agent */

#define AGENT_PREFIX "/gclistagent"

typedef struct agent_log {
	pthread_mutex_t mu;
	int page_timed_out; /* "a page timed out" lines */
} agent_log;

static void agent_log_fn(int level, const char *msg, void *payload)
{
	agent_log *al = payload;
	(void)level;
	if (strstr(msg, "a page timed out")) {
		pthread_mutex_lock(&al->mu);
		al->page_timed_out++;
		pthread_mutex_unlock(&al->mu);
		print_message("%s\n", msg);
	}
}

static void put_tasks(size_t n)
{
	for (size_t i = 0; i < n; i += 100) {
		gc_etcd_op ops[100];
		char *keys[100], *vals[100];
		size_t m = n - i < 100 ? n - i : 100;
		memset(ops, 0, sizeof(ops));
		for (size_t k = 0; k < m; k++) {
			char tid[32], name[32];
			snprintf(tid, sizeof(tid), "t%06zu", i + k);
			snprintf(name, sizeof(name), "task %zu", i + k);
			gc_task t = GC_TASK_INIT;
			t.task_id = tid;
			t.name = name;
			t.project_id = 1;
			t.command = (char *)"true";
			t.cron = (char *)"0 0 0 1 1 * 2099";
			t.status = 1;
			keys[k] = gc_key_task(AGENT_PREFIX, 1, tid);
			vals[k] = gc_task_to_json(&t);
			ops[k].type = GC_ETCD_OP_PUT;
			ops[k].key = keys[k];
			ops[k].value = vals[k];
			ops[k].value_len = strlen(vals[k]);
		}
		gc_etcd_txn_request txn = {NULL, 0, ops, m, NULL, 0};
		gc_etcd_txn_result res = {0};
		gc_error err;
		if (gc_etcd_txn(&res, F.c, &txn, &err))
			fail_msg("put tasks: %s", err.msg);
		gc_etcd_txn_result_clear(&res);
		for (size_t k = 0; k < m; k++) {
			gc_free(keys[k]);
			gc_free(vals[k]);
		}
	}
}

static gc_agent *agent_through(const char *ep, agent_log *al)
{
	gc_agent_config cfg;
	gc_error err;
	gc_agent *a = NULL;
	assert_int_equal(
	    gct_agent_config_one(&cfg, ep, AGENT_PREFIX, 1, "10.77.2.1"), 0);
	gc_agent_options o = GC_AGENT_OPTIONS_INIT;
	o.cron_utc = 1;
	o.log = agent_log_fn;
	o.log_payload = al;
	o.log_level = GC_LOG_WARNING;
	if (gc_agent_new(&a, &cfg, &o, &err))
		fail_msg("agent: %s", err.msg);
	gc_agent_config_clear(&cfg);
	return a;
}

static void an_agent_loads_its_project_past_a_stalled_page(void **state)
{
	(void)state;
	put_tasks(2500);
	gct_proxy p;
	assert_int_equal(gct_proxy_start(&p, gct_etcd_endpoint(F.etcd, 0),
					 "stall_nth=2\nstall_ms=30000\n"),
			 0);
	agent_log al = {PTHREAD_MUTEX_INITIALIZER, 0};
	gc_agent *a = agent_through(gct_proxy_endpoint(&p), &al);
	gc_agent_stats st = {0};
	gc_error err;
	int64_t end = gc__mono_ms() + 60000;
	while (gc__mono_ms() < end) {
		assert_int_equal(gc_agent_step(a, &err), 0);
		gc_agent_stats_get(a, &st);
		if (st.projects_loaded == 1)
			break;
		struct pollfd pfd = {gc_agent_fd(a), POLLIN, 0};
		int t = gc_agent_timeout_ms(a);
		poll(&pfd, 1, t < 0 || t > 200 ? 200 : t);
	}
	req r[64];
	int n = reqs_read(&p, r, 64);
	reqs_print(r, n);
	assert_int_equal(st.projects_loaded, 1);
	assert_int_equal(st.tasks, 2500);
	assert_int_equal(al.page_timed_out, 1);
	assert_int_equal(first_pages(r, n), 1);
	assert_true(n >= 3);
	assert_int_equal(r[1].stalled, 1);
	assert_string_equal(r[2].key, r[1].key);
	assert_int_equal(r[2].revision, r[1].revision);
	gc_agent_stop(a);
	while (gc_agent_step(a, &err) == 0) {
		struct pollfd pfd = {gc_agent_fd(a), POLLIN, 0};
		poll(&pfd, 1, gc_agent_timeout_ms(a));
	}
	gc_agent_free(a);
	gct_proxy_stop(&p);
}

/* --------------------------------------------- gc_etcd_get timeouts */

static void get_has_its_own_timeout(void **state)
{
	(void)state;
	char *prefix = populate(10, 10);
	gct_proxy p;
	assert_int_equal(gct_proxy_start(&p, gct_etcd_endpoint(F.etcd, 0),
					 "stall_every=1\nstall_ms=10000\n"),
			 0);
	gc_etcd_options eo = GC_ETCD_OPTIONS_INIT;
	eo.request_timeout_ms = 3000; /* retry budget 7 s */
	gc_etcd *c = etu_client_opts(gct_proxy_endpoint(&p), &eo);
	assert_non_null(c);
	gc_etcd_get_options o = GC_ETCD_GET_OPTIONS_INIT;
	gc_etcd_response r;
	gc_error err;
	o.flags = GC_ETCD_PREFIX;
	o.timeout_ms = 400;
	o.retry_timeout_ms = 400;
	int64_t t0 = gc__mono_ms();
	assert_int_equal(gc_etcd_get(&r, c, prefix, &o, &err), GC_ETIMEDOUT);
	int64_t took = gc__mono_ms() - t0;
	print_message("own timeout 400 ms: gave up after %lld ms: %s\n",
		      (long long)took, err.msg);
	assert_true(took >= 400 && took < 2500);

	/* a longer own timeout outlasts a stall the client's 3 s would not */
	gct_proxy_set(&p, "stall_every=1\nstall_ms=3500\n");
	o.timeout_ms = 8000;
	o.retry_timeout_ms = 0;
	assert_int_equal(gc_etcd_get(&r, c, prefix, &o, &err), 0);
	assert_int_equal(r.kvs_count, 10);
	gc_etcd_response_clear(&r);

	/* version 1 options (no timeout fields) are read as before */
	gct_proxy_set(&p, "");
	gc_etcd_get_options v1;
	memset(&v1, 0xff, sizeof(v1)); /* what a v1 caller never set */
	v1.version = 1;
	v1.flags = GC_ETCD_PREFIX;
	v1.range_end = NULL;
	v1.limit = 3;
	v1.revision = 0;
	v1.sort_target = GC_ETCD_SORT_KEY;
	v1.sort_order = GC_ETCD_SORT_ASCEND;
	assert_int_equal(gc_etcd_get(&r, c, prefix, &v1, &err), 0);
	assert_int_equal(r.kvs_count, 3);
	gc_etcd_response_clear(&r);
	/* a newer version than this library knows is refused */
	o.version = GC_ETCD_GET_OPTIONS_VERSION + 1;
	assert_int_equal(gc_etcd_get(&r, c, prefix, &o, &err), GC_EINVAL);
	assert_non_null(strstr(err.msg, "version"));
	gc_etcd_free(c);
	gct_proxy_stop(&p);
	free(prefix);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(get_has_its_own_timeout),
	    cmocka_unit_test(a_timed_out_page_is_read_again_not_the_listing),
	    cmocka_unit_test(a_failed_page_is_read_again_after_a_pause),
	    cmocka_unit_test(a_compacted_revision_starts_a_new_pass),
	    cmocka_unit_test(pages_shrink_for_a_slow_etcd_and_grow_back),
	    cmocka_unit_test(an_agent_loads_its_project_past_a_stalled_page),
	};
	return cmocka_run_group_tests_name("agent_list", tests, setup,
					   teardown);
}
