/* Schema creation and migration.
 *
 * gc_schema_version holds one row with the version reached. A new database
 * is created at the latest version directly. A GopherCron 1.10 MySQL
 * database (its four gc_ tables, no version table) starts at version 0 and
 * goes through the steps below, each one re-runnable, the version bumped
 * after each, so an interrupted upgrade resumes where it stopped:
 *
 *   1  gc_user: name, permission, account become binary LONGBLOB (any
 *      bytes, any length); account keeps a prefix index.
 *   2  gc_project: title, remark likewise; title keeps a prefix index.
 *   3  gc_project_relevance: index (project_id, uid).
 *   4  gc_task_log: task_id becomes text (the TaskInfo id is a string);
 *      project, name, result (varchar(20) in 1.10, too short for any real
 *      output), command, client_ip become LONGBLOB; new columns plan_time,
 *      run_id, agent; indexes for the list, count and retention queries:
 *      totals come from (..., start_time) indexes and error counts from
 *      (..., with_error, start_time) ones, both index-only.
 *   5  gc_task_log.run_id: old rows get "legacy-<id>", then UNIQUE.
 *   6  gc_user.token_gen (default 0): bumped by every password change so
 *      that tokens issued before it are refused. Also for SQLite
 *      databases, which are created at the latest version and so start
 *      migrating from 5. A 1.10 service still works on the upgraded
 *      database: it names the columns it inserts and the new one has a
 *      default.
 *   7  gc_task_log.run_id (MySQL) becomes NULL-able, still UNIQUE: a 1.10
 *      agent writing logs straight into the database names only its own
 *      columns, so its rows get NULL, which a unique key allows many times
 *      in every sql_mode (NOT NULL without a default gave '' once, then
 *      "Duplicate entry", or an error in strict mode). SQLite databases
 *      (no 1.10 agent writes them) keep NOT NULL; the step is a no-op.
 */
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

static const char *const sqlite_create[] = {
	"CREATE TABLE gc_user ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" name TEXT NOT NULL, permission TEXT NOT NULL, account TEXT NOT NULL,"
	" password TEXT NOT NULL, salt TEXT NOT NULL DEFAULT '',"
	" create_time INTEGER NOT NULL,"
	" token_gen INTEGER NOT NULL DEFAULT 0)",
	"CREATE UNIQUE INDEX gc_user_account ON gc_user(account)",
	"CREATE TABLE gc_project ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" uid INTEGER NOT NULL, title TEXT NOT NULL, remark TEXT NOT NULL)",
	"CREATE UNIQUE INDEX gc_project_title ON gc_project(title)",
	"CREATE INDEX gc_project_uid ON gc_project(uid)",
	"CREATE TABLE gc_project_relevance ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" uid INTEGER NOT NULL REFERENCES gc_user(id) ON DELETE CASCADE,"
	" project_id INTEGER NOT NULL"
	"  REFERENCES gc_project(id) ON DELETE CASCADE,"
	" create_time INTEGER NOT NULL)",
	"CREATE UNIQUE INDEX gc_relevance_project_uid"
	" ON gc_project_relevance(project_id, uid)",
	"CREATE INDEX gc_relevance_uid ON gc_project_relevance(uid)",
	"CREATE TABLE gc_task_log ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" project_id INTEGER NOT NULL, task_id TEXT NOT NULL,"
	" project TEXT NOT NULL, name TEXT NOT NULL, result TEXT NOT NULL,"
	" start_time INTEGER NOT NULL, end_time INTEGER NOT NULL,"
	" command TEXT NOT NULL, with_error INTEGER NOT NULL,"
	" client_ip TEXT NOT NULL, plan_time INTEGER NOT NULL DEFAULT 0,"
	" run_id TEXT NOT NULL, agent TEXT)",
	"CREATE UNIQUE INDEX gc_task_log_run_id ON gc_task_log(run_id)",
	"CREATE INDEX gc_task_log_project_start"
	" ON gc_task_log(project_id, start_time)",
	"CREATE INDEX gc_task_log_project_task_start"
	" ON gc_task_log(project_id, task_id, start_time)",
	"CREATE INDEX gc_task_log_project_error_start"
	" ON gc_task_log(project_id, with_error, start_time)",
	"CREATE INDEX gc_task_log_start ON gc_task_log(start_time)",
	"CREATE INDEX gc_task_log_error_start"
	" ON gc_task_log(with_error, start_time)",
};

#define MY_TABLE " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 ROW_FORMAT=DYNAMIC"

