/* The agent core: construction, the event loop step, the three ways of
 * driving it, graceful stop, reload, clock-step detection and stats. */
#include "agent/agent_internal.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define DEFAULT_LATE_GRACE_MS 10000
#define DEFAULT_STOP_GRACE_MS 30000
#define DEFAULT_SESSION_TTL_S 10
#define DEFAULT_ETCD_THREADS 4
#define DEFAULT_HANDLER_THREADS 2
#define CLOSE_TIMEOUT_MS 10000

GC_EXTERN void gc_agent_get_stats(gc_agent *agent, gc_agent_stats *out)
{
	gc__astats_get(&agent->stats, out);
}

/* ------------------------------------------------------- construction */

GC_EXTERN int gc_agent_options_init(gc_agent_options *o, unsigned version)
{
	if (!o || version != GC_AGENT_OPTIONS_VERSION)
		return GC_EINVAL;
	gc_agent_options d = GC_AGENT_OPTIONS_INIT;
	*o = d;
	return 0;
}

static char *dup_opt(const char *s)
{
	return s ? gc__strdup(s) : NULL;
}

static int epoll_add(int epfd, int fd, uint32_t tag)
{
	struct epoll_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.u32 = tag;
	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

static void arm_clockfd(gc_agent *a)
{
	/* Readable (ECANCELED) as soon as someone sets the wall clock; the
	 * expiry itself is a year away and never matters. */
	struct itimerspec its;
	memset(&its, 0, sizeof(its));
	clock_gettime(CLOCK_REALTIME, &its.it_value);
	its.it_value.tv_sec += 365 * 86400;
	timerfd_settime(a->clockfd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET,
			&its, NULL);
}

static void agent_release(gc_agent *a);

GC_EXTERN int gc_agent_new(gc_agent **out, const gc_agent_config *cfg,
			   const gc_agent_options *opts, gc_error *err)
{
	if (!out || !cfg)
		return gc__seterr(err, GC_EINVAL,
				  "agent: out and cfg are required");
	*out = NULL;
	if (opts && opts->version != GC_AGENT_OPTIONS_VERSION)
		return gc__seterr(err, GC_EINVAL,
				  "agent: options version %u not supported",
				  opts->version);
	if (!cfg->etcd.n_endpoints)
		return gc__seterr(err, GC_EINVAL,
				  "agent: [etcd] service lists no endpoint");
	if (!cfg->client_ip || !cfg->client_ip[0] ||
	    strchr(cfg->client_ip, '/'))
		return gc__seterr(err, GC_EINVAL,
				  "agent: client_ip \"%s\" is not usable in "
				  "etcd keys",
				  cfg->client_ip ? cfg->client_ip : "");

	gc_agent *a = calloc(1, sizeof(*a));
	if (!a)
		return gc__seterr(err, GC_ENOMEM, "agent: out of memory");
	a->epfd = a->evfd = a->timerfd = a->clockfd = -1;
	gc__leases_init(&a->leases, 0, 0, &a->log);
	gc__astats_init(&a->stats);
	gc__sched_init(&a->sched);
	atomic_init(&a->stop_requested, 0);
	atomic_init(&a->reload_requested, 0);

	if (opts)
		a->opts = *opts;
	else
		gc_agent_options_init(&a->opts, GC_AGENT_OPTIONS_VERSION);
	if (a->opts.late_grace_ms <= 0)
		a->opts.late_grace_ms = DEFAULT_LATE_GRACE_MS;
	if (a->opts.stop_grace_ms <= 0)
		a->opts.stop_grace_ms = DEFAULT_STOP_GRACE_MS;
	if (a->opts.session_ttl_s <= 0)
		a->opts.session_ttl_s = DEFAULT_SESSION_TTL_S;
	if (a->opts.etcd_threads <= 0)
		a->opts.etcd_threads = DEFAULT_ETCD_THREADS;
	if (a->opts.handler_threads <= 0)
		a->opts.handler_threads = DEFAULT_HANDLER_THREADS;
	a->opts.config_path = NULL; /* our copy lives in a->config_path */
	a->log.level =
	    a->opts.log_level > 0 ? a->opts.log_level : cfg->log_level;
	if (a->log.level <= 0)
		a->log.level = GC_LOG_INFO;
	a->log.fn = a->opts.log;
	a->log.payload = a->opts.log_payload;
	a->log.on_warning = a->opts.on_warning;
	a->log.warning_payload = a->opts.payload;
	a->cron_flags = a->opts.cron_utc ? GC_CRON_UTC : GC_CRON_LOCAL;

	a->claim_ttl_s = cfg->claim_ttl_s > 0 ? cfg->claim_ttl_s : 60;
	a->window_s = a->claim_ttl_s / 2 > 0 ? a->claim_ttl_s / 2 : 1;
	a->leases.claim_ttl_s = a->claim_ttl_s;
	a->leases.window_s = a->window_s;
	a->output_limit = cfg->output_limit >= GC_EXEC_MIN_OUTPUT_LIMIT
				  ? cfg->output_limit
				  : GC_EXEC_DEFAULT_OUTPUT_LIMIT;
	a->kill_grace_ms = cfg->kill_grace_ms > 0
				   ? cfg->kill_grace_ms
				   : GC_EXEC_DEFAULT_KILL_GRACE_MS;
	a->dial_timeout_ms = cfg->etcd.dial_timeout_ms;
	int rc = GC_ENOMEM;
	if (a->opts.late_grace_ms >= a->claim_ttl_s * 1000) {
		rc = gc__seterr(err, GC_EINVAL,
				"agent: late grace (%lld ms) must be shorter "
				"than claim_ttl (%lld s), or a late agent could "
				"run a tick again after its claim expired",
				(long long)a->opts.late_grace_ms,
				(long long)a->claim_ttl_s);
		goto fail;
	}

	a->prefix = gc__strdup(cfg->etcd.prefix ? cfg->etcd.prefix
						: "/gopher_cron");
	a->client_ip = gc__strdup(cfg->client_ip);
	a->log.client_ip = a->client_ip;
	a->shell = gc__strdup(cfg->shell ? cfg->shell : GC_EXEC_DEFAULT_SHELL);
	a->config_path = dup_opt(opts ? opts->config_path : NULL);
	a->etcd_user = dup_opt(cfg->etcd.username);
	a->etcd_pass = dup_opt(cfg->etcd.password);
	a->tls_ca = dup_opt(cfg->etcd.ca_file);
	a->tls_cert = dup_opt(cfg->etcd.cert_file);
	a->tls_key = dup_opt(cfg->etcd.key_file);
	a->endpoints = calloc(cfg->etcd.n_endpoints, sizeof(char *));
	if (!a->prefix || !a->client_ip || !a->shell || !a->endpoints ||
	    (opts && opts->config_path && !a->config_path) ||
	    (cfg->etcd.username && !a->etcd_user) ||
	    (cfg->etcd.password && !a->etcd_pass))
		goto oom;
	for (size_t i = 0; i < cfg->etcd.n_endpoints; i++) {
		a->endpoints[i] = gc__strdup(cfg->etcd.endpoints[i]);
		if (!a->endpoints[i])
			goto oom;
		a->n_endpoints++;
	}
	if (cfg->n_projects) {
		a->want_projects = calloc(cfg->n_projects, sizeof(int64_t));
		if (!a->want_projects)
			goto oom;
		memcpy(a->want_projects, cfg->projects,
		       cfg->n_projects * sizeof(int64_t));
		a->n_want = cfg->n_projects;
	}

	a->epfd = epoll_create1(EPOLL_CLOEXEC);
	a->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	a->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	a->clockfd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	if (a->epfd < 0 || a->evfd < 0 || a->timerfd < 0 || a->clockfd < 0 ||
	    epoll_add(a->epfd, a->evfd, 1) || epoll_add(a->epfd, a->timerfd, 2) ||
	    epoll_add(a->epfd, a->clockfd, 3)) {
		rc = gc__seterr_errno(err, GC_ESYS, errno,
				      "agent: creating event descriptors");
		goto fail;
	}

	gc_exec_options eo = GC_EXEC_OPTIONS_INIT;
	eo.on_done = gc__exec_done;
	eo.payload = a;
	eo.log = a->opts.log;
	eo.log_payload = a->opts.log_payload;
	rc = gc_exec_new(&a->exec, &eo, err);
	if (rc)
		goto fail;
	if (epoll_add(a->epfd, gc_exec_fd(a->exec), 4)) {
		rc = gc__seterr_errno(err, GC_ESYS, errno,
				      "agent: watching the executor");
		goto fail;
	}
	*out = a;
	return 0;
oom:
	rc = gc__seterr(err, GC_ENOMEM, "agent: out of memory");
fail:
	agent_release(a);
	return rc;
}

/* Threads the agent creates must not take the host's signals. */
static void block_signals(sigset_t *old)
{
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, old);
}

