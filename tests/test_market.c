/*
 * test_market.c - unit tests of every public function of market/market.h.
 *
 * Each test pins a behaviour that a plausible change could break; the
 * numbers in the comments are worked out in docs/market.md.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "market.h"
#include "banned.h"

/* ---------------------------------------------------------------- */
/* fixtures                                                         */
/* ---------------------------------------------------------------- */

static market_vm mkvm(uint32_t id, uint32_t host, int64_t demand,
		      int64_t assigned)
{
	market_vm v;

	memset(&v, 0, sizeof(v));
	v.id = id;
	v.host = host;
	v.demand = demand;
	v.assigned = assigned;
	v.startup = assigned;
	v.minimum = 0;
	v.maximum = 1 << 20;
	v.buffer_pct = 20;
	v.weight = 5000;
	v.shares = 1000;
	v.last_migrated = MARKET_NEVER;
	return v;
}

static market_host mkhost(uint32_t id, int64_t supply)
{
	market_host h;

	memset(&h, 0, sizeof(h));
	h.id = id;
	h.reserve = 1024;
	h.capacity = supply + h.reserve;
	h.online = 1;
	h.congested_rounds = 1000; /* congestion persists: see test_persist */
	return h;
}

/* Params without hysteresis, so clearing results are visible as is. */
static market_params raw_params(void)
{
	market_params p;

	market_params_default(&p);
	p.resize_min_mib = 0;
	p.resize_min_frac = 0;
	return p;
}

/* Runs one round, asserting success; the result is initialised here. */
static void run(const market_params *p, market_host *hosts, size_t nh,
		market_vm *vms, size_t nv, int64_t round, market_result *r)
{
	market_cluster c = { hosts, nh, vms, nv };
	char err[256];

	assert_int_equal(market_result_init(r, nh, nv), 0);
	if (market_round(p, &c, round, r, err, sizeof(err)) != 0)
		fail_msg("market_round: %s", err);
}

static const market_rec *find_rec(const market_result *r, uint32_t vm,
				  market_rec_kind kind)
{
	for (size_t i = 0; i < r->n_recs; i++)
		if (r->recs[i].vm == vm && r->recs[i].kind == kind)
			return &r->recs[i];
	return NULL;
}

static size_t count_recs(const market_result *r, market_rec_kind kind)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n_recs; i++)
		n += r->recs[i].kind == kind;
	return n;
}

/* ---------------------------------------------------------------- */
/* parameters                                                       */
/* ---------------------------------------------------------------- */

static void test_defaults(void **state)
{
	market_params p;
	char err[128] = "junk";

	(void)state;
	market_params_default(&p);
	assert_true(p.price_base == 1.0);
	assert_true(p.price_exponent == 2.0);
	assert_true(p.util_cap == 0.99);
	assert_true(p.balloon_weight == 4.0);
	assert_true(p.swap_weight == 2.0);
	assert_true(p.swap_norm_mibps == 10.0);
	assert_true(p.idle_tax == 0.75);
	assert_true(p.budget_pressure_gain == 0.25);
	assert_true(p.budget_swap_gain == 0.10);
	assert_true(p.risk_headroom == 0.8);
	assert_true(p.risk_rounds == 12.0);
	assert_int_equal(p.resize_min_mib, 64);
	assert_true(p.resize_min_frac == 0.05);
	assert_true(p.migrate_gain == 0.30);
	assert_true(p.migrate_cost_mib == 0.5);
	assert_int_equal(p.migrate_cooldown, 12);
	assert_int_equal(p.migrate_return_rounds, 288);
	assert_int_equal(p.migrate_persist, 3);
	assert_int_equal(p.migrate_max_per_round, 64);
	assert_true(p.migrate_host_share == 0.0625);
	assert_true(p.migrate_util == 0.90);
	assert_int_equal(p.migrate_targets, 4);
	assert_true(p.provision_util == 0.95);
	assert_true(p.suspend_util == 0.60);
	assert_true(p.peak_rounds == 72.0);
	assert_true(p.provision_band == 0.05);
	assert_true(p.migrate_squeeze == 1.0);
	assert_int_equal(market_params_validate(&p, err, sizeof(err)), 0);
	assert_string_equal(err, "");
}

/* Each case breaks one parameter; the message must name it. */
static void test_params_validate_rejects(void **state)
{
	static const struct {
		const char *name;
		size_t off;
		double val;
	} dcases[] = {
		{ "price_base", offsetof(market_params, price_base), 0 },
		{ "price_base", offsetof(market_params, price_base), NAN },
		{ "price_exponent", offsetof(market_params, price_exponent), -1 },
		{ "util_cap", offsetof(market_params, util_cap), 1.0 },
		{ "balloon_weight", offsetof(market_params, balloon_weight), -0.1 },
		{ "swap_weight", offsetof(market_params, swap_weight), INFINITY },
		{ "swap_norm_mibps", offsetof(market_params, swap_norm_mibps), 0 },
		{ "idle_tax", offsetof(market_params, idle_tax), 1.0 },
		{ "idle_tax", offsetof(market_params, idle_tax), -0.5 },
		{ "budget_pressure_gain",
		  offsetof(market_params, budget_pressure_gain), -1 },
		{ "budget_swap_gain", offsetof(market_params, budget_swap_gain),
		  NAN },
		{ "resize_min_frac", offsetof(market_params, resize_min_frac), 2 },
		{ "migrate_gain", offsetof(market_params, migrate_gain), 1.0 },
		{ "migrate_cost_mib", offsetof(market_params, migrate_cost_mib),
		  -1 },
		{ "provision_util", offsetof(market_params, provision_util), 0 },
		{ "suspend_util", offsetof(market_params, suspend_util), 1.5 },
		{ "peak_rounds", offsetof(market_params, peak_rounds), 0.5 },
		{ "provision_band", offsetof(market_params, provision_band),
		  -0.1 },
		{ "migrate_squeeze", offsetof(market_params, migrate_squeeze),
		  1.5 },
		{ "migrate_squeeze", offsetof(market_params, migrate_squeeze),
		  NAN },
	};
	market_params p;
	char err[128];

	(void)state;
	for (size_t i = 0; i < sizeof(dcases) / sizeof(dcases[0]); i++) {
		market_params_default(&p);
		memcpy((char *)&p + dcases[i].off, &dcases[i].val,
		       sizeof(double));
		assert_int_equal(market_params_validate(&p, err, sizeof(err)),
				 -1);
		if (strstr(err, dcases[i].name) == NULL)
			fail_msg("case %zu: '%s' does not name %s", i, err,
				 dcases[i].name);
	}
	market_params_default(&p);
	p.resize_min_mib = -1;
	assert_int_equal(market_params_validate(&p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "resize_min_mib"));
	market_params_default(&p);
	p.migrate_cooldown = -1;
	assert_int_equal(market_params_validate(&p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "migrate_cooldown"));
	assert_int_equal(market_params_validate(NULL, err, sizeof(err)), -1);
	/* a tiny buffer is still NUL-terminated; NULL buffer tolerated */
	char tiny[4];
	p.migrate_cooldown = -1;
	assert_int_equal(market_params_validate(&p, tiny, sizeof(tiny)), -1);
	assert_int_equal(strlen(tiny), 3);
	assert_int_equal(market_params_validate(&p, NULL, 0), -1);
}

/* ---------------------------------------------------------------- */
/* cluster validation                                               */
/* ---------------------------------------------------------------- */

static void expect_cluster_bad(market_host *h, size_t nh, market_vm *v,
			       size_t nv, const char *needle)
{
	market_cluster c = { h, nh, v, nv };
	char err[256];

	assert_int_equal(market_cluster_validate(&c, err, sizeof(err)), -1);
	if (strstr(err, needle) == NULL)
		fail_msg("'%s' does not contain '%s'", err, needle);
}

