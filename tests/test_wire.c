/*
 * test_wire.c - the wire codec: every body round-trips, every refusal reason
 * is reached by a case that triggers exactly it (with a message naming the
 * field), and hostile bytes (garbage, every truncation of every valid frame,
 * random corruption, oversized frames) never crash the decoder; a NUL
 * inside a string and control bytes in names and URIs are refused.
 *
 * Only wire.h's plain messages (wire_msg): what a plain message cannot hold
 * (no body, field number 0, unknown fields) is written as raw bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"
#include "banned.h"

/* ---- fixture: one valid instance of every message ---- */

typedef struct fixture {
	wire_msg e;
	wire_vm_award vma[3]; /* the award's VMs (e.award.vms) */
} fixture;

static wire_host_config fx_host_config(void)
{
	return (wire_host_config){
		.capacity_mib = 262144,
		.reserve_mib = 4096,
		.uri = "qemu+ssh://h1/system",
	};
}

static wire_vm_config fx_vm_config(void)
{
	return (wire_vm_config){
		.host = "h1",
		.startup_mib = 4096,
		.minimum_mib = 1024,
		.maximum_mib = 16384,
		.buffer_pct = 20,
		.weight = 5000,
		.reservation_mib = 512,
		.limit_mib = 8192,
		.shares = 1000,
	};
}

static void fx_init(fixture *f)
{
	static const char *const names[3] = { "vm-a", "vm-b", "vm-c" };

	memset(f, 0, sizeof *f);
	for (int i = 0; i < 3; i++)
		f->vma[i] = (wire_vm_award){
			.vm = names[i],
			.target_mib = 2048 * (i + 1),
			.want_mib = 2100 * (i + 1),
			.price = 0.75,
			.pressure = 90.5,
		};
}

/* The valid body of a broker's message. */
static void fx_broker(fixture *f, wire_msg *e)
{
	switch (e->body) {
	case WIRE_BODY_AWARD:
		e->award = (wire_award){
			.round = 42,
			.host = "h1",
			.price = 0.75,
			.utilization = 1.2,
			.awarded_mib = 12288,
			.vms = f->vma,
			.n_vms = 3,
		};
		break;
	case WIRE_BODY_ACTION_REQUEST:
		e->action_request = (wire_action_request){
			.id = "act-1",
			.kind = WIRE_ACTION_MIGRATE,
			.vm = "vm-a",
			.target_mib = 4096,
			.to_host = "h2",
			.to_uri = "qemu+ssh://h2/system",
			.timeout_ms = 60000,
		};
		break;
	case WIRE_BODY_ERROR:
		e->error = (wire_error){
			.code = WIRE_ERR_VERSION,
			.message = "version 2 is not supported",
			.ref_seq = 7,
			.supported_version = WIRE_VERSION,
			.ref_sender = "vm-a",
		};
		break;
	case WIRE_BODY_WELCOME:
		e->welcome = (wire_welcome){
			.heartbeat_ms = 1000,
			.liveness = 3,
			.round_ms = 5000,
			.round = 42,
			.name = "vm-a",
		};
		break;
	default:
		break; /* a heartbeat: uptime 0 */
	}
}

/* A message from the usual sender of that body, with the valid body. */
static wire_msg *fx_env(fixture *f, wire_body body)
{
	wire_msg *e = &f->e;

	wire_msg_init(e, WIRE_ROLE_HOST, "h1", 9, body);
	switch (body) {
	case WIRE_BODY_REGISTER:
		e->reg.has_host = 1;
		e->reg.host = fx_host_config();
		break;
	case WIRE_BODY_DEREGISTER:
		e->deregister.reason = "shutdown";
		break;
	case WIRE_BODY_HEARTBEAT:
		e->heartbeat.uptime_ms = 123456;
		break;
	case WIRE_BODY_ASK:
		e->ask = (wire_ask){
			.capacity_mib = 262144,
			.free_mib = 100000,
			.balloon_mib = 2048,
			.host_swap_mibps = 1.25,
		};
		break;
	case WIRE_BODY_ACTION_RESULT:
		e->action_result = (wire_action_result){
			.id = "act-1",
			.status = WIRE_STATUS_UNSUPPORTED,
			.detail = "no actuator",
		};
		break;
	case WIRE_BODY_BID:
		e->role = WIRE_ROLE_VM;
		e->sender = "vm-a";
		e->bid = (wire_bid){
			.demand_mib = 3000,
			.assigned_mib = 4096,
			.pressure = 73.2,
			.guest_swap_mibps = 0.5,
			.balloon_mib = 0,
		};
		break;
	default:
		e->role = WIRE_ROLE_BROKER;
		e->sender = "broker";
		fx_broker(f, e);
		break;
	}
	return e;
}

/* A VM's Register. */
static wire_msg *fx_vm_register(fixture *f)
{
	wire_msg *e = fx_env(f, WIRE_BODY_REGISTER);

	e->role = WIRE_ROLE_VM;
	e->sender = "vm-a";
	e->reg.has_host = 0;
	e->reg.host = (wire_host_config){ 0 };
	e->reg.has_vm = 1;
	e->reg.vm = fx_vm_config();
	return e;
}

static const wire_body all_bodies[] = {
	WIRE_BODY_REGISTER, WIRE_BODY_DEREGISTER,
	WIRE_BODY_HEARTBEAT, WIRE_BODY_BID,
	WIRE_BODY_ASK, WIRE_BODY_AWARD,
	WIRE_BODY_ACTION_REQUEST,
	WIRE_BODY_ACTION_RESULT, WIRE_BODY_ERROR,
	WIRE_BODY_WELCOME,
};
#define N_BODIES (sizeof all_bodies / sizeof all_bodies[0])

/* ---- helpers ---- */

/* A refused frame leaves the message holding nothing: every byte zero. */
static void assert_nothing(const wire_msg *m)
{
	static const wire_msg zero;

	assert_memory_equal(m, &zero, sizeof *m);
}

/* Encode e (must succeed) and decode it into *out. */
static wire_reason encode_decode(const wire_msg *e, wire_msg *out, char *err,
				 size_t errlen)
{
	size_t len;
	uint8_t *buf = wire_msg_encode(e, &len);
	wire_reason r;

	assert_non_null(buf);
	assert_true(len > 0 && len <= WIRE_MAX_FRAME);
	r = wire_msg_decode(buf, len, out, NULL, err, errlen);
	free(buf);
	return r;
}

static void check_err(wire_reason r, wire_reason want, const char *err,
		      const char *needle)
{
	if (r != want || strstr(err, needle) == NULL)
		print_error("want %s with \"%s\", got %s: \"%s\"\n",
			    wire_reason_name(want), needle,
			    wire_reason_name(r), err);
	assert_int_equal(r, want);
	assert_non_null(strstr(err, needle));
}

/* e must be refused for reason want, with needle in the message, both by
 * wire_msg_validate() in memory and by wire_msg_decode() after encoding. */
