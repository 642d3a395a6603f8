/* Internal interface of the service module (lib/service/).
 *
 * A request arrives on one of civetweb's worker threads (http.c), goes
 * through dispatch (dispatch.c) to the endpoint of its route (routes.c;
 * endpoints next to their handlers), whose handler answers in the
 * original's envelope (envelope.c). Handlers reach etcd only through
 * tasks.c, the SQL store through gc_store (store.h).
 *
 *   service.c         lifecycle: gc_service_new (copies of the
 *                     configuration, metrics, throttle, etcd options, the
 *                     store), start, stop, free; the service's log
 *   http.c            civetweb glue, the one file that knows civetweb: its
 *                     callbacks (a request: body in, gc__ctx, dispatch, the
 *                     answer out in one write; connections opened and
 *                     closed, for the guard; log lines), request ids,
 *                     starting and stopping the server with the guard
 *   conn.c            the connection guard: a slot per connection a worker
 *                     holds; its sweeper closes idle and slow connections
 *   dispatch.c        one request, independent of civetweb: route lookup,
 *                     CORS preflight, 404 and 405, authentication, the
 *                     parameters parsed and bound, the handler called
 *   params.c          query strings, form and JSON bodies as parameters;
 *                     binding them to an endpoint's argument spec
 *   routes.c          the route table: method, path, access -> endpoint
 *   routes_user.c     /api/v1/version, /api/v1/user/...
 *   routes_project.c  /api/v1/project/...
 *   routes_task.c     /api/v1/crontab/..., /api/v1/client/...: who may do
 *                     what to which task or node, and the answers
 *   routes_log.c      /api/v1/log/... (task logs in the SQL store)
 *   ingest.c          POST /api/v1/report: the agents' results, warnings
 *   metrics.c         counters and histograms, GET /metrics
 *   envelope.c        the envelope, API error codes, JSON string quoting
 *   auth.c            the user token of a request, project access control
 *   jwt.c             issuing and verifying HS256 tokens (libjwt)
 *   throttle.c        the failed-login throttle
 *   tasks.c           the etcd handle pool and every etcd read and write of
 *                     the handlers (tasks, status keys, run-now and kill
 *                     signals, registrations, agent commands): the reads
 *                     are where a watch-fed cache can answer instead
 *   admin.c           /admin: the admin page from [deploy] view_path or the
 *                     embedded copy
 *   admin_assets.c    the page's files, embedded (.incbin); content types
 *
 * Threads: civetweb's workers ([http] threads) run http.c's callbacks, so
 * every handler, concurrently. What they share locks itself: the store
 * (its connection pool), the etcd pool (a mutex; a borrowed handle is the
 * request's alone), metrics and throttle (a mutex each), the guard's slots
 * (atomics on the request path, a mutex for opening and closing). The
 * guard's sweeper thread (conn.c; started with the server, stopped before
 * mg_stop) lists the process's sockets and shuts connections down under
 * the guard's mutex. gc_service_start and gc_service_stop run on the
 * caller's thread under run_mu. The log callback is called from all of
 * them. */
#ifndef GC_SERVICE_SVC_H
#define GC_SERVICE_SVC_H

#include "internal.h"

#include <gophercron/etcd.h>
#include <gophercron/job.h>
#include <gophercron/service.h>
#include <gophercron/store.h>

#include <cJSON.h>
#include <pthread.h>
#include <stdatomic.h>

/* ------------------------------------------------------------ parameters */

/* Where a parameter came from and, for JSON bodies, its JSON type. */
enum gc__ptype {
	GC__PT_TEXT = 0, /* query string or form body: always text */
	GC__PT_JSTRING,
	GC__PT_JNUMBER,  /* val holds the number's text */
	GC__PT_JBOOL,    /* val "true"/"false" */
	GC__PT_JNULL,
	GC__PT_JOTHER    /* array or object */
};

typedef struct gc__param {
	char *key;
	char *val; /* NUL-terminated; may contain NUL bytes before len */
	size_t len;
	int type;  /* enum gc__ptype */
} gc__param;

/* Request parameters in lookup order: the first match wins. Body
 * parameters are added before the query string's, so the body wins. */
typedef struct gc__params {
	gc__param *v;
	size_t n, cap;
	int json_fault; /* why a JSON body was refused: GC__JSON_FAULT_* */
} gc__params;

