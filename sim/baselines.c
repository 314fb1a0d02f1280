/*
 * baselines.c - the policies bourse is compared with (docs/simulator.md):
 *
 *  static     every VM keeps its provisioned size; no overcommit.
 *  hyperv     Hyper-V Dynamic Memory's balancer: target = demand + buffer
 *             within [Minimum, Maximum]; in shortage weight decides; the
 *             host never overcommits and never swaps.
 *  esx        ESX: a VM keeps what it touched; under contention memory is
 *             reclaimed by min-funding revocation with the idle memory tax,
 *             ballooning first (the balloon may take up to esx_max_balloon
 *             of the VM's configured memory out of what it holds), then
 *             host swapping for what no balloon can reach, from the VMs
 *             min-funding revocation picks (docs/baselines.md).
 *             esx_touched_sticky keeps the model of before issue 13.
 *  threshold  a classic rebalancer: hosts above threshold_util migrate
 *             their largest VM that fits to the least loaded host; memory
 *             is shared like hyperv with equal weights.
 */
#include <math.h>

#include "policy.h"
#include "banned.h"

static int64_t max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* Positions of the VMs placed on host h, in trace order, into s->idx. */
static size_t host_vms(sim_state *s, size_t h)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n_vms; i++)
		if (s->x[i].placed && s->vms[i].host == h)
			s->idx[n++] = i;
	return n;
}

int policy_static_step(sim_state *s, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	/* shrinks first, so that growth can use what they free */
	for (size_t i = 0; i < s->n_vms; i++)
		if (s->x[i].placed)
			s->vms[i].assigned = min64(s->vms[i].assigned, s->x[i].prov);
	sim_sum_resident(s);
	for (size_t h = 0; h < s->n_hosts; h++) {
		size_t n = host_vms(s, h);
		int64_t free_mib = sim_host_supply(s, h) - s->resident[h];
		for (size_t k = 0; k < n; k++) {
			market_vm *v = &s->vms[s->idx[k]];
			int64_t grow = min64(s->x[s->idx[k]].prov - v->assigned,
					     free_mib);
			if (grow > 0) {
				v->assigned += grow;
				free_mib -= grow;
			}
		}
	}
	return 0;
}

/* Hyper-V style share of host h: floors, then weighted up to the wants. */
static void share_by_weight(sim_state *s, size_t h, int equal_weights)
{
	size_t n = host_vms(s, h);
	for (size_t k = 0; k < n; k++) {
		const market_vm *v = &s->vms[s->idx[k]];
		s->lo[k] = market_vm_floor(v);
		s->hi[k] = market_vm_want(v);
		s->w[k] = equal_weights ? 1.0 : (double)(v->weight ? v->weight : 1);
	}
	alloc_weighted(n, s->lo, s->hi, s->w, sim_host_supply(s, h), s->out);
	for (size_t k = 0; k < n; k++)
		s->vms[s->idx[k]].assigned = s->out[k];
}

int policy_hyperv_step(sim_state *s, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	for (size_t h = 0; h < s->n_hosts; h++)
		share_by_weight(s, h, 0);
	return 0;
}

/* ESX under contention: what each VM may be ballooned down to. The balloon
 * may grow to esx_max_balloon of the VM's configured memory (Maximum;
 * sched.mem.maxmemctl), and every MiB it takes comes out of what the VM
 * holds: the VM keeps its touched memory less that, at least its
 * reservation. With esx_touched_sticky (before issue 13) the guest instead
 * kept min(touched, the rest of its configured memory). */
static int64_t esx_balloon_floor(const sim_state *s, const market_vm *v,
				 int64_t touched)
{
	double share = s->cfg->esx_max_balloon;
	if (s->cfg->esx_touched_sticky) {
		int64_t keep = (int64_t)ceil((1.0 - share) *
					     (double)market_vm_ceiling(v));
		return max64(v->reservation, min64(touched, keep));
	}
	int64_t balloon = (int64_t)floor(share * (double)v->maximum);
	return max64(v->reservation, touched - balloon);
}

/* Sticky model: host-swap `excess` MiB of host h's VMs, in proportion to
 * what each holds above its reservation. */
static void esx_swap_spread(sim_state *s, size_t n, int64_t excess)
{
	int64_t base = 0, done = 0;
	for (size_t k = 0; k < n; k++)
		base += s->lo[k] - s->vms[s->idx[k]].reservation;
	for (size_t k = 0; k < n && base > 0; k++) {
		int64_t room = s->lo[k] - s->vms[s->idx[k]].reservation;
		s->x[s->idx[k]].swapped = (int64_t)((double)excess *
						    (double)room / (double)base);
		done += s->x[s->idx[k]].swapped;
	}
	for (size_t k = 0; k < n && done < excess; k++) {
		sim_vmx *x = &s->x[s->idx[k]];
		int64_t room = s->lo[k] - s->vms[s->idx[k]].reservation - x->swapped;
		int64_t more = min64(room, excess - done);
		x->swapped += more;
		done += more;
	}
}

/* Every balloon at its floor (s->lo) and still `supply` short: the host
 * swaps. Which VM loses how much is min-funding revocation's answer again,
 * between each VM's reservation and its balloon floor: shares per taxed
 * MiB, idle memory first. Each VM's swap is its floor less that target.
 * (ESX picks the pages at random inside a VM; the engine counts a VM
 * short only where its demand exceeds assigned less swapped.) */
