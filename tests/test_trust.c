/*
 * test_trust.c - who may talk to the broker, and what a misbehaving peer or
 * a partition cannot do: the real broker and agents as processes
 * (tests/live.h), over TCP loopback with ZeroMQ CURVE, or over ipc.
 *
 *  - a known key is admitted, an unknown one refused (and told so);
 *  - a key bound to one host can neither register another host nor bid
 *    for another host's VMs;
 *  - a TCP broker without keys runs only with --insecure, which it says;
 *  - a flood from one peer is rate-limited and does not starve the others;
 *  - a demand above any host is refused with a counted reason;
 *  - a host that goes silent (SIGSTOP: a partition) is lost, its VMs are
 *    neither free memory nor targets, and when it returns it is the same
 *    host again, not a second one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zmq.h>

#include "keys.h"
#include "live.h"
#include "wire.h"
#include "util.h"
#include "banned.h"

/* Key pairs for the broker and the hosts named, in the test's directory;
 * an allow-list with the hosts of `allowed` (space-separated). */
static void make_keys(struct live *l, const char *names, const char *allowed)
{
	char list[256], *save = NULL;

	snprintf(list, sizeof(list), "broker %s", names);
	for (char *n = strtok_r(list, " ", &save); n;
	     n = strtok_r(NULL, " ", &save))
		assert_int_equal(live_run_cli("'%s' keygen %s --dir '%s' "
					      ">/dev/null", live_bin, n,
					      l->dir), 0);
	snprintf(list, sizeof(list), "%s", allowed);
	assert_int_equal(live_run_cli("cd '%s' && : > allow", l->dir), 0);
	for (char *n = strtok_r(list, " ", &save); n;
	     n = strtok_r(NULL, " ", &save))
		assert_int_equal(live_run_cli("cd '%s' && sed -n 's/^public-key "
					      "= /%s /p' %s.pub >> allow",
					      l->dir, n, n), 0);
}

/* The broker on TCP loopback with CURVE, on the port the kernel gives it;
 * l->ep is then the endpoint it bound. */
static void start_curve_broker(struct live *l)
{
	char key[160], allow[160];
	const char *extra[] = { "--key", key, "--allow", allow, NULL };

	snprintf(l->ep, sizeof(l->ep), "tcp://127.0.0.1:*");
	snprintf(key, sizeof(key), "%s/broker.key", l->dir);
	snprintf(allow, sizeof(allow), "%s/allow", l->dir);
	live_start_broker_with(l, extra);
	live_learn_endpoint(l);
	assert_true(live_wait_at_least(l, 1, WAIT_MS, "SELECT 1 FROM rounds "
				       "LIMIT 1") >= 0);
}

/* An agent for `host` speaking with the key pair of `keyname`. */
static void start_curve_agent(struct live *l, int i, const char *host,
			      const char *keyname, const char *vms)
{
	char log[160], key[160], bkey[160];

	snprintf(log, sizeof(log), "%s/agent-%d.log", l->dir, i);
	snprintf(key, sizeof(key), "%s/%s.key", l->dir, keyname);
	snprintf(bkey, sizeof(bkey), "%s/broker.pub", l->dir);
	const char *args[] = { "agent", "--host", host, "--capacity-mib",
			       "16384", "--trace", l->trace, "--vms", vms,
			       "--broker", l->ep, "--key", key, "--broker-key",
			       bkey, "--vm-prefix", i ? "b-vm-" : "vm-", NULL };
	l->agents[i] = live_spawn(l, log, args);
}

static int64_t host_count(struct live *l, const char *name)
{
	return live_q_int(l, "SELECT COUNT(*) FROM hosts WHERE name = '%s'",
			  name);
}

/* Wait until path has a line containing needle. */
static void wait_log(const char *path, const char *needle)
{
	int64_t end = util_now_ms() + WAIT_MS;

	while (live_count_in_file(path, needle) < 1) {
		if (util_now_ms() > end)
			fail_msg("no '%s' in %s", needle, path);
		live_sleep_ms(20);
	}
}

