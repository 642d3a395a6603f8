/* Unit tests for the internal utilities (buffers, base64, RFC3339). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void base64_round_trips_every_length(void **state)
{
	(void)state;
	unsigned char data[64];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 37 + 11);
	for (size_t n = 0; n <= sizeof(data); n++) {
		char *enc = gc__base64_encode(data, n), *dec = NULL;
		size_t dl = 0;
		assert_non_null(enc);
		assert_int_equal(strlen(enc), 4 * ((n + 2) / 3));
		assert_int_equal(gc__base64_decode(enc, strlen(enc), &dec, &dl),
				 0);
		assert_int_equal(dl, n);
		assert_memory_equal(dec, data, n);
		free(enc);
		free(dec);
	}
}

static void base64_matches_known_etcd_keys(void **state)
{
	(void)state;
	char *enc = gc__base64_encode("/cron/jobs/a", 12);
	assert_string_equal(enc, "L2Nyb24vam9icy9h");
	free(enc);
	char *dec;
	size_t n;
	assert_int_equal(gc__base64_decode("L2Nyb24vam9iczA=", 16, &dec, &n),
			 0);
	assert_string_equal(dec, "/cron/jobs0");
	free(dec);
}

static void base64_rejects_junk(void **state)
{
	(void)state;
	char *dec = NULL;
	assert_int_equal(gc__base64_decode("ab$d", 4, &dec, NULL), GC_EINVAL);
	assert_null(dec);
	assert_int_equal(gc__base64_decode("ab=c", 4, &dec, NULL), GC_EINVAL);
}

static void buf_grows_and_consumes(void **state)
{
	(void)state;
	gc__buf b = GC__BUF_INIT;
	for (int i = 0; i < 1000; i++)
		assert_int_equal(gc__buf_printf(&b, "%d,", i), 0);
	assert_memory_equal(b.data, "0,1,2,", 6);
	gc__buf_consume(&b, 2);
	assert_memory_equal(b.data, "1,2,", 4);
	char *s = gc__buf_detach(&b);
	assert_null(b.data);
	free(s);
	gc__buf_free(&b);
}

static void rfc3339_formats_nanoseconds_in_utc(void **state)
{
	(void)state;
	char out[48];
	gc__rfc3339(1356998400LL * 1000000000 + 123456789, true, out);
	assert_string_equal(out, "2013-01-01T00:00:00.123456789Z");
	int64_t ns;
	assert_int_equal(gc__parse_rfc3339(out, &ns), 0);
	assert_true(ns == 1356998400LL * 1000000000 + 123456789);
	assert_int_equal(
		gc__parse_rfc3339("2013-01-01T08:00:00.5+08:00", &ns), 0);
	assert_true(ns == 1356998400LL * 1000000000 + 500000000);
	assert_int_equal(gc__parse_rfc3339("2013-01-01 junk", &ns), GC_EINVAL);
}

static void error_messages_are_prefixed(void **state)
{
	(void)state;
	gc_error e;
	assert_int_equal(gc__seterr(&e, GC_EINVAL, "field %s", "minute"),
			 GC_EINVAL);
	gc__err_prefix(&e, "cron '%s'", "61 * * * *");
	assert_string_equal(e.msg, "cron '61 * * * *': field minute");
	assert_int_equal(e.code, GC_EINVAL);
	assert_string_equal(gc_strerror(GC_ENOTFOUND), "not found");
	assert_int_equal(gc__seterr(NULL, GC_EIO, "x"), GC_EIO);
}

/* Log lines: no value can start a line of its own or reach a terminal as
 * an escape sequence; text, UTF-8 and backslashes stay readable. */
static void log_escape_makes_controls_visible(void **state)
{
	(void)state;
	char out[256];
	gc__log_escape(out, sizeof(out),
		       "failed login for \"x\n2026-01-01 [err] forged\r\t\"");
	assert_string_equal(out, "failed login for \"x\\n2026-01-01 [err] "
				 "forged\\r\\t\"");
	gc__log_escape(out, sizeof(out), "esc \x1b[31mred\x7f bell\x07");
	assert_string_equal(out, "esc \\x1b[31mred\\x7f bell\\x07");
	/* UTF-8 and backslashes as they are; C1 controls and stray bytes
	 * escaped byte by byte */
	gc__log_escape(out, sizeof(out), "caf\xc3\xa9 C:\\x \xc2\x9b \xff\xc3");
	assert_string_equal(out, "caf\xc3\xa9 C:\\x \\xc2\\x9b \\xff\\xc3");
	/* escaping twice changes nothing */
	char again[256];
	gc__log_escape(again, sizeof(again), out);
	assert_string_equal(again, out);
}

