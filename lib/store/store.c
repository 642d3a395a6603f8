/* Store core: options, open/close, the connection pool, the operation
 * runner (transactions, SQLite writer mutex, MySQL named lock, reconnect
 * and retry), and the retention thread. */
#include "store_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------ row sets */

void gc__dbrows_free(gc__dbrows *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nrows * r->ncols; i++)
		free(r->cell[i]);
	free(r->cell);
	free(r->len);
	memset(r, 0, sizeof(*r));
}

int gc__dbrows_add(gc__dbrows *r, char **cells, size_t *lens, size_t ncols)
{
	if (r->nrows == 0)
		r->ncols = ncols;
	if (ncols != r->ncols)
		return GC_EINVAL;
	if (r->nrows == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		char **c = realloc(r->cell, cap * ncols * sizeof(*c));
		if (!c)
			return GC_ENOMEM;
		r->cell = c;
		size_t *l = realloc(r->len, cap * ncols * sizeof(*l));
		if (!l)
			return GC_ENOMEM;
		r->len = l;
		r->cap = cap;
	}
	memcpy(r->cell + r->nrows * ncols, cells, ncols * sizeof(*cells));
	memcpy(r->len + r->nrows * ncols, lens, ncols * sizeof(*lens));
	r->nrows++;
	return 0;
}

const char *gc__dbrows_str(const gc__dbrows *r, size_t row, size_t col)
{
	const char *v = r->cell[row * r->ncols + col];
	return v ? v : "";
}

int64_t gc__dbrows_int(const gc__dbrows *r, size_t row, size_t col)
{
	const char *v = gc__dbrows_str(r, row, col);
	int64_t out = 0;
	if (gc__parse_int64(v, &out) == 0)
		return out;
	/* SUM() in MySQL is DECIMAL: "12" parses above, "12.0" here. */
	return (int64_t)strtoll(v, NULL, 10);
}

char *gc__dbrows_take(gc__dbrows *r, size_t row, size_t col)
{
	char **cell = &r->cell[row * r->ncols + col];
	char *v = *cell;
	*cell = NULL;
	return v ? v : gc__strdup("");
}

/* ------------------------------------------------------------ options */

void gc_store_options_init(gc_store_options *opts)
{
	if (!opts)
		return;
	memset(opts, 0, sizeof(*opts));
	opts->version = GC_STORE_OPTIONS_VERSION;
}

int gc_store_backend(const gc_store *s)
{
	return s ? s->backend : -1;
}

const char *gc_store_describe(const gc_store *s)
{
	return s ? s->desc : "";
}

int gc_store_schema_version(const gc_store *s)
{
	return s ? s->schema_version : 0;
}

int gc_store_created_default_admin(const gc_store *s)
{
	return s ? s->created_default_admin : 0;
}

/* "host:port", "[v6]:port", "host", "/socket". */
static int parse_service(gc_store *s, const char *svc, gc_error *err)
{
	if (!svc || !*svc)
		return gc__seterr(err, GC_EINVAL,
				  "mysql service is empty (want host:port)");
	if (svc[0] == '/') {
		s->mysql_socket = gc__strdup(svc);
		s->mysql_host = gc__strdup("localhost");
		return s->mysql_socket && s->mysql_host
			       ? 0
			       : gc__seterr(err, GC_ENOMEM, "out of memory");
	}
	const char *host = svc, *port = NULL;
	size_t hlen;
	if (svc[0] == '[') {
		const char *close = strchr(svc, ']');
		if (!close)
			return gc__seterr(err, GC_EINVAL,
					  "mysql service \"%s\": missing ']'",
					  svc);
		host = svc + 1;
		hlen = (size_t)(close - host);
		if (close[1] == ':')
			port = close + 2;
		else if (close[1])
			return gc__seterr(err, GC_EINVAL,
					  "mysql service \"%s\": junk after "
					  "']'",
					  svc);
	} else {
		const char *colon = strrchr(svc, ':');
		hlen = colon ? (size_t)(colon - svc) : strlen(svc);
		port = colon ? colon + 1 : NULL;
	}
	s->mysql_port = 3306;
	if (port) {
		int64_t p = 0;
		if (gc__parse_int64(port, &p) || p < 1 || p > 65535)
			return gc__seterr(err, GC_EINVAL,
					  "mysql service \"%s\": bad port", svc);
		s->mysql_port = (unsigned)p;
	}
	if (hlen == 0)
		return gc__seterr(err, GC_EINVAL,
				  "mysql service \"%s\": empty host", svc);
	s->mysql_host = gc__strndup(host, hlen);
	return s->mysql_host ? 0 : gc__seterr(err, GC_ENOMEM, "out of memory");
}

