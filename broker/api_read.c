/*
 * api_read.c - the JSON API's reads (GET /api/v1/..., docs/api.md) and the
 * JSON of each row. Each reads the broker's database through the HTTP
 * thread's connection with the store functions the CLI's views read with
 * (bourse status, hosts, vms, recs, events, prices, mode), and the loop's
 * figures from the snapshot. Numbers are rounded to what they mean.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "api_int.h"
#include "banned.h"

/* ---- JSON values ----------------------------------------------------------- */

/* A double with at most `places` decimals, trailing zeros dropped: 0.25,
 * not 0.25000000000000006; null if not finite. */
static json_object *num(double v, int places)
{
	char buf[64];
	size_t n;

	if (!isfinite(v))
		return NULL;
	snprintf(buf, sizeof(buf), "%.*f", places, v);
	n = strlen(buf);
	if (strchr(buf, '.')) {
		while (buf[n - 1] == '0')
			buf[--n] = '\0';
		if (buf[n - 1] == '.')
			buf[--n] = '\0';
	}
	if (!strcmp(buf, "-0"))
		snprintf(buf, sizeof(buf), "0");
	return json_object_new_double_s(v, buf);
}

static json_object *str_or_null(const char *s)
{
	return s && *s ? json_object_new_string(s) : NULL;
}

static json_object *int_or_null(int64_t v)
{
	return v ? json_object_new_int64(v) : NULL;
}

static json_object *host_json(const store_host_row *h)
{
	static const char *const states[] = { "?", "online", "lost", "gone" };
	json_object *j = json_object_new_object();

	ADD(j, "id", I64(h->id));
	ADD(j, "name", STR(h->name));
	ADD(j, "uri", STR(h->uri));
	ADD(j, "capacity_mib", I64(h->capacity_mib));
	ADD(j, "reserve_mib", I64(h->reserve_mib));
	ADD(j, "state", STR(states[h->state <= 3 ? h->state : 0]));
	ADD(j, "first_seen_ms", I64(h->first_seen_ms));
	ADD(j, "last_seen_ms", I64(h->last_seen_ms));
	ADD(j, "price", num(h->price, 6));
	ADD(j, "utilization", num(h->utilization, 4));
	ADD(j, "awarded_mib", I64(h->awarded_mib));
	ADD(j, "n_vms", I64(h->n_vms));
	return j;
}

static json_object *vm_json(const store_vm_row *v)
{
	static const char *const states[] = { "?", "active", "lost", "gone" };
	json_object *j = json_object_new_object();

	ADD(j, "id", I64(v->id));
	ADD(j, "name", STR(v->name));
	ADD(j, "host_id", I64(v->host_id));
	ADD(j, "host_name", STR(v->host_name));
	ADD(j, "state", STR(states[v->state <= 3 ? v->state : 0]));
	ADD(j, "startup_mib", I64(v->startup_mib));
	ADD(j, "minimum_mib", I64(v->minimum_mib));
	ADD(j, "maximum_mib", I64(v->maximum_mib));
	ADD(j, "buffer_pct", I64(v->buffer_pct));
	ADD(j, "weight", I64(v->weight));
	ADD(j, "reservation_mib", I64(v->reservation_mib));
	ADD(j, "limit_mib", I64(v->limit_mib));
	ADD(j, "shares", I64(v->shares));
	ADD(j, "first_seen_ms", I64(v->first_seen_ms));
	ADD(j, "last_seen_ms", I64(v->last_seen_ms));
	ADD(j, "last_migrated_round",
	    v->last_migrated_round == INT64_MIN ? NULL
						: I64(v->last_migrated_round));
	ADD(j, "demand_mib", I64(v->demand_mib));
	ADD(j, "assigned_mib", I64(v->assigned_mib));
	ADD(j, "target_mib", I64(v->target_mib));
	ADD(j, "pressure", num(v->pressure, 2));
	return j;
}

