/*
 * bench.h - what every benchmark in bench/ shares: statistics of repeated
 * measurements, the machine's description, and the report (the clock is
 * util_now_ns(), util/util.h).
 *
 * A benchmark measures; it never fails on timing. Its exit status says only
 * whether it ran correctly (a refused input, a broken invariant, a process
 * that would not start): 0 when it ran, 1 when it could not or found the
 * code wrong.
 *
 * The report: rows of named figures, printed as an aligned table on stdout
 * and as JSON lines (one object per row, with "bench", "case" and "cores"),
 * so that a person reads the table and a script the JSON. docs/benchmarks.md
 * holds the figures of a run and the commands that produced them.
 *
 * Ownership: a bench_report is the caller's (on its stack); bench_report_add()
 * copies the case name and borrows the keys (string literals), units too.
 */
#ifndef BOURSE_BENCH_H
#define BOURSE_BENCH_H

#include <stddef.h>
#include <stdint.h>

/* Online processors of this machine. */
int bench_cores(void);

/* Median of v[0..n) (sorts v in place); 0 for n == 0. */
double bench_median(double *v, size_t n);

/* Largest of v[0..n); 0 for n == 0. */
double bench_max(const double *v, size_t n);

#define BENCH_MAX_ROWS 32
#define BENCH_MAX_FIGS 16
#define BENCH_NAME_MAX 64

typedef struct bench_fig {
	const char *key;  /* column name, e.g. "median_ms" (borrowed) */
	double value;
	int decimals;     /* for the table; JSON prints the full value */
} bench_fig;

typedef struct bench_row {
	char name[BENCH_NAME_MAX]; /* the case, e.g. "1000x10" */
	bench_fig figs[BENCH_MAX_FIGS];
	size_t n_figs;
} bench_row;

typedef struct bench_report {
	const char *bench; /* e.g. "market" (borrowed) */
	bench_row rows[BENCH_MAX_ROWS];
	size_t n_rows;
} bench_report;

void bench_report_init(bench_report *r, const char *bench);

/* A new row named `name` (copied, truncated to fit); NULL when full. */
bench_row *bench_report_row(bench_report *r, const char *name);

/* Appends a figure to a row (ignored when the row is full or NULL). */
void bench_row_fig(bench_row *row, const char *key, double value,
		   int decimals);

/* Prints the table (one table per distinct set of columns, in row order)
 * and then one JSON line per row. */
void bench_report_print(const bench_report *r);

/* Parses the common flags: --smoke (smallest sizes: CI's pass), --help.
 * Returns 0 and sets *smoke; 1 after printing help (exit 0); -1 after
 * printing what is wrong (exit 2). `usage` is the benchmark's own text. */
int bench_args(int argc, char **argv, const char *usage, int *smoke);

#endif
