/* Integration tests of the reporter's HTTP sink against a real HTTP
 * receiver on loopback: wire format against the original's captured
 * requests, a 60 s outage (refused, hanging, 503) with results submitted
 * every second, SIGKILL of a process with results in its spool plus a torn
 * tail, dead letters, the spool bound, tokens, flush and the spool lock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "harness.h"
#include "logbuf.h"
#include "test_report_rx.h"

#include <gophercron.h>

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define TOKEN "rep0rt-t0ken"
#define AGENT_IP "192.0.2.7"

/* ------------------------------------------------------------ fixture */

typedef struct fixture {
	receiver rx;
	char *dir;
	char spool[600];
	char url[128];
	gct_logbuf log;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	gct_logbuf_init(&f->log);
	f->dir = gct_tmpdir("report");
	snprintf(f->spool, sizeof(f->spool), "%s/spool", f->dir);
	rx_init(&f->rx, gct_free_port(), 1);
	rx_url(&f->rx, f->url, sizeof(f->url));
	*state = f;
	return f->dir ? 0 : -1;
}

static int teardown(void **state)
{
	fixture *f = *state;
	rx_free(&f->rx);
	gct_rmrf(f->dir);
	free(f->dir);
	gct_logbuf_free(&f->log);
	free(f);
	return 0;
}

static gc_reporter_options http_opts(fixture *f)
{
	gc_reporter_options o = GC_REPORTER_OPTIONS_INIT;
	o.report_addr = f->url;
	o.report_token = TOKEN;
	o.spool_dir = f->spool;
	o.retry_min_ms = 50;
	o.retry_max_ms = 1000;
	o.request_timeout_ms = 1500;
	o.connect_timeout_ms = 1000;
	o.log = gct_logbuf_fn;
	o.log_payload = &f->log;
	o.log_level = GC_LOG_DEBUG;
	return o;
}

static gc_reporter *new_reporter(const gc_reporter_options *o)
{
	gc_reporter *r = NULL;
	gc_error err = {0, ""};
	if (gc_reporter_new(&r, o, &err))
		fail_msg("gc_reporter_new: %s", err.msg);
	return r;
}

/* A result of task `t` (0..2) for the tick plan_s; task 2 always fails. */
static void make_result(gc_result *r, int t, int64_t plan_s)
{
	char json[1024];
	gc_error err;
	snprintf(json, sizeof(json),
		 "{\"task_id\":\"11314769364349132%02d\",\"name\":\"task-%d\","
		 "\"project_id\":1,\"command\":\"echo <tick> && %s\","
		 "\"cron\":\"* * * * * * *\",\"remark\":\"\",\"timeout\":0,"
		 "\"create_time\":1795470656,\"status\":1,\"is_running\":-1,"
		 "\"noseize\":0,\"exclusion\":0,\"client_ip\":\"" AGENT_IP "\"}",
		 t, t, t == 2 ? "exit 3" : "true");
	gc_result_init(r);
	if (gc_task_from_json(&r->task, json, strlen(json), &err))
		fail_msg("task: %s", err.msg);
	r->plan_time_ns = plan_s * 1000000000LL;
	r->real_time_ns = r->plan_time_ns + 1000123;
	r->start_time_ns = r->plan_time_ns + 2000456;
	r->end_time_ns = r->plan_time_ns + 5000789;
	r->output = strdup("<tick> & \"quoted\"\n");
	r->output_len = strlen(r->output);
	r->error = strdup(t == 2 ? "exit status 3" : "");
	r->run_id = gc_run_id(1, r->task.task_id, plan_s, AGENT_IP);
}

/* What the agent does for a finished run: the warning of a failed run
 * first, then the result. Returns how long the submits took (ms). */
static double submit_run(gc_reporter *rep, int t, int64_t plan_s)
{
	gc_result r;
	gc_error err;
	int64_t t0 = (int64_t)time(NULL);
	struct timespec a, b;
	(void)t0;
	make_result(&r, t, plan_s);
	clock_gettime(CLOCK_MONOTONIC, &a);
	if (r.error[0]) {
		gc_warning w = GC_WARNING_INIT;
		assert_int_equal(gc_warning_for_result(&w, &r, AGENT_IP, &err), 0);
		assert_int_equal(gc_reporter_warning_submit(rep, &w, &err), 0);
		gc_warning_clear(&w);
	}
	if (gc_reporter_result_submit(rep, &r, &err))
		fail_msg("submit: %s", err.msg);
	clock_gettime(CLOCK_MONOTONIC, &b);
	gc_result_clear(&r);
	return (double)(b.tv_sec - a.tv_sec) * 1e3 +
	       (double)(b.tv_nsec - a.tv_nsec) / 1e6;
}