#define GC__PARAMS_MAX 256 /* more parameters than this: 400 */

void gc__params_free(gc__params *p);
/* application/x-www-form-urlencoded text (also a query string). Returns 0,
 * GC_EINVAL (malformed; msg says where) or GC_ENOMEM. */
int gc__params_add_form(gc__params *p, const char *s, size_t len, char *msg,
			size_t msglen);
/* A JSON object body: every member becomes a parameter; numbers keep
 * their text ("12", "1.5"), so integers bind exactly. Nested deeper than
 * GC__JSON_DEPTH_REST, not strict JSON, or a string with \u0000:
 * GC_EINVAL, msg says what and where (naming the parameter for \u0000, as
 * gc__bind does for %00 in form data), p->json_fault says which. */
int gc__params_add_json(gc__params *p, const char *s, size_t len, char *msg,
			size_t msglen);
const gc__param *gc__params_get(const gc__params *p, const char *key);

/* Declarative argument specs, bound before a handler runs. */
enum { GC__ARG_STR = 0, GC__ARG_INT = 1 };
#define GC__ARG_REQ 0x1u /* must be present (and non-empty for strings) */

typedef struct gc__argspec {
	const char *name;
	int type;
	unsigned flags;
	int64_t min; /* INT: smallest value; STR: fewest bytes */
	int64_t max; /* INT: largest value; STR: most bytes */
} gc__argspec;

typedef struct gc__arg {
	int present;
	const char *s; /* STR: points into the params (valid UTF-8, no NUL) */
	size_t len;
	int64_t i;     /* INT */
} gc__arg;

/* An optional argument's value, or `def` when the request left it out. */
static inline const char *gc__arg_str(const gc__arg *a, const char *def)
{
	return a->present ? a->s : def;
}
static inline int64_t gc__arg_int(const gc__arg *a, int64_t def)
{
	return a->present ? a->i : def;
}

#define GC__ARGS_MAX 16

/* Bind `n` specs. Returns 0, or GC_EINVAL with msg naming the parameter
 * and what is wrong ("missing parameter \"cron\"", ...). */
int gc__bind(const gc__params *p, const gc__argspec *spec, size_t n,
	     gc__arg *out, char *msg, size_t msglen);
/* 1 when s[0..len) is valid UTF-8 without NUL bytes. */
int gc__utf8_valid(const char *s, size_t len);

/* ------------------------------------------------------------------ JWT */

typedef struct gc__claims {
	int64_t uid;
	int64_t gen; /* the user's token_gen at issue time */
	int has_gen; /* 0: a token from before generations existed */
	int64_t iat;
	int64_t exp;
} gc__claims;

#define GC__TOKEN_MAX 4096 /* longer tokens are rejected unparsed */
/* Fewest characters of a new password (create, change, reset). Logins
 * accept any length: an old password keeps working until changed. */
#define GC__PASSWORD_MIN 8

/* Issue an HS256 token for `uid` (whose token generation is `gen`) valid
 * `lifetime_s` from `now`. */
int gc__jwt_issue(const unsigned char *secret, size_t secret_len, int64_t uid,
		  int64_t gen, const char *account, const char *permission,
		  int64_t now, int64_t lifetime_s, char **token, gc_error *err);
/* Verify signature (HS256 only), expiry and claims. GC_EAUTH with a
 * reason in err on any failure. */
int gc__jwt_verify(const unsigned char *secret, size_t secret_len,
		   const char *token, int64_t now, gc__claims *out,
		   gc_error *err);

/* -------------------------------------------------------------- metrics */

typedef struct gc__metrics gc__metrics;

enum gc__counter {
	GC__M_ETCD_ERRORS = 0,
	GC__M_STORE_ERRORS,
	GC__M_LOGIN_FAILURES,
	GC__M_LOGIN_THROTTLED,
	GC__M_INGEST_RESULTS,     /* results accepted */
	GC__M_INGEST_DUPLICATES,  /* results already stored (same run id) */
	GC__M_INGEST_ERR_AUTH,
	GC__M_INGEST_ERR_DECODE,
	GC__M_INGEST_ERR_STORE,
	GC__M_WARN_TASK,
	GC__M_WARN_SYSTEM,
	GC__M_WARN_OTHER,
	GC__M_CONN_CUT_CAP,    /* closed: over [http] max_idle_per_address */
	GC__M_CONN_CUT_HEADER, /* closed: no request after header_timeout */
	GC__M_CONN_CUT_BUSY,   /* closed: waiting while workers ran short */
	GC__M_COUNTERS
};

