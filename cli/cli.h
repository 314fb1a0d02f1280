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

/* -o: what a listing command prints (table.c). WIDE is TABLE with the
 * columns a table leaves out for width, none of them cut on a narrow
 * terminal. */
enum cli_output { CLI_OUT_TABLE = 0, CLI_OUT_WIDE, CLI_OUT_JSON };

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
int cmd_status(int argc, char **argv);  /* cmd_status.c: the broker, rounds,
                                         * modes, backlog, signals */
int cmd_events(int argc, char **argv);  /* cmd_status.c: the audit log */
int cmd_signals(int argc, char **argv); /* cmd_status.c: provision/suspend */
int cmd_plot(int argc, char **argv);    /* cmd_plot.c: pictures from the store */
int cmd_host(int argc, char **argv);    /* cmd_host.c: drain, undrain */
int cmd_vm_policy(int argc, char **argv); /* cmd_vmpolicy.c: set, show */

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

/* A size in MiB: a whole number of MiB, or with a unit M, MiB, G, GiB, T
 * or TiB ("512", "512MiB", "4G"), within [min, max] MiB. Returns 0, or -1
 * with a message naming the value. */
int cli_parse_mib(const char *s, int64_t min, int64_t max, int64_t *out,
		  char *err, size_t errlen);

/* ---- conf.c: the configuration file (docs/configuration.md) ---- */

struct option;

/* The file read when neither --config nor $BOURSE_CONF names one. */
#define CLI_CONF_PATH "/etc/bourse/bourse.conf"

/* One "key = value" line: in section "broker", "agent", "seller",
 * "buyer", "cli" or "vm" (then vm is the NAME of [vm "NAME"]). */
typedef struct cli_conf_entry {
	char *section;
	char *vm;    /* NULL but in [vm "NAME"] */
	char *key;
	char *value; /* "" for "key =" */
	int line;
} cli_conf_entry;

/* A file read (cli_conf_read()), its entries in file order. Owns every
 * string; cli_conf_release() frees them. Zeroed: no file, no entries. */
typedef struct cli_conf {
	char *path; /* the file read; NULL: none (the default was missing) */
	cli_conf_entry *e;
	size_t n, cap;
} cli_conf;

/* Read the configuration: path (from --config) if not NULL, else
 * $BOURSE_CONF if set and not empty, else CLI_CONF_PATH. A missing
 * CLI_CONF_PATH is no configuration (c->path NULL); a missing named file,
 * an unreadable one, a syntax error, a section that is not one of the
 * above, an indented (continued) line or a line too long are errors:
 * -1 with "FILE:LINE: [SECTION] KEY: why" (or "FILE: why") in err and c
 * released. Keys are checked by the commands that apply them. */
int cli_conf_read(cli_conf *c, const char *path, char *err, size_t errlen);

/* Free what c holds and zero it. */
void cli_conf_release(cli_conf *c);

/* "FILE:LINE: [SECTION] KEY" of an entry, for messages. */
void cli_conf_where(const cli_conf *c, const cli_conf_entry *e, char *buf,
		    size_t size);

/* The --config PATH among argv (parsed with the command's own optstring
 * and options, whose --config option has value config_val), or NULL;
 * *help = 1 if -h or --help is there too (then the file is not read:
 * --help works whatever the file says). Prints nothing (getopt's errors
 * come with the real parse); leaves optind for a fresh getopt_long(). */
const char *cli_conf_flag(int argc, char **argv, const char *optstring,
			  const struct option *opts, int config_val,
			  int *help);

/* "true"/"yes"/"on"/"1" -> 1, "false"/"no"/"off"/"0" -> 0; else -1. */
int cli_conf_bool(const char *v);

