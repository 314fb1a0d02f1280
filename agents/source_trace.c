/*
 * source_trace.c - the trace source: one host carrying a slice of a trace's
 * VMs, replayed one step per advance, wrapping around at the end.
 *
 * Without a world, the VMs hold what the trace provisioned at each time
 * (nothing resizes them), their settings are derived from that as the
 * simulator derives them (source_vm_settings(), with the agent's VM
 * defaults), and the host's free memory is what those VMs leave of capacity
 * minus reserve.
 *
 * With a world (the emulated hypervisor, world.h), the VMs listed are the
 * trace's VMs the world puts on this host, in the order found (the slice's
 * first, in trace order); each advance reads the world once and computes
 * every listed VM's sample (emu_refresh()), so that the host's figures and
 * the samples agree within an interval. The guest model (docs/emulated.md,
 * mirroring docs/simulator.md "guest swap, modelled"): shortfall = demand -
 * assigned when positive, pressure = demand / assigned, the guest swap rate
 * = the growth of the shortfall over the step, per trace second (at least
 * the trace's own swap rate, if it has one).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "source.h"
#include "trace.h"
#include "util.h"
#include "wire.h"
#include "world.h"
#include "log.h"
#include "banned.h"

#define TRACE_SRC_MAX_STEP_S 86400 /* as `bourse sim --step` */
#define EMU_OOM 100 /* on_world_vm(): out of memory (not a world status) */

struct named {
	const char *name;
	size_t k; /* its trace index */
};

/* A trace VM as the world shows it (with a world only). */
struct emu_vm {
	int listed;          /* in idx: the source lists it */
	int here;            /* the world puts it on this host now */
	int64_t assigned;    /* what the world assigns it */
	int64_t prev_short;  /* its shortfall at the last advance; -1: take
	                      * the current one (it arrived) */
	int64_t prev_demand; /* -1: none yet */
	source_vm_sample smp;/* computed at the last read of the world */
};

struct trace_src {
	source base;
	trace_set t;
	size_t first, count;
	int64_t capacity, reserve, step_s;
	int64_t now;    /* the trace clock, t_min..t_max */
	char **names;   /* per trace VM, "<prefix><id>" (NULL: not ours) */
	size_t *idx;    /* the trace VMs listed, by source index */
	size_t n_idx, cap_idx;
	source_vm_defaults vmd; /* where the VM settings come from */
	struct world *w;        /* NULL: no world */
	char *host;             /* with a world: this host */
	struct emu_vm *ev;      /* with a world: per trace VM */
	struct named *by_name;  /* with a world: trace VMs sorted by name */
	int64_t used;           /* with a world: what it assigns here */
	int noted_stranger;     /* a VM of the world not in the trace */
};

static const trace_series *series(const struct trace_src *ts, size_t i)
{
	return &ts->t.vms[ts->idx[i]];
}

static int emu_refresh(struct trace_src *ts, char *err, size_t errlen);

static int trace_advance(source *s, char *err, size_t errlen)
{
	struct trace_src *ts = s->state;

	if (ts->now > ts->t.t_max - ts->step_s)
		ts->now = ts->t.t_min;
	else
		ts->now += ts->step_s;
	return ts->w ? emu_refresh(ts, err, errlen) : 0;
}

/* Without a world: the VM holds what the trace provisions. */
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

/* Without a world: what the slice's excluded VMs ([vm "NAME"] exclude)
 * hold now. They are not listed, but their memory is not free. */
static int64_t excluded_used(const struct trace_src *ts)
{
	int64_t used = 0;

	for (size_t k = ts->first; k < ts->first + ts->count; k++) {
		int64_t prov = 0;

		if (source_vm_excluded(&ts->vmd, ts->names[k]) &&
		    trace_at(&ts->t.vms[k], ts->now, ts->step_s, &prov, NULL,
			     NULL))
			used += prov;
	}
	return used;
}

