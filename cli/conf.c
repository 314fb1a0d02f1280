/*
 * conf.c - the configuration file, /etc/bourse/bourse.conf
 * (docs/configuration.md), parsed with libinih (ini.h).
 *
 * This file reads and checks the file's shape: sections, lines, where each
 * entry is. What a key means is the command's: cli_conf_apply() passes each
 * entry of a section to the same option handler the command's getopt loop
 * uses, so every long option is a key and a value is checked as the flag's.
 *
 * inih (Debian's build) does not tell its handler the line number: the
 * reader below counts lines as it hands them over (one call per line), and
 * refuses a line longer than inih's buffer instead of letting inih cut it.
 */
#include <errno.h>
#include <getopt.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "source.h"
#include "util.h"
#include "wire.h"
#include "banned.h"

/* inih's section buffer (ini.c's MAX_SECTION): a longer one is cut. */
#define CONF_MAX_SECTION 49
#define CONF_LINE_MAX 200 /* INI_MAX_LINE of Debian's libinih */

/* What the parse knows while inih runs. */
struct conf_parse {
	cli_conf *c;
	FILE *f;
	int line;        /* the line last handed to inih */
	int at_start;    /* the next read starts a line */
	int indented;    /* the current line starts with a blank */
	int err_line;    /* the first error found here; 0: none */
	char err[512];   /* its message, "FILE:LINE: ..." */
	int oom;
};

static void parse_fail(struct conf_parse *p, const char *section,
		       const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void parse_fail(struct conf_parse *p, const char *section,
		       const char *key, const char *fmt, ...)
{
	char why[300];
	va_list ap;

	if (p->err_line)
		return;
	p->err_line = p->line;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (section && key)
		snprintf(p->err, sizeof(p->err), "%s:%d: [%s] %s: %s",
			 p->c->path, p->line, section, key, why);
	else
		snprintf(p->err, sizeof(p->err), "%s:%d: %s", p->c->path,
			 p->line, why);
}

/* fgets for inih, counting lines. */
static char *conf_reader(char *str, int num, void *stream)
{
	struct conf_parse *p = stream;
	char *r;

	if (p->at_start)
		p->line++;
	r = fgets(str, num, p->f);
	if (!r)
		return NULL;
	if (!strchr(r, '\n') && !feof(p->f)) {
		parse_fail(p, NULL, NULL, "line longer than %d characters",
			   CONF_LINE_MAX - 2);
		return NULL; /* stops inih */
	}
	if (p->at_start) {
		const char *t = r + strspn(r, " \t");

		p->indented = t > r && *t && !strchr(";#\r\n", *t);
	}
	p->at_start = strchr(r, '\n') != NULL;
	return r;
}

/* A section's name: one of the commands', or vm "NAME". Returns 1 with
 * *vm (malloc'd for vm "NAME", else NULL), or 0 with a reason. */
static int section_ok(const char *s, char **vm, const char **why)
{
	static const char *const names[] = { "broker", "agent", "seller",
					     "buyer", "cli", NULL };
	size_t len = strlen(s);

	*vm = NULL;
	*why = "not a section of bourse.conf (broker, agent, seller, buyer, "
	       "cli, vm \"NAME\")";
	for (size_t i = 0; names[i]; i++)
		if (!strcmp(s, names[i]))
			return 1;
	if (len >= CONF_MAX_SECTION) {
		*why = "section name longer than 48 characters (the most "
		       "libinih reads)";
		return 0;
	}
	if (strncmp(s, "vm \"", 4) || len < 6 || s[len - 1] != '"')
		return 0;
	*vm = strndup(s + 4, len - 5);
	if (*vm && wire_name_ok(*vm) && !strchr(*vm, '"'))
		return 1;
	*why = "a VM's name is 1..128 printable characters without spaces "
	       "or quotes";
	free(*vm);
	*vm = NULL;
	return 0;
}

static int add_entry(cli_conf *c, const char *section, char *vm,
		     const char *key, const char *value, int line)
{
	cli_conf_entry *e;

	if (UTIL_GROW(c->e, c->n + 1, c->cap)) {
		free(vm);
		return -1;
	}
	e = &c->e[c->n];
	e->section = strdup(vm ? "vm" : section);
	e->vm = vm;
	e->key = strdup(key);
	e->value = strdup(value);
	e->line = line;
	c->n++;
	if (!e->section || !e->key || !e->value)
		return -1;
	return 0;
}

static int on_entry(void *user, const char *section, const char *key,
		    const char *value)
{
	struct conf_parse *p = user;
	const char *why;
	char *vm;

	if (p->err_line)
		return 1; /* the first error is the one reported */
	if (!*section) {
		parse_fail(p, NULL, NULL, "'%s' is outside a section", key);
		return 0;
	}
	if (!*key) {
		parse_fail(p, NULL, NULL, "%s", "'= value' without a key");
		return 0;
	}
	if (!section_ok(section, &vm, &why)) {
		parse_fail(p, section, key, "%s", why);
		return 0;
	}
	if (p->indented) {
		free(vm);
		parse_fail(p, section, key, "%s", "an indented line (it would "
			   "continue the value above); bourse.conf takes one "
			   "line per value");
		return 0;
	}
	if (add_entry(p->c, section, vm, key, value, p->line) != 0)
		p->oom = 1;
	return !p->oom;
}

void cli_conf_release(cli_conf *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->e[i].section);
		free(c->e[i].vm);
		free(c->e[i].key);
		free(c->e[i].value);
	}
	free(c->e);
	free(c->path);
	memset(c, 0, sizeof(*c));
}

