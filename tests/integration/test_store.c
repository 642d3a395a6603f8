/* Store: one suite, run unchanged against SQLite and against a real
 * MariaDB started by the harness. Every test gets a fresh database. Cases
 * that only make sense on MySQL (server restart, a GopherCron 1.10 MySQL
 * database) are skipped on SQLite. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <gophercron.h>

#include "harness.h"

#include <mysql.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct fx {
	int backend;
	char *dir; /* SQLite files */
	gct_mariadb *m;
	int seq;
	char db[64];
	char path[700];
	char service[64];
	gc_store *s;
	pthread_mutex_t log_mu;
	int default_pw_warnings;
} fx;

static void test_log(int level, const char *msg, void *payload)
{
	fx *f = payload;
	if (level <= GC_LOG_WARNING && strstr(msg, "default password")) {
		pthread_mutex_lock(&f->log_mu);
		f->default_pw_warnings++;
		pthread_mutex_unlock(&f->log_mu);
	}
	if (getenv("GCT_STORE_VERBOSE"))
		fprintf(stderr, "store log %d: %s\n", level, msg);
}

static void fx_opts(fx *f, gc_store_options *o)
{
	gc_store_options_init(o, GC_STORE_OPTIONS_VERSION);
	o->backend = f->backend;
	o->sqlite_path = f->path;
	o->mysql_service = f->service;
	o->mysql_username = "gc";
	o->mysql_password = "gcpass";
	o->mysql_database = f->db;
	o->log = test_log;
	o->log_payload = f;
}

static void fresh_db(fx *f)
{
	f->seq++;
	snprintf(f->path, sizeof(f->path), "%s/t%d.db", f->dir, f->seq);
	snprintf(f->db, sizeof(f->db), "gct%d", f->seq);
	if (f->backend == GC_STORE_MYSQL) {
		char sql[200];
		snprintf(sql, sizeof(sql),
			 "CREATE DATABASE %s CHARACTER SET utf8mb4", f->db);
		assert_int_equal(gct_mariadb_sql(f->m, sql), 0);
	}
}

static void drop_db(fx *f)
{
	if (f->backend == GC_STORE_MYSQL) {
		char sql[200];
		snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", f->db);
		gct_mariadb_sql(f->m, sql);
	}
}

static int open_store(fx *f, gc_store **s, gc_error *e)
{
	gc_store_options o;
	fx_opts(f, &o);
	return gc_store_open(s, &o, e);
}

/* First column of the first row of a raw query, straight from the
 * database (to look at what the API does not show, e.g. a hash). */
static char *raw_str(fx *f, const char *sql)
{
	char *out = NULL;
	if (f->backend == GC_STORE_SQLITE) {
		sqlite3 *db = NULL;
		sqlite3_stmt *st = NULL;
		if (sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL) ==
			    SQLITE_OK &&
		    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
		    sqlite3_step(st) == SQLITE_ROW)
			out = strdup((const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
		sqlite3_close(db);
		return out;
	}
	MYSQL *m = mysql_init(NULL);
	if (mysql_real_connect(m, "127.0.0.1", "gc", "gcpass", f->db,
			       (unsigned)gct_mariadb_port(f->m), NULL, 0) &&
	    mysql_query(m, sql) == 0) {
		MYSQL_RES *r = mysql_store_result(m);
		MYSQL_ROW row = r ? mysql_fetch_row(r) : NULL;
		if (row && row[0])
			out = strdup(row[0]);
		if (r)
			mysql_free_result(r);
	}
	mysql_close(m);
	return out;
}

/* Run SQL statements straight on the database (0 = done). */
static int raw_exec(fx *f, const char *sql)
{
	if (f->backend == GC_STORE_SQLITE) {
		sqlite3 *db = NULL;
		int rc = sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READWRITE,
					 NULL);
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
		sqlite3_close(db);
		return rc == SQLITE_OK ? 0 : -1;
	}
	char *use = malloc(strlen(sql) + 128);
	int rc;
	sprintf(use, "USE %s; %s", f->db, sql);
	rc = gct_mariadb_sql(f->m, use);
	free(use);
	return rc;
}

static int64_t raw_int(fx *f, const char *sql)
{
	char *v = raw_str(f, sql);
	int64_t n = v ? strtoll(v, NULL, 10) : -1;
	free(v);
	return n;
}

/* ---------------------------------------------------------- fixtures */

static int group_setup(void **state, int backend)
{
	fx *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	f->backend = backend;
	pthread_mutex_init(&f->log_mu, NULL);
	f->dir = gct_tmpdir("store");
	if (!f->dir)
		return -1;
	if (backend == GC_STORE_MYSQL) {
		if (gct_mariadb_start(&f->m))
			return -1;
		snprintf(f->service, sizeof(f->service), "127.0.0.1:%d",
			 gct_mariadb_port(f->m));
	}
	*state = f;
	return 0;
}

static int group_setup_sqlite(void **state)
{
	return group_setup(state, GC_STORE_SQLITE);
}

static int group_setup_mysql(void **state)
{
	return group_setup(state, GC_STORE_MYSQL);
}

static int group_teardown(void **state)
{
	fx *f = *state;
	gct_mariadb_stop(f->m);
	if (!getenv("GCT_KEEP"))
		gct_rmrf(f->dir);
	free(f->dir);
	pthread_mutex_destroy(&f->log_mu);
	free(f);
	return 0;
}

static int test_setup(void **state)
{
	fx *f = *state;
	gc_error e = {0, ""};
	fresh_db(f);
	f->default_pw_warnings = 0;
	if (open_store(f, &f->s, &e)) {
		fprintf(stderr, "open: %s\n", e.msg);
		return -1;
	}
	return 0;
}

static int test_teardown(void **state)
{
	fx *f = *state;
	gc_store_free(f->s);
	f->s = NULL;
	drop_db(f);
	return 0;
}

