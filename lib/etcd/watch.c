/* Watches: one long-lived POST /v3/watch per watch, multiplexed with curl
 * multi in socket-action mode on an epoll descriptor the caller can poll.
 *
 * Callbacks are never run from inside curl: curl's write callback only
 * buffers bytes; complete lines are decoded and dispatched after
 * curl_multi_socket_action returns, so callbacks may add and cancel
 * watches freely. */
#include "etcd_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000

enum wstate {
	WS_WAIT,   /* (re)connect at retry_at */
	WS_STREAM, /* transfer in the multi handle */
	WS_STOPPED /* compacted or fatal: until resume or cancel */
};

struct gc_etcd_watch {
	gc_etcd_watcher *w;
	gc_etcd_watch *next;
	char *key;
	char *range_end;
	unsigned flags;
	gc_etcd_watch_events_fn on_events;
	gc_etcd_watch_compacted_fn on_compacted;
	gc_etcd_watch_error_fn on_error;
	gc_etcd_watch_progress_fn on_progress;
	void *payload;

	int64_t next_rev; /* 0: from "now" (not created yet) */
	enum wstate state;
	int canceled;

	size_t ep;          /* endpoint index for this stream */
	int64_t retry_at;   /* WS_WAIT */
	int64_t backoff;    /* next delay */
	int auth_retried;   /* re-authenticated for the current attempt */
	uint64_t token_gen; /* token generation the stream was opened with */

	CURL *easy;
	struct curl_slist *hdrs;
	char *body;
	char errbuf[CURL_ERROR_SIZE];
	gc__buf in;         /* received, not yet parsed */
	size_t line_start;  /* where the current partial line starts */
	int too_big;
	int done;           /* transfer finished, result pending */
	CURLcode result;
	int created;        /* this stream got its created message */
	uint64_t stream_gen; /* bumped whenever the stream is closed */
};

struct gc_etcd_watcher {
	gc_etcd *c;
	gc__etcd_conn conn; /* for re-authentication */
	CURLM *multi;
	int epfd;
	int evfd;
	int64_t curl_due; /* curl's timer (mono ms), -1 none */
	gc_etcd_watch *head;
	int polling; /* inside poll: cancelled watches are freed at its end */
	int swept;   /* cancelled watches wait in the list */
};

static void wlog(gc_etcd_watch *wa, int level, const char *fmt, ...)
	GC__PRINTF(3, 4);
static void wlog(gc_etcd_watch *wa, int level, const char *fmt, ...)
{
	gc_etcd *c = wa->w->c;
	char msg[600];
	va_list ap;
	if (!c->log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	gc__log(c->log, c->log_payload, level, "etcd watch %.200s: %s",
		wa->key, msg);
}

/* ----------------------------------------------------- curl plumbing */

static int sock_cb(CURL *e, curl_socket_t s, int what, void *userp,
		   void *socketp)
{
	gc_etcd_watcher *w = userp;
	struct epoll_event ev;
	(void)e;
	if (what == CURL_POLL_REMOVE) {
		epoll_ctl(w->epfd, EPOLL_CTL_DEL, s, NULL);
		curl_multi_assign(w->multi, s, NULL);
		return 0;
	}
	memset(&ev, 0, sizeof(ev));
	ev.data.fd = s;
	if (what & CURL_POLL_IN)
		ev.events |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		ev.events |= EPOLLOUT;
	if (socketp) {
		epoll_ctl(w->epfd, EPOLL_CTL_MOD, s, &ev);
	} else {
		if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, s, &ev) && errno == EEXIST)
			epoll_ctl(w->epfd, EPOLL_CTL_MOD, s, &ev);
		curl_multi_assign(w->multi, s, w);
	}
	return 0;
}

static int timer_cb(CURLM *m, long timeout_ms, void *userp)
{
	gc_etcd_watcher *w = userp;
	(void)m;
	w->curl_due = timeout_ms < 0 ? -1 : gc__mono_ms() + timeout_ms;
	return 0;
}

static size_t watch_write(char *p, size_t size, size_t nmemb, void *ud)
{
	gc_etcd_watch *wa = ud;
	size_t n = size * nmemb, i;
	size_t max = wa->w->c->max_response;
	if (gc__buf_append(&wa->in, p, n))
		return 0;
	for (i = wa->in.len - n; i < wa->in.len; i++)
		if (wa->in.data[i] == '\n')
			wa->line_start = i + 1;
	if (wa->in.len - wa->line_start > max) {
		wa->too_big = 1;
		return 0;
	}
	return n;
}

