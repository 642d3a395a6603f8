/* Test harness implementation: see harness.h. */
#include "harness.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void gct_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

int gct_free_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;
	if (fd < 0)
		return -1;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

char *gct_tmpdir(const char *tag)
{
	const char *base = getenv("TMPDIR");
	char *p;
	if (!base || !*base)
		base = "/tmp";
	p = malloc(strlen(base) + strlen(tag) + 32);
	if (!p)
		return NULL;
	sprintf(p, "%s/gct-%s-XXXXXX", base, tag);
	if (!mkdtemp(p)) {
		free(p);
		return NULL;
	}
	return p;
}

void gct_rmrf(const char *path)
{
	pid_t pid;
	if (!path || !*path)
		return;
	pid = fork();
	if (pid == 0) {
		execlp("rm", "rm", "-rf", path, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

int gct_spawn(char *const argv[], const char *logfile)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd;
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		setpgid(0, 0);
		fd = open(logfile ? logfile : "/dev/null",
			  O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		fd = open("/dev/null", O_RDONLY);
		if (fd >= 0) {
			dup2(fd, 0);
			close(fd);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static size_t collect(char *p, size_t sz, size_t n, void *ud)
{
	char **buf = ud;
	size_t old = *buf ? strlen(*buf) : 0, add = sz * n;
	char *nb = realloc(*buf, old + add + 1);
	if (!nb)
		return 0;
	memcpy(nb + old, p, add);
	nb[old + add] = '\0';
	*buf = nb;
	return add;
}

char *gct_http_get(const char *url, long *status)
{
	CURL *c = curl_easy_init();
	char *body = NULL;
	CURLcode rc;
	if (!c)
		return NULL;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2000L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
	rc = curl_easy_perform(c);
	if (status)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK) {
		free(body);
		return NULL;
	}
	if (!body)
		body = calloc(1, 1);
	return body;
}

/* ------------------------------------------------------------------ etcd */

struct gct_etcd {
	int n;
	char *dir;
	int client_port[GCT_MAX_MEMBERS];
	int peer_port[GCT_MAX_MEMBERS];
	pid_t pid[GCT_MAX_MEMBERS];
	char endpoint[GCT_MAX_MEMBERS][64];
	char endpoints[GCT_MAX_MEMBERS * 64];
	char cluster[GCT_MAX_MEMBERS * 96];
	const char *extra[16];
	bool started_once[GCT_MAX_MEMBERS];
};

static int etcd_spawn(gct_etcd *e, int i)
{
	char name[16], data[512], curl[64], purl[64], log[512];
	char *argv[40];
	int a = 0;
	snprintf(name, sizeof(name), "m%d", i);
	snprintf(data, sizeof(data), "%s/%s.etcd", e->dir, name);
	snprintf(curl, sizeof(curl), "http://127.0.0.1:%d", e->client_port[i]);
	snprintf(purl, sizeof(purl), "http://127.0.0.1:%d", e->peer_port[i]);
	snprintf(log, sizeof(log), "%s/%s.log", e->dir, name);
	argv[a++] = (char *)"etcd";
	argv[a++] = (char *)"--name";
	argv[a++] = name;
	argv[a++] = (char *)"--data-dir";
	argv[a++] = data;
	argv[a++] = (char *)"--listen-client-urls";
	argv[a++] = curl;
	argv[a++] = (char *)"--advertise-client-urls";
	argv[a++] = curl;
	argv[a++] = (char *)"--listen-peer-urls";
	argv[a++] = purl;
	argv[a++] = (char *)"--initial-advertise-peer-urls";
	argv[a++] = purl;
	argv[a++] = (char *)"--initial-cluster";
	argv[a++] = e->cluster;
	argv[a++] = (char *)"--initial-cluster-token";
	argv[a++] = (char *)"gct";
	argv[a++] = (char *)"--initial-cluster-state";
	argv[a++] = (char *)"new";
	argv[a++] = (char *)"--logger=zap";
	argv[a++] = (char *)"--log-level=warn";
	/* Fast elections keep failover tests short. */
	argv[a++] = (char *)"--heartbeat-interval=50";
	argv[a++] = (char *)"--election-timeout=500";
	for (int k = 0; e->extra[k] && a < 38; k++)
		argv[a++] = (char *)e->extra[k];
	argv[a] = NULL;
	e->pid[i] = gct_spawn(argv, log);
	return e->pid[i] > 0 ? 0 : -1;
}

int gct_etcd_wait_healthy(const gct_etcd *e, int i, int timeout_ms)
{
	char url[96];
	int waited = 0;
	snprintf(url, sizeof(url), "%s/health", e->endpoint[i]);
	while (waited < timeout_ms) {
		long st = 0;
		char *b = gct_http_get(url, &st);
		bool ok = b && st == 200 && strstr(b, "\"true\"");
		free(b);
		if (ok)
			return 0;
		gct_sleep_ms(50);
		waited += 50;
	}
	return -1;
}

int gct_etcd_start(gct_etcd **out, int members, const char *const *extra)
{
	gct_etcd *e;
	size_t off = 0, eoff = 0;
	*out = NULL;
	if (members < 1 || members > GCT_MAX_MEMBERS)
		return -1;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -1;
	e->n = members;
	for (int k = 0; extra && extra[k] && k < 15; k++)
		e->extra[k] = extra[k];
	e->dir = gct_tmpdir("etcd");
	if (!e->dir) {
		free(e);
		return -1;
	}
	for (int i = 0; i < members; i++) {
		e->client_port[i] = gct_free_port();
		e->peer_port[i] = gct_free_port();
		snprintf(e->endpoint[i], sizeof(e->endpoint[i]),
			 "http://127.0.0.1:%d", e->client_port[i]);
		off += (size_t)snprintf(e->cluster + off,
					sizeof(e->cluster) - off,
					"%sm%d=http://127.0.0.1:%d",
					i ? "," : "", i, e->peer_port[i]);
		eoff += (size_t)snprintf(e->endpoints + eoff,
					 sizeof(e->endpoints) - eoff, "%s%s",
					 i ? "," : "", e->endpoint[i]);
	}
	for (int i = 0; i < members; i++)
		if (etcd_spawn(e, i)) {
			gct_etcd_stop(e);
			return -1;
		}
	for (int i = 0; i < members; i++)
		if (gct_etcd_wait_healthy(e, i, 30000)) {
			fprintf(stderr, "harness: etcd member %d not healthy "
					"(log in %s)\n", i, e->dir);
			gct_etcd_stop(e);
			return -1;
		}
	*out = e;
	return 0;
}

const char *gct_etcd_endpoints(const gct_etcd *e)
{
	return e->endpoints;
}

const char *gct_etcd_endpoint(const gct_etcd *e, int i)
{
	return (i >= 0 && i < e->n) ? e->endpoint[i] : NULL;
}

int gct_etcd_members(const gct_etcd *e)
{
	return e->n;
}

int gct_etcd_pid(const gct_etcd *e, int i)
{
	return (i >= 0 && i < e->n) ? e->pid[i] : -1;
}

int gct_etcd_signal(gct_etcd *e, int i, int sig)
{
	if (i < 0 || i >= e->n || e->pid[i] <= 0)
		return -1;
	if (kill(e->pid[i], sig))
		return -1;
	if (sig == SIGKILL || sig == SIGTERM || sig == SIGINT) {
		if (sig != SIGKILL) {
			/* give it a moment to exit; then force */
			for (int k = 0; k < 100; k++) {
				if (waitpid(e->pid[i], NULL, WNOHANG) ==
				    e->pid[i]) {
					e->pid[i] = 0;
					return 0;
				}
				gct_sleep_ms(50);
			}
			kill(e->pid[i], SIGKILL);
		}
		waitpid(e->pid[i], NULL, 0);
		e->pid[i] = 0;
	}
	return 0;
}

int gct_etcd_restart(gct_etcd *e, int i)
{
	if (i < 0 || i >= e->n)
		return -1;
	if (e->pid[i] > 0)
		gct_etcd_signal(e, i, SIGKILL);
	/* The member's data dir exists now: "new" state is ignored by etcd for
	 * an initialised member, so the same flags restart it. */
	if (etcd_spawn(e, i))
		return -1;
	return 0;
}

int gct_etcd_leader(const gct_etcd *e)
{
	for (int i = 0; i < e->n; i++) {
		char url[96];
		long st = 0;
		char *b;
		if (e->pid[i] <= 0)
			continue;
		/* etcd_server_is_leader 1 in the member's metrics */
		snprintf(url, sizeof(url), "%s/metrics", e->endpoint[i]);
		b = gct_http_get(url, &st);
		if (b && strstr(b, "\netcd_server_is_leader 1")) {
			free(b);
			return i;
		}
		free(b);
	}
	return -1;
}

void gct_etcd_stop(gct_etcd *e)
{
	if (!e)
		return;
	for (int i = 0; i < e->n; i++)
		if (e->pid[i] > 0) {
			kill(e->pid[i], SIGKILL);
			waitpid(e->pid[i], NULL, 0);
		}
	if (!getenv("GCT_KEEP"))
		gct_rmrf(e->dir);
	free(e->dir);
	free(e);
}

/* --------------------------------------------------------------- mariadb */

struct gct_mariadb {
	char *dir;
	int port;
	pid_t pid;
	char sock[512];
};

static int run_wait(char *const argv[], const char *log)
{
	int st = 0;
	pid_t pid = gct_spawn(argv, log);
	if (pid < 0)
		return -1;
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int mariadb_spawn(gct_mariadb *m)
{
	char datadir[600], port[32], sock[600], log[600], pidf[600];
	snprintf(datadir, sizeof(datadir), "--datadir=%s/data", m->dir);
	snprintf(port, sizeof(port), "--port=%d", m->port);
	snprintf(sock, sizeof(sock), "--socket=%s", m->sock);
	snprintf(pidf, sizeof(pidf), "--pid-file=%s/mariadb.pid", m->dir);
	snprintf(log, sizeof(log), "%s/mariadb.log", m->dir);
	char *argv[] = {(char *)"mariadbd", (char *)"--no-defaults", datadir,
			port, sock, pidf, (char *)"--bind-address=127.0.0.1",
			(char *)"--user=root", (char *)"--skip-log-bin",
			(char *)"--innodb-buffer-pool-size=64M",
			(char *)"--innodb-log-file-size=16M",
			(char *)"--innodb-flush-log-at-trx-commit=2",
			(char *)"--character-set-server=utf8mb4",
			(char *)"--max-allowed-packet=64M", NULL};
	m->pid = gct_spawn(argv, log);
	return m->pid > 0 ? 0 : -1;
}

int gct_mariadb_sql(const gct_mariadb *m, const char *sql)
{
	char sock[600], log[600];
	snprintf(sock, sizeof(sock), "--socket=%s", m->sock);
	snprintf(log, sizeof(log), "%s/client.log", m->dir);
	char *argv[] = {(char *)"mariadb", (char *)"--no-defaults", sock,
			(char *)"-uroot", (char *)"-e", (char *)sql, NULL};
	return run_wait(argv, log);
}

static int mariadb_wait(gct_mariadb *m)
{
	char sock[600], log[600];
	snprintf(sock, sizeof(sock), "--socket=%s", m->sock);
	snprintf(log, sizeof(log), "%s/client.log", m->dir);
	char *argv[] = {(char *)"mariadb-admin", (char *)"--no-defaults", sock,
			(char *)"-uroot", (char *)"ping", NULL};
	for (int i = 0; i < 600; i++) {
		if (run_wait(argv, log) == 0)
			return 0;
		gct_sleep_ms(100);
	}
	return -1;
}

static void print_tail(const char *path)
{
	char line[512];
	FILE *f = fopen(path, "re");
	long n = 0;
	if (!f)
		return;
	/* the last ~20 lines are what explains a failed start */
	while (fgets(line, sizeof(line), f))
		n++;
	rewind(f);
	for (long i = 0; fgets(line, sizeof(line), f); i++)
		if (i >= n - 20)
			fprintf(stderr, "  | %s", line);
	fclose(f);
}

static int mariadb_try_start(gct_mariadb **out)
{
	gct_mariadb *m = calloc(1, sizeof(*m));
	char datadir[600], log[600];
	*out = NULL;
	if (!m)
		return -1;
	m->dir = gct_tmpdir("mariadb");
	if (!m->dir) {
		free(m);
		return -1;
	}
	m->port = gct_free_port();
	snprintf(m->sock, sizeof(m->sock), "%s/mysqld.sock", m->dir);
	snprintf(datadir, sizeof(datadir), "--datadir=%s/data", m->dir);
	snprintf(log, sizeof(log), "%s/install.log", m->dir);
	char *inst[] = {(char *)"mariadb-install-db", (char *)"--no-defaults",
			datadir, (char *)"--user=root",
			(char *)"--auth-root-authentication-method=socket",
			(char *)"--skip-test-db", NULL};
	if (run_wait(inst, log) != 0) {
		fprintf(stderr, "harness: mariadb-install-db failed (%s)\n",
			log);
		print_tail(log);
		goto fail;
	}
	if (mariadb_spawn(m) || mariadb_wait(m)) {
		fprintf(stderr, "harness: mariadbd did not start (%s)\n",
			m->dir);
		snprintf(log, sizeof(log), "%s/mariadb.log", m->dir);
		print_tail(log);
		goto fail;
	}
	if (gct_mariadb_sql(m,
			    "CREATE DATABASE gophercron CHARACTER SET utf8mb4;"
			    "CREATE USER 'gc'@'127.0.0.1' IDENTIFIED BY "
			    "'gcpass';"
			    "CREATE USER 'gc'@'localhost' IDENTIFIED BY "
			    "'gcpass';"
			    "GRANT ALL ON *.* TO 'gc'@'127.0.0.1';"
			    "GRANT ALL ON *.* TO 'gc'@'localhost';") != 0) {
		fprintf(stderr, "harness: mariadb set-up SQL failed\n");
		goto fail;
	}
	*out = m;
	return 0;
fail:
	gct_mariadb_stop(m);
	return -1;
}

int gct_mariadb_start(gct_mariadb **out)
{
	/* A loaded 2-core machine occasionally fails the bootstrap; a fresh
	 * attempt in a new datadir is cheap and keeps suites deterministic. */
	for (int attempt = 1; attempt <= 3; attempt++) {
		if (mariadb_try_start(out) == 0)
			return 0;
		fprintf(stderr, "harness: mariadb start attempt %d failed\n",
			attempt);
	}
	return -1;
}

const char *gct_mariadb_host(const gct_mariadb *m)
{
	(void)m;
	return "127.0.0.1";
}

int gct_mariadb_port(const gct_mariadb *m)
{
	return m->port;
}

int gct_mariadb_pid(const gct_mariadb *m)
{
	return m->pid;
}

int gct_mariadb_restart(gct_mariadb *m)
{
	if (m->pid > 0) {
		kill(m->pid, SIGKILL);
		waitpid(m->pid, NULL, 0);
		m->pid = 0;
	}
	if (mariadb_spawn(m) || mariadb_wait(m))
		return -1;
	return 0;
}

void gct_mariadb_stop(gct_mariadb *m)
{
	if (!m)
		return;
	if (m->pid > 0) {
		kill(m->pid, SIGKILL);
		waitpid(m->pid, NULL, 0);
	}
	if (!getenv("GCT_KEEP"))
		gct_rmrf(m->dir);
	free(m->dir);
	free(m);
}
