/* etcd gateway JSON: decoding of real answers (copied from etcd 3.4 gateway
 * transcripts) and encoding of requests. No network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "etcd/etcd_internal.h"

#include <stdlib.h>
#include <string.h>

#define HDR "\"header\":{\"cluster_id\":\"324952591200643719\",\"member_id\":" \
	    "\"3319814642761637952\",\"revision\":\"11\",\"raft_term\":\"2\"}"

static cJSON *parse(const char *s)
{
	cJSON *j = NULL;
	gc_error err;
	if (gc__etcd_parse(s, strlen(s), &j, &err))
		fail_msg("parse: %s", err.msg);
	return j;
}

static void range_answer_decodes_kvs_count_more_and_member(void **state)
{
	const char *s =
		"{" HDR ",\"kvs\":[{\"key\":\"L2Nyb24vam9icy9h\",\"create_revision\":\"4\","
		"\"mod_revision\":\"5\",\"version\":\"2\",\"value\":\"djI=\"},"
		"{\"key\":\"L2Nyb24vam9icy9i\",\"create_revision\":\"6\",\"mod_revision\":"
		"\"6\",\"version\":\"1\",\"value\":\"dmI=\",\"lease\":\"2324035573133454637\"}],"
		"\"more\":true,\"count\":\"5\"}";
	cJSON *j = parse(s);
	gc_etcd_response r;
	(void)state;
	assert_int_equal(gc__etcd_decode_response(j, GC_ETCD_OP_RANGE, &r, NULL),
			 0);
	assert_int_equal(r.revision, 11);
	assert_true(r.member_id == UINT64_C(3319814642761637952));
	assert_int_equal(r.count, 5);
	assert_true(r.more);
	assert_int_equal(r.kvs_count, 2);
	assert_string_equal(r.kvs[0].key, "/cron/jobs/a");
	assert_int_equal(r.kvs[0].key_len, 12);
	assert_string_equal(r.kvs[0].value, "v2");
	assert_int_equal(r.kvs[0].create_revision, 4);
	assert_int_equal(r.kvs[0].mod_revision, 5);
	assert_int_equal(r.kvs[0].version, 2);
	assert_int_equal(r.kvs[0].lease, 0);
	/* exact, although above 2^53 */
	assert_true(r.kvs[1].lease == INT64_C(2324035573133454637));
	gc_etcd_response_clear(&r);
	assert_null(r.kvs);
	cJSON_Delete(j);
}

static void absent_fields_mean_zero_false_and_empty(void **state)
{
	cJSON *j = parse("{" HDR "}");
	cJSON *k = parse("{\"kvs\":[{\"key\":\"L2E=\",\"create_revision\":\"3\"}]}");
	gc_etcd_response r;
	gc_etcd_txn_result t;
	(void)state;
	assert_int_equal(gc__etcd_decode_response(j, GC_ETCD_OP_RANGE, &r, NULL),
			 0);
	assert_int_equal(r.count, 0);
	assert_false(r.more);
	assert_int_equal(r.kvs_count, 0);
	gc_etcd_response_clear(&r);
	assert_int_equal(gc__etcd_decode_response(j, GC_ETCD_OP_DELETE, &r,
						  NULL),
			 0);
	assert_int_equal(r.count, 0);
	gc_etcd_response_clear(&r);
	assert_int_equal(gc__etcd_decode_txn(j, &t, NULL), 0);
	assert_false(t.succeeded);
	assert_int_equal(t.responses_count, 0);
	gc_etcd_txn_result_clear(&t);
	/* a key with an empty value has no "value": "" with length 0 */
	assert_int_equal(gc__etcd_decode_response(k, GC_ETCD_OP_RANGE, &r, NULL),
			 0);
	assert_int_equal(r.revision, 0); /* no header */
	assert_int_equal(r.kvs[0].value_len, 0);
	assert_string_equal(r.kvs[0].value, "");
	assert_int_equal(r.kvs[0].version, 0);
	gc_etcd_response_clear(&r);
	cJSON_Delete(j);
	cJSON_Delete(k);
}

