/* etcd client against one real etcd member: every KV call, txn branches,
 * prefix edge cases, claim, leases and the keeper, watches (events,
 * filters, multiplexing, event-loop driving, compaction), failover to a
 * live endpoint, bounded answers, descriptors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_etcd_util.h"

#include "agent/clocksync.h"

#include <inttypes.h>
#include <poll.h>
#include <pthread.h>

static gct_etcd *g_etcd;
static gc_etcd *g_c;

static int group_setup(void **state)
{
	(void)state;
	if (gct_etcd_start(&g_etcd, 1, NULL))
		return -1;
	g_c = etu_client(gct_etcd_endpoints(g_etcd));
	return g_c ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	gc_etcd_free(g_c);
	gct_etcd_stop(g_etcd);
	return 0;
}

static void put_s(const char *key, const char *value)
{
	gc_error err;
	int rc = gc_etcd_put(NULL, g_c, key, value, strlen(value), 0, 0, &err);
	if (rc)
		fail_msg("put %s: %s", key, err.msg);
}

/* Keys of a get, joined with ' '. */
static char *keys_of(const gc_etcd_response *r)
{
	static char buf[4096];
	size_t i, o = 0;
	buf[0] = '\0';
	for (i = 0; i < r->kvs_count; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s",
				      i ? " " : "", r->kvs[i].key);
	return buf;
}

static char *get_prefix_keys(const char *prefix, unsigned flags)
{
	gc_etcd_get_options o = GC_ETCD_GET_OPTIONS_INIT;
	gc_etcd_response r;
	gc_error err;
	char *out;
	o.flags = flags;
	if (gc_etcd_get(&r, g_c, prefix, &o, &err))
		fail_msg("get %s: %s", prefix, err.msg);
	out = strdup(keys_of(&r));
	gc_etcd_response_clear(&r);
	return out;
}

/* ---------------------------------------------------------------- KV */

static void put_and_get_round_trip_binary_and_empty_values(void **state)
{
	static const char bin[] = {'a', '\0', 'b', '\xff', '\n'};
	gc_etcd_response r;
	gc_error err;
	(void)state;
	assert_int_equal(gc_etcd_put(&r, g_c, "/kv/bin", bin, sizeof(bin), 0,
				     0, &err),
			 0);
	assert_true(r.revision > 0);
	assert_int_equal(r.kvs_count, 0); /* no prev_kv asked */
	gc_etcd_response_clear(&r);
	assert_int_equal(gc_etcd_get(&r, g_c, "/kv/bin", NULL, &err), 0);
	assert_int_equal(r.kvs_count, 1);
	assert_int_equal(r.count, 1);
	assert_string_equal(r.kvs[0].key, "/kv/bin");
	assert_int_equal(r.kvs[0].value_len, sizeof(bin));
	assert_memory_equal(r.kvs[0].value, bin, sizeof(bin));
	assert_int_equal(r.kvs[0].version, 1);
	assert_int_equal(r.kvs[0].create_revision, r.kvs[0].mod_revision);
	assert_true(r.member_id != 0);
	gc_etcd_response_clear(&r);

	/* etcd omits an empty value: it must come back as "" */
	assert_int_equal(gc_etcd_put(NULL, g_c, "/kv/empty", "", 0, 0, 0,
				     &err),
			 0);
	assert_int_equal(gc_etcd_get(&r, g_c, "/kv/empty", NULL, &err), 0);
	assert_int_equal(r.kvs_count, 1);
	assert_int_equal(r.kvs[0].value_len, 0);
	assert_string_equal(r.kvs[0].value, "");
	gc_etcd_response_clear(&r);
}

static void get_of_a_missing_key_is_empty_not_an_error(void **state)
{
	gc_etcd_response r;
	gc_error err;
	(void)state;
	assert_int_equal(gc_etcd_get(&r, g_c, "/kv/nope", NULL, &err), 0);
	assert_int_equal(r.kvs_count, 0);
	assert_int_equal(r.count, 0);
	assert_true(r.revision > 0);
	gc_etcd_response_clear(&r);
}

static void prefix_with_separator_does_not_match_longer_sibling(void **state)
{
	char *k;
	(void)state;
	put_s("/p/a/b", "exact");
	put_s("/p/a/b/1", "child");
	put_s("/p/a/bc", "sibling");
	put_s("/p/a/b0", "sibling2");
	put_s("/p/a/c", "other");

	/* the directory "/p/a/b/" holds only the child */
	k = get_prefix_keys("/p/a/b/", GC_ETCD_PREFIX);
	assert_string_equal(k, "/p/a/b/1");
	free(k);
	/* a bare prefix "/p/a/b" matches by design every key starting so */
	k = get_prefix_keys("/p/a/b", GC_ETCD_PREFIX);
	assert_string_equal(k, "/p/a/b /p/a/b/1 /p/a/b0 /p/a/bc");
	free(k);
	/* no flag: exactly that key */
	k = get_prefix_keys("/p/a/b", 0);
	assert_string_equal(k, "/p/a/b");
	free(k);
	/* FROM_KEY: everything >= key */
	k = get_prefix_keys("/p/a/bc", GC_ETCD_FROM_KEY);
	assert_non_null(strstr(k, "/p/a/bc /p/a/c"));
	assert_null(strstr(k, "/p/a/b0"));
	free(k);
}

static void prefix_end_increments_the_last_byte_below_0xff(void **state)
{
	char *e;
	size_t n;
	(void)state;
	assert_int_equal(gc_etcd_prefix_end(&e, &n, "/cron/jobs/", 11), 0);
	assert_int_equal(n, 11);
	assert_string_equal(e, "/cron/jobs0");
	gc_free(e);
	assert_int_equal(gc_etcd_prefix_end(&e, &n, "a\xff\xff", 3), 0);
	assert_int_equal(n, 1);
	assert_string_equal(e, "b");
	gc_free(e);
	assert_int_equal(gc_etcd_prefix_end(&e, &n, "\xff", 1), 0);
	assert_int_equal(n, 1);
	assert_int_equal(e[0], '\0'); /* no upper bound */
	gc_free(e);
}

static void get_options_limit_count_keys_only_sort_and_revision(void **state)
{
	gc_etcd_get_options o = GC_ETCD_GET_OPTIONS_INIT;
	gc_etcd_response r;
	gc_error err;
	int64_t rev1;
	int i;
	(void)state;
	for (i = 0; i < 5; i++) {
		char k[32], v[32];
		snprintf(k, sizeof(k), "/g/%d", i);
		snprintf(v, sizeof(v), "v%d", i);
		put_s(k, v);
	}
	assert_int_equal(gc_etcd_get(&r, g_c, "/g/0", NULL, &err), 0);
	rev1 = r.kvs[0].mod_revision;
	gc_etcd_response_clear(&r);
	put_s("/g/0", "changed");

	o.flags = GC_ETCD_PREFIX;
	o.limit = 2;
	assert_int_equal(gc_etcd_get(&r, g_c, "/g/", &o, &err), 0);
	assert_int_equal(r.kvs_count, 2);
	assert_int_equal(r.count, 5);
	assert_true(r.more);
	gc_etcd_response_clear(&r);

	o.limit = 0;
	o.flags = GC_ETCD_PREFIX | GC_ETCD_COUNT_ONLY;
	assert_int_equal(gc_etcd_get(&r, g_c, "/g/", &o, &err), 0);
	assert_int_equal(r.kvs_count, 0);
	assert_int_equal(r.count, 5);
	gc_etcd_response_clear(&r);

	o.flags = GC_ETCD_PREFIX | GC_ETCD_KEYS_ONLY;
	o.sort_target = GC_ETCD_SORT_KEY;
	o.sort_order = GC_ETCD_SORT_DESCEND;
	assert_int_equal(gc_etcd_get(&r, g_c, "/g/", &o, &err), 0);
	assert_string_equal(keys_of(&r), "/g/4 /g/3 /g/2 /g/1 /g/0");
	assert_int_equal(r.kvs[0].value_len, 0);
	gc_etcd_response_clear(&r);

	/* historical read */
	memset(&o, 0, sizeof(o));
	o.version = GC_ETCD_GET_OPTIONS_VERSION;
	o.revision = rev1;
	assert_int_equal(gc_etcd_get(&r, g_c, "/g/0", &o, &err), 0);
	assert_string_equal(r.kvs[0].value, "v0");
	gc_etcd_response_clear(&r);
	/* serializable read */
	o.revision = 0;
	o.flags = GC_ETCD_SERIALIZABLE;
	assert_int_equal(gc_etcd_get(&r, g_c, "/g/0", &o, &err), 0);
	assert_string_equal(r.kvs[0].value, "changed");
	gc_etcd_response_clear(&r);
	/* a future revision is refused with etcd's message */
	o.flags = 0;
	o.revision = rev1 + 1000000;
	assert_int_equal(gc_etcd_get(&r, g_c, "/g/0", &o, &err), GC_EINVAL);
	assert_non_null(strstr(err.msg, "future revision"));
	assert_non_null(strstr(err.msg, "HTTP 400"));
}

