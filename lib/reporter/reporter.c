/* The reporter: submit appends to the spool; a sender thread delivers the
 * spool in order to the HTTP or SQL sink, retrying with backoff, and
 * commits what the sink took. */
#include "inflight.h"
#include "job/job_internal.h"
#include "reporter_internal.h"
#include "spool.h"

#include <gophercron/reporter.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BATCH_LIMIT 4096
/* SQL sink: how long a partly filled batch waits for more results. */
#define LINGER_MS 5

/* Store the SQL sink opens itself (gc_reporter_new_from_config). */
typedef struct owned_store {
	int backend;
	char *sqlite_path;
	char *mysql_service, *mysql_username, *mysql_password, *mysql_database;
	int connect_timeout_s;
} owned_store;

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
	gc__http *http;     /* HTTP sink, or */
	gc_store *store;    /* SQL sink */
	owned_store *own;   /* set when the reporter opens `store` itself */
	int dead_fd;        /* dead-letter.jsonl, opened on first use */

	pthread_t thread;
	bool thread_running;
	atomic_bool abort;  /* stopping: cut an HTTP request short */

	pthread_mutex_t mu;
	pthread_cond_t wake;     /* sender: new records, flush, stop */
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

#define LOG(r, level, ...)                                                  \
	do {                                                                \
		if ((r)->log && (level) <= (r)->log_level)                  \
			gc__log((r)->log, (r)->log_payload, level,          \
				__VA_ARGS__);                               \
	} while (0)

GC_EXTERN int gc_reporter_options_init(gc_reporter_options *o,
				       unsigned version)
{
	if (!o || version != GC_REPORTER_OPTIONS_VERSION)
		return GC_EINVAL;
	memset(o, 0, sizeof(*o));
	o->version = version;
	return 0;
}

/* ------------------------------------------------------------ waiting */