json_object *broker__api_rec_json(const store_rec *r)
{
	json_object *j = json_object_new_object();

	ADD(j, "id", I64(r->id));
	ADD(j, "round", I64(r->round));
	ADD(j, "last_round", I64(r->last_round));
	ADD(j, "created_ms", I64(r->created_ms));
	ADD(j, "updated_ms", I64(r->updated_ms));
	ADD(j, "kind", STR(store_rec_kind_name(r->kind)));
	ADD(j, "action", STR(store_action_name(store_rec_action(r))));
	ADD(j, "state", STR(store_rec_state_name(r->state)));
	ADD(j, "vm_id", I64(r->vm_id));
	ADD(j, "vm_name", STR(r->vm_name));
	ADD(j, "from_host", STR(r->from_host));
	ADD(j, "to_host", str_or_null(r->to_host));
	ADD(j, "from_mib", I64(r->from_mib));
	ADD(j, "to_mib", I64(r->to_mib));
	ADD(j, "price_here", num(r->price_here, 6));
	ADD(j, "price_there", num(r->price_there, 6));
	ADD(j, "cost_here", num(r->cost_here, 4));
	ADD(j, "cost_there", num(r->cost_there, 4));
	ADD(j, "demand_mib", I64(r->demand_mib));
	ADD(j, "want_mib", I64(r->want_mib));
	ADD(j, "pressure_before", num(r->pressure_before, 2));
	ADD(j, "pressure_after", num(r->pressure_after, 2));
	ADD(j, "budget", num(r->budget, 4));
	ADD(j, "why", STR(r->why));
	ADD(j, "state_reason", STR(r->state_reason));
	ADD(j, "superseded_by", int_or_null(r->superseded_by));
	ADD(j, "wait_reason", STR(r->wait_reason));
	ADD(j, "wait_round", int_or_null(r->wait_round));
	return j;
}

static json_object *audit_json(const store_audit_row *e)
{
	json_object *j = json_object_new_object();

	ADD(j, "id", I64(e->id));
	ADD(j, "ts_ms", I64(e->ts_ms));
	ADD(j, "actor", STR(e->actor));
	ADD(j, "event", STR(e->event));
	ADD(j, "rec_id", int_or_null(e->rec_id));
	ADD(j, "detail", STR(e->detail));
	return j;
}

json_object *broker__api_control_json(const store_control *c)
{
	json_object *j = json_object_new_object(),
		    *m = json_object_new_object();

	for (int i = 0; i < STORE_N_ACTS; i++)
		ADD(m, store_action_name((store_action)i),
		    STR(store_mode_name(c->mode[i])));
	ADD(j, "modes", m);
	ADD(j, "paused", json_object_new_boolean(c->paused));
	ADD(j, "pause_reason", str_or_null(c->pause_reason));
	ADD(j, "updated_ms", int_or_null(c->updated_ms));
	ADD(j, "updated_by", str_or_null(c->updated_by));
	return j;
}

/* ---- query arguments and bodies ----------------------------------------- */

/* ?key=N within [min, max]; def if absent. Returns 0, or a 400. */
static unsigned arg_i64(api_call *a, const char *key, int64_t min, int64_t max,
			int64_t def, int64_t *out)
{
	const char *s = a->r->arg(a->r->arg_ctx, key);
	char *end;
	long long v;

	*out = def;
	if (!s)
		return 0;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (!*s || *end || errno || v < min || v > max ||
	    isspace((unsigned char)*s))
		return broker__api_fail(a, 400,
					"%s '%s': not a whole number in %" PRId64
					" .. %" PRId64,
					key, s, min, max);
	*out = v;
	return 0;
}

/* ?key=NAME: NULL if absent; 400 if empty or too long for a name. */
static unsigned arg_name(api_call *a, const char *key, const char **out)
{
	const char *s = a->r->arg(a->r->arg_ctx, key);

	*out = s;
	if (s && (!*s || strlen(s) >= STORE_NAME_MAX))
		return broker__api_fail(a, 400,
					"%s: a name of 1 .. %d characters", key,
					STORE_NAME_MAX - 1);
	return 0;
}

/* ---- reads ---------------------------------------------------------------- */

