/* The response envelope of the original, and the other ways to answer:
 *   {"meta":{"code":0,"msg":"","msg_en":"","log":"","cause":null,
 *            "request_id":"...","request_uri":"..."},"response":...}
 * HTTP status = code when code < 600, else 200. */
#include "svc.h"

#include <stdio.h>
#include <string.h>

const char *gc__code_text(int code)
{
	switch (code) {
	case 0: return "";
	case GC__C_BAD_REQUEST: return "invalid argument";
	case GC__C_UNAUTHORIZED: return "unauthorized";
	case GC__C_NOT_FOUND: return "not found";
	case GC__C_METHOD: return "method not allowed";
	case 409: return "conflict";
	case GC__C_TOO_BIG: return "request body too large";
	case GC__C_UNSUPPORTED: return "unsupported content type";
	case GC__C_TOO_MANY: return "too many requests";
	case GC__C_INTERNAL: return "internal error";
	case GC__C_UNAVAILABLE: return "service unavailable";
	case GC__C_DATA_NOT_FOUND: return "data not found";
	case GC__C_USER_NOT_FOUND: return "user not found";
	case GC__C_BUSY: return "service busy";
	case GC__C_LOCKED: return "lock already held";
	case GC__C_NO_LOCAL_IP: return "no local IP";
	case GC__C_WRONG_PASSWORD: return "password is wrong";
	case GC__C_PROJECT_NOT_EXIST: return "project does not exist";
	case GC__C_PROJECT_EXISTS: return "project exists";
	case GC__C_NO_PERMISSION: return "insufficient permissions";
	case GC__C_BAD_CRON: return "cron expression is wrong";
	case GC__C_USER_EXISTS: return "user exists";
	case GC__C_REMOVE_ADMIN: return "cannot remove the project admin";
	case GC__C_NO_NODE: return "no working node";
	case GC__C_TASK_RUNNING: return "task is running";
	case GC__C_TASK_NOT_RUNNING: return "task is not running";
	default: return "error";
	}
}

int gc__json_quote(gc__buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	int rc = gc__buf_reserve(b, len + 2);
	if (rc)
		return rc;
	rc = gc__buf_append(b, "\"", 1);
	for (size_t i = 0; i < len && !rc;) {
		unsigned c = u[i];
		size_t run = 0;
		/* copy a run of plain ASCII at once */
		while (i + run < len && u[i + run] >= 0x20 && u[i + run] < 0x80 &&
		       u[i + run] != '"' && u[i + run] != '\\')
			run++;
		if (run) {
			rc = gc__buf_append(b, s + i, run);
			i += run;
			continue;
		}
		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};
			rc = gc__buf_append(b, e, 2);
			i++;
		} else if (c < 0x20) {
			char e[6];
			switch (c) {
			case '\n': rc = gc__buf_append(b, "\\n", 2); break;
			case '\r': rc = gc__buf_append(b, "\\r", 2); break;
			case '\t': rc = gc__buf_append(b, "\\t", 2); break;
			default:
				memcpy(e, "\\u00", 4);
				e[4] = hex[c >> 4];
				e[5] = hex[c & 15];
				rc = gc__buf_append(b, e, 6);
			}
			i++;
		} else {
			/* multi-byte UTF-8: copy a valid sequence, else U+FFFD */
			size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
			if (n > 1 && i + n <= len && gc__utf8_valid(s + i, n)) {
				rc = gc__buf_append(b, s + i, n);
				i += n;
			} else {
				rc = gc__buf_append(b, "\\ufffd", 6);
				i++;
			}
		}
	}
	if (!rc)
		rc = gc__buf_append(b, "\"", 1);
	return rc;
}

