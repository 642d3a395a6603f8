/* The reporter's spool: append-only segment files with framed records, a
 * two-slot cursor, recovery of torn tails. Format in spool.h. */
#include "spool.h"

#include <gophercron/reporter.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------- CRC-32 */

static const uint32_t crc_table[256] = {
	0x00000000u, 0x77073096u, 0xee0e612cu, 0x990951bau, 0x076dc419u, 0x706af48fu,
	0xe963a535u, 0x9e6495a3u, 0x0edb8832u, 0x79dcb8a4u, 0xe0d5e91eu, 0x97d2d988u,
	0x09b64c2bu, 0x7eb17cbdu, 0xe7b82d07u, 0x90bf1d91u, 0x1db71064u, 0x6ab020f2u,
	0xf3b97148u, 0x84be41deu, 0x1adad47du, 0x6ddde4ebu, 0xf4d4b551u, 0x83d385c7u,
	0x136c9856u, 0x646ba8c0u, 0xfd62f97au, 0x8a65c9ecu, 0x14015c4fu, 0x63066cd9u,
	0xfa0f3d63u, 0x8d080df5u, 0x3b6e20c8u, 0x4c69105eu, 0xd56041e4u, 0xa2677172u,
	0x3c03e4d1u, 0x4b04d447u, 0xd20d85fdu, 0xa50ab56bu, 0x35b5a8fau, 0x42b2986cu,
	0xdbbbc9d6u, 0xacbcf940u, 0x32d86ce3u, 0x45df5c75u, 0xdcd60dcfu, 0xabd13d59u,
	0x26d930acu, 0x51de003au, 0xc8d75180u, 0xbfd06116u, 0x21b4f4b5u, 0x56b3c423u,
	0xcfba9599u, 0xb8bda50fu, 0x2802b89eu, 0x5f058808u, 0xc60cd9b2u, 0xb10be924u,
	0x2f6f7c87u, 0x58684c11u, 0xc1611dabu, 0xb6662d3du, 0x76dc4190u, 0x01db7106u,
	0x98d220bcu, 0xefd5102au, 0x71b18589u, 0x06b6b51fu, 0x9fbfe4a5u, 0xe8b8d433u,
	0x7807c9a2u, 0x0f00f934u, 0x9609a88eu, 0xe10e9818u, 0x7f6a0dbbu, 0x086d3d2du,
	0x91646c97u, 0xe6635c01u, 0x6b6b51f4u, 0x1c6c6162u, 0x856530d8u, 0xf262004eu,
	0x6c0695edu, 0x1b01a57bu, 0x8208f4c1u, 0xf50fc457u, 0x65b0d9c6u, 0x12b7e950u,
	0x8bbeb8eau, 0xfcb9887cu, 0x62dd1ddfu, 0x15da2d49u, 0x8cd37cf3u, 0xfbd44c65u,
	0x4db26158u, 0x3ab551ceu, 0xa3bc0074u, 0xd4bb30e2u, 0x4adfa541u, 0x3dd895d7u,
	0xa4d1c46du, 0xd3d6f4fbu, 0x4369e96au, 0x346ed9fcu, 0xad678846u, 0xda60b8d0u,
	0x44042d73u, 0x33031de5u, 0xaa0a4c5fu, 0xdd0d7cc9u, 0x5005713cu, 0x270241aau,
	0xbe0b1010u, 0xc90c2086u, 0x5768b525u, 0x206f85b3u, 0xb966d409u, 0xce61e49fu,
	0x5edef90eu, 0x29d9c998u, 0xb0d09822u, 0xc7d7a8b4u, 0x59b33d17u, 0x2eb40d81u,
	0xb7bd5c3bu, 0xc0ba6cadu, 0xedb88320u, 0x9abfb3b6u, 0x03b6e20cu, 0x74b1d29au,
	0xead54739u, 0x9dd277afu, 0x04db2615u, 0x73dc1683u, 0xe3630b12u, 0x94643b84u,
	0x0d6d6a3eu, 0x7a6a5aa8u, 0xe40ecf0bu, 0x9309ff9du, 0x0a00ae27u, 0x7d079eb1u,
	0xf00f9344u, 0x8708a3d2u, 0x1e01f268u, 0x6906c2feu, 0xf762575du, 0x806567cbu,
	0x196c3671u, 0x6e6b06e7u, 0xfed41b76u, 0x89d32be0u, 0x10da7a5au, 0x67dd4accu,
	0xf9b9df6fu, 0x8ebeeff9u, 0x17b7be43u, 0x60b08ed5u, 0xd6d6a3e8u, 0xa1d1937eu,
	0x38d8c2c4u, 0x4fdff252u, 0xd1bb67f1u, 0xa6bc5767u, 0x3fb506ddu, 0x48b2364bu,
	0xd80d2bdau, 0xaf0a1b4cu, 0x36034af6u, 0x41047a60u, 0xdf60efc3u, 0xa867df55u,
	0x316e8eefu, 0x4669be79u, 0xcb61b38cu, 0xbc66831au, 0x256fd2a0u, 0x5268e236u,
	0xcc0c7795u, 0xbb0b4703u, 0x220216b9u, 0x5505262fu, 0xc5ba3bbeu, 0xb2bd0b28u,
	0x2bb45a92u, 0x5cb36a04u, 0xc2d7ffa7u, 0xb5d0cf31u, 0x2cd99e8bu, 0x5bdeae1du,
	0x9b64c2b0u, 0xec63f226u, 0x756aa39cu, 0x026d930au, 0x9c0906a9u, 0xeb0e363fu,
	0x72076785u, 0x05005713u, 0x95bf4a82u, 0xe2b87a14u, 0x7bb12baeu, 0x0cb61b38u,
	0x92d28e9bu, 0xe5d5be0du, 0x7cdcefb7u, 0x0bdbdf21u, 0x86d3d2d4u, 0xf1d4e242u,
	0x68ddb3f8u, 0x1fda836eu, 0x81be16cdu, 0xf6b9265bu, 0x6fb077e1u, 0x18b74777u,
	0x88085ae6u, 0xff0f6a70u, 0x66063bcau, 0x11010b5cu, 0x8f659effu, 0xf862ae69u,
	0x616bffd3u, 0x166ccf45u, 0xa00ae278u, 0xd70dd2eeu, 0x4e048354u, 0x3903b3c2u,
	0xa7672661u, 0xd06016f7u, 0x4969474du, 0x3e6e77dbu, 0xaed16a4au, 0xd9d65adcu,
	0x40df0b66u, 0x37d83bf0u, 0xa9bcae53u, 0xdebb9ec5u, 0x47b2cf7fu, 0x30b5ffe9u,
	0xbdbdf21cu, 0xcabac28au, 0x53b39330u, 0x24b4a3a6u, 0xbad03605u, 0xcdd70693u,
	0x54de5729u, 0x23d967bfu, 0xb3667a2eu, 0xc4614ab8u, 0x5d681b02u, 0x2a6f2b94u,
	0xb40bbe37u, 0xc30c8ea1u, 0x5a05df1bu, 0x2d02ef8du,
};