/* The delivered (2xx) requests, in order: checks that every result run id
 * is there once, results of each task in plan order and each failed
 * result right after its warning. Returns the number of duplicates. */
static size_t check_delivered(receiver *rx, size_t want_results,
			      size_t want_warnings)
{
	size_t results = 0, warnings = 0, dups = 0;
	int64_t last_plan[3] = {0, 0, 0};
	pthread_mutex_lock(&rx->mu);
	for (size_t i = 0; i < rx->n; i++) {
		rx_req *q = &rx->reqs[i];
		if (q->status != 200)
			continue;
		if (strcmp(q->report_type, "report_warning") == 0) {
			warnings++;
			continue;
		}
		assert_string_equal(q->report_type, "report_task_result");
		results++;
		for (size_t j = 0; j < i; j++)
			if (rx->reqs[j].status == 200 &&
			    strcmp(rx->reqs[j].run_id, q->run_id) == 0)
				dups++;
		/* run id "1-<tid>-<plan>-<ip>": task index and plan */
		cJSON *b = cJSON_ParseWithLength(q->body, q->len);
		int64_t plan = (int64_t)cJSON_GetObjectItem(b, "plan_unix")
				       ->valuedouble;
		const char *err = cJSON_GetObjectItem(b, "error")->valuestring;
		const char *tid = cJSON_GetObjectItem(
					  cJSON_GetObjectItem(
						  cJSON_GetObjectItem(
							  b, "execute_info"),
						  "task"),
					  "task_id")
					  ->valuestring;
		int t = atoi(tid + strlen(tid) - 2);
		assert_true(t >= 0 && t < 3);
		if (plan <= last_plan[t])
			fail_msg("task %d: plan %" PRId64 " delivered after %" PRId64,
				 t, plan, last_plan[t]);
		last_plan[t] = plan;
		if (err[0]) { /* its warning was the previous delivery */
			size_t j = i;
			while (j > 0 && rx->reqs[j - 1].status != 200)
				j--;
			assert_true(j > 0);
			assert_string_equal(rx->reqs[j - 1].report_type,
					    "report_warning");
			assert_non_null(strstr(rx->reqs[j - 1].body, err));
		}
		cJSON_Delete(b);
	}
	pthread_mutex_unlock(&rx->mu);
	assert_int_equal(results - dups, want_results);
	assert_int_equal(warnings, want_warnings);
	return dups;
}

/* ---------------------------------------------------- compat samples */

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static const char *header_of(const cJSON *req, const char *name)
{
	const cJSON *h;
	cJSON_ArrayForEach(h, cJSON_GetObjectItem(req, "headers"))
	{
		if (strcasecmp(cJSON_GetArrayItem(h, 0)->valuestring, name) == 0)
			return cJSON_GetArrayItem(h, 1)->valuestring;
	}
	return NULL;
}

/* JSON types and names of every member of `want` appear in `got` in the
 * same order (got may have more at the end). */
static void same_shape(const cJSON *want, const cJSON *got, const char *where)
{
	const cJSON *w = want ? want->child : NULL, *g = got ? got->child : NULL;
	for (; w; w = w->next, g = g ? g->next : NULL) {
		if (!g)
			fail_msg("%s: member \"%s\" missing", where, w->string);
		assert_string_equal(g->string, w->string);
		if ((w->type & 0xff) != (g->type & 0xff))
			fail_msg("%s.%s: JSON type %d, the original sent %d",
				 where, w->string, g->type & 0xff,
				 w->type & 0xff);
		if (cJSON_IsObject(w))
			same_shape(w, g, w->string);
	}
}

/* Every request the original's agent sent, re-sent through the reporter:
 * same method, Content-Type, Report-Type, Content-Length, member names in
 * the same order with the same JSON types, same values and time format:
 * the body is the original's byte for byte, with run_id and plan_unix
 * appended to results. */
