/* Configuration module internals. Not installed.
 *
 * One parser reads a file, from top to bottom:
 *   parse.c     the file: lines, `#` comments, [section] headers, `key =`;
 *               looks every key up in the kind's table (the one place that
 *               reports unknown keys and sections), refuses keys set twice
 *               and top-level keys inside a section, calls the key's setter
 *   value.c     the value after `=`: TOML strings, integers, booleans and
 *               one-level arrays (which may span lines)
 *   fields.c    the agent's and the service's key tables: section, key,
 *               member and setter (type check, units, range) of every key
 *   defaults.c  init, clear and the defaults (client_ip, spool_dir, etcd)
 *   unknown.c   names the table does not have: GopherCron 1.10's keys
 *               (valid, ignored) and did-you-mean suggestions
 *   load.c      the public load functions: read the file, parse into a
 *               fresh struct, check across keys, swap it in
 *
 * GopherCron 1.10's files are TOML. The parser is the library's own, not
 * inih, which reads INI: parse.c says what inih does differently. */
#ifndef GC_CONFIG_INTERNAL_H
#define GC_CONFIG_INTERNAL_H

#include <gophercron/config.h>

#include "internal.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------ values */

enum { GC__CFG_STR, GC__CFG_INT, GC__CFG_BOOL, GC__CFG_ARRAY };

/* A decoded value. Strings are malloc'd (NUL-terminated, never NULL for
 * GC__CFG_STR), arrays hold items of one kind. */
typedef struct gc__cfg_value {
	int kind;
	char *s;		     /* GC__CFG_STR */
	int64_t i;		     /* GC__CFG_INT */
	bool b;			     /* GC__CFG_BOOL */
	struct gc__cfg_value *items; /* GC__CFG_ARRAY */
	size_t n;
	int item_kind; /* kind of the items, -1 when empty */
} gc__cfg_value;

/* Why a value could not be decoded and where: `at` points into the text
 * (an item, an unterminated string's quote, an array's '['). */
typedef struct gc__cfg_verror {
	const char *msg;
	const char *at;
} gc__cfg_verror;

/* Decode the value at *pp in a NUL-terminated text: a "basic string"
 * (escapes \" \\ \n \t \r \b \f \uXXXX \UXXXXXXXX), a 'literal string', a
 * decimal integer (sign, '_' between digits), true or false, or an array
 * of one kind of those ([1, 2], ["a",], spaces, a trailing comma). An
 * array may span lines, with blank lines and `#` comments between items;
 * a line that starts like a statement (`key =` or `[`) ends it with
 * "array is missing its closing ]". A string ends on its line.
 * Returns 0 with *pp just past the value (the caller checks what follows:
 * the end of the line or a comment), GC_ENOMEM, or GC_EINVAL with `e`
 * filled. `out` needs no clear on failure. */
int gc__cfg_value_decode(gc__cfg_value *out, const char **pp,
			 gc__cfg_verror *e);
void gc__cfg_value_clear(gc__cfg_value *v);

/* Space or tab. */
static inline bool gc__cfg_is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* A character of a bare key or section name: A-Z a-z 0-9 _ - */
bool gc__cfg_is_key_char(char ch);

/* ------------------------------------------------------------ tables */

typedef struct gc__cfg_ctx gc__cfg_ctx;
typedef struct gc__cfg_field gc__cfg_field;

/* Store `v` (already decoded) into the member at `slot`: check its type,
 * units and range, or fail through gc__cfg_fail_key. May take strings
 * out of `v`. Returns 0 or the error code. */
typedef int (*gc__cfg_setter)(gc__cfg_ctx *c, const gc__cfg_field *f,
			      gc__cfg_value *v, void *slot);

/* One key. Two keys that set the same member (`projects` at top level and
 * in [etcd]) are one setting: setting both is "set twice". */
struct gc__cfg_field {
	const char *section; /* "" = top level */
	const char *key;
	gc__cfg_setter set;
	size_t off;	  /* member in the config struct */
	size_t off_n;	  /* arrays: the member holding the count */
	int64_t min, max; /* integers, durations, sizes */
};

/* The keys and sections of one kind of file (agent or service). */
typedef struct gc__cfg_schema {
	const gc__cfg_field *fields;
	size_t n_fields;
	const char *const *sections;
	size_t n_sections;
} gc__cfg_schema;

