/*
 * broker.c - the broker's socket, loop and message handling.
 *
 * Single-threaded: one ZeroMQ ROUTER, zmq_poll with a timeout up to the next
 * deadline (round, liveness check). Every frame goes through wire_decode();
 * what it refuses, and what the registry refuses (unknown sender, a VM on
 * another host's connection, an old sequence number), is counted by reason,
 * logged once per peer and reason, answered with an Error and dropped.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "broker_int.h"

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
};

static const char *drop_name(int reason)
{
	if (reason < WIRE_N_REASONS)
		return wire_reason_name((wire_reason)reason);
	return drop_names[reason];
}

int64_t broker_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t broker_now_ms(void)
{
	return broker_now_us() / 1000;
}

int64_t broker_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void broker_config_default(broker_config *c)
{
	memset(c, 0, sizeof(*c));
	c->listen = "tcp://127.0.0.1:7411";
	c->db_path = "bourse.db";
	c->round_ms = 5000;
	c->heartbeat_ms = 1000;
	c->liveness = 3;
	market_params_default(&c->market);
	store_rec_policy_default(&c->recs);
	c->guard.max_actions_per_round = 4;
	c->guard.max_migrations_per_host = 2;
	c->guard.vm_cooldown_ms = 600000;
	c->guard.action_timeout_ms = 600000;
	c->peer_rate = 5000;
	c->peer_burst = 20000;
	c->store_outage_ms = 600000;
}

int broker_config_validate(const broker_config *c, char *err, size_t errlen)
{
	const char *bad = NULL;

	if (!c->listen || !*c->listen)
		bad = "the listen endpoint is empty";
	else if (!c->db_path || !*c->db_path)
		bad = "the database path is empty";
	else if (c->round_ms < 10 || c->round_ms > 3600000)
		bad = "round period must be 10 ms .. 1 h";
	else if (c->heartbeat_ms < 10 || c->heartbeat_ms > 600000)
		bad = "heartbeat interval must be 10 ms .. 10 min";
	else if (c->liveness < 1 || c->liveness > 1000)
		bad = "liveness must be 1 .. 1000 heartbeats";
	else if (c->max_rounds < 0)
		bad = "max rounds must be >= 0";
	else if (c->guard.max_actions_per_round < 0 ||
		 c->guard.max_migrations_per_host < 0)
		bad = "guardrail limits must be >= 0";
	else if (c->guard.vm_cooldown_ms < 0 || c->guard.action_timeout_ms < 1000)
		bad = "the VM cooldown must be >= 0 and the action timeout >= 1 s";
	else if (c->peer_rate < 0 || c->peer_burst < 1)
		bad = "the peer rate must be >= 0 and its burst >= 1";
	else if (c->store_outage_ms < 0)
		bad = "the store outage limit must be >= 0";
	else if (c->insecure && (c->key_file || c->allow_file))
		bad = "--insecure and CURVE keys (--key, --allow) contradict";
	if (bad) {
		snprintf(err, errlen, "%s", bad);
		return -1;
	}
	return market_params_validate(&c->market, err, errlen);
}

int broker_send(broker *b, const bconn *c, const Bourse__Envelope *e)
{
	size_t len;
	uint8_t *buf = wire_encode(e, &len);

	if (!buf) {
		fprintf(stderr, "broker: cannot encode a message (too big?)\n");
		return -1;
	}
	int rc = zmq_send(b->sock, c->rid, c->rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT);

	if (rc >= 0)
		rc = zmq_send(b->sock, buf, len, ZMQ_DONTWAIT);
	free(buf);
	/* EHOSTUNREACH (peer gone, ROUTER_MANDATORY) and EAGAIN (its queue is
	 * full) only lose this message: the peer re-syncs by itself. */
	return rc < 0 ? -1 : 0;
}

/* ref_seq and ref_sender say what is refused (0 and NULL: a frame that
 * could not be decoded). */
static void send_error(broker *b, const bconn *c, Bourse__ErrorCode code,
		       const char *msg, uint64_t ref_seq,
		       const char *ref_sender)
{
	Bourse__Envelope e;
	Bourse__Error er = BOURSE__ERROR__INIT;

	wire_envelope_init(&e, BOURSE__ROLE__ROLE_BROKER, "broker", 0);
	er.code = code;
	er.message = (char *)msg;
	er.ref_seq = ref_seq;
	if (ref_sender)
		er.ref_sender = (char *)ref_sender;
	er.supported_version = WIRE_VERSION;
	e.body_case = BOURSE__ENVELOPE__BODY_ERROR;
	e.error = &er;
	broker_send(b, c, &e);
}

