/* Loading a configuration: read the file, parse it into a fresh struct
 * with the defaults, check what spans several keys, then swap it into the
 * caller's struct, which a failure leaves untouched. */
#include "config_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CFG_MAX_FILE		 (1024 * 1024) /* config files are a few hundred bytes */
#define CFG_PUBLISHED_JWT_SECRET "fjskfjls2ifeew2mn"

/* ------------------------------------------------------------ secrets */

/* Append ", what" to the list when `v` is set. */
static void add_secret(char *list, size_t cap, const char *v, const char *what)
{
	size_t n = strlen(list);
	if (v && *v)
		snprintf(list + n, cap - n, "%s%s", n ? ", " : "", what);
}

/* A file that holds secrets should not be readable by every local user:
 * warn (it still loads) when its mode lets others read or write it.
 * `secrets` lists the settings found, for the message. mode 0: not a file
 * (loaded from a string). */
static void warn_if_readable(const gc__cfg_ctx *c, unsigned mode,
			     const char *secrets)
{
	if (!mode || !*secrets || !(mode & (S_IROTH | S_IWOTH)))
		return;
	gc__log(c->log, c->payload, GC_LOG_WARNING,
		"%s holds secrets (%s) but its mode %04o lets other users "
		"%s it: chmod 640 %s (and give it to the group the daemon "
		"runs as)",
		c->name, secrets, mode & 07777,
		(mode & S_IWOTH) ? "read and change" : "read", c->name);
}

/* The [jwt] secret: unset or empty (a random one per start), or at least
 * GC__JWT_SECRET_MIN bytes. Anyone who guesses it forges tokens. */
static int check_jwt_secret(gc__cfg_ctx *c, const char *secret)
{
	size_t n = secret ? strlen(secret) : 0;
	int line = gc__cfg_setting_line(c, "jwt", "secret");
	if (n == 0 || n >= GC__JWT_SECRET_MIN)
		return 0;
	if (strcmp(secret, CFG_PUBLISHED_JWT_SECRET) == 0)
		return gc__cfg_fail(c, line, "jwt", "secret",
				    "the value published in GopherCron's "
				    "README: anyone can forge login tokens "
				    "with it; set a random one of at least %d "
				    "bytes, e.g. `head -c 32 /dev/urandom | "
				    "base64`",
				    GC__JWT_SECRET_MIN);
	return gc__cfg_fail(c, line, "jwt", "secret",
			    "too short (%zu bytes, at least %d): a short "
			    "secret can be guessed and login tokens forged "
			    "with it; set a random one, e.g. `head -c 32 "
			    "/dev/urandom | base64`, or leave it empty for a "
			    "random secret per start",
			    n, GC__JWT_SECRET_MIN);
}

/* ------------------------------------------------------------ checks */

/* Checks across keys once the whole file is read; `secrets` gets the
 * secret settings found (for warn_if_readable). */
typedef int (*check_fn)(gc__cfg_ctx *c, void *cfg, char *secrets, size_t cap);

static int agent_check(gc__cfg_ctx *c, void *p, char *secrets, size_t cap)
{
	gc_agent_config *cfg = p;
	int rc = gc__cfg_etcd_finish(c, &cfg->etcd);
	if (rc < 0)
		return rc;
	if (access(cfg->shell, X_OK) != 0)
		gc__log(c->log, c->payload, GC_LOG_WARNING,
			"%s: shell \"%s\" is not executable here", c->name,
			cfg->shell);
	add_secret(secrets, cap, cfg->report_token, "report_token");
	add_secret(secrets, cap, cfg->etcd.password, "[etcd] password");
	add_secret(secrets, cap, cfg->mysql.password, "[mysql] password");
	return 0;
}

static int service_check(gc__cfg_ctx *c, void *p, char *secrets, size_t cap)
{
	gc_service_config *cfg = p;
	int rc = gc__cfg_etcd_finish(c, &cfg->etcd);
	if (rc == 0)
		rc = check_jwt_secret(c, cfg->jwt.secret);
	if (rc < 0)
		return rc;
	add_secret(secrets, cap, cfg->jwt.secret, "[jwt] secret");
	add_secret(secrets, cap, cfg->report.token, "[report] token");
	add_secret(secrets, cap, cfg->etcd.password, "[etcd] password");
	add_secret(secrets, cap, cfg->mysql.password, "[mysql] password");
	return 0;
}

