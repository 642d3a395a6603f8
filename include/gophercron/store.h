/* libgophercron store: users, projects, project membership and task logs in
 * SQLite (default, zero set-up) or MySQL/MariaDB (several services sharing
 * one database).
 *
 * One gc_store handle is safe to use from any number of threads at once
 * (SQLite: a pool of WAL connections with a busy timeout; MySQL: a small
 * pool of connections that reconnects after a lost connection and retries
 * idempotent statements once).
 *
 * The schema is created on first open and migrated on every open; an
 * existing GopherCron 1.10 MySQL database is upgraded in place without
 * losing rows (old md5 passwords keep working until the user's next
 * successful login, which replaces them with a crypt(3) hash).
 *
 * Text is stored verbatim: any NUL-free bytes (quotes, '%', invalid
 * UTF-8, ...), of any length the backend accepts (MySQL: up to
 * max_allowed_packet per statement; 1 MB values are tested in every text
 * field). Two bounded exceptions: a log's task_id and run_id are keys of
 * at most 255 bytes, and passwords (input to crypt(3)) at most 511 bytes;
 * longer ones are refused with GC_EINVAL.
 *
 * Returned records are caller-owned: release them with the matching
 * `_clear` function (which accepts NULL and zeroed records).
 *
 * Error codes used throughout (detail message always names the backend,
 * e.g. "sqlite /var/lib/gc.db: insert task logs: disk I/O error (...)" or
 * "mysql 127.0.0.1:3306/gophercron: list users: Lost connection ..."):
 *   GC_EINVAL     bad argument (message says which)
 *   GC_ENOTFOUND  no such user / project / log / membership
 *   GC_ECONFLICT  account, project title or membership already exists
 *   GC_EAUTH      wrong password
 *   GC_EPERM      the operation is not allowed (removing a project's admin)
 *   GC_EDB        the database failed (message has the backend's text)
 *   GC_EUNAVAIL   MySQL unreachable or the connection was lost (and the
 *                 operation was not safe to retry)
 *   GC_ETIMEDOUT  MySQL: another service held the store's lock for 30 s
 *   GC_ENOMEM     out of memory
 */
#ifndef GOPHERCRON_STORE_H
#define GOPHERCRON_STORE_H

#include <gophercron/common.h>
#include <gophercron/config.h>
#include <gophercron/job.h>

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gc_store gc_store;

enum gc_store_backend {
	GC_STORE_SQLITE = 0, /* default */
	GC_STORE_MYSQL = 1   /* MySQL or MariaDB through libmysqlclient */
};

#define GC_STORE_OPTIONS_VERSION 1

/* Zero (or NULL) means the default for every field. */
typedef struct gc_store_options {
	unsigned version; /* GC_STORE_OPTIONS_VERSION */
	int backend;      /* GC_STORE_SQLITE or GC_STORE_MYSQL */

	/* SQLite */
	const char *sqlite_path; /* default "gophercron.db" */
	int busy_timeout_ms;     /* default 5000 */

	/* MySQL / MariaDB, as the original's [mysql] section */
	const char *mysql_service;  /* "host:port" (port default 3306),
				       "[v6addr]:port", or a unix socket
				       path starting with '/' */
	const char *mysql_username;
	const char *mysql_password;
	const char *mysql_database; /* default "gophercron" */
	int connect_timeout_s;      /* default 5 (also read/write timeout x6) */

	/* Both */
	int pool_size; /* connections kept open, default 4 (max 64) */

	/* Delete task logs whose start_time is older than this many days;
	 * 0 keeps them forever. When > 0, a background thread owned by the
	 * store runs the retention every retention_interval_s (default 3600)
	 * until gc_store_free(); a negative retention_interval_s starts no
	 * thread (call gc_store_log_retention() yourself). */
	int retention_days;
	int retention_interval_s;

	/* Password hashing for new and changed passwords: a crypt(3) prefix,
	 * "$y$" (yescrypt, the default) or "$6$" (SHA-512 crypt). */
	const char *crypt_prefix;

	/* Optional log sink (schema migrations, retention runs, reconnects,
	 * the default admin warning). Called from the calling thread or from
	 * the retention thread. Never receives passwords. */
	gc_log_fn log;
	void *log_payload;
} gc_store_options;

