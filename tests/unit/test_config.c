/* Unit tests for the agent and service configuration loader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <gophercron/config.h>

#include "config/config_internal.h"
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------ helpers */

typedef struct logcap {
	int warnings;
	char text[4096];
} logcap;

static void capture(int level, const char *msg, void *payload)
{
	logcap *l = payload;
	size_t n = strlen(l->text);
	if (level == GC_LOG_WARNING)
		l->warnings++;
	snprintf(l->text + n, sizeof(l->text) - n, "%s\n", msg);
}

/* A copy of the text (mode `mode`) in a new temporary directory; remove
 * both with drop_copy(). */
static char *write_copy(const char *text, size_t len, const char *name,
			mode_t mode)
{
	char dir[] = "/tmp/gc-config-XXXXXX";
	char *path;
	FILE *f;
	assert_non_null(mkdtemp(dir));
	path = gc__sprintf("%s/%s", dir, name);
	assert_non_null(path);
	f = fopen(path, "we");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

static void drop_copy(char *path)
{
	unlink(path);
	*strrchr(path, '/') = '\0';
	rmdir(path);
	free(path);
}

/* The text of a file under tests/unit/data/config (malloc'd). */
static char *data_text(const char *file, size_t *len)
{
	const char *src = getenv("GC_SRC");
	char *p = gc__sprintf("%s/tests/unit/data/config/%s", src ? src : ".",
			      file);
	char *text = malloc(65536);
	FILE *f;
	assert_non_null(p);
	assert_non_null(text);
	f = fopen(p, "re");
	if (!f)
		fail_msg("%s: cannot open", p);
	*len = fread(text, 1, 65535, f);
	text[*len] = '\0';
	fclose(f);
	free(p);
	return text;
}

/* A private (0600) copy of a data file: the checkout's mode (often 0644)
 * would add the "readable by others" warning to every count. */
static char *data_path(const char *file)
{
	size_t len;
	char *text = data_text(file, &len);
	char *p = write_copy(text, len, file, 0600);
	free(text);
	return p;
}

/* Load agent text that must fail; the message must contain `want`. */
static void agent_fails(const char *text, const char *want)
{
	gc_agent_config cfg;
	gc_error err = {0, ""};
	assert_int_equal(gc_agent_config_init(&cfg, GC_AGENT_CONFIG_VERSION), 0);
	int rc = gc_agent_config_load_string(&cfg, text, "t.toml", NULL, NULL,
					     &err);
	if (rc != GC_EINVAL || !strstr(err.msg, want))
		fail_msg("text:\n%s\nrc=%d msg=\"%s\"\nwanted \"%s\"", text, rc,
			 err.msg, want);
	assert_int_equal(err.code, GC_EINVAL);
	gc_agent_config_clear(&cfg);
}

static void service_fails(const char *text, const char *want)
{
	gc_service_config cfg;
	gc_error err = {0, ""};
	assert_int_equal(gc_service_config_init(&cfg, GC_SERVICE_CONFIG_VERSION), 0);
	int rc = gc_service_config_load_string(&cfg, text, "s.toml", NULL,
					       NULL, &err);
	if (rc != GC_EINVAL || !strstr(err.msg, want))
		fail_msg("text:\n%s\nrc=%d msg=\"%s\"\nwanted \"%s\"", text, rc,
			 err.msg, want);
	gc_service_config_clear(&cfg);
}

static void agent_ok(gc_agent_config *cfg, const char *text, logcap *lc)
{
	gc_error err = {0, ""};
	assert_int_equal(gc_agent_config_init(cfg, GC_AGENT_CONFIG_VERSION), 0);
	int rc = gc_agent_config_load_string(cfg, text, "t.toml", capture, lc,
					     &err);
	if (rc != 0)
		fail_msg("text:\n%s\nrc=%d msg=\"%s\"", text, rc, err.msg);
}

/* ------------------------------------------------- the original's files */

static void check_client_common(const gc_agent_config *c)
{
	assert_int_equal(c->log_level, GC_LOG_DEBUG);
	assert_string_equal(c->deploy.environment, "release");
	assert_int_equal(c->deploy.timeout_s, 5);
	assert_null(c->deploy.hosts);
	assert_int_equal(c->etcd.n_endpoints, 1);
	assert_string_equal(c->etcd.endpoints[0], "http://127.0.0.1:23791");
	assert_null(c->etcd.username);
	assert_null(c->etcd.password);
	assert_int_equal(c->etcd.dial_timeout_ms, 5000);
	assert_string_equal(c->etcd.prefix, "/gopher_cron");
	assert_int_equal(c->n_projects, 1);
	assert_int_equal(c->projects[0], 1);
	assert_string_equal(c->shell, "/bin/bash");
	assert_string_equal(c->mysql.service, "127.0.0.1:33061");
	assert_string_equal(c->mysql.host, "127.0.0.1");
	assert_int_equal(c->mysql.port, 33061);
	assert_string_equal(c->mysql.username, "gc");
	assert_string_equal(c->mysql.password, "gcpass");
	assert_string_equal(c->mysql.database, "gophercron");
	assert_null(c->sqlite.path);
	/* keys the original does not have keep their defaults */
	assert_int_equal(c->output_limit, 1024 * 1024);
	assert_int_equal(c->kill_grace_ms, 2000);
	assert_int_equal(c->claim_ttl_s, 60);
	assert_int_equal(c->agent.max_clock_offset_ms, 1000);
	assert_int_equal(c->agent.claim_ahead_ms, 500);
	assert_null(c->report_token);
	assert_non_null(c->client_ip);
	assert_non_null(c->spool_dir);
}

static void original_client_report_file_loads_unchanged(void **state)
{
	(void)state;
	gc_agent_config c;
	gc_error err = {0, ""};
	logcap lc = {0, ""};
	char *p = data_path("client-report.toml");
	assert_int_equal(gc_agent_config_init(&c, GC_AGENT_CONFIG_VERSION), 0);
	assert_int_equal(gc_agent_config_load(&c, p, capture, &lc, &err), 0);
	check_client_common(&c);
	assert_string_equal(c.report_addr, "http://127.0.0.1:18080/report");
	assert_int_equal(lc.warnings, 0);
	gc_agent_config_clear(&c);
	drop_copy(p);
}

static void original_client_mysql_file_loads_unchanged(void **state)
{
	(void)state;
	gc_agent_config c;
	gc_error err = {0, ""};
	logcap lc = {0, ""};
	char *p = data_path("client-mysql.toml");
	assert_int_equal(gc_agent_config_init(&c, GC_AGENT_CONFIG_VERSION), 0);
	assert_int_equal(gc_agent_config_load(&c, p, capture, &lc, &err), 0);
	check_client_common(&c);
	assert_null(c.report_addr); /* report_addr = "" means "use MySQL" */
	assert_int_equal(lc.warnings, 0);
	gc_agent_config_clear(&c);
	drop_copy(p);
}

#define LONG_SECRET "cSx0ZXN0cy1vbmx5LW5vdC1hLXJlYWwtc2VjcmV0LTAx"

/* GopherCron 1.10's sample service file: its [jwt] secret is the one its
 * README published (17 bytes), which forges tokens for anyone: refused,
 * saying where and how to make one. */
static void original_service_file_is_refused_for_its_published_secret(
	void **state)
{
	(void)state;
	gc_service_config c;
	gc_error err = {0, ""};
	char *p = data_path("service.toml"), *want;
	assert_int_equal(gc_service_config_init(&c, GC_SERVICE_CONFIG_VERSION), 0);
	assert_int_equal(gc_service_config_load(&c, p, NULL, NULL, &err),
			 GC_EINVAL);
	want = gc__sprintf("%s:23: key \"jwt.secret\": the value published in "
			   "GopherCron's README",
			   p);
	if (!strstr(err.msg, want))
		fail_msg("\"%s\" lacks \"%s\"", err.msg, want);
	free(want);
	assert_non_null(strstr(err.msg, "head -c 32 /dev/urandom | base64"));
	assert_null(strstr(err.msg, "fjskfjls2ifeew2mn"));
	assert_null(c.jwt.secret); /* untouched */
	gc_service_config_clear(&c);
	drop_copy(p);
}

/* The same file with a secret of its own: every key as the original. */
static void original_service_file_loads_with_its_own_secret(void **state)
{
	(void)state;
	gc_service_config c;
	gc_error err = {0, ""};
	logcap lc = {0, ""};
	size_t len;
	char *text = data_text("service.toml", &len), *at, *p;
	gc__buf b = GC__BUF_INIT;
	at = strstr(text, "fjskfjls2ifeew2mn");
	assert_non_null(at);
	assert_int_equal(gc__buf_append(&b, text, (size_t)(at - text)), 0);
	assert_int_equal(gc__buf_puts(&b, LONG_SECRET), 0);
	assert_int_equal(gc__buf_puts(&b, at + 17), 0);
	p = write_copy(b.data, b.len, "service.toml", 0600);
	gc__buf_free(&b);
	free(text);
	assert_int_equal(gc_service_config_init(&c, GC_SERVICE_CONFIG_VERSION), 0);
	assert_int_equal(gc_service_config_load(&c, p, capture, &lc, &err), 0);
	assert_int_equal(c.log_level, GC_LOG_DEBUG);
	assert_string_equal(c.deploy.environment, "release");
	assert_int_equal(c.deploy.n_hosts, 1);
	assert_string_equal(c.deploy.hosts[0], "127.0.0.1:16306");
	assert_int_equal(c.deploy.timeout_s, 5);
	assert_string_equal(c.deploy.view_path, "./view");
	assert_int_equal(c.etcd.n_endpoints, 1);
	assert_string_equal(c.etcd.endpoints[0], "http://127.0.0.1:23791");
	assert_int_equal(c.etcd.dial_timeout_ms, 5000);
	assert_string_equal(c.etcd.prefix, "/gopher_cron");
	assert_string_equal(c.mysql.service, "127.0.0.1:33061");
	assert_string_equal(c.mysql.host, "127.0.0.1");
	assert_int_equal(c.mysql.port, 33061);
	assert_string_equal(c.mysql.username, "gc");
	assert_string_equal(c.mysql.password, "gcpass");
	assert_string_equal(c.mysql.database, "gophercron");
	assert_string_equal(c.jwt.secret, LONG_SECRET);
	assert_int_equal(c.jwt.exp_hours, 168);
	assert_string_equal(c.sqlite.path, "gophercron.db");
	assert_null(c.report.token);
	assert_int_equal(c.log.retention_days, 0);
	assert_int_equal(c.log.output_limit, 1024 * 1024);
	/* no [http] in the original: the defaults */
	assert_int_equal(c.http.threads, 256);
	assert_int_equal(c.http.header_timeout_ms, 10000);
	assert_int_equal(c.http.max_idle_per_address, 16);
	assert_int_equal(lc.warnings, 0);
	gc_service_config_clear(&c);
	drop_copy(p);
}

/* ---------------------------------------------------- every key, defaults */

static void agent_full_sample_sets_every_key(void **state)
{
	(void)state;
	gc_agent_config c;
	gc_error err = {0, ""};
	logcap lc = {0, ""};
	char *p = data_path("agent-full.toml");
	assert_int_equal(gc_agent_config_init(&c, GC_AGENT_CONFIG_VERSION), 0);
	assert_int_equal(gc_agent_config_load(&c, p, capture, &lc, &err), 0);
	assert_int_equal(c.log_level, GC_LOG_WARNING);
	assert_string_equal(c.report_addr,
			    "http://127.0.0.1:6306/api/v1/report");
	assert_string_equal(c.report_token, "tok#en;1");
	assert_string_equal(c.client_ip, "10.1.2.3");
	assert_string_equal(c.spool_dir, "/srv/gc/spool");
	assert_int_equal(c.output_limit, 65536);
	assert_int_equal(c.kill_grace_ms, 500);
	assert_int_equal(c.claim_ttl_s, 30);
	assert_int_equal(c.n_projects, 3);
	assert_int_equal(c.projects[0], 3);
	assert_int_equal(c.projects[1], 4);
	assert_int_equal(c.projects[2], 5);
	assert_string_equal(c.shell, "/bin/sh");
	assert_string_equal(c.deploy.environment, "dev");
	assert_int_equal(c.deploy.timeout_s, 60);
	assert_int_equal(c.etcd.n_endpoints, 3);
	/* TLS configured: endpoints without a scheme become https */
	assert_string_equal(c.etcd.endpoints[0], "https://10.0.0.1:2379");
	assert_string_equal(c.etcd.endpoints[1], "https://10.0.0.2:2379");
	assert_string_equal(c.etcd.endpoints[2], "https://10.0.0.3:2379");
	assert_string_equal(c.etcd.username, "root");
	assert_string_equal(c.etcd.password, "p\"a\\ss\tw\xc3\xa9");
	assert_int_equal(c.etcd.dial_timeout_ms, 1500);
	assert_string_equal(c.etcd.prefix, "/cron_prod");
	assert_string_equal(c.etcd.ca_file, "/etc/gc/ca.pem");
	assert_string_equal(c.etcd.cert_file, "/etc/gc/agent.pem");
	assert_string_equal(c.etcd.key_file, "/etc/gc/agent-key.pem");
	assert_string_equal(c.mysql.host, "::1");
	assert_int_equal(c.mysql.port, 3307);
	assert_string_equal(c.sqlite.path, "/srv/gc/results.db");
	assert_int_equal(c.agent.max_clock_offset_ms, 250);
	assert_int_equal(c.agent.claim_ahead_ms, 300);
	assert_int_equal(lc.warnings, 0);
	gc_agent_config_clear(&c);
	drop_copy(p);
}

static void service_full_sample_sets_every_key(void **state)
{
	(void)state;
	gc_service_config c;
	gc_error err = {0, ""};
	logcap lc = {0, ""};
	char *p = data_path("service-full.toml");
	assert_int_equal(gc_service_config_init(&c, GC_SERVICE_CONFIG_VERSION), 0);
	assert_int_equal(gc_service_config_load(&c, p, capture, &lc, &err), 0);
	assert_int_equal(c.log_level, GC_LOG_ERR);
	assert_string_equal(c.deploy.environment, "dev");
	assert_int_equal(c.deploy.n_hosts, 3);
	assert_string_equal(c.deploy.hosts[0], "127.0.0.1:8080");
	assert_string_equal(c.deploy.hosts[1], "[::1]:8081");
	assert_string_equal(c.deploy.hosts[2], "9090");
	assert_int_equal(c.deploy.timeout_s, 10);
	assert_null(c.deploy.view_path);
	assert_string_equal(c.etcd.endpoints[0], "http://127.0.0.1:2379");
	assert_int_equal(c.etcd.dial_timeout_ms, 2000);
	assert_string_equal(c.etcd.prefix, "");
	assert_null(c.mysql.service);
	assert_null(c.mysql.host);
	assert_string_equal(c.sqlite.path, "/var/lib/gophercron/gophercron.db");
	assert_string_equal(c.jwt.secret, LONG_SECRET);
	assert_int_equal(c.jwt.exp_hours, 24);
	assert_string_equal(c.report.token, "agents-token");
	assert_int_equal(c.log.retention_days, 30);
	assert_int_equal(c.log.output_limit, 256 * 1024);
	assert_int_equal(c.http.threads, 64);
	assert_int_equal(c.http.header_timeout_ms, 2500);
	assert_int_equal(c.http.keep_alive_timeout_ms, 30000);
	assert_int_equal(c.http.request_timeout_ms, 120000);
	assert_int_equal(c.http.max_idle_per_address, 0);
	assert_int_equal(lc.warnings, 0);
	gc_service_config_clear(&c);
	drop_copy(p);
}

static void agent_defaults_without_a_file(void **state)
{
	(void)state;
	gc_agent_config c;
	assert_int_equal(gc_agent_config_init(&c, GC_AGENT_CONFIG_VERSION), 0);
	assert_int_equal(c.log_level, GC_LOG_INFO);
	assert_null(c.report_addr);
	assert_null(c.report_token);
	assert_non_null(c.client_ip);
	assert_non_null(c.spool_dir);
	assert_true(c.spool_dir[0] == '/');
	assert_int_equal(c.output_limit, 1024 * 1024);
	assert_int_equal(c.kill_grace_ms, 2000);
	assert_int_equal(c.claim_ttl_s, 60);
	assert_null(c.projects);
	assert_int_equal(c.n_projects, 0);
	assert_string_equal(c.shell, access("/bin/bash", X_OK) == 0
					     ? "/bin/bash"
					     : "/bin/sh");
	assert_string_equal(c.deploy.environment, "release");
	assert_int_equal(c.deploy.timeout_s, 5);
	assert_int_equal(c.etcd.n_endpoints, 1);
	assert_string_equal(c.etcd.endpoints[0], "http://127.0.0.1:2379");
	assert_int_equal(c.etcd.dial_timeout_ms, 5000);
	assert_string_equal(c.etcd.prefix, "/gopher_cron");
	assert_null(c.etcd.ca_file);
	assert_null(c.mysql.service);
	assert_int_equal(c.mysql.port, 3306);
	assert_null(c.sqlite.path);
	gc_agent_config_clear(&c);
}

static void service_defaults_without_a_file(void **state)
{
	(void)state;
	gc_service_config c;
	assert_int_equal(gc_service_config_init(&c, GC_SERVICE_CONFIG_VERSION), 0);
	assert_int_equal(c.log_level, GC_LOG_INFO);
	assert_int_equal(c.deploy.n_hosts, 1);
	assert_string_equal(c.deploy.hosts[0], "0.0.0.0:6306");
	assert_int_equal(c.deploy.timeout_s, 5);
	assert_null(c.deploy.view_path);
	assert_string_equal(c.etcd.endpoints[0], "http://127.0.0.1:2379");
	assert_null(c.mysql.service);
	assert_string_equal(c.sqlite.path, "gophercron.db");
	assert_null(c.jwt.secret);
	assert_int_equal(c.jwt.exp_hours, 168);
	assert_null(c.report.token);
	assert_int_equal(c.log.retention_days, 0);
	assert_int_equal(c.http.threads, 256);
	assert_int_equal(c.http.header_timeout_ms, 10000);
	assert_int_equal(c.http.keep_alive_timeout_ms, 5000);
	assert_int_equal(c.http.request_timeout_ms, 30000);
	assert_int_equal(c.http.max_idle_per_address, 16);
	gc_service_config_clear(&c);
}

static void empty_text_gives_the_defaults(void **state)
{
	(void)state;
	gc_agent_config c;
	logcap lc = {0, ""};
	agent_ok(&c, "", &lc);
	assert_int_equal(c.claim_ttl_s, 60);
	assert_string_equal(c.etcd.prefix, "/gopher_cron");
	gc_agent_config_clear(&c);
}

/* An independent look at the interfaces: is there a non-loopback IPv4? */
static bool host_has_routable_ipv4(void)
{
	struct ifaddrs *ifs, *i;
	bool found = false;
	if (getifaddrs(&ifs) != 0)
		return false;
	for (i = ifs; i; i = i->ifa_next) {
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
		    (i->ifa_flags & IFF_UP) && !(i->ifa_flags & IFF_LOOPBACK)) {
			const struct sockaddr_in *s =
				(const struct sockaddr_in *)(const void *)
					i->ifa_addr;
			uint32_t a = ntohl(s->sin_addr.s_addr);
			if ((a >> 24) != 127 && (a >> 16) != 0xA9FE)
				found = true;
		}
	}
	freeifaddrs(ifs);
	return found;
}