static void store_free(gc_store *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->nslots; i++)
		if (s->slots[i].conn)
			s->drv->disconnect(s->slots[i].conn);
	free(s->slots);
	pthread_mutex_destroy(&s->pool_mu);
	pthread_cond_destroy(&s->pool_cv);
	pthread_mutex_destroy(&s->write_mu);
	pthread_mutex_destroy(&s->ret_mu);
	pthread_cond_destroy(&s->ret_cv);
	free(s->desc);
	free(s->dummy_hash);
	free(s->sqlite_path);
	free(s->mysql_host);
	free(s->mysql_socket);
	free(s->mysql_user);
	gc__secret_free(s->mysql_password);
	free(s->mysql_database);
	free(s);
}

static int copy_opt(char **dst, const char *src, const char *def)
{
	const char *v = (src && *src) ? src : def;
	if (!v) {
		*dst = NULL;
		return 0;
	}
	*dst = gc__strdup(v);
	return *dst ? 0 : GC_ENOMEM;
}

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

/* ---------------------------------------------------------- retention */

static bool ret_should_stop(gc_store *s)
{
	pthread_mutex_lock(&s->ret_mu);
	bool stop = s->ret_stop;
	pthread_mutex_unlock(&s->ret_mu);
	return stop;
}

static void *retention_main(void *arg)
{
	gc_store *s = arg;
	while (!ret_should_stop(s)) {
		int64_t n = 0;
		gc_error e = {0, ""};
		int rc = gc__store_log_retention(s, s->retention_days, &n,
						 true, &e);
		if (rc)
			gc__log(s->log, s->log_payload, GC_LOG_WARNING,
				"log retention: %s", e.msg);
		else if (n > 0)
			gc__log(s->log, s->log_payload, GC_LOG_INFO,
				"log retention: deleted %lld task logs older "
				"than %d days",
				(long long)n, s->retention_days);
		struct timespec dl;
		clock_gettime(CLOCK_MONOTONIC, &dl);
		dl.tv_sec += s->retention_interval_s;
		pthread_mutex_lock(&s->ret_mu);
		while (!s->ret_stop &&
		       pthread_cond_timedwait(&s->ret_cv, &s->ret_mu, &dl) !=
			       ETIMEDOUT)
			;
		pthread_mutex_unlock(&s->ret_mu);
	}
	return NULL;
}

bool gc__store_stopping(gc_store *s)
{
	return ret_should_stop(s);
}

/* --------------------------------------------------------- open/close */

