/*
 * test_source_cgroup.c - the cgroup v2 source against fixture cgroup trees
 * written by the test into a temporary directory: which children are VMs,
 * demand, assigned memory and settings from the memory.* files, "max",
 * cgroups that vanish and come back, children created after the open found
 * by an advance, malformed files refused with their file and line, a missing
 * memory.pressure noted once, children left out (noted once), refused
 * options, the agent's VM defaults; and a real cgroup v2 hierarchy when
 * /sys/fs/cgroup is one we may write to.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fixture.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "source.h"
#include "banned.h"

#define MIB (1024ULL * 1024ULL)

static const char pressure_ok[] =
	"some avg10=1.50 avg60=0.50 avg300=0.10 total=4242\n"
	"full avg10=0.00 avg60=0.00 avg300=0.00 total=17\n";

/* ---- fixture trees ---- */

/* Writes "<mib * MiB>\n", or "max\n" for mib < 0, to machine/vm/file. */
static void write_mib(const struct tree *t, const char *vm, const char *file,
		      long long mib)
{
	char rel[128], text[32];

	snprintf(rel, sizeof(rel), "machine/%s/%s", vm, file);
	if (mib < 0)
		snprintf(text, sizeof(text), "max\n");
	else
		snprintf(text, sizeof(text), "%llu\n",
			 (unsigned long long)mib * MIB);
	tree_write(t, rel, text);
}

/* A child cgroup of machine/: current and inactive_file in MiB, high and max
 * in MiB or -1 for "max", and the pressure file. */
static void add_vm(const struct tree *t, const char *vm, long long current,
		   long long inactive, long long high, long long max)
{
	char rel[128], stat[256];

	snprintf(rel, sizeof(rel), "machine/%s", vm);
	tree_mkdir(t, rel);
	write_mib(t, vm, "memory.current", current);
	snprintf(stat, sizeof(stat), "anon 1048576\nfile 2097152\n"
		 "inactive_file %llu\nactive_file 0\npgfault 12\n",
		 (unsigned long long)inactive * MIB);
	snprintf(rel, sizeof(rel), "machine/%s/memory.stat", vm);
	tree_write(t, rel, stat);
	write_mib(t, vm, "memory.high", high);
	write_mib(t, vm, "memory.max", max);
	snprintf(rel, sizeof(rel), "machine/%s/memory.pressure", vm);
	tree_write(t, rel, pressure_ok);
}

/* machine/ with vm-a (limits and a protection), vm-b (no limits), a file,
 * a child without memory.current and one whose name is not a VM name. */
static void tree_two(struct tree *t)
{
	tree_make(t, "cgroup");
	tree_mkdir(t, "machine");
	tree_write(t, "machine/cgroup.procs", "");
	tree_write(t, "machine/memory.current", "123\n");
	add_vm(t, "vm-b", 1000, 0, -1, -1);
	add_vm(t, "vm-a", 2048, 512, 3072, 4096);
	write_mib(t, "vm-a", "memory.min", 0);
	write_mib(t, "vm-a", "memory.low", 1024);
	tree_mkdir(t, "machine/nomem");
	tree_write(t, "machine/nomem/cgroup.procs", "");
	add_vm(t, "bad name", 10, 0, -1, -1);
}

/* ---- the source ---- */

struct notes {
	int n;
	char last[512];
};

static void note_fn(void *ctx, const char *msg)
{
	struct notes *ns = ctx;

	ns->n++;
	snprintf(ns->last, sizeof(ns->last), "%s", msg);
}

static source_cgroup_opts opts(const struct tree *t, struct notes *ns)
{
	source_cgroup_opts o = {
		.cgroup_root = t->dir, .parent = "machine",
		.note = note_fn, .note_ctx = ns,
	};
	return o;
}

static source *open_ok(const source_cgroup_opts *o)
{
	source *s = NULL;
	char err[512] = "";

	if (source_cgroup_open(o, &s, err, sizeof(err)) != 0)
		fail_msg("source_cgroup_open: %s", err);
	assert_non_null(s);
	assert_string_equal(s->ops->kind, "cgroup");
	return s;
}

