/* The reporter's HTTP sink: one reused curl easy handle (keep-alive),
 * POSTs in the original's report_addr protocol. Runs on the sender thread
 * only. */
#include "reporter_internal.h"
#include "spool.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

/* Bytes of a response kept for the log; more is read and dropped, up to
 * RESP_MAX, after which the transfer is cut (a sink has nothing big to
 * say). */
#define RESP_KEEP 200
#define RESP_MAX (1024 * 1024)

struct gc__http {
	CURL *easy;
	char *url;
	struct curl_slist *hdr_result, *hdr_warning;
	const atomic_bool *abort;
	char errbuf[CURL_ERROR_SIZE];
	char resp[RESP_KEEP + 1];
	size_t resp_len, resp_total;
};

const char *gc__report_type_name(int type)
{
	return type == GC__SPOOL_REC_WARNING ? "report_warning"
					     : "report_task_result";
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	gc__http *h = arg;
	size_t len = size * n;
	if (h->resp_len < RESP_KEEP) {
		size_t k = RESP_KEEP - h->resp_len < len ? RESP_KEEP - h->resp_len
							 : len;
		memcpy(h->resp + h->resp_len, data, k);
		h->resp_len += k;
		h->resp[h->resp_len] = '\0';
	}
	h->resp_total += len;
	return h->resp_total > RESP_MAX ? 0 : len;
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut,
		       curl_off_t un)
{
	gc__http *h = arg;
	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	return h->abort && atomic_load(h->abort) ? 1 : 0;
}

static curl_socket_t open_cloexec(void *clientp, curlsocktype purpose,
				  struct curl_sockaddr *a)
{
	(void)clientp;
	(void)purpose;
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static struct curl_slist *headers(const char *type, const char *token,
				  int *fail)
{
	struct curl_slist *l = NULL, *n;
	char *auth = NULL, *rt = gc__sprintf("Report-Type: %s", type);
	const char *fixed[] = {"Content-Type: application/json",
			       /* no 100-continue round trip for big bodies */
			       "Expect:"};
	if (token && *token)
		auth = gc__sprintf("Authorization: Bearer %s", token);
	if (!rt || (token && *token && !auth))
		goto oom;
	for (size_t i = 0; i < GC__ARRAY_LEN(fixed); i++) {
		if (!(n = curl_slist_append(l, fixed[i])))
			goto oom;
		l = n;
	}
	if (!(n = curl_slist_append(l, rt)))
		goto oom;
	l = n;
	if (auth) {
		if (!(n = curl_slist_append(l, auth)))
			goto oom;
		l = n;
	}
	free(rt);
	gc__secret_free(auth);
	return l;
oom:
	*fail = 1;
	curl_slist_free_all(l);
	free(rt);
	free(auth);
	return NULL;
}

int gc__http_new(gc__http **out, const gc__http_options *o, gc_error *err)
{
	gc__http *h;
	int fail = 0;
	*out = NULL;
	if (!o->url || (strncasecmp(o->url, "http://", 7) != 0 &&
			strncasecmp(o->url, "https://", 8) != 0) ||
	    !o->url[o->url[4] == ':' ? 7 : 8])
		return gc__seterr(err, GC_EINVAL,
				  "report_addr \"%.200s\": expected an http:// "
				  "or https:// URL, e.g. "
				  "http://HOST:PORT/api/v1/report",
				  o->url ? o->url : "");
	h = calloc(1, sizeof(*h));
	if (!h)
		return gc__seterr(err, GC_ENOMEM, "reporter: out of memory");
	h->abort = o->abort;
	h->url = gc__strdup(o->url);
	h->easy = curl_easy_init();
	h->hdr_result = headers("report_task_result", o->token, &fail);
	h->hdr_warning = headers("report_warning", o->token, &fail);
	if (!h->url || !h->easy || fail) {
		gc__http_free(h);
		return gc__seterr(err, GC_ENOMEM, "reporter: out of memory");
	}
	CURL *e = h->easy;
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_cloexec);
	curl_easy_setopt(e, CURLOPT_URL, h->url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_POST, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)(o->connect_timeout_ms > 0 ? o->connect_timeout_ms
							  : 3000));
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
			 (long)(o->request_timeout_ms > 0 ? o->request_timeout_ms
							  : 10000));
	curl_easy_setopt(e, CURLOPT_USERAGENT,
			 "gophercron-agent/" GC_VERSION_STRING);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, h);
	curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(e, CURLOPT_XFERINFODATA, h);
	curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, h->errbuf);
	if (o->ca_file && *o->ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, o->ca_file);
	*out = h;
	return 0;
}

void gc__http_free(gc__http *h)
{
	if (!h)
		return;
	if (h->easy)
		curl_easy_cleanup(h->easy);
	curl_slist_free_all(h->hdr_result);
	curl_slist_free_all(h->hdr_warning);
	free(h->url);
	free(h);
}

/* Printable excerpt of the response for a log line. */
static void excerpt(const gc__http *h, char out[RESP_KEEP + 1])
{
	size_t i;
	for (i = 0; i < h->resp_len; i++) {
		unsigned char c = (unsigned char)h->resp[i];
		out[i] = c >= 0x20 && c < 0x7f ? (char)c : ' ';
	}
	out[i] = '\0';
}

int gc__http_post(gc__http *h, int type, const char *body, size_t len,
		  long *status, char *msg)
{
	char ex[RESP_KEEP + 1];
	CURLcode cc;
	long code = 0;
	h->resp_len = h->resp_total = 0;
	h->resp[0] = h->errbuf[0] = '\0';
	curl_easy_setopt(h->easy, CURLOPT_HTTPHEADER,
			 type == GC__SPOOL_REC_WARNING ? h->hdr_warning
						       : h->hdr_result);
	curl_easy_setopt(h->easy, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	cc = curl_easy_perform(h->easy);
	curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_setopt(h->easy, CURLOPT_POSTFIELDS, NULL);
	*status = code;
	if (cc != CURLE_OK && !(cc == CURLE_WRITE_ERROR && code >= 200 &&
				code < 300)) {
		snprintf(msg, GC__SEND_MSG_MAX, "POST %.120s: %.120s", h->url,
			 h->errbuf[0] ? h->errbuf : curl_easy_strerror(cc));
		return GC__SEND_RETRY;
	}
	if (code >= 200 && code < 300) {
		msg[0] = '\0';
		return GC__SEND_OK;
	}
	excerpt(h, ex);
	snprintf(msg, GC__SEND_MSG_MAX, "POST %.120s: HTTP %ld: %.100s", h->url,
		 code, ex);
	/* The receiver says this body can never be accepted; anything else
	 * (auth, wrong path, overload, outage) may heal and is retried. */
	if (code == 400 || code == 413 || code == 415 || code == 422)
		return GC__SEND_REJECT;
	return GC__SEND_RETRY;
}
