/*
 * agent.c - the agent loop (agent.h): one DEALER socket carrying every
 * identity of the process (the host's seller, its VMs' buyers), driven by a
 * single-threaded zmq_poll() loop with a computed timeout. Two threads
 * serve it and never touch the socket: the sampler (sampler.h) advances
 * and reads the source, so a slow source delays bids but not heartbeats
 * (tick() asks for a reading, sampled() sends the asks and bids when it is
 * in; the loop's source is the sampler's view of the latest reading), and
 * the worker (worker.h) carries out actions.
 *
 * States: CONNECTING (the primary identity - the host, or with no seller the
 * first live VM - registers every backoff interval, doubling, until its
 * Welcome), then RUNNING (the other identities register, each waiting for
 * its Welcome; asks, bids and heartbeats go out on their timers).
 *
 * Identities: the host's first (if a seller), then the VMs' sorted by name
 * (find_vm() looks them up with bsearch). The source's set of VMs may grow
 * (source.h): after every advance, a VM the source has found since gets an
 * identity, inserted in name order (one named like the host or like another
 * VM is logged and left out). It registers through the same path as the
 * others (register_others(): once it is alive, retrying on its own
 * doubling timer) and then bids; nobody else registers again. Nothing keeps
 * a pointer into ids across a tick, and the one index kept (primary, a VM
 * without a seller) moves with the insertion. A VM that stops (alive = 0)
 * stops bidding and keeps its identity; unless it is the primary, it is
 * deregistered (vm_left(): the broker shows it gone, and may let another
 * host take it) and registers again once it is alive again, since
 * meanwhile it may have run on another host (migrated away and back: the
 * broker has it there).
 *
 * Matching answers to identities: a Welcome names the identity it welcomes
 * (Welcome.name, which wire_msg_decode() requires), and only that one is
 * welcomed; while CONNECTING only the primary's counts (another one answers
 * a Register from before the reset, and that identity registers again after
 * the primary). An Error names the sender of the refused message
 * (Error.ref_sender): UNKNOWN_SENDER re-registers just that identity, or, if
 * it is the primary, the broker has forgotten the connection (or never knew
 * it: libzmq reconnected after a reset, under a new routing id) and
 * everything registers again, the primary first (docs/protocol.md,
 * "Errors"); so does WRONG_HOST naming the host itself. An
 * UNKNOWN_SENDER that names nobody carries only the refused seq, which VMs
 * bidding in step share: every identity that sent that seq lately registers
 * again (re-registering a known identity is harmless). Answers about an
 * identity that is not welcomed (it is registering again already) change
 * nothing.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "agent.h"
#include "keys.h"
#include "log.h"
#include "util.h"
#include "wire.h"
#include "sampler.h"
#include "worker.h"
#include "banned.h"

#define SILENCE_BEFORE_WELCOME_MS 3000 /* liveness before any Welcome */
#define POLL_MAX_MS 250  /* a signal between checks is seen this soon */
#define SEQ_WINDOW 4     /* UNKNOWN_SENDER naming nobody: seqs this
			  * recent match */
#define RECV_BATCH 1024  /* frames handled before timers are looked at */
/* log_once() bits: dropped frames by wire_reason, refused outgoing
 * messages by wire_reason, then broker Errors by code. */
#define LOG_DROP 0
#define LOG_NOT_BROKER WIRE_N_REASONS
#define LOG_OUT (WIRE_N_REASONS + 1)
#define LOG_CODE (2 * WIRE_N_REASONS + 1)
#define LOG_STRANGER (LOG_CODE + 32) /* answers naming none of ours */

enum ag_state { AG_CONNECTING, AG_RUNNING };

struct ident {
	const char *name;
	wire_role role;
	size_t vm;            /* source index (VM identities) */
	uint64_t seq;         /* last seq sent; the next is seq + 1 */
	int welcomed;
	int64_t reg_due;      /* next Register (RUNNING, non-primary) */
	int64_t reg_ivl;      /* its retry interval, doubling */
	source_vm_sample smp; /* VMs: the latest sample */
	uint64_t award_round; /* VMs: the latest award, if award_round */
	int64_t target_mib;
	double price;
};

typedef struct agent {
	const agent_config *c;
	source *src;
	void *ctx, *sock;
	int curve;            /* CURVE keys loaded: kp and broker_pub */
	void *mon;            /* CURVE: the socket's handshake events (PAIR) */
	int auth_refused;     /* the broker refused our key: said once */
	keys_pair kp;
	char broker_pub[KEYS_Z85_LEN + 1];
	struct ident *ids;    /* n_ids of cap_ids: the host's, then the VMs' */
	size_t n_ids, cap_ids, primary;
	size_t n_src;         /* the source's VMs [0, n_src) were looked at */
	enum ag_state state;
	int64_t start, now;
	int64_t heard;        /* last frame in, or first send on this socket */
	int64_t bo;           /* primary's Register backoff */
	int64_t reg_due;      /* primary's next Register (CONNECTING) */
	int out_wait;         /* a Register waits for the socket to connect */
	int64_t next_tick, next_hb;
	uint32_t hb_ms, liveness, round_ms;
	int welcomed_once;
	uint64_t logged;      /* LOG_* bits: what was logged once */
	int fatal;
	char *err;
	size_t errlen;
	worker *work;         /* runs c->act's actions; NULL without one */
	sampler *smp;         /* reads the source on its own thread; src is
			       * its view (sampler.h) */
	int64_t asked_at;     /* when the reading under way was asked for */
	int64_t read_ms;      /* how long the last reading took */
	uint64_t phase_round; /* the round the ticks were last aligned on */
	int slow_said;        /* "the source is slow" said this episode */
} agent;

