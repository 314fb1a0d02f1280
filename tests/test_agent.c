/*
 * test_agent.c - the agent loop against a fake broker: a real ZeroMQ ROUTER
 * socket on an ipc:// endpoint in a temporary directory, the agent in a
 * forked child. Registration order on one connection, per-sender sequence
 * numbers, bids, asks and heartbeats, Welcomes matched by name (also out of
 * order), UNKNOWN_SENDER naming one identity or (as an Error without
 * ref_sender) only a seq, VERSION (fatal), actions answered as unsupported,
 * garbage dropped, reconnecting to a broker that went away and came back,
 * and a VM the source finds after the start (a source of the test's own)
 * registering and bidding without disturbing the others.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "agent.h"
#include "source.h"
#include "util.h"
#include "wire.h"
#include "util.h"
#include "banned.h"

#define SMALL BOURSE_SOURCE_DIR "/tests/data/small.csv"
#define HB_MS 100
#define LIVENESS 3
#define MAX_PEERS 8
#define RID_MAX 256

/* ---- the fake broker ---- */

struct peer {
	char name[64];
	uint64_t last_seq;
	int registered;            /* with the current broker socket */
	int n_reg, n_bid, n_ask, n_hb, n_result, bad_seq;
	int n_unknown;             /* non-Registers while not registered */
	uint64_t reg_seq;          /* seq of its latest Register */
	uint64_t bid_seq;          /* seq of its latest Bid */
	int64_t reg_max_mib;       /* VMs: maximum_mib of its latest Register */
	int64_t bid_assigned_mib;  /* assigned_mib of its latest Bid */
	int64_t hb_at_ms;          /* when its latest Heartbeat came */
	int64_t hb_gap_ms;         /* the longest time between two */
};

struct fake {
	char dir[64], endpoint[128];
	void *ctx, *sock;
	uint8_t rid[RID_MAX];
	size_t rid_len;
	int rid_changes;           /* frames from another routing id */
	int welcome;               /* 1: answer Registers with a Welcome */
	struct peer peers[MAX_PEERS];
	size_t n_peers;
	char order[16][64];        /* who registered, in order */
	size_t n_order;
	int results_unsupported;
	int refused;               /* VM Registers before the host's */
	int orphans_ok;            /* 1: accept VMs without their host */
	int anon_errors;           /* 1: Errors name nobody (no ref_sender) */
	int hold_vms;              /* 1: VM Registers wait for welcome_peer() */
	uint32_t round_ms;         /* the Welcome's round (0: 100) */
	int64_t bid_at_ms;         /* when vm-1's latest Bid came */
	char last_result_id[32];
};

static void sleep_ms(int64_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
			       .tv_nsec = (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static void fake_bind(struct fake *f)
{
	int linger = 0;

	f->sock = zmq_socket(f->ctx, ZMQ_ROUTER);
	assert_non_null(f->sock);
	assert_int_equal(zmq_setsockopt(f->sock, ZMQ_LINGER, &linger,
					sizeof(linger)), 0);
	assert_int_equal(zmq_bind(f->sock, f->endpoint), 0);
	f->rid_len = 0;
	for (size_t i = 0; i < f->n_peers; i++)
		f->peers[i].registered = 0;
}

static void fake_unbind(struct fake *f)
{
	zmq_close(f->sock);
	f->sock = NULL;
}

static void fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/bourse_agent_test_XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->endpoint, sizeof(f->endpoint), "ipc://%s/broker", f->dir);
	f->welcome = 1;
}

static void fake_start(struct fake *f)
{
	f->ctx = zmq_ctx_new();
	assert_non_null(f->ctx);
	fake_bind(f);
}

static void fake_free(struct fake *f)
{
	char path[128];

	if (f->sock)
		fake_unbind(f);
	if (f->ctx)
		zmq_ctx_term(f->ctx);
	snprintf(path, sizeof(path), "%s/broker", f->dir);
	unlink(path);
	rmdir(f->dir);
}

static void fake_send(struct fake *f, const wire_msg *m)
{
	size_t len;
	uint8_t *buf = wire_msg_encode(m, &len);

	assert_non_null(buf);
	assert_true(zmq_send(f->sock, f->rid, f->rid_len, ZMQ_SNDMORE) >= 0);
	assert_true(zmq_send(f->sock, buf, len, 0) >= 0);
	free(buf);
}

static void fake_send_raw(struct fake *f, const void *buf, size_t len)
{
	assert_true(zmq_send(f->sock, f->rid, f->rid_len, ZMQ_SNDMORE) >= 0);
	assert_true(zmq_send(f->sock, buf, len, 0) >= 0);
}

static void send_welcome(struct fake *f, const char *name)
{
	wire_msg m;

	wire_msg_init(&m, WIRE_ROLE_BROKER, "broker", 0, WIRE_BODY_WELCOME);
	m.welcome = (wire_welcome){ .heartbeat_ms = HB_MS,
				    .liveness = LIVENESS,
				    .round_ms = f->round_ms ? f->round_ms : 100,
				    .round = 1, .name = name };
	fake_send(f, &m);
}

/* An Error about ref (seq) of sender (NULL: naming nobody, as do all with
 * anon_errors). */
