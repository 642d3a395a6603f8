/* Error codes, version, logging helpers. */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

GC_EXTERN const char *gc_strerror(int code)
{
	switch (code) {
	case GC_OK: return "success";
	case GC_EINVAL: return "invalid argument";
	case GC_ENOMEM: return "out of memory";
	case GC_ENOTFOUND: return "not found";
	case GC_ECONFLICT: return "conflict";
	case GC_ETIMEDOUT: return "timed out";
	case GC_ESYS: return "system call failed";
	case GC_EIO: return "I/O error";
	case GC_EPROTO: return "protocol error";
	case GC_EAUTH: return "authentication failed";
	case GC_EPERM: return "permission denied";
	case GC_EUNAVAIL: return "service unavailable";
	case GC_ECOMPACTED: return "revision compacted";
	case GC_ECANCELED: return "canceled";
	case GC_ETOOBIG: return "too big";
	case GC_EDB: return "database error";
	default: return "unknown error";
	}
}

GC_EXTERN const char *gc_version(void)
{
	return GC_VERSION_STRING;
}

GC_EXTERN void gc_free(void *ptr)
{
	free(ptr);
}

int gc__seterr(gc_error *err, int code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		err->code = code;
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}

int gc__seterr_errno(gc_error *err, int code, int errnum, const char *fmt,
		     ...)
{
	if (err) {
		va_list ap;
		size_t n;
		va_start(ap, fmt);
		err->code = code;
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
		n = strlen(err->msg);
		snprintf(err->msg + n, sizeof(err->msg) - n, ": %s",
			 strerror(errnum));
	}
	return code;
}

void gc__err_prefix(gc_error *err, const char *fmt, ...)
{
	char old[GC_ERROR_MSG_MAX];
	va_list ap;
	int n;
	if (!err)
		return;
	memcpy(old, err->msg, sizeof(old));
	va_start(ap, fmt);
	n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n + 2 < sizeof(err->msg)) {
		memcpy(err->msg + n, ": ", 2);
		n += 2;
		size_t room = sizeof(err->msg) - (size_t)n - 1;
		size_t ol = strnlen(old, sizeof(old) - 1);
		memcpy(err->msg + n, old, ol < room ? ol : room);
		err->msg[n + (ol < room ? ol : room)] = '\0';
	}
}

static const char *const level_names[] = {
	"emerg", "alert", "crit", "error", "warning", "notice", "info", "debug",
};

GC_EXTERN const char *gc_log_level_name(int level)
{
	if (level < 0 || level > GC_LOG_DEBUG)
		return "unknown";
	return level_names[level];
}

GC_EXTERN int gc_log_level_parse(const char *name)
{
	if (!name)
		return -1;
	for (size_t i = 0; i < GC__ARRAY_LEN(level_names); i++)
		if (strcasecmp(name, level_names[i]) == 0)
			return (int)i;
	if (strcasecmp(name, "warn") == 0)
		return GC_LOG_WARNING;
	if (strcasecmp(name, "err") == 0 || strcasecmp(name, "fatal") == 0 ||
	    strcasecmp(name, "panic") == 0)
		return GC_LOG_ERR;
	return -1;
}

GC_EXTERN void gc_log_stderr(int level, const char *msg, void *payload)
{
	int max = payload ? *(const int *)payload : GC_LOG_INFO;
	char ts[48];
	if (level > max)
		return;
	gc__rfc3339(gc__wall_ns(), false, ts);
	/* One write per line so concurrent writers do not interleave. */
	fprintf(stderr, "%.23s %s %s\n", ts, gc_log_level_name(level), msg);
}

void gc__log(gc_log_fn fn, void *payload, int level, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	if (!fn)
		return;
	va_start(ap, fmt);
	gc__log_vformat(line, sizeof(line), fmt, ap);
	va_end(ap);
	fn(level, line, payload);
}
