/*
 * cli.h - the `bourse` command's subcommands and their shared helpers.
 *
 * Each subcommand is `int cmd_<name>(int argc, char **argv)` returning the
 * process exit status: 0 success, 1 the work failed (bad input file, ...),
 * 2 a usage error (unknown flag, bad value). Results go to stdout, errors
 * and chatter to stderr. argv[0] is the subcommand's name.
 *
 * Ownership: every string argument is borrowed for the call; every err
 * buffer is the caller's, written only on failure.
 */
#ifndef BOURSE_CLI_H
#define BOURSE_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "market.h"

#define CLI_OK 0
#define CLI_FAIL 1
#define CLI_USAGE 2

int cmd_sim(int argc, char **argv);
int cmd_broker(int argc, char **argv);  /* cmd_broker.c */
int cmd_agent(int argc, char **argv);   /* cmd_agent.c: host + its VMs */
int cmd_seller(int argc, char **argv);  /* cmd_agent.c: the host only */
int cmd_buyer(int argc, char **argv);   /* cmd_agent.c: one VM only */
int cmd_recs(int argc, char **argv);    /* cmd_recs.c: list/show/approve/reject */
int cmd_hosts(int argc, char **argv);   /* cmd_registry.c */
int cmd_vms(int argc, char **argv);     /* cmd_registry.c */
int cmd_prices(int argc, char **argv);  /* cmd_registry.c */
int cmd_mode(int argc, char **argv);    /* cmd_control.c: show or set modes */
int cmd_pause(int argc, char **argv);   /* cmd_control.c: the kill switch */
int cmd_resume(int argc, char **argv);  /* cmd_control.c */
int cmd_keygen(int argc, char **argv);  /* cmd_keygen.c: CURVE key pairs */

/* Strict number parsing for flags: the whole string must be a number within
 * [min, max]. Return 0, or -1 with a message in err naming the value. */
int cli_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out,
		  char *err, size_t errlen);
int cli_parse_double(const char *s, double min, double max, double *out,
		     char *err, size_t errlen);

/* Set one market parameter from "name=value" (names as in docs/market.md).
 * Returns 0, or -1 with a message. */
int cli_market_param_set(market_params *p, const char *assignment, char *err,
			 size_t errlen);

/* Print every market parameter name and its current value, one a line. */
void cli_market_params_print(const market_params *p);

/* ---- review.c: shared by the review commands ---- */

struct json_object;

/* $BOURSE_DB if set and not empty, else ./bourse.db. */
const char *cli_default_db(void);

/* How long ago Unix ms was: "42s", "5m", "3h", "2d" ("-" for 0). */
void cli_fmt_age(char *buf, size_t size, int64_t ms);

/* Unix ms as "2026-11-23 17:05:48 UTC". */
void cli_fmt_time(char *buf, size_t size, int64_t ms);

/* cmd_recs_stats.c: `bourse recs stats` on an open store. */
struct store;
int cli_recs_stats(struct store *s, int json);

/* Who the audit log says acted: "cli:$USER", or "cli". */
void cli_actor_name(char *buf, size_t size);

/* Print root pretty on stdout and free it (json_object_put). Returns
 * CLI_OK, or CLI_FAIL if stdout failed. */
int cli_json_print(struct json_object *root);

#endif
