/* The admin page's files, embedded with the assembler's .incbin so the
 * binary carries them byte-exact without a generated source file. The
 * assembler resolves a relative .incbin path against its working directory,
 * not against this file: the build defines GC__ADMIN_DIR, the absolute path
 * of lib/service/admin, so the object compiles from any directory (the
 * Makefile also lists the files as dependencies of this object). */
#include "service/admin_assets.h"

#include "internal.h"

#include <string.h>
#include <strings.h>

/* One hidden, read-only object per file, with an end label for its size. */
#define GC__ADMIN_INCBIN(sym, file)                                          \
	".pushsection .rodata\n"                                             \
	".balign 16\n"                                                       \
	".globl " sym "\n"                                                   \
	".hidden " sym "\n"                                                  \
	".type " sym ", @object\n" sym ":\n"                                 \
	".incbin \"" file "\"\n"                                             \
	".globl " sym "_end\n"                                               \
	".hidden " sym "_end\n" sym "_end:\n"                                \
	".byte 0\n"                                                          \
	".size " sym ", . - " sym "\n"                                       \
	".popsection\n"

#ifndef GC__ADMIN_DIR
#error "define GC__ADMIN_DIR: the absolute path of lib/service/admin"
#endif

__asm__(GC__ADMIN_INCBIN("gc__admin_index_html", GC__ADMIN_DIR "/index.html")
	GC__ADMIN_INCBIN("gc__admin_app_js", GC__ADMIN_DIR "/app.js")
	GC__ADMIN_INCBIN("gc__admin_app_css", GC__ADMIN_DIR "/app.css"));

#define GC__ADMIN_DECLARE(sym)                                               \
	extern const unsigned char sym[]                                     \
		__attribute__((visibility("hidden")));                       \
	extern const unsigned char sym##_end[]                               \
		__attribute__((visibility("hidden")))

GC__ADMIN_DECLARE(gc__admin_index_html);
GC__ADMIN_DECLARE(gc__admin_app_js);
GC__ADMIN_DECLARE(gc__admin_app_css);

struct gc__admin_file {
	const char *name;
	const unsigned char *start;
	const unsigned char *end;
};

const char *gc__admin_content_type(const char *path)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{".html", "text/html; charset=utf-8"},
		{".js", "text/javascript; charset=utf-8"},
		{".css", "text/css; charset=utf-8"},
		{".svg", "image/svg+xml"},
		{".png", "image/png"},
		{".ico", "image/x-icon"},
		{".json", "application/json; charset=utf-8"},
		{".txt", "text/plain; charset=utf-8"},
	};
	size_t plen = path ? strlen(path) : 0;

	for (size_t i = 0; i < GC__ARRAY_LEN(types); i++) {
		size_t elen = strlen(types[i].ext);
		if (plen >= elen &&
		    !strcasecmp(path + plen - elen, types[i].ext))
			return types[i].type;
	}
	return "application/octet-stream";
}

int gc__admin_asset(const char *path, const unsigned char **data, size_t *len,
		    const char **content_type)
{
	const struct gc__admin_file files[] = {
		{"index.html", gc__admin_index_html, gc__admin_index_html_end},
		{"app.js", gc__admin_app_js, gc__admin_app_js_end},
		{"app.css", gc__admin_app_css, gc__admin_app_css_end},
	};

	if (!path)
		return GC_EINVAL;
	if (*path == '/')
		path++;
	if (!*path)
		path = "index.html";
	for (size_t i = 0; i < GC__ARRAY_LEN(files); i++) {
		if (strcmp(path, files[i].name))
			continue;
		if (data)
			*data = files[i].start;
		if (len)
			*len = (size_t)(files[i].end - files[i].start);
		if (content_type)
			*content_type = gc__admin_content_type(path);
		return 0;
	}
	return GC_ENOTFOUND;
}
