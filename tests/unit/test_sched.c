/* Unit tests for the agent scheduler (heap + key index) and the timing
 * rules (next tick after a wake, lateness, wall-clock step detection). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent/sched.h"
#include "agent/timing.h"
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Small deterministic PRNG so failures reproduce. */
static uint64_t rng_state = 88172645463325252ull;
static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Keys are borrowed by the scheduler, so they live in static storage. */
enum { MAX_KEYS = 100000 };
static char key_store[MAX_KEYS][24];

static const char *key_at(unsigned i)
{
	if (!key_store[i][0])
		snprintf(key_store[i], sizeof(key_store[i]), "%u/%u", 1 + i % 7,
			 1131476895u + i);
	return key_store[i];
}

static void key_of(char *buf, size_t len, unsigned i)
{
	const char *k = key_at(i);
	size_t n = strlen(k);
	assert_true(n < len);
	memcpy(buf, k, n + 1);
}

/* Pop everything in heap order, checking it is non-decreasing. */
static size_t drain_sorted(gc__sched *s)
{
	int64_t prev = INT64_MIN, due;
	const char *key;
	size_t n = 0;
	char copy[64];
	while (gc__sched_peek(s, &due, &key, NULL)) {
		assert_true(due >= prev);
		prev = due;
		snprintf(copy, sizeof(copy), "%s", key);
		assert_int_equal(gc__sched_remove(s, copy, NULL), 0);
		n++;
	}
	return n;
}

static void empty_scheduler_has_nothing_due(void **state)
{
	(void)state;
	gc__sched s;
	gc__sched_init(&s);
	assert_false(gc__sched_peek(&s, NULL, NULL, NULL));
	assert_null(gc__sched_get(&s, "1/1", NULL));
	assert_int_equal(gc__sched_remove(&s, "1/1", NULL), GC_ENOTFOUND);
	assert_int_equal(gc__sched_reschedule(&s, "1/1", 5), GC_ENOTFOUND);
	assert_int_equal(gc__sched_count(&s), 0);
	assert_true(gc__sched_check(&s));
	gc__sched_clear(&s);
}

static void peek_returns_earliest_due(void **state)
{
	(void)state;
	gc__sched s;
	int a, b, c;
	gc__sched_init(&s);
	assert_int_equal(gc__sched_set(&s, "1/a", 300, &a), 0);
	assert_int_equal(gc__sched_set(&s, "1/b", 100, &b), 0);
	assert_int_equal(gc__sched_set(&s, "1/c", 200, &c), 0);
	int64_t due;
	const char *key;
	void *data;
	assert_true(gc__sched_peek(&s, &due, &key, &data));
	assert_int_equal(due, 100);
	assert_string_equal(key, "1/b");
	assert_ptr_equal(data, &b);
	assert_int_equal(drain_sorted(&s), 3);
	gc__sched_clear(&s);
}

static void random_dues_pop_in_order(void **state)
{
	(void)state;
	gc__sched s;
	gc__sched_init(&s);
	for (unsigned i = 0; i < 5000; i++) {
		assert_int_equal(gc__sched_set(&s, key_at(i),
					       (int64_t)(rng() % 1000), NULL),
				 0);
	}
	assert_true(gc__sched_check(&s));
	assert_int_equal(drain_sorted(&s), 5000);
	gc__sched_clear(&s);
}

static void set_on_existing_key_moves_it_both_ways(void **state)
{
	(void)state;
	gc__sched s;
	gc__sched_init(&s);
	static const char *const k[10] = {"1/0", "1/1", "1/2", "1/3", "1/4",
					  "1/5", "1/6", "1/7", "1/8", "1/9"};
	for (int i = 0; i < 10; i++)
		assert_int_equal(gc__sched_set(&s, k[i], 100 + i * 10, NULL), 0);
	const char *key;
	int64_t due;
	/* Earlier than everything: becomes the head. */
	assert_int_equal(gc__sched_reschedule(&s, "1/7", 5), 0);
	assert_true(gc__sched_peek(&s, &due, &key, NULL));
	assert_string_equal(key, "1/7");
	assert_int_equal(due, 5);
	/* Later than everything: the old head gives way. */
	assert_int_equal(gc__sched_reschedule(&s, "1/7", 1000), 0);
	assert_true(gc__sched_peek(&s, &due, &key, NULL));
	assert_string_equal(key, "1/0");
	assert_int_equal(gc__sched_count(&s), 10);
	assert_true(gc__sched_check(&s));
	/* The data is replaced by set. */
	int x;
	assert_int_equal(gc__sched_set(&s, "1/3", 130, &x), 0);
	assert_ptr_equal(gc__sched_get(&s, "1/3", &due), &x);
	assert_int_equal(due, 130);
	gc__sched_clear(&s);
}

