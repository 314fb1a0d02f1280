/*
 * broker_int.h - what the broker's files share. Not a public API: only the
 * .c files in broker/ include it. broker.h is the module's interface.
 *
 * The layers, top to bottom. A file calls only the files below it, and
 * each part of struct broker (at the end) is written by its own file only:
 *
 *  broker.c   the loop: open, poll, receive in batches, deadlines; config
 *  session.c  each agent's conversation: registration, checks, handlers
 *  round.c    one market round: build the cluster, clear, persist, award
 *  actions.c  recommendations carried out within the guardrails; results
 *  room.c     what a host has for a grow now (a guardrail of actions.c)
 *  outage.c   when the store fails: the streak, giving up, writing again
 *  net.c      the socket: receiving, sending, refusals, the rate limit
 *  auth.c     CURVE and the ZAP handler: which key speaks for which host
 *  registry.c hosts, VMs and connections: slots, lookup, their store rows
 *  index.c    the name -> slot hash index
 *
 * session.c is above round.c only because a Welcome names the round, and
 * above actions.c because it hands them the agents' results; round.c and
 * actions.c do not call each other. auth.c is beside net.c: the loop sets
 * CURVE up between broker__net_open() and broker__net_bind().
 *
 * Internal names start with broker__ (as storage's store__); clocks, array
 * growth and error messages are util.h's; messages are wire.h's plain
 * structs (wire_msg): no protobuf type is named in broker/.
 */
#ifndef BOURSE_BROKER_INT_H
#define BOURSE_BROKER_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <zmq.h>

#include "broker.h"
#include "keys.h"
#include "log.h"
#include "market.h"
#include "store.h"
#include "util.h"
#include "wire.h"

/* ---- index.c: open-addressing map from byte strings to slot numbers ---- */

typedef struct bindex {
	uint32_t *slots; /* value + 1; 0 = empty */
	size_t cap;      /* power of two */
	size_t n;
} bindex;

/* key_of(ctx, value, &len) returns the key bytes of a stored value, so the
 * index holds no copies of the keys. */
typedef const void *(*bindex_key_fn)(void *ctx, uint32_t value, size_t *len);

int broker__index_find(const bindex *ix, const void *key, size_t len,
		       bindex_key_fn key_of, void *ctx, uint32_t *value);
/* Insert a value whose key is not present. Returns 0, or -1 on ENOMEM. */
int broker__index_insert(bindex *ix, uint32_t value, bindex_key_fn key_of,
			 void *ctx);
/* Remove the value stored under key (if present). */
void broker__index_remove(bindex *ix, const void *key, size_t len,
			  bindex_key_fn key_of, void *ctx);
void broker__index_release(bindex *ix);

/* ---- registry.c -------------------------------------------------------- */

#define BROKER_NO_SLOT UINT32_MAX
#define BROKER_RID_MAX 256 /* ZeroMQ routing ids are at most 255 bytes */

/* A peer connection (one ROUTER routing id). */
typedef struct bconn {
	uint8_t rid[BROKER_RID_MAX];
	size_t rid_len;
	uint32_t host;       /* slot of the host it speaks for, or NO_SLOT */
	int64_t last_seen;   /* monotonic ms */
	uint32_t logged;     /* bit per refusal reason already logged */
	int live;            /* 0: slot free */
	double tokens;       /* rate limit: frames it may still send now
	                      * (token bucket); < 0: not started */
	int64_t tokens_at;   /* monotonic ms of the last refill */
	/* net.c: the socket behind it (ZMQ_SRCFD of its first frame) and
	 * that socket's inode, which tells it from a later socket given the
	 * same number (ino 0: not known yet); its CURVE key in Z85 (auth.c's
	 * BROKER_KEY_PROPERTY; "" without CURVE), for the cap per key; since
	 * when sends to it fail because its queue is full (0: they go) */
	int fd;
	uint64_t ino;
	char key[KEYS_Z85_LEN + 1];
	int64_t unread_since;
	int cut;             /* net.c shut its socket down */
} bconn;

