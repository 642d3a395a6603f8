/* Unit tests for the JSON entry check (lib/json.c): nesting limits, the
 * strict grammar, \u0000, exact integers, and every decoder of the library
 * fed hostile nesting on a thread with civetweb's 100 KB stack. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "internal.h"
#include "etcd/etcd_internal.h"
#include "service/svc.h"

#include <gophercron/job.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WORKER_STACK (100 * 1024) /* civetweb's worker threads */

static const gc__json_opts rest = {GC__JSON_DEPTH_REST, 0, NULL};

/* head, then n times `open`, then mid, then n times `close`, then tail;
 * malloc'd. */
static char *nest(const char *head, const char *open, size_t n,
		  const char *mid, const char *close, const char *tail)
{
	size_t ol = strlen(open), cl = strlen(close), len;
	char *s, *p;
	len = strlen(head) + n * (ol + cl) + strlen(mid) + strlen(tail);
	s = malloc(len + 1);
	assert_non_null(s);
	p = stpcpy(s, head);
	for (size_t i = 0; i < n; i++)
		p = stpcpy(p, open);
	p = stpcpy(p, mid);
	for (size_t i = 0; i < n; i++)
		p = stpcpy(p, close);
	strcpy(p, tail);
	return s;
}

static int check(const char *s, const gc__json_opts *o, gc_error *err)
{
	return gc__json_check(s, strlen(s), o, NULL, err);
}

static void nesting_is_bounded_at_the_limit(void **state)
{
	gc__json_opts o = {3, 0, NULL};
	gc__json_fault f;
	gc_error err;
	char *s;
	(void)state;
	assert_int_equal(check("[[[1]]]", &o, &err), 0);
	assert_int_equal(check("{\"a\":[{}]}", &o, &err), 0);
	assert_int_equal(check("[[], [[]], {\"a\": [1]}]", &o, &err), 0);
	assert_int_equal(gc__json_check("[[[[1]]]]", 9, &o, &f, &err),
			 GC_EINVAL);
	assert_string_equal(err.msg,
			    "JSON nested deeper than 3 levels at byte 3");
	assert_int_equal(f.kind, GC__JSON_FAULT_DEPTH);
	assert_int_equal(f.at, 3);
	assert_int_equal(check("{\"a\":{\"b\":{\"c\":{}}}}", &o, &err),
			 GC_EINVAL);
	assert_string_equal(err.msg,
			    "JSON nested deeper than 3 levels at byte 15");
	/* The REST limit, and far beyond it (unclosed, as an attack sends). */
	s = nest("", "[", GC__JSON_DEPTH_REST, "", "]", "");
	assert_int_equal(check(s, &rest, &err), 0);
	free(s);
	s = nest("", "[", GC__JSON_DEPTH_REST + 1, "", "]", "");
	assert_int_equal(check(s, &rest, &err), GC_EINVAL);
	assert_string_equal(err.msg,
			    "JSON nested deeper than 64 levels at byte 64");
	free(s);
	s = nest("", "{\"a\":", 100000, "", "", "");
	assert_int_equal(check(s, &rest, &err), GC_EINVAL);
	assert_string_equal(err.msg,
			    "JSON nested deeper than 64 levels at byte 320");
	free(s);
	/* A limit above the scan's own is the scan's own. */
	o.max_depth = 100000;
	s = nest("", "[", GC__JSON_DEPTH_MAX + 1, "", "]", "");
	assert_int_equal(check(s, &o, &err), GC_EINVAL);
	free(s);
}

static void brackets_inside_strings_do_not_count(void **state)
{
	gc__json_opts o = {2, 0, NULL};
	gc_error err;
	(void)state;
	assert_int_equal(check("[\"[[[[{{{{\"]", &o, &err), 0);
	assert_int_equal(check("{\"[[[\":\"]]]}}}\"}", &o, &err), 0);
	assert_int_equal(check("[\"\\\"[[[\\\\\",[\"\\\\\"]]", &o, &err), 0);
	assert_int_equal(check("[\"\\\\\",[[1]]]", &o, &err), GC_EINVAL);
	assert_string_equal(err.msg,
			    "JSON nested deeper than 2 levels at byte 7");
}

