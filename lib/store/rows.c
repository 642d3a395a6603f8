/* Result sets: the rows a statement returned, fully read. The bottom of
 * the store: the drivers fill them, every layer above reads them. */
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

void gc__dbrows_free(gc__dbrows *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nrows * r->ncols; i++)
		free(r->cell[i]);
	free(r->cell);
	free(r->len);
	memset(r, 0, sizeof(*r));
}

int gc__dbrows_add(gc__dbrows *r, char **cells, size_t *lens, size_t ncols)
{
	if (r->nrows == 0)
		r->ncols = ncols;
	if (ncols != r->ncols)
		return GC_EINVAL;
	if (r->nrows == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		char **c = realloc(r->cell, cap * ncols * sizeof(*c));
		if (!c)
			return GC_ENOMEM;
		r->cell = c;
		size_t *l = realloc(r->len, cap * ncols * sizeof(*l));
		if (!l)
			return GC_ENOMEM;
		r->len = l;
		r->cap = cap;
	}
	memcpy(r->cell + r->nrows * ncols, cells, ncols * sizeof(*cells));
	memcpy(r->len + r->nrows * ncols, lens, ncols * sizeof(*lens));
	r->nrows++;
	return 0;
}

const char *gc__dbrows_str(const gc__dbrows *r, size_t row, size_t col)
{
	const char *v = r->cell[row * r->ncols + col];
	return v ? v : "";
}

int64_t gc__dbrows_int(const gc__dbrows *r, size_t row, size_t col)
{
	const char *v = gc__dbrows_str(r, row, col);
	int64_t out = 0;
	if (gc__parse_int64(v, &out) == 0)
		return out;
	/* SUM() in MySQL is DECIMAL: "12" parses above, "12.0" here. */
	return (int64_t)strtoll(v, NULL, 10);
}

char *gc__dbrows_take(gc__dbrows *r, size_t row, size_t col)
{
	char **cell = &r->cell[row * r->ncols + col];
	char *v = *cell;
	*cell = NULL;
	return v ? v : gc__strdup("");
}
