/* libgophercron: configuration files of the agent and the service.
 *
 * The files use the TOML subset of GopherCron 1.10's own config files, which
 * load unchanged: `[section]` headers, `key = value` with double-quoted
 * strings (escapes \" \\ \n \t \r \uXXXX), 'literal strings', integers,
 * booleans, one-level arrays such as ["a", "b"] and [1, 2] (which may span
 * lines), full-line and inline `#` comments, and top-level keys before the
 * first section. Anything else is an error naming file, line and key, e.g.
 *   client.toml:14: key "etcd.projects": expected an array of integers like [1,2]
 * An unknown key or section is an error too, with the closest known name:
 *   client.toml:3: unknown key "projcets" (did you mean "projects"?)
 * except the keys of GopherCron 1.10's files (its service and client read
 * one shared set: log_level, report_addr, [deploy] environment, host,
 * timeout, view_path, [etcd] service, username, password, dialtimeout,
 * prefix, projects, shell, [mysql] service, username, password, database,
 * [jwt] secret, exp), which load in either kind of file; those this kind
 * does not use are reported at GC_LOG_NOTICE and ignored. A key set twice (including `projects` or
 * `shell` set both at top level and in [etcd]) is an error, and so is a
 * top-level key placed inside a section (e.g. `claim_ttl` appended under
 * [mysql]): it would otherwise be silently lost. Every key, its
 * unit and its default is listed in README.md, "Configuration reference".
 *
 * Ownership: every string and array in these structs is allocated with
 * malloc() and owned by the struct; gc_*_config_clear() frees them with
 * free(). A caller may replace a field with its own malloc()ed value (free
 * the old one first). Optional strings are NULL when absent or set to "".
 *
 * Loading: `cfg` must be initialised (gc_*_config_init) or zero-filled. On
 * success its previous contents are freed and replaced by the defaults with
 * the file applied on top; on failure `cfg` is left untouched, so a reload
 * can keep the running configuration when the new file is bad.
 * No function here keeps state between calls; secrets are never logged.
 *
 * Versions: both structs are allocated by the caller and start with
 * `unsigned version`, which gc_*_config_init sets to GC_*_CONFIG_VERSION.
 * A later version only appends fields. Load and clear touch the fields of
 * the struct's own version only, so a struct initialised by an older
 * version of the library (a program built against older headers) stays
 * valid; a zero-filled struct counts as version 1. Load refuses
 * (GC_EINVAL) a version newer than the library's; clear frees the fields
 * the library knows of it. Clear keeps `version`.
 */
#ifndef GOPHERCRON_CONFIG_H
#define GOPHERCRON_CONFIG_H

#include <gophercron/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* [etcd] */
typedef struct gc_etcd_config {
	/* `service`: normalised to URLs, "127.0.0.1:2379" becomes
	 * "http://127.0.0.1:2379" ("https://" when ca_file or cert_file is
	 * set); no trailing '/'. Default ["http://127.0.0.1:2379"]. */
	char **endpoints;
	size_t n_endpoints;
	char *username;           /* NULL = no authentication */
	char *password;           /* NULL = none; never log it */
	int64_t dial_timeout_ms;  /* `dialtimeout`, milliseconds, default 5000 */
	char *prefix;             /* default "/gopher_cron", no trailing '/' */
	char *ca_file;            /* optional TLS: CA bundle (PEM) */
	char *cert_file;          /* optional TLS client certificate (PEM) */
	char *key_file;           /* optional TLS client key (PEM) */
} gc_etcd_config;

/* [mysql]: `service` empty means "no MySQL" (service: use SQLite). */
typedef struct gc_mysql_config {
	char *service;   /* "host:port" as written, NULL = not configured */
	char *host;      /* derived from service ("[::1]:3306" -> "::1") */
	int port;        /* derived from service, default 3306 */
	char *username;
	char *password;  /* never log it */
	char *database;
} gc_mysql_config;

/* [deploy] */
typedef struct gc_deploy_config {
	char *environment;   /* "dev" or "release" (free text), default "release" */
	/* service only: listen addresses "host:port", default ["0.0.0.0:6306"]
	 * (always NULL/0 in an agent config) */
	char **hosts;
	size_t n_hosts;
	int64_t timeout_s;   /* database/etcd operation timeout, default 5 */
	char *view_path;     /* service only: admin page directory; NULL =
			      * the page embedded in the binary */
} gc_deploy_config;

#define GC_AGENT_CONFIG_VERSION 2

