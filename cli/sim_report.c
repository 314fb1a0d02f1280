/*
 * sim_report.c - print simulator results (table for people, JSON for tools).
 */
#include <json-c/json.h>
#include <stdio.h>

#include "cli.h" /* cli_json_num() */
#include "sim_report.h"
#include "banned.h"

/* One metric: its label, its JSON key, and how to read it from sim_metrics. */
struct metric {
	const char *label;
	const char *key;
	double (*get)(const sim_metrics *m);
	int decimals;    /* digits after the point in the table */
	int integer;     /* emitted as a JSON integer */
};

#define GETTER(name, expr) \
	static double get_##name(const sim_metrics *m) { return (double)(expr); }

GETTER(pressure, m->pressure_gib_h)
GETTER(pressured, m->pressured_share * 100.0)
GETTER(guest_swap, m->guest_swap_gib)
GETTER(host_swap, m->host_swap_gib_h)
GETTER(resizes, m->resizes)
GETTER(migrations, m->migrations)
GETTER(deferred, m->mig_deferred)
GETTER(no_room, m->mig_no_room)
GETTER(no_converge, m->mig_no_converge)
GETTER(returns, m->return_migrations)
GETTER(gib_moved, m->gib_moved)
GETTER(migration_s, m->migration_s)
GETTER(double_held, m->double_held_gib_h)
GETTER(held, m->held_gib_avg)
GETTER(saved, m->saved_share * 100.0)
GETTER(peak, m->peak_host_util * 100.0)
GETTER(refused, m->refused)
GETTER(provision, m->provision_signals)
GETTER(suspend, m->suspend_signals)
GETTER(flips, m->signal_flips)
GETTER(susp_after, m->suspend_after_provision)

static const struct metric metrics[] = {
	{ "VM pressure (GiB-h short)", "pressure_gib_h", get_pressure, 1, 0 },
	{ "VM-intervals at pressure>=100 (%)", "pressured_pct", get_pressured,
	  2, 0 },
	{ "guest swap, modelled (GiB)", "guest_swap_gib", get_guest_swap, 1,
	  0 },
	{ "host swap (GiB-h)", "host_swap_gib_h", get_host_swap, 1, 0 },
	{ "resizes", "resizes", get_resizes, 0, 1 },
	{ "migrations", "migrations", get_migrations, 0, 1 },
	{ "  deferred: K moves at a host", "migrations_deferred", get_deferred,
	  0, 1 },
	{ "  refused: no room at destination", "migrations_no_room",
	  get_no_room, 0, 1 },
	{ "  refused: would not converge", "migrations_no_converge",
	  get_no_converge, 0, 1 },
	{ "  return migrations", "return_migrations", get_returns, 0, 1 },
	{ "  memory moved (GiB)", "gib_moved", get_gib_moved, 1, 0 },
	{ "  migration time (s)", "migration_s", get_migration_s, 0, 0 },
	{ "  double-held memory (GiB-h)", "double_held_gib_h", get_double_held,
	  1, 0 },
	{ "memory held, mean (GiB)", "held_gib_avg", get_held, 1, 0 },
	{ "saved vs provisioned (%)", "saved_pct", get_saved, 1, 0 },
	{ "peak host utilization (%)", "peak_host_util_pct", get_peak, 1, 0 },
	{ "VM-intervals refused a host", "refused", get_refused, 0, 1 },
	{ "provision signals", "provision_signals", get_provision, 0, 1 },
	{ "suspend signals", "suspend_signals", get_suspend, 0, 1 },
	{ "  signal changes", "signal_flips", get_flips, 0, 1 },
	{ "  suspend within 1 h of provision", "suspend_after_provision",
	  get_susp_after, 0, 1 },
};

#define N_METRICS (sizeof(metrics) / sizeof(metrics[0]))

/* The static row's mean memory held, or a negative value if static did not
 * run: the "held vs static" comparison needs it. */
static double static_held(const sim_report *r)
{
	for (size_t p = 0; p < r->n_rows; p++)
		if (r->rows[p].policy == SIM_STATIC)
			return r->rows[p].m.held_gib_avg;
	return -1;
}

/* held / static's held * 100, or a negative value when undefined. */
static double held_vs_static(const sim_report *r, const sim_metrics *m)
{
	double st = static_held(r);
	return st > 0 ? m->held_gib_avg / st * 100.0 : -1;
}
#define LABEL_W 36
#define CELL_W 11

static void print_header(const sim_report *r, FILE *out)
{
	const trace_set *t = r->trace;
	const trace_quirks *q = &t->quirks;
	const sim_metrics *m = r->n_rows ? &r->rows[0].m : NULL;
	fprintf(out, "trace      %s: %zu VMs, %llu rows, %llu intervals of %lld s\n",
		r->trace_path, t->n_vms, (unsigned long long)q->rows,
		m ? (unsigned long long)m->steps : 0ULL, (long long)r->cfg->step_s);
	fprintf(out, "cluster    %u hosts x %lld GiB (%lld MiB reserved each)\n",
		r->cfg->n_hosts, (long long)(r->cfg->host_mib / 1024),
		(long long)r->cfg->host_reserve_mib);
	if (r->cfg->migration_instant)
		fprintf(out, "model      decisions lag %u step(s); migrations "
			"instant and free\n", r->cfg->lag_steps);
	else
		fprintf(out, "model      decisions lag %u step(s); pre-copy "
			"migrations at %.0f MiB/s, dirty %.0f MiB/s + growth, "
			"downtime %.0f ms, %u per host at once\n",
			r->cfg->lag_steps, r->cfg->migrate_mibps,
			r->cfg->dirty_mibps, r->cfg->downtime_ms,
			r->cfg->migrate_per_host);
	fprintf(out, "           a return migration: back to a host within "
		"%lld h of leaving it\n",
		(long long)(r->cfg->return_window_s / 3600));
	fprintf(out,
		"quirks     zero capacity rows %llu, VMs without capacity %llu, "
		"usage above capacity %llu, non-increasing timestamps dropped %llu,\n"
		"           irregular steps %llu, capacity changes %llu, short-lived VMs %llu, "
		"empty files %llu\n\n",
		(unsigned long long)q->zero_capacity,
		(unsigned long long)q->no_capacity_vms,
		(unsigned long long)q->usage_over_capacity,
		(unsigned long long)q->nonincreasing_ts,
		(unsigned long long)q->irregular_steps,
		(unsigned long long)q->capacity_changes,
		(unsigned long long)q->short_lived_vms,
		(unsigned long long)q->empty_vms);
}

