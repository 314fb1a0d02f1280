/*
 * migrate.c - the migration model (docs/simulator.md, "Migration cost").
 *
 * A policy migrates a VM by setting its host; the engine turns each host
 * change into a pre-copy live migration: it takes migrate_seconds(), the VM
 * keeps running on its source with the memory it had until the first step
 * at or after the move ends, and meanwhile the destination holds the memory
 * the VM will have there (counted as reserve on that host). At most
 * migrate_per_host moves may be in or out of a host at once; a move over
 * that, one whose destination cannot hold the VM beside what it holds, and
 * one whose dirty rate is not below the bandwidth are refused (the policy
 * may ask again next step). What the policy gave to the source's other VMs
 * out of memory the VM still holds there is taken back.
 */
#include <math.h>
#include <stdlib.h>

#include "policy.h"
#include "banned.h"

/* Pre-copy rounds before the hypervisor stops and copies what is left
 * whatever its size; Xen's pre-copy gives up after about 30 rounds. */
#define MIG_MAX_ROUNDS 30

/* Seconds to move mib MiB at bw MiB/s while the guest dirties dirty MiB/s:
 * each round copies what the previous one left dirty, until what is left
 * can be copied within the downtime (stop-and-copy). About
 * mib / (bw - dirty). -1 if it never converges (dirty >= bw). */
static double mig_seconds(double mib, double bw, double dirty,
			  double downtime_s)
{
	double left = mib, t = 0;

	if (dirty >= bw)
		return -1;
	for (int r = 0; r < MIG_MAX_ROUNDS && left > bw * downtime_s; r++) {
		double dt = left / bw;

		t += dt;
		left = dirty * dt;
	}
	return t + left / bw;
}

int64_t mig_supply(const sim_state *s, size_t h)
{
	return s->hosts[h].capacity - s->cfg->host_reserve_mib -
	       s->inflight_in[h];
}

/* The reserve the policies see: the configured one, what moves into the
 * host hold, and `extra` (the hidden VMs' memory); below the capacity, as
 * the market requires (mig_supply() is what the checks use). */
static void set_reserve(sim_state *s, size_t h, int64_t extra)
{
	int64_t r = s->cfg->host_reserve_mib + s->inflight_in[h] + extra;
	int64_t cap = s->hosts[h].capacity;

	s->hosts[h].reserve = r < cap ? r : cap - 1;
}

int mig_init(sim_state *s)
{
	size_t nv = s->n_vms ? s->n_vms : 1, nh = s->n_hosts;

	s->before = calloc(nv, sizeof(*s->before));
	s->before_res = calloc(nv, sizeof(*s->before_res));
	s->before_host = calloc(nv, sizeof(*s->before_host));
	s->before_lm = calloc(nv, sizeof(*s->before_lm));
	s->inflight_in = calloc(nh, sizeof(*s->inflight_in));
	s->moving = calloc(nh, sizeof(*s->moving));
	s->scratch_h = calloc(nh, sizeof(*s->scratch_h));
	s->growth_h = calloc(nh, sizeof(*s->growth_h));
	s->want_vm = calloc(nv, sizeof(*s->want_vm));
	s->want_host = calloc(nv, sizeof(*s->want_host));
	s->want_mib = calloc(nv, sizeof(*s->want_mib));
	if (!s->want_vm || !s->want_host || !s->want_mib)
		return -1;
	if (!s->before || !s->before_res || !s->before_host || !s->before_lm ||
	    !s->inflight_in || !s->moving || !s->scratch_h || !s->growth_h)
		return -1;
	for (size_t i = 0; i < s->n_vms; i++) {
		s->x[i].mig_done = -1;
		s->x[i].prev_demand = -1;
		for (size_t k = 0; k < SIM_LEFT_HOSTS; k++)
			s->x[i].left_t[k] = -1;
	}
	return 0;
}

