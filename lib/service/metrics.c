/* Per-process metrics in the Prometheus text format (version 0.0.4). Label
 * sets are bounded: routes come from the static route table, results are
 * kept for at most RESULT_SERIES_MAX (project, outcome) pairs. */
#include "svc.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define STATUS_SLOTS 12         /* distinct HTTP statuses per route */
#define RESULT_SERIES_MAX 4096

static const double req_buckets[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1,
				     0.25,  0.5,   1,    2.5,   5,    10};
#define REQ_NB (sizeof(req_buckets) / sizeof(req_buckets[0]))

static const double late_buckets[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1,
				      2,    5,    10,  30,   60,  300};
#define LATE_NB (sizeof(late_buckets) / sizeof(late_buckets[0]))

struct route_stats {
	int status[STATUS_SLOTS];
	uint64_t count[STATUS_SLOTS];
	uint64_t other; /* statuses beyond the slots */
	uint64_t bucket[REQ_NB];
	uint64_t n;
	double sum;
};

struct result_series {
	int64_t project_id;
	const char *outcome; /* static string */
	uint64_t n;
};

struct gc__metrics {
	pthread_mutex_t mu;
	size_t n_routes;
	const char *const *labels;
	struct route_stats *routes; /* n_routes + 1 ("unmatched") */
	uint64_t counters[GC__M_COUNTERS];
	struct result_series *results;
	size_t n_results;
	uint64_t results_dropped;
	uint64_t late_bucket[LATE_NB];
	uint64_t late_n;
	double late_sum;
};

int gc__metrics_new(gc__metrics **out, size_t n_routes,
		    const char *const *route_labels)
{
	gc__metrics *m = calloc(1, sizeof(*m));
	if (!m)
		return GC_ENOMEM;
	m->routes = calloc(n_routes + 1, sizeof(*m->routes));
	m->results = calloc(RESULT_SERIES_MAX, sizeof(*m->results));
	if (!m->routes || !m->results) {
		free(m->routes);
		free(m->results);
		free(m);
		return GC_ENOMEM;
	}
	pthread_mutex_init(&m->mu, NULL);
	m->n_routes = n_routes;
	m->labels = route_labels;
	*out = m;
	return 0;
}

void gc__metrics_free(gc__metrics *m)
{
	if (!m)
		return;
	pthread_mutex_destroy(&m->mu);
	free(m->routes);
	free(m->results);
	free(m);
}

void gc__metrics_inc(gc__metrics *m, enum gc__counter c)
{
	if (!m || c >= GC__M_COUNTERS)
		return;
	pthread_mutex_lock(&m->mu);
	m->counters[c]++;
	pthread_mutex_unlock(&m->mu);
}

void gc__metrics_request(gc__metrics *m, size_t route, int status,
			 double seconds)
{
	struct route_stats *r;
	size_t i;
	if (!m)
		return;
	if (route > m->n_routes)
		route = m->n_routes;
	pthread_mutex_lock(&m->mu);
	r = &m->routes[route];
	for (i = 0; i < STATUS_SLOTS; i++) {
		if (r->status[i] == status || r->status[i] == 0) {
			r->status[i] = status;
			r->count[i]++;
			break;
		}
	}
	if (i == STATUS_SLOTS)
		r->other++;
	for (i = 0; i < REQ_NB; i++)
		if (seconds <= req_buckets[i])
			r->bucket[i]++;
	r->n++;
	r->sum += seconds;
	pthread_mutex_unlock(&m->mu);
}

void gc__metrics_result(gc__metrics *m, int64_t project_id,
			const char *outcome, double lateness_s, int has_plan)
{
	size_t i;
	if (!m)
		return;
	pthread_mutex_lock(&m->mu);
	for (i = 0; i < m->n_results; i++)
		if (m->results[i].project_id == project_id &&
		    strcmp(m->results[i].outcome, outcome) == 0)
			break;
	if (i < m->n_results) {
		m->results[i].n++;
	} else if (m->n_results < RESULT_SERIES_MAX) {
		m->results[i].project_id = project_id;
		m->results[i].outcome = outcome;
		m->results[i].n = 1;
		m->n_results++;
	} else {
		m->results_dropped++;
	}
	if (has_plan) {
		/* Starting before the planned tick (clock skew) counts as 0. */
		if (lateness_s < 0)
			lateness_s = 0;
		for (i = 0; i < LATE_NB; i++)
			if (lateness_s <= late_buckets[i])
				m->late_bucket[i]++;
		m->late_n++;
		m->late_sum += lateness_s;
	}
	pthread_mutex_unlock(&m->mu);
}

