/*
 * sim.h - the trace-driven simulator: the whole public API.
 *
 * Replays a trace_set through one policy on a cluster of identical hosts and
 * measures what the VMs endured. The `market` policy calls market_round(),
 * the same code the broker runs; the baselines (static, hyperv, esx,
 * threshold) are written from the seeds' descriptions. docs/simulator.md
 * gives every rule: time grid, VM settings taken from the trace, placement,
 * arrivals and departures, the guest and host swap models, and the metrics.
 *
 * Ownership: sim_run() borrows the config and the trace; it allocates its own
 * state and frees it before returning. Results are plain values.
 */
#ifndef BOURSE_SIM_H
#define BOURSE_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "market.h"
#include "trace.h"

typedef enum sim_policy {
	SIM_MARKET = 0,
	SIM_STATIC,
	SIM_HYPERV,
	SIM_ESX,
	SIM_THRESHOLD,
	SIM_DRS,      /* a DRS-like greedy rebalancer (docs/baselines.md) */
	SIM_REPACK,   /* reference: best-fit decreasing every step */
	SIM_N_POLICIES
} sim_policy;

typedef struct sim_config {
	uint32_t n_hosts;
	int64_t host_mib;     /* physical memory per host */
	int64_t host_reserve_mib; /* kept for the hypervisor on each host */
	int64_t step_s;       /* simulated interval (one market round) */
	int64_t hold_s;       /* a VM's last sample holds this long */

	/* VM settings derived from the trace (docs/simulator.md) */
	int64_t vm_minimum_mib; /* Hyper-V Minimum, capped at provisioned */
	int64_t vm_startup_mib; /* Hyper-V Startup, capped at provisioned */
	uint32_t vm_buffer_pct; /* Hyper-V Buffer */
	uint32_t vm_weight;     /* Hyper-V Weight */
	uint32_t vm_shares;     /* ESX shares */

	/* decision lag (docs/simulator.md, "Decision lag") */
	uint32_t lag_steps;   /* policies decide on what was seen this many
	                       * steps ago; 0: on the current step */

	/* migration model (docs/simulator.md, "Migration cost") */
	int migration_instant;  /* 1: moves are instant and free (the model
	                         * before issue 13); 0: pre-copy */
	double migrate_mibps;   /* network bandwidth of one migration */
	double dirty_mibps;     /* guest dirty rate, besides the VM's growth */
	double downtime_ms;     /* stop-and-copy once what is left fits this */
	uint32_t migrate_per_host; /* moves in or out of a host at once */
	int64_t return_window_s;   /* a move back within this is a return */

	/* baselines */
	double esx_max_balloon;  /* share of a VM's memory a balloon may take */
	double threshold_util;   /* threshold policy: migrate above this */

	market_params market;

	/* strong baselines (issue 13 item 3, docs/baselines.md) */
	int esx_touched_sticky;  /* 1: the esx of before issue 13: the balloon
	                          * never takes touched memory below 35 % of
	                          * configured; swap spread in proportion */
	uint32_t drs_moves;      /* drs: migrations per step at most */
	int64_t drs_stay_s;      /* drs: a VM that moved stays put this long */
	double drs_over_weight;  /* drs: cost of a MiB of demand above supply */
	double drs_soft_util;    /* drs: wants above this share of supply cost 1 */
	double drs_move_cost;    /* drs: cost of each MiB a migration copies */
	uint32_t drs_sources;    /* drs: worst hosts whose VMs are tried */
	uint32_t drs_dests;      /* drs: best destinations tried for each VM */
} sim_config;

