/* Agent scheduler: min-heap of due times with a key index (see sched.h). */
#include "agent/sched.h"

#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define NOSLOT UINT32_MAX

static uint32_t hash_key(const char *key)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		h ^= *p;
		h *= 16777619u;
	}
	return h;
}

void gc__sched_init(gc__sched *s)
{
	memset(s, 0, sizeof(*s));
	s->free_head = NOSLOT;
}

void gc__sched_clear(gc__sched *s)
{
	free(s->ents);
	free(s->heap);
	free(s->index);
	gc__sched_init(s);
}

/* ---------------------------------------------------------------- heap */

static void heap_place(gc__sched *s, uint32_t pos, uint32_t ent)
{
	s->heap[pos] = ent;
	s->ents[ent].slot = pos;
}

static void sift_up(gc__sched *s, uint32_t pos)
{
	uint32_t ent = s->heap[pos];
	int64_t due = s->ents[ent].due;
	while (pos > 0) {
		uint32_t parent = (pos - 1) / 2;
		if (s->ents[s->heap[parent]].due <= due)
			break;
		heap_place(s, pos, s->heap[parent]);
		pos = parent;
	}
	heap_place(s, pos, ent);
}

static void sift_down(gc__sched *s, uint32_t pos)
{
	uint32_t ent = s->heap[pos];
	int64_t due = s->ents[ent].due;
	for (;;) {
		uint32_t child = 2 * pos + 1, best;
		if (child >= s->heap_len)
			break;
		best = child;
		if (child + 1 < s->heap_len &&
		    s->ents[s->heap[child + 1]].due < s->ents[s->heap[child]].due)
			best = child + 1;
		if (s->ents[s->heap[best]].due >= due)
			break;
		heap_place(s, pos, s->heap[best]);
		pos = best;
	}
	heap_place(s, pos, ent);
}

static int heap_insert(gc__sched *s, uint32_t ent)
{
	if (s->heap_len == s->heap_cap) {
		uint32_t cap = s->heap_cap ? s->heap_cap * 2 : 64;
		uint32_t *h = realloc(s->heap, (size_t)cap * sizeof(*h));
		if (!h)
			return GC_ENOMEM;
		s->heap = h;
		s->heap_cap = cap;
	}
	s->heap[s->heap_len] = ent;
	s->ents[ent].slot = s->heap_len;
	s->heap_len++;
	sift_up(s, s->heap_len - 1);
	return 0;
}

static void heap_delete(gc__sched *s, uint32_t ent)
{
	uint32_t pos = s->ents[ent].slot, last;
	s->ents[ent].slot = NOSLOT;
	s->heap_len--;
	if (pos == s->heap_len)
		return;
	last = s->heap[s->heap_len];
	heap_place(s, pos, last);
	/* The moved entry may belong above or below its new position. */
	if (pos > 0 && s->ents[s->heap[(pos - 1) / 2]].due > s->ents[last].due)
		sift_up(s, pos);
	else
		sift_down(s, pos);
}

/* Move an entry already in the heap after its due time changed. */
static void heap_fix(gc__sched *s, uint32_t ent, int64_t old_due)
{
	if (s->ents[ent].due < old_due)
		sift_up(s, s->ents[ent].slot);
	else if (s->ents[ent].due > old_due)
		sift_down(s, s->ents[ent].slot);
}

/* --------------------------------------------------------------- index */

static uint32_t *index_find(const gc__sched *s, const char *key, uint32_t h)
{
	if (!s->index)
		return NULL;
	for (uint32_t i = h & s->index_mask;; i = (i + 1) & s->index_mask) {
		uint32_t v = s->index[i];
		if (!v)
			return NULL;
		const gc__sched_ent *e = &s->ents[v - 1];
		if (e->hash == h && strcmp(e->key, key) == 0)
			return &s->index[i];
	}
}

static void index_put(uint32_t *index, uint32_t mask, uint32_t h,
		      uint32_t ent)
{
	uint32_t i = h & mask;
	while (index[i])
		i = (i + 1) & mask;
	index[i] = ent + 1;
}

static int index_grow(gc__sched *s)
{
	uint32_t size = s->index ? (s->index_mask + 1) * 2 : 64;
	uint32_t *idx = calloc(size, sizeof(*idx));
	if (!idx)
		return GC_ENOMEM;
	if (s->index) {
		for (uint32_t i = 0; i <= s->index_mask; i++) {
			uint32_t v = s->index[i];
			if (v)
				index_put(idx, size - 1, s->ents[v - 1].hash,
					  v - 1);
		}
	}
	free(s->index);
	s->index = idx;
	s->index_mask = size - 1;
	return 0;
}