static void envelope(gc__ctx *c, int code, const char *msg, const char *body)
{
	gc__buf *b = &c->resp;
	const char *uri = c->uri ? c->uri : "";
	int rc;
	gc__buf_reset(b);
	rc = gc__buf_printf(b, "{\"meta\":{\"code\":%d,\"msg\":", code);
	rc |= gc__json_quote(b, msg, strlen(msg));
	rc |= gc__buf_puts(b, ",\"msg_en\":");
	rc |= gc__json_quote(b, msg, strlen(msg));
	rc |= gc__buf_puts(b, ",\"log\":");
	rc |= gc__json_quote(b, code ? gc__code_text(code) : "",
			     code ? strlen(gc__code_text(code)) : 0);
	rc |= gc__buf_printf(b, ",\"cause\":null,\"request_id\":\"%s\","
				"\"request_uri\":",
			     c->request_id);
	rc |= gc__json_quote(b, uri, strlen(uri));
	rc |= gc__buf_puts(b, "},\"response\":");
	rc |= gc__buf_puts(b, body);
	rc |= gc__buf_puts(b, "}");
	c->status = code == 0 ? 200 : code < 600 ? code : 200;
	c->resp_type = "application/json; charset=utf-8";
	if (rc) {
		/* Out of memory while answering: a fixed body. */
		gc__buf_reset(b);
		gc__buf_puts(b, "{\"meta\":{\"code\":500,\"msg\":\"out of "
				"memory\"},\"response\":{}}");
		c->status = 500;
	}
}

void gc__reply_ok(gc__ctx *c, cJSON *response)
{
	char *body = NULL;
	if (response) {
		body = cJSON_PrintUnformatted(response);
		cJSON_Delete(response);
		if (!body) {
			envelope(c, GC__C_INTERNAL, "out of memory", "{}");
			return;
		}
	}
	envelope(c, 0, "", body ? body : "null");
	cJSON_free(body);
}

void gc__reply_json_text(gc__ctx *c, const char *json)
{
	envelope(c, 0, "", json ? json : "null");
}

void gc__reply_err(gc__ctx *c, int code, const char *fmt, ...)
{
	char msg[GC_ERROR_MSG_MAX + 128];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	envelope(c, code, msg, "{}");
}

void gc__reply_gcerr(gc__ctx *c, int src, int rc, const gc_error *err)
{
	const char *msg = err && err->msg[0] ? err->msg : gc_strerror(rc);
	int code;
	switch (rc) {
	case GC_EINVAL: code = GC__C_BAD_REQUEST; break;
	case GC_ENOTFOUND: code = GC__C_NOT_FOUND; break;
	case GC_ECONFLICT: code = 409; break;
	case GC_EPERM: code = GC__C_NO_PERMISSION; break;
	case GC_ETOOBIG: code = GC__C_TOO_BIG; break;
	case GC_EUNAVAIL:
	case GC_ETIMEDOUT:
	case GC_EIO: code = GC__C_UNAVAILABLE; break;
	default: code = GC__C_INTERNAL; break;
	}
	if (code >= 500) {
		if (src == GC__SRC_ETCD)
			gc__metrics_inc(c->svc->metrics, GC__M_ETCD_ERRORS);
		else if (src == GC__SRC_STORE)
			gc__metrics_inc(c->svc->metrics, GC__M_STORE_ERRORS);
		gc__svc_log(c->svc, GC_LOG_ERR,
			"%s %s: %s", c->method, c->path, msg);
	}
	gc__reply_err(c, code, "%s", msg);
}

void gc__reply_text(gc__ctx *c, int status, const char *type,
		    const void *data, size_t len)
{
	gc__buf_reset(&c->resp);
	if (gc__buf_append(&c->resp, data, len)) {
		envelope(c, GC__C_INTERNAL, "out of memory", "{}");
		return;
	}
	c->status = status;
	c->resp_type = type;
}

void gc__add_header(gc__ctx *c, const char *name, const char *value)
{
	size_t used = strlen(c->resp_headers);
	snprintf(c->resp_headers + used, sizeof(c->resp_headers) - used,
		 "%s: %s\r\n", name, value);
}
