/* etcd client when members die and come back, and with auth on:
 *  - a watch survives a restart of its only member: every event exactly
 *    once, including those written before it reconnected;
 *  - 3 members: SIGKILL the member in use mid-stream; puts, gets and the
 *    watch carry on through another member with no lost or repeated event,
 *    including events written while it was down;
 *  - auth: a role limited to a prefix, garbage and expired tokens renewed
 *    transparently (unary calls and watches), permission errors clear. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_etcd_util.h"
#include "etcd/etcd_internal.h"

#include <inttypes.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAXEV 400

typedef struct seen {
	int n;
	char keys[MAXEV][32];
	int64_t revs[MAXEV];
	int64_t last;
	int out_of_order;
	int created, errors, err_code, compacted;
	char err_msg[512];
} seen;

static void on_events(gc_etcd_watch *w, const gc_etcd_event *ev, size_t n,
		      int64_t rev, void *p)
{
	seen *s = p;
	size_t i;
	(void)w;
	(void)rev;
	for (i = 0; i < n && s->n < MAXEV; i++) {
		snprintf(s->keys[s->n], sizeof(s->keys[0]), "%s",
			 ev[i].kv.key);
		s->revs[s->n] = ev[i].kv.mod_revision;
		if (ev[i].kv.mod_revision <= s->last)
			s->out_of_order++;
		s->last = ev[i].kv.mod_revision;
		s->n++;
	}
}

static void on_progress(gc_etcd_watch *w, int64_t rev, int created, void *p)
{
	seen *s = p;
	(void)w;
	(void)rev;
	if (created)
		s->created++;
}

static void on_error(gc_etcd_watch *w, int code, const char *msg, void *p)
{
	seen *s = p;
	(void)w;
	s->errors++;
	s->err_code = code;
	snprintf(s->err_msg, sizeof(s->err_msg), "%s", msg);
}

static void on_compacted(gc_etcd_watch *w, int64_t rev, void *p)
{
	seen *s = p;
	(void)w;
	(void)rev;
	s->compacted++;
}

static gc_etcd_watch *add_watch(gc_etcd_watcher *w, const char *prefix,
				seen *s)
{
	gc_etcd_watch_options o = GC_ETCD_WATCH_OPTIONS_INIT;
	gc_etcd_watch *wa = NULL;
	gc_error err;
	o.flags = GC_ETCD_PREFIX;
	o.on_events = on_events;
	o.on_progress = on_progress;
	o.on_error = on_error;
	o.on_compacted = on_compacted;
	o.payload = s;
	if (gc_etcd_watch_add(&wa, w, prefix, &o, &err))
		fail_msg("watch_add: %s", err.msg);
	return wa;
}

static int poll_until(gc_etcd_watcher *w, const int *counter, int want,
		      int timeout_ms)
{
	int64_t t0 = gc__mono_ms();
	while (*counter < want && gc__mono_ms() - t0 < timeout_ms)
		gc_etcd_watcher_poll(w, 50, NULL);
	return *counter >= want ? 0 : -1;
}

/* Every key under prefix was seen exactly once, at its mod revision, in
 * revision order, and nothing else was seen. */
static void assert_exactly_once(gc_etcd *c, const char *prefix,
				const seen *s)
{
	gc_etcd_get_options go = GC_ETCD_GET_OPTIONS_INIT;
	gc_etcd_response r;
	gc_error err;
	size_t i;
	go.flags = GC_ETCD_PREFIX;
	if (gc_etcd_get(&r, c, prefix, &go, &err))
		fail_msg("list %s: %s", prefix, err.msg);
	assert_int_equal(s->out_of_order, 0);
	assert_int_equal((size_t)s->n, r.kvs_count);
	for (i = 0; i < r.kvs_count; i++) {
		int hits = 0, j;
		for (j = 0; j < s->n; j++)
			if (strcmp(s->keys[j], r.kvs[i].key) == 0) {
				hits++;
				assert_int_equal(s->revs[j],
						 r.kvs[i].mod_revision);
			}
		if (hits != 1)
			fail_msg("key %s seen %d times", r.kvs[i].key, hits);
	}
	gc_etcd_response_clear(&r);
}

