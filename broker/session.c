/*
 * session.c - the broker's conversation with each agent: registration of
 * hosts and VMs, the checks on every later sender (registered, through the
 * right connection, sequence moving forward), the message handlers, and
 * hosts lost to silence.
 *
 * Every frame goes through wire_msg_decode(); what it refuses, and what the
 * registry refuses (unknown sender, a VM on another host's connection, an
 * old sequence number), is refused through net.c: counted by reason,
 * logged once per peer and reason, answered with an Error and dropped.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "broker_int.h"
#include "banned.h"

/* VM m now speaks from another host: it migrated (or its old host let it
 * go). The market keeps it there for migrate_cooldown rounds and does not
 * send it back for migrate_return_rounds (docs/market.md, "Migration"). */
static void note_move(broker *b, bvm *m)
{
	for (int k = MARKET_LEFT_HOSTS - 1; k > 0; k--) {
		m->left_slot1[k] = m->left_slot1[k - 1];
		m->left_round[k] = m->left_round[k - 1];
	}
	m->left_slot1[0] = m->host + 1;
	m->left_round[0] = b->rounds.next;
	m->cfg.last_migrated = b->rounds.next;
}

/* The answer to the Register of to (a host or VM name), naming it. */
static void send_welcome(broker *b, const bconn *c, const char *to)
{
	wire_msg m;

	broker__msg_init(&m, WIRE_BODY_WELCOME);
	m.welcome.heartbeat_ms = (uint32_t)b->cfg->heartbeat_ms;
	m.welcome.liveness = b->cfg->liveness;
	m.welcome.round_ms = (uint32_t)b->cfg->round_ms;
	m.welcome.round = (uint64_t)b->rounds.next;
	m.welcome.name = to;
	broker__send(b, c, &m);
}