/* Which file, and whether it must exist. */
static const char *conf_path(const char *path, int *must, const char **from)
{
	const char *env = getenv("BOURSE_CONF");

	*must = 1;
	*from = "--config";
	if (path)
		return path;
	*from = "$BOURSE_CONF";
	if (env && *env)
		return env;
	*must = 0;
	*from = "default";
	return CLI_CONF_PATH;
}

static int open_file(const char *path, int must, const char *from, FILE **f,
		     char *err, size_t errlen)
{
	*f = fopen(path, "r");
	if (*f)
		return 0;
	if (errno == ENOENT && !must)
		return 1; /* no configuration: the defaults */
	if (errno == EACCES || errno == EPERM)
		return util_err(err, errlen, "%s: permission denied (reading "
				"it needs the bourse group or sudo)", path);
	return util_err(err, errlen, "%s: %s (the configuration named by %s)",
			path, strerror(errno), from);
}

/* inih's own complaint (a line that is neither [section] nor key =
 * value) at line, or ours, whichever comes first. */
static int parse_result(struct conf_parse *p, int rc, char *err,
			size_t errlen)
{
	if (p->oom)
		return util_err(err, errlen, "%s: out of memory", p->c->path);
	if (rc > 0 && (!p->err_line || rc < p->err_line))
		return util_err(err, errlen, "%s:%d: not '[section]' nor 'key "
				"= value'", p->c->path, rc);
	if (p->err_line)
		return util_err(err, errlen, "%s", p->err);
	if (rc != 0)
		return util_err(err, errlen, "%s: cannot be parsed",
				p->c->path);
	return 0;
}

int cli_conf_read(cli_conf *c, const char *path, char *err, size_t errlen)
{
	struct conf_parse p = { .c = c, .at_start = 1 };
	const char *from;
	int must, rc;

	memset(c, 0, sizeof(*c));
	path = conf_path(path, &must, &from);
	rc = open_file(path, must, from, &p.f, err, errlen);
	if (rc != 0)
		return rc > 0 ? 0 : -1;
	c->path = strdup(path);
	if (!c->path) {
		fclose(p.f);
		return util_err(err, errlen, "%s: out of memory", path);
	}
	rc = ini_parse_stream(conf_reader, &p, on_entry, &p);
	if (ferror(p.f) && !p.err_line)
		parse_fail(&p, NULL, NULL, "cannot be read: %s",
			   strerror(errno));
	fclose(p.f);
	if (parse_result(&p, rc, err, errlen) != 0) {
		cli_conf_release(c);
		return -1;
	}
	return 0;
}

