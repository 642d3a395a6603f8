/* etcd client over https with a private CA and client certificates
 * (etcd started with --client-cert-auth): KV and a watch work, a client
 * without a certificate is refused with a clear error, a bare host:port
 * becomes https when a CA is configured. Certificates are made with the
 * openssl command for each run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_etcd_util.h"

#include <signal.h>
#include <sys/wait.h>

static char *g_dir;
static int g_port;
static int g_pid;
static char g_ep[64];
static char g_ca[512], g_cert[512], g_key[512];

static int sh(const char *fmt, ...) GC__PRINTF(1, 2);
static int sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int rc;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static gc_etcd *tls_client(const char *ep, int with_cert)
{
	gc_etcd_options o = GC_ETCD_OPTIONS_INIT;
	o.tls_ca_file = g_ca;
	if (with_cert) {
		o.tls_cert_file = g_cert;
		o.tls_key_file = g_key;
	}
	o.retry_timeout_ms = 1000;
	return etu_client_opts(ep, &o);
}

static int setup(void **state)
{
	char data[600], curl[64], purl[64], cluster[96], log[600], cf[600],
		kf[600];
	int peer;
	gc_etcd *c;
	gc_etcd_response r;
	int64_t t0;
	(void)state;
	g_dir = gct_tmpdir("etcd-tls");
	if (!g_dir)
		return -1;
	/* CA, then server (SAN 127.0.0.1) and client certificates */
	if (sh("cd '%s' && {"
	       " openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1"
	       "  -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=gc-test-ca &&"
	       " printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth,clientAuth\\n' > srv.ext &&"
	       " printf 'extendedKeyUsage=clientAuth\\n' > cli.ext &&"
	       " openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
	       "  -keyout server.key -out server.csr -subj /CN=127.0.0.1 &&"
	       " openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial"
	       "  -out server.crt -days 2 -extfile srv.ext &&"
	       " openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
	       "  -keyout client.key -out client.csr -subj /CN=gc-agent &&"
	       " openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial"
	       "  -out client.crt -days 2 -extfile cli.ext; } >openssl.log 2>&1",
	       g_dir) != 0) {
		fprintf(stderr, "openssl failed (see %s/openssl.log)\n", g_dir);
		return -1;
	}
	snprintf(g_ca, sizeof(g_ca), "%s/ca.crt", g_dir);
	snprintf(g_cert, sizeof(g_cert), "%s/client.crt", g_dir);
	snprintf(g_key, sizeof(g_key), "%s/client.key", g_dir);
	snprintf(cf, sizeof(cf), "%s/server.crt", g_dir);
	snprintf(kf, sizeof(kf), "%s/server.key", g_dir);
	snprintf(data, sizeof(data), "%s/data", g_dir);
	snprintf(log, sizeof(log), "%s/etcd.log", g_dir);
	g_port = gct_free_port();
	peer = gct_free_port();
	snprintf(curl, sizeof(curl), "https://127.0.0.1:%d", g_port);
	snprintf(purl, sizeof(purl), "http://127.0.0.1:%d", peer);
	snprintf(cluster, sizeof(cluster), "tls=%s", purl);
	snprintf(g_ep, sizeof(g_ep), "%s", curl);
	{
		char *argv[] = {
			(char *)"etcd", (char *)"--name", (char *)"tls",
			(char *)"--data-dir", data,
			(char *)"--listen-client-urls", curl,
			(char *)"--advertise-client-urls", curl,
			(char *)"--listen-peer-urls", purl,
			(char *)"--initial-advertise-peer-urls", purl,
			(char *)"--initial-cluster", cluster,
			(char *)"--cert-file", cf, (char *)"--key-file", kf,
			(char *)"--trusted-ca-file", g_ca,
			(char *)"--client-cert-auth",
			(char *)"--logger=zap", (char *)"--log-level=warn",
			NULL};
		g_pid = gct_spawn(argv, log);
	}
	if (g_pid <= 0)
		return -1;
	/* ready when a certificate-carrying client can read */
	c = tls_client(g_ep, 1);
	for (t0 = gc__mono_ms(); gc__mono_ms() - t0 < 20000;) {
		if (gc_etcd_get(&r, c, "/ready", NULL, NULL) == 0) {
			gc_etcd_response_clear(&r);
			gc_etcd_free(c);
			return 0;
		}
		gct_sleep_ms(100);
	}
	gc_etcd_free(c);
	fprintf(stderr, "TLS etcd did not come up (see %s)\n", log);
	return -1;
}

static int teardown(void **state)
{
	(void)state;
	if (g_pid > 0) {
		kill(g_pid, SIGKILL);
		waitpid(g_pid, NULL, 0);
	}
	if (g_dir) {
		gct_rmrf(g_dir);
		free(g_dir);
	}
	return 0;
}

static int g_events;

static void on_events(gc_etcd_watch *w, const gc_etcd_event *ev, size_t n,
		      int64_t rev, void *p)
{
	(void)w;
	(void)ev;
	(void)rev;
	(void)p;
	g_events += (int)n;
}