static void expect_reject(const wire_msg *e, wire_reason want,
			  const char *needle)
{
	wire_msg out;
	char err[256];

	check_err(wire_msg_validate(e, err, sizeof err), want, err, needle);
	check_err(encode_decode(e, &out, err, sizeof err), want, err, needle);
	assert_nothing(&out);
}

/* e must pass both in memory and after a round trip. */
static void expect_ok(const wire_msg *e)
{
	wire_msg out;
	char err[256];

	check_err(wire_msg_validate(e, err, sizeof err), WIRE_OK, err, "");
	check_err(encode_decode(e, &out, err, sizeof err), WIRE_OK, err, "");
	assert_int_equal(out.body, e->body);
	wire_msg_release(&out);
}

/* Only in memory: what no frame decodes to (an unknown body kind, a count
 * without its array, counts too big to encode). */
static void expect_invalid(const wire_msg *e, wire_reason want,
			   const char *needle)
{
	char err[256];

	check_err(wire_msg_validate(e, err, sizeof err), want, err, needle);
}

/* Only on the wire: raw bytes, decoded. */
static void expect_frame(const void *buf, size_t len, wire_reason want,
			 const char *needle)
{
	wire_msg out;
	uint8_t *copy = malloc(len > 0 ? len : 1);
	char err[256];

	/* a copy of exactly len bytes, so that ASan sees any read past it */
	assert_non_null(copy);
	memcpy(copy, buf, len);
	memset(&out, 0xa5, sizeof out);
	check_err(wire_msg_decode(copy, len, &out, NULL, err, sizeof err),
		  want, err, needle);
	if (want == WIRE_OK)
		wire_msg_release(&out);
	else
		assert_nothing(&out);
	free(copy);
}

/* A string of n copies of ch (caller frees). */
static char *repeat(char ch, size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, ch, n);
	s[n] = '\0';
	return s;
}

/* ---- round trips ---- */

static void test_roundtrip_every_body(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_BODIES; i++) {
		fixture f;
		wire_msg *e, out;
		uint8_t *a, *b;
		size_t alen, blen;
		char err[256];

		fx_init(&f);
		e = fx_env(&f, all_bodies[i]);
		a = wire_msg_encode(e, &alen);
		assert_non_null(a);
		check_err(wire_msg_decode(a, alen, &out, NULL, err, sizeof err),
			  WIRE_OK, err, "");
		assert_int_equal(out.body, all_bodies[i]);
		assert_int_equal(out.version, WIRE_VERSION);
		assert_int_equal(out.role, e->role);
		assert_string_equal(out.sender, e->sender);
		assert_int_equal(out.seq, 9);
		/* Packing is deterministic: the same bytes mean the same
		 * fields, for every field of every body. */
		b = wire_msg_encode(&out, &blen);
		assert_non_null(b);
		assert_int_equal(alen, blen);
		assert_memory_equal(a, b, alen);
		free(a);
		free(b);
		wire_msg_release(&out);
	}
}

static void test_roundtrip_fields(void **state)
{
	fixture f;
	wire_msg out;
	char err[256];

	(void)state;
	fx_init(&f);
	assert_int_equal(encode_decode(fx_vm_register(&f), &out, err,
				       sizeof err), WIRE_OK);
	assert_false(out.reg.has_host);
	assert_true(out.reg.has_vm);
	assert_string_equal(out.reg.vm.host, "h1");
	assert_int_equal(out.reg.vm.minimum_mib, 1024);
	assert_int_equal(out.reg.vm.shares, 1000);
	wire_msg_release(&out);

	assert_int_equal(encode_decode(fx_env(&f, WIRE_BODY_BID), &out, err,
				       sizeof err), WIRE_OK);
	assert_int_equal(out.bid.demand_mib, 3000);
	assert_true(out.bid.pressure == 73.2);
	wire_msg_release(&out);

	assert_int_equal(encode_decode(fx_env(&f, WIRE_BODY_AWARD), &out, err,
				       sizeof err), WIRE_OK);
	assert_int_equal(out.award.n_vms, 3);
	assert_string_equal(out.award.vms[2].vm, "vm-c");
	assert_int_equal(out.award.vms[2].target_mib, 6144);
	wire_msg_release(&out);

	assert_int_equal(encode_decode(fx_env(&f, WIRE_BODY_WELCOME), &out,
				       err, sizeof err), WIRE_OK);
	assert_string_equal(out.welcome.name, "vm-a");
	assert_int_equal(out.welcome.round, 42);
	wire_msg_release(&out);

	assert_int_equal(encode_decode(fx_env(&f, WIRE_BODY_ERROR), &out, err,
				       sizeof err), WIRE_OK);
	assert_string_equal(out.error.ref_sender, "vm-a");
	assert_int_equal(out.error.ref_seq, 7);
	wire_msg_release(&out);

	/* an Error about a frame that could not be decoded names nobody */
	f.e.error.ref_sender = "";
	assert_int_equal(encode_decode(&f.e, &out, err, sizeof err), WIRE_OK);
	assert_string_equal(out.error.ref_sender, "");
	wire_msg_release(&out);

	/* releasing twice, or NULL, is harmless */
	wire_msg_release(&out);
	assert_nothing(&out);
	wire_msg_release(NULL);
}

/* Boundary values that must be accepted. */
static void test_accept_limits(void **state)
{
	fixture f;
	char *name = repeat('n', WIRE_MAX_NAME);

	(void)state;
	fx_init(&f);
	fx_env(&f, WIRE_BODY_BID)->sender = name;
	f.e.bid.demand_mib = WIRE_MAX_MIB;
	f.e.bid.pressure = 1e6;
	f.e.bid.guest_swap_mibps = WIRE_MAX_MIBPS;
	expect_ok(&f.e);

	/* (Ask.balloon_pressure = 1.0, its upper bound, was accepted here
	 * too: the field left the plain API, the broker never read it.) */
	fx_init(&f);
	fx_env(&f, WIRE_BODY_ASK);
	f.e.ask.free_mib = f.e.ask.capacity_mib;
	expect_ok(&f.e);

	fx_init(&f);
	fx_vm_register(&f);
	f.e.reg.vm.minimum_mib = f.e.reg.vm.startup_mib =
		f.e.reg.vm.maximum_mib = 1;
	f.e.reg.vm.reservation_mib = 1;
	f.e.reg.vm.limit_mib = 0;
	f.e.reg.vm.buffer_pct = 2000;
	f.e.reg.vm.weight = 10000;
	f.e.reg.vm.shares = 1000000;
	expect_ok(&f.e);

	fx_init(&f);
	fx_env(&f, WIRE_BODY_ACTION_REQUEST);
	f.e.action_request.kind = WIRE_ACTION_RESIZE;
	f.e.action_request.to_host = "";
	expect_ok(&f.e);

	fx_init(&f);
	fx_env(&f, WIRE_BODY_AWARD);
	f.e.award.n_vms = 0;
	expect_ok(&f.e);
	f.e.award.vms = NULL; /* no VMs, no array: the same */
	expect_ok(&f.e);

	fx_init(&f);
	fx_env(&f, WIRE_BODY_WELCOME);
	f.e.welcome.name = name;
	expect_ok(&f.e);

	fx_init(&f);
	fx_env(&f, WIRE_BODY_ERROR);
	f.e.error.ref_sender = name;
	expect_ok(&f.e);
	f.e.error.ref_sender = ""; /* the refused frame did not decode */
	expect_ok(&f.e);
	/* The same, built in memory. (It was checked in memory only: a
	 * protobuf envelope could not encode a NULL string; a plain message
	 * encodes NULL as "", so it round-trips too.) */
	f.e.error.ref_sender = NULL;
	check_err(wire_msg_validate(&f.e, NULL, 0), WIRE_OK, "", "");
	expect_ok(&f.e);
	free(name);
}

