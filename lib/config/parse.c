/* The configuration file, statement by statement: blank lines, `#`
 * comments, `[section]` headers and `key = value`, with the value decoded
 * by value.c (an array may go on over several lines). Every key is looked
 * up in the kind's table (fields.c) and stored by its setter.
 *
 * Why not inih: the files are TOML, and inih 55 (Debian's libinih,
 * built with its defaults) reads INI. Fed GopherCron's files, it
 *  - cuts a value at " ;" (inline comments): username = "u ;v" gives `"u`;
 *  - keeps `#` comments in the value: shell = '/bin/sh' # x;
 *  - takes an indented line as the continuation of the previous key: a
 *    second indented key becomes part of the first one's value;
 *  - refuses the `]` that closes a multi-line array at column 0 (a line
 *    without '='), and hands the lines of an array over one by one;
 *  - splits lines longer than 200 bytes (INI_MAX_LINE, fixed when the
 *    library is built) into two, the second a syntax error;
 *  - accepts `key: value`, `[etcd] x` and `; comment`, which TOML does
 *    not; cuts section names after 49 bytes; says only "error on line
 *    N", never what is wrong;
 *  - calls the handler for a key only, not for a section header, so an
 *    unknown section without keys cannot be reported.
 * Working around each of these needed a reader that tokenised the file
 * again before inih saw it: two parsers. So this one parser does the
 * line, section and comment work itself. */
#include "config_internal.h"

#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------ errors */

int gc__cfg_fail(gc__cfg_ctx *c, int line, const char *section, const char *key,
		 const char *fmt, ...)
{
	char detail[GC_ERROR_MSG_MAX];
	va_list ap;
	if (c->rc < 0)
		return c->rc;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (key)
		gc__seterr(&c->err, GC_EINVAL, "%s:%d: key \"%s%s%s\": %s",
			   c->name, line, section && *section ? section : "",
			   section && *section ? "." : "", key, detail);
	else
		gc__seterr(&c->err, GC_EINVAL, "%s:%d: %s", c->name, line,
			   detail);
	c->rc = GC_EINVAL;
	return c->rc;
}

