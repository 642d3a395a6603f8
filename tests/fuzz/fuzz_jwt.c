/* Fuzz token handling: arbitrary bytes as a token must be rejected cleanly
 * (never accepted without the secret), and a token issued for claims
 * derived from the input must verify and give back the same uid. Runs on
 * a 100 KB stack, as civetweb's workers (worker_stack.h): libjwt parses
 * the header and claims recursively.
 *
 * Input: bytes 0-7 a uid, the rest the token text / account claim. */
#include "service/svc.h"
#include "worker_stack.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SECRET "fuzz-secret-for-jwt"
#define NOW 1795470000 /* the seeds expire in 2099 */

static void one_input(const uint8_t *data, size_t size)
{
	const unsigned char *sec = (const unsigned char *)SECRET;
	gc__claims cl;
	gc_error err;
	char *tok = malloc(size + 1), *issued = NULL;
	int64_t uid = 0;
	int rc;

	if (!tok)
		return;
	memcpy(tok, data, size);
	tok[size] = '\0';
	/* 1. As a token. Acceptance is only possible for a correctly signed
	 * input: re-verify with another secret must then fail. */
	rc = gc__jwt_verify(sec, strlen(SECRET), tok, NOW, &cl, &err);
	if (rc == 0) {
		if (cl.uid <= 0 || cl.exp <= NOW)
			abort();
		if (gc__jwt_verify((const unsigned char *)"other", 5, tok, NOW,
				   &cl, &err) == 0)
			abort();
	} else if (rc != GC_EAUTH) {
		abort();
	}

	/* 2. Issue for input-derived claims and verify the round trip. The
	 * account is at most 100 bytes, as the login parameter is. */
	if (size >= 8) {
		char account[101];
		size_t alen = size - 8 < 100 ? size - 8 : 100;
		memcpy(account, tok + 8, alen);
		account[alen] = '\0';
		memcpy(&uid, data, 8);
		uid = uid == INT64_MIN ? 1 : (uid < 0 ? -uid : uid);
		uid = uid % 1000000000000LL + 1;
		if (gc__jwt_issue(sec, strlen(SECRET), uid, uid % 1000,
				  account, account, NOW, 3600, &issued,
				  &err) == 0) {
			if (gc__jwt_verify(sec, strlen(SECRET), issued, NOW, &cl,
					   &err) != 0 ||
			    cl.uid != uid || cl.exp != NOW + 3600 ||
			    !cl.has_gen || cl.gen != uid % 1000)
				abort();
			/* expired one second after its lifetime */
			if (gc__jwt_verify(sec, strlen(SECRET), issued,
					   NOW + 3600, &cl, &err) == 0)
				abort();
			free(issued);
		}
	}
	free(tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	gc_fuzz_on_worker_stack(one_input, data, size);
	return 0;
}
