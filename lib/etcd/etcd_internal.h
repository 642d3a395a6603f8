/* etcd client internals shared by the lib/etcd sources (and the decoding tests and
 * fuzz target). Not installed. */
#ifndef GC_ETCD_INTERNAL_H
#define GC_ETCD_INTERNAL_H

#include <gophercron/etcd.h>

#include "internal.h"

#include <cJSON.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>

#define GC__ETCD_DEFAULT_CONNECT_MS 1000
#define GC__ETCD_DEFAULT_REQUEST_MS 3000
#define GC__ETCD_DEFAULT_MAX_RESPONSE ((size_t)64 << 20)

/* options.c: the versions of the options structs (internal.h). */
extern const gc__optver gc__etcd_optver, gc__etcd_get_optver,
    gc__etcd_keeper_optver, gc__etcd_watch_optver;

/* One HTTP connection for unary calls (a reused curl easy handle). */
typedef struct gc__etcd_conn {
	CURLM *multi; /* drives easy (curl_easy_perform's own multi leaks a
		       * non-close-on-exec socketpair in curl 7.88) */
	CURL *easy;
	atomic_int *abort; /* optional: non-zero aborts the call */
	gc__buf body;  /* response body */
	size_t max;    /* cap on body */
	int too_big;   /* body exceeded max: transfer aborted */
	char errbuf[CURL_ERROR_SIZE];
} gc__etcd_conn;

struct gc_etcd {
	char **endpoints; /* normalised "scheme://host:port", immutable */
	size_t endpoints_count;
	char *username;
	char *password;
	int connect_timeout_ms;
	int request_timeout_ms;
	int retry_timeout_ms;
	char *tls_ca_file;
	char *tls_cert_file;
	char *tls_key_file;
	size_t max_response;
	int watch_progress_ms;
	gc_log_fn log;
	void *log_payload;

	pthread_mutex_t lock; /* guards cur, token, token_gen */
	size_t cur;           /* endpoint in use */
	char *token;
	uint64_t token_gen;

	pthread_mutex_t call_lock; /* guards conn */
	gc__etcd_conn conn;

	/* Set while the watches cannot reach etcd, once that was said: an
	 * outage is logged once (and its end), not at every retry. */
	atomic_int watch_down;
};

/* Per-call knobs of gc__etcd_post. */
typedef struct gc__etcd_post_opts {
	int retry_timeout_ms; /* 0 = client default */
	int no_auth;          /* don't send/obtain a token (authenticate) */
	/* Each attempt's own timeout, not cut to what is left of the retry
	 * budget; 0 = the client's request timeout, cut to it. */
	int attempt_timeout_ms;
} gc__etcd_post_opts;

int gc__etcd_conn_init(gc_etcd *c, gc__etcd_conn *conn, gc_error *err);
void gc__etcd_conn_dispose(gc__etcd_conn *conn);
/* curl_multi_init, then mark close-on-exec the descriptors curl created
 * without it (its wakeup socketpair). */
CURLM *gc__etcd_multi_init(void);
/* Common options on any easy handle (timeouts, TLS, keep-alive, CLOEXEC
 * sockets, no signals). */
void gc__etcd_easy_setup(gc_etcd *c, CURL *easy);
/* Header list for a request: JSON, hasleader, token (may be NULL). */
struct curl_slist *gc__etcd_headers(const char *token);
/* Run the transfer set up on conn->easy to its end (abortable through
 * conn->abort), the body into conn->body; *status = HTTP status (0 when
 * none). */
CURLcode gc__etcd_conn_drive(gc__etcd_conn *conn, long *status);
/* curl result -> GC_E* (timeout, out of memory, unreachable, else EIO). */
int gc__etcd_curl_to_gc(CURLcode rc);
/* A failed transfer after which calls move to the next endpoint (not a
 * cancel, out of memory, or a TLS configuration error). */
int gc__etcd_failover_worthy(CURLcode crc);
/* A transfer that found no etcd there: refused, unknown host, timed out. */
int gc__etcd_unreachable(CURLcode crc);
/* Move off endpoint `from` unless another caller already did. */
void gc__etcd_advance(gc_etcd *c, size_t from);

/* POST body to path with failover and authentication; on HTTP 200 the
 * parsed JSON object goes to *out (caller frees with cJSON_Delete).
 * *ambiguous (may be NULL) is set when an earlier attempt may have been
 * applied before the one that answered. */
int gc__etcd_post(gc_etcd *c, gc__etcd_conn *conn, const char *path,
		  const char *body, const gc__etcd_post_opts *po, cJSON **out,
		  int *ambiguous, gc_error *err);
/* Same, with a cJSON request (not consumed). */
int gc__etcd_post_json(gc_etcd *c, gc__etcd_conn *conn, const char *path,
		       const cJSON *req, const gc__etcd_post_opts *po,
		       cJSON **out, int *ambiguous, gc_error *err);

