/*
 * sim_report.h - the simulator's results as an aligned table or as JSON.
 *
 * Ownership: a sim_report borrows the path, config and trace it points to.
 */
#ifndef BOURSE_SIM_REPORT_H
#define BOURSE_SIM_REPORT_H

#include <stdio.h>

#include "sim.h"

typedef struct sim_report_row {
	sim_policy policy;
	sim_metrics m;
} sim_report_row;

typedef struct sim_report {
	const char *trace_path;
	const sim_config *cfg;
	const trace_set *trace;
	sim_report_row rows[SIM_N_POLICIES];
	size_t n_rows;
	double lower_bound_gib_h; /* sim_lower_bound() */
} sim_report;

/* Policies as columns, metrics as rows. Return 0, or -1 on a write error. */
int sim_report_table(const sim_report *r, FILE *out);

/* One JSON object (json-c), newline-terminated. Return 0 or -1. */
int sim_report_json(const sim_report *r, FILE *out);

/* ---- pictures (plot_sim.c; `bourse sim --plot DIR`) ---- */

/* One policy's run over time, binned for a picture: sim_series_observe()
 * is the sim_observer of its run (sim_run_observed()). Each bin holds the
 * means of bin_s seconds of steps. Owns its arrays: sim_series_release(). */
typedef struct sim_series {
	int64_t bin_s;      /* seconds a bin covers: sim_series_init() */
	double *t;          /* each bin's start, trace seconds */
	double *pressure;   /* mean GiB short (sim_step_point.pressure_gib) */
	double *held;       /* mean GiB held */
	double *demand;     /* mean GiB demanded */
	double *migrations; /* moves started by the bin's end (cumulative) */
	size_t n, cap;
	size_t in_bin;      /* steps in the bin being filled */
	int oom;            /* 1: a bin could not be kept (out of memory) */
} sim_series;

/* Empty, with bins that make a few hundred points of the trace's span
 * (t_min .. t_max) at step_s seconds a step: step_s, 1 h, 2 h, ... 1 day. */
void sim_series_init(sim_series *s, const trace_set *t, int64_t step_s);
void sim_series_observe(const sim_step_point *pt, void *ctx);
void sim_series_release(sim_series *s);

/* Draw the report's policies side by side over time: pressure, memory
 * held (and the VMs' demand), migrations (cumulative), stacked, into
 * dir/sim-policies.png and dir/sim-policies.svg (dir must exist).
 * series[i] is rows[i]'s. Returns 0, or -1 with a message. */
int sim_report_plot(const sim_report *r, const sim_series *series,
		    const char *dir, char *err, size_t errlen);

#endif