static void client_ip_default_is_a_non_loopback_ipv4(void **state)
{
	(void)state;
	char ip[INET_ADDRSTRLEN];
	struct in_addr a;
	gc_agent_config c;
	assert_int_equal(gc_config_default_client_ip(ip, sizeof(ip)), 0);
	assert_int_equal(inet_pton(AF_INET, ip, &a), 1);
	if (host_has_routable_ipv4())
		assert_true((ntohl(a.s_addr) >> 24) != 127);
	else
		assert_string_equal(ip, "127.0.0.1");
	assert_int_equal(gc_agent_config_init(&c, GC_AGENT_CONFIG_VERSION), 0);
	assert_string_equal(c.client_ip, ip);
	gc_agent_config_clear(&c);
	/* too small a buffer is refused, not truncated */
	assert_int_equal(gc_config_default_client_ip(ip, 8), GC_EINVAL);
}

/* ------------------------------------------------------------- syntax */

static void comments_full_line_inline_and_hash_inside_strings(void **state)
{
	(void)state;
	gc_agent_config c;
	logcap lc = {0, ""};
	agent_ok(&c,
		 "# full-line comment\n"
		 "   # indented comment\n"
		 "report_token = \"a#b ; c\" # inline comment\n"
		 "shell = '/bin/sh'#no space before the comment\n"
		 "projects = [1, 2] # [3]\n"
		 "[etcd] # section comment\n"
		 "password = \"x # y\"\n"
		 "username = \"\" # empty means none\n",
		 &lc);
	assert_string_equal(c.report_token, "a#b ; c");
	assert_string_equal(c.shell, "/bin/sh");
	assert_int_equal(c.n_projects, 2);
	assert_string_equal(c.etcd.password, "x # y");
	assert_null(c.etcd.username);
	assert_int_equal(lc.warnings, 0);
	gc_agent_config_clear(&c);
}

