/*
 * cmd_control.c - `bourse mode`, `bourse pause`, `bourse resume`: what the
 * broker may do with each kind of recommendation, and the kill switch. They
 * write the control row of the database (storage/store.h, "control"); the
 * broker reads it every round. Every change is audited.
 */
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "store.h"
#include "util.h"
#include "banned.h"

static const char mode_usage[] =
	"usage: bourse mode [MODE [--for KINDS]] [--db PATH]\n"
	"                   [-o table|wide|json] [--no-headers]\n"
	"\n"
	"Without MODE, show the mode of each kind of action (a table: the\n"
	"approved recommendations waiting to be dispatched, the pending ones,\n"
	"what the mode does with them) and whether dispatching is paused.\n"
	"With MODE, set it:\n"
	"\n"
	"  recommend   store recommendations only; nothing changes (approvals\n"
	"              are refused, and setting it withdraws those given)\n"
	"  manual      dispatch a recommendation once an operator approves it\n"
	"              (a new database's mode for migrate)\n"
	"  automated   approve and dispatch by itself, within the guardrails\n"
	"              (a new database's mode for resize-up and resize-down)\n"
	"\n"
	"  --for KINDS  comma-separated: resize-up, resize-down, migrate\n"
	"               (default: all three)\n"
	"  --db PATH    the database (default: $BOURSE_DB, then bourse.conf)\n"
	"  -o, --output FORMAT  table (default), wide (the same) or json\n"
	"  --json       the same as -o json\n"
	"  --no-headers the table without its header line\n"
	"  -h, --help   this help\n"
	"\n"
	"Setting a mode prints what the change carries out: the approved\n"
	"recommendations it will dispatch, or withdraws. The broker reads the\n"
	"mode at every round and dispatches within its guardrails (bourse\n"
	"broker --help); each agent carries actions out with its --actuator.\n"
	"Every change is in the audit log.\n";

static const char pause_usage[] =
	"usage: bourse pause [--reason TEXT] [--db PATH]\n"
	"\n"
	"The kill switch: stop all dispatching at once, in every mode, until\n"
	"'bourse resume'. Recommendations go on being made and stored.\n"
	"\n"
	"  --reason TEXT  why (kept in the audit log and shown by 'bourse mode')\n"
	"  --db PATH      the database (default: $BOURSE_DB, then bourse.conf)\n"
	"  -h, --help     this help\n";

static const char resume_usage[] =
	"usage: bourse resume [--db PATH]\n"
	"\n"
	"Dispatch again after 'bourse pause'.\n"
	"\n"
	"  --db PATH      the database (default: $BOURSE_DB, then bourse.conf)\n"
	"  -h, --help     this help\n";

enum { O_DB = 1000, O_JSON, O_FOR, O_REASON, O_OUTPUT, O_NO_HEADERS };

