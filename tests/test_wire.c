/*
 * test_wire.c - the wire codec: every body round-trips, every refusal reason
 * is reached by a case that triggers exactly it (with a message naming the
 * field), and hostile bytes (garbage, every truncation of every valid frame,
 * random corruption, oversized frames) never crash the decoder.
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
	Bourse__Envelope e;
	Bourse__Register reg;
	Bourse__HostConfig host;
	Bourse__VmConfig vm;
	Bourse__Welcome welcome;
	Bourse__Deregister dereg;
	Bourse__Heartbeat hb;
	Bourse__Bid bid;
	Bourse__Ask ask;
	Bourse__VmAward vma[3];
	Bourse__VmAward *vmap[3];
	Bourse__Award award;
	Bourse__ActionRequest areq;
	Bourse__ActionResult ares;
	Bourse__Error error;
} fixture;

static void fx_configs(fixture *f)
{
	bourse__register__init(&f->reg);
	bourse__host_config__init(&f->host);
	f->host.capacity_mib = 262144;
	f->host.reserve_mib = 4096;
	f->host.uri = "qemu+ssh://h1/system";
	bourse__vm_config__init(&f->vm);
	f->vm.host = "h1";
	f->vm.startup_mib = 4096;
	f->vm.minimum_mib = 1024;
	f->vm.maximum_mib = 16384;
	f->vm.buffer_pct = 20;
	f->vm.weight = 5000;
	f->vm.reservation_mib = 512;
	f->vm.limit_mib = 8192;
	f->vm.shares = 1000;
}

static void fx_samples(fixture *f)
{
	bourse__welcome__init(&f->welcome);
	f->welcome.heartbeat_ms = 1000;
	f->welcome.liveness = 3;
	f->welcome.round_ms = 5000;
	f->welcome.round = 42;
	f->welcome.name = "vm-a";
	bourse__deregister__init(&f->dereg);
	f->dereg.reason = "shutdown";
	bourse__heartbeat__init(&f->hb);
	f->hb.uptime_ms = 123456;
	bourse__bid__init(&f->bid);
	f->bid.demand_mib = 3000;
	f->bid.assigned_mib = 4096;
	f->bid.pressure = 73.2;
	f->bid.guest_swap_mibps = 0.5;
	f->bid.balloon_mib = 0;
	bourse__ask__init(&f->ask);
	f->ask.capacity_mib = 262144;
	f->ask.free_mib = 100000;
	f->ask.balloon_mib = 2048;
	f->ask.host_swap_mibps = 1.25;
	f->ask.balloon_pressure = 0.25;
	f->ask.swap_pressure = 0.1;
}

static void fx_broker(fixture *f)
{
	static const char *const names[3] = { "vm-a", "vm-b", "vm-c" };

	for (int i = 0; i < 3; i++) {
		bourse__vm_award__init(&f->vma[i]);
		f->vma[i].vm = (char *)names[i];
		f->vma[i].target_mib = 2048 * (i + 1);
		f->vma[i].want_mib = 2100 * (i + 1);
		f->vma[i].price = 0.75;
		f->vma[i].pressure = 90.5;
		f->vmap[i] = &f->vma[i];
	}
	bourse__award__init(&f->award);
	f->award.round = 42;
	f->award.host = "h1";
	f->award.price = 0.75;
	f->award.utilization = 1.2;
	f->award.awarded_mib = 12288;
	f->award.n_vms = 3;
	f->award.vms = f->vmap;
	bourse__action_request__init(&f->areq);
	f->areq.id = "act-1";
	f->areq.kind = BOURSE__ACTION_KIND__ACTION_MIGRATE;
	f->areq.vm = "vm-a";
	f->areq.target_mib = 4096;
	f->areq.to_host = "h2";
	f->areq.to_uri = "qemu+ssh://h2/system";
	f->areq.timeout_ms = 60000;
	bourse__action_result__init(&f->ares);
	f->ares.id = "act-1";
	f->ares.status = BOURSE__ACTION_STATUS__ACTION_UNSUPPORTED;
	f->ares.detail = "no actuator";
	bourse__error__init(&f->error);
	f->error.code = BOURSE__ERROR_CODE__ERROR_VERSION;
	f->error.message = "version 2 is not supported";
	f->error.ref_seq = 7;
	f->error.supported_version = WIRE_VERSION;
	f->error.ref_sender = "vm-a";
}

static void fx_init(fixture *f)
{
	memset(f, 0, sizeof *f);
	fx_configs(f);
	fx_samples(f);
	fx_broker(f);
}

/* An envelope from the usual sender of that body, with the body set. */
static Bourse__Envelope *fx_env(fixture *f, Bourse__Envelope__BodyCase body)
{
	Bourse__Envelope *e = &f->e;

	wire_envelope_init(e, BOURSE__ROLE__ROLE_HOST, "h1", 9);
	e->body_case = body;
	switch (body) {
	case BOURSE__ENVELOPE__BODY_REGISTER:
		f->reg.host = &f->host;
		f->reg.vm = NULL;
		e->register_ = &f->reg;
		break;
	case BOURSE__ENVELOPE__BODY_DEREGISTER:
		e->deregister = &f->dereg;
		break;
	case BOURSE__ENVELOPE__BODY_HEARTBEAT: e->heartbeat = &f->hb; break;
	case BOURSE__ENVELOPE__BODY_ASK: e->ask = &f->ask; break;
	case BOURSE__ENVELOPE__BODY_ACTION_RESULT:
		e->action_result = &f->ares;
		break;
	case BOURSE__ENVELOPE__BODY_BID:
		e->role = BOURSE__ROLE__ROLE_VM;
		e->sender = "vm-a";
		e->bid = &f->bid;
		break;
	default:
		e->role = BOURSE__ROLE__ROLE_BROKER;
		e->sender = "broker";
		if (body == BOURSE__ENVELOPE__BODY_AWARD)
			e->award = &f->award;
		else if (body == BOURSE__ENVELOPE__BODY_ACTION_REQUEST)
			e->action_request = &f->areq;
		else if (body == BOURSE__ENVELOPE__BODY_ERROR)
			e->error = &f->error;
		else if (body == BOURSE__ENVELOPE__BODY_WELCOME)
			e->welcome = &f->welcome;
		break;
	}
	return e;
}

