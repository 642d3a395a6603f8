/* civetweb glue: civetweb's callbacks (a request, a connection opened and
 * closed, a log line), the request's body in and the answer out, and
 * starting and stopping the server with its connection guard (conn.c).
 * The only file of the service that knows civetweb. */
#include "svc.h"

#include <civetweb.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CORS_HEADERS "access-token, x-requested-with, content-type, authorization"

/* ------------------------------------------------------------- requests */

static const char *mg_header_fn(void *hctx, const char *name)
{
	return mg_get_header((const struct mg_connection *)hctx, name);
}

static void new_request_id(gc_service *svc, char out[24])
{
	uint64_t seq = atomic_fetch_add(&svc->seq, 1);
	/* ms since 2020-01-01 | 10 instance bits | 12 sequence bits */
	uint64_t ms = (uint64_t)(gc__wall_ns() / 1000000) - 1577836800000ull;
	uint64_t id = (ms << 22) | ((svc->instance & 0x3FF) << 12) |
		      (seq & 0xFFF);
	snprintf(out, 24, "%" PRIu64, id);
}

/* Read and drop what is left of a body we refuse, so the client, still
 * sending, gets to read our 413 instead of a reset. Up to DRAIN_MAX bytes;
 * returns 1 when the body was consumed completely. */
#define DRAIN_MAX (64u << 20)
static int drain_body(struct mg_connection *conn)
{
	char buf[16384];
	size_t total = 0;
	int n;
	while ((n = mg_read(conn, buf, sizeof(buf))) > 0) {
		total += (size_t)n;
		if (total > DRAIN_MAX)
			return 0;
	}
	return n == 0;
}

/* Read the body, at most max_body bytes. Returns 0, or the status to
 * answer (413, 400, 500); *clean = 0 when the connection must be closed
 * because unread bytes remain. */
static int read_body(struct mg_connection *conn, size_t max_body,
		     gc__buf *body, int *clean)
{
	const struct mg_request_info *ri = mg_get_request_info(conn);
	const char *expect = mg_get_header(conn, "Expect");
	/* A client waiting for "100 Continue" has sent nothing yet: answer
	 * without inviting the body. */
	int may_drain = !expect || strncasecmp(expect, "100-continue", 12) != 0;
	char chunk[8192];
	int n;
	*clean = 1;
	if (ri->content_length > 0 && (uint64_t)ri->content_length > max_body) {
		*clean = may_drain && (uint64_t)ri->content_length <= DRAIN_MAX &&
			 drain_body(conn);
		return 413;
	}
	if (ri->content_length == 0)
		return 0;
	for (;;) {
		n = mg_read(conn, chunk, sizeof(chunk));
		if (n <= 0)
			break;
		if (body->len + (size_t)n > max_body) {
			*clean = may_drain && drain_body(conn);
			return 413;
		}
		if (gc__buf_append(body, chunk, (size_t)n)) {
			*clean = 0;
			return 500;
		}
	}
	if (n < 0 ||
	    (ri->content_length > 0 && body->len != (size_t)ri->content_length)) {
		*clean = 0;
		return 400;
	}
	return 0;
}

static const char *status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

/* Would civetweb keep this connection open after our answer? (Its rule:
 * not after a 401, an HTTP/1.0 request needs "Connection: keep-alive", an
 * explicit Connection header must ask for keep-alive.) */
static int keep_alive(const struct mg_connection *conn, int status)
{
	const struct mg_request_info *ri = mg_get_request_info(conn);
	const char *h = mg_get_header(conn, "Connection");
	if (status == 401)
		return 0;
	if (h)
		return strcasestr(h, "keep-alive") != NULL;
	return ri->http_version && strcmp(ri->http_version, "1.1") == 0;
}

/* Status line, headers and body in one write: fewer packets, and no
 * second small write waiting on the peer's delayed ACK. */