static void put_prev_kv_ignore_flags_and_unknown_lease(void **state)
{
	gc_etcd_response r;
	gc_error err;
	int64_t lease, ttl;
	(void)state;
	put_s("/pp/k", "one");
	assert_int_equal(gc_etcd_put(&r, g_c, "/pp/k", "two", 3, 0,
				     GC_ETCD_PREV_KV, &err),
			 0);
	assert_int_equal(r.kvs_count, 1);
	assert_string_equal(r.kvs[0].value, "one");
	gc_etcd_response_clear(&r);

	assert_int_equal(gc_etcd_lease_grant(&lease, &ttl, g_c, 60, 0, &err),
			 0);
	assert_int_equal(gc_etcd_put(NULL, g_c, "/pp/k", "x", 1, lease,
				     GC_ETCD_IGNORE_VALUE, &err),
			 0);
	assert_int_equal(gc_etcd_get(&r, g_c, "/pp/k", NULL, &err), 0);
	assert_string_equal(r.kvs[0].value, "two"); /* value kept */
	assert_true(r.kvs[0].lease == lease);        /* lease attached */
	gc_etcd_response_clear(&r);
	assert_int_equal(gc_etcd_put(NULL, g_c, "/pp/k", "three", 5, 0,
				     GC_ETCD_IGNORE_LEASE, &err),
			 0);
	assert_int_equal(gc_etcd_get(&r, g_c, "/pp/k", NULL, &err), 0);
	assert_string_equal(r.kvs[0].value, "three");
	assert_true(r.kvs[0].lease == lease); /* lease kept */
	gc_etcd_response_clear(&r);
	assert_int_equal(gc_etcd_lease_revoke(g_c, lease, &err), 0);

	/* the message names the endpoint, the HTTP status, etcd's text */
	assert_int_equal(gc_etcd_put(NULL, g_c, "/pp/k", "v", 1, 12345, 0,
				     &err),
			 GC_ENOTFOUND);
	assert_int_equal(err.code, GC_ENOTFOUND);
	assert_non_null(strstr(err.msg, gct_etcd_endpoint(g_etcd, 0)));
	assert_non_null(strstr(err.msg, "/v3/kv/put: HTTP 404"));
	assert_non_null(strstr(err.msg, "requested lease not found"));
	assert_non_null(strstr(err.msg, "put /pp/k"));
}

static void delete_key_prefix_and_prev_kvs(void **state)
{
	gc_etcd_response r;
	gc_error err;
	int64_t n;
	char *k;
	(void)state;
	put_s("/d/x", "1");
	put_s("/d/x/1", "2");
	put_s("/d/x/2", "3");
	put_s("/d/xy", "4");
	assert_int_equal(gc_etcd_delete(&r, &n, g_c, "/d/x/", GC_ETCD_PREFIX |
						   GC_ETCD_PREV_KV,
					&err),
			 0);
	assert_int_equal(n, 2);
	assert_int_equal(r.count, 2);
	assert_int_equal(r.kvs_count, 2);
	assert_string_equal(keys_of(&r), "/d/x/1 /d/x/2");
	gc_etcd_response_clear(&r);
	k = get_prefix_keys("/d/", GC_ETCD_PREFIX);
	assert_string_equal(k, "/d/x /d/xy");
	free(k);
	/* deleting exactly "/d/x" leaves "/d/xy" */
	assert_int_equal(gc_etcd_delete(NULL, &n, g_c, "/d/x", 0, &err), 0);
	assert_int_equal(n, 1);
	k = get_prefix_keys("/d/", GC_ETCD_PREFIX);
	assert_string_equal(k, "/d/xy");
	free(k);
	/* nothing to delete: 0, no error */
	assert_int_equal(gc_etcd_delete(NULL, &n, g_c, "/d/none", 0, &err), 0);
	assert_int_equal(n, 0);
}

/* --------------------------------------------------------------- txn */

static int txn1(const gc_etcd_compare *cmp, int *succeeded)
{
	gc_etcd_op ok_op = {GC_ETCD_OP_RANGE, "/t/k", NULL, 0, 0, 0, NULL,
			    0, 0, 0, 0};
	gc_etcd_txn_request t = {cmp, 1, &ok_op, 1, NULL, 0};
	gc_etcd_txn_result r;
	gc_error err;
	int rc = gc_etcd_txn(&r, g_c, &t, &err);
	if (rc)
		fail_msg("txn: %s", err.msg);
	*succeeded = r.succeeded;
	assert_int_equal(r.responses_count, r.succeeded ? 1 : 0);
	gc_etcd_txn_result_clear(&r);
	return rc;
}

static void txn_compares_every_target_and_result(void **state)
{
	gc_etcd_response r;
	gc_etcd_compare c;
	gc_error err;
	int64_t lease, create, mod;
	int s;
	(void)state;
	assert_int_equal(gc_etcd_lease_grant(&lease, NULL, g_c, 60, 0, &err),
			 0);
	put_s("/t/k", "v1");
	assert_int_equal(gc_etcd_put(NULL, g_c, "/t/k", "v2", 2, lease, 0,
				     &err),
			 0);
	assert_int_equal(gc_etcd_get(&r, g_c, "/t/k", NULL, &err), 0);
	create = r.kvs[0].create_revision;
	mod = r.kvs[0].mod_revision;
	gc_etcd_response_clear(&r);

	memset(&c, 0, sizeof(c));
	c.key = "/t/k";
	c.target = GC_ETCD_CMP_VERSION;
	c.result = GC_ETCD_CMP_EQUAL;
	c.number = 2;
	txn1(&c, &s);
	assert_true(s);
	c.result = GC_ETCD_CMP_GREATER;
	c.number = 1;
	txn1(&c, &s);
	assert_true(s);
	c.result = GC_ETCD_CMP_LESS;
	txn1(&c, &s);
	assert_false(s);
	c.result = GC_ETCD_CMP_NOT_EQUAL;
	c.number = 2;
	txn1(&c, &s);
	assert_false(s);

	c.target = GC_ETCD_CMP_CREATE;
	c.result = GC_ETCD_CMP_EQUAL;
	c.number = create;
	txn1(&c, &s);
	assert_true(s);
	c.target = GC_ETCD_CMP_MOD;
	c.number = mod;
	txn1(&c, &s);
	assert_true(s);
	c.result = GC_ETCD_CMP_LESS;
	txn1(&c, &s);
	assert_false(s);

	c.target = GC_ETCD_CMP_VALUE;
	c.result = GC_ETCD_CMP_EQUAL;
	c.value = "v2";
	c.value_len = 2;
	txn1(&c, &s);
	assert_true(s);
	c.value = "v1";
	txn1(&c, &s);
	assert_false(s);

	/* the lease ID is far above 2^53: compared exactly */
	assert_true(lease > (INT64_C(1) << 53));
	c.target = GC_ETCD_CMP_LEASE;
	c.value = NULL;
	c.value_len = 0;
	c.number = lease;
	txn1(&c, &s);
	assert_true(s);
	c.number = lease + 1;
	txn1(&c, &s);
	assert_false(s);
	assert_int_equal(gc_etcd_lease_revoke(g_c, lease, &err), 0);
}

static void txn_runs_the_branch_and_returns_each_response(void **state)
{
	gc_etcd_compare c = {"/tb/flag", GC_ETCD_CMP_VALUE, GC_ETCD_CMP_EQUAL,
			     0, "on", 2};
	gc_etcd_op succ[3], fail[2];
	gc_etcd_txn_request t = {&c, 1, succ, 3, fail, 2};
	gc_etcd_txn_result r;
	gc_error err;
	(void)state;
	memset(succ, 0, sizeof(succ));
	memset(fail, 0, sizeof(fail));
	put_s("/tb/a", "A");
	put_s("/tb/b", "B");
	succ[0].type = GC_ETCD_OP_PUT;
	succ[0].key = "/tb/c";
	succ[0].value = "C";
	succ[0].value_len = 1;
	succ[1].type = GC_ETCD_OP_DELETE;
	succ[1].key = "/tb/a";
	succ[1].flags = GC_ETCD_PREV_KV;
	succ[2].type = GC_ETCD_OP_RANGE;
	succ[2].key = "/tb/";
	succ[2].flags = GC_ETCD_PREFIX;
	fail[0].type = GC_ETCD_OP_RANGE;
	fail[0].key = "/tb/";
	fail[0].flags = GC_ETCD_PREFIX | GC_ETCD_COUNT_ONLY;
	fail[1].type = GC_ETCD_OP_PUT;
	fail[1].key = "/tb/flag";
	fail[1].value = "on";
	fail[1].value_len = 2;

	/* flag absent: failure branch (count, then set the flag) */
	assert_int_equal(gc_etcd_txn(&r, g_c, &t, &err), 0);
	assert_false(r.succeeded);
	assert_int_equal(r.responses_count, 2);
	assert_int_equal(r.responses[0].type, GC_ETCD_OP_RANGE);
	assert_int_equal(r.responses[0].count, 2);
	assert_int_equal(r.responses[1].type, GC_ETCD_OP_PUT);
	assert_true(r.revision > 0);
	gc_etcd_txn_result_clear(&r);

	/* flag on: success branch */
	assert_int_equal(gc_etcd_txn(&r, g_c, &t, &err), 0);
	assert_true(r.succeeded);
	assert_int_equal(r.responses_count, 3);
	assert_int_equal(r.responses[0].type, GC_ETCD_OP_PUT);
	assert_int_equal(r.responses[1].type, GC_ETCD_OP_DELETE);
	assert_int_equal(r.responses[1].count, 1);
	assert_int_equal(r.responses[1].kvs_count, 1);
	assert_string_equal(r.responses[1].kvs[0].value, "A");
	assert_int_equal(r.responses[2].type, GC_ETCD_OP_RANGE);
	/* the range sees the txn's own writes */
	assert_string_equal(keys_of(&r.responses[2]), "/tb/b /tb/c /tb/flag");
	gc_etcd_txn_result_clear(&r);

	/* an invalid txn (same key written twice) is etcd's error */
	succ[1].type = GC_ETCD_OP_PUT;
	succ[1].key = "/tb/c";
	assert_int_equal(gc_etcd_txn(&r, g_c, &t, &err), GC_EINVAL);
	assert_non_null(strstr(err.msg, "duplicate key"));
}

