/*
 * round.c - one market round in the broker.
 *
 * 1. the cluster: every host registered in this run (lost ones stay in with
 *    online = 0: they are no migration target, and their VMs keep holding
 *    what they held, so it is not counted as free) that is not settling
 *    (host_settling()), each with its draining flag as the store has it
 *    (read_drains(): `bourse host drain`), and every registered VM on such
 *    a host that has bid since it registered and is not silent
 *    (vm_silent());
 * 2. market_round(), the simulator's code;
 * 3. the round's rows (prices, samples and allocations, recommendations with
 *    a sentence saying why, signals) written in one store transaction;
 *    recommendations for VMs on lost hosts are left out;
 * 4. one Award per online host connection, whether or not step 3 worked.
 *
 * When the store refuses the round, outage.c takes over: see there.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker_int.h"
#include "banned.h"

/* Scratch for the store rows, sized like the cluster. */
typedef struct round_rows {
	store_price_row *prices;
	store_alloc_row *allocs;
	store_rec_in *recs;
	store_signal_row *signals;
	size_t n_recs;
} round_rows;

static int ensure_cluster(broker *b, size_t nh, size_t nv)
{
	broker_rounds *rd = &b->rounds;

	if (UTIL_GROW(rd->cl.hosts, nh, rd->cap_hosts) ||
	    UTIL_GROW(rd->host_slot, nh, rd->cap_host_slot) ||
	    UTIL_GROW(rd->cl.vms, nv, rd->cap_vms) ||
	    UTIL_GROW(rd->vm_slot, nv, rd->cap_vm_slot))
		return -1;
	/* sized like the cluster's arrays, so that it grows as seldom */
	if (nh > rd->res_hosts || nv > rd->res_vms || !rd->res.hosts) {
		market_result_release(&rd->res);
		if (market_result_init(&rd->res, rd->cap_hosts, rd->cap_vms))
			return -1;
		rd->res_hosts = rd->cap_hosts;
		rd->res_vms = rd->cap_vms;
	}
	return 0;
}

/* How long a host may settle: its agent hears of a broker restart within
 * its liveness timeout, registers, and bids within an interval (the round,
 * unless the agent set its own); one more round of slack. */
static int64_t settle_ms(const broker_config *c)
{
	return 2 * c->round_ms + broker__liveness_ms(c);
}

/* An online host settles from its registration until it has asked and every
 * VM the broker expects on it (registered this run, or known from the store)
 * has bid, or until settle_ms() has passed. A settling host is left out of
 * the round: with half its VMs it would look idle, be priced low (expiring
 * pending recommendations by price drift) and be offered for suspension, as
 * every host would in the first round after a broker restart. */
static int host_settling(const broker *b, const bhost *h, uint32_t unheard,
			 int64_t now)
{
	return h->online && (!h->has_ask || unheard > 0) &&
	       now - h->registered_at < settle_ms(b->cfg);
}

/* A VM of an online host that has not bid for SILENT_ROUNDS rounds (at
 * least the liveness timeout) is left out: its agent no longer sees it
 * (shut down, or migrated away and not yet reported by the destination),
 * so it holds nothing here to price or to recommend for. A lost host's VMs
 * stay in, holding what they held. */
#define SILENT_ROUNDS 3

static int vm_silent(const broker *b, const bvm *m, int64_t now)
{
	int64_t quiet = SILENT_ROUNDS * b->cfg->round_ms;
	int64_t live = broker__liveness_ms(b->cfg);

	if (!b->reg.hosts[m->host].online)
		return 0;
	return now - m->last_bid > (quiet > live ? quiet : live);
}

/* Per host slot, how many VMs expected on it have not bid yet. */
static void count_unheard(const registry *r, uint32_t *unheard)
{
	memset(unheard, 0, r->n_hosts * sizeof(*unheard));
	for (size_t i = 0; i < r->n_vms; i++) {
		const bvm *m = &r->vms[i];

		if (!m->gone && m->host != BROKER_NO_SLOT &&
		    (!m->registered || !m->has_bid))
			unheard[m->host]++;
	}
}

/* The cluster's hosts: every registered host with memory to sell that is
 * not settling (unheard: per host slot, its VMs that have not bid yet).
 * host_ix[i] becomes host slot i's cluster index, or NO_SLOT. */
