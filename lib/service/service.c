/* gc_service: the lifecycle of a service (create from a configuration,
 * start, stop, free) and its log. The request path is in http.c (civetweb),
 * dispatch.c and the handlers (module map: svc.h). */
#include "svc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define DEFAULT_MAX_BODY (1u << 20)
#define DEFAULT_MAX_REPORT_BODY (16u << 20)

void gc__svc_log(const gc_service *svc, int level, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	if (!svc->opts.log || level > svc->opts.log_level)
		return;
	va_start(ap, fmt);
	gc__log_vformat(line, sizeof(line), fmt, ap);
	va_end(ap);
	svc->opts.log(level, line, svc->opts.log_payload);
}

GC__OPTVER(static, service_optver, "service", GC_SERVICE_OPTIONS_VERSION,
	   sizeof(gc_service_options));

GC_EXTERN int gc_service_options_init(gc_service_options *opts,
				      unsigned version)
{
	return gc__options_init(opts, version,
			       &service_optver);
}

/* -------------------------------------------------------------- lifecycle */

static char **copy_strv(char *const *v, size_t n)
{
	char **out = calloc(n + 1, sizeof(*out));
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		out[i] = gc__strdup(v[i] ? v[i] : "");
		if (!out[i]) {
			for (size_t j = 0; j < i; j++)
				free(out[j]);
			free(out);
			return NULL;
		}
	}
	return out;
}

static char *dup_opt(const char *s)
{
	return s && *s ? gc__strdup(s) : NULL;
}

/* The strings of the configuration the service keeps. */
static int copy_strings(gc_service *svc, const gc_service_config *cfg,
			gc_error *err)
{
	const char *prefix = cfg->etcd.prefix ? cfg->etcd.prefix : "/gopher_cron";
	size_t plen = strlen(prefix);
	while (plen > 1 && prefix[plen - 1] == '/')
		plen--;
	svc->prefix = gc__strndup(prefix, plen);
	svc->hosts = copy_strv(cfg->deploy.hosts, cfg->deploy.n_hosts);
	svc->n_hosts = cfg->deploy.n_hosts;
	svc->etcd_endpoints =
		copy_strv(cfg->etcd.endpoints, cfg->etcd.n_endpoints);
	svc->n_etcd_endpoints = cfg->etcd.n_endpoints;
	svc->report_token = dup_opt(cfg->report.token);
	svc->view_path = dup_opt(cfg->deploy.view_path);
	svc->etcd_username = dup_opt(cfg->etcd.username);
	svc->etcd_password = dup_opt(cfg->etcd.password);
	svc->etcd_ca = dup_opt(cfg->etcd.ca_file);
	svc->etcd_cert = dup_opt(cfg->etcd.cert_file);
	svc->etcd_key = dup_opt(cfg->etcd.key_file);
	if (!svc->prefix || !svc->hosts || !svc->etcd_endpoints ||
	    (cfg->report.token && *cfg->report.token && !svc->report_token) ||
	    (cfg->deploy.view_path && *cfg->deploy.view_path &&
	     !svc->view_path))
		return gc__seterr(err, GC_ENOMEM, "service: out of memory");
	if (svc->n_hosts == 0)
		return gc__seterr(err, GC_EINVAL,
				  "service: [deploy] host lists no address");
	if (svc->n_hosts > GC__MAX_LISTENERS)
		return gc__seterr(err, GC_EINVAL,
				  "service: [deploy] host lists %zu addresses "
				  "(at most %d)",
				  svc->n_hosts, GC__MAX_LISTENERS);
	return 0;
}

/* The [jwt] secret, or a random one (with a warning) when none is set. */
static int jwt_secret(gc_service *svc, const gc_service_config *cfg,
		      gc_error *err)
{
	if (cfg->jwt.secret && *cfg->jwt.secret &&
	    strlen(cfg->jwt.secret) < GC__JWT_SECRET_MIN)
		/* The config loader says this with file and line; this is
		 * for embedders that fill the struct themselves. */
		return gc__seterr(err, GC_EINVAL,
				  "service: key \"jwt.secret\": too short (%zu "
				  "bytes, at least %d): login tokens could be "
				  "forged by guessing it; set a random one, "
				  "e.g. `head -c 32 /dev/urandom | base64`",
				  strlen(cfg->jwt.secret), GC__JWT_SECRET_MIN);
	if (cfg->jwt.secret && *cfg->jwt.secret) {
		svc->jwt_secret_len = strlen(cfg->jwt.secret);
		svc->jwt_secret = (unsigned char *)gc__strdup(cfg->jwt.secret);
		if (!svc->jwt_secret)
			return gc__seterr(err, GC_ENOMEM,
					  "service: out of memory");
		return 0;
	}
	/* Tokens then only work with this process, until it stops. */
	svc->jwt_secret_len = 32;
	svc->jwt_secret = malloc(32);
	if (!svc->jwt_secret)
		return gc__seterr(err, GC_ENOMEM, "service: out of memory");
	if (getrandom(svc->jwt_secret, 32, 0) != 32)
		return gc__seterr_errno(err, GC_ESYS, errno,
					"service: getrandom");
	gc__svc_log(svc, GC_LOG_WARNING,
		"[jwt] secret is not set: using a random secret, so "
		"tokens stop working when this process restarts and "
		"are not accepted by other service instances");
	return 0;
}