/* ------------------------------------------------------------- claim */

static void claim_once_wins_then_reports_the_holder(void **state)
{
	gc_etcd_claim cl = {GC_ETCD_CLAIM_VERSION, "/cl/lock/1/task/100",
			    "agentA", 6, 0, NULL, 0, NULL, 0};
	gc_etcd_op status = {GC_ETCD_OP_PUT, "/cl/1/task/t_status", "running",
			     7, 0, 0, NULL, 0, 0, 0, 0};
	gc_etcd_claim_result a, b, c2;
	gc_etcd_response r;
	gc_error err;
	int64_t lease;
	(void)state;
	assert_int_equal(gc_etcd_lease_grant(&lease, NULL, g_c, 30, 0, &err),
			 0);
	cl.lease = lease;
	status.lease = lease;
	cl.ops = &status;
	cl.ops_count = 1;
	assert_int_equal(gc_etcd_claim_key(&a, g_c, &cl, &err), 0);
	assert_true(a.create_revision > 0);
	assert_int_equal(a.responses_count, 1);
	assert_int_equal(a.responses[0].type, GC_ETCD_OP_PUT);
	/* both keys written by the same txn, under the lease */
	assert_int_equal(gc_etcd_get(&r, g_c, "/cl/1/task/t_status", NULL,
				     &err),
			 0);
	assert_int_equal(r.kvs_count, 1);
	assert_int_equal(r.kvs[0].mod_revision, a.create_revision);
	assert_true(r.kvs[0].lease == lease);
	gc_etcd_response_clear(&r);
	assert_int_equal(gc_etcd_get(&r, g_c, cl.key, NULL, &err), 0);
	assert_int_equal(r.kvs[0].create_revision, a.create_revision);
	gc_etcd_response_clear(&r);

	/* a rival loses and learns who holds it */
	cl.value = "agentB";
	cl.ops = NULL;
	cl.ops_count = 0;
	assert_int_equal(gc_etcd_claim_key(&b, g_c, &cl, &err), GC_ECONFLICT);
	assert_int_equal(err.code, GC_ECONFLICT);
	assert_true(b.holder_present);
	assert_string_equal(b.holder_value, "agentA");
	assert_int_equal(b.holder_value_len, 6);
	assert_int_equal(b.create_revision, a.create_revision);
	assert_true(b.holder_lease == lease);
	assert_int_equal(b.responses_count, 0);
	gc_etcd_claim_result_clear(&b);

	/* the next tick's claim gets a larger fencing token */
	cl.key = "/cl/lock/1/task/101";
	assert_int_equal(gc_etcd_claim_key(&c2, g_c, &cl, &err), 0);
	assert_true(c2.create_revision > a.create_revision);
	gc_etcd_claim_result_clear(&c2);
	gc_etcd_claim_result_clear(&a);

	/* an extra condition failing while the key is free */
	{
		gc_etcd_compare busy = {"/cl/1/task/t_status",
					GC_ETCD_CMP_VALUE,
					GC_ETCD_CMP_NOT_EQUAL, 0, "running",
					7};
		cl.key = "/cl/lock/1/task/102";
		cl.compare = &busy;
		cl.compare_count = 1;
		assert_int_equal(gc_etcd_claim_key(&b, g_c, &cl, &err),
				 GC_ECONFLICT);
		assert_false(b.holder_present);
		gc_etcd_claim_result_clear(&b);
	}
	/* revoking the lease releases the claim and the status */
	assert_int_equal(gc_etcd_lease_revoke(g_c, lease, &err), 0);
	assert_int_equal(gc_etcd_get(&r, g_c, "/cl/1/task/t_status", NULL,
				     &err),
			 0);
	assert_int_equal(r.kvs_count, 0);
	gc_etcd_response_clear(&r);
	/* out may be NULL */
	cl.compare = NULL;
	cl.compare_count = 0;
	cl.lease = 0;
	assert_int_equal(gc_etcd_claim_key(NULL, g_c, &cl, &err), 0);
	assert_int_equal(gc_etcd_claim_key(NULL, g_c, &cl, &err), GC_ECONFLICT);
}

/* ------------------------------------------------------------ leases */

static void lease_ids_round_trip_as_int64(void **state)
{
	const int64_t big = INT64_C(0x7edcba9876543211); /* > 2^53, odd */
	gc_etcd_lease_info info;
	gc_etcd_response r;
	gc_error err;
	int64_t id, ttl;
	(void)state;
	assert_int_equal(gc_etcd_lease_grant(&id, &ttl, g_c, 40, big, &err),
			 0);
	assert_true(id == big);
	assert_int_equal(ttl, 40);
	/* the same ID again: etcd refuses */
	assert_int_equal(gc_etcd_lease_grant(&id, &ttl, g_c, 40, big, &err),
			 GC_ECONFLICT);
	assert_non_null(strstr(err.msg, "lease already exists"));
	assert_int_equal(gc_etcd_put(NULL, g_c, "/l/held", "x", 1, big, 0,
				     &err),
			 0);
	assert_int_equal(gc_etcd_get(&r, g_c, "/l/held", NULL, &err), 0);
	assert_true(r.kvs[0].lease == big);
	gc_etcd_response_clear(&r);

	assert_int_equal(gc_etcd_lease_timetolive(&info, g_c, big, 1, &err),
			 0);
	assert_true(info.id == big);
	assert_int_equal(info.granted_ttl, 40);
	assert_true(info.ttl > 0 && info.ttl <= 40);
	assert_int_equal(info.keys_count, 1);
	assert_string_equal(info.keys[0], "/l/held");
	gc_etcd_lease_info_clear(&info);

	assert_int_equal(gc_etcd_lease_keepalive_once(&ttl, g_c, big, &err),
			 0);
	assert_int_equal(ttl, 40);

	assert_int_equal(gc_etcd_lease_revoke(g_c, big, &err), 0);
	assert_int_equal(gc_etcd_get(&r, g_c, "/l/held", NULL, &err), 0);
	assert_int_equal(r.kvs_count, 0); /* deleted with its lease */
	gc_etcd_response_clear(&r);
	assert_int_equal(gc_etcd_lease_revoke(g_c, big, &err), GC_ENOTFOUND);
	assert_int_equal(gc_etcd_lease_timetolive(&info, g_c, big, 0, &err),
			 GC_ENOTFOUND);
	assert_int_equal(gc_etcd_lease_keepalive_once(&ttl, g_c, big, &err),
			 GC_ENOTFOUND);
}

typedef struct lost_rec {
	pthread_mutex_t mu;
	int count;
	int64_t lease;
	int code;
	char reason[256];
} lost_rec;

static void on_lost(int64_t lease, int code, const char *reason, void *p)
{
	lost_rec *l = p;
	pthread_mutex_lock(&l->mu);
	l->count++;
	l->lease = lease;
	l->code = code;
	snprintf(l->reason, sizeof(l->reason), "%s", reason);
	pthread_mutex_unlock(&l->mu);
}

static int lost_count(lost_rec *l)
{
	int n;
	pthread_mutex_lock(&l->mu);
	n = l->count;
	pthread_mutex_unlock(&l->mu);
	return n;
}

