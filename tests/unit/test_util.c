/* Unit tests for the internal utilities (buffers, base64, RFC3339). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "internal.h"

#include <stdlib.h>
#include <string.h>

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(base64_round_trips_every_length),
		cmocka_unit_test(base64_matches_known_etcd_keys),
		cmocka_unit_test(base64_rejects_junk),
		cmocka_unit_test(buf_grows_and_consumes),
		cmocka_unit_test(rfc3339_formats_nanoseconds_in_utc),
		cmocka_unit_test(error_messages_are_prefixed),
	};
	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