int gc__metrics_new(gc__metrics **out, size_t n_routes,
		    const char *const *route_labels);
void gc__metrics_free(gc__metrics *m);
void gc__metrics_inc(gc__metrics *m, enum gc__counter c);
/* route index n_routes = "unmatched". */
void gc__metrics_request(gc__metrics *m, size_t route, int status,
			 double seconds);
/* outcome: "success", "error", "timeout", "killed", "skipped". */
void gc__metrics_result(gc__metrics *m, int64_t project_id,
			const char *outcome, double lateness_s, int has_plan);
int gc__metrics_render(gc__metrics *m, gc__buf *out);

/* ------------------------------------------------------ login throttle */

typedef struct gc__throttle gc__throttle;

int gc__throttle_new(gc__throttle **out, int max_failures, int max_delay_s);
void gc__throttle_free(gc__throttle *t);
/* 0 when a login for (account, addr) may be tried now, otherwise the
 * number of seconds to wait. */
int gc__throttle_check(gc__throttle *t, const char *account, const char *addr,
		       int64_t now_ms);
void gc__throttle_fail(gc__throttle *t, const char *account, const char *addr,
		       int64_t now_ms);
void gc__throttle_success(gc__throttle *t, const char *account,
			  const char *addr, int64_t now_ms);

/* ---------------------------------------------------- service, request */

/* etcd handles serialise their calls, so worker threads borrow one each. */
typedef struct gc__etcd_pool {
	pthread_mutex_t mu;
	gc_etcd_options opts;
	gc_etcd **free_list;
	size_t n_free, cap;
	size_t n_total;
} gc__etcd_pool;

#define GC__MAX_LISTENERS 16

struct mg_context;

/* Connection guard (conn.c): tracks the connections civetweb's workers
 * hold and closes idle or slow ones before they starve other clients. */
typedef struct gc__guard gc__guard;
typedef struct gc__conn gc__conn;

struct gc_service {
	gc_service_options opts;
	gc_store *store;
	gc__etcd_pool etcd;
	/* copies of the configuration */
	char *prefix;
	unsigned char *jwt_secret;
	size_t jwt_secret_len;
	int64_t jwt_lifetime_s;
	char *report_token; /* NULL = ingest open */
	size_t output_limit; /* [log] output_limit: output kept per log row */
	char *view_path;    /* NULL = embedded page only */
	char **hosts;
	size_t n_hosts;
	char **etcd_endpoints;
	size_t n_etcd_endpoints;
	char *etcd_username, *etcd_password;
	char *etcd_ca, *etcd_cert, *etcd_key;
	int64_t op_timeout_ms;

	/* [http] settings */
	int threads;
	int max_idle_per_address; /* 0 = no cap */
	int64_t header_timeout_ms, keep_alive_timeout_ms, request_timeout_ms;

	struct mg_context *mg;
	gc__guard *guard;
	int ports[GC__MAX_LISTENERS];
	size_t n_ports;
	pthread_mutex_t run_mu; /* start/stop */

	gc__metrics *metrics;
	const char **route_labels; /* route paths, for metrics */
	gc__throttle *throttle;
	atomic_uint_fast64_t seq; /* request id sequence */
	uint64_t instance;        /* random bits in request ids */
};

/* Log through the service's callback when `level` is enabled (nothing is
 * formatted otherwise). service.c */
void gc__svc_log(const gc_service *svc, int level, const char *fmt, ...)
    GC__PRINTF(3, 4);

/* A request as the handlers see it, independent of civetweb. */
typedef struct gc__ctx {
	gc_service *svc;
	const char *method;
	const char *path;   /* decoded path, no query */
	const char *query;  /* raw query string or NULL */
	char *uri;          /* path?query for meta.request_uri */
	const char *remote; /* client address */
	const char *content_type;
	const char *(*header)(void *hctx, const char *name);
	void *hctx;
	const char *body;
	size_t body_len;
	char request_id[24];
	gc__params params;

	/* the caller, after authentication */
	int authed;
	gc_store_user user;
	int admin;

	gc_etcd *etcd; /* borrowed from the pool on first use */

	/* the answer */
	int status;
	const char *resp_type;
	gc__buf resp;
	char resp_headers[512]; /* extra "Name: value\r\n" lines */
	size_t route;           /* index into the route table (metrics) */
} gc__ctx;

