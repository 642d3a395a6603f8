/* Unit tests for decoding agent registrations (lib/service/cache.c):
 * GopherCron 1.10's value, the agents' optional clock fields, and values
 * that are not what they should be. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "service/svc.h"

#include <string.h>

static void decode(gc__node *n, const char *value)
{
	gc__node_decode(n, 7, "10.9.9.9", value, strlen(value));
	assert_int_equal(n->pid, 7);
	assert_non_null(n->ip);
	assert_non_null(n->version);
}

static void original_value_has_no_clock(void **state)
{
	gc__node n;
	(void)state;
	decode(&n, "{\"client_ip\":\"10.0.0.1\",\"version\":\"v1.10.8\"}");
	assert_string_equal(n.ip, "10.0.0.1");
	assert_string_equal(n.version, "v1.10.8");
	assert_false(n.has_offset || n.has_error || n.has_ok);
	assert_null(n.clock_reason);
	gc__node_clear(&n);
}

static void clock_fields_are_passed_through(void **state)
{
	gc__node n;
	(void)state;
	decode(&n, "{\"client_ip\":\"10.0.0.2\",\"version\":\"v2\","
		   "\"clock_offset_ms\":-5000.5,\"clock_error_ms\":2,"
		   "\"clock_ok\":false,\"clock_reason\":\"clock 5.0 s ahead of "
		   "etcd (max_clock_offset 1 s)\"}");
	assert_true(n.has_offset && n.has_error && n.has_ok);
	assert_true(n.clock_offset_ms == -5000.5);
	assert_true(n.clock_error_ms == 2);
	assert_false(n.clock_ok);
	assert_string_equal(n.clock_reason,
			    "clock 5.0 s ahead of etcd (max_clock_offset 1 s)");
	gc__node_clear(&n);
}

static void wrong_types_and_bad_json_are_ignored(void **state)
{
	gc__node n;
	(void)state;
	/* the key's address when the value has none; fields of the wrong
	 * type count as absent */
	decode(&n, "{\"version\":3,\"clock_offset_ms\":\"12\",\"clock_ok\":1}");
	assert_string_equal(n.ip, "10.9.9.9");
	assert_string_equal(n.version, "");
	assert_false(n.has_offset || n.has_ok);
	gc__node_clear(&n);
	decode(&n, "not json");
	assert_string_equal(n.ip, "10.9.9.9");
	assert_string_equal(n.version, "");
	gc__node_clear(&n);
	decode(&n, "{\"client_ip\":\"\",\"version\":\"v\"}");
	assert_string_equal(n.ip, "10.9.9.9");
	gc__node_clear(&n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(original_value_has_no_clock),
	    cmocka_unit_test(clock_fields_are_passed_through),
	    cmocka_unit_test(wrong_types_and_bad_json_are_ignored),
	};
	return cmocka_run_group_tests_name("service_node", tests, NULL, NULL);
}
