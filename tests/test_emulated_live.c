/*
 * test_emulated_live.c - the emulated hypervisor closed loop over real
 * processes (docs/emulated.md): a real broker and two `bourse agent
 * --source trace --actuator emulated` agents sharing one world directory,
 * over real ZeroMQ, with the broker's real SQLite file read back.
 *
 * The cluster of live.h: host-a (8 GiB) carries four busy VMs, host-b
 * (32 GiB) two quiet ones. A resize dispatched in automated mode changes
 * the VM's memory in the world and its next Bid carries it; a migration
 * approved in manual mode moves the VM to host-b, which bids for it from
 * then on (host-a never again); an agent killed with SIGKILL during a
 * migration's copy leaves the VM on exactly one host.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "live.h"
#include "util.h"
#include "banned.h"

#define HOST_A_SELLS (8192 - 1024) /* capacity - the default reserve */

static void world_dir(const struct live *l, char *buf, size_t len)
{
	snprintf(buf, len, "%s/world", l->dir);
}

/* An emulated agent (agent i) on the shared world, its log HOST.log. */
static void start_emulated(struct live *l, int i, const char *host,
			   const char *cap, const char *vms, const char *mibps)
{
	char log[160], world[128];

	snprintf(log, sizeof(log), "%s/%s.log", l->dir, host);
	world_dir(l, world, sizeof(world));
	const char *args[] = { "agent", "--host", host, "--capacity-mib", cap,
			       "--trace", l->trace, "--vms", vms,
			       "--broker", l->ep, "--step-s", "300",
			       "--actuator", "emulated", "--world", world,
			       "--migrate-mibps", mibps, NULL };
	l->agents[i] = live_spawn(l, log, args);
}

static void start_host_a(struct live *l, const char *mibps)
{
	start_emulated(l, 0, "host-a", "8192", "0:4", mibps);
}

/* Broker and both agents; every VM known, a few rounds, a recommendation. */
static void start_world(struct live *l, const char *mibps)
{
	/* the VM the market picks to move was usually resized in the first
	 * rounds: the 10 min guardrail between two actions on a VM would
	 * hold its approved migration (recs show: "cooldown") */
	static const char *const quick[] = { "--vm-cooldown-s", "1", NULL };

	live_start_broker_with(l, quick);
	start_host_a(l, mibps);
	start_emulated(l, 1, "host-b", "32768", "4:2", mibps);
	live_wait_online(l, 2);
	assert_true(live_wait_at_least(l, 6, WAIT_MS,
				       "SELECT COUNT(*) FROM vms") >= 0);
	assert_true(live_wait_at_least(l, 1, WAIT_MS,
				       "SELECT COUNT(*) FROM recs") >= 0);
	live_wait_rounds_after(l, live_last_round(l), 2);
}

