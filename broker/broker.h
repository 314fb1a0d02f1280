/*
 * broker.h - the bourse broker: the whole public API of broker/.
 *
 * One ZeroMQ ROUTER socket. Agents register their host and VMs, bid every
 * interval and send heartbeats; every round_ms the broker builds the market's
 * view of the cluster from the latest asks and bids, calls market_round()
 * (the simulator's code), writes the round to the store in one transaction
 * and sends each host connection its Award. docs/protocol.md gives the
 * conversation, docs/operations.md how to run it.
 *
 * Liveness: a host heard from within heartbeat_ms * liveness is online.
 * One that is not is marked lost (in the store too): it is not a migration
 * target, its VMs keep holding the memory they held (it is not free memory),
 * and no recommendation is made for them until the host comes back.
 *
 * Ownership: broker_run() borrows the config; it opens and closes its own
 * socket and store.
 */
#ifndef BOURSE_BROKER_H
#define BOURSE_BROKER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "market.h"
#include "store.h"

/* Limits on dispatching (manual and automated modes), docs/operations.md
 * "Guardrails". */
typedef struct broker_guardrails {
	int64_t max_actions_per_round; /* new dispatches per round */
	int64_t max_migrations_per_host; /* in flight from or to one host */
	int64_t vm_cooldown_ms; /* no new action on a VM this soon after its last */
	int64_t action_timeout_ms; /* a dispatched action with no result by
	                            * then has failed (timeout) */
} broker_guardrails;

typedef struct broker_config {
	const char *listen;   /* ZeroMQ endpoint to bind */
	const char *db_path;  /* SQLite file, created if missing */
	int64_t round_ms;     /* market round period */
	int64_t heartbeat_ms; /* agents send something at least this often */
	uint32_t liveness;    /* missed heartbeats before a host is lost */
	int64_t max_rounds;   /* stop after this many rounds; 0: never */
	int quiet;            /* 1: no per-round log line */
	const char *key_file;   /* CURVE: the broker's key pair (NAME.key) */
	const char *allow_file; /* CURVE: agents' public keys, each bound to a
	                         * host (keys.h); both or neither */
	int insecure;           /* 1: a tcp:// endpoint without CURVE */
	int64_t peer_rate;      /* frames per second one connection may send
	                         * (token bucket); 0: no limit */
	int64_t peer_burst;     /* ... and in a burst (registration) */
	int64_t max_conns_per_key; /* CURVE: connections one key (its host)
	                            * may hold at once; a further one is
	                            * closed at its first frame; 0: no cap */
	int64_t handshake_ms;   /* a connection that has not finished its
	                         * ZMTP/CURVE handshake by then is closed
	                         * (ZMQ_HANDSHAKE_IVL) */
	int64_t store_outage_ms; /* stop once the store has refused every
	                          * round this long; 0: never (docs/storage.md,
	                          * "When the store fails") */
	market_params market;
	store_rec_policy recs;
	broker_guardrails guard;
	/* The HTTP server: /metrics and the JSON API (docs/api.md). Off
	 * while http is NULL. Its address must be numeric, and off loopback
	 * it needs TLS (tokens and figures would cross the network in
	 * clear); the other http_* fields need http. */
	const char *http;            /* "ADDR:PORT", "[V6ADDR]:PORT"; port 0:
	                              * the system chooses (logged) */
	const char *http_token_file; /* "NAME TOKEN" lines, mode 0600: who
	                              * may write; NULL: the API is
	                              * read-only */
	const char *http_tls_cert;   /* PEM certificate: HTTPS; with the key */
	const char *http_tls_key;    /* PEM private key (mode 0600) */
	int http_no_vm_metrics;      /* 1: no per-VM series in /metrics */
	/* Who holds what (docs/reliability.md, "Who owns a VM"). */
	int64_t probation_rounds; /* a host new to the database, or that
	                           * registers another capacity or URI, is a
	                           * migration target only after this many
	                           * rounds; 0: at once */
	int64_t max_host_mib;     /* the most capacity a host may register
	                           * (MiB), and so the most memory a VM may
	                           * ask for (absurd above it) */
	int64_t max_vms_per_host; /* VMs one host may hold (registered and
	                           * not deregistered); more are refused */
} broker_config;

/* Counters of one broker run (also printed at shutdown). */
typedef struct broker_stats {
	uint64_t msgs_in;      /* frames received */
	uint64_t dropped;      /* frames refused, any reason */
	uint64_t rounds;       /* rounds run */
	uint64_t store_errors; /* rounds that could not be persisted */
} broker_stats;

/* Defaults: listen WIRE_DEFAULT_ENDPOINT (tcp://127.0.0.1:7411), db bourse.db, round 5000 ms,
 * heartbeat 1000 ms, liveness 3, market and store defaults; guardrails 4
 * actions per round, 2 migrations per host, 10 min VM cooldown, 10 min
 * action timeout; 5,000 frames/s per connection, bursts of 20,000; no
 * keys (then a tcp:// endpoint needs insecure); 4 connections per key
 * (an agent holds one; after a reset its old one may linger until libzmq
 * notices it gone), a 10 s handshake timeout (a CURVE handshake takes a
 * few round trips and one answer of the broker's loop, which a round's
 * store wait, STORE_BUSY_MS 5 s at most, can delay); probation 12
 * rounds, hosts of at most 16 TiB, 4,096 VMs per host. */
void broker_config_default(broker_config *c);

/* Check ranges. Returns 0, or -1 with a message. */
int broker_config_validate(const broker_config *c, char *err, size_t errlen);

/* broker_run()'s return when it stopped on a damaged database file
 * (SQLITE_CORRUPT, SQLITE_NOTADB met in a round): starting it again on the
 * same file cannot help, the message says how to restore or recover it. */
#define BROKER_DAMAGED (-2)

/* Run until *stop becomes non-zero (set it from a signal handler) or
 * max_rounds rounds have run. Returns 0 after a clean shutdown, or -1 with a
 * message if the broker could not start (endpoint in use, store refused) or
 * stopped because the store refused its rounds for store_outage_ms, or
 * BROKER_DAMAGED with a message. stats may be NULL. */
int broker_run(const broker_config *c, volatile sig_atomic_t *stop,
	       broker_stats *stats, char *err, size_t errlen);

#endif
