/*
 * market.h - the bourse economic engine: the whole public API of market/.
 *
 * Pure C11: no I/O, no sockets, no clock, no globals. State goes in, prices,
 * awards, recommendations and signals come out. The simulator (sim/) and the
 * broker call exactly this code. The model, every parameter and the reason for
 * each default are written down in docs/market.md.
 *
 * Units: memory in MiB (int64_t), rates in MiB/s (double), prices in
 * "credits per MiB" (double), time in market rounds (int64_t).
 *
 * Determinism: same inputs (including array order), same outputs. Every sort
 * breaks ties by a documented key and finally by id (see docs/market.md,
 * "Tie-breaks").
 *
 * Ownership: market_round() only reads the cluster and the parameters; it
 * writes into a market_result the caller set up with market_result_init()
 * and releases with market_result_release(). market_round() itself allocates
 * nothing.
 */
#ifndef BOURSE_MARKET_H
#define BOURSE_MARKET_H

#include <stddef.h>
#include <stdint.h>

/* Sentinel for "never happened" in the cooldown fields of market_vm. */
#define MARKET_NEVER INT64_MIN

/* Sentinel for "no host" (e.g. a recommendation that is not a migration). */
#define MARKET_NO_HOST UINT32_MAX

/* How many hosts a VM remembers having left (market_vm.left_host_plus1). */
#define MARKET_LEFT_HOSTS 4

/* market_vm_pressure() never exceeds this (demand with nothing assigned). */
#define MARKET_PRESSURE_MAX 10000.0

/* Every number in the model. Defaults from market_params_default(); each is
 * explained in docs/market.md. */
typedef struct market_params {
	/* price curve: p(u) = price_base * (1 + balloon_weight * bp
	 *                  + swap_weight * sp) / (1 - min(u, util_cap))^price_exponent */
	double price_base;     /* credits per MiB on an empty, calm host */
	double price_exponent; /* convexity of the price in utilization */
	double util_cap;       /* u is clamped here so the price stays finite */
	double balloon_weight; /* price gain per unit of balloon pressure */
	double swap_weight;    /* price gain per unit of swap pressure */
	double swap_norm_mibps; /* swap rate (MiB/s) that counts as pressure 1.0 */

	/* buyers */
	double idle_tax;          /* ESX idle memory tax rate, 0 <= tax < 1 */
	double budget_pressure_gain; /* budget gain per unit of pressure above 100 */
	double budget_swap_gain;  /* budget gain per unit of guest swap pressure */
	double risk_headroom;     /* want += this * demand_rise_rms: the price
	                           * of risk, headroom for a decision that
	                           * acts on a report one round old */
	double risk_rounds;       /* memory of demand_rise_rms, in rounds:
	                           * the weight of a new rise is 1/this */

	/* resize hysteresis */
	int64_t resize_min_mib; /* changes smaller than this are not actions */
	double resize_min_frac; /* ... nor smaller than this share of assigned */

	/* migration */
	double migrate_util;        /* a host sells VMs away only in shortage or
	                             * when its utilization is at least this */
	double migrate_gain;        /* required relative saving, 0..1 */
	double migrate_cost_mib;    /* cost of moving 1 MiB, in units of price_base */
	int64_t migrate_cooldown;   /* rounds a VM stays put after a migration */
	int64_t migrate_return_rounds; /* rounds before a VM may go back to
	                                * the host it left */
	uint32_t migrate_persist;   /* a host sells VMs away only once it has
	                             * been congested this many rounds in a
	                             * row, this one included */
	uint32_t migrate_max_per_round; /* cluster-wide cap on migrations per round */
	double migrate_host_share;  /* and at most this many per online host
	                             * (at least 1); 0: only the cap above */
	uint32_t migrate_targets;   /* how many of the cheapest hosts are priced */

	/* cluster signals */
	double provision_util; /* cluster demand/supply above this: provision */
	double suspend_util;   /* hosts are emptied only while the others stay below */
	/* signal hysteresis (docs/market.md, "Signals") */
	double peak_rounds;    /* memory of demand_peak, in rounds: the
	                        * peak decays toward the demand by 1/this
	                        * of the gap per observation */
	double provision_band; /* once the cluster's recent peaks ask for
	                        * more than provision_util, provision stays
	                        * signalled until the wants fall below
	                        * provision_util - this */
	/* tight moves (docs/market.md, "Migration") */
	double migrate_squeeze; /* a host whose demand does not fit may sell a
	                         * VM to a host where the VM's demand fits once
	                         * that host's buffers give way, taking at most
	                         * this share of them; 0: no such moves */
} market_params;

