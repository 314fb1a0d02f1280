/*
 * test_text.c - text and files (issue 16, points 6 and 7), against the real
 * broker and agents as processes (tests/live.h) and a real SQLite file:
 *
 *  - a newline or an ESC in a peer's Deregister.reason does not forge a
 *    broker log line (escaped); a name with a NUL inside (vm-x\0evil) and a
 *    URI with control bytes are refused on the wire, nothing registered;
 *  - `bourse hosts` prints a stored URI holding ESC and a newline escaped:
 *    one row, no escape sequence reaches the terminal (JSON too);
 *  - the database and its -wal and -shm files are created 0600 under the
 *    usual umask 022;
 *  - a damaged database page stops the broker at once (not after the
 *    outage limit), exit 3 (its unit does not restart it), saying to
 *    restore a backup or .recover;
 *  - a second broker on a live broker's ipc path fails, the first keeps
 *    its agents;
 *  - CURVE on ipc: an allowed key gets in, a peer without keys gets no
 *    answer; a fake listener on the path cannot forge a line of a keyless
 *    agent's log, and gets no frame from an agent with keys;
 *  - a secret key file readable by others is refused, by broker and agent.
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zmq.h>

#include "live.h"
#include "util.h"
#include "wire.h"
#include "banned.h"

/* Wait for pid to exit: its wait status, or -1 (killed) after timeout_ms. */
static int wait_exit(pid_t *pid, int timeout_ms)
{
	int64_t end = util_now_ms() + timeout_ms;
	int st = 0;

	while (waitpid(*pid, &st, WNOHANG) == 0) {
		if (util_now_ms() > end) {
			live_stop_proc(pid, SIGKILL, 5000);
			return -1;
		}
		live_sleep_ms(10);
	}
	*pid = 0;
	return st;
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

static void *dealer(void *ctx, const char *ep)
{
	void *s = zmq_socket(ctx, ZMQ_DEALER);
	int linger = 0;

	assert_non_null(s);
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	assert_int_equal(zmq_connect(s, ep), 0);
	return s;
}

/* Encode e; replace the first byte `from` of the frame with `to` (a way to
 * put a NUL inside a string), if from is not 0. */
static void send_env(void *s, const wire_msg *e, char from, char to)
{
	size_t len;
	uint8_t *buf = wire_msg_encode(e, &len);

	assert_non_null(buf);
	if (from) {
		uint8_t *p = memchr(buf, from, len);

		assert_non_null(p);
		*p = (uint8_t)to;
	}
	assert_int_equal(zmq_send(s, buf, len, 0), (int)len);
	free(buf);
}

/* The next frame's body case within ms, or -1 when none came. */
static int recv_kind(void *s, int ms)
{
	uint8_t buf[65536];
	zmq_pollitem_t it = { s, 0, ZMQ_POLLIN, 0 };
	wire_msg e;
	int n, kind;

	if (zmq_poll(&it, 1, ms) != 1)
		return -1;
	n = zmq_recv(s, buf, sizeof(buf), 0);
	assert_true(n > 0);
	assert_int_equal(wire_msg_decode(buf, (size_t)n, &e, NULL, NULL, 0),
			 WIRE_OK);
	kind = (int)e.body;
	wire_msg_release(&e);
	return kind;
}

static void register_host(void *s, const char *name, const char *uri,
			  uint64_t seq)
{
	wire_msg e;

	wire_msg_init(&e, WIRE_ROLE_HOST, name, seq, WIRE_BODY_REGISTER);
	e.reg.has_host = 1;
	e.reg.host.capacity_mib = 4096;
	e.reg.host.uri = uri;
	send_env(s, &e, 0, 0);
}

/* A peer's free text with a newline and ESC: the log line is escaped, no
 * line of the log begins with the forged words. A NUL inside a VM's name
 * and control bytes in a URI: refused, nothing registered. */
static void test_peer_text_cannot_forge_or_hide(void **state)
{
	struct live *l = *state;
	void *ctx = zmq_ctx_new(), *s;
	wire_msg e;

	live_start_cluster(l);
	s = dealer(ctx, l->ep);
	register_host(s, "rogue", "qemu+ssh://rogue/system", 1);
	assert_int_equal(recv_kind(s, WAIT_MS), WIRE_BODY_WELCOME);
	wire_msg_init(&e, WIRE_ROLE_HOST, "rogue", 2, WIRE_BODY_DEREGISTER);
	e.deregister.reason = "bye\nbroker: FORGED all is well\033[2J";
	send_env(s, &e, 0, 0);
	wait_log(l->blog, "rogue deregistered (bye\\nbroker: FORGED all is "
		 "well\\x1b[2J)");
	assert_int_equal(live_count_starting(l->blog, "broker: FORGED"), 0);
	assert_int_equal(live_count_in_file(l->blog, "\033"), 0);

	/* "vm-x\0evil" on host-a: would have registered as vm-x */
	wire_msg_init(&e, WIRE_ROLE_VM, "vm-x#evil", 1, WIRE_BODY_REGISTER);
	e.reg.has_vm = 1;
	e.reg.vm = (wire_vm_config){ .host = "host-a", .startup_mib = 1024,
				     .minimum_mib = 512, .maximum_mib = 2048,
				     .shares = 1000 };
	send_env(s, &e, '#', '\0');
	/* a host whose URI would clear a screen and forge a table row */
	register_host(s, "rogue2", "qemu:///x\033[2J\nhost-z  online", 1);
	wait_log(l->blog, "a NUL byte inside a string");
	wait_log(l->blog, "register.host.uri: byte 0x1b");
	live_wait_rounds_after(l, live_last_round(l), 2);
	assert_int_equal(live_q_int(l, "SELECT COUNT(*) FROM vms WHERE name "
				    "LIKE 'vm-x%%'"), 0);
	assert_int_equal(live_q_int(l, "SELECT COUNT(*) FROM hosts WHERE name "
				    "= 'rogue2'"), 0);
	zmq_close(s);
	zmq_ctx_term(ctx);
	live_stop_all_cleanly(l);
}

/* A URI stored with ESC and a newline (by an older bourse, or by hand):
 * `bourse hosts` prints one row per host, the bytes escaped. */
static void test_hosts_table_escapes_stored_text(void **state)
{
	struct live *l = *state;
	char out[200], line[1024];
	sqlite3 *db;
	FILE *f;
	int rows = 0, esc = 0;

	live_start_cluster(l);
	live_stop_all_cleanly(l);
	assert_int_equal(sqlite3_open(l->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "UPDATE hosts SET uri = 'qemu:///x' "
				      "|| char(27) || '[2J' || char(10) || "
				      "'host-z  online' WHERE name = 'host-a'",
				      NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_changes(db), 1);
	sqlite3_close(db);
	snprintf(out, sizeof(out), "%s/hosts.out", l->dir);
	assert_int_equal(live_run_cli("'%s' hosts --db '%s' -o wide >'%s'",
				      BOURSE_BIN, l->db, out), 0);
	f = fopen(out, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		rows++;
		esc += strchr(line, '\033') != NULL;
		if (strncmp(line, "host-z", 6) == 0)
			fail_msg("a forged row: %s", line);
	}
	fclose(f);
	assert_int_equal(rows, 3); /* the header, host-a, host-b */
	assert_int_equal(esc, 0);
	assert_int_equal(live_count_in_file(out, "qemu:///x\\x1b[2J\\x0ahost-z"),
			 1);
	/* JSON: json-c writes them as \u001b and \n, one line per value */
	assert_int_equal(live_run_cli("'%s' hosts --db '%s' -o json >'%s'",
				      BOURSE_BIN, l->db, out), 0);
	assert_int_equal(live_count_in_file(out, "\033"), 0);
	assert_int_equal(live_count_in_file(out, "x\\u001b[2J\\nhost-z"), 1);
}

static unsigned mode_of(const char *path)
{
	struct stat sb;

	if (stat(path, &sb) != 0)
		fail_msg("stat %s failed", path);
	return (unsigned)(sb.st_mode & 07777);
}

/* Overwrite pages first..last (1-based, 4 KiB) of path with junk. */
static void damage_pages(const char *path, int first, int last)
{
	FILE *f = fopen(path, "r+b");
	unsigned char junk[4096];

	assert_non_null(f);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)(i * 131 + 7);
	for (int p = first; p <= last; p++) {
		assert_int_equal(fseek(f, (long)(p - 1) * 4096, SEEK_SET), 0);
		assert_int_equal(fwrite(junk, 1, sizeof(junk), f),
				 sizeof(junk));
	}
	assert_int_equal(fclose(f), 0);
}

/* The database files are 0600 under umask 022; a damaged page stops the
 * broker at the first round that meets it (exit 3, what to do), not after
 * --store-outage-s; a file that is not a database is refused at start. */
static void test_damaged_database_stops_at_once(void **state)
{
	struct live *l = *state;
	char wal[160], shm[160];
	int64_t t0, took;
	struct stat sb;
	sqlite3 *db;
	sqlite3_stmt *q;
	int st, pages, root;

	live_start_cluster(l);
	snprintf(wal, sizeof(wal), "%s-wal", l->db);
	snprintf(shm, sizeof(shm), "%s-shm", l->db);
	assert_int_equal(mode_of(l->db), 0600);
	assert_int_equal(mode_of(wal), 0600);
	assert_int_equal(mode_of(shm), 0600);
	live_stop_broker_cleanly(l);
	live_db_close(l);
	/* everything in the main file, so that its pages are what is read;
	 * then the root page of the shadow scores' table, which a round writes
	 * and a start does not read */
	assert_int_equal(sqlite3_open(l->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)",
				      NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT rootpage FROM "
					    "sqlite_master WHERE name = "
					    "'rec_scores'", -1, &q, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	root = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
	assert_true(root > 1);
	damage_pages(l->db, root, root);

	t0 = util_now_ms();
	live_start_broker(l); /* --store-outage-s: its default, 600 s */
	st = wait_exit(&l->broker, WAIT_MS);
	took = util_now_ms() - t0;
	assert_int_not_equal(st, -1);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 3);
	assert_true(took < 10000 * live_slow);
	assert_int_equal(live_count_in_file(l->blog, "the database is damaged, "
					    "stopping at once"), 1);
	assert_int_equal(live_count_in_file(l->blog, "bourse broker: stopped: "
					    "the database"), 1);
	assert_true(live_count_in_file(l->blog, ".recover |") >= 2);
	assert_int_equal(live_count_in_file(l->blog, "giving up"), 0);

	/* most pages damaged: refused as it loads its state */
	assert_int_equal(stat(l->db, &sb), 0);
	pages = (int)(sb.st_size / 4096);
	assert_true(pages >= 8);
	damage_pages(l->db, 2, pages);
	live_start_broker(l);
	st = wait_exit(&l->broker, WAIT_MS);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	assert_true(live_count_in_file(l->blog, "is damaged") >= 3);

	/* not a database at all: refused at start, the same advice */
	damage_pages(l->db, 1, 1);
	live_start_broker(l);
	st = wait_exit(&l->broker, WAIT_MS);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) != 0);
	assert_true(live_count_in_file(l->blog, "not an SQLite file") >= 1);
	assert_true(live_count_in_file(l->blog, ".recover |") >= 4);
}

