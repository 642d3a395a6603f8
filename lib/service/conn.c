/* Connection guard: keeps idle and slow connections from holding civetweb's
 * worker threads.
 *
 * civetweb hands each accepted connection to one worker thread until it
 * closes, including while the worker waits for the request header and for
 * the next keep-alive request. Without a guard, as many connections as
 * there are workers that send nothing (or a header one byte at a time)
 * leave every other client queued until civetweb's timeouts expire. The
 * guard:
 *
 *  - sets TCP_DEFER_ACCEPT on the listening sockets: a connection that has
 *    sent nothing stays in the kernel (no fd, no worker) for about
 *    header_timeout, then is accepted like any other;
 *  - keeps one slot per connection a worker holds, noting whether it is in
 *    a request or waiting for one, and since when (atomics: the request path
 *    takes no lock);
 *  - when a connection has waited GUARD_SUSPECT_MS for its first request,
 *    or when fewer than 1/8 of the workers are free, lists the service's
 *    sockets (see below), every GUARD_TICK_MS (GUARD_PRESSED_TICK_MS while
 *    workers run short), and closes
 *      - connections whose first request header is not complete
 *        header_timeout after they were first listed,
 *      - beyond max_idle_per_address connections of one address waiting
 *        (idle keep-alive, or a header still arriving): the never-used ones
 *        first, oldest first, then the idle keep-alive ones, oldest first,
 *      - while workers run short, every connection that has been waiting
 *        GUARD_PRESSED_MS or more, and one that has not sent a byte yet
 *        once it has been listed before (the kernel let it in after the
 *        defer period, or past its SYN queue).
 *    A connection whose complete request header sits in its socket (one
 *    accepted while every worker was taken) is never closed, nor is one in
 *    a request.
 *
 * civetweb says nothing about a connection until its first request arrives
 * (mg_get_request_info() is NULL in init_connection), and cannot close a
 * connection from outside its worker. So the guard lists the process's
 * sockets whose local address is one the service listens on
 * (/proc/self/fd, getsockname, getpeername): a socket whose addresses match a
 * slot (known from its first request) is that connection; any other is waiting
 * for its first request, in a worker or in civetweb's queue. A connection is
 * closed with shutdown(), not close(): the fd stays civetweb's, and its worker
 * reads EOF and closes it. The slot lock is held from the listing to the last
 * shutdown, and civetweb calls connection_close (gc__guard_close, which
 * takes the lock) before it closes a worker's fd, so no fd the guard looked
 * at is closed and reused in between. */
#include "svc.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/tcp.h> /* struct tcp_info with tcpi_bytes_received */
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define GUARD_CUT	      INT64_C(-1) /* slot's `since` once the guard closes it */
#define GUARD_SUSPECT_MS      200   /* first request this late: start looking */
#define GUARD_TICK_MS	      100   /* look this often while one is late */
#define GUARD_PRESSED_TICK_MS 25    /* and this often while workers run short */
#define GUARD_PRESSED_MS      100   /* closed if waiting this long then */
#define GUARD_REPORT_MS	      60000 /* at most one summary warning a minute */
#define GUARD_PEEK_MAX	      16384 /* bytes looked at for a complete header */

struct gc__conn {
	bool used;
	/* peer and local port, set once at the first request */
	atomic_bool addressed;
	unsigned char peer[16]; /* IPv6, or IPv4 as ::ffff:a.b.c.d */
	uint16_t peer_port, local_port;
	/* > 0: waiting for a request since this now_ms(); 0: in a request;
	 * GUARD_CUT: being closed by the guard */
	atomic_int_fast64_t since;
	atomic_bool first; /* no request yet */
};

/* A connection to one of the service's listeners, from a listing. */
typedef struct sock {
	int fd;
	unsigned char peer[16];
	uint16_t peer_port, local_port;
	unsigned char key[16]; /* client_key(peer) */
	int64_t since;	/* waiting since (slot) or first seen (no slot) */
	gc__conn *slot; /* NULL: before its first request */
	bool closed;	/* no slot, shut down by an earlier listing */
	bool silent;	/* no slot, and not a byte received yet */
} sock;

