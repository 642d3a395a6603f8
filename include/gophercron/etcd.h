/* libgophercron: etcd v3 client over the gRPC-JSON gateway (/v3/...).
 *
 * Every etcd operation of the agent and the service goes through this
 * client: KV (get, put, delete, txn), leases (grant, revoke, time-to-live,
 * background keep-alive), watches (many at once on one thread or in the
 * caller's event loop), and the "claim a key once" helper.
 *
 * Behaviour common to every call:
 *  - Endpoints: the client sticks to one endpoint and moves to the next on
 *    connection errors, timeouts, HTTP 503 and "context deadline exceeded";
 *    a call keeps failing over (with a short backoff after each full round)
 *    until it succeeds or `retry_timeout_ms` has passed (gc_etcd_get can
 *    set both timeouts per call). TLS verification
 *    and certificate-file errors are configuration errors: not retried.
 *    An attempt that timed out or lost its connection may still have been
 *    applied, so a retried write can be applied twice; every call here is
 *    safe to repeat (a put writes the same value again, a delete deletes
 *    nothing more, a revoke of a revoked lease is GC_ENOTFOUND), and
 *    gc_etcd_claim_key recognises its own earlier success.
 *  - `Grpc-Metadata-Hasleader: true` is sent on every request, so a member
 *    without a leader fails fast and the client moves on.
 *  - Authentication (username set): the client authenticates on first use,
 *    sends the token, and re-authenticates once when etcd rejects it as
 *    invalid or expired (HTTP 401). A permission error (HTTP 403) is
 *    GC_EPERM and is not retried.
 *  - Errors fill `gc_error` with the endpoint, the HTTP status and etcd's
 *    own message, e.g. "etcd http://127.0.0.1:2379/v3/kv/put: HTTP 403:
 *    etcdserver: permission denied".
 *  - Revisions and lease IDs are int64_t end to end (sent as JSON strings,
 *    never through a double).
 *  - Keys are NUL-terminated strings; values are (pointer, length) byte
 *    strings. Returned keys and values are always NUL-terminated as well.
 *
 * Threads: a gc_etcd handle may be shared by threads; its unary calls are
 * serialised by an internal mutex (one connection per handle). Threads that
 * need calls in parallel create one handle each (cheap: no I/O until the
 * first call). A gc_etcd_watcher and a gc_etcd_lease_keeper each use their
 * own connections and belong to one thread (see their sections); both keep
 * a pointer to the gc_etcd they were created from, which must outlive them.
 */
#ifndef GOPHERCRON_ETCD_H
#define GOPHERCRON_ETCD_H

#include <gophercron/common.h>
#include <gophercron/config.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gc_etcd gc_etcd;

/* ------------------------------------------------------------ client */

#define GC_ETCD_OPTIONS_VERSION 1

typedef struct gc_etcd_options {
	unsigned version; /* GC_ETCD_OPTIONS_VERSION */

	/* "http://host:port", "https://host:port" or bare "host:port" (as in
	 * the config `service = ["127.0.0.1:2379"]`; bare means https when
	 * tls_ca_file is set, http otherwise). Either `endpoints_count`
	 * entries, or a NULL-terminated array when endpoints_count is 0. */
	const char *const *endpoints;
	size_t endpoints_count;

	/* Authentication; NULL username = auth off (no header is sent). */
	const char *username;
	const char *password;

	int connect_timeout_ms; /* default 1000 */
	int request_timeout_ms; /* one attempt of a unary call; default 3000 */
	/* Total time a unary call may spend failing over between endpoints
	 * before it gives up; default 2 * request_timeout_ms + 1000. */
	int retry_timeout_ms;

	/* TLS (https endpoints): CA bundle, client certificate and key. */
	const char *tls_ca_file;
	const char *tls_cert_file;
	const char *tls_key_file;

	/* Largest response body, and largest single watch message, accepted;
	 * default 64 MiB. Bigger answers fail with GC_ETOOBIG. */
	size_t max_response_bytes;

	/* The server's --experimental-watch-progress-notify-interval if known
	 * (ms). When set, a watch stream silent for 3x this long is treated as
	 * dead and resumed elsewhere. 0 = unknown: rely on TCP keep-alive and
	 * the hasleader header. */
	int watch_progress_interval_ms;

	/* Log lines (failovers, re-authentication, watch resumes); never
	 * includes passwords or tokens. NULL = silent. */
	gc_log_fn log;
	void *log_payload;
} gc_etcd_options;

