/*
 * cmd_recs.c - `bourse recs list|show|approve|reject|cancel`: review the
 * market's recommendations and record the operator's decisions in the
 * database (docs/storage.md, "Recommendations"). Reads open the file
 * read-only; approve, reject and cancel open it read-write, and the store
 * checks each transition against its one table.
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

static const char recs_usage[] =
	"usage: bourse recs <command> [options]\n"
	"\n"
	"Review the market's recommendations: what it would resize or migrate,\n"
	"at what prices, and why; approve or reject them.\n"
	"\n"
	"commands:\n"
	"  list [--state S] [--kind K] [--vm NAME] [--host NAME] [--limit N]\n"
	"       [-o table|wide|json] [--no-headers]\n"
	"                                         newest first\n"
	"  show ID [-o json]                      one recommendation, the\n"
	"                                         economics behind it and its\n"
	"                                         audit trail\n"
	"  approve ID...                          approve pending ones\n"
	"  reject ID... [--reason TEXT]           reject pending ones\n"
	"  cancel ID... [--reason TEXT]           withdraw approvals not\n"
	"                                         dispatched yet\n"
	"  stats [-o table|wide|json]             how often they were right\n"
	"                                         (shadow scoring)\n"
	"\n"
	"options of every command:\n"
	"  --db PATH     the database (default: $BOURSE_DB, then bourse.conf)\n"
	"  -h, --help    help (also 'bourse recs <command> --help')\n";

#define DB_HELP                                                              \
	"  --db PATH     the database (default: $BOURSE_DB, then bourse.conf)\n" \
	"  -h, --help    this help\n"

static const char list_usage[] =
	"usage: bourse recs list [--state S] [--kind K] [--vm NAME] [--host NAME]\n"
	"                        [--limit N] [--mib] [--watch]\n"
	"                        [-o table|wide|json] [--no-headers] [--db PATH]\n"
	"\n"
	"List recommendations, newest first. ACTION says which way a resize\n"
	"goes (up, down); SIZE is the VM's memory before and after; PRICE is\n"
	"credits per MiB here (and there, for a migration). -o wide adds the\n"
	"economics: the last round that made it, demand, want, pressure before\n"
	"and after, cost here (and there), budget and why.\n"
	"\n"
	"  --state S     only this state: pending, approved, rejected, expired,\n"
	"                superseded, dispatched, succeeded, failed\n"
	"  --kind K      only resize or only migrate\n"
	"  --vm NAME     only this VM's\n"
	"  --host NAME   only those from or to this host\n"
	"  --limit N     at most N (default 50; 0: all)\n"
	"  --mib         sizes as exact MiB instead of MiB/GiB for people\n"
	"  --watch       draw again whenever the database changes (Ctrl-C ends)\n"
	CLI_OUTPUT_HELP DB_HELP;

static const char show_usage[] =
	"usage: bourse recs show ID [-o table|json] [--db PATH]\n"
	"\n"
	"Show one recommendation: the action, the prices and costs behind it,\n"
	"the VM's demand, want, budget and pressure before and after, why the\n"
	"market made it, its state and its audit trail.\n"
	"\n"
	"  -o, --output FORMAT  table (the text; also wide) or json\n"
	"  --json        the same as -o json\n" DB_HELP;

static const char approve_usage[] =
	"usage: bourse recs approve ID... [--db PATH]\n"
	"\n"
	"Approve pending recommendations, each on its own: prints 'approved ID'\n"
	"for each one approved, and why for each one that could not be. Exit\n"
	"status 1 if any could not be. A kind of action in recommend mode\n"
	"cannot be approved (see 'bourse mode'); a superseded one names the\n"
	"recommendation that replaced it. An approved recommendation is still\n"
	"superseded by a newer one for its VM, or expires, until it is\n"
	"dispatched: only the market's latest view of a VM is carried out.\n"
	"\n" DB_HELP;

static const char cancel_usage[] =
	"usage: bourse recs cancel ID... [--reason TEXT] [--db PATH]\n"
	"\n"
	"Withdraw approvals that the broker has not dispatched yet, each on its\n"
	"own: the recommendation becomes rejected ('approval withdrawn') and the\n"
	"audit log says who withdrew it (rec.cancelled). One already dispatched,\n"
	"carried out, or never approved is refused, saying what it is. Prints\n"
	"'cancelled ID' for each one withdrawn; exit status 1 if any could not\n"
	"be.\n"
	"\n"
	"  --reason TEXT why (kept with the recommendation and in the audit log)\n"
	DB_HELP;

static const char reject_usage[] =
	"usage: bourse recs reject ID... [--reason TEXT] [--db PATH]\n"
	"\n"
	"Reject pending recommendations, each on its own: prints 'rejected ID'\n"
	"for each one rejected, and why for each one that could not be. Exit\n"
	"status 1 if any could not be.\n"
	"\n"
	"  --reason TEXT why (kept with the recommendation and in the audit log)\n"
	DB_HELP;

#define DEFAULT_LIMIT 50

struct recs_args {
	const char *sub; /* "list", ... for messages */
	char full[32];   /* "recs list" */
	const char *db;
	enum cli_output out; /* -o, --json */
	int no_headers;      /* --no-headers */
	int mib; /* list --mib: exact sizes */
	int watch; /* list --watch */
	store_rec_state state; /* 0: every state */
	store_rec_kind kind;   /* list --kind; 0: both */
	const char *vm, *host; /* list --vm, --host */
	int64_t limit;
	const char *reason;
	char **ids; /* positional arguments */
	int n_ids;
};

