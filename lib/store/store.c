/* Store core, the layer every operation runs on: the connection pool
 * and the operation runner (transactions, SQLite writer mutex, MySQL
 * named lock, reconnect and retry), paging, and the closing flag. Calls
 * only the drivers (through s->drv) and the result sets below it. */
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* --------------------------------------------------------------- pool */

static int pool_acquire(gc_store *s)
{
	pthread_mutex_lock(&s->pool_mu);
	for (;;) {
		int pick = -1;
		for (int i = 0; i < s->nslots; i++) {
			if (s->slots[i].busy)
				continue;
			/* prefer a slot that is already connected */
			if (pick < 0 || (!s->slots[pick].conn &&
					 s->slots[i].conn))
				pick = i;
		}
		if (pick >= 0) {
			s->slots[pick].busy = true;
			pthread_mutex_unlock(&s->pool_mu);
			return pick;
		}
		pthread_cond_wait(&s->pool_cv, &s->pool_mu);
	}
}

static void pool_release(gc_store *s, int slot, gc__dbconn *conn)
{
	pthread_mutex_lock(&s->pool_mu);
	s->slots[slot].conn = conn;
	s->slots[slot].busy = false;
	pthread_cond_signal(&s->pool_cv);
	pthread_mutex_unlock(&s->pool_mu);
}

/* After a lost connection the others in the pool are most likely dead
 * too (server restart): close the idle ones so a retry connects fresh. */
static void pool_drop_idle(gc_store *s)
{
	pthread_mutex_lock(&s->pool_mu);
	for (int i = 0; i < s->nslots; i++) {
		if (!s->slots[i].busy && s->slots[i].conn) {
			s->drv->disconnect(s->slots[i].conn);
			s->slots[i].conn = NULL;
		}
	}
	pthread_mutex_unlock(&s->pool_mu);
}

/* ------------------------------------------------------------- runner */

int gc__tx_exec(gc__tx *t, const char *sql, const gc__dbparam *p, size_t np,
		gc__dbrows *rows, int64_t *affected, int64_t *insert_id,
		gc_error *err)
{
	unsigned f = 0;
	int rc = t->s->drv->exec(t->c, sql, p, np, rows, affected, insert_id,
				 &f, err);
	t->dbflags |= f;
	return rc;
}

static int named_lock(gc__tx *t, bool take, gc_error *err)
{
	gc__dbrows r = {0};
	gc__dbparam p = gc__ptext("gophercron.store");
	int rc = gc__tx_exec(
		t,
		take ? "SELECT GET_LOCK(CONCAT(?, '.', DATABASE()), 30)"
		     : "SELECT RELEASE_LOCK(CONCAT(?, '.', DATABASE()))",
		&p, 1, &r, NULL, NULL, err);
	if (rc == 0 && take && (r.nrows != 1 || gc__dbrows_int(&r, 0, 0) != 1))
		rc = gc__seterr(err, GC_ETIMEDOUT,
				"store lock busy for 30 s");
	gc__dbrows_free(&r);
	return rc;
}

