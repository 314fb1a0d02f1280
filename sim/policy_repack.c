/*
 * policy_repack.c - the `repack` reference (docs/baselines.md): not a
 * product. Every step every running VM is placed again from scratch,
 * largest need first, each on the host it fits best (least room left after
 * it), and every host is shared demand first. Migrations cost nothing here
 * (the engine may charge them): repack shows what placement alone could
 * do, an upper mark for the real policies, not a rival.
 *
 * The hosts are identical, so a packing is the same whatever the labels of
 * its bins: the bins are matched to the hosts that already hold most of
 * their memory, and only what then changes host is a migration.
 */
#include <stdio.h>
#include <stdlib.h>

#include "policy.h"
#include "banned.h"

struct rp_vm {
	int64_t need, floor;
	uint32_t id;
	size_t i;     /* index in s->vms */
	size_t bin;   /* where the packing put it */
};

/* Largest need first, then lower id (a total order: ids are unique). */
static int rp_vm_cmp(const void *a, const void *b)
{
	const struct rp_vm *x = a, *y = b;
	if (x->need != y->need)
		return x->need > y->need ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* (bin, old host, MiB the VMs of that bin hold on that host) */
struct rp_pair {
	size_t bin, host;
	int64_t mib;
};

static int rp_pair_by_bin_host(const void *a, const void *b)
{
	const struct rp_pair *x = a, *y = b;
	if (x->bin != y->bin)
		return x->bin < y->bin ? -1 : 1;
	return x->host < y->host ? -1 : x->host > y->host;
}

/* Most MiB first; then lower bin, lower host: deterministic. */
static int rp_pair_by_mib(const void *a, const void *b)
{
	const struct rp_pair *x = a, *y = b;
	if (x->mib != y->mib)
		return x->mib > y->mib ? -1 : 1;
	return rp_pair_by_bin_host(a, b);
}

struct rp_scratch {
	struct rp_vm *vm;     /* the placed VMs */
	size_t n;
	struct rp_pair *pair; /* one per VM, then merged */
	int64_t *need_sum, *floor_sum; /* per bin */
	size_t *host_of_bin, *bin_of_host;
};

static void rp_free(struct rp_scratch *r)
{
	free(r->vm);
	free(r->pair);
	free(r->need_sum);
	free(r->floor_sum);
	free(r->host_of_bin);
	free(r->bin_of_host);
}

static int rp_alloc(const sim_state *s, struct rp_scratch *r)
{
	size_t nv = s->n_vms ? s->n_vms : 1, nh = s->n_hosts;
	r->vm = calloc(nv, sizeof(*r->vm));
	r->pair = calloc(nv, sizeof(*r->pair));
	r->need_sum = calloc(nh, sizeof(*r->need_sum));
	r->floor_sum = calloc(nh, sizeof(*r->floor_sum));
	r->host_of_bin = calloc(nh, sizeof(*r->host_of_bin));
	r->bin_of_host = calloc(nh, sizeof(*r->bin_of_host));
	return r->vm && r->pair && r->need_sum && r->floor_sum &&
	       r->host_of_bin && r->bin_of_host ? 0 : -1;
}

/* The bin for a VM: the best fit for its need (least room left, lower bin
 * on ties); if its need fits nowhere, the bin with the most room left where
 * its floor still fits; SIZE_MAX if not even that. O(H). */
static size_t rp_bin_for(const sim_state *s, const struct rp_scratch *r,
			 const struct rp_vm *v)
{
	size_t fit = SIZE_MAX, roomiest = SIZE_MAX;
	int64_t fit_left = 0, most_left = 0;
	for (size_t h = 0; h < s->n_hosts; h++) {
		int64_t sup = sim_host_supply(s, h);
		int64_t left = sup - r->need_sum[h] - v->need;
		if (left >= 0 && (fit == SIZE_MAX || left < fit_left)) {
			fit = h;
			fit_left = left;
		}
		if (r->floor_sum[h] + v->floor <= sup &&
		    (roomiest == SIZE_MAX || left > most_left)) {
			roomiest = h;
			most_left = left;
		}
	}
	return fit != SIZE_MAX ? fit : roomiest;
}

/* Best-fit decreasing into bins 0..H-1. Returns 0, or -1 if some VM's
 * floor fits in no bin (then the placement is left as it was). */
static int rp_pack(const sim_state *s, struct rp_scratch *r)
{
	r->n = 0;
	for (size_t i = 0; i < s->n_vms; i++) {
		if (!s->x[i].placed)
			continue;
		const market_vm *v = &s->vms[i];
		r->vm[r->n++] = (struct rp_vm){ .need = sim_vm_need(v),
			.floor = market_vm_floor(v), .id = v->id, .i = i };
	}
	qsort(r->vm, r->n, sizeof(*r->vm), rp_vm_cmp);
	for (size_t k = 0; k < r->n; k++) {
		struct rp_vm *v = &r->vm[k];
		v->bin = rp_bin_for(s, r, v);
		if (v->bin == SIZE_MAX)
			return -1;
		r->need_sum[v->bin] += v->need;
		r->floor_sum[v->bin] += v->floor;
	}
	return 0;
}

/* Match bins to hosts, most shared MiB first (greedy), O(V log V + H):
 * host_of_bin[b] is where bin b's VMs run. Bins and hosts left over are
 * matched in index order. Needs identical hosts (it checks). */
static void rp_match(const sim_state *s, struct rp_scratch *r)
{
	size_t nh = s->n_hosts, np = 0;
	for (size_t h = 0; h < nh; h++) {
		r->host_of_bin[h] = r->bin_of_host[h] = SIZE_MAX;
		if (sim_host_supply(s, h) != sim_host_supply(s, 0)) {
			for (size_t g = 0; g < nh; g++) /* hosts differ: as packed */
				r->host_of_bin[g] = g;
			return;
		}
	}
	for (size_t k = 0; k < r->n; k++)
		r->pair[k] = (struct rp_pair){ .bin = r->vm[k].bin,
			.host = s->vms[r->vm[k].i].host,
			.mib = s->vms[r->vm[k].i].assigned };
	qsort(r->pair, r->n, sizeof(*r->pair), rp_pair_by_bin_host);
	for (size_t k = 0; k < r->n; k++) { /* merge equal (bin, host) */
		if (np > 0 && r->pair[np - 1].bin == r->pair[k].bin &&
		    r->pair[np - 1].host == r->pair[k].host)
			r->pair[np - 1].mib += r->pair[k].mib;
		else
			r->pair[np++] = r->pair[k];
	}
	qsort(r->pair, np, sizeof(*r->pair), rp_pair_by_mib);
	for (size_t k = 0; k < np; k++) {
		const struct rp_pair *p = &r->pair[k];
		if (r->host_of_bin[p->bin] == SIZE_MAX &&
		    r->bin_of_host[p->host] == SIZE_MAX) {
			r->host_of_bin[p->bin] = p->host;
			r->bin_of_host[p->host] = p->bin;
		}
	}
	size_t h = 0;
	for (size_t b = 0; b < nh; b++) {
		if (r->host_of_bin[b] != SIZE_MAX)
			continue;
		while (r->bin_of_host[h] != SIZE_MAX)
			h++;
		r->host_of_bin[b] = h;
		r->bin_of_host[h] = b;
	}
}

/* Move each VM to its bin's host; a change of host is a migration. */
static void rp_apply(sim_state *s, const struct rp_scratch *r)
{
	for (size_t k = 0; k < r->n; k++) {
		market_vm *v = &s->vms[r->vm[k].i];
		size_t to = r->host_of_bin[r->vm[k].bin];
		if (v->host == to)
			continue;
		v->host = (uint32_t)to;
		v->last_migrated = s->round;
		s->x[r->vm[k].i].moved = 1;
		s->migrations++;
	}
}

int policy_repack_step(sim_state *s, char *err, size_t errlen)
{
	struct rp_scratch r = { 0 };
	if (rp_alloc(s, &r) != 0) {
		rp_free(&r);
		snprintf(err, errlen, "out of memory for %zu VMs", s->n_vms);
		return -1;
	}
	if (rp_pack(s, &r) == 0) {
		rp_match(s, &r);
		rp_apply(s, &r);
	}
	rp_free(&r);
	return sim_share_demand_first(s, err, errlen);
}
