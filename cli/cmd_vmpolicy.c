/*
 * cmd_vmpolicy.c - `bourse vm-policy set|show DOMAIN`: a libvirt domain's
 * own bourse settings, kept in its <metadata> (agents/vm_policy.h; the
 * XML in docs/operations.md, "Per-VM policy"). `set` changes the settings
 * given and writes the element back through libvirt (live and config where
 * the domain has each); `show` prints what the libvirt source would use:
 * each value, and whether the domain sets it or it is the default.
 */
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "source.h"
#include "util.h"
#include "vm_policy.h"
#include "banned.h"

#define DEFAULT_URI "qemu:///system"

static const char vmp_usage[] =
	"usage: bourse vm-policy set DOMAIN [--connect URI] [--minimum SIZE]\n"
	"           [--maximum SIZE] [--buffer PCT] [--weight N]\n"
	"           [--reservation SIZE] [--limit SIZE] [--shares N]\n"
	"           [--exclude | --include]\n"
	"       bourse vm-policy show DOMAIN [--connect URI] [--json]\n"
	"\n"
	"A libvirt domain's own bourse settings, kept in its <metadata> in the\n"
	"namespace " VM_POLICY_NS ". The libvirt agent\n"
	"(bourse agent --source libvirt) reads them at every interval; a\n"
	"setting the domain does not give is the agent's default.\n"
	"\n"
	"  set    change the settings given, keep the others, and write them\n"
	"         to the running domain and its persistent definition (where\n"
	"         it has each); then show them\n"
	"  show   what the agent would use: each value, set or default\n"
	"\n"
	"  -c, --connect URI   the libvirt URI (default " DEFAULT_URI "; --uri\n"
	"                      is the same)\n"
	"  --minimum SIZE      Hyper-V Minimum: never less (default 512 MiB)\n"
	"  --maximum SIZE      Hyper-V Maximum: never more (default and at most:\n"
	"                      the domain's maximum memory)\n"
	"  --buffer PCT        Hyper-V Buffer, 0..2000 % (default 20)\n"
	"  --weight N          Hyper-V Weight, 0..10000 (default 5000)\n"
	"  --reservation SIZE  ESX reservation: never less (default none)\n"
	"  --limit SIZE        ESX limit: never more (0 or default: none)\n"
	"  --shares N          ESX shares, 1..1000000 (default 1000)\n"
	"  --exclude           bourse neither bids for it nor acts on it\n"
	"  --include           bourse manages it again (the default)\n"
	"  --json              print JSON (show)\n"
	"  -h, --help          this help\n"
	"\n"
	"SIZE: a number with an optional unit, MiB if none: 2048, 512MiB, 1.5G,\n"
	"4GiB (units b, KiB, MiB, GiB, TiB; KB, MB, GB, TB in 1000s). Any value\n"
	"may be 'default' to remove the setting. The minimum may not exceed the\n"
	"maximum or the limit, nor the reservation the maximum or the limit.\n"
	"The agent's defaults can be changed with its flags (bourse agent\n"
	"--help); show prints the built-in ones.\n";

enum {
	O_CONNECT = 1000, O_MINIMUM, O_MAXIMUM, O_BUFFER, O_WEIGHT,
	O_RESERVATION, O_LIMIT, O_SHARES, O_EXCLUDE, O_INCLUDE, O_JSON,
};

