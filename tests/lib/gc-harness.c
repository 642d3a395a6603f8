/* gc-harness: run a command with throwaway servers.
 *   gc-harness [--etcd N] [--mariadb] -- CMD [ARG...]
 * Exports to CMD:
 *   GC_TEST_ETCD_ENDPOINTS  comma-separated client URLs
 *   GC_TEST_ETCD_PIDS       comma-separated member pids
 *   GC_TEST_MYSQL_HOST, GC_TEST_MYSQL_PORT, GC_TEST_MYSQL_USER,
 *   GC_TEST_MYSQL_PASSWORD, GC_TEST_MYSQL_DB, GC_TEST_MYSQL_PID
 * Stops everything when CMD ends (or the harness dies) and exits with CMD's
 * status. */
#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: gc-harness [--etcd N] [--mariadb] -- CMD [ARG...]\n");
}

int main(int argc, char **argv)
{
	int members = 0, mysql = 0, i, st = 0;
	gct_etcd *e = NULL;
	gct_mariadb *m = NULL;
	pid_t pid;
	char buf[256];

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--etcd") && i + 1 < argc) {
			members = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--mariadb")) {
			mysql = 1;
		} else if (!strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--")) {
			i++;
			break;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (members > 0) {
		char pids[128] = "";
		if (gct_etcd_start(&e, members, NULL)) {
			fprintf(stderr, "gc-harness: etcd did not start\n");
			return 1;
		}
		setenv("GC_TEST_ETCD_ENDPOINTS", gct_etcd_endpoints(e), 1);
		for (int k = 0; k < members; k++) {
			size_t n = strlen(pids);
			snprintf(pids + n, sizeof(pids) - n, "%s%d",
				 k ? "," : "", gct_etcd_pid(e, k));
		}
		setenv("GC_TEST_ETCD_PIDS", pids, 1);
	}
	if (mysql) {
		if (gct_mariadb_start(&m)) {
			fprintf(stderr, "gc-harness: mariadb did not start\n");
			gct_etcd_stop(e);
			return 1;
		}
		setenv("GC_TEST_MYSQL_HOST", gct_mariadb_host(m), 1);
		snprintf(buf, sizeof(buf), "%d", gct_mariadb_port(m));
		setenv("GC_TEST_MYSQL_PORT", buf, 1);
		setenv("GC_TEST_MYSQL_USER", "gc", 1);
		setenv("GC_TEST_MYSQL_PASSWORD", "gcpass", 1);
		setenv("GC_TEST_MYSQL_DB", "gophercron", 1);
		snprintf(buf, sizeof(buf), "%d", gct_mariadb_pid(m));
		setenv("GC_TEST_MYSQL_PID", buf, 1);
	}
	pid = fork();
	if (pid == 0) {
		execvp(argv[i], argv + i);
		perror(argv[i]);
		_exit(127);
	}
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	if (pid > 0)
		waitpid(pid, &st, 0);
	gct_mariadb_stop(m);
	gct_etcd_stop(e);
	if (pid < 0)
		return 1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