typedef struct bhost {
	char name[WIRE_MAX_NAME + 1];
	uint8_t name_len;    /* strlen(name): the index compares keys often */
	uint32_t db_id;
	uint32_t conn;       /* slot of its connection, or NO_SLOT */
	int registered;      /* registered during this broker run */
	int online;          /* 0: lost */
	int64_t last_seen;   /* monotonic ms */
	int64_t registered_at; /* monotonic ms of its latest registration */
	uint64_t last_seq;
	int64_t capacity_mib, reserve_mib;
	char uri[WIRE_MAX_URI + 1];
	int has_ask;
	int64_t free_mib, balloon_mib;
	double host_swap_mibps;
	uint32_t congested_rounds; /* rounds in a row the market found it
	                            * congested (market_host.congested_rounds) */
	int draining;        /* `bourse host drain` (store_host_drains_list(),
	                      * read every round: round.c read_drains()) */
	int64_t online_round; /* the round it first registered (new to the
	                       * database) or registered another capacity
	                       * or URI at: on probation until
	                       * probation_rounds later */
	uint32_t n_vms;      /* VMs it holds (host slot here, not gone):
	                      * registry.c broker__registry_vm_place() */
	int probation;       /* on probation this round (round.c
	                      * mark_probation()): no migration target */
} bhost;

typedef struct bvm {
	char name[WIRE_MAX_NAME + 1];
	uint8_t name_len;    /* strlen(name) */
	uint32_t db_id;
	uint32_t host;       /* slot */
	uint32_t conn;       /* connection it last spoke through: its Award
	                      * goes there (a buyer may have its own) */
	int registered;      /* registered during this broker run */
	int gone;            /* deregistered */
	uint64_t last_seq;
	market_vm cfg;       /* settings; demand/assigned/swap from the bid */
	int has_bid;
	int64_t last_bid;    /* monotonic ms of its latest bid (or Register,
	                      * or load from the store: its host spoke for
	                      * it; bids count only with has_bid) */
	int64_t balloon_mib;
	double reported_pressure;
	/* the hosts it moved away from during this run, newest first (host
	 * slot + 1, 0: none), and the rounds: add_vms() turns them into the
	 * market's indices (not kept across a broker restart) */
	uint32_t left_slot1[MARKET_LEFT_HOSTS];
	int64_t left_round[MARKET_LEFT_HOSTS];
	/* its latest action (dispatched, or a result), for the cooldown
	 * (actions.c): known once read from the store in this run */
	int acted_known;
	int64_t acted_at;    /* monotonic ms */
	int64_t acted_wall;  /* Unix ms of the same moment, for display; 0:
	                      * it never acted */
	int64_t moved_wall;  /* Unix ms it last moved host in this run (a
	                      * migration older than that cannot move it) */
	/* its latest grow's result in this run (room.c): what it holds until
	 * a bid read after that can show it; grown_at 0: none */
	int64_t grown_mib;
	int64_t grown_at;    /* monotonic ms (b->now) */
} bvm;

/* Is a recommendation of kind, to to_mib, of a VM that holds held_mib
 * and whose pressure was pressure_before when the market made it, the
 * relief of a VM short of memory (a resize up, its demand above what it
 * held)? Such a rec is made without waiting for settle_rounds (round.c,
 * heard_since()) and dispatched within the VM's cooldown (actions.c,
 * relief()), the room guardrail (room.c) permitting. */
static inline int broker__relief(store_rec_kind kind, int64_t to_mib,
				 int64_t held_mib, double pressure_before)
{
	return kind == STORE_REC_RESIZE && to_mib > held_mib &&
	       pressure_before > 100.0;
}

