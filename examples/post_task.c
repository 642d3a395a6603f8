/* post_task: create a task through gcron-service's REST API with libcurl.
 *
 *   post_task [-s URL] [-u ACCOUNT] --project ID --name NAME --cron EXPR
 *             --command CMD [--timeout SECONDS] [--remark TEXT] [--paused]
 *             [--run]
 *
 *   GCRON_PASSWORD=secret post_task -s http://127.0.0.1:6306 -u admin \
 *       --project 1 --name nightly --cron '0 30 2 * * * *' \
 *       --command '/usr/local/bin/backup.sh' --timeout 3600
 *
 * What it does, in order (README.md, "REST API"):
 *   1. checks the cron expression locally with gc_cron_parse() and prints
 *      the next three fire times (the service checks it again);
 *   2. POST /api/v1/user/login (account, password) -> token;
 *   3. POST /api/v1/crontab/save with the token in the `access-token`
 *      header, form-encoded like the admin page sends it;
 *   4. GET /api/v1/crontab/list to find the new task's id (save answers
 *      null for a new task, as the original does);
 *   5. with --run, POST /api/v1/crontab/execute to run it once now.
 * Every answer is the envelope {"meta":{"code":0,"msg":...},"response":...};
 * a non-zero code is printed with its message.
 *
 * The password comes from $GCRON_PASSWORD (not a flag: flags are visible
 * in ps). Build against an installed library:
 *   cc post_task.c $(pkg-config --cflags --libs libgophercron libcurl \
 *      libcjson) -o post_task
 */
#include <gophercron.h>

#include <cJSON.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_ANSWER (4u << 20) /* bound on what we read from the service */

typedef struct buf {
	char *data;
	size_t len;
	int too_big;
} buf;

static size_t on_data(char *p, size_t size, size_t n, void *payload)
{
	buf *b = payload;
	size_t add = size * n;
	char *bigger;
	if (b->len + add > MAX_ANSWER) {
		b->too_big = 1;
		return 0; /* makes curl fail the transfer */
	}
	if ((bigger = realloc(b->data, b->len + add + 1)) == NULL)
		return 0;
	b->data = bigger;
	memcpy(b->data + b->len, p, add);
	b->len += add;
	b->data[b->len] = '\0';
	return add;
}

/* Append "&key=value" (URL-encoded) to a form body. */
static int form_add(CURL *h, buf *form, const char *key, const char *value)
{
	char *v = curl_easy_escape(h, value, 0);
	size_t need;
	char *bigger;
	if (!v)
		return -1;
	need = form->len + strlen(key) + strlen(v) + 3;
	if ((bigger = realloc(form->data, need)) == NULL) {
		curl_free(v);
		return -1;
	}
	form->data = bigger;
	form->len += (size_t)snprintf(form->data + form->len,
				      need - form->len, "%s%s=%s",
				      form->len ? "&" : "", key, v);
	curl_free(v);
	return 0;
}

/* Call the API; returns the parsed envelope's "response" member (owned by
 * *env, which the caller frees) or NULL after printing what went wrong. */
static cJSON *call(CURL *h, const char *server, const char *route,
		   const char *token, const char *form, cJSON **env)
{
	char url[1024], auth[2048];
	struct curl_slist *hdr = NULL;
	buf answer = {NULL, 0, 0};
	long status = 0;
	CURLcode rc;
	cJSON *meta, *code, *msg;

	*env = NULL;
	snprintf(url, sizeof(url), "%s/api/v1/%s", server, route);
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 30000L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &answer);
	if (token) {
		snprintf(auth, sizeof(auth), "access-token: %s", token);
		hdr = curl_slist_append(hdr, auth);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	}
	if (form) /* POST application/x-www-form-urlencoded */
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, form);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hdr);
	if (rc != CURLE_OK) {
		fprintf(stderr, "post_task: %s: %s\n", url,
			answer.too_big ? "answer too large"
				       : curl_easy_strerror(rc));
		free(answer.data);
		return NULL;
	}
	*env = cJSON_ParseWithLengthOpts(answer.data ? answer.data : "",
					 answer.len, NULL, 0);
	free(answer.data);
	meta = cJSON_GetObjectItemCaseSensitive(*env, "meta");
	code = cJSON_GetObjectItemCaseSensitive(meta, "code");
	msg = cJSON_GetObjectItemCaseSensitive(meta, "msg");
	if (!cJSON_IsNumber(code)) {
		fprintf(stderr, "post_task: %s: HTTP %ld, not a GopherCron "
				"answer\n", url, status);
		cJSON_Delete(*env);
		*env = NULL;
		return NULL;
	}
	if (code->valuedouble != 0) {
		fprintf(stderr, "post_task: %s: code %.0f: %s\n", url,
			code->valuedouble,
			cJSON_IsString(msg) ? msg->valuestring : "");
		cJSON_Delete(*env);
		*env = NULL;
		return NULL;
	}
	return cJSON_GetObjectItemCaseSensitive(*env, "response");
}

static void usage(FILE *f)
{
	fprintf(f, "usage: post_task [-s URL] [-u ACCOUNT] --project ID "
		   "--name NAME --cron EXPR\n"
		   "                 --command CMD [--timeout SECONDS] "
		   "[--remark TEXT] [--paused] [--run]\n"
		   "  -s URL     service (default $GCRON_SERVER, else "
		   "http://127.0.0.1:6306)\n"
		   "  -u ACCOUNT login account (default admin); the password "
		   "is read from $GCRON_PASSWORD\n");
}

