/* Tasks and nodes in etcd: the one place the service's handlers reach
 * etcd. */
#include "svc.h"

#include <stdlib.h>
#include <string.h>

/* ----------------------------------------------------------- etcd pool */

void gc__etcd_pool_init(gc__etcd_pool *p)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->mu, NULL);
}

void gc__etcd_pool_set_options(gc__etcd_pool *p, const gc_service *svc,
			       int64_t dial_timeout_ms)
{
	gc_etcd_options_init(&p->opts, GC_ETCD_OPTIONS_VERSION);
	p->opts.endpoints = (const char *const *)svc->etcd_endpoints;
	p->opts.endpoints_count = svc->n_etcd_endpoints;
	p->opts.username = svc->etcd_username;
	p->opts.password = svc->etcd_password;
	p->opts.connect_timeout_ms =
		dial_timeout_ms > 0 && dial_timeout_ms < 60000
			? (int)dial_timeout_ms
			: 0;
	p->opts.request_timeout_ms = (int)svc->op_timeout_ms;
	p->opts.tls_ca_file = svc->etcd_ca;
	p->opts.tls_cert_file = svc->etcd_cert;
	p->opts.tls_key_file = svc->etcd_key;
	p->opts.max_response_bytes = 256u << 20;
	p->opts.log = svc->opts.log;
	p->opts.log_payload = svc->opts.log_payload;
}

void gc__etcd_pool_destroy(gc__etcd_pool *p)
{
	for (size_t i = 0; i < p->n_free; i++)
		gc_etcd_free(p->free_list[i]);
	free(p->free_list);
	p->free_list = NULL;
	p->n_free = p->cap = 0;
	pthread_mutex_destroy(&p->mu);
}

static gc_etcd *etcd_pool_get(gc__etcd_pool *p, gc_error *err)
{
	gc_etcd *e = NULL;
	pthread_mutex_lock(&p->mu);
	if (p->n_free)
		e = p->free_list[--p->n_free];
	pthread_mutex_unlock(&p->mu);
	if (e)
		return e;
	if (gc_etcd_new(&e, &p->opts, err) != 0)
		return NULL;
	pthread_mutex_lock(&p->mu);
	p->n_total++;
	pthread_mutex_unlock(&p->mu);
	return e;
}

static void etcd_pool_put(gc__etcd_pool *p, gc_etcd *e)
{
	if (!e)
		return;
	pthread_mutex_lock(&p->mu);
	if (p->n_free == p->cap) {
		size_t ncap = p->cap ? p->cap * 2 : 16;
		gc_etcd **nl = realloc(p->free_list, ncap * sizeof(*nl));
		if (!nl) {
			pthread_mutex_unlock(&p->mu);
			gc_etcd_free(e);
			return;
		}
		p->free_list = nl;
		p->cap = ncap;
	}
	p->free_list[p->n_free++] = e;
	pthread_mutex_unlock(&p->mu);
}

gc_etcd *gc__ctx_etcd(gc__ctx *c)
{
	gc_error err = {0, ""};
	if (c->etcd)
		return c->etcd;
	c->etcd = etcd_pool_get(&c->svc->etcd, &err);
	if (!c->etcd)
		gc__reply_gcerr(c, GC__SRC_ETCD, GC_EUNAVAIL, &err);
	return c->etcd;
}

void gc__ctx_etcd_release(gc__ctx *c)
{
	etcd_pool_put(&c->svc->etcd, c->etcd);
	c->etcd = NULL;
}