/* The numbers of the configuration, defaults for those not set. */
static void copy_settings(gc_service *svc, const gc_service_config *cfg)
{
	svc->output_limit = cfg->log.output_limit > 0
				    ? (size_t)cfg->log.output_limit
				    : (size_t)1 << 20;
	svc->jwt_lifetime_s = (cfg->jwt.exp_hours > 0 ? cfg->jwt.exp_hours : 168) *
			      3600;
	svc->op_timeout_ms =
		(cfg->deploy.timeout_s > 0 ? cfg->deploy.timeout_s : 5) * 1000;
	svc->threads = (int)(cfg->http.threads > 0 && cfg->http.threads <= 4096
				     ? cfg->http.threads
				     : GC__HTTP_THREADS);
	svc->header_timeout_ms = cfg->http.header_timeout_ms > 0
					 ? cfg->http.header_timeout_ms
					 : GC__HTTP_HEADER_TIMEOUT_MS;
	svc->keep_alive_timeout_ms = cfg->http.keep_alive_timeout_ms > 0
					     ? cfg->http.keep_alive_timeout_ms
					     : GC__HTTP_KEEP_ALIVE_TIMEOUT_MS;
	svc->request_timeout_ms = cfg->http.request_timeout_ms > 0
					  ? cfg->http.request_timeout_ms
					  : GC__HTTP_REQUEST_TIMEOUT_MS;
	svc->max_idle_per_address =
		cfg->http.max_idle_per_address > 0
			? (int)(cfg->http.max_idle_per_address < 65536
					? cfg->http.max_idle_per_address
					: 65536)
			: 0;
}

static int open_store(gc_service *svc, const gc_service_config *cfg,
		      gc_error *err)
{
	gc_store_options so;
	int rc;
	gc_store_options_init(&so, GC_STORE_OPTIONS_VERSION);
	gc_store_options_from_config(&so, &cfg->mysql, cfg->sqlite.path,
				     &cfg->deploy);
	so.pool_size = svc->opts.num_threads < 8 ? svc->opts.num_threads : 8;
	so.retention_days = (int)cfg->log.retention_days;
	so.log = svc->opts.log;
	so.log_payload = svc->opts.log_payload;
	rc = gc_store_open(&svc->store, &so, err);
	if (rc)
		gc__err_prefix(err, "service");
	return rc;
}

/* Metrics (labelled by the route table's paths) and the login throttle. */
static int counters_new(gc_service *svc, gc_error *err)
{
	svc->route_labels = calloc(gc__n_routes + 1, sizeof(char *));
	if (!svc->route_labels)
		return gc__seterr(err, GC_ENOMEM, "service: out of memory");
	for (size_t i = 0; i < gc__n_routes; i++)
		svc->route_labels[i] = gc__routes[i].path;
	if (gc__metrics_new(&svc->metrics, gc__n_routes,
			    svc->route_labels) != 0 ||
	    gc__throttle_new(&svc->throttle, svc->opts.login_max_failures,
			     svc->opts.login_max_delay_s) != 0)
		return gc__seterr(err, GC_ENOMEM, "service: out of memory");
	return 0;
}