static void put_and_delete_answers_carry_previous_pairs(void **state)
{
	cJSON *p = parse(
		"{" HDR ",\"prev_kv\":{\"key\":\"L2Nyb24vam9icy9h\",\"create_revision\":\"4\","
		"\"mod_revision\":\"4\",\"version\":\"1\",\"value\":"
		"\"eyJzY2hlZCI6IiovNSAqICogKiAqIn0=\"}}");
	cJSON *d = parse("{" HDR ",\"deleted\":\"4\",\"prev_kvs\":[{\"key\":"
			 "\"L2Nyb24vam9icy9h\"},{\"key\":\"L2Nyb24vam9icy9i\"}]}");
	gc_etcd_response r;
	(void)state;
	assert_int_equal(gc__etcd_decode_response(p, GC_ETCD_OP_PUT, &r, NULL),
			 0);
	assert_int_equal(r.kvs_count, 1);
	assert_string_equal(r.kvs[0].value, "{\"sched\":\"*/5 * * * *\"}");
	gc_etcd_response_clear(&r);
	assert_int_equal(gc__etcd_decode_response(d, GC_ETCD_OP_DELETE, &r,
						  NULL),
			 0);
	assert_int_equal(r.count, 4);
	assert_int_equal(r.kvs_count, 2);
	assert_string_equal(r.kvs[1].key, "/cron/jobs/b");
	gc_etcd_response_clear(&r);
	cJSON_Delete(p);
	cJSON_Delete(d);
}

static void txn_won_and_lost_answers(void **state)
{
	cJSON *won = parse(
		"{\"header\":{\"revision\":\"14\"},\"succeeded\":true,\"responses\":"
		"[{\"response_put\":{\"header\":{\"revision\":\"14\"}}}]}");
	cJSON *lost = parse(
		"{\"header\":{\"revision\":\"14\"},\"responses\":[{\"response_range\":"
		"{\"header\":{\"revision\":\"14\"},\"kvs\":[{\"key\":"
		"\"L2Nyb24vbG9jay9qb2I0Mg==\",\"create_revision\":\"14\","
		"\"mod_revision\":\"14\",\"version\":\"1\",\"value\":\"bm9kZTE=\","
		"\"lease\":\"2324035573133454637\"}],\"count\":\"1\"}},"
		"{\"response_delete_range\":{\"header\":{\"revision\":\"14\"},"
		"\"deleted\":\"1\"}}]}");
	cJSON *bad = parse("{\"responses\":[{\"response_txn\":{}}]}");
	gc_etcd_txn_result t;
	gc_error err;
	(void)state;
	assert_int_equal(gc__etcd_decode_txn(won, &t, NULL), 0);
	assert_true(t.succeeded);
	assert_int_equal(t.revision, 14);
	assert_int_equal(t.responses_count, 1);
	assert_int_equal(t.responses[0].type, GC_ETCD_OP_PUT);
	assert_int_equal(t.responses[0].revision, 14);
	gc_etcd_txn_result_clear(&t);
	assert_int_equal(gc__etcd_decode_txn(lost, &t, NULL), 0);
	assert_false(t.succeeded);
	assert_int_equal(t.responses_count, 2);
	assert_int_equal(t.responses[0].type, GC_ETCD_OP_RANGE);
	assert_string_equal(t.responses[0].kvs[0].key, "/cron/lock/job42");
	assert_string_equal(t.responses[0].kvs[0].value, "node1");
	assert_int_equal(t.responses[1].type, GC_ETCD_OP_DELETE);
	assert_int_equal(t.responses[1].count, 1);
	gc_etcd_txn_result_clear(&t);
	/* nested txns are not something this client sends */
	assert_int_equal(gc__etcd_decode_txn(bad, &t, &err), GC_EPROTO);
	assert_null(t.responses);
	cJSON_Delete(won);
	cJSON_Delete(lost);
	cJSON_Delete(bad);
}