static void alog(const agent *a, int prio, const log_fields *f, const char *fmt,
		 ...) __attribute__((format(printf, 4, 5)));

/* A line "agent HOST: ...", with the host's HOST= field (log.h). */
static void alog(const agent *a, int prio, const log_fields *f, const char *fmt,
		 ...)
{
	log_fields lf = f ? *f : (log_fields){ 0 };
	char msg[1024];
	va_list ap;

	if (!log_enabled(prio))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	lf.host = a->c->host;
	log_at(prio, &lf, "agent %s: %s", a->c->host, msg);
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

static int fail(agent *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A fatal error: agent_run() returns -1 with this message. */
static int fail(agent *a, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	util_verr(a->err, a->errlen, fmt, ap);
	va_end(ap);
	a->fatal = 1;
	return -1;
}

/* Log the first time a kind of trouble (a bit of a->logged) happens. */
static void log_once(agent *a, unsigned bit, const char *what,
		     const char *msg)
{
	if (a->logged & (1ull << bit))
		return;
	a->logged |= 1ull << bit;
	alog(a, LOG_WARNING, NULL,
	     "%s: %s [further ones of this kind are not logged]", what, msg);
}

/* ---- the socket ---- */

static int sock_opt(agent *a, int opt, int v)
{
	return zmq_setsockopt(a->sock, opt, &v, sizeof(v));
}

/* CURVE client options: the broker's public key, our pair. */
static int curve_client(agent *a)
{
	return zmq_setsockopt(a->sock, ZMQ_CURVE_SERVERKEY, a->broker_pub,
			      KEYS_Z85_LEN) ||
	       zmq_setsockopt(a->sock, ZMQ_CURVE_PUBLICKEY, a->kp.pub,
			      KEYS_Z85_LEN) ||
	       zmq_setsockopt(a->sock, ZMQ_CURVE_SECRETKEY, a->kp.sec,
			      KEYS_Z85_LEN);
}

/* With CURVE, watch the handshakes: a key the broker refuses is otherwise
 * silent (libzmq just retries), and the operator must hear of it. */
static int monitor_open(agent *a)
{
	char ep[64];

	/* unique while the socket lives, which is as long as the monitor */
	snprintf(ep, sizeof(ep), "inproc://bourse-agent-monitor-%p", a->sock);
	if (zmq_socket_monitor(a->sock, ep, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
			       ZMQ_EVENT_HANDSHAKE_SUCCEEDED))
		return -1;
	a->mon = zmq_socket(a->ctx, ZMQ_PAIR);
	return a->mon && !zmq_connect(a->mon, ep) ? 0 : -1;
}

/* One monitor event: [uint16 event, uint32 value][endpoint]. */
static void monitor_event(agent *a)
{
	zmq_msg_t m;
	uint16_t ev = 0;
	uint32_t val = 0;
	int more;

	zmq_msg_init(&m);
	if (zmq_msg_recv(&m, a->mon, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&m);
		return;
	}
	if (zmq_msg_size(&m) >= 6) {
		memcpy(&ev, zmq_msg_data(&m), 2);
		memcpy(&val, (char *)zmq_msg_data(&m) + 2, 4);
	}
	more = zmq_msg_more(&m);
	zmq_msg_close(&m);
	while (more) { /* the endpoint frame */
		zmq_msg_init(&m);
		more = zmq_msg_recv(&m, a->mon, 0) >= 0 && zmq_msg_more(&m);
		zmq_msg_close(&m);
	}
	if (ev == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
		a->auth_refused = 0;
	} else if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH && !a->auth_refused) {
		a->auth_refused = 1;
		log_at(LOG_ERR, LOG_F(.host = a->c->host),
		       "agent: %s refused this agent's key (status "
		       "%u): is %s in the broker's allow-list, for host %s? "
		       "(retrying)\n",
		       a->c->broker, (unsigned)val, a->kp.pub, a->c->host);
	}
}

static int sock_open(agent *a)
{
	int64_t maxmsg = WIRE_MAX_FRAME;
	int hwm = (int)min64(4 * ((int64_t)a->n_ids + 16), 1000000);

	a->sock = zmq_socket(a->ctx, ZMQ_DEALER);
	if (!a->sock ||
	    sock_opt(a, ZMQ_LINGER, 0) || sock_opt(a, ZMQ_IMMEDIATE, 1) ||
	    sock_opt(a, ZMQ_RECONNECT_IVL, (int)a->c->backoff_min_ms) ||
	    sock_opt(a, ZMQ_RECONNECT_IVL_MAX, (int)a->c->backoff_max_ms) ||
	    sock_opt(a, ZMQ_SNDHWM, hwm) || sock_opt(a, ZMQ_RCVHWM, hwm) ||
	    zmq_setsockopt(a->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg)) ||
	    (a->curve && (curve_client(a) || monitor_open(a))) ||
	    zmq_connect(a->sock, a->c->broker))
		return fail(a, "cannot connect to %s: %s", a->c->broker,
			    zmq_strerror(zmq_errno()));
	a->heard = -1;
	a->out_wait = 0;
	return 0;
}

static void sock_close(agent *a)
{
	if (a->mon)
		zmq_close(a->mon);
	if (a->sock)
		zmq_close(a->sock);
	a->sock = a->mon = NULL;
}


/* ---- sending ---- */

