/* Internal helpers shared by the library's modules. Not installed.
 * Internal non-static names use the gc__ prefix. */
#ifndef GC_INTERNAL_H
#define GC_INTERNAL_H

#include <gophercron/common.h>

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#if defined(__GNUC__)
#define GC__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define GC__PRINTF(a, b)
#endif

#define GC__ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Fewest bytes of a configured [jwt] secret (HS256 wants a key as long as
 * its hash). */
#define GC__JWT_SECRET_MIN 32

/* Fill `err` (may be NULL) and return `code`. */
int gc__seterr(gc_error *err, int code, const char *fmt, ...)
	GC__PRINTF(3, 4);
/* Same, appending ": strerror(errno)". */
int gc__seterr_errno(gc_error *err, int code, int errnum, const char *fmt,
		     ...) GC__PRINTF(4, 5);
/* Prefix an existing message: "<prefix>: <old message>". */
void gc__err_prefix(gc_error *err, const char *fmt, ...) GC__PRINTF(2, 3);

/* Growable byte buffer, always NUL-terminated when data != NULL. */
typedef struct gc__buf {
	char *data;
	size_t len;
	size_t cap;
} gc__buf;

#define GC__BUF_INIT {NULL, 0, 0}
int gc__buf_reserve(gc__buf *b, size_t extra);
int gc__buf_append(gc__buf *b, const void *data, size_t len);
int gc__buf_puts(gc__buf *b, const char *s);
int gc__buf_printf(gc__buf *b, const char *fmt, ...) GC__PRINTF(2, 3);
int gc__buf_vprintf(gc__buf *b, const char *fmt, va_list ap)
	GC__PRINTF(2, 0);
void gc__buf_consume(gc__buf *b, size_t n); /* drop n bytes from the front */
void gc__buf_reset(gc__buf *b);             /* len = 0, keep memory */
void gc__buf_free(gc__buf *b);
/* Hand the data to the caller (malloc'd, NUL-terminated, never NULL on 0). */
char *gc__buf_detach(gc__buf *b);

char *gc__strdup(const char *s);
char *gc__strndup(const char *s, size_t n);
char *gc__sprintf(const char *fmt, ...) GC__PRINTF(1, 2);

/* Standard base64 with padding. Encode returns a malloc'd string; decode
 * returns GC_EINVAL on bad input, output malloc'd and NUL-terminated. */
char *gc__base64_encode(const void *data, size_t len);
int gc__base64_decode(const char *in, size_t inlen, char **out,
		      size_t *outlen);

/* Strict decimal parsing of the whole string; GC_EINVAL otherwise. */
int gc__parse_int64(const char *s, int64_t *out);

/* Clocks. */
int64_t gc__mono_ms(void);          /* CLOCK_MONOTONIC in ms */
int64_t gc__mono_ns(void);
int64_t gc__wall_ns(void);          /* CLOCK_REALTIME in ns */
/* The CLOCK_MONOTONIC time `ms` from now (now when `ms` < 0): the deadline
 * of a pthread_cond_timedwait on a condition variable set to that clock
 * (pthread_condattr_setclock). */
void gc__mono_deadline(struct timespec *out, int64_t ms);

/* Options structs: the one version policy (docs/ARCHITECTURE.md, "API
 * conventions"). Every public options struct starts with `unsigned
 * version`; sizes[v - 1] is how many bytes version v of it has (the offset
 * of the first field added in v + 1; sizeof for the current version), so
 * a caller built against an older header is read without reading past
 * its struct, and the fields it did not know keep their defaults (zero). */
typedef struct gc__optver {
	const char *what;     /* "etcd", "store", ... for messages */
	const size_t *sizes;  /* one per version, 1..current */
	unsigned current;     /* GC_X_OPTIONS_VERSION */
} gc__optver;

/* Defines `name` (`linkage`: static or empty), checking at compile time
 * that there is one size per version. */
