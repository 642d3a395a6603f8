/* The agent's log sink, warning reports and counters (see log.h). */
#include "agent/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void gc__alog_msg(const gc__alog *l, int level, const char *fmt, ...)
{
	if (!GC__ALOG_ON(l, level))
		return;
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	gc__log_vformat(line, sizeof(line), fmt, ap);
	va_end(ap);
	l->fn(level, line, l->payload);
}

void gc__alog_warning(const gc__alog *l, const char *type,
		      const char *task_name, int64_t project_id,
		      const char *fmt, ...)
{
	char data[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(data, sizeof(data), fmt, ap);
	va_end(ap);
	if (!l->on_warning) {
		gc__alog_msg(l, GC_LOG_WARNING, "agent: warning type=%s %s",
			     type, data);
		return;
	}
	gc_warning w = GC_WARNING_INIT;
	w.data = data;
	w.type = (char *)type;
	w.agent_ip = (char *)l->client_ip;
	w.task_name = (char *)(task_name ? task_name : "");
	w.project_id = project_id;
	l->on_warning(&w, l->warning_payload);
}

void gc__alog_report(const gc__alog *l, const gc_warning *w)
{
	if (l->on_warning)
		l->on_warning(w, l->warning_payload);
}

void gc__astats_init(gc__astats *st)
{
	memset(&st->s, 0, sizeof(st->s));
	pthread_mutex_init(&st->mu, NULL);
}

void gc__astats_destroy(gc__astats *st)
{
	pthread_mutex_destroy(&st->mu);
}

void gc__astats_get(gc__astats *st, gc_agent_stats *out)
{
	pthread_mutex_lock(&st->mu);
	*out = st->s;
	pthread_mutex_unlock(&st->mu);
}