#define OK(call)                                                            \
	do {                                                                \
		gc_error e_ = {0, ""};                                      \
		int rc_ = (call);                                           \
		if (rc_ != 0)                                               \
			fail_msg("%s -> %d: %s", #call, rc_, e_.msg);       \
	} while (0)
#define E (&e_)

static gc_store_log mklog(int64_t project, const char *task, int64_t start,
			  int with_error, const char *run_id)
{
	gc_store_log l;
	memset(&l, 0, sizeof(l));
	l.project_id = project;
	l.task_id = (char *)task;
	l.project = (char *)"proj";
	l.name = (char *)"job";
	l.result = (char *)"{\"result\":\"ok\\n\",\"system_error\":\"\","
			   "\"error\":\"\"}";
	l.start_time = start;
	l.end_time = start + 1;
	l.command = (char *)"echo ok";
	l.with_error = with_error;
	l.client_ip = (char *)"192.0.2.7";
	l.plan_time = start;
	l.run_id = (char *)run_id;
	l.agent = (char *)"agent-a";
	return l;
}

/* ------------------------------------------------------------- users */

static void first_open_creates_admin_with_default_password(void **state)
{
	fx *f = *state;
	gc_store_user u;
	int in_use = -1;
	assert_int_equal(gc_store_default_admin_created(f->s), 1);
	assert_true(f->default_pw_warnings >= 1);
	assert_int_equal(gc_store_schema_version(f->s), 7);
	OK(gc_store_default_password_in_use(&in_use, f->s, E));
	assert_int_equal(in_use, 1);
	in_use = -1; /* the answer kept for the same stored hash */
	OK(gc_store_default_password_in_use(&in_use, f->s, E));
	assert_int_equal(in_use, 1);
	OK(gc_store_user_verify(&u, f->s, "admin", "123456", E));
	assert_string_equal(u.account, "admin");
	assert_string_equal(u.permission, "admin,user");
	assert_true(u.create_time > 0);
	OK(gc_store_user_password_change(f->s, u.id, "123456", "s3cret", E));
	OK(gc_store_default_password_in_use(&in_use, f->s, E));
	assert_int_equal(in_use, 0);
	gc_store_user_clear(&u);

	/* Reopening an initialised database creates nobody. */
	gc_store *s2 = NULL;
	gc_store_users l;
	OK(open_store(f, &s2, E));
	assert_int_equal(gc_store_default_admin_created(s2), 0);
	OK(gc_store_user_list(&l, s2, 1, 10, E));
	assert_int_equal(l.total, 1);
	gc_store_users_clear(&l);
	gc_store_free(s2);
}

static void user_create_get_list_delete(void **state)
{
	fx *f = *state;
	gc_error e = {0, ""};
	int64_t bob = 0, carol = 0;
	gc_store_user u;
	gc_store_users l;
	OK(gc_store_user_create(&bob, f->s, "bob", "Bob", "bobpw", NULL, E));
	OK(gc_store_user_create(&carol, f->s, "carol", "Carol", "c",
				"admin,user", E));
	assert_true(bob > 1 && carol > bob);
	assert_int_equal(gc_store_user_create(NULL, f->s, "bob", "Other", "x",
					      NULL, &e),
			 GC_ECONFLICT);
	assert_non_null(strstr(e.msg, "already exists"));

	OK(gc_store_user_get(&u, f->s, bob, E));
	assert_string_equal(u.account, "bob");
	assert_string_equal(u.name, "Bob");
	assert_string_equal(u.permission, "user");
	gc_store_user_clear(&u);
	OK(gc_store_user_get_by_account(&u, f->s, "carol", E));
	assert_int_equal(u.id, carol);
	assert_string_equal(u.permission, "admin,user");
	gc_store_user_clear(&u);
	assert_int_equal(gc_store_user_get_by_account(&u, f->s, "nobody", &e),
			 GC_ENOTFOUND);

	/* pages of 2 over admin, bob, carol, by id */
	OK(gc_store_user_list(&l, f->s, 1, 2, E));
	assert_int_equal(l.total, 3);
	assert_int_equal(l.count, 2);
	assert_string_equal(l.items[0].account, "admin");
	assert_string_equal(l.items[1].account, "bob");
	gc_store_users_clear(&l);
	OK(gc_store_user_list(&l, f->s, 2, 2, E));
	assert_int_equal(l.count, 1);
	assert_string_equal(l.items[0].account, "carol");
	gc_store_users_clear(&l);
	OK(gc_store_user_list(&l, f->s, 9, 2, E));
	assert_int_equal(l.count, 0);
	assert_int_equal(l.total, 3);
	gc_store_users_clear(&l);
	assert_int_equal(gc_store_user_list(&l, f->s, -1, 2, &e), GC_EINVAL);

	OK(gc_store_user_delete(f->s, bob, E));
	assert_int_equal(gc_store_user_get(&u, f->s, bob, &e), GC_ENOTFOUND);
	assert_int_equal(gc_store_user_delete(f->s, bob, &e), GC_ENOTFOUND);
	assert_int_equal(gc_store_user_create(NULL, f->s, "", "x", "x", NULL,
					      &e),
			 GC_EINVAL);
	assert_int_equal(gc_store_user_create(NULL, f->s, "dave", "x", "", NULL,
					      &e),
			 GC_EINVAL);
}

static void user_update_keeps_unset_fields(void **state)
{
	fx *f = *state;
	gc_error e = {0, ""};
	int64_t id = 0;
	gc_store_user u;
	OK(gc_store_user_create(&id, f->s, "erin", "Erin", "pw", "user", E));
	OK(gc_store_user_update(f->s, id, "Erin E.", NULL, E));
	OK(gc_store_user_update(f->s, id, NULL, "admin,user", E));
	OK(gc_store_user_update(f->s, id, "Erin E.", "admin,user", E));
	OK(gc_store_user_get(&u, f->s, id, E));
	assert_string_equal(u.name, "Erin E.");
	assert_string_equal(u.permission, "admin,user");
	gc_store_user_clear(&u);
	assert_int_equal(gc_store_user_update(f->s, 99999, "x", NULL, &e),
			 GC_ENOTFOUND);
}

static void passwords_verify_change_and_use_crypt(void **state)
{
	fx *f = *state;
	gc_error e = {0, ""};
	int64_t id = 0;
	gc_store_user u;
	OK(gc_store_user_create(&id, f->s, "frank", "Frank", "old-pw", NULL, E));
	assert_int_equal(gc_store_user_verify(&u, f->s, "frank", "wrong", &e),
			 GC_EAUTH);
	assert_non_null(strstr(e.msg, "wrong password"));
	assert_int_equal(gc_store_user_verify(&u, f->s, "ghost", "x", &e),
			 GC_ENOTFOUND);
	assert_int_equal(gc_store_user_password_change(f->s, id, "nope", "new",
						       &e),
			 GC_EAUTH);
	OK(gc_store_user_password_change(f->s, id, "old-pw", "new-pw", E));
	assert_int_equal(gc_store_user_verify(NULL, f->s, "frank", "old-pw", &e),
			 GC_EAUTH);
	OK(gc_store_user_verify(&u, f->s, "frank", "new-pw", E));
	assert_int_equal(u.id, id);
	gc_store_user_clear(&u);
	/* admin reset without the old password */
	OK(gc_store_user_password_change(f->s, id, NULL, "reset", E));
	OK(gc_store_user_verify(NULL, f->s, "frank", "reset", E));
	assert_int_equal(gc_store_user_password_change(f->s, 4242, NULL, "x",
						       &e),
			 GC_ENOTFOUND);

	char *hash = raw_str(f, "SELECT password FROM gc_user"
				" WHERE account = 'frank'");
	assert_non_null(hash);
	assert_memory_equal(hash, "$y$", 3);
	assert_null(strstr(hash, "reset"));
	free(hash);

	/* crypt(3) takes at most 511 bytes of passphrase: said clearly */
	char *longpw = malloc(600);
	memset(longpw, 'p', 599);
	longpw[599] = '\0';
	assert_int_equal(gc_store_user_create(NULL, f->s, "long", "L", longpw,
					      NULL, &e),
			 GC_EINVAL);
	assert_non_null(strstr(e.msg, "password longer than"));
	free(longpw);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Median time of a login check, in ms, over `n` tries. */
/* CPU time of this thread: a hash is CPU work, and unlike the wall clock
 * the thread's CPU time does not grow while a loaded machine runs others. */
static double thread_cpu_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double verify_cpu_ms(gc_store *s, const char *account,
			    const char *password, int want)
{
	gc_error e = {0, ""};
	double t0 = thread_cpu_ms();
	assert_int_equal(gc_store_user_verify(NULL, s, account, password, &e),
			 want);
	return thread_cpu_ms() - t0;
}

/* A login for an account that does not exist costs a password hash,
 * like a wrong password: the time of the answer does not tell which
 * accounts exist. Medians of 9 interleaved tries each, in CPU time; the
 * margin is wide (the unknown account used to cost well under 1/20 of a
 * hash). */
static void unknown_account_costs_a_hash(gc_store *s, const char *account)
{
	double w[9], u[9];
	for (int i = 0; i < 9; i++) {
		w[i] = verify_cpu_ms(s, account, "not-the-password", GC_EAUTH);
		u[i] = verify_cpu_ms(s, "no-such-account-here",
				     "not-the-password", GC_ENOTFOUND);
	}
	qsort(w, 9, sizeof(w[0]), cmp_double);
	qsort(u, 9, sizeof(u[0]), cmp_double);
	if (u[4] < 0.5 * w[4])
		fail_msg("unknown account %.3f ms, wrong password %.3f ms of "
			 "CPU: the unknown account skips the hash",
			 u[4], w[4]);
}

static void unknown_accounts_take_as_long_as_wrong_passwords(void **state)
{
	fx *f = *state;
	OK(gc_store_user_create(NULL, f->s, "ivy", "Ivy", "ivy-password", NULL,
				E));
	unknown_account_costs_a_hash(f->s, "ivy");
}

/* Every password change or reset bumps the user's token generation
 * (tokens carry it); nothing else does. */
static void password_changes_bump_the_token_generation(void **state)
{
	fx *f = *state;
	gc_error e = {0, ""};
	gc_store_user u;
	int64_t id = 0;
	OK(gc_store_user_create(&id, f->s, "jack", "Jack", "jack-pw-1", NULL,
				E));
	OK(gc_store_user_get(&u, f->s, id, E));
	assert_int_equal(u.token_gen, 0);
	gc_store_user_clear(&u);
	OK(gc_store_user_password_change(f->s, id, "jack-pw-1", "jack-pw-2",
					 E));
	OK(gc_store_user_verify(&u, f->s, "jack", "jack-pw-2", E));
	assert_int_equal(u.token_gen, 1);
	gc_store_user_clear(&u);
	/* a wrong old password changes nothing */
	assert_int_equal(gc_store_user_password_change(f->s, id, "nope",
						       "jack-pw-3", &e),
			 GC_EAUTH);
	OK(gc_store_user_update(f->s, id, "Jack J", "admin,user", E));
	OK(gc_store_user_get_by_account(&u, f->s, "jack", E));
	assert_int_equal(u.token_gen, 1);
	gc_store_user_clear(&u);
	/* an admin's reset */
	OK(gc_store_user_password_change(f->s, id, NULL, "jack-pw-4", E));
	OK(gc_store_user_get(&u, f->s, id, E));
	assert_int_equal(u.token_gen, 2);
	gc_store_user_clear(&u);
	assert_int_equal(raw_int(f, "SELECT token_gen FROM gc_user"
				    " WHERE account = 'jack'"),
			 2);
}

/* A database at schema 5 (before token generations) gets the column on
 * open, with every user at generation 0, and keeps its rows. */
static void schema_5_database_gets_token_generations(void **state)
{
	fx *f = *state;
	gc_store_user u;
	int64_t id = 0;
	OK(gc_store_user_create(&id, f->s, "kate", "Kate", "kate-pw-1", NULL,
				E));
	gc_store_free(f->s);
	f->s = NULL;
	assert_int_equal(raw_exec(f, "ALTER TABLE gc_user DROP COLUMN token_gen;"
				     " UPDATE gc_schema_version SET version = 5;"),
			 0);
	assert_int_equal(raw_int(f, "SELECT version FROM gc_schema_version"),
			 5);
	OK(open_store(f, &f->s, E));
	assert_int_equal(gc_store_schema_version(f->s), 7);
	OK(gc_store_user_verify(&u, f->s, "kate", "kate-pw-1", E));
	assert_int_equal(u.id, id);
	assert_int_equal(u.token_gen, 0);
	gc_store_user_clear(&u);
	OK(gc_store_user_password_change(f->s, id, "kate-pw-1", "kate-pw-2",
					 E));
	OK(gc_store_user_get(&u, f->s, id, E));
	assert_int_equal(u.token_gen, 1);
	gc_store_user_clear(&u);
	/* opening again changes nothing */
	gc_store_free(f->s);
	f->s = NULL;
	OK(open_store(f, &f->s, E));
	assert_int_equal(gc_store_schema_version(f->s), 7);
	assert_int_equal(raw_int(f, "SELECT token_gen FROM gc_user"
				    " WHERE account = 'kate'"),
			 1);
}

static void sha512_crypt_when_configured(void **state)
{
	fx *f = *state;
	gc_store_options o;
	gc_store *s2 = NULL;
	gc_error e = {0, ""};
	fx_opts(f, &o);
	o.crypt_prefix = "$6$";
	OK(gc_store_open(&s2, &o, E));
	OK(gc_store_user_create(NULL, s2, "hank", "Hank", "pw6", NULL, E));
	OK(gc_store_user_verify(NULL, s2, "hank", "pw6", E));
	/* the dummy for unknown accounts is a "$6$" hash too */
	unknown_account_costs_a_hash(s2, "hank");
	gc_store_free(s2);
	char *hash = raw_str(f, "SELECT password FROM gc_user"
				" WHERE account = 'hank'");
	assert_non_null(hash);
	assert_memory_equal(hash, "$6$", 3);
	free(hash);
	/* and the default store (yescrypt) verifies it too */
	OK(gc_store_user_verify(NULL, f->s, "hank", "pw6", E));
	o.crypt_prefix = "$1$";
	assert_int_equal(gc_store_open(&s2, &o, &e), GC_EINVAL);
}

/* ---------------------------------------------------------- projects */

static void project_create_get_update_delete(void **state)
{
	fx *f = *state;
	gc_error e = {0, ""};
	int64_t p1 = 0, p2 = 0;
	gc_store_project p;
	gc_store_projects l;
	OK(gc_store_project_create(&p1, f->s, "billing", "nightly jobs", 1, E));
	OK(gc_store_project_create(&p2, f->s, "search", NULL, 1, E));
	assert_int_equal(gc_store_project_create(NULL, f->s, "billing", "again",
						 1, &e),
			 GC_ECONFLICT);
	assert_int_equal(gc_store_project_create(NULL, f->s, "x", "", 777, &e),
			 GC_ENOTFOUND);
	assert_int_equal(gc_store_project_create(NULL, f->s, "", "", 1, &e),
			 GC_EINVAL);

	OK(gc_store_project_get(&p, f->s, p1, E));
	assert_int_equal(p.uid, 1);
	assert_string_equal(p.title, "billing");
	assert_string_equal(p.remark, "nightly jobs");
	gc_store_project_clear(&p);
	OK(gc_store_project_get(&p, f->s, p2, E));
	assert_string_equal(p.remark, "");
	gc_store_project_clear(&p);

	assert_int_equal(gc_store_project_update(f->s, p2, "billing", NULL, &e),
			 GC_ECONFLICT);
	OK(gc_store_project_update(f->s, p1, "billing", "updated", E));
	OK(gc_store_project_update(f->s, p2, "search2", NULL, E));
	assert_int_equal(gc_store_project_update(f->s, 999, "t", "r", &e),
			 GC_ENOTFOUND);
	OK(gc_store_project_get(&p, f->s, p2, E));
	assert_string_equal(p.title, "search2");
	assert_string_equal(p.remark, "");
	gc_store_project_clear(&p);

	OK(gc_store_project_list_all(&l, f->s, E));
	assert_int_equal(l.count, 2);
	assert_int_equal(l.items[0].id, p1);
	assert_string_equal(l.items[0].remark, "updated");
	gc_store_projects_clear(&l);

	OK(gc_store_project_delete(f->s, p1, 0, E));
	assert_int_equal(gc_store_project_get(&p, f->s, p1, &e), GC_ENOTFOUND);
	assert_int_equal(gc_store_project_delete(f->s, p1, 0, &e),
			 GC_ENOTFOUND);
	/* the title is free again */
	OK(gc_store_project_create(NULL, f->s, "billing", "", 1, E));
}

static void project_membership(void **state)
{
	fx *f = *state;
	gc_error e = {0, ""};
	int64_t bob = 0, carol = 0, p1 = 0, p2 = 0;
	int yes = -1;
	gc_store_users m;
	gc_store_projects l;
	OK(gc_store_user_create(&bob, f->s, "bob", "Bob", "pw", NULL, E));
	OK(gc_store_user_create(&carol, f->s, "carol", "Carol", "pw", NULL, E));
	OK(gc_store_project_create(&p1, f->s, "p1", "", 1, E));
	OK(gc_store_project_create(&p2, f->s, "p2", "", bob, E));

	OK(gc_store_project_is_member(&yes, f->s, p1, 1, E));
	assert_int_equal(yes, 1);
	OK(gc_store_project_is_member(&yes, f->s, p1, bob, E));
	assert_int_equal(yes, 0);
	OK(gc_store_project_member_add(f->s, p1, bob, E));
	OK(gc_store_project_member_add(f->s, p1, carol, E));
	assert_int_equal(gc_store_project_member_add(f->s, p1, bob, &e),
			 GC_ECONFLICT);
	assert_int_equal(gc_store_project_member_add(f->s, 999, bob, &e),
			 GC_ENOTFOUND);
	assert_int_equal(gc_store_project_member_add(f->s, p1, 999, &e),
			 GC_ENOTFOUND);

	OK(gc_store_project_member_list(&m, f->s, p1, E));
	assert_int_equal(m.count, 3);
	assert_int_equal(m.total, 3);
	assert_int_equal(m.items[0].id, 1);
	assert_int_equal(m.items[1].id, bob);
	assert_int_equal(m.items[2].id, carol);
	gc_store_users_clear(&m);
	assert_int_equal(gc_store_project_member_list(&m, f->s, 999, &e),
			 GC_ENOTFOUND);

	OK(gc_store_project_list_by_user(&l, f->s, bob, E));
	assert_int_equal(l.count, 2);
	assert_int_equal(l.items[0].id, p1);
	assert_int_equal(l.items[1].id, p2);
	gc_store_projects_clear(&l);
	OK(gc_store_project_list_by_user(&l, f->s, carol, E));
	assert_int_equal(l.count, 1);
	gc_store_projects_clear(&l);

	/* the creator stays (the original's 10017) */
	assert_int_equal(gc_store_project_member_remove(f->s, p1, 1, &e),
			 GC_EPERM);
	assert_int_equal(gc_store_project_member_remove(f->s, p2, bob, &e),
			 GC_EPERM);
	OK(gc_store_project_member_remove(f->s, p1, carol, E));
	assert_int_equal(gc_store_project_member_remove(f->s, p1, carol, &e),
			 GC_ENOTFOUND);
	OK(gc_store_project_list_by_user(&l, f->s, carol, E));
	assert_int_equal(l.count, 0);
	gc_store_projects_clear(&l);

	/* deleting a user drops its memberships */
	OK(gc_store_user_delete(f->s, bob, E));
	OK(gc_store_project_member_list(&m, f->s, p1, E));
	assert_int_equal(m.count, 1);
	gc_store_users_clear(&m);
	/* deleting a project drops its memberships */
	OK(gc_store_project_delete(f->s, p1, 0, E));
	OK(gc_store_project_list_by_user(&l, f->s, 1, E));
	assert_int_equal(l.count, 0);
	gc_store_projects_clear(&l);
}

/* -------------------------------------------------------------- logs */

static void logs_newest_first_paged_with_total(void **state)
{
	fx *f = *state;
	gc_error e = {0, ""};
	gc_store_log in[30];
	char runs[30][16];
	size_t n = 0;
	gc_store_logs l;
	/* project 1: 25 runs of tasks A (odd) and B (even), every 3rd an
	 * error; project 2: 5 runs. start_time collides in pairs so id
	 * breaks the tie. */
	for (int i = 0; i < 30; i++) {
		snprintf(runs[i], sizeof(runs[i]), "r%d", i);
		in[i] = mklog(i < 25 ? 1 : 2, (i % 2) ? "A" : "B",
			      1000 + i / 2, i % 3 == 0, runs[i]);
	}
	OK(gc_store_log_insert(&n, f->s, in, 30, E));
	assert_int_equal(n, 30);

	int64_t p1 = 1;
	gc_store_log_query q = {&p1, 1, NULL, 0, 1, 10, 0, 0};
	OK(gc_store_log_list(&l, f->s, &q, E));
	assert_int_equal(l.total, 25);
	assert_int_equal(l.count, 10);
	for (size_t i = 1; i < l.count; i++) {
		assert_true(l.items[i - 1].start_time >= l.items[i].start_time);
		if (l.items[i - 1].start_time == l.items[i].start_time)
			assert_true(l.items[i - 1].id > l.items[i].id);
	}
	assert_string_equal(l.items[0].run_id, "r24");
	gc_store_logs_clear(&l);
	q.page = 3;
	OK(gc_store_log_list(&l, f->s, &q, E));
	assert_int_equal(l.count, 5);
	assert_string_equal(l.items[4].run_id, "r0");
	gc_store_logs_clear(&l);
	q.page = 4;
	OK(gc_store_log_list(&l, f->s, &q, E));
	assert_int_equal(l.count, 0);
	assert_int_equal(l.total, 25);
	gc_store_logs_clear(&l);

	/* one task */
	q.page = 1;
	q.page_size = 100;
	q.task_id = "A";
	OK(gc_store_log_list(&l, f->s, &q, E));
	assert_int_equal(l.total, 12);
	for (size_t i = 0; i < l.count; i++)
		assert_string_equal(l.items[i].task_id, "A");
	gc_store_logs_clear(&l);

	/* errors only: i % 3 == 0 for i < 25 -> 9 runs; in task A: 3,9,15,21 */
	q.errors_only = 1;
	OK(gc_store_log_list(&l, f->s, &q, E));
	assert_int_equal(l.total, 4);
	for (size_t i = 0; i < l.count; i++)
		assert_int_equal(l.items[i].with_error, 1);
	gc_store_logs_clear(&l);
	q.task_id = NULL;
	OK(gc_store_log_list(&l, f->s, &q, E));
	assert_int_equal(l.total, 9);
	gc_store_logs_clear(&l);

	/* several projects, all projects, no project */
	int64_t both[2] = {1, 2};
	gc_store_log_query q2 = {both, 2, NULL, 0, 1, 5, 0, 0};
	OK(gc_store_log_list(&l, f->s, &q2, E));
	assert_int_equal(l.total, 30);
	assert_string_equal(l.items[0].run_id, "r29");
	gc_store_logs_clear(&l);
	OK(gc_store_log_list(&l, f->s, NULL, E));
	assert_int_equal(l.total, 30);
	assert_int_equal(l.count, 20); /* default page size */
	gc_store_logs_clear(&l);
	gc_store_log_query none = {both, 0, NULL, 0, 1, 5, 0, 0};
	OK(gc_store_log_list(&l, f->s, &none, E));
	assert_int_equal(l.total, 0);
	assert_int_equal(l.count, 0);
	gc_store_logs_clear(&l);
	q2.page_size = -1;
	assert_int_equal(gc_store_log_list(&l, f->s, &q2, &e), GC_EINVAL);
	/* page size is capped */
	q2.page_size = 100000;
	OK(gc_store_log_list(&l, f->s, &q2, E));
	assert_int_equal(l.count, 30);
	gc_store_logs_clear(&l);
}

static void log_fields_round_trip(void **state)
{
	fx *f = *state;
	gc_error e = {0, ""};
	gc_store_log in = mklog(7, "1131477035089137664", 1795470744, 1,
				"run-7");
	in.project = (char *)"oracle-proj";
	in.name = (char *)"sched-exit3";
	in.result = (char *)"{\"result\":\"before-fail\\n\\n\",\"system_"
			    "error\":\"exit status 3\",\"error\":\"\"}";
	in.end_time = 1795470745;
	in.command = (char *)"echo before-fail; echo to-stderr >&2; exit 3";
	in.plan_time = 1795470743;
	in.agent = (char *)"host-b (192.0.2.2) v1.10.100";
	in.with_error = 7; /* any non-zero is an error */
	OK(gc_store_log_insert(NULL, f->s, &in, 1, E));
	gc_store_logs l;
	int64_t p = 7;
	gc_store_log_query q = {&p, 1, NULL, 0, 1, 10, 0, 0};
	OK(gc_store_log_list(&l, f->s, &q, E));
	assert_int_equal(l.count, 1);
	gc_store_log *o = &l.items[0];
	assert_true(o->id > 0);
	assert_int_equal(o->project_id, 7);
	assert_string_equal(o->task_id, "1131477035089137664");
	assert_string_equal(o->project, in.project);
	assert_string_equal(o->name, in.name);
	assert_string_equal(o->result, in.result);
	assert_int_equal(o->start_time, 1795470744);
	assert_int_equal(o->end_time, 1795470745);
	assert_string_equal(o->command, in.command);
	assert_int_equal(o->with_error, 1);
	assert_string_equal(o->client_ip, "192.0.2.7");
	assert_int_equal(o->plan_time, 1795470743);
	assert_string_equal(o->run_id, "run-7");
	assert_string_equal(o->agent, in.agent);

	gc_store_log g;
	OK(gc_store_log_get(&g, f->s, o->id, E));
	assert_string_equal(g.command, in.command);
	assert_string_equal(g.run_id, "run-7");
	gc_store_log_clear(&g);
	assert_int_equal(gc_store_log_get(&g, f->s, o->id + 100, &e),
			 GC_ENOTFOUND);
	gc_store_logs_clear(&l);

	/* NULL strings are stored as "" */
	gc_store_log bare;
	memset(&bare, 0, sizeof(bare));
	bare.project_id = 8;
	bare.run_id = (char *)"bare";
	OK(gc_store_log_insert(NULL, f->s, &bare, 1, E));
	p = 8;
	OK(gc_store_log_list(&l, f->s, &q, E));
	assert_int_equal(l.count, 1);
	assert_string_equal(l.items[0].task_id, "");
	assert_string_equal(l.items[0].result, "");
	assert_string_equal(l.items[0].agent, "");
	gc_store_logs_clear(&l);
}

static void same_run_id_is_stored_once(void **state)
{
	fx *f = *state;
	gc_store_log in[4] = {mklog(1, "T", 100, 0, "dup"),
			      mklog(1, "T", 101, 0, "dup"),
			      mklog(1, "T", 102, 0, "other"),
			      mklog(1, "T", 103, 0, NULL)};
	size_t n = 99;
	OK(gc_store_log_insert(&n, f->s, in, 4, E));
	assert_int_equal(n, 3);
	/* a re-delivered batch adds nothing */
	OK(gc_store_log_insert(&n, f->s, in, 3, E));
	assert_int_equal(n, 0);
	/* records without a run_id get distinct generated ones */
	OK(gc_store_log_insert(&n, f->s, &in[3], 1, E));
	assert_int_equal(n, 1);
	gc_store_logs l;
	OK(gc_store_log_list(&l, f->s, NULL, E));
	assert_int_equal(l.total, 4);
	/* the first delivery of "dup" won */
	for (size_t i = 0; i < l.count; i++) {
		if (strcmp(l.items[i].run_id, "dup") == 0)
			assert_int_equal(l.items[i].start_time, 100);
		if (l.items[i].start_time == 103)
			assert_memory_equal(l.items[i].run_id, "gen-", 4);
	}
	assert_string_not_equal(l.items[0].run_id, l.items[1].run_id);
	gc_store_logs_clear(&l);
	OK(gc_store_log_insert(&n, f->s, NULL, 0, E));
	assert_int_equal(n, 0);
}

/* Every byte but NUL, SQL metacharacters, invalid UTF-8. */
static char *junk(void)
{
	static const char pre[] = "it's \"quoted\"; DROP TABLE gc_user; -- "
				  "100% _x_ \\ \\\\ `tick` \xff\xfe\xc3\x28 ";
	char *s = malloc(sizeof(pre) + 256);
	memcpy(s, pre, sizeof(pre) - 1);
	size_t n = sizeof(pre) - 1;
	for (int b = 255; b >= 1; b--)
		s[n++] = (char)b;
	s[n] = '\0';
	return s;
}

static char *big(size_t n, char seed)
{
	char *s = malloc(n + 1);
	for (size_t i = 0; i < n; i++)
		s[i] = (char)(1 + (unsigned char)(seed + i * 7) % 255);
	s[n] = '\0';
	return s;
}

static void text_is_stored_verbatim(void **state)
{
	fx *f = *state;
	gc_error e = {0, ""};
	char *j = junk();
	int64_t uid = 0, pid = 0;
	gc_store_user u;
	gc_store_project p;
	OK(gc_store_user_create(&uid, f->s, j, j, j, j, E));
	OK(gc_store_user_verify(&u, f->s, j, j, E));
	assert_int_equal(u.id, uid);
	assert_string_equal(u.account, j);
	assert_string_equal(u.name, j);
	assert_string_equal(u.permission, j);
	gc_store_user_clear(&u);
	OK(gc_store_project_create(&pid, f->s, j, j, uid, E));
	OK(gc_store_project_get(&p, f->s, pid, E));
	assert_string_equal(p.title, j);
	assert_string_equal(p.remark, j);
	gc_store_project_clear(&p);
	assert_int_equal(gc_store_project_create(NULL, f->s, j, "", uid, &e),
			 GC_ECONFLICT);

	/* task_id and run_id are keys of at most 255 bytes */
	char key[256];
	memcpy(key, j + strlen(j) - 255, 256);
	gc_store_log in = mklog(pid, key, 5, 1, key);
	in.project = in.name = in.result = in.command = j;
	in.client_ip = in.agent = j;
	OK(gc_store_log_insert(NULL, f->s, &in, 1, E));
	gc_store_logs l;
	gc_store_log_query q = {&pid, 1, key, 1, 1, 10, 0, 0};
	OK(gc_store_log_list(&l, f->s, &q, E));
	assert_int_equal(l.count, 1);
	gc_store_log *o = &l.items[0];
	assert_string_equal(o->task_id, key);
	assert_string_equal(o->project, j);
	assert_string_equal(o->name, j);
	assert_string_equal(o->result, j);
	assert_string_equal(o->command, j);
	assert_string_equal(o->client_ip, j);
	assert_string_equal(o->run_id, key);
	assert_string_equal(o->agent, j);
	gc_store_logs_clear(&l);
	int64_t del = 0;
	OK(gc_store_log_delete(&del, f->s, pid, key, 0, E));
	assert_int_equal(del, 1);
	free(j);
}

static void one_megabyte_in_every_text_field(void **state)
{
	fx *f = *state;
	gc_error e = {0, ""};
	const size_t mb = 1u << 20;
	char *a = big(mb, 'a'), *n = big(mb, 'n'), *perm = big(mb, 'p');
	char *t = big(mb, 't'), *r = big(mb, 'r');
	int64_t uid = 0, pid = 0;
	gc_store_user u;
	gc_store_project p;
	OK(gc_store_user_create(&uid, f->s, a, n, "pw", perm, E));
	OK(gc_store_user_verify(&u, f->s, a, "pw", E));
	assert_int_equal(strlen(u.account), mb);
	assert_string_equal(u.account, a);
	assert_string_equal(u.name, n);
	assert_string_equal(u.permission, perm);
	gc_store_user_clear(&u);
	/* two accounts sharing a long prefix are still different */
	char *a2 = strdup(a);
	a2[mb - 1] = a2[mb - 1] == 'x' ? 'y' : 'x';
	OK(gc_store_user_create(NULL, f->s, a2, "n", "pw", NULL, E));
	OK(gc_store_user_get_by_account(&u, f->s, a2, E));
	assert_string_equal(u.account, a2);
	gc_store_user_clear(&u);

	OK(gc_store_project_create(&pid, f->s, t, r, uid, E));
	OK(gc_store_project_get(&p, f->s, pid, E));
	assert_string_equal(p.title, t);
	assert_string_equal(p.remark, r);
	gc_store_project_clear(&p);

	gc_store_log in[3];
	char *fields[6];
	for (int i = 0; i < 6; i++)
		fields[i] = big(mb, (char)('A' + i));
	for (int i = 0; i < 3; i++) {
		char run[16];
		snprintf(run, sizeof(run), "big%d", i);
		in[i] = mklog(pid, "T", 10 + i, 0, NULL);
		in[i].run_id = strdup(run);
		in[i].project = fields[0];
		in[i].name = fields[1];
		in[i].result = fields[2];
		in[i].command = fields[3];
		in[i].client_ip = fields[4];
		in[i].agent = fields[5];
	}
	size_t added = 0;
	OK(gc_store_log_insert(&added, f->s, in, 3, E));
	assert_int_equal(added, 3);
	gc_store_logs l;
	gc_store_log_query q = {&pid, 1, NULL, 0, 1, 10, 0, 0};
	OK(gc_store_log_list(&l, f->s, &q, E));
	assert_int_equal(l.count, 3);
	for (size_t i = 0; i < l.count; i++) {
		assert_string_equal(l.items[i].project, fields[0]);
		assert_string_equal(l.items[i].name, fields[1]);
		assert_string_equal(l.items[i].result, fields[2]);
		assert_string_equal(l.items[i].command, fields[3]);
		assert_string_equal(l.items[i].client_ip, fields[4]);
		assert_string_equal(l.items[i].agent, fields[5]);
	}
	gc_store_logs_clear(&l);

	/* task_id and run_id are keys, bounded at 255 bytes */
	char *k = big(256, 'k');
	gc_store_log bad = mklog(pid, k, 1, 0, "ok");
	assert_int_equal(gc_store_log_insert(NULL, f->s, &bad, 1, &e),
			 GC_EINVAL);
	assert_non_null(strstr(e.msg, "task_id"));
	bad.task_id = (char *)"T";
	bad.run_id = k;
	assert_int_equal(gc_store_log_insert(NULL, f->s, &bad, 1, &e),
			 GC_EINVAL);
	k[255] = '\0';
	OK(gc_store_log_insert(NULL, f->s, &bad, 1, E));

	for (int i = 0; i < 3; i++)
		free(in[i].run_id);
	for (int i = 0; i < 6; i++)
		free(fields[i]);
	free(k);
	free(a);
	free(a2);
	free(n);
	free(perm);
	free(t);
	free(r);
}

static void recent_counts_per_local_day(void **state)
{
	fx *f = *state;
	/* TZ is UTC+8 (set in main). now = 2026-11-24 05:52:32 local. */
	const int64_t now = 1795470752; /* 2026-11-23T21:52:32Z */
	struct {
		int64_t t;
		int err;
		int64_t project;
	} runs[] = {
		{now, 0, 1},		    /* 11-24 */
		{now - 3600, 1, 1},	    /* 11-24 04:52 */
		{1795451400, 0, 1},	    /* 11-23T16:30Z = 11-24 00:30 */
		{1795449599, 1, 1},	    /* 11-23T15:59:59Z = 11-23 23:59 */
		{1795449599 - 86400, 0, 2}, /* 11-22 23:59 */
		{1794931200, 0, 1},	    /* 11-18 00:00:00 local */
		{1794931199, 1, 1},	    /* 11-17 23:59:59: too old */
		{now + 86400, 0, 1},		    /* tomorrow: not counted */
	};
	gc_store_log in[8];
	char ids[8][16];
	for (int i = 0; i < 8; i++) {
		snprintf(ids[i], sizeof(ids[i]), "d%d", i);
		in[i] = mklog(runs[i].project, "T", runs[i].t, runs[i].err,
			      ids[i]);
	}
	OK(gc_store_log_insert(NULL, f->s, in, 8, E));
	gc_store_day_count d[7];
	OK(gc_store_log_recent(d, f->s, NULL, 0, now, E));
	static const char *dates[7] = {"2026-11-18", "2026-11-19",
				       "2026-11-20", "2026-11-21",
				       "2026-11-22", "2026-11-23",
				       "2026-11-24"};
	static const int64_t ok_all[7] = {1, 0, 0, 0, 1, 0, 2};
	static const int64_t bad_all[7] = {0, 0, 0, 0, 0, 1, 1};
	for (int i = 0; i < 7; i++) {
		assert_string_equal(d[i].date, dates[i]);
		assert_int_equal(d[i].success_count, ok_all[i]);
		assert_int_equal(d[i].error_count, bad_all[i]);
	}
	int64_t only2 = 2;
	OK(gc_store_log_recent(d, f->s, &only2, 1, now, E));
	assert_int_equal(d[4].success_count, 1);
	assert_int_equal(d[6].success_count, 0);
	OK(gc_store_log_recent(d, f->s, &only2, 0, now, E));
	for (int i = 0; i < 7; i++)
		assert_int_equal(d[i].success_count + d[i].error_count, 0);
	/* now = 0 means the current time: today is the last entry */
	OK(gc_store_log_recent(d, f->s, NULL, 0, 0, E));
	char today[11];
	time_t tn = time(NULL);
	struct tm tm;
	localtime_r(&tn, &tm);
	strftime(today, sizeof(today), "%Y-%m-%d", &tm);
	assert_string_equal(d[6].date, today);
}

static void cleanup_by_project_task_and_age(void **state)
{
	fx *f = *state;
	gc_error e = {0, ""};
	gc_store_log in[12];
	char ids[12][16];
	for (int i = 0; i < 12; i++) {
		snprintf(ids[i], sizeof(ids[i]), "c%d", i);
		/* projects 1..3, tasks X/Y, times 100..111 */
		in[i] = mklog(1 + i % 3, (i % 2) ? "X" : "Y", 100 + i, 0,
			      ids[i]);
	}
	OK(gc_store_log_insert(NULL, f->s, in, 12, E));
	int64_t del = -1;
	assert_int_equal(gc_store_log_delete(&del, f->s, 0, NULL, 0, &e),
			 GC_EINVAL);
	/* project 1 = i in {0,3,6,9}; task X there = {3,9} */
	OK(gc_store_log_delete(&del, f->s, 1, "X", 0, E));
	assert_int_equal(del, 2);
	OK(gc_store_log_delete(&del, f->s, 1, NULL, 0, E));
	assert_int_equal(del, 2);
	/* older than 105 among what is left: i in {1,2,4} */
	OK(gc_store_log_delete(&del, f->s, 0, NULL, 105, E));
	assert_int_equal(del, 3);
	/* task everywhere: Y among {5,7,8,10,11} = {8,10} */
	OK(gc_store_log_delete(&del, f->s, 0, "Y", 0, E));
	assert_int_equal(del, 2);
	gc_store_logs l;
	OK(gc_store_log_list(&l, f->s, NULL, E));
	assert_int_equal(l.total, 3);
	gc_store_logs_clear(&l);
	OK(gc_store_log_delete(&del, f->s, 42, NULL, 0, E));
	assert_int_equal(del, 0);

	/* project delete with its logs */
	int64_t pid = 0;
	OK(gc_store_project_create(&pid, f->s, "doomed", "", 1, E));
	gc_store_log pl[2] = {mklog(pid, "Z", 1, 0, "pl1"),
			      mklog(pid, "Z", 2, 0, "pl2")};
	OK(gc_store_log_insert(NULL, f->s, pl, 2, E));
	OK(gc_store_project_delete(f->s, pid, GC_STORE_DELETE_LOGS, E));
	gc_store_log_query q = {&pid, 1, NULL, 0, 1, 10, 0, 0};
	OK(gc_store_log_list(&l, f->s, &q, E));
	assert_int_equal(l.total, 0);
	gc_store_logs_clear(&l);
}

static void retention_deletes_old_logs_in_batches(void **state)
{
	fx *f = *state;
	int64_t now = (int64_t)time(NULL);
	/* 5,003 old rows (more than one delete batch of 5,000) and 3 fresh
	 * ones */
	enum { OLD = 5003 };
	gc_store_log *in = calloc(OLD + 3, sizeof(*in));
	char (*ids)[16] = calloc(OLD + 3, sizeof(*ids));
	for (int i = 0; i < OLD + 3; i++) {
		snprintf(ids[i], sizeof(ids[i]), "ret%d", i);
		int64_t t = i < OLD ? now - 10 * 86400 - i
				    : now - 3600 * (i - OLD);
		in[i] = mklog(1, "T", t, 0, ids[i]);
	}
	size_t n = 0;
	OK(gc_store_log_insert(&n, f->s, in, OLD + 3, E));
	assert_int_equal(n, OLD + 3);
	int64_t del = -1;
	OK(gc_store_log_retention(&del, f->s, 0, E)); /* option is 0: keep */
	assert_int_equal(del, 0);
	OK(gc_store_log_retention(&del, f->s, 7, E));
	assert_int_equal(del, OLD);
	gc_store_logs l;
	OK(gc_store_log_list(&l, f->s, NULL, E));
	assert_int_equal(l.total, 3);
	gc_store_logs_clear(&l);

	/* the background thread does the same on its own */
	gc_store_log old[2] = {mklog(1, "T", now - 5 * 86400, 0, "bg1"),
			       mklog(1, "T", now - 2 * 86400, 0, "bg2")};
	OK(gc_store_log_insert(NULL, f->s, old, 2, E));
	gc_store_options o;
	gc_store *s2 = NULL;
	fx_opts(f, &o);
	o.retention_days = 3;
	o.retention_interval_s = 1;
	OK(gc_store_open(&s2, &o, E));
	int64_t total = -1;
	/* generous deadline: a loaded machine may be slow */
	for (int i = 0; i < 300 && total != 4; i++) {
		OK(gc_store_log_list(&l, f->s, NULL, E));
		total = l.total;
		gc_store_logs_clear(&l);
		if (total != 4)
			gct_sleep_ms(100);
	}
	assert_int_equal(total, 4);
	gc_store_free(s2); /* stops the thread */
	free(in);
	free(ids);
}

/* ------------------------------------------------------- concurrency */

enum { THREADS = 6, BATCHES = 25, PER_BATCH = 20 };

typedef struct worker {
	gc_store *s;
	int n;
	int failures;
	int created;
	int conflicts;
	char msg[GC_ERROR_MSG_MAX];
} worker;

static void *worker_main(void *arg)
{
	worker *w = arg;
	gc_error e = {0, ""};
	char task[16];
	snprintf(task, sizeof(task), "w%d", w->n);
	int64_t last_total = 0, p1 = 1;
	for (int b = 0; b < BATCHES; b++) {
		gc_store_log in[PER_BATCH + 1];
		char ids[PER_BATCH + 1][32];
		for (int i = 0; i < PER_BATCH; i++) {
			snprintf(ids[i], sizeof(ids[i]), "w%d-%d-%d", w->n, b,
				 i);
			in[i] = mklog(1, task, 1000 + b, i == 0, ids[i]);
		}
		/* every thread also delivers the same shared run */
		snprintf(ids[PER_BATCH], sizeof(ids[PER_BATCH]), "shared-%d",
			 b);
		in[PER_BATCH] = mklog(1, "shared", 1000 + b, 0, ids[PER_BATCH]);
		if (gc_store_log_insert(NULL, w->s, in, PER_BATCH + 1, &e)) {
			w->failures++;
			memcpy(w->msg, e.msg, sizeof(w->msg));
			continue;
		}
		gc_store_logs l;
		gc_store_log_query q = {&p1, 1, task, 0, 1, 5, 0, 0};
		if (gc_store_log_list(&l, w->s, &q, &e)) {
			w->failures++;
			memcpy(w->msg, e.msg, sizeof(w->msg));
			continue;
		}
		if (l.total != (int64_t)(b + 1) * PER_BATCH ||
		    l.total < last_total || l.count != 5)
			w->failures++;
		last_total = l.total;
		gc_store_logs_clear(&l);
	}
	/* all threads race to create the same account */
	int rc = gc_store_user_create(NULL, w->s, "racer", "R", "pw", NULL, &e);
	if (rc == 0)
		w->created++;
	else if (rc == GC_ECONFLICT)
		w->conflicts++;
	else {
		w->failures++;
		memcpy(w->msg, e.msg, sizeof(w->msg));
	}
	return NULL;
}

static void threads_insert_and_query_concurrently(void **state)
{
	fx *f = *state;
	pthread_t th[THREADS];
	worker w[THREADS];
	for (int i = 0; i < THREADS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].s = f->s;
		w[i].n = i;
		assert_int_equal(
			pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
	}
	int created = 0, conflicts = 0;
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		if (w[i].failures)
			fail_msg("thread %d: %d failures, last: %s", i,
				 w[i].failures, w[i].msg);
		created += w[i].created;
		conflicts += w[i].conflicts;
	}
	assert_int_equal(created, 1);
	assert_int_equal(conflicts, THREADS - 1);
	gc_store_logs l;
	OK(gc_store_log_list(&l, f->s, NULL, E));
	assert_int_equal(l.total, THREADS * BATCHES * PER_BATCH + BATCHES);
	gc_store_logs_clear(&l);
	int64_t p1 = 1;
	gc_store_log_query q = {&p1, 1, NULL, 1, 1, 10, 0, 0};
	OK(gc_store_log_list(&l, f->s, &q, E));
	assert_int_equal(l.total, THREADS * BATCHES);
	gc_store_logs_clear(&l);
}

/* ------------------------------------------------------------ errors */

static void errors_name_the_backend(void **state)
{
	fx *f = *state;
	gc_error e = {0, ""};
	gc_store_user u;
	char want[200];
	snprintf(want, sizeof(want), "%s: ", gc_store_describe(f->s));
	assert_int_equal(gc_store_user_get(&u, f->s, 4711, &e), GC_ENOTFOUND);
	assert_memory_equal(e.msg, want, strlen(want));
	assert_non_null(strstr(e.msg, "get user"));
	assert_non_null(strstr(e.msg, "4711"));
	assert_int_equal(gc_store_backend(f->s), f->backend);

	gc_store_options o;
	gc_store *bad = NULL;
	fx_opts(f, &o);
	if (f->backend == GC_STORE_SQLITE) {
		assert_memory_equal(gc_store_describe(f->s), "sqlite /", 8);
		o.sqlite_path = "/nonexistent-dir/x/y.db";
		assert_int_not_equal(gc_store_open(&bad, &o, &e), 0);
		assert_null(bad);
		assert_non_null(
			strstr(e.msg, "sqlite /nonexistent-dir/x/y.db: "));
		/* with its cause, as the system says it */
		assert_non_null(strstr(e.msg, "directory /nonexistent-dir/x: "
					      "No such file or directory"));
		char ro[512];
		snprintf(ro, sizeof(ro), "%s/ro", f->dir);
		assert_int_equal(mkdir(ro, 0555), 0);
		snprintf(ro, sizeof(ro), "%s/ro/y.db", f->dir);
		o.sqlite_path = ro;
		if (geteuid() != 0) { /* root writes anyway */
			assert_int_not_equal(gc_store_open(&bad, &o, &e), 0);
			assert_non_null(strstr(e.msg, "/ro: Permission denied"));
		}
	} else {
		assert_memory_equal(gc_store_describe(f->s), "mysql 127.0.0.1:",
				    16);
		o.mysql_password = "wrong";
		assert_int_not_equal(gc_store_open(&bad, &o, &e), 0);
		assert_null(bad);
		snprintf(want, sizeof(want), "mysql %s/%s: connect as gc: ",
			 f->service, f->db);
		assert_memory_equal(e.msg, want, strlen(want));
		assert_null(strstr(e.msg, "wrong")); /* no secret */
		fx_opts(f, &o);
		o.mysql_service = "127.0.0.1:notaport";
		assert_int_equal(gc_store_open(&bad, &o, &e), GC_EINVAL);
		assert_non_null(strstr(e.msg, "bad port"));
		o.mysql_service = "";
		assert_int_equal(gc_store_open(&bad, &o, &e), GC_EINVAL);
	}
	fx_opts(f, &o);
	o.version = 99;
	assert_int_equal(gc_store_open(&bad, &o, &e), GC_EINVAL);
	gc_store_free(NULL);
	gc_store_user_clear(NULL);
	gc_store_logs_clear(NULL);
}

/* -------------------------------------------------------- MySQL only */

static void reconnects_after_server_restart(void **state)
{
	fx *f = *state;
	if (f->backend != GC_STORE_MYSQL)
		skip();
	gc_store_log a = mklog(1, "T", 1, 0, "before");
	OK(gc_store_log_insert(NULL, f->s, &a, 1, E));
	/* warm several pool connections */
	gc_store_logs l;
	for (int i = 0; i < 4; i++) {
		OK(gc_store_log_list(&l, f->s, NULL, E));
		gc_store_logs_clear(&l);
	}
	assert_int_equal(gct_mariadb_restart(f->m), 0);
	/* idempotent reads and writes: reconnect and retry */
	OK(gc_store_log_list(&l, f->s, NULL, E));
	assert_int_equal(l.total, 1);
	gc_store_logs_clear(&l);
	gc_store_log b = mklog(1, "T", 2, 0, "after");
	OK(gc_store_log_insert(NULL, f->s, &b, 1, E));
	/* a non-idempotent operation checks its connection first */
	assert_int_equal(gct_mariadb_restart(f->m), 0);
	OK(gc_store_user_create(NULL, f->s, "afterwards", "A", "pw", NULL, E));
	OK(gc_store_user_verify(NULL, f->s, "afterwards", "pw", E));
	OK(gc_store_log_list(&l, f->s, NULL, E));
	assert_int_equal(l.total, 2);
	gc_store_logs_clear(&l);
}

/* The CREATE TABLE statements of compat/mysql_schema.txt (SHOW CREATE
 * TABLE \G output). */
static char *legacy_schema_sql(void)
{
	const char *shared = getenv("GC_SHARED");
	char path[600];
	snprintf(path, sizeof(path), "%s/compat/mysql_schema.txt",
		 shared ? shared : "../shared");
	FILE *fp = fopen(path, "r");
	if (!fp)
		return NULL;
	size_t cap = 1 << 16, len = 0;
	char *out = calloc(1, cap), line[1024];
	bool in_create = false;
	while (fgets(line, sizeof(line), fp)) {
		const char *p = line;
		if (strncmp(p, "Create Table: ", 14) == 0) {
			in_create = true;
			p += 14;
		}
		if (!in_create)
			continue;
		size_t n = strlen(p);
		if (len + n + 2 >= cap)
			break;
		memcpy(out + len, p, n);
		len += n;
		if (strncmp(p, ") ENGINE", 8) == 0) {
			while (len && (out[len - 1] == '\n'))
				len--;
			out[len++] = ';';
			out[len++] = '\n';
			in_create = false;
		}
	}
	fclose(fp);
	return out;
}

/* The rows of compat/mysql_gc_task_log_rows.tsv as one INSERT: with their
 * ids (a 1.10 database's content), or as a 1.10 agent inserts them
 * (compat/mysql-log-insert.md: its ten columns, id left to AUTO_INCREMENT,
 * nothing else named). */
static char *legacy_rows_sql(bool with_id)
{
	const char *shared = getenv("GC_SHARED");
	char path[600];
	snprintf(path, sizeof(path), "%s/compat/mysql_gc_task_log_rows.tsv",
		 shared ? shared : "../shared");
	FILE *fp = fopen(path, "r");
	if (!fp)
		return NULL;
	size_t cap = 1 << 16, len = 0;
	char *out = calloc(1, cap), line[4096];
	len += (size_t)snprintf(out, cap,
				"INSERT INTO gc_task_log (%sproject_id,"
				" task_id, project, name, result, start_time,"
				" end_time, command, with_error, client_ip)"
				" VALUES ",
				with_id ? "id, " : "");
	int rows = 0;
	while (fgets(line, sizeof(line), fp)) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "id\t", 3) == 0 || !*line)
			continue;
		char *col[11];
		int n = 0;
		for (char *p = line; n < 11; n++) {
			col[n] = p;
			char *tab = strchr(p, '\t');
			if (!tab) {
				n++;
				break;
			}
			*tab = '\0';
			p = tab + 1;
		}
		if (n != 11)
			continue;
		len += (size_t)snprintf(out + len, cap - len, "%s(", rows ? "," : "");
		for (int i = with_id ? 0 : 1; i < 11; i++) {
			/* mysql-client TSV escapes backslashes; SQL string
			 * literals use the same escaping */
			len += (size_t)snprintf(out + len, cap - len, "%s'",
						i > !with_id ? "," : "");
			for (const char *c = col[i]; *c; c++) {
				if (*c == '\'')
					out[len++] = '\'';
				out[len++] = *c;
			}
			out[len++] = '\'';
		}
		out[len++] = ')';
		rows++;
	}
	fclose(fp);
	out[len++] = ';';
	out[len] = '\0';
	return rows == 5 ? out : NULL;
}

