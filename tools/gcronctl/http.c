/* gcronctl: REST client for gcron-service (see http.h). */
#include "http.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define RESPONSE_MAX	  (64L << 20) /* bigger answers are refused */
#define DEFAULT_TIMEOUT_S 30
#define CONNECT_TIMEOUT_S 10

/* ------------------------------------------------------------- set-up */

char *ctl_normalize_server(const char *cmd, const char *url)
{
	const char *sep = strstr(url, "://");
	size_t len;
	char *s;

	if (sep && strncmp(url, "http://", 7) != 0 &&
	    strncmp(url, "https://", 8) != 0) {
		tool_err("gcronctl",
			 "%s: server URL \"%s\": only http:// and https:// "
			 "are supported",
			 cmd, url);
		return NULL;
	}
	if (!*url || (sep && sep[3] == '\0') || strpbrk(url, " \t\r\n")) {
		tool_err("gcronctl", "%s: server URL \"%s\" is malformed", cmd,
			 url);
		return NULL;
	}
	len = strlen(url);
	while (len && url[len - 1] == '/')
		len--;
	/* A bare host:port means plain http, like curl. */
	s = malloc(len + 8);
	if (!s)
		return NULL;
	snprintf(s, len + 8, "%s%.*s", sep ? "" : "http://", (int)len, url);
	return s;
}

int ctl_client_init(ctl_client *c, const ctl_globals *g, const char *cmd)
{
	const char *server = g->server, *env_token = getenv("GCRON_TOKEN");
	const char *t = getenv("GCRON_TIMEOUT");
	const ctl_cred *cred;
	long long v;

	memset(c, 0, sizeof(*c));
	c->cmd = cmd;
	c->timeout_s = DEFAULT_TIMEOUT_S;
	if (t && *t) {
		if (!tool_parse_long(t, &v) || v < 1 || v > 3600) {
			tool_err("gcronctl",
				 "GCRON_TIMEOUT \"%s\" is not a "
				 "number of seconds (1-3600)",
				 t);
			return CTL_USAGE;
		}
		c->timeout_s = (long)v;
	}
	if (ctl_config_load(&c->config) != 0)
		return CTL_USAGE;
	if (!server || !*server)
		server = c->config.server;
	if (!server || !*server) {
		tool_err("gcronctl",
			 "%s: no server: give -s URL, set GCRON_SERVER, or "
			 "run gcronctl -s URL login",
			 cmd);
		return CTL_USAGE;
	}
	c->server = ctl_normalize_server(cmd, server);
	if (!c->server)
		return CTL_USAGE;
	if (env_token && *env_token) {
		c->token = strdup(env_token);
	} else if ((cred = ctl_config_cred(&c->config, c->server))) {
		c->token = strdup(cred->token);
		if (cred->account)
			c->account = strdup(cred->account);
	}
	return CTL_OK;
}

void ctl_client_cleanup(ctl_client *c)
{
	if (c->curl) {
		curl_easy_cleanup(c->curl);
		curl_global_cleanup();
	}
	free(c->server);
	if (c->token) {
		explicit_bzero(c->token, strlen(c->token));
		free(c->token);
	}
	free(c->account);
	ctl_config_clear(&c->config);
	memset(c, 0, sizeof(*c));
}

/* ------------------------------------------------------------ calls */

/* Error messages of a call, unless the caller asked for quiet. */
#define call_err(c, ...)                                                       \
	do {                                                                   \
		if (!(c)->quiet)                                               \
			tool_err("gcronctl", __VA_ARGS__);                     \
	} while (0)

struct body {
	char *data;
	size_t len, cap;
	bool too_big;
};

static int append(struct body *b, const char *p, size_t len)
{
	if (b->len + len > (size_t)RESPONSE_MAX) {
		b->too_big = true;
		return -1;
	}
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *d;
		while (cap < b->len + len + 1)
			cap *= 2;
		d = realloc(b->data, cap);
		if (!d)
			return -1;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	return append(arg, p, size * n) == 0 ? size * n : 0;
}

/* Append k=v&... (URL-encoded) to *s. */
static int encode_params(CURL *curl, const ctl_param *params, struct body *s)
{
	bool first = true;
	for (const ctl_param *p = params; p && p->key; p++) {
		char *k, *v;
		if (!p->value)
			continue;
		k = curl_easy_escape(curl, p->key, 0);
		v = curl_easy_escape(curl, p->value, 0);
		if (!k || !v || (!first && append(s, "&", 1)) ||
		    append(s, k, strlen(k)) || append(s, "=", 1) ||
		    append(s, v, strlen(v))) {
			curl_free(k);
			curl_free(v);
			return -1;
		}
		curl_free(k);
		curl_free(v);
		first = false;
	}
	if (!s->data) { /* make it a string even when empty */
		s->data = calloc(1, 1);
		if (!s->data)
			return -1;
		s->cap = 1;
	}
	return 0;
}