/* Close the stream (if any) and drop buffered input. */
static void detach(gc_etcd_watch *wa)
{
	if (wa->easy) {
		curl_multi_remove_handle(wa->w->multi, wa->easy);
		curl_easy_cleanup(wa->easy);
		wa->easy = NULL;
	}
	curl_slist_free_all(wa->hdrs);
	wa->hdrs = NULL;
	free(wa->body);
	wa->body = NULL;
	gc__buf_reset(&wa->in);
	wa->stream_gen++;
	wa->line_start = 0;
	wa->too_big = 0;
	wa->done = 0;
	wa->created = 0;
}

static void schedule_retry(gc_etcd_watch *wa, int rotate, int64_t delay)
{
	gc_etcd *c = wa->w->c;
	detach(wa);
	if (rotate && c->endpoints_count > 1)
		wa->ep = (wa->ep + 1) % c->endpoints_count;
	if (delay < 0) {
		delay = wa->backoff;
		wa->backoff = wa->backoff * 2 > BACKOFF_MAX_MS
				      ? BACKOFF_MAX_MS
				      : wa->backoff * 2;
	}
	wa->state = WS_WAIT;
	wa->retry_at = gc__mono_ms() + delay;
}

static void stop_watch(gc_etcd_watch *wa)
{
	detach(wa);
	wa->state = WS_STOPPED;
}

static char *build_body(gc_etcd_watch *wa)
{
	cJSON *root = cJSON_CreateObject(), *cr, *filters;
	char *body = NULL;
	if (!root)
		return NULL;
	cr = cJSON_AddObjectToObject(root, "create_request");
	if (!cr || gc__etcd_add_range(cr, wa->key, wa->flags, wa->range_end))
		goto out;
	if (wa->next_rev > 0 &&
	    gc__etcd_add_int64(cr, "start_revision", wa->next_rev))
		goto out;
	if (!cJSON_AddTrueToObject(cr, "progress_notify"))
		goto out;
	if ((wa->flags & GC_ETCD_PREV_KV) &&
	    !cJSON_AddTrueToObject(cr, "prev_kv"))
		goto out;
	if (wa->flags & (GC_ETCD_NO_PUT | GC_ETCD_NO_DELETE)) {
		filters = cJSON_AddArrayToObject(cr, "filters");
		if (!filters)
			goto out;
		if ((wa->flags & GC_ETCD_NO_PUT))
			cJSON_AddItemToArray(filters,
					     cJSON_CreateString("NOPUT"));
		if ((wa->flags & GC_ETCD_NO_DELETE))
			cJSON_AddItemToArray(filters,
					     cJSON_CreateString("NODELETE"));
	}
	body = cJSON_PrintUnformatted(root);
out:
	cJSON_Delete(root);
	return body;
}

