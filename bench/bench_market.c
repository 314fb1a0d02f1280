/*
 * bench_market.c - the market round benchmark (issue 6).
 *
 * Times one full market_round() (validation, clearing of every host,
 * resize and migration evaluation, provision and suspend planning) on
 * synthetic clusters of 100, 1,000 and 10,000 hosts with 10 VMs each, on
 * one thread. Between timed rounds the result is applied the way the
 * simulator applies it (sim/policy_market.c) and the demands move a little,
 * so the rounds are a moving cluster rather than identical replays. A plain
 * qsort() of 10,000 doubles, measured in the same run, is the yardstick.
 *
 * The generator is splitmix64 with a fixed seed: every run sees the same
 * clusters, and the checksum of the outputs changes only if what the market
 * decides changes (that is how a speed-up is shown to be output-neutral).
 *
 * The final round of every size is checked against the invariants of
 * tests/test_market_props.c; a broken one exits 1 naming the host or VM.
 * Timing never makes the benchmark fail (bench.h).
 */
#include "bench.h"
#include "market.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "banned.h"

#define VMS_PER_HOST 10
#define HOST_MIB ((int64_t)256 * 1024)
#define RESERVE_MIB ((int64_t)4 * 1024)
#define VM_MIN_MIB ((int64_t)2 * 1024)
#define VM_MAX_MIB ((int64_t)48 * 1024)
#define SEED 0x626f75727365ull /* "bourse" */
#define FIRST_ROUND 1000       /* so "recently migrated" has a past */
#define REF_VMS 10000.0        /* the 1,000-host case: growth reference */
#define QSORT_N 10000
#define QSORT_REPS 101
#define QSORT_TARGET_RATIO 10.0

static const char usage[] =
	"usage: bench_market [--smoke] [--hosts N] [--help]\n"
	"\n"
	"Times one full market_round() - validation, clearing of every host,\n"
	"resize and migration evaluation, provision and suspend planning - on\n"
	"synthetic clusters of 100, 1,000 and 10,000 hosts with 10 VMs each\n"
	"(256 GiB hosts, 4 GiB reserve, VMs of 2-48 GiB, hosts from ~30 %\n"
	"to ~125 % wanted, Hyper-V and ESX settings, some swap, some VMs in\n"
	"migration cooldown, ~2 % of hosts offline), one thread, fixed seed.\n"
	"After an untimed warm-up round, each timed round is applied as the\n"
	"simulator does (awards, migrations) and demands are perturbed\n"
	"(untimed) before the next: 200 rounds at 100 hosts, 50 at 1,000, 15\n"
	"at 10,000.\n"
	"\n"
	"Per size: median and worst round (ms), median ns per VM, its growth\n"
	"against the 1,000-host case next to log(vms)/log(10000), the final\n"
	"round's migrations, resizes, signals and hosts in shortage, the\n"
	"target (target_ms, 0: none) and whether it is met (met_ms,\n"
	"met_growth: 1/0), and a checksum (FNV-1a folded to 32 bits) of every\n"
	"timed round's outputs: equal checksums, equal decisions.\n"
	"Baseline: qsort() of 10,000 random doubles (median of 101, a fresh\n"
	"copy each, the copy untimed) and the 1,000-host round against it.\n"
	"Targets: 1,000x10 <= 10 ms and <= 10x qsort; 10,000x10 <= 150 ms;\n"
	"time per VM growing no faster than log n (growth <= log_growth above\n"
	"10,000 VMs, >= below).\n"
	"\n"
	"The final round of every size is checked: no host over supply once\n"
	"applied, every VM within [floor, ceiling], memory conserved, every\n"
	"migration to another, online host. Exit 1 if broken, never on time.\n"
	"\n"
	"  --smoke   100 and 1,000 hosts, a few rounds each (CI)\n"
	"  --hosts N one size only, 15 rounds (10 .. 100000 hosts)\n"
	"  --help    this text\n";

/* One size to run. */
typedef struct bench_case {
	size_t hosts;
	size_t rounds;
	double target_ms; /* 0: no target */
} bench_case;

