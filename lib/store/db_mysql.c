/* MySQL/MariaDB driver (libmysqlclient / MariaDB Connector/C): server-side
 * prepared statements for everything that carries data, cached per
 * connection; utf8mb4; strict SQL mode; no client auto-reconnect (the
 * runner reconnects and retries what is safe to retry). */
#include "store_internal.h"

#include <mysql.h>
#include <errmsg.h>
#include <mysqld_error.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#define STMT_CACHE 48
#define SMALL_CELL 256

typedef struct cached_stmt {
	char *sql;
	MYSQL_STMT *st;
} cached_stmt;

struct gc__dbconn {
	MYSQL *m;
	cached_stmt cache[STMT_CACHE];
	unsigned next_evict;
};

static bool lost_errno(unsigned e)
{
	switch (e) {
	case CR_SERVER_GONE_ERROR:
	case CR_SERVER_LOST:
	case CR_CONN_HOST_ERROR:
	case CR_CONNECTION_ERROR:
	case ER_SERVER_SHUTDOWN:
	case 1927: /* ER_CONNECTION_KILLED (MariaDB) */
	case 2055: /* CR_SERVER_LOST_EXTENDED (MySQL) */
	case 4031: /* ER_CLIENT_INTERACTION_TIMEOUT (MySQL 8) */
		return true;
	default:
		return false;
	}
}

static int my_err(unsigned e, const char *msg, unsigned *flags,
		  gc_error *err)
{
	int code = GC_EDB;
	if (e == ER_DUP_ENTRY || e == ER_DUP_ENTRY_WITH_KEY_NAME)
		code = GC_ECONFLICT;
	else if (lost_errno(e)) {
		code = GC_EUNAVAIL;
		if (flags)
			*flags |= GC__DB_LOST;
	} else if (e == ER_LOCK_DEADLOCK || e == ER_LOCK_WAIT_TIMEOUT) {
		if (flags)
			*flags |= GC__DB_RETRYABLE;
	} else if (e == CR_OUT_OF_MEMORY)
		code = GC_ENOMEM;
	return gc__seterr(err, code, "%s (%u)", msg && *msg ? msg : "error",
			  e);
}

static void my_disconnect(gc__dbconn *c)
{
	if (!c)
		return;
	for (int i = 0; i < STMT_CACHE; i++) {
		if (c->cache[i].st)
			mysql_stmt_close(c->cache[i].st);
		free(c->cache[i].sql);
	}
	if (c->m)
		mysql_close(c->m);
	free(c);
}