static void send_response(struct mg_connection *conn, gc__ctx *c,
			  int head_only, int clean)
{
	gc__buf out = GC__BUF_INIT;
	char date[64];
	struct tm tm;
	time_t now = time(NULL);
	int keep = clean && keep_alive(conn, c->status);
	int rc;
	if (!keep)
		mg_disable_keep_alive(conn);
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	rc = gc__buf_reserve(&out, 512 + c->resp.len);
	rc |= gc__buf_printf(
		&out,
		"HTTP/1.1 %d %s\r\n"
		"Access-Control-Allow-Headers: " CORS_HEADERS "\r\n"
		"Access-Control-Allow-Origin: *\r\n"
		"Content-Type: %s\r\n"
		"Date: %s\r\n"
		"X-Request-Id: %s\r\n"
		"Connection: %s\r\n"
		"Content-Length: %zu\r\n"
		"%s\r\n",
		c->status, status_text(c->status),
		c->resp_type ? c->resp_type : "text/plain; charset=utf-8", date,
		c->request_id, keep ? "keep-alive" : "close", c->resp.len,
		c->resp_headers);
	if (!head_only && c->resp.len)
		rc |= gc__buf_append(&out, c->resp.data, c->resp.len);
	if (rc == 0)
		mg_write(conn, out.data, out.len);
	else
		mg_disable_keep_alive(conn);
	gc__buf_free(&out);
}

static int begin_request(struct mg_connection *conn)
{
	const struct mg_request_info *ri = mg_get_request_info(conn);
	gc_service *svc = ri->user_data;
	gc__conn *tracked = mg_get_user_connection_data(conn);
	gc__ctx c;
	gc__buf body = GC__BUF_INIT;
	int64_t t0 = gc__mono_ns();
	int status, head_only, clean;
	size_t limit;
	const char *path = ri->local_uri ? ri->local_uri : "/";

	gc__guard_busy(tracked, ri->remote_addr, ri->remote_port,
		       ri->server_port);
	memset(&c, 0, sizeof(c));
	c.svc = svc;
	c.method = ri->request_method ? ri->request_method : "GET";
	head_only = strcmp(c.method, "HEAD") == 0;
	if (head_only)
		c.method = "GET";
	c.path = path;
	c.query = ri->query_string;
	c.remote = ri->remote_addr;
	c.content_type = mg_get_header(conn, "Content-Type");
	c.header = mg_header_fn;
	c.hctx = conn;
	new_request_id(svc, c.request_id);
	c.uri = c.query ? gc__sprintf("%s?%s", path, c.query)
			: gc__strdup(path);

	limit = strcmp(path, "/api/v1/report") == 0 ? svc->opts.max_report_body
						     : svc->opts.max_body;
	status = read_body(conn, limit, &body, &clean);
	if (status == 413) {
		gc__reply_err(&c, GC__C_TOO_BIG,
			      "request body too large (at most %zu bytes)",
			      limit);
	} else if (status) {
		gc__reply_err(&c, status == 500 ? GC__C_INTERNAL
						: GC__C_BAD_REQUEST,
			      "could not read the request body");
	} else {
		c.body = body.data ? body.data : "";
		c.body_len = body.len;
		gc__dispatch(&c);
	}
	send_response(conn, &c, head_only, clean);
	status = c.status;
	gc__metrics_request(svc->metrics, c.route, status,
			    (double)(gc__mono_ns() - t0) / 1e9);
	gc__svc_log(svc, GC_LOG_DEBUG,
		"%s %s %d %.1fms %s", ri->request_method, path, status,
		(double)(gc__mono_ns() - t0) / 1e6, c.request_id);
	gc__ctx_cleanup(&c);
	gc__buf_free(&body);
	gc__guard_idle(tracked);
	return status > 0 && status < 1000 ? status : 500;
}

/* A worker took a new connection (before reading anything from it; civetweb
 * tells nothing about it yet: mg_get_request_info() is NULL here). */