static void open_refused(const source_cgroup_opts *o, const char *want)
{
	source *s = (source *)1;
	char err[512] = "";

	assert_int_equal(source_cgroup_open(o, &s, err, sizeof(err)), -1);
	assert_null(s);
	if (!strstr(err, want))
		fail_msg("message '%s' does not contain '%s'", err, want);
}

static source_vm_sample sample(source *s, size_t i)
{
	source_vm_sample v;
	char err[256];

	memset(&v, 0xff, sizeof(v)); /* every field must be written */
	assert_int_equal(source_vm_read(s, i, &v, err, sizeof(err)), 0);
	return v;
}

static source_vm_config config(source *s, size_t i)
{
	source_vm_config c;

	memset(&c, 0xff, sizeof(c));
	assert_int_equal(source_vm_config_get(s, i, &c), 0);
	return c;
}

static void advance(source *s)
{
	char err[512] = "";

	if (source_advance(s, err, sizeof(err)) != 0)
		fail_msg("source_advance: %s", err);
}

static void assert_sample(source *s, size_t i, int64_t demand,
			  int64_t assigned)
{
	source_vm_sample v = sample(s, i);

	assert_int_equal(v.alive, 1);
	assert_int_equal(v.demand_mib, demand);
	assert_int_equal(v.assigned_mib, assigned);
	assert_true(fabs(v.pressure - (double)demand / (double)assigned *
			 100.0) < 1e-9);
	assert_true(v.guest_swap_mibps == 0);
	assert_int_equal(v.balloon_mib, 0);
}

static void assert_config(source *s, size_t i, const char *name,
			  int64_t startup, int64_t minimum, int64_t maximum)
{
	source_vm_config c = config(s, i);

	assert_string_equal(c.name, name);
	assert_int_equal(c.startup_mib, startup);
	assert_int_equal(c.minimum_mib, minimum);
	assert_int_equal(c.maximum_mib, maximum);
	assert_int_equal(c.buffer_pct, 20);
	assert_int_equal(c.weight, 5000);
	assert_int_equal(c.shares, 1000);
	assert_int_equal(c.reservation_mib, 0);
	assert_int_equal(c.limit_mib, 0);
}

/* ---- tests ---- */

static void test_two_vms(void **state)
{
	struct tree t;
	struct notes ns = { 0 };
	source_cgroup_opts o;
	source *s;
	source_host h;
	source_vm_sample v;
	char err[256];

	(void)state;
	tree_two(&t);
	o = opts(&t, &ns);
	s = open_ok(&o);
	assert_int_equal(source_n_vms(s), 2);
	assert_int_equal(ns.n, 1); /* "bad name" left out */
	assert_non_null(strstr(ns.last, "'bad name'"));
	/* vm-a: 2048 - 512 of 3072 (memory.high); low 1024; max 4096 */
	assert_sample(s, 0, 1536, 3072);
	assert_config(s, 0, "vm-a", 3072, 1024, 4096);
	/* vm-b: no limits: assigned and maximum are memory.current */
	assert_sample(s, 1, 1000, 1000);
	assert_config(s, 1, "vm-b", 1000, 512, 1000);
	assert_int_equal(source_vm_read(s, 2, &v, err, sizeof(err)), -1);
	assert_int_equal(source_vm_config_get(s, 2, &(source_vm_config){0}),
			 -1);
	assert_int_equal(source_host_read(s, &h, err, sizeof(err)), 0);
	assert_int_equal(h.capacity_mib, 0);
	/* advance re-reads */
	write_mib(&t, "vm-a", "memory.current", 3584);
	advance(s);
	assert_sample(s, 0, 3072, 3072);
	assert_int_equal(ns.n, 1);
	source_close(s);
	remove_all(t.dir);
}

/* The VM defaults given: what the cgroup does not set (vm-b's Minimum, and
 * every Buffer, Weight and shares); memory.low still sets vm-a's Minimum.
 * Defaults out of range are refused at open. */
