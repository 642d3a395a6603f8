/* A slow etcd for tests and benchmarks: tests/lib/slowproxy.py (a TCP
 * proxy in front of a member's gateway that delays, throttles or stalls
 * chosen answers), started on a free loopback port. Its settings can be
 * changed while it runs (gct_proxy_set); it logs every matching request
 * (path and JSON body) to gct_proxy_log(). */
#ifndef GC_TEST_SLOWPROXY_H
#define GC_TEST_SLOWPROXY_H

typedef struct gct_proxy {
	int pid;
	int port;
	char *dir; /* its temp dir: log, control file, stderr */
	char endpoint[64];
	char log[512];
	char control[512];
} gct_proxy;

/* Start a proxy for `upstream` ("http://127.0.0.1:2379" or
 * "127.0.0.1:2379") with settings "name=value\n..." (NULL: none) and wait
 * until it accepts connections. 0 or -1 (message on stderr). */
int gct_proxy_start(gct_proxy *p, const char *upstream, const char *settings);
/* Replace the settings (read by the proxy before each request). */
int gct_proxy_set(gct_proxy *p, const char *settings);
/* "http://127.0.0.1:PORT" */
const char *gct_proxy_endpoint(const gct_proxy *p);
const char *gct_proxy_log(const gct_proxy *p);
void gct_proxy_stop(gct_proxy *p);

#endif