/* ---- frame-level refusals ---- */

static void test_empty(void **state)
{
	wire_msg out;
	uint8_t b = 0;
	char err[128];

	(void)state;
	memset(&out, 0xa5, sizeof out);
	check_err(wire_msg_decode(&b, 0, &out, NULL, err, sizeof err),
		  WIRE_EMPTY, err, "frame: empty");
	assert_nothing(&out);
	wire_msg_release(&out);
}

static void test_too_big(void **state)
{
	wire_msg out;
	uint8_t *buf = calloc(WIRE_MAX_FRAME + 1, 1);
	char err[128];

	(void)state;
	assert_non_null(buf);
	check_err(wire_msg_decode(buf, WIRE_MAX_FRAME + 1, &out, NULL, err,
				  sizeof err),
		  WIRE_TOO_BIG, err, "frame: 262145 bytes");
	assert_nothing(&out);
	/* At the limit the size is fine; zeros are not an envelope. */
	check_err(wire_msg_decode(buf, WIRE_MAX_FRAME, &out, NULL, err,
				  sizeof err),
		  WIRE_MALFORMED, err, "frame");
	free(buf);
}

/* wire_msg_encode() refuses to build what wire_msg_decode() would refuse. */
static void test_encode_too_big(void **state)
{
	enum { N = 2500 };
	fixture f;
	wire_vm_award *v = calloc(N, sizeof *v);
	char *name = repeat('v', 120);
	uint8_t *buf;
	size_t len = 99, len0, len1;

	(void)state;
	assert_non_null(v);
	for (size_t i = 0; i < N; i++) {
		v[i].vm = name;
		v[i].target_mib = 1024;
	}
	fx_init(&f);
	fx_env(&f, WIRE_BODY_AWARD);
	f.e.award.vms = v;
	/* The premise: N such VMs take more than a frame. (It was checked
	 * with protobuf-c's packed size of the envelope; the VMs being
	 * alike, the frame is the award without VMs plus N times one VM.) */
	f.e.award.n_vms = 0;
	buf = wire_msg_encode(&f.e, &len0);
	assert_non_null(buf);
	free(buf);
	f.e.award.n_vms = 1;
	buf = wire_msg_encode(&f.e, &len1);
	assert_non_null(buf);
	free(buf);
	assert_true(len0 + N * (len1 - len0) > WIRE_MAX_FRAME);
	f.e.award.n_vms = N;
	assert_null(wire_msg_encode(&f.e, &len));
	assert_int_equal(len, 0);
	/* 1,000 VMs with 40-byte names fit. */
	name[40] = '\0';
	f.e.award.n_vms = 1000;
	expect_ok(&f.e);
	free(name);
	free(v);
}

