/*
 * fuzz_wire.c - the envelope decoder and its validation (proto/wire.c).
 *
 * The input is one frame, as the broker or an agent receives it. Checked:
 *  - wire_decode() returns a known reason, a terminated one-line message
 *    without control bytes, and an envelope exactly when it says WIRE_OK;
 *    frames of 0 or more than WIRE_MAX_FRAME bytes are refused by size;
 *  - the reason is the one an independent reading of docs/protocol.md
 *    ("Messages and their validation") gives for the same unpacked
 *    envelope (s_expect() below: written from the document, not from
 *    wire.c), so that NaN, negative or absurd quantities, minimum >
 *    maximum, unknown enums, bad names and wrong roles are refused with the
 *    documented reason, and nothing valid is refused;
 *  - a decoded envelope validates again, encodes, and its encoding decodes
 *    and re-encodes to the same bytes (the round trip is stable);
 *  - wire_validate() of the unpacked envelope with one in-memory damage (a
 *    NULL string, body or VmAward: what only an envelope built in memory
 *    can hold; picked by the last byte) agrees with the document too.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "wire.h"
#include "banned.h"

/* docs/protocol.md, section 3 */
#define D_MIB_MAX (64LL * 1024 * 1024)
#define D_NAME_MAX 128
#define D_ID_MAX 64
#define D_URI_MAX 255
#define D_TEXT_MAX 1024
#define D_PRESSURE_MAX 1e6
#define D_MIBPS_MAX 1e6
#define D_AWARD_VMS_MAX 100000

/* ---- the document's rules ---- */

static int d_mib(int64_t v)
{
	return v >= 0 && v <= D_MIB_MAX;
}

static int d_real(double v, double max)
{
	return isfinite(v) && v >= 0 && v <= max;
}

