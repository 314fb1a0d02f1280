/*
 * cmd_status.c - the operator's status views, read from the database
 * (docs/operations.md, "Status views"), whether or not the broker runs:
 *
 *   bourse status   the broker (running or not, since when), the last
 *                   round and its age, the mode per kind, the kill switch,
 *                   the backlog of approved actions, the current signals,
 *                   hosts with bad data;
 *   bourse events   the cluster-wide audit log, filtered;
 *   bourse signals  provision and suspend signals, round by round.
 */
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "store.h"
#include "util.h"
#include "banned.h"

#define COMMON_HELP                                                          \
	"  --watch       draw again whenever the database changes (Ctrl-C ends)\n"\
	CLI_OUTPUT_HELP                                                      \
	"  --db PATH     the database (default: $BOURSE_DB, then bourse.conf)\n" \
	"  -h, --help    this help\n"

static const char status_usage[] =
	"usage: bourse status [--watch] [-o table|json] [--db PATH]\n"
	"\n"
	"Is the broker running, and since when (a broker that stopped says so;\n"
	"one not heard for 3 rounds, at least 5 s, was killed or hung); the\n"
	"last round and its age; the mode of each kind of action; whether\n"
	"dispatching is paused; the backlog (approved and dispatched actions,\n"
	"pending recommendations); the last round's signals; hosts with bad\n"
	"data. It is text, not a table: -o wide and --no-headers change\n"
	"nothing.\n"
	"\n" COMMON_HELP;

static const char events_usage[] =
	"usage: bourse events [--since AGE] [--event NAME] [--host NAME]\n"
	"                     [--vm NAME] [--limit N] [--watch]\n"
	"                     [-o table|wide|json] [--no-headers] [--db PATH]\n"
	"\n"
	"The cluster's audit log, oldest first: the broker started and\n"
	"stopped, hosts lost and back, bad data, mode changes, pauses,\n"
	"recommendations decided, dispatched and carried out. ABOUT is the\n"
	"recommendation, VM and host(s) an entry is about; -o wide adds each\n"
	"entry's id.\n"
	"\n"
	"  --since AGE   only the last AGE: 30s, 15m, 2h, 7d\n"
	"  --event NAME  only these: a family (host, rec, mode, dispatch,\n"
	"                broker, action) or a whole name (rec.approved);\n"
	"                --kind NAME is the same\n"
	"  --host NAME   only about this host (either end of a migration)\n"
	"  --vm NAME     only about this VM\n"
	"  --limit N     the newest N (default 50; 0: all)\n" COMMON_HELP;

static const char signals_usage[] =
	"usage: bourse signals [--kind K] [--round N] [--limit N] [--mib]\n"
	"                      [--watch] [-o table|wide|json] [--no-headers]\n"
	"                      [--db PATH]\n"
	"\n"
	"The market's signals, oldest first: provision (the cluster cannot\n"
	"clear: add about SIZE of memory) and suspend (this host could be\n"
	"emptied). -o wide adds how long ago each round started.\n"
	"\n"
	"  --kind K      only provision or only suspend\n"
	"  --round N     only this round's\n"
	"  --limit N     the newest N (default 50; 0: all)\n"
	"  --mib         memory as exact MiB\n" COMMON_HELP;

#define DEFAULT_LIMIT 50 /* events and signals shown unless --limit */

struct st_args {
	const char *cmd; /* "status", ... for messages */
	const char *db;
	enum cli_output out; /* -o, --json */
	int json;            /* out == CLI_OUT_JSON */
	int no_headers, watch, mib;
	store_event_filter ev; /* events */
	int kind;              /* signals: 0 both */
	int64_t round;         /* signals: 0 every round */
	int64_t limit;
};

enum { O_DB = 256, O_JSON, O_WATCH, O_MIB, O_SINCE, O_EVENT, O_HOST, O_VM,
       O_LIMIT, O_KIND, O_ROUND, O_NO_HEADERS };

