/* The agent's command watch P/agent/<ip>/: commands for this agent alone
 * (reload_config, as GopherCron 1.10 sends it), each consumed (deleted)
 * once seen. The reload itself is done by the agent's step. */
#include "agent/agent_internal.h"

#include "job/job_internal.h"

#include <stdlib.h>
#include <string.h>

static void cmd_delete_done(gc__pool_job *job)
{
	gc_agent *a = job->data;
	gc__delete_job *j = (gc__delete_job *)job;
	if (job->rc && job->rc != GC_ECANCELED)
		gc__alog_msg(&a->log, GC_LOG_WARNING,
			     "agent: could not delete command key %s: %s",
			     j->key, job->err.msg);
	gc__delete_job_free(j);
}

static void cmd_events(gc_etcd_watch *watch, const gc_etcd_event *ev,
		       size_t count, int64_t revision, void *payload)
{
	(void)watch;
	(void)revision;
	gc_agent *a = payload;
	for (size_t i = 0; i < count; i++) {
		gc_key_info info;
		if (ev[i].type != GC_ETCD_EVENT_PUT ||
		    gc_key_parse(a->conf.prefix, ev[i].kv.key, ev[i].kv.key_len,
				 &info) != GC_KEY_AGENT_CMD ||
		    strcmp(info.ip, a->conf.client_ip) != 0)
			continue;
		if (strcmp(info.command, "reload_config") == 0) {
			gc__alog_msg(&a->log, GC_LOG_INFO,
				     "agent: reload_config received");
			atomic_store(&a->loop.reload_requested, 1);
		} else {
			gc__alog_msg(&a->log, GC_LOG_WARNING,
				     "agent: unknown command \"%s\" ignored",
				     info.command);
		}
		/* Consume the command so it is not seen again. */
		gc__delete_job *j =
		    gc__delete_job_new(ev[i].kv.key, GC_ETCD_CMP_MOD,
				       ev[i].kv.mod_revision, cmd_delete_done);
		if (j)
			gc__agent_submit(a, &j->base);
	}
}

static void cmd_compacted(gc_etcd_watch *watch, int64_t compact_rev,
			  void *payload)
{
	gc_agent *a = payload;
	gc_error err;
	if (gc_etcd_watch_resume(watch, compact_rev + 1, &err))
		gc__alog_msg(&a->log, GC_LOG_ERR, "agent: command watch: %s",
			     err.msg);
}

static void cmd_error(gc_etcd_watch *watch, int code, const char *msg,
		      void *payload)
{
	(void)watch;
	gc_agent *a = payload;
	GC__STAT(&a->stats, etcd_errors, 1);
	gc__alog_msg(&a->log, GC_LOG_ERR,
		     "agent: command watch stopped (%s: %s)", gc_strerror(code),
		     msg);
}

int gc__command_watch_start(gc_agent *a, gc_error *err)
{
	char *prefix = gc_key_agent_prefix(a->conf.prefix, a->conf.client_ip);
	if (!prefix)
		return gc__seterr(err, GC_EINVAL,
				  "agent: client_ip \"%s\" cannot form a key",
				  a->conf.client_ip);
	gc_etcd_watch_options o = GC_ETCD_WATCH_OPTIONS_INIT;
	o.flags = GC_ETCD_PREFIX;
	o.on_events = cmd_events;
	o.on_compacted = cmd_compacted;
	o.on_error = cmd_error;
	o.payload = a;
	int rc = gc_etcd_watch_add(&a->loop.cmd_watch, a->etcd.watcher, prefix,
				   &o, err);
	free(prefix);
	return rc;
}
