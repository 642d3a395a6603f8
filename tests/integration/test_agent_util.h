/* Shared helpers for the agent integration tests (header-only): agent
 * processes (gcron-agent, optionally under libfaketime), configuration
 * files, tasks in etcd, and reading what the tasks wrote. */
#ifndef GC_TEST_AGENT_UTIL_H
#define GC_TEST_AGENT_UTIL_H

#include <gophercron.h>

#include "harness.h"
#include "internal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define ATU_FAKETIME_LIB "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"

typedef struct atu_agent {
	int pid;
	char ip[32];
	char cfg[512];
	char log[512];
} atu_agent;

static inline const char *atu_agent_bin(void)
{
	static char path[512];
	const char *b = getenv("GC_BUILD");
	snprintf(path, sizeof(path), "%s/bin/gcron-agent", b ? b : "build");
	return path;
}

/* "http://a:1,http://b:2" -> "\"a:1\", \"b:2\"" (TOML array body),
 * optionally starting at member `first` and wrapping around. */
static inline void atu_toml_endpoints(const char *endpoints, int first,
				      char *out, size_t len)
{
	char copy[1024], *parts[8], *save = NULL, *tok;
	int n = 0;
	snprintf(copy, sizeof(copy), "%s", endpoints);
	for (tok = strtok_r(copy, ",", &save); tok && n < 8;
	     tok = strtok_r(NULL, ",", &save))
		parts[n++] = strncmp(tok, "http://", 7) == 0 ? tok + 7 : tok;
	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		size_t l = strlen(out);
		snprintf(out + l, len - l, "%s\"%s\"", i ? ", " : "",
			 parts[(first + i) % n]);
	}
}

/* Write a client config; `projects` like "1, 2"; `extra` top-level lines
 * (may be NULL). */
static inline int atu_write_config(const char *path, const char *ip,
				   const char *endpoints, int first_member,
				   const char *prefix, const char *projects,
				   const char *extra)
{
	char eps[1024];
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	atu_toml_endpoints(endpoints, first_member, eps, sizeof(eps));
	fprintf(f,
		"log_level = \"debug\"\n"
		"report_addr = \"\"\n"
		"client_ip = \"%s\"\n"
		"claim_ttl = 30\n"
		"kill_grace = \"1s\"\n"
		"%s\n"
		"[etcd]\n"
		"service = [%s]\n"
		"prefix = \"%s\"\n"
		"projects = [%s]\n"
		"shell = \"/bin/bash\"\n",
		ip, extra ? extra : "", eps, prefix, projects);
	return fclose(f);
}

/* Start gcron-agent with `cfg`; `faketime` like "+2s" runs it under
 * libfaketime (same pid, so signals reach the agent itself); "" preloads
 * libfaketime without FAKETIME (the caller set FAKETIME_TIMESTAMP_FILE). */
static inline int atu_spawn(atu_agent *a, const char *faketime,
			    const char *const *more_args)
{
	char *argv[16];
	int n = 0;
	argv[n++] = (char *)atu_agent_bin();
	argv[n++] = (char *)"-c";
	argv[n++] = a->cfg;
	for (int i = 0; more_args && more_args[i] && n < 15; i++)
		argv[n++] = (char *)more_args[i];
	argv[n] = NULL;
	if (faketime) {
		setenv("LD_PRELOAD", ATU_FAKETIME_LIB, 1);
		if (*faketime)
			setenv("FAKETIME", faketime, 1);
		setenv("FAKETIME_NO_CACHE", "1", 1);
	}
	a->pid = gct_spawn(argv, a->log);
	if (faketime) {
		unsetenv("LD_PRELOAD");
		unsetenv("FAKETIME");
		unsetenv("FAKETIME_NO_CACHE");
	}
	return a->pid > 0 ? 0 : -1;
}

