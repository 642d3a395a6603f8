/* /admin: the admin page, from `[deploy] view_path` when set (a copy being
 * worked on) or else the copy embedded in the library (admin_assets.c). */
#include "svc.h"

#include "service/admin_assets.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#define ADMIN_FILE_MAX (16u << 20)

/* A path below view_path we are willing to open: plain segments only. */
static int safe_rel_path(const char *rel)
{
	const char *seg = rel;
	if (!*rel || *rel == '/')
		return 0;
	for (const char *p = rel; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		      ch == '-' || ch == '/'))
			return 0;
	}
	while (seg && *seg) {
		const char *e = strchr(seg, '/');
		size_t n = e ? (size_t)(e - seg) : strlen(seg);
		if (n == 0 || seg[0] == '.')
			return 0; /* "//", "..", hidden files */
		seg = e ? e + 1 : NULL;
	}
	return 1;
}

static int serve_view_file(gc__ctx *c, const char *rel)
{
	char *path, *data;
	size_t len;
	int rc;
	if (!c->svc->view_path || !safe_rel_path(rel))
		return 0;
	path = gc__sprintf("%s/%s", c->svc->view_path, rel);
	if (!path)
		return 0;
	rc = gc__read_file_at(AT_FDCWD, path, ADMIN_FILE_MAX, &data, &len);
	free(path);
	if (rc)
		return 0;
	gc__reply_text(c, 200, gc__admin_content_type(rel), data, len);
	free(data);
	return 1;
}

void gc__serve_admin(gc__ctx *c)
{
	const char *rel;
	const unsigned char *data;
	size_t len;
	const char *type;
	if (strcmp(c->method, "GET") != 0 && strcmp(c->method, "HEAD") != 0) {
		gc__add_header(c, "Allow", "GET, HEAD");
		gc__reply_err(c, GC__C_METHOD, "%s is not allowed on %s",
			      c->method, c->path);
		return;
	}
	if (strcmp(c->path, "/admin") == 0) {
		gc__add_header(c, "Location", "/admin/");
		gc__reply_text(c, 301, "text/plain; charset=utf-8",
			       "moved to /admin/\n", 17);
		return;
	}
	rel = c->path + strlen("/admin/");
	gc__add_header(c, "Content-Security-Policy", GC__ADMIN_CSP);
	gc__add_header(c, "X-Content-Type-Options", "nosniff");
	gc__add_header(c, "Cache-Control", "no-cache");
	if (serve_view_file(c, *rel ? rel : "index.html"))
		return;
	if (gc__admin_asset(rel, &data, &len, &type) == 0) {
		gc__reply_text(c, 200, type, data, len);
		return;
	}
	gc__reply_text(c, 404, "text/plain; charset=utf-8",
		       "not found\n", 10);
}