GC_EXTERN int gc_service_new(gc_service **out, const gc_service_config *cfg,
			     const gc_service_options *opts, gc_error *err)
{
	gc_service *svc;
	int rc;

	*out = NULL;
	if (!cfg)
		return gc__seterr(err, GC_EINVAL, "service: no configuration");
	svc = calloc(1, sizeof(*svc));
	if (!svc)
		return gc__seterr(err, GC_ENOMEM, "service: out of memory");
	pthread_mutex_init(&svc->run_mu, NULL);
	gc__etcd_pool_init(&svc->etcd);
	if ((rc = gc__options_copy(&svc->opts, opts, &service_optver, err))) {
		gc_service_free(svc);
		return rc;
	}
	if (svc->opts.max_body == 0)
		svc->opts.max_body = DEFAULT_MAX_BODY;
	if (svc->opts.log_level <= 0)
		svc->opts.log_level = GC_LOG_INFO;
	if (svc->opts.max_report_body == 0)
		svc->opts.max_report_body = DEFAULT_MAX_REPORT_BODY;
	atomic_init(&svc->seq, 0);
	if (getrandom(&svc->instance, sizeof(svc->instance), 0) !=
	    (ssize_t)sizeof(svc->instance))
		svc->instance = (uint64_t)getpid();

	rc = copy_strings(svc, cfg, err);
	if (rc == 0)
		rc = jwt_secret(svc, cfg, err);
	if (rc)
		goto fail;
	copy_settings(svc, cfg);
	if (svc->opts.num_threads <= 0)
		svc->opts.num_threads = svc->threads;
	rc = counters_new(svc, err);
	if (rc)
		goto fail;
	gc__etcd_pool_set_options(&svc->etcd, svc, cfg->etcd.dial_timeout_ms);
	rc = gc__cache_new(&svc->cache, svc, err);
	if (rc)
		goto fail;
	rc = open_store(svc, cfg, err);
	if (rc)
		goto fail;
	*out = svc;
	return 0;
fail:
	gc_service_free(svc);
	return rc;
}

/* What an operator should know once the service listens. */
static void log_started(gc_service *svc)
{
	int in_use = 0;
	for (size_t i = 0; i < svc->n_ports && i < svc->n_hosts; i++)
		gc__svc_log(svc, GC_LOG_NOTICE,
			"service listening on %s (port %d), store %s",
			svc->hosts[i], svc->ports[i],
			gc_store_describe(svc->store));
	if (!svc->report_token)
		gc__svc_log(svc, GC_LOG_WARNING,
			"[report] token is not set: POST /api/v1/report accepts "
			"results from anyone who can reach this port");
	if (gc_store_default_password_in_use(&in_use, svc->store, NULL) == 0 &&
	    in_use)
		gc__svc_log(svc, GC_LOG_WARNING,
			"SECURITY: the account \"admin\" still has the default "
			"password 123456 -- log in and change it now "
			"(POST /api/v1/user/change_password)");
}

GC_EXTERN int gc_service_start(gc_service *svc, gc_error *err)
{
	int rc = 0;
	if (!svc)
		return gc__seterr(err, GC_EINVAL, "service: NULL");
	pthread_mutex_lock(&svc->run_mu);
	if (!svc->mg) {
		rc = gc__cache_start(svc->cache, err);
		if (rc == 0)
			rc = gc__http_start(svc, err);
		if (rc == 0)
			log_started(svc);
	}
	pthread_mutex_unlock(&svc->run_mu);
	return rc;
}

GC_EXTERN size_t gc_service_listener_count(const gc_service *svc)
{
	return svc && svc->mg ? svc->n_ports : 0;
}

GC_EXTERN int gc_service_port(const gc_service *svc, size_t i)
{
	if (!svc || !svc->mg || i >= svc->n_ports)
		return -1;
	return svc->ports[i];
}

GC_EXTERN int gc_service_default_password_in_use(int *in_use, gc_service *svc,
						 gc_error *err)
{
	if (!svc || !in_use)
		return gc__seterr(err, GC_EINVAL, "service: NULL argument");
	return gc_store_default_password_in_use(in_use, svc->store, err);
}

GC_EXTERN void gc_service_stop(gc_service *svc)
{
	if (!svc)
		return;
	pthread_mutex_lock(&svc->run_mu);
	if (svc->mg) {
		gc__http_stop(svc);
		gc__cache_stop(svc->cache);
		gc__svc_log(svc, GC_LOG_NOTICE, "service stopped");
	}
	pthread_mutex_unlock(&svc->run_mu);
}

GC_EXTERN void gc_service_free(gc_service *svc)
{
	if (!svc)
		return;
	gc_service_stop(svc);
	gc_store_free(svc->store);
	gc__cache_free(svc->cache);
	gc__etcd_pool_destroy(&svc->etcd);
	gc__metrics_free(svc->metrics);
	gc__throttle_free(svc->throttle);
	free(svc->route_labels);
	free(svc->prefix);
	if (svc->jwt_secret) {
		explicit_bzero(svc->jwt_secret, svc->jwt_secret_len);
		free(svc->jwt_secret);
	}
	gc__secret_free(svc->report_token);
	free(svc->view_path);
	gc__strv_free(svc->hosts, svc->n_hosts);
	gc__strv_free(svc->etcd_endpoints, svc->n_etcd_endpoints);
	free(svc->etcd_username);
	gc__secret_free(svc->etcd_password);
	free(svc->etcd_ca);
	free(svc->etcd_cert);
	free(svc->etcd_key);
	pthread_mutex_destroy(&svc->run_mu);
	free(svc);
}