static const bench_case full_cases[] = {
	{ 100, 200, 0 }, { 1000, 50, 10 }, { 10000, 15, 150 },
};
static const bench_case smoke_cases[] = {
	{ 100, 10, 0 }, { 1000, 5, 10 },
};

/* What a size measured. */
typedef struct case_out {
	double median_ms, worst_ms, ns_per_vm;
	size_t migrations, resizes, signals, shortages;
	uint64_t checksum;
} case_out;

/* ---------------------------------------------------------------- */
/* generator                                                        */
/* ---------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* Uniform in [lo, hi] (hi >= lo). */
static int64_t rnd(uint64_t *s, int64_t lo, int64_t hi)
{
	return lo + (int64_t)(splitmix64(s) % (uint64_t)(hi - lo + 1));
}

/* 1 with probability pct / 100. */
static int chance(uint64_t *s, int pct)
{
	return rnd(s, 0, 99) < pct;
}

static int64_t clamp64(int64_t x, int64_t lo, int64_t hi)
{
	return x < lo ? lo : (x > hi ? hi : x);
}

/* The cluster being benchmarked, and what its demands revert to. */
typedef struct world {
	market_cluster c;
	market_params p;
	int64_t *base0;       /* per VM: its demand when generated */
	int64_t *base;        /* per VM: demand the noise centres on */
	unsigned char *heat;  /* per host: 1 burst, 2 lull, this round */
	uint64_t rng;
} world;

/* Wanted share of a host's supply: a quarter cold (suspend candidates),
 * half comfortable, the rest congested or overcommitted (shortage
 * clearing, migration sources). */
static double host_util(uint64_t *s)
{
	int64_t k = rnd(s, 0, 99);

	if (k < 25)
		return (double)rnd(s, 25, 40) / 100.0;
	if (k < 75)
		return (double)rnd(s, 45, 85) / 100.0;
	if (k < 90)
		return (double)rnd(s, 88, 100) / 100.0;
	return (double)rnd(s, 105, 125) / 100.0;
}

static void gen_host(uint64_t *s, market_host *x, size_t h)
{
	memset(x, 0, sizeof(*x));
	x->id = (uint32_t)(h * 40503u + 7u); /* unique, not the index */
	x->capacity = HOST_MIB;
	x->reserve = RESERVE_MIB;
	x->host_swap_mibps = chance(s, 5) ? (double)rnd(s, 1, 40) : 0.0;
	x->online = !chance(s, 2);
}

/* ESX settings: no buffer, reservation, limit and shares. */
static void gen_esx(uint64_t *s, market_vm *v)
{
	static const uint32_t shares[] = { 500, 1000, 1000, 2000 };

	v->buffer_pct = 0;
	v->weight = 5000;
	v->shares = shares[rnd(s, 0, 3)];
	if (chance(s, 40))
		v->reservation = clamp64(rnd(s, 1, 8) * 1024, 0,
					 v->maximum / 2);
	if (chance(s, 30))
		v->limit = clamp64(v->maximum * rnd(s, 60, 95) / 100,
				   v->reservation, v->maximum);
}

/* Hyper-V Dynamic Memory settings: minimum, buffer and weight. */
static void gen_hyperv(uint64_t *s, market_vm *v)
{
	v->minimum = clamp64(rnd(s, 512, 2048), 0, v->maximum);
	v->buffer_pct = chance(s, 60) ? 20 : (uint32_t)rnd(s, 5, 50);
	v->weight = chance(s, 60) ? 5000 : (uint32_t)rnd(s, 500, 10000);
	v->shares = 1000;
}

/* A VM of host `host` that wants about `want` MiB. */
static void gen_vm(uint64_t *s, market_vm *v, uint32_t host, int64_t want)
{
	memset(v, 0, sizeof(*v));
	v->host = host;
	v->maximum = clamp64(want * rnd(s, 110, 160) / 100 / 256 * 256,
			     VM_MIN_MIB, VM_MAX_MIB);
	if (chance(s, 40))
		gen_esx(s, v);
	else
		gen_hyperv(s, v);
	v->demand = clamp64(want * 100 / (100 + v->buffer_pct), 0,
			    v->maximum + v->maximum / 3);
	v->assigned = clamp64(v->demand * rnd(s, 80, 120) / 100,
			      market_vm_floor(v), market_vm_ceiling(v));
	v->startup = clamp64(1024, v->minimum, v->maximum);
	if (v->demand > v->assigned && chance(s, 50))
		v->guest_swap_mibps = (double)rnd(s, 1, 20);
	v->last_migrated = chance(s, 5) ? FIRST_ROUND - rnd(s, 0, 11)
					: MARKET_NEVER;
}

