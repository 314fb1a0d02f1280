/*
 * policy.h - internal to sim/: the simulator's state and the policy steps.
 * Not part of the public API (that is sim.h); only the files of sim/ include it.
 */
#ifndef BOURSE_SIM_POLICY_H
#define BOURSE_SIM_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "market.h"
#include "sim.h"

/* Per-VM simulator state beside the market's view of the VM. */
typedef struct sim_vmx {
	int alive;          /* the trace has the VM at this time */
	int placed;         /* it runs on a host (m.host is valid) */
	int64_t prov;       /* provisioned memory now */
	int64_t touched;    /* esx: memory the guest has touched and keeps */
	int64_t swapped;    /* esx: part of assigned held on host swap */
	int64_t prev_short; /* shortfall at the previous interval */
	int moved;          /* migrated in this interval (not a resize) */
	int64_t admitted_min; /* Minimum when placed: a running VM's floor never
	                       * rises, so floors that fitted keep fitting */
} sim_vmx;

typedef struct sim_state {
	const sim_config *cfg;
	market_host *hosts; /* n_hosts, index == id */
	size_t n_hosts;
	market_vm *vms;     /* one per trace VM, same order as the trace */
	sim_vmx *x;         /* parallel to vms */
	size_t n_vms;
	int64_t round;      /* interval index */
	uint64_t migrations; /* counted by the policy steps */
	int64_t *resident;  /* per host, filled by sim_sum_resident() */
	int64_t *wanted;    /* per host, scratch for the threshold policy */
	uint64_t provision_signals, suspend_signals;
	/* scratch for the market policy */
	market_vm *mvms;    /* compact copy of the placed VMs */
	uint32_t *mmap;     /* mvms index -> vms index */
	market_result res;
	/* scratch for the allocators, n_vms entries each */
	size_t *idx;
	int64_t *lo, *hi, *out;
	double *w, *active;
} sim_state;

/* Memory a host sells: capacity minus reserve. */
int64_t sim_host_supply(const sim_state *s, size_t h);

/* Fill s->resident (sum of assigned minus host-swapped memory of each
 * host's placed VMs) for every host in one pass over the VMs. */
void sim_sum_resident(sim_state *s);

/* One interval of each policy: sets assigned (and host, for migrations) of
 * every placed VM. Returns 0, or -1 with a message. */
int policy_static_step(sim_state *s, char *err, size_t errlen);
int policy_hyperv_step(sim_state *s, char *err, size_t errlen);
int policy_esx_step(sim_state *s, char *err, size_t errlen);
int policy_threshold_step(sim_state *s, char *err, size_t errlen);
int policy_market_step(sim_state *s, char *err, size_t errlen);
/* The strong baselines (docs/baselines.md): drs in policy_drs.c, repack in
 * policy_repack.c. They set host (a migration also sets last_migrated,
 * moved and counts it) and assigned; they allocate their own scratch per
 * step. Errors: out of memory, or a VM outside [floor, ceiling] after the
 * step (sim_share_demand_first(): a bug, never a result). */
int policy_drs_step(sim_state *s, char *err, size_t errlen);
int policy_repack_step(sim_state *s, char *err, size_t errlen);

/* What drs and repack size a VM by: its demand capped at its ceiling, at
 * least its floor (policy_drs.c). */
int64_t sim_vm_need(const market_vm *v);

/* Share every host's supply among its VMs demand first (drs and repack,
 * policy_drs.c): floors, then up to each VM's need, then buffers up to its
 * want from what is left; in shortage shares weigh. O(V + H). Returns 0,
 * or -1 with a message: out of memory, or a VM left outside [floor,
 * ceiling] (a bug: the run stops, as for a host over supply). */
int sim_share_demand_first(sim_state *s, char *err, size_t errlen);

/*
 * Allocators shared by the baselines, over the n VMs whose indices are in
 * idx[0..n): out[i] in [lo[i], hi[i]] with sum(out) == supply when
 * sum(lo) <= supply < sum(hi). Arrays are indexed by position 0..n-1.
 */

/* Weighted water-filling: each gets min(hi, lo + theta * w) (Hyper-V's
 * weight decides who gets memory in shortage). Left-over MiB from rounding
 * go to higher weight, then lower position. */
void alloc_weighted(size_t n, const int64_t *lo, const int64_t *hi,
		    const double *w, int64_t supply, int64_t *out);

/* ESX min-funding revocation with the idle memory tax: shares per taxed MiB
 * are equalised; active[i] is the VM's active memory, tax the idle tax rate.
 */
void alloc_min_funding(size_t n, const int64_t *lo, const int64_t *hi,
		       const double *shares, const double *active, double tax,
		       int64_t supply, int64_t *out);

/* Demand first (drs and repack): lo <= need <= hi. While the needs do not
 * fit, water-fill by weight from lo up to need; once they do, every VM has
 * its need and the rest is water-filled by weight up to hi. */
void alloc_demand_first(size_t n, const int64_t *lo, const int64_t *need,
			const int64_t *hi, const double *w, int64_t supply,
			int64_t *out);

#endif