/* Refusals counted besides wire_reason (after WIRE_N_REASONS). */
enum {
	BROKER_DROP_UNKNOWN = WIRE_N_REASONS, /* unregistered sender */
	BROKER_DROP_WRONG_HOST,  /* VM via another host's connection */
	BROKER_DROP_SEQUENCE,    /* duplicated or old seq */
	BROKER_DROP_FRAMING,     /* not [routing id][one frame] */
	BROKER_DROP_REFUSED,     /* register refused (unknown host, ...) */
	BROKER_DROP_KEY,         /* CURVE: the key speaks for another host */
	BROKER_DROP_ABSURD,      /* more memory than any host has */
	BROKER_DROP_RATE,        /* over the peer's rate limit (not answered) */
	BROKER_DROP_STRAY,       /* an ActionResult for no action dispatched
	                          * to its host (not answered; actions.c) */
	BROKER_DROP_OWNED,       /* a VM that another online host holds */
	BROKER_N_DROPS
};

typedef struct registry {
	bconn *conns;
	size_t n_conns, cap_conns;
	bhost *hosts;
	size_t n_hosts, cap_hosts;
	bvm *vms;
	size_t n_vms, cap_vms;
	bindex conn_ix, host_ix, vm_ix;
} registry;

void broker__registry_release(registry *r);
/* Load hosts and VMs the store knows (not registered until they say so). */
int broker__registry_load(registry *r, store *st, int64_t now, char *err,
			  size_t errlen);
/* The slot of this routing id, created if new. NO_SLOT on ENOMEM. */
uint32_t broker__registry_conn(registry *r, const uint8_t *rid, size_t len,
			       int64_t now);
uint32_t broker__registry_host_find(const registry *r, const char *name);
uint32_t broker__registry_vm_find(const registry *r, const char *name);
/* Find or add by name (zeroed, unregistered). NO_SLOT on ENOMEM. */
uint32_t broker__registry_host_add(registry *r, const char *name);
uint32_t broker__registry_vm_add(registry *r, const char *name);
/* The store's row of a host, or of a VM (on its registry host), as the
 * registry knows it, in state st, last seen at last_seen_ms (Unix ms). */
void broker__registry_host_row(const bhost *h, store_host_state st,
			       int64_t last_seen_ms, store_host_row *row);
void broker__registry_vm_row(const registry *r, const bvm *m, store_vm_state st,
			     int64_t last_seen_ms, store_vm_row *row);
/* VM m is on host slot `host` (NO_SLOT: none), gone or not, from now on:
 * the hosts' n_vms follow. */
void broker__registry_vm_place(registry *r, bvm *m, uint32_t host, int gone);
/* Is host h on probation at round `round` (no migration target yet: it
 * came online fewer than `rounds` rounds ago)? */
int broker__registry_probation(const bhost *h, int64_t round, int64_t rounds);
/* Forget connections that speak for no host and were idle past idle_ms. */
void broker__registry_sweep_conns(registry *r, int64_t now, int64_t idle_ms);

typedef struct broker broker; /* the whole state, at the end */

/* ---- net.c: the socket, sending, refusals, the rate limit -------------- */

/* Why net.c closed a connection. */
enum {
	BROKER_CUT_KEY_CAP,  /* over --max-conns-per-key */
	BROKER_CUT_UNREAD,   /* its queue full for the liveness timeout */
	BROKER_CUT_SILENT,   /* no frame in time since accepted, or idle
	                      * and bound to no host (forgotten) */
	BROKER_N_CUTS
};

typedef struct broker_net {
	void *zctx, *sock;
	char endpoint[256];             /* what it bound (ZMQ_LAST_ENDPOINT:
	                                 * tcp://127.0.0.1:* resolved to the
	                                 * port the system chose) */
	uint64_t msgs_in;               /* frames received */
	uint64_t dropped;               /* frames refused, any reason */
	uint64_t drops[BROKER_N_DROPS]; /* ... by reason */
	/* connections net.c closed (shutdown(2) on libzmq's socket: a
	 * ROUTER cannot drop one peer otherwise), by why: BROKER_CUT_* */
	uint64_t cuts[BROKER_N_CUTS];
	void *mon;                      /* the socket monitor's PAIR */
	struct broker_fdinfo *fds;      /* by fd: accepted, not heard yet */
	size_t cap_fds;
	uint64_t accept_failed;         /* accept(2) failures (EMFILE...) */
	int64_t accept_logged;          /* monotonic ms of the last log */
} broker_net;

