/* libgophercron: the reporter, which delivers every result and warning of
 * an agent to a sink and loses none of them.
 *
 * Sinks (exactly one per reporter):
 *   - HTTP: POST to `report_addr` (the original's protocol: Content-Type
 *     application/json, header `Report-Type: report_task_result` or
 *     `report_warning`, bodies as gc_result_to_json / gc_warning_to_json,
 *     plus `Authorization: Bearer <report_token>` when a token is set).
 *     Any 2xx answer means delivered.
 *   - SQL: without report_addr, results go straight into a gc_store
 *     (SQLite or MySQL/MariaDB) in batches, one row per run id, the same
 *     row the service's ingest endpoint writes (gc_store_log_from_result).
 *     Warnings are written to the log callback and counted.
 *
 * Spool: gc_reporter_submit_*() appends the record to a crash-safe
 * append-only spool under `spool_dir` and returns; a sender thread owned
 * by the reporter delivers the spool in order and removes what was
 * delivered. A sink that is down never slows the caller: records wait in
 * the spool (across restarts and kill -9) and are retried with exponential
 * backoff. README.md, section "Reporting", describes the file format and
 * the guarantees in full. In short:
 *   - order: records are delivered in the order they were submitted (so a
 *     failed run's warning precedes its result);
 *   - at least once: a record leaves the spool only after the sink took
 *     it; a crash between delivery and the cursor update re-sends it, which
 *     is harmless because every result carries its run id and both the
 *     service's ingest and the SQL sink store each run id once;
 *   - a process crash (kill -9) loses nothing that submit accepted; a
 *     machine crash loses at most what was not yet fsync'd (see `sync`);
 *   - bounded: when undelivered records reach spool_max_bytes or
 *     spool_max_records, new records are refused (GC_ETOOBIG), counted in
 *     stats.refused and logged at GC_LOG_ERR with their run id: never
 *     silently dropped. Older records are never dropped to make room;
 *   - runs in progress: gc_reporter_start_submit() records a run as it
 *     starts (a small file under `spool_dir/running/`), its result removes
 *     it. A run still recorded when the next reporter opens the spool had
 *     its agent die during it (kill -9, a crash, the OOM killer): it is
 *     reported then as failed, error GC_RUN_ERR_INTERRUPTED ("agent
 *     stopped during the run; outcome unknown"), end_time the time of the
 *     reopen, its warning first. So every run that started gets exactly
 *     one result, whatever happens to the agent;
 *   - a record the sink keeps rejecting as malformed (HTTP 400, 413, 415,
 *     422, or a row the store refuses) is moved after max_reject_attempts
 *     to `dead-letter.jsonl` in the spool dir, logged at GC_LOG_ERR and
 *     counted, so it cannot block the queue forever. Every other failure
 *     (connection refused, timeouts, 401/403/404, 5xx, database down) is
 *     retried forever.
 *
 * One spool dir belongs to one reporter: gc_reporter_new takes an exclusive
 * lock (flock on `spool_dir/lock`) and fails with GC_ECONFLICT when another
 * process holds it.
 *
 * Threads: gc_reporter_submit_*, gc_reporter_stats and gc_reporter_flush
 * may be called from any thread. The log callback is called from the
 * submitting threads and from the reporter's sender thread.
 */
#ifndef GOPHERCRON_REPORTER_H
#define GOPHERCRON_REPORTER_H

#include <gophercron/common.h>
#include <gophercron/config.h>
#include <gophercron/job.h>
#include <gophercron/store.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gc_reporter gc_reporter;

/* When spooled records reach the disk (not only the page cache). Every
 * mode survives a crash of the process (kill -9): a record is in the file
 * once submit returns. They differ after a crash of the machine. */
enum gc_reporter_sync {
	/* fdatasync within sync_interval_ms of a submit, on a background
	 * thread (group commit): a machine crash loses at most the last
	 * interval. The default. */
	GC_REPORTER_SYNC_GROUP = 0,
	/* fdatasync before submit returns: nothing accepted is ever lost,
	 * but every submit waits for the disk. */
	GC_REPORTER_SYNC_ALWAYS = 1,
	/* never fdatasync (the kernel writes back in its own time). */
	GC_REPORTER_SYNC_NONE = 2
};

#define GC_REPORTER_OPTIONS_VERSION 2