/* libzmq would unlink a live broker's ipc path and bind it anew: the
 * second broker must fail instead, and the first keep its agents. */
static void test_second_broker_on_ipc_path_refused(void **state)
{
	struct live *l = *state;
	char db2[160], log2[160];
	pid_t b2;
	int st;

	live_start_cluster(l);
	snprintf(db2, sizeof(db2), "%s/second.db", l->dir);
	snprintf(log2, sizeof(log2), "%s/second.log", l->dir);
	const char *args[] = { "broker", "--listen", l->ep, "--db", db2,
			       "--round-ms", "200", NULL };
	b2 = live_spawn(l, log2, args);
	st = wait_exit(&b2, WAIT_MS);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 1);
	assert_int_equal(live_count_in_file(log2, "a process is listening on"),
			 1);
	assert_int_equal(access(db2, F_OK), -1); /* nothing left behind */
	/* the first broker still serves both hosts */
	live_wait_rounds_after(l, live_last_round(l), 3 * LIVENESS);
	assert_int_equal(live_q_int(l, "SELECT COUNT(*) FROM hosts WHERE "
				    "state = %d", STORE_HOST_ONLINE), 2);
	assert_true(live_alive(l->broker));
	live_stop_all_cleanly(l);
	/* a stale socket file (its broker gone) is taken over */
	live_start_broker(l);
	live_wait_rounds_after(l, live_last_round(l), 2);
	live_stop_broker_cleanly(l);
}

