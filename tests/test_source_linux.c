/*
 * test_source_linux.c - the Linux host source against fixture /proc trees
 * written by the test into a temporary directory: the figures it reports,
 * notes for missing files (once each), malformed files refused with their
 * file and line, the swap rate between two vmstat snapshots (on the tree's
 * own uptime clock, and on CLOCK_MONOTONIC without it), refused options, and
 * this machine's real /proc.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fixture.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "source.h"
#include "util.h"
#include "banned.h"

/* 16000 MiB total, 12000 MiB available (10976 MiB free beyond the
 * 1024 MiB reserve of opts()). */
static const char meminfo_ok[] =
	"MemTotal:       16384000 kB\n"
	"MemFree:         8192000 kB\n"
	"MemAvailable:   12288000 kB\n"
	"Active(anon):     102400 kB\n"
	"SwapTotal:       2097152 kB\n"
	"SwapFree:        2097152 kB\n"
	"HugePages_Total:       0\n"
	"Hugepagesize:       2048 kB\n";

static const char pressure_ok[] =
	"some avg10=30.25 avg60=10.00 avg300=2.50 total=123456\n"
	"full avg10=12.50 avg60=5.00 avg300=1.00 total=65432\n";

/* ---- fixture trees ---- */

/* A full tree: meminfo, vmstat (pswpin, pswpout), pressure, uptime. */
static void tree_full(struct tree *t, uint64_t in, uint64_t out, double up)
{
	char vmstat[256], uptime[64];

	tree_make(t, "linux");
	tree_write(t, "meminfo", meminfo_ok);
	snprintf(vmstat, sizeof(vmstat), "nr_free_pages 123\npgpgin 5\n"
		 "pswpin %llu\npswpout %llu\nthp_fault_alloc 0\n",
		 (unsigned long long)in, (unsigned long long)out);
	tree_write(t, "vmstat", vmstat);
	tree_write(t, "pressure/memory", pressure_ok);
	snprintf(uptime, sizeof(uptime), "%.2f 1234.50\n", up);
	tree_write(t, "uptime", uptime);
}

static void set_swap(struct tree *t, uint64_t in, uint64_t out, double up)
{
	char vmstat[128], uptime[64];

	snprintf(vmstat, sizeof(vmstat), "pswpin %llu\npswpout %llu\n",
		 (unsigned long long)in, (unsigned long long)out);
	tree_write(t, "vmstat", vmstat);
	snprintf(uptime, sizeof(uptime), "%.2f 1.00\n", up);
	tree_write(t, "uptime", uptime);
}

/* ---- the source ---- */

struct notes {
	int n;
	char last[512];
	char all[2048];
};

static void note_fn(void *ctx, const char *msg)
{
	struct notes *ns = ctx;
	size_t used = strlen(ns->all);

	ns->n++;
	snprintf(ns->last, sizeof(ns->last), "%s", msg);
	snprintf(ns->all + used, sizeof(ns->all) - used, "%s\n", msg);
}

static source_linux_opts opts(const struct tree *t, struct notes *ns)
{
	source_linux_opts o = {
		.proc_root = t ? t->dir : NULL, .reserve_mib = 1024,
		.note = note_fn, .note_ctx = ns,
	};
	return o;
}

static source *open_ok(const source_linux_opts *o)
{
	source *s = NULL;
	char err[512] = "";

	if (source_linux_open(o, &s, err, sizeof(err)) != 0)
		fail_msg("source_linux_open: %s", err);
	assert_non_null(s);
	assert_string_equal(s->ops->kind, "linux");
	return s;
}

/* Refused, with a message containing want. */
static void open_refused(const source_linux_opts *o, const char *want)
{
	source *s = (source *)1;
	char err[512] = "";

	assert_int_equal(source_linux_open(o, &s, err, sizeof(err)), -1);
	assert_null(s);
	if (!strstr(err, want))
		fail_msg("message '%s' does not contain '%s'", err, want);
}

static source_host host(source *s)
{
	source_host h;
	char err[256];

	memset(&h, 0xff, sizeof(h)); /* every field must be written */
	assert_int_equal(source_host_read(s, &h, err, sizeof(err)), 0);
	return h;
}

static void advance(source *s)
{
	char err[512] = "";

	if (source_advance(s, err, sizeof(err)) != 0)
		fail_msg("source_advance: %s", err);
}

static double page_mib(void)
{
	return (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0);
}

/* ---- tests ---- */