static const struct option vmp_opts[] = {
	{ "connect", required_argument, NULL, O_CONNECT },
	{ "uri", required_argument, NULL, O_CONNECT },
	{ "minimum", required_argument, NULL, O_MINIMUM },
	{ "maximum", required_argument, NULL, O_MAXIMUM },
	{ "buffer", required_argument, NULL, O_BUFFER },
	{ "weight", required_argument, NULL, O_WEIGHT },
	{ "reservation", required_argument, NULL, O_RESERVATION },
	{ "limit", required_argument, NULL, O_LIMIT },
	{ "shares", required_argument, NULL, O_SHARES },
	{ "exclude", no_argument, NULL, O_EXCLUDE },
	{ "include", no_argument, NULL, O_INCLUDE },
	{ "json", no_argument, NULL, O_JSON },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* The setting bit of each value option, O_MINIMUM .. O_SHARES. */
static const unsigned opt_bit[] = {
	VM_POLICY_MINIMUM, VM_POLICY_MAXIMUM, VM_POLICY_BUFFER,
	VM_POLICY_WEIGHT, VM_POLICY_RESERVATION, VM_POLICY_LIMIT,
	VM_POLICY_SHARES,
};

struct vmp_args {
	const char *verb, *domain, *uri;
	int json;
	const char *val[7];  /* per value option, as given */
	int exclude;         /* -1 not given, 0 --include, 1 --exclude */
	unsigned given;      /* option bits given (for set only) */
};

/* "bourse vm-policy set" for messages ("bourse vm-policy" until the verb
 * is known to be one). */
static void cmd_name(const struct vmp_args *a, char *buf, size_t len)
{
	int ok = a->verb && (!strcmp(a->verb, "set") ||
			     !strcmp(a->verb, "show"));

	snprintf(buf, len, "bourse vm-policy%s%s", ok ? " " : "",
		 ok ? a->verb : "");
}

static int bad_usage(const struct vmp_args *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int bad_usage(const struct vmp_args *a, const char *fmt, ...)
{
	char cmd[64], msg[512];
	va_list ap;

	va_start(ap, fmt);
	util_verr(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cmd_name(a, cmd, sizeof(cmd));
	fprintf(stderr, "%s: %s\nsee 'bourse vm-policy --help'\n", cmd, msg);
	return CLI_USAGE;
}

static int take_opt(struct vmp_args *a, int opt, char **argv)
{
	switch (opt) {
	case 'c':
	case O_CONNECT: a->uri = optarg; break;
	case O_JSON: a->json = 1; break;
	case O_EXCLUDE:
	case O_INCLUDE:
		if (a->exclude >= 0 && a->exclude != (opt == O_EXCLUDE))
			return bad_usage(a, "--exclude and --include together");
		a->exclude = opt == O_EXCLUDE;
		a->given |= VM_POLICY_EXCLUDE;
		break;
	case ':':
		return bad_usage(a, "%s needs a value", argv[optind - 1]);
	default:
		if (opt >= O_MINIMUM && opt <= O_SHARES) {
			a->val[opt - O_MINIMUM] = optarg;
			a->given |= opt_bit[opt - O_MINIMUM];
			break;
		}
		return bad_usage(a, "unknown option '%s'", argv[optind - 1]);
	}
	return CLI_OK;
}

static int parse(struct vmp_args *a, int argc, char **argv, int *done)
{
	int opt, rc;

	a->uri = DEFAULT_URI;
	a->exclude = -1;
	if (argc > 1 && argv[1][0] != '-')
		a->verb = argv[1]; /* for the messages of the options */
	optind = 0; /* GNU getopt: start again, options anywhere */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":hc:", vmp_opts, NULL)) != -1) {
		if (opt == 'h') {
			fputs(vmp_usage, stdout);
			*done = 1;
			return CLI_OK;
		}
		if ((rc = take_opt(a, opt, argv)) != CLI_OK)
			return rc;
	}
	a->verb = NULL;
	if (optind < argc)
		a->verb = argv[optind++];
	if (optind < argc)
		a->domain = argv[optind++];
	if (optind < argc)
		return bad_usage(a, "unexpected argument '%s'", argv[optind]);
	if (!a->verb)
		return bad_usage(a, "set or show?");
	if (strcmp(a->verb, "set") && strcmp(a->verb, "show"))
		return bad_usage(a, "'%s' is not set or show", a->verb);
	if (!a->domain || !*a->domain)
		return bad_usage(a, "no DOMAIN given");
	if (!*a->uri)
		return bad_usage(a, "--connect: empty URI");
	if (!strcmp(a->verb, "show") && a->given)
		return bad_usage(a, "show takes no settings (set changes them)");
	if (!strcmp(a->verb, "set") && a->json)
		return bad_usage(a, "--json is for show");
	if (!strcmp(a->verb, "set") && !a->given)
		return bad_usage(a, "no setting given (--minimum, --maximum, "
				 "--buffer, --weight, --reservation, --limit, "
				 "--shares, --exclude, --include)");
	return CLI_OK;
}

