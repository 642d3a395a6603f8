/* Pace of a paged listing (lib/agent/listpace.c): page size and timeout
 * against what etcd answers, the bounds, and a simulated slow etcd whose
 * pages take longer than the first timeout. No clock is read: durations
 * are passed in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent/listpace.h"

static void init_clamps_the_timeout(void **state)
{
	(void)state;
	gc__listpace p;
	gc__listpace_init(&p, 5000);
	assert_int_equal(p.limit, GC__LISTPACE_PAGE_MAX);
	assert_int_equal(p.timeout_ms, 5000);
	assert_int_equal(p.avg_ms, 0);
	gc__listpace_init(&p, 10);
	assert_int_equal(p.timeout_ms, GC__LISTPACE_TIMEOUT_MIN_MS);
	gc__listpace_init(&p, 10 * 60 * 1000);
	assert_int_equal(p.timeout_ms, GC__LISTPACE_TIMEOUT_MAX_MS);
}

static void a_timeout_shrinks_the_page_and_lengthens_the_timeout(void **state)
{
	(void)state;
	gc__listpace p;
	gc__listpace_init(&p, 3000);
	gc__listpace_timed_out(&p, p.limit);
	assert_int_equal(p.limit, GC__LISTPACE_PAGE_MAX / 4);
	assert_int_equal(p.timeout_ms, 6000);
	assert_int_equal(p.timeouts, 1);
	gc__listpace_timed_out(&p, p.limit);
	assert_int_equal(p.limit, GC__LISTPACE_PAGE_MAX / 16);
	assert_int_equal(p.timeout_ms, 12000);
	/* bounded: never below the least page, never above the longest */
	for (int i = 0; i < 20; i++)
		gc__listpace_timed_out(&p, p.limit);
	assert_int_equal(p.limit, GC__LISTPACE_PAGE_MIN);
	assert_int_equal(p.timeout_ms, GC__LISTPACE_TIMEOUT_MAX_MS);
	assert_int_equal(p.timeouts, 22);
}

static void a_timeout_of_a_smaller_page_shrinks_from_it(void **state)
{
	(void)state;
	gc__listpace p;
	gc__listpace_init(&p, 3000);
	/* a page cut short (e.g. by a big value) asked for 100 keys */
	gc__listpace_timed_out(&p, 100);
	assert_int_equal(p.limit, 25);
}

static void fast_answers_grow_the_pages_back(void **state)
{
	(void)state;
	gc__listpace p;
	gc__listpace_init(&p, 3000);
	gc__listpace_timed_out(&p, p.limit);
	gc__listpace_timed_out(&p, p.limit);
	assert_int_equal(p.limit, 62);
	int pages = 0;
	while (p.limit < GC__LISTPACE_PAGE_MAX && pages < 100) {
		int64_t before = p.limit;
		gc__listpace_answered(&p, p.limit, 20);
		assert_true(p.limit == before * GC__LISTPACE_STEP ||
			    p.limit == GC__LISTPACE_PAGE_MAX);
		pages++;
	}
	assert_int_equal(p.limit, GC__LISTPACE_PAGE_MAX);
	assert_int_equal(pages, 3); /* 62 248 992 -> 1000 */
	assert_int_equal(p.timeouts, 0);
	/* and stays there, with the shortest timeout */
	for (int i = 0; i < 10; i++)
		gc__listpace_answered(&p, p.limit, 20);
	assert_int_equal(p.limit, GC__LISTPACE_PAGE_MAX);
	assert_int_equal(p.timeout_ms, GC__LISTPACE_TIMEOUT_MIN_MS);
}

static void slow_answers_lengthen_the_timeout_without_growing(void **state)
{
	(void)state;
	gc__listpace p;
	gc__listpace_init(&p, 3000);
	gc__listpace_timed_out(&p, p.limit); /* 250 keys, 6 s */
	/* answered in 1.7 s: more than a quarter of 6 s, so no growth */
	gc__listpace_answered(&p, p.limit, 1700);
	assert_int_equal(p.limit, 250);
	assert_int_equal(p.timeout_ms, GC__LISTPACE_TIMEOUT_FACTOR * 1700);
	/* much slower answers: the timeout follows up to its bound */
	for (int i = 0; i < 20; i++)
		gc__listpace_answered(&p, p.limit, 30000);
	assert_int_equal(p.timeout_ms, GC__LISTPACE_TIMEOUT_MAX_MS);
	assert_int_equal(p.limit, 250);
}