void cli_conf_where(const cli_conf *c, const cli_conf_entry *e, char *buf,
		    size_t size)
{
	if (e->vm)
		snprintf(buf, size, "%s:%d: [vm \"%s\"] %s", c->path, e->line,
			 e->vm, e->key);
	else
		snprintf(buf, size, "%s:%d: [%s] %s", c->path, e->line,
			 e->section, e->key);
}

const char *cli_conf_flag(int argc, char **argv, const char *optstring,
			  const struct option *opts, int config_val,
			  int *help)
{
	const char *path = NULL;
	int opt;

	*help = 0;
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, optstring, opts, NULL)) != -1) {
		if (opt == config_val)
			path = optarg;
		if (opt == 'h')
			*help = 1;
	}
	optind = 0;
	opterr = 1;
	return path;
}

int cli_conf_bool(const char *v)
{
	static const char *const yes[] = { "true", "yes", "on", "1", NULL };
	static const char *const no[] = { "false", "no", "off", "0", NULL };

	for (size_t i = 0; yes[i]; i++) {
		if (!strcasecmp(v, yes[i]))
			return 1;
		if (!strcasecmp(v, no[i]))
			return 0;
	}
	return -1;
}

/* The option of opts that key names, or NULL. Not keys: what is not
 * configuration but a one-off request (--help, --config, the broker's
 * --params, which prints and exits). */
static const struct option *key_option(const struct option *opts,
				       const char *key)
{
	if (!strcmp(key, "help") || !strcmp(key, "config") ||
	    !strcmp(key, "params"))
		return NULL;
	for (; opts->name; opts++)
		if (!strcmp(opts->name, key))
			return opts;
	return NULL;
}

static int apply_entry(const cli_conf *c, const cli_conf_entry *e,
		       const struct option *opts, cli_conf_opt_fn fn,
		       void *ctx)
{
	const struct option *o = key_option(opts, e->key);
	char where[512];
	int b;

	cli_conf_where(c, e, where, sizeof(where));
	if (!o) {
		fprintf(stderr, "bourse: %s: not a key of [%s] (the keys are "
			"the long options of 'bourse %s'; see "
			"docs/configuration.md)\n", where, e->section,
			strcmp(e->section, "cli") ? e->section : "hosts");
		return CLI_USAGE;
	}
	if (o->has_arg != no_argument)
		return fn(ctx, o->val, e->value, where);
	b = cli_conf_bool(e->value);
	if (b < 0) {
		fprintf(stderr, "bourse: %s: '%s' is not true or false\n",
			where, e->value);
		return CLI_USAGE;
	}
	return b ? fn(ctx, o->val, NULL, where) : CLI_OK;
}

int cli_conf_apply(const cli_conf *c, const char *section,
		   const struct option *opts, cli_conf_opt_fn fn, void *ctx)
{
	for (size_t i = 0; i < c->n; i++) {
		int rc;

		if (strcmp(c->e[i].section, section))
			continue;
		rc = apply_entry(c, &c->e[i], opts, fn, ctx);
		if (rc != CLI_OK)
			return rc;
	}
	return CLI_OK;
}

/* ---- [vm "NAME"]: per-VM settings ---- */

/* The override for name in v[0..*n), appended if new. */
static source_vm_override *vm_slot(source_vm_override *v, size_t *n,
				   const char *name)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp(v[i].name, name))
			return &v[i];
	memset(&v[*n], 0, sizeof(v[*n]));
	v[*n].name = name;
	return &v[(*n)++];
}

static int vm_size(source_vm_override *o, const cli_conf_entry *e,
		   char *err, size_t errlen)
{
	static const struct { const char *key; unsigned bit; int64_t min; }
	sizes[] = {
		{ "minimum", SOURCE_VM_SET_MINIMUM, 1 },
		{ "maximum", SOURCE_VM_SET_MAXIMUM, 1 },
		{ "reservation", SOURCE_VM_SET_RESERVATION, 0 },
		{ "limit", SOURCE_VM_SET_LIMIT, 1 },
	};
	int64_t *dst[] = { &o->minimum_mib, &o->maximum_mib,
			   &o->reservation_mib, &o->limit_mib };

	for (size_t i = 0; i < 4; i++) {
		if (strcmp(e->key, sizes[i].key))
			continue;
		o->set |= sizes[i].bit;
		return cli_parse_mib(e->value, sizes[i].min, WIRE_MAX_MIB,
				     dst[i], err, errlen);
	}
	return 1; /* not a size */
}

