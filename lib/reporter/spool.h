/* The reporter's on-disk spool: crash-safe, append-only, in order.
 *
 * Directory layout (README.md, "Reporting", has the full description):
 *   lock                 flock(LOCK_EX|LOCK_NB) by the owner; holds its pid
 *   seg-<16 hex>.spool   segments, in sequence order; the last is active
 *   cursor               where delivery stands (two checksummed slots)
 *   dead-letter.jsonl    records the sink rejected for good (reporter)
 *
 * Segment: 16-byte header "GCSPOOL1" + u64 sequence (little endian), then
 * records: u32 payload length, u32 CRC-32 (IEEE) over the length, the four
 * bytes after the CRC and the payload; u8 type, u8 version (1), u16 zero;
 * payload. A record is complete only when its CRC matches: a torn tail
 * after a crash is detected and cut off at open.
 *
 * Cursor: slots at offsets 0 and 512, each "GCUR", u32 CRC-32 of the next
 * 24 bytes, u64 generation, u64 segment sequence, u64 offset. A commit
 * writes the slot of its generation with one pwrite, so a torn write spoils
 * at most one slot; the valid slot with the higher generation wins. The
 * cursor is never fsync'd: a stale cursor only re-delivers records, which
 * carry run ids.
 *
 * Threads: gc__spool_append and gc__spool_stats from any thread; read and
 * commit from one consumer thread.
 */
#ifndef GC_REPORT_SPOOL_H
#define GC_REPORT_SPOOL_H

#include "internal.h"

#include <stdint.h>

#define GC__SPOOL_REC_RESULT 1
#define GC__SPOOL_REC_WARNING 2

#define GC__SPOOL_SEG_HDR 16u
#define GC__SPOOL_REC_HDR 12u
/* Largest payload a record may hold. */
#define GC__SPOOL_MAX_PAYLOAD (256u * 1024u * 1024u)

typedef struct gc__spool gc__spool;

typedef struct gc__spool_pos {
	uint64_t seg; /* segment sequence */
	uint64_t off; /* byte offset of a record boundary in it */
} gc__spool_pos;

typedef struct gc__spool_options {
	const char *dir;
	uint64_t max_bytes;     /* undelivered bytes (record headers included) */
	uint64_t max_records;   /* undelivered records */
	uint64_t segment_bytes; /* rotate the active segment past this */
	int sync;               /* enum gc_reporter_sync */
	int sync_interval_ms;
	gc_log_fn log;
	void *log_payload;
} gc__spool_options;

typedef struct gc__spool_stats {
	uint64_t pending_records;
	uint64_t pending_bytes;
	uint64_t segments;
	uint64_t recovered;  /* records pending at open */
	uint64_t torn_bytes; /* cut at open */
	uint64_t appended;   /* records appended, recovered ones included */
	uint64_t committed;  /* records committed (delivered or removed) */
} gc__spool_stats;

/* One record read from the spool. */
typedef struct gc__spool_rec {
	int type;
	gc__buf payload; /* reused between reads; caller frees */
	uint64_t size;   /* bytes on disk (header + payload) */
	uint64_t skipped; /* GC_EPROTO: records given up */
} gc__spool_rec;

/* CRC-32 (IEEE 802.3, as zlib's crc32). Start with crc = 0. */
uint32_t gc__crc32(uint32_t crc, const void *data, size_t len);

/* Create/lock/recover the spool. GC_ECONFLICT when another process holds
 * the lock (message names its pid). */
int gc__spool_open(gc__spool **out, const gc__spool_options *o,
		   gc_error *err);
/* Sync (unless GC_REPORTER_SYNC_NONE), unlock, free. NULL is harmless. */
void gc__spool_close(gc__spool *s);

/* Append one record. GC_ETOOBIG when the bound would be passed (nothing
 * written), GC_EIO when the write failed (the partial record is removed),
 * GC_ECANCELED once closing. */
int gc__spool_append(gc__spool *s, int type, const void *data, size_t len,
		     gc_error *err);

/* Position of the first undelivered record. */
gc__spool_pos gc__spool_head(gc__spool *s);
/* Read the record at *pos and move *pos past it. 0; GC_ENOTFOUND when
 * nothing is there yet; GC_EPROTO when the record is damaged (logged;
 * *pos is moved past the rest of its segment, rec->size holds the skipped
 * bytes and rec->skipped how many records were given up, so the caller
 * commits past them). */
int gc__spool_read(gc__spool *s, gc__spool_pos *pos, gc__spool_rec *rec,
		   gc_error *err);
/* Everything before `pos` is delivered: `records` records of `bytes`
 * bytes since the previous commit. Writes the cursor, deletes segments
 * left behind. */
int gc__spool_commit(gc__spool *s, gc__spool_pos pos, uint64_t records,
		     uint64_t bytes, gc_error *err);

void gc__spool_get_stats(gc__spool *s, gc__spool_stats *out);
/* The spool directory's fd (O_DIRECTORY), for files next to the spool. */
int gc__spool_dirfd(const gc__spool *s);

#endif
