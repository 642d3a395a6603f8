/* Fuzz the service's request handling: query-string, form and JSON body
 * parsing, binding against every route's parameter specs, and the error
 * envelope built from what was wrong, on a thread with a civetweb worker's
 * 100 KB stack (worker_stack.h). Oracles: no crash/UB, every bound string
 * is valid UTF-8 within its limits, every int within its range, and every
 * envelope is valid JSON whose msg survives the round trip.
 *
 * Input: byte 0 picks the route (low 7 bits) and the body type (bit 7:
 * JSON, else form); then the query string up to the first '\n', then the
 * body. */
#include "service/svc.h"
#include "worker_stack.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_envelope(gc__ctx *c, const char *why)
{
	cJSON *j = cJSON_ParseWithLengthOpts(c->resp.data, c->resp.len, NULL, 0);
	const cJSON *m, *msg;
	if (!j)
		abort(); /* the envelope must always be valid JSON */
	m = cJSON_GetObjectItemCaseSensitive(j, "meta");
	msg = cJSON_GetObjectItemCaseSensitive(m, "msg");
	if (!cJSON_IsString(msg))
		abort();
	/* Valid UTF-8 messages survive unchanged. */
	if (gc__utf8_valid(why, strlen(why)) && strcmp(msg->valuestring, why))
		abort();
	cJSON_Delete(j);
}

static void one_input(const uint8_t *data, size_t size)
{
	gc__params p = {0};
	gc__arg args[GC__ARGS_MAX];
	char msg[256];
	const gc__route *r;
	const char *s, *nl;
	size_t qlen, blen;
	int json, rc;
	gc__ctx c;

	if (size < 1)
		return;
	r = &gc__routes[((size_t)data[0] & 0x7f) % gc__n_routes];
	json = data[0] & 0x80;
	s = (const char *)data + 1;
	size -= 1;
	nl = memchr(s, '\n', size);
	qlen = nl ? (size_t)(nl - s) : size;
	blen = nl ? size - qlen - 1 : 0;

	/* Body first (it wins), then the query string, as the service does. */
	if (json)
		rc = gc__params_add_json(&p, nl ? nl + 1 : s, blen, msg,
					 sizeof(msg));
	else
		rc = gc__params_add_form(&p, nl ? nl + 1 : s, blen, msg,
					 sizeof(msg));
	if (rc == 0)
		rc = gc__params_add_form(&p, s, qlen, msg, sizeof(msg));
	if (rc == 0 && r->ep->nargs) {
		rc = gc__bind(&p, r->ep->args, r->ep->nargs, args, msg,
			      sizeof(msg));
		for (size_t i = 0; rc == 0 && i < r->ep->nargs; i++) {
			const gc__argspec *sp = &r->ep->args[i];
			if (!args[i].present)
				continue;
			if (sp->type == GC__ARG_STR &&
			    (!gc__utf8_valid(args[i].s, args[i].len) ||
			     (int64_t)args[i].len > sp->max ||
			     strlen(args[i].s) != args[i].len))
				abort();
			if (sp->type == GC__ARG_INT &&
			    (args[i].i < sp->min || args[i].i > sp->max))
				abort();
		}
	}

	memset(&c, 0, sizeof(c));
	c.uri = malloc(qlen + 1);
	if (c.uri) {
		memcpy(c.uri, s, qlen);
		c.uri[qlen] = '\0';
	}
	strcpy(c.request_id, "1");
	if (rc) {
		gc__reply_err(&c, GC__C_BAD_REQUEST, "%s", msg);
		check_envelope(&c, msg);
	} else if (p.n) {
		/* A value echoed in a message, as handlers do with names. */
		char echo[200];
		const gc__param *first = &p.v[0];
		size_t n = first->len < sizeof(echo) - 1 ? first->len
							 : sizeof(echo) - 1;
		memcpy(echo, first->val, n);
		echo[n] = '\0';
		gc__reply_err(&c, GC__C_NOT_FOUND, "%s", echo);
		check_envelope(&c, echo);
	}
	gc__buf_free(&c.resp);
	free(c.uri);
	gc__params_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	gc_fuzz_on_worker_stack(one_input, data, size);
	return 0;
}
