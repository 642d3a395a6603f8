/* Unit tests for the reporter's spool: framing, order, recovery of torn
 * tails, cursor slots, rotation and deletion, bounds, locking, fds. Real
 * files in a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "harness.h"
#include "reporter/inflight.h"
#include "reporter/spool.h"

#include <gophercron/reporter.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct fixture {
	char *dir;
	int logged_err, logged_warn;
	char last_log[2048];
} fixture;

static void on_log(int level, const char *msg, void *payload)
{
	fixture *f = payload;
	if (level <= GC_LOG_ERR)
		f->logged_err++;
	else if (level == GC_LOG_WARNING)
		f->logged_warn++;
	snprintf(f->last_log, sizeof(f->last_log), "%s", msg);
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	f->dir = gct_tmpdir("spool");
	*state = f;
	return f->dir ? 0 : -1;
}

static int teardown(void **state)
{
	fixture *f = *state;
	gct_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static gc__spool *open_opts(fixture *f, uint64_t max_bytes,
			    uint64_t max_records, uint64_t segment_bytes)
{
	gc__spool_options o;
	gc__spool *s = NULL;
	gc_error err = {0, ""};
	memset(&o, 0, sizeof(o));
	o.dir = f->dir;
	o.max_bytes = max_bytes;
	o.max_records = max_records;
	o.segment_bytes = segment_bytes;
	o.sync = GC_REPORTER_SYNC_NONE;
	o.log = on_log;
	o.log_payload = f;
	if (gc__spool_open(&s, &o, &err))
		fail_msg("spool open: %s", err.msg);
	return s;
}

static gc__spool *open_default(fixture *f)
{
	return open_opts(f, 0, 0, 0);
}

static void append(gc__spool *s, int type, const char *text)
{
	gc_error err = {0, ""};
	if (gc__spool_append(s, type, text, strlen(text), &err))
		fail_msg("append: %s", err.msg);
}

static void append_n(gc__spool *s, int from, int to)
{
	char b[64];
	for (int i = from; i < to; i++) {
		snprintf(b, sizeof(b), "{\"n\":%d}", i);
		append(s, i % 3 ? GC__SPOOL_REC_RESULT : GC__SPOOL_REC_WARNING,
		       b);
	}
}

/* Read everything from the head; check the payloads are {"n":from..to-1}
 * in order; optionally commit all of it. */
static void expect_records(gc__spool *s, int from, int to, int do_commit)
{
	gc__spool_pos pos = gc__spool_head(s);
	gc__spool_rec rec;
	gc_error err;
	uint64_t bytes = 0;
	char want[64];
	memset(&rec, 0, sizeof(rec));
	for (int i = from; i < to; i++) {
		int rc = gc__spool_read(s, &pos, &rec, &err);
		if (rc)
			fail_msg("record %d: read returned %d", i, rc);
		snprintf(want, sizeof(want), "{\"n\":%d}", i);
		assert_string_equal(rec.payload.data, want);
		assert_int_equal(rec.type, i % 3 ? GC__SPOOL_REC_RESULT
						 : GC__SPOOL_REC_WARNING);
		bytes += rec.size;
	}
	assert_int_equal(gc__spool_read(s, &pos, &rec, &err), GC_ENOTFOUND);
	if (do_commit)
		assert_int_equal(gc__spool_commit(s, pos, (uint64_t)(to - from),
						  bytes, &err),
				 0);
	gc__buf_free(&rec.payload);
}

static int count_files(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;
	assert_non_null(d);
	while ((de = readdir(d)))
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			n++;
	closedir(d);
	return n;
}

/* Path of the newest segment file. */
static void last_segment(const char *dir, char *out, size_t len)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char best[64] = "";
	assert_non_null(d);
	while ((de = readdir(d)))
		if (strncmp(de->d_name, "seg-", 4) == 0 &&
		    strstr(de->d_name, ".spool") &&
		    !strstr(de->d_name, ".corrupt") &&
		    strcmp(de->d_name, best) > 0)
			snprintf(best, sizeof(best), "%.60s", de->d_name);
	closedir(d);
	assert_true(best[0]);
	snprintf(out, len, "%s/%s", dir, best);
}