/* Linear-probing delete with backward shift: no tombstones, so lookups
 * stay short however many tasks come and go. */
static void index_delete(gc__sched *s, uint32_t *slot)
{
	uint32_t mask = s->index_mask;
	uint32_t i = (uint32_t)(slot - s->index), j = i;
	s->index[i] = 0;
	for (;;) {
		j = (j + 1) & mask;
		uint32_t v = s->index[j];
		if (!v)
			return;
		uint32_t home = s->ents[v - 1].hash & mask;
		/* Can the entry at j move back to the hole at i? Only if its
		 * home is not within (i, j] cyclically. */
		bool between = i <= j ? (home > i && home <= j)
				      : (home > i || home <= j);
		if (between)
			continue;
		s->index[i] = v;
		s->index[j] = 0;
		i = j;
	}
}

/* ---------------------------------------------------------- entries */

static int ent_alloc(gc__sched *s, uint32_t *out)
{
	if (s->free_head != NOSLOT) {
		*out = s->free_head;
		s->free_head = s->ents[*out].slot;
		return 0;
	}
	if (s->n_ents == s->cap_ents) {
		uint32_t cap = s->cap_ents ? s->cap_ents * 2 : 64;
		if (cap > UINT32_MAX / 2)
			return GC_ENOMEM;
		gc__sched_ent *e = realloc(s->ents, (size_t)cap * sizeof(*e));
		if (!e)
			return GC_ENOMEM;
		s->ents = e;
		s->cap_ents = cap;
	}
	*out = s->n_ents++;
	return 0;
}

static void ent_release(gc__sched *s, uint32_t ent)
{
	s->ents[ent].key = NULL;
	s->ents[ent].data = NULL;
	s->ents[ent].slot = s->free_head;
	s->free_head = ent;
}

int gc__sched_set(gc__sched *s, const char *key, int64_t due, void *data)
{
	uint32_t h = hash_key(key), ent;
	uint32_t *slot = index_find(s, key, h);
	if (slot) {
		ent = *slot - 1;
		gc__sched_ent *e = &s->ents[ent];
		int64_t old = e->due;
		e->data = data;
		e->key = key;
		if (e->slot == NOSLOT) {
			e->due = due;
			if (due != GC__SCHED_NEVER && heap_insert(s, ent)) {
				e->due = old;
				return GC_ENOMEM;
			}
		} else if (due == GC__SCHED_NEVER) {
			heap_delete(s, ent);
			e->due = due;
		} else {
			e->due = due;
			heap_fix(s, ent, old);
		}
		return 0;
	}

	/* Reserve everything first so a failure leaves no trace. */
	if (((size_t)s->count + 1) * 2 > (size_t)(s->index ? s->index_mask + 1 : 0) &&
	    index_grow(s))
		return GC_ENOMEM;
	if (due != GC__SCHED_NEVER && s->heap_len == s->heap_cap) {
		uint32_t cap = s->heap_cap ? s->heap_cap * 2 : 64;
		uint32_t *hp = realloc(s->heap, (size_t)cap * sizeof(*hp));
		if (!hp)
			return GC_ENOMEM;
		s->heap = hp;
		s->heap_cap = cap;
	}
	if (ent_alloc(s, &ent))
		return GC_ENOMEM;
	gc__sched_ent *e = &s->ents[ent];
	e->key = key;
	e->data = data;
	e->due = due;
	e->hash = h;
	e->slot = NOSLOT;
	index_put(s->index, s->index_mask, h, ent);
	s->count++;
	if (due != GC__SCHED_NEVER)
		(void)heap_insert(s, ent); /* capacity reserved above */
	return 0;
}

int gc__sched_reschedule(gc__sched *s, const char *key, int64_t due)
{
	uint32_t *slot = index_find(s, key, hash_key(key));
	if (!slot)
		return GC_ENOTFOUND;
	const gc__sched_ent *e = &s->ents[*slot - 1];
	return gc__sched_set(s, e->key, due, e->data);
}

