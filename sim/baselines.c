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
#include <stdio.h>
#include <stdlib.h>

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

/* The placed VMs grouped by host, once a step (a counting sort, O(V + H),
 * as market/market.c groups them): those of host h are
 * order[start[h] .. start[h + 1]), in trace order. */
struct by_host {
	size_t *start; /* n_hosts + 1 */
	size_t *order; /* n_vms */
};

static void by_host_free(struct by_host *b)
{
	free(b->start);
	free(b->order);
	b->start = b->order = NULL;
}

/* (Re)group by the VMs' current hosts. Returns 0, or -1 out of memory. */
static int by_host_fill(const sim_state *s, struct by_host *b)
{
	if (!b->start)
		b->start = malloc((s->n_hosts + 1) * sizeof(*b->start));
	if (!b->order)
		b->order = malloc((s->n_vms ? s->n_vms : 1) * sizeof(*b->order));
	if (!b->start || !b->order)
		return -1;
	for (size_t h = 0; h <= s->n_hosts; h++)
		b->start[h] = 0;
	for (size_t i = 0; i < s->n_vms; i++)
		if (s->x[i].placed)
			b->start[s->vms[i].host + 1]++;
	for (size_t h = 1; h <= s->n_hosts; h++) /* start[h]: first of h */
		b->start[h] += b->start[h - 1];
	for (size_t i = 0; i < s->n_vms; i++) /* start[h] runs to h's end */
		if (s->x[i].placed)
			b->order[b->start[s->vms[i].host]++] = i;
	for (size_t h = s->n_hosts; h > 0; h--) /* and back to h's first */
		b->start[h] = b->start[h - 1];
	b->start[0] = 0;
	return 0;
}

static int by_host_init(const sim_state *s, struct by_host *b, char *err,
			size_t errlen)
{
	*b = (struct by_host){ NULL, NULL };
	if (by_host_fill(s, b) == 0)
		return 0;
	by_host_free(b);
	snprintf(err, errlen, "out of memory for %zu VMs on %zu hosts",
		 s->n_vms, s->n_hosts);
	return -1;
}

/* Positions of the VMs placed on host h, in trace order, into s->idx. */
static size_t host_vms(sim_state *s, const struct by_host *b, size_t h)
{
	size_t n = b->start[h + 1] - b->start[h];
	for (size_t k = 0; k < n; k++)
		s->idx[k] = b->order[b->start[h] + k];
	return n;
}

