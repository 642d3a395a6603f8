/* Store internals. Not installed.
 *
 * The files of lib/store/ form layers; each calls only the layers below
 * it (a file never calls up):
 *
 *   open.c        the handle's life: options, open (schema, default
 *                 admin, dummy hash), retention thread, close
 *   projects.c    projects and members (reads user rows with users.c's
 *                 decoder; deletes a project's logs through logs.c)
 *   users.c       accounts, passwords, the default admin
 *   logs.c        operations on task logs: insert, list, get, counts,
 *                 delete, retention
 *   logrow.c      the task-log row as a record (clear, built from a
 *                 result, cut text rebuilt); schema.c creates and
 *                 migrates the tables; password.c hashes and checks
 *   store.c       the connection pool and the operation runner
 *                 (transactions, locks, reconnect and retry), paging
 *   db_sqlite.c   the drivers, reached through gc__dbdriver
 *   db_mysql.c
 *   rows.c        result sets (what the drivers fill)
 *
 * Below, each declaration names its file; the sections go bottom up. */
#ifndef GC_STORE_INTERNAL_H
#define GC_STORE_INTERNAL_H

#include <gophercron/store.h>

#include "internal.h"

#include <pthread.h>
#include <stdbool.h>

/* Longest task_id / run_id (they are keys, indexed in full). */
#define GC__STORE_KEY_MAX 255
/* Latest schema version (see schema.c for what each step does). */
#define GC__STORE_SCHEMA_LATEST 7

/* ---------------------------------------------- rows.c and the drivers */

enum { GC__P_NULL, GC__P_INT, GC__P_TEXT };

typedef struct gc__dbparam {
	int type;
	int64_t i;
	const char *s;
	size_t len;
} gc__dbparam;

static inline gc__dbparam gc__pint(int64_t v)
{
	gc__dbparam p = {GC__P_INT, v, NULL, 0};
	return p;
}

/* NULL is stored as "" (columns are NOT NULL). */
static inline gc__dbparam gc__ptext(const char *s)
{
	gc__dbparam p = {GC__P_TEXT, 0, s ? s : "", 0};
	size_t n = 0;
	while (p.s[n])
		n++;
	p.len = n;
	return p;
}

/* A fully read result set; cell[r * ncols + c] is NULL for SQL NULL. */
typedef struct gc__dbrows {
	size_t nrows, ncols, cap;
	char **cell;
	size_t *len;
} gc__dbrows;

/* rows.c */
void gc__dbrows_free(gc__dbrows *r);
const char *gc__dbrows_str(const gc__dbrows *r, size_t row, size_t col);
int64_t gc__dbrows_int(const gc__dbrows *r, size_t row, size_t col);
/* Steal a cell (malloc'd, "" for NULL); NULL only on ENOMEM. */
char *gc__dbrows_take(gc__dbrows *r, size_t row, size_t col);
/* Append one row of ncols cells (driver helper); takes ownership. */
int gc__dbrows_add(gc__dbrows *r, char **cells, size_t *lens, size_t ncols);

typedef struct gc__dbconn gc__dbconn; /* defined per backend */

/* Result of an exec: what went wrong, in a form the runner can act on. */
enum {
	GC__DB_LOST = 1u,     /* connection lost: reconnect */
	GC__DB_RETRYABLE = 2u /* deadlock / lock wait: safe to retry tx */
};

typedef struct gc__dbdriver {
	const char *name; /* "sqlite" or "mysql" */
	/* migration_conn: no read timeout (ALTER on a big table is slow). */
	int (*connect)(gc_store *s, bool migration_conn, gc__dbconn **out,
		       gc_error *err);
	void (*disconnect)(gc__dbconn *c);
	/* Run one statement. rows, affected, insert_id may be NULL. Errors:
	 * GC_ECONFLICT (unique key), GC_EUNAVAIL (connection lost), GC_EDB;
	 * *flags gets GC__DB_* bits. */
	int (*exec)(gc__dbconn *c, const char *sql, const gc__dbparam *p,
		    size_t np, gc__dbrows *rows, int64_t *affected,
		    int64_t *insert_id, unsigned *flags, gc_error *err);
	/* 0 when the connection answers. */
	int (*ping)(gc__dbconn *c);
	const char *begin_sql; /* "BEGIN IMMEDIATE" / "START TRANSACTION" */
} gc__dbdriver;

extern const gc__dbdriver gc__sqlite_driver;
extern const gc__dbdriver gc__mysql_driver;

/* ------------------------------------------------- the handle, store.c */

typedef struct gc__poolslot {
	gc__dbconn *conn; /* NULL: connect on next use */
	bool busy;
} gc__poolslot;

struct gc_store {
	int backend;
	const gc__dbdriver *drv;
	char *desc; /* "sqlite /path" / "mysql host:port/db" */

