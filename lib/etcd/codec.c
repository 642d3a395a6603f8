/* JSON encoding of etcd gateway requests and decoding of its answers.
 * Pure functions (no I/O) so they can be unit-tested and fuzzed.
 * int64 fields travel as JSON strings both ways; bytes fields as base64. */
#include "etcd_internal.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ helpers */

GC_EXTERN int gc_etcd_prefix_end(char **out, size_t *out_len,
				 const char *prefix, size_t prefix_len)
{
	size_t n = prefix_len;
	char *end;
	*out = NULL;
	if (out_len)
		*out_len = 0;
	while (n > 0 && (unsigned char)prefix[n - 1] == 0xff)
		n--;
	if (n == 0) { /* no upper bound: every key >= prefix */
		end = malloc(2);
		if (!end)
			return GC_ENOMEM;
		end[0] = end[1] = '\0';
		*out = end;
		if (out_len)
			*out_len = 1;
		return 0;
	}
	end = malloc(n + 1);
	if (!end)
		return GC_ENOMEM;
	memcpy(end, prefix, n);
	end[n - 1] = (char)((unsigned char)end[n - 1] + 1);
	end[n] = '\0';
	*out = end;
	if (out_len)
		*out_len = n;
	return 0;
}

int gc__etcd_add_int64(cJSON *obj, const char *name, int64_t v)
{
	char num[32];
	snprintf(num, sizeof(num), "%" PRId64, v);
	return cJSON_AddStringToObject(obj, name, num) ? 0 : GC_ENOMEM;
}

int gc__etcd_add_bytes(cJSON *obj, const char *name, const void *data,
		       size_t len)
{
	char *b64 = gc__base64_encode(data ? data : "", data ? len : 0);
	cJSON *s;
	if (!b64)
		return GC_ENOMEM;
	s = cJSON_AddStringToObject(obj, name, b64);
	free(b64);
	return s ? 0 : GC_ENOMEM;
}

int gc__etcd_add_range(cJSON *obj, const char *key, unsigned flags,
		       const char *range_end)
{
	size_t klen = strlen(key);
	int rc;
	if (range_end) {
		if ((rc = gc__etcd_add_bytes(obj, "key", key, klen)) ||
		    (rc = gc__etcd_add_bytes(obj, "range_end", range_end,
					     strlen(range_end))))
			return rc;
		return 0;
	}
	if (klen == 0 && (flags & (GC_ETCD_PREFIX | GC_ETCD_FROM_KEY))) {
		/* empty prefix: the whole keyspace is key "\0" .. "\0" */
		if ((rc = gc__etcd_add_bytes(obj, "key", "", 1)) ||
		    (rc = gc__etcd_add_bytes(obj, "range_end", "", 1)))
			return rc;
		return 0;
	}
	if ((rc = gc__etcd_add_bytes(obj, "key", key, klen)))
		return rc;
	if (flags & GC_ETCD_PREFIX) {
		char *end;
		size_t elen;
		if ((rc = gc_etcd_prefix_end(&end, &elen, key, klen)))
			return rc;
		rc = gc__etcd_add_bytes(obj, "range_end", end, elen);
		free(end);
		return rc;
	}
	if (flags & GC_ETCD_FROM_KEY)
		return gc__etcd_add_bytes(obj, "range_end", "", 1);
	return 0;
}

static int add_bool(cJSON *obj, const char *name, int v)
{
	if (!v)
		return 0;
	return cJSON_AddTrueToObject(obj, name) ? 0 : GC_ENOMEM;
}

static int add_num(cJSON *obj, const char *name, int v)
{
	if (!v)
		return 0;
	return cJSON_AddNumberToObject(obj, name, v) ? 0 : GC_ENOMEM;
}

