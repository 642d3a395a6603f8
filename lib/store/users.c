/* Users: accounts, crypt(3) passwords, the default admin, legacy md5
 * rehash on login. */
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define USER_COLS "id, account, name, permission, create_time, token_gen"
#define DEFAULT_ADMIN_ACCOUNT "admin"
#define DEFAULT_ADMIN_PASSWORD "123456"

void gc_store_user_clear(gc_store_user *u)
{
	if (!u)
		return;
	free(u->account);
	free(u->name);
	free(u->permission);
	memset(u, 0, sizeof(*u));
}

void gc_store_users_clear(gc_store_users *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->count; i++)
		gc_store_user_clear(&l->items[i]);
	free(l->items);
	memset(l, 0, sizeof(*l));
}

/* Row (USER_COLS starting at column `c0`) into a record. */
static int user_from_row(gc__dbrows *r, size_t row, size_t c0,
			 gc_store_user *u, gc_error *err)
{
	memset(u, 0, sizeof(*u));
	u->id = gc__dbrows_int(r, row, c0);
	u->account = gc__dbrows_take(r, row, c0 + 1);
	u->name = gc__dbrows_take(r, row, c0 + 2);
	u->permission = gc__dbrows_take(r, row, c0 + 3);
	u->create_time = gc__dbrows_int(r, row, c0 + 4);
	u->token_gen = gc__dbrows_int(r, row, c0 + 5);
	if (!u->account || !u->name || !u->permission) {
		gc_store_user_clear(u);
		return gc__seterr(err, GC_ENOMEM, "out of memory");
	}
	return 0;
}

int gc__store_users_from_rows(gc__dbrows *r, gc_store_users *out,
			      gc_error *err)
{
	out->count = 0;
	out->items = r->nrows ? calloc(r->nrows, sizeof(*out->items)) : NULL;
	if (r->nrows && !out->items)
		return gc__seterr(err, GC_ENOMEM, "out of memory");
	for (size_t i = 0; i < r->nrows; i++) {
		int rc = user_from_row(r, i, 0, &out->items[i], err);
		if (rc)
			return rc;
		out->count++;
	}
	return 0;
}

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

/* ------------------------------------------------------------- create */

typedef struct create_ctx {
	const char *account, *name, *permission, *hash;
	int64_t id;
	bool only_if_empty; /* default admin: only into an empty table */
	bool created;
} create_ctx;

static int create_op(gc__tx *t, void *vctx, gc_error *err)
{
	create_ctx *c = vctx;
	gc__dbrows r = {0};
	int rc;
	if (c->only_if_empty) {
		rc = gc__tx_exec(t, "SELECT COUNT(*) FROM gc_user", NULL, 0,
				 &r, NULL, NULL, err);
		int64_t n = r.nrows ? gc__dbrows_int(&r, 0, 0) : 0;
		gc__dbrows_free(&r);
		if (rc || n > 0)
			return rc;
	}
	gc__dbparam a = gc__ptext(c->account);
	rc = gc__tx_exec(t, "SELECT id FROM gc_user WHERE account = ?", &a, 1,
			 &r, NULL, NULL, err);
	size_t found = r.nrows;
	gc__dbrows_free(&r);
	if (rc)
		return rc;
	if (found)
		return gc__seterr(err, GC_ECONFLICT,
				  "account \"%.64s\" already exists",
				  c->account);
	gc__dbparam p[] = {gc__ptext(c->name),	   gc__ptext(c->permission),
			   gc__ptext(c->account), gc__ptext(c->hash),
			   gc__pint(now_s())};
	rc = gc__tx_exec(t,
			 "INSERT INTO gc_user (name, permission, account,"
			 " password, salt, create_time)"
			 " VALUES (?, ?, ?, ?, '', ?)",
			 p, GC__ARRAY_LEN(p), NULL, NULL, &c->id, err);
	if (rc == 0)
		c->created = true;
	return rc;
}

int gc_store_user_create(int64_t *id_out, gc_store *s, const char *account,
			 const char *name, const char *password,
			 const char *permission, gc_error *err)
{
	if (!s || !account || !*account)
		return gc__seterr(err, GC_EINVAL, "create user: empty account");
	if (!password || !*password)
		return gc__seterr(err, GC_EINVAL,
				  "create user: empty password");
	char *hash = NULL;
	/* Hash before taking any lock: it is the slow part on purpose. */
	int rc = gc__store_hash_password(s, password, &hash, err);
	if (rc) {
		gc__err_prefix(err, "%s: create user", s->desc);
		return rc;
	}
	create_ctx c = {account, name ? name : account,
			permission ? permission : "user", hash, 0, false,
			false};
	rc = gc__store_run(s, "create user",
			   GC__OP_WRITE | GC__OP_TX | GC__OP_LOCKED, create_op,
			   &c, err);
	free(hash);
	if (rc == 0 && id_out)
		*id_out = c.id;
	return rc;
}

