/* Small internal utilities: buffers, strings, base64, clocks, RFC3339. */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int gc__buf_reserve(gc__buf *b, size_t extra)
{
	size_t need, cap;
	char *p;
	if (extra > SIZE_MAX - b->len - 1)
		return GC_ENOMEM;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(b->data, cap);
	if (!p)
		return GC_ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int gc__buf_append(gc__buf *b, const void *data, size_t len)
{
	int rc = gc__buf_reserve(b, len);
	if (rc)
		return rc;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int gc__buf_puts(gc__buf *b, const char *s)
{
	return gc__buf_append(b, s, strlen(s));
}

int gc__buf_vprintf(gc__buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n, rc;
	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return GC_EINVAL;
	rc = gc__buf_reserve(b, (size_t)n);
	if (rc)
		return rc;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int gc__buf_printf(gc__buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;
	va_start(ap, fmt);
	rc = gc__buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

void gc__buf_consume(gc__buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
	} else {
		memmove(b->data, b->data + n, b->len - n);
		b->len -= n;
	}
	if (b->data)
		b->data[b->len] = '\0';
}

void gc__buf_reset(gc__buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void gc__buf_free(gc__buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

char *gc__buf_detach(gc__buf *b)
{
	char *p;
	if (!b->data && gc__buf_reserve(b, 0))
		return NULL;
	p = b->data;
	p[b->len] = '\0';
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

char *gc__strdup(const char *s)
{
	return s ? gc__strndup(s, strlen(s)) : NULL;
}

char *gc__strndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);
	if (!p)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *gc__sprintf(const char *fmt, ...)
{
	gc__buf b = GC__BUF_INIT;
	va_list ap;
	int rc;
	va_start(ap, fmt);
	rc = gc__buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (rc) {
		gc__buf_free(&b);
		return NULL;
	}
	return gc__buf_detach(&b);
}

static const char b64chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *gc__base64_encode(const void *data, size_t len)
{
	const unsigned char *in = data;
	size_t outlen = 4 * ((len + 2) / 3), i, o = 0;
	char *out = malloc(outlen + 1);
	if (!out)
		return NULL;
	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
			     in[i + 2];
		out[o++] = b64chars[v >> 18 & 63];
		out[o++] = b64chars[v >> 12 & 63];
		out[o++] = b64chars[v >> 6 & 63];
		out[o++] = b64chars[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		out[o++] = b64chars[v >> 18 & 63];
		out[o++] = b64chars[v >> 12 & 63];
		out[o++] = i + 1 < len ? b64chars[v >> 6 & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return out;
}

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int gc__base64_decode(const char *in, size_t inlen, char **out, size_t *outlen)
{
	size_t i, o = 0;
	uint32_t acc = 0;
	int bits = 0, pad = 0;
	char *buf;
	*out = NULL;
	if (outlen)
		*outlen = 0;
	buf = malloc(inlen / 4 * 3 + 4);
	if (!buf)
		return GC_ENOMEM;
	for (i = 0; i < inlen; i++) {
		unsigned char c = (unsigned char)in[i];
		int v;
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad) /* data after padding */
			goto bad;
		v = b64val(c);
		if (v < 0)
			goto bad;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[o++] = (char)(acc >> bits & 0xff);
		}
	}
	if (pad > 2 || bits >= 6)
		goto bad;
	buf[o] = '\0';
	*out = buf;
	if (outlen)
		*outlen = o;
	return 0;
bad:
	free(buf);
	return GC_EINVAL;
}

int gc__parse_int64(const char *s, int64_t *out)
{
	char *end;
	long long v;
	if (!s || !*s)
		return GC_EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || end == s)
		return GC_EINVAL;
	*out = (int64_t)v;
	return 0;
}

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t gc__mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

int64_t gc__mono_ms(void)
{
	return clock_ns(CLOCK_MONOTONIC) / 1000000;
}

int64_t gc__wall_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

void gc__mono_deadline(struct timespec *out, int64_t ms)
{
	if (ms < 0)
		ms = 0;
	clock_gettime(CLOCK_MONOTONIC, out);
	out->tv_sec += (time_t)(ms / 1000);
	out->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (out->tv_nsec >= 1000000000L) {
		out->tv_sec++;
		out->tv_nsec -= 1000000000L;
	}
}

int gc__options_init(void *o, unsigned version, const gc__optver *v)
{
	if (!o || version == 0 || version > v->current)
		return GC_EINVAL;
	memset(o, 0, v->sizes[version - 1]);
	memcpy(o, &version, sizeof(version));
	return 0;
}

int gc__options_copy(void *dst, const void *src, const gc__optver *v,
		     gc_error *err)
{
	unsigned version = 0;
	memset(dst, 0, v->sizes[v->current - 1]);
	if (src)
		memcpy(&version, src, sizeof(version));
	if (version > v->current)
		return gc__seterr(err, GC_EINVAL,
				  "%s: options version %u is newer than this "
				  "library's (%u): built against a later "
				  "libgophercron header?",
				  v->what, version, v->current);
	if (src)
		memcpy(dst, src, v->sizes[version ? version - 1 : 0]);
	memcpy(dst, &v->current, sizeof(v->current));
	return 0;
}

void gc__rfc3339(int64_t unix_ns, bool utc, char out[48])
{
	int64_t sec = unix_ns / 1000000000, nsec = unix_ns % 1000000000;
	time_t t;
	struct tm tm;
	long off = 0;
	if (nsec < 0) {
		nsec += 1000000000;
		sec--;
	}
	t = (time_t)sec;
	if (utc) {
		gmtime_r(&t, &tm);
	} else {
		localtime_r(&t, &tm);
		off = tm.tm_gmtoff;
	}
	size_t n = strftime(out, 48, "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(out + n, 48 - n, ".%09lld", (long long)nsec);
	if (utc || off == 0) {
		snprintf(out + n, 48 - n, "Z");
	} else {
		char sign = off < 0 ? '-' : '+';
		if (off < 0)
			off = -off;
		snprintf(out + n, 48 - n, "%c%02ld:%02ld", sign, off / 3600,
			 off / 60 % 60);
	}
}

static int digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int gc__parse_rfc3339(const char *s, int64_t *unix_ns)
{
	int Y, M, D, h, m, sec, oh = 0, om = 0;
	int64_t frac = 0;
	const char *p;
	struct tm tm;
	if (!s || strlen(s) < 20 || digits(s, 4, &Y) || s[4] != '-' ||
	    digits(s + 5, 2, &M) || s[7] != '-' || digits(s + 8, 2, &D) ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &m) ||
	    s[16] != ':' || digits(s + 17, 2, &sec))
		return GC_EINVAL;
	p = s + 19;
	if (*p == '.') {
		int nd = 0;
		p++;
		while (*p >= '0' && *p <= '9') {
			if (nd < 9) {
				frac = frac * 10 + (*p - '0');
				nd++;
			}
			p++;
		}
		if (nd == 0)
			return GC_EINVAL;
		while (nd++ < 9)
			frac *= 10;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1;
		if (digits(p + 1, 2, &oh) || p[3] != ':' ||
		    digits(p + 4, 2, &om))
			return GC_EINVAL;
		oh *= sign;
		om *= sign;
		p += 6;
	} else {
		return GC_EINVAL;
	}
	if (*p || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 ||
	    sec > 60)
		return GC_EINVAL;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = Y - 1900;
	tm.tm_mon = M - 1;
	tm.tm_mday = D;
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = sec;
	int64_t t = (int64_t)timegm(&tm) - (int64_t)oh * 3600 - (int64_t)om * 60;
	*unix_ns = t * 1000000000 + frac;
	return 0;
}

int gc__hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void gc__strv_free(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void gc__secret_free(char *s)
{
	if (!s)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

int gc__write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The st_size bytes of a regular file (fewer when it shrinks or a read
 * fails midway: what was read is kept). */
static int read_sized(int fd, const struct stat *st, size_t max, char **out,
		      size_t *len)
{
	size_t got = 0;
	char *data;
	if ((uint64_t)st->st_size > max) {
		errno = EFBIG;
		return -1;
	}
	if (!(data = malloc((size_t)st->st_size + 1)))
		return -1;
	while (got < (size_t)st->st_size) {
		ssize_t n = read(fd, data + got, (size_t)st->st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		/* Shrunk, or unreadable from here on: keep what is there. */
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	data[got] = '\0';
	*out = data;
	*len = got;
	return 0;
}

/* A pipe or device, to its end. */
static int read_stream(int fd, size_t max, char **out, size_t *len)
{
	gc__buf b = GC__BUF_INIT;
	for (;;) {
		ssize_t n;
		if (gc__buf_reserve(&b, 4096) < 0) {
			errno = ENOMEM;
			break;
		}
		n = read(fd, b.data + b.len, b.cap - b.len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		if (n == 0) {
			*len = b.len;
			*out = gc__buf_detach(&b);
			return 0;
		}
		b.len += (size_t)n;
		if (b.len > max) {
			errno = EFBIG;
			break;
		}
	}
	gc__buf_free(&b);
	return -1;
}

int gc__read_file_ex(int dirfd, const char *path, unsigned flags, size_t max,
		     char **out, size_t *len, unsigned *mode)
{
	struct stat st;
	int fd = openat(dirfd, path,
			O_RDONLY | O_CLOEXEC |
				(flags & GC__READ_FOLLOW ? 0 : O_NOFOLLOW)),
	    rc = -1, e;
	*out = NULL;
	*len = 0;
	if (mode)
		*mode = 0;
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) == 0) {
		bool stream = (flags & GC__READ_STREAMS) && !S_ISREG(st.st_mode);
		errno = stream && S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		if (S_ISREG(st.st_mode)) {
			if (mode)
				*mode = (unsigned)st.st_mode & 07777;
			rc = read_sized(fd, &st, max, out, len);
		} else if (stream && !S_ISDIR(st.st_mode)) {
			rc = read_stream(fd, max, out, len);
		}
	}
	e = errno ? errno : EIO;
	close(fd);
	errno = e;
	return rc;
}

int gc__read_file_at(int dirfd, const char *path, size_t max, char **out,
		     size_t *len)
{
	return gc__read_file_ex(dirfd, path, 0, max, out, len, NULL);
}

size_t gc__utf8_put(char *d, uint32_t cp)
{
	if (cp < 0x80) {
		d[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		d[0] = (char)(0xc0 | cp >> 6);
		d[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		d[0] = (char)(0xe0 | cp >> 12);
		d[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		d[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	d[0] = (char)(0xf0 | cp >> 18);
	d[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	d[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	d[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

size_t gc__utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t c;
	size_t len, i;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		c = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		c = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		c = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
	    (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
		return 0;
	*cp = c;
	return len;
}

/* ------------------------------------------------------------- output */

size_t gc__omitted_marker(char *buf, size_t len, uint64_t omitted)
{
	int n = snprintf(buf, len, "\n... [%" PRIu64 " bytes omitted] ...\n",
			 omitted);
	return n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
}

size_t gc__output_cap(char *dst, const char *src, size_t len, size_t limit)
{
	char marker[GC__OMITTED_MARKER_MAX];
	size_t head = limit / 2, tail = limit - head, mlen;
	if (len <= limit + GC__OMITTED_MARKER_MAX) {
		if (dst != src)
			memmove(dst, src, len);
		dst[len] = '\0';
		return len;
	}
	mlen = gc__omitted_marker(marker, sizeof(marker), len - limit);
	if (dst != src)
		memcpy(dst, src, head);
	/* in place, head + marker + tail < len: the tail moves to the front */
	memmove(dst + head + mlen, src + len - tail, tail);
	memcpy(dst + head, marker, mlen);
	dst[head + mlen + tail] = '\0';
	return head + mlen + tail;
}

/* ---------------------------------------------------------------- logs */

void gc__log_escape(char *out, size_t outlen, const char *in)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)in;
	size_t n = strlen(in), i = 0, o = 0;
	if (!outlen)
		return;
	while (i < n) {
		char esc[16];
		size_t elen = 0, adv = 1, k;
		uint32_t cp = 0;
		if (s[i] >= 0x20 && s[i] < 0x7f) {
			/* plain ASCII: the common case, copied as it is */
			esc[0] = (char)s[i];
			elen = 1;
		} else if (s[i] == '\n' || s[i] == '\r' || s[i] == '\t') {
			esc[0] = '\\';
			esc[1] = s[i] == '\n' ? 'n' : s[i] == '\r' ? 'r' : 't';
			elen = 2;
		} else if (s[i] >= 0x80 &&
			   (adv = gc__utf8_seq(s + i, n - i, &cp)) &&
			   !(cp >= 0x80 && cp <= 0x9f)) {
			memcpy(esc, s + i, adv); /* valid, not a C1 control */
			elen = adv;
		} else {
			/* C0, DEL, C1 controls and bytes that are not UTF-8 */
			adv = adv ? adv : 1;
			for (k = 0; k < adv; k++) {
				esc[elen++] = '\\';
				esc[elen++] = 'x';
				esc[elen++] = hex[s[i + k] >> 4];
				esc[elen++] = hex[s[i + k] & 15];
			}
		}
		if (o + elen >= outlen)
			break; /* cut before a character, never inside one */
		memcpy(out + o, esc, elen);
		o += elen;
		i += adv;
	}
	out[o] = '\0';
}

void gc__log_vformat(char *out, size_t outlen, const char *fmt, va_list ap)
{
	char raw[2048];
	vsnprintf(raw, sizeof(raw), fmt, ap);
	gc__log_escape(out, outlen, raw);
}