static void the_grammar_is_strict(void **state)
{
	static const struct {
		const char *json, *msg;
	} bad[] = {
		{"", "invalid JSON at byte 0 (no value)"},
		{"  \n", "invalid JSON at byte 3 (no value)"},
		{"01", "unexpected data after the JSON value at byte 1"},
		{"+1", "invalid JSON at byte 0 (expected a value)"},
		{".5", "invalid JSON at byte 0 (expected a value)"},
		{"1.", "invalid JSON at byte 0 (invalid number)"},
		{"-", "invalid JSON at byte 0 (invalid number)"},
		{"1e", "invalid JSON at byte 0 (invalid number)"},
		{"1e+", "invalid JSON at byte 0 (invalid number)"},
		{"[1,]", "invalid JSON at byte 3 (expected a value)"},
		{"[1 2]", "invalid JSON at byte 3 (expected ',' or ']')"},
		{"{\"a\" 1}", "invalid JSON at byte 5 (expected ':')"},
		{"{\"a\":1,}",
		 "invalid JSON at byte 7 (expected a member name)"},
		{"{1:2}", "invalid JSON at byte 1 (expected a member name)"},
		{"{\"a\":1]", "invalid JSON at byte 6 (expected ',' or '}')"},
		{"[1}", "invalid JSON at byte 2 (expected ',' or ']')"},
		{"[", "invalid JSON at byte 1 (unexpected end of the text)"},
		{"[1", "invalid JSON at byte 2 (expected ',' or ']')"},
		{"tru", "invalid JSON at byte 0 (expected a value)"},
		{"nul", "invalid JSON at byte 0 (expected a value)"},
		{"NaN", "invalid JSON at byte 0 (expected a value)"},
		{"\"abc", "invalid JSON at byte 4 (unterminated string)"},
		{"\"a\\", "invalid JSON at byte 2 (unterminated string)"},
		{"\"\\x\"",
		 "invalid JSON at byte 1 (invalid escape in a string)"},
		{"\"\\u12g4\"", "invalid JSON at byte 1 (invalid \\u escape)"},
		{"\"\\u12\"", "invalid JSON at byte 1 (invalid \\u escape)"},
		{"\"a\tb\"", "invalid JSON at byte 2 (control character 0x09)"},
		{"[1,\0032]",
		 "invalid JSON at byte 3 (control character 0x03)"},
		{"\001[]", "invalid JSON at byte 0 (control character 0x01)"},
		{"[1] x", "unexpected data after the JSON value at byte 4"},
		{"{}{}", "unexpected data after the JSON value at byte 2"},
		{"\xef\xbb", "invalid JSON at byte 0 (expected a value)"},
	};
	static const char *const good[] = {
		"0", "-0", "1.5e-3", "-12E+4", "0.0", "true", "false", "null",
		"\"\"", " [ ] ", "{}", "\xef\xbb\xbf{\"a\":1}",
		"\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\"",
		"{\"a\":[1,{\"b\":null}],\"c\":\"\xc3\xa9\"}\r\n\t",
		"\"\xff\"", /* bytes pass as they are, as cJSON passes them */
	};
	gc__json_opts o = {8, 0, NULL};
	gc_error err;
	(void)state;
	for (size_t i = 0; i < GC__ARRAY_LEN(bad); i++) {
		if (check(bad[i].json, &o, &err) != GC_EINVAL)
			fail_msg("accepted: %s", bad[i].json);
		if (strcmp(err.msg, bad[i].msg))
			fail_msg("%s: \"%s\", want \"%s\"", bad[i].json,
				 err.msg, bad[i].msg);
	}
	/* A NUL byte between tokens (cJSON skips it as whitespace). */
	assert_int_equal(gc__json_check("[1,\0 2]", 7, &o, NULL, &err),
			 GC_EINVAL);
	assert_string_equal(err.msg,
			    "invalid JSON at byte 3 (control character 0x00)");
	assert_int_equal(gc__json_check(NULL, 0, &o, NULL, &err), GC_EINVAL);
	for (size_t i = 0; i < GC__ARRAY_LEN(good); i++)
		if (check(good[i], &o, &err) != 0)
			fail_msg("refused %s: %s", good[i], err.msg);
}