#define GC_STORE_OPTIONS_INIT {GC_STORE_OPTIONS_VERSION, GC_STORE_SQLITE, \
	NULL, 0, NULL, NULL, NULL, NULL, 0, 0, 0, 0, NULL, NULL, NULL}
GC_EXTERN int gc_store_options_init(gc_store_options *opts, unsigned version);

/* Set the fields a configuration gives, on options set up by
 * gc_store_options_init (the others are left alone): MySQL with `mysql`'s
 * service, username, password and database when its `service` is set,
 * else SQLite at `sqlite_path`; [deploy] `timeout` (seconds, when > 0) as
 * the connect timeout. The strings are borrowed: keep them until
 * gc_store_open has copied them. `mysql` and `deploy` may be NULL. 0, or
 * GC_EINVAL (`o` NULL or not initialised). */
GC_EXTERN int gc_store_options_from_config(gc_store_options *o,
					   const gc_mysql_config *mysql,
					   const char *sqlite_path,
					   const gc_deploy_config *deploy);

/* Open (creating/migrating the schema). On an empty database this creates
 * the user `admin` / `123456` with permission "admin,user". opts may be
 * NULL (SQLite at "gophercron.db"). */
GC_EXTERN int gc_store_open(gc_store **out, const gc_store_options *opts,
			    gc_error *err);
/* Stop the retention thread and close every connection. NULL is fine.
 * No other call on `s` may be running or start afterwards. */
GC_EXTERN void gc_store_free(gc_store *s);

/* GC_STORE_SQLITE or GC_STORE_MYSQL. */
GC_EXTERN int gc_store_backend(const gc_store *s);
/* "sqlite /path/x.db" or "mysql 127.0.0.1:3306/gophercron" (no secrets). */
GC_EXTERN const char *gc_store_describe(const gc_store *s);
/* Schema version the database is at (after migration). */
GC_EXTERN int gc_store_schema_version(const gc_store *s);
/* 1 when this open created the default admin account, else 0. */
GC_EXTERN int gc_store_default_admin_created(const gc_store *s);
/* *in_use = 1 when the account `admin` exists and its password is still
 * "123456" (the service should warn on every start until it changes). */
GC_EXTERN int gc_store_default_password_in_use(int *in_use, gc_store *s,
					       gc_error *err);

/* ------------------------------------------------------------------ users */

typedef struct gc_store_user {
	int64_t id;
	char *account;
	char *name;
	char *permission;    /* comma list as the original: "admin,user" */
	int64_t create_time; /* unix seconds */
	/* Bumped by every password change or reset: login tokens carry the
	 * value they were issued with, and one that differs is refused. */
	int64_t token_gen;
} gc_store_user;

typedef struct gc_store_users {
	gc_store_user *items;
	size_t count;
	int64_t total; /* all rows matching, independent of paging */
} gc_store_users;

GC_EXTERN void gc_store_user_clear(gc_store_user *u);
GC_EXTERN void gc_store_users_clear(gc_store_users *l);

/* GC_ECONFLICT when the account exists. name NULL = the account,
 * permission NULL = "user". id_out may be NULL. */
GC_EXTERN int gc_store_user_create(int64_t *id_out, gc_store *s,
				   const char *account, const char *name,
				   const char *password, const char *permission,
				   gc_error *err);
GC_EXTERN int gc_store_user_get(gc_store_user *out, gc_store *s, int64_t id,
				gc_error *err);
GC_EXTERN int gc_store_user_get_by_account(gc_store_user *out, gc_store *s,
					   const char *account, gc_error *err);