static void test_garbage(void **state)
{
	static const uint8_t frames[][8] = {
		{ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
		{ 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 },
		{ 0x1a, 0x7f, 'h', 'i', 0, 0, 0, 0 }, /* sender, length 127 */
		{ 0x52, 0x05, 0x0a, 0x03, 0x08, 0x01, 0, 0 },
		{ 0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof frames / sizeof frames[0]; i++)
		expect_frame(frames[i], sizeof frames[i], WIRE_MALFORMED,
			     "frame: 8 bytes");
}

/*
 * Field number 0 is not protobuf. protobuf-c 1.4.1 refuses it written in
 * one byte but takes it written as an overlong varint (0x80 0x00) and
 * re-encodes it unreadably (tests/fuzz/crashes/wire/): refused wherever it
 * is. Unknown fields with other numbers are kept (a newer peer's).
 */
static void test_field_zero(void **state)
{
	/* version 1, role host, sender "h1", seq 9 */
#define HEAD 0x08, 0x01, 0x10, 0x01, 0x1a, 0x02, 'h', '1', 0x20, 0x09
	/* heartbeat (12), uptime 5 */
	static const uint8_t ok[] = { HEAD, 0x62, 0x02, 0x08, 0x05 };
	/* the envelope carries field 0 (varint 0), tag written in 2 bytes */
	static const uint8_t top[] = { HEAD, 0x62, 0x02, 0x08, 0x05,
				       0x80, 0x00, 0x00 };
	/* the heartbeat carries it */
	static const uint8_t body[] = { HEAD, 0x62, 0x05, 0x08, 0x05,
					0x80, 0x00, 0x00 };
	/* register.host (10.1) carries it: capacity 1024, then field 0 as
	 * 1 length-delimited byte */
	static const uint8_t nested[] = { HEAD, 0x52, 0x09, 0x0a, 0x07,
					  0x08, 0x80, 0x08, 0x82, 0x00,
					  0x01, 'x' };
	/* unknown fields 100 (varint) and 21 (bytes): kept, fine */
	static const uint8_t unknown[] = { HEAD, 0x62, 0x02, 0x08, 0x05,
					   0xa0, 0x06, 0x01, 0xaa, 0x01,
					   0x01, 0x00 };
#undef HEAD

	(void)state;
	expect_frame(ok, sizeof ok, WIRE_OK, "");
	expect_frame(top, sizeof top, WIRE_MALFORMED, "field numbered 0");
	expect_frame(body, sizeof body, WIRE_MALFORMED, "field numbered 0");
	expect_frame(nested, sizeof nested, WIRE_MALFORMED,
		     "field numbered 0");
	expect_frame(unknown, sizeof unknown, WIRE_OK, "");
}

/*
 * A NUL inside a string: protobuf-c copies the string's bytes and ends
 * them with a NUL, so "vm-x\0evil" would read as "vm-x" (a VM registering
 * under another's name). Refused as malformed wherever it is; a string
 * without one, and an empty one, are fine.
 */
static void test_nul_in_string(void **state)
{
	/* version 1, role vm, seq 9; then heartbeat (12), uptime 5 */
#define HB 0x20, 0x09, 0x62, 0x02, 0x08, 0x05
	static const uint8_t ok[] = { 0x08, 0x01, 0x10, 0x02, 0x1a, 0x09,
				      'v', 'm', '-', 'x', 'e', 'v', 'i', 'l',
				      'x', HB };
	static const uint8_t sender[] = { 0x08, 0x01, 0x10, 0x02, 0x1a, 0x09,
					  'v', 'm', '-', 'x', 0, 'e', 'v',
					  'i', 'l', HB };
	static const uint8_t trailing[] = { 0x08, 0x01, 0x10, 0x02, 0x1a,
					    0x05, 'v', 'm', '-', 'x', 0, HB };
#undef HB
	/* role host "h1": deregister (11) with reason "a\0b", and with "" */
	static const uint8_t reason[] = { 0x08, 0x01, 0x10, 0x01, 0x1a, 0x02,
					  'h', '1', 0x20, 0x09, 0x5a, 0x05,
					  0x0a, 0x03, 'a', 0, 'b' };
	static const uint8_t empty[] = { 0x08, 0x01, 0x10, 0x01, 0x1a, 0x02,
					 'h', '1', 0x20, 0x09, 0x5a, 0x02,
					 0x0a, 0x00 };
	/* register.host.uri (10.1.3) "q\0" */
	static const uint8_t uri[] = { 0x08, 0x01, 0x10, 0x01, 0x1a, 0x02,
				       'h', '1', 0x20, 0x09, 0x52, 0x09, 0x0a,
				       0x07, 0x08, 0x80, 0x08, 0x1a, 0x02,
				       'q', 0 };

	(void)state;
	expect_frame(ok, sizeof ok, WIRE_OK, "");
	expect_frame(sender, sizeof sender, WIRE_MALFORMED,
		     "a NUL byte inside a string");
	expect_frame(trailing, sizeof trailing, WIRE_MALFORMED,
		     "a NUL byte inside a string");
	expect_frame(reason, sizeof reason, WIRE_MALFORMED,
		     "a NUL byte inside a string");
	expect_frame(empty, sizeof empty, WIRE_OK, "");
	expect_frame(uri, sizeof uri, WIRE_MALFORMED,
		     "a NUL byte inside a string");
}

/*
 * Control bytes (C0, DEL) are refused in names and URIs, which tables and
 * logs print; free text (a reason, a detail) may hold them and is escaped
 * where it is printed (util_escape()). Bytes above 0x7f stay allowed in a
 * URI (an IRI's UTF-8).
 */
static void test_control_bytes(void **state)
{
	static const char *const bad[] = { "qemu+ssh://h2/system\n1 row",
					   "\033[2Jqemu:///system",
					   "qemu:///sys\x7ftem", "\tqemu:///" };
	fixture f;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		fx_init(&f);
		fx_env(&f, WIRE_BODY_REGISTER);
		f.e.reg.host.uri = bad[i];
		expect_reject(&f.e, WIRE_BAD_FIELD, "register.host.uri: byte 0x");
		fx_init(&f);
		fx_env(&f, WIRE_BODY_ACTION_REQUEST);
		f.e.action_request.to_uri = bad[i];
		expect_reject(&f.e, WIRE_BAD_FIELD,
			      "action_request.to_uri: byte 0x");
	}
	fx_init(&f);
	fx_env(&f, WIRE_BODY_REGISTER);
	f.e.reg.host.uri = "qemu+ssh://h\xc3\xb6st/system";
	expect_ok(&f.e);
	f.e.sender = "h1\nbroker: forged";
	expect_reject(&f.e, WIRE_BAD_SENDER, "envelope.sender: \"h1\" is "
		      "followed by byte 0x0a");
	fx_init(&f);
	fx_env(&f, WIRE_BODY_DEREGISTER);
	f.e.deregister.reason = "done\nbroker: forged line\033[2J";
	expect_ok(&f.e);
	fx_init(&f);
	fx_env(&f, WIRE_BODY_ACTION_RESULT);
	f.e.action_result.detail = "failed\r\nbroker: all is well";
	expect_ok(&f.e);
}

/* Every proper prefix of every valid frame is refused, never crashes. */
static void test_truncated(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_BODIES; i++) {
		fixture f;
		size_t len;
		uint8_t *buf;

		fx_init(&f);
		buf = wire_msg_encode(fx_env(&f, all_bodies[i]), &len);
		assert_non_null(buf);
		for (size_t n = 0; n < len; n++) {
			wire_msg out;
			uint8_t *copy = malloc(n > 0 ? n : 1);
			char err[256];
			wire_reason r;

			/* A copy of exactly n bytes, so that ASan sees any
			 * read past the end. */
			assert_non_null(copy);
			memcpy(copy, buf, n);
			r = wire_msg_decode(copy, n, &out, NULL, err,
					    sizeof err);
			assert_int_not_equal(r, WIRE_OK);
			assert_true(r == WIRE_EMPTY || r == WIRE_MALFORMED ||
				    r >= WIRE_NO_BODY);
			assert_nothing(&out);
			assert_true(err[0] != '\0');
			free(copy);
		}
		free(buf);
	}
}

/* Random corruption of valid frames: whatever decodes also validates. */
static void test_corrupted(void **state)
{
	uint32_t rng = 12345;

	(void)state;
	for (int round = 0; round < 3000; round++) {
		fixture f;
		size_t len;
		uint8_t *buf;
		wire_msg out;
		char err[256];

		fx_init(&f);
		buf = wire_msg_encode(fx_env(&f, all_bodies[round % N_BODIES]),
				      &len);
		assert_non_null(buf);
		for (int k = 0; k < 1 + round % 4; k++) {
			rng = rng * 1103515245u + 12345u;
			buf[(rng >> 8) % len] = (uint8_t)(rng >> 20);
		}
		if (wire_msg_decode(buf, len, &out, NULL, err, sizeof err) ==
		    WIRE_OK) {
			assert_int_equal(wire_msg_validate(&out, err,
							   sizeof err),
					 WIRE_OK);
			wire_msg_release(&out);
		} else {
			assert_nothing(&out);
		}
		free(buf);
	}
}

static void test_version_mismatch(void **state)
{
	fixture f;
	wire_msg out;
	uint32_t peer = 0;
	size_t len;
	uint8_t *buf;
	char err[128];

	(void)state;
	fx_init(&f);
	fx_env(&f, WIRE_BODY_HEARTBEAT)->version = 7;
	buf = wire_msg_encode(&f.e, &len);
	assert_non_null(buf);
	check_err(wire_msg_decode(buf, len, &out, &peer, err, sizeof err),
		  WIRE_VERSION_MISMATCH, err, "envelope.version: 7");
	assert_int_equal(peer, 7);
	assert_nothing(&out);
	/* peer_version may be NULL */
	check_err(wire_msg_decode(buf, len, &out, NULL, err, sizeof err),
		  WIRE_VERSION_MISMATCH, err, "envelope.version");
	free(buf);
	/* Version 0 (the field left out) is a mismatch too. */
	f.e.version = 0;
	buf = wire_msg_encode(&f.e, &len);
	assert_non_null(buf);
	check_err(wire_msg_decode(buf, len, &out, &peer, err, sizeof err),
		  WIRE_VERSION_MISMATCH, err, "envelope.version: 0");
	assert_int_equal(peer, 0);
	free(buf);
}

/* ---- envelope refusals ---- */

