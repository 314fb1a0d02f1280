/*
 * cmd_broker.c - `bourse broker`: run the market broker (broker/broker.h).
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "cli.h"
#include "log.h"
#include "util.h"
#include "wire.h"
#include "banned.h"

/* Exit status of a broker stopped on a damaged database: distinct, so that
 * a service manager does not start it again on the same file
 * (contrib/bourse-broker.service: RestartPreventExitStatus=3). */
#define BROKER_EXIT_DAMAGED 3

static const char broker_usage[] =
	"usage: bourse broker [options]\n"
	"\n"
	"Run the market broker of a cluster: agents register and bid, every\n"
	"round the market clears, and prices, allocations and recommendations\n"
	"are written to the database (docs/protocol.md, docs/storage.md).\n"
	"\n"
	"  --listen ENDPOINT  ZeroMQ endpoint to bind (default " WIRE_DEFAULT_ENDPOINT
	")\n"
	"  --config PATH      the configuration file (default $BOURSE_CONF, else\n"
	"                     /etc/bourse/bourse.conf if it exists): its [broker]\n"
	"                     keys are these options' names; flags override it\n"
	"  --db PATH          SQLite database, created if missing (default\n"
	"                     $BOURSE_DB, else [broker] db, else ./bourse.db)\n"
	"  --round-ms N       market round period (default 5000)\n"
	"  --heartbeat-ms N   agents must be heard from this often (default 1000)\n"
	"  --liveness N       missed heartbeats before a host is lost (default 3)\n"
	"  --rec-ttl-s N      a pending recommendation expires after N s (default 600)\n"
	"  --rec-drift F      ... or once its prices moved by this share (default 0.25)\n"
	"  --retention-s N    keep samples, allocations and prices N s; 0 = forever\n"
	"                     (default 86400)\n"
	"  --score-rounds N   shadow scoring: score each recommendation on the N\n"
	"                     rounds after it was last made; 0 = off (default 3)\n"
	"  --rounds N         stop after N rounds (default: run until signalled)\n"
	"  --param NAME=VAL   set a market parameter (repeatable; see --params)\n"
	"  --params           print the market parameters and exit\n"
	"  --mode-resize-up M, --mode-resize-down M, --mode-migrate M\n"
	"                     the mode (recommend, manual, automated) a new\n"
	"                     database starts with for that kind (default:\n"
	"                     resizes automated, migrate manual); once modes\n"
	"                     were set (bourse mode), they stand\n"
	"  --max-actions N    guardrail: new dispatches per round (default 4)\n"
	"  --max-migrations N guardrail: migrations in flight per host (default 2)\n"
	"  --vm-cooldown-s N  guardrail: no new action on a VM this soon after its\n"
	"                     last one (default 600)\n"
	"  --action-timeout-s N  a dispatched action with no result by then has\n"
	"                     failed (default 600)\n"
	"  --store-outage-s N stop (exit 1) once the database has refused every\n"
	"                     round for N s; 0: never (default 600); a damaged\n"
	"                     file stops it at once (exit 3)\n"
	"  --key FILE         CURVE: the broker's key pair (bourse keygen NAME:\n"
	"                     NAME.key); with --allow\n"
	"  --allow FILE       CURVE: agents' public keys, one 'HOST KEY' a line;\n"
	"                     a key may speak only for its host and its VMs\n"
	"  --insecure         no CURVE on a tcp:// endpoint (logged as a warning);\n"
	"                     without keys a tcp:// endpoint is refused\n"
	"  --peer-rate N      frames a second one connection may send; more are\n"
	"                     dropped and counted (default 5000; 0: no limit)\n"
	"  --peer-burst N     ... in a burst, e.g. registering VMs (default 20000)\n"
	"  --max-conns-per-key N  CURVE: connections one key may hold at once;\n"
	"                     a further one is closed (default 4: an agent holds\n"
	"                     one, a reset's old one may linger; 0: no cap)\n"
	"  --handshake-timeout-s N  close a connection whose handshake is not\n"
	"                     done by then (default 10)\n"
	"  --probation-rounds N  a new host, or one registering another capacity\n"
	"                     or URI, is a migration target only after N rounds\n"
	"                     (default 12)\n"
	"  --max-host-mib N   the most memory a host may register, and a VM ask\n"
	"                     for (default 16777216: 16 TiB)\n"
	"  --max-vms-per-host N  VMs one host may hold; more are refused\n"
	"                     (default 4096)\n"
	"  --http ADDR:PORT   serve /metrics and the JSON API (docs/api.md) on\n"
	"                     this numeric address, e.g. 127.0.0.1:9411 or\n"
	"                     [::1]:9411 (port 0: any, logged); off by default.\n"
	"                     Reads are open on loopback; off loopback the\n"
	"                     server needs TLS and a token file\n"
	"  --http-token-file FILE  'NAME TOKEN' lines (mode 0600): writes need\n"
	"                     'Authorization: Bearer TOKEN' and are audited as\n"
	"                     api:NAME; without it the API is read-only\n"
	"  --http-tls-cert FILE  HTTPS: the server's PEM certificate (chain)\n"
	"  --http-tls-key FILE   ... and its PEM private key (mode 0600)\n"
	"  --http-no-vm-metrics  no per-VM series in /metrics (large clusters)\n"
	"  --quiet            no log line per round\n"
	"  --log-level LEVEL  err, warning, notice, info or debug (default info;\n"
	"                     debug adds a line per round); on the journal\n"
	"                     when run by systemd (docs/operations.md)\n"
	"  -h, --help         this help\n"
	"\n"
	"SIGINT or SIGTERM stop it cleanly.\n";

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