static void test_normal(void **state)
{
	struct tree t;
	struct notes ns = { 0 };
	source_linux_opts o;
	source *s;
	source_host h;
	source_vm_config c;
	source_vm_sample v;
	char err[256];

	(void)state;
	tree_full(&t, 100, 50, 1000);
	o = opts(&t, &ns);
	s = open_ok(&o);
	h = host(s);
	assert_int_equal(h.capacity_mib, 16000);
	assert_int_equal(h.reserve_mib, 1024);
	assert_int_equal(h.free_mib, 12000 - 1024);
	assert_int_equal(h.balloon_mib, 0);
	assert_true(h.host_swap_mibps == 0);
	assert_int_equal(source_n_vms(s), 0);
	assert_int_equal(source_vm_config_get(s, 0, &c), -1);
	assert_int_equal(source_vm_read(s, 0, &v, err, sizeof(err)), -1);
	assert_int_equal(ns.n, 0);
	advance(s);
	assert_int_equal(host(s).free_mib, 12000 - 1024);
	source_close(s);
	remove_all(t.dir);
}

/* advance() re-reads: new figures show at once. */
static void test_rereads(void **state)
{
	struct tree t;
	source_linux_opts o;
	source *s;

	(void)state;
	tree_full(&t, 0, 0, 10);
	o = opts(&t, NULL);
	o.note = NULL;
	s = open_ok(&o);
	tree_write(&t, "meminfo", "MemTotal: 2048000 kB\n"
		   "MemAvailable: 1024 kB\n");
	tree_write(&t, "pressure/memory",
		   "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
		   "full avg10=100.00 avg60=0.00 avg300=0.00 total=7\n");
	advance(s);
	assert_int_equal(host(s).capacity_mib, 2000);
	/* 1 MiB available, below the 1024 MiB reserve: none free */
	assert_int_equal(host(s).free_mib, 0);
	tree_write(&t, "meminfo", "MemTotal: 2048000 kB\n"
		   "MemAvailable: 1536000 kB\n");
	advance(s);
	assert_int_equal(host(s).free_mib, 1500 - 1024);
	/* MemAvailable above MemTotal (a faked meminfo): capped at
	 * capacity - reserve */
	tree_write(&t, "meminfo", "MemTotal: 2048000 kB\n"
		   "MemAvailable: 4096000 kB\n");
	advance(s);
	assert_int_equal(host(s).free_mib, 2000 - 1024);
	source_close(s);
	remove_all(t.dir);
}

/* Only meminfo: vmstat, pressure and uptime are each noted once, on open,
 * and never again; the source works without them. */
static void test_missing_noted_once(void **state)
{
	struct tree t;
	struct notes ns = { 0 };
	source_linux_opts o;
	source *s;
	source_host h;

	(void)state;
	tree_make(&t, "linux");
	tree_write(&t, "meminfo", meminfo_ok);
	o = opts(&t, &ns);
	s = open_ok(&o);
	assert_int_equal(ns.n, 3);
	assert_non_null(strstr(ns.all, "/pressure/memory"));
	assert_non_null(strstr(ns.all, "(PSI) not used"));
	assert_non_null(strstr(ns.all, "/vmstat"));
	assert_non_null(strstr(ns.all, "/uptime"));
	advance(s);
	advance(s);
	assert_int_equal(ns.n, 3);
	h = host(s);
	assert_int_equal(h.capacity_mib, 16000);
	assert_true(h.host_swap_mibps == 0);
	source_close(s);
	remove_all(t.dir);
}

/* Only the pressure file missing: one note, through two advances. */
static void test_missing_pressure(void **state)
{
	struct tree t;
	struct notes ns = { 0 };
	source_linux_opts o;
	source *s;

	(void)state;
	tree_full(&t, 1, 2, 5);
	tree_unlink(&t, "pressure/memory");
	o = opts(&t, &ns);
	s = open_ok(&o);
	advance(s);
	advance(s);
	assert_int_equal(ns.n, 1);
	assert_non_null(strstr(ns.last, "pressure/memory"));
	source_close(s);
	remove_all(t.dir);
}

/* vmstat without the swap counters: noted once, rate 0. */
static void test_vmstat_without_swap(void **state)
{
	struct tree t;
	struct notes ns = { 0 };
	source_linux_opts o;
	source *s;

	(void)state;
	tree_full(&t, 0, 0, 5);
	tree_write(&t, "vmstat", "nr_free_pages 12\n");
	o = opts(&t, &ns);
	s = open_ok(&o);
	advance(s);
	assert_int_equal(ns.n, 1);
	assert_non_null(strstr(ns.last, "pswpin"));
	assert_true(host(s).host_swap_mibps == 0);
	source_close(s);
	remove_all(t.dir);
}