/* Every value option given, onto p: 0, or CLI_USAGE with a message. */
static int apply_opts(const struct vmp_args *a, vm_policy *p)
{
	char err[256];

	for (int i = 0; i < 7; i++) {
		unsigned bit = opt_bit[i];
		const char *v = a->val[i];
		vm_policy one = *p;

		if (!v)
			continue;
		p->set &= ~bit;
		if (!strcmp(v, "default"))
			continue;
		/* the agent's own check of the setting: no second copy */
		if (vm_policy_set_field(&one, bit, v, NULL, err,
					sizeof(err)) != 0)
			return bad_usage(a, "--%s: %s",
					 vm_policy_field_name(bit), err);
		*p = one;
	}
	if (a->exclude >= 0) {
		p->set &= ~VM_POLICY_EXCLUDE;
		p->exclude = 0;
		if (a->exclude) {
			p->set |= VM_POLICY_EXCLUDE;
			p->exclude = 1;
		}
	}
	if (vm_policy_check(p, err, sizeof(err)) != 0)
		return bad_usage(a, "%s", err);
	return CLI_OK;
}

/* ---- show ---- */

struct row {
	const char *name;
	unsigned bit;   /* 0: not a policy setting */
	int64_t value;
	const char *unit; /* "MiB", "%", "" */
};

static void rows_fill(const source_vm_config *c, const vm_policy *p,
		      struct row *r)
{
	struct row all[] = {
		{ "minimum", VM_POLICY_MINIMUM, c->minimum_mib, "MiB" },
		{ "maximum", VM_POLICY_MAXIMUM, c->maximum_mib, "MiB" },
		{ "startup", 0, c->startup_mib, "MiB" },
		{ "buffer", VM_POLICY_BUFFER, c->buffer_pct, "%" },
		{ "weight", VM_POLICY_WEIGHT, c->weight, "" },
		{ "reservation", VM_POLICY_RESERVATION, c->reservation_mib,
		  "MiB" },
		{ "limit", VM_POLICY_LIMIT, c->limit_mib, "MiB" },
		{ "shares", VM_POLICY_SHARES, c->shares, "" },
		{ "exclude", VM_POLICY_EXCLUDE, p->exclude, "" },
	};

	memcpy(r, all, sizeof(all));
}

#define N_ROWS 9

static const char *source_of(const struct row *r, const vm_policy *p)
{
	if (!r->bit)
		return "the domain's current memory";
	if (p->set & r->bit)
		return "set";
	if (r->bit == VM_POLICY_MAXIMUM)
		return "default: the domain's maximum memory";
	return "default";
}

static int show_text(const struct vmp_args *a, const vm_policy_domain *d,
		     const struct row *r, const vm_policy *p)
{
	printf("domain %s on %s: %s, %s; %" PRId64 " MiB maximum memory, %"
	       PRId64 " MiB now\n", a->domain, a->uri,
	       d->active ? "running" : "not running",
	       d->persistent ? "persistent" : "transient", d->max_mib,
	       d->cur_mib);
	printf("%-12s %-12s %s\n", "SETTING", "VALUE", "FROM");
	for (int i = 0; i < N_ROWS; i++) {
		char v[32];

		if (r[i].bit == VM_POLICY_EXCLUDE)
			snprintf(v, sizeof(v), "%s", r[i].value ? "yes" : "no");
		else if ((r[i].bit == VM_POLICY_RESERVATION ||
			  r[i].bit == VM_POLICY_LIMIT) && r[i].value == 0)
			snprintf(v, sizeof(v), "none");
		else
			snprintf(v, sizeof(v), "%" PRId64 "%s%s", r[i].value,
				 *r[i].unit && strcmp(r[i].unit, "%") ? " " : "",
				 r[i].unit);
		printf("%-12s %-12s %s\n", r[i].name, v, source_of(&r[i], p));
	}
	return fflush(stdout) == 0 ? CLI_OK : CLI_FAIL;
}