#define GC_ETCD_OPTIONS_INIT {GC_ETCD_OPTIONS_VERSION, NULL, 0, NULL, NULL, \
	0, 0, 0, NULL, NULL, NULL, 0, 0, NULL, NULL}

/* Fill `o` with defaults (zeroes) for `version` (pass
 * GC_ETCD_OPTIONS_VERSION): 0, or GC_EINVAL for a version this library
 * does not know. Every gc_*_options_init works so. */
GC_EXTERN int gc_etcd_options_init(gc_etcd_options *o, unsigned version);

/* The connect timeout an [etcd] section gives at most (see below). */
#define GC_ETCD_CONFIG_MAX_CONNECT_MS 1000

/* Set the fields an [etcd] section gives, on options set up by
 * gc_etcd_options_init (the other fields are left alone): endpoints,
 * username, password, the TLS files, and `dialtimeout` as the connect
 * timeout, at most GC_ETCD_CONFIG_MAX_CONNECT_MS (the original's 5000 ms
 * would hold a tick or a request 5 s on an unreachable member before
 * failing over; a member that does not accept a connection within a
 * second is passed over). `prefix` is not a client option: the caller
 * keeps it. The strings are borrowed from `c`: keep it until gc_etcd_new
 * has copied them. 0, or GC_EINVAL (NULL, or `o` not initialised). */
GC_EXTERN int gc_etcd_options_from_config(gc_etcd_options *o,
					  const gc_etcd_config *c);

/* Create a client. Copies everything it needs from `o`; does no I/O. */
GC_EXTERN int gc_etcd_new(gc_etcd **out, const gc_etcd_options *o,
			  gc_error *err);
GC_EXTERN void gc_etcd_free(gc_etcd *c);

/* The endpoint currently in use ("http://127.0.0.1:2379"); valid until the
 * next call on `c`. */
GC_EXTERN const char *gc_etcd_endpoint(gc_etcd *c);

/* --------------------------------------------------------------- KV */

/* One key-value pair as etcd stores it. */
typedef struct gc_etcd_kv {
	char *key; /* NUL-terminated */
	size_t key_len;
	char *value; /* NUL-terminated; "" for an empty value or keys_only */
	size_t value_len;
	int64_t create_revision;
	int64_t mod_revision;
	int64_t version;
	int64_t lease; /* 0 = none */
} gc_etcd_kv;

/* Request flags (combine with |). Each says which calls it applies to. */
enum {
	GC_ETCD_PREFIX = 1u << 0,       /* get/delete/watch/op: key is a prefix */
	GC_ETCD_FROM_KEY = 1u << 1,     /* get/delete/watch/op: every key >= key */
	GC_ETCD_PREV_KV = 1u << 2,      /* put/delete/watch/op: return previous */
	GC_ETCD_KEYS_ONLY = 1u << 3,    /* get/op range: no values */
	GC_ETCD_COUNT_ONLY = 1u << 4,   /* get/op range: only the count */
	GC_ETCD_SERIALIZABLE = 1u << 5, /* get/op range: local (maybe stale) */
	GC_ETCD_IGNORE_VALUE = 1u << 6, /* put/op: keep the current value */
	GC_ETCD_IGNORE_LEASE = 1u << 7, /* put/op: keep the current lease */
	GC_ETCD_NO_PUT = 1u << 8,       /* watch: filter out PUT events */
	GC_ETCD_NO_DELETE = 1u << 9     /* watch: filter out DELETE events */
};

enum { /* sort_target */
	GC_ETCD_SORT_KEY = 0,
	GC_ETCD_SORT_VERSION = 1,
	GC_ETCD_SORT_CREATE = 2,
	GC_ETCD_SORT_MOD = 3,
	GC_ETCD_SORT_VALUE = 4
};
enum { /* sort_order */
	GC_ETCD_SORT_NONE = 0,
	GC_ETCD_SORT_ASCEND = 1,
	GC_ETCD_SORT_DESCEND = 2
};