static void arrays_with_spaces_trailing_commas_and_several_lines(void **state)
{
	(void)state;
	gc_agent_config c;
	logcap lc = {0, ""};
	agent_ok(&c,
		 "projects = [ 7 ,8,  9 , ]\n"
		 "[etcd]\n"
		 "service = [\t\"a:1\" ,\"http://b:2\"  ]\n",
		 &lc);
	assert_int_equal(c.n_projects, 3);
	assert_int_equal(c.projects[2], 9);
	assert_int_equal(c.etcd.n_endpoints, 2);
	assert_string_equal(c.etcd.endpoints[0], "http://a:1");
	assert_string_equal(c.etcd.endpoints[1], "http://b:2");
	gc_agent_config_clear(&c);

	agent_ok(&c,
		 "projects = [\n"
		 "  1, # first\n"
		 "\n"
		 "  # a comment line\n"
		 "  2\n"
		 "]\n"
		 "shell = \"/bin/sh\"\n",
		 &lc);
	assert_int_equal(c.n_projects, 2);
	assert_int_equal(c.projects[1], 2);
	assert_string_equal(c.shell, "/bin/sh");
	gc_agent_config_clear(&c);

	agent_ok(&c, "projects = []\n", &lc);
	assert_int_equal(c.n_projects, 0);
	gc_agent_config_clear(&c);
}

static void string_escapes_are_decoded(void **state)
{
	(void)state;
	gc_agent_config c;
	logcap lc = {0, ""};
	agent_ok(&c,
		 "report_token = \"q\\\"b\\\\n\\n t\\t u\\u00e9 U\\U0001F600\"\n"
		 "spool_dir = 'C:\\raw\\n'\n",
		 &lc);
	assert_string_equal(c.report_token,
			    "q\"b\\n\n t\t u\xc3\xa9 U\xf0\x9f\x98\x80");
	assert_string_equal(c.spool_dir, "C:\\raw\\n"); /* literal string */
	gc_agent_config_clear(&c);
}

/* What an INI reader such as inih would do with these lines (200-byte
 * lines, indented continuation lines, ':' delimiter, " ;" comments, a
 * lone "]" line) does not apply: the files are TOML. */
static void ini_rules_do_not_apply(void **state)
{
	(void)state;
	gc_agent_config c;
	logcap lc = {0, ""};
	char longval[1200];
	memset(longval, 'x', sizeof(longval) - 1);
	longval[sizeof(longval) - 1] = '\0';
	char *text = gc__sprintf("report_token = \"%s\"\n"
				 "[etcd]\n"
				 "    username = \"u ;v\"\n"
				 "    password = \"p\"\n"
				 "projects = [\n"
				 "    1,\n"
				 "    2\n"
				 "]\n"
				 "[mysql]\n"
				 "service=\"db:3307\"\n",
				 longval);
	assert_non_null(text);
	agent_ok(&c, text, &lc);
	assert_string_equal(c.report_token, longval);
	assert_string_equal(c.etcd.username, "u ;v");
	assert_string_equal(c.etcd.password, "p");
	assert_int_equal(c.n_projects, 2);
	assert_int_equal(c.projects[1], 2);
	assert_string_equal(c.mysql.host, "db");
	assert_int_equal(lc.warnings, 0);
	gc_agent_config_clear(&c);
	free(text);
	agent_fails("shell: \"/bin/sh\"\n",
		    "t.toml:1: key \"shell\": expected \"=\" after the key");
	agent_fails("report_token = \"a\"\n  continuation\n",
		    "t.toml:2: key \"continuation\": expected \"=\"");
	agent_fails("; comment\n", "t.toml:1: expected key = value, a "
				   "[section] or a # comment");
	agent_fails("projects = [1]\n]\n", "t.toml:2: expected key = value");
	agent_fails("a23456789012345678901234567890123456789012345678901 = 1\n",
		    "t.toml:1: key name longer than 49 characters");
}

