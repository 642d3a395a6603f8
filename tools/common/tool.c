#include "tool.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void tool_print_version(const char *name)
{
	printf("%s (libgophercron %s)\n", name, gc_version());
}

void tool_err(const char *name, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

bool tool_flag(const char *arg, const char *a, const char *b)
{
	return (a && strcmp(arg, a) == 0) || (b && strcmp(arg, b) == 0);
}

bool tool_parse_long(const char *s, long long *out)
{
	char *end;
	if (!s || !*s)
		return false;
	errno = 0;
	*out = strtoll(s, &end, 10);
	return errno == 0 && *end == '\0';
}
