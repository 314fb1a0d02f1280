/*
 * cmd_sim.c - `bourse sim`: replay a trace through the policies and print
 * them side by side (docs/simulator.md).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "sim.h"
#include "sim_report.h"
#include "banned.h"

static const char sim_usage[] =
	"usage: bourse sim --trace PATH [options]\n"
	"\n"
	"Replay VM memory traces through the market and the baseline policies on\n"
	"the same cluster, and print what each did, side by side.\n"
	"\n"
	"  --trace PATH       a Bitbrains GWA-T-12 directory (<id>.csv[.gz]) or a\n"
	"                     bourse CSV file (docs/simulator.md)\n"
	"  --hosts N          hosts in the cluster (default 8)\n"
	"  --host-gib G       memory per host, GiB (default 32)\n"
	"  --reserve-mib M    memory per host kept for the hypervisor (default 1024)\n"
	"  --policy LIST      comma-separated: market,static,hyperv,esx,threshold,\n"
	"                     drs,repack (default: all)\n"
	"  --vms N            only the N lowest VM ids of the trace (default: all)\n"
	"  --step S           seconds per interval / market round (default 300)\n"
	"  --minimum-mib M    each VM's Minimum, capped at provisioned (default 512)\n"
	"  --startup-mib M    each VM's Startup, capped at provisioned (default 1024)\n"
	"  --buffer PCT       each VM's memory Buffer % (default 20)\n"
	"  --lag-steps N      policies decide on what was seen N steps ago\n"
	"                     (default 1: a broker acts on the last reports)\n"
	"  --migration MODEL  precopy (default): moves take time, hold memory on\n"
	"                     both hosts and are limited per host; instant: free\n"
	"  --migrate-mibps B  bandwidth of one migration, MiB/s (default 1100,\n"
	"                     10 GbE)\n"
	"  --dirty-mibps D    guest dirty rate besides its growth, MiB/s\n"
	"                     (default 100)\n"
	"  --downtime-ms MS   stop-and-copy once the rest fits (default 300)\n"
	"  --migrations-per-host K  moves in or out of a host at once (default 2)\n"
	"  --return-hours H   a move back within H hours is a return (default 24)\n"
	"  --param NAME=VAL   set a market parameter (repeatable; see --params)\n"
	"  --params           print the market parameters and exit\n"
	"  --json             print JSON instead of a table\n"
	"  --plot DIR         also draw the policies side by side over the trace\n"
	"                     (pressure, memory held, migrations) into\n"
	"                     DIR/sim-policies.png and .svg (gnuplot)\n"
	/* strong baselines (docs/baselines.md) */
	"  --drs-moves N      drs: migrations per step at most (default 1)\n"
	"  --drs-stay S       drs: seconds a VM that moved stays put (default 3600)\n"
	"  --esx-touched-sticky  esx as before issue 13: the balloon never takes\n"
	"                     touched memory below 35 % of configured\n"
	"  -h, --help         this help\n";

struct sim_args {
	const char *trace;
	int policies[SIM_N_POLICIES]; /* 1 = run it */
	size_t max_vms;
	int json, print_params;
	const char *plot_dir; /* --plot */
	sim_config cfg;
};

static int bad_value(const char *flag, const char *why)
{
	fprintf(stderr, "bourse sim: %s: %s\n", flag, why);
	return CLI_USAGE;
}

/* "market,hyperv": every comma-separated name must be a policy. */
static int parse_policies(struct sim_args *a, const char *list)
{
	memset(a->policies, 0, sizeof(a->policies));
	for (const char *p = list;; p++) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		char name[32];
		sim_policy pol;
		if (len == 0)
			return bad_value("--policy", "empty policy name in the list");
		if (len < sizeof(name)) {
			memcpy(name, p, len);
			name[len] = '\0';
		} else {
			name[0] = '\0'; /* too long to be a policy */
		}
		if (sim_policy_parse(name, &pol) != 0) {
			fprintf(stderr, "bourse sim: --policy: '%.*s' is not a policy "
				"(market, static, hyperv, esx, threshold, drs, repack)\n",
				(int)len, p);
			return CLI_USAGE;
		}
		a->policies[pol] = 1;
		if (!comma)
			return CLI_OK;
		p = comma;
	}
}