static void send_error(struct fake *f, wire_error_code code, uint64_t ref,
		       const char *sender)
{
	wire_msg m;

	wire_msg_init(&m, WIRE_ROLE_BROKER, "broker", 0, WIRE_BODY_ERROR);
	m.error = (wire_error){ .code = code, .message = "test",
				.ref_seq = ref,
				.supported_version = WIRE_VERSION + 1 };
	if (sender && !f->anon_errors)
		m.error.ref_sender = sender;
	fake_send(f, &m);
}

static void send_heartbeat(struct fake *f)
{
	wire_msg m;

	wire_msg_init(&m, WIRE_ROLE_BROKER, "broker", 0, WIRE_BODY_HEARTBEAT);
	fake_send(f, &m);
}

static struct peer *peer_get(struct fake *f, const char *name)
{
	for (size_t i = 0; i < f->n_peers; i++)
		if (!strcmp(f->peers[i].name, name))
			return &f->peers[i];
	assert_true(f->n_peers < MAX_PEERS);
	struct peer *p = &f->peers[f->n_peers++];

	snprintf(p->name, sizeof(p->name), "%s", name);
	return p;
}

static struct peer *peer_get(struct fake *f, const char *name);

/* As the real broker: a VM registers only once its host has. */
static void note_register(struct fake *f, struct peer *p, const wire_msg *e)
{
	p->n_reg++;
	p->reg_seq = e->seq;
	if (e->role == WIRE_ROLE_HOST) {
		assert_true(e->reg.has_host);
		assert_int_equal(e->reg.host.capacity_mib, 16384);
		assert_int_equal(e->reg.host.reserve_mib, 1024);
	} else {
		assert_true(e->reg.has_vm);
		assert_string_equal(e->reg.vm.host, "h1");
		p->reg_max_mib = e->reg.vm.maximum_mib;
		if (!f->orphans_ok && !peer_get(f, "h1")->registered) {
			f->refused++;
			send_error(f, WIRE_ERR_INVALID, e->seq, e->sender);
			return;
		}
		if (f->hold_vms)
			return;
	}
	if (!f->welcome)
		return;
	if (f->n_order < 16)
		snprintf(f->order[f->n_order++], 64, "%s", e->sender);
	p->registered = 1;
	send_welcome(f, e->sender);
}

/* What the real broker does with one envelope, and the bookkeeping. */
static void handle(struct fake *f, const wire_msg *e)
{
	struct peer *p = peer_get(f, e->sender);

	if (e->seq <= p->last_seq)
		p->bad_seq++;
	p->last_seq = e->seq;
	if (e->body == WIRE_BODY_REGISTER) {
		note_register(f, p, e);
		return;
	}
	if (!p->registered) {
		p->n_unknown++;
		send_error(f, WIRE_ERR_UNKNOWN_SENDER, e->seq, e->sender);
		return;
	}
	switch (e->body) {
	case WIRE_BODY_BID:
		p->n_bid++;
		p->bid_seq = e->seq;
		p->bid_assigned_mib = e->bid.assigned_mib;
		if (!strcmp(e->sender, "vm-1"))
			f->bid_at_ms = util_now_ms();
		assert_true(e->bid.assigned_mib == 4096 ||
			    e->bid.assigned_mib == 8192);
		break;
	case WIRE_BODY_ASK:
		p->n_ask++;
		assert_int_equal(e->ask.capacity_mib, 16384);
		assert_int_equal(e->ask.free_mib, 16384 - 1024 - 4096 - 8192);
		break;
	case WIRE_BODY_HEARTBEAT: {
		int64_t now = util_now_ms();

		if (p->n_hb > 0 && now - p->hb_at_ms > p->hb_gap_ms)
			p->hb_gap_ms = now - p->hb_at_ms;
		p->hb_at_ms = now;
		p->n_hb++;
		send_heartbeat(f);
		break;
	}
	case WIRE_BODY_ACTION_RESULT:
		p->n_result++;
		f->results_unsupported += e->action_result.status ==
					  WIRE_STATUS_UNSUPPORTED;
		snprintf(f->last_result_id, sizeof(f->last_result_id), "%s",
			 e->action_result.id);
		break;
	default:
		fail_msg("unexpected body %d from %s", (int)e->body,
			 e->sender);
	}
}

/* Receive one message (routing id + one frame) within ms and decode it
 * into *m (release it with wire_msg_release()). 1, or 0 if none came. */
static int fake_recv(struct fake *f, int64_t ms, wire_msg *m)
{
	zmq_pollitem_t it = { .socket = f->sock, .events = ZMQ_POLLIN };
	uint8_t rid[RID_MAX], buf[65536];
	char err[256];
	int n, len;

	if (zmq_poll(&it, 1, ms > 0 ? (long)ms : 0) <= 0)
		return 0;
	n = zmq_recv(f->sock, rid, sizeof(rid), 0);
	assert_true(n > 0);
	len = zmq_recv(f->sock, buf, sizeof(buf), 0);
	assert_true(len > 0);
	if (f->rid_len == 0) {
		memcpy(f->rid, rid, (size_t)n);
		f->rid_len = (size_t)n;
	} else if ((size_t)n != f->rid_len || memcmp(rid, f->rid, (size_t)n)) {
		f->rid_changes++;
	}
	if (wire_msg_decode(buf, (size_t)len, m, NULL, err, sizeof(err)) !=
	    WIRE_OK)
		fail_msg("the agent sent an invalid frame: %s", err);
	return 1;
}