static void test_given_vm_defaults(void **state)
{
	source_vm_defaults d = { .minimum_mib = 256, .startup_mib = 256,
				 .buffer_pct = 50, .weight = 100,
				 .shares = 7 };
	struct tree t;
	struct notes ns = { 0 };
	source_cgroup_opts o;
	source_vm_config c;
	source *s;

	(void)state;
	tree_two(&t);
	o = opts(&t, &ns);
	o.vm_defaults = &d;
	s = open_ok(&o);
	c = config(s, 0);
	assert_string_equal(c.name, "vm-a");
	assert_int_equal(c.minimum_mib, 1024);
	assert_int_equal(c.startup_mib, 3072);
	assert_int_equal(c.buffer_pct, 50);
	assert_int_equal(c.weight, 100);
	assert_int_equal(c.shares, 7);
	c = config(s, 1);
	assert_string_equal(c.name, "vm-b");
	assert_int_equal(c.minimum_mib, 256);
	assert_int_equal(c.startup_mib, 1000);
	assert_int_equal(c.maximum_mib, 1000);
	source_close(s);
	d.weight = 10001;
	open_refused(&o, "weight");
	remove_all(t.dir);
}

/* "max" and missing files mean no limit; the lower limit is assigned;
 * memory.min "max" protects everything; usage rounds up, limits down. */
static void test_max_handling(void **state)
{
	struct tree t;
	source_cgroup_opts o;
	source *s;
	char rel[128];

	(void)state;
	tree_make(&t, "cgroup");
	tree_mkdir(&t, "machine");
	add_vm(&t, "c-high-max", 500, 100, -1, 2048);   /* assigned: max */
	add_vm(&t, "d-max-max", 700, 0, 1024, -1);      /* assigned: high */
	write_mib(&t, "d-max-max", "memory.min", -1);
	add_vm(&t, "e-both", 100, 0, 4096, 2048);       /* the lower: max */
	write_mib(&t, "e-both", "memory.min", 300);
	write_mib(&t, "e-both", "memory.low", 200);
	add_vm(&t, "f-bare", 0, 0, -1, -1);
	snprintf(rel, sizeof(rel), "machine/f-bare/memory.current");
	tree_write(&t, rel, "1048577\n");            /* 1 MiB and a byte */
	snprintf(rel, sizeof(rel), "%s/machine/f-bare/memory.high", t.dir);
	unlink(rel);
	snprintf(rel, sizeof(rel), "%s/machine/f-bare/memory.max", t.dir);
	unlink(rel);
	o = opts(&t, NULL);
	s = open_ok(&o);
	assert_int_equal(source_n_vms(s), 4);
	assert_sample(s, 0, 400, 2048);
	assert_config(s, 0, "c-high-max", 2048, 512, 2048);
	/* no memory.max: maximum is current; memory.min "max": all of it */
	assert_sample(s, 1, 700, 1024);
	assert_config(s, 1, "d-max-max", 700, 700, 700);
	assert_sample(s, 2, 100, 2048);
	assert_config(s, 2, "e-both", 2048, 300, 2048);
	assert_sample(s, 3, 2, 2);
	assert_config(s, 3, "f-bare", 2, 2, 2);
	source_close(s);
	remove_all(t.dir);
}

/* A vanished cgroup keeps its index and is not alive (its settings stay),
 * comes back alive; one created later is appended by the next advance. */
