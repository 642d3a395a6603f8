/* etcd clock probe: one GET /version on the client's own keep-alive
 * connection, timed as tightly as libcurl allows, and the strict parse of
 * the answer's Date header (see gc_etcd_clock_probe in etcd.h). */
#include "etcd_internal.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ------------------------------------------------------- Date header */

static int two_digits(const char *s, int *out)
{
	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
		return -1;
	*out = (s[0] - '0') * 10 + (s[1] - '0');
	return 0;
}

/* Index of a three-letter name in `names` (12 or 7 of them), or -1. */
static int name_index(const char *s, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (memcmp(s, names[i], 3) == 0)
			return i;
	return -1;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;
	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int days_in_month(int64_t y, int m)
{
	static const int dm[12] = {31, 28, 31, 30, 31, 30,
				   31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : dm[m - 1];
}

/* RFC 7231 7.1.1.1 IMF-fixdate, exactly "Sun, 06 Nov 1994 08:49:37 GMT"
 * (29 bytes, case-sensitive names, weekday consistent with the date,
 * second 60 allowed for a leap second). The obsolete RFC 850 and asctime
 * forms are refused. */
int gc__etcd_parse_http_date(const char *s, size_t len, int64_t *unix_s)
{
	static const char *const days[7] = {"Thu", "Fri", "Sat", "Sun",
					    "Mon", "Tue", "Wed"};
	static const char *const months[12] = {"Jan", "Feb", "Mar", "Apr",
					       "May", "Jun", "Jul", "Aug",
					       "Sep", "Oct", "Nov", "Dec"};
	int wday, day, mon, y_hi, y_lo, hh, mm, ss;
	int64_t year, d;
	if (len != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' ||
	    s[11] != ' ' || s[16] != ' ' || s[19] != ':' || s[22] != ':' ||
	    s[25] != ' ' || memcmp(s + 26, "GMT", 3) != 0)
		return GC_EINVAL;
	if ((wday = name_index(s, days, 7)) < 0 ||
	    (mon = name_index(s + 8, months, 12)) < 0 ||
	    two_digits(s + 5, &day) || two_digits(s + 12, &y_hi) ||
	    two_digits(s + 14, &y_lo) || two_digits(s + 17, &hh) ||
	    two_digits(s + 20, &mm) || two_digits(s + 23, &ss))
		return GC_EINVAL;
	year = y_hi * 100 + y_lo;
	mon++;
	if (day < 1 || day > days_in_month(year, mon) || hh > 23 || mm > 59 ||
	    ss > 60)
		return GC_EINVAL;
	d = days_from_civil(year, mon, day);
	/* 1970-01-01 was a Thursday (index 0 above) */
	if (((d % 7) + 7) % 7 != wday)
		return GC_EINVAL;
	*unix_s = d * 86400 + hh * 3600 + mm * 60 + ss;
	return 0;
}

/* ------------------------------------------------------------- probe */

#define DATE_MAX 64

struct probe {
	int64_t sent_ns, sent_mono_ns;
	int64_t recv_ns, recv_mono_ns;
	int headers;	     /* header lines seen */
	int date_count;	     /* Date headers seen */
	size_t date_len;     /* bytes of the (first) Date value, maybe > max */
	char date[DATE_MAX]; /* its first DATE_MAX - 1 bytes */
};

/* Connection established or reused, request about to be written. */
static int on_prereq(void *ud, char *conn_primary_ip, char *conn_local_ip,
		     int conn_primary_port, int conn_local_port)
{
	struct probe *p = ud;
	(void)conn_primary_ip;
	(void)conn_local_ip;
	(void)conn_primary_port;
	(void)conn_local_port;
	p->sent_ns = gc__wall_ns();
	p->sent_mono_ns = gc__mono_ns();
	return CURL_PREREQFUNC_OK;
}

/* One header line (the status line first). The first call comes as soon
 * as the answer's first bytes were read: that is `received`. */
static size_t on_header(char *line, size_t size, size_t n, void *ud)
{
	struct probe *p = ud;
	size_t len = size * n, vlen;
	const char *v;
	if (p->headers++ == 0) {
		p->recv_mono_ns = gc__mono_ns();
		p->recv_ns = gc__wall_ns();
	}
	if (len < 5 || strncasecmp(line, "date:", 5) != 0)
		return len;
	if (p->date_count++)
		return len;
	v = line + 5;
	vlen = len - 5;
	while (vlen && (*v == ' ' || *v == '\t')) {
		v++;
		vlen--;
	}
	while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' ||
			v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;
	p->date_len = vlen;
	memcpy(p->date, v, vlen < DATE_MAX - 1 ? vlen : DATE_MAX - 1);
	p->date[vlen < DATE_MAX - 1 ? vlen : DATE_MAX - 1] = '\0';
	return len;
}

/* Set the handle up for the probe, and back to the unary calls' POST. */
static void probe_options(CURL *e, struct probe *p, const char *url,
			  long timeout_ms)
{
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, on_prereq);
	curl_easy_setopt(e, CURLOPT_PREREQDATA, p);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, p);
}