/* A listening address of the service. */
typedef struct listener {
	unsigned char addr[16];
	bool any; /* 0.0.0.0 or :: */
	uint16_t port;
} listener;

enum { CUT_CAP = 0, CUT_HEADER, CUT_BUSY, CUT_KINDS };

struct gc__guard {
	gc_service *svc;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	bool thread_started, stop;
	bool parked;   /* sweeper waits without a deadline */
	bool pressure; /* workers ran short at the last sweep */
	gc__conn *slots;
	int n_slots, n_used;
	int busy_at;  /* n_used from which workers count as running short */
	int max_idle; /* per address, 0 = no cap */
	int64_t header_ms;
	listener listeners[GC__MAX_LISTENERS];
	size_t n_listeners;
	/* sockets without a slot at the last listing, with the time they
	 * were first seen (kept while listings follow each other) */
	sock *unknown;
	size_t n_unknown;
	uint64_t cuts[CUT_KINDS]; /* since the last summary */
	int64_t last_report_ms;
};

static int64_t now_ms(void)
{
	return gc__mono_ms() + 1; /* never 0, which means "in a request" */
}

/* ------------------------------------------------------------ addresses */

static void map_v4(const void *a4, unsigned char out[16])
{
	memset(out, 0, 10);
	out[10] = out[11] = 0xff;
	memcpy(out + 12, a4, 4);
}

static int is_v4(const unsigned char a[16])
{
	static const unsigned char prefix[12] = {0, 0, 0, 0, 0,	   0,
						 0, 0, 0, 0, 0xff, 0xff};
	return memcmp(a, prefix, 12) == 0;
}

/* "1.2.3.4", "::1", "::ffff:1.2.3.4" -> 16 bytes, IPv4 mapped. */
static int parse_addr(const char *s, unsigned char out[16])
{
	struct in_addr a4;
	if (inet_pton(AF_INET, s, &a4) == 1) {
		map_v4(&a4, out);
		return 0;
	}
	return inet_pton(AF_INET6, s, out) == 1 ? 0 : -1;
}

/* A socket address -> 16 bytes (IPv4 mapped) and a port. */
static int sockaddr_norm(const struct sockaddr_storage *ss, socklen_t len,
			 unsigned char out[16], uint16_t *port)
{
	if (ss->ss_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
		map_v4(&in->sin_addr, out);
		*port = ntohs(in->sin_port);
		return 0;
	}
	if (ss->ss_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 =
		    (const struct sockaddr_in6 *)ss;
		memcpy(out, &in6->sin6_addr, 16);
		*port = ntohs(in6->sin6_port);
		return 0;
	}
	return -1;
}

/* Connections counted together: one IPv4 address, one IPv6 /64 (a host
 * commonly holds a whole /64). The key of an IPv6 address keeps its /64
 * only, so it never equals an IPv4 key (whose last 8 bytes are not 0). */
static void client_key(const unsigned char a[16], unsigned char key[16])
{
	memcpy(key, a, 16);
	if (!is_v4(a))
		memset(key + 8, 0, 8);
}

static void addr_text(const unsigned char a[16], char out[INET6_ADDRSTRLEN])
{
	if (!inet_ntop(is_v4(a) ? AF_INET : AF_INET6, is_v4(a) ? a + 12 : a,
		       out, INET6_ADDRSTRLEN))
		strcpy(out, "?");
}

/* ------------------------------------------------------ listing sockets */

static DIR *open_fd_dir(int *dfd)
{
	DIR *d;
	*dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*dfd < 0)
		return NULL;
	d = fdopendir(*dfd);
	if (!d)
		close(*dfd);
	return d;
}

/* Next fd number from the directory, or -1 at the end. */
static int next_fd(DIR *d, int dfd)
{
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);
		if (*end == '\0' && end != e->d_name && fd >= 0 &&
		    fd <= INT32_MAX && fd != dfd)
			return (int)fd;
	}
	return -1;
}

/* Is a socket bound to this local address one of the service's? (Another
 * service of the process may use the same port on another address.) */