static void test_no_body(void **state)
{
	/* A heartbeat's envelope without the heartbeat (version 1, role
	 * host, sender "h1", seq 9): raw bytes, since wire_msg_encode()
	 * does not encode a message without a body. */
	static const uint8_t none[] = { 0x08, 0x01, 0x10, 0x01, 0x1a, 0x02,
					'h', '1', 0x20, 0x09 };
	/* The same with a body this build does not know (field 20, empty):
	 * an unknown field, so no body either. */
	static const uint8_t newer[] = { 0x08, 0x01, 0x10, 0x01, 0x1a, 0x02,
					 'h', '1', 0x20, 0x09, 0xa2, 0x01,
					 0x00 };
	fixture f;
	size_t len = 99;
	uint8_t *buf;

	(void)state;
	fx_init(&f);
	fx_env(&f, WIRE_BODY_HEARTBEAT);
	f.e.body = WIRE_BODY_NONE;
	expect_invalid(&f.e, WIRE_NO_BODY, "envelope: no body");
	/* It encodes (tests send it) to the bytes written out below. */
	buf = wire_msg_encode(&f.e, &len);
	assert_non_null(buf);
	assert_int_equal(len, sizeof none);
	assert_memory_equal(buf, none, sizeof none);
	free(buf);
	expect_frame(none, sizeof none, WIRE_NO_BODY, "envelope: no body");
	expect_frame(newer, sizeof newer, WIRE_NO_BODY, "envelope: no body");
	/* This was a body case set with a NULL body (bid), refused as
	 * "envelope.bid". A plain message has no such thing: its body is
	 * inline. What it can hold instead is a body kind that names no
	 * body. */
	f.e.body = (wire_body)20;
	expect_invalid(&f.e, WIRE_NO_BODY, "envelope: unknown body case 20");
	assert_null(wire_msg_encode(&f.e, &len));
}

static void test_bad_sender(void **state)
{
	fixture f;
	char *long_name = repeat('x', WIRE_MAX_NAME + 1);

	(void)state;
	fx_init(&f);
	fx_env(&f, WIRE_BODY_HEARTBEAT)->sender = "";
	expect_reject(&f.e, WIRE_BAD_SENDER, "envelope.sender: \"\" is empty");
	f.e.sender = "web 01";
	expect_reject(&f.e, WIRE_BAD_SENDER,
		      "envelope.sender: \"web\" is followed by byte 0x20");
	f.e.sender = "tab\there";
	expect_reject(&f.e, WIRE_BAD_SENDER, "byte 0x09");
	f.e.sender = "caf\xc3\xa9";
	expect_reject(&f.e, WIRE_BAD_SENDER, "byte 0xc3");
	f.e.sender = long_name;
	expect_reject(&f.e, WIRE_BAD_SENDER,
		      "envelope.sender: longer than 128 bytes");
	/* NULL: in memory only before (protobuf could not encode it); a
	 * plain message encodes it as "", refused the same way. */
	f.e.sender = NULL;
	expect_reject(&f.e, WIRE_BAD_SENDER, "envelope.sender");
	f.e.sender = "h1";
	f.e.role = WIRE_ROLE_NONE;
	expect_reject(&f.e, WIRE_BAD_SENDER, "envelope.role: 0 is not");
	f.e.role = (wire_role)9; /* unknown enum value */
	expect_reject(&f.e, WIRE_BAD_SENDER, "envelope.role: 9 is not");
	free(long_name);
}

static void test_bad_role(void **state)
{
	static const struct {
		wire_body body;
		wire_role role;
		const char *needle;
	} cases[] = {
		{ WIRE_BODY_ASK, WIRE_ROLE_VM,
		  "envelope: a vm may not send ask" },
		{ WIRE_BODY_BID, WIRE_ROLE_HOST,
		  "envelope: a host may not send bid" },
		{ WIRE_BODY_BID, WIRE_ROLE_BROKER,
		  "a broker may not send bid" },
		{ WIRE_BODY_AWARD, WIRE_ROLE_HOST,
		  "a host may not send award" },
		{ WIRE_BODY_WELCOME, WIRE_ROLE_VM,
		  "a vm may not send welcome" },
		{ WIRE_BODY_ERROR, WIRE_ROLE_HOST,
		  "a host may not send error" },
		{ WIRE_BODY_ACTION_REQUEST, WIRE_ROLE_VM,
		  "a vm may not send action_request" },
		{ WIRE_BODY_REGISTER, WIRE_ROLE_BROKER,
		  "a broker may not send register" },
		{ WIRE_BODY_ACTION_RESULT, WIRE_ROLE_BROKER,
		  "a broker may not send action_result" },
	};
	fixture f;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		fx_init(&f);
		fx_env(&f, cases[i].body)->role = cases[i].role;
		expect_reject(&f.e, WIRE_BAD_ROLE, cases[i].needle);
	}

	/* The register's config must match the role. */
	fx_init(&f);
	fx_vm_register(&f)->role = WIRE_ROLE_HOST;
	expect_reject(&f.e, WIRE_BAD_ROLE,
		      "register.vm: a host may not register a vm");
	fx_env(&f, WIRE_BODY_REGISTER)->role = WIRE_ROLE_VM;
	expect_reject(&f.e, WIRE_BAD_ROLE,
		      "register.host: a vm may not register a host");
}

/* Heartbeat and deregister are allowed from every agent role, heartbeat
 * from the broker too. */
static void test_permissions(void **state)
{
	static const wire_role roles[] = { WIRE_ROLE_HOST, WIRE_ROLE_VM,
					   WIRE_ROLE_BROKER };
	fixture f;

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		fx_init(&f);
		fx_env(&f, WIRE_BODY_HEARTBEAT)->role = roles[i];
		expect_ok(&f.e);
		fx_env(&f, WIRE_BODY_DEREGISTER)->role = roles[i];
		if (roles[i] == WIRE_ROLE_BROKER)
			expect_reject(&f.e, WIRE_BAD_ROLE, "deregister");
		else
			expect_ok(&f.e);
		fx_env(&f, WIRE_BODY_ACTION_RESULT)->role = roles[i];
		if (roles[i] == WIRE_ROLE_BROKER)
			expect_reject(&f.e, WIRE_BAD_ROLE, "action_result");
		else
			expect_ok(&f.e);
	}
	fx_init(&f);
	expect_ok(fx_vm_register(&f));
}

/* ---- field refusals ---- */