static void bodies_and_headers_match_the_captured_samples(void **state)
{
	fixture *f = *state;
	const char *shared = getenv("GC_SHARED");
	char path[1024], *all, *save = NULL, *line;
	cJSON *samples[128];
	size_t n = 0;
	gc_reporter_options o = http_opts(f);
	gc_reporter *rep;
	gc_error err;

	snprintf(path, sizeof(path), "%s/compat/report_addr/report_requests.jsonl",
		 shared && *shared ? shared : "../shared");
	all = read_file(path);
	if (!all)
		fail_msg("cannot read %s (set GC_SHARED)", path);
	assert_int_equal(rx_listen(&f->rx), 0);
	rep = new_reporter(&o);
	for (line = strtok_r(all, "\n", &save); line && n < 128;
	     line = strtok_r(NULL, "\n", &save)) {
		cJSON *req = cJSON_Parse(line);
		const char *type = header_of(req, "Report-Type");
		const char *body = cJSON_GetObjectItem(req, "body")->valuestring;
		assert_non_null(type);
		if (strcmp(type, "report_task_result") == 0) {
			gc_result r = GC_RESULT_INIT;
			assert_int_equal(gc_result_from_json(&r, body,
							     strlen(body), &err),
					 0);
			assert_int_equal(gc_reporter_result_submit(rep, &r, &err),
					 0);
			gc_result_clear(&r);
		} else {
			gc_warning w = GC_WARNING_INIT;
			assert_int_equal(gc_warning_from_json(&w, body,
							      strlen(body), &err),
					 0);
			assert_int_equal(gc_reporter_warning_submit(rep, &w, &err),
					 0);
			gc_warning_clear(&w);
		}
		samples[n++] = req;
	}
	assert_true(n >= 40);
	assert_int_equal(gc_reporter_flush(rep, 20000), 0);
	gc_reporter_free(rep);

	pthread_mutex_lock(&f->rx.mu);
	assert_int_equal(f->rx.n, n); /* one POST each, nothing retried */
	for (size_t i = 0; i < n; i++) {
		rx_req *q = &f->rx.reqs[i];
		const cJSON *s = samples[i];
		const char *body = cJSON_GetObjectItem(s, "body")->valuestring;
		size_t bl = strlen(body);
		cJSON *jw = cJSON_Parse(body), *jg;
		assert_string_equal(q->method,
				    cJSON_GetObjectItem(s, "method")->valuestring);
		assert_string_equal(q->uri, "/report");
		assert_string_equal(q->content_type,
				    header_of(s, "Content-Type"));
		assert_string_equal(q->report_type, header_of(s, "Report-Type"));
		assert_int_equal(q->content_length, (long long)q->len);
		assert_false(q->chunked);
		assert_string_equal(q->auth, "Bearer " TOKEN);
		if (strcmp(q->report_type, "report_warning") == 0) {
			assert_int_equal(q->len, bl);
			assert_memory_equal(q->body, body, bl);
			assert_int_equal(atoll(header_of(s, "Content-Length")),
					 q->content_length);
		} else {
			/* the original's bytes, then the two additions */
			assert_true(q->len > bl);
			assert_memory_equal(q->body, body, bl - 1);
			assert_true(strncmp(q->body + bl - 1,
					    ",\"run_id\":\"\",\"plan_unix\":",
					    25) == 0);
		}
		jg = cJSON_ParseWithLength(q->body, q->len);
		assert_non_null(jg);
		same_shape(jw, jg, "body");
		cJSON_Delete(jw);
		cJSON_Delete(jg);
	}
	pthread_mutex_unlock(&f->rx.mu);
	for (size_t i = 0; i < n; i++)
		cJSON_Delete(samples[i]);
	free(all);
}

/* ---------------------------------------------------------- outage */

/* The sink is down for 60 s -- 20 s refusing connections, 20 s accepting
 * them but never answering in time, 20 s answering 503 -- while three
 * tasks finish a run every second (one of them failing: warning first).
 * Then it is back: every result arrives exactly once, in order per task,
 * each failed result right after its warning; submitting never waited for
 * the sink. */
