/* etcd client: connections, failover, authentication, KV, txn, claim and
 * lease calls over the gRPC-JSON gateway. */
#include "etcd_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* "host:port" -> "http(s)://host:port"; trailing '/' dropped. */
static char *normalise_endpoint(const char *ep, int tls)
{
	size_t n;
	char *out;
	while (*ep == ' ' || *ep == '\t')
		ep++;
	n = strlen(ep);
	while (n > 0 && (ep[n - 1] == '/' || ep[n - 1] == ' ' ||
			 ep[n - 1] == '\t'))
		n--;
	if (n == 0)
		return NULL;
	if (strstr(ep, "://"))
		return gc__strndup(ep, n);
	out = gc__sprintf("%s://%.*s", tls ? "https" : "http", (int)n, ep);
	return out;
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts;
	if (ms <= 0)
		return;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Normalised copies of the configured endpoints (default 127.0.0.1:2379). */
static int copy_endpoints(gc_etcd *c, const gc_etcd_options *o, gc_error *err)
{
	static const char *const default_ep[] = {"127.0.0.1:2379", NULL};
	const char *const *eps = o && o->endpoints ? o->endpoints : default_ep;
	size_t n = 0, i;
	if (o && o->endpoints && o->endpoints_count)
		n = o->endpoints_count;
	else
		while (eps[n])
			n++;
	if (n == 0)
		return gc__seterr(err, GC_EINVAL, "etcd: no endpoints given");
	c->endpoints = calloc(n, sizeof(char *));
	if (!c->endpoints)
		return gc__seterr(err, GC_ENOMEM, "etcd: out of memory");
	c->endpoints_count = n;
	for (i = 0; i < n; i++) {
		if (!eps[i] || !(c->endpoints[i] = normalise_endpoint(
				     eps[i], o && o->tls_ca_file)))
			return gc__seterr(err, GC_EINVAL,
					  "etcd: endpoint #%zu is empty",
					  i + 1);
		if (strncmp(c->endpoints[i], "http://", 7) != 0 &&
		    strncmp(c->endpoints[i], "https://", 8) != 0)
			return gc__seterr(err, GC_EINVAL,
					  "etcd: endpoint \"%s\" is neither "
					  "http:// nor https://",
					  c->endpoints[i]);
	}
	return 0;
}

/* Timeouts, limits and the log callback, defaults for zeroes. */
static void copy_settings(gc_etcd *c, const gc_etcd_options *o)
{
	c->connect_timeout_ms = o && o->connect_timeout_ms > 0
					? o->connect_timeout_ms
					: GC__ETCD_DEFAULT_CONNECT_MS;
	c->request_timeout_ms = o && o->request_timeout_ms > 0
					? o->request_timeout_ms
					: GC__ETCD_DEFAULT_REQUEST_MS;
	c->retry_timeout_ms = o && o->retry_timeout_ms > 0
				      ? o->retry_timeout_ms
				      : 2 * c->request_timeout_ms + 1000;
	c->max_response = o && o->max_response_bytes
				  ? o->max_response_bytes
				  : GC__ETCD_DEFAULT_MAX_RESPONSE;
	c->watch_progress_ms = o && o->watch_progress_interval_ms > 0
				       ? o->watch_progress_interval_ms
				       : 0;
	if (o) {
		c->log = o->log;
		c->log_payload = o->log_payload;
	}
}

/* Copies of the credentials and TLS file names. */
static int copy_credentials(gc_etcd *c, const gc_etcd_options *o, gc_error *err)
{
	if (!o)
		return 0;
	if ((o->username && !(c->username = gc__strdup(o->username))) ||
	    (o->username &&
	     !(c->password = gc__strdup(o->password ? o->password : ""))) ||
	    (o->tls_ca_file &&
	     !(c->tls_ca_file = gc__strdup(o->tls_ca_file))) ||
	    (o->tls_cert_file &&
	     !(c->tls_cert_file = gc__strdup(o->tls_cert_file))) ||
	    (o->tls_key_file &&
	     !(c->tls_key_file = gc__strdup(o->tls_key_file))))
		return gc__seterr(err, GC_ENOMEM, "etcd: out of memory");
	return 0;
}

/* Free what the copies above allocated, then the client. */
static void client_free(gc_etcd *c)
{
	gc__strv_free(c->endpoints, c->endpoints_count);
	free(c->username);
	gc__secret_free(c->password);
	gc__secret_free(c->token);
	free(c->tls_ca_file);
	free(c->tls_cert_file);
	free(c->tls_key_file);
	free(c);
}

GC_EXTERN int gc_etcd_new(gc_etcd **out, const gc_etcd_options *o,
			  gc_error *err)
{
	gc_etcd_options copy;
	gc_etcd *c;
	int rc;

	if (!out)
		return gc__seterr(err, GC_EINVAL, "etcd: out is NULL");
	*out = NULL;
	if ((rc = gc__options_copy(&copy, o, &gc__etcd_optver, err)))
		return rc;
	o = &copy;
	c = calloc(1, sizeof(*c));
	if (!c)
		return gc__seterr(err, GC_ENOMEM, "etcd: out of memory");
	if ((rc = copy_endpoints(c, o, err)))
		goto fail;
	copy_settings(c, o);
	if ((rc = copy_credentials(c, o, err)))
		goto fail;
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->call_lock, NULL);
	rc = gc__etcd_conn_init(c, &c->conn, err);
	if (rc) {
		pthread_mutex_destroy(&c->lock);
		pthread_mutex_destroy(&c->call_lock);
		goto fail;
	}
	*out = c;
	return 0;
fail:
	client_free(c);
	return rc;
}

GC_EXTERN void gc_etcd_free(gc_etcd *c)
{
	if (!c)
		return;
	gc__etcd_conn_dispose(&c->conn);
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->call_lock);
	client_free(c);
}

size_t gc__etcd_current(gc_etcd *c)
{
	size_t cur;
	pthread_mutex_lock(&c->lock);
	cur = c->cur;
	pthread_mutex_unlock(&c->lock);
	return cur;
}

GC_EXTERN const char *gc_etcd_endpoint(gc_etcd *c)
{
	return c ? c->endpoints[gc__etcd_current(c)] : NULL;
}

/* ------------------------------------------------------- connections */