/* A buyer: one VM. All memory fields in MiB. */
typedef struct market_vm {
	uint32_t id;   /* stable identity; the final tie-break everywhere */
	uint32_t host; /* index into market_cluster.hosts */

	int64_t demand;   /* what the guest needs now (committed/active) */
	int64_t assigned; /* what it holds now */
	double guest_swap_mibps; /* guest paging rate, MiB/s */

	/* Hyper-V Dynamic Memory settings */
	int64_t startup;     /* memory at boot (informational for clearing) */
	int64_t minimum;     /* never assigned less */
	int64_t maximum;     /* never assigned more */
	uint32_t buffer_pct; /* target = demand * (1 + buffer_pct/100) */
	uint32_t weight;     /* 0..10000, default 5000 */

	/* ESX settings */
	int64_t reservation; /* never assigned less; 0 = none */
	int64_t limit;       /* never assigned more; 0 = unlimited */
	uint32_t shares;     /* default 1000 ("normal") */

	/* cooldown state, in rounds (MARKET_NEVER if never) */
	int64_t last_migrated;
	/* the hosts it last migrated away from, newest first, each as its
	 * index + 1 (0: none or not known, so a zeroed VM has none), and
	 * when: it does not go back to one of them for
	 * migrate_return_rounds (no return migrations). The caller records
	 * a move with market_vm_note_move(). */
	uint32_t left_host_plus1[MARKET_LEFT_HOSTS];
	int64_t left_round[MARKET_LEFT_HOSTS];

	/* Volatility of the demand: the root mean square of its recent rises
	 * from one observation to the next, MiB (0: steady or not known).
	 * The caller keeps the history (docs/market.md, "Buyers"); the
	 * round adds risk_headroom times this to the VM's want. */
	double demand_rise_rms;

	/* The VM's recent peak demand, MiB (0: not known): jumps to a higher
	 * demand at once and decays toward the demand by 1/peak_rounds of
	 * the gap per observation. Kept by market_vm_rise_update() beside
	 * demand_rise_rms; the signals read it (a host is signalled for
	 * suspend only if the VMs fit elsewhere at their peaks). */
	double demand_peak;
} market_vm;

/* A seller: one host. */
typedef struct market_host {
	uint32_t id;
	int64_t capacity; /* physical memory, MiB */
	int64_t reserve;  /* kept for the hypervisor, never sold, MiB */
	double host_swap_mibps; /* hypervisor swapping rate, MiB/s */
	int online;       /* 0: lost or in maintenance: not a migration target */
	uint32_t congested_rounds; /* rounds in a row, before this one, that
	                            * the host was congested (shortage, or
	                            * utilization >= migrate_util): the caller
	                            * counts them from market_host_out */
	int draining;     /* 1: in maintenance (`bourse host drain`): no VM
	                   * is moved here, and an online draining host sells
	                   * all its VMs away, congested or not, each to the
	                   * cheapest host with room (docs/market.md,
	                   * "Draining a host") */
	int probation;    /* 1: online for too few rounds yet to be trusted
	                   * (the broker's --probation-rounds): no VM is
	                   * moved here; its own VMs are priced as usual */
} market_host;

/* The market's view of a cluster. Borrowed by market_round(). */
typedef struct market_cluster {
	market_host *hosts;
	size_t n_hosts;
	market_vm *vms;
	size_t n_vms;
} market_cluster;

