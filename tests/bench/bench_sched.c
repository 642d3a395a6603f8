/* Scheduler dispatch cost at 1,000 to 100,000 tasks.
 *
 * Workload: N tasks "S M * * * * *" (once an hour, at a random minute and
 * second, UTC), so about N/3600 tasks share each due second. A dispatch is
 * what the agent does per tick (lib/agent/agent.c run_due): take the
 * earliest entry, compute its next fire time with gc_cron_next and
 * reschedule it; claiming and running are not included.
 *
 *   ours      the agent's scheduler (lib/agent/sched.h: binary min-heap
 *             with a key index), O(log n) per dispatch;
 *   baseline  the scan GopherCron 1.10's scheduler does on every wake-up:
 *             walk every task, fire the due ones, recompute them, and keep
 *             the nearest next time, O(n) per wake-up (amortised over the
 *             tasks due in the same second);
 *   floor     gc_cron_next alone for the same expressions and times.
 * Both schedulers dispatch the same ticks in the same order of seconds
 * (checked with a checksum). Also: add, reschedule and remove of one task
 * by key in a scheduler holding N tasks.
 *
 *   bench_sched RUNS DISPATCHES N[,N...]
 * Prints "N<TAB>name<TAB>median ns<TAB>min<TAB>max" lines (CPU time of
 * this thread per operation). */
#include <gophercron.h>

#include "agent/sched.h"
#include "internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define START 1767225600 /* 2026-01-01 00:00:00 UTC */

static int64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static uint64_t rng_state = 88172645463325252ULL;
static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

typedef struct task {
	char key[24];
	gc_cron *cron;
	int64_t next;
} task;

static task *make_tasks(size_t n)
{
	task *t = calloc(n, sizeof(*t));
	gc_error err;
	for (size_t i = 0; t && i < n; i++) {
		char expr[32];
		snprintf(expr, sizeof(expr), "%u %u * * * * *",
			 (unsigned)(rng() % 60), (unsigned)(rng() % 60));
		snprintf(t[i].key, sizeof(t[i].key), "1/%zu", i);
		if (gc_cron_parse(&t[i].cron, expr, strlen(expr), &err)) {
			fprintf(stderr, "%s: %s\n", expr, err.msg);
			exit(1);
		}
	}
	return t;
}

/* The agent's way: heap + index. Returns CPU ns per dispatch. */
static double run_heap(task *t, size_t n, size_t dispatches, uint64_t *sum)
{
	gc__sched s;
	gc__sched_init(&s);
	for (size_t i = 0; i < n; i++)
		gc__sched_set(&s, t[i].key,
			      gc_cron_next(t[i].cron, START, GC_CRON_UTC), &t[i]);
	uint64_t h = 0;
	size_t d = 0;
	int64_t last = 0;
	int64_t c0 = cpu_ns();
	/* whole seconds only, so both schedulers fire the same ticks */
	for (;; d++) {
		int64_t due;
		void *data;
		const char *key;
		gc__sched_peek(&s, &due, &key, &data);
		if (d >= dispatches && due != last)
			break;
		last = due;
		task *tk = data;
		h += (uint64_t)due * 31 + (uint64_t)(tk - t);
		gc__sched_reschedule(&s, key,
				     gc_cron_next(tk->cron, due, GC_CRON_UTC));
	}
	int64_t c1 = cpu_ns();
	gc__sched_clear(&s);
	*sum = h + d;
	return (double)(c1 - c0) / (double)d;
}

/* GopherCron 1.10's way: scan every task on every wake-up. */
static double run_scan(task *t, size_t n, size_t dispatches, uint64_t *sum)
{
	int64_t nearest = INT64_MAX;
	for (size_t i = 0; i < n; i++) {
		t[i].next = gc_cron_next(t[i].cron, START, GC_CRON_UTC);
		if (t[i].next < nearest)
			nearest = t[i].next;
	}
	uint64_t h = 0;
	size_t d = 0;
	int64_t c0 = cpu_ns();
	while (d < dispatches) {
		int64_t now = nearest;
		nearest = INT64_MAX;
		for (size_t i = 0; i < n; i++) {
			if (t[i].next <= now) {
				/* the checksum is a sum: the order within a
				 * second does not matter */
				h += (uint64_t)t[i].next * 31 + (uint64_t)i;
				t[i].next = gc_cron_next(t[i].cron, now,
							 GC_CRON_UTC);
				d++;
			}
			if (t[i].next < nearest)
				nearest = t[i].next;
		}
	}
	int64_t c1 = cpu_ns();
	*sum = h + d;
	return (double)(c1 - c0) / (double)d;
}