enum { O_HOST_GIB = 256, O_RESERVE, O_MINIMUM, O_STARTUP, O_BUFFER, O_PARAM,
       O_PARAMS, O_JSON, O_VMS, O_STEP, O_LAG, O_MIGRATION, O_MIG_MIBPS,
       O_DIRTY, O_DOWNTIME, O_PER_HOST, O_RETURN,
       /* strong baselines (docs/baselines.md) */
       O_DRS_MOVES = 512, O_DRS_STAY, O_ESX_STICKY,
       /* pictures */
       O_PLOT = 768 };

static const struct option sim_options[] = {
	{ "trace", required_argument, NULL, 't' },
	{ "hosts", required_argument, NULL, 'n' },
	{ "host-gib", required_argument, NULL, O_HOST_GIB },
	{ "reserve-mib", required_argument, NULL, O_RESERVE },
	{ "policy", required_argument, NULL, 'p' },
	{ "vms", required_argument, NULL, O_VMS },
	{ "step", required_argument, NULL, O_STEP },
	{ "minimum-mib", required_argument, NULL, O_MINIMUM },
	{ "startup-mib", required_argument, NULL, O_STARTUP },
	{ "buffer", required_argument, NULL, O_BUFFER },
	{ "lag-steps", required_argument, NULL, O_LAG },
	{ "migration", required_argument, NULL, O_MIGRATION },
	{ "migrate-mibps", required_argument, NULL, O_MIG_MIBPS },
	{ "dirty-mibps", required_argument, NULL, O_DIRTY },
	{ "downtime-ms", required_argument, NULL, O_DOWNTIME },
	{ "migrations-per-host", required_argument, NULL, O_PER_HOST },
	{ "return-hours", required_argument, NULL, O_RETURN },
	{ "param", required_argument, NULL, O_PARAM },
	{ "params", no_argument, NULL, O_PARAMS },
	{ "json", no_argument, NULL, O_JSON },
	{ "help", no_argument, NULL, 'h' },
	/* strong baselines (docs/baselines.md) */
	{ "drs-moves", required_argument, NULL, O_DRS_MOVES },
	{ "drs-stay", required_argument, NULL, O_DRS_STAY },
	{ "esx-touched-sticky", no_argument, NULL, O_ESX_STICKY },
	/* pictures */
	{ "plot", required_argument, NULL, O_PLOT },
	{ NULL, 0, NULL, 0 },
};

/* The options of the lag and the migration model. Returns CLI_OK,
 * CLI_USAGE (message printed), or -1 if opt is not one of them. */
static int apply_model_option(sim_config *c, int opt, const char *arg)
{
	char err[256];
	int64_t v = 0;
	const char *flag = NULL;
	int rc = 0;
	switch (opt) {
	case O_MIGRATION:
		if (strcmp(arg, "precopy") != 0 && strcmp(arg, "instant") != 0)
			return bad_value("--migration", "must be 'precopy' or 'instant'");
		c->migration_instant = strcmp(arg, "instant") == 0;
		return CLI_OK;
	case O_LAG:
		flag = "--lag-steps";
		rc = cli_parse_i64(arg, 0, 1000, &v, err, sizeof(err));
		c->lag_steps = (uint32_t)v;
		break;
	case O_MIG_MIBPS:
		flag = "--migrate-mibps";
		rc = cli_parse_double(arg, 1, 1e6, &c->migrate_mibps, err, sizeof(err));
		break;
	case O_DIRTY:
		flag = "--dirty-mibps";
		rc = cli_parse_double(arg, 0, 1e6, &c->dirty_mibps, err, sizeof(err));
		break;
	case O_DOWNTIME:
		flag = "--downtime-ms";
		rc = cli_parse_double(arg, 1, 60000, &c->downtime_ms, err, sizeof(err));
		break;
	case O_PER_HOST:
		flag = "--migrations-per-host";
		rc = cli_parse_i64(arg, 1, 64, &v, err, sizeof(err));
		c->migrate_per_host = (uint32_t)v;
		break;
	case O_RETURN:
		flag = "--return-hours";
		rc = cli_parse_i64(arg, 0, 365 * 24, &v, err, sizeof(err));
		c->return_window_s = v * 3600;
		break;
	default:
		return -1;
	}
	return rc == 0 ? CLI_OK : bad_value(flag, err);
}

