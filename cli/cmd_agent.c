/*
 * cmd_agent.c - `bourse agent`, `bourse seller` and `bourse buyer`: a host's
 * seller and its VMs' buyers, the seller alone, or one VM's buyer, fed by a
 * source (agents/source.h: a trace, or this machine through /proc, libvirt
 * or cgroup v2) and talking to the broker (agents/agent.h).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent.h"
#include "cli.h"
#include "log.h"
#include "source.h"
#include "util.h"
#include "wire.h"
#include "world.h"
#include "banned.h"


/* The emulated hypervisor's migration bandwidth, MiB/s: 10 GbE's payload
 * (docs/emulated.md, "Migration time"; the simulator's figure). */
#define EMU_MIGRATE_MIBPS 1100.0
#define EMU_MAX_MIBPS 1e6 /* 1 TiB/s: beyond any link */

/* The bid interval the libvirt source assumes when the agent bids at the
 * broker's round (its interval is not known before the Welcome): the
 * default round. */
#define LIBVIRT_INTERVAL_S SOURCE_LIBVIRT_INTERVAL_S

static const char agent_usage[] =
	"usage: bourse agent --host NAME --capacity-mib N --trace PATH\n"
	"                    --vms FIRST:COUNT [options]\n"
	"       bourse agent --host NAME --source libvirt [--uri URI] [options]\n"
	"       bourse agent --host NAME --source cgroup --cgroup-parent P\n"
	"                    [options]\n"
	"\n"
	"Run a host's seller and a buyer for each of its VMs over one connection\n"
	"to the broker. With a trace (--source trace, the default), the host\n"
	"carries VMs FIRST..FIRST+COUNT-1 of the trace (in id order), replayed\n"
	"one step per bid interval, wrapping around. With libvirt or cgroup, the\n"
	"host's figures come from /proc (memory, swap, PSI) and the VMs are the\n"
	"running domains of URI, or the child cgroups of P under /sys/fs/cgroup.\n"
	"\n"
	"  --broker ENDPOINT  the broker (default " WIRE_DEFAULT_ENDPOINT ")\n"
	"  --key FILE         CURVE: this agent's key pair (bourse keygen HOST)\n"
	"  --broker-key FILE  CURVE: the broker's public key (BROKER.pub);\n"
	"                     both are required for a tcp:// broker\n"
	"  --insecure         a tcp:// broker without CURVE (a warning)\n"
	"  --host NAME        the host's name\n"
	"  --source KIND      trace, libvirt or cgroup (default trace)\n"
	"  --capacity-mib N   the host's physical memory (trace only)\n"
	"  --reserve-mib N    memory kept for the hypervisor (default 1024)\n"
	"  --uri URI          the host's hypervisor URI; with libvirt, the one\n"
	"                     read (default qemu:///system)\n"
	"  --cgroup-parent P  the cgroup whose children are the VMs (cgroup)\n"
	"  --actuator KIND    carries out dispatched actions: none, dry-run,\n"
	"                     libvirt (on --uri), cgroup or emulated (with\n"
	"                     --source trace and --world; default none:\n"
	"                     every action is answered unsupported)\n"
	"  --world DIR        emulated: the world the machine's emulated agents\n"
	"                     share (which host holds each VM, with how much;\n"
	"                     created if missing); the host's URI becomes\n"
	"                     emulated://NAME (docs/emulated.md)\n"
	"  --migrate-mibps B  emulated: migration bandwidth, MiB/s (default\n"
	"                     1100, 10 GbE)\n"
	"  --dirty-mibps D    emulated: a migrating VM's dirty rate, MiB/s\n"
	"                     (default: its demand's growth in the trace)\n"
	"  --migrate-disks M  libvirt: which VMs a migration may move: shared\n"
	"                     (default: disks on shared storage only), copy\n"
	"                     (local disks copied in full with the memory)\n"
	"                     or unsafe (libvirt's safety check skipped: a\n"
	"                     disk not really shared can be corrupted)\n"
	"  --dry-run-delay-ms N  each dry-run action takes N ms (a rehearsal of\n"
	"                     slow ones; default 0)\n"
	"  --state-dir DIR    where the actuator remembers the action ids it\n"
	"                     carried out (DIR/HOST.actions, fsync'd before\n"
	"                     each action: none is done twice across restarts;\n"
	"                     default $STATE_DIRECTORY, else memory only)\n"
	"  --trace PATH       a Bitbrains directory or a bourse CSV file\n"
	"  --vms FIRST:COUNT  the trace's VMs this host carries\n"
	"  --vm-prefix P      VM names are P<trace id> (default vm-)\n"
	"  --step-s S         trace seconds per bid interval (default 300)\n"
	"  --minimum-mib M    each VM's Minimum, capped at its maximum, unless\n"
	"                     the source reads it (default 512; libvirt: a\n"
	"                     quarter of what it has when found, at least\n"
	"                     128, at most what it has)\n"
	"  --startup-mib M    each trace VM's Startup, capped at its maximum\n"
	"                     (default 1024; libvirt and cgroup: what it has)\n"
	"  --buffer PCT       each VM's memory Buffer % (default 20)\n"
	"  --interval-ms N    bid interval (default: the broker's round)\n"
	"  --run-for-s N      stop after N seconds (default: until signalled)\n"
	"  --config PATH      the configuration file (default $BOURSE_CONF, else\n"
	"                     /etc/bourse/bourse.conf if it exists): its [agent]\n"
	"                     keys are these options' names, [vm \"NAME\"] a VM's\n"
	"                     settings; flags override it\n"
	"  --verbose          log every award\n"
	"  --log-level LEVEL  err, warning, notice, info or debug (default info)\n"
	"  -h, --help         this help\n";