/* A VM's Register. */
static Bourse__Envelope *fx_vm_register(fixture *f)
{
	Bourse__Envelope *e = fx_env(f, BOURSE__ENVELOPE__BODY_REGISTER);

	e->role = BOURSE__ROLE__ROLE_VM;
	e->sender = "vm-a";
	f->reg.host = NULL;
	f->reg.vm = &f->vm;
	return e;
}

static const Bourse__Envelope__BodyCase all_bodies[] = {
	BOURSE__ENVELOPE__BODY_REGISTER, BOURSE__ENVELOPE__BODY_DEREGISTER,
	BOURSE__ENVELOPE__BODY_HEARTBEAT, BOURSE__ENVELOPE__BODY_BID,
	BOURSE__ENVELOPE__BODY_ASK, BOURSE__ENVELOPE__BODY_AWARD,
	BOURSE__ENVELOPE__BODY_ACTION_REQUEST,
	BOURSE__ENVELOPE__BODY_ACTION_RESULT, BOURSE__ENVELOPE__BODY_ERROR,
	BOURSE__ENVELOPE__BODY_WELCOME,
};
#define N_BODIES (sizeof all_bodies / sizeof all_bodies[0])

/* ---- helpers ---- */

/* Encode e (must succeed) and decode it. */
static wire_reason encode_decode(const Bourse__Envelope *e,
				 Bourse__Envelope **out, char *err,
				 size_t errlen)
{
	size_t len;
	uint8_t *buf = wire_encode(e, &len);
	wire_reason r;

	assert_non_null(buf);
	assert_true(len > 0 && len <= WIRE_MAX_FRAME);
	r = wire_decode(buf, len, out, NULL, err, errlen);
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
 * wire_validate() in memory and by wire_decode() after encoding. */
static void expect_reject(const Bourse__Envelope *e, wire_reason want,
			  const char *needle)
{
	Bourse__Envelope *out = NULL;
	char err[256];

	check_err(wire_validate(e, err, sizeof err), want, err, needle);
	check_err(encode_decode(e, &out, err, sizeof err), want, err, needle);
	assert_null(out);
}

/* e must pass both in memory and after a round trip. */
static void expect_ok(const Bourse__Envelope *e)
{
	Bourse__Envelope *out = NULL;
	char err[256];

	check_err(wire_validate(e, err, sizeof err), WIRE_OK, err, "");
	check_err(encode_decode(e, &out, err, sizeof err), WIRE_OK, err, "");
	assert_non_null(out);
	wire_free(out);
}

/* Only in memory: things protobuf-c would never produce (NULL pointers,
 * counts too big to encode). */
static void expect_invalid(const Bourse__Envelope *e, wire_reason want,
			   const char *needle)
{
	char err[256];

	check_err(wire_validate(e, err, sizeof err), want, err, needle);
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
		Bourse__Envelope *e, *out = NULL;
		uint8_t *a, *b;
		size_t alen, blen;
		char err[256];

		fx_init(&f);
		e = fx_env(&f, all_bodies[i]);
		a = wire_encode(e, &alen);
		assert_non_null(a);
		check_err(wire_decode(a, alen, &out, NULL, err, sizeof err),
			  WIRE_OK, err, "");
		assert_int_equal(out->body_case, all_bodies[i]);
		assert_int_equal(out->version, WIRE_VERSION);
		assert_int_equal(out->role, e->role);
		assert_string_equal(out->sender, e->sender);
		assert_int_equal(out->seq, 9);
		/* Packing is deterministic: the same bytes mean the same
		 * fields, for every field of every body. */
		b = wire_encode(out, &blen);
		assert_non_null(b);
		assert_int_equal(alen, blen);
		assert_memory_equal(a, b, alen);
		free(a);
		free(b);
		wire_free(out);
	}
}

