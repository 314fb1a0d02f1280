/*
 * cmd_plot.c - `bourse plot`: pictures from the store. Each host's price
 * and utilization and each VM's pressure over a range of rounds, drawn by
 * gnuplot (plot.h) into one PNG or SVG (docs/operations.md, "Pictures").
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "plot.h"
#include "store.h"
#include "util.h"
#include "banned.h"

static const char plot_usage[] =
	"usage: bourse plot --out FILE [--db PATH] [--what LIST] [--host H]...\n"
	"                   [--vm V]... [--from ROUND] [--to ROUND | --last N]\n"
	"                   [--top N] [--x time|round] [--format png|svg]\n"
	"\n"
	"Draw from the store, over a range of rounds: each host's memory price\n"
	"and utilization, and each VM's pressure (demand / assigned memory).\n"
	"\n"
	"  --out FILE     the picture to write; PNG or SVG by its extension\n"
	"  --format F     png or svg, whatever the extension\n"
	"  --db PATH      the database (default: $BOURSE_DB, then bourse.conf)\n"
	"  --what LIST    comma-separated: prices, util, pressure, or all\n"
	"                 (default all: one panel each, stacked)\n"
	"  --host H       only this host (repeatable); VMs: those that bid from it\n"
	"  --vm V         only this VM (repeatable)\n"
	"  --from ROUND   the first round (default: the first kept)\n"
	"  --to ROUND     the last round (default: the last written)\n"
	"  --last N       the last N rounds written\n"
	"  --top N        draw the N VMs of highest mean pressure and the N hosts\n"
	"                 of highest mean utilization (default 10; 0: all)\n"
	"  --x AXIS       time (default: UTC, when each round started) or round\n"
	"  -h, --help     this help\n"
	"\n"
	"Needs gnuplot (Debian: gnuplot-nox). Rounds older than the broker's\n"
	"retention are gone from the store.\n";

#define WHAT_PRICES 0x1
#define WHAT_UTIL 0x2
#define WHAT_PRESSURE 0x4
#define MAX_NAMES 64
#define PANEL_W 1100
#define PANEL_H 330

struct plot_args {
	const char *db, *out;
	plot_format fmt;
	int fmt_set;
	unsigned what;
	const char *hosts[MAX_NAMES], *vms[MAX_NAMES];
	size_t n_hosts, n_vms;
	int64_t from, to, last, top;
	int x_round;
};

/* One line of a panel: a host's or a VM's points. */
struct series {
	char name[STORE_NAME_MAX];
	double *x, *a, *b; /* hosts: price, utilization %; VMs: pressure %,
	                    * MiB short (demand - assigned, >= 0) */
	size_t n, cap;
	double score;      /* what --top ranks by */
};

struct series_set {
	struct series *v;
	size_t n, cap;
	const struct plot_args *args;
	int oom;
};

static int bad(const char *what, const char *why)
{
	fprintf(stderr, "bourse plot: %s: %s\n", what, why);
	return CLI_USAGE;
}

/* ---- arguments ---- */

static int parse_what(struct plot_args *a, const char *list)
{
	a->what = 0;
	for (const char *p = list;; p++) {
		size_t len = strcspn(p, ",");
		if (len == 3 && !strncmp(p, "all", 3))
			a->what |= WHAT_PRICES | WHAT_UTIL | WHAT_PRESSURE;
		else if (len == 6 && !strncmp(p, "prices", 6))
			a->what |= WHAT_PRICES;
		else if (len == 4 && !strncmp(p, "util", 4))
			a->what |= WHAT_UTIL;
		else if (len == 8 && !strncmp(p, "pressure", 8))
			a->what |= WHAT_PRESSURE;
		else {
			fprintf(stderr, "bourse plot: --what: '%.*s' is not one of "
				"prices, util, pressure, all\n", (int)len, p);
			return CLI_USAGE;
		}
		p += len;
		if (!*p)
			return CLI_OK;
	}
}

static int add_name(const char **list, size_t *n, const char *flag,
		    const char *name)
{
	if (!*name)
		return bad(flag, "the name is empty");
	if (*n >= MAX_NAMES)
		return bad(flag, "at most 64 names");
	list[(*n)++] = name;
	return CLI_OK;
}

enum { O_DB = 256, O_WHAT, O_HOST, O_VM, O_FROM, O_TO, O_LAST, O_TOP, O_X,
       O_FORMAT };