int sim_report_table(const sim_report *r, FILE *out)
{
	print_header(r, out);
	fprintf(out, "%-*s", LABEL_W, "");
	for (size_t p = 0; p < r->n_rows; p++)
		fprintf(out, " %*s", CELL_W, sim_policy_name(r->rows[p].policy));
	fputc('\n', out);
	for (size_t k = 0; k < N_METRICS; k++) {
		fprintf(out, "%-*s", LABEL_W, metrics[k].label);
		for (size_t p = 0; p < r->n_rows; p++) {
			char cell[64];
			snprintf(cell, sizeof(cell), "%.*f", metrics[k].decimals,
				 metrics[k].get(&r->rows[p].m));
			fprintf(out, " %*s", CELL_W, cell);
		}
		fputc('\n', out);
	}
	if (static_held(r) > 0) {
		fprintf(out, "%-*s", LABEL_W, "memory held vs static (%)");
		for (size_t p = 0; p < r->n_rows; p++)
			fprintf(out, " %*.1f", CELL_W,
				held_vs_static(r, &r->rows[p].m));
		fputc('\n', out);
	}
	/* One figure for every policy: no policy can be short less. */
	fprintf(out, "%-*s %*.1f  (no policy can be short less; "
		"docs/simulator.md)\n", LABEL_W, "VM pressure, lower bound", CELL_W,
		r->lower_bound_gib_h);
	return ferror(out) ? -1 : 0;
}

static json_object *quirks_json(const trace_quirks *q)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "rows", json_object_new_uint64(q->rows));
	json_object_object_add(o, "zero_capacity",
			       json_object_new_uint64(q->zero_capacity));
	json_object_object_add(o, "no_capacity_vms",
			       json_object_new_uint64(q->no_capacity_vms));
	json_object_object_add(o, "usage_over_capacity",
			       json_object_new_uint64(q->usage_over_capacity));
	json_object_object_add(o, "nonincreasing_ts",
			       json_object_new_uint64(q->nonincreasing_ts));
	json_object_object_add(o, "irregular_steps",
			       json_object_new_uint64(q->irregular_steps));
	json_object_object_add(o, "capacity_changes",
			       json_object_new_uint64(q->capacity_changes));
	json_object_object_add(o, "short_lived_vms",
			       json_object_new_uint64(q->short_lived_vms));
	json_object_object_add(o, "empty_vms", json_object_new_uint64(q->empty_vms));
	return o;
}

static json_object *metrics_json(const sim_report *r, const sim_metrics *m)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "steps", json_object_new_uint64(m->steps));
	json_object_object_add(o, "vm_intervals",
			       json_object_new_uint64(m->vm_intervals));
	for (size_t k = 0; k < N_METRICS; k++) {
		double v = metrics[k].get(m);
		json_object_object_add(o, metrics[k].key,
				       metrics[k].integer
					       ? json_object_new_uint64((uint64_t)v)
					       : cli_json_num(v));
	}
	if (static_held(r) > 0)
		json_object_object_add(o, "held_vs_static_pct",
				       cli_json_num(held_vs_static(r, m)));
	return o;
}

int sim_report_json(const sim_report *r, FILE *out)
{
	json_object *root = json_object_new_object();
	json_object *cluster = json_object_new_object();
	json_object *policies = json_object_new_object();
	json_object_object_add(root, "trace", json_object_new_string(r->trace_path));
	json_object_object_add(root, "vms", json_object_new_uint64(r->trace->n_vms));
	json_object_object_add(cluster, "hosts",
			       json_object_new_uint64(r->cfg->n_hosts));
	json_object_object_add(cluster, "host_mib",
			       json_object_new_int64(r->cfg->host_mib));
	json_object_object_add(cluster, "reserve_mib",
			       json_object_new_int64(r->cfg->host_reserve_mib));
	json_object_object_add(cluster, "step_s",
			       json_object_new_int64(r->cfg->step_s));
	json_object_object_add(root, "cluster", cluster);
	json_object_object_add(root, "quirks", quirks_json(&r->trace->quirks));
	json_object_object_add(root, "lag_steps",
			       json_object_new_uint64(r->cfg->lag_steps));
	json_object_object_add(root, "migration",
			       json_object_new_string(r->cfg->migration_instant
							      ? "instant" : "precopy"));
	json_object_object_add(root, "lower_bound_gib_h",
			       cli_json_num(r->lower_bound_gib_h));
	for (size_t p = 0; p < r->n_rows; p++)
		json_object_object_add(policies, sim_policy_name(r->rows[p].policy),
				       metrics_json(r, &r->rows[p].m));
	json_object_object_add(root, "policies", policies);
	const char *s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
							 JSON_C_TO_STRING_NOSLASHESCAPE);
	int rc = fprintf(out, "%s\n", s) < 0 ? -1 : 0;
	json_object_put(root);
	return rc;
}