static int persist_host(broker *b, bhost *h, store_host_state st)
{
	store_host_row row;
	char err[256];

	broker__registry_host_row(h, st, util_wall_ms(), &row);
	if (store_host_upsert(b->st, &row, err, sizeof(err))) {
		log_at(LOG_ERR, LOG_F(.host = h->name), "broker: store: host %s: %s\n", h->name, err);
		/* a host the store knows goes on in memory; outage.c writes it
		 * again once the store is back */
		return h->db_id && broker__outage_faulted(b) ? 0 : -1;
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
	log_at(LOG_NOTICE, LOG_F(.host = h->name), "broker: host %s is back\n", h->name);
	if (h->db_id && store_host_set_state(b->st, h->db_id, STORE_HOST_ONLINE,
					     util_wall_ms(), err, sizeof(err)))
		log_at(LOG_ERR, LOG_F(.host = h->name), "broker: store: %s\n", err);
}

/* A registered host's connection is taken over by a new one only once the
 * old one is gone (libzmq has dropped it: the agent closed it, or a reset)
 * or has been silent for TAKEOVER_HEARTBEATS heartbeats (a live agent
 * sends one every heartbeat_ms), and under CURVE only by the host's key
 * (on_register() checked it): a reset connection heals, a second live
 * connection cannot take the host over - nor, with CURVE, a second agent
 * started with the same key, which would otherwise take it back and forth
 * at every heartbeat (docs/protocol.md, "Re-registration"). */
#define TAKEOVER_HEARTBEATS 2

/* Has libzmq dropped connection c's peer? Asked by sending it a Heartbeat
 * (ROUTER_MANDATORY: EHOSTUNREACH if it is gone), which a live agent takes
 * as one more sign that the broker is there. Silence is the yardstick
 * for a peer libzmq has not seen go (a cable pulled): frames that waited
 * in its queue while the broker was busy are read late, and make a dead
 * connection look recently heard. */
static int conn_gone(broker *b, const bconn *c)
{
	wire_msg m;

	broker__msg_init(&m, WIRE_BODY_HEARTBEAT);
	return broker__send(b, c, &m) != 0 && zmq_errno() == EHOSTUNREACH;
}

/* 1 if connection ci may speak for host slot hi from now on, else 0 with
 * the refusal sent. */
static int may_take_over(broker *b, uint32_t ci, uint32_t hi,
			 const wire_msg *e)
{
	const bhost *h = &b->reg.hosts[hi];
	const bconn *old;
	int64_t quiet, need = TAKEOVER_HEARTBEATS * b->cfg->heartbeat_ms;
	char msg[300];

	if (!h->registered || h->conn == BROKER_NO_SLOT || h->conn == ci)
		return 1;
	old = &b->reg.conns[h->conn];
	quiet = b->now - old->last_seen;
	if (!old->live || old->host != hi || quiet >= need ||
	    conn_gone(b, old))
		return 1;
	snprintf(msg, sizeof(msg), "host %s speaks through another connection, "
		 "heard %" PRId64 " ms ago; a new one takes it over after %"
		 PRId64 " ms of silence", h->name, quiet, need);
	broker__refuse(b, &b->reg.conns[ci], BROKER_DROP_REFUSED,
		       WIRE_ERR_CONFLICT, msg, e);
	return 0;
}

/* What the host of Register e claims must fit the ceiling
 * (--max-host-mib) and what the allow-list pins for it (uri=, max_mib=:
 * keys.h). 1 if it does, else 0 with the refusal sent. */
static int host_config_ok(broker *b, uint32_t ci, const wire_msg *e)
{
	const wire_host_config *hc = &e->reg.host;
	const char *uri;
	int64_t max_mib;
	char msg[600];

	if (hc->capacity_mib > b->cfg->max_host_mib) {
		snprintf(msg, sizeof(msg), "host %s registers %" PRId64 " MiB, "
			 "more than any host may have (--max-host-mib %"
			 PRId64 ")", e->sender, hc->capacity_mib,
			 b->cfg->max_host_mib);
		broker__refuse(b, &b->reg.conns[ci], BROKER_DROP_ABSURD,
			       WIRE_ERR_INVALID, msg, e);
		return 0;
	}
	keys_allow_pins(&b->auth.allow, e->sender, &uri, &max_mib);
	if (uri && strcmp(uri, hc->uri))
		snprintf(msg, sizeof(msg), "host %s registers the URI '%s', "
			 "but the allow-list pins '%s' for it", e->sender,
			 hc->uri, uri);
	else if (max_mib && hc->capacity_mib > max_mib)
		snprintf(msg, sizeof(msg), "host %s registers %" PRId64 " MiB, "
			 "but the allow-list pins at most %" PRId64 " MiB for "
			 "it (max_mib=)", e->sender, hc->capacity_mib, max_mib);
	else
		return 1;
	broker__refuse(b, &b->reg.conns[ci], BROKER_DROP_REFUSED,
		       WIRE_ERR_INVALID, msg, e);
	return 0;
}

/* Host h takes its registration hc: a host new to the database, or one
 * that registers another capacity or URI than the broker knew, goes on
 * probation (round.c); one that registers again as it was (after a
 * broker restart, a reconnect, or lost and back) does not, so that a
 * restart does not hold the market's migrations back. */
static void host_take_config(broker *b, bhost *h, const wire_host_config *hc)
{
	if (!h->db_id || h->capacity_mib != hc->capacity_mib ||
	    strcmp(h->uri, hc->uri))
		h->online_round = b->rounds.next;
	h->capacity_mib = hc->capacity_mib;
	h->reserve_mib = hc->reserve_mib;
	if (h->capacity_mib > b->session.max_host_mib)
		b->session.max_host_mib = h->capacity_mib;
	snprintf(h->uri, sizeof(h->uri), "%s", hc->uri);
}

static void register_host(broker *b, uint32_t ci, const wire_msg *e)
{
	bconn *c = &b->reg.conns[ci];
	uint32_t hi;

	if (c->host != BROKER_NO_SLOT &&
	    strcmp(b->reg.hosts[c->host].name, e->sender)) {
		broker__refuse(b, c, BROKER_DROP_REFUSED,
			       WIRE_ERR_CONFLICT,
			       "this connection already speaks for another "
			       "host", e);
		return;
	}
	if (!host_config_ok(b, ci, e))
		return;
	hi = broker__registry_host_add(&b->reg, e->sender);
	if (hi == BROKER_NO_SLOT || !may_take_over(b, ci, hi, e))
		return;
	bhost *h = &b->reg.hosts[hi];

	if (h->conn != BROKER_NO_SLOT && h->conn != ci && h->registered)
		log_at(LOG_NOTICE, LOG_F(.host = h->name), "broker: host %s moved to a new connection\n",
			h->name);
	h->conn = ci;
	c->host = hi;
	host_take_config(b, h, &e->reg.host);
	h->last_seq = e->seq;
	h->last_seen = h->registered_at = util_now_ms();
	h->has_ask = 0; /* it settles again (round.c) */
	if (persist_host(b, h, STORE_HOST_ONLINE))
		return;
	if (!h->registered) {
		log_at(LOG_NOTICE, LOG_F(.host = h->name), "broker: host %s registered (%" PRId64 " MiB)%s\n",
			h->name, h->capacity_mib,
			broker__registry_probation(h, b->rounds.next,
						   b->cfg->probation_rounds)
				? "; on probation: no migration target yet"
				: "");
		h->online = 1;
	}
	h->registered = 1;
	host_back_online(b, h);
	send_welcome(b, c, h->name);
}

static void vm_config(market_vm *m, const wire_vm_config *vc)
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

	broker__registry_vm_row(&b->reg, m, STORE_VM_ACTIVE, util_wall_ms(),
				&row);
	if (store_vm_upsert(b->st, &row, err, sizeof(err))) {
		log_at(LOG_ERR, LOG_F(.vm = m->name), "broker: store: vm %s: %s\n", m->name, err);
		/* as a host (persist_host()) */
		return m->db_id && broker__outage_faulted(b) ? 0 : -1;
	}
	m->db_id = row.id;
	return 0;
}