static bool is_envelope(const cJSON *root)
{
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "meta");
	return cJSON_IsObject(meta) &&
	       cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(meta, "code"));
}

static int refused(ctl_client *c, long status, const cJSON *root)
{
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "meta");
	int code = (int)ctl_num(meta, "code");
	const char *msg = ctl_str(meta, "msg");

	if (code == 401 || (code == 0 && status == 401)) {
		if (!c->token)
			call_err(c,
				 "%s: not logged in to %s: run gcronctl "
				 "login",
				 c->cmd, c->server);
		else
			call_err(c,
				 "%s: token expired or invalid: run gcronctl "
				 "login (%s said: %s)",
				 c->cmd, c->server, *msg ? msg : "401");
		return CTL_REFUSED;
	}
	if (*msg)
		call_err(c, "%s: %s", c->cmd, msg);
	else
		call_err(c,
			 "%s: %s refused the request (HTTP %ld, "
			 "code %d)",
			 c->cmd, c->server, status, code);
	/* the service cannot reach what it needs (etcd): unreachable too */
	return code == 503 || status == 503 ? CTL_UNREACHABLE : CTL_REFUSED;
}

int ctl_call(ctl_client *c, const char *method, const char *path,
	     const ctl_param *params, cJSON **response)
{
	struct body q = {0}, resp = {0};
	struct curl_slist *hdrs = NULL;
	char errbuf[CURL_ERROR_SIZE] = "", *url = NULL, *tok_hdr = NULL;
	bool post = strcmp(method, "POST") == 0;
	cJSON *root = NULL;
	long status = 0;
	CURLcode cc;
	int rc;

	if (response)
		*response = NULL;
	if (!c->curl) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		c->curl = curl_easy_init();
		if (!c->curl) {
			call_err(c, "%s: cannot start libcurl", c->cmd);
			return CTL_UNREACHABLE;
		}
	}
	CURL *curl = c->curl;
	curl_easy_reset(curl);
	if (encode_params(curl, params, &q) != 0)
		goto oom;
	{
		size_t n = strlen(c->server) + strlen(path) + q.len + 16;
		url = malloc(n);
		if (!url)
			goto oom;
		snprintf(url, n, "%s/api/v1/%s%s%s", c->server, path,
			 !post && q.len ? "?" : "", !post ? q.data : "");
	}
	if (c->token) {
		size_t n = strlen(c->token) + 16;
		tok_hdr = malloc(n);
		if (!tok_hdr)
			goto oom;
		snprintf(tok_hdr, n, "access-token: %s", c->token);
		hdrs = curl_slist_append(hdrs, tok_hdr);
	}
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	if (post)
		hdrs = curl_slist_append(
		    hdrs, "Content-Type: application/x-www-form-urlencoded");
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "gcronctl");
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &resp);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, c->timeout_s);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT,
			 c->timeout_s < CONNECT_TIMEOUT_S ? c->timeout_s
							  : CONNECT_TIMEOUT_S);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_MAXFILESIZE, RESPONSE_MAX);
	/* No redirects: the token must not follow them elsewhere. */
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	if (post) {
		curl_easy_setopt(curl, CURLOPT_POST, 1L);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, q.data);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)q.len);
	}
	cc = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	if (cc != CURLE_OK) {
		if (resp.too_big || cc == CURLE_FILESIZE_EXCEEDED) {
			call_err(c,
				 "%s: the answer from %s is larger than %ld "
				 "MiB",
				 c->cmd, c->server, RESPONSE_MAX >> 20);
			rc = CTL_REFUSED;
		} else {
			call_err(c, "%s: cannot reach %s: %s", c->cmd,
				 c->server,
				 *errbuf ? errbuf : curl_easy_strerror(cc));
			rc = CTL_UNREACHABLE;
		}
		goto out;
	}
	if (resp.len)
		root = cJSON_ParseWithLengthOpts(resp.data, resp.len, NULL, 0);
	if (!is_envelope(root)) {
		bool gateway = status == 502 || status == 503 || status == 504;
		call_err(c,
			 "%s: %s answered HTTP %ld without the API's JSON "
			 "envelope%s",
			 c->cmd, url, status,
			 gateway ? " (a gateway cannot reach the service)"
				 : " (is it a gcron-service?)");
		rc = gateway ? CTL_UNREACHABLE : CTL_REFUSED;
		goto out;
	}
	if (ctl_num(cJSON_GetObjectItemCaseSensitive(root, "meta"), "code") !=
		0 ||
	    status >= 400) {
		rc = refused(c, status, root);
		goto out;
	}
	if (response) {
		*response =
		    cJSON_DetachItemFromObjectCaseSensitive(root, "response");
		if (!*response)
			*response = cJSON_CreateNull();
	}
	rc = CTL_OK;
	goto out;