/* The socket made and set up, not bound yet (auth.c comes in between);
 * then bound to cfg->listen, the endpoint bound in net.endpoint. Returns
 * 0, or -1 with a message. */
int broker__net_open(broker *b, char *err, size_t errlen);
int broker__net_bind(broker *b, char *err, size_t errlen);
void broker__net_close(broker_net *n);
/* One message from the socket: [routing id][envelope]. -1 when none is
 * waiting; else 0 with *ci the connection whose envelope is in body, or
 * NO_SLOT when the message was refused (framing, rate limit: counted and
 * logged here). Close body after a 0. */
int broker__net_receive(broker *b, zmq_msg_t *body, uint32_t *ci);
/* Start a message from the broker (role broker, sender "broker", seq 0:
 * agents check no sequence from it) carrying body, every field zero. */
void broker__msg_init(wire_msg *m, wire_body body);
/* Send one message to a connection. Returns 0, or -1 (logged). */
int broker__send(broker *b, const bconn *c, const wire_msg *m);
/* Refuse: count reason, log it the first time c earns it, answer c with an
 * Error of code and msg naming the refused envelope e (NULL: the frame
 * could not be decoded). */
void broker__refuse(broker *b, bconn *c, int reason, wire_error_code code,
		    const char *msg, const wire_msg *e);
/* Count a dropped frame of reason from c, not answered: 1 the first time c
 * earns the reason (the caller may log it), 0 after. */
int broker__drop_count(broker *b, bconn *c, int reason);
/* The counters' name of a drop reason (wire_reason or BROKER_DROP_*). */
const char *broker__drop_name(int reason);
/* The /metrics label of a BROKER_CUT_* ("over_key_cap", ...). */
const char *broker__cut_label(int why);
/* The socket monitor's events (handshakes, accept failures), answered
 * when net.mon is readable. */
void broker__net_monitor(broker *b);
/* Close connections accepted that sent no frame within the handshake
 * timeout and the liveness timeout after it, and those the registry
 * forgot (idle, bound to no host) (called with the liveness check, after
 * the registry's sweep). */
void broker__net_tick(broker *b, int64_t now);
/* heartbeat_ms * liveness: how long a host may be silent before it is lost
 * (and the yardstick of settling and silent VMs in round.c). */
int64_t broker__liveness_ms(const broker_config *c);

/* ---- auth.c: who may talk to the broker -------------------------------- */

/* The metadata property auth.c's ZAP handler gives each admitted
 * connection: its key in Z85 (zmq_msg_gets() on its frames). */
#define BROKER_KEY_PROPERTY "Bourse-Key"

typedef struct broker_auth {
	void *zap;             /* the ZAP handler's REP socket, or NULL */
	keys_allow allow;      /* agent keys and their hosts */
	int curve;             /* CURVE is on */
	uint64_t keys_refused; /* handshakes refused by the allow-list */
} broker_auth;

/* CURVE on sock (of context zctx) and the ZAP handler, after the socket is
 * made and before it binds; refuses a tcp:// endpoint without keys unless
 * c->insecure. Returns 0, or -1 with a message. */
int broker__auth_open(broker_auth *a, const broker_config *c, void *zctx,
		      void *sock, char *err, size_t errlen);
/* Answer the handshakes waiting on a->zap. */
void broker__auth_serve(broker_auth *a);
/* 1 if the key behind message m may speak for host (always without
 * CURVE), else 0 with the reason in msg. */
int broker__auth_may_speak_for(const broker_auth *a, zmq_msg_t *m,
			       const char *host, char *msg, size_t msglen);
/* Close the ZAP socket (before its context ends) and forget the keys. */
void broker__auth_close(broker_auth *a);

/* ---- outage.c: when the store fails ------------------------------------ */

