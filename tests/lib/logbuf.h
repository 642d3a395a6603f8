/* A gc_log_fn target for tests (header-only): counts lines by level and
 * keeps every line, so a test can look for a message or prove that one
 * (a secret, say) was never logged. Thread-safe: libraries log from their
 * own threads. GC_TEST_VERBOSE=1 echoes each line to stderr. */
#ifndef GC_TEST_LOGBUF_H
#define GC_TEST_LOGBUF_H

#include <gophercron.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct gct_logbuf {
	pthread_mutex_t mu;
	int errors, warnings, notices;
	char *text; /* every line, '\n'-separated */
	size_t len;
} gct_logbuf;

static inline void gct_logbuf_init(gct_logbuf *l)
{
	memset(l, 0, sizeof(*l));
	pthread_mutex_init(&l->mu, NULL);
}

static inline void gct_logbuf_free(gct_logbuf *l)
{
	pthread_mutex_destroy(&l->mu);
	free(l->text);
	l->text = NULL;
	l->len = 0;
}

/* The gc_log_fn; payload is the gct_logbuf. */
static inline void gct_logbuf_fn(int level, const char *msg, void *payload)
{
	gct_logbuf *l = payload;
	size_t n = strlen(msg);
	pthread_mutex_lock(&l->mu);
	if (level <= GC_LOG_ERR)
		l->errors++;
	else if (level == GC_LOG_WARNING)
		l->warnings++;
	else if (level == GC_LOG_NOTICE)
		l->notices++;
	char *t = realloc(l->text, l->len + n + 2);
	if (t) {
		l->text = t;
		memcpy(l->text + l->len, msg, n);
		l->len += n;
		l->text[l->len++] = '\n';
		l->text[l->len] = '\0';
	}
	pthread_mutex_unlock(&l->mu);
	if (getenv("GC_TEST_VERBOSE"))
		fprintf(stderr, "log %d: %s\n", level, msg);
}

/* How often `needle` occurs in what was logged. */
static inline int gct_logbuf_count(gct_logbuf *l, const char *needle)
{
	int n = 0;
	pthread_mutex_lock(&l->mu);
	for (const char *p = l->text; p && (p = strstr(p, needle)); p++)
		n++;
	pthread_mutex_unlock(&l->mu);
	return n;
}

#endif