oom:
	call_err(c, "%s: out of memory", c->cmd);
	rc = CTL_REFUSED;
out:
	cJSON_Delete(root);
	curl_slist_free_all(hdrs);
	if (tok_hdr) {
		explicit_bzero(tok_hdr, strlen(tok_hdr));
		free(tok_hdr);
	}
	if (q.data) {
		/* Form bodies carry passwords. */
		explicit_bzero(q.data, q.len);
		free(q.data);
	}
	free(resp.data);
	free(url);
	return rc;
}

int ctl_dispatch(const ctl_globals *g, const char *group, const ctl_sub *subs,
		 size_t n, void (*help)(FILE *out), const char *names, int argc,
		 char **argv)
{
	char cmd[64];
	ctl_client c;
	int rc;
	if (argc < 1) {
		help(stderr);
		return CTL_USAGE;
	}
	if (tool_flag(argv[0], "-h", "--help") || !strcmp(argv[0], "help")) {
		help(stdout);
		return CTL_OK;
	}
	for (size_t i = 0; i < n; i++) {
		ctl_globals local = *g;
		char **args;
		int nargs = 0, k;
		if (strcmp(argv[0], subs[i].name) != 0)
			continue;
		for (k = 1; k < argc && strcmp(argv[k], "--"); k++)
			if (tool_flag(argv[k], "-h", "--help")) {
				help(stdout);
				return CTL_OK;
			}
		/* --json may also follow the command, as people type it. */
		args = calloc((size_t)argc + 1, sizeof(*args));
		if (!args) {
			tool_err("gcronctl", "out of memory");
			return CTL_USAGE;
		}
		for (k = 1; k < argc && strcmp(argv[k], "--"); k++) {
			if (strcmp(argv[k], "--json") == 0)
				local.json = true;
			else
				args[nargs++] = argv[k];
		}
		for (; k < argc; k++)
			args[nargs++] = argv[k];
		snprintf(cmd, sizeof(cmd), "%s %s", group, subs[i].name);
		rc = ctl_client_init(&c, &local, cmd);
		if (rc == CTL_OK)
			rc = subs[i].fn(&c, &local, nargs, args);
		ctl_client_cleanup(&c);
		free(args);
		return rc;
	}
	tool_err("gcronctl", "%s: unknown command '%s' (%s)", group, argv[0],
		 names);
	return CTL_USAGE;
}

/* ------------------------------------------------------------ lookups */

int64_t ctl_num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : 0;
}

const char *ctl_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) && v->valuestring ? v->valuestring : "";
}

/* Detach response.list (an array) into *list. */
static int take_list(ctl_client *c, cJSON *resp, cJSON **list)
{
	cJSON *l = cJSON_DetachItemFromObjectCaseSensitive(resp, "list");
	cJSON_Delete(resp);
	if (!cJSON_IsArray(l)) {
		cJSON_Delete(l);
		tool_err("gcronctl", "%s: %s answered without a list", c->cmd,
			 c->server);
		return CTL_REFUSED;
	}
	*list = l;
	return CTL_OK;
}

int ctl_project_list(ctl_client *c, cJSON **list)
{
	cJSON *resp;
	int rc = ctl_call(c, "GET", "project/list", NULL, &resp);
	*list = NULL;
	return rc ? rc : take_list(c, resp, list);
}

int ctl_project_find(ctl_client *c, const char *which, int64_t *pid,
		     cJSON **project)
{
	cJSON *list, *p, *hit = NULL;
	long long id = 0;
	bool numeric = tool_parse_long(which, &id);
	int rc = ctl_project_list(c, &list);
	if (rc)
		return rc;
	/* An id wins over a title that happens to be the same digits. */
	cJSON_ArrayForEach(p, list)
	{
		if (numeric && ctl_num(p, "project_id") == id) {
			hit = p;
			break;
		}
	}
	cJSON_ArrayForEach(p, list)
	{
		if (!hit && strcmp(ctl_str(p, "title"), which) == 0)
			hit = p;
	}
	if (!hit) {
		cJSON_Delete(list);
		tool_err("gcronctl",
			 "%s: no project \"%s\" (gcronctl project ls lists "
			 "the ones you can see)",
			 c->cmd, which);
		return CTL_REFUSED;
	}
	*pid = ctl_num(hit, "project_id");
	if (project)
		*project = cJSON_DetachItemViaPointer(list, hit);
	cJSON_Delete(list);
	return CTL_OK;
}

