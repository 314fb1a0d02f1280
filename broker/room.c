/*
 * room.c - what a host has for a grow now, as the broker knows it.
 *
 * The market's plan fits every host once all of a round's actions are
 * done; it says nothing of the order they land in. A grow (a resize up, or
 * a migration's copy on its destination) sent while the shrinks that fund
 * it still wait (for their VMs' cooldown, or in flight) puts more on its
 * host than the host sells: an emulated host refuses it ("host host-c
 * cannot hold 629 MiB more"), a real one overcommits. So actions.c sends a
 * grow only when its host has the room for it now:
 *
 *   room = capacity - reserve
 *        - what the host's VMs hold (each VM's latest bid, or the size a
 *          grow of it that succeeded gave it, until a bid read after that
 *          can show it: BROKER_ROOM_SEEN_ROUNDS rounds after its result)
 *        - the grows in flight to it (dispatched recommendations, from
 *          the store: those of an earlier broker run too)
 *
 * A shrink frees nothing here until a bid shows it. Silent VMs still
 * hold what they last reported; gone ones hold nothing.
 *
 * The state (broker_room) is this file's; bvm.grown_mib and grown_at are
 * written here too (broker__room_done()).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker_int.h"
#include "banned.h"

/* Rounds after a grow's result until the VM's bids are trusted to show
 * it: its agent's next reading may have started before the result (a
 * libvirt reading can take more than a round while a migration runs). */
#define BROKER_ROOM_SEEN_ROUNDS 2

/* What VM m holds as the broker knows it now. */
static int64_t vm_holds(const broker *b, const bvm *m)
{
	int64_t seen = BROKER_ROOM_SEEN_ROUNDS * b->cfg->round_ms;

	if (m->grown_at && m->last_bid < m->grown_at + seen &&
	    m->grown_mib > m->cfg.assigned)
		return m->grown_mib;
	return m->cfg.assigned;
}

/* MiB r takes on host slot *h when carried out (0: not a grow), and *h. */
static int64_t grow_of(const broker *b, const store_rec *r, uint32_t *h)
{
	uint32_t v = broker__registry_vm_find(&b->reg, r->vm_name);
	int64_t holds;

	*h = BROKER_NO_SLOT;
	if (v == BROKER_NO_SLOT)
		return 0;
	if (r->kind == STORE_REC_MIGRATE) {
		*h = broker__registry_host_find(&b->reg, r->to_host);
		return *h == BROKER_NO_SLOT ? 0 : r->to_mib;
	}
	holds = vm_holds(b, &b->reg.vms[v]);
	*h = b->reg.vms[v].host;
	return r->to_mib > holds ? r->to_mib - holds : 0;
}

int broker__room_begin(broker *b, const store_rec *inflight, size_t n)
{
	broker_room *rm = &b->room;
	const registry *g = &b->reg;

	if (UTIL_GROW(rm->held, g->n_hosts, rm->cap)) {
		rm->n = 0;
		return -1;
	}
	rm->n = g->n_hosts;
	if (rm->n)
		memset(rm->held, 0, rm->n * sizeof(*rm->held));
	for (size_t i = 0; i < g->n_vms; i++) {
		const bvm *m = &g->vms[i];

		if (m->registered && !m->gone && m->host < rm->n)
			rm->held[m->host] += vm_holds(b, m);
	}
	for (size_t i = 0; i < n; i++) {
		uint32_t h;
		int64_t mib = grow_of(b, &inflight[i], &h);

		if (h < rm->n)
			rm->held[h] += mib;
	}
	return 0;
}

/* Host slot h's room now (what it sells less what is held on it). */
static int64_t room_left(const broker *b, uint32_t h)
{
	const bhost *x = &b->reg.hosts[h];

	return x->capacity_mib - x->reserve_mib - b->room.held[h];
}

int broker__room_ok(const broker *b, const store_rec *r, char *why,
		    size_t len)
{
	uint32_t h;
	int64_t mib = grow_of(b, r, &h);

	if (mib == 0)
		return 1;
	if (h >= b->room.n) { /* broker__room_begin() failed (ENOMEM) */
		util_err(why, len, "the broker could not count the memory of "
			 "%s's host (out of memory)", r->vm_name);
		return 0;
	}
	if (mib <= room_left(b, h))
		return 1;
	util_err(why, len, "room: %s would take %" PRId64 " MiB more on %s, "
		 "which has %" PRId64 " (its VMs and the grows on their way "
		 "hold %" PRId64 " of the %" PRId64 " MiB it sells); it goes "
		 "once the shrinks that fund it have landed", r->vm_name, mib,
		 b->reg.hosts[h].name, room_left(b, h), b->room.held[h],
		 b->reg.hosts[h].capacity_mib - b->reg.hosts[h].reserve_mib);
	return 0;
}

void broker__room_take(broker *b, const store_rec *r)
{
	uint32_t h;
	int64_t mib = grow_of(b, r, &h);

	if (h < b->room.n)
		b->room.held[h] += mib;
}

void broker__room_done(broker *b, const store_rec *r, int succeeded)
{
	uint32_t v = broker__registry_vm_find(&b->reg, r->vm_name);
	bvm *m;

	if (v == BROKER_NO_SLOT)
		return;
	m = &b->reg.vms[v];
	/* a failed resize may have got part of the way: held as if it went;
	 * a failed migration leaves the VM as it was */
	if (r->kind == STORE_REC_MIGRATE && !succeeded)
		return;
	if (r->to_mib > m->cfg.assigned) {
		m->grown_mib = r->to_mib;
		m->grown_at = b->now;
	}
}

void broker__room_release(broker *b)
{
	free(b->room.held);
	memset(&b->room, 0, sizeof(b->room));
}