/* Ordered by id ascending; page is 1-based (0 = 1), page_size 0 = 20,
 * capped at 1000. out->total counts all users. */
GC_EXTERN int gc_store_user_list(gc_store_users *out, gc_store *s, int page,
				 int page_size, gc_error *err);
/* Change name and/or permission (NULL keeps the field). */
GC_EXTERN int gc_store_user_update(gc_store *s, int64_t id, const char *name,
				   const char *permission, gc_error *err);
/* Deletes the user and its project memberships (projects it created stay).
 * GC_ENOTFOUND when absent. */
GC_EXTERN int gc_store_user_delete(gc_store *s, int64_t id, gc_error *err);
/* Set a new password. When old_password is non-NULL it must match first
 * (GC_EAUTH otherwise). Bumps the user's token_gen. */
GC_EXTERN int gc_store_user_password_change(gc_store *s, int64_t id,
					    const char *old_password,
					    const char *new_password,
					    gc_error *err);
/* Login check. GC_ENOTFOUND: no such account; GC_EAUTH: wrong password.
 * A legacy md5(password+salt) hash that matches is replaced by a crypt(3)
 * hash before returning. out may be NULL. */
GC_EXTERN int gc_store_user_verify(gc_store_user *out, gc_store *s,
				   const char *account, const char *password,
				   gc_error *err);

/* --------------------------------------------------------------- projects */

typedef struct gc_store_project {
	int64_t id;
	int64_t uid; /* creator: the project's admin, cannot be removed */
	char *title;
	char *remark;
} gc_store_project;

typedef struct gc_store_projects {
	gc_store_project *items;
	size_t count;
} gc_store_projects;

GC_EXTERN void gc_store_project_clear(gc_store_project *p);
GC_EXTERN void gc_store_projects_clear(gc_store_projects *l);

/* Titles are unique across the store (GC_ECONFLICT = the original's 10013).
 * The creator `uid` becomes the first member. id_out may be NULL. */
GC_EXTERN int gc_store_project_create(int64_t *id_out, gc_store *s,
				      const char *title, const char *remark,
				      int64_t uid, gc_error *err);
GC_EXTERN int gc_store_project_get(gc_store_project *out, gc_store *s,
				   int64_t id, gc_error *err);
/* Every project, by id ascending. */
GC_EXTERN int gc_store_project_list_all(gc_store_projects *out, gc_store *s,
					gc_error *err);
/* Projects `uid` is a member of, by id ascending. */
GC_EXTERN int gc_store_project_list_by_user(gc_store_projects *out, gc_store *s,
					    int64_t uid, gc_error *err);
/* New title and remark (NULL keeps the field). GC_ECONFLICT when another
 * project has the title, GC_ENOTFOUND when the project is absent. */
GC_EXTERN int gc_store_project_update(gc_store *s, int64_t id,
				      const char *title, const char *remark,
				      gc_error *err);

#define GC_STORE_DELETE_LOGS 0x1u /* also delete the project's task logs */
/* Deletes the project and its memberships (and logs with the flag). */
GC_EXTERN int gc_store_project_delete(gc_store *s, int64_t id, unsigned flags,
				      gc_error *err);

/* Users of a project, by user id ascending (out->total = count). */
GC_EXTERN int gc_store_project_member_list(gc_store_users *out, gc_store *s,
					   int64_t project_id, gc_error *err);
/* GC_ENOTFOUND for a missing project or user, GC_ECONFLICT when already a
 * member. */
GC_EXTERN int gc_store_project_member_add(gc_store *s, int64_t project_id,
					  int64_t uid, gc_error *err);
/* GC_EPERM when uid is the project's creator (the original's 10017),
 * GC_ENOTFOUND when not a member. */
GC_EXTERN int gc_store_project_member_remove(gc_store *s, int64_t project_id,
					     int64_t uid, gc_error *err);
