/*
 * net.c - the bottom of the broker: its ROUTER socket, receiving a
 * well-framed message, sending an envelope, refusals (counted by reason,
 * logged once per peer and reason, answered with an Error) and the
 * per-connection rate limit; an ipc:// path another process listens on is
 * refused rather than taken over.
 *
 * Bounds per peer (docs/reliability.md, "Bounded resources per peer"):
 * queues of BROKER_HWM messages each way, a handshake timeout, TCP
 * keepalive (a peer gone without a word is found), and connections
 * closed by the broker: over the cap per key, not reading
 * (its queue full for the liveness timeout), or silent after it was
 * accepted. A ROUTER cannot drop one peer through libzmq's API
 * (zmq_disconnect() is for connect()ed endpoints; ZMQ_ROUTER_NOTIFY is a
 * draft Debian's 4.3.4 lacks), so net.c shuts down the socket libzmq
 * reads that peer from (ZMQ_SRCFD of its first frame): libzmq's I/O
 * thread sees the peer leave, closes the socket itself and frees its
 * queue. The socket's inode is checked first, so that a number libzmq
 * has meanwhile closed and reused for another peer is left alone.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <zmq.h>

#include "broker_int.h"
#include "banned.h"

/* ZMQ_MAXMSGSIZE: frames longer than this make libzmq drop the connection
 * before the broker sees them; frames up to it but over WIRE_MAX_FRAME are
 * counted as too_big. */
#define BROKER_HARD_MAX_FRAME (4 * (int64_t)WIRE_MAX_FRAME)

/* ZMQ_SNDHWM and ZMQ_RCVHWM: messages queued per peer each way (libzmq's
 * own default). A peer that reads is sent an Award a round and a few
 * other messages: 1,000 is minutes of them. Before, 100,000 let a peer
 * that never reads hold ~100,000 messages of the broker's memory (issue
 * 16 measured 2.3 MB/s of growth). Past it a send fails (EAGAIN, that message
 * lost, the peer re-syncs); failing for the liveness timeout drops the
 * peer. Inbound, a full queue stops libzmq reading that peer's socket:
 * its frames wait in the kernel and its own queue, none is lost. */
#define BROKER_HWM 1000

/* Connections closed by net.c logged by name at most this many times per
 * reason (then counted). */
#define BROKER_CUT_LOG_MAX 32

/* ZMQ_ACCEPT_FAILED (EMFILE: out of descriptors) logged at most this
 * often. */
#define BROKER_ACCEPT_LOG_MS 60000

/* By file descriptor: a connection accepted and not heard from yet. */
struct broker_fdinfo {
	uint64_t ino; /* its socket's inode; 0: none waits on this fd */
	int64_t at;   /* monotonic ms it was accepted */
};

static const char *const cut_names[BROKER_N_CUTS] = {
	[BROKER_CUT_KEY_CAP] = "over the connections per key",
	[BROKER_CUT_UNREAD] = "does not read",
	[BROKER_CUT_SILENT] = "silent",
};

static const char *const cut_labels[BROKER_N_CUTS] = {
	[BROKER_CUT_KEY_CAP] = "over_key_cap",
	[BROKER_CUT_UNREAD] = "not_reading",
	[BROKER_CUT_SILENT] = "silent",
};

const char *broker__cut_label(int why)
{
	return why >= 0 && why < BROKER_N_CUTS ? cut_labels[why] : "?";
}

static const char *const drop_names[BROKER_N_DROPS] = {
	[BROKER_DROP_UNKNOWN] = "unknown_sender",
	[BROKER_DROP_WRONG_HOST] = "wrong_host",
	[BROKER_DROP_SEQUENCE] = "sequence",
	[BROKER_DROP_FRAMING] = "framing",
	[BROKER_DROP_REFUSED] = "refused",
	[BROKER_DROP_KEY] = "not_authorised",
	[BROKER_DROP_ABSURD] = "absurd",
	[BROKER_DROP_RATE] = "rate_limited",
	[BROKER_DROP_STRAY] = "stray_result",
	[BROKER_DROP_OWNED] = "owned",
};

