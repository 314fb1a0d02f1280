/*
 * trace.h - VM memory traces for the simulator: the whole public API.
 *
 * Two input formats (docs/simulator.md, "Trace formats"):
 *  - Bitbrains GWA-T-12: a directory of per-VM files named <id>.csv or
 *    <id>.csv.gz (read through zlib, no unpacking step), ';'+TAB separated,
 *    one header row. Other files in the directory are ignored.
 *  - bourse CSV: one file, header "vm,time_s,provisioned_mib,demand_mib"
 *    optionally followed by ",guest_swap_mibps"; one row per VM sample.
 *
 * The real data has quirks; each is handled by a documented rule and counted
 * in trace_quirks, never a crash or a silent guess. A line that cannot be
 * parsed at all is an error naming the file and the line.
 *
 * Ownership: trace_load() fills a caller-provided trace_set; everything in it
 * is owned by the set and freed by trace_set_release().
 */
#ifndef BOURSE_TRACE_H
#define BOURSE_TRACE_H

#include <stddef.h>
#include <stdint.h>

/* What the reader met and what it did about it (docs/simulator.md). */
typedef struct trace_quirks {
	uint64_t rows;              /* data rows read */
	uint64_t zero_capacity;     /* rows with provisioned 0: capacity carried
	                             * from the nearest non-zero row of the VM */
	uint64_t no_capacity_vms;   /* VMs with no non-zero capacity at all:
	                             * capacity = peak usage, rounded up */
	uint64_t usage_over_capacity; /* rows with usage > provisioned: kept */
	uint64_t nonincreasing_ts;  /* rows whose timestamp is <= the previous
	                             * row's: dropped */
	uint64_t irregular_steps;   /* steps that differ from the VM's usual
	                             * step: kept, resampled onto the grid */
	uint64_t capacity_changes;  /* rows where provisioned changed */
	uint64_t short_lived_vms;   /* VMs alive for < 90% of the trace span */
	uint64_t empty_vms;         /* files with a header but no rows: skipped */
} trace_quirks;

/* One VM's cleaned samples: strictly increasing times. */
typedef struct trace_series {
	uint32_t id;          /* Bitbrains: file number; bourse CSV: vm column */
	size_t n;             /* samples */
	int64_t *t;           /* Unix seconds, strictly increasing */
	int64_t *prov_mib;    /* provisioned memory, > 0 after the quirk rules */
	int64_t *demand_mib;  /* memory usage, rounded up to whole MiB */
	double *swap_mibps;   /* guest swap rate, or NULL if the trace has none */
} trace_series;

typedef struct trace_set {
	trace_series *vms; /* sorted by id, ids unique */
	size_t n_vms;
	int64_t t_min, t_max; /* first and last sample time over all VMs */
	trace_quirks quirks;
} trace_set;

/* Load options. */
typedef struct trace_opts {
	size_t max_vms; /* 0: all; else only the max_vms lowest ids */
} trace_opts;

/* Load a directory (Bitbrains) or a file (bourse CSV) into *out.
 * Returns 0, or -1 with "file:line: what is wrong" in err; *out is then
 * empty (nothing to release, releasing is harmless). */
int trace_load(const char *path, const trace_opts *opts, trace_set *out,
	       char *err, size_t errlen);

/* Free everything in *s and zero it. Safe on a zeroed set. */
void trace_set_release(trace_set *s);

/* A VM's state at time t: the latest sample at or before t (sample and hold).
 * Returns 1 and fills the outputs if the VM is alive at t (first sample <= t
 * <= last sample + hold_s), else 0. swap is 0 when the trace has none. */
int trace_at(const trace_series *v, int64_t t, int64_t hold_s,
	     int64_t *prov_mib, int64_t *demand_mib, double *swap_mibps);

/* trace_at(), starting from *cursor (a sample index the caller keeps per
 * VM, 0 at first) and leaving there the sample it used: a run whose t only
 * grows costs O(1) amortized per call instead of O(log n). Any cursor
 * gives trace_at()'s answer; *cursor is left as it was when the VM is not
 * alive at t. */
int trace_at_from(const trace_series *v, size_t *cursor, int64_t t,
		  int64_t hold_s, int64_t *prov_mib, int64_t *demand_mib,
		  double *swap_mibps);

#endif
