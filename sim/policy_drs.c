/*
 * policy_drs.c - the `drs` baseline: a DRS-like greedy rebalancer
 * (docs/baselines.md), and the demand-first sharing of a host that it
 * shares with `repack`.
 *
 * Each step: a host's cost is drs_over_weight x (demand above what it
 * sells) + (wants above drs_soft_util of what it sells); the move that
 * lowers the cluster's cost most, less drs_move_cost x the MiB it copies,
 * is made if that is positive, up to drs_moves times. Only the VMs of the
 * drs_sources costliest hosts are tried, each against the drs_dests hosts
 * with the least wanted: O(V + H log H) a step, not O(V x H). The
 * destination must fit the VM's demand; a VM that moved stays put for
 * drs_stay_s. Then every host is shared demand first.
 */
#include <stdio.h>
#include <stdlib.h>

#include "policy.h"
#include "banned.h"

int64_t sim_vm_need(const market_vm *v)
{
	int64_t ceil = market_vm_ceiling(v), floor = market_vm_floor(v);
	int64_t d = v->demand < ceil ? v->demand : ceil;
	return d > floor ? d : floor;
}

/* The placed VMs bucketed by host: those of host h are
 * order[start[h] .. start[h + 1]), in trace order. */
struct buckets {
	size_t *start; /* n_hosts + 1 */
	size_t *order; /* n_vms */
};

static void buckets_free(struct buckets *b)
{
	free(b->start);
	free(b->order);
	b->start = b->order = NULL;
}

/* Counting sort by host, O(V + H). Returns 0, or -1 (out of memory). */
static int buckets_fill(const sim_state *s, struct buckets *b, char *err,
			size_t errlen)
{
	b->start = calloc(s->n_hosts + 1, sizeof(*b->start));
	b->order = calloc(s->n_vms ? s->n_vms : 1, sizeof(*b->order));
	if (!b->start || !b->order) {
		buckets_free(b);
		snprintf(err, errlen, "out of memory for %zu VMs", s->n_vms);
		return -1;
	}
	for (size_t i = 0; i < s->n_vms; i++)
		if (s->x[i].placed)
			b->start[s->vms[i].host]++;
	for (size_t h = 1; h < s->n_hosts; h++) /* start[h]: end of host h */
		b->start[h] += b->start[h - 1];
	b->start[s->n_hosts] = b->start[s->n_hosts - 1];
	for (size_t i = s->n_vms; i-- > 0;) /* backwards: trace order kept */
		if (s->x[i].placed)
			b->order[--b->start[s->vms[i].host]] = i;
	return 0;
}

int sim_share_demand_first(sim_state *s, char *err, size_t errlen)
{
	struct buckets b;
	int64_t *want = calloc(s->n_vms ? s->n_vms : 1, sizeof(*want));
	if (!want || buckets_fill(s, &b, err, errlen) != 0) {
		if (!want)
			snprintf(err, errlen, "out of memory for %zu VMs", s->n_vms);
		free(want);
		return -1;
	}
	for (size_t j = 0; j < b.start[s->n_hosts]; j++) {
		const market_vm *v = &s->vms[b.order[j]];
		s->lo[j] = market_vm_floor(v);
		s->hi[j] = sim_vm_need(v);
		want[j] = market_vm_want(v);
		s->w[j] = (double)(v->shares ? v->shares : 1);
	}
	for (size_t h = 0; h < s->n_hosts; h++) {
		size_t first = b.start[h], n = b.start[h + 1] - first;
		alloc_demand_first(n, s->lo + first, s->hi + first, want + first,
				   s->w + first, sim_host_supply(s, h),
				   s->out + first);
	}
	int rc = 0;
	for (size_t j = 0; j < b.start[s->n_hosts]; j++) {
		market_vm *v = &s->vms[b.order[j]];
		v->assigned = s->out[j];
		if (rc == 0 && (v->assigned < s->lo[j] ||
				v->assigned > market_vm_ceiling(v))) {
			snprintf(err, errlen, "VM %u was given %lld MiB, outside "
				 "[%lld, %lld] (round %lld)", v->id,
				 (long long)v->assigned, (long long)s->lo[j],
				 (long long)market_vm_ceiling(v),
				 (long long)s->round);
			rc = -1; /* a bug, never a result, as check_hosts() */
		}
	}
	buckets_free(&b);
	free(want);
	return rc;
}

/* ---- the rebalancer ---- */

/* Per-host sums the cost is made of: need in s->resident, wants in
 * s->wanted (both are the engine's scratch, recomputed after the step). */
static void drs_sums(sim_state *s)
{
	for (size_t h = 0; h < s->n_hosts; h++)
		s->resident[h] = s->wanted[h] = 0;
	for (size_t i = 0; i < s->n_vms; i++) {
		if (!s->x[i].placed)
			continue;
		s->resident[s->vms[i].host] += sim_vm_need(&s->vms[i]);
		s->wanted[s->vms[i].host] += market_vm_want(&s->vms[i]);
	}
}

