/* Unit tests for the options conventions: the one version policy
 * (gc__options_init / gc__options_copy) and the options a configuration
 * gives (gc_etcd/store/reporter_options_from_config). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "internal.h"

#include <gophercron.h>

#include <string.h>

/* A struct in two versions: version 1 ended at `b`. */
typedef struct two {
	unsigned version;
	int a, b;
	int c; /* version 2 */
} two;

GC__OPTVER(static, two_optver, "two", 2, offsetof(two, c), sizeof(two));

static void init_writes_only_the_callers_version(void **state)
{
	(void)state;
	two t;
	memset(&t, 0x5a, sizeof(t));
	assert_int_equal(gc__options_init(&t, 1, &two_optver), 0);
	assert_int_equal(t.version, 1);
	assert_int_equal(t.a, 0);
	assert_int_equal(t.b, 0);
	/* a version 1 caller's struct ends before c: left as it was */
	assert_int_equal(t.c, 0x5a5a5a5a);
	assert_int_equal(gc__options_init(&t, 2, &two_optver), 0);
	assert_int_equal(t.version, 2);
	assert_int_equal(t.c, 0);
	assert_int_equal(gc__options_init(&t, 3, &two_optver), GC_EINVAL);
	assert_int_equal(gc__options_init(&t, 0, &two_optver), GC_EINVAL);
	assert_int_equal(gc__options_init(NULL, 1, &two_optver), GC_EINVAL);
}

static void copy_reads_older_callers_and_refuses_newer(void **state)
{
	(void)state;
	two old = {1, 7, 8, 99}, cur = {2, 1, 2, 3}, zero = {0, 4, 5, 6};
	two newer = {3, 0, 0, 0}, dst;
	gc_error err;
	memset(&err, 0, sizeof(err));

	assert_int_equal(gc__options_copy(&dst, &old, &two_optver, &err), 0);
	assert_int_equal(dst.version, 2);
	assert_int_equal(dst.a, 7);
	assert_int_equal(dst.b, 8);
	assert_int_equal(dst.c, 0); /* not in version 1: the default */

	assert_int_equal(gc__options_copy(&dst, &cur, &two_optver, &err), 0);
	assert_int_equal(dst.c, 3);

	/* zero-filled: read as version 1 */
	assert_int_equal(gc__options_copy(&dst, &zero, &two_optver, &err), 0);
	assert_int_equal(dst.a, 4);
	assert_int_equal(dst.c, 0);

	assert_int_equal(gc__options_copy(&dst, NULL, &two_optver, &err), 0);
	assert_int_equal(dst.version, 2);
	assert_int_equal(dst.a + dst.b + dst.c, 0);

	assert_int_equal(gc__options_copy(&dst, &newer, &two_optver, &err),
			 GC_EINVAL);
	assert_non_null(strstr(err.msg, "two: options version 3"));
}

static void public_constructors_refuse_a_newer_version(void **state)
{
	(void)state;
	gc_etcd_options eo;
	gc_etcd *c = NULL;
	gc_store *s = NULL;
	gc_store_options so;
	gc_error err;
	memset(&err, 0, sizeof(err));
	assert_int_equal(gc_etcd_options_init(&eo, GC_ETCD_OPTIONS_VERSION), 0);
	eo.version = GC_ETCD_OPTIONS_VERSION + 1;
	assert_int_equal(gc_etcd_new(&c, &eo, &err), GC_EINVAL);
	assert_null(c);
	assert_non_null(strstr(err.msg, "newer than this library"));
	gc_store_options_init(&so, GC_STORE_OPTIONS_VERSION);
	so.version = GC_STORE_OPTIONS_VERSION + 1;
	assert_int_equal(gc_store_open(&s, &so, &err), GC_EINVAL);
	assert_null(s);
	assert_int_equal(gc_etcd_options_init(&eo, GC_ETCD_OPTIONS_VERSION + 1),
			 GC_EINVAL);
}

static void agent_service_reporter_refuse_a_newer_version(void **state)
{
	(void)state;
	gc_agent_config ac;
	gc_service_config sc;
	gc_agent_options ao;
	gc_service_options so;
	gc_reporter_options ro;
	gc_agent *a = NULL;
	gc_service *svc = NULL;
	gc_reporter *r = NULL;
	gc_error err;
	memset(&err, 0, sizeof(err));
	assert_int_equal(gc_agent_config_init(&ac, GC_AGENT_CONFIG_VERSION), 0);
	assert_int_equal(gc_service_config_init(&sc, GC_SERVICE_CONFIG_VERSION), 0);
	gc_agent_options_init(&ao, GC_AGENT_OPTIONS_VERSION);
	ao.version++;
	assert_int_equal(gc_agent_new(&a, &ac, &ao, &err), GC_EINVAL);
	assert_null(a);
	assert_non_null(strstr(err.msg, "agent: options version"));
	gc_service_options_init(&so, GC_SERVICE_OPTIONS_VERSION);
	so.version++;
	assert_int_equal(gc_service_new(&svc, &sc, &so, &err), GC_EINVAL);
	assert_null(svc);
	assert_non_null(strstr(err.msg, "service: options version"));
	gc_reporter_options_init(&ro, GC_REPORTER_OPTIONS_VERSION);
	ro.version++;
	assert_int_equal(gc_reporter_new(&r, &ro, &err), GC_EINVAL);
	assert_null(r);
	assert_non_null(strstr(err.msg, "reporter: options version"));
	gc_agent_config_clear(&ac);
	gc_service_config_clear(&sc);
}