enum { /* gc_etcd_op.type and gc_etcd_response.type */
	GC_ETCD_OP_RANGE = 1,
	GC_ETCD_OP_PUT = 2,
	GC_ETCD_OP_DELETE = 3
};

/* The answer to one get/put/delete (alone or inside a txn). */
typedef struct gc_etcd_response {
	int type;         /* GC_ETCD_OP_* */
	int64_t revision; /* store revision after the operation */
	/* RANGE: number of keys in the range (all of them, not just the
	 * returned ones); DELETE: number of keys deleted; PUT: 0. */
	int64_t count;
	int more; /* RANGE: more keys than `limit` returned */
	/* RANGE: the keys; PUT with PREV_KV: the previous pair (0 or 1);
	 * DELETE with PREV_KV: the deleted pairs. */
	gc_etcd_kv *kvs;
	size_t kvs_count;
	uint64_t member_id; /* member that answered (0 inside a txn) */
} gc_etcd_response;

/* Free what a response holds (not the struct itself); zeroes it. */
GC_EXTERN void gc_etcd_response_clear(gc_etcd_response *r);

#define GC_ETCD_GET_OPTIONS_VERSION 2
typedef struct gc_etcd_get_options {
	unsigned version;  /* GC_ETCD_GET_OPTIONS_VERSION (1: no timeouts) */
	unsigned flags;    /* PREFIX, FROM_KEY, KEYS_ONLY, COUNT_ONLY, SERIALIZABLE */
	const char *range_end; /* explicit [key, range_end); overrides PREFIX */
	int64_t limit;     /* 0 = no limit */
	int64_t revision;  /* 0 = latest; else read at that revision */
	int sort_target;   /* GC_ETCD_SORT_KEY.. */
	int sort_order;    /* GC_ETCD_SORT_NONE.. */
	/* Version 2. This call's own timeout of one attempt (ms): every
	 * attempt, also one after a failover, gets all of it, never just what
	 * is left of the retry budget. 0 = the client's request_timeout_ms,
	 * cut to what is left of the budget (at least 500 ms). */
	int timeout_ms;
	/* Version 2. How long the call may keep failing over: a new attempt
	 * starts only before this has passed (ms). 0 = the client's
	 * retry_timeout_ms. */
	int retry_timeout_ms;
} gc_etcd_get_options;
#define GC_ETCD_GET_OPTIONS_INIT {GC_ETCD_GET_OPTIONS_VERSION, 0, NULL, 0, 0, 0, 0, 0, 0}
GC_EXTERN int gc_etcd_get_options_init(gc_etcd_get_options *o,
				       unsigned version);

/* Read one key (o == NULL or no range flags) or a range. A missing key is
 * not an error: out->kvs_count == 0. Reading at a compacted revision gives
 * GC_ECOMPACTED; an attempt that ran out of its timeout, GC_ETIMEDOUT.
 * Options of version 1 are accepted (the client's timeouts apply), newer
 * versions than this header's are refused (GC_EINVAL). */
GC_EXTERN int gc_etcd_get(gc_etcd_response *out, gc_etcd *c, const char *key,
			  const gc_etcd_get_options *o, gc_error *err);

/* Put `value` under `key`, attached to `lease` (0 = none). flags: PREV_KV,
 * IGNORE_VALUE (value not sent: keep the stored one), IGNORE_LEASE (lease
 * not sent: keep the attached one). `out` may be NULL. An unknown lease
 * gives GC_ENOTFOUND. */
GC_EXTERN int gc_etcd_put(gc_etcd_response *out, gc_etcd *c, const char *key,
			  const void *value, size_t value_len, int64_t lease,
			  unsigned flags, gc_error *err);

/* Delete `key`, or a range with PREFIX / FROM_KEY. flags may add PREV_KV.
 * out->count is the number deleted. `out` may be NULL; `deleted` (may be
 * NULL) receives the count too. */
GC_EXTERN int gc_etcd_delete(gc_etcd_response *out, int64_t *deleted,
			     gc_etcd *c, const char *key, unsigned flags,
			     gc_error *err);

/* Compact the history up to `revision` (physical: wait until it is done). */
GC_EXTERN int gc_etcd_compact(gc_etcd *c, int64_t revision, int physical,
			      gc_error *err);

/* -------------------------------------------------------------- txn */

