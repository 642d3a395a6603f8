/* Defaults, init and clear of gc_agent_config and gc_service_config, and
 * their versions (config.h, "Versions"). */
#include "config_internal.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ------------------------------------------------------------ defaults */

GC_EXTERN int gc_config_default_client_ip(char *buf, size_t len)
{
	struct ifaddrs *ifs = NULL;
	bool found = false;
	if (!buf || len < INET_ADDRSTRLEN)
		return GC_EINVAL;
	if (getifaddrs(&ifs) == 0) {
		for (struct ifaddrs *i = ifs; i && !found; i = i->ifa_next) {
			const struct sockaddr_in *sin;
			uint32_t a;
			if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET ||
			    !(i->ifa_flags & IFF_UP) ||
			    (i->ifa_flags & IFF_LOOPBACK))
				continue;
			sin = (const struct sockaddr_in *)(const void *)
				  i->ifa_addr;
			a = ntohl(sin->sin_addr.s_addr);
			/* loopback and link-local are not reachable
			 * identities */
			if ((a >> 24) == 127 || (a >> 16) == 0xA9FE || a == 0)
				continue;
			found = inet_ntop(AF_INET, &sin->sin_addr, buf,
					  (socklen_t)len) != NULL;
		}
		freeifaddrs(ifs);
	}
	if (!found)
		snprintf(buf, len, "127.0.0.1");
	return 0;
}

static char *default_spool_dir(void)
{
	const char *state = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	if (geteuid() == 0)
		return gc__strdup("/var/lib/gophercron/spool");
	if (state && state[0] == '/')
		return gc__sprintf("%s/gophercron/spool", state);
	if (home && home[0] == '/')
		return gc__sprintf("%s/.local/state/gophercron/spool", home);
	return gc__sprintf("/tmp/gophercron-%u/spool", (unsigned)geteuid());
}

static int etcd_defaults(gc_etcd_config *e)
{
	e->dial_timeout_ms = 5000;
	e->prefix = gc__strdup("/gopher_cron");
	e->endpoints = calloc(1, sizeof(*e->endpoints));
	if (!e->prefix || !e->endpoints)
		return GC_ENOMEM;
	e->endpoints[0] = gc__strdup("http://127.0.0.1:2379");
	if (!e->endpoints[0])
		return GC_ENOMEM;
	e->n_endpoints = 1;
	return 0;
}

/* ------------------------------------------------------------ release */

static void etcd_release(gc_etcd_config *e)
{
	gc__strv_free(e->endpoints, e->n_endpoints);
	free(e->username);
	gc__secret_free(e->password);
	free(e->prefix);
	free(e->ca_file);
	free(e->cert_file);
	free(e->key_file);
}

static void mysql_release(gc_mysql_config *m)
{
	free(m->service);
	free(m->host);
	free(m->username);
	gc__secret_free(m->password);
	free(m->database);
}

static void deploy_release(gc_deploy_config *d)
{
	free(d->environment);
	gc__strv_free(d->hosts, d->n_hosts);
	free(d->view_path);
}

static void agent_release(void *p)
{
	gc_agent_config *cfg = p;
	free(cfg->report_addr);
	gc__secret_free(cfg->report_token);
	free(cfg->client_ip);
	free(cfg->spool_dir);
	free(cfg->projects);
	free(cfg->shell);
	deploy_release(&cfg->deploy);
	etcd_release(&cfg->etcd);
	mysql_release(&cfg->mysql);
	free(cfg->sqlite.path);
}

static void service_release(void *p)
{
	gc_service_config *cfg = p;
	deploy_release(&cfg->deploy);
	etcd_release(&cfg->etcd);
	mysql_release(&cfg->mysql);
	free(cfg->sqlite.path);
	gc__secret_free(cfg->jwt.secret);
	gc__secret_free(cfg->report.token);
}

/* ------------------------------------------------------------ init */

/* The defaults of a whole struct of the current version. */
static int agent_defaults(gc_agent_config *cfg)
{
	char ip[INET_ADDRSTRLEN];
	memset(cfg, 0, sizeof(*cfg));
	cfg->version = GC_AGENT_CONFIG_VERSION;
	cfg->log_level = GC_LOG_INFO;
	cfg->output_limit = 1024 * 1024;
	cfg->kill_grace_ms = 2000;
	cfg->claim_ttl_s = 60;
	cfg->agent.max_clock_offset_ms = 1000;
	cfg->agent.claim_ahead_ms = 500;
	cfg->deploy.timeout_s = 5;
	cfg->mysql.port = 3306;
	gc_config_default_client_ip(ip, sizeof(ip));
	cfg->client_ip = gc__strdup(ip);
	cfg->spool_dir = default_spool_dir();
	cfg->shell = gc__strdup(access("/bin/bash", X_OK) == 0 ? "/bin/bash"
							       : "/bin/sh");
	cfg->deploy.environment = gc__strdup("release");
	if (!cfg->client_ip || !cfg->spool_dir || !cfg->shell ||
	    !cfg->deploy.environment || etcd_defaults(&cfg->etcd) < 0) {
		gc_agent_config_clear(cfg);
		return GC_ENOMEM;
	}
	return 0;
}