static cJSON *encode_range_fields(const char *key, unsigned flags,
				  const char *range_end, int64_t limit,
				  int64_t revision, int sort_target,
				  int sort_order)
{
	cJSON *j = cJSON_CreateObject();
	if (!j)
		return NULL;
	if (gc__etcd_add_range(j, key, flags, range_end) ||
	    (limit && gc__etcd_add_int64(j, "limit", limit)) ||
	    (revision && gc__etcd_add_int64(j, "revision", revision)) ||
	    add_num(j, "sort_order", sort_order) ||
	    add_num(j, "sort_target", sort_target) ||
	    add_bool(j, "serializable", flags & GC_ETCD_SERIALIZABLE) ||
	    add_bool(j, "keys_only", flags & GC_ETCD_KEYS_ONLY) ||
	    add_bool(j, "count_only", flags & GC_ETCD_COUNT_ONLY)) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

cJSON *gc__etcd_encode_range(const char *key, const gc_etcd_get_options *o)
{
	if (!o)
		return encode_range_fields(key, 0, NULL, 0, 0, 0, 0);
	return encode_range_fields(key, o->flags, o->range_end, o->limit,
				   o->revision, o->sort_target, o->sort_order);
}

static cJSON *encode_put(const gc_etcd_op *op)
{
	cJSON *j = cJSON_CreateObject();
	if (!j)
		return NULL;
	/* etcd refuses a value (lease) together with ignore_value
	 * (ignore_lease) */
	if (gc__etcd_add_bytes(j, "key", op->key, strlen(op->key)) ||
	    (!(op->flags & GC_ETCD_IGNORE_VALUE) &&
	     gc__etcd_add_bytes(j, "value", op->value, op->value_len)) ||
	    (op->lease && !(op->flags & GC_ETCD_IGNORE_LEASE) &&
	     gc__etcd_add_int64(j, "lease", op->lease)) ||
	    add_bool(j, "prev_kv", op->flags & GC_ETCD_PREV_KV) ||
	    add_bool(j, "ignore_value", op->flags & GC_ETCD_IGNORE_VALUE) ||
	    add_bool(j, "ignore_lease", op->flags & GC_ETCD_IGNORE_LEASE)) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

static cJSON *encode_delete(const gc_etcd_op *op)
{
	cJSON *j = cJSON_CreateObject();
	if (!j)
		return NULL;
	if (gc__etcd_add_range(j, op->key, op->flags, op->range_end) ||
	    add_bool(j, "prev_kv", op->flags & GC_ETCD_PREV_KV)) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

cJSON *gc__etcd_encode_op(const gc_etcd_op *op)
{
	cJSON *outer, *inner;
	const char *name;
	if (!op->key)
		return NULL;
	switch (op->type) {
	case GC_ETCD_OP_RANGE:
		name = "request_range";
		inner = encode_range_fields(op->key, op->flags, op->range_end,
					    op->limit, op->revision,
					    op->sort_target, op->sort_order);
		break;
	case GC_ETCD_OP_PUT:
		name = "request_put";
		inner = encode_put(op);
		break;
	case GC_ETCD_OP_DELETE:
		name = "request_delete_range";
		inner = encode_delete(op);
		break;
	default:
		return NULL;
	}
	if (!inner)
		return NULL;
	outer = cJSON_CreateObject();
	if (!outer || !cJSON_AddItemToObject(outer, name, inner)) {
		cJSON_Delete(inner);
		cJSON_Delete(outer);
		return NULL;
	}
	return outer;
}

static cJSON *encode_compare(const gc_etcd_compare *c)
{
	cJSON *j = cJSON_CreateObject();
	int rc;
	if (!j)
		return NULL;
	rc = gc__etcd_add_bytes(j, "key", c->key, strlen(c->key));
	if (!rc)
		rc = cJSON_AddNumberToObject(j, "target", c->target) ? 0
								     : GC_ENOMEM;
	if (!rc)
		rc = cJSON_AddNumberToObject(j, "result", c->result) ? 0
								     : GC_ENOMEM;
	if (!rc) {
		switch (c->target) {
		case GC_ETCD_CMP_VERSION:
			rc = gc__etcd_add_int64(j, "version", c->number);
			break;
		case GC_ETCD_CMP_CREATE:
			rc = gc__etcd_add_int64(j, "create_revision",
						c->number);
			break;
		case GC_ETCD_CMP_MOD:
			rc = gc__etcd_add_int64(j, "mod_revision", c->number);
			break;
		case GC_ETCD_CMP_VALUE:
			rc = gc__etcd_add_bytes(j, "value", c->value,
						c->value_len);
			break;
		case GC_ETCD_CMP_LEASE:
			rc = gc__etcd_add_int64(j, "lease", c->number);
			break;
		default:
			rc = GC_EINVAL;
		}
	}
	if (rc) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

static int add_ops(cJSON *txn, const char *name, const gc_etcd_op *ops,
		   size_t n)
{
	cJSON *arr;
	size_t i;
	if (!n)
		return 0;
	arr = cJSON_AddArrayToObject(txn, name);
	if (!arr)
		return GC_ENOMEM;
	for (i = 0; i < n; i++) {
		cJSON *op = gc__etcd_encode_op(&ops[i]);
		if (!op)
			return GC_EINVAL;
		cJSON_AddItemToArray(arr, op);
	}
	return 0;
}

cJSON *gc__etcd_encode_txn(const gc_etcd_txn_request *t)
{
	cJSON *j = cJSON_CreateObject(), *arr;
	size_t i;
	if (!j)
		return NULL;
	if (t->compare_count) {
		arr = cJSON_AddArrayToObject(j, "compare");
		if (!arr)
			goto fail;
		for (i = 0; i < t->compare_count; i++) {
			cJSON *c;
			if (!t->compare[i].key)
				goto fail;
			c = encode_compare(&t->compare[i]);
			if (!c)
				goto fail;
			cJSON_AddItemToArray(arr, c);
		}
	}
	if (add_ops(j, "success", t->success, t->success_count) ||
	    add_ops(j, "failure", t->failure, t->failure_count))
		goto fail;
	return j;
fail:
	cJSON_Delete(j);
	return NULL;
}

/* ------------------------------------------------------------ decoding */

int gc__etcd_parse(const char *data, size_t len, cJSON **out, gc_error *err)
{
	const gc__json_opts jo = {GC__JSON_DEPTH_ETCD, 0, NULL};
	cJSON *j;
	int rc;
	*out = NULL;
	if (!data || len == 0)
		return gc__seterr(err, GC_EPROTO, "empty JSON answer");
	rc = gc__json_parse(&j, data, len, &jo, NULL, err);
	if (rc == GC_ENOMEM)
		return rc;
	if (rc) {
		gc__err_prefix(err, "malformed JSON answer of %zu bytes", len);
		if (err)
			err->code = GC_EPROTO;
		return GC_EPROTO;
	}
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return gc__seterr(err, GC_EPROTO,
				  "JSON answer is not an object");
	}
	*out = j;
	return 0;
}

int gc__etcd_get_int64(const cJSON *obj, const char *name, int64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
	*out = 0;
	if (!v || cJSON_IsNull(v))
		return 0;
	if (cJSON_IsString(v))
		return gc__parse_int64(v->valuestring, out);
	/* Not what etcd sends, but a small integral number is unambiguous. */
	if (cJSON_IsNumber(v) && v->valuedouble >= -9007199254740992.0 &&
	    v->valuedouble <= 9007199254740992.0 &&
	    v->valuedouble == (double)(int64_t)v->valuedouble) {
		*out = (int64_t)v->valuedouble;
		return 0;
	}
	return GC_EPROTO;
}

int gc__etcd_get_uint64(const cJSON *obj, const char *name, uint64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
	const char *s;
	uint64_t acc = 0;
	*out = 0;
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v))
		return GC_EPROTO;
	s = v->valuestring;
	if (!*s)
		return GC_EPROTO;
	for (; *s; s++) {
		unsigned d;
		if (*s < '0' || *s > '9')
			return GC_EPROTO;
		d = (unsigned)(*s - '0');
		if (acc > (UINT64_MAX - d) / 10)
			return GC_EPROTO;
		acc = acc * 10 + d;
	}
	*out = acc;
	return 0;
}

int gc__etcd_get_bytes(const cJSON *obj, const char *name, char **out,
		       size_t *len)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
	*out = NULL;
	*len = 0;
	if (!v || cJSON_IsNull(v)) {
		*out = calloc(1, 1);
		return *out ? 0 : GC_ENOMEM;
	}
	if (!cJSON_IsString(v))
		return GC_EPROTO;
	if (gc__base64_decode(v->valuestring, strlen(v->valuestring), out,
			      len))
		return GC_EPROTO;
	return 0;
}