/* Play the broker for ms milliseconds. */
static void serve(struct fake *f, int64_t ms)
{
	int64_t end = util_now_ms() + ms;
	wire_msg m;

	for (int64_t left = ms; left > 0; left = end - util_now_ms()) {
		if (!fake_recv(f, left, &m))
			continue;
		handle(f, &m);
		wire_msg_release(&m);
	}
}

/* Play the broker until cond(f) holds, at most ms. Returns cond(f). */
static int serve_until(struct fake *f, int (*cond)(struct fake *f),
		       int64_t ms)
{
	int64_t end = util_now_ms() + ms;
	wire_msg m;

	while (!cond(f) && util_now_ms() < end) {
		if (!fake_recv(f, end - util_now_ms(), &m))
			continue;
		handle(f, &m);
		wire_msg_release(&m);
	}
	return cond(f);
}

/* ---- the agent in a child ---- */

static source *open_source(void)
{
	source_trace_opts o = {
		.path = SMALL, .first = 0, .count = 2, .capacity_mib = 16384,
		.reserve_mib = 1024, .step_s = 300, .prefix = "vm-",
	};
	source *s = NULL;
	char err[256];

	if (source_trace_open(&o, &s, err, sizeof(err)) != 0)
		fail_msg("source: %s", err);
	return s;
}

/* ---- a source whose second VM appears later ---- */

#define GROW_AT 10 /* advances with one VM, before the second appears */

/* As a VM arriving by live migration: index 0 is vm-1 (4096 MiB) from the
 * start; index 1, vm-0 (8192 MiB), appears at the GROW_AT-th advance. The
 * new VM sorts before the old one, so the agent must insert it before. */
struct grow_src {
	source base;
	int advances;
};

static int grow_advance(source *s, char *err, size_t errlen)
{
	struct grow_src *g = s->state;

	(void)err;
	(void)errlen;
	g->advances++;
	return 0;
}

/* The figures the fake checks in every Ask. */
static int grow_host(source *s, source_host *out, char *err, size_t errlen)
{
	(void)s;
	(void)err;
	(void)errlen;
	memset(out, 0, sizeof(*out));
	out->capacity_mib = 16384;
	out->reserve_mib = 1024;
	out->free_mib = 16384 - 1024 - 4096 - 8192;
	return 0;
}

static size_t grow_n_vms(source *s)
{
	const struct grow_src *g = s->state;

	return g->advances >= GROW_AT ? 2 : 1;
}

static int64_t grow_mib(size_t i)
{
	return i == 0 ? 4096 : 8192;
}

static int grow_vm_config(source *s, size_t i, source_vm_config *out)
{
	if (i >= grow_n_vms(s))
		return -1;
	memset(out, 0, sizeof(*out));
	out->name = i == 0 ? "vm-1" : "vm-0";
	out->startup_mib = out->maximum_mib = grow_mib(i);
	out->minimum_mib = 512;
	out->buffer_pct = 20;
	out->weight = 5000;
	out->shares = 1000;
	return 0;
}

static int grow_vm_sample(source *s, size_t i, source_vm_sample *out,
			  char *err, size_t errlen)
{
	if (i >= grow_n_vms(s)) {
		snprintf(err, errlen, "no VM %zu", i);
		return -1;
	}
	memset(out, 0, sizeof(*out));
	out->alive = 1;
	out->assigned_mib = grow_mib(i);
	out->demand_mib = grow_mib(i) / 2;
	out->pressure = 50;
	return 0;
}

static void grow_close(source *s)
{
	free(s->state);
}

static const struct source_ops grow_ops = {
	.kind = "grow",
	.advance = grow_advance,
	.host = grow_host,
	.n_vms = grow_n_vms,
	.vm_config = grow_vm_config,
	.vm_sample = grow_vm_sample,
	.close = grow_close,
};

static source *open_grow(void)
{
	struct grow_src *g = calloc(1, sizeof(*g));

	assert_non_null(g);
	g->base.ops = &grow_ops;
	g->base.state = g;
	return &g->base;
}

/* ---- a slow source ---- */

#define SLOW_MS 1500 /* each advance: a libvirt call stuck behind a
		      * migration on a busy host (issue 17, bug 11) */

/* The trace source of open_source(), each advance taking SLOW_MS. */
struct slow_src {
	source base;
	source *inner;
};

static int slow_advance(source *s, char *err, size_t errlen)
{
	const struct slow_src *w = s->state;

	sleep_ms(SLOW_MS);
	return source_advance(w->inner, err, errlen);
}

static int slow_host(source *s, source_host *out, char *err, size_t errlen)
{
	return source_host_read(((struct slow_src *)s->state)->inner, out, err,
				errlen);
}

static size_t slow_n_vms(source *s)
{
	return source_n_vms(((struct slow_src *)s->state)->inner);
}

static int slow_vm_config(source *s, size_t i, source_vm_config *out)
{
	return source_vm_config_get(((struct slow_src *)s->state)->inner, i,
				    out);
}

