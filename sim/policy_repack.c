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

/* The bins by room left, for best fit in O(log H): a treap over the bins
 * keyed by (room, bin), the node of bin b being b. Priorities are a hash
 * of the bin: the shape is random-looking but every run the same, and the
 * answers depend on the keys only. */
#define RP_NIL SIZE_MAX

struct rp_tree {
	int64_t *room;   /* per bin: supply - need_sum */
	size_t *l, *r;   /* children */
	uint64_t *pri;
	size_t root;
};

/* Is bin a before bin b: less room, or as much and a lower index? */
static int rp_before(const struct rp_tree *t, size_t a, size_t b)
{
	return t->room[a] < t->room[b] || (t->room[a] == t->room[b] && a < b);
}

/* Split t into the bins before x (*lo) and the rest (*hi). */
static void rp_split(struct rp_tree *t, size_t n, size_t x, size_t *lo,
		     size_t *hi)
{
	if (n == RP_NIL) {
		*lo = *hi = RP_NIL;
	} else if (rp_before(t, n, x)) {
		rp_split(t, t->r[n], x, &t->r[n], hi);
		*lo = n;
	} else {
		rp_split(t, t->l[n], x, lo, &t->l[n]);
		*hi = n;
	}
}

/* Join a and b, every bin of a before every bin of b. */
static size_t rp_merge(struct rp_tree *t, size_t a, size_t b)
{
	if (a == RP_NIL || b == RP_NIL)
		return a == RP_NIL ? b : a;
	if (t->pri[a] > t->pri[b]) {
		t->r[a] = rp_merge(t, t->r[a], b);
		return a;
	}
	t->l[b] = rp_merge(t, a, t->l[b]);
	return b;
}

static size_t rp_insert(struct rp_tree *t, size_t n, size_t x)
{
	if (n == RP_NIL) {
		t->l[x] = t->r[x] = RP_NIL;
		return x;
	}
	if (t->pri[x] > t->pri[n]) {
		rp_split(t, n, x, &t->l[x], &t->r[x]);
		return x;
	}
	if (rp_before(t, x, n))
		t->l[n] = rp_insert(t, t->l[n], x);
	else
		t->r[n] = rp_insert(t, t->r[n], x);
	return n;
}

static size_t rp_erase(struct rp_tree *t, size_t n, size_t x)
{
	if (n == x)
		return rp_merge(t, t->l[n], t->r[n]);
	if (rp_before(t, x, n))
		t->l[n] = rp_erase(t, t->l[n], x);
	else
		t->r[n] = rp_erase(t, t->r[n], x);
	return n;
}

/* The first bin at or after (room, bin), RP_NIL if none. */
static size_t rp_ceil(const struct rp_tree *t, int64_t room, size_t bin)
{
	size_t best = RP_NIL;
	for (size_t n = t->root; n != RP_NIL;) {
		if (t->room[n] > room || (t->room[n] == room && n >= bin)) {
			best = n;
			n = t->l[n];
		} else {
			n = t->r[n];
		}
	}
	return best;
}

/* The last bin with less room than `room` (INT64_MAX: the last of all). */
static size_t rp_last_below(const struct rp_tree *t, int64_t room)
{
	size_t best = RP_NIL;
	for (size_t n = t->root; n != RP_NIL;) {
		if (t->room[n] < room || room == INT64_MAX) {
			best = n;
			n = t->r[n];
		} else {
			n = t->l[n];
		}
	}
	return best;
}

struct rp_scratch {
	struct rp_vm *vm;     /* the placed VMs */
	size_t n;
	struct rp_pair *pair; /* one per VM, then merged */
	int64_t *need_sum, *floor_sum; /* per bin */
	size_t *host_of_bin, *bin_of_host;
	struct rp_tree tree;  /* the bins by room */
};

static void rp_free(struct rp_scratch *r)
{
	free(r->vm);
	free(r->pair);
	free(r->need_sum);
	free(r->floor_sum);
	free(r->host_of_bin);
	free(r->bin_of_host);
	free(r->tree.room);
	free(r->tree.l);
	free(r->tree.r);
	free(r->tree.pri);
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
	r->tree.room = calloc(nh, sizeof(*r->tree.room));
	r->tree.l = calloc(nh, sizeof(*r->tree.l));
	r->tree.r = calloc(nh, sizeof(*r->tree.r));
	r->tree.pri = calloc(nh, sizeof(*r->tree.pri));
	return r->vm && r->pair && r->need_sum && r->floor_sum &&
	       r->host_of_bin && r->bin_of_host && r->tree.room && r->tree.l &&
	       r->tree.r && r->tree.pri ? 0 : -1;
}

/* The bin for a VM: the best fit for its need (least room left, lower bin
 * on ties); if its need fits nowhere, the bin with the most room left where
 * its floor still fits (lower bin on ties); SIZE_MAX if not even that.
 * O(log H) from the tree; a bin with room for the floor always fits it
 * (need >= floor), so the walk down the roomiest bins is long only when
 * floors fill the hosts. */
static size_t rp_bin_for(const sim_state *s, const struct rp_scratch *r,
			 const struct rp_vm *v)
{
	const struct rp_tree *t = &r->tree;
	size_t fit = rp_ceil(t, v->need, 0);
	if (fit != RP_NIL)
		return fit;
	for (size_t last = rp_last_below(t, INT64_MAX); last != RP_NIL;
	     last = rp_last_below(t, t->room[last])) {
		int64_t room = t->room[last];
		for (size_t b = rp_ceil(t, room, 0);
		     b != RP_NIL && t->room[b] == room; b = rp_ceil(t, room, b + 1))
			if (r->floor_sum[b] + v->floor <= sim_host_supply(s, b))
				return b;
	}
	return SIZE_MAX;
}

/* Every bin empty, in the tree. */
static void rp_tree_fill(const sim_state *s, struct rp_scratch *r)
{
	struct rp_tree *t = &r->tree;
	t->root = RP_NIL;
	for (size_t h = 0; h < s->n_hosts; h++) {
		uint64_t z = (uint64_t)(h + 1) * 0x9e3779b97f4a7c15ULL;
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		t->pri[h] = z ^ (z >> 31);
		t->room[h] = sim_host_supply(s, h);
		t->root = rp_insert(t, t->root, h);
	}
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
	rp_tree_fill(s, r);
	for (size_t k = 0; k < r->n; k++) {
		struct rp_vm *v = &r->vm[k];
		v->bin = rp_bin_for(s, r, v);
		if (v->bin == SIZE_MAX)
			return -1;
		r->need_sum[v->bin] += v->need;
		r->floor_sum[v->bin] += v->floor;
		r->tree.root = rp_erase(&r->tree, r->tree.root, v->bin);
		r->tree.room[v->bin] -= v->need;
		r->tree.root = rp_insert(&r->tree, r->tree.root, v->bin);
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