enum { O_LISTEN = 256, O_DB, O_ROUND, O_HB, O_LIVENESS, O_TTL, O_DRIFT,
       O_RETENTION, O_ROUNDS, O_PARAM, O_PARAMS, O_QUIET, O_MAX_ACTIONS,
       O_MAX_MIGRATIONS, O_COOLDOWN, O_ACTION_TIMEOUT, O_SCORE, O_KEY,
       O_ALLOW, O_INSECURE, O_PEER_RATE, O_PEER_BURST, O_STORE_OUTAGE,
       O_LOG_LEVEL, O_HTTP, O_HTTP_TOKENS, O_HTTP_CERT, O_HTTP_KEY,
       O_HTTP_NO_VM };
enum { O_MAX_CONNS = 2000, O_HANDSHAKE }; /* bounds per peer */
enum { O_CONFIG = 1000, /* bourse.conf (cli/conf.c) */
       O_MODE_UP, O_MODE_DOWN, O_MODE_MIGRATE }; /* in STORE_ACT_ order */
enum { O_PROBATION = 1100, O_MAX_HOST_MIB, O_MAX_VMS_PER_HOST }; /* owners */

static const struct option broker_options[] = {
	{ "listen", required_argument, NULL, O_LISTEN },
	{ "db", required_argument, NULL, O_DB },
	{ "round-ms", required_argument, NULL, O_ROUND },
	{ "heartbeat-ms", required_argument, NULL, O_HB },
	{ "liveness", required_argument, NULL, O_LIVENESS },
	{ "rec-ttl-s", required_argument, NULL, O_TTL },
	{ "rec-drift", required_argument, NULL, O_DRIFT },
	{ "retention-s", required_argument, NULL, O_RETENTION },
	{ "rounds", required_argument, NULL, O_ROUNDS },
	{ "param", required_argument, NULL, O_PARAM },
	{ "params", no_argument, NULL, O_PARAMS },
	{ "max-actions", required_argument, NULL, O_MAX_ACTIONS },
	{ "score-rounds", required_argument, NULL, O_SCORE },
	{ "max-migrations", required_argument, NULL, O_MAX_MIGRATIONS },
	{ "vm-cooldown-s", required_argument, NULL, O_COOLDOWN },
	{ "action-timeout-s", required_argument, NULL, O_ACTION_TIMEOUT },
	{ "quiet", no_argument, NULL, O_QUIET },
	{ "key", required_argument, NULL, O_KEY },
	{ "allow", required_argument, NULL, O_ALLOW },
	{ "insecure", no_argument, NULL, O_INSECURE },
	{ "peer-rate", required_argument, NULL, O_PEER_RATE },
	{ "peer-burst", required_argument, NULL, O_PEER_BURST },
	{ "store-outage-s", required_argument, NULL, O_STORE_OUTAGE },
	{ "max-conns-per-key", required_argument, NULL, O_MAX_CONNS },
	{ "handshake-timeout-s", required_argument, NULL, O_HANDSHAKE },
	{ "log-level", required_argument, NULL, O_LOG_LEVEL },
	{ "http", required_argument, NULL, O_HTTP },
	{ "http-token-file", required_argument, NULL, O_HTTP_TOKENS },
	{ "http-tls-cert", required_argument, NULL, O_HTTP_CERT },
	{ "http-tls-key", required_argument, NULL, O_HTTP_KEY },
	{ "http-no-vm-metrics", no_argument, NULL, O_HTTP_NO_VM },
	{ "config", required_argument, NULL, O_CONFIG },
	{ "mode-resize-up", required_argument, NULL, O_MODE_UP },
	{ "mode-resize-down", required_argument, NULL, O_MODE_DOWN },
	{ "mode-migrate", required_argument, NULL, O_MODE_MIGRATE },
	{ "probation-rounds", required_argument, NULL, O_PROBATION },
	{ "max-host-mib", required_argument, NULL, O_MAX_HOST_MIB },
	{ "max-vms-per-host", required_argument, NULL, O_MAX_VMS_PER_HOST },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* While a bourse.conf entry is applied: "FILE:LINE: [broker] KEY", named
 * in messages instead of the flag. */
static const char *conf_where;

static int bad_value(const char *flag, const char *why)
{
	if (conf_where)
		fprintf(stderr, "bourse: %s: %s\n", conf_where, why);
	else
		fprintf(stderr, "bourse broker: %s: %s\n", flag, why);
	return CLI_USAGE;
}

/* --log-level: the process's (log.h). */
static int log_level_option(const char *arg)
{
	char err[128];
	int level;

	if (log_level_parse(arg, &level, err, sizeof(err)))
		return bad_value("--log-level", err);
	log_setup(level);
	return CLI_OK;
}

/* --mode-KIND: the mode a database no one set modes in starts with, per
 * store_action; -1: the store's own default. */
static int initial_mode[STORE_N_ACTS];

static int mode_option(int opt, const char *arg)
{
	store_action act = (store_action)(opt - O_MODE_UP);
	char flag[64];
	store_mode m;

	if (store_mode_parse(arg, &m) != 0) {
		snprintf(flag, sizeof(flag), "--mode-%s",
			 store_action_name(act));
		return bad_value(flag, "expected recommend, manual or "
				 "automated");
	}
	initial_mode[act] = (int)m;
	return CLI_OK;
}

/* Integer flags: where each goes, its range and its unit scale. */
static int int_option(broker_config *c, int opt, const char *arg)
{
	struct { int opt; const char *flag; int64_t min, max, scale; int64_t *dst; }
	ints[] = {
		{ O_ROUND, "--round-ms", 10, 3600000, 1, &c->round_ms },
		{ O_HB, "--heartbeat-ms", 10, 600000, 1, &c->heartbeat_ms },
		{ O_TTL, "--rec-ttl-s", 1, 365 * 86400, 1000, &c->recs.ttl_ms },
		{ O_RETENTION, "--retention-s", 0, 10 * 365 * 86400, 1000,
		  &c->recs.retention_ms },
		{ O_ROUNDS, "--rounds", 1, INT64_MAX / 2, 1, &c->max_rounds },
		{ O_SCORE, "--score-rounds", 0, 1000, 1, &c->recs.score_rounds },
		{ O_MAX_ACTIONS, "--max-actions", 0, 100000, 1,
		  &c->guard.max_actions_per_round },
		{ O_MAX_MIGRATIONS, "--max-migrations", 0, 1000, 1,
		  &c->guard.max_migrations_per_host },
		{ O_COOLDOWN, "--vm-cooldown-s", 0, 30 * 86400, 1000,
		  &c->guard.vm_cooldown_ms },
		{ O_ACTION_TIMEOUT, "--action-timeout-s", 1, 86400, 1000,
		  &c->guard.action_timeout_ms },
		{ O_PEER_RATE, "--peer-rate", 0, 100000000, 1, &c->peer_rate },
		{ O_PEER_BURST, "--peer-burst", 1, 100000000, 1,
		  &c->peer_burst },
		{ O_STORE_OUTAGE, "--store-outage-s", 0, 30 * 86400, 1000,
		  &c->store_outage_ms },
		{ O_MAX_CONNS, "--max-conns-per-key", 0, 10000, 1,
		  &c->max_conns_per_key },
		{ O_HANDSHAKE, "--handshake-timeout-s", 1, 600, 1000,
		  &c->handshake_ms },
		{ O_PROBATION, "--probation-rounds", 0, 1000000, 1,
		  &c->probation_rounds },
		{ O_MAX_HOST_MIB, "--max-host-mib", 1, WIRE_MAX_MIB, 1,
		  &c->max_host_mib },
		{ O_MAX_VMS_PER_HOST, "--max-vms-per-host", 1, 1000000, 1,
		  &c->max_vms_per_host },
	};
	char err[256];
	int64_t v;

	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		if (ints[i].opt != opt)
			continue;
		if (cli_parse_i64(arg, ints[i].min, ints[i].max, &v, err,
				  sizeof(err)))
			return bad_value(ints[i].flag, err);
		*ints[i].dst = v * ints[i].scale;
		return CLI_OK;
	}
	return -1;
}

