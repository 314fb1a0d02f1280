/*
 * test_conf.c - the configuration file (cli/conf.c, docs/configuration.md)
 * on files the test writes: a good file read in order with its lines;
 * every error with its file, line and key (syntax, outside a section,
 * unknown section, indented line, too long a line, missing named file);
 * entries applied through a getopt table (unknown keys, booleans, the
 * handler told where); [vm "NAME"] settings and their checks; sizes;
 * the per-VM settings applied by the trace and cgroup sources (override,
 * exclude); the real user as the audit actor.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fixture.h"

#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "source.h"
#include "banned.h"

#define SMALL BOURSE_SOURCE_DIR "/tests/data/small.csv"

/* Write text as dir/bourse.conf; its path into path. */
static void write_conf(struct tree *t, const char *text, char *path,
		       size_t size)
{
	tree_make(t, "conf");
	tree_write(t, "bourse.conf", text);
	snprintf(path, size, "%s/bourse.conf", t->dir);
}

/* Reading text fails with a message that is path followed by want. */
static void read_refused(const char *text, const char *want)
{
	struct tree t;
	cli_conf c;
	char path[128], err[768] = "", full[900];

	write_conf(&t, text, path, sizeof(path));
	assert_int_equal(cli_conf_read(&c, path, err, sizeof(err)), -1);
	assert_null(c.path);
	assert_int_equal(c.n, 0);
	snprintf(full, sizeof(full), "%s%s", path, want);
	if (strcmp(err, full))
		fail_msg("got '%s', want '%s'", err, full);
	remove_all(t.dir);
}