/* Open the stream. On a local failure the watch is retried later. */
static void connect_watch(gc_etcd_watch *wa)
{
	gc_etcd_watcher *w = wa->w;
	gc_etcd *c = w->c;
	char url[1024], *token = NULL;
	gc_error err;
	int rc;

	detach(wa);
	rc = gc__etcd_token(c, &w->conn, &token, &wa->token_gen, &err);
	if (rc) {
		if (rc == GC_EAUTH || rc == GC_EPERM) {
			stop_watch(wa);
			if (wa->on_error)
				wa->on_error(wa, rc, err.msg, wa->payload);
			return;
		}
		wlog(wa, GC_LOG_WARNING, "%s; retrying", err.msg);
		schedule_retry(wa, 1, -1);
		return;
	}
	wa->hdrs = gc__etcd_headers(token);
	gc__secret_free(token);
	wa->body = build_body(wa);
	wa->easy = curl_easy_init();
	if (!wa->hdrs || !wa->body || !wa->easy) {
		wlog(wa, GC_LOG_ERR, "out of memory; retrying");
		schedule_retry(wa, 0, -1);
		return;
	}
	snprintf(url, sizeof(url), "%s/v3/watch", c->endpoints[wa->ep]);
	gc__etcd_easy_setup(c, wa->easy);
	curl_easy_setopt(wa->easy, CURLOPT_URL, url);
	curl_easy_setopt(wa->easy, CURLOPT_POSTFIELDS, wa->body);
	curl_easy_setopt(wa->easy, CURLOPT_POSTFIELDSIZE,
			 (long)strlen(wa->body));
	curl_easy_setopt(wa->easy, CURLOPT_HTTPHEADER, wa->hdrs);
	curl_easy_setopt(wa->easy, CURLOPT_WRITEFUNCTION, watch_write);
	curl_easy_setopt(wa->easy, CURLOPT_WRITEDATA, wa);
	curl_easy_setopt(wa->easy, CURLOPT_PRIVATE, wa);
	curl_easy_setopt(wa->easy, CURLOPT_ERRORBUFFER, wa->errbuf);
	wa->errbuf[0] = '\0';
	if (c->watch_progress_ms > 0) {
		/* progress notifications arrive at least this often */
		long secs = (long)((3 * (int64_t)c->watch_progress_ms + 999) /
				   1000);
		curl_easy_setopt(wa->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(wa->easy, CURLOPT_LOW_SPEED_TIME, secs);
	}
	if (curl_multi_add_handle(w->multi, wa->easy) != CURLM_OK) {
		wlog(wa, GC_LOG_ERR, "curl_multi_add_handle failed; retrying");
		schedule_retry(wa, 0, -1);
		return;
	}
	wa->state = WS_STREAM;
}

/* ------------------------------------------------------ dispatching */

static int reason_code(const char *reason)
{
	if (strstr(reason, "PermissionDenied") ||
	    strstr(reason, "permission denied"))
		return GC_EPERM;
	if (strstr(reason, "Unauthenticated") ||
	    strstr(reason, "invalid auth token") ||
	    strstr(reason, "user name is empty"))
		return GC_EAUTH;
	if (strstr(reason, "range is empty") ||
	    strstr(reason, "InvalidArgument"))
		return GC_EINVAL;
	return GC_EIO;
}

static void fatal(gc_etcd_watch *wa, int code, const char *msg)
{
	wlog(wa, GC_LOG_ERR, "stopped: %s", msg);
	stop_watch(wa);
	if (wa->on_error)
		wa->on_error(wa, code, msg, wa->payload);
}

/* Say a watch stream is lost in plain words, once per outage when etcd
 * cannot be reached at all (every watch of the client retries, with
 * back-off, without saying it again); where it resumes is a detail. */
static void stream_lost(gc_etcd_watch *wa, const char *why)
{
	gc_etcd *c = wa->w->c;
	if (wa->result != CURLE_OK && gc__etcd_unreachable(wa->result)) {
		if (!atomic_exchange(&c->watch_down, 1))
			gc__log(c->log, c->log_payload, GC_LOG_WARNING,
				"cannot reach etcd at %s (%s); retrying with "
				"back-off until it answers",
				c->endpoints[wa->ep],
				wa->errbuf[0] ? wa->errbuf
					      : curl_easy_strerror(wa->result));
	} else {
		wlog(wa, GC_LOG_WARNING, "connection to etcd at %s lost (%s); "
					 "watching again",
		     c->endpoints[wa->ep], why);
	}
	wlog(wa, GC_LOG_DEBUG, "%s (%s); resuming at revision %" PRId64, why,
	     c->endpoints[wa->ep], wa->next_rev);
}

/* Handle one decoded message. */
static void handle_msg(gc_etcd_watch *wa, gc__etcd_watch_msg *m)
{
	gc_etcd *c = wa->w->c;
	if (m->is_error) {
		wlog(wa, GC_LOG_WARNING,
		     "etcd at %s ended the watch: %s (code %d); watching again",
		     c->endpoints[wa->ep], m->message ? m->message : "",
		     m->grpc_code);
		wlog(wa, GC_LOG_DEBUG, "resuming at revision %" PRId64,
		     wa->next_rev);
		schedule_retry(wa, 1, -1);
		return;
	}
	if (m->canceled) {
		char msg[GC_ERROR_MSG_MAX];
		int code;
		if (m->compact_revision > 0) {
			wlog(wa, GC_LOG_WARNING,
			     "history compacted up to %" PRId64
			     " (needed %" PRId64 ")",
			     m->compact_revision, wa->next_rev);
			stop_watch(wa);
			if (wa->on_compacted)
				wa->on_compacted(wa, m->compact_revision,
						 wa->payload);
			else if (wa->on_error)
				wa->on_error(wa, GC_ECOMPACTED,
					     "watch history compacted",
					     wa->payload);
			return;
		}
		if (!m->message) {
			/* canceled without a reason: the server gave up on
			 * the stream; resume */
			schedule_retry(wa, 1, -1);
			return;
		}
		code = reason_code(m->message);
		if (code == GC_EAUTH && c->username && !wa->auth_retried) {
			gc_error err;
			wa->auth_retried = 1;
			wlog(wa, GC_LOG_INFO, "token rejected (%s); "
			     "authenticating again", m->message);
			if (gc__etcd_reauth(c, &wa->w->conn, wa->token_gen,
					    &err) == 0) {
				schedule_retry(wa, 0, 0);
				return;
			}
			fatal(wa, err.code, err.msg);
			return;
		}
		snprintf(msg, sizeof(msg), "etcd %s canceled the watch: %s",
			 c->endpoints[wa->ep], m->message);
		fatal(wa, code, msg);
		return;
	}
	if (m->created) {
		wa->created = 1;
		wa->auth_retried = 0;
		wa->backoff = BACKOFF_MIN_MS;
		if (atomic_exchange(&c->watch_down, 0))
			gc__log(c->log, c->log_payload, GC_LOG_NOTICE,
				"etcd at %s answers again",
				c->endpoints[wa->ep]);
		if (wa->next_rev == 0 && m->revision > 0)
			wa->next_rev = m->revision + 1;
		if (wa->on_progress)
			wa->on_progress(wa, m->revision, 1, wa->payload);
		if (!m->events_count)
			return;
	}
	if (m->events_count) {
		size_t first = 0;
		int64_t last;
		/* a resumed stream may replay what was already delivered */
		while (first < m->events_count &&
		       m->events[first].kv.mod_revision < wa->next_rev)
			first++;
		if (first == m->events_count)
			return;
		last = m->events[m->events_count - 1].kv.mod_revision;
		if (last + 1 > wa->next_rev)
			wa->next_rev = last + 1;
		wa->on_events(wa, m->events + first, m->events_count - first,
			      m->revision, wa->payload);
		return;
	}
	/* progress notification: nothing for us up to header.revision */
	if (m->revision > 0 && wa->created && m->revision + 1 > wa->next_rev)
		wa->next_rev = m->revision + 1;
	if (wa->on_progress && !m->created)
		wa->on_progress(wa, m->revision, 0, wa->payload);
}

/* Decode and handle buffered complete lines while the stream is live.
 * Lines are consumed once at the end (not one memmove per line: a replay
 * can bring thousands of lines at once). */
static void process_lines(gc_etcd_watch *wa)
{
	uint64_t gen = wa->stream_gen;
	size_t pos = 0;
	while (!wa->canceled && wa->state == WS_STREAM &&
	       wa->stream_gen == gen && pos < wa->in.len) {
		char *line = wa->in.data + pos;
		char *nl = memchr(line, '\n', wa->in.len - pos);
		gc__etcd_watch_msg m;
		gc_error err;
		size_t len;
		if (!nl)
			break;
		len = (size_t)(nl - line);
		pos += len + 1;
		if (len == 0 || (len == 1 && line[0] == '\r'))
			continue;
		if (gc__etcd_decode_watch_msg(line, len, &m, &err)) {
			wlog(wa, GC_LOG_WARNING,
			     "undecodable message from %s: %s; resuming",
			     wa->w->c->endpoints[wa->ep], err.msg);
			schedule_retry(wa, 1, -1);
			return;
		}
		handle_msg(wa, &m);
		gc__etcd_watch_msg_dispose(&m);
	}
	/* a callback may have closed or restarted the stream (which
	 * dropped the buffer) */
	if (wa->stream_gen == gen && pos > 0) {
		gc__buf_consume(&wa->in, pos);
		wa->line_start -= pos;
	}
}

/* The transfer ended: an error object may be left without a newline. */
static void process_done(gc_etcd_watch *wa)
{
	gc_etcd *c = wa->w->c;
	long status = 0;
	char why[GC_ERROR_MSG_MAX];
	if (wa->canceled || wa->state != WS_STREAM || !wa->done)
		return;
	if (wa->too_big) {
		char msg[200];
		snprintf(msg, sizeof(msg),
			 "a watch message is larger than %zu bytes",
			 c->max_response);
		fatal(wa, GC_ETOOBIG, msg);
		return;
	}
	curl_easy_getinfo(wa->easy, CURLINFO_RESPONSE_CODE, &status);
	snprintf(why, sizeof(why), "stream ended");
	if (wa->in.len) {
		gc__etcd_watch_msg m;
		gc_error err;
		if (gc__etcd_decode_watch_msg(wa->in.data, wa->in.len, &m,
					      &err) == 0) {
			if (m.is_error) {
				snprintf(why, sizeof(why), "HTTP %ld: %s",
					 status, m.message ? m.message : "");
				if (m.grpc_code == 16 && c->username &&
				    !wa->auth_retried) {
					gc_error aerr;
					wa->auth_retried = 1;
					if (gc__etcd_reauth(c, &wa->w->conn,
							    wa->token_gen,
							    &aerr) == 0) {
						gc__etcd_watch_msg_dispose(&m);
						schedule_retry(wa, 0, 0);
						return;
					}
				}
				if (m.grpc_code == 7) {
					char msg[GC_ERROR_MSG_MAX];
					snprintf(msg, sizeof(msg),
						 "etcd %s: %s",
						 c->endpoints[wa->ep],
						 m.message ? m.message : "");
					gc__etcd_watch_msg_dispose(&m);
					fatal(wa, GC_EPERM, msg);
					return;
				}
			} else {
				handle_msg(wa, &m);
			}
			gc__etcd_watch_msg_dispose(&m);
			if (wa->canceled || wa->state != WS_STREAM)
				return;
		}
	}
	if (wa->result != CURLE_OK)
		snprintf(why, sizeof(why), "%s%s%s",
			 curl_easy_strerror(wa->result),
			 wa->errbuf[0] ? ": " : "", wa->errbuf);
	stream_lost(wa, why);
	schedule_retry(wa, 1, -1);
}

static void collect_done(gc_etcd_watcher *w)
{
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(w->multi, &left))) {
		gc_etcd_watch *wa = NULL;
		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
				  (char **)&wa);
		if (wa) {
			wa->done = 1;
			wa->result = msg->data.result;
		}
	}
}