const char *broker__drop_name(int reason)
{
	if (reason < WIRE_N_REASONS)
		return wire_reason_name((wire_reason)reason);
	return drop_names[reason];
}

void broker__msg_init(wire_msg *m, wire_body body)
{
	wire_msg_init(m, WIRE_ROLE_BROKER, "broker", 0, body);
}

static void note_send(broker *b, const bconn *c, int rc);

int broker__send(broker *b, const bconn *c, const wire_msg *m)
{
	size_t len;
	uint8_t *buf = wire_msg_encode(m, &len);

	if (!buf) {
		log_at(LOG_ERR, NULL,
		       "broker: cannot encode a message (too big?)\n");
		return -1;
	}
	int rc = zmq_send(b->net.sock, c->rid, c->rid_len,
			  ZMQ_SNDMORE | ZMQ_DONTWAIT);

	if (rc >= 0)
		rc = zmq_send(b->net.sock, buf, len, ZMQ_DONTWAIT);
	free(buf);
	/* EHOSTUNREACH (peer gone, ROUTER_MANDATORY) and EAGAIN (its queue is
	 * full) only lose this message: the peer re-syncs by itself. */
	note_send(b, c, rc);
	return rc < 0 ? -1 : 0;
}

/* ref_seq and ref_sender say what is refused (0 and NULL: a frame that
 * could not be decoded). */
static void send_error(broker *b, const bconn *c, wire_error_code code,
		       const char *msg, uint64_t ref_seq,
		       const char *ref_sender)
{
	wire_msg m;

	broker__msg_init(&m, WIRE_BODY_ERROR);
	m.error.code = code;
	m.error.message = msg;
	m.error.ref_seq = ref_seq;
	m.error.ref_sender = ref_sender;
	m.error.supported_version = WIRE_VERSION;
	broker__send(b, c, &m);
}

static void rid_hex(const bconn *c, char *out, size_t outlen)
{
	size_t n = c->rid_len < 8 ? c->rid_len : 8;

	out[0] = 0;
	for (size_t i = 0; i < n && 2 * i + 3 <= outlen; i++)
		snprintf(out + 2 * i, 3, "%02x", c->rid[i]);
}

/* The inode of socket fd; 0 if fd is no open socket. */
static uint64_t sock_ino(int fd)
{
	struct stat st;

	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode))
		return 0;
	return (uint64_t)st.st_ino;
}

/* The address socket fd is connected to ("10.0.0.9:41234"), or "-". */
static void peer_name(int fd, char *out, size_t outlen)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	char ip[INET6_ADDRSTRLEN] = "";
	const void *a = NULL;
	unsigned port = 0;

	snprintf(out, outlen, "-");
	if (fd < 0 || getpeername(fd, (struct sockaddr *)&sa, &len) != 0)
		return;
	if (sa.ss_family == AF_INET) {
		a = &((struct sockaddr_in *)&sa)->sin_addr;
		port = ntohs(((struct sockaddr_in *)&sa)->sin_port);
	} else if (sa.ss_family == AF_INET6) {
		a = &((struct sockaddr_in6 *)&sa)->sin6_addr;
		port = ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
	}
	if (a && inet_ntop(sa.ss_family, a, ip, sizeof(ip)))
		snprintf(out, outlen, "%s:%u", ip, port);
	else if (sa.ss_family == AF_UNIX)
		snprintf(out, outlen, "ipc");
}

/* Shut socket fd down if it still is the socket of inode ino: libzmq's
 * I/O thread then sees the peer leave and closes it. 1 if it was done.
 * errno is kept (callers read zmq_errno() of the send before). */
static int shut(int fd, uint64_t ino)
{
	int saved = errno, ok;

	ok = ino && sock_ino(fd) == ino && shutdown(fd, SHUT_RDWR) == 0;
	errno = saved;
	return ok;
}

/* Count a connection closed for why; 1 if it is to be logged. */
static int cut_counted(broker *b, int why)
{
	b->net.cuts[why]++;
	return b->net.cuts[why] <= BROKER_CUT_LOG_MAX;
}

