/*
 * test_sim_sweep.c - the simulator's invariants on the shipped traces over
 * many cluster sizes (issue 13, item 8).
 *
 * sim_run() checks at every step that no policy puts more resident memory
 * on a host than it sells, and fails with the first host that does; so a
 * run that returns 0 is a run without an invariant error. The traces are
 * found as in test_sim.c (BOURSE_TRACES_DIR, ../shared/traces next to the
 * clone, as in CI); without them the tests report themselves skipped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "policy.h"
#include "sim.h"
#include "banned.h"

#define SWEEP_VMS 40 /* "the first 40 shipped VMs" (issue 13, item 8) */

/* Loads the first max_vms VMs of the July month, or skips. */
static void load_july(size_t max_vms, trace_set *t)
{
	char err[512];
	trace_opts o = { .max_vms = max_vms };
	const char *dir = BOURSE_TRACES_DIR "/bitbrains-rnd/2013-7";

	if (trace_load(dir, &o, t, err, sizeof(err)) != 0) {
		print_message("skipped: %s\n", err);
		skip();
	}
}

/* Runs policy p on hosts x gib; fails naming the size and the error, or
 * if the policy is short less than the lower bound lb. */
static void run_size(const trace_set *t, sim_policy p, size_t hosts,
		     int64_t gib, double lb)
{
	sim_config c;
	sim_metrics m;
	char err[512] = "";

	sim_config_default(&c);
	c.n_hosts = hosts;
	c.host_mib = gib * 1024;
	if (sim_run(&c, t, p, &m, err, sizeof(err)) != 0)
		fail_msg("%zu hosts x %lld GiB, policy '%s': %s", hosts,
			 (long long)gib, sim_policy_name(p), err);
	assert_true(m.steps > 8600); /* the whole month ran */
	if (m.pressure_gib_h < lb - 1e-6)
		fail_msg("%zu hosts x %lld GiB, policy '%s': %.3f GiB-h short, "
			 "below the lower bound %.3f", hosts, (long long)gib,
			 sim_policy_name(p), m.pressure_gib_h, lb);
}

/* The lower bound at hosts x gib. */
static double bound_at(const trace_set *t, size_t hosts, int64_t gib)
{
	sim_config c;
	double lb = 0;
	char err[512] = "";

	sim_config_default(&c);
	c.n_hosts = hosts;
	c.host_mib = gib * 1024;
	if (sim_lower_bound(&c, t, &lb, err, sizeof(err)) != 0)
		fail_msg("lower bound: %s", err);
	return lb;
}

/* Every policy on the first 40 July VMs, a month at 300 s steps, on every
 * cluster of 4 to 16 hosts of 12 to 64 GiB in this grid (35 sizes, 245
 * runs): no invariant error, and none short less than the lower bound. sim_config_default() gives the engine's
 * defaults: decisions one step late and pre-copy migrations, whose copies
 * on the destinations the invariant counts. */
static void test_sweep_sizes(void **state)
{
	static const size_t hosts[] = { 4, 6, 8, 12, 16 };
	static const int64_t gib[] = { 12, 16, 20, 24, 32, 48, 64 };
	trace_set t;

	(void)state;
	load_july(SWEEP_VMS, &t);
	for (size_t h = 0; h < sizeof(hosts) / sizeof(hosts[0]); h++) {
		for (size_t g = 0; g < sizeof(gib) / sizeof(gib[0]); g++) {
			double lb = bound_at(&t, hosts[h], gib[g]);
			for (int p = 0; p < SIM_N_POLICIES; p++)
				run_size(&t, (sim_policy)p, hosts[h], gib[g],
					 lb);
		}
	}
	trace_set_release(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sweep_sizes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