static void remove_from_middle_keeps_order(void **state)
{
	(void)state;
	gc__sched s;
	char key[64];
	gc__sched_init(&s);
	for (unsigned i = 0; i < 1000; i++) {
		assert_int_equal(gc__sched_set(&s, key_at(i),
					       (int64_t)(i * 7919 % 1000), NULL),
				 0);
	}
	for (unsigned i = 0; i < 1000; i += 3) {
		key_of(key, sizeof(key), i);
		void *d = (void *)1;
		assert_int_equal(gc__sched_remove(&s, key, &d), 0);
		assert_null(d);
		assert_false(gc__sched_contains(&s, key));
	}
	assert_true(gc__sched_check(&s));
	assert_int_equal(gc__sched_count(&s), 1000 - 334);
	assert_int_equal(drain_sorted(&s), 1000 - 334);
	gc__sched_clear(&s);
}

static void never_due_is_found_but_not_scheduled(void **state)
{
	(void)state;
	gc__sched s;
	int t;
	gc__sched_init(&s);
	assert_int_equal(gc__sched_set(&s, "1/paused", GC__SCHED_NEVER, &t), 0);
	assert_int_equal(gc__sched_set(&s, "1/live", 50, NULL), 0);
	assert_int_equal(gc__sched_count(&s), 2);
	assert_int_equal(gc__sched_scheduled(&s), 1);
	assert_ptr_equal(gc__sched_get(&s, "1/paused", NULL), &t);
	/* Pausing a scheduled task takes it out of the heap. */
	assert_int_equal(gc__sched_reschedule(&s, "1/live", GC__SCHED_NEVER), 0);
	assert_false(gc__sched_peek(&s, NULL, NULL, NULL));
	/* Resuming puts it back. */
	assert_int_equal(gc__sched_reschedule(&s, "1/paused", 70), 0);
	int64_t due;
	const char *key;
	assert_true(gc__sched_peek(&s, &due, &key, NULL));
	assert_string_equal(key, "1/paused");
	assert_true(gc__sched_check(&s));
	gc__sched_clear(&s);
}

static void keys_differing_by_prefix_are_distinct(void **state)
{
	(void)state;
	/* "ab" and "abc" are different tasks (the original's prefix delete
	 * conflated them). */
	gc__sched s;
	gc__sched_init(&s);
	assert_int_equal(gc__sched_set(&s, "1/ab", 10, NULL), 0);
	assert_int_equal(gc__sched_set(&s, "1/abc", 20, NULL), 0);
	assert_int_equal(gc__sched_remove(&s, "1/ab", NULL), 0);
	assert_true(gc__sched_contains(&s, "1/abc"));
	assert_false(gc__sched_contains(&s, "1/ab"));
	gc__sched_clear(&s);
}

static void random_churn_stays_consistent(void **state)
{
	(void)state;
	/* Adds, changes and removes in random order, with a small key space
	 * so the index sees many deletes and reinserts (backward shift). */
	gc__sched s;
	char key[64];
	bool present[512] = {false};
	size_t live = 0;
	gc__sched_init(&s);
	for (int step = 0; step < 200000; step++) {
		unsigned i = (unsigned)(rng() % 512);
		key_of(key, sizeof(key), i);
		switch (rng() % 3) {
		case 0:
		case 1: {
			int64_t due = rng() % 8 == 0 ? GC__SCHED_NEVER
						     : (int64_t)(rng() % 100000);
			assert_int_equal(gc__sched_set(&s, key_at(i), due, NULL),
					 0);
			if (!present[i])
				live++;
			present[i] = true;
			break;
		}
		default:
			assert_int_equal(gc__sched_remove(&s, key, NULL),
					 present[i] ? 0 : GC_ENOTFOUND);
			if (present[i])
				live--;
			present[i] = false;
		}
		if (step % 10000 == 0)
			assert_true(gc__sched_check(&s));
	}
	assert_int_equal(gc__sched_count(&s), live);
	assert_true(gc__sched_check(&s));
	for (unsigned i = 0; i < 512; i++) {
		key_of(key, sizeof(key), i);
		assert_int_equal(gc__sched_contains(&s, key), present[i]);
	}
	gc__sched_clear(&s);
}