static void int64_fields_are_exact_and_never_read_as_double(void **state)
{
	cJSON *j = parse("{\"a\":\"9223372036854775807\",\"b\":\"-1\",\"c\":12,"
			 "\"d\":7.60872826102223e+18,\"e\":\"12x\",\"f\":\"\","
			 "\"g\":\"9223372036854775808\",\"h\":true,"
			 "\"u\":\"18446744073709551615\"}");
	int64_t v;
	uint64_t u;
	(void)state;
	assert_int_equal(gc__etcd_get_int64(j, "a", &v), 0);
	assert_true(v == INT64_MAX);
	assert_int_equal(gc__etcd_get_int64(j, "b", &v), 0);
	assert_true(v == -1);
	assert_int_equal(gc__etcd_get_int64(j, "c", &v), 0); /* small number */
	assert_true(v == 12);
	assert_int_equal(gc__etcd_get_int64(j, "d", &v), GC_EPROTO);
	assert_int_equal(gc__etcd_get_int64(j, "e", &v), GC_EINVAL);
	assert_int_equal(gc__etcd_get_int64(j, "f", &v), GC_EINVAL);
	assert_int_equal(gc__etcd_get_int64(j, "g", &v), GC_EINVAL);
	assert_int_equal(gc__etcd_get_int64(j, "h", &v), GC_EPROTO);
	assert_int_equal(gc__etcd_get_int64(j, "missing", &v), 0);
	assert_true(v == 0);
	assert_int_equal(gc__etcd_get_uint64(j, "u", &u), 0);
	assert_true(u == UINT64_MAX);
	assert_int_equal(gc__etcd_get_uint64(j, "b", &u), GC_EPROTO);
	cJSON_Delete(j);
}

static void bad_input_is_a_protocol_error(void **state)
{
	static const char *const bad[] = {
		"{\"kvs\":[{\"key\":\"not base64!\"}]}",
		"{\"kvs\":{\"key\":\"L2E=\"}}",
		"{\"kvs\":[{\"key\":\"L2E=\",\"mod_revision\":\"x\"}]}",
		"{\"kvs\":[17]}",
		"{\"count\":[]}",
		"{\"header\":[]}",
		"{\"header\":{\"revision\":1.5}}",
	};
	gc_etcd_response r;
	gc_error err;
	cJSON *j;
	size_t i;
	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		j = parse(bad[i]);
		assert_int_equal(gc__etcd_decode_response(j, GC_ETCD_OP_RANGE,
							  &r, &err),
				 GC_EPROTO);
		assert_null(r.kvs);
		cJSON_Delete(j);
	}
	assert_int_equal(gc__etcd_parse("{\"a\":", 5, &j, &err), GC_EPROTO);
	assert_null(j);
	assert_int_equal(gc__etcd_parse("[1]", 3, &j, &err), GC_EPROTO);
	assert_int_equal(gc__etcd_parse("", 0, &j, &err), GC_EPROTO);
	/* the length bounds the parse: no NUL needed, none read past */
	assert_int_equal(gc__etcd_parse("{}garbage", 2, &j, &err), 0);
	cJSON_Delete(j);
}

