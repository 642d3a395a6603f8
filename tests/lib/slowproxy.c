/* Starting and steering tests/lib/slowproxy.py (see slowproxy.h). */
#include "slowproxy.h"

#include "harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int write_file(const char *path, const char *text)
{
	char tmp[600];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "we");
	if (!f)
		return -1;
	fputs(text ? text : "", f);
	if (fclose(f))
		return -1;
	return rename(tmp, path);
}

static int accepts(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {0};
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

int gct_proxy_start(gct_proxy *p, const char *upstream, const char *settings)
{
	const char *src = getenv("GC_SRC");
	char script[512], port[16], errlog[600];
	memset(p, 0, sizeof(*p));
	if (!strncmp(upstream, "http://", 7))
		upstream += 7;
	snprintf(script, sizeof(script), "%s/tests/lib/slowproxy.py",
		 src ? src : ".");
	p->dir = gct_tmpdir("slowproxy");
	if (!p->dir)
		return -1;
	snprintf(p->log, sizeof(p->log), "%s/requests.log", p->dir);
	snprintf(p->control, sizeof(p->control), "%s/control", p->dir);
	snprintf(errlog, sizeof(errlog), "%s/proxy.out", p->dir);
	if (write_file(p->control, settings))
		return -1;
	p->port = gct_free_port();
	snprintf(port, sizeof(port), "%d", p->port);
	snprintf(p->endpoint, sizeof(p->endpoint), "http://127.0.0.1:%d",
		 p->port);
	char *argv[] = {(char *)"python3", script,    (char *)"--listen",
			port,		   (char *)"--upstream", (char *)upstream,
			(char *)"--log",   p->log,    (char *)"--control",
			p->control,	   NULL};
	p->pid = gct_spawn(argv, errlog);
	for (int i = 0; p->pid > 0 && i < 200; i++) {
		if (accepts(p->port))
			return 0;
		gct_sleep_ms(50);
	}
	fprintf(stderr, "slowproxy did not start (see %s)\n", errlog);
	return -1;
}

int gct_proxy_set(gct_proxy *p, const char *settings)
{
	return write_file(p->control, settings);
}

const char *gct_proxy_endpoint(const gct_proxy *p)
{
	return p->endpoint;
}

const char *gct_proxy_log(const gct_proxy *p)
{
	return p->log;
}

void gct_proxy_stop(gct_proxy *p)
{
	if (p->pid > 0) {
		kill(p->pid, SIGKILL);
		waitpid(p->pid, NULL, 0);
		p->pid = 0;
	}
	if (p->dir) {
		gct_rmrf(p->dir);
		free(p->dir);
		p->dir = NULL;
	}
}