static int show_json(const struct vmp_args *a, const vm_policy_domain *d,
		     const struct row *r, const vm_policy *p)
{
	json_object *root = json_object_new_object();
	json_object *set = json_object_new_object();

	json_object_object_add(root, "domain", json_object_new_string(a->domain));
	json_object_object_add(root, "uri", json_object_new_string(a->uri));
	json_object_object_add(root, "active", json_object_new_boolean(d->active));
	json_object_object_add(root, "persistent",
			       json_object_new_boolean(d->persistent));
	json_object_object_add(root, "domain_maximum_mib",
			       json_object_new_int64(d->max_mib));
	json_object_object_add(root, "domain_current_mib",
			       json_object_new_int64(d->cur_mib));
	for (int i = 0; i < N_ROWS; i++) {
		char key[32];

		if (r[i].bit == VM_POLICY_EXCLUDE) {
			json_object_object_add(root, "exclude",
				json_object_new_boolean((int)r[i].value));
		} else {
			snprintf(key, sizeof(key), "%s%s", r[i].name,
				 !strcmp(r[i].unit, "MiB") ? "_mib"
				 : !strcmp(r[i].unit, "%") ? "_pct" : "");
			json_object_object_add(root, key,
					       json_object_new_int64(r[i].value));
		}
		if (r[i].bit)
			json_object_object_add(set, r[i].name,
				json_object_new_boolean((p->set & r[i].bit) != 0));
	}
	json_object_object_add(root, "set", set);
	return cli_json_print(root);
}

static int show(const struct vmp_args *a, const vm_policy *p,
		const vm_policy_domain *d)
{
	source_vm_defaults def;
	source_vm_config c;
	struct row r[N_ROWS];

	source_vm_defaults_init(&def);
	source_vm_settings(&def, d->max_mib, &c);
	c.startup_mib = d->cur_mib;
	vm_policy_apply(p, &c);
	rows_fill(&c, p, r);
	return a->json ? show_json(a, d, r, p) : show_text(a, d, r, p);
}

static void warn_cmd(void *ctx, const char *msg)
{
	fprintf(stderr, "%s: warning: %s\n", (const char *)ctx, msg);
}

int cmd_vm_policy(int argc, char **argv)
{
	struct vmp_args a = { 0 };
	int done = 0, rc = parse(&a, argc, argv, &done);
	char cmd[64], err[512];
	vm_policy p;
	vm_policy_domain d;

	if (rc != CLI_OK || done)
		return rc;
	cmd_name(&a, cmd, sizeof(cmd));
	if (vm_policy_read(a.uri, a.domain, &p, &d, warn_cmd, cmd, err,
			   sizeof(err)) != 0) {
		if (!strcmp(a.verb, "show") || !strstr(err, "bourse metadata")) {
			fprintf(stderr, "%s: %s\n", cmd, err);
			return CLI_FAIL;
		}
		fprintf(stderr, "%s: warning: %s: it is replaced\n", cmd, err);
	}
	if (!strcmp(a.verb, "set")) {
		if ((rc = apply_opts(&a, &p)) != CLI_OK)
			return rc;
		if (vm_policy_write(a.uri, a.domain, &p, err,
				    sizeof(err)) != 0) {
			fprintf(stderr, "%s: %s\n", cmd, err);
			return CLI_FAIL;
		}
		printf("domain %s: bourse policy written (%s)\n", a.domain,
		       d.active && d.persistent ? "live and config"
		       : d.active ? "live" : "config");
	}
	return show(&a, &p, &d);
}