static void test_register_fields(void **state)
{
	fixture f;
	char *uri = repeat('u', 256);

	(void)state;
	fx_init(&f);
	fx_vm_register(&f);
	/* Both and neither: the has_host and has_vm flags (a protobuf
	 * Register had the host and vm pointers). */
	f.e.reg.has_host = 1;
	f.e.reg.host = fx_host_config();
	expect_reject(&f.e, WIRE_BAD_FIELD, "register: both host and vm");
	f.e.reg.has_host = 0;
	f.e.reg.has_vm = 0;
	expect_reject(&f.e, WIRE_BAD_FIELD, "register: neither host nor vm");

	fx_init(&f);
	fx_env(&f, WIRE_BODY_REGISTER);
	f.e.reg.host.capacity_mib = 0;
	expect_reject(&f.e, WIRE_BAD_FIELD, "register.host.capacity_mib: 0");
	fx_init(&f);
	fx_env(&f, WIRE_BODY_REGISTER);
	f.e.reg.host.reserve_mib = f.e.reg.host.capacity_mib;
	expect_reject(&f.e, WIRE_BAD_FIELD,
		      "register.host.reserve_mib: 262144 is not less than");
	f.e.reg.host.reserve_mib = -1;
	expect_reject(&f.e, WIRE_BAD_FIELD,
		      "register.host.reserve_mib: -1 is negative");
	f.e.reg.host.reserve_mib = 0;
	f.e.reg.host.capacity_mib = WIRE_MAX_MIB + 1;
	expect_reject(&f.e, WIRE_BAD_FIELD,
		      "register.host.capacity_mib: 67108865 is more than");
	f.e.reg.host.capacity_mib = 1024;
	f.e.reg.host.uri = uri;
	expect_reject(&f.e, WIRE_BAD_FIELD,
		      "register.host.uri: longer than 255");
	uri[255] = '\0';
	expect_ok(&f.e);
	free(uri);
}

/* Each VM config mutation, and the field its message must name. */
static void test_vm_config_fields(void **state)
{
	static const struct {
		const char *what;
		int64_t startup, minimum, maximum, reservation, limit;
		uint32_t buffer, weight, shares;
		const char *needle;
	} cases[] = {
		{ "min>max", 4096, 8192, 2048, 0, 0, 20, 5000, 1000,
		  "register.vm.minimum_mib: 8192 is more than maximum_mib "
		  "(2048)" },
		{ "min>startup", 1024, 2048, 4096, 0, 0, 20, 5000, 1000,
		  "register.vm.minimum_mib: 2048 is more than startup_mib" },
		{ "startup>max", 8192, 1024, 4096, 0, 0, 20, 5000, 1000,
		  "register.vm.startup_mib: 8192 is more than maximum_mib" },
		{ "min 0", 1024, 0, 4096, 0, 0, 20, 5000, 1000,
		  "register.vm.minimum_mib: 0 is less than 1" },
		{ "negative", -1, 1024, 4096, 0, 0, 20, 5000, 1000,
		  "register.vm.startup_mib: -1 is negative" },
		{ "huge max", 1024, 1024, WIRE_MAX_MIB + 1, 0, 0, 20, 5000,
		  1000,
		  "register.vm.maximum_mib: 67108865" },
		{ "buffer", 1024, 1024, 4096, 0, 0, 2001, 5000, 1000,
		  "register.vm.buffer_pct: 2001 is not in 0..2000" },
		{ "weight", 1024, 1024, 4096, 0, 0, 20, 10001, 1000,
		  "register.vm.weight: 10001 is not in 0..10000" },
		{ "shares 0", 1024, 1024, 4096, 0, 0, 20, 5000, 0,
		  "register.vm.shares: 0 is not in 1..1000000" },
		{ "shares big", 1024, 1024, 4096, 0, 0, 20, 5000, 1000001,
		  "register.vm.shares: 1000001" },
		{ "resv>max", 1024, 1024, 4096, 8192, 0, 20, 5000, 1000,
		  "register.vm.reservation_mib: 8192 is more than "
		  "maximum_mib" },
		{ "limit<min", 1024, 1024, 4096, 0, 512, 20, 5000, 1000,
		  "register.vm.minimum_mib: 1024 is more than limit_mib "
		  "(512)" },
		{ "resv>limit", 1024, 1024, 4096, 3000, 2048, 20, 5000, 1000,
		  "register.vm.reservation_mib: 3000 is more than limit_mib" },
		{ "limit<0", 1024, 1024, 4096, 0, -1, 20, 5000, 1000,
		  "register.vm.limit_mib: -1 is negative" },
	};
	fixture f;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		wire_vm_config *vm = &f.e.reg.vm;

		fx_init(&f);
		fx_vm_register(&f);
		vm->startup_mib = cases[i].startup;
		vm->minimum_mib = cases[i].minimum;
		vm->maximum_mib = cases[i].maximum;
		vm->reservation_mib = cases[i].reservation;
		vm->limit_mib = cases[i].limit;
		vm->buffer_pct = cases[i].buffer;
		vm->weight = cases[i].weight;
		vm->shares = cases[i].shares;
		expect_reject(&f.e, WIRE_BAD_FIELD, cases[i].needle);
	}
	fx_init(&f);
	fx_vm_register(&f);
	f.e.reg.vm.host = "bad host";
	expect_reject(&f.e, WIRE_BAD_FIELD, "register.vm.host: \"bad\"");
}

static void test_bid_fields(void **state)
{
	fixture f;

	(void)state;
	fx_init(&f);
	fx_env(&f, WIRE_BODY_BID);
	f.e.bid.demand_mib = -5;
	expect_reject(&f.e, WIRE_BAD_FIELD, "bid.demand_mib: -5 is negative");
	f.e.bid.demand_mib = WIRE_MAX_MIB + 1;
	expect_reject(&f.e, WIRE_BAD_FIELD, "bid.demand_mib: 67108865");
	fx_init(&f);
	fx_env(&f, WIRE_BODY_BID);
	f.e.bid.pressure = NAN;
	expect_reject(&f.e, WIRE_BAD_FIELD, "bid.pressure: nan is not finite");
	f.e.bid.pressure = INFINITY;
	expect_reject(&f.e, WIRE_BAD_FIELD, "bid.pressure: inf is not finite");
	f.e.bid.pressure = -0.5;
	expect_reject(&f.e, WIRE_BAD_FIELD, "bid.pressure: -0.5 is negative");
	f.e.bid.pressure = 2e6;
	expect_reject(&f.e, WIRE_BAD_FIELD, "bid.pressure: 2e+06 is more than");
	fx_init(&f);
	fx_env(&f, WIRE_BODY_BID);
	f.e.bid.assigned_mib = -1;
	expect_reject(&f.e, WIRE_BAD_FIELD, "bid.assigned_mib: -1");
	fx_init(&f);
	fx_env(&f, WIRE_BODY_BID);
	f.e.bid.guest_swap_mibps = 1e7;
	expect_reject(&f.e, WIRE_BAD_FIELD, "bid.guest_swap_mibps: 1e+07");
	fx_init(&f);
	fx_env(&f, WIRE_BODY_BID);
	f.e.bid.balloon_mib = -2;
	expect_reject(&f.e, WIRE_BAD_FIELD, "bid.balloon_mib: -2");
}

/*
 * Ask.balloon_pressure and Ask.swap_pressure left the plain API (the
 * broker never read them; bourse.proto loses them too): their three cases
 * went ("ask.balloon_pressure: 1.5 is more than 1",
 * "ask.balloon_pressure: -inf", "ask.swap_pressure: nan"). What stays of
 * them: a frame from an agent that still sends them decodes, whatever they
 * hold (they are not checked), and re-encodes without them.
 */
