/*
 * trace.c - VM memory trace reader: Bitbrains GWA-T-12 directories and
 * bourse CSV files, read through zlib (plain and gzip files alike).
 *
 * Reading happens in two stages. First every data row of a VM is parsed into
 * a raw row (time, provisioned KiB, usage KiB, swap), with full checking of
 * each number; a line that cannot be parsed is an error "FILE:LINE: ...".
 * Then the quirk rules of docs/simulator.md ("Data quirks and the rules for
 * them") turn each VM's raw rows into a clean trace_series and count what
 * they did in trace_quirks.
 */
#include "trace.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "util.h"
#include "banned.h"

#define LINE_MAX_BYTES 4096     /* longest accepted line, newline included */
#define BB_FIELDS 11            /* columns of a Bitbrains file */
#define BB_COL_TIME 0
#define BB_COL_PROV 5
#define BB_COL_USAGE 6
#define STEP_JITTER_S 1         /* steps within this of the usual are regular */
/* Memory values above 2^40 MiB (what market_cluster_validate() accepts) are
 * rejected here, where the file and line can be named. */
#define MAX_KIB (1099511627776.0 * 1024.0)
#define CSV_HEADER "vm,time_s,provisioned_mib,demand_mib"
#define CSV_SWAP_COL "guest_swap_mibps"

/* One parsed data row, before the quirk rules. */
typedef struct raw_row {
	int64_t t;
	double prov_kib;
	double usage_kib;
	double swap;
	uint32_t vm;   /* bourse CSV only */
	size_t seq;    /* order in the file, for a stable sort */
} raw_row;

typedef struct raw_vec {
	raw_row *r;
	size_t n, cap;
} raw_vec;

/* A line reader over gzgets with its file name and line number. */
typedef struct reader {
	gzFile f;
	const char *name;
	unsigned long line;
	char buf[LINE_MAX_BYTES];
} reader;

static int raw_push(raw_vec *v, const raw_row *row)
{
	if (UTIL_GROW(v->r, v->n + 1, v->cap))
		return -1;
	v->r[v->n++] = *row;
	return 0;
}

static int reader_open(reader *rd, const char *path, char *err, size_t errlen)
{
	rd->name = path;
	rd->line = 0;
	errno = 0;
	rd->f = gzopen(path, "rb");
	if (!rd->f)
		return util_err(err, errlen, "cannot open '%s': %s", path,
				errno ? strerror(errno) : "out of memory");
	gzbuffer(rd->f, 128 * 1024);
	return 0;
}

static void reader_close(reader *rd)
{
	if (rd->f)
		gzclose(rd->f);
	rd->f = NULL;
}

/* Next line into rd->buf without its "\n" or "\r\n". Returns 1 for a line,
 * 0 at the end of the file, -1 on error (err set). */
static int reader_next(reader *rd, char *err, size_t errlen)
{
	size_t len;
	int errnum;

	if (!gzgets(rd->f, rd->buf, (int)sizeof rd->buf)) {
		const char *msg = gzerror(rd->f, &errnum);

		if (errnum != Z_OK) {
			util_err(err, errlen, "%s:%lu: read error: %s",
				 rd->name, rd->line + 1, msg);
			return -1;
		}
		return 0;
	}
	rd->line++;
	len = strlen(rd->buf);
	if (len > 0 && rd->buf[len - 1] == '\n') {
		rd->buf[--len] = '\0';
	} else if (len == sizeof rd->buf - 1 && gzgetc(rd->f) != -1) {
		util_err(err, errlen,
			 "%s:%lu: line is too long (more than %d characters)",
			 rd->name, rd->line, LINE_MAX_BYTES - 2);
		return -1;
	} else {
		/* last line without a newline: make sure it was not cut short
		 * by a read error */
		const char *msg = gzerror(rd->f, &errnum);

		if (errnum != Z_OK) {
			util_err(err, errlen, "%s:%lu: read error: %s",
				 rd->name, rd->line, msg);
			return -1;
		}
	}
	if (len > 0 && rd->buf[len - 1] == '\r')
		rd->buf[--len] = '\0';
	return 1;
}