static void test_roundtrip_fields(void **state)
{
	fixture f;
	Bourse__Envelope *out = NULL;
	char err[256];

	(void)state;
	fx_init(&f);
	assert_int_equal(encode_decode(fx_vm_register(&f), &out, err,
				       sizeof err), WIRE_OK);
	assert_null(out->register_->host);
	assert_string_equal(out->register_->vm->host, "h1");
	assert_int_equal(out->register_->vm->minimum_mib, 1024);
	assert_int_equal(out->register_->vm->shares, 1000);
	wire_free(out);

	assert_int_equal(encode_decode(fx_env(&f, BOURSE__ENVELOPE__BODY_BID),
				       &out, err, sizeof err), WIRE_OK);
	assert_int_equal(out->bid->demand_mib, 3000);
	assert_true(out->bid->pressure == 73.2);
	wire_free(out);

	assert_int_equal(encode_decode(fx_env(&f, BOURSE__ENVELOPE__BODY_AWARD),
				       &out, err, sizeof err), WIRE_OK);
	assert_int_equal(out->award->n_vms, 3);
	assert_string_equal(out->award->vms[2]->vm, "vm-c");
	assert_int_equal(out->award->vms[2]->target_mib, 6144);
	wire_free(out);

	assert_int_equal(encode_decode(fx_env(&f, BOURSE__ENVELOPE__BODY_WELCOME),
				       &out, err, sizeof err), WIRE_OK);
	assert_string_equal(out->welcome->name, "vm-a");
	assert_int_equal(out->welcome->round, 42);
	wire_free(out);

	assert_int_equal(encode_decode(fx_env(&f, BOURSE__ENVELOPE__BODY_ERROR),
				       &out, err, sizeof err), WIRE_OK);
	assert_string_equal(out->error->ref_sender, "vm-a");
	assert_int_equal(out->error->ref_seq, 7);
	wire_free(out);

	/* an Error about a frame that could not be decoded names nobody */
	f.error.ref_sender = "";
	assert_int_equal(encode_decode(&f.e, &out, err, sizeof err), WIRE_OK);
	assert_string_equal(out->error->ref_sender, "");
	wire_free(out);

	wire_free(NULL);
}

/* Boundary values that must be accepted. */
static void test_accept_limits(void **state)
{
	fixture f;
	char *name = repeat('n', WIRE_MAX_NAME);

	(void)state;
	fx_init(&f);
	fx_env(&f, BOURSE__ENVELOPE__BODY_BID)->sender = name;
	f.bid.demand_mib = WIRE_MAX_MIB;
	f.bid.pressure = 1e6;
	f.bid.guest_swap_mibps = WIRE_MAX_MIBPS;
	expect_ok(&f.e);

	fx_init(&f);
	fx_env(&f, BOURSE__ENVELOPE__BODY_ASK);
	f.ask.free_mib = f.ask.capacity_mib;
	f.ask.balloon_pressure = 1.0;
	expect_ok(&f.e);

	fx_init(&f);
	fx_vm_register(&f);
	f.vm.minimum_mib = f.vm.startup_mib = f.vm.maximum_mib = 1;
	f.vm.reservation_mib = 1;
	f.vm.limit_mib = 0;
	f.vm.buffer_pct = 2000;
	f.vm.weight = 10000;
	f.vm.shares = 1000000;
	expect_ok(&f.e);

	fx_init(&f);
	fx_env(&f, BOURSE__ENVELOPE__BODY_ACTION_REQUEST);
	f.areq.kind = BOURSE__ACTION_KIND__ACTION_RESIZE;
	f.areq.to_host = "";
	expect_ok(&f.e);

	fx_init(&f);
	fx_env(&f, BOURSE__ENVELOPE__BODY_AWARD);
	f.award.n_vms = 0;
	expect_ok(&f.e);

	fx_init(&f);
	fx_env(&f, BOURSE__ENVELOPE__BODY_WELCOME);
	f.welcome.name = name;
	expect_ok(&f.e);

	fx_init(&f);
	fx_env(&f, BOURSE__ENVELOPE__BODY_ERROR);
	f.error.ref_sender = name;
	expect_ok(&f.e);
	f.error.ref_sender = ""; /* the refused frame did not decode */
	expect_ok(&f.e);
	f.error.ref_sender = NULL; /* the same, built in memory */
	check_err(wire_validate(&f.e, NULL, 0), WIRE_OK, "", "");
	free(name);
}

