/* Task logs: batched idempotent inserts, paged queries, daily counts,
 * cleanup and retention. */
#include "store_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define LOG_COLS                                                            \
	"id, project_id, task_id, project, name, result, start_time,"       \
	" end_time, command, with_error, client_ip, plan_time, run_id, agent"
#define LOG_NCOLS 14
#define INSERT_COLS                                                         \
	"INSERT INTO gc_task_log (project_id, task_id, project, name,"      \
	" result, start_time, end_time, command, with_error, client_ip,"    \
	" plan_time, run_id, agent) VALUES "
#define INSERT_NPARAMS 13
/* Rows per INSERT statement; remainders use the powers of two below so
 * only a handful of statement shapes get prepared. */
#define INSERT_MAX_ROWS 64
/* Bytes of text per INSERT statement (well under max_allowed_packet). */
#define INSERT_MAX_BYTES (8u << 20)
/* Rows per DELETE statement in cleanup and retention. */
#define DELETE_CHUNK 5000
/* A list with a byte budget (gc_store_log_query.max_bytes) reads the rows
 * past it shortened: the result's first CUT_HEAD and last CUT_TAIL
 * characters (SQLite counts characters, MySQL bytes of the longblob; at
 * most 4 bytes a character either way), name and command cut at CUT_TEXT. */
#define CUT_HEAD 2048
#define CUT_TAIL 1024
#define CUT_TEXT 512

static int log_from_row(gc__dbrows *r, size_t row, gc_store_log *l,
			gc_error *err)
{
	memset(l, 0, sizeof(*l));
	l->id = gc__dbrows_int(r, row, 0);
	l->project_id = gc__dbrows_int(r, row, 1);
	l->task_id = gc__dbrows_take(r, row, 2);
	l->project = gc__dbrows_take(r, row, 3);
	l->name = gc__dbrows_take(r, row, 4);
	l->result = gc__dbrows_take(r, row, 5);
	l->start_time = gc__dbrows_int(r, row, 6);
	l->end_time = gc__dbrows_int(r, row, 7);
	l->command = gc__dbrows_take(r, row, 8);
	l->with_error = (int)gc__dbrows_int(r, row, 9);
	l->client_ip = gc__dbrows_take(r, row, 10);
	l->plan_time = gc__dbrows_int(r, row, 11);
	l->run_id = gc__dbrows_take(r, row, 12);
	l->agent = gc__dbrows_take(r, row, 13);
	if (!l->task_id || !l->project || !l->name || !l->result ||
	    !l->command || !l->client_ip || !l->run_id || !l->agent) {
		gc_store_log_clear(l);
		return gc__seterr(err, GC_ENOMEM, "out of memory");
	}
	return 0;
}

/* ------------------------------------------------------------- insert */

typedef struct insert_ctx {
	const gc_store_log *logs;
	const char **run_ids; /* effective run ids (generated when empty) */
	size_t n;
	size_t inserted;
} insert_ctx;

static size_t text_bytes(const gc_store_log *l)
{
	const char *f[] = {l->task_id, l->project,   l->name,   l->result,
			   l->command, l->client_ip, l->run_id, l->agent};
	size_t n = 0;
	for (size_t i = 0; i < GC__ARRAY_LEN(f); i++)
		n += f[i] ? strlen(f[i]) : 0;
	return n;
}

