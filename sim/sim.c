/*
 * sim.c - the simulator loop: time grid, arrivals and departures,
 * placement, the policy step, the metrics (docs/simulator.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "banned.h"

static const char *const policy_names[SIM_N_POLICIES] = {
	[SIM_MARKET] = "market",     [SIM_STATIC] = "static",
	[SIM_HYPERV] = "hyperv",     [SIM_ESX] = "esx",
	[SIM_THRESHOLD] = "threshold", [SIM_DRS] = "drs",
	[SIM_REPACK] = "repack",
};

/* A month at 1-second steps is 2.6 million: ten million steps is more than
 * any trace this simulator is for, and a bound on a run's time when a trace
 * has a gap of years. */
#define SIM_MAX_STEPS 10000000ULL

typedef int (*policy_step_fn)(sim_state *s, char *err, size_t errlen);

static const policy_step_fn policy_steps[SIM_N_POLICIES] = {
	[SIM_MARKET] = policy_market_step,
	[SIM_STATIC] = policy_static_step,
	[SIM_HYPERV] = policy_hyperv_step,
	[SIM_ESX] = policy_esx_step,
	[SIM_THRESHOLD] = policy_threshold_step,
	[SIM_DRS] = policy_drs_step,
	[SIM_REPACK] = policy_repack_step,
};

const char *sim_policy_name(sim_policy p)
{
	return (unsigned)p < SIM_N_POLICIES ? policy_names[p] : "?";
}

int sim_policy_parse(const char *name, sim_policy *out)
{
	for (int p = 0; p < SIM_N_POLICIES; p++) {
		if (strcmp(name, policy_names[p]) == 0) {
			*out = (sim_policy)p;
			return 0;
		}
	}
	return -1;
}

void sim_config_default(sim_config *c)
{
	memset(c, 0, sizeof(*c));
	c->n_hosts = 8;
	c->host_mib = 32 * 1024;
	c->host_reserve_mib = 1024;
	c->step_s = 300;
	c->hold_s = 600;
	c->vm_minimum_mib = 512;
	c->vm_startup_mib = 1024;
	c->vm_buffer_pct = 20;
	c->vm_weight = 5000;
	c->vm_shares = 1000;
	c->lag_steps = 1;
	c->migration_instant = 0;
	c->migrate_mibps = 1100;
	c->dirty_mibps = 100;
	c->downtime_ms = 300;
	c->migrate_per_host = 2;
	c->return_window_s = 86400;
	c->esx_max_balloon = 0.65;
	c->threshold_util = 0.85;
	market_params_default(&c->market);
	/* strong baselines: docs/baselines.md says why each value */
	c->esx_touched_sticky = 0;
	c->drs_moves = 1;
	c->drs_stay_s = 3600;
	c->drs_over_weight = 4.0;
	c->drs_soft_util = 0.90;
	c->drs_move_cost = 0.05;
	c->drs_sources = 4;
	c->drs_dests = 4;
}

/* The strong baselines' fields (docs/baselines.md), or NULL if all good. */
static const char *sim_config_bad_baseline(const sim_config *c)
{
	if (c->esx_touched_sticky != 0 && c->esx_touched_sticky != 1)
		return "esx touched sticky must be 0 or 1";
	if (c->drs_moves < 1 || c->drs_moves > 1000)
		return "drs moves per step must be between 1 and 1000";
	if (c->drs_stay_s < 0 || c->drs_stay_s > 30 * 86400)
		return "drs stay must be between 0 and 30 days (in seconds)";
	if (!(c->drs_over_weight >= 0 && c->drs_over_weight <= 1000))
		return "drs over weight must be between 0 and 1000";
	if (!(c->drs_soft_util > 0 && c->drs_soft_util <= 1))
		return "drs soft utilization must be in (0, 1]";
	if (!(c->drs_move_cost >= 0 && c->drs_move_cost <= 1000))
		return "drs move cost must be between 0 and 1000 per MiB";
	if (c->drs_sources < 1 || c->drs_dests < 1)
		return "drs sources and destinations must be at least 1";
	return NULL;
}

/* The lag ring keeps lag + 1 observations per VM: 1000 steps (3.5 days at
 * 300 s) is far past any broker's delay and bounds that memory. */
