/* Names the kind's table does not have: the keys of GopherCron 1.10's
 * files, which stay valid (its service and client read one shared struct,
 * so either file may hold any of them), and a did-you-mean suggestion for
 * the rest, which are errors: a misspelt key (`projcets`) used to leave
 * an agent serving nothing. */
#include "config_internal.h"

#include <stdio.h>
#include <string.h>

/* Every key of GopherCron 1.10's config struct. */
static const struct {
	const char *section, *key;
} legacy_keys[] = {
    {"", "log_level"},	     {"", "report_addr"},   {"deploy", "environment"},
    {"deploy", "host"},	     {"deploy", "timeout"}, {"deploy", "view_path"},
    {"etcd", "service"},     {"etcd", "username"},  {"etcd", "password"},
    {"etcd", "dialtimeout"}, {"etcd", "prefix"},    {"etcd", "projects"},
    {"etcd", "shell"},	     {"mysql", "service"},  {"mysql", "username"},
    {"mysql", "password"},   {"mysql", "database"}, {"jwt", "secret"},
    {"jwt", "exp"},
};

bool gc__cfg_legacy_key(const char *section, const char *key)
{
	for (size_t i = 0; i < GC__ARRAY_LEN(legacy_keys); i++)
		if (strcmp(legacy_keys[i].section, section) == 0 &&
		    (!key || strcmp(legacy_keys[i].key, key) == 0))
			return true;
	return false;
}

/* Edits (insert, delete, replace, swap two neighbours) from a to b;
 * names are at most GC__CFG_MAX_NAME long. */
static size_t distance(const char *a, const char *b)
{
	size_t d[GC__CFG_MAX_NAME + 2][GC__CFG_MAX_NAME + 2];
	size_t n = strlen(a), m = strlen(b);
	if (n > GC__CFG_MAX_NAME || m > GC__CFG_MAX_NAME)
		return (size_t)-1;
	for (size_t i = 0; i <= n; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= m; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= n; i++) {
		for (size_t j = 1; j <= m; j++) {
			size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[n][m];
}

/* Keeps the closest candidate within reach of `name`. */
typedef struct nearest {
	const char *name;
	size_t dist;
	const char *section, *key; /* the best so far */
} nearest;

static void consider(nearest *n, const char *cand, const char *section,
		     const char *key)
{
	size_t len = strlen(n->name);
	size_t reach = len <= 3 ? 1 : len <= 6 ? 2 : 3;
	size_t d = distance(n->name, cand);
	if (d <= reach && d < n->dist) {
		n->dist = d;
		n->section = section;
		n->key = key;
	}
}

/* "section.key" or "key" into out ("" when nothing is close). */
static void put_name(char *out, size_t cap, const char *section,
		     const char *key)
{
	if (!key)
		snprintf(out, cap, "[%s]", section);
	else
		snprintf(out, cap, "%s%s%s", section, *section ? "." : "", key);
}

void gc__cfg_suggest(const gc__cfg_schema *s, const char *section,
		     const char *key, char *out, size_t cap)
{
	nearest n = {key ? key : section, (size_t)-1, NULL, NULL};
	*out = '\0';
	if (!key) {
		for (size_t i = 0; i < s->n_sections; i++)
			consider(&n, s->sections[i], s->sections[i], NULL);
	} else {
		/* the same section first, then a key of another one */
		for (size_t i = 0; i < s->n_fields; i++)
			if (strcmp(s->fields[i].section, section) == 0)
				consider(&n, s->fields[i].key,
					 s->fields[i].section,
					 s->fields[i].key);
		for (size_t i = 0; !n.section && i < s->n_fields; i++)
			consider(&n, s->fields[i].key, s->fields[i].section,
				 s->fields[i].key);
	}
	if (n.section)
		put_name(out, cap, n.section, n.key);
}