int policy_static_step(sim_state *s, char *err, size_t errlen)
{
	struct by_host b;
	if (by_host_init(s, &b, err, errlen) != 0)
		return -1;
	/* shrinks first, so that growth can use what they free */
	for (size_t i = 0; i < s->n_vms; i++)
		if (s->x[i].placed)
			s->vms[i].assigned = min64(s->vms[i].assigned, s->x[i].prov);
	sim_sum_resident(s);
	for (size_t h = 0; h < s->n_hosts; h++) {
		size_t n = host_vms(s, &b, h);
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
	by_host_free(&b);
	return 0;
}

/* Hyper-V style share of host h: floors, then weighted up to the wants. */
static void share_by_weight(sim_state *s, const struct by_host *b, size_t h,
			    int equal_weights)
{
	size_t n = host_vms(s, b, h);
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
	struct by_host b;
	if (by_host_init(s, &b, err, errlen) != 0)
		return -1;
	for (size_t h = 0; h < s->n_hosts; h++)
		share_by_weight(s, &b, h, 0);
	by_host_free(&b);
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

static void esx_host(sim_state *s, const struct by_host *b, size_t h)
{
	size_t n = host_vms(s, b, h);
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
	struct by_host b;
	if (by_host_init(s, &b, err, errlen) != 0)
		return -1;
	for (size_t h = 0; h < s->n_hosts; h++)
		esx_host(s, &b, h);
	by_host_free(&b);
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

/* The hosts by load for the threshold rebalancer: a tournament tree whose
 * every node holds the least loaded host below it (lowest index on ties,
 * SIZE_MAX for none), so the least loaded host but one is O(log H) and a
 * move updates it in O(log H). */
struct load_tree {
	size_t size;  /* leaves: the first power of two >= n_hosts */
	size_t *node; /* 2 * size; node[size + h] is host h */
};

/* Is host a less loaded than host b (SIZE_MAX: no host, loaded most)? */
static int lt_before(const sim_state *s, size_t a, size_t b)
{
	if (a == SIZE_MAX || b == SIZE_MAX)
		return b == SIZE_MAX && a != SIZE_MAX;
	double ua = host_util(s, a), ub = host_util(s, b);
	return ua < ub || (ua == ub && a < b);
}

static size_t lt_min(const sim_state *s, size_t a, size_t b)
{
	return lt_before(s, b, a) ? b : a;
}

static void lt_update(const sim_state *s, struct load_tree *t, size_t h)
{
	for (size_t i = (t->size + h) / 2; i > 0; i /= 2)
		t->node[i] = lt_min(s, t->node[2 * i], t->node[2 * i + 1]);
}

static int lt_init(const sim_state *s, struct load_tree *t)
{
	t->size = 1;
	while (t->size < s->n_hosts)
		t->size *= 2;
	t->node = malloc(2 * t->size * sizeof(*t->node));
	if (!t->node)
		return -1;
	for (size_t i = 0; i < t->size; i++)
		t->node[t->size + i] = i < s->n_hosts ? i : SIZE_MAX;
	for (size_t i = t->size; i-- > 1;)
		t->node[i] = lt_min(s, t->node[2 * i], t->node[2 * i + 1]);
	return 0;
}

/* The least loaded host of [lo, hi). */
static size_t lt_query(const sim_state *s, const struct load_tree *t,
		       size_t lo, size_t hi)
{
	size_t best = SIZE_MAX;
	for (lo += t->size, hi += t->size; lo < hi; lo /= 2, hi /= 2) {
		if (lo & 1)
			best = lt_min(s, best, t->node[lo++]);
		if (hi & 1)
			best = lt_min(s, best, t->node[--hi]);
	}
	return best;
}

/* The least loaded host other than h (lowest index on ties). */
static size_t least_loaded(const sim_state *s, const struct load_tree *t,
			   size_t h)
{
	return lt_min(s, lt_query(s, t, 0, h),
		      lt_query(s, t, h + 1, s->n_hosts));
}

/* The threshold step's scratch: the VMs grouped by host at the start of
 * the step, and the VMs moved into each host since (a list per host), so
 * that a host's VMs now are its group less those that left plus those. */
struct thr_scratch {
	struct by_host b;
	struct load_tree t;
	size_t *in_head; /* per host: the last VM moved in, SIZE_MAX: none */
	size_t *in_next; /* per VM: the one moved in before it */
};

/* VM i of host h: a better pick than `pick` (want pick_want) for g? */
static int thr_better(const sim_state *s, size_t i, size_t h, int64_t g_want,
		      int64_t g_supply, int64_t g_free, size_t pick,
		      int64_t pick_want)
{
	const market_vm *v = &s->vms[i];
	int64_t want = market_vm_want(v);
	if (!s->x[i].placed || v->host != h ||
	    (double)(g_want + want) > s->cfg->threshold_util * (double)g_supply ||
	    v->assigned > g_free)
		return 0;
	return want > pick_want || (want == pick_want && i < pick);
}

/* Move the largest VM of host h that fits under the threshold at g (the
 * first in trace order on ties). */
static void threshold_move_one(sim_state *s, struct thr_scratch *r, size_t h,
			       size_t g)
{
	int64_t g_want = s->wanted[g], g_supply = sim_host_supply(s, g);
	int64_t g_free = g_supply - s->resident[g];
	size_t pick = SIZE_MAX;
	int64_t pick_want = -1;
	for (size_t j = r->b.start[h]; j < r->b.start[h + 1]; j++)
		if (thr_better(s, r->b.order[j], h, g_want, g_supply, g_free,
			       pick, pick_want)) {
			pick = r->b.order[j];
			pick_want = market_vm_want(&s->vms[pick]);
		}
	for (size_t i = r->in_head[h]; i != SIZE_MAX; i = r->in_next[i])
		if (thr_better(s, i, h, g_want, g_supply, g_free, pick,
			       pick_want)) {
			pick = i;
			pick_want = market_vm_want(&s->vms[pick]);
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
	r->in_next[pick] = r->in_head[g];
	r->in_head[g] = pick;
	lt_update(s, &r->t, h);
	lt_update(s, &r->t, g);
}

/* Every host above threshold_util moves one VM, in host order: O(V + H log
 * H). Then the groups are made again for the sharing. */
static int threshold_balance(sim_state *s, struct thr_scratch *r)
{
	sum_wanted(s);
	sim_sum_resident(s);
	r->in_head = malloc(s->n_hosts * sizeof(*r->in_head));
	r->in_next = malloc((s->n_vms ? s->n_vms : 1) * sizeof(*r->in_next));
	if (!r->in_head || !r->in_next || lt_init(s, &r->t) != 0)
		return -1;
	for (size_t h = 0; h < s->n_hosts; h++)
		r->in_head[h] = SIZE_MAX;
	uint64_t moves = s->migrations;
	for (size_t h = 0; h < s->n_hosts; h++)
		if (host_util(s, h) > s->cfg->threshold_util)
			threshold_move_one(s, r, h, least_loaded(s, &r->t, h));
	return s->migrations == moves ? 0 : by_host_fill(s, &r->b);
}

int policy_threshold_step(sim_state *s, char *err, size_t errlen)
{
	struct thr_scratch r = { 0 };
	if (by_host_init(s, &r.b, err, errlen) != 0)
		return -1;
	int rc = s->n_hosts > 1 ? threshold_balance(s, &r) : 0;
	if (rc == 0)
		for (size_t h = 0; h < s->n_hosts; h++)
			share_by_weight(s, &r.b, h, 1);
	else
		snprintf(err, errlen, "out of memory for %zu VMs on %zu hosts",
			 s->n_vms, s->n_hosts);
	by_host_free(&r.b);
	free(r.t.node);
	free(r.in_head);
	free(r.in_next);
	return rc;
}