/* The ten VMs of host h share u * supply in random proportions. */
static void gen_host_vms(uint64_t *s, market_vm *vms, size_t h)
{
	double u = host_util(s), w[VMS_PER_HOST], sum = 0;
	double wanted = u * (double)(HOST_MIB - RESERVE_MIB);

	for (size_t j = 0; j < VMS_PER_HOST; j++)
		sum += w[j] = (double)rnd(s, 10, 40);
	for (size_t j = 0; j < VMS_PER_HOST; j++)
		gen_vm(s, &vms[j], (uint32_t)h, (int64_t)(wanted * w[j] / sum));
}

/* VMs in a registration order, not grouped by host, with unique ids. */
static void shuffle_vms(uint64_t *s, market_vm *vms, size_t n)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)rnd(s, 0, (int64_t)i - 1);
		market_vm t = vms[i - 1];
		vms[i - 1] = vms[j];
		vms[j] = t;
	}
	for (size_t i = 0; i < n; i++)
		vms[i].id = (uint32_t)(i * 2654435761u + 12345u);
}

static void world_free(world *w)
{
	free(w->c.hosts);
	free(w->c.vms);
	free(w->base0);
	free(w->base);
	free(w->heat);
	memset(w, 0, sizeof(*w));
}

/* Builds the cluster of n_hosts; returns 0, or -1 (message printed). */
static int world_new(world *w, size_t n_hosts)
{
	size_t n_vms = n_hosts * VMS_PER_HOST;
	char err[256];

	memset(w, 0, sizeof(*w));
	w->rng = SEED ^ n_hosts;
	market_params_default(&w->p);
	w->c.hosts = calloc(n_hosts, sizeof(*w->c.hosts));
	w->c.vms = calloc(n_vms, sizeof(*w->c.vms));
	w->base0 = calloc(n_vms, sizeof(*w->base0));
	w->base = calloc(n_vms, sizeof(*w->base));
	w->heat = calloc(n_hosts, sizeof(*w->heat));
	if (!w->c.hosts || !w->c.vms || !w->base0 || !w->base || !w->heat) {
		fprintf(stderr, "bench_market: out of memory\n");
		return -1;
	}
	w->c.n_hosts = n_hosts;
	w->c.n_vms = n_vms;
	for (size_t h = 0; h < n_hosts; h++) {
		gen_host(&w->rng, &w->c.hosts[h], h);
		gen_host_vms(&w->rng, &w->c.vms[h * VMS_PER_HOST], h);
	}
	shuffle_vms(&w->rng, w->c.vms, n_vms);
	for (size_t i = 0; i < n_vms; i++)
		w->base0[i] = w->base[i] = w->c.vms[i].demand;
	if (market_cluster_validate(&w->c, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench_market: generated cluster invalid: %s\n",
			err);
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- */
/* between rounds (untimed)                                         */
/* ---------------------------------------------------------------- */

/* Applies a round as sim/policy_market.c does. */
static void apply(world *w, const market_result *r, int64_t round)
{
	for (size_t i = 0; i < w->c.n_vms; i++)
		w->c.vms[i].assigned = r->awards[i].target;
	for (size_t k = 0; k < r->n_recs; k++) {
		const market_rec *m = &r->recs[k];
		if (m->kind != MARKET_REC_MIGRATE)
			continue;
		w->c.vms[m->vm].host = m->to_host;
		w->c.vms[m->vm].assigned = m->to_mib;
		w->c.vms[m->vm].last_migrated = round;
	}
}

/* Each round about 3 % of the hosts see a burst (their VMs' demands rise
 * doubles) and 3 % a lull (halves), which then fade back to the generated
 * demands over some ten rounds. Without this the migrations flatten the
 * cluster within a few dozen rounds and the later rounds measure a market
 * with nothing to do. */
static void pick_heat(world *w)
{
	size_t k = w->c.n_hosts * 3 / 100 ? w->c.n_hosts * 3 / 100 : 1;

	memset(w->heat, 0, w->c.n_hosts);
	for (size_t j = 0; j < k; j++) {
		w->heat[rnd(&w->rng, 0, (int64_t)w->c.n_hosts - 1)] = 1;
		w->heat[rnd(&w->rng, 0, (int64_t)w->c.n_hosts - 1)] = 2;
	}
}

/* Demand noise of +-10 % around a base that bursts and lulls move; guest
 * swap follows the squeeze. */
static void perturb(world *w)
{
	pick_heat(w);
	for (size_t i = 0; i < w->c.n_vms; i++) {
		market_vm *v = &w->c.vms[i];
		int64_t top = v->maximum + v->maximum / 3;
		w->base[i] += (w->base0[i] - w->base[i]) / 8;
		if (w->heat[v->host] == 1)
			w->base[i] = w->base[i] * 2;
		else if (w->heat[v->host] == 2)
			w->base[i] = w->base[i] / 2;
		w->base[i] = clamp64(w->base[i], 256, top);
		v->demand = clamp64(w->base[i] * rnd(&w->rng, 90, 110) / 100,
				    0, top);
		v->guest_swap_mibps = v->demand > v->assigned &&
						      chance(&w->rng, 50)
					      ? (double)rnd(&w->rng, 1, 20)
					      : 0.0;
	}
}

/* ---------------------------------------------------------------- */
/* checksum                                                         */
/* ---------------------------------------------------------------- */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

static uint64_t fnv_i(uint64_t h, int64_t x)
{
	return fnv(h, &x, sizeof(x));
}

/* Doubles by their bits: "identical" means byte-identical. */
static uint64_t fnv_d(uint64_t h, double x)
{
	return fnv(h, &x, sizeof(x));
}

static uint64_t hash_hosts(uint64_t h, const market_result *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const market_host_out *o = &r->hosts[i];
		h = fnv_i(h, o->supply);
		h = fnv_i(h, o->wanted);
		h = fnv_i(h, o->floor);
		h = fnv_i(h, o->awarded);
		h = fnv_d(h, o->utilization);
		h = fnv_d(h, o->balloon_pressure);
		h = fnv_d(h, o->swap_pressure);
		h = fnv_d(h, o->price);
		h = fnv_d(h, o->clearing_price);
		h = fnv_i(h, o->shortage);
		h = fnv_i(h, o->infeasible);
	}
	return h;
}

static uint64_t hash_awards(uint64_t h, const market_result *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const market_award *a = &r->awards[i];
		h = fnv_i(h, a->target);
		h = fnv_i(h, a->want);
		h = fnv_d(h, a->budget);
		h = fnv_d(h, a->pressure);
	}
	return h;
}