/* ---- frame-level refusals ---- */

static void test_empty(void **state)
{
	Bourse__Envelope *out = (Bourse__Envelope *)&out;
	uint8_t b = 0;
	char err[128];

	(void)state;
	check_err(wire_decode(&b, 0, &out, NULL, err, sizeof err), WIRE_EMPTY,
		  err, "frame: empty");
	assert_null(out);
}

static void test_too_big(void **state)
{
	Bourse__Envelope *out = NULL;
	uint8_t *buf = calloc(WIRE_MAX_FRAME + 1, 1);
	char err[128];

	(void)state;
	assert_non_null(buf);
	check_err(wire_decode(buf, WIRE_MAX_FRAME + 1, &out, NULL, err,
			      sizeof err),
		  WIRE_TOO_BIG, err, "frame: 262145 bytes");
	assert_null(out);
	/* At the limit the size is fine; zeros are not an envelope. */
	check_err(wire_decode(buf, WIRE_MAX_FRAME, &out, NULL, err, sizeof err),
		  WIRE_MALFORMED, err, "frame");
	free(buf);
}

/* wire_encode() refuses to build what wire_decode() would refuse. */
static void test_encode_too_big(void **state)
{
	enum { N = 2500 };
	fixture f;
	Bourse__VmAward *v = calloc(N, sizeof *v);
	Bourse__VmAward **p = calloc(N, sizeof *p);
	char *name = repeat('v', 120);
	size_t len = 99;

	(void)state;
	assert_non_null(v);
	assert_non_null(p);
	for (size_t i = 0; i < N; i++) {
		bourse__vm_award__init(&v[i]);
		v[i].vm = name;
		v[i].target_mib = 1024;
		p[i] = &v[i];
	}
	fx_init(&f);
	fx_env(&f, BOURSE__ENVELOPE__BODY_AWARD);
	f.award.n_vms = N;
	f.award.vms = p;
	assert_true(bourse__envelope__get_packed_size(&f.e) > WIRE_MAX_FRAME);
	assert_null(wire_encode(&f.e, &len));
	assert_int_equal(len, 0);
	/* 1,000 VMs with 40-byte names fit. */
	name[40] = '\0';
	f.award.n_vms = 1000;
	expect_ok(&f.e);
	free(name);
	free(p);
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
	char err[128];

	(void)state;
	for (size_t i = 0; i < sizeof frames / sizeof frames[0]; i++) {
		Bourse__Envelope *out = NULL;

		check_err(wire_decode(frames[i], sizeof frames[i], &out, NULL,
				      err, sizeof err),
			  WIRE_MALFORMED, err, "frame: 8 bytes");
		assert_null(out);
	}
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
		buf = wire_encode(fx_env(&f, all_bodies[i]), &len);
		assert_non_null(buf);
		for (size_t n = 0; n < len; n++) {
			Bourse__Envelope *out = NULL;
			uint8_t *copy = malloc(n > 0 ? n : 1);
			char err[256];
			wire_reason r;

			/* A copy of exactly n bytes, so that ASan sees any
			 * read past the end. */
			assert_non_null(copy);
			memcpy(copy, buf, n);
			r = wire_decode(copy, n, &out, NULL, err, sizeof err);
			assert_int_not_equal(r, WIRE_OK);
			assert_true(r == WIRE_EMPTY || r == WIRE_MALFORMED ||
				    r >= WIRE_NO_BODY);
			assert_null(out);
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
		Bourse__Envelope *out = NULL;
		char err[256];

		fx_init(&f);
		buf = wire_encode(fx_env(&f, all_bodies[round % N_BODIES]),
				  &len);
		assert_non_null(buf);
		for (int k = 0; k < 1 + round % 4; k++) {
			rng = rng * 1103515245u + 12345u;
			buf[(rng >> 8) % len] = (uint8_t)(rng >> 20);
		}
		if (wire_decode(buf, len, &out, NULL, err, sizeof err) ==
		    WIRE_OK) {
			assert_int_equal(wire_validate(out, err, sizeof err),
					 WIRE_OK);
			wire_free(out);
		} else {
			assert_null(out);
		}
		free(buf);
	}
}

static void test_version_mismatch(void **state)
{
	fixture f;
	Bourse__Envelope *out = NULL;
	uint32_t peer = 0;
	size_t len;
	uint8_t *buf;
	char err[128];

	(void)state;
	fx_init(&f);
	fx_env(&f, BOURSE__ENVELOPE__BODY_HEARTBEAT)->version = 7;
	buf = wire_encode(&f.e, &len);
	assert_non_null(buf);
	check_err(wire_decode(buf, len, &out, &peer, err, sizeof err),
		  WIRE_VERSION_MISMATCH, err, "envelope.version: 7");
	assert_int_equal(peer, 7);
	assert_null(out);
	/* peer_version may be NULL */
	check_err(wire_decode(buf, len, &out, NULL, err, sizeof err),
		  WIRE_VERSION_MISMATCH, err, "envelope.version");
	free(buf);
	/* Version 0 (the field left out) is a mismatch too. */
	f.e.version = 0;
	buf = wire_encode(&f.e, &len);
	assert_non_null(buf);
	check_err(wire_decode(buf, len, &out, &peer, err, sizeof err),
		  WIRE_VERSION_MISMATCH, err, "envelope.version: 0");
	assert_int_equal(peer, 0);
	free(buf);
}

