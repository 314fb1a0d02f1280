/*
 * api.c - the HTTP JSON API under /api/v1/ (docs/api.md): the routing of
 * every request http.c hands over (/metrics to metrics.c, the reads to
 * api_read.c), who may call each route, request bodies, and the writes.
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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "api_int.h"
#include "banned.h"

#define API_PREFIX "/api/v1/"
#define API_REASON_MAX 200

static const char json_ctype[] = "application/json";

unsigned broker__api_fail(api_call *a, unsigned status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(a->msg, sizeof(a->msg), fmt, ap);
	va_end(ap);
	return status;
}

/* The store refused: its fault (locked, full, I/O) is worth trying again
 * (503); otherwise the call's own status (409 for a refused change). */
unsigned broker__api_store_failed(api_call *a, const char *err, unsigned status)
{
	if (store_last_fault(a->r->st) != STORE_FAULT_NONE)
		status = 503;
	return broker__api_fail(a, status, "%s", err);
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
		return *o ? 0 : broker__api_fail(a, 500, "out of memory");
	}
	tok = json_tokener_new();
	if (!tok)
		return broker__api_fail(a, 500, "out of memory");
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
		return broker__api_fail(a, 400, "the body is not JSON: %s",
					e == json_tokener_continue
						? "unexpected end"
						: json_tokener_error_desc(e));
	}
	if (!json_object_is_type(*o, json_type_object))
		return broker__api_fail(a, 400,
					"the body must be a JSON object");
	json_object_object_foreach(*o, key, val)
	{
		size_t n = strlen(key);
		const char *p = strstr(allowed, key);

		(void)val;
		while (p && ((p != allowed && p[-1] != ',') ||
			     (p[n] != ',' && p[n] != '\0')))
			p = strstr(p + 1, key);
		if (!p || !n)
			return broker__api_fail(a, 400,
						"unknown field '%s'%s%s", key,
						*allowed
							? "; this route takes: "
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
		return broker__api_fail(a, 400, "'%s' must be a string", key);
	s = json_object_get_string(v);
	if (!*s || strlen(s) > max)
		return broker__api_fail(a, 400,
					"'%s' must be 1 .. %zu characters", key,
					max);
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return broker__api_fail(a, 400,
						"'%s' has a control character",
						key);
	*out = s;
	return 0;
}

static void actor_of(const api_call *a, char *buf, size_t size)
{
	snprintf(buf, size, "api:%s", a->r->token_name);
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
		rc = broker__api_rec_read(a, &rec);
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
		return broker__api_store_failed(a, err, 409);
	if ((rc = broker__api_rec_read(a, &rec)))
		return rc;
	a->out = broker__api_rec_json(&rec);
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
		return broker__api_fail(a, 400,
					"'kinds' must be a non-empty list of "
					"resize-up, resize-down, migrate");
	*bits = 0;
	for (size_t i = 0; i < json_object_array_length(v); i++) {
		json_object *k = json_object_array_get_idx(v, i);

		if (!json_object_is_type(k, json_type_string) ||
		    store_action_parse(json_object_get_string(k), &act))
			return broker__api_fail(a, 400,
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
		return broker__api_store_failed(a, err, 500);
	for (int i = 0; i < STORE_N_ACTS; i++) {
		json_object *ch;

		if (!(kinds & (1u << i)) || c.mode[i] == m)
			continue;
		if (store_mode_set(a->r->st, (store_action)i, m, actor,
				   a->r->now_ms, &gone, err, sizeof(err)))
			return broker__api_store_failed(a, err, 409);
		ch = json_object_new_object();
		ADD(ch, "kind", STR(store_action_name((store_action)i)));
		ADD(ch, "from", STR(store_mode_name(c.mode[i])));
		ADD(ch, "to", STR(store_mode_name(m)));
		ADD(ch, "withdrawn", I64(gone));
		json_object_array_add(changes, ch);
	}
	if (store_control_get(a->r->st, &c, err, sizeof(err)))
		return broker__api_store_failed(a, err, 500);
	ADD(a->out, "control", broker__api_control_json(&c));
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
		rc = broker__api_fail(a, 400,
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
			rc = broker__api_store_failed(a, err, 409);
	}
	json_object_put(o);
	return rc ? rc : broker__api_get_mode(a);
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
	{ "GET", "status", 0, broker__api_get_status },
	{ "GET", "hosts", 0, broker__api_get_hosts },
	{ "GET", "vms", 0, broker__api_get_vms },
	{ "GET", "recs", 0, broker__api_get_recs },
	{ "GET", "recs/#", 0, broker__api_get_rec },
	{ "POST", "recs/#/approve", 1, post_approve },
	{ "POST", "recs/#/reject", 1, post_reject },
	{ "POST", "recs/#/cancel", 1, post_cancel },
	{ "GET", "events", 0, broker__api_get_events },
	{ "GET", "prices", 0, broker__api_get_prices },
	{ "GET", "mode", 0, broker__api_get_mode },
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
		return broker__api_fail(a, 403,
					"writes are off: the broker runs without "
					"--http-token-file");
	if (r->auth == BROKER_AUTH_BAD)
		return broker__api_fail(a, 401,
					"the bearer token is not one of the "
					"broker's --http-token-file");
	if ((write || !r->open_reads) && r->auth != BROKER_AUTH_OK)
		return broker__api_fail(a, 401,
					"%s need 'Authorization: Bearer TOKEN'",
					write ? "writes"
					      : "reads off loopback");
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
	unsigned rc = is_get(a->r->method)
			      ? authorize(a, 0)
			      : broker__api_fail(a, 405, "/metrics takes GET");
	char err[512];

	if (rc == 0 && broker__metrics_render(a->r, &out->body, &out->len, err,
					      sizeof(err)))
		rc = broker__api_store_failed(a, err, 500);
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
		return broker__api_fail(a, 404, "no route %s%s (docs/api.md)",
					API_PREFIX, path);
	*allow = seen_get && seen_post ? "GET, HEAD, POST"
		 : seen_get            ? "GET, HEAD"
				       : "POST";
	return broker__api_fail(a, 405, "%s%s takes %s", API_PREFIX, path,
				*allow);
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
		rc = broker__api_fail(&a, 404,
				      "no route %s: the API is under %s, the "
				      "metrics at /metrics (docs/api.md)",
				      r->path, API_PREFIX);
	else
		rc = route_of(&a, r->path + strlen(API_PREFIX), &route,
			      &out->allow);
	if (!rc)
		rc = authorize(&a, route->write);
	if (!rc && r->body_too_big)
		rc = broker__api_fail(&a, 413, "the body is over %d bytes",
				      BROKER_HTTP_BODY_MAX);
	if (!rc)
		rc = route->fn(&a);
	answer_json(&a, rc, out);
}