static void unary_options(CURL *e)
{
	curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, NULL);
	curl_easy_setopt(e, CURLOPT_PREREQDATA, NULL);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, NULL);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, NULL);
	curl_easy_setopt(e, CURLOPT_POST, 1L);
}

/* Turn a finished exchange into a sample, or say what was wrong. */
static int probe_result(gc_etcd_clock_sample *out, const struct probe *p,
			const gc__etcd_conn *conn, const char *url,
			CURLcode crc, long status, gc_error *err)
{
	if (crc == CURLE_ABORTED_BY_CALLBACK)
		return gc__seterr(err, GC_ECANCELED, "etcd %s: canceled", url);
	if (crc != CURLE_OK)
		return gc__seterr(err, gc__etcd_curl_to_gc(crc),
				  "etcd %s: %s%s%s", url,
				  curl_easy_strerror(crc),
				  conn->errbuf[0] ? ": " : "", conn->errbuf);
	if (status != 200)
		return gc__seterr(
		    err, GC_EPROTO, "etcd %s: HTTP %ld instead of 200: %.200s",
		    url, status, conn->body.data ? conn->body.data : "");
	if (!p->sent_ns || !p->headers)
		return gc__seterr(err, GC_EPROTO,
				  "etcd %s: the exchange was not timed", url);
	if (!p->date_count)
		return gc__seterr(err, GC_EPROTO,
				  "etcd %s: the answer has no Date header",
				  url);
	if (p->date_len >= DATE_MAX ||
	    gc__etcd_parse_http_date(p->date, p->date_len, &out->server_s))
		return gc__seterr(err, GC_EPROTO,
				  "etcd %s: Date header \"%.60s\" is not an "
				  "RFC 7231 IMF-fixdate (\"Sun, 06 Nov 1994 "
				  "08:49:37 GMT\")",
				  url, p->date);
	out->sent_ns = p->sent_ns;
	out->sent_mono_ns = p->sent_mono_ns;
	out->received_ns = p->recv_ns;
	out->received_mono_ns = p->recv_mono_ns;
	return 0;
}

GC_EXTERN int gc_etcd_clock_probe(gc_etcd_clock_sample *out, gc_etcd *c,
				  gc_error *err)
{
	struct probe p;
	char url[1024];
	size_t ep;
	long status = 0;
	CURLcode crc;
	int rc;
	if (out)
		memset(out, 0, sizeof(*out));
	if (!out || !c)
		return gc__seterr(err, GC_EINVAL,
				  "etcd clock probe: out and client are "
				  "required");
	memset(&p, 0, sizeof(p));
	pthread_mutex_lock(&c->call_lock);
	ep = gc__etcd_current(c);
	snprintf(url, sizeof(url), "%s/version", c->endpoints[ep]);
	probe_options(c->conn.easy, &p, url, c->request_timeout_ms);
	crc = gc__etcd_conn_drive(&c->conn, &status);
	unary_options(c->conn.easy);
	rc = probe_result(out, &p, &c->conn, url, crc, status, err);
	if (rc == 0) {
		long connects = 0;
		curl_easy_getinfo(c->conn.easy, CURLINFO_NUM_CONNECTS,
				  &connects);
		out->connected = connects > 0;
		out->endpoint_index = ep;
		out->endpoint = c->endpoints[ep];
	}
	pthread_mutex_unlock(&c->call_lock);
	/* as a unary call would: after a failed transfer the next probe
	 * (and call) tries the next member */
	if (rc && gc__etcd_failover_worthy(crc))
		gc__etcd_advance(c, ep);
	return rc;
}
