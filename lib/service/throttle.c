/* Failed-login throttle. Two kinds of keys:
 *
 *   (address, account)  after `max_failures` consecutive failures the pair
 *                       is locked for 1 s, doubling with every further
 *                       failure up to `max_delay_s`; a successful login
 *                       from that address for that account clears it.
 *   address             failures for any account; locked the same way
 *                       after ADDR_FACTOR * max_failures, so one address
 *                       cannot guess across many accounts. A success does
 *                       not clear it (one valid account would otherwise
 *                       reset it between guesses).
 *
 * There is no key for an account alone: failures from one address never
 * lock an account for a client at another address who knows the password.
 * IPv6 addresses count per /64 (one host commonly has the whole /64).
 * Locked logins are answered at once with 429 (never by sleeping on a
 * worker thread). A key forgets its failures after FORGET_MS without one.
 *
 * Memory is fixed: SETS x WAYS entries holding a keyed 64-bit hash of the
 * key (SipHash-2-4 with a random key per throttle, so an attacker cannot
 * aim many keys at one set). A full set replaces its stalest unlocked
 * entry, or its stalest entry when all are locked. Per process by design:
 * it only slows guessing, it holds no authoritative state. */
#include "svc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define SETS	    2048
#define WAYS	    8
#define ADDR_FACTOR 4
#define FORGET_MS (15 * 60 * 1000)
#define ADDR_MAX    64 /* INET6_ADDRSTRLEN + "/64" */
#define ACCOUNT_MAX 256

struct entry {
	uint64_t key; /* 0 = free */
	int failures;
	int64_t last_ms;
	int64_t locked_until_ms;
};

struct gc__throttle {
	pthread_mutex_t mu;
	int max_failures;      /* per (address, account) */
	int max_addr_failures; /* per address */
	int64_t max_delay_ms;
	uint64_t k0, k1; /* hash key */
	struct entry *e; /* SETS * WAYS */
};

