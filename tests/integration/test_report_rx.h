/* A report_addr receiver for the reporter's tests and benchmark: a real
 * HTTP server (civetweb) on loopback that records every request (headers
 * and body) and can be switched between answering 200, 503, hanging,
 * rejecting marked bodies with 400, demanding a token, or not listening at
 * all (connection refused). */
#ifndef GC_TEST_REPORT_RX_H
#define GC_TEST_REPORT_RX_H

#include <civetweb.h>
#include <cJSON.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
	RX_OK = 0,     /* 200 */
	RX_503 = 1,    /* 503 */
	RX_HANG = 2,   /* wait rx->hang_ms, then 503 */
	RX_REJECT = 3, /* 400 for bodies containing "poison", else 200 */
	RX_AUTH = 4    /* 401 unless Authorization equals rx->want_auth */
};

typedef struct rx_req {
	char method[8];
	char uri[64];
	char report_type[40];
	char content_type[64];
	char auth[160];
	long long content_length;
	int chunked;
	char *headers; /* "Name: value\n" lines, in order */
	char *body;
	size_t len;
	char run_id[200];
	int status; /* what we answered */
} rx_req;

typedef struct receiver {
	struct mg_context *ctx;
	int port;
	pthread_mutex_t mu;
	int mode;
	int hang_ms;
	int keep; /* 0: count only (benchmark) */
	char want_auth[160];
	rx_req *reqs;
	size_t n, cap;
	size_t ok; /* 2xx answers */
} receiver;

static inline void rx_copy(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

static inline int rx_handler(struct mg_connection *c, void *cbdata)
{
	receiver *rx = cbdata;
	const struct mg_request_info *ri = mg_get_request_info(c);
	long long cl = ri->content_length;
	size_t cap = cl > 0 ? (size_t)cl : 4096, len = 0;
	char *body = malloc(cap + 1);
	int mode, status, hang;
	char want[160];
	rx_req q;

	for (;;) {
		int n;
		if (len == cap) {
			cap *= 2;
			body = realloc(body, cap + 1);
		}
		n = mg_read(c, body + len, cap - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	body[len] = '\0';
	pthread_mutex_lock(&rx->mu);
	mode = rx->mode;
	hang = rx->hang_ms;
	rx_copy(want, sizeof(want), rx->want_auth);
	pthread_mutex_unlock(&rx->mu);
	memset(&q, 0, sizeof(q));
	rx_copy(q.method, sizeof(q.method), ri->request_method);
	rx_copy(q.uri, sizeof(q.uri), ri->local_uri);
	rx_copy(q.report_type, sizeof(q.report_type),
		mg_get_header(c, "Report-Type"));
	rx_copy(q.content_type, sizeof(q.content_type),
		mg_get_header(c, "Content-Type"));
	rx_copy(q.auth, sizeof(q.auth), mg_get_header(c, "Authorization"));
	q.content_length = cl;
	q.chunked = mg_get_header(c, "Transfer-Encoding") != NULL;
	switch (mode) {
	case RX_503:
		status = 503;
		break;
	case RX_HANG: {
		struct timespec ts = {hang / 1000, (long)(hang % 1000) * 1000000L};
		nanosleep(&ts, NULL);
		status = 503;
		break;
	}
	case RX_REJECT:
		status = strstr(body, "poison") ? 400 : 200;
		break;
	case RX_AUTH:
		status = strcmp(q.auth, want) == 0 ? 200 : 401;
		break;
	default:
		status = 200;
	}
	q.status = status;
	pthread_mutex_lock(&rx->mu);
	if (status >= 200 && status < 300)
		rx->ok++;
	if (rx->keep) {
		size_t hl = 0;
		q.headers = malloc(8192);
		q.headers[0] = '\0';
		for (int i = 0; i < ri->num_headers && hl < 8000; i++)
			hl += (size_t)snprintf(q.headers + hl, 8192 - hl,
					       "%s: %s\n", ri->http_headers[i].name,
					       ri->http_headers[i].value);
		q.body = body;
		q.len = len;
		body = NULL;
		if (strcmp(q.report_type, "report_task_result") == 0) {
			cJSON *j = cJSON_ParseWithLength(q.body, q.len);
			cJSON *id = cJSON_GetObjectItem(j, "run_id");
			if (cJSON_IsString(id))
				rx_copy(q.run_id, sizeof(q.run_id),
					id->valuestring);
			cJSON_Delete(j);
		}
		if (rx->n == rx->cap) {
			rx->cap = rx->cap ? rx->cap * 2 : 256;
			rx->reqs = realloc(rx->reqs, rx->cap * sizeof(*rx->reqs));
		}
		rx->reqs[rx->n++] = q;
	}
	pthread_mutex_unlock(&rx->mu);
	free(body);
	const char *answer = status == 200 ? "{}" : "{\"error\":\"nope\"}";
	mg_printf(c,
		  "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
		  "Content-Length: %zu\r\n\r\n%s",
		  status, status == 200 ? "OK" : "Not OK", strlen(answer),
		  answer);
	return status;
}

/* Listen (again) on rx->port. 0 or -1. */
static inline int rx_listen(receiver *rx)
{
	char ports[32];
	const char *opts[] = {"listening_ports", ports, "num_threads", "8",
			      "enable_keep_alive", "yes",
			      "request_timeout_ms", "30000", NULL};
	snprintf(ports, sizeof(ports), "127.0.0.1:%d", rx->port);
	for (int tries = 0; tries < 50 && !rx->ctx; tries++) {
		rx->ctx = mg_start(NULL, NULL, opts);
		if (!rx->ctx) {
			struct timespec ts = {0, 100000000L};
			nanosleep(&ts, NULL);
		}
	}
	if (!rx->ctx)
		return -1;
	mg_set_request_handler(rx->ctx, "/report", rx_handler, rx);
	return 0;
}

/* Stop listening: new connections are refused. */
static inline void rx_close(receiver *rx)
{
	if (rx->ctx)
		mg_stop(rx->ctx);
	rx->ctx = NULL;
}

static inline void rx_init(receiver *rx, int port, int keep)
{
	memset(rx, 0, sizeof(*rx));
	pthread_mutex_init(&rx->mu, NULL);
	rx->port = port;
	rx->keep = keep;
	rx->hang_ms = 3000;
}

static inline void rx_set_mode(receiver *rx, int mode)
{
	pthread_mutex_lock(&rx->mu);
	rx->mode = mode;
	pthread_mutex_unlock(&rx->mu);
}

static inline size_t rx_ok(receiver *rx)
{
	size_t n;
	pthread_mutex_lock(&rx->mu);
	n = rx->ok;
	pthread_mutex_unlock(&rx->mu);
	return n;
}

static inline void rx_reset(receiver *rx)
{
	pthread_mutex_lock(&rx->mu);
	for (size_t i = 0; i < rx->n; i++) {
		free(rx->reqs[i].headers);
		free(rx->reqs[i].body);
	}
	rx->n = rx->ok = 0;
	pthread_mutex_unlock(&rx->mu);
}

static inline void rx_free(receiver *rx)
{
	rx_close(rx);
	rx_reset(rx);
	free(rx->reqs);
	pthread_mutex_destroy(&rx->mu);
}

/* URL of the receiver. */
static inline void rx_url(const receiver *rx, char *out, size_t len)
{
	snprintf(out, len, "http://127.0.0.1:%d/report", rx->port);
}

#endif