static int add_host(const store_host_row *h, void *ctx)
{
	api_call *a = ctx;

	json_object_array_add(a->out, host_json(h));
	return 0;
}

unsigned broker__api_get_hosts(api_call *a)
{
	char err[512];

	a->out = json_object_new_array();
	if (store_hosts_list(a->r->st, add_host, a, err, sizeof(err)))
		return broker__api_store_failed(a, err, 500);
	return 200;
}

static int add_vm(const store_vm_row *v, void *ctx)
{
	api_call *a = ctx;
	const char *host = a->ctx;

	if (!host || !strcmp(host, v->host_name))
		json_object_array_add(a->out, vm_json(v));
	return 0;
}

unsigned broker__api_get_vms(api_call *a)
{
	const char *host;
	char err[512];
	unsigned rc = arg_name(a, "host", &host);

	if (rc)
		return rc;
	a->ctx = (void *)host;
	a->out = json_object_new_array();
	if (store_vms_list(a->r->st, add_vm, a, err, sizeof(err)))
		return broker__api_store_failed(a, err, 500);
	return 200;
}

/* GET recs: the filters and how many are left to take. */
struct recs_filter {
	int kind; /* 0: both */
	const char *host, *vm;
	int64_t left;
};

static int add_rec(const store_rec *r, void *ctx)
{
	api_call *a = ctx;
	struct recs_filter *f = a->ctx;

	if ((f->kind && (int)r->kind != f->kind) ||
	    (f->vm && strcmp(f->vm, r->vm_name)) ||
	    (f->host && strcmp(f->host, r->from_host) &&
	     strcmp(f->host, r->to_host)))
		return 0;
	json_object_array_add(a->out, broker__api_rec_json(r));
	if (--f->left > 0)
		return 0;
	a->full = 1;
	return 1;
}

static unsigned recs_filter_parse(api_call *a, store_rec_state *state,
				  struct recs_filter *f)
{
	const char *s = a->r->arg(a->r->arg_ctx, "state");
	const char *k = a->r->arg(a->r->arg_ctx, "kind");
	unsigned rc;

	memset(f, 0, sizeof(*f));
	*state = 0;
	if (s && store_rec_state_parse(s, state))
		return broker__api_fail(
			a, 400,
			"state '%s': not one of pending, approved, "
			"rejected, expired, superseded, dispatched, "
			"succeeded, failed",
			s);
	if (k && !strcmp(k, "resize"))
		f->kind = STORE_REC_RESIZE;
	else if (k && !strcmp(k, "migrate"))
		f->kind = STORE_REC_MIGRATE;
	else if (k)
		return broker__api_fail(a, 400,
					"kind '%s': not resize or migrate", k);
	if ((rc = arg_name(a, "host", &f->host)) ||
	    (rc = arg_name(a, "vm", &f->vm)) ||
	    (rc = arg_i64(a, "limit", 1, API_LIMIT_MAX, API_LIMIT_DEFAULT,
			  &f->left)))
		return rc;
	return 0;
}

unsigned broker__api_get_recs(api_call *a)
{
	struct recs_filter f;
	store_rec_state state;
	char err[512];
	unsigned rc = recs_filter_parse(a, &state, &f);

	if (rc)
		return rc;
	a->ctx = &f;
	a->out = json_object_new_array();
	if (store_recs_list(a->r->st, state, 0, add_rec, a, err, sizeof(err)) &&
	    !a->full)
		return broker__api_store_failed(a, err, 500);
	return 200;
}

static int add_audit(const store_audit_row *e, void *ctx)
{
	json_object_array_add(ctx, audit_json(e));
	return 0;
}

/* One rec, or its 404 (503 if the store failed). */
unsigned broker__api_rec_read(api_call *a, store_rec *rec)
{
	char err[512];

	if (store_rec_get(a->r->st, a->id, rec, err, sizeof(err)))
		return broker__api_store_failed(a, err, 404);
	return 0;
}