#define SIM_MAX_LAG_STEPS 1000

int sim_config_validate(const sim_config *c, char *err, size_t errlen)
{
	const char *bad = NULL;
	if (c->n_hosts < 1 || c->n_hosts > 100000)
		bad = "hosts must be between 1 and 100000";
	else if (c->host_mib < 1024 || c->host_mib > (int64_t)1 << 32)
		bad = "host memory must be between 1 GiB and 4 PiB";
	else if (c->host_reserve_mib < 0 || c->host_reserve_mib >= c->host_mib)
		bad = "host reserve must be >= 0 and below the host's memory";
	else if (c->step_s < 1 || c->step_s > 86400)
		bad = "step must be between 1 and 86400 seconds";
	else if (c->hold_s < 0)
		bad = "hold must be >= 0 seconds";
	else if (c->vm_minimum_mib < 1 || c->vm_startup_mib < c->vm_minimum_mib)
		bad = "VM minimum must be >= 1 MiB and startup >= minimum";
	else if (c->vm_buffer_pct > 2000)
		bad = "VM buffer must be between 0 and 2000 %";
	else if (c->vm_weight > 10000)
		bad = "VM weight must be between 0 and 10000";
	else if (c->vm_shares < 1 || c->vm_shares > 1000000)
		bad = "VM shares must be between 1 and 1000000";
	else if (c->lag_steps > SIM_MAX_LAG_STEPS)
		bad = "lag must be between 0 and 1000 steps";
	else if (!(c->migrate_mibps >= 1 && c->migrate_mibps <= 1e6))
		bad = "migration bandwidth must be between 1 and 1000000 MiB/s";
	else if (!(c->dirty_mibps >= 0 && c->dirty_mibps <= 1e6))
		bad = "dirty rate must be between 0 and 1000000 MiB/s";
	else if (!(c->downtime_ms >= 1 && c->downtime_ms <= 60000))
		bad = "migration downtime must be between 1 and 60000 ms";
	else if (c->migrate_per_host < 1 || c->migrate_per_host > 64)
		bad = "migrations per host must be between 1 and 64";
	else if (c->return_window_s < 0 || c->return_window_s > 365 * 86400)
		bad = "return window must be between 0 and 365 days";
	else if (!(c->esx_max_balloon >= 0 && c->esx_max_balloon <= 1))
		bad = "esx max balloon must be between 0 and 1";
	else if (!(c->threshold_util > 0 && c->threshold_util <= 1))
		bad = "threshold utilization must be in (0, 1]";
	else
		bad = sim_config_bad_baseline(c);
	if (bad) {
		snprintf(err, errlen, "%s", bad);
		return -1;
	}
	return market_params_validate(&c->market, err, errlen);
}

int64_t sim_host_supply(const sim_state *s, size_t h)
{
	return s->hosts[h].capacity - s->hosts[h].reserve;
}

void sim_sum_resident(sim_state *s)
{
	for (size_t h = 0; h < s->n_hosts; h++)
		s->resident[h] = 0;
	for (size_t i = 0; i < s->n_vms; i++)
		if (s->x[i].placed)
			s->resident[s->vms[i].host] +=
				s->vms[i].assigned - s->x[i].swapped;
}


static void state_free(sim_state *s)
{
	free(s->hosts);
	free(s->vms);
	free(s->x);
	free(s->mvms);
	free(s->mmap);
	free(s->idx);
	free(s->arrivals);
	free(s->hheap);
	free(s->lo);
	free(s->hi);
	free(s->out);
	free(s->w);
	free(s->active);
	free(s->resident);
	free(s->wanted);
	free(s->cursor);
	lag_free(s);
	mig_free(s);
	market_result_release(&s->res);
	memset(s, 0, sizeof(*s));
}