/* Per-host outcome of a round. */
typedef struct market_host_out {
	int64_t supply;         /* capacity - reserve */
	int64_t wanted;         /* sum of clamped wants (demand plus buffer) of
	                         * the VMs on the host at the start of the
	                         * round; this and the fields below up to
	                         * price describe the state the round priced */
	int64_t floor;          /* sum of max(minimum, reservation) */
	int64_t awarded;        /* memory the host holds once this round is
	                         * applied: awards after hysteresis, minus the
	                         * award targets of VMs migrating away, plus the
	                         * to_mib of VMs migrating here; <= supply when
	                         * floor <= supply, or when the floors the VMs
	                         * hold (min(floor, assigned)) fit */
	double utilization;     /* sum of market_vm_priced() / supply: demand
	                         * plus buffer, floors not counted (may
	                         * exceed 1) */
	double balloon_pressure; /* shortfall held back from VMs / supply */
	double swap_pressure;   /* (host swap + guest swap) / swap_norm_mibps */
	double price;           /* seller's ask, credits per MiB */
	double clearing_price;  /* lambda of the shortage clearing, 0 if none */
	int shortage;           /* 1 if wants did not all fit */
	int infeasible;         /* 1 if even the floors did not fit (an
	                         * admission finding); a floor above what the
	                         * VM holds is then funded only from what the
	                         * host has (docs/market.md, "Clearing") */
} market_host_out;

/* Per-VM outcome of a round. */
typedef struct market_award {
	int64_t target;   /* memory the VM should hold after this round at
	                   * its current host (for a VM with a migrate rec:
	                   * what the source cleared; see market_rec) */
	int64_t want;     /* demand plus buffer, clamped to [floor, ceiling] */
	double budget;    /* what the buyer was willing to spend */
	double pressure;  /* demand / target * 100 */
} market_award;

typedef enum market_rec_kind {
	MARKET_REC_RESIZE = 1,
	MARKET_REC_MIGRATE = 2,
} market_rec_kind;

/* A recommendation: an action worth taking. A VM gets at most one per round
 * (so cap_recs = n_vms). Migrations come first, in decision order, then
 * resizes in VM order. To apply a resize: assigned = to_mib. To apply a
 * migration: move the VM to to_host and set assigned = to_mib (its want),
 * instead of its award target at the source. */
typedef struct market_rec {
	market_rec_kind kind;
	uint32_t vm;        /* index into market_cluster.vms */
	uint32_t from_host; /* index into hosts */
	uint32_t to_host;   /* index into hosts; MARKET_NO_HOST for a resize */
	int64_t from_mib;   /* assigned before */
	int64_t to_mib;     /* assigned after */
	double price_here;  /* price per MiB where the VM is */
	double price_there; /* price per MiB at the target (migrations) */
	double cost_here;   /* cost of the purchase where it is */
	double cost_there;  /* cost there, migration cost included */
} market_rec;

typedef enum market_signal_kind {
	MARKET_SIG_PROVISION = 1, /* the cluster cannot clear: add capacity */
	MARKET_SIG_SUSPEND = 2,   /* this host could be emptied */
} market_signal_kind;

typedef struct market_signal {
	market_signal_kind kind;
	uint32_t host; /* index into hosts (MARKET_NO_HOST for provision) */
	int64_t mib;   /* provision: memory missing; suspend: memory to move */
} market_signal;

/* Everything a round produces. Arrays are sized by market_result_init() for
 * the cluster size given there and owned by the result. */
typedef struct market_result {
	market_host_out *hosts; /* n_hosts entries, same order as cluster */
	market_award *awards;   /* n_vms entries, same order as cluster */
	market_rec *recs;
	size_t n_recs;
	market_signal *signals;
	size_t n_signals;
	/* capacities and scratch, private to market.c */
	size_t cap_hosts, cap_vms, cap_recs, cap_signals;
	void *scratch;
} market_result;

/* Fill *p with the documented defaults. */
void market_params_default(market_params *p);

/* Check every parameter's range. Returns 0, or -1 with a message in err. */
int market_params_validate(const market_params *p, char *err, size_t errlen);

/* Check a cluster: VM host indices in range, minimum <= maximum,
 * reservation <= limit, no negative quantity, capacity > reserve, ...
 * Returns 0, or -1 with a message naming the offending VM or host. */
