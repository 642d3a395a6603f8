/* Shared helpers for the etcd client integration tests (header-only). */
#ifndef GC_TEST_ETCD_UTIL_H
#define GC_TEST_ETCD_UTIL_H

#include <gophercron.h>

#include "harness.h"
#include "internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A client for a comma-separated endpoint list (as the harness gives). */
static inline gc_etcd *etu_client_opts(const char *endpoints,
				       gc_etcd_options *o)
{
	char *copy = strdup(endpoints), *save = NULL, *tok;
	const char *eps[8];
	size_t n = 0;
	gc_etcd *c = NULL;
	gc_error err;
	for (tok = strtok_r(copy, ",", &save); tok && n < 8;
	     tok = strtok_r(NULL, ",", &save))
		eps[n++] = tok;
	o->endpoints = eps;
	o->endpoints_count = n;
	if (gc_etcd_new(&c, o, &err))
		fprintf(stderr, "gc_etcd_new: %s\n", err.msg);
	o->endpoints = NULL;
	free(copy);
	return c;
}

static inline gc_etcd *etu_client(const char *endpoints)
{
	gc_etcd_options o = GC_ETCD_OPTIONS_INIT;
	return etu_client_opts(endpoints, &o);
}

/* Number of open descriptors, and how many lack FD_CLOEXEC (0,1,2 are
 * inherited from the runner and not counted). */
static inline int etu_fd_count(int *not_cloexec)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0, bad = 0;
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		int fd;
		if (e->d_name[0] == '.')
			continue;
		fd = (int)strtol(e->d_name, NULL, 10);
		if (fd == dirfd(d) || fd <= 2)
			continue;
		n++;
		if (!(fcntl(fd, F_GETFD) & FD_CLOEXEC)) {
			char path[64], target[256] = "";
			ssize_t l;
			snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
			l = readlink(path, target, sizeof(target) - 1);
			if (l > 0)
				target[l] = '\0';
			/* descriptors the test runner may have handed us */
			if (strncmp(target, "pipe:", 5) == 0 ||
			    strncmp(target, "/dev/", 5) == 0 ||
			    target[0] == '/')
				continue;
			fprintf(stderr, "fd %d (%s) is not close-on-exec\n",
				fd, target);
			bad++;
		}
	}
	closedir(d);
	if (not_cloexec)
		*not_cloexec = bad;
	return n;
}

/* Does the offset interval of a clock sample, [server_s - received,
 * server_s + 1 - sent], contain `offset_ns` (the member's clock minus the
 * local one)? */
static inline int etu_sample_brackets(const gc_etcd_clock_sample *s,
				      int64_t offset_ns)
{
	int64_t lo = s->server_s * 1000000000LL - s->received_ns;
	int64_t hi = (s->server_s + 1) * 1000000000LL - s->sent_ns;
	if (s->sent_ns > s->received_ns ||
	    s->sent_mono_ns > s->received_mono_ns || lo > offset_ns ||
	    hi < offset_ns) {
		fprintf(stderr,
			"sample sent %lld received %lld Date %lld: offset "
			"in [%lld, %lld] ns, expected %lld\n",
			(long long)s->sent_ns, (long long)s->received_ns,
			(long long)s->server_s, (long long)lo, (long long)hi,
			(long long)offset_ns);
		return 0;
	}
	return 1;
}

#endif