void mig_free(sim_state *s)
{
	free(s->before);
	free(s->before_res);
	free(s->before_host);
	free(s->before_lm);
	free(s->inflight_in);
	free(s->moving);
	free(s->scratch_h);
	free(s->growth_h);
	free(s->want_vm);
	free(s->want_host);
	free(s->want_mib);
}

/* The move of VM i is over (landed or dropped): free its reservation. */
static void mig_end(sim_state *s, size_t i, uint32_t src)
{
	sim_vmx *x = &s->x[i];

	s->inflight_in[x->mig_dst] -= x->mig_mib;
	s->moving[x->mig_dst]--;
	s->moving[src]--;
	set_reserve(s, x->mig_dst, 0);
	x->mig_done = -1;
}

void mig_advance(sim_state *s)
{
	for (size_t i = 0; i < s->n_vms; i++) {
		sim_vmx *x = &s->x[i];
		market_vm *v = &s->vms[i];

		if (x->mig_done < 0)
			continue;
		if (!x->alive) { /* it left while moving: the copy is dropped */
			mig_end(s, i, v->host);
			continue;
		}
		if (s->round < x->mig_done)
			continue;
		uint32_t src = v->host;
		v->host = x->mig_dst;
		v->assigned = x->mig_mib;
		x->swapped = 0;
		x->moved = 1;
		mig_end(s, i, src);
	}
}

void mig_snapshot(sim_state *s)
{
	for (size_t i = 0; i < s->n_vms; i++) {
		const market_vm *v = &s->vms[i];

		s->before[i] = s->x[i].placed ? v->assigned : -1;
		s->before_res[i] = v->assigned - s->x[i].swapped;
		s->before_host[i] = v->host;
		s->before_lm[i] = v->last_migrated;
	}
}

/* Add (sign 1) or take back (-1) the hidden VMs' memory on their sources. */
static void mig_hidden(sim_state *s, int hide)
{
	for (size_t h = 0; h < s->n_hosts; h++)
		s->scratch_h[h] = 0;
	for (size_t i = 0; i < s->n_vms; i++) {
		sim_vmx *x = &s->x[i];

		if (x->mig_done < 0)
			continue;
		x->placed = !hide;
		s->scratch_h[s->vms[i].host] += s->vms[i].assigned - x->swapped;
	}
	for (size_t h = 0; h < s->n_hosts; h++)
		set_reserve(s, h, hide ? s->scratch_h[h] : 0);
}

void mig_hide(sim_state *s)
{
	mig_hidden(s, 1);
}

void mig_unhide(sim_state *s)
{
	mig_hidden(s, 0);
}

/* 1 if moving to dst now is a return: the VM left dst within the window. */
static int is_return(const sim_state *s, size_t i, uint32_t dst, int64_t now)
{
	const sim_vmx *x = &s->x[i];

	for (size_t k = 0; k < SIM_LEFT_HOSTS; k++)
		if (x->left_t[k] >= 0 && x->left_host[k] == dst &&
		    now - x->left_t[k] <= s->cfg->return_window_s)
			return 1;
	return 0;
}

/* Count a move of VM i from src to dst starting now, and remember src. */
static void count_move(sim_state *s, size_t i, uint32_t src, uint32_t dst,
		       int64_t now, double secs)
{
	sim_vmx *x = &s->x[i];

	s->mig.migrations++;
	s->mig.gib_moved += (double)s->before[i] / 1024.0;
	s->mig.migration_s += secs;
	if (is_return(s, i, dst, now))
		s->mig.return_migrations++;
	for (size_t k = SIM_LEFT_HOSTS - 1; k > 0; k--) {
		x->left_host[k] = x->left_host[k - 1];
		x->left_t[k] = x->left_t[k - 1];
	}
	x->left_host[0] = src;
	x->left_t[0] = now;
}

/* Decide on the move of VM i (put back on its source, with its memory
 * before the step) to dst with want MiB there. Returns 1 if it starts. */
