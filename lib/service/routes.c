/* The route table: method, path, access, parameters (names as the
 * original's), handler. One method per path. */
#include "svc.h"

#include <stdint.h>

#define REQ GC__ARG_REQ
/* Ids stay within +-2^53, which every JSON reader (the admin page's
 * JavaScript included) holds exactly: a larger one is refused, never
 * rounded. */
#define ID_MAX (INT64_C(1) << 53)
#define STR(name, flags, maxlen) {name, GC__ARG_STR, flags, 0, maxlen}
#define INT(name, flags, lo, hi) {name, GC__ARG_INT, flags, lo, hi}
#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Field limits: the original's column sizes where it had them. */
#define ACCOUNT_MAX 100
#define NAME_MAX_ 100
#define PASSWORD_MAX 256
#define TITLE_MAX 100
#define REMARK_MAX 255
#define COMMAND_MAX 65536
#define CRON_MAX 256
#define IP_MAX 64

static const gc__argspec a_login[] = {
	STR("account", REQ, ACCOUNT_MAX),
	STR("password", REQ, PASSWORD_MAX),
};
static const gc__argspec a_change_pw[] = {
	STR("password", REQ, PASSWORD_MAX),
	STR("new_password", REQ, PASSWORD_MAX),
};
static const gc__argspec a_user_create[] = {
	STR("name", REQ, NAME_MAX_),
	STR("password", REQ, PASSWORD_MAX),
	STR("account", REQ, ACCOUNT_MAX),
	STR("permission", 0, 100),
};
static const gc__argspec a_user_delete[] = {
	INT("id", REQ, 1, ID_MAX),
};
static const gc__argspec a_reset_pw[] = {
	INT("id", REQ, 1, ID_MAX),
	STR("new_password", REQ, PASSWORD_MAX),
};
static const gc__argspec a_page[] = {
	INT("page", 0, 1, 1000000),
	INT("pagesize", 0, 1, 1000),
};
static const gc__argspec a_project_create[] = {
	STR("title", REQ, TITLE_MAX),
	STR("remark", 0, REMARK_MAX),
};
static const gc__argspec a_project_update[] = {
	INT("project_id", REQ, 1, ID_MAX),
	STR("title", REQ, TITLE_MAX),
	STR("remark", 0, REMARK_MAX),
};
static const gc__argspec a_project[] = {
	INT("project_id", REQ, 1, ID_MAX),
};
static const gc__argspec a_add_user[] = {
	INT("project_id", REQ, 1, ID_MAX),
	STR("user_account", REQ, ACCOUNT_MAX),
};
static const gc__argspec a_remove_user[] = {
	INT("project_id", REQ, 1, ID_MAX),
	INT("user_id", REQ, 1, ID_MAX),
};
static const gc__argspec a_task_save[] = {
	INT("project_id", REQ, 1, ID_MAX),
	STR("task_id", 0, GC_TASK_ID_MAX),
	STR("name", REQ, NAME_MAX_),
	STR("command", REQ, COMMAND_MAX),
	STR("cron", REQ, CRON_MAX),
	STR("remark", 0, REMARK_MAX),
	INT("timeout", 0, 0, 31 * 86400),
	INT("status", 0, 0, 1),
	INT("noseize", 0, 0, 1),
	INT("exclusion", 0, 0, 1),
};
static const gc__argspec a_task[] = {
	INT("project_id", REQ, 1, ID_MAX),
	STR("task_id", REQ, GC_TASK_ID_MAX),
};
static const gc__argspec a_monitor[] = {
	STR("project_ids", 0, 4096),
};
static const gc__argspec a_cron_next[] = {
	STR("cron", REQ, CRON_MAX),
	INT("n", 0, 1, 100),
	INT("from", 0, 0, 4102444800LL),
};
static const gc__argspec a_reload[] = {
	INT("project_id", REQ, 1, ID_MAX),
	STR("client_ip", REQ, IP_MAX),
};
static const gc__argspec a_log_list[] = {
	INT("project_id", 0, 1, ID_MAX),
	STR("task_id", 0, GC_TASK_ID_MAX),
	INT("page", 0, 1, 1000000),
	INT("pagesize", 0, 1, 1000),
	INT("errors_only", 0, 0, 1),
};
static const gc__argspec a_log_clean[] = {
	INT("project_id", REQ, 1, ID_MAX),
	STR("task_id", 0, GC_TASK_ID_MAX),
};
static const gc__argspec a_log_recent[] = {
	INT("project_id", 0, 1, ID_MAX),
};