uint32_t gc__crc32(uint32_t crc, const void *data, size_t len)
{
	const unsigned char *p = data;
	crc = ~crc;
	while (len--)
		crc = crc_table[(crc ^ *p++) & 0xffu] ^ (crc >> 8);
	return ~crc;
}

/* ------------------------------------------------------------ helpers */

static void put_u32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t get_u64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static const char SEG_MAGIC[8] = {'G', 'C', 'S', 'P', 'O', 'O', 'L', '1'};
static const char CUR_MAGIC[4] = {'G', 'C', 'U', 'R'};
#define CUR_SLOT 32u
#define CUR_SLOT_STRIDE 512u
#define REC_VERSION 1u

typedef struct seg {
	uint64_t seq;
	uint64_t size;    /* bytes of complete records + header */
	uint64_t records; /* complete records in it */
} seg;

struct gc__spool {
	gc__spool_options o;
	char *dir;
	int dirfd, lockfd, curfd;

	pthread_mutex_t mu;
	/* guarded by mu: */
	seg *segs; /* ascending; the last one is the active segment */
	size_t nsegs, capsegs;
	int wfd;          /* active segment, O_APPEND */
	bool broken_tail; /* a failed write left bytes we could not remove */
	uint64_t pending_records, pending_bytes, appended, committed;
	uint64_t recovered, torn_bytes;
	bool closing;
	/* group commit (GC_REPORTER_SYNC_GROUP) */
	pthread_cond_t sync_cond;
	pthread_t syncer;
	bool syncer_running, dirty, dir_dirty;
	int retired_fd; /* rotated segment waiting for its fdatasync */

	/* consumer thread only: */
	gc__spool_pos head;
	uint64_t cursor_gen;
	int rfd;
	uint64_t rseq;
};

#define LOG(s, level, ...) gc__log((s)->o.log, (s)->o.log_payload, level, __VA_ARGS__)

static void seg_name(char out[40], uint64_t seq)
{
	snprintf(out, 40, "seg-%016" PRIx64 ".spool", seq);
}

static int parse_seg_name(const char *name, uint64_t *seq)
{
	uint64_t v = 0;
	if (strlen(name) != 4 + 16 + 6 || strncmp(name, "seg-", 4) != 0 ||
	    strcmp(name + 20, ".spool") != 0)
		return -1;
	for (int i = 4; i < 20; i++) {
		char c = name[i];
		int d = c >= '0' && c <= '9'   ? c - '0'
			: c >= 'a' && c <= 'f' ? c - 'a' + 10
					       : -1;
		if (d < 0)
			return -1;
		v = v << 4 | (uint64_t)d;
	}
	*seq = v;
	return 0;
}