static void test_ask_fields(void **state)
{
	/* An Ask from such an agent (version 1, role host, sender "h1",
	 * seq 9; capacity 1024, free 512, then field 5 = 1.5 and field 6 =
	 * NaN, doubles) and what it re-encodes to (the same without them). */
#define HEAD 0x08, 0x01, 0x10, 0x01, 0x1a, 0x02, 'h', '1', 0x20, 0x09
#define ASK 0x08, 0x80, 0x08, 0x10, 0x80, 0x04
	static const uint8_t old[] = {
		HEAD, 0x72, 0x18, ASK,
		0x29, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf8, 0x3f,
		0x31, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf8, 0x7f,
	};
	static const uint8_t now[] = { HEAD, 0x72, 0x06, ASK };
#undef ASK
#undef HEAD
	fixture f;
	wire_msg out;
	uint8_t *buf;
	size_t len;
	char err[256];

	(void)state;
	fx_init(&f);
	fx_env(&f, WIRE_BODY_ASK);
	f.e.ask.free_mib = f.e.ask.capacity_mib + 1;
	expect_reject(&f.e, WIRE_BAD_FIELD,
		      "ask.free_mib: 262145 is more than capacity_mib "
		      "(262144)");
	fx_init(&f);
	fx_env(&f, WIRE_BODY_ASK);
	f.e.ask.host_swap_mibps = -1;
	expect_reject(&f.e, WIRE_BAD_FIELD, "ask.host_swap_mibps: -1");
	fx_init(&f);
	fx_env(&f, WIRE_BODY_ASK);
	f.e.ask.capacity_mib = -1;
	expect_reject(&f.e, WIRE_BAD_FIELD, "ask.capacity_mib: -1");

	check_err(wire_msg_decode(old, sizeof old, &out, NULL, err,
				  sizeof err), WIRE_OK, err, "");
	assert_int_equal(out.body, WIRE_BODY_ASK);
	assert_int_equal(out.ask.capacity_mib, 1024);
	assert_int_equal(out.ask.free_mib, 512);
	buf = wire_msg_encode(&out, &len);
	assert_non_null(buf);
	assert_int_equal(len, sizeof now);
	assert_memory_equal(buf, now, sizeof now);
	free(buf);
	wire_msg_release(&out);
}

static void test_award_fields(void **state)
{
	fixture f;
	wire_vm_award *many = calloc(100001, sizeof *many);

	(void)state;
	assert_non_null(many);
	fx_init(&f);
	fx_env(&f, WIRE_BODY_AWARD);
	f.e.award.host = "";
	expect_reject(&f.e, WIRE_BAD_FIELD, "award.host: \"\" is empty");
	fx_init(&f);
	fx_env(&f, WIRE_BODY_AWARD);
	f.vma[1].vm = "vm b";
	expect_reject(&f.e, WIRE_BAD_FIELD, "award.vms[1].vm: \"vm\"");
	fx_init(&f);
	fx_env(&f, WIRE_BODY_AWARD);
	f.vma[2].price = NAN;
	expect_reject(&f.e, WIRE_BAD_FIELD, "award.vms[2].price: nan");
	fx_init(&f);
	fx_env(&f, WIRE_BODY_AWARD);
	f.vma[0].target_mib = -7;
	expect_reject(&f.e, WIRE_BAD_FIELD, "award.vms[0].target_mib: -7");
	fx_init(&f);
	fx_env(&f, WIRE_BODY_AWARD);
	f.e.award.utilization = -0.1;
	expect_reject(&f.e, WIRE_BAD_FIELD, "award.utilization: -0.1");
	/* In memory only: too many to encode, or missing entries. */
	fx_init(&f);
	fx_env(&f, WIRE_BODY_AWARD);
	for (size_t i = 0; i < 100001; i++)
		many[i] = f.vma[0];
	f.e.award.vms = many;
	f.e.award.n_vms = 100001;
	expect_invalid(&f.e, WIRE_BAD_FIELD,
		       "award.vms: 100001 VMs, more than 100000");
	f.e.award.n_vms = 100000;
	expect_invalid(&f.e, WIRE_OK, "");
	/* This was a NULL VmAward pointer at [1] ("award.vms[1]: missing").
	 * A plain award's VMs are one array of structs: what can be missing
	 * is the array itself (a count without it), or a VM's name. */
	f.e.award.n_vms = 3;
	f.e.award.vms = NULL;
	expect_invalid(&f.e, WIRE_BAD_FIELD, "award.vms: 3 VMs, but no array");
	f.e.award.vms = f.vma;
	f.vma[1].vm = NULL;
	expect_reject(&f.e, WIRE_BAD_FIELD, "award.vms[1].vm: \"\" is empty");
	free(many);
}

static void test_action_fields(void **state)
{
	fixture f;
	char *id = repeat('i', 65);

	(void)state;
	fx_init(&f);
	fx_env(&f, WIRE_BODY_ACTION_REQUEST);
	f.e.action_request.kind = (wire_action_kind)7; /* unknown value */
	expect_reject(&f.e, WIRE_BAD_FIELD, "action_request.kind: 7 is not");
	f.e.action_request.kind = WIRE_ACTION_NONE;
	expect_reject(&f.e, WIRE_BAD_FIELD, "action_request.kind: 0 is not");
	fx_init(&f);
	fx_env(&f, WIRE_BODY_ACTION_REQUEST);
	f.e.action_request.to_host = "";
	expect_reject(&f.e, WIRE_BAD_FIELD, "action_request.to_host: \"\"");
	fx_init(&f);
	fx_env(&f, WIRE_BODY_ACTION_REQUEST);
	f.e.action_request.id = "";
	expect_reject(&f.e, WIRE_BAD_FIELD, "action_request.id: \"\" is empty");
	f.e.action_request.id = id;
	expect_reject(&f.e, WIRE_BAD_FIELD,
		      "action_request.id: longer than 64 bytes");
	id[64] = '\0';
	expect_ok(&f.e);
	fx_init(&f);
	fx_env(&f, WIRE_BODY_ACTION_REQUEST);
	f.e.action_request.vm = "";
	expect_reject(&f.e, WIRE_BAD_FIELD, "action_request.vm");

	fx_init(&f);
	fx_env(&f, WIRE_BODY_ACTION_RESULT);
	f.e.action_result.status = (wire_action_status)99;
	expect_reject(&f.e, WIRE_BAD_FIELD, "action_result.status: 99");
	f.e.action_result.status = WIRE_STATUS_NONE;
	expect_reject(&f.e, WIRE_BAD_FIELD, "action_result.status: 0");
	f.e.action_result.status = WIRE_STATUS_OK;
	f.e.action_result.id = "a b";
	expect_reject(&f.e, WIRE_BAD_FIELD, "action_result.id: \"a\"");
	free(id);
}

/* Welcome.name is a name and required; Error.ref_sender is a name or
 * empty. */
