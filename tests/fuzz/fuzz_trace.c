/*
 * fuzz_trace.c - the trace readers (sim/trace.c: bourse CSV files and
 * Bitbrains directories, plain or gzip) and the agent's trace source
 * (agents/source_trace.c) on what they read.
 *
 * Input layout:
 *   byte 0   'b' or 'B': a Bitbrains directory; anything else: a CSV file
 *   byte 1   the trace source's options: bits 0-1 first VM, bits 2-3
 *            count - 1, bits 4-5 the step (300, 1, 60 or 86400 s), bit 6 a
 *            1 GiB host (else 64 GiB), bit 7 half of it reserved (else 0)
 *   the rest the CSV file; or, for a directory, "==> NAME <==" sections,
 *            each a file NAME (a NAME ending in '/' is a subdirectory), and
 *            without any section the whole rest as 1.csv
 * Files are written to a scratch directory (trace_load() takes a path).
 *
 * Checked, when trace_load() succeeds: at least one VM, ids strictly
 * increasing, samples with strictly increasing times >= 0, provisioned in
 * 1..2^40 MiB, demand in 0..2^40 MiB, swap finite in 0..1e12, t_min/t_max
 * and the row and short-lived counts consistent, trace_at() returning each
 * sample at its time and nothing before the first; loading with max_vms = 1
 * gives the first VM alike. When it fails: a message, and an empty set.
 * Then the trace source on the same trace: what an agent would send from
 * it (host and VM Registers, Asks, Bids) validates at every step.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "trace.h"
#include "wire.h"
#include "banned.h"

#define T_MIB_MAX (1LL << 40) /* what trace.c accepts (MAX_KIB) */
#define T_STEPS 48            /* advances of the trace source */

/* A file or directory name of a Bitbrains section: [0-9A-Za-z._-], not
 * starting with '.', at most 40 characters (plus a final '/'). */
static int name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n > 0 && s[n - 1] == '/')
		n--;
	if (n == 0 || n > 40 || s[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		      (c >= 'A' && c <= 'Z') || c == '.' || c == '_' ||
		      c == '-'))
			return 0;
	}
	return 1;
}

/* Writes the trace; returns its path in buf, or NULL to skip the input. */
static const char *write_trace(int dir, const uint8_t *data, size_t size,
			       char *buf, size_t len)
{
	const char *root = fuzz_scratch();
	struct fuzz_section sec[FUZZ_MAX_SECTIONS];
	size_t n;

	fuzz_clear(root);
	if (!dir) {
		snprintf(buf, len, "%s/trace.csv", root);
		return fuzz_write(root, "trace.csv", data, size) == 0 ? buf :
		       NULL;
	}
	snprintf(buf, len, "%s/bb", root);
	if (fuzz_mkdir(root, "bb") != 0)
		return NULL;
	n = fuzz_sections(data, size, sec, FUZZ_MAX_SECTIONS);
	if (n == 0 || (n == 1 && sec[0].name[0] == '\0'))
		return fuzz_write(buf, "1.csv", data, size) == 0 ? buf : NULL;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(sec[i].name);

		if (!name_ok(sec[i].name))
			continue;
		if (sec[i].name[l - 1] == '/') {
			sec[i].name[l - 1] = '\0';
			fuzz_mkdir(buf, sec[i].name);
		} else {
			fuzz_write(buf, sec[i].name, sec[i].data, sec[i].len);
		}
	}
	return buf;
}