int gc__store_ensure_admin(gc_store *s, gc_error *err)
{
	char *hash = NULL;
	int rc = gc__store_hash_password(s, DEFAULT_ADMIN_PASSWORD, &hash, err);
	if (rc)
		return rc;
	create_ctx c = {DEFAULT_ADMIN_ACCOUNT, "administrator", "admin,user",
			hash, 0, true, false};
	rc = gc__store_run(s, "create default admin",
			   GC__OP_WRITE | GC__OP_TX | GC__OP_LOCKED, create_op,
			   &c, err);
	free(hash);
	if (rc == 0 && c.created) {
		s->created_default_admin = 1;
		gc__log(s->log, s->log_payload, GC_LOG_WARNING,
			"store %s: created user \"" DEFAULT_ADMIN_ACCOUNT
			"\" with the default password; change it now",
			s->desc);
	}
	return rc;
}

/* ---------------------------------------------------------------- get */

typedef struct get_ctx {
	int64_t id;
	const char *account;
	gc_store_user *out;
	/* for verify */
	char *hash, *salt;
} get_ctx;

static int get_op(gc__tx *t, void *vctx, gc_error *err)
{
	get_ctx *c = vctx;
	gc__dbrows r = {0};
	free(c->hash);
	free(c->salt);
	c->hash = c->salt = NULL;
	gc__dbparam p = c->account ? gc__ptext(c->account) : gc__pint(c->id);
	int rc = gc__tx_exec(t,
			     c->account ? "SELECT " USER_COLS ", password, salt"
					  " FROM gc_user WHERE account = ?"
					: "SELECT " USER_COLS ", password, salt"
					  " FROM gc_user WHERE id = ?",
			     &p, 1, &r, NULL, NULL, err);
	if (rc == 0 && r.nrows == 0) {
		if (c->account)
			rc = gc__seterr(err, GC_ENOTFOUND,
					"no user with account \"%.64s\"",
					c->account);
		else
			rc = gc__seterr(err, GC_ENOTFOUND, "no user with id %lld",
					(long long)c->id);
	}
	if (rc == 0) {
		c->hash = gc__dbrows_take(&r, 0, 6);
		c->salt = gc__dbrows_take(&r, 0, 7);
		if (!c->hash || !c->salt)
			rc = gc__seterr(err, GC_ENOMEM, "out of memory");
	}
	if (rc == 0 && c->out)
		rc = user_from_row(&r, 0, 0, c->out, err);
	gc__dbrows_free(&r);
	return rc;
}

static void get_ctx_clear(get_ctx *c)
{
	free(c->hash);
	free(c->salt);
	c->hash = c->salt = NULL;
}

int gc_store_user_get(gc_store_user *out, gc_store *s, int64_t id, gc_error *err)
{
	if (!s || !out)
		return gc__seterr(err, GC_EINVAL, "get user: NULL argument");
	memset(out, 0, sizeof(*out));
	get_ctx c = {id, NULL, out, NULL, NULL};
	int rc = gc__store_run(s, "get user", GC__OP_IDEMPOTENT, get_op, &c,
			       err);
	get_ctx_clear(&c);
	return rc;
}

int gc_store_user_get_by_account(gc_store_user *out, gc_store *s,
				 const char *account, gc_error *err)
{
	if (!s || !out || !account)
		return gc__seterr(err, GC_EINVAL, "get user: NULL argument");
	memset(out, 0, sizeof(*out));
	get_ctx c = {0, account, out, NULL, NULL};
	int rc = gc__store_run(s, "get user", GC__OP_IDEMPOTENT, get_op, &c,
			       err);
	get_ctx_clear(&c);
	return rc;
}

/* --------------------------------------------------------------- list */

typedef struct list_ctx {
	int64_t limit, offset;
	gc_store_users *out;
} list_ctx;

static int list_op(gc__tx *t, void *vctx, gc_error *err)
{
	list_ctx *c = vctx;
	gc__dbrows r = {0};
	gc__dbparam p[] = {gc__pint(c->limit), gc__pint(c->offset)};
	gc_store_users_clear(c->out);
	int rc = gc__tx_exec(t,
			     "SELECT " USER_COLS " FROM gc_user"
			     " ORDER BY id LIMIT ? OFFSET ?",
			     p, 2, &r, NULL, NULL, err);
	if (rc == 0)
		rc = gc__store_users_from_rows(&r, c->out, err);
	gc__dbrows_free(&r);
	if (rc == 0)
		rc = gc__tx_exec(t, "SELECT COUNT(*) FROM gc_user", NULL, 0,
				 &r, NULL, NULL, err);
	if (rc == 0)
		c->out->total = r.nrows ? gc__dbrows_int(&r, 0, 0) : 0;
	gc__dbrows_free(&r);
	return rc;
}

