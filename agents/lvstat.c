/*
 * lvstat.c - a libvirt domain's figures from its balloon statistics
 * (lvstat.h gives the rules): pure arithmetic, no libvirt.
 */
#include <math.h>
#include <string.h>

#include "lvstat.h"
#include "wire.h"
#include "banned.h"

#define KIB_PER_MIB 1024.0

void lvstat_reset(lvstat_track *t)
{
	memset(t, 0, sizeof(*t));
}

static int has(const lvstat_reading *r, unsigned bit)
{
	return (r->have & bit) != 0;
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static double rate(uint64_t now, uint64_t before, double dt_s, double unit)
{
	double r = (double)(now - before) / unit / dt_s;

	return fmin(r, WIRE_MAX_MIBPS);
}

/* Keep this reading's counters as the last update. */
static void keep(lvstat_track *t, const lvstat_reading *r, double at_s,
		 int by_stamp, double now_s)
{
	t->have = 1;
	t->by_stamp = by_stamp;
	t->at_s = at_s;
	t->changed_s = now_s;
	t->swap_in_kib = r->swap_in_kib;
	t->swap_kib = r->swap_in_kib + r->swap_out_kib;
	t->swap_out_kib = r->swap_out_kib;
	t->faults = r->major_faults;
}

/* The rates, differenced between guest updates (lvstat.h, "Rates"). */
static void rates(lvstat_track *t, const lvstat_reading *r, double now_s,
		  double horizon_s)
{
	int by_stamp = has(r, LVSTAT_LAST_UPDATE) && r->last_update_s > 0;
	double at_s = by_stamp ? (double)r->last_update_s : now_s;
	uint64_t swap = r->swap_in_kib + r->swap_out_kib, out, forced;
	double dt;

	if (!t->have || t->by_stamp != by_stamp || swap < t->swap_kib ||
	    r->swap_in_kib < t->swap_in_kib || r->major_faults < t->faults ||
	    r->swap_out_kib < t->swap_out_kib || at_s < t->at_s) {
		t->swap_mibps = t->refault_mibps = t->out_mibps = 0;
		keep(t, r, at_s, by_stamp, now_s);
		return;
	}
	dt = at_s - t->at_s;
	if (dt <= 0) { /* no new update: what the last one said holds */
		if (now_s - t->changed_s >
		    LVSTAT_STALE_WINDOWS * horizon_s + 1.0)
			t->swap_mibps = t->refault_mibps = t->out_mibps = 0;
		return;
	}
	out = r->swap_out_kib - t->swap_out_kib;
	forced = out < t->credit_kib ? out : t->credit_kib;
	t->credit_kib -= forced;
	t->swap_mibps = rate(swap, t->swap_kib, dt, KIB_PER_MIB);
	t->out_mibps = rate(out - forced, 0, dt, KIB_PER_MIB);
	t->refault_mibps = fmax(rate(r->swap_in_kib, t->swap_in_kib, dt,
				     KIB_PER_MIB),
				rate(r->major_faults, t->faults, dt,
				     KIB_PER_MIB / LVSTAT_PAGE_KIB));
	keep(t, r, at_s, by_stamp, now_s);
}

/* Used memory in KiB by the first rule whose statistics are there. */
static uint64_t used_kib(const lvstat_reading *r, uint64_t current_kib,
			 int *rule)
{
	if (has(r, LVSTAT_ACTUAL) && has(r, LVSTAT_USABLE) &&
	    r->actual_kib >= r->usable_kib) {
		*rule = LVSTAT_USED_AVAILABLE; /* the kernel's own counted */
		return r->actual_kib - r->usable_kib;
	}
	if (has(r, LVSTAT_AVAILABLE) && has(r, LVSTAT_USABLE) &&
	    r->available_kib >= r->usable_kib) {
		*rule = LVSTAT_USED_AVAILABLE;
		return r->available_kib - r->usable_kib;
	}
	if (has(r, LVSTAT_ACTUAL) && has(r, LVSTAT_UNUSED) &&
	    r->actual_kib >= r->unused_kib) {
		*rule = LVSTAT_USED_ACTUAL;
		return r->actual_kib - r->unused_kib;
	}
	*rule = LVSTAT_USED_CURRENT;
	return current_kib;
}

/* The balloon's shrink since the last reading is credited: the swap-outs
 * it forces are not a shortage (rates() takes them off the credit first).
 * The credit lapses once the balloon has not shrunk for LVSTAT_SETTLED
 * readings: a guest with memory to spare swaps nothing out when squeezed,
 * and what it swaps out later is its own shortage (lvstat.h). */
static void credit_shrink(lvstat_track *t, uint64_t actual_kib)
{
	if (t->actual_kib && actual_kib < t->actual_kib) {
		t->credit_kib += t->actual_kib - actual_kib;
		t->still = 0;
	} else {
		if (t->still < LVSTAT_SETTLED)
			t->still++;
		if (t->still >= LVSTAT_SETTLED)
			t->credit_kib = 0;
	}
	t->actual_kib = actual_kib;
}

void lvstat_figure(lvstat_track *t, const lvstat_reading *r, double now_s,
		   uint64_t current_kib, int64_t max_mib, double horizon_s,
		   lvstat_figures *out)
{
	uint64_t cur = has(r, LVSTAT_ACTUAL) ? r->actual_kib : current_kib;
	double used, demand, need;

	memset(out, 0, sizeof(*out));
	credit_shrink(t, cur);
	rates(t, r, now_s, horizon_s);
	need = fmax(t->refault_mibps, t->out_mibps);
	used = (double)used_kib(r, current_kib, &out->used_rule) / KIB_PER_MIB;
	out->assigned_mib = clamp64((int64_t)(cur / 1024), 0, max_mib);
	demand = used + need * horizon_s;
	if (need >= LVSTAT_SHORT_MIBPS) /* short: all it holds is used */
		demand = fmax(demand, (double)out->assigned_mib +
					      need * horizon_s);
	out->demand_mib = demand >= (double)max_mib ? max_mib
			  : clamp64((int64_t)demand, 0, max_mib);
	if (out->assigned_mib > 0) /* else 0, not WIRE_PRESSURE_CAP */
		out->pressure = wire_pressure(out->demand_mib,
					      out->assigned_mib);
	out->swap_mibps = t->swap_mibps;
	out->refault_mibps = need;
}
