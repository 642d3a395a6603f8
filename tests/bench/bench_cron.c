/* Cron next-time benchmark: ns per gc_cron_next (UTC) for several
 * expressions, median over repeated runs.
 *
 * tests/bench/cronexpr/main.go does exactly the same with gorhill/cronexpr:
 * same expressions, same starting times (the same 64-bit LCG), same
 * iteration counts. Each line printed is
 *   EXPR<TAB>MEDIAN_NS<TAB>CHECKSUM<TAB>RUNS<TAB>CALLS
 * and the checksums (sum of all results) must agree between the two.
 *
 *   bench_cron [RUNS [CALLS [local]]]     defaults 15, 50000, UTC
 *
 * With "local" the times are computed in the local zone (TZ), to show the
 * cost of the localtime_r calls; cronexpr has no counterpart run.
 */
#include <gophercron.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NFROM 1000

/* Keep in sync with tests/bench/cronexpr/main.go. */
static const char *const exprs[] = {
    "* * * * * * *",	     "*/5 * * * * * *", "0 0 12 * * ? *",
    "*/15 9-17 * * mon-fri", "0 0 * * 1#3",	"0 0 L * *",
    "0 0 1W,15 * *",	     "0 0 29 2 *",
};

/* Process CPU time, not wall time: the benchmark machines are shared and
 * heavily loaded, and CPU time leaves out the time spent descheduled.
 * The Go side reads the same clock. */
static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	int runs = argc > 1 ? atoi(argv[1]) : 15;
	long calls = argc > 2 ? atol(argv[2]) : 50000;
	unsigned flags =
	    argc > 3 && !strcmp(argv[3], "local") ? GC_CRON_LOCAL : GC_CRON_UTC;
	int64_t from[NFROM];
	uint64_t x = 42;

	if (runs < 1 || runs > 1000 || calls < NFROM) {
		fprintf(stderr,
			"usage: bench_cron [RUNS [CALLS>=%d [local]]]\n",
			NFROM);
		return 2;
	}
	/* Starting times spread over 2013..2033. */
	for (int i = 0; i < NFROM; i++) {
		x = x * UINT64_C(6364136223846793005) +
		    UINT64_C(1442695040888963407);
		from[i] = INT64_C(1356998400) +
			  (int64_t)((x >> 33) % UINT64_C(631152000));
	}

	for (size_t e = 0; e < sizeof(exprs) / sizeof(exprs[0]); e++) {
		gc_cron *c = NULL;
		gc_error err;
		int64_t *ns = calloc((size_t)runs, sizeof(*ns)), sum = 0;

		if (!ns ||
		    gc_cron_parse(&c, exprs[e], strlen(exprs[e]), &err) != 0) {
			fprintf(stderr, "bench_cron: %s: %s\n", exprs[e],
				ns ? err.msg : "out of memory");
			return 1;
		}
		for (int r = 0; r < runs; r++) {
			int64_t s = 0, t0 = now_ns();
			for (long i = 0; i < calls; i++)
				s += gc_cron_next(c, from[i % NFROM], flags);
			ns[r] = now_ns() - t0;
			if (r == 0)
				sum = s;
			else if (s != sum)
				return 1;
		}
		qsort(ns, (size_t)runs, sizeof(*ns), cmp_i64);
		printf("%s\t%.1f\t%" PRId64 "\t%d\t%ld\n", exprs[e],
		       (double)ns[runs / 2] / (double)calls, sum, runs, calls);
		fflush(stdout);
		free(ns);
		gc_cron_free(c);
	}
	return 0;
}
