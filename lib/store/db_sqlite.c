/* SQLite driver: one connection per pool slot, WAL, busy timeout, foreign
 * keys on, prepared statements cached per connection. */
#include "store_internal.h"

#include <sqlite3.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STMT_CACHE 48

typedef struct cached_stmt {
	char *sql;
	sqlite3_stmt *st;
} cached_stmt;

struct gc__dbconn {
	sqlite3 *db;
	cached_stmt cache[STMT_CACHE];
	unsigned next_evict;
};

static int sq_err(sqlite3 *db, int rc, unsigned *flags, gc_error *err)
{
	int code = GC_EDB;
	int prim = rc & 0xff;
	if (prim == SQLITE_CONSTRAINT)
		code = GC_ECONFLICT;
	else if (prim == SQLITE_BUSY || prim == SQLITE_LOCKED) {
		/* The busy timeout already waited; the caller may retry a
		 * whole transaction. */
		if (flags)
			*flags |= GC__DB_RETRYABLE;
	} else if (prim == SQLITE_NOMEM)
		code = GC_ENOMEM;
	return gc__seterr(err, code, "%s (%s)",
			  db ? sqlite3_errmsg(db) : sqlite3_errstr(rc),
			  sqlite3_errstr(rc));
}

/* ": <OS error>" when SQLite's last failure came from the system (its own
 * text, "unable to open database file", does not say why), else "". */
static const char *os_cause(sqlite3 *db, char *buf, size_t cap)
{
	int e = db ? sqlite3_system_errno(db) : 0;
	if (e)
		snprintf(buf, cap, ": %s", strerror(e));
	else
		buf[0] = '\0';
	return buf;
}

/* Why the database file cannot be opened, as the system says it: the file
 * itself, else its directory (missing, or not writable: SQLite's last
 * errno is then that of its read-only fallback, ENOENT, which misleads). */
static const char *open_cause(sqlite3 *db, const char *path, char *buf,
			      size_t cap)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	if (access(path, F_OK) == 0) {
		if (access(path, R_OK | W_OK) != 0)
			snprintf(buf, cap, ": %s: %s", path, strerror(errno));
		else
			os_cause(db, buf, cap);
		return buf;
	}
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s",
			 slash == path ? 1 : (int)(slash - path), path);
	if (access(dir, W_OK | X_OK) != 0)
		snprintf(buf, cap, ": directory %s: %s", dir, strerror(errno));
	else
		os_cause(db, buf, cap);
	return buf;
}

static int sq_simple(sqlite3 *db, const char *sql, gc_error *err)
{
	char *msg = NULL, os[128];
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		gc__seterr(err, GC_EDB, "%s: %s%s", sql,
			   msg ? msg : sqlite3_errstr(rc),
			   os_cause(db, os, sizeof(os)));
		sqlite3_free(msg);
		return GC_EDB;
	}
	return 0;
}

static int sq_connect(gc_store *s, bool migration_conn, gc__dbconn **out,
		      gc_error *err)
{
	(void)migration_conn;
	gc__dbconn *c = calloc(1, sizeof(*c));
	if (!c)
		return gc__seterr(err, GC_ENOMEM, "out of memory");
	/* NOMUTEX: a connection is used by one thread at a time (the pool
	 * guarantees it). SQLite opens its files with O_CLOEXEC. */
	int rc = sqlite3_open_v2(s->sqlite_path, &c->db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
					 SQLITE_OPEN_NOMUTEX |
					 SQLITE_OPEN_EXRESCODE,
				 NULL);
	if (rc != SQLITE_OK) {
		char os[4300];
		gc__seterr(err, GC_EDB, "open: %s%s",
			   c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc),
			   open_cause(c->db, s->sqlite_path, os, sizeof(os)));
		sqlite3_close(c->db);
		free(c);
		return GC_EDB;
	}
	sqlite3_busy_timeout(c->db, s->busy_timeout_ms);
	/* WAL: readers never block the writer; synchronous=NORMAL is
	 * durable across application crashes (the WAL is synced at
	 * checkpoints). */
	if (sq_simple(c->db, "PRAGMA journal_mode=WAL", err) ||
	    sq_simple(c->db, "PRAGMA synchronous=NORMAL", err) ||
	    sq_simple(c->db, "PRAGMA foreign_keys=ON", err) ||
	    /* Statement journals of multi-row inserts and ORDER BY sorts
	     * stay in memory instead of temp files. */
	    sq_simple(c->db, "PRAGMA temp_store=MEMORY", err) ||
	    /* A batch of task logs dirties a page per index insertion
	     * point: 16 MB of cache keeps a batch from spilling, and reads
	     * go through a shared mapping instead of pread copies. */
	    sq_simple(c->db, "PRAGMA cache_size=-16384", err) ||
	    sq_simple(c->db, "PRAGMA mmap_size=268435456", err) ||
	    /* Checkpoint every ~40 MB of WAL instead of 4 MB: the index
	     * pages every batch touches are copied back once, not each
	     * time (1.5-2x the insert rate at 200k rows). */
	    sq_simple(c->db, "PRAGMA wal_autocheckpoint=10000", err)) {
		sqlite3_close(c->db);
		free(c);
		return GC_EDB;
	}
	*out = c;
	return 0;
}