/* "resize up", "resize down" or "migrate": which way a resize goes. */
static const char *rec_action(const store_rec *r)
{
	if (r->kind == STORE_REC_MIGRATE)
		return "migrate";
	return r->to_mib >= r->from_mib ? "resize up" : "resize down";
}

/* ---- JSON --------------------------------------------------------------- */

static json_object *rec_json(const store_rec *r)
{
	json_object *j = json_object_new_object();

	json_object_object_add(j, "id", json_object_new_int64(r->id));
	json_object_object_add(j, "round", json_object_new_int64(r->round));
	json_object_object_add(j, "last_round", json_object_new_int64(r->last_round));
	json_object_object_add(j, "created_ms", json_object_new_int64(r->created_ms));
	json_object_object_add(j, "updated_ms", json_object_new_int64(r->updated_ms));
	json_object_object_add(j, "kind",
			       json_object_new_string(store_rec_kind_name(r->kind)));
	json_object_object_add(j, "action", json_object_new_string(rec_action(r)));
	json_object_object_add(j, "state",
			       json_object_new_string(store_rec_state_name(r->state)));
	json_object_object_add(j, "vm_id", json_object_new_int64(r->vm_id));
	json_object_object_add(j, "vm_name", json_object_new_string(r->vm_name));
	json_object_object_add(j, "from_host", json_object_new_string(r->from_host));
	json_object_object_add(j, "to_host", r->to_host[0]
			       ? json_object_new_string(r->to_host) : NULL);
	json_object_object_add(j, "from_mib", json_object_new_int64(r->from_mib));
	json_object_object_add(j, "to_mib", json_object_new_int64(r->to_mib));
	json_object_object_add(j, "price_here", cli_json_num(r->price_here));
	json_object_object_add(j, "price_there", cli_json_num(r->price_there));
	json_object_object_add(j, "cost_here", cli_json_num(r->cost_here));
	json_object_object_add(j, "cost_there", cli_json_num(r->cost_there));
	json_object_object_add(j, "demand_mib", json_object_new_int64(r->demand_mib));
	json_object_object_add(j, "want_mib", json_object_new_int64(r->want_mib));
	json_object_object_add(j, "pressure_before",
			       cli_json_num(r->pressure_before));
	json_object_object_add(j, "pressure_after",
			       cli_json_num(r->pressure_after));
	json_object_object_add(j, "budget", cli_json_num(r->budget));
	json_object_object_add(j, "why", json_object_new_string(r->why));
	json_object_object_add(j, "state_reason",
			       json_object_new_string(r->state_reason));
	json_object_object_add(j, "superseded_by", r->superseded_by
			       ? json_object_new_int64(r->superseded_by) : NULL);
	json_object_object_add(j, "wait_reason",
			       json_object_new_string(r->wait_reason));
	json_object_object_add(j, "wait_round", r->wait_round
			       ? json_object_new_int64(r->wait_round) : NULL);
	return j;
}

static json_object *audit_json(const store_audit_row *a)
{
	json_object *j = json_object_new_object();

	json_object_object_add(j, "id", json_object_new_int64(a->id));
	json_object_object_add(j, "ts_ms", json_object_new_int64(a->ts_ms));
	json_object_object_add(j, "actor", json_object_new_string(a->actor));
	json_object_object_add(j, "event", json_object_new_string(a->event));
	json_object_object_add(j, "detail", json_object_new_string(a->detail));
	return j;
}

/* ---- list --------------------------------------------------------------- */

