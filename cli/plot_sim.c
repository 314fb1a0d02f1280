/*
 * plot_sim.c - `bourse sim --plot DIR`: the policies side by side over the
 * trace (sim_report.h, "pictures"), drawn by gnuplot (plot.h). Each
 * policy's run is binned as it runs (sim_series_observe()), so a month at
 * 5-minute steps is a few hundred points a line.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot.h"
#include "sim_report.h"
#include "util.h"
#include "banned.h"

#define SIM_PLOT_BINS 400 /* at most, over the trace */
#define SIM_PLOT_W 1200
#define SIM_PLOT_H 1250

void sim_series_init(sim_series *s, const trace_set *t, int64_t step_s)
{
	static const int64_t bins[] = { 3600, 2 * 3600, 3 * 3600, 6 * 3600,
					12 * 3600, 86400 };
	int64_t span = t->t_max - t->t_min + step_s;

	memset(s, 0, sizeof(*s));
	s->bin_s = step_s;
	for (size_t i = 0; i < sizeof(bins) / sizeof(bins[0]) &&
			   span / s->bin_s > SIM_PLOT_BINS; i++)
		if (bins[i] > step_s)
			s->bin_s = bins[i] / step_s * step_s;
	while (span / s->bin_s > SIM_PLOT_BINS)
		s->bin_s *= 2;
}

void sim_series_release(sim_series *s)
{
	free(s->t);
	free(s->pressure);
	free(s->held);
	free(s->demand);
	free(s->migrations);
	memset(s, 0, sizeof(*s));
}

/* A new bin starting at t. Returns 0, or -1 out of memory. */
static int new_bin(sim_series *s, double t)
{
	size_t c1 = s->cap, c2 = s->cap, c3 = s->cap, c4 = s->cap, c5 = s->cap;

	if (UTIL_GROW(s->t, s->n + 1, c1) || UTIL_GROW(s->pressure, s->n + 1, c2) ||
	    UTIL_GROW(s->held, s->n + 1, c3) || UTIL_GROW(s->demand, s->n + 1, c4) ||
	    UTIL_GROW(s->migrations, s->n + 1, c5))
		return -1;
	s->cap = c1; /* the five grew alike: from the same cap to the same need */
	s->t[s->n] = t;
	s->pressure[s->n] = s->held[s->n] = s->demand[s->n] = 0;
	s->n++;
	s->in_bin = 0;
	return 0;
}

void sim_series_observe(const sim_step_point *pt, void *ctx)
{
	sim_series *s = ctx;
	size_t b;

	if (s->oom)
		return;
	if (s->n == 0 || pt->t - (int64_t)s->t[s->n - 1] >= s->bin_s) {
		if (new_bin(s, (double)(pt->t - pt->t % s->bin_s)) != 0) {
			s->oom = 1;
			return;
		}
	}
	b = s->n - 1;
	s->in_bin++;
	/* running means: exact for any number of steps in the bin */
	s->pressure[b] += (pt->pressure_gib - s->pressure[b]) / (double)s->in_bin;
	s->held[b] += (pt->held_gib - s->held[b]) / (double)s->in_bin;
	s->demand[b] += (pt->demand_gib - s->demand[b]) / (double)s->in_bin;
	s->migrations[b] = (double)pt->migrations;
}

/* "2 h", "1 day", "5 min" */
static void fmt_bin(char *buf, size_t size, int64_t s)
{
	if (s % 86400 == 0)
		snprintf(buf, size, "%lld day%s", (long long)(s / 86400),
			 s == 86400 ? "" : "s");
	else if (s % 3600 == 0)
		snprintf(buf, size, "%lld h", (long long)(s / 3600));
	else if (s % 60 == 0)
		snprintf(buf, size, "%lld min", (long long)(s / 60));
	else
		snprintf(buf, size, "%lld s", (long long)s);
}

static void write_blocks(FILE *f, const sim_report *r, const sim_series *ser)
{
	for (size_t p = 0; p < r->n_rows; p++) {
		const sim_series *s = &ser[p];
		fprintf(f, "$p%zu << EOD\n", p);
		for (size_t k = 0; k < s->n; k++)
			fprintf(f, "%.0f %.6g %.6g %.6g %.0f\n", s->t[k],
				s->pressure[k], s->held[k], s->demand[k],
				s->migrations[k]);
		fputs("EOD\n", f);
	}
}

/* The same colour and dash for a policy in every panel. */
static void line_style(FILE *f, size_t p)
{
	fprintf(f, "with lines lw %s lc %zu dt %d", p == 0 ? "2.2" : "1.4",
		p % 8 + 1, p < 8 ? 1 : 2);
}

typedef void (*legend_fn)(char *buf, size_t size, const sim_report_row *row);

static void legend_pressure(char *b, size_t n, const sim_report_row *row)
{
	double v = row->m.pressure_gib_h;

	snprintf(b, n, "%s: %.*f GiB-h", sim_policy_name(row->policy),
		 v < 10 ? 1 : 0, v);
}

static void legend_held(char *b, size_t n, const sim_report_row *row)
{
	snprintf(b, n, "%s: mean %.1f GiB", sim_policy_name(row->policy),
		 row->m.held_gib_avg);
}