/* Text columns are binary so that any bytes are kept as they are; lookups
 * use prefix indexes and compare the full value. Uniqueness of account and
 * title is checked under the store's named lock (a unique index cannot
 * cover a LONGBLOB portably). */
static const char *const mysql_create[] = {
	"CREATE TABLE IF NOT EXISTS gc_user ("
	" id bigint NOT NULL AUTO_INCREMENT,"
	" name longblob NOT NULL, permission longblob NOT NULL,"
	" account longblob NOT NULL, password varchar(255) NOT NULL,"
	" salt varchar(6) NOT NULL DEFAULT '', create_time bigint NOT NULL,"
	" token_gen bigint NOT NULL DEFAULT 0,"
	" PRIMARY KEY (id), KEY account (account(191)))" MY_TABLE,
	"CREATE TABLE IF NOT EXISTS gc_project ("
	" id bigint NOT NULL AUTO_INCREMENT, uid bigint NOT NULL,"
	" title longblob NOT NULL, remark longblob NOT NULL,"
	" PRIMARY KEY (id), KEY uid (uid), KEY title (title(191)))" MY_TABLE,
	"CREATE TABLE IF NOT EXISTS gc_project_relevance ("
	" id bigint NOT NULL AUTO_INCREMENT, uid bigint NOT NULL,"
	" project_id bigint NOT NULL, create_time bigint NOT NULL,"
	" PRIMARY KEY (id), KEY uid (uid),"
	" KEY project_uid (project_id, uid))" MY_TABLE,
	"CREATE TABLE IF NOT EXISTS gc_task_log ("
	" id bigint NOT NULL AUTO_INCREMENT, project_id bigint NOT NULL,"
	" task_id varbinary(255) NOT NULL, project longblob NOT NULL,"
	" name longblob NOT NULL, result longblob NOT NULL,"
	" start_time bigint NOT NULL, end_time bigint NOT NULL,"
	" command longblob NOT NULL, with_error int NOT NULL,"
	" client_ip longblob NOT NULL, plan_time bigint NOT NULL DEFAULT 0,"
	" run_id varbinary(255) NULL, agent longblob NULL,"
	" PRIMARY KEY (id), UNIQUE KEY run_id (run_id),"
	" KEY project_start (project_id, start_time),"
	" KEY project_task_start (project_id, task_id, start_time),"
	" KEY project_error_start (project_id, with_error, start_time),"
	" KEY start_time (start_time),"
	" KEY error_start (with_error, start_time))" MY_TABLE,
};

static int exec0(gc__tx *t, const char *sql, gc_error *err)
{
	return gc__tx_exec(t, sql, NULL, 0, NULL, NULL, NULL, err);
}

static int count_query(gc__tx *t, const char *sql, const gc__dbparam *p,
		       size_t np, int64_t *out, gc_error *err)
{
	gc__dbrows r = {0};
	int rc = gc__tx_exec(t, sql, p, np, &r, NULL, NULL, err);
	*out = (rc == 0 && r.nrows) ? gc__dbrows_int(&r, 0, 0) : 0;
	gc__dbrows_free(&r);
	return rc;
}

static int table_exists(gc__tx *t, const char *table, bool *yes,
			gc_error *err)
{
	gc__dbparam p = gc__ptext(table);
	int64_t n = 0;
	int rc = count_query(
		t,
		t->s->backend == GC_STORE_MYSQL
			? "SELECT COUNT(*) FROM information_schema.tables"
			  " WHERE table_schema = DATABASE() AND table_name = ?"
			: "SELECT COUNT(*) FROM sqlite_master"
			  " WHERE type = 'table' AND name = ?",
		&p, 1, &n, err);
	*yes = n > 0;
	return rc;
}

static int my_index_exists(gc__tx *t, const char *table, const char *index,
			   bool *yes, gc_error *err)
{
	gc__dbparam p[2] = {gc__ptext(table), gc__ptext(index)};
	int64_t n = 0;
	int rc = count_query(t,
			     "SELECT COUNT(*) FROM information_schema.statistics"
			     " WHERE table_schema = DATABASE()"
			     " AND table_name = ? AND index_name = ?",
			     p, 2, &n, err);
	*yes = n > 0;
	return rc;
}