static int ours(const gc__guard *g, const unsigned char addr[16], uint16_t port)
{
	for (size_t i = 0; i < g->n_listeners; i++) {
		const listener *l = &g->listeners[i];
		if (l->port == port &&
		    (l->any || memcmp(l->addr, addr, 16) == 0))
			return 1;
	}
	return 0;
}

/* A [deploy] host ("ip:port", "[v6]:port", ":port" or "port") and the port
 * it was bound to. */
static void parse_listener(const char *host, int port, listener *l)
{
	static const unsigned char any4[16] = {0, 0, 0, 0, 0,	 0,
					       0, 0, 0, 0, 0xff, 0xff};
	static const unsigned char any6[16];
	const char *colon = strrchr(host, ':');
	char ip[INET6_ADDRSTRLEN];
	size_t n = colon ? (size_t)(colon - host) : 0;
	memset(l, 0, sizeof(*l));
	l->port = (uint16_t)port;
	l->any = true;
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		host++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(ip))
		return;
	memcpy(ip, host, n);
	ip[n] = '\0';
	if (parse_addr(ip, l->addr) == 0 && memcmp(l->addr, any4, 16) != 0 &&
	    memcmp(l->addr, any6, 16) != 0)
		l->any = false;
}

/* The connected TCP sockets whose local port is one of the service's.
 * Returns how many (*out malloc'd), 0 when none or on failure. */
static size_t list_sockets(const gc__guard *g, sock **out)
{
	int dfd, fd;
	DIR *d = open_fd_dir(&dfd);
	sock *v = NULL;
	size_t n = 0, cap = 0;
	*out = NULL;
	if (!d)
		return 0;
	while ((fd = next_fd(d, dfd)) >= 0) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		sock s;
		memset(&s, 0, sizeof(s));
		s.fd = fd;
		if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0 ||
		    sockaddr_norm(&ss, len, s.peer, &s.local_port) != 0 ||
		    !ours(g, s.peer, s.local_port))
			continue;
		len = sizeof(ss);
		if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0 ||
		    sockaddr_norm(&ss, len, s.peer, &s.peer_port) != 0)
			continue; /* a listener */
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			sock *nv = realloc(v, nc * sizeof(*v));
			if (!nv)
				break;
			v = nv;
			cap = nc;
		}
		v[n++] = s;
	}
	closedir(d);
	*out = v;
	return n;
}

/* 1 when the peer has not sent a single byte yet. */
static int silent(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	memset(&ti, 0, sizeof(ti));
	return getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 &&
	       len >= offsetof(struct tcp_info, tcpi_bytes_received) +
			  sizeof(ti.tcpi_bytes_received) &&
	       ti.tcpi_bytes_received == 0;
}

/* 1 when a complete request header waits in the socket (civetweb has not
 * read from it yet: the connection waits for a worker). */
static int header_waiting(int fd)
{
	char buf[GUARD_PEEK_MAX];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
	for (ssize_t i = 0; i + 1 < n; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i + 1] == '\n' ||
		    (buf[i + 1] == '\r' && i + 2 < n && buf[i + 2] == '\n'))
			return 1;
	}
	return 0;
}

static int same_socket(const sock *a, const sock *b)
{
	return a->peer_port == b->peer_port && a->local_port == b->local_port &&
	       memcmp(a->peer, b->peer, 16) == 0;
}

/* The slot of a socket (known from the connection's first request). */
static gc__conn *slot_of(gc__guard *g, const sock *s)
{
	for (int i = 0; i < g->n_slots; i++) {
		gc__conn *c = &g->slots[i];
		if (c->used && atomic_load(&c->addressed) &&
		    c->peer_port == s->peer_port &&
		    c->local_port == s->local_port &&
		    memcmp(c->peer, s->peer, 16) == 0)
			return c;
	}
	return NULL;
}

/* ---------------------------------------------------------------- close */

/* Mark a waiting slot as being closed; 0 when it is no longer waiting
 * (its request arrived meanwhile). */
static int claim(gc__conn *c)
{
	int_fast64_t s = atomic_load(&c->since);
	while (s > 0)
		if (atomic_compare_exchange_weak(&c->since, &s, GUARD_CUT))
			return 1;
	return 0;
}