static const struct option plot_options[] = {
	{ "out", required_argument, NULL, 'o' },
	{ "db", required_argument, NULL, O_DB },
	{ "what", required_argument, NULL, O_WHAT },
	{ "host", required_argument, NULL, O_HOST },
	{ "vm", required_argument, NULL, O_VM },
	{ "from", required_argument, NULL, O_FROM },
	{ "to", required_argument, NULL, O_TO },
	{ "last", required_argument, NULL, O_LAST },
	{ "top", required_argument, NULL, O_TOP },
	{ "x", required_argument, NULL, O_X },
	{ "format", required_argument, NULL, O_FORMAT },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int apply_number(struct plot_args *a, int opt, const char *arg)
{
	char err[256];
	const char *flag = opt == O_FROM ? "--from" : opt == O_TO ? "--to"
			 : opt == O_LAST ? "--last" : "--top";
	int64_t *dst = opt == O_FROM ? &a->from : opt == O_TO ? &a->to
		     : opt == O_LAST ? &a->last : &a->top;
	int64_t min = opt == O_TOP ? 0 : 1;

	if (cli_parse_i64(arg, min, INT64_MAX / 2, dst, err, sizeof(err)) != 0)
		return bad(flag, err);
	return CLI_OK;
}

static int apply_option(struct plot_args *a, int opt, const char *arg)
{
	switch (opt) {
	case 'o': a->out = arg; return CLI_OK;
	case O_DB: a->db = arg; return CLI_OK;
	case O_WHAT: return parse_what(a, arg);
	case O_HOST: return add_name(a->hosts, &a->n_hosts, "--host", arg);
	case O_VM: return add_name(a->vms, &a->n_vms, "--vm", arg);
	case O_X:
		if (strcmp(arg, "time") && strcmp(arg, "round"))
			return bad("--x", "must be 'time' or 'round'");
		a->x_round = !strcmp(arg, "round");
		return CLI_OK;
	case O_FORMAT:
		if (plot_format_parse(arg, &a->fmt) != 0)
			return bad("--format", "must be 'png' or 'svg'");
		a->fmt_set = 1;
		return CLI_OK;
	default:
		return apply_number(a, opt, arg);
	}
}

/* What the flags say together. */
static int check_args(struct plot_args *a)
{
	if (!a->out)
		return bad("--out", "is required (the PNG or SVG file to write)");
	if (!*a->out)
		return bad("--out", "the file name is empty");
	if (!a->fmt_set && plot_format_from_path(a->out, &a->fmt) != 0)
		return bad("--out", "the file must end in .png or .svg "
			   "(or give --format png|svg)");
	if (a->last && (a->to || a->from))
		return bad("--last", "cannot be given with --from or --to");
	if (a->from && a->to && a->from > a->to)
		return bad("--from", "is after --to");
	return CLI_OK;
}

static int parse_args(struct plot_args *a, int argc, char **argv, int *done)
{
	int opt;

	memset(a, 0, sizeof(*a));
	a->db = NULL; /* after the flags: cli_review_db() */
	a->what = WHAT_PRICES | WHAT_UTIL | WHAT_PRESSURE;
	a->top = 10;
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+:ho:", plot_options, NULL)) != -1) {
		if (opt == 'h') {
			fputs(plot_usage, stdout);
			*done = 1;
			return CLI_OK;
		}
		if (opt == ':') {
			fprintf(stderr, "bourse plot: option '%s' requires an "
				"argument; see 'bourse plot --help'\n",
				argv[optind - 1]);
			return CLI_USAGE;
		}
		if (opt == '?') {
			fprintf(stderr, "bourse plot: unrecognized option '%s'; "
				"see 'bourse plot --help'\n", argv[optind - 1]);
			return CLI_USAGE;
		}
		int rc = apply_option(a, opt, optarg);
		if (rc != CLI_OK)
			return rc;
	}
	if (optind < argc) {
		fprintf(stderr, "bourse plot: unexpected argument '%s'\n",
			argv[optind]);
		return CLI_USAGE;
	}
	return check_args(a);
}

/* ---- the series ---- */

static int listed(const char *const *list, size_t n, const char *name)
{
	if (n == 0)
		return 1;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(list[i], name))
			return 1;
	return 0;
}