/* The VM's latest migration that went out (dispatched or succeeded),
 * newest first: store_recs_find()'s callback. */
static int latest_sent(const store_rec *r, void *ctx)
{
	store_rec *out = ctx;

	if (out->id == 0 && (r->state == STORE_REC_DISPATCHED ||
			     r->state == STORE_REC_SUCCEEDED))
		*out = *r; /* the newest is enough */
	return 0;
}

/* May VM m, which online host m->host holds, move to host slot hi? Only
 * by a migration the broker dispatched to hi that its source reported
 * done, since m last moved and within an action timeout (the target's
 * Register is its confirmation); else 0 with why (a migration in flight
 * says so: the Register is retried, and taken once it is done). */
static int migrated_to(broker *b, const bvm *m, uint32_t hi, char *why,
		       size_t len)
{
	store_rec r = { 0 };
	store_rec_filter f = { .kind = STORE_REC_MIGRATE, .vm = m->name,
			       .limit = 8 };
	const char *to = b->reg.hosts[hi].name;
	char err[256];
	int64_t now = util_wall_ms();

	if (store_recs_find(b->st, &f, latest_sent, &r, err, sizeof(err)))
		r.id = 0; /* cannot tell: held where it is */
	if (r.id && strcmp(r.to_host, to) == 0) {
		if (r.state == STORE_REC_DISPATCHED) {
			snprintf(why, len, "its migration #%" PRId64 " to %s is "
				 "in flight: it moves when its source reports "
				 "it done", r.id, to);
			return 0;
		}
		if (r.updated_ms >= m->moved_wall &&
		    now - r.updated_ms <= b->cfg->guard.action_timeout_ms)
			return 1;
	}
	snprintf(why, len, "no migration to %s was reported done; it moves "
		 "once %s deregisters it or is lost", to,
		 b->reg.hosts[m->host].name);
	return 0;
}

/* How long a host may go without speaking for a VM it holds (no bid, no
 * Register; since the broker started, for one known from the store)
 * before it no longer holds it: as round.c's silent VMs, 3 rounds or the
 * liveness timeout. Its agent no longer runs it (it restarted after the
 * VM left, and so cannot deregister it). */
static int64_t vm_quiet_ms(const broker *b)
{
	int64_t rounds = 3 * b->cfg->round_ms, live = broker__liveness_ms(b->cfg);

	return rounds > live ? rounds : live;
}