static void sink_down_60s_then_back_delivers_everything_once_in_order(
	void **state)
{
	fixture *f = *state;
	gc_reporter_options o = http_opts(f);
	gc_reporter *rep;
	gc_reporter_stats st;
	int64_t plan0 = 1795470000;
	double worst = 0;
	const int seconds = 60;
	struct timespec start, now;

	f->rx.hang_ms = 4000; /* longer than the request timeout (1.5 s) */
	o.retry_max_ms = 2000;
	rep = new_reporter(&o); /* receiver not listening: refused */
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (int s = 0; s < seconds; s++) {
		if (s == 20) {
			rx_set_mode(&f->rx, RX_HANG);
			assert_int_equal(rx_listen(&f->rx), 0);
		} else if (s == 40) {
			rx_set_mode(&f->rx, RX_503);
		}
		for (int t = 0; t < 3; t++) {
			double ms = submit_run(rep, t, plan0 + s);
			if (ms > worst)
				worst = ms;
		}
		/* one round per second of wall time */
		clock_gettime(CLOCK_MONOTONIC, &now);
		int64_t due = (int64_t)(s + 1) * 1000 -
			      ((now.tv_sec - start.tv_sec) * 1000 +
			       (now.tv_nsec - start.tv_nsec) / 1000000);
		if (due > 0)
			gct_sleep_ms((int)due);
	}
	gc_reporter_stats_get(rep, &st);
	assert_int_equal(st.sink_up, 0);
	assert_true(st.outage_ms > 50000);
	assert_int_equal(st.delivered, 0);
	assert_int_equal(st.pending_records, seconds * 4);
	assert_true(st.attempts_failed >= 20);
	assert_int_equal(st.refused, 0);
	assert_int_equal(st.dead_lettered, 0); /* 503 and timeouts are not
						  rejections */
	assert_true(f->log.errors >= 1); /* the outage was announced */
	/* Generous bound (the point: the sink's 4 s hang and 1.5 s
	 * timeouts never reach the caller). */
	if (worst > 1000)
		fail_msg("a submit took %.1f ms while the sink was down", worst);

	rx_set_mode(&f->rx, RX_OK);
	assert_int_equal(gc_reporter_flush(rep, 60000), 0);
	gc_reporter_stats_get(rep, &st);
	assert_int_equal(st.pending_records, 0);
	assert_int_equal(st.delivered, seconds * 4);
	assert_int_equal(st.sink_up, 1);
	assert_true(gct_logbuf_count(&f->log, "is back after") == 1);
	gc_reporter_free(rep);
	assert_int_equal(check_delivered(&f->rx, seconds * 3, seconds), 0);
	/* nothing left behind on disk but the active segment */
	rep = new_reporter(&o);
	gc_reporter_stats_get(rep, &st);
	assert_int_equal(st.recovered, 0);
	gc_reporter_free(rep);
}

/* ------------------------------------------------------------ kill -9 */

/* Child mode: submit N runs to a sink that is down, say so, wait to be
 * killed. */
static int child_main(const char *spool, const char *url, int n)
{
	gc_reporter_options o = GC_REPORTER_OPTIONS_INIT;
	gc_reporter *rep = NULL;
	gc_error err;
	o.report_addr = url;
	o.spool_dir = spool;
	o.sync = GC_REPORTER_SYNC_NONE; /* a process crash loses nothing anyway */
	o.retry_min_ms = 50;
	if (gc_reporter_new(&rep, &o, &err)) {
		fprintf(stderr, "child: %s\n", err.msg);
		return 1;
	}
	for (int i = 0; i < n; i++)
		submit_run(rep, i % 3, 1795470000 + i / 3);
	printf("spooled %d\n", n);
	fflush(stdout);
	for (;;)
		pause();
}

static int wait_file_has(const char *path, const char *needle, int timeout_ms)
{
	for (int waited = 0; waited <= timeout_ms; waited += 20) {
		char *t = read_file(path);
		int found = t && strstr(t, needle);
		free(t);
		if (found)
			return 0;
		gct_sleep_ms(20);
	}
	return -1;
}

static void newest_segment(const char *dir, char *out, size_t len)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char best[64] = "";
	assert_non_null(d);
	while ((de = readdir(d)))
		if (strncmp(de->d_name, "seg-", 4) == 0 &&
		    strcmp(de->d_name, best) > 0)
			snprintf(best, sizeof(best), "%.60s", de->d_name);
	closedir(d);
	assert_true(best[0]);
	snprintf(out, len, "%s/%s", dir, best);
}

/* A process with results waiting in its spool is killed with SIGKILL; a
 * crash in the middle of an append left a torn record at the end. The next
 * reporter on the spool cuts the torn record, keeps every complete one and
 * delivers them, exactly once and in order. While the process lived, its
 * spool was locked against a second owner. */
