/*
 * test_trace.c - the trace reader: both formats, every quirk rule and its
 * counter, trace_at() hold semantics, malformed input, and the real shipped
 * Bitbrains traces.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "trace.h"
#include "util.h"
#include "banned.h"

#define BB_HEADER                                                              \
	"Timestamp [ms];\tCPU cores;\tCPU capacity provisioned [MHZ];\t"       \
	"CPU usage [MHZ];\tCPU usage [%];\tMemory capacity provisioned [KB];\t" \
	"Memory usage [KB];\tDisk read throughput [KB/s];\t"                   \
	"Disk write throughput [KB/s];\tNetwork received throughput [KB/s];\t" \
	"Network transmitted throughput [KB/s]\n"

/* ---- helpers ---- */

/* A fresh temporary directory; removed (with its files) by rm_dir(). */
static char *make_dir(void)
{
	char tmpl[] = "/tmp/bourse_trace_test_XXXXXX";
	char *d = mkdtemp(tmpl);

	assert_non_null(d);
	return strdup(d);
}

static void rm_dir(char *dir)
{
	assert_int_equal(remove_all(dir), 0);
	free(dir);
}

/* Write text to dir/name; gzip-compressed if name ends in ".gz". */
static void write_file(const char *dir, const char *name, const char *text)
{
	char path[1024];
	size_t len = strlen(text);

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (len >= 3 && strcmp(name + strlen(name) - 3, ".gz") == 0) {
		gzFile g = gzopen(path, "wb");

		assert_non_null(g);
		if (len > 0)
			assert_int_equal(gzwrite(g, text, (unsigned)len), (int)len);
		assert_int_equal(gzclose(g), Z_OK);
	} else {
		FILE *f = fopen(path, "wb");

		assert_non_null(f);
		assert_int_equal(fwrite(text, 1, len, f), len);
		assert_int_equal(fclose(f), 0);
	}
}

/* A growing text buffer for building trace files. */
typedef struct text {
	char *s;
	size_t n, cap;
} text;