/* Does another online host hold VM m (registered or known from the
 * store, not deregistered, spoken for lately), which host slot hi
 * claims? Then it moves only by migrated_to(): 1 with the refusal sent
 * (counted as owned), else 0. */
static int held_elsewhere(broker *b, uint32_t ci, const bvm *m, uint32_t hi,
			  const wire_msg *e)
{
	char why[700], msg[1200];

	if (m->host == BROKER_NO_SLOT || m->host == hi || m->gone ||
	    !b->reg.hosts[m->host].online ||
	    b->now - m->last_bid > vm_quiet_ms(b) ||
	    migrated_to(b, m, hi, why, sizeof(why)))
		return 0;
	snprintf(msg, sizeof(msg), "vm %s is held by host %s, which is online: "
		 "%s", m->name, b->reg.hosts[m->host].name, why);
	broker__refuse(b, &b->reg.conns[ci], BROKER_DROP_OWNED,
		       WIRE_ERR_CONFLICT, msg, e);
	return 1;
}

/* Host slot hi may take one more VM (--max-vms-per-host)? 1, or 0 with
 * the refusal sent. */
static int room_for_vm(broker *b, uint32_t ci, uint32_t hi, const wire_msg *e)
{
	const bhost *h = &b->reg.hosts[hi];
	char msg[300];

	if ((int64_t)h->n_vms < b->cfg->max_vms_per_host)
		return 1;
	snprintf(msg, sizeof(msg), "host %s holds %u VMs, the most "
		 "--max-vms-per-host allows: %s refused", h->name, h->n_vms,
		 e->sender);
	broker__refuse(b, &b->reg.conns[ci], BROKER_DROP_REFUSED,
		       WIRE_ERR_INVALID, msg, e);
	return 0;
}

static void register_vm(broker *b, uint32_t ci, const wire_msg *e)
{
	bconn *c = &b->reg.conns[ci];
	const wire_vm_config *vc = &e->reg.vm;
	uint32_t hi = broker__registry_host_find(&b->reg, vc->host);
	char msg[300];

	if (hi == BROKER_NO_SLOT || !b->reg.hosts[hi].registered) {
		snprintf(msg, sizeof(msg), "host %s has no seller registered",
			 vc->host);
		broker__refuse(b, c, BROKER_DROP_REFUSED,
			       WIRE_ERR_INVALID, msg, e);
		return;
	}
	if (c->host != BROKER_NO_SLOT && c->host != hi) {
		snprintf(msg, sizeof(msg), "vm %s claims host %s, but this "
			 "connection speaks for host %s", e->sender, vc->host,
			 b->reg.hosts[c->host].name);
		broker__refuse(b, c, BROKER_DROP_WRONG_HOST,
			       WIRE_ERR_WRONG_HOST, msg, e);
		return;
	}
	uint32_t vi = broker__registry_vm_find(&b->reg, e->sender);
	const bvm *was = vi == BROKER_NO_SLOT ? NULL : &b->reg.vms[vi];

	if (was && held_elsewhere(b, ci, was, hi, e))
		return;
	if ((!was || was->host != hi || was->gone) && !room_for_vm(b, ci, hi, e))
		return;
	vi = broker__registry_vm_add(&b->reg, e->sender);
	if (vi == BROKER_NO_SLOT)
		return;
	c = &b->reg.conns[ci];
	c->host = hi;
	bvm *m = &b->reg.vms[vi];

	if (m->host != BROKER_NO_SLOT && m->host != hi) {
		if (m->registered) {
			log_at(LOG_NOTICE, LOG_F(.vm = m->name, .host = vc->host),
			       "broker: vm %s moved from host %s to %s\n",
			       m->name, b->reg.hosts[m->host].name, vc->host);
			note_move(b, m);
		}
		m->moved_wall = util_wall_ms();
	}
	broker__registry_vm_place(&b->reg, m, hi, 0);
	vm_config(&m->cfg, vc);
	m->last_seq = e->seq;
	m->last_bid = b->now; /* its host speaks for it (held_elsewhere()) */
	m->has_bid = 0; /* its next bid, under this config, counts */
	if (persist_vm(b, m))
		return;
	m->registered = 1;
	send_welcome(b, c, m->name);
}