/* *is_member = 1 or 0. */
GC_EXTERN int gc_store_project_is_member(int *is_member, gc_store *s,
					 int64_t project_id, int64_t uid,
					 gc_error *err);

/* -------------------------------------------------------------- task logs */

/* One run of a task: the original's gc_task_log columns plus plan_time,
 * run_id and agent. All strings may be NULL on insert (stored as ""). */
typedef struct gc_store_log {
	int64_t id;         /* assigned by the store */
	int64_t project_id;
	char *task_id;      /* TaskInfo task_id (a decimal string in 1.10) */
	char *project;      /* project title at run time */
	char *name;         /* task name at run time */
	char *result;       /* the original's JSON text:
			       {"result":OUTPUT,"system_error":ERR,"error":""} */
	int64_t start_time; /* unix seconds */
	int64_t end_time;   /* unix seconds */
	char *command;
	int with_error;     /* 1 when the run failed (non-zero stored as 1) */
	char *client_ip;    /* agent address */
	int64_t plan_time;  /* unix seconds of the planned tick, 0 = unknown */
	char *run_id;       /* unique per run; NULL/"" on insert = generated */
	char *agent;        /* agent identity, e.g. "host (ip) v1.10.100" */
	/* Read only: 1 when a list returned this row shortened: a preview
	 * of its result, or name and command cut by max_bytes (see
	 * gc_store_log_query). */
	int truncated;
	/* Read only: with a preview, the stored result's whole length in
	 * bytes (gc_store_log_get reads it all); 0 otherwise. */
	int64_t result_bytes;
} gc_store_log;

typedef struct gc_store_logs {
	gc_store_log *items;
	size_t count;
	int64_t total; /* all rows matching the query, independent of paging */
} gc_store_logs;

GC_EXTERN void gc_store_log_clear(gc_store_log *l);
GC_EXTERN void gc_store_logs_clear(gc_store_logs *l);

/* Insert n records in one transaction (all or none). A record whose
 * run_id is already stored is skipped, so a re-delivered result keeps one
 * row. *inserted (may be NULL) = number of new rows (after a MySQL
 * reconnect-and-retry of a batch that had committed, 0). */
GC_EXTERN int gc_store_log_insert(size_t *inserted, gc_store *s,
				  const gc_store_log *logs, size_t n,
				  gc_error *err);

/* The task-log row a result becomes, shared by the reporter's SQL sink
 * and the service's ingest so both write identical rows:
 *   project_id, task_id, name, command from the task; project =
 *   project_title (NULL -> ""); result = {"result":OUTPUT,
 *   "system_error":ERROR,"error":""} (JSON as Go writes it, but with < > &
 *   left unescaped: valid for the original's readers, and one byte per
 *   byte of ordinary output); start_time, end_time, plan_time in unix
 *   seconds; with_error = error non-empty; client_ip = agent = the task's
 *   client_ip, else `fallback_ip`; run_id = the result's run id, else
 *   "<pid>-<tid>-<plan_unix>-<ip>-<start_ns>" (a body from an original
 *   agent, still stable across re-sends). A body without run_id comes
 *   from a GopherCron 1.10 agent, whose plan_time is the task's NEXT
 *   tick: its row's plan_time is the tick that ran, the second of its
 *   real_time (the start's second when that is later or absent), so
 *   plan_time <= start_time.
 * Sizes are bounded whatever the result holds: OUTPUT and ERROR are capped
 * at `output_limit` bytes with the executor's rule (the first half, the
 * marker "\n... [N bytes omitted] ...\n", the last half; an output already
 * capped at that limit is kept as it is), 0 = GC_EXEC_DEFAULT_OUTPUT_LIMIT
 * (1 MiB), at least GC_EXEC_MIN_OUTPUT_LIMIT; name and command at
 * GC_TASK_MAX_BYTES.
 * `out` (zero it first) receives malloc'd strings; release it with
 * gc_store_log_clear. GC_EINVAL when the result has no project_id or
 * task_id or a client_ip longer than GC_KEY_PART_MAX, GC_ENOMEM. */
