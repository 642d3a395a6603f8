/* Reporter internals: the HTTP sink (http.c), and the reporter object
 * shared by its public side (reporter.c: construction, submits, the runs
 * in progress, stats, flush) and its sender thread (sender.c: delivery to
 * the HTTP or SQL sink). Not installed. */
#ifndef GC_REPORTER_INTERNAL_H
#define GC_REPORTER_INTERNAL_H

#include "internal.h"
#include "reporter/inflight.h"
#include "reporter/spool.h"

#include <gophercron/reporter.h>

#include <pthread.h>
#include <stdatomic.h>

/* What became of one delivery attempt. */
enum {
	GC__SEND_OK = 0,     /* the sink has it */
	GC__SEND_RETRY = 1,  /* try again later (sink down, 5xx, auth, ...) */
	GC__SEND_REJECT = 2  /* the sink refuses this record as malformed */
};

#define GC__SEND_MSG_MAX 256

typedef struct gc__http gc__http;

typedef struct gc__http_options {
	const char *url;
	const char *token;      /* NULL = no Authorization header */
	const char *ca_file;    /* NULL = system bundle */
	int64_t connect_timeout_ms;
	int64_t request_timeout_ms;
	const atomic_bool *abort; /* set while stopping: abandon the request */
} gc__http_options;

int gc__http_new(gc__http **out, const gc__http_options *o, gc_error *err);
void gc__http_free(gc__http *h);

/* POST one body (type GC__SPOOL_REC_*). Returns GC__SEND_*; *status gets
 * the HTTP status (0 without an answer); msg (GC__SEND_MSG_MAX) says what
 * went wrong, with the URL (never the token). */
int gc__http_post(gc__http *h, int type, const char *body, size_t len,
		  long *status, char *msg);

/* Report-Type header value of a record type. */
const char *gc__report_type_name(int type);

/* -------------------------------------------------------- the reporter */

/* Most results an SQL sink batch holds (gc_reporter_options.batch_max). */
#define GC__REPORTER_BATCH_LIMIT 4096

/* Store the SQL sink opens itself (gc_reporter_new_from_config). */
typedef struct gc__owned_store {
	gc_store_options opts; /* its strings are the copies below */
	char *sqlite_path;
	char *mysql_service, *mysql_username, *mysql_password, *mysql_database;
	char *crypt_prefix;
} gc__owned_store;

struct gc_reporter {
	/* configuration (owned copies) */
	char *report_addr, *agent_ip;
	int64_t retry_min_ms, retry_max_ms;
	int max_reject, batch_max, log_level;
	size_t output_limit; /* SQL sink: output kept per row */
	gc_log_fn log;
	void *log_payload;

	gc__spool *spool;
	gc__inflight *inflight; /* runs in progress (inflight.h) */
	gc__http *http;		/* HTTP sink, or */
	gc_store *store;	/* SQL sink */
	gc__owned_store *own;	/* set when the reporter opens `store` itself */
	int dead_fd;		/* dead-letter.jsonl, opened on first use */

	pthread_t thread;
	bool thread_running;
	atomic_bool abort; /* stopping: cut an HTTP request short */

	pthread_mutex_t mu;
	pthread_cond_t wake;	 /* sender: new records, flush, stop */
	pthread_cond_t progress; /* flush waiters: records committed */
	/* guarded by mu: */
	uint64_t wake_seq;    /* records appended (submits accepted) */
	uint64_t wake_target; /* signal the sender once wake_seq reaches it */
	bool stopping, kick;
	uint64_t results, warnings, delivered, duplicates, warnings_logged;
	uint64_t refused, attempts_failed, rejected, dead_lettered;
	uint64_t started, interrupted;
	uint64_t done; /* records committed by the sender (flush) */
	bool sink_up;
	int64_t outage_start_ms;
	int last_http_status;
	char last_error[256];
};

#define LOG(r, level, ...)                                                     \
	do {                                                                   \
		if ((r)->log && (level) <= (r)->log_level)                     \
			gc__log((r)->log, (r)->log_payload, level,             \
				__VA_ARGS__);                                  \
	} while (0)

/* sender.c: the sender thread's body (pthread_create). */
void *gc__sender_main(void *reporter);

#endif
