/*
 * test_owner.c - the broker is the authority on who holds a VM and on what
 * a host may claim (issue 16 point 2, issue 17 bugs 2 and 7): the real
 * broker and agents as processes (tests/live.h), and scripted agents that
 * speak the raw protocol with a valid key (a rogue).
 *
 *  - a rogue holding host-b's key cannot register host-a's VM: refused
 *    (owned), counted, logged once; host-a's bids keep flowing;
 *  - a VM moves to another host only once its holder deregisters it or is
 *    lost (scripted holders);
 *  - a VM migrated host-a -> host-b -> host-a by the broker (emulated
 *    hypervisor) is taken back on host-a and bids there; a VM whose
 *    domain is destroyed is deregistered by its agent (gone, not active);
 *  - the allow-list's pins (uri=, max_mib=), --max-host-mib and
 *    --max-vms-per-host refuse what disagrees, with the reason;
 *  - a new host is no migration target for --probation-rounds rounds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>
#include <zmq.h>

#include "keys.h"
#include "live.h"
#include "store.h"
#include "util.h"
#include "wire.h"
#include "banned.h"

#define PIN_URI "qemu+ssh://b.example/system"

/* Key pairs for the broker and the hosts named; an allow-list with one
 * line per host of `lines` ("NAME[:PINS]" space-separated; PINS after
 * the key, ',' for ' '). */
static void make_keys(struct live *l, const char *names, const char *lines)
{
	char list[512], *save = NULL;

	snprintf(list, sizeof(list), "broker %s", names);
	for (char *n = strtok_r(list, " ", &save); n;
	     n = strtok_r(NULL, " ", &save))
		assert_int_equal(live_run_cli("'%s' keygen %s --dir '%s' "
					      ">/dev/null", live_bin, n,
					      l->dir), 0);
	snprintf(list, sizeof(list), "%s", lines);
	assert_int_equal(live_run_cli("cd '%s' && : > allow", l->dir), 0);
	for (char *n = strtok_r(list, " ", &save); n;
	     n = strtok_r(NULL, " ", &save)) {
		char *pins = strchr(n, ':');

		if (pins)
			*pins++ = '\0';
		for (char *p = pins; p && *p; p++)
			if (*p == ',')
				*p = ' ';
		assert_int_equal(live_run_cli("cd '%s' && sed -n 's|^public-key "
					      "= \\(.*\\)|%s \\1 %s|p' %s.pub "
					      ">> allow", l->dir, n,
					      pins ? pins : "", n), 0);
	}
}

/* The broker on TCP loopback with CURVE (l->ep: the endpoint it bound). */
static void start_curve_broker(struct live *l, const char *const *more)
{
	char key[160], allow[160];
	const char *extra[16] = { "--key", key, "--allow", allow };
	size_t n = 4;

	for (; more && *more && n < 15; more++)
		extra[n++] = *more;
	extra[n] = NULL;
	snprintf(l->ep, sizeof(l->ep), "tcp://127.0.0.1:*");
	snprintf(key, sizeof(key), "%s/broker.key", l->dir);
	snprintf(allow, sizeof(allow), "%s/allow", l->dir);
	live_start_broker_with(l, extra);
	live_learn_endpoint(l);
	assert_true(live_wait_at_least(l, 1, WAIT_MS, "SELECT 1 FROM rounds "
				       "LIMIT 1") >= 0);
}

static void start_curve_agent(struct live *l, int i, const char *host,
			      const char *vms)
{
	char log[160], key[160], bkey[160];

	snprintf(log, sizeof(log), "%s/agent-%d.log", l->dir, i);
	snprintf(key, sizeof(key), "%s/%s.key", l->dir, host);
	snprintf(bkey, sizeof(bkey), "%s/broker.pub", l->dir);
	const char *args[] = { "agent", "--host", host, "--capacity-mib",
			       "16384", "--trace", l->trace, "--vms", vms,
			       "--broker", l->ep, "--key", key, "--broker-key",
			       bkey, "--vm-prefix", "vm-", NULL };
	l->agents[i] = live_spawn(l, log, args);
}