static void keeper_keeps_a_lease_alive_then_reports_its_revocation(
	void **state)
{
	gc_etcd_keeper_options ko = GC_ETCD_KEEPER_OPTIONS_INIT;
	lost_rec lost = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, ""};
	gc_etcd_lease_keeper *k;
	gc_etcd_response r;
	gc_error err;
	int64_t lease, t0;
	(void)state;
	ko.own_thread = 1;
	ko.on_lost = on_lost;
	ko.payload = &lost;
	assert_int_equal(gc_etcd_lease_keeper_new(&k, g_c, &ko, &err), 0);
	assert_int_equal(gc_etcd_lease_grant(&lease, NULL, g_c, 3, 0, &err),
			 0);
	assert_int_equal(gc_etcd_put(NULL, g_c, "/keep/k", "alive", 5, lease,
				     0, &err),
			 0);
	assert_int_equal(gc_etcd_lease_keeper_add(k, lease, 3, &err), 0);
	assert_int_equal(gc_etcd_lease_keeper_count(k), 1);
	/* more than 3 TTLs later the key is still there */
	gct_sleep_ms(10000);
	if (lost_count(&lost))
		fail_msg("lease reported lost: %s", lost.reason);
	assert_int_equal(gc_etcd_get(&r, g_c, "/keep/k", NULL, &err), 0);
	assert_int_equal(r.kvs_count, 1);
	gc_etcd_response_clear(&r);

	/* revoked behind the keeper's back: reported (generous bound: the
	 * next keep-alive is due within TTL/3) */
	assert_int_equal(gc_etcd_lease_revoke(g_c, lease, &err), 0);
	t0 = gc__mono_ms();
	while (lost_count(&lost) == 0 && gc__mono_ms() - t0 < 10000)
		gct_sleep_ms(20);
	assert_int_equal(lost_count(&lost), 1);
	assert_true(lost.lease == lease);
	assert_int_equal(lost.code, GC_ENOTFOUND);
	assert_int_equal(gc_etcd_lease_keeper_count(k), 0);
	gc_etcd_lease_keeper_free(k);
}

static void keeper_driven_by_the_caller_reports_an_unreachable_cluster(
	void **state)
{
	gc_etcd_keeper_options ko = GC_ETCD_KEEPER_OPTIONS_INIT;
	lost_rec lost = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, ""};
	gc_etcd_options o = GC_ETCD_OPTIONS_INIT;
	gc_etcd_lease_keeper *k;
	gc_etcd *dead;
	char ep[64];
	gc_error err;
	int64_t t0;
	(void)state;
	snprintf(ep, sizeof(ep), "127.0.0.1:%d", gct_free_port());
	o.request_timeout_ms = 500;
	dead = etu_client_opts(ep, &o);
	assert_non_null(dead);
	ko.on_lost = on_lost;
	ko.payload = &lost;
	ko.margin_ms = 1000; /* lost at 2 s: 1 s of slack below */
	assert_int_equal(gc_etcd_lease_keeper_new(&k, dead, &ko, &err), 0);
	assert_int_equal(gc_etcd_lease_keeper_timeout_ms(k), -1);
	assert_int_equal(gc_etcd_lease_keeper_add(k, 4242, 3, &err), 0);
	assert_true(gc_etcd_lease_keeper_timeout_ms(k) > 0);
	assert_true(gc_etcd_lease_keeper_timeout_ms(k) <= 1000);
	t0 = gc__mono_ms();
	while (lost_count(&lost) == 0 && gc__mono_ms() - t0 < 10000) {
		int to = gc_etcd_lease_keeper_timeout_ms(k);
		gct_sleep_ms(to > 0 ? to : 1);
		gc_etcd_lease_keeper_step(k, NULL);
	}
	assert_int_equal(lost_count(&lost), 1);
	assert_int_equal(lost.code, GC_EUNAVAIL);
	/* reported before the TTL ran out (TTL 3 s minus the margin) */
	assert_true(gc__mono_ms() - t0 < 3000);
	assert_int_equal(gc_etcd_lease_keeper_remove(k, 4242), GC_ENOTFOUND);
	gc_etcd_lease_keeper_free(k);
	gc_etcd_free(dead);
}

/* ------------------------------------------------------------ watches */

typedef struct wrec {
	int events, puts, deletes, batches, progress, created, compacted;
	int errors, err_code, disorder;
	int64_t compact_rev, last_rev;
	char log[4096];
	size_t loglen;
	int with_prev;
} wrec;

static void on_events(gc_etcd_watch *w, const gc_etcd_event *ev, size_t n,
		      int64_t rev, void *p)
{
	wrec *r = p;
	size_t i;
	(void)w;
	(void)rev;
	r->batches++;
	for (i = 0; i < n; i++) {
		r->events++;
		if (ev[i].type == GC_ETCD_EVENT_PUT)
			r->puts++;
		else
			r->deletes++;
		if (ev[i].has_prev_kv)
			r->with_prev++;
		if (ev[i].kv.mod_revision < r->last_rev)
			r->disorder++;
		r->last_rev = ev[i].kv.mod_revision;
		if (r->loglen >= sizeof(r->log) - 1)
			continue; /* log full: counting only */
		r->loglen += (size_t)snprintf(
			r->log + r->loglen, sizeof(r->log) - r->loglen,
			"%s%s %s=%s", r->loglen ? " " : "",
			ev[i].type == GC_ETCD_EVENT_PUT ? "PUT" : "DEL",
			ev[i].kv.key,
			ev[i].has_prev_kv ? ev[i].prev_kv.value : "-");
	}
}

static void on_compacted(gc_etcd_watch *w, int64_t rev, void *p)
{
	wrec *r = p;
	(void)w;
	r->compacted++;
	r->compact_rev = rev;
}

static void on_error(gc_etcd_watch *w, int code, const char *msg, void *p)
{
	wrec *r = p;
	(void)w;
	(void)msg;
	r->errors++;
	r->err_code = code;
}

static void on_progress(gc_etcd_watch *w, int64_t rev, int created, void *p)
{
	wrec *r = p;
	(void)w;
	(void)rev;
	if (created)
		r->created++;
	else
		r->progress++;
}

static gc_etcd_watch_options wopts(wrec *r, unsigned flags)
{
	gc_etcd_watch_options o = GC_ETCD_WATCH_OPTIONS_INIT;
	o.flags = flags;
	o.on_events = on_events;
	o.on_compacted = on_compacted;
	o.on_error = on_error;
	o.on_progress = on_progress;
	o.payload = r;
	return o;
}

/* Poll until *counter >= want or the deadline (generous: load). */
static int poll_until(gc_etcd_watcher *w, const int *counter, int want,
		      int timeout_ms)
{
	int64_t t0 = gc__mono_ms();
	while (*counter < want && gc__mono_ms() - t0 < timeout_ms)
		if (gc_etcd_watcher_poll(w, 50, NULL))
			return -1;
	return *counter >= want ? 0 : -1;
}

static void watch_delivers_puts_deletes_prev_kv_and_txn_batches(void **state)
{
	gc_etcd_watcher *w;
	gc_etcd_watch *wa;
	wrec r;
	gc_etcd_watch_options o;
	gc_etcd_op ops[2];
	gc_etcd_txn_request t = {NULL, 0, ops, 2, NULL, 0};
	gc_etcd_txn_result tr;
	gc_error err;
	(void)state;
	memset(&r, 0, sizeof(r));
	memset(ops, 0, sizeof(ops));
	o = wopts(&r, GC_ETCD_PREFIX | GC_ETCD_PREV_KV);
	assert_int_equal(gc_etcd_watcher_new(&w, g_c, &err), 0);
	assert_int_equal(gc_etcd_watch_add(&wa, w, "/w1/", &o, &err), 0);
	assert_int_equal(poll_until(w, &r.created, 1, 10000), 0);
	assert_true(gc_etcd_watch_next_revision(wa) > 0);

	put_s("/w1/a", "1");
	put_s("/w1/a", "2");
	put_s("/w1x", "not in the directory");
	assert_int_equal(gc_etcd_delete(NULL, NULL, g_c, "/w1/a", 0, &err), 0);
	ops[0].type = ops[1].type = GC_ETCD_OP_PUT;
	ops[0].key = "/w1/t1";
	ops[1].key = "/w1/t2";
	ops[0].value = ops[1].value = "t";
	ops[0].value_len = ops[1].value_len = 1;
	assert_int_equal(gc_etcd_txn(&tr, g_c, &t, &err), 0);
	assert_int_equal(poll_until(w, &r.events, 5, 10000), 0);
	assert_string_equal(r.log, "PUT /w1/a=- PUT /w1/a=1 DEL /w1/a=2 "
				   "PUT /w1/t1=- PUT /w1/t2=-");
	assert_int_equal(r.puts, 4);
	assert_int_equal(r.deletes, 1);
	assert_int_equal(r.batches, 4); /* the txn's two events together */
	assert_int_equal(r.last_rev, tr.revision);
	assert_true(gc_etcd_watch_next_revision(wa) == tr.revision + 1);
	gc_etcd_txn_result_clear(&tr);
	assert_int_equal(r.errors, 0);
	assert_true(gc_etcd_watch_active(wa));
	assert_ptr_equal(gc_etcd_watch_payload(wa), &r);
	gc_etcd_watch_cancel(wa);
	assert_int_equal(gc_etcd_watcher_count(w), 0);
	gc_etcd_watcher_free(w);
}