static off_t file_size(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

/* ------------------------------------------------------------- tests */

static void crc32_matches_the_ieee_check_value(void **state)
{
	(void)state;
	assert_int_equal(gc__crc32(0, "123456789", 9), 0xCBF43926u);
	/* chaining equals one pass */
	assert_int_equal(gc__crc32(gc__crc32(0, "1234", 4), "56789", 5),
			 0xCBF43926u);
	assert_int_equal(gc__crc32(0, "", 0), 0);
}

static void records_come_back_in_order_with_their_type(void **state)
{
	fixture *f = *state;
	gc__spool *s = open_default(f);
	gc__spool_stats st;
	append_n(s, 0, 50);
	gc__spool_get_stats(s, &st);
	assert_int_equal(st.pending_records, 50);
	expect_records(s, 0, 50, 1);
	gc__spool_get_stats(s, &st);
	assert_int_equal(st.pending_records, 0);
	assert_int_equal(st.pending_bytes, 0);
	assert_int_equal(st.committed, 50);
	gc__spool_close(s);
}

static void empty_spool_reads_nothing_until_an_append(void **state)
{
	fixture *f = *state;
	gc__spool *s = open_default(f);
	gc__spool_pos pos = gc__spool_head(s);
	gc__spool_rec rec;
	memset(&rec, 0, sizeof(rec));
	assert_int_equal(gc__spool_read(s, &pos, &rec, NULL), GC_ENOTFOUND);
	append(s, GC__SPOOL_REC_RESULT, "{}");
	assert_int_equal(gc__spool_read(s, &pos, &rec, NULL), 0);
	assert_string_equal(rec.payload.data, "{}");
	assert_int_equal(rec.size, GC__SPOOL_REC_HDR + 2);
	gc__buf_free(&rec.payload);
	gc__spool_close(s);
}

static void undelivered_records_survive_a_reopen(void **state)
{
	fixture *f = *state;
	gc__spool *s = open_default(f);
	gc__spool_stats st;
	append_n(s, 0, 10);
	expect_records(s, 0, 10, 1); /* delivered */
	append_n(s, 10, 25);         /* not delivered */
	gc__spool_close(s);
	s = open_default(f);
	gc__spool_get_stats(s, &st);
	assert_int_equal(st.recovered, 15);
	assert_int_equal(st.pending_records, 15);
	assert_int_equal(st.torn_bytes, 0);
	expect_records(s, 10, 25, 1);
	gc__spool_close(s);
	s = open_default(f);
	gc__spool_get_stats(s, &st);
	assert_int_equal(st.recovered, 0);
	gc__spool_close(s);
}

static void partially_read_but_uncommitted_records_are_read_again(void **state)
{
	fixture *f = *state;
	gc__spool *s = open_default(f);
	gc__spool_pos pos;
	gc__spool_rec rec;
	memset(&rec, 0, sizeof(rec));
	append_n(s, 0, 3);
	pos = gc__spool_head(s);
	assert_int_equal(gc__spool_read(s, &pos, &rec, NULL), 0);
	assert_int_equal(gc__spool_read(s, &pos, &rec, NULL), 0);
	gc__buf_free(&rec.payload);
	gc__spool_close(s); /* crash-like: read but never committed */
	s = open_default(f);
	expect_records(s, 0, 3, 1);
	gc__spool_close(s);
}

/* Cut the last record at every byte: everything before it stays, the torn
 * part is counted and removed, appends continue after it. */
static void torn_tail_is_cut_at_every_length(void **state)
{
	fixture *f = *state;
	char path[512];
	gc__spool *s = open_default(f);
	append_n(s, 0, 5);
	gc__spool_close(s);
	last_segment(f->dir, path, sizeof(path));
	off_t full = file_size(path);
	off_t rec = GC__SPOOL_REC_HDR + (off_t)strlen("{\"n\":4}");
	for (off_t keep = 1; keep < rec; keep++) {
		gc__spool_stats st;
		/* rebuild 5 records, then tear the 5th */
		gct_rmrf(f->dir);
		assert_int_equal(mkdir(f->dir, 0700), 0);
		s = open_default(f);
		append_n(s, 0, 5);
		gc__spool_close(s);
		assert_int_equal(file_size(path), full);
		assert_int_equal(truncate(path, full - rec + keep), 0);
		f->logged_warn = 0;
		s = open_default(f);
		gc__spool_get_stats(s, &st);
		assert_int_equal(st.torn_bytes, (uint64_t)keep);
		assert_int_equal(st.recovered, 4);
		assert_true(f->logged_warn >= 1); /* never silent */
		assert_int_equal(file_size(path), full - rec);
		append(s, GC__SPOOL_REC_RESULT, "{\"n\":4}");
		expect_records(s, 0, 5, 1);
		gc__spool_close(s);
	}
}

static void garbage_after_the_last_record_is_cut(void **state)
{
	fixture *f = *state;
	char path[512];
	gc__spool_stats st;
	gc__spool *s = open_default(f);
	append_n(s, 0, 7);
	gc__spool_close(s);
	last_segment(f->dir, path, sizeof(path));
	int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	assert_true(fd >= 0);
	/* a plausible header claiming a huge payload, then junk */
	unsigned char junk[40] = {0x10, 0, 0, 0x7f, 1, 2, 3, 4, 1, 1, 0, 0};
	for (size_t i = 12; i < sizeof(junk); i++)
		junk[i] = (unsigned char)(i * 31);
	assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	close(fd);
	s = open_default(f);
	gc__spool_get_stats(s, &st);
	assert_int_equal(st.torn_bytes, sizeof(junk));
	assert_int_equal(st.recovered, 7);
	expect_records(s, 0, 7, 1);
	gc__spool_close(s);
}

static void flipped_bit_in_the_last_record_fails_its_crc(void **state)
{
	fixture *f = *state;
	char path[512];
	gc__spool_stats st;
	gc__spool *s = open_default(f);
	append_n(s, 0, 4);
	gc__spool_close(s);
	last_segment(f->dir, path, sizeof(path));
	off_t size = file_size(path);
	int fd = open(path, O_RDWR | O_CLOEXEC);
	char c;
	assert_int_equal(pread(fd, &c, 1, size - 2), 1);
	c ^= 0x04;
	assert_int_equal(pwrite(fd, &c, 1, size - 2), 1);
	close(fd);
	s = open_default(f);
	gc__spool_get_stats(s, &st);
	assert_int_equal(st.recovered, 3);
	assert_true(st.torn_bytes > 0);
	expect_records(s, 0, 3, 1);
	gc__spool_close(s);
}

static void rotated_segments_are_deleted_once_delivered(void **state)
{
	fixture *f = *state;
	/* 4 KiB segments: ~200 records each */
	gc__spool *s = open_opts(f, 1 << 20, 0, 4096);
	gc__spool_stats st;
	append_n(s, 0, 2000);
	gc__spool_get_stats(s, &st);
	assert_true(st.segments > 5);
	assert_int_equal(count_files(f->dir, "seg-"), (int)st.segments);
	gc__spool_close(s);
	s = open_opts(f, 1 << 20, 0, 4096); /* across a restart too */
	expect_records(s, 0, 2000, 1);
	gc__spool_get_stats(s, &st);
	assert_int_equal(st.segments, 1); /* only the active one is left */
	assert_int_equal(count_files(f->dir, "seg-"), 1);
	append_n(s, 2000, 2010);
	expect_records(s, 2000, 2010, 1);
	gc__spool_close(s);
}

static void commit_in_steps_keeps_the_rest(void **state)
{
	fixture *f = *state;
	gc__spool *s = open_opts(f, 1 << 20, 0, 4096);
	gc__spool_pos pos;
	gc__spool_rec rec;
	uint64_t bytes = 0;
	memset(&rec, 0, sizeof(rec));
	append_n(s, 0, 600);
	pos = gc__spool_head(s);
	for (int i = 0; i < 450; i++) {
		assert_int_equal(gc__spool_read(s, &pos, &rec, NULL), 0);
		bytes += rec.size;
		if (i % 50 == 49) {
			assert_int_equal(gc__spool_commit(s, pos, 50, bytes,
							  NULL),
					 0);
			bytes = 0;
		}
	}
	gc__buf_free(&rec.payload);
	gc__spool_close(s);
	s = open_opts(f, 1 << 20, 0, 4096);
	expect_records(s, 450, 600, 1);
	gc__spool_close(s);
}

/* The newest cursor slot torn: the older one is used, so records since
 * that commit are delivered again (at least once), none are lost. */
static void a_spoiled_cursor_slot_falls_back_to_the_other(void **state)
{
	fixture *f = *state;
	gc__spool *s = open_default(f);
	gc__spool_pos pos;
	gc__spool_rec rec;
	char path[512];
	uint64_t gen_slot_off;
	memset(&rec, 0, sizeof(rec));
	append_n(s, 0, 6);
	pos = gc__spool_head(s);
	for (int i = 0; i < 4; i++) { /* commit records one by one: 0..3 */
		assert_int_equal(gc__spool_read(s, &pos, &rec, NULL), 0);
		assert_int_equal(gc__spool_commit(s, pos, 1, rec.size, NULL), 0);
	}
	gc__buf_free(&rec.payload);
	gc__spool_close(s);
	/* Find the slot with the higher generation and spoil it. */
	snprintf(path, sizeof(path), "%s/cursor", f->dir);
	int fd = open(path, O_RDWR | O_CLOEXEC);
	unsigned char a[32], b[32];
	assert_int_equal(pread(fd, a, 32, 0), 32);
	assert_int_equal(pread(fd, b, 32, 512), 32);
	uint64_t ga = 0, gb = 0;
	for (int i = 7; i >= 0; i--) {
		ga = ga << 8 | a[8 + i];
		gb = gb << 8 | b[8 + i];
	}
	gen_slot_off = ga > gb ? 0 : 512;
	unsigned char x = 0xff;
	assert_int_equal(pwrite(fd, &x, 1, (off_t)gen_slot_off + 20), 1);
	close(fd);
	s = open_default(f);
	expect_records(s, 3, 6, 1); /* record 3 again, then 4 and 5 */
	gc__spool_close(s);
}

static void a_cursor_inside_a_record_moves_back_to_its_start(void **state)
{
	fixture *f = *state;
	gc__spool *s = open_default(f);
	gc__spool_pos pos;
	gc__spool_rec rec;
	gc__spool_stats st;
	memset(&rec, 0, sizeof(rec));
	append_n(s, 0, 5);
	pos = gc__spool_head(s);
	assert_int_equal(gc__spool_read(s, &pos, &rec, NULL), 0);
	assert_int_equal(gc__spool_read(s, &pos, &rec, NULL), 0);
	/* a cursor 3 bytes into record 2 (not a boundary) */
	pos.off += 3;
	assert_int_equal(gc__spool_commit(s, pos, 2, 0, NULL), 0);
	gc__buf_free(&rec.payload);
	gc__spool_close(s);
	s = open_default(f);
	gc__spool_get_stats(s, &st);
	assert_int_equal(st.recovered, 3);
	expect_records(s, 2, 5, 1);
	gc__spool_close(s);
}

static void the_bound_refuses_new_records_and_frees_up_on_commit(void **state)
{
	fixture *f = *state;
	gc__spool *s = open_opts(f, 0, 3, 0);
	gc_error err = {0, ""};
	gc__spool_stats st;
	append_n(s, 0, 3);
	assert_int_equal(gc__spool_append(s, GC__SPOOL_REC_RESULT, "{}", 2,
					  &err),
			 GC_ETOOBIG);
	assert_non_null(strstr(err.msg, "full"));
	assert_non_null(strstr(err.msg, "3 records"));
	gc__spool_get_stats(s, &st);
	assert_int_equal(st.pending_records, 3); /* the oldest are kept */
	expect_records(s, 0, 3, 1);
	append_n(s, 3, 6);
	expect_records(s, 3, 6, 1);
	gc__spool_close(s);

	/* the byte bound, and a record that can never fit */
	gct_rmrf(f->dir);
	s = open_opts(f, 4096, 0, 0);
	char big[5000];
	memset(big, 'x', sizeof(big));
	assert_int_equal(gc__spool_append(s, GC__SPOOL_REC_RESULT, big,
					  sizeof(big), &err),
			 GC_ETOOBIG);
	assert_non_null(strstr(err.msg, "larger than the spool bound"));
	int n = 0;
	while (gc__spool_append(s, GC__SPOOL_REC_RESULT, big, 500, &err) == 0)
		n++;
	assert_int_equal(n, 4096 / (500 + GC__SPOOL_REC_HDR));
	gc__spool_get_stats(s, &st);
	assert_true(st.pending_bytes <= 4096);
	gc__spool_close(s);
}

static void a_second_owner_is_refused_with_the_holders_pid(void **state)
{
	fixture *f = *state;
	gc__spool *s = open_default(f), *t = NULL;
	gc__spool_options o;
	gc_error err = {0, ""};
	char pid[32];
	memset(&o, 0, sizeof(o));
	o.dir = f->dir;
	assert_int_equal(gc__spool_open(&t, &o, &err), GC_ECONFLICT);
	assert_null(t);
	snprintf(pid, sizeof(pid), "pid %ld", (long)getpid());
	assert_non_null(strstr(err.msg, pid));
	assert_non_null(strstr(err.msg, "in use"));
	gc__spool_close(s);
	assert_int_equal(gc__spool_open(&t, &o, &err), 0); /* released */
	gc__spool_close(t);
}

static void every_descriptor_is_close_on_exec(void **state)
{
	fixture *f = *state;
	gc__spool *s = open_opts(f, 0, 0, 4096);
	gc__spool_pos pos;
	gc__spool_rec rec;
	DIR *d;
	struct dirent *de;
	int checked = 0;
	memset(&rec, 0, sizeof(rec));
	append_n(s, 0, 300); /* rotates: several segment fds over time */
	pos = gc__spool_head(s);
	assert_int_equal(gc__spool_read(s, &pos, &rec, NULL), 0);
	gc__buf_free(&rec.payload);
	d = opendir("/proc/self/fd");
	assert_non_null(d);
	while ((de = readdir(d))) {
		char link[512], target[512];
		ssize_t n;
		int fd = atoi(de->d_name);
		if (de->d_name[0] == '.' || fd == dirfd(d))
			continue;
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (strncmp(target, f->dir, strlen(f->dir)) != 0)
			continue;
		assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
		checked++;
	}
	closedir(d);
	assert_true(checked >= 4); /* dir, lock, cursor, active, reader */
	gc__spool_close(s);
}

static void a_segment_cut_before_its_header_is_removed(void **state)
{
	fixture *f = *state;
	char path[600];
	gc__spool_stats st;
	gc__spool *s = open_default(f);
	append_n(s, 0, 3);
	gc__spool_close(s);
	/* a crash right after creating the next segment */
	snprintf(path, sizeof(path), "%s/seg-00000000000000ff.spool", f->dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_int_equal(write(fd, "GCSP", 4), 4);
	close(fd);
	s = open_default(f);
	gc__spool_get_stats(s, &st);
	assert_int_equal(st.torn_bytes, 4);
	assert_int_equal(access(path, F_OK), -1);
	expect_records(s, 0, 3, 1);
	gc__spool_close(s);
}

static void damage_found_while_reading_skips_loudly_and_continues(void **state)
{
	fixture *f = *state;
	char path[512];
	gc__spool *s = open_default(f);
	gc__spool_pos pos;
	gc__spool_rec rec;
	gc__spool_stats st;
	memset(&rec, 0, sizeof(rec));
	append_n(s, 0, 4);
	last_segment(f->dir, path, sizeof(path));
	/* damage record 2 behind the spool's back */
	int fd = open(path, O_RDWR | O_CLOEXEC);
	off_t off = GC__SPOOL_SEG_HDR + 2 * (GC__SPOOL_REC_HDR + 7) + 14;
	assert_int_equal(pwrite(fd, "#", 1, off), 1);
	close(fd);
	pos = gc__spool_head(s);
	assert_int_equal(gc__spool_read(s, &pos, &rec, NULL), 0);
	assert_int_equal(gc__spool_read(s, &pos, &rec, NULL), 0);
	assert_int_equal(gc__spool_commit(s, pos, 2, 2 * rec.size, NULL), 0);
	f->logged_err = 0;
	assert_int_equal(gc__spool_read(s, &pos, &rec, NULL), GC_EPROTO);
	assert_int_equal(rec.skipped, 2);
	assert_true(f->logged_err >= 1);
	assert_int_equal(gc__spool_commit(s, pos, rec.skipped, rec.size, NULL),
			 0);
	gc__spool_get_stats(s, &st);
	assert_int_equal(st.pending_records, 0);
	/* new records go to a fresh segment and are read normally */
	append(s, GC__SPOOL_REC_RESULT, "{\"n\":7}");
	assert_int_equal(gc__spool_read(s, &pos, &rec, NULL), 0);
	assert_string_equal(rec.payload.data, "{\"n\":7}");
	gc__buf_free(&rec.payload);
	gc__spool_close(s);
}

static void payloads_of_any_bytes_round_trip(void **state)
{
	fixture *f = *state;
	gc__spool *s = open_default(f);
	gc__spool_pos pos;
	gc__spool_rec rec;
	static char data[300000];
	memset(&rec, 0, sizeof(rec));
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 131 + (i >> 7));
	assert_int_equal(gc__spool_append(s, GC__SPOOL_REC_RESULT, data,
					  sizeof(data), NULL),
			 0);
	assert_int_equal(gc__spool_append(s, GC__SPOOL_REC_RESULT, "", 0, NULL),
			 0);
	gc__spool_close(s);
	s = open_default(f);
	pos = gc__spool_head(s);
	assert_int_equal(gc__spool_read(s, &pos, &rec, NULL), 0);
	assert_int_equal(rec.payload.len, sizeof(data));
	assert_memory_equal(rec.payload.data, data, sizeof(data));
	assert_int_equal(gc__spool_read(s, &pos, &rec, NULL), 0);
	assert_int_equal(rec.payload.len, 0);
	gc__buf_free(&rec.payload);
	gc__spool_close(s);
}

static void bad_record_types_are_refused(void **state)
{
	fixture *f = *state;
	gc__spool *s = open_default(f);
	assert_int_equal(gc__spool_append(s, 9, "{}", 2, NULL), GC_EINVAL);
	gc__spool_close(s);
}

/* Journal names of runs in progress: safe, short, one per run id. */
static void run_journal_names_are_safe_short_and_distinct(void **state)
{
	char a[256], b[256], id[400];
	(void)state;
	gc__inflight_name("1-1131476936434913280-1795470656-10.0.0.1", a);
	assert_string_equal(a, "1-1131476936434913280-1795470656-10.0.0.1");
	gc__inflight_name("../x/ y%", a);
	assert_string_equal(a, "%2E.%2Fx%2F%20y%25");
	gc__inflight_name("a~b", b);
	assert_string_equal(b, "a%7Eb");
	/* long ids that differ only near the end still differ, and fit */
	memset(id, '/', sizeof(id));
	id[sizeof(id) - 1] = '\0';
	gc__inflight_name(id, a);
	id[sizeof(id) - 2] = 'z';
	gc__inflight_name(id, b);
	assert_true(strlen(a) <= 189 && strlen(b) <= 189);
	assert_string_not_equal(a, b);
	assert_null(strchr(a, '/'));
	assert_non_null(strchr(a, '~'));
	memset(id, 'q', 180);
	id[180] = '\0';
	gc__inflight_name(id, a); /* exactly fits: no checksum */
	assert_string_equal(a, id);
	id[180] = 'q';
	id[181] = '\0';
	gc__inflight_name(id, a);
	assert_int_equal(strlen(a), 189);
}

/* A started run's record is there until removed; leftovers of a write cut
 * short are removed at listing; a set-aside record is listed no more. */
static void run_journal_add_remove_and_list(void **state)
{
	fixture *f = *state;
	gc__inflight *j;
	gc__inflight_entry *v;
	size_t n;
	char path[900];
	int dfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	assert_int_equal(gc__inflight_open(&j, dfd, f->dir, 0, NULL), 0);
	assert_int_equal(gc__inflight_add(j, "r/1", "{\"a\":1}", 7, NULL), 0);
	assert_int_equal(gc__inflight_add(j, "r2", "{}", 2, NULL), 0);
	assert_int_equal(gc__inflight_add(j, "", "{}", 2, NULL), GC_EINVAL);
	snprintf(path, sizeof(path), "%s/running/.tmp-r3", f->dir);
	close(open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
	assert_int_equal(gc__inflight_remove(j, "r2"), 0);
	assert_int_equal(gc__inflight_remove(j, "r2"), GC_ENOTFOUND);
	assert_int_equal(gc__inflight_list(j, &v, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].name, "r%2F1");
	assert_string_equal(v[0].body, "{\"a\":1}");
	assert_int_equal(v[0].len, 7);
	gc__inflight_entries_free(v, n);
	assert_int_equal(access(path, F_OK), -1); /* .tmp- removed */
	gc__inflight_set_aside(j, "r%2F1");
	assert_int_equal(gc__inflight_list(j, &v, &n, NULL), 0);
	assert_int_equal(n, 0);
	gc__inflight_entries_free(v, n);
	snprintf(path, sizeof(path), "%s/running/r%%2F1.bad", f->dir);
	assert_int_equal(access(path, F_OK), 0);
	gc__inflight_close(j);
	close(dfd);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(crc32_matches_the_ieee_check_value),
		T(records_come_back_in_order_with_their_type),
		T(empty_spool_reads_nothing_until_an_append),
		T(undelivered_records_survive_a_reopen),
		T(partially_read_but_uncommitted_records_are_read_again),
		T(torn_tail_is_cut_at_every_length),
		T(garbage_after_the_last_record_is_cut),
		T(flipped_bit_in_the_last_record_fails_its_crc),
		T(rotated_segments_are_deleted_once_delivered),
		T(commit_in_steps_keeps_the_rest),
		T(a_spoiled_cursor_slot_falls_back_to_the_other),
		T(a_cursor_inside_a_record_moves_back_to_its_start),
		T(the_bound_refuses_new_records_and_frees_up_on_commit),
		T(a_second_owner_is_refused_with_the_holders_pid),
		T(every_descriptor_is_close_on_exec),
		T(a_segment_cut_before_its_header_is_removed),
		T(damage_found_while_reading_skips_loudly_and_continues),
		T(payloads_of_any_bytes_round_trip),
		T(bad_record_types_are_refused),
		T(run_journal_names_are_safe_short_and_distinct),
		T(run_journal_add_remove_and_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