int gc__etcd_get_bool(const cJSON *obj, const char *name)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(obj, name));
}

void gc__etcd_kv_dispose(gc_etcd_kv *kv)
{
	if (!kv)
		return;
	free(kv->key);
	free(kv->value);
	memset(kv, 0, sizeof(*kv));
}

int gc__etcd_decode_kv(const cJSON *j, gc_etcd_kv *kv, gc_error *err)
{
	memset(kv, 0, sizeof(*kv));
	if (!cJSON_IsObject(j))
		return gc__seterr(err, GC_EPROTO, "key-value is not an object");
	if (gc__etcd_get_bytes(j, "key", &kv->key, &kv->key_len) ||
	    gc__etcd_get_bytes(j, "value", &kv->value, &kv->value_len))
		goto bad;
	if (gc__etcd_get_int64(j, "create_revision", &kv->create_revision) ||
	    gc__etcd_get_int64(j, "mod_revision", &kv->mod_revision) ||
	    gc__etcd_get_int64(j, "version", &kv->version) ||
	    gc__etcd_get_int64(j, "lease", &kv->lease))
		goto bad;
	return 0;
bad:
	gc__etcd_kv_dispose(kv);
	return gc__seterr(err, GC_EPROTO,
			  "bad key-value in etcd answer (key, value, "
			  "revision or lease field)");
}