static void many_watches_share_one_watcher_and_filters_apply(void **state)
{
	enum { N = 20 };
	gc_etcd_watcher *w;
	gc_etcd_watch *wa[N], *nodel;
	wrec r[N], rn;
	gc_etcd_watch_options o;
	gc_error err;
	int i, created = 0, total;
	(void)state;
	assert_int_equal(gc_etcd_watcher_new(&w, g_c, &err), 0);
	memset(r, 0, sizeof(r));
	memset(&rn, 0, sizeof(rn));
	for (i = 0; i < N; i++) {
		char k[32];
		snprintf(k, sizeof(k), "/mw/%02d/", i);
		o = wopts(&r[i], GC_ETCD_PREFIX);
		assert_int_equal(gc_etcd_watch_add(&wa[i], w, k, &o, &err), 0);
	}
	o = wopts(&rn, GC_ETCD_PREFIX | GC_ETCD_NO_DELETE);
	assert_int_equal(gc_etcd_watch_add(&nodel, w, "/mw/", &o, &err), 0);
	assert_int_equal(gc_etcd_watcher_count(w), N + 1);
	for (int64_t t0 = gc__mono_ms();
	     created < N + 1 && gc__mono_ms() - t0 < 15000;) {
		gc_etcd_watcher_poll(w, 50, NULL);
		created = rn.created;
		for (i = 0; i < N; i++)
			created += r[i].created;
	}
	assert_int_equal(created, N + 1);
	for (i = 0; i < N; i++) {
		char k[32];
		snprintf(k, sizeof(k), "/mw/%02d/x", i);
		put_s(k, "v");
		assert_int_equal(gc_etcd_delete(NULL, NULL, g_c, k, 0, &err),
				 0);
	}
	assert_int_equal(poll_until(w, &rn.events, N, 10000), 0);
	for (int64_t t0 = gc__mono_ms(); gc__mono_ms() - t0 < 10000;) {
		total = 0;
		for (i = 0; i < N; i++)
			total += r[i].events;
		if (total == 2 * N)
			break;
		gc_etcd_watcher_poll(w, 50, NULL);
	}
	for (i = 0; i < N; i++) {
		assert_int_equal(r[i].puts, 1);
		assert_int_equal(r[i].deletes, 1);
	}
	assert_int_equal(rn.deletes, 0); /* filtered out by etcd */
	assert_int_equal(rn.puts, N);
	/* cancel half; the rest keep running */
	for (i = 0; i < N; i += 2)
		gc_etcd_watch_cancel(wa[i]);
	assert_int_equal(gc_etcd_watcher_count(w), N / 2 + 1);
	for (i = 0; i < N; i++) {
		char k[32];
		snprintf(k, sizeof(k), "/mw/%02d/y", i);
		put_s(k, "v");
	}
	assert_int_equal(poll_until(w, &r[N - 1].events, 3, 10000), 0);
	gc_etcd_watcher_poll(w, 100, NULL);
	for (i = 0; i < N; i++)
		assert_int_equal(r[i].events, i % 2 ? 3 : 2);
	gc_etcd_watcher_free(w); /* frees the remaining watches */
}

/* Event-loop driving: poll(2) on the watcher's fd with its timeout. */
static void watch_runs_from_a_host_event_loop(void **state)
{
	gc_etcd_watcher *w;
	gc_etcd_watch *wa;
	wrec r;
	gc_etcd_watch_options o;
	gc_error err;
	int64_t t0;
	(void)state;
	memset(&r, 0, sizeof(r));
	o = wopts(&r, 0);
	assert_int_equal(gc_etcd_watcher_new(&w, g_c, &err), 0);
	assert_true(gc_etcd_watcher_fd(w) >= 0);
	assert_int_equal(gc_etcd_watcher_timeout_ms(w), -1);
	assert_int_equal(gc_etcd_watch_add(&wa, w, "/loop/key", &o, &err), 0);
	assert_int_equal(gc_etcd_watcher_timeout_ms(w), 0); /* connect now */
	t0 = gc__mono_ms();
	while (r.events < 1 && gc__mono_ms() - t0 < 10000) {
		struct pollfd p = {gc_etcd_watcher_fd(w), POLLIN, 0};
		int to = gc_etcd_watcher_timeout_ms(w);
		poll(&p, 1, to < 0 || to > 100 ? 100 : to);
		assert_int_equal(gc_etcd_watcher_poll(w, 0, &err), 0);
		if (r.created == 1 && r.loglen == 0 && r.puts == 0) {
			put_s("/loop/key", "v");
			r.loglen = 1; /* written once */
		}
	}
	assert_int_equal(r.events, 1);
	/* wakeup makes a blocking poll return at once */
	gc_etcd_watcher_wakeup(w);
	t0 = gc__mono_ms();
	assert_int_equal(gc_etcd_watcher_poll(w, 5000, &err), 0);
	assert_true(gc__mono_ms() - t0 < 2500);
	gc_etcd_watcher_free(w);
}

static void watch_from_a_start_revision_replays_history(void **state)
{
	gc_etcd_watcher *w;
	gc_etcd_watch *wa;
	gc_etcd_response pr;
	wrec r;
	gc_etcd_watch_options o;
	gc_error err;
	(void)state;
	memset(&r, 0, sizeof(r));
	assert_int_equal(gc_etcd_put(&pr, g_c, "/hist/a", "1", 1, 0, 0, &err),
			 0);
	put_s("/hist/b", "2");
	put_s("/hist/c", "3");
	o = wopts(&r, GC_ETCD_PREFIX);
	o.start_revision = pr.revision + 1; /* skip the first */
	assert_int_equal(gc_etcd_watcher_new(&w, g_c, &err), 0);
	assert_int_equal(gc_etcd_watch_add(&wa, w, "/hist/", &o, &err), 0);
	assert_int_equal(poll_until(w, &r.events, 2, 10000), 0);
	gc_etcd_watcher_poll(w, 200, NULL);
	assert_string_equal(r.log, "PUT /hist/b=- PUT /hist/c=-");
	gc_etcd_watcher_free(w);
	gc_etcd_response_clear(&pr);
}

static void a_long_replay_arrives_complete_and_in_order(void **state)
{
	enum { TXNS = 30, PER = 100 };
	gc_etcd_op ops[PER];
	char keys[PER][32];
	gc_etcd_txn_request t = {NULL, 0, ops, PER, NULL, 0};
	gc_etcd_txn_result tr;
	gc_etcd_watcher *w;
	gc_etcd_watch *wa;
	gc_etcd_watch_options o;
	gc_etcd_response first;
	wrec r;
	gc_error err;
	char value[200];
	int i, j;
	int64_t last_rev = 0;
	(void)state;
	memset(&r, 0, sizeof(r));
	memset(ops, 0, sizeof(ops));
	memset(value, 'v', sizeof(value));
	assert_int_equal(gc_etcd_put(&first, g_c, "/replay/start", "s", 1, 0, 0,
				     &err),
			 0);
	for (i = 0; i < TXNS; i++) {
		for (j = 0; j < PER; j++) {
			snprintf(keys[j], sizeof(keys[j]), "/replay/%02d/%03d",
				 i, j);
			ops[j].type = GC_ETCD_OP_PUT;
			ops[j].key = keys[j];
			ops[j].value = value;
			ops[j].value_len = sizeof(value);
		}
		assert_int_equal(gc_etcd_txn(&tr, g_c, &t, &err), 0);
		last_rev = tr.revision;
		gc_etcd_txn_result_clear(&tr);
	}
	/* all history at once: etcd sends it as one ~700 KB message */
	o = wopts(&r, GC_ETCD_PREFIX);
	o.start_revision = first.revision;
	gc_etcd_response_clear(&first);
	assert_int_equal(gc_etcd_watcher_new(&w, g_c, &err), 0);
	assert_int_equal(gc_etcd_watch_add(&wa, w, "/replay/", &o, &err), 0);
	assert_int_equal(poll_until(w, &r.events, TXNS * PER + 1, 20000), 0);
	assert_int_equal(r.events, TXNS * PER + 1);
	assert_int_equal(r.disorder, 0);
	assert_int_equal(r.last_rev, last_rev);
	assert_true(gc_etcd_watch_next_revision(wa) == last_rev + 1);

	/* then a burst of small messages read together */
	for (i = 0; i < 300; i++) {
		char k[32];
		snprintf(k, sizeof(k), "/replay/burst/%03d", i);
		put_s(k, "b");
	}
	assert_int_equal(poll_until(w, &r.events, TXNS * PER + 301, 20000), 0);
	gc_etcd_watcher_poll(w, 100, NULL);
	assert_int_equal(r.events, TXNS * PER + 301);
	assert_int_equal(r.disorder, 0);
	assert_int_equal(r.errors, 0);
	gc_etcd_watcher_free(w);
}