static void put_n(gc_etcd *c, const char *prefix, int from, int to)
{
	gc_error err;
	for (int i = from; i < to; i++) {
		char k[64];
		snprintf(k, sizeof(k), "%s%03d", prefix, i);
		if (gc_etcd_put(NULL, c, k, "v", 1, 0, 0, &err))
			fail_msg("put %s: %s", k, err.msg);
	}
}

static void watch_survives_a_restart_of_its_only_member(void **state)
{
	gct_etcd *e;
	gc_etcd *c;
	gc_etcd_watcher *w;
	seen *s = calloc(1, sizeof(*s));
	gc_error err;
	(void)state;
	assert_int_equal(gct_etcd_start(&e, 1, NULL), 0);
	c = etu_client(gct_etcd_endpoints(e));
	assert_int_equal(gc_etcd_watcher_new(&w, c, &err), 0);
	add_watch(w, "/r/", s);
	assert_int_equal(poll_until(w, &s->created, 1, 10000), 0);
	put_n(c, "/r/", 0, 20);
	assert_int_equal(poll_until(w, &s->n, 20, 10000), 0);

	assert_int_equal(gct_etcd_signal(e, 0, SIGKILL), 0);
	gc_etcd_watcher_poll(w, 100, NULL); /* sees the stream break */
	assert_int_equal(gct_etcd_restart(e, 0), 0);
	assert_int_equal(gct_etcd_wait_healthy(e, 0, 20000), 0);
	/* written before the watch is back: must be replayed */
	put_n(c, "/r/", 20, 40);
	assert_int_equal(poll_until(w, &s->n, 40, 20000), 0);
	put_n(c, "/r/", 40, 45);
	assert_int_equal(poll_until(w, &s->n, 45, 10000), 0);
	gc_etcd_watcher_poll(w, 200, NULL);
	assert_true(s->created >= 2); /* it really reconnected */
	assert_int_equal(s->errors, 0);
	assert_exactly_once(c, "/r/", s);
	gc_etcd_watcher_free(w);
	gc_etcd_free(c);
	gct_etcd_stop(e);
	free(s);
}