static void series_set_free(struct series_set *set)
{
	for (size_t i = 0; i < set->n; i++) {
		free(set->v[i].x);
		free(set->v[i].a);
		free(set->v[i].b);
	}
	free(set->v);
	memset(set, 0, sizeof(*set));
}

/* Append (x, a, b) to the series named name: the last one, or a new one
 * (the store lists by name). Returns 0, or -1 out of memory. */
static int series_add(struct series_set *set, const char *name, double x,
		      double a, double b)
{
	struct series *s = set->n ? &set->v[set->n - 1] : NULL;

	if (!s || strcmp(s->name, name) != 0) {
		if (UTIL_GROW(set->v, set->n + 1, set->cap))
			return -1;
		s = &set->v[set->n++];
		memset(s, 0, sizeof(*s));
		snprintf(s->name, sizeof(s->name), "%s", name);
	}
	size_t cap = s->cap;
	if (UTIL_GROW(s->x, s->n + 1, cap))
		return -1;
	cap = s->cap;
	if (UTIL_GROW(s->a, s->n + 1, cap))
		return -1;
	cap = s->cap;
	if (UTIL_GROW(s->b, s->n + 1, cap))
		return -1;
	s->cap = cap;
	s->x[s->n] = x;
	s->a[s->n] = a;
	s->b[s->n] = b;
	s->n++;
	return 0;
}

static double x_of(const struct plot_args *a, int64_t round, int64_t ms)
{
	return a->x_round ? (double)round : (double)ms / 1000.0;
}

static int host_point(const store_host_point *p, void *ctx)
{
	struct series_set *set = ctx;
	const struct plot_args *a = set->args;

	if (!listed(a->hosts, a->n_hosts, p->host_name))
		return 0;
	if (series_add(set, p->host_name, x_of(a, p->round, p->started_ms),
		       p->price, p->utilization * 100.0) != 0) {
		set->oom = 1;
		return 1;
	}
	return 0;
}

/* demand / assigned * 100, as the market bounds it. */
static double vm_pressure(int64_t demand, int64_t assigned)
{
	if (demand <= 0)
		return 0;
	if (assigned <= 0)
		return MARKET_PRESSURE_MAX;
	return fmin((double)demand / (double)assigned * 100.0,
		    MARKET_PRESSURE_MAX);
}

static int vm_point(const store_vm_point *p, void *ctx)
{
	struct series_set *set = ctx;
	const struct plot_args *a = set->args;

	if (!listed(a->vms, a->n_vms, p->vm_name) ||
	    !listed(a->hosts, a->n_hosts, p->host_name))
		return 0;
	int64_t short_mib = p->demand_mib - p->assigned_mib;

	if (series_add(set, p->vm_name, x_of(a, p->round, p->started_ms),
		       vm_pressure(p->demand_mib, p->assigned_mib),
		       short_mib > 0 ? (double)short_mib : 0) != 0) {
		set->oom = 1;
		return 1;
	}
	return 0;
}

static int by_score(const void *pa, const void *pb)
{
	const struct series *a = pa, *b = pb;

	if (a->score != b->score)
		return a->score > b->score ? -1 : 1;
	return cli_natcmp(a->name, b->name);
}

static int by_name(const void *pa, const void *pb)
{
	const struct series *a = pa, *b = pb;

	return cli_natcmp(a->name, b->name);
}

/* Keep the top series by the mean of column b (hosts: utilization; VMs:
 * MiB short, which a VM's first rounds at a tiny size do not dominate as
 * its pressure would), in natural order of names. Returns how many there
 * were. */
static size_t keep_top(struct series_set *set, int64_t top)
{
	size_t total = set->n;

	for (size_t i = 0; i < set->n; i++) {
		struct series *s = &set->v[i];
		double sum = 0;
		for (size_t k = 0; k < s->n; k++)
			sum += s->b[k];
		s->score = s->n ? sum / (double)s->n : 0;
	}
	if (top > 0 && set->n > (size_t)top) {
		qsort(set->v, set->n, sizeof(*set->v), by_score);
		for (size_t i = (size_t)top; i < set->n; i++) {
			free(set->v[i].x);
			free(set->v[i].a);
			free(set->v[i].b);
		}
		set->n = (size_t)top;
	}
	if (set->n > 1)
		qsort(set->v, set->n, sizeof(*set->v), by_name);
	return total;
}