static void add_hosts(broker *b, const uint32_t *unheard, uint32_t *host_ix,
		      int64_t now)
{
	broker_rounds *rd = &b->rounds;
	const registry *r = &b->reg;
	size_t nh = 0;

	rd->n_settling = 0;
	for (size_t i = 0; i < r->n_hosts; i++) {
		const bhost *h = &r->hosts[i];

		host_ix[i] = BROKER_NO_SLOT;
		if (!h->registered || h->capacity_mib <= h->reserve_mib)
			continue;
		if (host_settling(b, h, unheard[i], now)) {
			rd->n_settling++;
			continue;
		}
		market_host *mh = &rd->cl.hosts[nh];

		mh->id = h->db_id;
		mh->capacity = h->capacity_mib;
		mh->reserve = h->reserve_mib;
		mh->host_swap_mibps = h->host_swap_mibps;
		mh->online = h->online;
		mh->congested_rounds = h->congested_rounds;
		mh->draining = h->draining;
		mh->probation = h->probation;
		rd->host_slot[nh] = (uint32_t)i;
		host_ix[i] = (uint32_t)nh++;
	}
	rd->cl.n_hosts = nh;
}

/* A VM of a host with bad data (check_bad_data()) holds, for the market,
 * its share of the host's capacity: its assigned memory scaled by capacity
 * / what the host's VMs report, rounded down, so that they fit. */
static void clamp_assigned(const broker *b, uint32_t slot, market_vm *v)
{
	const broker_rounds *rd = &b->rounds;
	const bhost *h = &b->reg.hosts[slot];

	if (!(rd->bad[slot] & BROKER_BAD_DATA) || rd->held[slot] <= 0)
		return;
	v->assigned = (int64_t)((double)v->assigned * (double)h->capacity_mib /
				(double)rd->held[slot]);
}

/* The hosts VM m left, as this round's cluster indices (a host not in the
 * cluster this round cannot be a destination anyway). */
static void left_hosts(const bvm *m, const uint32_t *host_ix, market_vm *v)
{
	for (int k = 0; k < MARKET_LEFT_HOSTS; k++) {
		uint32_t s1 = m->left_slot1[k];
		v->left_host_plus1[k] = 0;
		v->left_round[k] = m->left_round[k];
		if (s1 != 0 && host_ix[s1 - 1] != BROKER_NO_SLOT)
			v->left_host_plus1[k] = host_ix[s1 - 1] + 1;
	}
}

/* The cluster's VMs: every registered VM on a cluster host (host_ix) that
 * has bid since it registered and is not silent. */
static void add_vms(broker *b, const uint32_t *host_ix, int64_t now)
{
	broker_rounds *rd = &b->rounds;
	const registry *r = &b->reg;
	size_t nv = 0;

	for (size_t i = 0; i < r->n_vms; i++) {
		const bvm *m = &r->vms[i];

		if (!m->registered || m->gone || !m->has_bid ||
		    m->host == BROKER_NO_SLOT ||
		    host_ix[m->host] == BROKER_NO_SLOT || vm_silent(b, m, now))
			continue;
		rd->cl.vms[nv] = m->cfg;
		clamp_assigned(b, m->host, &rd->cl.vms[nv]);
		left_hosts(m, host_ix, &rd->cl.vms[nv]);
		rd->cl.vms[nv].id = m->db_id;
		rd->cl.vms[nv].host = host_ix[m->host];
		rd->vm_slot[nv++] = (uint32_t)i;
	}
	rd->cl.n_vms = nv;
}

/* A VM that the round would price (add_vms() without the host's cluster
 * index): registered, bidding, not gone nor silent. */
static int vm_counts(const broker *b, const bvm *m, int64_t now)
{
	return m->registered && !m->gone && m->has_bid &&
	       m->host != BROKER_NO_SLOT && !vm_silent(b, m, now);
}

/* The store learns a host's flag when it changes (tried again each round
 * until it is written); the log says it once, when it changes. */
static void bad_data_changed(broker *b, const bhost *h, uint8_t *bad,
			     int64_t assigned)
{
	char detail[STORE_TEXT_MAX], err[STORE_TEXT_MAX + 200];
	int is_bad = *bad & BROKER_BAD_DATA;

	if (is_bad)
		snprintf(detail, sizeof(detail), "%s: its VMs report %" PRId64
			 " MiB assigned, more than its capacity of %" PRId64
			 " MiB", h->name, assigned, h->capacity_mib);
	else
		snprintf(detail, sizeof(detail), "%s: its VMs report %" PRId64
			 " MiB assigned, within its capacity of %" PRId64
			 " MiB", h->name, assigned, h->capacity_mib);
	if (store_host_flag_set(b->st, h->db_id, is_bad, detail,
				util_wall_ms(), err, sizeof(err)) == 0)
		*bad &= (uint8_t)~BROKER_BAD_UNSAVED;
}

