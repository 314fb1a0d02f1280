/*
 * source.c - the source wrappers; the VM defaults every VM source derives
 * a VM's settings with (source_vm_settings()); and the static source: a
 * host with no VMs whose numbers never change (a seller without a trace).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "source.h"
#include "wire.h"
#include "banned.h"

int source_advance(source *s, char *err, size_t errlen)
{
	return s->ops->advance(s, err, errlen);
}

int source_host_read(source *s, source_host *out, char *err, size_t errlen)
{
	return s->ops->host(s, out, err, errlen);
}

size_t source_n_vms(source *s)
{
	return s->ops->n_vms(s);
}

int source_vm_config_get(source *s, size_t i, source_vm_config *out)
{
	return s->ops->vm_config(s, i, out);
}

int source_vm_read(source *s, size_t i, source_vm_sample *out, char *err,
		   size_t errlen)
{
	return s->ops->vm_sample(s, i, out, err, errlen);
}

void source_close(source *s)
{
	if (s)
		s->ops->close(s);
}

/* ---- the VM defaults ---- */

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

void source_vm_defaults_init(source_vm_defaults *d)
{
	d->minimum_mib = 512;
	d->startup_mib = 1024;
	d->buffer_pct = 20;
	d->weight = 5000;
	d->shares = 1000;
}

int source_vm_defaults_check(const source_vm_defaults *d, char *err,
			     size_t errlen)
{
	const char *bad = NULL;

	if ((d->minimum_mib < 1 && d->minimum_mib != SOURCE_MIN_AUTO) ||
	    d->minimum_mib > WIRE_MAX_MIB)
		bad = "the VM minimum must be between 1 MiB and 64 TiB";
	else if (d->startup_mib < d->minimum_mib ||
		 d->startup_mib > WIRE_MAX_MIB)
		bad = "the VM startup must be between the minimum and 64 TiB";
	else if (d->buffer_pct > WIRE_MAX_BUFFER_PCT)
		bad = "the VM buffer must be between 0 and 2000 %";
	else if (d->weight > WIRE_MAX_WEIGHT)
		bad = "the VM weight must be between 0 and 10000";
	else if (d->shares < 1 || d->shares > WIRE_MAX_SHARES)
		bad = "the VM shares must be between 1 and 1000000";
	if (bad) {
		snprintf(err, errlen, "%s", bad);
		return -1;
	}
	return 0;
}

int64_t source_vm_auto_minimum(int64_t maximum_mib, int64_t startup_mib)
{
	int64_t m = startup_mib / 100 * SOURCE_MIN_AUTO_PCT +
		    startup_mib % 100 * SOURCE_MIN_AUTO_PCT / 100;

	if (m < SOURCE_MIN_FLOOR_MIB)
		m = SOURCE_MIN_FLOOR_MIB;
	m = min64(min64(m, startup_mib), maximum_mib);
	return m < 1 ? 1 : m;
}

void source_vm_settings(const source_vm_defaults *d, int64_t maximum_mib,
			source_vm_config *out)
{
	memset(out, 0, sizeof(*out));
	out->maximum_mib = maximum_mib;
	out->startup_mib = min64(d->startup_mib, maximum_mib);
	out->minimum_mib = d->minimum_mib == SOURCE_MIN_AUTO
			   ? source_vm_auto_minimum(maximum_mib,
						    out->startup_mib)
			   : min64(d->minimum_mib, maximum_mib);
	out->buffer_pct = d->buffer_pct;
	out->weight = d->weight;
	out->shares = d->shares;
}

/* ---- per-VM settings from the configuration ---- */

const source_vm_override *source_vm_override_find(const source_vm_defaults *d,
						  const char *name)
{
	if (!d || !name)
		return NULL;
	for (size_t i = 0; i < d->n_overrides; i++)
		if (!strcmp(d->overrides[i].name, name))
			return &d->overrides[i];
	return NULL;
}

int source_vm_excluded(const source_vm_defaults *d, const char *name)
{
	const source_vm_override *o = source_vm_override_find(d, name);

	return o && o->exclude;
}

static void override_fields(const source_vm_override *o, source_vm_config *c)
{
	if (o->set & SOURCE_VM_SET_MAXIMUM)
		c->maximum_mib = o->maximum_mib;
	if (o->set & SOURCE_VM_SET_MINIMUM)
		c->minimum_mib = o->minimum_mib;
	if (o->set & SOURCE_VM_SET_BUFFER)
		c->buffer_pct = o->buffer_pct;
	if (o->set & SOURCE_VM_SET_WEIGHT)
		c->weight = o->weight;
	if (o->set & SOURCE_VM_SET_RESERVATION)
		c->reservation_mib = o->reservation_mib;
	if (o->set & SOURCE_VM_SET_LIMIT)
		c->limit_mib = o->limit_mib;
	if (o->set & SOURCE_VM_SET_SHARES)
		c->shares = o->shares;
}