static int insert_chunk(gc__tx *t, insert_ctx *c, size_t first, size_t rows,
			gc_error *err)
{
	gc__buf sql = GC__BUF_INIT;
	gc__dbparam *p = calloc(rows * INSERT_NPARAMS, sizeof(*p));
	int rc = 0;
	if (!p || gc__buf_puts(&sql, INSERT_COLS)) {
		rc = gc__seterr(err, GC_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < rows; i++) {
		const gc_store_log *l = &c->logs[first + i];
		gc__dbparam *q = p + i * INSERT_NPARAMS;
		q[0] = gc__pint(l->project_id);
		q[1] = gc__ptext(l->task_id);
		q[2] = gc__ptext(l->project);
		q[3] = gc__ptext(l->name);
		q[4] = gc__ptext(l->result);
		q[5] = gc__pint(l->start_time);
		q[6] = gc__pint(l->end_time);
		q[7] = gc__ptext(l->command);
		q[8] = gc__pint(l->with_error ? 1 : 0);
		q[9] = gc__ptext(l->client_ip);
		q[10] = gc__pint(l->plan_time);
		q[11] = gc__ptext(c->run_ids[first + i]);
		q[12] = gc__ptext(l->agent);
		if (gc__buf_puts(&sql, i ? ",(?,?,?,?,?,?,?,?,?,?,?,?,?)"
					 : "(?,?,?,?,?,?,?,?,?,?,?,?,?)")) {
			rc = gc__seterr(err, GC_ENOMEM, "out of memory");
			goto out;
		}
	}
	/* A run stored twice keeps its first row (agents re-deliver after a
	 * lost answer). Only the run_id key can collide: id is generated. */
	if (gc__buf_puts(&sql, t->s->backend == GC_STORE_MYSQL
				       ? " ON DUPLICATE KEY UPDATE id = id"
				       : " ON CONFLICT(run_id) DO NOTHING")) {
		rc = gc__seterr(err, GC_ENOMEM, "out of memory");
		goto out;
	}
	int64_t n = 0;
	rc = gc__tx_exec(t, sql.data, p, rows * INSERT_NPARAMS, NULL, &n, NULL,
			 err);
	if (rc == 0)
		c->inserted += (size_t)n;
out:
	free(p);
	gc__buf_free(&sql);
	return rc;
}

static int insert_op(gc__tx *t, void *vctx, gc_error *err)
{
	insert_ctx *c = vctx;
	c->inserted = 0;
	size_t i = 0;
	while (i < c->n) {
		size_t left = c->n - i, rows = INSERT_MAX_ROWS;
		while (rows > left)
			rows /= 2;
		/* Keep each statement well below the packet limit. */
		for (;;) {
			size_t bytes = 0;
			for (size_t k = 0; k < rows; k++)
				bytes += text_bytes(&c->logs[i + k]);
			if (rows == 1 || bytes <= INSERT_MAX_BYTES)
				break;
			rows /= 2;
		}
		int rc = insert_chunk(t, c, i, rows, err);
		if (rc)
			return rc;
		i += rows;
	}
	return 0;
}

static int gen_run_id(char out[40])
{
	unsigned char r[16];
	size_t got = 0;
	while (got < sizeof(r)) {
		ssize_t k = getrandom(r + got, sizeof(r) - got, 0);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)k;
	}
	static const char hex[] = "0123456789abcdef";
	memcpy(out, "gen-", 4);
	for (size_t i = 0; i < sizeof(r); i++) {
		out[4 + i * 2] = hex[r[i] >> 4];
		out[5 + i * 2] = hex[r[i] & 15];
	}
	out[36] = '\0';
	return 0;
}

