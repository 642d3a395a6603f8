/* The reporter's sender thread: it delivers the spool in order to the
 * HTTP or the SQL sink, retrying with backoff, and commits what the sink
 * took; a record the sink keeps rejecting goes to dead-letter.jsonl. */
#include "reporter_internal.h"

#include "job/job_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* SQL sink: how long a partly filled batch waits for more results. */
#define LINGER_MS 5

/* ------------------------------------------------------------ waiting */

/* Sleep `ms` for a retry; a flush (kick) or stop ends it early. */
static void backoff_wait(gc_reporter *r, int64_t ms)
{
	struct timespec ts;
	gc__mono_deadline(&ts, ms);
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
	gc__mono_deadline(&ts, left);
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
	/* cut as the buffer cuts it, said explicitly */
	snprintf(r->last_error, sizeof(r->last_error), "%.255s", msg);
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
	gc_store_options so;
	int rc;
	if (r->store)
		return 0;
	so = r->own->opts;
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
	rc = gc_store_project_get(&p, r->store, pid, err);
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

/* Also after a batch_alloc that failed part way. */
static void batch_free(batch *b)
{
	for (size_t i = 0; i < b->cap; i++) {
		if (b->recs)
			gc__buf_free(&b->recs[i].payload);
		if (b->res)
			gc_result_clear(&b->res[i]);
		if (b->rows)
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

/* The SQL sink's state between batches. */
typedef struct sql_sink {
	gc_reporter *r;
	batch b;
	gc__spool_pos pos; /* first record not yet committed */
	int64_t backoff;
	int rejects; /* of the record at pos */
	bool single; /* find the row the store refuses: one at a time */
} sql_sink;

static bool batch_alloc(batch *b, size_t cap)
{
	memset(b, 0, sizeof(*b));
	b->cap = cap;
	b->recs = calloc(cap, sizeof(*b->recs));
	b->ends = calloc(cap, sizeof(*b->ends));
	b->res = calloc(cap, sizeof(*b->res));
	b->rows = calloc(cap, sizeof(*b->rows));
	b->titles = calloc(cap, sizeof(*b->titles));
	return b->recs && b->ends && b->res && b->rows && b->titles;
}

/* Read the next batch from k->pos: a run of results, or one warning on
 * its own. While results keep coming, wait a moment for more to fill the
 * batch: one transaction of many rows costs little more than one row.
 * Returns how many records were read; with none, *rc says why (and after
 * a damaged stretch *after is the position past it). */
static size_t sql_read(sql_sink *k, gc__spool_pos *after, int *rc,
		       gc_error *err)
{
	gc_reporter *r = k->r;
	batch *b = &k->b;
	gc__spool_pos p = k->pos, q = k->pos;
	size_t n = 0, want = k->single ? 1 : b->cap;
	int64_t linger = 0;
	*rc = 0;
	while (n < want) {
		uint64_t more = wake_seq(r);
		q = p;
		*rc = gc__spool_read(r->spool, &q, &b->recs[n], err);
		if (*rc == GC_ENOTFOUND && n > 0) {
			if (!linger)
				linger = gc__mono_ms() + LINGER_MS;
			if (wait_more(r, more, want - n, linger))
				continue;
		}
		if (*rc)
			break;
		if (b->recs[n].type == GC__SPOOL_REC_WARNING && n > 0)
			break;
		b->ends[n] = p = q;
		n++;
		if (b->recs[n - 1].type == GC__SPOOL_REC_WARNING)
			break;
	}
	*after = q;
	return n;
}

/* Decode the batch's results into rows, each with its project's title. A
 * record that can never become a row ends the batch before it (*n
 * shrinks); GC_EINVAL: the first one cannot. Other errors: the project
 * lookup failed, the database is in trouble. */
static int sql_decode(sql_sink *k, size_t *n, gc_error *err)
{
	gc_reporter *r = k->r;
	batch *b = &k->b;
	size_t ntitles = 0;
	int rc = 0;
	for (size_t i = 0; i < *n; i++) {
		const char *t = NULL;
		gc_store_log_clear(&b->rows[i]);
		rc = gc_result_from_json(&b->res[i], b->recs[i].payload.data,
					 b->recs[i].payload.len, err);
		if (rc == 0)
			rc = project_title(r, b->titles, &ntitles,
					   b->res[i].task.project_id, &t, err);
		if (rc == 0)
			rc = gc_store_log_from_result(&b->rows[i], &b->res[i],
						      r->agent_ip, t,
						      r->output_limit, err);
		if (rc == GC_EINVAL && i > 0) {
			*n = i;
			rc = 0;
			break;
		}
		if (rc)
			break;
	}
	for (size_t i = 0; i < ntitles; i++)
		free(b->titles[i].title);
	return rc;
}

/* Records up to the end of the batch's first are done with. */
static void sql_commit_first(sql_sink *k, uint64_t delivered)
{
	commit(k->r, k->b.ends[0], 1, k->b.recs[0].size, delivered, 0);
	k->pos = k->b.ends[0];
}

/* The batch's first record can never become a row: dead letters. */
static void sql_reject_first(sql_sink *k, const char *why)
{
	char msg[GC__SEND_MSG_MAX];
	snprintf(msg, sizeof(msg), "%.255s", why);
	count_failure(k->r, msg, 0, true);
	if (dead_letter(k->r, &k->b.recs[0], msg, 1) == 0)
		sql_commit_first(k, 0);
	else
		note_failure(k->r, &k->backoff, msg, true, 1);
}

/* Insert the batch's n decoded rows in one transaction. */
static void sql_insert(sql_sink *k, size_t n)
{
	gc_reporter *r = k->r;
	batch *b = &k->b;
	size_t inserted = 0;
	uint64_t bytes = 0;
	char msg[GC__SEND_MSG_MAX];
	gc_error err;
	int rc;
	for (size_t i = 0; i < n; i++)
		bytes += b->recs[i].size;
	rc = gc_store_log_insert(&inserted, r->store, b->rows, n, &err);
	if (rc == 0) {
		commit(r, b->ends[n - 1], n, bytes, n, n - inserted);
		k->pos = b->ends[n - 1];
		k->backoff = r->retry_min_ms;
		k->rejects = 0;
		k->single = false;
		note_success(r);
		return;
	}
	snprintf(msg, sizeof(msg), "%.255s", err.msg);
	if (rc == GC_EINVAL && n > 1) {
		/* find the row the store refuses: one at a time */
		k->single = true;
		return;
	}
	count_failure(r, msg, 0, rc == GC_EINVAL);
	if (rc == GC_EINVAL && ++k->rejects >= r->max_reject &&
	    dead_letter(r, &b->recs[0], msg, k->rejects) == 0) {
		sql_commit_first(k, 0);
		k->rejects = 0;
		k->single = false;
		return;
	}
	note_failure(r, &k->backoff, msg, rc == GC_EINVAL, k->rejects);
}

static void sql_loop(gc_reporter *r)
{
	sql_sink k;
	gc_error err;
	if (!batch_alloc(&k.b, (size_t)r->batch_max)) {
		LOG(r, GC_LOG_ERR,
		    "report: out of memory: the SQL sink stops; "
		    "records stay in the spool");
		batch_free(&k.b);
		return;
	}
	k.r = r;
	k.pos = gc__spool_head(r->spool);
	k.backoff = r->retry_min_ms;
	k.rejects = 0;
	k.single = false;
	while (!stopping(r)) {
		uint64_t seq = wake_seq(r);
		gc__spool_pos after;
		int rc;
		size_t n = sql_read(&k, &after, &rc, &err);
		if (n == 0) {
			if (rc == GC_ENOTFOUND) {
				idle_wait(r, seq);
			} else if (rc == GC_EPROTO) { /* damaged: skipped */
				commit(r, after, k.b.recs[0].skipped,
				       k.b.recs[0].size, 0, 0);
				k.pos = after;
			} else {
				failed(r, &k.backoff, err.msg, 0);
			}
			continue;
		}
		if (k.b.recs[0].type == GC__SPOOL_REC_WARNING) {
			log_warning_record(r, &k.b.recs[0]);
			sql_commit_first(&k, 1);
			note_success(r);
			continue;
		}
		if ((rc = ensure_store(r, &err))) {
			failed(r, &k.backoff, err.msg, 0);
			continue;
		}
		rc = sql_decode(&k, &n, &err);
		if (rc == GC_EINVAL)
			sql_reject_first(&k, err.msg);
		else if (rc)
			failed(r, &k.backoff, err.msg, 0);
		else
			sql_insert(&k, n);
	}
	batch_free(&k.b);
}

void *gc__sender_main(void *arg)
{
	gc_reporter *r = arg;
	if (r->http)
		http_loop(r);
	else
		sql_loop(r);
	return NULL;
}