static void nul_escapes_are_refused_naming_the_member(void **state)
{
	gc__json_opts o = {8, 0, NULL};
	gc__json_fault f;
	gc_error err;
	const char *s = "{\"a\":{\"b\":[\"x\",\"y\\u0000\"]},\"c\":1}";
	(void)state;
	assert_int_equal(gc__json_check(s, strlen(s), &o, &f, &err),
			 GC_EINVAL);
	assert_string_equal(err.msg, "\"a.b[1]\": a string has a NUL "
				     "character (\\u0000) at byte 17");
	assert_int_equal(f.kind, GC__JSON_FAULT_NUL);
	assert_int_equal(f.at, 17);
	assert_string_equal(f.member, "a");
	s = "{\"k\\u0000\":1}";
	assert_int_equal(gc__json_check(s, strlen(s), &o, &f, &err),
			 GC_EINVAL);
	assert_string_equal(err.msg, "a member name has a NUL character "
				     "(\\u0000) at byte 3");
	assert_string_equal(f.member, "");
	assert_int_equal(check("\"\\u0000\"", &o, &err), GC_EINVAL);
	assert_string_equal(err.msg, "a string has a NUL character (\\u0000) "
				     "at byte 1");
	/* An escaped backslash before "u0000" is no NUL; \u0001 is none. */
	assert_int_equal(check("[\"\\\\u0000\",\"\\u0001\"]", &o, &err), 0);
	/* The member the caller allows, and only at the top level. */
	o.nul_member = "output";
	assert_int_equal(check("{\"output\":\"a\\u0000b\"}", &o, &err), 0);
	assert_int_equal(check("{\"x\":{\"output\":\"\\u0000\"}}", &o, &err),
			 GC_EINVAL);
	assert_int_equal(check("{\"error\":\"\\u0000\"}", &o, &err),
			 GC_EINVAL);
	assert_string_equal(err.msg, "\"error\": a string has a NUL character "
				     "(\\u0000) at byte 10");
}

static void numbers_keep_their_text(void **state)
{
	const gc__json_opts o = {8, GC__JSON_NUMBER_TEXT, NULL};
	const char *s = "{\"a\":[1,-2.5e3,{\"b\":9007199254740993}],"
			"\"c\":\"12\",\"d\":0,\"e\":[\"-7\",8]}";
	cJSON *j;
	gc_error err;
	int64_t v;
	(void)state;
	assert_int_equal(gc__json_parse(&j, s, strlen(s), &o, NULL, &err), 0);
	{
		const cJSON *a = cJSON_GetObjectItem(j, "a");
		const cJSON *e = cJSON_GetObjectItem(j, "e");
		assert_string_equal(cJSON_GetArrayItem(a, 0)->valuestring, "1");
		assert_string_equal(cJSON_GetArrayItem(a, 1)->valuestring,
				    "-2.5e3");
		assert_string_equal(
			cJSON_GetObjectItem(cJSON_GetArrayItem(a, 2), "b")
				->valuestring,
			"9007199254740993");
		assert_int_equal(
		    gc__json_int64(
			cJSON_GetObjectItem(cJSON_GetArrayItem(a, 2), "b"), &v),
		    0);
		assert_true(v == 9007199254740993LL); /* not ...992 */
		assert_string_equal(cJSON_GetObjectItem(j, "d")->valuestring,
				    "0");
		assert_string_equal(cJSON_GetArrayItem(e, 1)->valuestring, "8");
		assert_true(cJSON_IsString(cJSON_GetArrayItem(e, 0)));
	}
	cJSON_Delete(j); /* frees the texts (ASan would see a leak) */
	/* Without the flag, no texts. */
	assert_int_equal(gc__json_parse(&j, "[5]", 3, &rest, NULL, &err), 0);
	assert_null(cJSON_GetArrayItem(j, 0)->valuestring);
	cJSON_Delete(j);
	/* cJSON's own refusals come back too (a lone surrogate). */
	assert_int_equal(gc__json_parse(&j, "[\"\\udc00\"]", 10, &rest, NULL,
					&err),
			 GC_EINVAL);
	assert_null(j);
	assert_non_null(strstr(err.msg, "invalid JSON at byte"));
}