/* Close connection c (its frames still queued are not handled), logged
 * with detail the first BROKER_CUT_LOG_MAX times per reason. */
static void cut(broker *b, bconn *c, int why, const char *detail)
{
	char id[20], from[80];
	const char *host = c->host != BROKER_NO_SLOT ?
			   b->reg.hosts[c->host].name : "-";

	if (c->cut)
		return;
	c->cut = 1;
	peer_name(c->fd, from, sizeof(from)); /* before: shut, it has none */
	if (!shut(c->fd, c->ino) || !cut_counted(b, why))
		return;
	rid_hex(c, id, sizeof(id));
	log_at(LOG_WARNING, LOG_F(.host = host),
	       "broker: peer %s (host %s, from %s): connection closed (%s): "
	       "%s%s\n", id, host, from, cut_names[why], detail,
	       b->net.cuts[why] == BROKER_CUT_LOG_MAX ?
	       " [further closings for this reason are counted, not logged]"
	       : "");
}

/* After a send to c (rc its result): a peer whose queue has stayed full
 * (EAGAIN) for the liveness timeout does not read, and is dropped: its
 * queue would otherwise hold BROKER_HWM messages of the broker's memory
 * for as long as it stays connected. */
static void note_send(broker *b, const bconn *cc, int rc)
{
	int e = errno;
	int64_t now, limit = broker__liveness_ms(b->cfg);
	bconn *c;
	char msg[160];

	if (cc < b->reg.conns || cc >= b->reg.conns + b->reg.n_conns)
		return;
	c = &b->reg.conns[cc - b->reg.conns];
	if (rc >= 0 || e != EAGAIN) {
		c->unread_since = 0;
		return;
	}
	now = util_now_ms();
	if (!c->unread_since)
		c->unread_since = now;
	else if (now - c->unread_since >= limit) {
		snprintf(msg, sizeof(msg), "its queue of %d messages has been "
			 "full for %" PRId64 " ms", BROKER_HWM,
			 now - c->unread_since);
		cut(b, c, BROKER_CUT_UNREAD, msg);
	}
	errno = e;
}

/* Count a dropped frame of this reason from c. Returns 1 the first time c
 * earns the reason (the caller logs it then, naming the peer by id and
 * host), 0 after: drops are logged once per peer and reason. */
static int drop_first(broker *b, bconn *c, int reason, char *id, size_t idlen,
		      const char **host)
{
	b->net.drops[reason]++;
	b->net.dropped++;
	if (c->logged & (1u << reason))
		return 0;
	c->logged |= 1u << reason;
	rid_hex(c, id, idlen);
	*host = c->host != BROKER_NO_SLOT ? b->reg.hosts[c->host].name : "-";
	return 1;
}

int broker__drop_count(broker *b, bconn *c, int reason)
{
	char id[20];
	const char *host;

	return drop_first(b, c, reason, id, sizeof(id), &host);
}

/* Count a refusal; log it the first time this peer earns this reason;
 * answer the peer, naming the refused envelope e (NULL: the frame could not
 * be decoded). */
void broker__refuse(broker *b, bconn *c, int reason, wire_error_code code,
		    const char *msg, const wire_msg *e)
{
	char id[20];
	const char *host;

	if (drop_first(b, c, reason, id, sizeof(id), &host))
		log_at(LOG_WARNING, LOG_F(.host = host),
		       "broker: peer %s (host %s): dropped (%s): %s "
		       "[further drops of this kind from this peer are "
		       "counted, not logged]\n",
		       id, host, broker__drop_name(reason), msg);
	send_error(b, c, code, msg, e ? e->seq : 0, e ? e->sender : NULL);
}

/* Token bucket per connection: peer_rate frames a second, bursts up to
 * peer_burst (an agent registering its VMs). A frame over the limit is
 * counted and dropped before it is decoded, and not answered: answering
 * a flood would double it. 1 if the frame may be handled. */