/* ------------------------------------------------------------ loading */

/* Parse `text` into a fresh struct of kind `k` (defaults first), check it,
 * and on success move it into `cfg`. `mode`: of the file, 0 for a
 * string. */
static int load_text(const gc__cfg_kind *k, check_fn check, void *cfg,
		     const char *text, size_t len, const char *name,
		     unsigned mode, gc_log_fn log, void *payload, gc_error *err)
{
	char secrets[128] = "";
	gc__cfg_any tmp;
	gc__cfg_ctx c;
	size_t size;
	int rc;
	if (!cfg || !text)
		return gc__seterr(err, GC_EINVAL, "config: NULL argument");
	size = gc__cfg_version_size(k, *(const unsigned *)cfg);
	if (!size)
		return gc__seterr(err, GC_EINVAL,
				  "config: %s version %u is newer than this "
				  "library's (%u)",
				  k->type, *(const unsigned *)cfg, k->version);
	memset(&c, 0, sizeof(c));
	c.name = name ? name : "<string>";
	c.text = text;
	c.len = len;
	c.schema = k->schema;
	c.cfg = &tmp;
	c.log = log;
	c.payload = payload;
	if (k->init(&tmp) < 0)
		rc = gc__cfg_nomem(&c);
	else if ((rc = gc__cfg_parse(&c)) == 0)
		rc = check(&c, &tmp, secrets, sizeof(secrets));
	if (rc < 0) {
		k->release(&tmp);
		if (err)
			*err = c.err;
		return rc;
	}
	warn_if_readable(&c, mode, secrets);
	gc__cfg_move(k, cfg, size, &tmp);
	return 0;
}

/* Read a whole config file (bounded, following symlinks; a pipe too) and
 * load it; *mode of the very file read. */
static int load_file(const gc__cfg_kind *k, check_fn check, void *cfg,
		     const char *path, gc_log_fn log, void *payload,
		     gc_error *err)
{
	char *text;
	size_t len;
	unsigned mode;
	int rc;
	if (!path)
		return gc__seterr(err, GC_EINVAL, "config: NULL path");
	if (gc__read_file_ex(AT_FDCWD, path, GC__READ_FOLLOW | GC__READ_STREAMS,
			     CFG_MAX_FILE, &text, &len, &mode) < 0) {
		int e = errno;
		if (e == EFBIG)
			return gc__seterr(err, GC_ETOOBIG,
					  "%s: larger than %d bytes", path,
					  CFG_MAX_FILE);
		if (e == ENOMEM)
			return gc__seterr(err, GC_ENOMEM, "%s: out of memory",
					  path);
		if (e == EISDIR || e == EIO)
			return gc__seterr_errno(err, GC_EIO, e,
						"%s: read failed", path);
		return gc__seterr_errno(err,
					e == ENOENT ? GC_ENOTFOUND : GC_ESYS, e,
					"%s: cannot open", path);
	}
	rc = load_text(k, check, cfg, text, len, path, mode, log, payload, err);
	gc__secret_free(text); /* it holds the secrets in clear */
	return rc;
}

GC_EXTERN int gc_agent_config_load_string(gc_agent_config *cfg,
					  const char *text, const char *name,
					  gc_log_fn log, void *payload,
					  gc_error *err)
{
	return load_text(&gc__cfg_agent_kind, agent_check, cfg, text,
			 text ? strlen(text) : 0, name, 0, log, payload, err);
}

GC_EXTERN int gc_agent_config_load(gc_agent_config *cfg, const char *path,
				   gc_log_fn log, void *payload, gc_error *err)
{
	return load_file(&gc__cfg_agent_kind, agent_check, cfg, path, log,
			 payload, err);
}

GC_EXTERN int gc_service_config_load_string(gc_service_config *cfg,
					    const char *text, const char *name,
					    gc_log_fn log, void *payload,
					    gc_error *err)
{
	return load_text(&gc__cfg_service_kind, service_check, cfg, text,
			 text ? strlen(text) : 0, name, 0, log, payload, err);
}

GC_EXTERN int gc_service_config_load(gc_service_config *cfg, const char *path,
				     gc_log_fn log, void *payload,
				     gc_error *err)
{
	return load_file(&gc__cfg_service_kind, service_check, cfg, path, log,
			 payload, err);
}