/* Close and free a reader from reader_start(); NULL is fine. */
static void reader_free(reader *rd)
{
	if (!rd)
		return;
	reader_close(rd);
	free(rd);
}

/* Open path and read its header row into rd->buf. Returns the reader (the
 * caller frees it with reader_free()), or NULL with err set. */
static reader *reader_start(const char *path, char *err, size_t errlen)
{
	reader *rd = malloc(sizeof *rd);
	int rc;

	if (!rd) {
		util_err(err, errlen, "out of memory reading '%s'", path);
		return NULL;
	}
	if (reader_open(rd, path, err, errlen) < 0) {
		free(rd);
		return NULL;
	}
	rc = reader_next(rd, err, errlen);
	if (rc <= 0) {
		if (rc == 0)
			util_err(err, errlen, "%s:1: missing header row", path);
		reader_free(rd);
		return NULL;
	}
	return rd;
}

static int is_blank(const char *s)
{
	for (; *s; s++)
		if (*s != ' ' && *s != '\t')
			return 0;
	return 1;
}

/* Split s in place at each sep; each field is trimmed of spaces and tabs.
 * Returns the number of fields (may exceed max; only max are stored). */
static size_t split(char *s, char sep, char **fields, size_t max)
{
	size_t n = 0;

	for (;;) {
		char *end = strchr(s, sep);
		char *e;

		if (end)
			*end = '\0';
		while (*s == ' ' || *s == '\t')
			s++;
		e = s + strlen(s);
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		if (n < max)
			fields[n] = s;
		n++;
		if (!end)
			return n;
		s = end + 1;
	}
}

/* "FILE:LINE: WHAT is PROBLEM: 'VALUE'", the one shape of a bad field. */
static void field_err(const reader *rd, const char *what, const char *value,
		      const char *problem, char *err, size_t errlen)
{
	util_err(err, errlen, "%s:%lu: %s is %s: '%s'", rd->name, rd->line,
		 what, problem, value);
}

/* Parse a non-negative decimal integer. Returns 0 or -1 with err set. */
static int parse_int(const reader *rd, const char *what, const char *s,
		     int64_t max, int64_t *out, char *err, size_t errlen)
{
	char *end;
	long long v;

	if (*s == '\0') {
		util_err(err, errlen, "%s:%lu: %s is empty", rd->name, rd->line,
			 what);
		return -1;
	}
	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || *end != '\0') {
		field_err(rd, what, s, "not an integer", err, errlen);
		return -1;
	}
	if (v < 0) {
		field_err(rd, what, s, "negative", err, errlen);
		return -1;
	}
	if (errno == ERANGE || v > max) {
		field_err(rd, what, s, "out of range", err, errlen);
		return -1;
	}
	*out = v;
	return 0;
}

/* Parse a finite, non-negative decimal number no larger than max. */
static int parse_num(const reader *rd, const char *what, const char *s,
		     double max, double *out, char *err, size_t errlen)
{
	char *end;
	double v;

	if (*s == '\0') {
		util_err(err, errlen, "%s:%lu: %s is empty", rd->name, rd->line,
			 what);
		return -1;
	}
	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end != '\0' || strpbrk(s, "xX")) {
		field_err(rd, what, s, "not a number", err, errlen);
		return -1;
	}
	if (errno == ERANGE && v != 0) {
		field_err(rd, what, s, "out of range", err, errlen);
		return -1;
	}
	if (!isfinite(v)) {
		field_err(rd, what, s, "not a finite number", err, errlen);
		return -1;
	}
	if (v < 0) {
		field_err(rd, what, s, "negative", err, errlen);
		return -1;
	}
	if (v > max) {
		field_err(rd, what, s, "out of range", err, errlen);
		return -1;
	}
	*out = v;
	return 0;
}

/* ---- quirk rules: raw rows of one VM -> clean series ---- */

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static void series_free(trace_series *s)
{
	free(s->t);
	free(s->prov_mib);
	free(s->demand_mib);
	free(s->swap_mibps);
	memset(s, 0, sizeof *s);
}

static int64_t kib_to_mib_ceil(double kib)
{
	return (int64_t)ceil(kib / 1024.0);
}

