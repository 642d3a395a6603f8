/* The etcd key layout: the contract between the service, which writes
 * tasks and requests, and the agents, which watch and claim them. Exact
 * keys, prefixes for ranges and watches, and the classifier
 * (include/gophercron/keys.h). */
#include "internal.h"

#include <gophercron/keys.h>

#include <ctype.h>
#include <inttypes.h>
#include <string.h>

#define GC_DEFAULT_PREFIX "/gopher_cron"

/* --------------------------------------------------------- key parts */

GC_EXTERN int gc_task_id_valid(const char *id)
{
	size_t n;
	if (!id || !*id)
		return 0;
	n = strlen(id);
	if (n > GC_TASK_ID_MAX || strcmp(id, "t_scheduler") == 0 ||
	    strcmp(id, "t_status") == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)id[i];
		if (!(isalnum(c) && c < 0x80) && c != '.' && c != '_' &&
		    c != '-')
			return 0;
	}
	return 1;
}

static size_t prefix_len(const char *prefix)
{
	size_t n = strlen(prefix);
	while (n > 0 && prefix[n - 1] == '/')
		n--;
	return n;
}

static int part_valid(const char *s, size_t n)
{
	if (n == 0 || n >= GC_KEY_PART_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f ||
		    s[i] == '/')
			return 0;
	return 1;
}

static int tid_valid_n(const char *s, size_t n)
{
	char buf[GC_TASK_ID_MAX + 1];
	if (n == 0 || n > GC_TASK_ID_MAX)
		return 0;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return gc_task_id_valid(buf);
}

/* ------------------------------------------------------------ builders */

/* Build "P/<fmt...>" where `fmt` holds %s for validated parts. */
static char *key_build(const char *prefix, const char *fmt, ...)
	GC__PRINTF(2, 3);
static char *key_build(const char *prefix, const char *fmt, ...)
{
	gc__buf b = GC__BUF_INIT;
	va_list ap;
	int rc;
	if (!prefix)
		prefix = GC_DEFAULT_PREFIX;
	rc = gc__buf_append(&b, prefix, prefix_len(prefix));
	rc |= gc__buf_puts(&b, "/");
	va_start(ap, fmt);
	rc |= gc__buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (rc) {
		gc__buf_free(&b);
		return NULL;
	}
	return gc__buf_detach(&b);
}

#define PID_OK(pid) ((pid) > 0)
#define TID_OK(tid) gc_task_id_valid(tid)
#define PART_OK(s) ((s) && part_valid((s), strlen(s)))

GC_EXTERN char *gc_key_task(const char *prefix, int64_t pid, const char *tid)
{
	if (!PID_OK(pid) || !TID_OK(tid))
		return NULL;
	return key_build(prefix, "%" PRId64 "/%s", pid, tid);
}

GC_EXTERN char *gc_key_run_now(const char *prefix, int64_t pid,
			       const char *tid)
{
	if (!PID_OK(pid) || !TID_OK(tid))
		return NULL;
	return key_build(prefix, "%" PRId64 "/t_scheduler/%s", pid, tid);
}

GC_EXTERN char *gc_key_status(const char *prefix, int64_t pid,
			      const char *tid)
{
	if (!PID_OK(pid) || !TID_OK(tid))
		return NULL;
	return key_build(prefix, "%" PRId64 "/%s/t_status", pid, tid);
}

GC_EXTERN char *gc_key_lock(const char *prefix, int64_t pid, const char *tid)
{
	if (!PID_OK(pid) || !TID_OK(tid))
		return NULL;
	return key_build(prefix, "lock/%" PRId64 "/%s", pid, tid);
}

GC_EXTERN char *gc_key_claim(const char *prefix, int64_t pid,
			     const char *tid, int64_t plan_unix)
{
	if (!PID_OK(pid) || !TID_OK(tid) || plan_unix < 0)
		return NULL;
	return key_build(prefix, "lock/%" PRId64 "/%s/%" PRId64, pid, tid,
			 plan_unix);
}

GC_EXTERN char *gc_key_kill(const char *prefix, int64_t pid, const char *tid)
{
	if (!PID_OK(pid) || !TID_OK(tid))
		return NULL;
	return key_build(prefix, "kill/%" PRId64 "/%s", pid, tid);
}

GC_EXTERN char *gc_key_register(const char *prefix, int64_t pid,
				const char *ip)
{
	if (!PID_OK(pid) || !PART_OK(ip))
		return NULL;
	return key_build(prefix, "register/%" PRId64 "/%s", pid, ip);
}

GC_EXTERN char *gc_key_agent_cmd(const char *prefix, const char *ip,
				 const char *command)
{
	if (!PART_OK(ip) || !PART_OK(command))
		return NULL;
	return key_build(prefix, "agent/%s/%s", ip, command);
}

GC_EXTERN char *gc_key_project_prefix(const char *prefix, int64_t pid)
{
	if (!PID_OK(pid))
		return NULL;
	return key_build(prefix, "%" PRId64 "/", pid);
}

GC_EXTERN char *gc_key_run_now_prefix(const char *prefix, int64_t pid)
{
	if (!PID_OK(pid))
		return NULL;
	return key_build(prefix, "%" PRId64 "/t_scheduler/", pid);
}

GC_EXTERN char *gc_key_kill_prefix(const char *prefix, int64_t pid)
{
	if (!PID_OK(pid))
		return NULL;
	return key_build(prefix, "kill/%" PRId64 "/", pid);
}

