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

/* How many of the hosts a VM left are remembered for return migrations. */
#define SIM_LEFT_HOSTS 4

/* A VM waiting for a host, with its first-fit-decreasing key. */
struct sim_arrival {
	int64_t prov;
	uint32_t id;
	size_t vm;
};

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
	int seen;            /* market: seen_demand is set */
	int64_t seen_demand; /* market: the demand it saw last */
	/* engine state (sim/migrate.c): the policies never touch it */
	int64_t mig_done;   /* round the move in flight lands; -1: none */
	uint32_t mig_dst;   /* where it goes */
	int64_t mig_mib;    /* what it will hold there (reserved there now) */
	int64_t prev_demand; /* true demand at the previous step; -1: not alive */
	uint32_t left_host[SIM_LEFT_HOSTS]; /* the last hosts it left, */
	int64_t left_t[SIM_LEFT_HOSTS];     /* and when (-1: unused) */
} sim_vmx;

typedef struct sim_state {
	const sim_config *cfg;
	market_host *hosts; /* n_hosts, index == id */
	size_t n_hosts;
	market_vm *vms;     /* one per trace VM, same order as the trace */
	sim_vmx *x;         /* parallel to vms */
	size_t n_vms;
	int64_t round;      /* interval index */
	uint64_t migrations; /* moves the policy steps asked for; the metric
	                      * is the engine's (mig.migrations) */
	int64_t *resident;  /* per host, filled by sim_sum_resident() */
	int64_t *wanted;    /* per host, scratch for the threshold policy */
	uint64_t provision_signals, suspend_signals;
	uint64_t signal_flips, suspend_after_provision;
	int last_signal;          /* 0 none, 1 provision, 2 suspend */
	int64_t last_provision;   /* round of the last provision signal; -1 */
	/* scratch for the market policy */
	market_vm *mvms;    /* compact copy of the placed VMs */
	uint32_t *mmap;     /* mvms index -> vms index */
	market_result res;
	/* the engine's decision lag (sim/lag.c) */
	size_t lag_slots;     /* lag_steps + 1 observations kept per VM */
	int64_t *obs_demand;  /* [slot * n_vms + i]: demand seen at a step */
	double *obs_swap;     /* guest swap rate seen at that step */
	int64_t *obs_round;   /* the step it was seen at; -1: never */
	int64_t *true_demand; /* the current step's, while a policy decides */
	double *true_swap;
	/* the engine's migrations (sim/migrate.c) */
	int64_t *before;      /* per VM: assigned before the policy step, -1 if
	                       * not placed */
	int64_t *before_res;  /* resident before the policy step */
	uint32_t *before_host;
	int64_t *before_lm;   /* last_migrated before the policy step */
	int64_t *inflight_in; /* per host: MiB reserved by moves into it */
	uint32_t *moving;     /* per host: moves in or out in flight */
	int64_t *scratch_h;   /* per host scratch */
	int64_t *growth_h;    /* per host scratch */
	size_t *want_vm;      /* the moves a policy step asked for: VM, */
	uint32_t *want_host;  /* its new host */
	int64_t *want_mib;    /* and what it was to hold there */
	sim_metrics mig;      /* the migration counters, filled as it runs */
	/* scratch for placing arrivals (sim.c) */
	struct sim_arrival *arrivals; /* n_vms */
	uint32_t *hheap;              /* n_hosts: hosts by free memory */
	/* scratch for the allocators, n_vms entries each */
	size_t *idx;
	int64_t *lo, *hi, *out;
	double *w, *active;
	/* sim_run_observed(): told each step's figures (NULL: nobody) */
	sim_observer obs;
	void *obs_ctx;
	int64_t now;          /* the step's time in the trace */
	size_t *cursor;       /* per VM: the trace sample last read
	                       * (trace_at_from()) */
} sim_state;

/* Memory a host sells: capacity minus reserve. */
int64_t sim_host_supply(const sim_state *s, size_t h);

/* Fill s->resident (sum of assigned minus host-swapped memory of each
 * host's placed VMs) for every host in one pass over the VMs. */
void sim_sum_resident(sim_state *s);

/*
 * The engine around the policy step, so that every policy gets decision lag
 * and the migration model without knowing of them (docs/simulator.md).
 * A step runs: update the VMs from the trace; lag_record(); mig_advance();
 * place arrivals; mig_snapshot(); mig_hide(); lag_apply(); the policy;
 * lag_restore(); mig_unhide(); mig_commit(); check and measure.
 */

/* A policy step: sets assigned (and host, to migrate) of the placed VMs. */
typedef int (*sim_step_fn)(sim_state *s, char *err, size_t errlen);

/* sim_run() with any policy step, VMs admitted as `placement` admits them:
 * how the tests drive the engine with a scripted policy. */
int sim_run_step(const sim_config *c, const trace_set *t, sim_policy placement,
		 sim_step_fn step, sim_metrics *out, char *err, size_t errlen);

/* Allocate the lag ring (lag_steps + 1 observations per VM). Returns 0, or
 * -1 out of memory. Freed by lag_free(). */
int lag_init(sim_state *s);
void lag_free(sim_state *s);
/* Keep the current step's demand and guest swap of every alive VM. */
void lag_record(sim_state *s);
/* Give each alive VM the demand and swap seen lag_steps ago (Startup and
 * no swap if it was not alive then); keep the current ones aside. */
void lag_apply(sim_state *s);
/* Put the current step's demand and swap back, for the measurement. */
void lag_restore(sim_state *s);

/* Allocate the migration state. Returns 0, or -1 out of memory. */
int mig_init(sim_state *s);
void mig_free(sim_state *s);
/* Land the moves due this step; drop those of VMs that left. */
void mig_advance(sim_state *s);
/* Record assigned, host and last_migrated of every VM. */
void mig_snapshot(sim_state *s);
/* Take the VMs in flight out of the policy's sight, their memory on the
 * source counted as reserve there; mig_unhide() undoes it. */
void mig_hide(sim_state *s);
void mig_unhide(sim_state *s);
/* Turn the host changes the policy made into moves: start, defer or refuse
 * each, and give back what the sources still hold (docs/simulator.md). */
void mig_commit(sim_state *s, int64_t now);
/* What host h really sells now: capacity minus the configured reserve minus
 * what moves into it hold there. */
int64_t mig_supply(const sim_state *s, size_t h);

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