static const struct option ctl_opts[] = {
	{ "db", required_argument, NULL, O_DB },
	{ "json", no_argument, NULL, O_JSON },
	{ "for", required_argument, NULL, O_FOR },
	{ "reason", required_argument, NULL, O_REASON },
	{ "output", required_argument, NULL, O_OUTPUT },
	{ "no-headers", no_argument, NULL, O_NO_HEADERS },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

struct ctl_args {
	const char *cmd;
	const char *db;
	enum cli_output out; /* -o, --json */
	int no_headers;
	const char *kinds; /* --for */
	const char *reason;
	const char *mode;  /* positional */
	unsigned allowed;  /* bit per option the command takes */
};

#define ALLOW(o) (1u << ((o) - O_DB))

static int parse(struct ctl_args *a, const char *usage, int argc, char **argv,
		 int *done)
{
	int opt;

	a->db = NULL; /* after the flags: cli_review_db() */
	optind = 0;
	opterr = 1;
	while ((opt = getopt_long(argc, argv, a->allowed & ALLOW(O_OUTPUT)
				  ? "ho:" : "h", ctl_opts, NULL)) != -1) {
		if (opt == 'o')
			opt = O_OUTPUT;
		if (opt == 'h') {
			fputs(usage, stdout);
			*done = 1;
			return CLI_OK;
		}
		if (opt < O_DB || !(a->allowed & ALLOW(opt))) {
			if (opt >= O_DB)
				fprintf(stderr, "bourse %s: %s takes no such "
					"option\n", a->cmd, a->cmd);
			fprintf(stderr, "see 'bourse %s --help'\n", a->cmd);
			return CLI_USAGE;
		}
		switch (opt) {
		case O_DB: a->db = optarg; break;
		case O_JSON: a->out = CLI_OUT_JSON; break;
		case O_NO_HEADERS: a->no_headers = 1; break;
		case O_OUTPUT:
			if (cli_output_opt(a->cmd, optarg, &a->out) != CLI_OK)
				return CLI_USAGE;
			break;
		case O_FOR: a->kinds = optarg; break;
		case O_REASON: a->reason = optarg; break;
		}
	}
	if (optind < argc && a->allowed & ALLOW(O_FOR))
		a->mode = argv[optind++];
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

/* "resize-up,migrate" -> a bit per kind. 0 and a message if bad. */
static unsigned parse_kinds(const char *cmd, const char *list)
{
	char buf[128], *save = NULL;
	unsigned bits = 0;
	store_action act;

	if (!list)
		return (1u << STORE_N_ACTS) - 1;
	if (strlen(list) >= sizeof(buf)) {
		fprintf(stderr, "bourse %s: --for: too long\n", cmd);
		return 0;
	}
	snprintf(buf, sizeof(buf), "%s", list);
	for (char *t = strtok_r(buf, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		if (store_action_parse(t, &act) != 0) {
			fprintf(stderr, "bourse %s: --for: '%s' is not a kind "
				"of action (resize-up, resize-down, migrate)\n",
				cmd, t);
			return 0;
		}
		bits |= 1u << act;
	}
	if (!bits)
		fprintf(stderr, "bourse %s: --for: no kind given\n", cmd);
	return bits;
}

static int open_db(const struct ctl_args *a, int writes, store **s)
{
	const char *db = a->db; /* NULL: not --db */
	char err[512];

	if (!db && cli_review_db(a->cmd, &db) != CLI_OK)
		return CLI_USAGE;
	if (store_open(db, writes ? 0 : STORE_READONLY, s, err,
		       sizeof(err)) != 0) {
		fprintf(stderr, "bourse %s: %s\n", a->cmd, err);
		return CLI_FAIL;
	}
	return CLI_OK;
}

/* Open recommendations per kind of action: what a mode would act on. */
struct open_recs {
	uint32_t approved[STORE_N_ACTS], pending[STORE_N_ACTS];
};

static int count_open(const store_rec *r, void *ctx)
{
	struct open_recs *o = ctx;
	store_action a = store_rec_action(r);

	if (r->state == STORE_REC_APPROVED)
		o->approved[a]++;
	else
		o->pending[a]++;
	return 0;
}

static int open_recs_read(const struct ctl_args *a, store *s,
			  struct open_recs *o)
{
	char err[512];

	memset(o, 0, sizeof(*o));
	if (store_recs_list(s, STORE_REC_APPROVED, 0, count_open, o, err,
			    sizeof(err)) != 0 ||
	    store_recs_list(s, STORE_REC_PENDING, 0, count_open, o, err,
			    sizeof(err)) != 0) {
		fprintf(stderr, "bourse %s: %s\n", a->cmd, err);
		return CLI_FAIL;
	}
	return CLI_OK;
}

static int show_json(const store_control *c, const struct open_recs *o)
{
	json_object *root = json_object_new_object();
	json_object *modes = json_object_new_object();
	json_object *open = json_object_new_object();

	for (int i = 0; i < STORE_N_ACTS; i++) {
		json_object *k = json_object_new_object();

		json_object_object_add(modes, store_action_name((store_action)i),
				       json_object_new_string(
					       store_mode_name(c->mode[i])));
		json_object_object_add(k, "approved",
				       json_object_new_int64(o->approved[i]));
		json_object_object_add(k, "pending",
				       json_object_new_int64(o->pending[i]));
		json_object_object_add(open, store_action_name((store_action)i),
				       k);
	}
	json_object_object_add(root, "modes", modes);
	json_object_object_add(root, "open", open);
	json_object_object_add(root, "paused", json_object_new_boolean(c->paused));
	json_object_object_add(root, "pause_reason",
			       json_object_new_string(c->pause_reason));
	json_object_object_add(root, "updated_ms",
			       json_object_new_int64(c->updated_ms));
	json_object_object_add(root, "updated_by",
			       json_object_new_string(c->updated_by));
	return cli_json_print(root);
}

/* What the broker does with a kind in mode m. */
static const char *mode_effect(store_mode m)
{
	switch (m) {
	case STORE_MODE_MANUAL:
		return "dispatched once approved ('bourse recs approve ID')";
	case STORE_MODE_AUTOMATED:
		return "approved and dispatched by the broker itself";
	case STORE_MODE_RECOMMEND:
		break;
	}
	return "stored for review; nothing is dispatched";
}

enum { M_KIND, M_MODE, M_APPROVED, M_PENDING, M_EFFECT, N_M_COLS };

static const struct cli_col mode_cols[N_M_COLS] = {
	[M_KIND] = { "KIND", 0 },
	[M_MODE] = { "MODE", 0 },
	[M_APPROVED] = { "APPROVED", CLI_COL_RIGHT },
	[M_PENDING] = { "PENDING", CLI_COL_RIGHT },
	[M_EFFECT] = { "EFFECT", CLI_COL_TRUNC },
};

/* The table of modes: 0, or -1 (said). */
static int modes_table(const struct ctl_args *a, const store_control *c,
		       const struct open_recs *o)
{
	cli_table *t = cli_table_new(mode_cols, N_M_COLS, a->out,
				     a->no_headers);
	int rc = t ? 0 : -1;

	for (int i = 0; i < STORE_N_ACTS && rc == 0; i++) {
		rc = cli_table_row(t);
		cli_table_set(t, M_KIND, "%s",
			      store_action_name((store_action)i));
		cli_table_set(t, M_MODE, "%s", store_mode_name(c->mode[i]));
		cli_table_set(t, M_APPROVED, "%u", o->approved[i]);
		cli_table_set(t, M_PENDING, "%u", o->pending[i]);
		cli_table_set(t, M_EFFECT, "%s", mode_effect(c->mode[i]));
	}
	if (rc == 0)
		rc = cli_table_print(t, stdout);
	cli_table_free(t);
	if (rc != 0)
		fprintf(stderr, "bourse %s: cannot print the table (out of "
			"memory?)\n", a->cmd);
	return rc;
}

static int show(const struct ctl_args *a, const store_control *c,
		const struct open_recs *o)
{
	char when[64];

	if (a->out == CLI_OUT_JSON)
		return show_json(c, o);
	if (modes_table(a, c, o) != 0)
		return CLI_FAIL;
	if (c->paused)
		printf("dispatching  PAUSED%s%s: nothing is dispatched until "
		       "'bourse resume'\n", c->pause_reason[0] ? ": " : "",
		       c->pause_reason);
	else
		printf("dispatching  on: to agents started with an --actuator "
		       "(one without answers 'unsupported')\n");
	if (c->updated_ms) {
		cli_fmt_time(when, sizeof(when), c->updated_ms);
		printf("changed      %s by %s\n", when, c->updated_by);
	} else {
		printf("changed      never: the modes of a new database\n");
	}
	return CLI_OK;
}

/* Kind i changed from was to m: what the change carries out. */
static void say_change(store_action i, store_mode was, store_mode m,
		       const struct open_recs *o, uint32_t withdrawn)
{
	const char *k = store_action_name(i);

	printf("%s: %s -> %s: ", k, store_mode_name(was), store_mode_name(m));
	if (m == STORE_MODE_RECOMMEND)
		printf("%u approved %s withdrawn; nothing of this kind will be "
		       "dispatched\n", withdrawn, k);
	else if (m == STORE_MODE_MANUAL)
		printf("%u approved %s will be dispatched from the broker's "
		       "next round, within its guardrails; the %u pending wait "
		       "for 'bourse recs approve'\n", o->approved[i], k,
		       o->pending[i]);
	else
		printf("%u approved %s will be dispatched from the broker's "
		       "next round, within its guardrails, and it approves new "
		       "ones by itself (of the %u pending: those its next "
		       "round makes again)\n", o->approved[i], k,
		       o->pending[i]);
}

static int set_modes(const struct ctl_args *a, store *s, unsigned kinds,
		     store_mode m)
{
	char actor[STORE_NAME_MAX], err[512] = "";
	struct open_recs o;
	store_control c;
	uint32_t gone;

	cli_actor_name(actor, sizeof(actor));
	if (store_control_get(s, &c, err, sizeof(err)) != 0 ||
	    open_recs_read(a, s, &o) != CLI_OK)
		goto fail;
	for (int i = 0; i < STORE_N_ACTS; i++) {
		if (!(kinds & (1u << i)))
			continue;
		if (c.mode[i] == m) {
			printf("%s: already %s\n", store_action_name(
				       (store_action)i), store_mode_name(m));
			continue;
		}
		if (store_mode_set(s, (store_action)i, m, actor, util_wall_ms(),
				   &gone, err, sizeof(err)) != 0)
			goto fail;
		say_change((store_action)i, c.mode[i], m, &o, gone);
	}
	if (store_control_get(s, &c, err, sizeof(err)) != 0 ||
	    open_recs_read(a, s, &o) != CLI_OK)
		goto fail;
	return show(a, &c, &o);
fail:
	if (err[0])
		fprintf(stderr, "bourse %s: %s\n", a->cmd, err);
	return CLI_FAIL;
}

int cmd_mode(int argc, char **argv)
{
	struct ctl_args a = { .cmd = "mode", .allowed = ALLOW(O_DB) |
				ALLOW(O_JSON) | ALLOW(O_FOR) |
				ALLOW(O_OUTPUT) | ALLOW(O_NO_HEADERS) };
	int done = 0, rc = parse(&a, mode_usage, argc, argv, &done);
	unsigned kinds = 0;
	store_mode m = STORE_MODE_RECOMMEND;
	struct open_recs o;
	store_control c;
	store *s = NULL;
	char err[512];

	if (rc != CLI_OK || done)
		return rc;
	if (a.mode && store_mode_parse(a.mode, &m) != 0) {
		fprintf(stderr, "bourse mode: '%s' is not a mode (recommend, "
			"manual, automated)\n", a.mode);
		return CLI_USAGE;
	}
	if (!a.mode && a.kinds) {
		fprintf(stderr, "bourse mode: --for needs a MODE to set\n");
		return CLI_USAGE;
	}
	if (a.mode && !(kinds = parse_kinds(a.cmd, a.kinds)))
		return CLI_USAGE;
	if ((rc = open_db(&a, a.mode != NULL, &s)) != CLI_OK)
		return rc;
	if (a.mode)
		rc = set_modes(&a, s, kinds, m);
	else if (store_control_get(s, &c, err, sizeof(err)) != 0) {
		fprintf(stderr, "bourse mode: %s\n", err);
		rc = CLI_FAIL;
	} else if ((rc = open_recs_read(&a, s, &o)) == CLI_OK)
		rc = show(&a, &c, &o);
	store_close(s);
	return rc;
}

static int pause_set(int argc, char **argv, const char *cmd,
		     const char *usage, int paused)
{
	struct ctl_args a = { .cmd = cmd, .allowed = ALLOW(O_DB) |
				(paused ? ALLOW(O_REASON) : 0) };
	int done = 0, rc = parse(&a, usage, argc, argv, &done);
	char actor[STORE_NAME_MAX], err[512];
	store *s = NULL;

	if (rc != CLI_OK || done)
		return rc;
	if ((rc = open_db(&a, 1, &s)) != CLI_OK)
		return rc;
	cli_actor_name(actor, sizeof(actor));
	if (store_pause_set(s, paused, actor, a.reason, util_wall_ms(), err,
			    sizeof(err)) != 0) {
		fprintf(stderr, "bourse %s: %s\n", cmd, err);
		rc = CLI_FAIL;
	} else {
		printf("dispatching %s\n", paused ? "paused" : "resumed");
	}
	store_close(s);
	return rc;
}

int cmd_pause(int argc, char **argv)
{
	return pause_set(argc, argv, "pause", pause_usage, 1);
}

int cmd_resume(int argc, char **argv)
{
	return pause_set(argc, argv, "resume", resume_usage, 0);
}