static void test_vanished(void **state)
{
	struct tree t;
	source_cgroup_opts o;
	source *s;
	source_vm_sample v;
	char path[256];

	(void)state;
	tree_two(&t);
	o = opts(&t, &(struct notes){ 0 });
	s = open_ok(&o);
	snprintf(path, sizeof(path), "%s/machine/vm-b", t.dir);
	remove_all(path);
	add_vm(&t, "vm-c", 100, 0, -1, -1);
	advance(s);
	assert_int_equal(source_n_vms(s), 3);
	assert_sample(s, 0, 1536, 3072);
	assert_sample(s, 2, 100, 100);
	assert_config(s, 2, "vm-c", 100, 100, 100);
	v = sample(s, 1);
	assert_int_equal(v.alive, 0);
	assert_true(v.demand_mib == 0 && v.assigned_mib == 0 &&
		    v.pressure == 0 && v.guest_swap_mibps == 0 &&
		    v.balloon_mib == 0);
	assert_config(s, 1, "vm-b", 1000, 512, 1000);
	advance(s);
	assert_int_equal(sample(s, 1).alive, 0);
	add_vm(&t, "vm-b", 600, 100, -1, 800);
	advance(s);
	assert_int_equal(source_n_vms(s), 3);
	assert_sample(s, 1, 500, 800);
	assert_config(s, 1, "vm-b", 800, 512, 800);
	assert_config(s, 2, "vm-c", 100, 100, 100);
	source_close(s);
	remove_all(t.dir);
}

