/*
 * test_source.c - the agents' sources: what every VM source shares (the VM
 * defaults and the pressure, the same as the simulator's and the market's,
 * which agents/ does not link: compared here), the trace source (slices of a
 * trace, VM settings as the simulator derives them, the agent's VM defaults,
 * the clock and its wrap-around, VMs arriving and leaving, the host's free
 * memory, refused options) and the static source.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "market.h"
#include "sim.h"
#include "source.h"
#include "wire.h"
#include "banned.h"

#define SMALL BOURSE_SOURCE_DIR "/tests/data/small.csv"
#define MINI BOURSE_SOURCE_DIR "/tests/data/bitbrains-mini"
#define BAD BOURSE_SOURCE_DIR "/tests/data/bad.csv"

/* Three VMs over t = 1000..1300: vm 5 all along (its usage goes above what
 * it is provisioned at 1200), vm 7 from 1200, vm 9 (provisioned 400 MiB:
 * below the default Minimum and Startup) until 1100. */
static const char life_csv[] =
	"vm,time_s,provisioned_mib,demand_mib,guest_swap_mibps\n"
	"5,1000,2048,1024,0.5\n"
	"5,1100,2048,1536,0\n"
	"5,1200,2048,3072,1.5\n"
	"5,1300,2048,512,0\n"
	"7,1200,4096,1000,0\n"
	"7,1300,4096,2000,0\n"
	"9,1000,400,100,0\n"
	"9,1100,400,200,0\n";

/* ---- helpers ---- */

struct tmpfile {
	char dir[64];
	char path[128];
};

