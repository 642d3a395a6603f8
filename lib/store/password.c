/* Password hashing: crypt(3) (yescrypt or SHA-512 crypt) with a per-user
 * random salt; the original's md5(password + salt) is only checked, never
 * produced. */
#include "store_internal.h"

#include <crypt.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* ------------------------------------------------------- md5 (RFC 1321) */

typedef struct md5_ctx {
	uint32_t a, b, c, d;
	uint64_t len;
	unsigned char buf[64];
	size_t fill;
} md5_ctx;

static const uint32_t md5_k[64] = {
	0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a,
	0xa8304613, 0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be,
	0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340,
	0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
	0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8,
	0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c,
	0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
	0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
	0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92,
	0xffeff47d, 0x85845dd1, 0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1,
	0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391};
static const unsigned md5_r[64] = {
	7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
	5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20,
	4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
	6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21};

static void md5_block(md5_ctx *x, const unsigned char *p)
{
	uint32_t w[16];
	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[i * 4] | (uint32_t)p[i * 4 + 1] << 8 |
		       (uint32_t)p[i * 4 + 2] << 16 |
		       (uint32_t)p[i * 4 + 3] << 24;
	uint32_t a = x->a, b = x->b, c = x->c, d = x->d;
	for (unsigned i = 0; i < 64; i++) {
		uint32_t f;
		unsigned g;
		if (i < 16) {
			f = (b & c) | (~b & d);
			g = i;
		} else if (i < 32) {
			f = (d & b) | (~d & c);
			g = (5 * i + 1) % 16;
		} else if (i < 48) {
			f = b ^ c ^ d;
			g = (3 * i + 5) % 16;
		} else {
			f = c ^ (b | ~d);
			g = (7 * i) % 16;
		}
		uint32_t t = d;
		d = c;
		c = b;
		uint32_t sum = a + f + md5_k[i] + w[g];
		b = b + (sum << md5_r[i] | sum >> (32 - md5_r[i]));
		a = t;
	}
	x->a += a;
	x->b += b;
	x->c += c;
	x->d += d;
}

static void md5_update(md5_ctx *x, const void *data, size_t n)
{
	const unsigned char *p = data;
	x->len += n;
	while (n) {
		size_t take = 64 - x->fill;
		if (take > n)
			take = n;
		memcpy(x->buf + x->fill, p, take);
		x->fill += take;
		p += take;
		n -= take;
		if (x->fill == 64) {
			md5_block(x, x->buf);
			x->fill = 0;
		}
	}
}

void gc__store_md5_hex(const void *data, size_t len, char out[33])
{
	md5_ctx x = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0, {0},
		     0};
	md5_update(&x, data, len);
	uint64_t bits = x.len * 8;
	unsigned char pad[72] = {0x80};
	size_t padlen = (x.fill < 56) ? 56 - x.fill : 120 - x.fill;
	for (int i = 0; i < 8; i++)
		pad[padlen + (size_t)i] = (unsigned char)(bits >> (8 * i));
	md5_update(&x, pad, padlen + 8);
	uint32_t v[4] = {x.a, x.b, x.c, x.d};
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < 16; i++) {
		unsigned char byte = (unsigned char)(v[i / 4] >> (8 * (i % 4)));
		out[i * 2] = hex[byte >> 4];
		out[i * 2 + 1] = hex[byte & 15];
	}
	out[32] = '\0';
}

/* ---------------------------------------------------------------- crypt */

static int fill_random(unsigned char *p, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = getrandom(p + got, n - got, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)r;
	}
	return 0;
}

int gc__store_hash_password(const gc_store *s, const char *password,
			    char **out, gc_error *err)
{
	unsigned char rnd[32];
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	*out = NULL;
	if (strlen(password) >= CRYPT_MAX_PASSPHRASE_SIZE)
		return gc__seterr(err, GC_EINVAL,
				  "password longer than %d bytes",
				  CRYPT_MAX_PASSPHRASE_SIZE - 1);
	if (fill_random(rnd, sizeof(rnd)))
		return gc__seterr_errno(err, GC_ESYS, errno, "getrandom");
	if (!crypt_gensalt_rn(s->crypt_prefix, 0, (const char *)rnd,
			      (int)sizeof(rnd), setting, (int)sizeof(setting)))
		return gc__seterr_errno(err, GC_ESYS, errno,
					"crypt_gensalt(%s)", s->crypt_prefix);
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	if (!cd)
		return gc__seterr(err, GC_ENOMEM, "out of memory");
	const char *h = crypt_rn(password, setting, cd, (int)sizeof(*cd));
	if (!h || h[0] == '*') {
		int e = errno;
		explicit_bzero(cd, sizeof(*cd));
		free(cd);
		return gc__seterr_errno(err, GC_ESYS, e, "crypt(%s)",
					s->crypt_prefix);
	}
	*out = gc__strdup(h);
	/* crypt's work area holds the passphrase */
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return *out ? 0 : gc__seterr(err, GC_ENOMEM, "out of memory");
}

int gc__store_make_dummy_hash(gc_store *s, gc_error *err)
{
	unsigned char rnd[24];
	char pw[2 * sizeof(rnd) + 1];
	static const char hex[] = "0123456789abcdef";
	int rc;
	if (fill_random(rnd, sizeof(rnd)))
		return gc__seterr_errno(err, GC_ESYS, errno, "getrandom");
	for (size_t i = 0; i < sizeof(rnd); i++) {
		pw[2 * i] = hex[rnd[i] >> 4];
		pw[2 * i + 1] = hex[rnd[i] & 15];
	}
	pw[2 * sizeof(rnd)] = '\0';
	rc = gc__store_hash_password(s, pw, &s->dummy_hash, err);
	explicit_bzero(pw, sizeof(pw));
	explicit_bzero(rnd, sizeof(rnd));
	return rc;
}

/* Compare without an early exit on the first differing byte. */
static int same(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char d = (unsigned char)(la != lb);
	size_t n = la < lb ? la : lb;
	for (size_t i = 0; i < n; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

int gc__store_check_password(const char *password, const char *hash,
			     const char *salt)
{
	if (!password || !hash || !*hash)
		return 0;
	if (salt && *salt && hash[0] != '$') {
		size_t lp = strlen(password), ls = strlen(salt);
		char *joined = malloc(lp + ls + 1);
		char hex[33];
		if (!joined)
			return 0;
		memcpy(joined, password, lp);
		memcpy(joined + lp, salt, ls + 1);
		gc__store_md5_hex(joined, lp + ls, hex);
		explicit_bzero(joined, lp + ls);
		free(joined);
		/* The original stored lower-case hex; accept either case. */
		char lower[256];
		size_t hl = strlen(hash);
		if (hl != 32)
			return 0;
		for (size_t i = 0; i <= hl; i++)
			lower[i] = (char)((hash[i] >= 'A' && hash[i] <= 'F')
						  ? hash[i] + 32
						  : hash[i]);
		return same(hex, lower);
	}
	if (hash[0] != '$')
		return 0;
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	if (!cd)
		return 0;
	const char *h = crypt_rn(password, hash, cd, (int)sizeof(*cd));
	int ok = h && h[0] != '*' && same(h, hash);
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return ok;
}