static int slow_vm_sample(source *s, size_t i, source_vm_sample *out,
			  char *err, size_t errlen)
{
	return source_vm_read(((struct slow_src *)s->state)->inner, i, out, err,
			      errlen);
}

static void slow_close(source *s)
{
	struct slow_src *w = s->state;

	source_close(w->inner);
	free(w);
}

static const struct source_ops slow_ops = {
	.kind = "slow",
	.advance = slow_advance,
	.host = slow_host,
	.n_vms = slow_n_vms,
	.vm_config = slow_vm_config,
	.vm_sample = slow_vm_sample,
	.close = slow_close,
};

static source *open_slow(void)
{
	struct slow_src *w = calloc(1, sizeof(*w));

	assert_non_null(w);
	w->inner = open_source();
	w->base.ops = &slow_ops;
	w->base.state = w;
	return &w->base;
}

/* The agent in a child, on the source open() opens there. */
static int64_t agent_interval_ms = 100; /* start_agent_on()'s interval */

static pid_t start_agent_on(const struct fake *f, int64_t run_ms,
			    int seller, source *(*open)(void))
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		agent_config c;
		source *s = open();
		char err[256];
		int rc;

		agent_config_default(&c);
		c.broker = f->endpoint;
		c.host = "h1";
		c.interval_ms = agent_interval_ms;
		c.backoff_min_ms = 50;
		c.backoff_max_ms = 400;
		c.max_runtime_ms = run_ms;
		c.verbose = 1;
		c.run_seller = seller;
		rc = agent_run(&c, s, NULL, err, sizeof(err));
		if (rc != 0)
			fprintf(stderr, "agent_run: %s\n", err);
		source_close(s);
		_exit(rc == 0 ? 0 : 3);
	}
	return pid;
}

static pid_t start_agent_as(const struct fake *f, int64_t run_ms,
			    int seller)
{
	return start_agent_on(f, run_ms, seller, open_source);
}

static pid_t start_agent(const struct fake *f, int64_t run_ms)
{
	return start_agent_as(f, run_ms, 1);
}

/* Wait for the child to exit (at most ms); kill it if it does not.
 * Returns its exit status, or -1 if it had to be killed. */