static int64_t kib_to_mib_round(double kib)
{
	int64_t m = (int64_t)llround(kib / 1024.0);

	return m < 1 ? 1 : m;
}

/* Rule: a row whose time is <= the previous kept row's is dropped.
 * Compacts r in place; returns the rows kept. */
static size_t drop_nonincreasing(raw_row *r, size_t n, trace_quirks *q)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (k > 0 && r[i].t <= r[k - 1].t) {
			q->nonincreasing_ts++;
			continue;
		}
		r[k++] = r[i];
	}
	return k;
}

/* Rule: provisioned 0 is carried from the last non-zero row before, or, if
 * there is none, from the first non-zero row after; a VM with no non-zero
 * capacity at all gets its peak usage, rounded up to a MiB. */
static void fill_zero_capacity(raw_row *r, size_t n, trace_quirks *q)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (r[i].prov_kib > 0)
			break;
	if (i < n) {
		/* before the first non-zero row this is the next non-zero
		 * value, after it the last one seen */
		double carry = r[i].prov_kib;

		for (i = 0; i < n; i++) {
			if (r[i].prov_kib > 0) {
				carry = r[i].prov_kib;
			} else {
				q->zero_capacity++;
				r[i].prov_kib = carry;
			}
		}
		return;
	}
	double peak = 0;
	int64_t cap;

	q->no_capacity_vms++;
	q->zero_capacity += n;
	for (i = 0; i < n; i++)
		if (r[i].usage_kib > peak)
			peak = r[i].usage_kib;
	cap = kib_to_mib_ceil(peak);
	if (cap < 1)
		cap = 1;
	for (i = 0; i < n; i++)
		r[i].prov_kib = (double)cap * 1024.0;
}

/* Count steps more than STEP_JITTER_S away from the most common one (ties:
 * the shortest); the real data's clock jitters by 1 s (299, 301). steps has
 * n - 1 entries of scratch. */
static void count_irregular_steps(const raw_row *r, size_t n, int64_t *steps,
				  trace_quirks *q)
{
	size_t best = 0, run = 0, ns = n - 1, i;
	int64_t mode = 0;

	if (n <= 2)
		return;
	for (i = 1; i < n; i++)
		steps[i - 1] = r[i].t - r[i - 1].t;
	qsort(steps, ns, sizeof *steps, cmp_i64);
	for (i = 0; i < ns; i++) {
		run = (i > 0 && steps[i] == steps[i - 1]) ? run + 1 : 1;
		if (run > best) {
			best = run;
			mode = steps[i];
		}
	}
	for (i = 1; i < n; i++) {
		int64_t d = r[i].t - r[i - 1].t;

		if (d < mode - STEP_JITTER_S || d > mode + STEP_JITTER_S)
			q->irregular_steps++;
	}
}

/* Apply the quirk rules to rows r[0..n) (n >= 1, in time order as read) of
 * VM id; rows with a non-increasing time are compacted away in place. */
static int build_series(uint32_t id, raw_row *r, size_t n, int has_swap,
			trace_series *s, trace_quirks *q)
{
	int64_t *steps;

	memset(s, 0, sizeof *s);
	s->id = id;
	q->rows += n;
	n = drop_nonincreasing(r, n, q);

	s->n = n;
	s->t = malloc(n * sizeof *s->t);
	s->prov_mib = malloc(n * sizeof *s->prov_mib);
	s->demand_mib = malloc(n * sizeof *s->demand_mib);
	if (has_swap)
		s->swap_mibps = malloc(n * sizeof *s->swap_mibps);
	steps = n > 1 ? malloc((n - 1) * sizeof *steps) : NULL;
	if (!s->t || !s->prov_mib || !s->demand_mib ||
	    (has_swap && !s->swap_mibps) || (n > 1 && !steps)) {
		free(steps);
		series_free(s);
		return -1;
	}
	fill_zero_capacity(r, n, q);
	for (size_t i = 0; i < n; i++) {
		s->t[i] = r[i].t;
		s->prov_mib[i] = kib_to_mib_round(r[i].prov_kib);
		s->demand_mib[i] = kib_to_mib_ceil(r[i].usage_kib);
		if (has_swap)
			s->swap_mibps[i] = r[i].swap;
		if (r[i].usage_kib > r[i].prov_kib) /* rule: kept as is */
			q->usage_over_capacity++;
		if (i > 0 && s->prov_mib[i] != s->prov_mib[i - 1])
			q->capacity_changes++;
	}
	count_irregular_steps(r, n, steps, q);
	free(steps);
	return 0;
}

