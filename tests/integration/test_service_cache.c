/* The service's watch-fed cache against a real etcd: read-your-write
 * through the API, changes written straight to etcd seen within a second,
 * a watch cut by compaction listing again, registrations with the agents'
 * clocks passed through, and etcd stopped: 503 within the timeout (at once
 * while it refuses connections), 200 again once it is back.
 *
 * The service reaches etcd through a small TCP relay in this test, which
 * can cut every connection and refuse new ones for a while: the watch then
 * misses what happens meanwhile, the way a network partition does it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "harness.h"
#include "logbuf.h"
#include "httpresp.h"
#include "service/svc.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define SECRET "test-secret-0123456789-0123456789-abcdef"
#define PREFIX "/gc_cache"

/* --------------------------------------------------------------- relay */

#define RELAY_MAX 64

typedef struct relay {
	int port, up_port;
	int lfd;
	int fds[RELAY_MAX][2]; /* client, upstream */
	pthread_t th;
	pthread_mutex_t mu;
	int cut; /* 1: refuse and drop everything */
	int stop;
} relay;

static int listen_on(int port)
{
	struct sockaddr_in a = {0};
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 64)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int connect_to(int port)
{
	struct sockaddr_in a = {0};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return -1;
	}
	return fd;
}

static void relay_drop(relay *r, int i)
{
	close(r->fds[i][0]);
	close(r->fds[i][1]);
	r->fds[i][0] = r->fds[i][1] = -1;
}

/* One round: accept, then copy whatever is readable (lock held). */
static void relay_round(relay *r)
{
	struct pollfd p[1 + 2 * RELAY_MAX];
	char buf[65536];
	int n = 0;
	if (r->lfd >= 0)
		p[n++] = (struct pollfd){r->lfd, POLLIN, 0};
	for (int i = 0; i < RELAY_MAX; i++)
		for (int s = 0; s < 2; s++)
			p[n++] = (struct pollfd){r->fds[i][s], POLLIN, 0};
	pthread_mutex_unlock(&r->mu);
	poll(p, (nfds_t)n, 50);
	pthread_mutex_lock(&r->mu);
	if (r->cut)
		return;
	if (r->lfd >= 0 && (p[0].revents & POLLIN)) {
		int c = accept4(r->lfd, NULL, NULL, SOCK_CLOEXEC);
		int u = c >= 0 ? connect_to(r->up_port) : -1;
		int i = 0;
		while (i < RELAY_MAX && r->fds[i][0] >= 0)
			i++;
		if (c >= 0 && u >= 0 && i < RELAY_MAX) {
			r->fds[i][0] = c;
			r->fds[i][1] = u;
		} else {
			if (c >= 0)
				close(c);
			if (u >= 0)
				close(u);
		}
	}
	for (int k = r->lfd >= 0; k < n; k++) {
		int i = (k - (r->lfd >= 0)) / 2, s = (k - (r->lfd >= 0)) % 2;
		ssize_t got;
		if (p[k].fd < 0 || !(p[k].revents & (POLLIN | POLLHUP)) ||
		    r->fds[i][s] != p[k].fd)
			continue;
		got = read(p[k].fd, buf, sizeof(buf));
		if (got <= 0 || write(r->fds[i][!s], buf, (size_t)got) != got)
			relay_drop(r, i);
	}
}