static void text_add(text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void text_add(text *t, const char *fmt, ...)
{
	va_list ap;
	int k;

	for (;;) {
		va_start(ap, fmt);
		k = vsnprintf(t->s ? t->s + t->n : NULL,
			      t->s ? t->cap - t->n : 0, fmt, ap);
		va_end(ap);
		assert_true(k >= 0);
		if (t->s && t->n + (size_t)k < t->cap)
			break;
		assert_int_equal(UTIL_GROW(t->s, t->n + (size_t)k + 1, t->cap),
				 0);
	}
	t->n += (size_t)k;
}

/* One Bitbrains data row; memory values are given as text. */
static void bb_row(text *t, long long ts, const char *prov_kib,
		   const char *usage_kib)
{
	text_add(t, "%lld;\t2;\t5851.9989;\t87.7799835;\t1.5;\t%s;\t%s;\t"
		 "160.86666666666667;\t21.7;\t0.26;\t1.46\n",
		 ts, prov_kib, usage_kib);
}

/* Load and expect success. */
static void load_ok(const char *path, size_t max_vms, trace_set *s)
{
	trace_opts o = { max_vms };
	char err[512] = "";
	int rc = trace_load(path, &o, s, err, sizeof err);

	if (rc != 0)
		print_error("unexpected error: %s\n", err);
	assert_int_equal(rc, 0);
	assert_string_equal(err, "");
}

/* Load, expect failure with an error containing want, and *out zeroed. */
static void load_fails(const char *path, const char *want)
{
	trace_set s;
	trace_opts o = { 0 };
	char err[512] = "";
	static const trace_set zero;

	memset(&s, 0xa5, sizeof s);
	assert_int_equal(trace_load(path, &o, &s, err, sizeof err), -1);
	if (!strstr(err, want))
		print_error("error '%s' does not contain '%s'\n", err, want);
	assert_non_null(strstr(err, want));
	assert_memory_equal(&s, &zero, sizeof s);
	/* lowercase start, no trailing period */
	assert_false(err[0] >= 'A' && err[0] <= 'Z');
	assert_true(err[strlen(err) - 1] != '.');
	trace_set_release(&s); /* harmless on the emptied set */
}

static const trace_series *find_vm(const trace_set *s, uint32_t id)
{
	size_t i;

	for (i = 0; i < s->n_vms; i++)
		if (s->vms[i].id == id)
			return &s->vms[i];
	return NULL;
}

/* ---- Bitbrains format ---- */

static void test_bb_plain_and_gz_values(void **state)
{
	char *dir = make_dir();
	text a = { 0 }, b = { 0 };
	trace_set s;
	const trace_series *v;
	int64_t p, d;

	(void)state;
	/* 1.csv plain, with a final newline */
	text_add(&a, "%s", BB_HEADER);
	bb_row(&a, 1372629804, "8218624.0", "1034592.8");  /* 8026, 1011 */
	bb_row(&a, 1372630104, "4194904", "1024.0");      /* 4096.59->4097, 1 */
	bb_row(&a, 1372630404, "4194704.0", "1025");      /* 4096.39->4096, 2 */
	bb_row(&a, 1372630704, "100.0", "0.0");           /* 0.1 -> 1 (min), 0 */
	bb_row(&a, 1372631004, "5.36303616E8", "1.8611521866666667E7");
	write_file(dir, "1.csv", a.s);
	/* 2.csv.gz compressed by zlib, no final newline */
	text_add(&b, "%s", BB_HEADER);
	bb_row(&b, 1372629804, "2097152.0", "524288.0");
	bb_row(&b, 1372630104, "2097152.0", "524289.0");
	b.s[--b.n] = '\0';
	write_file(dir, "2.csv.gz", b.s);
	/* ignored: not <digits>.csv[.gz] */
	write_file(dir, "notes.txt", "garbage\n");
	write_file(dir, "3.csv.bak", "garbage\n");
	write_file(dir, "x4.csv", "garbage\n");

	load_ok(dir, 0, &s);
	assert_int_equal(s.n_vms, 2);
	assert_int_equal(s.vms[0].id, 1);
	assert_int_equal(s.vms[1].id, 2);
	assert_int_equal(s.quirks.rows, 7);
	assert_int_equal(s.t_min, 1372629804);
	assert_int_equal(s.t_max, 1372631004);

	v = &s.vms[0];
	assert_int_equal(v->n, 5);
	assert_null(v->swap_mibps);
	assert_int_equal(v->t[0], 1372629804);
	assert_int_equal(v->t[4], 1372631004);
	assert_int_equal(v->prov_mib[0], 8026);
	assert_int_equal(v->demand_mib[0], 1011);
	assert_int_equal(v->prov_mib[1], 4097);
	assert_int_equal(v->demand_mib[1], 1);
	assert_int_equal(v->prov_mib[2], 4096);
	assert_int_equal(v->demand_mib[2], 2);
	assert_int_equal(v->prov_mib[3], 1);
	assert_int_equal(v->demand_mib[3], 0);
	assert_int_equal(v->prov_mib[4], 523734);
	assert_int_equal(v->demand_mib[4], 18176); /* 18175.31 rounded up */
	/* 4 changes: 8026->4097->4096->1->523734 */
	assert_int_equal(s.quirks.capacity_changes, 4);
	/* row 4: usage 0 <= 100 KiB; none over capacity */
	assert_int_equal(s.quirks.usage_over_capacity, 0);

	v = &s.vms[1];
	assert_int_equal(v->n, 2);
	assert_int_equal(v->prov_mib[1], 2048);
	assert_int_equal(v->demand_mib[0], 512);
	assert_int_equal(v->demand_mib[1], 513);
	assert_int_equal(trace_at(v, 1372630104, 0, &p, &d, NULL), 1);
	assert_int_equal(d, 513);

	trace_set_release(&s);
	assert_null(s.vms);
	assert_int_equal(s.n_vms, 0);
	trace_set_release(&s); /* twice is harmless */
	free(a.s);
	free(b.s);
	rm_dir(dir);
}

static void test_bb_crlf(void **state)
{
	char *dir = make_dir();
	trace_set s;

	(void)state;
	write_file(dir, "7.csv",
		   "Timestamp [ms];\tCPU cores;\tb;\tc;\td;\te;\tf;\tg;\th;\ti;\tj\r\n"
		   "100;\t1;\t1;\t1;\t1;\t2048.0;\t1024.0;\t0;\t0;\t0;\t0\r\n"
		   "400;\t1;\t1;\t1;\t1;\t2048.0;\t1025.0;\t0;\t0;\t0;\t0\r\n");
	load_ok(dir, 0, &s);
	assert_int_equal(s.n_vms, 1);
	assert_int_equal(s.vms[0].id, 7);
	assert_int_equal(s.vms[0].n, 2);
	assert_int_equal(s.vms[0].prov_mib[0], 2);
	assert_int_equal(s.vms[0].demand_mib[0], 1);
	assert_int_equal(s.vms[0].demand_mib[1], 2);
	trace_set_release(&s);
	rm_dir(dir);
}

static void test_zero_capacity_carried(void **state)
{
	char *dir = make_dir();
	text a = { 0 };
	trace_set s;
	const trace_series *v;

	(void)state;
	text_add(&a, "%s", BB_HEADER);
	bb_row(&a, 0, "0.0", "1024");     /* before any: from the next (4096) */
	bb_row(&a, 300, "0", "1024");
	bb_row(&a, 600, "4194304.0", "1024");
	bb_row(&a, 900, "0.0", "1024");   /* from the last (4096) */
	bb_row(&a, 1200, "8388608.0", "1024");
	bb_row(&a, 1500, "0.0", "1024");  /* from the last (8192) */
	write_file(dir, "1.csv", a.s);
	load_ok(dir, 0, &s);
	v = &s.vms[0];
	assert_int_equal(v->n, 6);
	assert_int_equal(v->prov_mib[0], 4096);
	assert_int_equal(v->prov_mib[1], 4096);
	assert_int_equal(v->prov_mib[2], 4096);
	assert_int_equal(v->prov_mib[3], 4096);
	assert_int_equal(v->prov_mib[4], 8192);
	assert_int_equal(v->prov_mib[5], 8192);
	assert_int_equal(s.quirks.zero_capacity, 4);
	assert_int_equal(s.quirks.no_capacity_vms, 0);
	assert_int_equal(s.quirks.capacity_changes, 1);
	assert_int_equal(s.quirks.usage_over_capacity, 0);
	trace_set_release(&s);
	free(a.s);
	rm_dir(dir);
}

static void test_all_zero_capacity_vm(void **state)
{
	char *dir = make_dir();
	text a = { 0 }, b = { 0 }, c = { 0 };
	trace_set s;

	(void)state;
	text_add(&a, "%s", BB_HEADER);
	bb_row(&a, 0, "0.0", "1000.0");
	bb_row(&a, 300, "0.0", "2049.0"); /* peak: 2.0009 MiB -> 3 */
	bb_row(&a, 600, "0.0", "10.0");
	write_file(dir, "1.csv", a.s);
	text_add(&b, "%s", BB_HEADER);
	bb_row(&b, 0, "0.0", "0.0");      /* no usage either: 1 MiB */
	bb_row(&b, 300, "0.0", "0.0");
	write_file(dir, "2.csv", b.s);
	text_add(&c, "%s", BB_HEADER);
	bb_row(&c, 0, "1048576.0", "0.0"); /* a normal VM */
	bb_row(&c, 600, "1048576.0", "0.0");
	write_file(dir, "3.csv", c.s);

	load_ok(dir, 0, &s);
	assert_int_equal(s.n_vms, 3);
	assert_int_equal(s.quirks.no_capacity_vms, 2);
	assert_int_equal(s.quirks.zero_capacity, 5);
	assert_int_equal(s.vms[0].prov_mib[0], 3);
	assert_int_equal(s.vms[0].prov_mib[1], 3);
	assert_int_equal(s.vms[0].prov_mib[2], 3);
	assert_int_equal(s.vms[0].demand_mib[1], 3);
	assert_int_equal(s.vms[1].prov_mib[0], 1);
	assert_int_equal(s.vms[1].prov_mib[1], 1);
	assert_int_equal(s.vms[2].prov_mib[0], 1024);
	/* the peak is never "over capacity" */
	assert_int_equal(s.quirks.usage_over_capacity, 0);
	trace_set_release(&s);
	free(a.s);
	free(b.s);
	free(c.s);
	rm_dir(dir);
}

static void test_nonincreasing_dropped(void **state)
{
	char *dir = make_dir();
	text a = { 0 };
	trace_set s;
	const trace_series *v;

	(void)state;
	text_add(&a, "%s", BB_HEADER);
	bb_row(&a, 1000, "1048576", "1024");
	bb_row(&a, 1300, "1048576", "2048");
	bb_row(&a, 1300, "1048576", "9999"); /* repeated: dropped */
	bb_row(&a, 1600, "1048576", "3072");
	bb_row(&a, 1500, "1048576", "9999"); /* backwards: dropped */
	bb_row(&a, 1600, "1048576", "9999"); /* equal to kept 1600: dropped */
	bb_row(&a, 1900, "1048576", "4096");
	write_file(dir, "1.csv.gz", a.s);
	load_ok(dir, 0, &s);
	v = &s.vms[0];
	assert_int_equal(s.quirks.rows, 7);
	assert_int_equal(s.quirks.nonincreasing_ts, 3);
	assert_int_equal(v->n, 4);
	assert_int_equal(v->t[0], 1000);
	assert_int_equal(v->t[1], 1300);
	assert_int_equal(v->t[2], 1600);
	assert_int_equal(v->t[3], 1900);
	assert_int_equal(v->demand_mib[1], 2);  /* the first 1300 row kept */
	assert_int_equal(v->demand_mib[2], 3);
	assert_int_equal(v->demand_mib[3], 4);
	assert_int_equal(s.quirks.irregular_steps, 0);
	trace_set_release(&s);
	free(a.s);
	rm_dir(dir);
}

static void test_irregular_steps(void **state)
{
	char *dir = make_dir();
	text a = { 0 };
	trace_set s;
	long long ts[] = { 0, 300, 600, 900, 1201, 1500, 2100, 2400, 2500 };
	size_t i;

	(void)state;
	text_add(&a, "%s", BB_HEADER);
	/* steps 300 300 300 301 299 600 300 100: usual 300; 301 and 299 are
	 * 1 s clock jitter, 600 and 100 are irregular */
	for (i = 0; i < sizeof ts / sizeof ts[0]; i++)
		bb_row(&a, ts[i], "1048576", "1024");
	write_file(dir, "1.csv", a.s);
	load_ok(dir, 0, &s);
	assert_int_equal(s.vms[0].n, 9);
	assert_int_equal(s.quirks.irregular_steps, 2);
	trace_set_release(&s);
	free(a.s);
	rm_dir(dir);
}

static void test_usage_over_capacity_kept(void **state)
{
	char *dir = make_dir();
	text a = { 0 };
	trace_set s;

	(void)state;
	text_add(&a, "%s", BB_HEADER);
	bb_row(&a, 0, "1048576.0", "2097152.0");   /* 1 GiB prov, 2 GiB use */
	bb_row(&a, 300, "1048576.0", "1048576.0"); /* equal: not over */
	bb_row(&a, 600, "1048576.0", "1048576.5"); /* over by half a KiB */
	write_file(dir, "1.csv", a.s);
	load_ok(dir, 0, &s);
	assert_int_equal(s.quirks.usage_over_capacity, 2);
	assert_int_equal(s.vms[0].prov_mib[0], 1024);
	assert_int_equal(s.vms[0].demand_mib[0], 2048);
	assert_int_equal(s.vms[0].demand_mib[1], 1024);
	assert_int_equal(s.vms[0].demand_mib[2], 1025);
	trace_set_release(&s);
	free(a.s);
	rm_dir(dir);
}

static void test_short_lived_and_empty(void **state)
{
	char *dir = make_dir();
	text a = { 0 }, b = { 0 }, c = { 0 };
	trace_set s;

	(void)state;
	text_add(&a, "%s", BB_HEADER);      /* span of the set: 0..10000 */
	bb_row(&a, 0, "1048576", "1");
	bb_row(&a, 10000, "1048576", "1");
	write_file(dir, "1.csv", a.s);
	text_add(&b, "%s", BB_HEADER);      /* 8999 < 90%: short-lived */
	bb_row(&b, 0, "1048576", "1");
	bb_row(&b, 8999, "1048576", "1");
	write_file(dir, "2.csv", b.s);
	text_add(&c, "%s", BB_HEADER);      /* exactly 90%: not short-lived */
	bb_row(&c, 1000, "1048576", "1");
	bb_row(&c, 10000, "1048576", "1");
	write_file(dir, "3.csv.gz", c.s);
	write_file(dir, "4.csv", BB_HEADER);      /* header only: skipped */
	write_file(dir, "5.csv.gz", BB_HEADER);
	load_ok(dir, 0, &s);
	assert_int_equal(s.n_vms, 3);
	assert_int_equal(s.t_min, 0);
	assert_int_equal(s.t_max, 10000);
	assert_int_equal(s.quirks.short_lived_vms, 1);
	assert_int_equal(s.quirks.empty_vms, 2);
	assert_null(find_vm(&s, 4));
	trace_set_release(&s);
	free(a.s);
	free(b.s);
	free(c.s);
	rm_dir(dir);
}

static void test_all_empty_is_error(void **state)
{
	char *dir = make_dir();

	(void)state;
	write_file(dir, "1.csv", BB_HEADER);
	write_file(dir, "2.csv.gz", BB_HEADER);
	load_fails(dir, "are empty");
	rm_dir(dir);
}

static void test_max_vms(void **state)
{
	char *dir = make_dir();
	text a = { 0 };
	trace_set s;

	(void)state;
	text_add(&a, "%s", BB_HEADER);
	bb_row(&a, 0, "1048576", "1");
	write_file(dir, "10.csv", a.s);
	write_file(dir, "3.csv", a.s);
	write_file(dir, "2.csv.gz", a.s);
	write_file(dir, "1.csv", BB_HEADER);     /* empty: does not count */
	write_file(dir, "11.csv", "broken\n");  /* never read with max 2 */
	load_ok(dir, 2, &s);
	assert_int_equal(s.n_vms, 2);
	assert_int_equal(s.vms[0].id, 2);
	assert_int_equal(s.vms[1].id, 3);  /* numeric order: 3 before 10 */
	assert_int_equal(s.quirks.empty_vms, 1);
	trace_set_release(&s);
	load_ok(dir, 3, &s);
	assert_int_equal(s.n_vms, 3);
	assert_int_equal(s.vms[2].id, 10);
	trace_set_release(&s);
	/* all of them: the broken file is read now */
	load_fails(dir, "11.csv:1: header row does not start with 'Timestamp'");
	free(a.s);
	rm_dir(dir);
}

/* ---- trace_at ---- */

static void test_trace_at_hold(void **state)
{
	int64_t t[] = { 100, 400, 700 };
	int64_t prov[] = { 4096, 4096, 8192 };
	int64_t dem[] = { 10, 20, 30 };
	double swap[] = { 0.5, 1.5, 2.5 };
	trace_series v = { 9, 3, t, prov, dem, NULL };
	int64_t p = -1, d = -1;
	double sw = -1;

	(void)state;
	assert_int_equal(trace_at(&v, 99, 300, &p, &d, &sw), 0);
	assert_int_equal(trace_at(&v, 100, 300, &p, &d, &sw), 1);
	assert_int_equal(d, 10);
	assert_int_equal(p, 4096);
	assert_true(sw == 0.0); /* no swap in the trace */
	assert_int_equal(trace_at(&v, 399, 300, &p, &d, &sw), 1);
	assert_int_equal(d, 10);
	assert_int_equal(trace_at(&v, 400, 300, &p, &d, &sw), 1);
	assert_int_equal(d, 20);
	assert_int_equal(trace_at(&v, 699, 300, &p, &d, &sw), 1);
	assert_int_equal(d, 20);
	assert_int_equal(trace_at(&v, 700, 300, &p, &d, &sw), 1);
	assert_int_equal(d, 30);
	assert_int_equal(p, 8192);
	/* held for hold_s after the last sample, then gone */
	assert_int_equal(trace_at(&v, 1000, 300, &p, &d, &sw), 1);
	assert_int_equal(d, 30);
	assert_int_equal(trace_at(&v, 1001, 300, &p, &d, &sw), 0);
	assert_int_equal(trace_at(&v, 700, 0, &p, &d, &sw), 1);
	assert_int_equal(trace_at(&v, 701, 0, &p, &d, &sw), 0);
	assert_int_equal(trace_at(&v, INT64_MAX, INT64_MAX, NULL, NULL, NULL),
			 1);
	assert_int_equal(trace_at(&v, INT64_MIN, 300, NULL, NULL, NULL), 0);
	/* swap when present; NULL outputs allowed */
	v.swap_mibps = swap;
	assert_int_equal(trace_at(&v, 450, 300, NULL, NULL, &sw), 1);
	assert_true(sw == 1.5);
	/* a single sample; an empty series is never alive */
	v.n = 1;
	assert_int_equal(trace_at(&v, 100, 0, &p, &d, NULL), 1);
	assert_int_equal(d, 10);
	assert_int_equal(trace_at(&v, 101, 0, &p, &d, NULL), 0);
	v.n = 0;
	assert_int_equal(trace_at(&v, 100, 300, &p, &d, NULL), 0);
}

/* ---- bourse CSV ---- */

static void test_csv_unsorted_with_swap(void **state)
{
	char *dir = make_dir();
	char path[1024];
	trace_set s;
	const trace_series *v;
	double sw;

	(void)state;
	write_file(dir, "t.csv",
		   "vm,time_s,provisioned_mib,demand_mib,guest_swap_mibps\n"
		   "7,600,4096,300,0.0\n"
		   "3,0,8192,1000,1.5\n"
		   "7,0,4096,100.2,0\n"
		   "3,300,8192,6000,12.25\n"
		   "7,300,0,200,0.5\n"      /* zero capacity: carried */
		   "7,300,4096,999,9\n"     /* same time: later row dropped */
		   "3,600,8192,9000,3\n");  /* over capacity: kept */
	snprintf(path, sizeof path, "%s/t.csv", dir);
	load_ok(path, 0, &s);
	assert_int_equal(s.n_vms, 2);
	assert_int_equal(s.quirks.rows, 7);
	assert_int_equal(s.quirks.nonincreasing_ts, 1);
	assert_int_equal(s.quirks.zero_capacity, 1);
	assert_int_equal(s.quirks.usage_over_capacity, 1);
	assert_int_equal(s.t_min, 0);
	assert_int_equal(s.t_max, 600);

	v = &s.vms[0];
	assert_int_equal(v->id, 3);
	assert_int_equal(v->n, 3);
	assert_non_null(v->swap_mibps);
	assert_int_equal(v->t[1], 300);
	assert_int_equal(v->demand_mib[1], 6000);
	assert_true(v->swap_mibps[1] == 12.25);
	assert_int_equal(v->demand_mib[2], 9000);
	assert_int_equal(v->prov_mib[2], 8192);

	v = &s.vms[1];
	assert_int_equal(v->id, 7);
	assert_int_equal(v->n, 3);
	assert_int_equal(v->t[0], 0);
	assert_int_equal(v->t[1], 300);
	assert_int_equal(v->t[2], 600);
	assert_int_equal(v->demand_mib[0], 101); /* 100.2 rounded up */
	assert_int_equal(v->demand_mib[1], 200);
	assert_int_equal(v->prov_mib[1], 4096);
	assert_true(v->swap_mibps[1] == 0.5);
	assert_int_equal(trace_at(v, 599, 0, NULL, NULL, &sw), 1);
	assert_true(sw == 0.5);
	trace_set_release(&s);

	load_ok(path, 1, &s);
	assert_int_equal(s.n_vms, 1);
	assert_int_equal(s.vms[0].id, 3);
	assert_int_equal(s.quirks.rows, 3); /* VM 7's rows not counted */
	assert_int_equal(s.quirks.nonincreasing_ts, 0);
	trace_set_release(&s);
	rm_dir(dir);
}

static void test_csv_no_swap(void **state)
{
	char *dir = make_dir();
	char path[1024];
	trace_set s;
	double sw = -1;

	(void)state;
	write_file(dir, "t.csv.gz",
		   "vm,time_s,provisioned_mib,demand_mib\r\n"
		   "1,10,2048,5\r\n"
		   "1,20,2048,6");
	snprintf(path, sizeof path, "%s/t.csv.gz", dir);
	load_ok(path, 0, &s);
	assert_int_equal(s.n_vms, 1);
	assert_int_equal(s.vms[0].n, 2);
	assert_null(s.vms[0].swap_mibps);
	assert_int_equal(trace_at(&s.vms[0], 25, 10, NULL, NULL, &sw), 1);
	assert_true(sw == 0.0);
	trace_set_release(&s);
	rm_dir(dir);
}

/* ---- malformed input ---- */

static void csv_bad(const char *dir, const char *body, const char *want)
{
	char path[1024], full[1200];

	write_file(dir, "bad.csv", body);
	snprintf(path, sizeof path, "%s/bad.csv", dir);
	snprintf(full, sizeof full, "%s%s", path, want);
	load_fails(path, full);
}

static void test_csv_malformed(void **state)
{
	char *dir = make_dir();
#define H "vm,time_s,provisioned_mib,demand_mib\n"
#define HS "vm,time_s,provisioned_mib,demand_mib,guest_swap_mibps\n"

	(void)state;
	csv_bad(dir, H "1,0,1024,5\n1,300,1024,abc\n",
		":3: demand_mib is not a number: 'abc'");
	csv_bad(dir, H "1,0,1024,5x\n", ":2: demand_mib is not a number: '5x'");
	csv_bad(dir, H "1,0,1024\n", ":2: row has 3 columns, expected 4");
	csv_bad(dir, H "1,0,1024,5,1\n", ":2: row has 5 columns, expected 4");
	csv_bad(dir, HS "1,0,1024,5\n", ":2: row has 4 columns, expected 5");
	csv_bad(dir, H "1,0,,5\n", ":2: provisioned_mib is empty");
	csv_bad(dir, H "1,0,1024,nan\n",
		":2: demand_mib is not a finite number: 'nan'");
	csv_bad(dir, H "1,0,inf,5\n",
		":2: provisioned_mib is not a finite number: 'inf'");
	csv_bad(dir, H "1,0,1024,-5\n", ":2: demand_mib is negative: '-5'");
	csv_bad(dir, H "1,-300,1024,5\n", ":2: time_s is negative: '-300'");
	csv_bad(dir, H "1,1.5,1024,5\n", ":2: time_s is not an integer: '1.5'");
	csv_bad(dir, H "x,0,1024,5\n", ":2: vm is not an integer: 'x'");
	csv_bad(dir, H "4294967296,0,1024,5\n", ":2: vm is out of range");
	csv_bad(dir, H "1,0,0x10,5\n", ":2: provisioned_mib is not a number");
	csv_bad(dir, H "1,0,1e999,5\n", ":2: provisioned_mib is out of range");
	csv_bad(dir, H "1,0,1e13,5\n", ":2: provisioned_mib is out of range");
	csv_bad(dir, H "1,0,1024,5\n\n1,300,1024,5 6\n",
		":4: demand_mib is not a number: '5 6'");
	csv_bad(dir, HS "1,0,1024,5,-1\n",
		":2: guest_swap_mibps is negative: '-1'");
	csv_bad(dir, "vm,time,provisioned_mib,demand_mib\n1,0,1024,5\n",
		":1: header is not 'vm,time_s,provisioned_mib,demand_mib'");
	csv_bad(dir, "", ":1: missing header row");
	load_fails("/nonexistent/bourse/trace.csv",
		   "cannot open '/nonexistent/bourse/trace.csv'");
#undef H
#undef HS
	rm_dir(dir);
}

static void test_csv_header_only_is_error(void **state)
{
	char *dir = make_dir();
	char path[1024];

	(void)state;
	write_file(dir, "e.csv", "vm,time_s,provisioned_mib,demand_mib\n");
	snprintf(path, sizeof path, "%s/e.csv", dir);
	load_fails(path, "no data rows in '");
	rm_dir(dir);
}

static void bb_bad(const char *name, const char *body, const char *want)
{
	char *dir = make_dir();
	char full[1200];

	write_file(dir, name, body);
	snprintf(full, sizeof full, "%s/%s%s", dir, name, want);
	load_fails(dir, full);
	rm_dir(dir);
}

static void test_bb_malformed(void **state)
{
	text a = { 0 };
	char *long_line;

	(void)state;
	text_add(&a, "%s", BB_HEADER);
	bb_row(&a, 0, "1048576", "1");
	bb_row(&a, 300, "1048576", "abc");
	bb_bad("20.csv.gz", a.s, ":3: memory usage is not a number: 'abc'");
	bb_bad("20.csv", a.s, ":3: memory usage is not a number: 'abc'");
	a.n = 0;
	text_add(&a, "%s", BB_HEADER);
	bb_row(&a, 0, "NaN", "1");
	bb_bad("1.csv", a.s, ":2: memory capacity is not a finite number: 'NaN'");
	a.n = 0;
	text_add(&a, "%s", BB_HEADER);
	bb_row(&a, 0, "1048576", "-1.5");
	bb_bad("1.csv", a.s, ":2: memory usage is negative: '-1.5'");
	a.n = 0;
	text_add(&a, "%s", BB_HEADER);
	bb_row(&a, 0, "1048576", "1");
	bb_row(&a, 300, "1048576", "");
	bb_bad("1.csv", a.s, ":3: memory usage is empty");
	a.n = 0;
	text_add(&a, "%s", BB_HEADER);
	bb_row(&a, 0, "1048576", "1");
	text_add(&a, "300;\t2;\t5851.9989;\t87.7;\t1.5;\t1048576.0\n");
	bb_bad("1.csv", a.s, ":3: row has 6 columns, expected 11");
	a.n = 0;
	text_add(&a, "%s", BB_HEADER);
	text_add(&a, "12ab;\t2;\t1;\t1;\t1;\t1;\t1;\t1;\t1;\t1;\t1\n");
	bb_bad("1.csv", a.s, ":2: timestamp is not an integer: '12ab'");
	bb_bad("1.csv", "1372629804;\t2;\t1;\t1;\t1;\t1;\t1;\t1;\t1;\t1;\t1\n",
	       ":1: header row does not start with 'Timestamp'");
	bb_bad("1.csv", "Timestamp [ms];\tCPU cores\n",
	       ":1: header has 2 columns, expected 11");
	bb_bad("1.csv", "", ":1: missing header row");

	/* a line longer than the reader's buffer: an error, not a split */
	long_line = malloc(20000);
	assert_non_null(long_line);
	memset(long_line, '1', 19998);
	long_line[19998] = '\n';
	long_line[19999] = '\0';
	a.n = 0;
	text_add(&a, "%s", BB_HEADER);
	bb_row(&a, 0, "1048576", "1");
	text_add(&a, "%s", long_line);
	bb_bad("1.csv", a.s, ":3: line is too long");
	free(long_line);
	free(a.s);
}

static void test_bb_corrupt_gz(void **state)
{
	char *dir = make_dir();
	char path[1024], *err_want;
	text a = { 0 };
	FILE *f;
	long size;

	(void)state;
	text_add(&a, "%s", BB_HEADER);
	for (int i = 0; i < 2000; i++)
		bb_row(&a, 300LL * i, "1048576", "1");
	write_file(dir, "1.csv.gz", a.s);
	/* cut the compressed file in half */
	snprintf(path, sizeof path, "%s/1.csv.gz", dir);
	f = fopen(path, "rb+");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(truncate(path, size / 2), 0);
	err_want = path;
	load_fails(dir, err_want);
	load_fails(dir, "read error");
	free(a.s);
	rm_dir(dir);
}

static void test_empty_directory(void **state)
{
	char *dir = make_dir();
	char want[1200];

	(void)state;
	snprintf(want, sizeof want,
		 "no trace files (<id>.csv or <id>.csv.gz) in '%s'", dir);
	load_fails(dir, want);
	write_file(dir, "readme.txt", "not a trace\n");
	load_fails(dir, want);
	/* a set directory holding a month: the error names the month */
	char sub[1100];
	snprintf(sub, sizeof sub, "%s/2013-7", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(want, sizeof want, "it has subdirectories ('%s'): pass one",
		 sub);
	load_fails(dir, want);
	assert_int_equal(rmdir(sub), 0);
	rm_dir(dir);
}

static void test_duplicate_id(void **state)
{
	char *dir = make_dir();
	text a = { 0 };
	char want[1200];

	(void)state;
	text_add(&a, "%s", BB_HEADER);
	bb_row(&a, 0, "1048576", "1");
	write_file(dir, "5.csv", a.s);
	write_file(dir, "5.csv.gz", a.s);
	snprintf(want, sizeof want, "duplicate vm id 5: '%s/5.csv' and '%s/5.csv.gz'",
		 dir, dir);
	load_fails(dir, want);
	/* "05" is the same VM as "5" */
	snprintf(want, sizeof want, "%s/5.csv.gz", dir);
	unlink(want);
	write_file(dir, "05.csv", a.s);
	load_fails(dir, "duplicate vm id 5");
	free(a.s);
	rm_dir(dir);
}

/* ---- shipped fixtures and real traces ---- */

#ifdef BOURSE_SOURCE_DIR
static void test_fixtures(void **state)
{
	trace_set s;
	const trace_series *v;
	int64_t p, d;

	(void)state;
	load_ok(BOURSE_SOURCE_DIR "/tests/data/small.csv", 0, &s);
	assert_int_equal(s.n_vms, 4);
	assert_int_equal(s.quirks.rows, 48);
	for (size_t i = 0; i < s.n_vms; i++) {
		assert_int_equal(s.vms[i].id, i + 1);
		assert_int_equal(s.vms[i].n, 12);
		assert_int_equal(s.vms[i].t[1] - s.vms[i].t[0], 300);
	}
	v = find_vm(&s, 2);
	assert_non_null(v);
	assert_int_equal(trace_at(v, v->t[7], 0, &p, &d, NULL), 1);
	assert_int_equal(p, 8192);
	assert_int_equal(d, 6000); /* the spike */
	trace_set_release(&s);

	load_fails(BOURSE_SOURCE_DIR "/tests/data/bad.csv",
		   "tests/data/bad.csv:5: demand_mib is not a number: 'lots'");

	load_ok(BOURSE_SOURCE_DIR "/tests/data/bitbrains-mini", 0, &s);
	assert_int_equal(s.n_vms, 3);
	assert_int_equal(s.quirks.rows, 18);
	assert_int_equal(s.quirks.zero_capacity, 1);
	assert_int_equal(s.quirks.nonincreasing_ts, 1);
	assert_int_equal(s.vms[0].prov_mib[0], 4096); /* carried back */
	assert_int_equal(s.vms[0].demand_mib[0], 1011);
	assert_int_equal(s.vms[1].n, 5);
	assert_int_equal(s.vms[2].n, 6); /* CRLF, no final newline */
	assert_int_equal(s.vms[2].prov_mib[0], 2048);
	trace_set_release(&s);
}
#endif

static void test_real_traces(void **state)
{
	const char *dir = BOURSE_TRACES_DIR "/bitbrains-rnd/2013-7";
	struct stat st;
	trace_set s;
	const trace_series *v;
	const trace_quirks *q;
	size_t i;
	uint64_t samples = 0;

	(void)state;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		print_message("skipped: no real traces at %s\n", dir);
		skip();
	}
	load_ok(dir, 0, &s);
	q = &s.quirks;
	assert_int_equal(s.n_vms, 100);
	for (i = 0; i < s.n_vms; i++) {
		assert_int_equal(s.vms[i].id, i + 1);
		samples += s.vms[i].n;
		for (size_t j = 1; j < s.vms[i].n; j++)
			assert_true(s.vms[i].t[j] > s.vms[i].t[j - 1]);
		for (size_t j = 0; j < s.vms[i].n; j++)
			assert_true(s.vms[i].prov_mib[j] > 0);
	}
	/* zcat *.gz | grep -vc Timestamp */
	assert_int_equal(q->rows, 832073);
	assert_int_equal(samples + q->nonincreasing_ts, q->rows);
	/* 2013-07-01T00:03:24+02:00 .. 30 days later */
	assert_int_equal(s.t_min, 1372629804);
	assert_true(s.t_max - s.t_min > 29 * 86400);

	v = find_vm(&s, 14);
	assert_non_null(v);
	assert_int_equal(v->n, 428);
	v = find_vm(&s, 82);
	assert_int_equal(v->n, 2073);
	v = find_vm(&s, 27);
	assert_true(v->prov_mib[0] > 510 * 1024 && v->prov_mib[0] < 512 * 1024);

	/* the README's quirks, as observed */
	assert_int_equal(q->short_lived_vms, 2);           /* VMs 14 and 82 */
	assert_true(q->nonincreasing_ts > 0);              /* VMs 20 and 54 */
	assert_int_equal(q->nonincreasing_ts, 10394);
	assert_true(q->zero_capacity > 0);     /* VMs 20, 38, 54, 44-53 */
	assert_int_equal(q->zero_capacity, 42906);
	assert_int_equal(q->usage_over_capacity, 10); /* 38, 46, 48, 50, 82 */
	assert_true(q->irregular_steps > 0);
	assert_true(q->capacity_changes > 0);
	assert_int_equal(q->no_capacity_vms, 0);
	assert_int_equal(q->empty_vms, 0);
	trace_set_release(&s);

	/* max_vms reads only the lowest ids */
	load_ok(dir, 20, &s);
	assert_int_equal(s.n_vms, 20);
	assert_int_equal(s.vms[19].id, 20);
	assert_true(s.quirks.rows < 832073 / 4);
	trace_set_release(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bb_plain_and_gz_values),
		cmocka_unit_test(test_bb_crlf),
		cmocka_unit_test(test_zero_capacity_carried),
		cmocka_unit_test(test_all_zero_capacity_vm),
		cmocka_unit_test(test_nonincreasing_dropped),
		cmocka_unit_test(test_irregular_steps),
		cmocka_unit_test(test_usage_over_capacity_kept),
		cmocka_unit_test(test_short_lived_and_empty),
		cmocka_unit_test(test_all_empty_is_error),
		cmocka_unit_test(test_max_vms),
		cmocka_unit_test(test_trace_at_hold),
		cmocka_unit_test(test_csv_unsorted_with_swap),
		cmocka_unit_test(test_csv_no_swap),
		cmocka_unit_test(test_csv_malformed),
		cmocka_unit_test(test_csv_header_only_is_error),
		cmocka_unit_test(test_bb_malformed),
		cmocka_unit_test(test_bb_corrupt_gz),
		cmocka_unit_test(test_empty_directory),
		cmocka_unit_test(test_duplicate_id),
#ifdef BOURSE_SOURCE_DIR
		cmocka_unit_test(test_fixtures),
#endif
		cmocka_unit_test(test_real_traces),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