static void test_good_file(void **state)
{
	struct tree t;
	cli_conf c;
	char path[128], err[768] = "", where[600];

	(void)state;
	write_conf(&t, "# bourse\n; comment\n\n[broker]\nround-ms = 500\n"
		   "db=/var/lib/bourse/bourse.db ; inline comment\n"
		   "param = migrate_gain=0.5\n[agent]\nquiet =\n"
		   "[vm \"web-1\"]\nminimum = 2GiB\n[broker]\n"
		   "round-ms = 600\n", path, sizeof(path));
	if (cli_conf_read(&c, path, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_string_equal(c.path, path);
	assert_int_equal(c.n, 6);
	assert_string_equal(c.e[0].section, "broker");
	assert_null(c.e[0].vm);
	assert_string_equal(c.e[0].key, "round-ms");
	assert_string_equal(c.e[0].value, "500");
	assert_int_equal(c.e[0].line, 5);
	assert_string_equal(c.e[1].value, "/var/lib/bourse/bourse.db");
	assert_int_equal(c.e[1].line, 6);
	assert_string_equal(c.e[2].key, "param");
	assert_string_equal(c.e[2].value, "migrate_gain=0.5");
	assert_string_equal(c.e[3].section, "agent");
	assert_string_equal(c.e[3].value, "");
	assert_string_equal(c.e[4].section, "vm");
	assert_string_equal(c.e[4].vm, "web-1");
	assert_int_equal(c.e[4].line, 11);
	assert_int_equal(c.e[5].line, 13);
	cli_conf_where(&c, &c.e[4], where, sizeof(where));
	assert_non_null(strstr(where,
			       "bourse.conf:11: [vm \"web-1\"] minimum"));
	cli_conf_release(&c);
	assert_null(c.path);
	remove_all(t.dir);
}

static void test_errors(void **state)
{
	char long_line[400];

	(void)state;
	read_refused("[broker]\nround-ms = 5\nno equals sign\n",
		     ":3: not '[section]' nor 'key = value'");
	read_refused("round-ms = 5\n", ":1: 'round-ms' is outside a section");
	read_refused("[broker]\n = 5\n", ":2: '= value' without a key");
	read_refused("[broker]\nquiet = 1\n[brokr]\nround-ms = 5\n",
		     ":4: [brokr] round-ms: not a section of bourse.conf "
		     "(broker, agent, seller, buyer, cli, vm \"NAME\")");
	read_refused("[vm \"a b\"]\nminimum = 5\n",
		     ":2: [vm \"a b\"] minimum: a VM's name is 1..128 "
		     "printable characters without spaces or quotes");
	read_refused("[vm \"\"]\nminimum = 5\n", ":2: [vm \"\"] minimum: "
		     "not a section of bourse.conf (broker, agent, seller, "
		     "buyer, cli, vm \"NAME\")");
	read_refused("[broker]\nlisten = a\n  b = c\n",
		     ":3: [broker] listen: an indented line (it would "
		     "continue the value above); bourse.conf takes one line "
		     "per value");
	read_refused("[vm \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		     "aaaa\"]\nminimum = 1\n", ":2: [vm \"aaaaaaaaaaaaaaaaaaaaaaaaaaa"
		     "aaaaaaaaaaaaaaaaaa] minimum: section name longer than 48 "
		     "characters (the most libinih reads)");
	memset(long_line, 'x', sizeof(long_line));
	memcpy(long_line, "[broker]\ndb = ", 14);
	memcpy(long_line + sizeof(long_line) - 2, "\n", 2);
	read_refused(long_line, ":2: line longer than 198 characters");
	/* the first error is the one reported, whichever finds it */
	read_refused("[broker]\nbroken\n[nope]\nx = 1\n",
		     ":2: not '[section]' nor 'key = value'");
	read_refused("[nope]\nx = 1\n[broker]\nbroken\n",
		     ":2: [nope] x: not a section of bourse.conf (broker, "
		     "agent, seller, buyer, cli, vm \"NAME\")");
}

static void test_which_file(void **state)
{
	struct tree t;
	cli_conf c;
	char path[128], err[768] = "";

	(void)state;
	write_conf(&t, "[cli]\ndb = /x.db\n", path, sizeof(path));
	/* $BOURSE_CONF names it */
	setenv("BOURSE_CONF", path, 1);
	assert_int_equal(cli_conf_read(&c, NULL, err, sizeof(err)), 0);
	assert_string_equal(c.path, path);
	assert_int_equal(c.n, 1);
	cli_conf_release(&c);
	/* --config wins over it; a missing named file is an error */
	assert_int_equal(cli_conf_read(&c, "/nonexistent/b.conf", err,
				       sizeof(err)), -1);
	assert_string_equal(err, "/nonexistent/b.conf: No such file or "
			    "directory (the configuration named by --config)");
	setenv("BOURSE_CONF", "/nonexistent/a.conf", 1);
	assert_int_equal(cli_conf_read(&c, NULL, err, sizeof(err)), -1);
	assert_string_equal(err, "/nonexistent/a.conf: No such file or "
			    "directory (the configuration named by "
			    "$BOURSE_CONF)");
	unsetenv("BOURSE_CONF");
	/* the default: missing is fine (no configuration) */
	if (access(CLI_CONF_PATH, F_OK) != 0) {
		assert_int_equal(cli_conf_read(&c, NULL, err, sizeof(err)), 0);
		assert_null(c.path);
		assert_int_equal(c.n, 0);
	}
	remove_all(t.dir);
}

/* ---- applying through a getopt table ---- */

enum { K_ROUND = 300, K_QUIET, K_NAME };

static const struct option keys[] = {
	{ "round-ms", required_argument, NULL, K_ROUND },
	{ "quiet", no_argument, NULL, K_QUIET },
	{ "name", required_argument, NULL, K_NAME },
	{ "config", required_argument, NULL, 'c' },
	{ "params", no_argument, NULL, 'p' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

struct got {
	int64_t round;
	int quiet;
	const char *name;
	char where[600];
	int calls;
};

static int on_key(void *ctx, int opt, const char *arg, const char *where)
{
	struct got *g = ctx;
	char err[128];

	g->calls++;
	snprintf(g->where, sizeof(g->where), "%s", where);
	switch (opt) {
	case K_ROUND:
		return cli_parse_i64(arg, 10, 1000, &g->round, err,
				     sizeof(err)) ? CLI_USAGE : CLI_OK;
	case K_QUIET:
		assert_null(arg);
		g->quiet = 1;
		return CLI_OK;
	default:
		g->name = arg;
		return CLI_OK;
	}
}

/* Apply text's [broker]; the status. */
static int apply_text(const char *text, struct got *g)
{
	struct tree t;
	cli_conf c;
	char path[128], err[768] = "";
	int rc;

	memset(g, 0, sizeof(*g));
	write_conf(&t, text, path, sizeof(path));
	if (cli_conf_read(&c, path, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	rc = cli_conf_apply(&c, "broker", keys, on_key, g);
	g->name = NULL; /* c's strings go with it */
	cli_conf_release(&c);
	remove_all(t.dir);
	return rc;
}

static void test_apply(void **state)
{
	struct got g;

	(void)state;
	assert_int_equal(apply_text("[agent]\nround-ms = x\n[broker]\n"
				    "round-ms = 50\nquiet = yes\n"
				    "round-ms = 70\n", &g), CLI_OK);
	assert_int_equal(g.round, 70); /* file order: the last wins */
	assert_int_equal(g.quiet, 1);
	assert_int_equal(g.calls, 3);
	assert_non_null(strstr(g.where, "bourse.conf:6: [broker] round-ms"));
	assert_int_equal(apply_text("[broker]\nquiet = off\n", &g), CLI_OK);
	assert_int_equal(g.calls, 0); /* false: the flag not given */
	assert_int_equal(apply_text("[broker]\nquiet = maybe\n", &g),
			 CLI_USAGE);
	assert_int_equal(apply_text("[broker]\nround-mss = 5\n", &g),
			 CLI_USAGE);
	assert_int_equal(g.calls, 0);
	assert_int_equal(apply_text("[broker]\nconfig = /x\n", &g),
			 CLI_USAGE);
	assert_int_equal(apply_text("[broker]\nhelp = yes\n", &g), CLI_USAGE);
	assert_int_equal(apply_text("[broker]\nparams = yes\n", &g),
			 CLI_USAGE);
	/* the handler's error is the status; where names the line */
	assert_int_equal(apply_text("[broker]\nname = a\n\nround-ms = 5\n",
				    &g), CLI_USAGE);
	assert_non_null(strstr(g.where, "bourse.conf:4: [broker] round-ms"));
	assert_int_equal(cli_conf_bool("TRUE"), 1);
	assert_int_equal(cli_conf_bool("0"), 0);
	assert_int_equal(cli_conf_bool(""), -1);
}

static void test_conf_flag(void **state)
{
	char *argv[] = { "broker", "--name", "x", "--config", "/a.conf",
			 "--bogus", "--config=/b.conf", NULL };
	char *none[] = { "broker", "--name", "--config", NULL };
	char *help[] = { "broker", "--config", "/a.conf", "--help", NULL };
	int h = -1;

	(void)state;
	assert_string_equal(cli_conf_flag(7, argv, "+h", keys, 'c', &h),
			    "/b.conf");
	assert_int_equal(h, 0);
	assert_int_equal(optind, 0);
	/* "--config" as the value of --name is not --config */
	assert_null(cli_conf_flag(3, none, "+h", keys, 'c', &h));
	assert_string_equal(cli_conf_flag(4, help, "+h", keys, 'c', &h),
			    "/a.conf");
	assert_int_equal(h, 1);
}

/* ---- [vm "NAME"] ---- */

/* cli_conf_vms() of text: 0 with *v, *n, or -1 with err. */
static int vms_of(const char *text, source_vm_override **v, size_t *n,
		  char *err, size_t errlen)
{
	struct tree t;
	cli_conf c;
	char path[128];
	int rc;

	write_conf(&t, text, path, sizeof(path));
	if (cli_conf_read(&c, path, err, errlen) != 0)
		fail_msg("%s", err);
	rc = cli_conf_vms(&c, v, n, err, errlen);
	if (rc == 0) /* the names are c's: compare before it goes */
		for (size_t i = 0; i < *n; i++)
			(*v)[i].name = !strcmp((*v)[i].name, "web-1") ? "web-1"
				       : !strcmp((*v)[i].name, "db") ? "db"
				       : "?";
	cli_conf_release(&c);
	remove_all(t.dir);
	return rc;
}

static void vms_refused(const char *text, const char *want)
{
	source_vm_override *v = NULL;
	size_t n = 0;
	char err[768] = "";

	assert_int_equal(vms_of(text, &v, &n, err, sizeof(err)), -1);
	assert_null(v);
	if (!strstr(err, want))
		fail_msg("'%s' does not contain '%s'", err, want);
}

static void test_vms(void **state)
{
	source_vm_override *v = NULL;
	size_t n = 0;
	char err[768] = "";

	(void)state;
	assert_int_equal(vms_of("[vm \"web-1\"]\nminimum = 1G\nmaximum = "
				"8GiB\nbuffer = 30\nweight = 9000\n"
				"reservation = 512MiB\nlimit = 6144\n"
				"shares = 2000\n[vm \"db\"]\nexclude = yes\n"
				"[broker]\nround-ms = 9\n", &v, &n, err,
				sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].name, "web-1");
	assert_int_equal(v[0].set, SOURCE_VM_SET_MINIMUM |
			 SOURCE_VM_SET_MAXIMUM | SOURCE_VM_SET_BUFFER |
			 SOURCE_VM_SET_WEIGHT | SOURCE_VM_SET_RESERVATION |
			 SOURCE_VM_SET_LIMIT | SOURCE_VM_SET_SHARES);
	assert_int_equal(v[0].minimum_mib, 1024);
	assert_int_equal(v[0].maximum_mib, 8192);
	assert_int_equal(v[0].buffer_pct, 30);
	assert_int_equal(v[0].weight, 9000);
	assert_int_equal(v[0].reservation_mib, 512);
	assert_int_equal(v[0].limit_mib, 6144);
	assert_int_equal(v[0].shares, 2000);
	assert_int_equal(v[0].exclude, 0);
	assert_string_equal(v[1].name, "db");
	assert_int_equal(v[1].set, 0);
	assert_int_equal(v[1].exclude, 1);
	free(v);
	vms_refused("[vm \"web-1\"]\n\nminimum = 1X\n", "bourse.conf:3: "
		    "[vm \"web-1\"] minimum: '1X' is not a size");
	vms_refused("[vm \"web-1\"]\nweight = 10001\n", "bourse.conf:2: "
		    "[vm \"web-1\"] weight: '10001' is out of range");
	vms_refused("[vm \"web-1\"]\nshares = 0\n", "[vm \"web-1\"] shares: "
		    "'0' is out of range");
	vms_refused("[vm \"web-1\"]\nexclude = perhaps\n",
		    "[vm \"web-1\"] exclude: 'perhaps' is not true or false");
	vms_refused("[vm \"web-1\"]\nstartup = 5\n", "[vm \"web-1\"] startup:"
		    " not a key of [vm \"NAME\"]");
	vms_refused("[vm \"web-1\"]\nminimum = 2G\nmaximum = 1G\n",
		    "bourse.conf: [vm \"web-1\"]: minimum is above maximum");
	vms_refused("[vm \"web-1\"]\nreservation = 2G\nlimit = 1G\n",
		    "[vm \"web-1\"]: reservation is above limit");
}

static void test_parse_mib(void **state)
{
	static const struct { const char *s; int64_t mib; } ok[] = {
		{ "512", 512 }, { "512M", 512 }, { "512MiB", 512 },
		{ "2G", 2048 }, { "2GiB", 2048 }, { "1T", 1048576 },
		{ "1TiB", 1048576 },
	};
	static const char *const bad[] = { "", "-1", "+5", " 5", "5 G",
					   "5g", "5KiB", "1.5G", "G",
					   "99999999999999999999" };
	char err[128];
	int64_t v;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(cli_parse_mib(ok[i].s, 1, INT64_MAX, &v, err,
					       sizeof(err)), 0);
		assert_int_equal(v, ok[i].mib);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (cli_parse_mib(bad[i], 0, INT64_MAX, &v, err,
				  sizeof(err)) == 0)
			fail_msg("'%s' taken as %lld", bad[i], (long long)v);
	assert_int_equal(cli_parse_mib("65G", 1, 65535, &v, err, sizeof(err)),
			 -1);
	assert_string_equal(err, "'65G' is out of range [1, 65535] MiB");
	assert_int_equal(cli_parse_mib("9223372036854775807T", 1, INT64_MAX,
				       &v, err, sizeof(err)), -1);
}

/* ---- the sources apply them ---- */

static void test_trace_source(void **state)
{
	source_vm_override ov[] = {
		{ .name = "vm-2", .set = SOURCE_VM_SET_MINIMUM |
		  SOURCE_VM_SET_WEIGHT | SOURCE_VM_SET_LIMIT,
		  .minimum_mib = 3000, .weight = 42, .limit_mib = 2000 },
		{ .name = "vm-3", .exclude = 1 },
		{ .name = "vm-9", .set = SOURCE_VM_SET_BUFFER,
		  .buffer_pct = 1 }, /* not on this host: no harm */
	};
	source_vm_defaults d;
	source_trace_opts o = {
		.path = SMALL, .first = 0, .count = 4, .capacity_mib = 65536,
		.reserve_mib = 1024, .step_s = 300, .prefix = "vm-",
		.vm_defaults = &d,
	};
	source_vm_config c;
	source_host h;
	source *s = NULL;
	char err[512] = "";

	(void)state;
	source_vm_defaults_init(&d);
	d.overrides = ov;
	d.n_overrides = 3;
	if (source_trace_open(&o, &s, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(source_n_vms(s), 3); /* vm-3 excluded */
	assert_int_equal(source_vm_config_get(s, 0, &c), 0);
	assert_string_equal(c.name, "vm-1");
	assert_int_equal(c.minimum_mib, 512); /* the defaults */
	assert_int_equal(c.weight, 5000);
	assert_int_equal(source_vm_config_get(s, 1, &c), 0);
	assert_string_equal(c.name, "vm-2");
	assert_int_equal(c.maximum_mib, 8192);
	assert_int_equal(c.weight, 42);
	assert_int_equal(c.limit_mib, 2000);
	assert_int_equal(c.minimum_mib, 2000); /* within the limit */
	assert_int_equal(c.startup_mib, 2000);
	assert_int_equal(source_vm_config_get(s, 2, &c), 0);
	assert_string_equal(c.name, "vm-4");
	/* vm-3 still holds its 4096 MiB: not free */
	assert_int_equal(source_host_read(s, &h, err, sizeof(err)), 0);
	assert_int_equal(h.free_mib, 65536 - 1024 - 4096 - 8192 - 4096 - 8192);
	source_close(s);
}

static void cg_vm(const struct tree *t, const char *vm, const char *max)
{
	char rel[128];

	snprintf(rel, sizeof(rel), "machine/%s", vm);
	tree_mkdir(t, rel);
	snprintf(rel, sizeof(rel), "machine/%s/memory.current", vm);
	tree_write(t, rel, "1073741824\n");
	snprintf(rel, sizeof(rel), "machine/%s/memory.stat", vm);
	tree_write(t, rel, "inactive_file 0\n");
	snprintf(rel, sizeof(rel), "machine/%s/memory.max", vm);
	tree_write(t, rel, max);
}

/* Every note, one a line, into ctx (512 bytes). */
static void note_fn(void *ctx, const char *msg)
{
	char *buf = ctx;
	size_t n = strlen(buf);

	snprintf(buf + n, 512 - n, "%s\n", msg);
}

static void test_cgroup_source(void **state)
{
	source_vm_override ov[] = {
		{ .name = "vm-a", .set = SOURCE_VM_SET_MAXIMUM |
		  SOURCE_VM_SET_SHARES | SOURCE_VM_SET_RESERVATION,
		  .maximum_mib = 2048, .shares = 77, .reservation_mib = 256 },
		{ .name = "vm-b", .exclude = 1 },
	};
	source_vm_defaults d;
	struct tree t;
	char note[512] = "";
	source_cgroup_opts o = { .parent = "machine", .vm_defaults = &d,
				 .note = note_fn, .note_ctx = note };
	source_vm_config c;
	source *s = NULL;
	char err[512] = "";

	(void)state;
	source_vm_defaults_init(&d);
	d.overrides = ov;
	d.n_overrides = 2;
	tree_make(&t, "confcg");
	tree_mkdir(&t, "machine");
	cg_vm(&t, "vm-a", "4294967296\n");
	cg_vm(&t, "vm-b", "max\n");
	o.cgroup_root = t.dir;
	if (source_cgroup_open(&o, &s, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(source_n_vms(s), 1);
	assert_non_null(strstr(note, "'vm-b'"));
	assert_non_null(strstr(note, "excluded by the configuration"));
	assert_int_equal(source_vm_config_get(s, 0, &c), 0);
	assert_string_equal(c.name, "vm-a");
	assert_int_equal(c.maximum_mib, 2048); /* memory.max said 4096 */
	assert_int_equal(c.startup_mib, 2048); /* assigned 4096, capped */
	assert_int_equal(c.minimum_mib, 512);
	assert_int_equal(c.shares, 77);
	assert_int_equal(c.reservation_mib, 256);
	assert_int_equal(c.weight, 5000);
	source_close(s);
	remove_all(t.dir);
}

/* ---- who acts ---- */

static void test_actor(void **state)
{
	struct passwd *pw = getpwuid(getuid());
	char buf[300], want[300];

	(void)state;
	setenv("USER", "mallory", 1); /* anyone can set it: never used */
	setenv("SUDO_USER", "alice", 1);
	cli_actor_name(buf, sizeof(buf));
	if (getuid() == 0)
		snprintf(want, sizeof(want), "cli:alice");
	else
		snprintf(want, sizeof(want), "cli:%s", pw->pw_name);
	assert_string_equal(buf, want);
	unsetenv("SUDO_USER");
	cli_actor_name(buf, sizeof(buf));
	assert_non_null(pw);
	snprintf(want, sizeof(want), "cli:%s", pw->pw_name);
	assert_string_equal(buf, want);
	setenv("SUDO_USER", "", 1); /* empty: not under sudo */
	cli_actor_name(buf, sizeof(buf));
	assert_string_equal(buf, want);
	unsetenv("SUDO_USER");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_file),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_which_file),
		cmocka_unit_test(test_apply),
		cmocka_unit_test(test_conf_flag),
		cmocka_unit_test(test_vms),
		cmocka_unit_test(test_parse_mib),
		cmocka_unit_test(test_trace_source),
		cmocka_unit_test(test_cgroup_source),
		cmocka_unit_test(test_actor),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