/* Set the time span and count the short-lived VMs of a filled set. */
static void finish_set(trace_set *set)
{
	size_t i;
	uint64_t span;

	for (i = 0; i < set->n_vms; i++) {
		const trace_series *v = &set->vms[i];

		if (i == 0 || v->t[0] < set->t_min)
			set->t_min = v->t[0];
		if (i == 0 || v->t[v->n - 1] > set->t_max)
			set->t_max = v->t[v->n - 1];
	}
	span = (uint64_t)(set->t_max - set->t_min);
	for (i = 0; i < set->n_vms; i++) {
		const trace_series *v = &set->vms[i];
		uint64_t life = (uint64_t)(v->t[v->n - 1] - v->t[0]);

		/* life < 90% of span, in integers: life * 10 < span * 9,
		 * without the products (times go up to 2^61: they would
		 * wrap; tests/fuzz/crashes/trace/short-lived-overflow) */
		if (life < 9 * (span / 10) + (9 * (span % 10) + 9) / 10)
			set->quirks.short_lived_vms++;
	}
}

/* ---- Bitbrains directory ---- */

typedef struct bb_file {
	uint32_t id;
	char *path;
} bb_file;

static int cmp_bb_file(const void *a, const void *b)
{
	const bb_file *x = a, *y = b;

	if (x->id != y->id)
		return (x->id > y->id) - (x->id < y->id);
	return strcmp(x->path, y->path);
}

/* If name is <digits>.csv or <digits>.csv.gz, return 1 and its digits'
 * length; else 0. */
static int bb_name(const char *name, size_t *ndig)
{
	size_t d = 0;

	while (name[d] >= '0' && name[d] <= '9')
		d++;
	if (d == 0)
		return 0;
	*ndig = d;
	return strcmp(name + d, ".csv") == 0 || strcmp(name + d, ".csv.gz") == 0;
}

/* Read one Bitbrains file into rows (cleared first). */
static int bb_read(const char *path, raw_vec *rows, char *err, size_t errlen)
{
	char *f[BB_FIELDS];
	size_t nf;
	int rc;

	rows->n = 0;
	reader *rd = reader_start(path, err, errlen);
	if (!rd)
		return -1;
	if (strncmp(rd->buf, "Timestamp", 9) != 0) {
		util_err(err, errlen,
			 "%s:%lu: header row does not start with 'Timestamp'",
			 path, rd->line);
		goto fail;
	}
	nf = split(rd->buf, ';', f, BB_FIELDS);
	if (nf != BB_FIELDS) {
		util_err(err, errlen,
			 "%s:%lu: header has %zu columns, expected %d", path,
			 rd->line, nf, BB_FIELDS);
		goto fail;
	}
	while ((rc = reader_next(rd, err, errlen)) > 0) {
		raw_row row;

		if (is_blank(rd->buf))
			continue;
		nf = split(rd->buf, ';', f, BB_FIELDS);
		if (nf != BB_FIELDS) {
			util_err(err, errlen,
				 "%s:%lu: row has %zu columns, expected %d",
				 path, rd->line, nf, BB_FIELDS);
			goto fail;
		}
		memset(&row, 0, sizeof row);
		row.seq = rows->n;
		if (parse_int(rd, "timestamp", f[BB_COL_TIME], INT64_MAX / 4,
			      &row.t, err, errlen) < 0 ||
		    parse_num(rd, "memory capacity", f[BB_COL_PROV], MAX_KIB,
			      &row.prov_kib, err, errlen) < 0 ||
		    parse_num(rd, "memory usage", f[BB_COL_USAGE], MAX_KIB,
			      &row.usage_kib, err, errlen) < 0)
			goto fail;
		if (raw_push(rows, &row) < 0) {
			util_err(err, errlen, "%s:%lu: out of memory", path,
				 rd->line);
			goto fail;
		}
	}
	if (rc < 0)
		goto fail;
	reader_free(rd);
	return 0;
fail:
	reader_free(rd);
	return -1;
}