static int counter(gc__buf *o, const char *name, const char *help,
		   uint64_t v)
{
	return gc__buf_printf(o, "# HELP %s %s\n# TYPE %s counter\n%s %" PRIu64
				 "\n",
			      name, help, name, name, v);
}

/* Requests by route and status, and their durations. */
static int render_requests(const gc__metrics *m, gc__buf *o)
{
	int rc = 0;
	rc |= gc__buf_puts(o, "# HELP gophercron_http_requests_total HTTP "
			      "requests by route and status.\n"
			      "# TYPE gophercron_http_requests_total "
			      "counter\n");
	for (size_t r = 0; r <= m->n_routes; r++) {
		const char *label = r < m->n_routes ? m->labels[r] : "unmatched";
		const struct route_stats *st = &m->routes[r];
		for (size_t i = 0; i < STATUS_SLOTS && st->status[i]; i++)
			rc |= gc__buf_printf(
				o,
				"gophercron_http_requests_total{route=\"%s\","
				"status=\"%d\"} %" PRIu64 "\n",
				label, st->status[i], st->count[i]);
		if (st->other)
			rc |= gc__buf_printf(
				o,
				"gophercron_http_requests_total{route=\"%s\","
				"status=\"other\"} %" PRIu64 "\n",
				label, st->other);
	}
	rc |= gc__buf_puts(o, "# HELP gophercron_http_request_duration_seconds "
			      "Time to answer a request, by route.\n"
			      "# TYPE gophercron_http_request_duration_seconds "
			      "histogram\n");
	for (size_t r = 0; r <= m->n_routes; r++) {
		const char *label = r < m->n_routes ? m->labels[r] : "unmatched";
		const struct route_stats *st = &m->routes[r];
		if (!st->n)
			continue;
		for (size_t i = 0; i < REQ_NB; i++)
			rc |= gc__buf_printf(
				o,
				"gophercron_http_request_duration_seconds_"
				"bucket{route=\"%s\",le=\"%g\"} %" PRIu64 "\n",
				label, req_buckets[i], st->bucket[i]);
		rc |= gc__buf_printf(
			o,
			"gophercron_http_request_duration_seconds_bucket{"
			"route=\"%s\",le=\"+Inf\"} %" PRIu64 "\n"
			"gophercron_http_request_duration_seconds_sum{route="
			"\"%s\"} %.9f\n"
			"gophercron_http_request_duration_seconds_count{route="
			"\"%s\"} %" PRIu64 "\n",
			label, st->n, label, st->sum, label, st->n);
	}
	return rc;
}

/* Task results by project and outcome, and the runs' start lateness. */
static int render_results(const gc__metrics *m, gc__buf *o)
{
	int rc = 0;
	rc |= gc__buf_puts(o, "# HELP gophercron_task_results_total Task run "
			      "results received, by project and outcome.\n"
			      "# TYPE gophercron_task_results_total counter\n");
	for (size_t i = 0; i < m->n_results; i++)
		rc |= gc__buf_printf(o,
				     "gophercron_task_results_total{project_id="
				     "\"%" PRId64 "\",outcome=\"%s\"} %" PRIu64
				     "\n",
				     m->results[i].project_id,
				     m->results[i].outcome, m->results[i].n);
	rc |= counter(o, "gophercron_task_results_unlabelled_total",
		      "Results not counted by project because the label limit "
		      "was reached.",
		      m->results_dropped);

	rc |= gc__buf_puts(o, "# HELP gophercron_task_start_lateness_seconds "
			      "Start time minus planned time of reported "
			      "runs.\n# TYPE "
			      "gophercron_task_start_lateness_seconds "
			      "histogram\n");
	for (size_t i = 0; i < LATE_NB; i++)
		rc |= gc__buf_printf(o,
				     "gophercron_task_start_lateness_seconds_"
				     "bucket{le=\"%g\"} %" PRIu64 "\n",
				     late_buckets[i], m->late_bucket[i]);
	rc |= gc__buf_printf(o,
			     "gophercron_task_start_lateness_seconds_bucket{le="
			     "\"+Inf\"} %" PRIu64 "\n"
			     "gophercron_task_start_lateness_seconds_sum %.9f\n"
			     "gophercron_task_start_lateness_seconds_count "
			     "%" PRIu64 "\n",
			     m->late_n, m->late_sum, m->late_n);
	return rc;
}

