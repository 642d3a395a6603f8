/* Run one fuzz input on a thread with the stack of a civetweb worker
 * (100 KB), where the service decodes requests and report bodies: a
 * recursion that a hostile input can drive deep crashes here, as it would
 * in the service, instead of hiding in the main thread's 8 MB. */
#ifndef GC_FUZZ_WORKER_STACK_H
#define GC_FUZZ_WORKER_STACK_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define GC_FUZZ_WORKER_STACK (100 * 1024)

typedef struct gc_fuzz_input {
	void (*fn)(const uint8_t *data, size_t size);
	const uint8_t *data;
	size_t size;
} gc_fuzz_input;

static void *gc_fuzz_worker(void *arg)
{
	gc_fuzz_input *in = arg;
	in->fn(in->data, in->size);
	return NULL;
}

static void gc_fuzz_on_worker_stack(void (*fn)(const uint8_t *, size_t),
				    const uint8_t *data, size_t size)
{
	gc_fuzz_input in = {fn, data, size};
	pthread_attr_t at;
	pthread_t t;
	if (pthread_attr_init(&at) ||
	    pthread_attr_setstacksize(&at, GC_FUZZ_WORKER_STACK) ||
	    pthread_create(&t, &at, gc_fuzz_worker, &in) ||
	    pthread_join(t, NULL))
		abort();
	pthread_attr_destroy(&at);
}

#endif