static void crlf_line_endings_and_bom_are_accepted(void **state)
{
	(void)state;
	gc_agent_config c;
	logcap lc = {0, ""};
	agent_ok(&c,
		 "\xEF\xBB\xBFlog_level = \"info\"\r\n"
		 "projects = [1]\r\n[etcd]\r\nprefix = \"/x\"\r\n",
		 &lc);
	assert_int_equal(c.log_level, GC_LOG_INFO);
	assert_int_equal(c.n_projects, 1);
	assert_string_equal(c.etcd.prefix, "/x");
	gc_agent_config_clear(&c);
}

static void projects_and_shell_accepted_at_top_level_and_in_etcd(void **state)
{
	(void)state;
	gc_agent_config c;
	logcap lc = {0, ""};
	agent_ok(&c, "projects = [5]\nshell = \"/bin/sh\"\n", &lc);
	assert_int_equal(c.projects[0], 5);
	assert_string_equal(c.shell, "/bin/sh");
	gc_agent_config_clear(&c);
	agent_ok(&c, "[etcd]\nprojects = [6]\nshell = \"/bin/sh\"\n", &lc);
	assert_int_equal(c.projects[0], 6);
	assert_string_equal(c.shell, "/bin/sh");
	gc_agent_config_clear(&c);
	assert_int_equal(lc.warnings, 0);
}

static void log_level_names(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		int level;
	} cases[] = {{"debug", GC_LOG_DEBUG},   {"trace", GC_LOG_DEBUG},
		     {"info", GC_LOG_INFO},     {"notice", GC_LOG_NOTICE},
		     {"warn", GC_LOG_WARNING},  {"warning", GC_LOG_WARNING},
		     {"error", GC_LOG_ERR},     {"fatal", GC_LOG_ERR},
		     {"panic", GC_LOG_ERR},     {"DEBUG", GC_LOG_DEBUG}};
	for (size_t i = 0; i < GC__ARRAY_LEN(cases); i++) {
		gc_agent_config c;
		logcap lc = {0, ""};
		char *t = gc__sprintf("log_level = \"%s\"\n", cases[i].name);
		agent_ok(&c, t, &lc);
		assert_int_equal(c.log_level, cases[i].level);
		gc_agent_config_clear(&c);
		free(t);
	}
}

static void durations_and_sizes_take_units(void **state)
{
	(void)state;
	gc_agent_config c;
	logcap lc = {0, ""};
	agent_ok(&c,
		 "kill_grace = 3\nclaim_ttl = \"2m\"\noutput_limit = 4096\n",
		 &lc);
	assert_int_equal(c.kill_grace_ms, 3000);
	assert_int_equal(c.claim_ttl_s, 120);
	assert_int_equal(c.output_limit, 4096);
	gc_agent_config_clear(&c);
	agent_ok(&c,
		 "kill_grace = \"1m30s\"\nclaim_ttl = \"1h\"\n"
		 "output_limit = \"1 MiB\"\n",
		 &lc);
	assert_int_equal(c.kill_grace_ms, 90000);
	assert_int_equal(c.claim_ttl_s, 3600);
	assert_int_equal(c.output_limit, 1048576);
	gc_agent_config_clear(&c);
	agent_ok(&c, "kill_grace = 0\noutput_limit = \"2K\"\n", &lc);
	assert_int_equal(c.kill_grace_ms, 0);
	assert_int_equal(c.output_limit, 2048);
	gc_agent_config_clear(&c);
	agent_ok(&c,
		 "[agent]\nmax_clock_offset = \"250ms\"\n"
		 "claim_ahead = \"1s\"\n",
		 &lc);
	assert_int_equal(c.agent.max_clock_offset_ms, 250);
	assert_int_equal(c.agent.claim_ahead_ms, 1000);
	gc_agent_config_clear(&c);
	agent_ok(&c, "[agent]\nclaim_ahead = 0\n", &lc);
	assert_int_equal(c.agent.claim_ahead_ms, 0);
	gc_agent_config_clear(&c);
}

static void endpoints_are_normalised_to_urls(void **state)
{
	(void)state;
	gc_agent_config c;
	logcap lc = {0, ""};
	agent_ok(&c,
		 "[etcd]\nservice = [\"127.0.0.1:2379\", "
		 "\"http://h:1/\", \"HTTPS://h:2\", \"[::1]:2379\"]\n",
		 &lc);
	assert_int_equal(c.etcd.n_endpoints, 4);
	assert_string_equal(c.etcd.endpoints[0], "http://127.0.0.1:2379");
	assert_string_equal(c.etcd.endpoints[1], "http://h:1");
	assert_string_equal(c.etcd.endpoints[2], "HTTPS://h:2");
	assert_string_equal(c.etcd.endpoints[3], "http://[::1]:2379");
	gc_agent_config_clear(&c);
	/* a CA file alone (server-verified TLS) switches the default scheme */
	agent_ok(&c, "[etcd]\nservice = [\"e:2379\"]\nca_file = \"/ca\"\n", &lc);
	assert_string_equal(c.etcd.endpoints[0], "https://e:2379");
	gc_agent_config_clear(&c);
}

static void mysql_service_is_split_into_host_and_port(void **state)
{
	(void)state;
	gc_agent_config c;
	logcap lc = {0, ""};
	agent_ok(&c, "[mysql]\nservice = \"db.example\"\n", &lc);
	assert_string_equal(c.mysql.host, "db.example");
	assert_int_equal(c.mysql.port, 3306);
	gc_agent_config_clear(&c);
	agent_ok(&c, "[mysql]\nservice = \"\"\n", &lc);
	assert_null(c.mysql.service);
	assert_null(c.mysql.host);
	gc_agent_config_clear(&c);
}

/* ------------------------------------------------------ unknown things */

static void unknown_keys_and_sections_are_errors_with_a_suggestion(void **state)
{
	(void)state;
	agent_fails("log_level = \"info\"\nprojcets = [1]\n",
		    "t.toml:2: unknown key \"projcets\" (did you mean "
		    "\"projects\"?)");
	agent_fails("[etcd]\nretries = 3\n", "t.toml:2: unknown key "
					     "\"etcd.retries\"");
	agent_fails("[etcd]\nprefx = \"/p\"\n",
		    "t.toml:2: unknown key \"etcd.prefx\" (did you mean "
		    "\"etcd.prefix\"?)");
	/* a key of another section */
	agent_fails("[mysql]\nspool_dirr = \"/x\"\n",
		    "t.toml:2: unknown key \"mysql.spool_dirr\" (did you mean "
		    "\"spool_dir\"?)");
	agent_fails("[metrics]\nport = 9100\n",
		    "t.toml:1: unknown section [metrics]");
	agent_fails("[ectd]\n", "t.toml:1: unknown section [ectd] (did you "
				"mean [etcd]?)");
	service_fails("[jwt]\nsecrte = \"x\"\n",
		      "s.toml:2: unknown key \"jwt.secrte\" (did you mean "
		      "\"jwt.secret\"?)");
	/* values are checked before the name */
	agent_fails("[etcd]\nport = 9100 x\n",
		    "t.toml:2: key \"etcd.port\": unexpected text after the "
		    "value");
}

/* Keys of GopherCron 1.10's files stay valid in either kind of file (its
 * service and client read one struct): ignored with a notice. */