static void test_broker_names(void **state)
{
	char *long_name = repeat('n', WIRE_MAX_NAME + 1);
	fixture fx, *f = &fx;

	(void)state;
	fx_init(f);

	fx_env(f, WIRE_BODY_WELCOME);
	f->e.welcome.name = "";
	expect_reject(&f->e, WIRE_BAD_FIELD, "welcome.name: \"\" is empty");
	/* NULL: in memory only before; a plain message encodes it as "",
	 * refused the same way. */
	f->e.welcome.name = NULL;
	expect_reject(&f->e, WIRE_BAD_FIELD, "welcome.name: \"\" is empty");
	f->e.welcome.name = "vm a";
	expect_reject(&f->e, WIRE_BAD_FIELD,
		      "welcome.name: \"vm\" is followed by byte 0x20");
	f->e.welcome.name = "vm\x7f";
	expect_reject(&f->e, WIRE_BAD_FIELD, "welcome.name: \"vm\" is followed "
		      "by byte 0x7f");
	f->e.welcome.name = long_name;
	expect_reject(&f->e, WIRE_BAD_FIELD, "welcome.name: longer than 128");
	f->e.welcome.name = "vm-a";

	fx_env(f, WIRE_BODY_ERROR);
	f->e.error.ref_sender = "vm\ta";
	expect_reject(&f->e, WIRE_BAD_FIELD,
		      "error.ref_sender: \"vm\" is followed by byte 0x09");
	f->e.error.ref_sender = " ";
	expect_reject(&f->e, WIRE_BAD_FIELD,
		      "error.ref_sender: \"\" is followed by byte 0x20");
	f->e.error.ref_sender = long_name;
	expect_reject(&f->e, WIRE_BAD_FIELD,
		      "error.ref_sender: longer than 128");
	f->e.error.ref_sender = "vm-a";
	free(long_name);
}

static void test_broker_fields(void **state)
{
	fixture f;
	char *text = repeat('t', 1025);

	(void)state;
	fx_init(&f);
	fx_env(&f, WIRE_BODY_ERROR);
	f.e.error.code = (wire_error_code)42;
	expect_reject(&f.e, WIRE_BAD_FIELD, "error.code: 42 is not");
	f.e.error.code = WIRE_ERR_NONE;
	expect_reject(&f.e, WIRE_BAD_FIELD, "error.code: 0 is not");
	f.e.error.code = WIRE_ERR_CONFLICT;
	f.e.error.message = text;
	expect_reject(&f.e, WIRE_BAD_FIELD, "error.message: longer than 1024");

	fx_init(&f);
	fx_env(&f, WIRE_BODY_WELCOME);
	f.e.welcome.heartbeat_ms = 0;
	expect_reject(&f.e, WIRE_BAD_FIELD, "welcome.heartbeat_ms: 0 is not");
	f.e.welcome.heartbeat_ms = 1000;
	f.e.welcome.liveness = 0;
	expect_reject(&f.e, WIRE_BAD_FIELD, "welcome.liveness: 0 is not");

	fx_init(&f);
	fx_env(&f, WIRE_BODY_DEREGISTER);
	f.e.deregister.reason = text;
	expect_reject(&f.e, WIRE_BAD_FIELD, "deregister.reason: longer than");
	text[1024] = '\0';
	expect_ok(&f.e);
	free(text);
}

/* ---- small API ---- */

static void test_names_and_codes(void **state)
{
	char *n128 = repeat('a', 128), *n129 = repeat('a', 129);
	char err[4];
	fixture f;

	(void)state;
	assert_string_equal(wire_reason_name(WIRE_OK), "ok");
	assert_string_equal(wire_reason_name(WIRE_TOO_BIG), "too_big");
	assert_string_equal(wire_reason_name(WIRE_EMPTY), "empty");
	assert_string_equal(wire_reason_name(WIRE_MALFORMED), "malformed");
	assert_string_equal(wire_reason_name(WIRE_VERSION_MISMATCH), "version");
	assert_string_equal(wire_reason_name(WIRE_NO_BODY), "no_body");
	assert_string_equal(wire_reason_name(WIRE_BAD_SENDER), "bad_sender");
	assert_string_equal(wire_reason_name(WIRE_BAD_ROLE), "bad_role");
	assert_string_equal(wire_reason_name(WIRE_BAD_FIELD), "bad_field");
	assert_string_equal(wire_reason_name(WIRE_N_REASONS), "unknown");

	assert_int_equal(wire_reason_error_code(WIRE_TOO_BIG),
			 WIRE_ERR_MALFORMED);
	assert_int_equal(wire_reason_error_code(WIRE_EMPTY),
			 WIRE_ERR_MALFORMED);
	assert_int_equal(wire_reason_error_code(WIRE_MALFORMED),
			 WIRE_ERR_MALFORMED);
	assert_int_equal(wire_reason_error_code(WIRE_VERSION_MISMATCH),
			 WIRE_ERR_VERSION);
	for (wire_reason r = WIRE_NO_BODY; r < WIRE_N_REASONS; r++)
		assert_int_equal(wire_reason_error_code(r), WIRE_ERR_INVALID);

	assert_true(wire_name_ok("h1"));
	assert_true(wire_name_ok("!~"));
	assert_true(wire_name_ok(n128));
	assert_false(wire_name_ok(n129));
	assert_false(wire_name_ok(NULL));
	assert_false(wire_name_ok(""));
	assert_false(wire_name_ok("a b"));
	assert_false(wire_name_ok("a\x7f"));
	assert_false(wire_name_ok("\x80"));

	/* A tiny error buffer is truncated, never overrun; NULL is fine. */
	fx_init(&f);
	fx_env(&f, WIRE_BODY_BID)->sender = "";
	assert_int_equal(wire_msg_validate(&f.e, err, sizeof err),
			 WIRE_BAD_SENDER);
	assert_string_equal(err, "env");
	assert_int_equal(wire_msg_validate(&f.e, NULL, 0), WIRE_BAD_SENDER);
	free(n128);
	free(n129);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_every_body),
		cmocka_unit_test(test_roundtrip_fields),
		cmocka_unit_test(test_accept_limits),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_too_big),
		cmocka_unit_test(test_encode_too_big),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_field_zero),
		cmocka_unit_test(test_nul_in_string),
		cmocka_unit_test(test_control_bytes),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_corrupted),
		cmocka_unit_test(test_version_mismatch),
		cmocka_unit_test(test_no_body),
		cmocka_unit_test(test_bad_sender),
		cmocka_unit_test(test_bad_role),
		cmocka_unit_test(test_permissions),
		cmocka_unit_test(test_register_fields),
		cmocka_unit_test(test_vm_config_fields),
		cmocka_unit_test(test_bid_fields),
		cmocka_unit_test(test_ask_fields),
		cmocka_unit_test(test_award_fields),
		cmocka_unit_test(test_action_fields),
		cmocka_unit_test(test_broker_fields),
		cmocka_unit_test(test_broker_names),
		cmocka_unit_test(test_names_and_codes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