/* Descriptors open right now (sorted ascending, -1 on failure). */
static int list_fds(int **out, size_t *n)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int *v = NULL, *t;
	size_t cap = 0;
	*out = NULL;
	*n = 0;
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		int64_t fd;
		if (gc__parse_int64(e->d_name, &fd) || fd == dirfd(d))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			t = realloc(v, cap * sizeof(*v));
			if (!t) {
				free(v);
				closedir(d);
				*n = 0;
				return -1;
			}
			v = t;
		}
		v[(*n)++] = (int)fd;
	}
	closedir(d);
	*out = v;
	return 0;
}

static int has_fd(const int *v, size_t n, int fd)
{
	size_t i;
	for (i = 0; i < n; i++)
		if (v[i] == fd)
			return 1;
	return 0;
}

CURLM *gc__etcd_multi_init(void)
{
	int *before = NULL, *after = NULL;
	size_t nb = 0, na = 0, i;
	int have_before = list_fds(&before, &nb) == 0;
	CURLM *m = curl_multi_init();
	if (m && have_before && list_fds(&after, &na) == 0) {
		for (i = 0; i < na; i++) {
			int fd = after[i], fl, dom = 0;
			socklen_t dl = sizeof(dom);
			if (has_fd(before, nb, fd))
				continue;
			fl = fcntl(fd, F_GETFD);
			/* only the new, inheritable AF_UNIX sockets: curl's
			 * wakeup pair */
			if (fl < 0 || (fl & FD_CLOEXEC) ||
			    getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &dl) ||
			    dom != AF_UNIX)
				continue;
			fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
		}
	}
	free(before);
	free(after);
	return m;
}

static curl_socket_t open_cloexec(void *clientp, curlsocktype purpose,
				  struct curl_sockaddr *a)
{
	(void)clientp;
	(void)purpose;
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

void gc__etcd_easy_setup(gc_etcd *c, CURL *e)
{
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_cloexec);
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 10L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 5L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)c->connect_timeout_ms);
	/* The gateway shares its port with gRPC: HTTP/2 would reach gRPC. */
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_POST, 1L);
	if (c->tls_ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, c->tls_ca_file);
	if (c->tls_cert_file)
		curl_easy_setopt(e, CURLOPT_SSLCERT, c->tls_cert_file);
	if (c->tls_key_file)
		curl_easy_setopt(e, CURLOPT_SSLKEY, c->tls_key_file);
}

struct curl_slist *gc__etcd_headers(const char *token)
{
	struct curl_slist *h = NULL, *t;
	static const char *const fixed[] = {
		"Content-Type: application/json",
		"Grpc-Metadata-Hasleader: true",
		"Expect:",
	};
	size_t i;
	for (i = 0; i < GC__ARRAY_LEN(fixed); i++) {
		t = curl_slist_append(h, fixed[i]);
		if (!t)
			goto fail;
		h = t;
	}
	if (token) {
		char *line = gc__sprintf("Authorization: %s", token);
		if (!line)
			goto fail;
		t = curl_slist_append(h, line);
		gc__secret_free(line);
		if (!t)
			goto fail;
		h = t;
	}
	return h;
fail:
	curl_slist_free_all(h);
	return NULL;
}

static size_t conn_write(char *p, size_t size, size_t nmemb, void *ud)
{
	gc__etcd_conn *conn = ud;
	size_t n = size * nmemb;
	if (conn->body.len + n > conn->max) {
		conn->too_big = 1;
		return 0; /* aborts the transfer */
	}
	if (gc__buf_append(&conn->body, p, n))
		return 0;
	return n;
}

int gc__etcd_conn_init(gc_etcd *c, gc__etcd_conn *conn, gc_error *err)
{
	memset(conn, 0, sizeof(*conn));
	conn->multi = gc__etcd_multi_init();
	conn->easy = curl_easy_init();
	if (!conn->easy || !conn->multi) {
		gc__etcd_conn_dispose(conn);
		return gc__seterr(err, GC_ENOMEM, "etcd: curl init failed");
	}
	conn->max = c->max_response;
	gc__etcd_easy_setup(c, conn->easy);
	curl_easy_setopt(conn->easy, CURLOPT_WRITEFUNCTION, conn_write);
	curl_easy_setopt(conn->easy, CURLOPT_WRITEDATA, conn);
	curl_easy_setopt(conn->easy, CURLOPT_ERRORBUFFER, conn->errbuf);
	return 0;
}

void gc__etcd_conn_dispose(gc__etcd_conn *conn)
{
	if (!conn)
		return;
	if (conn->easy)
		curl_easy_cleanup(conn->easy);
	if (conn->multi)
		curl_multi_cleanup(conn->multi);
	gc__buf_free(&conn->body);
	memset(conn, 0, sizeof(*conn));
}

CURLcode gc__etcd_conn_drive(gc__etcd_conn *conn, long *status)
{
	CURLcode rc = CURLE_OK;
	CURLMsg *msg;
	int running = 1, left;
	*status = 0;
	gc__buf_reset(&conn->body);
	conn->too_big = 0;
	conn->errbuf[0] = '\0';
	if (curl_multi_add_handle(conn->multi, conn->easy) != CURLM_OK)
		return CURLE_FAILED_INIT;
	while (running) {
		if (curl_multi_perform(conn->multi, &running) != CURLM_OK) {
			rc = CURLE_FAILED_INIT;
			break;
		}
		if (!running)
			break;
		if (conn->abort && atomic_load(conn->abort)) {
			rc = CURLE_ABORTED_BY_CALLBACK;
			break;
		}
		curl_multi_poll(conn->multi, NULL, 0, 1000, NULL);
	}
	while ((msg = curl_multi_info_read(conn->multi, &left)))
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == conn->easy &&
		    rc == CURLE_OK)
			rc = msg->data.result;
	curl_easy_getinfo(conn->easy, CURLINFO_RESPONSE_CODE, status);
	curl_multi_remove_handle(conn->multi, conn->easy);
	return rc;
}