static int apply_option(broker_config *c, int opt, const char *arg,
			int *print_params)
{
	char err[256];
	int64_t v;
	int rc = int_option(c, opt, arg);

	if (rc != -1)
		return rc;
	switch (opt) {
	case O_LISTEN: c->listen = arg; return CLI_OK;
	case O_DB: c->db_path = arg; return CLI_OK;
	case O_QUIET: c->quiet = 1; return CLI_OK;
	case O_KEY: c->key_file = arg; return CLI_OK;
	case O_ALLOW: c->allow_file = arg; return CLI_OK;
	case O_INSECURE: c->insecure = 1; return CLI_OK;
	case O_PARAMS: *print_params = 1; return CLI_OK;
	case O_LOG_LEVEL: return log_level_option(arg);
	case O_HTTP: c->http = arg; return CLI_OK;
	case O_HTTP_TOKENS: c->http_token_file = arg; return CLI_OK;
	case O_HTTP_CERT: c->http_tls_cert = arg; return CLI_OK;
	case O_HTTP_KEY: c->http_tls_key = arg; return CLI_OK;
	case O_HTTP_NO_VM: c->http_no_vm_metrics = 1; return CLI_OK;
	case O_CONFIG: return CLI_OK; /* read before the others */
	case O_MODE_UP: case O_MODE_DOWN: case O_MODE_MIGRATE:
		return mode_option(opt, arg);
	case O_PARAM:
		if (cli_market_param_set(&c->market, arg, err, sizeof(err)))
			return bad_value("--param", err);
		return CLI_OK;
	case O_LIVENESS:
		if (cli_parse_i64(arg, 1, 1000, &v, err, sizeof(err)))
			return bad_value("--liveness", err);
		c->liveness = (uint32_t)v;
		return CLI_OK;
	case O_DRIFT:
		if (cli_parse_double(arg, 0.0, 100.0, &c->recs.price_drift, err,
				     sizeof(err)))
			return bad_value("--rec-drift", err);
		return CLI_OK;
	default:
		return CLI_USAGE; /* getopt printed what was wrong */
	}
}