enum { /* gc_etcd_compare.target */
	GC_ETCD_CMP_VERSION = 0,
	GC_ETCD_CMP_CREATE = 1, /* create_revision; 0 = key does not exist */
	GC_ETCD_CMP_MOD = 2,
	GC_ETCD_CMP_VALUE = 3,
	GC_ETCD_CMP_LEASE = 4
};
enum { /* gc_etcd_compare.result */
	GC_ETCD_CMP_EQUAL = 0,
	GC_ETCD_CMP_GREATER = 1,
	GC_ETCD_CMP_LESS = 2,
	GC_ETCD_CMP_NOT_EQUAL = 3
};

typedef struct gc_etcd_compare {
	const char *key;
	int target;        /* GC_ETCD_CMP_VERSION.. */
	int result;        /* GC_ETCD_CMP_EQUAL.. */
	int64_t number;    /* VERSION, CREATE, MOD, LEASE */
	const void *value; /* VALUE */
	size_t value_len;
} gc_etcd_compare;

/* One operation of a txn branch. Unused fields stay zero. */
typedef struct gc_etcd_op {
	int type; /* GC_ETCD_OP_RANGE, _PUT, _DELETE */
	const char *key;
	const void *value; /* PUT */
	size_t value_len;  /* PUT */
	int64_t lease;     /* PUT */
	unsigned flags;    /* as for get / put / delete */
	const char *range_end; /* RANGE, DELETE: explicit end */
	int64_t limit;     /* RANGE */
	int64_t revision;  /* RANGE */
	int sort_target;   /* RANGE */
	int sort_order;    /* RANGE */
} gc_etcd_op;

typedef struct gc_etcd_txn_request {
	const gc_etcd_compare *compare;
	size_t compare_count;
	const gc_etcd_op *success;
	size_t success_count;
	const gc_etcd_op *failure;
	size_t failure_count;
} gc_etcd_txn_request;

typedef struct gc_etcd_txn_result {
	int64_t revision;  /* store revision after the txn */
	int succeeded;     /* every compare held: the success branch ran */
	/* One response per op of the branch that ran, in order. */
	gc_etcd_response *responses;
	size_t responses_count;
} gc_etcd_txn_result;

GC_EXTERN void gc_etcd_txn_result_clear(gc_etcd_txn_result *r);

/* Run a transaction. Returns 0 whichever branch ran (see out->succeeded);
 * an error only when etcd refused or could not be reached. */
GC_EXTERN int gc_etcd_txn(gc_etcd_txn_result *out, gc_etcd *c,
			  const gc_etcd_txn_request *txn,
			  gc_error *err);

/* ------------------------------------------------------------ claim */

#define GC_ETCD_CLAIM_VERSION 1
typedef struct gc_etcd_claim {
	unsigned version; /* GC_ETCD_CLAIM_VERSION */
	const char *key;  /* the key to create only if absent */
	const void *value;
	size_t value_len;
	int64_t lease; /* attach the key to this lease (0 = none) */
	/* More conditions that must also hold (ANDed with "key absent"). */
	const gc_etcd_compare *compare;
	size_t compare_count;
	/* More operations done in the same txn when the claim is won, e.g. a
	 * put of the task's status key. */
	const gc_etcd_op *ops;
	size_t ops_count;
} gc_etcd_claim;

typedef struct gc_etcd_claim_result {
	int64_t revision; /* store revision after the txn */
	/* Won: create revision of the new key (a fencing token: it grows with
	 * every claim ever won). Lost: the holder's create revision. */
	int64_t create_revision;
	/* Lost: the holder (absent only when an extra compare failed while the
	 * key itself was free: holder_present == 0). */
	int holder_present;
	char *holder_value; /* NUL-terminated, malloc'd */
	size_t holder_value_len;
	int64_t holder_mod_revision;
	int64_t holder_lease;
	/* Won: responses to the extra ops (in order). */
	gc_etcd_response *responses;
	size_t responses_count;
} gc_etcd_claim_result;

GC_EXTERN void gc_etcd_claim_result_clear(gc_etcd_claim_result *r);