static void test_known_key_admitted_unknown_refused(void **state)
{
	struct live *l = *state;
	char log[160];

	make_keys(l, "host-a host-b", "host-a");
	start_curve_broker(l);
	start_curve_agent(l, 0, "host-a", "host-a", "0:4");
	start_curve_agent(l, 1, "host-b", "host-b", "4:2");
	live_wait_online(l, 1);
	assert_true(live_wait_at_least(l, 4, WAIT_MS, "SELECT COUNT(*) FROM "
				       "vms") >= 0);
	/* the unknown key is told, and never gets in */
	snprintf(log, sizeof(log), "%s/agent-1.log", l->dir);
	wait_log(log, "refused this agent's key");
	wait_log(l->blog, "is not in the allow-list");
	live_wait_rounds_after(l, live_last_round(l), 3);
	assert_int_equal(host_count(l, "host-b"), 0);
	assert_int_equal(live_q_int(l, "SELECT COUNT(*) FROM vms"), 4);
	live_stop_all_cleanly(l);
	assert_true(live_count_in_file(l->blog, "connections refused (key not "
				       "allowed)") == 1);
}

/* A CURVE DEALER with the key pair of keyname. */
static void *curve_dealer(struct live *l, void *ctx, const char *keyname)
{
	char path[160], err[256], bpub[KEYS_Z85_LEN + 1];
	keys_pair kp;
	void *s = zmq_socket(ctx, ZMQ_DEALER);
	int linger = 0, tmo = 3000 * live_slow;

	snprintf(path, sizeof(path), "%s/%s.key", l->dir, keyname);
	assert_int_equal(keys_read_pair(path, &kp, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/broker.pub", l->dir);
	assert_int_equal(keys_read_public(path, bpub, err, sizeof(err)), 0);
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(s, ZMQ_RCVTIMEO, &tmo, sizeof(tmo));
	zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, bpub, KEYS_Z85_LEN);
	zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, kp.pub, KEYS_Z85_LEN);
	zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, kp.sec, KEYS_Z85_LEN);
	assert_int_equal(zmq_connect(s, l->ep), 0);
	return s;
}

static void send_env(void *s, const wire_msg *e)
{
	size_t len;
	uint8_t *buf = wire_msg_encode(e, &len);

	assert_non_null(buf);
	assert_int_equal(zmq_send(s, buf, len, 0), (int)len);
	free(buf);
}

/* The next frame: its body case; an Error's code in *code. */
static int recv_kind(void *s, int *code)
{
	uint8_t buf[65536];
	int n = zmq_recv(s, buf, sizeof(buf), 0);
	wire_msg e;
	int kind;

	assert_true(n > 0);
	assert_int_equal(wire_msg_decode(buf, (size_t)n, &e, NULL, NULL, 0),
			 WIRE_OK);
	kind = (int)e.body;
	if (kind == WIRE_BODY_ERROR)
		*code = (int)e.error.code;
	wire_msg_release(&e);
	return kind;
}

/* The next Error (Heartbeats and Awards skipped): its code. */
static int next_error(void *s)
{
	int code = 0;

	for (int i = 0; i < 50; i++)
		if (recv_kind(s, &code) == WIRE_BODY_ERROR)
			return code;
	fail_msg("no Error in 50 frames");
	return 0;
}

static void register_host(void *s, const char *name, uint64_t seq,
			  int64_t capacity)
{
	wire_msg e;

	wire_msg_init(&e, WIRE_ROLE_HOST, name, seq, WIRE_BODY_REGISTER);
	e.reg.has_host = 1;
	e.reg.host.capacity_mib = capacity;
	e.reg.host.reserve_mib = 512;
	e.reg.host.uri = "";
	send_env(s, &e);
}

static void send_bid(void *s, const char *vm, uint64_t seq, int64_t demand)
{
	wire_msg e;

	wire_msg_init(&e, WIRE_ROLE_VM, vm, seq, WIRE_BODY_BID);
	e.bid.demand_mib = demand;
	e.bid.assigned_mib = 1024;
	e.bid.pressure = 150; /* as reported: a bounded figure on the wire */
	send_env(s, &e);
}

/* host-b's key: admitted as host-b, refused as host-a, and refused when it
 * bids for a VM of host-a through its own connection. */
