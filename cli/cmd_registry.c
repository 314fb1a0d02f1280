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
	"  --watch       draw again whenever the database changes (Ctrl-C ends)\n"\
	"  --db PATH     the database (default: $BOURSE_DB, then bourse.conf)\n" \
	CLI_OUTPUT_HELP                                                      \
	"  -h, --help    this help\n"

#define MIB_HELP \
	"  --mib         memory as exact MiB instead of MiB/GiB for people\n"

static const char hosts_usage[] =
	"usage: bourse hosts [--mib] [--watch] [--db PATH] [-o table|wide|json]\n"
	"                    [--no-headers]\n"
	"\n"
	"List the hosts the broker knows, in natural order of name (h2 before\n"
	"h10), with the figures of the latest market round: price (credits\n"
	"per MiB), utilization (wanted / supply), memory awarded and VMs.\n"
	"STATE is the broker's word while it runs; once it has stopped (or\n"
	"has not been heard for a few rounds) a host it had online is\n"
	"'unknown (broker down since ...)'. DATA is 'bad' while the host's\n"
	"VMs report more assigned memory than its capacity: the market then\n"
	"leaves it out (docs/market.md). -o wide adds the host's id and when\n"
	"it was first seen.\n"
	"\n" MIB_HELP DB_HELP;

static const char vms_usage[] =
	"usage: bourse vms [--host NAME] [--mib] [--watch] [--db PATH]\n"
	"                  [-o table|wide|json] [--no-headers]\n"
	"\n"
	"List the VMs the broker knows, in natural order of name (vm-2 before\n"
	"vm-10), with their latest sample and the market's award: DEMAND (what\n"
	"the guest uses), ASSIGNED (what the VM holds now: its balloon target\n"
	"or resident memory, as its agent reported it), TARGET (the market's\n"
	"award), PRESSURE (demand / target * 100), and the configured MINIMUM\n"
	"and MAXIMUM. '-': not in the latest round. -o wide adds the VM's id,\n"
	"startup size, buffer, reservation, limit, shares and when last seen.\n"
	"\n"
	"  --host NAME   only the VMs on this host\n" MIB_HELP DB_HELP;

static const char prices_usage[] =
	"usage: bourse prices [--round N] [--mib] [--watch] [--db PATH]\n"
	"                     [-o table|wide|json] [--no-headers]\n"
	"\n"
	"Show each host's memory price in a market round (default: the latest)\n"
	"and the state it was priced from: utilization, balloon and swap\n"
	"pressure, and whether the host was short. Hosts in natural order of\n"
	"name, prices in credits per MiB. -o wide adds the free and ballooned\n"
	"memory and the host's swap rate (MiB/s).\n"
	"\n"
	"  --round N     this round instead of the latest\n" MIB_HELP DB_HELP;

struct reg_args {
	const char *cmd; /* "hosts", ... for messages */
	const char *db;
	enum cli_output out; /* -o, --json */
	int no_headers;      /* --no-headers */
	int mib;   /* --mib: exact MiB */
	int watch; /* --watch */
	const char *host;
	int64_t round;
};

/* ---- parsing ------------------------------------------------------------ */

enum { O_DB = 256, O_JSON, O_HOST, O_ROUND, O_MIB, O_WATCH, O_NO_HEADERS };