/* Zero (or NULL) means the default for every field. */
typedef struct gc_reporter_options {
	unsigned version; /* GC_REPORTER_OPTIONS_VERSION */

	/* Sink: report_addr (http:// or https:// URL) for the HTTP sink;
	 * otherwise `store` (borrowed: must stay open until
	 * gc_reporter_free) for the SQL sink. One of the two is required. */
	const char *report_addr;
	const char *report_token; /* HTTP: "Authorization: Bearer ..."; never
				     logged */
	gc_store *store;
	/* SQL sink: client_ip of rows whose result does not name one (as the
	 * service uses the peer address). Default "127.0.0.1". */
	const char *agent_ip;

	/* Spool (required): created (mode 0700) when missing. */
	const char *spool_dir;
	int64_t spool_max_bytes;   /* undelivered bytes, default 256 MiB */
	int64_t spool_max_records; /* undelivered records, default 1000000 */
	int64_t segment_bytes;     /* spool file rotation size, default
				      8 MiB (at most spool_max_bytes / 4) */
	int sync;                  /* enum gc_reporter_sync */
	int sync_interval_ms;      /* GC_REPORTER_SYNC_GROUP, default 50 */

	/* Retry backoff after a failed delivery: doubles from min to max. */
	int64_t retry_min_ms; /* default 200 */
	int64_t retry_max_ms; /* default 30000 */
	/* Rejections of one record (see above) before it is dead-lettered.
	 * Default 5. */
	int max_reject_attempts;

	/* HTTP */
	int64_t connect_timeout_ms; /* default 3000 */
	int64_t request_timeout_ms; /* whole request, default 10000 */
	const char *ca_file;        /* https: CA bundle (default: system) */

	/* SQL: results per insert transaction, default 256 (max 4096). */
	int batch_max;

	/* Log lines "report: ...". Deliveries are logged at GC_LOG_DEBUG,
	 * outages at GC_LOG_ERR (first failure) and GC_LOG_WARNING (retries),
	 * recovery at GC_LOG_NOTICE, refusals and dead letters at GC_LOG_ERR.
	 * Every record spooled is logged at GC_LOG_DEBUG with its run id.
	 * NULL = silent. */
	gc_log_fn log;
	void *log_payload;
	/* Lines above this level are not produced at all; 0 = GC_LOG_INFO. */
	int log_level;

	/* SQL sink: bytes of a run's output (and error text) kept in its row,
	 * capped as the executor caps it (see gc_store_log_from_result);
	 * 0 = GC_EXEC_DEFAULT_OUTPUT_LIMIT (1 MiB). */
	int64_t output_limit;

	/* Version 2. SQL sink that the reporter opens itself, when neither
	 * report_addr nor `store` is set and store_options.version is (see
	 * gc_store_options_init): opened on the sender thread, and retried
	 * like a failed delivery while the database is unreachable (so an
	 * agent starts and spools with its database down); closed by
	 * gc_reporter_free. Copied; pool_size and the retention thread are
	 * the reporter's (one connection, no retention). */
	gc_store_options store_options;
} gc_reporter_options;

#define GC_REPORTER_OPTIONS_INIT                                            \
	{GC_REPORTER_OPTIONS_VERSION, NULL, NULL, NULL, NULL, NULL, 0, 0, 0,  \
	 0, 0, 0, 0, 0, 0, 0, NULL, 0, NULL, NULL, 0, 0,                     \
	 {0, 0, NULL, 0, NULL, NULL, NULL, NULL, 0, 0, 0, 0, NULL, NULL, NULL}}

GC_EXTERN int gc_reporter_options_init(gc_reporter_options *o,
				       unsigned version);

/* Set the fields an agent configuration gives, on options set up by
 * gc_reporter_options_init (the others are left alone): the HTTP sink
 * (report_addr, report_token) when report_addr is set, else the SQL sink
 * in store_options (gc_store_options_from_config: [mysql] when its
 * `service` is set, else [sqlite] path); spool_dir, client_ip (as
 * agent_ip) and output_limit. Strings are borrowed from `cfg`. 0,
 * GC_ENOTFOUND when the configuration names no sink at all, GC_EINVAL
 * (NULL, `o` not initialised or of version 1). */
GC_EXTERN int gc_reporter_options_from_config(gc_reporter_options *o,
					      const gc_agent_config *cfg);

/* Open the spool (lock, recover: a torn record at the tail of the spool
 * from a crash mid-append is detected by its length/CRC framing, logged
 * and cut off; every complete record before it is kept), start the sender
 * thread. Records left by an earlier run are delivered first, followed by
 * the results of the runs it left unfinished (GC_RUN_ERR_INTERRUPTED).
 * Errors: GC_EINVAL (no sink, no spool_dir, bad URL), GC_ECONFLICT (spool
 * locked by another process: the message names its pid), GC_ESYS/GC_EIO
 * (spool dir unusable). */
GC_EXTERN int gc_reporter_new(gc_reporter **out,
			      const gc_reporter_options *opts, gc_error *err);

/* gc_reporter_new with the options of gc_reporter_options_from_config
 * and the log sink `log`, which gets every line and filters by level.
 * GC_ENOTFOUND when the configuration names no sink at all. */