static const char seller_usage[] =
	"usage: bourse seller --host NAME --capacity-mib N [options]\n"
	"       bourse seller --host NAME --source linux [options]\n"
	"\n"
	"Run a host's seller only. With --trace and --vms, the host's free memory\n"
	"is what those trace VMs leave; without, all of capacity minus reserve.\n"
	"With --source linux, this machine's memory, swap and PSI from /proc.\n"
	"\n"
	"  --broker ENDPOINT  the broker (default " WIRE_DEFAULT_ENDPOINT ")\n"
	"  --key FILE         CURVE: this agent's key pair (bourse keygen HOST)\n"
	"  --broker-key FILE  CURVE: the broker's public key (BROKER.pub);\n"
	"                     both are required for a tcp:// broker\n"
	"  --insecure         a tcp:// broker without CURVE (a warning)\n"
	"  --host NAME        the host's name\n"
	"  --source KIND      trace or linux (default trace: static without\n"
	"                     --trace)\n"
	"  --capacity-mib N   the host's physical memory (not with linux)\n"
	"  --reserve-mib N    memory kept for the hypervisor (default 1024)\n"
	"  --uri URI          the host's hypervisor URI (default none)\n"
	"  --trace PATH       a Bitbrains directory or a bourse CSV file\n"
	"  --vms FIRST:COUNT  the trace's VMs this host carries (with --trace)\n"
	"  --step-s S         trace seconds per ask interval (default 300)\n"
	"  --interval-ms N    ask interval (default: the broker's round)\n"
	"  --run-for-s N      stop after N seconds (default: until signalled)\n"
	"  --config PATH      the configuration file (default $BOURSE_CONF, else\n"
	"                     /etc/bourse/bourse.conf if it exists): its [seller]\n"
	"                     keys are these options' names; flags override it\n"
	"  --verbose          log every award\n"
	"  --log-level LEVEL  err, warning, notice, info or debug (default info)\n"
	"  -h, --help         this help\n";

static const char buyer_usage[] =
	"usage: bourse buyer --host NAME --trace PATH --vm INDEX [options]\n"
	"\n"
	"Run one VM's buyer: the trace's VM number INDEX (0-based, in id order),\n"
	"running on host NAME.\n"
	"\n"
	"  --broker ENDPOINT  the broker (default " WIRE_DEFAULT_ENDPOINT ")\n"
	"  --key FILE         CURVE: this agent's key pair (bourse keygen HOST)\n"
	"  --broker-key FILE  CURVE: the broker's public key (BROKER.pub);\n"
	"                     both are required for a tcp:// broker\n"
	"  --insecure         a tcp:// broker without CURVE (a warning)\n"
	"  --host NAME        the host the VM runs on\n"
	"  --trace PATH       a Bitbrains directory or a bourse CSV file\n"
	"  --vm INDEX         the trace's VM\n"
	"  --vm-prefix P      the VM's name is P<trace id> (default vm-)\n"
	"  --step-s S         trace seconds per bid interval (default 300)\n"
	"  --minimum-mib M    the VM's Minimum, capped at its maximum\n"
	"                     (default 512)\n"
	"  --startup-mib M    the VM's Startup, capped at its maximum\n"
	"                     (default 1024)\n"
	"  --buffer PCT       the VM's memory Buffer % (default 20)\n"
	"  --interval-ms N    bid interval (default: the broker's round)\n"
	"  --run-for-s N      stop after N seconds (default: until signalled)\n"
	"  --config PATH      the configuration file (default $BOURSE_CONF, else\n"
	"                     /etc/bourse/bourse.conf if it exists): its [buyer]\n"
	"                     keys are these options' names, [vm \"NAME\"] a VM's\n"
	"                     settings; flags override it\n"
	"  --verbose          log every award\n"
	"  --log-level LEVEL  err, warning, notice, info or debug (default info)\n"
	"  -h, --help         this help\n";

enum agent_mode { MODE_AGENT, MODE_SELLER, MODE_BUYER };

struct agent_args {
	enum agent_mode mode;
	const char *cmd;        /* "agent", "seller", "buyer" */
	const char *usage;
	agent_config cfg;
	source_trace_opts src;
	source_vm_defaults vm;     /* --minimum-mib, --startup-mib, --buffer */
	const char *kind;          /* --source: "trace", "linux", ... */
	const char *cgroup_parent; /* --cgroup-parent */
	const char *actuator;      /* --actuator */
	int64_t dry_delay_ms;      /* --dry-run-delay-ms */
	const char *world;         /* --world */
	const char *state_dir;     /* --state-dir, or $STATE_DIRECTORY */
	double migrate_mibps;      /* --migrate-mibps */
	double dirty_mibps;        /* --dirty-mibps; < 0: derived */
	int have_migrate, have_dirty;
	int have_capacity, have_vms, have_vm;
	int have_minimum;          /* --minimum-mib given (flag or conf) */
	actuator_libvirt_disks disks; /* --migrate-disks */
	int have_disks;
	cli_conf conf;             /* bourse.conf: the strings above borrow */
	source_vm_override *vm_set; /* its [vm "NAME"] sections (vm borrows) */
	const char *where;         /* applying a conf entry: its place */
};