#define AUTH GC__R_AUTH
#define ADMIN (GC__R_AUTH | GC__R_ADMIN)
#define R(m, p, f, a, fn) {m, p, f, a, N(a), fn}
#define R0(m, p, f, fn) {m, p, f, NULL, 0, fn}

const gc__route gc__routes[] = {
	R0("GET", "/api/v1/version", 0, gc__h_version),
	R("POST", "/api/v1/user/login", 0, a_login, gc__h_user_login),
	R0("GET", "/api/v1/user/info", AUTH, gc__h_user_info),
	R("POST", "/api/v1/user/change_password", AUTH, a_change_pw,
	  gc__h_user_change_password),
	R("POST", "/api/v1/user/create", ADMIN, a_user_create,
	  gc__h_user_create),
	R("POST", "/api/v1/user/delete", ADMIN, a_user_delete,
	  gc__h_user_delete),
	R("POST", "/api/v1/user/reset_password", ADMIN, a_reset_pw,
	  gc__h_user_reset_password),
	R("GET", "/api/v1/user/list", ADMIN, a_page, gc__h_user_list),
	R("POST", "/api/v1/project/create", AUTH, a_project_create,
	  gc__h_project_create),
	R0("GET", "/api/v1/project/list", AUTH, gc__h_project_list),
	R("POST", "/api/v1/project/update", AUTH, a_project_update,
	  gc__h_project_update),
	R("POST", "/api/v1/project/delete", AUTH, a_project,
	  gc__h_project_delete),
	R("GET", "/api/v1/project/users", AUTH, a_project,
	  gc__h_project_users),
	R("POST", "/api/v1/project/add_user", AUTH, a_add_user,
	  gc__h_project_add_user),
	R("POST", "/api/v1/project/remove_user", AUTH, a_remove_user,
	  gc__h_project_remove_user),
	R("POST", "/api/v1/crontab/save", AUTH, a_task_save, gc__h_task_save),
	R("POST", "/api/v1/crontab/delete", AUTH, a_task, gc__h_task_delete),
	R("GET", "/api/v1/crontab/list", AUTH, a_project, gc__h_task_list),
	R("POST", "/api/v1/crontab/kill", AUTH, a_task, gc__h_task_kill),
	R("POST", "/api/v1/crontab/execute", AUTH, a_task,
	  gc__h_task_execute),
	R("GET", "/api/v1/crontab/client_list", AUTH, a_project,
	  gc__h_task_client_list),
	R("POST", "/api/v1/crontab/monitor", AUTH, a_monitor,
	  gc__h_task_monitor),
	R("GET", "/api/v1/crontab/next", AUTH, a_cron_next, gc__h_cron_next),
	R0("GET", "/api/v1/client/list", AUTH, gc__h_client_list),
	R("POST", "/api/v1/client/reload/config", AUTH, a_reload,
	  gc__h_client_reload),
	R("GET", "/api/v1/log/list", AUTH, a_log_list, gc__h_log_list),
	R("POST", "/api/v1/log/clean", AUTH, a_log_clean, gc__h_log_clean),
	R("GET", "/api/v1/log/recent", AUTH, a_log_recent, gc__h_log_recent),
	R0("POST", "/api/v1/report", GC__R_RAW, gc__h_report),
	R0("GET", "/metrics", 0, gc__h_metrics),
};

const size_t gc__n_routes = N(gc__routes);