/* Most fields a table may have (the size of gc__cfg_ctx.seen). */
#define GC__CFG_MAX_FIELDS 64
/* Longest key or section name (no known one is near it; it bounds what a
 * message quotes). */
#define GC__CFG_MAX_NAME 49

extern const gc__cfg_schema gc__cfg_agent_schema;
extern const gc__cfg_schema gc__cfg_service_schema;

/* ------------------------------------------------------------ structs */

/* Either config struct, whole (the library's version). */
typedef union gc__cfg_any {
	gc_agent_config agent;
	gc_service_config service;
} gc__cfg_any;

/* One kind of config struct (defaults.c). Both start with `unsigned
 * version`; a later version only appends fields, and sizes[v] is the size
 * of version v. */
typedef struct gc__cfg_kind {
	const char *type;	      /* "gc_agent_config", for messages */
	const gc__cfg_schema *schema; /* its file's keys */
	unsigned version;	      /* the library's version */
	const size_t *sizes;	      /* by version; [0] unused */
	size_t n_sizes;
	int (*init)(void *cfg);	    /* defaults of a whole struct */
	void (*release)(void *cfg); /* free what a whole struct holds */
} gc__cfg_kind;

extern const gc__cfg_kind gc__cfg_agent_kind;
extern const gc__cfg_kind gc__cfg_service_kind;

/* Size of the caller's struct by its version (0, zero-filled, counts as
 * 1); 0 when the version is newer than the library's. */
size_t gc__cfg_version_size(const gc__cfg_kind *k, unsigned version);
/* Free what `cfg` (of its version) holds and zero it, keeping its version
 * (fields of a newer version than the library's are not touched). */
void gc__cfg_clear(const gc__cfg_kind *k, void *cfg);
/* Replace the contents of `cfg` (`size` bytes: its version) with the
 * loaded whole struct `loaded`, which is consumed. */
void gc__cfg_move(const gc__cfg_kind *k, void *cfg, size_t size, void *loaded);

/* ------------------------------------------------------------ parsing */

struct gc__cfg_ctx {
	const char *name; /* file name for messages */
	const char *text; /* the whole input, NUL-terminated */
	size_t len;
	const gc__cfg_schema *schema;
	void *cfg;		      /* gc_agent_config or gc_service_config */
	int seen[GC__CFG_MAX_FIELDS]; /* line a setting was set on (at the
				       * index of its first field), 0 = not */
	int lineno;		      /* line the parser is on */
	char section[GC__CFG_MAX_NAME + 1]; /* current [section], "" = top */
	/* the key being set, for messages */
	int line;
	const char *key;
	gc_log_fn log;
	void *payload;
	int rc; /* first error */
	gc_error err;
};

/* Parse c->text into c->cfg against c->schema. 0, or the first error
 * (also in c->rc, c->err). */
int gc__cfg_parse(gc__cfg_ctx *c);

/* Record an error "name:line: key "section.key": detail" (or "name:line:
 * detail" when key is NULL); only the first error is kept. Returns it. */
int gc__cfg_fail(gc__cfg_ctx *c, int line, const char *section, const char *key,
		 const char *fmt, ...) GC__PRINTF(5, 6);
/* The same at the key being set (c->line, c->section, c->key). */
int gc__cfg_fail_key(gc__cfg_ctx *c, const char *fmt, ...) GC__PRINTF(2, 3);
int gc__cfg_nomem(gc__cfg_ctx *c);

/* Line on which a setting was set (0 = not set). */
int gc__cfg_setting_line(const gc__cfg_ctx *c, const char *section,
			 const char *key);

/* Whether section.key (key NULL: the section) is one of GopherCron 1.10's
 * config keys, which stay valid in either kind of file. */
bool gc__cfg_legacy_key(const char *section, const char *key);
/* The name of the schema closest to an unknown key of `section` (key
 * NULL: to the unknown section) as "section.key", "key" or "[section]",
 * into out; "" when none is close. */
void gc__cfg_suggest(const gc__cfg_schema *s, const char *section,
		     const char *key, char *out, size_t cap);

/* Normalise [etcd] service to URLs (http://, or https:// with ca_file or
 * cert_file), check cert_file and key_file go together. */
int gc__cfg_etcd_finish(gc__cfg_ctx *c, gc_etcd_config *e);

#endif