enum { O_BROKER = 256, O_HOST, O_CAPACITY, O_RESERVE, O_URI, O_TRACE,
       O_VMS, O_VM, O_PREFIX, O_STEP, O_INTERVAL, O_RUN_FOR, O_VERBOSE,
       O_SOURCE, O_CGROUP, O_ACTUATOR, O_DRY_DELAY, O_KEY, O_BROKER_KEY,
       O_INSECURE, O_MINIMUM, O_STARTUP, O_BUFFER, O_WORLD, O_MIGRATE_MIBPS,
       O_DIRTY_MIBPS, O_LOG_LEVEL, O_MIGRATE_DISKS, O_STATE_DIR };
enum { O_CONFIG = 1000 }; /* bourse.conf (cli/conf.c) */

static const struct option agent_options[] = {
	{ "broker", required_argument, NULL, O_BROKER },
	{ "host", required_argument, NULL, O_HOST },
	{ "capacity-mib", required_argument, NULL, O_CAPACITY },
	{ "reserve-mib", required_argument, NULL, O_RESERVE },
	{ "uri", required_argument, NULL, O_URI },
	{ "trace", required_argument, NULL, O_TRACE },
	{ "vms", required_argument, NULL, O_VMS },
	{ "vm", required_argument, NULL, O_VM },
	{ "vm-prefix", required_argument, NULL, O_PREFIX },
	{ "step-s", required_argument, NULL, O_STEP },
	{ "interval-ms", required_argument, NULL, O_INTERVAL },
	{ "run-for-s", required_argument, NULL, O_RUN_FOR },
	{ "verbose", no_argument, NULL, O_VERBOSE },
	{ "source", required_argument, NULL, O_SOURCE },
	{ "cgroup-parent", required_argument, NULL, O_CGROUP },
	{ "actuator", required_argument, NULL, O_ACTUATOR },
	{ "dry-run-delay-ms", required_argument, NULL, O_DRY_DELAY },
	{ "key", required_argument, NULL, O_KEY },
	{ "broker-key", required_argument, NULL, O_BROKER_KEY },
	{ "insecure", no_argument, NULL, O_INSECURE },
	{ "minimum-mib", required_argument, NULL, O_MINIMUM },
	{ "startup-mib", required_argument, NULL, O_STARTUP },
	{ "buffer", required_argument, NULL, O_BUFFER },
	{ "world", required_argument, NULL, O_WORLD },
	{ "migrate-mibps", required_argument, NULL, O_MIGRATE_MIBPS },
	{ "dirty-mibps", required_argument, NULL, O_DIRTY_MIBPS },
	{ "log-level", required_argument, NULL, O_LOG_LEVEL },
	{ "migrate-disks", required_argument, NULL, O_MIGRATE_DISKS },
	{ "state-dir", required_argument, NULL, O_STATE_DIR },
	{ "config", required_argument, NULL, O_CONFIG },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int bad_value(const struct agent_args *a, const char *flag,
		     const char *why)
{
	if (a->where) /* a bourse.conf entry: its file, line and key */
		fprintf(stderr, "bourse: %s: %s\n", a->where, why);
	else
		fprintf(stderr, "bourse %s: %s: %s\n", a->cmd, flag, why);
	return CLI_USAGE;
}

/* --log-level: the process's (log.h). */
/* --state-dir: a path (that it is a directory is checked as the agent
 * starts, as --world's is). */
static int state_dir_option(struct agent_args *a, const char *arg)
{
	if (!arg[0])
		return bad_value(a, "--state-dir", "is an empty path");
	a->state_dir = arg;
	return CLI_OK;
}

static int log_level_option(const struct agent_args *a, const char *arg)
{
	char err[128];
	int level;

	if (log_level_parse(arg, &level, err, sizeof(err)))
		return bad_value(a, "--log-level", err);
	log_setup(level);
	return CLI_OK;
}

/* "FIRST:COUNT", both whole numbers, COUNT >= 1. */
static int parse_vms(struct agent_args *a, const char *arg)
{
	char buf[64], err[128];
	const char *colon = strchr(arg, ':');
	int64_t first, count;

	if (!colon || (size_t)(colon - arg) >= sizeof(buf))
		return bad_value(a, "--vms", "expected FIRST:COUNT, e.g. 0:10");
	memcpy(buf, arg, (size_t)(colon - arg));
	buf[colon - arg] = '\0';
	if (cli_parse_i64(buf, 0, 10000000, &first, err, sizeof(err)) != 0 ||
	    cli_parse_i64(colon + 1, 1, 100000, &count, err, sizeof(err)) != 0)
		return bad_value(a, "--vms", err);
	a->src.first = (size_t)first;
	a->src.count = (size_t)count;
	a->have_vms = 1;
	return CLI_OK;
}

/* The flags that only some commands take. */
static int flag_allowed(const struct agent_args *a, int opt)
{
	switch (opt) {
	case O_CAPACITY: case O_RESERVE: case O_URI: case O_VMS:
		return a->mode != MODE_BUYER;
	case O_VM:
		return a->mode == MODE_BUYER;
	case O_PREFIX: case O_MINIMUM: case O_STARTUP: case O_BUFFER:
		return a->mode != MODE_SELLER;
	case O_SOURCE:
		return a->mode != MODE_BUYER;
	case O_CGROUP: case O_ACTUATOR: case O_DRY_DELAY: case O_WORLD:
	case O_MIGRATE_MIBPS: case O_DIRTY_MIBPS: case O_MIGRATE_DISKS:
	case O_STATE_DIR:
		return a->mode == MODE_AGENT;
	default:
		return 1;
	}
}

static int apply_number(struct agent_args *a, int opt, const char *arg)
{
	static const struct { int opt; const char *flag; int64_t min, max; }
	ranges[] = {
		{ O_CAPACITY, "--capacity-mib", 1, WIRE_MAX_MIB },
		{ O_RESERVE, "--reserve-mib", 0, WIRE_MAX_MIB },
		{ O_VM, "--vm", 0, 10000000 },
		{ O_STEP, "--step-s", 1, 86400 },
		{ O_INTERVAL, "--interval-ms", 1, 3600000 },
		{ O_RUN_FOR, "--run-for-s", 1, 100000000 },
		{ O_DRY_DELAY, "--dry-run-delay-ms", 0, 3600000 },
		{ O_MINIMUM, "--minimum-mib", 1, WIRE_MAX_MIB },
		{ O_STARTUP, "--startup-mib", 1, WIRE_MAX_MIB },
		{ O_BUFFER, "--buffer", 0, 2000 },
	};
	char err[128];
	int64_t v = 0;
	size_t k = 0;

	while (ranges[k].opt != opt)
		k++;
	if (cli_parse_i64(arg, ranges[k].min, ranges[k].max, &v, err,
			  sizeof(err)) != 0)
		return bad_value(a, ranges[k].flag, err);
	switch (opt) {
	case O_CAPACITY: a->src.capacity_mib = v; a->have_capacity = 1; break;
	case O_RESERVE: a->src.reserve_mib = v; break;
	case O_VM: a->src.first = (size_t)v; a->have_vm = 1; break;
	case O_STEP: a->src.step_s = v; break;
	case O_DRY_DELAY: a->dry_delay_ms = v; break;
	case O_INTERVAL: a->cfg.interval_ms = v; break;
	case O_MINIMUM: a->vm.minimum_mib = v; a->have_minimum = 1; break;
	case O_STARTUP: a->vm.startup_mib = v; break;
	case O_BUFFER: a->vm.buffer_pct = (uint32_t)v; break;
	default: a->cfg.max_runtime_ms = v * 1000; break;
	}
	return CLI_OK;
}

/* --migrate-mibps B (> 0) and --dirty-mibps D (>= 0). */
static int apply_rate(struct agent_args *a, int opt, const char *arg)
{
	int mig = opt == O_MIGRATE_MIBPS;
	char err[128];
	double v;

	if (cli_parse_double(arg, 0, EMU_MAX_MIBPS, &v, err, sizeof(err)) != 0)
		return bad_value(a, mig ? "--migrate-mibps" : "--dirty-mibps",
				 err);
	if (mig && !(v > 0))
		return bad_value(a, "--migrate-mibps", "must be above 0");
	if (mig) {
		a->migrate_mibps = v;
		a->have_migrate = 1;
	} else {
		a->dirty_mibps = v;
		a->have_dirty = 1;
	}
	return CLI_OK;
}

/* Apply one parsed option. Returns CLI_OK or CLI_USAGE (message printed). */
static int apply_option(struct agent_args *a, int opt, const char *arg)
{
	if (!flag_allowed(a, opt)) {
		size_t k = 0;

		while (agent_options[k].val != opt)
			k++;
		if (a->where)
			fprintf(stderr, "bourse: %s: not a key of [%s] (not an "
				"option of 'bourse %s')\n", a->where, a->cmd,
				a->cmd);
		else
			fprintf(stderr, "bourse %s: --%s is not an option of "
				"this command; see 'bourse %s --help'\n",
				a->cmd, agent_options[k].name, a->cmd);
		return CLI_USAGE;
	}
	switch (opt) {
	case O_CONFIG: return CLI_OK; /* read before the others */
	case O_BROKER: a->cfg.broker = arg; return CLI_OK;
	case O_KEY: a->cfg.key_file = arg; return CLI_OK;
	case O_BROKER_KEY: a->cfg.broker_key_file = arg; return CLI_OK;
	case O_INSECURE: a->cfg.insecure = 1; return CLI_OK;
	case O_HOST:
		if (!wire_name_ok(arg))
			return bad_value(a, "--host", "a name is 1..128 printable "
					 "characters without spaces");
		a->cfg.host = arg;
		return CLI_OK;
	case O_URI:
		if (strlen(arg) > WIRE_MAX_URI)
			return bad_value(a, "--uri", "longer than 255 bytes");
		a->cfg.uri = arg;
		return CLI_OK;
	case O_TRACE: a->src.path = arg; return CLI_OK;
	case O_SOURCE: a->kind = arg; return CLI_OK;
	case O_CGROUP: a->cgroup_parent = arg; return CLI_OK;
	case O_ACTUATOR: a->actuator = arg; return CLI_OK;
	case O_STATE_DIR: return state_dir_option(a, arg);
	case O_WORLD:
		if (!arg[0])
			return bad_value(a, "--world", "is an empty path");
		a->world = arg;
		return CLI_OK;
	case O_MIGRATE_MIBPS: case O_DIRTY_MIBPS:
		return apply_rate(a, opt, arg);
	case O_MIGRATE_DISKS:
		if (actuator_libvirt_disks_parse(arg, &a->disks) != 0)
			return bad_value(a, "--migrate-disks", "expected shared, "
					 "copy or unsafe");
		a->have_disks = 1;
		return CLI_OK;
	case O_PREFIX: a->src.prefix = arg; return CLI_OK;
	case O_VERBOSE: a->cfg.verbose = 1; return CLI_OK;
	case O_LOG_LEVEL: return log_level_option(a, arg);
	case O_VMS: return parse_vms(a, arg);
	case O_CAPACITY: case O_RESERVE: case O_VM: case O_STEP:
	case O_INTERVAL: case O_RUN_FOR: case O_DRY_DELAY: case O_MINIMUM:
	case O_STARTUP: case O_BUFFER:
		return apply_number(a, opt, arg);
	default:
		return CLI_USAGE; /* getopt printed what was wrong */
	}
}

/* The sources each command offers; the first is the default. */
static int kind_ok(const struct agent_args *a)
{
	static const char *const agent_kinds[] = { "trace", "libvirt", "cgroup",
						   NULL };
	static const char *const seller_kinds[] = { "trace", "linux", NULL };
	const char *const *k = a->mode == MODE_AGENT ? agent_kinds
						     : seller_kinds;

	for (; *k; k++)
		if (!strcmp(a->kind, *k))
			return 1;
	return 0;
}

/* With a real source the host's figures are read, not given. */
static int check_real_source(struct agent_args *a)
{
	if (a->have_capacity)
		return bad_value(a, "--capacity-mib", "comes from the source "
				 "with --source linux, libvirt or cgroup");
	if (a->src.path || a->have_vms)
		return bad_value(a, a->src.path ? "--trace" : "--vms",
				 "goes with --source trace only");
	if (!strcmp(a->kind, "cgroup") != !!a->cgroup_parent)
		return bad_value(a, "--cgroup-parent", a->cgroup_parent
				 ? "goes with --source cgroup only"
				 : "is required with --source cgroup");
	if (!strcmp(a->kind, "libvirt") && (!a->cfg.uri || !*a->cfg.uri))
		a->cfg.uri = "qemu:///system";
	if (!strcmp(a->kind, "libvirt") && !a->have_minimum)
		a->vm.minimum_mib = SOURCE_MIN_AUTO; /* from each VM's size */
	return CLI_OK;
}

/* --actuator emulated: a trace, a world, this host's emulated URI. */
static int check_emulated(struct agent_args *a)
{
	static char uri[sizeof(ACTUATOR_EMULATED_SCHEME) + WIRE_MAX_NAME];

	if (strcmp(a->kind, "trace"))
		return bad_value(a, "--actuator", "emulated goes with --source "
				 "trace only");
	if (!a->world)
		return bad_value(a, "--world", "is required with --actuator "
				 "emulated (a directory the machine's emulated "
				 "agents share)");
	if (!world_name_ok(a->cfg.host))
		return bad_value(a, "--host", "with --actuator emulated, a name "
				 "of 1..128 of A-Z a-z 0-9 . _ -, not starting "
				 "with '.' (it names a file of the world)");
	snprintf(uri, sizeof(uri), "%s%s", ACTUATOR_EMULATED_SCHEME,
		 a->cfg.host);
	if (a->cfg.uri && a->cfg.uri[0] && strcmp(a->cfg.uri, uri))
		return bad_value(a, "--uri", "with --actuator emulated the "
				 "host's URI is emulated://HOST; leave --uri out");
	a->cfg.uri = uri;
	return CLI_OK;
}

/* The flags that only the emulated actuator takes. */
static int check_emulated_flags(struct agent_args *a)
{
	const char *k = a->actuator;

	if (k && !strcmp(k, "emulated"))
		return check_emulated(a);
	if (a->world)
		return bad_value(a, "--world", "goes with --actuator emulated "
				 "only");
	if (a->have_migrate || a->have_dirty)
		return bad_value(a, a->have_migrate ? "--migrate-mibps"
				 : "--dirty-mibps", "goes with --actuator "
				 "emulated only");
	return CLI_OK;
}

/* --actuator: known, and with what it acts on. */
static int check_actuator(struct agent_args *a)
{
	const char *k = a->actuator;

	if (a->dry_delay_ms && (!k || strcmp(k, "dry-run")))
		return bad_value(a, "--dry-run-delay-ms", "goes with "
				 "--actuator dry-run only");
	if (a->have_disks && (!k || strcmp(k, "libvirt")))
		return bad_value(a, "--migrate-disks", "goes with --actuator "
				 "libvirt only");
	if (check_emulated_flags(a) != CLI_OK)
		return CLI_USAGE;
	if (k && !strcmp(k, "emulated"))
		return CLI_OK;
	if (!k || !strcmp(k, "none") || !strcmp(k, "dry-run"))
		return CLI_OK;
	if (!strcmp(k, "libvirt"))
		return a->cfg.uri && *a->cfg.uri ? CLI_OK
				  : bad_value(a, "--actuator", "libvirt needs "
					      "--uri (or --source libvirt)");
	if (!strcmp(k, "cgroup"))
		return a->cgroup_parent ? CLI_OK
					: bad_value(a, "--actuator", "cgroup "
						    "needs --cgroup-parent");
	return bad_value(a, "--actuator", "expected none, dry-run, libvirt, "
			 "cgroup or emulated");
}

static int check_sources(struct agent_args *a);

/* The VM defaults (each flag is in range already): Startup >= Minimum. */
static int check_vm_defaults(struct agent_args *a)
{
	if (a->vm.startup_mib < a->vm.minimum_mib)
		return bad_value(a, "--startup-mib", "must be at least "
				 "--minimum-mib (the startup defaults to 1024, "
				 "the minimum to 512)");
	return CLI_OK;
}

/* What each command needs, once every flag is read. */
static int check_required(struct agent_args *a)
{
	int rc = check_sources(a);

	if (rc == CLI_OK)
		rc = check_vm_defaults(a);
	return rc != CLI_OK ? rc : check_actuator(a);
}

/* The flags of the source, once every flag is read. */
static int check_sources(struct agent_args *a)
{
	if (!a->cfg.host)
		return bad_value(a, "--host", "is required");
	if (!a->kind)
		a->kind = "trace";
	if (a->mode != MODE_BUYER && !kind_ok(a))
		return bad_value(a, "--source", a->mode == MODE_AGENT
				 ? "expected trace, libvirt or cgroup"
				 : "expected trace or linux");
	if (strcmp(a->kind, "trace"))
		return check_real_source(a);
	if (a->cgroup_parent)
		return bad_value(a, "--cgroup-parent", "goes with --source "
				 "cgroup only");
	if (a->mode != MODE_BUYER && !a->have_capacity)
		return bad_value(a, "--capacity-mib", "is required");
	if (a->mode != MODE_BUYER && a->src.reserve_mib >= a->src.capacity_mib)
		return bad_value(a, "--reserve-mib", "must be below "
				 "--capacity-mib (the reserve defaults to 1024)");
	if (a->mode != MODE_SELLER && !a->src.path)
		return bad_value(a, "--trace", "is required (a trace directory "
				 "or file)");
	if (a->mode == MODE_AGENT && !a->have_vms)
		return bad_value(a, "--vms", "is required (FIRST:COUNT)");
	if (a->mode == MODE_BUYER && !a->have_vm)
		return bad_value(a, "--vm", "is required (INDEX)");
	if (a->mode == MODE_SELLER && !!a->src.path != a->have_vms)
		return bad_value(a, a->src.path ? "--vms" : "--trace",
				 "--trace and --vms go together");
	return CLI_OK;
}

static void args_init(struct agent_args *a, enum agent_mode mode)
{
	static const char *const cmds[] = { "agent", "seller", "buyer" };
	static const char *const usages[] = { agent_usage, seller_usage,
					      buyer_usage };

	memset(a, 0, sizeof(*a));
	a->mode = mode;
	a->cmd = cmds[mode];
	a->usage = usages[mode];
	agent_config_default(&a->cfg);
	a->cfg.run_seller = mode != MODE_BUYER;
	a->cfg.run_buyers = mode != MODE_SELLER;
	a->src.reserve_mib = 1024;
	a->src.step_s = 300;
	a->src.prefix = "vm-";
	source_vm_defaults_init(&a->vm);
	a->src.vm_defaults = &a->vm;
	a->migrate_mibps = EMU_MIGRATE_MIBPS;
	a->dirty_mibps = -1;
	if (mode == MODE_BUYER) { /* no seller: the host's numbers are unused */
		a->src.capacity_mib = WIRE_MAX_MIB;
		a->src.reserve_mib = 0;
		a->src.count = 1;
	}
}

static int conf_option(void *ctx, int opt, const char *arg, const char *where)
{
	struct agent_args *a = ctx;
	int rc;

	a->where = where;
	rc = apply_option(a, opt, arg);
	a->where = NULL;
	return rc;
}

/* bourse.conf (--config, $BOURSE_CONF or the default file): [CMD] through
 * the flags' handler, before the flags, which override it; [vm "NAME"]
 * as the VMs' own settings (not for a seller: it has no VMs). */
static int apply_conf(struct agent_args *a, int argc, char **argv)
{
	int help;
	const char *path = cli_conf_flag(argc, argv, "+h", agent_options,
					 O_CONFIG, &help);
	char err[768];
	int rc;

	if (help)
		return CLI_OK;
	if (cli_conf_read(&a->conf, path, err, sizeof(err)) != 0) {
		fprintf(stderr, "bourse: %s\n", err);
		return CLI_USAGE;
	}
	rc = cli_conf_apply(&a->conf, a->cmd, agent_options, conf_option, a);
	if (rc != CLI_OK || a->mode == MODE_SELLER)
		return rc;
	if (cli_conf_vms(&a->conf, &a->vm_set, &a->vm.n_overrides, err,
			 sizeof(err)) != 0) {
		fprintf(stderr, "bourse: %s\n", err);
		return CLI_USAGE;
	}
	a->vm.overrides = a->vm_set;
	return CLI_OK;
}

static void args_release(struct agent_args *a)
{
	free(a->vm_set);
	cli_conf_release(&a->conf);
}

static int parse_args(struct agent_args *a, int argc, char **argv, int *done)
{
	int opt;

	if (apply_conf(a, argc, argv) != CLI_OK)
		return CLI_USAGE;
	optind = 0; /* full re-initialisation: may run more than once */
	opterr = 1;
	while ((opt = getopt_long(argc, argv, "+h", agent_options, NULL)) != -1) {
		if (opt == 'h') {
			fputs(a->usage, stdout);
			*done = 1;
			return CLI_OK;
		}
		if (opt == '?' || opt == ':') {
			fprintf(stderr, "see 'bourse %s --help'\n", a->cmd);
			return CLI_USAGE;
		}
		int rc = apply_option(a, opt, optarg);
		if (rc != CLI_OK)
			return rc;
	}
	if (optind < argc) {
		fprintf(stderr, "bourse %s: unexpected argument '%s'\n", a->cmd,
			argv[optind]);
		return CLI_USAGE;
	}
	return check_required(a);
}

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* SIGINT and SIGTERM stop the loop; no SA_RESTART, so that a blocked
 * zmq_poll() returns at once. */
static void catch_signals(struct sigaction *old_int, struct sigaction *old_term)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;
	stop_flag = 0;
	sigaction(SIGINT, &sa, old_int);
	sigaction(SIGTERM, &sa, old_term);
}

