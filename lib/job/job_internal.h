/* Job module internals (lib/job/). The first part is shared with other
 * library modules (agent, reporter, store): Go-compatible JSON writing and
 * Go's time format, without a cJSON round trip. The second part is for
 * the files of lib/job only. Not installed. */
#ifndef GC_JOB_INTERNAL_H
#define GC_JOB_INTERNAL_H

#include "internal.h"

#include <gophercron/job.h>

#include <cJSON.h>

/* ------------------------------------------- for every module (gojson.c) */

/* Append `s` (len bytes) as a JSON string the way Go's encoding/json
 * writes it: \" \\ \n \r \t, other controls as \u00XX, < > & as \u003c
 * \u003e \u0026, U+2028/2029 escaped, invalid UTF-8 bytes as \ufffd. */
int gc__json_gostr(gc__buf *b, const char *s, size_t len);
/* The same without Go's HTML escaping: < > & as they are, invalid UTF-8
 * bytes as a raw U+FFFD (3 bytes instead of 6). Still valid JSON for any
 * decoder, Go's included; for text stored rather than sent on the wire. */
int gc__json_str(gc__buf *b, const char *s, size_t len);

/* ------------------------------------------ for every module (rfc3339.c) */

/* Go's time.Time RFC3339Nano in UTC: fraction without trailing zeros and
 * none at all when zero; 0 ns encodes Go's zero time
 * "0001-01-01T00:00:00Z". */
void gc__rfc3339_go(int64_t unix_ns, char out[48]);
/* Inverse; Go's zero time decodes to 0. */
int gc__parse_rfc3339_go(const char *s, int64_t *unix_ns);

/* ------------------------------------------------------- lib/job only */

/* gojson.c: gc__json_gostr of a C string; NULL writes "". */
int gc__gojson_cstr(gc__buf *b, const char *s);

/* One member of a JSON object, as raw text. */
typedef struct gc__gojson_member {
	const char *key; /* including quotes */
	size_t key_len;
	const char *val;
	size_t val_len;
} gc__gojson_member;

/* gojson.c, raw scanning of a text cJSON already accepted (so unknown
 * members stay byte-exact): call fn for each member of the object at p;
 * 0 or GC_EINVAL (or what fn returned). */
int gc__gojson_members(const char *p, const char *end,
		       int (*fn)(const gc__gojson_member *m, void *arg),
		       void *arg);
/* Decode a member's key into buf; keys longer than the buffer read as ""
 * (they match nothing we know). */
void gc__gojson_key(const gc__gojson_member *m, char *buf, size_t size);
/* Raw span of the first member `name` of the object at [p, end);
 * GC_ENOTFOUND when there is none. */
int gc__gojson_find(const char *p, const char *end, const char *name,
		    const char **val, size_t *val_len);

/* gojson.c, decoding as Go's encoding/json does. Parse a whole JSON
 * object through the shared check (nesting, strict grammar, no \u0000 but
 * in `nul_member`); numbers keep their text. `what` prefixes messages. */
cJSON *gc__gojson_object(const char *json, size_t len, const char *what,
			 const char *nul_member, gc_error *err);
/* "a string", "a number", ... "null", for messages. */
const char *gc__gojson_type_name(const cJSON *v);
/* Field readers; messages name `where` and `field`. An integer is a
 * number exactly as written (no fraction, no exponent, within range) or
 * a numeric string; null or absent reads 0. A string replaces *out (the
 * old value is freed); null or absent reads "". */
int gc__gojson_int64(const cJSON *v, const char *where, const char *field,
		     int64_t *out, gc_error *err);
int gc__gojson_int(const cJSON *v, const char *where, const char *field,
		   int *out, gc_error *err);
int gc__gojson_string(const cJSON *v, const char *where, const char *field,
		      char **out, gc_error *err);

/* task.c: *dst = a copy of src, or NULL when src is NULL; GC_ENOMEM. */
int gc__job_strdup(char **dst, const char *src);
/* task.c: append the task's JSON object (same bytes as gc_task_to_json). */
int gc__task_json_append(gc__buf *b, const gc_task *t);
/* task.c: decode a task from an already parsed cJSON object; `where`
 * prefixes error messages ("task", "execute_info.task"). */
int gc__task_from_cjson(gc_task *t, const cJSON *obj, const char *where,
			gc_error *err);

#endif