static int my_column_exists(gc__tx *t, const char *table, const char *col,
			    bool *yes, gc_error *err)
{
	gc__dbparam p[2] = {gc__ptext(table), gc__ptext(col)};
	int64_t n = 0;
	int rc = count_query(t,
			     "SELECT COUNT(*) FROM information_schema.columns"
			     " WHERE table_schema = DATABASE()"
			     " AND table_name = ? AND column_name = ?",
			     p, 2, &n, err);
	*yes = n > 0;
	return rc;
}

/* Append "DROP KEY `k`," for each existing index in the NULL-terminated
 * list. */
static int drop_keys(gc__tx *t, gc__buf *b, const char *table,
		     const char *const *keys, gc_error *err)
{
	for (; *keys; keys++) {
		bool yes = false;
		int rc = my_index_exists(t, table, *keys, &yes, err);
		if (rc)
			return rc;
		if (yes && gc__buf_printf(b, " DROP KEY `%s`,", *keys))
			return gc__seterr(err, GC_ENOMEM, "out of memory");
	}
	return 0;
}

static int run_alter(gc__tx *t, gc__buf *b, gc_error *err)
{
	/* drop a trailing comma */
	if (b->len && b->data[b->len - 1] == ',')
		b->data[--b->len] = '\0';
	return exec0(t, b->data, err);
}

/* "ALTER TABLE table" dropping the existing indexes of `drop` (NULL-
 * terminated), then `changes`. */
static int my_alter(gc__tx *t, const char *table, const char *const *drop,
		    const char *changes, gc_error *err)
{
	gc__buf b = GC__BUF_INIT;
	int rc = 0;
	if (gc__buf_printf(&b, "ALTER TABLE %s", table))
		rc = gc__seterr(err, GC_ENOMEM, "out of memory");
	if (rc == 0)
		rc = drop_keys(t, &b, table, drop, err);
	if (rc == 0 && gc__buf_puts(&b, changes))
		rc = gc__seterr(err, GC_ENOMEM, "out of memory");
	if (rc == 0)
		rc = run_alter(t, &b, err);
	gc__buf_free(&b);
	return rc;
}

static int my_step1_user_blobs(gc__tx *t, gc_error *err)
{
	static const char *const keys[] = {"name", "account", NULL};
	return my_alter(t, "gc_user", keys,
			" MODIFY name longblob NOT NULL,"
			" MODIFY permission longblob NOT NULL,"
			" MODIFY account longblob NOT NULL,"
			" ADD KEY account (account(191))",
			err);
}

static int my_step2_project_blobs(gc__tx *t, gc_error *err)
{
	static const char *const keys[] = {"title", NULL};
	return my_alter(t, "gc_project", keys,
			" MODIFY title longblob NOT NULL,"
			" MODIFY remark longblob NOT NULL,"
			" ADD KEY title (title(191))",
			err);
}

static int my_step3_relevance_index(gc__tx *t, gc_error *err)
{
	bool yes = false;
	int rc = my_index_exists(t, "gc_project_relevance", "project_uid", &yes,
				 err);
	if (rc == 0 && !yes)
		rc = exec0(t,
			   "ALTER TABLE gc_project_relevance"
			   " ADD KEY project_uid (project_id, uid)",
			   err);
	return rc;
}

static int my_step4_task_log(gc__tx *t, gc_error *err)
{
	static const char *const keys[] = {"task_id",
					   "name",
					   "client_ip",
					   "project_id",
					   "project_start",
					   "project_task_start",
					   "project_error_start",
					   "start_time",
					   "error_start",
					   NULL};
	static const struct {
		const char *name, *def;
	} cols[] = {{"plan_time", "bigint NOT NULL DEFAULT 0"},
		    {"run_id", "varbinary(255) NULL"},
		    {"agent", "longblob NULL"}};
	gc__buf b = GC__BUF_INIT;
	bool yes = false;
	int rc = 0;
	if (gc__buf_puts(&b, " MODIFY task_id varbinary(255) NOT NULL,"
			     " MODIFY project longblob NOT NULL,"
			     " MODIFY name longblob NOT NULL,"
			     " MODIFY result longblob NOT NULL,"
			     " MODIFY command longblob NOT NULL,"
			     " MODIFY client_ip longblob NOT NULL,"))
		rc = gc__seterr(err, GC_ENOMEM, "out of memory");
	for (size_t i = 0; rc == 0 && i < GC__ARRAY_LEN(cols); i++) {
		rc =
		    my_column_exists(t, "gc_task_log", cols[i].name, &yes, err);
		if (rc == 0 && !yes &&
		    gc__buf_printf(&b, " ADD `%s` %s,", cols[i].name,
				   cols[i].def))
			rc = gc__seterr(err, GC_ENOMEM, "out of memory");
	}
	if (rc == 0 &&
	    gc__buf_puts(&b, " ADD KEY project_start (project_id, start_time),"
			     " ADD KEY project_task_start"
			     " (project_id, task_id, start_time),"
			     " ADD KEY project_error_start"
			     " (project_id, with_error, start_time),"
			     " ADD KEY start_time (start_time),"
			     " ADD KEY error_start (with_error, start_time)"))
		rc = gc__seterr(err, GC_ENOMEM, "out of memory");
	if (rc == 0)
		rc = my_alter(t, "gc_task_log", keys, b.data, err);
	gc__buf_free(&b);
	return rc;
}

