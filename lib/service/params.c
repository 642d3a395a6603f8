/* Request parameters: query strings, form bodies and JSON bodies bind the
 * same way, as gin's binding did for the original. */
#include "svc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gc__params_free(gc__params *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		free(p->v[i].key);
		free(p->v[i].val);
	}
	free(p->v);
	p->v = NULL;
	p->n = p->cap = 0;
}

static int params_push(gc__params *p, char *key, char *val, size_t len,
		       int type, char *msg, size_t msglen)
{
	if (p->n >= GC__PARAMS_MAX) {
		free(key);
		free(val);
		snprintf(msg, msglen, "too many parameters (more than %d)",
			 GC__PARAMS_MAX);
		return GC_EINVAL;
	}
	if (p->n == p->cap) {
		size_t ncap = p->cap ? p->cap * 2 : 16;
		gc__param *nv = realloc(p->v, ncap * sizeof(*nv));
		if (!nv) {
			free(key);
			free(val);
			snprintf(msg, msglen, "out of memory");
			return GC_ENOMEM;
		}
		p->v = nv;
		p->cap = ncap;
	}
	p->v[p->n].key = key;
	p->v[p->n].val = val;
	p->v[p->n].len = len;
	p->v[p->n].type = type;
	p->n++;
	return 0;
}

/* Decode one form component ('+' is a space, %XX a byte). `base` is the
 * component's offset in the whole text, for the error message. */
static int form_decode(const char *s, size_t len, size_t base, char **out,
		       size_t *outlen, char *msg, size_t msglen)
{
	char *d = malloc(len + 1);
	size_t j = 0;
	if (!d) {
		snprintf(msg, msglen, "out of memory");
		return GC_ENOMEM;
	}
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '+') {
			d[j++] = ' ';
		} else if (s[i] == '%') {
			int h, l;
			if (i + 2 >= len ||
			    (h = gc__hexval((unsigned char)s[i + 1])) < 0 ||
			    (l = gc__hexval((unsigned char)s[i + 2])) < 0) {
				free(d);
				snprintf(msg, msglen,
					 "malformed form data: bad %%-escape "
					 "at offset %zu",
					 base + i);
				return GC_EINVAL;
			}
			d[j++] = (char)(h * 16 + l);
			i += 2;
		} else {
			d[j++] = s[i];
		}
	}
	d[j] = '\0';
	*out = d;
	*outlen = j;
	return 0;
}

int gc__params_add_form(gc__params *p, const char *s, size_t len, char *msg,
			size_t msglen)
{
	size_t i = 0;
	while (i < len) {
		size_t start = i, eq = SIZE_MAX, end;
		char *key, *val;
		size_t klen, vlen;
		int rc;
		while (i < len && s[i] != '&') {
			if (s[i] == '=' && eq == SIZE_MAX)
				eq = i;
			i++;
		}
		end = i;
		if (i < len)
			i++; /* skip '&' */
		if (end == start)
			continue; /* "a=1&&b=2" */
		if (eq == SIZE_MAX)
			eq = end; /* "flag" alone: empty value */
		rc = form_decode(s + start, eq - start, start, &key, &klen, msg,
				 msglen);
		if (rc)
			return rc;
		if (klen == 0 || memchr(key, '\0', klen)) {
			free(key);
			snprintf(msg, msglen,
				 "malformed form data: empty or invalid "
				 "parameter name at offset %zu",
				 start);
			return GC_EINVAL;
		}
		if (eq < end)
			rc = form_decode(s + eq + 1, end - eq - 1, eq + 1,
					 &val, &vlen, msg, msglen);
		else
			rc = form_decode("", 0, eq, &val, &vlen, msg, msglen);
		if (rc) {
			free(key);
			return rc;
		}
		rc = params_push(p, key, val, vlen, GC__PT_TEXT, msg, msglen);
		if (rc)
			return rc;
	}
	return 0;
}

