/* An in-process agent's configuration for tests and benchmarks
 * (header-only): the defaults, then one etcd endpoint, a key prefix, one
 * project and the agent's client_ip. The caller may set more and frees it
 * with gc_agent_config_clear. */
#ifndef GC_TEST_AGENTCFG_H
#define GC_TEST_AGENTCFG_H

#include <gophercron.h>

#include <stdlib.h>
#include <string.h>

/* 0, or -1 when the defaults or an allocation failed. */
static inline int gct_agent_config_one(gc_agent_config *cfg, const char *ep,
				       const char *prefix, int64_t project,
				       const char *client_ip)
{
	if (gc_agent_config_init(cfg, GC_AGENT_CONFIG_VERSION))
		return -1;
	for (size_t i = 0; i < cfg->etcd.n_endpoints; i++)
		free(cfg->etcd.endpoints[i]);
	cfg->etcd.endpoints[0] = strdup(ep);
	cfg->etcd.n_endpoints = 1;
	free(cfg->etcd.prefix);
	cfg->etcd.prefix = strdup(prefix);
	free(cfg->projects);
	cfg->projects = malloc(sizeof(int64_t));
	cfg->n_projects = cfg->projects ? 1 : 0;
	if (cfg->projects)
		cfg->projects[0] = project;
	free(cfg->client_ip);
	cfg->client_ip = strdup(client_ip);
	return cfg->etcd.endpoints[0] && cfg->etcd.prefix && cfg->projects &&
			       cfg->client_ip
		       ? 0
		       : -1;
}

#endif
