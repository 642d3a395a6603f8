/* Failed-login throttle, per account and per client address. After
 * `max_failures` consecutive failures a key is locked for 1 s, doubling
 * with every further failure up to `max_delay_s`. Locked logins are
 * answered at once with 429 (never by sleeping on a worker thread). A key
 * forgets its failures after FORGET_MS without one. The table is bounded;
 * when full, the stalest entry is replaced. Per process by design: it only
 * slows guessing, it holds no authoritative state. */
#include "svc.h"

#include <stdlib.h>
#include <string.h>

#define TABLE_MAX 8192
#define KEY_MAX 128
#define FORGET_MS (15 * 60 * 1000)

struct entry {
	char key[KEY_MAX];
	int failures;
	int64_t last_ms;
	int64_t locked_until_ms;
};

struct gc__throttle {
	pthread_mutex_t mu;
	int max_failures;
	int64_t max_delay_ms;
	struct entry *e;
	size_t n;
};

int gc__throttle_new(gc__throttle **out, int max_failures, int max_delay_s)
{
	gc__throttle *t = calloc(1, sizeof(*t));
	if (!t)
		return GC_ENOMEM;
	t->e = calloc(TABLE_MAX, sizeof(*t->e));
	if (!t->e) {
		free(t);
		return GC_ENOMEM;
	}
	pthread_mutex_init(&t->mu, NULL);
	t->max_failures = max_failures > 0 ? max_failures : 5;
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

static void make_key(char out[KEY_MAX], char kind, const char *s)
{
	size_t n = strlen(s);
	if (n > KEY_MAX - 3)
		n = KEY_MAX - 3; /* accounts are at most 100 bytes anyway */
	out[0] = kind;
	out[1] = ':';
	memcpy(out + 2, s, n);
	out[2 + n] = '\0';
}

static struct entry *find(gc__throttle *t, const char *key, int64_t now)
{
	for (size_t i = 0; i < t->n; i++) {
		struct entry *e = &t->e[i];
		if (strcmp(e->key, key) != 0)
			continue;
		if (now - e->last_ms > FORGET_MS && now >= e->locked_until_ms) {
			e->failures = 0;
			e->locked_until_ms = 0;
		}
		return e;
	}
	return NULL;
}

static struct entry *find_or_add(gc__throttle *t, const char *key,
				 int64_t now)
{
	struct entry *e = find(t, key, now), *stale;
	if (e)
		return e;
	if (t->n < TABLE_MAX) {
		e = &t->e[t->n++];
	} else {
		stale = &t->e[0];
		for (size_t i = 1; i < t->n; i++)
			if (t->e[i].last_ms < stale->last_ms)
				stale = &t->e[i];
		e = stale;
	}
	memset(e, 0, sizeof(*e));
	memcpy(e->key, key, strlen(key) + 1);
	e->last_ms = now;
	return e;
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
	char ka[KEY_MAX], ki[KEY_MAX];
	int wa, wi;
	make_key(ka, 'a', account ? account : "");
	make_key(ki, 'i', addr ? addr : "");
	pthread_mutex_lock(&t->mu);
	wa = wait_s(find(t, ka, now_ms), now_ms);
	wi = wait_s(find(t, ki, now_ms), now_ms);
	pthread_mutex_unlock(&t->mu);
	return wa > wi ? wa : wi;
}

static void fail_one(gc__throttle *t, const char *key, int64_t now)
{
	struct entry *e = find_or_add(t, key, now);
	e->failures++;
	e->last_ms = now;
	if (e->failures >= t->max_failures) {
		int shift = e->failures - t->max_failures;
		int64_t d = shift >= 20 ? t->max_delay_ms : (int64_t)1000 << shift;
		if (d > t->max_delay_ms)
			d = t->max_delay_ms;
		e->locked_until_ms = now + d;
	}
}

void gc__throttle_fail(gc__throttle *t, const char *account, const char *addr,
		       int64_t now_ms)
{
	char ka[KEY_MAX], ki[KEY_MAX];
	make_key(ka, 'a', account ? account : "");
	make_key(ki, 'i', addr ? addr : "");
	pthread_mutex_lock(&t->mu);
	fail_one(t, ka, now_ms);
	fail_one(t, ki, now_ms);
	pthread_mutex_unlock(&t->mu);
}

void gc__throttle_success(gc__throttle *t, const char *account,
			  int64_t now_ms)
{
	char ka[KEY_MAX];
	struct entry *e;
	make_key(ka, 'a', account ? account : "");
	pthread_mutex_lock(&t->mu);
	e = find(t, ka, now_ms);
	if (e) {
		e->failures = 0;
		e->locked_until_ms = 0;
	}
	pthread_mutex_unlock(&t->mu);
}
