/*
 * gen_trace.c - a big trace for the simulator's speed figures
 * (docs/benchmarks.md, "The simulator at 10,000 VMs").
 *
 *   gen_trace --from DIR --vms N [--seed S] [--out FILE]
 *
 * Writes a bourse CSV (docs/simulator.md) of N VMs, each a replay of one
 * VM of the trace at DIR (any format trace_load() reads), picked at random,
 * with its memory scaled by a random factor in [GEN_SCALE_MIN,
 * GEN_SCALE_MAX) and its samples shifted in time by a random number of
 * GEN_SHIFT_STEP_S steps, wrapped around the trace's span so that the VM
 * still covers it. The same seed gives the same file, byte for byte
 * (splitmix64, no libc random). The file is large (about 30 bytes a
 * sample): generate it where it is used, never commit it.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "trace.h"
#include "banned.h"

/* A replayed VM's memory is its source's times [0.5, 2): VMs from half to
 * twice the size of the shipped ones, so hosts mix sizes. */
#define GEN_SCALE_MIN 0.5
#define GEN_SCALE_MAX 2.0
/* Time shifts are whole Bitbrains sampling steps (300 s), so the shifted
 * samples stay on the simulator's default grid. */
#define GEN_SHIFT_STEP_S 300
/* At most a million VMs: far past the 10,000 the figures use. */
#define GEN_MAX_VMS 1000000

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double rand01(uint64_t *s)
{
	return (double)(splitmix64(s) >> 11) / 9007199254740992.0;
}

struct gen_args {
	const char *from, *out;
	int64_t vms, seed;
};

static int usage(const char *msg)
{
	if (msg)
		fprintf(stderr, "gen_trace: %s\n", msg);
	fprintf(stderr, "usage: gen_trace --from DIR --vms N [--seed S] "
			"[--out FILE]\n");
	return 2;
}

static int parse_args(int argc, char **argv, struct gen_args *a)
{
	char err[256];
	*a = (struct gen_args){ .seed = 1 };
	for (int i = 1; i < argc; i++) {
		const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int rc = 0;
		if (!strcmp(f, "-h") || !strcmp(f, "--help"))
			return usage(NULL);
		if (!v)
			return usage("every flag takes a value");
		if (!strcmp(f, "--from"))
			a->from = v;
		else if (!strcmp(f, "--out"))
			a->out = v;
		else if (!strcmp(f, "--vms"))
			rc = cli_parse_i64(v, 1, GEN_MAX_VMS, &a->vms, err,
					   sizeof(err));
		else if (!strcmp(f, "--seed"))
			rc = cli_parse_i64(v, 0, INT64_MAX, &a->seed, err,
					   sizeof(err));
		else {
			fprintf(stderr, "gen_trace: unknown flag '%s'\n", f);
			return usage(NULL);
		}
		if (rc != 0) {
			fprintf(stderr, "gen_trace: %s: %s\n", f, err);
			return 2;
		}
		i++;
	}
	if (!a->from || a->vms == 0)
		return usage("--from and --vms are required");
	return 0;
}

/* One replayed VM: its source's samples from the wrap point on, then the
 * rest, each shifted into [t_min, t_min + span). */
static int write_vm(FILE *f, const trace_series *src, int64_t id,
		    int64_t t_min, int64_t span, int64_t shift, double scale)
{
	size_t n = src->n, split = 0;
	while (split < n && src->t[split] - t_min + shift < span)
		split++;
	for (size_t k = 0; k < n; k++) {
		size_t j = (split + k) % n;
		int64_t t = t_min + (src->t[j] - t_min + shift) % span;
		double prov = round((double)src->prov_mib[j] * scale);
		double dem = ceil((double)src->demand_mib[j] * scale);
		if (fprintf(f, "%" PRId64 ",%" PRId64 ",%.0f,%.0f\n", id, t,
			    prov < 1 ? 1 : prov, dem) < 0)
			return -1;
	}
	return 0;
}

static int generate(FILE *f, const trace_set *t, const struct gen_args *a)
{
	uint64_t rng = (uint64_t)a->seed;
	int64_t span = t->t_max - t->t_min + GEN_SHIFT_STEP_S;
	int64_t shifts = span / GEN_SHIFT_STEP_S;
	if (fprintf(f, "vm,time_s,provisioned_mib,demand_mib\n") < 0)
		return -1;
	for (int64_t id = 0; id < a->vms; id++) {
		const trace_series *src = &t->vms[splitmix64(&rng) % t->n_vms];
		int64_t shift = (int64_t)(splitmix64(&rng) % (uint64_t)shifts) *
				GEN_SHIFT_STEP_S;
		double scale = GEN_SCALE_MIN +
			       rand01(&rng) * (GEN_SCALE_MAX - GEN_SCALE_MIN);
		if (write_vm(f, src, id, t->t_min, span, shift, scale) != 0)
			return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct gen_args a;
	trace_set t;
	trace_opts o = { 0 };
	char err[512];
	int rc = parse_args(argc, argv, &a);
	if (rc != 0)
		return rc;
	if (trace_load(a.from, &o, &t, err, sizeof(err)) != 0) {
		fprintf(stderr, "gen_trace: %s\n", err);
		return 1;
	}
	FILE *f = a.out ? fopen(a.out, "w") : stdout;
	if (!f) {
		fprintf(stderr, "gen_trace: %s: %s\n", a.out, strerror(errno));
		trace_set_release(&t);
		return 1;
	}
	rc = generate(f, &t, &a);
	if ((a.out ? fclose(f) : fflush(f)) != 0)
		rc = -1;
	if (rc != 0)
		fprintf(stderr, "gen_trace: writing %s failed: %s\n",
			a.out ? a.out : "stdout", strerror(errno));
	trace_set_release(&t);
	return rc != 0;
}