static void restore_signals(const sigset_t *old)
{
	pthread_sigmask(SIG_SETMASK, old, NULL);
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

static void etcd_options(const gc_agent *a, gc_etcd_options *o)
{
	gc_etcd_options d = GC_ETCD_OPTIONS_INIT;
	*o = d;
	o->endpoints = (const char *const *)a->endpoints;
	o->endpoints_count = a->n_endpoints;
	o->username = a->etcd_user;
	o->password = a->etcd_pass;
	if (a->dial_timeout_ms > 0 && a->dial_timeout_ms < 1000)
		o->connect_timeout_ms = (int)a->dial_timeout_ms;
	o->tls_ca_file = a->tls_ca;
	o->tls_cert_file = a->tls_cert;
	o->tls_key_file = a->tls_key;
	o->max_response_bytes = GC__AGENT_ETCD_MAX_RESPONSE;
	o->log = a->opts.log;
	o->log_payload = a->opts.log_payload;
}

/* The etcd client of the agent thread (watcher, keeper), the etcd
 * workers and the handler threads. */
static int start_threads(gc_agent *a, gc_error *err)
{
	gc_etcd_options eo;
	etcd_options(a, &eo);
	int rc = gc_etcd_new(&a->etcd, &eo, err);
	if (!rc)
		rc =
		    gc__pool_new_etcd(&a->pool, &eo, a->opts.etcd_threads, err);
	if (!rc && epoll_add(a->epfd, gc__pool_fd(a->pool), 6))
		rc = gc__seterr_errno(err, GC_ESYS, errno,
				      "agent: watching the etcd workers");
	if (!rc)
		rc = gc__hrunner_new(&a->hrunner, a->opts.handler_threads,
				     gc__handler_done, a, err);
	if (!rc && epoll_add(a->epfd, gc__hrunner_fd(a->hrunner), 7))
		rc = gc__seterr_errno(err, GC_ESYS, errno,
				      "agent: watching the handler threads");
	if (!rc) {
		gc_etcd_keeper_options ko = GC_ETCD_KEEPER_OPTIONS_INIT;
		ko.own_thread = 1;
		ko.on_lost = keeper_lost;
		ko.payload = a;
		rc = gc_etcd_lease_keeper_new(&a->keeper, a->etcd, &ko, err);
	}
	return rc;
}

static int agent_begin(gc_agent *a, gc_error *err)
{
	int rc = start_threads(a, err);
	if (rc)
		return rc;
	rc = gc_etcd_watcher_new(&a->watcher, a->etcd, err);
	if (rc)
		return rc;
	if (epoll_add(a->epfd, gc_etcd_watcher_fd(a->watcher), 5))
		return gc__seterr_errno(err, GC_ESYS, errno,
					"agent: watching the etcd watcher");
	rc = gc__cmd_watch_start(a, err);
	if (rc)
		return rc;
	arm_clockfd(a);
	a->state = GC__AGENT_RUNNING;
	gc__clockwatch_step(&a->clock, gc__wall_ns(), gc__mono_ns());
	gc__alog_msg(&a->log, GC_LOG_INFO,
		     "agent: started client_ip=%s projects=%zu prefix=%s "
		     "claim_ttl=%llds grace=%lldms",
		     a->client_ip, a->n_want, a->prefix,
		     (long long)a->claim_ttl_s,
		     (long long)a->opts.late_grace_ms);
	gc__session_begin(a);
	return gc__projects_apply(a);
}

/* ----------------------------------------------------------- time */

void gc__agent_rearm(gc_agent *a)
{
	struct itimerspec its;
	memset(&its, 0, sizeof(its));
	int64_t due;
	if (a->state == GC__AGENT_RUNNING &&
	    gc__sched_peek(&a->sched, &due, NULL, NULL)) {
		int64_t wait = gc__tick_wait_ns(due, gc__wall_ns());
		if (wait <= 0)
			wait = 1; /* due now: fire at once */
		its.it_value.tv_sec = wait / 1000000000LL;
		its.it_value.tv_nsec = wait % 1000000000LL;
		a->armed_due = due;
	} else {
		a->armed_due = GC__SCHED_NEVER;
	}
	/* Relative: correct under a faked or stepped wall clock too. */
	timerfd_settime(a->timerfd, 0, &its, NULL);
}

static int64_t recompute_due(const char *key, void *data, void *arg)
{
	(void)key;
	int64_t *ctx = arg; /* [0] = agent pointer slot unused, [1] now_s */
	gc_agent *a = (gc_agent *)(intptr_t)ctx[0];
	return gc__task_next(a, data, ctx[1]);
}

static void clock_check(gc_agent *a, int64_t wall_ns, int64_t mono_ns)
{
	int64_t step = gc__clockwatch_step(&a->clock, wall_ns, mono_ns);
	if (!step)
		return;
	GC__STAT(&a->stats, clock_steps, 1);
	int64_t now_s = wall_ns / 1000000000LL;
	gc__alog_msg(&a->log, GC_LOG_WARNING,
		     "agent: wall clock stepped %s by %.3f s; recomputing "
		     "next run times (ticks already attempted are not "
		     "repeated, ticks older than %lld ms are skipped)",
		     step > 0 ? "forward" : "backward",
		     (double)(step > 0 ? step : -step) / 1e9,
		     (long long)a->opts.late_grace_ms);
	int64_t ctx[2] = {(int64_t)(intptr_t)a, now_s};
	gc__sched_recompute(&a->sched, recompute_due, ctx);
}

/* Attempt every tick that is due. */
static void run_due(gc_agent *a, int64_t wall_ns)
{
	int64_t now_s = wall_ns / 1000000000LL, due;
	void *data;
	size_t late = 0;
	int64_t late_max_ms = 0;
	while (gc__sched_peek(&a->sched, &due, NULL, &data) &&
	       due * 1000000000LL <= wall_ns) {
		gc__atask *t = data;
		t->last_plan = due;
		if (gc__tick_expired(due, wall_ns, a->opts.late_grace_ms)) {
			late++;
			int64_t ms = (wall_ns - due * 1000000000LL) / 1000000;
			if (ms > late_max_ms)
				late_max_ms = ms;
		} else {
			gc__tick(a, t, due);
		}
		gc__sched_reschedule(&a->sched, t->key,
				     gc__task_next(a, t, now_s));
	}
	gc__tick_flush(a);
	if (late) {
		GC__STAT(&a->stats, late_skipped, (int64_t)late);
		gc__alog_msg(&a->log, GC_LOG_WARNING,
			     "agent: %zu tick(s) skipped, up to %lld ms past "
			     "their planned time (grace %lld ms)",
			     late, (long long)late_max_ms,
			     (long long)a->opts.late_grace_ms);
	}
}

/* ------------------------------------------------------------ reload */

static void do_reload(gc_agent *a)
{
	if (a->opts.on_reload) {
		a->opts.on_reload(a, a->opts.reload_payload);
		return;
	}
	if (!a->config_path) {
		gc__alog_msg(&a->log, GC_LOG_WARNING,
			     "agent: reload requested, but there is no "
			     "configuration file to re-read");
		return;
	}
	gc_agent_config cfg;
	gc_error err;
	if (gc_agent_config_init(&cfg)) {
		gc__alog_msg(&a->log, GC_LOG_ERR,
			     "agent: reload: out of memory");
		return;
	}
	if (gc_agent_config_load(&cfg, a->config_path, a->opts.log,
				 a->opts.log_payload, &err)) {
		gc__alog_msg(&a->log, GC_LOG_ERR,
			     "agent: reload failed, keeping the running "
			     "project list: %s",
			     err.msg);
	} else if (gc_agent_set_projects(a, cfg.projects, cfg.n_projects,
					 &err)) {
		gc__alog_msg(&a->log, GC_LOG_ERR, "agent: reload: %s", err.msg);
	} else {
		gc__alog_msg(&a->log, GC_LOG_INFO,
			     "agent: configuration reloaded from %s "
			     "projects=%zu",
			     a->config_path, cfg.n_projects);
	}
	gc_agent_config_clear(&cfg);
}

GC_EXTERN int gc_agent_set_projects(gc_agent *agent, const int64_t *ids,
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
	int64_t *v = NULL;
	if (count) {
		v = calloc(count, sizeof(*v));
		if (!v)
			return gc__seterr(err, GC_ENOMEM,
					  "agent: out of memory");
		memcpy(v, ids, count * sizeof(*v));
	}
	free(agent->want_projects);
	agent->want_projects = v;
	agent->n_want = count;
	if (agent->state == GC__AGENT_RUNNING &&
	    gc__projects_apply(agent))
		return gc__seterr(err, GC_ENOMEM, "agent: out of memory");
	return 0;
}

/* ----------------------------------------------------------- stopping */

static void stop_threads(gc_agent *a)
{
	gc__runs_cancel_all(a);
	gc__hrunner_stop(a->hrunner);
	if (a->pool)
		gc__pool_stop(a->pool, false);
	gc_etcd_lease_keeper_free(a->keeper);
	a->keeper = NULL;
}

static void advance_stop(gc_agent *a, int64_t mono_ms)
{
	switch (a->state) {
	case GC__AGENT_DRAINING:
		if (a->n_runs == 0 && a->claims_in_flight == 0)
			break;
		if (mono_ms >= a->drain_deadline_ms) {
			gc__alog_msg(&a->log, GC_LOG_WARNING,
				     "agent: stop grace over, killing %zu "
				     "run(s)",
				     a->n_runs);
			gc__runs_cancel_all(a);
			a->state = GC__AGENT_KILLING;
		}
		return;
	case GC__AGENT_KILLING:
		if (a->n_runs || a->claims_in_flight)
			return;
		break;
	case GC__AGENT_CLOSING:
		if ((gc__session_closed(a) && a->status_jobs == 0) ||
		    mono_ms >= a->close_deadline_ms) {
			stop_threads(a);
			a->state = GC__AGENT_STOPPED;
			gc__alog_msg(&a->log, GC_LOG_INFO, "agent: stopped");
		}
		return;
	default:
		return;
	}
	/* Every run has ended and reported: release what this agent holds
	 * in etcd. */
	a->state = GC__AGENT_CLOSING;
	a->close_deadline_ms = mono_ms + CLOSE_TIMEOUT_MS;
	for (gc__project *p = a->projects; p; p = p->next) {
		gc_etcd_watch_cancel(p->watch);
		gc_etcd_watch_cancel(p->kill_watch);
		p->watch = p->kill_watch = NULL;
	}
	gc_etcd_watch_cancel(a->cmd_watch);
	a->cmd_watch = NULL;
	gc__session_close(a);
	gc__agent_rearm(a);
}

/* ---------------------------------------------------------- driving */

void gc__agent_submit(gc_agent *a, gc__pool_job *job)
{
	job->data = a;
	gc__pool_submit(a->pool, job);
}

static void drain_fd(int fd)
{
	uint64_t v;
	while (read(fd, &v, sizeof(v)) > 0)
		;
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
	drain_fd(a->evfd);
	drain_fd(a->timerfd);
	uint64_t v;
	if (read(a->clockfd, &v, sizeof(v)) < 0 && errno == ECANCELED)
		arm_clockfd(a); /* the wall clock was set: checked below */

	int64_t wall = gc__wall_ns(), mono = gc__mono_ns();
	int64_t mono_ms = mono / 1000000;
	clock_check(a, wall, mono);

	if (atomic_load(&a->stop_requested) && a->state == GC__AGENT_RUNNING) {
		a->state = GC__AGENT_DRAINING;
		a->drain_deadline_ms = mono_ms + a->opts.stop_grace_ms;
		gc__alog_msg(&a->log, GC_LOG_INFO,
			     "agent: stopping: no new ticks, waiting up to "
			     "%lld ms for %zu run(s)",
			     (long long)a->opts.stop_grace_ms, a->n_runs);
	}
	if (atomic_exchange(&a->reload_requested, 0) &&
	    a->state == GC__AGENT_RUNNING)
		do_reload(a);

	gc__session_check(a, mono_ms);
	if (a->state == GC__AGENT_RUNNING)
		gc__projects_tick(a, mono_ms);

	gc_error e2;
	int rc = gc_exec_step(a->exec, &e2);
	if (rc < 0)
		gc__alog_msg(&a->log, GC_LOG_ERR, "agent: executor: %s",
			     e2.msg);
	if (a->watcher && a->state < GC__AGENT_STOPPED) {
		rc = gc_etcd_watcher_poll(a->watcher, 0, &e2);
		if (rc < 0)
			gc__alog_msg(&a->log, GC_LOG_ERR, "agent: watcher: %s",
				     e2.msg);
	}
	if (a->pool)
		gc__pool_drain(a->pool);
	if (a->hrunner) {
		gc__hrunner_drain(a->hrunner);
		gc__hrunner_expire(a->hrunner, mono_ms);
	}

	if (a->state == GC__AGENT_RUNNING)
		run_due(a, gc__wall_ns());
	advance_stop(a, gc__mono_ms());
	if (a->state != GC__AGENT_STOPPED)
		gc__agent_rearm(a);

	size_t loaded = 0;
	for (gc__project *p = a->projects; p; p = p->next)
		loaded += !p->removed && p->listed_rev > 0;
	pthread_mutex_lock(&a->stats.mu);
	a->stats.s.tasks = gc__sched_count(&a->sched);
	a->stats.s.scheduled = gc__sched_scheduled(&a->sched);
	a->stats.s.projects_loaded = loaded;
	pthread_mutex_unlock(&a->stats.mu);
	return a->state == GC__AGENT_STOPPED ? 1 : 0;
}

static int min_timeout(int a, int b)
{
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return a < b ? a : b;
}

static int ms_until(int64_t deadline_ms, int64_t now_ms)
{
	if (!deadline_ms)
		return -1;
	int64_t d = deadline_ms - now_ms;
	if (d < 0)
		return 0;
	return d > INT32_MAX ? INT32_MAX : (int)d;
}

GC_EXTERN int gc_agent_timeout_ms(gc_agent *a)
{
	if (a->state == GC__AGENT_NEW || a->state == GC__AGENT_STOPPED)
		return 0;
	int64_t now = gc__mono_ms();
	int t = gc_exec_timeout_ms(a->exec);
	if (a->watcher)
		t = min_timeout(t, gc_etcd_watcher_timeout_ms(a->watcher));
	t = min_timeout(t, gc__hrunner_timeout_ms(a->hrunner, now));
	if (!gc__leases_session(&a->leases) && !a->session_granting)
		t = min_timeout(t, ms_until(a->session_retry_at_ms
						    ? a->session_retry_at_ms
						    : now,
					    now));
	for (gc__project *p = a->projects; p; p = p->next) {
		if (p->removed)
			continue;
		t = min_timeout(t, ms_until(p->list_retry_at_ms, now));
		if (!p->registered && gc__leases_session(&a->leases))
			t = min_timeout(t, ms_until(p->reg_retry_at_ms
							    ? p->reg_retry_at_ms
							    : now,
						    now));
	}
	if (a->state == GC__AGENT_DRAINING)
		t = min_timeout(t, ms_until(a->drain_deadline_ms, now));
	if (a->state == GC__AGENT_CLOSING)
		t = min_timeout(t, ms_until(a->close_deadline_ms, now));
	if (a->armed_due != GC__SCHED_NEVER && a->state == GC__AGENT_RUNNING) {
		/* The timerfd wakes the fd; this only helps hosts that poll
		 * with the timeout alone. Rounded up: never early. */
		int64_t ns = gc__tick_wait_ns(a->armed_due, gc__wall_ns());
		int64_t ms = (ns + 999999) / 1000000;
		t = min_timeout(t, ms > INT32_MAX ? INT32_MAX : (int)ms);
	}
	return t;
}

GC_EXTERN int gc_agent_fd(const gc_agent *agent)
{
	return agent ? agent->epfd : -1;
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
		int n = epoll_wait(a->epfd, ev, 8, gc_agent_timeout_ms(a));
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
	a->thread_rc = gc_agent_run(a, &a->thread_err);
	return NULL;
}

GC_EXTERN int gc_agent_start(gc_agent *agent, gc_error *err)
{
	if (!agent)
		return gc__seterr(err, GC_EINVAL, "agent: NULL agent");
	if (agent->thread_started || agent->state != GC__AGENT_NEW)
		return gc__seterr(err, GC_EINVAL, "agent: already started");
	sigset_t old;
	block_signals(&old);
	int e = pthread_create(&agent->thread, NULL, agent_thread, agent);
	restore_signals(&old);
	if (e)
		return gc__seterr_errno(err, GC_ESYS, e,
					"agent: starting its thread");
	agent->thread_started = 1;
	return 0;
}

GC_EXTERN int gc_agent_join(gc_agent *agent, gc_error *err)
{
	if (!agent || !agent->thread_started)
		return gc__seterr(err, GC_EINVAL,
				  "agent: not running on its own thread");
	pthread_join(agent->thread, NULL);
	agent->thread_started = 0;
	if (agent->thread_rc && err)
		*err = agent->thread_err;
	return agent->thread_rc;
}

GC_EXTERN void gc_agent_wakeup(gc_agent *agent)
{
	if (!agent)
		return;
	uint64_t one = 1;
	ssize_t n;
	do
		n = write(agent->evfd, &one, sizeof(one));
	while (n < 0 && errno == EINTR);
}

GC_EXTERN void gc_agent_stop(gc_agent *agent)
{
	if (!agent)
		return;
	atomic_store(&agent->stop_requested, 1);
	gc_agent_wakeup(agent);
}

GC_EXTERN void gc_agent_request_reload(gc_agent *agent)
{
	if (!agent)
		return;
	atomic_store(&agent->reload_requested, 1);
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
	gc__projects_free(a);
	gc_etcd_watch_cancel(a->cmd_watch);
	gc_etcd_watcher_free(a->watcher);
	gc_exec_free(a->exec);
	gc__runs_free(a);
	gc_etcd_free(a->etcd);
	gc__hrunner_free(a->hrunner);
	gc__pool_free(a->pool);
	gc__handlers_free(a->handlers);
	if (a->epfd >= 0)
		close(a->epfd);
	if (a->evfd >= 0)
		close(a->evfd);
	if (a->timerfd >= 0)
		close(a->timerfd);
	if (a->clockfd >= 0)
		close(a->clockfd);
	gc__strv_free(a->endpoints, a->n_endpoints);
	free(a->prefix);
	free(a->client_ip);
	free(a->shell);
	free(a->config_path);
	free(a->etcd_user);
	gc__secret_free(a->etcd_pass);
	free(a->tls_ca);
	free(a->tls_cert);
	free(a->tls_key);
	free(a->want_projects);
	gc__leases_destroy(&a->leases);
	gc__astats_destroy(&a->stats);
	free(a);
}

GC_EXTERN void gc_agent_free(gc_agent *agent)
{
	if (!agent)
		return;
	if (agent->thread_started) {
		gc_agent_stop(agent);
		gc_agent_join(agent, NULL);
	}
	agent_release(agent);
}