static uint64_t hash_recs(uint64_t h, const market_result *r)
{
	h = fnv_i(h, (int64_t)r->n_recs);
	for (size_t i = 0; i < r->n_recs; i++) {
		const market_rec *m = &r->recs[i];
		h = fnv_i(h, m->kind);
		h = fnv_i(h, m->vm);
		h = fnv_i(h, m->from_host);
		h = fnv_i(h, m->to_host);
		h = fnv_i(h, m->from_mib);
		h = fnv_i(h, m->to_mib);
		h = fnv_d(h, m->price_here);
		h = fnv_d(h, m->price_there);
		h = fnv_d(h, m->cost_here);
		h = fnv_d(h, m->cost_there);
	}
	return h;
}

static uint64_t hash_signals(uint64_t h, const market_result *r)
{
	h = fnv_i(h, (int64_t)r->n_signals);
	for (size_t i = 0; i < r->n_signals; i++) {
		h = fnv_i(h, r->signals[i].kind);
		h = fnv_i(h, r->signals[i].host);
		h = fnv_i(h, r->signals[i].mib);
	}
	return h;
}

static uint64_t hash_round(uint64_t h, const market_cluster *c,
			   const market_result *r)
{
	h = hash_hosts(h, r, c->n_hosts);
	h = hash_awards(h, r, c->n_vms);
	h = hash_recs(h, r);
	return hash_signals(h, r);
}