/* The columns of `recs list` (-o wide: all of them). */
enum { C_ID, C_ROUND, C_STATE, C_ACTION, C_VM, C_FROM, C_TO, C_MIB,
       C_PRICE, C_AGE, C_LAST, C_DEMAND, C_WANT, C_PRESSURE, C_COST,
       C_BUDGET, C_WHY, N_COLS };

static const struct cli_col list_cols[N_COLS] = {
	[C_ID] = { "ID", CLI_COL_RIGHT },
	[C_ROUND] = { "ROUND", CLI_COL_RIGHT },
	[C_STATE] = { "STATE", 0 },
	[C_ACTION] = { "ACTION", 0 },
	[C_VM] = { "VM", 0 },
	[C_FROM] = { "FROM", 0 },
	[C_TO] = { "TO", 0 },
	[C_MIB] = { "SIZE", CLI_COL_RIGHT },
	[C_PRICE] = { "PRICE", CLI_COL_RIGHT },
	[C_AGE] = { "AGE", CLI_COL_RIGHT },
	[C_LAST] = { "LAST-ROUND", CLI_COL_RIGHT | CLI_COL_WIDE },
	[C_DEMAND] = { "DEMAND", CLI_COL_RIGHT | CLI_COL_WIDE },
	[C_WANT] = { "WANT", CLI_COL_RIGHT | CLI_COL_WIDE },
	[C_PRESSURE] = { "PRESSURE", CLI_COL_RIGHT | CLI_COL_WIDE },
	[C_COST] = { "COST", CLI_COL_RIGHT | CLI_COL_WIDE },
	[C_BUDGET] = { "BUDGET", CLI_COL_RIGHT | CLI_COL_WIDE },
	[C_WHY] = { "WHY", CLI_COL_TRUNC | CLI_COL_WIDE },
};

struct list_out {
	json_object *arr;
	cli_table *t;
	size_t n;
	size_t limit; /* rows shown; one more is read to know there are more */
	int more, oom;
	int mib;      /* --mib */
};

/* The SIZE cell: "4.0 GiB -> 3.5 GiB", or "4096->3600" with --mib. */
static void rec_size_cell(const store_rec *r, int exact, cli_table *t)
{
	char from[32], to[32];

	cli_fmt_mib(from, sizeof(from), r->from_mib, exact);
	cli_fmt_mib(to, sizeof(to), r->to_mib, exact);
	cli_table_set(t, C_MIB, exact ? "%s->%s" : "%s -> %s", from, to);
}

/* The columns -o wide adds: the economics behind it. */
static void rec_wide_cells(const store_rec *r, int exact, cli_table *t)
{
	char demand[32], want[32];

	cli_fmt_mib(demand, sizeof(demand), r->demand_mib, exact);
	cli_fmt_mib(want, sizeof(want), r->want_mib, exact);
	cli_table_set(t, C_LAST, "%lld", (long long)r->last_round);
	cli_table_set(t, C_DEMAND, "%s", demand);
	cli_table_set(t, C_WANT, "%s", want);
	cli_table_set(t, C_PRESSURE, "%.1f -> %.1f", r->pressure_before,
		      r->pressure_after);
	if (r->kind == STORE_REC_MIGRATE)
		cli_table_set(t, C_COST, "%.1f / %.1f", r->cost_here,
			      r->cost_there);
	else
		cli_table_set(t, C_COST, "%.1f", r->cost_here);
	cli_table_set(t, C_BUDGET, "%.2f", r->budget);
	cli_table_set(t, C_WHY, "%s", r->why);
}

static void rec_cells_fill(const store_rec *r, int exact, cli_table *t)
{
	char age[32];

	cli_table_set(t, C_ID, "%lld", (long long)r->id);
	cli_table_set(t, C_ROUND, "%lld", (long long)r->round);
	cli_table_set(t, C_STATE, "%s", store_rec_state_name(r->state));
	cli_table_set(t, C_ACTION, "%s", rec_action(r));
	cli_table_set(t, C_VM, "%s", r->vm_name);
	cli_table_set(t, C_FROM, "%s", r->from_host);
	cli_table_set(t, C_TO, "%s",
		      r->kind == STORE_REC_MIGRATE ? r->to_host : "-");
	rec_size_cell(r, exact, t);
	if (r->kind == STORE_REC_MIGRATE)
		cli_table_set(t, C_PRICE, "%.2f / %.2f", r->price_here,
			      r->price_there);
	else
		cli_table_set(t, C_PRICE, "%.2f", r->price_here);
	cli_fmt_age(age, sizeof(age), r->created_ms);
	cli_table_set(t, C_AGE, "%s", age);
	rec_wide_cells(r, exact, t);
}