static void hundred_thousand_tasks_fit_in_small_memory(void **state)
{
	(void)state;
	enum { N = 100000 };
	gc__sched s;
	char key[64];
	gc__sched_init(&s);
	for (unsigned i = 0; i < N; i++) {
		assert_int_equal(gc__sched_set(&s, key_at(i),
					       1700000000 + (int64_t)(rng() % 86400),
					       NULL),
				 0);
	}
	assert_int_equal(gc__sched_count(&s), N);
	assert_true(gc__sched_check(&s));
	/* Change every tenth, remove every seventh. */
	for (unsigned i = 0; i < N; i += 10) {
		key_of(key, sizeof(key), i);
		assert_int_equal(gc__sched_reschedule(&s, key, 1600000000 + i), 0);
	}
	size_t removed = 0;
	for (unsigned i = 0; i < N; i += 7) {
		key_of(key, sizeof(key), i);
		assert_int_equal(gc__sched_remove(&s, key, NULL), 0);
		removed++;
	}
	assert_true(gc__sched_check(&s));
	/* The bound sched.h states: under 6 MB for 100,000 tasks (the keys
	 * live in the task objects). */
	size_t mem = gc__sched_memory(&s);
	printf("# scheduler memory for %d tasks: %zu bytes\n", N, mem);
	assert_true(mem < 6u * 1000 * 1000);
	assert_int_equal(drain_sorted(&s), N - removed);
	gc__sched_clear(&s);
}

/* ------------------------------------------------------ timing rules */

/* A task that fires every `period` seconds, remembering its last tick. */
typedef struct fake_task {
	int64_t period;
	int64_t last_plan;
} fake_task;

static int64_t every_next(int64_t period, int64_t after)
{
	return (after / period + 1) * period;
}

typedef struct recompute_ctx {
	int64_t now_s;
	int64_t grace_s;
} recompute_ctx;

static int64_t recompute_due(const char *key, void *data, void *arg)
{
	(void)key;
	fake_task *t = data;
	recompute_ctx *c = arg;
	return every_next(t->period,
			  gc__tick_after(c->now_s, t->last_plan, c->grace_s));
}

static void next_tick_after_wake_skips_ticks_older_than_grace(void **state)
{
	(void)state;
	/* Woke 30 s late for an every-second task with 10 s grace: ticks
	 * older than 10 s are not attempted. */
	int64_t after = gc__tick_after(1000, 960, 10);
	assert_int_equal(after, 989);
	assert_int_equal(every_next(1, after), 990);
	/* Normal case: the next tick after the last one attempted. */
	assert_int_equal(every_next(1, gc__tick_after(1000, 1000, 10)), 1001);
}

static void tick_lateness_bound(void **state)
{
	(void)state;
	const int64_t s = 1000000000LL;
	assert_false(gc__tick_expired(100, 100 * s, 10000));
	assert_false(gc__tick_expired(100, 110 * s, 10000));
	assert_true(gc__tick_expired(100, 110 * s + 1, 10000));
	assert_false(gc__tick_expired(100, 99 * s, 10000)); /* early */
	assert_int_equal(gc__tick_wait_ns(100, 99 * s + 250000000LL),
			 750000000LL);
	assert_int_equal(gc__tick_wait_ns(100, 101 * s), 0);
}

/* A task loaded at an instant first attempts the first tick at or after
 * it: created at :01.88, its :01 tick is not run. */