static void rid_hex(const bconn *c, char *out, size_t outlen)
{
	size_t n = c->rid_len < 8 ? c->rid_len : 8;

	out[0] = 0;
	for (size_t i = 0; i < n && 2 * i + 3 <= outlen; i++)
		snprintf(out + 2 * i, 3, "%02x", c->rid[i]);
}

/* Count a refusal; log it the first time this peer earns this reason;
 * answer the peer, naming the refused envelope e (NULL: the frame could not
 * be decoded). */
/* Count a dropped frame of this reason from c. Returns 1 the first time c
 * earns the reason (the caller logs it then, naming the peer by id and
 * host), 0 after: drops are logged once per peer and reason. */
static int drop_first(broker *b, bconn *c, int reason, char *id, size_t idlen,
		      const char **host)
{
	b->drops[reason]++;
	b->stats.dropped++;
	if (c->logged & (1u << reason))
		return 0;
	c->logged |= 1u << reason;
	rid_hex(c, id, idlen);
	*host = c->host != BROKER_NO_SLOT ? b->reg.hosts[c->host].name : "-";
	return 1;
}

static void refuse(broker *b, bconn *c, int reason, Bourse__ErrorCode code,
		   const char *msg, const Bourse__Envelope *e)
{
	char id[20];
	const char *host;

	if (drop_first(b, c, reason, id, sizeof(id), &host))
		fprintf(stderr, "broker: peer %s (host %s): dropped (%s): %s "
			"[further drops of this kind from this peer are "
			"counted, not logged]\n", id, host, drop_name(reason), msg);
	send_error(b, c, code, msg, e ? e->seq : 0, e ? e->sender : NULL);
}

/* The answer to the Register of to (a host or VM name), naming it. */
static void send_welcome(broker *b, const bconn *c, const char *to)
{
	Bourse__Envelope e;
	Bourse__Welcome w = BOURSE__WELCOME__INIT;

	wire_envelope_init(&e, BOURSE__ROLE__ROLE_BROKER, "broker", 0);
	w.heartbeat_ms = (uint32_t)b->cfg->heartbeat_ms;
	w.liveness = b->cfg->liveness;
	w.round_ms = (uint32_t)b->cfg->round_ms;
	w.round = (uint64_t)b->round;
	w.name = (char *)to;
	e.body_case = BOURSE__ENVELOPE__BODY_WELCOME;
	e.welcome = &w;
	broker_send(b, c, &e);
}

static int persist_host(broker *b, bhost *h, store_host_state st)
{
	store_host_row row;
	char err[256];

	registry_host_row(h, st, broker_wall_ms(), &row);
	if (store_host_upsert(b->st, &row, err, sizeof(err))) {
		fprintf(stderr, "broker: store: host %s: %s\n", h->name, err);
		/* a host the store knows goes on in memory; round.c writes it
		 * again once the store is back */
		return h->db_id && store_last_fault(b->st) ? 0 : -1;
	}
	h->db_id = row.id;
	return 0;
}

static void host_back_online(broker *b, bhost *h)
{
	char err[256];

	if (h->online)
		return;
	h->online = 1;
	fprintf(stderr, "broker: host %s is back\n", h->name);
	if (h->db_id && store_host_set_state(b->st, h->db_id, STORE_HOST_ONLINE,
					     broker_wall_ms(), err, sizeof(err)))
		fprintf(stderr, "broker: store: %s\n", err);
}