static CURLcode conn_perform(gc__etcd_conn *conn, const char *url,
			     const char *body, const char *token,
			     long timeout_ms, long *status)
{
	struct curl_slist *h = gc__etcd_headers(token);
	CURLcode rc;
	*status = 0;
	if (!h)
		return CURLE_OUT_OF_MEMORY;
	curl_easy_setopt(conn->easy, CURLOPT_URL, url);
	curl_easy_setopt(conn->easy, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(conn->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(conn->easy, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(conn->easy, CURLOPT_TIMEOUT_MS, timeout_ms);
	rc = gc__etcd_conn_drive(conn, status);
	curl_easy_setopt(conn->easy, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(conn->easy, CURLOPT_POSTFIELDS, NULL);
	curl_slist_free_all(h);
	return rc;
}

/* ---------------------------------------------------- authentication */

int gc__etcd_reauth(gc_etcd *c, gc__etcd_conn *conn, uint64_t seen_gen,
		    gc_error *err)
{
	cJSON *req, *resp = NULL;
	const cJSON *tok;
	gc__etcd_post_opts po = {0, 1, 0};
	char *body, *token;
	int rc;

	pthread_mutex_lock(&c->lock);
	if (c->token && c->token_gen != seen_gen) {
		/* someone else already renewed it */
		pthread_mutex_unlock(&c->lock);
		return 0;
	}
	pthread_mutex_unlock(&c->lock);

	req = cJSON_CreateObject();
	if (!req || !cJSON_AddStringToObject(req, "name", c->username) ||
	    !cJSON_AddStringToObject(req, "password", c->password)) {
		cJSON_Delete(req);
		return gc__seterr(err, GC_ENOMEM, "etcd: out of memory");
	}
	body = cJSON_PrintUnformatted(req);
	cJSON_Delete(req);
	if (!body)
		return gc__seterr(err, GC_ENOMEM, "etcd: out of memory");
	rc = gc__etcd_post(c, conn, "/v3/auth/authenticate", body, &po, &resp,
			   NULL, err);
	gc__secret_free(body); /* it holds the password */
	if (rc) {
		if (rc == GC_EINVAL)
			rc = GC_EAUTH; /* wrong password is InvalidArgument */
		if (err)
			err->code = rc;
		gc__err_prefix(err, "etcd: authenticating as \"%s\"",
			       c->username);
		return rc;
	}
	tok = cJSON_GetObjectItemCaseSensitive(resp, "token");
	if (!cJSON_IsString(tok) || !tok->valuestring[0]) {
		cJSON_Delete(resp);
		return gc__seterr(err, GC_EPROTO,
				  "etcd: authenticate answer has no token");
	}
	token = gc__strdup(tok->valuestring);
	cJSON_Delete(resp);
	if (!token)
		return gc__seterr(err, GC_ENOMEM, "etcd: out of memory");
	pthread_mutex_lock(&c->lock);
	gc__secret_free(c->token);
	c->token = token;
	c->token_gen++;
	pthread_mutex_unlock(&c->lock);
	gc__log(c->log, c->log_payload, GC_LOG_INFO,
		"etcd: authenticated as \"%s\"", c->username);
	return 0;
}

int gc__etcd_token(gc_etcd *c, gc__etcd_conn *conn, char **token,
		   uint64_t *gen, gc_error *err)
{
	uint64_t g;
	int rc;
	*token = NULL;
	*gen = 0;
	if (!c->username)
		return 0;
	for (int i = 0; i < 2; i++) {
		pthread_mutex_lock(&c->lock);
		g = c->token_gen;
		if (c->token) {
			*token = gc__strdup(c->token);
			*gen = g;
			pthread_mutex_unlock(&c->lock);
			return *token ? 0
				      : gc__seterr(err, GC_ENOMEM,
						   "etcd: out of memory");
		}
		pthread_mutex_unlock(&c->lock);
		rc = gc__etcd_reauth(c, conn, g, err);
		if (rc)
			return rc;
	}
	return gc__seterr(err, GC_EAUTH, "etcd: could not obtain a token");
}

/* ------------------------------------------------------ unary calls */

int gc__etcd_curl_to_gc(CURLcode rc)
{
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return GC_ETIMEDOUT;
	case CURLE_OUT_OF_MEMORY:
		return GC_ENOMEM;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
		return GC_EUNAVAIL;
	default:
		return GC_EIO;
	}
}

/* A bad CA, certificate or key file is configuration, not an outage. */
static int tls_config_error(CURLcode crc)
{
	return crc == CURLE_PEER_FAILED_VERIFICATION ||
	       crc == CURLE_SSL_CERTPROBLEM ||
	       crc == CURLE_SSL_CACERT_BADFILE || crc == CURLE_SSL_CRL_BADFILE;
}

int gc__etcd_unreachable(CURLcode crc)
{
	return crc == CURLE_COULDNT_CONNECT || crc == CURLE_COULDNT_RESOLVE_HOST ||
	       crc == CURLE_OPERATION_TIMEDOUT;
}

int gc__etcd_failover_worthy(CURLcode crc)
{
	return crc != CURLE_OK && crc != CURLE_ABORTED_BY_CALLBACK &&
	       gc__etcd_curl_to_gc(crc) != GC_ENOMEM && !tls_config_error(crc);
}

void gc__etcd_advance(gc_etcd *c, size_t from)
{
	pthread_mutex_lock(&c->lock);
	if (c->cur == from)
		c->cur = (from + 1) % c->endpoints_count;
	pthread_mutex_unlock(&c->lock);
}

/* State of one gc__etcd_post call across its attempts. */
struct post_call {
	gc_etcd *c;
	gc__etcd_conn *conn;
	const char *path;
	const char *body;
	int no_auth;
	char *token; /* NULL when auth is off */
	uint64_t gen;
	int reauthed;	   /* the token was renewed once already */
	int maybe_applied; /* an earlier attempt may have been applied */
	size_t attempts;
	int64_t backoff;  /* ms, after each full round of endpoints */
	int64_t deadline; /* mono ms */
	int attempt_ms;	  /* each attempt's own timeout (0: see below) */
};

/* What to do after a failed attempt. */
enum post_next { POST_STOP, POST_FAILOVER, POST_REAUTH };

/* Timeout of the next attempt: the call's own when it has one, else the
 * request timeout, cut to what is left of the retry budget (but at least
 * 500 ms). */
static long attempt_timeout(const struct post_call *pc)
{
	if (pc->attempt_ms > 0)
		return pc->attempt_ms;
	int64_t left = pc->deadline - gc__mono_ms();
	long tmo = pc->c->request_timeout_ms;
	if (left < tmo)
		tmo = left > 500 ? (long)left : 500;
	return tmo;
}

/* A transfer that failed below HTTP (connect, TLS, timeout, reset). */
static enum post_next classify_curl_error(struct post_call *pc, const char *url,
					  CURLcode crc, int *rc, gc_error *err)
{
	gc__etcd_conn *conn = pc->conn;
	*rc = gc__etcd_curl_to_gc(crc);
	if (*rc == GC_ENOMEM) {
		gc__seterr(err, *rc, "etcd %s: out of memory", url);
		return POST_STOP;
	}
	if (gc__etcd_unreachable(crc))
		/* the operator's question is "is etcd there?": answer it */
		gc__seterr(err, *rc, "cannot reach etcd at %.*s: %s",
			   (int)(strlen(url) - strlen(pc->path)), url,
			   conn->errbuf[0] ? conn->errbuf
					   : curl_easy_strerror(crc));
	else
		gc__seterr(err, *rc, "etcd %s: %s%s%s", url,
			   curl_easy_strerror(crc), conn->errbuf[0] ? ": " : "",
			   conn->errbuf);
	/* TLS configuration errors are not an outage: say so at once */
	if (!gc__etcd_failover_worthy(crc))
		return POST_STOP;
	if (crc != CURLE_COULDNT_CONNECT && crc != CURLE_COULDNT_RESOLVE_HOST)
		pc->maybe_applied = 1;
	return POST_FAILOVER;
}

/* etcd's message of an error answer (its JSON error, else the first 200
 * bytes of a text body), without trailing newlines; malloc'd or NULL. */
static char *error_message(const gc__etcd_conn *conn, int *grpc)
{
	char *msg = NULL;
	size_t l;
	if (gc__etcd_decode_error(conn->body.data, conn->body.len, grpc,
				  &msg) != 0) {
		/* text/plain (404 page not found, 405) */
		free(msg);
		msg = gc__strndup(conn->body.data ? conn->body.data : "",
				  conn->body.len > 200 ? 200 : conn->body.len);
		*grpc = 0;
	}
	if (!msg)
		return NULL;
	l = strlen(msg);
	while (l > 0 && (msg[l - 1] == '\n' || msg[l - 1] == '\r'))
		msg[--l] = '\0';
	return msg;
}

/* An HTTP answer other than 200. */
static enum post_next classify_http_error(struct post_call *pc, const char *url,
					  long status, int *rc, gc_error *err)
{
	gc_etcd *c = pc->c;
	enum post_next next = POST_STOP;
	int grpc = 0;
	char *msg = error_message(pc->conn, &grpc);
	if (status == 503 ||
	    (status == 500 && msg && strstr(msg, "deadline exceeded"))) {
		next = POST_FAILOVER;
		*rc = GC_EUNAVAIL;
		if (!msg || !strstr(msg, "no leader"))
			pc->maybe_applied = 1;
	} else if (status == 401 && grpc == 16 && c->username && !pc->no_auth &&
		   !pc->reauthed) {
		free(msg);
		return POST_REAUTH;
	} else if (grpc) {
		*rc = gc__etcd_grpc_to_gc(grpc, msg);
	} else {
		*rc = status == 404 || status == 405 ? GC_EPROTO : GC_EIO;
	}
	if (*rc == GC_EPERM)
		gc__seterr(err, *rc,
			   "etcd %s: HTTP %ld: %s (user \"%s\" has no "
			   "permission for this)",
			   url, status, msg ? msg : "",
			   c->username ? c->username : "");
	else
		gc__seterr(err, *rc, "etcd %s: HTTP %ld: %s", url, status,
			   msg ? msg : "");
	free(msg);
	return next;
}

/* The token was rejected: authenticate again (once per call) and take the
 * new token. */
static int renew_token(struct post_call *pc, const char *url, gc_error *err)
{
	gc_etcd *c = pc->c;
	int rc;
	pc->reauthed = 1;
	gc__log(c->log, c->log_payload, GC_LOG_INFO,
		"etcd %s: token rejected, authenticating again", url);
	rc = gc__etcd_reauth(c, pc->conn, pc->gen, err);
	if (rc)
		return rc;
	gc__secret_free(pc->token);
	return gc__etcd_token(c, pc->conn, &pc->token, &pc->gen, err);
}

/* Sleep `ms`, in slices, unless the call is aborted. */
static void backoff_sleep(const gc__etcd_conn *conn, int64_t ms)
{
	while (ms > 0 && !(conn->abort && atomic_load(conn->abort))) {
		sleep_ms(ms > 50 ? 50 : ms);
		ms -= 50;
	}
}

/* After a failed attempt on endpoint `ep`: move to the next endpoint, and
 * back off after each full round. 0 = try again, -1 = out of time. */
static int failover(struct post_call *pc, size_t ep, const char *url, int rc,
		    gc_error *err)
{
	gc_etcd *c = pc->c;
	int64_t now;
	pc->attempts++;
	now = gc__mono_ms();
	if (now >= pc->deadline)
		return -1;
	gc__etcd_advance(c, ep);
	if (c->endpoints_count > 1)
		gc__log(c->log, c->log_payload, GC_LOG_WARNING,
			"etcd %s failed (%s); trying %s", url,
			err ? err->msg : gc_strerror(rc),
			c->endpoints[gc__etcd_current(c)]);
	if (pc->attempts % c->endpoints_count == 0) {
		backoff_sleep(pc->conn, pc->backoff < pc->deadline - now
					    ? pc->backoff
					    : pc->deadline - now);
		pc->backoff = pc->backoff * 2 > 1000 ? 1000 : pc->backoff * 2;
	}
	return 0;
}

/* One attempt on the current endpoint. Returns 0 with *out set on success,
 * else an error code and in *next what to do about it. */
static int post_attempt(struct post_call *pc, size_t ep, char *url,
			size_t url_size, cJSON **out, enum post_next *next,
			gc_error *err)
{
	gc__etcd_conn *conn = pc->conn;
	long status;
	CURLcode crc;
	int rc = 0;
	*next = POST_STOP;
	snprintf(url, url_size, "%s%s", pc->c->endpoints[ep], pc->path);
	crc = conn_perform(conn, url, pc->body, pc->token, attempt_timeout(pc),
			   &status);
	if (crc == CURLE_OK && status == 200) {
		rc = gc__etcd_parse(conn->body.data, conn->body.len, out, err);
		if (rc)
			gc__err_prefix(err, "etcd %s", url);
		return rc;
	}
	if (crc == CURLE_ABORTED_BY_CALLBACK)
		return gc__seterr(err, GC_ECANCELED, "etcd %s: canceled", url);
	if (conn->too_big)
		return gc__seterr(err, GC_ETOOBIG,
				  "etcd %s: answer larger than %zu bytes", url,
				  conn->max);
	if (crc != CURLE_OK)
		*next = classify_curl_error(pc, url, crc, &rc, err);
	else
		*next = classify_http_error(pc, url, status, &rc, err);
	return rc;
}

int gc__etcd_post(gc_etcd *c, gc__etcd_conn *conn, const char *path,
		  const char *body, const gc__etcd_post_opts *po, cJSON **out,
		  int *ambiguous, gc_error *err)
{
	struct post_call pc;
	int retry_ms = po && po->retry_timeout_ms > 0 ? po->retry_timeout_ms
						      : c->retry_timeout_ms;
	int rc;

	memset(&pc, 0, sizeof(pc));
	pc.c = c;
	pc.conn = conn;
	pc.path = path;
	pc.body = body;
	pc.no_auth = po && po->no_auth;
	pc.attempt_ms = po ? po->attempt_timeout_ms : 0;
	pc.backoff = 50;
	*out = NULL;
	if (ambiguous)
		*ambiguous = 0;
	if (!pc.no_auth && c->username) {
		rc = gc__etcd_token(c, conn, &pc.token, &pc.gen, err);
		if (rc)
			return rc;
	}
	pc.deadline = gc__mono_ms() + retry_ms;
	for (;;) {
		size_t ep = gc__etcd_current(c);
		char url[1024];
		enum post_next next;
		rc = post_attempt(&pc, ep, url, sizeof(url), out, &next, err);
		if (next == POST_REAUTH) {
			if ((rc = renew_token(&pc, url, err)))
				break;
			continue;
		}
		if (rc == 0) {
			if (ambiguous)
				*ambiguous = pc.maybe_applied;
			break;
		}
		if (next == POST_STOP || failover(&pc, ep, url, rc, err))
			break;
	}
	gc__secret_free(pc.token);
	return rc;
}

int gc__etcd_post_json(gc_etcd *c, gc__etcd_conn *conn, const char *path,
		       const cJSON *req, const gc__etcd_post_opts *po,
		       cJSON **out, int *ambiguous, gc_error *err)
{
	char *body = cJSON_PrintUnformatted(req);
	int rc;
	*out = NULL;
	if (!body)
		return gc__seterr(err, GC_ENOMEM, "etcd: out of memory");
	rc = gc__etcd_post(c, conn, path, body, po, out, ambiguous, err);
	free(body);
	return rc;
}

/* A unary call on the handle's own connection (serialised); `po` may be
 * NULL (the client's timeouts). */
static int unary_opts(gc_etcd *c, const char *path, const cJSON *req,
		      const gc__etcd_post_opts *po, cJSON **out,
		      int *ambiguous, gc_error *err)
{
	int rc;
	pthread_mutex_lock(&c->call_lock);
	rc = gc__etcd_post_json(c, &c->conn, path, req, po, out, ambiguous,
				err);
	pthread_mutex_unlock(&c->call_lock);
	return rc;
}

static int unary(gc_etcd *c, const char *path, const cJSON *req, cJSON **out,
		 int *ambiguous, gc_error *err)
{
	return unary_opts(c, path, req, NULL, out, ambiguous, err);
}

GC_EXTERN int gc_etcd_request(char **response, gc_etcd *c, const char *path,
			      const char *json_body, gc_error *err)
{
	cJSON *resp = NULL;
	int rc;
	if (response)
		*response = NULL;
	if (!c || !path || path[0] != '/' || !json_body)
		return gc__seterr(err, GC_EINVAL,
				  "etcd request: client, path (starting with "
				  "'/') and body are required");
	pthread_mutex_lock(&c->call_lock);
	rc = gc__etcd_post(c, &c->conn, path, json_body, NULL, &resp, NULL,
			   err);
	if (!rc && response) {
		*response = gc__strndup(c->conn.body.data, c->conn.body.len);
		if (!*response)
			rc = gc__seterr(err, GC_ENOMEM, "etcd: out of memory");
	}
	pthread_mutex_unlock(&c->call_lock);
	cJSON_Delete(resp);
	return rc;
}

/* --------------------------------------------------------------- KV */

#define KEY_FMT "%.200s"

GC_EXTERN int gc_etcd_get(gc_etcd_response *out, gc_etcd *c, const char *key,
			  const gc_etcd_get_options *from, gc_error *err)
{
	gc_etcd_get_options o;
	cJSON *req, *resp = NULL;
	int rc;
	if (out)
		memset(out, 0, sizeof(*out));
	if (!out || !c || !key)
		return gc__seterr(err, GC_EINVAL,
				  "etcd get: out, client and key are required");
	if ((rc = gc__options_copy(&o, from, &gc__etcd_get_optver, err)))
		return rc;
	if (o.timeout_ms < 0 || o.retry_timeout_ms < 0)
		return gc__seterr(err, GC_EINVAL, "etcd get: negative timeout");
	if (!key[0] && !(o.flags & (GC_ETCD_PREFIX | GC_ETCD_FROM_KEY)))
		return gc__seterr(err, GC_EINVAL, "etcd get: empty key");
	req = gc__etcd_encode_range(key, &o);
	if (!req)
		return gc__seterr(err, GC_ENOMEM, "etcd get: out of memory");
	gc__etcd_post_opts po = {o.retry_timeout_ms, 0, o.timeout_ms};
	rc = unary_opts(c, "/v3/kv/range", req, &po, &resp, NULL, err);
	cJSON_Delete(req);
	if (!rc)
		rc = gc__etcd_decode_response(resp, GC_ETCD_OP_RANGE, out, err);
	cJSON_Delete(resp);
	if (rc)
		gc__err_prefix(err, "get " KEY_FMT, key);
	return rc;
}

/* Encode a single op and unwrap it from its RequestOp envelope. */
static cJSON *encode_inner(const gc_etcd_op *op, const char *name)
{
	cJSON *outer = gc__etcd_encode_op(op), *inner;
	if (!outer)
		return NULL;
	inner = cJSON_DetachItemFromObjectCaseSensitive(outer, name);
	cJSON_Delete(outer);
	return inner;
}

/* Send one put or delete through its own endpoint and decode the answer
 * into `out` (disposed by the caller on 0). */
static int single_op(gc_etcd *c, const gc_etcd_op *op, const char *name,
		     const char *path, gc_etcd_response *out, gc_error *err)
{
	cJSON *req = encode_inner(op, name), *resp = NULL;
	int rc;
	if (!req)
		return gc__seterr(err, GC_ENOMEM, "etcd %s: out of memory",
				  op->type == GC_ETCD_OP_PUT ? "put"
							     : "delete");
	rc = unary(c, path, req, &resp, NULL, err);
	cJSON_Delete(req);
	if (!rc)
		rc = gc__etcd_decode_response(resp, op->type, out, err);
	cJSON_Delete(resp);
	return rc;
}

GC_EXTERN int gc_etcd_put(gc_etcd_response *out, gc_etcd *c, const char *key,
			  const void *value, size_t value_len, int64_t lease,
			  unsigned flags, gc_error *err)
{
	gc_etcd_op op;
	gc_etcd_response tmp;
	int rc;
	if (out)
		memset(out, 0, sizeof(*out));
	if (!c || !key || !key[0] || (!value && value_len))
		return gc__seterr(err, GC_EINVAL,
				  "etcd put: client and a non-empty key are "
				  "required");
	memset(&op, 0, sizeof(op));
	op.type = GC_ETCD_OP_PUT;
	op.key = key;
	op.value = value;
	op.value_len = value_len;
	op.lease = lease;
	op.flags = flags;
	rc = single_op(c, &op, "request_put", "/v3/kv/put", &tmp, err);
	if (!rc && out)
		*out = tmp;
	else if (!rc)
		gc_etcd_response_clear(&tmp);
	if (rc)
		gc__err_prefix(err, "put " KEY_FMT, key);
	return rc;
}

GC_EXTERN int gc_etcd_delete(gc_etcd_response *out, int64_t *deleted,
			     gc_etcd *c, const char *key, unsigned flags,
			     gc_error *err)
{
	gc_etcd_op op;
	gc_etcd_response tmp;
	int rc;
	if (out)
		memset(out, 0, sizeof(*out));
	if (deleted)
		*deleted = 0;
	if (!c || !key ||
	    (!key[0] && !(flags & (GC_ETCD_PREFIX | GC_ETCD_FROM_KEY))))
		return gc__seterr(err, GC_EINVAL,
				  "etcd delete: client and key are required");
	memset(&op, 0, sizeof(op));
	op.type = GC_ETCD_OP_DELETE;
	op.key = key;
	op.flags = flags;
	rc = single_op(c, &op, "request_delete_range", "/v3/kv/deleterange",
		       &tmp, err);
	if (!rc) {
		if (deleted)
			*deleted = tmp.count;
		if (out)
			*out = tmp;
		else
			gc_etcd_response_clear(&tmp);
	}
	if (rc)
		gc__err_prefix(err, "delete " KEY_FMT, key);
	return rc;
}

GC_EXTERN int gc_etcd_compact(gc_etcd *c, int64_t revision, int physical,
			      gc_error *err)
{
	cJSON *req, *resp = NULL;
	int rc;
	if (!c || revision <= 0)
		return gc__seterr(err, GC_EINVAL,
				  "etcd compact: bad revision %" PRId64,
				  revision);
	req = cJSON_CreateObject();
	if (!req || gc__etcd_add_int64(req, "revision", revision) ||
	    (physical && !cJSON_AddTrueToObject(req, "physical"))) {
		cJSON_Delete(req);
		return gc__seterr(err, GC_ENOMEM, "etcd: out of memory");
	}
	rc = unary(c, "/v3/kv/compaction", req, &resp, NULL, err);
	cJSON_Delete(req);
	cJSON_Delete(resp);
	if (rc)
		gc__err_prefix(err, "compact to %" PRId64, revision);
	return rc;
}

/* -------------------------------------------------------------- txn */

static int check_ops(const gc_etcd_op *ops, size_t n, const char *branch,
		     gc_error *err)
{
	size_t i;
	if (n && !ops)
		return gc__seterr(err, GC_EINVAL, "etcd txn: %s ops missing",
				  branch);
	for (i = 0; i < n; i++) {
		if (!ops[i].key ||
		    (!ops[i].key[0] &&
		     (ops[i].type == GC_ETCD_OP_PUT ||
		      !(ops[i].flags & (GC_ETCD_PREFIX | GC_ETCD_FROM_KEY)))))
			return gc__seterr(err, GC_EINVAL,
					  "etcd txn: %s op #%zu has no key",
					  branch, i + 1);
		if (ops[i].type < GC_ETCD_OP_RANGE ||
		    ops[i].type > GC_ETCD_OP_DELETE)
			return gc__seterr(err, GC_EINVAL,
					  "etcd txn: %s op #%zu has unknown "
					  "type %d",
					  branch, i + 1, ops[i].type);
		if (ops[i].type == GC_ETCD_OP_PUT && !ops[i].value &&
		    ops[i].value_len)
			return gc__seterr(err, GC_EINVAL,
					  "etcd txn: %s op #%zu: value is NULL",
					  branch, i + 1);
	}
	return 0;
}

static int txn_call(gc_etcd_txn_result *out, gc_etcd *c,
		    const gc_etcd_txn_request *t, int *ambiguous,
		    gc_error *err)
{
	cJSON *req, *resp = NULL;
	size_t i;
	int rc;
	memset(out, 0, sizeof(*out));
	if (t->compare_count && !t->compare)
		return gc__seterr(err, GC_EINVAL, "etcd txn: compares missing");
	for (i = 0; i < t->compare_count; i++) {
		const gc_etcd_compare *cm = &t->compare[i];
		if (!cm->key || !cm->key[0] || cm->target < 0 ||
		    cm->target > GC_ETCD_CMP_LEASE || cm->result < 0 ||
		    cm->result > GC_ETCD_CMP_NOT_EQUAL ||
		    (cm->target == GC_ETCD_CMP_VALUE && !cm->value &&
		     cm->value_len))
			return gc__seterr(err, GC_EINVAL,
					  "etcd txn: compare #%zu needs a key, "
					  "a known target and result",
					  i + 1);
	}
	if ((rc = check_ops(t->success, t->success_count, "success", err)) ||
	    (rc = check_ops(t->failure, t->failure_count, "failure", err)))
		return rc;
	req = gc__etcd_encode_txn(t);
	if (!req)
		return gc__seterr(err, GC_ENOMEM, "etcd txn: out of memory");
	rc = unary(c, "/v3/kv/txn", req, &resp, ambiguous, err);
	cJSON_Delete(req);
	if (!rc)
		rc = gc__etcd_decode_txn(resp, out, err);
	cJSON_Delete(resp);
	return rc;
}

GC_EXTERN int gc_etcd_txn(gc_etcd_txn_result *out, gc_etcd *c,
			  const gc_etcd_txn_request *txn, gc_error *err)
{
	int rc;
	if (!out || !c || !txn) {
		if (out)
			memset(out, 0, sizeof(*out));
		return gc__seterr(err, GC_EINVAL,
				  "etcd txn: out, client and txn are required");
	}
	rc = txn_call(out, c, txn, NULL, err);
	if (rc)
		gc__err_prefix(err, "txn");
	return rc;
}

/* ------------------------------------------------------------ claim */

GC_EXTERN void gc_etcd_claim_result_clear(gc_etcd_claim_result *r)
{
	size_t i;
	if (!r)
		return;
	free(r->holder_value);
	for (i = 0; i < r->responses_count; i++)
		gc_etcd_response_clear(&r->responses[i]);
	free(r->responses);
	memset(r, 0, sizeof(*r));
}

/* The claim's txn: "key absent" plus the extra compares; put of the key
 * plus the extra ops; a read of the key on failure. cmp and ops are
 * calloc'd here (the caller frees them, also on failure). */
static int claim_txn_build(gc_etcd_txn_request *t, gc_etcd_compare **cmp_out,
			   gc_etcd_op **ops_out, gc_etcd_op *fail_op,
			   const gc_etcd_claim *cl, gc_error *err)
{
	gc_etcd_compare *cmp;
	gc_etcd_op *ops;
	*cmp_out = cmp = calloc(cl->compare_count + 1, sizeof(*cmp));
	*ops_out = ops = calloc(cl->ops_count + 1, sizeof(*ops));
	if (!cmp || !ops)
		return gc__seterr(err, GC_ENOMEM, "etcd claim: out of memory");
	cmp[0].key = cl->key;
	cmp[0].target = GC_ETCD_CMP_CREATE;
	cmp[0].result = GC_ETCD_CMP_EQUAL;
	cmp[0].number = 0; /* create_revision 0: the key does not exist */
	if (cl->compare_count)
		memcpy(cmp + 1, cl->compare, cl->compare_count * sizeof(*cmp));
	ops[0].type = GC_ETCD_OP_PUT;
	ops[0].key = cl->key;
	ops[0].value = cl->value;
	ops[0].value_len = cl->value_len;
	ops[0].lease = cl->lease;
	if (cl->ops_count)
		memcpy(ops + 1, cl->ops, cl->ops_count * sizeof(*ops));
	memset(fail_op, 0, sizeof(*fail_op));
	fail_op->type = GC_ETCD_OP_RANGE;
	fail_op->key = cl->key;

	memset(t, 0, sizeof(*t));
	t->compare = cmp;
	t->compare_count = cl->compare_count + 1;
	t->success = ops;
	t->success_count = cl->ops_count + 1;
	t->failure = fail_op;
	t->failure_count = 1;
	return 0;
}

/* Won: the fencing token, and the extra ops' responses handed over. */
static void claim_won(gc_etcd_claim_result *res, gc_etcd_txn_result *r)
{
	res->create_revision =
	    r->responses_count ? r->responses[0].revision : r->revision;
	if (!res->create_revision)
		res->create_revision = r->revision;
	if (r->responses_count > 1) {
		res->responses_count = r->responses_count - 1;
		gc_etcd_response_clear(&r->responses[0]);
		memmove(r->responses, r->responses + 1,
			res->responses_count * sizeof(*r->responses));
		res->responses = r->responses;
		r->responses = NULL;
		r->responses_count = 0;
	}
}

/* Lost: describe the holder (moved out of `r`). An earlier attempt may
 * have been applied (`ambiguous`): if the holder is exactly us, the claim
 * is ours (0); otherwise GC_ECONFLICT. */
static int claim_lost(gc_etcd_claim_result *res, gc_etcd_txn_result *r,
		      gc_etcd *c, const gc_etcd_claim *cl, int ambiguous,
		      gc_error *err)
{
	const gc_etcd_response *fr =
	    r->responses_count ? &r->responses[0] : NULL;
	if (fr && fr->kvs_count) {
		gc_etcd_kv *h = &fr->kvs[0];
		res->holder_present = 1;
		res->create_revision = h->create_revision;
		res->holder_mod_revision = h->mod_revision;
		res->holder_lease = h->lease;
		res->holder_value_len = h->value_len;
		res->holder_value = h->value;
		h->value = NULL;
	}
	if (ambiguous && res->holder_present &&
	    res->holder_lease == cl->lease &&
	    res->holder_value_len == cl->value_len &&
	    (cl->value_len == 0 ||
	     memcmp(res->holder_value, cl->value, cl->value_len) == 0)) {
		gc__log(c->log, c->log_payload, GC_LOG_INFO,
			"etcd claim " KEY_FMT ": an earlier attempt was "
			"applied; the claim is ours",
			cl->key);
		return 0;
	}
	return gc__seterr(err, GC_ECONFLICT, "claim " KEY_FMT ": %s", cl->key,
			  res->holder_present
			      ? "already held"
			      : "a condition of the claim failed");
}

GC_EXTERN int gc_etcd_claim_key(gc_etcd_claim_result *out, gc_etcd *c,
				const gc_etcd_claim *cl, gc_error *err)
{
	gc_etcd_compare *cmp = NULL;
	gc_etcd_op *ops = NULL, fail_op;
	gc_etcd_txn_request t;
	gc_etcd_txn_result r;
	gc_etcd_claim_result res;
	int rc, ambiguous = 0;

	memset(&res, 0, sizeof(res));
	if (out)
		memset(out, 0, sizeof(*out));
	if (!c || !cl || !cl->key || !cl->key[0] ||
	    (!cl->value && cl->value_len) ||
	    (cl->compare_count && !cl->compare) || (cl->ops_count && !cl->ops))
		return gc__seterr(err, GC_EINVAL,
				  "etcd claim: client and a claim with a key "
				  "are required");
	if (cl->compare_count > 1000 || cl->ops_count > 1000)
		return gc__seterr(err, GC_EINVAL,
				  "etcd claim: too many compares or ops");
	rc = claim_txn_build(&t, &cmp, &ops, &fail_op, cl, err);
	if (!rc && (rc = txn_call(&r, c, &t, &ambiguous, err)))
		gc__err_prefix(err, "claim " KEY_FMT, cl->key);
	free(cmp);
	free(ops);
	if (rc)
		return rc;
	res.revision = r.revision;
	if (r.succeeded)
		claim_won(&res, &r);
	else
		rc = claim_lost(&res, &r, c, cl, ambiguous, err);
	gc_etcd_txn_result_clear(&r);
	if (out)
		*out = res;
	else
		gc_etcd_claim_result_clear(&res);
	return rc;
}

/* ----------------------------------------------------------- leases */

static cJSON *id_request(int64_t id)
{
	cJSON *req = cJSON_CreateObject();
	if (req && gc__etcd_add_int64(req, "ID", id)) {
		cJSON_Delete(req);
		return NULL;
	}
	return req;
}

GC_EXTERN int gc_etcd_lease_grant(int64_t *id_out, int64_t *ttl_out,
				  gc_etcd *c, int64_t ttl_s, int64_t id,
				  gc_error *err)
{
	cJSON *req, *resp = NULL;
	int64_t gid = 0, gttl = 0;
	int rc;
	if (id_out)
		*id_out = 0;
	if (ttl_out)
		*ttl_out = 0;
	if (!c || ttl_s <= 0 || id < 0)
		return gc__seterr(err, GC_EINVAL,
				  "etcd lease grant: TTL must be > 0 (got %" PRId64
				  ")",
				  ttl_s);
	req = id_request(id);
	if (!req || gc__etcd_add_int64(req, "TTL", ttl_s)) {
		cJSON_Delete(req);
		return gc__seterr(err, GC_ENOMEM, "etcd: out of memory");
	}
	rc = unary(c, "/v3/lease/grant", req, &resp, NULL, err);
	cJSON_Delete(req);
	if (!rc) {
		if (gc__etcd_get_int64(resp, "ID", &gid) ||
		    gc__etcd_get_int64(resp, "TTL", &gttl) || gid == 0)
			rc = gc__seterr(err, GC_EPROTO,
					"grant answer has no valid ID/TTL");
		else {
			if (id_out)
				*id_out = gid;
			if (ttl_out)
				*ttl_out = gttl;
		}
	}
	cJSON_Delete(resp);
	if (rc)
		gc__err_prefix(err, "etcd lease grant (TTL %" PRId64 ")",
			       ttl_s);
	return rc;
}

GC_EXTERN int gc_etcd_lease_revoke(gc_etcd *c, int64_t id, gc_error *err)
{
	cJSON *req, *resp = NULL;
	int rc;
	if (!c || id == 0)
		return gc__seterr(err, GC_EINVAL, "etcd lease revoke: no lease");
	req = id_request(id);
	if (!req)
		return gc__seterr(err, GC_ENOMEM, "etcd: out of memory");
	rc = unary(c, "/v3/lease/revoke", req, &resp, NULL, err);
	cJSON_Delete(req);
	cJSON_Delete(resp);
	if (rc)
		gc__err_prefix(err, "lease revoke %" PRId64, id);
	return rc;
}

int gc__etcd_keepalive(gc_etcd *c, gc__etcd_conn *conn, int64_t id,
		       int retry_ms, int64_t *ttl_out, gc_error *err)
{
	gc__etcd_post_opts po = {retry_ms, 0, 0};
	cJSON *req, *resp = NULL;
	int64_t rid = 0, ttl = 0;
	int rc;
	*ttl_out = 0;
	req = id_request(id);
	if (!req)
		return gc__seterr(err, GC_ENOMEM, "etcd: out of memory");
	rc = gc__etcd_post_json(c, conn, "/v3/lease/keepalive", req, &po,
				&resp, NULL, err);
	cJSON_Delete(req);
	if (!rc) {
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(resp, "error");
		if (e) {
			/* in-band stream error in a 200 answer */
			const cJSON *m = cJSON_GetObjectItemCaseSensitive(
				e, "message");
			rc = gc__seterr(err, GC_EUNAVAIL, "%s",
					cJSON_IsString(m) ? m->valuestring
							  : "stream error");
		} else {
			rc = gc__etcd_decode_keepalive(resp, &rid, &ttl, err);
		}
		if (!rc && ttl <= 0)
			rc = gc__seterr(err, GC_ENOTFOUND,
					"lease expired or revoked");
		if (!rc)
			*ttl_out = ttl;
	}
	cJSON_Delete(resp);
	if (rc)
		gc__err_prefix(err, "lease keep-alive %" PRId64, id);
	return rc;
}

GC_EXTERN int gc_etcd_lease_keepalive_once(int64_t *ttl_out, gc_etcd *c,
					   int64_t id, gc_error *err)
{
	int64_t ttl = 0;
	int rc;
	if (ttl_out)
		*ttl_out = 0;
	if (!c || id == 0)
		return gc__seterr(err, GC_EINVAL,
				  "etcd lease keep-alive: no lease");
	pthread_mutex_lock(&c->call_lock);
	rc = gc__etcd_keepalive(c, &c->conn, id, 0, &ttl, err);
	pthread_mutex_unlock(&c->call_lock);
	if (!rc && ttl_out)
		*ttl_out = ttl;
	return rc;
}

GC_EXTERN int gc_etcd_lease_timetolive(gc_etcd_lease_info *out, gc_etcd *c,
				       int64_t id, int want_keys,
				       gc_error *err)
{
	cJSON *req, *resp = NULL;
	int rc;
	if (out)
		memset(out, 0, sizeof(*out));
	if (!out || !c || id == 0)
		return gc__seterr(err, GC_EINVAL,
				  "etcd lease time-to-live: out, client and "
				  "lease are required");
	req = id_request(id);
	if (!req || (want_keys && !cJSON_AddTrueToObject(req, "keys"))) {
		cJSON_Delete(req);
		return gc__seterr(err, GC_ENOMEM, "etcd: out of memory");
	}
	rc = unary(c, "/v3/lease/timetolive", req, &resp, NULL, err);
	cJSON_Delete(req);
	if (!rc)
		rc = gc__etcd_decode_timetolive(resp, out, err);
	cJSON_Delete(resp);
	if (!rc && out->ttl < 0) {
		gc_etcd_lease_info_clear(out);
		rc = gc__seterr(err, GC_ENOTFOUND, "lease expired or revoked");
	}
	if (rc)
		gc__err_prefix(err, "lease time-to-live %" PRId64, id);
	return rc;
}
