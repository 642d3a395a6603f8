/* In-process handlers: tasks whose command is "@handler:NAME ARGS" run a
 * registered C function with the same claim, timeout, kill and report
 * semantics as shell commands. Two parts:
 *  - the registry (gc_agent_handler_register, gc__handler_find);
 *  - the runner, the in-process counterpart of the executor: jobs run on
 *    a pool of handler threads (pool.c), their timeouts are kept here, and
 *    each job's outcome goes back to the runner's owner through the done
 *    callback given to gc__hrunner_new, on the owner's thread (drain). The
 *    runner knows nothing of runs or of the agent.
 * Cancellation (timeout, kill, stop) is cooperative: a flag the function
 * polls or waits on. */
#include "agent/agent_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HANDLER_PREFIX	   "@handler:"
#define HANDLER_PREFIX_LEN 9
#define HANDLER_NAME_MAX   63

struct gc__hjob {
	gc__pool_job base;     /* on the runner's pool; data = the runner */
	gc__hjob *prev, *next; /* the runner's live jobs (owner thread) */
	gc_agent_handler_fn fn;
	void *payload;
	char *args;
	const gc_task *task;
	int64_t plan_s;
	char fence[24];
	char *run_id;
	void *userdata;
	int64_t deadline_ms;  /* mono; 0 = none (owner thread) */
	int64_t start_at;     /* mono ns to start at; 0 = at once */
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

struct gc__hrunner {
	gc__pool *pool;
	gc__hjob *live; /* started, outcome not yet delivered */
	gc__hjob_done_fn done;
	void *payload;
};

/* ------------------------------------------------------- registry */

static int name_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

int gc__handler_is_call(const char *command)
{
	return command &&
	       strncmp(command, HANDLER_PREFIX, HANDLER_PREFIX_LEN) == 0;
}

const gc__handler *gc__handler_find(const gc__handler *list,
				    const char *command, const char **args,
				    char *name, size_t name_len)
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
	for (const gc__handler *h = list; h; h = h->next)
		if (strlen(h->name) == n && memcmp(h->name, p, n) == 0)
			return h;
	return NULL;
}

GC_EXTERN int gc_agent_handler_register(gc_agent *agent, const char *name,
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
			return gc__seterr(
			    err, GC_EINVAL,
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
		return gc__seterr(err, GC_ENOMEM,
				  "agent handler: out of memory");
	}
	h->fn = fn;
	h->payload = payload;
	h->next = agent->handlers;
	agent->handlers = h;
	return 0;
}

void gc__handlers_free(gc__handler *list)
{
	while (list) {
		gc__handler *h = list;
		list = h->next;
		free(h->name);
		free(h);
	}
}

/* ----------------------------------------------------------- output */

static void out_append(gc__hjob *j, const char *data, size_t len)
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

static char *out_build(gc__hjob *j, size_t *len)
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
	return ((const gc__hjob *)job)->task;
}

GC_EXTERN int64_t gc_agent_job_plan_time(const gc_agent_job *job)
{
	return ((const gc__hjob *)job)->plan_s;
}

GC_EXTERN const char *gc_agent_job_fencing_token(const gc_agent_job *job)
{
	return ((const gc__hjob *)job)->fence;
}

GC_EXTERN const char *gc_agent_job_run_id(const gc_agent_job *job)
{
	return ((const gc__hjob *)job)->run_id;
}

GC_EXTERN int gc_agent_job_cancelled(const gc_agent_job *job)
{
	gc__hjob *j = (gc__hjob *)job;
	return atomic_load(&j->cancelled) != 0;
}

GC_EXTERN int gc_agent_job_sleep(gc_agent_job *job, int64_t ms)
{
	gc__hjob *j = (gc__hjob *)job;
	struct timespec until;
	gc__mono_deadline(&until, ms);
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
	gc__hjob *j = (gc__hjob *)job;
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
	gc__hjob *j = (gc__hjob *)job;
	free(j->fail_text);
	j->fail_text = gc__strdup(text ? text : "");
}

/* ----------------------------------------------------------- runner */

static void hjob_free(gc__hjob *j)
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

/* Pool thread: wait for the job's instant (a cancel ends the wait). */
static void hjob_wait_start(gc__hjob *j)
{
	if (!j->start_at || gc__mono_ns() >= j->start_at)
		return;
	struct timespec until = {(time_t)(j->start_at / 1000000000LL),
				 (long)(j->start_at % 1000000000LL)};
	pthread_mutex_lock(&j->mu);
	while (!atomic_load(&j->cancelled) && gc__mono_ns() < j->start_at)
		if (pthread_cond_timedwait(&j->cv, &j->mu, &until) != 0)
			break; /* ETIMEDOUT */
	pthread_mutex_unlock(&j->mu);
}

/* Pool thread. */
static void hjob_run(gc__pool_job *job, void *ctx)
{
	(void)ctx;
	gc__hjob *j = (gc__hjob *)job;
	hjob_wait_start(j);
	j->start_ns = gc__wall_ns();
	if (!atomic_load(&j->cancelled))
		j->rc = j->fn((gc_agent_job *)j, j->args, j->payload);
	j->end_ns = gc__wall_ns();
}

static const char *hjob_error(gc__hjob *j, char *code, size_t code_len)
{
	int why = atomic_load(&j->cancelled);
	if (why == GC_EXEC_TIMEOUT)
		return GC_RUN_ERR_TIMEOUT;
	if (why == GC_EXEC_KILLED)
		return GC_RUN_ERR_KILLED;
	if (j->fail_text)
		return j->fail_text[0] ? j->fail_text : "handler failed";
	if (j->rc) {
		snprintf(code, code_len, "exit status %d", j->rc);
		return code;
	}
	return "";
}