/* Create claim->key only if it does not exist (create_revision == 0) and
 * every extra compare holds, under claim->lease, plus claim->ops, in ONE
 * txn. The failure branch reads the key in the same txn, so a lost race
 * reports the holder atomically.
 *  0            won; out->create_revision is the fencing token.
 *  GC_ECONFLICT lost; out->holder_* describe the holder (or, with
 *               holder_present == 0, an extra compare failed).
 * When a first attempt may have been applied (timeout, dropped connection)
 * and the retry finds the key held with our exact value and lease, that is
 * reported as won. `out` may be NULL. */
GC_EXTERN int gc_etcd_claim_key(gc_etcd_claim_result *out, gc_etcd *c,
				const gc_etcd_claim *claim, gc_error *err);

/* ----------------------------------------------------------- leases */

/* Grant a lease of `ttl_s` seconds (`id` 0 = let etcd choose). `id_out` and
 * `ttl_out` (either may be NULL) receive the lease ID and granted TTL. */
GC_EXTERN int gc_etcd_lease_grant(int64_t *id_out, int64_t *ttl_out,
				  gc_etcd *c, int64_t ttl_s, int64_t id,
				  gc_error *err);

/* Revoke a lease: every key attached to it is deleted at once.
 * GC_ENOTFOUND when the lease does not exist (any more). */
GC_EXTERN int gc_etcd_lease_revoke(gc_etcd *c, int64_t id, gc_error *err);

/* One keep-alive round trip. `ttl_out` receives the renewed TTL.
 * GC_ENOTFOUND when the lease has expired or was revoked. */
GC_EXTERN int gc_etcd_lease_keepalive_once(int64_t *ttl_out, gc_etcd *c,
					   int64_t id, gc_error *err);

typedef struct gc_etcd_lease_info {
	int64_t id;
	int64_t ttl;         /* remaining seconds */
	int64_t granted_ttl; /* as granted */
	char **keys;         /* with want_keys: attached keys (NUL-terminated) */
	size_t keys_count;
} gc_etcd_lease_info;

GC_EXTERN void gc_etcd_lease_info_clear(gc_etcd_lease_info *info);

/* Remaining TTL of a lease (and its keys with want_keys != 0).
 * GC_ENOTFOUND when it has expired or was revoked. */
GC_EXTERN int gc_etcd_lease_timetolive(gc_etcd_lease_info *out, gc_etcd *c,
				       int64_t id, int want_keys,
				       gc_error *err);

/* ----------------------------------------------------- lease keeper
 *
 * Keeps leases alive: one keep-alive POST per lease every TTL/3 (on its own
 * connection, failing over like every call). A lease is reported lost, once,
 * through `on_lost` and then dropped from the keeper, when
 *  - etcd answers that it no longer exists (code GC_ENOTFOUND), or
 *  - no keep-alive succeeded for longer than TTL minus `margin_ms` (code
 *    GC_EUNAVAIL): the lease may have expired by now, so whatever it
 *    protects must be considered lost.
 *
 * Two ways to drive it:
 *  - own thread (options.own_thread = 1): gc_etcd_lease_keeper_new starts a
 *    thread; callbacks run on it; add/remove/free may be called from any
 *    thread.
 *  - caller-driven (own_thread = 0): call gc_etcd_lease_keeper_step() when
 *    gc_etcd_lease_keeper_timeout_ms() has passed; it sends the keep-alives
 *    that are due (blocking, each bounded by the request timeout) and runs
 *    the callbacks on the calling thread.
 */
typedef struct gc_etcd_lease_keeper gc_etcd_lease_keeper;

/* `code`: GC_ENOTFOUND (etcd says gone) or GC_EUNAVAIL (unreachable too
 * long); `reason` is a human-readable message. */
typedef void (*gc_etcd_lease_lost_fn)(int64_t lease, int code,
				      const char *reason, void *payload);

#define GC_ETCD_KEEPER_OPTIONS_VERSION 1
typedef struct gc_etcd_keeper_options {
	unsigned version; /* GC_ETCD_KEEPER_OPTIONS_VERSION */
	int own_thread;
	gc_etcd_lease_lost_fn on_lost;
	void *payload;
	/* Give up this long before the TTL would run out; default TTL/6
	 * (at least 300 ms, at most TTL/2). */
	int margin_ms;
} gc_etcd_keeper_options;
#define GC_ETCD_KEEPER_OPTIONS_INIT {GC_ETCD_KEEPER_OPTIONS_VERSION, 0, NULL, NULL, 0}
GC_EXTERN int gc_etcd_keeper_options_init(gc_etcd_keeper_options *o,
					  unsigned version);

