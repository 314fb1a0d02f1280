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
 *   used     = ACTUAL - USABLE (the balloon's size less the guest's
 *              MemAvailable: the guest kernel's own memory, outside its
 *              MemTotal, counts as used, so that used compares with the
 *              assigned size), else AVAILABLE - USABLE, else ACTUAL -
 *              UNUSED, else the domain's current memory;
 *   short    = max(swap-in rate, major-fault rate * LVSTAT_PAGE_KIB,
 *              rate of the swap-outs the balloon's shrinking does not
 *              explain), MiB/s: memory the guest had to read back
 *              because it did not have it (swap-ins, mapped file pages it
 *              had dropped), or had to evict beyond what a balloon took
 *              from it. A balloon shrinking by S KiB makes a guest swap
 *              out at most S KiB once: each shrink seen between two
 *              readings is a credit that swap-outs use up first, and the
 *              credit lapses when the balloon has not shrunk for
 *              LVSTAT_SETTLED readings (a guest with memory to spare
 *              evicted nothing). A guest squeezed below its working set
 *              is so seen short as soon as it evicts more than the
 *              squeeze, not two readings later (issue 17: a migrated
 *              guest, shrunk to its target on arrival, went 8 s unseen);
 *   demand   = used + short * horizon_s; when short >= LVSTAT_SHORT_MIBPS
 *              at least assigned + short * horizon_s (a guest that keeps
 *              swapping has nothing to spare: what MemAvailable still
 *              shows is the kernel's reserve); clamped to 0..maximum
 * where horizon_s is the agent's bid interval: what the guest would read
 * back or evict before the next decision. A guest short of memory so shows
 * a demand above what it holds (pressure above 100, balloon pressure at
 * the broker), a guest that has what it needs shows its used memory.
 * On real QEMU (the lab, docs/lab.md) a TCG guest squeezed below its
 * working set on busy cores swaps out at 5-20 MiB/s and reads back less
 * than 1 MiB/s (it spends its time in reclaim): the refault rate alone
 * read it as 60 % used and never grew it.
 *
 * Ownership: none; everything is the caller's.
 */
#ifndef BOURSE_LVSTAT_H
#define BOURSE_LVSTAT_H

#include <stdint.h>

#define LVSTAT_PAGE_KIB 4.0      /* a major fault reads one 4 KiB page */
#define LVSTAT_STALE_WINDOWS 2.0 /* no update for 2 horizons: rates 0 */
#define LVSTAT_SHORT_MIBPS 1.0   /* swapping at least this: short */
#define LVSTAT_SETTLED 2         /* readings without a shrink: credit lapses */

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
	uint64_t swap_kib, swap_in_kib, swap_out_kib, faults;
	double swap_mibps, refault_mibps; /* the rates of the last window */
	double out_mibps;     /* swap-out, the same window */
	uint64_t actual_kib;  /* the balloon at the last reading */
	uint64_t credit_kib;  /* swap-out its shrinking may still explain */
	int still;            /* readings since it last shrank (capped) */
} lvstat_track;

typedef struct lvstat_figures {
	int64_t assigned_mib, demand_mib;
	double pressure;       /* demand / assigned * 100, 0 if assigned 0 */
	double swap_mibps;     /* swap in + out */
	double refault_mibps;  /* short: what the demand added, per second */
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