static void lease_answers(void **state)
{
	cJSON *ka = parse("{\"result\":{" HDR ",\"ID\":\"2324035573133454646\","
			  "\"TTL\":\"20\"}}");
	cJSON *gone = parse("{\"result\":{" HDR ",\"ID\":\"12345\"}}");
	cJSON *ttl = parse("{" HDR ",\"ID\":\"2324035573133454646\",\"TTL\":\"19\","
			   "\"grantedTTL\":\"20\",\"keys\":[\"L2Nyb24vbGVhc2UtaGVsZA==\"]}");
	cJSON *revoked = parse("{" HDR ",\"ID\":\"7\",\"TTL\":\"-1\"}");
	int64_t id, t;
	gc_etcd_lease_info info;
	(void)state;
	assert_int_equal(gc__etcd_decode_keepalive(ka, &id, &t, NULL), 0);
	assert_true(id == INT64_C(2324035573133454646));
	assert_int_equal(t, 20);
	assert_int_equal(gc__etcd_decode_keepalive(gone, &id, &t, NULL), 0);
	assert_int_equal(t, 0); /* no TTL: the lease is gone */
	assert_int_equal(gc__etcd_decode_keepalive(ttl, &id, &t, NULL),
			 GC_EPROTO); /* no result */
	assert_int_equal(gc__etcd_decode_timetolive(ttl, &info, NULL), 0);
	assert_int_equal(info.ttl, 19);
	assert_int_equal(info.granted_ttl, 20);
	assert_int_equal(info.keys_count, 1);
	assert_string_equal(info.keys[0], "/cron/lease-held");
	gc_etcd_lease_info_clear(&info);
	assert_int_equal(gc__etcd_decode_timetolive(revoked, &info, NULL), 0);
	assert_int_equal(info.ttl, -1);
	gc_etcd_lease_info_clear(&info);
	cJSON_Delete(ka);
	cJSON_Delete(gone);
	cJSON_Delete(ttl);
	cJSON_Delete(revoked);
}

static void error_bodies_unary_and_streaming(void **state)
{
	const char *unary = "{\"error\":\"etcdserver: permission denied\","
			    "\"message\":\"etcdserver: permission denied\",\"code\":7}";
	const char *stream = "{\"error\":{\"grpc_code\":14,\"http_code\":503,"
			     "\"message\":\"transport is closing\",\"http_status\":"
			     "\"Service Unavailable\"}}";
	int code;
	char *msg;
	(void)state;
	assert_int_equal(gc__etcd_decode_error(unary, strlen(unary), &code,
					       &msg),
			 0);
	assert_int_equal(code, 7);
	assert_string_equal(msg, "etcdserver: permission denied");
	free(msg);
	assert_int_equal(gc__etcd_decode_error(stream, strlen(stream), &code,
					       &msg),
			 0);
	assert_int_equal(code, 14);
	assert_string_equal(msg, "transport is closing");
	free(msg);
	assert_int_not_equal(gc__etcd_decode_error("404 page not found", 18,
						   &code, &msg),
			     0);
	assert_null(msg);
	assert_int_not_equal(gc__etcd_decode_error("{\"x\":1}", 7, &code, &msg),
			     0);
}

static void grpc_codes_map_to_library_errors(void **state)
{
	(void)state;
	assert_int_equal(gc__etcd_grpc_to_gc(7, "etcdserver: permission denied"),
			 GC_EPERM);
	assert_int_equal(gc__etcd_grpc_to_gc(16, "etcdserver: invalid auth token"),
			 GC_EAUTH);
	assert_int_equal(gc__etcd_grpc_to_gc(3, "etcdserver: user name is empty"),
			 GC_EAUTH);
	assert_int_equal(gc__etcd_grpc_to_gc(3, "etcdserver: key is not provided"),
			 GC_EINVAL);
	assert_int_equal(gc__etcd_grpc_to_gc(3, "etcdserver: request is too large"),
			 GC_ETOOBIG);
	assert_int_equal(gc__etcd_grpc_to_gc(5, "etcdserver: requested lease not found"),
			 GC_ENOTFOUND);
	assert_int_equal(gc__etcd_grpc_to_gc(9, "etcdserver: lease already exists"),
			 GC_ECONFLICT);
	assert_int_equal(
		gc__etcd_grpc_to_gc(11, "etcdserver: mvcc: required revision "
					"has been compacted"),
		GC_ECOMPACTED);
	assert_int_equal(
		gc__etcd_grpc_to_gc(11, "etcdserver: mvcc: required revision "
					"is a future revision"),
		GC_EINVAL);
	assert_int_equal(gc__etcd_grpc_to_gc(14, "etcdserver: no leader"),
			 GC_EUNAVAIL);
	assert_int_equal(gc__etcd_grpc_to_gc(8, "grpc: received message larger"),
			 GC_ETOOBIG);
	assert_int_equal(gc__etcd_grpc_to_gc(2, "context deadline exceeded"),
			 GC_EUNAVAIL);
	assert_int_equal(gc__etcd_grpc_to_gc(2, NULL), GC_EIO);
}

