/* In-process handlers: tasks whose command is "@handler:NAME ARGS" run a
 * registered C function on one of the agent's handler threads, with the
 * same claim, timeout, kill and report semantics as shell commands.
 * Cancellation (timeout, kill, stop) is cooperative: a flag the function
 * polls or waits on. */
#include "agent/agent_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HANDLER_PREFIX "@handler:"
#define HANDLER_PREFIX_LEN 9
#define HANDLER_NAME_MAX 63

struct gc__hjob {
	gc__ajob base; /* completion to the agent thread (run == NULL) */
	struct gc__hjob *qnext;
	gc__run *run;
	gc_agent_handler_fn fn;
	void *payload;
	char *args;
	const gc_task *task;
	int64_t plan_s;
	char fence[24];
	char *run_id;
	atomic_int cancelled; /* 0, GC_EXEC_KILLED or GC_EXEC_TIMEOUT */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* output: the head up to half the limit, then a ring of the tail */
	size_t limit;
	char *head;
	size_t head_len;
	char *tail;
	size_t tail_len, tail_pos;
	uint64_t total;
	int oom;
	char *fail_text;
	int rc;
	int64_t start_ns, end_ns;
};

struct gc__hpool {
	pthread_t *threads;
	int n;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct gc__hjob *head, *tail;
	int stop;
};

/* ------------------------------------------------------- registry */

static int name_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

int gc__handler_is_call(const char *command)
{
	return command && strncmp(command, HANDLER_PREFIX, HANDLER_PREFIX_LEN) == 0;
}

const gc__handler *gc__handler_find(gc_agent *a, const char *command,
				    const char **args, char *name,
				    size_t name_len)
{
	const char *p = command + HANDLER_PREFIX_LEN, *end = p;
	while (name_char((unsigned char)*end))
		end++;
	size_t n = (size_t)(end - p);
	snprintf(name, name_len, "%.*s", (int)n, p);
	if (*end && *end != ' ' && *end != '\t')
		return NULL; /* NAME followed by junk: not a valid call */
	while (*end == ' ' || *end == '\t')
		end++;
	*args = end;
	for (const gc__handler *h = a->handlers; h; h = h->next)
		if (strlen(h->name) == n && memcmp(h->name, p, n) == 0)
			return h;
	return NULL;
}

GC_EXTERN int gc_agent_register_handler(gc_agent *agent, const char *name,
					gc_agent_handler_fn fn, void *payload,
					gc_error *err)
{
	if (!agent || !name || !fn)
		return gc__seterr(err, GC_EINVAL,
				  "agent handler: agent, name and function "
				  "are required");
	size_t n = strlen(name);
	if (n == 0 || n > HANDLER_NAME_MAX)
		return gc__seterr(err, GC_EINVAL,
				  "agent handler: name must be 1-%d characters",
				  HANDLER_NAME_MAX);
	for (size_t i = 0; i < n; i++)
		if (!name_char((unsigned char)name[i]))
			return gc__seterr(err, GC_EINVAL,
					  "agent handler \"%s\": only letters, "
					  "digits, '_', '-' and '.' are allowed",
					  name);
	for (gc__handler *h = agent->handlers; h; h = h->next) {
		if (strcmp(h->name, name) == 0) {
			h->fn = fn;
			h->payload = payload;
			return 0;
		}
	}
	gc__handler *h = calloc(1, sizeof(*h));
	if (!h || !(h->name = gc__strdup(name))) {
		free(h);
		return gc__seterr(err, GC_ENOMEM, "agent handler: out of memory");
	}
	h->fn = fn;
	h->payload = payload;
	h->next = agent->handlers;
	agent->handlers = h;
	return 0;
}

/* ----------------------------------------------------------- output */

static void out_append(struct gc__hjob *j, const char *data, size_t len)
{
	j->total += len;
	size_t half = j->limit / 2;
	size_t take = half > j->head_len ? half - j->head_len : 0;
	if (take > len)
		take = len;
	if (take) {
		memcpy(j->head + j->head_len, data, take);
		j->head_len += take;
		data += take;
		len -= take;
	}
	size_t cap = j->limit - half;
	if (!len || !cap)
		return;
	if (len >= cap) { /* only the last `cap` bytes can survive */
		memcpy(j->tail, data + len - cap, cap);
		j->tail_len = cap;
		j->tail_pos = 0;
		return;
	}
	for (size_t i = 0; i < len; i++) {
		j->tail[j->tail_pos] = data[i];
		j->tail_pos = (j->tail_pos + 1) % cap;
		if (j->tail_len < cap)
			j->tail_len++;
	}
}

