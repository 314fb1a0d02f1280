/*
 * main.c - `bourse`: one binary, subcommands from a table (git's style).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "banned.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{ "sim", cmd_sim, "replay VM memory traces through the market and the "
			  "baseline policies" },
	{ "broker", cmd_broker, "run the market broker for a cluster" },
	{ "agent", cmd_agent, "run a host's seller and a buyer per VM, one "
			      "connection" },
	{ "seller", cmd_seller, "run a host's seller only" },
	{ "buyer", cmd_buyer, "run one VM's buyer only" },
	{ "recs", cmd_recs, "list, show, approve and reject recommendations" },
	{ "hosts", cmd_hosts, "list the hosts the broker knows" },
	{ "vms", cmd_vms, "list the VMs the broker knows" },
	{ "prices", cmd_prices, "show memory prices per host for a round" },
	{ "status", cmd_status, "is the broker running; the last round, modes, "
				"backlog and signals" },
	{ "events", cmd_events, "the cluster's audit log, filtered" },
	{ "signals", cmd_signals, "provision and suspend signals, round by "
				  "round" },
	{ "mode", cmd_mode, "show or set what the broker may do per kind of "
			    "action" },
	{ "pause", cmd_pause, "stop all dispatching at once (kill switch)" },
	{ "resume", cmd_resume, "dispatch again after a pause" },
	{ "keygen", cmd_keygen, "make a CURVE key pair for the broker or an "
				"agent" },
	{ "plot", cmd_plot, "draw prices, utilization and VM pressure over "
			    "time (PNG, SVG)" },
	{ "host", cmd_host, "host maintenance: drain a host of its VMs, "
			    "undrain it" },
	{ "vm-policy", cmd_vm_policy, "show or set a libvirt domain's own "
				      "bourse settings" },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: bourse <command> [options]\n"
		   "       bourse <command> --help\n\n"
		   "bourse: a market-based scheduler for virtual machine memory.\n\n"
		   "commands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nThe views take -o table|wide|json (--json) and "
		   "--no-headers.\n");
}

/* The command not found: say so, with the nearest name if one is close. */
static int unknown(const char *word)
{
	const char *names[N_COMMANDS];
	const char *near;

	for (size_t i = 0; i < N_COMMANDS; i++)
		names[i] = commands[i].name;
	near = cli_suggest(word, names, N_COMMANDS);
	if (near)
		fprintf(stderr, "bourse: '%s' is not a bourse command; did you "
			"mean '%s'? (see 'bourse --help')\n", word, near);
	else
		fprintf(stderr, "bourse: '%s' is not a bourse command; see "
			"'bourse --help'\n", word);
	return CLI_USAGE;
}

int main(int argc, char **argv)
{
	static char full[64]; /* "bourse sim": what getopt's messages name */

	if (argc < 2) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return CLI_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("bourse 0.1.0\n");
		return CLI_OK;
	}
	for (size_t i = 0; i < N_COMMANDS; i++) {
		if (strcmp(argv[1], commands[i].name) != 0)
			continue;
		/* argv[0] of the command is its whole name, so that getopt
		 * says "bourse sim: unrecognized option '--bogus'" */
		snprintf(full, sizeof(full), "bourse %s", commands[i].name);
		argv[1] = full;
		return commands[i].fn(argc - 1, argv + 1);
	}
	return unknown(argv[1]);
}
