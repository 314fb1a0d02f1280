/*
 * wire.c - validation of bourse's messages and the decoding flow (see
 * wire.h and docs/protocol.md, "Validation"). Plain C only: the protobuf
 * side (unpacking, packing) is codec.c's.
 *
 * Layout of this file:
 *   checker     the first failure of a validation, with its message
 *   fields      checks of one field: quantities, rates, names, text, order
 *   bodies      one check per message type
 *   envelope    sender, role, the role/body permission table
 *   public      decode, validate, init, names
 *
 * Validation stops at the first failure: every helper records a failure only
 * if none was recorded before, so a body's checks read as a flat list. The
 * message names the field by its path in the envelope
 * ("register.vm.minimum_mib: 4096 is more than maximum_mib (2048)").
 */
#include "wire.h"
#include "wire_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "banned.h"

/* Guest-reported pressure is a percentage (demand / assigned * 100); a guest
 * that claims more than this is broken or lying. */
#define S_PRESSURE_MAX 1e6

/* Most VMs one Award may carry. */
#define S_AWARD_VMS_MAX 100000u


/* ------------------------------------------------------------------ */
/* checker                                                            */
/* ------------------------------------------------------------------ */

#define S_NO_IX SIZE_MAX

/* One validation in progress: the first failure and where checks are. */
typedef struct s_chk {
	char *err;      /* caller's buffer, may be NULL */
	size_t errlen;
	wire_reason r;  /* first failure, WIRE_OK so far */
	const char *at; /* path of the message being checked ("bid") */
	size_t at_ix;   /* with this index ("award.vms[3]"), or S_NO_IX */
} s_chk;