static void register_host(broker *b, uint32_t ci, const Bourse__Envelope *e)
{
	bconn *c = &b->reg.conns[ci];
	const Bourse__HostConfig *hc = e->register_->host;
	uint32_t hi;

	if (c->host != BROKER_NO_SLOT &&
	    strcmp(b->reg.hosts[c->host].name, e->sender)) {
		refuse(b, c, BROKER_DROP_REFUSED, BOURSE__ERROR_CODE__ERROR_CONFLICT,
		       "this connection already speaks for another host", e);
		return;
	}
	hi = registry_host_add(&b->reg, e->sender);
	if (hi == BROKER_NO_SLOT)
		return;
	bhost *h = &b->reg.hosts[hi];

	if (h->conn != BROKER_NO_SLOT && h->conn != ci && h->registered)
		fprintf(stderr, "broker: host %s moved to a new connection\n",
			h->name);
	h->conn = ci;
	c->host = hi;
	h->capacity_mib = hc->capacity_mib;
	h->reserve_mib = hc->reserve_mib;
	if (h->capacity_mib > b->max_host_mib)
		b->max_host_mib = h->capacity_mib;
	snprintf(h->uri, sizeof(h->uri), "%s", hc->uri);
	h->last_seq = e->seq;
	h->last_seen = h->registered_at = broker_now_ms();
	h->has_ask = 0; /* it settles again (round.c) */
	if (persist_host(b, h, STORE_HOST_ONLINE))
		return;
	if (!h->registered) {
		fprintf(stderr, "broker: host %s registered (%" PRId64 " MiB)\n",
			h->name, h->capacity_mib);
		h->online = 1;
	}
	h->registered = 1;
	host_back_online(b, h);
	send_welcome(b, c, h->name);
}

static void vm_config(market_vm *m, const Bourse__VmConfig *vc)
{
	m->startup = vc->startup_mib;
	m->minimum = vc->minimum_mib;
	m->maximum = vc->maximum_mib;
	m->buffer_pct = vc->buffer_pct;
	m->weight = vc->weight;
	m->reservation = vc->reservation_mib;
	m->limit = vc->limit_mib;
	m->shares = vc->shares;
}

static int persist_vm(broker *b, bvm *m)
{
	store_vm_row row;
	char err[256];

	registry_vm_row(&b->reg, m, STORE_VM_ACTIVE, broker_wall_ms(), &row);
	if (store_vm_upsert(b->st, &row, err, sizeof(err))) {
		fprintf(stderr, "broker: store: vm %s: %s\n", m->name, err);
		/* as a host (persist_host()) */
		return m->db_id && store_last_fault(b->st) ? 0 : -1;
	}
	m->db_id = row.id;
	return 0;
}

static void register_vm(broker *b, uint32_t ci, const Bourse__Envelope *e)
{
	bconn *c = &b->reg.conns[ci];
	const Bourse__VmConfig *vc = e->register_->vm;
	uint32_t hi = registry_host_find(&b->reg, vc->host);
	char msg[300];

	if (hi == BROKER_NO_SLOT || !b->reg.hosts[hi].registered) {
		snprintf(msg, sizeof(msg), "host %s has no seller registered",
			 vc->host);
		refuse(b, c, BROKER_DROP_REFUSED,
		       BOURSE__ERROR_CODE__ERROR_INVALID, msg, e);
		return;
	}
	if (c->host != BROKER_NO_SLOT && c->host != hi) {
		snprintf(msg, sizeof(msg), "vm %s claims host %s, but this "
			 "connection speaks for host %s", e->sender, vc->host,
			 b->reg.hosts[c->host].name);
		refuse(b, c, BROKER_DROP_WRONG_HOST,
		       BOURSE__ERROR_CODE__ERROR_WRONG_HOST, msg, e);
		return;
	}
	uint32_t vi = registry_vm_add(&b->reg, e->sender);

	if (vi == BROKER_NO_SLOT)
		return;
	c = &b->reg.conns[ci];
	c->host = hi;
	bvm *m = &b->reg.vms[vi];

	if (m->registered && m->host != hi)
		fprintf(stderr, "broker: vm %s moved from host %s to %s\n",
			m->name, b->reg.hosts[m->host].name, vc->host);
	m->host = hi;
	vm_config(&m->cfg, vc);
	m->last_seq = e->seq;
	m->gone = 0;
	m->has_bid = 0; /* its next bid, under this config, counts */
	if (persist_vm(b, m))
		return;
	m->registered = 1;
	send_welcome(b, c, m->name);
}

/* More memory than the largest host registered has: no market can give
 * it. 0, or 1 with the refusal sent. */