static void new_task_has_no_tick_before_it_was_loaded(void **state)
{
	(void)state;
	const int64_t s = 1000000000LL;
	int64_t floor = gc__tick_floor(1001 * s + 880000000LL);
	assert_int_equal(floor, 1001);
	assert_int_equal(every_next(1, gc__tick_after(1001, floor, 10)), 1002);
	/* exactly on the second: that second's tick is still ahead */
	floor = gc__tick_floor(1002 * s);
	assert_int_equal(every_next(1, gc__tick_after(1002, floor, 10)), 1002);
	assert_int_equal(gc__tick_floor(1001 * s + 1), 1001);
}

/* Claim ahead: a tick is taken claim_ahead before it is due, not
 * before; and it is not yet past its grace then. */
static void ticks_are_claimed_ahead_by_the_window(void **state)
{
	(void)state;
	const int64_t s = 1000000000LL, ahead = 500000000LL;
	int64_t due = 100;
	assert_false(due * s <= gc__claim_upto(99 * s + 499999999LL, ahead));
	assert_true(due * s <= gc__claim_upto(99 * s + 500000000LL, ahead));
	assert_false(gc__tick_expired(due, 99 * s + 500000000LL, 10000));
	/* ahead 0: at the second itself */
	assert_false(due * s <= gc__claim_upto(100 * s - 1, 0));
	assert_true(due * s <= gc__claim_upto(100 * s, 0));
}

/* The registration is rewritten on a change of the clock's state or a
 * move of its offset beyond the threshold, not on every estimate. */
static void clock_generation_moves_on_state_or_offset(void **state)
{
	(void)state;
	const int64_t ms = 1000000LL, move = 100 * ms;
	assert_false(gc__clock_gen_moves(1, 1, 5 * ms, 5 * ms, move));
	assert_false(gc__clock_gen_moves(1, 1, 5 * ms, 105 * ms, move));
	assert_true(gc__clock_gen_moves(1, 1, 5 * ms, 106 * ms, move));
	assert_true(gc__clock_gen_moves(1, 1, 5 * ms, -96 * ms, move));
	assert_true(gc__clock_gen_moves(0, 1, 0, 0, move));
	assert_true(gc__clock_gen_moves(1, 3, 0, 0, move));
}

/* A jump of the monotonic clock makes the estimate stale. */
static void clock_estimate_is_used_only_while_fresh(void **state)
{
	(void)state;
	const int64_t s = 1000000000LL;
	assert_true(gc__clock_fresh(0, GC__CLOCK_FRESH_NS));
	assert_true(gc__clock_fresh(3 * s, GC__CLOCK_FRESH_NS));
	assert_false(gc__clock_fresh(20 * s, GC__CLOCK_FRESH_NS));
	assert_false(gc__clock_fresh(-20 * s, GC__CLOCK_FRESH_NS));
}

static void clockwatch_detects_steps_not_drift(void **state)
{
	(void)state;
	const int64_t s = 1000000000LL;
	gc__clockwatch cw = {0};
	assert_int_equal(gc__clockwatch_step(&cw, 1000 * s, 5 * s), 0);
	/* Both advanced 60 s (plus 50 ms of slew): not a step. */
	assert_int_equal(gc__clockwatch_step(&cw, 1060 * s + 50000000, 65 * s), 0);
	/* Wall jumped 1 h forward while 1 s passed. */
	assert_int_equal(gc__clockwatch_step(&cw, 4661 * s + 50000000, 66 * s),
			 3600 * s);
	/* Wall went back 2 s while 1 s passed. */
	assert_int_equal(gc__clockwatch_step(&cw, 4660 * s + 50000000, 67 * s),
			 -2 * s);
}