static int d_token(const char *s, size_t max)
{
	size_t n = s != NULL ? strlen(s) : 0;

	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

static int d_text(const char *s, size_t max)
{
	return s == NULL || strlen(s) <= max;
}

static int d_host(const Bourse__HostConfig *h)
{
	return h->capacity_mib >= 1 && d_mib(h->capacity_mib) &&
	       d_mib(h->reserve_mib) && h->reserve_mib < h->capacity_mib &&
	       d_text(h->uri, D_URI_MAX);
}

static int d_vm(const Bourse__VmConfig *v)
{
	if (!d_token(v->host, D_NAME_MAX) || !d_mib(v->startup_mib) ||
	    !d_mib(v->minimum_mib) || !d_mib(v->maximum_mib) ||
	    !d_mib(v->reservation_mib) || !d_mib(v->limit_mib))
		return 0;
	if (v->minimum_mib < 1 || v->minimum_mib > v->maximum_mib ||
	    v->startup_mib < v->minimum_mib || v->startup_mib > v->maximum_mib)
		return 0;
	if (v->buffer_pct > 2000 || v->weight > 10000 || v->shares < 1 ||
	    v->shares > 1000000)
		return 0;
	if (v->reservation_mib > v->maximum_mib)
		return 0;
	if (v->limit_mib > 0 && (v->limit_mib < v->minimum_mib ||
				 v->reservation_mib > v->limit_mib))
		return 0;
	return 1;
}

/* The fields of the body (the role being allowed to send it). */
static int d_fields(const Bourse__Envelope *e)
{
	switch (e->body_case) {
	case BOURSE__ENVELOPE__BODY_REGISTER:
		return e->register_->host != NULL ? d_host(e->register_->host) :
		       d_vm(e->register_->vm);
	case BOURSE__ENVELOPE__BODY_WELCOME:
		return e->welcome->heartbeat_ms >= 1 &&
		       e->welcome->liveness >= 1 &&
		       d_token(e->welcome->name, D_NAME_MAX);
	case BOURSE__ENVELOPE__BODY_DEREGISTER:
		return d_text(e->deregister->reason, D_TEXT_MAX);
	case BOURSE__ENVELOPE__BODY_HEARTBEAT:
		return 1;
	case BOURSE__ENVELOPE__BODY_BID: {
		const Bourse__Bid *b = e->bid;

		return d_mib(b->demand_mib) && d_mib(b->assigned_mib) &&
		       d_real(b->pressure, D_PRESSURE_MAX) &&
		       d_real(b->guest_swap_mibps, D_MIBPS_MAX) &&
		       d_mib(b->balloon_mib);
	}
	case BOURSE__ENVELOPE__BODY_ASK: {
		const Bourse__Ask *a = e->ask;

		return d_mib(a->capacity_mib) && d_mib(a->free_mib) &&
		       a->free_mib <= a->capacity_mib && d_mib(a->balloon_mib) &&
		       d_real(a->host_swap_mibps, D_MIBPS_MAX) &&
		       d_real(a->balloon_pressure, 1.0) &&
		       d_real(a->swap_pressure, INFINITY);
	}
	case BOURSE__ENVELOPE__BODY_AWARD: {
		const Bourse__Award *a = e->award;

		if (!d_token(a->host, D_NAME_MAX) ||
		    !d_real(a->price, INFINITY) ||
		    !d_real(a->utilization, INFINITY) ||
		    !d_mib(a->awarded_mib) || a->n_vms > D_AWARD_VMS_MAX)
			return 0;
		for (size_t i = 0; i < a->n_vms; i++) {
			const Bourse__VmAward *v = a->vms[i];

			if (v == NULL || !d_token(v->vm, D_NAME_MAX) ||
			    !d_mib(v->target_mib) || !d_mib(v->want_mib) ||
			    !d_real(v->price, INFINITY) ||
			    !d_real(v->pressure, D_PRESSURE_MAX))
				return 0;
		}
		return 1;
	}
	case BOURSE__ENVELOPE__BODY_ACTION_REQUEST: {
		const Bourse__ActionRequest *a = e->action_request;
		int migrate = a->kind == BOURSE__ACTION_KIND__ACTION_MIGRATE;

		return d_token(a->id, D_ID_MAX) &&
		       (migrate || a->kind == BOURSE__ACTION_KIND__ACTION_RESIZE) &&
		       d_token(a->vm, D_NAME_MAX) && d_mib(a->target_mib) &&
		       (!migrate || d_token(a->to_host, D_NAME_MAX)) &&
		       d_text(a->to_uri, D_URI_MAX);
	}
	case BOURSE__ENVELOPE__BODY_ACTION_RESULT: {
		const Bourse__ActionResult *a = e->action_result;

		return d_token(a->id, D_ID_MAX) && a->status >= 1 &&
		       a->status <= 4 && d_text(a->detail, D_TEXT_MAX);
	}
	case BOURSE__ENVELOPE__BODY_ERROR: {
		const Bourse__Error *x = e->error;

		return x->code >= 1 && x->code <= 7 &&
		       d_text(x->message, D_TEXT_MAX) &&
		       (x->ref_sender == NULL || x->ref_sender[0] == '\0' ||
			d_token(x->ref_sender, D_NAME_MAX));
	}
	default:
		return 0;
	}
}

/* Which roles may send the body: bit 1 host, 2 vm, 3 broker; 0 unknown. */
static unsigned d_senders(Bourse__Envelope__BodyCase body)
{
	const unsigned H = 1u << 1, V = 1u << 2, B = 1u << 3;

	switch (body) {
	case BOURSE__ENVELOPE__BODY_REGISTER: return H | V;
	case BOURSE__ENVELOPE__BODY_DEREGISTER: return H | V;
	case BOURSE__ENVELOPE__BODY_HEARTBEAT: return H | V | B;
	case BOURSE__ENVELOPE__BODY_BID: return V;
	case BOURSE__ENVELOPE__BODY_ASK: return H;
	case BOURSE__ENVELOPE__BODY_AWARD: return B;
	case BOURSE__ENVELOPE__BODY_ACTION_REQUEST: return B;
	case BOURSE__ENVELOPE__BODY_ACTION_RESULT: return H | V;
	case BOURSE__ENVELOPE__BODY_ERROR: return B;
	case BOURSE__ENVELOPE__BODY_WELCOME: return B;
	default: return 0;
	}
}

/* Does message m (or its unknown fields) carry field number 0, which is
 * not protobuf (protobuf-c 1.4.1 takes it when written as an overlong
 * varint)? */
static int d_field0(const void *msg)
{
	const ProtobufCMessage *m = msg; /* base is the first member */

	for (unsigned i = 0; m != NULL && i < m->n_unknown_fields; i++)
		if (m->unknown_fields[i].tag == 0)
			return 1;
	return 0;
}

/* Field number 0 anywhere in the envelope: malformed. */
static int d_any_field0(const Bourse__Envelope *e)
{
	const void *body = NULL;

	switch (e->body_case) {
	case BOURSE__ENVELOPE__BODY_REGISTER:
		if (e->register_ && (d_field0(e->register_->host) ||
				     d_field0(e->register_->vm)))
			return 1;
		body = e->register_;
		break;
	case BOURSE__ENVELOPE__BODY_DEREGISTER: body = e->deregister;
		break;
	case BOURSE__ENVELOPE__BODY_HEARTBEAT: body = e->heartbeat;
		break;
	case BOURSE__ENVELOPE__BODY_BID: body = e->bid; break;
	case BOURSE__ENVELOPE__BODY_ASK: body = e->ask; break;
	case BOURSE__ENVELOPE__BODY_AWARD:
		for (size_t i = 0; e->award && i < e->award->n_vms; i++)
			if (d_field0(e->award->vms[i]))
				return 1;
		body = e->award;
		break;
	case BOURSE__ENVELOPE__BODY_ACTION_REQUEST:
		body = e->action_request;
		break;
	case BOURSE__ENVELOPE__BODY_ACTION_RESULT:
		body = e->action_result;
		break;
	case BOURSE__ENVELOPE__BODY_ERROR: body = e->error; break;
	case BOURSE__ENVELOPE__BODY_WELCOME: body = e->welcome; break;
	default: break;
	}
	return d_field0(&e->base) || d_field0(body);
}

/* Where the body's pointer is (NULL if no body case is set). */
static void **d_body_slot(Bourse__Envelope *e)
{
	switch (e->body_case) {
	case BOURSE__ENVELOPE__BODY_REGISTER: return (void **)&e->register_;
	case BOURSE__ENVELOPE__BODY_DEREGISTER: return (void **)&e->deregister;
	case BOURSE__ENVELOPE__BODY_HEARTBEAT: return (void **)&e->heartbeat;
	case BOURSE__ENVELOPE__BODY_BID: return (void **)&e->bid;
	case BOURSE__ENVELOPE__BODY_ASK: return (void **)&e->ask;
	case BOURSE__ENVELOPE__BODY_AWARD: return (void **)&e->award;
	case BOURSE__ENVELOPE__BODY_ACTION_REQUEST:
		return (void **)&e->action_request;
	case BOURSE__ENVELOPE__BODY_ACTION_RESULT:
		return (void **)&e->action_result;
	case BOURSE__ENVELOPE__BODY_ERROR: return (void **)&e->error;
	case BOURSE__ENVELOPE__BODY_WELCOME: return (void **)&e->welcome;
	default: return NULL;
	}
}

static const void *d_body(const Bourse__Envelope *e)
{
	void **slot = d_body_slot((Bourse__Envelope *)e);

	return slot != NULL ? *slot : NULL;
}

/* The reason the document gives for an unpacked envelope, checks in its
 * order: version, sender, body, role, fields. */
static wire_reason s_expect(const Bourse__Envelope *e)
{
	if (d_any_field0(e))
		return WIRE_MALFORMED;
	if (e->version != WIRE_VERSION)
		return WIRE_VERSION_MISMATCH;
	if (!d_token(e->sender, D_NAME_MAX) || e->role < 1 || e->role > 3)
		return WIRE_BAD_SENDER;
	if (d_senders(e->body_case) == 0 || d_body(e) == NULL)
		return WIRE_NO_BODY;
	if (!(d_senders(e->body_case) & (1u << e->role)))
		return WIRE_BAD_ROLE;
	if (e->body_case == BOURSE__ENVELOPE__BODY_REGISTER) {
		const Bourse__Register *g = e->register_;
		int host = e->role == BOURSE__ROLE__ROLE_HOST;

		if ((g->host != NULL) == (g->vm != NULL))
			return WIRE_BAD_FIELD; /* both or neither */
		if (host != (g->host != NULL))
			return WIRE_BAD_ROLE;
	}
	return d_fields(e) ? WIRE_OK : WIRE_BAD_FIELD;
}

/* ---- the target ---- */

static void s_check_message(const char *err, size_t len, wire_reason r)
{
	FUZZ_CHECK(fuzz_terminated(err, len), "message not terminated");
	if (r == WIRE_OK) {
		FUZZ_CHECK(err[0] == '\0', "a message for WIRE_OK: %s", err);
		return;
	}
	FUZZ_CHECK(err[0] != '\0', "no message for %s", wire_reason_name(r));
	for (const char *p = err; *p; p++)
		FUZZ_CHECK((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f,
			   "byte 0x%02x in the message \"%s\"",
			   (unsigned char)*p, err);
}

/* Encode a decoded envelope, decode that, encode again: same bytes. */
static void s_round_trip(const Bourse__Envelope *e)
{
	Bourse__Envelope *e2 = NULL;
	char err[512];
	size_t len = 0, len2 = 0;
	uint8_t *buf, *buf2;
	wire_reason r;

	r = wire_validate(e, err, sizeof(err));
	FUZZ_CHECK(r == WIRE_OK, "decoded but does not validate: %s", err);
	buf = wire_encode(e, &len);
	FUZZ_CHECK(buf != NULL, "a decoded envelope does not encode");
	FUZZ_CHECK(len > 0 && len <= WIRE_MAX_FRAME, "encoded to %zu bytes",
		   len);
	r = wire_decode(buf, len, &e2, NULL, err, sizeof(err));
	FUZZ_CHECK(r == WIRE_OK && e2 != NULL,
		   "its encoding does not decode (%s): %s",
		   wire_reason_name(r), err);
	FUZZ_CHECK(e2->body_case == e->body_case && e2->seq == e->seq &&
		   e2->role == e->role && strcmp(e2->sender, e->sender) == 0,
		   "the envelope changed in the round trip");
	buf2 = wire_encode(e2, &len2);
	FUZZ_CHECK(buf2 != NULL && len2 == len && memcmp(buf, buf2, len) == 0,
		   "re-encoding is not stable (%zu then %zu bytes)", len, len2);
	free(buf2);
	free(buf);
	wire_free(e2);
}

/*
 * Envelopes built in memory (an agent's, before it sends them) can hold
 * what no frame decodes to: a NULL string, a body case whose pointer is
 * NULL, a NULL VmAward. One such damage, picked by sel, is done to the
 * unpacked envelope, wire_validate() must agree with the document, and the
 * damage is undone (the envelope is then freed as unpacked).
 */
static void s_damaged(Bourse__Envelope *e, uint8_t sel)
{
	void **slot = NULL, *saved;
	char err[512];
	wire_reason r, want;

	switch (sel % 4) {
	case 0:
		slot = (void **)&e->sender;
		break;
	case 1:
		slot = d_body_slot(e);
		break;
	case 2:
		if (e->body_case == BOURSE__ENVELOPE__BODY_REGISTER)
			slot = e->register_->vm ? (void **)&e->register_->vm->host :
			       (void **)&e->register_->host;
		else if (e->body_case == BOURSE__ENVELOPE__BODY_WELCOME)
			slot = (void **)&e->welcome->name;
		else if (e->body_case == BOURSE__ENVELOPE__BODY_AWARD)
			slot = (void **)&e->award->host;
		else if (e->body_case == BOURSE__ENVELOPE__BODY_ACTION_REQUEST)
			slot = (void **)&e->action_request->to_host;
		else if (e->body_case == BOURSE__ENVELOPE__BODY_ACTION_RESULT)
			slot = (void **)&e->action_result->id;
		else if (e->body_case == BOURSE__ENVELOPE__BODY_ERROR)
			slot = (void **)&e->error->ref_sender;
		break;
	default:
		if (e->body_case == BOURSE__ENVELOPE__BODY_AWARD &&
		    e->award->n_vms > 0)
			slot = (void **)&e->award->vms[sel / 4 %
						       e->award->n_vms];
		else if (e->body_case == BOURSE__ENVELOPE__BODY_DEREGISTER)
			slot = (void **)&e->deregister->reason;
		break;
	}
	if (slot == NULL)
		return;
	saved = *slot;
	*slot = NULL;
	r = wire_validate(e, err, sizeof(err));
	want = s_expect(e);
	*slot = saved;
	s_check_message(err, sizeof(err), r);
	FUZZ_CHECK(r == want, "damage %u: wire_validate says %s (%s), "
		   "docs/protocol.md says %s", sel % 4u, wire_reason_name(r),
		   err, wire_reason_name(want));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Bourse__Envelope *e = (Bourse__Envelope *)&e, *raw = NULL;
	char err[512];
	uint32_t peer = 12345;
	wire_reason r, want;

	r = wire_decode(data, size, &e, &peer, err, sizeof(err));
	FUZZ_CHECK((unsigned)r < WIRE_N_REASONS, "reason %d", (int)r);
	FUZZ_CHECK(strcmp(wire_reason_name(r), "unknown") != 0, "no name");
	FUZZ_CHECK((r == WIRE_OK) == (e != NULL), "%s with envelope %p",
		   wire_reason_name(r), (void *)e);
	s_check_message(err, sizeof(err), r);
	if (r == WIRE_VERSION_MISMATCH)
		FUZZ_CHECK(peer != WIRE_VERSION, "peer version %" PRIu32, peer);
	else
		FUZZ_CHECK(peer == 0, "peer version %" PRIu32 " for %s", peer,
			   wire_reason_name(r));

	/* the size bound comes before protobuf-c sees a byte */
	if (size == 0)
		want = WIRE_EMPTY;
	else if (size > WIRE_MAX_FRAME)
		want = WIRE_TOO_BIG;
	else if ((raw = bourse__envelope__unpack(NULL, size, data)) == NULL)
		want = WIRE_MALFORMED;
	else
		want = s_expect(raw);
	FUZZ_CHECK(r == want, "wire_decode says %s (%s), docs/protocol.md "
		   "says %s", wire_reason_name(r), err, wire_reason_name(want));
	if (raw != NULL && raw->version == WIRE_VERSION &&
	    !d_any_field0(raw))
		s_damaged(raw, data[size - 1]);
	if (raw != NULL)
		bourse__envelope__free_unpacked(raw, NULL);

	/* the same envelope validated in memory gives the same answer */
	if (e != NULL) {
		s_round_trip(e);
		wire_free(e);
	}
	return 0;
}
