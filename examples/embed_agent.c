/* embed_agent: a host program that embeds the GopherCron agent.
 *
 * It serves one or more projects like gcron-agent does, and registers two
 * in-process handlers, so that a task whose command is
 *
 *     @handler:greet some words
 *     @handler:countdown 5
 *
 * runs a C function of this program (on the agent's handler threads) with
 * the same claim, timeout, kill and report semantics as a shell command.
 *
 *   embed_agent -c client.toml               # a GopherCron client config
 *   embed_agent --endpoints http://127.0.0.1:2379 --project 1
 *   embed_agent ... --demo 3                 # put a demo task, stop after
 *                                            # 3 results, delete the task
 *   embed_agent ... --poll                   # drive the agent from this
 *                                            # program's own poll() loop
 *
 * Build against an installed library:
 *   cc embed_agent.c $(pkg-config --cflags --libs libgophercron) -o embed_agent
 */
#include <gophercron.h>

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static gc_agent *volatile g_agent; /* for the signal handler */

static void on_signal(int sig)
{
	(void)sig;
	gc_agent_stop(g_agent); /* async-signal-safe */
}

/* ------------------------------------------------------------ handlers */

/* "@handler:greet WORDS": says hello; fails on request. */
static int greet(gc_agent_job *job, const char *args, void *payload)
{
	const char *who = *args ? args : "world";
	(void)payload;
	gc_agent_job_printf(job, "hello, %s (task %s, planned %lld, token %s)\n",
			    who, gc_agent_job_task(job)->task_id,
			    (long long)gc_agent_job_plan_time(job),
			    gc_agent_job_fencing_token(job));
	if (strcmp(who, "fail") == 0) {
		gc_agent_job_fail(job, "asked to fail");
		return 1;
	}
	return 0;
}

/* "@handler:countdown N": one line per 100 ms; stops early when the run is
 * cancelled (timeout, kill request, agent stopping). */
static int countdown(gc_agent_job *job, const char *args, void *payload)
{
	long n = strtol(args, NULL, 10);
	(void)payload;
	for (; n > 0; n--) {
		gc_agent_job_printf(job, "%ld\n", n);
		if (gc_agent_job_sleep(job, 100))
			return 2; /* cancelled: the agent reports why */
	}
	gc_agent_job_printf(job, "liftoff\n");
	return 0;
}

/* ------------------------------------------------------------ callbacks */

typedef struct host {
	int want;  /* --demo N: stop after N results (0 = run until signal) */
	int seen;
} host;

static void on_result(const gc_result *r, void *payload)
{
	host *h = payload;
	/* Runs on the agent thread: keep it short (a real host would copy
	 * the result and queue it). */
	printf("result task=%s plan=%lld error=\"%s\" output=\"%.*s\"\n",
	       r->task.task_id, (long long)(r->plan_time_ns / 1000000000LL),
	       r->error ? r->error : "", (int)strcspn(r->output ? r->output : "", "\n"),
	       r->output ? r->output : "");
	fflush(stdout);
	if (h->want && ++h->seen >= h->want)
		gc_agent_stop(g_agent);
}

static void on_warning(const gc_warning *w, void *payload)
{
	(void)payload;
	printf("warning type=%s task=%s: %s\n", w->type, w->task_name,
	       w->data);
	fflush(stdout);
}

/* ------------------------------------------------------------ demo task */

static int demo_task(const gc_agent_config *cfg, int put, gc_error *err)
{
	gc_etcd_options o;
	gc_etcd *c;
	int rc;
	/* the [etcd] section as the agent itself reads it */
	gc_etcd_options_init(&o, GC_ETCD_OPTIONS_VERSION);
	gc_etcd_options_from_config(&o, &cfg->etcd);
	if ((rc = gc_etcd_new(&c, &o, err)))
		return rc;
	char *key = gc_key_task(cfg->etcd.prefix, cfg->projects[0], "embed-demo");
	if (!key) {
		gc_etcd_free(c);
		return GC_ENOMEM;
	}
	if (put) {
		gc_task t = GC_TASK_INIT;
		t.task_id = (char *)"embed-demo";
		t.name = (char *)"embedded greeting";
		t.project_id = cfg->projects[0];
		t.command = (char *)"@handler:greet embedded world";
		t.cron = (char *)"* * * * * * *"; /* every second */
		t.remark = (char *)"";
		t.client_ip = (char *)"";
		t.status = 1;
		t.timeout = 5;
		t.create_time = (int64_t)time(NULL);
		char *json = gc_task_to_json(&t);
		rc = json ? gc_etcd_put(NULL, c, key, json, strlen(json), 0, 0,
					err)
			  : GC_ENOMEM;
		gc_free(json);
	} else {
		rc = gc_etcd_delete(NULL, NULL, c, key, 0, err);
	}
	gc_free(key);
	gc_etcd_free(c);
	return rc;
}

/* --------------------------------------------------------------- main */

