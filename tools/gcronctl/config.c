/* gcronctl: the config file (see config.h). */
#include "config.h"

#include "tool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONFIG_MAX (1 << 20) /* a config file is small; refuse junk */

static char *dup_str(const char *s)
{
	return s ? strdup(s) : NULL;
}

static char *join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s = malloc(la + lb + 1);
	if (s) {
		memcpy(s, a, la);
		memcpy(s + la, b, lb + 1);
	}
	return s;
}

static char *trim(char *s)
{
	char *e;
	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static int paths(ctl_config *c)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	/* The XDG spec says relative values are to be ignored. */
	if (xdg && xdg[0] == '/') {
		c->dir = join(xdg, "/gophercron");
	} else if (home && home[0] == '/') {
		c->dir = join(home, "/.config/gophercron");
	} else {
		tool_err("gcronctl", "cannot find the config directory: set "
				     "HOME or XDG_CONFIG_HOME");
		return -1;
	}
	c->path = c->dir ? join(c->dir, "/config") : NULL;
	if (!c->path) {
		tool_err("gcronctl", "out of memory");
		return -1;
	}
	return 0;
}

void ctl_config_clear(ctl_config *c)
{
	for (size_t i = 0; i < c->ncreds; i++) {
		free(c->creds[i].server);
		free(c->creds[i].account);
		if (c->creds[i].token) {
			explicit_bzero(c->creds[i].token,
				       strlen(c->creds[i].token));
			free(c->creds[i].token);
		}
	}
	free(c->creds);
	free(c->server);
	free(c->path);
	free(c->dir);
	memset(c, 0, sizeof(*c));
}

static ctl_cred *cred_slot(ctl_config *c, const char *server)
{
	ctl_cred *n;
	for (size_t i = 0; i < c->ncreds; i++)
		if (strcmp(c->creds[i].server, server) == 0)
			return &c->creds[i];
	n = realloc(c->creds, (c->ncreds + 1) * sizeof(*n));
	if (!n)
		return NULL;
	c->creds = n;
	n = &c->creds[c->ncreds];
	memset(n, 0, sizeof(*n));
	n->server = dup_str(server);
	if (!n->server)
		return NULL;
	c->ncreds++;
	return n;
}

static int parse(ctl_config *c, char *text)
{
	ctl_cred *sect = NULL;
	unsigned long lineno = 0;
	char *line = text, *next;

	for (; line; line = next) {
		char *eq, *key, *val, **dst;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		line = trim(line);
		if (*line == '\0' || *line == '#')
			continue;
		if (*line == '[') {
			size_t len = strlen(line);
			if (len < 3 || line[len - 1] != ']')
				goto bad;
			line[len - 1] = '\0';
			sect = cred_slot(c, trim(line + 1));
			if (!sect)
				goto oom;
			continue;
		}
		eq = strchr(line, '=');
		if (!eq)
			goto bad;
		*eq = '\0';
		key = trim(line);
		val = trim(eq + 1);
		if (!sect && strcmp(key, "server") == 0)
			dst = &c->server;
		else if (sect && strcmp(key, "account") == 0)
			dst = &sect->account;
		else if (sect && strcmp(key, "token") == 0)
			dst = &sect->token;
		else
			continue; /* unknown keys: written by a newer gcronctl
				   */
		free(*dst);
		*dst = dup_str(val);
		if (!*dst)
			goto oom;
	}
	return 0;
bad:
	tool_err("gcronctl", "%s:%lu: expected KEY = VALUE or [SERVER]",
		 c->path, lineno);
	return -1;
oom:
	tool_err("gcronctl", "out of memory");
	return -1;
}

int ctl_config_load(ctl_config *c)
{
	struct stat st;
	char *text;
	ssize_t n;
	size_t got = 0;
	int fd, rc;

	memset(c, 0, sizeof(*c));
	if (paths(c) != 0)
		return -1;
	fd = open(c->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		tool_err("gcronctl", "cannot read %s: %s", c->path,
			 strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || st.st_size > CONFIG_MAX) {
		close(fd);
		tool_err("gcronctl", "%s: not a gcronctl config file (too big)",
			 c->path);
		return -1;
	}
	if (st.st_mode & 077)
		tool_err("gcronctl",
			 "warning: %s holds tokens but others may read it "
			 "(chmod 600 it)",
			 c->path);
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		close(fd);
		tool_err("gcronctl", "out of memory");
		return -1;
	}
	while (got < (size_t)st.st_size &&
	       ((n = read(fd, text + got, (size_t)st.st_size - got)) > 0 ||
		(n < 0 && errno == EINTR)))
		if (n > 0)
			got += (size_t)n;
	close(fd);
	text[got] = '\0';
	rc = parse(c, text);
	explicit_bzero(text, got);
	free(text);
	return rc;
}