int market_cluster_validate(const market_cluster *c, char *err, size_t errlen);

/* Allocate the arrays of *r for up to n_hosts hosts and n_vms VMs.
 * Returns 0, or -1 on allocation failure (r is then released). */
int market_result_init(market_result *r, size_t n_hosts, size_t n_vms);

/* Free what market_result_init() allocated; safe on a zeroed result. */
void market_result_release(market_result *r);

/*
 * One market round over the cluster at time `round`.
 *
 * 1. prices every host from its state (utilization of wants, balloon and
 *    swap pressure);
 * 2. clears every host: awards wants when they fit, else allocates by
 *    budget with the idle memory tax (docs/market.md); applies the resize
 *    hysteresis; never below floor, never above ceiling, never above supply
 *    when the floors fit (when they do not, a floor above what the VM holds
 *    waits for room, so a host within supply stays within it);
 * 3. emits resize recommendations for awards that changed assigned memory;
 * 4. emits migrate recommendations: first every VM of an online draining
 *    host to the cheapest host with room for it (no saving required), then
 *    where the same purchase is markedly cheaper elsewhere after the
 *    migration cost (respecting cooldowns and caps, and only to online,
 *    non-draining hosts with room for the award);
 * 5. emits provision and suspend signals, with hysteresis through the VMs'
 *    demand_peak (docs/market.md, "Hysteresis on signals").
 *
 * The cluster is not modified: applying the awards and migrations is the
 * caller's business (the simulator does it; the broker stores them).
 * Returns 0, or -1 with a message if the cluster does not validate or the
 * result is too small.
 */
int market_round(const market_params *p, const market_cluster *c,
		 int64_t round, market_result *r, char *err, size_t errlen);

/* Building blocks, public for the tests and the baseline policies. */

/* Seller's ask: price per MiB at utilization u with balloon pressure bp and
 * swap pressure sp. Finite for any u (clamped at util_cap). */
double market_price(const market_params *p, double u, double bp, double sp);

/* max(minimum, reservation), never above the ceiling. */
int64_t market_vm_floor(const market_vm *v);

/* min(maximum, limit if set). */
int64_t market_vm_ceiling(const market_vm *v);

/* demand * (1 + buffer_pct/100), clamped to [floor, ceiling]. */
int64_t market_vm_want(const market_vm *v);

/* Records that VM v migrated away from host index `from` at `round`
 * (newest first in left_host_plus1/left_round; the oldest is dropped). */
void market_vm_note_move(market_vm *v, uint32_t from, int64_t round);

/* A host's congested_rounds for the next round, from this round's outcome
 * o and its count now: one more if the round found it congested (a
 * shortage, or utilization >= migrate_util), else 0. What the callers
 * (broker, simulator) keep in market_host.congested_rounds. */
uint32_t market_congested_next(const market_params *p,
			       const market_host_out *o, uint32_t rounds);

/* Folds one new observation of a VM's demand into v->demand_rise_rms:
 * the rise from prev_demand (0 if it fell) enters an exponentially
 * weighted mean of squares with weight 1/risk_rounds. It also folds
 * now_demand into v->demand_peak (see there). The caller calls it
 * once per observation, before setting v->demand = now_demand or after
 * (only the two figures are read). */
void market_vm_rise_update(const market_params *p, market_vm *v,
			   int64_t prev_demand, int64_t now_demand);

/* What prices see of a VM: demand * (1 + buffer_pct/100), capped at the
 * ceiling but NOT raised to the floor (Minimums are an admission matter,
 * not demand: docs/market.md, "Sellers"). */
int64_t market_vm_priced(const market_vm *v);

/* demand / assigned * 100; 0 demand gives 0, 0 assigned gives +inf-safe
 * large value (documented). */
double market_vm_pressure(int64_t demand, int64_t assigned);

/* Buyer's budget: grows with weight and shares, and with suffering
 * (pressure above 100, guest swap). */
double market_vm_budget(const market_params *p, const market_vm *v);

#endif
