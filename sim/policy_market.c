/*
 * policy_market.c - the `market` policy: one market_round() per interval,
 * the same code the broker runs. Awards become assigned memory; migrate
 * recommendations move the VM with its award (docs/simulator.md).
 */
#include "policy.h"
#include "banned.h"

/* The volatility every market VM carries (market_vm_rise_update), from
 * the demand the policy sees, as the broker keeps it from the bids. */
static void track_rises(sim_state *s)
{
	for (size_t i = 0; i < s->n_vms; i++) {
		market_vm *v = &s->vms[i];
		sim_vmx *x = &s->x[i];
		if (!x->alive) {
			x->seen = 0;
			v->demand_rise_rms = 0;
			v->demand_peak = 0;
			continue;
		}
		if (x->seen)
			market_vm_rise_update(&s->cfg->market, v,
					      x->seen_demand, v->demand);
		x->seen = 1;
		x->seen_demand = v->demand;
	}
}

/* Each host's congested_rounds for the next round, as the broker counts
 * them: rounds in a row with a shortage or utilization >= migrate_util. */
static void count_congestion(sim_state *s)
{
	for (size_t h = 0; h < s->n_hosts; h++) {
		s->hosts[h].congested_rounds = market_congested_next(
			&s->cfg->market, &s->res.hosts[h],
			s->hosts[h].congested_rounds);
	}
}

/* The round's signals: how many, whether the cluster's signal (none,
 * provision, suspend) changed since the round before, and suspends that
 * come within an hour of a provision (the flapping of issue 13). */
static void count_signals(sim_state *s)
{
	int kind = 0;
	int64_t hour = (3600 + s->cfg->step_s - 1) / s->cfg->step_s;

	for (size_t g = 0; g < s->res.n_signals; g++) {
		if (s->res.signals[g].kind == MARKET_SIG_PROVISION) {
			s->provision_signals++;
			kind = 1;
		} else {
			s->suspend_signals++;
			kind = kind ? kind : 2;
		}
	}
	if (kind != s->last_signal)
		s->signal_flips++;
	s->last_signal = kind;
	if (kind == 1)
		s->last_provision = s->round;
	else if (kind == 2 && s->last_provision >= 0 &&
		 s->round - s->last_provision <= hour)
		s->suspend_after_provision++;
}

int policy_market_step(sim_state *s, char *err, size_t errlen)
{
	size_t n = 0;
	track_rises(s);
	for (size_t i = 0; i < s->n_vms; i++) {
		if (!s->x[i].placed)
			continue;
		s->mvms[n] = s->vms[i];
		s->mmap[n++] = (uint32_t)i;
	}
	market_cluster c = {
		.hosts = s->hosts, .n_hosts = s->n_hosts,
		.vms = s->mvms, .n_vms = n,
	};
	if (market_round(&s->cfg->market, &c, s->round, &s->res, err,
			 errlen) != 0)
		return -1;
	for (size_t k = 0; k < n; k++)
		s->vms[s->mmap[k]].assigned = s->res.awards[k].target;
	for (size_t r = 0; r < s->res.n_recs; r++) {
		const market_rec *rec = &s->res.recs[r];
		if (rec->kind != MARKET_REC_MIGRATE)
			continue;
		size_t i = s->mmap[rec->vm];
		market_vm_note_move(&s->vms[i], s->vms[i].host, s->round);
		s->vms[i].host = rec->to_host;
		s->vms[i].assigned = rec->to_mib;
		s->vms[i].last_migrated = s->round;
		s->x[i].moved = 1;
		s->migrations++;
	}
	count_congestion(s);
	count_signals(s);
	return 0;
}
