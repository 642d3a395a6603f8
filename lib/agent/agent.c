/* The agent core: construction, the event loop step, the three ways of
 * driving it, graceful stop, reload and stats. The step decides the order
 * of the work; every part does its own (agent_internal.h has the map). */
#include "agent/agent_internal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define DEFAULT_LATE_GRACE_MS	10000
#define DEFAULT_STOP_GRACE_MS	30000
#define DEFAULT_SESSION_TTL_S	10
#define DEFAULT_ETCD_THREADS	4
#define DEFAULT_HANDLER_THREADS 2
#define CLOSE_TIMEOUT_MS	10000

/* Tags of the epoll set (the step serves every source each time). */
enum {
	EV_WAKEUP = 1,
	EV_TIMER,
	EV_CLOCK,
	EV_EXEC,
	EV_WATCHER,
	EV_WORKERS,
	EV_HANDLERS
};

GC_EXTERN void gc_agent_stats_get(gc_agent *agent, gc_agent_stats *out)
{
	gc__astats_get(&agent->stats, out);
}

GC_EXTERN int gc_agent_clock_get(gc_agent *agent, gc_agent_clock *out)
{
	if (!agent || !out || out->version != GC_AGENT_CLOCK_VERSION)
		return GC_EINVAL;
	gc__clock_estimate e;
	gc__atime_clock(&agent->time, &e);
	memset(out, 0, sizeof(*out));
	out->version = GC_AGENT_CLOCK_VERSION;
	out->known = e.state != GC__CLOCK_UNKNOWN;
	out->ok = gc__clock_usable(&e);
	out->offset_ns = e.offset_ns;
	out->error_ns = e.error_ns;
	out->rtt_ns = e.rtt_ns;
	if (!out->ok)
		snprintf(out->reason, sizeof(out->reason), "%s", e.reason);
	return 0;
}

GC__OPTVER(static, agent_optver, "agent", GC_AGENT_OPTIONS_VERSION,
	   sizeof(gc_agent_options));

GC_EXTERN int gc_agent_options_init(gc_agent_options *o, unsigned version)
{
	return gc__options_init(o, version, &agent_optver);
}

/* ------------------------------------------------------- construction */

static int check_args(const gc_agent_config *cfg, const gc_agent_options *opts,
		      gc_error *err)
{
	gc_agent_options copy;
	int rc = gc__options_copy(&copy, opts, &agent_optver, err);
	if (rc)
		return rc;
	if (!cfg->etcd.n_endpoints)
		return gc__seterr(err, GC_EINVAL,
				  "agent: [etcd] service lists no endpoint");
	if (!cfg->client_ip || !cfg->client_ip[0] ||
	    strchr(cfg->client_ip, '/'))
		return gc__seterr(err, GC_EINVAL,
				  "agent: client_ip \"%s\" is not usable in "
				  "etcd keys",
				  cfg->client_ip ? cfg->client_ip : "");
	return 0;
}

/* [agent]: the clock settings (defaults for a version 1 struct). The
 * claim-ahead window stays below the late grace, so that a claim made
 * ahead is still within it when its tick is due. */
static void conf_clock(gc__aconf *c, const gc_agent_config *cfg)
{
	int64_t off = 1000, ahead = 500;
	if (cfg->version >= 2) {
		off = cfg->agent.max_clock_offset_ms > 0
			  ? cfg->agent.max_clock_offset_ms
			  : off;
		ahead = cfg->agent.claim_ahead_ms >= 0
			    ? cfg->agent.claim_ahead_ms
			    : ahead;
	}
	if (ahead > 5000)
		ahead = 5000;
	if (ahead > c->opts.late_grace_ms / 2)
		ahead = c->opts.late_grace_ms / 2;
	c->max_clock_offset_ns = off * 1000000LL;
	c->claim_ahead_ns = ahead * 1000000LL;
}