/* ---- strong baselines (docs/baselines.md) ---- */
/* Apply a baseline option. Returns CLI_OK, CLI_USAGE (message printed), or
 * -1 if opt is not one of them. */
static int apply_baseline_option(sim_config *c, int opt, const char *arg)
{
	char err[256];
	int64_t v = 0;
	switch (opt) {
	case O_ESX_STICKY:
		c->esx_touched_sticky = 1;
		return CLI_OK;
	case O_DRS_MOVES:
		if (cli_parse_i64(arg, 1, 1000, &v, err, sizeof(err)) != 0)
			return bad_value("--drs-moves", err);
		c->drs_moves = (uint32_t)v;
		return CLI_OK;
	case O_DRS_STAY:
		if (cli_parse_i64(arg, 0, 30 * 86400, &v, err, sizeof(err)) != 0)
			return bad_value("--drs-stay", err);
		c->drs_stay_s = v;
		return CLI_OK;
	default:
		return -1;
	}
}
/* ---- end of the strong baselines' options ---- */

/* Apply one parsed option. Returns CLI_OK or CLI_USAGE (message printed). */
static int apply_option(struct sim_args *a, int opt, const char *arg)
{
	char err[256];
	int64_t v = 0;
	sim_config *c = &a->cfg;
	const char *flag = NULL;
	int rc = apply_model_option(c, opt, arg);
	if (rc != -1)
		return rc;
	rc = 0;
	switch (opt) {
	case 't': a->trace = arg; return CLI_OK;
	case 'p': return parse_policies(a, arg);
	case O_JSON: a->json = 1; return CLI_OK;
	case O_PLOT:
		if (!*arg)
			return bad_value("--plot", "the directory name is empty");
		a->plot_dir = arg;
		return CLI_OK;
	case O_PARAMS: a->print_params = 1; return CLI_OK;
	case O_PARAM:
		if (cli_market_param_set(&c->market, arg, err, sizeof(err)) != 0)
			return bad_value("--param", err);
		return CLI_OK;
	case 'n':
		flag = "--hosts";
		rc = cli_parse_i64(arg, 1, 100000, &v, err, sizeof(err));
		c->n_hosts = (uint32_t)v;
		break;
	case O_HOST_GIB:
		flag = "--host-gib";
		rc = cli_parse_i64(arg, 1, 1 << 22, &v, err, sizeof(err));
		c->host_mib = v * 1024;
		break;
	case O_RESERVE:
		flag = "--reserve-mib";
		rc = cli_parse_i64(arg, 0, (int64_t)1 << 32, &v, err, sizeof(err));
		c->host_reserve_mib = v;
		break;
	case O_VMS:
		flag = "--vms";
		rc = cli_parse_i64(arg, 1, 10000000, &v, err, sizeof(err));
		a->max_vms = (size_t)v;
		break;
	case O_STEP:
		flag = "--step";
		rc = cli_parse_i64(arg, 1, 86400, &v, err, sizeof(err));
		c->step_s = v;
		c->hold_s = 2 * v;
		break;
	case O_MINIMUM:
		flag = "--minimum-mib";
		rc = cli_parse_i64(arg, 1, (int64_t)1 << 32, &v, err, sizeof(err));
		c->vm_minimum_mib = v;
		break;
	case O_STARTUP:
		flag = "--startup-mib";
		rc = cli_parse_i64(arg, 1, (int64_t)1 << 32, &v, err, sizeof(err));
		c->vm_startup_mib = v;
		break;
	case O_BUFFER:
		flag = "--buffer";
		rc = cli_parse_i64(arg, 0, 2000, &v, err, sizeof(err));
		c->vm_buffer_pct = (uint32_t)v;
		break;
	default: /* the strong baselines', or getopt printed what was wrong */
		rc = apply_baseline_option(c, opt, arg);
		return rc < 0 ? CLI_USAGE : rc;
	}
	return rc == 0 ? CLI_OK : bad_value(flag, err);
}

