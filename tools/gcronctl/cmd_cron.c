/* gcronctl cron: check cron expressions and list their fire times.
 *
 *   gcronctl cron next EXPR [-n N] [--from UNIX_SECONDS] [--utc|--local]
 *   gcronctl cron next --batch [--local]
 *   gcronctl cron check EXPR
 */
#include "commands.h"

#include <cJSON.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PROG	      "gcronctl"
#define DEFAULT_COUNT 5
#define MAX_COUNT     100000

void cmd_cron_help(FILE *out)
{
	fprintf(out,
		"usage: gcronctl [--json] cron next EXPR [-n N] [--from "
		"UNIX_SECONDS] [--utc|--local]\n"
		"       gcronctl cron next --batch [--local]\n"
		"       gcronctl [--json] cron check EXPR\n"
		"\n"
		"Cron expressions have 5 fields (minute hour day-of-month "
		"month day-of-week),\n"
		"6 (the same plus a year last) or 7 (second first, year "
		"last), or are one of\n"
		"@yearly @annually @monthly @weekly @daily @hourly. Quote "
		"EXPR.\n"
		"\n"
		"next    print the next N (default %d, at most %d) fire "
		"times after --from\n"
		"        (default: now), each as date and unix seconds, "
		"computed in local\n"
		"        time (default) or UTC.\n"
		"  --batch  read lines EXPR<TAB>FROM<TAB>N from stdin (N "
		"optional, default %d)\n"
		"           and print EXPR<TAB>FROM<TAB>t1,t2,... (unix "
		"seconds, UTC unless\n"
		"           --local), ending the list with 0 when fewer than "
		"N exist, or\n"
		"           EXPR<TAB>FROM<TAB>ERROR for an invalid "
		"expression.\n"
		"check   validate EXPR; prints the error and exits 1 when it "
		"is invalid.\n"
		"\n"
		"Exit status: 0 ok, 1 invalid expression, 2 usage error.\n",
		DEFAULT_COUNT, MAX_COUNT, DEFAULT_COUNT);
}

/* "2024-05-01T10:00:00+08:00 Wed" (or "...Z Wed" in UTC). */
static void format_time(int64_t t, bool local, char *out, size_t cap)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char date[64], zone[48];
	long off;

	if (!(local ? localtime_r(&tt, &tm) : gmtime_r(&tt, &tm))) {
		snprintf(out, cap, "(unrepresentable)");
		return;
	}
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	off = local ? tm.tm_gmtoff : 0;
	if (!local)
		snprintf(zone, sizeof(zone), "Z");
	else
		snprintf(zone, sizeof(zone), "%c%02ld:%02ld",
			 off < 0 ? '-' : '+', labs(off) / 3600,
			 labs(off) % 3600 / 60);
	snprintf(out, cap, "%s%s %.3s", date, zone,
		 &"SunMonTueWedThuFriSat"[tm.tm_wday * 3]);
}

/* Parse EXPR, reporting an error on stderr. */
static gc_cron *parse_or_report(const char *expr)
{
	gc_cron *c = NULL;
	gc_error err = {0, ""};
	if (gc_cron_parse(&c, expr, strlen(expr), &err) != 0) {
		tool_err(PROG, "cron: %s", err.msg);
		return NULL;
	}
	return c;
}

static bool parse_count(const char *s, long long max, long long *n)
{
	return tool_parse_long(s, n) && *n >= 1 && *n <= max;
}

/* ------------------------------------------------------------ batch */

/* One input line "EXPR<TAB>FROM[<TAB>N]" -> one output line. Split from the
 * right so an expression may itself contain tabs. Returns false for a
 * malformed line (reported on stderr, nothing printed). */
