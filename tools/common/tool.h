/* Helpers shared by the command-line tools (public API only). */
#ifndef GC_TOOL_H
#define GC_TOOL_H

#include <gophercron.h>

#include <stdbool.h>
#include <stdio.h>

/* "NAME (libgophercron X.Y.Z)" on stdout. */
void tool_print_version(const char *name);
/* Print "NAME: message" on stderr (printf format). */
void tool_err(const char *name, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Is argv[i] one of the given flag spellings (NULL-terminated)? */
bool tool_flag(const char *arg, const char *a, const char *b);
/* Strict integer parsing; false on junk. */
bool tool_parse_long(const char *s, long long *out);

#endif