static void test_key_speaks_for_its_host_only(void **state)
{
	struct live *l = *state;
	void *ctx = zmq_ctx_new(), *s;
	int code = 0;

	make_keys(l, "host-a host-b", "host-a host-b");
	start_curve_broker(l);
	start_curve_agent(l, 0, "host-a", "host-a", "0:4");
	live_wait_online(l, 1);
	assert_true(live_wait_at_least(l, 4, WAIT_MS, "SELECT COUNT(*) FROM "
				       "vms") >= 0);

	s = curve_dealer(l, ctx, "host-b");
	register_host(s, "host-a", 100, 65536); /* an impostor */
	assert_int_equal(next_error(s), WIRE_ERR_WRONG_HOST);
	register_host(s, "host-b", 1, 65536);   /* itself: welcome */
	assert_int_equal(recv_kind(s, &code), WIRE_BODY_WELCOME);
	send_bid(s, "vm-1", 1000, 2048);        /* host-a's VM */
	assert_int_equal(next_error(s), WIRE_ERR_WRONG_HOST);
	zmq_close(s);
	zmq_ctx_term(ctx);

	/* host-a is still host-a's: online, on its own connection */
	live_wait_rounds_after(l, live_last_round(l), 2);
	assert_int_equal(live_q_int(l, "SELECT state FROM hosts WHERE name = "
				    "'host-a'"), STORE_HOST_ONLINE);
	assert_int_equal(live_q_int(l, "SELECT COUNT(*) FROM vms v JOIN hosts "
				    "h ON h.id = v.host_id WHERE h.name = "
				    "'host-a'"), 4);
	live_stop_all_cleanly(l);
	assert_true(live_count_in_file(l->blog, "not_authorised") >= 1);
	assert_true(live_count_in_file(l->blog, "wrong_host") >= 1);
}

static void test_tcp_without_keys_only_when_insecure(void **state)
{
	struct live *l = *state;
	const char *insecure[] = { "--insecure", NULL };

	/* nobody connects: any port the kernel gives will do */
	snprintf(l->ep, sizeof(l->ep), "tcp://127.0.0.1:*");
	live_start_broker_with(l, NULL);
	int st = live_stop_proc(&l->broker, 0, 10000 * live_slow);

	/* it exited by itself (signal 0 only waits), with status 1 */
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	assert_int_equal(live_count_in_file(l->blog, "is a TCP endpoint"), 1);

	live_start_broker_with(l, insecure);
	wait_log(l->blog, "listening on tcp://");
	assert_int_equal(live_count_in_file(l->blog, "WARNING: --insecure"), 1);
	live_stop_broker_cleanly(l);
}

/* One peer sends as fast as it can; the honest agents' hosts stay online,
 * rounds keep their pace, the flood is counted as rate_limited. */
static void test_flood_from_one_peer_does_not_starve(void **state)
{
	struct live *l = *state;
	const char *extra[] = { "--peer-rate", "500", "--peer-burst", "1000",
				NULL };
	void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_DEALER);
	int hwm = 0, linger = 0;
	uint8_t junk[64];
	int64_t r0, t0, sent = 0;

	live_start_cluster_with(l, extra);
	zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	assert_int_equal(zmq_connect(s, l->ep), 0);
	memset(junk, 0x5a, sizeof(junk));
	r0 = live_last_round(l);
	t0 = util_now_ms();
	while (util_now_ms() - t0 < 3000) {
		for (int i = 0; i < 1000; i++, sent++)
			zmq_send(s, junk, sizeof(junk), ZMQ_DONTWAIT);
		live_sleep_ms(1);
	}
	zmq_close(s);
	zmq_ctx_term(ctx);
	/* ~15 rounds of 200 ms in 3 s: the broker kept its pace (allow for
	 * a loaded machine), and nobody was lost */
	fprintf(stderr, "flood: %" PRId64 " frames in 3 s; %" PRId64
		" rounds\n", sent, live_last_round(l) - r0);
	assert_true(live_last_round(l) - r0 >= 5);
	assert_int_equal(live_q_int(l, "SELECT COUNT(*) FROM hosts WHERE "
				    "state = %d", STORE_HOST_ONLINE), 2);
	assert_int_equal(live_q_int(l, "SELECT COUNT(*) FROM hosts WHERE "
				    "state = %d", STORE_HOST_LOST), 0);
	live_stop_all_cleanly(l);
	assert_int_equal(live_count_in_file(l->blog, "frames/s: dropping"), 1);
	assert_int_equal(live_count_in_file(l->blog, "rate_limited"), 1);
}

/* A bid for more memory than any host has is refused, counted and
 * answered; an honest one from the same VM is then taken. */