static void keys_of_1_10_files_stay_valid_in_either_file(void **state)
{
	(void)state;
	gc_agent_config c;
	logcap lc = {0, ""};
	agent_ok(&c,
		 "projects = [1]\n"
		 "[deploy]\n"
		 "host = [\"0.0.0.0:6306\"]\n"
		 "view_path = \"./view\"\n"
		 "[jwt]\n"
		 "secret = \"fjskfjls2ifeew2mn\"\n"
		 "exp = 168\n",
		 &lc);
	assert_int_equal(lc.warnings, 0);
	assert_non_null(strstr(lc.text, "t.toml:3: key \"deploy.host\" is not "
					"used by this program, ignored"));
	assert_non_null(strstr(lc.text, "t.toml:7: key \"jwt.exp\""));
	gc_agent_config_clear(&c);
	gc_service_config s;
	gc_error err = {0, ""};
	assert_int_equal(gc_service_config_init(&s, GC_SERVICE_CONFIG_VERSION), 0);
	assert_int_equal(gc_service_config_load_string(
			     &s,
			     "report_addr = \"http://x/report\"\n"
			     "[etcd]\nprojects = [1]\nshell = \"/bin/sh\"\n",
			     "s.toml", NULL, NULL, &err),
			 0);
	gc_service_config_clear(&s);
}

/* ------------------------------------------------------------- errors */

static void every_error_names_file_line_and_key(void **state)
{
	(void)state;
	static const struct {
		const char *text, *want;
	} cases[] = {
		{"log_level = \"info\"\n[etcd]\nprojects = [\"a\"]\n",
		 "t.toml:3: key \"etcd.projects\": expected an array of "
		 "integers like [1,2]"},
		{"projects = 1\n",
		 "t.toml:1: key \"projects\": expected an array of integers "
		 "like [1,2]"},
		{"projects = [1, \"2\"]\n",
		 "t.toml:1: key \"projects\": array items must all have the "
		 "same type"},
		{"projects = [0]\n",
		 "t.toml:1: key \"projects\": project IDs must be positive"},
		{"projects = [2, 3, 2]\n",
		 "t.toml:1: key \"projects\": project 2 is listed twice"},
		{"output_limit = -1\n",
		 "t.toml:1: key \"output_limit\": -1 is out of range"},
		{"output_limit = 0\n",
		 "t.toml:1: key \"output_limit\": 0 is out of range"},
		{"[agent]\nclaim_ahead = \"6s\"\n",
		 "t.toml:2: key \"agent.claim_ahead\": out of range (0 to "
		 "5000 milliseconds)"},
		{"[agent]\nmax_clock_offset = 0\n",
		 "t.toml:2: key \"agent.max_clock_offset\": out of range (1 "
		 "to 3600000 milliseconds)"},
		{"output_limit = \"lots\"\n",
		 "t.toml:1: key \"output_limit\": expected a number of bytes"},
		{"\nshell = \"/bin/bash\n",
		 "t.toml:2: key \"shell\": unterminated string (missing "
		 "closing \")"},
		{"shell = '/bin/bash\n",
		 "t.toml:1: key \"shell\": unterminated string"},
		{"shell = \"\"\n", "t.toml:1: key \"shell\": must not be empty"},
		{"shell = /bin/bash\n",
		 "t.toml:1: key \"shell\": strings must be quoted"},
		{"projects = [1,2\nshell = \"/bin/sh\"\n",
		 "t.toml:1: key \"projects\": array is missing its closing "
		 "\"]\""},
		{"\n\nprojects = [1,\n2\n",
		 "t.toml:3: key \"projects\": array is missing its closing "
		 "\"]\""},
		/* inside a multi-line array: the line of the item */
		{"projects = [\n  1,\n  \"x\",\n]\n",
		 "t.toml:3: key \"projects\": array items must all have the "
		 "same type"},
		{"[etcd]\nprojects = [\n  1,\n  \"x\n]\n",
		 "t.toml:4: key \"etcd.projects\": unterminated string"},
		{"[etcd]\npassword = \"abc\n",
		 "t.toml:2: key \"etcd.password\": unterminated string"},
		{"projects = [1,2\n[etcd]\n",
		 "t.toml:1: key \"projects\": array is missing its closing"},
		{"projects = [1 2]\n",
		 "t.toml:1: key \"projects\": expected \",\" or \"]\" after an "
		 "array item"},
		{"projects = [[1]]\n",
		 "t.toml:1: key \"projects\": nested arrays are not supported"},
		{"[etcd\nprefix = \"/x\"\n",
		 "t.toml:1: section header is missing its closing \"]\""},
		{"[etcd] x\n", "t.toml:1: unexpected text after section header"},
		{"[]\n", "t.toml:1: empty section name"},
		{"[[etcd]]\n", "t.toml:1: arrays of tables"},
		{"claim_ttl = 5\nclaim_ttl = 6\n",
		 "t.toml:2: key \"claim_ttl\": set twice (first on line 1)"},
		{"projects = [1]\n[etcd]\nprojects = [2]\n",
		 "t.toml:3: key \"etcd.projects\": set twice (first on line 1)"},
		{"[etcd]\ndialtimeout = \"5000\"\n",
		 "t.toml:2: key \"etcd.dialtimeout\": expected an integer"},
		{"[etcd]\ndialtimeout = 0\n",
		 "t.toml:2: key \"etcd.dialtimeout\": 0 is out of range"},
		{"[etcd]\nservice = []\n",
		 "t.toml:2: key \"etcd.service\": needs at least one address"},
		{"[etcd]\nservice = \"127.0.0.1:2379\"\n",
		 "t.toml:2: key \"etcd.service\": expected an array of strings"},
		{"[etcd]\nservice = [\"ftp://h:1\"]\n",
		 "t.toml:2: key \"etcd.service\": item 1: unsupported URL "
		 "scheme"},
		{"[etcd]\nprefix = \"gopher\"\n",
		 "t.toml:2: key \"etcd.prefix\": must start with \"/\""},
		{"[etcd]\ncert_file = \"/c.pem\"\n",
		 "t.toml:2: key \"etcd.cert_file\": cert_file and key_file must "
		 "be set together"},
		{"log_level = \"loud\"\n",
		 "t.toml:1: key \"log_level\": unknown level"},
		{"log_level = 7\n",
		 "t.toml:1: key \"log_level\": expected a quoted level name"},
		{"[deploy]\ntimeout = 1.5\n",
		 "t.toml:2: key \"deploy.timeout\": floats"},
		{"[deploy]\ntimeout = 05\n",
		 "t.toml:2: key \"deploy.timeout\": integers must not have "
		 "leading zeros"},
		{"[deploy]\ntimeout = 5 6\n",
		 "t.toml:2: key \"deploy.timeout\": unexpected text after the "
		 "value"},
		{"[deploy]\ntimeout = 99999999999999999999\n",
		 "t.toml:2: key \"deploy.timeout\": integer is too large"},
		{"[deploy]\ntimeout = true\n",
		 "t.toml:2: key \"deploy.timeout\": expected a number of seconds"},
		{"claim_ttl = \"1500ms\"\n",
		 "t.toml:1: key \"claim_ttl\": must be whole seconds"},
		{"claim_ttl = 0\n", "t.toml:1: key \"claim_ttl\": out of range"},
		{"kill_grace = -1\n", "t.toml:1: key \"kill_grace\": out of range"},
		{"kill_grace = \"2 parsecs\"\n",
		 "t.toml:1: key \"kill_grace\": expected a number of seconds or "
		 "a duration"},
		{"report_addr = \"ftp://h/x\"\n",
		 "t.toml:1: key \"report_addr\": unsupported URL scheme"},
		{"report_addr = \"http:///x\"\n",
		 "t.toml:1: key \"report_addr\": URL has no host"},
		{"client_ip = \"a/b\"\n",
		 "t.toml:1: key \"client_ip\": must be a non-empty name"},
		{"client_ip = \"\"\n",
		 "t.toml:1: key \"client_ip\": must be a non-empty name"},
		{"[mysql]\nservice = \"db:99999\"\n",
		 "t.toml:2: key \"mysql.service\": expected \"host:port\""},
		{"[mysql]\nservice = \"::1:3306\"\n",
		 "t.toml:2: key \"mysql.service\": expected \"host:port\""},
		{"[mysql]\nclient_ip = \"1.2.3.4\"\n",
		 "t.toml:2: key \"mysql.client_ip\": \"client_ip\" is a top-level "
		 "key: put it before the first [section]"},
		{"report_token = \"a\\qb\"\n",
		 "t.toml:1: key \"report_token\": unknown escape"},
		{"report_token = \"\\u12\"\n",
		 "t.toml:1: key \"report_token\": bad \\u escape"},
		{"report_token = \"\"\"x\"\"\"\n",
		 "t.toml:1: key \"report_token\": multi-line strings are not "
		 "supported"},
		{"report_token = { a = 1 }\n",
		 "t.toml:1: key \"report_token\": inline tables are not "
		 "supported"},
		{"report_token =\n",
		 "t.toml:1: key \"report_token\": missing value"},
		{"report_token = \"a\" \"b\"\n",
		 "t.toml:1: key \"report_token\": unexpected text after the value"},
		{"etcd.prefix = \"/x\"\n",
		 "t.toml:1: key \"etcd\": dotted keys are not supported"},
		{"\"quoted\" = 1\n", "t.toml:1: quoted keys are not supported"},
		{"just words\n", "t.toml:1: key \"just\": expected \"=\""},
		{"= 5\n", "t.toml:1: expected key = value"},
		{"report_token = \"a\x01\"\n",
		 "t.toml:1: key \"report_token\": control character in string"},
	};
	for (size_t i = 0; i < GC__ARRAY_LEN(cases); i++)
		agent_fails(cases[i].text, cases[i].want);
}