static void free_watch(gc_etcd_watch *wa)
{
	detach(wa);
	gc__buf_free(&wa->in);
	free(wa->key);
	free(wa->range_end);
	free(wa);
}

/* Unlink and free the watches cancelled during a poll. */
static void sweep(gc_etcd_watcher *w)
{
	gc_etcd_watch **pp = &w->head;
	while (*pp) {
		gc_etcd_watch *wa = *pp;
		if (wa->canceled) {
			*pp = wa->next;
			free_watch(wa);
		} else {
			pp = &wa->next;
		}
	}
}

static void start_due(gc_etcd_watcher *w)
{
	gc_etcd_watch *wa;
	int64_t now = gc__mono_ms();
	for (wa = w->head; wa; wa = wa->next)
		if (!wa->canceled && wa->state == WS_WAIT &&
		    wa->retry_at <= now)
			connect_watch(wa);
}

/* Earliest deadline (mono ms) poll must act on, -1 none. */
static int64_t next_deadline(gc_etcd_watcher *w)
{
	gc_etcd_watch *wa;
	int64_t due = w->curl_due;
	for (wa = w->head; wa; wa = wa->next) {
		if (wa->canceled)
			continue;
		if (wa->state == WS_WAIT && (due < 0 || wa->retry_at < due))
			due = wa->retry_at;
	}
	return due;
}