/* A message from id with its next seq: body kind set, body fields zero. */
static void msg_start(wire_msg *m, const struct ident *id, wire_body body)
{
	wire_msg_init(m, id->role, id->name, id->seq + 1, body);
}

/* Check m (from msg_start() with id) and send it. The seq is used up only
 * if the frame left. Returns 0, or -1 (not sent). */
static int send_msg(agent *a, struct ident *id, const wire_msg *m)
{
	char msg[256];
	size_t len;
	uint8_t *buf;
	wire_reason r;
	int rc;

	r = wire_msg_validate(m, msg, sizeof(msg));
	if (r != WIRE_OK) {
		log_once(a, LOG_OUT + r, "not sending an invalid message", msg);
		return -1;
	}
	buf = wire_msg_encode(m, &len);
	if (!buf) {
		log_once(a, LOG_OUT + WIRE_TOO_BIG, "not sending a message",
			 "too big to encode");
		return -1;
	}
	rc = zmq_send(a->sock, buf, len, ZMQ_DONTWAIT);
	free(buf);
	if (rc < 0)
		return -1; /* EAGAIN: not connected or queue full; dropped */
	id->seq++;
	if (a->heard < 0)
		a->heard = a->now;
	return 0;
}

static int read_host(agent *a, source_host *h)
{
	char msg[256];

	if (source_host_read(a->src, h, msg, sizeof(msg)) == 0)
		return 0;
	alog(a, LOG_WARNING, NULL, "cannot read the host: %s", msg);
	return -1;
}

static int send_register(agent *a, size_t i)
{
	struct ident *id = &a->ids[i];
	wire_msg m;
	source_host h;
	source_vm_config v;

	msg_start(&m, id, WIRE_BODY_REGISTER);
	if (id->role == WIRE_ROLE_HOST) {
		if (read_host(a, &h) != 0)
			return -1;
		m.reg.has_host = 1;
		m.reg.host = (wire_host_config){
			.capacity_mib = h.capacity_mib,
			.reserve_mib = h.reserve_mib,
			.uri = a->c->uri,
		};
	} else {
		if (source_vm_config_get(a->src, id->vm, &v) != 0)
			return -1;
		m.reg.has_vm = 1;
		m.reg.vm = (wire_vm_config){
			.host = a->c->host,
			.startup_mib = v.startup_mib,
			.minimum_mib = v.minimum_mib,
			.maximum_mib = v.maximum_mib,
			.buffer_pct = v.buffer_pct,
			.weight = v.weight,
			.reservation_mib = v.reservation_mib,
			.limit_mib = v.limit_mib,
			.shares = v.shares,
		};
	}
	return send_msg(a, id, &m);
}

static void send_heartbeat(agent *a)
{
	struct ident *id = &a->ids[a->primary];
	wire_msg m;

	msg_start(&m, id, WIRE_BODY_HEARTBEAT);
	m.heartbeat.uptime_ms = (uint64_t)(a->now - a->start);
	send_msg(a, id, &m);
}

/* The host's observations; the pressures it is priced with are the
 * broker's (docs/protocol.md, "Who owns each figure"). */
static void send_ask(agent *a, struct ident *id)
{
	wire_msg m;
	source_host h;

	if (read_host(a, &h) != 0)
		return;
	msg_start(&m, id, WIRE_BODY_ASK);
	m.ask = (wire_ask){
		.capacity_mib = h.capacity_mib,
		.free_mib = h.free_mib,
		.balloon_mib = h.balloon_mib,
		.host_swap_mibps = h.host_swap_mibps,
	};
	send_msg(a, id, &m);
}

static void send_bid(agent *a, struct ident *id)
{
	wire_msg m;

	msg_start(&m, id, WIRE_BODY_BID);
	m.bid = (wire_bid){
		.demand_mib = id->smp.demand_mib,
		.assigned_mib = id->smp.assigned_mib,
		.pressure = id->smp.pressure,
		.guest_swap_mibps = id->smp.guest_swap_mibps,
		.balloon_mib = id->smp.balloon_mib,
	};
	send_msg(a, id, &m);
}

/* ---- identities and states ---- */

/* A registered VM the source no longer runs (destroyed, shut down,
 * undefined, or migrated away) is deregistered, so that the broker does
 * not keep it active here and another host may take it at once; it
 * registers again if it comes back. */
static void vm_left(agent *a, struct ident *id)
{
	wire_msg m;

	if (!id->welcomed || a->state != AG_RUNNING)
		return;
	msg_start(&m, id, WIRE_BODY_DEREGISTER);
	m.deregister.reason = "not running on this host";
	if (send_msg(a, id, &m) == 0 && a->c->verbose)
		alog(a, LOG_INFO, LOG_F(.vm = id->name),
		     "%s is not running here: deregistered", id->name);
}

static void sample_vms(agent *a)
{
	char msg[256];

	for (size_t i = 0; i < a->n_ids; i++) {
		struct ident *id = &a->ids[i];

		int was_alive = id->smp.alive;

		if (id->role != WIRE_ROLE_VM)
			continue;
		if (source_vm_read(a->src, id->vm, &id->smp, msg,
				   sizeof(msg)) != 0) {
			alog(a, LOG_WARNING, LOG_F(.vm = id->name),
			     "cannot read %s: %s", id->name, msg);
			memset(&id->smp, 0, sizeof(id->smp));
		}
		if (was_alive && !id->smp.alive && i != a->primary) {
			vm_left(a, id);
			id->welcomed = 0; /* registers when it is back */
			id->reg_due = a->now;
			id->reg_ivl = a->hb_ms;
		}
	}
}