int gc__throttle_new(gc__throttle **out, int max_failures, int max_delay_s)
{
	unsigned char k[16];
	size_t got = 0;
	gc__throttle *t;
	while (got < sizeof(k)) {
		ssize_t r = getrandom(k + got, sizeof(k) - got, 0);
		if (r < 0 && errno != EINTR)
			return GC_ESYS;
		if (r > 0)
			got += (size_t)r;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return GC_ENOMEM;
	t->e = calloc((size_t)SETS * WAYS, sizeof(*t->e));
	if (!t->e) {
		free(t);
		return GC_ENOMEM;
	}
	memcpy(&t->k0, k, 8);
	memcpy(&t->k1, k + 8, 8);
	explicit_bzero(k, sizeof(k));
	pthread_mutex_init(&t->mu, NULL);
	t->max_failures = max_failures > 0 ? max_failures : 5;
	t->max_addr_failures = t->max_failures > INT32_MAX / ADDR_FACTOR
				   ? INT32_MAX
				   : t->max_failures * ADDR_FACTOR;
	t->max_delay_ms = (int64_t)(max_delay_s > 0 ? max_delay_s : 300) * 1000;
	*out = t;
	return 0;
}

void gc__throttle_free(gc__throttle *t)
{
	if (!t)
		return;
	pthread_mutex_destroy(&t->mu);
	free(t->e);
	free(t);
}

/* ------------------------------------------------------------- SipHash */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                               \
	do {                                                                   \
		v0 += v1;                                                      \
		v1 = ROTL(v1, 13);                                             \
		v1 ^= v0;                                                      \
		v0 = ROTL(v0, 32);                                             \
		v2 += v3;                                                      \
		v3 = ROTL(v3, 16);                                             \
		v3 ^= v2;                                                      \
		v0 += v3;                                                      \
		v3 = ROTL(v3, 21);                                             \
		v3 ^= v0;                                                      \
		v2 += v1;                                                      \
		v1 = ROTL(v1, 17);                                             \
		v1 ^= v2;                                                      \
		v2 = ROTL(v2, 32);                                             \
	} while (0)

/* SipHash-2-4 of p[0..n). */
static uint64_t siphash(uint64_t k0, uint64_t k1, const unsigned char *p,
			size_t n)
{
	uint64_t v0 = 0x736f6d6570736575ULL ^ k0,
		 v1 = 0x646f72616e646f6dULL ^ k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ k0,
		 v3 = 0x7465646279746573ULL ^ k1;
	uint64_t m, b = (uint64_t)n << 56;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		m = 0;
		for (int j = 7; j >= 0; j--)
			m = m << 8 | p[i + (size_t)j];
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (size_t j = 0; i + j < n; j++)
		b |= (uint64_t)p[i + j] << (8 * j);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* ---------------------------------------------------------------- keys */

/* The address as counted: IPv6 by its /64, an IPv4-mapped address as
 * IPv4, anything else (IPv4, unparsable) as it is, cut at ADDR_MAX-1. */
static void addr_bucket(char out[ADDR_MAX], const char *addr)
{
	struct in6_addr a6;
	size_t n;
	if (!addr)
		addr = "";
	if (strchr(addr, ':') && inet_pton(AF_INET6, addr, &a6) == 1) {
		if (IN6_IS_ADDR_V4MAPPED(&a6) &&
		    inet_ntop(AF_INET, &a6.s6_addr[12], out, ADDR_MAX))
			return;
		memset(&a6.s6_addr[8], 0, 8);
		if (inet_ntop(AF_INET6, &a6, out, ADDR_MAX - 3)) {
			strcat(out, "/64");
			return;
		}
	}
	n = strlen(addr);
	if (n > ADDR_MAX - 1)
		n = ADDR_MAX - 1;
	memcpy(out, addr, n);
	out[n] = '\0';
}

/* Hash of kind 'p' (address bucket, account) or 'a' (address bucket). */
static uint64_t key_of(const gc__throttle *t, char kind, const char *bucket,
		       const char *account)
{
	unsigned char buf[2 + ADDR_MAX + ACCOUNT_MAX];
	size_t nb = strlen(bucket), na = 0, len;
	uint64_t h;
	buf[0] = (unsigned char)kind;
	memcpy(buf + 1, bucket, nb + 1); /* the NUL separates the parts */
	len = 2 + nb;
	if (account) {
		na = strlen(account);
		if (na > ACCOUNT_MAX) /* accounts are at most 100 bytes */
			na = ACCOUNT_MAX;
		memcpy(buf + len, account, na);
		len += na;
	}
	h = siphash(t->k0, t->k1, buf, len);
	return h ? h : 1;
}

static struct entry *set_of(gc__throttle *t, uint64_t key)
{
	return &t->e[(size_t)(key % SETS) * WAYS];
}

static struct entry *find(gc__throttle *t, uint64_t key, int64_t now)
{
	struct entry *set = set_of(t, key);
	for (int i = 0; i < WAYS; i++) {
		struct entry *e = &set[i];
		if (e->key != key)
			continue;
		if (now - e->last_ms > FORGET_MS && now >= e->locked_until_ms) {
			e->failures = 0;
			e->locked_until_ms = 0;
		}
		return e;
	}
	return NULL;
}

/* Whether `a` should be replaced before `b`: unlocked entries go first,
 * then the stalest. */
static int evict_first(const struct entry *a, const struct entry *b,
		       int64_t now)
{
	int a_free = a->locked_until_ms <= now,
	    b_free = b->locked_until_ms <= now;
	if (a_free != b_free)
		return a_free;
	return a->last_ms < b->last_ms;
}

static struct entry *find_or_add(gc__throttle *t, uint64_t key, int64_t now)
{
	struct entry *e = find(t, key, now), *set, *victim = NULL;
	if (e)
		return e;
	set = set_of(t, key);
	for (int i = 0; i < WAYS; i++) {
		e = &set[i];
		if (!e->key) {
			victim = e;
			break;
		}
		if (!victim || evict_first(e, victim, now))
			victim = e;
	}
	memset(victim, 0, sizeof(*victim));
	victim->key = key;
	victim->last_ms = now;
	return victim;
}

static int wait_s(const struct entry *e, int64_t now)
{
	if (!e || e->locked_until_ms <= now)
		return 0;
	return (int)((e->locked_until_ms - now + 999) / 1000);
}

int gc__throttle_check(gc__throttle *t, const char *account, const char *addr,
		       int64_t now_ms)
{
	char bucket[ADDR_MAX];
	uint64_t kp, ka;
	int wp, wa;
	addr_bucket(bucket, addr);
	kp = key_of(t, 'p', bucket, account ? account : "");
	ka = key_of(t, 'a', bucket, NULL);
	pthread_mutex_lock(&t->mu);
	wp = wait_s(find(t, kp, now_ms), now_ms);
	wa = wait_s(find(t, ka, now_ms), now_ms);
	pthread_mutex_unlock(&t->mu);
	return wp > wa ? wp : wa;
}

static void fail_one(gc__throttle *t, uint64_t key, int threshold, int64_t now)
{
	struct entry *e = find_or_add(t, key, now);
	if (e->failures < INT32_MAX)
		e->failures++;
	e->last_ms = now;
	if (e->failures >= threshold) {
		int shift = e->failures - threshold;
		int64_t d = shift >= 20 ? t->max_delay_ms : (int64_t)1000 << shift;
		if (d > t->max_delay_ms)
			d = t->max_delay_ms;
		e->locked_until_ms = now + d;
	}
}

void gc__throttle_fail(gc__throttle *t, const char *account, const char *addr,
		       int64_t now_ms)
{
	char bucket[ADDR_MAX];
	uint64_t kp, ka;
	addr_bucket(bucket, addr);
	kp = key_of(t, 'p', bucket, account ? account : "");
	ka = key_of(t, 'a', bucket, NULL);
	pthread_mutex_lock(&t->mu);
	fail_one(t, kp, t->max_failures, now_ms);
	fail_one(t, ka, t->max_addr_failures, now_ms);
	pthread_mutex_unlock(&t->mu);
}

void gc__throttle_success(gc__throttle *t, const char *account,
			  const char *addr, int64_t now_ms)
{
	char bucket[ADDR_MAX];
	struct entry *e;
	uint64_t kp;
	addr_bucket(bucket, addr);
	kp = key_of(t, 'p', bucket, account ? account : "");
	pthread_mutex_lock(&t->mu);
	e = find(t, kp, now_ms);
	if (e) {
		e->failures = 0;
		e->locked_until_ms = 0;
	}
	pthread_mutex_unlock(&t->mu);
}