static char *out_build(struct gc__hjob *j, size_t *len)
{
	gc__buf b = GC__BUF_INIT;
	size_t cap = j->limit - j->limit / 2;
	uint64_t kept = j->head_len + j->tail_len;
	char marker[GC__OMITTED_MARKER_MAX];
	int rc = gc__buf_append(&b, j->head, j->head_len);
	if (!rc && j->total > kept)
		rc = gc__buf_append(&b, marker,
				    gc__omitted_marker(marker, sizeof(marker),
						       j->total - kept));
	if (!rc && j->tail_len) {
		/* Oldest byte of the ring first. */
		size_t start = j->tail_len < cap ? 0 : j->tail_pos;
		size_t first = j->tail_len - start;
		if (start + first > cap)
			first = cap - start;
		rc = gc__buf_append(&b, j->tail + start, first);
		if (!rc && first < j->tail_len)
			rc = gc__buf_append(&b, j->tail, j->tail_len - first);
	}
	if (rc) {
		gc__buf_free(&b);
		return NULL;
	}
	*len = b.len;
	return gc__buf_detach(&b);
}

/* --------------------------------------------------------- job API */

GC_EXTERN const gc_task *gc_agent_job_task(const gc_agent_job *job)
{
	return ((const struct gc__hjob *)job)->task;
}

GC_EXTERN int64_t gc_agent_job_plan_time(const gc_agent_job *job)
{
	return ((const struct gc__hjob *)job)->plan_s;
}

GC_EXTERN const char *gc_agent_job_fencing_token(const gc_agent_job *job)
{
	return ((const struct gc__hjob *)job)->fence;
}

GC_EXTERN const char *gc_agent_job_run_id(const gc_agent_job *job)
{
	return ((const struct gc__hjob *)job)->run_id;
}

GC_EXTERN int gc_agent_job_cancelled(const gc_agent_job *job)
{
	struct gc__hjob *j = (struct gc__hjob *)job;
	return atomic_load(&j->cancelled) != 0;
}

GC_EXTERN int gc_agent_job_sleep(gc_agent_job *job, int64_t ms)
{
	struct gc__hjob *j = (struct gc__hjob *)job;
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	if (ms < 0)
		ms = 0;
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&j->mu);
	while (!atomic_load(&j->cancelled)) {
		if (pthread_cond_timedwait(&j->cv, &j->mu, &until) != 0)
			break; /* ETIMEDOUT */
	}
	pthread_mutex_unlock(&j->mu);
	return atomic_load(&j->cancelled) != 0;
}

GC_EXTERN int gc_agent_job_write(gc_agent_job *job, const void *data,
				 size_t len)
{
	struct gc__hjob *j = (struct gc__hjob *)job;
	if (j->oom)
		return GC_ENOMEM;
	out_append(j, data, len);
	return 0;
}

GC_EXTERN int gc_agent_job_printf(gc_agent_job *job, const char *fmt, ...)
{
	gc__buf b = GC__BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	int rc = gc__buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (!rc)
		rc = gc_agent_job_write(job, b.data, b.len);
	gc__buf_free(&b);
	return rc;
}

GC_EXTERN void gc_agent_job_fail(gc_agent_job *job, const char *text)
{
	struct gc__hjob *j = (struct gc__hjob *)job;
	free(j->fail_text);
	j->fail_text = gc__strdup(text ? text : "");
}

/* ------------------------------------------------------------ pool */

static void hjob_free(struct gc__hjob *j)
{
	pthread_mutex_destroy(&j->mu);
	pthread_cond_destroy(&j->cv);
	free(j->args);
	free(j->run_id);
	free(j->head);
	free(j->tail);
	free(j->fail_text);
	free(j);
}

