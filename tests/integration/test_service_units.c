/* The service's building blocks without servers: parameter parsing and
 * binding, UTF-8 checks, JSON quoting, the envelope, tokens, the failed-
 * login throttle and the metrics text. (No etcd or database needed; it
 * lives with the service's integration tests.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "service/svc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const gc__argspec specs[] = {
	{"project_id", GC__ARG_INT, GC__ARG_REQ, 1, INT64_MAX},
	{"name", GC__ARG_STR, GC__ARG_REQ, 0, 10},
	{"status", GC__ARG_INT, 0, 0, 1},
	{"remark", GC__ARG_STR, 0, 0, 255},
};

static int bind_form(const char *body, const char *query, gc__arg *a,
		     char *msg)
{
	gc__params p = {0};
	int rc = 0;
	if (body)
		rc = gc__params_add_form(&p, body, strlen(body), msg, 256);
	if (!rc && query)
		rc = gc__params_add_form(&p, query, strlen(query), msg, 256);
	if (!rc)
		rc = gc__bind(&p, specs, 4, a, msg, 256);
	/* a[] points into p: copy what the tests look at */
	if (!rc && a[1].present) {
		static char name[64];
		memcpy(name, a[1].s, a[1].len + 1);
		a[1].s = name;
	}
	gc__params_free(&p);
	return rc;
}

static void form_decoding_and_precedence(void **state)
{
	gc__arg a[4];
	char msg[256];
	(void)state;
	assert_int_equal(bind_form("project_id=7&name=a+b%3Bc", "name=q", a, msg),
			 0);
	assert_int_equal(a[0].i, 7);
	assert_string_equal(a[1].s, "a b;c"); /* body wins, ';' is plain */
	assert_false(a[2].present);
	/* the first of repeated keys wins; empty optional int = absent */
	assert_int_equal(bind_form("project_id=1&project_id=2&name=x&status=",
				   NULL, a, msg),
			 0);
	assert_int_equal(a[0].i, 1);
	assert_false(a[2].present);
}

static void binding_errors_name_the_parameter(void **state)
{
	gc__arg a[4];
	char msg[256];
	(void)state;
	assert_int_equal(bind_form("name=x", NULL, a, msg), GC_EINVAL);
	assert_string_equal(msg, "missing parameter \"project_id\"");
	assert_int_equal(bind_form("project_id=x1&name=x", NULL, a, msg),
			 GC_EINVAL);
	assert_non_null(strstr(msg, "\"project_id\": expected an integer"));
	assert_int_equal(bind_form("project_id=0&name=x", NULL, a, msg),
			 GC_EINVAL);
	assert_non_null(strstr(msg, "out of range"));
	assert_int_equal(bind_form("project_id=1&name=", NULL, a, msg),
			 GC_EINVAL);
	assert_non_null(strstr(msg, "must not be empty"));
	assert_int_equal(bind_form("project_id=1&name=01234567890", NULL, a,
				   msg),
			 GC_EINVAL);
	assert_non_null(strstr(msg, "too long (11 bytes, at most 10)"));
	assert_int_equal(bind_form("project_id=1&name=%C3%28", NULL, a, msg),
			 GC_EINVAL);
	assert_non_null(strstr(msg, "UTF-8"));
	assert_int_equal(bind_form("project_id=1&name=a%00b", NULL, a, msg),
			 GC_EINVAL);
	assert_int_equal(bind_form("project_id=1&name=%4", NULL, a, msg),
			 GC_EINVAL);
	assert_non_null(strstr(msg, "offset 18"));
	assert_int_equal(bind_form("=1", NULL, a, msg), GC_EINVAL);
	assert_int_equal(bind_form("project_id=+1&name=x", NULL, a, msg),
			 GC_EINVAL);
	assert_int_equal(bind_form("project_id=99999999999999999999&name=x",
				   NULL, a, msg),
			 GC_EINVAL);
}

