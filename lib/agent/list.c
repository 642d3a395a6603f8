/* A paged, pinned listing of one etcd prefix (see gc__listing in
 * agent_internal.h).
 *
 * A pass reads the prefix in pages of LIST_PAGE keys, all read at the
 * revision of the first page, so 100,000 tasks never need one giant
 * response. A page larger than the client reads
 * (GC__AGENT_ETCD_MAX_RESPONSE) is read again LIST_SHRINK times smaller,
 * down to the one key that is too big: that key alone is skipped (found
 * with a keys-only read), and the pages grow back. A failed page ends the
 * pass; the next starts LIST_RETRY_MS later (after a compaction of the
 * pinned revision, at once). */
#include "agent/agent_internal.h"

#include <stdlib.h>
#include <string.h>

#define LIST_PAGE     1000
#define LIST_SHRINK   8
#define LIST_RETRY_MS 1000

struct gc__listing {
	gc__pool *pool;
	char *prefix;
	char *range_end;
	gc__listing_cbs cbs;
	void *payload;
	/* paging state of the pass in progress */
	uint32_t pass;	 /* pages of an older pass are dropped */
	int64_t rev;	 /* the revision it is pinned at (0: not yet) */
	size_t keys;	 /* keys applied so far */
	int64_t next_at; /* mono ms of the next pass to start, 0: none */
	int in_flight;	 /* pages (and callbacks) in progress */
	int orphan;	 /* freed by its owner: free when in_flight == 0 */
};

typedef struct page_job {
	gc__pool_job base;
	gc__listing *l;
	uint32_t pass;
	char *start_key; /* NULL: first page */
	int start_seen;	 /* start_key is the last key of the previous page
			  * (applied already), else the first key to read */
	int64_t rev;	 /* revision (0: latest) */
	int64_t limit;	 /* keys in this page */
	int probe;	 /* keys only: which key is too big to read */
	gc_etcd_response resp;
} page_job;

gc__listing *gc__listing_new(gc__pool *pool, const char *prefix,
			     const gc__listing_cbs *cbs, void *payload)
{
	gc__listing *l = calloc(1, sizeof(*l));
	size_t end_len;
	if (!l)
		return NULL;
	l->pool = pool;
	l->cbs = *cbs;
	l->payload = payload;
	l->prefix = gc__strdup(prefix);
	if (!l->prefix || gc_etcd_prefix_end(&l->range_end, &end_len, prefix,
					     strlen(prefix))) {
		free(l->prefix);
		free(l);
		return NULL;
	}
	return l;
}

static void listing_release(gc__listing *l)
{
	free(l->prefix);
	free(l->range_end);
	free(l);
}

void gc__listing_free(gc__listing *l)
{
	if (!l)
		return;
	l->orphan = 1;
	if (!l->in_flight)
		listing_release(l);
}

static void page_job_free(page_job *j)
{
	gc_etcd_response_dispose(&j->resp);
	free(j->start_key);
	free(j);
}

/* Pool thread. */
static void page_run(gc__pool_job *job, void *etcd)
{
	page_job *j = (page_job *)job;
	gc_etcd_get_options o = GC_ETCD_GET_OPTIONS_INIT;
	o.range_end = j->l->range_end;
	o.limit = j->limit;
	o.revision = j->rev;
	if (j->probe)
		o.flags |= GC_ETCD_KEYS_ONLY;
	o.sort_target = GC_ETCD_SORT_KEY;
	o.sort_order = GC_ETCD_SORT_ASCEND;
	job->rc = gc_etcd_get(&j->resp, etcd,
			      j->start_key ? j->start_key : j->l->prefix, &o,
			      &job->err);
}

static void page_done(gc__pool_job *job);

static void page_submit(gc__listing *l, const char *start_key, int start_seen,
			int64_t limit, int probe)
{
	page_job *j = calloc(1, sizeof(*j));
	if (j && start_key && !(j->start_key = gc__strdup(start_key))) {
		free(j);
		j = NULL;
	}
	if (!j) {
		l->next_at = gc__mono_ms() + LIST_RETRY_MS;
		return;
	}
	j->base.run = page_run;
	j->base.done = page_done;
	j->base.data = l;
	j->l = l;
	j->pass = l->pass;
	j->rev = start_key ? l->rev : 0;
	j->start_seen = start_seen;
	j->limit = limit;
	j->probe = probe;
	l->in_flight++;
	l->next_at = 0;
	gc__pool_submit(l->pool, &j->base);
}