static void service_errors_name_file_line_and_key(void **state)
{
	(void)state;
	service_fails("[deploy]\nhost = [\"nope\"]\n",
		      "s.toml:2: key \"deploy.host\": item 1: expected "
		      "\"host:port\"");
	service_fails("[deploy]\nhost = [\"h:0\"]\n",
		      "s.toml:2: key \"deploy.host\": item 1: expected");
	service_fails("[deploy]\nhost = []\n",
		      "s.toml:2: key \"deploy.host\": needs at least one");
	service_fails("[jwt]\nexp = 0\n",
		      "s.toml:2: key \"jwt.exp\": 0 is out of range");
	service_fails("[sqlite]\npath = \"\"\n",
		      "s.toml:2: key \"sqlite.path\": must not be empty");
	service_fails("[log]\nretention_days = -1\n",
		      "s.toml:2: key \"log.retention_days\": -1 is out of range");
	service_fails("[log]\noutput_limit = \"100\"\n",
		      "s.toml:2: key \"log.output_limit\": 100 is out of range");
	service_fails("[report]\ntoken = 5\n",
		      "s.toml:2: key \"report.token\": expected a quoted string");
	service_fails("[jwt]\nlog_level = \"info\"\n",
		      "s.toml:2: key \"jwt.log_level\": \"log_level\" is a "
		      "top-level key");
	service_fails("[http]\nthreads = 0\n",
		      "s.toml:2: key \"http.threads\": 0 is out of range (1 "
		      "to 4096)");
	service_fails("[http]\nthreads = \"many\"\n",
		      "s.toml:2: key \"http.threads\": expected an integer");
	service_fails("[http]\nheader_timeout = \"50ms\"\n",
		      "s.toml:2: key \"http.header_timeout\": out of range "
		      "(100 to 3600000 milliseconds)");
	service_fails("[http]\nkeep_alive_timeout = \"soon\"\n",
		      "s.toml:2: key \"http.keep_alive_timeout\": expected a "
		      "number of seconds or a duration");
	service_fails("[http]\nrequest_timeout = 0\n",
		      "s.toml:2: key \"http.request_timeout\": out of range "
		      "(1000 to 3600000 milliseconds)");
	service_fails("[http]\nmax_idle_per_address = -1\n",
		      "s.toml:2: key \"http.max_idle_per_address\": -1 is out "
		      "of range (0 to 65536)");
	service_fails("[jwt]\nsecret = \"a\"\n[jwt]\nsecret = \"b\"\n",
		      "s.toml:4: key \"jwt.secret\": set twice (first on line "
		      "2)");
}

/* Under 32 bytes a [jwt] secret is refused, naming file, line and key;
 * empty means "random per start" as before. */
static void short_jwt_secret_is_refused(void **state)
{
	(void)state;
	gc_service_config c;
	gc_error err = {0, ""};
	service_fails("log_level = \"info\"\n[jwt]\nexp = 2\n"
		      "secret = \"k\"\n",
		      "s.toml:4: key \"jwt.secret\": too short (1 bytes, at "
		      "least 32)");
	service_fails("[jwt]\nsecret = \"0123456789abcdef0123456789abcde\"\n",
		      "s.toml:2: key \"jwt.secret\": too short (31 bytes");
	service_fails("[jwt]\nsecret = \"x\"\n",
		      "head -c 32 /dev/urandom | base64");
	assert_int_equal(gc_service_config_init(&c, GC_SERVICE_CONFIG_VERSION), 0);
	assert_int_equal(gc_service_config_load_string(
				 &c,
				 "[jwt]\nsecret = "
				 "\"0123456789abcdef0123456789abcdef\"\n",
				 "s.toml", NULL, NULL, &err),
			 0);
	assert_int_equal(strlen(c.jwt.secret), 32);
	assert_int_equal(gc_service_config_load_string(
				 &c, "[jwt]\nsecret = \"\"\n", "s.toml",
				 NULL, NULL, &err),
			 0);
	assert_true(!c.jwt.secret || !*c.jwt.secret);
	gc_service_config_clear(&c);
}

/* A config file holding a secret warns when others may read it, naming
 * the file, its mode and the fix; 0640 and files without secrets are
 * quiet. Through both loaders. */
static void config_with_secrets_readable_by_others_warns(void **state)
{
	(void)state;
	static const char svc_text[] =
		"[jwt]\nsecret = \"" LONG_SECRET "\"\n"
		"[mysql]\nservice = \"db:3306\"\npassword = \"hunter2secret\"\n";
	static const char agent_text[] =
		"report_addr = \"http://127.0.0.1:1/r\"\n"
		"report_token = \"tok-hunter2\"\n";
	static const char plain[] = "log_level = \"info\"\n";
	gc_service_config s;
	gc_agent_config a;
	gc_error err = {0, ""};
	logcap lc = {0, ""};
	char *p, *want;

	assert_int_equal(gc_service_config_init(&s, GC_SERVICE_CONFIG_VERSION), 0);
	p = write_copy(svc_text, strlen(svc_text), "service.toml", 0644);
	assert_int_equal(gc_service_config_load(&s, p, capture, &lc, &err), 0);
	assert_int_equal(lc.warnings, 1);
	want = gc__sprintf("%s holds secrets ([jwt] secret, [mysql] password) "
			   "but its mode 0644 lets other users read it: "
			   "chmod 640 %s",
			   p, p);
	if (!strstr(lc.text, want))
		fail_msg("\"%s\" lacks \"%s\"", lc.text, want);
	free(want);
	assert_null(strstr(lc.text, "hunter2secret"));
	assert_null(strstr(lc.text, LONG_SECRET));
	drop_copy(p);

	memset(&lc, 0, sizeof(lc));
	p = write_copy(svc_text, strlen(svc_text), "service.toml", 0640);
	assert_int_equal(gc_service_config_load(&s, p, capture, &lc, &err), 0);
	assert_int_equal(lc.warnings, 0);
	drop_copy(p);
	p = write_copy(plain, strlen(plain), "service.toml", 0644);
	assert_int_equal(gc_service_config_load(&s, p, capture, &lc, &err), 0);
	assert_int_equal(lc.warnings, 0);
	drop_copy(p);
	gc_service_config_clear(&s);

	assert_int_equal(gc_agent_config_init(&a, GC_AGENT_CONFIG_VERSION), 0);
	p = write_copy(agent_text, strlen(agent_text), "agent.toml", 0604);
	assert_int_equal(gc_agent_config_load(&a, p, capture, &lc, &err), 0);
	assert_int_equal(lc.warnings, 1);
	assert_non_null(strstr(lc.text, "holds secrets (report_token)"));
	assert_non_null(strstr(lc.text, "mode 0604"));
	assert_null(strstr(lc.text, "tok-hunter2"));
	drop_copy(p);
	memset(&lc, 0, sizeof(lc));
	p = write_copy(agent_text, strlen(agent_text), "agent.toml", 0600);
	assert_int_equal(gc_agent_config_load(&a, p, capture, &lc, &err), 0);
	assert_int_equal(lc.warnings, 0);
	drop_copy(p);
	gc_agent_config_clear(&a);
}