static void *relay_thread(void *arg)
{
	relay *r = arg;
	pthread_mutex_lock(&r->mu);
	while (!r->stop) {
		if (r->cut) {
			pthread_mutex_unlock(&r->mu);
			gct_sleep_ms(20);
			pthread_mutex_lock(&r->mu);
			continue;
		}
		relay_round(r);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

static int relay_start(relay *r, int up_port)
{
	memset(r, 0, sizeof(*r));
	memset(r->fds, -1, sizeof(r->fds));
	pthread_mutex_init(&r->mu, NULL);
	r->up_port = up_port;
	r->port = gct_free_port();
	r->lfd = listen_on(r->port);
	if (r->lfd < 0)
		return -1;
	return pthread_create(&r->th, NULL, relay_thread, r);
}

/* Cut: close every connection and the listener (connections refused). */
static void relay_cut(relay *r, int cut)
{
	pthread_mutex_lock(&r->mu);
	r->cut = cut;
	if (cut) {
		for (int i = 0; i < RELAY_MAX; i++)
			if (r->fds[i][0] >= 0)
				relay_drop(r, i);
		close(r->lfd);
		r->lfd = -1;
	} else {
		r->lfd = listen_on(r->port);
	}
	pthread_mutex_unlock(&r->mu);
	assert_true(cut || r->lfd >= 0);
}

static void relay_stop(relay *r)
{
	pthread_mutex_lock(&r->mu);
	r->stop = 1;
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->th, NULL);
	for (int i = 0; i < RELAY_MAX; i++)
		if (r->fds[i][0] >= 0)
			relay_drop(r, i);
	if (r->lfd >= 0)
		close(r->lfd);
	pthread_mutex_destroy(&r->mu);
}

/* ------------------------------------------------------------- fixture */

static struct fixture {
	gct_etcd *etcd;
	relay rl;
	char *dir;
	gc_service_config cfg;
	gc_service *svc;
	int port;
	gc_etcd *ec; /* straight to etcd */
	char *tok;
	int64_t pid;
	gct_logbuf log;
} F;

static void req(resp *r, const char *method, const char *path, const char *form)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char url[1024], line[1024];
	memset(r, 0, sizeof(*r));
	assert_non_null(c);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", F.port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	if (F.tok) {
		snprintf(line, sizeof(line), "access-token: %s", F.tok);
		h = curl_slist_append(h, line);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (form)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (r->body)
		r->json = cJSON_Parse(r->body);
}

static const cJSON *response(const resp *r)
{
	return cJSON_GetObjectItem(r->json, "response");
}

/* The task list of the test project: its names, comma-joined. */
static void task_names(char *out, size_t len, long *status)
{
	char path[128];
	resp r;
	const cJSON *t;
	snprintf(path, sizeof(path), "/api/v1/crontab/list?project_id=%" PRId64,
		 F.pid);
	req(&r, "GET", path, NULL);
	*status = r.status;
	out[0] = '\0';
	cJSON_ArrayForEach(t, cJSON_GetObjectItem(response(&r), "list"))
	{
		const cJSON *nm = cJSON_GetObjectItem(t, "name");
		size_t used = strlen(out);
		snprintf(out + used, len - used, "%s%s,", nm->valuestring,
			 cJSON_GetObjectItem(t, "is_running")->valueint ? "*"
									: "");
	}
	resp_free(&r);
}

static int metric(const char *name, int64_t *v)
{
	resp r;
	const char *p;
	int rc = -1;
	req(&r, "GET", "/metrics", NULL);
	for (p = r.body; p && (p = strstr(p, name)); p++)
		if ((p == r.body || p[-1] == '\n') && p[strlen(name)] == ' ') {
			*v = strtoll(p + strlen(name) + 1, NULL, 10);
			rc = 0;
			break;
		}
	resp_free(&r);
	return rc;
}

/* Wait up to `ms` for the list to hold `needle`; elapsed ms or -1. */
static int64_t wait_list_has(const char *needle, int ms)
{
	int64_t t0 = gc__mono_ms();
	char names[4096];
	long st;
	do {
		task_names(names, sizeof(names), &st);
		if (st == 200 && strstr(names, needle))
			return gc__mono_ms() - t0;
		gct_sleep_ms(20);
	} while (gc__mono_ms() - t0 < ms);
	return -1;
}

/* Wait until the list is answered from the cache (its revision header). */
static int wait_cache_answers(int ms)
{
	int64_t t0 = gc__mono_ms();
	char path[128];
	snprintf(path, sizeof(path), "/api/v1/crontab/list?project_id=%" PRId64,
		 F.pid);
	do {
		resp r;
		int hit;
		req(&r, "GET", path, NULL);
		hit = r.status == 200 &&
		      strstr(r.headers, "X-Gophercron-Revision: ") != NULL;
		resp_free(&r);
		if (hit)
			return 1;
		gct_sleep_ms(20);
	} while (gc__mono_ms() - t0 < ms);
	return 0;
}