static int decode_kv_array(const cJSON *arr, gc_etcd_kv **out, size_t *n,
			   gc_error *err)
{
	size_t count, i = 0;
	const cJSON *it;
	gc_etcd_kv *kvs;
	*out = NULL;
	*n = 0;
	if (!arr || cJSON_IsNull(arr))
		return 0;
	if (!cJSON_IsArray(arr))
		return gc__seterr(err, GC_EPROTO, "kvs is not an array");
	count = (size_t)cJSON_GetArraySize(arr);
	if (count == 0)
		return 0;
	kvs = calloc(count, sizeof(*kvs));
	if (!kvs)
		return gc__seterr(err, GC_ENOMEM, "out of memory");
	cJSON_ArrayForEach(it, arr)
	{
		int rc = gc__etcd_decode_kv(it, &kvs[i], err);
		if (rc) {
			while (i > 0)
				gc__etcd_kv_dispose(&kvs[--i]);
			free(kvs);
			return rc;
		}
		i++;
	}
	*out = kvs;
	*n = i;
	return 0;
}

GC_EXTERN void gc_etcd_response_clear(gc_etcd_response *r)
{
	size_t i;
	if (!r)
		return;
	for (i = 0; i < r->kvs_count; i++)
		gc__etcd_kv_dispose(&r->kvs[i]);
	free(r->kvs);
	memset(r, 0, sizeof(*r));
}

static int decode_header(const cJSON *j, int64_t *revision,
			 uint64_t *member_id)
{
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(j, "header");
	*revision = 0;
	if (member_id)
		*member_id = 0;
	if (!h)
		return 0;
	if (!cJSON_IsObject(h))
		return GC_EPROTO;
	if (gc__etcd_get_int64(h, "revision", revision))
		return GC_EPROTO;
	if (member_id && gc__etcd_get_uint64(h, "member_id", member_id))
		return GC_EPROTO;
	return 0;
}

int gc__etcd_decode_response(const cJSON *j, int type, gc_etcd_response *out,
			     gc_error *err)
{
	int rc;
	memset(out, 0, sizeof(*out));
	out->type = type;
	if (!cJSON_IsObject(j))
		return gc__seterr(err, GC_EPROTO, "response is not an object");
	if (decode_header(j, &out->revision, &out->member_id))
		return gc__seterr(err, GC_EPROTO, "bad response header");
	switch (type) {
	case GC_ETCD_OP_RANGE:
		if (gc__etcd_get_int64(j, "count", &out->count))
			return gc__seterr(err, GC_EPROTO, "bad range count");
		out->more = gc__etcd_get_bool(j, "more");
		rc = decode_kv_array(cJSON_GetObjectItemCaseSensitive(j, "kvs"),
				     &out->kvs, &out->kvs_count, err);
		break;
	case GC_ETCD_OP_PUT: {
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "prev_kv");
		rc = 0;
		if (p && !cJSON_IsNull(p)) {
			out->kvs = calloc(1, sizeof(*out->kvs));
			if (!out->kvs)
				return gc__seterr(err, GC_ENOMEM,
						  "out of memory");
			rc = gc__etcd_decode_kv(p, &out->kvs[0], err);
			if (rc) {
				free(out->kvs);
				out->kvs = NULL;
			} else {
				out->kvs_count = 1;
			}
		}
		break;
	}
	case GC_ETCD_OP_DELETE:
		if (gc__etcd_get_int64(j, "deleted", &out->count))
			return gc__seterr(err, GC_EPROTO,
					  "bad deleted count");
		rc = decode_kv_array(
			cJSON_GetObjectItemCaseSensitive(j, "prev_kvs"),
			&out->kvs, &out->kvs_count, err);
		break;
	default:
		return gc__seterr(err, GC_EINVAL, "unknown response type %d",
				  type);
	}
	if (rc)
		out->kvs = NULL, out->kvs_count = 0;
	return rc;
}