static void free_files(bb_file *files, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(files[i].path);
	free(files);
}

/* List the <digits>.csv[.gz] regular files of dir, sorted by id; duplicate
 * ids are an error. */
/* Names of dir's subdirectories, comma-separated into buf (cut at len).
 * Returns how many there are. For the hint when a set, not a month, is
 * given (../shared/traces/bitbrains-rnd instead of .../2013-7). */
static size_t list_subdirs(const char *dir, char *buf, size_t len)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0, used = 0;

	buf[0] = '\0';
	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL) {
		char path[4096];
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
			continue;
		if (used < len) {
			int w = snprintf(buf + used, len - used, "%s'%s/%s'",
					 n ? ", " : "", dir, de->d_name);
			used += w > 0 ? (size_t)w : 0;
		}
		n++;
	}
	closedir(d);
	return n;
}

static int bb_list(const char *dir, bb_file **out, size_t *nout, char *err,
		   size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	bb_file *files = NULL;
	size_t n = 0, cap = 0, i;

	*out = NULL;
	*nout = 0;
	if (!d) {
		util_err(err, errlen, "cannot open directory '%s': %s", dir,
			 strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		size_t ndig, len;
		unsigned long long id;
		struct stat st;
		char *path;

		if (!bb_name(de->d_name, &ndig))
			continue;
		errno = 0;
		id = strtoull(de->d_name, NULL, 10);
		if (ndig > 10 || errno == ERANGE || id > UINT32_MAX) {
			util_err(err, errlen, "vm id out of range: '%s/%s'",
				 dir, de->d_name);
			goto fail;
		}
		len = strlen(dir) + 1 + strlen(de->d_name) + 1;
		path = malloc(len);
		if (!path) {
			util_err(err, errlen, "out of memory listing '%s'",
				 dir);
			goto fail;
		}
		snprintf(path, len, "%s/%s", dir, de->d_name);
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
			free(path);
			continue;
		}
		if (UTIL_GROW(files, n + 1, cap)) {
			free(path);
			util_err(err, errlen, "out of memory listing '%s'",
				 dir);
			goto fail;
		}
		files[n].id = (uint32_t)id;
		files[n].path = path;
		n++;
	}
	closedir(d);
	d = NULL;
	if (n == 0) {
		char subs[256];

		if (list_subdirs(dir, subs, sizeof subs) > 0)
			util_err(err, errlen, "no trace files in '%s'; it has "
				 "subdirectories (%s): pass one of them", dir,
				 subs);
		else
			util_err(err, errlen, "no trace files (<id>.csv or "
				 "<id>.csv.gz) in '%s'", dir);
		goto fail;
	}
	qsort(files, n, sizeof *files, cmp_bb_file);
	for (i = 1; i < n; i++) {
		if (files[i].id == files[i - 1].id) {
			util_err(err, errlen, "duplicate vm id %" PRIu32
				 ": '%s' and '%s'", files[i].id,
				 files[i - 1].path, files[i].path);
			goto fail;
		}
	}
	*out = files;
	*nout = n;
	return 0;
fail:
	if (d)
		closedir(d);
	free_files(files, n);
	return -1;
}

static int load_dir(const char *dir, size_t max_vms, trace_set *set,
		    char *err, size_t errlen)
{
	bb_file *files;
	size_t nfiles, i, want;
	raw_vec rows = { 0 };

	if (bb_list(dir, &files, &nfiles, err, errlen) < 0)
		return -1;
	want = (max_vms == 0 || max_vms > nfiles) ? nfiles : max_vms;
	set->vms = calloc(want, sizeof *set->vms);
	if (!set->vms) {
		util_err(err, errlen, "out of memory loading '%s'", dir);
		goto fail;
	}
	/* files in id order until want non-empty VMs are loaded */
	for (i = 0; i < nfiles && set->n_vms < want; i++) {
		if (bb_read(files[i].path, &rows, err, errlen) < 0)
			goto fail;
		if (rows.n == 0) {
			set->quirks.empty_vms++;
			continue;
		}
		if (build_series(files[i].id, rows.r, rows.n, 0,
				 &set->vms[set->n_vms], &set->quirks) < 0) {
			util_err(err, errlen, "out of memory loading '%s'",
				 files[i].path);
			goto fail;
		}
		set->n_vms++;
	}
	if (set->n_vms == 0) {
		util_err(err, errlen, "all trace files in '%s' are empty", dir);
		goto fail;
	}
	free(rows.r);
	free_files(files, nfiles);
	return 0;
fail:
	free(rows.r);
	free_files(files, nfiles);
	return -1;
}