static bool batch_line(char *line, size_t len, unsigned long lineno,
		       unsigned flags, int64_t *times)
{
	char *tab1, *tab2 = NULL, *from_s, *n_s = NULL;
	size_t exprlen, i;
	long long from, n = DEFAULT_COUNT;
	gc_cron *c = NULL;

	if (len && line[len - 1] == '\r') /* tolerate CRLF files */
		line[--len] = '\0';
	tab1 = memrchr(line, '\t', len);
	if (!tab1) {
		tool_err(PROG,
			 "cron next --batch: line %lu: expected "
			 "EXPR<TAB>FROM<TAB>N",
			 lineno);
		return false;
	}
	if (tab1 > line)
		tab2 = memrchr(line, '\t', (size_t)(tab1 - line));
	if (tab2) {
		from_s = tab2 + 1;
		n_s = tab1 + 1;
		*tab1 = '\0';
		exprlen = (size_t)(tab2 - line);
	} else {
		from_s = tab1 + 1;
		exprlen = (size_t)(tab1 - line);
	}
	if (!tool_parse_long(from_s, &from)) {
		tool_err(PROG,
			 "cron next --batch: line %lu: FROM \"%s\" is "
			 "not an integer (unix seconds)",
			 lineno, from_s);
		return false;
	}
	if (n_s && !parse_count(n_s, MAX_COUNT, &n)) {
		tool_err(PROG,
			 "cron next --batch: line %lu: N \"%s\" is not "
			 "a count 1-%d",
			 lineno, n_s, MAX_COUNT);
		return false;
	}

	fwrite(line, 1, exprlen, stdout);
	printf("\t%s\t", from_s);
	if (gc_cron_parse(&c, line, exprlen, NULL) != 0) {
		puts("ERROR");
		return true;
	}
	size_t got = gc_cron_next_n(c, (int64_t)from, flags, times, (size_t)n);
	for (i = 0; i < got; i++)
		printf(i ? ",%" PRId64 : "%" PRId64, times[i]);
	if (got < (size_t)n)
		fputs(got ? ",0" : "0", stdout);
	putchar('\n');
	gc_cron_free(c);
	return true;
}

static int run_batch(unsigned flags)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned long lineno = 0;
	int rc = CTL_OK;
	int64_t *times = malloc(MAX_COUNT * sizeof(*times));

	if (!times) {
		tool_err(PROG, "cron next --batch: out of memory");
		return CTL_REFUSED;
	}
	while ((len = getline(&line, &cap, stdin)) >= 0) {
		lineno++;
		if (len && line[len - 1] == '\n')
			line[--len] = '\0';
		if (len == 0)
			continue;
		if (!batch_line(line, (size_t)len, lineno, flags, times))
			rc = CTL_USAGE;
	}
	free(line);
	free(times);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		tool_err(PROG, "cron next --batch: cannot write output");
		return CTL_REFUSED;
	}
	return rc;
}

/* ------------------------------------------------------------ next */

static int print_next(const ctl_globals *g, const char *expr, int64_t from,
		      size_t n, bool local)
{
	gc_cron *c = parse_or_report(expr);
	int64_t *times;
	size_t got, i;
	char buf[160];

	if (!c)
		return CTL_REFUSED;
	times = malloc(n * sizeof(*times));
	if (!times) {
		gc_cron_free(c);
		tool_err(PROG, "cron next: out of memory");
		return CTL_REFUSED;
	}
	got = gc_cron_next_n(c, from, local ? GC_CRON_LOCAL : GC_CRON_UTC,
			     times, n);
	if (g->json) {
		cJSON *o = cJSON_CreateObject(), *arr;
		char *s;
		cJSON_AddStringToObject(o, "expression", expr);
		cJSON_AddStringToObject(o, "zone", local ? "local" : "utc");
		cJSON_AddNumberToObject(o, "from", (double)from);
		arr = cJSON_AddArrayToObject(o, "times");
		for (i = 0; i < got; i++) {
			cJSON *t = cJSON_CreateObject();
			format_time(times[i], local, buf, sizeof(buf));
			buf[strcspn(buf, " ")] = '\0'; /* drop the weekday */
			cJSON_AddNumberToObject(t, "unix", (double)times[i]);
			cJSON_AddStringToObject(t, "time", buf);
			cJSON_AddItemToArray(arr, t);
		}
		cJSON_AddBoolToObject(o, "exhausted", got < n);
		s = cJSON_PrintUnformatted(o);
		if (s)
			puts(s);
		cJSON_free(s);
		cJSON_Delete(o);
	} else {
		for (i = 0; i < got; i++) {
			format_time(times[i], local, buf, sizeof(buf));
			printf("%s  %" PRId64 "\n", buf, times[i]);
		}
		if (got < n)
			fprintf(stderr,
				"%s: cron next: no %sfire time after %s "
				"(years end at 2099)\n",
				PROG, got ? "further " : "",
				got ? "these" : "--from");
	}
	free(times);
	gc_cron_free(c);
	return CTL_OK;
}

