/*
 * net.c - the bottom of the broker: its ROUTER socket, receiving a
 * well-framed message, sending an envelope, refusals (counted by reason,
 * logged once per peer and reason, answered with an Error) and the
 * per-connection rate limit; an ipc:// path another process listens on is
 * refused rather than taken over.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <zmq.h>

#include "broker_int.h"
#include "banned.h"

/* ZMQ_MAXMSGSIZE: frames longer than this make libzmq drop the connection
 * before the broker sees them; frames up to it but over WIRE_MAX_FRAME are
 * counted as too_big. */
#define BROKER_HARD_MAX_FRAME (4 * (int64_t)WIRE_MAX_FRAME)

static const char *const drop_names[BROKER_N_DROPS] = {
	[BROKER_DROP_UNKNOWN] = "unknown_sender",
	[BROKER_DROP_WRONG_HOST] = "wrong_host",
	[BROKER_DROP_SEQUENCE] = "sequence",
	[BROKER_DROP_FRAMING] = "framing",
	[BROKER_DROP_REFUSED] = "refused",
	[BROKER_DROP_KEY] = "not_authorised",
	[BROKER_DROP_ABSURD] = "absurd",
	[BROKER_DROP_RATE] = "rate_limited",
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
	    (*ci != BROKER_NO_SLOT && !rate_ok(b, &b->reg.conns[*ci])))
		*ci = BROKER_NO_SLOT;
	return 0;
}

int64_t broker__liveness_ms(const broker_config *c)
{
	return c->heartbeat_ms * (int64_t)c->liveness;
}

int broker__net_open(broker *b, char *err, size_t errlen)
{
	int one = 1, zero = 0, hwm = 100000;
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
	zmq_setsockopt(b->net.sock, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(b->net.sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
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

void broker__net_close(broker_net *n)
{
	if (n->sock)
		zmq_close(n->sock);
	if (n->zctx)
		zmq_ctx_term(n->zctx);
	n->sock = n->zctx = NULL;
}