static int list_row(const store_rec *r, void *ctx)
{
	struct list_out *o = ctx;

	if (o->limit && o->n == o->limit) {
		o->more = 1; /* the one row read past the limit */
		return 0;
	}
	o->n++;
	if (o->arr) {
		json_object_array_add(o->arr, rec_json(r));
		return 0;
	}
	if (cli_table_row(o->t) != 0) {
		o->oom = 1;
		return 1;
	}
	rec_cells_fill(r, o->mib, o->t);
	return 0;
}

static int recs_list(store *s, const struct recs_args *a);

/* recs list --watch: one frame. */
static int list_draw(store *s, void *ctx)
{
	return recs_list(s, ctx);
}

/* "no pending migrate recommendations for vm-1 on h2" */
static void list_none(const struct recs_args *a)
{
	printf("no %s%s%s%srecommendations%s%s%s%s\n",
	       a->state ? store_rec_state_name(a->state) : "",
	       a->state ? " " : "",
	       a->kind ? store_rec_kind_name(a->kind) : "", a->kind ? " " : "",
	       a->vm ? " for " : "", a->vm ? a->vm : "",
	       a->host ? " on " : "", a->host ? a->host : "");
}

static int recs_list(store *s, const struct recs_args *a)
{
	struct list_out o = { .limit = (size_t)a->limit, .mib = a->mib };
	store_rec_filter flt = { .state = a->state, .kind = a->kind,
				 .vm = a->vm, .host = a->host };
	char err[512];
	int rc = CLI_OK;

	flt.limit = o.limit ? o.limit + 1 : 0;
	if (a->out == CLI_OUT_JSON)
		o.arr = json_object_new_array();
	else if (!(o.t = cli_table_new(list_cols, N_COLS, a->out,
				       a->no_headers)))
		o.oom = 1;
	if (o.oom || store_recs_find(s, &flt, list_row, &o, err,
				     sizeof(err)) != 0) {
		fprintf(stderr, "bourse recs list: %s\n",
			o.oom ? "out of memory" : err);
		rc = CLI_FAIL;
	} else if (o.arr) {
		rc = cli_json_print(o.arr);
		o.arr = NULL;
	} else if (o.n == 0) {
		list_none(a);
	} else if (cli_table_print(o.t, stdout) != 0) {
		fprintf(stderr, "bourse recs list: cannot print the table\n");
		rc = CLI_FAIL;
	}
	if (rc == CLI_OK && o.more) {
		fflush(stdout); /* the note after the table, also when piped */
		fprintf(stderr, "(the newest %zu shown; --limit 0 for all)\n",
			o.n);
	}
	json_object_put(o.arr);
	cli_table_free(o.t);
	return rc;
}

/* ---- show --------------------------------------------------------------- */

/* What a budget is (docs/market.md, "Buyers"): a relative bid, not
 * credits, so it is never compared with a cost. */
static void explain_budget(const store_rec *r)
{
	printf("  Its budget is %.2f (1 is a normal-weight VM under no "
	       "pressure; a host\n  short of memory serves the highest "
	       "budgets per MiB first).\n", r->budget);
}

/* The economics of a migration, in the market's terms (docs/market.md):
 * cost_here = want * price here; cost_there = want * price there + the
 * cost of moving the memory it holds. */
static void explain_migrate(const store_rec *r)
{
	double buy_there = r->price_there * (double)r->to_mib;
	double move = r->cost_there - buy_there;
	double save = r->cost_here > 0 ? (1 - r->cost_there / r->cost_here) : 0;

	if (move < 0)
		move = 0;
	printf("  %s asks %.2f credits/MiB; %s asks %.2f credits/MiB (with %s "
	       "there).\n", r->from_host, r->price_here, r->to_host,
	       r->price_there, r->vm_name);
	printf("  Its want of %lld MiB costs %.1f credits at %s; at %s it costs "
	       "%.1f,\n", (long long)r->to_mib, r->cost_here, r->from_host,
	       r->to_host, buy_there);
	printf("  plus %.1f for moving the %lld MiB it holds: %.1f credits in "
	       "all.\n", move, (long long)r->from_mib, r->cost_there);
	printf("  Moving saves %.0f%% (%.1f credits).\n", save * 100,
	       r->cost_here - r->cost_there);
	explain_budget(r);
}