static int my_step5_run_id_unique(gc__tx *t, gc_error *err)
{
	bool yes = false;
	int rc = exec0(t,
		       "UPDATE gc_task_log SET run_id = CONCAT('legacy-', id)"
		       " WHERE run_id IS NULL OR run_id = ''",
		       err);
	if (rc == 0)
		rc = my_index_exists(t, "gc_task_log", "run_id", &yes, err);
	if (rc == 0)
		rc = exec0(t,
			   yes ? "ALTER TABLE gc_task_log"
				 " MODIFY run_id varbinary(255) NOT NULL"
			       : "ALTER TABLE gc_task_log"
				 " MODIFY run_id varbinary(255) NOT NULL,"
				 " ADD UNIQUE KEY run_id (run_id)",
			   err);
	return rc;
}

static int my_step6_token_gen(gc__tx *t, gc_error *err)
{
	bool yes = false;
	int rc = my_column_exists(t, "gc_user", "token_gen", &yes, err);
	if (rc == 0 && !yes)
		rc = exec0(t,
			   "ALTER TABLE gc_user ADD token_gen bigint"
			   " NOT NULL DEFAULT 0",
			   err);
	return rc;
}

static int my_step7_run_id_nullable(gc__tx *t, gc_error *err)
{
	return exec0(t,
		     "ALTER TABLE gc_task_log"
		     " MODIFY run_id varbinary(255) NULL DEFAULT NULL",
		     err);
}

static int my_step(gc__tx *t, int step, gc_error *err)
{
	static int (*const steps[])(gc__tx *, gc_error *) = {
	    my_step1_user_blobs,      my_step2_project_blobs,
	    my_step3_relevance_index, my_step4_task_log,
	    my_step5_run_id_unique,   my_step6_token_gen,
	    my_step7_run_id_nullable};
	if (step < 1 || step > (int)GC__ARRAY_LEN(steps))
		return gc__seterr(err, GC_EINVAL, "no migration step %d", step);
	return steps[step - 1](t, err);
}

/* SQLite databases start at version 5 (the first this store created). */
#define SQLITE_FIRST_VERSION 5

static int sqlite_step(gc__tx *t, int step, gc_error *err)
{
	gc__dbparam p[2] = {gc__ptext("gc_user"), gc__ptext("token_gen")};
	int64_t n = 0;
	int rc;
	switch (step) {
	case 6:
		rc = count_query(t,
				 "SELECT COUNT(*) FROM pragma_table_info(?)"
				 " WHERE name = ?",
				 p, 2, &n, err);
		if (rc == 0 && n == 0)
			rc = exec0(t,
				   "ALTER TABLE gc_user ADD COLUMN token_gen"
				   " INTEGER NOT NULL DEFAULT 0",
				   err);
		return rc;
	case 7:
		return 0; /* MySQL only */
	default:
		return gc__seterr(err, GC_EINVAL, "no SQLite migration step %d",
				  step);
	}
}

static int set_version(gc__tx *t, int v, gc_error *err)
{
	gc__dbparam p = gc__pint(v);
	return gc__tx_exec(t, "UPDATE gc_schema_version SET version = ?", &p,
			   1, NULL, NULL, NULL, err);
}

static int read_version(gc__tx *t, int *v, gc_error *err)
{
	gc__dbrows r = {0};
	int rc = gc__tx_exec(t, "SELECT version FROM gc_schema_version", NULL,
			     0, &r, NULL, NULL, err);
	if (rc == 0) {
		if (r.nrows != 1)
			rc = gc__seterr(err, GC_EDB,
					"gc_schema_version has %zu rows, "
					"expected 1",
					r.nrows);
		else
			*v = (int)gc__dbrows_int(&r, 0, 0);
	}
	gc__dbrows_free(&r);
	return rc;
}