/* Close one listed connection. Lock held. */
static void cut(gc__guard *g, sock *s, int kind)
{
	static const enum gc__counter counter[CUT_KINDS] = {
	    GC__M_CONN_CUT_CAP, GC__M_CONN_CUT_HEADER, GC__M_CONN_CUT_BUSY};
	static const char *const why[CUT_KINDS] = {
	    "over [http] max_idle_per_address", "[http] header_timeout",
	    "workers running short"};
	char a[INET6_ADDRSTRLEN];
	if (s->slot && !claim(s->slot))
		return;
	shutdown(s->fd, SHUT_RDWR);
	s->closed = true;
	g->cuts[kind]++;
	gc__metrics_inc(g->svc->metrics, counter[kind]);
	addr_text(s->peer, a);
	gc__svc_log(g->svc, GC_LOG_DEBUG,
		    "http: closed %s connection from %s port %u (%s)",
		    s->slot ? "an idle" : "a new", a, (unsigned)s->peer_port,
		    why[kind]);
}

/* By client; then the connections to keep first: those that have made a
 * request (real clients between requests), then the others; newest first
 * in both. */
static int by_client_keep_first(const void *pa, const void *pb)
{
	const sock *a = pa, *b = pb;
	int c = memcmp(a->key, b->key, 16);
	if (c)
		return c;
	if (!a->slot != !b->slot)
		return a->slot ? -1 : 1;
	return a->since < b->since ? 1 : a->since > b->since ? -1 : 0;
}

/* List the service's sockets and close what is due. Lock held. */
static void scan(gc__guard *g, int64_t now, int pressure)
{
	sock *s, *wait;
	size_t n = list_sockets(g, &s), n_wait = 0, n_unknown = 0;

	wait = n ? calloc(n, sizeof(*wait)) : NULL;
	for (size_t i = 0; i < n && wait; i++) {
		sock *k = &s[i];
		int64_t age;
		k->slot = slot_of(g, k);
		if (k->slot) {
			k->since = atomic_load(&k->slot->since);
			if (k->since <= 0)
				continue; /* in a request */
		} else {
			/* before its first request: in a worker, or queued */
			k->since = now;
			for (size_t j = 0; j < g->n_unknown; j++)
				if (same_socket(&g->unknown[j], k)) {
					k->since = g->unknown[j].since;
					k->closed = g->unknown[j].closed;
					break;
				}
			if (k->closed || header_waiting(k->fd)) {
				s[n_unknown++] = *k; /* kept for the next one */
				continue;
			}
		}
		age = now - k->since;
		client_key(k->peer, k->key);
		/* with TCP_DEFER_ACCEPT, a connection that has sent nothing
		 * was let in by the kernel after the defer period (or under
		 * a SYN flood): it has had its time */
		k->silent = !k->slot && silent(k->fd);
		if (!k->slot && age >= g->header_ms)
			cut(g, k, CUT_HEADER);
		else if (pressure &&
			 (age >= GUARD_PRESSED_MS ||
			  (k->silent && age >= GUARD_PRESSED_TICK_MS)))
			cut(g, k, CUT_BUSY);
		else
			wait[n_wait++] = *k;
		if (!k->slot)
			s[n_unknown++] = *k;
	}
	/* Per address, max_idle waiting connections stay. */
	if (g->max_idle > 0 && n_wait > (size_t)g->max_idle) {
		qsort(wait, n_wait, sizeof(*wait), by_client_keep_first);
		for (size_t i = 0, run = 0; i < n_wait; i++) {
			run = i && !memcmp(wait[i].key, wait[i - 1].key, 16)
				  ? run + 1
				  : 1;
			if (run <= (size_t)g->max_idle)
				continue;
			cut(g, &wait[i], CUT_CAP);
			for (size_t j = 0; !wait[i].slot && j < n_unknown; j++)
				if (same_socket(&s[j], &wait[i]))
					s[j].closed = true;
		}
	}
	free(wait);
	free(g->unknown);
	g->unknown = s; /* the first n_unknown entries */
	g->n_unknown = n_unknown;
}