GC_EXTERN void gc_etcd_txn_result_clear(gc_etcd_txn_result *r)
{
	size_t i;
	if (!r)
		return;
	for (i = 0; i < r->responses_count; i++)
		gc_etcd_response_clear(&r->responses[i]);
	free(r->responses);
	memset(r, 0, sizeof(*r));
}

int gc__etcd_decode_txn(const cJSON *j, gc_etcd_txn_result *out,
			gc_error *err)
{
	const cJSON *arr, *it;
	size_t n, i = 0;
	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(j))
		return gc__seterr(err, GC_EPROTO, "txn answer is not an object");
	if (decode_header(j, &out->revision, NULL))
		return gc__seterr(err, GC_EPROTO, "bad txn header");
	out->succeeded = gc__etcd_get_bool(j, "succeeded");
	arr = cJSON_GetObjectItemCaseSensitive(j, "responses");
	if (!arr || cJSON_IsNull(arr))
		return 0;
	if (!cJSON_IsArray(arr))
		return gc__seterr(err, GC_EPROTO,
				  "txn responses is not an array");
	n = (size_t)cJSON_GetArraySize(arr);
	if (n == 0)
		return 0;
	out->responses = calloc(n, sizeof(*out->responses));
	if (!out->responses)
		return gc__seterr(err, GC_ENOMEM, "out of memory");
	cJSON_ArrayForEach(it, arr)
	{
		const cJSON *r;
		int type, rc;
		if ((r = cJSON_GetObjectItemCaseSensitive(it, "response_range")))
			type = GC_ETCD_OP_RANGE;
		else if ((r = cJSON_GetObjectItemCaseSensitive(it,
							       "response_put")))
			type = GC_ETCD_OP_PUT;
		else if ((r = cJSON_GetObjectItemCaseSensitive(
				  it, "response_delete_range")))
			type = GC_ETCD_OP_DELETE;
		else {
			gc_etcd_txn_result_clear(out);
			return gc__seterr(err, GC_EPROTO,
					  "unknown txn response #%zu", i);
		}
		rc = gc__etcd_decode_response(r, type, &out->responses[i],
					      err);
		out->responses_count = ++i;
		if (rc) {
			gc_etcd_txn_result_clear(out);
			return rc;
		}
	}
	return 0;
}

int gc__etcd_decode_keepalive(const cJSON *j, int64_t *id, int64_t *ttl,
			      gc_error *err)
{
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "result");
	*id = 0;
	*ttl = 0;
	if (!cJSON_IsObject(r))
		return gc__seterr(err, GC_EPROTO,
				  "keep-alive answer has no result");
	if (gc__etcd_get_int64(r, "ID", id) ||
	    gc__etcd_get_int64(r, "TTL", ttl))
		return gc__seterr(err, GC_EPROTO,
				  "bad ID or TTL in keep-alive answer");
	return 0;
}

GC_EXTERN void gc_etcd_lease_info_clear(gc_etcd_lease_info *info)
{
	size_t i;
	if (!info)
		return;
	for (i = 0; i < info->keys_count; i++)
		free(info->keys[i]);
	free(info->keys);
	memset(info, 0, sizeof(*info));
}

