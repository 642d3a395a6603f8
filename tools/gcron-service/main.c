/* gcron-service: the REST API, admin page and report ingest of GopherCron,
 * configured by the original's service.toml. Logs to stderr. SIGTERM or
 * SIGINT stop it cleanly (requests in progress finish first). */
#include "tool.h"

#include <signal.h>
#include <string.h>

#define NAME "gcron-service"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " NAME " -c CONFIG [--help] [--version]\n"
		"\n"
		"Serves the GopherCron REST API (/api/v1/...), the admin page\n"
		"(/admin/), the agents' report ingest (POST /api/v1/report) and\n"
		"Prometheus metrics (/metrics) on every [deploy] host address\n"
		"of CONFIG (the original's service.toml loads unchanged).\n"
		"\n"
		"  -c, --config FILE   configuration file (required)\n"
		"  -h, --help          this text\n"
		"  -V, --version       print the version\n"
		"\n"
		"SIGTERM or SIGINT stop the service cleanly.\n");
}

static void default_password_banner(void)
{
	fprintf(stderr,
		"\n"
		"##############################################################\n"
		"#  WARNING: the account \"admin\" still has the default         #\n"
		"#  password \"123456\". Anyone who can reach this service can   #\n"
		"#  log in as administrator. Change it now: admin page, user   #\n"
		"#  menu, or POST /api/v1/user/change_password.                #\n"
		"##############################################################\n"
		"\n");
}

int main(int argc, char **argv)
{
	const char *config = NULL;
	gc_service_config cfg;
	gc_service_options opts = GC_SERVICE_OPTIONS_INIT;
	gc_service *svc = NULL;
	gc_error err = {0, ""};
	sigset_t set;
	int level, sig = 0, in_use = 0, rc;

	for (int i = 1; i < argc; i++) {
		if (tool_flag(argv[i], "-h", "--help")) {
			usage(stdout);
			return 0;
		}
		if (tool_flag(argv[i], "-V", "--version")) {
			tool_print_version(NAME);
			return 0;
		}
		if (tool_flag(argv[i], "-c", "--config")) {
			if (i + 1 >= argc) {
				tool_err(NAME, "%s needs a file name", argv[i]);
				return 2;
			}
			config = argv[++i];
			continue;
		}
		if (strncmp(argv[i], "--config=", 9) == 0) {
			config = argv[i] + 9;
			continue;
		}
		tool_err(NAME, "unknown argument \"%s\" (see --help)", argv[i]);
		return 2;
	}
	if (!config) {
		tool_err(NAME, "missing -c CONFIG (see --help)");
		return 2;
	}

	if (gc_service_config_init(&cfg, GC_SERVICE_CONFIG_VERSION) != 0) {
		tool_err(NAME, "out of memory");
		return 1;
	}
	level = GC_LOG_INFO;
	if (gc_service_config_load(&cfg, config, gc_log_stderr, &level,
				   &err) != 0) {
		tool_err(NAME, "%s", err.msg);
		gc_service_config_clear(&cfg);
		return 1;
	}
	level = cfg.log_level;

	/* A peer closing its socket must not end the process; the stop
	 * signals are taken synchronously by sigwait below, so they are
	 * blocked before any thread starts (threads inherit the mask). */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	opts.log = gc_log_stderr;
	opts.log_payload = &level;
	opts.log_level = level;
	rc = gc_service_new(&svc, &cfg, &opts, &err);
	gc_service_config_clear(&cfg);
	if (rc == 0)
		rc = gc_service_start(svc, &err);
	if (rc != 0) {
		tool_err(NAME, "%s", err.msg);
		gc_service_free(svc);
		return 1;
	}
	if (gc_service_default_password_in_use(&in_use, svc, NULL) == 0 &&
	    in_use)
		default_password_banner();

	while (sigwait(&set, &sig) != 0)
		;
	fprintf(stderr, NAME ": %s received, stopping\n",
		sig == SIGTERM ? "SIGTERM" : "SIGINT");
	gc_service_free(svc);
	return 0;
}
