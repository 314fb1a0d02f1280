/*
 * broker.c - the broker's loop: open, poll, receive in batches, run the
 * deadlines (rounds, the liveness check), close; and its configuration.
 *
 * Single-threaded: one ZeroMQ ROUTER (net.c), zmq_poll with a timeout up to
 * the next deadline (round, liveness check). Each frame is handed to
 * session.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <zmq.h>

#include "broker_int.h"
#include "banned.h"

void broker_config_default(broker_config *c)
{
	memset(c, 0, sizeof(*c));
	c->listen = WIRE_DEFAULT_ENDPOINT;
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
	c->max_conns_per_key = 4;
	c->handshake_ms = 10000;
	c->probation_rounds = 12;
	c->max_host_mib = 16LL * 1024 * 1024;
	c->max_vms_per_host = 4096;
}

/* Who holds what: probation, the capacity ceiling, VMs per host. */
static int owner_validate(const broker_config *c, char *err, size_t errlen)
{
	if (c->probation_rounds < 0 || c->probation_rounds > 1000000)
		return util_err(err, errlen, "--probation-rounds must be 0 .. "
				"1000000");
	if (c->max_host_mib < 1 || c->max_host_mib > WIRE_MAX_MIB)
		return util_err(err, errlen, "--max-host-mib must be 1 .. %lld",
				(long long)WIRE_MAX_MIB);
	if (c->max_vms_per_host < 1 || c->max_vms_per_host > 1000000)
		return util_err(err, errlen, "--max-vms-per-host must be 1 .. "
				"1000000");
	return 0;
}

/* The HTTP server's flags: they go together, and off loopback it needs
 * TLS (docs/operations.md, "Metrics and the HTTP API"). */
static int http_validate(const broker_config *c, char *err, size_t errlen)
{
	broker_http_addr a;

	if (!c->http) {
		if (c->http_token_file || c->http_tls_cert || c->http_tls_key ||
		    c->http_no_vm_metrics)
			return util_err(err, errlen, "--http-token-file, "
					"--http-tls-cert, --http-tls-key and "
					"--http-no-vm-metrics need --http");
		return 0;
	}
	if (broker__http_addr_parse(c->http, &a, err, errlen))
		return -1;
	if ((c->http_token_file && !*c->http_token_file) ||
	    (c->http_tls_cert && !*c->http_tls_cert) ||
	    (c->http_tls_key && !*c->http_tls_key))
		return util_err(err, errlen, "--http-token-file, "
				"--http-tls-cert and --http-tls-key need a "
				"path");
	if (!c->http_tls_cert != !c->http_tls_key)
		return util_err(err, errlen, "--http-tls-cert and "
				"--http-tls-key go together");
	if (!a.loopback && (!c->http_tls_cert || !c->http_token_file))
		return util_err(err, errlen, "--http %s is not a loopback "
				"address: it needs TLS (--http-tls-cert, "
				"--http-tls-key), or tokens and figures would "
				"cross the network in clear, and "
				"--http-token-file (reads need a token there)",
				c->http);
	return 0;
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
	else if (c->max_conns_per_key < 0 || c->max_conns_per_key > 10000)
		bad = "connections per key must be 0 (no cap) .. 10000";
	else if (c->handshake_ms < 100 || c->handshake_ms > 600000)
		bad = "the handshake timeout must be 100 ms .. 10 min";
	else if (c->insecure && (c->key_file || c->allow_file))
		bad = "--insecure and CURVE keys (--key, --allow) contradict";
	if (bad)
		return util_err(err, errlen, "%s", bad);
	if (http_validate(c, err, errlen) || owner_validate(c, err, errlen))
		return -1;
	return market_params_validate(&c->market, err, errlen);
}

/* One message from the socket: [routing id][envelope], handled. Returns 0,
 * or -1 when none is waiting. */
static int receive_one(broker *b)
{
	zmq_msg_t body;
	uint32_t ci;

	if (broker__net_receive(b, &body, &ci))
		return -1;
	if (ci != BROKER_NO_SLOT)
		broker__session_handle(b, ci, &body);
	zmq_msg_close(&body);
	return 0;
}

/* The broker's row in the store (store_broker_started()): readers learn
 * that it runs, since when and how often it beats (round.c writes the
 * heartbeat). Not fatal: a broker that cannot say so still runs rounds. */
