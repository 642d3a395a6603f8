/* Unit tests for the store's task-log rows: the result text of a row read
 * cut (a head and a tail of it) rebuilt as the same JSON shape; the rows
 * the report bodies of a GopherCron 1.10 agent become. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "job/job_internal.h"
#include "store/store_internal.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A stored result cut anywhere (a head of h bytes, a tail of t bytes)
 * comes back as the same JSON shape: its output a prefix of the real one,
 * the marker, a suffix of it; the error texts whole when the tail holds
 * them. Both our rows and the original's (\u003c, surrogate pairs, every
 * escape) decode. */
static void a_cut_result_is_rebuilt_from_head_and_tail(void **state)
{
	(void)state;
	static const char *const outputs[] = {
		"plain ascii text with some length to it, line after line\n"
		"second line\tand a tab\n",
		"<<<>>>&&& \"quoted\" back\\slash \xe2\x9c\x93 \xf0\x9f\x98\x80 "
		"\x01\x02 end",
		"\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n",
	};
	for (size_t o = 0; o < GC__ARRAY_LEN(outputs); o++) {
		const char *out = outputs[o];
		for (int go = 0; go < 2; go++) {
			gc__buf text = GC__BUF_INIT;
			/* go: Go's own escaping, as the original stored it;
			 * the emoji also as a \ud83d\ude00 pair */
			assert_int_equal(gc__buf_puts(&text, "{\"result\":"), 0);
			if (go) {
				gc__buf t2 = GC__BUF_INIT;
				assert_int_equal(gc__json_gostr(&t2, out, strlen(out)),
						 0);
				char *e = strstr(t2.data, "\xf0\x9f\x98\x80");
				if (e) {
					gc__buf_append(&text, t2.data,
						       (size_t)(e - t2.data));
					gc__buf_puts(&text, "\\ud83d\\ude00");
					gc__buf_puts(&text, e + 4);
				} else {
					gc__buf_puts(&text, t2.data);
				}
				gc__buf_free(&t2);
			} else {
				assert_int_equal(gc__json_str(&text, out, strlen(out)),
						 0);
			}
			assert_int_equal(gc__buf_puts(&text,
						      ",\"system_error\":\"exit "
						      "status 3\",\"error\":\"\"}"),
					 0);
			/* as the store cuts: the head holds {"result":" at
			 * least, the pieces do not overlap */
			for (size_t h = 11; h <= text.len; h++) {
				for (size_t t = 0; t + h <= text.len; t += 3) {
					gc__buf b = GC__BUF_INIT;
					assert_int_equal(
						gc__log_result_cut(text.data, h,
								   text.data +
									   text.len - t,
								   t, NULL, &b),
						0);
					cJSON *j = cJSON_Parse(b.data);
					if (!j)
						fail_msg("not JSON (h %zu t %zu): %s",
							 h, t, b.data);
					const char *got = cJSON_GetObjectItem(j, "result")
								  ->valuestring;
					const char *m = strstr(got, "\n... [output cut");
					if (!m) {
						/* whole in the head */
						assert_string_equal(got, out);
					} else {
						const char *after =
							strstr(m, "] ...\n") + 6;
						size_t pre = (size_t)(m - got);
						size_t suf = strlen(after);
						assert_true(pre <= strlen(out));
						assert_memory_equal(got, out, pre);
						if (suf > strlen(out) ||
						    strcmp(after, out + strlen(out) - suf))
							fail_msg("output %zu go %d h %zu t %zu: "
								 "tail \"%s\" of %s",
								 o, go, h, t, after,
								 b.data);
					}
					/* the tail holds the error texts */
					if (t >= 40)
						assert_string_equal(
							cJSON_GetObjectItem(j, "system_error")
								->valuestring,
							"exit status 3");
					cJSON_Delete(j);
					gc__buf_free(&b);
				}
			}
			gc__buf_free(&text);
		}
	}
}