static int run_once(gc_store *s, unsigned flags, gc__store_op op, void *ctx,
		    unsigned *dbflags, gc_error *err)
{
	bool mysql = s->backend == GC_STORE_MYSQL;
	int slot = pool_acquire(s);
	gc__dbconn *conn = s->slots[slot].conn;
	int rc = 0;
	gc_error ignore;

	*dbflags = 0;
	if (conn && mysql && !(flags & GC__OP_IDEMPOTENT) &&
	    s->drv->ping(conn) != 0) {
		/* An operation we must not repeat runs only on a connection
		 * known to be alive (the server may have restarted while
		 * it sat in the pool). */
		s->drv->disconnect(conn);
		conn = NULL;
	}
	if (!conn) {
		rc = s->drv->connect(s, false, &conn, err);
		if (rc) {
			*dbflags |= GC__DB_LOST;
			pool_release(s, slot, NULL);
			return rc;
		}
	}
	gc__tx t = {s, conn, 0};
	bool wlock = !mysql && (flags & GC__OP_WRITE);
	bool nlock = mysql && (flags & GC__OP_LOCKED);
	if (wlock)
		pthread_mutex_lock(&s->write_mu);
	if (nlock)
		rc = named_lock(&t, true, err);
	if (rc == 0 && (flags & GC__OP_TX))
		rc = gc__tx_exec(&t, s->drv->begin_sql, NULL, 0, NULL, NULL,
				 NULL, err);
	if (rc == 0) {
		rc = op(&t, ctx, err);
		if (flags & GC__OP_TX) {
			if (rc == 0)
				rc = gc__tx_exec(&t, "COMMIT", NULL, 0, NULL,
						 NULL, NULL, err);
			else
				gc__tx_exec(&t, "ROLLBACK", NULL, 0, NULL,
					    NULL, NULL, &ignore);
		}
		if (nlock)
			named_lock(&t, false, &ignore);
	}
	if (wlock)
		pthread_mutex_unlock(&s->write_mu);
	*dbflags = t.dbflags;
	if (t.dbflags & GC__DB_LOST) {
		s->drv->disconnect(conn);
		conn = NULL;
	}
	pool_release(s, slot, conn);
	if (t.dbflags & GC__DB_LOST)
		pool_drop_idle(s);
	return rc;
}

int gc__store_run(gc_store *s, const char *what, unsigned flags,
		  gc__store_op op, void *ctx, gc_error *err)
{
	int lost_retries = 0, lock_retries = 0, rc;
	for (;;) {
		unsigned dbflags = 0;
		rc = run_once(s, flags, op, ctx, &dbflags, err);
		if (rc == 0)
			break;
		if ((dbflags & GC__DB_LOST) && (flags & GC__OP_IDEMPOTENT) &&
		    lost_retries < 1) {
			lost_retries++;
			gc__log(s->log, s->log_payload, GC_LOG_WARNING,
				"store %s: %s: connection lost, reconnecting "
				"and retrying",
				s->desc, what);
			continue;
		}
		/* A deadlock or lock timeout rolled the whole transaction
		 * back: running it again is safe. */
		if ((dbflags & GC__DB_RETRYABLE) &&
		    (flags & (GC__OP_TX | GC__OP_IDEMPOTENT)) &&
		    lock_retries < 3) {
			lock_retries++;
			struct timespec ts = {0, 5000000L * lock_retries};
			nanosleep(&ts, NULL);
			continue;
		}
		break;
	}
	if (rc) {
		gc__err_prefix(err, "%s", what);
		gc__err_prefix(err, "%s", s->desc);
	}
	return rc;
}

/* ------------------------------------------------------------- helpers */

int gc__tx_get_row(gc__dbrows *out, gc__tx *t, const char *sql, int64_t id,
		   const char *what, gc_error *err)
{
	gc__dbparam p = gc__pint(id);
	int rc = gc__tx_exec(t, sql, &p, 1, out, NULL, NULL, err);
	if (rc == 0 && out->nrows == 0)
		rc = gc__seterr(err, GC_ENOTFOUND, "no %s with id %lld", what,
				(long long)id);
	return rc;
}

int gc__store_page(int page, int page_size, int64_t *limit, int64_t *offset)
{
	if (page < 0 || page_size < 0)
		return GC_EINVAL;
	if (page == 0)
		page = 1;
	if (page_size == 0)
		page_size = 20;
	if (page_size > 1000)
		page_size = 1000;
	*limit = page_size;
	*offset = (int64_t)(page - 1) * page_size;
	return 0;
}

bool gc__store_stopping(gc_store *s)
{
	pthread_mutex_lock(&s->ret_mu);
	bool stop = s->ret_stop;
	pthread_mutex_unlock(&s->ret_mu);
	return stop;
}