static void started(broker *b)
{
	store_broker_status st = { .started_ms = util_wall_ms(),
				   .round_ms = b->cfg->round_ms,
				   .pid = (int64_t)getpid() };
	char err[STORE_TEXT_MAX + 200];

	snprintf(st.endpoint, sizeof(st.endpoint), "%s", b->net.endpoint);
	if (store_broker_started(b->st, &st, err, sizeof(err)))
		log_at(LOG_WARNING, NULL, "broker: warning: %s\n", err);
}

/* A clean stop, recorded: readers then say "stopped", not "no heartbeat"
 * (a broker killed by SIGKILL cannot say it). The store may be holding
 * its writes after a fault: try once more. */
static void stopped(broker *b)
{
	char err[STORE_TEXT_MAX + 200];

	if (!b->st)
		return;
	store_retry(b->st);
	if (store_broker_stopped(b->st, util_wall_ms(), err, sizeof(err)))
		log_at(LOG_WARNING, NULL, "broker: warning: %s\n", err);
}

/* systemd (like most shells) starts a service with a soft limit of 1,024
 * descriptors, for select(2)'s sake, and a much higher hard one. Each
 * connection costs the broker one, and it never uses select(2) (libzmq
 * polls with epoll and poll(2), libmicrohttpd's AUTO with epoll): the
 * soft limit goes up to the hard one, as systemd advises such programs
 * to do (LimitNOFILE= in the unit sets both). */
static void raise_nofile(void)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &r) != 0)
			log_at(LOG_WARNING, NULL, "broker: cannot raise the "
			       "descriptors' soft limit: %s\n",
			       strerror(errno));
	}
}

static int broker_open(broker *b, const broker_config *c, char *err,
		       size_t errlen)
{
	int64_t wait;

	memset(b, 0, sizeof(*b));
	b->cfg = c;
	if (broker_config_validate(c, err, errlen))
		return -1;
	raise_nofile();
	/* bind first: a broker that cannot listen leaves no database behind
	 * (frames that arrive meanwhile wait in the socket) */
	if (broker__net_open(b, err, errlen) ||
	    broker__auth_open(&b->auth, c, b->net.zctx, b->net.sock, err,
			      errlen) ||
	    broker__net_bind(b, err, errlen))
		return -1;
	if (store_open(c->db_path, STORE_CREATE, &b->st, err, errlen))
		return -1;
	/* the loop answers nobody while it waits for another process's lock:
	 * a quarter of the shorter of the round and the liveness timeout
	 * (docs/storage.md, "When the store fails") */
	wait = c->round_ms < broker__liveness_ms(c) ? c->round_ms
						    : broker__liveness_ms(c);
	store_busy_ms(b->st, (int)(wait / 4 < STORE_BUSY_MS ? wait / 4
							    : STORE_BUSY_MS));
	if (broker__round_open(b, err, errlen))
		return -1;
	if (broker__registry_load(&b->reg, b->st, util_now_ms(), err, errlen))
		return -1;
	if (broker__http_open(b, err, errlen))
		return -1;
	started(b);
	b->next_round_at = util_now_ms() + c->round_ms;
	log_at(LOG_NOTICE, NULL, "broker: listening on %s, database %s, round %" PRId64
		" every %" PRId64 " ms, %zu hosts and %zu VMs known\n",
		b->net.endpoint, c->db_path, b->rounds.next, c->round_ms,
		b->reg.n_hosts, b->reg.n_vms);
	log_notify_ready("listening, no round yet"); /* bound, store open */
	return 0;
}

static void broker_close(broker *b)
{
	broker__http_close(b); /* its thread first: it reads the snapshot */
	broker__auth_close(&b->auth);
	broker__net_close(&b->net);
	broker__round_release(b);
	broker__actions_release(b);
	broker__room_release(b);
	broker__registry_release(&b->reg);
	store_close(b->st);
}

/* The run's counters, kept by the files that count them. */
static broker_stats stats_of(const broker *b)
{
	broker_stats s = {
		.msgs_in = b->net.msgs_in,
		.dropped = b->net.dropped,
		.rounds = b->rounds.count,
		.store_errors = b->outage.errors,
	};

	return s;
}