/* Bad data (docs/market.md, "What the market is given"): a host whose VMs
 * report more assigned memory than its capacity reports what cannot be
 * (the memory is not there). The market is not given it as it is:
 * clamp_assigned() scales its VMs' assigned down to fit the capacity; the
 * host is flagged in the store (`bourse hosts`, `bourse status`) and the
 * change logged once each way, until its figures fit again. Returns 0, or
 * -1 out of memory. */
static int check_bad_data(broker *b, int64_t now)
{
	broker_rounds *rd = &b->rounds;
	const registry *r = &b->reg;
	size_t old = rd->cap_bad;
	int64_t *sum;

	if (UTIL_GROW(rd->bad, r->n_hosts, rd->cap_bad) ||
	    UTIL_GROW(rd->held, r->n_hosts, rd->cap_held))
		return -1;
	if (rd->cap_bad > old)
		memset(rd->bad + old, 0, rd->cap_bad - old);
	sum = rd->held;
	if (r->n_hosts)
		memset(sum, 0, r->n_hosts * sizeof(*sum));
	for (size_t i = 0; i < r->n_vms; i++)
		if (vm_counts(b, &r->vms[i], now))
			sum[r->vms[i].host] += r->vms[i].cfg.assigned;
	for (size_t i = 0; i < r->n_hosts; i++) {
		const bhost *h = &r->hosts[i];
		uint8_t was = rd->bad[i] & BROKER_BAD_DATA;
		uint8_t is = h->registered && sum[i] > h->capacity_mib
			     ? BROKER_BAD_DATA : 0;

		if (is != was) {
			log_at(is ? LOG_WARNING : LOG_NOTICE,
			       LOG_F(.host = h->name),
			       "broker: host %s: its VMs report %" PRId64
			       " MiB assigned, %s its capacity of %" PRId64
			       " MiB: %s\n",
			       h->name, sum[i],
			       is ? "more than" : "within again",
			       h->capacity_mib,
			       is ? "bad data: the market gets their assigned "
				    "scaled down to fit, until they do"
				  : "figures taken as they are again");
			rd->bad[i] = is | BROKER_BAD_UNSAVED;
		}
		/* not while the store is down (outage.c): it would refuse,
		 * and count the refusal as another failed write */
		if ((rd->bad[i] & BROKER_BAD_UNSAVED) && !b->outage.down)
			bad_data_changed(b, h, &rd->bad[i], sum[i]);
	}
	return 0;
}

static int drain_add(const store_host_drain *d, void *ctx)
{
	broker_rounds *rd = ctx;

	if (UTIL_GROW(rd->drain_ids, rd->n_drain + 1, rd->cap_drain))
		return -1;
	rd->drain_ids[rd->n_drain++] = d->host_id;
	return 0;
}

static int drain_has(const broker_rounds *rd, uint32_t db_id)
{
	for (size_t i = 0; i < rd->n_drain; i++)
		if (rd->drain_ids[i] == db_id)
			return 1;
	return 0;
}

/* The draining hosts (`bourse host drain`), read from the store every
 * round; while it cannot be read (an outage, a lock) the last set read
 * stands. A host that starts or stops draining is logged once. */
static void read_drains(broker *b)
{
	broker_rounds *rd = &b->rounds;
	char err[300];

	if (!b->outage.down) {
		rd->n_drain = 0;
		if (store_host_drains_list(b->st, drain_add, rd, err,
					   sizeof(err)) != 0)
			fprintf(stderr, "broker: cannot read the draining "
				"hosts (%s): the last ones read stand\n", err);
	}
	for (size_t i = 0; i < b->reg.n_hosts; i++) {
		bhost *h = &b->reg.hosts[i];
		int is = drain_has(rd, h->db_id);

		if (is != h->draining && h->registered)
			fprintf(stderr, "broker: host %s %s\n", h->name, is
				? "is draining: no migration target, its VMs "
				  "are moved off"
				: "is no longer draining");
		h->draining = is;
	}
}

/* Each host's probation this round (--probation-rounds): a host that came
 * online lately is no migration target (market_host.probation, and an
 * approved migration to it waits: actions.c); said once when it ends. */
