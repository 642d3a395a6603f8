/* libgophercron: common definitions shared by every module.
 *
 * Conventions (all modules):
 *  - Functions return 0 on success or a negative GC_E* code.
 *  - Functions that can fail take an optional `gc_error *err` as the last
 *    argument; when non-NULL it receives a message saying what was wrong
 *    and where (which cron field, which etcd endpoint and HTTP status, ...).
 *  - Constructors hand the object through the first argument; every
 *    `_free` accepts NULL.
 *  - No global mutable state; objects are not thread-safe unless their
 *    header says so.
 */
#ifndef GOPHERCRON_COMMON_H
#define GOPHERCRON_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(GC_BUILDING_LIBRARY) && defined(__GNUC__)
#define GC_EXTERN __attribute__((visibility("default")))
#else
#define GC_EXTERN
#endif

#define GC_VERSION_MAJOR 1
#define GC_VERSION_MINOR 10
#define GC_VERSION_PATCH 100
#define GC_VERSION_STRING "1.10.100"

/* Error codes: 0 is success, every error is negative. */
enum {
	GC_OK = 0,
	GC_EINVAL = -1,     /* bad argument or input (message says which) */
	GC_ENOMEM = -2,     /* out of memory */
	GC_ENOTFOUND = -3,  /* key, row, task or object does not exist */
	GC_ECONFLICT = -4,  /* already exists / lost a race / lock held */
	GC_ETIMEDOUT = -5,  /* deadline passed */
	GC_ESYS = -6,       /* a system call failed (errno in the message) */
	GC_EIO = -7,        /* network or disk I/O failed */
	GC_EPROTO = -8,     /* peer answered something we cannot decode */
	GC_EAUTH = -9,      /* authentication failed or token rejected */
	GC_EPERM = -10,     /* authenticated but not allowed */
	GC_EUNAVAIL = -11,  /* service unavailable (no leader, all down) */
	GC_ECOMPACTED = -12, /* etcd revision was compacted */
	GC_ECANCELED = -13, /* operation cancelled or object stopping */
	GC_ETOOBIG = -14,   /* input larger than the allowed bound */
	GC_EDB = -15        /* SQL store error */
};

#define GC_ERROR_MSG_MAX 512

/* Caller-owned error detail. */
typedef struct gc_error {
	int code;
	char msg[GC_ERROR_MSG_MAX];
} gc_error;

/* Static text for a GC_E* code ("invalid argument", ...). */
GC_EXTERN const char *gc_strerror(int code);

/* Library version string, e.g. "1.10.100". */
GC_EXTERN const char *gc_version(void);

/* syslog-numbered log levels. */
enum {
	GC_LOG_ERR = 3,
	GC_LOG_WARNING = 4,
	GC_LOG_NOTICE = 5,
	GC_LOG_INFO = 6,
	GC_LOG_DEBUG = 7
};

/* Log callback: `msg` is one line without trailing newline. */
typedef void (*gc_log_fn)(int level, const char *msg, void *payload);

/* Name of a level ("error", "warning", "info", "debug") and back; returns
 * -1 for an unknown name. */
GC_EXTERN const char *gc_log_level_name(int level);
GC_EXTERN int gc_log_level_parse(const char *name);

/* A ready-made gc_log_fn writing "TIME LEVEL msg" lines to stderr; payload
 * may point at an int holding the maximum level to print (NULL = INFO). */
GC_EXTERN void gc_log_stderr(int level, const char *msg, void *payload);

/* Free memory the library returned to the caller (strings, arrays). */
GC_EXTERN void gc_free(void *ptr);

#ifdef __cplusplus
}
#endif
#endif