int gc__params_add_json(gc__params *p, const char *s, size_t len, char *msg,
			size_t msglen)
{
	const gc__json_opts jo = {GC__JSON_DEPTH_REST, GC__JSON_NUMBER_TEXT,
				  NULL};
	gc__json_fault f;
	gc_error err;
	cJSON *root;
	int rc = gc__json_parse(&root, s, len, &jo, &f, &err);
	if (rc)
		p->json_fault = f.kind;
	if (rc == GC_ENOMEM) {
		snprintf(msg, msglen, "out of memory");
		return rc;
	}
	if (rc && f.kind == GC__JSON_FAULT_NUL && f.member[0]) {
		/* as a %00 in form data: refused, naming the parameter */
		snprintf(msg, msglen,
			 "parameter \"%s\": a string has a NUL character "
			 "(\\u0000) at byte %zu",
			 f.member, f.at);
		return rc;
	}
	if (rc && f.kind == GC__JSON_FAULT_DEPTH) {
		snprintf(msg, msglen,
			 "JSON body nested deeper than %d levels at byte %zu",
			 GC__JSON_DEPTH_REST, f.at);
		return rc;
	}
	if (rc) {
		snprintf(msg, msglen, "%s: %s",
			 f.kind == GC__JSON_FAULT_SYNTAX ? "malformed JSON body"
							 : "JSON body",
			 err.msg);
		return rc;
	}
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		snprintf(msg, msglen, "JSON body must be an object");
		return GC_EINVAL;
	}
	for (cJSON *it = root->child; it; it = it->next) {
		char *key, *val;
		int type;
		if (!it->string || !*it->string) {
			rc = GC_EINVAL;
			snprintf(msg, msglen, "JSON body: empty member name");
			break;
		}
		key = gc__strdup(it->string);
		if (cJSON_IsString(it)) {
			val = gc__strdup(it->valuestring ? it->valuestring : "");
			type = GC__PT_JSTRING;
		} else if (cJSON_IsNumber(it)) {
			/* the number's text, exactly as sent */
			val = gc__strdup(it->valuestring);
			type = GC__PT_JNUMBER;
		} else if (cJSON_IsBool(it)) {
			val = gc__strdup(cJSON_IsTrue(it) ? "true" : "false");
			type = GC__PT_JBOOL;
		} else if (cJSON_IsNull(it)) {
			val = gc__strdup("");
			type = GC__PT_JNULL;
		} else {
			val = gc__strdup("");
			type = GC__PT_JOTHER;
		}
		if (!key || !val) {
			free(key);
			free(val);
			snprintf(msg, msglen, "out of memory");
			rc = GC_ENOMEM;
			break;
		}
		rc = params_push(p, key, val, strlen(val), type, msg, msglen);
		if (rc)
			break;
	}
	cJSON_Delete(root);
	return rc;
}

const gc__param *gc__params_get(const gc__params *p, const char *key)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->v[i].key, key) == 0)
			return &p->v[i];
	return NULL;
}

int gc__utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	while (i < len) {
		unsigned c = s[i];
		size_t n;
		unsigned cp;
		if (c == 0)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) {
			n = 1;
			cp = c & 0x1F;
		} else if (c >= 0xE0 && c <= 0xEF) {
			n = 2;
			cp = c & 0x0F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if (i + n >= len)
			return 0;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		/* overlong, surrogate or beyond U+10FFFF */
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
			return 0;
		i += n + 1;
	}
	return 1;
}

static const char *ptype_name(int type)
{
	switch (type) {
	case GC__PT_JSTRING: return "a string";
	case GC__PT_JNUMBER: return "a number";
	case GC__PT_JBOOL: return "a boolean";
	case GC__PT_JNULL: return "null";
	case GC__PT_JOTHER: return "an array or object";
	default: return "text";
	}
}

/* Quote at most 32 bytes of a bad value for a message, printable ASCII
 * only. */
static void quote_value(const char *s, size_t len, char *out, size_t outlen)
{
	size_t j = 0;
	for (size_t i = 0; i < len && i < 32 && j + 5 < outlen; i++) {
		unsigned char c = (unsigned char)s[i];
		out[j++] = (c >= 0x20 && c < 0x7f && c != '"') ? (char)c : '?';
	}
	if (len > 32 && j + 4 < outlen) {
		memcpy(out + j, "...", 3);
		j += 3;
	}
	out[j] = '\0';
}