static int state_init(sim_state *s, const sim_config *c, const trace_set *t)
{
	size_t nv = t->n_vms ? t->n_vms : 1, nh = c->n_hosts;
	memset(s, 0, sizeof(*s));
	s->cfg = c;
	s->n_hosts = nh;
	s->n_vms = t->n_vms;
	s->last_provision = -1;
	s->hosts = calloc(nh, sizeof(*s->hosts));
	s->vms = calloc(nv, sizeof(*s->vms));
	s->x = calloc(nv, sizeof(*s->x));
	s->mvms = calloc(nv, sizeof(*s->mvms));
	s->mmap = calloc(nv, sizeof(*s->mmap));
	s->idx = calloc(nv, sizeof(*s->idx));
	s->arrivals = calloc(nv, sizeof(*s->arrivals));
	s->hheap = calloc(nh, sizeof(*s->hheap));
	s->lo = calloc(nv, sizeof(*s->lo));
	s->hi = calloc(nv, sizeof(*s->hi));
	s->out = calloc(nv, sizeof(*s->out));
	s->w = calloc(nv, sizeof(*s->w));
	s->active = calloc(nv, sizeof(*s->active));
	s->resident = calloc(nh, sizeof(*s->resident));
	s->wanted = calloc(nh, sizeof(*s->wanted));
	s->cursor = calloc(nv, sizeof(*s->cursor));
	if (!s->hosts || !s->vms || !s->x || !s->mvms || !s->mmap || !s->idx ||
	    !s->arrivals || !s->hheap || !s->lo || !s->hi || !s->out || !s->w || !s->active ||
	    !s->resident || !s->wanted || !s->cursor || lag_init(s) != 0 ||
	    mig_init(s) != 0 ||
	    market_result_init(&s->res, nh, nv) != 0) {
		state_free(s);
		return -1;
	}
	for (size_t h = 0; h < nh; h++) {
		s->hosts[h].id = (uint32_t)h;
		s->hosts[h].capacity = c->host_mib;
		s->hosts[h].reserve = c->host_reserve_mib;
		s->hosts[h].online = 1;
	}
	for (size_t i = 0; i < t->n_vms; i++) {
		market_vm *v = &s->vms[i];
		v->id = t->vms[i].id;
		v->buffer_pct = c->vm_buffer_pct;
		v->weight = c->vm_weight;
		v->shares = c->vm_shares;
		v->last_migrated = MARKET_NEVER;
	}
	return 0;
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

void sim_vm_settings(const sim_config *c, int64_t prov_mib, market_vm *v)
{
	v->maximum = prov_mib;
	v->minimum = min64(c->vm_minimum_mib, prov_mib);
	v->startup = min64(c->vm_startup_mib, prov_mib);
	v->buffer_pct = c->vm_buffer_pct;
	v->weight = c->vm_weight;
	v->reservation = 0;
	v->limit = 0;
	v->shares = c->vm_shares;
}

/* Take the trace's values at t; a VM that left frees its memory. */
static void update_vms(sim_state *s, const trace_set *t, int64_t now)
{
	const sim_config *c = s->cfg;
	for (size_t i = 0; i < s->n_vms; i++) {
		market_vm *v = &s->vms[i];
		sim_vmx *x = &s->x[i];
		int64_t prov = 0, demand = 0;
		double swap = 0;
		x->alive = trace_at_from(&t->vms[i], &s->cursor[i], now,
					 c->hold_s, &prov, &demand, &swap);
		if (!x->alive) {
			x->placed = 0;
			v->assigned = 0;
			x->swapped = 0;
			x->touched = 0;
			x->prev_short = 0;
			x->prev_demand = -1;
			v->guest_swap_mibps = 0;
			continue;
		}
		x->prov = prov;
		v->demand = demand;
		sim_vm_settings(c, prov, v);
		if (x->placed) /* Minimum is fixed at admission */
			v->minimum = min64(x->admitted_min, prov);
		if (swap > v->guest_swap_mibps)
			v->guest_swap_mibps = swap;
	}
}

/* Free memory of host h as placement sees it. */
static int64_t host_free(const sim_state *s, uint32_t h)
{
	return sim_host_supply(s, h) - s->resident[h];
}

/* Heap order of hosts: more free first, then the lower index (the host a
 * scan for the most free memory finds first). */
static int heap_above(const sim_state *s, uint32_t a, uint32_t b)
{
	int64_t fa = host_free(s, a), fb = host_free(s, b);

	return fa != fb ? fa > fb : a < b;
}

static void heap_down(sim_state *s, size_t k, size_t n)
{
	uint32_t *H = s->hheap;

	for (;;) {
		size_t l = 2 * k + 1, r = l + 1, m = k;
		if (l < n && heap_above(s, H[l], H[m]))
			m = l;
		if (r < n && heap_above(s, H[r], H[m]))
			m = r;
		if (m == k)
			return;
		uint32_t t = H[k];
		H[k] = H[m];
		H[m] = t;
		k = m;
	}
}

/* The hosts in a max-heap by free memory: O(H). */
static void heap_build(sim_state *s)
{
	for (size_t h = 0; h < s->n_hosts; h++)
		s->hheap[h] = (uint32_t)h;
	for (size_t k = s->n_hosts / 2; k-- > 0;)
		heap_down(s, k, s->n_hosts);
}

/* Larger provisioned first, then lower id: first-fit-decreasing order
 * (ids are unique, so the order is total and qsort's is deterministic). */
static int arrival_cmp(const void *pa, const void *pb)
{
	const struct sim_arrival *a = pa, *b = pb;

	if (a->prov != b->prov)
		return a->prov > b->prov ? -1 : 1;
	return a->id < b->id ? -1 : (a->id > b->id);
}

/* The VMs alive without a host, in first-fit-decreasing order. Returns how
 * many. O(V + n log n). */
static size_t sort_arrivals(sim_state *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n_vms; i++) {
		if (!s->x[i].alive || s->x[i].placed)
			continue;
		s->arrivals[n].prov = s->x[i].prov;
		s->arrivals[n].id = s->vms[i].id;
		s->arrivals[n++].vm = i;
	}
	qsort(s->arrivals, n, sizeof(*s->arrivals), arrival_cmp);
	return n;
}