GC_EXTERN int gc_store_log_from_result(gc_store_log *out, const gc_result *res,
				       const char *fallback_ip,
				       const char *project_title,
				       size_t output_limit, gc_error *err);

typedef struct gc_store_log_query {
	/* Restrict to these projects (n_project_ids entries). NULL = all
	 * projects; non-NULL with n_project_ids 0 = no project (empty
	 * result), e.g. a user who belongs to none. */
	const int64_t *project_ids;
	size_t n_project_ids;
	const char *task_id; /* NULL or "" = every task */
	int errors_only;     /* 1 = only with_error != 0 */
	int page;            /* 1-based, 0 = 1 */
	int page_size;       /* 0 = 20, capped at 1000 */
	/* 0 = rows come whole. Otherwise a budget, in bytes, for the rows'
	 * result, command and name: in list order, a row comes whole while
	 * it and the whole rows before it stay within max_bytes (so the
	 * first row does whenever it alone fits); every other row comes
	 * shortened, flagged `truncated`: result rebuilt from its first and
	 * last few KiB (still {"result":...,"system_error":...,"error":...},
	 * the output's start, a marker, its end, and the error texts),
	 * command and name cut at a few hundred bytes. The store never
	 * reads those rows whole, so a page of any size costs at most about
	 * max_bytes + page_size * 16 KiB, however big the rows are. With
	 * preview_bytes set, the budget counts command and name only (the
	 * results are bounded by the preview). */
	size_t max_bytes;
	/* 0 = results come whole (within max_bytes). Otherwise a result
	 * longer than 4 x preview_bytes bytes comes as a preview, read
	 * in SQL (the store never holds it whole): its first and last
	 * preview_bytes characters rebuilt as the same JSON shape, the
	 * output's start, a marker naming the bytes left out, the stored
	 * length and the run's GET /api/v1/log/detail?id=, its end, and the
	 * error texts; the row is flagged `truncated` and carries
	 * result_bytes. gc_store_log_get reads a row whole. */
	size_t preview_bytes;
} gc_store_log_query;

/* Newest first (start_time descending, then id descending). */
GC_EXTERN int gc_store_log_list(gc_store_logs *out, gc_store *s,
				const gc_store_log_query *q, gc_error *err);
GC_EXTERN int gc_store_log_get(gc_store_log *out, gc_store *s, int64_t id,
			       gc_error *err);

typedef struct gc_store_day_count {
	char date[11]; /* "YYYY-MM-DD", local time */
	int64_t success_count;
	int64_t error_count;
} gc_store_day_count;

/* Success/error counts per local-time day for the 7 days ending with the
 * day containing `now` (unix seconds; 0 = current time), oldest first, by
 * start_time. project_ids as in gc_store_log_query (NULL = all, non-NULL
 * with 0 entries = none). */
GC_EXTERN int gc_store_log_recent(gc_store_day_count out[7], gc_store *s,
				  const int64_t *project_ids,
				  size_t n_project_ids, int64_t now,
				  gc_error *err);

/* Delete logs matching every given condition: project_id (0 = any),
 * task_id (NULL/"" = any), start_time < before (0 = any time). At least
 * one condition is required (GC_EINVAL otherwise). *deleted may be NULL. */
GC_EXTERN int gc_store_log_delete(int64_t *deleted, gc_store *s,
				  int64_t project_id, const char *task_id,
				  int64_t before, gc_error *err);
/* Delete logs older than `days` days (start_time < now - days*86400), in
 * small batches so writers are not blocked. days <= 0 uses the open
 * option retention_days (and does nothing when that is 0). */
GC_EXTERN int gc_store_log_retention(int64_t *deleted, gc_store *s, int days,
				     gc_error *err);

#ifdef __cplusplus
}
#endif
#endif
