/*
 * cmd_keygen.c - `bourse keygen NAME [--dir DIR]`: a CURVE key pair for the
 * broker or an agent (docs/operations.md, "Keys").
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "keys.h"
#include "banned.h"

static const char usage[] =
	"usage: bourse keygen NAME [--dir DIR]\n"
	"\n"
	"Make a CURVE key pair: DIR/NAME.key (secret, mode 0600) and\n"
	"DIR/NAME.pub. Existing files are never overwritten. NAME is the\n"
	"broker's name or the host the agent speaks for; the line to add to\n"
	"the broker's allow-list (--allow) is printed.\n"
	"\n"
	"  --dir DIR   where to write (default: the current directory)\n"
	"  -h, --help  this help\n";

static const struct option opts[] = {
	{ "dir", required_argument, NULL, 'd' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* NAME and --dir DIR; CLI_OK with *done set for --help. getopt names the
 * whole command in its messages: argv[0] is "bourse keygen" (main.c). */
static int parse(int argc, char **argv, const char **name, const char **dir,
		 int *done)
{
	int opt;

	optind = 0;
	opterr = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (opt == 'h') {
			fputs(usage, stdout);
			*done = 1;
			return CLI_OK;
		}
		if (opt != 'd') {
			fprintf(stderr, "see 'bourse keygen --help'\n");
			return CLI_USAGE;
		}
		*dir = optarg;
	}
	if (optind < argc)
		*name = argv[optind++];
	if (optind < argc) {
		fprintf(stderr, "bourse keygen: unexpected argument '%s'\n",
			argv[optind]);
		return CLI_USAGE;
	}
	if (!*name) {
		fprintf(stderr, "bourse keygen: a NAME is needed\n%s", usage);
		return CLI_USAGE;
	}
	if (!**dir) {
		fprintf(stderr, "bourse keygen: --dir: empty path\n");
		return CLI_USAGE;
	}
	return CLI_OK;
}

int cmd_keygen(int argc, char **argv)
{
	const char *name = NULL, *dir = ".";
	char err[4200];
	keys_pair kp;
	int done = 0, rc = parse(argc, argv, &name, &dir, &done);

	if (rc != CLI_OK || done)
		return rc;
	if (keys_generate(&kp, err, sizeof(err)) ||
	    keys_write(dir, name, &kp, err, sizeof(err))) {
		fprintf(stderr, "bourse keygen: %s\n", err);
		return CLI_FAIL;
	}
	printf("wrote %s/%s.key (secret: keep it on that machine only) and "
	       "%s/%s.pub\nallow-list line: %s %s\n", dir, name, dir, name,
	       name, kp.pub);
	return CLI_OK;
}
