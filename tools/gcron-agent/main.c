/* gcron-agent: the GopherCron agent daemon.
 *
 *   gcron-agent -c client.toml [--log-level LEVEL]
 *
 * Loads the agent configuration, runs the agent until SIGTERM/SIGINT
 * (graceful stop: running tasks finish within the stop grace, results are
 * handed over, leases revoked), re-reads the project list on SIGHUP (as on
 * the `reload_config` command). Log lines go to stderr. */
#include "tool.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const NAME = "gcron-agent";

/* The signal handlers need the agent; the tool (not the library) may keep
 * this one global. */
static gc_agent *volatile g_agent;

static void on_stop_signal(int sig)
{
	(void)sig;
	gc_agent_stop(g_agent); /* async-signal-safe */
}

static void on_hup(int sig)
{
	(void)sig;
	gc_agent_reload_request(g_agent); /* async-signal-safe */
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s -c CONFIG [--log-level LEVEL] [--stop-grace MS]\n"
		"\n"
		"Runs a GopherCron agent for the projects listed in CONFIG\n"
		"(the client configuration file of GopherCron 1.10 loads\n"
		"unchanged).\n"
		"\n"
		"  -c, --config FILE    configuration file (required)\n"
		"  --log-level LEVEL    error|warning|notice|info|debug\n"
		"                       (default: log_level from the file)\n"
		"  --stop-grace MS      how long running tasks may finish after\n"
		"                       SIGTERM before they are killed (30000)\n"
		"  -V, --version        print the version\n"
		"  -h, --help           this text\n"
		"\n"
		"Signals: SIGTERM/SIGINT stop gracefully, SIGHUP re-reads the\n"
		"project list.\n",
		NAME);
}

/* Until a result sink is configured, results are logged. */
static void on_result(const gc_result *r, void *payload)
{
	int level = *(int *)payload;
	if (level < GC_LOG_DEBUG)
		return;
	char *json = gc_result_to_json(r);
	if (json) {
		gc_log_stderr(GC_LOG_DEBUG, json, payload);
		gc_free(json);
	}
}

static void on_warning(const gc_warning *w, void *payload)
{
	char *json = gc_warning_to_json(w);
	if (json) {
		char line[2048];
		snprintf(line, sizeof(line), "warning %s", json);
		gc_log_stderr(GC_LOG_WARNING, line, payload);
		gc_free(json);
	}
}

static int install(int sig, void (*fn)(int))
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	return sigaction(sig, &sa, NULL);
}

int main(int argc, char **argv)
{
	const char *config = NULL;
	int log_level = 0;
	long long stop_grace = 0;

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (tool_flag(arg, "-h", "--help")) {
			usage(stdout);
			return 0;
		}
		if (tool_flag(arg, "-V", "--version")) {
			tool_print_version(NAME);
			return 0;
		}
		if (tool_flag(arg, "-c", "--config") && i + 1 < argc) {
			config = argv[++i];
		} else if (tool_flag(arg, "--log-level", NULL) && i + 1 < argc) {
			log_level = gc_log_level_parse(argv[++i]);
			if (log_level < 0) {
				tool_err(NAME, "unknown log level \"%s\"",
					 argv[i]);
				return 2;
			}
		} else if (tool_flag(arg, "--stop-grace", NULL) && i + 1 < argc) {
			if (!tool_parse_long(argv[++i], &stop_grace) ||
			    stop_grace <= 0) {
				tool_err(NAME, "--stop-grace needs milliseconds");
				return 2;
			}
		} else {
			tool_err(NAME, "unexpected argument \"%s\" (try --help)",
				 arg);
			return 2;
		}
	}
	if (!config) {
		usage(stderr);
		return 2;
	}

	tzset(); /* cron expressions use the local time zone */
	signal(SIGPIPE, SIG_IGN);

	gc_agent_config cfg;
	gc_error err;
	static int level = GC_LOG_INFO;
	if (gc_agent_config_init(&cfg, GC_AGENT_CONFIG_VERSION)) {
		tool_err(NAME, "out of memory");
		return 1;
	}
	if (gc_agent_config_load(&cfg, config, gc_log_stderr, &level, &err)) {
		tool_err(NAME, "%s", err.msg);
		gc_agent_config_clear(&cfg);
		return 1;
	}
	level = log_level ? log_level : cfg.log_level;
	if (cfg.n_projects == 0) {
		/* It would register nothing and run nothing, looking healthy
		 * while doing so. */
		tool_err(NAME,
			 "%s: no projects: this agent would serve nothing; "
			 "set `projects = [1, 2]` (project ids) at the top "
			 "of the file",
			 config);
		gc_agent_config_clear(&cfg);
		return 1;
	}

	if (geteuid() == 0)
		/* Commands run as the agent's user: as root, whoever may
		 * edit a project's tasks owns the host. */
		gc_log_stderr(GC_LOG_WARNING,
			      "running as root: every task's command runs as "
			      "root too; run the agent as an unprivileged user "
			      "(the systemd unit uses \"gophercron\")",
			      &level);

	/* Results and warnings go through the reporter's spool to
	 * report_addr or the SQL store; without either they are logged. */
	gc_reporter *reporter = NULL;
	int rrc = gc_reporter_new_from_config(&reporter, &cfg, gc_log_stderr,
					      &level, &err);
	if (rrc && rrc != GC_ENOTFOUND) {
		tool_err(NAME, "%s", err.msg);
		gc_agent_config_clear(&cfg);
		return 1;
	}
	if (rrc)
		gc_log_stderr(GC_LOG_WARNING, "no result sink configured "
			      "(report_addr, [mysql] or [sqlite]): results "
			      "are only logged", &level);

	gc_agent_options opts = GC_AGENT_OPTIONS_INIT;
	opts.on_start = reporter ? gc_reporter_agent_started : NULL;
	opts.on_result = reporter ? gc_reporter_agent_result : on_result;
	opts.on_warning = reporter ? gc_reporter_agent_warning : on_warning;
	opts.payload = reporter ? (void *)reporter : (void *)&level;
	opts.log = gc_log_stderr;
	opts.log_payload = &level;
	opts.log_level = level;
	opts.config_path = config;
	opts.stop_grace_ms = stop_grace;

	gc_agent *agent;
	if (gc_agent_new(&agent, &cfg, &opts, &err)) {
		tool_err(NAME, "%s", err.msg);
		gc_agent_config_clear(&cfg);
		gc_reporter_free(reporter);
		return 1;
	}
	gc_agent_config_clear(&cfg);
	g_agent = agent;
	if (install(SIGTERM, on_stop_signal) || install(SIGINT, on_stop_signal) ||
	    install(SIGHUP, on_hup)) {
		tool_err(NAME, "installing signal handlers: %s",
			 strerror(errno));
		gc_agent_free(agent);
		gc_reporter_free(reporter);
		return 1;
	}

	int rc = gc_agent_run(agent, &err);
	if (rc)
		tool_err(NAME, "%s", err.msg);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_IGN);
	g_agent = NULL;
	gc_agent_free(agent);
	/* Deliver what the last runs produced; what the sink does not take
	 * in time waits in the spool for the next start. */
	if (reporter && gc_reporter_flush(reporter, 5000))
		gc_log_stderr(GC_LOG_WARNING, "undelivered results stay in the "
			      "spool for the next start", &level);
	gc_reporter_free(reporter);
	return rc ? 1 : 0;
}