static int init_connection(const struct mg_connection *conn, void **data)
{
	gc_service *svc = mg_get_user_data(mg_get_context(conn));
	*data = gc__guard_open(svc->guard);
	return 0;
}

static void connection_close(const struct mg_connection *conn)
{
	gc_service *svc = mg_get_user_data(mg_get_context(conn));
	gc__guard_close(svc->guard, mg_get_user_connection_data(conn));
}

static int log_message(const struct mg_connection *conn, const char *message)
{
	const struct mg_context *ctx = mg_get_context(conn);
	gc_service *svc = ctx ? mg_get_user_data(ctx) : NULL;
	if (svc)
		gc__svc_log(svc, GC_LOG_WARNING,
			"http: %s", message);
	return 1;
}

/* ------------------------------------------------------ start and stop */

/* civetweb's listening_ports: "ip:port" / "[v6]:port" / "port" for each
 * [deploy] host, comma-separated. */
static int listen_option(const gc_service *svc, gc__buf *out, gc_error *err)
{
	for (size_t i = 0; i < svc->n_hosts; i++) {
		const char *h = svc->hosts[i];
		if (h[0] == '[' && !mg_check_feature(8))
			return gc__seterr(err, GC_EINVAL,
					  "service: [deploy] host \"%s\": this "
					  "civetweb build has no IPv6 support",
					  h);
		if ((i && gc__buf_puts(out, ",")) ||
		    gc__buf_puts(out, h[0] == ':' ? h + 1 : h))
			return gc__seterr(err, GC_ENOMEM,
					  "service: out of memory");
	}
	return 0;
}

/* civetweb's configuration, with room for the numbers as text. */
struct http_options {
	const char *v[32];
	char threads[16], keep_alive_ms[24], request_ms[24];
};

static void civetweb_options(const gc_service *svc, const char *listen,
		       struct http_options *o)
{
	size_t k = 0;
	snprintf(o->threads, sizeof(o->threads), "%d", svc->opts.num_threads);
	snprintf(o->keep_alive_ms, sizeof(o->keep_alive_ms), "%" PRId64,
		 svc->keep_alive_timeout_ms);
	snprintf(o->request_ms, sizeof(o->request_ms), "%" PRId64,
		 svc->request_timeout_ms);
	o->v[k++] = "listening_ports";
	o->v[k++] = listen;
	o->v[k++] = "num_threads";
	o->v[k++] = o->threads;
	o->v[k++] = "enable_keep_alive";
	o->v[k++] = "yes";
	/* Headers and body go out in two writes: without TCP_NODELAY the
	 * second waits for the peer's delayed ACK (~40 ms per request). */
	o->v[k++] = "tcp_nodelay";
	o->v[k++] = "1";
	/* The wait for the next request on a kept-alive connection. */
	o->v[k++] = "keep_alive_timeout_ms";
	o->v[k++] = o->keep_alive_ms;
	/* civetweb's limit on the first request's header, and on every stall
	 * of a body read or a response write: the guard closes a connection
	 * without a complete header sooner ([http] header_timeout). */
	o->v[k++] = "request_timeout_ms";
	o->v[k++] = o->request_ms;
	o->v[k++] = "max_request_size";
	o->v[k++] = "65536";
	/* Room for connections TCP_DEFER_ACCEPT holds back (the kernel caps it
	 * at net.core.somaxconn). */
	o->v[k++] = "listen_backlog";
	o->v[k++] = "4096";
	o->v[k++] = NULL;
}

/* Why [deploy] host `h` ("ip:port", ":port", "[ip6]:port") cannot be
 * listened on, found by binding it ourselves (civetweb only says "Failed
 * to setup server ports"); "" when it can. */
