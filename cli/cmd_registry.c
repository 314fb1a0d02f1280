/*
 * cmd_registry.c - `bourse hosts`, `bourse vms`, `bourse prices`: what the
 * broker knows, read from the database (docs/storage.md), whether or not
 * the broker runs.
 */
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "store.h"
#include "util.h"
#include "banned.h"

#define DB_HELP                                                              \
	"  --db PATH     the database (default: $BOURSE_DB, else ./bourse.db)\n" \
	"  --json        print JSON instead of a table\n"                        \
	"  -h, --help    this help\n"

static const char hosts_usage[] =
	"usage: bourse hosts [--db PATH] [--json]\n"
	"\n"
	"List the hosts the broker knows, by name, with the figures of the\n"
	"latest market round: price (credits per MiB), utilization (wanted /\n"
	"supply), memory awarded and VMs. Memory in MiB.\n"
	"\n" DB_HELP;

static const char vms_usage[] =
	"usage: bourse vms [--host NAME] [--db PATH] [--json]\n"
	"\n"
	"List the VMs the broker knows, by name, with their latest sample\n"
	"(demand, assigned) and the market's award (target, pressure =\n"
	"demand / target * 100). Memory in MiB.\n"
	"\n"
	"  --host NAME   only the VMs on this host\n" DB_HELP;

static const char prices_usage[] =
	"usage: bourse prices [--round N] [--db PATH] [--json]\n"
	"\n"
	"Show each host's memory price in a market round (default: the latest)\n"
	"and the state it was priced from: utilization, balloon and swap\n"
	"pressure, and whether the host was short. Memory in MiB, prices in\n"
	"credits per MiB.\n"
	"\n"
	"  --round N     this round instead of the latest\n" DB_HELP;

struct reg_args {
	const char *cmd; /* "hosts", ... for messages */
	const char *db;
	int json;
	const char *host;
	int64_t round;
};

/* A table whose column widths come from its cells. */
#define CELL_MAX (STORE_TEXT_MAX + 8)

struct table {
	size_t ncol;
	const char *const *head;
	const int *right; /* 1: right-aligned (numbers) */
	char *cells;      /* nrow * ncol cells of CELL_MAX */
	size_t nrow;
	size_t cap_bytes; /* of cells */
};

static char *table_cell(struct table *t, size_t row, size_t col)
{
	return t->cells + (row * t->ncol + col) * CELL_MAX;
}

/* Append an empty row; returns its index, or -1 out of memory. */
static long table_add(struct table *t)
{
	if (UTIL_GROW(t->cells, (t->nrow + 1) * t->ncol * CELL_MAX,
		      t->cap_bytes))
		return -1;
	memset(table_cell(t, t->nrow, 0), 0, t->ncol * CELL_MAX);
	return (long)t->nrow++;
}

static void table_print(struct table *t, FILE *out)
{
	int w[16] = { 0 };

	for (size_t c = 0; c < t->ncol && c < 16; c++) {
		w[c] = (int)strlen(t->head[c]);
		for (size_t r = 0; r < t->nrow; r++) {
			int n = (int)strlen(table_cell(t, r, c));
			w[c] = n > w[c] ? n : w[c];
		}
	}
	for (size_t r = 0; r <= t->nrow; r++) {
		for (size_t c = 0; c < t->ncol && c < 16; c++) {
			const char *s = r == 0 ? t->head[c]
					       : table_cell(t, r - 1, c);
			int last = c + 1 == t->ncol;

			if (t->right[c])
				fprintf(out, "%*s", w[c], s);
			else if (last)
				fputs(s, out); /* no trailing blanks */
			else
				fprintf(out, "%-*s", w[c], s);
			if (!last)
				fputs("  ", out);
		}
		fputc('\n', out);
	}
}

static void table_release(struct table *t)
{
	free(t->cells);
	t->cells = NULL;
	t->nrow = t->cap_bytes = 0;
}