/* `bourse ARGS --db DB` must succeed. */
static void cli_ok(struct live *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void cli_ok(struct live *l, const char *fmt, ...)
{
	char args[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	assert_int_equal(live_run_cli("%s %s --db %s >/dev/null", BOURSE_BIN,
				      args, l->db), 0);
}

static void wait_sql(struct live *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Wait until the query (a truth value) holds. */
static void wait_sql(struct live *l, const char *fmt, ...)
{
	char sql[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	assert_true(live_wait_at_least(l, 1, WAIT_MS, sql) >= 0);
}

/* The name of the VM of recommendation id. */
static void rec_vm(struct live *l, int64_t id, char *name, size_t len)
{
	sqlite3_stmt *st;

	assert_true(live_q_int(l, "SELECT 1") == 1); /* opens l->sql */
	assert_int_equal(sqlite3_prepare_v2(l->sql, "SELECT v.name FROM recs "
					    "r JOIN vms v ON v.id = r.vm_id "
					    "WHERE r.id = ?", -1, &st, NULL),
			 SQLITE_OK);
	sqlite3_bind_int64(st, 1, id);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	snprintf(name, len, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
}

/* The world's file of vm, whole. */
static void world_file(struct live *l, const char *vm, char *buf, size_t len)
{
	char path[256];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/world/vms/%s", l->dir, vm);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
}

static void log_path(const struct live *l, const char *host, char *buf,
		     size_t len)
{
	snprintf(buf, len, "%s/%s.log", l->dir, host);
}

/* No host ever held more than it sells, in any round's samples. */
static void never_over(struct live *l)
{
	int64_t a = live_host_id(l, "host-a");

	assert_true(live_q_int(l, "SELECT COALESCE(MAX(s), 0) FROM (SELECT "
			       "SUM(assigned_mib) s FROM samples WHERE host_id "
			       "= %" PRId64 " GROUP BY round)", a) <=
		    HOST_A_SELLS);
}

/* Automated resizes: one succeeds, the world holds its size and the VM's
 * next Bid (its sample in the store) carries it, and keeps carrying it. */
static void test_resize_applied(void **state)
{
	struct live *l = *state;
	int64_t id, vm, to, from, r0;
	char name[64], text[128], want[64];

	start_world(l, "1100");
	cli_ok(l, "mode automated --for resize-up,resize-down");
	wait_sql(l, "SELECT COUNT(*) FROM recs WHERE kind = %d AND state = %d",
		 STORE_REC_RESIZE, STORE_REC_SUCCEEDED);
	r0 = live_last_round(l);
	id = live_q_int(l, "SELECT MIN(id) FROM recs WHERE kind = %d AND "
			"state = %d", STORE_REC_RESIZE, STORE_REC_SUCCEEDED);
	vm = live_q_int(l, "SELECT vm_id FROM recs WHERE id = %" PRId64, id);
	to = live_q_int(l, "SELECT to_mib FROM recs WHERE id = %" PRId64, id);
	from = live_q_int(l, "SELECT from_mib FROM recs WHERE id = %" PRId64,
			  id);
	assert_int_not_equal(to, from);
	rec_vm(l, id, name, sizeof(name));
	/* the VM bid with its old size before */
	assert_true(live_q_int(l, "SELECT COUNT(*) FROM samples WHERE vm_id = "
			       "%" PRId64 " AND assigned_mib = %" PRId64, vm,
			       from) >= 1);
	/* the world has the new size; no other action on the VM (cooldown) */
	world_file(l, name, text, sizeof(text));
	snprintf(want, sizeof(want), "assigned_mib %" PRId64 "\n", to);
	assert_non_null(strstr(text, want));
	/* the next reports carry it */
	wait_sql(l, "SELECT COUNT(*) FROM samples WHERE vm_id = %" PRId64
		 " AND round > %" PRId64 " AND assigned_mib = %" PRId64, vm, r0,
		 to);
	live_wait_rounds_after(l, live_last_round(l), 3);
	assert_int_equal(live_q_int(l, "SELECT assigned_mib FROM samples WHERE "
				    "vm_id = %" PRId64 " ORDER BY round DESC "
				    "LIMIT 1", vm), to);
	assert_int_equal(live_times_acted(l, id), 1);
	never_over(l);
	live_stop_all_cleanly(l);
}

/* A pending migration of a host-a VM, approved (manual mode), until one is
 * dispatched. Its id; the VM's name in name. An approval ends without
 * being carried out when the market, next round, moves another VM
 * instead (one move a round on two hosts: the approved rec is not made
 * again and expires by price drift, audited) or a newer rec supersedes
 * it; the operator, as this does, approves the market's newest one. */
static int64_t approve_migration(struct live *l, char *name, size_t len)
{
	int64_t id = 0, end = util_now_ms() + WAIT_MS;

	cli_ok(l, "mode manual --for migrate");
	for (;;) {
		assert_true(util_now_ms() < end);
		wait_sql(l, "SELECT COUNT(*) FROM recs WHERE kind = %d AND "
			 "state = %d", STORE_REC_MIGRATE, STORE_REC_PENDING);
		id = live_q_int(l, "SELECT MAX(id) FROM recs WHERE kind = %d "
				"AND state = %d", STORE_REC_MIGRATE,
				STORE_REC_PENDING);
		if (live_run_cli("%s recs approve %" PRId64 " --db %s "
				 ">/dev/null 2>&1", BOURSE_BIN, id, l->db) != 0)
			continue; /* superseded or expired meanwhile */
		wait_sql(l, "SELECT state != %d FROM recs WHERE id = %" PRId64,
			 STORE_REC_APPROVED, id);
		if (live_q_int(l, "SELECT state FROM recs WHERE id = %" PRId64,
			       id) >= STORE_REC_DISPATCHED)
			break;
	}
	rec_vm(l, id, name, len);
	return id;
}

/* Once the store has the VM on host (its agent registered it there), the
 * VM's samples of the rounds after: at least one, every one from host. A
 * VM's last Bid stands until it is registered elsewhere, so the rounds
 * between a migration's end and the destination's next interval still
 * carry the source's. */
static void bids_from(struct live *l, const char *vm, const char *host)
{
	int64_t h = live_host_id(l, host);
	int64_t v = live_q_int(l, "SELECT id FROM vms WHERE name = '%s'", vm);
	int64_t r;

	wait_sql(l, "SELECT host_id = %" PRId64 " FROM vms WHERE id = %"
		 PRId64, h, v);
	r = live_last_round(l);
	wait_sql(l, "SELECT COUNT(*) >= 3 FROM samples WHERE vm_id = %" PRId64
		 " AND round > %" PRId64, v, r);
	assert_int_equal(live_q_int(l, "SELECT COUNT(*) FROM samples WHERE "
				    "vm_id = %" PRId64 " AND round > %" PRId64
				    " AND host_id != %" PRId64, v, r, h), 0);
	assert_int_equal(live_q_int(l, "SELECT host_id FROM vms WHERE id = %"
				    PRId64, v), h);
}

/* No message of vm was refused, by the broker (for coming through a host
 * that does not hold it, say) nor as the agents heard it. A host's own
 * messages may be: an agent that went silent under load reconnects, and
 * what its old connection still carried is dropped as from the wrong
 * connection. (Only the first drop of a kind per peer is logged.) */
static void not_refused(struct live *l, const char *vm)
{
	char needle[96], path[160];

	snprintf(needle, sizeof(needle), "dropped (wrong_host): %s belongs",
		 vm);
	assert_int_equal(live_count_in_file(l->blog, needle), 0);
	snprintf(needle, sizeof(needle), " of %s (", vm);
	log_path(l, "host-a", path, sizeof(path));
	assert_int_equal(live_count_in_file(path, needle), 0);
	log_path(l, "host-b", path, sizeof(path));
	assert_int_equal(live_count_in_file(path, needle), 0);
}

/* Approved, the migration is carried out once; the VM is on host-b in the
 * world, bids from host-b (registered there once), and host-a no longer
 * speaks for it (nothing of it refused). */
static void test_migration_approved(void **state)
{
	struct live *l = *state;
	char name[64], text[128], a_log[160], b_log[160], found[96],
	     moved[128];
	int64_t id;

	start_world(l, "1100");
	id = approve_migration(l, name, sizeof(name));
	wait_sql(l, "SELECT state = %d FROM recs WHERE id = %" PRId64,
		 STORE_REC_SUCCEEDED, id);
	world_file(l, name, text, sizeof(text));
	assert_non_null(strstr(text, "host host-b\n"));
	bids_from(l, name, "host-b");
	assert_int_equal(live_times_acted(l, id), 1);
	log_path(l, "host-a", a_log, sizeof(a_log));
	log_path(l, "host-b", b_log, sizeof(b_log));
	snprintf(found, sizeof(found), "found a new VM, %s\n", name);
	assert_int_equal(live_count_in_file(b_log, found), 1);
	assert_int_equal(live_count_in_file(a_log, found), 0);
	snprintf(moved, sizeof(moved), "broker: vm %s moved from host host-a "
		 "to host-b", name);
	assert_int_equal(live_count_in_file(l->blog, moved), 1);
	not_refused(l, name);
	never_over(l);
	live_stop_all_cleanly(l);
}

/* The source agent SIGKILLed while the migration copies (100 MiB/s: about
 * ten seconds for the VM's 1 GiB): the VM was never switched, so it is on
 * host-a in the world, and once host-a's agent is back the VM bids from
 * host-a only; host-b never found it. The broker, as it is, neither sends
 * the action again to the restarted agent nor fails it before its action
 * timeout (600 s): it stays dispatched (docs/emulated.md, "Crashes"). */
static void test_kill_mid_migration(void **state)
{
	struct live *l = *state;
	char name[64], text[128], a_log[160], b_log[160], copying[128],
	     found[96];
	int64_t id, r0, end;

	start_world(l, "100");
	id = approve_migration(l, name, sizeof(name));
	log_path(l, "host-a", a_log, sizeof(a_log));
	log_path(l, "host-b", b_log, sizeof(b_log));
	snprintf(copying, sizeof(copying), "emulated actuator: %s: copying ",
		 name);
	end = util_now_ms() + WAIT_MS;
	while (live_count_in_file(a_log, copying) < 1) {
		assert_true(util_now_ms() < end);
		live_sleep_ms(20);
	}
	live_stop_proc(&l->agents[0], SIGKILL, 5000);
	world_file(l, name, text, sizeof(text));
	assert_non_null(strstr(text, "host host-a\n"));

	/* lost first, so that online again means the new agent registered */
	wait_sql(l, "SELECT state = %d FROM hosts WHERE name = 'host-a'",
		 STORE_HOST_LOST);
	start_host_a(l, "100");
	live_wait_online(l, 2);
	r0 = live_last_round(l);
	live_wait_rounds_after(l, r0, 5);
	bids_from(l, name, "host-a");
	world_file(l, name, text, sizeof(text));
	assert_non_null(strstr(text, "host host-a\n"));
	snprintf(found, sizeof(found), "found a new VM, %s\n", name);
	assert_int_equal(live_count_in_file(b_log, found), 0);
	not_refused(l, name);
	assert_int_equal(live_q_int(l, "SELECT state FROM recs WHERE id = %"
				    PRId64, id), STORE_REC_DISPATCHED);
	never_over(l);
	live_stop_all_cleanly(l);
}

/* Automated resizes on host-a, four busy VMs on 7 GiB sold, the VM
 * cooldown 1 s: no grow is sent before the host has the memory for it
 * (broker/room.c). Before, a grow went while the shrinks that fund it
 * still waited, and the world refused it ("host host-a cannot hold 512
 * MiB more"): a failed resize; on a real host, an overcommit. */
static void test_grows_within_room(void **state)
{
	struct live *l = *state;
	int64_t r0;

	start_world(l, "1100");
	cli_ok(l, "mode automated --for resize-up,resize-down");
	r0 = live_last_round(l);
	live_wait_rounds_after(l, r0, 40);
	assert_true(live_q_int(l, "SELECT COUNT(*) FROM recs WHERE kind = %d "
			       "AND state = %d", STORE_REC_RESIZE,
			       STORE_REC_SUCCEEDED) >= 4);
	assert_int_equal(live_q_int(l, "SELECT COUNT(*) FROM recs WHERE state "
				    "= %d", STORE_REC_FAILED), 0);
	never_over(l);
	live_stop_all_cleanly(l);
}

/* A trace of two VMs of 4 GiB whose demand steps from 800 to 2,400 MiB
 * after 15 steps: shrunk first, then short. */
static void write_step_trace(const char *path)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fprintf(f, "vm,time_s,provisioned_mib,demand_mib\n");
	for (int vm = 1; vm <= 2; vm++)
		for (int step = 0; step < 48; step++)
			fprintf(f, "%d,%d,4096,%d\n", vm, 1372629600 +
				300 * step, step < 15 ? 800 : 2400);
	assert_int_equal(fclose(f), 0);
}

/* A VM short of memory is grown within its cooldown (600 s here) when its
 * host has the room (broker/actions.c, relief()): two VMs on a 32 GiB
 * host, shrunk to their idle demand, then short when it triples. Every
 * action on a VM after its first is such a relief; the shrinks wait out
 * their cooldown. */
static void test_relief_within_cooldown(void **state)
{
	struct live *l = *state;
	static const char *const slow[] = {
		"--vm-cooldown-s", "600", "--mode-resize-up", "automated",
		"--mode-resize-down", "automated", NULL };
	char again[256]; /* the actions on a VM after its first */

	snprintf(again, sizeof(again), "FROM recs r WHERE r.state = %d AND "
		 "EXISTS (SELECT 1 FROM recs p WHERE p.vm_id = r.vm_id AND "
		 "p.id < r.id AND p.state = %d)", STORE_REC_SUCCEEDED,
		 STORE_REC_SUCCEEDED);
	snprintf(l->trace, sizeof(l->trace), "%s/step.csv", l->dir);
	write_step_trace(l->trace);
	live_start_broker_with(l, slow);
	start_emulated(l, 0, "host-b", "32768", "0:2", "1100");
	live_wait_online(l, 1);
	wait_sql(l, "SELECT COUNT(*) %s", again);
	assert_int_equal(live_q_int(l, "SELECT COUNT(*) %s AND NOT (r.kind = "
				    "%d AND r.to_mib > r.from_mib AND "
				    "r.pressure_before > 100)", again,
				    STORE_REC_RESIZE), 0);
	assert_int_equal(live_q_int(l, "SELECT COUNT(*) FROM recs WHERE state "
				    "= %d", STORE_REC_FAILED), 0);
	live_stop_all_cleanly(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_resize_applied,
						live_setup, live_teardown),
		cmocka_unit_test_setup_teardown(test_migration_approved,
						live_setup, live_teardown),
		cmocka_unit_test_setup_teardown(test_kill_mid_migration,
						live_setup, live_teardown),
		cmocka_unit_test_setup_teardown(test_grows_within_room,
						live_setup, live_teardown),
		cmocka_unit_test_setup_teardown(test_relief_within_cooldown,
						live_setup, live_teardown),
	};

	/* Under valgrind (test_emulated_live_valgrind: a slot no other test
	 * runs beside) the first three, which go through the same broker
	 * paths (room.c included: their resizes grow VMs); the guardrails'
	 * behaviour is asserted in the plain run. */
	const struct CMUnitTest under_valgrind[] = {
		tests[0], tests[1], tests[2],
	};

	if (live_env() != 0)
		return 77;
	if (live_valgrind)
		return cmocka_run_group_tests(under_valgrind, NULL, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