static void esx_host_swap(sim_state *s, size_t n, int64_t supply)
{
	if (s->cfg->esx_touched_sticky) {
		int64_t sum_lo = 0;
		for (size_t k = 0; k < n; k++)
			sum_lo += s->lo[k];
		esx_swap_spread(s, n, sum_lo - supply);
		return;
	}
	for (size_t k = 0; k < n; k++) { /* hi := balloon floor, lo := res. */
		s->hi[k] = s->lo[k];
		s->lo[k] = s->vms[s->idx[k]].reservation;
	}
	alloc_min_funding(n, s->lo, s->hi, s->w, s->active,
			  s->cfg->market.idle_tax, supply, s->out);
	for (size_t k = 0; k < n; k++) {
		s->x[s->idx[k]].swapped = s->hi[k] - s->out[k];
		s->lo[k] = s->hi[k]; /* the VM is assigned its balloon floor */
	}
}

static void esx_host(sim_state *s, size_t h)
{
	size_t n = host_vms(s, h);
	int64_t supply = sim_host_supply(s, h), sum_hi = 0, sum_lo = 0;
	for (size_t k = 0; k < n; k++) {
		market_vm *v = &s->vms[s->idx[k]];
		sim_vmx *x = &s->x[s->idx[k]];
		x->touched = max64(x->touched,
				   min64(v->demand, market_vm_ceiling(v)));
		x->touched = max64(x->touched, v->reservation);
		x->swapped = 0;
		s->hi[k] = x->touched;
		s->lo[k] = esx_balloon_floor(s, v, x->touched);
		s->w[k] = (double)v->shares;
		s->active[k] = (double)v->demand;
		sum_hi += s->hi[k];
		sum_lo += s->lo[k];
	}
	if (sum_lo > supply) {
		esx_host_swap(s, n, supply);
		for (size_t k = 0; k < n; k++)
			s->out[k] = s->lo[k];
	} else if (sum_hi > supply) {
		alloc_min_funding(n, s->lo, s->hi, s->w, s->active,
				  s->cfg->market.idle_tax, supply, s->out);
	} else {
		for (size_t k = 0; k < n; k++)
			s->out[k] = s->hi[k];
	}
	for (size_t k = 0; k < n; k++) {
		s->vms[s->idx[k]].assigned = s->out[k];
		s->x[s->idx[k]].touched = s->out[k]; /* reclaimed pages are gone */
	}
}

int policy_esx_step(sim_state *s, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	for (size_t h = 0; h < s->n_hosts; h++)
		esx_host(s, h);
	return 0;
}

/* Fill s->wanted (sum of wants per host) in one pass. */
static void sum_wanted(sim_state *s)
{
	for (size_t h = 0; h < s->n_hosts; h++)
		s->wanted[h] = 0;
	for (size_t i = 0; i < s->n_vms; i++)
		if (s->x[i].placed)
			s->wanted[s->vms[i].host] += market_vm_want(&s->vms[i]);
}

static double host_util(const sim_state *s, size_t h)
{
	return (double)s->wanted[h] / (double)sim_host_supply(s, h);
}

/* The least loaded host other than h (lowest index on ties). */
static size_t least_loaded(const sim_state *s, size_t h)
{
	size_t best = SIZE_MAX;
	double best_u = 0;
	for (size_t g = 0; g < s->n_hosts; g++) {
		double u = host_util(s, g);
		if (g != h && (best == SIZE_MAX || u < best_u)) {
			best = g;
			best_u = u;
		}
	}
	return best;
}

/* Move the largest VM of host h that fits under the threshold at g. */
static void threshold_move_one(sim_state *s, size_t h, size_t g)
{
	const double thr = s->cfg->threshold_util;
	int64_t g_want = s->wanted[g], g_supply = sim_host_supply(s, g);
	int64_t g_free = g_supply - s->resident[g];
	size_t n = host_vms(s, h), pick = SIZE_MAX;
	int64_t pick_want = -1;
	for (size_t k = 0; k < n; k++) {
		const market_vm *v = &s->vms[s->idx[k]];
		int64_t want = market_vm_want(v);
		if ((double)(g_want + want) > thr * (double)g_supply ||
		    v->assigned > g_free)
			continue;
		if (want > pick_want) {
			pick = s->idx[k];
			pick_want = want;
		}
	}
	if (pick == SIZE_MAX)
		return;
	s->vms[pick].host = (uint32_t)g;
	s->x[pick].moved = 1;
	s->migrations++;
	s->wanted[h] -= pick_want;
	s->wanted[g] += pick_want;
	s->resident[h] -= s->vms[pick].assigned;
	s->resident[g] += s->vms[pick].assigned;
}

int policy_threshold_step(sim_state *s, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	if (s->n_hosts > 1) {
		sum_wanted(s);
		sim_sum_resident(s);
		for (size_t h = 0; h < s->n_hosts; h++)
			if (host_util(s, h) > s->cfg->threshold_util)
				threshold_move_one(s, h, least_loaded(s, h));
	}
	for (size_t h = 0; h < s->n_hosts; h++)
		share_by_weight(s, h, 1);
	return 0;
}