static int absurd_mib(broker *b, uint32_t ci, const Bourse__Envelope *e,
		      const char *what, int64_t mib)
{
	char msg[300];

	if (b->max_host_mib <= 0 || mib <= b->max_host_mib)
		return 0;
	snprintf(msg, sizeof(msg), "%s: %s of %" PRId64 " MiB is more than "
		 "any host has (the largest: %" PRId64 " MiB)", e->sender,
		 what, mib, b->max_host_mib);
	refuse(b, &b->reg.conns[ci], BROKER_DROP_ABSURD,
	       BOURSE__ERROR_CODE__ERROR_INVALID, msg, e);
	return 1;
}

/* m: the frame, for the key behind it (CURVE binds a key to a host). */
static void on_register(broker *b, uint32_t ci, const Bourse__Envelope *e,
			zmq_msg_t *m)
{
	int host = e->role == BOURSE__ROLE__ROLE_HOST;
	const char *for_host = host ? e->sender : e->register_->vm->host;
	char msg[300];

	if (!broker_auth_may_speak_for(b, m, for_host, msg, sizeof(msg))) {
		refuse(b, &b->reg.conns[ci], BROKER_DROP_KEY,
		       BOURSE__ERROR_CODE__ERROR_WRONG_HOST, msg, e);
		return;
	}
	if (host)
		register_host(b, ci, e);
	else if (!absurd_mib(b, ci, e, "minimum",
			     e->register_->vm->minimum_mib))
		register_vm(b, ci, e);
}

/* The host slot a registered sender belongs to, after checking that it
 * speaks through that host's connection and that its seq moved forward;
 * *sender_slot is the sender's own (host or VM) slot. NO_SLOT (refused and
 * answered) otherwise. */
static uint32_t check_sender(broker *b, uint32_t ci, const Bourse__Envelope *e,
			     uint64_t **last_seq, uint32_t *sender_slot)
{
	bconn *c = &b->reg.conns[ci];
	uint32_t hi = BROKER_NO_SLOT, slot;
	char msg[300];

	if (e->role == BOURSE__ROLE__ROLE_HOST) {
		slot = registry_host_find(&b->reg, e->sender);
		if (slot != BROKER_NO_SLOT && b->reg.hosts[slot].registered) {
			hi = slot;
			*last_seq = &b->reg.hosts[slot].last_seq;
		}
	} else {
		slot = registry_vm_find(&b->reg, e->sender);
		if (slot != BROKER_NO_SLOT && b->reg.vms[slot].registered &&
		    !b->reg.vms[slot].gone) {
			hi = b->reg.vms[slot].host;
			*last_seq = &b->reg.vms[slot].last_seq;
		}
	}
	if (hi == BROKER_NO_SLOT) {
		snprintf(msg, sizeof(msg), "%s is not registered", e->sender);
		refuse(b, c, BROKER_DROP_UNKNOWN,
		       BOURSE__ERROR_CODE__ERROR_UNKNOWN_SENDER, msg, e);
		return BROKER_NO_SLOT;
	}
	/* a host speaks through the connection it registered on; a VM through
	 * any connection bound to its host (the host's own, or a buyer's that
	 * registered the VM naming that host) */
	if (c->host != hi || (e->role == BOURSE__ROLE__ROLE_HOST &&
			      b->reg.hosts[hi].conn != ci)) {
		snprintf(msg, sizeof(msg), "%s belongs to host %s, which does "
			 "not speak through this connection", e->sender,
			 b->reg.hosts[hi].name);
		refuse(b, c, BROKER_DROP_WRONG_HOST,
		       BOURSE__ERROR_CODE__ERROR_WRONG_HOST, msg, e);
		return BROKER_NO_SLOT;
	}
	if (e->seq <= **last_seq) {
		snprintf(msg, sizeof(msg), "%s: seq %" PRIu64 " is not after %"
			 PRIu64, e->sender, e->seq, **last_seq);
		refuse(b, c, BROKER_DROP_SEQUENCE,
		       BOURSE__ERROR_CODE__ERROR_SEQUENCE, msg, e);
		return BROKER_NO_SLOT;
	}
	*sender_slot = slot;
	return hi;
}

static void on_heartbeat(broker *b, uint32_t ci)
{
	Bourse__Envelope e;
	Bourse__Heartbeat hb = BOURSE__HEARTBEAT__INIT;

	wire_envelope_init(&e, BOURSE__ROLE__ROLE_BROKER, "broker", 0);
	e.body_case = BOURSE__ENVELOPE__BODY_HEARTBEAT;
	e.heartbeat = &hb;
	broker_send(b, &b->reg.conns[ci], &e);
}