static int trace_host(source *s, source_host *out, char *err, size_t errlen)
{
	const struct trace_src *ts = s->state;
	int64_t used = 0, balloon = 0;

	(void)err;
	(void)errlen;
	if (ts->w) { /* as the world had it at the last advance */
		used = ts->used;
		for (size_t i = 0; i < ts->n_idx; i++)
			balloon += ts->ev[ts->idx[i]].smp.balloon_mib;
	} else {
		for (size_t i = 0; i < ts->n_idx; i++) {
			source_vm_sample v;

			trace_sample(ts, i, &v);
			if (v.alive)
				used += v.assigned_mib;
		}
		used += excluded_used(ts);
	}
	memset(out, 0, sizeof(*out));
	out->capacity_mib = ts->capacity;
	out->reserve_mib = ts->reserve;
	out->free_mib = ts->capacity - ts->reserve - used;
	if (out->free_mib < 0)
		out->free_mib = 0;
	out->balloon_mib = balloon;
	return 0;
}

static size_t trace_n_vms(source *s)
{
	const struct trace_src *ts = s->state;

	return ts->n_idx;
}

/* Settings from what the VM is provisioned now, or (not running now) from
 * its first sample. */
static void settings_of(const struct trace_src *ts, size_t k,
			source_vm_config *out)
{
	const trace_series *v = &ts->t.vms[k];
	int64_t prov;

	if (!trace_at(v, ts->now, ts->step_s, &prov, NULL, NULL))
		prov = v->prov_mib[0];
	source_vm_settings(&ts->vmd, prov, out);
	out->name = ts->names[k];
	source_vm_override_apply(&ts->vmd, out); /* [vm "NAME"] */
}

static int trace_vm_config(source *s, size_t i, source_vm_config *out)
{
	const struct trace_src *ts = s->state;

	if (i >= ts->n_idx)
		return -1;
	settings_of(ts, ts->idx[i], out);
	return 0;
}

static int trace_vm_sample(source *s, size_t i, source_vm_sample *out,
			   char *err, size_t errlen)
{
	const struct trace_src *ts = s->state;

	if (i >= ts->n_idx) {
		snprintf(err, errlen, "no VM %zu (the source has %zu)", i,
			 ts->n_idx);
		return -1;
	}
	if (ts->w) {
		*out = ts->ev[ts->idx[i]].smp;
		return 0;
	}
	return trace_sample(ts, i, out);
}

static void trace_src_free(struct trace_src *ts)
{
	if (ts->names)
		for (size_t i = 0; i < ts->t.n_vms; i++)
			free(ts->names[i]);
	free(ts->names);
	free(ts->idx);
	free(ts->ev);
	free(ts->by_name);
	free(ts->host);
	trace_set_release(&ts->t);
	free(ts);
}

static void trace_close(source *s)
{
	trace_src_free(s->state);
}

/* ---- with a world: the emulated hypervisor ---- */

/* The guest model for trace VM k at the trace clock, on what the world
 * assigns it (docs/emulated.md, "The guest"). */
static void emu_sample(struct trace_src *ts, size_t k)
{
	struct emu_vm *e = &ts->ev[k];
	source_vm_sample *o = &e->smp;
	int64_t prov = 0, demand = 0, shortfall;
	double swap = 0, grown = 0;

	memset(o, 0, sizeof(*o));
	if (!e->here) {
		e->prev_short = -1; /* when it comes back: no jump */
		e->prev_demand = -1;
		return;
	}
	if (!trace_at(&ts->t.vms[k], ts->now, ts->step_s, &prov, &demand,
		      &swap)) {
		e->prev_short = 0; /* not running: as the simulator */
		e->prev_demand = -1;
		return;
	}
	shortfall = demand > e->assigned ? demand - e->assigned : 0;
	if (e->prev_short < 0)
		e->prev_short = shortfall;
	if (shortfall > e->prev_short)
		grown = (double)(shortfall - e->prev_short) /
			(double)ts->step_s;
	o->alive = 1;
	o->demand_mib = demand;
	o->assigned_mib = e->assigned;
	o->pressure = wire_pressure(demand, e->assigned);
	o->guest_swap_mibps = grown > swap ? grown : swap;
	o->balloon_mib = prov > e->assigned ? prov - e->assigned : 0;
	world_dirty_set(ts->w, ts->names[k], e->prev_demand >= 0 &&
			demand > e->prev_demand
			? (double)(demand - e->prev_demand) /
			  (double)ts->step_s : 0);
	e->prev_short = shortfall;
	e->prev_demand = demand;
}

