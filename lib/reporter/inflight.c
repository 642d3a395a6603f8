/* The journal of runs in progress: a file per run under running/. Format
 * and guarantees in inflight.h. */
#include "inflight.h"

#include "spool.h"

#include <gophercron/reporter.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RUN_SUFFIX ".run"
#define TMP_PREFIX ".tmp-"
#define NAME_KEEP  180u
#define BODY_MAX   (16u << 20)

struct gc__inflight {
	int dirfd; /* running/ */
	int sync;
	char *dir;
};

void gc__inflight_name(const char *run_id, char out[256])
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0, i, idlen = strlen(run_id);
	for (i = 0; i < idlen; i++) {
		unsigned char c = (unsigned char)run_id[i];
		int safe = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			   (c >= '0' && c <= '9') || c == '-' || c == '_' ||
			   (c == '.' && i > 0);
		if (o + (safe ? 1u : 3u) > NAME_KEEP)
			break;
		if (safe) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	/* A cut name is made unique again by a checksum of the whole id ('~'
	 * is always escaped, so no whole id looks like this). */
	if (i < idlen)
		snprintf(out + o, 256 - o, "~%08x",
			 (unsigned)gc__crc32(0, run_id, idlen));
}

int gc__inflight_open(gc__inflight **out, int spool_dirfd, const char *dir,
		      int sync, gc_error *err)
{
	gc__inflight *j;
	*out = NULL;
	if (mkdirat(spool_dirfd, "running", 0700) && errno != EEXIST)
		return gc__seterr_errno(err, GC_EIO, errno,
					"spool %s: cannot create running/",
					dir);
	j = calloc(1, sizeof(*j));
	if (!j || !(j->dir = gc__strdup(dir))) {
		free(j);
		return gc__seterr(err, GC_ENOMEM, "spool: out of memory");
	}
	j->sync = sync;
	j->dirfd =
	    openat(spool_dirfd, "running", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (j->dirfd < 0) {
		int e = errno;
		gc__inflight_close(j);
		return gc__seterr_errno(err, GC_EIO, e,
					"spool %s: cannot open running/", dir);
	}
	*out = j;
	return 0;
}

void gc__inflight_close(gc__inflight *j)
{
	if (!j)
		return;
	if (j->dirfd >= 0)
		close(j->dirfd);
	free(j->dir);
	free(j);
}

int gc__inflight_add(gc__inflight *j, const char *run_id, const char *body,
		     size_t len, gc_error *err)
{
	char name[256], fin[270], tmp[270];
	int fd, e;
	if (!run_id || !*run_id)
		return gc__seterr(err, GC_EINVAL,
				  "spool: a started run needs a run id");
	gc__inflight_name(run_id, name);
	snprintf(fin, sizeof(fin), "%s" RUN_SUFFIX, name);
	snprintf(tmp, sizeof(tmp), TMP_PREFIX "%s", name);
	/* Written aside and renamed, so a .run file is always complete. */
	fd = openat(j->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0600);
	if (fd < 0)
		return gc__seterr_errno(err, GC_EIO, errno,
					"spool %s: cannot create running/%s",
					j->dir, tmp);
	if (gc__write_full(fd, body, len) ||
	    (j->sync == GC_REPORTER_SYNC_ALWAYS && fdatasync(fd))) {
		e = errno ? errno : EIO;
		close(fd);
		unlinkat(j->dirfd, tmp, 0);
		return gc__seterr_errno(err, GC_EIO, e,
					"spool %s: cannot write running/%s",
					j->dir, tmp);
	}
	close(fd);
	if (renameat(j->dirfd, tmp, j->dirfd, fin)) {
		e = errno;
		unlinkat(j->dirfd, tmp, 0);
		return gc__seterr_errno(err, GC_EIO, e,
					"spool %s: cannot rename running/%s",
					j->dir, tmp);
	}
	if (j->sync == GC_REPORTER_SYNC_ALWAYS)
		fsync(j->dirfd);
	return 0;
}

int gc__inflight_remove_name(gc__inflight *j, const char *name)
{
	char fin[270];
	snprintf(fin, sizeof(fin), "%s" RUN_SUFFIX, name);
	if (unlinkat(j->dirfd, fin, 0))
		return errno == ENOENT ? GC_ENOTFOUND : GC_EIO;
	return 0;
}

void gc__inflight_set_aside(gc__inflight *j, const char *name)
{
	char fin[270], bad[270];
	snprintf(fin, sizeof(fin), "%s" RUN_SUFFIX, name);
	snprintf(bad, sizeof(bad), "%s.bad", name);
	if (renameat(j->dirfd, fin, j->dirfd, bad))
		unlinkat(j->dirfd, fin, 0);
}

int gc__inflight_remove(gc__inflight *j, const char *run_id)
{
	char name[256];
	if (!run_id || !*run_id)
		return GC_ENOTFOUND;
	gc__inflight_name(run_id, name);
	return gc__inflight_remove_name(j, name);
}

static void read_entry(gc__inflight *j, gc__inflight_entry *e)
{
	char fin[270];
	snprintf(fin, sizeof(fin), "%s" RUN_SUFFIX, e->name);
	if (gc__read_file_at(j->dirfd, fin, BODY_MAX, &e->body, &e->len))
		e->errnum = errno;
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const gc__inflight_entry *)a)->name,
		      ((const gc__inflight_entry *)b)->name);
}

int gc__inflight_list(gc__inflight *j, gc__inflight_entry **out, size_t *n,
		      gc_error *err)
{
	gc__inflight_entry *v = NULL;
	size_t cnt = 0, cap = 0;
	struct dirent *de;
	int fd = openat(j->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	*out = NULL;
	*n = 0;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return gc__seterr_errno(err, GC_EIO, errno,
					"spool %s: cannot list running/",
					j->dir);
	}
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0) {
			unlinkat(j->dirfd, de->d_name, 0);
			continue;
		}
		if (len <= strlen(RUN_SUFFIX) ||
		    len - strlen(RUN_SUFFIX) >= 256 ||
		    strcmp(de->d_name + len - strlen(RUN_SUFFIX), RUN_SUFFIX))
			continue;
		if (cnt == cap) {
			size_t nc = cap ? cap * 2 : 8;
			gc__inflight_entry *nv = realloc(v, nc * sizeof(*nv));
			if (!nv) {
				closedir(d);
				gc__inflight_entries_free(v, cnt);
				return gc__seterr(err, GC_ENOMEM,
						  "spool: out of memory");
			}
			v = nv;
			cap = nc;
		}
		memset(&v[cnt], 0, sizeof(v[cnt]));
		memcpy(v[cnt].name, de->d_name, len - strlen(RUN_SUFFIX));
		read_entry(j, &v[cnt]);
		cnt++;
	}
	closedir(d);
	if (cnt)
		qsort(v, cnt, sizeof(*v), cmp_entry);
	*out = v;
	*n = cnt;
	return 0;
}

void gc__inflight_entries_free(gc__inflight_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(e[i].body);
	free(e);
}
