/* report_receiver: a small `report_addr` receiver.
 *
 * Agents POST every result (and, for failed runs, a warning first) to the
 * URL in their `report_addr`, with header `Report-Type: report_task_result`
 * or `report_warning` and a JSON body (README.md, "Report protocol"). They
 * retry anything but a 2xx answer, keeping results in their spool, so a
 * receiver answers 200 only once it has the result.
 *
 * This one prints one line per report on stdout, answers 200, and shows how
 * to decode the bodies with gc_result_from_json() / gc_warning_from_json():
 *
 *   report_receiver [--listen ADDR:PORT] [--token TOKEN] [--raw]
 *
 *   --listen 127.0.0.1:8080   where to listen (default); any path is taken
 *   --token TOKEN             require "Authorization: Bearer TOKEN" (the
 *                             agents' report_token), else answer 401
 *   --raw                     print the Report-Type and the body as received
 *
 * and in the agent's configuration:
 *   report_addr = "http://127.0.0.1:8080/report"
 *
 * Output (one line per report):
 *   result project=1 task=1131639918401680620 name="heartbeat" \
 *     plan=2026-11-24T08:38:40Z agent=127.0.0.1 duration_ms=100 ok \
 *     output="hello\n"
 *   warning project=1 task="fails" agent=127.0.0.1 type=task "exit status 3"
 *
 * Build against an installed library (civetweb is the HTTP server):
 *   cc report_receiver.c $(pkg-config --cflags --libs libgophercron) \
 *      -lcivetweb -o report_receiver
 */
#include <gophercron.h>

#include <civetweb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Agents send one run per request; results carry at most the agent's
 * output_limit (1 MiB by default) plus JSON escaping. */
#define MAX_BODY (16u << 20)

typedef struct receiver {
	const char *token; /* NULL = no authentication */
	int raw;
	pthread_mutex_t out; /* one report per line, whole */
} receiver;

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

static int reply(struct mg_connection *conn, int status, const char *text,
		 const char *body)
{
	mg_printf(conn,
		  "HTTP/1.1 %d %s\r\n"
		  "Content-Type: application/json\r\n"
		  "Content-Length: %zu\r\n"
		  "Connection: close\r\n\r\n%s",
		  status, text, strlen(body), body);
	return status;
}

/* Read the whole body, bounded. NULL when it is too large or the peer
 * went away; *len gets its length. */