static void print_stats(const broker *b)
{
	broker_stats s = stats_of(b);
	char line[1024];
	size_t n;

	n = (size_t)snprintf(line, sizeof(line), "broker: stopped after %"
			     PRIu64 " rounds; %" PRIu64 " messages in, %"
			     PRIu64 " dropped", s.rounds, s.msgs_in, s.dropped);
	for (int i = 1; i < BROKER_N_DROPS && n < sizeof(line); i++)
		if (b->net.drops[i])
			n += (size_t)snprintf(line + n, sizeof(line) - n,
					      ", %s %" PRIu64,
					      broker__drop_name(i),
					      b->net.drops[i]);
	if (b->auth.keys_refused && n < sizeof(line))
		n += (size_t)snprintf(line + n, sizeof(line) - n, "; %" PRIu64
				      " connections refused (key not allowed)",
				      b->auth.keys_refused);
	if (n < sizeof(line) && (b->net.cuts[BROKER_CUT_KEY_CAP] ||
				 b->net.cuts[BROKER_CUT_UNREAD] ||
				 b->net.cuts[BROKER_CUT_SILENT]))
		snprintf(line + n, sizeof(line) - n, "; connections closed: %"
			 PRIu64 " over the cap per key, %" PRIu64 " not "
			 "reading, %" PRIu64 " silent",
			 b->net.cuts[BROKER_CUT_KEY_CAP],
			 b->net.cuts[BROKER_CUT_UNREAD],
			 b->net.cuts[BROKER_CUT_SILENT]);
	log_at(LOG_NOTICE, NULL, "%s", line);
}

static int done(const broker *b, volatile sig_atomic_t *stop)
{
	return *stop || b->outage.gave_up || (b->cfg->max_rounds &&
			 (int64_t)b->rounds.count >= b->cfg->max_rounds);
}

/* Wait for frames until the next deadline (a round, or the liveness check
 * at next_live), answer handshakes, and read a batch of frames. Returns 0,
 * or -1 if polling failed. */
static int poll_and_receive(broker *b, int64_t next_live)
{
	int64_t now = util_now_ms();
	int64_t wd = log_watchdog(now); /* from the loop: a hung one is caught */
	int64_t next = b->next_round_at < next_live ? b->next_round_at
						    : next_live;
	zmq_pollitem_t pi[3] = { { b->net.sock, 0, ZMQ_POLLIN, 0 },
				 { b->net.mon, 0, ZMQ_POLLIN, 0 },
				 { b->auth.zap, 0, ZMQ_POLLIN, 0 } };
	int n = zmq_poll(pi, b->auth.zap ? 3 : 2,
			 next > now ? (long)((wd < next ? wd : next) - now) : 0);

	if (n < 0 && zmq_errno() != EINTR)
		return -1;
	if (pi[1].revents & ZMQ_POLLIN)
		broker__net_monitor(b);
	if (b->auth.zap && (pi[2].revents & ZMQ_POLLIN))
		broker__auth_serve(&b->auth);
	/* bounded batch, so that timers are not starved by a flood; one clock
	 * reading serves 256 frames (b->now): a slow batch (a flood,
	 * valgrind) must not age what it hears, or the liveness check would
	 * take busy peers for silent ones */
	for (int i = 0; n > 0 && i < 10000; i++) {
		if (i % 256 == 0)
			b->now = util_now_ms();
		if (receive_one(b))
			break;
	}
	return 0;
}

/* What is due: the liveness check, a round and then the actions pass. */
static void run_deadlines(broker *b, int64_t *next_live)
{
	const broker_config *c = b->cfg;
	int64_t now = util_now_ms();

	if (now >= *next_live) {
		broker__session_liveness(b, now);
		broker__net_tick(b, now);
		*next_live = now + c->heartbeat_ms;
	}
	if (now >= b->next_round_at) {
		broker__round(b);
		/* the round just run */
		broker__actions_run(b, b->rounds.next - 1);
		log_notify_status("round %" PRId64 ", %zu hosts, %zu VMs",
				  b->rounds.next - 1, b->rounds.cl.n_hosts,
				  b->rounds.cl.n_vms);
		broker__http_publish(b);
		b->next_round_at += c->round_ms;
		if (b->next_round_at <= now) /* fell behind: skip */
			b->next_round_at = now + c->round_ms;
	}
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
	next_live = util_now_ms() + c->heartbeat_ms;
	while (!done(&b, stop) && poll_and_receive(&b, next_live) == 0)
		run_deadlines(&b, &next_live);
	log_notify_stopping();
	stopped(&b);
	print_stats(&b);
	if (stats)
		*stats = stats_of(&b);
	/* outage.c said why */
	rc = b.outage.damaged ? BROKER_DAMAGED : b.outage.gave_up ? -1 : 0;
	if (rc)
		snprintf(err, errlen, "%s", b.outage.msg);
	broker_close(&b);
	return rc;
}