static void explain_resize(const store_rec *r)
{
	int64_t delta = r->to_mib - r->from_mib;

	printf("  %s asks %.2f credits/MiB. %s wants %lld MiB (demand %lld MiB "
	       "plus its buffer,\n  and headroom if its demand has been "
	       "rising), which costs %.1f credits there.\n",
	       r->from_host, r->price_here, r->vm_name, (long long)r->want_mib,
	       (long long)r->demand_mib, r->cost_here);
	explain_budget(r);
	printf("  The market's award is %lld MiB: %s by %lld MiB from %lld "
	       "MiB.\n", (long long)r->to_mib, delta < 0 ? "shrink" : "grow",
	       (long long)(delta < 0 ? -delta : delta), (long long)r->from_mib);
}

static int audit_print(const store_audit_row *a, void *ctx)
{
	char when[64], detail[sizeof(a->detail) * 4];

	(*(int *)ctx)++;
	cli_fmt_time(when, sizeof(when), a->ts_ms);
	if (a->detail[0]) /* an agent's words may hold control bytes */
		printf("  %s  %-12s %-16s %s\n", when, a->actor, a->event,
		       util_escape(detail, sizeof(detail), a->detail));
	else
		printf("  %s  %-12s %s\n", when, a->actor, a->event);
	return 0;
}

static void show_text(const store_rec *r, const store_control *ctl)
{
	char when[64], reason[sizeof(r->state_reason) * 4];

	cli_fmt_time(when, sizeof(when), r->created_ms);
	if (r->kind == STORE_REC_MIGRATE)
		printf("recommendation %lld: migrate %s from %s to %s, %lld -> "
		       "%lld MiB\n", (long long)r->id, r->vm_name, r->from_host,
		       r->to_host, (long long)r->from_mib, (long long)r->to_mib);
	else
		printf("recommendation %lld: %s %s on %s, %lld -> %lld MiB\n",
		       (long long)r->id, rec_action(r), r->vm_name,
		       r->from_host, (long long)r->from_mib,
		       (long long)r->to_mib);
	printf("made       round %lld, %s", (long long)r->round, when);
	if (r->last_round != r->round)
		printf("; recommended again up to round %lld",
		       (long long)r->last_round);
	printf("\nstate      %s", store_rec_state_name(r->state));
	if (r->state_reason[0])
		printf(" (%s)", util_escape(reason, sizeof(reason),
					   r->state_reason));
	if (r->state == STORE_REC_APPROVED && ctl->paused)
		printf("\nwaiting    dispatching is paused%s%s ('bourse resume')",
		       ctl->pause_reason[0] ? ": " : "", ctl->pause_reason);
	else if (r->state == STORE_REC_APPROVED && r->wait_reason[0])
		printf("\nwaiting    %s (the broker, round %lld)", r->wait_reason,
		       (long long)r->wait_round);
	else if (r->state == STORE_REC_APPROVED)
		printf("\nwaiting    for the broker's next round (it has not "
		       "looked at it yet)");
	printf("\nwhy        %s\n\neconomics\n", r->why);
	if (r->kind == STORE_REC_MIGRATE)
		explain_migrate(r);
	else
		explain_resize(r);
	printf("\ndemand     %lld MiB; wants %lld MiB (demand plus buffer and "
	       "headroom)\n",
	       (long long)r->demand_mib, (long long)r->want_mib);
	printf("pressure   %.1f now -> %.1f after (the market's forecast; "
	       "100: memory just covers demand)\n", r->pressure_before,
	       r->pressure_after);
	printf("\naudit\n");
}

static int audit_collect(const store_audit_row *a, void *ctx)
{
	json_object_array_add(ctx, audit_json(a));
	return 0;
}

static int recs_show(store *s, const struct recs_args *a, int64_t id)
{
	store_rec r;
	char err[512];
	json_object *root = NULL, *trail = NULL;
	int rc;

	if (store_rec_get(s, id, &r, err, sizeof(err)) != 0) {
		fprintf(stderr, "bourse recs show: %s\n", err);
		return CLI_FAIL;
	}
	if (a->out == CLI_OUT_JSON) {
		root = rec_json(&r);
		trail = json_object_new_array();
		json_object_object_add(root, "audit", trail);
		rc = store_audit_list(s, id, audit_collect, trail, err,
				      sizeof(err));
	} else {
		store_control ctl;
		int n = 0;

		if (store_control_get(s, &ctl, err, sizeof(err)) != 0) {
			fprintf(stderr, "bourse recs show: %s\n", err);
			return CLI_FAIL;
		}
		show_text(&r, &ctl);
		rc = store_audit_list(s, id, audit_print, &n, err, sizeof(err));
		if (rc == 0 && n == 0)
			printf("  none yet\n");
	}
	if (rc != 0) {
		fprintf(stderr, "bourse recs show: %s\n", err);
		json_object_put(root);
		return CLI_FAIL;
	}
	return root ? cli_json_print(root) : CLI_OK;
}

