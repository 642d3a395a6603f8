/* Reporter internals: the HTTP sink. */
#ifndef GC_REPORTER_INTERNAL_H
#define GC_REPORTER_INTERNAL_H

#include "internal.h"

#include <stdatomic.h>

/* What became of one delivery attempt. */
enum {
	GC__SEND_OK = 0,     /* the sink has it */
	GC__SEND_RETRY = 1,  /* try again later (sink down, 5xx, auth, ...) */
	GC__SEND_REJECT = 2  /* the sink refuses this record as malformed */
};

#define GC__SEND_MSG_MAX 256

typedef struct gc__http gc__http;

typedef struct gc__http_options {
	const char *url;
	const char *token;      /* NULL = no Authorization header */
	const char *ca_file;    /* NULL = system bundle */
	int64_t connect_timeout_ms;
	int64_t request_timeout_ms;
	const atomic_bool *abort; /* set while stopping: abandon the request */
} gc__http_options;

int gc__http_new(gc__http **out, const gc__http_options *o, gc_error *err);
void gc__http_free(gc__http *h);

/* POST one body (type GC__SPOOL_REC_*). Returns GC__SEND_*; *status gets
 * the HTTP status (0 without an answer); msg (GC__SEND_MSG_MAX) says what
 * went wrong, with the URL (never the token). */
int gc__http_post(gc__http *h, int type, const char *body, size_t len,
		  long *status, char *msg);

/* Report-Type header value of a record type. */
const char *gc__report_type_name(int type);

#endif