/* ---------------------------------------------------------------- slots */

gc__conn *gc__guard_open(gc__guard *g)
{
	gc__conn *c = NULL;
	if (!g)
		return NULL;
	pthread_mutex_lock(&g->mu);
	for (int i = 0; i < g->n_slots && !c; i++)
		if (!g->slots[i].used)
			c = &g->slots[i];
	if (c) {
		c->used = true;
		atomic_store(&c->addressed, false);
		atomic_store(&c->since, now_ms());
		atomic_store(&c->first, true);
		g->n_used++;
		if (g->parked || (!g->pressure && g->n_used >= g->busy_at))
			pthread_cond_signal(&g->cv);
	}
	pthread_mutex_unlock(&g->mu);
	return c;
}

void gc__guard_busy(gc__conn *c, const char *remote_addr, int remote_port,
		    int local_port)
{
	int_fast64_t s;
	if (!c)
		return;
	if (!atomic_load(&c->addressed) && remote_addr &&
	    parse_addr(remote_addr, c->peer) == 0) {
		c->peer_port = (uint16_t)remote_port;
		c->local_port = (uint16_t)local_port;
		atomic_store(&c->addressed, true); /* publishes the above */
	}
	s = atomic_load(&c->since);
	while (s > 0 && !atomic_compare_exchange_weak(&c->since, &s, 0))
		;
	atomic_store(&c->first, false);
}

void gc__guard_idle(gc__conn *c)
{
	int_fast64_t s = 0;
	if (c)
		atomic_compare_exchange_strong(&c->since, &s, now_ms());
}

void gc__guard_close(gc__guard *g, gc__conn *c)
{
	if (!g || !c)
		return;
	pthread_mutex_lock(&g->mu);
	c->used = false;
	g->n_used--;
	pthread_mutex_unlock(&g->mu);
}

/* -------------------------------------------------------------- sweeper */

/* Close what is due; returns when to look again (0: when woken). Lock
 * held. */
static int64_t sweep(gc__guard *g, int64_t now)
{
	int64_t oldest_first = 0, next = 0;
	int pressure = g->n_used >= g->busy_at;
	uint64_t total;

	for (int i = 0; i < g->n_slots; i++) {
		const gc__conn *c = &g->slots[i];
		int_fast64_t s;
		if (!c->used || !atomic_load(&c->first))
			continue;
		s = atomic_load(&c->since);
		if (s > 0 && (!oldest_first || s < oldest_first))
			oldest_first = s;
	}
	if (pressure ||
	    (oldest_first && now - oldest_first >= GUARD_SUSPECT_MS)) {
		scan(g, now, pressure);
		next = now + (pressure ? GUARD_PRESSED_TICK_MS : GUARD_TICK_MS);
	} else {
		/* nothing looked suspicious: forget what was seen */
		free(g->unknown);
		g->unknown = NULL;
		g->n_unknown = 0;
		if (oldest_first)
			next = oldest_first + GUARD_SUSPECT_MS;
	}
	g->pressure = pressure;

	total = g->cuts[CUT_CAP] + g->cuts[CUT_HEADER] + g->cuts[CUT_BUSY];
	if (total && now - g->last_report_ms >= GUARD_REPORT_MS) {
		gc__svc_log(g->svc, GC_LOG_WARNING,
			    "http: closed %" PRIu64 " idle or slow connections "
			    "in the last minute: %" PRIu64 " over [http] "
			    "max_idle_per_address, %" PRIu64 " past [http] "
			    "header_timeout, %" PRIu64 " waiting while workers "
			    "ran short ([http] threads)",
			    total, g->cuts[CUT_CAP], g->cuts[CUT_HEADER],
			    g->cuts[CUT_BUSY]);
		memset(g->cuts, 0, sizeof(g->cuts));
		g->last_report_ms = now;
	}
	return next;
}