/* gc_cron_next alone, same expressions, a comparable spread of times. */
static double run_floor(task *t, size_t n, size_t calls)
{
	uint64_t h = 0;
	int64_t from = START;
	int64_t c0 = cpu_ns();
	for (size_t d = 0; d < calls; d++) {
		int64_t x = gc_cron_next(t[d % n].cron, from, GC_CRON_UTC);
		h += (uint64_t)x;
		from += 1 + (int64_t)(x & 3);
	}
	int64_t c1 = cpu_ns();
	if (h == 42)
		puts("");
	return (double)(c1 - c0) / (double)calls;
}

/* add / reschedule / remove of single keys in a scheduler of n tasks */
static void run_ops(task *t, size_t n, double *add, double *chg, double *rem)
{
	gc__sched s;
	gc__sched_init(&s);
	size_t half = n / 2;
	for (size_t i = 0; i < half; i++)
		gc__sched_set(&s, t[i].key, START + (int64_t)(rng() % 3600),
			      &t[i]);
	int64_t c0 = cpu_ns();
	for (size_t i = half; i < n; i++)
		gc__sched_set(&s, t[i].key, START + (int64_t)(rng() % 3600),
			      &t[i]);
	int64_t c1 = cpu_ns();
	for (size_t i = 0; i < n - half; i++)
		gc__sched_reschedule(&s, t[rng() % n].key,
				     START + (int64_t)(rng() % 3600));
	int64_t c2 = cpu_ns();
	for (size_t i = half; i < n; i++)
		gc__sched_remove(&s, t[i].key, NULL);
	int64_t c3 = cpu_ns();
	gc__sched_clear(&s);
	double k = (double)(n - half);
	*add = (double)(c1 - c0) / k;
	*chg = (double)(c2 - c1) / k;
	*rem = (double)(c3 - c2) / k;
}

static void emit(size_t n, const char *name, double *v, int runs)
{
	qsort(v, (size_t)runs, sizeof(*v), cmp_dbl);
	printf("%zu\t%s\t%.1f\t%.1f\t%.1f\n", n, name, v[runs / 2], v[0],
	       v[runs - 1]);
}

int main(int argc, char **argv)
{
	int runs = argc > 1 ? atoi(argv[1]) : 7;
	size_t dispatches = argc > 2 ? (size_t)atol(argv[2]) : 200000;
	const char *sizes = argc > 3 ? argv[3] : "1000,10000,100000";
	if (runs < 1 || runs > 100 || dispatches < 1000) {
		fprintf(stderr, "usage: bench_sched RUNS DISPATCHES N[,N...]\n");
		return 2;
	}
	char *copy = strdup(sizes), *save = NULL;
	for (char *tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		size_t n = (size_t)atol(tok);
		task *t = make_tasks(n);
		double heap[100], scan[100], floor_[100], add[100], chg[100],
			rem[100];
		for (int r = 0; r < runs; r++) {
			uint64_t h1 = 0, h2 = 0;
			/* interleaved so load drifts hit both alike */
			heap[r] = run_heap(t, n, dispatches, &h1);
			scan[r] = run_scan(t, n, dispatches, &h2);
			floor_[r] = run_floor(t, n, dispatches);
			run_ops(t, n, &add[r], &chg[r], &rem[r]);
			if (h1 != h2) {
				fprintf(stderr,
					"n=%zu: heap and scan dispatched "
					"different ticks (%" PRIu64
					" vs %" PRIu64 ")\n",
					n, h1, h2);
				return 1;
			}
		}
		emit(n, "heap_dispatch", heap, runs);
		emit(n, "scan_dispatch", scan, runs);
		emit(n, "cron_next", floor_, runs);
		emit(n, "add", add, runs);
		emit(n, "reschedule", chg, runs);
		emit(n, "remove", rem, runs);
		for (size_t i = 0; i < n; i++)
			gc_cron_free(t[i].cron);
		free(t);
		fflush(stdout);
	}
	free(copy);
	return 0;
}