/* A DEALER, with the key pair of keyname (NULL: no CURVE). */
static void *dealer(struct live *l, void *ctx, const char *keyname)
{
	char path[160], err[256], bpub[KEYS_Z85_LEN + 1];
	keys_pair kp;
	void *s = zmq_socket(ctx, ZMQ_DEALER);
	int linger = 0, tmo = 3000 * live_slow;

	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(s, ZMQ_RCVTIMEO, &tmo, sizeof(tmo));
	if (keyname) {
		snprintf(path, sizeof(path), "%s/%s.key", l->dir, keyname);
		assert_int_equal(keys_read_pair(path, &kp, err, sizeof(err)), 0);
		snprintf(path, sizeof(path), "%s/broker.pub", l->dir);
		assert_int_equal(keys_read_public(path, bpub, err, sizeof(err)),
				 0);
		zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, bpub, KEYS_Z85_LEN);
		zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, kp.pub, KEYS_Z85_LEN);
		zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, kp.sec, KEYS_Z85_LEN);
	}
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

/* The next Welcome or Error (Heartbeats and Awards skipped): its kind,
 * and an Error's code in *code. */
static int answer(void *s, int *code)
{
	uint8_t buf[65536];
	wire_msg e;

	for (int i = 0; i < 200; i++) {
		int n = zmq_recv(s, buf, sizeof(buf), 0);
		int kind;

		assert_true(n > 0);
		assert_int_equal(wire_msg_decode(buf, (size_t)n, &e, NULL,
						 NULL, 0), WIRE_OK);
		kind = (int)e.body;
		if (kind == WIRE_BODY_ERROR)
			*code = (int)e.error.code;
		wire_msg_release(&e);
		if (kind == WIRE_BODY_ERROR || kind == WIRE_BODY_WELCOME)
			return kind;
	}
	fail_msg("no Welcome nor Error in 200 frames");
	return 0;
}

static void expect_welcome(void *s)
{
	int code = 0;

	assert_int_equal(answer(s, &code), WIRE_BODY_WELCOME);
}

static void expect_error(void *s, int want)
{
	int code = 0;

	assert_int_equal(answer(s, &code), WIRE_BODY_ERROR);
	assert_int_equal(code, want);
}

static void reg_host(void *s, const char *name, uint64_t seq, int64_t cap,
		     const char *uri)
{
	wire_msg e;

	wire_msg_init(&e, WIRE_ROLE_HOST, name, seq, WIRE_BODY_REGISTER);
	e.reg.has_host = 1;
	e.reg.host.capacity_mib = cap;
	e.reg.host.reserve_mib = 512;
	e.reg.host.uri = uri;
	send_env(s, &e);
}

static void reg_vm(void *s, const char *vm, const char *host, uint64_t seq)
{
	wire_msg e;

	wire_msg_init(&e, WIRE_ROLE_VM, vm, seq, WIRE_BODY_REGISTER);
	e.reg.has_vm = 1;
	e.reg.vm.host = host;
	e.reg.vm.minimum_mib = 512;
	e.reg.vm.startup_mib = 1024;
	e.reg.vm.maximum_mib = 4096;
	e.reg.vm.weight = 5000;
	e.reg.vm.shares = 1000;
	send_env(s, &e);
}

static void send_simple(void *s, wire_role role, const char *name,
			uint64_t seq, wire_body body)
{
	wire_msg e;

	wire_msg_init(&e, role, name, seq, body);
	if (body == WIRE_BODY_DEREGISTER)
		e.deregister.reason = "let go";
	send_env(s, &e);
}