static void test_cluster_validate(void **state)
{
	market_host h[1] = { mkhost(7, 8192) };
	market_vm v[1] = { mkvm(42, 0, 1000, 1000) };
	market_cluster c = { h, 1, v, 1 };
	char err[256];

	(void)state;
	assert_int_equal(market_cluster_validate(&c, err, sizeof(err)), 0);

	v[0].host = 1;
	expect_cluster_bad(h, 1, v, 1, "vm 42 (index 0): host index");
	v[0] = mkvm(42, 0, 1000, 1000);
	v[0].minimum = 2048;
	v[0].maximum = 1024;
	expect_cluster_bad(h, 1, v, 1, "'minimum' above 'maximum'");
	v[0] = mkvm(42, 0, 1000, 1000);
	v[0].reservation = 4096;
	v[0].limit = 2048;
	expect_cluster_bad(h, 1, v, 1, "'reservation' above 'limit'");
	v[0] = mkvm(42, 0, -1, 1000);
	expect_cluster_bad(h, 1, v, 1, "negative");
	v[0] = mkvm(42, 0, 1000, 1000);
	v[0].weight = 10001;
	expect_cluster_bad(h, 1, v, 1, "'weight'");
	v[0] = mkvm(42, 0, 1000, 1000);
	v[0].guest_swap_mibps = NAN;
	expect_cluster_bad(h, 1, v, 1, "guest_swap_mibps");
	v[0] = mkvm(42, 0, 1000, 1000);
	v[0].buffer_pct = 5000;
	expect_cluster_bad(h, 1, v, 1, "buffer_pct");
	v[0] = mkvm(42, 0, 1000, 1000);
	h[0].reserve = h[0].capacity;
	expect_cluster_bad(h, 1, v, 1, "host 7 (index 0): 'capacity'");
	h[0] = mkhost(7, 8192);
	h[0].host_swap_mibps = -1;
	expect_cluster_bad(h, 1, v, 1, "host_swap_mibps");
	expect_cluster_bad(NULL, 1, v, 1, "missing");
	assert_int_equal(market_cluster_validate(NULL, err, sizeof(err)), -1);

	/* market_round refuses the same cluster, with the message */
	market_params p;
	market_result r;
	market_params_default(&p);
	h[0] = mkhost(7, 8192);
	v[0].host = 3;
	assert_int_equal(market_result_init(&r, 1, 1), 0);
	assert_int_equal(market_round(&p, &c, 0, &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "vm 42"));
	/* and bad parameters */
	v[0].host = 0;
	p.idle_tax = 2;
	assert_int_equal(market_round(&p, &c, 0, &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "idle_tax"));
	market_result_release(&r);
}

/* ---------------------------------------------------------------- */
/* results                                                          */
/* ---------------------------------------------------------------- */

