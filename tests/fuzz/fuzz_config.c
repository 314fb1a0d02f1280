/*
 * fuzz_config.c - the configuration a user types: market parameters
 * (`--param NAME=VAL`, cli/args.c, then market_params_validate()), the
 * broker's and the simulator's command lines (cmd_broker(), cmd_sim(), always
 * with --params first so that they parse and print, never run), the VM
 * settings the simulator and the trace source derive (sim_vm_settings()),
 * and the numeric flag parsers (cli_parse_i64(), cli_parse_double()).
 *
 * Input: byte 0 picks the mode ((byte & 7) % 5, so '0'..'4'); the rest
 * (after a newline right after it) is split into lines, each a C string (a
 * NUL ends it early), at most 64.
 *   0  each line an assignment NAME=VAL; if the parameters validate, one
 *      market round on a small cluster must succeed and give finite prices
 *      and awards within every VM's floor and ceiling
 *   1  `bourse broker --params LINE...`: exit status 0 or 2
 *   2  `bourse sim --params LINE...`: exit status 0 or 2
 *   3  simulator settings, lines "KEY=N" (hosts, host_mib, reserve_mib,
 *      step_s, minimum_mib, startup_mib, buffer_pct, prov) or "param
 *      NAME=VAL"; if sim_config_validate() accepts them, the VM settings
 *      for each prov (and a fixed list) are consistent and make a VM
 *      Register that validates
 *   4  each line through cli_parse_i64() and cli_parse_double() with a few
 *      ranges: a success is within the range (and finite)
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fuzz_util.h"
#include "market.h"
#include "sim.h"
#include "wire.h"
#include "banned.h"

#define C_MAX_LINES 64

static void check_err(const char *err, size_t len)
{
	FUZZ_CHECK(fuzz_terminated(err, len), "message not terminated");
	FUZZ_CHECK(err[0] != '\0', "failure without a message");
}

/* ---- mode 0: market parameters and a round ---- */

/* Two hosts, five VMs: one short of memory, one with room. */
static void market_round_check(const market_params *p)
{
	market_host hosts[2] = {
		{ .id = 0, .capacity = 16384, .reserve = 1024,
		  .host_swap_mibps = 5, .online = 1 },
		{ .id = 1, .capacity = 32768, .reserve = 1024, .online = 1 },
	};
	market_vm vms[5];
	market_cluster c = { hosts, 2, vms, 5 };
	market_result r;
	char err[512];
	int rc;

	memset(vms, 0, sizeof(vms));
	for (uint32_t i = 0; i < 5; i++) {
		market_vm *v = &vms[i];

		v->id = i;
		v->host = i < 4 ? 0 : 1;
		v->demand = 2000 + 1500 * i;
		v->assigned = 4096;
		v->guest_swap_mibps = i == 2 ? 3 : 0;
		v->startup = 1024;
		v->minimum = 512;
		v->maximum = 8192 + 1024 * i;
		v->buffer_pct = 20;
		v->weight = 5000;
		v->reservation = i == 1 ? 2048 : 0;
		v->limit = i == 3 ? 6144 : 0;
		v->shares = 1000;
		v->last_migrated = i == 0 ? 0 : MARKET_NEVER;
	}
	FUZZ_CHECK(market_result_init(&r, 2, 5) == 0, "out of memory");
	for (int64_t round = 1; round <= 2; round++) {
		rc = market_round(p, &c, round, &r, err, sizeof(err));
		FUZZ_CHECK(rc == 0, "a round with valid parameters failed: %s",
			   err);
		for (size_t h = 0; h < 2; h++) {
			const market_host_out *o = &r.hosts[h];

			FUZZ_CHECK(isfinite(o->price) && o->price >= 0,
				   "host %zu price %g", h, o->price);
			FUZZ_CHECK(isfinite(o->utilization) &&
				   o->utilization >= 0, "utilization %g",
				   o->utilization);
			FUZZ_CHECK(isfinite(o->clearing_price) &&
				   o->clearing_price >= 0, "clearing price %g",
				   o->clearing_price);
		}
		for (size_t i = 0; i < 5; i++) {
			const market_award *a = &r.awards[i];

			FUZZ_CHECK(a->target >= market_vm_floor(&vms[i]) &&
				   a->target <= market_vm_ceiling(&vms[i]),
				   "VM %zu awarded %" PRId64 " outside %" PRId64
				   "..%" PRId64, i, a->target,
				   market_vm_floor(&vms[i]),
				   market_vm_ceiling(&vms[i]));
			FUZZ_CHECK(isfinite(a->budget) && a->budget >= 0,
				   "budget %g", a->budget);
			FUZZ_CHECK(isfinite(a->pressure) && a->pressure >= 0,
				   "pressure %g", a->pressure);
		}
		for (size_t k = 0; k < r.n_recs; k++) {
			const market_rec *m = &r.recs[k];

			FUZZ_CHECK(m->vm < 5 && m->from_host < 2,
				   "recommendation %zu out of range", k);
			FUZZ_CHECK(m->kind == MARKET_REC_RESIZE ?
				   m->to_host == MARKET_NO_HOST :
				   m->kind == MARKET_REC_MIGRATE &&
				   m->to_host < 2 && m->to_host != m->from_host,
				   "recommendation %zu: kind %d to %" PRIu32, k,
				   (int)m->kind, m->to_host);
			FUZZ_CHECK(m->to_mib >= 0 && isfinite(m->price_here) &&
				   isfinite(m->cost_here),
				   "recommendation %zu: %" PRId64 " MiB", k,
				   m->to_mib);
		}
		/* apply the resizes, so that round 2 starts elsewhere */
		for (size_t i = 0; i < 5; i++)
			vms[i].assigned = r.awards[i].target;
	}
	market_result_release(&r);
}