/* Obtain a fresh token if the one of generation `seen_gen` is still the
 * current one (another thread may have refreshed it already). */
int gc__etcd_reauth(gc_etcd *c, gc__etcd_conn *conn, uint64_t seen_gen,
		    gc_error *err);
/* Copy of the current token (NULL when auth is off) and its generation;
 * ensures one exists when a username is configured. */
int gc__etcd_token(gc_etcd *c, gc__etcd_conn *conn, char **token,
		   uint64_t *gen, gc_error *err);
size_t gc__etcd_current(gc_etcd *c);
/* One keep-alive on `conn`; GC_ENOTFOUND when the lease is gone.
 * retry_ms bounds the failover (0 = client default). */
int gc__etcd_keepalive(gc_etcd *c, gc__etcd_conn *conn, int64_t id,
		       int retry_ms, int64_t *ttl_out, gc_error *err);

/* ------------------------------------------------------- encoding */

/* "%" PRId64 as a JSON string member. */
int gc__etcd_add_int64(cJSON *obj, const char *name, int64_t v);
/* base64 of (data, len) as a string member. */
int gc__etcd_add_bytes(cJSON *obj, const char *name, const void *data,
		       size_t len);
/* key + range_end members for a key with PREFIX/FROM_KEY/range_end. */
int gc__etcd_add_range(cJSON *obj, const char *key, unsigned flags,
		       const char *range_end);
cJSON *gc__etcd_encode_range(const char *key, const gc_etcd_get_options *o);
cJSON *gc__etcd_encode_op(const gc_etcd_op *op); /* RequestOp */
cJSON *gc__etcd_encode_txn(const gc_etcd_txn_request *t);

/* ------------------------------------------------------- decoding */

/* Parse one JSON object (bounded by len, no NUL needed). */
int gc__etcd_parse(const char *data, size_t len, cJSON **out,
		   gc_error *err);
/* An int64 member sent as a JSON string (absent = 0). */
int gc__etcd_get_int64(const cJSON *obj, const char *name, int64_t *out);
int gc__etcd_get_uint64(const cJSON *obj, const char *name, uint64_t *out);
/* A bytes member (base64; absent = ""); *out malloc'd, NUL-terminated. */
int gc__etcd_get_bytes(const cJSON *obj, const char *name, char **out,
		       size_t *len);
/* A boolean member (absent = false). */
int gc__etcd_get_bool(const cJSON *obj, const char *name);

int gc__etcd_decode_kv(const cJSON *j, gc_etcd_kv *kv, gc_error *err);
void gc__etcd_kv_dispose(gc_etcd_kv *kv);
/* A RangeResponse / PutResponse / DeleteRangeResponse body. */
int gc__etcd_decode_response(const cJSON *j, int type, gc_etcd_response *out,
			     gc_error *err);
int gc__etcd_decode_txn(const cJSON *j, gc_etcd_txn_result *out,
			gc_error *err);
/* Keep-alive answer: {"result":{...,"ID","TTL"}}; *ttl 0 = lease gone. */
int gc__etcd_decode_keepalive(const cJSON *j, int64_t *id, int64_t *ttl,
			      gc_error *err);
int gc__etcd_decode_timetolive(const cJSON *j, gc_etcd_lease_info *out,
			       gc_error *err);
/* Error body, unary {"error":"..","message":"..","code":N} or streaming
 * {"error":{"grpc_code":N,"message":".."}}. Returns 0 when recognised;
 * *message malloc'd. */
int gc__etcd_decode_error(const char *body, size_t len, int *grpc_code,
			  char **message);

/* One line of a watch stream. */
typedef struct gc__etcd_watch_msg {
	int is_error; /* {"error":{...}}: the stream failed */
	int grpc_code;
	char *message; /* error message or cancel_reason (malloc'd or NULL) */
	int64_t revision; /* header.revision (0 when absent) */
	int64_t watch_id;
	int created;
	int canceled;
	int64_t compact_revision;
	gc_etcd_event *events;
	size_t events_count;
} gc__etcd_watch_msg;

int gc__etcd_decode_watch_msg(const char *line, size_t len,
			      gc__etcd_watch_msg *out, gc_error *err);
void gc__etcd_watch_msg_dispose(gc__etcd_watch_msg *m);

/* An HTTP Date value in RFC 7231 IMF-fixdate form ("Sun, 06 Nov 1994
 * 08:49:37 GMT", exactly; weekday checked) -> unix seconds. GC_EINVAL for
 * anything else, including the obsolete RFC 850 and asctime forms. */
int gc__etcd_parse_http_date(const char *s, size_t len, int64_t *unix_s);

/* gRPC status code -> GC_E* (message decides a few). */
int gc__etcd_grpc_to_gc(int grpc_code, const char *message);

#endif