/* ---------------------------------------------------------------- */
/* invariants (tests/test_market_props.c)                           */
/* ---------------------------------------------------------------- */

static int broken_vm(const market_cluster *c, size_t i, const char *what)
{
	fprintf(stderr, "bench_market: %zu hosts: vm %u (index %zu): %s\n",
		c->n_hosts, c->vms[i].id, i, what);
	return -1;
}

static int broken_host(const market_cluster *c, size_t h, const char *what)
{
	fprintf(stderr, "bench_market: %zu hosts: host %u (index %zu): %s\n",
		c->n_hosts, c->hosts[h].id, h, what);
	return -1;
}

/* Before applying: awards within [floor, ceiling], every rec names its VM's
 * host and every migration goes to another, online host. */
static int check_recs(const market_cluster *c, const market_result *r)
{
	for (size_t i = 0; i < c->n_vms; i++) {
		const market_vm *v = &c->vms[i];
		int64_t t = r->awards[i].target;
		if (t < market_vm_floor(v) || t > market_vm_ceiling(v))
			return broken_vm(c, i, "award out of [floor, ceiling]");
	}
	for (size_t k = 0; k < r->n_recs; k++) {
		const market_rec *m = &r->recs[k];
		if (m->vm >= c->n_vms)
			return broken_vm(c, 0, "rec names no VM");
		if (m->from_host != c->vms[m->vm].host)
			return broken_vm(c, m->vm, "rec from another host");
		if (m->kind != MARKET_REC_MIGRATE)
			continue;
		if (m->to_host >= c->n_hosts || m->to_host == m->from_host)
			return broken_vm(c, m->vm, "migration to its own host");
		if (!c->hosts[m->to_host].online)
			return broken_vm(c, m->vm, "migration to offline host");
	}
	return 0;
}

/* After applying: every VM within [floor, ceiling]; per host, what its VMs
 * hold is what the round said it awarded (conservation), and no more than
 * supply when the floors fit; the totals agree. */