/* What must be free on a host to start VM i, as each product admits VMs:
 * static its provisioned size; Hyper-V its Startup (it will not start a VM
 * without it); ESX its reservation (the rest is reclaimed from the others
 * once it runs); the market and the threshold rebalancer its floor. */
static int64_t placement_need(const sim_state *s, size_t i, sim_policy p)
{
	const market_vm *v = &s->vms[i];
	switch (p) {
	case SIM_STATIC: return s->x[i].prov;
	case SIM_HYPERV: return v->startup;
	case SIM_ESX: return v->reservation;
	default: return market_vm_floor(v);
	}
}

/* Place VMs that are alive but not running, largest first, each on the host
 * with the most free memory (lowest index on ties; a heap, O(log H) a VM),
 * if it has what placement_need() asks. The VM starts at Startup, or at
 * what is free if that is less (never below the need). Returns how many
 * could not be placed. */
static uint64_t place_arrivals(sim_state *s, sim_policy p)
{
	size_t n = sort_arrivals(s);
	uint64_t refused = 0;

	sim_sum_resident(s);
	if (n > 0)
		heap_build(s);
	for (size_t k = 0; k < n; k++) {
		size_t i = s->arrivals[k].vm;
		market_vm *v = &s->vms[i];
		uint32_t h = s->hheap[0];
		int64_t free_mib = host_free(s, h);
		int64_t need = placement_need(s, i, p);
		if (free_mib < need) {
			refused++;
			continue;
		}
		v->host = h;
		v->assigned = p == SIM_STATIC ? need
					      : min64(free_mib, v->startup);
		if (v->assigned < need)
			v->assigned = need;
		s->x[i].placed = 1;
		s->x[i].admitted_min = v->minimum;
		s->x[i].touched = v->assigned;
		s->x[i].swapped = 0;
		s->resident[h] += v->assigned;
		heap_down(s, 0, s->n_hosts);
	}
	return refused;
}

/* No policy may put more resident memory on a host than it sells. */
static int check_hosts(sim_state *s, char *err, size_t errlen)
{
	sim_sum_resident(s);
	for (size_t h = 0; h < s->n_hosts; h++) {
		int64_t r = s->resident[h], sup = mig_supply(s, h);
		if (r > sup) {
			snprintf(err, errlen,
				 "it put %lld MiB on host %zu which sells %lld "
				 "MiB (round %lld)", (long long)r, h,
				 (long long)sup, (long long)s->round);
			return -1;
		}
	}
	return 0;
}