	/* copies of the options */
	char *sqlite_path;
	int busy_timeout_ms;
	char *mysql_host;   /* NULL with a unix socket */
	unsigned mysql_port;
	char *mysql_socket; /* NULL with TCP */
	char *mysql_user;
	char *mysql_password;
	char *mysql_database;
	int connect_timeout_s;
	int retention_days;
	int retention_interval_s;
	char crypt_prefix[8];
	/* A hash of a random password with crypt_prefix at the default
	 * cost, made at open: a login for an account that does not exist is
	 * checked against it, so it costs what a wrong password costs. */
	char *dummy_hash;
	/* The default password check (asked by every GET user/info) hashes
	 * only when the admin's stored hash changed since the last check:
	 * the hash and salt checked last and the answer, under default_mu. */
	pthread_mutex_t default_mu;
	char *default_checked; /* "<salt>\n<hash>", NULL = none yet */
	int default_in_use;
	gc_log_fn log;
	void *log_payload;

	int schema_version;
	int created_default_admin;

	/* pool */
	pthread_mutex_t pool_mu;
	pthread_cond_t pool_cv;
	gc__poolslot *slots;
	int nslots;

	/* SQLite: one writer at a time inside the process, so writers queue
	 * on a mutex instead of sleeping in SQLite's busy handler. */
	pthread_mutex_t write_mu;

	/* retention thread */
	pthread_t ret_thread;
	bool ret_started;
	bool ret_stop;
	pthread_mutex_t ret_mu;
	pthread_cond_t ret_cv;
};

/* Operation flags for gc__store_run. */
enum {
	GC__OP_WRITE = 1u,      /* modifies data (SQLite: take write_mu) */
	GC__OP_TX = 2u,         /* run inside a transaction */
	GC__OP_IDEMPOTENT = 4u, /* safe to run again after a lost connection */
	GC__OP_LOCKED = 8u      /* MySQL: hold the store's named lock
				   (uniqueness checks across services) */
};

/* What an operation runs with: its store, its connection, and the
 * GC__DB_* bits every statement so far reported. */
typedef struct gc__tx {
	gc_store *s;
	gc__dbconn *c;
	unsigned dbflags;
} gc__tx;

typedef int (*gc__store_op)(gc__tx *t, void *ctx, gc_error *err);

/* Run `op` on a pooled connection with the flags above. Errors are
 * prefixed "<backend desc>: <what>: ". */
int gc__store_run(gc_store *s, const char *what, unsigned flags,
		  gc__store_op op, void *ctx, gc_error *err);

/* One statement inside an op. */
int gc__tx_exec(gc__tx *t, const char *sql, const gc__dbparam *p, size_t np,
		gc__dbrows *rows, int64_t *affected, int64_t *insert_id,
		gc_error *err);

/* The row(s) of `sql`, a query with one parameter, `id`: GC_ENOTFOUND
 * "no <what> with id <id>" when there is none. Free *out either way. */
int gc__tx_get_row(gc__dbrows *out, gc__tx *t, const char *sql, int64_t id,
		   const char *what, gc_error *err);
/* Page number and size (0 = defaults) to LIMIT/OFFSET; GC_EINVAL when
 * negative. */
int gc__store_page(int page, int page_size, int64_t *limit, int64_t *offset);
/* gc_store_free() has been called. */
bool gc__store_stopping(gc_store *s);

/* ------------------------------------------------------------ password.c */

/* New crypt(3) hash of `password` (malloc'd) using s->crypt_prefix. */
int gc__store_hash_password(const gc_store *s, const char *password,
			    char **out, gc_error *err);
/* s->dummy_hash: the hash of a random password (nobody knows it). */
int gc__store_make_dummy_hash(gc_store *s, gc_error *err);
/* 1 match, 0 mismatch. `salt` non-empty means the legacy md5 scheme. */
int gc__store_check_password(const char *password, const char *hash,
			     const char *salt);
/* Lower-case hex md5 of data (33 bytes out). */
void gc__store_md5_hex(const void *data, size_t len, char out[33]);

/* -------------------------------------------------------------- schema.c */

/* Create or migrate on a dedicated connection. */
int gc__store_migrate(gc__tx *t, gc_error *err);

/* -------------------------------------------------------------- logrow.c */

/* A task log row's result text ({"result":OUT,"system_error":ERR,
 * "error":E}) rebuilt from a cut copy of it: `head` holds its first bytes,
 * `tail` its last ones (tail_len 0: no tail), the middle is missing and
 * either piece may end or start anywhere, even inside an escape. Appends
 * to `out` a text of the same shape holding what the pieces have: the
 * output's start, `marker` (NULL: "\n... [output cut] ...\n"), the
 * output's end, and the error texts. Rows the original wrote (Go's \u003c
 * escapes) decode alike. GC_ENOMEM or 0. */
int gc__log_result_cut(const char *head, size_t head_len, const char *tail,
		       size_t tail_len, const char *marker, gc__buf *out);

/* ---------------------------------------------------------------- logs.c */

/* Delete logs older than `days` in batches; with check_stop, stop early
 * when the store is closing. */
int gc__store_log_retention(gc_store *s, int days, int64_t *deleted,
			    bool check_stop, gc_error *err);

/* --------------------------------------------------------------- users.c */

/* Create admin/123456 when there is no user at all. */
int gc__store_ensure_admin(gc_store *s, gc_error *err);
/* Rows of USER_COLS into a list (count set, total untouched). */
int gc__store_users_from_rows(gc__dbrows *r, gc_store_users *out,
			      gc_error *err);

#endif
