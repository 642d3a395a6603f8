/* The store options a configuration gives: one policy for the service
 * and for the reporter's SQL sink. */
#include "store_internal.h"

#include <limits.h>

GC_EXTERN int gc_store_options_from_config(gc_store_options *o,
					   const gc_mysql_config *mysql,
					   const char *sqlite_path,
					   const gc_deploy_config *deploy)
{
	if (!o || o->version == 0 || o->version > GC_STORE_OPTIONS_VERSION)
		return GC_EINVAL;
	if (mysql && mysql->service && *mysql->service) {
		o->backend = GC_STORE_MYSQL;
		o->mysql_service = mysql->service;
		o->mysql_username = mysql->username;
		o->mysql_password = mysql->password;
		o->mysql_database = mysql->database;
	} else {
		o->backend = GC_STORE_SQLITE;
		o->sqlite_path = sqlite_path;
	}
	if (deploy && deploy->timeout_s > 0)
		o->connect_timeout_s = deploy->timeout_s < INT_MAX
					       ? (int)deploy->timeout_s
					       : INT_MAX;
	return 0;
}