int gc__sched_remove(gc__sched *s, const char *key, void **data)
{
	uint32_t *slot = index_find(s, key, hash_key(key)), ent;
	if (!slot)
		return GC_ENOTFOUND;
	ent = *slot - 1;
	if (data)
		*data = s->ents[ent].data;
	if (s->ents[ent].slot != NOSLOT)
		heap_delete(s, ent);
	index_delete(s, slot);
	ent_release(s, ent);
	s->count--;
	return 0;
}

void *gc__sched_get(const gc__sched *s, const char *key, int64_t *due)
{
	uint32_t *slot = index_find(s, key, hash_key(key));
	if (!slot)
		return NULL;
	if (due)
		*due = s->ents[*slot - 1].due;
	return s->ents[*slot - 1].data;
}

bool gc__sched_contains(const gc__sched *s, const char *key)
{
	return index_find(s, key, hash_key(key)) != NULL;
}

bool gc__sched_peek(const gc__sched *s, int64_t *due, const char **key,
		    void **data)
{
	if (!s->heap_len)
		return false;
	const gc__sched_ent *e = &s->ents[s->heap[0]];
	if (due)
		*due = e->due;
	if (key)
		*key = e->key;
	if (data)
		*data = e->data;
	return true;
}

size_t gc__sched_count(const gc__sched *s)
{
	return s->count;
}

size_t gc__sched_scheduled(const gc__sched *s)
{
	return s->heap_len;
}

void gc__sched_foreach(const gc__sched *s, gc__sched_visit_fn fn, void *arg)
{
	for (uint32_t i = 0; i < s->n_ents; i++) {
		const gc__sched_ent *e = &s->ents[i];
		if (e->key && !fn(e->key, e->due, e->data, arg))
			return;
	}
}

void gc__sched_recompute(gc__sched *s, gc__sched_due_fn fn, void *arg)
{
	s->heap_len = 0;
	for (uint32_t i = 0; i < s->n_ents; i++) {
		gc__sched_ent *e = &s->ents[i];
		if (!e->key)
			continue;
		e->due = fn(e->key, e->data, arg);
		e->slot = NOSLOT;
		if (e->due != GC__SCHED_NEVER) {
			/* heap_cap >= number of entries ever scheduled is not
			 * guaranteed, so grow as needed. */
			if (s->heap_len == s->heap_cap) {
				uint32_t cap = s->heap_cap ? s->heap_cap * 2 : 64;
				uint32_t *hp = realloc(s->heap,
						       (size_t)cap * sizeof(*hp));
				if (!hp) {
					/* Keep it out of the heap; retried on
					 * the next recompute or set. */
					e->due = GC__SCHED_NEVER;
					continue;
				}
				s->heap = hp;
				s->heap_cap = cap;
			}
			s->heap[s->heap_len] = i;
			e->slot = s->heap_len++;
		}
	}
	/* Floyd's bottom-up heap construction: O(n). */
	for (uint32_t pos = s->heap_len / 2; pos-- > 0;)
		sift_down(s, pos);
}

size_t gc__sched_memory(const gc__sched *s)
{
	return sizeof(*s) + (size_t)s->cap_ents * sizeof(gc__sched_ent) +
	       (size_t)s->heap_cap * sizeof(uint32_t) +
	       (s->index ? ((size_t)s->index_mask + 1) * sizeof(uint32_t) : 0);
}

bool gc__sched_check(const gc__sched *s)
{
	uint32_t live = 0, in_heap = 0, indexed = 0;
	for (uint32_t pos = 0; pos < s->heap_len; pos++) {
		const gc__sched_ent *e = &s->ents[s->heap[pos]];
		if (!e->key || e->slot != pos || e->due == GC__SCHED_NEVER)
			return false;
		if (pos > 0 && s->ents[s->heap[(pos - 1) / 2]].due > e->due)
			return false;
	}
	for (uint32_t i = 0; i < s->n_ents; i++) {
		const gc__sched_ent *e = &s->ents[i];
		if (!e->key)
			continue;
		live++;
		if (e->slot != NOSLOT)
			in_heap++;
		else if (e->due != GC__SCHED_NEVER)
			return false;
		uint32_t *slot = index_find(s, e->key, e->hash);
		if (!slot || *slot - 1 != i)
			return false;
	}
	if (s->index)
		for (uint32_t i = 0; i <= s->index_mask; i++)
			indexed += s->index[i] != 0;
	return live == s->count && in_heap == s->heap_len &&
	       indexed == s->count;
}