/* ------------------------------------------------------- watch lines */

static gc__etcd_watch_msg wmsg(const char *line)
{
	gc__etcd_watch_msg m;
	gc_error err;
	if (gc__etcd_decode_watch_msg(line, strlen(line), &m, &err))
		fail_msg("decode %s: %s", line, err.msg);
	return m;
}

static void watch_created_events_prev_kv_and_deletes(void **state)
{
	gc__etcd_watch_msg m;
	(void)state;
	m = wmsg("{\"result\":{\"header\":{\"cluster_id\":\"324952591200643719\","
		 "\"member_id\":\"3319814642761637952\",\"revision\":\"19\","
		 "\"raft_term\":\"2\"},\"created\":true}}");
	assert_true(m.created);
	assert_false(m.canceled);
	assert_int_equal(m.revision, 19);
	assert_int_equal(m.watch_id, 0);
	assert_int_equal(m.events_count, 0);
	gc__etcd_watch_msg_dispose(&m);

	m = wmsg("{\"result\":{\"header\":{\"revision\":\"21\"},\"events\":[{\"kv\":"
		 "{\"key\":\"L2Nyb24vam9icy93MQ==\",\"create_revision\":\"20\","
		 "\"mod_revision\":\"21\",\"version\":\"2\",\"value\":\"djI=\"},"
		 "\"prev_kv\":{\"key\":\"L2Nyb24vam9icy93MQ==\",\"create_revision\":"
		 "\"20\",\"mod_revision\":\"20\",\"version\":\"1\",\"value\":\"djE=\"}}]}}");
	assert_int_equal(m.events_count, 1);
	assert_int_equal(m.events[0].type, GC_ETCD_EVENT_PUT);
	assert_string_equal(m.events[0].kv.key, "/cron/jobs/w1");
	assert_string_equal(m.events[0].kv.value, "v2");
	assert_int_equal(m.events[0].kv.mod_revision, 21);
	assert_true(m.events[0].has_prev_kv);
	assert_string_equal(m.events[0].prev_kv.value, "v1");
	gc__etcd_watch_msg_dispose(&m);

	m = wmsg("{\"result\":{\"header\":{\"revision\":\"24\"},\"events\":["
		 "{\"kv\":{\"key\":\"L2Nyb24vam9icy93MQ==\",\"create_revision\":\"20\","
		 "\"mod_revision\":\"20\",\"version\":\"1\",\"value\":\"djE=\"}},"
		 "{\"kv\":{\"key\":\"L2Nyb24vam9icy93MQ==\",\"create_revision\":\"20\","
		 "\"mod_revision\":\"21\",\"version\":\"2\",\"value\":\"djI=\"}},"
		 "{\"type\":\"DELETE\",\"kv\":{\"key\":\"L2Nyb24vam9icy93MQ==\","
		 "\"mod_revision\":\"22\"}}]}}");
	assert_int_equal(m.revision, 24);
	assert_int_equal(m.events_count, 3);
	assert_int_equal(m.events[2].type, GC_ETCD_EVENT_DELETE);
	assert_int_equal(m.events[2].kv.mod_revision, 22);
	assert_int_equal(m.events[2].kv.value_len, 0);
	assert_false(m.events[2].has_prev_kv);
	gc__etcd_watch_msg_dispose(&m);

	m = wmsg("{\"result\":{\"header\":{\"revision\":\"24\"},\"watch_id\":\"1\","
		 "\"created\":true}}");
	assert_int_equal(m.watch_id, 1);
	gc__etcd_watch_msg_dispose(&m);
}