/* The plain counters. */
static int render_counters(const uint64_t *c, gc__buf *o)
{
	int rc = 0;
	rc |= gc__buf_printf(
		o,
		"# HELP gophercron_report_ingest_total Reports received on "
		"/api/v1/report, by kind.\n"
		"# TYPE gophercron_report_ingest_total counter\n"
		"gophercron_report_ingest_total{kind=\"result\"} %" PRIu64 "\n"
		"gophercron_report_ingest_total{kind=\"duplicate\"} %" PRIu64
		"\n"
		"gophercron_report_ingest_total{kind=\"warning\"} %" PRIu64 "\n",
		c[GC__M_INGEST_RESULTS], c[GC__M_INGEST_DUPLICATES],
		c[GC__M_WARN_TASK] + c[GC__M_WARN_SYSTEM] + c[GC__M_WARN_OTHER]);
	rc |= gc__buf_printf(
		o,
		"# HELP gophercron_report_ingest_errors_total Reports refused "
		"or not stored, by reason.\n"
		"# TYPE gophercron_report_ingest_errors_total counter\n"
		"gophercron_report_ingest_errors_total{reason=\"unauthorized\"} "
		"%" PRIu64 "\n"
		"gophercron_report_ingest_errors_total{reason=\"bad_request\"} "
		"%" PRIu64 "\n"
		"gophercron_report_ingest_errors_total{reason=\"store\"} "
		"%" PRIu64 "\n",
		c[GC__M_INGEST_ERR_AUTH], c[GC__M_INGEST_ERR_DECODE],
		c[GC__M_INGEST_ERR_STORE]);
	rc |= gc__buf_printf(
		o,
		"# HELP gophercron_report_warnings_total Agent warnings "
		"received, by type.\n"
		"# TYPE gophercron_report_warnings_total counter\n"
		"gophercron_report_warnings_total{type=\"task\"} %" PRIu64 "\n"
		"gophercron_report_warnings_total{type=\"system\"} %" PRIu64
		"\n"
		"gophercron_report_warnings_total{type=\"other\"} %" PRIu64 "\n",
		c[GC__M_WARN_TASK], c[GC__M_WARN_SYSTEM], c[GC__M_WARN_OTHER]);
	rc |= gc__buf_printf(
		o,
		"# HELP gophercron_http_connections_closed_total Connections "
		"the service closed before they sent a request, by reason.\n"
		"# TYPE gophercron_http_connections_closed_total counter\n"
		"gophercron_http_connections_closed_total{reason=\"per_address_"
		"cap\"} %" PRIu64 "\n"
		"gophercron_http_connections_closed_total{reason=\"header_"
		"timeout\"} %" PRIu64 "\n"
		"gophercron_http_connections_closed_total{reason=\"workers_"
		"busy\"} %" PRIu64 "\n",
		c[GC__M_CONN_CUT_CAP], c[GC__M_CONN_CUT_HEADER],
		c[GC__M_CONN_CUT_BUSY]);
	rc |= counter(o, "gophercron_etcd_errors_total",
		      "etcd operations that failed.", c[GC__M_ETCD_ERRORS]);
	rc |= counter(o, "gophercron_store_errors_total",
		      "SQL store operations that failed.",
		      c[GC__M_STORE_ERRORS]);
	rc |= counter(o, "gophercron_login_failures_total",
		      "Failed logins (unknown account or wrong password).",
		      c[GC__M_LOGIN_FAILURES]);
	rc |= counter(o, "gophercron_login_throttled_total",
		      "Logins refused with 429 by the failed-login throttle.",
		      c[GC__M_LOGIN_THROTTLED]);
	return rc;
}

int gc__metrics_render(gc__metrics *m, gc__buf *o)
{
	int rc = 0;
	pthread_mutex_lock(&m->mu);
	rc |= gc__buf_printf(o,
			     "# HELP gophercron_build_info Version of the "
			     "service.\n# TYPE gophercron_build_info gauge\n"
			     "gophercron_build_info{version=\"%s\"} 1\n",
			     GC_VERSION_STRING);
	rc |= render_requests(m, o);
	rc |= render_results(m, o);
	rc |= render_counters(m->counters, o);
	pthread_mutex_unlock(&m->mu);
	return rc ? GC_ENOMEM : 0;
}

/* GET /metrics */
static void metrics(gc__ctx *c, const gc__arg *a)
{
	gc__buf b = GC__BUF_INIT;
	(void)a;
	if (gc__metrics_render(c->svc->metrics, &b) != 0 ||
	    gc__cache_metrics(c->svc->cache, &b) != 0) {
		gc__buf_free(&b);
		gc__reply_err(c, GC__C_INTERNAL, "out of memory");
		return;
	}
	gc__reply_text(c, 200, "text/plain; version=0.0.4; charset=utf-8",
		       b.data, b.len);
	gc__buf_free(&b);
}

GC__ENDPOINT_NOARGS(gc__ep_metrics, metrics);