static void compaction_past_the_watch_is_reported_and_relist_recovers(
	void **state)
{
	gc_etcd_watcher *w;
	gc_etcd_watch *wa;
	gc_etcd_response pr, list;
	gc_etcd_get_options go = GC_ETCD_GET_OPTIONS_INIT;
	wrec r;
	gc_etcd_watch_options o;
	gc_error err;
	int64_t start;
	(void)state;
	memset(&r, 0, sizeof(r));
	assert_int_equal(gc_etcd_put(&pr, g_c, "/cmp/a", "1", 1, 0, 0, &err),
			 0);
	start = pr.revision;
	gc_etcd_response_clear(&pr);
	put_s("/cmp/b", "2");
	assert_int_equal(gc_etcd_put(&pr, g_c, "/cmp/c", "3", 1, 0, 0, &err),
			 0);
	assert_int_equal(gc_etcd_compact(g_c, pr.revision, 1, &err), 0);
	gc_etcd_response_clear(&pr);
	/* a read at the compacted revision says so */
	go.revision = start;
	assert_int_equal(gc_etcd_get(&list, g_c, "/cmp/a", &go, &err),
			 GC_ECOMPACTED);

	o = wopts(&r, GC_ETCD_PREFIX);
	o.start_revision = start;
	assert_int_equal(gc_etcd_watcher_new(&w, g_c, &err), 0);
	assert_int_equal(gc_etcd_watch_add(&wa, w, "/cmp/", &o, &err), 0);
	assert_int_equal(poll_until(w, &r.compacted, 1, 10000), 0);
	assert_true(r.compact_rev > start);
	assert_false(gc_etcd_watch_active(wa));
	assert_int_equal(r.events, 0);

	/* re-list, then resume from the listed revision + 1 */
	memset(&go, 0, sizeof(go));
	go.version = GC_ETCD_GET_OPTIONS_VERSION;
	go.flags = GC_ETCD_PREFIX;
	assert_int_equal(gc_etcd_get(&list, g_c, "/cmp/", &go, &err), 0);
	assert_int_equal(list.kvs_count, 3);
	assert_int_equal(gc_etcd_watch_resume(wa, list.revision + 1, &err), 0);
	assert_true(gc_etcd_watch_active(wa));
	put_s("/cmp/d", "4");
	assert_int_equal(poll_until(w, &r.events, 1, 10000), 0);
	assert_string_equal(r.log, "PUT /cmp/d=-");
	assert_int_equal(r.compacted, 1);
	gc_etcd_response_clear(&list);
	gc_etcd_watcher_free(w);
}

static void on_events_cancel_self(gc_etcd_watch *w, const gc_etcd_event *ev,
				  size_t n, int64_t rev, void *p)
{
	on_events(w, ev, n, rev, p);
	gc_etcd_watch_cancel(w);
}

static void cancel_from_inside_a_callback_stops_delivery(void **state)
{
	gc_etcd_watcher *w;
	gc_etcd_watch *wa;
	wrec r;
	gc_etcd_watch_options o;
	gc_error err;
	(void)state;
	memset(&r, 0, sizeof(r));
	o = wopts(&r, GC_ETCD_PREFIX);
	o.on_events = on_events_cancel_self;
	assert_int_equal(gc_etcd_watcher_new(&w, g_c, &err), 0);
	assert_int_equal(gc_etcd_watch_add(&wa, w, "/cb/", &o, &err), 0);
	assert_int_equal(poll_until(w, &r.created, 1, 10000), 0);
	/* both messages are on the wire before the next poll */
	put_s("/cb/1", "x");
	put_s("/cb/2", "x");
	assert_int_equal(poll_until(w, &r.events, 1, 10000), 0);
	assert_int_equal(gc_etcd_watcher_count(w), 0);
	put_s("/cb/3", "x");
	gc_etcd_watcher_poll(w, 300, NULL);
	gc_etcd_watcher_poll(w, 100, NULL);
	assert_int_equal(r.events, 1); /* nothing after the cancel */
	gc_etcd_watcher_free(w);
}

/* -------------------------------------------------------- clock probe */

static int cmp_int64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* The member runs on this machine, so its clock is ours: every sample must
 * put offset 0 inside its interval. */
static void clock_probe_brackets_the_members_second(void **state)
{
	gc_etcd *c = etu_client(gct_etcd_endpoints(g_etcd));
	gc_etcd_clock_sample s;
	gc_error err;
	int64_t t0, first = 0, rtt[1000];
	int n = 0, boundaries = 0;
	(void)state;
	assert_int_equal(gc_etcd_clock_probe(&s, c, &err), 0);
	assert_true(s.connected); /* a new client connects first */
	assert_true(etu_sample_brackets(&s, 0));
	assert_string_equal(s.endpoint, gct_etcd_endpoint(g_etcd, 0));
	assert_int_equal(s.endpoint_index, 0);
	/* back to back for a little over a second: at least one of the
	 * member's second boundaries passes, every probe reuses the
	 * connection and brackets the member's clock */
	first = s.server_s;
	for (t0 = gc__mono_ms(); gc__mono_ms() - t0 < 1200 && n < 1000; n++) {
		int64_t prev = s.server_s;
		if (gc_etcd_clock_probe(&s, c, &err))
			fail_msg("probe %d: %s", n, err.msg);
		if (s.connected)
			fail_msg("probe %d opened a new connection", n);
		if (!etu_sample_brackets(&s, 0))
			fail_msg("probe %d does not bracket the clock", n);
		rtt[n] = s.received_mono_ns - s.sent_mono_ns;
		boundaries += s.server_s != prev;
		/* a gap between probes must not let a second slip by */
		gct_sleep_ms(2);
	}
	assert_true(boundaries >= 1 && s.server_s > first);
	qsort(rtt, (size_t)n, sizeof(rtt[0]), cmp_int64);
	print_message("clock probe: %d probes on one connection, round trip "
		      "median %.3f ms, max %.3f ms\n",
		      n, rtt[n / 2] / 1e6, rtt[n - 1] / 1e6);
	/* unary calls on the same connection still work (POST again) */
	put_s("/clock/after-probe", "1");
	assert_int_equal(gc_etcd_clock_probe(NULL, c, &err), GC_EINVAL);
	assert_int_equal(gc_etcd_clock_probe(&s, NULL, &err), GC_EINVAL);
	gc_etcd_free(c);
}

/* Child mode (GC_TEST_PROBE_CHILD=endpoint): one probe, printed as
 * "sent received server_s". Run under libfaketime by the test below. */
static int probe_child(const char *endpoint)
{
	gc_etcd *c = etu_client(endpoint);
	gc_etcd_clock_sample s;
	gc_error err;
	if (!c || gc_etcd_clock_probe(&s, c, &err) ||
	    gc_etcd_clock_probe(&s, c, &err)) {
		fprintf(stderr, "probe: %s\n", c ? err.msg : "no client");
		return 1;
	}
	printf("%lld %lld %lld\n", (long long)s.sent_ns,
	       (long long)s.received_ns, (long long)s.server_s);
	gc_etcd_free(c);
	return 0;
}

/* Child mode (GC_TEST_SYNC_CHILD=endpoint): the agent's estimator driven
 * by real probes for 5 s, printed as "offset_ns error_ns probes". */
static int sync_child(const char *endpoint)
{
	gc_etcd *c = etu_client(endpoint);
	gc__clocksync cs;
	gc__clock_estimate e;
	gc_etcd_clock_sample s;
	gc_error err;
	int64_t t_end = gc__mono_ns() + 5000000000LL;
	int probes = 0;
	gc__clocksync_init(&cs, NULL);
	for (;;) {
		int64_t next = gc__clocksync_next_probe(&cs, gc__mono_ns());
		struct timespec ts = {(time_t)(next / 1000000000LL),
				      (long)(next % 1000000000LL)};
		if (next > t_end)
			break;
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		if (gc_etcd_clock_probe(&s, c, &err)) {
			fprintf(stderr, "probe: %s\n", err.msg);
			return 1;
		}
		gc__clocksync_add(&cs, &s);
		probes++;
	}
	gc__clocksync_estimate(&cs, gc__mono_ns(), gc__wall_ns(), &e);
	printf("%lld %lld %d\n", (long long)e.offset_ns, (long long)e.error_ns,
	       probes);
	gc_etcd_free(c);
	return 0;
}

#define FAKETIME_LIB "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"

/* Run this binary as a child under libfaketime (FAKETIME=fake, monotonic
 * clock faked too) in mode `mode` (GC_TEST_PROBE_CHILD...); its first line
 * of output into `line`. */
static void faketime_child(const char *fake, const char *mode, char *line,
			   size_t size)
{
	char self[512], cmd[1200];
	ssize_t l = readlink("/proc/self/exe", self, sizeof(self) - 1);
	FILE *f;
	assert_true(l > 0);
	self[l] = '\0';
	/* (an ASan build accepts the preload only after the runtime) */
	snprintf(cmd, sizeof(cmd),
		 "ASAN_OPTIONS=verify_asan_link_order=0 LD_PRELOAD=%s "
		 "FAKETIME='%s' %s='%s' '%s'",
		 FAKETIME_LIB, fake, mode, gct_etcd_endpoint(g_etcd, 0), self);
	assert_non_null(f = popen(cmd, "re"));
	if (!fgets(line, (int)size, f))
		line[0] = '\0';
	assert_int_equal(pclose(f), 0);
}

/* A process whose clock is off by `fake` ("+3s") probes the member: its
 * sample must bracket the true offset (the opposite of the fake). */
static void probe_under_faketime(const char *fake, int64_t want_offset_ns)
{
	char line[256];
	gc_etcd_clock_sample s;
	long long sent, recv, server;
	faketime_child(fake, "GC_TEST_PROBE_CHILD", line, sizeof(line));
	assert_int_equal(sscanf(line, "%lld %lld %lld", &sent, &recv, &server),
			 3);
	memset(&s, 0, sizeof(s));
	s.sent_ns = sent;
	s.received_ns = recv;
	s.server_s = server;
	print_message("clock %s: offset in [%.3f, %.3f] s\n", fake,
		      (server * 1e9 - (double)recv) / 1e9,
		      ((server + 1) * 1e9 - (double)sent) / 1e9);
	assert_true(etu_sample_brackets(&s, want_offset_ns));
	/* a sample spans a second plus the round trip: one of a process
	 * more than that off does not bracket a clock that is right */
	if (want_offset_ns > 1100000000LL || want_offset_ns < -1100000000LL)
		assert_false(server * 1000000000LL - recv <= 0 &&
			     (server + 1) * 1000000000LL - sent >= 0);
}