static void check_series(const trace_series *v, int csv)
{
	int64_t prov, demand;
	double swap;

	FUZZ_CHECK(v->n >= 1, "VM %" PRIu32 " has no samples", v->id);
	FUZZ_CHECK(v->t && v->prov_mib && v->demand_mib, "VM %" PRIu32
		   " lacks an array", v->id);
	FUZZ_CHECK(csv || v->swap_mibps == NULL, "Bitbrains swap");
	for (size_t k = 0; k < v->n; k++) {
		FUZZ_CHECK(v->t[k] >= 0, "time %" PRId64, v->t[k]);
		FUZZ_CHECK(k == 0 || v->t[k] > v->t[k - 1],
			   "VM %" PRIu32 ": time %" PRId64 " after %" PRId64,
			   v->id, v->t[k], v->t[k - 1]);
		FUZZ_CHECK(v->prov_mib[k] >= 1 && v->prov_mib[k] <= T_MIB_MAX,
			   "VM %" PRIu32 ": provisioned %" PRId64 " MiB", v->id,
			   v->prov_mib[k]);
		FUZZ_CHECK(v->demand_mib[k] >= 0 &&
			   v->demand_mib[k] <= T_MIB_MAX,
			   "VM %" PRIu32 ": demand %" PRId64 " MiB", v->id,
			   v->demand_mib[k]);
		if (v->swap_mibps != NULL)
			FUZZ_CHECK(isfinite(v->swap_mibps[k]) &&
				   v->swap_mibps[k] >= 0 &&
				   v->swap_mibps[k] <= 1e12,
				   "swap %g", v->swap_mibps[k]);
	}
	/* sample and hold: each sample at its time, nothing before */
	for (size_t k = 0; k < v->n; k += 1 + v->n / 8) {
		FUZZ_CHECK(trace_at(v, v->t[k], 0, &prov, &demand, &swap) == 1 &&
			   prov == v->prov_mib[k] &&
			   demand == v->demand_mib[k] &&
			   swap == (v->swap_mibps ? v->swap_mibps[k] : 0.0),
			   "trace_at(%" PRId64 ") is not sample %zu", v->t[k],
			   k);
	}
	FUZZ_CHECK(trace_at(v, v->t[0] - 1, 0, NULL, NULL, NULL) == 0,
		   "alive before its first sample");
	FUZZ_CHECK(trace_at(v, v->t[v->n - 1] + 11, 10, NULL, NULL, NULL) == 0,
		   "alive after its hold");
}

static void check_set(const trace_set *t, int csv)
{
	uint64_t samples = 0, short_lived = 0;
	int64_t lo = INT64_MAX, hi = INT64_MIN;

	FUZZ_CHECK(t->n_vms >= 1 && t->vms != NULL, "%zu VMs", t->n_vms);
	for (size_t i = 0; i < t->n_vms; i++) {
		const trace_series *v = &t->vms[i];

		FUZZ_CHECK(i == 0 || v->id > t->vms[i - 1].id,
			   "id %" PRIu32 " after %" PRIu32, v->id,
			   t->vms[i - 1].id);
		check_series(v, csv);
		samples += v->n;
		lo = v->t[0] < lo ? v->t[0] : lo;
		hi = v->t[v->n - 1] > hi ? v->t[v->n - 1] : hi;
	}
	FUZZ_CHECK(t->t_min == lo && t->t_max == hi,
		   "span %" PRId64 "..%" PRId64 ", samples say %" PRId64
		   "..%" PRId64, t->t_min, t->t_max, lo, hi);
	FUZZ_CHECK(t->quirks.rows == samples + t->quirks.nonincreasing_ts,
		   "%" PRIu64 " rows, %" PRIu64 " kept + %" PRIu64 " dropped",
		   t->quirks.rows, samples, t->quirks.nonincreasing_ts);
	/* short-lived: alive for less than 90% of the span, in exact
	 * arithmetic */
	for (size_t i = 0; i < t->n_vms; i++) {
		const trace_series *v = &t->vms[i];
		unsigned __int128 life = (uint64_t)(v->t[v->n - 1] - v->t[0]);
		unsigned __int128 span = (uint64_t)(hi - lo);

		short_lived += life * 10 < span * 9;
	}
	FUZZ_CHECK(t->quirks.short_lived_vms == short_lived,
		   "%" PRIu64 " short-lived VMs counted, %" PRIu64 " are",
		   t->quirks.short_lived_vms, short_lived);
}

static int same_series(const trace_series *a, const trace_series *b)
{
	if (a->id != b->id || a->n != b->n ||
	    (a->swap_mibps == NULL) != (b->swap_mibps == NULL))
		return 0;
	for (size_t k = 0; k < a->n; k++)
		if (a->t[k] != b->t[k] || a->prov_mib[k] != b->prov_mib[k] ||
		    a->demand_mib[k] != b->demand_mib[k] ||
		    (a->swap_mibps && a->swap_mibps[k] != b->swap_mibps[k]))
			return 0;
	return 1;
}

/* Do VMs [first, first + count) of t stay within what the wire carries? */
static int wire_range(const trace_set *t, size_t first, size_t count)
{
	for (size_t i = first; i < first + count && i < t->n_vms; i++) {
		const trace_series *v = &t->vms[i];

		for (size_t k = 0; k < v->n; k++)
			if (v->prov_mib[k] > WIRE_MAX_MIB ||
			    v->demand_mib[k] > WIRE_MAX_MIB ||
			    (v->swap_mibps && v->swap_mibps[k] > WIRE_MAX_MIBPS))
				return 0;
	}
	return 1;
}