static void deadline_ts(struct timespec *ts, int64_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Sleep `ms` for a retry; a flush (kick) or stop ends it early. */
static void backoff_wait(gc_reporter *r, int64_t ms)
{
	struct timespec ts;
	deadline_ts(&ts, ms);
	pthread_mutex_lock(&r->mu);
	while (!r->stopping && !r->kick &&
	       pthread_cond_timedwait(&r->wake, &r->mu, &ts) != ETIMEDOUT)
		;
	r->kick = false;
	pthread_mutex_unlock(&r->mu);
}

/* Wait until `need` records are appended after `seq` or `until_ms`
 * (monotonic) passes; returns 1 when there are new ones. Submits wake the
 * sender only when the target is reached, not for every record. */
static int wait_more(gc_reporter *r, uint64_t seq, uint64_t need,
		     int64_t until_ms)
{
	struct timespec ts;
	int64_t left = until_ms - gc__mono_ms();
	int more;
	if (left <= 0)
		return 0;
	deadline_ts(&ts, left);
	pthread_mutex_lock(&r->mu);
	r->wake_target = seq + need;
	while (!r->stopping && r->wake_seq < seq + need &&
	       pthread_cond_timedwait(&r->wake, &r->mu, &ts) != ETIMEDOUT)
		;
	r->wake_target = UINT64_MAX;
	more = !r->stopping && r->wake_seq != seq;
	pthread_mutex_unlock(&r->mu);
	return more;
}

/* Wait for records appended after the reader saw `seq`. */
static void idle_wait(gc_reporter *r, uint64_t seq)
{
	pthread_mutex_lock(&r->mu);
	r->wake_target = seq + 1;
	while (!r->stopping && r->wake_seq == seq)
		pthread_cond_wait(&r->wake, &r->mu);
	r->wake_target = UINT64_MAX;
	r->kick = false;
	pthread_mutex_unlock(&r->mu);
}

static bool stopping(gc_reporter *r)
{
	bool s;
	pthread_mutex_lock(&r->mu);
	s = r->stopping;
	pthread_mutex_unlock(&r->mu);
	return s;
}

static uint64_t wake_seq(gc_reporter *r)
{
	uint64_t s;
	pthread_mutex_lock(&r->mu);
	s = r->wake_seq;
	pthread_mutex_unlock(&r->mu);
	return s;
}

/* ----------------------------------------------------- outcome records */

static void note_success(gc_reporter *r)
{
	gc__spool_stats st;
	bool was_down;
	int64_t down_ms = 0;
	pthread_mutex_lock(&r->mu);
	was_down = !r->sink_up;
	if (was_down)
		down_ms = gc__mono_ms() - r->outage_start_ms;
	r->sink_up = true;
	r->last_error[0] = '\0';
	pthread_mutex_unlock(&r->mu);
	if (was_down) {
		gc__spool_get_stats(r->spool, &st);
		LOG(r, GC_LOG_NOTICE,
		    "report: sink %s is back after %.1f s of failed "
		    "deliveries; %" PRIu64 " records still waiting in the "
		    "spool are being delivered",
		    r->http ? r->report_addr : "database",
		    (double)down_ms / 1000.0, st.pending_records);
	}
}

/* Count a failed attempt; `reject`: the sink refused the record itself. */
static void count_failure(gc_reporter *r, const char *msg, int http_status,
			  bool reject)
{
	pthread_mutex_lock(&r->mu);
	r->attempts_failed++;
	if (reject)
		r->rejected++;
	r->last_http_status = http_status;
	snprintf(r->last_error, sizeof(r->last_error), "%s", msg);
	pthread_mutex_unlock(&r->mu);
}

/* A failed attempt (already counted): log it -- an outage loudly when it
 * starts -- and wait out the backoff. A rejection is the record's fault,
 * not an outage: it is logged at error level every time. */
static void note_failure(gc_reporter *r, int64_t *backoff, const char *msg,
			 bool reject, int attempt)
{
	gc__spool_stats st;
	bool first = false;
	int64_t wait = *backoff;
	gc__spool_get_stats(r->spool, &st);
	if (!reject) {
		pthread_mutex_lock(&r->mu);
		first = r->sink_up;
		if (first) {
			r->sink_up = false;
			r->outage_start_ms = gc__mono_ms();
		}
		pthread_mutex_unlock(&r->mu);
	}
	if (reject)
		LOG(r, GC_LOG_ERR,
		    "report: the sink rejected the record at the head of the "
		    "spool (attempt %d of %d before it is dead-lettered): %s",
		    attempt, r->max_reject, msg);
	else if (first)
		LOG(r, GC_LOG_ERR,
		    "report: delivery failed: %s; %" PRIu64 " records (%" PRIu64
		    " bytes) wait in the spool and are retried with backoff "
		    "(next in %lld ms)",
		    msg, st.pending_records, st.pending_bytes, (long long)wait);
	else
		LOG(r, GC_LOG_WARNING,
		    "report: delivery still failing: %s; %" PRIu64
		    " records waiting, next attempt in %lld ms",
		    msg, st.pending_records, (long long)wait);
	backoff_wait(r, wait);
	*backoff = *backoff * 2 > r->retry_max_ms ? r->retry_max_ms
						  : *backoff * 2;
}

/* Both at once, for failures that are not about one record. */
static void failed(gc_reporter *r, int64_t *backoff, const char *msg,
		   int http_status)
{
	count_failure(r, msg, http_status, false);
	note_failure(r, backoff, msg, false, 0);
}

/* run_id of a spooled result body, for log lines ("" if none). */
static void body_run_id(const gc__buf *body, char out[160])
{
	const char *p = body->data ? strstr(body->data, "\"run_id\":\"") : NULL;
	size_t n = 0;
	if (p) {
		p += 10;
		while (p[n] && p[n] != '"' && p[n] != '\\' && n < 159)
			n++;
		memcpy(out, p, n);
	}
	out[n] = '\0';
}

/* Move a record the sink will never take to dead-letter.jsonl. Returns 0
 * when it is safely written there (the caller then commits past it). */
static int dead_letter(gc_reporter *r, const gc__spool_rec *rec,
		       const char *reason, int attempts)
{
	gc__buf line = GC__BUF_INIT;
	char t[48], rid[160];
	int rc = 0;
	if (r->dead_fd < 0)
		r->dead_fd = openat(gc__spool_dirfd(r->spool),
				    "dead-letter.jsonl",
				    O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
				    0600);
	gc__rfc3339_go(gc__wall_ns(), t);
	rc |= gc__buf_printf(&line, "{\"time\":\"%s\",\"report_type\":\"%s\","
				    "\"attempts\":%d,\"reason\":",
			     t, gc__report_type_name(rec->type), attempts);
	rc |= gc__json_gostr(&line, reason, strlen(reason));
	rc |= gc__buf_puts(&line, ",\"body\":");
	rc |= gc__json_gostr(&line, rec->payload.data ? rec->payload.data : "",
			     rec->payload.len);
	rc |= gc__buf_puts(&line, "}\n");
	body_run_id(&rec->payload, rid);
	if (rc || r->dead_fd < 0 ||
	    write(r->dead_fd, line.data, line.len) != (ssize_t)line.len ||
	    fdatasync(r->dead_fd)) {
		LOG(r, GC_LOG_ERR,
		    "report: cannot write dead-letter.jsonl in the spool dir "
		    "(%s); the rejected %s %s stays at the head of the spool",
		    rc ? "out of memory" : strerror(errno),
		    gc__report_type_name(rec->type), rid);
		gc__buf_free(&line);
		return -1;
	}
	gc__buf_free(&line);
	pthread_mutex_lock(&r->mu);
	r->dead_lettered++;
	pthread_mutex_unlock(&r->mu);
	LOG(r, GC_LOG_ERR,
	    "report: %s%s%s rejected by the sink %d times (%s): moved to "
	    "dead-letter.jsonl in the spool dir, NOT delivered",
	    gc__report_type_name(rec->type), rid[0] ? " run_id=" : "", rid,
	    attempts, reason);
	return 0;
}

/* Records up to `pos` are done with: `delivered` of them reached the sink
 * (`duplicates` of those were already stored), the rest were given up
 * (dead letter, damage), already counted. */
static void commit(gc_reporter *r, gc__spool_pos pos, uint64_t records,
		   uint64_t bytes, uint64_t delivered, uint64_t duplicates)
{
	gc_error err;
	if (gc__spool_commit(r->spool, pos, records, bytes, &err)) {
		/* Delivered anyway; a stale cursor only re-sends. */
		LOG(r, GC_LOG_ERR, "report: %s", err.msg);
	}
	pthread_mutex_lock(&r->mu);
	r->done += records;
	r->delivered += delivered;
	r->duplicates += duplicates;
	pthread_cond_broadcast(&r->progress);
	pthread_mutex_unlock(&r->mu);
}

/* ---------------------------------------------------------- HTTP sink */

static void http_loop(gc_reporter *r)
{
	gc__spool_pos pos = gc__spool_head(r->spool), next = pos;
	gc__spool_rec rec;
	gc_error err;
	int64_t backoff = r->retry_min_ms;
	int rejects = 0;
	bool have = false;
	char msg[GC__SEND_MSG_MAX];

	memset(&rec, 0, sizeof(rec));
	while (!stopping(r)) {
		long status = 0;
		int rc, out;
		if (!have) {
			uint64_t seq = wake_seq(r);
			next = pos;
			rc = gc__spool_read(r->spool, &next, &rec, &err);
			if (rc == GC_ENOTFOUND) {
				idle_wait(r, seq);
				continue;
			}
			if (rc == GC_EPROTO) {
				commit(r, next, rec.skipped, rec.size, 0, 0);
				pos = next;
				continue;
			}
			if (rc) {
				failed(r, &backoff, err.msg, 0);
				continue;
			}
			have = true;
			rejects = 0;
		}
		out = gc__http_post(r->http, rec.type, rec.payload.data,
				    rec.payload.len, &status, msg);
		if (out == GC__SEND_OK) {
			pthread_mutex_lock(&r->mu);
			r->last_http_status = (int)status;
			pthread_mutex_unlock(&r->mu);
			commit(r, next, 1, rec.size, 1, 0);
			pos = next;
			have = false;
			backoff = r->retry_min_ms;
			note_success(r);
			continue;
		}
		if (stopping(r))
			break;
		count_failure(r, msg, (int)status, out == GC__SEND_REJECT);
		if (out == GC__SEND_REJECT && ++rejects >= r->max_reject &&
		    dead_letter(r, &rec, msg, rejects) == 0) {
			commit(r, next, 1, rec.size, 0, 0);
			pos = next;
			have = false;
			backoff = r->retry_min_ms;
			continue;
		}
		note_failure(r, &backoff, msg, out == GC__SEND_REJECT, rejects);
	}
	gc__buf_free(&rec.payload);
}

/* ----------------------------------------------------------- SQL sink */

static int ensure_store(gc_reporter *r, gc_error *err)
{
	gc_store_options so = GC_STORE_OPTIONS_INIT;
	int rc;
	if (r->store)
		return 0;
	so.backend = r->own->backend;
	so.sqlite_path = r->own->sqlite_path;
	so.mysql_service = r->own->mysql_service;
	so.mysql_username = r->own->mysql_username;
	so.mysql_password = r->own->mysql_password;
	so.mysql_database = r->own->mysql_database;
	so.connect_timeout_s = r->own->connect_timeout_s;
	so.pool_size = 1;
	so.retention_interval_s = -1;
	so.log = r->log;
	so.log_payload = r->log_payload;
	rc = gc_store_open(&r->store, &so, err);
	if (rc == 0)
		LOG(r, GC_LOG_INFO, "report: results go to %s",
		    gc_store_describe(r->store));
	return rc;
}

typedef struct title {
	int64_t pid;
	char *title;
} title;

/* The project's title at the time of the run, as the service's ingest
 * stores it; cached for one batch. */
static int project_title(gc_reporter *r, title *cache, size_t *n,
			 int64_t pid, const char **out, gc_error *err)
{
	gc_store_project p = {0};
	int rc;
	for (size_t i = 0; i < *n; i++)
		if (cache[i].pid == pid) {
			*out = cache[i].title;
			return 0;
		}
	rc = gc_store_project_get(r->store, pid, &p, err);
	if (rc && rc != GC_ENOTFOUND)
		return rc;
	cache[*n].pid = pid;
	cache[*n].title = p.title; /* NULL when the project is gone */
	p.title = NULL;
	gc_store_project_clear(&p);
	*out = cache[(*n)++].title;
	return 0;
}

typedef struct batch {
	gc__spool_rec *recs;
	gc__spool_pos *ends; /* position after each record */
	gc_result *res;
	gc_store_log *rows;
	title *titles;
	size_t cap;
} batch;

static void batch_free(batch *b)
{
	for (size_t i = 0; i < b->cap; i++) {
		gc__buf_free(&b->recs[i].payload);
		gc_result_clear(&b->res[i]);
		gc_store_log_clear(&b->rows[i]);
	}
	free(b->recs);
	free(b->ends);
	free(b->res);
	free(b->rows);
	free(b->titles);
}

static void log_warning_record(gc_reporter *r, const gc__spool_rec *rec)
{
	gc_warning w = GC_WARNING_INIT;
	gc_error err;
	if (gc_warning_from_json(&w, rec->payload.data, rec->payload.len,
				 &err) == 0) {
		LOG(r, GC_LOG_WARNING,
		    "report: agent %.64s warns (%.16s, project %" PRId64
		    ", task \"%.100s\"): %.512s",
		    w.agent_ip ? w.agent_ip : "", w.type ? w.type : "",
		    w.project_id, w.task_name ? w.task_name : "",
		    w.data ? w.data : "");
	} else {
		LOG(r, GC_LOG_WARNING, "report: agent warning: %.512s",
		    rec->payload.data ? rec->payload.data : "");
	}
	gc_warning_clear(&w);
	pthread_mutex_lock(&r->mu);
	r->warnings_logged++;
	pthread_mutex_unlock(&r->mu);
}

static void sql_loop(gc_reporter *r)
{
	gc__spool_pos pos = gc__spool_head(r->spool);
	int64_t backoff = r->retry_min_ms;
	int rejects = 0;
	bool single = false;
	batch b;
	gc_error err;

	memset(&b, 0, sizeof(b));
	b.cap = (size_t)r->batch_max;
	b.recs = calloc(b.cap, sizeof(*b.recs));
	b.ends = calloc(b.cap, sizeof(*b.ends));
	b.res = calloc(b.cap, sizeof(*b.res));
	b.rows = calloc(b.cap, sizeof(*b.rows));
	b.titles = calloc(b.cap, sizeof(*b.titles));
	if (!b.recs || !b.ends || !b.res || !b.rows || !b.titles) {
		LOG(r, GC_LOG_ERR, "report: out of memory: the SQL sink stops; "
				   "records stay in the spool");
		batch_free(&b);
		return;
	}
	while (!stopping(r)) {
		uint64_t seq = wake_seq(r), bytes;
		gc__spool_pos p = pos, q = pos;
		size_t n = 0, want = single ? 1 : b.cap, ntitles = 0;
		size_t inserted = 0;
		int rc = 0;
		char msg[GC__SEND_MSG_MAX];

		/* A run of results, or one warning on its own. While results
		 * keep coming, wait a moment for more to fill the batch: one
		 * transaction of many rows costs little more than one row. */
		int64_t linger = 0;
		while (n < want) {
			uint64_t more = wake_seq(r);
			q = p;
			rc = gc__spool_read(r->spool, &q, &b.recs[n], &err);
			if (rc == GC_ENOTFOUND && n > 0) {
				if (!linger)
					linger = gc__mono_ms() + LINGER_MS;
				if (wait_more(r, more, want - n, linger))
					continue;
			}
			if (rc)
				break;
			if (b.recs[n].type == GC__SPOOL_REC_WARNING && n > 0)
				break;
			b.ends[n] = p = q;
			n++;
			if (b.recs[n - 1].type == GC__SPOOL_REC_WARNING)
				break;
		}
		if (n == 0) {
			if (rc == GC_ENOTFOUND) {
				idle_wait(r, seq);
			} else if (rc == GC_EPROTO) { /* damaged: skipped */
				commit(r, q, b.recs[0].skipped, b.recs[0].size, 0, 0);
				pos = q;
			} else {
				failed(r, &backoff, err.msg, 0);
			}
			continue;
		}
		if (b.recs[0].type == GC__SPOOL_REC_WARNING) {
			log_warning_record(r, &b.recs[0]);
			commit(r, b.ends[0], 1, b.recs[0].size, 1, 0);
			pos = b.ends[0];
			note_success(r);
			continue;
		}
		if ((rc = ensure_store(r, &err))) {
			failed(r, &backoff, err.msg, 0);
			continue;
		}
		/* Decode; a record that can never become a row ends the batch
		 * before it, and goes to the dead letters when it is first. */
		for (size_t i = 0; i < n; i++) {
			const char *t = NULL;
			gc_store_log_clear(&b.rows[i]);
			rc = gc_result_from_json(&b.res[i], b.recs[i].payload.data,
						 b.recs[i].payload.len, &err);
			if (rc == 0)
				rc = project_title(r, b.titles, &ntitles,
						   b.res[i].task.project_id, &t,
						   &err);
			if (rc == 0)
				rc = gc_store_log_from_result(
				    &b.rows[i], &b.res[i], r->agent_ip, t,
				    r->output_limit, &err);
			if (rc == GC_EINVAL && i > 0) {
				n = i;
				rc = 0;
				break;
			}
			if (rc)
				break;
		}
		for (size_t i = 0; i < ntitles; i++)
			free(b.titles[i].title);
		if (rc == GC_EINVAL) { /* the first record cannot be stored */
			snprintf(msg, sizeof(msg), "%.255s", err.msg);
			count_failure(r, msg, 0, true);
			if (dead_letter(r, &b.recs[0], msg, 1) == 0) {
				commit(r, b.ends[0], 1, b.recs[0].size, 0, 0);
				pos = b.ends[0];
			} else {
				note_failure(r, &backoff, msg, true, 1);
			}
			continue;
		}
		if (rc) { /* project lookup failed: the database is in trouble */
			failed(r, &backoff, err.msg, 0);
			continue;
		}
		bytes = 0;
		for (size_t i = 0; i < n; i++)
			bytes += b.recs[i].size;
		rc = gc_store_log_insert(r->store, b.rows, n, &inserted, &err);
		if (rc == 0) {
			commit(r, b.ends[n - 1], n, bytes, n, n - inserted);
			pos = b.ends[n - 1];
			backoff = r->retry_min_ms;
			rejects = 0;
			single = false;
			note_success(r);
			continue;
		}
		snprintf(msg, sizeof(msg), "%.255s", err.msg);
		if (rc == GC_EINVAL && n > 1) {
			/* find the row the store refuses: one at a time */
			single = true;
			continue;
		}
		count_failure(r, msg, 0, rc == GC_EINVAL);
		if (rc == GC_EINVAL && ++rejects >= r->max_reject &&
		    dead_letter(r, &b.recs[0], msg, rejects) == 0) {
			commit(r, b.ends[0], 1, b.recs[0].size, 0, 0);
			pos = b.ends[0];
			rejects = 0;
			single = false;
			continue;
		}
		note_failure(r, &backoff, msg, rc == GC_EINVAL, rejects);
	}
	batch_free(&b);
}

static void *sender_main(void *arg)
{
	gc_reporter *r = arg;
	if (r->http)
		http_loop(r);
	else
		sql_loop(r);
	return NULL;
}

/* -------------------------------------------------------- constructor */

static void owned_store_free(owned_store *o)
{
	if (!o)
		return;
	free(o->sqlite_path);
	free(o->mysql_service);
	free(o->mysql_username);
	gc__secret_free(o->mysql_password);
	free(o->mysql_database);
	free(o);
}

GC_EXTERN void gc_reporter_free(gc_reporter *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	r->stopping = true;
	atomic_store(&r->abort, true);
	pthread_cond_broadcast(&r->wake);
	pthread_cond_broadcast(&r->progress);
	pthread_mutex_unlock(&r->mu);
	if (r->thread_running)
		pthread_join(r->thread, NULL);
	gc__inflight_close(r->inflight);
	gc__spool_close(r->spool);
	gc__http_free(r->http);
	if (r->own)
		gc_store_close(r->store);
	owned_store_free(r->own);
	if (r->dead_fd >= 0)
		close(r->dead_fd);
	pthread_cond_destroy(&r->wake);
	pthread_cond_destroy(&r->progress);
	pthread_mutex_destroy(&r->mu);
	free(r->report_addr);
	free(r->agent_ip);
	free(r);
}

static void report_interrupted(gc_reporter *r, const char *dir);

static int reporter_create(gc_reporter **out, const gc_reporter_options *o,
			   owned_store *own, gc_error *err)
{
	gc_reporter *r;
	pthread_condattr_t ca;
	gc__spool_options so;
	int rc;

	*out = NULL;
	if (!o || o->version != GC_REPORTER_OPTIONS_VERSION) {
		owned_store_free(own);
		return gc__seterr(err, GC_EINVAL,
				  "reporter: options missing or of an unknown "
				  "version");
	}
	if (!o->spool_dir || !*o->spool_dir) {
		owned_store_free(own);
		return gc__seterr(err, GC_EINVAL, "reporter: spool_dir is "
						  "required");
	}
	if ((!o->report_addr || !*o->report_addr) && !o->store && !own) {
		return gc__seterr(err, GC_EINVAL,
				  "reporter: no sink: set report_addr (HTTP) "
				  "or a store (SQL)");
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		owned_store_free(own);
		return gc__seterr(err, GC_ENOMEM, "reporter: out of memory");
	}
	r->own = own;
	r->dead_fd = -1;
	r->sink_up = true;
	r->wake_target = UINT64_MAX;
	pthread_mutex_init(&r->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->wake, &ca);
	pthread_cond_init(&r->progress, &ca);
	pthread_condattr_destroy(&ca);
	atomic_init(&r->abort, false);
	r->retry_min_ms = o->retry_min_ms > 0 ? o->retry_min_ms : 200;
	r->retry_max_ms = o->retry_max_ms > 0 ? o->retry_max_ms : 30000;
	if (r->retry_max_ms < r->retry_min_ms)
		r->retry_max_ms = r->retry_min_ms;
	r->max_reject = o->max_reject_attempts > 0 ? o->max_reject_attempts : 5;
	r->batch_max = o->batch_max > 0 ? o->batch_max : 256;
	if (r->batch_max > BATCH_LIMIT)
		r->batch_max = BATCH_LIMIT;
	r->output_limit = o->output_limit > 0 ? (size_t)o->output_limit : 0;
	r->log = o->log;
	r->log_payload = o->log_payload;
	r->log_level = o->log_level > 0 ? o->log_level : GC_LOG_INFO;
	r->agent_ip = gc__strdup(o->agent_ip && *o->agent_ip ? o->agent_ip
							     : "127.0.0.1");
	r->report_addr = gc__strdup(o->report_addr ? o->report_addr : "");
	if (!r->agent_ip || !r->report_addr) {
		gc_reporter_free(r);
		return gc__seterr(err, GC_ENOMEM, "reporter: out of memory");
	}
	if (o->report_addr && *o->report_addr) {
		gc__http_options ho;
		memset(&ho, 0, sizeof(ho));
		ho.url = o->report_addr;
		ho.token = o->report_token;
		ho.ca_file = o->ca_file;
		ho.connect_timeout_ms = o->connect_timeout_ms;
		ho.request_timeout_ms = o->request_timeout_ms;
		ho.abort = &r->abort;
		if ((rc = gc__http_new(&r->http, &ho, err))) {
			gc_reporter_free(r);
			return rc;
		}
	} else if (!own) {
		r->store = o->store;
	}
	memset(&so, 0, sizeof(so));
	so.dir = o->spool_dir;
	so.max_bytes = o->spool_max_bytes > 0 ? (uint64_t)o->spool_max_bytes : 0;
	so.max_records =
		o->spool_max_records > 0 ? (uint64_t)o->spool_max_records : 0;
	so.segment_bytes = o->segment_bytes > 0 ? (uint64_t)o->segment_bytes : 0;
	so.sync = o->sync;
	so.sync_interval_ms = o->sync_interval_ms;
	so.log = r->log;
	so.log_payload = r->log_payload;
	if (o->sync < GC_REPORT_SYNC_GROUP || o->sync > GC_REPORT_SYNC_NONE) {
		gc_reporter_free(r);
		return gc__seterr(err, GC_EINVAL, "reporter: unknown sync mode %d",
				  o->sync);
	}
	if ((rc = gc__spool_open(&r->spool, &so, err)) ||
	    (rc = gc__inflight_open(&r->inflight, gc__spool_dirfd(r->spool),
				    o->spool_dir, o->sync, err))) {
		gc_reporter_free(r);
		return rc;
	}
	report_interrupted(r, o->spool_dir);
	if (pthread_create(&r->thread, NULL, sender_main, r)) {
		gc_reporter_free(r);
		return gc__seterr(err, GC_ESYS,
				  "reporter: cannot start the sender thread");
	}
	r->thread_running = true;
	LOG(r, GC_LOG_INFO, "report: results go to %s, spool %s",
	    r->http ? r->report_addr
		    : own ? (own->backend == GC_STORE_MYSQL ? "MySQL"
							    : "SQLite")
			  : gc_store_describe(r->store),
	    o->spool_dir);
	*out = r;
	return 0;
}

GC_EXTERN int gc_reporter_new(gc_reporter **out,
			      const gc_reporter_options *opts, gc_error *err)
{
	if (!out)
		return gc__seterr(err, GC_EINVAL, "reporter: NULL out");
	return reporter_create(out, opts, NULL, err);
}

GC_EXTERN int gc_reporter_new_from_config(gc_reporter **out,
					  const gc_agent_config *cfg,
					  gc_log_fn log, void *log_payload,
					  gc_error *err)
{
	gc_reporter_options o = GC_REPORTER_OPTIONS_INIT;
	owned_store *own = NULL;
	if (!out || !cfg)
		return gc__seterr(err, GC_EINVAL, "reporter: NULL argument");
	*out = NULL;
	o.report_addr = cfg->report_addr;
	o.report_token = cfg->report_token;
	o.agent_ip = cfg->client_ip;
	o.output_limit = cfg->output_limit;
	o.spool_dir = cfg->spool_dir;
	o.log = log;
	o.log_payload = log_payload;
	o.log_level = GC_LOG_DEBUG; /* the callback filters */
	if (!cfg->report_addr || !*cfg->report_addr) {
		bool mysql = cfg->mysql.service && *cfg->mysql.service;
		bool sqlite = cfg->sqlite.path && *cfg->sqlite.path;
		if (!mysql && !sqlite)
			return gc__seterr(err, GC_ENOTFOUND,
					  "no result sink configured: set "
					  "report_addr, [mysql] service or "
					  "[sqlite] path");
		own = calloc(1, sizeof(*own));
		if (!own)
			return gc__seterr(err, GC_ENOMEM,
					  "reporter: out of memory");
		own->backend = mysql ? GC_STORE_MYSQL : GC_STORE_SQLITE;
		own->connect_timeout_s = (int)cfg->deploy.timeout_s;
		if (mysql) {
			own->mysql_service = gc__strdup(cfg->mysql.service);
			own->mysql_username =
				gc__strdup(cfg->mysql.username ? cfg->mysql.username
							       : "");
			own->mysql_password =
				gc__strdup(cfg->mysql.password ? cfg->mysql.password
							       : "");
			own->mysql_database =
				cfg->mysql.database
					? gc__strdup(cfg->mysql.database)
					: NULL;
			if (!own->mysql_service || !own->mysql_username ||
			    !own->mysql_password ||
			    (cfg->mysql.database && !own->mysql_database)) {
				owned_store_free(own);
				return gc__seterr(err, GC_ENOMEM,
						  "reporter: out of memory");
			}
		} else if (!(own->sqlite_path = gc__strdup(cfg->sqlite.path))) {
			owned_store_free(own);
			return gc__seterr(err, GC_ENOMEM,
					  "reporter: out of memory");
		}
	}
	return reporter_create(out, &o, own, err);
}

/* ------------------------------------------------------------- submit */

/* "result run_id=... (project, task, plan)" or "warning (...)" for logs. */
static void describe(char out[400], const gc_result *res, const gc_warning *w)
{
	if (res)
		snprintf(out, 400,
			 "result run_id=%.200s (project %" PRId64 ", task %.64s, "
			 "plan %" PRId64 ")",
			 res->run_id ? res->run_id : "", res->task.project_id,
			 res->task.task_id ? res->task.task_id : "",
			 res->plan_time_ns / 1000000000);
	else
		snprintf(out, 400,
			 "warning (project %" PRId64 ", task \"%.64s\": %.100s)",
			 w->project_id, w->task_name ? w->task_name : "",
			 w->data ? w->data : "");
}

/* Spool the encoded body (NULL: encoding ran out of memory) of `res` or
 * `w`; count, wake the sender, log. */
static int submit(gc_reporter *r, char *body, const gc_result *res,
		  const gc_warning *w, gc_error *err)
{
	gc_error e2;
	gc_error *e = err ? err : &e2;
	size_t len = body ? strlen(body) : 0;
	char what[400];
	bool journaled = false;
	int rc;
	if (body)
		rc = gc__spool_append(r->spool,
				      res ? GC__SPOOL_REC_RESULT
					  : GC__SPOOL_REC_WARNING,
				      body, len, e);
	else
		rc = gc__seterr(e, GC_ENOMEM, "reporter: out of memory");
	free(body);
	pthread_mutex_lock(&r->mu);
	if (rc) {
		r->refused++;
	} else {
		if (res)
			r->results++;
		else
			r->warnings++;
		if (++r->wake_seq >= r->wake_target)
			pthread_cond_signal(&r->wake);
		/* A run's start is recorded before its result comes. */
		journaled = res && r->started;
	}
	pthread_mutex_unlock(&r->mu);
	/* The result is in the spool: the run is no longer in progress. */
	if (journaled)
		gc__inflight_remove(r->inflight, res->run_id);
	if (rc && r->log) {
		describe(what, res, w);
		LOG(r, GC_LOG_ERR, "report: %s NOT spooled, it is lost: %s", what,
		    e->msg);
	} else if (r->log && r->log_level >= GC_LOG_DEBUG) {
		describe(what, res, w);
		LOG(r, GC_LOG_DEBUG, "report: spooled %s (%zu bytes)", what, len);
	}
	return rc;
}

GC_EXTERN int gc_reporter_submit_result(gc_reporter *r, const gc_result *res,
					gc_error *err)
{
	if (!r || !res)
		return gc__seterr(err, GC_EINVAL, "reporter: NULL argument");
	return submit(r, gc_result_to_json(res), res, NULL, err);
}

GC_EXTERN int gc_reporter_submit_warning(gc_reporter *r,
					 const gc_warning *w, gc_error *err)
{
	if (!r || !w)
		return gc__seterr(err, GC_EINVAL, "reporter: NULL argument");
	return submit(r, gc_warning_to_json(w), NULL, w, err);
}

GC_EXTERN int gc_reporter_submit_started(gc_reporter *r, const gc_result *res,
					 gc_error *err)
{
	gc_error e2;
	gc_error *e = err ? err : &e2;
	char what[400], *body;
	int rc;
	if (!r || !res)
		return gc__seterr(err, GC_EINVAL, "reporter: NULL argument");
	body = gc_result_to_json(res);
	rc = body ? gc__inflight_add(r->inflight, res->run_id, body,
				     strlen(body), e)
		  : gc__seterr(e, GC_ENOMEM, "reporter: out of memory");
	free(body);
	pthread_mutex_lock(&r->mu);
	if (!rc)
		r->started++;
	pthread_mutex_unlock(&r->mu);
	if (r->log && (rc || r->log_level >= GC_LOG_DEBUG))
		describe(what, res, NULL);
	if (rc)
		LOG(r, GC_LOG_ERR,
		    "report: start of %s not recorded (should the agent die "
		    "during this run, its result is lost): %s",
		    what, e->msg);
	else
		LOG(r, GC_LOG_DEBUG, "report: run started %s", what);
	return rc;
}

GC_EXTERN void gc_reporter_agent_started(const gc_result *res, void *reporter)
{
	gc_reporter_submit_started(reporter, res, NULL);
}

GC_EXTERN void gc_reporter_agent_result(const gc_result *res, void *reporter)
{
	gc_reporter_submit_result(reporter, res, NULL);
}

GC_EXTERN void gc_reporter_agent_warning(const gc_warning *w, void *reporter)
{
	gc_reporter_submit_warning(reporter, w, NULL);
}

/* ------------------------------------------------- interrupted runs */

/* Set aside a journal entry that cannot become a result, loudly. */
static void interrupted_unusable(gc_reporter *r, const char *dir,
				 const gc__inflight_entry *e, const char *why)
{
	LOG(r, GC_LOG_ERR,
	    "report: spool %s: running/%s.run (a run in progress when the "
	    "agent stopped) is unusable: %s; moved to running/%s.bad, that "
	    "run has NO result",
	    dir, e->name, why, e->name);
	gc__inflight_set_aside(r->inflight, e->name);
}

/* Every run an earlier process recorded as started but never finished
 * (it was killed, crashed or lost power during the run) becomes a failed
 * result, with its warning first as for any failed run, so that every
 * run that started has a row and the operator sees the gap. A run is
 * removed from the journal once its result is spooled; if the process
 * died between the two, the run's real result is earlier in the spool and
 * the receiver keeps it (one row per run id). */
static void report_interrupted(gc_reporter *r, const char *dir)
{
	gc__inflight_entry *v;
	size_t n;
	gc_error err;
	if (gc__inflight_list(r->inflight, &v, &n, &err)) {
		LOG(r, GC_LOG_ERR, "report: %s", err.msg);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		gc_result res = GC_RESULT_INIT;
		gc_warning w = GC_WARNING_INIT;
		char what[400];
		if (!v[i].body) {
			interrupted_unusable(r, dir, &v[i],
					     strerror(v[i].errnum));
			continue;
		}
		if (gc_result_from_json(&res, v[i].body, v[i].len, &err)) {
			interrupted_unusable(r, dir, &v[i], err.msg);
			continue;
		}
		free(res.error);
		free(res.output);
		res.output = gc__strdup("");
		res.output_len = 0;
		res.error = gc__strdup(GC_RUN_ERR_INTERRUPTED);
		res.end_time_ns = gc__wall_ns();
		if (!res.output || !res.error ||
		    gc_warning_for_result(&w, &res,
					  res.task.client_ip &&
						  *res.task.client_ip
					      ? res.task.client_ip
					      : r->agent_ip,
					  &err)) {
			LOG(r, GC_LOG_ERR,
			    "report: out of memory for interrupted run %s: "
			    "kept for the next start",
			    v[i].name);
			gc_warning_clear(&w);
			gc_result_clear(&res);
			continue;
		}
		describe(what, &res, NULL);
		LOG(r, GC_LOG_WARNING,
		    "report: %s was interrupted (the agent stopped during the "
		    "run): reported as \"" GC_RUN_ERR_INTERRUPTED "\"",
		    what);
		gc_reporter_submit_warning(r, &w, NULL);
		/* No start is recorded yet, so submit leaves the file to us. */
		if (gc_reporter_submit_result(r, &res, NULL) == 0) {
			gc__inflight_remove_name(r->inflight, v[i].name);
			pthread_mutex_lock(&r->mu);
			r->interrupted++;
			pthread_mutex_unlock(&r->mu);
		}
		gc_warning_clear(&w);
		gc_result_clear(&res);
	}
	gc__inflight_entries_free(v, n);
}

/* -------------------------------------------------------------- stats */

GC_EXTERN void gc_reporter_stats_get(gc_reporter *r, gc_reporter_stats *out)
{
	gc__spool_stats st;
	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	if (!r)
		return;
	gc__spool_get_stats(r->spool, &st);
	pthread_mutex_lock(&r->mu);
	out->results = r->results;
	out->warnings = r->warnings;
	out->delivered = r->delivered;
	out->duplicates = r->duplicates;
	out->warnings_logged = r->warnings_logged;
	out->refused = r->refused;
	out->attempts_failed = r->attempts_failed;
	out->rejected = r->rejected;
	out->dead_lettered = r->dead_lettered;
	out->started = r->started;
	out->interrupted = r->interrupted;
	out->sink_up = r->sink_up;
	out->outage_ms = r->sink_up ? 0 : gc__mono_ms() - r->outage_start_ms;
	out->last_http_status = r->last_http_status;
	snprintf(out->last_error, sizeof(out->last_error), "%s", r->last_error);
	pthread_mutex_unlock(&r->mu);
	out->recovered = st.recovered;
	out->torn_bytes = st.torn_bytes;
	out->pending_records = st.pending_records;
	out->pending_bytes = st.pending_bytes;
	out->segments = st.segments;
}

GC_EXTERN int gc_reporter_flush(gc_reporter *r, int64_t timeout_ms)
{
	gc__spool_stats st;
	struct timespec ts;
	uint64_t target;
	int rc = 0;
	if (!r)
		return GC_EINVAL;
	/* Every record appended so far (recovered ones included) must be
	 * committed; `done` counts commits together with their counters. */
	gc__spool_get_stats(r->spool, &st);
	target = st.appended;
	if (timeout_ms >= 0)
		deadline_ts(&ts, timeout_ms);
	pthread_mutex_lock(&r->mu);
	r->kick = true;
	pthread_cond_broadcast(&r->wake);
	while (r->done < target) {
		if (r->stopping) {
			rc = GC_ECANCELED;
			break;
		}
		if (timeout_ms < 0) {
			pthread_cond_wait(&r->progress, &r->mu);
		} else if (pthread_cond_timedwait(&r->progress, &r->mu, &ts) ==
			   ETIMEDOUT) {
			rc = r->done >= target ? 0 : GC_ETIMEDOUT;
			break;
		}
	}
	pthread_mutex_unlock(&r->mu);
	return rc;
}