int gc_store_log_insert(size_t *inserted, gc_store *s, const gc_store_log *logs,
			size_t n, gc_error *err)
{
	if (inserted)
		*inserted = 0;
	if (!s || (!logs && n))
		return gc__seterr(err, GC_EINVAL, "insert task logs: NULL "
						  "argument");
	if (n == 0)
		return 0;
	const char **ids = calloc(n, sizeof(*ids));
	char(*gen)[40] = calloc(n, sizeof(*gen));
	int rc = 0;
	if (!ids || !gen) {
		rc = gc__seterr(err, GC_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const gc_store_log *l = &logs[i];
		if (l->task_id && strlen(l->task_id) > GC__STORE_KEY_MAX) {
			rc = gc__seterr(err, GC_EINVAL,
					"insert task logs: record %zu: task_id "
					"longer than %d bytes",
					i, GC__STORE_KEY_MAX);
			goto out;
		}
		if (l->run_id && strlen(l->run_id) > GC__STORE_KEY_MAX) {
			rc = gc__seterr(err, GC_EINVAL,
					"insert task logs: record %zu: run_id "
					"longer than %d bytes",
					i, GC__STORE_KEY_MAX);
			goto out;
		}
		if (l->run_id && *l->run_id) {
			ids[i] = l->run_id;
		} else {
			/* Generated before the transaction, so a retry after
			 * a lost connection inserts the same ids again. */
			if (gen_run_id(gen[i])) {
				rc = gc__seterr_errno(err, GC_ESYS, errno,
						      "getrandom");
				goto out;
			}
			ids[i] = gen[i];
		}
	}
	/* Retried once after a lost connection: run_id makes that safe (a
	 * retry of a batch that did commit inserts nothing and reports 0). */
	insert_ctx c = {logs, ids, n, 0};
	rc = gc__store_run(s, "insert task logs",
			   GC__OP_WRITE | GC__OP_TX | GC__OP_IDEMPOTENT,
			   insert_op, &c, err);
	if (rc == 0 && inserted)
		*inserted = c.inserted;
out:
	free(ids);
	free(gen);
	return rc;
}

/* -------------------------------------------------------------- query */

/* " AND project_id IN (?, ...)" etc. Returns params appended to p. */
static int where_projects(gc__buf *sql, gc__dbparam *p, size_t *np,
			  const int64_t *ids, size_t n)
{
	if (!ids)
		return 0;
	if (n == 0)
		return gc__buf_puts(sql, " AND 1 = 0");
	if (n == 1) {
		p[(*np)++] = gc__pint(ids[0]);
		return gc__buf_puts(sql, " AND project_id = ?");
	}
	if (gc__buf_puts(sql, " AND project_id IN ("))
		return GC_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		p[(*np)++] = gc__pint(ids[i]);
		if (gc__buf_puts(sql, i ? ",?" : "?"))
			return GC_ENOMEM;
	}
	return gc__buf_puts(sql, ")");
}

/* MySQL/MariaDB: name the index. With few projects each matches a large
 * share of the rows, and the optimizer then often prefers a full table
 * scan (or a scan of the start_time index) to the range that answers the
 * query from the index alone: measured at 100k rows, a project's COUNT(*)
 * took 80 ms as a table scan and 3 ms from project_start. SQLite plans
 * these well on its own. */
static const char *index_hint(const gc_store *s, bool projects, bool task,
			      bool errors)
{
	if (s->backend != GC_STORE_MYSQL)
		return "";
	if (projects && task)
		return " FORCE INDEX (project_task_start)";
	if (projects && errors)
		return " FORCE INDEX (project_error_start)";
	if (projects)
		return " FORCE INDEX (project_start)";
	if (task)
		return "";
	return errors ? " FORCE INDEX (error_start)"
		      : " FORCE INDEX (start_time)";
}

typedef struct list_ctx {
	const gc_store_log_query *q;
	int64_t limit, offset;
	gc_store_logs *out;
} list_ctx;

/* With a budget: the ids of the page's rows that do not fit, as SQL text
 * ("3,7,12"; the ids are numbers read from the table), by the bytes of
 * their result (left out with previews: they bound it), command and name
 * in list order. A row fits while the rows fitted so far and it stay
 * within max_bytes. */
