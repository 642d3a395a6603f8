/* etcd options: their versions (the one policy of internal.h) and the
 * options an [etcd] configuration section gives. */
#include "etcd_internal.h"

#include <gophercron/config.h>

GC__OPTVER(, gc__etcd_optver, "etcd", GC_ETCD_OPTIONS_VERSION,
	   sizeof(gc_etcd_options));
/* Version 1 ended at sort_order. */
GC__OPTVER(, gc__etcd_get_optver, "etcd get", GC_ETCD_GET_OPTIONS_VERSION,
	   offsetof(gc_etcd_get_options, timeout_ms),
	   sizeof(gc_etcd_get_options));
GC__OPTVER(, gc__etcd_keeper_optver, "lease keeper",
	   GC_ETCD_KEEPER_OPTIONS_VERSION, sizeof(gc_etcd_keeper_options));
GC__OPTVER(, gc__etcd_watch_optver, "etcd watch",
	   GC_ETCD_WATCH_OPTIONS_VERSION, sizeof(gc_etcd_watch_options));

GC_EXTERN int gc_etcd_options_init(gc_etcd_options *o, unsigned version)
{
	return gc__options_init(o, version, &gc__etcd_optver);
}

GC_EXTERN int gc_etcd_get_options_init(gc_etcd_get_options *o,
				       unsigned version)
{
	return gc__options_init(o, version, &gc__etcd_get_optver);
}

GC_EXTERN int gc_etcd_keeper_options_init(gc_etcd_keeper_options *o,
					  unsigned version)
{
	return gc__options_init(o, version, &gc__etcd_keeper_optver);
}

GC_EXTERN int gc_etcd_watch_options_init(gc_etcd_watch_options *o,
					 unsigned version)
{
	return gc__options_init(o, version, &gc__etcd_watch_optver);
}

/* The one policy for every user of an [etcd] section (agent, service,
 * tools): documented in etcd.h next to the declaration. */
GC_EXTERN int gc_etcd_options_from_config(gc_etcd_options *o,
					  const gc_etcd_config *c)
{
	if (!o || !c || o->version == 0 || o->version > GC_ETCD_OPTIONS_VERSION)
		return GC_EINVAL;
	o->endpoints = (const char *const *)c->endpoints;
	o->endpoints_count = c->n_endpoints;
	o->username = c->username;
	o->password = c->password;
	o->connect_timeout_ms =
		c->dial_timeout_ms > 0 &&
				c->dial_timeout_ms < GC_ETCD_CONFIG_MAX_CONNECT_MS
			? (int)c->dial_timeout_ms
			: GC_ETCD_CONFIG_MAX_CONNECT_MS;
	o->tls_ca_file = c->ca_file;
	o->tls_cert_file = c->cert_file;
	o->tls_key_file = c->key_file;
	return 0;
}
