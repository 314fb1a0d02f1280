/*
 * source_trace.c - the trace source: one host carrying a slice of a trace's
 * VMs, replayed one step per advance, wrapping around at the end.
 *
 * The VMs hold what the trace provisioned at each time (nothing resizes
 * them), their settings are derived from that as the simulator derives them
 * (source_vm_settings(), with the agent's VM defaults), and the host's free
 * memory is what those VMs leave of capacity minus reserve.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "source.h"
#include "trace.h"
#include "wire.h"
#include "banned.h"

#define TRACE_SRC_MAX_STEP_S 86400 /* as `bourse sim --step` */

struct trace_src {
	source base;
	trace_set t;
	size_t first, count;
	int64_t capacity, reserve, step_s;
	int64_t now;    /* the trace clock, t_min..t_max */
	char **names;   /* count names, "<prefix><id>" */
	source_vm_defaults vmd; /* where the VM settings come from */
};

static const trace_series *series(const struct trace_src *ts, size_t i)
{
	return &ts->t.vms[ts->first + i];
}

static int trace_advance(source *s, char *err, size_t errlen)
{
	struct trace_src *ts = s->state;

	(void)err;
	(void)errlen;
	if (ts->now > ts->t.t_max - ts->step_s)
		ts->now = ts->t.t_min;
	else
		ts->now += ts->step_s;
	return 0;
}

static int trace_sample(const struct trace_src *ts, size_t i,
			source_vm_sample *out)
{
	int64_t prov = 0, demand = 0;
	double swap = 0;

	memset(out, 0, sizeof(*out));
	if (!trace_at(series(ts, i), ts->now, ts->step_s, &prov, &demand,
		      &swap))
		return 0;
	out->alive = 1;
	out->assigned_mib = prov;
	out->demand_mib = demand;
	/* capped as every source caps it (a VM provisioned 1 MiB using
	 * 20 GiB would otherwise claim 2e6 %, which a Bid may not carry) */
	out->pressure = wire_pressure(demand, prov);
	out->guest_swap_mibps = swap;
	return 0;
}

static int trace_host(source *s, source_host *out, char *err, size_t errlen)
{
	const struct trace_src *ts = s->state;
	int64_t used = 0;

	(void)err;
	(void)errlen;
	for (size_t i = 0; i < ts->count; i++) {
		source_vm_sample v;

		trace_sample(ts, i, &v);
		if (v.alive)
			used += v.assigned_mib;
	}
	memset(out, 0, sizeof(*out));
	out->capacity_mib = ts->capacity;
	out->reserve_mib = ts->reserve;
	out->free_mib = ts->capacity - ts->reserve - used;
	if (out->free_mib < 0)
		out->free_mib = 0;
	return 0;
}

static size_t trace_n_vms(source *s)
{
	const struct trace_src *ts = s->state;

	return ts->count;
}

/* Settings from what the VM is provisioned now, or (not running now) from
 * its first sample. */
static int trace_vm_config(source *s, size_t i, source_vm_config *out)
{
	const struct trace_src *ts = s->state;
	const trace_series *v;
	int64_t prov;

	if (i >= ts->count)
		return -1;
	v = series(ts, i);
	if (!trace_at(v, ts->now, ts->step_s, &prov, NULL, NULL))
		prov = v->prov_mib[0];
	source_vm_settings(&ts->vmd, prov, out);
	out->name = ts->names[i];
	return 0;
}

static int trace_vm_sample(source *s, size_t i, source_vm_sample *out,
			   char *err, size_t errlen)
{
	const struct trace_src *ts = s->state;

	if (i >= ts->count) {
		snprintf(err, errlen, "no VM %zu (the source has %zu)", i,
			 ts->count);
		return -1;
	}
	return trace_sample(ts, i, out);
}

static void trace_src_free(struct trace_src *ts)
{
	if (ts->names)
		for (size_t i = 0; i < ts->count; i++)
			free(ts->names[i]);
	free(ts->names);
	trace_set_release(&ts->t);
	free(ts);
}

static void trace_close(source *s)
{
	trace_src_free(s->state);
}

static const struct source_ops trace_ops = {
	.kind = "trace",
	.advance = trace_advance,
	.host = trace_host,
	.n_vms = trace_n_vms,
	.vm_config = trace_vm_config,
	.vm_sample = trace_vm_sample,
	.close = trace_close,
};