static int cut_ids(gc__tx *t, const list_ctx *c, const char *hint,
		   const char *where, gc__dbparam *p, size_t np, gc__buf *ids,
		   gc_error *err)
{
	bool my = t->s->backend == GC_STORE_MYSQL;
	gc__buf sql = GC__BUF_INIT;
	gc__dbrows r = {0};
	uint64_t used = 0;
	int rc;
	/* SQLite's length() counts characters of a TEXT; its bytes are the
	 * BLOB's length. MySQL's LENGTH() counts bytes. */
	if (gc__buf_printf(&sql, "SELECT id, %s%s FROM gc_task_log%s%s",
			   c->q->preview_bytes ? ""
			   : my		       ? "LENGTH(result) + "
				: "length(CAST(result AS BLOB)) + ",
			   my ? "LENGTH(command) + LENGTH(name)"
			      : "length(CAST(command AS BLOB)) +"
				" length(CAST(name AS BLOB))",
			   hint, where) ||
	    gc__buf_puts(&sql, " ORDER BY start_time DESC, id DESC"
			       " LIMIT ? OFFSET ?"))
		return gc__seterr(err, GC_ENOMEM, "out of memory");
	p[np] = gc__pint(c->limit);
	p[np + 1] = gc__pint(c->offset);
	rc = gc__tx_exec(t, sql.data, p, np + 2, &r, NULL, NULL, err);
	for (size_t i = 0; rc == 0 && i < r.nrows; i++) {
		int64_t bytes = gc__dbrows_int(&r, i, 1);
		if (bytes >= 0 && used + (uint64_t)bytes <= c->q->max_bytes) {
			used += (uint64_t)bytes;
			continue;
		}
		if (gc__buf_printf(ids, "%s%" PRId64, ids->len ? "," : "",
				   gc__dbrows_int(&r, i, 0)))
			rc = gc__seterr(err, GC_ENOMEM, "out of memory");
	}
	gc__dbrows_free(&r);
	gc__buf_free(&sql);
	return rc;
}

/* Columns 15-17 of a shortened select. */
enum { COL_TAIL = 14, COL_CUT = 15, COL_BYTES = 16 };

/* The SELECT of a page whose rows may come shortened, cut in SQL so they
 * are never read whole: a preview of every long result (preview_bytes),
 * or (no preview) the result of the rows past the budget; name and command
 * of those rows. A row stored meanwhile is read whole: its output was
 * capped when it was stored. `cut`: ids past the budget ("" = none). */
static int shortened_select(gc__buf *sql, const gc_store *s,
			    const gc_store_log_query *q, const char *cut)
{
	/* Bytes: SQLite's length() of a TEXT counts characters and reads the
	 * whole value; of the CAST to BLOB it does not. */
	const char *bytes = s->backend == GC_STORE_MYSQL
				? "LENGTH(result)"
				: "length(CAST(result AS BLOB))";
	gc__buf cond = GC__BUF_INIT, named = GC__BUF_INIT;
	int head = CUT_HEAD, tail = CUT_TAIL, rc;
	if (*cut)
		rc = gc__buf_printf(&named, "id IN (%s)", cut);
	else
		rc = gc__buf_puts(&named, "1 = 0");
	if (q->preview_bytes) {
		head = tail = (int)q->preview_bytes;
		rc |= gc__buf_printf(&cond, "%s > %d", bytes, 4 * head);
		/* SQLite cuts characters: head and tail must not overlap (a
		 * prefix is read without the rest of the value). */
		if (s->backend != GC_STORE_MYSQL)
			rc |=
			    gc__buf_printf(&cond,
					   " AND length(substr(result, 1, %d))"
					   " > %d",
					   2 * head + 1, 2 * head);
	} else {
		rc |= gc__buf_printf(&cond, "%s AND length(result) > %d",
				     named.data, head + tail);
	}
	if (rc == 0)
		rc = gc__buf_printf(
		    sql,
		    "SELECT id, project_id, task_id, project,"
		    " CASE WHEN %s THEN substr(name, 1, %d) ELSE name END,"
		    " CASE WHEN %s THEN substr(result, 1, %d) ELSE result END,"
		    " start_time, end_time,"
		    " CASE WHEN %s THEN substr(command, 1, %d)"
		    "  ELSE command END,"
		    " with_error, client_ip, plan_time, run_id, agent,"
		    " CASE WHEN %s THEN substr(result, -%d) ELSE '' END,"
		    " CASE WHEN (%s) OR (%s) THEN 1 ELSE 0 END,"
		    " CASE WHEN %s THEN %s ELSE 0 END",
		    named.data, CUT_TEXT, cond.data, head, named.data, CUT_TEXT,
		    cond.data, tail, named.data, cond.data, cond.data,
		    q->preview_bytes ? bytes : "0");
	gc__buf_free(&cond);
	gc__buf_free(&named);
	return rc;
}