static void mark_probation(broker *b)
{
	for (size_t i = 0; i < b->reg.n_hosts; i++) {
		bhost *h = &b->reg.hosts[i];
		int on = broker__registry_probation(h, b->rounds.next,
						    b->cfg->probation_rounds);

		if (h->probation && !on && h->registered && h->online)
			log_at(LOG_NOTICE, LOG_F(.host = h->name),
			       "broker: host %s is out of probation: a "
			       "migration target from round %" PRId64 "\n",
			       h->name, b->rounds.next);
		h->probation = on;
	}
}

/* Fill b->rounds.cl from the registry. Returns 0, or -1 out of memory. */
static int build_cluster(broker *b)
{
	size_t n = b->reg.n_hosts ? b->reg.n_hosts : 1;
	uint32_t *unheard = calloc(n, sizeof(*unheard));
	uint32_t *host_ix = calloc(n, sizeof(*host_ix));
	int64_t now = util_now_ms();
	int rc = -1;

	if (unheard && host_ix &&
	    ensure_cluster(b, b->reg.n_hosts, b->reg.n_vms) == 0) {
		count_unheard(&b->reg, unheard);
		read_drains(b);
		mark_probation(b);
		if (check_bad_data(b, now) == 0) {
			add_hosts(b, unheard, host_ix, now);
			add_vms(b, host_ix, now);
			rc = 0;
		}
	}
	free(unheard);
	free(host_ix);
	return rc;
}

static void fill_prices(const broker *b, store_price_row *out)
{
	const broker_rounds *rd = &b->rounds;
	int64_t now = util_now_ms(), wall = util_wall_ms();

	for (size_t i = 0; i < rd->cl.n_hosts; i++) {
		const market_host_out *o = &rd->res.hosts[i];
		const bhost *h = &b->reg.hosts[rd->host_slot[i]];
		store_price_row *p = &out[i];

		memset(p, 0, sizeof(*p));
		p->host_id = h->db_id;
		p->supply_mib = o->supply;
		p->wanted_mib = o->wanted;
		p->floor_mib = o->floor;
		p->awarded_mib = o->awarded;
		p->utilization = o->utilization;
		p->balloon_pressure = o->balloon_pressure;
		p->swap_pressure = o->swap_pressure;
		p->price = o->price;
		p->clearing_price = o->clearing_price;
		p->shortage = o->shortage;
		p->infeasible = o->infeasible;
		p->free_mib = h->free_mib;
		p->balloon_mib = h->balloon_mib;
		p->host_swap_mibps = h->host_swap_mibps;
		if (h->online)
			p->last_seen_ms = wall - (now - h->last_seen);
	}
}

static void fill_allocs(const broker *b, store_alloc_row *out)
{
	const broker_rounds *rd = &b->rounds;

	for (size_t i = 0; i < rd->cl.n_vms; i++) {
		const market_vm *v = &rd->cl.vms[i];
		const market_award *a = &rd->res.awards[i];
		const bvm *m = &b->reg.vms[rd->vm_slot[i]];
		store_alloc_row *al = &out[i];

		memset(al, 0, sizeof(*al));
		al->vm_id = v->id;
		al->host_id = rd->cl.hosts[v->host].id;
		al->demand_mib = v->demand;
		al->assigned_mib = m->cfg.assigned; /* as reported, not as
		                                     * clamp_assigned() made it */
		al->guest_swap_mibps = v->guest_swap_mibps;
		al->balloon_mib = m->balloon_mib;
		al->reported_pressure = m->reported_pressure;
		al->want_mib = a->want;
		al->target_mib = a->target;
		al->budget = a->budget;
		al->pressure = a->pressure;
	}
}

/* What a recommendation's VM holds as its agent reported it: the market's
 * from_mib, unless clamp_assigned() scaled it down (bad data), where the
 * operator is told what the VM says it holds. */
static int64_t reported_from(const broker *b, const market_rec *rc)
{
	return b->reg.vms[b->rounds.vm_slot[rc->vm]].cfg.assigned;
}

/* A sentence longer than the store keeps ends in "..." */
static void ellipsis_if_cut(char *out, size_t len, int n)
{
	if (n >= 0 && (size_t)n >= len && len > 4)
		memcpy(out + len - 4, "...", 4);
}