/* The id of host `host` of VM vm in the store, or -1. */
static int64_t vm_host(struct live *l, const char *vm)
{
	return live_q_int(l, "SELECT host_id FROM vms WHERE name = '%s'", vm);
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

/* host-b's key registers host-a's VM vm-1 twenty times: each refused
 * (CONFLICT), counted as owned, logged once; vm-1 stays on host-a and its
 * bids are taken every round. */
static void test_rogue_cannot_take_a_held_vm(void **state)
{
	struct live *l = *state;
	void *ctx = zmq_ctx_new(), *s;
	char alog[160];
	int64_t a, r;

	make_keys(l, "host-a host-b", "host-a host-b");
	start_curve_broker(l, NULL);
	start_curve_agent(l, 0, "host-a", "0:4");
	live_wait_online(l, 1);
	assert_true(live_wait_at_least(l, 4, WAIT_MS, "SELECT COUNT(*) FROM "
				       "vms") >= 0);
	a = live_host_id(l, "host-a");
	assert_int_equal(vm_host(l, "vm-1"), a);
	/* host-a settled: its VMs are in the rounds */
	assert_true(live_wait_at_least(l, 1, WAIT_MS, "SELECT COUNT(*) FROM "
				       "allocations a JOIN vms v ON v.id = "
				       "a.vm_id WHERE v.name = 'vm-1'") >= 0);

	s = dealer(l, ctx, "host-b");
	reg_host(s, "host-b", 1, 16384, "");
	expect_welcome(s);
	for (int i = 0; i < 20; i++) {
		reg_vm(s, "vm-1", "host-b", 2 + (uint64_t)i);
		expect_error(s, WIRE_ERR_CONFLICT);
	}
	zmq_close(s);
	zmq_ctx_term(ctx);

	r = live_last_round(l);
	live_wait_rounds_after(l, r, 3);
	assert_int_equal(vm_host(l, "vm-1"), a);
	assert_int_equal(live_q_int(l, "SELECT state FROM vms WHERE name = "
				    "'vm-1'"), STORE_VM_ACTIVE);
	/* host-a's bids for it were taken: in every round since */
	assert_true(live_q_int(l, "SELECT COUNT(*) FROM allocations a JOIN "
			       "vms v ON v.id = a.vm_id WHERE v.name = 'vm-1' "
			       "AND a.round > %" PRId64, r) >= 3);
	live_stop_all_cleanly(l);
	snprintf(alog, sizeof(alog), "%s/agent-0.log", l->dir);
	assert_int_equal(live_count_in_file(alog, "wrong_host"), 0);
	assert_int_equal(live_count_in_file(l->blog, "vm vm-1 is held by host "
					    "host-a, which is online"), 1);
	assert_int_equal(live_count_in_file(l->blog, "owned 20"), 1);
}

/* Heartbeats from a scripted host for ms, its frames read and dropped. */
static void keep_alive(void *s, const char *host, uint64_t *seq, int ms)
{
	int64_t end = util_now_ms() + ms;
	char buf[4096];

	while (util_now_ms() < end) {
		send_simple(s, WIRE_ROLE_HOST, host, ++*seq,
			    WIRE_BODY_HEARTBEAT);
		while (zmq_recv(s, buf, sizeof(buf), ZMQ_DONTWAIT) >= 0)
			;
		live_sleep_ms(50);
	}
}

/* Scripted hosts h1 and h2 (no keys, ipc): h2 cannot take h1's VM; once
 * h1 deregisters it, h2 can; then h1 cannot take it back until h2 is
 * lost; h3 cannot take it from h1 until h1 has not spoken for it for the
 * liveness timeout. */
static void test_vm_moves_when_let_go_or_lost(void **state)
{
	struct live *l = *state;
	static const char *const slow[] = { "--heartbeat-ms", "500", NULL };
	void *ctx = zmq_ctx_new(), *s1, *s2, *s3;
	uint64_t q1 = 1;

	live_start_broker_with(l, slow);
	assert_true(live_wait_at_least(l, 1, WAIT_MS, "SELECT 1 FROM rounds "
				       "LIMIT 1") >= 0);
	s1 = dealer(l, ctx, NULL);
	s2 = dealer(l, ctx, NULL);
	reg_host(s1, "h1", q1, 16384, "");
	expect_welcome(s1);
	reg_vm(s1, "vm-x", "h1", 1);
	expect_welcome(s1);
	reg_host(s2, "h2", 1, 16384, "");
	expect_welcome(s2);
	assert_true(live_wait_at_least(l, 1, WAIT_MS, "SELECT COUNT(*) FROM "
				       "vms WHERE name = 'vm-x'") >= 0);

	reg_vm(s2, "vm-x", "h2", 1);              /* h1 holds it */
	expect_error(s2, WIRE_ERR_CONFLICT);
	assert_int_equal(vm_host(l, "vm-x"), live_host_id(l, "h1"));
	send_simple(s1, WIRE_ROLE_VM, "vm-x", 2, WIRE_BODY_DEREGISTER);
	keep_alive(s1, "h1", &q1, 200);
	reg_vm(s2, "vm-x", "h2", 2);              /* let go: taken */
	expect_welcome(s2);
	assert_true(live_wait_at_least(l, 1, WAIT_MS, "SELECT COUNT(*) FROM "
				       "vms v JOIN hosts h ON h.id = v.host_id "
				       "WHERE v.name = 'vm-x' AND h.name = "
				       "'h2'") >= 0);

	reg_vm(s1, "vm-x", "h1", 3);              /* h2 holds it now */
	expect_error(s1, WIRE_ERR_CONFLICT);
	/* h2 falls silent: lost after 3 heartbeats (1.5 s) */
	for (int64_t end = util_now_ms() + WAIT_MS;
	     live_q_int(l, "SELECT state FROM hosts WHERE name = 'h2'") !=
	     STORE_HOST_LOST;) {
		assert_true(util_now_ms() < end);
		keep_alive(s1, "h1", &q1, 200);
	}
	reg_vm(s1, "vm-x", "h1", 4);
	expect_welcome(s1);
	assert_true(live_wait_at_least(l, 1, WAIT_MS, "SELECT COUNT(*) FROM "
				       "vms v JOIN hosts h ON h.id = v.host_id "
				       "WHERE v.name = 'vm-x' AND h.name = "
				       "'h1'") >= 0);

	/* h1 stays online but never speaks for vm-x again (its agent no
	 * longer runs it): after the liveness timeout (1.5 s) h3 takes it */
	s3 = dealer(l, ctx, NULL);
	reg_host(s3, "h3", 1, 16384, "");
	expect_welcome(s3);
	reg_vm(s3, "vm-x", "h3", 1);
	expect_error(s3, WIRE_ERR_CONFLICT);
	keep_alive(s1, "h1", &q1, 2000);
	reg_vm(s3, "vm-x", "h3", 2);
	expect_welcome(s3);
	zmq_close(s1);
	zmq_close(s2);
	zmq_close(s3);
	zmq_ctx_term(ctx);
	live_stop_all_cleanly(l);
	assert_true(live_count_in_file(l->blog, "owned 3") == 1);
}

/* An emulated agent (agent i) on the shared world, its log HOST.log. */
static void start_emulated(struct live *l, int i, const char *host,
			   const char *cap, const char *vms)
{
	char log[160], world[128];

	snprintf(log, sizeof(log), "%s/%s.log", l->dir, host);
	snprintf(world, sizeof(world), "%s/world", l->dir);
	const char *args[] = { "agent", "--host", host, "--capacity-mib", cap,
			       "--trace", l->trace, "--vms", vms,
			       "--broker", l->ep, "--step-s", "300",
			       "--actuator", "emulated", "--world", world,
			       "--migrate-mibps", "2000", NULL };
	l->agents[i] = live_spawn(l, log, args);
}

static void cli_ok(struct live *l, const char *args)
{
	assert_int_equal(live_run_cli("%s %s --db %s >/dev/null", BOURSE_BIN,
				      args, l->db), 0);
}

static void wait_sql(struct live *l, const char *sql)
{
	assert_true(live_wait_at_least(l, 1, 2 * WAIT_MS, sql) >= 0);
}

/* One text of the broker's database (live_q_int() opened it). */
static void q_text(struct live *l, const char *sql, char *out, size_t len)
{
	sqlite3_stmt *st = NULL;

	assert_true(live_q_int(l, "SELECT 1") == 1);
	assert_int_equal(sqlite3_prepare_v2(l->sql, sql, -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	snprintf(out, len, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
}

/* Issue 17 bugs 2 and 7 on the emulated hypervisor: host-a drained moves
 * its VMs to host-b, then host-b drained moves VMs back to host-a: each
 * VM back on host-a is taken there and bids there. Then one VM's domain
 * is destroyed (its world file removed): gone, not active with 0 MiB. */
static void test_round_trip_and_destroyed_vm(void **state)
{
	struct live *l = *state;
	static const char *const quick[] = {
		"--vm-cooldown-s", "1", "--probation-rounds", "2",
		"--param", "migrate_cooldown=0",
		"--param", "migrate_return_rounds=0", NULL };
	char sql[512], name[160], path[320];
	int64_t a, b, mask;

	live_start_broker_with(l, quick);
	start_emulated(l, 0, "host-a", "8192", "0:4");
	start_emulated(l, 1, "host-b", "32768", "4:2");
	live_wait_online(l, 2);
	assert_true(live_wait_at_least(l, 6, WAIT_MS,
				       "SELECT COUNT(*) FROM vms") >= 0);
	a = live_host_id(l, "host-a");
	b = live_host_id(l, "host-b");
	mask = live_q_int(l, "SELECT SUM(1 << id) FROM vms WHERE host_id = %"
			  PRId64, a);
	assert_true(mask > 0);

	cli_ok(l, "mode automated --for migrate");
	cli_ok(l, "host drain host-a");
	snprintf(sql, sizeof(sql), "SELECT COUNT(*) = 6 FROM vms WHERE host_id "
		 "= %" PRId64 " AND state = %d", b, STORE_VM_ACTIVE);
	wait_sql(l, sql);
	cli_ok(l, "host undrain host-a");
	cli_ok(l, "host drain host-b");
	/* a VM that left host-a is back there, by the broker's migration */
	snprintf(sql, sizeof(sql), "SELECT COUNT(*) > 0 FROM vms WHERE host_id "
		 "= %" PRId64 " AND state = %d AND (%" PRId64 " >> id) & 1",
		 a, STORE_VM_ACTIVE, mask);
	wait_sql(l, sql);
	live_wait_rounds_after(l, live_last_round(l), 3);
	/* ... and bids there: every VM back on host-a is in the latest
	 * round's allocations */
	snprintf(sql, sizeof(sql), "SELECT COUNT(*) = 0 FROM vms v WHERE "
		 "v.host_id = %" PRId64 " AND v.state = %d AND NOT EXISTS "
		 "(SELECT 1 FROM allocations x WHERE x.vm_id = v.id AND "
		 "x.round = (SELECT MAX(round) FROM rounds))", a,
		 STORE_VM_ACTIVE);
	wait_sql(l, sql);
	assert_true(live_q_int(l, "SELECT COUNT(*) FROM recs WHERE kind = %d "
			       "AND state = %d AND to_host_id = %" PRId64
			       " AND (%" PRId64 " >> vm_id) & 1",
			       STORE_REC_MIGRATE, STORE_REC_SUCCEEDED, a,
			       mask) >= 1);
	assert_int_equal(live_count_in_file(l->blog, "which does not speak "
					    "through this connection"), 0);
	assert_true(live_count_in_file(l->blog, "to host-a") >= 1);

	/* bug 7: a domain destroyed on host-a */
	snprintf(sql, sizeof(sql), "SELECT name FROM vms WHERE host_id = %"
		 PRId64 " AND state = %d ORDER BY id LIMIT 1", a,
		 STORE_VM_ACTIVE);
	q_text(l, sql, name, sizeof(name));
	snprintf(path, sizeof(path), "%s/world/vms/%s", l->dir, name);
	assert_int_equal(unlink(path), 0);
	snprintf(sql, sizeof(sql), "SELECT state = %d FROM vms WHERE name = "
		 "'%s'", STORE_VM_GONE, name);
	wait_sql(l, sql);
	assert_int_equal(live_run_cli("%s vms --db %s | grep -w '%s' | grep -qw "
				      "gone", BOURSE_BIN, l->db, name), 0);
	live_stop_all_cleanly(l);
}

/* The allow-list pins host-b's URI and capacity; --max-host-mib and
 * --max-vms-per-host: what disagrees is refused, saying why. */
static void test_pins_ceiling_and_vm_cap(void **state)
{
	struct live *l = *state;
	static const char *const caps[] = { "--max-host-mib", "1048576",
					    "--max-vms-per-host", "3", NULL };
	void *ctx = zmq_ctx_new(), *s;
	char vm[32], uri[300];
	int welcomed = 0, refused = 0;

	make_keys(l, "host-a host-b",
		  "host-a host-b:uri=" PIN_URI ",max_mib=32768");
	start_curve_broker(l, caps);
	s = dealer(l, ctx, "host-b");
	reg_host(s, "host-b", 1, 16384, "qemu+ssh://evil.example/system");
	expect_error(s, WIRE_ERR_INVALID);
	reg_host(s, "host-b", 2, 65536, PIN_URI);
	expect_error(s, WIRE_ERR_INVALID);
	reg_host(s, "host-b", 3, 64LL * 1024 * 1024, PIN_URI);
	expect_error(s, WIRE_ERR_INVALID);
	assert_int_equal(live_q_int(l, "SELECT COUNT(*) FROM hosts"), 0);
	reg_host(s, "host-b", 4, 16384, PIN_URI);
	expect_welcome(s);
	for (int i = 0; i < 5; i++) {
		int code = 0;

		snprintf(vm, sizeof(vm), "b-vm-%d", i);
		reg_vm(s, vm, "host-b", 1);
		if (answer(s, &code) == WIRE_BODY_WELCOME)
			welcomed++;
		else if (code == WIRE_ERR_INVALID)
			refused++;
	}
	assert_int_equal(welcomed, 3);
	assert_int_equal(refused, 2);
	zmq_close(s);
	zmq_ctx_term(ctx);
	live_wait_rounds_after(l, live_last_round(l), 2);
	assert_int_equal(live_q_int(l, "SELECT capacity_mib FROM hosts WHERE "
				    "name = 'host-b'"), 16384);
	q_text(l, "SELECT uri FROM hosts WHERE name = 'host-b'", uri,
	       sizeof(uri));
	assert_string_equal(uri, PIN_URI);
	assert_int_equal(live_q_int(l, "SELECT COUNT(*) FROM vms"), 3);
	live_stop_all_cleanly(l);
	assert_int_equal(live_count_in_file(l->blog, "but the allow-list pins '"
					    PIN_URI "' for it"), 1);
	/* the capacity pin and the ceiling: one refusal each, each its
	 * reason's first (refused, absurd) */
	assert_int_equal(live_count_in_file(l->blog, "--max-host-mib 1048576"),
			 1);
	assert_int_equal(live_count_in_file(l->blog, "refused 4"), 1);
}

/* host-b joins a running cluster that wants to move VMs to it: no
 * migration to it is recommended before --probation-rounds rounds. */
static void test_new_host_on_probation(void **state)
{
	struct live *l = *state;
	static const char *const extra[] = { "--probation-rounds", "15", NULL };
	int64_t r0, b, first;

	live_start_broker_with(l, extra);
	live_start_agent(l, 0, "host-a", "8192", "0:4");
	live_wait_online(l, 1);
	assert_true(live_wait_at_least(l, 4, WAIT_MS, "SELECT COUNT(*) FROM "
				       "vms") >= 0);
	live_wait_rounds_after(l, live_last_round(l), 5);
	r0 = live_last_round(l);
	live_start_agent(l, 1, "host-b", "32768", "4:2");
	live_wait_online(l, 2);
	b = live_host_id(l, "host-b");
	wait_log(l->blog, "host-b registered (32768 MiB); on probation");
	assert_true(live_wait_at_least(l, 1, 3 * WAIT_MS, "SELECT COUNT(*) "
				       "FROM recs WHERE kind = 2 AND "
				       "to_host_id = (SELECT id FROM hosts "
				       "WHERE name = 'host-b')") >= 0);
	first = live_q_int(l, "SELECT MIN(round) FROM recs WHERE kind = %d AND "
			   "to_host_id = %" PRId64, STORE_REC_MIGRATE, b);
	fprintf(stderr, "probation: host-b joined after round %" PRId64
		", first migration to it in round %" PRId64 "\n", r0, first);
	assert_true(first >= r0 + 15);
	wait_log(l->blog, "host host-b is out of probation");
	live_stop_all_cleanly(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_rogue_cannot_take_a_held_vm, live_setup,
			live_teardown),
		cmocka_unit_test_setup_teardown(
			test_vm_moves_when_let_go_or_lost, live_setup,
			live_teardown),
		cmocka_unit_test_setup_teardown(
			test_round_trip_and_destroyed_vm, live_setup,
			live_teardown),
		cmocka_unit_test_setup_teardown(
			test_pins_ceiling_and_vm_cap, live_setup,
			live_teardown),
		cmocka_unit_test_setup_teardown(test_new_host_on_probation,
						live_setup, live_teardown),
	};

	if (live_env() != 0)
		return 77;
	if (getenv("BOURSE_TEST_FILTER")) /* one test by name (a glob) */
		cmocka_set_test_filter(getenv("BOURSE_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
