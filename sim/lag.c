/*
 * lag.c - the decision lag (docs/simulator.md, "Decision lag"): every
 * policy decides on the demand and guest swap seen lag_steps steps ago and
 * is measured against the current step's. A ring of lag_steps + 1
 * observations per VM; with lag 0 a policy sees what it always saw.
 */
#include <stdlib.h>

#include "policy.h"
#include "banned.h"

int lag_init(sim_state *s)
{
	size_t nv = s->n_vms ? s->n_vms : 1;
	size_t slots = (size_t)s->cfg->lag_steps + 1;

	s->lag_slots = slots;
	s->obs_demand = calloc(slots * nv, sizeof(*s->obs_demand));
	s->obs_swap = calloc(slots * nv, sizeof(*s->obs_swap));
	s->obs_round = malloc(slots * nv * sizeof(*s->obs_round));
	s->true_demand = calloc(nv, sizeof(*s->true_demand));
	s->true_swap = calloc(nv, sizeof(*s->true_swap));
	if (!s->obs_demand || !s->obs_swap || !s->obs_round ||
	    !s->true_demand || !s->true_swap)
		return -1;
	for (size_t k = 0; k < slots * nv; k++)
		s->obs_round[k] = -1;
	return 0;
}

void lag_free(sim_state *s)
{
	free(s->obs_demand);
	free(s->obs_swap);
	free(s->obs_round);
	free(s->true_demand);
	free(s->true_swap);
}

static size_t slot_of(const sim_state *s, int64_t round)
{
	return (size_t)((uint64_t)round % s->lag_slots) * s->n_vms;
}

void lag_record(sim_state *s)
{
	size_t base = slot_of(s, s->round);

	for (size_t i = 0; i < s->n_vms; i++) {
		if (!s->x[i].alive)
			continue;
		s->obs_demand[base + i] = s->vms[i].demand;
		s->obs_swap[base + i] = s->vms[i].guest_swap_mibps;
		s->obs_round[base + i] = s->round;
	}
}

void lag_apply(sim_state *s)
{
	int64_t seen = s->round - (int64_t)s->cfg->lag_steps;
	size_t base = seen >= 0 ? slot_of(s, seen) : 0;

	for (size_t i = 0; i < s->n_vms; i++) {
		market_vm *v = &s->vms[i];

		if (!s->x[i].alive)
			continue;
		s->true_demand[i] = v->demand;
		s->true_swap[i] = v->guest_swap_mibps;
		if (seen >= 0 && s->obs_round[base + i] == seen) {
			v->demand = s->obs_demand[base + i];
			v->guest_swap_mibps = s->obs_swap[base + i];
		} else { /* not seen yet: it asks for what it started with */
			v->demand = v->startup;
			v->guest_swap_mibps = 0;
		}
	}
}

void lag_restore(sim_state *s)
{
	for (size_t i = 0; i < s->n_vms; i++) {
		if (!s->x[i].alive)
			continue;
		s->vms[i].demand = s->true_demand[i];
		s->vms[i].guest_swap_mibps = s->true_swap[i];
	}
}