/* A row read shortened: flag it, and rebuild its result from the head and
 * tail read when the middle is missing, the marker saying what is left out
 * and where all of it is (a preview) or why (a budget cut). */
static int log_cut(gc__dbrows *r, size_t row, gc_store_log *l, gc_error *err)
{
	const char *tail = r->cell[row * r->ncols + COL_TAIL];
	size_t tail_len = r->len[row * r->ncols + COL_TAIL];
	int64_t all = gc__dbrows_int(r, row, COL_BYTES);
	int64_t left = all - (int64_t)strlen(l->result) - (int64_t)tail_len;
	gc__buf b = GC__BUF_INIT;
	char *marker;
	int rc;
	l->truncated = 1;
	if (tail_len == 0)
		return 0; /* the result came whole */
	l->result_bytes = all;
	if (all)
		marker =
		    gc__sprintf("\n... [preview: about %" PRId64
				" bytes of the middle left out; the "
				"stored result has %" PRId64
				" bytes; GET /api/v1/log/detail?id=%" PRId64
				" returns all of it] ...\n",
				left > 0 ? left : 0, all, l->id);
	else
		marker = gc__sprintf("\n... [output cut: this log list answer "
				     "is over its size budget; GET "
				     "/api/v1/log/detail?id=%" PRId64
				     " returns all of it] ...\n",
				     l->id);
	rc = !marker || gc__log_result_cut(l->result, strlen(l->result), tail,
					   tail_len, marker, &b);
	free(marker);
	if (rc) {
		gc__buf_free(&b);
		return gc__seterr(err, GC_ENOMEM, "out of memory");
	}
	free(l->result);
	l->result = gc__buf_detach(&b);
	return 0;
}