/* atu_start with `extra` config lines (atu_write_config). */
static inline int atu_start_x(atu_agent *a, const char *dir, const char *name,
			      const char *ip, const char *endpoints, int first,
			      const char *prefix, const char *projects,
			      const char *faketime, const char *extra)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->ip, sizeof(a->ip), "%s", ip);
	snprintf(a->cfg, sizeof(a->cfg), "%s/%s.toml", dir, name);
	snprintf(a->log, sizeof(a->log), "%s/%s.log", dir, name);
	if (atu_write_config(a->cfg, ip, endpoints, first, prefix, projects,
			     extra))
		return -1;
	return atu_spawn(a, faketime, NULL);
}

static inline int atu_start(atu_agent *a, const char *dir, const char *name,
			    const char *ip, const char *endpoints, int first,
			    const char *prefix, const char *projects,
			    const char *faketime)
{
	return atu_start_x(a, dir, name, ip, endpoints, first, prefix,
			   projects, faketime, NULL);
}

/* SIGTERM and wait up to `ms`; returns the exit status or -1 (then the
 * process is SIGKILLed). */
static inline int atu_stop(atu_agent *a, int ms)
{
	int st;
	if (a->pid <= 0)
		return -1;
	kill(a->pid, SIGTERM);
	for (int waited = 0; waited <= ms; waited += 20) {
		pid_t r = waitpid(a->pid, &st, WNOHANG);
		if (r == a->pid) {
			a->pid = 0;
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		gct_sleep_ms(20);
	}
	kill(a->pid, SIGKILL);
	waitpid(a->pid, &st, 0);
	a->pid = 0;
	return -1;
}

static inline void atu_kill9(atu_agent *a)
{
	int st;
	if (a->pid > 0) {
		kill(a->pid, SIGKILL);
		waitpid(a->pid, &st, 0);
		a->pid = 0;
	}
}

static inline gc_etcd *atu_client(const char *endpoints)
{
	char copy[1024], *save = NULL, *tok;
	const char *eps[8];
	size_t n = 0;
	gc_etcd *c = NULL;
	gc_error err;
	snprintf(copy, sizeof(copy), "%s", endpoints);
	for (tok = strtok_r(copy, ",", &save); tok && n < 8;
	     tok = strtok_r(NULL, ",", &save))
		eps[n++] = tok;
	gc_etcd_options o = GC_ETCD_OPTIONS_INIT;
	o.endpoints = eps;
	o.endpoints_count = n;
	if (gc_etcd_new(&c, &o, &err))
		fprintf(stderr, "gc_etcd_new: %s\n", err.msg);
	return c;
}

/* One etcd member, a client to it and a scratch directory: the set-up the
 * agent suites share. */
typedef struct atu_fixture {
	gct_etcd *etcd;
	const char *eps;
	gc_etcd *c;
	char *dir;
} atu_fixture;

static inline int atu_fixture_setup(atu_fixture *f, const char *dir_name)
{
	if (gct_etcd_start(&f->etcd, 1, NULL))
		return -1;
	f->eps = gct_etcd_endpoints(f->etcd);
	f->c = atu_client(f->eps);
	f->dir = gct_tmpdir(dir_name);
	return f->c && f->dir ? 0 : -1;
}

static inline void atu_fixture_teardown(atu_fixture *f)
{
	gc_etcd_free(f->c);
	gct_etcd_stop(f->etcd);
	gct_rmrf(f->dir);
	free(f->dir);
}

typedef struct atu_task {
	const char *id;
	const char *cron;
	const char *command;
	int noseize;
	int exclusion;
	int timeout;
	int status; /* default 1 when 0 is not asked for: use paused = 1 */
	int paused;
} atu_task;

static inline char *atu_task_json(int64_t pid, const atu_task *t)
{
	gc_task task = GC_TASK_INIT;
	task.task_id = (char *)t->id;
	task.name = (char *)t->id;
	task.project_id = pid;
	task.command = (char *)t->command;
	task.cron = (char *)t->cron;
	task.remark = (char *)"";
	task.timeout = t->timeout;
	task.create_time = 1700000000;
	task.status = t->paused ? 0 : 1;
	task.noseize = t->noseize;
	task.exclusion = t->exclusion;
	task.client_ip = (char *)"";
	return gc_task_to_json(&task);
}

static inline int atu_put_task(gc_etcd *c, const char *prefix, int64_t pid,
			       const atu_task *t)
{
	char *json = atu_task_json(pid, t);
	char *key = gc_key_task(prefix, pid, t->id);
	gc_error err;
	int rc = json && key ? gc_etcd_put(NULL, c, key, json, strlen(json),
					   0, 0, &err)
			     : -1;
	if (rc)
		fprintf(stderr, "put task %s: %s\n", t->id,
			rc == -1 ? "oom" : err.msg);
	gc_free(json);
	gc_free(key);
	return rc;
}

static inline int atu_delete(gc_etcd *c, const char *key)
{
	gc_error err;
	return gc_etcd_delete(NULL, NULL, c, key, 0, &err);
}

/* Put `key` under a fresh lease of `ttl` seconds (as the service does for
 * run-now and kill requests). */
static inline int atu_put_leased(gc_etcd *c, const char *key,
				 const char *value, int ttl)
{
	gc_error err;
	int64_t lease = 0;
	int rc = gc_etcd_lease_grant(&lease, NULL, c, ttl, 0, &err);
	if (!rc)
		rc = gc_etcd_put(NULL, c, key, value, strlen(value), lease, 0,
				 &err);
	if (rc)
		fprintf(stderr, "put %s: %s\n", key, err.msg);
	return rc;
}

static inline int atu_key_exists(gc_etcd *c, const char *key)
{
	gc_etcd_response r = {0};
	gc_error err;
	if (gc_etcd_get(&r, c, key, NULL, &err))
		return -1;
	int n = (int)r.kvs_count;
	gc_etcd_response_clear(&r);
	return n > 0;
}

/* Poll `cond(arg)` every 20 ms until true or `ms` passed; returns the
 * elapsed ms, or -1 on timeout. */
static inline int atu_wait(int (*cond)(void *), void *arg, int ms)
{
	int64_t t0 = gc__mono_ms();
	for (;;) {
		if (cond(arg))
			return (int)(gc__mono_ms() - t0);
		if (gc__mono_ms() - t0 > ms)
			return -1;
		gct_sleep_ms(20);
	}
}

typedef struct atu_keywait {
	gc_etcd *c;
	const char *key;
	int want; /* 1 = present, 0 = absent */
} atu_keywait;

static inline int atu_key_cond(void *arg)
{
	atu_keywait *w = arg;
	return atu_key_exists(w->c, w->key) == w->want;
}

static inline int atu_wait_key(gc_etcd *c, const char *key, int want, int ms)
{
	atu_keywait w = {c, key, want};
	return atu_wait(atu_key_cond, &w, ms);
}

/* Lines of a file ("" when missing); malloc'd. */
static inline char *atu_slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	gc__buf b = GC__BUF_INIT;
	char chunk[4096];
	size_t n;
	if (!f)
		return gc__strdup("");
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		gc__buf_append(&b, chunk, n);
	fclose(f);
	return b.data ? gc__buf_detach(&b) : gc__strdup("");
}

static inline int atu_count_lines(const char *path)
{
	char *s = atu_slurp(path);
	int n = 0;
	for (char *p = s; *p; p++)
		n += *p == '\n';
	free(s);
	return n;
}

typedef struct atu_linewait {
	const char *path;
	int n;
} atu_linewait;

static inline int atu_lines_cond(void *arg)
{
	atu_linewait *w = arg;
	return atu_count_lines(w->path) >= w->n;
}

static inline int atu_wait_lines(const char *path, int n, int ms)
{
	atu_linewait w = {path, n};
	return atu_wait(atu_lines_cond, &w, ms);
}

/* How many times `needle` occurs in the file. */
static inline int atu_count_in_file(const char *path, const char *needle)
{
	char *s = atu_slurp(path);
	int n = 0;
	for (char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
		n++;
	free(s);
	return n;
}

/* Print the tail of an agent log (for failures). */
static inline void atu_dump_log(const atu_agent *a, int lines)
{
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "tail -n %d '%s' | sed 's/^/  [%s] /' >&2",
		 lines, a->log, a->ip);
	if (system(cmd) != 0)
		fprintf(stderr, "  (no log for %s)\n", a->ip);
}

#endif