static int migrate_locked(gc__tx *t, gc_error *err)
{
	gc_store *s = t->s;
	bool mysql = s->backend == GC_STORE_MYSQL;
	bool has_version = false, has_user = false;
	int v = 0, rc;

	if ((rc = table_exists(t, "gc_schema_version", &has_version, err)))
		return rc;
	if (has_version) {
		if ((rc = read_version(t, &v, err)))
			return rc;
	} else {
		if ((rc = table_exists(t, "gc_user", &has_user, err)))
			return rc;
		if (has_user && !mysql)
			return gc__seterr(err, GC_EDB,
					  "gc_user exists without "
					  "gc_schema_version: not a database "
					  "this store created");
		if (has_user)
			gc__log(s->log, s->log_payload, GC_LOG_NOTICE,
				"store %s: GopherCron 1.10 tables found, "
				"upgrading in place",
				s->desc);
		rc = exec0(t,
			   mysql ? "CREATE TABLE gc_schema_version"
				   " (version int NOT NULL)" MY_TABLE
				 : "CREATE TABLE gc_schema_version"
				   " (version INTEGER NOT NULL)",
			   err);
		if (rc)
			return rc;
		if (!has_user) {
			const char *const *ddl =
				mysql ? mysql_create : sqlite_create;
			size_t n = mysql ? GC__ARRAY_LEN(mysql_create)
					 : GC__ARRAY_LEN(sqlite_create);
			for (size_t i = 0; i < n; i++)
				if ((rc = exec0(t, ddl[i], err)))
					return rc;
			v = GC__STORE_SCHEMA_LATEST;
		}
		gc__dbparam p = gc__pint(v);
		rc = gc__tx_exec(t,
				 "INSERT INTO gc_schema_version (version) "
				 "VALUES (?)",
				 &p, 1, NULL, NULL, NULL, err);
		if (rc)
			return rc;
	}
	if (v > GC__STORE_SCHEMA_LATEST)
		return gc__seterr(err, GC_EDB,
				  "schema version %d is newer than this "
				  "library knows (%d)",
				  v, GC__STORE_SCHEMA_LATEST);
	if (!mysql && v < SQLITE_FIRST_VERSION)
		return gc__seterr(err, GC_EDB,
				  "no SQLite migration from version %d", v);
	for (int step = v + 1; step <= GC__STORE_SCHEMA_LATEST; step++) {
		gc__log(s->log, s->log_payload, GC_LOG_NOTICE,
			"store %s: schema migration step %d of %d", s->desc,
			step, GC__STORE_SCHEMA_LATEST);
		if ((rc = mysql ? my_step(t, step, err)
				: sqlite_step(t, step, err))) {
			gc__err_prefix(err, "schema migration step %d", step);
			return rc;
		}
		if ((rc = set_version(t, step, err)))
			return rc;
		v = step;
	}
	s->schema_version = v;
	return 0;
}

int gc__store_migrate(gc__tx *t, gc_error *err)
{
	if (t->s->backend != GC_STORE_MYSQL) {
		/* One transaction: an interrupted creation leaves nothing. */
		int rc = exec0(t, "BEGIN IMMEDIATE", err);
		if (rc)
			return rc;
		rc = migrate_locked(t, err);
		if (rc == 0)
			return exec0(t, "COMMIT", err);
		gc_error ignore;
		exec0(t, "ROLLBACK", &ignore);
		return rc;
	}
	/* MySQL DDL commits implicitly: serialize services that open the
	 * same database at once with a named lock instead. */
	gc__dbrows r = {0};
	gc__dbparam p = gc__ptext("gophercron.schema");
	int rc = gc__tx_exec(t,
			     "SELECT GET_LOCK(CONCAT(?, '.', DATABASE()), 120)",
			     &p, 1, &r, NULL, NULL, err);
	if (rc == 0 && (r.nrows != 1 || gc__dbrows_int(&r, 0, 0) != 1))
		rc = gc__seterr(err, GC_ETIMEDOUT,
				"another process holds the schema lock");
	gc__dbrows_free(&r);
	if (rc)
		return rc;
	rc = migrate_locked(t, err);
	gc_error ignore;
	gc__tx_exec(t, "SELECT RELEASE_LOCK(CONCAT(?, '.', DATABASE()))", &p,
		    1, &r, NULL, NULL, &ignore);
	gc__dbrows_free(&r);
	return rc;
}