/* docs/storage.md, "When the store fails". Zero while the store works. */
typedef struct broker_outage {
	int down;             /* the last round was not persisted */
	store_fault why;      /* ... for this fault */
	int64_t since;        /* monotonic ms of the streak's first round */
	int64_t first_lost;   /* the streak's first round */
	uint64_t lost;        /* rounds of the streak */
	uint64_t faults_seen; /* store_faults() after the last round */
	int resync;           /* write hosts and VMs again */
	int gave_up;          /* failed past store_outage_ms: stop */
	int damaged;          /* ... or at once: the file is damaged */
	char msg[1024];       /* why it stopped (broker_run()'s error) */
	uint64_t errors;      /* rounds not persisted in this run */
} broker_outage;

/* A round is about to be written: a write that failed since the last one
 * (a registration, a host lost or back) has the registry written again
 * once a round is; the store, which holds its writes after a fault, may
 * try again. */
void broker__outage_retry(broker *b);
/* What became of round's write: err NULL if it was written, else why
 * not. Logs a streak's start and end, writes the registry again, gives up
 * past cfg->store_outage_ms. */
void broker__outage_written(broker *b, int64_t round, const char *err);
/* Did the store's last refusal come from the file (locked, full, I/O)?
 * Then it holds its writes until the next round. */
int broker__outage_faulted(const broker *b);

/* ---- room.c: what a host has for a grow now ----------------------------- */

typedef struct broker_room {
	int64_t *held; /* per host slot: what its VMs and the grows on their
	                * way to it hold (broker__room_begin()) */
	size_t n, cap; /* n: host slots counted; 0 when counting failed */
} broker_room;

/* Count, before a round's dispatching, what each host holds: its VMs
 * (their latest bids, or a grow's size not yet seen in them) and the
 * recommendations in flight (dispatched: inflight[0..n), not owned).
 * Returns 0, or -1 on ENOMEM (then no grow passes broker__room_ok()). */
int broker__room_begin(broker *b, const store_rec *inflight, size_t n);
/* Has r's host the room for what r takes there (a resize up: its VM's
 * growth; a migration: its size on the destination)? 1 (also for what
 * takes nothing), or 0 with why. */
int broker__room_ok(const broker *b, const store_rec *r, char *why,
		    size_t len);
/* r was dispatched: what it takes is held on its host from now. */
void broker__room_take(broker *b, const store_rec *r);
/* r's result came: a VM grown (or a resize that failed: it may have got
 * part of the way) holds r's size until a bid read after it can show it. */
void broker__room_done(broker *b, const store_rec *r, int succeeded);
void broker__room_release(broker *b);

/* ---- actions.c: recommendations carried out ---------------------------- */

typedef struct broker_actions {
	struct broker_sent *sent; /* rec ids whose ActionRequest went out in
	                      * this run, and when (monotonic ms) */
	size_t n_sent, cap_sent;
	struct broker_held_result *held; /* results the store could not
	                                  * record yet, oldest first */
	size_t n_held, cap_held;
	struct broker_cannot *cannot; /* by host slot: kinds of action its
	                               * agent answered "unsupported" to since
	                               * its latest registration */
	size_t cap_cannot;
	store_control ctl;   /* the modes as last logged */
	int ctl_logged;
	uint64_t uid;        /* the database's identity (store_db_uid()),
	                      * part of every action id */
	int uid_known;
	/* stray results (BROKER_DROP_STRAY) since the last summary: one log
	 * line and one audit row per BROKER_STRAY_SUMMARY_MS at most */
	uint64_t strays;
	int64_t strays_since;  /* monotonic ms of the window's first one */
	char stray_last[STORE_TEXT_MAX]; /* the latest, for the summary */
} broker_actions;

/* After each round (round: the one just written): time out what got no
 * result, approve (automated mode) and send recommendations within the
 * guardrails; nothing while the store is down. */
void broker__actions_run(broker *b, int64_t round);
/* An agent's ActionResult through connection ci: recorded, or held while
 * the store is down; one for no action dispatched to ci's host is counted
 * as a stray (summarised once a minute), one after its action timed out
 * recorded as late. */