/* Apply every entry of [section] through a command's getopt table: the
 * key is the long name of an option (not "help", "config" nor "params"); a
 * flag's value is a boolean (false: not given); each is passed to
 * fn(ctx, option's val, value or NULL, where) with where its
 * cli_conf_where(), in file order (so flags applied after override).
 * fn prints its own errors (naming where instead of the flag). Returns
 * CLI_OK, fn's status, or CLI_USAGE for an unknown key or a bad boolean
 * (printed: "bourse: FILE:LINE: [SECTION] KEY: why"). */
typedef int (*cli_conf_opt_fn)(void *ctx, int opt, const char *arg,
			       const char *where);
int cli_conf_apply(const cli_conf *c, const char *section,
		   const struct option *opts, cli_conf_opt_fn fn, void *ctx);

/* The [vm "NAME"] sections as per-VM settings for the agent's sources
 * (agents/source.h): *out (n of them, malloc'd, caller frees; names
 * borrowed from c) or -1 with "FILE:LINE: [vm "NAME"] KEY: why" in err.
 * Keys: minimum, maximum, reservation, limit (sizes, cli_parse_mib()),
 * buffer, weight, shares (whole numbers), exclude (boolean). */
struct source_vm_override;
int cli_conf_vms(const cli_conf *c, struct source_vm_override **out,
		 size_t *n, char *err, size_t errlen);

/* ---- review.c: shared by the review commands ---- */

struct json_object;

/* $BOURSE_DB if set and not empty, else ./bourse.db. Not the
 * configuration's: a command that opens the broker's database uses
 * cli_review_db() instead. */
const char *cli_default_db(void);

/* The database a review command opens when --db is not given (called
 * just before it opens it, so that --help, --db and the errors of its
 * own arguments need no configuration;
 * docs/configuration.md, "Which database"): $BOURSE_DB; else the
 * configuration's [cli] db, else its [broker] db; else ./bourse.db when
 * there is no configuration file at all. *out is borrowed (the
 * configuration is read once and kept for the process). Returns CLI_OK,
 * or prints why ("bourse CMD: ...") and returns CLI_USAGE (a bad file, a
 * file naming no database). */
int cli_review_db(const char *cmd, const char **out);

/* How long ago Unix ms was: "42s", "5m", "3h", "2d" ("-" for 0). */
void cli_fmt_age(char *buf, size_t size, int64_t ms);

/* Unix ms as "2026-11-23 17:05:48 UTC". */
void cli_fmt_time(char *buf, size_t size, int64_t ms);

/* cmd_recs_stats.c: `bourse recs stats` on an open store, as -o says
 * (-o, --no-headers). */
struct store;
int cli_recs_stats(struct store *s, enum cli_output mode, int no_headers);

/* Who the audit log says acted: "cli:USER" with USER the real user:
 * $SUDO_USER when running as root under sudo, else the name of getuid()
 * (never $USER, which anyone can set); "cli:UID" if it has no name. */
void cli_actor_name(char *buf, size_t size);

/* Print root pretty on stdout and free it (json_object_put). Returns
 * CLI_OK, or CLI_FAIL if stdout failed. */
int cli_json_print(struct json_object *root);

/* ---- views.c: what the operator's views share ---- */

#include "store.h"

/* A size for people: "512 MiB", "12.5 GiB" (one decimal from 1 GiB up);
 * exact (--mib): the whole number of MiB, no unit. */
void cli_fmt_mib(char *buf, size_t size, int64_t mib, int exact);

/* Natural order: digit runs compare as numbers (vm-2 before vm-10). */
int cli_natcmp(const char *a, const char *b);

/* Is the broker running? Its row (store_broker_get()) read against the
 * clock: a broker that stopped cleanly said so; one whose heartbeat is
 * older than CLI_BROKER_STALE_ROUNDS rounds (at least
 * CLI_BROKER_STALE_MIN_MS) was killed, hung, or cannot write its store. */
#define CLI_BROKER_STALE_ROUNDS 3
#define CLI_BROKER_STALE_MIN_MS 5000