static void secrets_are_not_echoed_in_errors(void **state)
{
	(void)state;
	gc_agent_config c;
	gc_error err = {0, ""};
	assert_int_equal(gc_agent_config_init(&c, GC_AGENT_CONFIG_VERSION), 0);
	assert_int_equal(gc_agent_config_load_string(
				 &c, "[mysql]\npassword = hunter2secret\n",
				 "t.toml", NULL, NULL, &err),
			 GC_EINVAL);
	assert_non_null(strstr(err.msg, "t.toml:2: key \"mysql.password\""));
	assert_null(strstr(err.msg, "hunter2secret"));
	gc_agent_config_clear(&c);
}

/* ------------------------------------------------------- load semantics */

static void failed_load_leaves_the_config_untouched(void **state)
{
	(void)state;
	gc_agent_config c;
	gc_error err = {0, ""};
	logcap lc = {0, ""};
	agent_ok(&c, "projects = [1, 2]\nclaim_ttl = 9\n", &lc);
	assert_int_equal(gc_agent_config_load_string(
				 &c, "projects = [3]\nclaim_ttl = x\n", "t.toml",
				 NULL, NULL, &err),
			 GC_EINVAL);
	assert_int_equal(c.n_projects, 2);
	assert_int_equal(c.projects[1], 2);
	assert_int_equal(c.claim_ttl_s, 9);
	/* a good reload replaces everything, back to defaults for keys not
	 * in the new text */
	assert_int_equal(gc_agent_config_load_string(&c, "projects = [4]\n",
						     "t.toml", NULL, NULL,
						     &err),
			 0);
	assert_int_equal(c.n_projects, 1);
	assert_int_equal(c.projects[0], 4);
	assert_int_equal(c.claim_ttl_s, 60);
	gc_agent_config_clear(&c);
}

static void zero_filled_structs_can_be_loaded_and_cleared(void **state)
{
	(void)state;
	gc_agent_config a;
	gc_service_config s;
	memset(&a, 0, sizeof(a));
	memset(&s, 0, sizeof(s));
	assert_int_equal(gc_agent_config_load_string(&a, "projects = [1]\n",
						     NULL, NULL, NULL, NULL),
			 0);
	assert_int_equal(a.projects[0], 1);
	assert_int_equal(gc_service_config_load_string(&s, "", NULL, NULL,
						       NULL, NULL),
			 0);
	assert_string_equal(s.sqlite.path, "gophercron.db");
	gc_agent_config_clear(&a);
	gc_agent_config_clear(&a); /* twice is harmless */
	gc_service_config_clear(&s);
	gc_agent_config_clear(NULL);
	gc_service_config_clear(NULL);
}

static void string_name_defaults_in_messages(void **state)
{
	(void)state;
	gc_agent_config c;
	gc_error err = {0, ""};
	memset(&c, 0, sizeof(c));
	assert_int_equal(gc_agent_config_load_string(&c, "shell = 1\n", NULL,
						     NULL, NULL, &err),
			 GC_EINVAL);
	assert_non_null(strstr(err.msg, "<string>:1: key \"shell\""));
}

static void missing_file_is_not_found_with_its_path(void **state)
{
	(void)state;
	gc_agent_config c;
	gc_service_config s;
	gc_error err = {0, ""};
	memset(&c, 0, sizeof(c));
	memset(&s, 0, sizeof(s));
	assert_int_equal(gc_agent_config_load(&c, "/nonexistent/agent.toml",
					      NULL, NULL, &err),
			 GC_ENOTFOUND);
	assert_non_null(strstr(err.msg, "/nonexistent/agent.toml"));
	assert_int_equal(gc_service_config_load(&s, "/nonexistent/s.toml",
						NULL, NULL, &err),
			 GC_ENOTFOUND);
	assert_int_equal(gc_agent_config_load(&c, NULL, NULL, NULL, &err),
			 GC_EINVAL);
}

static void file_errors_carry_the_path_and_line(void **state)
{
	(void)state;
	char dir[] = "/tmp/gc-config-XXXXXX";
	char *path;
	FILE *f;
	gc_agent_config c;
	gc_error err = {0, ""};
	assert_non_null(mkdtemp(dir));
	path = gc__sprintf("%s/client.toml", dir);
	f = fopen(path, "we");
	assert_non_null(f);
	fputs("log_level = \"debug\"\n\n[etcd]\nservice = [\"a:1\"]\n"
	      "projects = [1,\"x\"]\n",
	      f);
	fclose(f);
	memset(&c, 0, sizeof(c));
	assert_int_equal(gc_agent_config_load(&c, path, NULL, NULL, &err),
			 GC_EINVAL);
	char *want = gc__sprintf("%s:5: key \"etcd.projects\"", path);
	assert_non_null(strstr(err.msg, want));
	free(want);
	/* a file that is not text at all */
	f = fopen(path, "we");
	assert_non_null(f);
	fwrite("a = 1\n\0\n", 1, 8, f);
	fclose(f);
	assert_int_equal(gc_agent_config_load(&c, path, NULL, NULL, &err),
			 GC_EINVAL);
	assert_non_null(strstr(err.msg, ":2: NUL byte"));
	unlink(path);
	rmdir(dir);
	free(path);
}

/* ------------------------------------------------------- file reading */

struct fifo_writer {
	const char *path, *text;
};

static void *write_fifo(void *p)
{
	const struct fifo_writer *w = p;
	int fd = open(w->path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		gc__write_full(fd, w->text, strlen(w->text));
		close(fd);
	}
	return NULL;
}

/* A config file reached through a symlink (as /etc/... often is) or fed
 * through a pipe loads as before; a directory or an oversized file is an
 * error naming the path. */