void broker__actions_result(broker *b, uint32_t ci, const wire_msg *e);
void broker__actions_release(broker *b);

/* ---- round.c: the market's rounds -------------------------------------- */

typedef struct broker_rounds {
	int64_t next;              /* the next round's number */
	uint64_t count;            /* rounds run in this broker run */
	market_cluster cl;         /* the market's view; arrays reused */
	uint32_t *host_slot;       /* cluster host index -> registry slot */
	uint32_t *vm_slot;         /* cluster VM index -> registry slot */
	size_t cap_hosts, cap_vms; /* of cl.hosts, cl.vms */
	size_t cap_host_slot, cap_vm_slot;
	market_result res;         /* the last round's */
	size_t res_hosts, res_vms; /* what res was sized for */
	size_t n_settling;         /* hosts the last round left out */
	uint8_t *bad;              /* per host slot: BROKER_BAD_* bits */
	int64_t *held;             /* per host slot: its VMs' assigned sum */
	size_t cap_bad, cap_held;
	/* the last round that cleared, for /metrics (http.c's snapshot) */
	int64_t last_round;        /* its number; 0: none yet */
	int64_t last_wall_ms;      /* Unix ms it started */
	int64_t last_split_us[3];  /* market, store, awards (store and
	                            * awards 0 when it was not persisted) */
	uint32_t *drain_ids;       /* the draining hosts' db ids, as last read */
	size_t n_drain, cap_drain;
} broker_rounds;

/* A host's bad-data state (round.c, check_bad_data()): its VMs report more
 * assigned memory than its capacity (the market gets their assigned scaled
 * down to fit), and whether the store does not hold that yet. */
#define BROKER_BAD_DATA 0x1
#define BROKER_BAD_UNSAVED 0x2

/* The next round's number, after the last one the store holds. Returns 0,
 * or -1 with a message. */
int broker__round_open(broker *b, char *err, size_t errlen);
/* Run one market round now: clear, persist, award. Returns 0, or -1 if the
 * market refused the cluster (logged; the broker goes on). */
int broker__round(broker *b);
void broker__round_release(broker *b);

/* ---- session.c: the conversation with each agent ----------------------- */

typedef struct broker_session {
	int64_t max_host_mib; /* the largest capacity registered: no VM can
	                       * want more */
} broker_session;

/* One frame from connection ci: decoded, its sender checked, handled (a
 * refusal is counted, logged and answered). */
void broker__session_handle(broker *b, uint32_t ci, zmq_msg_t *m);
/* Hosts not heard from within the liveness timeout are lost (in the store
 * too); idle connections bound to no host are forgotten. */
void broker__session_liveness(broker *b, int64_t now);

/* ---- http.c, api.c, metrics.c: the HTTP server ------------------------ *
 * Beside the layers above, on its own thread (libmicrohttpd's): it reads
 * and writes the store through its own connection, with the store
 * functions the CLI calls, and reads the broker's memory only through the
 * snapshot the loop publishes after every round (broker__http_publish()).
 * api.c routes a request and answers it (api_read.c the reads, api_int.h
 * what the two share); metrics.c writes /metrics. */

/* What the loop knows that the store does not, copied once per round. */
typedef struct broker_snapshot {
	int64_t started_ms;       /* Unix ms the broker started */
	int64_t round;            /* the last round that cleared; 0: none */
	int64_t round_wall_ms;    /* Unix ms it started */
	int64_t split_us[3];      /* its market, store and awards time */
	uint64_t rounds;          /* rounds run in this broker run */
	uint64_t store_errors;    /* ... that the store refused */
	uint64_t msgs_in, dropped;
	uint64_t drops[BROKER_N_DROPS]; /* by reason (broker__drop_name) */
	uint64_t keys_refused;    /* CURVE handshakes refused */
	uint64_t cuts[BROKER_N_CUTS]; /* connections net.c closed, by why
	                               * (broker__cut_label) */
	uint64_t accept_failed;   /* accept(2) failures (EMFILE...) */
	uint32_t conns;           /* live agent connections */
	uint32_t conns_bound;     /* ... speaking for a host */
} broker_snapshot;