static void tmp_write(struct tmpfile *t, const char *text)
{
	FILE *f;

	snprintf(t->dir, sizeof(t->dir), "/tmp/bourse_source_test_XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/trace.csv", t->dir);
	f = fopen(t->path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void tmp_remove(struct tmpfile *t)
{
	unlink(t->path);
	rmdir(t->dir);
}

static source_trace_opts opts(const char *path, size_t first, size_t count)
{
	source_trace_opts o = {
		.path = path, .first = first, .count = count,
		.capacity_mib = 16384, .reserve_mib = 1024, .step_s = 100,
		.prefix = "vm-",
	};
	return o;
}

static source *open_ok(const source_trace_opts *o)
{
	source *s = NULL;
	char err[512] = "";
	int rc = source_trace_open(o, &s, err, sizeof(err));

	if (rc != 0)
		fail_msg("source_trace_open: %s", err);
	assert_non_null(s);
	assert_string_equal(s->ops->kind, "trace");
	return s;
}

/* Refused, with a message containing want. */
static void open_refused(const source_trace_opts *o, const char *want)
{
	source *s = (source *)1;
	char err[512] = "";

	assert_int_equal(source_trace_open(o, &s, err, sizeof(err)), -1);
	assert_null(s);
	if (!strstr(err, want))
		fail_msg("message '%s' does not contain '%s'", err, want);
}

static source_vm_sample sample(source *s, size_t i)
{
	source_vm_sample v;
	char err[256];

	memset(&v, 0xff, sizeof(v)); /* every field must be written */
	assert_int_equal(source_vm_read(s, i, &v, err, sizeof(err)), 0);
	return v;
}

static int64_t free_mib(source *s)
{
	source_host h;
	char err[256];

	assert_int_equal(source_host_read(s, &h, err, sizeof(err)), 0);
	assert_int_equal(h.capacity_mib, 16384);
	assert_int_equal(h.reserve_mib, 1024);
	assert_int_equal(h.balloon_mib, 0);
	assert_true(h.host_swap_mibps == 0);
	return h.free_mib;
}

static void advance(source *s)
{
	char err[256];

	assert_int_equal(source_advance(s, err, sizeof(err)), 0);
}

static void assert_settings(source *s, size_t i, const char *name,
			    int64_t prov)
{
	sim_config c;
	market_vm want;
	source_vm_config got;

	sim_config_default(&c);
	memset(&want, 0, sizeof(want));
	sim_vm_settings(&c, prov, &want);
	assert_int_equal(source_vm_config_get(s, i, &got), 0);
	assert_string_equal(got.name, name);
	assert_int_equal(got.startup_mib, want.startup);
	assert_int_equal(got.minimum_mib, want.minimum);
	assert_int_equal(got.maximum_mib, want.maximum);
	assert_int_equal(got.buffer_pct, want.buffer_pct);
	assert_int_equal(got.weight, want.weight);
	assert_int_equal(got.reservation_mib, want.reservation);
	assert_int_equal(got.limit_mib, want.limit);
	assert_int_equal(got.shares, want.shares);
}

/* ---- tests ---- */

/* sim_vm_settings() is what the simulator documents: capped Minimum and
 * Startup, Maximum = provisioned, no reservation or limit. */
static void test_sim_vm_settings(void **state)
{
	sim_config c;
	market_vm v;

	(void)state;
	sim_config_default(&c);
	memset(&v, 0, sizeof(v));
	sim_vm_settings(&c, 4096, &v);
	assert_int_equal(v.maximum, 4096);
	assert_int_equal(v.minimum, c.vm_minimum_mib);
	assert_int_equal(v.startup, c.vm_startup_mib);
	assert_int_equal(v.buffer_pct, c.vm_buffer_pct);
	assert_int_equal(v.weight, c.vm_weight);
	assert_int_equal(v.shares, c.vm_shares);
	assert_int_equal(v.reservation, 0);
	assert_int_equal(v.limit, 0);
	sim_vm_settings(&c, 300, &v);
	assert_int_equal(v.maximum, 300);
	assert_int_equal(v.minimum, 300);
	assert_int_equal(v.startup, 300);
}

/* The agent's VM defaults are the simulator's, and derive a VM's settings
 * from its maximum as sim_vm_settings() does from its provisioned memory. */
static void test_vm_defaults_as_simulator(void **state)
{
	static const int64_t maxima[] = { 1, 300, 511, 512, 513, 1024, 4096,
					  WIRE_MAX_MIB };
	source_vm_defaults d;
	sim_config c;
	char err[128];

	(void)state;
	source_vm_defaults_init(&d);
	sim_config_default(&c);
	assert_int_equal(d.minimum_mib, c.vm_minimum_mib);
	assert_int_equal(d.startup_mib, c.vm_startup_mib);
	assert_int_equal(d.buffer_pct, c.vm_buffer_pct);
	assert_int_equal(d.weight, c.vm_weight);
	assert_int_equal(d.shares, c.vm_shares);
	assert_int_equal(source_vm_defaults_check(&d, err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(maxima) / sizeof(maxima[0]); i++) {
		market_vm want;
		source_vm_config got;

		memset(&want, 0, sizeof(want));
		sim_vm_settings(&c, maxima[i], &want);
		memset(&got, 0xff, sizeof(got)); /* every field is written */
		source_vm_settings(&d, maxima[i], &got);
		assert_null(got.name);
		assert_int_equal(got.maximum_mib, want.maximum);
		assert_int_equal(got.minimum_mib, want.minimum);
		assert_int_equal(got.startup_mib, want.startup);
		assert_int_equal(got.buffer_pct, want.buffer_pct);
		assert_int_equal(got.weight, want.weight);
		assert_int_equal(got.reservation_mib, want.reservation);
		assert_int_equal(got.limit_mib, want.limit);
		assert_int_equal(got.shares, want.shares);
	}
}

/* Defaults out of what a VmConfig carries are refused, naming the figure. */
static void test_vm_defaults_check(void **state)
{
	static const struct {
		source_vm_defaults d;
		const char *want;
	} bad[] = {
		{ { -1, 1024, 20, 5000, 1000, NULL, 0 }, "minimum" },
		{ { WIRE_MAX_MIB + 1, WIRE_MAX_MIB + 1, 20, 5000, 1000, NULL,
		    0 }, "minimum" },
		{ { 512, 511, 20, 5000, 1000, NULL, 0 }, "startup" },
		{ { 512, WIRE_MAX_MIB + 1, 20, 5000, 1000, NULL, 0 }, "startup" },
		{ { 512, 1024, 2001, 5000, 1000, NULL, 0 }, "buffer" },
		{ { 512, 1024, 20, 10001, 1000, NULL, 0 }, "weight" },
		{ { 512, 1024, 20, 5000, 0, NULL, 0 }, "shares" },
		{ { 512, 1024, 20, 5000, 1000001, NULL, 0 }, "shares" },
	};
	source_vm_defaults ok = { 1, 1, 2000, 10000, 1000000, NULL, 0 };
	char err[128];

	(void)state;
	assert_int_equal(source_vm_defaults_check(&ok, err, sizeof(err)), 0);
	ok.minimum_mib = SOURCE_MIN_AUTO; /* 0: each VM's own (libvirt) */
	assert_int_equal(source_vm_defaults_check(&ok, err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(source_vm_defaults_check(&bad[i].d, err,
							  sizeof(err)), -1);
		if (!strstr(err, bad[i].want))
			fail_msg("case %zu: '%s' does not name '%s'", i, err,
				 bad[i].want);
	}
}

/* The pressure the sources report (wire_pressure()) is the market's, cap
 * included. */
static void test_pressure_as_market(void **state)
{
	static const int64_t mib[] = { -1, 0, 1, 2, 3, 100, 1000, 4096,
				       1000000, WIRE_MAX_MIB };
	size_t n = sizeof(mib) / sizeof(mib[0]);

	(void)state;
	assert_true(WIRE_PRESSURE_CAP == MARKET_PRESSURE_MAX);
	for (size_t d = 0; d < n; d++)
		for (size_t a = 0; a < n; a++)
			assert_true(wire_pressure(mib[d], mib[a]) ==
				    market_vm_pressure(mib[d], mib[a]));
}

/* The trace source derives its VMs' settings with the defaults it is
 * given, and refuses defaults out of range at open. */
static void test_given_vm_defaults(void **state)
{
	source_vm_defaults d = { .minimum_mib = 2048, .startup_mib = 6144,
				 .buffer_pct = 50, .weight = 100,
				 .shares = 7 };
	source_trace_opts o = opts(SMALL, 0, 2);
	source_vm_config c;
	source *s;

	(void)state;
	o.vm_defaults = &d;
	s = open_ok(&o);
	d.minimum_mib = 1; /* copied at open */
	assert_int_equal(source_vm_config_get(s, 0, &c), 0);
	assert_string_equal(c.name, "vm-1");
	assert_int_equal(c.maximum_mib, 4096);
	assert_int_equal(c.minimum_mib, 2048);
	assert_int_equal(c.startup_mib, 4096); /* capped at the maximum */
	assert_int_equal(c.buffer_pct, 50);
	assert_int_equal(c.weight, 100);
	assert_int_equal(c.shares, 7);
	assert_int_equal(c.reservation_mib, 0);
	assert_int_equal(c.limit_mib, 0);
	assert_int_equal(source_vm_config_get(s, 1, &c), 0);
	assert_int_equal(c.maximum_mib, 8192);
	assert_int_equal(c.startup_mib, 6144);
	source_close(s);

	d.minimum_mib = 8192; /* above the startup */
	open_refused(&o, "startup");
}

static void test_small_settings(void **state)
{
	source_trace_opts o = opts(SMALL, 0, 4);
	source *s;

	(void)state;
	s = open_ok(&o);
	assert_int_equal(source_n_vms(s), 4);
	assert_settings(s, 0, "vm-1", 4096);
	assert_settings(s, 1, "vm-2", 8192);
	assert_settings(s, 2, "vm-3", 4096);
	assert_settings(s, 3, "vm-4", 8192);
	source_close(s);
}

/* A slice in id order, with another prefix. */
static void test_small_slice(void **state)
{
	source_trace_opts o = opts(SMALL, 1, 2);
	source_vm_config v;
	source *s;

	(void)state;
	o.prefix = "node-a.";
	s = open_ok(&o);
	assert_int_equal(source_n_vms(s), 2);
	assert_int_equal(source_vm_config_get(s, 0, &v), 0);
	assert_string_equal(v.name, "node-a.2");
	assert_int_equal(source_vm_config_get(s, 1, &v), 0);
	assert_string_equal(v.name, "node-a.3");
	assert_int_equal(source_vm_config_get(s, 2, &v), -1);
	/* at t_min: vm 2 holds 8192 and needs 1200 */
	source_vm_sample x = sample(s, 0);
	assert_int_equal(x.alive, 1);
	assert_int_equal(x.assigned_mib, 8192);
	assert_int_equal(x.demand_mib, 1200);
	assert_true(x.pressure > 14.64 && x.pressure < 14.65);
	assert_true(x.guest_swap_mibps == 0);
	assert_int_equal(x.balloon_mib, 0);
	assert_int_equal(free_mib(s), 16384 - 1024 - 8192 - 4096);
	source_close(s);
}

/* Each advance is one step; after t_max the clock is t_min again. */
static void test_small_wraps(void **state)
{
	source_trace_opts o = opts(SMALL, 0, 1);
	source *s;

	(void)state;
	o.step_s = 300;
	s = open_ok(&o);
	assert_int_equal(sample(s, 0).demand_mib, 512);
	for (int k = 1; k <= 11; k++)
		advance(s);
	assert_int_equal(sample(s, 0).demand_mib, 560); /* t_max */
	advance(s);
	assert_int_equal(sample(s, 0).demand_mib, 512); /* t_min again */
	advance(s);
	assert_int_equal(sample(s, 0).demand_mib, 530);
	source_close(s);
}

/* A step that does not divide the span: the clock wraps at the first step
 * past t_max, never sampling after the end. */
static void test_wrap_uneven_step(void **state)
{
	source_trace_opts o = opts(SMALL, 0, 1);
	source *s;

	(void)state;
	o.step_s = 1000; /* span 3300: +0, +1000, +2000, +3000, wrap */
	s = open_ok(&o);
	for (int lap = 0; lap < 2; lap++) {
		assert_int_equal(sample(s, 0).demand_mib, 512);  /* +0 */
		advance(s);
		assert_int_equal(sample(s, 0).demand_mib, 700);  /* +1000 */
		advance(s);
		assert_int_equal(sample(s, 0).demand_mib, 880);  /* +2000 */
		advance(s);
		assert_int_equal(sample(s, 0).demand_mib, 580);  /* +3000 */
		advance(s);
	}
	source_close(s);
}

/* VMs arrive and leave; the host's free memory follows the live ones. */
static void test_alive_and_free(void **state)
{
	struct tmpfile t;
	source_trace_opts o;
	source_vm_sample v5, v7, v9;
	source *s;

	(void)state;
	tmp_write(&t, life_csv);
	o = opts(t.path, 0, 3);
	s = open_ok(&o);

	/* t = 1000 */
	v5 = sample(s, 0), v7 = sample(s, 1), v9 = sample(s, 2);
	assert_int_equal(v5.alive, 1);
	assert_int_equal(v5.assigned_mib, 2048);
	assert_int_equal(v5.demand_mib, 1024);
	assert_true(v5.pressure == 50.0);
	assert_true(v5.guest_swap_mibps == 0.5);
	assert_int_equal(v7.alive, 0);
	assert_int_equal(v7.assigned_mib, 0);
	assert_int_equal(v7.demand_mib, 0);
	assert_true(v7.pressure == 0 && v7.guest_swap_mibps == 0);
	assert_int_equal(v9.alive, 1);
	assert_int_equal(free_mib(s), 16384 - 1024 - 2048 - 400);

	advance(s); /* 1100 */
	assert_int_equal(sample(s, 0).demand_mib, 1536);
	assert_true(sample(s, 0).guest_swap_mibps == 0);
	assert_int_equal(sample(s, 1).alive, 0);
	assert_int_equal(sample(s, 2).demand_mib, 200);

	advance(s); /* 1200: vm 7 arrives, vm 9's last sample holds a step */
	v5 = sample(s, 0);
	assert_int_equal(v5.demand_mib, 3072);
	assert_true(v5.pressure == 150.0);
	assert_int_equal(sample(s, 1).alive, 1);
	assert_int_equal(sample(s, 1).assigned_mib, 4096);
	assert_int_equal(sample(s, 2).alive, 1);
	assert_int_equal(free_mib(s), 16384 - 1024 - 2048 - 4096 - 400);

	advance(s); /* 1300: vm 9 is gone */
	assert_int_equal(sample(s, 2).alive, 0);
	assert_int_equal(free_mib(s), 16384 - 1024 - 2048 - 4096);

	advance(s); /* 1000 again */
	assert_int_equal(sample(s, 1).alive, 0);
	assert_int_equal(sample(s, 2).alive, 1);
	source_close(s);
	tmp_remove(&t);
}

/* Settings are derived from what the VM is provisioned now (capped Minimum
 * and Startup for a small VM), or from its first sample if it is not
 * running now. */
static void test_settings_life(void **state)
{
	struct tmpfile t;
	source_trace_opts o;
	source *s;

	(void)state;
	tmp_write(&t, life_csv);
	o = opts(t.path, 0, 3);
	s = open_ok(&o);
	assert_settings(s, 0, "vm-5", 2048);
	assert_settings(s, 1, "vm-7", 4096); /* not running yet */
	assert_settings(s, 2, "vm-9", 400);
	source_close(s);
	tmp_remove(&t);
}

/* More VMs than the host has memory for: free memory is 0, not negative. */
static void test_free_never_negative(void **state)
{
	source_trace_opts o = opts(SMALL, 0, 4);
	source_host h;
	char err[256];
	source *s;

	(void)state;
	o.capacity_mib = 8192;
	o.reserve_mib = 512;
	s = open_ok(&o);
	assert_int_equal(source_host_read(s, &h, err, sizeof(err)), 0);
	assert_int_equal(h.free_mib, 0);
	assert_int_equal(h.capacity_mib, 8192);
	source_close(s);
}

/* The Bitbrains reader's rules apply (zero capacity carried, usage rounded
 * up to MiB, the gzip file read); VM 2 leaves a step before the end. */
static void test_bitbrains_mini(void **state)
{
	source_trace_opts o = opts(MINI, 0, 3);
	source *s;

	(void)state;
	o.step_s = 300;
	s = open_ok(&o);
	assert_settings(s, 0, "vm-1", 4096);
	assert_settings(s, 1, "vm-2", 8192);
	assert_settings(s, 2, "vm-3", 2048);
	assert_int_equal(sample(s, 0).assigned_mib, 4096);
	assert_int_equal(sample(s, 2).demand_mib, 293); /* 300000 KB */
	for (int k = 0; k < 5; k++)
		advance(s);
	assert_int_equal(sample(s, 2).demand_mib, 538); /* 550000 KB */
	assert_int_equal(sample(s, 1).alive, 1); /* held for one step */
	assert_int_equal(free_mib(s), 16384 - 1024 - 4096 - 8192 - 2048);
	advance(s);
	assert_int_equal(sample(s, 2).demand_mib, 293);
	source_close(s);

	o.step_s = 100; /* a shorter hold: vm 2 is gone at the end */
	s = open_ok(&o);
	for (int k = 0; k < 15; k++)
		advance(s);
	assert_int_equal(sample(s, 1).alive, 0);
	assert_int_equal(sample(s, 0).alive, 1);
	source_close(s);
}

static void test_bad_options(void **state)
{
	source_trace_opts o;
	char long_prefix[200];

	(void)state;
	o = opts(SMALL, 0, 0);
	open_refused(&o, "at least one VM");
	o = opts(SMALL, 3, 2);
	open_refused(&o, "has 4 VMs");
	o = opts(SMALL, 4, 1);
	open_refused(&o, "has 4 VMs");
	o = opts(SMALL, (size_t)-1, 2);
	open_refused(&o, "has 4 VMs");
	o = opts(SMALL, 0, 1);
	o.capacity_mib = 0;
	open_refused(&o, "capacity");
	o = opts(SMALL, 0, 1);
	o.reserve_mib = o.capacity_mib;
	open_refused(&o, "reserve");
	o = opts(SMALL, 0, 1);
	o.reserve_mib = -1;
	open_refused(&o, "reserve");
	o = opts(SMALL, 0, 1);
	o.step_s = 0;
	open_refused(&o, "step");
	o = opts(NULL, 0, 1);
	open_refused(&o, "path");
	o = opts(SMALL, 0, 1);
	o.prefix = "vm ";
	open_refused(&o, "not a valid name");
	memset(long_prefix, 'x', sizeof(long_prefix) - 1);
	long_prefix[sizeof(long_prefix) - 1] = '\0';
	o.prefix = long_prefix;
	open_refused(&o, "not a valid name");
	o = opts(BAD, 0, 1);
	open_refused(&o, "bad.csv:5");
	o = opts("/nonexistent/trace.csv", 0, 1);
	open_refused(&o, "/nonexistent/trace.csv");
}

static void test_static_source(void **state)
{
	source *s = NULL;
	source_host h;
	source_vm_sample v;
	source_vm_config c;
	char err[256];

	(void)state;
	assert_int_equal(source_static_open(65536, 2048, &s, err, sizeof(err)), 0);
	assert_string_equal(s->ops->kind, "static");
	assert_int_equal(source_n_vms(s), 0);
	assert_int_equal(source_advance(s, err, sizeof(err)), 0);
	assert_int_equal(source_host_read(s, &h, err, sizeof(err)), 0);
	assert_int_equal(h.capacity_mib, 65536);
	assert_int_equal(h.reserve_mib, 2048);
	assert_int_equal(h.free_mib, 65536 - 2048);
	assert_int_equal(source_vm_config_get(s, 0, &c), -1);
	assert_int_equal(source_vm_read(s, 0, &v, err, sizeof(err)), -1);
	source_close(s);
	source_close(NULL);

	assert_int_equal(source_static_open(1024, 1024, &s, err, sizeof(err)), -1);
	assert_null(s);
	assert_non_null(strstr(err, "reserve"));
	assert_int_equal(source_static_open(0, 0, &s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "capacity"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sim_vm_settings),
		cmocka_unit_test(test_vm_defaults_as_simulator),
		cmocka_unit_test(test_vm_defaults_check),
		cmocka_unit_test(test_pressure_as_market),
		cmocka_unit_test(test_given_vm_defaults),
		cmocka_unit_test(test_small_settings),
		cmocka_unit_test(test_small_slice),
		cmocka_unit_test(test_small_wraps),
		cmocka_unit_test(test_wrap_uneven_step),
		cmocka_unit_test(test_alive_and_free),
		cmocka_unit_test(test_settings_life),
		cmocka_unit_test(test_free_never_negative),
		cmocka_unit_test(test_bitbrains_mini),
		cmocka_unit_test(test_bad_options),
		cmocka_unit_test(test_static_source),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
