/* The route table: method, path and access of every route (paths as the
 * original's). What a route does, its parameters and its handler, is an
 * endpoint defined next to the handler (routes_*.c, ingest.c, metrics.c).
 * One method per path. */
#include "svc.h"

#define AUTH GC__R_AUTH
#define ADMIN (GC__R_AUTH | GC__R_ADMIN)

const gc__route gc__routes[] = {
    {"GET", "/api/v1/version", 0, &gc__ep_version},
    {"POST", "/api/v1/user/login", 0, &gc__ep_user_login},
    {"GET", "/api/v1/user/info", AUTH, &gc__ep_user_info},
    {"POST", "/api/v1/user/change_password", AUTH,
     &gc__ep_user_change_password},
    {"POST", "/api/v1/user/create", ADMIN, &gc__ep_user_create},
    {"POST", "/api/v1/user/delete", ADMIN, &gc__ep_user_delete},
    {"POST", "/api/v1/user/reset_password", ADMIN, &gc__ep_user_reset_password},
    {"GET", "/api/v1/user/list", ADMIN, &gc__ep_user_list},
    {"POST", "/api/v1/project/create", AUTH, &gc__ep_project_create},
    {"GET", "/api/v1/project/list", AUTH, &gc__ep_project_list},
    {"POST", "/api/v1/project/update", AUTH, &gc__ep_project_update},
    {"POST", "/api/v1/project/delete", AUTH, &gc__ep_project_delete},
    {"GET", "/api/v1/project/users", AUTH, &gc__ep_project_users},
    {"POST", "/api/v1/project/add_user", AUTH, &gc__ep_project_add_user},
    {"POST", "/api/v1/project/remove_user", AUTH, &gc__ep_project_remove_user},
    {"POST", "/api/v1/crontab/save", AUTH, &gc__ep_task_save},
    {"POST", "/api/v1/crontab/delete", AUTH, &gc__ep_task_delete},
    {"GET", "/api/v1/crontab/list", AUTH, &gc__ep_task_list},
    {"POST", "/api/v1/crontab/kill", AUTH, &gc__ep_task_kill},
    {"POST", "/api/v1/crontab/execute", AUTH, &gc__ep_task_execute},
    {"GET", "/api/v1/crontab/client_list", AUTH, &gc__ep_task_client_list},
    {"POST", "/api/v1/crontab/monitor", AUTH, &gc__ep_task_monitor},
    {"GET", "/api/v1/crontab/next", AUTH, &gc__ep_cron_next},
    {"GET", "/api/v1/client/list", AUTH, &gc__ep_client_list},
    {"POST", "/api/v1/client/reload/config", AUTH, &gc__ep_client_reload},
    {"GET", "/api/v1/log/list", AUTH, &gc__ep_log_list},
    {"GET", "/api/v1/log/detail", AUTH, &gc__ep_log_detail},
    {"POST", "/api/v1/log/clean", AUTH, &gc__ep_log_clean},
    {"GET", "/api/v1/log/recent", AUTH, &gc__ep_log_recent},
    {"POST", "/api/v1/report", GC__R_RAW, &gc__ep_report},
    {"GET", "/metrics", 0, &gc__ep_metrics},
};

const size_t gc__n_routes = GC__ARRAY_LEN(gc__routes);