static void *hpool_main(void *arg)
{
	gc_agent *a = arg;
	gc__hpool *p = a->hpool;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->head && !p->stop)
			pthread_cond_wait(&p->cv, &p->mu);
		if (!p->head)
			break;
		struct gc__hjob *j = p->head;
		p->head = j->qnext;
		if (!p->head)
			p->tail = NULL;
		pthread_mutex_unlock(&p->mu);
		j->start_ns = gc__wall_ns();
		if (!atomic_load(&j->cancelled))
			j->rc = j->fn((gc_agent_job *)j, j->args, j->payload);
		j->end_ns = gc__wall_ns();
		gc__pool_complete(a, &j->base);
		pthread_mutex_lock(&p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int gc__hpool_start(gc_agent *a, gc_error *err)
{
	gc__hpool *p = calloc(1, sizeof(*p));
	if (!p)
		return gc__seterr(err, GC_ENOMEM, "agent: out of memory");
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	a->hpool = p;
	p->threads = calloc((size_t)a->opts.handler_threads,
			    sizeof(*p->threads));
	if (!p->threads)
		return gc__seterr(err, GC_ENOMEM, "agent: out of memory");
	for (int i = 0; i < a->opts.handler_threads; i++) {
		int e = pthread_create(&p->threads[i], NULL, hpool_main, a);
		if (e)
			return gc__seterr_errno(err, GC_ESYS, e,
						"agent: starting handler thread");
		p->n++;
	}
	return 0;
}

void gc__hpool_stop(gc_agent *a)
{
	gc__hpool *p = a->hpool;
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	/* Queued jobs that never started: cancel them so they complete at
	 * once when a thread picks them up. */
	for (struct gc__hjob *j = p->head; j; j = j->qnext)
		atomic_store(&j->cancelled, GC_EXEC_KILLED);
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->n; i++)
		pthread_join(p->threads[i], NULL);
	free(p->threads);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p);
	a->hpool = NULL;
}

static void hjob_done(gc_agent *a, gc__ajob *job)
{
	struct gc__hjob *j = (struct gc__hjob *)job;
	gc__run *r = j->run;
	gc_result res = GC_RESULT_INIT;
	int why = atomic_load(&j->cancelled);
	const char *error = "";
	char code[GC_EXIT_TEXT_MAX];
	if (why == GC_EXEC_TIMEOUT) {
		error = GC_RUN_ERR_TIMEOUT;
	} else if (why == GC_EXEC_KILLED) {
		error = GC_RUN_ERR_KILLED;
	} else if (j->fail_text) {
		error = j->fail_text[0] ? j->fail_text : "handler failed";
	} else if (j->rc) {
		snprintf(code, sizeof(code), "exit status %d", j->rc);
		error = code;
	}
	res.task = r->task;
	gc_task_init(&r->task);
	res.plan_time_ns = r->plan_ns;
	res.real_time_ns = r->real_ns;
	res.start_time_ns = j->start_ns ? j->start_ns : j->end_ns;
	res.end_time_ns = j->end_ns;
	res.output = out_build(j, &res.output_len);
	res.error = gc__strdup(error);
	res.run_id = gc__strdup(r->run_id);
	r->hjob = NULL;
	r->deadline_ms = 0;
	hjob_free(j);
	if (!res.output || !res.error || !res.run_id)
		gc__alog_msg(&a->log, GC_LOG_ERR,
			     "agent: out of memory for a handler result");
	gc__run_finish(a, r, &res);
	gc_result_clear(&res);
}

int gc__hjob_start(gc_agent *a, gc__run *r, const gc__handler *h,
		   const char *args, gc_error *err)
{
	struct gc__hjob *j = calloc(1, sizeof(*j));
	if (!j)
		return gc__seterr(err, GC_ENOMEM, "out of memory");
	pthread_mutex_init(&j->mu, NULL);
	/* gc_agent_job_sleep waits against CLOCK_MONOTONIC. */
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&j->cv, &ca);
	pthread_condattr_destroy(&ca);
	j->base.done = hjob_done;
	j->base.agent = a;
	j->run = r;
	j->fn = h->fn;
	j->payload = h->payload;
	j->task = &r->task;
	j->plan_s = r->plan_s;
	if (r->fence)
		snprintf(j->fence, sizeof(j->fence), "%lld",
			 (long long)r->fence);
	j->limit = (size_t)a->output_limit;
	j->args = gc__strdup(args);
	j->run_id = gc__strdup(r->run_id);
	j->head = malloc(j->limit / 2 + 1);
	j->tail = malloc(j->limit - j->limit / 2 + 1);
	if (!j->args || !j->run_id || !j->head || !j->tail) {
		hjob_free(j);
		return gc__seterr(err, GC_ENOMEM, "out of memory");
	}
	r->hjob = j;
	gc__hpool *p = a->hpool;
	pthread_mutex_lock(&p->mu);
	if (p->tail)
		p->tail->qnext = j;
	else
		p->head = j;
	p->tail = j;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

void gc__hjob_cancel(struct gc__hjob *j, int reason)
{
	int expected = 0;
	atomic_compare_exchange_strong(&j->cancelled, &expected, reason);
	pthread_mutex_lock(&j->mu);
	pthread_cond_broadcast(&j->cv);
	pthread_mutex_unlock(&j->mu);
}