static void measure(sim_state *s, sim_metrics *m, uint64_t refused)
{
	const double hours = (double)s->cfg->step_s / 3600.0;
	double held = 0, prov = 0, short_mib = 0, demand_mib = 0;
	for (size_t i = 0; i < s->n_vms; i++) {
		market_vm *v = &s->vms[i];
		sim_vmx *x = &s->x[i];
		if (!x->alive)
			continue;
		m->vm_intervals++;
		if (x->placed)
			prov += (double)x->prov;
		int64_t eff = x->placed ? v->assigned - x->swapped : 0;
		int64_t shortfall = v->demand > eff ? v->demand - eff : 0;
		m->pressure_gib_h += (double)shortfall / 1024.0 * hours;
		short_mib += (double)shortfall;
		demand_mib += (double)v->demand;
		if (v->demand > 0 && v->demand >= eff)
			m->pressured_share += 1;
		if (shortfall > x->prev_short)
			m->guest_swap_gib += (double)(shortfall - x->prev_short) / 1024.0;
		v->guest_swap_mibps = shortfall > x->prev_short
			? (double)(shortfall - x->prev_short) / (double)s->cfg->step_s
			: 0;
		x->prev_short = shortfall;
		m->host_swap_gib_h += (double)x->swapped / 1024.0 * hours;
		held += (double)eff;
		if (x->placed && !x->moved && s->before[i] >= 0 &&
		    s->before[i] != v->assigned)
			m->resizes++;
		x->moved = 0;
		x->prev_demand = v->demand;
	}
	m->held_gib_avg += held / 1024.0;
	m->provisioned_gib_avg += prov / 1024.0;
	m->refused += refused;
	double in_flight = 0;
	for (size_t h = 0; h < s->n_hosts; h++) { /* check_hosts() summed */
		double u = (double)(s->resident[h] + s->inflight_in[h]) /
			   (double)s->hosts[h].capacity;
		in_flight += (double)s->inflight_in[h];
		if (u > m->peak_host_util)
			m->peak_host_util = u;
	}
	m->double_held_gib_h += in_flight / 1024.0 * hours;
	m->steps++;
	if (s->obs) {
		sim_step_point pt = {
			.step = m->steps - 1, .t = s->now,
			.pressure_gib = short_mib / 1024.0,
			.held_gib = held / 1024.0,
			.demand_gib = demand_mib / 1024.0,
			.migrations = s->mig.migrations,
		};
		s->obs(&pt, s->obs_ctx);
	}
}

static void finish(sim_metrics *m, const sim_state *s)
{
	if (m->vm_intervals)
		m->pressured_share /= (double)m->vm_intervals;
	if (m->steps) {
		m->held_gib_avg /= (double)m->steps;
		m->provisioned_gib_avg /= (double)m->steps;
	}
	if (m->provisioned_gib_avg > 0)
		m->saved_share = 1.0 - m->held_gib_avg / m->provisioned_gib_avg;
	m->migrations = s->mig.migrations;
	m->mig_deferred = s->mig.mig_deferred;
	m->mig_no_room = s->mig.mig_no_room;
	m->mig_no_converge = s->mig.mig_no_converge;
	m->return_migrations = s->mig.return_migrations;
	m->gib_moved = s->mig.gib_moved;
	m->migration_s = s->mig.migration_s;
	m->provision_signals = s->provision_signals;
	m->suspend_signals = s->suspend_signals;
	m->signal_flips = s->signal_flips;
	m->suspend_after_provision = s->suspend_after_provision;
}

/* What every run checks first: a valid config and a trace that fits the
 * time grid. Returns 0, or -1 with a message. */
static int check_run(const sim_config *c, const trace_set *t, char *err,
		     size_t errlen)
{
	if (sim_config_validate(c, err, errlen) != 0)
		return -1;
	if (t->n_vms == 0) {
		snprintf(err, errlen, "the trace has no VMs");
		return -1;
	}
	if (t->t_max < t->t_min ||
	    (uint64_t)(t->t_max - t->t_min) / (uint64_t)c->step_s >= SIM_MAX_STEPS) {
		snprintf(err, errlen, "the trace spans %lld s (%lld to %lld), "
			 "more than %llu steps of %lld s", (long long)(t->t_max - t->t_min),
			 (long long)t->t_min, (long long)t->t_max,
			 (unsigned long long)SIM_MAX_STEPS, (long long)c->step_s);
		return -1;
	}
	return 0;
}