typedef struct gc_agent_config {
	unsigned version;       /* GC_AGENT_CONFIG_VERSION (see "Versions") */
	int log_level;          /* GC_LOG_*, `log_level`, default GC_LOG_INFO */
	char *report_addr;      /* results URL; NULL = write to the SQL store */
	char *report_token;     /* sent as "Authorization: Bearer ..." */
	char *client_ip;        /* identity registered and reported; default:
				 * first non-loopback IPv4, else "127.0.0.1" */
	char *spool_dir;        /* undelivered results; default
				 * "/var/lib/gophercron/spool" for root, else
				 * "$XDG_STATE_HOME/gophercron/spool" or
				 * "$HOME/.local/state/gophercron/spool" */
	int64_t output_limit;   /* bytes of captured output, default 1 MiB */
	int64_t kill_grace_ms;  /* SIGTERM -> SIGKILL, default 2000 */
	int64_t claim_ttl_s;    /* claim lease TTL, seconds, default 60 */
	int64_t *projects;      /* project IDs (> 0, no duplicates) */
	size_t n_projects;
	char *shell;            /* default "/bin/bash" if executable, else "/bin/sh" */
	gc_deploy_config deploy;
	gc_etcd_config etcd;
	gc_mysql_config mysql;
	struct {
		char *path;     /* direct SQLite sink; NULL = none */
	} sqlite;
	/* Version 2: [agent] */
	struct {
		/* `max_clock_offset`: the agent claims nothing while its
		 * wall clock is further than this from etcd's (or etcd's
		 * clock is unknown); milliseconds, default 1000. */
		int64_t max_clock_offset_ms;
		/* `claim_ahead`: ticks are claimed this long before they
		 * are due and started at their instant; milliseconds,
		 * default 500, 0 to 5000. */
		int64_t claim_ahead_ms;
	} agent;
} gc_agent_config;

#define GC_SERVICE_CONFIG_VERSION 1

typedef struct gc_service_config {
	unsigned version;       /* GC_SERVICE_CONFIG_VERSION */
	int log_level;          /* GC_LOG_*, default GC_LOG_INFO */
	gc_deploy_config deploy;
	gc_etcd_config etcd;
	gc_mysql_config mysql;
	struct {
		char *path;     /* default "gophercron.db" (used without MySQL) */
	} sqlite;
	struct {
		char *secret;   /* HS256 secret; NULL = not configured */
		int64_t exp_hours; /* token lifetime, default 168 */
	} jwt;
	struct {
		char *token;    /* token agents present to POST /api/v1/report;
				 * NULL = ingest not authenticated */
	} report;
	struct {
		int64_t retention_days; /* delete task logs older than this;
					 * 0 (default) = keep forever */
		int64_t output_limit;   /* bytes of a run's output kept in its
					 * log row, default 1 MiB (the agents'
					 * default), 256 B..64 MiB */
	} log;
	/* [http]: connection handling (README, "Configuration reference";
	 * sizing in docs/OPERATIONS.md, "Security"). Zero or negative
	 * threads and timeouts mean the defaults. */
	struct {
		int64_t threads;               /* worker threads, default 256 */
		int64_t header_timeout_ms;     /* first request header, 10000 */
		int64_t keep_alive_timeout_ms; /* idle between requests, 5000 */
		int64_t request_timeout_ms;    /* body/response stall, 30000 */
		int64_t max_idle_per_address;  /* waiting connections per
						* address, default 16; 0 = no
						* cap */
	} http;
} gc_service_config;

/* Fill with defaults (client_ip is detected, spool_dir derived from the
 * environment) and set `version` to GC_AGENT_CONFIG_VERSION, the version
 * the caller is built for: only the fields of that version are written.
 * Returns 0, GC_EINVAL (a version this library does not know) or
 * GC_ENOMEM; on failure `cfg` needs no clear. */
GC_EXTERN int gc_agent_config_init(gc_agent_config *cfg, unsigned version);
/* Load a file (opened O_CLOEXEC). `log` (may be NULL) receives warnings
 * about unknown keys. */
GC_EXTERN int gc_agent_config_load(gc_agent_config *cfg, const char *path,
				   gc_log_fn log, void *payload,
				   gc_error *err);
/* Same from text in memory; `name` is used in messages (NULL: "<string>"). */
GC_EXTERN int gc_agent_config_load_string(gc_agent_config *cfg,
					  const char *text, const char *name,
					  gc_log_fn log, void *payload,
					  gc_error *err);
/* Free everything and zero the struct but its `version`. Accepts NULL
 * and zero-filled. */
GC_EXTERN void gc_agent_config_clear(gc_agent_config *cfg);

GC_EXTERN int gc_service_config_init(gc_service_config *cfg, unsigned version);
GC_EXTERN int gc_service_config_load(gc_service_config *cfg,
				     const char *path, gc_log_fn log,
				     void *payload, gc_error *err);
GC_EXTERN int gc_service_config_load_string(gc_service_config *cfg,
					    const char *text,
					    const char *name, gc_log_fn log,
					    void *payload, gc_error *err);
GC_EXTERN void gc_service_config_clear(gc_service_config *cfg);

/* The first non-loopback, up IPv4 address of this host (getifaddrs), else
 * "127.0.0.1". `buf` needs 16 bytes (INET_ADDRSTRLEN). Returns 0, or
 * GC_EINVAL when `len` is too small. */
GC_EXTERN int gc_config_default_client_ip(char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