static int vm_number(source_vm_override *o, const cli_conf_entry *e,
		     char *err, size_t errlen)
{
	static const struct { const char *key; unsigned bit; int64_t min, max; }
	nums[] = {
		{ "buffer", SOURCE_VM_SET_BUFFER, 0, WIRE_MAX_BUFFER_PCT },
		{ "weight", SOURCE_VM_SET_WEIGHT, 0, WIRE_MAX_WEIGHT },
		{ "shares", SOURCE_VM_SET_SHARES, 1, WIRE_MAX_SHARES },
	};
	uint32_t *dst[] = { &o->buffer_pct, &o->weight, &o->shares };
	int64_t v;

	for (size_t i = 0; i < 3; i++) {
		if (strcmp(e->key, nums[i].key))
			continue;
		if (cli_parse_i64(e->value, nums[i].min, nums[i].max, &v, err,
				  errlen))
			return -1;
		o->set |= nums[i].bit;
		*dst[i] = (uint32_t)v;
		return 0;
	}
	return 1;
}

static int vm_key(source_vm_override *o, const cli_conf_entry *e, char *err,
		  size_t errlen)
{
	int rc = vm_size(o, e, err, errlen);

	if (rc <= 0)
		return rc;
	rc = vm_number(o, e, err, errlen);
	if (rc <= 0)
		return rc;
	if (!strcmp(e->key, "exclude")) {
		o->exclude = cli_conf_bool(e->value);
		if (o->exclude >= 0)
			return 0;
		snprintf(err, errlen, "'%s' is not true or false", e->value);
		return -1;
	}
	snprintf(err, errlen, "not a key of [vm \"NAME\"] (minimum, maximum, "
		 "buffer, weight, reservation, limit, shares, exclude)");
	return -1;
}

/* The settings of one VM against each other, as a VmConfig must hold. */
static const char *vm_consistent(const source_vm_override *o)
{
	unsigned s = o->set;

	if ((s & SOURCE_VM_SET_MINIMUM) && (s & SOURCE_VM_SET_MAXIMUM) &&
	    o->minimum_mib > o->maximum_mib)
		return "minimum is above maximum";
	if ((s & SOURCE_VM_SET_RESERVATION) && (s & SOURCE_VM_SET_MAXIMUM) &&
	    o->reservation_mib > o->maximum_mib)
		return "reservation is above maximum";
	if ((s & SOURCE_VM_SET_LIMIT) && (s & SOURCE_VM_SET_MINIMUM) &&
	    o->minimum_mib > o->limit_mib)
		return "minimum is above limit";
	if ((s & SOURCE_VM_SET_LIMIT) && (s & SOURCE_VM_SET_RESERVATION) &&
	    o->reservation_mib > o->limit_mib)
		return "reservation is above limit";
	return NULL;
}

static int vms_check(const cli_conf *c, const source_vm_override *v,
		     size_t n, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		const char *why = vm_consistent(&v[i]);

		if (why)
			return util_err(err, errlen, "%s: [vm \"%s\"]: %s",
					c->path, v[i].name, why);
	}
	return 0;
}

int cli_conf_vms(const cli_conf *c, source_vm_override **out, size_t *n,
		 char *err, size_t errlen)
{
	source_vm_override *v = calloc(c->n + 1, sizeof(*v));
	char why[256], where[512];

	*out = NULL;
	*n = 0;
	if (!v)
		return util_err(err, errlen, "out of memory");
	for (size_t i = 0; i < c->n; i++) {
		const cli_conf_entry *e = &c->e[i];

		if (!e->vm || vm_key(vm_slot(v, n, e->vm), e, why,
				     sizeof(why)) == 0)
			continue;
		cli_conf_where(c, e, where, sizeof(where));
		free(v);
		*n = 0;
		return util_err(err, errlen, "%s: %s", where, why);
	}
	if (vms_check(c, v, *n, err, errlen) != 0) {
		free(v);
		*n = 0;
		return -1;
	}
	*out = v;
	return 0;
}