static void on_bid(broker *b, uint32_t ci, uint32_t vi,
		   const Bourse__Envelope *e)
{
	bvm *m = &b->reg.vms[vi];
	const Bourse__Bid *bid = e->bid;

	m->cfg.demand = bid->demand_mib;
	m->cfg.assigned = bid->assigned_mib;
	m->cfg.guest_swap_mibps = bid->guest_swap_mibps;
	m->balloon_mib = bid->balloon_mib;
	m->reported_pressure = bid->pressure;
	m->has_bid = 1;
	m->last_bid = b->now;
	m->conn = ci;
}

static void on_ask(broker *b, uint32_t hi, const Bourse__Envelope *e)
{
	bhost *h = &b->reg.hosts[hi];

	h->free_mib = e->ask->free_mib;
	h->balloon_mib = e->ask->balloon_mib;
	h->host_swap_mibps = e->ask->host_swap_mibps;
	h->has_ask = 1;
}

/* slot: the sender's (host or VM) */
static void on_deregister(broker *b, uint32_t slot, const Bourse__Envelope *e)
{
	char err[256];
	int rc;

	if (e->role == BOURSE__ROLE__ROLE_HOST) {
		bhost *h = &b->reg.hosts[slot];

		h->registered = 0;
		h->online = 0;
		rc = store_host_set_state(b->st, h->db_id, STORE_HOST_GONE,
					  broker_wall_ms(), err, sizeof(err));
	} else {
		bvm *m = &b->reg.vms[slot];

		m->gone = 1;
		rc = store_vm_set_state(b->st, m->db_id, STORE_VM_GONE, err,
					sizeof(err));
	}
	fprintf(stderr, "broker: %s deregistered (%s)\n", e->sender,
		e->deregister->reason);
	if (rc)
		fprintf(stderr, "broker: store: %s\n", err);
}

