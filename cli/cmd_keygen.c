/*
 * cmd_keygen.c - `bourse keygen NAME [--dir DIR]`: a CURVE key pair for the
 * broker or an agent (docs/operations.md, "Keys").
 */
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

int cmd_keygen(int argc, char **argv)
{
	const char *name = NULL, *dir = ".";
	char err[4200];
	keys_pair kp;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(usage, stdout);
			return CLI_OK;
		} else if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
			dir = argv[++i];
		} else if (argv[i][0] != '-' && !name) {
			name = argv[i];
		} else {
			fprintf(stderr, "bourse keygen: unexpected '%s'\n%s",
				argv[i], usage);
			return CLI_USAGE;
		}
	}
	if (!name) {
		fprintf(stderr, "bourse keygen: a NAME is needed\n%s", usage);
		return CLI_USAGE;
	}
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