static void sq_disconnect(gc__dbconn *c)
{
	if (!c)
		return;
	for (int i = 0; i < STMT_CACHE; i++) {
		sqlite3_finalize(c->cache[i].st);
		free(c->cache[i].sql);
	}
	sqlite3_close(c->db);
	free(c);
}

static sqlite3_stmt *sq_cached(gc__dbconn *c, const char *sql, int *rc)
{
	for (int i = 0; i < STMT_CACHE; i++)
		if (c->cache[i].sql && strcmp(c->cache[i].sql, sql) == 0)
			return c->cache[i].st;
	sqlite3_stmt *st = NULL;
	*rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
				 &st, NULL);
	if (*rc != SQLITE_OK)
		return NULL;
	char *copy = gc__strdup(sql);
	if (!copy) {
		sqlite3_finalize(st);
		*rc = SQLITE_NOMEM;
		return NULL;
	}
	int slot = -1;
	for (int i = 0; i < STMT_CACHE && slot < 0; i++)
		if (!c->cache[i].sql)
			slot = i;
	if (slot < 0) {
		slot = (int)(c->next_evict++ % STMT_CACHE);
		sqlite3_finalize(c->cache[slot].st);
		free(c->cache[slot].sql);
	}
	c->cache[slot].sql = copy;
	c->cache[slot].st = st;
	return st;
}

static int sq_exec(gc__dbconn *c, const char *sql, const gc__dbparam *p,
		   size_t np, gc__dbrows *rows, int64_t *affected,
		   int64_t *insert_id, unsigned *flags, gc_error *err)
{
	int rc = SQLITE_OK;
	sqlite3_stmt *st = sq_cached(c, sql, &rc);
	if (!st)
		return sq_err(c->db, rc, flags, err);
	if ((size_t)sqlite3_bind_parameter_count(st) != np) {
		sqlite3_reset(st);
		return gc__seterr(err, GC_EINVAL,
				  "statement wants %d parameters, got %zu",
				  sqlite3_bind_parameter_count(st), np);
	}
	for (size_t i = 0; i < np; i++) {
		int bi = (int)i + 1;
		if (p[i].type == GC__P_INT)
			rc = sqlite3_bind_int64(st, bi, p[i].i);
		else if (p[i].type == GC__P_TEXT)
			rc = sqlite3_bind_text64(st, bi, p[i].s, p[i].len,
						 SQLITE_STATIC, SQLITE_UTF8);
		else
			rc = sqlite3_bind_null(st, bi);
		if (rc != SQLITE_OK)
			goto fail;
	}
	int ncols = sqlite3_column_count(st);
	char *cells[64];
	size_t lens[64];
	if (ncols > 64) {
		rc = SQLITE_RANGE;
		goto fail;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!rows)
			continue;
		for (int i = 0; i < ncols; i++) {
			if (sqlite3_column_type(st, i) == SQLITE_NULL) {
				cells[i] = NULL;
				lens[i] = 0;
				continue;
			}
			const unsigned char *t = sqlite3_column_text(st, i);
			size_t n = (size_t)sqlite3_column_bytes(st, i);
			cells[i] = t ? gc__strndup((const char *)t, n) : NULL;
			lens[i] = n;
			if (t && !cells[i]) {
				for (int j = 0; j < i; j++)
					free(cells[j]);
				rc = SQLITE_NOMEM;
				goto fail;
			}
		}
		if (gc__dbrows_add(rows, cells, lens, (size_t)ncols)) {
			rc = SQLITE_NOMEM;
			goto fail;
		}
	}
	if (rc != SQLITE_DONE)
		goto fail;
	if (affected)
		*affected = sqlite3_changes64(c->db);
	if (insert_id)
		*insert_id = sqlite3_last_insert_rowid(c->db);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return 0;
fail:;
	int code = sq_err(c->db, rc, flags, err);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return code;
}

static int sq_ping(gc__dbconn *c)
{
	(void)c;
	return 0;
}

const gc__dbdriver gc__sqlite_driver = {
	"sqlite", sq_connect, sq_disconnect, sq_exec, sq_ping,
	"BEGIN IMMEDIATE",
};