static void dispatch(broker *b, uint32_t ci, const Bourse__Envelope *e,
		     zmq_msg_t *m)
{
	uint64_t *last_seq = NULL;
	uint32_t hi, slot = BROKER_NO_SLOT;

	if (e->body_case == BOURSE__ENVELOPE__BODY_REGISTER) {
		on_register(b, ci, e, m);
		return;
	}
	hi = check_sender(b, ci, e, &last_seq, &slot);
	if (hi == BROKER_NO_SLOT)
		return;
	if (e->body_case == BOURSE__ENVELOPE__BODY_BID &&
	    absurd_mib(b, ci, e, "demand", e->bid->demand_mib))
		return;
	*last_seq = e->seq;
	b->reg.hosts[hi].last_seen = b->now;
	host_back_online(b, &b->reg.hosts[hi]);
	switch (e->body_case) {
	case BOURSE__ENVELOPE__BODY_HEARTBEAT:
		on_heartbeat(b, ci);
		break;
	case BOURSE__ENVELOPE__BODY_BID:
		on_bid(b, ci, slot, e);
		break;
	case BOURSE__ENVELOPE__BODY_ASK:
		on_ask(b, hi, e);
		break;
	case BOURSE__ENVELOPE__BODY_DEREGISTER:
		on_deregister(b, slot, e);
		break;
	case BOURSE__ENVELOPE__BODY_ACTION_RESULT:
		broker_action_result(b, e);
		break;
	default: /* wire_validate() admits nothing else from agents */
		break;
	}
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

static void handle_frame(broker *b, uint32_t ci, zmq_msg_t *m)
{
	Bourse__Envelope *e = NULL;
	uint32_t peer_version = 0;
	char err[300];
	wire_reason r = wire_decode(zmq_msg_data(m), zmq_msg_size(m), &e,
				    &peer_version, err, sizeof(err));

	if (r != WIRE_OK) {
		if (r == WIRE_VERSION_MISMATCH)
			snprintf(err, sizeof(err), "protocol version %u is not "
				 "supported; this broker speaks version %u",
				 peer_version, WIRE_VERSION);
		refuse(b, &b->reg.conns[ci], r,
		       (Bourse__ErrorCode)wire_reason_error_code(r), err,
		       NULL);
		return;
	}
	dispatch(b, ci, e, m);
	wire_free(e);
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
		fprintf(stderr, "broker: peer %s (host %s): over %" PRId64
			" frames/s: dropping what exceeds it [counted, not "
			"logged]\n", id, host, cfg->peer_rate);
	return 0;
}

/* One message from the socket: [routing id][envelope]. Returns 0, or -1
 * when none is waiting. */
static int receive_one(broker *b)
{
	zmq_msg_t id, body;
	int more = 0;
	size_t sz = sizeof(more);

	zmq_msg_init(&id);
	if (zmq_msg_recv(&id, b->sock, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&id);
		return -1;
	}
	b->stats.msgs_in++;
	uint32_t ci = registry_conn(&b->reg, zmq_msg_data(&id),
				    zmq_msg_size(&id), b->now);

	zmq_msg_init(&body);
	zmq_getsockopt(b->sock, ZMQ_RCVMORE, &more, &sz);
	if (!more || zmq_msg_recv(&body, b->sock, 0) < 0) {
		if (ci != BROKER_NO_SLOT)
			refuse(b, &b->reg.conns[ci], BROKER_DROP_FRAMING,
			       BOURSE__ERROR_CODE__ERROR_MALFORMED,
			       "empty message", NULL);
		goto out;
	}
	if (zmq_msg_more(&body)) {
		drain(b->sock);
		if (ci != BROKER_NO_SLOT)
			refuse(b, &b->reg.conns[ci], BROKER_DROP_FRAMING,
			       BOURSE__ERROR_CODE__ERROR_MALFORMED,
			       "one envelope per message, not several frames",
			       NULL);
		goto out;
	}
	if (ci != BROKER_NO_SLOT && rate_ok(b, &b->reg.conns[ci]))
		handle_frame(b, ci, &body);
out:
	zmq_msg_close(&body);
	zmq_msg_close(&id);
	return 0;
}

int64_t broker_liveness_ms(const broker_config *c)
{
	return c->heartbeat_ms * (int64_t)c->liveness;
}

/* Hosts not heard from within the liveness timeout are lost. */
static void check_liveness(broker *b, int64_t now)
{
	int64_t timeout = broker_liveness_ms(b->cfg);
	char err[256];

	for (size_t i = 0; i < b->reg.n_hosts; i++) {
		bhost *h = &b->reg.hosts[i];

		if (!h->online || now - h->last_seen <= timeout)
			continue;
		h->online = 0;
		fprintf(stderr, "broker: host %s lost (silent for %" PRId64
			" ms)\n", h->name, now - h->last_seen);
		if (h->db_id &&
		    store_host_set_state(b->st, h->db_id, STORE_HOST_LOST,
					 broker_wall_ms(), err, sizeof(err)))
			fprintf(stderr, "broker: store: %s\n", err);
	}
	registry_sweep_conns(&b->reg, now, timeout);
}

static int open_socket(broker *b, char *err, size_t errlen)
{
	int one = 1, zero = 0, hwm = 100000;
	int64_t maxmsg = BROKER_HARD_MAX_FRAME;

	b->zctx = zmq_ctx_new();
	if (!b->zctx)
		goto fail;
	b->sock = zmq_socket(b->zctx, ZMQ_ROUTER);
	if (!b->sock)
		goto fail;
	zmq_setsockopt(b->sock, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(b->sock, ZMQ_ROUTER_MANDATORY, &one, sizeof(one));
	zmq_setsockopt(b->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
	zmq_setsockopt(b->sock, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(b->sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	if (broker_auth_open(b, err, errlen))
		return -1;
	if (zmq_bind(b->sock, b->cfg->listen))
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "cannot listen on %s: %s", b->cfg->listen,
		 zmq_strerror(zmq_errno()));
	return -1;
}

static int broker_open(broker *b, const broker_config *c, char *err,
		       size_t errlen)
{
	int64_t wait;

	memset(b, 0, sizeof(*b));
	b->cfg = c;
	if (broker_config_validate(c, err, errlen))
		return -1;
	/* bind first: a broker that cannot listen leaves no database behind
	 * (frames that arrive meanwhile wait in the socket) */
	if (open_socket(b, err, errlen))
		return -1;
	if (store_open(c->db_path, STORE_CREATE, &b->st, err, errlen))
		return -1;
	/* the loop answers nobody while it waits for another process's lock:
	 * a quarter of the shorter of the round and the liveness timeout
	 * (docs/storage.md, "When the store fails") */
	wait = c->round_ms < broker_liveness_ms(c) ? c->round_ms
						   : broker_liveness_ms(c);
	store_busy_ms(b->st, (int)(wait / 4 < STORE_BUSY_MS ? wait / 4
							    : STORE_BUSY_MS));
	if (store_round_last(b->st, &b->round, err, errlen))
		return -1;
	b->round++;
	if (registry_load(&b->reg, b->st, broker_now_ms(), err, errlen))
		return -1;
	b->next_round_at = broker_now_ms() + c->round_ms;
	fprintf(stderr, "broker: listening on %s, database %s, round %" PRId64
		" every %" PRId64 " ms, %zu hosts and %zu VMs known\n",
		c->listen, c->db_path, b->round, c->round_ms, b->reg.n_hosts,
		b->reg.n_vms);
	return 0;
}

static void broker_close(broker *b)
{
	broker_auth_close(b);
	if (b->sock)
		zmq_close(b->sock);
	if (b->zctx)
		zmq_ctx_term(b->zctx);
	broker_round_release(b);
	broker_dispatch_release(b);
	registry_release(&b->reg);
	store_close(b->st);
}

static void print_stats(const broker *b)
{
	fprintf(stderr, "broker: stopped after %" PRIu64 " rounds; %" PRIu64
		" messages in, %" PRIu64 " dropped", b->stats.rounds,
		b->stats.msgs_in, b->stats.dropped);
	for (int i = 1; i < BROKER_N_DROPS; i++)
		if (b->drops[i])
			fprintf(stderr, ", %s %" PRIu64, drop_name(i), b->drops[i]);
	if (b->keys_refused)
		fprintf(stderr, "; %" PRIu64 " connections refused (key not "
			"allowed)", b->keys_refused);
	fprintf(stderr, "\n");
}

static int done(const broker *b, volatile sig_atomic_t *stop)
{
	return *stop || b->store_gave_up || (b->cfg->max_rounds &&
			 (int64_t)b->stats.rounds >= b->cfg->max_rounds);
}

int broker_run(const broker_config *c, volatile sig_atomic_t *stop,
	       broker_stats *stats, char *err, size_t errlen)
{
	broker b;
	int64_t next_live;
	int rc;

	/* a file-size limit then fails the write (EFBIG), which the store
	 * reports like a full disk, instead of killing the broker */
	signal(SIGXFSZ, SIG_IGN);
	if (broker_open(&b, c, err, errlen)) {
		broker_close(&b);
		return -1;
	}
	next_live = broker_now_ms() + c->heartbeat_ms;
	while (!done(&b, stop)) {
		int64_t now = broker_now_ms();
		int64_t next = b.next_round_at < next_live ? b.next_round_at
							   : next_live;
		zmq_pollitem_t pi[2] = { { b.sock, 0, ZMQ_POLLIN, 0 },
					 { b.zap, 0, ZMQ_POLLIN, 0 } };
		int n = zmq_poll(pi, b.zap ? 2 : 1,
				 next > now ? (long)(next - now) : 0);

		if (n < 0 && zmq_errno() != EINTR)
			break;
		if (b.zap && (pi[1].revents & ZMQ_POLLIN))
			broker_auth_serve(&b);
		/* bounded batch, so that timers are not starved by a flood;
		 * one clock reading serves 256 frames (b.now): a slow batch
		 * (a flood, valgrind) must not age what it hears, or the
		 * liveness check would take busy peers for silent ones */
		for (int i = 0; n > 0 && i < 10000; i++) {
			if (i % 256 == 0)
				b.now = broker_now_ms();
			if (receive_one(&b))
				break;
		}
		now = broker_now_ms();
		if (now >= next_live) {
			check_liveness(&b, now);
			next_live = now + c->heartbeat_ms;
		}
		if (now >= b.next_round_at) {
			broker_round(&b);
			broker_dispatch(&b);
			b.next_round_at += c->round_ms;
			if (b.next_round_at <= now) /* fell behind: skip */
				b.next_round_at = now + c->round_ms;
		}
	}
	print_stats(&b);
	if (stats)
		*stats = b.stats;
	rc = b.store_gave_up ? -1 : 0; /* round.c said why */
	if (rc)
		snprintf(err, errlen, "%s", b.store_msg);
	broker_close(&b);
	return rc;
}