/* The options and the numbers of the configuration, defaults applied. */
static int conf_settings(gc__aconf *c, const gc_agent_config *cfg,
			 const gc_agent_options *opts, gc_error *err)
{
	/* check_args has refused an unknown version */
	gc__options_copy(&c->opts, opts, &agent_optver, err);
	gc_agent_options *o = &c->opts;
	if (o->late_grace_ms <= 0)
		o->late_grace_ms = DEFAULT_LATE_GRACE_MS;
	if (o->stop_grace_ms <= 0)
		o->stop_grace_ms = DEFAULT_STOP_GRACE_MS;
	if (o->session_ttl_s <= 0)
		o->session_ttl_s = DEFAULT_SESSION_TTL_S;
	if (o->etcd_threads <= 0)
		o->etcd_threads = DEFAULT_ETCD_THREADS;
	if (o->handler_threads <= 0)
		o->handler_threads = DEFAULT_HANDLER_THREADS;
	if (o->log_level <= 0)
		o->log_level =
		    cfg->log_level > 0 ? cfg->log_level : GC_LOG_INFO;
	o->config_path = NULL; /* our copy lives in c->config_path */
	c->cron_flags = o->cron_utc ? GC_CRON_UTC : GC_CRON_LOCAL;
	c->claim_ttl_s = cfg->claim_ttl_s > 0 ? cfg->claim_ttl_s : 60;
	c->window_s = c->claim_ttl_s / 2 > 0 ? c->claim_ttl_s / 2 : 1;
	c->output_limit = cfg->output_limit >= GC_EXEC_MIN_OUTPUT_LIMIT
			      ? cfg->output_limit
			      : GC_EXEC_DEFAULT_OUTPUT_LIMIT;
	c->kill_grace_ms = cfg->kill_grace_ms > 0
			       ? cfg->kill_grace_ms
			       : GC_EXEC_DEFAULT_KILL_GRACE_MS;
	c->dial_timeout_ms = cfg->etcd.dial_timeout_ms;
	conf_clock(c, cfg);
	if (o->late_grace_ms >= c->claim_ttl_s * 1000)
		return gc__seterr(
		    err, GC_EINVAL,
		    "agent: late grace (%lld ms) must be shorter "
		    "than claim_ttl (%lld s), or a late agent could "
		    "run a tick again after its claim expired",
		    (long long)o->late_grace_ms, (long long)c->claim_ttl_s);
	return 0;
}

static char *dup_opt(const char *s)
{
	return s ? gc__strdup(s) : NULL;
}

/* The strings of the configuration: 0 or GC_ENOMEM. */
static int conf_strings(gc__aconf *c, const gc_agent_config *cfg,
			const gc_agent_options *opts)
{
	const gc_etcd_config *e = &cfg->etcd;
	const char *path = opts ? opts->config_path : NULL;
	c->prefix = gc__strdup(e->prefix ? e->prefix : "/gopher_cron");
	c->client_ip = gc__strdup(cfg->client_ip);
	c->shell = gc__strdup(cfg->shell ? cfg->shell : GC_EXEC_DEFAULT_SHELL);
	c->config_path = dup_opt(path);
	c->etcd_user = dup_opt(e->username);
	c->etcd_pass = dup_opt(e->password);
	c->tls_ca = dup_opt(e->ca_file);
	c->tls_cert = dup_opt(e->cert_file);
	c->tls_key = dup_opt(e->key_file);
	c->endpoints = calloc(e->n_endpoints, sizeof(char *));
	if (!c->prefix || !c->client_ip || !c->shell || !c->endpoints ||
	    (path && !c->config_path) || (e->username && !c->etcd_user) ||
	    (e->password && !c->etcd_pass) || (e->ca_file && !c->tls_ca) ||
	    (e->cert_file && !c->tls_cert) || (e->key_file && !c->tls_key))
		return GC_ENOMEM;
	for (size_t i = 0; i < e->n_endpoints; i++) {
		if (!(c->endpoints[i] = gc__strdup(e->endpoints[i])))
			return GC_ENOMEM;
		c->n_endpoints++;
	}
	return 0;
}

static void conf_clear(gc__aconf *c)
{
	gc__strv_free(c->endpoints, c->n_endpoints);
	free(c->prefix);
	free(c->client_ip);
	free(c->shell);
	free(c->config_path);
	free(c->etcd_user);
	gc__secret_free(c->etcd_pass);
	free(c->tls_ca);
	free(c->tls_cert);
	free(c->tls_key);
}

/* The options of every etcd client of the agent: the [etcd] section (our
 * copy of it) read by gc_etcd_options_from_config. */