struct bad_case {
	const char *file, *text, *want;
};

/* Each malformed file is refused on open with its file:line. */
static void test_malformed(void **state)
{
	static const struct bad_case cases[] = {
		{ "meminfo", "MemTotal: 1000 kB\nMemFree: 10 kB\n"
		  "MemAvailable: abc kB\n", "/meminfo:3: " },
		{ "meminfo", "MemTotal: 1000 kB\nMemAvailable: -5 kB\n",
		  "/meminfo:2: " },
		{ "meminfo", "MemTotal 1000 kB\n", "/meminfo:1: " },
		{ "meminfo", "MemTotal: 1000 kB junk\n", "/meminfo:1: " },
		{ "meminfo", "MemTotal: 1000\n", "/meminfo:1: 'MemTotal' is "
		  "not in kB" },
		{ "meminfo", "MemTotal: 99999999999999999999 kB\n",
		  "/meminfo:1: " },
		{ "meminfo", "MemTotal: 1000 kB\nMemTotal: 1000 kB\n",
		  "/meminfo:2: a second 'MemTotal'" },
		{ "meminfo", "Mem Total: 1000 kB\n", "/meminfo:1: " },
		{ "meminfo", "MemTotal: 1000 kB\n\n", "/meminfo:2: " },
		{ "meminfo", "MemTotal: 1000 kB\n", "/meminfo: no MemAvailable" },
		{ "meminfo", "", "/meminfo: no MemTotal" },
		{ "vmstat", "pswpin 1\npswpout 2\nnr_x 1.5\n", "/vmstat:3: " },
		{ "vmstat", "pswpin  1\n", "/vmstat:1: " },
		{ "vmstat", "pswpin 1\npswpin 2\n", "/vmstat:2: a second" },
		{ "pressure/memory", "some avg10=1.00 avg60=1.00 avg300=1.00 "
		  "total=1\nfull avg10=101.00 avg60=0.00 avg300=0.00 total=1\n",
		  "/pressure/memory:2: " },
		{ "pressure/memory", "some avg10=1.00 avg60=1.00\n",
		  "/pressure/memory:1: " },
		{ "pressure/memory", "some avg10=0.00 avg60=0.00 avg300=0.00 "
		  "total=0\n", "/pressure/memory: no 'full' line" },
		{ "uptime", "12.5 x\n", "/uptime:1: " },
		{ "uptime", "12.5 1.0\n13.0 1.0\n", "/uptime:2: " },
		{ "uptime", "", "/uptime: empty" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tree t;
		source_linux_opts o;

		tree_full(&t, 0, 0, 1);
		tree_write(&t, cases[i].file, cases[i].text);
		o = opts(&t, NULL);
		open_refused(&o, cases[i].want);
		remove_all(t.dir);
	}
}

/* A malformed meminfo on advance: an error naming it, the last good reading
 * kept; a good one again is read again. */
static void test_malformed_on_advance(void **state)
{
	struct tree t;
	source_linux_opts o;
	source *s;
	char err[512] = "", want[128];

	(void)state;
	tree_full(&t, 0, 0, 1);
	o = opts(&t, NULL);
	s = open_ok(&o);
	tree_write(&t, "meminfo", "MemTotal: 1000 kB\nMemAvailable: 1O kB\n");
	assert_int_equal(source_advance(s, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s/meminfo:2: ", t.dir);
	if (!strstr(err, want))
		fail_msg("message '%s' does not name '%s'", err, want);
	assert_int_equal(host(s).capacity_mib, 16000);
	assert_int_equal(host(s).free_mib, 12000 - 1024);
	tree_write(&t, "meminfo", "MemTotal: 4096 kB\nMemAvailable: 2048 kB\n");
	advance(s);
	assert_int_equal(host(s).capacity_mib, 4);
	/* the capacity fell below the reserve: nothing free, not negative */
	assert_int_equal(host(s).free_mib, 0);
	source_close(s);
	remove_all(t.dir);
}

/* The swap rate on the tree's uptime clock: exact. */
static void test_swap_rate(void **state)
{
	struct tree t;
	source_linux_opts o;
	source *s;
	source_host h;
	double want = 3000 * page_mib() / 10.0; /* 3000 pages in 10 s */

	(void)state;
	tree_full(&t, 1000, 500, 100.0);
	o = opts(&t, NULL);
	s = open_ok(&o);
	assert_true(host(s).host_swap_mibps == 0);
	set_swap(&t, 2000, 2500, 110.0);
	advance(s);
	h = host(s);
	assert_true(fabs(h.host_swap_mibps - want) < 1e-9);

	/* no time passed: the rate and its baseline are kept ... */
	set_swap(&t, 2100, 2500, 110.0);
	advance(s);
	assert_true(fabs(host(s).host_swap_mibps - want) < 1e-9);
	/* ... and the next rate is measured from 110 s */
	set_swap(&t, 2600, 2500, 115.0);
	advance(s);
	assert_true(fabs(host(s).host_swap_mibps - 600 * page_mib() / 5.0)
		    < 1e-9);
	/* idle */
	set_swap(&t, 2600, 2500, 125.0);
	advance(s);
	assert_true(host(s).host_swap_mibps == 0);
	/* counters went back: 0, and measured from there */
	set_swap(&t, 10, 10, 130.0);
	advance(s);
	assert_true(host(s).host_swap_mibps == 0);
	set_swap(&t, 20, 10, 131.0);
	advance(s);
	assert_true(fabs(host(s).host_swap_mibps - 10 * page_mib()) < 1e-9);
	source_close(s);
	remove_all(t.dir);
}

/* The source's clock (util_now_us()), in seconds. */
static double mono_s(void)
{
	return (double)util_now_us() / 1e6;
}

/* Without uptime, CLOCK_MONOTONIC: the rate is the growth over a span at
 * least the sleep and at most what the test measured around it. */
static void test_swap_rate_monotonic(void **state)
{
	struct tree t;
	struct notes ns = { 0 };
	source_linux_opts o;
	source *s;
	double t0, t1, mib = 2560 * page_mib(), rate;
	struct timespec nap = { 0, 100 * 1000 * 1000 };

	(void)state;
	tree_full(&t, 0, 0, 1);
	tree_unlink(&t, "uptime");
	o = opts(&t, &ns);
	t0 = mono_s();
	s = open_ok(&o);
	nanosleep(&nap, NULL);
	tree_write(&t, "vmstat", "pswpin 2560\npswpout 0\n");
	advance(s);
	t1 = mono_s();
	rate = host(s).host_swap_mibps;
	assert_true(rate <= mib / 0.1 + 1e-9);
	assert_true(rate >= mib / (t1 - t0) - 1e-9);
	assert_int_equal(ns.n, 1);
	assert_non_null(strstr(ns.last, "CLOCK_MONOTONIC"));
	source_close(s);
	remove_all(t.dir);
}

static void test_refused(void **state)
{
	struct tree t;
	source_linux_opts o;
	source *s = (source *)1;
	char err[256];

	(void)state;
	tree_full(&t, 0, 0, 1);
	o = opts(&t, NULL);
	o.reserve_mib = 16000;
	open_refused(&o, "reserve 16000 MiB must be below the capacity");
	o.reserve_mib = -1;
	open_refused(&o, "reserve must be");
	o = opts(&t, NULL);
	o.proc_root = "";
	open_refused(&o, "proc root is empty");
	tree_unlink(&t, "meminfo");
	o = opts(&t, NULL);
	open_refused(&o, "/meminfo");
	assert_int_equal(source_linux_open(NULL, &s, err, sizeof(err)), -1);
	assert_null(s);
	remove_all(t.dir);
}

/* This machine's /proc. */
static void test_real_proc(void **state)
{
	source_linux_opts o = { .proc_root = NULL, .reserve_mib = 0 };
	source *s;
	source_host h;

	(void)state;
#ifndef __linux__
	print_message("skipped: not Linux\n");
	skip();
#endif
	s = open_ok(&o);
	advance(s);
	h = host(s);
	assert_true(h.capacity_mib > 0);
	assert_true(h.free_mib >= 0 && h.free_mib <= h.capacity_mib);
	assert_true(h.host_swap_mibps >= 0 && isfinite(h.host_swap_mibps));
	source_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normal),
		cmocka_unit_test(test_rereads),
		cmocka_unit_test(test_missing_noted_once),
		cmocka_unit_test(test_missing_pressure),
		cmocka_unit_test(test_vmstat_without_swap),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_malformed_on_advance),
		cmocka_unit_test(test_swap_rate),
		cmocka_unit_test(test_swap_rate_monotonic),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_real_proc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