static void quiet_log(int level, const char *m, void *p)
{
	(void)p;
	gct_logbuf_fn(level, m, &F.log);
	if (getenv("GC_TEST_VERBOSE"))
		fprintf(stderr, "service: %s\n", m);
}

static int setup(void **state)
{
	char text[2048];
	gc_service_options o = GC_SERVICE_OPTIONS_INIT;
	gc_etcd_options eo;
	const char *eps[2];
	gc_error err;
	resp r;
	const char *ep;
	(void)state;
	curl_global_init(CURL_GLOBAL_ALL);
	memset(&F, 0, sizeof(F));
	gct_logbuf_init(&F.log);
	if (gct_etcd_start(&F.etcd, 1, NULL) != 0)
		return -1;
	ep = gct_etcd_endpoint(F.etcd, 0);
	if (relay_start(&F.rl, atoi(strrchr(ep, ':') + 1)) != 0)
		return -1;
	F.dir = gct_tmpdir("svccache");
	snprintf(text, sizeof(text),
		 "[deploy]\nhost = [\"127.0.0.1:1\"]\ntimeout = 2\n"
		 "[etcd]\nservice = [\"127.0.0.1:%d\"]\nprefix = \"" PREFIX
		 "\"\ndialtimeout = 500\n"
		 "[sqlite]\npath = \"%s/gc.db\"\n[jwt]\nsecret = \"" SECRET
		 "\"\n",
		 F.rl.port, F.dir);
	gc_service_config_init(&F.cfg, GC_SERVICE_CONFIG_VERSION);
	if (gc_service_config_load_string(&F.cfg, text, "t.toml", NULL, NULL,
					  &err) != 0)
		return -1;
	free(F.cfg.deploy.hosts[0]);
	F.cfg.deploy.hosts[0] = strdup("127.0.0.1:0");
	o.log = quiet_log;
	o.num_threads = 8;
	if (gc_service_new(&F.svc, &F.cfg, &o, &err) != 0 ||
	    gc_service_start(F.svc, &err) != 0)
		return -1;
	F.port = gc_service_port(F.svc, 0);
	gc_etcd_options_init(&eo, GC_ETCD_OPTIONS_VERSION);
	eps[0] = ep;
	eps[1] = NULL;
	eo.endpoints = eps;
	if (gc_etcd_new(&F.ec, &eo, &err) != 0)
		return -1;
	req(&r, "POST", "/api/v1/user/login", "account=admin&password=123456");
	F.tok = strdup(cJSON_GetObjectItem(response(&r), "token")->valuestring);
	resp_free(&r);
	req(&r, "POST", "/api/v1/project/create", "title=cache&remark=x");
	F.pid = (int64_t)cJSON_GetObjectItem(response(&r), "project_id")
		    ->valuedouble;
	resp_free(&r);
	return F.pid > 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	gc_service_free(F.svc);
	gc_etcd_free(F.ec);
	gc_service_config_clear(&F.cfg);
	relay_stop(&F.rl);
	gct_etcd_stop(F.etcd);
	gct_rmrf(F.dir);
	free(F.dir);
	free(F.tok);
	gct_logbuf_free(&F.log);
	return 0;
}

/* A task straight into etcd, as another service instance would write it. */
static void put_task(const char *tid, const char *name)
{
	char k[256], v[512];
	gc_error err;
	snprintf(k, sizeof(k), PREFIX "/%" PRId64 "/%s", F.pid, tid);
	snprintf(v, sizeof(v),
		 "{\"task_id\":\"%s\",\"project_id\":%" PRId64
		 ",\"name\":\"%s\",\"command\":\"true\",\"cron\":\"* * * * "
		 "*\",\"remark\":\"\",\"timeout\":0,\"create_time\":1,"
		 "\"status\":1,\"is_running\":0,\"noseize\":0}",
		 tid, F.pid, name);
	assert_int_equal(gc_etcd_put(NULL, F.ec, k, v, strlen(v), 0, 0, &err),
			 0);
}

