/*
 * fuzz_wire.c - the message decoder and its validation (proto/wire.c,
 * proto/codec.c), through wire.h's plain messages only.
 *
 * The input is one frame, as the broker or an agent receives it. Checked:
 *  - wire_msg_decode() returns a known reason, a terminated one-line
 *    message without control bytes, and a message exactly when it says
 *    WIRE_OK (every string of it set, "" when absent); otherwise the
 *    message holds nothing (all zero). Frames of 0 or more than
 *    WIRE_MAX_FRAME bytes are refused by size;
 *  - wire_msg_unpack() (parse only) refuses a frame only as empty,
 *    too_big or malformed, and then wire_msg_decode() refuses it the same
 *    way. What it unpacks is judged by an independent reading of
 *    docs/protocol.md ("Messages and their validation"; s_expect() below:
 *    written from the document, not from wire.c), and wire_msg_decode()
 *    must give that reason: NaN, negative or absurd quantities, minimum >
 *    maximum, unknown enums, bad names and wrong roles are refused with the
 *    documented reason, and nothing valid is refused;
 *  - a decoded message is the unpacked one (they encode to the same bytes),
 *    validates again, encodes, and its encoding decodes and re-encodes to
 *    the same bytes (the round trip is stable);
 *  - wire_msg_validate() of the unpacked message with one in-memory damage
 *    (what only a message built in memory can hold: a NULL string, a body
 *    kind that names no body, a Register with both or neither config or
 *    the wrong one, an Award's count without its VMs; picked by the last
 *    byte) agrees with the document too.
 *
 * Field number 0 (step 2 of the document): the plain message does not
 * carry unknown fields, so whether a frame holds one is wire_msg_unpack()'s
 * to say; a frame that decodes but re-encodes unreadably (how the fuzzer
 * found protobuf-c 1.4.1 taking it) breaks the round trip, and
 * tests/test_wire.c checks it on bytes.
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

/* A name or an id; NULL (a message built in memory) reads as empty. */
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