/* The agent's trace source over the trace at path (loaded as t). */
static void check_source(const char *path, const trace_set *t, uint8_t opt)
{
	static const int64_t steps[] = { 300, 1, 60, 86400 };
	source_trace_opts o = {
		.path = path,
		.first = opt & 3,
		.count = ((opt >> 2) & 3) + 1,
		.capacity_mib = (opt & 0x40) ? 1024 : 65536,
		.step_s = steps[(opt >> 4) & 3],
		.prefix = "vm-",
	};
	source *s = NULL;
	source_host h;
	char err[512];
	int rc;

	o.reserve_mib = (opt & 0x80) ? o.capacity_mib / 2 : 0;
	err[0] = '\0';
	rc = source_trace_open(&o, &s, err, sizeof(err));
	if (o.first + o.count > t->n_vms) {
		FUZZ_CHECK(rc != 0 && s == NULL && err[0] != '\0',
			   "opened %zu VMs from %zu of %zu", o.count, o.first,
			   t->n_vms);
		return;
	}
	if (!wire_range(t, o.first, o.count)) {
		FUZZ_CHECK(rc != 0 && s == NULL && strstr(err, "protocol"),
			   "opened VMs beyond what the wire carries (%s)", err);
		return;
	}
	FUZZ_CHECK(rc == 0 && s != NULL, "the trace source refused a trace "
		   "that loads: %s", err);
	FUZZ_CHECK(source_n_vms(s) == o.count, "%zu VMs", source_n_vms(s));
	for (int step = 0; step <= T_STEPS; step++) {
		FUZZ_CHECK(source_host_read(s, &h, err, sizeof(err)) == 0,
			   "host: %s", err);
		fuzz_check_host(&h);
		for (size_t i = 0; i < o.count; i++) {
			source_vm_config c;
			source_vm_sample smp;

			FUZZ_CHECK(source_vm_config_get(s, i, &c) == 0,
				   "no config for VM %zu", i);
			fuzz_check_vm_config(&c);
			FUZZ_CHECK(source_vm_read(s, i, &smp, err,
						  sizeof(err)) == 0,
				   "VM %zu: %s", i, err);
			fuzz_check_vm_sample(c.name, &smp);
		}
		FUZZ_CHECK(source_advance(s, err, sizeof(err)) == 0,
			   "advance: %s", err);
	}
	source_close(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	trace_set t, one;
	trace_opts first = { .max_vms = 1 };
	char path[4200], err[8192];
	int dir, rc, rc1;
	uint8_t opt;

	if (size < 2)
		return 0;
	dir = data[0] == 'b' || data[0] == 'B';
	opt = data[1];
	if (write_trace(dir, data + 2, size - 2, path, sizeof(path)) == NULL)
		return 0;

	memset(err, 'x', sizeof(err));
	rc = trace_load(path, NULL, &t, err, sizeof(err));
	FUZZ_CHECK(fuzz_terminated(err, sizeof(err)), "message not terminated");
	if (rc != 0) {
		FUZZ_CHECK(rc == -1 && err[0] != '\0', "failed (%d) without a "
			   "message", rc);
		FUZZ_CHECK(t.n_vms == 0 && t.vms == NULL,
			   "a failed load left %zu VMs", t.n_vms);
	} else {
		check_set(&t, !dir);
	}

	rc1 = trace_load(path, &first, &one, err, sizeof(err));
	if (rc == 0) {
		FUZZ_CHECK(rc1 == 0 && one.n_vms == 1, "max_vms 1: %s (%zu)",
			   err, one.n_vms);
		FUZZ_CHECK(same_series(&one.vms[0], &t.vms[0]),
			   "max_vms 1 gives another first VM");
	} else if (!dir) {
		/* a CSV file is read whole before VMs are chosen */
		FUZZ_CHECK(rc1 != 0, "max_vms 1 loads what fails whole");
	}
	if (rc1 == 0)
		check_set(&one, !dir);
	trace_set_release(&one);

	if (rc == 0)
		check_source(path, &t, opt);
	trace_set_release(&t);
	trace_set_release(&t); /* harmless twice */
	return 0;
}