/* Run gcronctl in the test's directory (logged in as admin, its config
 * there too): the exit status. */
static int gcronctl(const char *args)
{
	const char *b = getenv("GC_BUILD");
	char cmd[10240], bin[4096];
	int st;
	assert_non_null(realpath(b ? b : "build", bin));
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && export XDG_CONFIG_HOME=\"$PWD\"; "
		 "ctl='%s/bin/gcronctl -s http://127.0.0.1:%d'; "
		 "$ctl whoami >/dev/null 2>&1 || echo 123456 | $ctl login -u "
		 "admin --password-stdin >/dev/null && $ctl %s",
		 F.dir, bin, F.port, args);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* --------------------------------------------------------------- tests */

static void saved_task_is_in_the_next_list(void **state)
{
	char form[256], names[4096];
	resp r;
	long st;
	const char *tid;
	(void)state;
	for (int i = 0; i < 20; i++) {
		snprintf(form, sizeof(form),
			 "project_id=%" PRId64 "&name=ryw%d&command=true&"
			 "cron=*%%20*%%20*%%20*%%20*&status=1",
			 F.pid, i);
		req(&r, "POST", "/api/v1/crontab/save", form);
		assert_int_equal(r.status, 200);
		resp_free(&r);
		/* the very next read, no waiting */
		task_names(names, sizeof(names), &st);
		assert_int_equal(st, 200);
		snprintf(form, sizeof(form), "ryw%d,", i);
		assert_non_null(strstr(names, form));
	}
	/* answered from the cache: its revision in the header */
	{
		char path[128];
		snprintf(path, sizeof(path),
			 "/api/v1/crontab/list?project_id=%" PRId64, F.pid);
		req(&r, "GET", path, NULL);
		assert_non_null(strstr(r.headers, "X-Gophercron-Revision: "));
		tid = cJSON_GetObjectItem(
			  cJSON_GetArrayItem(
			      cJSON_GetObjectItem(response(&r), "list"), 0),
			  "task_id")
			  ->valuestring;
		snprintf(form, sizeof(form),
			 "project_id=%" PRId64 "&task_id=%s", F.pid, tid);
		resp_free(&r);
	}
	req(&r, "POST", "/api/v1/crontab/delete", form);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	task_names(names, sizeof(names), &st);
	assert_null(strstr(names, "ryw0,"));
	/* the project list's counts come from the cache too (one header
	 * for all of them) */
	for (int i = 0; i < 30; i++) {
		req(&r, "POST", "/api/v1/project/create", "title=more");
		resp_free(&r);
	}
	req(&r, "GET", "/api/v1/project/list", NULL);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\"task_count\":19"));
	{
		const char *h = strstr(r.headers, "X-Gophercron-Revision: ");
		assert_non_null(h);
		assert_null(strstr(h + 1, "X-Gophercron-Revision: "));
	}
	resp_free(&r);
}

static void task_written_to_etcd_appears_within_a_second(void **state)
{
	char k[256];
	gc_error err;
	int64_t ms;
	(void)state;
	put_task("direct1", "direct-one");
	ms = wait_list_has("direct-one,", 1000);
	assert_true(ms >= 0);
	/* a run starts: the status key */
	snprintf(k, sizeof(k), PREFIX "/%" PRId64 "/direct1/t_status", F.pid);
	assert_int_equal(gc_etcd_put(NULL, F.ec, k, "running", 7, 0, 0, &err),
			 0);
	assert_true(wait_list_has("direct-one*,", 1000) >= 0);
	assert_int_equal(gc_etcd_put(NULL, F.ec, k, "", 0, 0, 0, &err), 0);
	assert_true(wait_list_has("direct-one,", 1000) >= 0);
}