static int list_op(gc__tx *t, void *vctx, gc_error *err)
{
	list_ctx *c = vctx;
	const gc_store_log_query *q = c->q;
	gc__buf where = GC__BUF_INIT, sql = GC__BUF_INIT;
	gc__buf cut = GC__BUF_INIT;
	size_t maxp = q->n_project_ids + 4, np = 0;
	gc__dbparam *p = calloc(maxp, sizeof(*p));
	gc__dbrows r = {0};
	int rc = 0;
	gc_store_logs_clear(c->out);
	if (!p || gc__buf_puts(&where, " WHERE 1 = 1") ||
	    where_projects(&where, p, &np, q->project_ids, q->n_project_ids))
		goto nomem;
	if (q->task_id && *q->task_id) {
		p[np++] = gc__ptext(q->task_id);
		if (gc__buf_puts(&where, " AND task_id = ?"))
			goto nomem;
	}
	if (q->errors_only && gc__buf_puts(&where, " AND with_error = 1"))
		goto nomem;

	const char *hint = index_hint(t->s, q->project_ids != NULL,
				      q->task_id && *q->task_id,
				      q->errors_only != 0);
	if (gc__buf_printf(&sql, "SELECT COUNT(*) FROM gc_task_log%s%s", hint,
			   where.data))
		goto nomem;
	rc = gc__tx_exec(t, sql.data, p, np, &r, NULL, NULL, err);
	if (rc)
		goto out;
	c->out->total = r.nrows ? gc__dbrows_int(&r, 0, 0) : 0;
	gc__dbrows_free(&r);
	if (c->out->total <= c->offset)
		goto out;

	if (q->max_bytes &&
	    (rc = cut_ids(t, c, hint, where.data, p, np, &cut, err)))
		goto out;
	gc__buf_reset(&sql);
	if (!cut.len && !q->preview_bytes)
		rc = gc__buf_printf(&sql,
				    "SELECT " LOG_COLS " FROM gc_task_log%s%s",
				    hint, where.data);
	else
		rc = shortened_select(&sql, t->s, q, cut.len ? cut.data : "") ||
		     gc__buf_printf(&sql, " FROM gc_task_log%s%s", hint,
				    where.data);
	if (rc)
		goto nomem;
	if (gc__buf_puts(&sql, " ORDER BY start_time DESC, id DESC"
			       " LIMIT ? OFFSET ?"))
		goto nomem;
	p[np++] = gc__pint(c->limit);
	p[np++] = gc__pint(c->offset);
	rc = gc__tx_exec(t, sql.data, p, np, &r, NULL, NULL, err);
	if (rc == 0 && r.nrows) {
		c->out->items = calloc(r.nrows, sizeof(*c->out->items));
		if (!c->out->items)
			goto nomem;
		for (size_t i = 0; rc == 0 && i < r.nrows; i++) {
			gc_store_log *l = &c->out->items[i];
			rc = log_from_row(&r, i, l, err);
			if (rc == 0)
				c->out->count++;
			if (rc == 0 && r.ncols > COL_CUT &&
			    gc__dbrows_int(&r, i, COL_CUT))
				rc = log_cut(&r, i, l, err);
		}
	}
	goto out;
nomem:
	rc = gc__seterr(err, GC_ENOMEM, "out of memory");
out:
	gc__dbrows_free(&r);
	gc__buf_free(&where);
	gc__buf_free(&sql);
	gc__buf_free(&cut);
	free(p);
	return rc;
}

int gc_store_log_list(gc_store_logs *out, gc_store *s,
		      const gc_store_log_query *q, gc_error *err)
{
	gc_store_log_query all = {NULL, 0, NULL, 0, 0, 0, 0, 0};
	if (!s || !out)
		return gc__seterr(err, GC_EINVAL,
				  "list task logs: NULL argument");
	memset(out, 0, sizeof(*out));
	if (!q)
		q = &all;
	list_ctx c = {q, 0, 0, out};
	if (gc__store_page(q->page, q->page_size, &c.limit, &c.offset))
		return gc__seterr(err, GC_EINVAL,
				  "list task logs: negative page (%d) or page "
				  "size (%d)",
				  q->page, q->page_size);
	int rc = gc__store_run(s, "list task logs", GC__OP_IDEMPOTENT, list_op,
			       &c, err);
	if (rc)
		gc_store_logs_clear(out);
	return rc;
}

typedef struct get_ctx {
	int64_t id;
	gc_store_log *out;
} get_ctx;

static int get_op(gc__tx *t, void *vctx, gc_error *err)
{
	get_ctx *c = vctx;
	gc__dbrows r = {0};
	int rc = gc__tx_get_row(
	    &r, t, "SELECT " LOG_COLS " FROM gc_task_log WHERE id = ?", c->id,
	    "task log", err);
	if (rc == 0)
		rc = log_from_row(&r, 0, c->out, err);
	gc__dbrows_free(&r);
	return rc;
}

int gc_store_log_get(gc_store_log *out, gc_store *s, int64_t id, gc_error *err)
{
	if (!s || !out)
		return gc__seterr(err, GC_EINVAL, "get task log: NULL argument");
	memset(out, 0, sizeof(*out));
	get_ctx c = {id, out};
	return gc__store_run(s, "get task log", GC__OP_IDEMPOTENT, get_op, &c,
			     err);
}

/* ------------------------------------------------------------- recent */

typedef struct recent_ctx {
	const int64_t *ids;
	size_t n;
	int64_t from[7], to[7];
	gc_store_day_count *out;
} recent_ctx;