GC_EXTERN int gc_etcd_lease_keeper_new(gc_etcd_lease_keeper **out, gc_etcd *c,
				       const gc_etcd_keeper_options *o,
				       gc_error *err);
/* Start keeping `lease` (granted with `ttl_s`) alive; the first keep-alive
 * is sent after ttl_s/3. Adding a lease already kept updates its TTL. */
GC_EXTERN int gc_etcd_lease_keeper_add(gc_etcd_lease_keeper *k, int64_t lease,
				       int64_t ttl_s, gc_error *err);
/* Stop keeping `lease` alive (does not revoke it). GC_ENOTFOUND if it was
 * not kept (e.g. already reported lost). */
GC_EXTERN int gc_etcd_lease_keeper_remove(gc_etcd_lease_keeper *k,
					  int64_t lease);
/* Number of leases kept. */
GC_EXTERN size_t gc_etcd_lease_keeper_count(gc_etcd_lease_keeper *k);
/* Caller-driven mode: ms until the next keep-alive is due (0 = now, -1 =
 * nothing kept). */
GC_EXTERN int gc_etcd_lease_keeper_timeout_ms(gc_etcd_lease_keeper *k);
/* Caller-driven mode: send due keep-alives, report losses. */
GC_EXTERN int gc_etcd_lease_keeper_step(gc_etcd_lease_keeper *k,
					gc_error *err);
/* Stop (joins the thread) and free. Does not revoke the leases. */
GC_EXTERN void gc_etcd_lease_keeper_free(gc_etcd_lease_keeper *k);

/* ----------------------------------------------------------- watches
 *
 * A gc_etcd_watcher multiplexes any number of watches (one HTTP stream
 * each) with curl multi on one thread: the thread that calls
 * gc_etcd_watcher_poll(). All callbacks run inside poll, on that thread, and
 * may call gc_etcd_watch_add / _cancel / _resume (not poll itself). Only
 * gc_etcd_watcher_wakeup() may be called from other threads.
 *
 * Event-loop integration: gc_etcd_watcher_fd() is a descriptor that becomes
 * readable whenever poll has work; gc_etcd_watcher_timeout_ms() says when
 * poll must be called at the latest. Call gc_etcd_watcher_poll(w, 0) when
 * either fires. A dedicated thread simply loops on poll(w, -1).
 *
 * Each watch asks for progress notifications and keeps `next_revision`
 * (last delivered mod_revision + 1). After any disconnect or in-band error
 * it reconnects with start_revision = next_revision, rotating endpoints,
 * with a backoff from 100 ms up to 2 s; replayed events older than
 * next_revision are dropped, so every event is delivered exactly once.
 * When the history it needs was compacted, on_compacted is called and the
 * watch stops: re-list, then add a new watch from the listed revision + 1
 * (or gc_etcd_watch_resume). When etcd cancels the watch for a reason that
 * will not go away (permission denied, bad range), on_error is called and
 * the watch stops. A stopped watch still has to be cancelled to free it. */
typedef struct gc_etcd_watcher gc_etcd_watcher;
typedef struct gc_etcd_watch gc_etcd_watch;

enum { GC_ETCD_EVENT_PUT = 0, GC_ETCD_EVENT_DELETE = 1 };

typedef struct gc_etcd_event {
	int type; /* GC_ETCD_EVENT_PUT / _DELETE */
	/* PUT: the new pair; DELETE: key and mod_revision (the deletion's
	 * revision), other fields 0. */
	gc_etcd_kv kv;
	int has_prev_kv; /* with GC_ETCD_PREV_KV, when etcd still had it */
	gc_etcd_kv prev_kv;
} gc_etcd_event;

/* Events of one etcd message (a txn's events arrive together), in revision
 * order. `revision` is the store revision at the time of the message. The
 * events are valid only during the call. */
typedef void (*gc_etcd_watch_events_fn)(gc_etcd_watch *watch,
					const gc_etcd_event *events,
					size_t count, int64_t revision,
					void *payload);
/* History up to `compact_revision` is gone; the watch has stopped. */
typedef void (*gc_etcd_watch_compacted_fn)(gc_etcd_watch *watch,
					   int64_t compact_revision,
					   void *payload);
