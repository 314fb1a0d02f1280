/*
 * bench.c - the shared statistics and report of bench/ (bench.h).
 */
#include "bench.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "banned.h"

int bench_cores(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (int)n : 1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double bench_median(double *v, size_t n)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double bench_max(const double *v, size_t n)
{
	double m = 0;

	for (size_t i = 0; i < n; i++)
		if (i == 0 || v[i] > m)
			m = v[i];
	return m;
}

void bench_report_init(bench_report *r, const char *bench)
{
	memset(r, 0, sizeof(*r));
	r->bench = bench;
}

bench_row *bench_report_row(bench_report *r, const char *name)
{
	bench_row *row;

	if (r->n_rows == BENCH_MAX_ROWS)
		return NULL;
	row = &r->rows[r->n_rows++];
	memset(row, 0, sizeof(*row));
	snprintf(row->name, sizeof(row->name), "%s", name);
	return row;
}

void bench_row_fig(bench_row *row, const char *key, double value,
		   int decimals)
{
	if (row == NULL || row->n_figs == BENCH_MAX_FIGS)
		return;
	row->figs[row->n_figs].key = key;
	row->figs[row->n_figs].value = value;
	row->figs[row->n_figs].decimals = decimals;
	row->n_figs++;
}

/* Do rows a and b have the same columns? */
static int same_columns(const bench_row *a, const bench_row *b)
{
	if (a->n_figs != b->n_figs)
		return 0;
	for (size_t i = 0; i < a->n_figs; i++)
		if (strcmp(a->figs[i].key, b->figs[i].key) != 0)
			return 0;
	return 1;
}

/* Width of column i (0: the case name) over rows[from..to). */
static int col_width(const bench_row *rows, size_t from, size_t to, size_t i)
{
	char buf[64];
	int w = 0;

	for (size_t k = from; k < to; k++) {
		int n = i == 0 ? (int)strlen(rows[k].name)
			       : snprintf(buf, sizeof(buf), "%.*f",
					  rows[k].figs[i - 1].decimals,
					  rows[k].figs[i - 1].value);
		if (n > w)
			w = n;
	}
	if (i == 0)
		return w < 4 ? 4 : w;
	int h = (int)strlen(rows[from].figs[i - 1].key);
	return h > w ? h : w;
}

static void print_table(const bench_report *r, size_t from, size_t to)
{
	const bench_row *first = &r->rows[from];
	int w[BENCH_MAX_FIGS + 1];

	for (size_t i = 0; i <= first->n_figs; i++)
		w[i] = col_width(r->rows, from, to, i);
	printf("%-*s", w[0], "case");
	for (size_t i = 0; i < first->n_figs; i++)
		printf("  %*s", w[i + 1], first->figs[i].key);
	printf("\n");
	for (size_t k = from; k < to; k++) {
		const bench_row *row = &r->rows[k];
		printf("%-*s", w[0], row->name);
		for (size_t i = 0; i < row->n_figs; i++)
			printf("  %*.*f", w[i + 1], row->figs[i].decimals,
			       row->figs[i].value);
		printf("\n");
	}
}

static void print_json(const bench_report *r, const bench_row *row, int cores)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "bench", json_object_new_string(r->bench));
	json_object_object_add(o, "case", json_object_new_string(row->name));
	json_object_object_add(o, "cores", json_object_new_int(cores));
	for (size_t i = 0; i < row->n_figs; i++)
		json_object_object_add(o, row->figs[i].key,
				       json_object_new_double(row->figs[i].value));
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
}

void bench_report_print(const bench_report *r)
{
	int cores = bench_cores();
	size_t from = 0;

	printf("== bench %s (%d cores)\n", r->bench, cores);
	while (from < r->n_rows) {
		size_t to = from + 1;
		while (to < r->n_rows && same_columns(&r->rows[from], &r->rows[to]))
			to++;
		print_table(r, from, to);
		from = to;
		if (from < r->n_rows)
			printf("\n");
	}
	for (size_t k = 0; k < r->n_rows; k++)
		print_json(r, &r->rows[k], cores);
	fflush(stdout);
}

int bench_args(int argc, char **argv, const char *usage, int *smoke)
{
	*smoke = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--smoke") == 0) {
			*smoke = 1;
		} else if (strcmp(argv[i], "--help") == 0 ||
			   strcmp(argv[i], "-h") == 0) {
			printf("%s", usage);
			return 1;
		} else {
			fprintf(stderr, "%s: unknown argument '%s' (try --help)\n",
				argv[0], argv[i]);
			return -1;
		}
	}
	return 0;
}