/* ---- bourse CSV ---- */

static int cmp_csv_row(const void *a, const void *b)
{
	const raw_row *x = a, *y = b;

	if (x->vm != y->vm)
		return (x->vm > y->vm) - (x->vm < y->vm);
	if (x->t != y->t)
		return (x->t > y->t) - (x->t < y->t);
	return (x->seq > y->seq) - (x->seq < y->seq);
}

static int load_csv(const char *path, size_t max_vms, trace_set *set,
		    char *err, size_t errlen)
{
	raw_vec rows = { 0 };
	char *f[5];
	size_t ncols, nf, i, j, nvms;
	int rc, has_swap;

	reader *rd = reader_start(path, err, errlen);
	if (!rd)
		return -1;
	if (strcmp(rd->buf, CSV_HEADER) == 0) {
		has_swap = 0;
	} else if (strcmp(rd->buf, CSV_HEADER "," CSV_SWAP_COL) == 0) {
		has_swap = 1;
	} else {
		util_err(err, errlen, "%s:%lu: header is not '" CSV_HEADER
			 "' or '" CSV_HEADER "," CSV_SWAP_COL "'", path,
			 rd->line);
		goto fail;
	}
	ncols = has_swap ? 5 : 4;
	while ((rc = reader_next(rd, err, errlen)) > 0) {
		raw_row row;
		int64_t vm;

		if (is_blank(rd->buf))
			continue;
		nf = split(rd->buf, ',', f, 5);
		if (nf != ncols) {
			util_err(err, errlen,
				 "%s:%lu: row has %zu columns, expected %zu",
				 path, rd->line, nf, ncols);
			goto fail;
		}
		memset(&row, 0, sizeof row);
		row.seq = rows.n;
		if (parse_int(rd, "vm", f[0], UINT32_MAX, &vm, err,
			      errlen) < 0 ||
		    parse_int(rd, "time_s", f[1], INT64_MAX / 4, &row.t, err,
			      errlen) < 0 ||
		    parse_num(rd, "provisioned_mib", f[2], MAX_KIB / 1024,
			      &row.prov_kib, err, errlen) < 0 ||
		    parse_num(rd, "demand_mib", f[3], MAX_KIB / 1024,
			      &row.usage_kib, err, errlen) < 0 ||
		    (has_swap && parse_num(rd, CSV_SWAP_COL, f[4], 1e12,
					   &row.swap, err, errlen) < 0))
			goto fail;
		row.vm = (uint32_t)vm;
		row.prov_kib *= 1024.0;
		row.usage_kib *= 1024.0;
		if (raw_push(&rows, &row) < 0) {
			util_err(err, errlen, "%s:%lu: out of memory", path,
				 rd->line);
			goto fail;
		}
	}
	if (rc < 0)
		goto fail;
	if (rows.n == 0) {
		util_err(err, errlen, "no data rows in '%s'", path);
		goto fail;
	}
	reader_free(rd);
	rd = NULL;

	/* per VM in time order; equal times keep their file order */
	qsort(rows.r, rows.n, sizeof *rows.r, cmp_csv_row);
	nvms = 1;
	for (i = 1; i < rows.n; i++)
		if (rows.r[i].vm != rows.r[i - 1].vm)
			nvms++;
	if (max_vms && nvms > max_vms)
		nvms = max_vms;
	set->vms = calloc(nvms, sizeof *set->vms);
	if (!set->vms) {
		util_err(err, errlen, "out of memory loading '%s'", path);
		goto fail;
	}
	for (i = 0; i < rows.n && set->n_vms < nvms; i = j) {
		for (j = i + 1; j < rows.n && rows.r[j].vm == rows.r[i].vm; j++)
			;
		if (build_series(rows.r[i].vm, rows.r + i, j - i, has_swap,
				 &set->vms[set->n_vms], &set->quirks) < 0) {
			util_err(err, errlen, "out of memory loading '%s'",
				 path);
			goto fail;
		}
		set->n_vms++;
	}
	free(rows.r);
	return 0;
fail:
	reader_free(rd);
	free(rows.r);
	return -1;
}