static void clock_probe_of_a_skewed_process_brackets_its_offset(void **state)
{
	(void)state;
	if (access(FAKETIME_LIB, R_OK) != 0)
		fail_msg("%s missing (apt-get install faketime)", FAKETIME_LIB);
	probe_under_faketime("+3s", -3000000000LL);
	probe_under_faketime("-2s", 2000000000LL);
	probe_under_faketime("+0.4s", -400000000LL);
}

/* End to end: the estimator fed by real probes from a process 3 s ahead
 * finds -3 s to within a few ms in 5 s, its bound holding the truth. */
static void estimator_finds_a_skewed_processs_offset_in_seconds(
	void **state)
{
	static const struct {
		const char *fake;
		int64_t offset_ns;
	} cases[] = {{"+3s", -3000000000LL}, {"-0.25s", 250000000LL}};
	(void)state;
	for (size_t i = 0; i < 2; i++) {
		char line[256];
		long long off, error;
		int probes;
		faketime_child(cases[i].fake, "GC_TEST_SYNC_CHILD", line,
			       sizeof(line));
		assert_int_equal(
			sscanf(line, "%lld %lld %d", &off, &error, &probes), 3);
		print_message("clock %s: offset %+.3f ms +- %.3f ms after %d "
			      "probes in 5 s\n",
			      cases[i].fake, off / 1e6, error / 1e6, probes);
		assert_true(llabs(off - cases[i].offset_ns) <= error);
		/* about the loopback round trip; 20 ms is what the agent's
		 * start times may lose at most, even on a loaded machine */
		assert_true(error <= 20000000);
	}
}

static void clock_probe_fails_clearly_and_moves_off_a_dead_member(void **state)
{
	char eps[256];
	gc_etcd *c;
	gc_etcd_clock_sample s;
	gc_error err;
	int port = gct_free_port();
	(void)state;
	snprintf(eps, sizeof(eps), "http://127.0.0.1:%d,%s", port,
		 gct_etcd_endpoint(g_etcd, 0));
	c = etu_client(eps);
	assert_int_equal(gc_etcd_clock_probe(&s, c, &err), GC_EUNAVAIL);
	assert_non_null(strstr(err.msg, "/version"));
	assert_non_null(strstr(err.msg, "onnect"));
	/* the next probe asks the next member */
	assert_int_equal(gc_etcd_clock_probe(&s, c, &err), 0);
	assert_int_equal(s.endpoint_index, 1);
	assert_true(etu_sample_brackets(&s, 0));
	gc_etcd_free(c);
}

/* ----------------------------------------------------------- failover */

static void a_dead_endpoint_is_skipped(void **state)
{
	gc_etcd_options o = GC_ETCD_OPTIONS_INIT;
	char eps[256];
	gc_etcd *c;
	gc_etcd_response r;
	gc_error err;
	(void)state;
	/* bare host:port as in the original config, dead one first */
	snprintf(eps, sizeof(eps), "127.0.0.1:%d,%s", gct_free_port(),
		 gct_etcd_endpoint(g_etcd, 0) + strlen("http://"));
	c = etu_client_opts(eps, &o);
	assert_non_null(c);
	assert_int_equal(gc_etcd_get(&r, c, "/kv/bin", NULL, &err), 0);
	assert_int_equal(r.kvs_count, 1);
	gc_etcd_response_clear(&r);
	assert_string_equal(gc_etcd_endpoint(c), gct_etcd_endpoint(g_etcd, 0));
	gc_etcd_free(c);
}

static void all_endpoints_down_fails_within_the_retry_bound(void **state)
{
	gc_etcd_options o = GC_ETCD_OPTIONS_INIT;
	char eps[128];
	gc_etcd *c;
	gc_etcd_response r;
	gc_error err;
	int64_t t0;
	(void)state;
	snprintf(eps, sizeof(eps), "127.0.0.1:%d,127.0.0.1:%d",
		 gct_free_port(), gct_free_port());
	o.retry_timeout_ms = 800;
	c = etu_client_opts(eps, &o);
	t0 = gc__mono_ms();
	assert_int_equal(gc_etcd_get(&r, c, "/x", NULL, &err), GC_EUNAVAIL);
	assert_true(gc__mono_ms() - t0 < 5000);
	assert_non_null(strstr(err.msg, "127.0.0.1:"));
	assert_non_null(strstr(err.msg, "onnect"));
	gc_etcd_free(c);
}

/* What the client logged about an outage. */
typedef struct outage_log {
	pthread_mutex_t mu;
	int unreachable, jargon, retries, back, warnings;
	char first[512];
} outage_log;

static void outage_cb(int level, const char *msg, void *p)
{
	outage_log *l = p;
	pthread_mutex_lock(&l->mu);
	if (level <= GC_LOG_WARNING) {
		l->warnings++;
		if (strstr(msg, "revision"))
			l->jargon++;
	}
	if (level == GC_LOG_WARNING && strstr(msg, "cannot reach etcd at ")) {
		if (!l->unreachable++)
			snprintf(l->first, sizeof(l->first), "%s", msg);
	}
	if (level == GC_LOG_DEBUG && strstr(msg, "resuming at revision"))
		l->retries++;
	if (level == GC_LOG_NOTICE && strstr(msg, "answers again"))
		l->back++;
	pthread_mutex_unlock(&l->mu);
}

/* Without etcd, a watch says "cannot reach etcd at ..." once, in plain
 * words, and keeps retrying quietly (where it resumes is a debug detail);
 * a request's error says the same. When etcd answers again, so it says. */
static void an_unreachable_etcd_is_said_once_in_plain_words(void **state)
{
	gc_etcd_options o = GC_ETCD_OPTIONS_INIT;
	outage_log l;
	gc_etcd_watcher *w;
	gc_etcd_watch *wa, *wb;
	wrec r;
	gc_etcd_watch_options wo;
	gc_etcd_response resp;
	gc_error err;
	char eps[64], want[64];
	int port = gct_free_port();
	(void)state;
	memset(&l, 0, sizeof(l));
	memset(&r, 0, sizeof(r));
	pthread_mutex_init(&l.mu, NULL);
	snprintf(eps, sizeof(eps), "127.0.0.1:%d", port);
	snprintf(want, sizeof(want), "cannot reach etcd at http://127.0.0.1:%d",
		 port);
	o.log = outage_cb;
	o.log_payload = &l;
	o.retry_timeout_ms = 300;
	gc_etcd *c = etu_client_opts(eps, &o);
	assert_non_null(c);
	wo = wopts(&r, GC_ETCD_PREFIX);
	assert_int_equal(gc_etcd_watcher_new(&w, c, &err), 0);
	assert_int_equal(gc_etcd_watch_add(&wa, w, "/out1/", &wo, &err), 0);
	assert_int_equal(gc_etcd_watch_add(&wb, w, "/out2/", &wo, &err), 0);
	/* several retries of both watches */
	int64_t t0 = gc__mono_ms();
	while (l.retries < 8 && gc__mono_ms() - t0 < 20000)
		assert_int_equal(gc_etcd_watcher_poll(w, 50, NULL), 0);
	assert_true(l.retries >= 8);
	assert_int_equal(l.unreachable, 1);
	assert_int_equal(l.warnings, 1);
	assert_int_equal(l.jargon, 0);
	assert_memory_equal(l.first, want, strlen(want));
	assert_int_equal(gc_etcd_get(&resp, c, "/x", NULL, &err), GC_EUNAVAIL);
	assert_non_null(strstr(err.msg, want));
	gc_etcd_watcher_free(w);
	gc_etcd_free(c);

	/* a dead member first, then the live one: the outage ends */
	pthread_mutex_destroy(&l.mu);
	memset(&l, 0, sizeof(l));
	pthread_mutex_init(&l.mu, NULL);
	snprintf(eps, sizeof(eps), "127.0.0.1:%d,%s", port,
		 gct_etcd_endpoint(g_etcd, 0) + strlen("http://"));
	c = etu_client_opts(eps, &o);
	assert_non_null(c);
	assert_int_equal(gc_etcd_watcher_new(&w, c, &err), 0);
	assert_int_equal(gc_etcd_watch_add(&wa, w, "/out1/", &wo, &err), 0);
	assert_int_equal(poll_until(w, &r.created, 1, 10000), 0);
	assert_int_equal(l.unreachable, 1);
	assert_int_equal(l.back, 1);
	gc_etcd_watcher_free(w);
	gc_etcd_free(c);
	pthread_mutex_destroy(&l.mu);
}