static int set_string(char **field, const char *value)
{
	char *copy = strdup(value);
	if (!copy)
		return -1;
	free(*field);
	*field = copy;
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: embed_agent [-c CONFIG] [--endpoints URL[,URL...]] "
		"[--prefix P]\n"
		"                   [--project ID] [--client-ip IP] [--demo N] "
		"[--poll]\n");
}

int main(int argc, char **argv)
{
	const char *config = NULL, *endpoints = NULL, *prefix = NULL;
	const char *client_ip = NULL;
	long long project = 0;
	int poll_mode = 0, log_level = GC_LOG_NOTICE;
	host h = {0, 0};

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--poll") == 0) {
			poll_mode = 1;
		} else if (strcmp(a, "-v") == 0) {
			log_level = GC_LOG_DEBUG;
		} else if (v && strcmp(a, "-c") == 0) {
			config = v, i++;
		} else if (v && strcmp(a, "--endpoints") == 0) {
			endpoints = v, i++;
		} else if (v && strcmp(a, "--prefix") == 0) {
			prefix = v, i++;
		} else if (v && strcmp(a, "--project") == 0) {
			project = strtoll(v, NULL, 10), i++;
		} else if (v && strcmp(a, "--client-ip") == 0) {
			client_ip = v, i++;
		} else if (v && strcmp(a, "--demo") == 0) {
			h.want = atoi(v), i++;
		} else {
			usage();
			return 2;
		}
	}

	tzset(); /* cron expressions are evaluated in local time */
	signal(SIGPIPE, SIG_IGN);

	/* 1. Configuration: from a file, or filled in by the program. */
	gc_agent_config cfg;
	gc_error err;
	if (gc_agent_config_init(&cfg, GC_AGENT_CONFIG_VERSION))
		return 1;
	if (config && gc_agent_config_load(&cfg, config, gc_log_stderr,
					   &log_level, &err)) {
		fprintf(stderr, "embed_agent: %s\n", err.msg);
		return 1;
	}
	if (endpoints) {
		/* the struct owns malloc'd strings: replace them */
		for (size_t i = 0; i < cfg.etcd.n_endpoints; i++)
			free(cfg.etcd.endpoints[i]);
		free(cfg.etcd.endpoints);
		cfg.etcd.n_endpoints = 0;
		cfg.etcd.endpoints = calloc(8, sizeof(char *));
		char *list = strdup(endpoints), *save = NULL;
		for (char *t = strtok_r(list, ",", &save);
		     t && cfg.etcd.n_endpoints < 8; t = strtok_r(NULL, ",", &save))
			cfg.etcd.endpoints[cfg.etcd.n_endpoints++] = strdup(t);
		free(list);
	}
	if ((prefix && set_string(&cfg.etcd.prefix, prefix)) ||
	    (client_ip && set_string(&cfg.client_ip, client_ip)))
		return 1;
	if (project > 0) {
		free(cfg.projects);
		cfg.projects = malloc(sizeof(int64_t));
		cfg.projects[0] = project;
		cfg.n_projects = 1;
	}
	if (cfg.n_projects == 0) {
		fprintf(stderr, "embed_agent: no project (use -c or --project)\n");
		return 2;
	}

	/* 2. The agent, with callbacks and handlers. */
	gc_agent_options opts = GC_AGENT_OPTIONS_INIT;
	opts.on_result = on_result;
	opts.on_warning = on_warning;
	opts.payload = &h;
	opts.log = gc_log_stderr;
	opts.log_payload = &log_level;
	opts.log_level = log_level;
	opts.config_path = config; /* reload_config re-reads it */
	gc_agent *agent;
	if (gc_agent_new(&agent, &cfg, &opts, &err) ||
	    gc_agent_handler_register(agent, "greet", greet, NULL, &err) ||
	    gc_agent_handler_register(agent, "countdown", countdown, NULL,
				      &err)) {
		fprintf(stderr, "embed_agent: %s\n", err.msg);
		return 1;
	}
	g_agent = agent;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	if (h.want && demo_task(&cfg, 1, &err)) {
		fprintf(stderr, "embed_agent: demo task: %s\n", err.msg);
		gc_agent_free(agent);
		return 1;
	}

	/* 3. Drive it: on its own thread, or from our poll loop. */
	int rc = 0;
	if (poll_mode) {
		for (;;) {
			int done = gc_agent_step(agent, &err);
			if (done < 0) {
				rc = done;
				break;
			}
			if (done == 1)
				break;
			/* ... the host's own descriptors would go here ... */
			struct pollfd pfd = {gc_agent_fd(agent), POLLIN, 0};
			poll(&pfd, 1, gc_agent_timeout_ms(agent));
		}
	} else {
		if ((rc = gc_agent_start(agent, &err)) == 0)
			rc = gc_agent_join(agent, &err); /* until stopped */
	}
	if (rc)
		fprintf(stderr, "embed_agent: %s\n", err.msg);
	if (h.want)
		demo_task(&cfg, 0, &err);
	g_agent = NULL;
	gc_agent_free(agent);
	gc_agent_config_clear(&cfg);
	printf("stopped after %d result(s)\n", h.seen);
	return rc ? 1 : 0;
}