/* Every name asked for with --host / --vm must have points. */
static int check_names(const struct plot_args *a, const struct series_set *hosts,
		       const struct series_set *vms, const store_series_span *sp)
{
	for (size_t i = 0; i < a->n_hosts; i++) {
		int found = 0;
		for (size_t k = 0; k < hosts->n && !found; k++)
			found = !strcmp(hosts->v[k].name, a->hosts[i]);
		if (!found && (a->what & (WHAT_PRICES | WHAT_UTIL))) {
			fprintf(stderr, "bourse plot: host '%s' has no prices in "
				"rounds %lld-%lld of %s\n", a->hosts[i],
				(long long)sp->first, (long long)sp->last, a->db);
			return CLI_FAIL;
		}
	}
	for (size_t i = 0; i < a->n_vms; i++) {
		int found = 0;
		for (size_t k = 0; k < vms->n && !found; k++)
			found = !strcmp(vms->v[k].name, a->vms[i]);
		if (!found) {
			fprintf(stderr, "bourse plot: VM '%s' has no samples in "
				"rounds %lld-%lld of %s\n", a->vms[i],
				(long long)sp->first, (long long)sp->last, a->db);
			return CLI_FAIL;
		}
	}
	return CLI_OK;
}

/* ---- drawing ---- */

struct drawing {
	const struct plot_args *a;
	const store_series_span *sp;
	struct series_set hosts, vms;
	size_t n_hosts_all, n_vms_all;
	unsigned panels; /* WHAT_* that have something to draw */
};

static void write_blocks(FILE *f, const char *prefix,
			 const struct series_set *set)
{
	for (size_t i = 0; i < set->n; i++) {
		const struct series *s = &set->v[i];
		fprintf(f, "$%s%zu << EOD\n", prefix, i);
		for (size_t k = 0; k < s->n; k++)
			fprintf(f, "%.3f %.6g %.6g\n", s->x[k], s->a[k], s->b[k]);
		fputs("EOD\n", f);
	}
}

/* The x axis: UTC times formatted for the span, or round numbers. */
static void write_x_axis(FILE *f, const struct drawing *d)
{
	double span = (double)(d->sp->last_ms - d->sp->first_ms) / 1000.0;

	if (d->a->x_round) {
		fputs("set xlabel 'round'\nset format x '%.0f'\n", f);
		return;
	}
	plot_time_axis(f, span, "time");
}

/* plot $<prefix>0 using 1:<col> ..., one line per series. */
static void write_lines(FILE *f, const char *prefix,
			const struct series_set *set, int col)
{
	fputs("plot ", f);
	for (size_t i = 0; i < set->n; i++) {
		fprintf(f, "%s$%s%zu using 1:%d with lines lw 1.6 dt %zu "
			"lc %zu title ", i ? ", \\\n     " : "", prefix, i, col,
			i / 8 % 4 + 1, i % 8 + 1);
		plot_quote(f, set->v[i].name);
	}
	fputc('\n', f);
}

static void write_panel_title(FILE *f, const char *what, size_t shown,
			      size_t all, const char *unit, const char *rank)
{
	char t[256];

	if (shown < all)
		snprintf(t, sizeof(t), "%s: the %zu of %zu with the highest mean "
			 "%s", what, shown, all, rank);
	else
		snprintf(t, sizeof(t), "%s", what);
	fputs("set title ", f);
	plot_quote(f, t);
	fputs("\nset ylabel ", f);
	plot_quote(f, unit);
	fputc('\n', f);
}

/* The smallest positive and the largest value of column a (0, 0 if
 * none): whether a panel needs a log scale or a cut. */
static void range_of(const struct series_set *set, double *lo, double *hi)
{
	*lo = 0;
	*hi = 0;
	for (size_t i = 0; i < set->n; i++)
		for (size_t k = 0; k < set->v[i].n; k++) {
			double y = set->v[i].a[k];
			if (y > 0 && (*lo == 0 || y < *lo))
				*lo = y;
			if (y > *hi)
				*hi = y;
		}
}

#define DASHED_100 "set arrow 1 from graph 0, first 100 to graph 1, " \
		   "first 100 nohead dt 2 lc 'gray40'\n"

/* Prices span orders of magnitude once a host is short (the price is
 * convex in utilization): then a log scale, or the calm hosts are a flat
 * line at 0. */