int gc__cfg_fail_key(gc__cfg_ctx *c, const char *fmt, ...)
{
	char detail[GC_ERROR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	return gc__cfg_fail(c, c->line, c->section, c->key, "%s", detail);
}

int gc__cfg_nomem(gc__cfg_ctx *c)
{
	if (c->rc == 0) {
		gc__seterr(&c->err, GC_ENOMEM, "%s: out of memory", c->name);
		c->rc = GC_ENOMEM;
	}
	return c->rc;
}

/* ------------------------------------------------------------ the table */

static bool known_section(const gc__cfg_ctx *c, const char *section)
{
	if (!*section)
		return true;
	for (size_t i = 0; i < c->schema->n_sections; i++)
		if (strcmp(c->schema->sections[i], section) == 0)
			return true;
	return false;
}

/* The one place that reports what the file's kind does not have: a key
 * (with its section) or, when key is NULL, a section header. A key of
 * GopherCron 1.10's files is ignored with a notice (its files stay
 * valid); anything else is an error with the closest name the kind has:
 * a typo must not leave a daemon running on defaults. */
static int report_unknown(gc__cfg_ctx *c, int line, const char *section,
			  const char *key)
{
	char hint[2 * GC__CFG_MAX_NAME + 32] = "";
	char near[2 * GC__CFG_MAX_NAME + 4];
	if (gc__cfg_legacy_key(section, key)) {
		if (key) /* a section is reported key by key */
			gc__log(c->log, c->payload, GC_LOG_NOTICE,
				"%s:%d: key \"%s%s%s\" is not used by this "
				"program, ignored",
				c->name, line, section, *section ? "." : "",
				key);
		return 0;
	}
	gc__cfg_suggest(c->schema, section, key, near, sizeof(near));
	if (*near)
		snprintf(hint, sizeof(hint), " (did you mean %s%s%s?)",
			 key ? "\"" : "", near, key ? "\"" : "");
	if (!key)
		return gc__cfg_fail(c, line, NULL, NULL,
				    "unknown section [%s]%s", section, hint);
	return gc__cfg_fail(c, line, NULL, NULL, "unknown key \"%s%s%s\"%s",
			    section, *section ? "." : "", key, hint);
}

/* Index in c->seen of the setting field i belongs to: the first field of
 * the table that sets the same member. */
static size_t setting_of(const gc__cfg_schema *s, size_t i)
{
	size_t j = 0;
	while (s->fields[j].off != s->fields[i].off)
		j++;
	return j;
}

int gc__cfg_setting_line(const gc__cfg_ctx *c, const char *section,
			 const char *key)
{
	const gc__cfg_schema *s = c->schema;
	for (size_t i = 0; i < s->n_fields; i++)
		if (strcmp(s->fields[i].section, section) == 0 &&
		    strcmp(s->fields[i].key, key) == 0)
			return c->seen[setting_of(s, i)];
	return 0;
}

/* Look `key` up in the current section and store `v` through its
 * setter. */
static int set_key(gc__cfg_ctx *c, const char *key, int line, gc__cfg_value *v)
{
	const gc__cfg_schema *s = c->schema;
	const char *section = c->section;
	const gc__cfg_field *top = NULL;
	size_t i, k;
	for (i = 0; i < s->n_fields; i++) {
		if (strcmp(s->fields[i].key, key) != 0)
			continue;
		if (strcmp(s->fields[i].section, section) == 0)
			break;
		if (!s->fields[i].section[0])
			top = &s->fields[i];
	}
	if (i == s->n_fields) {
		if (top)
			return gc__cfg_fail(c, line, section, key,
					    "\"%s\" is a top-level key: put it "
					    "before the first [section]",
					    key);
		return report_unknown(c, line, section, key);
	}
	k = setting_of(s, i);
	if (c->seen[k])
		return gc__cfg_fail(c, line, section, key,
				    "set twice (first on line %d)", c->seen[k]);
	c->seen[k] = line;
	c->line = line;
	c->key = key;
	return s->fields[i].set(c, &s->fields[i], v,
				(char *)c->cfg + s->fields[i].off);
}

/* ------------------------------------------------------------ lines */

/* At the end of a line: its '\n' (or the end of the text), past a '\r'
 * before it. */
static bool line_end(const char **pp)
{
	const char *p = *pp;
	if (*p == '\r' && (p[1] == '\n' || p[1] == '\0'))
		p++;
	if (*p != '\n' && *p != '\0')
		return false;
	*pp = p;
	return true;
}

/* The rest of a line after a statement: blanks and an optional comment.
 * *pp ends at the line's '\n' or the end of the text. */
static bool rest_of_line(const char **pp)
{
	const char *p = *pp;
	while (gc__cfg_is_blank(*p))
		p++;
	if (*p == '#')
		p += strcspn(p, "\n");
	if (!line_end(&p))
		return false;
	*pp = p;
	return true;
}

/* Line number of p, on or after the line c->lineno starts at `from`. */
static int line_at(const gc__cfg_ctx *c, const char *from, const char *p)
{
	int line = c->lineno;
	for (; from < p; from++)
		line += *from == '\n';
	return line;
}

/* A bare name at p: its length (key characters, and '.' when dots is
 * set). */
static size_t name_len(const char *p, bool dots)
{
	size_t n = 0;
	while (gc__cfg_is_key_char(p[n]) || (dots && p[n] == '.'))
		n++;
	return n;
}

/* ------------------------------------------------------------ statements */

/* `[name]` at *pp. */
static int section_header(gc__cfg_ctx *c, const char **pp)
{
	const char *p = *pp + 1, *name;
	size_t n;
	if (*p == '[')
		return gc__cfg_fail(c, c->lineno, NULL, NULL,
				    "arrays of tables ([[...]]) are not "
				    "supported");
	while (gc__cfg_is_blank(*p))
		p++;
	name = p;
	n = name_len(p, true);
	p += n;
	while (gc__cfg_is_blank(*p))
		p++;
	if (*p != ']')
		return gc__cfg_fail(c, c->lineno, NULL, NULL, "%s",
				    n && (*p == '#' || line_end(&p))
					? "section header is missing its "
					  "closing \"]\""
					: "bad section header (expected "
					  "[name] with letters, digits, "
					  "'_' or '-')");
	if (n == 0)
		return gc__cfg_fail(c, c->lineno, NULL, NULL,
				    "empty section name");
	if (n > GC__CFG_MAX_NAME)
		return gc__cfg_fail(c, c->lineno, NULL, NULL,
				    "section name longer than %d characters",
				    GC__CFG_MAX_NAME);
	p++;
	if (!rest_of_line(&p))
		return gc__cfg_fail(c, c->lineno, NULL, NULL,
				    "unexpected text after section header");
	memcpy(c->section, name, n);
	c->section[n] = '\0';
	*pp = p;
	if (!known_section(c, c->section))
		return report_unknown(c, c->lineno, c->section, NULL);
	return 0;
}

/* `key = value` at *pp; the value may span lines (c->lineno follows). */
static int key_value(gc__cfg_ctx *c, const char **pp)
{
	const char *line = *pp, *p = *pp;
	char key[GC__CFG_MAX_NAME + 1];
	size_t n = name_len(p, false);
	gc__cfg_value v;
	gc__cfg_verror e = {NULL, NULL};
	int rc;
	if (n == 0)
		return gc__cfg_fail(c, c->lineno, NULL, NULL, "%s",
				    *p == '"' || *p == '\''
					? "quoted keys are not supported"
					: "expected key = value, a "
					  "[section] or a # comment");
	if (n > GC__CFG_MAX_NAME)
		return gc__cfg_fail(c, c->lineno, NULL, NULL,
				    "key name longer than %d characters",
				    GC__CFG_MAX_NAME);
	memcpy(key, p, n);
	key[n] = '\0';
	p += n;
	while (gc__cfg_is_blank(*p))
		p++;
	if (*p == '.')
		return gc__cfg_fail(c, c->lineno, NULL, key,
				    "dotted keys are not supported; use a "
				    "[section]");
	if (*p != '=')
		return gc__cfg_fail(c, c->lineno, NULL, key,
				    "expected \"=\" after the key");
	p++;
	rc = gc__cfg_value_decode(&v, &p, &e);
	if (rc == GC_ENOMEM)
		return gc__cfg_nomem(c);
	if (rc < 0)
		return gc__cfg_fail(c, line_at(c, line, e.at), c->section, key,
				    "%s", e.msg);
	if (!rest_of_line(&p)) {
		gc__cfg_value_clear(&v);
		return gc__cfg_fail(c, line_at(c, line, p), c->section, key,
				    "unexpected text after the value");
	}
	rc = set_key(c, key, c->lineno, &v);
	gc__cfg_value_clear(&v);
	c->lineno = line_at(c, line, p);
	*pp = p;
	return rc;
}

int gc__cfg_parse(gc__cfg_ctx *c)
{
	const char *p = c->text, *nul = memchr(c->text, '\0', c->len);
	c->lineno = 1;
	if (nul)
		return gc__cfg_fail(c, line_at(c, p, nul), NULL, NULL,
				    "NUL byte in the file");
	if (strncmp(p, "\xEF\xBB\xBF", 3) == 0)
		p += 3;
	while (*p) {
		int rc = 0;
		while (gc__cfg_is_blank(*p))
			p++;
		if (*p == '#' || line_end(&p))
			p += strcspn(p, "\n");
		else if (*p == '[')
			rc = section_header(c, &p);
		else
			rc = key_value(c, &p);
		if (rc < 0)
			return rc;
		if (*p == '\n') {
			p++;
			c->lineno++;
		}
	}
	return 0;
}