static void cluster_member_killed_mid_stream_loses_nothing(void **state)
{
	gct_etcd *e;
	gc_etcd *c;
	gc_etcd_watcher *w;
	gc_etcd_response r;
	seen *s = calloc(1, sizeof(*s)), *s2 = calloc(1, sizeof(*s2));
	gc_error err;
	char first[64];
	(void)state;
	assert_int_equal(gct_etcd_start(&e, 3, NULL), 0);
	c = etu_client(gct_etcd_endpoints(e));
	/* the client (and so the watch) uses member 0 */
	assert_string_equal(gc_etcd_endpoint(c), gct_etcd_endpoint(e, 0));
	assert_int_equal(gc_etcd_watcher_new(&w, c, &err), 0);
	add_watch(w, "/k/", s);
	assert_int_equal(poll_until(w, &s->created, 1, 10000), 0);
	for (int i = 0; i < 30; i++) {
		put_n(c, "/k/", i, i + 1);
		gc_etcd_watcher_poll(w, 0, NULL);
	}
	assert_int_equal(poll_until(w, &s->n, 30, 10000), 0);
	snprintf(first, sizeof(first), "%s", gc_etcd_endpoint(c));

	/* kill the member in use while the stream is live */
	assert_int_equal(gct_etcd_signal(e, 0, SIGKILL), 0);
	for (int i = 30; i < 60; i++) {
		put_n(c, "/k/", i, i + 1); /* fails over */
		gc_etcd_watcher_poll(w, 0, NULL);
	}
	assert_string_not_equal(gc_etcd_endpoint(c), first);
	assert_int_equal(gc_etcd_get(&r, c, "/k/059", NULL, &err), 0);
	assert_int_equal(r.kvs_count, 1);
	gc_etcd_response_clear(&r);
	assert_int_equal(poll_until(w, &s->n, 60, 20000), 0);

	/* a new watch on the surviving members works too */
	add_watch(w, "/k/", s2);
	assert_int_equal(poll_until(w, &s2->created, 1, 10000), 0);

	/* bring the member back; the writes go on */
	assert_int_equal(gct_etcd_restart(e, 0), 0);
	assert_int_equal(gct_etcd_wait_healthy(e, 0, 20000), 0);
	for (int i = 60; i < 80; i++) {
		put_n(c, "/k/", i, i + 1);
		gc_etcd_watcher_poll(w, 0, NULL);
	}
	assert_int_equal(poll_until(w, &s->n, 80, 20000), 0);
	assert_int_equal(poll_until(w, &s2->n, 20, 20000), 0);
	gc_etcd_watcher_poll(w, 200, NULL);
	assert_int_equal(s->errors, 0);
	assert_exactly_once(c, "/k/", s);
	assert_int_equal(s2->n, 20);
	assert_int_equal(s2->out_of_order, 0);

	/* quorum lost (1 of 3 up): writes fail fast, thanks to the hasleader
	 * header, instead of hanging for etcd's 7 s; the watch waits */
	{
		gc_etcd_options o = GC_ETCD_OPTIONS_INIT;
		gc_etcd *quick;
		int64_t t0;
		int rc;
		o.retry_timeout_ms = 1500;
		quick = etu_client_opts(gct_etcd_endpoints(e), &o);
		assert_int_equal(gct_etcd_signal(e, 1, SIGKILL), 0);
		assert_int_equal(gct_etcd_signal(e, 2, SIGKILL), 0);
		gct_sleep_ms(1500); /* the survivor notices it has no leader */
		t0 = gc__mono_ms();
		rc = gc_etcd_put(NULL, quick, "/k/x", "v", 1, 0, 0, &err);
		assert_int_equal(rc, GC_EUNAVAIL);
		/* generous bound: the point is "not etcd's 7 s timeout" */
		assert_true(gc__mono_ms() - t0 < 5000);
		fprintf(stderr, "without quorum: %s\n", err.msg);
		for (int i = 0; i < 10; i++)
			gc_etcd_watcher_poll(w, 50, NULL);
		assert_int_equal(s->errors, 0);
		/* quorum back: the write goes through, the watch delivers */
		assert_int_equal(gct_etcd_restart(e, 1), 0);
		assert_int_equal(gct_etcd_wait_healthy(e, 1, 20000), 0);
		put_n(c, "/k/", 80, 81);
		assert_int_equal(poll_until(w, &s->n, 81, 20000), 0);
		assert_exactly_once(c, "/k/", s);
		gc_etcd_free(quick);
	}
	gc_etcd_watcher_free(w);
	gc_etcd_free(c);
	gct_etcd_stop(e);
	free(s);
	free(s2);
}

/* A claim whose first attempt timed out (member stopped) and may or may
 * not have been applied: the retry must never report losing to itself. */
static void claim_retried_after_a_timeout_never_loses_to_itself(void **state)
{
	gct_etcd *e;
	gc_etcd *c, *other;
	gc_etcd_options o = GC_ETCD_OPTIONS_INIT;
	gc_etcd_claim cl = {GC_ETCD_CLAIM_VERSION, "/lock/1/7/1700000000",
			    "agent-a", 7, 0, NULL, 0, NULL, 0};
	gc_etcd_claim_result res;
	gc_error err;
	int pid, rc;
	(void)state;
	assert_int_equal(gct_etcd_start(&e, 1, NULL), 0);
	o.request_timeout_ms = 300;
	o.retry_timeout_ms = 8000;
	o.log = gc_log_stderr; /* shows which way the retry went */
	c = etu_client_opts(gct_etcd_endpoints(e), &o);
	other = etu_client(gct_etcd_endpoints(e));
	assert_int_equal(gc_etcd_put(NULL, c, "/warm", "x", 1, 0, 0, &err), 0);
	assert_int_equal(gct_etcd_signal(e, 0, SIGSTOP), 0);
	/* resume the member in 1 s from a child, while the claim retries */
	pid = fork();
	if (pid == 0) {
		gct_sleep_ms(1000);
		kill(gct_etcd_pid(e, 0), SIGCONT);
		_exit(0);
	}
	rc = gc_etcd_claim_key(&res, c, &cl, &err);
	waitpid(pid, NULL, 0);
	if (rc)
		fail_msg("claim: %s", err.msg);
	assert_true(res.create_revision > 0);
	gc_etcd_claim_result_clear(&res);
	/* and it really is held by us, once */
	cl.value = "agent-b";
	assert_int_equal(gc_etcd_claim_key(&res, other, &cl, &err),
			 GC_ECONFLICT);
	assert_string_equal(res.holder_value, "agent-a");
	gc_etcd_claim_result_clear(&res);
	gc_etcd_free(other);
	gc_etcd_free(c);
	gct_etcd_stop(e);
}