static void legend_moves(char *b, size_t n, const sim_report_row *row)
{
	snprintf(b, n, "%s: %llu", sim_policy_name(row->policy),
		 (unsigned long long)row->m.migrations);
}

/* plot every policy's column col, its legend from fn. */
static void write_lines(FILE *f, const sim_report *r, int col, legend_fn fn,
			const char *extra)
{
	char t[128];

	fputs("plot ", f);
	for (size_t p = 0; p < r->n_rows; p++) {
		fprintf(f, "%s$p%zu using 1:%d ", p ? ", \\\n     " : "", p, col);
		line_style(f, p);
		fn(t, sizeof(t), &r->rows[p]);
		fputs(" title ", f);
		plot_quote(f, t);
	}
	if (extra)
		fprintf(f, ", \\\n     %s", extra);
	fputc('\n', f);
}

static void write_title(FILE *f, const sim_report *r, const char *bin)
{
	const sim_config *c = r->cfg;
	char t[512];

	snprintf(t, sizeof(t), "bourse sim: %s, %zu VMs on %u x %lld GiB "
		 "hosts; decisions lag %u step(s), migrations %s; means per %s",
		 r->trace_path, r->trace->n_vms, c->n_hosts,
		 (long long)(c->host_mib / 1024), c->lag_steps,
		 c->migration_instant ? "instant" : "pre-copy", bin);
	fputs("set multiplot layout 3,1 title ", f);
	plot_quote(f, t);
	fputs(" font ',12'\n", f);
}

/* On a month, repack moves ten times more than the rest: a log scale
 * keeps them apart (a policy that never moved has no line). A few moves
 * read better on a linear one. */
static void write_migrations(FILE *f, const sim_report *r)
{
	uint64_t most = 0;

	for (size_t p = 0; p < r->n_rows; p++)
		if (r->rows[p].m.migrations > most)
			most = r->rows[p].m.migrations;
	if (most >= 100)
		fputs("set title 'migrations started, cumulative (log scale)'\n"
		      "set logscale y\nset yrange [1:*]\n", f);
	else
		fprintf(f, "set title 'migrations started, cumulative'\n"
			"set yrange [0:%llu]\nset ytics %s\n",
			(unsigned long long)(most < 10 ? most + 1 : most + most / 10),
			most < 10 ? "1" : "autofreq");
	fputs("set ylabel 'migrations'\n", f);
	write_lines(f, r, 5, legend_moves, NULL);
	fputs("unset logscale y\nset ytics autofreq\n", f);
}

static void write_script(FILE *f, const sim_report *r, const sim_series *ser)
{
	char bin[32], t[256];

	fmt_bin(bin, sizeof(bin), ser[0].bin_s);
	write_blocks(f, r, ser);
	write_title(f, r, bin);
	/* fixed margins: the panels line up whatever their legends' widths */
	fputs("set grid\nset key outside right top vertical Left reverse "
	      "samplen 2\nset lmargin at screen 0.07\n"
	      "set rmargin at screen 0.76\nset autoscale xfix\n"
	      "set yrange [0:*]\n", f);
	plot_time_axis(f, (double)(r->trace->t_max - r->trace->t_min),
		       "trace time");
	snprintf(t, sizeof(t), "VM pressure: memory short of demand, GiB "
		 "(legend: the run's GiB-h; no policy can be below %.0f)",
		 r->lower_bound_gib_h);
	fputs("set title ", f);
	plot_quote(f, t);
	fputs("\nset ylabel 'GiB short'\n", f);
	write_lines(f, r, 2, legend_pressure, NULL);
	fputs("set title 'memory held by the VMs, GiB (dashed: their demand)'\n"
	      "set ylabel 'GiB held'\n", f);
	write_lines(f, r, 3, legend_held, r->n_rows ? "$p0 using 1:4 with "
		    "lines lw 1.2 lc 'black' dt 2 title 'VM demand'" : NULL);
	write_migrations(f, r);
	fputs("unset multiplot\n", f);
}

static int draw_one(const sim_report *r, const sim_series *ser,
		    const char *path, plot_format fmt, char *err,
		    size_t errlen)
{
	plot *p = NULL;

	if (plot_open(path, fmt, SIM_PLOT_W, SIM_PLOT_H, &p, err, errlen) != 0)
		return -1;
	write_script(plot_stream(p), r, ser);
	return plot_close(p, err, errlen);
}

int sim_report_plot(const sim_report *r, const sim_series *series,
		    const char *dir, char *err, size_t errlen)
{
	static const plot_format fmts[] = { PLOT_PNG, PLOT_SVG };
	char path[4096];

	if (r->n_rows == 0)
		return util_err(err, errlen, "no policy ran: nothing to draw");
	for (size_t p = 0; p < r->n_rows; p++)
		if (series[p].oom)
			return util_err(err, errlen, "out of memory for the "
					"plot's points");
	for (size_t i = 0; i < 2; i++) {
		int n = snprintf(path, sizeof(path), "%s/sim-policies.%s", dir,
				 plot_format_name(fmts[i]));
		if (n < 0 || (size_t)n >= sizeof(path))
			return util_err(err, errlen, "--plot: the directory name "
					"is too long");
		if (draw_one(r, series, path, fmts[i], err, errlen) != 0)
			return -1;
	}
	return 0;
}