/* Owner thread: the job is back (or was never run: the runner stopped). */
static void hjob_done(gc__pool_job *job)
{
	gc__hjob *j = (gc__hjob *)job;
	gc__hrunner *r = job->data;
	if (job->rc == GC_ECANCELED) {
		int expected = 0;
		atomic_compare_exchange_strong(&j->cancelled, &expected,
					       GC_EXEC_KILLED);
		j->start_ns = j->end_ns = gc__wall_ns();
	}
	if (j->prev)
		j->prev->next = j->next;
	else
		r->live = j->next;
	if (j->next)
		j->next->prev = j->prev;
	char code[GC_EXIT_TEXT_MAX];
	gc__hjob_outcome o;
	memset(&o, 0, sizeof(o));
	o.userdata = j->userdata;
	o.error = hjob_error(j, code, sizeof(code));
	o.output = out_build(j, &o.output_len);
	o.start_ns = j->start_ns ? j->start_ns : j->end_ns;
	o.end_ns = j->end_ns;
	r->done(&o, r->payload);
	free(o.output);
	hjob_free(j);
}

int gc__hrunner_new(gc__hrunner **out, int threads, gc__hjob_done_fn done,
		    void *payload, gc_error *err)
{
	gc__hrunner *r = calloc(1, sizeof(*r));
	if (!r)
		return gc__seterr(err, GC_ENOMEM, "agent: out of memory");
	gc__pool_options o = {threads, NULL, NULL, NULL,
			      "agent handler thread"};
	int rc = gc__pool_new(&r->pool, &o, err);
	if (rc) {
		free(r);
		return rc;
	}
	r->done = done;
	r->payload = payload;
	*out = r;
	return 0;
}

int gc__hrunner_fd(const gc__hrunner *r)
{
	return gc__pool_fd(r->pool);
}

void gc__hrunner_drain(gc__hrunner *r)
{
	gc__pool_drain(r->pool);
}

int gc__hrunner_timeout_ms(const gc__hrunner *r, int64_t now_ms)
{
	int64_t best = -1;
	for (const gc__hjob *j = r->live; j; j = j->next) {
		if (!j->deadline_ms)
			continue;
		int64_t d = j->deadline_ms - now_ms;
		if (d < 0)
			d = 0;
		if (best < 0 || d < best)
			best = d;
	}
	return best > INT32_MAX ? INT32_MAX : (int)best;
}

void gc__hrunner_expire(gc__hrunner *r, int64_t now_ms)
{
	for (gc__hjob *j = r->live; j; j = j->next) {
		if (j->deadline_ms && now_ms >= j->deadline_ms) {
			j->deadline_ms = 0;
			gc__hjob_cancel(j, GC_EXEC_TIMEOUT);
		}
	}
}

void gc__hrunner_cancel_all(gc__hrunner *r)
{
	for (gc__hjob *j = r->live; j; j = j->next)
		gc__hjob_cancel(j, GC_EXEC_KILLED);
}

void gc__hrunner_stop(gc__hrunner *r)
{
	if (r)
		gc__pool_stop(r->pool, true);
}

void gc__hrunner_free(gc__hrunner *r)
{
	if (!r)
		return;
	gc__pool_free(r->pool);
	free(r);
}

static gc__hjob *hjob_new(const gc__hjob_request *req)
{
	gc__hjob *j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	pthread_mutex_init(&j->mu, NULL);
	/* gc_agent_job_sleep waits against CLOCK_MONOTONIC. */
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&j->cv, &ca);
	pthread_condattr_destroy(&ca);
	j->fn = req->handler->fn;
	j->payload = req->handler->payload;
	j->task = req->task;
	j->plan_s = req->plan_s;
	j->userdata = req->userdata;
	if (req->fence)
		snprintf(j->fence, sizeof(j->fence), "%lld",
			 (long long)req->fence);
	j->limit = req->output_limit;
	j->args = gc__strdup(req->args);
	j->run_id = gc__strdup(req->run_id);
	j->head = malloc(j->limit / 2 + 1);
	j->tail = malloc(j->limit - j->limit / 2 + 1);
	if (!j->args || !j->run_id || !j->head || !j->tail) {
		hjob_free(j);
		return NULL;
	}
	return j;
}

int gc__hjob_start(gc__hjob **out, gc__hrunner *r, const gc__hjob_request *req,
		   gc_error *err)
{
	gc__hjob *j = hjob_new(req);
	if (!j)
		return gc__seterr(err, GC_ENOMEM, "out of memory");
	j->start_at = req->start_at;
	if (req->timeout_ms > 0) {
		/* the timeout counts from the start */
		int64_t from = gc__mono_ms();
		if (req->start_at / 1000000 > from)
			from = req->start_at / 1000000;
		j->deadline_ms = from + req->timeout_ms;
	}
	j->base.run = hjob_run;
	j->base.done = hjob_done;
	j->base.data = r;
	j->next = r->live;
	if (r->live)
		r->live->prev = j;
	r->live = j;
	gc__pool_submit(r->pool, &j->base);
	*out = j;
	return 0;
}

void gc__hjob_cancel(gc__hjob *j, int reason)
{
	int expected = 0;
	atomic_compare_exchange_strong(&j->cancelled, &expected, reason);
	pthread_mutex_lock(&j->mu);
	pthread_cond_broadcast(&j->cv);
	pthread_mutex_unlock(&j->mu);
}