static void keygen(struct live *l, const char *name)
{
	assert_int_equal(live_run_cli("'%s' keygen %s --dir '%s' >/dev/null",
				      live_bin, name, l->dir), 0);
}

/* CURVE on ipc: an agent whose key is allowed registers; a peer without
 * keys is never answered (its handshake fails), and registers nothing. */
static void test_curve_on_ipc(void **state)
{
	struct live *l = *state;
	char key[160], allow[160], akey[160], bpub[160], log[160];
	void *ctx = zmq_ctx_new(), *s;

	keygen(l, "broker");
	keygen(l, "host-a");
	assert_int_equal(live_run_cli("cd '%s' && sed -n 's/^public-key = "
				      "/host-a /p' host-a.pub > allow",
				      l->dir), 0);
	snprintf(key, sizeof(key), "%s/broker.key", l->dir);
	snprintf(allow, sizeof(allow), "%s/allow", l->dir);
	const char *extra[] = { "--key", key, "--allow", allow, NULL };
	live_start_broker_with(l, extra);
	wait_log(l->blog, "CURVE on");

	snprintf(akey, sizeof(akey), "%s/host-a.key", l->dir);
	snprintf(bpub, sizeof(bpub), "%s/broker.pub", l->dir);
	snprintf(log, sizeof(log), "%s/agent-0.log", l->dir);
	const char *args[] = { "agent", "--host", "host-a", "--capacity-mib",
			       "16384", "--trace", l->trace, "--vms", "0:2",
			       "--broker", l->ep, "--key", akey,
			       "--broker-key", bpub, NULL };
	l->agents[0] = live_spawn(l, log, args);
	live_wait_online(l, 1);

	s = dealer(ctx, l->ep);
	register_host(s, "intruder", "", 1);
	assert_int_equal(recv_kind(s, 1500 * live_slow), -1);
	live_wait_rounds_after(l, live_last_round(l), 2);
	assert_int_equal(live_q_int(l, "SELECT COUNT(*) FROM hosts WHERE "
				    "name = 'intruder'"), 0);
	zmq_close(s);
	zmq_ctx_term(ctx);
	live_stop_all_cleanly(l);
}