/* One interval's lower bound, MiB short (sim.h, sim_lower_bound()): the
 * demand of each VM above what one host sells, plus the VMs' demand
 * (capped at a host) above what the cluster sells. */
static int64_t bound_step(const sim_state *s)
{
	int64_t supply = sim_host_supply(s, 0), over = 0, need = 0;

	for (size_t i = 0; i < s->n_vms; i++) {
		int64_t d = s->vms[i].demand;

		if (!s->x[i].alive)
			continue;
		if (d > supply) {
			over += d - supply;
			d = supply;
		}
		need += d;
	}
	need -= supply * (int64_t)s->n_hosts;
	return over + (need > 0 ? need : 0);
}

int sim_lower_bound(const sim_config *c, const trace_set *t, double *gib_h,
		    char *err, size_t errlen)
{
	const double hours = (double)c->step_s / 3600.0;
	sim_state s;

	*gib_h = 0;
	if (check_run(c, t, err, errlen) != 0)
		return -1;
	if (state_init(&s, c, t) != 0) { /* it freed what it had */
		snprintf(err, errlen, "out of memory for %zu VMs", t->n_vms);
		return -1;
	}
	for (int64_t now = t->t_min; now <= t->t_max; now += c->step_s) {
		update_vms(&s, t, now);
		*gib_h += (double)bound_step(&s) / 1024.0 * hours;
	}
	state_free(&s);
	return 0;
}

/* One step of policy p at time now (policy.h gives the order). */
static int sim_step(sim_state *s, const trace_set *t, sim_policy p,
		    sim_step_fn step, int64_t now, sim_metrics *out, char *err,
		    size_t errlen)
{
	s->now = now;
	update_vms(s, t, now);
	lag_record(s);
	mig_advance(s);
	uint64_t refused = place_arrivals(s, p);
	mig_snapshot(s);
	mig_hide(s);
	lag_apply(s);
	int rc = step(s, err, errlen);
	lag_restore(s);
	mig_unhide(s);
	if (rc != 0)
		return -1;
	mig_commit(s, now);
	if (check_hosts(s, err, errlen) != 0)
		return -1;
	measure(s, out, refused);
	s->round++;
	return 0;
}

int sim_run(const sim_config *c, const trace_set *t, sim_policy p,
	    sim_metrics *out, char *err, size_t errlen)
{
	return sim_run_observed(c, t, p, NULL, NULL, out, err, errlen);
}

/* sim_run_step() telling obs each step's figures. */
static int run_loop(const sim_config *c, const trace_set *t,
		    sim_policy placement, sim_step_fn step, sim_observer obs,
		    void *ctx, sim_metrics *out, char *err, size_t errlen)
{
	sim_state s;
	int rc = -1;
	memset(out, 0, sizeof(*out));
	if (check_run(c, t, err, errlen) != 0)
		return -1;
	if (state_init(&s, c, t) != 0) { /* it freed what it had */
		snprintf(err, errlen, "out of memory for %zu VMs", t->n_vms);
		return -1;
	}
	s.obs = obs;
	s.obs_ctx = ctx;
	for (int64_t now = t->t_min; now <= t->t_max; now += c->step_s)
		if (sim_step(&s, t, placement, step, now, out, err, errlen) != 0)
			goto out;
	finish(out, &s);
	rc = 0;
out:
	state_free(&s);
	return rc;
}

int sim_run_step(const sim_config *c, const trace_set *t, sim_policy placement,
		 sim_step_fn step, sim_metrics *out, char *err, size_t errlen)
{
	return run_loop(c, t, placement, step, NULL, NULL, out, err, errlen);
}

int sim_run_observed(const sim_config *c, const trace_set *t, sim_policy p,
		     sim_observer obs, void *ctx, sim_metrics *out, char *err,
		     size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if ((unsigned)p >= SIM_N_POLICIES) {
		snprintf(err, errlen, "unknown policy %d", (int)p);
		return -1;
	}
	return run_loop(c, t, p, policy_steps[p], obs, ctx, out, err, errlen);
}