static const struct option status_opts[] = {
	{ "db", required_argument, NULL, O_DB },
	{ "json", no_argument, NULL, O_JSON },
	{ "output", required_argument, NULL, 'o' },
	{ "no-headers", no_argument, NULL, O_NO_HEADERS },
	{ "watch", no_argument, NULL, O_WATCH },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const struct option events_opts[] = {
	{ "db", required_argument, NULL, O_DB },
	{ "json", no_argument, NULL, O_JSON },
	{ "output", required_argument, NULL, 'o' },
	{ "no-headers", no_argument, NULL, O_NO_HEADERS },
	{ "watch", no_argument, NULL, O_WATCH },
	{ "since", required_argument, NULL, O_SINCE },
	{ "event", required_argument, NULL, O_EVENT },
	{ "kind", required_argument, NULL, O_EVENT }, /* the same */
	{ "host", required_argument, NULL, O_HOST },
	{ "vm", required_argument, NULL, O_VM },
	{ "limit", required_argument, NULL, O_LIMIT },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const struct option signals_opts[] = {
	{ "db", required_argument, NULL, O_DB },
	{ "json", no_argument, NULL, O_JSON },
	{ "output", required_argument, NULL, 'o' },
	{ "no-headers", no_argument, NULL, O_NO_HEADERS },
	{ "watch", no_argument, NULL, O_WATCH },
	{ "mib", no_argument, NULL, O_MIB },
	{ "kind", required_argument, NULL, O_KIND },
	{ "round", required_argument, NULL, O_ROUND },
	{ "limit", required_argument, NULL, O_LIMIT },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* ---- parsing ------------------------------------------------------------ */

static int bad(const struct st_args *a, const char *flag, const char *why)
{
	fprintf(stderr, "bourse %s: %s: %s\n", a->cmd, flag, why);
	return CLI_USAGE;
}

/* "30s", "15m", "2h", "7d": how long, in ms. Returns 0, or -1. */
static int parse_age(const char *s, int64_t *ms)
{
	static const struct { char unit; int64_t ms; } units[] = {
		{ 's', 1000 }, { 'm', 60000 }, { 'h', 3600000 },
		{ 'd', 86400000 },
	};
	char num[32], err[128];
	size_t n = strlen(s);
	int64_t v;

	if (n < 2 || n >= sizeof(num))
		return -1;
	memcpy(num, s, n - 1);
	num[n - 1] = '\0';
	if (cli_parse_i64(num, 0, 100L * 365 * 86400, &v, err, sizeof(err)))
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (s[n - 1] == units[i].unit) {
			*ms = v * units[i].ms;
			return 0;
		}
	return -1;
}

/* A name filter: not empty. */
static int name_arg(const struct st_args *a, const char *flag,
		    const char *arg, const char **out)
{
	if (!*arg)
		return bad(a, flag, "empty name");
	*out = arg;
	return CLI_OK;
}

static int apply_option(struct st_args *a, int opt, const char *arg)
{
	char err[256];
	int64_t v;

	switch (opt) {
	case O_DB: a->db = arg; return CLI_OK;
	case O_JSON: a->out = CLI_OUT_JSON; return CLI_OK;
	case 'o': return cli_output_opt(a->cmd, arg, &a->out);
	case O_NO_HEADERS: a->no_headers = 1; return CLI_OK;
	case O_WATCH: a->watch = 1; return CLI_OK;
	case O_MIB: a->mib = 1; return CLI_OK;
	case O_SINCE:
		if (parse_age(arg, &v) != 0) {
			snprintf(err, sizeof(err), "'%s' is not an age such as "
				 "30s, 15m, 2h or 7d", arg);
			return bad(a, "--since", err);
		}
		a->ev.since_ms = util_wall_ms() - v;
		return CLI_OK;
	case O_EVENT: return name_arg(a, "--event", arg, &a->ev.event);
	case O_HOST: return name_arg(a, "--host", arg, &a->ev.host);
	case O_VM: return name_arg(a, "--vm", arg, &a->ev.vm);
	case O_LIMIT:
		if (cli_parse_i64(arg, 0, INT32_MAX, &a->limit, err,
				  sizeof(err)))
			return bad(a, "--limit", err);
		return CLI_OK;
	case O_ROUND:
		if (cli_parse_i64(arg, 1, INT64_MAX, &a->round, err,
				  sizeof(err)))
			return bad(a, "--round", err);
		return CLI_OK;
	case O_KIND:
		if (strcmp(arg, "provision") == 0)
			a->kind = 1;
		else if (strcmp(arg, "suspend") == 0)
			a->kind = 2;
		else
			return bad(a, "--kind", "it is 'provision' or "
				   "'suspend'");
		return CLI_OK;
	}
	fprintf(stderr, "see 'bourse %s --help'\n", a->cmd);
	return CLI_USAGE;
}

/* Parse, then open the database read-only. Returns CLI_OK with *s set,
 * CLI_OK with *s NULL (help printed), or an exit status. */
static int start(struct st_args *a, const char *usage,
		 const struct option *opts, int argc, char **argv, store **s)
{
	char err[512];
	int opt, rc;

	*s = NULL;
	a->db = NULL; /* after the flags: cli_review_db() */
	a->limit = DEFAULT_LIMIT;
	optind = 0;
	opterr = 1;
	while ((opt = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
		if (opt == 'h') {
			fputs(usage, stdout);
			return CLI_OK;
		}
		if ((rc = apply_option(a, opt, optarg)) != CLI_OK)
			return rc;
	}
	if (optind < argc) {
		fprintf(stderr, "bourse %s: unexpected argument '%s'\n", a->cmd,
			argv[optind]);
		return CLI_USAGE;
	}
	if (a->db && !*a->db)
		return bad(a, "--db", "empty path");
	a->json = a->out == CLI_OUT_JSON;
	a->ev.limit = (size_t)a->limit;
	if (!a->db && cli_review_db(a->cmd, &a->db) != CLI_OK)
		return CLI_USAGE;
	if (store_open(a->db, STORE_READONLY, s, err, sizeof(err)) != 0) {
		fprintf(stderr, "bourse %s: %s\n", a->cmd, err);
		return CLI_FAIL;
	}
	return CLI_OK;
}

static int run(struct st_args *a, store *s, int (*draw)(store *, void *))
{
	int rc = a->watch ? cli_watch(s, draw, a, a->json, a->cmd)
			  : draw(s, a);

	store_close(s);
	return rc;
}

static json_object *ms_or_null(int64_t ms)
{
	return ms > 0 ? json_object_new_int64(ms) : NULL;
}

/* "2026-11-23 17:05:48 UTC (5m ago)" */
static void when_ago(char *buf, size_t size, int64_t ms)
{
	char t[48], age[24];

	cli_fmt_time(t, sizeof(t), ms);
	cli_fmt_age(age, sizeof(age), ms);
	snprintf(buf, size, "%s (%s ago)", t, age);
}

/* ---- status ------------------------------------------------------------- */

/* Everything `bourse status` shows, read in one go. */
struct status {
	struct cli_broker bk;
	store_round_info round;
	store_control ctl;
	int64_t recs[STORE_REC_FAILED + 1];
	json_object *signals; /* the last round's, as JSON */
	json_object *bad;     /* hosts with bad data, as JSON */
	json_object *drain;   /* draining hosts, as JSON */
	int mib;
};

static int signal_json(const store_signal_view *v, void *ctx)
{
	json_object *j = json_object_new_object();

	json_object_object_add(j, "round", json_object_new_int64(v->round));
	json_object_object_add(j, "started_ms",
			       json_object_new_int64(v->started_ms));
	json_object_object_add(j, "kind", json_object_new_string(
			       v->kind == 1 ? "provision" : "suspend"));
	json_object_object_add(j, "host", v->host_name[0]
			       ? json_object_new_string(v->host_name) : NULL);
	json_object_object_add(j, "mib", json_object_new_int64(v->mib));
	json_object_array_add(ctx, j);
	return 0;
}

static int bad_json(const store_host_flag *f, void *ctx)
{
	json_object *j;

	if (!f->bad_data)
		return 0;
	j = json_object_new_object();
	json_object_object_add(j, "host", json_object_new_string(f->host_name));
	json_object_object_add(j, "since_ms", json_object_new_int64(f->since_ms));
	json_object_object_add(j, "detail", json_object_new_string(f->detail));
	json_object_array_add(ctx, j);
	return 0;
}

static int drain_json(const store_host_drain *d, void *ctx)
{
	json_object *j = json_object_new_object();

	json_object_object_add(j, "host", json_object_new_string(d->host_name));
	json_object_object_add(j, "since_ms", json_object_new_int64(d->since_ms));
	json_object_object_add(j, "by", json_object_new_string(d->actor));
	json_object_object_add(j, "reason", json_object_new_string(d->reason));
	json_object_array_add(ctx, j);
	return 0;
}

static int status_read(store *s, struct status *st)
{
	char err[512];

	st->signals = json_object_new_array();
	st->bad = json_object_new_array();
	st->drain = json_object_new_array();
	if (store_host_drains_list(s, drain_json, st->drain, err,
				   sizeof(err)) != 0) {
		fprintf(stderr, "bourse status: %s\n", err);
		return CLI_FAIL;
	}
	if (cli_broker_view(s, &st->bk, err, sizeof(err)) != 0 ||
	    store_round_info_last(s, &st->round, err, sizeof(err)) != 0 ||
	    store_control_get(s, &st->ctl, err, sizeof(err)) != 0 ||
	    store_rec_counts(s, st->recs, err, sizeof(err)) != 0 ||
	    (st->round.round > 0 &&
	     store_signals_list(s, st->round.round, 0, 0, signal_json,
				st->signals, err, sizeof(err)) != 0) ||
	    store_host_flags_list(s, bad_json, st->bad, err, sizeof(err))) {
		fprintf(stderr, "bourse status: %s\n", err);
		return CLI_FAIL;
	}
	return CLI_OK;
}

static json_object *broker_json(const struct cli_broker *bk)
{
	json_object *j = json_object_new_object();

	json_object_object_add(j, "state", json_object_new_string(
			       bk->state == CLI_BROKER_NEVER ? "never"
			       : bk->state == CLI_BROKER_RUNNING ? "running"
			       : bk->state == CLI_BROKER_STOPPED ? "stopped"
			       : "silent"));
	json_object_object_add(j, "started_ms", ms_or_null(bk->st.started_ms));
	json_object_object_add(j, "heartbeat_ms",
			       ms_or_null(bk->st.heartbeat_ms));
	json_object_object_add(j, "stopped_ms", ms_or_null(bk->st.stopped_ms));
	json_object_object_add(j, "down_since_ms",
			       ms_or_null(bk->down_since_ms));
	json_object_object_add(j, "round_ms", bk->st.known
			       ? json_object_new_int64(bk->st.round_ms) : NULL);
	json_object_object_add(j, "pid", bk->st.known
			       ? json_object_new_int64(bk->st.pid) : NULL);
	json_object_object_add(j, "endpoint", bk->st.known
			       ? json_object_new_string(bk->st.endpoint) : NULL);
	return j;
}

static json_object *round_json(const store_round_info *r, int64_t now)
{
	json_object *j;

	if (r->round == 0)
		return NULL;
	j = json_object_new_object();
	json_object_object_add(j, "round", json_object_new_int64(r->round));
	json_object_object_add(j, "started_ms",
			       json_object_new_int64(r->started_ms));
	json_object_object_add(j, "age_ms",
			       json_object_new_int64(now - r->started_ms));
	json_object_object_add(j, "duration_ms",
			       json_object_new_int64(r->duration_ms));
	json_object_object_add(j, "n_hosts", json_object_new_int64(r->n_hosts));
	json_object_object_add(j, "n_vms", json_object_new_int64(r->n_vms));
	json_object_object_add(j, "n_recs", json_object_new_int64(r->n_recs));
	return j;
}

static int status_json(struct status *st)
{
	json_object *root = json_object_new_object();
	json_object *modes = json_object_new_object();
	json_object *backlog = json_object_new_object();

	json_object_object_add(root, "broker", broker_json(&st->bk));
	json_object_object_add(root, "last_round",
			       round_json(&st->round, st->bk.now_ms));
	for (int i = 0; i < STORE_N_ACTS; i++)
		json_object_object_add(modes, store_action_name(i),
				       json_object_new_string(
				       store_mode_name(st->ctl.mode[i])));
	json_object_object_add(root, "modes", modes);
	json_object_object_add(root, "paused",
			       json_object_new_boolean(st->ctl.paused));
	json_object_object_add(root, "pause_reason", st->ctl.paused
			       ? json_object_new_string(st->ctl.pause_reason)
			       : NULL);
	json_object_object_add(backlog, "approved",
			json_object_new_int64(st->recs[STORE_REC_APPROVED]));
	json_object_object_add(backlog, "dispatched",
			json_object_new_int64(st->recs[STORE_REC_DISPATCHED]));
	json_object_object_add(backlog, "pending",
			json_object_new_int64(st->recs[STORE_REC_PENDING]));
	json_object_object_add(root, "backlog", backlog);
	json_object_object_add(root, "signals", st->signals);
	json_object_object_add(root, "bad_data_hosts", st->bad);
	json_object_object_add(root, "draining_hosts", st->drain);
	st->signals = st->bad = st->drain = NULL;
	return cli_json_print(root);
}

static void broker_text(const struct cli_broker *bk)
{
	char since[96], beat[96];

	when_ago(since, sizeof(since), bk->st.started_ms);
	when_ago(beat, sizeof(beat), bk->st.heartbeat_ms);
	switch (bk->state) {
	case CLI_BROKER_NEVER:
		printf("broker     never ran on this database\n");
		return;
	case CLI_BROKER_RUNNING:
		printf("broker     running since %s, pid %lld on %s, a round "
		       "every %lld ms; last heartbeat %s\n", since,
		       (long long)bk->st.pid, bk->st.endpoint,
		       (long long)bk->st.round_ms, beat);
		return;
	case CLI_BROKER_STOPPED:
		when_ago(beat, sizeof(beat), bk->st.stopped_ms);
		printf("broker     stopped %s (cleanly); it had started %s\n",
		       beat, since);
		return;
	case CLI_BROKER_SILENT:
		printf("broker     down: not heard since %s, and it did not stop "
		       "cleanly (killed, crashed, hung, or its database "
		       "failing); started %s, pid %lld\n", beat, since,
		       (long long)bk->st.pid);
		return;
	}
}

static void signals_text(json_object *arr, int mib)
{
	size_t n = json_object_array_length(arr);
	char size[32];

	printf("signals    ");
	if (n == 0)
		printf("none in the last round");
	for (size_t i = 0; i < n; i++) {
		json_object *g = json_object_array_get_idx(arr, i), *k, *h, *m;

		json_object_object_get_ex(g, "kind", &k);
		json_object_object_get_ex(g, "host", &h);
		json_object_object_get_ex(g, "mib", &m);
		cli_fmt_mib(size, sizeof(size), json_object_get_int64(m), mib);
		printf("%s%s %s%s%s", i ? "; " : "", json_object_get_string(k),
		       h ? json_object_get_string(h) : "", h ? " " : "", size);
	}
	printf("\n");
}

static void bad_text(json_object *arr)
{
	size_t n = json_object_array_length(arr);

	printf("bad data   ");
	if (n == 0)
		printf("none");
	for (size_t i = 0; i < n; i++) {
		json_object *d = NULL;

		json_object_object_get_ex(json_object_array_get_idx(arr, i),
					  "detail", &d);
		printf("%s%s", i ? "\n           " : "",
		       json_object_get_string(d));
	}
	printf("\n");
}

static void drain_text(json_object *arr)
{
	size_t n = json_object_array_length(arr);
	char when[96];

	printf("draining   ");
	if (n == 0)
		printf("none");
	for (size_t i = 0; i < n; i++) {
		json_object *d = json_object_array_get_idx(arr, i), *h, *t, *by,
			    *why;

		json_object_object_get_ex(d, "host", &h);
		json_object_object_get_ex(d, "since_ms", &t);
		json_object_object_get_ex(d, "by", &by);
		json_object_object_get_ex(d, "reason", &why);
		when_ago(when, sizeof(when), json_object_get_int64(t));
		printf("%s%s since %s by %s%s%s%s", i ? "\n           " : "",
		       json_object_get_string(h), when,
		       json_object_get_string(by),
		       *json_object_get_string(why) ? " (" : "",
		       json_object_get_string(why),
		       *json_object_get_string(why) ? ")" : "");
	}
	printf("\n");
}

static void status_text(const struct status *st)
{
	char when[96];

	broker_text(&st->bk);
	if (st->round.round == 0) {
		printf("round      none yet\n");
	} else {
		when_ago(when, sizeof(when), st->round.started_ms);
		printf("round      %lld, started %s: %lld hosts, %lld VMs, %lld "
		       "recommendations, market %lld ms\n",
		       (long long)st->round.round, when,
		       (long long)st->round.n_hosts, (long long)st->round.n_vms,
		       (long long)st->round.n_recs,
		       (long long)st->round.duration_ms);
	}
	printf("modes     ");
	for (int i = 0; i < STORE_N_ACTS; i++)
		printf(" %s %s%s", store_action_name(i),
		       store_mode_name(st->ctl.mode[i]),
		       i + 1 < STORE_N_ACTS ? "," : "\n");
	if (st->ctl.paused) {
		when_ago(when, sizeof(when), st->ctl.updated_ms);
		printf("dispatch   PAUSED since %s by %s%s%s%s\n", when,
		       st->ctl.updated_by, st->ctl.pause_reason[0] ? " (" : "",
		       st->ctl.pause_reason, st->ctl.pause_reason[0] ? ")" : "");
	} else {
		printf("dispatch   on\n");
	}
	printf("backlog    %lld approved (to dispatch), %lld dispatched "
	       "(awaiting a result), %lld pending (to review)\n",
	       (long long)st->recs[STORE_REC_APPROVED],
	       (long long)st->recs[STORE_REC_DISPATCHED],
	       (long long)st->recs[STORE_REC_PENDING]);
}

static int draw_status(store *s, void *ctx)
{
	const struct st_args *a = ctx;
	struct status st;
	int rc;

	memset(&st, 0, sizeof(st));
	st.mib = a->mib;
	rc = status_read(s, &st);
	if (rc == CLI_OK && a->json) {
		rc = status_json(&st);
	} else if (rc == CLI_OK) {
		status_text(&st);
		signals_text(st.signals, st.mib);
		bad_text(st.bad);
		drain_text(st.drain);
	}
	json_object_put(st.signals);
	json_object_put(st.bad);
	json_object_put(st.drain);
	return rc;
}

int cmd_status(int argc, char **argv)
{
	struct st_args a = { .cmd = "status" };
	store *s = NULL;
	int rc = start(&a, status_usage, status_opts, argc, argv, &s);

	if (rc != CLI_OK || !s)
		return rc;
	return run(&a, s, draw_status);
}

/* ---- events ------------------------------------------------------------- */

struct ev_out {
	json_object *arr;
	cli_table *t;
	size_t n;
	int oom;
};

enum { E_TIME, E_ACTOR, E_EVENT, E_ABOUT, E_DETAIL, E_ID, N_E_COLS };

static const struct cli_col ev_cols[N_E_COLS] = {
	[E_TIME] = { "TIME", 0 },
	[E_ACTOR] = { "ACTOR", 0 },
	[E_EVENT] = { "EVENT", 0 },
	[E_ABOUT] = { "ABOUT", 0 },
	[E_DETAIL] = { "DETAIL", CLI_COL_TRUNC },
	[E_ID] = { "ID", CLI_COL_RIGHT | CLI_COL_WIDE },
};

static int event_json(const store_event_row *e, void *ctx)
{
	struct ev_out *o = ctx;
	json_object *j = json_object_new_object();

	o->n++;
	json_object_object_add(j, "id", json_object_new_int64(e->a.id));
	json_object_object_add(j, "ts_ms", json_object_new_int64(e->a.ts_ms));
	json_object_object_add(j, "actor", json_object_new_string(e->a.actor));
	json_object_object_add(j, "event", json_object_new_string(e->a.event));
	json_object_object_add(j, "rec_id", e->a.rec_id
			       ? json_object_new_int64(e->a.rec_id) : NULL);
	json_object_object_add(j, "vm", e->vm[0]
			       ? json_object_new_string(e->vm) : NULL);
	json_object_object_add(j, "host", e->from_host[0]
			       ? json_object_new_string(e->from_host) : NULL);
	json_object_object_add(j, "to_host", e->to_host[0]
			       ? json_object_new_string(e->to_host) : NULL);
	json_object_object_add(j, "detail", json_object_new_string(e->a.detail));
	json_object_array_add(o->arr, j);
	return 0;
}

/* One row per entry: when, who, what, about which rec/VM/host, detail. */
static int event_row(const store_event_row *e, void *ctx)
{
	struct ev_out *o = ctx;
	char when[64], about[3 * STORE_NAME_MAX + 48] = "";
	int n = 0;

	o->n++;
	if (cli_table_row(o->t) != 0) {
		o->oom = 1;
		return 1;
	}
	cli_fmt_time(when, sizeof(when), e->a.ts_ms);
	if (e->a.rec_id)
		n = snprintf(about, sizeof(about), "rec %lld ",
			     (long long)e->a.rec_id);
	if (e->vm[0] && n >= 0 && (size_t)n < sizeof(about))
		n += snprintf(about + n, sizeof(about) - (size_t)n, "%s on %s%s%s",
			      e->vm, e->from_host, e->to_host[0] ? " -> " : "",
			      e->to_host);
	n = (int)strlen(about);
	while (n > 0 && about[n - 1] == ' ')
		about[--n] = '\0';
	cli_table_set(o->t, E_TIME, "%s", when);
	cli_table_set(o->t, E_ACTOR, "%s", e->a.actor);
	cli_table_set(o->t, E_EVENT, "%s", e->a.event);
	cli_table_set(o->t, E_ABOUT, "%s", n ? about : "-");
	cli_table_set(o->t, E_DETAIL, "%s", e->a.detail);
	cli_table_set(o->t, E_ID, "%lld", (long long)e->a.id);
	return 0;
}

/* Print a table a draw filled, or say there was nothing; free it. */
static int table_done(const struct st_args *a, cli_table *t, int oom,
		      const char *none)
{
	int rc = CLI_OK;

	if (oom || (cli_table_rows(t) && cli_table_print(t, stdout) != 0)) {
		fprintf(stderr, "bourse %s: cannot print the table (out of "
			"memory?)\n", a->cmd);
		rc = CLI_FAIL;
	} else if (cli_table_rows(t) == 0) {
		printf("%s\n", none);
	}
	cli_table_free(t);
	return rc;
}

static int draw_events(store *s, void *ctx)
{
	const struct st_args *a = ctx;
	struct ev_out o = { .arr = a->json ? json_object_new_array() : NULL };
	char err[512];

	if (!o.arr && !(o.t = cli_table_new(ev_cols, N_E_COLS, a->out,
					     a->no_headers))) {
		fprintf(stderr, "bourse events: out of memory\n");
		return CLI_FAIL;
	}
	if (store_events_list(s, &a->ev, a->json ? event_json : event_row, &o,
			      err, sizeof(err)) != 0) {
		fprintf(stderr, "bourse events: %s\n",
			o.oom ? "out of memory" : err);
		json_object_put(o.arr);
		cli_table_free(o.t);
		return CLI_FAIL;
	}
	if (o.arr)
		return cli_json_print(o.arr);
	return table_done(a, o.t, o.oom, a->ev.since_ms || a->ev.event ||
			  a->ev.host || a->ev.vm ? "no events match"
						 : "no events yet");
}

int cmd_events(int argc, char **argv)
{
	struct st_args a = { .cmd = "events" };
	store *s = NULL;
	int rc = start(&a, events_usage, events_opts, argc, argv, &s);

	if (rc != CLI_OK || !s)
		return rc;
	return run(&a, s, draw_events);
}

/* ---- signals ------------------------------------------------------------ */

struct sig_out {
	json_object *arr;
	cli_table *t;
	int mib;
	size_t n;
	int oom;
};

enum { G_ROUND, G_TIME, G_SIGNAL, G_HOST, G_SIZE, G_AGE, N_G_COLS };

static const struct cli_col sig_cols[N_G_COLS] = {
	[G_ROUND] = { "ROUND", CLI_COL_RIGHT },
	[G_TIME] = { "TIME", 0 },
	[G_SIGNAL] = { "SIGNAL", 0 },
	[G_HOST] = { "HOST", 0 },
	[G_SIZE] = { "SIZE", CLI_COL_RIGHT },
	[G_AGE] = { "AGE", CLI_COL_RIGHT | CLI_COL_WIDE },
};

static int signal_row(const store_signal_view *v, void *ctx)
{
	struct sig_out *o = ctx;
	char when[64], size[32], age[32];

	o->n++;
	if (cli_table_row(o->t) != 0) {
		o->oom = 1;
		return 1;
	}
	cli_fmt_time(when, sizeof(when), v->started_ms);
	cli_fmt_mib(size, sizeof(size), v->mib, o->mib);
	cli_fmt_age(age, sizeof(age), v->started_ms);
	cli_table_set(o->t, G_ROUND, "%lld", (long long)v->round);
	cli_table_set(o->t, G_TIME, "%s", when);
	cli_table_set(o->t, G_SIGNAL, "%s",
		      v->kind == 1 ? "provision" : "suspend");
	cli_table_set(o->t, G_HOST, "%s", v->host_name[0] ? v->host_name : "-");
	cli_table_set(o->t, G_SIZE, "%s", size);
	cli_table_set(o->t, G_AGE, "%s", age);
	return 0;
}

static int signal_collect(const store_signal_view *v, void *ctx)
{
	struct sig_out *o = ctx;

	o->n++;
	return signal_json(v, o->arr);
}

static int draw_signals(store *s, void *ctx)
{
	const struct st_args *a = ctx;
	struct sig_out o = { .arr = a->json ? json_object_new_array() : NULL,
			     .mib = a->mib };
	char err[512];

	if (!o.arr && !(o.t = cli_table_new(sig_cols, N_G_COLS, a->out,
					     a->no_headers))) {
		fprintf(stderr, "bourse signals: out of memory\n");
		return CLI_FAIL;
	}
	if (store_signals_list(s, a->round, a->kind, (size_t)a->limit,
			       o.arr ? signal_collect : signal_row, &o, err,
			       sizeof(err)) != 0) {
		fprintf(stderr, "bourse signals: %s\n",
			o.oom ? "out of memory" : err);
		json_object_put(o.arr);
		cli_table_free(o.t);
		return CLI_FAIL;
	}
	if (o.arr)
		return cli_json_print(o.arr);
	return table_done(a, o.t, o.oom, a->round || a->kind
			  ? "no signals match" : "no signals yet");
}

int cmd_signals(int argc, char **argv)
{
	struct st_args a = { .cmd = "signals" };
	store *s = NULL;
	int rc = start(&a, signals_usage, signals_opts, argc, argv, &s);

	if (rc != CLI_OK || !s)
		return rc;
	return run(&a, s, draw_signals);
}
