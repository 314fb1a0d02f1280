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
	"usage: bourse mode [MODE [--for KINDS]] [--db PATH] [--json]\n"
	"\n"
	"Without MODE, show the mode of each kind of action and whether\n"
	"dispatching is paused. With MODE, set it:\n"
	"\n"
	"  recommend   store recommendations only; nothing changes (default)\n"
	"  manual      dispatch a recommendation once an operator approves it\n"
	"  automated   approve and dispatch by itself, within the guardrails\n"
	"\n"
	"  --for KINDS  comma-separated: resize-up, resize-down, migrate\n"
	"               (default: all three)\n"
	"  --db PATH    the database (default: $BOURSE_DB, else ./bourse.db)\n"
	"  --json       print JSON instead of text (showing)\n"
	"  -h, --help   this help\n"
	"\n"
	"The broker reads the mode at every round and dispatches within its\n"
	"guardrails (bourse broker --help); each agent carries actions out with\n"
	"its --actuator. Every change is in the audit log.\n";

static const char pause_usage[] =
	"usage: bourse pause [--reason TEXT] [--db PATH]\n"
	"\n"
	"The kill switch: stop all dispatching at once, in every mode, until\n"
	"'bourse resume'. Recommendations go on being made and stored.\n"
	"\n"
	"  --reason TEXT  why (kept in the audit log and shown by 'bourse mode')\n"
	"  --db PATH      the database (default: $BOURSE_DB, else ./bourse.db)\n"
	"  -h, --help     this help\n";

static const char resume_usage[] =
	"usage: bourse resume [--db PATH]\n"
	"\n"
	"Dispatch again after 'bourse pause'.\n"
	"\n"
	"  --db PATH      the database (default: $BOURSE_DB, else ./bourse.db)\n"
	"  -h, --help     this help\n";

enum { O_DB = 1000, O_JSON, O_FOR, O_REASON };

static const struct option ctl_opts[] = {
	{ "db", required_argument, NULL, O_DB },
	{ "json", no_argument, NULL, O_JSON },
	{ "for", required_argument, NULL, O_FOR },
	{ "reason", required_argument, NULL, O_REASON },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

struct ctl_args {
	const char *cmd;
	const char *db;
	int json;
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

	a->db = cli_default_db();
	optind = 0;
	opterr = 1;
	while ((opt = getopt_long(argc, argv, "h", ctl_opts, NULL)) != -1) {
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
		case O_JSON: a->json = 1; break;
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
	if (!*a->db) {
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
	char err[512];

	if (store_open(a->db, writes ? 0 : STORE_READONLY, s, err,
		       sizeof(err)) != 0) {
		fprintf(stderr, "bourse %s: %s\n", a->cmd, err);
		return CLI_FAIL;
	}
	return CLI_OK;
}

static int show_json(const store_control *c)
{
	json_object *root = json_object_new_object();
	json_object *modes = json_object_new_object();

	for (int i = 0; i < STORE_N_ACTS; i++)
		json_object_object_add(modes, store_action_name((store_action)i),
				       json_object_new_string(
					       store_mode_name(c->mode[i])));
	json_object_object_add(root, "modes", modes);
	json_object_object_add(root, "paused", json_object_new_boolean(c->paused));
	json_object_object_add(root, "pause_reason",
			       json_object_new_string(c->pause_reason));
	json_object_object_add(root, "updated_ms",
			       json_object_new_int64(c->updated_ms));
	json_object_object_add(root, "updated_by",
			       json_object_new_string(c->updated_by));
	return cli_json_print(root);
}

static int show(const struct ctl_args *a, const store_control *c)
{
	char when[64];

	if (a->json)
		return show_json(c);
	for (int i = 0; i < STORE_N_ACTS; i++)
		printf("%-12s %s\n", store_action_name((store_action)i),
		       store_mode_name(c->mode[i]));
	if (c->paused)
		printf("dispatching  PAUSED%s%s\n", c->pause_reason[0] ? ": " : "",
		       c->pause_reason);
	else
		printf("dispatching  on\n");
	if (c->updated_ms) {
		cli_fmt_time(when, sizeof(when), c->updated_ms);
		printf("changed      %s by %s\n", when, c->updated_by);
	}
	return CLI_OK;
}

static int set_modes(const struct ctl_args *a, store *s, unsigned kinds,
		     store_mode m)
{
	char actor[STORE_NAME_MAX], err[512];
	store_control c;

	cli_actor_name(actor, sizeof(actor));
	for (int i = 0; i < STORE_N_ACTS; i++) {
		if (!(kinds & (1u << i)))
			continue;
		if (store_mode_set(s, (store_action)i, m, actor, util_wall_ms(),
				   err, sizeof(err)) != 0) {
			fprintf(stderr, "bourse %s: %s\n", a->cmd, err);
			return CLI_FAIL;
		}
	}
	if (store_control_get(s, &c, err, sizeof(err)) != 0) {
		fprintf(stderr, "bourse %s: %s\n", a->cmd, err);
		return CLI_FAIL;
	}
	return show(a, &c);
}

int cmd_mode(int argc, char **argv)
{
	struct ctl_args a = { .cmd = "mode", .allowed = ALLOW(O_DB) |
				ALLOW(O_JSON) | ALLOW(O_FOR) };
	int done = 0, rc = parse(&a, mode_usage, argc, argv, &done);
	unsigned kinds = 0;
	store_mode m = STORE_MODE_RECOMMEND;
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
	} else
		rc = show(&a, &c);
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
