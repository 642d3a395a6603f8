/* Task model internals shared with other library modules (service, agent,
 * reporter, store): Go-compatible JSON writing without a cJSON round trip. */
#ifndef GC_JOB_INTERNAL_H
#define GC_JOB_INTERNAL_H

#include "internal.h"

#include <gophercron/job.h>

#include <cJSON.h>

/* Append `s` (len bytes) as a JSON string the way Go's encoding/json
 * writes it: \" \\ \n \r \t, other controls as \u00XX, < > & as \u003c
 * \u003e \u0026, U+2028/2029 escaped, invalid UTF-8 bytes as \ufffd. */
int gc__json_gostr(gc__buf *b, const char *s, size_t len);
/* The same without Go's HTML escaping: < > & as they are, invalid UTF-8
 * bytes as a raw U+FFFD (3 bytes instead of 6). Still valid JSON for any
 * decoder, Go's included; for text stored rather than sent on the wire. */
int gc__json_str(gc__buf *b, const char *s, size_t len);

/* A task log row's result text ({"result":OUT,"system_error":ERR,
 * "error":E}) rebuilt from a cut copy of it: `head` holds its first bytes,
 * `tail` its last ones (tail_len 0: no tail), the middle is missing and
 * either piece may end or start anywhere, even inside an escape. Appends
 * to `out` a text of the same shape holding what the pieces have: the
 * output's start, a marker saying it was cut, the output's end, and the
 * error texts. Rows the original wrote (Go's \u003c escapes) decode
 * alike. GC_ENOMEM or 0. (lib/report/logrow.c) */
int gc__log_result_cut(const char *head, size_t head_len, const char *tail,
		       size_t tail_len, gc__buf *out);

/* Append the task's JSON object (same bytes as gc_task_to_json). */
int gc__task_json_append(gc__buf *b, const gc_task *t);

/* Decode a task from an already parsed cJSON object; `where` prefixes
 * error messages ("task", "execute_info.task"). */
int gc__task_from_cjson(gc_task *t, const cJSON *obj, const char *where,
			gc_error *err);

/* A cJSON object of the task (for responses assembled with cJSON). */
cJSON *gc__task_to_cjson(const gc_task *t);

/* Go's time.Time RFC3339Nano in UTC: fraction without trailing zeros and
 * none at all when zero; 0 ns encodes Go's zero time
 * "0001-01-01T00:00:00Z". */
void gc__rfc3339_go(int64_t unix_ns, char out[48]);
/* Inverse; Go's zero time decodes to 0. */
int gc__parse_rfc3339_go(const char *s, int64_t *unix_ns);

#endif