GC_EXTERN int gc_reporter_new_from_config(gc_reporter **out,
					  const gc_agent_config *cfg,
					  gc_log_fn log, void *log_payload,
					  gc_error *err);

/* Spool one record and wake the sender; never waits for the sink.
 * Returns 0 (accepted: it will be delivered), GC_ETOOBIG (spool bound
 * reached or the record is larger than the bound: refused, counted and
 * logged), GC_EIO (the spool file could not be written: counted and
 * logged), GC_ECANCELED (reporter being freed), GC_EINVAL, GC_ENOMEM. */
GC_EXTERN int gc_reporter_result_submit(gc_reporter *r, const gc_result *res,
					gc_error *err);
GC_EXTERN int gc_reporter_warning_submit(gc_reporter *r,
					 const gc_warning *w, gc_error *err);

/* A run is starting (call it before the command is spawned): `res` is its
 * result so far (task, plan_time, real_time, start_time, run_id, which is
 * required; output and error are ignored). Its result, submitted later
 * with the same run id, ends the record. Costs one small file create and
 * rename (plus fdatasync with GC_REPORTER_SYNC_ALWAYS). Returns 0, GC_EINVAL
 * (no run id), GC_EIO (not recorded: logged; the run goes on, but its
 * result would be lost if the agent died during it), GC_ENOMEM. */
GC_EXTERN int gc_reporter_start_submit(gc_reporter *r, const gc_result *res,
					 gc_error *err);

/* The same with the agent's callback signatures (gc_agent_result_fn and
 * gc_agent_warning_fn in agent.h), for
 *     opts.on_start = gc_reporter_agent_started;
 *     opts.on_result = gc_reporter_agent_result;
 *     opts.on_warning = gc_reporter_agent_warning;
 *     opts.payload = reporter;
 * A refusal is counted and logged by the reporter. */
GC_EXTERN void gc_reporter_agent_started(const gc_result *res, void *reporter);
GC_EXTERN void gc_reporter_agent_result(const gc_result *res, void *reporter);
GC_EXTERN void gc_reporter_agent_warning(const gc_warning *w, void *reporter);

typedef struct gc_reporter_stats {
	uint64_t results;        /* results accepted into the spool */
	uint64_t warnings;       /* warnings accepted into the spool */
	uint64_t delivered;      /* records the sink took (both kinds) */
	uint64_t duplicates;     /* SQL sink: results whose run id was
				    already stored */
	uint64_t warnings_logged; /* SQL sink: warnings written to the log */
	uint64_t refused;        /* submits refused (spool full or write
				    failed): lost, each one logged */
	uint64_t attempts_failed; /* delivery attempts that failed */
	uint64_t rejected;       /* attempts the sink rejected as malformed */
	uint64_t dead_lettered;  /* records moved to dead-letter.jsonl */
	uint64_t recovered;      /* records found in the spool at open */
	uint64_t torn_bytes;     /* bytes of torn/corrupt tail cut at open */
	uint64_t pending_records; /* waiting in the spool (incl. in flight) */
	uint64_t pending_bytes;
	uint64_t segments;       /* spool files on disk */
	uint64_t started;        /* runs recorded as started */
	uint64_t interrupted;    /* runs an earlier process left unfinished,
				    reported as GC_RUN_ERR_INTERRUPTED */
	int sink_up;             /* 0 while deliveries are failing */
	int64_t outage_ms;       /* how long they have been failing, 0 if up */
	int last_http_status;    /* HTTP sink: status of the last attempt
				    (0 = no answer) */
	char last_error[256];    /* last delivery failure, "" if none */
} gc_reporter_stats;

/* Snapshot of the counters; any thread. */
GC_EXTERN void gc_reporter_stats_get(gc_reporter *r, gc_reporter_stats *out);

/* Wait until every record submitted before the call has been delivered
 * (the spool is drained up to that point) or timeout_ms passed (< 0 =
 * forever). Retries waiting for their backoff are attempted at once.
 * Returns 0 or GC_ETIMEDOUT; undelivered records stay in the spool for the
 * next start. Use it on shutdown, after the agent has stopped. */
GC_EXTERN int gc_reporter_flush(gc_reporter *r, int64_t timeout_ms);

/* Stop the sender (an HTTP request in flight is abandoned at once and its
 * record sent again by the next reporter on this spool; an SQL statement
 * in progress is allowed to finish), sync the spool, release the lock,
 * free. NULL is harmless. Call gc_reporter_flush first to deliver what is
 * pending. */
GC_EXTERN void gc_reporter_free(gc_reporter *r);

#ifdef __cplusplus
}
#endif
#endif