static void bind_cause(const char *h, char *out, size_t cap)
{
	char host[256] = "";
	const char *port = strrchr(h, ':');
	struct addrinfo hints, *ai = NULL;
	int fd, one = 1;
	out[0] = '\0';
	if (!port || port - h >= (ptrdiff_t)sizeof(host))
		return;
	if (h[0] == '[' && port > h + 1 && port[-1] == ']')
		snprintf(host, sizeof(host), "%.*s", (int)(port - h - 2), h + 1);
	else
		snprintf(host, sizeof(host), "%.*s", (int)(port - h), h);
	port++;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if (getaddrinfo(host[0] ? host : NULL, port, &hints, &ai) != 0 || !ai)
		return;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
			int e = errno;
			if (e == EADDRINUSE)
				snprintf(out, cap,
					 "port %s is already in use (another "
					 "process listens on it: `ss -ltnp "
					 "'sport = :%s'` shows which)",
					 port, port);
			else if (e == EACCES)
				snprintf(out, cap,
					 "port %s needs privileges (%s)", port,
					 strerror(e));
			else if (e == EADDRNOTAVAIL)
				snprintf(out, cap,
					 "address %s is not one of this "
					 "host's (%s)",
					 host, strerror(e));
			else
				snprintf(out, cap, "%s", strerror(e));
		}
		close(fd);
	}
	freeaddrinfo(ai);
}

int gc__http_start(gc_service *svc, gc_error *err)
{
	struct mg_callbacks cb;
	struct mg_init_data init;
	struct mg_error_data edata;
	struct mg_server_port ports[GC__MAX_LISTENERS];
	struct http_options o;
	char ebuf[256] = "";
	unsigned ecode = 0;
	gc__buf listen = GC__BUF_INIT;
	int n, rc;

	rc = listen_option(svc, &listen, err);
	if (rc)
		goto out;
	civetweb_options(svc, listen.data, &o);
	rc = gc__guard_new(&svc->guard, svc, svc->opts.num_threads,
			   svc->max_idle_per_address, svc->header_timeout_ms);
	if (rc) {
		rc = gc__seterr(err, rc, "service: out of memory");
		goto out;
	}
	memset(&cb, 0, sizeof(cb));
	cb.begin_request = begin_request;
	cb.log_message = log_message;
	cb.init_connection = init_connection;
	cb.connection_close = connection_close;
	init.callbacks = &cb;
	init.user_data = svc;
	init.configuration_options = o.v;
	edata.code = &ecode;
	edata.text = ebuf;
	edata.text_buffer_size = sizeof(ebuf);
	svc->mg = mg_start2(&init, &edata);
	if (!svc->mg) {
		char why[300] = "";
		const char *where = listen.data;
		for (size_t i = 0; i < svc->n_hosts && !why[0]; i++) {
			bind_cause(svc->hosts[i], why, sizeof(why));
			where = why[0] ? svc->hosts[i] : where;
		}
		if (!why[0])
			snprintf(why, sizeof(why), "%s",
				 ebuf[0] ? ebuf : "unknown error");
		rc = gc__seterr(err, GC_ESYS,
				"service: cannot listen on %s: %s", where, why);
		gc__guard_free(svc->guard);
		svc->guard = NULL;
		goto out;
	}
	n = mg_get_server_ports(svc->mg, GC__MAX_LISTENERS, ports);
	svc->n_ports = n > 0 ? (size_t)n : 0;
	for (size_t i = 0; i < svc->n_ports; i++)
		svc->ports[i] = ports[i].port;
	if (gc__guard_start(svc->guard, svc->hosts, svc->n_hosts, svc->ports,
			    svc->n_ports) != 0) {
		rc = gc__seterr_errno(err, GC_ESYS, errno,
				      "service: cannot start the connection "
				      "guard thread");
		gc__http_stop(svc);
	}
out:
	gc__buf_free(&listen);
	return rc;
}

void gc__http_stop(gc_service *svc)
{
	/* the sweeper first: mg_stop closes the connections still queued
	 * without telling the guard */
	gc__guard_stop(svc->guard);
	mg_stop(svc->mg);
	svc->mg = NULL;
	svc->n_ports = 0;
	gc__guard_free(svc->guard);
	svc->guard = NULL;
}