/* This machine's host figures, with the VMs of libvirt or cgroup (or none,
 * for a seller). One source of truth for the host's memory: /proc/meminfo
 * (the Linux source: MemTotal is what the kernel manages, and what its
 * free and swap figures are measured against); the reserve is checked
 * there, once. The libvirt source's own node figures (virNodeGetInfo, which
 * can count one NUMA cell's memory only) are not used, so it is given no
 * reserve to check (issue 17, bug 10). A VM source that cannot be read is
 * fatal: a seller without its VMs would hide them from the market, and
 * the service manager (Restart=on-failure) tries again. */
static int open_real(const struct agent_args *a, source **out, char *err,
		     size_t errlen)
{
	source_linux_opts lo = { .reserve_mib = a->src.reserve_mib };
	source_libvirt_opts vo = { .uri = a->cfg.uri, .stats_period_s = 0,
				   .reserve_mib = 0, .vm_defaults = &a->vm };
	source_cgroup_opts co = { .parent = a->cgroup_parent,
				  .vm_defaults = &a->vm };
	source *host = NULL, *vms = NULL;

	if (source_linux_open(&lo, &host, err, errlen) != 0)
		return -1;
	if (!strcmp(a->kind, "linux")) {
		*out = host;
		return 0;
	}
	if (!strcmp(a->kind, "libvirt")) {
		/* the guest refreshes its statistics twice per interval: rates
		 * are taken between its updates (agents/lvstat.h), and every
		 * reading finds a fresh one */
		vo.interval_s = a->cfg.interval_ms > 0
				? (int)((a->cfg.interval_ms + 999) / 1000)
				: LIBVIRT_INTERVAL_S;
		vo.stats_period_s = vo.interval_s > 1 ? vo.interval_s / 2 : 1;
	}
	if ((!strcmp(a->kind, "libvirt")
		     ? source_libvirt_open(&vo, &vms, err, errlen)
		     : source_cgroup_open(&co, &vms, err, errlen)) != 0) {
		char why[256];

		source_close(host);
		snprintf(why, sizeof(why), "%.250s", err);
		snprintf(err, errlen, "cannot read this host's VMs (--source "
			 "%s): %s; NOT going on as a seller only, which would "
			 "hide them from the market", a->kind, why);
		return -1;
	}
	return source_pair_open(host, vms, out, err, errlen);
}

