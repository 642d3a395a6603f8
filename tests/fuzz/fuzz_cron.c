/* Fuzz target for the cron parser and next-time engine.
 *
 * Any input must parse or fail with a message, never crash. When it parses,
 * fire times from a few starting points must be strictly increasing, match
 * the expression, agree between gc_cron_next and gc_cron_next_n, and (when
 * close together) leave no matching second in between. */
#include <gophercron.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr,                                        \
				"fuzz_cron: check failed: %s (%s:%d)\n",       \
				#cond, __FILE__, __LINE__);                    \
			abort();                                               \
		}                                                              \
	} while (0)

static void check_times(const gc_cron *c, int64_t from, unsigned flags)
{
	int64_t t[6], prev = from;
	size_t k = gc_cron_next_n(c, from, flags, t, 6);

	for (size_t i = 0; i < k; i++) {
		CHECK(t[i] > prev);
		CHECK(gc_cron_next(c, prev, flags) == t[i]);
		/* In local time a run after a skipped (DST gap) time need
		 * not match the wall clock, so only UTC is checked. */
		if (flags == GC_CRON_UTC)
			CHECK(gc_cron_matches(c, t[i], flags));
		if (flags == GC_CRON_UTC && t[i] - prev <= 300)
			for (int64_t x = prev + 1; x < t[i]; x++)
				CHECK(!gc_cron_matches(c, x, flags));
		prev = t[i];
	}
	if (k < 6 && k > 0)
		CHECK(gc_cron_next(c, t[k - 1], flags) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int64_t froms[] = {
	    INT64_C(1356998400), /* 2013-01-01 */
	    INT64_C(1709999999), /* 2024-03-09, before a DST change */
	    INT64_C(951782399),	 /* 2000-02-28 23:59:59 */
	    INT64_C(4102444000), /* late 2099 */
	    INT64_C(-86400),	 /* before 1970 */
	};
	gc_cron *c = NULL;
	gc_error err = {0, ""};
	int rc;

	/* The input is not NUL-terminated: copy it into an exact-size buffer
	 * so reading past `size` is caught by the sanitizers. */
	char *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	if (size)
		memcpy(buf, data, size);
	rc = gc_cron_parse(&c, buf, size, &err);
	if (rc != 0) {
		CHECK(rc == GC_EINVAL);
		CHECK(c == NULL);
		CHECK(err.code == GC_EINVAL && err.msg[0] != '\0');
		CHECK(memchr(err.msg, '\0', sizeof(err.msg)) != NULL);
		free(buf);
		return 0;
	}
	CHECK(c != NULL);
	CHECK(gc_cron_field_count(c) >= 5 && gc_cron_field_count(c) <= 7);
	for (size_t i = 0; i < sizeof(froms) / sizeof(froms[0]); i++)
		check_times(c, froms[i], GC_CRON_UTC);
	check_times(c, froms[1], GC_CRON_LOCAL);
	gc_cron_free(c);
	free(buf);
	return 0;
}
