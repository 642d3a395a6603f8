/* Test harness: throwaway etcd-server members and MariaDB servers on free
 * loopback ports in temp dirs. Children die with the test process
 * (PR_SET_PDEATHSIG), so nothing is left running even when a test crashes. */
#ifndef GC_TEST_HARNESS_H
#define GC_TEST_HARNESS_H

#include <stdbool.h>

#define GCT_MAX_MEMBERS 5

typedef struct gct_etcd gct_etcd;

/* Start `members` etcd members (1 or 3) and wait until healthy. Extra
 * command-line flags for every member may be given (NULL-terminated), e.g.
 * "--auth-token-ttl=5". Returns 0 or -1 (message on stderr). */
int gct_etcd_start(gct_etcd **out, int members, const char *const *extra);
/* "http://127.0.0.1:P1,http://127.0.0.1:P2,..." */
const char *gct_etcd_endpoints(const gct_etcd *e);
const char *gct_etcd_endpoint(const gct_etcd *e, int i); /* one member */
int gct_etcd_members(const gct_etcd *e);
int gct_etcd_pid(const gct_etcd *e, int i);
/* Send a signal to member i (SIGKILL, SIGTERM, SIGSTOP, SIGCONT); after a
 * fatal one the member is reaped. */
int gct_etcd_signal(gct_etcd *e, int i, int sig);
/* Start member i again with its data dir (after a kill). */
int gct_etcd_restart(gct_etcd *e, int i);
/* Wait until member i answers /health with true (or timeout). */
int gct_etcd_wait_healthy(const gct_etcd *e, int i, int timeout_ms);
/* Index of the current leader, or -1. */
int gct_etcd_leader(const gct_etcd *e);
void gct_etcd_stop(gct_etcd *e);

typedef struct gct_mariadb gct_mariadb;
int gct_mariadb_start(gct_mariadb **out);
const char *gct_mariadb_host(const gct_mariadb *m); /* "127.0.0.1" */
int gct_mariadb_port(const gct_mariadb *m);
/* user "gc", password "gcpass", database "gophercron" (all privileges) */
int gct_mariadb_pid(const gct_mariadb *m);
int gct_mariadb_restart(gct_mariadb *m); /* SIGKILL then start again */
/* Run SQL as root through the mariadb client (for test set-up). */
int gct_mariadb_sql(const gct_mariadb *m, const char *sql);
void gct_mariadb_stop(gct_mariadb *m);

/* Helpers. */
int gct_free_port(void);
char *gct_tmpdir(const char *tag); /* mkdtemp under $TMPDIR; free() it */
void gct_rmrf(const char *path);
/* HTTP GET on loopback with curl; returns malloc'd body or NULL. */
char *gct_http_get(const char *url, long *status);
/* Spawn argv with PDEATHSIG, stdout+stderr to `logfile` (may be NULL);
 * returns pid or -1. */
int gct_spawn(char *const argv[], const char *logfile);
void gct_sleep_ms(int ms);

#endif