/* What one policy did to one workload. */
typedef struct sim_metrics {
	uint64_t steps;          /* intervals simulated */
	uint64_t vm_intervals;   /* (VM alive, interval) pairs */
	double pressure_gib_h;   /* shortfall below demand, integrated */
	double pressured_share;  /* VM-intervals with pressure >= 100 */
	double guest_swap_gib;   /* modelled guest paging (pages pushed out) */
	double host_swap_gib_h;  /* memory held on host swap, integrated */
	uint64_t resizes;        /* changes of a VM's assigned memory */
	uint64_t migrations;     /* moves started (carried out if instant) */
	uint64_t mig_deferred;   /* moves refused: a host had K in flight */
	uint64_t mig_no_room;    /* moves refused: the destination could not
	                          * hold the VM beside its source copy */
	uint64_t mig_no_converge; /* moves refused: dirty rate >= bandwidth */
	uint64_t return_migrations; /* moves back to a host the VM left within
	                             * return_window_s */
	double gib_moved;        /* memory copied by the moves (first pass) */
	double migration_s;      /* the moves' durations, summed */
	double double_held_gib_h; /* destination copies held while the source
	                           * still holds the VM, integrated */
	double held_gib_avg;     /* mean sum of assigned memory */
	double provisioned_gib_avg; /* mean sum of provisioned memory */
	double saved_share;      /* 1 - held / provisioned */
	double peak_host_util;   /* max over hosts and time of resident/capacity */
	uint64_t refused;        /* VM-intervals a VM could not be placed */
	uint64_t provision_signals; /* market only */
	uint64_t suspend_signals;   /* market only */
	uint64_t signal_flips;      /* market only: rounds whose signal (none,
	                             * provision, suspend) differs from the
	                             * round before's */
	uint64_t suspend_after_provision; /* market only: rounds with a
	                             * suspend signal within an hour (3600 s)
	                             * after a provision signal */
} sim_metrics;

/* Fill *c with the documented defaults (market parameters included). */
void sim_config_default(sim_config *c);

/* Check the config. Returns 0, or -1 with a message in err. */
int sim_config_validate(const sim_config *c, char *err, size_t errlen);

const char *sim_policy_name(sim_policy p);

/* Parse a policy name. Returns 0, or -1 if the name is unknown. */
int sim_policy_parse(const char *name, sim_policy *out);

/* A VM's Hyper-V and ESX settings as the simulator derives them from its
 * provisioned memory prov_mib (docs/simulator.md): Maximum = prov_mib,
 * Minimum and Startup from the config capped at prov_mib, the config's
 * Buffer, Weight and shares, no reservation, no limit. Sets only those
 * fields of *v; the live agents derive their VMs' settings the same way. */
void sim_vm_settings(const sim_config *c, int64_t prov_mib, market_vm *v);

/*
 * The fluid lower bound on VM pressure, GiB-h (docs/simulator.md, "The
 * lower bound"): no policy that never puts more on a host than it sells
 * can be short less. Per interval, on the current demand: the demand of
 * each VM above what one host sells, plus the VMs' demand (capped at a
 * host) above what the cluster sells; integrated like pressure_gib_h.
 * Floors are not counted: policies keep different floors (a VM keeps the
 * Minimum it was admitted with; esx keeps none), and a bound must hold for
 * every policy.
 * Returns 0, or -1 with a message (the checks of sim_run()).
 */
int sim_lower_bound(const sim_config *c, const trace_set *t, double *gib_h,
		    char *err, size_t errlen);

/* Run one policy over the whole trace. Returns 0, or -1 with a message. */
int sim_run(const sim_config *c, const trace_set *t, sim_policy p,
	    sim_metrics *out, char *err, size_t errlen);

/* One step of a run as it was measured, for pictures of a run over time
 * (sim_run_observed(); `bourse sim --plot`). */
typedef struct sim_step_point {
	uint64_t step;        /* its index, from 0 */
	int64_t t;            /* its time in the trace, s (Unix for Bitbrains) */
	double pressure_gib;  /* the VMs' shortfall below demand, GiB: summed
	                       * over the steps and times step_s / 3600 it is
	                       * pressure_gib_h */
	double held_gib;      /* memory the VMs held (assigned less host
	                       * swap), GiB: held_gib_avg is its mean */
	double demand_gib;    /* the alive VMs' demand, GiB (the trace's: the
	                       * same under every policy) */
	uint64_t migrations;  /* moves started so far (cumulative) */
} sim_step_point;

/* Called once per step, after the step was measured; pt is valid during
 * the call only. It must not touch the run (it cannot: it sees a copy). */
typedef void (*sim_observer)(const sim_step_point *pt, void *ctx);

/* sim_run(), calling obs(pt, ctx) after every step (obs NULL: sim_run()).
 * Observing changes no decision and no figure of *out. */
int sim_run_observed(const sim_config *c, const trace_set *t, sim_policy p,
		     sim_observer obs, void *ctx, sim_metrics *out, char *err,
		     size_t errlen);

#endif