/* ---- envelope refusals ---- */

static void test_no_body(void **state)
{
	fixture f;

	(void)state;
	fx_init(&f);
	fx_env(&f, BOURSE__ENVELOPE__BODY_HEARTBEAT);
	f.e.body_case = BOURSE__ENVELOPE__BODY__NOT_SET;
	expect_reject(&f.e, WIRE_NO_BODY, "envelope: no body");
	f.e.body_case = BOURSE__ENVELOPE__BODY_BID;
	f.e.bid = NULL;
	expect_invalid(&f.e, WIRE_NO_BODY, "envelope.bid");
}

static void test_bad_sender(void **state)
{
	fixture f;
	char *long_name = repeat('x', WIRE_MAX_NAME + 1);

	(void)state;
	fx_init(&f);
	fx_env(&f, BOURSE__ENVELOPE__BODY_HEARTBEAT)->sender = "";
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
	f.e.sender = NULL;
	expect_invalid(&f.e, WIRE_BAD_SENDER, "envelope.sender");
	f.e.sender = "h1";
	f.e.role = BOURSE__ROLE__ROLE_UNSPECIFIED;
	expect_reject(&f.e, WIRE_BAD_SENDER, "envelope.role: 0 is not");
	f.e.role = (Bourse__Role)9; /* unknown enum value */
	expect_reject(&f.e, WIRE_BAD_SENDER, "envelope.role: 9 is not");
	free(long_name);
}