static void integers_are_read_exactly(void **state)
{
	static const struct {
		const char *text;
		int ok;
		int64_t want;
	} cases[] = {
		{"0", 1, 0},
		{"-0", 1, 0},
		{"42", 1, 42},
		{"9007199254740993", 1, 9007199254740993LL},
		{"-9007199254740993", 1, -9007199254740993LL},
		{"9223372036854775807", 1, INT64_MAX},
		{"-9223372036854775808", 1, INT64_MIN},
		{"9223372036854775808", 0, 0},
		{"-9223372036854775809", 0, 0},
		{"1.0e3", 1, 1000},
		{"120e-1", 1, 12},
		{"0.0e99999", 1, 0},
		{"100000000000000000000e-2", 1, 1000000000000000000LL},
		{"9.223372036854775807e18", 1, INT64_MAX},
		{"1.5", 0, 0},
		{"12e-1", 0, 0},
		{"1e19", 0, 0},
		{"1e-99999", 0, 0},
		{"1e99999", 0, 0},
		{"0.1e1", 1, 1},
	};
	const gc__json_opts o = {2, GC__JSON_NUMBER_TEXT, NULL};
	gc_error err;
	(void)state;
	for (size_t i = 0; i < GC__ARRAY_LEN(cases); i++) {
		cJSON *j;
		int64_t v = -1;
		int rc;
		char doc[64];
		snprintf(doc, sizeof(doc), "[%s]", cases[i].text);
		assert_int_equal(gc__json_parse(&j, doc, strlen(doc), &o, NULL,
						&err),
				 0);
		rc = gc__json_int64(cJSON_GetArrayItem(j, 0), &v);
		cJSON_Delete(j);
		if (cases[i].ok && (rc != 0 || v != cases[i].want))
			fail_msg("%s: rc %d, %lld", cases[i].text, rc,
				 (long long)v);
		if (!cases[i].ok && rc != GC_EINVAL)
			fail_msg("%s: accepted as %lld", cases[i].text,
				 (long long)v);
	}
	/* A tree without texts: exact only within 2^53. */
	{
		cJSON *n = cJSON_CreateNumber(9007199254740992.0);
		int64_t v;
		assert_int_equal(gc__json_int64(n, &v), 0);
		n->valuedouble = 18014398509481984.0;
		assert_int_equal(gc__json_int64(n, &v), GC_EINVAL);
		cJSON_Delete(n);
		assert_int_equal(gc__json_int64(NULL, &v), GC_EINVAL);
	}
}

static void unquote_keeps_nuls_and_decodes_escapes(void **state)
{
	static const char in[] = "\"a\\u0000b\\n\\\"\\\\\\/\\ud83d\\ude00"
				 "\\u00e9\\ud800x\\udc00\\t\"";
	static const char want[] = "a\0b\n\"\\/\xf0\x9f\x98\x80\xc3\xa9"
				   "\xef\xbf\xbdx\xef\xbf\xbd\t";
	char *out;
	size_t n;
	(void)state;
	assert_int_equal(gc__json_unquote(in, sizeof(in) - 1, &out, &n), 0);
	assert_int_equal(n, sizeof(want) - 1);
	assert_memory_equal(out, want, n);
	assert_int_equal(out[n], '\0');
	free(out);
	assert_int_equal(gc__json_unquote("\"ab", 3, &out, &n), GC_EINVAL);
	assert_int_equal(gc__json_unquote("\"a\"b", 4, &out, &n), GC_EINVAL);
	assert_int_equal(gc__json_unquote("x", 1, &out, &n), GC_EINVAL);
	assert_null(out);
}