static void watch_progress_compaction_cancel_and_errors(void **state)
{
	gc__etcd_watch_msg m;
	gc_error err;
	(void)state;
	m = wmsg("{\"result\":{\"header\":{\"cluster_id\":\"324952591200643719\","
		 "\"member_id\":\"3319814642761637952\",\"revision\":\"31\","
		 "\"raft_term\":\"3\"}}}");
	assert_false(m.created || m.canceled || m.is_error);
	assert_int_equal(m.revision, 31);
	gc__etcd_watch_msg_dispose(&m);

	m = wmsg("{\"result\":{\"header\":{\"cluster_id\":\"324952591200643719\","
		 "\"member_id\":\"3319814642761637952\",\"raft_term\":\"2\"},"
		 "\"canceled\":true,\"compact_revision\":\"22\"}}");
	assert_true(m.canceled);
	assert_int_equal(m.compact_revision, 22);
	assert_int_equal(m.revision, 0);
	assert_null(m.message);
	gc__etcd_watch_msg_dispose(&m);

	m = wmsg("{\"result\":{\"header\":{\"revision\":\"36\"},\"watch_id\":\"-1\","
		 "\"created\":true,\"canceled\":true,\"cancel_reason\":\"rpc error: "
		 "code = PermissionDenied desc = etcdserver: permission denied\"}}");
	assert_true(m.created && m.canceled);
	assert_int_equal(m.watch_id, -1);
	assert_non_null(strstr(m.message, "permission denied"));
	gc__etcd_watch_msg_dispose(&m);

	m = wmsg("{\"error\":{\"grpc_code\":14,\"http_code\":503,\"message\":"
		 "\"etcdserver: no leader\",\"http_status\":\"Service Unavailable\"}}");
	assert_true(m.is_error);
	assert_int_equal(m.grpc_code, 14);
	assert_string_equal(m.message, "etcdserver: no leader");
	gc__etcd_watch_msg_dispose(&m);

	{
		static const char *const bad[] = {
			"{\"result\":{\"events\":[{\"type\":\"MOVE\",\"kv\":{}}]}}",
			"{\"nothing\":1}",
			"{\"result\":{\"events\":[{\"type\":\"DELETE\"}]}}",
			("{\"result\":{\"events\":[{\"kv\":{\"key\":\"L2E=\"}},"
			 "{\"kv\":{\"key\":\"%%%\"}}]}}"),
			"{\"result\":{\"watch_id\":{}}}",
			"{\"result\":[]}",
		};
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			assert_int_equal(gc__etcd_decode_watch_msg(
						 bad[i], strlen(bad[i]), &m, &err),
					 GC_EPROTO);
			assert_null(m.events);
			assert_int_equal(m.events_count, 0);
		}
	}
}

/* ------------------------------------------------------------ encoding */

static char *print(cJSON *j)
{
	char *s = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	return s;
}

static void requests_send_int64_as_strings_and_bytes_as_base64(void **state)
{
	gc_etcd_op put = {GC_ETCD_OP_PUT, "/cron/lock/job42", "node1", 5,
			  INT64_C(7608728261022230001), GC_ETCD_PREV_KV, NULL,
			  0, 0, 0, 0};
	gc_etcd_op del = {GC_ETCD_OP_DELETE, "/cron/jobs/", NULL, 0, 0,
			  GC_ETCD_PREFIX, NULL, 0, 0, 0, 0};
	gc_etcd_get_options go = GC_ETCD_GET_OPTIONS_INIT;
	char *s;
	(void)state;
	s = print(gc__etcd_encode_op(&put));
	assert_string_equal(s, "{\"request_put\":{\"key\":\"L2Nyb24vbG9jay9qb2I0Mg==\","
			       "\"value\":\"bm9kZTE=\",\"lease\":\"7608728261022230001\","
			       "\"prev_kv\":true}}");
	free(s);
	s = print(gc__etcd_encode_op(&del));
	assert_string_equal(s, "{\"request_delete_range\":{\"key\":\"L2Nyb24vam9icy8=\","
			       "\"range_end\":\"L2Nyb24vam9iczA=\"}}");
	free(s);
	/* empty prefix: the whole keyspace */
	go.flags = GC_ETCD_PREFIX;
	go.limit = 3;
	go.revision = 9;
	go.sort_order = GC_ETCD_SORT_DESCEND;
	go.sort_target = GC_ETCD_SORT_MOD;
	s = print(gc__etcd_encode_range("", &go));
	assert_string_equal(s, "{\"key\":\"AA==\",\"range_end\":\"AA==\",\"limit\":\"3\","
			       "\"revision\":\"9\",\"sort_order\":2,\"sort_target\":3}");
	free(s);
	/* explicit range_end wins */
	go.flags = GC_ETCD_KEYS_ONLY | GC_ETCD_COUNT_ONLY | GC_ETCD_SERIALIZABLE;
	go.range_end = "b";
	go.limit = go.revision = 0;
	go.sort_order = go.sort_target = 0;
	s = print(gc__etcd_encode_range("a", &go));
	assert_string_equal(s, "{\"key\":\"YQ==\",\"range_end\":\"Yg==\","
			       "\"serializable\":true,\"keys_only\":true,"
			       "\"count_only\":true}");
	free(s);
	/* ignore flags leave value and lease out (etcd refuses both) */
	put.flags = GC_ETCD_IGNORE_VALUE | GC_ETCD_IGNORE_LEASE;
	s = print(gc__etcd_encode_op(&put));
	assert_string_equal(s, "{\"request_put\":{\"key\":\"L2Nyb24vbG9jay9qb2I0Mg==\","
			       "\"ignore_value\":true,\"ignore_lease\":true}}");
	free(s);
}