struct conf_ctx {
	broker_config *c;
	int *print_params;
};

static int conf_option(void *ctx, int opt, const char *arg, const char *where)
{
	struct conf_ctx *x = ctx;
	int rc;

	conf_where = where;
	rc = apply_option(x->c, opt, arg, x->print_params);
	conf_where = NULL;
	return rc;
}

/* bourse.conf's [broker] (--config, $BOURSE_CONF or the default file),
 * then $BOURSE_DB over its db: before the flags, which override both. */
static int apply_conf(broker_config *c, cli_conf *conf, int argc,
		      char **argv, int *print_params)
{
	int help;
	const char *path = cli_conf_flag(argc, argv, "+h", broker_options,
					 O_CONFIG, &help);
	const char *env = getenv("BOURSE_DB");
	struct conf_ctx x = { c, print_params };
	char err[768];
	int rc;

	memset(conf, 0, sizeof(*conf));
	if (help)
		return CLI_OK;
	if (cli_conf_read(conf, path, err, sizeof(err)) != 0) {
		fprintf(stderr, "bourse: %s\n", err);
		return CLI_USAGE;
	}
	rc = cli_conf_apply(conf, "broker", broker_options, conf_option, &x);
	if (env && *env)
		c->db_path = env;
	return rc;
}

static int parse_args(broker_config *c, cli_conf *conf, int argc,
		      char **argv, int *done)
{
	int opt, print_params = 0;

	broker_config_default(c);
	c->db_path = "./bourse.db";
	for (int k = 0; k < STORE_N_ACTS; k++)
		initial_mode[k] = -1;
	if (apply_conf(c, conf, argc, argv, &print_params) != CLI_OK)
		return CLI_USAGE;
	optind = 0;
	opterr = 1;
	while ((opt = getopt_long(argc, argv, "+h", broker_options, NULL)) != -1) {
		if (opt == 'h') {
			fputs(broker_usage, stdout);
			*done = 1;
			return CLI_OK;
		}
		if (opt == '?' || opt == ':') {
			fprintf(stderr, "see 'bourse broker --help'\n");
			return CLI_USAGE;
		}
		int rc = apply_option(c, opt, optarg, &print_params);

		if (rc != CLI_OK)
			return rc;
	}
	if (optind < argc) {
		fprintf(stderr, "bourse broker: unexpected argument '%s'\n",
			argv[optind]);
		return CLI_USAGE;
	}
	char err[256];

	if (broker_config_validate(c, err, sizeof(err)))
		return bad_value("configuration", err);
	if (print_params) {
		cli_market_params_print(&c->market);
		*done = 1;
	}
	return CLI_OK;
}