int main(int argc, char **argv)
{
	const char *server = getenv("GCRON_SERVER");
	const char *account = "admin", *password = getenv("GCRON_PASSWORD");
	const char *project = NULL, *name = NULL, *cron_expr = NULL;
	const char *command = NULL, *timeout = "0", *remark = "";
	int paused = 0, run = 0, rc = 1;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(a, "--paused") == 0) {
			paused = 1;
			continue;
		} else if (strcmp(a, "--run") == 0) {
			run = 1;
			continue;
		} else if (!v) {
			usage(stderr);
			return 2;
		} else if (strcmp(a, "-s") == 0) {
			server = v;
		} else if (strcmp(a, "-u") == 0) {
			account = v;
		} else if (strcmp(a, "--project") == 0) {
			project = v;
		} else if (strcmp(a, "--name") == 0) {
			name = v;
		} else if (strcmp(a, "--cron") == 0) {
			cron_expr = v;
		} else if (strcmp(a, "--command") == 0) {
			command = v;
		} else if (strcmp(a, "--timeout") == 0) {
			timeout = v;
		} else if (strcmp(a, "--remark") == 0) {
			remark = v;
		} else {
			usage(stderr);
			return 2;
		}
		i++;
	}
	if (!project || !name || !cron_expr || !command) {
		usage(stderr);
		return 2;
	}
	if (!server || !*server)
		server = "http://127.0.0.1:6306";
	if (!password) {
		fprintf(stderr, "post_task: set GCRON_PASSWORD to the password "
				"of \"%s\"\n", account);
		return 2;
	}

	/* 1. The cron expression, checked here first. */
	gc_cron *cron;
	gc_error err;
	int64_t next[3];
	if (gc_cron_parse(&cron, cron_expr, strlen(cron_expr), &err) != 0) {
		fprintf(stderr, "post_task: cron expression: %s\n", err.msg);
		return 1;
	}
	size_t n = gc_cron_next_n(cron, (int64_t)time(NULL), GC_CRON_LOCAL,
				  next, 3);
	gc_cron_free(cron);
	printf("next runs (local time):");
	for (size_t i = 0; i < n; i++) {
		time_t t = (time_t)next[i];
		struct tm tm;
		char text[32];
		localtime_r(&t, &tm);
		strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S", &tm);
		printf("%s %s", i ? "," : "", text);
	}
	printf("\n");

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		return 1;
	CURL *h = curl_easy_init();
	buf form = {NULL, 0, 0};
	cJSON *env = NULL, *resp, *item;
	char *token = NULL, *task_id = NULL;
	if (!h)
		goto out;

	/* 2. Log in. */
	if (form_add(h, &form, "account", account) ||
	    form_add(h, &form, "password", password))
		goto out;
	if (!(resp = call(h, server, "user/login", NULL, form.data, &env)))
		goto out;
	item = cJSON_GetObjectItemCaseSensitive(resp, "token");
	if (!cJSON_IsString(item)) {
		fprintf(stderr, "post_task: login answered no token\n");
		goto out;
	}
	token = strdup(item->valuestring);
	cJSON_Delete(env);
	env = NULL;
	if (!token)
		goto out;

	/* 3. Save the task (no task_id: a new one). */
	free(form.data);
	form = (buf){NULL, 0, 0};
	if (form_add(h, &form, "project_id", project) ||
	    form_add(h, &form, "name", name) ||
	    form_add(h, &form, "cron", cron_expr) ||
	    form_add(h, &form, "command", command) ||
	    form_add(h, &form, "timeout", timeout) ||
	    form_add(h, &form, "remark", remark) ||
	    form_add(h, &form, "status", paused ? "0" : "1"))
		goto out;
	if (!call(h, server, "crontab/save", token, form.data, &env))
		goto out;
	cJSON_Delete(env);
	env = NULL;

	/* 4. Find its id: the newest task of that name. */
	char route[256];
	snprintf(route, sizeof(route), "crontab/list?project_id=%s", project);
	if (!(resp = call(h, server, route, token, NULL, &env)))
		goto out;
	double newest = -1;
	cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(resp, "list"))
	{
		cJSON *nm = cJSON_GetObjectItemCaseSensitive(item, "name");
		cJSON *id = cJSON_GetObjectItemCaseSensitive(item, "task_id");
		cJSON *ct = cJSON_GetObjectItemCaseSensitive(item,
							     "create_time");
		if (cJSON_IsString(nm) && strcmp(nm->valuestring, name) == 0 &&
		    cJSON_IsString(id) && cJSON_IsNumber(ct) &&
		    ct->valuedouble >= newest) {
			newest = ct->valuedouble;
			free(task_id);
			task_id = strdup(id->valuestring);
		}
	}
	cJSON_Delete(env);
	env = NULL;
	if (!task_id) {
		fprintf(stderr, "post_task: saved, but task \"%s\" is not in "
				"the list of project %s\n", name, project);
		goto out;
	}
	printf("task %s saved in project %s (%s)\n", task_id, project,
	       paused ? "paused" : "scheduled");

	/* 5. Optionally run it once now. */
	if (run) {
		free(form.data);
		form = (buf){NULL, 0, 0};
		if (form_add(h, &form, "project_id", project) ||
		    form_add(h, &form, "task_id", task_id))
			goto out;
		if (!call(h, server, "crontab/execute", token, form.data,
			  &env))
			goto out;
		printf("task %s started once now\n", task_id);
	}
	rc = 0;
out:
	cJSON_Delete(env);
	free(form.data);
	free(token);
	free(task_id);
	curl_easy_cleanup(h);
	curl_global_cleanup();
	return rc;
}