static double drs_cost_of(const sim_state *s, size_t h, int64_t need,
			  int64_t want)
{
	double sup = (double)sim_host_supply(s, h);
	double over = (double)need - sup;
	double soft = (double)want - s->cfg->drs_soft_util * sup;
	return s->cfg->drs_over_weight * (over > 0 ? over : 0) +
	       (soft > 0 ? soft : 0);
}

static double drs_cost(const sim_state *s, size_t h)
{
	return drs_cost_of(s, h, s->resident[h], s->wanted[h]);
}

/* May VM i move this step? Not if it moved less than drs_stay_s ago. */
static int drs_may_move(const sim_state *s, size_t i)
{
	int64_t last = s->vms[i].last_migrated;
	return last == MARKET_NEVER ||
	       (s->round - last) * s->cfg->step_s >= s->cfg->drs_stay_s;
}

/* Host orders for one move: sources by cost, highest first; destinations
 * by wanted, least first (ties: lower index). qsort has no context, so the
 * keys are copied beside the index. */
struct host_key {
	double key;
	size_t h;
};

static int host_key_cmp(const void *a, const void *b)
{
	const struct host_key *x = a, *y = b;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->h < y->h ? -1 : x->h > y->h;
}

struct drs_move {
	size_t vm, to;
	double gain;
};

/* Gain of moving VM i (need, want) from its host a to b, or 0 if it may not
 * go there (b cannot fit its demand). */
static double drs_gain(const sim_state *s, size_t i, size_t b)
{
	const market_vm *v = &s->vms[i];
	size_t a = v->host;
	int64_t need = sim_vm_need(v), want = market_vm_want(v);
	if (b == a || s->resident[b] + need > sim_host_supply(s, b))
		return 0;
	double before = drs_cost(s, a) + drs_cost(s, b);
	double after = drs_cost_of(s, a, s->resident[a] - need,
				   s->wanted[a] - want) +
		       drs_cost_of(s, b, s->resident[b] + need,
				   s->wanted[b] + want);
	return before - after - s->cfg->drs_move_cost * (double)v->assigned;
}

/* The best move from the worst sources to the best destinations. */
static struct drs_move drs_best(const sim_state *s, const struct buckets *b,
				struct host_key *src, struct host_key *dst)
{
	size_t nh = s->n_hosts;
	struct drs_move best = { .vm = SIZE_MAX, .to = 0, .gain = 0 };
	for (size_t h = 0; h < nh; h++) {
		src[h] = (struct host_key){ .key = -drs_cost(s, h), .h = h };
		dst[h] = (struct host_key){ .key = (double)s->wanted[h], .h = h };
	}
	qsort(src, nh, sizeof(*src), host_key_cmp);
	qsort(dst, nh, sizeof(*dst), host_key_cmp);
	size_t ns = s->cfg->drs_sources < nh ? s->cfg->drs_sources : nh;
	size_t nd = s->cfg->drs_dests < nh ? s->cfg->drs_dests : nh;
	for (size_t k = 0; k < ns && src[k].key < 0; k++) {
		size_t a = src[k].h;
		for (size_t j = b->start[a]; j < b->start[a + 1]; j++) {
			size_t i = b->order[j];
			if (s->vms[i].host != a || !drs_may_move(s, i))
				continue; /* moved this step, or staying put */
			for (size_t d = 0; d < nd; d++) {
				double g = drs_gain(s, i, dst[d].h);
				if (g > best.gain)
					best = (struct drs_move){ i, dst[d].h, g };
			}
		}
	}
	return best;
}

static void drs_apply(sim_state *s, struct drs_move m)
{
	market_vm *v = &s->vms[m.vm];
	int64_t need = sim_vm_need(v), want = market_vm_want(v);
	s->resident[v->host] -= need;
	s->wanted[v->host] -= want;
	s->resident[m.to] += need;
	s->wanted[m.to] += want;
	v->host = (uint32_t)m.to;
	v->last_migrated = s->round;
	s->x[m.vm].moved = 1;
	s->migrations++;
}

static int drs_balance(sim_state *s, char *err, size_t errlen)
{
	struct buckets b;
	struct host_key *keys = calloc(2 * s->n_hosts, sizeof(*keys));
	if (!keys) {
		snprintf(err, errlen, "out of memory for %zu hosts", s->n_hosts);
		return -1;
	}
	if (buckets_fill(s, &b, err, errlen) != 0) {
		free(keys);
		return -1;
	}
	drs_sums(s);
	for (uint32_t k = 0; k < s->cfg->drs_moves; k++) {
		struct drs_move m = drs_best(s, &b, keys, keys + s->n_hosts);
		if (m.vm == SIZE_MAX)
			break;
		drs_apply(s, m);
	}
	buckets_free(&b);
	free(keys);
	return 0;
}

int policy_drs_step(sim_state *s, char *err, size_t errlen)
{
	if (s->n_hosts > 1 && drs_balance(s, err, errlen) != 0)
		return -1;
	return sim_share_demand_first(s, err, errlen);
}