static int my_connect(gc_store *s, bool migration_conn, gc__dbconn **out,
		      gc_error *err)
{
	gc__dbconn *c = calloc(1, sizeof(*c));
	if (!c)
		return gc__seterr(err, GC_ENOMEM, "out of memory");
	c->m = mysql_init(NULL);
	if (!c->m) {
		free(c);
		return gc__seterr(err, GC_ENOMEM, "mysql_init failed");
	}
	unsigned ct = (unsigned)s->connect_timeout_s;
	/* Statements are bounded; a migration ALTER on a big table is not,
	 * so its connection waits as long as the server works. */
	unsigned rw = migration_conn ? 0 : ct * 6;
	mysql_options(c->m, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
	if (rw) {
		mysql_options(c->m, MYSQL_OPT_READ_TIMEOUT, &rw);
		mysql_options(c->m, MYSQL_OPT_WRITE_TIMEOUT, &rw);
	}
	mysql_options(c->m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	if (!s->mysql_socket) {
		/* "localhost:3306" means TCP here, not the default socket. */
		unsigned proto = MYSQL_PROTOCOL_TCP;
		mysql_options(c->m, MYSQL_OPT_PROTOCOL, &proto);
	}
	unsigned no = 0;
	mysql_options(c->m, MYSQL_OPT_LOCAL_INFILE, &no);
	if (!mysql_real_connect(c->m, s->mysql_host, s->mysql_user,
				s->mysql_password, s->mysql_database,
				s->mysql_port, s->mysql_socket, 0)) {
		unsigned e = mysql_errno(c->m);
		gc__seterr(err, lost_errno(e) ? GC_EUNAVAIL : GC_EDB,
			   "connect as %s: %s (%u)",
			   s->mysql_user ? s->mysql_user : "(default user)",
			   mysql_error(c->m), e);
		my_disconnect(c);
		return err ? err->code : GC_EDB;
	}
	int fd = mysql_get_socket(c->m);
	if (fd >= 0)
		fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC);
	/* Strict mode: an oversized or bad value is an error, never a
	 * silent truncation. READ COMMITTED: concurrent batch inserts do not
	 * deadlock on gap locks. */
	static const char *const setup[] = {
		"SET SESSION sql_mode='STRICT_ALL_TABLES,"
		"ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'",
		"SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
	};
	for (size_t i = 0; i < GC__ARRAY_LEN(setup); i++) {
		if (mysql_query(c->m, setup[i])) {
			my_err(mysql_errno(c->m), mysql_error(c->m), NULL,
			       err);
			gc__err_prefix(err, "session set-up");
			my_disconnect(c);
			return err ? err->code : GC_EDB;
		}
	}
	*out = c;
	return 0;
}

static MYSQL_STMT *my_cached(gc__dbconn *c, const char *sql, unsigned *flags,
			     gc_error *err)
{
	for (int i = 0; i < STMT_CACHE; i++)
		if (c->cache[i].sql && strcmp(c->cache[i].sql, sql) == 0)
			return c->cache[i].st;
	MYSQL_STMT *st = mysql_stmt_init(c->m);
	if (!st) {
		my_err(mysql_errno(c->m), mysql_error(c->m), flags, err);
		return NULL;
	}
	if (mysql_stmt_prepare(st, sql, (unsigned long)strlen(sql))) {
		my_err(mysql_stmt_errno(st), mysql_stmt_error(st), flags, err);
		mysql_stmt_close(st);
		return NULL;
	}
	char *copy = gc__strdup(sql);
	if (!copy) {
		mysql_stmt_close(st);
		gc__seterr(err, GC_ENOMEM, "out of memory");
		return NULL;
	}
	int slot = -1;
	for (int i = 0; i < STMT_CACHE && slot < 0; i++)
		if (!c->cache[i].sql)
			slot = i;
	if (slot < 0) {
		slot = (int)(c->next_evict++ % STMT_CACHE);
		mysql_stmt_close(c->cache[slot].st);
		free(c->cache[slot].sql);
	}
	c->cache[slot].sql = copy;
	c->cache[slot].st = st;
	return st;
}

static void my_uncache(gc__dbconn *c, MYSQL_STMT *st)
{
	for (int i = 0; i < STMT_CACHE; i++)
		if (c->cache[i].st == st) {
			mysql_stmt_close(st);
			free(c->cache[i].sql);
			c->cache[i].st = NULL;
			c->cache[i].sql = NULL;
		}
}

/* Plain text protocol: only for statements without data (DDL, BEGIN). */
static int my_query(gc__dbconn *c, const char *sql, int64_t *affected,
		    unsigned *flags, gc_error *err)
{
	if (mysql_real_query(c->m, sql, (unsigned long)strlen(sql)))
		return my_err(mysql_errno(c->m), mysql_error(c->m), flags,
			      err);
	MYSQL_RES *res = mysql_store_result(c->m);
	if (res)
		mysql_free_result(res);
	else if (mysql_field_count(c->m) != 0)
		return my_err(mysql_errno(c->m), mysql_error(c->m), flags,
			      err);
	if (affected)
		*affected = (int64_t)mysql_affected_rows(c->m);
	return 0;
}

static int fetch_rows(MYSQL_STMT *st, MYSQL_RES *meta, gc__dbrows *rows,
		      unsigned *flags, gc_error *err)
{
	unsigned ncols = mysql_num_fields(meta);
	int rc = 0;
	if (ncols > 64)
		return gc__seterr(err, GC_EINVAL, "too many columns");
	MYSQL_BIND rb[64];
	char small[64][SMALL_CELL];
	unsigned long rlen[64];
	my_bool rnull[64], rerr[64];
	memset(rb, 0, sizeof(rb[0]) * ncols);
	for (unsigned i = 0; i < ncols; i++) {
		rb[i].buffer_type = MYSQL_TYPE_STRING;
		rb[i].buffer = small[i];
		rb[i].buffer_length = SMALL_CELL;
		rb[i].length = &rlen[i];
		rb[i].is_null = &rnull[i];
		rb[i].error = &rerr[i];
	}
	if (mysql_stmt_bind_result(st, rb))
		return my_err(mysql_stmt_errno(st), mysql_stmt_error(st),
			      flags, err);
	for (;;) {
		int f = mysql_stmt_fetch(st);
		if (f == MYSQL_NO_DATA)
			break;
		if (f == 1) {
			rc = my_err(mysql_stmt_errno(st), mysql_stmt_error(st),
				    flags, err);
			break;
		}
		char *cells[64];
		size_t lens[64];
		for (unsigned i = 0; i < ncols; i++) {
			cells[i] = NULL;
			lens[i] = 0;
		}
		for (unsigned i = 0; i < ncols && rc == 0; i++) {
			if (rnull[i])
				continue;
			lens[i] = rlen[i];
			cells[i] = malloc(rlen[i] + 1);
			if (!cells[i]) {
				rc = gc__seterr(err, GC_ENOMEM,
						"out of memory");
				break;
			}
			if (rlen[i] <= SMALL_CELL) {
				memcpy(cells[i], small[i], rlen[i]);
			} else {
				/* Truncated in the small buffer: fetch the
				 * whole value. */
				MYSQL_BIND big;
				unsigned long blen = 0;
				memset(&big, 0, sizeof(big));
				big.buffer_type = MYSQL_TYPE_STRING;
				big.buffer = cells[i];
				big.buffer_length = rlen[i];
				big.length = &blen;
				if (mysql_stmt_fetch_column(st, &big, i, 0))
					rc = my_err(mysql_stmt_errno(st),
						    mysql_stmt_error(st),
						    flags, err);
			}
			cells[i][lens[i]] = '\0';
		}
		if (rc == 0 && gc__dbrows_add(rows, cells, lens, ncols))
			rc = gc__seterr(err, GC_ENOMEM, "out of memory");
		if (rc) {
			for (unsigned i = 0; i < ncols; i++)
				free(cells[i]);
			break;
		}
	}
	mysql_stmt_free_result(st);
	return rc;
}

static int my_exec(gc__dbconn *c, const char *sql, const gc__dbparam *p,
		   size_t np, gc__dbrows *rows, int64_t *affected,
		   int64_t *insert_id, unsigned *flags, gc_error *err)
{
	if (np == 0 && !rows && !insert_id)
		return my_query(c, sql, affected, flags, err);
	MYSQL_BIND *b = NULL;
	unsigned long *lens = NULL;
	int rc = 0;
	for (int attempt = 0;; attempt++) {
		MYSQL_STMT *st = my_cached(c, sql, flags, err);
		if (!st)
			return err ? err->code : GC_EDB;
		if (mysql_stmt_param_count(st) != np) {
			rc = gc__seterr(err, GC_EINVAL,
					"statement wants %lu parameters, got "
					"%zu",
					mysql_stmt_param_count(st), np);
			goto out;
		}
		if (np && !b) {
			b = calloc(np, sizeof(*b));
			lens = calloc(np, sizeof(*lens));
			if (!b || !lens) {
				rc = gc__seterr(err, GC_ENOMEM,
						"out of memory");
				goto out;
			}
			for (size_t i = 0; i < np; i++) {
				if (p[i].type == GC__P_INT) {
					b[i].buffer_type = MYSQL_TYPE_LONGLONG;
					b[i].buffer = (void *)&p[i].i;
				} else if (p[i].type == GC__P_TEXT) {
					/* Binary: bytes go in verbatim,
					 * never converted or validated as
					 * utf8mb4. */
					b[i].buffer_type = MYSQL_TYPE_BLOB;
					b[i].buffer = (void *)p[i].s;
					lens[i] = (unsigned long)p[i].len;
					b[i].buffer_length = lens[i];
					b[i].length = &lens[i];
				} else {
					b[i].buffer_type = MYSQL_TYPE_NULL;
				}
			}
		}
		if (np && mysql_stmt_bind_param(st, b)) {
			rc = my_err(mysql_stmt_errno(st), mysql_stmt_error(st),
				    flags, err);
			goto out;
		}
		if (mysql_stmt_execute(st)) {
			unsigned e = mysql_stmt_errno(st);
			if (e == ER_NEED_REPREPARE && attempt == 0) {
				my_uncache(c, st);
				continue;
			}
			rc = my_err(e, mysql_stmt_error(st), flags, err);
			goto out;
		}
		MYSQL_RES *meta = mysql_stmt_result_metadata(st);
		if (meta) {
			gc__dbrows scratch = {0};
			rc = fetch_rows(st, meta, rows ? rows : &scratch, flags,
					err);
			gc__dbrows_free(&scratch);
			mysql_free_result(meta);
			if (rc)
				goto out;
		}
		if (affected)
			*affected = (int64_t)mysql_stmt_affected_rows(st);
		if (insert_id)
			*insert_id = (int64_t)mysql_stmt_insert_id(st);
		break;
	}
out:
	free(b);
	free(lens);
	return rc;
}

static int my_ping(gc__dbconn *c)
{
	return mysql_ping(c->m) == 0 ? 0 : -1;
}

const gc__dbdriver gc__mysql_driver = {
	"mysql", my_connect, my_disconnect, my_exec, my_ping,
	"START TRANSACTION",
};
