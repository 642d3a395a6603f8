/* The admin page (/admin) built into the library: a single-page app of
 * three static files (index.html, app.js, app.css) embedded at compile time,
 * so the service needs no files on disk and no internet at run time.
 * Internal to the library (the service serves it); not installed. */
#ifndef GC_SERVICE_ADMIN_ASSETS_H
#define GC_SERVICE_ADMIN_ASSETS_H

#include <stddef.h>

/* Security headers the page is written to work under: it loads nothing but
 * its own three files, uses no inline script or style, and talks only to
 * /api/v1 on the same origin. Send with every /admin response. */
#define GC__ADMIN_CSP                                                        \
	"default-src 'none'; script-src 'self'; style-src 'self'; "          \
	"img-src 'self' data:; connect-src 'self'; form-action 'self'; "     \
	"base-uri 'none'; frame-ancestors 'none'"

/* Look up an embedded asset. `path` is the part after "/admin/" with or
 * without a leading '/', query string already removed: "" or "/" or
 * "index.html" give the page itself. On success returns 0 and sets `data`,
 * `len` and `content_type` (static storage, never freed). Returns
 * GC_ENOTFOUND for any other path (no file system access, so no path
 * traversal is possible). Serve "/admin" itself with a redirect to
 * "/admin/" or with index.html: the page uses absolute /admin/ URLs.
 * Any of the out-pointers may be NULL. */
int gc__admin_asset(const char *path, const unsigned char **data, size_t *len,
		    const char **content_type);

/* Content-Type for a file name by its extension (html, js, css, svg, png,
 * ico, json, txt; anything else "application/octet-stream"). For serving a
 * `view_path` override directory with the same types as the embedded copy. */
const char *gc__admin_content_type(const char *path);

#endif
