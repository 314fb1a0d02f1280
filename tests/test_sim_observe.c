/*
 * test_sim_observe.c - sim_run_observed() (sim/sim.h) and the series
 * `bourse sim --plot` builds from it (cli/sim_report.h): observing a run
 * changes no figure; the observer is called once per step, in order, and
 * its figures add up to the run's (pressure_gib_h, held_gib_avg,
 * migrations); the bins average the steps they cover. On the small CSV
 * trace of tests/data (a tight cluster, so VMs are short), every policy,
 * with and without lag and the migration model.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"
#include "sim_report.h"
#include "banned.h"

#define MAX_STEPS 4096

struct seen {
	size_t n;
	uint64_t step[MAX_STEPS];
	int64_t t[MAX_STEPS];
	double pressure, held, last_migrations, demand_max;
	int migrations_down; /* 1: the cumulative count went down once */
};

static void observe(const sim_step_point *pt, void *ctx)
{
	struct seen *s = ctx;

	if (s->n < MAX_STEPS) {
		s->step[s->n] = pt->step;
		s->t[s->n] = pt->t;
	}
	s->n++;
	s->pressure += pt->pressure_gib;
	s->held += pt->held_gib;
	if ((double)pt->migrations < s->last_migrations)
		s->migrations_down = 1;
	s->last_migrations = (double)pt->migrations;
	if (pt->demand_gib > s->demand_max)
		s->demand_max = pt->demand_gib;
}

static void load(const char *path, trace_set *t)
{
	char err[512];
	trace_opts o = { .max_vms = 0 };

	if (trace_load(path, &o, t, err, sizeof(err)) != 0)
		fail_msg("%s", err);
}

static void small_cluster(sim_config *c)
{
	sim_config_default(c);
	c->n_hosts = 2;
	c->host_mib = 6 * 1024;
}

/* Every policy: the same metrics with and without an observer, and the
 * observer's sums are the run's. */
static void check_policies(const sim_config *c, const trace_set *t)
{
	char err[512];
	uint64_t moved = 0;
	double short_gib_h = 0;

	for (int p = 0; p < SIM_N_POLICIES; p++) {
		static struct seen s;
		sim_metrics plain, seen_m;

		memset(&s, 0, sizeof(s));
		assert_int_equal(sim_run(c, t, (sim_policy)p, &plain, err,
					 sizeof(err)), 0);
		assert_int_equal(sim_run_observed(c, t, (sim_policy)p, observe, &s,
						  &seen_m, err, sizeof(err)), 0);
		assert_memory_equal(&plain, &seen_m, sizeof(plain));
		assert_int_equal(s.n, plain.steps);
		for (size_t k = 0; k < s.n && k < MAX_STEPS; k++) {
			assert_int_equal(s.step[k], k);
			assert_int_equal(s.t[k], t->t_min + (int64_t)k * c->step_s);
		}
		assert_true(fabs(s.pressure * (double)c->step_s / 3600.0 -
				 plain.pressure_gib_h) <=
			    1e-9 * (1 + plain.pressure_gib_h));
		assert_true(fabs(s.held / (double)s.n - plain.held_gib_avg) <=
			    1e-9 * (1 + plain.held_gib_avg));
		assert_int_equal((uint64_t)s.last_migrations, plain.migrations);
		assert_false(s.migrations_down);
		assert_true(s.demand_max > 0);
		moved += plain.migrations;
		short_gib_h += plain.pressure_gib_h;
	}
	/* not vacuous: some policy moved VMs, and VMs were short */
	assert_true(moved > 0);
	assert_true(short_gib_h > 0);
}

static void test_small_trace(void **state)
{
	trace_set t;
	sim_config c;

	(void)state;
	load(BOURSE_SOURCE_DIR "/tests/data/small.csv", &t);
	small_cluster(&c);
	check_policies(&c, &t);
	c.lag_steps = 0;
	c.migration_instant = 1;
	check_policies(&c, &t);
	trace_set_release(&t);
}

/* The bins: at 5-minute steps over an hour, one bin a step; the series
 * holds each step's figures and the cumulative migrations. */
static void test_series_bins(void **state)
{
	trace_set t;
	sim_config c;
	sim_metrics m;
	sim_series ser;
	char err[512];

	(void)state;
	load(BOURSE_SOURCE_DIR "/tests/data/small.csv", &t);
	small_cluster(&c);
	sim_series_init(&ser, &t, c.step_s);
	assert_int_equal(ser.bin_s, c.step_s);
	assert_int_equal(sim_run_observed(&c, &t, SIM_MARKET, sim_series_observe,
					  &ser, &m, err, sizeof(err)), 0);
	assert_false(ser.oom);
	assert_int_equal(ser.n, m.steps);
	double p = 0;
	for (size_t k = 0; k < ser.n; k++)
		p += ser.pressure[k];
	assert_true(fabs(p * (double)c.step_s / 3600.0 - m.pressure_gib_h) <=
		    1e-9 * (1 + m.pressure_gib_h));
	assert_int_equal((uint64_t)ser.migrations[ser.n - 1], m.migrations);
	sim_series_release(&ser);
	sim_series_release(&ser); /* released twice: harmless */
	trace_set_release(&t);
}

/* A month at 5-minute steps: 2-hour bins, each the mean of its steps. */
static void test_month_bins(void **state)
{
	trace_set t = { 0 };
	sim_series ser;

	(void)state;
	t.t_min = 1372629600;
	t.t_max = t.t_min + 30 * 86400 - 300;
	sim_series_init(&ser, &t, 300);
	assert_int_equal(ser.bin_s, 2 * 3600);
	for (int k = 0; k < 48; k++) { /* two bins of 24 steps */
		sim_step_point pt = { .step = (uint64_t)k,
				      .t = t.t_min + 300 * k,
				      .pressure_gib = k < 24 ? 1.0 * k : 2.0,
				      .held_gib = 10, .demand_gib = 5,
				      .migrations = (uint64_t)k };
		sim_series_observe(&pt, &ser);
	}
	assert_int_equal(ser.n, 2);
	assert_true(fabs(ser.pressure[0] - 11.5) < 1e-12); /* mean of 0..23 */
	assert_true(fabs(ser.pressure[1] - 2.0) < 1e-12);
	assert_true(fabs(ser.held[1] - 10) < 1e-12);
	assert_true(ser.migrations[0] == 23 && ser.migrations[1] == 47);
	assert_true(ser.t[1] - ser.t[0] == 7200);
	sim_series_release(&ser);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_trace),
		cmocka_unit_test(test_series_bins),
		cmocka_unit_test(test_month_bins),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
