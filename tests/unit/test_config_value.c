/* Unit tests for the TOML value decoder of the configuration files
 * (lib/config/value.c), on its own: what it decodes, where it stops, and
 * what it says, and where, when it cannot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config/config_internal.h"

#include <string.h>

/* Decode `text` (the part after "key ="); *rest gets what follows. */
static int decode(const char *text, gc__cfg_value *v, const char **rest,
		  gc__cfg_verror *e)
{
	const char *p = text;
	int rc;
	memset(e, 0, sizeof(*e));
	rc = gc__cfg_value_decode(v, &p, e);
	if (rest)
		*rest = p;
	return rc;
}

static void decodes_string(const char *text, const char *want,
			   const char *rest_want)
{
	gc__cfg_value v;
	gc__cfg_verror e;
	const char *rest;
	int rc = decode(text, &v, &rest, &e);
	if (rc != 0)
		fail_msg("%s: rc %d, %s", text, rc, e.msg);
	assert_int_equal(v.kind, GC__CFG_STR);
	assert_string_equal(v.s, want);
	assert_string_equal(rest, rest_want);
	gc__cfg_value_clear(&v);
}

/* Must fail with `msg` (a part of it), at text + at. */
static void refused(const char *text, const char *msg, long at)
{
	gc__cfg_value v;
	gc__cfg_verror e;
	int rc = decode(text, &v, NULL, &e);
	if (rc != GC_EINVAL || !e.msg || !strstr(e.msg, msg))
		fail_msg("%s: rc %d, \"%s\", wanted \"%s\"", text, rc,
			 e.msg ? e.msg : "", msg);
	if (e.at - text != at)
		fail_msg("%s: at %ld, wanted %ld", text, (long)(e.at - text),
			 at);
	gc__cfg_value_clear(&v); /* harmless after a failure */
}

static void strings(void **state)
{
	(void)state;
	decodes_string(" \"plain\"", "plain", "");
	decodes_string("\"a#b ; c\" # comment", "a#b ; c", " # comment");
	decodes_string("\"q\\\"b\\\\n\\n\\t\\r\\b\\f\"", "q\"b\\n\n\t\r\b\f",
		       "");
	decodes_string("\"\\u00e9\\U0001F600\"", "\xc3\xa9\xf0\x9f\x98\x80",
		       "");
	decodes_string("'C:\\raw\\n'", "C:\\raw\\n", ""); /* literal */
	decodes_string("'it''", "it", "'"); /* the caller sees the rest */
	decodes_string("\"\"", "", "");
	decodes_string("\"tab\there\"\r\n", "tab\there", "\r\n");
	decodes_string("\"x\"\nnext = 1\n", "x", "\nnext = 1\n");
}

static void bad_strings_point_at_their_quote(void **state)
{
	(void)state;
	refused("\"open", "unterminated string (missing closing \")", 0);
	refused("  'open", "unterminated string (missing closing ')", 2);
	/* a string ends on its line, also before "\r\n" */
	refused("\"a\nb\"", "unterminated string", 0);
	refused("\"a\r\nb\"", "unterminated string", 0);
	refused("\"a\rb\"", "control character in string", 0);
	refused("\"a\x01\"", "control character in string", 0);
	refused("\"a\\qb\"", "unknown escape in string", 0);
	refused("\"a\\", "unknown escape in string", 0);
	refused("\"\\u12\"", "bad \\u escape in string", 0);
	refused("\"\\uD800\"", "\\u escape is not a valid character", 0);
	refused("\"\\u0000\"", "\\u escape is not a valid character", 0);
	refused("\"\\U00110000\"", "\\u escape is not a valid character", 0);
	refused("\"\"\"x\"\"\"", "multi-line strings are not supported", 0);
	refused("'''x'''", "multi-line strings are not supported", 0);
	refused("text", "strings must be quoted", 0);
	refused("/bin/sh", "strings must be quoted", 0);
}

static void integers(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		int64_t want;
		const char *rest;
	} ints[] = {
	    {"0", 0, ""},
	    {"-17 # c", -17, " # c"},
	    {"+5,", 5, ","},
	    {"1_000_000", 1000000, ""},
	    {"9223372036854775807", INT64_MAX, ""},
	    {"-9223372036854775808", INT64_MIN, ""},
	    {"12]", 12, "]"},
	};
	for (size_t i = 0; i < GC__ARRAY_LEN(ints); i++) {
		gc__cfg_value v;
		gc__cfg_verror e;
		const char *rest;
		assert_int_equal(decode(ints[i].text, &v, &rest, &e), 0);
		assert_int_equal(v.kind, GC__CFG_INT);
		assert_true(v.i == ints[i].want);
		assert_string_equal(rest, ints[i].rest);
	}
	refused("9223372036854775808", "integer is too large", 0);
	refused("-9223372036854775809", "integer is too large", 0);
	refused("007", "integers must not have leading zeros", 0);
}

/* `1__0` stops after the 1: the caller says "unexpected text". */
static void integer_stops_where_toml_stops(void **state)
{
	(void)state;
	gc__cfg_value v;
	gc__cfg_verror e;
	const char *rest;
	assert_int_equal(decode("1__0", &v, &rest, &e), 0);
	assert_int_equal(v.i, 1);
	assert_string_equal(rest, "__0");
	assert_int_equal(decode("1_", &v, &rest, &e), 0);
	assert_string_equal(rest, "_");
	refused("1.5", "floats, dates and non-decimal integers", 0);
	refused("1e3", "floats, dates and non-decimal integers", 0);
	refused("0x1F", "floats, dates and non-decimal integers", 0);
	refused("2024-01-01", "floats, dates and non-decimal integers", 0);
	refused("12:30:00", "floats, dates and non-decimal integers", 0);
	refused("-", "expected a value", 0);
	refused("+inf", "expected a value", 0);
	refused("5inf", "floats are not supported", 0);
}