static void json_bodies_bind_with_types_checked(void **state)
{
	gc__params p = {0};
	gc__arg a[4];
	char msg[256];
	const char *ok = "{\"project_id\":3,\"name\":\"j\",\"status\":\"1\","
			 "\"remark\":null}";
	(void)state;
	assert_int_equal(gc__params_add_json(&p, ok, strlen(ok), msg, 256), 0);
	assert_int_equal(gc__bind(&p, specs, 4, a, msg, 256), 0);
	assert_int_equal(a[0].i, 3);
	assert_int_equal(a[2].i, 1); /* numeric text binds too */
	assert_false(a[3].present);  /* null = not given */
	gc__params_free(&p);

	{
		const char *bad[] = {
			"{\"project_id\":true,\"name\":\"j\"}",
			"{\"project_id\":1.5,\"name\":\"j\"}",
			"{\"project_id\":1,\"name\":5}",
			"{\"project_id\":1,\"name\":{\"a\":1}}",
		};
		const char *want[] = {"a boolean", "\"1.5\"", "a number",
				      "an array or object"};
		for (size_t i = 0; i < 4; i++) {
			assert_int_equal(gc__params_add_json(&p, bad[i],
							     strlen(bad[i]),
							     msg, 256),
					 0);
			assert_int_equal(gc__bind(&p, specs, 4, a, msg, 256),
					 GC_EINVAL);
			if (!strstr(msg, want[i]))
				fail_msg("%s: %s", bad[i], msg);
			gc__params_free(&p);
		}
	}
	assert_int_equal(gc__params_add_json(&p, "[1]", 3, msg, 256),
			 GC_EINVAL);
	assert_non_null(strstr(msg, "object"));
	assert_int_equal(gc__params_add_json(&p, "{\"a\":1} x", 9, msg, 256),
			 GC_EINVAL);
	assert_string_equal(msg, "malformed JSON body: unexpected data after "
				 "the JSON value at byte 8");
	assert_int_equal(gc__params_add_json(&p, "{\"a\":", 5, msg, 256),
			 GC_EINVAL);
	gc__params_free(&p);
	/* Numbers bind from their text: exactly, or not at all. */
	{
		const char *big = "{\"project_id\":9007199254740993,"
				  "\"name\":\"j\",\"status\":1e0}";
		assert_int_equal(gc__params_add_json(&p, big, strlen(big), msg,
						     256),
				 0);
		assert_int_equal(gc__bind(&p, specs, 2, a, msg, 256), 0);
		assert_true(a[0].i == 9007199254740993LL);
		assert_int_equal(gc__bind(&p, specs, 3, a, msg, 256),
				 GC_EINVAL);
		assert_string_equal(msg, "parameter \"status\": expected an "
					 "integer, got \"1e0\"");
		gc__params_free(&p);
	}
	/* \u0000 is refused naming the parameter, as %00 in form data. */
	assert_int_equal(gc__params_add_json(&p, "{\"name\":\"a\\u0000\"}",
					     18, msg, 256),
			 GC_EINVAL);
	assert_string_equal(msg, "parameter \"name\": a string has a NUL "
				 "character (\\u0000) at byte 10");
	assert_int_equal(p.json_fault, GC__JSON_FAULT_NUL);
	gc__params_free(&p);
}