/* ---- approve / reject ---------------------------------------------------- */

/* The file failed (locked, full): the store refuses the rest at once, and
 * the operator tries them all again, so say which were not tried. */
static void not_tried(const struct recs_args *a, const int64_t *ids, int from)
{
	if (from >= a->n_ids)
		return;
	fprintf(stderr, "bourse recs %s: not tried:", a->sub);
	for (int i = from; i < a->n_ids; i++)
		fprintf(stderr, " %lld", (long long)ids[i]);
	fprintf(stderr, "\n");
}

/* "approved", "rejected", "cancelled". */
static const char *done_word(const struct recs_args *a, store_rec_state to)
{
	return strcmp(a->sub, "cancel") == 0 ? "cancelled"
					     : store_rec_state_name(to);
}

static int decide(store *s, const struct recs_args *a, const int64_t *ids,
		  store_rec_state to)
{
	char actor[STORE_NAME_MAX], err[512];
	int failed = 0;

	cli_actor_name(actor, sizeof(actor));
	for (int i = 0; i < a->n_ids; i++) {
		int rc = to == STORE_REC_REJECTED && !strcmp(a->sub, "cancel")
			 ? store_rec_cancel(s, ids[i], actor, a->reason,
					    util_wall_ms(), err, sizeof(err))
			 : store_rec_transition(s, ids[i], to, actor, a->reason,
						util_wall_ms(), err,
						sizeof(err));

		if (rc != 0) {
			failed = 1;
			if (store_last_fault(s) == STORE_FAULT_NONE) {
				fprintf(stderr, "bourse recs %s: %s\n", a->sub,
					err);
				continue;
			}
			/* each is its own transaction: this one left
			 * nothing behind */
			fprintf(stderr, "bourse recs %s: recommendation %lld "
				"not %s: %s\n",
				a->sub, (long long)ids[i], done_word(a, to), err);
			not_tried(a, ids, i + 1);
			break;
		}
		printf("%s %lld\n", done_word(a, to), (long long)ids[i]);
		fflush(stdout);
	}
	return failed ? CLI_FAIL : CLI_OK;
}

/* ---- parsing and dispatch ----------------------------------------------- */

enum { O_DB = 256, O_JSON, O_STATE, O_LIMIT, O_REASON, O_MIB, O_WATCH,
       O_NO_HEADERS, O_HOST, O_VM, O_KIND };