static void sigkill_with_results_in_the_spool_then_restart_delivers_them(
	void **state)
{
	fixture *f = *state;
	const int n = 90; /* 30 ticks x 3 tasks (+ 30 warnings) */
	char logf[700], nstr[16], seg[700], exe[600];
	gc_reporter_options o = http_opts(f);
	gc_reporter *rep = NULL;
	gc_reporter_stats st;
	gc_error err;
	int status;
	ssize_t el;

	el = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(el > 0);
	exe[el] = '\0';
	snprintf(logf, sizeof(logf), "%s/child.log", f->dir);
	snprintf(nstr, sizeof(nstr), "%d", n);
	char child[] = "--child";
	char *argv[] = {exe, child, f->spool, f->url, nstr, NULL};
	pid_t pid = gct_spawn(argv, logf);
	assert_true(pid > 0);
	if (wait_file_has(logf, "spooled 90", 20000))
		fail_msg("the child did not spool its results (log %s)", logf);

	/* one spool, one owner */
	assert_int_equal(gc_reporter_new(&rep, &o, &err), GC_ECONFLICT);
	char pidtext[32];
	snprintf(pidtext, sizeof(pidtext), "pid %d", (int)pid);
	assert_non_null(strstr(err.msg, pidtext));

	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));

	/* the torn tail of an append cut short by a crash */
	newest_segment(f->spool, seg, sizeof(seg));
	int fd = open(seg, O_WRONLY | O_APPEND | O_CLOEXEC);
	unsigned char torn[12 + 40] = {0xf4, 1, 0, 0, 0x11, 0x22, 0x33, 0x44,
				       1, 1, 0, 0, '{', '"', 'e', 'x'};
	assert_int_equal(write(fd, torn, sizeof(torn)), (ssize_t)sizeof(torn));
	close(fd);

	assert_int_equal(rx_listen(&f->rx), 0);
	rep = new_reporter(&o);
	gc_reporter_stats_get(rep, &st);
	assert_int_equal(st.recovered, n + n / 3);
	assert_int_equal(st.torn_bytes, sizeof(torn));
	assert_int_equal(gc_reporter_flush(rep, 30000), 0);
	gc_reporter_stats_get(rep, &st);
	assert_int_equal(st.delivered, n + n / 3);
	assert_int_equal(st.pending_records, 0);
	gc_reporter_free(rep);
	assert_int_equal(check_delivered(&f->rx, n, n / 3), 0);
}

/* ---------------------------------------------------- dead letters */

static void a_body_the_sink_keeps_rejecting_is_dead_lettered(void **state)
{
	fixture *f = *state;
	gc_reporter_options o = http_opts(f);
	gc_reporter *rep;
	gc_reporter_stats st;
	gc_warning w = GC_WARNING_INIT;
	char path[700], *dl;
	gc_error err;

	o.max_reject_attempts = 3;
	rx_set_mode(&f->rx, RX_REJECT);
	assert_int_equal(rx_listen(&f->rx), 0);
	rep = new_reporter(&o);
	submit_run(rep, 0, 1795470001);
	w.data = strdup("poison pill");
	w.type = strdup("task");
	w.agent_ip = strdup(AGENT_IP);
	w.task_name = strdup("task-1");
	w.project_id = 1;
	assert_int_equal(gc_reporter_warning_submit(rep, &w, &err), 0);
	submit_run(rep, 1, 1795470002);
	assert_int_equal(gc_reporter_flush(rep, 20000), 0);
	gc_reporter_stats_get(rep, &st);
	assert_int_equal(st.delivered, 2);
	assert_int_equal(st.dead_lettered, 1);
	assert_int_equal(st.rejected, 3);
	assert_int_equal(st.pending_records, 0);
	assert_true(gct_logbuf_count(&f->log, "dead-letter.jsonl") >= 1);
	gc_reporter_free(rep);

	snprintf(path, sizeof(path), "%s/dead-letter.jsonl", f->spool);
	dl = read_file(path);
	assert_non_null(dl);
	cJSON *j = cJSON_Parse(dl);
	assert_non_null(j);
	assert_string_equal(cJSON_GetObjectItem(j, "report_type")->valuestring,
			    "report_warning");
	assert_int_equal(cJSON_GetObjectItem(j, "attempts")->valueint, 3);
	assert_non_null(strstr(cJSON_GetObjectItem(j, "reason")->valuestring,
			       "HTTP 400"));
	char *want = gc_warning_to_json(&w);
	assert_string_equal(cJSON_GetObjectItem(j, "body")->valuestring, want);
	gc_free(want);
	gc_warning_clear(&w);
	cJSON_Delete(j);
	free(dl);
	pthread_mutex_lock(&f->rx.mu);
	assert_int_equal(f->rx.n, 5); /* ok, 3 x rejected, ok */
	pthread_mutex_unlock(&f->rx.mu);
}

