/*
 * cmd_host.c - `bourse host drain|undrain HOST`: host maintenance. A
 * draining host is no migration target, and the broker moves its VMs off
 * (automated migrate mode: by itself within the guardrails; manual: as
 * recommendations waiting for approval). Written to the database
 * (store_host_drain_set(), audited); the broker reads it every round.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "store.h"
#include "util.h"
#include "banned.h"

static const char host_usage[] =
	"usage: bourse host drain HOST [--reason TEXT] [--db PATH]\n"
	"       bourse host undrain HOST [--db PATH]\n"
	"\n"
	"Host maintenance.\n"
	"\n"
	"  drain     HOST becomes no migration target, and its VMs are moved\n"
	"            off to the cheapest hosts with room: in automated migrate\n"
	"            mode by the broker itself, within its guardrails\n"
	"            (--max-actions, --max-migrations); in manual mode as\n"
	"            migrate recommendations waiting for 'bourse recs approve';\n"
	"            in recommend mode as recommendations only\n"
	"  undrain   end it: HOST is a migration target again\n"
	"\n"
	"  --reason TEXT  why (kept in the audit log, shown by 'bourse status')\n"
	"  --db PATH      the database (default: $BOURSE_DB, then bourse.conf)\n"
	"  -h, --help     this help\n"
	"\n"
	"The broker reads the draining hosts at every round; 'bourse hosts'\n"
	"and 'bourse status' show them. Every change is in the audit log\n"
	"(events host.drain, host.undrain).\n";

enum { O_DB = 1000, O_REASON };

static const struct option host_opts[] = {
	{ "db", required_argument, NULL, O_DB },
	{ "reason", required_argument, NULL, O_REASON },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

struct host_args {
	const char *verb, *host, *db, *reason;
};

/* "bourse host drain" for messages ("bourse host" until the verb is
 * known to be one). */
static void cmd_name(const struct host_args *a, char *buf, size_t len)
{
	int ok = a->verb && (!strcmp(a->verb, "drain") ||
			     !strcmp(a->verb, "undrain"));

	snprintf(buf, len, "bourse host%s%s", ok ? " " : "",
		 ok ? a->verb : "");
}

static int bad_usage(const struct host_args *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int bad_usage(const struct host_args *a, const char *fmt, ...)
{
	char cmd[64];
	va_list ap;

	cmd_name(a, cmd, sizeof(cmd));
	fprintf(stderr, "%s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nsee 'bourse host --help'\n");
	return CLI_USAGE;
}

static int parse(struct host_args *a, int argc, char **argv, int *done)
{
	int opt;

	a->db = NULL; /* after the flags: cli_review_db() */
	if (argc > 1 && argv[1][0] != '-')
		a->verb = argv[1]; /* for the messages of the options */
	optind = 0; /* GNU getopt: start again, options anywhere */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", host_opts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			fputs(host_usage, stdout);
			*done = 1;
			return CLI_OK;
		case O_DB: a->db = optarg; break;
		case O_REASON: a->reason = optarg; break;
		case ':':
			return bad_usage(a, "%s needs a value",
					 argv[optind - 1]);
		default:
			return bad_usage(a, "unknown option '%s'",
					 argv[optind - 1]);
		}
	}
	a->verb = NULL;
	if (optind < argc)
		a->verb = argv[optind++];
	if (optind < argc)
		a->host = argv[optind++];
	if (optind < argc)
		return bad_usage(a, "unexpected argument '%s'", argv[optind]);
	return CLI_OK;
}

static int check(const struct host_args *a)
{
	if (!a->verb)
		return bad_usage(a, "%s", "which: drain or undrain?");
	if (strcmp(a->verb, "drain") && strcmp(a->verb, "undrain"))
		return bad_usage(a, "'%s' is not drain or undrain", a->verb);
	if (!a->host || !*a->host)
		return bad_usage(a, "%s", "no HOST given");
	if (a->db && !*a->db)
		return bad_usage(a, "%s", "--db: empty path");
	if (a->reason && strcmp(a->verb, "drain"))
		return bad_usage(a, "%s", "--reason is for drain");
	if (a->reason && strlen(a->reason) >= STORE_TEXT_MAX)
		return bad_usage(a, "%s", "--reason: longer than 255 bytes");
	return CLI_OK;
}

int cmd_host(int argc, char **argv)
{
	struct host_args a = { 0 };
	int done = 0, rc = parse(&a, argc, argv, &done), changed = 0;
	int drain;
	char actor[STORE_NAME_MAX], err[512], cmd[64];
	store *s = NULL;

	if (rc != CLI_OK || done || (rc = check(&a)) != CLI_OK)
		return rc;
	cmd_name(&a, cmd, sizeof(cmd));
	drain = !strcmp(a.verb, "drain");
	if (!a.db && cli_review_db("host", &a.db) != CLI_OK)
		return CLI_USAGE;
	if (store_open(a.db, 0, &s, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s: %s\n", cmd, err);
		return CLI_FAIL;
	}
	cli_actor_name(actor, sizeof(actor));
	if (store_host_drain_set(s, a.host, drain, actor, a.reason,
				 util_wall_ms(), &changed, err,
				 sizeof(err)) != 0) {
		fprintf(stderr, "%s: %s\n", cmd, err);
		rc = CLI_FAIL;
	} else if (!changed) {
		printf("host %s %s draining already\n", a.host,
		       drain ? "is" : "is not");
	} else {
		printf("host %s %s\n", a.host, drain
		       ? "draining: no migration target; the broker moves its "
			 "VMs off from its next round"
		       : "no longer draining: a migration target again");
	}
	store_close(s);
	return rc;
}