/* More memory than the largest host registered has (each at most
 * --max-host-mib: a host cannot lift this yardstick past the ceiling), or
 * before any host registered, than the ceiling: no market can give it. 0,
 * or 1 with the refusal sent. */
static int absurd_mib(broker *b, uint32_t ci, const wire_msg *e,
		      const char *what, int64_t mib)
{
	int64_t most = b->session.max_host_mib > 0 ? b->session.max_host_mib
						   : b->cfg->max_host_mib;
	char msg[300];

	if (mib <= most)
		return 0;
	snprintf(msg, sizeof(msg), "%s: %s of %" PRId64 " MiB is more than "
		 "any host has (the largest: %" PRId64 " MiB)", e->sender,
		 what, mib, most);
	broker__refuse(b, &b->reg.conns[ci], BROKER_DROP_ABSURD,
		       WIRE_ERR_INVALID, msg, e);
	return 1;
}

/* m: the frame, for the key behind it (CURVE binds a key to a host). */
static void on_register(broker *b, uint32_t ci, const wire_msg *e,
			zmq_msg_t *m)
{
	int host = e->role == WIRE_ROLE_HOST;
	const char *for_host = host ? e->sender : e->reg.vm.host;
	char msg[300];

	if (!broker__auth_may_speak_for(&b->auth, m, for_host, msg,
					sizeof(msg))) {
		broker__refuse(b, &b->reg.conns[ci], BROKER_DROP_KEY,
			       WIRE_ERR_WRONG_HOST, msg, e);
		return;
	}
	if (host)
		register_host(b, ci, e);
	else if (!absurd_mib(b, ci, e, "minimum",
			     e->reg.vm.minimum_mib))
		register_vm(b, ci, e);
}

/* The slot of a registered sender: a host slot or a VM slot, as its role
 * says; NO_SLOT if it is not registered (a VM that left is not). */
static uint32_t sender_slot(const broker *b, const wire_msg *e)
{
	const registry *r = &b->reg;
	uint32_t s;

	if (e->role == WIRE_ROLE_HOST) {
		s = broker__registry_host_find(r, e->sender);
		return s != BROKER_NO_SLOT && r->hosts[s].registered
		       ? s : BROKER_NO_SLOT;
	}
	s = broker__registry_vm_find(r, e->sender);
	return s != BROKER_NO_SLOT && r->vms[s].registered && !r->vms[s].gone
	       ? s : BROKER_NO_SLOT;
}

/* The host slot of the sender in slot s (itself, or its VM's host). */
static uint32_t sender_host(const broker *b, const wire_msg *e,
			    uint32_t s)
{
	return e->role == WIRE_ROLE_HOST ? s : b->reg.vms[s].host;
}

/* The seq of the last message taken from the sender in slot s. */
static uint64_t sender_seq(const broker *b, const wire_msg *e,
			   uint32_t s)
{
	return e->role == WIRE_ROLE_HOST ? b->reg.hosts[s].last_seq
						  : b->reg.vms[s].last_seq;
}

/* The slot of e's sender (host or VM, as sender_slot()) after checking
 * that it is registered, speaks through its host's connection and that its
 * seq moved forward. NO_SLOT (refused and answered) otherwise. Changes
 * nothing: accept_sender() takes the message. */