/* ------------------------------------------------------------- bound */

static void a_full_spool_refuses_the_newest_loudly_and_counts_them(
	void **state)
{
	fixture *f = *state;
	gc_reporter_options o = http_opts(f);
	gc_reporter *rep;
	gc_reporter_stats st;
	gc_result r;
	gc_error err;
	int refused = 0;

	o.spool_max_records = 5;
	rep = new_reporter(&o); /* sink down */
	for (int i = 0; i < 8; i++) {
		make_result(&r, 0, 1795470000 + i);
		int rc = gc_reporter_result_submit(rep, &r, &err);
		if (rc) {
			assert_int_equal(rc, GC_ETOOBIG);
			assert_non_null(strstr(err.msg, "full"));
			refused++;
		}
		gc_result_clear(&r);
	}
	assert_int_equal(refused, 3);
	gc_reporter_stats_get(rep, &st);
	assert_int_equal(st.refused, 3);
	assert_int_equal(st.results, 5);
	assert_int_equal(st.pending_records, 5);
	/* each lost result is named at error level */
	assert_int_equal(gct_logbuf_count(&f->log, "NOT spooled, it is lost"), 3);
	assert_int_equal(gct_logbuf_count(&f->log, "-1795470007-" AGENT_IP), 1);
	assert_int_equal(rx_listen(&f->rx), 0);
	assert_int_equal(gc_reporter_flush(rep, 20000), 0);
	gc_reporter_free(rep);
	/* the oldest five were kept and delivered */
	pthread_mutex_lock(&f->rx.mu);
	assert_int_equal(f->rx.ok, 5);
	for (size_t i = 0; i < 5; i++) {
		char want[64];
		snprintf(want, sizeof(want), "-%lld-", 1795470000LL + (long long)i);
		assert_non_null(strstr(f->rx.reqs[i].run_id, want));
	}
	pthread_mutex_unlock(&f->rx.mu);
}

/* -------------------------------------------------------------- auth */

/* 401 is a configuration problem to fix, not a reason to drop results:
 * retried (never dead-lettered) until a reporter with the right token
 * delivers them. */
static void a_wrong_token_keeps_results_until_the_right_one_comes(
	void **state)
{
	fixture *f = *state;
	gc_reporter_options o = http_opts(f);
	gc_reporter *rep;
	gc_reporter_stats st;

	o.max_reject_attempts = 1;
	snprintf(f->rx.want_auth, sizeof(f->rx.want_auth), "Bearer right");
	rx_set_mode(&f->rx, RX_AUTH);
	assert_int_equal(rx_listen(&f->rx), 0);
	o.report_token = "wrong";
	rep = new_reporter(&o);
	submit_run(rep, 0, 1795470001);
	submit_run(rep, 2, 1795470001);
	assert_int_equal(gc_reporter_flush(rep, 1500), GC_ETIMEDOUT);
	gc_reporter_stats_get(rep, &st);
	assert_int_equal(st.last_http_status, 401);
	assert_true(st.attempts_failed >= 2);
	assert_int_equal(st.dead_lettered, 0);
	assert_int_equal(st.pending_records, 3);
	assert_true(f->log.text && !strstr(f->log.text, "wrong")); /* tokens are not logged */
	gc_reporter_free(rep);

	o.report_token = "right";
	rep = new_reporter(&o);
	assert_int_equal(gc_reporter_flush(rep, 20000), 0);
	gc_reporter_free(rep);
	assert_int_equal(check_delivered(&f->rx, 2, 1), 0);
}

static void without_a_token_no_authorization_header_is_sent(void **state)
{
	fixture *f = *state;
	gc_reporter_options o = http_opts(f);
	gc_reporter *rep;
	o.report_token = NULL;
	assert_int_equal(rx_listen(&f->rx), 0);
	rep = new_reporter(&o);
	submit_run(rep, 1, 1795470001);
	assert_int_equal(gc_reporter_flush(rep, 20000), 0);
	gc_reporter_free(rep);
	pthread_mutex_lock(&f->rx.mu);
	assert_int_equal(f->rx.n, 1);
	assert_string_equal(f->rx.reqs[0].auth, "");
	assert_null(strstr(f->rx.reqs[0].headers, "Authorization"));
	pthread_mutex_unlock(&f->rx.mu);
}