static int rate_ok(broker *b, bconn *c)
{
	const broker_config *cfg = b->cfg;
	const char *host;
	char id[20];

	if (cfg->peer_rate <= 0)
		return 1;
	if (c->tokens < 0) {
		c->tokens = (double)cfg->peer_burst;
		c->tokens_at = b->now;
	} else if (b->now > c->tokens_at) {
		c->tokens += (double)(b->now - c->tokens_at) *
			     (double)cfg->peer_rate / 1000.0;
		if (c->tokens > (double)cfg->peer_burst)
			c->tokens = (double)cfg->peer_burst;
		c->tokens_at = b->now;
	}
	if (c->tokens >= 1) {
		c->tokens -= 1;
		return 1;
	}
	if (drop_first(b, c, BROKER_DROP_RATE, id, sizeof(id), &host))
		log_at(LOG_WARNING, LOG_F(.host = host),
		       "broker: peer %s (host %s): over %" PRId64
		       " frames/s: dropping what exceeds it [counted, not "
		       "logged]\n",
		       id, host, cfg->peer_rate);
	return 0;
}

/* Receive one frame and throw it away; 1 if more follow. */
static int drain_one(void *sock)
{
	zmq_msg_t m;
	int more;

	zmq_msg_init(&m);
	more = zmq_msg_recv(&m, sock, 0) >= 0 && zmq_msg_more(&m);
	zmq_msg_close(&m);
	return more;
}

/* Receive the rest of a multi-frame message and throw it away. */
static void drain(void *sock)
{
	int more = 1;
	size_t sz = sizeof(more);

	while (!zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz) && more) {
		zmq_msg_t m;

		zmq_msg_init(&m);
		zmq_msg_recv(&m, sock, 0);
		zmq_msg_close(&m);
	}
}

/* The one frame after a routing id, into body (initialised). 1, or 0 when
 * there is none or more than one (refused as framing if ci is a
 * connection). */
static int receive_body(broker *b, uint32_t ci, zmq_msg_t *body)
{
	const char *bad = NULL;
	int more = 0;
	size_t sz = sizeof(more);

	zmq_msg_init(body);
	zmq_getsockopt(b->net.sock, ZMQ_RCVMORE, &more, &sz);
	if (!more || zmq_msg_recv(body, b->net.sock, 0) < 0) {
		bad = "empty message";
	} else if (zmq_msg_more(body)) {
		drain(b->net.sock);
		bad = "one envelope per message, not several frames";
	}
	if (bad && ci != BROKER_NO_SLOT)
		broker__refuse(b, &b->reg.conns[ci], BROKER_DROP_FRAMING,
			       WIRE_ERR_MALFORMED, bad, NULL);
	return bad == NULL;
}

/* How many other connections of c's key are live, not closed by the
 * broker, and still on their socket. */
static size_t same_key(const broker *b, const bconn *c)
{
	size_t n = 0;

	for (size_t i = 0; i < b->reg.n_conns; i++) {
		const bconn *o = &b->reg.conns[i];

		if (o != c && o->live && !o->cut && !strcmp(o->key, c->key) &&
		    sock_ino(o->fd) == o->ino)
			n++;
	}
	return n;
}

/* The first frame of connection c: learn its socket and its key; over
 * the cap per key, close it. 1 if its frames may be handled. */
static int first_frame(broker *b, bconn *c, zmq_msg_t *body)
{
	const char *key = NULL;
	int64_t cap = b->cfg->max_conns_per_key;
	char msg[320];
	size_t n;

	if (c->ino)
		return !c->cut;
	c->fd = zmq_msg_get(body, ZMQ_SRCFD);
	c->ino = sock_ino(c->fd);
	if (!c->ino)
		c->ino = UINT64_MAX; /* not a socket: never shut */
	else if ((size_t)c->fd < b->net.cap_fds &&
		 b->net.fds[c->fd].ino == c->ino)
		b->net.fds[c->fd].ino = 0; /* heard: not silent */
	if (b->auth.curve)
		key = zmq_msg_gets(body, BROKER_KEY_PROPERTY);
	snprintf(c->key, sizeof(c->key), "%s", key ? key : "");
	if (!*c->key || cap <= 0 || (n = same_key(b, c)) < (size_t)cap)
		return 1;
	key = zmq_msg_gets(body, "User-Id");
	snprintf(msg, sizeof(msg), "key %s (host %s) holds %zu connections "
		 "already (--max-conns-per-key %" PRId64 ")", c->key,
		 key ? key : "-", n, cap);
	cut(b, c, BROKER_CUT_KEY_CAP, msg);
	return 0;
}