/* ---------------------------------------------- hostile nesting, 100 KB */

typedef struct small_stack_job {
	void (*fn)(void);
} small_stack_job;

static void *small_stack_main(void *arg)
{
	((small_stack_job *)arg)->fn();
	return NULL;
}

/* Run fn on a thread with a stack of `size` bytes: a stack overflow kills
 * the test. */
static void on_small_stack(void (*fn)(void), size_t size)
{
	pthread_attr_t at;
	pthread_t t;
	small_stack_job job = {fn};
	assert_int_equal(pthread_attr_init(&at), 0);
	assert_int_equal(pthread_attr_setstacksize(&at, size), 0);
	assert_int_equal(pthread_create(&t, &at, small_stack_main, &job), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	pthread_attr_destroy(&at);
}

#define DEEP 100000 /* far beyond cJSON's 1000 and jansson's 2048 */

static void every_decoder_refuses_deep_nesting(void)
{
	gc_error err;
	gc__params p = {0};
	char msg[256], *s, *o;
	gc_task t = GC_TASK_INIT;
	gc_result r = GC_RESULT_INIT;
	gc_warning w = GC_WARNING_INIT;
	cJSON *j;

	/* REST bodies (unclosed, closed, in a member). */
	s = nest("", "[", DEEP, "", "", "");
	assert_int_equal(gc__params_add_json(&p, s, strlen(s), msg,
					     sizeof(msg)),
			 GC_EINVAL);
	assert_string_equal(msg, "JSON body nested deeper than 64 levels at "
				 "byte 64");
	assert_int_equal(p.json_fault, GC__JSON_FAULT_DEPTH);
	free(s);
	o = nest("{\"account\":", "{\"a\":", DEEP, "1", "}", "}");
	assert_int_equal(gc__params_add_json(&p, o, strlen(o), msg,
					     sizeof(msg)),
			 GC_EINVAL);
	assert_non_null(strstr(msg, "nested deeper than 64 levels"));
	gc__params_free(&p);

	/* Task definitions, result and warning bodies. */
	assert_int_equal(gc_task_from_json(&t, o, strlen(o), &err), GC_EINVAL);
	assert_string_equal(err.msg, "task: JSON nested deeper than 128 "
				     "levels at byte 646");
	free(o);
	s = nest("{\"execute_info\":{\"task\":", "{\"a\":", DEEP, "1", "}",
		 "}}");
	assert_int_equal(gc_result_from_json(&r, s, strlen(s), &err),
			 GC_EINVAL);
	assert_non_null(strstr(err.msg, "result: JSON nested deeper than 128"));
	free(s);
	s = nest("{\"data\":", "[", DEEP, "", "]", "}");
	assert_int_equal(gc_warning_from_json(&w, s, strlen(s), &err),
			 GC_EINVAL);
	assert_non_null(strstr(err.msg, "warning: JSON nested deeper than"));

	/* etcd gateway answers. */
	assert_int_equal(gc__etcd_parse(s, strlen(s), &j, &err), GC_EPROTO);
	assert_non_null(strstr(err.msg, "nested deeper than 32 levels"));
	free(s);

	/* The raw checks themselves. */
	s = nest("", "[", DEEP, "", "]", "");
	assert_int_equal(gc__json_check(s, strlen(s), &rest, NULL, &err),
			 GC_EINVAL);
	assert_int_equal(gc__json_parse(&j, s, strlen(s), &rest, NULL, &err),
			 GC_EINVAL);
	free(s);
}

/* Every limit, reached exactly: cJSON then parses (and frees, and prints
 * back unknown members) the deepest text that is let through, on the
 * same small stack. */
static void every_decoder_takes_its_limit(void)
{
	gc_error err;
	gc__params p = {0};
	char msg[256], *s;
	gc_task t = GC_TASK_INIT;
	gc_result r = GC_RESULT_INIT;
	cJSON *j;

	s = nest("{\"a\":", "[", GC__JSON_DEPTH_REST - 1, "1", "]", "}");
	assert_int_equal(gc__params_add_json(&p, s, strlen(s), msg,
					     sizeof(msg)),
			 0);
	gc__params_free(&p);
	free(s);
	s = nest("{\"name\":\"n\",\"x\":", "{\"a\":", GC__JSON_DEPTH_JOB - 1,
		 "1", "}", "}");
	if (gc_task_from_json(&t, s, strlen(s), &err))
		fail_msg("%s", err.msg);
	assert_string_equal(t.name, "n");
	gc_task_clear(&t);
	free(s);
	s = nest("{\"execute_info\":{\"task\":{\"task_id\":\"1\",\"x\":",
		 "[", GC__JSON_DEPTH_JOB - 3, "1", "]", "}},\"plan_unix\":5}");
	if (gc_result_from_json(&r, s, strlen(s), &err))
		fail_msg("%s", err.msg);
	assert_true(r.plan_time_ns == 5000000000LL);
	gc_result_clear(&r);
	free(s);
	s = nest("{\"a\":", "[", GC__JSON_DEPTH_ETCD - 1, "1", "]", "}");
	assert_int_equal(gc__etcd_parse(s, strlen(s), &j, &err), 0);
	cJSON_Delete(j);
	free(s);
}

/* A token of at most GC__TOKEN_MAX bytes whose header or claims open as
 * many arrays as fit: libjwt would hand them to jansson (recursive, up to
 * 2048 levels) before checking the signature. */
static void tokens_refuse_deep_nesting(void)
{
	static const char *const tails[] = {".e30.AAAA", ""};
	gc__claims cl;
	gc_error err;
	for (int part = 0; part < 2; part++) {
		char json[GC__TOKEN_MAX], tok[GC__TOKEN_MAX + 1], *b64;
		size_t n = GC__TOKEN_MAX / 4 * 3 - 16, k;
		memset(json, '[', n);
		b64 = gc__base64_encode(json, n);
		assert_non_null(b64);
		for (k = 0; b64[k] && b64[k] != '='; k++)
			b64[k] = b64[k] == '+'	 ? '-'
				 : b64[k] == '/' ? '_'
						 : b64[k];
		b64[k] = '\0';
		snprintf(tok, sizeof(tok), "%s%s%s%s", part ? "e30." : "", b64,
			 tails[part], part ? ".AAAA" : "");
		free(b64);
		assert_true(strlen(tok) <= GC__TOKEN_MAX);
		assert_true(strlen(tok) > GC__TOKEN_MAX - 32);
		assert_int_equal(gc__jwt_verify((const unsigned char *)"s", 1,
						tok, 0, &cl, &err),
				 GC_EAUTH);
		assert_non_null(strstr(err.msg, part
						    ? "token claims: JSON "
						      "nested deeper than 16"
						    : "token header: JSON "
						      "nested deeper than 16"));
	}
}

static void decoders_survive_hostile_nesting_on_a_worker_stack(void **state)
{
	(void)state;
	on_small_stack(every_decoder_refuses_deep_nesting, WORKER_STACK);
	on_small_stack(every_decoder_takes_its_limit, WORKER_STACK);
	on_small_stack(tokens_refuse_deep_nesting, WORKER_STACK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(nesting_is_bounded_at_the_limit),
		cmocka_unit_test(brackets_inside_strings_do_not_count),
		cmocka_unit_test(the_grammar_is_strict),
		cmocka_unit_test(nul_escapes_are_refused_naming_the_member),
		cmocka_unit_test(numbers_keep_their_text),
		cmocka_unit_test(integers_are_read_exactly),
		cmocka_unit_test(unquote_keeps_nuls_and_decodes_escapes),
		cmocka_unit_test(
			decoders_survive_hostile_nesting_on_a_worker_stack),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