int gc__etcd_decode_timetolive(const cJSON *j, gc_etcd_lease_info *out,
			       gc_error *err)
{
	const cJSON *keys, *it;
	size_t n;
	memset(out, 0, sizeof(*out));
	if (gc__etcd_get_int64(j, "ID", &out->id) ||
	    gc__etcd_get_int64(j, "TTL", &out->ttl) ||
	    gc__etcd_get_int64(j, "grantedTTL", &out->granted_ttl))
		return gc__seterr(err, GC_EPROTO,
				  "bad ID or TTL in time-to-live answer");
	keys = cJSON_GetObjectItemCaseSensitive(j, "keys");
	if (!keys || cJSON_IsNull(keys))
		return 0;
	if (!cJSON_IsArray(keys))
		return gc__seterr(err, GC_EPROTO, "lease keys is not an array");
	n = (size_t)cJSON_GetArraySize(keys);
	if (!n)
		return 0;
	out->keys = calloc(n, sizeof(*out->keys));
	if (!out->keys)
		return gc__seterr(err, GC_ENOMEM, "out of memory");
	cJSON_ArrayForEach(it, keys)
	{
		size_t len;
		if (!cJSON_IsString(it) ||
		    gc__base64_decode(it->valuestring, strlen(it->valuestring),
				      &out->keys[out->keys_count], &len)) {
			gc_etcd_lease_info_clear(out);
			return gc__seterr(err, GC_EPROTO,
					  "bad key in time-to-live answer");
		}
		out->keys_count++;
	}
	return 0;
}

int gc__etcd_decode_error(const char *body, size_t len, int *grpc_code,
			  char **message)
{
	cJSON *j;
	const cJSON *e, *m, *code;
	*grpc_code = 0;
	*message = NULL;
	if (gc__etcd_parse(body, len, &j, NULL))
		return GC_EPROTO;
	e = cJSON_GetObjectItemCaseSensitive(j, "error");
	if (cJSON_IsString(e)) { /* unary */
		m = e;
		code = cJSON_GetObjectItemCaseSensitive(j, "code");
	} else if (cJSON_IsObject(e)) { /* streaming */
		m = cJSON_GetObjectItemCaseSensitive(e, "message");
		code = cJSON_GetObjectItemCaseSensitive(e, "grpc_code");
	} else {
		cJSON_Delete(j);
		return GC_EPROTO;
	}
	if (cJSON_IsNumber(code) && code->valuedouble >= 0 &&
	    code->valuedouble < 100)
		*grpc_code = (int)code->valuedouble;
	*message = gc__strdup(cJSON_IsString(m) ? m->valuestring : "");
	cJSON_Delete(j);
	return *message ? 0 : GC_ENOMEM;
}

int gc__etcd_grpc_to_gc(int grpc_code, const char *message)
{
	if (!message)
		message = "";
	switch (grpc_code) {
	case 3: /* InvalidArgument */
		if (strstr(message, "user name is empty") ||
		    strstr(message, "authentication failed"))
			return GC_EAUTH;
		if (strstr(message, "too large"))
			return GC_ETOOBIG;
		return GC_EINVAL;
	case 4: /* DeadlineExceeded */
		return GC_ETIMEDOUT;
	case 5: /* NotFound */
		return GC_ENOTFOUND;
	case 6: /* AlreadyExists */
		return GC_ECONFLICT;
	case 7: /* PermissionDenied */
		return GC_EPERM;
	case 8: /* ResourceExhausted */
		return GC_ETOOBIG;
	case 9: /* FailedPrecondition */
		return GC_ECONFLICT;
	case 11: /* OutOfRange */
		if (strstr(message, "compacted"))
			return GC_ECOMPACTED;
		return GC_EINVAL;
	case 1: /* Canceled */
		return GC_ECANCELED;
	case 14: /* Unavailable */
		return GC_EUNAVAIL;
	case 16: /* Unauthenticated */
		return GC_EAUTH;
	case 2: /* Unknown */
		if (strstr(message, "deadline exceeded"))
			return GC_EUNAVAIL;
		return GC_EIO;
	default:
		return GC_EIO;
	}
}

/* ------------------------------------------------------- watch lines */

void gc__etcd_watch_msg_dispose(gc__etcd_watch_msg *m)
{
	size_t i;
	if (!m)
		return;
	for (i = 0; i < m->events_count; i++) {
		gc__etcd_kv_dispose(&m->events[i].kv);
		gc__etcd_kv_dispose(&m->events[i].prev_kv);
	}
	free(m->events);
	free(m->message);
	memset(m, 0, sizeof(*m));
}