static void log_escape_cuts_between_characters(void **state)
{
	(void)state;
	char out[8];
	gc__log_escape(out, sizeof(out), "abcde\nf");
	assert_string_equal(out, "abcde\\n"); /* 7 bytes and the NUL */
	gc__log_escape(out, sizeof(out), "abcdef\ng");
	assert_string_equal(out, "abcdef"); /* "\\n" would not fit whole */
	gc__log_escape(out, sizeof(out), "ab\xe2\x82\xac\xe2\x82\xac");
	assert_string_equal(out, "ab\xe2\x82\xac"); /* never half a euro */
	gc__log_escape(out, 1, "abc");
	assert_string_equal(out, "");
}

/* The executor's rule for a whole buffer: head, marker, tail; an output
 * already capped at the same limit (marker included) is kept. */
static void output_cap_keeps_head_and_tail(void **state)
{
	(void)state;
	char buf[2048], marker[GC__OMITTED_MARKER_MAX];
	size_t len = 1000;
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)('a' + i % 26);
	buf[len] = '\0';
	char orig[2048];
	memcpy(orig, buf, len + 1);
	len = gc__output_cap(buf, buf, len, 256); /* in place */
	size_t mlen = gc__omitted_marker(marker, sizeof(marker), 1000 - 256);
	assert_string_equal(marker, "\n... [744 bytes omitted] ...\n");
	assert_int_equal(len, 256 + mlen);
	char copy[512];
	assert_int_equal(gc__output_cap(copy, orig, 1000, 256), len);
	assert_memory_equal(copy, buf, len + 1); /* same into another buffer */
	assert_memory_equal(buf, orig, 128);
	assert_memory_equal(buf + 128, marker, mlen);
	assert_memory_equal(buf + 128 + mlen, orig + 1000 - 128, 128);
	assert_int_equal(buf[len], '\0');
	/* cutting the result again at the same limit changes nothing */
	assert_int_equal(gc__output_cap(copy, buf, len, 256), len);
	assert_memory_equal(copy, buf, len + 1);
	/* short outputs stay */
	assert_int_equal(gc__output_cap(copy, orig, 300, 256), 300);
	assert_memory_equal(copy, orig, 300);
}

/* ------------------------------------------------------- whole files */

struct pipe_writer {
	const char *path;
	size_t n; /* bytes to write */
};

static void *write_pipe(void *p)
{
	const struct pipe_writer *w = p;
	int fd = open(w->path, O_WRONLY | O_CLOEXEC);
	char chunk[100];
	memset(chunk, 'p', sizeof(chunk));
	if (fd >= 0) {
		for (size_t left = w->n; left > 0;) {
			size_t k = left < sizeof(chunk) ? left : sizeof(chunk);
			if (gc__write_full(fd, chunk, k) < 0)
				break; /* the reader stopped reading */
			left -= k;
		}
		close(fd);
	}
	return NULL;
}

/* Read a FIFO fed by a thread with `n` bytes. */
static int read_fifo(const char *path, size_t n, size_t max, char **out,
		     size_t *len)
{
	struct pipe_writer w = {path, n};
	pthread_t th;
	int rc, e;
	assert_int_equal(pthread_create(&th, NULL, write_pipe, &w), 0);
	rc = gc__read_file_ex(AT_FDCWD, path, GC__READ_STREAMS, max, out, len,
			      NULL);
	e = errno;
	assert_int_equal(pthread_join(th, NULL), 0);
	errno = e;
	return rc;
}

/* gc__read_file_at reads regular files only, never through a symlink;
 * gc__read_file_ex may follow one and read pipes, with the same bound. */