GC_EXTERN char *gc_key_register_prefix(const char *prefix, int64_t pid)
{
	if (!PID_OK(pid))
		return NULL;
	return key_build(prefix, "register/%" PRId64 "/", pid);
}

GC_EXTERN char *gc_key_agent_prefix(const char *prefix, const char *ip)
{
	if (!PART_OK(ip))
		return NULL;
	return key_build(prefix, "agent/%s/", ip);
}

GC_EXTERN char *gc_key_claim_prefix(const char *prefix, int64_t pid,
				    const char *tid)
{
	if (!PID_OK(pid) || !TID_OK(tid))
		return NULL;
	return key_build(prefix, "lock/%" PRId64 "/%s/", pid, tid);
}

/* ---------------------------------------------------------- classifier */

/* Canonical non-negative decimal (no sign, no leading zeros). */
static int canon_int(const char *s, size_t n, int64_t *out)
{
	int64_t v = 0;
	if (n == 0 || n > 18 || (n > 1 && s[0] == '0'))
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 1;
}

static void copy_part(char *dst, const char *s, size_t n)
{
	memcpy(dst, s, n);
	dst[n] = '\0';
}

GC_EXTERN gc_key_kind gc_key_parse(const char *prefix, const char *key,
				   size_t len, gc_key_info *out)
{
	const char *seg[5];
	size_t seglen[5], nseg = 0, plen;
	const char *p, *end;
	gc_key_info info;
	int64_t pid = 0;
	memset(&info, 0, sizeof(info));
	if (out)
		*out = info;
	if (!key || !out)
		return GC_KEY_UNKNOWN;
	if (!prefix)
		prefix = GC_DEFAULT_PREFIX;
	plen = prefix_len(prefix);
	if (len < plen + 1 || memcmp(key, prefix, plen) != 0 || key[plen] != '/')
		return GC_KEY_UNKNOWN;
	p = key + plen + 1;
	end = key + len;
	while (p <= end) {
		const char *q = memchr(p, '/', (size_t)(end - p));
		if (!q)
			q = end;
		if (nseg == 5 || q == p)
			return GC_KEY_UNKNOWN; /* too deep, or an empty part */
		seg[nseg] = p;
		seglen[nseg++] = (size_t)(q - p);
		if (!part_valid(seg[nseg - 1], seglen[nseg - 1]))
			return GC_KEY_UNKNOWN;
		p = q + 1;
	}
#define SEG_IS(i, lit) (seglen[i] == sizeof(lit) - 1 && !memcmp(seg[i], lit, seglen[i]))
	if (nseg >= 2 && canon_int(seg[0], seglen[0], &pid) && pid > 0) {
		info.project_id = pid;
		if (nseg == 2 && tid_valid_n(seg[1], seglen[1])) {
			info.kind = GC_KEY_TASK;
			copy_part(info.task_id, seg[1], seglen[1]);
		} else if (nseg == 3 && SEG_IS(1, "t_scheduler") &&
			   tid_valid_n(seg[2], seglen[2])) {
			info.kind = GC_KEY_RUN_NOW;
			copy_part(info.task_id, seg[2], seglen[2]);
		} else if (nseg == 3 && SEG_IS(2, "t_status") &&
			   tid_valid_n(seg[1], seglen[1])) {
			info.kind = GC_KEY_STATUS;
			copy_part(info.task_id, seg[1], seglen[1]);
		}
	} else if (nseg >= 3 && SEG_IS(0, "agent")) {
		if (nseg == 3) {
			info.kind = GC_KEY_AGENT_CMD;
			copy_part(info.ip, seg[1], seglen[1]);
			copy_part(info.command, seg[2], seglen[2]);
		}
	} else if (nseg >= 3 && canon_int(seg[1], seglen[1], &pid) && pid > 0) {
		info.project_id = pid;
		if (SEG_IS(0, "register")) {
			if (nseg == 3) {
				info.kind = GC_KEY_REGISTER;
				copy_part(info.ip, seg[2], seglen[2]);
			}
		} else if (tid_valid_n(seg[2], seglen[2])) {
			copy_part(info.task_id, seg[2], seglen[2]);
			if (SEG_IS(0, "lock") && nseg == 3)
				info.kind = GC_KEY_LOCK;
			else if (SEG_IS(0, "lock") && nseg == 4 &&
				 canon_int(seg[3], seglen[3], &info.plan_unix))
				info.kind = GC_KEY_CLAIM;
			else if (SEG_IS(0, "kill") && nseg == 3)
				info.kind = GC_KEY_KILL;
			else if (SEG_IS(0, "update") && nseg == 3)
				info.kind = GC_KEY_UPDATE;
		}
	}
#undef SEG_IS
	if (info.kind == GC_KEY_UNKNOWN)
		memset(&info, 0, sizeof(info));
	*out = info;
	return info.kind;
}

GC_EXTERN const char *gc_key_kind_name(gc_key_kind kind)
{
	switch (kind) {
	case GC_KEY_TASK: return "task";
	case GC_KEY_STATUS: return "status";
	case GC_KEY_RUN_NOW: return "run_now";
	case GC_KEY_KILL: return "kill";
	case GC_KEY_LOCK: return "lock";
	case GC_KEY_CLAIM: return "claim";
	case GC_KEY_REGISTER: return "register";
	case GC_KEY_AGENT_CMD: return "agent_cmd";
	case GC_KEY_UPDATE: return "update";
	default: return "unknown";
	}
}