static void etcd_options(const gc__aconf *c, gc_etcd_options *o)
{
	const gc_etcd_config e = {.endpoints = c->endpoints,
				  .n_endpoints = c->n_endpoints,
				  .username = c->etcd_user,
				  .password = c->etcd_pass,
				  .dial_timeout_ms = c->dial_timeout_ms,
				  .ca_file = c->tls_ca,
				  .cert_file = c->tls_cert,
				  .key_file = c->tls_key};
	gc_etcd_options_init(o, GC_ETCD_OPTIONS_VERSION);
	gc_etcd_options_from_config(o, &e);
	o->max_response_bytes = GC__AGENT_ETCD_MAX_RESPONSE;
	o->log = c->opts.log;
	o->log_payload = c->opts.log_payload;
}

static int epoll_add(int epfd, int fd, uint32_t tag)
{
	struct epoll_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.u32 = tag;
	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

static void session_changed(gc_agent *a, int granted);

/* Every part of the agent empty, ready to be released at any point. */
static void parts_init(gc_agent *a)
{
	a->loop.epfd = a->loop.evfd = -1;
	a->time.timerfd = a->time.clockfd = -1;
	atomic_init(&a->loop.stop_requested, 0);
	atomic_init(&a->loop.reload_requested, 0);
	gc__astats_init(&a->stats);
	gc__leases_init(&a->leases, 0, 0, &a->log);
	gc__tasks_init(&a->tasks, 0, 0);
	a->session.on_change = session_changed;
}

/* The parts that read the configuration. */
static void parts_configure(gc_agent *a)
{
	const gc__aconf *c = &a->conf;
	a->log.fn = c->opts.log;
	a->log.payload = c->opts.log_payload;
	a->log.level = c->opts.log_level;
	a->log.on_warning = c->opts.on_warning;
	a->log.warning_payload = c->opts.payload;
	a->log.client_ip = c->client_ip;
	a->leases.claim_ttl_s = c->claim_ttl_s;
	a->leases.window_s = c->window_s;
	a->tasks.grace_ms = c->opts.late_grace_ms;
	a->tasks.cron_flags = c->cron_flags;
	a->claims.env.leases = &a->leases;
	a->claims.env.stopping = &a->loop.stop_requested;
	a->claims.env.time = &a->time;
	a->claims.env.log = &a->log;
}

/* The epoll set with the wakeup eventfd, the timers and the executor. */
static int loop_open(gc_agent *a, gc_error *err)
{
	int rc = gc__atime_open(&a->time, err);
	if (rc)
		return rc;
	a->loop.epfd = epoll_create1(EPOLL_CLOEXEC);
	a->loop.evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (a->loop.epfd < 0 || a->loop.evfd < 0 ||
	    epoll_add(a->loop.epfd, a->loop.evfd, EV_WAKEUP) ||
	    epoll_add(a->loop.epfd, a->time.timerfd, EV_TIMER) ||
	    epoll_add(a->loop.epfd, a->time.clockfd, EV_CLOCK))
		return gc__seterr_errno(err, GC_ESYS, errno,
					"agent: creating event descriptors");
	gc_exec_options eo = GC_EXEC_OPTIONS_INIT;
	eo.on_done = gc__exec_done;
	eo.payload = a;
	eo.log = a->conf.opts.log;
	eo.log_payload = a->conf.opts.log_payload;
	rc = gc_exec_new(&a->runs.exec, &eo, err);
	if (rc)
		return rc;
	if (epoll_add(a->loop.epfd, gc_exec_fd(a->runs.exec), EV_EXEC))
		return gc__seterr_errno(err, GC_ESYS, errno,
					"agent: watching the executor");
	return 0;
}

/* The projects to serve: 0 or GC_ENOMEM. */
static int want_copy(gc_agent *a, const int64_t *ids, size_t count)
{
	int64_t *v = NULL;
	if (count) {
		v = calloc(count, sizeof(*v));
		if (!v)
			return GC_ENOMEM;
		memcpy(v, ids, count * sizeof(*v));
	}
	free(a->projects.want);
	a->projects.want = v;
	a->projects.n_want = count;
	return 0;
}

static void agent_release(gc_agent *a);

GC_EXTERN int gc_agent_new(gc_agent **out, const gc_agent_config *cfg,
			   const gc_agent_options *opts, gc_error *err)
{
	if (!out || !cfg)
		return gc__seterr(err, GC_EINVAL,
				  "agent: out and cfg are required");
	*out = NULL;
	int rc = check_args(cfg, opts, err);
	if (rc)
		return rc;
	gc_agent *a = calloc(1, sizeof(*a));
	if (!a)
		return gc__seterr(err, GC_ENOMEM, "agent: out of memory");
	parts_init(a);
	rc = conf_settings(&a->conf, cfg, opts, err);
	if (!rc && conf_strings(&a->conf, cfg, opts))
		rc = gc__seterr(err, GC_ENOMEM, "agent: out of memory");
	if (!rc)
		parts_configure(a);
	if (!rc && want_copy(a, cfg->projects, cfg->n_projects))
		rc = gc__seterr(err, GC_ENOMEM, "agent: out of memory");
	if (!rc)
		rc = loop_open(a, err);
	if (rc) {
		agent_release(a);
		return rc;
	}
	*out = a;
	return 0;
}

static void keeper_lost(int64_t lease, int code, const char *reason,
			void *payload)
{
	(void)code;
	(void)reason;
	gc_agent *a = payload;
	/* Keeper thread: hand it to the agent thread. */
	gc__leases_report_lost(&a->leases, lease);
	gc_agent_wakeup(a);
}

static void clock_changed(void *payload)
{
	gc_agent_wakeup(payload); /* clock thread: the agent re-reads it */
}

/* The clock thread with an etcd handle of its own (its probes go out at
 * their instant, not after another request on a shared connection). */
static int start_clock(gc_agent *a, const gc_etcd_options *eo, gc_error *err)
{
	gc_etcd *etcd = NULL;
	int rc = gc_etcd_new(&etcd, eo, err);
	if (rc)
		return rc;
	rc = gc__atime_start(&a->time, etcd, a->conf.max_clock_offset_ns,
			     &a->log, clock_changed, a, err);
	if (rc && !a->time.clock.etcd)
		gc_etcd_free(etcd);
	return rc;
}

/* The etcd client of the agent thread (watcher, keeper), the etcd
 * workers, the handler threads and the lease keeper. */
static int start_threads(gc_agent *a, gc_error *err)
{
	gc_etcd_options eo;
	etcd_options(&a->conf, &eo);
	int rc = gc_etcd_new(&a->etcd.client, &eo, err);
	if (!rc)
		rc = start_clock(a, &eo, err);
	if (!rc)
		rc = gc__pool_new_etcd(&a->etcd.pool, &eo,
				       a->conf.opts.etcd_threads, err);
	if (!rc &&
	    epoll_add(a->loop.epfd, gc__pool_fd(a->etcd.pool), EV_WORKERS))
		rc = gc__seterr_errno(err, GC_ESYS, errno,
				      "agent: watching the etcd workers");
	if (!rc)
		rc = gc__hrunner_new(&a->runs.hrunner,
				     a->conf.opts.handler_threads,
				     gc__handler_done, a, err);
	if (!rc && epoll_add(a->loop.epfd, gc__hrunner_fd(a->runs.hrunner),
			     EV_HANDLERS))
		rc = gc__seterr_errno(err, GC_ESYS, errno,
				      "agent: watching the handler threads");
	if (!rc) {
		gc_etcd_keeper_options ko = GC_ETCD_KEEPER_OPTIONS_INIT;
		ko.own_thread = 1;
		ko.on_lost = keeper_lost;
		ko.payload = a;
		rc = gc_etcd_lease_keeper_new(&a->session.keeper,
					      a->etcd.client, &ko, err);
	}
	return rc;
}

static int agent_begin(gc_agent *a, gc_error *err)
{
	int rc = start_threads(a, err);
	if (!rc)
		rc = gc_etcd_watcher_new(&a->etcd.watcher, a->etcd.client, err);
	if (rc)
		return rc;
	if (epoll_add(a->loop.epfd, gc_etcd_watcher_fd(a->etcd.watcher),
		      EV_WATCHER))
		return gc__seterr_errno(err, GC_ESYS, errno,
					"agent: watching the etcd watcher");
	rc = gc__command_watch_start(a, err);
	if (rc)
		return rc;
	a->state = GC__AGENT_RUNNING;
	gc__alog_msg(&a->log, GC_LOG_INFO,
		     "agent: started client_ip=%s projects=%zu prefix=%s "
		     "claim_ttl=%llds grace=%lldms claim_ahead=%lldms "
		     "max_clock_offset=%lldms",
		     a->conf.client_ip, a->projects.n_want, a->conf.prefix,
		     (long long)a->conf.claim_ttl_s,
		     (long long)a->conf.opts.late_grace_ms,
		     (long long)(a->conf.claim_ahead_ns / 1000000),
		     (long long)(a->conf.max_clock_offset_ns / 1000000));
	gc__session_begin(a);
	return gc__projects_apply(a);
}

/* session.on_change: what hangs on the session lease follows it. */
static void session_changed(gc_agent *a, int granted)
{
	gc__projects_session(a, granted);
	if (granted)
		gc__runs_reassert_status(a);
}

/* ----------------------------------------------------------- time */

/* Wake for the first tick claim_ahead before it is due. */
static void rearm(gc_agent *a)
{
	int64_t due = a->state == GC__AGENT_RUNNING
			  ? gc__tasks_first_due(&a->tasks)
			  : GC__SCHED_NEVER;
	int64_t at = due == GC__SCHED_NEVER
			 ? 0
			 : due * 1000000000LL - a->conf.claim_ahead_ns;
	int64_t held = a->state == GC__AGENT_RUNNING
			   ? gc__claims_deferred_at(a)
			   : 0;
	if (held && (!at || held < at))
		at = held;
	gc__clock_estimate e;
	gc__atime_clock(&a->time, &e);
	int64_t soon = gc__atime_now_ns(&a->time) + 100000000LL;
	/* ticks kept due while the estimate is checked again: look again
	 * in 100 ms rather than at once */
	if (at && at < soon && !gc__clock_usable(&e))
		at = soon;
	gc__atime_arm(&a->time, at);
}

static void clock_stepped(gc_agent *a, int64_t step)
{
	if (a->time.became_known) {
		/* From the wall clock to cluster time: no tick before now
		 * (what the wall clock said was not to be trusted). */
		gc__alog_msg(&a->log, GC_LOG_NOTICE,
			     "agent: schedule moved to cluster time (%+.3f s "
			     "from the wall clock)",
			     (double)step / 1e9);
		gc__tasks_recompute(&a->tasks, gc__atime_now_ns(&a->time), 1);
		return;
	}
	GC__STAT(&a->stats, clock_steps, 1);
	gc__alog_msg(&a->log, GC_LOG_WARNING,
		     "agent: clock stepped %s by %.3f s; recomputing "
		     "next run times (ticks already attempted are not "
		     "repeated, ticks older than %lld ms are skipped)",
		     step > 0 ? "forward" : "backward",
		     (double)(step > 0 ? step : -step) / 1e9,
		     (long long)a->conf.opts.late_grace_ms);
	gc__tasks_recompute(&a->tasks, gc__atime_now_ns(&a->time), 0);
}

/* ------------------------------------------------------------ reload */

static void do_reload(gc_agent *a)
{
	const char *path = a->conf.config_path;
	if (a->conf.opts.on_reload) {
		a->conf.opts.on_reload(a, a->conf.opts.reload_payload);
		return;
	}
	if (!path) {
		gc__alog_msg(&a->log, GC_LOG_WARNING,
			     "agent: reload requested, but there is no "
			     "configuration file to re-read");
		return;
	}
	gc_agent_config cfg;
	gc_error err;
	if (gc_agent_config_init(&cfg, GC_AGENT_CONFIG_VERSION)) {
		gc__alog_msg(&a->log, GC_LOG_ERR,
			     "agent: reload: out of memory");
		return;
	}
	if (gc_agent_config_load(&cfg, path, a->conf.opts.log,
				 a->conf.opts.log_payload, &err))
		gc__alog_msg(&a->log, GC_LOG_ERR,
			     "agent: reload failed, keeping the running "
			     "project list: %s",
			     err.msg);
	else if (gc_agent_projects_set(a, cfg.projects, cfg.n_projects, &err))
		gc__alog_msg(&a->log, GC_LOG_ERR, "agent: reload: %s", err.msg);
	else
		gc__alog_msg(&a->log, GC_LOG_INFO,
			     "agent: configuration reloaded from %s "
			     "projects=%zu",
			     path, cfg.n_projects);
	gc_agent_config_clear(&cfg);
}

GC_EXTERN int gc_agent_projects_set(gc_agent *agent, const int64_t *ids,
				    size_t count, gc_error *err)
{
	if (!agent || (count && !ids))
		return gc__seterr(err, GC_EINVAL,
				  "agent: project list missing");
	for (size_t i = 0; i < count; i++)
		if (ids[i] <= 0)
			return gc__seterr(err, GC_EINVAL,
					  "agent: project id %lld is not "
					  "positive",
					  (long long)ids[i]);
	if (want_copy(agent, ids, count))
		return gc__seterr(err, GC_ENOMEM, "agent: out of memory");
	if (agent->state == GC__AGENT_RUNNING && gc__projects_apply(agent))
		return gc__seterr(err, GC_ENOMEM, "agent: out of memory");
	return 0;
}

/* ----------------------------------------------------------- stopping */

static void stop_threads(gc_agent *a)
{
	gc__atime_stop(&a->time);
	gc__runs_cancel_all(a);
	gc__hrunner_stop(a->runs.hrunner);
	if (a->etcd.pool)
		gc__pool_stop(a->etcd.pool, false);
	gc_etcd_lease_keeper_free(a->session.keeper);
	a->session.keeper = NULL;
}

/* Every run has ended and reported: release what this agent holds in
 * etcd. */
static void begin_closing(gc_agent *a, int64_t mono_ms)
{
	a->state = GC__AGENT_CLOSING;
	a->loop.close_deadline_ms = mono_ms + CLOSE_TIMEOUT_MS;
	gc__projects_unwatch(a);
	gc_etcd_watch_cancel(a->loop.cmd_watch);
	a->loop.cmd_watch = NULL;
	gc__session_close(a);
	rearm(a);
}

static void advance_stop(gc_agent *a, int64_t mono_ms)
{
	switch (a->state) {
	case GC__AGENT_DRAINING:
		if (a->runs.n == 0 && a->claims.in_flight == 0) {
			begin_closing(a, mono_ms);
		} else if (mono_ms >= a->loop.drain_deadline_ms) {
			gc__alog_msg(&a->log, GC_LOG_WARNING,
				     "agent: stop grace over, killing %zu "
				     "run(s)",
				     a->runs.n);
			gc__runs_cancel_all(a);
			a->state = GC__AGENT_KILLING;
		}
		return;
	case GC__AGENT_KILLING:
		if (a->runs.n == 0 && a->claims.in_flight == 0)
			begin_closing(a, mono_ms);
		return;
	case GC__AGENT_CLOSING:
		if ((gc__session_closed(a) && a->runs.status_jobs == 0) ||
		    mono_ms >= a->loop.close_deadline_ms) {
			stop_threads(a);
			a->state = GC__AGENT_STOPPED;
			gc__alog_msg(&a->log, GC_LOG_INFO, "agent: stopped");
		}
		return;
	default:
		return;
	}
}

/* ---------------------------------------------------------- driving */

static void drain_fd(int fd)
{
	uint64_t v;
	while (read(fd, &v, sizeof(v)) > 0)
		;
}

/* Stop and reload requests from other threads. */
static void take_requests(gc_agent *a, int64_t mono_ms)
{
	if (atomic_load(&a->loop.stop_requested) &&
	    a->state == GC__AGENT_RUNNING) {
		a->state = GC__AGENT_DRAINING;
		gc__claims_drop_deferred(a); /* not claimed: no new ticks */
		a->loop.drain_deadline_ms =
		    mono_ms + a->conf.opts.stop_grace_ms;
		gc__alog_msg(&a->log, GC_LOG_INFO,
			     "agent: stopping: no new ticks, waiting up to "
			     "%lld ms for %zu run(s)",
			     (long long)a->conf.opts.stop_grace_ms, a->runs.n);
	}
	if (atomic_exchange(&a->loop.reload_requested, 0) &&
	    a->state == GC__AGENT_RUNNING)
		do_reload(a);
}

/* What came back: exits of commands, etcd events and answers, handler
 * outcomes, handler timeouts. */
static void take_events(gc_agent *a, int64_t mono_ms)
{
	gc_error e2;
	int rc = gc_exec_step(a->runs.exec, &e2);
	if (rc < 0)
		gc__alog_msg(&a->log, GC_LOG_ERR, "agent: executor: %s",
			     e2.msg);
	if (a->etcd.watcher && a->state < GC__AGENT_STOPPED) {
		rc = gc_etcd_watcher_poll(a->etcd.watcher, 0, &e2);
		if (rc < 0)
			gc__alog_msg(&a->log, GC_LOG_ERR, "agent: watcher: %s",
				     e2.msg);
	}
	if (a->etcd.pool)
		gc__pool_drain(a->etcd.pool);
	if (a->runs.hrunner) {
		gc__hrunner_drain(a->runs.hrunner);
		gc__hrunner_expire(a->runs.hrunner, mono_ms);
	}
}

static void update_stats(gc_agent *a)
{
	size_t loaded = gc__projects_loaded(a);
	pthread_mutex_lock(&a->stats.mu);
	a->stats.s.tasks = gc__tasks_count(&a->tasks);
	a->stats.s.scheduled = gc__tasks_scheduled(&a->tasks);
	a->stats.s.projects_loaded = loaded;
	pthread_mutex_unlock(&a->stats.mu);
}

GC_EXTERN int gc_agent_step(gc_agent *a, gc_error *err)
{
	if (!a)
		return gc__seterr(err, GC_EINVAL, "agent: NULL agent");
	if (a->state == GC__AGENT_STOPPED)
		return 1;
	if (a->state == GC__AGENT_NEW) {
		int rc = agent_begin(a, err);
		if (rc) {
			gc__alog_msg(&a->log, GC_LOG_ERR,
				     "agent: cannot start: %s",
				     err ? err->msg : gc_strerror(rc));
			stop_threads(a);
			a->state = GC__AGENT_STOPPED;
			return rc;
		}
	}
	drain_fd(a->loop.evfd);
	int64_t mono;
	int64_t step = gc__atime_wake(&a->time, &mono);
	int64_t mono_ms = mono / 1000000;
	if (step)
		clock_stepped(a, step);

	take_requests(a, mono_ms);
	gc__session_check(a, mono_ms);
	gc__projects_tick(a, mono_ms);
	take_events(a, mono_ms);
	if (a->state == GC__AGENT_RUNNING)
		gc__claims_due(a, gc__atime_now_ns(&a->time));
	advance_stop(a, gc__mono_ms());
	if (a->state != GC__AGENT_STOPPED)
		rearm(a);
	update_stats(a);
	return a->state == GC__AGENT_STOPPED ? 1 : 0;
}

GC_EXTERN int gc_agent_timeout_ms(gc_agent *a)
{
	if (a->state == GC__AGENT_NEW || a->state == GC__AGENT_STOPPED)
		return 0;
	int64_t now = gc__mono_ms();
	int t = gc_exec_timeout_ms(a->runs.exec);
	if (a->etcd.watcher)
		t = gc__ms_min(t, gc_etcd_watcher_timeout_ms(a->etcd.watcher));
	t = gc__ms_min(t, gc__hrunner_timeout_ms(a->runs.hrunner, now));
	t = gc__ms_min(t, gc__session_timeout_ms(a, now));
	t = gc__ms_min(t, gc__projects_timeout_ms(a, now));
	if (a->state == GC__AGENT_DRAINING)
		t = gc__ms_min(t, gc__ms_until(a->loop.drain_deadline_ms, now));
	if (a->state == GC__AGENT_CLOSING)
		t = gc__ms_min(t, gc__ms_until(a->loop.close_deadline_ms, now));
	/* The timerfd wakes the fd; this only helps hosts that poll with
	 * the timeout alone. */
	if (a->state == GC__AGENT_RUNNING)
		t = gc__ms_min(t, gc__atime_timeout_ms(&a->time));
	return t;
}

GC_EXTERN int gc_agent_fd(const gc_agent *agent)
{
	return agent ? agent->loop.epfd : -1;
}

GC_EXTERN int gc_agent_run(gc_agent *a, gc_error *err)
{
	for (;;) {
		int rc = gc_agent_step(a, err);
		if (rc < 0)
			return rc;
		if (rc == 1)
			return 0;
		struct epoll_event ev[8];
		int n = epoll_wait(a->loop.epfd, ev, 8, gc_agent_timeout_ms(a));
		if (n < 0 && errno != EINTR) {
			int e = errno;
			gc_agent_stop(a);
			gc__alog_msg(&a->log, GC_LOG_ERR,
				     "agent: epoll_wait: %s", strerror(e));
		}
	}
}

static void *agent_thread(void *arg)
{
	gc_agent *a = arg;
	a->loop.thread_rc = gc_agent_run(a, &a->loop.thread_err);
	return NULL;
}

GC_EXTERN int gc_agent_start(gc_agent *agent, gc_error *err)
{
	if (!agent)
		return gc__seterr(err, GC_EINVAL, "agent: NULL agent");
	if (agent->loop.thread_started || agent->state != GC__AGENT_NEW)
		return gc__seterr(err, GC_EINVAL, "agent: already started");
	/* The agent's thread must not take the host's signals. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int e = pthread_create(&agent->loop.thread, NULL, agent_thread, agent);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e)
		return gc__seterr_errno(err, GC_ESYS, e,
					"agent: starting its thread");
	agent->loop.thread_started = 1;
	return 0;
}

GC_EXTERN int gc_agent_join(gc_agent *agent, gc_error *err)
{
	if (!agent || !agent->loop.thread_started)
		return gc__seterr(err, GC_EINVAL,
				  "agent: not running on its own thread");
	pthread_join(agent->loop.thread, NULL);
	agent->loop.thread_started = 0;
	if (agent->loop.thread_rc && err)
		*err = agent->loop.thread_err;
	return agent->loop.thread_rc;
}

GC_EXTERN void gc_agent_wakeup(gc_agent *agent)
{
	if (!agent)
		return;
	uint64_t one = 1;
	ssize_t n;
	do
		n = write(agent->loop.evfd, &one, sizeof(one));
	while (n < 0 && errno == EINTR);
}

GC_EXTERN void gc_agent_stop(gc_agent *agent)
{
	if (!agent)
		return;
	atomic_store(&agent->loop.stop_requested, 1);
	gc_agent_wakeup(agent);
}

GC_EXTERN void gc_agent_reload_request(gc_agent *agent)
{
	if (!agent)
		return;
	atomic_store(&agent->loop.reload_requested, 1);
	gc_agent_wakeup(agent);
}

/* ------------------------------------------------------------ freeing */

static void agent_release(gc_agent *a)
{
	if (a->state != GC__AGENT_NEW && a->state != GC__AGENT_STOPPED) {
		/* Host-poll mode freed while running: no graceful stop. */
		a->state = GC__AGENT_STOPPED;
		stop_threads(a);
	}
	gc__claims_drop_deferred(a);
	gc__projects_free(a);
	gc_etcd_watch_cancel(a->loop.cmd_watch);
	gc_etcd_watcher_free(a->etcd.watcher);
	gc_exec_free(a->runs.exec);
	gc__runs_free(a);
	gc__hrunner_free(a->runs.hrunner);
	gc__pool_free(a->etcd.pool);
	gc_etcd_free(a->etcd.client);
	gc__handlers_free(a->handlers);
	if (a->loop.epfd >= 0)
		close(a->loop.epfd);
	if (a->loop.evfd >= 0)
		close(a->loop.evfd);
	gc__atime_close(&a->time);
	conf_clear(&a->conf);
	free(a->projects.want);
	gc__leases_destroy(&a->leases);
	gc__astats_destroy(&a->stats);
	free(a);
}

GC_EXTERN void gc_agent_free(gc_agent *agent)
{
	if (!agent)
		return;
	if (agent->loop.thread_started) {
		gc_agent_stop(agent);
		gc_agent_join(agent, NULL);
	}
	agent_release(agent);
}