static void why_resize(const broker *b, const market_rec *rc, char *out,
		       size_t len)
{
	const broker_rounds *rd = &b->rounds;
	const market_vm *v = &rd->cl.vms[rc->vm];
	const market_host_out *h = &rd->res.hosts[rc->from_host];
	const char *host = b->reg.hosts[rd->host_slot[rc->from_host]].name;
	int64_t from = reported_from(b, rc);
	int grows = rc->to_mib > from;
	int n;

	char at[64];

	/* one price per recommendation: the rec's own (price_here, what its
	 * costs were computed at). A migration off or onto the host in the
	 * same round reprices it after h->price was set, so the host's
	 * utilization then no longer explains the price. */
	if (rc->price_here == h->price)
		snprintf(at, sizeof(at), "at %.0f%% utilization",
			 100.0 * h->utilization);
	else
		snprintf(at, sizeof(at), "after this round's migrations");
	n = snprintf(out, len, "demand %" PRId64 " MiB plus %u%% buffer%s "
		 "wants %" PRId64 " MiB; %s asks %.2f/MiB %s%s, so the market "
		 "%s it from %" PRId64 " to %" PRId64 " MiB", v->demand,
		 v->buffer_pct, rd->res.awards[rc->vm].want > market_vm_want(v)
				? " and headroom for its rises" : "",
		 rd->res.awards[rc->vm].want, host,
		 rc->price_here, at, h->shortage ? " (short of memory)" : "",
		 grows ? "grows" : "shrinks", from, rc->to_mib);
	ellipsis_if_cut(out, len, n);
}

static void why_migrate(const broker *b, const market_rec *rc, char *out,
			size_t len)
{
	const broker_rounds *rd = &b->rounds;
	const char *from = b->reg.hosts[rd->host_slot[rc->from_host]].name;
	const char *to = b->reg.hosts[rd->host_slot[rc->to_host]].name;
	double saving = rc->cost_here > 0
			? 1.0 - rc->cost_there / rc->cost_here : 0.0;
	int n;

	if (rd->cl.hosts[rc->from_host].draining) {
		n = snprintf(out, len, "%s is draining (bourse host drain): its "
			     "VMs move off; %s is the cheapest host with room, "
			     "asking %.2f/MiB for %" PRId64 " MiB", from, to,
			     rc->price_there, rc->to_mib);
		ellipsis_if_cut(out, len, n);
		return;
	}
	n = snprintf(out, len, "%s asks %.2f/MiB at %.0f%% utilization, %s asks "
		 "%.2f/MiB; buying %" PRId64 " MiB costs %.0f here and %.0f "
		 "there with the move: %.0f%% cheaper", from, rc->price_here,
		 100.0 * rd->res.hosts[rc->from_host].utilization, to,
		 rc->price_there, rc->to_mib, rc->cost_here, rc->cost_there,
		 100.0 * saving);
	ellipsis_if_cut(out, len, n);
}

/* Is rec o (filled but for this) the relief of VM m, short of memory,
 * and did m bid after its last action's result (both on the monotonic
 * clock)? Then this round saw what the action did, and the store need
 * not wait settle_rounds to let the VM have memory (storage/store.h).
 * Other recs wait: a VM resized every round keeps a migration approved
 * by hand from ever going (the demo's did). Not known (its last action
 * not read in this broker run): 0. */
static int heard_since(const bvm *m, const store_rec_in *o)
{
	return broker__relief(o->kind, o->to_mib, o->from_mib,
			      o->pressure_before) && m->acted_known &&
	       m->acted_wall && m->has_bid && m->last_bid > m->acted_at;
}

static void fill_rec(const broker *b, const market_rec *rc, store_rec_in *o)
{
	const broker_rounds *rd = &b->rounds;
	const market_vm *v = &rd->cl.vms[rc->vm];
	const market_award *a = &rd->res.awards[rc->vm];

	memset(o, 0, sizeof(*o));
	o->kind = rc->kind == MARKET_REC_MIGRATE ? STORE_REC_MIGRATE
						 : STORE_REC_RESIZE;
	o->vm_id = v->id;
	o->from_host_id = rd->cl.hosts[rc->from_host].id;
	o->to_host_id = rc->to_host == MARKET_NO_HOST
			? 0 : rd->cl.hosts[rc->to_host].id;
	o->from_mib = reported_from(b, rc);
	o->to_mib = rc->to_mib;
	o->price_here = rc->price_here;
	o->price_there = rc->price_there;
	o->cost_here = rc->cost_here;
	o->cost_there = rc->cost_there;
	o->demand_mib = v->demand;
	o->want_mib = a->want;
	o->pressure_before = market_vm_pressure(v->demand, o->from_mib);
	o->pressure_after = market_vm_pressure(v->demand, rc->to_mib);
	o->budget = a->budget;
	o->heard_since = heard_since(&b->reg.vms[rd->vm_slot[rc->vm]], o);
	if (rc->kind == MARKET_REC_MIGRATE)
		why_migrate(b, rc, o->why, sizeof(o->why));
	else
		why_resize(b, rc, o->why, sizeof(o->why));
}

