/*
 * api.c - the HTTP JSON API under /api/v1/ (docs/api.md) and the routing
 * of every request http.c hands over, /metrics included (metrics.c).
 *
 * Reads use the store functions the CLI's views read with; each write
 * calls the one store function the CLI's command calls
 * (store_rec_transition(), store_rec_cancel(), store_mode_set(),
 * store_pause_set()): the rules of what may change live in storage/, and
 * the audit log names the caller, "api:<token name>".
 *
 * Statuses: 200; 400 bad input; 401 no or unknown token; 403 writes are
 * off; 404 no such route or thing; 405 wrong method; 409 the store refused
 * the change (an illegal transition); 413 body too big; 503 the store is
 * locked, full or failing (try again); 500 anything else.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "broker_int.h"
#include "banned.h"

#define API_PREFIX "/api/v1/"
#define API_LIMIT_DEFAULT 100
#define API_LIMIT_MAX 10000
#define API_PRICE_ROUNDS 60 /* prices: the last N rounds by default */
#define API_PRICE_ROUNDS_MAX 1000
#define API_REASON_MAX 200

static const char json_ctype[] = "application/json";

/* One call: the request, the route's id and the answer being made. */
typedef struct api_call {
	const broker_api_req *r;
	int64_t id;       /* the route's '#' segment, or 0 */
	json_object *out; /* the answer (200) */
	char msg[640];    /* the error (any other status) */
	int full;         /* a list reached its limit */
	void *ctx;        /* a list's filter */
} api_call;

typedef unsigned (*api_fn)(api_call *a);

