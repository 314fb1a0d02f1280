/*
 * sim_speed.c - how long each policy takes on a big trace
 * (docs/benchmarks.md, "The simulator at 10,000 VMs").
 *
 *   sim_speed --trace PATH [--hosts N] [--host-gib G] [--policy LIST]
 *
 * Loads the trace once (a 10,000-VM month is 2 GB of CSV: loading it once
 * per policy would take longer than the policies), then runs sim_run() for
 * each policy with the simulator's defaults, as `bourse sim` does, and
 * prints the seconds of the load and of each policy, its migrations, and
 * the process's peak resident memory. Not run by `make bench` or the tests:
 * it needs a trace made by gen_trace.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "cli.h"
#include "sim.h"
#include "trace.h"
#include "util.h"
#include "banned.h"

static int usage(const char *msg)
{
	if (msg)
		fprintf(stderr, "sim_speed: %s\n", msg);
	fprintf(stderr, "usage: sim_speed --trace PATH [--hosts N] "
			"[--host-gib G] [--policy LIST]\n");
	return 2;
}

/* Comma-separated policy names into on[]. Returns 0, or -1 (printed). */
static int parse_policies(const char *list, int on[SIM_N_POLICIES])
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", list);
	for (int p = 0; p < SIM_N_POLICIES; p++)
		on[p] = 0;
	char *save = NULL;
	for (char *tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		sim_policy p;
		if (sim_policy_parse(tok, &p) != 0) {
			fprintf(stderr, "sim_speed: unknown policy '%s'\n", tok);
			return -1;
		}
		on[p] = 1;
	}
	return 0;
}

static int parse_args(int argc, char **argv, sim_config *c, const char **trace,
		      int on[SIM_N_POLICIES])
{
	char err[256];
	for (int p = 0; p < SIM_N_POLICIES; p++)
		on[p] = 1;
	for (int i = 1; i < argc; i += 2) {
		const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int64_t n = 0;
		int rc = 0;
		if (!strcmp(f, "-h") || !strcmp(f, "--help"))
			return usage(NULL);
		if (!v)
			return usage("every flag takes a value");
		if (!strcmp(f, "--trace"))
			*trace = v;
		else if (!strcmp(f, "--hosts") &&
			 (rc = cli_parse_i64(v, 1, 100000, &n, err, sizeof(err))) == 0)
			c->n_hosts = (uint32_t)n;
		else if (!strcmp(f, "--host-gib") &&
			 (rc = cli_parse_i64(v, 1, 1 << 20, &n, err, sizeof(err))) == 0)
			c->host_mib = n * 1024;
		else if (!strcmp(f, "--policy")) {
			if (parse_policies(v, on) != 0)
				return 2;
		} else if (rc == 0) {
			fprintf(stderr, "sim_speed: unknown flag '%s'\n", f);
			return usage(NULL);
		}
		if (rc != 0) {
			fprintf(stderr, "sim_speed: %s: %s\n", f, err);
			return 2;
		}
	}
	if (!*trace)
		return usage("--trace is required");
	if (sim_config_validate(c, err, sizeof(err)) != 0) {
		fprintf(stderr, "sim_speed: %s\n", err);
		return 2;
	}
	return 0;
}

static long peak_kib(void)
{
	struct rusage ru;
	return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
}

/* CPU seconds in user mode so far: on a shared machine, steadier than the
 * wall clock. */
static double user_s(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return -1;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
	sim_config c;
	const char *path = NULL;
	int on[SIM_N_POLICIES];
	char err[512];
	sim_config_default(&c);
	int rc = parse_args(argc, argv, &c, &path, on);
	if (rc != 0)
		return rc;
	trace_set t;
	trace_opts o = { 0 };
	int64_t t0 = util_now_ns();
	double u0 = user_s();
	if (trace_load(path, &o, &t, err, sizeof(err)) != 0) {
		fprintf(stderr, "sim_speed: %s\n", err);
		return 1;
	}
	printf("load      %8.1f s wall %8.1f s user  %zu VMs, %zu hosts, "
	       "peak %ld KiB\n", (double)(util_now_ns() - t0) / 1e9,
	       user_s() - u0, t.n_vms, (size_t)c.n_hosts, peak_kib());
	fflush(stdout);
	for (int p = 0; p < SIM_N_POLICIES && rc == 0; p++) {
		sim_metrics m;
		if (!on[p])
			continue;
		t0 = util_now_ns();
		u0 = user_s();
		rc = sim_run(&c, &t, (sim_policy)p, &m, err, sizeof(err));
		if (rc != 0) {
			fprintf(stderr, "sim_speed: %s: %s\n",
				sim_policy_name((sim_policy)p), err);
			break;
		}
		printf("%-9s %8.1f s wall %8.1f s user  %" PRIu64 " steps, %"
		       PRIu64 " migrations, peak %ld KiB\n",
		       sim_policy_name((sim_policy)p),
		       (double)(util_now_ns() - t0) / 1e9, user_s() - u0,
		       m.steps, m.migrations, peak_kib());
		fflush(stdout);
	}
	trace_set_release(&t);
	return rc != 0;
}
