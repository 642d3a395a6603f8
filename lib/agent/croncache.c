/* Parsed cron expressions shared between tasks: fleets reuse a handful of
 * expressions (every minute, "0 0 3 * * *", ...) across thousands of
 * tasks, and a gc_cron is immutable, so one parsed object per distinct
 * expression text is enough. Agent thread only. */
#include "agent/agent_internal.h"

#include <stdlib.h>
#include <string.h>

struct gc__cronref {
	gc__cronref *next; /* hash chain */
	gc_cron *cron;
	uint32_t refs;
	uint32_t hash;
	char expr[];
};

static uint32_t hash_expr(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

static int grow(gc__croncache *cc)
{
	size_t n = cc->nbuckets ? cc->nbuckets * 2 : 64;
	gc__cronref **b = calloc(n, sizeof(*b));
	if (!b)
		return GC_ENOMEM;
	for (size_t i = 0; i < cc->nbuckets; i++) {
		gc__cronref *r = cc->buckets[i];
		while (r) {
			gc__cronref *next = r->next;
			r->next = b[r->hash & (n - 1)];
			b[r->hash & (n - 1)] = r;
			r = next;
		}
	}
	free(cc->buckets);
	cc->buckets = b;
	cc->nbuckets = n;
	return 0;
}

int gc__croncache_get(gc__croncache *cc, const char *expr,
		      gc__cronref **out, gc_error *err)
{
	uint32_t h = hash_expr(expr);
	*out = NULL;
	if (cc->nbuckets) {
		for (gc__cronref *r = cc->buckets[h & (cc->nbuckets - 1)]; r;
		     r = r->next) {
			if (r->hash == h && strcmp(r->expr, expr) == 0) {
				r->refs++;
				*out = r;
				return 0;
			}
		}
	}
	if (cc->count >= cc->nbuckets && grow(cc))
		return gc__seterr(err, GC_ENOMEM, "out of memory");
	size_t len = strlen(expr);
	gc__cronref *r = malloc(sizeof(*r) + len + 1);
	if (!r)
		return gc__seterr(err, GC_ENOMEM, "out of memory");
	int rc = gc_cron_parse(&r->cron, expr, len, err);
	if (rc) {
		free(r);
		return rc;
	}
	memcpy(r->expr, expr, len + 1);
	r->refs = 1;
	r->hash = h;
	r->next = cc->buckets[h & (cc->nbuckets - 1)];
	cc->buckets[h & (cc->nbuckets - 1)] = r;
	cc->count++;
	*out = r;
	return 0;
}

const gc_cron *gc__cronref_cron(const gc__cronref *r)
{
	return r->cron;
}

void gc__croncache_put(gc__croncache *cc, gc__cronref *ref)
{
	if (!ref || --ref->refs > 0)
		return;
	gc__cronref **pp = &cc->buckets[ref->hash & (cc->nbuckets - 1)];
	while (*pp && *pp != ref)
		pp = &(*pp)->next;
	if (*pp)
		*pp = ref->next;
	cc->count--;
	gc_cron_free(ref->cron);
	free(ref);
}

void gc__croncache_clear(gc__croncache *cc)
{
	for (size_t i = 0; i < cc->nbuckets; i++) {
		gc__cronref *r = cc->buckets[i];
		while (r) {
			gc__cronref *next = r->next;
			gc_cron_free(r->cron);
			free(r);
			r = next;
		}
	}
	free(cc->buckets);
	memset(cc, 0, sizeof(*cc));
}