static unsigned fail(api_call *a, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static unsigned fail(api_call *a, unsigned status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(a->msg, sizeof(a->msg), fmt, ap);
	va_end(ap);
	return status;
}

/* The store refused: its fault (locked, full, I/O) is worth trying again
 * (503); otherwise the call's own status (409 for a refused change). */
static unsigned store_failed(api_call *a, const char *err, unsigned status)
{
	if (store_last_fault(a->r->st) != STORE_FAULT_NONE)
		status = 503;
	return fail(a, status, "%s", err);
}

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

#define ADD(j, k, v) json_object_object_add((j), (k), (v))
#define I64(v) json_object_new_int64(v)
#define STR(v) json_object_new_string(v)

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

static json_object *rec_json(const store_rec *r)
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

static json_object *control_json(const store_control *c)
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
		return fail(a, 400,
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
		return fail(a, 400, "%s: a name of 1 .. %d characters", key,
			    STORE_NAME_MAX - 1);
	return 0;
}

/* The body, a JSON object whose keys are all in `allowed` (a
 * comma-separated list; "" takes none). An empty body is {}. */
static unsigned parse_body(api_call *a, const char *allowed, json_object **o)
{
	const broker_api_req *r = a->r;
	json_tokener *tok;
	enum json_tokener_error e;

	*o = NULL;
	if (r->body_len == 0) {
		*o = json_object_new_object();
		return *o ? 0 : fail(a, 500, "out of memory");
	}
	tok = json_tokener_new();
	if (!tok)
		return fail(a, 500, "out of memory");
	*o = json_tokener_parse_ex(tok, r->body, (int)r->body_len);
	e = json_tokener_get_error(tok);
	if (*o && e == json_tokener_success) /* only blanks may follow */
		for (size_t i = json_tokener_get_parse_end(tok);
		     i < r->body_len; i++)
			if (!isspace((unsigned char)r->body[i]))
				e = json_tokener_error_parse_unexpected;
	json_tokener_free(tok);
	if (!*o || e != json_tokener_success) {
		json_object_put(*o);
		*o = NULL;
		return fail(a, 400, "the body is not JSON: %s",
			    e == json_tokener_continue
				    ? "unexpected end"
				    : json_tokener_error_desc(e));
	}
	if (!json_object_is_type(*o, json_type_object))
		return fail(a, 400, "the body must be a JSON object");
	json_object_object_foreach(*o, key, val)
	{
		size_t n = strlen(key);
		const char *p = strstr(allowed, key);

		(void)val;
		while (p && ((p != allowed && p[-1] != ',') ||
			     (p[n] != ',' && p[n] != '\0')))
			p = strstr(p + 1, key);
		if (!p || !n)
			return fail(a, 400, "unknown field '%s'%s%s", key,
				    *allowed ? "; this route takes: "
					     : "; this "
					       "route takes no field",
				    allowed);
	}
	return 0;
}

/* A string field of the body: NULL if absent; 400 if not a string of
 * 1 .. max printable characters. */
static unsigned body_str(api_call *a, json_object *o, const char *key,
			 size_t max, const char **out)
{
	json_object *v;
	const char *s;

	*out = NULL;
	if (!json_object_object_get_ex(o, key, &v) || !v)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return fail(a, 400, "'%s' must be a string", key);
	s = json_object_get_string(v);
	if (!*s || strlen(s) > max)
		return fail(a, 400, "'%s' must be 1 .. %zu characters", key,
			    max);
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return fail(a, 400, "'%s' has a control character",
				    key);
	*out = s;
	return 0;
}

static void actor_of(const api_call *a, char *buf, size_t size)
{
	snprintf(buf, size, "api:%s", a->r->token_name);
}

/* ---- reads ---------------------------------------------------------------- */

static int add_host(const store_host_row *h, void *ctx)
{
	api_call *a = ctx;

	json_object_array_add(a->out, host_json(h));
	return 0;
}

static unsigned get_hosts(api_call *a)
{
	char err[512];

	a->out = json_object_new_array();
	if (store_hosts_list(a->r->st, add_host, a, err, sizeof(err)))
		return store_failed(a, err, 500);
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

static unsigned get_vms(api_call *a)
{
	const char *host;
	char err[512];
	unsigned rc = arg_name(a, "host", &host);

	if (rc)
		return rc;
	a->ctx = (void *)host;
	a->out = json_object_new_array();
	if (store_vms_list(a->r->st, add_vm, a, err, sizeof(err)))
		return store_failed(a, err, 500);
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
	json_object_array_add(a->out, rec_json(r));
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
		return fail(a, 400,
			    "state '%s': not one of pending, approved, "
			    "rejected, expired, superseded, dispatched, "
			    "succeeded, failed",
			    s);
	if (k && !strcmp(k, "resize"))
		f->kind = STORE_REC_RESIZE;
	else if (k && !strcmp(k, "migrate"))
		f->kind = STORE_REC_MIGRATE;
	else if (k)
		return fail(a, 400, "kind '%s': not resize or migrate", k);
	if ((rc = arg_name(a, "host", &f->host)) ||
	    (rc = arg_name(a, "vm", &f->vm)) ||
	    (rc = arg_i64(a, "limit", 1, API_LIMIT_MAX, API_LIMIT_DEFAULT,
			  &f->left)))
		return rc;
	return 0;
}

static unsigned get_recs(api_call *a)
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
		return store_failed(a, err, 500);
	return 200;
}

static int add_audit(const store_audit_row *e, void *ctx)
{
	json_object_array_add(ctx, audit_json(e));
	return 0;
}

/* One rec, or its 404 (503 if the store failed). */
static unsigned rec_read(api_call *a, store_rec *rec)
{
	char err[512];

	if (store_rec_get(a->r->st, a->id, rec, err, sizeof(err)))
		return store_failed(a, err, 404);
	return 0;
}

static unsigned get_rec(api_call *a)
{
	store_rec rec;
	json_object *trail;
	char err[512];
	unsigned rc = rec_read(a, &rec);

	if (rc)
		return rc;
	a->out = rec_json(&rec);
	trail = json_object_new_array();
	ADD(a->out, "audit", trail);
	if (store_audit_list(a->r->st, a->id, add_audit, trail, err,
			     sizeof(err)))
		return store_failed(a, err, 500);
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

static unsigned get_events(api_call *a)
{
	store_event_filter f = { 0 };
	const char *since = a->r->arg(a->r->arg_ctx, "since");
	int64_t limit, age;
	char err[512];
	unsigned rc;

	if (since && parse_age(since, &age))
		return fail(a, 400,
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
		return store_failed(a, err, 500);
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
static unsigned get_prices(api_call *a)
{
	const char *host;
	int64_t last, from, to;
	char err[512];
	unsigned rc;

	if (store_round_last(a->r->st, &last, err, sizeof(err)))
		return store_failed(a, err, 500);
	if ((rc = arg_name(a, "host", &host)) ||
	    (rc = arg_i64(a, "to", 1, INT64_MAX / 2, last > 0 ? last : 1,
			  &to)) ||
	    (rc = arg_i64(a, "from", 1, INT64_MAX / 2,
			  to > API_PRICE_ROUNDS ? to - API_PRICE_ROUNDS + 1 : 1,
			  &from)))
		return rc;
	if (from > to || to - from >= API_PRICE_ROUNDS_MAX)
		return fail(a, 400,
			    "from %" PRId64 " to %" PRId64 ": from must "
			    "be <= to, and at most %d rounds",
			    from, to, API_PRICE_ROUNDS_MAX);
	if (host) {
		a->ctx = (void *)host;
		if (store_hosts_list(a->r->st, find_host, a, err, sizeof(err)))
			return store_failed(a, err, 500);
		if (!a->full)
			return fail(a, 404, "no host '%s'", host);
	}
	a->out = json_object_new_array();
	for (int64_t r = from; r <= to; r++)
		if (store_prices_list(a->r->st, r, add_price, a, err,
				      sizeof(err)))
			return store_failed(a, err, 500);
	return 200;
}

static unsigned get_mode(api_call *a)
{
	store_control c;
	char err[512];

	if (store_control_get(a->r->st, &c, err, sizeof(err)))
		return store_failed(a, err, 500);
	a->out = control_json(&c);
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

static unsigned get_status(api_call *a)
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
		return store_failed(a, err, 500);
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
	ADD(a->out, "control", control_json(&c));
	return 200;
}

/* ---- writes --------------------------------------------------------------- */

/* approve, reject, cancel: the CLI's store calls (cmd_recs.c decide()). */
static unsigned rec_decide(api_call *a, store_rec_state to, int cancel)
{
	char actor[STORE_NAME_MAX + 8], err[512];
	const char *reason = NULL;
	json_object *o;
	store_rec rec;
	unsigned rc = parse_body(a, to == STORE_REC_APPROVED ? "" : "reason",
				 &o);
	int failed;

	if (!rc)
		rc = body_str(a, o, "reason", API_REASON_MAX, &reason);
	if (!rc)
		rc = rec_read(a, &rec);
	if (rc) {
		json_object_put(o);
		return rc;
	}
	actor_of(a, actor, sizeof(actor));
	failed = cancel ? store_rec_cancel(a->r->st, a->id, actor, reason,
					   a->r->now_ms, err, sizeof(err))
			: store_rec_transition(a->r->st, a->id, to, actor,
					       reason, a->r->now_ms, err,
					       sizeof(err));
	json_object_put(o);
	if (failed)
		return store_failed(a, err, 409);
	if ((rc = rec_read(a, &rec)))
		return rc;
	a->out = rec_json(&rec);
	return 200;
}

static unsigned post_approve(api_call *a)
{
	return rec_decide(a, STORE_REC_APPROVED, 0);
}

static unsigned post_reject(api_call *a)
{
	return rec_decide(a, STORE_REC_REJECTED, 0);
}

static unsigned post_cancel(api_call *a)
{
	return rec_decide(a, STORE_REC_REJECTED, 1);
}

/* "kinds": a list of action names, or absent for all three. */
static unsigned mode_kinds(api_call *a, json_object *o, unsigned *bits)
{
	json_object *v;
	store_action act;

	*bits = (1u << STORE_N_ACTS) - 1;
	if (!json_object_object_get_ex(o, "kinds", &v))
		return 0;
	if (!json_object_is_type(v, json_type_array) ||
	    json_object_array_length(v) == 0)
		return fail(a, 400,
			    "'kinds' must be a non-empty list of "
			    "resize-up, resize-down, migrate");
	*bits = 0;
	for (size_t i = 0; i < json_object_array_length(v); i++) {
		json_object *k = json_object_array_get_idx(v, i);

		if (!json_object_is_type(k, json_type_string) ||
		    store_action_parse(json_object_get_string(k), &act))
			return fail(a, 400,
				    "'kinds': '%s' is not resize-up, "
				    "resize-down or migrate",
				    json_object_get_string(k));
		*bits |= 1u << act;
	}
	return 0;
}

/* Set each kind's mode (the CLI's set_modes(): a kind already in that
 * mode is left alone); the answer lists each change and what it
 * withdrew. */
static unsigned set_modes(api_call *a, unsigned kinds, store_mode m)
{
	char actor[STORE_NAME_MAX + 8], err[512];
	json_object *changes = json_object_new_array();
	store_control c;
	uint32_t gone;

	actor_of(a, actor, sizeof(actor));
	a->out = json_object_new_object();
	ADD(a->out, "changed", changes);
	if (store_control_get(a->r->st, &c, err, sizeof(err)))
		return store_failed(a, err, 500);
	for (int i = 0; i < STORE_N_ACTS; i++) {
		json_object *ch;

		if (!(kinds & (1u << i)) || c.mode[i] == m)
			continue;
		if (store_mode_set(a->r->st, (store_action)i, m, actor,
				   a->r->now_ms, &gone, err, sizeof(err)))
			return store_failed(a, err, 409);
		ch = json_object_new_object();
		ADD(ch, "kind", STR(store_action_name((store_action)i)));
		ADD(ch, "from", STR(store_mode_name(c.mode[i])));
		ADD(ch, "to", STR(store_mode_name(m)));
		ADD(ch, "withdrawn", I64(gone));
		json_object_array_add(changes, ch);
	}
	if (store_control_get(a->r->st, &c, err, sizeof(err)))
		return store_failed(a, err, 500);
	ADD(a->out, "control", control_json(&c));
	return 200;
}

static unsigned post_mode(api_call *a)
{
	const char *mode = NULL;
	store_mode m;
	unsigned kinds, rc;
	json_object *o;

	rc = parse_body(a, "mode,kinds", &o);
	if (!rc)
		rc = body_str(a, o, "mode", 32, &mode);
	if (!rc && (!mode || store_mode_parse(mode, &m)))
		rc = fail(a, 400,
			  "'mode' must be recommend, manual or "
			  "automated");
	if (!rc)
		rc = mode_kinds(a, o, &kinds);
	json_object_put(o);
	return rc ? rc : set_modes(a, kinds, m);
}

static unsigned pause_set(api_call *a, int paused)
{
	char actor[STORE_NAME_MAX + 8], err[512];
	const char *reason = NULL;
	json_object *o;
	unsigned rc = parse_body(a, paused ? "reason" : "", &o);

	if (!rc)
		rc = body_str(a, o, "reason", API_REASON_MAX, &reason);
	if (!rc) {
		actor_of(a, actor, sizeof(actor));
		if (store_pause_set(a->r->st, paused, actor, reason,
				    a->r->now_ms, err, sizeof(err)))
			rc = store_failed(a, err, 409);
	}
	json_object_put(o);
	return rc ? rc : get_mode(a);
}

static unsigned post_pause(api_call *a)
{
	return pause_set(a, 1);
}

static unsigned post_resume(api_call *a)
{
	return pause_set(a, 0);
}

/* ---- routing ------------------------------------------------------------- */

static const struct api_route {
	const char *method;
	const char *path; /* after /api/v1/; '#' is an id (> 0) */
	int write;
	api_fn fn;
} routes[] = {
	{ "GET", "status", 0, get_status },
	{ "GET", "hosts", 0, get_hosts },
	{ "GET", "vms", 0, get_vms },
	{ "GET", "recs", 0, get_recs },
	{ "GET", "recs/#", 0, get_rec },
	{ "POST", "recs/#/approve", 1, post_approve },
	{ "POST", "recs/#/reject", 1, post_reject },
	{ "POST", "recs/#/cancel", 1, post_cancel },
	{ "GET", "events", 0, get_events },
	{ "GET", "prices", 0, get_prices },
	{ "GET", "mode", 0, get_mode },
	{ "POST", "mode", 1, post_mode },
	{ "POST", "pause", 1, post_pause },
	{ "POST", "resume", 1, post_resume },
};

#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

/* Does path match pattern? '#' takes a positive decimal id. */
static int match(const char *pat, const char *path, int64_t *id)
{
	while (*pat && *path) {
		if (*pat == '#') {
			int64_t v = 0;
			int n = 0;

			while (isdigit((unsigned char)*path) && n < 18) {
				v = v * 10 + (*path++ - '0');
				n++;
			}
			if (n == 0 || v == 0 || isdigit((unsigned char)*path))
				return 0;
			*id = v;
			pat++;
			continue;
		}
		if (*pat++ != *path++)
			return 0;
	}
	return *pat == '\0' && *path == '\0';
}

/* Who may: writes need a token of the file, and a file; reads need one
 * off loopback; a token not in the file is refused anywhere. */
static unsigned authorize(api_call *a, int write)
{
	const broker_api_req *r = a->r;

	if (write && !r->tokens)
		return fail(a, 403,
			    "writes are off: the broker runs without "
			    "--http-token-file");
	if (r->auth == BROKER_AUTH_BAD)
		return fail(a, 401,
			    "the bearer token is not one of the "
			    "broker's --http-token-file");
	if ((write || !r->open_reads) && r->auth != BROKER_AUTH_OK)
		return fail(a, 401, "%s need 'Authorization: Bearer TOKEN'",
			    write ? "writes" : "reads off loopback");
	return 0;
}

static int is_get(const char *m)
{
	return !strcmp(m, "GET") || !strcmp(m, "HEAD");
}

static void answer_json(api_call *a, unsigned status, broker_api_resp *out)
{
	json_object *root = a->out;
	const char *s;

	if (status != 200) {
		json_object_put(a->out);
		root = json_object_new_object();
		ADD(root, "error", STR(a->msg));
	}
	s = json_object_to_json_string_ext(
		root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
			      JSON_C_TO_STRING_NOSLASHESCAPE);
	out->status = status;
	out->type = json_ctype;
	out->len = s ? strlen(s) + 1 : 0;
	out->body = s ? malloc(out->len) : NULL;
	if (out->body) {
		memcpy(out->body, s, out->len - 1);
		out->body[out->len - 1] = '\n';
	} else {
		out->status = 500;
	}
	json_object_put(root);
}

static void metrics(api_call *a, broker_api_resp *out)
{
	unsigned rc = is_get(a->r->method) ? authorize(a, 0)
					   : fail(a, 405, "/metrics takes GET");
	char err[512];

	if (rc == 0 && broker__metrics_render(a->r, &out->body, &out->len, err,
					      sizeof(err)))
		rc = store_failed(a, err, 500);
	if (rc) {
		out->allow = rc == 405 ? "GET, HEAD" : NULL;
		answer_json(a, rc, out);
		return;
	}
	out->status = 200;
	out->type = "text/plain; version=0.0.4; charset=utf-8";
}

/* The route of a path and method: 0 with *route set, or 404/405. */
static unsigned route_of(api_call *a, const char *path,
			 const struct api_route **route, const char **allow)
{
	int seen_get = 0, seen_post = 0;

	for (size_t i = 0; i < N_ROUTES; i++) {
		if (!match(routes[i].path, path, &a->id))
			continue;
		if (!strcmp(routes[i].method, "GET")
			    ? is_get(a->r->method)
			    : !strcmp(routes[i].method, a->r->method)) {
			*route = &routes[i];
			return 0;
		}
		if (!strcmp(routes[i].method, "GET"))
			seen_get = 1;
		else
			seen_post = 1;
	}
	if (!seen_get && !seen_post)
		return fail(a, 404, "no route %s%s (docs/api.md)", API_PREFIX,
			    path);
	*allow = seen_get && seen_post ? "GET, HEAD, POST"
		 : seen_get            ? "GET, HEAD"
				       : "POST";
	return fail(a, 405, "%s%s takes %s", API_PREFIX, path, *allow);
}

void broker__api_handle(const broker_api_req *r, broker_api_resp *out)
{
	api_call a = { .r = r };
	const struct api_route *route = NULL;
	unsigned rc;

	memset(out, 0, sizeof(*out));
	if (!strcmp(r->path, "/metrics")) {
		metrics(&a, out);
		return;
	}
	if (strncmp(r->path, API_PREFIX, strlen(API_PREFIX)) != 0)
		rc = fail(&a, 404,
			  "no route %s: the API is under %s, the "
			  "metrics at /metrics (docs/api.md)",
			  r->path, API_PREFIX);
	else
		rc = route_of(&a, r->path + strlen(API_PREFIX), &route,
			      &out->allow);
	if (!rc)
		rc = authorize(&a, route->write);
	if (!rc && r->body_too_big)
		rc = fail(&a, 413, "the body is over %d bytes",
			  BROKER_HTTP_BODY_MAX);
	if (!rc)
		rc = route->fn(&a);
	answer_json(&a, rc, out);
}