/* Registers now (RUNNING): the host always, a VM while it is alive. */
static int eligible(const struct ident *id)
{
	return id->role == WIRE_ROLE_HOST || id->smp.alive;
}

/* The host; with no seller the first live VM, else the first VM. */
static size_t pick_primary(const agent *a)
{
	if (a->ids[0].role == WIRE_ROLE_HOST)
		return 0;
	for (size_t i = 0; i < a->n_ids; i++)
		if (a->ids[i].smp.alive)
			return i;
	return 0;
}

/* Forget every registration; the primary registers again after delay. */
static void enter_connecting(agent *a, int64_t delay)
{
	for (size_t i = 0; i < a->n_ids; i++)
		a->ids[i].welcomed = 0;
	a->state = AG_CONNECTING;
	a->primary = pick_primary(a);
	a->reg_due = a->now + delay;
	a->out_wait = 0;
}

static int64_t interval_ms(const agent *a)
{
	if (a->c->interval_ms > 0)
		return a->c->interval_ms;
	return a->round_ms ? a->round_ms : 1000;
}

static void enter_running(agent *a)
{
	int64_t ivl = a->hb_ms;

	a->state = AG_RUNNING;
	a->bo = a->c->backoff_min_ms;
	a->next_hb = a->now + a->hb_ms;
	a->next_tick = a->now + interval_ms(a);
	for (size_t i = 0; i < a->n_ids; i++) {
		a->ids[i].reg_due = a->now;
		a->ids[i].reg_ivl = ivl;
	}
}

static void reconnect(agent *a)
{
	alog(a, LOG_WARNING, NULL, "broker silent for %lld ms; reconnecting",
	     (long long)(a->now - a->heard));
	log_notify_status("broker silent; reconnecting to %s", a->c->broker);
	sock_close(a);
	if (sock_open(a) != 0)
		return;
	enter_connecting(a, a->bo);
}

static int64_t silence_ms(const agent *a)
{
	if (!a->welcomed_once)
		return SILENCE_BEFORE_WELCOME_MS;
	return (int64_t)a->liveness * a->hb_ms;
}

/* ---- answers from the broker ---- */

static int cmp_name(const void *key, const void *elem)
{
	return strcmp(key, ((const struct ident *)elem)->name);
}

static struct ident *find_vm(agent *a, const char *name)
{
	/* VM identities are sorted by name after the host (add_vm_ident) */
	size_t first = a->n_ids && a->ids[0].role == WIRE_ROLE_HOST;

	return bsearch(name, a->ids + first, a->n_ids - first,
		       sizeof(*a->ids), cmp_name);
}

/* The identity called name (the host or a VM), or NULL (logged once). */
static struct ident *find_ident(agent *a, const char *name)
{
	struct ident *id = find_vm(a, name);

	if (!id && a->ids[0].role == WIRE_ROLE_HOST &&
	    !strcmp(a->ids[0].name, name))
		id = &a->ids[0];
	if (!id)
		log_once(a, LOG_STRANGER, "the broker named an identity this "
			 "agent does not have", name);
	return id;
}

static void on_welcome(agent *a, const wire_welcome *w)
{
	struct ident *id = find_ident(a, w->name);

	a->hb_ms = w->heartbeat_ms;
	a->liveness = w->liveness;
	a->round_ms = w->round_ms;
	a->welcomed_once = 1;
	if (!id)
		return;
	if (a->state == AG_CONNECTING && id != &a->ids[a->primary])
		return; /* answers a Register from before the reset */
	id->welcomed = 1;
	if (a->state == AG_CONNECTING) {
		if (a->c->verbose)
			alog(a, LOG_INFO, NULL,
			     "registered with the broker (round %llu, every "
			     "%u ms)",
			     (unsigned long long)w->round, w->round_ms);
		log_notify_status("registered with %s", a->c->broker);
		enter_running(a);
	}
}

/* The broker does not know id: it registers again on its own. */
static void reregister(agent *a, struct ident *id)
{
	id->welcomed = 0;
	id->reg_due = a->now;
	id->reg_ivl = a->hb_ms;
}

/* The broker does not know the primary, so it forgot the connection:
 * everything registers again, the primary first. */
static void reregister_all(agent *a)
{
	alog(a, LOG_NOTICE, NULL,
	     "the broker does not know %s; registering everything again",
	     a->ids[a->primary].name);
	a->bo = a->c->backoff_min_ms;
	enter_connecting(a, 0);
}

/* UNKNOWN_SENDER naming id (unless it is registering again already). */
static void forget_sender(agent *a, struct ident *id)
{
	if (!id->welcomed)
		return;
	if (id == &a->ids[a->primary]) {
		reregister_all(a);
		return;
	}
	reregister(a, id);
	alog(a, LOG_NOTICE, LOG_F(.vm = id->name),
	     "the broker does not know %s; registering it again", id->name);
}

/* Could id have sent ref_seq lately (within its last SEQ_WINDOW)? */
static int sent_lately(const struct ident *id, uint64_t ref_seq)
{
	return id->welcomed && ref_seq <= id->seq &&
	       id->seq - ref_seq < SEQ_WINDOW;
}

/* UNKNOWN_SENDER naming nobody: whoever may have sent ref_seq registers
 * again; if the primary may have, everything does. */