unsigned broker__api_get_rec(api_call *a)
{
	store_rec rec;
	json_object *trail;
	char err[512];
	unsigned rc = broker__api_rec_read(a, &rec);

	if (rc)
		return rc;
	a->out = broker__api_rec_json(&rec);
	trail = json_object_new_array();
	ADD(a->out, "audit", trail);
	if (store_audit_list(a->r->st, a->id, add_audit, trail, err,
			     sizeof(err)))
		return broker__api_store_failed(a, err, 500);
	return 200;
}

/* "30s", "15m", "2h", "7d" -> ms. Returns 0, or -1. */
static int parse_age(const char *s, int64_t *ms)
{
	char *end;
	long long v;
	int64_t unit;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || errno || v < 0 || v > 3650LL * 86400 ||
	    !isdigit((unsigned char)*s) || end[0] == '\0' || end[1] != '\0')
		return -1;
	switch (*end) {
	case 's': unit = 1000; break;
	case 'm': unit = 60000; break;
	case 'h': unit = 3600000; break;
	case 'd': unit = 86400000; break;
	default: return -1;
	}
	*ms = (int64_t)v * unit;
	return 0;
}

static int add_event(const store_event_row *e, void *ctx)
{
	json_object *j = audit_json(&e->a);

	ADD(j, "vm", str_or_null(e->vm));
	ADD(j, "host", str_or_null(e->from_host));
	ADD(j, "to_host", str_or_null(e->to_host));
	json_object_array_add(ctx, j);
	return 0;
}

unsigned broker__api_get_events(api_call *a)
{
	store_event_filter f = { 0 };
	const char *since = a->r->arg(a->r->arg_ctx, "since");
	int64_t limit, age;
	char err[512];
	unsigned rc;

	if (since && parse_age(since, &age))
		return broker__api_fail(a, 400,
					"since '%s': not an age such as 30s, 15m, "
					"2h, 7d",
					since);
	if (since)
		f.since_ms = a->r->now_ms - age;
	if ((rc = arg_name(a, "event", &f.event)) ||
	    (rc = arg_name(a, "host", &f.host)) ||
	    (rc = arg_name(a, "vm", &f.vm)) ||
	    (rc = arg_i64(a, "limit", 1, API_LIMIT_MAX, API_LIMIT_DEFAULT,
			  &limit)))
		return rc;
	f.limit = (size_t)limit;
	a->out = json_object_new_array();
	if (store_events_list(a->r->st, &f, add_event, a->out, err,
			      sizeof(err)))
		return broker__api_store_failed(a, err, 500);
	return 200;
}

static int find_host(const store_host_row *h, void *ctx)
{
	api_call *a = ctx;

	if (!strcmp(h->name, a->ctx))
		a->full = 1;
	return 0;
}

static int add_price(const store_price_view *v, void *ctx)
{
	api_call *a = ctx;
	const store_price_row *p = &v->p;
	json_object *j;

	if (a->ctx && strcmp(a->ctx, v->host_name))
		return 0;
	j = json_object_new_object();
	ADD(j, "round", I64(v->round));
	ADD(j, "started_ms", I64(v->started_ms));
	ADD(j, "host", STR(v->host_name));
	ADD(j, "price", num(p->price, 6));
	ADD(j, "clearing_price", num(p->clearing_price, 6));
	ADD(j, "utilization", num(p->utilization, 4));
	ADD(j, "balloon_pressure", num(p->balloon_pressure, 4));
	ADD(j, "swap_pressure", num(p->swap_pressure, 4));
	ADD(j, "supply_mib", I64(p->supply_mib));
	ADD(j, "wanted_mib", I64(p->wanted_mib));
	ADD(j, "awarded_mib", I64(p->awarded_mib));
	ADD(j, "shortage", json_object_new_boolean(p->shortage));
	json_object_array_add(a->out, j);
	return 0;
}

/* Prices over time: rounds from .. to (default the last 60), one host or
 * every host. */
