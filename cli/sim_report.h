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

#endif
