/* Baseline for the service benchmark: a bare civetweb server with the
 * service's settings (worker threads, keep-alive) answering every request
 * with the same bytes as GET /api/v1/version, so the difference is what the
 * service adds (routing, envelope, metrics, logging).
 *   bench_api_civetweb THREADS   prints the port, serves until SIGTERM */
#include <civetweb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char body[] =
	"{\"meta\":{\"code\":0,\"msg\":\"\",\"msg_en\":\"\",\"log\":\"\","
	"\"cause\":null,\"request_id\":\"912974047502630912\",\"request_uri\":"
	"\"/api/v1/version\"},\"response\":\"v1.10.100\"}";

/* The whole answer in one write, as the service sends it. */
static int handler(struct mg_connection *conn)
{
	char out[1024];
	int n = snprintf(out, sizeof(out),
			 "HTTP/1.1 200 OK\r\n"
			 "Access-Control-Allow-Headers: access-token, "
			 "x-requested-with, content-type, authorization\r\n"
			 "Access-Control-Allow-Origin: *\r\n"
			 "Content-Type: application/json; charset=utf-8\r\n"
			 "Connection: keep-alive\r\n"
			 "Content-Length: %zu\r\n\r\n%s",
			 sizeof(body) - 1, body);
	mg_write(conn, out, (size_t)n);
	return 200;
}

int main(int argc, char **argv)
{
	const char *threads = argc > 1 ? argv[1] : "16";
	const char *opts[] = {"listening_ports", "127.0.0.1:0",  "num_threads",
			      threads,           "enable_keep_alive", "yes",
			      "keep_alive_timeout_ms", "30000", "tcp_nodelay",
			      "1", NULL};
	struct mg_callbacks cb;
	struct mg_server_port port;
	struct mg_context *ctx;
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	memset(&cb, 0, sizeof(cb));
	cb.begin_request = handler;
	ctx = mg_start(&cb, NULL, opts);
	if (!ctx || mg_get_server_ports(ctx, 1, &port) != 1) {
		fprintf(stderr, "bench_api_civetweb: cannot listen\n");
		return 1;
	}
	printf("%d\n", port.port);
	fflush(stdout);
	sigwait(&set, &sig);
	mg_stop(ctx);
	return 0;
}