static int service_defaults(gc_service_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->version = GC_SERVICE_CONFIG_VERSION;
	cfg->log_level = GC_LOG_INFO;
	cfg->deploy.timeout_s = 5;
	cfg->mysql.port = 3306;
	cfg->jwt.exp_hours = 168;
	cfg->log.output_limit = 1024 * 1024;
	cfg->http.threads = GC__HTTP_THREADS;
	cfg->http.header_timeout_ms = GC__HTTP_HEADER_TIMEOUT_MS;
	cfg->http.keep_alive_timeout_ms = GC__HTTP_KEEP_ALIVE_TIMEOUT_MS;
	cfg->http.request_timeout_ms = GC__HTTP_REQUEST_TIMEOUT_MS;
	cfg->http.max_idle_per_address = GC__HTTP_MAX_IDLE_PER_ADDRESS;
	cfg->deploy.environment = gc__strdup("release");
	cfg->deploy.hosts = calloc(1, sizeof(*cfg->deploy.hosts));
	if (cfg->deploy.hosts) {
		cfg->deploy.hosts[0] = gc__strdup("0.0.0.0:6306");
		cfg->deploy.n_hosts = cfg->deploy.hosts[0] ? 1 : 0;
	}
	cfg->sqlite.path = gc__strdup("gophercron.db");
	if (!cfg->deploy.environment || !cfg->deploy.n_hosts ||
	    !cfg->sqlite.path || etcd_defaults(&cfg->etcd) < 0) {
		gc_service_config_clear(cfg);
		return GC_ENOMEM;
	}
	return 0;
}

static int agent_init(void *cfg)
{
	return agent_defaults(cfg);
}

static int service_init(void *cfg)
{
	return service_defaults(cfg);
}

/* ------------------------------------------------------------ versions */

/* The size of each version, by version: fields are only appended. When
 * version 2 appends a field, version 1's size becomes the offsetof() of
 * that field and sizeof() moves to the new entry. */
static const size_t agent_sizes[] = {0, offsetof(gc_agent_config, agent),
				     sizeof(gc_agent_config)};
static const size_t service_sizes[] = {0, sizeof(gc_service_config)};

const gc__cfg_kind gc__cfg_agent_kind = {
    .type = "gc_agent_config",
    .schema = &gc__cfg_agent_schema,
    .version = GC_AGENT_CONFIG_VERSION,
    .sizes = agent_sizes,
    .n_sizes = GC__ARRAY_LEN(agent_sizes),
    .init = agent_init,
    .release = agent_release,
};

const gc__cfg_kind gc__cfg_service_kind = {
    .type = "gc_service_config",
    .schema = &gc__cfg_service_schema,
    .version = GC_SERVICE_CONFIG_VERSION,
    .sizes = service_sizes,
    .n_sizes = GC__ARRAY_LEN(service_sizes),
    .init = service_init,
    .release = service_release,
};

size_t gc__cfg_version_size(const gc__cfg_kind *k, unsigned version)
{
	if (version == 0)
		version = 1;
	return version < k->n_sizes ? k->sizes[version] : 0;
}

/* Free what the first `size` bytes of `cfg` hold and zero them. */
static void release_prefix(const gc__cfg_kind *k, void *cfg, size_t size)
{
	gc__cfg_any whole;
	memset(&whole, 0, sizeof(whole));
	memcpy(&whole, cfg, size);
	k->release(&whole);
	memset(cfg, 0, size);
}

void gc__cfg_clear(const gc__cfg_kind *k, void *cfg)
{
	unsigned version = *(unsigned *)cfg;
	size_t size = gc__cfg_version_size(k, version);
	/* a newer version: the part this library knows */
	release_prefix(k, cfg, size ? size : k->sizes[k->n_sizes - 1]);
	*(unsigned *)cfg = version;
}

void gc__cfg_move(const gc__cfg_kind *k, void *cfg, size_t size, void *loaded)
{
	unsigned version = *(unsigned *)cfg;
	release_prefix(k, cfg, size);
	memcpy(cfg, loaded, size);
	*(unsigned *)cfg = version ? version : 1;
	/* what the caller's version has no room for */
	memset(loaded, 0, size);
	k->release(loaded);
}

GC_EXTERN void gc_agent_config_clear(gc_agent_config *cfg)
{
	if (cfg)
		gc__cfg_clear(&gc__cfg_agent_kind, cfg);
}

GC_EXTERN void gc_service_config_clear(gc_service_config *cfg)
{
	if (cfg)
		gc__cfg_clear(&gc__cfg_service_kind, cfg);
}

/* Init for a caller of `version`: the defaults of the whole struct, of
 * which the caller gets the fields its version has (its struct may be
 * smaller than ours). */
static int config_init(const gc__cfg_kind *k, void *cfg, unsigned version)
{
	gc__cfg_any tmp;
	size_t size = version ? gc__cfg_version_size(k, version) : 0;
	int rc;
	if (!cfg || !size)
		return GC_EINVAL;
	if ((rc = k->init(&tmp)) != 0)
		return rc;
	memcpy(cfg, &tmp, size);
	memcpy(cfg, &version, sizeof(version));
	/* what the caller's version has no room for */
	memset(&tmp, 0, size);
	k->release(&tmp);
	return 0;
}

GC_EXTERN int gc_agent_config_init(gc_agent_config *cfg, unsigned version)
{
	return config_init(&gc__cfg_agent_kind, cfg, version);
}

GC_EXTERN int gc_service_config_init(gc_service_config *cfg, unsigned version)
{
	return config_init(&gc__cfg_service_kind, cfg,
			   version);
}