static int cmp_by_name(const void *a, const void *b)
{
	return strcmp(((const struct named *)a)->name,
		      ((const struct named *)b)->name);
}

/* The trace VM named name: 0 with *k, or -1. */
static int find_name(const struct trace_src *ts, const char *name,
		     size_t *k)
{
	size_t lo = 0, hi = ts->t.n_vms;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(ts->by_name[mid].name, name);

		if (c == 0) {
			*k = ts->by_name[mid].k;
			return 0;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* One VM the world puts on this host: here, listed (appended if new). */
static int on_world_vm(void *ctx, const char *vm, const world_vm *v)
{
	struct trace_src *ts = ctx;
	struct emu_vm *e;
	size_t k;

	ts->used += v->assigned_mib;
	if (find_name(ts, vm, &k) != 0) {
		if (!ts->noted_stranger)
			log_at(LOG_WARNING, LOG_F(.vm = vm),
			       "trace source: the world puts %s on %s, "
			       "but the trace has no VM of that name: it is "
			       "counted as held, not run [noted once]\n",
			       vm, ts->host);
		ts->noted_stranger = 1;
		return 0;
	}
	if (source_vm_excluded(&ts->vmd, vm))
		return 0; /* not bourse's: held, never listed */
	e = &ts->ev[k];
	e->here = 1;
	e->assigned = v->assigned_mib;
	if (e->listed)
		return 0;
	if (UTIL_GROW(ts->idx, ts->n_idx + 1, ts->cap_idx) != 0)
		return EMU_OOM;
	ts->idx[ts->n_idx++] = k;
	e->listed = 1;
	e->prev_short = -1; /* arrived (emu_open() admits the first ones) */
	e->prev_demand = -1;
	return 0;
}

/* Reads the world: which VMs are here and what they hold; then every
 * listed VM's sample. */
static int emu_refresh(struct trace_src *ts, char *err, size_t errlen)
{
	int rc;

	for (size_t i = 0; i < ts->n_idx; i++)
		ts->ev[ts->idx[i]].here = 0;
	ts->used = 0;
	rc = world_each_vm(ts->w, ts->host, on_world_vm, ts, err, errlen);
	if (rc == EMU_OOM)
		return util_err(err, errlen, "out of memory for VMs");
	if (rc != 0)
		return -1;
	for (size_t i = 0; i < ts->n_idx; i++)
		emu_sample(ts, ts->idx[i]);
	return 0;
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/* The host into the world, the slice's new VMs created here at Startup,
 * then the VMs the world puts here, listed in trace order. */
static int emu_open(struct trace_src *ts, const source_trace_opts *o,
		    char *err, size_t errlen)
{
	ts->ev = calloc(ts->t.n_vms, sizeof(*ts->ev));
	ts->by_name = calloc(ts->t.n_vms, sizeof(*ts->by_name));
	ts->host = strdup(o->host);
	if (!ts->ev || !ts->by_name || !ts->host)
		return util_err(err, errlen, "out of memory");
	for (size_t k = 0; k < ts->t.n_vms; k++) {
		ts->by_name[k] = (struct named){ ts->names[k], k };
		ts->ev[k].prev_demand = -1;
	}
	qsort(ts->by_name, ts->t.n_vms, sizeof(*ts->by_name), cmp_by_name);
	if (world_host_set(ts->w, ts->host, ts->capacity, ts->reserve, err,
			   errlen) != 0)
		return -1;
	for (size_t k = ts->first; k < ts->first + ts->count; k++) {
		source_vm_config c;
		world_vm v;

		settings_of(ts, k, &c);
		if (world_vm_place(ts->w, ts->names[k], ts->host, c.startup_mib,
				   &v, err, errlen) != 0)
			return -1;
	}
	ts->n_idx = 0;
	if (emu_refresh(ts, err, errlen) != 0)
		return -1;
	qsort(ts->idx, ts->n_idx, sizeof(*ts->idx), cmp_size);
	for (size_t k = 0; k < ts->t.n_vms; k++) /* admitted: from 0 */
		if (ts->ev[k].listed) {
			ts->ev[k].prev_short = 0;
			emu_sample(ts, k);
		}
	return 0;
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
	else if (o->world && !world_name_ok(o->host))
		bad = "with a world, the host's name must name a file (1..128 "
		      "of A-Z a-z 0-9 . _ -, not starting with '.')";
	if (bad) {
		snprintf(err, errlen, "%s", bad);
		return -1;
	}
	if (o->vm_defaults)
		return source_vm_defaults_check(o->vm_defaults, err, errlen);
	return 0;
}

/* The trace VMs this source may list: the slice, or with a world all. */
static void candidates(const struct trace_src *ts, size_t *lo, size_t *hi)
{
	*lo = ts->w ? 0 : ts->first;
	*hi = ts->w ? ts->t.n_vms : ts->first + ts->count;
}

/* "<prefix><id>" for every candidate VM, each a well-formed wire name. */
static int make_names(struct trace_src *ts, const char *prefix, char *err,
		      size_t errlen)
{
	char name[WIRE_MAX_NAME + 2];
	size_t lo, hi;

	candidates(ts, &lo, &hi);
	ts->names = calloc(ts->t.n_vms, sizeof(*ts->names));
	if (!ts->names) {
		snprintf(err, errlen, "out of memory for %zu VMs", ts->t.n_vms);
		return -1;
	}
	for (size_t i = lo; i < hi; i++) {
		unsigned id = (unsigned)ts->t.vms[i].id;
		int n = snprintf(name, sizeof(name), "%s%u", prefix, id);

		if (n < 0 || (size_t)n > WIRE_MAX_NAME || !wire_name_ok(name)) {
			snprintf(err, errlen, "VM name '%.40s%s%u' is not a "
				 "valid name (1..%u printable characters, no "
				 "spaces)", prefix, strlen(prefix) > 40 ? "..." : "",
				 id, WIRE_MAX_NAME);
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

/* Every sample of the candidates within what the wire carries (the trace reader
 * takes up to 2^40 MiB and 1e12 MiB/s, as the simulator can; a Register or
 * Bid beyond WIRE_MAX_MIB or WIRE_MAX_MIBPS would be refused, and the agent
 * would not send it): refused at open, naming the VM and the time. */
static int check_wire_range(const struct trace_src *ts, char *err,
			    size_t errlen)
{
	size_t lo, hi;

	candidates(ts, &lo, &hi);
	for (size_t i = lo; i < hi; i++) {
		const trace_series *v = &ts->t.vms[i];

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

/* Load the trace and keep [first, first + count) in id order (with a
 * world, every VM of the trace may come to this host). */
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

/* What the source lists at open: the slice, or what the world puts here. */
static int list_slice(struct trace_src *ts, const source_trace_opts *o,
		      char *err, size_t errlen)
{
	ts->now = ts->t.t_min;
	if (ts->w)
		return emu_open(ts, o, err, errlen);
	ts->idx = calloc(ts->count, sizeof(*ts->idx));
	if (!ts->idx)
		return util_err(err, errlen, "out of memory");
	ts->cap_idx = ts->count;
	for (size_t k = ts->first; k < ts->first + ts->count; k++)
		if (!source_vm_excluded(&ts->vmd, ts->names[k]))
			ts->idx[ts->n_idx++] = k;
	return 0;
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
	ts->w = o->world;
	if (o->vm_defaults)
		ts->vmd = *o->vm_defaults;
	else
		source_vm_defaults_init(&ts->vmd);
	ts->capacity = o->capacity_mib;
	ts->reserve = o->reserve_mib;
	ts->step_s = o->step_s;
	if (load_slice(ts, o, err, errlen) != 0 ||
	    make_names(ts, o->prefix, err, errlen) != 0 ||
	    list_slice(ts, o, err, errlen) != 0) {
		trace_src_free(ts);
		return -1;
	}
	ts->base.ops = &trace_ops;
	ts->base.state = ts;
	*out = &ts->base;
	return 0;
}