static const struct option list_opts[] = {
	{ "db", required_argument, NULL, O_DB },
	{ "output", required_argument, NULL, 'o' },
	{ "no-headers", no_argument, NULL, O_NO_HEADERS },
	{ "host", required_argument, NULL, O_HOST },
	{ "vm", required_argument, NULL, O_VM },
	{ "kind", required_argument, NULL, O_KIND },
	{ "mib", no_argument, NULL, O_MIB },
	{ "watch", no_argument, NULL, O_WATCH },
	{ "json", no_argument, NULL, O_JSON },
	{ "state", required_argument, NULL, O_STATE },
	{ "limit", required_argument, NULL, O_LIMIT },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const struct option show_opts[] = {
	{ "db", required_argument, NULL, O_DB },
	{ "json", no_argument, NULL, O_JSON },
	{ "output", required_argument, NULL, 'o' },
	{ "no-headers", no_argument, NULL, O_NO_HEADERS }, /* no table */
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const struct option stats_opts[] = {
	{ "db", required_argument, NULL, O_DB },
	{ "json", no_argument, NULL, O_JSON },
	{ "output", required_argument, NULL, 'o' },
	{ "no-headers", no_argument, NULL, O_NO_HEADERS },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const struct option approve_opts[] = {
	{ "db", required_argument, NULL, O_DB },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const struct option reject_opts[] = {
	{ "db", required_argument, NULL, O_DB },
	{ "reason", required_argument, NULL, O_REASON },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

struct recs_cmd {
	const char *name;
	const char *usage;
	const struct option *opts;
	int min_ids, max_ids; /* positional IDs accepted */
	int writes;           /* opens the database read-write */
};

static const char stats_usage[] =
	"usage: bourse recs stats [-o table|wide|json] [--no-headers] [--db PATH]\n"
	"\n"
	"How often the market's recommendations were right, per kind: each is\n"
	"scored on what its VM demanded in the rounds after it was last made,\n"
	"whether or not it was carried out. Right: the recommended size would\n"
	"have held the peak demand and, for a growth, the old size would not\n"
	"have. ERROR is the mean distance between the pressure the market\n"
	"predicted and the one observed (docs/storage.md, shadow scoring).\n"
	"\n"
	"-o wide adds how many of those carried out were right.\n"
	"\n" CLI_OUTPUT_HELP DB_HELP;

static const struct recs_cmd recs_cmds[] = {
	{ "list", list_usage, list_opts, 0, 0, 0 },
	{ "show", show_usage, show_opts, 1, 1, 0 },
	{ "approve", approve_usage, approve_opts, 1, 1 << 20, 1 },
	{ "reject", reject_usage, reject_opts, 1, 1 << 20, 1 },
	{ "cancel", cancel_usage, reject_opts, 1, 1 << 20, 1 },
	{ "stats", stats_usage, stats_opts, 0, 0, 0 },
};

#define N_RECS_CMDS (sizeof(recs_cmds) / sizeof(recs_cmds[0]))

static int bad(const struct recs_args *a, const char *flag, const char *why)
{
	fprintf(stderr, "bourse recs %s: %s: %s\n", a->sub, flag, why);
	return CLI_USAGE;
}

/* A name filter: not empty. */
static int name_arg(const struct recs_args *a, const char *flag,
		    const char *arg, const char **out)
{
	if (!*arg)
		return bad(a, flag, "empty name");
	*out = arg;
	return CLI_OK;
}

static int apply_option(struct recs_args *a, int opt, const char *arg)
{
	char err[256];

	switch (opt) {
	case O_DB: a->db = arg; return CLI_OK;
	case O_JSON: a->out = CLI_OUT_JSON; return CLI_OK;
	case 'o': return cli_output_opt(a->full, arg, &a->out);
	case O_NO_HEADERS: a->no_headers = 1; return CLI_OK;
	case O_HOST: return name_arg(a, "--host", arg, &a->host);
	case O_VM: return name_arg(a, "--vm", arg, &a->vm);
	case O_KIND:
		if (strcmp(arg, "resize") == 0)
			a->kind = STORE_REC_RESIZE;
		else if (strcmp(arg, "migrate") == 0)
			a->kind = STORE_REC_MIGRATE;
		else
			return bad(a, "--kind", "it is 'resize' or 'migrate'");
		return CLI_OK;
	case O_MIB: a->mib = 1; return CLI_OK;
	case O_WATCH: a->watch = 1; return CLI_OK;
	case O_REASON: a->reason = arg; return CLI_OK;
	case O_STATE:
		if (store_rec_state_parse(arg, &a->state) != 0) {
			fprintf(stderr, "bourse recs %s: --state: '%s' is not a "
				"state (pending, approved, rejected, expired, "
				"superseded, dispatched, succeeded, failed)\n",
				a->sub, arg);
			return CLI_USAGE;
		}
		return CLI_OK;
	case O_LIMIT:
		if (cli_parse_i64(arg, 0, 1000000000, &a->limit, err,
				  sizeof(err)) != 0)
			return bad(a, "--limit", err);
		return CLI_OK;
	default:
		fprintf(stderr, "see 'bourse recs %s --help'\n", a->sub);
		return CLI_USAGE;
	}
}

/* Does the command take -o? */
static int takes_output(const struct recs_cmd *c)
{
	for (const struct option *o = c->opts; o->name; o++)
		if (strcmp(o->name, "output") == 0)
			return 1;
	return 0;
}

/* Options and IDs of one command; argv[0] is the command's name. */
static int parse_sub(const struct recs_cmd *c, struct recs_args *a, int argc,
		     char **argv, int *done)
{
	int opt, rc;

	optind = 0;
	opterr = 1;
	while ((opt = getopt_long(argc, argv, takes_output(c) ? "ho:" : "h",
				  c->opts, NULL)) != -1) {
		if (opt == 'h') {
			fputs(c->usage, stdout);
			*done = 1;
			return CLI_OK;
		}
		if ((rc = apply_option(a, opt, optarg)) != CLI_OK)
			return rc;
	}
	a->ids = argv + optind;
	a->n_ids = argc - optind;
	if (a->n_ids > c->max_ids) {
		fprintf(stderr, "bourse recs %s: unexpected argument '%s'\n",
			a->sub, argv[optind + c->max_ids]);
		return CLI_USAGE;
	}
	if (a->n_ids < c->min_ids)
		return bad(a, "ID", "a recommendation id is required");
	if (a->db && !*a->db)
		return bad(a, "--db", "empty path");
	return CLI_OK;
}

/* Every ID is checked before any is acted on. */
static int parse_ids(const struct recs_args *a, int64_t *ids)
{
	char err[256];

	for (int i = 0; i < a->n_ids; i++)
		if (cli_parse_i64(a->ids[i], 1, INT64_MAX, &ids[i], err,
				  sizeof(err)) != 0)
			return bad(a, "ID", err);
	return CLI_OK;
}

static int run(const struct recs_cmd *c, struct recs_args *a, const int64_t *ids)
{
	store *s = NULL;
	char err[512];
	int rc;

	if (!a->db && cli_review_db("recs", &a->db) != CLI_OK)
		return CLI_USAGE;
	if (store_open(a->db, c->writes ? 0 : STORE_READONLY, &s, err,
		       sizeof(err)) != 0) {
		fprintf(stderr, "bourse recs %s: %s\n", a->sub, err);
		return CLI_FAIL;
	}
	if (strcmp(c->name, "list") == 0 && a->watch)
		rc = cli_watch(s, list_draw, a, a->out == CLI_OUT_JSON,
			       "recs list");
	else if (strcmp(c->name, "list") == 0)
		rc = recs_list(s, a);
	else if (strcmp(c->name, "show") == 0)
		rc = recs_show(s, a, ids[0]);
	else if (strcmp(c->name, "stats") == 0)
		rc = cli_recs_stats(s, a->out, a->no_headers);
	else
		rc = decide(s, a, ids, strcmp(c->name, "approve") == 0
					       ? STORE_REC_APPROVED
					       : STORE_REC_REJECTED); /* reject,
								  * cancel */
	store_close(s);
	return rc;
}

static int run_sub(const struct recs_cmd *c, struct recs_args *a, int argc,
		   char **argv)
{
	int64_t *ids = NULL;
	int done = 0;
	int rc = parse_sub(c, a, argc, argv, &done);

	if (rc != CLI_OK || done)
		return rc;
	ids = calloc((size_t)a->n_ids + 1, sizeof(*ids));
	if (!ids) {
		fprintf(stderr, "bourse recs %s: out of memory\n", a->sub);
		return CLI_FAIL;
	}
	rc = parse_ids(a, ids);
	if (rc == CLI_OK)
		rc = run(c, a, ids);
	free(ids);
	return rc;
}

/* Not a recs command: say so, with the nearest one if one is close. */
static int unknown_sub(const char *word)
{
	const char *names[N_RECS_CMDS], *near;

	for (size_t i = 0; i < N_RECS_CMDS; i++)
		names[i] = recs_cmds[i].name;
	near = cli_suggest(word, names, N_RECS_CMDS);
	fprintf(stderr, "bourse recs: '%s' is not a recs command (list, show, "
		"approve, reject, cancel, stats)", word);
	if (near)
		fprintf(stderr, "; did you mean '%s'?", near);
	fprintf(stderr, " (see 'bourse recs --help')\n");
	return CLI_USAGE;
}

static const struct option top_opts[] = {
	{ "db", required_argument, NULL, O_DB },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

int cmd_recs(int argc, char **argv)
{
	struct recs_args a = { .sub = "", .limit = DEFAULT_LIMIT };
	int opt;

	a.db = NULL; /* after the flags: cli_review_db() */
	optind = 0;
	opterr = 1;
	/* "+": stop at the command name; its own options follow it */
	while ((opt = getopt_long(argc, argv, "+h", top_opts, NULL)) != -1) {
		if (opt == 'h') {
			fputs(recs_usage, stdout);
			return CLI_OK;
		}
		if (opt != O_DB) {
			fprintf(stderr, "see 'bourse recs --help'\n");
			return CLI_USAGE;
		}
		a.db = optarg;
	}
	if (optind >= argc) {
		fputs(recs_usage, stderr);
		return CLI_USAGE;
	}
	for (size_t i = 0; i < N_RECS_CMDS; i++) {
		if (strcmp(argv[optind], recs_cmds[i].name) == 0) {
			static char prog[48]; /* what getopt's messages name */

			a.sub = recs_cmds[i].name;
			snprintf(a.full, sizeof(a.full), "recs %s", a.sub);
			snprintf(prog, sizeof(prog), "bourse recs %s", a.sub);
			argv[optind] = prog;
			return run_sub(&recs_cmds[i], &a, argc - optind,
				       argv + optind);
		}
	}
	return unknown_sub(argv[optind]);
}