/* A URI: text without control bytes (C0, DEL). */
static int d_uri(const char *s)
{
	if (!d_text(s, D_URI_MAX))
		return 0;
	for (size_t i = 0; s != NULL && s[i] != '\0'; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
			return 0;
	return 1;
}

static int d_host(const wire_host_config *h)
{
	return h->capacity_mib >= 1 && d_mib(h->capacity_mib) &&
	       d_mib(h->reserve_mib) && h->reserve_mib < h->capacity_mib &&
	       d_uri(h->uri);
}

static int d_vm(const wire_vm_config *v)
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

static int d_award(const wire_award *a)
{
	if (!d_token(a->host, D_NAME_MAX) || !d_real(a->price, INFINITY) ||
	    !d_real(a->utilization, INFINITY) || !d_mib(a->awarded_mib) ||
	    a->n_vms > D_AWARD_VMS_MAX)
		return 0;
	if (a->n_vms > 0 && a->vms == NULL)
		return 0; /* in memory: a count without its VMs */
	for (size_t i = 0; i < a->n_vms; i++) {
		const wire_vm_award *v = &a->vms[i];

		if (!d_token(v->vm, D_NAME_MAX) || !d_mib(v->target_mib) ||
		    !d_mib(v->want_mib) || !d_real(v->price, INFINITY) ||
		    !d_real(v->pressure, D_PRESSURE_MAX))
			return 0;
	}
	return 1;
}

/* The fields of the body (the role being allowed to send it). */
static int d_fields(const wire_msg *e)
{
	switch (e->body) {
	case WIRE_BODY_REGISTER:
		return e->reg.has_host ? d_host(&e->reg.host) :
		       d_vm(&e->reg.vm);
	case WIRE_BODY_WELCOME:
		return e->welcome.heartbeat_ms >= 1 &&
		       e->welcome.liveness >= 1 &&
		       d_token(e->welcome.name, D_NAME_MAX);
	case WIRE_BODY_DEREGISTER:
		return d_text(e->deregister.reason, D_TEXT_MAX);
	case WIRE_BODY_HEARTBEAT:
		return 1;
	case WIRE_BODY_BID: {
		const wire_bid *b = &e->bid;

		return d_mib(b->demand_mib) && d_mib(b->assigned_mib) &&
		       d_real(b->pressure, D_PRESSURE_MAX) &&
		       d_real(b->guest_swap_mibps, D_MIBPS_MAX) &&
		       d_mib(b->balloon_mib);
	}
	case WIRE_BODY_ASK: {
		const wire_ask *a = &e->ask;

		return d_mib(a->capacity_mib) && d_mib(a->free_mib) &&
		       a->free_mib <= a->capacity_mib && d_mib(a->balloon_mib) &&
		       d_real(a->host_swap_mibps, D_MIBPS_MAX);
	}
	case WIRE_BODY_AWARD:
		return d_award(&e->award);
	case WIRE_BODY_ACTION_REQUEST: {
		const wire_action_request *a = &e->action_request;
		int migrate = a->kind == WIRE_ACTION_MIGRATE;

		return d_token(a->id, D_ID_MAX) &&
		       (migrate || a->kind == WIRE_ACTION_RESIZE) &&
		       d_token(a->vm, D_NAME_MAX) && d_mib(a->target_mib) &&
		       (!migrate || d_token(a->to_host, D_NAME_MAX)) &&
		       d_uri(a->to_uri);
	}
	case WIRE_BODY_ACTION_RESULT: {
		const wire_action_result *a = &e->action_result;

		return d_token(a->id, D_ID_MAX) && a->status >= 1 &&
		       a->status <= 4 && d_text(a->detail, D_TEXT_MAX);
	}
	case WIRE_BODY_ERROR: {
		const wire_error *x = &e->error;

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
static unsigned d_senders(wire_body body)
{
	const unsigned H = 1u << 1, V = 1u << 2, B = 1u << 3;

	switch (body) {
	case WIRE_BODY_REGISTER: return H | V;
	case WIRE_BODY_DEREGISTER: return H | V;
	case WIRE_BODY_HEARTBEAT: return H | V | B;
	case WIRE_BODY_BID: return V;
	case WIRE_BODY_ASK: return H;
	case WIRE_BODY_AWARD: return B;
	case WIRE_BODY_ACTION_REQUEST: return B;
	case WIRE_BODY_ACTION_RESULT: return H | V;
	case WIRE_BODY_ERROR: return B;
	case WIRE_BODY_WELCOME: return B;
	default: return 0;
	}
}

/* The reason the document gives for an unpacked message, checks in its
 * order: version, sender, body, role, fields. */
static wire_reason s_expect(const wire_msg *e)
{
	if (e->version != WIRE_VERSION)
		return WIRE_VERSION_MISMATCH;
	if (!d_token(e->sender, D_NAME_MAX) || e->role < 1 || e->role > 3)
		return WIRE_BAD_SENDER;
	if (d_senders(e->body) == 0)
		return WIRE_NO_BODY;
	if (!(d_senders(e->body) & (1u << e->role)))
		return WIRE_BAD_ROLE;
	if (e->body == WIRE_BODY_REGISTER) {
		int has_host = e->reg.has_host != 0;
		int has_vm = e->reg.has_vm != 0;

		if (has_host == has_vm)
			return WIRE_BAD_FIELD; /* both or neither */
		if ((e->role == WIRE_ROLE_HOST) != has_host)
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

/* A refused frame leaves the message holding nothing. */
static void s_check_nothing(const wire_msg *m, const char *who)
{
	static const wire_msg zero;

	FUZZ_CHECK(memcmp(m, &zero, sizeof(*m)) == 0,
		   "%s refused a frame but left a message (body %d)", who,
		   (int)m->body);
}

/* A message from the wire owns its strings: none is NULL (wire.h). */
static void s_check_owned(const wire_msg *m)
{
	const char *s[6] = { m->sender, "", "", "", "", "" };

	switch (m->body) {
	case WIRE_BODY_REGISTER:
		if (m->reg.has_host)
			s[1] = m->reg.host.uri;
		if (m->reg.has_vm)
			s[2] = m->reg.vm.host;
		break;
	case WIRE_BODY_WELCOME: s[1] = m->welcome.name; break;
	case WIRE_BODY_DEREGISTER: s[1] = m->deregister.reason; break;
	case WIRE_BODY_AWARD:
		s[1] = m->award.host;
		FUZZ_CHECK(m->award.n_vms == 0 || m->award.vms != NULL,
			   "%zu VMs without an array", m->award.n_vms);
		for (size_t i = 0; i < m->award.n_vms; i++)
			FUZZ_CHECK(m->award.vms[i].vm != NULL,
				   "award.vms[%zu].vm is NULL", i);
		break;
	case WIRE_BODY_ACTION_REQUEST:
		s[1] = m->action_request.id;
		s[2] = m->action_request.vm;
		s[3] = m->action_request.to_host;
		s[4] = m->action_request.to_uri;
		break;
	case WIRE_BODY_ACTION_RESULT:
		s[1] = m->action_result.id;
		s[2] = m->action_result.detail;
		break;
	case WIRE_BODY_ERROR:
		s[1] = m->error.message;
		s[2] = m->error.ref_sender;
		break;
	default:
		break;
	}
	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		FUZZ_CHECK(s[i] != NULL, "string %zu of body %d is NULL", i,
			   (int)m->body);
}

/* Encode (must succeed); the caller frees. */
static uint8_t *s_encode(const wire_msg *m, size_t *len, const char *what)
{
	uint8_t *buf = wire_msg_encode(m, len);

	FUZZ_CHECK(buf != NULL, "%s does not encode", what);
	FUZZ_CHECK(*len > 0 && *len <= WIRE_MAX_FRAME, "%s encoded to %zu "
		   "bytes", what, *len);
	return buf;
}

/* The decoded message is the unpacked one. */
static void s_same(const wire_msg *m, const wire_msg *raw)
{
	size_t len = 0, rlen = 0;
	uint8_t *buf = s_encode(m, &len, "a decoded message");
	uint8_t *rbuf = s_encode(raw, &rlen, "an unpacked message");

	FUZZ_CHECK(len == rlen && memcmp(buf, rbuf, len) == 0,
		   "wire_msg_decode() and wire_msg_unpack() read different "
		   "messages (%zu and %zu bytes)", len, rlen);
	free(rbuf);
	free(buf);
}

/* Encode a decoded message, decode that, encode again: same bytes. */
static void s_round_trip(const wire_msg *m)
{
	wire_msg m2;
	char err[512];
	size_t len = 0, len2 = 0;
	uint8_t *buf, *buf2;
	wire_reason r;

	r = wire_msg_validate(m, err, sizeof(err));
	FUZZ_CHECK(r == WIRE_OK, "decoded but does not validate: %s", err);
	buf = s_encode(m, &len, "a decoded message");
	r = wire_msg_decode(buf, len, &m2, NULL, err, sizeof(err));
	FUZZ_CHECK(r == WIRE_OK, "its encoding does not decode (%s): %s",
		   wire_reason_name(r), err);
	FUZZ_CHECK(m2.body == m->body && m2.seq == m->seq &&
		   m2.role == m->role && strcmp(m2.sender, m->sender) == 0,
		   "the message changed in the round trip");
	buf2 = s_encode(&m2, &len2, "a re-decoded message");
	FUZZ_CHECK(len2 == len && memcmp(buf, buf2, len) == 0,
		   "re-encoding is not stable (%zu then %zu bytes)", len, len2);
	free(buf2);
	free(buf);
	wire_msg_release(&m2);
}

/*
 * Messages built in memory (an agent's, before it sends them) can hold
 * what no frame decodes to. One such damage, picked by sel, is done to a
 * copy of the unpacked message (its strings stay the unpacked one's), and
 * wire_msg_validate() must agree with the document:
 *  0  no sender (NULL);
 *  1  a body kind that names no body (none, or one this build lacks);
 *  2  a string of the body NULL (which reads as empty);
 *  3  a Register with both configs, neither, or the other one; an Award
 *     with its count but no VMs, or a VM without a name; a Deregister
 *     without a reason.
 * (Before the plain API, 1 and 3 were NULL body and VmAward pointers.)
 */
static void s_damaged(const wire_msg *raw, uint8_t sel)
{
	static const wire_body nobody[] = { WIRE_BODY_NONE, (wire_body)1,
					    (wire_body)9, (wire_body)20,
					    (wire_body)99 };
	wire_msg d = *raw;
	wire_vm_award *vms = NULL;
	char err[512];
	wire_reason r, want;
	int done = 1;

	switch (sel % 4) {
	case 0:
		d.sender = NULL;
		break;
	case 1:
		d.body = nobody[sel / 4 % (sizeof(nobody) / sizeof(nobody[0]))];
		break;
	case 2:
		if (d.body == WIRE_BODY_REGISTER && d.reg.has_vm)
			d.reg.vm.host = NULL;
		else if (d.body == WIRE_BODY_REGISTER)
			d.reg.host.uri = NULL;
		else if (d.body == WIRE_BODY_WELCOME)
			d.welcome.name = NULL;
		else if (d.body == WIRE_BODY_AWARD)
			d.award.host = NULL;
		else if (d.body == WIRE_BODY_ACTION_REQUEST)
			d.action_request.to_host = NULL;
		else if (d.body == WIRE_BODY_ACTION_RESULT)
			d.action_result.id = NULL;
		else if (d.body == WIRE_BODY_ERROR)
			d.error.ref_sender = NULL;
		else
			done = 0;
		break;
	default:
		if (d.body == WIRE_BODY_REGISTER) {
			switch (sel / 4 % 3) {
			case 0: d.reg.has_host = d.reg.has_vm = 1; break;
			case 1: d.reg.has_host = d.reg.has_vm = 0; break;
			default:
				d.reg.has_host = !d.reg.has_host;
				d.reg.has_vm = !d.reg.has_vm;
				break;
			}
		} else if (d.body == WIRE_BODY_AWARD && d.award.n_vms > 0 &&
			   sel / 4 % 2 == 0) {
			d.award.vms = NULL;
		} else if (d.body == WIRE_BODY_AWARD && d.award.n_vms > 0) {
			vms = malloc(d.award.n_vms * sizeof(*vms));
			if (vms == NULL)
				abort();
			memcpy(vms, d.award.vms, d.award.n_vms * sizeof(*vms));
			vms[sel / 8 % d.award.n_vms].vm = NULL;
			d.award.vms = vms;
		} else if (d.body == WIRE_BODY_DEREGISTER) {
			d.deregister.reason = NULL;
		} else {
			done = 0;
		}
		break;
	}
	if (done) {
		r = wire_msg_validate(&d, err, sizeof(err));
		want = s_expect(&d);
		s_check_message(err, sizeof(err), r);
		FUZZ_CHECK(r == want, "damage %u: wire_msg_validate says %s "
			   "(%s), docs/protocol.md says %s", sel % 4u,
			   wire_reason_name(r), err, wire_reason_name(want));
	}
	free(vms);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	wire_msg m, raw;
	char err[512], uerr[512];
	uint32_t peer = 12345;
	wire_reason r, u, want;

	memset(&m, 0xa5, sizeof(m));
	r = wire_msg_decode(data, size, &m, &peer, err, sizeof(err));
	FUZZ_CHECK((unsigned)r < WIRE_N_REASONS, "reason %d", (int)r);
	FUZZ_CHECK(strcmp(wire_reason_name(r), "unknown") != 0, "no name");
	s_check_message(err, sizeof(err), r);
	if (r == WIRE_OK) {
		FUZZ_CHECK(m.body != WIRE_BODY_NONE, "WIRE_OK without a body");
		s_check_owned(&m);
	} else {
		s_check_nothing(&m, "wire_msg_decode()");
	}
	if (r == WIRE_VERSION_MISMATCH)
		FUZZ_CHECK(peer != WIRE_VERSION, "peer version %" PRIu32, peer);
	else
		FUZZ_CHECK(peer == 0, "peer version %" PRIu32 " for %s", peer,
			   wire_reason_name(r));

	/* parse only: the size bound comes before protobuf-c sees a byte */
	memset(&raw, 0xa5, sizeof(raw));
	u = wire_msg_unpack(data, size, &raw, uerr, sizeof(uerr));
	s_check_message(uerr, sizeof(uerr), u);
	if (size == 0)
		FUZZ_CHECK(u == WIRE_EMPTY, "0 bytes unpack as %s",
			   wire_reason_name(u));
	else if (size > WIRE_MAX_FRAME)
		FUZZ_CHECK(u == WIRE_TOO_BIG, "%zu bytes unpack as %s", size,
			   wire_reason_name(u));
	else
		FUZZ_CHECK(u == WIRE_OK || u == WIRE_MALFORMED,
			   "wire_msg_unpack says %s", wire_reason_name(u));
	if (u != WIRE_OK) {
		s_check_nothing(&raw, "wire_msg_unpack()");
		FUZZ_CHECK(r == u && strcmp(err, uerr) == 0,
			   "wire_msg_unpack says %s (%s), wire_msg_decode %s "
			   "(%s)", wire_reason_name(u), uerr,
			   wire_reason_name(r), err);
		return 0;
	}

	/* the document's verdict on what was unpacked */
	s_check_owned(&raw);
	want = s_expect(&raw);
	FUZZ_CHECK(r == want, "wire_msg_decode says %s (%s), docs/protocol.md "
		   "says %s", wire_reason_name(r), err, wire_reason_name(want));
	if (raw.version == WIRE_VERSION)
		s_damaged(&raw, data[size - 1]);
	if (r == WIRE_OK) {
		s_same(&m, &raw);
		s_round_trip(&m);
		wire_msg_release(&m);
	}
	wire_msg_release(&raw);
	return 0;
}
