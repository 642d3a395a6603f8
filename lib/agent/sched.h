/* Agent scheduler: a binary min-heap of due times plus a hash index from
 * task key to entry, so that adding, changing and removing a task by key is
 * O(log n) and finding the next due task is O(1).
 *
 * Keys are borrowed: the caller keeps each key string alive (normally it
 * lives in the task object passed as `data`) until the entry is removed or
 * set again with another key pointer.
 *
 * Memory: one 32-byte entry per task, a 4-byte heap slot per scheduled
 * task and 4-8 bytes of hash table per task (load factor at most 1/2);
 * with growth slack 100,000 tasks take under 6 MB.
 *
 * An entry whose due time is GC__SCHED_NEVER stays in the index (it can be
 * found by key) but is not in the heap: paused tasks and expressions that
 * never fire again cost no heap work. Not thread-safe. */
#ifndef GC_AGENT_SCHED_H
#define GC_AGENT_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GC__SCHED_NEVER INT64_MAX

typedef struct gc__sched_ent {
	const char *key;
	void *data;
	int64_t due;
	uint32_t hash;
	uint32_t slot; /* heap position, UINT32_MAX when not in the heap;
			* next free entry while on the free list */
} gc__sched_ent;

typedef struct gc__sched {
	gc__sched_ent *ents;
	uint32_t n_ents;    /* used prefix of ents (live + free) */
	uint32_t cap_ents;
	uint32_t free_head; /* UINT32_MAX = none */
	uint32_t count;     /* live entries */
	uint32_t *heap;     /* entry indices */
	uint32_t heap_len;
	uint32_t heap_cap;
	uint32_t *index;    /* hash table: entry index + 1, 0 = empty */
	uint32_t index_mask;
} gc__sched;

void gc__sched_init(gc__sched *s);
void gc__sched_clear(gc__sched *s); /* frees everything, keeps s usable */

/* Add `key` or change its due time, data and key pointer. Returns 0 or
 * GC_ENOMEM (the scheduler is unchanged on failure). */
int gc__sched_set(gc__sched *s, const char *key, int64_t due, void *data);
/* Change only the due time of an existing key; GC_ENOTFOUND if absent. */
int gc__sched_reschedule(gc__sched *s, const char *key, int64_t due);
/* Remove `key`; its data is returned through `data` (may be NULL).
 * GC_ENOTFOUND if absent. */
int gc__sched_remove(gc__sched *s, const char *key, void **data);
/* Data of `key` (NULL if absent); `due` may be NULL. */
void *gc__sched_get(const gc__sched *s, const char *key, int64_t *due);
bool gc__sched_contains(const gc__sched *s, const char *key);

/* Earliest due entry without removing it; false when nothing is
 * scheduled. Out-parameters may be NULL. */
bool gc__sched_peek(const gc__sched *s, int64_t *due, const char **key,
		    void **data);
/* Number of tasks known (scheduled or not) / in the heap. */
size_t gc__sched_count(const gc__sched *s);
size_t gc__sched_scheduled(const gc__sched *s);

/* Visit every entry (in no particular order). The callback must not add
 * or remove entries; return false to stop. */
typedef bool (*gc__sched_visit_fn)(const char *key, int64_t due, void *data,
				   void *arg);
void gc__sched_foreach(const gc__sched *s, gc__sched_visit_fn fn, void *arg);

/* Recompute every entry's due time with `fn` and rebuild the heap in O(n)
 * (used after a wall-clock jump). */
typedef int64_t (*gc__sched_due_fn)(const char *key, void *data, void *arg);
void gc__sched_recompute(gc__sched *s, gc__sched_due_fn fn, void *arg);

/* Bytes of memory held (for benchmarks and logs), keys excluded. */
size_t gc__sched_memory(const gc__sched *s);

/* Internal consistency check for tests: heap order, slot back-pointers,
 * index coverage. Returns true when consistent. */
bool gc__sched_check(const gc__sched *s);

#endif
