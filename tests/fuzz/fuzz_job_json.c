/* Fuzz the task model's JSON decoding: TaskInfo (with the raw scan that
 * keeps unknown members), TaskExecuteResult bodies and warnings -- what
 * the service's ingest endpoint and the agents' watches decode.
 * The first byte picks the decoder (0 task, 1 result, 2 warning); the
 * rest is the body. Checks: no crash, no leak, and once decoded, encoding
 * is stable: encode(decode(e)) == e for e = encode(decode(encode(...))).
 * Runs on a 100 KB stack, as civetweb's workers (worker_stack.h). */
#include "job/job_internal.h"
#include "worker_stack.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef char *(*round_fn)(const char *json, size_t len);

static char *task_round(const char *json, size_t len)
{
	gc_task t = GC_TASK_INIT;
	char *s = NULL;
	if (gc_task_from_json(&t, json, len, NULL) == 0) {
		s = gc_task_to_json(&t);
		if (!s)
			abort();
	} else if (t.name || t.extra) {
		abort(); /* failures leave the target untouched */
	}
	gc_task_clear(&t);
	return s;
}

static char *result_round(const char *json, size_t len)
{
	gc_result r = GC_RESULT_INIT;
	char *s = NULL;
	if (gc_result_from_json(&r, json, len, NULL) == 0) {
		if (!r.output || r.output[r.output_len] != '\0')
			abort();
		s = gc_result_to_json(&r);
		if (!s)
			abort();
	}
	gc_result_clear(&r);
	return s;
}

static char *warning_round(const char *json, size_t len)
{
	gc_warning w = GC_WARNING_INIT;
	char *s = NULL;
	if (gc_warning_from_json(&w, json, len, NULL) == 0) {
		s = gc_warning_to_json(&w);
		if (!s)
			abort();
	}
	gc_warning_clear(&w);
	return s;
}

static void one_input(const uint8_t *data, size_t size)
{
	static const round_fn fns[] = {task_round, result_round, warning_round};
	round_fn fn;
	char *a, *b, *c;
	if (size < 1)
		return;
	fn = fns[data[0] % 3];
	a = fn((const char *)data + 1, size - 1);
	if (!a)
		return;
	/* the first pass may turn invalid UTF-8 into U+FFFD escapes; from
	 * the second pass on the text must be a fixed point */
	b = fn(a, strlen(a));
	if (!b)
		abort();
	c = fn(b, strlen(b));
	if (!c || strcmp(b, c) != 0)
		abort();
	free(a);
	free(b);
	free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	gc_fuzz_on_worker_stack(one_input, data, size);
	return 0;
}