static void nodes_pass_the_agent_clock_through(void **state)
{
	char k[256], path[128];
	const char *v1 = "{\"client_ip\":\"10.0.0.1\",\"version\":\"v1.10.8\"}";
	const char *v2 =
	    "{\"client_ip\":\"10.0.0.2\",\"version\":\"v2\","
	    "\"clock_offset_ms\":-1250,\"clock_error_ms\":3,"
	    "\"clock_ok\":false,\"clock_reason\":\"clock 1.2 s behind\"}";
	gc_error err;
	resp r;
	int64_t t0 = gc__mono_ms();
	(void)state;
	snprintf(k, sizeof(k), PREFIX "/register/%" PRId64 "/10.0.0.1", F.pid);
	assert_int_equal(gc_etcd_put(NULL, F.ec, k, v1, strlen(v1), 0, 0, &err),
			 0);
	snprintf(k, sizeof(k), PREFIX "/register/%" PRId64 "/10.0.0.2", F.pid);
	assert_int_equal(gc_etcd_put(NULL, F.ec, k, v2, strlen(v2), 0, 0, &err),
			 0);
	for (;;) {
		req(&r, "GET", "/api/v1/client/list", NULL);
		if (strstr(r.body, "10.0.0.2") || gc__mono_ms() - t0 > 1000)
			break;
		resp_free(&r);
		gct_sleep_ms(20);
	}
	/* 1.10's registration: exactly the original's fields */
	assert_non_null(strstr(r.body,
			       "{\"project_id\":1,\"client_ip\":"
			       "\"10.0.0.1\",\"version\":\"v1.10.8\"}"));
	assert_non_null(strstr(r.body, "\"clock_offset_ms\":-1250,"
				       "\"clock_error_ms\":3,\"clock_ok\":"
				       "false,\"clock_reason\":\"clock 1.2 s "
				       "behind\""));
	resp_free(&r);
	snprintf(path, sizeof(path),
		 "/api/v1/crontab/client_list?project_id=%" PRId64, F.pid);
	req(&r, "GET", path, NULL);
	assert_non_null(strstr(r.body, "\"10.0.0.1:v1.10.8\""));
	assert_non_null(strstr(r.body, "\"10.0.0.2:v2\""));
	resp_free(&r);
	req(&r, "GET", "/metrics", NULL);
	assert_non_null(strstr(
	    r.body, "gophercron_agent_clock_offset_seconds{ip=\"10.0.0.2\"} "
		    "-1.250\n"));
	assert_non_null(
	    strstr(r.body, "gophercron_agent_clock_ok{ip=\"10.0.0.2\"} 0\n"));
	assert_null(strstr(r.body, "clock_ok{ip=\"10.0.0.1\"}"));
	resp_free(&r);
	/* gcronctl node ls: OFFSET, "-" for the agent of 1.10 */
	assert_int_equal(gcronctl("node ls >out.txt 2>&1; "
				  "grep -q 'NODE *VERSION *OFFSET' out.txt && "
				  "grep -q '10.0.0.2 *v2 *-1.25s !' out.txt && "
				  "grep -q '10.0.0.1 *v1.10.8 *- ' out.txt"),
			 0);
}

static void watch_cut_by_compaction_lists_again(void **state)
{
	gc_etcd_response g = {0};
	gc_error err;
	int64_t relists0 = -1, relists = -1, up = -1, t0 = gc__mono_ms();
	(void)state;
	assert_int_equal(metric("gophercron_cache_relists_total", &relists0),
			 0);
	/* the service loses etcd; meanwhile a task arrives and etcd
	 * compacts its history past the watch's position */
	relay_cut(&F.rl, 1);
	put_task("compacted1", "after-compaction");
	assert_int_equal(gc_etcd_get(&g, F.ec, "x", NULL, &err), 0);
	assert_int_equal(gc_etcd_compact(F.ec, g.revision, 1, &err), 0);
	gc_etcd_response_clear(&g);
	relay_cut(&F.rl, 0);
	/* the watch comes back (backoff up to 2 s), finds its history
	 * gone and the cache lists again */
	do {
		gct_sleep_ms(50);
		assert_int_equal(
		    metric("gophercron_cache_relists_total", &relists), 0);
	} while (relists == relists0 && gc__mono_ms() - t0 < 10000);
	assert_true(relists > relists0);
	assert_true(wait_list_has("after-compaction,", 1000) >= 0);
	assert_int_equal(gcronctl("job ls -p cache >/dev/null"), 0);
	assert_true(wait_cache_answers(2000));
	assert_true(gct_logbuf_count(&F.log, "compacted") >= 1);
	assert_int_equal(metric("gophercron_etcd_up", &up), 0);
	assert_int_equal(up, 1);
}