static void test_demand_above_any_host_refused(void **state)
{
	struct live *l = *state;
	void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_DEALER);
	int linger = 0, tmo = 3000 * live_slow, code = 0;
	wire_msg e;

	live_start_cluster(l); /* hosts of 8 and 32 GiB */
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(s, ZMQ_RCVTIMEO, &tmo, sizeof(tmo));
	assert_int_equal(zmq_connect(s, l->ep), 0);
	register_host(s, "host-x", 1, 4096);
	assert_int_equal(recv_kind(s, &code), WIRE_BODY_WELCOME);
	wire_msg_init(&e, WIRE_ROLE_VM, "x-vm", 1, WIRE_BODY_REGISTER);
	e.reg.has_vm = 1;
	e.reg.vm.host = "host-x";
	e.reg.vm.minimum_mib = 512;
	e.reg.vm.startup_mib = 1024;
	e.reg.vm.maximum_mib = 4096;
	e.reg.vm.weight = 5000;
	e.reg.vm.shares = 1000;
	send_env(s, &e);
	assert_int_equal(recv_kind(s, &code), WIRE_BODY_WELCOME);
	send_bid(s, "x-vm", 2, 40000000); /* 40 TiB: valid on the wire */
	assert_int_equal(next_error(s), WIRE_ERR_INVALID);
	zmq_close(s);
	zmq_ctx_term(ctx);
	live_stop_all_cleanly(l);
	assert_int_equal(live_count_in_file(l->blog, "more than any host has"),
			 1);
	assert_int_equal(live_count_in_file(l->blog, "absurd 1"), 1);
}

/* SIGSTOP: the host's agent is alive but silent, as behind a partition.
 * Lost; its VMs not free memory and no target; SIGCONT: online again, the
 * same host (not a second row), its VMs active, no VM counted twice. */
static void test_partitioned_host_returns_reconciled(void **state)
{
	struct live *l = *state;
	int64_t b, r;
	char sql[128];

	live_start_cluster(l);
	b = live_host_id(l, "host-b");
	kill(l->agents[1], SIGSTOP);
	snprintf(sql, sizeof(sql), "SELECT state = %d FROM hosts WHERE id = %"
		 PRId64, STORE_HOST_LOST, b);
	assert_true(live_wait_at_least(l, 1, WAIT_MS, sql) >= 0);
	assert_int_equal(live_q_int(l, "SELECT COUNT(*) FROM vms WHERE host_id "
				    "= %" PRId64 " AND state != %d", b,
				    STORE_VM_LOST), 0);
	r = live_last_round(l);
	live_wait_rounds_after(l, r, 3);
	assert_int_equal(live_q_int(l, "SELECT COUNT(*) FROM recs WHERE "
				    "last_round > %" PRId64 " AND (to_host_id = "
				    "%" PRId64 " OR from_host_id = %" PRId64
				    ")", r, b, b), 0);

	kill(l->agents[1], SIGCONT);
	snprintf(sql, sizeof(sql), "SELECT state = %d FROM hosts WHERE id = %"
		 PRId64, STORE_HOST_ONLINE, b);
	assert_true(live_wait_at_least(l, 1, WAIT_MS, sql) >= 0);
	r = live_last_round(l);
	live_wait_rounds_after(l, r, 3);
	assert_int_equal(live_q_int(l, "SELECT COUNT(*) FROM hosts"), 2);
	assert_int_equal(live_q_int(l, "SELECT COUNT(*) FROM vms"), 6);
	assert_int_equal(live_q_int(l, "SELECT COUNT(*) FROM vms WHERE host_id "
				    "= %" PRId64 " AND state = %d", b,
				    STORE_VM_ACTIVE), 2);
	/* its VMs are in the market again: allocated in the latest round */
	assert_int_equal(live_q_int(l, "SELECT COUNT(*) FROM allocations a "
				    "JOIN vms v ON v.id = a.vm_id WHERE "
				    "v.host_id = %" PRId64 " AND a.round = "
				    "(SELECT MAX(round) FROM rounds)", b), 2);
	live_stop_all_cleanly(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_known_key_admitted_unknown_refused, live_setup,
			live_teardown),
		cmocka_unit_test_setup_teardown(
			test_key_speaks_for_its_host_only, live_setup,
			live_teardown),
		cmocka_unit_test_setup_teardown(
			test_tcp_without_keys_only_when_insecure, live_setup,
			live_teardown),
		cmocka_unit_test_setup_teardown(
			test_flood_from_one_peer_does_not_starve, live_setup,
			live_teardown),
		cmocka_unit_test_setup_teardown(
			test_demand_above_any_host_refused, live_setup,
			live_teardown),
		cmocka_unit_test_setup_teardown(
			test_partitioned_host_returns_reconciled, live_setup,
			live_teardown),
	};

	if (live_env() != 0)
		return 77;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