static int check_opts(const source_trace_opts *o, char *err, size_t errlen)
{
	const char *bad = NULL;

	if (!o->path || !o->path[0])
		bad = "no trace path";
	else if (!o->prefix)
		bad = "no VM name prefix";
	else if (o->count < 1)
		bad = "the host must carry at least one VM (count >= 1)";
	else if (o->capacity_mib < 1 || o->capacity_mib > WIRE_MAX_MIB)
		bad = "capacity must be between 1 MiB and 64 TiB";
	else if (o->reserve_mib < 0 || o->reserve_mib >= o->capacity_mib)
		bad = "reserve must be >= 0 and below the capacity";
	else if (o->step_s < 1 || o->step_s > TRACE_SRC_MAX_STEP_S)
		bad = "step must be between 1 and 86400 trace seconds";
	if (bad) {
		snprintf(err, errlen, "%s", bad);
		return -1;
	}
	if (o->vm_defaults)
		return source_vm_defaults_check(o->vm_defaults, err, errlen);
	return 0;
}

/* "<prefix><id>" for every VM, each a well-formed wire name. */
static int make_names(struct trace_src *ts, const char *prefix, char *err,
		      size_t errlen)
{
	char name[WIRE_MAX_NAME + 2];

	ts->names = calloc(ts->count, sizeof(*ts->names));
	if (!ts->names) {
		snprintf(err, errlen, "out of memory for %zu VMs", ts->count);
		return -1;
	}
	for (size_t i = 0; i < ts->count; i++) {
		int n = snprintf(name, sizeof(name), "%s%u", prefix,
				 (unsigned)series(ts, i)->id);

		if (n < 0 || (size_t)n > WIRE_MAX_NAME || !wire_name_ok(name)) {
			snprintf(err, errlen, "VM name '%.40s%s%u' is not a "
				 "valid name (1..%u printable characters, no "
				 "spaces)", prefix, strlen(prefix) > 40 ? "..." : "",
				 (unsigned)series(ts, i)->id, WIRE_MAX_NAME);
			return -1;
		}
		ts->names[i] = strdup(name);
		if (!ts->names[i]) {
			snprintf(err, errlen, "out of memory for VM names");
			return -1;
		}
	}
	return 0;
}

/* Every sample of the slice within what the wire carries (the trace reader
 * takes up to 2^40 MiB and 1e12 MiB/s, as the simulator can; a Register or
 * Bid beyond WIRE_MAX_MIB or WIRE_MAX_MIBPS would be refused, and the agent
 * would not send it): refused at open, naming the VM and the time. */
static int check_wire_range(const struct trace_src *ts, char *err,
			    size_t errlen)
{
	for (size_t i = 0; i < ts->count; i++) {
		const trace_series *v = series(ts, i);

		for (size_t k = 0; k < v->n; k++) {
			const char *what = NULL;

			if (v->prov_mib[k] > WIRE_MAX_MIB)
				what = "provisioned memory";
			else if (v->demand_mib[k] > WIRE_MAX_MIB)
				what = "demand";
			else if (v->swap_mibps &&
				 !(v->swap_mibps[k] <= WIRE_MAX_MIBPS))
				what = "guest swap rate";
			if (!what)
				continue;
			snprintf(err, errlen, "VM %u at time %lld: %s is more "
				 "than the protocol carries (%lld MiB, %g "
				 "MiB/s)", (unsigned)v->id,
				 (long long)v->t[k], what, WIRE_MAX_MIB,
				 WIRE_MAX_MIBPS);
			return -1;
		}
	}
	return 0;
}

/* Load the trace and keep [first, first + count) in id order. */
static int load_slice(struct trace_src *ts, const source_trace_opts *o,
		      char *err, size_t errlen)
{
	trace_opts topts = { .max_vms = 0 };

	if (trace_load(o->path, &topts, &ts->t, err, errlen) != 0)
		return -1;
	if (o->count > ts->t.n_vms || o->first > ts->t.n_vms - o->count) {
		snprintf(err, errlen, "%s has %zu VMs; %zu asked for from "
			 "index %zu", o->path, ts->t.n_vms, o->count, o->first);
		return -1;
	}
	ts->first = o->first;
	ts->count = o->count;
	return check_wire_range(ts, err, errlen);
}

int source_trace_open(const source_trace_opts *o, source **out, char *err,
		      size_t errlen)
{
	struct trace_src *ts;

	*out = NULL;
	if (check_opts(o, err, errlen) != 0)
		return -1;
	ts = calloc(1, sizeof(*ts));
	if (!ts) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (load_slice(ts, o, err, errlen) != 0 ||
	    make_names(ts, o->prefix, err, errlen) != 0) {
		trace_src_free(ts);
		return -1;
	}
	if (o->vm_defaults)
		ts->vmd = *o->vm_defaults;
	else
		source_vm_defaults_init(&ts->vmd);
	ts->capacity = o->capacity_mib;
	ts->reserve = o->reserve_mib;
	ts->step_s = o->step_s;
	ts->now = ts->t.t_min;
	ts->base.ops = &trace_ops;
	ts->base.state = ts;
	*out = &ts->base;
	return 0;
}