static const struct option hosts_opts[] = {
	{ "db", required_argument, NULL, O_DB },
	{ "json", no_argument, NULL, O_JSON },
	{ "output", required_argument, NULL, 'o' },
	{ "no-headers", no_argument, NULL, O_NO_HEADERS },
	{ "mib", no_argument, NULL, O_MIB },
	{ "watch", no_argument, NULL, O_WATCH },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const struct option vms_opts[] = {
	{ "db", required_argument, NULL, O_DB },
	{ "json", no_argument, NULL, O_JSON },
	{ "output", required_argument, NULL, 'o' },
	{ "no-headers", no_argument, NULL, O_NO_HEADERS },
	{ "host", required_argument, NULL, O_HOST },
	{ "mib", no_argument, NULL, O_MIB },
	{ "watch", no_argument, NULL, O_WATCH },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const struct option prices_opts[] = {
	{ "db", required_argument, NULL, O_DB },
	{ "json", no_argument, NULL, O_JSON },
	{ "output", required_argument, NULL, 'o' },
	{ "no-headers", no_argument, NULL, O_NO_HEADERS },
	{ "round", required_argument, NULL, O_ROUND },
	{ "mib", no_argument, NULL, O_MIB },
	{ "watch", no_argument, NULL, O_WATCH },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int parse(struct reg_args *a, const char *usage,
		 const struct option *opts, int argc, char **argv, int *done)
{
	char err[256];
	int opt;

	a->db = NULL; /* after the flags: cli_review_db() */
	optind = 0;
	opterr = 1;
	while ((opt = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			fputs(usage, stdout);
			*done = 1;
			return CLI_OK;
		case O_DB: a->db = optarg; break;
		case O_JSON: a->out = CLI_OUT_JSON; break;
		case O_NO_HEADERS: a->no_headers = 1; break;
		case 'o':
			if (cli_output_opt(a->cmd, optarg, &a->out) != CLI_OK)
				return CLI_USAGE;
			break;
		case O_HOST: a->host = optarg; break;
		case O_MIB: a->mib = 1; break;
		case O_WATCH: a->watch = 1; break;
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
	if (a->db && !*a->db) {
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
	if (!a->db && cli_review_db(a->cmd, &a->db) != CLI_OK)
		return CLI_USAGE;
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

enum { H_NAME, H_STATE, H_DATA, H_CAPACITY, H_RESERVE, H_PRICE, H_UTIL,
       H_AWARDED, H_VMS, H_SEEN, H_URI, H_ID, H_FIRST, N_H_COLS };

static const struct cli_col hosts_cols[N_H_COLS] = {
	[H_NAME] = { "NAME", 0 },
	[H_STATE] = { "STATE", CLI_COL_TRUNC },
	[H_DATA] = { "DATA", 0 },
	[H_CAPACITY] = { "CAPACITY", CLI_COL_RIGHT },
	[H_RESERVE] = { "RESERVE", CLI_COL_RIGHT },
	[H_PRICE] = { "PRICE", CLI_COL_RIGHT },
	[H_UTIL] = { "UTIL", CLI_COL_RIGHT },
	[H_AWARDED] = { "AWARDED", CLI_COL_RIGHT },
	[H_VMS] = { "VMS", CLI_COL_RIGHT },
	[H_SEEN] = { "SEEN", CLI_COL_RIGHT },
	[H_URI] = { "URI", CLI_COL_TRUNC },
	[H_ID] = { "ID", CLI_COL_RIGHT | CLI_COL_WIDE },
	[H_FIRST] = { "FIRST-SEEN", CLI_COL_RIGHT | CLI_COL_WIDE },
};

/* The hosts' bad-data flags, by host id (store_host_flags_list()'s order). */
struct flag_list {
	store_host_flag *f;
	size_t n, cap;
	int oom;
};

/* The draining hosts (store_host_drains_list(), by host id). */
struct drain_list {
	store_host_drain *d;
	size_t n, cap;
	int oom;
};

static int drain_collect(const store_host_drain *d, void *ctx)
{
	struct drain_list *l = ctx;

	if (UTIL_GROW(l->d, l->n + 1, l->cap)) {
		l->oom = 1;
		return 1;
	}
	l->d[l->n++] = *d;
	return 0;
}

static int draining(const struct drain_list *l, uint32_t host_id)
{
	for (size_t i = 0; l && i < l->n; i++)
		if (l->d[i].host_id == host_id)
			return 1;
	return 0;
}

struct out {
	cli_table *t;
	json_object *arr;
	const char *host; /* vms --host */
	int mib;          /* --mib */
	const struct cli_broker *bk;  /* hosts: is the broker running */
	const struct flag_list *flags; /* hosts: bad data */
	const struct drain_list *drains; /* hosts: draining */
	int oom;
	size_t n;
};

static int flag_collect(const store_host_flag *f, void *ctx)
{
	struct flag_list *l = ctx;

	if (UTIL_GROW(l->f, l->n + 1, l->cap)) {
		l->oom = 1;
		return 1;
	}
	l->f[l->n++] = *f;
	return 0;
}

static int flag_cmp(const void *key, const void *elem)
{
	uint32_t id = *(const uint32_t *)key;
	const store_host_flag *f = elem;

	return id < f->host_id ? -1 : id > f->host_id;
}

/* The host's flag if it is bad now, else NULL. */
static const store_host_flag *bad_flag(const struct flag_list *l,
				       uint32_t host_id)
{
	const store_host_flag *f = l && l->n
		? bsearch(&host_id, l->f, l->n, sizeof(*l->f), flag_cmp) : NULL;

	return f && f->bad_data ? f : NULL;
}

/* A host the broker had online, read while the broker is down: nobody
 * knows. */
static int host_unknown(const struct out *o, const store_host_row *h)
{
	return o->bk && h->state == STORE_HOST_ONLINE &&
	       (o->bk->state == CLI_BROKER_STOPPED ||
		o->bk->state == CLI_BROKER_SILENT);
}

static json_object *host_json(const struct out *o, const store_host_row *h)
{
	json_object *j = json_object_new_object();
	const store_host_flag *bad = bad_flag(o->flags, h->id);
	int unknown = host_unknown(o, h);

	json_object_object_add(j, "id", json_object_new_int64(h->id));
	json_object_object_add(j, "name", json_object_new_string(h->name));
	json_object_object_add(j, "uri", json_object_new_string(h->uri));
	json_object_object_add(j, "capacity_mib",
			       json_object_new_int64(h->capacity_mib));
	json_object_object_add(j, "reserve_mib",
			       json_object_new_int64(h->reserve_mib));
	json_object_object_add(j, "state", json_object_new_string(
			       unknown ? "unknown" : host_state_name(h->state)));
	json_object_object_add(j, "recorded_state",
			       json_object_new_string(host_state_name(h->state)));
	json_object_object_add(j, "broker_down_since_ms", unknown
			       ? json_object_new_int64(o->bk->down_since_ms)
			       : NULL);
	json_object_object_add(j, "draining", json_object_new_boolean(
			       draining(o->drains, h->id)));
	json_object_object_add(j, "bad_data", json_object_new_boolean(!!bad));
	json_object_object_add(j, "bad_data_detail",
			       bad ? json_object_new_string(bad->detail) : NULL);
	json_object_object_add(j, "first_seen_ms",
			       json_object_new_int64(h->first_seen_ms));
	json_object_object_add(j, "last_seen_ms",
			       json_object_new_int64(h->last_seen_ms));
	json_object_object_add(j, "price", cli_json_num(h->price));
	json_object_object_add(j, "utilization",
			       cli_json_num(h->utilization));
	json_object_object_add(j, "awarded_mib",
			       json_object_new_int64(h->awarded_mib));
	json_object_object_add(j, "n_vms", json_object_new_int64(h->n_vms));
	return j;
}

static void host_state_cell(const struct out *o, const store_host_row *h)
{
	const char *dr = draining(o->drains, h->id) ? ", draining" : "";
	char when[64];

	if (!host_unknown(o, h)) {
		cli_table_set(o->t, H_STATE, "%s%s", host_state_name(h->state), dr);
		return;
	}
	cli_fmt_time(when, sizeof(when), o->bk->down_since_ms);
	cli_table_set(o->t, H_STATE, "unknown (broker down since %s)%s", when,
		      dr);
}

/* A size cell through cli_fmt_mib(). */
static void mib_cell(cli_table *t, size_t col, int64_t mib, int exact)
{
	char cell[32];

	cli_fmt_mib(cell, sizeof(cell), mib, exact);
	cli_table_set(t, col, "%s", cell);
}

/* An age cell through cli_fmt_age(). */
static void age_cell(cli_table *t, size_t col, int64_t ms)
{
	char cell[32];

	cli_fmt_age(cell, sizeof(cell), ms);
	cli_table_set(t, col, "%s", cell);
}

static int host_row(const store_host_row *h, void *ctx)
{
	struct out *o = ctx;

	o->n++;
	if (o->arr) {
		json_object_array_add(o->arr, host_json(o, h));
		return 0;
	}
	if (cli_table_row(o->t) != 0) {
		o->oom = 1;
		return 1;
	}
	cli_table_set(o->t, H_NAME, "%s", h->name);
	host_state_cell(o, h);
	cli_table_set(o->t, H_DATA, "%s",
		      bad_flag(o->flags, h->id) ? "bad" : "ok");
	mib_cell(o->t, H_CAPACITY, h->capacity_mib, o->mib);
	mib_cell(o->t, H_RESERVE, h->reserve_mib, o->mib);
	cli_table_set(o->t, H_PRICE, "%.2f", h->price);
	cli_table_set(o->t, H_UTIL, "%.0f%%", h->utilization * 100);
	mib_cell(o->t, H_AWARDED, h->awarded_mib, o->mib);
	cli_table_set(o->t, H_VMS, "%u", h->n_vms);
	age_cell(o->t, H_SEEN, h->last_seen_ms);
	cli_table_set(o->t, H_URI, "%s", h->uri[0] ? h->uri : "-");
	cli_table_set(o->t, H_ID, "%u", h->id);
	age_cell(o->t, H_FIRST, h->first_seen_ms);
	return 0;
}

/* Free what a list callback collected, printing nothing. */
static void out_release(struct out *o)
{
	json_object_put(o->arr);
	o->arr = NULL;
	cli_table_free(o->t);
	o->t = NULL;
}

/* Where a draw's rows go: JSON, or a table of these columns. Returns 0,
 * or -1 out of memory (said). */
static int out_start(const struct reg_args *a, struct out *o,
		     const struct cli_col *cols, size_t ncol)
{
	if (a->out == CLI_OUT_JSON)
		o->arr = json_object_new_array();
	else
		o->t = cli_table_new(cols, ncol, a->out, a->no_headers);
	if (o->arr || o->t)
		return 0;
	fprintf(stderr, "bourse %s: out of memory\n", a->cmd);
	return -1;
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
	} else if (cli_table_print(o->t, stdout) != 0) {
		fprintf(stderr, "bourse %s: cannot print the table\n", a->cmd);
		rc = CLI_FAIL;
	}
	out_release(o);
	return rc;
}

/* Rows collected from a store list, then sorted by name naturally. */
struct host_rows {
	store_host_row *r;
	size_t n, cap;
	int oom;
};

static int host_collect(const store_host_row *h, void *ctx)
{
	struct host_rows *l = ctx;

	if (UTIL_GROW(l->r, l->n + 1, l->cap)) {
		l->oom = 1;
		return 1;
	}
	l->r[l->n++] = *h;
	return 0;
}

static int host_cmp(const void *x, const void *y)
{
	return cli_natcmp(((const store_host_row *)x)->name,
			  ((const store_host_row *)y)->name);
}

/* What `bourse hosts` reads before its rows: is the broker running, which
 * hosts have bad data. Returns CLI_OK or CLI_FAIL (said). */
static int hosts_context(store *s, struct cli_broker *bk,
			 struct flag_list *fl, struct drain_list *dl)
{
	char err[512];

	if (cli_broker_view(s, bk, err, sizeof(err)) != 0 ||
	    store_host_flags_list(s, flag_collect, fl, err, sizeof(err)) != 0 ||
	    store_host_drains_list(s, drain_collect, dl, err,
				   sizeof(err)) != 0) {
		fprintf(stderr, "bourse hosts: %s\n",
			fl->oom || dl->oom ? "out of memory" : err);
		return CLI_FAIL;
	}
	return CLI_OK;
}

static int draw_hosts(store *s, void *ctx)
{
	struct reg_args *a = ctx;
	struct cli_broker bk;
	struct flag_list fl = { 0 };
	struct drain_list dl = { 0 };
	struct host_rows rows = { 0 };
	struct out o = { .mib = a->mib, .bk = &bk, .flags = &fl, .drains = &dl };
	char err[512];
	int rc = hosts_context(s, &bk, &fl, &dl);

	if (rc == CLI_OK &&
	    store_hosts_list(s, host_collect, &rows, err, sizeof(err)) != 0) {
		fprintf(stderr, "bourse hosts: %s\n",
			rows.oom ? "out of memory" : err);
		rc = CLI_FAIL;
	}
	if (rc == CLI_OK) {
		if (rows.n)
			qsort(rows.r, rows.n, sizeof(*rows.r), host_cmp);
		if (out_start(a, &o, hosts_cols, N_H_COLS) != 0) {
			rc = CLI_FAIL;
		} else {
			for (size_t i = 0; i < rows.n && !o.oom; i++)
				host_row(&rows.r[i], &o);
			rc = finish(a, &o, "no hosts yet");
		}
	}
	free(rows.r);
	free(fl.f);
	free(dl.d);
	return rc;
}

/* Draw once, or --watch; close the store. */
static int draw_or_watch(struct reg_args *a, store *s,
			 int (*draw)(store *, void *))
{
	int rc = a->watch ? cli_watch(s, draw, a, a->out == CLI_OUT_JSON, a->cmd)
			  : draw(s, a);

	store_close(s);
	return rc;
}

int cmd_hosts(int argc, char **argv)
{
	struct reg_args a = { .cmd = "hosts" };
	store *s = NULL;
	int done = 0;
	int rc = start(&a, hosts_usage, hosts_opts, argc, argv, &s, &done);

	if (rc != CLI_OK || done)
		return rc;
	return draw_or_watch(&a, s, draw_hosts);
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

enum { V_NAME, V_HOST, V_STATE, V_DEMAND, V_ASSIGNED, V_TARGET,
       V_PRESSURE, V_MINIMUM, V_MAXIMUM, V_WEIGHT, V_ID, V_STARTUP,
       V_BUFFER, V_RESERVATION, V_LIMIT, V_SHARES, V_SEEN, N_V_COLS };

static const struct cli_col vms_cols[N_V_COLS] = {
	[V_NAME] = { "NAME", 0 },
	[V_HOST] = { "HOST", 0 },
	[V_STATE] = { "STATE", 0 },
	[V_DEMAND] = { "DEMAND", CLI_COL_RIGHT },
	[V_ASSIGNED] = { "ASSIGNED", CLI_COL_RIGHT },
	[V_TARGET] = { "TARGET", CLI_COL_RIGHT },
	[V_PRESSURE] = { "PRESSURE", CLI_COL_RIGHT },
	[V_MINIMUM] = { "MINIMUM", CLI_COL_RIGHT },
	[V_MAXIMUM] = { "MAXIMUM", CLI_COL_RIGHT },
	[V_WEIGHT] = { "WEIGHT", CLI_COL_RIGHT },
	[V_ID] = { "ID", CLI_COL_RIGHT | CLI_COL_WIDE },
	[V_STARTUP] = { "STARTUP", CLI_COL_RIGHT | CLI_COL_WIDE },
	[V_BUFFER] = { "BUFFER", CLI_COL_RIGHT | CLI_COL_WIDE },
	[V_RESERVATION] = { "RESERVATION", CLI_COL_RIGHT | CLI_COL_WIDE },
	[V_LIMIT] = { "LIMIT", CLI_COL_RIGHT | CLI_COL_WIDE },
	[V_SHARES] = { "SHARES", CLI_COL_RIGHT | CLI_COL_WIDE },
	[V_SEEN] = { "SEEN", CLI_COL_RIGHT | CLI_COL_WIDE },
};

static json_object *vm_json(const store_vm_row *v)
{
	json_object *j = json_object_new_object();

	json_object_object_add(j, "id", json_object_new_int64(v->id));
	json_object_object_add(j, "name", json_object_new_string(v->name));
	json_object_object_add(j, "host_id", json_object_new_int64(v->host_id));
	json_object_object_add(j, "host_name", json_object_new_string(v->host_name));
	json_object_object_add(j, "startup_mib",
			       json_object_new_int64(v->startup_mib));
	json_object_object_add(j, "minimum_mib",
			       json_object_new_int64(v->minimum_mib));
	json_object_object_add(j, "maximum_mib",
			       json_object_new_int64(v->maximum_mib));
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
	json_object_object_add(j, "pressure", cli_json_num(v->pressure));
	return j;
}

/* A sample's size, or "-" when the VM was not in the latest round (the
 * store gives 0 then: no VM in a round holds 0 MiB). */
static void sample_cell(cli_table *t, size_t col, int64_t mib, int exact)
{
	if (mib <= 0)
		cli_table_set(t, col, "-");
	else
		mib_cell(t, col, mib, exact);
}

/* The columns -o wide adds: the rest of the VM's settings. A limit of 0
 * is none. */
static void vm_wide_cells(const struct out *o, const store_vm_row *v)
{
	mib_cell(o->t, V_STARTUP, v->startup_mib, o->mib);
	cli_table_set(o->t, V_BUFFER, "%u%%", v->buffer_pct);
	mib_cell(o->t, V_RESERVATION, v->reservation_mib, o->mib);
	if (v->limit_mib > 0)
		mib_cell(o->t, V_LIMIT, v->limit_mib, o->mib);
	else
		cli_table_set(o->t, V_LIMIT, "-");
	cli_table_set(o->t, V_SHARES, "%u", v->shares);
	cli_table_set(o->t, V_ID, "%u", v->id);
	age_cell(o->t, V_SEEN, v->last_seen_ms);
}

static int vm_row(const store_vm_row *v, void *ctx)
{
	struct out *o = ctx;

	if (o->host && strcmp(o->host, v->host_name) != 0)
		return 0;
	o->n++;
	if (o->arr) {
		json_object_array_add(o->arr, vm_json(v));
		return 0;
	}
	if (cli_table_row(o->t) != 0) {
		o->oom = 1;
		return 1;
	}
	cli_table_set(o->t, V_NAME, "%s", v->name);
	cli_table_set(o->t, V_HOST, "%s", v->host_name);
	cli_table_set(o->t, V_STATE, "%s", vm_state_name(v->state));
	sample_cell(o->t, V_DEMAND, v->demand_mib, o->mib);
	sample_cell(o->t, V_ASSIGNED, v->assigned_mib, o->mib);
	sample_cell(o->t, V_TARGET, v->target_mib, o->mib);
	if (v->target_mib > 0)
		cli_table_set(o->t, V_PRESSURE, "%.1f", v->pressure);
	else
		cli_table_set(o->t, V_PRESSURE, "-");
	mib_cell(o->t, V_MINIMUM, v->minimum_mib, o->mib);
	mib_cell(o->t, V_MAXIMUM, v->maximum_mib, o->mib);
	cli_table_set(o->t, V_WEIGHT, "%u", v->weight);
	vm_wide_cells(o, v);
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

struct vm_rows {
	store_vm_row *r;
	size_t n, cap;
	int oom;
};

static int vm_collect(const store_vm_row *v, void *ctx)
{
	struct vm_rows *l = ctx;

	if (UTIL_GROW(l->r, l->n + 1, l->cap)) {
		l->oom = 1;
		return 1;
	}
	l->r[l->n++] = *v;
	return 0;
}

static int vm_cmp(const void *x, const void *y)
{
	return cli_natcmp(((const store_vm_row *)x)->name,
			  ((const store_vm_row *)y)->name);
}

static int draw_vms(store *s, void *ctx)
{
	struct reg_args *a = ctx;
	struct vm_rows rows = { 0 };
	struct out o = { .host = a->host, .mib = a->mib };
	char err[512];
	int rc = CLI_OK;

	if (store_vms_list(s, vm_collect, &rows, err, sizeof(err)) != 0) {
		fprintf(stderr, "bourse vms: %s\n",
			rows.oom ? "out of memory" : err);
		rc = CLI_FAIL;
	} else {
		if (rows.n)
			qsort(rows.r, rows.n, sizeof(*rows.r), vm_cmp);
		if (out_start(a, &o, vms_cols, N_V_COLS) != 0) {
			free(rows.r);
			return CLI_FAIL;
		}
		for (size_t i = 0; i < rows.n && !o.oom; i++)
			vm_row(&rows.r[i], &o);
		rc = finish(a, &o, a->host ? "no VMs on this host"
					   : "no VMs yet");
	}
	free(rows.r);
	return rc;
}

int cmd_vms(int argc, char **argv)
{
	struct reg_args a = { .cmd = "vms" };
	store *s = NULL;
	int done = 0;
	int rc = start(&a, vms_usage, vms_opts, argc, argv, &s, &done);

	if (rc != CLI_OK || done)
		return rc;
	if (a.host && check_host(s, &a) != CLI_OK) {
		store_close(s);
		return CLI_FAIL;
	}
	return draw_or_watch(&a, s, draw_vms);
}

/* ---- prices ------------------------------------------------------------- */

enum { P_HOST, P_PRICE, P_CLEARING, P_UTIL, P_SUPPLY, P_WANTED, P_FLOOR,
       P_AWARDED, P_BALLOON, P_SWAP, P_STATUS, P_FREE, P_BALLOONED,
       P_SWAP_RATE, N_P_COLS };

static const struct cli_col prices_cols[N_P_COLS] = {
	[P_HOST] = { "HOST", 0 },
	[P_PRICE] = { "PRICE", CLI_COL_RIGHT },
	[P_CLEARING] = { "CLEARING", CLI_COL_RIGHT },
	[P_UTIL] = { "UTIL", CLI_COL_RIGHT },
	[P_SUPPLY] = { "SUPPLY", CLI_COL_RIGHT },
	[P_WANTED] = { "WANTED", CLI_COL_RIGHT },
	[P_FLOOR] = { "FLOOR", CLI_COL_RIGHT },
	[P_AWARDED] = { "AWARDED", CLI_COL_RIGHT },
	[P_BALLOON] = { "BALLOON", CLI_COL_RIGHT },
	[P_SWAP] = { "SWAP", CLI_COL_RIGHT },
	[P_STATUS] = { "STATUS", 0 },
	[P_FREE] = { "FREE", CLI_COL_RIGHT | CLI_COL_WIDE },
	[P_BALLOONED] = { "BALLOONED", CLI_COL_RIGHT | CLI_COL_WIDE },
	[P_SWAP_RATE] = { "SWAP-MIBPS", CLI_COL_RIGHT | CLI_COL_WIDE },
};

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
	json_object_object_add(j, "awarded_mib",
			       json_object_new_int64(p->awarded_mib));
	json_object_object_add(j, "utilization", cli_json_num(p->utilization));
	json_object_object_add(j, "balloon_pressure",
			       cli_json_num(p->balloon_pressure));
	json_object_object_add(j, "swap_pressure",
			       cli_json_num(p->swap_pressure));
	json_object_object_add(j, "price", cli_json_num(p->price));
	json_object_object_add(j, "clearing_price",
			       cli_json_num(p->clearing_price));
	json_object_object_add(j, "shortage", json_object_new_boolean(p->shortage));
	json_object_object_add(j, "infeasible",
			       json_object_new_boolean(p->infeasible));
	json_object_object_add(j, "free_mib", json_object_new_int64(p->free_mib));
	json_object_object_add(j, "balloon_mib",
			       json_object_new_int64(p->balloon_mib));
	json_object_object_add(j, "host_swap_mibps",
			       cli_json_num(p->host_swap_mibps));
	return j;
}

static int price_row(const store_price_view *v, void *ctx)
{
	struct price_out *po = ctx;
	struct out *o = &po->o;
	const store_price_row *p = &v->p;

	po->round = v->round;
	po->started_ms = v->started_ms;
	o->n++;
	if (o->arr) {
		json_object_array_add(o->arr, price_json(v));
		return 0;
	}
	if (cli_table_row(o->t) != 0) {
		o->oom = 1;
		return 1;
	}
	cli_table_set(o->t, P_HOST, "%s", v->host_name);
	cli_table_set(o->t, P_PRICE, "%.2f", p->price);
	cli_table_set(o->t, P_CLEARING, "%.2f", p->clearing_price);
	cli_table_set(o->t, P_UTIL, "%.0f%%", p->utilization * 100);
	mib_cell(o->t, P_SUPPLY, p->supply_mib, o->mib);
	mib_cell(o->t, P_WANTED, p->wanted_mib, o->mib);
	mib_cell(o->t, P_FLOOR, p->floor_mib, o->mib);
	mib_cell(o->t, P_AWARDED, p->awarded_mib, o->mib);
	cli_table_set(o->t, P_BALLOON, "%.2f", p->balloon_pressure);
	cli_table_set(o->t, P_SWAP, "%.2f", p->swap_pressure);
	cli_table_set(o->t, P_STATUS, "%s", p->infeasible ? "infeasible"
		      : p->shortage ? "shortage" : "ok");
	mib_cell(o->t, P_FREE, p->free_mib, o->mib);
	mib_cell(o->t, P_BALLOONED, p->balloon_mib, o->mib);
	cli_table_set(o->t, P_SWAP_RATE, "%.1f", p->host_swap_mibps);
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
		out_release(&po->o);
		return CLI_OK;
	}
	cli_fmt_time(when, sizeof(when), po->started_ms);
	printf("round %lld, started %s\n\n", (long long)po->round, when);
	return finish(a, &po->o, "");
}

struct price_rows {
	store_price_view *r;
	size_t n, cap;
	int oom;
};

static int price_collect(const store_price_view *v, void *ctx)
{
	struct price_rows *l = ctx;

	if (UTIL_GROW(l->r, l->n + 1, l->cap)) {
		l->oom = 1;
		return 1;
	}
	l->r[l->n++] = *v;
	return 0;
}

static int price_cmp(const void *x, const void *y)
{
	return cli_natcmp(((const store_price_view *)x)->host_name,
			  ((const store_price_view *)y)->host_name);
}

/* The round's prices in natural order of host name into po. */
static int prices_read(store *s, struct reg_args *a, struct price_out *po)
{
	struct price_rows rows = { 0 };
	char err[512];

	if (store_prices_list(s, a->round, price_collect, &rows, err,
			      sizeof(err)) != 0) {
		fprintf(stderr, "bourse prices: %s\n",
			rows.oom ? "out of memory" : err);
		free(rows.r);
		return CLI_FAIL;
	}
	if (rows.n)
		qsort(rows.r, rows.n, sizeof(*rows.r), price_cmp);
	for (size_t i = 0; i < rows.n && !po->o.oom; i++)
		price_row(&rows.r[i], po);
	free(rows.r);
	return CLI_OK;
}

static int draw_prices(store *s, void *ctx)
{
	struct reg_args *a = ctx;
	struct price_out po = { .o = { .mib = a->mib } };
	char err[512];

	if (out_start(a, &po.o, prices_cols, N_P_COLS) != 0)
		return CLI_FAIL;
	if (prices_read(s, a, &po) != CLI_OK) {
		out_release(&po.o);
		return CLI_FAIL;
	}
	if (store_round_last(s, &po.last, err, sizeof(err)) != 0) {
		fprintf(stderr, "bourse prices: %s\n", err);
		out_release(&po.o);
		return CLI_FAIL;
	}
	if (po.round == 0)
		po.round = a->round ? a->round : po.last;
	return prices_print(a, &po);
}

int cmd_prices(int argc, char **argv)
{
	struct reg_args a = { .cmd = "prices" };
	store *s = NULL;
	int done = 0;
	int rc = start(&a, prices_usage, prices_opts, argc, argv, &s, &done);

	if (rc != CLI_OK || done)
		return rc;
	return draw_or_watch(&a, s, draw_prices);
}