static void etcd_stopped_gives_503_in_time_then_200(void **state)
{
	char names[4096], form[256];
	int64_t t0, up = -1;
	long st;
	resp r;
	(void)state;
	/* refused connections: 503 at once once the probe has seen it */
	relay_cut(&F.rl, 1);
	/* the probe (every second, retrying within the 2 s timeout) finds
	 * etcd gone */
	t0 = gc__mono_ms();
	while (metric("gophercron_etcd_up", &up) == 0 && up != 0 &&
	       gc__mono_ms() - t0 < 5000)
		gct_sleep_ms(50);
	assert_int_equal(up, 0);
	t0 = gc__mono_ms();
	task_names(names, sizeof(names), &st);
	assert_int_equal(st, 503);
	assert_true(gc__mono_ms() - t0 < 200);
	{
		char path[128];
		snprintf(path, sizeof(path),
			 "/api/v1/crontab/list?project_id=%" PRId64, F.pid);
		req(&r, "GET", path, NULL);
		assert_non_null(strstr(r.body, "cannot reach etcd at "));
		resp_free(&r);
	}
	/* gcronctl: exit status 3, as for a server it cannot reach */
	assert_int_equal(gcronctl("job ls -p cache"), 3);
	/* a service started now says so at once, and starts */
	{
		gc_service_options o = GC_SERVICE_OPTIONS_INIT;
		gc_service *svc2 = NULL;
		gc_error err;
		o.log = quiet_log;
		assert_int_equal(gc_service_new(&svc2, &F.cfg, &o, &err), 0);
		assert_int_equal(gc_service_start(svc2, &err), 0);
		assert_true(gct_logbuf_count(&F.log, "cannot reach etcd at ") >=
			    1);
		gc_service_free(svc2);
	}
	relay_cut(&F.rl, 0);
	/* etcd itself stopped (frozen: every call times out): 503 within
	 * the [deploy] timeout of 2 s */
	assert_true(wait_list_has("direct-one", 5000) >= 0);
	gct_etcd_signal(F.etcd, 0, SIGSTOP);
	t0 = gc__mono_ms();
	snprintf(form, sizeof(form),
		 "project_id=%" PRId64 "&name=frozen&command=true&"
		 "cron=*%%20*%%20*%%20*%%20*",
		 F.pid);
	req(&r, "POST", "/api/v1/crontab/save", form);
	assert_int_equal(r.status, 503);
	assert_true(gc__mono_ms() - t0 < 2000 + 500);
	resp_free(&r);
	/* reads: each answered within the timeout; 503 once the probe (every
	 * second, bounded by the timeout too) has found etcd gone */
	t0 = gc__mono_ms();
	do {
		int64_t t1 = gc__mono_ms();
		task_names(names, sizeof(names), &st);
		assert_true(gc__mono_ms() - t1 < 2000 + 500);
	} while (st != 503 && gc__mono_ms() - t0 < 5000);
	assert_int_equal(st, 503);
	gct_etcd_signal(F.etcd, 0, SIGCONT);
	assert_true(wait_list_has("direct-one", 5000) >= 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(saved_task_is_in_the_next_list),
	    cmocka_unit_test(task_written_to_etcd_appears_within_a_second),
	    cmocka_unit_test(nodes_pass_the_agent_clock_through),
	    cmocka_unit_test(watch_cut_by_compaction_lists_again),
	    cmocka_unit_test(etcd_stopped_gives_503_in_time_then_200),
	};
	return cmocka_run_group_tests_name("service_cache", tests, setup,
					   teardown);
}
