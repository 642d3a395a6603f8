/* libgophercron service: the REST API of GopherCron 1.10 (users, projects,
 * tasks, logs, nodes), JWT login, the agents' report ingest, Prometheus
 * metrics and the embedded admin page, served by civetweb on every
 * `[deploy] host` address of a gc_service_config.
 *
 * Routes, parameters, envelope and error codes: README.md, "REST API".
 * The service keeps no authoritative state in memory (tasks live in etcd,
 * users/projects/logs in the SQL store), so several services may share one
 * etcd cluster and one MySQL database. Only the failed-login throttle and
 * the metrics counters are per process.
 *
 * Connections: each worker thread serves one connection at a time, also
 * while it waits for a request; a guard thread closes connections that
 * wait too long or hold workers others need (`[http]` settings of
 * gc_service_config; docs/OPERATIONS.md, "Security").
 *
 * Threads: requests are handled on civetweb's worker threads. The library
 * installs no signal handlers of its own; civetweb sets SIGPIPE to
 * SIG_IGN when a server starts (a peer closing its socket must not kill the
 * process). gc_service_stop() may be called from any thread but not from a
 * request or log callback.
 */
#ifndef GOPHERCRON_SERVICE_H
#define GOPHERCRON_SERVICE_H

#include <gophercron/common.h>
#include <gophercron/config.h>

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gc_service gc_service;

#define GC_SERVICE_OPTIONS_VERSION 1

/* Zero means the default for every field. */
typedef struct gc_service_options {
	unsigned version;    /* GC_SERVICE_OPTIONS_VERSION */
	/* Log sink (NULL = silent). Called from the calling thread and from
	 * worker threads; never receives passwords, tokens or secrets. */
	gc_log_fn log;
	void *log_payload;
	int num_threads;     /* civetweb worker threads; overrides the
			      * configuration's [http] threads (default
			      * 256) when > 0 */
	size_t max_body;     /* largest request body accepted, default 1 MiB
			      * (larger: 413) */
	int login_max_failures; /* failed logins per account or address
				 * before the throttle applies, default 5 */
	int login_max_delay_s;  /* longest lockout, default 300 */
	/* largest body accepted on POST /api/v1/report, default 16 MiB (a
	 * result carries the run's output, up to the agent's output_limit) */
	size_t max_report_body;
	/* Most verbose level passed to `log` (GC_LOG_ERR..GC_LOG_DEBUG),
	 * default GC_LOG_INFO; GC_LOG_DEBUG adds one line per request. */
	int log_level;
} gc_service_options;

#define GC_SERVICE_OPTIONS_INIT {GC_SERVICE_OPTIONS_VERSION, NULL, NULL, 0, \
	0, 0, 0, 0, 0}
GC_EXTERN int gc_service_options_init(gc_service_options *opts,
				      unsigned version);

/* Create a service: opens the SQL store (SQLite at `[sqlite] path` when
 * `[mysql] service` is empty, creating admin/123456 on an empty
 * database) and the etcd client. Does not listen yet. `cfg` is copied;
 * opts may be NULL. */
GC_EXTERN int gc_service_new(gc_service **out, const gc_service_config *cfg,
			     const gc_service_options *opts, gc_error *err);

/* Listen on every `[deploy] host` ("ip:port" or ":port"; "[v6]:port" when
 * civetweb was built with IPv6; port 0 picks a free port) and start
 * serving. Returns once listening,
 * or an error naming the address that could not be bound. Logs a warning
 * (GC_LOG_WARNING) while the account `admin` still has its default
 * password. */
GC_EXTERN int gc_service_start(gc_service *svc, gc_error *err);

/* Number of listening addresses and the port actually bound by the i-th
 * one (in `[deploy] host` order); -1 when not started or out of range. */
GC_EXTERN size_t gc_service_listener_count(const gc_service *svc);
GC_EXTERN int gc_service_port(const gc_service *svc, size_t i);

/* *in_use = 1 while the account `admin` exists with password 123456. */
GC_EXTERN int gc_service_default_password_in_use(int *in_use, gc_service *svc,
						 gc_error *err);

/* Stop listening and wait for requests in progress to finish. Idempotent;
 * the service may be started again. */
GC_EXTERN void gc_service_stop(gc_service *svc);

/* Stop if running and free everything. NULL is fine. */
GC_EXTERN void gc_service_free(gc_service *svc);

#ifdef __cplusplus
}
#endif
#endif