static void write_prices(FILE *f, const struct drawing *d)
{
	double lo, hi;
	int log = 0;

	range_of(&d->hosts, &lo, &hi);
	log = lo > 0 && hi / lo > 50;
	write_panel_title(f, log ? "memory price per host (log scale)"
				 : "memory price per host",
			  d->hosts.n, d->n_hosts_all, "credits per MiB",
			  "utilization");
	fputs(log ? "set logscale y\nset yrange [*:*]\n"
		  : "set yrange [0:*]\n", f);
	write_lines(f, "h", &d->hosts, 2);
	if (log)
		fputs("unset logscale y\n", f);
}

/* A VM's first rounds at a tiny size read as thousands of % and flatten
 * the rest: the axis stops at PRESSURE_CUT and the title says so. */
#define PRESSURE_CUT 400.0

static void write_pressure(FILE *f, const struct drawing *d)
{
	double lo, hi;
	char t[256];

	range_of(&d->vms, &lo, &hi);
	snprintf(t, sizeof(t), "pressure per VM, demand / assigned (%sdashed: "
		 "100 %%, above it short)",
		 hi > PRESSURE_CUT ? "cut at 400 %; " : "");
	write_panel_title(f, t, d->vms.n, d->n_vms_all, "pressure, %",
			  "shortfall (demand - assigned)");
	fprintf(f, "set yrange [0:%s]\n" DASHED_100,
		hi > PRESSURE_CUT ? "400" : "*");
	write_lines(f, "v", &d->vms, 2);
	fputs("unset arrow 1\n", f);
}

static void write_panels(FILE *f, const struct drawing *d)
{
	if (d->panels & WHAT_PRICES)
		write_prices(f, d);
	if (d->panels & WHAT_UTIL) {
		write_panel_title(f, "utilization per host (wanted / supply; "
				  "dashed: 100 %)", d->hosts.n, d->n_hosts_all,
				  "utilization, %", "utilization");
		fputs("set yrange [0:*]\n" DASHED_100, f);
		write_lines(f, "h", &d->hosts, 3);
		fputs("unset arrow 1\n", f);
	}
	if (d->panels & WHAT_PRESSURE)
		write_pressure(f, d);
}

static int count_panels(unsigned p)
{
	return !!(p & WHAT_PRICES) + !!(p & WHAT_UTIL) + !!(p & WHAT_PRESSURE);
}

static int draw(const struct drawing *d)
{
	const struct plot_args *a = d->a;
	int n = count_panels(d->panels);
	char err[512], t[512], t0[64], t1[64];
	plot *p = NULL;

	if (plot_open(a->out, a->fmt, PANEL_W, 90 + n * PANEL_H, &p, err,
		      sizeof(err)) != 0) {
		fprintf(stderr, "bourse plot: %s\n", err);
		return CLI_FAIL;
	}
	FILE *f = plot_stream(p);
	write_blocks(f, "h", &d->hosts);
	write_blocks(f, "v", &d->vms);
	cli_fmt_time(t0, sizeof(t0), d->sp->first_ms);
	cli_fmt_time(t1, sizeof(t1), d->sp->last_ms);
	snprintf(t, sizeof(t), "bourse: rounds %lld-%lld, %s to %s (%s)",
		 (long long)d->sp->first, (long long)d->sp->last, t0, t1, a->db);
	fprintf(f, "set multiplot layout %d,1 title ", n);
	plot_quote(f, t);
	fputs(" font ',12'\nset grid\nset key outside right top vertical "
	      "Left reverse samplen 2\nset lmargin at screen 0.08\n"
	      "set rmargin at screen 0.84\nset autoscale xfix\n", f);
	write_x_axis(f, d);
	write_panels(f, d);
	fputs("unset multiplot\n", f);
	if (plot_close(p, err, sizeof(err)) != 0) {
		fprintf(stderr, "bourse plot: %s\n", err);
		return CLI_FAIL;
	}
	printf("%s\n", a->out);
	return CLI_OK;
}

/* ---- the command ---- */