/* A parsed --http address. */
typedef struct broker_http_addr {
	struct sockaddr_storage sa;
	int v6;        /* 1: IPv6 */
	int loopback;  /* 127.0.0.0/8 or ::1 */
	unsigned port;
} broker_http_addr;

/* "ADDR:PORT" or "[V6ADDR]:PORT", numeric. Returns 0, or -1 with a
 * message. */
int broker__http_addr_parse(const char *s, broker_http_addr *out, char *err,
			    size_t errlen);
/* Start the server if cfg->http (after the store is open): reads the
 * token file and TLS files, opens its own store connection, binds and
 * logs the address. Returns 0, or -1 with a message. */
int broker__http_open(broker *b, char *err, size_t errlen);
/* Copy the loop's figures into the snapshot (under its mutex). */
void broker__http_publish(broker *b);
/* Stop the server (waits for its thread) and free it; NULL-safe. */
void broker__http_close(broker *b);

/* Who a request says it is (its Authorization header). */
typedef enum broker_api_auth {
	BROKER_AUTH_NONE = 0, /* no token given */
	BROKER_AUTH_OK,       /* a token of the file: token_name */
	BROKER_AUTH_BAD,      /* a token, but not one of the file's */
} broker_api_auth;

/* One request, as http.c hands it to api.c. Everything is borrowed for
 * the call. */
typedef struct broker_api_req {
	const char *method, *path;
	/* a query argument, NULL if absent */
	const char *(*arg)(void *ctx, const char *key);
	void *arg_ctx;
	const char *body;     /* the request body (not NUL-terminated) */
	size_t body_len;
	int body_too_big;     /* it was cut at BROKER_HTTP_BODY_MAX */
	broker_api_auth auth;
	const char *token_name; /* BROKER_AUTH_OK: the token's NAME */
	int tokens;           /* a token file is configured: writes allowed */
	int open_reads;       /* bound to loopback: reads need no token */
	int no_vm_metrics;
	store *st;            /* the HTTP thread's connection */
	const broker_snapshot *snap;
	int64_t now_ms;       /* Unix ms */
} broker_api_req;

#define BROKER_HTTP_BODY_MAX 4096

/* An answer: status and a malloc'd body the caller frees. */
typedef struct broker_api_resp {
	unsigned status;
	char *body;
	size_t len;
	const char *type;  /* Content-Type (static) */
	const char *allow; /* 405: the Allow header (static), else NULL */
} broker_api_resp;

/* Route and answer r (docs/api.md); out->body is always set (an error is
 * {"error": "..."}), NULL only when out of memory (then status 500). */
void broker__api_handle(const broker_api_req *r, broker_api_resp *out);
/* The Prometheus text of r's store and snapshot into a malloc'd body.
 * Returns 0, or -1 with a message (the store failed). */
int broker__metrics_render(const broker_api_req *r, char **body, size_t *len,
			   char *err, size_t errlen);

/* ---- the whole state --------------------------------------------------- */

/* Each sub-struct is written by its own file only; files above it may read
 * it. The rest is the loop's (broker.c): set at open, and now once per 256
 * frames. */
struct broker {
	const broker_config *cfg;
	store *st;
	registry reg;          /* registry.c */
	int64_t now;           /* monotonic ms, read every 256 frames of a
	                        * batch (broker_run): a clock read per frame
	                        * costs, a stale one ages what a slow batch
	                        * hears */
	int64_t next_round_at; /* monotonic ms */
	broker_net net;        /* net.c */
	broker_auth auth;      /* auth.c */
	broker_outage outage;  /* outage.c */
	broker_actions actions; /* actions.c */
	broker_room room;      /* room.c */
	broker_rounds rounds;  /* round.c */
	broker_session session; /* session.c */
	struct broker_http *http; /* http.c; NULL: no HTTP server */
};

#endif
