/* Fuzz the etcd gateway JSON decoding: unary answers and watch streams.
 * The first byte picks the decoder; the rest is the body:
 *   0 watch stream (split on '\n' like the stream parser, leftover last)
 *   1 range, 2 put, 3 delete, 4 txn, 5 keep-alive, 6 time-to-live, 7 error
 * Checks: no crash, no leak, and on success every key/value is
 * NUL-terminated at its length and revisions are what was decoded.
 * Runs on a 100 KB stack, as civetweb's workers (worker_stack.h). */
#include "etcd/etcd_internal.h"
#include "worker_stack.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_kv(const gc_etcd_kv *kv)
{
	if (!kv->key || !kv->value || kv->key[kv->key_len] != '\0' ||
	    kv->value[kv->value_len] != '\0')
		abort();
}

static void check_response(const gc_etcd_response *r)
{
	size_t i;
	if (r->kvs_count && !r->kvs)
		abort();
	for (i = 0; i < r->kvs_count; i++)
		check_kv(&r->kvs[i]);
}

static void watch_line(const char *p, size_t n)
{
	gc__etcd_watch_msg m;
	size_t i;
	if (gc__etcd_decode_watch_msg(p, n, &m, NULL) != 0) {
		if (m.events || m.message)
			abort(); /* a failed decode leaves nothing behind */
		return;
	}
	for (i = 0; i < m.events_count; i++) {
		check_kv(&m.events[i].kv);
		if (m.events[i].has_prev_kv)
			check_kv(&m.events[i].prev_kv);
		if (m.events[i].type != GC_ETCD_EVENT_PUT &&
		    m.events[i].type != GC_ETCD_EVENT_DELETE)
			abort();
	}
	gc__etcd_watch_msg_dispose(&m);
}

static void one_input(const uint8_t *data, size_t size)
{
	const char *body;
	size_t len;
	cJSON *j = NULL;
	int which;
	if (size < 1)
		return;
	which = data[0] % 8;
	body = (const char *)data + 1;
	len = size - 1;
	if (which == 0) {
		const char *p = body, *end = body + len, *nl;
		while (p < end && (nl = memchr(p, '\n', (size_t)(end - p)))) {
			if (nl > p)
				watch_line(p, (size_t)(nl - p));
			p = nl + 1;
		}
		if (p < end)
			watch_line(p, (size_t)(end - p));
		return;
	}
	if (which == 7) {
		int code;
		char *msg = NULL;
		if (gc__etcd_decode_error(body, len, &code, &msg) == 0) {
			if (!msg)
				abort();
			(void)gc__etcd_grpc_to_gc(code, msg);
		}
		free(msg);
		return;
	}
	if (gc__etcd_parse(body, len, &j, NULL))
		return;
	switch (which) {
	case 1:
	case 2:
	case 3: {
		gc_etcd_response r;
		int type = which == 1   ? GC_ETCD_OP_RANGE
			   : which == 2 ? GC_ETCD_OP_PUT
					: GC_ETCD_OP_DELETE;
		if (gc__etcd_decode_response(j, type, &r, NULL) == 0)
			check_response(&r);
		else if (r.kvs)
			abort();
		gc_etcd_response_clear(&r);
		break;
	}
	case 4: {
		gc_etcd_txn_result t;
		if (gc__etcd_decode_txn(j, &t, NULL) == 0) {
			for (size_t i = 0; i < t.responses_count; i++)
				check_response(&t.responses[i]);
		} else if (t.responses) {
			abort();
		}
		gc_etcd_txn_result_clear(&t);
		break;
	}
	case 5: {
		int64_t id, ttl;
		(void)gc__etcd_decode_keepalive(j, &id, &ttl, NULL);
		break;
	}
	case 6: {
		gc_etcd_lease_info info;
		if (gc__etcd_decode_timetolive(j, &info, NULL) == 0)
			for (size_t i = 0; i < info.keys_count; i++)
				if (!info.keys[i])
					abort();
		gc_etcd_lease_info_clear(&info);
		break;
	}
	default:
		break;
	}
	cJSON_Delete(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	gc_fuzz_on_worker_stack(one_input, data, size);
	return 0;
}
