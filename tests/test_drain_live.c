/*
 * test_drain_live.c - host maintenance over real processes: a real broker
 * and two emulated agents (`bourse agent --source trace --actuator
 * emulated`, docs/emulated.md) sharing one world, the broker's SQLite file
 * read back, `bourse host drain|undrain` run as an operator would.
 *
 * host-a (8 GiB) carries four VMs, host-b (32 GiB) two. In manual migrate
 * mode (a new database's), draining host-a makes migrate recommendations
 * off it that wait for approval, saying why; in automated migrate mode,
 * draining host-a moves all four off to host-b by the
 * broker's own dispatch, nothing moves onto host-a while it drains (nor
 * back), and `bourse hosts` and
 * `bourse status` say so. Undrained, host-a is a target again: draining
 * host-b then sends VMs to it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "live.h"
#include "store.h"
#include "util.h"
#include "banned.h"

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

static void cli_ok(struct live *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* `bourse ARGS --db DB` must succeed. */
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
	assert_true(live_wait_at_least(l, 1, 2 * WAIT_MS, sql) >= 0);
}

static int64_t vms_on(struct live *l, int64_t host)
{
	return live_q_int(l, "SELECT COUNT(*) FROM vms WHERE host_id = %"
			  PRId64 " AND state = %d", host, STORE_VM_ACTIVE);
}

static void test_drain_undrain(void **state)
{
	struct live *l = *state;
	static const char *const quick[] = { "--vm-cooldown-s", "1", NULL };
	int64_t a, b, r0, t0;

	live_start_broker_with(l, quick);
	start_emulated(l, 0, "host-a", "8192", "0:4");
	start_emulated(l, 1, "host-b", "32768", "4:2");
	live_wait_online(l, 2);
	assert_true(live_wait_at_least(l, 6, WAIT_MS,
				       "SELECT COUNT(*) FROM vms") >= 0);
	a = live_host_id(l, "host-a");
	b = live_host_id(l, "host-b");
	live_wait_rounds_after(l, live_last_round(l), 2);
	assert_int_equal(vms_on(l, a), 4);

	/* an unknown host: refused, naming it */
	assert_int_equal(live_run_cli("%s host drain host-x --db %s 2>&1 | "
				      "grep -q \"no host named 'host-x'\"",
				      BOURSE_BIN, l->db), 0);
	r0 = live_last_round(l);
	cli_ok(l, "host drain host-a --reason 'new DIMMs'");
	assert_int_equal(live_run_cli("%s hosts --db %s | grep host-a | grep -q "
				      "'online, draining'", BOURSE_BIN, l->db),
			 0);
	assert_int_equal(live_run_cli("%s status --db %s | grep -q "
				      "'^draining   host-a since .* (new "
				      "DIMMs)'", BOURSE_BIN, l->db), 0);
	/* manual: recommended, pending, nothing carried out */
	wait_sql(l, "SELECT COUNT(*) > 0 FROM recs WHERE kind = %d AND state = "
		 "%d AND from_host_id = %" PRId64 " AND round > %" PRId64
		 " AND why LIKE 'host-a is draining (bourse host drain)%%'",
		 STORE_REC_MIGRATE, STORE_REC_PENDING, a, r0);
	assert_int_equal(live_q_int(l, "SELECT COUNT(*) FROM recs WHERE kind = "
				    "%d AND state >= %d", STORE_REC_MIGRATE,
				    STORE_REC_DISPATCHED), 0);
	assert_int_equal(vms_on(l, a), 4);
	/* automated: every VM of host-a moves to host-b, by the broker */
	cli_ok(l, "mode automated --for migrate");
	wait_sql(l, "SELECT COUNT(*) = 0 FROM vms WHERE host_id = %" PRId64
		 " AND state = %d", a, STORE_VM_ACTIVE);
	/* a VM that left host-a is deregistered by its agent at once, and
	 * active again once host-b's agent registers it */
	wait_sql(l, "SELECT COUNT(*) = 6 FROM vms WHERE host_id = %" PRId64
		 " AND state = %d", b, STORE_VM_ACTIVE);
	assert_true(live_q_int(l, "SELECT COUNT(*) FROM recs WHERE kind = %d "
			       "AND state = %d AND from_host_id = %" PRId64
			       " AND round > %" PRId64, STORE_REC_MIGRATE,
			       STORE_REC_SUCCEEDED, a, r0) >= 4);
	assert_true(live_count_in_file(l->blog, "broker: host host-a is "
				       "draining") == 1);
	assert_int_equal(live_q_int(l, "SELECT COUNT(*) FROM audit WHERE event "
				    "= 'host.drain' AND detail = 'host-a: new "
				    "DIMMs' AND actor LIKE 'cli%%'"), 1);

	/* undrained, then host-b drained: host-a is a target again */
	cli_ok(l, "host undrain host-a");
	t0 = live_last_round(l);
	assert_int_equal(live_q_int(l, "SELECT COUNT(*) FROM recs WHERE kind = "
				    "%d AND to_host_id = %" PRId64 " AND round "
				    "> %" PRId64 " AND round <= %" PRId64,
				    STORE_REC_MIGRATE, a, r0, t0), 0);
	live_wait_rounds_after(l, t0, 2);
	cli_ok(l, "host drain host-b");
	wait_sql(l, "SELECT COUNT(*) > 0 FROM recs WHERE kind = %d AND "
		 "to_host_id = %" PRId64 " AND round > %" PRId64,
		 STORE_REC_MIGRATE, a, t0);
	wait_sql(l, "SELECT COUNT(*) > 0 FROM vms WHERE host_id = %" PRId64
		 " AND state = %d", a, STORE_VM_ACTIVE);
	assert_int_equal(live_run_cli("%s hosts --db %s | grep host-a | grep -q "
				      "draining", BOURSE_BIN, l->db), 1);
	live_stop_all_cleanly(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_drain_undrain, live_setup,
						live_teardown),
	};

	if (live_env() != 0)
		return 77;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