static void *sweeper(void *arg)
{
	gc__guard *g = arg;
	pthread_mutex_lock(&g->mu);
	while (!g->stop) {
		int64_t next = sweep(g, now_ms());
		if (next == 0) {
			g->parked = true;
			pthread_cond_wait(&g->cv, &g->mu);
			g->parked = false;
		} else {
			struct timespec ts;
			int64_t wait = next - now_ms();
			gc__mono_deadline(&ts, wait < 1 ? 1 : wait);
			pthread_cond_timedwait(&g->cv, &g->mu, &ts);
		}
	}
	pthread_mutex_unlock(&g->mu);
	return NULL;
}

/* ------------------------------------------------------------ lifecycle */

int gc__guard_new(gc__guard **out, gc_service *svc, int slots, int max_idle,
		  int64_t header_ms)
{
	gc__guard *g;
	pthread_condattr_t ca;
	*out = NULL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return GC_ENOMEM;
	g->slots = calloc((size_t)slots, sizeof(*g->slots));
	if (!g->slots) {
		free(g);
		return GC_ENOMEM;
	}
	for (int i = 0; i < slots; i++) {
		atomic_init(&g->slots[i].addressed, false);
		atomic_init(&g->slots[i].since, 0);
		atomic_init(&g->slots[i].first, false);
	}
	g->svc = svc;
	g->n_slots = slots;
	g->busy_at = slots - (slots / 8 > 1 ? slots / 8 : 1);
	g->max_idle = max_idle;
	g->header_ms = header_ms;
	g->last_report_ms = now_ms();
	pthread_mutex_init(&g->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g->cv, &ca);
	pthread_condattr_destroy(&ca);
	*out = g;
	return 0;
}

/* TCP_DEFER_ACCEPT on the service's listening sockets (civetweb does not
 * expose its fds: they are found by their address). Returns how many. */
static size_t defer_accept(const gc__guard *g, int seconds)
{
	int dfd, fd;
	DIR *d = open_fd_dir(&dfd);
	size_t set = 0;
	if (!d)
		return 0;
	while ((fd = next_fd(d, dfd)) >= 0) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss), olen;
		unsigned char addr[16];
		uint16_t port;
		int on = 0;
		olen = sizeof(on);
		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &olen) !=
			0 ||
		    !on || getsockname(fd, (struct sockaddr *)&ss, &len) != 0 ||
		    sockaddr_norm(&ss, len, addr, &port) != 0 ||
		    !ours(g, addr, port))
			continue;
		if (setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &seconds,
			       sizeof(seconds)) == 0)
			set++;
	}
	closedir(d);
	return set;
}

int gc__guard_start(gc__guard *g, char *const *hosts, size_t n_hosts,
		    const int *ports, size_t n_ports)
{
	sigset_t all, old;
	size_t n;
	int rc;
	if (n_ports > GC__MAX_LISTENERS)
		n_ports = GC__MAX_LISTENERS;
	for (size_t i = 0; i < n_ports; i++)
		parse_listener(i < n_hosts ? hosts[i] : "", ports[i],
			       &g->listeners[i]);
	g->n_listeners = n_ports;
	n = defer_accept(g, (int)((g->header_ms + 999) / 1000));
	if (n < n_ports)
		gc__svc_log(
		    g->svc, GC_LOG_WARNING,
		    "http: TCP_DEFER_ACCEPT set on %zu of %zu listening "
		    "sockets (is /proc mounted?): idle and slow "
		    "connections are only closed by civetweb's "
		    "timeouts",
		    n, n_ports);
	g->stop = false;
	/* the sweeper takes no signals: they stay the host's business */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&g->thread, NULL, sweeper, g);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		errno = rc;
		return GC_ESYS;
	}
	g->thread_started = true;
	return 0;
}

void gc__guard_stop(gc__guard *g)
{
	if (!g || !g->thread_started)
		return;
	pthread_mutex_lock(&g->mu);
	g->stop = true;
	pthread_cond_signal(&g->cv);
	pthread_mutex_unlock(&g->mu);
	pthread_join(g->thread, NULL);
	g->thread_started = false;
}

void gc__guard_free(gc__guard *g)
{
	if (!g)
		return;
	gc__guard_stop(g);
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mu);
	free(g->unknown);
	free(g->slots);
	free(g);
}