static void forget_senders(agent *a, uint64_t ref_seq)
{
	size_t n = 0, last = 0;

	if (sent_lately(&a->ids[a->primary], ref_seq)) {
		reregister_all(a);
		return;
	}
	for (size_t i = 0; i < a->n_ids; i++) {
		if (!sent_lately(&a->ids[i], ref_seq))
			continue;
		reregister(a, &a->ids[i]);
		last = i;
		n++;
	}
	if (n == 1)
		alog(a, LOG_NOTICE, NULL,
		     "the broker does not know %s; registering it again",
		     a->ids[last].name);
	else if (n > 1)
		alog(a, LOG_NOTICE, NULL,
		     "the broker does not know %zu VMs; registering them "
		     "again",
		     n);
}

static void on_error(agent *a, const wire_error *er)
{
	char what[WIRE_MAX_NAME + 96], said[WIRE_MAX_TEXT * 4 + 1];
	int named = er->ref_sender[0] != '\0';
	struct ident *id = named ? find_ident(a, er->ref_sender) : NULL;

	if (er->code == WIRE_ERR_VERSION) {
		fail(a, "broker speaks protocol version %u, this agent speaks "
		     "%u", er->supported_version, WIRE_VERSION);
		return;
	}
	if (er->code == WIRE_ERR_UNKNOWN_SENDER) {
		if (id)
			forget_sender(a, id);
		else if (!named)
			forget_senders(a, er->ref_seq);
		return;
	}
	/* the host's own message refused as not from its connection: the
	 * broker bound the host to another one (ours was reset and it has not
	 * seen us since): register again; CONFLICT says if that one lives */
	if (er->code == WIRE_ERR_WRONG_HOST && id && id->welcomed &&
	    id == &a->ids[a->primary] && id->role == WIRE_ROLE_HOST) {
		reregister_all(a);
		return;
	}
	/* a refused Register retries on its own timer */
	snprintf(what, sizeof(what), "the broker refused seq %llu%s%s (%s)",
		 (unsigned long long)er->ref_seq, id ? " of " : "",
		 id ? id->name : "", wire_error_code_name(er->code));
	/* the broker's words, escaped: one line of this agent's log */
	log_once(a, LOG_CODE + ((unsigned)er->code & 31), what,
		 util_escape(said, sizeof(said), er->message));
}

/*
 * Bids land just before the broker's round. An Award leaves right after a
 * round, so the next round is about round_ms after it arrives. An agent
 * that reads every round (its interval is the round, the default) asks for
 * its next reading `lead` before then: the last reading's own time plus a
 * tenth of the round (at most half of it). Otherwise the phase is whatever
 * the agent started with, and a reading sent just after a round waits a
 * whole round in the broker: a guest short of memory grew 3-4 rounds after
 * it was short (issue 17's lab, docs/lab.md).
 */
static void align_ticks(agent *a, uint64_t round)
{
	int64_t ivl = interval_ms(a), lead;

	if (round == a->phase_round || a->state != AG_RUNNING ||
	    a->round_ms == 0 || ivl != (int64_t)a->round_ms)
		return;
	a->phase_round = round;
	lead = min64(a->read_ms + ivl / 10, ivl / 2);
	a->next_tick = a->now + ivl - lead;
}

/* Record each of our VMs' award (nothing acts on it in this build). */
static void on_award(agent *a, const wire_award *aw)
{
	align_ticks(a, aw->round);
	for (size_t i = 0; i < aw->n_vms; i++) {
		const wire_vm_award *v = &aw->vms[i];
		struct ident *id = find_vm(a, v->vm);

		if (id) {
			id->award_round = aw->round;
			id->target_mib = v->target_mib;
			id->price = v->price;
		}
		if (a->c->verbose)
			alog(a, LOG_INFO,
			     LOG_F(.vm = v->vm, .round = (int64_t)aw->round),
			     "round %llu: %s target %lld MiB at %.2f/MiB",
			     (unsigned long long)aw->round, v->vm,
			     (long long)v->target_mib, v->price);
	}
}

/* The identity an action's result goes out as: the host's; a process
 * without a seller answers as the VM. */
static struct ident *action_ident(agent *a, const char *vm)
{
	struct ident *id = find_vm(a, vm);

	if (a->ids[0].role != WIRE_ROLE_HOST && id)
		return id;
	return &a->ids[a->primary];
}

static void send_result(agent *a, const char *action_id, const char *vm,
			wire_action_status status, const char *detail)
{
	struct ident *id = action_ident(a, vm);
	wire_msg m;

	msg_start(&m, id, WIRE_BODY_ACTION_RESULT);
	m.action_result = (wire_action_result){
		.id = action_id, .status = status, .detail = detail,
	};
	send_msg(a, id, &m);
}

/* Hand the action to the worker; answer at once only if it cannot take it.
 * A migration carries what the host has free (the latest reading): the
 * libvirt actuator grows a VM here first when it can (actuator.h). */
static void on_action(agent *a, const wire_action_request *rq)
{
	source_host h;
	actuator_action x = {
		.id = rq->id, .vm = rq->vm, .target_mib = rq->target_mib,
		.to_uri = rq->to_uri, .timeout_ms = rq->timeout_ms,
		.kind = rq->kind == WIRE_ACTION_MIGRATE ? ACTUATOR_MIGRATE
							 : ACTUATOR_RESIZE,
	};

	if (x.kind == ACTUATOR_MIGRATE && read_host(a, &h) == 0)
		x.free_mib = h.free_mib;
	if (!a->work)
		send_result(a, rq->id, rq->vm, WIRE_STATUS_UNSUPPORTED,
			    "this agent has no actuator (--actuator)");
	else if (worker_submit(a->work, &x) != 0)
		send_result(a, rq->id, rq->vm, WIRE_STATUS_FAILED,
			    "busy: too many actions waiting");
}

