/* Unit tests for the task model (job.h: TaskInfo JSON, validation, ids,
 * result and warning bodies), the etcd key layout (keys.h) and the exit
 * texts (exec.h) -- checked against the original's captured wire data in
 * ../shared/compat. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "job/job_internal.h"

#include <gophercron.h>

#include <cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define P "/gopher_cron"

static const char *shared_dir(void)
{
	const char *d = getenv("GC_SHARED");
	return d && *d ? d : "../shared";
}

/* Read a whole compat file; fails the test if it is missing. */
static char *read_compat(const char *rel)
{
	char path[1024];
	FILE *f;
	char *buf;
	long n;
	snprintf(path, sizeof(path), "%s/compat/%s", shared_dir(), rel);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s (set GC_SHARED)", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Call fn for every line of a JSON-lines compat file. */
static int each_jsonl(const char *rel, void (*fn)(const cJSON *line, void *),
		      void *arg)
{
	char *all = read_compat(rel), *save = NULL, *line;
	int n = 0;
	for (line = strtok_r(all, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		cJSON *j = cJSON_Parse(line);
		assert_non_null(j);
		fn(j, arg);
		cJSON_Delete(j);
		n++;
	}
	free(all);
	return n;
}

static const char *sample_task =
	"{\"task_id\":\"1131477035089137664\",\"name\":\"sched-exit3\","
	"\"project_id\":1,\"command\":\"echo before-fail; echo to-stderr "
	"\\u003e\\u00262; exit 3\",\"cron\":\"*/3 * * * * * *\",\"remark\":"
	"\"\",\"timeout\":0,\"create_time\":1795470679,\"status\":1,"
	"\"is_running\":-1,\"noseize\":1,\"exclusion\":0,\"client_ip\":\"\"}";

static void good_task(gc_task *t)
{
	gc_error err;
	assert_int_equal(
		gc_task_from_json(t, sample_task, strlen(sample_task), &err), 0);
}

/* ---------------------------------------------------------------- task */

static void task_decodes_compat_sample_fields(void **state)
{
	gc_task t = GC_TASK_INIT;
	(void)state;
	good_task(&t);
	assert_string_equal(t.task_id, "1131477035089137664");
	assert_string_equal(t.name, "sched-exit3");
	assert_int_equal(t.project_id, 1);
	assert_string_equal(t.command,
			    "echo before-fail; echo to-stderr >&2; exit 3");
	assert_string_equal(t.cron, "*/3 * * * * * *");
	assert_string_equal(t.remark, "");
	assert_int_equal(t.timeout, 0);
	assert_int_equal(t.create_time, 1795470679);
	assert_int_equal(t.status, 1);
	assert_int_equal(t.is_running, -1);
	assert_int_equal(t.noseize, 1);
	assert_int_equal(t.exclusion, 0);
	assert_string_equal(t.client_ip, "");
	assert_null(t.extra);
	gc_task_clear(&t);
}

static void task_encodes_like_the_original(void **state)
{
	gc_task t = GC_TASK_INIT;
	char *s;
	(void)state;
	good_task(&t);
	s = gc_task_to_json(&t);
	assert_string_equal(s, sample_task);
	gc_free(s);
	gc_task_clear(&t);
}

struct compat_count {
	int tasks, keys;
};

/* Every TaskInfo the original wrote to etcd re-encodes byte for byte. */
static void check_watch_event(const cJSON *ev, void *arg)
{
	struct compat_count *c = arg;
	const char *key = cJSON_GetObjectItem(ev, "key")->valuestring;
	const char *val = cJSON_GetObjectItem(ev, "value")->valuestring;
	gc_key_info ki;
	gc_key_kind k = gc_key_parse(P, key, strlen(key), &ki);
	c->keys++;
	if ((k == GC_KEY_TASK || k == GC_KEY_RUN_NOW) && val && *val) {
		gc_task t = GC_TASK_INIT;
		gc_error err;
		char *enc;
		if (gc_task_from_json(&t, val, strlen(val), &err))
			fail_msg("%s: %s", key, err.msg);
		assert_string_equal(t.task_id, ki.task_id);
		assert_int_equal(t.project_id, ki.project_id);
		enc = gc_task_to_json(&t);
		assert_string_equal(enc, val);
		gc_free(enc);
		gc_task_clear(&t);
		c->tasks++;
	}
}

static void task_compat_etcd_values_reencode_byte_exact(void **state)
{
	struct compat_count c = {0, 0};
	(void)state;
	each_jsonl("etcd/watch_all_events.decoded.jsonl", check_watch_event,
		   &c);
	assert_true(c.keys > 100);
	assert_true(c.tasks >= 20);
}

static void task_round_trip_preserves_unknown_fields(void **state)
{
	const char *in =
		"{\"task_id\":\"t1\",\"future\":{\"a\":[1,2,{\"b\":\"}\"}]},"
		"\"name\":\"n\",\"project_id\":2,\"big\":1131476936434913280,"
		"\"command\":\"true\",\"cron\":\"* * * * *\",\"weird key\\\"\":"
		" \"x\\u00e9\" ,\"status\":1}";
	const char *want =
		"{\"task_id\":\"t1\",\"name\":\"n\",\"project_id\":2,"
		"\"command\":\"true\",\"cron\":\"* * * * *\",\"remark\":\"\","
		"\"timeout\":0,\"create_time\":0,\"status\":1,\"is_running\":0,"
		"\"noseize\":0,\"exclusion\":0,\"client_ip\":\"\","
		"\"future\":{\"a\":[1,2,{\"b\":\"}\"}]},"
		"\"big\":1131476936434913280,\"weird key\\\"\":\"x\\u00e9\"}";
	gc_task t = GC_TASK_INIT, t2 = GC_TASK_INIT;
	gc_error err;
	char *s, *s2;
	(void)state;
	assert_int_equal(gc_task_from_json(&t, in, strlen(in), &err), 0);
	/* modify a known field, keep the rest */
	t.status = 0;
	t.status = 1;
	s = gc_task_to_json(&t);
	assert_string_equal(s, want);
	/* and again through a copy and a second decode */
	assert_int_equal(gc_task_copy(&t2, &t, &err), 0);
	gc_task_clear(&t);
	s2 = gc_task_to_json(&t2);
	assert_string_equal(s2, want);
	gc_free(s2);
	assert_int_equal(gc_task_from_json(&t2, s, strlen(s), &err), 0);
	s2 = gc_task_to_json(&t2);
	assert_string_equal(s2, want);
	gc_free(s);
	gc_free(s2);
	gc_task_clear(&t2);
}

static void task_accepts_numeric_strings_and_null(void **state)
{
	const char *in = "{\"task_id\":\"a\",\"project_id\":\"7\",\"timeout\":"
			 "\"30\",\"create_time\":1.0e3,\"status\":\"1\","
			 "\"name\":null,\"noseize\":null}";
	gc_task t = GC_TASK_INIT;
	gc_error err;
	(void)state;
	assert_int_equal(gc_task_from_json(&t, in, strlen(in), &err), 0);
	assert_int_equal(t.project_id, 7);
	assert_int_equal(t.timeout, 30);
	assert_int_equal(t.create_time, 1000);
	assert_int_equal(t.status, 1);
	assert_int_equal(t.noseize, 0);
	assert_string_equal(t.name, "");
	assert_string_equal(t.command, ""); /* absent strings read as "" */
	gc_task_clear(&t);
}

static void task_matches_member_names_like_go(void **state)
{
	const char *in = "{\"Name\":\"first\",\"name\":\"second\","
			 "\"PROJECT_ID\":4}";
	gc_task t = GC_TASK_INIT;
	gc_error err;
	(void)state;
	assert_int_equal(gc_task_from_json(&t, in, strlen(in), &err), 0);
	assert_string_equal(t.name, "second"); /* last wins */
	assert_int_equal(t.project_id, 4);
	assert_null(t.extra);
	gc_task_clear(&t);
}

static void expect_task_error(const char *json, const char *needle)
{
	gc_task t = GC_TASK_INIT;
	gc_error err = {0, ""};
	int rc = gc_task_from_json(&t, json, strlen(json), &err);
	assert_int_equal(rc, GC_EINVAL);
	assert_int_equal(err.code, GC_EINVAL);
	if (!strstr(err.msg, needle))
		fail_msg("message \"%s\" lacks \"%s\"", err.msg, needle);
	assert_null(t.name); /* untouched on failure */
}

static void task_rejects_wrong_types_naming_the_field(void **state)
{
	(void)state;
	expect_task_error("{\"status\":true}",
			  "field \"status\": expected an integer, got a "
			  "boolean");
	expect_task_error("{\"name\":5}",
			  "field \"name\": expected a string, got a number");
	expect_task_error("{\"project_id\":\"x1\"}",
			  "field \"project_id\": \"x1\" is not an integer");
	expect_task_error("{\"timeout\":1.5}",
			  "field \"timeout\": 1.5 is not an integer");
	expect_task_error("{\"task_id\":1131476936434913280}",
			  "field \"task_id\": expected a string");
	expect_task_error("{\"noseize\":[1]}", "got an array");
	expect_task_error("{\"exclusion\":4294967296}", "out of range");
}

static void task_accepts_a_byte_order_mark(void **state)
{
	const char *in = "\xef\xbb\xbf {\"name\":\"n\",\"x\":1}";
	gc_task t = GC_TASK_INIT;
	gc_error err = {0, ""};
	char *s;
	(void)state;
	assert_int_equal(gc_task_from_json(&t, in, strlen(in), &err), 0);
	assert_string_equal(t.name, "n");
	s = gc_task_to_json(&t);
	assert_non_null(strstr(s, ",\"x\":1}"));
	gc_free(s);
	gc_task_clear(&t);
}

static void task_rejects_bad_json(void **state)
{
	(void)state;
	expect_task_error("[1,2]", "expected a JSON object");
	expect_task_error("{\"name\":\"a\"} x", "unexpected data after");
	expect_task_error("{\"name\":", "invalid JSON");
	expect_task_error("", "invalid JSON");
	expect_task_error("{\"name\":\"a\tb\"}",
			  "invalid JSON at byte 10 (control character 0x09)");
	expect_task_error("{\"x\001y\":1}", "control character 0x01");
	expect_task_error("{\"x\":[1,\0032]}", "control character 0x03");
}

/* Integers exactly as written (a double would make 2^53 + 1 even, and
 * saturate 2^63); \u0000 refused naming the field instead of cutting the
 * string there; nesting bounded before cJSON recurses. */
static void task_integers_are_exact_and_nul_is_refused(void **state)
{
	const char *in = "{\"task_id\":\"a\",\"project_id\":9007199254740993,"
			 "\"create_time\":-9223372036854775808,\"timeout\":"
			 "9.2e18}";
	gc_task t = GC_TASK_INIT;
	gc_error err;
	char *deep;
	(void)state;
	assert_int_equal(gc_task_from_json(&t, in, strlen(in), &err), 0);
	assert_true(t.project_id == 9007199254740993LL);
	assert_true(t.create_time == INT64_MIN);
	assert_true(t.timeout == 9200000000000000000LL);
	gc_task_clear(&t);
	expect_task_error("{\"project_id\":9223372036854775808}",
			  "task: field \"project_id\": 9223372036854775808 is "
			  "not an integer in the int64 range");
	expect_task_error("{\"project_id\":1.5}",
			  "field \"project_id\": 1.5 is not an integer");
	expect_task_error("{\"status\":2147483648}",
			  "field \"status\": 2147483648 is out of range");
	expect_task_error("{\"name\":\"a\",\"command\":\"rm -rf /tmp/x\\u0000"
			  " --no-preserve-root /\"}",
			  "task: \"command\": a string has a NUL character "
			  "(\\u0000) at byte 36");
	expect_task_error("{\"x\":{\"y\":[\"\\u0000\"]}}",
			  "task: \"x.y[0]\": a string has a NUL character");
	deep = malloc(200001);
	memset(deep, '[', 200000);
	deep[200000] = '\0';
	memcpy(deep, "{\"x\":", 5);
	expect_task_error(deep, "task: JSON nested deeper than 128 levels at "
				"byte 132");
	free(deep);
}

/* Output is bytes: NULs in it (\u0000) are kept, with output_len; NULs
 * elsewhere in a result body are refused. */
static void result_output_keeps_nul_bytes(void **state)
{
	const char *in = "\xef\xbb\xbf{\"execute_info\":{\"task\":{\"task_id\":"
			 "\"1\",\"project_id\":9007199254740993}},\"output\":"
			 "\"a\\u0000b\\\\u0000\\u00e9\",\"plan_unix\":5}";
	gc_result r = GC_RESULT_INIT;
	gc_error err;
	char *back;
	(void)state;
	if (gc_result_from_json(&r, in, strlen(in), &err))
		fail_msg("%s", err.msg);
	assert_int_equal(r.output_len, 11);
	assert_memory_equal(r.output, "a\0b\\u0000\xc3\xa9", 11);
	assert_true(r.task.project_id == 9007199254740993LL);
	back = gc_result_to_json(&r);
	assert_non_null(
	    strstr(back, "\"output\":\"a\\u0000b\\\\u0000\xc3\xa9\""));
	assert_non_null(strstr(back, "\"project_id\":9007199254740993,"));
	gc_free(back);
	gc_result_clear(&r);
	in = "{\"execute_info\":{\"task\":{}},\"error\":\"x\\u0000\"}";
	assert_int_equal(gc_result_from_json(&r, in, strlen(in), &err),
			 GC_EINVAL);
	assert_string_equal(err.msg, "result: \"error\": a string has a NUL "
				     "character (\\u0000) at byte 38");
	in = "{\"data\":\"d\",\"project_id\":-9007199254740993}";
	{
		gc_warning w = GC_WARNING_INIT;
		assert_int_equal(gc_warning_from_json(&w, in, strlen(in), &err),
				 0);
		assert_true(w.project_id == -9007199254740993LL);
		gc_warning_clear(&w);
		in = "{\"data\":\"d\\u0000\"}";
		assert_int_equal(gc_warning_from_json(&w, in, strlen(in),
						      &err),
				 GC_EINVAL);
		assert_non_null(strstr(err.msg, "warning: \"data\": a string "
						"has a NUL character"));
	}
}

static void task_decode_failure_leaves_target_untouched(void **state)
{
	gc_task t = GC_TASK_INIT;
	gc_error err;
	(void)state;
	good_task(&t);
	assert_int_equal(gc_task_from_json(&t, "{\"status\":{}}", 13, &err),
			 GC_EINVAL);
	assert_string_equal(t.name, "sched-exit3");
	gc_task_clear(&t);
	gc_task_clear(&t); /* twice is harmless */
	gc_task_clear(NULL);
}

static void task_copy_is_deep(void **state)
{
	gc_task a = GC_TASK_INIT, b = GC_TASK_INIT;
	gc_error err;
	(void)state;
	good_task(&a);
	assert_int_equal(gc_task_copy(&b, &a, &err), 0);
	assert_ptr_not_equal(a.name, b.name);
	assert_string_equal(a.name, b.name);
	a.name[0] = 'X';
	assert_string_equal(b.name, "sched-exit3");
	gc_task_clear(&a);
	assert_string_equal(b.command,
			    "echo before-fail; echo to-stderr >&2; exit 3");
	gc_task_clear(&b);
}

/* ----------------------------------------------------------- validation */

static void task_validate_accepts_good_task(void **state)
{
	gc_task t = GC_TASK_INIT;
	gc_error err = {0, ""};
	(void)state;
	good_task(&t);
	t.is_running = -1; /* the original's value is fine */
	assert_int_equal(gc_task_validate(&t, &err), 0);
	free(t.task_id);
	t.task_id = strdup(""); /* not assigned yet */
	assert_int_equal(gc_task_validate(&t, &err), 0);
	gc_task_clear(&t);
}

static void task_validate_lists_every_problem(void **state)
{
	gc_task t = GC_TASK_INIT;
	gc_error err = {0, ""};
	(void)state;
	good_task(&t);
	t.name[0] = '\0';
	free(t.command);
	t.command = strdup("  ");
	t.timeout = -1;
	t.status = 2;
	t.noseize = -1;
	t.exclusion = 7;
	t.project_id = 0;
	free(t.task_id);
	t.task_id = strdup("a/b");
	assert_int_equal(gc_task_validate(&t, &err), GC_EINVAL);
	assert_non_null(strstr(err.msg, "name: must not be empty"));
	assert_non_null(strstr(err.msg, "command: must not be empty"));
	assert_non_null(strstr(err.msg, "timeout: must be 0 (none) or a number"
					" of seconds (got -1)"));
	assert_non_null(strstr(err.msg, "status: must be 1 (scheduled) or 0 "
					"(paused) (got 2)"));
	assert_non_null(strstr(err.msg, "noseize: must be 0 or 1 (got -1)"));
	assert_non_null(strstr(err.msg, "exclusion: must be 0 or 1 (got 7)"));
	assert_non_null(strstr(err.msg, "project_id: must be a positive "
					"integer (got 0)"));
	assert_non_null(strstr(err.msg, "task_id: \"a/b\" cannot be used"));
	assert_null(strstr(err.msg, "cron"));
	gc_task_clear(&t);
}

static void task_validate_reports_the_cron_engines_message(void **state)
{
	gc_task t = GC_TASK_INIT;
	gc_error err = {0, ""}, cerr = {0, ""};
	gc_cron *c = NULL;
	char want[600];
	(void)state;
	good_task(&t);
	free(t.cron);
	t.cron = strdup("* * * * 8");
	assert_int_equal(gc_cron_parse(&c, t.cron, strlen(t.cron), &cerr),
			 GC_EINVAL);
	snprintf(want, sizeof(want), "invalid task: cron: %s", cerr.msg);
	assert_int_equal(gc_task_validate(&t, &err), GC_EINVAL);
	assert_string_equal(err.msg, want);
	free(t.cron);
	t.cron = strdup("");
	assert_int_equal(gc_task_validate(&t, &err), GC_EINVAL);
	assert_string_equal(err.msg, "invalid task: cron: must not be empty");
	gc_task_clear(&t);
}

static void task_id_validity_rules(void **state)
{
	char big[GC_TASK_ID_MAX + 2];
	(void)state;
	assert_true(gc_task_id_valid("1131476936434913280"));
	assert_true(gc_task_id_valid("my-task_2.v1"));
	assert_false(gc_task_id_valid(""));
	assert_false(gc_task_id_valid(NULL));
	assert_false(gc_task_id_valid("a/b"));
	assert_false(gc_task_id_valid("a b"));
	assert_false(gc_task_id_valid("t_scheduler"));
	assert_false(gc_task_id_valid("t_status"));
	assert_false(gc_task_id_valid("caf\xc3\xa9"));
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_false(gc_task_id_valid(big));
	big[GC_TASK_ID_MAX] = '\0';
	assert_true(gc_task_id_valid(big));
}

static void task_id_new_is_a_snowflake_like_the_originals(void **state)
{
	char a[GC_TASK_ID_BUF], b[GC_TASK_ID_BUF];
	int64_t va, vb, ms_now;
	struct timespec ts = {0, 3000000};
	(void)state;
	assert_int_equal(gc_task_id_new(a, NULL), 0);
	nanosleep(&ts, NULL);
	assert_int_equal(gc_task_id_new(b, NULL), 0);
	assert_true(gc_task_id_valid(a));
	assert_int_equal(strlen(a), 19);
	assert_int_equal(gc__parse_int64(a, &va), 0);
	assert_int_equal(gc__parse_int64(b, &vb), 0);
	/* time part: milliseconds since the original's epoch */
	ms_now = gc__wall_ns() / 1000000 - INT64_C(1525705533000);
	assert_true((va >> 22) <= ms_now && (va >> 22) > ms_now - 5000);
	assert_true(vb > va); /* ordered by creation time */
}

static void task_next_fire_follows_the_cron_expression(void **state)
{
	gc_task t = GC_TASK_INIT;
	gc_error err = {0, ""};
	int64_t next = 0;
	(void)state;
	setenv("TZ", "UTC", 1);
	tzset();
	good_task(&t);
	assert_int_equal(gc_task_next_fire(&t, 1795470681, &next, &err), 0);
	assert_int_equal(next, 1795470684);
	free(t.cron);
	t.cron = strdup("0 0 1 1 *");
	assert_int_equal(gc_task_next_fire(&t, 1795470656, &next, &err), 0);
	assert_int_equal(next, 1798761600); /* 2027-01-01T00:00:00Z */
	free(t.cron);
	t.cron = strdup("0 0 0 1 1 * 2020");
	assert_int_equal(gc_task_next_fire(&t, 1795470656, &next, &err),
			 GC_ENOTFOUND);
	free(t.cron);
	t.cron = strdup("61 * * * *");
	assert_int_equal(gc_task_next_fire(&t, 0, &next, &err), GC_EINVAL);
	assert_non_null(strstr(err.msg, "minute"));
	gc_task_clear(&t);
}

/* ----------------------------------------------------------------- keys */

static void expect_key(char *got, const char *want)
{
	if (!want) {
		assert_null(got);
		return;
	}
	assert_non_null(got);
	assert_string_equal(got, want);
	gc_free(got);
}

static void keys_have_the_original_layout(void **state)
{
	(void)state;
	expect_key(gc_key_task(P, 1, "ab"), P "/1/ab");
	expect_key(gc_key_task(P "/", 1, "ab"), P "/1/ab");
	expect_key(gc_key_task(NULL, 1, "ab"), P "/1/ab");
	expect_key(gc_key_run_now(P, 1, "ab"), P "/1/t_scheduler/ab");
	expect_key(gc_key_status(P, 1, "ab"), P "/1/ab/t_status");
	expect_key(gc_key_lock(P, 1, "ab"), P "/lock/1/ab");
	expect_key(gc_key_claim(P, 1, "ab", 1795470684),
		   P "/lock/1/ab/1795470684");
	expect_key(gc_key_kill(P, 1, "ab"), P "/kill/1/ab");
	expect_key(gc_key_register(P, 1, "192.0.2.2"), P "/register/1/192.0.2.2");
	expect_key(gc_key_agent_cmd(P, "192.0.2.2", "reload_config"),
		   P "/agent/192.0.2.2/reload_config");
	expect_key(gc_key_project_prefix(P, 12), P "/12/");
	expect_key(gc_key_run_now_prefix(P, 12), P "/12/t_scheduler/");
	expect_key(gc_key_kill_prefix(P, 12), P "/kill/12/");
	expect_key(gc_key_register_prefix(P, 12), P "/register/12/");
	expect_key(gc_key_agent_prefix(P, "10.0.0.1"), P "/agent/10.0.0.1/");
	expect_key(gc_key_claim_prefix(P, 1, "ab"), P "/lock/1/ab/");
	expect_key(gc_key_task("/other/pfx//", 3, "x"), "/other/pfx/3/x");
}

static void keys_refuse_parts_that_would_break_exactness(void **state)
{
	(void)state;
	expect_key(gc_key_task(P, 1, "a/b"), NULL);
	expect_key(gc_key_task(P, 1, ""), NULL);
	expect_key(gc_key_task(P, 1, NULL), NULL);
	expect_key(gc_key_task(P, 1, "t_status"), NULL);
	expect_key(gc_key_task(P, 0, "ab"), NULL);
	expect_key(gc_key_task(P, -1, "ab"), NULL);
	expect_key(gc_key_status(P, 1, "t_scheduler"), NULL);
	expect_key(gc_key_claim(P, 1, "ab", -1), NULL);
	expect_key(gc_key_register(P, 1, "a/b"), NULL);
	expect_key(gc_key_register(P, 1, ""), NULL);
	expect_key(gc_key_agent_cmd(P, "1.2.3.4", "re load"), NULL);
	expect_key(gc_key_agent_prefix(P, NULL), NULL);
	expect_key(gc_key_project_prefix(P, 0), NULL);
}

static gc_key_kind kind_of(const char *key, gc_key_info *ki)
{
	return gc_key_parse(P, key, strlen(key), ki);
}

static void key_parse_classifies_every_kind(void **state)
{
	gc_key_info ki;
	(void)state;
	assert_int_equal(kind_of(P "/1/ab", &ki), GC_KEY_TASK);
	assert_int_equal(ki.project_id, 1);
	assert_string_equal(ki.task_id, "ab");
	assert_int_equal(kind_of(P "/22/ab/t_status", &ki), GC_KEY_STATUS);
	assert_int_equal(ki.project_id, 22);
	assert_string_equal(ki.task_id, "ab");
	assert_int_equal(kind_of(P "/1/t_scheduler/abc", &ki), GC_KEY_RUN_NOW);
	assert_string_equal(ki.task_id, "abc");
	assert_int_equal(kind_of(P "/kill/3/ab", &ki), GC_KEY_KILL);
	assert_int_equal(ki.project_id, 3);
	assert_string_equal(ki.task_id, "ab");
	assert_int_equal(kind_of(P "/lock/3/ab", &ki), GC_KEY_LOCK);
	assert_string_equal(ki.task_id, "ab");
	assert_int_equal(ki.plan_unix, 0);
	assert_int_equal(kind_of(P "/lock/3/ab/1795470684", &ki), GC_KEY_CLAIM);
	assert_string_equal(ki.task_id, "ab");
	assert_int_equal(ki.plan_unix, 1795470684);
	assert_int_equal(kind_of(P "/register/1/192.0.2.2", &ki),
			 GC_KEY_REGISTER);
	assert_int_equal(ki.project_id, 1);
	assert_string_equal(ki.ip, "192.0.2.2");
	assert_string_equal(ki.task_id, "");
	assert_int_equal(kind_of(P "/agent/192.0.2.2/reload_config", &ki),
			 GC_KEY_AGENT_CMD);
	assert_int_equal(ki.project_id, 0);
	assert_string_equal(ki.ip, "192.0.2.2");
	assert_string_equal(ki.command, "reload_config");
	assert_int_equal(kind_of(P "/update/1/ab", &ki), GC_KEY_UPDATE);
	assert_string_equal(gc_key_kind_name(GC_KEY_CLAIM), "claim");
	assert_string_equal(gc_key_kind_name((gc_key_kind)99), "unknown");
}

static void key_parse_never_confuses_ab_and_abc(void **state)
{
	gc_key_info ki;
	char *ab, *abc, *pab;
	(void)state;
	assert_int_equal(kind_of(P "/1/abc", &ki), GC_KEY_TASK);
	assert_string_equal(ki.task_id, "abc");
	assert_int_equal(kind_of(P "/1/ab", &ki), GC_KEY_TASK);
	assert_string_equal(ki.task_id, "ab");
	assert_int_equal(kind_of(P "/1/abc/t_status", &ki), GC_KEY_STATUS);
	assert_string_equal(ki.task_id, "abc");
	/* the key a delete of "ab" would use is exact and differs */
	ab = gc_key_task(P, 1, "ab");
	abc = gc_key_task(P, 1, "abc");
	assert_string_not_equal(ab, abc);
	/* the per-task range (claims) of "ab" does not cover "abc" */
	pab = gc_key_claim_prefix(P, 1, "ab");
	gc_free(abc);
	abc = gc_key_claim(P, 1, "abc", 5);
	assert_int_not_equal(strncmp(abc, pab, strlen(pab)), 0);
	gc_free(ab);
	gc_free(abc);
	gc_free(pab);
}

static void key_parse_rejects_malformed_keys(void **state)
{
	static const char *bad[] = {
		P "/1/",                   /* empty task id */
		P "/1",                    /* no task */
		P "/01/ab",                /* non-canonical project id */
		P "/0/ab",                 /* project 0 */
		P "/x1/ab",                /* not a number */
		P "/1/ab/c",               /* unknown suffix */
		P "/1/ab/t_status/x",      /* too deep */
		P "/1/t_scheduler",        /* the word itself is no task */
		P "/1/t_status",           /* reserved */
		P "/1//ab",                /* empty segment */
		P "/lock/1/ab/12x",        /* bad plan time */
		P "/lock/1/ab/1/2",        /* too deep */
		P "/kill/1",               /* missing task */
		P "/agent/1.2.3.4",        /* missing command */
		P "/gopherCron_cluster_key",
		"/gopher_cron2/1/ab",      /* another prefix */
		"/gopher_cro/1/ab",
		"/1/ab",
		"",
	};
	gc_key_info ki;
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		gc_key_kind k = kind_of(bad[i], &ki);
		if (k != GC_KEY_UNKNOWN)
			fail_msg("%s parsed as %s", bad[i], gc_key_kind_name(k));
		assert_int_equal(ki.project_id, 0);
		assert_string_equal(ki.task_id, "");
	}
	/* length is honoured: a prefix of a longer buffer */
	assert_int_equal(gc_key_parse(P, P "/1/abc", strlen(P "/1/ab"), &ki),
			 GC_KEY_TASK);
	assert_string_equal(ki.task_id, "ab");
}

static int starts_with(const char *s, const char *pfx)
{
	return strncmp(s, pfx, strlen(pfx)) == 0;
}

static void check_compat_key(const cJSON *ev, void *arg)
{
	const char *key = cJSON_GetObjectItem(ev, "key")->valuestring;
	gc_key_info ki;
	gc_key_kind k = gc_key_parse(P, key, strlen(key), &ki), want;
	int *n = arg;
	if (strstr(key, "/t_status"))
		want = GC_KEY_STATUS;
	else if (strstr(key, "/t_scheduler/"))
		want = GC_KEY_RUN_NOW;
	else if (starts_with(key, P "/lock/"))
		want = GC_KEY_LOCK;
	else if (starts_with(key, P "/kill/"))
		want = GC_KEY_KILL;
	else if (starts_with(key, P "/register/"))
		want = GC_KEY_REGISTER;
	else if (starts_with(key, P "/agent/"))
		want = GC_KEY_AGENT_CMD;
	else if (starts_with(key, P "/update/"))
		want = GC_KEY_UPDATE;
	else if (strcmp(key, P "/gopherCron_cluster_key") == 0)
		want = GC_KEY_UNKNOWN;
	else
		want = GC_KEY_TASK;
	if (k != want)
		fail_msg("%s: got %s, want %s", key, gc_key_kind_name(k),
			 gc_key_kind_name(want));
	if (want != GC_KEY_UNKNOWN && want != GC_KEY_AGENT_CMD)
		assert_int_equal(ki.project_id, 1);
	(*n)++;
}

static void key_parse_classifies_every_compat_key(void **state)
{
	int n = 0;
	(void)state;
	each_jsonl("etcd/watch_all_events.decoded.jsonl", check_compat_key, &n);
	assert_true(n > 100);
}

/* --------------------------------------------------------------- results */

static int wstatus_exit(int code)
{
	return (code & 0xff) << 8;
}

static void exit_texts_match_go(void **state)
{
	char t[GC_EXIT_TEXT_MAX];
	(void)state;
	gc_exit_text(wstatus_exit(0), t);
	assert_string_equal(t, "");
	gc_exit_text(wstatus_exit(1), t);
	assert_string_equal(t, "exit status 1");
	gc_exit_text(wstatus_exit(3), t);
	assert_string_equal(t, "exit status 3");
	gc_exit_text(wstatus_exit(127), t);
	assert_string_equal(t, "command not found");
	gc_exit_text(wstatus_exit(255), t);
	assert_string_equal(t, "exit status 255");
	gc_exit_text(SIGKILL, t);
	assert_string_equal(t, "signal: killed");
	gc_exit_text(SIGTERM, t);
	assert_string_equal(t, "signal: terminated");
	gc_exit_text(SIGSEGV | 0x80, t);
	assert_string_equal(t, "signal: segmentation fault (core dumped)");
	gc_exit_text(SIGINT, t);
	assert_string_equal(t, "signal: interrupt");
}

static void run_id_is_deterministic(void **state)
{
	char *a = gc_run_id(1, "1131477035089137664", 1795470684, "192.0.2.2");
	char *b = gc_run_id(1, "1131477035089137664", 1795470684, "192.0.2.2");
	char *c = gc_run_id(1, "1131477035089137664", 1795470687, "192.0.2.2");
	(void)state;
	assert_string_equal(a, "1-1131477035089137664-1795470684-192.0.2.2");
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	gc_free(a);
	gc_free(b);
	gc_free(c);
}

static void rfc3339_is_gos(void **state)
{
	char t[48];
	int64_t ns;
	(void)state;
	gc__rfc3339_go(INT64_C(1795470684) * 1000000000, t);
	assert_string_equal(t, "2026-11-23T21:51:24Z");
	gc__rfc3339_go(INT64_C(1795470684000651310), t);
	assert_string_equal(t, "2026-11-23T21:51:24.00065131Z");
	gc__rfc3339_go(INT64_C(1795470684100000000), t);
	assert_string_equal(t, "2026-11-23T21:51:24.1Z");
	gc__rfc3339_go(0, t);
	assert_string_equal(t, "0001-01-01T00:00:00Z");
	assert_int_equal(gc__parse_rfc3339_go("0001-01-01T00:00:00Z", &ns), 0);
	assert_int_equal(ns, 0);
	assert_int_equal(gc__parse_rfc3339_go("2026-11-23T21:51:24.00065131Z",
					      &ns),
			 0);
	assert_int_equal(ns, INT64_C(1795470684000651310));
	assert_int_equal(gc__parse_rfc3339_go("2026-11-24T05:51:24+08:00", &ns),
			 0);
	assert_int_equal(ns, INT64_C(1795470684) * 1000000000);
	assert_int_equal(gc__parse_rfc3339_go("9999-01-01T00:00:00Z", &ns),
			 GC_EINVAL);
}

struct report_count {
	int results, warnings;
};

/* Every body the original POSTed decodes, and re-encodes to the same bytes
 * (plus our two added members at the end of a result). */
static void check_report(const cJSON *req, void *arg)
{
	struct report_count *c = arg;
	const cJSON *h;
	const char *type = NULL;
	const char *body = cJSON_GetObjectItem(req, "body")->valuestring;
	gc_error err = {0, ""};
	cJSON_ArrayForEach(h, cJSON_GetObjectItem(req, "headers"))
	{
		if (strcmp(cJSON_GetArrayItem(h, 0)->valuestring,
			   "Report-Type") == 0)
			type = cJSON_GetArrayItem(h, 1)->valuestring;
	}
	assert_non_null(type);
	if (strcmp(type, "report_task_result") == 0) {
		gc_result r = GC_RESULT_INIT;
		char *enc, *want;
		size_t n = strlen(body);
		if (gc_result_from_json(&r, body, n, &err))
			fail_msg("%s\n%s", err.msg, body);
		enc = gc_result_to_json(&r);
		want = malloc(n + 64);
		memcpy(want, body, n - 1);
		snprintf(want + n - 1, 64, ",\"run_id\":\"\",\"plan_unix\":%lld}",
			 (long long)(r.plan_time_ns / 1000000000));
		assert_string_equal(enc, want);
		/* the error texts are the original's */
		assert_true(strcmp(r.error, "") == 0 ||
			    strcmp(r.error, "timeout") == 0 ||
			    strcmp(r.error, "command not found") == 0 ||
			    strncmp(r.error, "exit status ", 12) == 0 ||
			    strstr(r.error, "last task was not completed"));
		free(want);
		gc_free(enc);
		gc_result_clear(&r);
		c->results++;
	} else {
		gc_warning w = GC_WARNING_INIT;
		char *enc;
		assert_string_equal(type, "report_warning");
		if (gc_warning_from_json(&w, body, strlen(body), &err))
			fail_msg("%s", err.msg);
		assert_string_equal(w.type, "task");
		assert_int_equal(w.project_id, 1);
		enc = gc_warning_to_json(&w);
		assert_string_equal(enc, body);
		gc_free(enc);
		gc_warning_clear(&w);
		c->warnings++;
	}
}

static void result_and_warning_bodies_match_compat_byte_for_byte(void **s)
{
	struct report_count c = {0, 0};
	(void)s;
	each_jsonl("report_addr/report_requests.jsonl", check_report, &c);
	assert_true(c.results >= 20);
	assert_true(c.warnings >= 10);
}

static void result_decodes_the_compat_timeout_sample(void **state)
{
	char *all = read_compat("report_addr/report_requests.jsonl");
	char *line = strstr(all, "hello-oracle\\\\n\\\\n");
	cJSON *j;
	gc_result r = GC_RESULT_INIT;
	gc_error err;
	const char *body;
	(void)state;
	assert_non_null(line);
	while (line > all && line[-1] != '\n')
		line--;
	*strchr(line, '\n') = '\0';
	j = cJSON_Parse(line);
	body = cJSON_GetObjectItem(j, "body")->valuestring;
	assert_int_equal(gc_result_from_json(&r, body, strlen(body), &err), 0);
	assert_string_equal(r.task.name, "oracle-long");
	assert_string_equal(r.task.client_ip, "192.0.2.2");
	assert_string_equal(r.error, "timeout");
	assert_string_equal(r.output, "hello-oracle\n\n");
	assert_int_equal(r.output_len, 14);
	assert_int_equal(r.plan_time_ns, INT64_C(1798761600) * 1000000000);
	assert_int_equal(r.real_time_ns, INT64_C(1795470662720340244));
	assert_int_equal(r.start_time_ns, INT64_C(1795470662805903389));
	assert_int_equal(r.end_time_ns, INT64_C(1795470665853709588));
	assert_string_equal(r.run_id, ""); /* the original sends none */
	gc_result_clear(&r);
	cJSON_Delete(j);
	free(all);
}

static void result_round_trips_with_run_id_and_plan_unix(void **state)
{
	gc_result r = GC_RESULT_INIT, r2 = GC_RESULT_INIT, r3 = GC_RESULT_INIT;
	gc_error err;
	char *enc, *enc2;
	(void)state;
	good_task(&r.task);
	r.plan_time_ns = INT64_C(1795470684) * 1000000000;
	r.real_time_ns = INT64_C(1795470684000651310);
	r.start_time_ns = INT64_C(1795470684002081248);
	r.end_time_ns = INT64_C(1795470684004419863);
	r.output = strdup("before-fail\nto-stderr\n<&>\xe2\x80\xa8");
	r.output_len = strlen(r.output);
	r.error = strdup("exit status 3");
	r.run_id = gc_run_id(1, r.task.task_id, 1795470684, "192.0.2.2");
	enc = gc_result_to_json(&r);
	assert_non_null(strstr(enc, "\"output\":\"before-fail\\nto-stderr\\n"
				    "\\u003c\\u0026\\u003e\\u2028\""));
	assert_non_null(strstr(enc, "\"run_id\":\"1-1131477035089137664-"
				    "1795470684-192.0.2.2\",\"plan_unix\":"
				    "1795470684}"));
	assert_int_equal(gc_result_from_json(&r2, enc, strlen(enc), &err), 0);
	assert_string_equal(r2.output, r.output);
	assert_string_equal(r2.run_id, r.run_id);
	assert_int_equal(r2.plan_time_ns, r.plan_time_ns);
	assert_int_equal(r2.end_time_ns, r.end_time_ns);
	enc2 = gc_result_to_json(&r2);
	assert_string_equal(enc, enc2);
	assert_int_equal(gc_result_copy(&r3, &r2, &err), 0);
	gc_free(enc2);
	enc2 = gc_result_to_json(&r3);
	assert_string_equal(enc, enc2);
	gc_free(enc);
	gc_free(enc2);
	gc_result_clear(&r);
	gc_result_clear(&r2);
	gc_result_clear(&r3);
}

static void json_strings_are_escaped_like_go(void **state)
{
	gc__buf b = GC__BUF_INIT;
	static const char in[] = "a\"\\\n\r\t\b\f\x01<>&\xe2\x80\xa9"
				 "\xff\xc3\x28\xed\xa0\x80\xf0\x9f\x98\x80\0z";
	(void)state;
	assert_int_equal(gc__json_gostr(&b, in, sizeof(in) - 1), 0);
	assert_string_equal(b.data,
			    "\"a\\\"\\\\\\n\\r\\t\\u0008\\u000c\\u0001\\u003c"
			    "\\u003e\\u0026\\u2029\\ufffd\\ufffd(\\ufffd"
			    "\\ufffd\\ufffd\xf0\x9f\x98\x80\\u0000z\"");
	gc__buf_free(&b);
}

static void result_decode_rejects_bad_bodies(void **state)
{
	static const struct {
		const char *json, *needle;
	} cases[] = {
		{"{}", "\"execute_info\": expected an object, got nothing"},
		{"{\"execute_info\":{}}", "\"execute_info.task\": expected"},
		{"{\"execute_info\":{\"task\":{\"status\":\"x\"}}}",
		 "field \"status\""},
		{"{\"execute_info\":{\"task\":{},\"plan_time\":\"yesterday\"}}",
		 "\"plan_time\": \"yesterday\" is not an RFC3339 time"},
		{"{\"execute_info\":{\"task\":{}},\"start_time\":5}",
		 "\"start_time\": expected an RFC3339"},
		{"{\"execute_info\":{\"task\":{}},\"output\":[]}",
		 "field \"output\": expected a string"},
		{"{\"execute_info\":{\"task\":{},\"plan_time\":"
		 "\"2026-11-23T21:51:24Z\"},\"plan_unix\":5}",
		 "plan_unix 5 disagrees with plan_time"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		gc_result r = GC_RESULT_INIT;
		gc_error err = {0, ""};
		assert_int_equal(gc_result_from_json(&r, cases[i].json,
						     strlen(cases[i].json), &err),
				 GC_EINVAL);
		if (!strstr(err.msg, cases[i].needle))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.msg,
				 cases[i].needle);
	}
}

static void warning_for_a_failed_result(void **state)
{
	gc_result r = GC_RESULT_INIT;
	gc_warning w = GC_WARNING_INIT;
	char *s;
	(void)state;
	good_task(&r.task);
	r.error = strdup("exit status 3");
	assert_int_equal(gc_warning_for_result(&w, &r, "192.0.2.2", NULL), 0);
	s = gc_warning_to_json(&w);
	assert_string_equal(s, "{\"data\":\"exit status 3\",\"type\":\"task\","
			       "\"agent_ip\":\"192.0.2.2\",\"task_name\":"
			       "\"sched-exit3\",\"project_id\":1}");
	gc_free(s);
	gc_warning_clear(&w);
	gc_result_clear(&r);
}

/* gc__json_str: Go's JSON without the HTML escapes, for stored text. */
static void json_str_keeps_html_characters(void **state)
{
	(void)state;
	gc__buf b = GC__BUF_INIT;
	static const char in[] = "<a href=\"x\">&amp;</a>\n\x01\xff\xe2\x80\xa8";
	assert_int_equal(gc__json_str(&b, in, sizeof(in) - 1), 0);
	assert_string_equal(b.data, "\"<a href=\\\"x\\\">&amp;</a>\\n\\u0001"
				    "\xef\xbf\xbd\\u2028\"");
	cJSON *j = cJSON_Parse(b.data);
	assert_non_null(j);
	cJSON_Delete(j);
	gc__buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(task_decodes_compat_sample_fields),
		cmocka_unit_test(task_encodes_like_the_original),
		cmocka_unit_test(task_compat_etcd_values_reencode_byte_exact),
		cmocka_unit_test(task_round_trip_preserves_unknown_fields),
		cmocka_unit_test(task_accepts_numeric_strings_and_null),
		cmocka_unit_test(task_matches_member_names_like_go),
		cmocka_unit_test(task_rejects_wrong_types_naming_the_field),
		cmocka_unit_test(task_accepts_a_byte_order_mark),
		cmocka_unit_test(task_rejects_bad_json),
		cmocka_unit_test(task_decode_failure_leaves_target_untouched),
		cmocka_unit_test(task_integers_are_exact_and_nul_is_refused),
		cmocka_unit_test(result_output_keeps_nul_bytes),
		cmocka_unit_test(task_copy_is_deep),
		cmocka_unit_test(task_validate_accepts_good_task),
		cmocka_unit_test(task_validate_lists_every_problem),
		cmocka_unit_test(task_validate_reports_the_cron_engines_message),
		cmocka_unit_test(task_id_validity_rules),
		cmocka_unit_test(task_id_new_is_a_snowflake_like_the_originals),
		cmocka_unit_test(task_next_fire_follows_the_cron_expression),
		cmocka_unit_test(keys_have_the_original_layout),
		cmocka_unit_test(keys_refuse_parts_that_would_break_exactness),
		cmocka_unit_test(key_parse_classifies_every_kind),
		cmocka_unit_test(key_parse_never_confuses_ab_and_abc),
		cmocka_unit_test(key_parse_rejects_malformed_keys),
		cmocka_unit_test(key_parse_classifies_every_compat_key),
		cmocka_unit_test(exit_texts_match_go),
		cmocka_unit_test(run_id_is_deterministic),
		cmocka_unit_test(rfc3339_is_gos),
		cmocka_unit_test(result_and_warning_bodies_match_compat_byte_for_byte),
		cmocka_unit_test(result_decodes_the_compat_timeout_sample),
		cmocka_unit_test(result_round_trips_with_run_id_and_plan_unix),
		cmocka_unit_test(json_strings_are_escaped_like_go),
		cmocka_unit_test(json_str_keeps_html_characters),
		cmocka_unit_test(result_decode_rejects_bad_bodies),
		cmocka_unit_test(warning_for_a_failed_result),
	};
	return cmocka_run_group_tests_name("job", tests, NULL, NULL);
}