/* ---------------------------------------------------- routes, dispatch */

typedef void (*gc__handler)(gc__ctx *c, const gc__arg *a);

/* What a route does: its parameters and its handler, defined next to the
 * handler. The handler reads its arguments by named index: an enum next to
 * the spec, its last member the count, each spec entry set by its index
 * ([NAME] = GC__INT(...)). GC__ENDPOINT checks at compile time that the
 * spec has as many entries as the enum counts, so the two cannot drift
 * apart. */
typedef struct gc__endpoint {
	const gc__argspec *args;
	size_t nargs;
	gc__handler fn;
} gc__endpoint;

#define GC__ENDPOINT(name, spec, count, handler)                               \
	_Static_assert(GC__ARRAY_LEN(spec) == (count),                         \
		       #spec ": not one entry per index up to " #count);       \
	const gc__endpoint name = {spec, count, handler}
#define GC__ENDPOINT_NOARGS(name, handler)                                     \
	const gc__endpoint name = {NULL, 0, handler}

/* Spec entries. Ids stay within +-2^53, which every JSON reader (the admin
 * page's JavaScript included) holds exactly: a larger one is refused, never
 * rounded. */
/* clang-format off */
#define GC__STR(name, flags, maxlen) {name, GC__ARG_STR, flags, 0, maxlen}
#define GC__INT(name, flags, lo, hi) {name, GC__ARG_INT, flags, lo, hi}
/* clang-format on */
#define GC__ID_MAX (INT64_C(1) << 53)
/* Field limits: the original's column sizes where it had them. */
#define GC__ACCOUNT_MAX	 100
#define GC__NAME_MAX	 100
#define GC__PASSWORD_MAX 256
#define GC__TITLE_MAX	 100
#define GC__REMARK_MAX	 255
#define GC__COMMAND_MAX	 65536
#define GC__CRON_MAX	 256
#define GC__IP_MAX	 64

/* Route flags */
#define GC__R_AUTH 0x1u   /* needs a user token */
#define GC__R_ADMIN 0x2u  /* needs a global admin (implies AUTH) */
#define GC__R_RAW 0x4u    /* handler reads c->body itself (no binding) */

typedef struct gc__route {
	const char *method;
	const char *path;
	unsigned flags;
	const gc__endpoint *ep;
} gc__route;

/* The route table (routes.c). */
extern const gc__route gc__routes[];
extern const size_t gc__n_routes;

/* Run the whole request: route, authenticate, bind, call the handler. */
void gc__dispatch(gc__ctx *c);
void gc__ctx_cleanup(gc__ctx *c);

/* ------------------------------------------------------------- envelope */

/* API error codes (meta.code). HTTP status = code when < 600, else 200. */
enum {
	GC__C_OK = 0,
	GC__C_BAD_REQUEST = 400,
	GC__C_UNAUTHORIZED = 401,
	GC__C_NOT_FOUND = 404,
	GC__C_METHOD = 405,
	GC__C_TOO_BIG = 413,
	GC__C_UNSUPPORTED = 415,
	GC__C_TOO_MANY = 429,
	GC__C_INTERNAL = 500,
	GC__C_UNAVAILABLE = 503,
	GC__C_DATA_NOT_FOUND = 10006,
	GC__C_USER_NOT_FOUND = 10007,
	GC__C_BUSY = 10008,
	GC__C_LOCKED = 10009,
	GC__C_NO_LOCAL_IP = 10010,
	GC__C_WRONG_PASSWORD = 10011,
	GC__C_PROJECT_NOT_EXIST = 10012,
	GC__C_PROJECT_EXISTS = 10013,
	GC__C_NO_PERMISSION = 10014,
	GC__C_BAD_CRON = 10015,
	GC__C_USER_EXISTS = 10016,
	GC__C_REMOVE_ADMIN = 10017,
	GC__C_NO_NODE = 10018,
	GC__C_TASK_RUNNING = 10019,
	GC__C_TASK_NOT_RUNNING = 10020
};

/* Generic text of a code ("invalid argument", ...). */
const char *gc__code_text(int code);

/* Answering. Each sets c->status/resp; the last call wins. */
void gc__reply_ok(gc__ctx *c, cJSON *response); /* takes ownership; NULL =
						   JSON null */
/* Success with `json` (already JSON text) as the response. */
void gc__reply_json_text(gc__ctx *c, const char *json);
void gc__reply_err(gc__ctx *c, int code, const char *fmt, ...)
	GC__PRINTF(3, 4);
/* An error from a library call: GC_EINVAL -> 400, GC_ENOTFOUND -> 404,
 * GC_ECONFLICT -> 409, backend failures -> 500/503 (counted per `src`),
 * with the call's message. */
enum { GC__SRC_OTHER = 0, GC__SRC_STORE, GC__SRC_ETCD };
void gc__reply_gcerr(gc__ctx *c, int src, int rc, const gc_error *err);
void gc__reply_text(gc__ctx *c, int status, const char *type,
		    const void *data, size_t len);
void gc__add_header(gc__ctx *c, const char *name, const char *value);

/* Append s[0..len) as a JSON string: invalid UTF-8 becomes U+FFFD, NUL
 * becomes \u0000. */
int gc__json_quote(gc__buf *b, const char *s, size_t len);

/* -------------------------------------------------------- auth (auth.c) */

/* The token of "Authorization: Bearer T", or NULL. */
const char *gc__bearer(gc__ctx *c);
/* Check the request's user token ("access-token: T" or the bearer) and load
 * the user: 0, or -1 with a 401 (or store error) answer. */
int gc__authenticate(gc__ctx *c);

/* Access control. Fills `proj` (may be NULL) and returns 0 when the caller
 * may see project `pid` (admin, or member). Otherwise answers (404 for a
 * project the caller cannot see, whether it exists or not) and returns
 * -1. With `manage`, the caller must be a global admin or the project's
 * creator (10014 otherwise). */
int gc__require_project(gc__ctx *c, int64_t pid, int manage,
			gc_store_project *proj);
/* Project ids the caller may see (admins: every project). */
int gc__visible_projects(gc__ctx *c, gc_store_projects *out);

/* ------------------------------------------------------ tasks and nodes */

/* tasks.c: the etcd handle pool and every read and write of the keys the
 * agents watch. Each function borrows the request's handle on first use
 * and answers the request itself on failure (returning -1). */
void gc__etcd_pool_init(gc__etcd_pool *p);
/* Client options from the service's copies of [etcd] and [deploy] timeout. */
void gc__etcd_pool_set_options(gc__etcd_pool *p, const gc_service *svc,
			       int64_t dial_timeout_ms);
void gc__etcd_pool_destroy(gc__etcd_pool *p);
/* Give the request's handle back to the pool (no-op without one). */
void gc__ctx_etcd_release(gc__ctx *c);

/* Task `tid` of project `pid`: its stored definition (a copy in *value,
 * malloc'd, when value is not NULL) and whether a run is in progress (its
 * status key). 404 when there is no such task. */
int gc__task_get(gc__ctx *c, int64_t pid, const char *tid, char **value,
		 size_t *len, int *running);
/* The tasks of project `pid` in key order, decoded, is_running set: `fn`
 * gets each (one that cannot be decoded is skipped with a warning) and
 * returns 0 to go on, 1 to stop. Returns 0 (all passed), 1 (stopped) or
 * -1 (answered). */
typedef int (*gc__task_fn)(gc_task *t, void *arg);
int gc__task_each(gc__ctx *c, int64_t pid, gc__task_fn fn, void *arg);
/* How many tasks project `pid` has. */
int gc__task_count(gc__ctx *c, int64_t pid, int64_t *count);
/* Save task `tid` of project `pid` (a new one with a fresh id when tid is
 * NULL) with compare-and-swap: read the stored definition, let `edit` set
 * the request's fields on it, write it if nobody changed the key in
 * between, else read again (409 after a few tries). The task must then be
 * valid (400 otherwise). *prev: the previous definition of an update, NULL
 * for a new task or one that could not be read. */
typedef void (*gc__task_edit)(gc_task *t, int is_new, const void *arg);
int gc__task_save(gc__ctx *c, int64_t pid, const char *tid, gc__task_edit edit,
		  const void *arg, cJSON **prev);
/* Delete a task with its status and run-now keys; *prev: the deleted
 * definition. 404 when there is no such task. */
int gc__task_delete(gc__ctx *c, int64_t pid, const char *tid, cJSON **prev);
/* Signal the agents: end the task's run (kill), or run now the definition
 * `value` (run-now). */
int gc__task_kill(gc__ctx *c, int64_t pid, const char *tid);
int gc__task_run_now(gc__ctx *c, int64_t pid, const char *tid,
		     const char *value, size_t len);
/* Delete every key of project `pid` (tasks, status and run-now keys);
 * *deleted: how many. */
int gc__project_purge(gc__ctx *c, int64_t pid, int64_t *deleted);
/* The agents registered in project `pid` (0: in every project), one range
 * read: `fn` gets each with its project, address and version. */
typedef void (*gc__node_fn)(int64_t pid, const char *ip, const char *version,
			    void *arg);
int gc__node_each(gc__ctx *c, int64_t pid, gc__node_fn fn, void *arg);
/* Tell agent `ip` of project `pid` to do `cmd` (a leased key it watches),
 * if it is registered there: 400 for an address that is not one, 404 when
 * no such agent is registered. */
int gc__node_command(gc__ctx *c, int64_t pid, const char *ip, const char *cmd);

/* --------------------------------------------- civetweb, guard, admin */

/* civetweb (http.c): listen on every [deploy] host with the connection
 * guard; stop (run_mu held by the caller for both). */
int gc__http_start(gc_service *svc, gc_error *err);
void gc__http_stop(gc_service *svc);

/* The guard (conn.c). `slots` = worker threads; `max_idle` = waiting
 * connections allowed per address (0 = no cap); `header_ms` = time a new
 * connection has to send its first request header. */
int gc__guard_new(gc__guard **out, gc_service *svc, int slots, int max_idle,
		  int64_t header_ms);
/* Set TCP_DEFER_ACCEPT on the service's listeners (`hosts` as configured,
 * `ports` as bound, in the same order) and start the sweeper thread. */
int gc__guard_start(gc__guard *g, char *const *hosts, size_t n_hosts,
		    const int *ports, size_t n_ports);
/* Stop the sweeper thread: before mg_stop, which closes the connections
 * still queued without telling the guard. */
void gc__guard_stop(gc__guard *g);
/* Stop and free (after mg_stop: no connection left). */
void gc__guard_free(gc__guard *g);
/* civetweb's init_connection: a worker took a new connection (its
 * addresses are not known yet). NULL when not tracked. */
gc__conn *gc__guard_open(gc__guard *g);
/* A request header arrived (from begin_request: the addresses are kept
 * from the first request on). */
void gc__guard_busy(gc__conn *c, const char *remote_addr, int remote_port,
		    int local_port);
void gc__guard_idle(gc__conn *c); /* the response is out, waiting again */
void gc__guard_close(gc__guard *g, gc__conn *c); /* connection_close */

/* The admin page (admin.c): GET/HEAD of /admin and /admin/... */
void gc__serve_admin(gc__ctx *c);

/* ------------------------------------------------------------ handlers */

/* JSON of users (routes_user.c) */
cJSON *gc__json_user(const gc_store_user *u, int with_account);
/* {"list":[users with account and create_time]} (+ "total"). */
cJSON *gc__json_users(const gc_store_users *l, int with_total);

/* Endpoints (routes_*.c, ingest.c, metrics.c) */
extern const gc__endpoint gc__ep_version, gc__ep_metrics, gc__ep_report;
extern const gc__endpoint gc__ep_user_login, gc__ep_user_info,
    gc__ep_user_change_password, gc__ep_user_create, gc__ep_user_delete,
    gc__ep_user_list, gc__ep_user_reset_password;
extern const gc__endpoint gc__ep_project_create, gc__ep_project_list,
    gc__ep_project_update, gc__ep_project_delete, gc__ep_project_users,
    gc__ep_project_add_user, gc__ep_project_remove_user;
extern const gc__endpoint gc__ep_task_save, gc__ep_task_delete,
    gc__ep_task_list, gc__ep_task_kill, gc__ep_task_execute,
    gc__ep_task_client_list, gc__ep_task_monitor, gc__ep_cron_next,
    gc__ep_client_list, gc__ep_client_reload;
extern const gc__endpoint gc__ep_log_list, gc__ep_log_detail, gc__ep_log_clean,
    gc__ep_log_recent;

#endif
