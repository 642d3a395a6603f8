/* Unit tests for the store's task-log rows: the result text of a row read
 * cut (a head and a tail of it) rebuilt as the same JSON shape. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "job/job_internal.h"
#include "store/store_internal.h"

#include <cJSON.h>
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_cut_result_is_rebuilt_from_head_and_tail),
	};
	return cmocka_run_group_tests_name("store_logrow", tests, NULL, NULL);
}
