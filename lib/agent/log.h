/* The agent's log sink, warning reports and counters: a leaf that knows
 * nothing of the agent, so that every part of it (the agent thread, the
 * etcd workers' claim code, the lease grants) can log and count through
 * the small object it is handed. Both are safe from any thread: the log
 * callback must be thread-safe (gc_agent_options.log says so), the
 * counters have their own mutex. */
#ifndef GC_AGENT_LOG_H
#define GC_AGENT_LOG_H

#include <gophercron/agent.h>

#include "internal.h"

#include <pthread.h>

/* Where log lines and warning reports go. Filled by gc_agent_new and not
 * changed afterwards. */
typedef struct gc__alog {
	gc_log_fn fn; /* NULL = silent */
	void *payload;
	int level;			/* lines above it are not produced */
	gc_agent_warning_fn on_warning; /* NULL: warnings are only logged */
	void *warning_payload;
	const char *client_ip; /* borrowed from the configuration */
} gc__alog;

/* Is a line at `lvl` produced at all? (Spares building costly lines.) */
#define GC__ALOG_ON(l, lvl) ((l)->fn && (lvl) <= (l)->level)

/* One log line ("agent: <what> key=value ..."), escaped and cut at 1 KB. */
void gc__alog_msg(const gc__alog *l, int level, const char *fmt, ...)
    GC__PRINTF(3, 4);
/* A warning report of `type` ("system", "task") about the agent: to
 * on_warning, or to the log when there is none. */
void gc__alog_warning(const gc__alog *l, const char *type,
		      const char *task_name, int64_t project_id,
		      const char *fmt, ...) GC__PRINTF(5, 6);
/* Hand a ready warning to on_warning (nothing when there is none). */
void gc__alog_report(const gc__alog *l, const gc_warning *w);

/* Counters and sizes (gc_agent_stats) behind their own mutex. */
typedef struct gc__astats {
	pthread_mutex_t mu;
	gc_agent_stats s;
} gc__astats;

void gc__astats_init(gc__astats *st);
void gc__astats_destroy(gc__astats *st);
void gc__astats_get(gc__astats *st, gc_agent_stats *out);

/* Add `d` to a counter (a negative d works on the unsigned fields too:
 * `running` goes down by one with -1). */
#define GC__STAT(st, field, d)                                                 \
	do {                                                                   \
		pthread_mutex_lock(&(st)->mu);                                 \
		(st)->s.field += (d);                                          \
		pthread_mutex_unlock(&(st)->mu);                               \
	} while (0)
/* Set a size (projects, tasks, registered...). */
#define GC__STAT_SET(st, field, v)                                             \
	do {                                                                   \
		pthread_mutex_lock(&(st)->mu);                                 \
		(st)->s.field = (v);                                           \
		pthread_mutex_unlock(&(st)->mu);                               \
	} while (0)

#endif