/* A secret key file with a group or other bit: the broker and an agent
 * refuse it, saying the chmod; with 0600 the broker starts. */
static void test_readable_secret_key_refused(void **state)
{
	struct live *l = *state;
	char out[160];

	keygen(l, "broker");
	keygen(l, "host-a");
	assert_int_equal(live_run_cli("cd '%s' && sed -n 's/^public-key = "
				      "/host-a /p' host-a.pub > allow && "
				      "chmod 644 broker.key && chmod 640 "
				      "host-a.key", l->dir), 0);
	snprintf(out, sizeof(out), "%s/err.out", l->dir);
	assert_int_not_equal(live_run_cli("'%s' broker --listen 'ipc://%s/k.ipc' "
					  "--db '%s' --rounds 1 --key "
					  "'%s/broker.key' --allow '%s/allow' "
					  "2>'%s'", live_bin, l->dir, l->db,
					  l->dir, l->dir, out), 0);
	assert_int_equal(live_count_in_file(out, "(mode 0644) is refused: "
					    "'chmod 600 "), 1);
	assert_int_equal(access(l->db, F_OK), -1);
	assert_int_not_equal(live_run_cli("'%s' agent --host host-a "
					  "--capacity-mib 4096 --trace '%s' "
					  "--vms 0:1 --broker 'ipc://%s/k.ipc' "
					  "--key '%s/host-a.key' --broker-key "
					  "'%s/broker.pub' --run-for-s 1 2>'%s'",
					  live_bin, l->trace, l->dir, l->dir,
					  l->dir, out), 0);
	assert_int_equal(live_count_in_file(out, "(mode 0640) is refused"), 1);
	assert_int_equal(live_run_cli("chmod 600 '%s/broker.key' && '%s' "
				      "broker --listen 'ipc://%s/k.ipc' --db "
				      "'%s' --rounds 1 --round-ms 100 --key "
				      "'%s/broker.key' --allow '%s/allow' "
				      "2>/dev/null", l->dir, live_bin, l->dir,
				      l->db, l->dir, l->dir), 0);
}

/* One frame from a ROUTER within ms: its routing id into rid (*ridlen),
 * the decoded envelope into *e (release it). 0, or -1 when none came. */
static int router_recv(void *r, int ms, uint8_t *rid, size_t *ridlen,
		       wire_msg *e)
{
	uint8_t buf[65536];
	zmq_pollitem_t it = { r, 0, ZMQ_POLLIN, 0 };
	int n, more;
	size_t sz = sizeof(more);

	if (zmq_poll(&it, 1, ms) != 1)
		return -1;
	n = zmq_recv(r, rid, 255, 0);
	assert_true(n > 0);
	*ridlen = (size_t)n;
	zmq_getsockopt(r, ZMQ_RCVMORE, &more, &sz);
	assert_true(more);
	n = zmq_recv(r, buf, sizeof(buf), 0);
	assert_true(n > 0);
	assert_int_equal(wire_msg_decode(buf, (size_t)n, e, NULL, NULL, 0),
			 WIRE_OK);
	return 0;
}