static void txn_encodes_compares_and_both_branches(void **state)
{
	gc_etcd_compare c[2] = {
		{"/l", GC_ETCD_CMP_CREATE, GC_ETCD_CMP_EQUAL, 0, NULL, 0},
		{"/l", GC_ETCD_CMP_LEASE, GC_ETCD_CMP_NOT_EQUAL,
		 INT64_C(2324035573133454637), NULL, 0}};
	gc_etcd_op s1 = {GC_ETCD_OP_PUT, "/l", "", 0, 0, 0, NULL, 0, 0, 0, 0};
	gc_etcd_op f1 = {GC_ETCD_OP_RANGE, "/l", NULL, 0, 0, 0, NULL, 0, 0, 0, 0};
	gc_etcd_txn_request t = {c, 2, &s1, 1, &f1, 1};
	gc_etcd_txn_request empty = {NULL, 0, NULL, 0, NULL, 0};
	gc_etcd_op nokey = {GC_ETCD_OP_PUT, NULL, NULL, 0, 0, 0, NULL, 0, 0, 0, 0};
	gc_etcd_txn_request bad = {NULL, 0, &nokey, 1, NULL, 0};
	char *s;
	(void)state;
	s = print(gc__etcd_encode_txn(&t));
	assert_string_equal(
		s, "{\"compare\":[{\"key\":\"L2w=\",\"target\":1,\"result\":0,"
		   "\"create_revision\":\"0\"},{\"key\":\"L2w=\",\"target\":4,"
		   "\"result\":3,\"lease\":\"2324035573133454637\"}],"
		   "\"success\":[{\"request_put\":{\"key\":\"L2w=\",\"value\":\"\"}}],"
		   "\"failure\":[{\"request_range\":{\"key\":\"L2w=\"}}]}");
	free(s);
	s = print(gc__etcd_encode_txn(&empty));
	assert_string_equal(s, "{}");
	free(s);
	assert_null(gc__etcd_encode_txn(&bad));
}

/* ------------------------------------------------------ Date header */

static int64_t date_of(const char *s)
{
	int64_t t = -1;
	if (gc__etcd_parse_http_date(s, strlen(s), &t))
		return -1;
	return t;
}