static ssize_t pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = pread(fd, (char *)buf + got, len - got,
				  (off_t)(off + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

static int mkdir_p(const char *path)
{
	char *p = gc__strdup(path);
	int rc = 0;
	if (!p)
		return -1;
	for (char *q = p + 1; *q && !rc; q++) {
		if (*q != '/')
			continue;
		*q = '\0';
		if (mkdir(p, 0755) && errno != EEXIST)
			rc = -1;
		*q = '/';
	}
	if (!rc && mkdir(p, 0700) && errno != EEXIST)
		rc = -1;
	free(p);
	return rc;
}

static int segs_push(gc__spool *s, uint64_t seq, uint64_t size,
		     uint64_t records)
{
	if (s->nsegs == s->capsegs) {
		size_t cap = s->capsegs ? s->capsegs * 2 : 16;
		seg *n = realloc(s->segs, cap * sizeof(*n));
		if (!n)
			return GC_ENOMEM;
		s->segs = n;
		s->capsegs = cap;
	}
	s->segs[s->nsegs].seq = seq;
	s->segs[s->nsegs].size = size;
	s->segs[s->nsegs].records = records;
	s->nsegs++;
	return 0;
}

static void segs_remove(gc__spool *s, size_t i)
{
	memmove(&s->segs[i], &s->segs[i + 1],
		(s->nsegs - i - 1) * sizeof(*s->segs));
	s->nsegs--;
}

static ssize_t segs_find(const gc__spool *s, uint64_t seq)
{
	size_t lo = 0, hi = s->nsegs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->segs[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->nsegs && s->segs[lo].seq == seq ? (ssize_t)lo : -1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Record header for `len` payload bytes of `type`, CRC included. */
static void rec_header(unsigned char h[GC__SPOOL_REC_HDR], int type,
		       const void *data, size_t len)
{
	uint32_t crc;
	put_u32(h, (uint32_t)len);
	h[8] = (unsigned char)type;
	h[9] = REC_VERSION;
	h[10] = h[11] = 0;
	crc = gc__crc32(0, h, 4);
	crc = gc__crc32(crc, h + 8, 4);
	crc = gc__crc32(crc, data, len);
	put_u32(h + 4, crc);
}

/* Check the record at `off` of a `size`-byte segment file: 0 and its
 * payload length, or -1 when it is torn, damaged or unknown. The payload is
 * left in `buf` when buf is non-NULL (else read in chunks to check it). */
static int rec_check(int fd, uint64_t off, uint64_t size, gc__buf *buf,
		     uint32_t *len_out, int *type_out)
{
	unsigned char h[GC__SPOOL_REC_HDR], chunk[65536];
	uint32_t len, crc;
	if (size < off || size - off < GC__SPOOL_REC_HDR ||
	    pread_full(fd, h, sizeof(h), off) != (ssize_t)sizeof(h))
		return -1;
	len = get_u32(h);
	if (len > GC__SPOOL_MAX_PAYLOAD ||
	    size - off - GC__SPOOL_REC_HDR < len ||
	    (h[8] != GC__SPOOL_REC_RESULT && h[8] != GC__SPOOL_REC_WARNING) ||
	    h[9] != REC_VERSION || h[10] || h[11])
		return -1;
	crc = gc__crc32(0, h, 4);
	crc = gc__crc32(crc, h + 8, 4);
	if (buf) {
		buf->len = 0;
		if (gc__buf_reserve(buf, len))
			return -1;
		if (pread_full(fd, buf->data, len, off + GC__SPOOL_REC_HDR) !=
		    (ssize_t)len)
			return -1;
		buf->len = len;
		buf->data[len] = '\0';
		crc = gc__crc32(crc, buf->data, len);
	} else {
		for (uint32_t done = 0; done < len;) {
			size_t n = len - done < sizeof(chunk) ? len - done
							      : sizeof(chunk);
			if (pread_full(fd, chunk, n,
				       off + GC__SPOOL_REC_HDR + done) !=
			    (ssize_t)n)
				return -1;
			crc = gc__crc32(crc, chunk, n);
			done += (uint32_t)n;
		}
	}
	if (crc != get_u32(h + 4))
		return -1;
	*len_out = len;
	*type_out = h[8];
	return 0;
}

/* ------------------------------------------------------------- cursor */

static int cursor_read(gc__spool *s, gc__spool_pos *pos, uint64_t *gen)
{
	int found = 0;
	for (unsigned slot = 0; slot < 2; slot++) {
		unsigned char b[CUR_SLOT];
		uint64_t g;
		if (pread_full(s->curfd, b, sizeof(b), slot * CUR_SLOT_STRIDE) !=
			    (ssize_t)sizeof(b) ||
		    memcmp(b, CUR_MAGIC, 4) != 0 ||
		    gc__crc32(0, b + 8, 24) != get_u32(b + 4))
			continue;
		g = get_u64(b + 8);
		if (!found || g > *gen) {
			*gen = g;
			pos->seg = get_u64(b + 16);
			pos->off = get_u64(b + 24);
			found = 1;
		}
	}
	return found;
}

static int cursor_write(gc__spool *s, gc__spool_pos pos)
{
	unsigned char b[CUR_SLOT];
	uint64_t gen = s->cursor_gen + 1;
	ssize_t n;
	memcpy(b, CUR_MAGIC, 4);
	put_u64(b + 8, gen);
	put_u64(b + 16, pos.seg);
	put_u64(b + 24, pos.off);
	put_u32(b + 4, gc__crc32(0, b + 8, 24));
	do
		n = pwrite(s->curfd, b, sizeof(b),
			   (off_t)((gen & 1) * CUR_SLOT_STRIDE));
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(b))
		return -1;
	s->cursor_gen = gen;
	return 0;
}

/* ----------------------------------------------------------- segments */

/* Create segment `seq` and make it the active one (mu held or not yet
 * shared). Returns the new fd or -1 with errno. */
static int seg_create(gc__spool *s, uint64_t seq)
{
	char name[40];
	unsigned char h[GC__SPOOL_SEG_HDR];
	int fd, e;
	seg_name(name, seq);
	fd = openat(s->dirfd, name,
		    O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	memcpy(h, SEG_MAGIC, 8);
	put_u64(h + 8, seq);
	if (gc__write_full(fd, h, sizeof(h)) ||
	    segs_push(s, seq, GC__SPOOL_SEG_HDR, 0)) {
		e = errno ? errno : ENOMEM;
		close(fd);
		unlinkat(s->dirfd, name, 0);
		errno = e;
		return -1;
	}
	return fd;
}

/* Retire the active fd after a rotation according to the sync mode. */
static void retire_fd(gc__spool *s, int fd)
{
	switch (s->o.sync) {
	case GC_REPORTER_SYNC_NONE:
		close(fd);
		break;
	case GC_REPORTER_SYNC_ALWAYS:
		fdatasync(fd);
		close(fd);
		fsync(s->dirfd);
		break;
	default:
		if (s->retired_fd >= 0) { /* the syncer is behind: do it here */
			fdatasync(s->retired_fd);
			close(s->retired_fd);
		}
		s->retired_fd = fd;
		s->dirty = s->dir_dirty = true;
		pthread_cond_signal(&s->sync_cond);
	}
}

static int rotate(gc__spool *s, gc_error *err)
{
	uint64_t seq = s->segs[s->nsegs - 1].seq + 1;
	int fd = seg_create(s, seq);
	if (fd < 0)
		return gc__seterr_errno(err, GC_EIO, errno,
					"spool %s: cannot start segment %" PRIu64,
					s->dir, seq);
	retire_fd(s, s->wfd);
	s->wfd = fd;
	s->broken_tail = false;
	return 0;
}

/* Validate segment i at open: cut a torn tail, count what is pending
 * relative to the cursor *cur (adjusted to a record boundary when it is
 * not one). Returns 0, 1 when the segment was removed from the list, or an
 * error. */
static int seg_scan(gc__spool *s, size_t i, gc__spool_pos *cur, bool last,
		    gc_error *err)
{
	char name[40];
	unsigned char h[GC__SPOOL_SEG_HDR];
	struct stat st;
	uint64_t seq = s->segs[i].seq, off = GC__SPOOL_SEG_HDR, records = 0;
	uint64_t bnd = GC__SPOOL_SEG_HDR, bnd_size = 0;
	bool is_cur = seq == cur->seg;
	int fd;
	seg_name(name, seq);
	fd = openat(s->dirfd, name, O_RDWR | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st))
		return gc__seterr_errno(err, GC_EIO, errno,
					"spool %s: cannot open %s", s->dir,
					name);
	if (st.st_size < (off_t)GC__SPOOL_SEG_HDR ||
	    pread_full(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    memcmp(h, SEG_MAGIC, 8) != 0 || get_u64(h + 8) != seq) {
		close(fd);
		if (st.st_size < (off_t)GC__SPOOL_SEG_HDR) {
			/* created but its header never fully written */
			LOG(s, last ? GC_LOG_WARNING : GC_LOG_ERR,
			    "report: spool %s: segment %s was cut short "
			    "(%lld bytes, no records): removed",
			    s->dir, name, (long long)st.st_size);
			s->torn_bytes += (uint64_t)st.st_size;
			unlinkat(s->dirfd, name, 0);
		} else {
			char aside[48];
			snprintf(aside, sizeof(aside), "%s.corrupt", name);
			LOG(s, GC_LOG_ERR,
			    "report: spool %s: segment %s has a bad header: "
			    "moved aside to %s; its %lld bytes are NOT "
			    "delivered",
			    s->dir, name, aside, (long long)st.st_size);
			s->torn_bytes += (uint64_t)st.st_size;
			renameat(s->dirfd, name, s->dirfd, aside);
		}
		segs_remove(s, i);
		return 1;
	}
	for (;;) {
		uint32_t len;
		int type;
		if (off >= (uint64_t)st.st_size)
			break;
		if (rec_check(fd, off, (uint64_t)st.st_size, NULL, &len,
			      &type))
			break;
		uint64_t rs = GC__SPOOL_REC_HDR + (uint64_t)len;
		if (!is_cur || off >= cur->off) {
			s->pending_records++;
			s->pending_bytes += rs;
		} else if (off + rs > cur->off) {
			bnd_size = rs; /* the cursor points inside it */
		}
		if (is_cur && off <= cur->off)
			bnd = off;
		off += rs;
		if (is_cur && off <= cur->off)
			bnd = off;
		records++;
	}
	if (off < (uint64_t)st.st_size) {
		uint64_t torn = (uint64_t)st.st_size - off;
		/* A crash mid-append leaves a torn record at the very end of
		 * the last segment: expected. Anywhere else it is damage. */
		LOG(s, last ? GC_LOG_WARNING : GC_LOG_ERR,
		    "report: spool %s: %s: incomplete or damaged record at "
		    "offset %" PRIu64 " (%" PRIu64 " bytes to the end of the "
		    "file) cut off; the %" PRIu64 " complete records before it "
		    "are kept",
		    s->dir, name, off, torn, records);
		s->torn_bytes += torn;
		if (ftruncate(fd, (off_t)off)) {
			int e = errno;
			close(fd);
			return gc__seterr_errno(err, GC_EIO, e,
						"spool %s: cannot truncate %s",
						s->dir, name);
		}
	}
	close(fd);
	if (is_cur && cur->off != bnd) {
		if (bnd_size) { /* the record the cursor cut is pending */
			s->pending_records++;
			s->pending_bytes += bnd_size;
		}
		cur->off = bnd;
	}
	s->segs[i].size = off;
	s->segs[i].records = records;
	return 0;
}

static int list_segments(gc__spool *s, gc_error *err)
{
	uint64_t *seqs = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int fd = fcntl(s->dirfd, F_DUPFD_CLOEXEC, 0);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return gc__seterr_errno(err, GC_EIO, errno,
					"spool %s: cannot list", s->dir);
	}
	rewinddir(d);
	while ((de = readdir(d))) {
		uint64_t seq;
		if (parse_seg_name(de->d_name, &seq))
			continue;
		if (n == cap) {
			size_t c = cap ? cap * 2 : 16;
			uint64_t *p = realloc(seqs, c * sizeof(*p));
			if (!p) {
				free(seqs);
				closedir(d);
				return gc__seterr(err, GC_ENOMEM,
						  "spool: out of memory");
			}
			seqs = p;
			cap = c;
		}
		seqs[n++] = seq;
	}
	closedir(d);
	if (n)
		qsort(seqs, n, sizeof(*seqs), cmp_u64);
	for (size_t i = 0; i < n; i++)
		if (segs_push(s, seqs[i], 0, 0)) {
			free(seqs);
			return gc__seterr(err, GC_ENOMEM, "spool: out of memory");
		}
	free(seqs);
	return 0;
}

static int recover(gc__spool *s, gc_error *err)
{
	gc__spool_pos cur = {0, GC__SPOOL_SEG_HDR}, disk = {0, 0};
	uint64_t gen = 0, max_seq = 0;
	int have = cursor_read(s, &disk, &gen), rc;
	char name[40];

	s->cursor_gen = gen;
	if ((rc = list_segments(s, err)))
		return rc;
	if (s->nsegs)
		max_seq = s->segs[s->nsegs - 1].seq;
	if (have) {
		cur = disk;
		if (cur.seg > max_seq)
			max_seq = cur.seg;
	}
	/* Segments before the cursor were delivered; their removal was cut
	 * short. */
	while (s->nsegs && have && s->segs[0].seq < cur.seg) {
		seg_name(name, s->segs[0].seq);
		unlinkat(s->dirfd, name, 0);
		segs_remove(s, 0);
	}
	if (!have || (s->nsegs && s->segs[0].seq > cur.seg)) {
		cur.seg = s->nsegs ? s->segs[0].seq : 0;
		cur.off = GC__SPOOL_SEG_HDR;
	}
	for (size_t i = 0; i < s->nsegs;) {
		rc = seg_scan(s, i, &cur, i + 1 == s->nsegs, err);
		if (rc < 0)
			return rc;
		if (rc == 0)
			i++;
	}
	/* The cursor's segment may have been moved aside. */
	if (s->nsegs && segs_find(s, cur.seg) < 0) {
		cur.seg = s->segs[0].seq;
		cur.off = GC__SPOOL_SEG_HDR;
	}
	if (s->nsegs &&
	    s->segs[s->nsegs - 1].size < s->o.segment_bytes) {
		seg_name(name, s->segs[s->nsegs - 1].seq);
		s->wfd = openat(s->dirfd, name, O_WRONLY | O_APPEND | O_CLOEXEC);
		if (s->wfd < 0)
			return gc__seterr_errno(err, GC_EIO, errno,
						"spool %s: cannot open %s",
						s->dir, name);
	} else {
		uint64_t seq = max_seq + 1;
		s->wfd = seg_create(s, seq);
		if (s->wfd < 0)
			return gc__seterr_errno(err, GC_EIO, errno,
						"spool %s: cannot create a "
						"segment",
						s->dir);
		if (s->o.sync != GC_REPORTER_SYNC_NONE)
			fsync(s->dirfd);
		if (s->nsegs == 1) {
			cur.seg = seq;
			cur.off = GC__SPOOL_SEG_HDR;
		}
	}
	if (!have || cur.seg != disk.seg || cur.off != disk.off)
		if (cursor_write(s, cur))
			return gc__seterr_errno(err, GC_EIO, errno,
						"spool %s: cannot write the "
						"cursor",
						s->dir);
	s->head = cur;
	s->recovered = s->appended = s->pending_records;
	if (s->recovered)
		LOG(s, GC_LOG_NOTICE,
		    "report: spool %s: %" PRIu64 " undelivered records (%" PRIu64
		    " bytes) from an earlier run are delivered first",
		    s->dir, s->pending_records, s->pending_bytes);
	return 0;
}

/* --------------------------------------------------------------- sync */

static void *syncer_main(void *arg)
{
	gc__spool *s = arg;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		int fd = -1, retired;
		bool dd;
		while (!s->dirty && !s->closing)
			pthread_cond_wait(&s->sync_cond, &s->mu);
		if (!s->dirty)
			break;
		if (!s->closing) {
			/* Group commit: let records gather for one interval. */
			struct timespec ts;
			gc__mono_deadline(&ts, s->o.sync_interval_ms);
			while (!s->closing &&
			       pthread_cond_timedwait(&s->sync_cond, &s->mu,
						      &ts) != ETIMEDOUT)
				;
		}
		if (s->wfd >= 0)
			fd = fcntl(s->wfd, F_DUPFD_CLOEXEC, 0);
		retired = s->retired_fd;
		s->retired_fd = -1;
		dd = s->dir_dirty;
		s->dirty = s->dir_dirty = false;
		pthread_mutex_unlock(&s->mu);
		if (retired >= 0) {
			fdatasync(retired);
			close(retired);
		}
		if (fd >= 0) {
			fdatasync(fd);
			close(fd);
		}
		if (dd)
			fsync(s->dirfd);
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* --------------------------------------------------------------- open */

static int lock_dir(gc__spool *s, gc_error *err)
{
	char pid[32];
	int n;
	s->lockfd = openat(s->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->lockfd < 0)
		return gc__seterr_errno(err, GC_EIO, errno,
					"spool %s: cannot open the lock file",
					s->dir);
	if (flock(s->lockfd, LOCK_EX | LOCK_NB)) {
		int e = errno;
		if (e == EWOULDBLOCK) {
			ssize_t got = pread_full(s->lockfd, pid, sizeof(pid) - 1, 0);
			pid[got > 0 ? got : 0] = '\0';
			pid[strcspn(pid, "\n")] = '\0';
			return gc__seterr(err, GC_ECONFLICT,
					  "spool %s is in use by another "
					  "process (pid %s holds %s/lock): "
					  "every agent needs its own spool_dir",
					  s->dir, pid[0] ? pid : "unknown",
					  s->dir);
		}
		return gc__seterr_errno(err, GC_EIO, e,
					"spool %s: cannot lock %s/lock", s->dir,
					s->dir);
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(s->lockfd, 0) == 0 &&
	    pwrite(s->lockfd, pid, (size_t)n, 0) != n) {
		/* the pid is informational only */
	}
	return 0;
}

int gc__spool_open(gc__spool **out, const gc__spool_options *o,
		   gc_error *err)
{
	gc__spool *s;
	pthread_condattr_t ca;
	int rc;
	*out = NULL;
	if (!o || !o->dir || !*o->dir)
		return gc__seterr(err, GC_EINVAL, "spool: no spool_dir given");
	s = calloc(1, sizeof(*s));
	if (!s)
		return gc__seterr(err, GC_ENOMEM, "spool: out of memory");
	s->o = *o;
	s->dirfd = s->lockfd = s->curfd = s->wfd = s->rfd = s->retired_fd = -1;
	if (!s->o.max_bytes)
		s->o.max_bytes = 256ull << 20;
	if (!s->o.max_records)
		s->o.max_records = 1000000;
	if (!s->o.segment_bytes)
		s->o.segment_bytes = 8ull << 20;
	if (s->o.segment_bytes > s->o.max_bytes / 4)
		s->o.segment_bytes = s->o.max_bytes / 4;
	if (s->o.segment_bytes < 4096)
		s->o.segment_bytes = 4096;
	if (s->o.sync_interval_ms <= 0)
		s->o.sync_interval_ms = 50;
	s->dir = gc__strdup(o->dir);
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->sync_cond, &ca);
	pthread_condattr_destroy(&ca);
	s->o.dir = s->dir;
	if (!s->dir) {
		rc = gc__seterr(err, GC_ENOMEM, "spool: out of memory");
		goto fail;
	}
	if (mkdir_p(s->dir)) {
		rc = gc__seterr_errno(err, GC_EIO, errno,
				      "spool %s: cannot create the directory",
				      s->dir);
		goto fail;
	}
	s->dirfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0) {
		rc = gc__seterr_errno(err, GC_EIO, errno,
				      "spool %s: cannot open the directory",
				      s->dir);
		goto fail;
	}
	if ((rc = lock_dir(s, err)))
		goto fail;
	s->curfd = openat(s->dirfd, "cursor", O_RDWR | O_CREAT | O_CLOEXEC,
			  0600);
	if (s->curfd < 0) {
		rc = gc__seterr_errno(err, GC_EIO, errno,
				      "spool %s: cannot open the cursor file",
				      s->dir);
		goto fail;
	}
	if ((rc = recover(s, err)))
		goto fail;
	if (s->o.sync == GC_REPORTER_SYNC_GROUP) {
		if (pthread_create(&s->syncer, NULL, syncer_main, s)) {
			rc = gc__seterr(err, GC_ESYS,
					"spool: cannot start the sync thread");
			goto fail;
		}
		s->syncer_running = true;
	}
	*out = s;
	return 0;
fail:
	gc__spool_close(s);
	return rc;
}

void gc__spool_close(gc__spool *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->closing = true;
	pthread_cond_broadcast(&s->sync_cond);
	pthread_mutex_unlock(&s->mu);
	if (s->syncer_running)
		pthread_join(s->syncer, NULL);
	if (s->retired_fd >= 0) {
		if (s->o.sync != GC_REPORTER_SYNC_NONE)
			fdatasync(s->retired_fd);
		close(s->retired_fd);
	}
	if (s->wfd >= 0) {
		if (s->o.sync != GC_REPORTER_SYNC_NONE)
			fdatasync(s->wfd);
		close(s->wfd);
	}
	if (s->rfd >= 0)
		close(s->rfd);
	if (s->curfd >= 0)
		close(s->curfd);
	if (s->lockfd >= 0)
		close(s->lockfd); /* releases the flock */
	if (s->dirfd >= 0)
		close(s->dirfd);
	pthread_cond_destroy(&s->sync_cond);
	pthread_mutex_destroy(&s->mu);
	free(s->segs);
	free(s->dir);
	free(s);
}

/* ------------------------------------------------------------- append */

int gc__spool_append(gc__spool *s, int type, const void *data, size_t len,
		     gc_error *err)
{
	unsigned char h[GC__SPOOL_REC_HDR];
	struct iovec iov[2];
	uint64_t rs = GC__SPOOL_REC_HDR + (uint64_t)len;
	size_t done = 0, total = (size_t)rs;
	seg *act;
	int rc = 0;

	if (type != GC__SPOOL_REC_RESULT && type != GC__SPOOL_REC_WARNING)
		return gc__seterr(err, GC_EINVAL, "spool: bad record type %d",
				  type);
	rec_header(h, type, data, len);
	pthread_mutex_lock(&s->mu);
	if (s->closing) {
		rc = gc__seterr(err, GC_ECANCELED, "spool %s: closing", s->dir);
		goto out;
	}
	if (len > GC__SPOOL_MAX_PAYLOAD || rs > s->o.max_bytes) {
		rc = gc__seterr(err, GC_ETOOBIG,
				"spool %s: a record of %zu bytes is larger "
				"than the spool bound (%" PRIu64 " bytes)",
				s->dir, len,
				s->o.max_bytes < GC__SPOOL_MAX_PAYLOAD
					? s->o.max_bytes
					: (uint64_t)GC__SPOOL_MAX_PAYLOAD);
		goto out;
	}
	if (s->pending_records >= s->o.max_records ||
	    s->pending_bytes + rs > s->o.max_bytes) {
		rc = gc__seterr(err, GC_ETOOBIG,
				"spool %s is full: %" PRIu64 " records, %" PRIu64
				" bytes waiting for the sink (bound %" PRIu64
				" records, %" PRIu64 " bytes)",
				s->dir, s->pending_records, s->pending_bytes,
				s->o.max_records, s->o.max_bytes);
		goto out;
	}
	act = &s->segs[s->nsegs - 1];
	if (s->broken_tail || (act->size > GC__SPOOL_SEG_HDR &&
			       act->size + rs > s->o.segment_bytes)) {
		if ((rc = rotate(s, err)))
			goto out;
		act = &s->segs[s->nsegs - 1];
	}
	while (done < total) {
		ssize_t n;
		if (done < GC__SPOOL_REC_HDR) {
			iov[0].iov_base = h + done;
			iov[0].iov_len = GC__SPOOL_REC_HDR - done;
			iov[1].iov_base = (void *)data;
			iov[1].iov_len = len;
			n = writev(s->wfd, iov, 2);
		} else {
			n = write(s->wfd,
				  (const char *)data + (done - GC__SPOOL_REC_HDR),
				  total - done);
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;
			/* Take the partial record back so the next one
			 * starts on a boundary; if that fails too, the next
			 * record goes to a new segment. */
			if (done && ftruncate(s->wfd, (off_t)act->size))
				s->broken_tail = true;
			rc = gc__seterr_errno(err, GC_EIO, e,
					      "spool %s: cannot write segment "
					      "%" PRIu64,
					      s->dir, act->seq);
			goto out;
		}
		done += (size_t)n;
	}
	act->size += rs;
	act->records++;
	s->pending_records++;
	s->pending_bytes += rs;
	s->appended++;
	if (s->o.sync == GC_REPORTER_SYNC_ALWAYS) {
		if (fdatasync(s->wfd))
			LOG(s, GC_LOG_ERR,
			    "report: spool %s: fdatasync failed: %s (the "
			    "record is written but may not survive a power "
			    "loss)",
			    s->dir, strerror(errno));
	} else if (s->o.sync == GC_REPORTER_SYNC_GROUP && !s->dirty) {
		s->dirty = true;
		pthread_cond_signal(&s->sync_cond);
	}
out:
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* --------------------------------------------------------------- read */

gc__spool_pos gc__spool_head(gc__spool *s)
{
	return s->head;
}

int gc__spool_dirfd(const gc__spool *s)
{
	return s->dirfd;
}

/* Records before `end` in the consumer's open segment (frames there were
 * validated). */
static uint64_t count_records(int fd, uint64_t end)
{
	uint64_t off = GC__SPOOL_SEG_HDR, n = 0;
	unsigned char h[GC__SPOOL_REC_HDR];
	while (off < end &&
	       pread_full(fd, h, sizeof(h), off) == (ssize_t)sizeof(h)) {
		off += GC__SPOOL_REC_HDR + (uint64_t)get_u32(h);
		n++;
	}
	return n;
}

int gc__spool_read(gc__spool *s, gc__spool_pos *pos, gc__spool_rec *rec,
		   gc_error *err)
{
	uint64_t size, records;
	uint32_t len;
	int type;
	bool active;
	ssize_t i;

	rec->size = rec->skipped = 0;
	for (;;) {
		pthread_mutex_lock(&s->mu);
		i = segs_find(s, pos->seg);
		if (i < 0) {
			/* The segment is gone (deleted after delivery): go on
			 * with the next one there is. */
			size_t k = 0;
			while (k < s->nsegs && s->segs[k].seq < pos->seg)
				k++;
			if (k == s->nsegs) { /* beyond the active segment */
				pthread_mutex_unlock(&s->mu);
				return GC_ENOTFOUND;
			}
			pos->seg = s->segs[k].seq;
			pos->off = GC__SPOOL_SEG_HDR;
			pthread_mutex_unlock(&s->mu);
			continue;
		}
		size = s->segs[i].size;
		records = s->segs[i].records;
		active = (size_t)i + 1 == s->nsegs;
		if (pos->off < size)
			break;
		if (active) {
			pthread_mutex_unlock(&s->mu);
			return GC_ENOTFOUND;
		}
		pos->seg = s->segs[i + 1].seq;
		pos->off = GC__SPOOL_SEG_HDR;
		pthread_mutex_unlock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	if (s->rfd < 0 || s->rseq != pos->seg) {
		char name[40];
		if (s->rfd >= 0)
			close(s->rfd);
		seg_name(name, pos->seg);
		s->rfd = openat(s->dirfd, name, O_RDONLY | O_CLOEXEC);
		s->rseq = pos->seg;
		if (s->rfd < 0)
			return gc__seterr_errno(err, GC_EIO, errno,
						"spool %s: cannot open %s",
						s->dir, name);
	}
	if (rec_check(s->rfd, pos->off, size, &rec->payload, &len, &type) ==
	    0) {
		rec->type = type;
		rec->size = GC__SPOOL_REC_HDR + (uint64_t)len;
		pos->off += rec->size;
		return 0;
	}
	/* Damaged after it was checked at open or written: something else
	 * touched the file, or the disk failed. Give up the rest of the
	 * segment (loudly) so the queue does not stop for good; new records
	 * go to a new segment. */
	rec->skipped = records - count_records(s->rfd, pos->off);
	rec->size = size - pos->off;
	LOG(s, GC_LOG_ERR,
	    "report: spool %s: segment %" PRIu64 " is damaged at offset %" PRIu64
	    ": %" PRIu64 " records (%" PRIu64 " bytes) in it are NOT "
	    "delivered",
	    s->dir, pos->seg, pos->off, rec->skipped, rec->size);
	pthread_mutex_lock(&s->mu);
	if (active)
		s->broken_tail = true;
	pthread_mutex_unlock(&s->mu);
	pos->off = size;
	return gc__seterr(err, GC_EPROTO, "spool %s: segment %" PRIu64
					  " damaged", s->dir, pos->seg);
}

/* ------------------------------------------------------------- commit */

int gc__spool_commit(gc__spool *s, gc__spool_pos pos, uint64_t records,
		     uint64_t bytes, gc_error *err)
{
	uint64_t gone[64];
	size_t ngone = 0;
	int rc = 0;

	pthread_mutex_lock(&s->mu);
	s->pending_records -= records < s->pending_records ? records
							    : s->pending_records;
	s->pending_bytes -= bytes < s->pending_bytes ? bytes : s->pending_bytes;
	s->committed += records;
	for (;;) {
		ssize_t i = segs_find(s, pos.seg);
		if (i < 0 || (size_t)i + 1 == s->nsegs ||
		    pos.off < s->segs[i].size)
			break;
		pos.seg = s->segs[i + 1].seq;
		pos.off = GC__SPOOL_SEG_HDR;
	}
	while (s->nsegs > 1 && s->segs[0].seq < pos.seg &&
	       ngone < GC__ARRAY_LEN(gone)) {
		gone[ngone++] = s->segs[0].seq;
		segs_remove(s, 0);
	}
	pthread_mutex_unlock(&s->mu);
	s->head = pos;
	/* The cursor goes first: a crash between the two re-sends nothing
	 * and leaves at most a delivered segment that the next open deletes. */
	if (cursor_write(s, pos))
		rc = gc__seterr_errno(err, GC_EIO, errno,
				      "spool %s: cannot write the cursor",
				      s->dir);
	for (size_t k = 0; k < ngone; k++) {
		char name[40];
		if (s->rfd >= 0 && s->rseq == gone[k]) {
			close(s->rfd);
			s->rfd = -1;
		}
		seg_name(name, gone[k]);
		unlinkat(s->dirfd, name, 0);
	}
	return rc;
}

void gc__spool_get_stats(gc__spool *s, gc__spool_stats *out)
{
	pthread_mutex_lock(&s->mu);
	out->pending_records = s->pending_records;
	out->pending_bytes = s->pending_bytes;
	out->segments = s->nsegs;
	out->recovered = s->recovered;
	out->torn_bytes = s->torn_bytes;
	out->appended = s->appended;
	out->committed = s->committed;
	pthread_mutex_unlock(&s->mu);
}