int broker__net_receive(broker *b, zmq_msg_t *body, uint32_t *ci)
{
	zmq_msg_t id;

	zmq_msg_init(&id);
	if (zmq_msg_recv(&id, b->net.sock, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&id);
		return -1;
	}
	b->net.msgs_in++;
	*ci = broker__registry_conn(&b->reg, zmq_msg_data(&id),
				    zmq_msg_size(&id), b->now);
	zmq_msg_close(&id);
	if (!receive_body(b, *ci, body) ||
	    (*ci != BROKER_NO_SLOT &&
	     (!first_frame(b, &b->reg.conns[*ci], body) ||
	      !rate_ok(b, &b->reg.conns[*ci]))))
		*ci = BROKER_NO_SLOT;
	return 0;
}

int64_t broker__liveness_ms(const broker_config *c)
{
	return c->heartbeat_ms * (int64_t)c->liveness;
}

/* An int option; 0, or -1 (zmq_errno() says why). */
static int opt_int(void *sock, int opt, int64_t v)
{
	int i = (int)v;

	return zmq_setsockopt(sock, opt, &i, sizeof(i));
}

/* TCP keepalive: a peer gone without a FIN or a reset (a host that lost
 * power, a cable pulled) is found by the kernel's probes within about
 * idle + count x interval s, and libzmq drops it as for a reset; else a
 * half-open connection would hold its place (and its key's count) for
 * the kernel's default 2 h. Not libzmq's heartbeats (ZMQ_HEARTBEAT_IVL):
 * with them, 4.3.4 aborts the broker (stream_engine_base.cpp, assertion
 * "!_io_error") when a peer whose input libzmq has paused (its queue
 * full) hangs up before a PING is due - seen in test_faults. */
#define BROKER_KEEPALIVE_IDLE_S 10
#define BROKER_KEEPALIVE_INTVL_S 5
#define BROKER_KEEPALIVE_CNT 3

/* The bounds: queues, handshake timeout, TCP keepalive. A peer that
 * sends but never reads is dropped by note_send(). */
static int sock_bounds(void *sock, const broker_config *c)
{
	return opt_int(sock, ZMQ_SNDHWM, BROKER_HWM) ||
	       opt_int(sock, ZMQ_RCVHWM, BROKER_HWM) ||
	       opt_int(sock, ZMQ_HANDSHAKE_IVL, c->handshake_ms) ||
	       opt_int(sock, ZMQ_TCP_KEEPALIVE, 1) ||
	       opt_int(sock, ZMQ_TCP_KEEPALIVE_IDLE, BROKER_KEEPALIVE_IDLE_S) ||
	       opt_int(sock, ZMQ_TCP_KEEPALIVE_INTVL,
		       BROKER_KEEPALIVE_INTVL_S) ||
	       opt_int(sock, ZMQ_TCP_KEEPALIVE_CNT, BROKER_KEEPALIVE_CNT);
}

/* The socket monitor: connections accepted (their fd), accept failures. */
static int monitor_open(broker_net *n)
{
	char ep[64];

	snprintf(ep, sizeof(ep), "inproc://bourse-broker-monitor-%p", n->sock);
	if (zmq_socket_monitor(n->sock, ep, ZMQ_EVENT_ACCEPTED |
			       ZMQ_EVENT_ACCEPT_FAILED))
		return -1;
	n->mon = zmq_socket(n->zctx, ZMQ_PAIR);
	/* a burst of connections (a flood) gives a burst of events: with
	 * libzmq's 1,000 the later ones (an accept failure) would be lost */
	return n->mon && !opt_int(n->mon, ZMQ_RCVHWM, 100000) &&
	       !zmq_connect(n->mon, ep) ? 0 : -1;
}