static char *read_body(struct mg_connection *conn, size_t *len, int *too_big)
{
	const struct mg_request_info *ri = mg_get_request_info(conn);
	size_t cap = 65536, n = 0;
	char *buf;

	*too_big = ri->content_length > (long long)MAX_BODY;
	if (*too_big)
		return NULL;
	if ((buf = malloc(cap + 1)) == NULL)
		return NULL;
	for (;;) {
		if (n == cap) {
			char *bigger;
			if (cap >= MAX_BODY) {
				*too_big = 1;
				free(buf);
				return NULL;
			}
			cap *= 2;
			if ((bigger = realloc(buf, cap + 1)) == NULL) {
				free(buf);
				return NULL;
			}
			buf = bigger;
		}
		int r = mg_read(conn, buf + n, cap - n);
		if (r < 0) {
			free(buf);
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

static void rfc3339(int64_t ns, char out[32])
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Print at most `max` bytes of output, escaped, on one line. */
static void print_escaped(const char *s, size_t len, size_t max)
{
	size_t i;
	putchar('"');
	for (i = 0; i < len && i < max; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\n')
			fputs("\\n", stdout);
		else if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
	putchar('"');
	if (len > max)
		printf("...(%zu bytes)", len);
}

static int print_result(const char *body, size_t len, gc_error *err)
{
	gc_result r = GC_RESULT_INIT;
	char plan[32];
	if (gc_result_from_json(&r, body, len, err) != 0)
		return -1;
	rfc3339(r.plan_time_ns, plan);
	printf("result project=%lld task=%s name=\"%s\" plan=%s agent=%s "
	       "duration_ms=%lld %s%s%s output=",
	       (long long)r.task.project_id, r.task.task_id,
	       r.task.name ? r.task.name : "", plan,
	       r.task.client_ip && *r.task.client_ip ? r.task.client_ip : "-",
	       (long long)((r.end_time_ns - r.start_time_ns) / 1000000),
	       *r.error ? "error=\"" : "ok", r.error,
	       *r.error ? "\"" : "");
	print_escaped(r.output, r.output_len, 200);
	putchar('\n');
	gc_result_clear(&r);
	return 0;
}

static int print_warning(const char *body, size_t len, gc_error *err)
{
	gc_warning w = GC_WARNING_INIT;
	if (gc_warning_from_json(&w, body, len, err) != 0)
		return -1;
	printf("warning project=%lld task=\"%s\" agent=%s type=%s ",
	       (long long)w.project_id, w.task_name ? w.task_name : "",
	       w.agent_ip ? w.agent_ip : "-", w.type ? w.type : "-");
	print_escaped(w.data ? w.data : "", w.data ? strlen(w.data) : 0, 500);
	putchar('\n');
	gc_warning_clear(&w);
	return 0;
}

/* Compare without an early exit, so timing does not tell how much of a
 * guessed token was right. */
static int token_ok(const char *auth, const char *token)
{
	size_t n = strlen(token), i;
	unsigned char diff = 0;
	if (!auth || strncmp(auth, "Bearer ", 7) != 0 ||
	    strlen(auth + 7) != n)
		return 0;
	for (i = 0; i < n; i++)
		diff |= (unsigned char)(auth[7 + i] ^ token[i]);
	return diff == 0;
}

static int on_request(struct mg_connection *conn, void *cbdata)
{
	receiver *rx = cbdata;
	const struct mg_request_info *ri = mg_get_request_info(conn);
	const char *type = mg_get_header(conn, "Report-Type");
	gc_error err = {0, ""};
	size_t len = 0;
	int too_big = 0, rc;
	char *body;

	if (strcmp(ri->request_method, "POST") != 0)
		return reply(conn, 405, "Method Not Allowed",
			     "{\"error\":\"POST reports here\"}");
	if (rx->token &&
	    !token_ok(mg_get_header(conn, "Authorization"), rx->token))
		return reply(conn, 401, "Unauthorized",
			     "{\"error\":\"wrong or missing token\"}");
	if (!type || (strcmp(type, "report_task_result") != 0 &&
		      strcmp(type, "report_warning") != 0))
		return reply(conn, 400, "Bad Request",
			     "{\"error\":\"Report-Type must be "
			     "report_task_result or report_warning\"}");
	if ((body = read_body(conn, &len, &too_big)) == NULL)
		return too_big ? reply(conn, 413, "Payload Too Large",
				       "{\"error\":\"body too large\"}")
			       : reply(conn, 500, "Internal Server Error",
				       "{\"error\":\"reading the body\"}");

	pthread_mutex_lock(&rx->out);
	if (rx->raw) {
		printf("%s %.*s\n", type, (int)len, body);
		rc = 0;
	} else if (strcmp(type, "report_task_result") == 0) {
		rc = print_result(body, len, &err);
	} else {
		rc = print_warning(body, len, &err);
	}
	fflush(stdout);
	pthread_mutex_unlock(&rx->out);
	free(body);
	if (rc != 0) {
		/* A body we cannot read will not get better on a retry, but
		 * the agent keeps it in its dead-letter file on a 4xx. */
		fprintf(stderr, "report_receiver: bad %s body: %s\n", type,
			err.msg);
		return reply(conn, 400, "Bad Request",
			     "{\"error\":\"cannot decode the body\"}");
	}
	return reply(conn, 200, "OK", "{}");
}

int main(int argc, char **argv)
{
	const char *listen = "127.0.0.1:8080";
	receiver rx = {NULL, 0, PTHREAD_MUTEX_INITIALIZER};

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--listen") == 0 && i + 1 < argc) {
			listen = argv[++i];
		} else if (strcmp(a, "--token") == 0 && i + 1 < argc) {
			rx.token = argv[++i];
		} else if (strcmp(a, "--raw") == 0) {
			rx.raw = 1;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			printf("usage: report_receiver [--listen ADDR:PORT] "
			       "[--token TOKEN] [--raw]\n");
			return 0;
		} else {
			fprintf(stderr, "usage: report_receiver [--listen "
					"ADDR:PORT] [--token TOKEN] [--raw]\n");
			return 2;
		}
	}

	/* Stop on SIGINT/SIGTERM; a client hanging up must not kill us. */
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	const char *options[] = {"listening_ports", listen,
				 "num_threads", "4",
				 "request_timeout_ms", "30000",
				 NULL};
	struct mg_callbacks callbacks;
	memset(&callbacks, 0, sizeof(callbacks));
	mg_init_library(0);
	struct mg_context *ctx = mg_start(&callbacks, NULL, options);
	if (!ctx) {
		fprintf(stderr, "report_receiver: cannot listen on %s\n",
			listen);
		mg_exit_library();
		return 1;
	}
	mg_set_request_handler(ctx, "/", on_request, &rx);
	fprintf(stderr, "report_receiver: listening on %s (%s)\n", listen,
		rx.token ? "token required" : "no token");

	while (!g_stop) {
		struct timespec ts = {0, 100 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	mg_stop(ctx);
	mg_exit_library();
	fprintf(stderr, "report_receiver: stopped\n");
	return 0;
}