static int open_source(const struct agent_args *a, source **out, char *err,
		       size_t errlen)
{
	if (strcmp(a->kind, "trace"))
		return open_real(a, out, err, errlen);
	if (a->src.path)
		return source_trace_open(&a->src, out, err, errlen);
	return source_static_open(a->src.capacity_mib, a->src.reserve_mib, out,
				  err, errlen);
}

/* The --actuator, or NULL for none. */
static int open_actuator(const struct agent_args *a, actuator **out,
			 char *err, size_t errlen)
{
	const char *k = a->actuator;

	*out = NULL;
	if (!k || !strcmp(k, "none"))
		return 0;
	if (!strcmp(k, "dry-run"))
		return actuator_dryrun_open(a->dry_delay_ms, NULL, NULL, out,
					    err, errlen);
	if (!strcmp(k, "libvirt")) {
		actuator_libvirt_opts lo = { .uri = a->cfg.uri,
					     .disks = a->disks };

		if (a->disks != ACTUATOR_DISKS_SHARED)
			log_at(LOG_WARNING, NULL, "bourse %s: --migrate-disks "
			       "%s: migrations may move VMs whose disks are "
			       "not on shared storage (docs/operations.md, "
			       "\"Migrating VMs with local disks\")\n", a->cmd,
			       a->disks == ACTUATOR_DISKS_COPY ? "copy"
							      : "unsafe");
		return actuator_libvirt_open_opts(&lo, out, err, errlen);
	}
	if (!strcmp(k, "emulated")) {
		actuator_emulated_opts eo = {
			.world = a->src.world, .host = a->cfg.host,
			.migrate_mibps = a->migrate_mibps,
			.dirty_mibps = a->dirty_mibps,
		};
		return actuator_emulated_open(&eo, out, err, errlen);
	}
	return actuator_cgroup_open(NULL, a->cgroup_parent, NULL, NULL, out,
				    err, errlen);
}

