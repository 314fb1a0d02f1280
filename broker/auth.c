/*
 * auth.c - who may talk to the broker: ZeroMQ CURVE on its socket and a ZAP
 * handler that admits only the public keys of the allow-list.
 *
 * CURVE encrypts every frame and authenticates both ends. libzmq asks the
 * ZAP handler (RFC 27, a REP socket on inproc://zeromq.zap.01 in the same
 * context) about every handshake; this one answers 200 with the host the
 * key is bound to as the User-Id and the key itself (Z85) as the
 * connection's metadata property BROKER_KEY_PROPERTY (net.c counts a
 * key's connections by it), or 400. The broker then reads the User-Id
 * of a Register and refuses a key that speaks for another host
 * (session.c, on_register): a host's key cannot register or
 * bid for another host or its VMs.
 *
 * On by default for tcp:// endpoints: without --key and --allow the broker
 * refuses to start, unless --insecure is given (then it says so loudly).
 * ipc:// endpoints rely on the file system's permissions; CURVE applies to
 * them too when keys are given.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "broker_int.h"
#include "banned.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_DOMAIN "bourse"

/* Refused keys logged by name at most this many times (then counted). */
#define AUTH_LOG_MAX 64

static int is_tcp(const char *ep)
{
	return strncmp(ep, "tcp://", 6) == 0;
}

/* CURVE server options on the broker's socket, before it binds. */
static int curve_server(void *sock, const keys_pair *kp)
{
	int one = 1;

	return zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof(one)) ||
	       zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, kp->sec,
			      KEYS_Z85_LEN) ||
	       zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, ZAP_DOMAIN,
			      strlen(ZAP_DOMAIN));
}

/* Neither --key nor --allow: only where the endpoint allows it. */
static int without_keys(const broker_config *c, char *err, size_t errlen)
{
	if (is_tcp(c->listen) && !c->insecure)
		return util_err(err, errlen, "%s is a TCP endpoint: give the "
				"broker --key FILE and --allow FILE (see "
				"bourse keygen), or --insecure to run without "
				"authentication", c->listen);
	if (c->insecure)
		log_at(LOG_WARNING, NULL,
		       "broker: WARNING: --insecure: no CURVE "
		       "on %s. Anyone who reaches it can register as "
		       "any host, bid for any VM and read every award. "
		       "Use it on a trusted network only.\n",
		       c->listen);
	return 0;
}

int broker__auth_open(broker_auth *a, const broker_config *c, void *zctx,
		      void *sock, char *err, size_t errlen)
{
	keys_pair kp;

	if (!c->key_file && !c->allow_file)
		return without_keys(c, err, errlen);
	if (!c->key_file || !c->allow_file)
		return util_err(err, errlen, "CURVE needs both --key (the "
				"broker's key pair) and --allow (the agents' "
				"public keys)");
	if (keys_read_pair(c->key_file, &kp, err, errlen) ||
	    keys_allow_read(c->allow_file, &a->allow, err, errlen))
		return -1;
	a->zap = zmq_socket(zctx, ZMQ_REP);
	if (!a->zap || zmq_bind(a->zap, ZAP_ENDPOINT) ||
	    curve_server(sock, &kp))
		return util_err(err, errlen, "cannot set up CURVE: %s",
				zmq_strerror(zmq_errno()));
	a->curve = 1;
	log_at(LOG_NOTICE, NULL,
	       "broker: CURVE on, public key %s, %zu agent keys "
	       "allowed (%s)\n",
	       kp.pub, a->allow.n, c->allow_file);
	return 0;
}

void broker__auth_close(broker_auth *a)
{
	if (a->zap)
		zmq_close(a->zap);
	a->zap = NULL;
	keys_allow_release(&a->allow);
}

/* ZAP request frames (RFC 27): version, request id, domain, address,
 * identity, mechanism, then the mechanism's credentials (CURVE: the
 * client's 32-byte public key). */
#define ZAP_FRAMES 7

typedef struct zap_req {
	zmq_msg_t f[ZAP_FRAMES];
	int n; /* frames received (extra ones are drained) */
} zap_req;

static int zap_recv(void *s, zap_req *q)
{
	int more = 1;

	q->n = 0;
	while (more) {
		zmq_msg_t m;

		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, s, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&m);
			return q->n ? 0 : -1;
		}
		more = zmq_msg_more(&m);
		if (q->n < ZAP_FRAMES)
			q->f[q->n++] = m;
		else
			zmq_msg_close(&m);
	}
	return 0;
}