static int mig_try(sim_state *s, size_t i, uint32_t dst, int64_t want,
		   int64_t now)
{
	const sim_config *c = s->cfg;
	sim_vmx *x = &s->x[i];
	uint32_t src = s->vms[i].host;
	int64_t grew = x->prev_demand >= 0 ? s->vms[i].demand - x->prev_demand : 0;
	double dirty = c->dirty_mibps +
		       (grew > 0 ? (double)grew / (double)c->step_s : 0);
	double secs = mig_seconds((double)s->before[i], c->migrate_mibps, dirty,
				  c->downtime_ms / 1000.0);

	if (secs < 0) {
		s->mig.mig_no_converge++;
		return 0;
	}
	if (s->moving[src] >= c->migrate_per_host ||
	    s->moving[dst] >= c->migrate_per_host) {
		s->mig.mig_deferred++;
		return 0;
	}
	if (s->resident[dst] + want > mig_supply(s, dst)) {
		s->mig.mig_no_room++;
		return 0;
	}
	int64_t steps = (int64_t)ceil(secs / (double)c->step_s);
	x->mig_done = s->round + (steps > 1 ? steps : 1);
	x->mig_dst = dst;
	x->mig_mib = want;
	s->inflight_in[dst] += want;
	s->moving[src]++;
	s->moving[dst]++;
	set_reserve(s, dst, 0);
	count_move(s, i, src, dst, now, secs);
	return 1;
}

/* Hosts over what they sell (sources whose VM is still there) take back
 * what the policy gave their VMs beyond what each held before the step,
 * in proportion to that growth. Two passes over the VMs. */
static void give_back(sim_state *s)
{
	for (size_t h = 0; h < s->n_hosts; h++)
		s->growth_h[h] = 0;
	sim_sum_resident(s);
	for (size_t i = 0; i < s->n_vms; i++) {
		int64_t g = s->vms[i].assigned - s->x[i].swapped - s->before_res[i];

		if (s->x[i].placed && s->before[i] >= 0 && g > 0)
			s->growth_h[s->vms[i].host] += g;
	}
	for (size_t h = 0; h < s->n_hosts; h++) {
		int64_t over = s->resident[h] - mig_supply(s, h);

		s->scratch_h[h] = over > 0 ? over : 0;
	}
	for (size_t i = 0; i < s->n_vms; i++) {
		market_vm *v = &s->vms[i];
		int64_t g = v->assigned - s->x[i].swapped - s->before_res[i];
		size_t h = v->host;

		if (!s->x[i].placed || s->before[i] < 0 || g <= 0 ||
		    s->scratch_h[h] == 0)
			continue;
		/* ceil(over * g / G), at most what is still over */
		double share = ceil((double)s->scratch_h[h] * (double)g /
				    (double)s->growth_h[h]);
		int64_t cut = (int64_t)share;
		if (cut > g)
			cut = g;
		if (cut > s->scratch_h[h])
			cut = s->scratch_h[h];
		v->assigned -= cut;
		s->growth_h[h] -= g;
		s->scratch_h[h] -= cut;
	}
}

void mig_commit(sim_state *s, int64_t now)
{
	size_t n = 0;

	/* every move asked for: the VM goes back to its source with what it
	 * had, so that the hosts' residents below are what they really hold */
	for (size_t i = 0; i < s->n_vms; i++) {
		market_vm *v = &s->vms[i];

		if (!s->x[i].placed || s->before[i] < 0 ||
		    v->host == s->before_host[i])
			continue;
		if (s->cfg->migration_instant) {
			count_move(s, i, s->before_host[i], v->host, now, 0);
			continue;
		}
		s->want_host[n] = v->host;
		s->want_mib[n] = v->assigned;
		s->want_vm[n++] = i;
		v->host = s->before_host[i];
		v->assigned = s->before[i];
	}
	if (n == 0)
		return;
	sim_sum_resident(s);
	for (size_t k = 0; k < n; k++) {
		size_t i = s->want_vm[k];

		if (!mig_try(s, i, s->want_host[k], s->want_mib[k], now))
			s->vms[i].last_migrated = s->before_lm[i];
	}
	give_back(s);
}