/* --------------------------------------------------------------- auth */

static void must_request(gc_etcd *c, const char *path, const char *body)
{
	gc_error err;
	if (gc_etcd_request(NULL, c, path, body, &err))
		fail_msg("%s %s: %s", path, body, err.msg);
}

static int g_auth_count; /* "authenticated" log lines */

static void count_auth(int level, const char *msg, void *payload)
{
	(void)level;
	(void)payload;
	if (strstr(msg, "authenticated as"))
		g_auth_count++;
	/* secrets never reach the log */
	assert_null(strstr(msg, "cronpw"));
}

static gc_etcd *auth_client(gct_etcd *e, const char *user, const char *pw)
{
	gc_etcd_options o = GC_ETCD_OPTIONS_INIT;
	o.username = user;
	o.password = pw;
	o.log = count_auth;
	return etu_client_opts(gct_etcd_endpoints(e), &o);
}

static void set_token(gc_etcd *c, const char *token)
{
	pthread_mutex_lock(&c->lock);
	free(c->token);
	c->token = strdup(token);
	pthread_mutex_unlock(&c->lock);
}

static void auth_tokens_renew_and_permissions_are_clear(void **state)
{
	static const char *const flags[] = {"--auth-token-ttl=3", NULL};
	gct_etcd *e;
	gc_etcd *admin, *root, *cron, *bad;
	gc_etcd_watcher *w;
	gc_etcd_response r;
	seen *s = calloc(1, sizeof(*s)), *sp = calloc(1, sizeof(*sp)),
	     *s3 = calloc(1, sizeof(*s3));
	gc_error err;
	int64_t lease, ttl;
	int n_auth;
	(void)state;
	assert_int_equal(gct_etcd_start(&e, 1, flags), 0);
	admin = etu_client(gct_etcd_endpoints(e));
	/* "/cron/" .. "/cron0" as base64 */
	must_request(admin, "/v3/auth/user/add",
		     "{\"name\":\"root\",\"password\":\"rootpw\"}");
	must_request(admin, "/v3/auth/role/add", "{\"name\":\"root\"}");
	must_request(admin, "/v3/auth/user/grant",
		     "{\"user\":\"root\",\"role\":\"root\"}");
	must_request(admin, "/v3/auth/user/add",
		     "{\"name\":\"cron\",\"password\":\"cronpw\"}");
	must_request(admin, "/v3/auth/role/add", "{\"name\":\"cronrw\"}");
	must_request(admin, "/v3/auth/role/grant",
		     "{\"name\":\"cronrw\",\"perm\":{\"permType\":\"READWRITE\","
		     "\"key\":\"L2Nyb24v\",\"range_end\":\"L2Nyb24w\"}}");
	must_request(admin, "/v3/auth/user/grant",
		     "{\"user\":\"cron\",\"role\":\"cronrw\"}");
	must_request(admin, "/v3/auth/enable", "{}");
	gc_etcd_free(admin);

	root = auth_client(e, "root", "rootpw");
	cron = auth_client(e, "cron", "cronpw");
	assert_int_equal(gc_etcd_put(NULL, root, "/other/x", "r", 1, 0, 0,
				     &err),
			 0);
	assert_int_equal(gc_etcd_put(NULL, cron, "/cron/a", "1", 1, 0, 0,
				     &err),
			 0);
	assert_int_equal(gc_etcd_get(&r, cron, "/cron/a", NULL, &err), 0);
	assert_int_equal(r.kvs_count, 1);
	gc_etcd_response_clear(&r);

	/* outside the role: a clear permission error, not retried */
	assert_int_equal(gc_etcd_put(NULL, cron, "/other/x", "c", 1, 0, 0,
				     &err),
			 GC_EPERM);
	assert_non_null(strstr(err.msg, "put /other/x"));
	assert_non_null(strstr(err.msg, "HTTP 403"));
	assert_non_null(strstr(err.msg, "permission denied"));
	assert_non_null(strstr(err.msg, "\"cron\""));
	assert_int_equal(gc_etcd_get(&r, cron, "/other/x", NULL, &err),
			 GC_EPERM);

	/* a garbage token is renewed transparently */
	assert_true(g_auth_count >= 2); /* root and cron */
	n_auth = g_auth_count;
	set_token(cron, "AAAAgarbageAAAA.1");
	if (gc_etcd_get(&r, cron, "/cron/a", NULL, &err))
		fail_msg("get with a garbage token: %s", err.msg);
	gc_etcd_response_clear(&r);

	assert_true(g_auth_count > n_auth);

	/* leases need no key permission; the keep-alive carries the token */
	assert_int_equal(gc_etcd_lease_grant(&lease, NULL, cron, 30, 0, &err),
			 0);
	assert_int_equal(gc_etcd_lease_keepalive_once(&ttl, cron, lease, &err),
			 0);

	/* watches: inside the role they run, outside they stop with EPERM */
	assert_int_equal(gc_etcd_watcher_new(&w, cron, &err), 0);
	add_watch(w, "/cron/", s);
	add_watch(w, "/other/", sp);
	assert_int_equal(poll_until(w, &s->created, 1, 10000), 0);
	assert_int_equal(poll_until(w, &sp->errors, 1, 10000), 0);
	assert_int_equal(sp->err_code, GC_EPERM);
	assert_non_null(strstr(sp->err_msg, "ermission"));

	/* let the token expire (TTL 3 s, checked every second) */
	gct_sleep_ms(5500);
	/* a new watch with the stale token is re-authenticated */
	n_auth = g_auth_count;
	add_watch(w, "/cron/", s3);
	assert_int_equal(poll_until(w, &s3->created, 1, 10000), 0);
	assert_int_equal(s3->errors, 0);
	assert_true(g_auth_count > n_auth);
	/* and unary calls too */
	gct_sleep_ms(4500);
	n_auth = g_auth_count;
	assert_int_equal(gc_etcd_put(NULL, cron, "/cron/b", "2", 1, 0, 0,
				     &err),
			 0);
	assert_true(g_auth_count > n_auth);
	assert_int_equal(poll_until(w, &s->n, 1, 10000), 0);
	assert_int_equal(poll_until(w, &s3->n, 1, 10000), 0);
	assert_string_equal(s->keys[0], "/cron/b");
	assert_int_equal(gc_etcd_lease_revoke(cron, lease, &err), 0);
	gc_etcd_watcher_free(w);

	/* a wrong password is an authentication error */
	bad = auth_client(e, "cron", "wrong");
	/* ...but the clock probe needs no token at all: it works with and
	 * without valid credentials and authenticates nobody */
	{
		gc_etcd_clock_sample cs;
		gc_etcd *fresh = auth_client(e, "cron", "cronpw");
		n_auth = g_auth_count;
		if (gc_etcd_clock_probe(&cs, bad, &err) ||
		    gc_etcd_clock_probe(&cs, fresh, &err))
			fail_msg("clock probe with auth on: %s", err.msg);
		assert_true(etu_sample_brackets(&cs, 0));
		assert_int_equal(g_auth_count, n_auth);
		gc_etcd_free(fresh);
	}
	assert_int_equal(gc_etcd_get(&r, bad, "/cron/a", NULL, &err), GC_EAUTH);
	assert_non_null(strstr(err.msg, "authentication failed"));
	assert_non_null(strstr(err.msg, "\"cron\""));
	gc_etcd_free(bad);
	gc_etcd_free(cron);
	gc_etcd_free(root);
	gct_etcd_stop(e);
	free(s);
	free(sp);
	free(s3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(watch_survives_a_restart_of_its_only_member),
		cmocka_unit_test(cluster_member_killed_mid_stream_loses_nothing),
		cmocka_unit_test(
			claim_retried_after_a_timeout_never_loses_to_itself),
		cmocka_unit_test(auth_tokens_renew_and_permissions_are_clear),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