static int bind_int(const gc__argspec *sp, const gc__param *pv, gc__arg *a,
		    char *msg, size_t msglen)
{
	char q[48];
	int64_t v;
	if (pv->type != GC__PT_TEXT && pv->type != GC__PT_JNUMBER &&
	    pv->type != GC__PT_JSTRING) {
		snprintf(msg, msglen,
			 "parameter \"%s\": expected an integer, got %s",
			 sp->name, ptype_name(pv->type));
		return GC_EINVAL;
	}
	if (pv->len == 0 && !(sp->flags & GC__ARG_REQ) &&
	    pv->type != GC__PT_JSTRING) {
		/* "timeout=" in a form means "not given", as gin binds it */
		return 0;
	}
	if (pv->len == 0 || pv->len > 20 || strlen(pv->val) != pv->len ||
	    gc__parse_int64(pv->val, &v) != 0 ||
	    !((pv->val[0] >= '0' && pv->val[0] <= '9') || pv->val[0] == '-')) {
		quote_value(pv->val, pv->len, q, sizeof(q));
		snprintf(msg, msglen,
			 "parameter \"%s\": expected an integer, got \"%s\"",
			 sp->name, q);
		return GC_EINVAL;
	}
	if (v < sp->min || v > sp->max) {
		snprintf(msg, msglen,
			 "parameter \"%s\": %" PRId64 " is out of range "
			 "[%" PRId64 ", %" PRId64 "]",
			 sp->name, v, sp->min, sp->max);
		return GC_EINVAL;
	}
	a->present = 1;
	a->i = v;
	return 0;
}

static int bind_str(const gc__argspec *sp, const gc__param *pv, gc__arg *a,
		    char *msg, size_t msglen)
{
	if (pv->type != GC__PT_TEXT && pv->type != GC__PT_JSTRING) {
		snprintf(msg, msglen,
			 "parameter \"%s\": expected a string, got %s",
			 sp->name, ptype_name(pv->type));
		return GC_EINVAL;
	}
	if (!gc__utf8_valid(pv->val, pv->len)) {
		snprintf(msg, msglen,
			 "parameter \"%s\": not valid UTF-8 text (or contains "
			 "a NUL byte)",
			 sp->name);
		return GC_EINVAL;
	}
	if ((int64_t)pv->len > sp->max) {
		snprintf(msg, msglen,
			 "parameter \"%s\": too long (%zu bytes, at most "
			 "%" PRId64 ")",
			 sp->name, pv->len, sp->max);
		return GC_EINVAL;
	}
	if (pv->len == 0 && (sp->flags & GC__ARG_REQ)) {
		snprintf(msg, msglen, "parameter \"%s\" must not be empty",
			 sp->name);
		return GC_EINVAL;
	}
	if ((int64_t)pv->len < sp->min) {
		snprintf(msg, msglen,
			 "parameter \"%s\": too short (%zu bytes, at least "
			 "%" PRId64 ")",
			 sp->name, pv->len, sp->min);
		return GC_EINVAL;
	}
	a->present = 1;
	a->s = pv->val;
	a->len = pv->len;
	return 0;
}

int gc__bind(const gc__params *p, const gc__argspec *spec, size_t n,
	     gc__arg *out, char *msg, size_t msglen)
{
	for (size_t i = 0; i < n; i++) {
		const gc__argspec *sp = &spec[i];
		const gc__param *pv = gc__params_get(p, sp->name);
		int rc;
		memset(&out[i], 0, sizeof(out[i]));
		if (!pv || pv->type == GC__PT_JNULL) {
			if (sp->flags & GC__ARG_REQ) {
				snprintf(msg, msglen, "missing parameter \"%s\"",
					 sp->name);
				return GC_EINVAL;
			}
			continue;
		}
		if (sp->type == GC__ARG_INT)
			rc = bind_int(sp, pv, &out[i], msg, msglen);
		else
			rc = bind_str(sp, pv, &out[i], msg, msglen);
		if (rc)
			return rc;
		if ((sp->flags & GC__ARG_REQ) && !out[i].present) {
			snprintf(msg, msglen, "missing parameter \"%s\"",
				 sp->name);
			return GC_EINVAL;
		}
	}
	return 0;
}