/* The --mode-KIND flags on a database whose modes no one ever set
 * (control's updated_ms 0: a new file), audited as set by the broker.
 * Returns CLI_OK, or CLI_FAIL (printed). */
static int apply_initial_modes(const broker_config *c)
{
	store *s = NULL;
	store_control ctl;
	char err[512];
	int rc = 0, any = 0;

	for (int k = 0; k < STORE_N_ACTS; k++)
		any |= initial_mode[k] >= 0;
	if (!any)
		return CLI_OK;
	if (store_open(c->db_path, STORE_CREATE, &s, err, sizeof(err)) != 0 ||
	    store_control_get(s, &ctl, err, sizeof(err)) != 0)
		rc = -1;
	for (int k = 0; rc == 0 && k < STORE_N_ACTS; k++) {
		if (initial_mode[k] < 0 || (int)ctl.mode[k] == initial_mode[k])
			continue;
		if (ctl.updated_ms == 0)
			rc = store_mode_set(s, (store_action)k,
					    (store_mode)initial_mode[k],
					    "broker", util_wall_ms(), NULL,
					    err, sizeof(err));
		else
			fprintf(stderr, "bourse broker: note: --mode-%s %s not "
				"applied: %s set the modes of %s already "
				"(bourse mode changes them)\n",
				store_action_name((store_action)k),
				store_mode_name((store_mode)initial_mode[k]),
				ctl.updated_by, c->db_path);
	}
	store_close(s);
	if (rc == 0)
		return CLI_OK;
	fprintf(stderr, "bourse broker: %s\n", err);
	return CLI_FAIL;
}

int cmd_broker(int argc, char **argv)
{
	broker_config c;
	cli_conf conf; /* c borrows its strings */
	int done = 0;
	int rc = parse_args(&c, &conf, argc, argv, &done);
	struct sigaction sa;
	char err[512];

	if (rc == CLI_OK && !done)
		rc = apply_initial_modes(&c);
	if (rc != CLI_OK || done) {
		cli_conf_release(&conf);
		return rc;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	rc = broker_run(&c, &stop_flag, NULL, err, sizeof(err));
	rc = rc == BROKER_DAMAGED ? BROKER_EXIT_DAMAGED : rc ? CLI_FAIL : CLI_OK;
	if (rc != CLI_OK)
		log_at(LOG_ERR, NULL, "bourse broker: %s", err);
	cli_conf_release(&conf);
	return rc;
}