static void test_result_lifecycle(void **state)
{
	market_result r;
	market_params p;
	market_host h[2] = { mkhost(0, 8192), mkhost(1, 8192) };
	market_vm v[2] = { mkvm(0, 0, 100, 100), mkvm(1, 1, 100, 100) };
	market_cluster c = { h, 2, v, 2 };
	char err[256];

	(void)state;
	memset(&r, 0, sizeof(r));
	market_result_release(&r); /* zeroed: safe */
	market_result_release(NULL);
	assert_int_equal(market_result_init(&r, 0, 0), 0);
	assert_non_null(r.scratch);
	market_result_release(&r);
	assert_null(r.hosts);
	assert_null(r.scratch);
	market_result_release(&r); /* twice: safe */

	/* a result too small for the cluster is refused, with a message */
	market_params_default(&p);
	assert_int_equal(market_result_init(&r, 1, 2), 0);
	assert_int_equal(market_round(&p, &c, 0, &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "sized for 1 hosts"));
	market_result_release(&r);
	assert_int_equal(market_result_init(&r, 2, 1), 0);
	assert_int_equal(market_round(&p, &c, 0, &r, err, sizeof(err)), -1);
	market_result_release(&r);
	/* an uninitialised (zeroed) result is refused */
	assert_int_equal(market_round(&p, &c, 0, &r, err, sizeof(err)), -1);
	/* a larger one is fine and reusable */
	assert_int_equal(market_result_init(&r, 5, 5), 0);
	assert_int_equal(r.cap_recs, 5);
	assert_int_equal(r.cap_signals, 6);
	assert_int_equal(market_round(&p, &c, 0, &r, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(market_round(&p, &c, 1, &r, err, sizeof(err)), 0);
	market_result_release(&r);
}

/* ---------------------------------------------------------------- */
/* price                                                            */
/* ---------------------------------------------------------------- */

static void test_price_shape(void **state)
{
	market_params p;
	double prev = 0, prev_d = 0;

	(void)state;
	market_params_default(&p);
	assert_true(market_price(&p, 0, 0, 0) == p.price_base);
	/* 1/(1-0.5)^2 = 4 */
	assert_true(fabs(market_price(&p, 0.5, 0, 0) - 4.0) < 1e-12);
	for (int i = 0; i <= 98; i++) {
		double u = i / 100.0, pr = market_price(&p, u, 0, 0);
		assert_true(pr > prev); /* monotone in u */
		if (i >= 2)
			assert_true(pr - prev > prev_d); /* convex in u */
		prev_d = pr - prev;
		prev = pr;
	}
	/* finite at and beyond u = 1, and for junk u */
	double cap = market_price(&p, p.util_cap, 0, 0);
	assert_true(isfinite(cap));
	assert_true(market_price(&p, 1.0, 0, 0) == cap);
	assert_true(market_price(&p, 7.0, 0, 0) == cap);
	assert_true(market_price(&p, INFINITY, 0, 0) == cap);
	assert_true(isfinite(market_price(&p, NAN, 0, 0)));
	assert_true(market_price(&p, -1, 0, 0) == p.price_base);
	/* monotone in balloon and swap pressure, linear gains */
	assert_true(market_price(&p, 0.3, 0.1, 0) > market_price(&p, 0.3, 0, 0));
	assert_true(market_price(&p, 0.3, 0.2, 0) > market_price(&p, 0.3, 0.1, 0));
	assert_true(market_price(&p, 0.3, 0, 0.5) > market_price(&p, 0.3, 0, 0));
	assert_true(market_price(&p, 0.3, 0, 1.0) > market_price(&p, 0.3, 0, 0.5));
	/* 1 + 4 * 0.25 + 2 * 0.5 = 3 at u = 0 */
	assert_true(fabs(market_price(&p, 0, 0.25, 0.5) - 3.0) < 1e-12);
	/* negative pressures count as 0 */
	assert_true(market_price(&p, 0, -1, -1) == p.price_base);
	/* exponent: steeper curve, same value at u = 0 */
	market_params q = p;
	q.price_exponent = 3;
	assert_true(market_price(&q, 0.5, 0, 0) > market_price(&p, 0.5, 0, 0));
}

/* ---------------------------------------------------------------- */
/* buyers                                                           */
/* ---------------------------------------------------------------- */

static void test_floor_ceiling_want(void **state)
{
	market_vm v = mkvm(1, 0, 1000, 1000);

	(void)state;
	v.minimum = 512;
	v.maximum = 4096;
	/* limit 0 = unlimited */
	assert_int_equal(market_vm_ceiling(&v), 4096);
	v.limit = 2048;
	assert_int_equal(market_vm_ceiling(&v), 2048);
	v.limit = 8192; /* a limit above maximum changes nothing */
	assert_int_equal(market_vm_ceiling(&v), 4096);
	v.limit = 0;
	/* floor: the larger of minimum and reservation */
	assert_int_equal(market_vm_floor(&v), 512);
	v.reservation = 1536;
	assert_int_equal(market_vm_floor(&v), 1536);
	v.reservation = 256;
	assert_int_equal(market_vm_floor(&v), 512);
	/* ... but never above the ceiling */
	v.reservation = 3000;
	v.limit = 3000;
	v.maximum = 2048;
	assert_int_equal(market_vm_floor(&v), 2048);
	v = mkvm(1, 0, 1000, 1000);
	v.minimum = 512;
	v.maximum = 4096;
	/* want: exact integer ceil of demand * 1.2 */
	assert_int_equal(market_vm_want(&v), 1200);
	v.demand = 1001;
	assert_int_equal(market_vm_want(&v), 1202); /* 1201.2 -> 1202 */
	v.buffer_pct = 0;
	assert_int_equal(market_vm_want(&v), 1001);
	/* clamped to the floor ... */
	v.demand = 0;
	assert_int_equal(market_vm_want(&v), 512);
	v.demand = 100;
	v.reservation = 800;
	assert_int_equal(market_vm_want(&v), 800);
	/* ... and to the ceiling */
	v.demand = 4000;
	v.buffer_pct = 20;
	assert_int_equal(market_vm_want(&v), 4096);
	v.limit = 3000;
	assert_int_equal(market_vm_want(&v), 3000);
	/* no overflow on huge demand: as much as allowed */
	v.demand = INT64_MAX / 2;
	assert_int_equal(market_vm_want(&v), 3000);
}

static void test_pressure(void **state)
{
	(void)state;
	assert_true(market_vm_pressure(0, 1000) == 0);
	assert_true(market_vm_pressure(0, 0) == 0);
	assert_true(market_vm_pressure(1000, 0) == MARKET_PRESSURE_MAX);
	assert_true(market_vm_pressure(500, 1000) == 50);
	assert_true(market_vm_pressure(1500, 1000) == 150);
	assert_true(market_vm_pressure(1 << 30, 1) == MARKET_PRESSURE_MAX);
}

static void test_budget(void **state)
{
	market_params p;
	market_vm v = mkvm(1, 0, 1000, 1000);

	(void)state;
	market_params_default(&p);
	p.budget_pressure_gain = 1.0;
	p.budget_swap_gain = 1.0;
	/* weight 5000, shares 1000, pressure 100, no swap: budget 1 */
	assert_true(fabs(market_vm_budget(&p, &v) - 1.0) < 1e-12);
	double base = market_vm_budget(&p, &v);
	v.weight = 10000;
	assert_true(market_vm_budget(&p, &v) > base);
	v.weight = 0; /* still positive: weight counts as 1 */
	assert_true(market_vm_budget(&p, &v) > 0);
	assert_true(market_vm_budget(&p, &v) < base);
	v.weight = 5000;
	v.shares = 2000;
	assert_true(fabs(market_vm_budget(&p, &v) - 2.0) < 1e-12);
	v.shares = 0;
	assert_true(market_vm_budget(&p, &v) > 0);
	v.shares = 1000;
	/* pressure below 100 does not lower the budget ... */
	v.assigned = 4000;
	assert_true(market_vm_budget(&p, &v) == base);
	/* ... pressure above 100 raises it: 200 -> 1 + 1 * 1 = 2 */
	v.assigned = 500;
	assert_true(fabs(market_vm_budget(&p, &v) - 2.0) < 1e-12);
	v.assigned = 250;
	assert_true(market_vm_budget(&p, &v) > 2.0);
	/* guest swap raises it: 10 MiB/s = 1 unit -> 2 */
	v.assigned = 1000;
	v.guest_swap_mibps = 10;
	assert_true(fabs(market_vm_budget(&p, &v) - 2.0) < 1e-12);
	v.guest_swap_mibps = 20;
	assert_true(market_vm_budget(&p, &v) > 2.0);
	/* gains scale the effect */
	p.budget_swap_gain = 0;
	assert_true(market_vm_budget(&p, &v) == base);
}

/* ---------------------------------------------------------------- */
/* clearing                                                         */
/* ---------------------------------------------------------------- */

static void test_clear_plenty(void **state)
{
	market_params p;
	market_host h[1] = { mkhost(0, 16384) };
	market_vm v[3] = { mkvm(0, 0, 1000, 4000), mkvm(1, 0, 2000, 1000),
			   mkvm(2, 0, 500, 600) };
	market_result r;

	(void)state;
	market_params_default(&p);
	run(&p, h, 1, v, 3, 0, &r);
	assert_int_equal(r.hosts[0].supply, 16384);
	assert_int_equal(r.hosts[0].wanted, 1200 + 2400 + 600);
	assert_int_equal(r.hosts[0].shortage, 0);
	assert_int_equal(r.hosts[0].infeasible, 0);
	assert_true(r.hosts[0].clearing_price == 0);
	assert_int_equal(r.awards[0].target, 1200);
	assert_int_equal(r.awards[1].target, 2400);
	assert_int_equal(r.awards[2].target, 600); /* equal: no action */
	assert_int_equal(r.hosts[0].awarded, 4200);
	assert_true(fabs(r.awards[1].pressure - 2000.0 / 2400 * 100) < 1e-9);
	/* two resizes, none for VM 2 */
	assert_int_equal(r.n_recs, 2);
	const market_rec *rec = find_rec(&r, 0, MARKET_REC_RESIZE);
	assert_non_null(rec);
	assert_int_equal(rec->from_mib, 4000);
	assert_int_equal(rec->to_mib, 1200);
	assert_int_equal(rec->to_host, MARKET_NO_HOST);
	assert_null(find_rec(&r, 2, MARKET_REC_RESIZE));
	/* host state as priced: u = 4200/16384, bp = 1000/16384 (VM 1) */
	assert_true(fabs(r.hosts[0].utilization - 4200.0 / 16384) < 1e-12);
	assert_true(fabs(r.hosts[0].balloon_pressure - 1000.0 / 16384) < 1e-12);
	assert_true(r.hosts[0].price ==
		    market_price(&p, 4200.0 / 16384, 1000.0 / 16384, 0));
	market_result_release(&r);
}

/* Two VMs, same everything except `tweak`; returns targets of both. */
static void shortage_pair(market_vm *a, market_vm *b, int64_t out[2],
			  double *lambda)
{
	market_params p = raw_params();
	market_host h[1] = { mkhost(0, 6000) };
	market_vm v[2] = { *a, *b };
	market_result r;

	run(&p, h, 1, v, 2, 0, &r);
	assert_int_equal(r.hosts[0].shortage, 1);
	assert_int_equal(r.hosts[0].infeasible, 0);
	/* no memory lost: the host is handed out exactly */
	assert_int_equal(r.awards[0].target + r.awards[1].target, 6000);
	assert_int_equal(r.hosts[0].awarded, 6000);
	assert_true(r.hosts[0].clearing_price > 0);
	out[0] = r.awards[0].target;
	out[1] = r.awards[1].target;
	*lambda = r.hosts[0].clearing_price;
	market_result_release(&r);
}

static void test_clear_shortage_weight(void **state)
{
	market_vm a = mkvm(0, 0, 4000, 4000), b = mkvm(1, 0, 4000, 4000);
	int64_t t[2];
	double lambda;

	(void)state;
	a.weight = 8000;
	b.weight = 2000;
	shortage_pair(&a, &b, t, &lambda);
	assert_true(t[0] > t[1]);
	/* demands (8000) do not fit 6000: both are funded up to demand only,
	 * by budget (1.6 and 0.4): A reaches its demand, B gets the rest;
	 * no buffer is funded while a demand is not */
	assert_int_equal(t[0], 4000);
	assert_int_equal(t[1], 2000);
	/* equal weights: equal split, ties do not favour an index */
	b.weight = 8000;
	shortage_pair(&a, &b, t, &lambda);
	assert_int_equal(t[0], 3000);
	assert_int_equal(t[1], 3000);
}

static void test_clear_shortage_pressure(void **state)
{
	/* same settings; VM 1 is squeezed (pressure 200) */
	market_vm a = mkvm(0, 0, 4000, 4000), b = mkvm(1, 0, 4000, 2000);
	int64_t t[2];
	double lambda;

	(void)state;
	shortage_pair(&a, &b, t, &lambda);
	assert_true(t[1] > t[0]);
	/* and a swapping guest outbids a calm one */
	b.assigned = 4000;
	b.guest_swap_mibps = 20;
	shortage_pair(&a, &b, t, &lambda);
	assert_true(t[1] > t[0]);
}

/* Demand first (docs/market.md, "Clearing"). A: idle (demand 1000, want
 * 2000, budget 2); B: busy (demand 3000, want 3000, budget 1). With 3500
 * to sell the demands (4000) do not fit: A's buffer gives way to B's
 * demand whatever A's budget and the tax: A 1000, B 2500. With 4500 the
 * demands fit and the rest goes to buffers: A 1500, B 3000. */
static void test_clear_demand_first(void **state)
{
	market_params p = raw_params();
	market_host h[1] = { mkhost(0, 3500) };
	market_vm v[2] = { mkvm(0, 0, 1000, 1000), mkvm(1, 0, 3000, 3000) };
	market_result r;

	(void)state;
	v[0].buffer_pct = 100;
	v[0].shares = 2000;
	v[1].buffer_pct = 0;
	for (int tax = 0; tax < 2; tax++) {
		p.idle_tax = tax ? 0.75 : 0;
		run(&p, h, 1, v, 2, 0, &r);
		assert_int_equal(r.awards[0].target, 1000);
		assert_int_equal(r.awards[1].target, 2500);
		market_result_release(&r);
	}
	h[0] = mkhost(0, 4500);
	run(&p, h, 1, v, 2, 0, &r);
	assert_int_equal(r.awards[0].target, 1500);
	assert_int_equal(r.awards[1].target, 3000);
	market_result_release(&r);
}

/* The idle tax among buffers, once every demand is funded. A: demand
 * 1000, want 3000, budget 2; C: demand 3000, want 5000, budget 1; 5000 to
 * sell, so 1000 MiB of buffer for 4000 wanted. Without the tax shares per
 * MiB are equal: A = 2 t, C = t, with A + C = 5000 and C >= 3000: A 2000,
 * C 3000. With the tax (k = 4) a MiB above demand costs 4: A = 1000 +
 * (2 t - 1000) / 4 and C = 3000 + (t - 3000) / 4, so C's buffer is no
 * cheaper than A's and both get some: t = 3000 gives A 2250, C 3000 (5250),
 * so C stays at 3000 and A at 2000 too -- the tax changes who pays, the
 * demand-first rule already protects C. Checked: the split and that no
 * VM falls below its demand. */
static void test_clear_idle_tax(void **state)
{
	market_params p = raw_params();
	market_host h[1] = { mkhost(0, 5000) };
	market_vm v[2] = { mkvm(0, 0, 1000, 1000), mkvm(1, 0, 3000, 3000) };
	market_result r;

	(void)state;
	v[0].buffer_pct = 200;
	v[0].shares = 2000;
	v[1].buffer_pct = 67;
	for (int tax = 0; tax < 2; tax++) {
		p.idle_tax = tax ? 0.75 : 0;
		run(&p, h, 1, v, 2, 0, &r);
		assert_int_equal(r.awards[0].target + r.awards[1].target, 5000);
		assert_true(r.awards[0].target >= v[0].demand);
		assert_true(r.awards[1].target >= v[1].demand);
		assert_true(llabs(r.awards[0].target - 2000) <= 1);
		market_result_release(&r);
	}
}

/* Floors never violated in a shortage; leftover MiB go by value. */
static void test_clear_shortage_floors(void **state)
{
	market_params p = raw_params();
	market_host h[1] = { mkhost(0, 5001) };
	market_vm v[3] = { mkvm(0, 0, 4000, 4000), mkvm(1, 0, 4000, 4000),
			   mkvm(2, 0, 4000, 4000) };
	market_result r;

	(void)state;
	v[0].reservation = 3000; /* floor */
	v[2].weight = 0;	 /* nearly no budget */
	run(&p, h, 1, v, 3, 0, &r);
	assert_true(r.awards[0].target >= 3000);
	assert_int_equal(r.awards[0].target + r.awards[1].target +
				 r.awards[2].target,
			 5001);
	assert_true(r.awards[1].target > r.awards[2].target);
	market_result_release(&r);
	/* three equal VMs, 5001 MiB: 1667 each, deterministic */
	v[0].reservation = 0;
	v[2].weight = 5000;
	run(&p, h, 1, v, 3, 0, &r);
	assert_int_equal(r.awards[0].target, 1667);
	assert_int_equal(r.awards[1].target, 1667);
	assert_int_equal(r.awards[2].target, 1667);
	market_result_release(&r);
	/* 5002 MiB: the odd MiB goes to the lower id */
	h[0] = mkhost(0, 5002);
	run(&p, h, 1, v, 3, 0, &r);
	assert_int_equal(r.awards[0].target, 1668);
	assert_int_equal(r.awards[1].target, 1667);
	assert_int_equal(r.awards[2].target, 1667);
	market_result_release(&r);
}

static void test_clear_infeasible(void **state)
{
	market_params p;
	market_host h[1] = { mkhost(0, 4000) };
	market_vm v[2] = { mkvm(0, 0, 4000, 4000), mkvm(1, 0, 4000, 4000) };
	market_result r;

	(void)state;
	market_params_default(&p);
	v[0].minimum = 3000;
	v[1].reservation = 2000;
	run(&p, h, 1, v, 2, 0, &r);
	assert_int_equal(r.hosts[0].infeasible, 1);
	assert_int_equal(r.hosts[0].shortage, 1);
	assert_int_equal(r.hosts[0].floor, 5000);
	assert_int_equal(r.awards[0].target, 3000);
	assert_int_equal(r.awards[1].target, 2000);
	/* reported, not hidden: awarded is above supply */
	assert_int_equal(r.hosts[0].awarded, 5000);
	market_result_release(&r);
}

/* ---------------------------------------------------------------- */
/* hysteresis                                                       */
/* ---------------------------------------------------------------- */

static void test_hysteresis_small(void **state)
{
	market_params p;
	market_host h[1] = { mkhost(0, 65536) };
	/* wants 1200 each; assigned 1250 (-50), 1150 (+50), 2000 (-800),
	 * 12000 vs want 12000+... see below */
	market_vm v[4] = { mkvm(0, 0, 1000, 1250), mkvm(1, 0, 1000, 1150),
			   mkvm(2, 0, 1000, 2000), mkvm(3, 0, 10000, 11000) };
	market_result r;

	(void)state;
	market_params_default(&p);
	p.resize_min_mib = 256; /* the thresholds the figures below use */
	p.resize_min_frac = 0.20;
	run(&p, h, 1, v, 4, 0, &r);
	assert_int_equal(r.awards[0].target, 1250); /* kept */
	assert_int_equal(r.awards[1].target, 1150); /* kept */
	assert_int_equal(r.awards[2].target, 1200); /* acted */
	/* want 12000, assigned 11000: 1000 < 20 % of 11000 = 2200: kept */
	assert_int_equal(r.awards[3].target, 11000);
	assert_int_equal(r.n_recs, 1);
	assert_non_null(find_rec(&r, 2, MARKET_REC_RESIZE));
	assert_int_equal(r.hosts[0].awarded, 1250 + 1150 + 1200 + 11000);
	market_result_release(&r);

	/* a small grow of a VM short of its demand is not held back:
	 * demand 1060 on 1050 wants 1272 (+222 < 256 MiB), grows anyway */
	market_vm w[2] = { mkvm(0, 0, 1060, 1050), mkvm(1, 0, 1000, 1050) };
	run(&p, h, 1, w, 2, 0, &r);
	assert_int_equal(r.awards[0].target, 1272);
	assert_non_null(find_rec(&r, 0, MARKET_REC_RESIZE));
	/* ... while the same grow of a VM that is not short waits */
	assert_int_equal(r.awards[1].target, 1050);
	market_result_release(&r);

	/* assigned outside [floor, ceiling] is always corrected */
	v[0].maximum = 1220;
	v[1].minimum = 1190;
	run(&p, h, 1, v, 4, 0, &r);
	assert_int_equal(r.awards[0].target, 1200);
	assert_int_equal(r.awards[1].target, 1200);
	market_result_release(&r);
}

/* Ten VMs want 1000 each, hold 1100: every shrink is small. Keeping them
 * all would overflow the host, so only as many as fit are kept. */
static void test_hysteresis_supply(void **state)
{
	market_params p;
	market_host h[1];
	market_vm v[10];
	market_result r;

	(void)state;
	market_params_default(&p);
	p.resize_min_mib = 256; /* every 100 MiB shrink is small */
	for (uint32_t i = 0; i < 10; i++) {
		v[i] = mkvm(i, 0, 1000, 1100);
		v[i].buffer_pct = 0;
	}
	h[0] = mkhost(0, 10000);
	run(&p, h, 1, v, 10, 0, &r);
	for (int i = 0; i < 10; i++)
		assert_int_equal(r.awards[i].target, 1000);
	assert_int_equal(r.hosts[0].awarded, 10000);
	market_result_release(&r);

	h[0] = mkhost(0, 10250); /* room for two kept shrinks: lowest ids */
	run(&p, h, 1, v, 10, 0, &r);
	assert_int_equal(r.awards[0].target, 1100);
	assert_int_equal(r.awards[1].target, 1100);
	for (int i = 2; i < 10; i++)
		assert_int_equal(r.awards[i].target, 1000);
	assert_int_equal(r.hosts[0].awarded, 10200);
	assert_int_equal(r.n_recs, 8);
	market_result_release(&r);
}

/* ---------------------------------------------------------------- */
/* migration                                                        */
/* ---------------------------------------------------------------- */

/* Host 0 is crowded (8 VMs of want 2400 on 16384 MiB), host 1 is empty. */
static void crowded(market_host h[2], market_vm v[8])
{
	h[0] = mkhost(0, 16384);
	h[1] = mkhost(1, 16384);
	for (uint32_t i = 0; i < 8; i++)
		v[i] = mkvm(i, 0, 2000, 2000);
}

static void test_migrate_recommended(void **state)
{
	market_params p;
	market_host h[2];
	market_vm v[8];
	market_result r;

	(void)state;
	market_params_default(&p);
	crowded(h, v);
	run(&p, h, 2, v, 8, 100, &r);
	assert_int_equal(r.hosts[0].shortage, 1);
	size_t nm = count_recs(&r, MARKET_REC_MIGRATE);
	assert_true(nm >= 1);
	assert_true(nm <= p.migrate_max_per_round);
	/* migrations come first */
	const market_rec *m = &r.recs[0];
	assert_int_equal(m->kind, MARKET_REC_MIGRATE);
	assert_int_equal(m->from_host, 0);
	assert_int_equal(m->to_host, 1);
	assert_int_equal(m->from_mib, 2000);
	assert_int_equal(m->to_mib, r.awards[m->vm].want);
	assert_true(m->price_there < m->price_here);
	assert_true(m->cost_there <= (1 - p.migrate_gain) * m->cost_here);
	/* the cost includes moving the assigned memory */
	assert_true(m->cost_there >=
		    m->to_mib * m->price_there + 0.5 * 2000 - 1e-9);
	/* a migrating VM has no resize rec as well */
	for (size_t i = 0; i < r.n_recs; i++)
		if (r.recs[i].kind == MARKET_REC_MIGRATE)
			assert_null(find_rec(&r, r.recs[i].vm,
					     MARKET_REC_RESIZE));
	/* awarded follows the moves and stays within supply */
	int64_t on[2] = { 0, 0 };
	for (uint32_t i = 0; i < 8; i++) {
		const market_rec *mr = find_rec(&r, i, MARKET_REC_MIGRATE);
		if (mr != NULL)
			on[mr->to_host] += mr->to_mib;
		else
			on[0] += r.awards[i].target;
	}
	assert_int_equal(on[0], r.hosts[0].awarded);
	assert_int_equal(on[1], r.hosts[1].awarded);
	assert_true(r.hosts[1].awarded <= r.hosts[1].supply);
	market_result_release(&r);

	/* the cap per round holds */
	p.migrate_max_per_round = 1;
	run(&p, h, 2, v, 8, 100, &r);
	assert_int_equal(count_recs(&r, MARKET_REC_MIGRATE), 1);
	market_result_release(&r);
	p.migrate_max_per_round = 8;
	p.migrate_targets = 0;
	run(&p, h, 2, v, 8, 100, &r);
	assert_int_equal(count_recs(&r, MARKET_REC_MIGRATE), 0);
	market_result_release(&r);
}

static void test_migrate_small_gain(void **state)
{
	market_params p;
	market_host h[2] = { mkhost(0, 16384), mkhost(1, 16384) };
	market_vm v[6];
	market_result r;

	(void)state;
	market_params_default(&p);
	/* host 0 holds 7200 (u 0.44, price 3.18), host 1 4800 (u 0.29,
	 * price 2.0). Moving a VM of want 1200 makes host 1 u = 0.37, price
	 * 2.49: a saving of 22 %, below migrate_gain (30 %). A VM of want
	 * 2400 would gain nothing. */
	v[0] = mkvm(0, 0, 2000, 2400);
	v[1] = mkvm(1, 0, 2000, 2400);
	v[2] = mkvm(2, 0, 1000, 1200);
	v[3] = mkvm(3, 1, 2000, 2400);
	v[4] = mkvm(4, 1, 2000, 2400);
	v[5] = mkvm(5, 0, 1000, 1200);
	run(&p, h, 2, v, 6, 100, &r);
	assert_int_equal(count_recs(&r, MARKET_REC_MIGRATE), 0);
	market_result_release(&r);
	/* any saving will do, but host 0 (u 0.44) is not congested: no
	 * host below migrate_util sells its VMs away */
	p.migrate_gain = 0.0;
	p.migrate_cost_mib = 0.0;
	run(&p, h, 2, v, 6, 100, &r);
	assert_int_equal(count_recs(&r, MARKET_REC_MIGRATE), 0);
	market_result_release(&r);
	/* with the gate open the same cluster migrates one small VM */
	p.migrate_util = 0.4;
	run(&p, h, 2, v, 6, 100, &r);
	assert_int_equal(count_recs(&r, MARKET_REC_MIGRATE), 1);
	assert_int_equal(r.recs[0].vm, 2);
	assert_int_equal(r.recs[0].to_mib, 1200);
	market_result_release(&r);
}

static void test_migrate_cooldown(void **state)
{
	market_params p;
	market_host h[2];
	market_vm v[8];
	market_result r;

	(void)state;
	market_params_default(&p);
	crowded(h, v);
	for (int i = 0; i < 8; i++)
		v[i].last_migrated = 100 - 11; /* 11 rounds ago: cooling */
	run(&p, h, 2, v, 8, 100, &r);
	assert_int_equal(count_recs(&r, MARKET_REC_MIGRATE), 0);
	market_result_release(&r);
	for (int i = 0; i < 8; i++)
		v[i].last_migrated = 100 - 12; /* exactly the cooldown: ok */
	run(&p, h, 2, v, 8, 100, &r);
	assert_true(count_recs(&r, MARKET_REC_MIGRATE) >= 1);
	market_result_release(&r);
	for (int i = 0; i < 8; i++)
		v[i].last_migrated = 200; /* in the future: treated as recent */
	run(&p, h, 2, v, 8, 100, &r);
	assert_int_equal(count_recs(&r, MARKET_REC_MIGRATE), 0);
	market_result_release(&r);
	/* extremes do not overflow (UBSan would abort) */
	for (int i = 0; i < 8; i++)
		v[i].last_migrated = INT64_MIN + 1;
	run(&p, h, 2, v, 8, INT64_MAX, &r);
	assert_true(count_recs(&r, MARKET_REC_MIGRATE) >= 1);
	market_result_release(&r);
	for (int i = 0; i < 8; i++)
		v[i].last_migrated = MARKET_NEVER;
	run(&p, h, 2, v, 8, INT64_MIN + 5, &r);
	assert_true(count_recs(&r, MARKET_REC_MIGRATE) >= 1);
	market_result_release(&r);
}

/* Persistence: a congested host sells only once it has been congested
 * migrate_persist rounds in a row (this one included). */
static void test_migrate_persist(void **state)
{
	market_params p;
	market_host h[2];
	market_vm v[8];
	market_result r;

	(void)state;
	market_params_default(&p);
	crowded(h, v);
	h[0].congested_rounds = p.migrate_persist - 2; /* one round short */
	run(&p, h, 2, v, 8, 100, &r);
	assert_int_equal(r.hosts[0].shortage, 1);
	assert_int_equal(count_recs(&r, MARKET_REC_MIGRATE), 0);
	market_result_release(&r);
	h[0].congested_rounds = p.migrate_persist - 1; /* long enough */
	run(&p, h, 2, v, 8, 100, &r);
	assert_true(count_recs(&r, MARKET_REC_MIGRATE) >= 1);
	/* how the callers count: one more while congested, else 0 */
	assert_int_equal(market_congested_next(&p, &r.hosts[0], 2), 3);
	assert_int_equal(market_congested_next(&p, &r.hosts[1], 7), 0);
	assert_int_equal(market_congested_next(&p, &r.hosts[0], UINT32_MAX),
			 UINT32_MAX);
	market_result_release(&r);
}

/* Returns: no VM goes back to a host it left less than
 * migrate_return_rounds ago, whichever of the last MARKET_LEFT_HOSTS it
 * was; market_vm_note_move() keeps the newest first. */
static void test_migrate_no_return(void **state)
{
	market_params p;
	market_host h[2];
	market_vm v[8];
	market_result r;

	(void)state;
	market_params_default(&p);
	crowded(h, v);
	for (int i = 0; i < 8; i++) {
		market_vm_note_move(&v[i], 1, 100 - 10);
		market_vm_note_move(&v[i], 7, 100 - 5); /* host 1 second */
	}
	assert_int_equal(v[0].left_host_plus1[0], 8);
	assert_int_equal(v[0].left_host_plus1[1], 2);
	run(&p, h, 2, v, 8, 100, &r);
	assert_int_equal(count_recs(&r, MARKET_REC_MIGRATE), 0);
	market_result_release(&r);
	/* once the window is over, host 1 is a destination again */
	run(&p, h, 2, v, 8, 100 - 10 + p.migrate_return_rounds, &r);
	assert_true(count_recs(&r, MARKET_REC_MIGRATE) >= 1);
	market_result_release(&r);
	/* the oldest of MARKET_LEFT_HOSTS + 1 moves is forgotten */
	for (int k = 0; k < MARKET_LEFT_HOSTS; k++)
		market_vm_note_move(&v[0], 9, 100);
	for (int k = 0; k < MARKET_LEFT_HOSTS; k++)
		assert_int_equal(v[0].left_host_plus1[k], 10);
}

/* Who moves: the VM that removes the host's excess per MiB copied. Host 0
 * (supply 10000) holds wants 6000 + 3600 + 1200 = 10800: 800 over. The
 * 1200-want VM (1000 held) removes all 800 at 1000 MiB copied; the big
 * one removes 800 too but copies 5000. Before, VMs went by want - target,
 * and the biggest (the most cut) moved. */
static void test_migrate_sell_order(void **state)
{
	market_params p;
	market_host h[2] = { mkhost(0, 10000), mkhost(1, 16384) };
	market_vm v[3] = { mkvm(0, 0, 5000, 5000), mkvm(1, 0, 3000, 3000),
			   mkvm(2, 0, 1000, 1000) };
	market_result r;

	(void)state;
	market_params_default(&p);
	p.migrate_max_per_round = 1;
	run(&p, h, 2, v, 3, 100, &r);
	assert_int_equal(count_recs(&r, MARKET_REC_MIGRATE), 1);
	assert_int_equal(r.recs[0].vm, 2);
	assert_int_equal(r.recs[0].to_host, 1);
	market_result_release(&r);
}

/* A tight move (docs/market.md, "Tight moves"): host 0's demand does not
 * fit (4 x 3000 on 10000) and host 1 has no room for a VM's demand (2800
 * free of 10000), but its demand fits once its buffers give way: one VM
 * moves there with its want, host 1's VMs are cleared again within what
 * is left, each keeping its demand. Without migrate_squeeze nothing
 * moves; nor when host 1's demand leaves no room for the VM's. */
static void tight_pair(market_host h[2], market_vm v[7], int64_t demand1)
{
	h[0] = mkhost(0, 10000);
	h[1] = mkhost(1, 10000);
	for (uint32_t i = 0; i < 4; i++)
		v[i] = mkvm(i, 0, 3000, 2500);
	for (uint32_t i = 4; i < 7; i++)
		v[i] = mkvm(i, 1, demand1, demand1 * 6 / 5);
}

static void test_migrate_tight(void **state)
{
	market_params p = raw_params();
	market_host h[2];
	market_vm v[7];
	market_result r;

	(void)state;
	tight_pair(h, v, 2000);
	run(&p, h, 2, v, 7, 100, &r);
	assert_int_equal(count_recs(&r, MARKET_REC_MIGRATE), 1);
	const market_rec *m = &r.recs[0];
	assert_int_equal(m->kind, MARKET_REC_MIGRATE);
	assert_int_equal(m->from_host, 0);
	assert_int_equal(m->to_host, 1);
	assert_int_equal(m->to_mib, 3600);
	assert_true(m->cost_there <= (1 - p.migrate_gain) * m->cost_here);
	int64_t stay = 0;
	for (uint32_t i = 4; i < 7; i++) {
		assert_true(r.awards[i].target >= 2000);
		assert_true(r.awards[i].target < r.awards[i].want);
		assert_non_null(find_rec(&r, i, MARKET_REC_RESIZE));
		stay += r.awards[i].target;
	}
	assert_int_equal(stay, 10000 - 3600);
	assert_int_equal(r.hosts[1].awarded, 10000);
	market_result_release(&r);

	p.migrate_squeeze = 0;
	run(&p, h, 2, v, 7, 100, &r);
	assert_int_equal(count_recs(&r, MARKET_REC_MIGRATE), 0);
	market_result_release(&r);

	/* half the buffers: 2800 free + 0.5 x 1200 = 3400 >= 3000, so the
	 * VM gets 3400 */
	p.migrate_squeeze = 0.5;
	run(&p, h, 2, v, 7, 100, &r);
	assert_int_equal(count_recs(&r, MARKET_REC_MIGRATE), 1);
	assert_int_equal(r.recs[0].to_mib, 3400);
	assert_int_equal(r.hosts[1].awarded, 10000);
	market_result_release(&r);

	/* host 1's demand (3 x 2500) leaves 2500 < 3000: nothing moves */
	p.migrate_squeeze = 1;
	tight_pair(h, v, 2500);
	run(&p, h, 2, v, 7, 100, &r);
	assert_int_equal(count_recs(&r, MARKET_REC_MIGRATE), 0);
	market_result_release(&r);
}

/* The price of risk: want' = max(want, demand + risk_headroom * rms),
 * within the ceiling; the rms follows market_vm_rise_update(). */
static void test_risk_headroom(void **state)
{
	market_params p;
	market_host h[1] = { mkhost(0, 65536) };
	market_vm v[2] = { mkvm(0, 0, 1000, 1000), mkvm(1, 0, 1000, 1000) };
	market_result r;

	(void)state;
	market_params_default(&p);
	v[0].demand_rise_rms = 500; /* 1000 + 0.8 * 500 > 1200 */
	v[1].demand_rise_rms = 100; /* 1000 + 80 < 1200: the Buffer wins */
	run(&p, h, 1, v, 2, 0, &r);
	assert_int_equal(r.awards[0].want, 1400);
	assert_int_equal(r.awards[1].want, 1200);
	market_result_release(&r);
	v[0].maximum = 1300; /* never above the ceiling */
	p.risk_headroom = 2.0;
	run(&p, h, 1, v, 2, 0, &r);
	assert_int_equal(r.awards[0].want, 1300);
	market_result_release(&r);

	/* rises enter a mean of squares with weight 1/risk_rounds; falls
	 * count as 0 */
	market_vm w = mkvm(0, 0, 0, 0);
	p.risk_rounds = 4;
	market_vm_rise_update(&p, &w, 1000, 1400); /* 0.25 * 400^2 */
	assert_true(fabs(w.demand_rise_rms - 200.0) < 1e-9);
	market_vm_rise_update(&p, &w, 1400, 1000); /* 0.75 * 40000 */
	assert_true(fabs(w.demand_rise_rms - sqrt(30000.0)) < 1e-9);
	/* a bad figure is refused by the cluster check */
	v[0].demand_rise_rms = -1;
	char err[128];
	market_cluster c = { h, 1, v, 2 };
	assert_int_equal(market_cluster_validate(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "demand_rise_rms"));
}

static void test_migrate_offline_or_full(void **state)
{
	market_params p;
	market_host h[2];
	market_vm v[8];
	market_result r;

	(void)state;
	market_params_default(&p);
	crowded(h, v);
	h[1].online = 0;
	run(&p, h, 2, v, 8, 100, &r);
	assert_int_equal(count_recs(&r, MARKET_REC_MIGRATE), 0);
	market_result_release(&r);
	/* host 1 is cheap but too small for a want of 2400 */
	crowded(h, v);
	h[1] = mkhost(1, 2000);
	run(&p, h, 2, v, 8, 100, &r);
	assert_int_equal(count_recs(&r, MARKET_REC_MIGRATE), 0);
	market_result_release(&r);
	/* room for exactly two wants: exactly two migrate */
	h[1] = mkhost(1, 4900);
	run(&p, h, 2, v, 8, 100, &r);
	assert_true(count_recs(&r, MARKET_REC_MIGRATE) <= 2);
	assert_true(r.hosts[1].awarded <= r.hosts[1].supply);
	market_result_release(&r);
}

/* bourse host drain: a calm host's VMs all leave, each to the cheapest
 * host with room, with no saving asked; no VM moves onto a draining
 * host, however crowded the others are; undrained, nothing moves. */
static void test_drain(void **state)
{
	market_params p;
	market_host h[3];
	market_vm v[4];
	market_result r;

	(void)state;
	market_params_default(&p);
	h[0] = mkhost(10, 16384);
	h[1] = mkhost(11, 16384);
	h[2] = mkhost(12, 4096);
	for (uint32_t i = 0; i < 4; i++)
		v[i] = mkvm(i, 0, 1000, 1200); /* 30 % utilization: calm */
	h[0].draining = 1;
	run(&p, h, 3, v, 4, 100, &r);
	assert_int_equal(count_recs(&r, MARKET_REC_MIGRATE), 1);
	market_result_release(&r);
	p.migrate_host_share = 0; /* the per-host cap out of the way */
	run(&p, h, 3, v, 4, 100, &r);
	assert_int_equal(count_recs(&r, MARKET_REC_MIGRATE), 4);
	for (uint32_t i = 0; i < 4; i++) {
		const market_rec *m = find_rec(&r, i, MARKET_REC_MIGRATE);
		assert_non_null(m);
		assert_int_not_equal(m->to_host, 0);
	}
	assert_true(r.hosts[2].awarded <= r.hosts[2].supply);
	market_result_release(&r);
	/* a VM in its cooldown stays */
	v[1].last_migrated = 99;
	run(&p, h, 3, v, 4, 100, &r);
	assert_null(find_rec(&r, 1, MARKET_REC_MIGRATE));
	market_result_release(&r);
	v[1].last_migrated = MARKET_NEVER;
	/* a VM that left host 1 lately (no return migration for the market)
	 * still goes back there when its host drains and host 1 is the only
	 * one with room (issue 17: a drain back after a drain stayed put) */
	h[2] = mkhost(12, 1000);
	market_vm_note_move(&v[1], 1, 90);
	run(&p, h, 3, v, 4, 100, &r);
	{
		const market_rec *m = find_rec(&r, 1, MARKET_REC_MIGRATE);
		assert_non_null(m);
		assert_int_equal(m->to_host, 1);
	}
	market_result_release(&r);
	for (uint32_t i = 0; i < 4; i++)
		v[i] = mkvm(i, 0, 1000, 1200);
	h[2] = mkhost(12, 4096);
	/* not draining: a calm host keeps its VMs */
	h[0].draining = 0;
	run(&p, h, 3, v, 4, 100, &r);
	assert_int_equal(count_recs(&r, MARKET_REC_MIGRATE), 0);
	market_result_release(&r);
	/* a crowded host does not sell to the draining empty one */
	for (uint32_t i = 0; i < 4; i++)
		v[i] = mkvm(i, 2, 1500, 1000); /* host 2 short of memory */
	h[0].draining = 1;
	h[1] = mkhost(11, 1000); /* no room there */
	run(&p, h, 3, v, 4, 100, &r);
	for (size_t i = 0; i < r.n_recs; i++)
		assert_int_not_equal(r.recs[i].to_host, 0);
	market_result_release(&r);
	h[0].draining = 0;
	run(&p, h, 3, v, 4, 100, &r);
	assert_true(count_recs(&r, MARKET_REC_MIGRATE) > 0);
	market_result_release(&r);
}

/* A host on probation (the broker's --probation-rounds) is no migration
 * target, for a crowded host nor for a draining one; its own VMs are
 * cleared as usual. */
static void test_probation(void **state)
{
	market_params p;
	market_host h[2];
	market_vm v[4];
	market_result r;

	(void)state;
	market_params_default(&p);
	p.migrate_host_share = 0;
	h[0] = mkhost(10, 16384); /* empty, large */
	h[1] = mkhost(11, 4096);
	for (uint32_t i = 0; i < 4; i++)
		v[i] = mkvm(i, 1, 1500, 1000); /* host 1 short of memory */
	run(&p, h, 2, v, 4, 100, &r);
	assert_true(count_recs(&r, MARKET_REC_MIGRATE) > 0);
	market_result_release(&r);
	h[0].probation = 1;
	run(&p, h, 2, v, 4, 100, &r);
	assert_int_equal(count_recs(&r, MARKET_REC_MIGRATE), 0);
	assert_true(count_recs(&r, MARKET_REC_RESIZE) > 0);
	for (size_t i = 0; i < r.n_signals; i++) /* its memory counts */
		assert_int_not_equal(r.signals[i].kind, MARKET_SIG_PROVISION);
	market_result_release(&r);
	h[1].probation = 1; /* both (a broker restart): no provision either */
	run(&p, h, 2, v, 4, 100, &r);
	for (size_t i = 0; i < r.n_signals; i++)
		assert_int_not_equal(r.signals[i].kind, MARKET_SIG_PROVISION);
	market_result_release(&r);
	h[1].probation = 0;
	h[1].draining = 1; /* nowhere to go but the host on probation */
	run(&p, h, 2, v, 4, 100, &r);
	assert_int_equal(count_recs(&r, MARKET_REC_MIGRATE), 0);
	market_result_release(&r);
	h[0].probation = 0;
	run(&p, h, 2, v, 4, 100, &r);
	assert_int_equal(count_recs(&r, MARKET_REC_MIGRATE), 4);
	market_result_release(&r);
}

/* Only the migrate_targets cheapest hosts are priced. */
static void test_migrate_targets_pruning(void **state)
{
	market_params p;
	market_host h[3];
	market_vm v[9];
	market_result r;

	(void)state;
	market_params_default(&p);
	crowded(h, v);
	h[1] = mkhost(1, 1000); /* cheapest (empty) but too small */
	h[2] = mkhost(2, 16384);
	v[8] = mkvm(8, 2, 100, 120); /* host 2 slightly dearer than host 1 */
	p.migrate_targets = 1;
	run(&p, h, 3, v, 9, 100, &r);
	assert_int_equal(count_recs(&r, MARKET_REC_MIGRATE), 0);
	market_result_release(&r);
	p.migrate_targets = 2;
	run(&p, h, 3, v, 9, 100, &r);
	assert_true(count_recs(&r, MARKET_REC_MIGRATE) >= 1);
	assert_int_equal(r.recs[0].to_host, 2);
	market_result_release(&r);
}

/* ---------------------------------------------------------------- */
/* signals                                                          */
/* ---------------------------------------------------------------- */

static void test_signal_provision(void **state)
{
	market_params p;
	market_host h[2] = { mkhost(0, 10000), mkhost(1, 10000) };
	market_vm v[2] = { mkvm(0, 0, 10000, 10000), mkvm(1, 1, 10000, 10000) };
	market_result r;

	(void)state;
	market_params_default(&p);
	/* wants 24000 on 20000: need ceil(24000 / 0.95) = 25264 */
	run(&p, h, 2, v, 2, 0, &r);
	assert_true(r.n_signals >= 1);
	assert_int_equal(r.signals[0].kind, MARKET_SIG_PROVISION);
	assert_int_equal(r.signals[0].host, MARKET_NO_HOST);
	assert_int_equal(r.signals[0].mib, 25264 - 20000);
	for (size_t i = 1; i < r.n_signals; i++)
		assert_int_not_equal(r.signals[i].kind, MARKET_SIG_SUSPEND);
	market_result_release(&r);
	/* an offline host's supply does not count */
	v[0].demand = v[1].demand = 4000; /* wants 9600 of 20000 */
	run(&p, h, 2, v, 2, 0, &r);
	for (size_t i = 0; i < r.n_signals; i++)
		assert_int_not_equal(r.signals[i].kind, MARKET_SIG_PROVISION);
	market_result_release(&r);
	h[1].online = 0;
	run(&p, h, 2, v, 2, 0, &r);
	assert_true(r.n_signals >= 1);
	assert_int_equal(r.signals[0].kind, MARKET_SIG_PROVISION);
	market_result_release(&r);
}

static void test_signal_suspend(void **state)
{
	market_params p;
	market_host h[3] = { mkhost(0, 16384), mkhost(1, 16384),
			     mkhost(2, 16384) };
	market_vm v[3] = { mkvm(0, 0, 500, 600), mkvm(1, 1, 4000, 4800),
			   mkvm(2, 2, 4000, 4800) };
	market_result r;

	(void)state;
	market_params_default(&p);
	p.migrate_max_per_round = 0; /* isolate the signal */
	run(&p, h, 3, v, 3, 0, &r);
	assert_int_equal(r.n_signals, 1);
	assert_int_equal(r.signals[0].kind, MARKET_SIG_SUSPEND);
	assert_int_equal(r.signals[0].host, 0);
	assert_int_equal(r.signals[0].mib, 600);
	market_result_release(&r);
	/* a busier cluster: moving host 0 would push a host past 60 % */
	v[1].demand = v[2].demand = 8000; /* 9600 of 16384 = 59 % */
	v[1].assigned = v[2].assigned = 9600;
	run(&p, h, 3, v, 3, 0, &r);
	assert_int_equal(r.n_signals, 0);
	market_result_release(&r);
	/* an empty online host is a candidate; an offline one is not */
	v[1].demand = v[2].demand = 4000;
	v[1].assigned = v[2].assigned = 4800;
	v[0].host = 1;
	h[2].online = 0;
	v[2].host = 1;
	run(&p, h, 3, v, 3, 0, &r);
	assert_int_equal(r.n_signals, 1);
	assert_int_equal(r.signals[0].host, 0);
	assert_int_equal(r.signals[0].mib, 0);
	market_result_release(&r);
}

/* Signal hysteresis (docs/market.md, "Signals"): a host is signalled for
 * suspend only once its VMs would fit elsewhere at their recent peaks,
 * and provision stays on through a dip while the peaks would not clear. */
static void test_signal_hysteresis_suspend(void **state)
{
	market_params p;
	market_host h[3] = { mkhost(0, 16384), mkhost(1, 16384),
			     mkhost(2, 16384) };
	market_vm v[3] = { mkvm(0, 0, 500, 600), mkvm(1, 1, 4000, 4800),
			   mkvm(2, 2, 4000, 4800) };
	market_result r;
	int k;

	(void)state;
	market_params_default(&p);
	p.migrate_max_per_round = 0; /* isolate the signal */
	/* the peak follows a rise at once and decays by 1/peak_rounds */
	for (int i = 1; i < 3; i++) {
		market_vm_rise_update(&p, &v[i], 4000, 8000);
		assert_true(v[i].demand_peak == 8000.0);
		market_vm_rise_update(&p, &v[i], 8000, 4000);
		assert_true(v[i].demand_peak > 7900.0 &&
			    v[i].demand_peak < 8000.0);
	}
	/* at 8000 the receivers want 9600 each: 600 more passes 60 % */
	run(&p, h, 3, v, 3, 0, &r);
	assert_int_equal(r.n_signals, 0);
	market_result_release(&r);
	/* demand stays at 4000: the peaks decay and the suspend comes back */
	for (k = 0; k < 1000; k++) {
		market_vm_rise_update(&p, &v[1], 4000, 4000);
		market_vm_rise_update(&p, &v[2], 4000, 4000);
		run(&p, h, 3, v, 3, k + 1, &r);
		size_t n = r.n_signals;
		market_result_release(&r);
		if (n > 0)
			break;
	}
	/* the peak want 1.2 * peak must fall to 9830 - 600 = 9230: a gap
	 * (71/72)^n * 4000 <= 3691, n = 6 decays, the first one above */
	assert_int_equal(k + 2, 6);
	assert_true(v[1].demand_peak <= 7691.0);
	run(&p, h, 3, v, 3, 10, &r);
	assert_int_equal(r.n_signals, 1);
	assert_int_equal(r.signals[0].kind, MARKET_SIG_SUSPEND);
	assert_int_equal(r.signals[0].host, 0);
	market_result_release(&r);
	/* peak_rounds 1: the peak is the last demand (no hysteresis) */
	p.peak_rounds = 1;
	market_vm_rise_update(&p, &v[1], 4000, 8000);
	market_vm_rise_update(&p, &v[1], 8000, 4000);
	assert_true(v[1].demand_peak == 4000.0);
}

/* A host is not signalled for suspend while, without it, the VMs at
 * their peaks would ask for a provision, even if one receiver has room
 * for its VMs (issue 13: on July at 8 x 32 GiB a burst's provision was
 * followed by suspends of the emptiest host in the next round). */
static void test_signal_suspend_cluster_peaks(void **state)
{
	market_params p;
	market_host h[4] = { mkhost(0, 16384), mkhost(1, 16384),
			     mkhost(2, 16384), mkhost(3, 16384) };
	market_vm v[4] = { mkvm(0, 0, 500, 600), mkvm(1, 1, 4000, 4800),
			   mkvm(2, 2, 4000, 4800), mkvm(3, 3, 4000, 4800) };
	market_result r;

	(void)state;
	market_params_default(&p);
	p.migrate_max_per_round = 0; /* isolate the signal */
	run(&p, h, 4, v, 4, 0, &r); /* calm: host 0 goes first */
	assert_true(r.n_signals >= 1);
	assert_int_equal(r.signals[0].kind, MARKET_SIG_SUSPEND);
	assert_int_equal(r.signals[0].host, 0);
	market_result_release(&r);
	/* hosts 2 and 3 burst to 18000 and fall back: at their peaks they
	 * want 21600 each. Host 1 (4800 of 9830, 60 %) has room for host
	 * 0's 600, but without host 0 the peaks (48600) would ask for more
	 * than 95 % of 3 x 16384 (46694): no suspend, and no provision
	 * either (95 % of 4 hosts is 62259) */
	for (int i = 2; i < 4; i++) {
		market_vm_rise_update(&p, &v[i], 4000, 18000);
		market_vm_rise_update(&p, &v[i], 18000, 4000);
	}
	run(&p, h, 4, v, 4, 1, &r);
	assert_int_equal(r.n_signals, 0);
	market_result_release(&r);
	/* eight hosts with the same two bursts: the cluster holds them */
	market_host h8[8];
	market_vm v8[8];
	for (uint32_t i = 0; i < 8; i++) {
		h8[i] = mkhost(i, 16384);
		v8[i] = i < 4 ? v[i] : mkvm(i, i, 4000, 4800);
	}
	run(&p, h8, 8, v8, 8, 2, &r);
	assert_true(r.n_signals >= 1);
	assert_int_equal(r.signals[0].kind, MARKET_SIG_SUSPEND);
	assert_int_equal(r.signals[0].host, 0);
	market_result_release(&r);
}

static void test_signal_hysteresis_provision(void **state)
{
	market_params p;
	market_host h[2] = { mkhost(0, 10000), mkhost(1, 10000) };
	market_vm v[2] = { mkvm(0, 0, 10000, 10000), mkvm(1, 1, 10000, 10000) };
	market_result r;

	(void)state;
	market_params_default(&p);
	v[0].demand_peak = v[1].demand_peak = 10000; /* peak wants 24000 */
	/* a dip: wants 18800 of 20000, under 95 % but above 90 % */
	v[0].demand = v[1].demand = 7833;
	run(&p, h, 2, v, 2, 0, &r);
	assert_true(r.n_signals >= 1);
	assert_int_equal(r.signals[0].kind, MARKET_SIG_PROVISION);
	assert_int_equal(r.signals[0].mib, 25264 - 20000); /* at the peaks */
	market_result_release(&r);
	/* without the peaks (or with no band) the dip signals nothing */
	p.provision_band = 0;
	run(&p, h, 2, v, 2, 0, &r);
	for (size_t i = 0; i < r.n_signals; i++)
		assert_int_not_equal(r.signals[i].kind, MARKET_SIG_PROVISION);
	market_result_release(&r);
	p.provision_band = 0.05;
	v[0].demand_peak = v[1].demand_peak = 0;
	run(&p, h, 2, v, 2, 0, &r);
	for (size_t i = 0; i < r.n_signals; i++)
		assert_int_not_equal(r.signals[i].kind, MARKET_SIG_PROVISION);
	market_result_release(&r);
	/* below the band the signal stops, peaks or not */
	v[0].demand_peak = v[1].demand_peak = 10000;
	v[0].demand = v[1].demand = 7400; /* wants 17760 < 18000 */
	run(&p, h, 2, v, 2, 0, &r);
	for (size_t i = 0; i < r.n_signals; i++)
		assert_int_not_equal(r.signals[i].kind, MARKET_SIG_PROVISION);
	market_result_release(&r);
}

/* ---------------------------------------------------------------- */
/* determinism                                                      */
/* ---------------------------------------------------------------- */

static void test_determinism(void **state)
{
	market_params p;
	market_host h[4];
	market_vm v[20];
	market_result a, b;

	(void)state;
	market_params_default(&p);
	for (uint32_t i = 0; i < 4; i++)
		h[i] = mkhost(10 - i, 8192 + 4096 * i);
	for (uint32_t i = 0; i < 20; i++) {
		v[i] = mkvm(100 - i, i % 3, 500 + 300 * (i % 7),
			    400 + 250 * (i % 5));
		v[i].weight = 1000 * (i % 4);
		v[i].guest_swap_mibps = (double)(i % 3);
	}
	market_host h0[4];
	market_vm v0[20];
	memcpy(h0, h, sizeof(h));
	memcpy(v0, v, sizeof(v));
	run(&p, h, 4, v, 20, 7, &a);
	run(&p, h, 4, v, 20, 7, &b);
	/* the cluster is not modified */
	assert_memory_equal(h, h0, sizeof(h));
	assert_memory_equal(v, v0, sizeof(v));
	assert_memory_equal(a.hosts, b.hosts, 4 * sizeof(*a.hosts));
	assert_memory_equal(a.awards, b.awards, 20 * sizeof(*a.awards));
	assert_int_equal(a.n_recs, b.n_recs);
	assert_int_equal(a.n_signals, b.n_signals);
	assert_memory_equal(a.recs, b.recs, a.n_recs * sizeof(*a.recs));
	assert_memory_equal(a.signals, b.signals,
			    a.n_signals * sizeof(*a.signals));
	/* a reused result gives the same answer again */
	char err[128];
	market_cluster c = { h, 4, v, 20 };
	assert_int_equal(market_round(&p, &c, 7, &a, err, sizeof(err)), 0);
	assert_memory_equal(a.awards, b.awards, 20 * sizeof(*a.awards));
	assert_memory_equal(a.recs, b.recs, a.n_recs * sizeof(*a.recs));
	market_result_release(&a);
	market_result_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_drain),
		cmocka_unit_test(test_probation),
		cmocka_unit_test(test_params_validate_rejects),
		cmocka_unit_test(test_cluster_validate),
		cmocka_unit_test(test_result_lifecycle),
		cmocka_unit_test(test_price_shape),
		cmocka_unit_test(test_floor_ceiling_want),
		cmocka_unit_test(test_pressure),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_clear_plenty),
		cmocka_unit_test(test_clear_shortage_weight),
		cmocka_unit_test(test_clear_shortage_pressure),
		cmocka_unit_test(test_clear_idle_tax),
		cmocka_unit_test(test_clear_demand_first),
		cmocka_unit_test(test_clear_shortage_floors),
		cmocka_unit_test(test_clear_infeasible),
		cmocka_unit_test(test_hysteresis_small),
		cmocka_unit_test(test_hysteresis_supply),
		cmocka_unit_test(test_migrate_recommended),
		cmocka_unit_test(test_migrate_small_gain),
		cmocka_unit_test(test_migrate_cooldown),
		cmocka_unit_test(test_migrate_persist),
		cmocka_unit_test(test_risk_headroom),
		cmocka_unit_test(test_migrate_no_return),
		cmocka_unit_test(test_migrate_sell_order),
		cmocka_unit_test(test_migrate_tight),
		cmocka_unit_test(test_migrate_offline_or_full),
		cmocka_unit_test(test_migrate_targets_pruning),
		cmocka_unit_test(test_signal_provision),
		cmocka_unit_test(test_signal_suspend),
		cmocka_unit_test(test_signal_suspend_cluster_peaks),
		cmocka_unit_test(test_signal_hysteresis_suspend),
		cmocka_unit_test(test_signal_hysteresis_provision),
		cmocka_unit_test(test_determinism),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
