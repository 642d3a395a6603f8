/* gcronctl: what it prints. Aligned tables for people, JSON for scripts
 * (--json), times in local time, and the decoding of a log's result. */
#ifndef GCRONCTL_OUTPUT_H
#define GCRONCTL_OUTPUT_H

#include <cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct ctl_table ctl_table;

/* A table with `ncols` columns named by the following const char *
 * arguments (printed as given, usually upper case). NULL on OOM. */
ctl_table *ctl_table_new(size_t ncols, ...);
/* Cap column `col` at `width` characters (cut with "..."). */
void ctl_table_limit(ctl_table *t, size_t col, size_t width);
/* Add a row of ncols const char * cells (NULL = ""). Control characters
 * are shown as '?' (and newlines/tabs as spaces) so a cell cannot break
 * the table or drive the terminal. */
void ctl_table_row(ctl_table *t, ...);
size_t ctl_table_rows(const ctl_table *t);
/* Columns separated by two spaces, padded to the widest cell (counted in
 * UTF-8 characters); the last column is not padded. */
void ctl_table_print(const ctl_table *t, FILE *out);
void ctl_table_free(ctl_table *t);

/* "key:" padded to a column, then the value made safe for one line. */
void ctl_kv(const char *key, const char *value);
/* A further line of the value above, aligned with it. */
void ctl_kv_more(const char *value);
void ctl_kv_bytes_more(const char *value, size_t len);

/* "2024-05-01 10:00:00" in local time; "-" for 0. */
const char *ctl_time(int64_t unix_s, char buf[32]);
/* "3s", "2m05s", "1h02m", "-" for negative. */
const char *ctl_duration(int64_t seconds, char buf[32]);

/* Print a JSON value (indented) and a newline on stdout; takes no
 * ownership. Returns 0 or -1 (out of memory / write error, reported). */
int ctl_json_print(const cJSON *v);

/* A byte string (may hold NUL bytes). */
typedef struct ctl_bytes {
	char *data;
	size_t len;
} ctl_bytes;

/* Decode a log's result text {"result":OUTPUT,"system_error":ERR,
 * "error":E} byte-exactly (\u0000 and surrogate pairs included). Members
 * that are missing come back empty. Returns 0, or -1 when the text is not
 * such an object (then output holds the text itself). Free with
 * ctl_bytes_free. */
int ctl_log_result(const char *text, ctl_bytes *output, ctl_bytes *error,
		   ctl_bytes *system_error);
void ctl_bytes_free(ctl_bytes *b);
/* A cJSON string item for bytes that may contain NUL (a raw item holding
 * the escaped literal). */
cJSON *ctl_json_bytes(const ctl_bytes *b);

/* A run's error text: system_error when set, else error. */
const ctl_bytes *ctl_run_error(const ctl_bytes *err, const ctl_bytes *sys);
/* Add "output" and "error" (decoded from "result") to a log object. */
void ctl_log_decode(cJSON *log);
/* Print a run (a log object): its output raw on stdout (with --details a
 * description first), a failure's error on stderr; with json, the log
 * with "output" and "error" added. Returns 0, or 1 when stdout cannot be
 * written. */
int ctl_run_print(const char *cmd, bool json, cJSON *log, bool details);

/* Copy `s` for one line of terminal output: control characters become
 * '?', newlines and tabs spaces, at most `max` characters (then "...").
 * Returns a malloc'd string (NULL on OOM). */
char *ctl_one_line(const char *s, size_t len, size_t max);

#endif