/* Send the results of the actions the worker finished. */
static void send_done(agent *a)
{
	static const wire_action_status status[] = {
		[ACTUATOR_OK] = WIRE_STATUS_OK,
		[ACTUATOR_FAILED] = WIRE_STATUS_FAILED,
		[ACTUATOR_TIMEOUT] = WIRE_STATUS_TIMEOUT,
		[ACTUATOR_UNSUPPORTED] = WIRE_STATUS_UNSUPPORTED,
	};
	worker_done d;

	while (worker_take(a->work, &d)) {
		alog(a, d.r.status == ACTUATOR_OK ? LOG_NOTICE : LOG_WARNING,
		     LOG_F(.action_id = d.id, .vm = d.vm),
		     "action %s (%s): %s%s%s%s", d.id, d.vm,
		     actuator_status_name(d.r.status),
		     d.r.repeated ? " (a repeated id: not done again)" : "",
		     d.r.detail[0] ? ": " : "", d.r.detail);
		send_result(a, d.id, d.vm, status[d.r.status], d.r.detail);
	}
}

static void drop(agent *a, unsigned bit, const char *why, const char *msg)
{
	char what[80];

	snprintf(what, sizeof(what), "dropped a frame from the broker (%s)",
		 why);
	log_once(a, bit, what, msg);
}

static void dispatch(agent *a, const wire_msg *m)
{
	switch (m->body) {
	case WIRE_BODY_WELCOME:
		on_welcome(a, &m->welcome);
		break;
	case WIRE_BODY_ERROR:
		on_error(a, &m->error);
		break;
	case WIRE_BODY_AWARD:
		on_award(a, &m->award);
		break;
	case WIRE_BODY_ACTION_REQUEST:
		on_action(a, &m->action_request);
		break;
	default: /* Heartbeat: that the broker is alive is all it says */
		break;
	}
}

static void on_frame(agent *a, const void *buf, size_t len)
{
	wire_msg m;
	uint32_t peer = 0;
	char msg[256];
	wire_reason r = wire_msg_decode(buf, len, &m, &peer, msg, sizeof(msg));

	if (r == WIRE_VERSION_MISMATCH) {
		fail(a, "broker speaks protocol version %u, this agent speaks "
		     "%u", peer, WIRE_VERSION);
		return;
	}
	if (r != WIRE_OK) {
		drop(a, LOG_DROP + r, wire_reason_name(r), msg);
		return;
	}
	if (m.role != WIRE_ROLE_BROKER)
		drop(a, LOG_NOT_BROKER, "not_broker", "its role is not broker");
	else
		dispatch(a, &m);
	wire_msg_release(&m);
}

/* Every waiting frame (up to a batch). Multipart messages are not ours. */
static void receive(agent *a)
{
	zmq_msg_t m;

	for (int n = 0; n < RECV_BATCH && !a->fatal; n++) {
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, a->sock, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&m);
			return;
		}
		a->heard = a->now = util_now_ms();
		if (zmq_msg_more(&m))
			drop(a, LOG_DROP + WIRE_MALFORMED, "multipart",
			     "a message of more than one frame");
		else
			on_frame(a, zmq_msg_data(&m), zmq_msg_size(&m));
		while (zmq_msg_more(&m) && zmq_msg_recv(&m, a->sock, 0) >= 0)
			;
		zmq_msg_close(&m);
	}
}

/* ---- the identities: at the start, and VMs found later ---- */

/* Room for more identities after the n_ids there are. */
static int grow_ids(agent *a, size_t more)
{
	return UTIL_GROW(a->ids, a->n_ids + more, a->cap_ids);
}

