/*
 * main.c - `bourse`: one binary, subcommands from a table (git's style).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{ "sim", cmd_sim, "replay VM memory traces through the market and the "
			  "baseline policies" },
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
	fprintf(f, "\nbroker, agents and the review CLI (recs, hosts, vms, prices) "
		   "are not built yet.\n");
}

int main(int argc, char **argv)
{
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
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "bourse: '%s' is not a bourse command; see 'bourse --help'\n",
		argv[1]);
	return CLI_USAGE;
}
