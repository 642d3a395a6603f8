/* gcronctl: the config file. $XDG_CONFIG_HOME/gophercron/config (or
 * ~/.config/gophercron/config), mode 0600 in a 0700 directory:
 *
 *   # written by gcronctl login; holds tokens: keep it private
 *   server = http://127.0.0.1:6306
 *
 *   [http://127.0.0.1:6306]
 *   account = admin
 *   token = eyJ...
 *
 * `server` is the default server (the last one logged in to); each section
 * holds the token for one server, so a token is only ever sent to the
 * server that issued it. */
#ifndef GCRONCTL_CONFIG_H
#define GCRONCTL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

typedef struct ctl_cred {
	char *server;
	char *account;
	char *token;
} ctl_cred;

typedef struct ctl_config {
	char *path;   /* the file */
	char *dir;    /* its directory */
	char *server; /* default server, NULL when none */
	ctl_cred *creds;
	size_t ncreds;
} ctl_config;

/* Load the config (a missing file is an empty config). Returns 0, or -1
 * with a message printed (unreadable or malformed file, no home). */
int ctl_config_load(ctl_config *c);
/* Write it atomically (temp file + rename), creating the directory 0700
 * and the file 0600. Returns 0 or -1 with a message printed. */
int ctl_config_save(const ctl_config *c);
void ctl_config_clear(ctl_config *c);

/* The credentials for `server` (already normalised), or NULL. */
const ctl_cred *ctl_config_cred(const ctl_config *c, const char *server);
/* Add or replace the credentials for `server`. 0 or -1 (out of memory). */
int ctl_config_set_cred(ctl_config *c, const char *server, const char *account,
			const char *token);
/* Remove them; true when there were any. */
bool ctl_config_remove_cred(ctl_config *c, const char *server);
int ctl_config_set_server(ctl_config *c, const char *server);

#endif