unsigned broker__api_get_prices(api_call *a)
{
	const char *host;
	int64_t last, from, to;
	char err[512];
	unsigned rc;

	if (store_round_last(a->r->st, &last, err, sizeof(err)))
		return broker__api_store_failed(a, err, 500);
	if ((rc = arg_name(a, "host", &host)) ||
	    (rc = arg_i64(a, "to", 1, INT64_MAX / 2, last > 0 ? last : 1,
			  &to)) ||
	    (rc = arg_i64(a, "from", 1, INT64_MAX / 2,
			  to > API_PRICE_ROUNDS ? to - API_PRICE_ROUNDS + 1 : 1,
			  &from)))
		return rc;
	if (from > to || to - from >= API_PRICE_ROUNDS_MAX)
		return broker__api_fail(a, 400,
					"from %" PRId64 " to %" PRId64
					": from must "
					"be <= to, and at most %d rounds",
					from, to, API_PRICE_ROUNDS_MAX);
	if (host) {
		a->ctx = (void *)host;
		if (store_hosts_list(a->r->st, find_host, a, err, sizeof(err)))
			return broker__api_store_failed(a, err, 500);
		if (!a->full)
			return broker__api_fail(a, 404, "no host '%s'", host);
	}
	a->out = json_object_new_array();
	for (int64_t r = from; r <= to; r++)
		if (store_prices_list(a->r->st, r, add_price, a, err,
				      sizeof(err)))
			return broker__api_store_failed(a, err, 500);
	return 200;
}

unsigned broker__api_get_mode(api_call *a)
{
	store_control c;
	char err[512];

	if (store_control_get(a->r->st, &c, err, sizeof(err)))
		return broker__api_store_failed(a, err, 500);
	a->out = broker__api_control_json(&c);
	return 200;
}

/* The broker's run, from the loop's snapshot. */
static json_object *run_json(const broker_snapshot *s)
{
	json_object *j = json_object_new_object();

	ADD(j, "started_ms", I64(s->started_ms));
	ADD(j, "rounds", I64((int64_t)s->rounds));
	ADD(j, "rounds_not_persisted", I64((int64_t)s->store_errors));
	ADD(j, "last_round", int_or_null(s->round));
	ADD(j, "last_round_ms", int_or_null(s->round_wall_ms));
	ADD(j, "connections", I64(s->conns));
	ADD(j, "messages_in", I64((int64_t)s->msgs_in));
	ADD(j, "messages_dropped", I64((int64_t)s->dropped));
	return j;
}

unsigned broker__api_get_status(api_call *a)
{
	store *st = a->r->st;
	store_broker_status bk;
	store_round_info ri;
	store_control c;
	int64_t counts[STORE_REC_FAILED + 1];
	json_object *recs, *j;
	char err[512];

	if (store_broker_get(st, &bk, err, sizeof(err)) ||
	    store_round_info_last(st, &ri, err, sizeof(err)) ||
	    store_control_get(st, &c, err, sizeof(err)) ||
	    store_rec_counts(st, counts, err, sizeof(err)))
		return broker__api_store_failed(a, err, 500);
	a->out = json_object_new_object();
	j = json_object_new_object();
	ADD(j, "pid", I64(bk.pid));
	ADD(j, "endpoint", STR(bk.endpoint));
	ADD(j, "round_ms", I64(bk.round_ms));
	ADD(j, "heartbeat_ms", int_or_null(bk.heartbeat_ms));
	ADD(a->out, "broker", j);
	ADD(a->out, "run", run_json(a->r->snap));
	j = json_object_new_object();
	ADD(j, "round", I64(ri.round));
	ADD(j, "started_ms", int_or_null(ri.started_ms));
	ADD(j, "duration_ms", I64(ri.duration_ms));
	ADD(j, "n_hosts", I64(ri.n_hosts));
	ADD(j, "n_vms", I64(ri.n_vms));
	ADD(j, "n_recs", I64(ri.n_recs));
	ADD(a->out, "last_round", j);
	recs = json_object_new_object();
	for (int s = STORE_REC_PENDING; s <= STORE_REC_FAILED; s++)
		ADD(recs, store_rec_state_name((store_rec_state)s),
		    I64(counts[s]));
	ADD(a->out, "recs", recs);
	ADD(a->out, "control", broker__api_control_json(&c));
	return 200;
}