/* ---- API ---- */

void trace_set_release(trace_set *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->n_vms; i++)
		series_free(&s->vms[i]);
	free(s->vms);
	memset(s, 0, sizeof *s);
}

int trace_load(const char *path, const trace_opts *opts, trace_set *out,
	       char *err, size_t errlen)
{
	struct stat st;
	size_t max_vms = opts ? opts->max_vms : 0;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	if (!out)
		return util_err(err, errlen, "no trace set to load into");
	memset(out, 0, sizeof *out);
	if (!path)
		return util_err(err, errlen, "no trace path given");
	if (stat(path, &st) != 0)
		return util_err(err, errlen, "cannot open '%s': %s", path,
				strerror(errno));
	if (S_ISDIR(st.st_mode))
		rc = load_dir(path, max_vms, out, err, errlen);
	else if (S_ISREG(st.st_mode))
		rc = load_csv(path, max_vms, out, err, errlen);
	else {
		util_err(err, errlen,
			 "'%s' is neither a directory nor a regular file",
			 path);
		rc = -1;
	}
	if (rc < 0) {
		trace_set_release(out);
		return -1;
	}
	finish_set(out);
	return 0;
}

/* 1 if v is alive at t (trace_at()'s rule). */
static int trace__alive(const trace_series *v, int64_t t, int64_t hold_s)
{
	int64_t last;

	if (!v || v->n == 0 || t < v->t[0])
		return 0;
	last = v->t[v->n - 1];
	return !(t > last && (hold_s < 0 ||
			      (uint64_t)t - (uint64_t)last > (uint64_t)hold_s));
}

/* The latest i in [lo, hi) with t[i] <= t, given t[lo] <= t and (hi == n
 * or t[hi] > t). */
static size_t trace__search(const trace_series *v, int64_t t, size_t lo,
			    size_t hi)
{
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->t[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

static int trace__fill(const trace_series *v, size_t i, int64_t *prov_mib,
		       int64_t *demand_mib, double *swap_mibps)
{
	if (prov_mib)
		*prov_mib = v->prov_mib[i];
	if (demand_mib)
		*demand_mib = v->demand_mib[i];
	if (swap_mibps)
		*swap_mibps = v->swap_mibps ? v->swap_mibps[i] : 0.0;
	return 1;
}

int trace_at(const trace_series *v, int64_t t, int64_t hold_s,
	     int64_t *prov_mib, int64_t *demand_mib, double *swap_mibps)
{
	if (!trace__alive(v, t, hold_s))
		return 0;
	return trace__fill(v, trace__search(v, t, 0, v->n), prov_mib,
			   demand_mib, swap_mibps);
}

int trace_at_from(const trace_series *v, size_t *cursor, int64_t t,
		  int64_t hold_s, int64_t *prov_mib, int64_t *demand_mib,
		  double *swap_mibps)
{
	size_t lo = *cursor, step = 1, hi;

	if (!trace__alive(v, t, hold_s))
		return 0;
	if (lo >= v->n || v->t[lo] > t)
		lo = 0; /* went back in time: search it all */
	/* gallop forward from the cursor: O(log d) for a move of d samples */
	hi = lo + 1;
	while (hi < v->n && v->t[hi] <= t) {
		lo = hi;
		step *= 2;
		hi = step < v->n - lo ? lo + step : v->n;
	}
	*cursor = trace__search(v, t, lo, hi);
	return trace__fill(v, *cursor, prov_mib, demand_mib, swap_mibps);
}