int broker__net_open(broker *b, char *err, size_t errlen)
{
	int one = 1, zero = 0;
	int64_t maxmsg = BROKER_HARD_MAX_FRAME;

	b->net.zctx = zmq_ctx_new();
	if (!b->net.zctx)
		goto fail;
	b->net.sock = zmq_socket(b->net.zctx, ZMQ_ROUTER);
	if (!b->net.sock)
		goto fail;
	zmq_setsockopt(b->net.sock, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(b->net.sock, ZMQ_ROUTER_MANDATORY, &one, sizeof(one));
	zmq_setsockopt(b->net.sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
	if (sock_bounds(b->net.sock, b->cfg) || monitor_open(&b->net))
		goto fail;
	return 0;
fail:
	return util_err(err, errlen, "cannot listen on %s: %s", b->cfg->listen,
			zmq_strerror(zmq_errno()));
}

/*
 * libzmq binds an ipc:// path by unlinking whatever is there and binding
 * anew: a second broker given the same path would silently take it from a
 * running one (whose agents then reconnect to the newcomer). So first try
 * to connect to it: a socket that accepts is someone's, refused. A path
 * with no socket, or a stale one (ECONNREFUSED: its process is gone), is
 * free. An abstract name (ipc://@name) the kernel itself keeps unique.
 */
static int ipc_free(const char *ep, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = ep + 6;
	int fd, rc;

	if (strncmp(ep, "ipc://", 6) != 0 || path[0] == '@' ||
	    strlen(path) >= sizeof(sa.sun_path))
		return 0; /* not a path; too long: zmq_bind() says so */
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0; /* cannot tell: zmq_bind() decides */
	rc = connect(fd, (const struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	if (rc == 0)
		return util_err(err, errlen, "cannot listen on %s: a process "
				"is listening on %s already (another broker? "
				"'fuser -v %s' names it); stop it, or give "
				"this broker another path", ep, path, path);
	return 0;
}

int broker__net_bind(broker *b, char *err, size_t errlen)
{
	size_t len = sizeof(b->net.endpoint);

	if (ipc_free(b->cfg->listen, err, errlen))
		return -1;
	if (zmq_bind(b->net.sock, b->cfg->listen) != 0)
		return util_err(err, errlen, "cannot listen on %s: %s",
				b->cfg->listen, zmq_strerror(zmq_errno()));
	/* A wildcard port (tcp://127.0.0.1:*) is only known now: the start
	 * line says which, so that a test or a script can connect. */
	if (zmq_getsockopt(b->net.sock, ZMQ_LAST_ENDPOINT, b->net.endpoint,
			   &len) != 0 || len == 0)
		snprintf(b->net.endpoint, sizeof(b->net.endpoint), "%s",
			 b->cfg->listen);
	return 0;
}

/* Connection fd accepted: silent past the grace, it will be closed. */
static void accepted(broker *b, int fd)
{
	size_t old = b->net.cap_fds;

	if (fd < 0)
		return;
	if ((size_t)fd >= old) {
		if (UTIL_GROW(b->net.fds, (size_t)fd + 1, b->net.cap_fds))
			return; /* no memory: it is not watched */
		memset(b->net.fds + old, 0,
		       (b->net.cap_fds - old) * sizeof(*b->net.fds));
	}
	b->net.fds[fd].ino = sock_ino(fd);
	b->net.fds[fd].at = util_now_ms();
}

/* accept(2) failed (err: errno): out of descriptors, most likely. Logged
 * once a minute at most. */
static void accept_failed(broker *b, int err)
{
	int64_t now = util_now_ms();

	b->net.accept_failed++;
	if (b->net.accept_logged &&
	    now - b->net.accept_logged < BROKER_ACCEPT_LOG_MS)
		return;
	b->net.accept_logged = now;
	log_at(LOG_WARNING, NULL, "broker: cannot accept a connection: %s (%"
	       PRIu64 " failures so far%s) [logged once a minute at most]\n",
	       strerror(err), b->net.accept_failed,
	       err == EMFILE || err == ENFILE ? "; out of descriptors: raise "
	       "LimitNOFILE=, docs/operations.md" : "");
}

void broker__net_monitor(broker *b)
{
	for (int i = 0; b->net.mon && i < 10000; i++) {
		zmq_msg_t m;
		uint16_t ev = 0;
		uint32_t val = 0;
		int more;

		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, b->net.mon, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&m);
			return;
		}
		if (zmq_msg_size(&m) >= 6) { /* [uint16 event][uint32 value] */
			memcpy(&ev, zmq_msg_data(&m), 2);
			memcpy(&val, (char *)zmq_msg_data(&m) + 2, 4);
		}
		more = zmq_msg_more(&m);
		zmq_msg_close(&m);
		while (more) /* the endpoint frame */
			more = drain_one(b->net.mon);
		if (ev == ZMQ_EVENT_ACCEPTED)
			accepted(b, (int)val);
		else if (ev == ZMQ_EVENT_ACCEPT_FAILED)
			accept_failed(b, (int)val);
	}
}

/* Has a connection of the registry spoken through socket (fd, ino)? */
static int heard(const broker *b, int fd, uint64_t ino)
{
	for (size_t i = 0; i < b->reg.n_conns; i++)
		if (b->reg.conns[i].live && b->reg.conns[i].fd == fd &&
		    b->reg.conns[i].ino == ino)
			return 1;
	return 0;
}

/* Connections the registry forgot (idle, bound to no host:
 * broker__registry_sweep_conns()) whose socket is still open and that no
 * live slot speaks through: closed once idle for grace, or a peer could
 * send a frame now and then on ever more connections, each counted
 * against its key only while remembered. A forgotten slot keeps its fd,
 * inode and last_seen until it is reused. */
static void close_forgotten(broker *b, int64_t now, int64_t grace)
{
	char msg[160];

	for (size_t i = 0; i < b->reg.n_conns; i++) {
		bconn *c = &b->reg.conns[i];

		if (c->live || !c->ino || c->cut ||
		    now - c->last_seen < grace)
			continue;
		if (heard(b, c->fd, c->ino)) { /* it spoke again: a new slot */
			c->cut = 1;
			continue;
		}
		snprintf(msg, sizeof(msg), "idle for %" PRId64 " ms, bound to "
			 "no host", now - c->last_seen);
		cut(b, c, BROKER_CUT_SILENT, msg);
	}
}

void broker__net_tick(broker *b, int64_t now)
{
	int64_t grace = b->cfg->handshake_ms + broker__liveness_ms(b->cfg);
	char from[80];

	close_forgotten(b, now, grace);

	for (size_t fd = 0; fd < b->net.cap_fds; fd++) {
		struct broker_fdinfo *f = &b->net.fds[fd];

		if (!f->ino || now - f->at < grace)
			continue;
		peer_name((int)fd, from, sizeof(from));
		if (!heard(b, (int)fd, f->ino) && shut((int)fd, f->ino) &&
		    cut_counted(b, BROKER_CUT_SILENT)) {
			log_at(LOG_WARNING, NULL, "broker: connection from %s "
			       "closed (%s): no frame in %" PRId64 " ms since "
			       "accepted%s\n",
			       from, cut_names[BROKER_CUT_SILENT], now - f->at,
			       b->net.cuts[BROKER_CUT_SILENT] ==
			       BROKER_CUT_LOG_MAX ? " [further closings for "
			       "this reason are counted, not logged]" : "");
		}
		f->ino = 0;
	}
}

void broker__net_close(broker_net *n)
{
	if (n->mon)
		zmq_close(n->mon);
	free(n->fds);
	n->fds = NULL;
	n->cap_fds = 0;
	n->mon = NULL;
	if (n->sock)
		zmq_close(n->sock);
	if (n->zctx)
		zmq_ctx_term(n->zctx);
	n->sock = n->zctx = NULL;
}