static int decode_events(const cJSON *arr, gc__etcd_watch_msg *m,
			 gc_error *err)
{
	const cJSON *it;
	size_t n;
	if (!arr || cJSON_IsNull(arr))
		return 0;
	if (!cJSON_IsArray(arr))
		return gc__seterr(err, GC_EPROTO, "watch events is not an array");
	n = (size_t)cJSON_GetArraySize(arr);
	if (!n)
		return 0;
	m->events = calloc(n, sizeof(*m->events));
	if (!m->events)
		return gc__seterr(err, GC_ENOMEM, "out of memory");
	cJSON_ArrayForEach(it, arr)
	{
		gc_etcd_event *ev = &m->events[m->events_count];
		const cJSON *type, *kv, *prev;
		int rc;
		if (!cJSON_IsObject(it))
			return gc__seterr(err, GC_EPROTO,
					  "watch event is not an object");
		type = cJSON_GetObjectItemCaseSensitive(it, "type");
		if (!type || cJSON_IsNull(type) ||
		    (cJSON_IsString(type) &&
		     strcmp(type->valuestring, "PUT") == 0) ||
		    (cJSON_IsNumber(type) && type->valuedouble == 0))
			ev->type = GC_ETCD_EVENT_PUT;
		else if ((cJSON_IsString(type) &&
			  strcmp(type->valuestring, "DELETE") == 0) ||
			 (cJSON_IsNumber(type) && type->valuedouble == 1))
			ev->type = GC_ETCD_EVENT_DELETE;
		else
			return gc__seterr(err, GC_EPROTO,
					  "unknown watch event type");
		kv = cJSON_GetObjectItemCaseSensitive(it, "kv");
		if (!cJSON_IsObject(kv))
			return gc__seterr(err, GC_EPROTO,
					  "watch event without kv");
		rc = gc__etcd_decode_kv(kv, &ev->kv, err);
		if (rc)
			return rc;
		m->events_count++;
		prev = cJSON_GetObjectItemCaseSensitive(it, "prev_kv");
		if (prev && !cJSON_IsNull(prev)) {
			rc = gc__etcd_decode_kv(prev, &ev->prev_kv, err);
			if (rc)
				return rc;
			ev->has_prev_kv = 1;
		}
	}
	return 0;
}

int gc__etcd_decode_watch_msg(const char *line, size_t len,
			      gc__etcd_watch_msg *out, gc_error *err)
{
	cJSON *j;
	const cJSON *r, *e, *reason;
	int rc;
	memset(out, 0, sizeof(*out));
	rc = gc__etcd_parse(line, len, &j, err);
	if (rc)
		return rc;
	e = cJSON_GetObjectItemCaseSensitive(j, "error");
	if (e) {
		cJSON_Delete(j);
		out->is_error = 1;
		rc = gc__etcd_decode_error(line, len, &out->grpc_code,
					   &out->message);
		if (rc == GC_ENOMEM)
			return gc__seterr(err, rc, "out of memory");
		if (rc)
			return gc__seterr(err, GC_EPROTO,
					  "malformed error in watch stream");
		return 0;
	}
	r = cJSON_GetObjectItemCaseSensitive(j, "result");
	if (!cJSON_IsObject(r)) {
		cJSON_Delete(j);
		return gc__seterr(err, GC_EPROTO,
				  "watch message has neither result nor error");
	}
	if (decode_header(r, &out->revision, NULL) ||
	    gc__etcd_get_int64(r, "watch_id", &out->watch_id) ||
	    gc__etcd_get_int64(r, "compact_revision", &out->compact_revision)) {
		cJSON_Delete(j);
		return gc__seterr(err, GC_EPROTO,
				  "bad header, watch_id or compact_revision "
				  "in watch message");
	}
	out->created = gc__etcd_get_bool(r, "created");
	out->canceled = gc__etcd_get_bool(r, "canceled");
	reason = cJSON_GetObjectItemCaseSensitive(r, "cancel_reason");
	if (cJSON_IsString(reason) && reason->valuestring[0]) {
		out->message = gc__strdup(reason->valuestring);
		if (!out->message) {
			cJSON_Delete(j);
			return gc__seterr(err, GC_ENOMEM, "out of memory");
		}
	}
	rc = decode_events(cJSON_GetObjectItemCaseSensitive(r, "events"), out,
			   err);
	cJSON_Delete(j);
	if (rc)
		gc__etcd_watch_msg_dispose(out);
	return rc;
}