static int run_next(const ctl_globals *g, int argc, char **argv)
{
	const char *expr = NULL, *val;
	long long n = DEFAULT_COUNT, from = (long long)time(NULL);
	bool batch = false, local = true, zone_set = false, opts = true;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (opts && strcmp(a, "--") == 0) {
			opts = false;
		} else if (opts && tool_flag(a, "-h", "--help")) {
			cmd_cron_help(stdout);
			return CTL_OK;
		} else if (opts && tool_flag(a, "--batch", NULL)) {
			batch = true;
		} else if (opts && tool_flag(a, "--utc", NULL)) {
			local = false;
			zone_set = true;
		} else if (opts && tool_flag(a, "--local", NULL)) {
			local = true;
			zone_set = true;
		} else if (opts && (tool_flag(a, "-n", "--count") ||
				    tool_flag(a, "--from", NULL) ||
				    !strncmp(a, "--count=", 8) ||
				    !strncmp(a, "--from=", 7))) {
			bool is_from = !strncmp(a, "--from", 6);
			if ((val = strchr(a, '=')) && a[1] == '-') {
				val++;
			} else if (++i < argc) {
				val = argv[i];
			} else {
				tool_err(PROG, "cron next: %s needs a value",
					 a);
				return CTL_USAGE;
			}
			if (is_from && !tool_parse_long(val, &from)) {
				tool_err(PROG,
					 "cron next: --from \"%s\" is not an "
					 "integer (unix seconds)",
					 val);
				return CTL_USAGE;
			}
			if (!is_from && !parse_count(val, MAX_COUNT, &n)) {
				tool_err(PROG,
					 "cron next: -n \"%s\" is not a count "
					 "1-%d",
					 val, MAX_COUNT);
				return CTL_USAGE;
			}
		} else if (opts && a[0] == '-' && a[1] != '\0') {
			tool_err(PROG,
				 "cron next: unknown option '%s' (see "
				 "gcronctl help cron)",
				 a);
			return CTL_USAGE;
		} else if (expr) {
			tool_err(PROG,
				 "cron next: one expression expected, "
				 "got a second argument '%s' (quote the "
				 "expression)",
				 a);
			return CTL_USAGE;
		} else {
			expr = a;
		}
	}
	if (batch) {
		if (expr) {
			tool_err(PROG, "cron next: --batch reads stdin and "
				       "takes no expression");
			return CTL_USAGE;
		}
		return run_batch(zone_set && local ? GC_CRON_LOCAL
						   : GC_CRON_UTC);
	}
	if (!expr) {
		tool_err(PROG, "cron next: missing EXPR (see gcronctl help "
			       "cron)");
		return CTL_USAGE;
	}
	return print_next(g, expr, (int64_t)from, (size_t)n, local);
}

/* ------------------------------------------------------------ check */

static int run_check(const ctl_globals *g, int argc, char **argv)
{
	gc_cron *c = NULL;
	gc_error err = {0, ""};
	const char *expr;
	int rc;

	if (argc == 1 && tool_flag(argv[0], "-h", "--help")) {
		cmd_cron_help(stdout);
		return CTL_OK;
	}
	if (argc != 1) {
		tool_err(PROG, "cron check: expected exactly one EXPR (quote "
			       "the expression)");
		return CTL_USAGE;
	}
	expr = argv[0];
	rc = gc_cron_parse(&c, expr, strlen(expr), &err);
	if (g->json) {
		cJSON *o = cJSON_CreateObject();
		char *s;
		cJSON_AddStringToObject(o, "expression", expr);
		cJSON_AddBoolToObject(o, "valid", rc == 0);
		if (rc == 0)
			cJSON_AddNumberToObject(o, "fields",
						gc_cron_field_count(c));
		else
			cJSON_AddStringToObject(o, "error", err.msg);
		s = cJSON_PrintUnformatted(o);
		if (s)
			puts(s);
		cJSON_free(s);
		cJSON_Delete(o);
	} else if (rc == 0) {
		printf("ok: %d fields\n", gc_cron_field_count(c));
	}
	if (rc != 0) {
		tool_err(PROG, "cron: %s", err.msg);
		return CTL_REFUSED;
	}
	gc_cron_free(c);
	return CTL_OK;
}

int cmd_cron(const ctl_globals *g, int argc, char **argv)
{
	if (argc < 1) {
		cmd_cron_help(stderr);
		return CTL_USAGE;
	}
	tzset(); /* local-time results follow TZ */
	if (strcmp(argv[0], "next") == 0)
		return run_next(g, argc - 1, argv + 1);
	if (strcmp(argv[0], "check") == 0)
		return run_check(g, argc - 1, argv + 1);
	if (tool_flag(argv[0], "-h", "--help") || !strcmp(argv[0], "help")) {
		cmd_cron_help(stdout);
		return CTL_OK;
	}
	tool_err(PROG, "cron: unknown subcommand '%s' (next, check)", argv[0]);
	return CTL_USAGE;
}