static int check_applied(const market_cluster *c, const market_result *r,
			 int64_t *held)
{
	int64_t total_vms = 0, total_hosts = 0;

	memset(held, 0, c->n_hosts * sizeof(*held));
	for (size_t i = 0; i < c->n_vms; i++) {
		const market_vm *v = &c->vms[i];
		if (v->assigned < market_vm_floor(v) ||
		    v->assigned > market_vm_ceiling(v))
			return broken_vm(c, i, "holds out of [floor, ceiling]");
		held[v->host] += v->assigned;
		total_vms += v->assigned;
	}
	for (size_t h = 0; h < c->n_hosts; h++) {
		const market_host_out *o = &r->hosts[h];
		if (held[h] != o->awarded)
			return broken_host(c, h, "VMs hold other than awarded");
		if (!o->infeasible && held[h] > o->supply)
			return broken_host(c, h, "over supply once applied");
		total_hosts += o->awarded;
	}
	if (total_vms != total_hosts) {
		fprintf(stderr,
			"bench_market: %zu hosts: memory not conserved\n",
			c->n_hosts);
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- */
/* running a size                                                   */
/* ---------------------------------------------------------------- */

/* One round; returns its time in ns, or -1 (message printed). */
static int64_t timed_round(world *w, int64_t round, market_result *r)
{
	char err[256];
	int64_t t0 = util_now_ns();
	int rc = market_round(&w->p, &w->c, round, r, err, sizeof(err));
	int64_t t1 = util_now_ns();

	if (rc != 0) {
		fprintf(stderr, "bench_market: %zu hosts, round %lld: %s\n",
			w->c.n_hosts, (long long)round, err);
		return -1;
	}
	return t1 - t0;
}

static void count_final(const market_cluster *c, const market_result *r,
			case_out *out)
{
	out->signals = r->n_signals;
	out->migrations = out->resizes = out->shortages = 0;
	for (size_t k = 0; k < r->n_recs; k++) {
		if (r->recs[k].kind == MARKET_REC_MIGRATE)
			out->migrations++;
		else
			out->resizes++;
	}
	for (size_t h = 0; h < c->n_hosts; h++)
		out->shortages += (size_t)r->hosts[h].shortage;
}

/* Timed rounds of world w into ms[]; checks and applies the last one. */
static int run_rounds(world *w, market_result *r, size_t rounds, double *ms,
		      case_out *out)
{
	int64_t round = FIRST_ROUND;
	uint64_t h = 0xcbf29ce484222325ull;
	int64_t *held = calloc(w->c.n_hosts, sizeof(*held));

	if (held == NULL || timed_round(w, round, r) < 0) /* warm-up */
		goto fail;
	apply(w, r, round);
	for (size_t k = 0; k < rounds; k++) {
		perturb(w);
		int64_t ns = timed_round(w, ++round, r);
		if (ns < 0)
			goto fail;
		ms[k] = (double)ns / 1e6;
		h = hash_round(h, &w->c, r);
		if (k + 1 == rounds && check_recs(&w->c, r) != 0)
			goto fail;
		apply(w, r, round);
	}
	count_final(&w->c, r, out);
	out->checksum = h;
	if (check_applied(&w->c, r, held) != 0)
		goto fail;
	free(held);
	return 0;
fail:
	free(held);
	return -1;
}

static int run_case(const bench_case *bc, case_out *out)
{
	world w;
	market_result r;
	double *ms = calloc(bc->rounds, sizeof(*ms));
	int rc = -1;

	memset(&r, 0, sizeof(r));
	if (ms == NULL || world_new(&w, bc->hosts) != 0)
		goto out;
	if (market_result_init(&r, w.c.n_hosts, w.c.n_vms) != 0) {
		fprintf(stderr, "bench_market: out of memory\n");
		goto out;
	}
	if (run_rounds(&w, &r, bc->rounds, ms, out) != 0)
		goto out;
	out->worst_ms = bench_max(ms, bc->rounds);
	out->median_ms = bench_median(ms, bc->rounds);
	out->ns_per_vm = out->median_ms * 1e6 / (double)w.c.n_vms;
	rc = 0;
out:
	market_result_release(&r);
	world_free(&w);
	free(ms);
	return rc;
}

/* ---------------------------------------------------------------- */
/* baseline                                                         */
/* ---------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median ms of qsort() over QSORT_N random doubles, a fresh copy each. */
static double qsort_ms(void)
{
	static double src[QSORT_N], work[QSORT_N], ms[QSORT_REPS];
	uint64_t s = SEED;

	for (size_t i = 0; i < QSORT_N; i++)
		src[i] = (double)(splitmix64(&s) >> 11) / 9007199254740992.0;
	for (size_t k = 0; k < QSORT_REPS; k++) {
		memcpy(work, src, sizeof(work));
		int64_t t0 = util_now_ns();
		qsort(work, QSORT_N, sizeof(*work), cmp_double);
		ms[k] = (double)(util_now_ns() - t0) / 1e6;
	}
	return bench_median(ms, QSORT_REPS);
}

/* ---------------------------------------------------------------- */
/* report                                                           */
/* ---------------------------------------------------------------- */

/* Time per VM grows no faster than log n: from the reference up, growth
 * stays at or below log_growth; from below up to it, at or above. */
static int growth_met(double vms, double growth, double log_growth)
{
	if (vms > REF_VMS)
		return growth <= log_growth;
	if (vms < REF_VMS)
		return growth >= log_growth;
	return 1;
}

static void report_case(bench_report *rep, const bench_case *bc,
			const case_out *o, double ref_ns)
{
	char name[BENCH_NAME_MAX];
	double vms = (double)(bc->hosts * VMS_PER_HOST);
	double growth = ref_ns > 0 ? o->ns_per_vm / ref_ns : 0;
	double log_growth = log(vms) / log(REF_VMS);
	bench_row *row;

	snprintf(name, sizeof(name), "%zux%d", bc->hosts, VMS_PER_HOST);
	row = bench_report_row(rep, name);
	bench_row_fig(row, "hosts", (double)bc->hosts, 0);
	bench_row_fig(row, "vms", vms, 0);
	bench_row_fig(row, "rounds", (double)bc->rounds, 0);
	bench_row_fig(row, "median_ms", o->median_ms, 3);
	bench_row_fig(row, "worst_ms", o->worst_ms, 3);
	bench_row_fig(row, "ns_per_vm", o->ns_per_vm, 1);
	bench_row_fig(row, "growth", growth, 3);
	bench_row_fig(row, "log_growth", log_growth, 3);
	bench_row_fig(row, "migrations", (double)o->migrations, 0);
	bench_row_fig(row, "resizes", (double)o->resizes, 0);
	bench_row_fig(row, "signals", (double)o->signals, 0);
	bench_row_fig(row, "shortages", (double)o->shortages, 0);
	bench_row_fig(row, "target_ms", bc->target_ms, 0);
	bench_row_fig(row, "met_ms", bc->target_ms <= 0 ||
					     o->median_ms <= bc->target_ms, 0);
	bench_row_fig(row, "met_growth", growth_met(vms, growth, log_growth),
		      0);
	/* 32 bits survive a double exactly; enough to see a change */
	bench_row_fig(row, "checksum",
		      (double)(uint32_t)(o->checksum ^ (o->checksum >> 32)), 0);
}

static void report_qsort(bench_report *rep, double q_ms, double round_ms)
{
	bench_row *row = bench_report_row(rep, "qsort10000");
	double ratio = q_ms > 0 ? round_ms / q_ms : 0;

	bench_row_fig(row, "qsort_ms", q_ms, 3);
	bench_row_fig(row, "round_1000x10_ms", round_ms, 3);
	bench_row_fig(row, "ratio", ratio, 2);
	bench_row_fig(row, "target_ratio", QSORT_TARGET_RATIO, 0);
	bench_row_fig(row, "met", ratio <= QSORT_TARGET_RATIO, 0);
}

/* bench_args() plus --hosts N: one size only (for profiles, e.g. under
 * callgrind with --toggle-collect=market_round). Returns as bench_args. */
static int parse_args(int argc, char **argv, int *smoke, bench_case *one)
{
	char *rest[8];
	int n = 0;

	memset(one, 0, sizeof(*one));
	for (int i = 0; i < argc; i++) {
		if (i > 0 && !strcmp(argv[i], "--hosts") && i + 1 < argc) {
			long h = strtol(argv[++i], NULL, 10);

			if (h < 10 || h > 100000) {
				fprintf(stderr, "bench_market: --hosts must be "
					"10 .. 100000, not '%s'\n", argv[i]);
				return -1;
			}
			one->hosts = (size_t)h;
			one->rounds = 15;
			continue;
		}
		if (n == 8) {
			fprintf(stderr, "bench_market: too many arguments\n");
			return -1;
		}
		rest[n++] = argv[i];
	}
	return bench_args(n, rest, usage, smoke);
}

int main(int argc, char **argv)
{
	const bench_case *cases = full_cases;
	size_t n = sizeof(full_cases) / sizeof(full_cases[0]);
	case_out outs[sizeof(full_cases) / sizeof(full_cases[0])];
	static bench_report rep;
	double ref_ns = 0, ref_ms = 0;
	bench_case one;
	int smoke, rc = parse_args(argc, argv, &smoke, &one);

	if (rc != 0)
		return rc > 0 ? 0 : 2;
	if (smoke) {
		cases = smoke_cases;
		n = sizeof(smoke_cases) / sizeof(smoke_cases[0]);
	}
	if (one.hosts) {
		cases = &one;
		n = 1;
	}
	for (size_t k = 0; k < n; k++) {
		if (run_case(&cases[k], &outs[k]) != 0)
			return 1;
		if (cases[k].hosts * VMS_PER_HOST == (size_t)REF_VMS) {
			ref_ns = outs[k].ns_per_vm;
			ref_ms = outs[k].median_ms;
		}
	}
	bench_report_init(&rep, "market");
	for (size_t k = 0; k < n; k++)
		report_case(&rep, &cases[k], &outs[k], ref_ns);
	report_qsort(&rep, qsort_ms(), ref_ms);
	bench_report_print(&rep);
	return 0;
}