int ctl_task_list(ctl_client *c, int64_t pid, cJSON **list)
{
	char id[24];
	ctl_param q[] = {{"project_id", id}, {NULL, NULL}};
	cJSON *resp;
	int rc;
	snprintf(id, sizeof(id), "%" PRId64, pid);
	*list = NULL;
	rc = ctl_call(c, "GET", "crontab/list", q, &resp);
	return rc ? rc : take_list(c, resp, list);
}

/* Matches of `job` in one project's task list: an id match alone, else
 * every task of that name. */
static void matches(cJSON *tasks, const char *job, cJSON **hits, size_t *n,
		    size_t cap)
{
	cJSON *t;
	cJSON_ArrayForEach(t, tasks)
	{
		if (strcmp(ctl_str(t, "task_id"), job) == 0) {
			hits[0] = t;
			*n = 1;
			return;
		}
	}
	cJSON_ArrayForEach(t, tasks)
	{
		if (strcmp(ctl_str(t, "name"), job) == 0 && *n < cap)
			hits[(*n)++] = t;
	}
}

#define MAX_HITS 16

static int report_ambiguous(ctl_client *c, const char *job, const char *where,
			    cJSON **hits, size_t n)
{
	char ids[MAX_HITS * 48] = "";
	size_t len = 0;
	for (size_t i = 0; i < n && len < sizeof(ids); i++)
		len += (size_t)snprintf(
		    ids + len, sizeof(ids) - len, "%s%s (project %" PRId64 ")",
		    i ? ", " : "", ctl_str(hits[i], "task_id"),
		    ctl_num(hits[i], "project_id"));
	tool_err("gcronctl",
		 "%s: job name \"%s\" is ambiguous %s: %s; name the job by "
		 "its id",
		 c->cmd, job, where, ids);
	return CTL_REFUSED;
}

int ctl_task_find(ctl_client *c, const char *which, const char *job,
		  int64_t *pid, cJSON **task)
{
	cJSON *hits[MAX_HITS], *tasks = NULL, *projects = NULL, *p;
	cJSON *all = cJSON_CreateArray();
	size_t n = 0;
	int rc = CTL_OK;
	char where[160];

	*task = NULL;
	if (!all)
		return CTL_REFUSED;
	if (which) {
		rc = ctl_project_find(c, which, pid, NULL);
		if (rc == CTL_OK)
			rc = ctl_task_list(c, *pid, &tasks);
		if (rc == CTL_OK) {
			cJSON_AddItemToArray(all, tasks);
			matches(tasks, job, hits, &n, MAX_HITS);
		}
		snprintf(where, sizeof(where), "in project %s", which);
	} else {
		rc = ctl_project_list(c, &projects);
		cJSON_ArrayForEach(p, projects)
		{
			size_t before = n;
			if (rc != CTL_OK)
				break;
			rc = ctl_task_list(c, ctl_num(p, "project_id"), &tasks);
			if (rc != CTL_OK)
				break;
			cJSON_AddItemToArray(all, tasks);
			matches(tasks, job, hits, &n, MAX_HITS);
			/* A task id names one task wherever it is. */
			if (n > before &&
			    strcmp(ctl_str(hits[before], "task_id"), job) ==
				0) {
				hits[0] = hits[before];
				n = 1;
				break;
			}
		}
		snprintf(where, sizeof(where), "across your projects");
	}
	if (rc == CTL_OK && n == 0) {
		if (which)
			tool_err("gcronctl",
				 "%s: no job \"%s\" in project %s (gcronctl "
				 "job ls -p %s lists them)",
				 c->cmd, job, which, which);
		else
			tool_err("gcronctl",
				 "%s: no job \"%s\" in any of your projects "
				 "(gcronctl job ls lists them)",
				 c->cmd, job);
		rc = CTL_REFUSED;
	} else if (rc == CTL_OK && n > 1) {
		rc = report_ambiguous(c, job, where, hits, n);
	} else if (rc == CTL_OK) {
		*pid = ctl_num(hits[0], "project_id");
		*task = cJSON_Duplicate(hits[0], 1);
	}
	cJSON_Delete(all);
	cJSON_Delete(projects);
	return rc;
}
