/* Login tokens: standard HS256 JWTs through libjwt (the original used a
 * home-made format). Claims: uid (and "user", as the original named it),
 * account, permission (informative only: every request reloads the user
 * from the store), gen (the user's token generation when it was issued:
 * a password change bumps it, which revokes every older token), iat, exp,
 * biz. */
#include "svc.h"

#include <errno.h>
#include <jwt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int gc__jwt_issue(const unsigned char *secret, size_t secret_len, int64_t uid,
		  int64_t gen, const char *account, const char *permission,
		  int64_t now, int64_t lifetime_s, char **token, gc_error *err)
{
	jwt_t *jwt = NULL;
	char *s;
	int rc = GC_ENOMEM;
	*token = NULL;
	if (!secret || secret_len == 0 || secret_len > INT_MAX)
		return gc__seterr(err, GC_EINVAL, "jwt: no secret configured");
	if (jwt_new(&jwt) != 0)
		return gc__seterr(err, GC_ENOMEM, "jwt: out of memory");
	if (jwt_add_grant(jwt, "biz", "gopherCron") ||
	    jwt_add_grant_int(jwt, "uid", (long)uid) ||
	    jwt_add_grant_int(jwt, "user", (long)uid) ||
	    jwt_add_grant_int(jwt, "gen", (long)gen) ||
	    jwt_add_grant(jwt, "account", account ? account : "") ||
	    jwt_add_grant(jwt, "permission", permission ? permission : "") ||
	    jwt_add_grant_int(jwt, "iat", (long)now) ||
	    jwt_add_grant_int(jwt, "exp", (long)(now + lifetime_s)) ||
	    jwt_set_alg(jwt, JWT_ALG_HS256, secret, (int)secret_len)) {
		gc__seterr(err, GC_ENOMEM, "jwt: cannot build the token");
		goto out;
	}
	s = jwt_encode_str(jwt);
	if (!s) {
		gc__seterr(err, GC_ENOMEM, "jwt: cannot encode the token");
		goto out;
	}
	*token = s;
	rc = 0;
out:
	jwt_free(jwt);
	return rc;
}

/* An integer claim that must be present. */
static int claim_int(jwt_t *jwt, const char *name, int64_t *out)
{
	long v;
	errno = 0;
	v = jwt_get_grant_int(jwt, name);
	if (errno)
		return -1;
	*out = v;
	return 0;
}

/* libjwt parses the header and the claims with jansson (recursive, 2048
 * levels) before it checks the signature: a 4096-byte token nests deep
 * enough to exhaust a 100 KB worker stack. So both parts go through the
 * shared JSON check first, with a small limit (ours are flat). */
static int check_parts(const char *token, size_t len, gc_error *err)
{
	static const char *const names[2] = {"header", "claims"};
	const gc__json_opts jo = {GC__JSON_DEPTH_JWT, 0, NULL};
	const char *p = token;
	for (int k = 0; k < 2; k++) {
		const char *dot = memchr(p, '.', len - (size_t)(p - token));
		size_t n = (size_t)(dot - p), jlen;
		char *b64 = malloc(n + 1), *json = NULL;
		gc_error jerr;
		int rc;
		if (!b64)
			return gc__seterr(err, GC_EAUTH, "out of memory");
		/* base64url to base64 (padding is optional for the decoder) */
		for (size_t i = 0; i < n; i++)
			b64[i] = p[i] == '-' ? '+' : p[i] == '_' ? '/' : p[i];
		rc = gc__base64_decode(b64, n, &json, &jlen);
		free(b64);
		if (rc == 0)
			rc = gc__json_check(json, jlen, &jo, NULL, &jerr);
		else
			snprintf(jerr.msg, sizeof(jerr.msg), "%s",
				 rc == GC_ENOMEM ? "out of memory"
						 : "not base64url");
		free(json);
		if (rc)
			return gc__seterr(err, GC_EAUTH, "token %s: %s",
					  names[k], jerr.msg);
		p = dot + 1;
	}
	return 0;
}

int gc__jwt_verify(const unsigned char *secret, size_t secret_len,
		   const char *token, int64_t now, gc__claims *out,
		   gc_error *err)
{
	jwt_t *jwt = NULL;
	size_t len, dots = 0;
	int rc = GC_EAUTH;
	memset(out, 0, sizeof(*out));
	if (!token || !*token)
		return gc__seterr(err, GC_EAUTH, "no token");
	len = strlen(token);
	if (len > GC__TOKEN_MAX)
		return gc__seterr(err, GC_EAUTH, "token too long");
	/* Only the three base64url parts of a compact JWT. */
	for (size_t i = 0; i < len; i++) {
		char c = token[i];
		if (c == '.')
			dots++;
		else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			   (c >= '0' && c <= '9') || c == '-' || c == '_' ||
			   c == '='))
			return gc__seterr(err, GC_EAUTH,
					  "token has invalid characters");
	}
	if (dots != 2)
		return gc__seterr(err, GC_EAUTH, "token is not a JWT");
	if (!secret || secret_len == 0 || secret_len > INT_MAX)
		return gc__seterr(err, GC_EAUTH, "no secret configured");
	if (check_parts(token, len, err))
		return GC_EAUTH;
	if (jwt_decode(&jwt, token, secret, (int)secret_len) != 0 || !jwt)
		return gc__seterr(err, GC_EAUTH,
				  "token signature or format is invalid");
	/* Refuse "none" and every other algorithm, whatever the header says. */
	if (jwt_get_alg(jwt) != JWT_ALG_HS256) {
		gc__seterr(err, GC_EAUTH, "token algorithm is not HS256");
		goto out;
	}
	if (claim_int(jwt, "uid", &out->uid) || out->uid <= 0) {
		gc__seterr(err, GC_EAUTH, "token has no valid uid claim");
		goto out;
	}
	if (claim_int(jwt, "exp", &out->exp)) {
		gc__seterr(err, GC_EAUTH, "token has no exp claim");
		goto out;
	}
	if (claim_int(jwt, "iat", &out->iat))
		out->iat = 0;
	out->has_gen = claim_int(jwt, "gen", &out->gen) == 0;
	if (out->has_gen && out->gen < 0) {
		gc__seterr(err, GC_EAUTH, "token has an invalid gen claim");
		goto out;
	}
	if (out->exp <= now) {
		gc__seterr(err, GC_EAUTH, "token expired");
		goto out;
	}
	rc = 0;
out:
	jwt_free(jwt);
	return rc;
}
