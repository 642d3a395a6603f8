/* The reporter's public side: construction (the sink, the spool, the
 * runs an earlier process left unfinished), submits, stats and flush. The
 * sender thread (sender.c) delivers what is submitted. */
#include "reporter_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Version 1 ended at output_limit. */
GC__OPTVER(static, reporter_optver, "reporter", GC_REPORTER_OPTIONS_VERSION,
	   offsetof(gc_reporter_options, store_options),
	   sizeof(gc_reporter_options));

GC_EXTERN int gc_reporter_options_init(gc_reporter_options *o,
				       unsigned version)
{
	return gc__options_init(o, version, &reporter_optver);
}

/* -------------------------------------------------------- constructor */

static void owned_store_free(gc__owned_store *o)
{
	if (!o)
		return;
	free(o->sqlite_path);
	free(o->mysql_service);
	free(o->mysql_username);
	gc__secret_free(o->mysql_password);
	free(o->mysql_database);
	free(o->crypt_prefix);
	free(o);
}

/* A copy of the options of the store the reporter opens itself: 0 or
 * GC_ENOMEM. */
static int owned_store_new(gc__owned_store **out, const gc_store_options *so)
{
	gc__owned_store *o = calloc(1, sizeof(*o));
	*out = o;
	if (!o)
		return GC_ENOMEM;
	o->opts = *so;
#define COPY(f, field)                                                       \
	if (so->field && !(o->opts.field = o->f = gc__strdup(so->field)))    \
		return GC_ENOMEM;
	COPY(sqlite_path, sqlite_path)
	COPY(mysql_service, mysql_service)
	COPY(mysql_username, mysql_username)
	COPY(mysql_password, mysql_password)
	COPY(mysql_database, mysql_database)
	COPY(crypt_prefix, crypt_prefix)
#undef COPY
	o->opts.log = NULL;
	return 0;
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
		gc_store_free(r->store);
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

/* A reporter with its settings (defaults for zero fields) and no sink or
 * spool yet; NULL when out of memory. */
static gc_reporter *reporter_alloc(const gc_reporter_options *o,
				   gc__owned_store *own)
{
	gc_reporter *r = calloc(1, sizeof(*r));
	pthread_condattr_t ca;
	if (!r)
		return NULL;
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
	if (r->batch_max > GC__REPORTER_BATCH_LIMIT)
		r->batch_max = GC__REPORTER_BATCH_LIMIT;
	r->output_limit = o->output_limit > 0 ? (size_t)o->output_limit : 0;
	r->log = o->log;
	r->log_payload = o->log_payload;
	r->log_level = o->log_level > 0 ? o->log_level : GC_LOG_INFO;
	return r;
}

/* The HTTP sink when report_addr is set, else the given store (a store
 * the reporter opens itself is opened by the sender thread). */
static int open_sink(gc_reporter *r, const gc_reporter_options *o,
		     gc_error *err)
{
	gc__http_options ho;
	if (!o->report_addr || !*o->report_addr) {
		if (!r->own)
			r->store = o->store;
		return 0;
	}
	memset(&ho, 0, sizeof(ho));
	ho.url = o->report_addr;
	ho.token = o->report_token;
	ho.ca_file = o->ca_file;
	ho.connect_timeout_ms = o->connect_timeout_ms;
	ho.request_timeout_ms = o->request_timeout_ms;
	ho.abort = &r->abort;
	return gc__http_new(&r->http, &ho, err);
}

/* The spool and the journal of runs in progress, both in spool_dir. */
static int open_spool(gc_reporter *r, const gc_reporter_options *o,
		      gc_error *err)
{
	gc__spool_options so;
	int rc;
	memset(&so, 0, sizeof(so));
	so.dir = o->spool_dir;
	so.max_bytes =
	    o->spool_max_bytes > 0 ? (uint64_t)o->spool_max_bytes : 0;
	so.max_records =
	    o->spool_max_records > 0 ? (uint64_t)o->spool_max_records : 0;
	so.segment_bytes =
	    o->segment_bytes > 0 ? (uint64_t)o->segment_bytes : 0;
	so.sync = o->sync;
	so.sync_interval_ms = o->sync_interval_ms;
	so.log = r->log;
	so.log_payload = r->log_payload;
	if (o->sync < GC_REPORTER_SYNC_GROUP || o->sync > GC_REPORTER_SYNC_NONE)
		return gc__seterr(err, GC_EINVAL,
				  "reporter: unknown sync mode %d", o->sync);
	if ((rc = gc__spool_open(&r->spool, &so, err)))
		return rc;
	return gc__inflight_open(&r->inflight, gc__spool_dirfd(r->spool),
				 o->spool_dir, o->sync, err);
}

/* The options, checked; the store to open ourselves, if any. */
static int check_options(gc_reporter_options *copy, gc__owned_store **own,
			 const gc_reporter_options *o, gc_error *err)
{
	int rc;
	bool http;
	*own = NULL;
	if (!o)
		return gc__seterr(err, GC_EINVAL, "reporter: options missing");
	if ((rc = gc__options_copy(copy, o, &reporter_optver, err)))
		return rc;
	o = copy;
	http = o->report_addr && *o->report_addr;
	if (!o->spool_dir || !*o->spool_dir)
		return gc__seterr(err, GC_EINVAL,
				  "reporter: spool_dir is required");
	if (!http && !o->store && !o->store_options.version)
		return gc__seterr(err, GC_EINVAL,
				  "reporter: no sink: set report_addr (HTTP), "
				  "a store or store_options (SQL)");
	if (!http && !o->store &&
	    owned_store_new(own, &o->store_options) != 0) {
		owned_store_free(*own);
		*own = NULL;
		return gc__seterr(err, GC_ENOMEM, "reporter: out of memory");
	}
	return 0;
}

static int reporter_create(gc_reporter **out, const gc_reporter_options *opts,
			   gc_error *err)
{
	gc_reporter_options copy, *o = &copy;
	gc__owned_store *own;
	gc_reporter *r;
	int rc;

	*out = NULL;
	if ((rc = check_options(&copy, &own, opts, err)))
		return rc;
	if (!(r = reporter_alloc(o, own))) {
		owned_store_free(own);
		return gc__seterr(err, GC_ENOMEM, "reporter: out of memory");
	}
	r->agent_ip =
	    gc__strdup(o->agent_ip && *o->agent_ip ? o->agent_ip : "127.0.0.1");
	r->report_addr = gc__strdup(o->report_addr ? o->report_addr : "");
	if (!r->agent_ip || !r->report_addr)
		rc = gc__seterr(err, GC_ENOMEM, "reporter: out of memory");
	else if ((rc = open_sink(r, o, err)) == 0)
		rc = open_spool(r, o, err);
	if (rc) {
		gc_reporter_free(r);
		return rc;
	}
	report_interrupted(r, o->spool_dir);
	if (pthread_create(&r->thread, NULL, gc__sender_main, r)) {
		gc_reporter_free(r);
		return gc__seterr(err, GC_ESYS,
				  "reporter: cannot start the sender thread");
	}
	r->thread_running = true;
	LOG(r, GC_LOG_INFO, "report: results go to %s, spool %s",
	    r->http ? r->report_addr
	    : own   ? (own->opts.backend == GC_STORE_MYSQL ? "MySQL" : "SQLite")
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
	return reporter_create(out, opts, err);
}

GC_EXTERN int gc_reporter_options_from_config(gc_reporter_options *o,
					      const gc_agent_config *cfg)
{
	if (!o || !cfg || o->version < 2 ||
	    o->version > GC_REPORTER_OPTIONS_VERSION)
		return GC_EINVAL;
	o->report_addr = cfg->report_addr;
	o->report_token = cfg->report_token;
	o->agent_ip = cfg->client_ip;
	o->output_limit = cfg->output_limit;
	o->spool_dir = cfg->spool_dir;
	if (cfg->report_addr && *cfg->report_addr)
		return 0;
	if (!(cfg->mysql.service && *cfg->mysql.service) &&
	    !(cfg->sqlite.path && *cfg->sqlite.path))
		return GC_ENOTFOUND;
	gc_store_options_init(&o->store_options, GC_STORE_OPTIONS_VERSION);
	return gc_store_options_from_config(&o->store_options, &cfg->mysql,
					    cfg->sqlite.path, &cfg->deploy);
}

GC_EXTERN int gc_reporter_new_from_config(gc_reporter **out,
					  const gc_agent_config *cfg,
					  gc_log_fn log, void *log_payload,
					  gc_error *err)
{
	gc_reporter_options o;
	int rc;
	if (!out || !cfg)
		return gc__seterr(err, GC_EINVAL, "reporter: NULL argument");
	*out = NULL;
	gc_reporter_options_init(&o, GC_REPORTER_OPTIONS_VERSION);
	rc = gc_reporter_options_from_config(&o, cfg);
	if (rc == GC_ENOTFOUND)
		return gc__seterr(err, rc,
				  "no result sink configured: set "
				  "report_addr, [mysql] service or "
				  "[sqlite] path");
	if (rc)
		return gc__seterr(err, rc, "reporter: bad configuration");
	o.log = log;
	o.log_payload = log_payload;
	o.log_level = GC_LOG_DEBUG; /* the callback filters */
	return gc_reporter_new(out, &o, err);
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

GC_EXTERN int gc_reporter_result_submit(gc_reporter *r, const gc_result *res,
					gc_error *err)
{
	if (!r || !res)
		return gc__seterr(err, GC_EINVAL, "reporter: NULL argument");
	return submit(r, gc_result_to_json(res), res, NULL, err);
}

GC_EXTERN int gc_reporter_warning_submit(gc_reporter *r,
					 const gc_warning *w, gc_error *err)
{
	if (!r || !w)
		return gc__seterr(err, GC_EINVAL, "reporter: NULL argument");
	return submit(r, gc_warning_to_json(w), NULL, w, err);
}

GC_EXTERN int gc_reporter_start_submit(gc_reporter *r, const gc_result *res,
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
	gc_reporter_start_submit(reporter, res, NULL);
}

GC_EXTERN void gc_reporter_agent_result(const gc_result *res, void *reporter)
{
	gc_reporter_result_submit(reporter, res, NULL);
}

GC_EXTERN void gc_reporter_agent_warning(const gc_warning *w, void *reporter)
{
	gc_reporter_warning_submit(reporter, w, NULL);
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
		gc_reporter_warning_submit(r, &w, NULL);
		/* No start is recorded yet, so submit leaves the file to us. */
		if (gc_reporter_result_submit(r, &res, NULL) == 0) {
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
		gc__mono_deadline(&ts, timeout_ms);
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