/* The actuator's durable memory of action ids: DIR/HOST.actions under
 * --state-dir, else $STATE_DIRECTORY (systemd's StateDirectory=), else
 * none (a notice: ids are remembered in memory only). */
static int open_memory(const struct agent_args *a, actuator *act, char *err,
		       size_t errlen)
{
	const char *dir = a->state_dir ? a->state_dir
			  : getenv("STATE_DIRECTORY");
	char path[4096];
	struct stat st;
	size_t n;

	if (!act)
		return 0;
	if (!dir || !dir[0]) {
		log_at(LOG_NOTICE, NULL, "bourse %s: no --state-dir: the action "
		       "ids carried out are remembered in memory only (an "
		       "agent restarted during a broker restart could repeat "
		       "one)\n", a->cmd);
		return 0;
	}
	n = strcspn(dir, ":"); /* systemd may list several: the first */
	snprintf(path, sizeof(path), "%.*s", (int)n, dir);
	if (stat(path, &st) != 0)
		return util_err(err, errlen, "--state-dir %s: %s", path,
				strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return util_err(err, errlen, "--state-dir %s: not a directory",
				path);
	snprintf(path, sizeof(path), "%.*s/%s.actions", (int)n, dir,
		 a->cfg.host ? a->cfg.host : "agent");
	return actuator_memory_open(act, path, err, errlen);
}

/* The world (--world), the source, the actuator. 0, or -1 with err
 * (whatever was opened closed). A libvirt or cgroup actuator that cannot
 * open is noted and left out; the emulated one is the world's, and fatal. */
static int open_all(struct agent_args *a, world **w, source **src,
		    actuator **act, char *err, size_t errlen)
{
	*w = NULL;
	*src = NULL;
	*act = NULL;
	if (a->world) {
		if (world_open(a->world, w, err, errlen) != 0)
			return -1;
		a->src.world = *w;
		a->src.host = a->cfg.host;
	}
	if (open_source(a, src, err, errlen) != 0) {
		world_close(*w);
		return -1;
	}
	if (open_actuator(a, act, err, errlen) == 0) {
		if (open_memory(a, *act, err, errlen) == 0)
			return 0;
		actuator_close(*act);
		*act = NULL;
		source_close(*src);
		world_close(*w);
		return -1;
	}
	if (a->world) {
		source_close(*src);
		world_close(*w);
		return -1;
	}
	log_at(LOG_WARNING, NULL, "bourse %s: note: %s; going on without an actuator "
		"(actions are answered unsupported)\n", a->cmd, err);
	return 0;
}

static int run(struct agent_args *a)
{
	struct sigaction old_int, old_term;
	source *src = NULL;
	actuator *act = NULL;
	world *w = NULL;
	char err[512];
	int rc;

	if (open_all(a, &w, &src, &act, err, sizeof(err)) != 0) {
		log_at(LOG_ERR, NULL, "bourse %s: %s", a->cmd, err);
		return CLI_FAIL;
	}
	a->cfg.act = act;
	catch_signals(&old_int, &old_term);
	rc = agent_run(&a->cfg, src, &stop_flag, err, sizeof(err));
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	actuator_close(act);
	source_close(src);
	world_close(w);
	if (rc != 0) {
		log_at(LOG_ERR, NULL, "bourse %s: %s", a->cmd, err);
		return CLI_FAIL;
	}
	return CLI_OK;
}

static int cmd_common(enum agent_mode mode, int argc, char **argv)
{
	struct agent_args a;
	int done = 0;
	int rc;

	args_init(&a, mode);
	rc = parse_args(&a, argc, argv, &done);
	if (rc == CLI_OK && !done)
		rc = run(&a);
	args_release(&a);
	return rc;
}

int cmd_agent(int argc, char **argv)
{
	return cmd_common(MODE_AGENT, argc, argv);
}

int cmd_seller(int argc, char **argv)
{
	return cmd_common(MODE_SELLER, argc, argv);
}

int cmd_buyer(int argc, char **argv)
{
	return cmd_common(MODE_BUYER, argc, argv);
}
