/* A paged, pinned listing of one etcd prefix (see gc__listing in
 * agent_internal.h).
 *
 * A pass reads the prefix in pages, all read at the revision of the first
 * page, so 100,000 tasks never need one giant response. Page size and
 * each page's own timeout follow what etcd answers (listpace.c): a page
 * that timed out is read again at once, smaller and with more time; fast
 * answers grow the pages back. A page that failed otherwise is read again
 * LIST_RETRY_MS later: the pass resumes from the failed page, at the same
 * revision, instead of starting over; only a compaction of that revision
 * starts a new pass (at once). A page larger than the client reads
 * (GC__AGENT_ETCD_MAX_RESPONSE) is read again LIST_SHRINK times smaller,
 * down to the one key that is too big: that key alone is skipped (found
 * with a keys-only read), and the pages grow back. */
#include "agent/agent_internal.h"

#include <stdlib.h>
#include <string.h>

#define LIST_SHRINK   8
#define LIST_RETRY_MS 1000
/* First page's own timeout (the pace adapts it from there). */
#define LIST_TIMEOUT_MS 5000

/* Where a page starts: the pass's position. */
typedef struct page_at {
	char *start_key; /* NULL: first page */
	int start_seen;	 /* start_key is the last key of the previous page
			  * (applied already), else the first key to read */
	int64_t limit;	 /* keys asked for (before the pace's cut) */
	int probe;	 /* keys only: which key is too big to read */
} page_at;

struct gc__listing {
	gc__pool *pool;
	char *prefix;
	char *range_end;
	gc__listing_cbs cbs;
	void *payload;
	gc__listpace pace;
	gc__listing_stats stats;
	/* paging state of the pass in progress */
	uint32_t pass;	 /* pages of an older pass are dropped */
	int64_t rev;	 /* the revision it is pinned at (0: not yet) */
	size_t keys;	 /* keys applied so far */
	int64_t next_at; /* mono ms of the next pass or resume, 0: none */
	int resume;	 /* next_at resumes at `failed`, not a new pass */
	page_at failed;	 /* the page to read again */
	int in_flight;	 /* pages (and callbacks) in progress */
	int orphan;	 /* freed by its owner: free when in_flight == 0 */
};

typedef struct page_job {
	gc__pool_job base;
	gc__listing *l;
	uint32_t pass;
	page_at at;
	int64_t rev;	/* revision (0: latest) */
	int timeout_ms; /* this page's own */
	int64_t ms;	/* how long etcd took */
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
	gc__listpace_init(&l->pace, LIST_TIMEOUT_MS);
	l->prefix = gc__strdup(prefix);
	if (!l->prefix || gc_etcd_prefix_end(&l->range_end, &end_len, prefix,
					     strlen(prefix))) {
		free(l->prefix);
		free(l);
		return NULL;
	}
	return l;
}

static void resume_clear(gc__listing *l)
{
	free(l->failed.start_key);
	memset(&l->failed, 0, sizeof(l->failed));
	l->resume = 0;
}

static void listing_release(gc__listing *l)
{
	resume_clear(l);
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
	gc_etcd_response_clear(&j->resp);
	free(j->at.start_key);
	free(j);
}

/* Pool thread. */
static void page_run(gc__pool_job *job, void *etcd)
{
	page_job *j = (page_job *)job;
	gc_etcd_get_options o = GC_ETCD_GET_OPTIONS_INIT;
	o.range_end = j->l->range_end;
	o.limit = j->at.limit;
	o.revision = j->rev;
	if (j->at.probe)
		o.flags |= GC_ETCD_KEYS_ONLY;
	o.sort_target = GC_ETCD_SORT_KEY;
	o.sort_order = GC_ETCD_SORT_ASCEND;
	/* The page's own timeout; failing over (a refused or reset
	 * connection) only within it, so a slow answer comes back to the
	 * pace instead of being retried blindly. */
	o.timeout_ms = j->timeout_ms;
	o.retry_timeout_ms = j->timeout_ms;
	int64_t t0 = gc__mono_ms();
	job->rc = gc_etcd_get(&j->resp, etcd,
			      j->at.start_key ? j->at.start_key : j->l->prefix,
			      &o, &job->err);
	j->ms = gc__mono_ms() - t0;
}

static void page_done(gc__pool_job *job);

/* Read the page at `at` (a probe or a page cut short keeps its limit,
 * any other is cut to the pace's). */
