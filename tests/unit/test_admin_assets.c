/* Unit tests for the embedded admin page (lib/service/admin_assets.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "internal.h"
#include "service/admin_assets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *read_source_file(const char *rel, size_t *len)
{
	const char *root = getenv("GC_SRC");
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", root && *root ? root : ".", rel);
	FILE *f = fopen(path, "rbe");
	if (!f)
		return NULL;
	gc__buf b = GC__BUF_INIT;
	char chunk[8192];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		gc__buf_append(&b, chunk, n);
	fclose(f);
	*len = b.len;
	return gc__buf_detach(&b);
}

static void embedded_files_match_the_sources_byte_for_byte(void **state)
{
	(void)state;
	const char *names[] = {"index.html", "app.js", "app.css"};
	for (size_t i = 0; i < GC__ARRAY_LEN(names); i++) {
		char rel[256];
		size_t disk_len = 0, len = 0;
		const unsigned char *data = NULL;
		snprintf(rel, sizeof(rel), "lib/service/admin/%s", names[i]);
		char *disk = read_source_file(rel, &disk_len);
		assert_non_null(disk);
		assert_int_equal(gc__admin_asset(names[i], &data, &len, NULL),
				 0);
		assert_int_equal(len, disk_len);
		assert_memory_equal(data, disk, len);
		assert_true(len > 100); /* not an empty placeholder */
		free(disk);
	}
}

static void root_paths_give_the_page(void **state)
{
	(void)state;
	const unsigned char *index = NULL, *d = NULL;
	size_t ilen = 0, len = 0;
	const char *type = NULL;
	assert_int_equal(gc__admin_asset("index.html", &index, &ilen, &type),
			 0);
	assert_string_equal(type, "text/html; charset=utf-8");
	const char *roots[] = {"", "/", "/index.html"};
	for (size_t i = 0; i < GC__ARRAY_LEN(roots); i++) {
		assert_int_equal(gc__admin_asset(roots[i], &d, &len, NULL), 0);
		assert_ptr_equal(d, index);
		assert_int_equal(len, ilen);
	}
	assert_memory_equal(index, "<!doctype html>", 15);
}

static void script_and_style_have_their_types(void **state)
{
	(void)state;
	const char *type = NULL;
	assert_int_equal(gc__admin_asset("/app.js", NULL, NULL, &type), 0);
	assert_string_equal(type, "text/javascript; charset=utf-8");
	assert_int_equal(gc__admin_asset("app.css", NULL, NULL, &type), 0);
	assert_string_equal(type, "text/css; charset=utf-8");
	assert_string_equal(gc__admin_content_type("x/logo.SVG"),
			    "image/svg+xml");
	assert_string_equal(gc__admin_content_type("blob"),
			    "application/octet-stream");
	assert_string_equal(gc__admin_content_type(NULL),
			    "application/octet-stream");
}

static void unknown_and_traversal_paths_are_not_found(void **state)
{
	(void)state;
	const char *bad[] = {"../Makefile", "/../index.html", "app.js/",
			     "APP.JS", "admin/app.js", "app.js?x=1",
			     "index.htm", "//app.js", "%2e%2e/app.js"};
	for (size_t i = 0; i < GC__ARRAY_LEN(bad); i++)
		assert_int_equal(gc__admin_asset(bad[i], NULL, NULL, NULL),
				 GC_ENOTFOUND);
	assert_int_equal(gc__admin_asset(NULL, NULL, NULL, NULL), GC_EINVAL);
}

/* The page must work with no internet: nothing in it may point at another
 * host (the SVG namespace URI is an identifier, never fetched). */
static void page_references_no_other_host(void **state)
{
	(void)state;
	const char *names[] = {"index.html", "app.js", "app.css"};
	for (size_t i = 0; i < GC__ARRAY_LEN(names); i++) {
		const unsigned char *data = NULL;
		size_t len = 0;
		assert_int_equal(gc__admin_asset(names[i], &data, &len, NULL),
				 0);
		char *text = gc__strndup((const char *)data, len);
		const char *p = text;
		while ((p = strstr(p, "//")) != NULL) {
			int is_url = p > text && p[-1] == ':';
			if (is_url && strncmp(p, "//www.w3.org/2000/svg", 21)) {
				fail_msg("%s references another host: %.60s",
					 names[i], p - 6 > text ? p - 6 : p);
			}
			p += 2;
		}
		assert_null(strstr(text, "@import"));
		free(text);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(embedded_files_match_the_sources_byte_for_byte),
		cmocka_unit_test(root_paths_give_the_page),
		cmocka_unit_test(script_and_style_have_their_types),
		cmocka_unit_test(unknown_and_traversal_paths_are_not_found),
		cmocka_unit_test(page_references_no_other_host),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