void source_vm_override_apply(const source_vm_defaults *d,
			      source_vm_config *out)
{
	const source_vm_override *o = source_vm_override_find(d, out->name);

	if (!o)
		return;
	override_fields(o, out);
	out->minimum_mib = min64(out->minimum_mib, out->maximum_mib);
	if (out->limit_mib > 0)
		out->minimum_mib = min64(out->minimum_mib, out->limit_mib);
	if (out->minimum_mib < 1)
		out->minimum_mib = 1;
	if (out->startup_mib < out->minimum_mib)
		out->startup_mib = out->minimum_mib;
	out->startup_mib = min64(out->startup_mib, out->maximum_mib);
	out->reservation_mib = min64(out->reservation_mib, out->maximum_mib);
	if (out->limit_mib > 0)
		out->reservation_mib = min64(out->reservation_mib,
					     out->limit_mib);
}

/* ---- the static source ---- */

struct static_src {
	source base;
	int64_t capacity, reserve;
};

static int static_advance(source *s, char *err, size_t errlen)
{
	(void)s;
	(void)err;
	(void)errlen;
	return 0;
}

static int static_host(source *s, source_host *out, char *err, size_t errlen)
{
	const struct static_src *st = s->state;

	(void)err;
	(void)errlen;
	memset(out, 0, sizeof(*out));
	out->capacity_mib = st->capacity;
	out->reserve_mib = st->reserve;
	out->free_mib = st->capacity - st->reserve;
	return 0;
}

static size_t static_n_vms(source *s)
{
	(void)s;
	return 0;
}

static int static_vm_config(source *s, size_t i, source_vm_config *out)
{
	(void)s;
	(void)i;
	(void)out;
	return -1;
}

static int static_vm_sample(source *s, size_t i, source_vm_sample *out,
			    char *err, size_t errlen)
{
	(void)s;
	(void)out;
	snprintf(err, errlen, "the static source has no VM %zu", i);
	return -1;
}

static void static_close(source *s)
{
	free(s->state);
}

static const struct source_ops static_ops = {
	.kind = "static",
	.advance = static_advance,
	.host = static_host,
	.n_vms = static_n_vms,
	.vm_config = static_vm_config,
	.vm_sample = static_vm_sample,
	.close = static_close,
};

int source_static_open(int64_t capacity_mib, int64_t reserve_mib,
		       source **out, char *err, size_t errlen)
{
	struct static_src *st;

	*out = NULL;
	if (capacity_mib < 1 || capacity_mib > WIRE_MAX_MIB) {
		snprintf(err, errlen, "capacity %lld MiB is not in 1..%lld",
			 (long long)capacity_mib, WIRE_MAX_MIB);
		return -1;
	}
	if (reserve_mib < 0 || reserve_mib >= capacity_mib) {
		snprintf(err, errlen, "reserve %lld MiB must be >= 0 and below "
			 "the capacity (%lld MiB)", (long long)reserve_mib,
			 (long long)capacity_mib);
		return -1;
	}
	st = calloc(1, sizeof(*st));
	if (!st) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	st->capacity = capacity_mib;
	st->reserve = reserve_mib;
	st->base.ops = &static_ops;
	st->base.state = st;
	*out = &st->base;
	return 0;
}

/* ---- the pair: host figures from one source, VMs from another ---- */

struct pair_src {
	source base;
	source *host, *vms;
};

static int pair_advance(source *s, char *err, size_t errlen)
{
	struct pair_src *p = s->state;

	if (source_advance(p->host, err, errlen) != 0)
		return -1;
	return source_advance(p->vms, err, errlen);
}

static int pair_host(source *s, source_host *out, char *err, size_t errlen)
{
	struct pair_src *p = s->state;

	return source_host_read(p->host, out, err, errlen);
}

static size_t pair_n_vms(source *s)
{
	struct pair_src *p = s->state;

	return source_n_vms(p->vms);
}

static int pair_vm_config(source *s, size_t i, source_vm_config *out)
{
	struct pair_src *p = s->state;

	return source_vm_config_get(p->vms, i, out);
}

static int pair_vm_sample(source *s, size_t i, source_vm_sample *out,
			  char *err, size_t errlen)
{
	struct pair_src *p = s->state;

	return source_vm_read(p->vms, i, out, err, errlen);
}

static void pair_close(source *s)
{
	struct pair_src *p = s->state;

	source_close(p->host);
	source_close(p->vms);
	free(p);
}

static const struct source_ops pair_ops = {
	.kind = "pair",
	.advance = pair_advance,
	.host = pair_host,
	.n_vms = pair_n_vms,
	.vm_config = pair_vm_config,
	.vm_sample = pair_vm_sample,
	.close = pair_close,
};

int source_pair_open(source *host, source *vms, source **out, char *err,
		     size_t errlen)
{
	struct pair_src *p;

	*out = NULL;
	p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err, errlen, "out of memory");
		source_close(host);
		source_close(vms);
		return -1;
	}
	p->host = host;
	p->vms = vms;
	p->base.ops = &pair_ops;
	p->base.state = p;
	*out = &p->base;
	return 0;
}