static void test_bad_role(void **state)
{
	static const struct {
		Bourse__Envelope__BodyCase body;
		Bourse__Role role;
		const char *needle;
	} cases[] = {
		{ BOURSE__ENVELOPE__BODY_ASK, BOURSE__ROLE__ROLE_VM,
		  "envelope: a vm may not send ask" },
		{ BOURSE__ENVELOPE__BODY_BID, BOURSE__ROLE__ROLE_HOST,
		  "envelope: a host may not send bid" },
		{ BOURSE__ENVELOPE__BODY_BID, BOURSE__ROLE__ROLE_BROKER,
		  "a broker may not send bid" },
		{ BOURSE__ENVELOPE__BODY_AWARD, BOURSE__ROLE__ROLE_HOST,
		  "a host may not send award" },
		{ BOURSE__ENVELOPE__BODY_WELCOME, BOURSE__ROLE__ROLE_VM,
		  "a vm may not send welcome" },
		{ BOURSE__ENVELOPE__BODY_ERROR, BOURSE__ROLE__ROLE_HOST,
		  "a host may not send error" },
		{ BOURSE__ENVELOPE__BODY_ACTION_REQUEST, BOURSE__ROLE__ROLE_VM,
		  "a vm may not send action_request" },
		{ BOURSE__ENVELOPE__BODY_REGISTER, BOURSE__ROLE__ROLE_BROKER,
		  "a broker may not send register" },
		{ BOURSE__ENVELOPE__BODY_ACTION_RESULT,
		  BOURSE__ROLE__ROLE_BROKER,
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
	fx_vm_register(&f)->role = BOURSE__ROLE__ROLE_HOST;
	expect_reject(&f.e, WIRE_BAD_ROLE,
		      "register.vm: a host may not register a vm");
	fx_env(&f, BOURSE__ENVELOPE__BODY_REGISTER)->role =
		BOURSE__ROLE__ROLE_VM;
	expect_reject(&f.e, WIRE_BAD_ROLE,
		      "register.host: a vm may not register a host");
}

/* Heartbeat and deregister are allowed from every agent role, heartbeat
 * from the broker too. */
static void test_permissions(void **state)
{
	static const Bourse__Role roles[] = { BOURSE__ROLE__ROLE_HOST,
					      BOURSE__ROLE__ROLE_VM,
					      BOURSE__ROLE__ROLE_BROKER };
	fixture f;

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		fx_init(&f);
		fx_env(&f, BOURSE__ENVELOPE__BODY_HEARTBEAT)->role = roles[i];
		expect_ok(&f.e);
		fx_env(&f, BOURSE__ENVELOPE__BODY_DEREGISTER)->role = roles[i];
		if (roles[i] == BOURSE__ROLE__ROLE_BROKER)
			expect_reject(&f.e, WIRE_BAD_ROLE, "deregister");
		else
			expect_ok(&f.e);
		fx_env(&f, BOURSE__ENVELOPE__BODY_ACTION_RESULT)->role =
			roles[i];
		if (roles[i] == BOURSE__ROLE__ROLE_BROKER)
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
	f.reg.host = &f.host;
	expect_reject(&f.e, WIRE_BAD_FIELD, "register: both host and vm");
	f.reg.host = NULL;
	f.reg.vm = NULL;
	expect_reject(&f.e, WIRE_BAD_FIELD, "register: neither host nor vm");

	fx_init(&f);
	fx_env(&f, BOURSE__ENVELOPE__BODY_REGISTER);
	f.host.capacity_mib = 0;
	expect_reject(&f.e, WIRE_BAD_FIELD, "register.host.capacity_mib: 0");
	fx_init(&f);
	fx_env(&f, BOURSE__ENVELOPE__BODY_REGISTER);
	f.host.reserve_mib = f.host.capacity_mib;
	expect_reject(&f.e, WIRE_BAD_FIELD,
		      "register.host.reserve_mib: 262144 is not less than");
	f.host.reserve_mib = -1;
	expect_reject(&f.e, WIRE_BAD_FIELD,
		      "register.host.reserve_mib: -1 is negative");
	f.host.reserve_mib = 0;
	f.host.capacity_mib = WIRE_MAX_MIB + 1;
	expect_reject(&f.e, WIRE_BAD_FIELD,
		      "register.host.capacity_mib: 67108865 is more than");
	f.host.capacity_mib = 1024;
	f.host.uri = uri;
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
		fx_init(&f);
		fx_vm_register(&f);
		f.vm.startup_mib = cases[i].startup;
		f.vm.minimum_mib = cases[i].minimum;
		f.vm.maximum_mib = cases[i].maximum;
		f.vm.reservation_mib = cases[i].reservation;
		f.vm.limit_mib = cases[i].limit;
		f.vm.buffer_pct = cases[i].buffer;
		f.vm.weight = cases[i].weight;
		f.vm.shares = cases[i].shares;
		expect_reject(&f.e, WIRE_BAD_FIELD, cases[i].needle);
	}
	fx_init(&f);
	fx_vm_register(&f);
	f.vm.host = "bad host";
	expect_reject(&f.e, WIRE_BAD_FIELD, "register.vm.host: \"bad\"");
}

static void test_bid_fields(void **state)
{
	fixture f;

	(void)state;
	fx_init(&f);
	fx_env(&f, BOURSE__ENVELOPE__BODY_BID);
	f.bid.demand_mib = -5;
	expect_reject(&f.e, WIRE_BAD_FIELD, "bid.demand_mib: -5 is negative");
	f.bid.demand_mib = WIRE_MAX_MIB + 1;
	expect_reject(&f.e, WIRE_BAD_FIELD, "bid.demand_mib: 67108865");
	fx_init(&f);
	fx_env(&f, BOURSE__ENVELOPE__BODY_BID);
	f.bid.pressure = NAN;
	expect_reject(&f.e, WIRE_BAD_FIELD, "bid.pressure: nan is not finite");
	f.bid.pressure = INFINITY;
	expect_reject(&f.e, WIRE_BAD_FIELD, "bid.pressure: inf is not finite");
	f.bid.pressure = -0.5;
	expect_reject(&f.e, WIRE_BAD_FIELD, "bid.pressure: -0.5 is negative");
	f.bid.pressure = 2e6;
	expect_reject(&f.e, WIRE_BAD_FIELD, "bid.pressure: 2e+06 is more than");
	fx_init(&f);
	fx_env(&f, BOURSE__ENVELOPE__BODY_BID);
	f.bid.assigned_mib = -1;
	expect_reject(&f.e, WIRE_BAD_FIELD, "bid.assigned_mib: -1");
	fx_init(&f);
	fx_env(&f, BOURSE__ENVELOPE__BODY_BID);
	f.bid.guest_swap_mibps = 1e7;
	expect_reject(&f.e, WIRE_BAD_FIELD, "bid.guest_swap_mibps: 1e+07");
	fx_init(&f);
	fx_env(&f, BOURSE__ENVELOPE__BODY_BID);
	f.bid.balloon_mib = -2;
	expect_reject(&f.e, WIRE_BAD_FIELD, "bid.balloon_mib: -2");
}

static void test_ask_fields(void **state)
{
	fixture f;

	(void)state;
	fx_init(&f);
	fx_env(&f, BOURSE__ENVELOPE__BODY_ASK);
	f.ask.free_mib = f.ask.capacity_mib + 1;
	expect_reject(&f.e, WIRE_BAD_FIELD,
		      "ask.free_mib: 262145 is more than capacity_mib "
		      "(262144)");
	fx_init(&f);
	fx_env(&f, BOURSE__ENVELOPE__BODY_ASK);
	f.ask.balloon_pressure = 1.5;
	expect_reject(&f.e, WIRE_BAD_FIELD,
		      "ask.balloon_pressure: 1.5 is more than 1");
	f.ask.balloon_pressure = -INFINITY;
	expect_reject(&f.e, WIRE_BAD_FIELD, "ask.balloon_pressure: -inf");
	fx_init(&f);
	fx_env(&f, BOURSE__ENVELOPE__BODY_ASK);
	f.ask.swap_pressure = NAN;
	expect_reject(&f.e, WIRE_BAD_FIELD, "ask.swap_pressure: nan");
	fx_init(&f);
	fx_env(&f, BOURSE__ENVELOPE__BODY_ASK);
	f.ask.host_swap_mibps = -1;
	expect_reject(&f.e, WIRE_BAD_FIELD, "ask.host_swap_mibps: -1");
	fx_init(&f);
	fx_env(&f, BOURSE__ENVELOPE__BODY_ASK);
	f.ask.capacity_mib = -1;
	expect_reject(&f.e, WIRE_BAD_FIELD, "ask.capacity_mib: -1");
}

static void test_award_fields(void **state)
{
	fixture f;
	Bourse__VmAward **many = calloc(100001, sizeof *many);

	(void)state;
	assert_non_null(many);
	fx_init(&f);
	fx_env(&f, BOURSE__ENVELOPE__BODY_AWARD);
	f.award.host = "";
	expect_reject(&f.e, WIRE_BAD_FIELD, "award.host: \"\" is empty");
	fx_init(&f);
	fx_env(&f, BOURSE__ENVELOPE__BODY_AWARD);
	f.vma[1].vm = "vm b";
	expect_reject(&f.e, WIRE_BAD_FIELD, "award.vms[1].vm: \"vm\"");
	fx_init(&f);
	fx_env(&f, BOURSE__ENVELOPE__BODY_AWARD);
	f.vma[2].price = NAN;
	expect_reject(&f.e, WIRE_BAD_FIELD, "award.vms[2].price: nan");
	fx_init(&f);
	fx_env(&f, BOURSE__ENVELOPE__BODY_AWARD);
	f.vma[0].target_mib = -7;
	expect_reject(&f.e, WIRE_BAD_FIELD, "award.vms[0].target_mib: -7");
	fx_init(&f);
	fx_env(&f, BOURSE__ENVELOPE__BODY_AWARD);
	f.award.utilization = -0.1;
	expect_reject(&f.e, WIRE_BAD_FIELD, "award.utilization: -0.1");
	/* In memory only: too many to encode, or missing entries. */
	fx_init(&f);
	fx_env(&f, BOURSE__ENVELOPE__BODY_AWARD);
	for (size_t i = 0; i < 100001; i++)
		many[i] = &f.vma[0];
	f.award.vms = many;
	f.award.n_vms = 100001;
	expect_invalid(&f.e, WIRE_BAD_FIELD,
		       "award.vms: 100001 VMs, more than 100000");
	f.award.n_vms = 100000;
	expect_invalid(&f.e, WIRE_OK, "");
	f.award.n_vms = 3;
	f.award.vms = f.vmap;
	f.vmap[1] = NULL;
	expect_invalid(&f.e, WIRE_BAD_FIELD, "award.vms[1]: missing");
	free(many);
}

static void test_action_fields(void **state)
{
	fixture f;
	char *id = repeat('i', 65);

	(void)state;
	fx_init(&f);
	fx_env(&f, BOURSE__ENVELOPE__BODY_ACTION_REQUEST);
	f.areq.kind = (Bourse__ActionKind)7; /* unknown enum value */
	expect_reject(&f.e, WIRE_BAD_FIELD, "action_request.kind: 7 is not");
	f.areq.kind = BOURSE__ACTION_KIND__ACTION_UNSPECIFIED;
	expect_reject(&f.e, WIRE_BAD_FIELD, "action_request.kind: 0 is not");
	fx_init(&f);
	fx_env(&f, BOURSE__ENVELOPE__BODY_ACTION_REQUEST);
	f.areq.to_host = "";
	expect_reject(&f.e, WIRE_BAD_FIELD, "action_request.to_host: \"\"");
	fx_init(&f);
	fx_env(&f, BOURSE__ENVELOPE__BODY_ACTION_REQUEST);
	f.areq.id = "";
	expect_reject(&f.e, WIRE_BAD_FIELD, "action_request.id: \"\" is empty");
	f.areq.id = id;
	expect_reject(&f.e, WIRE_BAD_FIELD,
		      "action_request.id: longer than 64 bytes");
	id[64] = '\0';
	expect_ok(&f.e);
	fx_init(&f);
	fx_env(&f, BOURSE__ENVELOPE__BODY_ACTION_REQUEST);
	f.areq.vm = "";
	expect_reject(&f.e, WIRE_BAD_FIELD, "action_request.vm");

	fx_init(&f);
	fx_env(&f, BOURSE__ENVELOPE__BODY_ACTION_RESULT);
	f.ares.status = (Bourse__ActionStatus)99;
	expect_reject(&f.e, WIRE_BAD_FIELD, "action_result.status: 99");
	f.ares.status = BOURSE__ACTION_STATUS__ACTION_STATUS_UNSPECIFIED;
	expect_reject(&f.e, WIRE_BAD_FIELD, "action_result.status: 0");
	f.ares.status = BOURSE__ACTION_STATUS__ACTION_OK;
	f.ares.id = "a b";
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

	fx_env(f, BOURSE__ENVELOPE__BODY_WELCOME);
	f->welcome.name = "";
	expect_reject(&f->e, WIRE_BAD_FIELD, "welcome.name: \"\" is empty");
	f->welcome.name = NULL;
	expect_invalid(&f->e, WIRE_BAD_FIELD, "welcome.name: \"\" is empty");
	f->welcome.name = "vm a";
	expect_reject(&f->e, WIRE_BAD_FIELD,
		      "welcome.name: \"vm\" is followed by byte 0x20");
	f->welcome.name = "vm\x7f";
	expect_reject(&f->e, WIRE_BAD_FIELD, "welcome.name: \"vm\" is followed "
		      "by byte 0x7f");
	f->welcome.name = long_name;
	expect_reject(&f->e, WIRE_BAD_FIELD, "welcome.name: longer than 128");
	f->welcome.name = "vm-a";

	fx_env(f, BOURSE__ENVELOPE__BODY_ERROR);
	f->error.ref_sender = "vm\ta";
	expect_reject(&f->e, WIRE_BAD_FIELD,
		      "error.ref_sender: \"vm\" is followed by byte 0x09");
	f->error.ref_sender = " ";
	expect_reject(&f->e, WIRE_BAD_FIELD,
		      "error.ref_sender: \"\" is followed by byte 0x20");
	f->error.ref_sender = long_name;
	expect_reject(&f->e, WIRE_BAD_FIELD,
		      "error.ref_sender: longer than 128");
	f->error.ref_sender = "vm-a";
	free(long_name);
}

static void test_broker_fields(void **state)
{
	fixture f;
	char *text = repeat('t', 1025);

	(void)state;
	fx_init(&f);
	fx_env(&f, BOURSE__ENVELOPE__BODY_ERROR);
	f.error.code = (Bourse__ErrorCode)42;
	expect_reject(&f.e, WIRE_BAD_FIELD, "error.code: 42 is not");
	f.error.code = BOURSE__ERROR_CODE__ERROR_UNSPECIFIED;
	expect_reject(&f.e, WIRE_BAD_FIELD, "error.code: 0 is not");
	f.error.code = BOURSE__ERROR_CODE__ERROR_CONFLICT;
	f.error.message = text;
	expect_reject(&f.e, WIRE_BAD_FIELD, "error.message: longer than 1024");

	fx_init(&f);
	fx_env(&f, BOURSE__ENVELOPE__BODY_WELCOME);
	f.welcome.heartbeat_ms = 0;
	expect_reject(&f.e, WIRE_BAD_FIELD, "welcome.heartbeat_ms: 0 is not");
	f.welcome.heartbeat_ms = 1000;
	f.welcome.liveness = 0;
	expect_reject(&f.e, WIRE_BAD_FIELD, "welcome.liveness: 0 is not");

	fx_init(&f);
	fx_env(&f, BOURSE__ENVELOPE__BODY_DEREGISTER);
	f.dereg.reason = text;
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
			 BOURSE__ERROR_CODE__ERROR_MALFORMED);
	assert_int_equal(wire_reason_error_code(WIRE_EMPTY),
			 BOURSE__ERROR_CODE__ERROR_MALFORMED);
	assert_int_equal(wire_reason_error_code(WIRE_MALFORMED),
			 BOURSE__ERROR_CODE__ERROR_MALFORMED);
	assert_int_equal(wire_reason_error_code(WIRE_VERSION_MISMATCH),
			 BOURSE__ERROR_CODE__ERROR_VERSION);
	for (wire_reason r = WIRE_NO_BODY; r < WIRE_N_REASONS; r++)
		assert_int_equal(wire_reason_error_code(r),
				 BOURSE__ERROR_CODE__ERROR_INVALID);

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
	fx_env(&f, BOURSE__ENVELOPE__BODY_BID)->sender = "";
	assert_int_equal(wire_validate(&f.e, err, sizeof err), WIRE_BAD_SENDER);
	assert_string_equal(err, "env");
	assert_int_equal(wire_validate(&f.e, NULL, 0), WIRE_BAD_SENDER);
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