static void kv_and_watch_over_https_with_a_client_certificate(void **state)
{
	gc_etcd *c = tls_client(g_ep, 1);
	gc_etcd_watcher *w;
	gc_etcd_watch *wa;
	gc_etcd_watch_options o = GC_ETCD_WATCH_OPTIONS_INIT;
	gc_etcd_response r;
	gc_error err;
	int64_t t0;
	(void)state;
	o.flags = GC_ETCD_PREFIX;
	o.on_events = on_events;
	assert_int_equal(gc_etcd_watcher_new(&w, c, &err), 0);
	assert_int_equal(gc_etcd_watch_add(&wa, w, "/tls/", &o, &err), 0);
	for (t0 = gc__mono_ms();
	     gc_etcd_watch_next_revision(wa) == 0 && gc__mono_ms() - t0 < 10000;)
		gc_etcd_watcher_poll(w, 50, NULL);
	assert_true(gc_etcd_watch_next_revision(wa) > 0);
	assert_int_equal(gc_etcd_put(NULL, c, "/tls/a", "secure", 6, 0, 0,
				     &err),
			 0);
	assert_int_equal(gc_etcd_get(&r, c, "/tls/a", NULL, &err), 0);
	assert_int_equal(r.kvs_count, 1);
	assert_string_equal(r.kvs[0].value, "secure");
	gc_etcd_response_clear(&r);
	for (t0 = gc__mono_ms(); g_events < 1 && gc__mono_ms() - t0 < 10000;)
		gc_etcd_watcher_poll(w, 50, NULL);
	assert_int_equal(g_events, 1);
	gc_etcd_watcher_free(w);
	gc_etcd_free(c);
}

static void bare_host_port_means_https_when_a_ca_is_set(void **state)
{
	char bare[64];
	gc_etcd *c;
	gc_etcd_response r;
	gc_error err;
	(void)state;
	snprintf(bare, sizeof(bare), "127.0.0.1:%d", g_port);
	c = tls_client(bare, 1);
	assert_string_equal(gc_etcd_endpoint(c), g_ep);
	assert_int_equal(gc_etcd_get(&r, c, "/tls/a", NULL, &err), 0);
	gc_etcd_response_clear(&r);
	gc_etcd_free(c);
}

static void no_client_certificate_is_refused_clearly(void **state)
{
	gc_etcd *c = tls_client(g_ep, 0);
	gc_etcd_options o = GC_ETCD_OPTIONS_INIT;
	gc_etcd *plain;
	gc_etcd_response r;
	gc_error err;
	(void)state;
	assert_int_not_equal(gc_etcd_get(&r, c, "/tls/a", NULL, &err), 0);
	assert_non_null(strstr(err.msg, g_ep));
	fprintf(stderr, "without a client certificate: %s\n", err.msg);
	gc_etcd_free(c);
	/* and without the CA the server certificate is not trusted */
	o.tls_cert_file = g_cert;
	o.tls_key_file = g_key;
	o.retry_timeout_ms = 500;
	plain = etu_client_opts(g_ep, &o);
	assert_int_not_equal(gc_etcd_get(&r, plain, "/tls/a", NULL, &err), 0);
	assert_non_null(strstr(err.msg, "certificate"));
	gc_etcd_free(plain);
}

/* The clock probe over https with a client certificate: the handshake
 * happens before `sent` on the first probe; later probes reuse the TLS
 * connection; unary calls keep working on it. */
static void clock_probe_over_https_reuses_the_tls_connection(void **state)
{
	gc_etcd *c = tls_client(g_ep, 1);
	gc_etcd_clock_sample s;
	gc_etcd_response r;
	gc_error err;
	(void)state;
	if (gc_etcd_clock_probe(&s, c, &err))
		fail_msg("probe: %s", err.msg);
	assert_true(s.connected);
	assert_true(etu_sample_brackets(&s, 0));
	assert_string_equal(s.endpoint, g_ep);
	for (int i = 0; i < 20; i++) {
		if (gc_etcd_clock_probe(&s, c, &err))
			fail_msg("probe %d: %s", i, err.msg);
		assert_false(s.connected);
		assert_true(etu_sample_brackets(&s, 0));
	}
	assert_int_equal(gc_etcd_get(&r, c, "/tls/a", NULL, &err), 0);
	gc_etcd_response_clear(&r);
	gc_etcd_free(c);
	/* without a client certificate the member refuses the handshake */
	c = tls_client(g_ep, 0);
	assert_int_not_equal(gc_etcd_clock_probe(&s, c, &err), 0);
	assert_non_null(strstr(err.msg, "/version"));
	gc_etcd_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			kv_and_watch_over_https_with_a_client_certificate),
		cmocka_unit_test(bare_host_port_means_https_when_a_ca_is_set),
		cmocka_unit_test(no_client_certificate_is_refused_clearly),
		cmocka_unit_test(
			clock_probe_over_https_reuses_the_tls_connection),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