static void after_a_stall_the_timeout_comes_back_down(void **state)
{
	(void)state;
	gc__listpace p;
	gc__listpace_init(&p, 3000);
	for (int i = 0; i < 3; i++) /* one answer held for a long time */
		gc__listpace_timed_out(&p, p.limit);
	/* 24 s, bounded */
	assert_int_equal(p.timeout_ms, GC__LISTPACE_TIMEOUT_MAX_MS);
	for (int i = 0; i < 20; i++)
		gc__listpace_answered(&p, p.limit, 50);
	assert_int_equal(p.timeout_ms, GC__LISTPACE_TIMEOUT_MIN_MS);
	assert_int_equal(p.limit, GC__LISTPACE_PAGE_MAX);
}

static void a_stalled_answer_costs_one_small_page(void **state)
{
	(void)state;
	gc__listpace p;
	gc__listpace_init(&p, 3000);
	gc__listpace_answered(&p, p.limit, 50);
	gc__listpace_timed_out(&p, p.limit); /* held, not slow */
	assert_int_equal(p.limit, GC__LISTPACE_PAGE_MAX / GC__LISTPACE_STEP);
	gc__listpace_answered(&p, p.limit, 15);
	assert_int_equal(p.limit, GC__LISTPACE_PAGE_MAX);
	assert_int_equal(p.timeout_ms, GC__LISTPACE_TIMEOUT_MIN_MS);
}

/* A simulated etcd serving a page of n keys in lat + n * per_key ms; a
 * page whose time exceeds its timeout fails (and costs the timeout) and is
 * read again. Returns the simulated total; *timeouts the failed pages. */
static int64_t simulate(int64_t keys, int64_t lat, double per_key,
			int first_timeout, int *timeouts, int *pages)
{
	gc__listpace p;
	gc__listpace_init(&p, first_timeout);
	int64_t t = 0, left = keys;
	*timeouts = *pages = 0;
	while (left > 0 && *pages < 100000) {
		int64_t n = p.limit < left ? p.limit : left;
		int64_t ms = lat + (int64_t)(per_key * (double)p.limit);
		(*pages)++;
		if (ms > p.timeout_ms) {
			t += p.timeout_ms;
			(*timeouts)++;
			gc__listpace_timed_out(&p, p.limit);
			continue;
		}
		t += ms;
		left -= n;
		gc__listpace_answered(&p, p.limit, ms);
	}
	assert_int_equal(left, 0);
	return t;
}

static void a_uniformly_slow_etcd_is_read_to_the_end(void **state)
{
	(void)state;
	int timeouts, pages;
	/* 12 s per full page, first timeout 3 s: the old listing restarted
	 * forever; the pace gives one or two pages up and then converges. */
	int64_t ideal = 100 * (100 + 12 * 1000 - 100);
	int64_t t = simulate(100000, 100, 11.9, 3000, &timeouts, &pages);
	assert_true(timeouts <= 2);
	assert_true(t <= ideal * 3 / 2);
	/* fast etcd: no timeout, full pages all along */
	t = simulate(100000, 5, 0.05, 3000, &timeouts, &pages);
	assert_int_equal(timeouts, 0);
	assert_int_equal(pages, 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(init_clamps_the_timeout),
	    cmocka_unit_test(
		a_timeout_shrinks_the_page_and_lengthens_the_timeout),
	    cmocka_unit_test(a_timeout_of_a_smaller_page_shrinks_from_it),
	    cmocka_unit_test(fast_answers_grow_the_pages_back),
	    cmocka_unit_test(slow_answers_lengthen_the_timeout_without_growing),
	    cmocka_unit_test(after_a_stall_the_timeout_comes_back_down),
	    cmocka_unit_test(a_stalled_answer_costs_one_small_page),
	    cmocka_unit_test(a_uniformly_slow_etcd_is_read_to_the_end),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