enum cli_broker_state {
	CLI_BROKER_NEVER = 0, /* no broker ever ran on this file */
	CLI_BROKER_RUNNING,
	CLI_BROKER_STOPPED,   /* stopped cleanly */
	CLI_BROKER_SILENT,    /* no heartbeat for too long, no clean stop */
};

struct cli_broker {
	enum cli_broker_state state;
	store_broker_status st;
	int64_t down_since_ms; /* STOPPED, SILENT: since when */
	int64_t now_ms;        /* the clock it was judged by */
};

int cli_broker_view(store *s, struct cli_broker *out, char *err,
		    size_t errlen);
const char *cli_broker_state_name(enum cli_broker_state st);

/* --watch: draw(s, ctx) now, then again whenever another process commits
 * to the file (PRAGMA data_version, polled every CLI_WATCH_POLL_MS with a
 * sleep) or CLI_WATCH_REDRAW_MS have passed (ages stay true), until
 * SIGINT or SIGTERM: then CLI_OK. A draw that fails ends it with its
 * status. Frames: the screen cleared on a terminal, else a "--- <time>
 * ---" line (none between JSON documents). */
#define CLI_WATCH_POLL_MS 500
#define CLI_WATCH_REDRAW_MS 10000

int cli_watch(store *s, int (*draw)(store *, void *), void *ctx, int json,
	      const char *cmd);

/* ---- table.c: output conventions and the one table printer ---- */

#include <stdio.h>

/* "table", "wide", "json". Returns 0, or -1 for anything else. */
int cli_output_parse(const char *s, enum cli_output *out);

/* -o ARG for command cmd ("recs list"): CLI_OK, or CLI_USAGE having said
 * "bourse CMD: -o: 'ARG' is not an output format (...)". */
int cli_output_opt(const char *cmd, const char *arg, enum cli_output *out);

/* The help lines of -o, --json and --no-headers. */
#define CLI_OUTPUT_HELP                                                      \
	"  -o, --output FORMAT  table (default), wide (every column) or json\n"\
	"  --json        the same as -o json (sizes always in MiB)\n"         \
	"  --no-headers  tables without their header line\n"

#define CLI_COL_RIGHT 1u /* right-aligned: numbers */
#define CLI_COL_TRUNC 2u /* free text: may be cut on a narrow terminal */
#define CLI_COL_WIDE 4u  /* shown by -o wide only */

struct cli_col {
	const char *name; /* the header */
	unsigned flags;   /* CLI_COL_* */
};

/* A table (libsmartcols): columns given once, rows added in the order
 * they print (callers sort, e.g. with cli_natcmp()); printed on a
 * terminal with bold headers unless NO_COLOR is set, free-text columns
 * cut to the terminal's width (never with CLI_OUT_WIDE, never in a pipe).
 * The table owns copies of its cells; cols is borrowed for its lifetime.
 * NULL: out of memory. */
typedef struct cli_table cli_table;

cli_table *cli_table_new(const struct cli_col *cols, size_t ncol,
			 enum cli_output mode, int no_headers);
/* Start a row: 0, or -1 out of memory (remembered: print fails too). */
int cli_table_row(cli_table *t);
/* Set column col of the row being filled (a column not shown: nothing;
 * an empty cell prints as "-"). */
void cli_table_set(cli_table *t, size_t col, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
size_t cli_table_rows(const cli_table *t);
/* Print on out: 0, or -1 (out of memory earlier, or out failed). */
int cli_table_print(cli_table *t, FILE *out);
void cli_table_free(cli_table *t);

/* A JSON number for people: CLI_JSON_DIGITS significant digits (whole
 * from a million up), so no 9999.9999999999818; null if not finite.
 * Counts and sizes in MiB are integers (json_object_new_int64). */
#define CLI_JSON_DIGITS 6
struct json_object *cli_json_num(double v);

/* Did you mean: the one of names[0..n) closest to word (a prefix of it,
 * or at most 2 edits away, the nearest first), or NULL. */
const char *cli_suggest(const char *word, const char *const *names,
			size_t n);

#endif