static void whole_files_symlinks_and_pipes(void **state)
{
	(void)state;
	char dir[] = "/tmp/gc-util-XXXXXX", path[64], link[64], fifo[64];
	char *data;
	size_t len;
	unsigned mode = 99;
	FILE *f;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/file", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	f = fopen(path, "we");
	assert_non_null(f);
	fputs("hello\n", f);
	fclose(f);
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(mkfifo(fifo, 0600), 0);

	assert_int_equal(gc__read_file_at(AT_FDCWD, path, 64, &data, &len), 0);
	assert_int_equal(len, 6);
	assert_string_equal(data, "hello\n");
	free(data);
	assert_int_equal(gc__read_file_at(AT_FDCWD, path, 5, &data, &len), -1);
	assert_int_equal(errno, EFBIG);
	assert_int_equal(gc__read_file_at(AT_FDCWD, link, 64, &data, &len), -1);
	assert_int_equal(errno, ELOOP);
	assert_null(data);
	assert_int_equal(gc__read_file_at(AT_FDCWD, dir, 64, &data, &len), -1);
	assert_int_equal(errno, EINVAL);

	assert_int_equal(gc__read_file_ex(AT_FDCWD, link, GC__READ_FOLLOW, 64,
					  &data, &len, &mode),
			 0);
	assert_string_equal(data, "hello\n");
	assert_int_equal(mode, 0640);
	free(data);
	assert_int_equal(gc__read_file_ex(AT_FDCWD, dir, GC__READ_STREAMS, 64,
					  &data, &len, &mode),
			 -1);
	assert_int_equal(errno, EISDIR);
	assert_int_equal(mode, 0);

	assert_int_equal(read_fifo(fifo, 5000, 5000, &data, &len), 0);
	assert_int_equal(len, 5000);
	assert_int_equal(strlen(data), 5000);
	free(data);
	assert_int_equal(read_fifo(fifo, 5001, 5000, &data, &len), -1);
	assert_int_equal(errno, EFBIG);
	assert_null(data);

	unlink(fifo);
	unlink(link);
	unlink(path);
	rmdir(dir);
}

static void utf8_put_writes_what_utf8_seq_reads(void **state)
{
	(void)state;
	static const uint32_t cps[] = {0x1, 0x7F, 0x80, 0xE9, 0x7FF, 0x800,
				       0xFFFF, 0x10000, 0x1F600, 0x10FFFF};
	static const size_t lens[] = {1, 1, 2, 2, 2, 3, 3, 4, 4, 4};
	for (size_t i = 0; i < sizeof(cps) / sizeof(cps[0]); i++) {
		char b[4];
		uint32_t back = 0;
		size_t n = gc__utf8_put(b, cps[i]);
		assert_int_equal(n, lens[i]);
		assert_int_equal(gc__utf8_seq((unsigned char *)b, n, &back), n);
		assert_int_equal(back, cps[i]);
	}
}

static int64_t ts_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

/* Deadlines for pthread_cond_timedwait: `ms` after now on the monotonic
 * clock, nanoseconds normalised (every carry case), negative as now. */
static void mono_deadline_is_ms_from_now(void **state)
{
	(void)state;
	for (int64_t ms = -5; ms < 3000; ms += 7) {
		struct timespec ts;
		int64_t before = gc__mono_ns(), after;
		int64_t want = ms < 0 ? 0 : ms * 1000000;
		gc__mono_deadline(&ts, ms);
		after = gc__mono_ns();
		assert_true(ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000L);
		assert_true(ts_ns(&ts) >= before + want);
		assert_true(ts_ns(&ts) <= after + want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(base64_round_trips_every_length),
		cmocka_unit_test(base64_matches_known_etcd_keys),
		cmocka_unit_test(base64_rejects_junk),
		cmocka_unit_test(buf_grows_and_consumes),
		cmocka_unit_test(rfc3339_formats_nanoseconds_in_utc),
		cmocka_unit_test(error_messages_are_prefixed),
		cmocka_unit_test(log_escape_makes_controls_visible),
		cmocka_unit_test(log_escape_cuts_between_characters),
		cmocka_unit_test(output_cap_keeps_head_and_tail),
		cmocka_unit_test(whole_files_symlinks_and_pipes),
		cmocka_unit_test(utf8_put_writes_what_utf8_seq_reads),
		cmocka_unit_test(mono_deadline_is_ms_from_now),
	};
	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