static void answers_are_bounded(void **state)
{
	gc_etcd_options o = GC_ETCD_OPTIONS_INIT;
	gc_etcd_get_options go = GC_ETCD_GET_OPTIONS_INIT;
	gc_etcd *c;
	gc_etcd_response r;
	gc_error err;
	char big[3000];
	(void)state;
	memset(big, 'z', sizeof(big));
	assert_int_equal(gc_etcd_put(NULL, g_c, "/big/1", big, sizeof(big), 0,
				     0, &err),
			 0);
	o.max_response_bytes = 2048;
	c = etu_client_opts(gct_etcd_endpoints(g_etcd), &o);
	go.flags = GC_ETCD_PREFIX;
	assert_int_equal(gc_etcd_get(&r, c, "/big/", &go, &err), GC_ETOOBIG);
	assert_non_null(strstr(err.msg, "2048"));
	/* a small answer still works on the same client */
	assert_int_equal(gc_etcd_get(&r, c, "/kv/bin", NULL, &err), 0);
	gc_etcd_response_clear(&r);

	/* a watch message over the bound stops that watch, others go on */
	{
		gc_etcd_watcher *w;
		gc_etcd_watch *big_w, *small_w;
		wrec rb, rs;
		gc_etcd_watch_options wo;
		memset(&rb, 0, sizeof(rb));
		memset(&rs, 0, sizeof(rs));
		assert_int_equal(gc_etcd_watcher_new(&w, c, &err), 0);
		wo = wopts(&rb, GC_ETCD_PREFIX);
		assert_int_equal(gc_etcd_watch_add(&big_w, w, "/big/", &wo,
						   &err),
				 0);
		wo = wopts(&rs, GC_ETCD_PREFIX);
		assert_int_equal(gc_etcd_watch_add(&small_w, w, "/small/", &wo,
						   &err),
				 0);
		assert_int_equal(poll_until(w, &rs.created, 1, 10000), 0);
		assert_int_equal(poll_until(w, &rb.created, 1, 10000), 0);
		assert_int_equal(gc_etcd_put(NULL, g_c, "/big/2", big,
					     sizeof(big), 0, 0, &err),
				 0);
		assert_int_equal(poll_until(w, &rb.errors, 1, 10000), 0);
		assert_int_equal(rb.err_code, GC_ETOOBIG);
		assert_int_equal(rb.events, 0);
		assert_false(gc_etcd_watch_active(big_w));
		put_s("/small/1", "x");
		assert_int_equal(poll_until(w, &rs.events, 1, 10000), 0);
		gc_etcd_watcher_free(w);
	}
	gc_etcd_free(c);
}

static void a_watch_etcd_refuses_stops_with_its_reason(void **state)
{
	gc_etcd_watcher *w;
	gc_etcd_watch *wa;
	wrec r;
	gc_etcd_watch_options o;
	gc_error err;
	(void)state;
	memset(&r, 0, sizeof(r));
	o = wopts(&r, 0);
	o.range_end = "/a"; /* end before start: an empty range */
	assert_int_equal(gc_etcd_watcher_new(&w, g_c, &err), 0);
	assert_int_equal(gc_etcd_watch_add(&wa, w, "/b", &o, &err), 0);
	assert_int_equal(poll_until(w, &r.errors, 1, 10000), 0);
	assert_int_equal(r.err_code, GC_EINVAL);
	assert_false(gc_etcd_watch_active(wa));
	assert_int_equal(gc_etcd_watcher_count(w), 1); /* until cancelled */
	gc_etcd_watch_cancel(wa);
	assert_int_equal(gc_etcd_watcher_count(w), 0);
	gc_etcd_watcher_free(w);
}

static void raw_request_reaches_other_gateway_calls(void **state)
{
	char *resp = NULL;
	gc_error err;
	(void)state;
	assert_int_equal(gc_etcd_request(&resp, g_c, "/v3/maintenance/status",
					 "{}", &err),
			 0);
	assert_non_null(strstr(resp, "\"version\""));
	gc_free(resp);
	assert_int_equal(gc_etcd_request(&resp, g_c, "/v3/nope", "{}", &err),
			 GC_EPROTO);
	assert_non_null(strstr(err.msg, "HTTP 404"));
	assert_null(resp);
}

/* ---------------------------------------------------------------- fds */

static void no_descriptor_leaks_and_all_are_close_on_exec(void **state)
{
	int before, after, bad = 0, i;
	gc_error err;
	(void)state;
	before = etu_fd_count(NULL);
	for (i = 0; i < 100; i++) {
		gc_etcd *c = etu_client(gct_etcd_endpoints(g_etcd));
		gc_etcd_response r;
		assert_non_null(c);
		assert_int_equal(gc_etcd_get(&r, c, "/kv/bin", NULL, &err), 0);
		gc_etcd_response_clear(&r);
		gc_etcd_free(c);
	}
	after = etu_fd_count(NULL);
	assert_int_equal(before, after);

	/* everything open at once: client, keeper thread, watcher streams */
	{
		gc_etcd *c = etu_client(gct_etcd_endpoints(g_etcd));
		gc_etcd_keeper_options ko = GC_ETCD_KEEPER_OPTIONS_INIT;
		gc_etcd_lease_keeper *k;
		gc_etcd_watcher *w;
		gc_etcd_watch *wa;
		gc_etcd_watch_options o;
		wrec r;
		int64_t lease;
		memset(&r, 0, sizeof(r));
		o = wopts(&r, GC_ETCD_PREFIX);
		ko.own_thread = 1;
		assert_int_equal(gc_etcd_lease_grant(&lease, NULL, c, 30, 0,
						     &err),
				 0);
		assert_int_equal(gc_etcd_lease_keeper_new(&k, c, &ko, &err),
				 0);
		assert_int_equal(gc_etcd_lease_keeper_add(k, lease, 30, &err),
				 0);
		assert_int_equal(gc_etcd_watcher_new(&w, c, &err), 0);
		assert_int_equal(gc_etcd_watch_add(&wa, w, "/fd/", &o, &err),
				 0);
		assert_int_equal(poll_until(w, &r.created, 1, 10000), 0);
		assert_true(etu_fd_count(&bad) > after);
		assert_int_equal(bad, 0);
		gc_etcd_watcher_free(w);
		gc_etcd_lease_keeper_free(k);
		gc_etcd_lease_revoke(c, lease, NULL);
		gc_etcd_free(c);
	}
	assert_int_equal(etu_fd_count(&bad), before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(put_and_get_round_trip_binary_and_empty_values),
		cmocka_unit_test(get_of_a_missing_key_is_empty_not_an_error),
		cmocka_unit_test(
			prefix_with_separator_does_not_match_longer_sibling),
		cmocka_unit_test(
			prefix_end_increments_the_last_byte_below_0xff),
		cmocka_unit_test(
			get_options_limit_count_keys_only_sort_and_revision),
		cmocka_unit_test(put_prev_kv_ignore_flags_and_unknown_lease),
		cmocka_unit_test(delete_key_prefix_and_prev_kvs),
		cmocka_unit_test(txn_compares_every_target_and_result),
		cmocka_unit_test(txn_runs_the_branch_and_returns_each_response),
		cmocka_unit_test(claim_once_wins_then_reports_the_holder),
		cmocka_unit_test(lease_ids_round_trip_as_int64),
		cmocka_unit_test(
			keeper_keeps_a_lease_alive_then_reports_its_revocation),
		cmocka_unit_test(
			keeper_driven_by_the_caller_reports_an_unreachable_cluster),
		cmocka_unit_test(
			watch_delivers_puts_deletes_prev_kv_and_txn_batches),
		cmocka_unit_test(
			many_watches_share_one_watcher_and_filters_apply),
		cmocka_unit_test(watch_runs_from_a_host_event_loop),
		cmocka_unit_test(watch_from_a_start_revision_replays_history),
		cmocka_unit_test(a_long_replay_arrives_complete_and_in_order),
		cmocka_unit_test(
			compaction_past_the_watch_is_reported_and_relist_recovers),
		cmocka_unit_test(cancel_from_inside_a_callback_stops_delivery),
		cmocka_unit_test(a_dead_endpoint_is_skipped),
		cmocka_unit_test(
			all_endpoints_down_fails_within_the_retry_bound),
		cmocka_unit_test(an_unreachable_etcd_is_said_once_in_plain_words),
		cmocka_unit_test(answers_are_bounded),
		cmocka_unit_test(a_watch_etcd_refuses_stops_with_its_reason),
		cmocka_unit_test(raw_request_reaches_other_gateway_calls),
		cmocka_unit_test(
			no_descriptor_leaks_and_all_are_close_on_exec),
		cmocka_unit_test(clock_probe_brackets_the_members_second),
		cmocka_unit_test(
			clock_probe_of_a_skewed_process_brackets_its_offset),
		cmocka_unit_test(
			estimator_finds_a_skewed_processs_offset_in_seconds),
		cmocka_unit_test(
			clock_probe_fails_clearly_and_moves_off_a_dead_member),
	};
	if (getenv("GC_TEST_PROBE_CHILD"))
		return probe_child(getenv("GC_TEST_PROBE_CHILD"));
	if (getenv("GC_TEST_SYNC_CHILD"))
		return sync_child(getenv("GC_TEST_SYNC_CHILD"));
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