static void page_submit(gc__listing *l, const page_at *at)
{
	page_job *j = calloc(1, sizeof(*j));
	if (j && at->start_key &&
	    !(j->at.start_key = gc__strdup(at->start_key))) {
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
	j->rev = at->start_key ? l->rev : 0;
	j->at.start_seen = at->start_seen;
	j->at.probe = at->probe;
	j->at.limit = at->limit > 0 && at->limit < l->pace.limit
			  ? at->limit
			  : l->pace.limit;
	j->timeout_ms = l->pace.timeout_ms;
	l->in_flight++;
	l->next_at = 0;
	l->stats.pages++;
	gc__pool_submit(l->pool, &j->base);
}

void gc__listing_start(gc__listing *l)
{
	page_at first = {NULL, 0, 0, 0};
	l->pass++;
	resume_clear(l);
	page_submit(l, &first);
}

void gc__listing_start_at(gc__listing *l, int64_t at_ms)
{
	resume_clear(l);
	l->next_at = at_ms;
}

void gc__listing_tick(gc__listing *l, int64_t now_ms)
{
	if (!l->next_at || now_ms < l->next_at)
		return;
	if (l->resume) {
		page_at at = l->failed;
		l->failed.start_key = NULL;
		resume_clear(l);
		l->stats.resumed++;
		page_submit(l, &at);
		free(at.start_key);
	} else {
		gc__listing_start(l);
	}
}

int64_t gc__listing_next_at(const gc__listing *l)
{
	return l->next_at;
}

const gc__listpace *gc__listing_pace(const gc__listing *l)
{
	return &l->pace;
}

gc__listing_stats gc__listing_stats_get(const gc__listing *l)
{
	return l->stats;
}

/* Is kv the start key a page repeats from the previous page? */
static int seen_before(const page_job *j, const gc_etcd_kv *kv)
{
	return j->at.start_key && j->at.start_seen &&
	       strcmp(kv->key, j->at.start_key) == 0;
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
	page_at after = {gc__sprintf("%s\x01", big->key), 0, 0, 0};
	if (!after.start_key) {
		l->next_at = gc__mono_ms() + LIST_RETRY_MS;
		return;
	}
	page_submit(l, &after);
	free(after.start_key);
}

/* A page arrived: ask for the next one, then apply this one. */
static void page_apply(gc__listing *l, const page_job *j)
{
	if (!j->at.start_key) {
		/* First page: a new pass, pinned at this revision. */
		l->rev = j->resp.revision;
		l->keys = 0;
		l->cbs.on_begin(l->rev, l->payload);
	}
	if (j->at.probe) {
		skip_big(l, j);
		return;
	}
	int more = j->resp.more && j->resp.kvs_count;
	size_t page = 0;
	for (size_t i = 0; i < j->resp.kvs_count; i++)
		page += !seen_before(j, &j->resp.kvs[i]);
	if (more) {
		/* Fetch the next page while this one is applied; pages cut
		 * short (a big key, a slow etcd) grow back. */
		page_at next = {
		    j->resp.kvs[j->resp.kvs_count - 1].key, 1,
		    j->at.limit < 2 ? 2 : j->at.limit * GC__LISTPACE_STEP, 0};
		page_submit(l, &next);
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

/* A value in this page is bigger than the client reads: smaller pages,
 * down to that key alone, which is skipped. A page after a seen key needs
 * 2 (that key and the next). */
static void page_too_big(gc__listing *l, const page_job *j)
{
	int64_t least = j->at.start_seen ? 2 : 1;
	page_at at = j->at;
	if (j->at.limit > least) {
		at.limit = j->at.limit / LIST_SHRINK > least
			       ? j->at.limit / LIST_SHRINK
			       : least;
	} else {
		at.limit = least;
		at.probe = 1;
	}
	page_submit(l, &at);
}

/* Read the failed page again LIST_RETRY_MS from now (same pass, same
 * revision, same start). */
static int resume_later(gc__listing *l, const page_job *j)
{
	char *key = NULL;
	if (j->at.start_key && !(key = gc__strdup(j->at.start_key)))
		return -1;
	resume_clear(l);
	l->failed = j->at;
	l->failed.start_key = key;
	l->resume = 1;
	l->next_at = gc__mono_ms() + LIST_RETRY_MS;
	return 0;
}

static void page_failed(gc__listing *l, const page_job *j, int rc,
			const gc_error *err)
{
	if (rc == GC_ECANCELED)
		return;
	if (rc == GC_ETOOBIG && !j->at.probe) {
		page_too_big(l, j);
	} else if (rc == GC_ECOMPACTED && j->at.start_key) {
		/* The pinned revision went away mid-pass: the pages read
		 * so far and the rest would not be one snapshot. Over. */
		l->stats.restarts++;
		gc__listing_start(l);
	} else if (rc == GC_ETIMEDOUT) {
		/* Slow etcd: the same page again at once, smaller and with
		 * more time (it cost its timeout already). */
		l->stats.timeouts++;
		gc__listpace_timed_out(&l->pace, j->at.limit);
		l->cbs.on_error(rc, err->msg, l->payload);
		page_at at = j->at;
		at.limit = at.probe ? at.limit : 0;
		page_submit(l, &at);
	} else {
		l->stats.errors++;
		if (resume_later(l, j)) /* out of memory: a new pass */
			l->next_at = gc__mono_ms() + LIST_RETRY_MS;
		l->cbs.on_error(rc, err->msg, l->payload);
	}
}

static void page_done(gc__pool_job *job)
{
	page_job *j = (page_job *)job;
	gc__listing *l = j->l;
	if (!l->orphan && j->pass == l->pass) {
		if (job->rc == 0) {
			if (!j->at.probe)
				gc__listpace_answered(&l->pace, j->at.limit,
						      j->ms);
			page_apply(l, j);
		} else {
			page_failed(l, j, job->rc, &job->err);
		}
	}
	page_job_free(j);
	if (--l->in_flight == 0 && l->orphan)
		listing_release(l);
}