static void legacy_1_10_database_upgrades_in_place(void **state)
{
	fx *f = *state;
	gc_error e = {0, ""};
	if (f->backend != GC_STORE_MYSQL)
		skip();
	gc_store_free(f->s);
	f->s = NULL;
	drop_db(f);
	fresh_db(f);
	char *schema = legacy_schema_sql();
	char *rows = legacy_rows_sql(true);
	assert_non_null(schema);
	assert_non_null(rows);
	size_t cap = strlen(schema) + strlen(rows) + 4096;
	char *sql = malloc(cap);
	/* 1.10 ran with a non-strict sql_mode (in strict mode its
	 * varchar(20) result column rejects every real row): its databases
	 * hold results cut at 20 characters, so load the rows that way. */
	snprintf(sql, cap,
		 "USE %s; %s SET SESSION sql_mode = ''; %s"
		 /* the compat user row: admin / 123456 with md5+salt */
		 "INSERT INTO gc_user VALUES (1, 'administrator', 'admin,user',"
		 " 'admin', '552c54f6c92eaa058559c2e283f0599f', '2SBBOB',"
		 " 1795470594);"
		 "INSERT INTO gc_user VALUES (2, 'bob', '', 'bob',"
		 " MD5(CONCAT('bobpw', 'Xy12Zq')), 'Xy12Zq', 1795470600);"
		 "INSERT INTO gc_project VALUES (1, 1, 'oracle-proj',"
		 " 'oracle-remark');"
		 "INSERT INTO gc_project_relevance VALUES (1, 1, 1, 1795470600),"
		 " (2, 2, 1, 1795470601);",
		 f->db, schema, rows);
	if (gct_mariadb_sql(f->m, sql) != 0) {
		char dump[800];
		snprintf(dump, sizeof(dump), "%s/legacy.sql", f->dir);
		FILE *fp = fopen(dump, "w");
		if (fp) {
			fputs(sql, fp);
			fclose(fp);
		}
		fail_msg("loading the 1.10 schema failed (SQL in %s, kept "
			 "with GCT_KEEP=1)",
			 dump);
	}
	free(sql);
	free(schema);
	free(rows);

	OK(open_store(f, &f->s, E));
	assert_int_equal(gc_store_schema_version(f->s), 7);
	assert_int_equal(gc_store_default_admin_created(f->s), 0);
	int in_use = 0;
	OK(gc_store_default_password_in_use(&in_use, f->s, E));
	assert_int_equal(in_use, 1); /* md5 of 123456 still counts */

	/* rows kept; what /log/list showed in 1.10 (62 and 63 in compat) */
	int64_t p1 = 1;
	gc_store_logs l;
	gc_store_log_query q = {&p1, 1, "1131477034980085760", 0, 1, 2, 0, 0};
	OK(gc_store_log_list(&l, f->s, &q, E));
	assert_int_equal(l.total, 3);
	assert_int_equal(l.count, 2);
	assert_int_equal(l.items[0].id, 5);
	assert_int_equal(l.items[1].id, 3);
	assert_string_equal(l.items[0].task_id, "1131477034980085760");
	/* the compat row's result, as varchar(20) kept it */
	assert_string_equal(l.items[0].result, "{\"result\":\"tick\\n\\nl");
	assert_string_equal(l.items[0].command, "echo tick; echo line2");
	assert_string_equal(l.items[0].client_ip, "192.0.2.2");
	assert_string_equal(l.items[0].project, "oracle-proj");
	assert_int_equal(l.items[0].start_time, 1795470747);
	assert_string_equal(l.items[0].run_id, "legacy-5");
	assert_int_equal(l.items[0].plan_time, 0);
	gc_store_logs_clear(&l);
	q.task_id = "1131477035089137664";
	q.errors_only = 1;
	q.page_size = 10;
	OK(gc_store_log_list(&l, f->s, &q, E));
	assert_int_equal(l.total, 2);
	assert_int_equal(l.items[0].id, 4);
	assert_int_equal(l.items[1].id, 2);
	assert_string_equal(l.items[0].command,
			    "echo before-fail; echo to-stderr >&2; exit 3");
	gc_store_logs_clear(&l);

	gc_store_projects pl;
	OK(gc_store_project_list_by_user(&pl, f->s, 2, E));
	assert_int_equal(pl.count, 1);
	assert_string_equal(pl.items[0].title, "oracle-proj");
	gc_store_projects_clear(&pl);
	assert_int_equal(gc_store_project_member_remove(f->s, 1, 1, &e),
			 GC_EPERM);
	assert_int_equal(gc_store_project_create(NULL, f->s, "oracle-proj", "",
						 1, &e),
			 GC_ECONFLICT);

	/* md5 users log in once and are rehashed */
	gc_store_user u;
	assert_int_equal(gc_store_user_verify(NULL, f->s, "bob", "wrong", &e),
			 GC_EAUTH);
	OK(gc_store_user_verify(&u, f->s, "bob", "bobpw", E));
	assert_int_equal(u.id, 2);
	gc_store_user_clear(&u);
	char *h = raw_str(f, "SELECT CONCAT(password, '|', salt) FROM gc_user"
			     " WHERE id = 2");
	assert_non_null(h);
	assert_memory_equal(h, "$y$", 3);
	assert_non_null(strstr(h, "|"));
	assert_string_equal(strchr(h, '|'), "|");
	free(h);
	OK(gc_store_user_verify(&u, f->s, "bob", "bobpw", E));
	assert_int_equal(u.token_gen, 0); /* a rehash is no password change */
	gc_store_user_clear(&u);
	OK(gc_store_user_verify(&u, f->s, "admin", "123456", E));
	assert_string_equal(u.name, "administrator");
	assert_int_equal(u.create_time, 1795470594);
	gc_store_user_clear(&u);
	h = raw_str(f, "SELECT password FROM gc_user WHERE id = 1");
	assert_non_null(h);
	assert_memory_equal(h, "$y$", 3);
	free(h);
	OK(gc_store_default_password_in_use(&in_use, f->s, E));
	assert_int_equal(in_use, 1); /* still 123456, now crypt-hashed */

	/* the varchar(20) result bug is gone; run_id is unique */
	char *out = big(100000, 'o');
	gc_store_log nl = mklog(1, "1131477034980085760", 1795470800, 0,
				"new-run");
	nl.result = out;
	size_t n = 0;
	OK(gc_store_log_insert(&n, f->s, &nl, 1, E));
	OK(gc_store_log_insert(&n, f->s, &nl, 1, E));
	assert_int_equal(n, 0);
	free(out);

	/* A 1.10 service still running on the upgraded database inserts
	 * users the way it always did (its columns named, token_gen left to
	 * its default) and reads them back. */
	assert_int_equal(raw_exec(f, "INSERT INTO gc_user (name, permission,"
				     " account, password, salt, create_time)"
				     " VALUES ('carl', 'user', 'carl',"
				     " MD5(CONCAT('carlpw', 'Ab12Cd')), 'Ab12Cd',"
				     " 1795470900);"),
			 0);
	h = raw_str(f, "SELECT CONCAT(name, '|', token_gen) FROM gc_user"
		       " WHERE account = 'carl'");
	assert_non_null(h);
	assert_string_equal(h, "carl|0");
	free(h);
	OK(gc_store_user_verify(&u, f->s, "carl", "carlpw", E));
	assert_int_equal(u.token_gen, 0);
	gc_store_user_clear(&u);

	/* opening again changes nothing */
	gc_store_free(f->s);
	f->s = NULL;
	OK(open_store(f, &f->s, E));
	assert_int_equal(gc_store_schema_version(f->s), 7);
	OK(gc_store_log_list(&l, f->s, NULL, E));
	assert_int_equal(l.total, 6);
	gc_store_logs_clear(&l);
	gc_store_users ul;
	OK(gc_store_user_list(&ul, f->s, 1, 10, E));
	assert_int_equal(ul.total, 3);
	gc_store_users_clear(&ul);

	/* a 1.10 agent keeps writing its logs into the upgraded database */
	char *agent_rows = legacy_rows_sql(false);
	assert_non_null(agent_rows);
	char *ins = malloc(strlen(agent_rows) * 2 + 200);
	sprintf(ins, "SET SESSION sql_mode = 'STRICT_ALL_TABLES'; %s %s",
		agent_rows, agent_rows);
	assert_int_equal(raw_exec(f, ins), 0);
	free(ins);
	free(agent_rows);
	OK(gc_store_log_list(&l, f->s, NULL, E));
	assert_int_equal(l.total, 16);
	gc_store_logs_clear(&l);
}

