/* next_times: when does a cron expression fire next?
 *
 *   next_times EXPR [-n N] [--from UNIX_SECONDS] [--local]
 *
 *   next_times '0/5 * * * * * *'                  every 5 seconds (7 fields)
 *   next_times '0 9 * * MON-FRI' -n 3 --local      09:00 on weekdays, here
 *   next_times '0 0 12 L * ? *' --from 0           noon on the last day of
 *                                                  the month, from 1970
 *
 * Shows the cron API of libgophercron: gc_cron_parse() with its error
 * message (which field, what is wrong), gc_cron_next_n(), UTC or local
 * time. Build against an installed library:
 *   cc next_times.c $(pkg-config --cflags --libs libgophercron) -o next_times
 */
#include <gophercron.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int parse_number(const char *s, long long *out)
{
	char *end;
	errno = 0;
	*out = strtoll(s, &end, 10);
	return errno == 0 && end != s && *end == '\0';
}

static void usage(FILE *f)
{
	fprintf(f, "usage: next_times EXPR [-n N] [--from UNIX_SECONDS] "
		   "[--local]\n"
		   "  -n N        how many fire times (1-1000, default 5)\n"
		   "  --from T    start after this instant (default: now)\n"
		   "  --local     match the fields in the local time zone (TZ)\n"
		   "              instead of UTC\n");
}

int main(int argc, char **argv)
{
	const char *expr = NULL;
	long long n = 5, from = (long long)time(NULL);
	unsigned flags = GC_CRON_UTC;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(a, "--local") == 0) {
			flags = GC_CRON_LOCAL;
		} else if (strcmp(a, "-n") == 0 && i + 1 < argc) {
			if (!parse_number(argv[++i], &n) || n < 1 || n > 1000) {
				fprintf(stderr, "next_times: -n needs 1 to 1000\n");
				return 2;
			}
		} else if (strcmp(a, "--from") == 0 && i + 1 < argc) {
			if (!parse_number(argv[++i], &from)) {
				fprintf(stderr, "next_times: --from needs unix "
						"seconds\n");
				return 2;
			}
		} else if (!expr && (a[0] != '-' || a[1] == '\0')) {
			expr = a;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (!expr) {
		usage(stderr);
		return 2;
	}

	gc_cron *cron;
	gc_error err;
	if (gc_cron_parse(&cron, expr, strlen(expr), &err) != 0) {
		/* e.g. "day-of-month field \"32\": value out of range 1-31" */
		fprintf(stderr, "next_times: %s\n", err.msg);
		return 1;
	}
	if (flags == GC_CRON_LOCAL)
		tzset(); /* the library reads TZ but never calls tzset() */

	int64_t *times = calloc((size_t)n, sizeof(*times));
	if (!times) {
		gc_cron_free(cron);
		fprintf(stderr, "next_times: out of memory\n");
		return 1;
	}
	size_t got = gc_cron_next_n(cron, from, flags, times, (size_t)n);
	for (size_t i = 0; i < got; i++) {
		time_t t = (time_t)times[i];
		struct tm tm;
		char text[64];
		if (flags == GC_CRON_LOCAL) {
			localtime_r(&t, &tm);
			strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S %Z %a",
				 &tm);
		} else {
			gmtime_r(&t, &tm);
			strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S UTC %a",
				 &tm);
		}
		printf("%lld  %s\n", (long long)times[i], text);
	}
	if (got < (size_t)n)
		printf("(no more fire times before the year 2100)\n");
	free(times);
	gc_cron_free(cron);
	return 0;
}