/* Per-day COUNT(*) over an index range, index-only: totals on a
 * (..., start_time) index, errors on a (..., with_error, start_time) one.
 * Plain range counts cost the engine far less per row than one scan with
 * seven conditional sums. */
static int recent_counts(gc__tx *t, recent_ctx *c, bool errors,
			 int64_t counts[7], gc_error *err)
{
	gc__buf sql = GC__BUF_INIT;
	gc__dbparam *p = calloc(c->n + 2, sizeof(*p));
	gc__dbrows r = {0};
	size_t np = 2;
	int rc = 0;
	if (!p ||
	    gc__buf_printf(&sql,
			   "SELECT COUNT(*) FROM gc_task_log%s WHERE %s"
			   "start_time >= ? AND start_time < ?",
			   index_hint(t->s, c->ids != NULL, false, errors),
			   errors ? "with_error = 1 AND " : "") ||
	    where_projects(&sql, p, &np, c->ids, c->n)) {
		rc = gc__seterr(err, GC_ENOMEM, "out of memory");
		goto out;
	}
	for (int d = 0; d < 7 && rc == 0; d++) {
		p[0] = gc__pint(c->from[d]);
		p[1] = gc__pint(c->to[d]);
		rc = gc__tx_exec(t, sql.data, p, np, &r, NULL, NULL, err);
		counts[d] = (rc == 0 && r.nrows) ? gc__dbrows_int(&r, 0, 0) : 0;
		gc__dbrows_free(&r);
	}
out:
	gc__buf_free(&sql);
	free(p);
	return rc;
}

static int recent_op(gc__tx *t, void *vctx, gc_error *err)
{
	recent_ctx *c = vctx;
	int64_t all[7], bad[7];
	int rc = recent_counts(t, c, false, all, err);
	if (rc == 0)
		rc = recent_counts(t, c, true, bad, err);
	for (int d = 0; rc == 0 && d < 7; d++) {
		c->out[d].error_count = bad[d];
		c->out[d].success_count = all[d] - bad[d];
	}
	return rc;
}

int gc_store_log_recent(gc_store_day_count out[7], gc_store *s,
			const int64_t *project_ids, size_t n_project_ids,
			int64_t now, gc_error *err)
{
	if (!s || !out)
		return gc__seterr(err, GC_EINVAL,
				  "recent task counts: NULL argument");
	memset(out, 0, 7 * sizeof(*out));
	time_t base = now > 0 ? (time_t)now : time(NULL);
	struct tm today;
	if (!localtime_r(&base, &today))
		return gc__seterr(err, GC_EINVAL,
				  "recent task counts: time %lld out of range",
				  (long long)now);
	recent_ctx c = {project_ids, n_project_ids, {0}, {0}, out};
	/* Day boundaries through mktime so a DST change makes a 23 or 25
	 * hour day, as the calendar does. */
	for (int d = 0; d < 7; d++) {
		struct tm a = today, b = today;
		a.tm_hour = b.tm_hour = 0;
		a.tm_min = b.tm_min = 0;
		a.tm_sec = b.tm_sec = 0;
		a.tm_isdst = b.tm_isdst = -1;
		a.tm_mday -= 6 - d;
		b.tm_mday -= 5 - d;
		c.from[d] = (int64_t)mktime(&a);
		c.to[d] = (int64_t)mktime(&b);
		/* mktime normalized `a` to the real calendar day. */
		if (strftime(out[d].date, sizeof(out[d].date), "%Y-%m-%d",
			     &a) == 0)
			out[d].date[0] = '\0';
	}
	return gc__store_run(s, "recent task counts", GC__OP_IDEMPOTENT,
			     recent_op, &c, err);
}

/* ------------------------------------------------------------ cleanup */

typedef struct delete_ctx {
	int64_t project_id;
	const char *task_id;
	int64_t before;
	int64_t affected;
} delete_ctx;