/* A GopherCron 1.10 agent without report_addr inserts its logs straight
 * into the database, naming its ten columns only: every such insert is
 * stored, in strict and non-strict sql_mode, next to this library's own
 * (which stay unique by run_id). */
static void original_agent_inserts_without_run_id(void **state)
{
	fx *f = *state;
	if (f->backend != GC_STORE_MYSQL)
		skip();
	char *rows = legacy_rows_sql(false);
	assert_non_null(rows);
	static const char *const modes[] = {
	    "STRICT_TRANS_TABLES,STRICT_ALL_TABLES,NO_ZERO_DATE", ""};
	char *sql = malloc(strlen(rows) * 2 + 200);
	for (size_t i = 0; i < sizeof(modes) / sizeof(*modes); i++) {
		sprintf(sql, "SET SESSION sql_mode = '%s'; %s %s", modes[i],
			rows, rows);
		assert_int_equal(raw_exec(f, sql), 0);
	}
	free(sql);
	free(rows);
	gc_store_log ours = mklog(1, "1131477034980085760", 1795470800, 0,
				  "ours-1");
	size_t n = 0;
	OK(gc_store_log_insert(&n, f->s, &ours, 1, E));
	OK(gc_store_log_insert(&n, f->s, &ours, 1, E));
	assert_int_equal(n, 0);
	assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM gc_task_log"
				    " WHERE run_id IS NULL"),
			 20);
	gc_store_logs l;
	OK(gc_store_log_list(&l, f->s, NULL, E));
	assert_int_equal(l.total, 21);
	assert_string_equal(l.items[0].run_id, "ours-1");
	/* the agent's rows read back as it wrote them, without a run_id */
	assert_string_equal(l.items[1].run_id, "");
	assert_string_equal(l.items[1].client_ip, "192.0.2.2");
	assert_int_equal(l.items[1].start_time, 1795470747);
	assert_string_equal(l.items[1].command, "echo tick; echo line2");
	gc_store_logs_clear(&l);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, test_setup, test_teardown)