static void booleans_are_whole_words(void **state)
{
	(void)state;
	static const char *const ok[] = {"true",      "true # c", "true#c",
					 "false\r\n", "false,",	  "true]",
					 "false\t"};
	for (size_t i = 0; i < GC__ARRAY_LEN(ok); i++) {
		gc__cfg_value v;
		gc__cfg_verror e;
		assert_int_equal(decode(ok[i], &v, NULL, &e), 0);
		assert_int_equal(v.kind, GC__CFG_BOOL);
		assert_int_equal(v.b, ok[i][0] == 't');
	}
	refused("truex", "strings must be quoted", 0);
	refused("True", "strings must be quoted", 0);
}

static void missing_values_and_other_types(void **state)
{
	(void)state;
	refused("", "missing value after \"=\"", 0);
	refused("   ", "missing value after \"=\"", 3);
	refused("  # comment", "missing value after \"=\"", 2);
	refused(" \r\n", "missing value after \"=\"", 1);
	refused("{ a = 1 }", "inline tables are not supported", 0);
	refused("@", "expected a value", 0);
}

static void arrays_on_one_line(void **state)
{
	(void)state;
	gc__cfg_value v;
	gc__cfg_verror e;
	const char *rest;
	assert_int_equal(decode("[ 7 ,8,  9 , ] # c", &v, &rest, &e), 0);
	assert_int_equal(v.kind, GC__CFG_ARRAY);
	assert_int_equal(v.item_kind, GC__CFG_INT);
	assert_int_equal(v.n, 3);
	assert_int_equal(v.items[2].i, 9);
	assert_string_equal(rest, " # c");
	gc__cfg_value_clear(&v);
	assert_int_equal(decode("[\t\"a:1\" ,'b']", &v, &rest, &e), 0);
	assert_int_equal(v.item_kind, GC__CFG_STR);
	assert_string_equal(v.items[0].s, "a:1");
	assert_string_equal(v.items[1].s, "b");
	assert_string_equal(rest, "");
	gc__cfg_value_clear(&v);
	assert_int_equal(decode("[]", &v, &rest, &e), 0);
	assert_int_equal(v.n, 0);
	assert_int_equal(v.item_kind, -1);
	gc__cfg_value_clear(&v);
	/* enough items to grow the array a few times */
	assert_int_equal(decode("[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]",
				&v, &rest, &e),
			 0);
	assert_int_equal(v.n, 17);
	assert_int_equal(v.items[16].i, 17);
	gc__cfg_value_clear(&v);
}

static void arrays_over_several_lines(void **state)
{
	(void)state;
	gc__cfg_value v;
	gc__cfg_verror e;
	const char *rest;
	const char *text = "[\n"
			   "  1, # first\n"
			   "\n"
			   "  # a comment line\r\n"
			   "  2,\n"
			   "]   # done\n"
			   "shell = \"x\"\n";
	assert_int_equal(decode(text, &v, &rest, &e), 0);
	assert_int_equal(v.n, 2);
	assert_int_equal(v.items[1].i, 2);
	assert_string_equal(rest, "   # done\nshell = \"x\"\n");
	gc__cfg_value_clear(&v);
	assert_int_equal(decode("[ # ids\n 3\n ]\n", &v, &rest, &e), 0);
	assert_int_equal(v.n, 1);
	assert_string_equal(rest, "\n");
	gc__cfg_value_clear(&v);
}

static void bad_arrays_say_where(void **state)
{
	(void)state;
	/* an unclosed array is reported at its '[' */
	refused("[1, 2", "array is missing its closing \"]\"", 0);
	refused("  [1,\n2\n", "array is missing its closing \"]\"", 2);
	refused("[1, 2\nshell = \"/bin/sh\"\n", "missing its closing", 0);
	refused("[1, 2\n[etcd]\n", "missing its closing", 0);
	refused("[1,\n  2 = x\n", "missing its closing", 0);
	refused("[\n  [1]]\n", "missing its closing", 0);
	/* the others at the item */
	refused("[1, \"2\"]", "array items must all have the same type", 4);
	refused("[1,\n \"2\"]", "array items must all have the same type", 5);
	refused("[1 2]", "expected \",\" or \"]\" after an array item", 3);
	refused("[[1]]", "nested arrays are not supported", 1);
	refused("[1,,2]", "expected a value", 3);
	refused("[\"a\", \"b]", "unterminated string", 6);
	refused("[x]", "strings must be quoted", 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(strings),
	    cmocka_unit_test(bad_strings_point_at_their_quote),
	    cmocka_unit_test(integers),
	    cmocka_unit_test(integer_stops_where_toml_stops),
	    cmocka_unit_test(booleans_are_whole_words),
	    cmocka_unit_test(missing_values_and_other_types),
	    cmocka_unit_test(arrays_on_one_line),
	    cmocka_unit_test(arrays_over_several_lines),
	    cmocka_unit_test(bad_arrays_say_where),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