static void s_fail(s_chk *c, wire_reason r, const char *field,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Records failure r at "<at>.<field>: <message>", unless one is recorded. */
static void s_fail(s_chk *c, wire_reason r, const char *field,
		   const char *fmt, ...)
{
	va_list ap;
	int n;

	if (c->r != WIRE_OK)
		return;
	c->r = r;
	if (c->err == NULL || c->errlen == 0)
		return;
	if (c->at_ix == S_NO_IX)
		n = snprintf(c->err, c->errlen, "%s", c->at);
	else
		n = snprintf(c->err, c->errlen, "%s[%zu]", c->at, c->at_ix);
	if (n >= 0 && (size_t)n < c->errlen)
		n += snprintf(c->err + n, c->errlen - (size_t)n, "%s%s: ",
			      c->at[0] != '\0' && field[0] != '\0' ? "." : "",
			      field);
	if (n < 0 || (size_t)n >= c->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

/* Sets the path that failures are reported under (a string literal: it is
 * only formatted when a check fails, not for every message). */
static void s_at(s_chk *c, const char *path)
{
	c->at = path;
	c->at_ix = S_NO_IX;
}

/* The same for element ix of a repeated field ("award.vms", 3). */
static void s_at_ix(s_chk *c, const char *path, size_t ix)
{
	c->at = path;
	c->at_ix = ix;
}

/* ------------------------------------------------------------------ */
/* fields                                                             */
/* ------------------------------------------------------------------ */

/* A quantity of memory: 0..WIRE_MAX_MIB. */
static void s_mib(s_chk *c, const char *field, int64_t v)
{
	if (v < 0)
		s_fail(c, WIRE_BAD_FIELD, field, "%" PRId64 " is negative", v);
	else if (v > WIRE_MAX_MIB)
		s_fail(c, WIRE_BAD_FIELD, field,
		       "%" PRId64 " is more than %lld MiB", v, WIRE_MAX_MIB);
}

/* A finite real in 0..max (max may be INFINITY: no upper bound). */
static void s_real(s_chk *c, const char *field, double v, double max)
{
	if (!isfinite(v))
		s_fail(c, WIRE_BAD_FIELD, field, "%g is not finite", v);
	else if (v < 0)
		s_fail(c, WIRE_BAD_FIELD, field, "%g is negative", v);
	else if (v > max)
		s_fail(c, WIRE_BAD_FIELD, field, "%g is more than %g", v, max);
}

/* An unsigned integer in lo..hi. */
static void s_range(s_chk *c, const char *field, uint32_t v, uint32_t lo,
		    uint32_t hi)
{
	if (v < lo || v > hi)
		s_fail(c, WIRE_BAD_FIELD, field,
		       "%" PRIu32 " is not in %" PRIu32 "..%" PRIu32, v, lo,
		       hi);
}

/* a <= b, for two fields of the same message. */
static void s_le(s_chk *c, const char *fa, int64_t a, const char *fb,
		 int64_t b)
{
	if (a > b)
		s_fail(c, WIRE_BAD_FIELD, fa,
		       "%" PRId64 " is more than %s (%" PRId64 ")", a, fb, b);
}

/* Free text: any bytes, at most max of them. NULL reads as empty. */
static void s_text(s_chk *c, const char *field, const char *s, size_t max)
{
	if (s != NULL && strnlen(s, max + 1) > max)
		s_fail(c, WIRE_BAD_FIELD, field, "longer than %zu bytes", max);
}

/* A URI: free text of at most max bytes without control bytes (C0 or DEL:
 * a URI is printed in tables and logs, and an ESC or a newline in it would
 * drive the terminal or forge a line; RFC 3986 has no use for them). */
static void s_uri(s_chk *c, const char *field, const char *s, size_t max)
{
	size_t n = s != NULL ? strnlen(s, max + 1) : 0;

	s_text(c, field, s, max);
	for (size_t i = 0; i < n && i <= max; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch < 0x20 || ch == 0x7f) {
			s_fail(c, WIRE_BAD_FIELD, field, "byte 0x%02x at "
			       "offset %zu (no control bytes in a URI)", ch,
			       i);
			break;
		}
	}
}

/*
 * Where a token (a name or an id: 1..max bytes of 0x21..0x7e) goes wrong:
 * returns 0 if it is fine, else 1 for empty, 2 for too long, 3 for a bad
 * byte at *at.
 */
static int s_token_bad(const char *s, size_t max, size_t *at)
{
	size_t n = s != NULL ? strnlen(s, max + 1) : 0;

	*at = 0;
	if (n == 0)
		return 1;
	if (n > max)
		return 2;
	for (; *at < n; (*at)++) {
		unsigned char ch = (unsigned char)s[*at];

		if (ch < 0x21 || ch > 0x7e)
			return 3;
	}
	return 0;
}

/* A token, failing with reason r. The message quotes only the printable
 * prefix of a bad token, so that err never carries control bytes. */
static void s_token(s_chk *c, wire_reason r, const char *field,
		    const char *s, size_t max)
{
	size_t at;

	switch (s_token_bad(s, max, &at)) {
	case 1:
		s_fail(c, r, field, "\"\" is empty");
		break;
	case 2:
		s_fail(c, r, field, "longer than %zu bytes", max);
		break;
	case 3:
		s_fail(c, r, field,
		       "\"%.*s\" is followed by byte 0x%02x (only printable "
		       "ASCII without spaces is allowed)",
		       (int)(at < 32 ? at : 32), s, (unsigned char)s[at]);
		break;
	}
}

static void s_name(s_chk *c, const char *field, const char *s)
{
	s_token(c, WIRE_BAD_FIELD, field, s, WIRE_MAX_NAME);
}

/* ------------------------------------------------------------------ */
/* bodies                                                             */
/* ------------------------------------------------------------------ */

static void s_check_host_config(s_chk *c, const wire_host_config *h)
{
	s_at(c, "register.host");
	s_mib(c, "capacity_mib", h->capacity_mib);
	if (h->capacity_mib == 0)
		s_fail(c, WIRE_BAD_FIELD, "capacity_mib", "0 is not positive");
	s_mib(c, "reserve_mib", h->reserve_mib);
	if (h->reserve_mib >= h->capacity_mib)
		s_fail(c, WIRE_BAD_FIELD, "reserve_mib", "%" PRId64
		       " is not less than capacity_mib (%" PRId64 ")",
		       h->reserve_mib, h->capacity_mib);
	s_uri(c, "uri", h->uri, WIRE_MAX_URI);
}

static void s_check_vm_config(s_chk *c, const wire_vm_config *v)
{
	s_at(c, "register.vm");
	s_name(c, "host", v->host);
	s_mib(c, "startup_mib", v->startup_mib);
	s_mib(c, "minimum_mib", v->minimum_mib);
	s_mib(c, "maximum_mib", v->maximum_mib);
	s_mib(c, "reservation_mib", v->reservation_mib);
	s_mib(c, "limit_mib", v->limit_mib);
	if (v->minimum_mib < 1)
		s_fail(c, WIRE_BAD_FIELD, "minimum_mib", "0 is less than 1");
	s_le(c, "minimum_mib", v->minimum_mib, "maximum_mib", v->maximum_mib);
	s_le(c, "minimum_mib", v->minimum_mib, "startup_mib", v->startup_mib);
	s_le(c, "startup_mib", v->startup_mib, "maximum_mib", v->maximum_mib);
	s_range(c, "buffer_pct", v->buffer_pct, 0, WIRE_MAX_BUFFER_PCT);
	s_range(c, "weight", v->weight, 0, WIRE_MAX_WEIGHT);
	s_range(c, "shares", v->shares, 1, WIRE_MAX_SHARES);
	s_le(c, "reservation_mib", v->reservation_mib, "maximum_mib",
	     v->maximum_mib);
	if (v->limit_mib > 0) {
		s_le(c, "minimum_mib", v->minimum_mib, "limit_mib",
		     v->limit_mib);
		s_le(c, "reservation_mib", v->reservation_mib, "limit_mib",
		     v->limit_mib);
	}
}

/* Exactly one of host and vm, and the one that matches the role. */
static void s_check_register(s_chk *c, const wire_msg *e)
{
	const wire_register *g = &e->reg;
	int host = e->role == WIRE_ROLE_HOST;

	s_at(c, "register");
	if (g->has_host && g->has_vm)
		s_fail(c, WIRE_BAD_FIELD, "", "both host and vm are set");
	else if (!g->has_host && !g->has_vm)
		s_fail(c, WIRE_BAD_FIELD, "", "neither host nor vm is set");
	else if (host && g->has_vm)
		s_fail(c, WIRE_BAD_ROLE, "vm", "a host may not register a vm");
	else if (!host && g->has_host)
		s_fail(c, WIRE_BAD_ROLE, "host",
		       "a vm may not register a host");
	else if (host)
		s_check_host_config(c, &g->host);
	else
		s_check_vm_config(c, &g->vm);
}

static void s_check_welcome(s_chk *c, const wire_msg *e)
{
	const wire_welcome *w = &e->welcome;

	s_at(c, "welcome");
	s_range(c, "heartbeat_ms", w->heartbeat_ms, 1, UINT32_MAX);
	s_range(c, "liveness", w->liveness, 1, UINT32_MAX);
	s_name(c, "name", w->name);
}

static void s_check_deregister(s_chk *c, const wire_msg *e)
{
	s_at(c, "deregister");
	s_text(c, "reason", e->deregister.reason, WIRE_MAX_TEXT);
}

static void s_check_heartbeat(s_chk *c, const wire_msg *e)
{
	(void)c;
	(void)e;
}

static void s_check_bid(s_chk *c, const wire_msg *e)
{
	const wire_bid *b = &e->bid;

	s_at(c, "bid");
	s_mib(c, "demand_mib", b->demand_mib);
	s_mib(c, "assigned_mib", b->assigned_mib);
	s_real(c, "pressure", b->pressure, S_PRESSURE_MAX);
	s_real(c, "guest_swap_mibps", b->guest_swap_mibps, WIRE_MAX_MIBPS);
	s_mib(c, "balloon_mib", b->balloon_mib);
}

static void s_check_ask(s_chk *c, const wire_msg *e)
{
	const wire_ask *a = &e->ask;

	s_at(c, "ask");
	s_mib(c, "capacity_mib", a->capacity_mib);
	s_mib(c, "free_mib", a->free_mib);
	s_le(c, "free_mib", a->free_mib, "capacity_mib", a->capacity_mib);
	s_mib(c, "balloon_mib", a->balloon_mib);
	s_real(c, "host_swap_mibps", a->host_swap_mibps, WIRE_MAX_MIBPS);
}

static void s_check_vm_award(s_chk *c, size_t i, const wire_vm_award *v)
{
	s_at_ix(c, "award.vms", i);
	s_name(c, "vm", v->vm);
	s_mib(c, "target_mib", v->target_mib);
	s_mib(c, "want_mib", v->want_mib);
	s_real(c, "price", v->price, INFINITY);
	s_real(c, "pressure", v->pressure, S_PRESSURE_MAX);
}

static void s_check_award(s_chk *c, const wire_msg *e)
{
	const wire_award *a = &e->award;

	s_at(c, "award");
	s_name(c, "host", a->host);
	s_real(c, "price", a->price, INFINITY);
	s_real(c, "utilization", a->utilization, INFINITY);
	s_mib(c, "awarded_mib", a->awarded_mib);
	if (a->n_vms > S_AWARD_VMS_MAX)
		s_fail(c, WIRE_BAD_FIELD, "vms", "%zu VMs, more than %u",
		       a->n_vms, S_AWARD_VMS_MAX);
	else if (a->n_vms > 0 && a->vms == NULL)
		s_fail(c, WIRE_BAD_FIELD, "vms", "%zu VMs, but no array",
		       a->n_vms);
	for (size_t i = 0; i < a->n_vms && c->r == WIRE_OK; i++)
		s_check_vm_award(c, i, &a->vms[i]);
}

static void s_check_action_request(s_chk *c, const wire_msg *e)
{
	const wire_action_request *a = &e->action_request;

	s_at(c, "action_request");
	s_token(c, WIRE_BAD_FIELD, "id", a->id, WIRE_MAX_ID);
	if (a->kind != WIRE_ACTION_RESIZE &&
	    a->kind != WIRE_ACTION_MIGRATE)
		s_fail(c, WIRE_BAD_FIELD, "kind",
		       "%d is not resize (1) or migrate (2)", (int)a->kind);
	s_name(c, "vm", a->vm);
	s_mib(c, "target_mib", a->target_mib);
	if (a->kind == WIRE_ACTION_MIGRATE)
		s_name(c, "to_host", a->to_host);
	s_uri(c, "to_uri", a->to_uri, WIRE_MAX_URI);
}

static void s_check_action_result(s_chk *c, const wire_msg *e)
{
	const wire_action_result *a = &e->action_result;

	s_at(c, "action_result");
	s_token(c, WIRE_BAD_FIELD, "id", a->id, WIRE_MAX_ID);
	if (a->status < WIRE_STATUS_OK ||
	    a->status > WIRE_STATUS_UNSUPPORTED)
		s_fail(c, WIRE_BAD_FIELD, "status",
		       "%d is not a known status (1..4)", (int)a->status);
	s_text(c, "detail", a->detail, WIRE_MAX_TEXT);
}

static void s_check_error(s_chk *c, const wire_msg *e)
{
	const wire_error *x = &e->error;

	s_at(c, "error");
	if (x->code < WIRE_ERR_VERSION ||
	    x->code > WIRE_ERR_CONFLICT)
		s_fail(c, WIRE_BAD_FIELD, "code",
		       "%d is not a known error code (1..7)", (int)x->code);
	s_text(c, "message", x->message, WIRE_MAX_TEXT);
	if (x->ref_sender != NULL && x->ref_sender[0] != '\0')
		s_name(c, "ref_sender", x->ref_sender);
}

/* ------------------------------------------------------------------ */
/* envelope                                                           */
/* ------------------------------------------------------------------ */

#define S_HOST (1u << WIRE_ROLE_HOST)
#define S_VM (1u << WIRE_ROLE_VM)
#define S_BROKER (1u << WIRE_ROLE_BROKER)

/* Who may send what, and how its fields are checked. */
static const struct s_body {
	wire_body body;
	const char *name;
	unsigned roles; /* S_HOST | S_VM | S_BROKER */
	void (*check)(s_chk *c, const wire_msg *e);
} s_bodies[] = {
	{ WIRE_BODY_REGISTER, "register", S_HOST | S_VM,
	  s_check_register },
	{ WIRE_BODY_DEREGISTER, "deregister", S_HOST | S_VM,
	  s_check_deregister },
	{ WIRE_BODY_HEARTBEAT, "heartbeat",
	  S_HOST | S_VM | S_BROKER, s_check_heartbeat },
	{ WIRE_BODY_BID, "bid", S_VM, s_check_bid },
	{ WIRE_BODY_ASK, "ask", S_HOST, s_check_ask },
	{ WIRE_BODY_AWARD, "award", S_BROKER, s_check_award },
	{ WIRE_BODY_ACTION_REQUEST, "action_request", S_BROKER,
	  s_check_action_request },
	{ WIRE_BODY_ACTION_RESULT, "action_result",
	  S_HOST | S_VM, s_check_action_result },
	{ WIRE_BODY_ERROR, "error", S_BROKER, s_check_error },
	{ WIRE_BODY_WELCOME, "welcome", S_BROKER,
	  s_check_welcome },
};

static const struct s_body *s_body_find(wire_body body)
{
	for (size_t i = 0; i < sizeof s_bodies / sizeof s_bodies[0]; i++)
		if (s_bodies[i].body == body)
			return &s_bodies[i];
	return NULL;
}

static const char *s_role_name(wire_role role)
{
	switch (role) {
	case WIRE_ROLE_HOST: return "host";
	case WIRE_ROLE_VM: return "vm";
	case WIRE_ROLE_BROKER: return "broker";
	default: return NULL;
	}
}

static void s_check_sender(s_chk *c, const wire_msg *e)
{
	s_token(c, WIRE_BAD_SENDER, "sender", e->sender, WIRE_MAX_NAME);
	if (s_role_name(e->role) == NULL)
		s_fail(c, WIRE_BAD_SENDER, "role", "%d is not host (1), vm (2) "
		       "or broker (3)", (int)e->role);
}

/* The body is set, known, allowed for the role, and its fields check. */
static void s_check_body(s_chk *c, const wire_msg *e)
{
	const struct s_body *b = s_body_find(e->body);

	if (e->body == WIRE_BODY_NONE)
		s_fail(c, WIRE_NO_BODY, "", "no body");
	else if (b == NULL)
		s_fail(c, WIRE_NO_BODY, "", "unknown body case %d",
		       (int)e->body);
	else if (!(b->roles & (1u << e->role)))
		s_fail(c, WIRE_BAD_ROLE, "", "a %s may not send %s",
		       s_role_name(e->role), b->name);
	else
		b->check(c, e);
}

/* ------------------------------------------------------------------ */
/* public                                                             */
/* ------------------------------------------------------------------ */

void wire_msg_init(wire_msg *m, wire_role role, const char *sender,
		   uint64_t seq, wire_body body)
{
	memset(m, 0, sizeof(*m));
	m->version = WIRE_VERSION;
	m->role = role;
	m->sender = sender;
	m->seq = seq;
	m->body = body;
}

wire_reason wire_msg_validate(const wire_msg *m, char *err, size_t errlen)
{
	s_chk c = { err, errlen, WIRE_OK, "envelope", S_NO_IX };

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	s_check_sender(&c, m);
	if (c.r == WIRE_OK)
		s_check_body(&c, m);
	return c.r;
}

wire_reason wire_msg_unpack(const void *buf, size_t len, wire_msg *out,
			    char *err, size_t errlen)
{
	s_chk c = { err, errlen, WIRE_OK, "frame", S_NO_IX };

	memset(out, 0, sizeof(*out));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	/* Bound the size before protobuf-c sees a byte (wire.h). */
	if (len == 0 || buf == NULL)
		s_fail(&c, WIRE_EMPTY, "", "empty");
	else if (len > WIRE_MAX_FRAME)
		s_fail(&c, WIRE_TOO_BIG, "", "%zu bytes, more than %u", len,
		       WIRE_MAX_FRAME);
	if (c.r != WIRE_OK)
		return c.r;
	switch (wire__unpack(buf, len, out)) {
	case WIRE__UNPACKED:
		break;
	case WIRE__FIELD_ZERO:
		s_fail(&c, WIRE_MALFORMED, "", "%zu bytes with a field "
		       "numbered 0", len);
		break;
	case WIRE__NUL_IN_STRING:
		s_fail(&c, WIRE_MALFORMED, "", "%zu bytes with a NUL byte "
		       "inside a string", len);
		break;
	case WIRE__NO_MEMORY:
		s_fail(&c, WIRE_MALFORMED, "", "%zu bytes: out of memory "
		       "while decoding", len);
		break;
	default:
		s_fail(&c, WIRE_MALFORMED, "", "%zu bytes that do not decode "
		       "as an envelope", len);
		break;
	}
	return c.r;
}

wire_reason wire_msg_decode(const void *buf, size_t len, wire_msg *out,
			    uint32_t *peer_version, char *err, size_t errlen)
{
	s_chk c = { err, errlen, WIRE_OK, "envelope", S_NO_IX };

	if (peer_version != NULL)
		*peer_version = 0;
	c.r = wire_msg_unpack(buf, len, out, err, errlen);
	if (c.r != WIRE_OK)
		return c.r;
	if (out->version != WIRE_VERSION) {
		if (peer_version != NULL)
			*peer_version = out->version;
		s_fail(&c, WIRE_VERSION_MISMATCH, "version",
		       "%" PRIu32 ", this build speaks %u", out->version,
		       WIRE_VERSION);
	} else {
		c.r = wire_msg_validate(out, err, errlen);
	}
	if (c.r != WIRE_OK)
		wire_msg_release(out);
	return c.r;
}

void wire_msg_release(wire_msg *m)
{
	if (m == NULL)
		return;
	if (m->owned_ != NULL)
		wire__free_owned(m);
	memset(m, 0, sizeof(*m));
}

uint8_t *wire_msg_encode(const wire_msg *m, size_t *len)
{
	return wire__pack(m, len);
}

int wire_name_ok(const char *name)
{
	size_t at;

	return s_token_bad(name, WIRE_MAX_NAME, &at) == 0;
}

const char *wire_reason_name(wire_reason r)
{
	static const char *const names[WIRE_N_REASONS] = {
		[WIRE_OK] = "ok",
		[WIRE_TOO_BIG] = "too_big",
		[WIRE_EMPTY] = "empty",
		[WIRE_MALFORMED] = "malformed",
		[WIRE_VERSION_MISMATCH] = "version",
		[WIRE_NO_BODY] = "no_body",
		[WIRE_BAD_SENDER] = "bad_sender",
		[WIRE_BAD_ROLE] = "bad_role",
		[WIRE_BAD_FIELD] = "bad_field",
	};

	if ((unsigned)r >= WIRE_N_REASONS)
		return "unknown";
	return names[r];
}

wire_error_code wire_reason_error_code(wire_reason r)
{
	switch (r) {
	case WIRE_TOO_BIG:
	case WIRE_EMPTY:
	case WIRE_MALFORMED:
		return WIRE_ERR_MALFORMED;
	case WIRE_VERSION_MISMATCH:
		return WIRE_ERR_VERSION;
	default:
		return WIRE_ERR_INVALID;
	}
}

const char *wire_error_code_name(wire_error_code code)
{
	static const char *const names[] = {
		[WIRE_ERR_NONE] = "ERROR_UNSPECIFIED",
		[WIRE_ERR_VERSION] = "ERROR_VERSION",
		[WIRE_ERR_MALFORMED] = "ERROR_MALFORMED",
		[WIRE_ERR_INVALID] = "ERROR_INVALID",
		[WIRE_ERR_UNKNOWN_SENDER] = "ERROR_UNKNOWN_SENDER",
		[WIRE_ERR_WRONG_HOST] = "ERROR_WRONG_HOST",
		[WIRE_ERR_SEQUENCE] = "ERROR_SEQUENCE",
		[WIRE_ERR_CONFLICT] = "ERROR_CONFLICT",
	};

	if ((unsigned)code < sizeof names / sizeof names[0])
		return names[code];
	return "?";
}