static void backward_jump_never_repeats_a_tick(void **state)
{
	(void)state;
	/* Three every-second tasks ran up to t=1000; the wall clock steps
	 * back 60 s. After the recompute nothing is due before 1001. */
	gc__sched s;
	fake_task t[3] = {{1, 1000}, {5, 1000}, {60, 960}};
	static const char *const key[3] = {"1/0", "1/1", "1/2"};
	gc__sched_init(&s);
	for (int i = 0; i < 3; i++)
		assert_int_equal(gc__sched_set(&s, key[i],
					       every_next(t[i].period,
							  t[i].last_plan),
					       &t[i]),
				 0);
	recompute_ctx c = {940, 10};
	gc__sched_recompute(&s, recompute_due, &c);
	assert_true(gc__sched_check(&s));
	int64_t due;
	assert_non_null(gc__sched_get(&s, "1/0", &due));
	assert_int_equal(due, 1001);
	assert_non_null(gc__sched_get(&s, "1/1", &due));
	assert_int_equal(due, 1005);
	assert_non_null(gc__sched_get(&s, "1/2", &due));
	assert_int_equal(due, 1020);
	gc__sched_clear(&s);
}

static void forward_jump_attempts_only_recent_skipped_ticks(void **state)
{
	(void)state;
	/* Ran up to t=1000, then the wall clock steps forward to 1100.
	 * With 10 s grace the every-second task resumes at 1090 (late, the
	 * claim protects it), the hourly-ish one skips to its next tick. */
	gc__sched s;
	fake_task t[2] = {{1, 1000}, {3600, 0}};
	gc__sched_init(&s);
	assert_int_equal(gc__sched_set(&s, "1/a", 1001, &t[0]), 0);
	assert_int_equal(gc__sched_set(&s, "1/b", 3600, &t[1]), 0);
	recompute_ctx c = {1100, 10};
	gc__sched_recompute(&s, recompute_due, &c);
	int64_t due;
	const char *key;
	assert_true(gc__sched_peek(&s, &due, &key, NULL));
	assert_string_equal(key, "1/a");
	assert_int_equal(due, 1090);
	assert_non_null(gc__sched_get(&s, "1/b", &due));
	assert_int_equal(due, 3600);
	gc__sched_clear(&s);
}

static int64_t odd_never(const char *key, void *data, void *arg)
{
	(void)data;
	(void)arg;
	int n = atoi(strchr(key, '/') + 1);
	return n % 2 ? GC__SCHED_NEVER : 500 - n;
}

static void recompute_can_unschedule(void **state)
{
	(void)state;
	gc__sched s;
	gc__sched_init(&s);
	static char keys[100][16];
	for (int i = 0; i < 100; i++) {
		snprintf(keys[i], sizeof(keys[i]), "2/%d", i);
		assert_int_equal(gc__sched_set(&s, keys[i], i, NULL), 0);
	}
	gc__sched_recompute(&s, odd_never, NULL);
	assert_true(gc__sched_check(&s));
	assert_int_equal(gc__sched_count(&s), 100);
	assert_int_equal(gc__sched_scheduled(&s), 50);
	int64_t due;
	const char *key;
	assert_true(gc__sched_peek(&s, &due, &key, NULL));
	assert_string_equal(key, "2/98");
	assert_int_equal(due, 402);
	gc__sched_clear(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(empty_scheduler_has_nothing_due),
		cmocka_unit_test(peek_returns_earliest_due),
		cmocka_unit_test(random_dues_pop_in_order),
		cmocka_unit_test(set_on_existing_key_moves_it_both_ways),
		cmocka_unit_test(remove_from_middle_keeps_order),
		cmocka_unit_test(never_due_is_found_but_not_scheduled),
		cmocka_unit_test(keys_differing_by_prefix_are_distinct),
		cmocka_unit_test(random_churn_stays_consistent),
		cmocka_unit_test(hundred_thousand_tasks_fit_in_small_memory),
		cmocka_unit_test(next_tick_after_wake_skips_ticks_older_than_grace),
		cmocka_unit_test(tick_lateness_bound),
		cmocka_unit_test(clockwatch_detects_steps_not_drift),
		cmocka_unit_test(backward_jump_never_repeats_a_tick),
		cmocka_unit_test(forward_jump_attempts_only_recent_skipped_ticks),
		cmocka_unit_test(recompute_can_unschedule),
		cmocka_unit_test(new_task_has_no_tick_before_it_was_loaded),
		cmocka_unit_test(ticks_are_claimed_ahead_by_the_window),
		cmocka_unit_test(clock_generation_moves_on_state_or_offset),
		cmocka_unit_test(clock_estimate_is_used_only_while_fresh),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