/* Recommendations, leaving out VMs whose host is lost. */
static size_t fill_recs(const broker *b, store_rec_in *out)
{
	const broker_rounds *rd = &b->rounds;
	size_t n = 0;

	for (size_t i = 0; i < rd->res.n_recs; i++) {
		const market_rec *rc = &rd->res.recs[i];

		if (!rd->cl.hosts[rc->from_host].online)
			continue;
		fill_rec(b, rc, &out[n++]);
	}
	return n;
}

static void fill_signals(const broker *b, store_signal_row *out)
{
	const broker_rounds *rd = &b->rounds;

	for (size_t i = 0; i < rd->res.n_signals; i++) {
		const market_signal *s = &rd->res.signals[i];

		out[i].kind = (int)s->kind;
		out[i].host_id = s->host == MARKET_NO_HOST
				 ? 0 : rd->cl.hosts[s->host].id;
		out[i].mib = s->mib;
	}
}

/* Write the round in one store transaction; *out says what became of the
 * recommendations. The store holds its writes after a fault (store.h):
 * this is where the broker tries it again, once a round. */
static int persist(broker *b, const round_rows *rows, int64_t started,
		   int64_t duration_ms, store_round_outcome *out)
{
	const broker_rounds *rd = &b->rounds;
	store_round w;
	store_rec_policy pol = b->cfg->recs;
	char err[STORE_TEXT_MAX + 200];
	int rc;

	memset(&w, 0, sizeof(w));
	w.round = rd->next;
	w.started_ms = started;
	w.duration_ms = duration_ms;
	w.msgs_in = b->net.msgs_in;
	w.msgs_dropped = b->net.dropped;
	w.prices = rows->prices;
	w.n_prices = rd->cl.n_hosts;
	w.allocs = rows->allocs;
	w.n_allocs = rd->cl.n_vms;
	w.recs = rows->recs;
	w.n_recs = rows->n_recs;
	w.signals = rows->signals;
	w.n_signals = rd->res.n_signals;
	broker__outage_retry(b);
	/* retention counts rounds as well as time (docs/storage.md) */
	pol.retention_rounds = (pol.retention_ms + b->cfg->round_ms - 1) /
			       b->cfg->round_ms;
	rc = store_round_write(b->st, &w, &pol, util_wall_ms(), out,
			       err, sizeof(err));
	broker__outage_written(b, rd->next, rc ? err : NULL);
	return rc;
}

/* The round's log line: what it decided and where its time went (market:
 * building the cluster and clearing it; store: the rows and their
 * transaction; awards: encoding and queueing one Award per host). */
static void log_round(const broker *b, const round_rows *rows,
		      const store_round_outcome *out, const int64_t t[4])
{
	const broker_rounds *rd = &b->rounds;

	if (b->cfg->quiet)
		return;
	log_at(LOG_DEBUG, LOG_F(.round = rd->next),
	       "broker: round %" PRId64 ": %zu hosts (%zu settling), "
	       "%zu VMs, %zu recs (%u new, %u refreshed, %u superseded, %u "
	       "expired), %zu signals, %.1f ms (market %.1f, store %.1f, "
	       "awards %.1f)\n",
	       rd->next, rd->cl.n_hosts, rd->n_settling, rd->cl.n_vms,
	       rows->n_recs, out->inserted, out->refreshed, out->superseded,
	       out->expired, rd->res.n_signals, (double)(t[3] - t[0]) / 1000,
	       (double)(t[1] - t[0]) / 1000, (double)(t[2] - t[1]) / 1000,
	       (double)(t[3] - t[2]) / 1000);
}

/* A round the store refused: what was decided and sent, and how long the
 * store has been failing (its error was logged with the first one). */
static void log_round_lost(const broker *b, const round_rows *rows)
{
	const broker_rounds *rd = &b->rounds;

	if (b->cfg->quiet)
		return;
	log_at(LOG_WARNING, LOG_F(.round = rd->next),
	       "broker: round %" PRId64 ": %zu hosts (%zu settling), "
	       "%zu VMs, %zu recs, %zu signals; awards sent, not persisted "
	       "(%" PRIu64 " in a row)\n",
	       rd->next, rd->cl.n_hosts, rd->n_settling, rd->cl.n_vms,
	       rows->n_recs, rd->res.n_signals, b->outage.lost);
}