/* The watch stopped for good: `code` GC_EPERM, GC_EAUTH, GC_EINVAL, ... and
 * etcd's reason in `msg`. */
typedef void (*gc_etcd_watch_error_fn)(gc_etcd_watch *watch, int code,
				       const char *msg, void *payload);
/* Optional: the stream is (re)established (created == 1) or etcd confirmed
 * progress up to `revision` with no events for this watch. */
typedef void (*gc_etcd_watch_progress_fn)(gc_etcd_watch *watch,
					  int64_t revision, int created,
					  void *payload);

#define GC_ETCD_WATCH_OPTIONS_VERSION 1
typedef struct gc_etcd_watch_options {
	unsigned version; /* GC_ETCD_WATCH_OPTIONS_VERSION */
	unsigned flags;   /* PREFIX, FROM_KEY, PREV_KV, NO_PUT, NO_DELETE */
	const char *range_end; /* explicit [key, range_end); overrides PREFIX */
	/* First revision to deliver; 0 = changes after the watch is created. */
	int64_t start_revision;
	gc_etcd_watch_events_fn on_events; /* required */
	gc_etcd_watch_compacted_fn on_compacted;
	gc_etcd_watch_error_fn on_error;
	gc_etcd_watch_progress_fn on_progress;
	void *payload;
} gc_etcd_watch_options;
#define GC_ETCD_WATCH_OPTIONS_INIT {GC_ETCD_WATCH_OPTIONS_VERSION, 0, NULL, 0, NULL, NULL, NULL, NULL, NULL}
GC_EXTERN int gc_etcd_watch_options_init(gc_etcd_watch_options *o,
					 unsigned version);

GC_EXTERN int gc_etcd_watcher_new(gc_etcd_watcher **out, gc_etcd *c,
				  gc_error *err);
/* Cancels (closes) every remaining watch and frees. No callbacks. */
GC_EXTERN void gc_etcd_watcher_free(gc_etcd_watcher *w);

/* Start watching `key` (a prefix with GC_ETCD_PREFIX). The stream is opened
 * by the next poll. The handle stays valid until gc_etcd_watch_cancel. */
GC_EXTERN int gc_etcd_watch_add(gc_etcd_watch **out, gc_etcd_watcher *w,
				const char *key,
				const gc_etcd_watch_options *o, gc_error *err);
/* Close the stream and free the watch; no callback for it runs after this
 * returns (safe from inside its own callbacks). NULL is fine. */
GC_EXTERN void gc_etcd_watch_cancel(gc_etcd_watch *watch);
/* Restart a watch (typically a stopped one, after a re-list) from
 * `start_revision`. */
GC_EXTERN int gc_etcd_watch_resume(gc_etcd_watch *watch,
				   int64_t start_revision, gc_error *err);
/* The next revision this watch will deliver (0 before it was created). */
GC_EXTERN int64_t gc_etcd_watch_next_revision(const gc_etcd_watch *watch);
/* 1 while the watch is running (connected or reconnecting), 0 once it has
 * stopped (compacted or fatal error). */
GC_EXTERN int gc_etcd_watch_active(const gc_etcd_watch *watch);
/* 1 while the watch's stream is established (etcd confirmed it), 0 while
 * it is being (re)connected or has stopped: between the two, changes may
 * be waiting to be delivered. */
GC_EXTERN int gc_etcd_watch_connected(const gc_etcd_watch *watch);
GC_EXTERN void *gc_etcd_watch_payload(const gc_etcd_watch *watch);

/* Run the streams: wait up to `timeout_ms` (-1 = until something happens,
 * 0 = don't wait) for data, then deliver callbacks. Returns 0, or an error
 * only for a local failure (out of memory, epoll); network trouble is
 * handled by resuming. Returns early on gc_etcd_watcher_wakeup. Opening a
 * stream never blocks, except to (re-)authenticate when auth is on (one
 * unary call, bounded by the client's retry timeout). */
GC_EXTERN int gc_etcd_watcher_poll(gc_etcd_watcher *w, int timeout_ms,
				   gc_error *err);