static void http_dates_in_imf_fixdate_form_give_unix_seconds(void **state)
{
	(void)state;
	/* RFC 7231's own example, and what etcd 3.4 sent */
	assert_int_equal(date_of("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
	assert_int_equal(date_of("Thu, 01 Jan 1970 00:00:00 GMT"), 0);
	assert_int_equal(date_of("Sun, 06 Dec 2026 19:42:05 GMT"),
			 INT64_C(1796586125));
	/* leap days, the year 2000 and far years */
	assert_int_equal(date_of("Tue, 29 Feb 2000 12:00:00 GMT"), 951825600);
	assert_int_equal(date_of("Thu, 29 Feb 2024 23:59:59 GMT"),
			 INT64_C(1709251199));
	assert_int_equal(date_of("Fri, 31 Dec 9999 23:59:59 GMT"),
			 INT64_C(253402300799));
	/* a leap second reads as the next minute's first second */
	assert_int_equal(date_of("Sat, 31 Dec 2016 23:59:60 GMT"),
			 INT64_C(1483228800));
	/* the length bounds the read: no NUL needed after 29 bytes */
	assert_int_equal(
	    gc__etcd_parse_http_date("Sun, 06 Nov 1994 08:49:37 GMTxyz", 29,
				     &(int64_t){0}),
	    0);
}

static void other_date_forms_and_bad_fields_are_refused(void **state)
{
	static const char *const bad[] = {
	    "Sunday, 06-Nov-94 08:49:37 GMT", /* RFC 850 */
	    "Sun Nov  6 08:49:37 1994",	      /* asctime */
	    "Sun, 6 Nov 1994 08:49:37 GMT",   /* one-digit day */
	    "Sun, 06 Nov 1994 08:49:37 UTC",  /* zone must be GMT */
	    "Sun, 06 Nov 1994 08:49:37 gmt",
	    "sun, 06 Nov 1994 08:49:37 GMT", /* names are case-sensitive */
	    "Sun, 06 nov 1994 08:49:37 GMT",
	    "Mon, 06 Nov 1994 08:49:37 GMT",  /* wrong weekday */
	    "Sun, 06 Nov 1994 08:49:37 GMT ", /* trailing byte */
	    " Sun, 06 Nov 1994 08:49:37 GMT",
	    "Sun,  06 Nov 1994 08:49:37 GMT",
	    "Tue, 29 Feb 2100 00:00:00 GMT", /* 2100 is no leap year */
	    "Mon, 31 Apr 2023 00:00:00 GMT",
	    "Sun, 00 Nov 1994 08:49:37 GMT",
	    "Sun, 06 Nov 1994 24:00:00 GMT",
	    "Sun, 06 Nov 1994 08:60:00 GMT",
	    "Sun, 06 Nov 1994 08:49:61 GMT",
	    "Sun, 06 Nov 1994 08:49:3a GMT",
	    "Sun, 06 Nov 1994 08-49-37 GMT",
	    "Sun, 06 Xyz 1994 08:49:37 GMT",
	    "Sun, 06 Nov -994 08:49:37 GMT",
	    "",
	};
	int64_t t = 42;
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (gc__etcd_parse_http_date(bad[i], strlen(bad[i]), &t) !=
		    GC_EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
	}
	assert_int_equal(t, 42); /* untouched */
	/* a cut value is refused whatever follows in memory */
	assert_int_equal(
	    gc__etcd_parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT", 28, &t),
	    GC_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(range_answer_decodes_kvs_count_more_and_member),
		cmocka_unit_test(absent_fields_mean_zero_false_and_empty),
		cmocka_unit_test(put_and_delete_answers_carry_previous_pairs),
		cmocka_unit_test(txn_won_and_lost_answers),
		cmocka_unit_test(int64_fields_are_exact_and_never_read_as_double),
		cmocka_unit_test(bad_input_is_a_protocol_error),
		cmocka_unit_test(lease_answers),
		cmocka_unit_test(error_bodies_unary_and_streaming),
		cmocka_unit_test(grpc_codes_map_to_library_errors),
		cmocka_unit_test(watch_created_events_prev_kv_and_deletes),
		cmocka_unit_test(watch_progress_compaction_cancel_and_errors),
		cmocka_unit_test(
			requests_send_int64_as_strings_and_bytes_as_base64),
		cmocka_unit_test(txn_encodes_compares_and_both_branches),
		cmocka_unit_test(
			http_dates_in_imf_fixdate_form_give_unix_seconds),
		cmocka_unit_test(other_date_forms_and_bad_fields_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