/* The Award of cluster host h for the n VM awards in vms (all to conn). */
static void send_award(broker *b, size_t h, uint32_t conn,
		       const wire_vm_award *vms, size_t n)
{
	const broker_rounds *rd = &b->rounds;
	const bhost *bh = &b->reg.hosts[rd->host_slot[h]];
	wire_msg m;

	broker__msg_init(&m, WIRE_BODY_AWARD);
	m.award.round = (uint64_t)rd->next;
	m.award.host = bh->name;
	m.award.price = rd->res.hosts[h].price;
	m.award.utilization = rd->res.hosts[h].utilization;
	m.award.awarded_mib = rd->res.hosts[h].awarded;
	m.award.n_vms = n;
	m.award.vms = vms;
	broker__send(b, &b->reg.conns[conn], &m);
}

/* Host h's VM awards are va[lo, hi), vm_of[k] the VM's registry slot. The
 * host's connection gets one Award with its price and the awards of the VMs
 * that speak through it (moved to the front of the range); a VM with a
 * connection of its own (a buyer process) gets its award there, alone. */
static void send_host_awards(broker *b, size_t h, wire_vm_award *va,
			     const uint32_t *vm_of, size_t lo, size_t hi)
{
	const broker_rounds *rd = &b->rounds;
	uint32_t hconn = b->reg.hosts[rd->host_slot[h]].conn;
	size_t mine = lo;

	for (size_t k = lo; k < hi; k++) {
		uint32_t c = b->reg.vms[vm_of[k]].conn;

		if (c == hconn || c == BROKER_NO_SLOT) {
			wire_vm_award t = va[mine];

			va[mine++] = va[k];
			va[k] = t;
		} else if (b->reg.conns[c].live) {
			send_award(b, h, c, va + k, 1);
		}
	}
	send_award(b, h, hconn, va + lo, mine - lo);
}

/* One Award per online host: its price and its VMs' awards. */
static void send_awards(broker *b)
{
	const broker_rounds *rd = &b->rounds;
	size_t nh = rd->cl.n_hosts, nv = rd->cl.n_vms;
	wire_vm_award *va = calloc(nv ? nv : 1, sizeof(*va));
	uint32_t *vm_of = calloc(nv ? nv : 1, sizeof(*vm_of));
	size_t *first = calloc(nh + 1, sizeof(*first));
	size_t *fill = calloc(nh + 1, sizeof(*fill));

	if (!va || !vm_of || !first || !fill)
		goto out;
	/* group VM awards by host: counting sort on the cluster host index */
	for (size_t i = 0; i < nv; i++)
		first[rd->cl.vms[i].host + 1]++;
	for (size_t h = 0; h < nh; h++)
		first[h + 1] += first[h];
	for (size_t i = 0; i < nv; i++) {
		uint32_t h = rd->cl.vms[i].host;
		size_t k = first[h] + fill[h]++;

		vm_of[k] = rd->vm_slot[i];
		va[k].vm = b->reg.vms[vm_of[k]].name;
		va[k].target_mib = rd->res.awards[i].target;
		va[k].want_mib = rd->res.awards[i].want;
		va[k].price = rd->res.hosts[h].price;
		va[k].pressure = rd->res.awards[i].pressure;
	}
	for (size_t h = 0; h < nh; h++) {
		const bhost *bh = &b->reg.hosts[rd->host_slot[h]];

		if (bh->online && bh->conn != BROKER_NO_SLOT)
			send_host_awards(b, h, va, vm_of, first[h],
					 first[h + 1]);
	}
out:
	free(va);
	free(vm_of);
	free(first);
	free(fill);
}

/* The broker's heartbeat (store_broker_beat()), after a round persisted:
 * readers tell a running broker from a stopped one by it (docs/
 * operations.md, "Status views"). A beat the store refuses is not worth a
 * log line: the round just written says the broker runs, and the next
 * round beats again. */
static void beat(broker *b)
{
	char err[STORE_TEXT_MAX + 200];

	(void)store_broker_beat(b->st, util_wall_ms(), err, sizeof(err));
}