/* The Report-Type header of a captured request. */
static const char *report_type(const cJSON *req)
{
	const cJSON *h;
	cJSON_ArrayForEach(h, cJSON_GetObjectItem(req, "headers"))
	{
		if (strcmp(cJSON_GetArrayItem(h, 0)->valuestring,
			   "Report-Type") == 0)
			return cJSON_GetArrayItem(h, 1)->valuestring;
	}
	return "";
}

/* Every result body the original agent sent (compat/report_addr) carries
 * the task's NEXT tick as plan_time; its row holds the tick that ran (the
 * second of real_time), never after start_time. */
static void original_agent_rows_hold_the_tick_that_ran(void **state)
{
	(void)state;
	const char *shared = getenv("GC_SHARED");
	char path[1024], line[16384];
	snprintf(path, sizeof(path),
		 "%s/compat/report_addr/report_requests.jsonl",
		 shared && *shared ? shared : "../shared");
	FILE *fp = fopen(path, "r");
	if (!fp)
		fail_msg("cannot open %s (set GC_SHARED)", path);
	int results = 0, next_tick = 0;
	while (fgets(line, sizeof(line), fp)) {
		cJSON *req = cJSON_Parse(line);
		assert_non_null(req);
		if (strcmp(report_type(req), "report_task_result")) {
			cJSON_Delete(req);
			continue;
		}
		const char *body = cJSON_GetObjectItem(req, "body")->valuestring;
		gc_result r = GC_RESULT_INIT;
		gc_store_log row;
		gc_error err = {0, ""};
		memset(&row, 0, sizeof(row));
		assert_int_equal(gc_result_from_json(&r, body, strlen(body), &err),
				 0);
		assert_int_equal(gc_store_log_from_result(&row, &r, "192.0.2.9",
							  "p", 0, &err),
				 0);
		assert_int_equal(row.plan_time, r.real_time_ns / 1000000000);
		assert_true(row.plan_time <= row.start_time);
		if (r.plan_time_ns / 1000000000 > row.start_time)
			next_tick++;
		/* a re-sent body is still recognised */
		gc_store_log again;
		memset(&again, 0, sizeof(again));
		assert_int_equal(gc_store_log_from_result(&again, &r, "192.0.2.9",
							  "p", 0, &err),
				 0);
		assert_string_equal(row.run_id, again.run_id);
		gc_store_log_clear(&again);
		gc_store_log_clear(&row);
		gc_result_clear(&r);
		cJSON_Delete(req);
		results++;
	}
	fclose(fp);
	assert_true(results >= 20);
	assert_true(next_tick >= 20); /* the capture shows the quirk */
}

/* Our own agent's bodies carry a run_id and the tick that ran: kept. */
static void own_agent_rows_keep_their_plan_time(void **state)
{
	(void)state;
	gc_result r = GC_RESULT_INIT;
	gc_store_log row;
	gc_error err = {0, ""};
	memset(&row, 0, sizeof(row));
	r.task.project_id = 1;
	r.task.task_id = (char *)"t1";
	r.run_id = (char *)"run-1";
	r.plan_time_ns = 1795470690LL * 1000000000;
	r.real_time_ns = 1795470699LL * 1000000000;
	r.start_time_ns = 1795470699LL * 1000000000 + 5;
	r.end_time_ns = r.start_time_ns;
	assert_int_equal(gc_store_log_from_result(&row, &r, "", "p", 0, &err), 0);
	assert_int_equal(row.plan_time, 1795470690);
	assert_string_equal(row.run_id, "run-1");
	gc_store_log_clear(&row);
	/* a 1.10 body without real_time: the start's second */
	r.run_id = NULL;
	r.real_time_ns = 0;
	r.plan_time_ns = 1795470702LL * 1000000000;
	assert_int_equal(gc_store_log_from_result(&row, &r, "", "p", 0, &err), 0);
	assert_int_equal(row.plan_time, 1795470699);
	gc_store_log_clear(&row);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_cut_result_is_rebuilt_from_head_and_tail),
		cmocka_unit_test(original_agent_rows_hold_the_tick_that_ran),
		cmocka_unit_test(own_agent_rows_keep_their_plan_time),
	};
	return cmocka_run_group_tests_name("store_logrow", tests, NULL, NULL);
}