/* Where a VM identity called name goes, keeping the VMs in name order. */
static size_t vm_slot(const agent *a, const char *name)
{
	size_t lo = a->n_ids && a->ids[0].role == WIRE_ROLE_HOST;
	size_t hi = a->n_ids;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(a->ids[mid].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* An identity for the source's VM i (there is room), in name order; the
 * primary's index follows it. The new identity, or NULL with why. */
static struct ident *add_vm_ident(agent *a, size_t i, char *why, size_t len)
{
	source_vm_config v;
	size_t at;

	if (source_vm_config_get(a->src, i, &v) != 0 || !v.name) {
		snprintf(why, len, "the source has no configuration for a VM");
		return NULL;
	}
	if (find_vm(a, v.name)) {
		snprintf(why, len, "two VMs are named %s", v.name);
		return NULL;
	}
	if (a->c->run_seller && !strcmp(v.name, a->c->host)) {
		snprintf(why, len, "a VM has the host's name, %s", v.name);
		return NULL;
	}
	at = vm_slot(a, v.name);
	memmove(&a->ids[at + 1], &a->ids[at],
		(a->n_ids - at) * sizeof(*a->ids));
	if (a->n_ids > 0 && at <= a->primary)
		a->primary++;
	a->n_ids++;
	a->ids[at] = (struct ident){ .name = v.name, .vm = i,
				     .role = WIRE_ROLE_VM,
				     .reg_due = a->now, .reg_ivl = a->hb_ms };
	return &a->ids[at];
}

/* The host first (if a seller), then the VMs sorted by name. */
static int ids_init(agent *a)
{
	size_t nvm = a->c->run_buyers ? source_n_vms(a->src) : 0;
	size_t n = (a->c->run_seller ? 1 : 0) + nvm;
	char why[WIRE_MAX_NAME + 64];

	if (n == 0)
		return fail(a, "nothing to run: no seller and no VM");
	if (grow_ids(a, n) != 0)
		return fail(a, "out of memory");
	if (a->c->run_seller)
		a->ids[a->n_ids++] = (struct ident){
			.name = a->c->host, .role = WIRE_ROLE_HOST };
	for (a->n_src = 0; a->n_src < nvm; a->n_src++)
		if (!add_vm_ident(a, a->n_src, why, sizeof(why)))
			return fail(a, "%s", why);
	return 0;
}

/* The VMs the source found since the last look get identities (source.h:
 * n_vms() only grows); they register on their own timers once alive. */
static void add_new_vms(agent *a)
{
	size_t n = a->c->run_buyers ? source_n_vms(a->src) : 0;
	char why[WIRE_MAX_NAME + 64];
	const struct ident *id;

	if (n <= a->n_src)
		return;
	if (grow_ids(a, n - a->n_src) != 0) {
		alog(a, LOG_ERR, NULL,
		     "out of memory for %zu new VMs; trying again at the "
		     "next interval",
		     n - a->n_src);
		return;
	}
	for (; a->n_src < n; a->n_src++) {
		id = add_vm_ident(a, a->n_src, why, sizeof(why));
		if (id)
			alog(a, LOG_NOTICE, LOG_F(.vm = id->name),
			     "found a new VM, %s", id->name);
		else
			alog(a, LOG_WARNING, NULL, "a new VM is left out: %s",
			     why);
	}
}

/* ---- timers ---- */

static void connect_step(agent *a)
{
	if (a->now < a->reg_due)
		return;
	if (send_register(a, a->primary) != 0) {
		a->out_wait = 1; /* not connected yet: wait for POLLOUT */
		return;
	}
	a->out_wait = 0;
	a->reg_due = a->now + a->bo;
	a->bo = min64(2 * a->bo, a->c->backoff_max_ms);
}

static void register_others(agent *a)
{
	int64_t cap = a->c->backoff_max_ms > a->hb_ms ? a->c->backoff_max_ms
						       : a->hb_ms;

	for (size_t i = 0; i < a->n_ids; i++) {
		struct ident *id = &a->ids[i];

		if (id->welcomed || !eligible(id) || a->now < id->reg_due)
			continue;
		send_register(a, i);
		id->reg_due = a->now + id->reg_ivl;
		id->reg_ivl = min64(2 * id->reg_ivl, cap);
	}
}

/* One interval: the source moves on, on the sampler's thread (a slow
 * source holds up nothing here: heartbeats go on); sampled() sends the
 * asks and bids when the reading is in. An interval whose reading is still
 * under way asks for none (said once per slow episode). */
static void tick(agent *a)
{
	a->next_tick += interval_ms(a);
	if (a->next_tick <= a->now)
		a->next_tick = a->now + interval_ms(a);
	if (sampler_request(a->smp) == 0) {
		a->asked_at = a->now;
		return;
	}
	if (!a->slow_said)
		alog(a, LOG_WARNING, NULL, "the source is still reading, "
		     "asked %lld ms ago: this interval waits for it "
		     "(heartbeats go on)", (long long)(a->now - a->asked_at));
	a->slow_said = 1;
}

/* A reading is in: the host asks, each live VM bids. */
static void sampled(agent *a)
{
	char msg[256];
	int rc = sampler_take(a->smp, msg, sizeof(msg));

	if (rc > 0)
		return;
	if (a->slow_said)
		alog(a, LOG_NOTICE, NULL, "the source answered after %lld ms",
		     (long long)(a->now - a->asked_at));
	a->slow_said = 0;
	a->read_ms = a->now - a->asked_at;
	if (rc < 0) {
		alog(a, LOG_ERR, NULL, "cannot advance the source: %s", msg);
		return;
	}
	add_new_vms(a);
	sample_vms(a);
	if (!a->sock)
		return;
	for (size_t i = 0; i < a->n_ids; i++) {
		struct ident *id = &a->ids[i];

		if (!id->welcomed)
			continue;
		if (id->role == WIRE_ROLE_HOST)
			send_ask(a, id);
		else if (id->smp.alive)
			send_bid(a, id);
	}
}

static void timers(agent *a)
{
	if (a->heard >= 0 && a->now - a->heard >= silence_ms(a)) {
		reconnect(a);
		return;
	}
	if (a->state == AG_CONNECTING) {
		connect_step(a);
		return;
	}
	if (a->now >= a->next_tick)
		tick(a);
	if (a->now >= a->next_hb) {
		if (a->ids[a->primary].welcomed)
			send_heartbeat(a);
		a->next_hb = a->now + a->hb_ms;
	}
	register_others(a);
}

/* Until the earliest timer, at most POLL_MAX_MS. */
static long poll_timeout(const agent *a, int64_t deadline)
{
	int64_t t = min64(a->now + POLL_MAX_MS, deadline);

	if (a->heard >= 0)
		t = min64(t, a->heard + silence_ms(a));
	if (a->state == AG_CONNECTING && !a->out_wait) {
		t = min64(t, a->reg_due);
	} else if (a->state == AG_RUNNING) {
		t = min64(t, min64(a->next_tick, a->next_hb));
		for (size_t i = 0; i < a->n_ids; i++)
			if (!a->ids[i].welcomed && eligible(&a->ids[i]))
				t = min64(t, a->ids[i].reg_due);
	}
	return t > a->now ? (long)(t - a->now) : 0;
}

/* ---- setup and the loop ---- */

/* CURVE keys: both files or neither; a tcp:// broker needs them unless
 * insecure is asked for (then it is said once). Loads them. */
static int check_keys(agent *a)
{
	const agent_config *c = a->c;
	char err[512];

	if (!c->key_file && !c->broker_key_file) {
		if (!strncmp(c->broker, "tcp://", 6) && !c->insecure)
			return fail(a, "%s is a TCP endpoint: give --key (this "
				    "agent's key pair) and --broker-key (the "
				    "broker's public key), see bourse keygen; "
				    "or --insecure", c->broker);
		if (c->insecure)
			log_at(LOG_WARNING, NULL,
			       "agent: WARNING: --insecure: talking to "
			       "%s without CURVE: frames are neither encrypted "
			       "nor authenticated\n",
			       c->broker);
		return 0;
	}
	if (!c->key_file || !c->broker_key_file)
		return fail(a, "CURVE needs both --key and --broker-key");
	if (keys_read_pair(c->key_file, &a->kp, err, sizeof(err)) ||
	    keys_read_public(c->broker_key_file, a->broker_pub, err,
			     sizeof(err)))
		return fail(a, "%s", err);
	a->curve = 1;
	return 0;
}

static int check_config(agent *a)
{
	const agent_config *c = a->c;

	if (!c->broker || !c->broker[0])
		return fail(a, "no broker endpoint");
	if (!c->host || !wire_name_ok(c->host))
		return fail(a, "the host name must be 1..%u printable "
			    "characters without spaces", WIRE_MAX_NAME);
	if (c->backoff_min_ms < 1 || c->backoff_max_ms < c->backoff_min_ms ||
	    c->backoff_max_ms > 3600000)
		return fail(a, "backoff must satisfy 1 <= min <= max <= 1 h");
	if (c->interval_ms < 0 || c->max_runtime_ms < 0)
		return fail(a, "interval and run time must be >= 0");
	return check_keys(a);
}

static int agent_init(agent *a)
{
	char msg[256];

	if (check_config(a) != 0)
		return -1;
	if (sampler_start(a->src, &a->smp, &a->src, msg, sizeof(msg)) != 0)
		return fail(a, "%s", msg);
	if (ids_init(a) != 0)
		return -1;
	a->ctx = zmq_ctx_new();
	if (!a->ctx)
		return fail(a, "cannot create a ZeroMQ context");
	a->start = a->now = util_now_ms();
	a->bo = a->c->backoff_min_ms;
	a->hb_ms = 1000;
	a->liveness = 3;
	if (a->c->act && worker_start(a->c->act, &a->work, msg,
				      sizeof(msg)) != 0)
		return fail(a, "%s", msg);
	sample_vms(a);
	if (sock_open(a) != 0)
		return -1;
	enter_connecting(a, 0);
	return 0;
}

static void agent_free(agent *a)
{
	worker_stop(a->work);
	sampler_stop(a->smp);
	sock_close(a);
	if (a->ctx)
		zmq_ctx_term(a->ctx);
	free(a->ids);
}

/* The socket, and the worker's results when there is a worker. */
static int poll_once(agent *a, int64_t deadline)
{
	zmq_pollitem_t it[4] = {
		{ .socket = a->sock, .events = ZMQ_POLLIN },
		{ .socket = a->mon, .events = a->mon ? ZMQ_POLLIN : 0 },
		{ .fd = sampler_fd(a->smp), .events = ZMQ_POLLIN },
		{ .fd = a->work ? worker_fd(a->work) : -1, .events = ZMQ_POLLIN },
	};

	if (a->state == AG_CONNECTING && a->out_wait)
		it[0].events |= ZMQ_POLLOUT;
	if (!a->mon) /* a NULL socket is read as the fd in it[1].fd */
		it[1] = (zmq_pollitem_t){ .fd = -1, .events = 0 };
	if (zmq_poll(it, a->work ? 4 : 3, poll_timeout(a, deadline)) < 0 &&
	    zmq_errno() != EINTR)
		return fail(a, "zmq_poll: %s", zmq_strerror(zmq_errno()));
	if (a->mon && (it[1].revents & ZMQ_POLLIN))
		monitor_event(a);
	a->now = util_now_ms();
	if (it[0].revents & ZMQ_POLLOUT)
		a->out_wait = 0;
	if (it[0].revents & ZMQ_POLLIN)
		receive(a);
	if (it[2].revents & ZMQ_POLLIN)
		sampled(a);
	if (a->work && (it[3].revents & ZMQ_POLLIN))
		send_done(a);
	return a->fatal ? -1 : 0;
}

void agent_config_default(agent_config *c)
{
	memset(c, 0, sizeof(*c));
	c->broker = WIRE_DEFAULT_ENDPOINT;
	c->uri = "";
	c->run_seller = 1;
	c->run_buyers = 1;
	c->backoff_min_ms = 100;
	c->backoff_max_ms = 5000;
}

int agent_run(const agent_config *c, source *src,
	      volatile sig_atomic_t *stop, char *err, size_t errlen)
{
	agent a = { .c = c, .src = src, .err = err, .errlen = errlen };
	int64_t deadline = INT64_MAX;

	if (agent_init(&a) == 0) {
		if (c->max_runtime_ms > 0)
			deadline = a.start + c->max_runtime_ms;
		log_notify_ready("connecting to the broker"); /* source read */
		while (!(stop && *stop) && a.now < deadline && !a.fatal) {
			/* the poll waits POLL_MAX_MS at most: in time for it */
			log_watchdog(a.now);
			if (poll_once(&a, deadline) != 0)
				break;
			if (!a.fatal && a.sock)
				timers(&a);
		}
	}
	log_notify_stopping();
	agent_free(&a);
	return a.fatal ? -1 : 0;
}