static int parse_args(struct sim_args *a, int argc, char **argv, int *done)
{
	memset(a, 0, sizeof(*a));
	sim_config_default(&a->cfg);
	for (int p = 0; p < SIM_N_POLICIES; p++)
		a->policies[p] = 1;
	optind = 0; /* full re-initialisation: cmd_sim may run more than once */
	opterr = 1;
	int opt;
	while ((opt = getopt_long(argc, argv, "+ht:n:p:", sim_options, NULL)) != -1) {
		if (opt == 'h') {
			fputs(sim_usage, stdout);
			*done = 1;
			return CLI_OK;
		}
		if (opt == '?' || opt == ':') {
			fprintf(stderr, "see 'bourse sim --help'\n");
			return CLI_USAGE;
		}
		int rc = apply_option(a, opt, optarg);
		if (rc != CLI_OK)
			return rc;
	}
	if (optind < argc) {
		fprintf(stderr, "bourse sim: unexpected argument '%s'\n", argv[optind]);
		return CLI_USAGE;
	}
	char err[256];
	if (sim_config_validate(&a->cfg, err, sizeof(err)) != 0)
		return bad_value("configuration", err);
	if (a->print_params) {
		cli_market_params_print(&a->cfg.market);
		*done = 1;
		return CLI_OK;
	}
	if (!a->trace)
		return bad_value("--trace", "is required (a trace directory or file)");
	return CLI_OK;
}

/* --plot DIR: made if missing (its parent must exist). */
static int make_plot_dir(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0777) == 0 || (errno == EEXIST && stat(dir, &st) == 0 &&
				      S_ISDIR(st.st_mode)))
		return CLI_OK;
	fprintf(stderr, "bourse sim: --plot: cannot make the directory '%s': "
		"%s\n", dir, errno == EEXIST ? "a file has that name"
					     : strerror(errno));
	return CLI_FAIL;
}

/* Each policy asked for, then the report (and with --plot the pictures). */
static int run_policies(const struct sim_args *a, const trace_set *t,
			sim_report *rep)
{
	sim_series series[SIM_N_POLICIES];
	char err[512];
	int rc = CLI_FAIL;

	memset(series, 0, sizeof(series));
	if (a->plot_dir && make_plot_dir(a->plot_dir) != CLI_OK)
		return CLI_FAIL;
	for (int p = 0; p < SIM_N_POLICIES; p++) {
		if (!a->policies[p])
			continue;
		sim_series *ser = &series[rep->n_rows];
		sim_report_row *row = &rep->rows[rep->n_rows++];
		row->policy = (sim_policy)p;
		sim_series_init(ser, t, a->cfg.step_s);
		if (sim_run_observed(&a->cfg, t, (sim_policy)p,
				     a->plot_dir ? sim_series_observe : NULL,
				     ser, &row->m, err, sizeof(err)) != 0) {
			fprintf(stderr, "bourse sim: policy '%s': %s\n",
				sim_policy_name((sim_policy)p), err);
			goto out;
		}
	}
	if ((a->json ? sim_report_json(rep, stdout)
		     : sim_report_table(rep, stdout)) != 0)
		goto out;
	if (a->plot_dir) {
		fflush(stdout);
		if (sim_report_plot(rep, series, a->plot_dir, err,
				    sizeof(err)) != 0) {
			fprintf(stderr, "bourse sim: --plot: %s\n", err);
			goto out;
		}
		fprintf(stderr, "bourse sim: plots: %s/sim-policies.png, "
			"%s/sim-policies.svg\n", a->plot_dir, a->plot_dir);
	}
	rc = CLI_OK;
out:
	for (size_t i = 0; i < SIM_N_POLICIES; i++)
		sim_series_release(&series[i]);
	return rc;
}

int cmd_sim(int argc, char **argv)
{
	struct sim_args a;
	int done = 0;
	int rc = parse_args(&a, argc, argv, &done);
	if (rc != CLI_OK || done)
		return rc;

	char err[512];
	trace_set t;
	trace_opts topts = { .max_vms = a.max_vms };
	if (trace_load(a.trace, &topts, &t, err, sizeof(err)) != 0) {
		fprintf(stderr, "bourse sim: %s\n", err);
		return CLI_FAIL;
	}
	sim_report rep = { .trace_path = a.trace, .cfg = &a.cfg, .trace = &t };
	if (sim_lower_bound(&a.cfg, &t, &rep.lower_bound_gib_h, err,
			    sizeof(err)) != 0) {
		fprintf(stderr, "bourse sim: %s\n", err);
		trace_set_release(&t);
		return CLI_FAIL;
	}
	rc = run_policies(&a, &t, &rep);
	trace_set_release(&t);
	return rc;
}