void gc__listing_start(gc__listing *l)
{
	l->pass++;
	page_submit(l, NULL, 0, LIST_PAGE, 0);
}

void gc__listing_start_at(gc__listing *l, int64_t at_ms)
{
	l->next_at = at_ms;
}

void gc__listing_tick(gc__listing *l, int64_t now_ms)
{
	if (l->next_at && now_ms >= l->next_at)
		gc__listing_start(l);
}

int64_t gc__listing_next_at(const gc__listing *l)
{
	return l->next_at;
}

/* Is kv the start key a page repeats from the previous page? */
static int seen_before(const page_job *j, const gc_etcd_kv *kv)
{
	return j->start_key && j->start_seen &&
	       strcmp(kv->key, j->start_key) == 0;
}

/* A keys-only probe found the key too big to read: skip it, go on after
 * it with full pages. */
static void skip_big(gc__listing *l, const page_job *j)
{
	const gc_etcd_kv *big = NULL;
	for (size_t i = 0; i < j->resp.kvs_count && !big; i++)
		if (!seen_before(j, &j->resp.kvs[i]))
			big = &j->resp.kvs[i];
	if (!big) { /* nothing there after all */
		l->cbs.on_done(l->rev, l->keys, l->payload);
		return;
	}
	l->cbs.on_too_big(big, l->payload);
	l->keys++;
	/* The next key after it: no key of ours holds a NUL byte, so
	 * big + "\x01" is where the rest starts. */
	char *after = gc__sprintf("%s\x01", big->key);
	if (!after) {
		l->next_at = gc__mono_ms() + LIST_RETRY_MS;
		return;
	}
	page_submit(l, after, 0, LIST_PAGE, 0);
	free(after);
}

/* A page arrived: ask for the next one, then apply this one. */
static void page_apply(gc__listing *l, const page_job *j)
{
	if (!j->start_key) {
		/* First page: a new pass, pinned at this revision. */
		l->rev = j->resp.revision;
		l->keys = 0;
		l->cbs.on_begin(l->rev, l->payload);
	}
	if (j->probe) {
		skip_big(l, j);
		return;
	}
	int more = j->resp.more && j->resp.kvs_count;
	size_t page = 0;
	for (size_t i = 0; i < j->resp.kvs_count; i++)
		page += !seen_before(j, &j->resp.kvs[i]);
	if (more) {
		/* Fetch the next page while this one is applied; pages cut
		 * short by a big key grow back. */
		int64_t next =
		    j->limit < LIST_PAGE / 2 ? j->limit * 2 : LIST_PAGE;
		page_submit(l, j->resp.kvs[j->resp.kvs_count - 1].key, 1,
			    next < 2 ? 2 : next, 0);
	}
	for (size_t i = 0; i < j->resp.kvs_count; i++) {
		const gc_etcd_kv *kv = &j->resp.kvs[i];
		if (!seen_before(j, kv)) /* else the previous page's last key */
			l->cbs.on_pair(kv, l->payload);
	}
	l->keys += page;
	if (!more)
		l->cbs.on_done(l->rev, l->keys, l->payload);
}

static void page_failed(gc__listing *l, const page_job *j, int rc,
			const gc_error *err)
{
	if (rc == GC_ETOOBIG && !j->probe) {
		/* A value in this page is bigger than the client reads:
		 * smaller pages, down to that key alone, which is skipped. A
		 * page after a seen key needs 2 (that key and the next). */
		int64_t least = j->start_seen ? 2 : 1;
		if (j->limit > least)
			page_submit(l, j->start_key, j->start_seen,
				    j->limit / LIST_SHRINK > least
					? j->limit / LIST_SHRINK
					: least,
				    0);
		else
			page_submit(l, j->start_key, j->start_seen, least, 1);
	} else if (rc == GC_ECOMPACTED && j->start_key) {
		/* The pinned revision went away mid-pass: start over. */
		gc__listing_start(l);
	} else if (rc != GC_ECANCELED) {
		l->next_at = gc__mono_ms() + LIST_RETRY_MS;
		l->cbs.on_error(rc, err->msg, l->payload);
	}
}

static void page_done(gc__pool_job *job)
{
	page_job *j = (page_job *)job;
	gc__listing *l = j->l;
	if (!l->orphan && j->pass == l->pass) {
		if (job->rc == 0)
			page_apply(l, j);
		else
			page_failed(l, j, job->rc, &job->err);
	}
	page_job_free(j);
	if (--l->in_flight == 0 && l->orphan)
		listing_release(l);
}