static int alloc_rows(round_rows *rows, size_t nh, size_t nv, size_t nr,
		      size_t ns)
{
	memset(rows, 0, sizeof(*rows));
	rows->prices = calloc(nh ? nh : 1, sizeof(*rows->prices));
	rows->allocs = calloc(nv ? nv : 1, sizeof(*rows->allocs));
	rows->recs = calloc(nr ? nr : 1, sizeof(*rows->recs));
	rows->signals = calloc(ns ? ns : 1, sizeof(*rows->signals));
	return rows->prices && rows->allocs && rows->recs && rows->signals
	       ? 0 : -1;
}

static void free_rows(round_rows *rows)
{
	free(rows->prices);
	free(rows->allocs);
	free(rows->recs);
	free(rows->signals);
}

/* Each cluster host's congested_rounds for the next round: rounds in a row
 * with a shortage or utilization >= migrate_util (the market sells a
 * host's VMs away only after migrate_persist of them). */
static void count_congestion(broker *b)
{
	broker_rounds *rd = &b->rounds;

	for (size_t i = 0; i < rd->cl.n_hosts; i++) {
		const market_host_out *o = &rd->res.hosts[i];
		bhost *h = &b->reg.hosts[rd->host_slot[i]];
		h->congested_rounds = market_congested_next(
			&b->cfg->market, o, h->congested_rounds);
	}
}

int broker__round(broker *b)
{
	broker_rounds *rd = &b->rounds;
	int64_t started = util_wall_ms();
	int64_t t[4] = { util_now_us(), 0, 0, 0 };
	round_rows rows = { 0 };
	store_round_outcome out = { 0 };
	char err[300];
	int rc = -1;

	if (build_cluster(b)) {
		log_at(LOG_ERR, LOG_F(.round = rd->next),
		       "broker: round %" PRId64 ": out of memory\n", rd->next);
		goto out;
	}
	if (market_round(&b->cfg->market, &rd->cl, rd->next, &rd->res, err,
			 sizeof(err))) {
		log_at(LOG_ERR, LOG_F(.round = rd->next),
		       "broker: round %" PRId64 ": market refused the "
		       "cluster: %s\n",
		       rd->next, err);
		goto out;
	}
	t[1] = util_now_us();
	count_congestion(b);
	if (alloc_rows(&rows, rd->cl.n_hosts, rd->cl.n_vms, rd->res.n_recs,
		       rd->res.n_signals))
		goto out;
	fill_prices(b, rows.prices);
	fill_allocs(b, rows.allocs);
	rows.n_recs = fill_recs(b, rows.recs);
	fill_signals(b, rows.signals);
	rd->last_split_us[1] = rd->last_split_us[2] = 0;
	if (persist(b, &rows, started, (t[1] - t[0]) / 1000, &out) == 0) {
		beat(b);
		t[2] = util_now_us();
		send_awards(b);
		t[3] = util_now_us();
		log_round(b, &rows, &out, t);
		rd->last_split_us[1] = t[2] - t[1];
		rd->last_split_us[2] = t[3] - t[2];
	} else {
		send_awards(b); /* the market is recomputed every round */
		log_round_lost(b, &rows);
	}
	rd->last_round = rd->next; /* for /metrics (broker__http_publish) */
	rd->last_wall_ms = started;
	rd->last_split_us[0] = t[1] - t[0];
	rc = 0;
out:
	free_rows(&rows);
	rd->count++;
	rd->next++;
	return rc;
}

int broker__round_open(broker *b, char *err, size_t errlen)
{
	if (store_round_last(b->st, &b->rounds.next, err, errlen))
		return -1;
	b->rounds.next++; /* rounds go on from the last one persisted */
	return 0;
}

void broker__round_release(broker *b)
{
	broker_rounds *rd = &b->rounds;

	market_result_release(&rd->res);
	free(rd->cl.hosts);
	free(rd->cl.vms);
	free(rd->host_slot);
	free(rd->vm_slot);
	free(rd->bad);
	free(rd->held);
	free(rd->drain_ids);
	rd->drain_ids = NULL;
	rd->n_drain = rd->cap_drain = 0;
	rd->bad = NULL;
	rd->held = NULL;
	rd->cap_bad = rd->cap_held = 0;
	rd->cl.hosts = NULL;
	rd->cl.vms = NULL;
	rd->host_slot = rd->vm_slot = NULL;
	rd->cap_hosts = rd->cap_vms = rd->cap_host_slot = rd->cap_vm_slot = 0;
	rd->res_hosts = rd->res_vms = 0;
}