/* ------------------------------------------------------------ public */

GC_EXTERN int gc_etcd_watcher_new(gc_etcd_watcher **out, gc_etcd *c,
				  gc_error *err)
{
	gc_etcd_watcher *w;
	struct epoll_event ev;
	int rc;
	if (!out || !c)
		return gc__seterr(err, GC_EINVAL,
				  "etcd watcher: out and client are required");
	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return gc__seterr(err, GC_ENOMEM, "out of memory");
	w->c = c;
	w->curl_due = -1;
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	w->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->epfd < 0 || w->evfd < 0) {
		rc = gc__seterr_errno(err, GC_ESYS, errno,
				      "etcd watcher: epoll/eventfd");
		goto fail;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.fd = w->evfd;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->evfd, &ev)) {
		rc = gc__seterr_errno(err, GC_ESYS, errno,
				      "etcd watcher: epoll_ctl");
		goto fail;
	}
	rc = gc__etcd_conn_init(c, &w->conn, err);
	if (rc)
		goto fail;
	w->multi = gc__etcd_multi_init();
	if (!w->multi) {
		rc = gc__seterr(err, GC_ENOMEM, "etcd watcher: curl init");
		goto fail;
	}
	curl_multi_setopt(w->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(w->multi, CURLMOPT_SOCKETDATA, w);
	curl_multi_setopt(w->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(w->multi, CURLMOPT_TIMERDATA, w);
	*out = w;
	return 0;
fail:
	gc__etcd_conn_dispose(&w->conn);
	if (w->epfd >= 0)
		close(w->epfd);
	if (w->evfd >= 0)
		close(w->evfd);
	free(w);
	return rc;
}

GC_EXTERN void gc_etcd_watcher_free(gc_etcd_watcher *w)
{
	if (!w)
		return;
	while (w->head) {
		gc_etcd_watch *wa = w->head;
		w->head = wa->next;
		free_watch(wa);
	}
	if (w->multi)
		curl_multi_cleanup(w->multi);
	gc__etcd_conn_dispose(&w->conn);
	close(w->epfd);
	close(w->evfd);
	free(w);
}

GC_EXTERN int gc_etcd_watch_add(gc_etcd_watch **out, gc_etcd_watcher *w,
				const char *key,
				const gc_etcd_watch_options *o, gc_error *err)
{
	gc_etcd_watch_options copy;
	gc_etcd_watch *wa, **pp;
	int rc;
	if (out)
		*out = NULL;
	if (!w || !key || !o || !o->on_events)
		return gc__seterr(err, GC_EINVAL,
				  "etcd watch: watcher, key, options and "
				  "on_events are required");
	if ((rc = gc__options_copy(&copy, o, &gc__etcd_watch_optver, err)))
		return rc;
	o = &copy;
	if (!key[0] && !o->range_end &&
	    !(o->flags & (GC_ETCD_PREFIX | GC_ETCD_FROM_KEY)))
		return gc__seterr(err, GC_EINVAL, "etcd watch: empty key");
	if (o->start_revision < 0)
		return gc__seterr(err, GC_EINVAL,
				  "etcd watch: negative start revision");
	wa = calloc(1, sizeof(*wa));
	if (!wa)
		return gc__seterr(err, GC_ENOMEM, "out of memory");
	wa->w = w;
	wa->key = gc__strdup(key);
	wa->range_end = o->range_end ? gc__strdup(o->range_end) : NULL;
	if (!wa->key || (o->range_end && !wa->range_end)) {
		free_watch(wa);
		return gc__seterr(err, GC_ENOMEM, "out of memory");
	}
	wa->flags = o->flags;
	wa->on_events = o->on_events;
	wa->on_compacted = o->on_compacted;
	wa->on_error = o->on_error;
	wa->on_progress = o->on_progress;
	wa->payload = o->payload;
	wa->next_rev = o->start_revision;
	wa->state = WS_WAIT;
	wa->retry_at = gc__mono_ms();
	wa->backoff = BACKOFF_MIN_MS;
	wa->ep = gc__etcd_current(w->c);
	for (pp = &w->head; *pp; pp = &(*pp)->next)
		;
	*pp = wa;
	if (out)
		*out = wa;
	gc_etcd_watcher_wakeup(w);
	return 0;
}

GC_EXTERN void gc_etcd_watch_cancel(gc_etcd_watch *wa)
{
	gc_etcd_watcher *w;
	if (!wa || wa->canceled)
		return;
	w = wa->w;
	detach(wa); /* closing the connection cancels it server-side */
	wa->canceled = 1;
	if (!w->polling)
		sweep(w);
}

GC_EXTERN int gc_etcd_watch_resume(gc_etcd_watch *wa, int64_t start_revision,
				   gc_error *err)
{
	if (!wa || wa->canceled || start_revision < 0)
		return gc__seterr(err, GC_EINVAL,
				  "etcd watch resume: bad watch or revision");
	detach(wa);
	wa->next_rev = start_revision;
	wa->state = WS_WAIT;
	wa->retry_at = gc__mono_ms();
	wa->backoff = BACKOFF_MIN_MS;
	wa->auth_retried = 0;
	gc_etcd_watcher_wakeup(wa->w);
	return 0;
}

GC_EXTERN int64_t gc_etcd_watch_next_revision(const gc_etcd_watch *wa)
{
	return wa ? wa->next_rev : 0;
}

GC_EXTERN int gc_etcd_watch_active(const gc_etcd_watch *wa)
{
	return wa && !wa->canceled && wa->state != WS_STOPPED;
}

GC_EXTERN int gc_etcd_watch_connected(const gc_etcd_watch *wa)
{
	return gc_etcd_watch_active(wa) && wa->created;
}

GC_EXTERN void *gc_etcd_watch_payload(const gc_etcd_watch *wa)
{
	return wa ? wa->payload : NULL;
}

GC_EXTERN size_t gc_etcd_watcher_count(gc_etcd_watcher *w)
{
	size_t n = 0;
	gc_etcd_watch *wa;
	if (!w)
		return 0;
	for (wa = w->head; wa; wa = wa->next)
		if (!wa->canceled)
			n++;
	return n;
}

GC_EXTERN int gc_etcd_watcher_fd(gc_etcd_watcher *w)
{
	return w ? w->epfd : -1;
}

GC_EXTERN int gc_etcd_watcher_timeout_ms(gc_etcd_watcher *w)
{
	int64_t due, now;
	if (!w)
		return -1;
	due = next_deadline(w);
	if (due < 0)
		return -1;
	now = gc__mono_ms();
	if (due <= now)
		return 0;
	return due - now > INT32_MAX ? INT32_MAX : (int)(due - now);
}

GC_EXTERN void gc_etcd_watcher_wakeup(gc_etcd_watcher *w)
{
	uint64_t one = 1;
	ssize_t r;
	if (!w)
		return;
	r = write(w->evfd, &one, sizeof(one));
	(void)r; /* EAGAIN: already signalled */
}

GC_EXTERN int gc_etcd_watcher_poll(gc_etcd_watcher *w, int timeout_ms,
				   gc_error *err)
{
	struct epoll_event evs[32];
	int n, i, running, wait;
	int64_t due, now;
	gc_etcd_watch *wa;

	if (!w)
		return gc__seterr(err, GC_EINVAL, "etcd watcher is NULL");
	if (w->polling)
		return gc__seterr(err, GC_EINVAL,
				  "etcd watcher: poll called from a callback");
	w->polling++;
	start_due(w);

	due = next_deadline(w);
	now = gc__mono_ms();
	wait = timeout_ms < 0 ? -1 : timeout_ms;
	if (due >= 0) {
		int64_t d = due > now ? due - now : 0;
		if (wait < 0 || d < wait)
			wait = d > INT32_MAX ? INT32_MAX : (int)d;
	}
	n = epoll_wait(w->epfd, evs, (int)GC__ARRAY_LEN(evs), wait);
	if (n < 0) {
		if (errno != EINTR) {
			w->polling--;
			return gc__seterr_errno(err, GC_ESYS, errno,
						"etcd watcher: epoll_wait");
		}
		n = 0;
	}
	for (i = 0; i < n; i++) {
		int fd = evs[i].data.fd, act = 0;
		if (fd == w->evfd) {
			uint64_t v;
			ssize_t r = read(w->evfd, &v, sizeof(v));
			(void)r;
			continue;
		}
		if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			act |= CURL_CSELECT_IN;
		if (evs[i].events & EPOLLOUT)
			act |= CURL_CSELECT_OUT;
		if (evs[i].events & (EPOLLERR | EPOLLHUP))
			act |= CURL_CSELECT_ERR;
		curl_multi_socket_action(w->multi, fd, act, &running);
	}
	if (w->curl_due >= 0 && gc__mono_ms() >= w->curl_due) {
		w->curl_due = -1;
		curl_multi_socket_action(w->multi, CURL_SOCKET_TIMEOUT, 0,
					 &running);
	}
	collect_done(w);
	for (wa = w->head; wa; wa = wa->next) {
		process_lines(wa);
		process_done(wa);
	}
	start_due(w);
	if (--w->polling == 0)
		sweep(w);
	return 0;
}