static int wait_agent(pid_t pid, int64_t ms)
{
	int64_t end = util_now_ms() + ms;
	int st;

	while (util_now_ms() < end) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : -2;
		sleep_ms(10);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

static struct peer *find(struct fake *f, const char *name)
{
	for (size_t i = 0; i < f->n_peers; i++)
		if (!strcmp(f->peers[i].name, name))
			return &f->peers[i];
	return NULL;
}

static int all_registered(struct fake *f)
{
	struct peer *h = find(f, "h1"), *a = find(f, "vm-1"),
		    *b = find(f, "vm-2");

	return h && a && b && h->registered && a->registered && b->registered;
}

static int bids_flowing(struct fake *f)
{
	struct peer *a = find(f, "vm-1"), *b = find(f, "vm-2");

	return a && b && a->n_bid >= 3 && b->n_bid >= 3;
}

static int vm2_reregistered(struct fake *f)
{
	struct peer *b = find(f, "vm-2");

	return b && b->n_reg >= 2 && b->registered;
}

static int got_result(struct fake *f)
{
	struct peer *h = find(f, "h1");

	return h && h->n_result > 0;
}

/* ---- tests ---- */

/* The host registers first, then its VMs, all on one connection; then
 * asks, bids and heartbeats flow with per-sender increasing seqs. */
static void test_register_and_bid(void **state)
{
	struct fake f;
	pid_t pid;

	(void)state;
	fake_init(&f);
	pid = start_agent(&f, 2500);
	fake_start(&f);
	assert_true(serve_until(&f, all_registered, 2000));
	assert_true(f.n_order >= 3);
	assert_string_equal(f.order[0], "h1");
	assert_int_equal(find(&f, "h1")->reg_seq, 1);
	assert_int_equal(find(&f, "vm-1")->reg_seq, 1);
	assert_int_equal(find(&f, "vm-2")->reg_seq, 1);
	serve(&f, 800);
	struct peer *h = find(&f, "h1"), *a = find(&f, "vm-1"),
		    *b = find(&f, "vm-2");
	assert_true(a->n_bid >= 4 && b->n_bid >= 4);
	assert_true(h->n_ask >= 4);
	assert_true(h->n_hb >= 4);
	assert_int_equal(h->bad_seq + a->bad_seq + b->bad_seq, 0);
	assert_int_equal(h->n_reg + a->n_reg + b->n_reg, 3);
	assert_int_equal(f.rid_changes, 0);
	serve(&f, 1500);
	assert_int_equal(wait_agent(pid, 2000), 0); /* max_runtime: clean */
	fake_free(&f);
}

/* Wait for vm-1's next Bid; returns when it came (ms), or -1. */
static int64_t next_bid(struct fake *f, int64_t ms)
{
	int64_t before = f->bid_at_ms, end = util_now_ms() + ms;
	wire_msg m;

	while (f->bid_at_ms == before && util_now_ms() < end) {
		if (!fake_recv(f, end - util_now_ms(), &m))
			continue;
		handle(f, &m);
		wire_msg_release(&m);
	}
	return f->bid_at_ms == before ? -1 : f->bid_at_ms;
}

/* Bids land just before the broker's round (agent.c, align_ticks()): an
 * agent reading every round (2 s) whose phase is off (the Award, sent
 * right after a round, comes 0.8 s after a bid) reads next at the Award +
 * 2 s - lead (a tenth of the round plus its reading's time), not 2 s after
 * its last bid, which would be only 1.2 s after the Award: that bid would
 * wait 0.8 s in the broker for the round. And again the round after. */
static void test_bids_aligned_to_rounds(void **state)
{
	struct fake f;
	wire_msg e;
	wire_vm_award va = { .vm = "vm-1", .target_mib = 4096, .price = 1 };
	pid_t pid;
	int64_t bid, award;

	(void)state;
	fake_init(&f);
	f.round_ms = 2000;
	agent_interval_ms = 2000;
	pid = start_agent(&f, 9000);
	agent_interval_ms = 100;
	fake_start(&f);
	assert_true(serve_until(&f, all_registered, 3000));
	bid = next_bid(&f, 4500);
	assert_true(bid > 0);
	for (uint64_t round = 7; round <= 8; round++) {
		serve(&f, bid + 800 - util_now_ms());
		award = util_now_ms();
		wire_msg_init(&e, WIRE_ROLE_BROKER, "broker", 0,
			      WIRE_BODY_AWARD);
		e.award = (wire_award){ .round = round, .host = "h1",
					.vms = &va, .n_vms = 1 };
		fake_send(&f, &e);
		bid = next_bid(&f, 3000);
		assert_true(bid > 0);
		/* aligned: about award + 1800; the old phase: award + 1200 */
		assert_in_range(bid - award, 1500, 1990);
	}
	fake_free(&f);
	assert_int_equal(wait_agent(pid, 12000), 0);
}

/* UNKNOWN_SENDER naming nobody (an Error without ref_sender), in answer to
 * a VM's bid, makes whoever sent that seq lately register again, but not
 * the host; an action is answered as unsupported; garbage and an award are
 * survived. */
static void test_unknown_sender_and_actions(void **state)
{
	wire_vm_award va = { .vm = "vm-1", .target_mib = 2048, .price = 1.23 };
	wire_msg e;
	struct fake f;
	pid_t pid;

	(void)state;
	fake_init(&f);
	f.anon_errors = 1;
	pid = start_agent(&f, 6000);
	fake_start(&f);
	assert_true(serve_until(&f, bids_flowing, 2500));

	fake_send_raw(&f, "\x01\x02garbage", 9);
	wire_msg_init(&e, WIRE_ROLE_BROKER, "broker", 0, WIRE_BODY_AWARD);
	e.award = (wire_award){ .round = 7, .host = "h1", .vms = &va,
				.n_vms = 1 };
	fake_send(&f, &e);

	/* by now h1 (an ask and a heartbeat per interval) is far ahead of
	 * the VMs' seqs: only the VMs can have sent vm-2's bid seq */
	serve(&f, 1000);
	struct peer *b = find(&f, "vm-2"), *h = find(&f, "h1");
	assert_true(h->last_seq > b->bid_seq + 8);
	b->registered = 0; /* the broker forgot vm-2 */
	send_error(&f, WIRE_ERR_UNKNOWN_SENDER, b->bid_seq, NULL);
	assert_true(serve_until(&f, vm2_reregistered, 1500));
	int bids = b->n_bid;
	serve(&f, 500);
	assert_true(b->n_bid >= bids + 3);
	assert_int_equal(h->n_reg, 1); /* the host was not re-registered */

	wire_msg_init(&e, WIRE_ROLE_BROKER, "broker", 0,
		      WIRE_BODY_ACTION_REQUEST);
	e.action_request = (wire_action_request){
		.id = "act-1", .kind = WIRE_ACTION_RESIZE, .vm = "vm-1",
		.target_mib = 2048,
	};
	fake_send(&f, &e);
	assert_true(serve_until(&f, got_result, 1000));
	assert_int_equal(f.results_unsupported, 1);
	assert_string_equal(f.last_result_id, "act-1");
	for (size_t i = 0; i < f.n_peers; i++)
		assert_int_equal(f.peers[i].bad_seq, 0);
	assert_int_equal(f.rid_changes, 0);
	kill(pid, SIGKILL);
	wait_agent(pid, 1000);
	fake_free(&f);
}

static int vm1_reregistered(struct fake *f)
{
	struct peer *a = find(f, "vm-1");

	return a && a->n_reg >= 2 && a->registered;
}

/* Both VMs have bid, and their latest bids carry the same seq. */
static int bids_in_step(struct fake *f)
{
	struct peer *a = find(f, "vm-1"), *b = find(f, "vm-2");

	return bids_flowing(f) && a->bid_seq == b->bid_seq;
}

/* UNKNOWN_SENDER naming vm-1 makes exactly vm-1 register again: not vm-2,
 * which sent the same seq (the VMs bid in step), nor the host. */
static void test_unknown_sender_named(void **state)
{
	struct fake f;
	pid_t pid;

	(void)state;
	fake_init(&f);
	pid = start_agent(&f, 6000);
	fake_start(&f);
	assert_true(serve_until(&f, bids_in_step, 2500));
	struct peer *h = find(&f, "h1"), *a = find(&f, "vm-1"),
		    *b = find(&f, "vm-2");
	assert_int_equal(a->bid_seq, b->bid_seq);
	a->registered = 0; /* the broker forgot vm-1 */
	send_error(&f, WIRE_ERR_UNKNOWN_SENDER, a->bid_seq, "vm-1");
	assert_true(serve_until(&f, vm1_reregistered, 1500));
	int bids_a = a->n_bid, bids_b = b->n_bid;
	serve(&f, 500);
	assert_int_equal(a->n_reg, 2);
	assert_int_equal(b->n_reg, 1);
	assert_int_equal(h->n_reg, 1);
	assert_true(a->n_bid >= bids_a + 3);
	assert_true(b->n_bid >= bids_b + 3);
	for (size_t i = 0; i < f.n_peers; i++)
		assert_int_equal(f.peers[i].bad_seq, 0);
	kill(pid, SIGKILL);
	wait_agent(pid, 1000);
	fake_free(&f);
}

/* The host welcomed, both VMs' Registers waiting for an answer. */
static int vms_waiting(struct fake *f)
{
	struct peer *h = find(f, "h1"), *a = find(f, "vm-1"),
		    *b = find(f, "vm-2");

	return h && a && b && h->registered && a->n_reg > 0 && b->n_reg > 0;
}

/* What the broker does with a Register that hold_vms kept waiting. */
static void welcome_peer(struct fake *f, const char *name)
{
	peer_get(f, name)->registered = 1;
	send_welcome(f, name);
}

/* Welcomes are matched by name, not by the order of the Registers: vm-2's
 * Welcome, sent first, welcomes vm-2 (vm-1 registered first, and is still
 * not welcomed: it sends nothing but Registers); then vm-1's does. */
static void test_welcomes_out_of_order(void **state)
{
	struct fake f;
	pid_t pid;

	(void)state;
	fake_init(&f);
	f.hold_vms = 1;
	pid = start_agent(&f, 6000);
	fake_start(&f);
	assert_true(serve_until(&f, vms_waiting, 2000));
	struct peer *a = find(&f, "vm-1"), *b = find(&f, "vm-2");
	welcome_peer(&f, "vm-2");
	serve(&f, 600);
	assert_true(b->n_bid >= 3);
	assert_int_equal(b->n_reg, 1);
	assert_int_equal(a->n_bid + a->n_unknown, 0);
	assert_true(a->n_reg >= 2); /* still trying, on its own timer */
	welcome_peer(&f, "vm-1");
	assert_true(serve_until(&f, bids_flowing, 1500));
	int regs = a->n_reg;
	serve(&f, 600);
	assert_true(a->n_reg <= regs + 1); /* at most one was in flight */
	assert_int_equal(a->n_unknown + b->n_unknown, 0);
	assert_int_equal(find(&f, "h1")->n_reg, 1);
	for (size_t i = 0; i < f.n_peers; i++)
		assert_int_equal(f.peers[i].bad_seq, 0);
	kill(pid, SIGKILL);
	wait_agent(pid, 1000);
	fake_free(&f);
}

static int host_registered(struct fake *f)
{
	struct peer *h = find(f, "h1");

	return h && h->n_reg > 0;
}

/* Error VERSION is fatal: the agent exits with a failure. */
static void test_version_error_fatal(void **state)
{
	struct fake f;
	pid_t pid;

	(void)state;
	fake_init(&f);
	f.welcome = 0;
	pid = start_agent(&f, 10000);
	fake_start(&f);
	assert_true(serve_until(&f, host_registered, 2000));
	send_error(&f, WIRE_ERR_VERSION, 1, NULL);
	assert_int_equal(wait_agent(pid, 2000), 3);
	fake_free(&f);
}

/* So is an envelope of another protocol version. */
static void test_version_envelope_fatal(void **state)
{
	wire_msg e;
	struct fake f;
	pid_t pid;

	(void)state;
	fake_init(&f);
	f.welcome = 0;
	pid = start_agent(&f, 10000);
	fake_start(&f);
	assert_true(serve_until(&f, host_registered, 2000));
	wire_msg_init(&e, WIRE_ROLE_BROKER, "broker", 0, WIRE_BODY_WELCOME);
	e.version = WIRE_VERSION + 1;
	e.welcome = (wire_welcome){ .heartbeat_ms = HB_MS,
				    .liveness = LIVENESS };
	fake_send(&f, &e);
	assert_int_equal(wait_agent(pid, 2000), 3);
	fake_free(&f);
}

static int reregistered_all(struct fake *f)
{
	struct peer *h = find(f, "h1"), *a = find(f, "vm-1"),
		    *b = find(f, "vm-2");

	return all_registered(f) && h->n_reg >= 2 && a->n_reg >= 2 &&
	       b->n_reg >= 2 && a->n_bid >= 2 && b->n_bid >= 2;
}

/* The broker goes away; a new one binds the same endpoint later: the agent
 * notices the silence, reconnects and registers everything again, host
 * first, on a new connection, its seqs still increasing. */
static void test_reconnect(void **state)
{
	struct fake f;
	pid_t pid;

	(void)state;
	fake_init(&f);
	pid = start_agent(&f, 6000);
	fake_start(&f);
	assert_true(serve_until(&f, bids_flowing, 2500));
	fake_unbind(&f);
	sleep_ms(HB_MS * (LIVENESS + 3));
	f.n_order = 0;
	for (size_t i = 0; i < f.n_peers; i++)
		f.peers[i].n_bid = 0;
	fake_bind(&f);
	assert_true(serve_until(&f, reregistered_all, 3000));
	assert_true(f.n_order >= 3);
	assert_string_equal(f.order[0], "h1");
	for (size_t i = 0; i < f.n_peers; i++)
		assert_int_equal(f.peers[i].bad_seq, 0);
	assert_int_equal(f.rid_changes, 0); /* one connection to this broker */
	kill(pid, SIGKILL);
	wait_agent(pid, 1000);
	fake_free(&f);
}

/* A broker restarted at once (before the agent finds it silent) knows
 * nobody: the refusals make the agent register again, the host first. */
static void quick_restart(int anon_errors)
{
	struct fake f;
	pid_t pid;

	fake_init(&f);
	f.anon_errors = anon_errors;
	pid = start_agent(&f, 6000);
	fake_start(&f);
	assert_true(serve_until(&f, bids_flowing, 2500));
	fake_unbind(&f);
	f.n_order = 0;
	for (size_t i = 0; i < f.n_peers; i++)
		f.peers[i].n_bid = 0;
	fake_bind(&f);
	assert_true(serve_until(&f, reregistered_all, 3000));
	assert_true(f.n_order >= 3);
	assert_string_equal(f.order[0], "h1");
	for (size_t i = 0; i < f.n_peers; i++)
		assert_int_equal(f.peers[i].bad_seq, 0);
	serve(&f, 300);
	assert_true(find(&f, "vm-1")->n_bid >= 4);
	kill(pid, SIGKILL);
	wait_agent(pid, 1000);
	fake_free(&f);
}

/* The refusals name their senders: the host's makes everything register. */
static void test_quick_restart(void **state)
{
	(void)state;
	quick_restart(0);
}

/* The same with Errors that name nobody: the agent goes by the seqs. */
static void test_quick_restart_anon(void **state)
{
	(void)state;
	quick_restart(1);
}

static int vms_bidding(struct fake *f)
{
	struct peer *a = find(f, "vm-1"), *b = find(f, "vm-2");

	return a && b && a->n_bid >= 3 && b->n_bid >= 3 && a->n_hb >= 2;
}

/* Buyers only: the first live VM is the primary; it registers first and
 * sends the heartbeats. */
static void test_buyers_only(void **state)
{
	struct fake f;
	pid_t pid;

	(void)state;
	fake_init(&f);
	f.orphans_ok = 1;
	pid = start_agent_as(&f, 1500, 0);
	fake_start(&f);
	assert_true(serve_until(&f, vms_bidding, 1500));
	assert_string_equal(f.order[0], "vm-1");
	assert_null(find(&f, "h1"));
	assert_int_equal(find(&f, "vm-2")->n_hb, 0);
	assert_int_equal(wait_agent(pid, 2000), 0);
	fake_free(&f);
}

static int vm1_bidding(struct fake *f)
{
	struct peer *a = find(f, "vm-1");

	return a && a->n_bid >= 2;
}

static int vm0_bidding(struct fake *f)
{
	struct peer *n = find(f, "vm-0");

	return n && n->registered && n->n_bid >= 3;
}

/* A VM the source finds after the start (after GROW_AT advances) gets an
 * identity: it registers once, under its name with its own settings, then
 * bids its own figures; the host and vm-1 are not registered again, and
 * their seqs go on increasing; without a seller, vm-1 stays the primary
 * (the heartbeats) although vm-0 is inserted before it. */
static void grown_vm(int seller)
{
	struct fake f;
	pid_t pid;

	fake_init(&f);
	f.orphans_ok = !seller;
	pid = start_agent_on(&f, 8000, seller, open_grow);
	fake_start(&f);
	assert_true(serve_until(&f, vm1_bidding, 2500));
	struct peer *a = find(&f, "vm-1");
	assert_null(find(&f, "vm-0")); /* not before GROW_AT advances */
	assert_true(serve_until(&f, vm0_bidding, 4000));
	struct peer *n = find(&f, "vm-0");
	int bids_a = a->n_bid, hb_a = a->n_hb;
	serve(&f, 500);
	assert_int_equal(n->n_reg, 1);
	assert_int_equal(n->reg_seq, 1);
	assert_int_equal(n->reg_max_mib, 8192);
	assert_int_equal(n->bid_assigned_mib, 8192);
	assert_true(n->n_bid >= 6);
	assert_int_equal(n->n_unknown, 0);
	assert_int_equal(a->n_reg, 1);
	assert_int_equal(a->reg_max_mib, 4096);
	assert_int_equal(a->bid_assigned_mib, 4096);
	assert_true(a->n_bid >= bids_a + 3);
	assert_int_equal(a->n_unknown, 0);
	if (seller) {
		assert_int_equal(find(&f, "h1")->n_reg, 1);
		assert_string_equal(f.order[0], "h1");
	} else {
		assert_null(find(&f, "h1"));
		assert_string_equal(f.order[0], "vm-1");
		assert_true(a->n_hb >= hb_a + 2);
		assert_int_equal(n->n_hb, 0);
	}
	for (size_t i = 0; i < f.n_peers; i++)
		assert_int_equal(f.peers[i].bad_seq, 0);
	assert_int_equal(f.rid_changes, 0);
	kill(pid, SIGKILL);
	wait_agent(pid, 1000);
	fake_free(&f);
}

static void test_vm_found_later(void **state)
{
	(void)state;
	grown_vm(1);
}

static void test_vm_found_later_buyers_only(void **state)
{
	(void)state;
	grown_vm(0);
}

/* With no broker at all, the agent keeps trying and stops cleanly at its
 * run time; with the stop flag set it returns at once. */
static void test_no_broker_and_stop(void **state)
{
	struct fake f;
	agent_config c;
	volatile sig_atomic_t stop = 1;
	source *s = open_source();
	char err[256];
	int64_t t0;

	(void)state;
	fake_init(&f);
	agent_config_default(&c);
	c.broker = f.endpoint;
	c.host = "h1";
	c.max_runtime_ms = 300;
	t0 = util_now_ms();
	assert_int_equal(agent_run(&c, s, NULL, err, sizeof(err)), 0);
	assert_true(util_now_ms() - t0 >= 290 && util_now_ms() - t0 < 2000);
	c.max_runtime_ms = 0;
	t0 = util_now_ms();
	assert_int_equal(agent_run(&c, s, &stop, err, sizeof(err)), 0);
	assert_true(util_now_ms() - t0 < 500);
	source_close(s);
	fake_free(&f);
}

static void test_bad_config(void **state)
{
	agent_config c;
	source *s = open_source();
	char err[256];

	(void)state;
	agent_config_default(&c);
	c.host = "h1"; /* tcp:// (the default) needs keys, or insecure */
	assert_int_equal(agent_run(&c, s, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "is a TCP endpoint: give --key"));
	c.key_file = "/nonexistent/h1.key";
	assert_int_equal(agent_run(&c, s, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "CURVE needs both --key and --broker-key"));
	c.broker_key_file = "/nonexistent/broker.pub";
	assert_int_equal(agent_run(&c, s, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/h1.key: No such file"));
	agent_config_default(&c);
	c.insecure = 1;
	c.host = "bad name";
	assert_int_equal(agent_run(&c, s, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "host name"));
	c.host = "vm-2";
	assert_int_equal(agent_run(&c, s, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "a VM has the host's name, vm-2"));
	c.host = "h1";
	c.run_seller = c.run_buyers = 0;
	assert_int_equal(agent_run(&c, s, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "nothing to run"));
	agent_config_default(&c);
	c.insecure = 1;
	c.host = "h1";
	c.backoff_min_ms = 0;
	assert_int_equal(agent_run(&c, s, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "backoff"));
	agent_config_default(&c);
	c.host = "h1";
	c.broker = "nonsense://x";
	assert_int_equal(agent_run(&c, s, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot connect to nonsense://x"));
	source_close(s);
}

/* A source whose every advance takes SLOW_MS (15 heartbeat periods)
 * holds up neither the heartbeats (read on the sampler's thread: none
 * more than a few periods apart, where the broker's liveness is 3) nor the
 * bids, which go out as each reading comes in. Issue 17, bug 11: the loop
 * waited in the advance, and the broker marked the host lost. */
static void test_slow_source(void **state)
{
	struct fake f;
	struct peer *h, *a;
	pid_t pid;

	(void)state;
	fake_init(&f);
	pid = start_agent_on(&f, 5000, 1, open_slow);
	fake_start(&f);
	assert_true(serve_until(&f, all_registered, 2000));
	serve(&f, 3500);
	h = find(&f, "h1");
	a = find(&f, "vm-1");
	assert_true(h->n_hb >= 20);
	if (h->hb_gap_ms >= HB_MS * LIVENESS * 2)
		fail_msg("heartbeats %lld ms apart while the source read",
			 (long long)h->hb_gap_ms);
	assert_true(a->n_bid >= 1 && a->n_bid <= 4); /* one per reading */
	assert_true(h->n_ask >= 1);
	serve(&f, 1500);
	assert_int_equal(wait_agent(pid, 4000), 0);
	fake_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register_and_bid),
		cmocka_unit_test(test_bids_aligned_to_rounds),
		cmocka_unit_test(test_unknown_sender_and_actions),
		cmocka_unit_test(test_unknown_sender_named),
		cmocka_unit_test(test_welcomes_out_of_order),
		cmocka_unit_test(test_version_error_fatal),
		cmocka_unit_test(test_version_envelope_fatal),
		cmocka_unit_test(test_reconnect),
		cmocka_unit_test(test_quick_restart),
		cmocka_unit_test(test_quick_restart_anon),
		cmocka_unit_test(test_buyers_only),
		cmocka_unit_test(test_vm_found_later),
		cmocka_unit_test(test_vm_found_later_buyers_only),
		cmocka_unit_test(test_no_broker_and_stop),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_slow_source),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