static uint32_t check_sender(broker *b, uint32_t ci, const wire_msg *e)
{
	bconn *c = &b->reg.conns[ci];
	uint32_t slot = sender_slot(b, e);
	uint32_t hi = slot == BROKER_NO_SLOT ? BROKER_NO_SLOT
					     : sender_host(b, e, slot);
	char msg[300];

	if (hi == BROKER_NO_SLOT) {
		snprintf(msg, sizeof(msg), "%s is not registered", e->sender);
		broker__refuse(b, c, BROKER_DROP_UNKNOWN,
			       WIRE_ERR_UNKNOWN_SENDER, msg,
			       e);
		return BROKER_NO_SLOT;
	}
	/* a connection bound to no host has not registered anybody: a new
	 * connection (libzmq reconnected after a reset, with a new routing
	 * id). Its agent registers again when told so. */
	if (c->host == BROKER_NO_SLOT) {
		snprintf(msg, sizeof(msg), "%s is not registered through this "
			 "connection (a new one?): register again", e->sender);
		broker__refuse(b, c, BROKER_DROP_UNKNOWN,
			       WIRE_ERR_UNKNOWN_SENDER, msg, e);
		return BROKER_NO_SLOT;
	}
	/* a host speaks through the connection it registered on; a VM through
	 * any connection bound to its host (the host's own, or a buyer's that
	 * registered the VM naming that host) */
	if (c->host != hi || (e->role == WIRE_ROLE_HOST &&
			      b->reg.hosts[hi].conn != ci)) {
		snprintf(msg, sizeof(msg), "%s belongs to host %s, which does "
			 "not speak through this connection", e->sender,
			 b->reg.hosts[hi].name);
		broker__refuse(b, c, BROKER_DROP_WRONG_HOST,
			       WIRE_ERR_WRONG_HOST, msg, e);
		return BROKER_NO_SLOT;
	}
	if (e->seq <= sender_seq(b, e, slot)) {
		snprintf(msg, sizeof(msg), "%s: seq %" PRIu64 " is not after %"
			 PRIu64, e->sender, e->seq, sender_seq(b, e, slot));
		broker__refuse(b, c, BROKER_DROP_SEQUENCE,
			       WIRE_ERR_SEQUENCE, msg, e);
		return BROKER_NO_SLOT;
	}
	return slot;
}

/* Take e from the sender in slot s (checked): its seq is the latest, and
 * its host was heard from now (and is back if it was lost). Returns the
 * host slot. */
static uint32_t accept_sender(broker *b, const wire_msg *e,
			      uint32_t s)
{
	uint32_t hi = sender_host(b, e, s);

	if (e->role == WIRE_ROLE_HOST)
		b->reg.hosts[s].last_seq = e->seq;
	else
		b->reg.vms[s].last_seq = e->seq;
	b->reg.hosts[hi].last_seen = b->now;
	host_back_online(b, &b->reg.hosts[hi]);
	return hi;
}

static void on_heartbeat(broker *b, uint32_t ci)
{
	wire_msg m;

	broker__msg_init(&m, WIRE_BODY_HEARTBEAT);
	broker__send(b, &b->reg.conns[ci], &m);
}

static void on_bid(broker *b, uint32_t ci, uint32_t vi,
		   const wire_msg *e)
{
	bvm *m = &b->reg.vms[vi];
	const wire_bid *bid = &e->bid;

	if (m->has_bid) /* the volatility the price of risk reads */
		market_vm_rise_update(&b->cfg->market, &m->cfg, m->cfg.demand,
				      bid->demand_mib);
	m->cfg.demand = bid->demand_mib;
	m->cfg.assigned = bid->assigned_mib;
	m->cfg.guest_swap_mibps = bid->guest_swap_mibps;
	m->balloon_mib = bid->balloon_mib;
	m->reported_pressure = bid->pressure;
	m->has_bid = 1;
	m->last_bid = b->now;
	m->conn = ci;
}

static void on_ask(broker *b, uint32_t hi, const wire_msg *e)
{
	bhost *h = &b->reg.hosts[hi];

	h->free_mib = e->ask.free_mib;
	h->balloon_mib = e->ask.balloon_mib;
	h->host_swap_mibps = e->ask.host_swap_mibps;
	h->has_ask = 1;
}

/* slot: the sender's (host or VM) */
static void on_deregister(broker *b, uint32_t slot, const wire_msg *e)
{
	char err[256], why[WIRE_MAX_TEXT * 4 + 1]; /* reason, escaped */
	int rc;

	if (e->role == WIRE_ROLE_HOST) {
		bhost *h = &b->reg.hosts[slot];

		h->registered = 0;
		h->online = 0;
		rc = store_host_set_state(b->st, h->db_id, STORE_HOST_GONE,
					  util_wall_ms(), err, sizeof(err));
	} else {
		bvm *m = &b->reg.vms[slot];

		broker__registry_vm_place(&b->reg, m, m->host, 1);
		rc = store_vm_set_state(b->st, m->db_id, STORE_VM_GONE, err,
					sizeof(err));
	}
	log_at(LOG_NOTICE, NULL, "broker: %s deregistered (%s)\n", e->sender,
	       util_escape(why, sizeof(why), e->deregister.reason));
	if (rc)
		log_at(LOG_ERR, NULL, "broker: store: %s\n", err);
}

