/* Fuzz target for the configuration parser (lib/config/).
 *
 * Any input, loaded as an agent's and as a service's file, must load or
 * fail with a message naming the file, never crash. A failed load leaves
 * the struct as it was; a loaded one holds what the keys allow: endpoints
 * as URLs, a prefix starting with '/', positive distinct project IDs,
 * values in their ranges. */
#include <gophercron.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr,                                        \
				"fuzz_config: check failed: %s (%s:%d)\n",     \
				#cond, __FILE__, __LINE__);                    \
			abort();                                               \
		}                                                              \
	} while (0)

static void check_error(int rc, const gc_error *err)
{
	CHECK(rc == GC_EINVAL);
	CHECK(err->code == GC_EINVAL);
	CHECK(strncmp(err->msg, "f.toml:", 7) == 0);
	CHECK(memchr(err->msg, '\0', sizeof(err->msg)) != NULL);
}

static void check_etcd(const gc_etcd_config *e)
{
	size_t n = strlen(e->prefix);
	CHECK(e->n_endpoints >= 1);
	for (size_t i = 0; i < e->n_endpoints; i++)
		CHECK(strstr(e->endpoints[i], "://") != NULL);
	CHECK(n == 0 || (e->prefix[0] == '/' && e->prefix[n - 1] != '/'));
	CHECK(e->dial_timeout_ms >= 1 && e->dial_timeout_ms <= 600000);
	CHECK((e->cert_file == NULL) == (e->key_file == NULL));
}

static void check_agent(const gc_agent_config *c)
{
	CHECK(c->version == GC_AGENT_CONFIG_VERSION);
	check_etcd(&c->etcd);
	for (size_t i = 0; i < c->n_projects; i++) {
		CHECK(c->projects[i] > 0);
		for (size_t j = 0; j < i; j++)
			CHECK(c->projects[i] != c->projects[j]);
	}
	CHECK(c->shell && c->shell[0]);
	CHECK(c->client_ip && c->client_ip[0] && !strchr(c->client_ip, '/'));
	CHECK(c->output_limit >= 1 && c->output_limit <= (INT64_C(1) << 30));
	CHECK(c->claim_ttl_s >= 1 && c->claim_ttl_s <= 86400);
	CHECK(!c->report_addr || strstr(c->report_addr, "://"));
}

static void check_service(const gc_service_config *c)
{
	CHECK(c->version == GC_SERVICE_CONFIG_VERSION);
	check_etcd(&c->etcd);
	CHECK(c->deploy.n_hosts >= 1);
	CHECK(c->sqlite.path && c->sqlite.path[0]);
	CHECK(!c->jwt.secret || strlen(c->jwt.secret) >= 32);
	CHECK(c->http.threads >= 1 && c->http.threads <= 4096);
	CHECK(c->log.output_limit >= 256);
	CHECK(!c->mysql.service || (c->mysql.host && c->mysql.port > 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	gc_agent_config a;
	gc_service_config s;
	gc_error err = {0, ""};
	char *text = malloc(size + 1);
	int rc;
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	if (gc_agent_config_init(&a, GC_AGENT_CONFIG_VERSION) == 0) {
		rc = gc_agent_config_load_string(&a, text, "f.toml", NULL, NULL,
						 &err);
		if (rc != 0) {
			check_error(rc, &err);
			CHECK(a.claim_ttl_s == 60 && a.n_projects == 0);
		} else {
			check_agent(&a);
		}
		gc_agent_config_clear(&a);
	}
	if (gc_service_config_init(&s, GC_SERVICE_CONFIG_VERSION) == 0) {
		rc = gc_service_config_load_string(&s, text, "f.toml", NULL,
						   NULL, &err);
		if (rc != 0) {
			check_error(rc, &err);
			CHECK(s.jwt.exp_hours == 168 && s.deploy.n_hosts == 1);
		} else {
			check_service(&s);
		}
		gc_service_config_clear(&s);
	}
	free(text);
	return 0;
}
