/*
 * test_plot_cli.c - `bourse plot` end to end: the real binary run on a
 * SQLite file the test wrote through the store API (three hosts, twelve
 * VMs, thirty rounds), drawing with the real gnuplot. A PNG is a PNG of
 * some size and its dimensions; an SVG parses as XML (libxml2) with an
 * <svg> root; the range, --top and the filters change what is drawn; bad
 * flags exit 2 naming the flag; a database without rounds, a name without
 * points, an unwritable --out and a missing gnuplot exit 1 saying so.
 * Under it, the store's range queries (storage/store_series.c): bounds
 * inclusive or open, points by name then round.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store.h"
#include "banned.h"

#ifndef BOURSE_BIN
#error "BOURSE_BIN (the path of the bourse binary) must be defined"
#endif

#define T0 INT64_C(1700000000000)
#define N_HOSTS 3
#define N_VMS 12
#define N_ROUNDS 30

struct fx {
	char dir[64], db[128], empty_db[128];
};

struct out {
	int code;
	char out[1 << 14];
	char err[1 << 14];
};

/* ---- running the CLI ---- */

static void slurp(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, size - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
}

/* Run `bourse <args...>` (NULL-terminated) in dir, PATH set to path_env
 * (NULL: as it is). */
static void cli_env(const struct fx *f, const char *path_env, struct out *r,
		    va_list ap)
{
	const char *argv[24] = { BOURSE_BIN };
	char o[128], e[128];
	size_t n = 1;
	int status = 0;
	pid_t pid;

	while (n < 22 && (argv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	argv[n] = NULL;
	snprintf(o, sizeof(o), "%s/cli.out", f->dir);
	snprintf(e, sizeof(e), "%s/cli.err", f->dir);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fo = open(o, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int fe = open(e, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0)
			_exit(126);
		unsetenv("BOURSE_DB");
		if (path_env)
			setenv("PATH", path_env, 1);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	r->code = WEXITSTATUS(status);
	slurp(o, r->out, sizeof(r->out));
	slurp(e, r->err, sizeof(r->err));
}

static void cli(const struct fx *f, struct out *r, ...)
{
	va_list ap;

	va_start(ap, r);
	cli_env(f, NULL, r, ap);
	va_end(ap);
}

static void cli_path(const struct fx *f, const char *path, struct out *r, ...)
{
	va_list ap;

	va_start(ap, r);
	cli_env(f, path, r, ap);
	va_end(ap);
}

static void expect(const struct out *r, int code, const char *err_has)
{
	if (r->code != code || (err_has && !strstr(r->err, err_has)))
		fail_msg("exit %d (want %d)\nstdout:\n%s\nstderr:\n%s\nwanted "
			 "stderr '%s'", r->code, code, r->out, r->err,
			 err_has ? err_has : "");
}

/* ---- the pictures ---- */

/* The PNG's size in bytes, and its width and height from the IHDR. */
static long png_check(const char *path, unsigned *w, unsigned *h)
{
	static const unsigned char magic[8] = { 0x89, 'P', 'N', 'G', '\r',
						'\n', 0x1a, '\n' };
	unsigned char head[24];
	FILE *f = fopen(path, "rb");
	long size;

	assert_non_null(f);
	assert_int_equal(fread(head, 1, sizeof(head), f), sizeof(head));
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fclose(f);
	assert_memory_equal(head, magic, sizeof(magic));
	assert_memory_equal(head + 12, "IHDR", 4);
	*w = (unsigned)head[16] << 24 | (unsigned)head[17] << 16 |
	     (unsigned)head[18] << 8 | head[19];
	*h = (unsigned)head[20] << 24 | (unsigned)head[21] << 16 |
	     (unsigned)head[22] << 8 | head[23];
	return size;
}

/* The SVG parses (strictly, no network) and its root is <svg>; returns how
 * many times needle occurs in the file's text. */
static int svg_check(const char *path, const char *needle)
{
	static char text[1 << 20];
	xmlDocPtr doc = xmlReadFile(path, NULL, XML_PARSE_NONET |
				    XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	int n = 0;

	if (!doc)
		fail_msg("%s is not well-formed XML", path);
	xmlNodePtr root = xmlDocGetRootElement(doc);
	assert_non_null(root);
	assert_string_equal((const char *)root->name, "svg");
	xmlFreeDoc(doc);
	slurp(path, text, sizeof(text));
	for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

/* ---- the database ---- */

static void seed(struct fx *f)
{
	store_host_row h[N_HOSTS];
	uint32_t vid[N_VMS];
	store *s = NULL;
	char err[512];
	store_rec_policy pol;

	assert_int_equal(store_open(f->db, STORE_CREATE, &s, err,
				    sizeof(err)), 0);
	for (int i = 0; i < N_HOSTS; i++) {
		h[i] = (store_host_row){ .capacity_mib = 32768,
					 .reserve_mib = 1024,
					 .state = STORE_HOST_ONLINE,
					 .last_seen_ms = T0 };
		snprintf(h[i].name, sizeof(h[i].name), "host-%c", 'a' + i);
		assert_int_equal(store_host_upsert(s, &h[i], err, sizeof(err)), 0);
	}
	for (int i = 0; i < N_VMS; i++) {
		store_vm_row v = { .host_id = h[i % N_HOSTS].id,
				   .minimum_mib = 512, .maximum_mib = 16384,
				   .weight = 5000, .state = STORE_VM_ACTIVE,
				   .last_seen_ms = T0,
				   .last_migrated_round = INT64_MIN };
		snprintf(v.name, sizeof(v.name), "vm-%d", i);
		assert_int_equal(store_vm_upsert(s, &v, err, sizeof(err)), 0);
		vid[i] = v.id;
	}
	store_rec_policy_default(&pol);
	pol.retention_ms = 0;
	for (int r = 1; r <= N_ROUNDS; r++) {
		store_price_row pr[N_HOSTS];
		store_alloc_row al[N_VMS];
		for (int i = 0; i < N_HOSTS; i++)
			pr[i] = (store_price_row){ .host_id = h[i].id,
				.supply_mib = 31744, .utilization = 0.3 + 0.3 * i +
				0.01 * r, .price = 1 + i * i * r };
		/* vm-0 and vm-1 are short (demand above assigned), more so as
		 * the rounds go; the rest are comfortable */
		for (int i = 0; i < N_VMS; i++)
			al[i] = (store_alloc_row){ .vm_id = vid[i],
				.host_id = h[i % N_HOSTS].id,
				.demand_mib = i < 2 ? 2048 + 64 * r * (2 - i) : 900,
				.assigned_mib = 2048, .want_mib = 2048,
				.target_mib = 2048, .budget = 1,
				.pressure = 50 };
		store_round rd = { .round = r, .started_ms = T0 + 60000 * r,
				   .prices = pr, .n_prices = N_HOSTS,
				   .allocs = al, .n_allocs = N_VMS };
		assert_int_equal(store_round_write(s, &rd, &pol, T0 + 60000 * r,
						   NULL, err, sizeof(err)), 0);
	}
	store_close(s);
	s = NULL;
	assert_int_equal(store_open(f->empty_db, STORE_CREATE, &s, err,
				    sizeof(err)), 0);
	store_close(s);
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/bourse-plot-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->db, sizeof(f->db), "%s/bourse.db", f->dir);
	snprintf(f->empty_db, sizeof(f->empty_db), "%s/empty.db", f->dir);
	seed(f);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* ---- the tests ---- */

static void test_png_and_svg(void **state)
{
	struct fx *f = *state;
	static struct out r;
	char png[128], svg[128];
	unsigned w = 0, h = 0;

	snprintf(png, sizeof(png), "%s/all.png", f->dir);
	snprintf(svg, sizeof(svg), "%s/all.svg", f->dir);
	cli(f, &r, "plot", "--db", f->db, "--out", png, NULL);
	expect(&r, 0, NULL);
	assert_non_null(strstr(r.out, png));
	/* three panels with lines and legends: tens of KB, not an empty frame */
	assert_true(png_check(png, &w, &h) > 20000);
	assert_int_equal(w, 1100);
	assert_true(h > 900);

	cli(f, &r, "plot", "--db", f->db, "--out", svg, NULL);
	expect(&r, 0, NULL);
	/* every host and the ten VMs of highest shortfall: vm-0 and vm-1,
	 * then (the rest never short) the first in natural order, by name */
	assert_true(svg_check(svg, ">host-c<") >= 2); /* prices and util */
	assert_int_equal(svg_check(svg, ">vm-0<"), 1);
	assert_int_equal(svg_check(svg, ">vm-9<"), 1);
	assert_int_equal(svg_check(svg, ">vm-10<"), 0);
	assert_int_equal(svg_check(svg, "the 10 of 12 with the highest mean "
				   "shortfall"), 1);

	/* --format over the extension; one panel is a smaller picture */
	snprintf(png, sizeof(png), "%s/pressure.pic", f->dir);
	cli(f, &r, "plot", "--db", f->db, "--out", png, "--format", "png",
	    "--what", "pressure", "--x", "round", NULL);
	expect(&r, 0, NULL);
	assert_true(png_check(png, &w, &h) > 5000);
	assert_true(h < 500);
}

static void test_filters_and_top(void **state)
{
	struct fx *f = *state;
	static struct out r;
	char svg[128];

	snprintf(svg, sizeof(svg), "%s/f.svg", f->dir);
	/* --top 2: the two VMs short of memory, nobody else */
	cli(f, &r, "plot", "--db", f->db, "--out", svg, "--what", "pressure",
	    "--top", "2", NULL);
	expect(&r, 0, NULL);
	assert_int_equal(svg_check(svg, ">vm-0<"), 1);
	assert_int_equal(svg_check(svg, ">vm-1<"), 1);
	assert_int_equal(svg_check(svg, ">vm-5<"), 0);
	assert_int_equal(svg_check(svg, "the 2 of 12"), 1);

	/* --host: its hosts only, and the VMs that bid from it */
	cli(f, &r, "plot", "--db", f->db, "--out", svg, "--host", "host-b",
	    "--last", "5", NULL);
	expect(&r, 0, NULL);
	assert_int_equal(svg_check(svg, ">host-a<"), 0);
	assert_true(svg_check(svg, ">host-b<") >= 2);
	assert_int_equal(svg_check(svg, ">vm-1<"), 1); /* on host-b */
	assert_int_equal(svg_check(svg, ">vm-0<"), 0);  /* on host-a */
	assert_int_equal(svg_check(svg, "rounds 26-30"), 1);

	/* --vm, --from/--to */
	cli(f, &r, "plot", "--db", f->db, "--out", svg, "--vm", "vm-7",
	    "--vm", "vm-3", "--what", "pressure", "--from", "3", "--to", "9",
	    NULL);
	expect(&r, 0, NULL);
	assert_int_equal(svg_check(svg, ">vm-7<"), 1);
	assert_int_equal(svg_check(svg, ">vm-3<"), 1);
	assert_int_equal(svg_check(svg, ">vm-0<"), 0);
	assert_int_equal(svg_check(svg, "rounds 3-9"), 1);
}

static void test_bad_flags(void **state)
{
	struct fx *f = *state;
	static struct out r;
	static const struct {
		const char *a[8];
		const char *err;
	} cases[] = {
		{ { "plot", NULL }, "--out: is required" },
		{ { "plot", "--out", "x.gif", NULL }, "must end in .png or .svg" },
		{ { "plot", "--out", "x.png", "--what", "cpu", NULL },
		  "--what: 'cpu' is not one of" },
		{ { "plot", "--out", "x.png", "--last", "0", NULL },
		  "--last: '0' is out of range" },
		{ { "plot", "--out", "x.png", "--top", "x", NULL },
		  "--top: 'x' is not a whole number" },
		{ { "plot", "--out", "x.png", "--from", "9", "--to", "3" },
		  "--from: is after --to" },
		{ { "plot", "--out", "x.png", "--last", "3", "--to", "4" },
		  "--last: cannot be given with --from or --to" },
		{ { "plot", "--out", "x.png", "--x", "day", NULL },
		  "--x: must be 'time' or 'round'" },
		{ { "plot", "--out", "x.png", "--format", "jpg", NULL },
		  "--format: must be 'png' or 'svg'" },
		{ { "plot", "--out", "x.png", "--bogus", NULL },
		  "bourse plot: unrecognized option '--bogus'" },
		{ { "plot", "--out", NULL }, "option '--out' requires an argument" },
		{ { "plot", "--out", "x.png", "extra", NULL },
		  "unexpected argument 'extra'" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *const *a = cases[i].a;
		cli(f, &r, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], NULL);
		expect(&r, 2, cases[i].err);
	}
	cli(f, &r, "plot", "--help", NULL);
	expect(&r, 0, NULL);
	assert_non_null(strstr(r.out, "usage: bourse plot --out FILE"));
}

/* dir/gnuplot: a shell script that reads its input, then runs body. */
static void fake_gnuplot(const struct fx *f, const char *body)
{
	char path[128];
	FILE *o;

	snprintf(path, sizeof(path), "%s/gnuplot", f->dir);
	o = fopen(path, "w");
	assert_non_null(o);
	fprintf(o, "#!/bin/sh\n/bin/cat >/dev/null\n%s\n", body);
	fclose(o);
	assert_int_equal(chmod(path, 0755), 0);
}

static void test_no_data(void **state)
{
	struct fx *f = *state;
	static struct out r;
	char png[128], missing[128], bad_dir[160];

	snprintf(png, sizeof(png), "%s/none.png", f->dir);
	snprintf(missing, sizeof(missing), "%s/missing.db", f->dir);
	snprintf(bad_dir, sizeof(bad_dir), "%s/no/such/dir.png", f->dir);
	cli(f, &r, "plot", "--db", f->empty_db, "--out", png, NULL);
	expect(&r, 1, "has no rounds yet");
	cli(f, &r, "plot", "--db", f->empty_db, "--out", png, "--last", "5",
	    NULL);
	expect(&r, 1, "has no rounds yet");
	assert_int_equal(access(png, F_OK), -1);
	cli(f, &r, "plot", "--db", f->db, "--out", png, "--from", "31", NULL);
	expect(&r, 1, "has no rounds from 31");
	cli(f, &r, "plot", "--db", missing, "--out", png, NULL);
	expect(&r, 1, "missing.db");
	cli(f, &r, "plot", "--db", f->db, "--out", png, "--host", "nohost", NULL);
	expect(&r, 1, "host 'nohost' has no prices in rounds 1-30");
	cli(f, &r, "plot", "--db", f->db, "--out", png, "--vm", "novm", NULL);
	expect(&r, 1, "VM 'novm' has no samples in rounds 1-30");
	cli(f, &r, "plot", "--db", f->db, "--out", bad_dir, NULL);
	expect(&r, 1, "cannot write");
	/* a gnuplot that fails: its error line, no file left; one that
	 * writes nothing */
	fake_gnuplot(f, "echo '         ^' >&2; echo '\"-\" line 7: "
		     "unknown or ambiguous terminal type' >&2; exit 1");
	cli_path(f, f->dir, &r, "plot", "--db", f->db, "--out", png, NULL);
	expect(&r, 1, "gnuplot failed (status 1): \"-\" line 7: unknown");
	assert_int_equal(access(png, F_OK), -1);
	fake_gnuplot(f, "exit 0");
	cli_path(f, f->dir, &r, "plot", "--db", f->db, "--out", png, NULL);
	expect(&r, 1, "gnuplot wrote nothing to");
	assert_int_equal(access(png, F_OK), -1);
	/* without gnuplot: the package to install */
	cli_path(f, "/nonexistent", &r, "plot", "--db", f->db, "--out", png,
		 NULL);
	expect(&r, 1, "install the gnuplot-nox package");
	assert_int_equal(access(png, F_OK), -1);
}

/* ---- the store's range queries (store_series.c) ---- */

struct count {
	int n;
	int64_t min_round, max_round;
	char last_name[STORE_NAME_MAX];
	int64_t last_round;
	int ordered; /* by name, then round */
};

static void count_point(struct count *c, const char *name, int64_t round)
{
	int cmp = strcmp(c->last_name, name);

	if (c->n && (cmp > 0 || (cmp == 0 && round <= c->last_round)))
		c->ordered = 0;
	if (!c->n || round < c->min_round)
		c->min_round = round;
	if (!c->n || round > c->max_round)
		c->max_round = round;
	snprintf(c->last_name, sizeof(c->last_name), "%s", name);
	c->last_round = round;
	c->n++;
}

static int count_host(const store_host_point *p, void *ctx)
{
	count_point(ctx, p->host_name, p->round);
	return 0;
}

static int count_vm(const store_vm_point *p, void *ctx)
{
	count_point(ctx, p->vm_name, p->round);
	return 0;
}

static void test_store_series(void **state)
{
	struct fx *f = *state;
	store *s = NULL;
	store_series_span sp;
	struct count c;
	char err[512];

	assert_int_equal(store_open(f->db, STORE_READONLY, &s, err,
				    sizeof(err)), 0);
	assert_int_equal(store_series_rounds(s, 0, 0, &sp, err, sizeof(err)), 0);
	assert_int_equal(sp.n_rounds, N_ROUNDS);
	assert_int_equal(sp.first, 1);
	assert_int_equal(sp.last, N_ROUNDS);
	assert_int_equal(sp.first_ms, T0 + 60000);
	assert_int_equal(sp.last_ms, T0 + 60000 * N_ROUNDS);
	assert_int_equal(store_series_rounds(s, 3, 9, &sp, err, sizeof(err)), 0);
	assert_int_equal(sp.n_rounds, 7);
	assert_int_equal(store_series_rounds(s, 31, 0, &sp, err, sizeof(err)), 0);
	assert_int_equal(sp.n_rounds, 0);
	assert_int_equal(sp.first, 0);

	memset(&c, 0, sizeof(c));
	c.ordered = 1;
	assert_int_equal(store_host_series(s, 3, 9, count_host, &c, err,
					   sizeof(err)), 0);
	assert_int_equal(c.n, N_HOSTS * 7); /* both ends inclusive */
	assert_int_equal(c.min_round, 3);
	assert_int_equal(c.max_round, 9);
	assert_true(c.ordered);
	memset(&c, 0, sizeof(c));
	c.ordered = 1;
	assert_int_equal(store_vm_series(s, 0, 2, count_vm, &c, err,
					 sizeof(err)), 0);
	assert_int_equal(c.n, N_VMS * 2); /* open start */
	assert_int_equal(c.max_round, 2);
	assert_true(c.ordered);
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_vm_series(s, 29, 0, count_vm, &c, err,
					 sizeof(err)), 0);
	assert_int_equal(c.n, N_VMS * 2); /* open end */
	store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_png_and_svg, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_filters_and_top, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_bad_flags, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_no_data, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_store_series, fx_setup,
						fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