/* Readable when poll has work (an epoll descriptor, close-on-exec). */
GC_EXTERN int gc_etcd_watcher_fd(gc_etcd_watcher *w);
/* Longest the caller may wait before calling poll (-1 = no deadline). */
GC_EXTERN int gc_etcd_watcher_timeout_ms(gc_etcd_watcher *w);
/* Make a blocked or upcoming poll return (async-signal- and thread-safe). */
GC_EXTERN void gc_etcd_watcher_wakeup(gc_etcd_watcher *w);
/* Number of watches (running or stopped, not yet cancelled). */
GC_EXTERN size_t gc_etcd_watcher_count(gc_etcd_watcher *w);

/* ------------------------------------------------------- clock probe
 *
 * etcd's clock as a shared time reference. Every answer of an etcd member
 * carries an HTTP Date header (whole seconds, from the member's clock,
 * read while the member handled the request). gc_etcd_clock_probe sends
 * GET /version (no authentication, no Raft round, answered by the member
 * itself) to the member the client currently uses, on the client's own
 * keep-alive connection (so the round trip is one request on an open
 * connection, ~0.1-1 ms on a LAN), and timestamps the exchange tightly:
 *   sent      just before the request is written (after any connect or
 *             TLS handshake: libcurl's pre-request callback);
 *   received  as soon as the answer's first bytes were read (the first
 *             header callback).
 * The member read its clock at some instant between sent and received,
 * and it read a time in [server_s, server_s + 1). Hence the offset
 * (member clock - local clock) lies in
 *   [server_s - received_ns/1e9, server_s + 1 - sent_ns/1e9],
 * and intersecting such intervals from probes timed around the member's
 * second boundaries narrows it to about the round trip (the agent's
 * estimator does that). Each member has its own clock: keep probing one
 * member (compare endpoint_index) or restart the estimate when it
 * changes; etcd members are expected to be NTP-synchronised.
 *
 * Works the same over https with client certificates and on clusters
 * with authentication on (/version needs no token). */
typedef struct gc_etcd_clock_sample {
	int64_t sent_ns;      /* CLOCK_REALTIME: request about to go */
	int64_t received_ns;  /* CLOCK_REALTIME: answer arriving */
	int64_t sent_mono_ns; /* CLOCK_MONOTONIC at the same instants */
	int64_t received_mono_ns;
	int64_t server_s;      /* the Date header, unix seconds */
	size_t endpoint_index; /* which of the client's endpoints */
	const char *endpoint;  /* its URL (valid while the client lives) */
	/* 1 when this probe opened the connection (connect and any TLS
	 * handshake happened before `sent`), 0 when it reused one. */
	int connected;
} gc_etcd_clock_sample;

/* One probe of the current member's clock (see above): one attempt,
 * bounded by the request timeout, not retried. The Date header must be
 * an RFC 7231 IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"); other forms
 * fail with GC_EPROTO, as do a status other than 200 or a missing Date.
 * After a connection-level failure the client moves to its next endpoint
 * (as a failed unary call does), so the next probe asks another member.
 * Serialised with the handle's unary calls (same connection): a thread
 * that probes at precise instants uses a handle of its own. */
GC_EXTERN int gc_etcd_clock_probe(gc_etcd_clock_sample *out, gc_etcd *c,
				  gc_error *err);

/* ---------------------------------------------------------- helpers */

/* The range end covering every key that starts with `prefix` (the prefix
 * with its last byte below 0xff incremented and the rest dropped). Note a
 * "directory" must end with its separator: prefix "/a/b" also matches
 * "/a/bc", prefix "/a/b/" does not. For an all-0xff or empty prefix the
 * result is "\0" (every key >= prefix), *out_len 1. `*out` is malloc'd,
 * NUL-terminated; free with gc_free. */
GC_EXTERN int gc_etcd_prefix_end(char **out, size_t *out_len,
				 const char *prefix, size_t prefix_len);

/* POST `json_body` to `path` (e.g. "/v3/auth/user/add") with the client's
 * failover and authentication; `*response` (may be NULL) receives the
 * malloc'd JSON answer (free with gc_free). For calls this header has no
 * function for (user/role administration, maintenance). */
GC_EXTERN int gc_etcd_request(char **response, gc_etcd *c, const char *path,
			      const char *json_body, gc_error *err);

#ifdef __cplusplus
}
#endif
#endif