static int delete_op(gc__tx *t, void *vctx, gc_error *err)
{
	delete_ctx *c = vctx;
	gc__buf where = GC__BUF_INIT, sql = GC__BUF_INIT;
	gc__dbparam p[4];
	size_t np = 0;
	int rc = 0;
	if (gc__buf_puts(&where, "1 = 1"))
		goto nomem;
	if (c->project_id) {
		p[np++] = gc__pint(c->project_id);
		if (gc__buf_puts(&where, " AND project_id = ?"))
			goto nomem;
	}
	if (c->task_id && *c->task_id) {
		p[np++] = gc__ptext(c->task_id);
		if (gc__buf_puts(&where, " AND task_id = ?"))
			goto nomem;
	}
	if (c->before) {
		p[np++] = gc__pint(c->before);
		if (gc__buf_puts(&where, " AND start_time < ?"))
			goto nomem;
	}
	p[np++] = gc__pint(DELETE_CHUNK);
	/* MySQL has DELETE ... LIMIT; SQLite (as Debian builds it) does
	 * not, but takes a rowid subquery with LIMIT. */
	if (t->s->backend == GC_STORE_MYSQL
		    ? gc__buf_printf(&sql,
				     "DELETE FROM gc_task_log WHERE %s LIMIT ?",
				     where.data)
		    : gc__buf_printf(&sql,
				     "DELETE FROM gc_task_log WHERE id IN"
				     " (SELECT id FROM gc_task_log WHERE %s"
				     " LIMIT ?)",
				     where.data))
		goto nomem;
	rc = gc__tx_exec(t, sql.data, p, np, NULL, &c->affected, NULL, err);
	goto out;
nomem:
	rc = gc__seterr(err, GC_ENOMEM, "out of memory");
out:
	gc__buf_free(&where);
	gc__buf_free(&sql);
	return rc;
}

static int delete_chunked(gc_store *s, const char *what, delete_ctx *c,
			  int64_t *deleted, bool check_stop, gc_error *err)
{
	int64_t total = 0;
	int rc;
	for (;;) {
		c->affected = 0;
		rc = gc__store_run(s, what, GC__OP_WRITE | GC__OP_IDEMPOTENT,
				   delete_op, c, err);
		if (rc)
			break;
		total += c->affected;
		if (c->affected < DELETE_CHUNK)
			break;
		if (check_stop && gc__store_stopping(s))
			break;
	}
	if (deleted)
		*deleted = total;
	return rc;
}

int gc_store_log_delete(int64_t *deleted, gc_store *s, int64_t project_id,
			const char *task_id, int64_t before, gc_error *err)
{
	if (deleted)
		*deleted = 0;
	if (!s)
		return gc__seterr(err, GC_EINVAL, "delete task logs: NULL store");
	if (!project_id && !(task_id && *task_id) && !before)
		return gc__seterr(err, GC_EINVAL,
				  "delete task logs: no condition (project, "
				  "task or time) given");
	delete_ctx c = {project_id, task_id, before, 0};
	return delete_chunked(s, "delete task logs", &c, deleted, false, err);
}

int gc__store_log_retention(gc_store *s, int days, int64_t *deleted,
			    bool check_stop, gc_error *err)
{
	if (deleted)
		*deleted = 0;
	if (days <= 0)
		return 0;
	delete_ctx c = {0, NULL, (int64_t)time(NULL) - (int64_t)days * 86400,
			0};
	return delete_chunked(s, "log retention", &c, deleted, check_stop,
			      err);
}

int gc_store_log_retention(int64_t *deleted, gc_store *s, int days,
			   gc_error *err)
{
	if (deleted)
		*deleted = 0;
	if (!s)
		return gc__seterr(err, GC_EINVAL, "log retention: NULL store");
	return gc__store_log_retention(s, days > 0 ? days : s->retention_days,
				       deleted, false, err);
}