#define GC__OPTVER(linkage, name, what, current, ...)                        \
	static const size_t name##_sizes[] = {__VA_ARGS__};                  \
	_Static_assert(sizeof(name##_sizes) / sizeof(size_t) == (current),   \
		       what ": one size per options version");               \
	linkage const gc__optver name = {what, name##_sizes, current}

/* gc_x_options_init(o, version): zero the bytes version `version` has and
 * set the version. GC_EINVAL for NULL, 0 or a version newer than this
 * library's (its size is unknown). */
int gc__options_init(void *o, unsigned version, const gc__optver *v);
/* Constructors: `dst` (the current version) gets the defaults (zeroes),
 * then the fields of `src` (NULL: none) that its version has; dst's
 * version becomes the current one. Version 0 (a zero-filled struct) is
 * read as 1. A newer version is GC_EINVAL with a message naming both. */
int gc__options_copy(void *dst, const void *src, const gc__optver *v,
		     gc_error *err);

/* RFC3339 with nanoseconds in UTC offset of the local zone, as Go's
 * time.Time marshals ("2024-05-01T10:00:00.123456789+08:00"). `out` needs
 * 40 bytes. utc=true forces "Z". */
void gc__rfc3339(int64_t unix_ns, bool utc, char out[48]);
/* Parse RFC3339 (with optional fraction and Z or +hh:mm). */
int gc__parse_rfc3339(const char *s, int64_t *unix_ns);

/* Value of one hex digit (either case), or -1. */
int gc__hexval(int c);

/* Wipe a secret (password, token) so the heap keeps no copy, then free
 * it (s may be NULL). Unlike memset, the wipe is never optimised away. */
void gc__secret_free(char *s);

/* Free the first n strings of v, then v itself (v may be NULL). */
void gc__strv_free(char **v, size_t n);

/* write(2) all of buf, retrying after EINTR and short writes: 0, or -1
 * with errno set. */
int gc__write_full(int fd, const void *buf, size_t len);

/* Read the regular file `path` (relative to `dirfd`, or AT_FDCWD; never
 * through a symlink) of at most `max` bytes whole: 0 with *out malloc'd
 * and NUL-terminated, *len its size; or -1 with errno (EINVAL: not a
 * regular file, EFBIG: larger than max). */
int gc__read_file_at(int dirfd, const char *path, size_t max, char **out,
		     size_t *len);
/* The same with flags: GC__READ_FOLLOW follows a symlink as the last
 * component of `path`; GC__READ_STREAMS also reads a pipe or device to
 * its end (at most `max` bytes; a directory is EISDIR). *mode (may be
 * NULL) gets the permission bits of a regular file, 0 for another kind. */
#define GC__READ_FOLLOW 1u
#define GC__READ_STREAMS 2u
int gc__read_file_ex(int dirfd, const char *path, unsigned flags, size_t max,
		     char **out, size_t *len, unsigned *mode);

/* Length (1..4) of the valid UTF-8 sequence at s (n bytes available) with
 * its code point in *cp, or 0 when it is not valid UTF-8 (overlong forms,
 * surrogates and code points beyond U+10FFFF are not). */
size_t gc__utf8_seq(const unsigned char *s, size_t n, uint32_t *cp);
/* Write code point cp (at most U+10FFFF) as UTF-8 into d (room for 4
 * bytes); returns the length, 1..4. */
size_t gc__utf8_put(char *d, uint32_t cp);

/* Captured output is capped the same way everywhere (executor, handlers,
 * the service's ingest, the reporter's SQL sink): the first limit/2 bytes,
 * the marker "\n... [N bytes omitted] ...\n", the last limit - limit/2
 * bytes. gc__omitted_marker writes the marker (at most
 * GC__OMITTED_MARKER_MAX bytes with its NUL) and returns its length. */
#define GC__OMITTED_MARKER_MAX 64
size_t gc__omitted_marker(char *buf, size_t len, uint64_t omitted);
/* Cap a whole output src[0..len) into dst (room for the smaller of len
 * and limit + GC__OMITTED_MARKER_MAX bytes, plus a NUL; may be src itself)
 * and return the new length. An output of at most limit +
 * GC__OMITTED_MARKER_MAX bytes is kept as it is, so one already capped at
 * the same limit (marker included) is not cut again. */
size_t gc__output_cap(char *dst, const char *src, size_t len, size_t limit);

/* Every log line the library emits goes through this: copy `in` into `out`
 * (outlen bytes, always NUL-terminated, cut between characters) with
 * \n \r \t written as the two characters "\n" "\r" "\t", and other C0
 * controls, DEL, C1 controls and bytes that are not UTF-8 as "\xNN", so a
 * value in a message (an account name, a warning's data) can never start
 * a line of its own or send escape sequences to a terminal. */
void gc__log_escape(char *out, size_t outlen, const char *in);
/* vsnprintf, then gc__log_escape. */
void gc__log_vformat(char *out, size_t outlen, const char *fmt, va_list ap)
	GC__PRINTF(3, 0);

/* ------------------------------------------------------------------ JSON
 * JSON from outside the process (lib/json.c). cJSON decodes recursively and
 * allows 1000 levels; jansson, inside libjwt, 2048: a few hundred nested
 * '[' exhaust a small thread stack (civetweb's workers have 100 KB, an
 * embedder's threads may have less) and kill the process. So every JSON
 * text that comes from a client, an agent, etcd or a token goes through
 * gc__json_check (or gc__json_parse, which calls it) first: one iterative
 * pass that bounds the nesting, checks the whole grammar strictly
 * (RFC 8259: numbers as JSON writes them, no control bytes, only
 * whitespace after the value; a leading UTF-8 byte order mark is skipped,
 * as cJSON does) and refuses \u0000 in strings, which cJSON would silently
 * cut. At these limits every decoder of the library runs in a 24 KB
 * thread stack (gcc -O2); the check itself uses about 5 KB. The limits, by
 * use (nesting = objects and arrays inside each other; {"a":[1]} is 2): */
/* REST request bodies */
#define GC__JSON_DEPTH_REST 64
/* task definitions (etcd), the agents' result and warning bodies */
#define GC__JSON_DEPTH_JOB 128
/* etcd gateway answers and watch messages */
#define GC__JSON_DEPTH_ETCD 32
/* a login token's header and claims */
#define GC__JSON_DEPTH_JWT 16
/* the largest limit the scan accepts */
#define GC__JSON_DEPTH_MAX 128

/* Numbers keep their text in valuestring (cJSON_malloc'd, freed by
 * cJSON_Delete), for gc__json_int64. */
#define GC__JSON_NUMBER_TEXT 1u

/* nul_member: the top-level member whose strings may hold \u0000
 * (decode them with gc__json_unquote), or NULL. */
typedef struct gc__json_opts {
	int max_depth;	/* one of GC__JSON_DEPTH_* */
	unsigned flags; /* GC__JSON_NUMBER_TEXT */
	const char *nul_member;
} gc__json_opts;

/* What was wrong, for callers that word their own message: the kind, the
 * byte offset in the text and, for a NUL in a string, the top-level member
 * holding it ("" for a member name, or outside any object). */
enum { GC__JSON_FAULT_SYNTAX = 1, GC__JSON_FAULT_DEPTH, GC__JSON_FAULT_NUL };
typedef struct gc__json_fault {
	int kind;
	size_t at;
	char member[72];
} gc__json_fault;

struct cJSON;
/* Check the text as above: 0, or GC_EINVAL with a message saying what is
 * wrong and at which byte ("JSON nested deeper than 64 levels at byte 64",
 * "invalid JSON at byte 7 (expected ':')", "\"a.b[2]\": a string has a NUL
 * character (\u0000) at byte 12"). `fault` may be NULL. */
int gc__json_check(const char *s, size_t len, const gc__json_opts *o,
		   gc__json_fault *fault, gc_error *err);
/* gc__json_check, then cJSON: *out is the tree (any JSON type: callers
 * check it), or NULL with GC_EINVAL / GC_ENOMEM. */
int gc__json_parse(struct cJSON **out, const char *s, size_t len,
		   const gc__json_opts *o, gc__json_fault *fault,
		   gc_error *err);
/* A JSON number as an exact int64: 0, or GC_EINVAL when its value is not
 * an integer (1.5) or is beyond int64. The value is read from the text
 * when the tree was parsed with GC__JSON_NUMBER_TEXT (1.0e3 is 1000,
 * 9007199254740993 stays odd); otherwise only within +-2^53. */
int gc__json_int64(const struct cJSON *v, int64_t *out);
/* Decode the JSON string literal s[0..len) (quotes included) exactly,
 * NULs kept: *out malloc'd and NUL-terminated, *outlen its length. */
int gc__json_unquote(const char *s, size_t len, char **out, size_t *outlen);

/* Defaults of the service's [http] settings (config.c, service). */
#define GC__HTTP_THREADS 256
#define GC__HTTP_HEADER_TIMEOUT_MS 10000
#define GC__HTTP_KEEP_ALIVE_TIMEOUT_MS 5000
#define GC__HTTP_REQUEST_TIMEOUT_MS 30000
#define GC__HTTP_MAX_IDLE_PER_ADDRESS 16

/* Log through an optional callback with printf formatting. */
void gc__log(gc_log_fn fn, void *payload, int level, const char *fmt, ...)
	GC__PRINTF(4, 5);

#endif