int gc_store_user_list(gc_store_users *out, gc_store *s, int page,
		       int page_size, gc_error *err)
{
	if (!s || !out)
		return gc__seterr(err, GC_EINVAL, "list users: NULL argument");
	memset(out, 0, sizeof(*out));
	list_ctx c = {0, 0, out};
	if (gc__store_page(page, page_size, &c.limit, &c.offset))
		return gc__seterr(err, GC_EINVAL,
				  "list users: negative page (%d) or page size "
				  "(%d)",
				  page, page_size);
	int rc = gc__store_run(s, "list users", GC__OP_IDEMPOTENT, list_op, &c,
			       err);
	if (rc)
		gc_store_users_clear(out);
	return rc;
}

/* ------------------------------------------------------ update/delete */

typedef struct update_ctx {
	int64_t id;
	const char *name, *permission;
	const char *new_hash, *old_hash; /* password change */
	bool revoke; /* with new_hash: bump token_gen (tokens issued so far
			stop working) */
} update_ctx;

static int update_op(gc__tx *t, void *vctx, gc_error *err)
{
	update_ctx *c = vctx;
	gc__dbparam p[4];
	int64_t n = 0;
	int rc;
	if (c->new_hash) {
		p[0] = gc__ptext(c->new_hash);
		p[1] = gc__pint(c->id);
		p[2] = gc__ptext(c->old_hash);
		rc = gc__tx_exec(t,
				 c->revoke ? "UPDATE gc_user SET password = ?,"
					     " salt = '',"
					     " token_gen = token_gen + 1"
					     " WHERE id = ? AND password = ?"
					   : "UPDATE gc_user SET password = ?,"
					     " salt = '' WHERE id = ?"
					     " AND password = ?",
				 p, 3, NULL, &n, NULL, err);
	} else {
		gc__dbparam none = {GC__P_NULL, 0, NULL, 0};
		p[0] = c->name ? gc__ptext(c->name) : none;
		p[1] = c->permission ? gc__ptext(c->permission) : none;
		p[2] = gc__pint(c->id);
		rc = gc__tx_exec(t,
				 "UPDATE gc_user SET name = COALESCE(?, name),"
				 " permission = COALESCE(?, permission)"
				 " WHERE id = ?",
				 p, 3, NULL, &n, NULL, err);
	}
	if (rc || n > 0)
		return rc;
	/* MySQL counts changed rows only: tell "same values" from
	 * "no such user". */
	gc__dbrows r = {0};
	rc = gc__tx_get_row(&r, t, "SELECT id FROM gc_user WHERE id = ?", c->id,
			    "user", err);
	gc__dbrows_free(&r);
	if (rc)
		return rc;
	if (c->new_hash)
		return gc__seterr(err, GC_ECONFLICT,
				  "password of user %lld changed meanwhile",
				  (long long)c->id);
	return 0;
}

int gc_store_user_update(gc_store *s, int64_t id, const char *name,
			 const char *permission, gc_error *err)
{
	if (!s)
		return gc__seterr(err, GC_EINVAL, "update user: NULL store");
	update_ctx c = {id, name, permission, NULL, NULL, false};
	return gc__store_run(s, "update user",
			     GC__OP_WRITE | GC__OP_TX | GC__OP_IDEMPOTENT,
			     update_op, &c, err);
}

static int delete_op(gc__tx *t, void *vctx, gc_error *err)
{
	int64_t id = *(int64_t *)vctx, n = 0;
	gc__dbparam p = gc__pint(id);
	int rc = gc__tx_exec(t, "DELETE FROM gc_project_relevance WHERE uid = ?",
			     &p, 1, NULL, NULL, NULL, err);
	if (rc == 0)
		rc = gc__tx_exec(t, "DELETE FROM gc_user WHERE id = ?", &p, 1,
				 NULL, &n, NULL, err);
	if (rc == 0 && n == 0)
		rc = gc__seterr(err, GC_ENOTFOUND, "no user with id %lld",
				(long long)id);
	return rc;
}

int gc_store_user_delete(gc_store *s, int64_t id, gc_error *err)
{
	if (!s)
		return gc__seterr(err, GC_EINVAL, "delete user: NULL store");
	/* Not retried after a lost connection: a retry of a delete that
	 * did commit would answer "not found". */
	return gc__store_run(s, "delete user",
			     GC__OP_WRITE | GC__OP_TX | GC__OP_LOCKED,
			     delete_op, &id, err);
}

/* ---------------------------------------------------------- passwords */

