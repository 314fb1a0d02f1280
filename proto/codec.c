/*
 * codec.c - bourse's messages to and from protobuf-c: the only file in the
 * code base that names a type generated from proto/bourse.proto (CMake
 * gives no other target the generated include directory).
 *
 * Unpacking keeps protobuf-c's message alive and points the plain message's
 * strings into it (no copies on the broker's hot path); packing builds the
 * generated structs on the stack around the caller's strings.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bourse.pb-c.h"
#include "wire_int.h"
#include "banned.h"

/* wire.h's enums are the schema's numbers: conversions are casts. */
#define S_SAME(ours, theirs) \
	_Static_assert((int)WIRE_##ours == (int)(theirs), #ours " is " #theirs)
S_SAME(BODY_REGISTER, BOURSE__ENVELOPE__BODY_REGISTER);
S_SAME(BODY_DEREGISTER, BOURSE__ENVELOPE__BODY_DEREGISTER);
S_SAME(BODY_HEARTBEAT, BOURSE__ENVELOPE__BODY_HEARTBEAT);
S_SAME(BODY_BID, BOURSE__ENVELOPE__BODY_BID);
S_SAME(BODY_ASK, BOURSE__ENVELOPE__BODY_ASK);
S_SAME(BODY_AWARD, BOURSE__ENVELOPE__BODY_AWARD);
S_SAME(BODY_ACTION_REQUEST, BOURSE__ENVELOPE__BODY_ACTION_REQUEST);
S_SAME(BODY_ACTION_RESULT, BOURSE__ENVELOPE__BODY_ACTION_RESULT);
S_SAME(BODY_ERROR, BOURSE__ENVELOPE__BODY_ERROR);
S_SAME(BODY_WELCOME, BOURSE__ENVELOPE__BODY_WELCOME);
S_SAME(ROLE_HOST, BOURSE__ROLE__ROLE_HOST);
S_SAME(ROLE_VM, BOURSE__ROLE__ROLE_VM);
S_SAME(ROLE_BROKER, BOURSE__ROLE__ROLE_BROKER);
S_SAME(ACTION_RESIZE, BOURSE__ACTION_KIND__ACTION_RESIZE);
S_SAME(ACTION_MIGRATE, BOURSE__ACTION_KIND__ACTION_MIGRATE);
S_SAME(STATUS_OK, BOURSE__ACTION_STATUS__ACTION_OK);
S_SAME(STATUS_FAILED, BOURSE__ACTION_STATUS__ACTION_FAILED);
S_SAME(STATUS_TIMEOUT, BOURSE__ACTION_STATUS__ACTION_TIMEOUT);
S_SAME(STATUS_UNSUPPORTED, BOURSE__ACTION_STATUS__ACTION_UNSUPPORTED);
S_SAME(ERR_VERSION, BOURSE__ERROR_CODE__ERROR_VERSION);
S_SAME(ERR_MALFORMED, BOURSE__ERROR_CODE__ERROR_MALFORMED);
S_SAME(ERR_INVALID, BOURSE__ERROR_CODE__ERROR_INVALID);
S_SAME(ERR_UNKNOWN_SENDER, BOURSE__ERROR_CODE__ERROR_UNKNOWN_SENDER);
S_SAME(ERR_WRONG_HOST, BOURSE__ERROR_CODE__ERROR_WRONG_HOST);
S_SAME(ERR_SEQUENCE, BOURSE__ERROR_CODE__ERROR_SEQUENCE);
S_SAME(ERR_CONFLICT, BOURSE__ERROR_CODE__ERROR_CONFLICT);
#undef S_SAME

/* protobuf-c wants char * where it only reads. */
static char *s_str(const char *s)
{
	return (char *)(s != NULL ? s : "");
}

/* ------------------------------------------------------------------ */
/* unpacking                                                          */
/* ------------------------------------------------------------------ */

/*
 * Every block protobuf-c allocates while unpacking carries its size in a
 * header before it (s_sized()), so that a string can be measured against
 * the bytes the frame gave it: protobuf-c copies a string of n bytes into
 * a block of n + 1 and ends it with a NUL, so a NUL inside it (a frame
 * saying "vm-x\0evil") would otherwise make it read as "vm-x".
 */
typedef union s_head {
	size_t size;
	max_align_t align_;
} s_head;

static void *s_alloc(void *data, size_t size)
{
	s_head *h;

	(void)data;
	if (size > SIZE_MAX - sizeof(*h))
		return NULL;
	h = malloc(sizeof(*h) + size);
	if (h == NULL)
		return NULL;
	h->size = size;
	return h + 1;
}

static void s_free(void *data, void *p)
{
	(void)data;
	if (p != NULL)
		free((s_head *)p - 1);
}

static ProtobufCAllocator s_sized(void)
{
	return (ProtobufCAllocator){ s_alloc, s_free, NULL };
}

/* A string unpacked whole: the default "" (absent), or a block of exactly
 * its length and the NUL protobuf-c added. */
static int s_string_whole(const char *p)
{
	if (p == NULL || p == protobuf_c_empty_string)
		return 1;
	return strlen(p) + 1 == ((const s_head *)p - 1)->size;
}

/* The n elements of field fd of m (1 for a singular field; its pointer
 * may then be NULL) into *v. */
static size_t s_elems(const ProtobufCMessage *m,
		      const ProtobufCFieldDescriptor *fd,
		      const void *const **v)
{
	const char *base = (const char *)m + fd->offset;

	if (fd->label != PROTOBUF_C_LABEL_REPEATED) {
		*v = (const void *const *)base;
		return 1;
	}
	*v = *(const void *const *const *)base;
	return *(const size_t *)((const char *)m + fd->quantifier_offset);
}

static enum wire__unpacked s_tree(const ProtobufCMessage *m);

/* Field fd of m: its strings whole, its messages' trees sound. */
static enum wire__unpacked s_field(const ProtobufCMessage *m,
				   const ProtobufCFieldDescriptor *fd)
{
	const void *const *v;
	size_t n = s_elems(m, fd, &v);
	enum wire__unpacked r = WIRE__UNPACKED;

	for (size_t k = 0; k < n && r == WIRE__UNPACKED; k++) {
		if (v[k] == NULL)
			continue;
		if (fd->type == PROTOBUF_C_TYPE_STRING && !s_string_whole(v[k]))
			r = WIRE__NUL_IN_STRING;
		else if (fd->type == PROTOBUF_C_TYPE_MESSAGE)
			r = s_tree(v[k]);
	}
	return r;
}

/*
 * What protobuf-c lets through that a frame must not hold, in every
 * message of the envelope (the schema has no recursion: depth 3):
 *
 * - Field number 0. protobuf-c 1.4.1 refuses it written in one byte
 *   (0x00..0x07) but takes it written in more (0x80 0x00: an overlong
 *   varint) as an unknown field, which it keeps and packs again in one
 *   byte: an envelope that decodes and validates would then encode to a
 *   frame that does not decode (found by tests/fuzz/fuzz_wire.c;
 *   tests/fuzz/crashes/wire/). Field number 0 is not valid protobuf.
 *   Unknown fields with other numbers stay (fields added by a newer peer).
 * - A NUL byte inside a string (s_string_whole()): refused rather than
 *   read as the prefix before it.
 */
static enum wire__unpacked s_tree(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;

	for (unsigned i = 0; i < m->n_unknown_fields; i++)
		if (m->unknown_fields[i].tag == 0)
			return WIRE__FIELD_ZERO;
	for (unsigned f = 0; f < d->n_fields; f++) {
		const ProtobufCFieldDescriptor *fd = &d->fields[f];
		enum wire__unpacked r;

		if ((fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    *(const uint32_t *)((const char *)m +
					fd->quantifier_offset) != fd->id)
			continue; /* not the member the oneof holds */
		if (fd->type != PROTOBUF_C_TYPE_STRING &&
		    fd->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		r = s_field(m, fd);
		if (r != WIRE__UNPACKED)
			return r;
	}
	return WIRE__UNPACKED;
}

static void s_from_register(wire_register *o, const Bourse__Register *g)
{
	if (g->host != NULL) {
		o->has_host = 1;
		o->host.capacity_mib = g->host->capacity_mib;
		o->host.reserve_mib = g->host->reserve_mib;
		o->host.uri = g->host->uri;
	}
	if (g->vm != NULL) {
		const Bourse__VmConfig *v = g->vm;

		o->has_vm = 1;
		o->vm = (wire_vm_config){
			.host = v->host,
			.startup_mib = v->startup_mib,
			.minimum_mib = v->minimum_mib,
			.maximum_mib = v->maximum_mib,
			.buffer_pct = v->buffer_pct,
			.weight = v->weight,
			.reservation_mib = v->reservation_mib,
			.limit_mib = v->limit_mib,
			.shares = v->shares,
		};
	}
}

/* The award's VMs in an array of their own (freed by wire__free_owned()).
 * Returns 0, or -1 without memory. */
static int s_from_award(wire_award *o, const Bourse__Award *a)
{
	wire_vm_award *v = NULL;

	o->round = a->round;
	o->host = a->host;
	o->price = a->price;
	o->utilization = a->utilization;
	o->awarded_mib = a->awarded_mib;
	if (a->n_vms > 0) {
		v = calloc(a->n_vms, sizeof(*v));
		if (v == NULL)
			return -1;
	}
	for (size_t i = 0; i < a->n_vms; i++) {
		const Bourse__VmAward *x = a->vms[i];

		v[i] = (wire_vm_award){ x->vm, x->target_mib, x->want_mib,
					x->price, x->pressure };
	}
	o->vms = v;
	o->n_vms = a->n_vms;
	return 0;
}

/* The body of e into m. Returns 0, or -1 without memory. */
static int s_from_body(wire_msg *m, const Bourse__Envelope *e)
{
	switch (e->body_case) {
	case BOURSE__ENVELOPE__BODY_REGISTER:
		s_from_register(&m->reg, e->register_);
		break;
	case BOURSE__ENVELOPE__BODY_DEREGISTER:
		m->deregister.reason = e->deregister->reason;
		break;
	case BOURSE__ENVELOPE__BODY_HEARTBEAT:
		m->heartbeat.uptime_ms = e->heartbeat->uptime_ms;
		break;
	case BOURSE__ENVELOPE__BODY_BID:
		m->bid = (wire_bid){ e->bid->demand_mib, e->bid->assigned_mib,
				     e->bid->pressure,
				     e->bid->guest_swap_mibps,
				     e->bid->balloon_mib };
		break;
	case BOURSE__ENVELOPE__BODY_ASK:
		m->ask = (wire_ask){ e->ask->capacity_mib, e->ask->free_mib,
				     e->ask->balloon_mib,
				     e->ask->host_swap_mibps };
		break;
	case BOURSE__ENVELOPE__BODY_AWARD:
		return s_from_award(&m->award, e->award);
	case BOURSE__ENVELOPE__BODY_ACTION_REQUEST: {
		const Bourse__ActionRequest *a = e->action_request;

		m->action_request = (wire_action_request){
			a->id, (wire_action_kind)a->kind, a->vm, a->target_mib,
			a->to_host, a->to_uri, a->timeout_ms };
		break;
	}
	case BOURSE__ENVELOPE__BODY_ACTION_RESULT: {
		const Bourse__ActionResult *a = e->action_result;

		m->action_result = (wire_action_result){
			a->id, (wire_action_status)a->status, a->detail };
		break;
	}
	case BOURSE__ENVELOPE__BODY_ERROR: {
		const Bourse__Error *x = e->error;

		m->error = (wire_error){ (wire_error_code)x->code, x->message,
					 x->ref_seq, x->supported_version,
					 x->ref_sender };
		break;
	}
	case BOURSE__ENVELOPE__BODY_WELCOME: {
		const Bourse__Welcome *w = e->welcome;

		m->welcome = (wire_welcome){ w->heartbeat_ms, w->liveness,
					     w->round_ms, w->round, w->name };
		break;
	}
	default:
		break; /* no body, or one this build does not know */
	}
	return 0;
}

enum wire__unpacked wire__unpack(const void *buf, size_t len, wire_msg *out)
{
	ProtobufCAllocator al = s_sized();
	Bourse__Envelope *e = bourse__envelope__unpack(&al, len, buf);
	enum wire__unpacked r;

	memset(out, 0, sizeof(*out));
	if (e == NULL)
		return WIRE__UNREADABLE;
	r = s_tree(&e->base);
	if (r != WIRE__UNPACKED) {
		bourse__envelope__free_unpacked(e, &al);
		return r;
	}
	out->version = e->version;
	out->role = (wire_role)e->role;
	out->sender = e->sender;
	out->seq = e->seq;
	out->body = (wire_body)e->body_case;
	out->owned_ = e;
	if (s_from_body(out, e) != 0) {
		bourse__envelope__free_unpacked(e, &al);
		memset(out, 0, sizeof(*out));
		return WIRE__NO_MEMORY;
	}
	return WIRE__UNPACKED;
}

void wire__free_owned(wire_msg *m)
{
	ProtobufCAllocator al = s_sized();

	if (m->body == WIRE_BODY_AWARD)
		free((void *)m->award.vms); /* s_from_award()'s array */
	bourse__envelope__free_unpacked(m->owned_, &al);
	m->owned_ = NULL;
}

/* ------------------------------------------------------------------ */
/* packing                                                            */
/* ------------------------------------------------------------------ */

/* The generated messages a body is packed from, on the caller's stack. */
typedef struct s_bodies {
	Bourse__Register reg;
	Bourse__HostConfig host;
	Bourse__VmConfig vm;
	Bourse__Deregister deregister;
	Bourse__Heartbeat heartbeat;
	Bourse__Bid bid;
	Bourse__Ask ask;
	Bourse__Award award;
	Bourse__ActionRequest action_request;
	Bourse__ActionResult action_result;
	Bourse__Error error;
	Bourse__Welcome welcome;
	Bourse__VmAward *vms;   /* award: malloc'd, freed by the caller */
	Bourse__VmAward **vmp;
} s_bodies;

static void s_to_register(s_bodies *b, const wire_register *g)
{
	bourse__register__init(&b->reg);
	if (g->has_host) {
		bourse__host_config__init(&b->host);
		b->host.capacity_mib = g->host.capacity_mib;
		b->host.reserve_mib = g->host.reserve_mib;
		b->host.uri = s_str(g->host.uri);
		b->reg.host = &b->host;
	}
	if (g->has_vm) {
		const wire_vm_config *v = &g->vm;

		bourse__vm_config__init(&b->vm);
		b->vm.host = s_str(v->host);
		b->vm.startup_mib = v->startup_mib;
		b->vm.minimum_mib = v->minimum_mib;
		b->vm.maximum_mib = v->maximum_mib;
		b->vm.buffer_pct = v->buffer_pct;
		b->vm.weight = v->weight;
		b->vm.reservation_mib = v->reservation_mib;
		b->vm.limit_mib = v->limit_mib;
		b->vm.shares = v->shares;
		b->reg.vm = &b->vm;
	}
}

/* Returns 0, or -1 without memory (or with more VMs than fit a frame). */
static int s_to_award(s_bodies *b, const wire_award *a)
{
	Bourse__Award *o = &b->award;

	bourse__award__init(o);
	o->round = a->round;
	o->host = s_str(a->host);
	o->price = a->price;
	o->utilization = a->utilization;
	o->awarded_mib = a->awarded_mib;
	if (a->n_vms == 0)
		return 0;
	if (a->vms == NULL || a->n_vms > WIRE_MAX_FRAME)
		return -1; /* each VM takes bytes: it could not fit */
	b->vms = calloc(a->n_vms, sizeof(*b->vms));
	b->vmp = calloc(a->n_vms, sizeof(*b->vmp));
	if (b->vms == NULL || b->vmp == NULL)
		return -1;
	for (size_t i = 0; i < a->n_vms; i++) {
		const wire_vm_award *v = &a->vms[i];
		Bourse__VmAward *x = &b->vms[i];

		bourse__vm_award__init(x);
		x->vm = s_str(v->vm);
		x->target_mib = v->target_mib;
		x->want_mib = v->want_mib;
		x->price = v->price;
		x->pressure = v->pressure;
		b->vmp[i] = x;
	}
	o->vms = b->vmp;
	o->n_vms = a->n_vms;
	return 0;
}

static void s_to_action(s_bodies *b, const wire_msg *m)
{
	if (m->body == WIRE_BODY_ACTION_REQUEST) {
		const wire_action_request *a = &m->action_request;
		Bourse__ActionRequest *o = &b->action_request;

		bourse__action_request__init(o);
		o->id = s_str(a->id);
		o->kind = (Bourse__ActionKind)a->kind;
		o->vm = s_str(a->vm);
		o->target_mib = a->target_mib;
		o->to_host = s_str(a->to_host);
		o->to_uri = s_str(a->to_uri);
		o->timeout_ms = a->timeout_ms;
	} else {
		const wire_action_result *a = &m->action_result;
		Bourse__ActionResult *o = &b->action_result;

		bourse__action_result__init(o);
		o->id = s_str(a->id);
		o->status = (Bourse__ActionStatus)a->status;
		o->detail = s_str(a->detail);
	}
}

static void s_to_error(s_bodies *b, const wire_error *x)
{
	Bourse__Error *o = &b->error;

	bourse__error__init(o);
	o->code = (Bourse__ErrorCode)x->code;
	o->message = s_str(x->message);
	o->ref_seq = x->ref_seq;
	o->supported_version = x->supported_version;
	o->ref_sender = s_str(x->ref_sender);
}

static void s_to_welcome(s_bodies *b, const wire_welcome *w)
{
	Bourse__Welcome *o = &b->welcome;

	bourse__welcome__init(o);
	o->heartbeat_ms = w->heartbeat_ms;
	o->liveness = w->liveness;
	o->round_ms = w->round_ms;
	o->round = w->round;
	o->name = s_str(w->name);
}

/* Point e's oneof at the body, built in b (none for WIRE_BODY_NONE).
 * Returns 0, or -1 (unknown body kind, an award with VMs but no array, no
 * memory). */
static int s_to_body(Bourse__Envelope *e, s_bodies *b, const wire_msg *m)
{
	switch (m->body) {
	case WIRE_BODY_REGISTER:
		s_to_register(b, &m->reg);
		e->register_ = &b->reg;
		break;
	case WIRE_BODY_DEREGISTER:
		bourse__deregister__init(&b->deregister);
		b->deregister.reason = s_str(m->deregister.reason);
		e->deregister = &b->deregister;
		break;
	case WIRE_BODY_HEARTBEAT:
		bourse__heartbeat__init(&b->heartbeat);
		b->heartbeat.uptime_ms = m->heartbeat.uptime_ms;
		e->heartbeat = &b->heartbeat;
		break;
	case WIRE_BODY_BID:
		bourse__bid__init(&b->bid);
		b->bid.demand_mib = m->bid.demand_mib;
		b->bid.assigned_mib = m->bid.assigned_mib;
		b->bid.pressure = m->bid.pressure;
		b->bid.guest_swap_mibps = m->bid.guest_swap_mibps;
		b->bid.balloon_mib = m->bid.balloon_mib;
		e->bid = &b->bid;
		break;
	case WIRE_BODY_ASK:
		bourse__ask__init(&b->ask);
		b->ask.capacity_mib = m->ask.capacity_mib;
		b->ask.free_mib = m->ask.free_mib;
		b->ask.balloon_mib = m->ask.balloon_mib;
		b->ask.host_swap_mibps = m->ask.host_swap_mibps;
		e->ask = &b->ask;
		break;
	case WIRE_BODY_AWARD:
		if (s_to_award(b, &m->award) != 0)
			return -1;
		e->award = &b->award;
		break;
	case WIRE_BODY_ACTION_REQUEST:
		s_to_action(b, m);
		e->action_request = &b->action_request;
		break;
	case WIRE_BODY_ACTION_RESULT:
		s_to_action(b, m);
		e->action_result = &b->action_result;
		break;
	case WIRE_BODY_ERROR:
		s_to_error(b, &m->error);
		e->error = &b->error;
		break;
	case WIRE_BODY_WELCOME:
		s_to_welcome(b, &m->welcome);
		e->welcome = &b->welcome;
		break;
	case WIRE_BODY_NONE:
		break; /* an envelope without a body (tests send it) */
	default:
		return -1;
	}
	e->body_case = (Bourse__Envelope__BodyCase)m->body;
	return 0;
}

uint8_t *wire__pack(const wire_msg *m, size_t *len)
{
	Bourse__Envelope e = BOURSE__ENVELOPE__INIT;
	s_bodies b; /* only the body packed is initialised (s_to_body()) */
	uint8_t *buf = NULL;
	size_t n;

	*len = 0;
	b.vms = NULL;
	b.vmp = NULL;
	e.version = m->version;
	e.role = (Bourse__Role)m->role;
	e.sender = s_str(m->sender);
	e.seq = m->seq;
	if (s_to_body(&e, &b, m) != 0)
		goto out;
	n = bourse__envelope__get_packed_size(&e);
	if (n > WIRE_MAX_FRAME)
		goto out;
	buf = malloc(n > 0 ? n : 1);
	if (buf != NULL)
		*len = bourse__envelope__pack(&e, buf);
out:
	free(b.vms);
	free(b.vmp);
	return buf;
}
