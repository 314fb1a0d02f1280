/*
 * lvstat.h - private to agents/ (not part of the agents API): a libvirt
 * domain's figures (assigned memory, demand, pressure, guest swap) from its
 * balloon statistics (virDomainMemoryStats, `virsh dommemstat`), as the
 * libvirt source (source_libvirt.c) reports them. Pure arithmetic on the
 * readings, so that tests/test_source_libvirt.c feeds it recorded
 * sequences; the source fills an lvstat_reading from libvirt.
 *
 * Rates (bug 3 of issue 17): the guest refreshes its statistics every
 * statistics period and stamps them (LAST_UPDATE, epoch seconds). The
 * cumulative counters (swap in/out KiB, major faults) are differenced
 * between two *guest updates*, over the time between their stamps, never
 * over the time between the agent's own readings: a reading that finds no
 * new update keeps the rates of the last one (nothing new is known), so
 * sampling at the period's own frequency cannot read 0, 2x, 0, 2x ... A
 * guest without LAST_UPDATE is timed by the monotonic clock of the
 * readings instead. Rates go to 0 when no update came for longer than
 * LVSTAT_STALE_WINDOWS horizons (+1 s): a guest that stopped reporting
 * is not assumed to be swapping forever. Counters that go backwards (a
 * guest rebooted) start again.
 *
 * Demand (bug 4; docs/market.md, "Demand of a libvirt guest"):
 *   used     = AVAILABLE - USABLE (guest MemTotal - MemAvailable), else
 *              ACTUAL - UNUSED, else the domain's current memory;
 *   refault  = max(swap-in rate, major-fault rate * LVSTAT_PAGE_KIB),
 *              MiB/s: memory the guest had to read back because it did not
 *              have it (swap-ins, and mapped file pages it had dropped);
 *   demand   = used + refault * horizon_s, clamped to 0..maximum
 * where horizon_s is the agent's bid interval: what the guest would read
 * back before the next decision. A guest short of memory so shows a demand
 * above what it holds (pressure above 100, balloon pressure at the
 * broker), a guest that has what it needs shows its used memory.
 *
 * Ownership: none; everything is the caller's.
 */
#ifndef BOURSE_LVSTAT_H
#define BOURSE_LVSTAT_H

#include <stdint.h>

#define LVSTAT_PAGE_KIB 4.0      /* a major fault reads one 4 KiB page */
#define LVSTAT_STALE_WINDOWS 2.0 /* no update for 2 horizons: rates 0 */

/* lvstat_reading.have bits: the statistics the guest gave. */
enum {
	LVSTAT_ACTUAL = 1u << 0,
	LVSTAT_AVAILABLE = 1u << 1,
	LVSTAT_USABLE = 1u << 2,
	LVSTAT_UNUSED = 1u << 3,
	LVSTAT_SWAP_IN = 1u << 4,
	LVSTAT_SWAP_OUT = 1u << 5,
	LVSTAT_MAJFLT = 1u << 6,
	LVSTAT_LAST_UPDATE = 1u << 7,
};

/* One reading of a domain's statistics (KiB, as libvirt gives them). */
typedef struct lvstat_reading {
	unsigned have;
	uint64_t actual_kib, available_kib, usable_kib, unused_kib;
	uint64_t swap_in_kib, swap_out_kib, major_faults;
	uint64_t last_update_s; /* epoch seconds of the guest's update */
} lvstat_reading;

/* How used memory was found. */
enum { LVSTAT_USED_AVAILABLE = 1, LVSTAT_USED_ACTUAL, LVSTAT_USED_CURRENT };

/* One domain's state between readings: zero it (lvstat_reset()) when the
 * domain is found or comes back. */
typedef struct lvstat_track {
	int have;             /* a previous update is kept */
	int by_stamp;         /* it was timed by LAST_UPDATE */
	double at_s;          /* its time: the stamp, or monotonic seconds */
	double changed_s;     /* monotonic seconds when an update was new */
	uint64_t swap_kib, swap_in_kib, faults;
	double swap_mibps, refault_mibps; /* the rates of the last window */
} lvstat_track;

typedef struct lvstat_figures {
	int64_t assigned_mib, demand_mib;
	double pressure;       /* demand / assigned * 100, 0 if assigned 0 */
	double swap_mibps;     /* swap in + out */
	double refault_mibps;  /* what the demand added, per second */
	int used_rule;         /* LVSTAT_USED_* */
} lvstat_figures;

void lvstat_reset(lvstat_track *t);

/* The figures of reading r, taken at monotonic time now_s, of a domain
 * whose current memory (virDomainGetInfo) is current_kib and maximum
 * max_mib (>= 1); horizon_s > 0. Updates *t. */
void lvstat_figure(lvstat_track *t, const lvstat_reading *r, double now_s,
		   uint64_t current_kib, int64_t max_mib, double horizon_s,
		   lvstat_figures *out);

#endif