/* The rounds asked for: --last N from the last round written. */
static int resolve_range(store *s, const struct plot_args *a,
			 store_series_span *sp)
{
	char err[512];
	int64_t from = a->from, to = a->to;

	if (a->last) {
		if (store_round_last(s, &to, err, sizeof(err)) != 0)
			goto fail;
		/* no round yet (to 0): the open range, which is empty */
		from = to > a->last ? to - a->last + 1 : (to > 0);
	}
	if (store_series_rounds(s, from, to, sp, err, sizeof(err)) != 0)
		goto fail;
	if (sp->n_rounds == 0) {
		if (from && to)
			fprintf(stderr, "bourse plot: %s has no rounds between "
				"%lld and %lld\n", a->db, (long long)from,
				(long long)to);
		else if (from || to)
			fprintf(stderr, "bourse plot: %s has no rounds %s %lld\n",
				a->db, from ? "from" : "up to",
				(long long)(from ? from : to));
		else
			fprintf(stderr, "bourse plot: %s has no rounds yet (has "
				"a broker run on it?)\n", a->db);
		return CLI_FAIL;
	}
	return CLI_OK;
fail:
	fprintf(stderr, "bourse plot: %s\n", err);
	return CLI_FAIL;
}

static int load(store *s, struct drawing *d)
{
	const struct plot_args *a = d->a;
	char err[512];

	d->hosts.args = d->vms.args = a;
	if (a->what & (WHAT_PRICES | WHAT_UTIL) &&
	    store_host_series(s, d->sp->first, d->sp->last, host_point,
			      &d->hosts, err, sizeof(err)) != 0)
		goto fail;
	if (((a->what & WHAT_PRESSURE) || a->n_vms) &&
	    store_vm_series(s, d->sp->first, d->sp->last, vm_point, &d->vms,
			    err, sizeof(err)) != 0)
		goto fail;
	return check_names(a, &d->hosts, &d->vms, d->sp);
fail:
	if (d->hosts.oom || d->vms.oom)
		snprintf(err, sizeof(err), "out of memory for the points");
	fprintf(stderr, "bourse plot: %s\n", err);
	return CLI_FAIL;
}

/* The panels with something to draw; a note for each left out. */
static int choose_panels(struct drawing *d)
{
	const struct plot_args *a = d->a;

	d->n_hosts_all = keep_top(&d->hosts, a->top);
	d->n_vms_all = keep_top(&d->vms, a->top);
	d->panels = a->what;
	if (!d->hosts.n && (a->what & (WHAT_PRICES | WHAT_UTIL))) {
		d->panels &= ~(unsigned)(WHAT_PRICES | WHAT_UTIL);
		fprintf(stderr, "bourse plot: note: no host prices in rounds "
			"%lld-%lld\n", (long long)d->sp->first,
			(long long)d->sp->last);
	}
	if (!d->vms.n && (a->what & WHAT_PRESSURE)) {
		d->panels &= ~(unsigned)WHAT_PRESSURE;
		fprintf(stderr, "bourse plot: note: no VM samples in rounds "
			"%lld-%lld\n", (long long)d->sp->first,
			(long long)d->sp->last);
	}
	if (!d->panels) {
		fprintf(stderr, "bourse plot: nothing to draw in %s\n", a->db);
		return CLI_FAIL;
	}
	return CLI_OK;
}

/* Can the picture be written? Says why not before gnuplot starts, and
 * leaves no empty file behind. */
static int check_out(const char *path)
{
	struct stat st;
	int existed = stat(path, &st) == 0;
	FILE *f = fopen(path, "a");

	if (!f) {
		fprintf(stderr, "bourse plot: cannot write '%s': %s\n", path,
			strerror(errno));
		return CLI_FAIL;
	}
	fclose(f);
	if (!existed)
		unlink(path);
	return CLI_OK;
}

int cmd_plot(int argc, char **argv)
{
	struct plot_args a;
	store_series_span sp;
	struct drawing d;
	store *s = NULL;
	char err[512];
	int done = 0, rc = parse_args(&a, argc, argv, &done);

	if (rc != CLI_OK || done)
		return rc;
	if (!a.db && cli_review_db("plot", &a.db) != CLI_OK)
		return CLI_USAGE;
	if (store_open(a.db, STORE_READONLY, &s, err, sizeof(err)) != 0) {
		fprintf(stderr, "bourse plot: %s\n", err);
		return CLI_FAIL;
	}
	memset(&d, 0, sizeof(d));
	d.a = &a;
	d.sp = &sp;
	rc = resolve_range(s, &a, &sp);
	if (rc == CLI_OK)
		rc = load(s, &d);
	store_close(s);
	if (rc == CLI_OK)
		rc = choose_panels(&d);
	if (rc == CLI_OK)
		rc = check_out(a.out);
	if (rc == CLI_OK)
		rc = draw(&d);
	series_set_free(&d.hosts);
	series_set_free(&d.vms);
	return rc;
}