int main(void)
{
	/* Local time with a fixed offset, so day boundaries are tested away
	 * from UTC without depending on tzdata. */
	setenv("TZ", "UTC-8", 1);
	tzset();
	const struct CMUnitTest tests[] = {
		T(first_open_creates_admin_with_default_password),
		T(user_create_get_list_delete),
		T(user_update_keeps_unset_fields),
		T(passwords_verify_change_and_use_crypt),
		T(sha512_crypt_when_configured),
		T(unknown_accounts_take_as_long_as_wrong_passwords),
		T(password_changes_bump_the_token_generation),
		T(schema_5_database_gets_token_generations),
		T(project_create_get_update_delete),
		T(project_membership),
		T(logs_newest_first_paged_with_total),
		T(log_fields_round_trip),
		T(same_run_id_is_stored_once),
		T(text_is_stored_verbatim),
		T(one_megabyte_in_every_text_field),
		T(recent_counts_per_local_day),
		T(cleanup_by_project_task_and_age),
		T(retention_deletes_old_logs_in_batches),
		T(threads_insert_and_query_concurrently),
		T(errors_name_the_backend),
		T(reconnects_after_server_restart),
		T(legacy_1_10_database_upgrades_in_place),
		T(original_agent_inserts_without_run_id),
	};
	int failed = cmocka_run_group_tests_name("store/sqlite", tests,
						 group_setup_sqlite,
						 group_teardown);
	failed += cmocka_run_group_tests_name("store/mysql", tests,
					      group_setup_mysql,
					      group_teardown);
	return failed ? 1 : 0;
}