static void etcd_options_from_config_one_policy(void **state)
{
	(void)state;
	char e1[] = "http://127.0.0.1:2379", e2[] = "http://127.0.0.1:2380";
	char user[] = "root", pw[] = "pw", ca[] = "ca.pem";
	char *eps[] = {e1, e2};
	gc_etcd_config c;
	gc_etcd_options o;
	memset(&c, 0, sizeof(c));
	c.endpoints = eps;
	c.n_endpoints = 2;
	c.username = user;
	c.password = pw;
	c.ca_file = ca;
	c.dial_timeout_ms = 5000;
	assert_int_equal(gc_etcd_options_init(&o, GC_ETCD_OPTIONS_VERSION), 0);
	o.request_timeout_ms = 1234; /* not from the config: kept */
	assert_int_equal(gc_etcd_options_from_config(&o, &c), 0);
	assert_int_equal(o.endpoints_count, 2);
	assert_string_equal(o.endpoints[1], "http://127.0.0.1:2380");
	assert_string_equal(o.username, "root");
	assert_string_equal(o.password, "pw");
	assert_string_equal(o.tls_ca_file, "ca.pem");
	assert_null(o.tls_cert_file);
	assert_int_equal(o.request_timeout_ms, 1234);
	/* capped */
	assert_int_equal(o.connect_timeout_ms, GC_ETCD_CONFIG_MAX_CONNECT_MS);
	c.dial_timeout_ms = 300;
	assert_int_equal(gc_etcd_options_from_config(&o, &c), 0);
	assert_int_equal(o.connect_timeout_ms, 300);
	o.version = 0;
	assert_int_equal(gc_etcd_options_from_config(&o, &c), GC_EINVAL);
}

static void store_options_from_config_picks_the_backend(void **state)
{
	(void)state;
	gc_mysql_config m;
	gc_deploy_config d;
	gc_store_options o;
	char svc[] = "127.0.0.1:3306", u[] = "u", db[] = "db";
	memset(&m, 0, sizeof(m));
	memset(&d, 0, sizeof(d));
	d.timeout_s = 7;
	gc_store_options_init(&o, GC_STORE_OPTIONS_VERSION);
	assert_int_equal(gc_store_options_from_config(&o, &m, "x.db", &d), 0);
	assert_int_equal(o.backend, GC_STORE_SQLITE);
	assert_string_equal(o.sqlite_path, "x.db");
	assert_int_equal(o.connect_timeout_s, 7);
	m.service = svc;
	m.username = u;
	m.database = db;
	gc_store_options_init(&o, GC_STORE_OPTIONS_VERSION);
	assert_int_equal(gc_store_options_from_config(&o, &m, "x.db", NULL), 0);
	assert_int_equal(o.backend, GC_STORE_MYSQL);
	assert_string_equal(o.mysql_service, "127.0.0.1:3306");
	assert_string_equal(o.mysql_username, "u");
	assert_string_equal(o.mysql_database, "db");
	assert_null(o.sqlite_path);
	assert_int_equal(o.connect_timeout_s, 0); /* the store's default */
}

static void reporter_options_from_config_sinks(void **state)
{
	(void)state;
	gc_agent_config cfg;
	gc_reporter_options o;
	assert_int_equal(gc_agent_config_init(&cfg, GC_AGENT_CONFIG_VERSION), 0);
	assert_int_equal(gc_agent_config_load_string(
			     &cfg, "report_addr = \"http://127.0.0.1:1/r\"\n",
			     NULL, NULL, NULL, NULL),
			 0);
	gc_reporter_options_init(&o, GC_REPORTER_OPTIONS_VERSION);
	assert_int_equal(gc_reporter_options_from_config(&o, &cfg), 0);
	assert_string_equal(o.report_addr, "http://127.0.0.1:1/r");
	assert_string_equal(o.spool_dir, cfg.spool_dir);
	assert_string_equal(o.agent_ip, cfg.client_ip);
	assert_int_equal(o.store_options.version, 0); /* no SQL sink */
	gc_agent_config_clear(&cfg);

	assert_int_equal(gc_agent_config_init(&cfg, GC_AGENT_CONFIG_VERSION), 0);
	gc_reporter_options_init(&o, GC_REPORTER_OPTIONS_VERSION);
	assert_int_equal(gc_reporter_options_from_config(&o, &cfg),
			 GC_ENOTFOUND);
	assert_int_equal(gc_agent_config_load_string(
			     &cfg, "[sqlite]\npath = \"/tmp/r.db\"\n", NULL,
			     NULL, NULL, NULL),
			 0);
	assert_int_equal(gc_reporter_options_from_config(&o, &cfg), 0);
	assert_int_equal(o.store_options.version, GC_STORE_OPTIONS_VERSION);
	assert_int_equal(o.store_options.backend, GC_STORE_SQLITE);
	assert_string_equal(o.store_options.sqlite_path, "/tmp/r.db");
	gc_agent_config_clear(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(init_writes_only_the_callers_version),
		cmocka_unit_test(copy_reads_older_callers_and_refuses_newer),
		cmocka_unit_test(public_constructors_refuse_a_newer_version),
		cmocka_unit_test(agent_service_reporter_refuse_a_newer_version),
		cmocka_unit_test(etcd_options_from_config_one_policy),
		cmocka_unit_test(store_options_from_config_picks_the_backend),
		cmocka_unit_test(reporter_options_from_config_sinks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
