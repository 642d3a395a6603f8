/* An HTTP answer captured by libcurl for tests (header-only): status,
 * body (NUL-terminated), parsed JSON when the caller parses it, and the
 * header lines (kept up to 8 KiB). Install on_body/on_header as
 * CURLOPT_WRITEFUNCTION/CURLOPT_HEADERFUNCTION with the resp as data. */
#ifndef GC_TEST_HTTPRESP_H
#define GC_TEST_HTTPRESP_H

#include <cJSON.h>

#include <stdlib.h>
#include <string.h>

typedef struct resp {
	long status;
	char *body;
	size_t len;
	cJSON *json;
	char headers[8192];
} resp;

static inline size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
	resp *r = ud;
	char *nb = realloc(r->body, r->len + sz * n + 1);
	if (!nb)
		return 0;
	memcpy(nb + r->len, p, sz * n);
	r->len += sz * n;
	nb[r->len] = '\0';
	r->body = nb;
	return sz * n;
}

static inline size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
	resp *r = ud;
	size_t used = strlen(r->headers);
	if (used + sz * n + 1 < sizeof(r->headers)) {
		memcpy(r->headers + used, p, sz * n);
		r->headers[used + sz * n] = '\0';
	}
	return sz * n;
}

static inline void resp_free(resp *r)
{
	free(r->body);
	cJSON_Delete(r->json);
	memset(r, 0, sizeof(*r));
}

#endif