static void mode_params(char **lines, size_t n)
{
	market_params p;
	char err[512];

	market_params_default(&p);
	FUZZ_CHECK(market_params_validate(&p, err, sizeof(err)) == 0,
		   "the defaults do not validate: %s", err);
	for (size_t i = 0; i < n; i++) {
		market_params before = p;

		err[0] = '\0';
		if (cli_market_param_set(&p, lines[i], err, sizeof(err)) != 0) {
			check_err(err, sizeof(err));
			FUZZ_CHECK(memcmp(&before, &p, sizeof(p)) == 0,
				   "a refused '%s' changed the parameters",
				   lines[i]);
		}
	}
	if (market_params_validate(&p, err, sizeof(err)) != 0) {
		check_err(err, sizeof(err));
		return;
	}
	market_round_check(&p);
}

/* ---- modes 1 and 2: the command lines ---- */

static void mode_cmd(int (*cmd)(int, char **), const char *name,
		     char **lines, size_t n)
{
	char *argv[C_MAX_LINES + 3];
	int argc = 0, rc;

	argv[argc++] = (char *)name;
	argv[argc++] = "--params";
	for (size_t i = 0; i < n; i++)
		argv[argc++] = lines[i];
	argv[argc] = NULL;
	rc = cmd(argc, argv);
	FUZZ_CHECK(rc == CLI_OK || rc == CLI_USAGE, "%s --params ... "
		   "returned %d", name, rc);
}

/* ---- mode 3: VM settings ---- */

static void check_settings(const sim_config *c, int64_t prov)
{
	wire_msg m;
	market_vm v;
	char err[256];
	wire_reason r;

	memset(&v, 0, sizeof(v));
	sim_vm_settings(c, prov, &v);
	FUZZ_CHECK(v.minimum >= 1 && v.minimum <= v.startup &&
		   v.startup <= v.maximum && v.maximum == prov,
		   "prov %" PRId64 ": min %" PRId64 " startup %" PRId64
		   " max %" PRId64, prov, v.minimum, v.startup, v.maximum);
	FUZZ_CHECK(v.buffer_pct <= 2000 && v.weight <= 10000 &&
		   v.shares >= 1 && v.shares <= 1000000,
		   "buffer %u weight %u shares %u", v.buffer_pct, v.weight,
		   v.shares);
	if (prov > WIRE_MAX_MIB)
		return;
	/* what the trace source makes of it, as the agent sends it */
	wire_msg_init(&m, WIRE_ROLE_VM, "vm-1", 1, WIRE_BODY_REGISTER);
	m.reg.has_vm = 1;
	m.reg.vm = (wire_vm_config){
		.host = "h",
		.startup_mib = v.startup,
		.minimum_mib = v.minimum,
		.maximum_mib = v.maximum,
		.buffer_pct = v.buffer_pct,
		.weight = v.weight,
		.reservation_mib = v.reservation,
		.limit_mib = v.limit,
		.shares = v.shares,
	};
	r = wire_msg_validate(&m, err, sizeof(err));
	FUZZ_CHECK(r == WIRE_OK, "prov %" PRId64 ": the VM settings do not "
		   "validate: %s", prov, err);
}

