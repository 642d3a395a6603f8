/* The store handle's life: options, open (schema, default admin, the
 * dummy password hash), the retention thread, close. The top of the
 * store: it calls every layer below (store_internal.h), none calls it. */
#include "store_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------- options, accessors */

GC__OPTVER(static, store_optver, "store", GC_STORE_OPTIONS_VERSION,
	   sizeof(gc_store_options));

GC_EXTERN int gc_store_options_init(gc_store_options *opts, unsigned version)
{
	return gc__options_init(opts, version, &store_optver);
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

int gc_store_default_admin_created(const gc_store *s)
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
	pthread_mutex_destroy(&s->default_mu);
	free(s->default_checked);
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

/* ---------------------------------------------------------- retention */

static void *retention_main(void *arg)
{
	gc_store *s = arg;
	while (!gc__store_stopping(s)) {
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
		gc__mono_deadline(&dl, (int64_t)s->retention_interval_s * 1000);
		pthread_mutex_lock(&s->ret_mu);
		while (!s->ret_stop &&
		       pthread_cond_timedwait(&s->ret_cv, &s->ret_mu, &dl) !=
			       ETIMEDOUT)
			;
		pthread_mutex_unlock(&s->ret_mu);
	}
	return NULL;
}

/* --------------------------------------------------------- open/close */

static gc_store *store_alloc(void)
{
	gc_store *s = calloc(1, sizeof(*s));
	pthread_condattr_t ca;
	if (!s)
		return NULL;
	pthread_mutex_init(&s->pool_mu, NULL);
	pthread_cond_init(&s->pool_cv, NULL);
	pthread_mutex_init(&s->write_mu, NULL);
	pthread_mutex_init(&s->default_mu, NULL);
	pthread_mutex_init(&s->ret_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->ret_cv, &ca);
	pthread_condattr_destroy(&ca);
	return s;
}

/* The backend's driver, its connection settings and s->desc. */
static int configure_backend(gc_store *s, const gc_store_options *opts,
			     gc_error *err)
{
	int rc;
	if (s->backend == GC_STORE_SQLITE) {
		s->drv = &gc__sqlite_driver;
		if (copy_opt(&s->sqlite_path, opts->sqlite_path,
			     "gophercron.db"))
			return gc__seterr(err, GC_ENOMEM, "out of memory");
		s->desc = gc__sprintf("sqlite %s", s->sqlite_path);
	} else {
		s->drv = &gc__mysql_driver;
		rc = parse_service(s, opts->mysql_service, err);
		if (rc)
			return rc;
		if (copy_opt(&s->mysql_user, opts->mysql_username, NULL) ||
		    copy_opt(&s->mysql_password, opts->mysql_password, "") ||
		    copy_opt(&s->mysql_database, opts->mysql_database,
			     "gophercron"))
			return gc__seterr(err, GC_ENOMEM, "out of memory");
		s->desc = gc__sprintf("mysql %s/%s", opts->mysql_service,
				      s->mysql_database);
	}
	if (!s->desc)
		return gc__seterr(err, GC_ENOMEM, "out of memory");
	return 0;
}

/* Copy the options (defaults for zero fields) into a new store. */
static int configure(gc_store *s, const gc_store_options *opts, gc_error *err)
{
	s->backend = opts->backend;
	s->busy_timeout_ms =
	    opts->busy_timeout_ms > 0 ? opts->busy_timeout_ms : 5000;
	s->connect_timeout_s =
	    opts->connect_timeout_s > 0 ? opts->connect_timeout_s : 5;
	s->retention_days = opts->retention_days > 0 ? opts->retention_days : 0;
	s->retention_interval_s =
	    opts->retention_interval_s != 0 ? opts->retention_interval_s : 3600;
	s->log = opts->log;
	s->log_payload = opts->log_payload;
	const char *cp = opts->crypt_prefix && *opts->crypt_prefix
			     ? opts->crypt_prefix
			     : "$y$";
	if (strcmp(cp, "$y$") != 0 && strcmp(cp, "$6$") != 0)
		return gc__seterr(err, GC_EINVAL,
				  "store: crypt_prefix \"%.16s\" unsupported "
				  "(use \"$y$\" or \"$6$\")",
				  cp);
	memcpy(s->crypt_prefix, cp, strlen(cp) + 1);
	s->nslots = opts->pool_size > 0 ? opts->pool_size : 4;
	if (s->nslots > 64)
		s->nslots = 64;
	s->slots = calloc((size_t)s->nslots, sizeof(*s->slots));
	if (!s->slots)
		return gc__seterr(err, GC_ENOMEM, "out of memory");
	return configure_backend(s, opts, err);
}

/* The database made ready: schema created or migrated (on its own
 * connection, with no read timeout for long ALTERs), the default admin
 * when there is no user, the dummy hash for unknown accounts. */
static int prepare(gc_store *s, gc_error *err)
{
	gc__dbconn *mc = NULL;
	int rc = s->drv->connect(s, true, &mc, err);
	if (rc) {
		gc__err_prefix(err, "%s", s->desc);
		return rc;
	}
	gc__tx t = {s, mc, 0};
	rc = gc__store_migrate(&t, err);
	s->drv->disconnect(mc);
	if (rc) {
		gc__err_prefix(err, "schema");
		gc__err_prefix(err, "%s", s->desc);
		return rc;
	}
	rc = gc__store_ensure_admin(s, err);
	if (rc == 0)
		rc = gc__store_make_dummy_hash(s, err);
	return rc;
}

int gc_store_open(gc_store **out, const gc_store_options *opts, gc_error *err)
{
	gc_store_options copy;
	gc_store *s;
	int rc;
	if (!out)
		return gc__seterr(err, GC_EINVAL, "store: out is NULL");
	*out = NULL;
	if ((rc = gc__options_copy(&copy, opts, &store_optver, err)))
		return rc;
	opts = &copy;
	if (opts->backend != GC_STORE_SQLITE && opts->backend != GC_STORE_MYSQL)
		return gc__seterr(err, GC_EINVAL, "store: unknown backend %d",
				  opts->backend);
	if (!(s = store_alloc()))
		return gc__seterr(err, GC_ENOMEM, "out of memory");
	if ((rc = configure(s, opts, err)) || (rc = prepare(s, err))) {
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

void gc_store_free(gc_store *s)
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