int gc_store_user_password_change(gc_store *s, int64_t id,
				  const char *old_password,
				  const char *new_password, gc_error *err)
{
	if (!s || !new_password || !*new_password)
		return gc__seterr(err, GC_EINVAL,
				  "change password: empty new password");
	get_ctx g = {id, NULL, NULL, NULL, NULL};
	int rc = gc__store_run(s, "change password", GC__OP_IDEMPOTENT,
			       get_op, &g, err);
	if (rc)
		return rc;
	if (old_password &&
	    !gc__store_check_password(old_password, g.hash, g.salt)) {
		get_ctx_clear(&g);
		return gc__seterr(err, GC_EAUTH,
				  "%s: change password: wrong password for "
				  "user %lld",
				  s->desc, (long long)id);
	}
	char *hash = NULL;
	rc = gc__store_hash_password(s, new_password, &hash, err);
	if (rc)
		gc__err_prefix(err, "%s: change password", s->desc);
	if (rc == 0) {
		update_ctx c = {id, NULL, NULL, hash, g.hash, true};
		/* Compare-and-set on the old hash: not retried (a retry
		 * after a commit would see its own change as a conflict). */
		rc = gc__store_run(s, "change password",
				   GC__OP_WRITE | GC__OP_TX, update_op, &c,
				   err);
	}
	free(hash);
	get_ctx_clear(&g);
	return rc;
}

int gc_store_user_verify(gc_store_user *out, gc_store *s, const char *account,
			 const char *password, gc_error *err)
{
	gc_store_user local;
	if (!s || !account || !password)
		return gc__seterr(err, GC_EINVAL, "verify: NULL argument");
	if (!out)
		out = &local;
	memset(out, 0, sizeof(*out));
	get_ctx g = {0, account, out, NULL, NULL};
	int rc = gc__store_run(s, "verify password", GC__OP_IDEMPOTENT,
			       get_op, &g, err);
	if (rc == GC_ENOTFOUND)
		/* As slow as a wrong password: the answer's timing must not
		 * tell which accounts exist. */
		(void)gc__store_check_password(password, s->dummy_hash, NULL);
	if (rc)
		goto done;
	if (!gc__store_check_password(password, g.hash, g.salt)) {
		rc = gc__seterr(err, GC_EAUTH,
				"%s: verify password: wrong password for "
				"account \"%.64s\"",
				s->desc, account);
		goto done;
	}
	if (g.hash[0] != '$') {
		/* Legacy md5(password + salt): replace it now that we know
		 * the password. Only if nobody changed it meanwhile. */
		char *hash = NULL;
		rc = gc__store_hash_password(s, password, &hash, err);
		if (rc == 0) {
			update_ctx c = {out->id, NULL, NULL, hash, g.hash,
					false};
			rc = gc__store_run(s, "rehash legacy password",
					   GC__OP_WRITE | GC__OP_TX, update_op,
					   &c, err);
			free(hash);
		}
		if (rc == 0)
			gc__log(s->log, s->log_payload, GC_LOG_NOTICE,
				"store %s: user %lld: legacy md5 password "
				"replaced with a crypt(3) hash",
				s->desc, (long long)out->id);
	}
done:
	get_ctx_clear(&g);
	if (rc || out == &local)
		gc_store_user_clear(out);
	return rc;
}

/* Whether (hash, salt) is the default password's: a hash costs tens of
 * milliseconds and the admin page asks on every page load, so the answer
 * for the stored hash is kept until the hash changes. */
static int default_password_check(gc_store *s, const char *hash,
				  const char *salt)
{
	char *key = gc__sprintf("%s\n%s", salt ? salt : "", hash ? hash : "");
	int in_use;
	if (!key)
		return gc__store_check_password(DEFAULT_ADMIN_PASSWORD, hash,
						salt);
	pthread_mutex_lock(&s->default_mu);
	if (s->default_checked && strcmp(s->default_checked, key) == 0) {
		in_use = s->default_in_use;
		pthread_mutex_unlock(&s->default_mu);
		free(key);
		return in_use;
	}
	pthread_mutex_unlock(&s->default_mu);
	in_use = gc__store_check_password(DEFAULT_ADMIN_PASSWORD, hash, salt);
	pthread_mutex_lock(&s->default_mu);
	free(s->default_checked);
	s->default_checked = key;
	s->default_in_use = in_use;
	pthread_mutex_unlock(&s->default_mu);
	return in_use;
}

int gc_store_default_password_in_use(int *in_use, gc_store *s, gc_error *err)
{
	if (!s || !in_use)
		return gc__seterr(err, GC_EINVAL,
				  "default password check: NULL argument");
	*in_use = 0;
	get_ctx g = {0, DEFAULT_ADMIN_ACCOUNT, NULL, NULL, NULL};
	int rc = gc__store_run(s, "default password check", GC__OP_IDEMPOTENT,
			       get_op, &g, err);
	if (rc == GC_ENOTFOUND)
		return 0;
	if (rc == 0)
		*in_use = default_password_check(s, g.hash, g.salt);
	get_ctx_clear(&g);
	return rc;
}