static void mode_settings(char **lines, size_t n)
{
	static const int64_t fixed[] = { 1, 2, 511, 512, 1023, 1024, 4096,
					 WIRE_MAX_MIB, 1LL << 40 };
	sim_config c;
	int64_t provs[C_MAX_LINES];
	size_t n_provs = 0;
	char err[512];

	sim_config_default(&c);
	for (size_t i = 0; i < n; i++) {
		const char *l = lines[i];
		const char *eq = strchr(l, '=');
		int64_t v = 0;
		int rc = 0;

		if (strncmp(l, "param ", 6) == 0) {
			if (cli_market_param_set(&c.market, l + 6, err,
						 sizeof(err)) != 0)
				check_err(err, sizeof(err));
			continue;
		}
		if (eq == NULL)
			continue;
		/* the ranges of `bourse sim`'s flags (cli/cmd_sim.c) */
#define KEY(k) (strncmp(l, k "=", sizeof(k)) == 0)
		if (KEY("hosts") &&
		    (rc = cli_parse_i64(eq + 1, 1, 100000, &v, err,
					sizeof(err))) == 0)
			c.n_hosts = (uint32_t)v;
		else if (KEY("host_mib") &&
			 (rc = cli_parse_i64(eq + 1, 1, 1 << 22, &v, err,
					     sizeof(err))) == 0)
			c.host_mib = v * 1024;
		else if (KEY("reserve_mib") &&
			 (rc = cli_parse_i64(eq + 1, 0, (int64_t)1 << 32, &v,
					     err, sizeof(err))) == 0)
			c.host_reserve_mib = v;
		else if (KEY("step_s") &&
			 (rc = cli_parse_i64(eq + 1, 1, 86400, &v, err,
					     sizeof(err))) == 0) {
			c.step_s = v;
			c.hold_s = 2 * v;
		} else if (KEY("minimum_mib") &&
			   (rc = cli_parse_i64(eq + 1, 1, (int64_t)1 << 32, &v,
					       err, sizeof(err))) == 0)
			c.vm_minimum_mib = v;
		else if (KEY("startup_mib") &&
			 (rc = cli_parse_i64(eq + 1, 1, (int64_t)1 << 32, &v,
					     err, sizeof(err))) == 0)
			c.vm_startup_mib = v;
		else if (KEY("buffer_pct") &&
			 (rc = cli_parse_i64(eq + 1, 0, 2000, &v, err,
					     sizeof(err))) == 0)
			c.vm_buffer_pct = (uint32_t)v;
		else if (KEY("prov") &&
			 (rc = cli_parse_i64(eq + 1, 1, 1LL << 40, &v, err,
					     sizeof(err))) == 0)
			provs[n_provs++] = v;
#undef KEY
		if (rc != 0)
			check_err(err, sizeof(err));
	}
	if (sim_config_validate(&c, err, sizeof(err)) != 0) {
		check_err(err, sizeof(err));
		return;
	}
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		check_settings(&c, fixed[i]);
	for (size_t i = 0; i < n_provs; i++)
		check_settings(&c, provs[i]);
}

/* ---- mode 4: numbers ---- */

static void mode_numbers(char **lines, size_t n)
{
	static const int64_t ir[][2] = {
		{ INT64_MIN + 1, INT64_MAX }, { 0, 100 }, { 1, 1LL << 40 },
		{ -5, 5 },
	};
	static const double dr[][2] = {
		{ -1e300, 1e300 }, { 0, 1 }, { 0, 100 }, { 1e-9, 1e12 },
	};
	char err[256];

	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < 4; k++) {
			int64_t v = 77;
			double d = 77;

			err[0] = '\0';
			if (cli_parse_i64(lines[i], ir[k][0], ir[k][1], &v, err,
					  sizeof(err)) == 0)
				FUZZ_CHECK(v >= ir[k][0] && v <= ir[k][1],
					   "'%s' -> %" PRId64 " outside %" PRId64
					   "..%" PRId64, lines[i], v, ir[k][0],
					   ir[k][1]);
			else
				check_err(err, sizeof(err));
			err[0] = '\0';
			if (cli_parse_double(lines[i], dr[k][0], dr[k][1], &d,
					     err, sizeof(err)) == 0)
				FUZZ_CHECK(isfinite(d) && d >= dr[k][0] &&
					   d <= dr[k][1],
					   "'%s' -> %g outside %g..%g",
					   lines[i], d, dr[k][0], dr[k][1]);
			else
				check_err(err, sizeof(err));
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char **lines;
	size_t n, skip;

	if (size < 1)
		return 0;
	skip = size > 1 && data[1] == '\n' ? 2 : 1; /* "0\n...": mode line */
	n = fuzz_lines(data + skip, size - skip, &lines, C_MAX_LINES);
	switch ((data[0] & 7) % 5) {
	case 0: mode_params(lines, n); break;
	case 1: mode_cmd(cmd_broker, "broker", lines, n); break;
	case 2: mode_cmd(cmd_sim, "sim", lines, n); break;
	case 3: mode_settings(lines, n); break;
	default: mode_numbers(lines, n); break;
	}
	free(lines);
	return 0;
}