/* Whoever listens on an ipc path without keys is obeyed by an agent
 * without keys (the risk operations.md states): such a listener's Error
 * with a newline in its message cannot forge a line of the agent's log.
 * An agent with keys does not even hand such a listener a frame: its
 * CURVE handshake fails. */
static void test_fake_listener_on_ipc(void **state)
{
	struct live *l = *state;
	void *ctx = zmq_ctx_new(), *r = zmq_socket(ctx, ZMQ_ROUTER);
	char log0[160], key[160], bpub[160], log1[160];
	uint8_t rid[256];
	size_t ridlen;
	int64_t end;
	int linger = 0, got = 0;
	wire_msg e, x;

	keygen(l, "broker");
	keygen(l, "host-b");
	zmq_setsockopt(r, ZMQ_LINGER, &linger, sizeof(linger));
	assert_int_equal(zmq_bind(r, l->ep), 0);
	live_start_agent(l, 0, "host-a", "8192", "0:1");
	assert_int_equal(router_recv(r, WAIT_MS, rid, &ridlen, &e), 0);
	assert_int_equal(e.body, WIRE_BODY_REGISTER);
	wire_msg_init(&x, WIRE_ROLE_BROKER, "broker", 0, WIRE_BODY_ERROR);
	x.error.code = WIRE_ERR_INVALID;
	x.error.message = "no\nagent host-a: FORGED all is well\033[2J";
	x.error.ref_seq = e.seq;
	x.error.ref_sender = e.sender;
	{
		size_t len;
		uint8_t *buf = wire_msg_encode(&x, &len);

		assert_non_null(buf);
		assert_int_equal(zmq_send(r, rid, ridlen, ZMQ_SNDMORE),
				 (int)ridlen);
		assert_int_equal(zmq_send(r, buf, len, 0), (int)len);
		free(buf);
	}
	wire_msg_release(&e);
	snprintf(log0, sizeof(log0), "%s/host-a.log", l->dir);
	wait_log(log0, "no\\nagent host-a: FORGED all is well\\x1b[2J");
	assert_int_equal(live_count_starting(log0, "agent host-a: FORGED"), 0);
	assert_int_equal(live_count_in_file(log0, "\033"), 0);

	/* an agent with keys: nothing reaches the keyless listener */
	snprintf(key, sizeof(key), "%s/host-b.key", l->dir);
	snprintf(bpub, sizeof(bpub), "%s/broker.pub", l->dir);
	snprintf(log1, sizeof(log1), "%s/agent-1.log", l->dir);
	const char *args[] = { "agent", "--host", "host-b", "--capacity-mib",
			       "16384", "--trace", l->trace, "--vms", "4:1",
			       "--broker", l->ep, "--key", key,
			       "--broker-key", bpub, NULL };
	l->agents[1] = live_spawn(l, log1, args);
	end = util_now_ms() + 2000 * live_slow;
	while (util_now_ms() < end) {
		if (router_recv(r, 100, rid, &ridlen, &e) != 0)
			continue;
		got += strcmp(e.sender, "host-b") == 0 ||
		       strncmp(e.sender, "b-vm-", 5) == 0 ||
		       strcmp(e.sender, "vm-4") == 0;
		wire_msg_release(&e);
	}
	assert_int_equal(got, 0);
	assert_true(live_alive(l->agents[1]));
	zmq_close(r);
	zmq_ctx_term(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_peer_text_cannot_forge_or_hide, live_setup,
			live_teardown),
		cmocka_unit_test_setup_teardown(
			test_hosts_table_escapes_stored_text, live_setup,
			live_teardown),
		cmocka_unit_test_setup_teardown(
			test_damaged_database_stops_at_once, live_setup,
			live_teardown),
		cmocka_unit_test_setup_teardown(
			test_second_broker_on_ipc_path_refused, live_setup,
			live_teardown),
		cmocka_unit_test_setup_teardown(test_curve_on_ipc, live_setup,
						live_teardown),
		cmocka_unit_test_setup_teardown(test_fake_listener_on_ipc,
						live_setup, live_teardown),
		cmocka_unit_test_setup_teardown(
			test_readable_secret_key_refused, live_setup,
			live_teardown),
	};

	if (live_env() != 0)
		return 77;
	umask(022); /* the usual one: the database must still be 0600 */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