/* ------------------------------------------------------------- misc */

static void flush_times_out_while_the_sink_is_down_and_results_stay(
	void **state)
{
	fixture *f = *state;
	gc_reporter_options o = http_opts(f);
	gc_reporter *rep = new_reporter(&o);
	gc_reporter_stats st;
	struct timespec a, b;
	submit_run(rep, 0, 1795470001);
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(gc_reporter_flush(rep, 300), GC_ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_true(b.tv_sec - a.tv_sec < 5);
	gc_reporter_free(rep);
	rep = new_reporter(&o);
	gc_reporter_stats_get(rep, &st);
	assert_int_equal(st.recovered, 1);
	assert_int_equal(rx_listen(&f->rx), 0);
	assert_int_equal(gc_reporter_flush(rep, 20000), 0);
	gc_reporter_free(rep);
	assert_int_equal(check_delivered(&f->rx, 1, 0), 0);
}

static void bad_options_are_refused_with_a_reason(void **state)
{
	fixture *f = *state;
	gc_reporter_options o = http_opts(f);
	gc_reporter *rep = NULL;
	gc_error err;
	o.report_addr = "ftp://example.com/x";
	assert_int_equal(gc_reporter_new(&rep, &o, &err), GC_EINVAL);
	assert_non_null(strstr(err.msg, "report_addr"));
	o.report_addr = NULL;
	assert_int_equal(gc_reporter_new(&rep, &o, &err), GC_EINVAL);
	assert_non_null(strstr(err.msg, "no sink"));
	o = http_opts(f);
	o.spool_dir = NULL;
	assert_int_equal(gc_reporter_new(&rep, &o, &err), GC_EINVAL);
	assert_non_null(strstr(err.msg, "spool_dir"));
	assert_null(rep);
	gc_reporter_free(NULL);
}

/* The agent's callbacks: copies are spooled at once, in call order. */
static void agent_callbacks_spool_in_call_order(void **state)
{
	fixture *f = *state;
	gc_reporter_options o = http_opts(f);
	gc_reporter *rep = new_reporter(&o);
	gc_result r;
	gc_warning w = GC_WARNING_INIT;
	gc_reporter_stats st;
	gc_error err;
	make_result(&r, 2, 1795470009);
	assert_int_equal(gc_warning_for_result(&w, &r, AGENT_IP, &err), 0);
	gc_reporter_agent_warning(&w, rep);
	gc_reporter_agent_result(&r, rep);
	gc_warning_clear(&w);
	gc_result_clear(&r); /* the reporter kept its own copy */
	gc_reporter_stats_get(rep, &st);
	assert_int_equal(st.results, 1);
	assert_int_equal(st.warnings, 1);
	assert_int_equal(rx_listen(&f->rx), 0);
	assert_int_equal(gc_reporter_flush(rep, 20000), 0);
	gc_reporter_free(rep);
	assert_int_equal(check_delivered(&f->rx, 1, 1), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "--child") == 0)
		return child_main(argv[2], argv[3], atoi(argv[4]));
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_ALL);
	mg_init_library(0);
	if (getenv("GC_TEST_FILTER")) /* e.g. "*dead*" */
		cmocka_set_test_filter(getenv("GC_TEST_FILTER"));
	const struct CMUnitTest tests[] = {
		T(bodies_and_headers_match_the_captured_samples),
		T(sigkill_with_results_in_the_spool_then_restart_delivers_them),
		T(a_body_the_sink_keeps_rejecting_is_dead_lettered),
		T(a_full_spool_refuses_the_newest_loudly_and_counts_them),
		T(a_wrong_token_keeps_results_until_the_right_one_comes),
		T(without_a_token_no_authorization_header_is_sent),
		T(flush_times_out_while_the_sink_is_down_and_results_stay),
		T(bad_options_are_refused_with_a_reason),
		T(agent_callbacks_spool_in_call_order),
		T(sink_down_60s_then_back_delivers_everything_once_in_order),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	mg_exit_library();
	curl_global_cleanup();
	return rc;
}