/* ---- parsing ------------------------------------------------------------ */

enum { O_DB = 256, O_JSON, O_HOST, O_ROUND };

static const struct option hosts_opts[] = {
	{ "db", required_argument, NULL, O_DB },
	{ "json", no_argument, NULL, O_JSON },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const struct option vms_opts[] = {
	{ "db", required_argument, NULL, O_DB },
	{ "json", no_argument, NULL, O_JSON },
	{ "host", required_argument, NULL, O_HOST },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const struct option prices_opts[] = {
	{ "db", required_argument, NULL, O_DB },
	{ "json", no_argument, NULL, O_JSON },
	{ "round", required_argument, NULL, O_ROUND },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int parse(struct reg_args *a, const char *usage,
		 const struct option *opts, int argc, char **argv, int *done)
{
	char err[256];
	int opt;

	a->db = cli_default_db();
	optind = 0;
	opterr = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			fputs(usage, stdout);
			*done = 1;
			return CLI_OK;
		case O_DB: a->db = optarg; break;
		case O_JSON: a->json = 1; break;
		case O_HOST: a->host = optarg; break;
		case O_ROUND:
			if (cli_parse_i64(optarg, 1, INT64_MAX, &a->round, err,
					  sizeof(err)) != 0) {
				fprintf(stderr, "bourse %s: --round: %s\n", a->cmd,
					err);
				return CLI_USAGE;
			}
			break;
		default:
			fprintf(stderr, "see 'bourse %s --help'\n", a->cmd);
			return CLI_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "bourse %s: unexpected argument '%s'\n", a->cmd,
			argv[optind]);
		return CLI_USAGE;
	}
	if (!*a->db) {
		fprintf(stderr, "bourse %s: --db: empty path\n", a->cmd);
		return CLI_USAGE;
	}
	return CLI_OK;
}

/* Parse, then open the database read-only. Returns CLI_OK with *s set,
 * CLI_OK with *done set (help), or an exit status. */
static int start(struct reg_args *a, const char *usage,
		 const struct option *opts, int argc, char **argv, store **s,
		 int *done)
{
	char err[512];
	int rc = parse(a, usage, opts, argc, argv, done);

	if (rc != CLI_OK || *done)
		return rc;
	if (store_open(a->db, STORE_READONLY, s, err, sizeof(err)) != 0) {
		fprintf(stderr, "bourse %s: %s\n", a->cmd, err);
		return CLI_FAIL;
	}
	return CLI_OK;
}

/* ---- hosts -------------------------------------------------------------- */

static const char *host_state_name(store_host_state st)
{
	switch (st) {
	case STORE_HOST_ONLINE: return "online";
	case STORE_HOST_LOST: return "lost";
	case STORE_HOST_GONE: return "gone";
	}
	return "unknown";
}

static const char *const hosts_head[] = { "NAME", "STATE", "CAPACITY",
	"RESERVE", "PRICE", "UTIL", "AWARDED", "VMS", "SEEN", "URI" };
static const int hosts_right[] = { 0, 0, 1, 1, 1, 1, 1, 1, 1, 0 };

struct out {
	struct table t;
	json_object *arr;
	const char *host; /* vms --host */
	int oom;
	size_t n;
};

static int host_row(const store_host_row *h, void *ctx)
{
	struct out *o = ctx;
	long r;

	o->n++;
	if (o->arr) {
		json_object *j = json_object_new_object();
		json_object_object_add(j, "id", json_object_new_int64(h->id));
		json_object_object_add(j, "name", json_object_new_string(h->name));
		json_object_object_add(j, "uri", json_object_new_string(h->uri));
		json_object_object_add(j, "capacity_mib",
				       json_object_new_int64(h->capacity_mib));
		json_object_object_add(j, "reserve_mib",
				       json_object_new_int64(h->reserve_mib));
		json_object_object_add(j, "state",
				       json_object_new_string(host_state_name(h->state)));
		json_object_object_add(j, "first_seen_ms",
				       json_object_new_int64(h->first_seen_ms));
		json_object_object_add(j, "last_seen_ms",
				       json_object_new_int64(h->last_seen_ms));
		json_object_object_add(j, "price", json_object_new_double(h->price));
		json_object_object_add(j, "utilization",
				       json_object_new_double(h->utilization));
		json_object_object_add(j, "awarded_mib",
				       json_object_new_int64(h->awarded_mib));
		json_object_object_add(j, "n_vms", json_object_new_int64(h->n_vms));
		json_object_array_add(o->arr, j);
		return 0;
	}
	if ((r = table_add(&o->t)) < 0) {
		o->oom = 1;
		return 1;
	}
	snprintf(table_cell(&o->t, r, 0), CELL_MAX, "%s", h->name);
	snprintf(table_cell(&o->t, r, 1), CELL_MAX, "%s", host_state_name(h->state));
	snprintf(table_cell(&o->t, r, 2), CELL_MAX, "%lld", (long long)h->capacity_mib);
	snprintf(table_cell(&o->t, r, 3), CELL_MAX, "%lld", (long long)h->reserve_mib);
	snprintf(table_cell(&o->t, r, 4), CELL_MAX, "%.2f", h->price);
	snprintf(table_cell(&o->t, r, 5), CELL_MAX, "%.0f%%", h->utilization * 100);
	snprintf(table_cell(&o->t, r, 6), CELL_MAX, "%lld", (long long)h->awarded_mib);
	snprintf(table_cell(&o->t, r, 7), CELL_MAX, "%u", h->n_vms);
	cli_fmt_age(table_cell(&o->t, r, 8), CELL_MAX, h->last_seen_ms);
	snprintf(table_cell(&o->t, r, 9), CELL_MAX, "%s", h->uri[0] ? h->uri : "-");
	return 0;
}

/* Free what a list callback collected, printing nothing. */
static void out_release(struct out *o)
{
	json_object_put(o->arr);
	o->arr = NULL;
	table_release(&o->t);
}

/* Print what a list callback collected; release it. */
static int finish(struct reg_args *a, struct out *o, const char *none)
{
	int rc = CLI_OK;

	if (o->oom) {
		fprintf(stderr, "bourse %s: out of memory\n", a->cmd);
		rc = CLI_FAIL;
	} else if (o->arr) {
		rc = cli_json_print(o->arr);
		o->arr = NULL;
	} else if (o->n == 0) {
		printf("%s\n", none);
	} else {
		table_print(&o->t, stdout);
	}
	json_object_put(o->arr);
	table_release(&o->t);
	return rc;
}

int cmd_hosts(int argc, char **argv)
{
	struct reg_args a = { .cmd = "hosts" };
	struct out o = { .t = { .ncol = 10, .head = hosts_head,
				.right = hosts_right } };
	store *s = NULL;
	char err[512];
	int done = 0;
	int rc = start(&a, hosts_usage, hosts_opts, argc, argv, &s, &done);

	if (rc != CLI_OK || done)
		return rc;
	o.arr = a.json ? json_object_new_array() : NULL;
	if (store_hosts_list(s, host_row, &o, err, sizeof(err)) != 0) {
		fprintf(stderr, "bourse hosts: %s\n", o.oom ? "out of memory" : err);
		out_release(&o);
		store_close(s);
		return CLI_FAIL;
	}
	store_close(s);
	return finish(&a, &o, "no hosts yet");
}

/* ---- vms ---------------------------------------------------------------- */

static const char *vm_state_name(store_vm_state st)
{
	switch (st) {
	case STORE_VM_ACTIVE: return "active";
	case STORE_VM_LOST: return "lost";
	case STORE_VM_GONE: return "gone";
	}
	return "unknown";
}

static const char *const vms_head[] = { "NAME", "HOST", "STATE", "DEMAND",
	"ASSIGNED", "TARGET", "PRESSURE", "MINIMUM", "MAXIMUM", "WEIGHT" };
static const int vms_right[] = { 0, 0, 0, 1, 1, 1, 1, 1, 1, 1 };

static json_object *vm_json(const store_vm_row *v)
{
	json_object *j = json_object_new_object();

	json_object_object_add(j, "id", json_object_new_int64(v->id));
	json_object_object_add(j, "name", json_object_new_string(v->name));
	json_object_object_add(j, "host_id", json_object_new_int64(v->host_id));
	json_object_object_add(j, "host_name", json_object_new_string(v->host_name));
	json_object_object_add(j, "startup_mib", json_object_new_int64(v->startup_mib));
	json_object_object_add(j, "minimum_mib", json_object_new_int64(v->minimum_mib));
	json_object_object_add(j, "maximum_mib", json_object_new_int64(v->maximum_mib));
	json_object_object_add(j, "buffer_pct", json_object_new_int64(v->buffer_pct));
	json_object_object_add(j, "weight", json_object_new_int64(v->weight));
	json_object_object_add(j, "reservation_mib",
			       json_object_new_int64(v->reservation_mib));
	json_object_object_add(j, "limit_mib", json_object_new_int64(v->limit_mib));
	json_object_object_add(j, "shares", json_object_new_int64(v->shares));
	json_object_object_add(j, "state",
			       json_object_new_string(vm_state_name(v->state)));
	json_object_object_add(j, "first_seen_ms",
			       json_object_new_int64(v->first_seen_ms));
	json_object_object_add(j, "last_seen_ms",
			       json_object_new_int64(v->last_seen_ms));
	json_object_object_add(j, "last_migrated_round",
			       v->last_migrated_round == INT64_MIN
				       ? NULL
				       : json_object_new_int64(v->last_migrated_round));
	json_object_object_add(j, "demand_mib", json_object_new_int64(v->demand_mib));
	json_object_object_add(j, "assigned_mib",
			       json_object_new_int64(v->assigned_mib));
	json_object_object_add(j, "target_mib", json_object_new_int64(v->target_mib));
	json_object_object_add(j, "pressure", json_object_new_double(v->pressure));
	return j;
}

static int vm_row(const store_vm_row *v, void *ctx)
{
	struct out *o = ctx;
	long r;

	if (o->host && strcmp(o->host, v->host_name) != 0)
		return 0;
	o->n++;
	if (o->arr) {
		json_object_array_add(o->arr, vm_json(v));
		return 0;
	}
	if ((r = table_add(&o->t)) < 0) {
		o->oom = 1;
		return 1;
	}
	snprintf(table_cell(&o->t, r, 0), CELL_MAX, "%s", v->name);
	snprintf(table_cell(&o->t, r, 1), CELL_MAX, "%s", v->host_name);
	snprintf(table_cell(&o->t, r, 2), CELL_MAX, "%s", vm_state_name(v->state));
	snprintf(table_cell(&o->t, r, 3), CELL_MAX, "%lld", (long long)v->demand_mib);
	snprintf(table_cell(&o->t, r, 4), CELL_MAX, "%lld", (long long)v->assigned_mib);
	snprintf(table_cell(&o->t, r, 5), CELL_MAX, "%lld", (long long)v->target_mib);
	snprintf(table_cell(&o->t, r, 6), CELL_MAX, "%.1f", v->pressure);
	snprintf(table_cell(&o->t, r, 7), CELL_MAX, "%lld", (long long)v->minimum_mib);
	snprintf(table_cell(&o->t, r, 8), CELL_MAX, "%lld", (long long)v->maximum_mib);
	snprintf(table_cell(&o->t, r, 9), CELL_MAX, "%u", v->weight);
	return 0;
}

static int find_host(const store_host_row *h, void *ctx)
{
	struct out *o = ctx;

	if (strcmp(h->name, o->host) == 0)
		o->n = 1;
	return 0;
}

/* --host must name a host the database knows. */
static int check_host(store *s, struct reg_args *a)
{
	struct out o = { .host = a->host };
	char err[512];

	if (store_hosts_list(s, find_host, &o, err, sizeof(err)) != 0) {
		fprintf(stderr, "bourse vms: %s\n", err);
		return CLI_FAIL;
	}
	if (o.n == 0) {
		fprintf(stderr, "bourse vms: no host '%s' in %s\n", a->host, a->db);
		return CLI_FAIL;
	}
	return CLI_OK;
}

int cmd_vms(int argc, char **argv)
{
	struct reg_args a = { .cmd = "vms" };
	struct out o = { .t = { .ncol = 10, .head = vms_head,
				.right = vms_right } };
	store *s = NULL;
	char err[512];
	int done = 0;
	int rc = start(&a, vms_usage, vms_opts, argc, argv, &s, &done);

	if (rc != CLI_OK || done)
		return rc;
	if (a.host && check_host(s, &a) != CLI_OK) {
		store_close(s);
		return CLI_FAIL;
	}
	o.host = a.host;
	o.arr = a.json ? json_object_new_array() : NULL;
	if (store_vms_list(s, vm_row, &o, err, sizeof(err)) != 0) {
		fprintf(stderr, "bourse vms: %s\n", o.oom ? "out of memory" : err);
		out_release(&o);
		store_close(s);
		return CLI_FAIL;
	}
	store_close(s);
	return finish(&a, &o, a.host ? "no VMs on this host" : "no VMs yet");
}

/* ---- prices ------------------------------------------------------------- */

static const char *const prices_head[] = { "HOST", "PRICE", "CLEARING",
	"UTIL", "SUPPLY", "WANTED", "FLOOR", "AWARDED", "BALLOON", "SWAP",
	"STATUS" };
static const int prices_right[] = { 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0 };

struct price_out {
	struct out o;
	int64_t round, started_ms;
	int64_t last; /* the last round run, 0 if none */
};

static json_object *price_json(const store_price_view *v)
{
	const store_price_row *p = &v->p;
	json_object *j = json_object_new_object();

	json_object_object_add(j, "host_id", json_object_new_int64(p->host_id));
	json_object_object_add(j, "host_name", json_object_new_string(v->host_name));
	json_object_object_add(j, "supply_mib", json_object_new_int64(p->supply_mib));
	json_object_object_add(j, "wanted_mib", json_object_new_int64(p->wanted_mib));
	json_object_object_add(j, "floor_mib", json_object_new_int64(p->floor_mib));
	json_object_object_add(j, "awarded_mib", json_object_new_int64(p->awarded_mib));
	json_object_object_add(j, "utilization", json_object_new_double(p->utilization));
	json_object_object_add(j, "balloon_pressure",
			       json_object_new_double(p->balloon_pressure));
	json_object_object_add(j, "swap_pressure",
			       json_object_new_double(p->swap_pressure));
	json_object_object_add(j, "price", json_object_new_double(p->price));
	json_object_object_add(j, "clearing_price",
			       json_object_new_double(p->clearing_price));
	json_object_object_add(j, "shortage", json_object_new_boolean(p->shortage));
	json_object_object_add(j, "infeasible",
			       json_object_new_boolean(p->infeasible));
	json_object_object_add(j, "free_mib", json_object_new_int64(p->free_mib));
	json_object_object_add(j, "balloon_mib", json_object_new_int64(p->balloon_mib));
	json_object_object_add(j, "host_swap_mibps",
			       json_object_new_double(p->host_swap_mibps));
	return j;
}

static int price_row(const store_price_view *v, void *ctx)
{
	struct price_out *po = ctx;
	struct out *o = &po->o;
	const store_price_row *p = &v->p;
	long r;

	po->round = v->round;
	po->started_ms = v->started_ms;
	o->n++;
	if (o->arr) {
		json_object_array_add(o->arr, price_json(v));
		return 0;
	}
	if ((r = table_add(&o->t)) < 0) {
		o->oom = 1;
		return 1;
	}
	snprintf(table_cell(&o->t, r, 0), CELL_MAX, "%s", v->host_name);
	snprintf(table_cell(&o->t, r, 1), CELL_MAX, "%.2f", p->price);
	snprintf(table_cell(&o->t, r, 2), CELL_MAX, "%.2f", p->clearing_price);
	snprintf(table_cell(&o->t, r, 3), CELL_MAX, "%.0f%%", p->utilization * 100);
	snprintf(table_cell(&o->t, r, 4), CELL_MAX, "%lld", (long long)p->supply_mib);
	snprintf(table_cell(&o->t, r, 5), CELL_MAX, "%lld", (long long)p->wanted_mib);
	snprintf(table_cell(&o->t, r, 6), CELL_MAX, "%lld", (long long)p->floor_mib);
	snprintf(table_cell(&o->t, r, 7), CELL_MAX, "%lld", (long long)p->awarded_mib);
	snprintf(table_cell(&o->t, r, 8), CELL_MAX, "%.2f", p->balloon_pressure);
	snprintf(table_cell(&o->t, r, 9), CELL_MAX, "%.2f", p->swap_pressure);
	snprintf(table_cell(&o->t, r, 10), CELL_MAX, "%s",
		 p->infeasible ? "infeasible" : p->shortage ? "shortage" : "ok");
	return 0;
}

static int prices_print(struct reg_args *a, struct price_out *po)
{
	char when[64];

	if (po->o.arr) {
		json_object *root = json_object_new_object();
		json_object_object_add(root, "round", po->round
				       ? json_object_new_int64(po->round) : NULL);
		json_object_object_add(root, "started_ms", po->o.n
				       ? json_object_new_int64(po->started_ms)
				       : NULL);
		json_object_object_add(root, "hosts", po->o.arr);
		po->o.arr = root;
		return finish(a, &po->o, "");
	}
	if (po->o.n == 0 && !po->o.oom) {
		if (po->last == 0)
			printf("no rounds yet\n");
		else if (po->round > po->last)
			printf("round %lld has not run (the last is %lld)\n",
			       (long long)po->round, (long long)po->last);
		else
			printf("round %lld priced no host (none had settled, or "
			       "its prices are older than the retention, see "
			       "docs/storage.md)\n", (long long)po->round);
		table_release(&po->o.t);
		return CLI_OK;
	}
	cli_fmt_time(when, sizeof(when), po->started_ms);
	printf("round %lld, started %s\n\n", (long long)po->round, when);
	return finish(a, &po->o, "");
}

int cmd_prices(int argc, char **argv)
{
	struct reg_args a = { .cmd = "prices" };
	struct price_out po = { .o = { .t = { .ncol = 11, .head = prices_head,
					       .right = prices_right } } };
	store *s = NULL;
	char err[512];
	int done = 0;
	int rc = start(&a, prices_usage, prices_opts, argc, argv, &s, &done);

	if (rc != CLI_OK || done)
		return rc;
	po.o.arr = a.json ? json_object_new_array() : NULL;
	if (store_prices_list(s, a.round, price_row, &po, err,
			      sizeof(err)) != 0) {
		fprintf(stderr, "bourse prices: %s\n",
			po.o.oom ? "out of memory" : err);
		out_release(&po.o);
		store_close(s);
		return CLI_FAIL;
	}
	if (store_round_last(s, &po.last, err, sizeof(err)) != 0) {
		fprintf(stderr, "bourse prices: %s\n", err);
		out_release(&po.o);
		store_close(s);
		return CLI_FAIL;
	}
	store_close(s);
	if (po.round == 0)
		po.round = a.round ? a.round : po.last;
	return prices_print(&a, &po);
}