/* A VM's Deregister from the host it has just left (its agent saw it go
 * after its new host registered it): nothing to do, and nothing to
 * refuse. */
static int left_already(const broker *b, uint32_t ci, const wire_msg *e)
{
	const bconn *c = &b->reg.conns[ci];
	uint32_t v;

	if (e->body != WIRE_BODY_DEREGISTER || e->role != WIRE_ROLE_VM ||
	    c->host == BROKER_NO_SLOT)
		return 0;
	v = broker__registry_vm_find(&b->reg, e->sender);
	return v != BROKER_NO_SLOT && b->reg.vms[v].registered &&
	       b->reg.vms[v].host != c->host &&
	       b->reg.vms[v].left_slot1[0] == c->host + 1;
}

static void route(broker *b, uint32_t ci, const wire_msg *e,
		  zmq_msg_t *m)
{
	uint32_t slot, hi;

	if (e->body == WIRE_BODY_REGISTER) {
		on_register(b, ci, e, m);
		return;
	}
	if (left_already(b, ci, e))
		return;
	slot = check_sender(b, ci, e);
	if (slot == BROKER_NO_SLOT)
		return;
	if (e->body == WIRE_BODY_BID &&
	    absurd_mib(b, ci, e, "demand", e->bid.demand_mib))
		return;
	hi = accept_sender(b, e, slot);
	switch (e->body) {
	case WIRE_BODY_HEARTBEAT:
		on_heartbeat(b, ci);
		break;
	case WIRE_BODY_BID:
		on_bid(b, ci, slot, e);
		break;
	case WIRE_BODY_ASK:
		on_ask(b, hi, e);
		break;
	case WIRE_BODY_DEREGISTER:
		on_deregister(b, slot, e);
		break;
	case WIRE_BODY_ACTION_RESULT:
		broker__actions_result(b, ci, e);
		break;
	default: /* wire_msg_decode() admits nothing else from agents */
		break;
	}
}

void broker__session_handle(broker *b, uint32_t ci, zmq_msg_t *m)
{
	wire_msg e;
	uint32_t peer_version = 0;
	char err[300];
	wire_reason r = wire_msg_decode(zmq_msg_data(m), zmq_msg_size(m), &e,
					&peer_version, err, sizeof(err));

	if (r != WIRE_OK) {
		if (r == WIRE_VERSION_MISMATCH)
			snprintf(err, sizeof(err), "protocol version %u is not "
				 "supported; this broker speaks version %u",
				 peer_version, WIRE_VERSION);
		broker__refuse(b, &b->reg.conns[ci], r,
			       wire_reason_error_code(r), err, NULL);
		return;
	}
	route(b, ci, &e, m);
	wire_msg_release(&e);
}

/* Hosts not heard from within the liveness timeout are lost. */
void broker__session_liveness(broker *b, int64_t now)
{
	int64_t timeout = broker__liveness_ms(b->cfg);
	char err[256];

	for (size_t i = 0; i < b->reg.n_hosts; i++) {
		bhost *h = &b->reg.hosts[i];

		if (!h->online || now - h->last_seen <= timeout)
			continue;
		h->online = 0;
		log_at(LOG_WARNING, LOG_F(.host = h->name), "broker: host %s lost (silent for %" PRId64
			" ms)\n", h->name, now - h->last_seen);
		if (h->db_id &&
		    store_host_set_state(b->st, h->db_id, STORE_HOST_LOST,
					 util_wall_ms(), err, sizeof(err)))
			log_at(LOG_ERR, LOG_F(.host = h->name), "broker: store: %s\n", err);
	}
	broker__registry_sweep_conns(&b->reg, now, timeout);
}