/* A missing memory.pressure (PSI off) is noted once for all cgroups. */
static void test_missing_pressure(void **state)
{
	struct tree t;
	struct notes ns = { 0 };
	source_cgroup_opts o;
	source *s;
	char path[256];

	(void)state;
	tree_two(&t);
	snprintf(path, sizeof(path), "%s/machine/vm-a/memory.pressure", t.dir);
	assert_int_equal(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/machine/vm-b/memory.pressure", t.dir);
	assert_int_equal(unlink(path), 0);
	o = opts(&t, &ns);
	s = open_ok(&o);
	advance(s);
	advance(s);
	assert_int_equal(ns.n, 2); /* "bad name", then PSI once */
	assert_non_null(strstr(ns.last, "memory.pressure"));
	assert_sample(s, 0, 1536, 3072);
	source_close(s);
	remove_all(t.dir);
}

struct bad_case {
	const char *file, *text, *want;
};

/* Each malformed file of vm-a is refused with its file:line, on open and on
 * advance (which keeps the last good readings of all VMs). */
static void test_malformed(void **state)
{
	static const struct bad_case cases[] = {
		{ "memory.current", "12 kB\n", "vm-a/memory.current:1: " },
		{ "memory.current", "-1\n", "vm-a/memory.current:1: " },
		{ "memory.current", "1\n2\n", "vm-a/memory.current:2: " },
		{ "memory.current", "", "vm-a/memory.current: empty" },
		{ "memory.stat", "anon 1\ninactive_file x\n",
		  "vm-a/memory.stat:2: " },
		{ "memory.stat", "anon 1\n", "vm-a/memory.stat: no inactive" },
		{ "memory.stat", "Anon 1\n", "vm-a/memory.stat:1: " },
		{ "memory.max", "maximum\n", "vm-a/memory.max:1: " },
		{ "memory.high", "99999999999999999999\n",
		  "vm-a/memory.high:1: " },
		{ "memory.low", " 5\n", "vm-a/memory.low:1: " },
		{ "memory.pressure", "some avg10=1.00 avg60=1.00 avg300=1.00 "
		  "total=1\nfull avg10=1.00 avg60=x avg300=1.00 total=1\n",
		  "vm-a/memory.pressure:2: " },
		{ "memory.pressure", "full avg10=1.00 avg60=1.00 avg300=1.00 "
		  "total=1\n", "vm-a/memory.pressure: no 'some' line" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tree t;
		source_cgroup_opts o;
		source *s;
		char rel[128], err[512] = "";

		tree_two(&t);
		o = opts(&t, &(struct notes){ 0 });
		s = open_ok(&o);
		snprintf(rel, sizeof(rel), "machine/vm-a/%s", cases[i].file);
		tree_write(&t, rel, cases[i].text);
		assert_int_equal(source_advance(s, err, sizeof(err)), -1);
		if (!strstr(err, cases[i].want))
			fail_msg("message '%s' does not contain '%s'", err,
				 cases[i].want);
		assert_sample(s, 0, 1536, 3072);
		assert_sample(s, 1, 1000, 1000);
		source_close(s);
		open_refused(&o, cases[i].want);
		remove_all(t.dir);
	}
}

static void test_refused(void **state)
{
	struct tree t;
	source_cgroup_opts o;
	source *s = (source *)1;
	char err[256];

	(void)state;
	tree_two(&t);
	o = opts(&t, NULL);
	o.parent = NULL;
	open_refused(&o, "no parent");
	o.parent = "nowhere";
	open_refused(&o, "cannot open the cgroup");
	o.cgroup_root = "";
	o.parent = "machine";
	open_refused(&o, "root is empty");
	assert_int_equal(source_cgroup_open(NULL, &s, err, sizeof(err)), -1);
	assert_null(s);
	remove_all(t.dir);
}

/* An empty parent, or the root itself ("") holding one VM. */
static void test_empty_and_root(void **state)
{
	struct tree t;
	source_cgroup_opts o;
	source *s;

	(void)state;
	tree_make(&t, "cgroup");
	tree_mkdir(&t, "machine");
	o = opts(&t, NULL);
	s = open_ok(&o);
	assert_int_equal(source_n_vms(s), 0);
	advance(s);
	source_close(s);
	add_vm(&t, "vm-z", 64, 0, -1, 128);
	o.cgroup_root = t.dir;
	o.parent = "machine/vm-z/..";
	s = open_ok(&o);
	assert_int_equal(source_n_vms(s), 1);
	source_close(s);
	o.parent = "";
	o.cgroup_root = t.dir;
	s = open_ok(&o);
	assert_int_equal(source_n_vms(s), 0); /* machine has no memory.current */
	source_close(s);
	remove_all(t.dir);
}

/* Children created after the open (as by live migrations in) are appended
 * by the next advance, sorted among themselves, after the ones there were,
 * with their figures; a bad name is left out and noted once, as is one
 * that cannot be read yet (found when it can be); a malformed file in a new
 * child fails the advance, and the child is found once it is fixed. */
static void test_created_later(void **state)
{
	struct tree t;
	struct notes ns = { 0 };
	source_cgroup_opts o;
	source *s;
	char path[256], err[512] = "";

	(void)state;
	tree_two(&t);
	o = opts(&t, &ns);
	s = open_ok(&o);
	assert_int_equal(ns.n, 1); /* "bad name" */
	add_vm(&t, "vm-e", 1500, 200, -1, 2048);
	add_vm(&t, "vm-0", 900, 100, 1024, -1);
	add_vm(&t, "also bad", 10, 0, -1, -1);
	add_vm(&t, "vm-f", 64, 0, -1, 128);
	snprintf(path, sizeof(path), "%s/machine/vm-f/memory.stat", t.dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(source_n_vms(s), 2); /* not before an advance */
	advance(s);
	assert_int_equal(source_n_vms(s), 4);
	assert_config(s, 0, "vm-a", 3072, 1024, 4096);
	assert_config(s, 1, "vm-b", 1000, 512, 1000);
	assert_config(s, 2, "vm-0", 900, 512, 900); /* startup: at most max */
	assert_sample(s, 2, 800, 1024);
	assert_config(s, 3, "vm-e", 2048, 512, 2048);
	assert_sample(s, 3, 1300, 2048);
	assert_int_equal(ns.n, 3); /* "also bad", vm-f */
	advance(s);
	advance(s);
	assert_int_equal(source_n_vms(s), 4);
	assert_int_equal(ns.n, 3); /* each noted once */

	add_vm(&t, "vm-g", 10, 0, -1, -1);
	tree_write(&t, "machine/vm-g/memory.max", "lots\n");
	assert_int_equal(source_advance(s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "vm-g/memory.max:1: "));
	assert_int_equal(source_n_vms(s), 4);
	tree_write(&t, "machine/vm-f/memory.stat", "inactive_file 0\n");
	write_mib(&t, "vm-g", "memory.max", 256);
	advance(s);
	assert_int_equal(source_n_vms(s), 6);
	assert_config(s, 4, "vm-f", 128, 128, 128);
	assert_sample(s, 4, 64, 128);
	assert_config(s, 5, "vm-g", 256, 256, 256);
	assert_sample(s, 5, 10, 256);
	assert_int_equal(ns.n, 3);
	source_close(s);
	remove_all(t.dir);
}

/* A child whose memory.stat cannot be read at open is noted and left out. */
static void test_unreadable_at_open(void **state)
{
	struct tree t;
	struct notes ns = { 0 };
	source_cgroup_opts o;
	source *s;
	char path[256];

	(void)state;
	tree_two(&t);
	snprintf(path, sizeof(path), "%s/machine/vm-a/memory.stat", t.dir);
	assert_int_equal(unlink(path), 0);
	o = opts(&t, &ns);
	s = open_ok(&o);
	assert_int_equal(source_n_vms(s), 1);
	assert_config(s, 0, "vm-b", 1000, 512, 1000);
	assert_int_equal(ns.n, 2);
	assert_non_null(strstr(ns.last, "'vm-a'"));
	source_close(s);
	remove_all(t.dir);
}

/* ---- a real cgroup v2 hierarchy ---- */

static int write_str(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	int rc;

	if (!f)
		return -1;
	rc = fputs(text, f) < 0 ? -1 : 0;
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}

/* Makes /sys/fs/cgroup/<parent>/vm-1 with the memory controller: 0, or -1
 * with why (and nothing left behind). */
static int real_setup(const char *pdir, const char *child, char *why,
		      size_t len)
{
	char path[256];

	if (access("/sys/fs/cgroup/cgroup.controllers", R_OK) != 0) {
		snprintf(why, len, "/sys/fs/cgroup is not a cgroup v2 mount "
			 "(no cgroup.controllers)");
		return -1;
	}
	if (mkdir(pdir, 0755) != 0) {
		snprintf(why, len, "cannot create %s: %s", pdir,
			 strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", pdir);
	if (write_str(path, "+memory") != 0 || mkdir(child, 0755) != 0) {
		snprintf(why, len, "cannot enable the memory controller in %s",
			 pdir);
		rmdir(pdir);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/memory.max", child);
	if (write_str(path, "67108864") != 0) {
		snprintf(why, len, "cannot write %s/memory.max", child);
		rmdir(child);
		rmdir(pdir);
		return -1;
	}
	return 0;
}

static void test_real_cgroup(void **state)
{
	char parent[64], pdir[128], child[160], why[256];
	source_cgroup_opts o = { .cgroup_root = NULL };
	source *s;
	source_vm_sample v;

	(void)state;
	snprintf(parent, sizeof(parent), "bourse_test_%ld", (long)getpid());
	snprintf(pdir, sizeof(pdir), "/sys/fs/cgroup/%s", parent);
	snprintf(child, sizeof(child), "%s/vm-1", pdir);
	if (real_setup(pdir, child, why, sizeof(why)) != 0) {
		print_message("skipped: %s\n", why);
		skip();
	}
	o.parent = parent;
	s = open_ok(&o);
	assert_int_equal(source_n_vms(s), 1);
	assert_string_equal(config(s, 0).name, "vm-1");
	assert_int_equal(config(s, 0).maximum_mib, 64);
	v = sample(s, 0);
	assert_int_equal(v.alive, 1);
	assert_int_equal(v.assigned_mib, 64);
	assert_true(v.demand_mib >= 0 && v.demand_mib <= 64);
	assert_int_equal(rmdir(child), 0);
	advance(s);
	assert_int_equal(sample(s, 0).alive, 0);
	source_close(s);
	assert_int_equal(rmdir(pdir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_vms),
		cmocka_unit_test(test_given_vm_defaults),
		cmocka_unit_test(test_max_handling),
		cmocka_unit_test(test_vanished),
		cmocka_unit_test(test_created_later),
		cmocka_unit_test(test_missing_pressure),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_empty_and_root),
		cmocka_unit_test(test_unreadable_at_open),
		cmocka_unit_test(test_real_cgroup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