/* key (binary, or NULL): sent as the connection's metadata property
 * BROKER_KEY_PROPERTY, in Z85, so that net.c counts connections per key
 * (ZMTP's property list: a 1-byte name length, the name, a 4-byte
 * big-endian value length, the value). */
static void zap_reply(void *s, zmq_msg_t *req_id, const char *status,
		      const char *text, const char *user, const uint8_t *key)
{
	static const char name[] = BROKER_KEY_PROPERTY;
	uint8_t meta[1 + sizeof(name) - 1 + 4 + KEYS_Z85_LEN + 1];
	size_t n = 0;

	if (key) {
		meta[n++] = (uint8_t)(sizeof(name) - 1);
		memcpy(meta + n, name, sizeof(name) - 1);
		n += sizeof(name) - 1;
		memcpy(meta + n, (const uint8_t[]){ 0, 0, 0, KEYS_Z85_LEN }, 4);
		n += 4;
		zmq_z85_encode((char *)meta + n, key, KEYS_BIN_LEN);
		n += KEYS_Z85_LEN;
	}
	zmq_send(s, "1.0", 3, ZMQ_SNDMORE);
	zmq_send(s, zmq_msg_data(req_id), zmq_msg_size(req_id), ZMQ_SNDMORE);
	zmq_send(s, status, strlen(status), ZMQ_SNDMORE);
	zmq_send(s, text, strlen(text), ZMQ_SNDMORE);
	zmq_send(s, user, strlen(user), ZMQ_SNDMORE);
	zmq_send(s, meta, n, 0);
}

/* Log a refused key, naming it in Z85 and where it came from. */
static void log_refusal(broker_auth *a, zmq_msg_t *addr, const uint8_t *key)
{
	char z85[KEYS_Z85_LEN + 1] = "?", ip[64];
	size_t n = zmq_msg_size(addr) < sizeof(ip) - 1 ? zmq_msg_size(addr)
						       : sizeof(ip) - 1;

	a->keys_refused++;
	if (a->keys_refused > AUTH_LOG_MAX)
		return;
	memcpy(ip, zmq_msg_data(addr), n);
	ip[n] = '\0';
	if (key)
		zmq_z85_encode(z85, key, KEYS_BIN_LEN);
	log_at(LOG_WARNING, NULL,
	       "broker: refused a connection from %s: key %s is not "
	       "in the allow-list%s\n",
	       ip, z85,
	       a->keys_refused == AUTH_LOG_MAX
		       ? " [further refusals are counted, not logged]"
		       : "");
}

/* One handshake: the key's host, or a refusal. */
static void zap_answer(broker_auth *a, zap_req *q)
{
	const char *host = NULL;
	const uint8_t *key = NULL;

	if (q->n == ZAP_FRAMES && zmq_msg_size(&q->f[5]) == 5 &&
	    !memcmp(zmq_msg_data(&q->f[5]), "CURVE", 5) &&
	    zmq_msg_size(&q->f[6]) == KEYS_BIN_LEN) {
		key = zmq_msg_data(&q->f[6]);
		host = keys_allow_find(&a->allow, key);
	}
	if (host) {
		zap_reply(a->zap, &q->f[1], "200", "OK", host, key);
		return;
	}
	log_refusal(a, q->n > 3 ? &q->f[3] : &q->f[0], key);
	zap_reply(a->zap, &q->f[1], "400", "key not allowed", "", NULL);
}

void broker__auth_serve(broker_auth *a)
{
	zap_req q;

	while (a->zap && zap_recv(a->zap, &q) == 0) {
		if (q.n >= 2) {
			zap_answer(a, &q);
		} else { /* not RFC 27; a REP socket must answer anyway */
			zmq_msg_t none;

			zmq_msg_init(&none);
			zap_reply(a->zap, &none, "500", "bad request", "",
				  NULL);
			zmq_msg_close(&none);
		}
		for (int i = 0; i < q.n; i++)
			zmq_msg_close(&q.f[i]);
	}
}

int broker__auth_may_speak_for(const broker_auth *a, zmq_msg_t *m,
			       const char *host, char *msg, size_t msglen)
{
	const char *user;

	if (!a->curve)
		return 1;
	user = zmq_msg_gets(m, "User-Id");
	if (user && !strcmp(user, host))
		return 1;
	snprintf(msg, msglen, "this connection's key belongs to %s, not to "
		 "host %s", user && *user ? user : "no host", host);
	return 0;
}