int gc_store_open(gc_store **out, const gc_store_options *opts,
		  gc_error *err)
{
	gc_store_options defaults;
	int rc;
	if (!out)
		return gc__seterr(err, GC_EINVAL, "store: out is NULL");
	*out = NULL;
	if (!opts) {
		gc_store_options_init(&defaults);
		opts = &defaults;
	}
	if (opts->version < 1 || opts->version > GC_STORE_OPTIONS_VERSION)
		return gc__seterr(err, GC_EINVAL,
				  "store: options version %u unknown (want %d)",
				  opts->version, GC_STORE_OPTIONS_VERSION);
	if (opts->backend != GC_STORE_SQLITE && opts->backend != GC_STORE_MYSQL)
		return gc__seterr(err, GC_EINVAL, "store: unknown backend %d",
				  opts->backend);
	gc_store *s = calloc(1, sizeof(*s));
	if (!s)
		return gc__seterr(err, GC_ENOMEM, "out of memory");
	pthread_mutex_init(&s->pool_mu, NULL);
	pthread_cond_init(&s->pool_cv, NULL);
	pthread_mutex_init(&s->write_mu, NULL);
	pthread_mutex_init(&s->ret_mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->ret_cv, &ca);
	pthread_condattr_destroy(&ca);

	s->backend = opts->backend;
	s->busy_timeout_ms =
		opts->busy_timeout_ms > 0 ? opts->busy_timeout_ms : 5000;
	s->connect_timeout_s =
		opts->connect_timeout_s > 0 ? opts->connect_timeout_s : 5;
	s->retention_days = opts->retention_days > 0 ? opts->retention_days : 0;
	s->retention_interval_s = opts->retention_interval_s != 0
					  ? opts->retention_interval_s
					  : 3600;
	s->log = opts->log;
	s->log_payload = opts->log_payload;
	const char *cp = opts->crypt_prefix && *opts->crypt_prefix
				 ? opts->crypt_prefix
				 : "$y$";
	if (strcmp(cp, "$y$") != 0 && strcmp(cp, "$6$") != 0) {
		store_free(s);
		return gc__seterr(err, GC_EINVAL,
				  "store: crypt_prefix \"%.16s\" unsupported "
				  "(use \"$y$\" or \"$6$\")",
				  cp);
	}
	memcpy(s->crypt_prefix, cp, strlen(cp) + 1);
	s->nslots = opts->pool_size > 0 ? opts->pool_size : 4;
	if (s->nslots > 64)
		s->nslots = 64;
	s->slots = calloc((size_t)s->nslots, sizeof(*s->slots));
	if (!s->slots) {
		store_free(s);
		return gc__seterr(err, GC_ENOMEM, "out of memory");
	}

	if (s->backend == GC_STORE_SQLITE) {
		s->drv = &gc__sqlite_driver;
		if (copy_opt(&s->sqlite_path, opts->sqlite_path,
			     "gophercron.db")) {
			store_free(s);
			return gc__seterr(err, GC_ENOMEM, "out of memory");
		}
		s->desc = gc__sprintf("sqlite %s", s->sqlite_path);
	} else {
		s->drv = &gc__mysql_driver;
		rc = parse_service(s, opts->mysql_service, err);
		if (rc) {
			store_free(s);
			return rc;
		}
		if (copy_opt(&s->mysql_user, opts->mysql_username, NULL) ||
		    copy_opt(&s->mysql_password, opts->mysql_password, "") ||
		    copy_opt(&s->mysql_database, opts->mysql_database,
			     "gophercron")) {
			store_free(s);
			return gc__seterr(err, GC_ENOMEM, "out of memory");
		}
		s->desc = gc__sprintf("mysql %s/%s", opts->mysql_service,
				      s->mysql_database);
	}
	if (!s->desc) {
		store_free(s);
		return gc__seterr(err, GC_ENOMEM, "out of memory");
	}

	/* Schema on its own connection (no read timeout for long ALTERs). */
	gc__dbconn *mc = NULL;
	rc = s->drv->connect(s, true, &mc, err);
	if (rc == 0) {
		gc__tx t = {s, mc, 0};
		rc = gc__store_migrate(&t, err);
		s->drv->disconnect(mc);
		if (rc)
			gc__err_prefix(err, "schema");
	}
	if (rc == 0) {
		rc = gc__store_ensure_admin(s, err);
		if (rc == 0)
			rc = gc__store_make_dummy_hash(s, err);
	} else {
		gc__err_prefix(err, "%s", s->desc);
	}
	if (rc) {
		store_free(s);
		return rc;
	}
	if (s->retention_days > 0 && s->retention_interval_s > 0) {
		if (pthread_create(&s->ret_thread, NULL, retention_main, s)) {
			store_free(s);
			return gc__seterr_errno(err, GC_ESYS, errno,
						"store: retention thread");
		}
		s->ret_started = true;
	}
	*out = s;
	return 0;
}

void gc_store_close(gc_store *s)
{
	if (!s)
		return;
	if (s->ret_started) {
		pthread_mutex_lock(&s->ret_mu);
		s->ret_stop = true;
		pthread_cond_broadcast(&s->ret_cv);
		pthread_mutex_unlock(&s->ret_mu);
		pthread_join(s->ret_thread, NULL);
	}
	store_free(s);
}