static void config_files_through_symlinks_and_pipes(void **state)
{
	(void)state;
	static const char text[] = "projects = [7]\n"
				   "report_token = \"tok-hunter2\"\n";
	gc_agent_config c;
	gc_error err = {0, ""};
	logcap lc = {0, ""};
	char *p = write_copy(text, strlen(text), "agent.toml", 0600), *dir,
	     *link, *fifo, *big;
	struct fifo_writer w;
	pthread_t th;
	gc__buf b = GC__BUF_INIT;

	dir = gc__strndup(p, (size_t)(strrchr(p, '/') - p));
	link = gc__sprintf("%s/link.toml", dir);
	fifo = gc__sprintf("%s/fifo.toml", dir);
	big = gc__sprintf("%s/big.toml", dir);
	assert_int_equal(symlink(p, link), 0);
	assert_int_equal(gc_agent_config_init(&c, GC_AGENT_CONFIG_VERSION), 0);
	assert_int_equal(gc_agent_config_load(&c, link, capture, &lc, &err), 0);
	assert_int_equal(c.projects[0], 7);

	/* a pipe has no mode worth a warning, as a string has none */
	assert_int_equal(mkfifo(fifo, 0644), 0);
	w.path = fifo;
	w.text = "projects = [8]\nreport_token = \"t\"\n";
	assert_int_equal(pthread_create(&th, NULL, write_fifo, &w), 0);
	assert_int_equal(gc_agent_config_load(&c, fifo, capture, &lc, &err), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(c.projects[0], 8);
	assert_int_equal(lc.warnings, 0);

	assert_int_equal(gc_agent_config_load(&c, dir, NULL, NULL, &err),
			 GC_EIO);
	assert_non_null(strstr(err.msg, dir));
	assert_non_null(strstr(err.msg, "read failed"));

	assert_int_equal(gc__buf_puts(&b, "# "), 0);
	while (b.len <= 1024 * 1024)
		assert_int_equal(gc__buf_puts(&b, "0123456789abcdef"), 0);
	{
		FILE *f = fopen(big, "we");
		assert_non_null(f);
		assert_int_equal(fwrite(b.data, 1, b.len, f), b.len);
		fclose(f);
	}
	assert_int_equal(gc_agent_config_load(&c, big, NULL, NULL, &err),
			 GC_ETOOBIG);
	assert_non_null(strstr(err.msg, "larger than 1048576 bytes"));
	assert_int_equal(c.projects[0], 8); /* untouched */
	gc__buf_free(&b);
	gc_agent_config_clear(&c);
	unlink(big);
	unlink(fifo);
	unlink(link);
	drop_copy(p);
	free(big);
	free(fifo);
	free(link);
	free(dir);
}

/* ------------------------------------------------------------ versions */

static void init_sets_the_version_and_clear_keeps_it(void **state)
{
	(void)state;
	gc_agent_config a;
	gc_service_config s;
	assert_int_equal(gc_agent_config_init(&a, GC_AGENT_CONFIG_VERSION), 0);
	assert_int_equal(a.version, GC_AGENT_CONFIG_VERSION);
	assert_int_equal(gc_service_config_init(&s, GC_SERVICE_CONFIG_VERSION), 0);
	assert_int_equal(s.version, GC_SERVICE_CONFIG_VERSION);
	assert_int_equal(gc_agent_config_load_string(&a, "projects = [1]\n",
						     NULL, NULL, NULL, NULL),
			 0);
	assert_int_equal(a.version, GC_AGENT_CONFIG_VERSION);
	gc_agent_config_clear(&a);
	gc_service_config_clear(&s);
	assert_int_equal(a.version, GC_AGENT_CONFIG_VERSION);
	assert_null(a.projects);
	assert_null(a.etcd.endpoints);
	assert_int_equal(a.claim_ttl_s, 0);
	assert_int_equal(s.version, GC_SERVICE_CONFIG_VERSION);
	assert_null(s.sqlite.path);
	/* a zero-filled struct is version 1 */
	memset(&a, 0, sizeof(a));
	assert_int_equal(gc_agent_config_load_string(&a, "", NULL, NULL, NULL,
						     NULL),
			 0);
	assert_int_equal(a.version, 1);
	gc_agent_config_clear(&a);
}

/* A struct of a version newer than the library's: load refuses it and
 * leaves it as it is; clear frees the fields the library knows. */
static void newer_version_is_refused(void **state)
{
	(void)state;
	gc_agent_config a;
	gc_service_config s;
	gc_error err = {0, ""};
	assert_int_equal(gc_agent_config_init(&a, GC_AGENT_CONFIG_VERSION), 0);
	assert_int_equal(gc_agent_config_load_string(&a, "projects = [1]\n",
						     NULL, NULL, NULL, NULL),
			 0);
	a.version = GC_AGENT_CONFIG_VERSION + 1;
	assert_int_equal(gc_agent_config_load_string(&a, "projects = [2]\n",
						     NULL, NULL, NULL, &err),
			 GC_EINVAL);
	assert_string_equal(err.msg, "config: gc_agent_config version 3 is "
				     "newer than this library's (2)");
	assert_int_equal(a.projects[0], 1);
	gc_agent_config_clear(&a); /* frees; LeakSanitizer would tell */
	assert_int_equal(a.version, GC_AGENT_CONFIG_VERSION + 1);
	assert_null(a.projects);
	assert_int_equal(gc_service_config_init(&s, GC_SERVICE_CONFIG_VERSION), 0);
	s.version = 7;
	assert_int_equal(gc_service_config_load_string(&s, "", "s.toml", NULL,
						       NULL, &err),
			 GC_EINVAL);
	assert_non_null(strstr(err.msg, "gc_service_config version 7"));
	assert_string_equal(s.sqlite.path, "gophercron.db");
	gc_service_config_clear(&s);
}

/* The library's handling of an older, shorter struct, through a kind with
 * two versions where version 1 ends before [mysql]: loading into a
 * version-1 struct (allocated at its own size: AddressSanitizer checks no
 * byte beyond is touched) fills its fields and frees the rest of the
 * loaded struct; clear frees only what version 1 has. */
/* The bytes of a short struct seen through the whole type. */
static gc_agent_config view(const void *p, size_t size)
{
	gc_agent_config v;
	memset(&v, 0, sizeof(v));
	memcpy(&v, p, size);
	return v;
}

static void older_shorter_version_is_filled_to_its_size(void **state)
{
	(void)state;
	const size_t v1 = offsetof(gc_agent_config, mysql);
	const size_t sizes[] = {0, v1, sizeof(gc_agent_config)};
	const unsigned one = 1;
	gc__cfg_kind k = gc__cfg_agent_kind;
	gc_agent_config loaded, v;
	void *old = calloc(1, v1);
	assert_non_null(old);
	k.version = 2;
	k.sizes = sizes;
	k.n_sizes = 3;
	assert_int_equal(gc__cfg_version_size(&k, 0), v1);
	assert_int_equal(gc__cfg_version_size(&k, 1), v1);
	assert_int_equal(gc__cfg_version_size(&k, 2), sizeof(loaded));
	assert_int_equal(gc__cfg_version_size(&k, 3), 0);

	memcpy(old, &one, sizeof(one));
	assert_int_equal(gc_agent_config_init(&loaded, GC_AGENT_CONFIG_VERSION), 0);
	loaded.projects = malloc(sizeof(*loaded.projects));
	assert_non_null(loaded.projects);
	loaded.projects[0] = 4;
	loaded.n_projects = 1;
	loaded.mysql.host = gc__strdup("db"); /* version 2 only: freed */
	gc__cfg_move(&k, old, v1, &loaded);
	v = view(old, v1);
	assert_int_equal(v.version, 1);
	assert_int_equal(v.projects[0], 4);
	assert_string_equal(v.etcd.prefix, "/gopher_cron");
	/* a second load frees what the first one put there */
	assert_int_equal(gc_agent_config_init(&loaded, GC_AGENT_CONFIG_VERSION), 0);
	gc__cfg_move(&k, old, v1, &loaded);
	assert_null(view(old, v1).projects);
	gc__cfg_clear(&k, old);
	v = view(old, v1);
	assert_int_equal(v.version, 1);
	assert_null(v.etcd.prefix);
	free(old);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(original_client_report_file_loads_unchanged),
		cmocka_unit_test(original_client_mysql_file_loads_unchanged),
		cmocka_unit_test(
			original_service_file_is_refused_for_its_published_secret),
		cmocka_unit_test(original_service_file_loads_with_its_own_secret),
		cmocka_unit_test(agent_full_sample_sets_every_key),
		cmocka_unit_test(service_full_sample_sets_every_key),
		cmocka_unit_test(agent_defaults_without_a_file),
		cmocka_unit_test(service_defaults_without_a_file),
		cmocka_unit_test(empty_text_gives_the_defaults),
		cmocka_unit_test(client_ip_default_is_a_non_loopback_ipv4),
		cmocka_unit_test(comments_full_line_inline_and_hash_inside_strings),
		cmocka_unit_test(arrays_with_spaces_trailing_commas_and_several_lines),
		cmocka_unit_test(string_escapes_are_decoded),
		cmocka_unit_test(ini_rules_do_not_apply),
		cmocka_unit_test(crlf_line_endings_and_bom_are_accepted),
		cmocka_unit_test(projects_and_shell_accepted_at_top_level_and_in_etcd),
		cmocka_unit_test(log_level_names),
		cmocka_unit_test(durations_and_sizes_take_units),
		cmocka_unit_test(endpoints_are_normalised_to_urls),
		cmocka_unit_test(mysql_service_is_split_into_host_and_port),
		cmocka_unit_test(
		    unknown_keys_and_sections_are_errors_with_a_suggestion),
		cmocka_unit_test(keys_of_1_10_files_stay_valid_in_either_file),
		cmocka_unit_test(every_error_names_file_line_and_key),
		cmocka_unit_test(service_errors_name_file_line_and_key),
		cmocka_unit_test(short_jwt_secret_is_refused),
		cmocka_unit_test(config_with_secrets_readable_by_others_warns),
		cmocka_unit_test(secrets_are_not_echoed_in_errors),
		cmocka_unit_test(failed_load_leaves_the_config_untouched),
		cmocka_unit_test(zero_filled_structs_can_be_loaded_and_cleared),
		cmocka_unit_test(string_name_defaults_in_messages),
		cmocka_unit_test(missing_file_is_not_found_with_its_path),
		cmocka_unit_test(file_errors_carry_the_path_and_line),
		cmocka_unit_test(config_files_through_symlinks_and_pipes),
		cmocka_unit_test(init_sets_the_version_and_clear_keeps_it),
		cmocka_unit_test(newer_version_is_refused),
		cmocka_unit_test(older_shorter_version_is_filled_to_its_size),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