/* mkdir -p with mode 0700 for what we create. */
static int make_dirs(const char *dir)
{
	char *p = strdup(dir);
	int rc = 0;
	if (!p)
		return -1;
	for (char *s = p + 1; rc == 0; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char save = *s;
		*s = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST)
			rc = -1;
		*s = save;
		if (save == '\0')
			break;
	}
	free(p);
	return rc;
}

static int write_all(int fd, const char *s, size_t len)
{
	while (len) {
		ssize_t n = write(fd, s, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

static int put(int fd, const char *a, const char *b, const char *c)
{
	return write_all(fd, a, strlen(a)) || write_all(fd, b, strlen(b)) ||
	       write_all(fd, c, strlen(c));
}

int ctl_config_save(const ctl_config *c)
{
	char *tmp;
	int fd, rc = 0;

	if (make_dirs(c->dir) != 0) {
		tool_err("gcronctl", "cannot create %s: %s", c->dir,
			 strerror(errno));
		return -1;
	}
	tmp = join(c->path, ".tmp");
	if (!tmp) {
		tool_err("gcronctl", "out of memory");
		return -1;
	}
	unlink(tmp); /* a stale one from a crash */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	if (fd < 0) {
		tool_err("gcronctl", "cannot write %s: %s", tmp,
			 strerror(errno));
		free(tmp);
		return -1;
	}
	rc |= put(fd,
		  "# written by gcronctl login; holds tokens: keep it "
		  "private (mode 0600)\n",
		  "", "");
	if (c->server)
		rc |= put(fd, "server = ", c->server, "\n");
	for (size_t i = 0; i < c->ncreds; i++) {
		const ctl_cred *k = &c->creds[i];
		if (!k->token)
			continue;
		rc |= put(fd, "\n[", k->server, "]\n");
		if (k->account)
			rc |= put(fd, "account = ", k->account, "\n");
		rc |= put(fd, "token = ", k->token, "\n");
	}
	if (rc == 0 && fsync(fd) != 0)
		rc = -1;
	if (close(fd) != 0)
		rc = -1;
	if (rc == 0 && rename(tmp, c->path) != 0)
		rc = -1;
	if (rc) {
		tool_err("gcronctl", "cannot write %s: %s", c->path,
			 strerror(errno));
		unlink(tmp);
	}
	free(tmp);
	return rc ? -1 : 0;
}

const ctl_cred *ctl_config_cred(const ctl_config *c, const char *server)
{
	for (size_t i = 0; i < c->ncreds; i++)
		if (strcmp(c->creds[i].server, server) == 0 &&
		    c->creds[i].token)
			return &c->creds[i];
	return NULL;
}

int ctl_config_set_cred(ctl_config *c, const char *server, const char *account,
			const char *token)
{
	ctl_cred *k = cred_slot(c, server);
	char *a = dup_str(account), *t = dup_str(token);
	if (!k || (account && !a) || !t) {
		free(a);
		free(t);
		return -1;
	}
	free(k->account);
	if (k->token) {
		explicit_bzero(k->token, strlen(k->token));
		free(k->token);
	}
	k->account = a;
	k->token = t;
	return 0;
}

bool ctl_config_remove_cred(ctl_config *c, const char *server)
{
	for (size_t i = 0; i < c->ncreds; i++) {
		ctl_cred *k = &c->creds[i];
		if (strcmp(k->server, server) != 0)
			continue;
		bool had = k->token != NULL;
		free(k->server);
		free(k->account);
		if (k->token) {
			explicit_bzero(k->token, strlen(k->token));
			free(k->token);
		}
		memmove(k, k + 1, (c->ncreds - i - 1) * sizeof(*k));
		c->ncreds--;
		return had;
	}
	return false;
}

int ctl_config_set_server(ctl_config *c, const char *server)
{
	char *s = dup_str(server);
	if (!s)
		return -1;
	free(c->server);
	c->server = s;
	return 0;
}
