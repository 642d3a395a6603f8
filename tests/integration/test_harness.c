/* The test harness itself: etcd (1 and 3 members) and MariaDB come up on
 * loopback, answer, survive a member restart, and go away. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void single_etcd_member_is_healthy(void **state)
{
	(void)state;
	gct_etcd *e;
	assert_int_equal(gct_etcd_start(&e, 1, NULL), 0);
	assert_int_equal(gct_etcd_members(e), 1);
	assert_int_equal(gct_etcd_wait_healthy(e, 0, 1000), 0);
	assert_int_equal(gct_etcd_leader(e), 0);
	gct_etcd_stop(e);
}

static void three_member_cluster_survives_a_restart(void **state)
{
	(void)state;
	gct_etcd *e;
	int leader;
	assert_int_equal(gct_etcd_start(&e, 3, NULL), 0);
	assert_non_null(strchr(gct_etcd_endpoints(e), ','));
	leader = -1;
	for (int i = 0; i < 50 && leader < 0; i++) {
		leader = gct_etcd_leader(e);
		if (leader < 0)
			gct_sleep_ms(100);
	}
	assert_true(leader >= 0);
	assert_int_equal(gct_etcd_signal(e, leader, SIGKILL), 0);
	assert_int_equal(gct_etcd_restart(e, leader), 0);
	assert_int_equal(gct_etcd_wait_healthy(e, leader, 20000), 0);
	gct_etcd_stop(e);
}

static void mariadb_accepts_the_test_user(void **state)
{
	(void)state;
	gct_mariadb *m;
	assert_int_equal(gct_mariadb_start(&m), 0);
	assert_true(gct_mariadb_port(m) > 0);
	assert_int_equal(gct_mariadb_sql(m, "SELECT 1"), 0);
	assert_int_not_equal(gct_mariadb_sql(m, "SELEKT nonsense"), 0);
	assert_int_equal(gct_mariadb_restart(m), 0);
	assert_int_equal(gct_mariadb_sql(m, "USE gophercron; SELECT 1"), 0);
	gct_mariadb_stop(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(single_etcd_member_is_healthy),
		cmocka_unit_test(three_member_cluster_survives_a_restart),
		cmocka_unit_test(mariadb_accepts_the_test_user),
	};
	return cmocka_run_group_tests_name("harness", tests, NULL, NULL);
}