static void utf8_validation(void **state)
{
	(void)state;
	assert_true(gc__utf8_valid("abc", 3));
	assert_true(gc__utf8_valid("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9));
	assert_false(gc__utf8_valid("\xc0\xaf", 2));         /* overlong */
	assert_false(gc__utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
	assert_false(gc__utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
	assert_false(gc__utf8_valid("\xe2\x82", 2));         /* truncated */
	assert_false(gc__utf8_valid("a\0b", 3));
}

static void json_quote_escapes_and_repairs(void **state)
{
	gc__buf b = GC__BUF_INIT;
	(void)state;
	assert_int_equal(gc__json_quote(&b, "a\"\\\n\x01\0\xff\xc3\xa9", 9), 0);
	assert_string_equal(b.data,
			    "\"a\\\"\\\\\\n\\u0001\\u0000\\ufffd\xc3\xa9\"");
	gc__buf_free(&b);
}

static void envelope_maps_codes_to_http_status(void **state)
{
	gc__ctx c;
	cJSON *j;
	(void)state;
	memset(&c, 0, sizeof(c));
	c.uri = strdup("/api/v1/x?a=\"1\"");
	strcpy(c.request_id, "42");
	gc__reply_err(&c, GC__C_WRONG_PASSWORD, "password is wrong");
	assert_int_equal(c.status, 200);
	j = cJSON_Parse(c.resp.data);
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "meta"),
					     "code")
				 ->valueint,
			 10011);
	assert_string_equal(
		cJSON_GetObjectItem(cJSON_GetObjectItem(j, "meta"), "request_uri")
			->valuestring,
		"/api/v1/x?a=\"1\"");
	assert_true(cJSON_IsObject(cJSON_GetObjectItem(j, "response")));
	cJSON_Delete(j);
	gc__reply_err(&c, GC__C_BAD_REQUEST, "x");
	assert_int_equal(c.status, 400);
	gc__reply_ok(&c, NULL);
	assert_int_equal(c.status, 200);
	assert_non_null(strstr(c.resp.data, "\"response\":null}"));
	gc__buf_free(&c.resp);
	free(c.uri);
}

static void tokens_round_trip_and_refuse_tampering(void **state)
{
	const unsigned char *k = (const unsigned char *)"k3y";
	char *tok = NULL, *bad;
	gc__claims cl;
	gc_error err;
	(void)state;
	assert_int_equal(gc__jwt_issue(k, 3, 42, 7, "bob", "user", 1000, 60,
				       &tok, &err),
			 0);
	assert_int_equal(gc__jwt_verify(k, 3, tok, 1001, &cl, &err), 0);
	assert_int_equal(cl.uid, 42);
	assert_int_equal(cl.exp, 1060);
	assert_true(cl.has_gen); /* the token generation travels along */
	assert_int_equal(cl.gen, 7);
	assert_int_equal(gc__jwt_verify(k, 3, tok, 1060, &cl, &err), GC_EAUTH);
	assert_non_null(strstr(err.msg, "expired"));
	assert_int_equal(gc__jwt_verify((const unsigned char *)"k3z", 3, tok,
					1001, &cl, &err),
			 GC_EAUTH);
	/* flip one character of the signature */
	bad = strdup(tok);
	bad[strlen(bad) - 2] = bad[strlen(bad) - 2] == 'A' ? 'B' : 'A';
	assert_int_equal(gc__jwt_verify(k, 3, bad, 1001, &cl, &err), GC_EAUTH);
	free(bad);
	assert_int_equal(gc__jwt_verify(k, 3, "a.b", 1001, &cl, &err), GC_EAUTH);
	assert_int_equal(gc__jwt_verify(k, 3, "a.b.c d", 1001, &cl, &err),
			 GC_EAUTH);
	free(tok);
}

static void throttle_locks_the_pair_and_doubles(void **state)
{
	gc__throttle *t;
	int64_t now = 1000000;
	(void)state;
	assert_int_equal(gc__throttle_new(&t, 3, 10), 0);
	for (int i = 0; i < 2; i++)
		gc__throttle_fail(t, "bob", "10.0.0.1", now);
	assert_int_equal(gc__throttle_check(t, "bob", "10.0.0.1", now), 0);
	gc__throttle_fail(t, "bob", "10.0.0.1", now); /* 3rd: locked 1 s */
	assert_int_equal(gc__throttle_check(t, "bob", "10.0.0.1", now), 1);
	/* the account is not locked for other addresses, nor the address
	 * for other accounts (yet) */
	assert_int_equal(gc__throttle_check(t, "bob", "10.0.0.2", now), 0);
	assert_int_equal(gc__throttle_check(t, "eve", "10.0.0.1", now), 0);
	assert_int_equal(gc__throttle_check(t, "bob", "10.0.0.1", now + 1000),
			 0);
	gc__throttle_fail(t, "bob", "10.0.0.1", now + 1000); /* 2 s */
	assert_int_equal(gc__throttle_check(t, "bob", "10.0.0.1", now + 1000),
			 2);
	for (int i = 0; i < 10; i++)
		gc__throttle_fail(t, "bob", "10.0.0.4", now + 2000);
	assert_int_equal(gc__throttle_check(t, "bob", "10.0.0.4", now + 2000),
			 10);
	/* success clears the pair */
	gc__throttle_success(t, "bob", "10.0.0.4", now + 13000);
	assert_int_equal(gc__throttle_check(t, "bob", "10.0.0.4", now + 13000),
			 0);
	/* failures are forgotten after 15 quiet minutes */
	gc__throttle_fail(t, "carol", "y", now);
	gc__throttle_fail(t, "carol", "y", now);
	gc__throttle_fail(t, "carol", "y", now + 16 * 60000);
	assert_int_equal(gc__throttle_check(t, "carol", "y", now + 16 * 60000),
			 0);
	gc__throttle_free(t);
}

/* Failures from many addresses never lock an account for the address
 * that knows its password; one address guessing across accounts is
 * locked after 4x the per-pair limit, for every account, and a success
 * there does not reset it. */
static void throttle_spares_the_real_user_and_stops_spraying(void **state)
{
	gc__throttle *t;
	int64_t now = 5000000;
	char acct[32], addr[32];
	(void)state;
	assert_int_equal(gc__throttle_new(&t, 5, 300), 0);
	/* 200 addresses, 20 failures each, all on alice */
	for (int a = 0; a < 200; a++) {
		snprintf(addr, sizeof(addr), "198.51.100.%d", a);
		for (int i = 0; i < 20; i++)
			gc__throttle_fail(t, "alice", addr, now);
		assert_true(gc__throttle_check(t, "alice", addr, now) > 0);
	}
	assert_int_equal(gc__throttle_check(t, "alice", "192.0.2.7", now), 0);
	/* one address, a different account each time */
	for (int i = 0; i < 19; i++) {
		snprintf(acct, sizeof(acct), "user%d", i);
		gc__throttle_fail(t, acct, "203.0.113.9", now);
	}
	assert_int_equal(gc__throttle_check(t, "zed", "203.0.113.9", now), 0);
	gc__throttle_fail(t, "user19", "203.0.113.9", now); /* 20th */
	assert_int_equal(gc__throttle_check(t, "zed", "203.0.113.9", now), 1);
	gc__throttle_success(t, "zed", "203.0.113.9", now);
	assert_int_equal(gc__throttle_check(t, "zed", "203.0.113.9", now), 1);
	assert_int_equal(gc__throttle_check(t, "zed", "203.0.113.10", now), 0);
	/* IPv6: one /64 is one address; v4-mapped is the v4 address */
	for (int i = 0; i < 5; i++) {
		snprintf(addr, sizeof(addr), "2001:db8:1:2::%x", i + 1);
		gc__throttle_fail(t, "bob", addr, now);
	}
	assert_int_equal(gc__throttle_check(t, "bob", "2001:db8:1:2:ffff::1",
					    now),
			 1);
	assert_int_equal(gc__throttle_check(t, "bob", "2001:db8:1:3::1", now),
			 0);
	for (int i = 0; i < 5; i++)
		gc__throttle_fail(t, "bob", "::ffff:192.0.2.99", now);
	assert_int_equal(gc__throttle_check(t, "bob", "192.0.2.99", now), 1);
	gc__throttle_free(t);
}

/* The table is fixed: a spray of a million (address, account) pairs
 * evicts unlocked entries first, so a locked pair stays locked while
 * the spray goes on elsewhere. */
static void throttle_spray_does_not_evict_locked_entries(void **state)
{
	gc__throttle *t;
	int64_t now = 9000000;
	char acct[32], addr[32];
	(void)state;
	assert_int_equal(gc__throttle_new(&t, 5, 300), 0);
	for (int i = 0; i < 8; i++)
		gc__throttle_fail(t, "root", "192.0.2.1", now);
	assert_true(gc__throttle_check(t, "root", "192.0.2.1", now) > 0);
	for (int i = 0; i < 1000000; i++) {
		snprintf(acct, sizeof(acct), "u%d", i);
		snprintf(addr, sizeof(addr), "10.%d.%d.%d", (i >> 16) & 255,
			 (i >> 8) & 255, i & 255);
		gc__throttle_fail(t, acct, addr, now + 1 + i / 1000);
	}
	assert_true(gc__throttle_check(t, "root", "192.0.2.1", now + 1000) >
		    0);
	gc__throttle_free(t);
}

static void metrics_render_prometheus_text(void **state)
{
	const char *labels[] = {"/a", "/b"};
	gc__metrics *m;
	gc__buf b = GC__BUF_INIT;
	(void)state;
	assert_int_equal(gc__metrics_new(&m, 2, labels), 0);
	gc__metrics_request(m, 0, 200, 0.002);
	gc__metrics_request(m, 0, 200, 0.3);
	gc__metrics_request(m, 1, 404, 0.001);
	gc__metrics_request(m, 9, 404, 0.001); /* unmatched */
	gc__metrics_result(m, 7, "timeout", 1.5, 1);
	gc__metrics_result(m, 7, "timeout", -3, 1); /* skew counts as 0 */
	gc__metrics_inc(m, GC__M_ETCD_ERRORS);
	assert_int_equal(gc__metrics_render(m, &b), 0);
	assert_non_null(strstr(b.data, "gophercron_http_requests_total{route="
				       "\"/a\",status=\"200\"} 2\n"));
	assert_non_null(strstr(b.data, "route=\"unmatched\",status=\"404\"} 1"));
	assert_non_null(strstr(b.data, "gophercron_http_request_duration_"
				       "seconds_bucket{route=\"/a\",le=\"0.25\"} "
				       "1\n"));
	assert_non_null(strstr(b.data, "gophercron_task_results_total{project_"
				       "id=\"7\",outcome=\"timeout\"} 2"));
	assert_non_null(strstr(b.data, "gophercron_task_start_lateness_seconds_"
				       "bucket{le=\"0.01\"} 1\n"));
	assert_non_null(strstr(b.data, "gophercron_task_start_lateness_seconds_"
				       "bucket{le=\"2\"} 2\n"));
	assert_non_null(strstr(b.data, "gophercron_etcd_errors_total 1\n"));
	gc__buf_free(&b);
	gc__metrics_free(m);
}

static void every_route_has_sane_specs(void **state)
{
	(void)state;
	assert_true(gc__n_routes > 25);
	for (size_t i = 0; i < gc__n_routes; i++) {
		const gc__route *r = &gc__routes[i];
		const gc__endpoint *ep = r->ep;
		assert_non_null(ep);
		assert_non_null(ep->fn);
		assert_true(ep->nargs <= GC__ARGS_MAX);
		assert_true((ep->args != NULL) == (ep->nargs > 0));
		assert_true(strcmp(r->method, "GET") == 0 ||
			    strcmp(r->method, "POST") == 0);
		for (size_t j = i + 1; j < gc__n_routes; j++)
			assert_string_not_equal(r->path, gc__routes[j].path);
		for (size_t k = 0; k < ep->nargs; k++) {
			/* every index of the handler's enum has its entry */
			assert_non_null(ep->args[k].name);
			assert_true(ep->args[k].min <= ep->args[k].max);
			for (size_t l = k + 1; l < ep->nargs; l++)
				assert_string_not_equal(ep->args[k].name,
							ep->args[l].name);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(form_decoding_and_precedence),
		cmocka_unit_test(binding_errors_name_the_parameter),
		cmocka_unit_test(json_bodies_bind_with_types_checked),
		cmocka_unit_test(utf8_validation),
		cmocka_unit_test(json_quote_escapes_and_repairs),
		cmocka_unit_test(envelope_maps_codes_to_http_status),
		cmocka_unit_test(tokens_round_trip_and_refuse_tampering),
		cmocka_unit_test(throttle_locks_the_pair_and_doubles),
		cmocka_unit_test(throttle_spares_the_real_user_and_stops_spraying),
		cmocka_unit_test(
			throttle_spray_does_not_evict_locked_entries),
		cmocka_unit_test(metrics_render_prometheus_text),
		cmocka_unit_test(every_route_has_sane_specs),
	};
	return cmocka_run_group_tests_name("service_units", tests, NULL, NULL);
}
