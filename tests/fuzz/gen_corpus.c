/*
 * gen_corpus.c - writes the seed corpus of the wire target
 * (tests/fuzz/corpus/wire/): one valid envelope of every message type, and
 * frames that are refused for each documented reason (truncated, wrong
 * version, NaN, negative, Minimum > Maximum, unknown enum, bad names, wrong
 * role, an Award with more VMs than allowed, merged bodies, unknown fields).
 * Messages are built with wire.h's plain API (wire_msg_encode() does not
 * validate); what a message cannot hold (no body, an unknown field, field
 * number 0, garbage) is written as bytes. Run once by hand; its output is
 * committed:
 *
 *   build-test/tests/fuzz_gen_corpus tests/fuzz/corpus/wire
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"
#include "banned.h"

static const char *g_dir;
static int g_failed;

static void put(const char *name, const void *buf, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", g_dir, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "gen_corpus: cannot write %s\n", path);
		g_failed = 1;
	}
}

/* Encode without validating (wire_msg_encode() only bounds the size). */
static uint8_t *pack(const wire_msg *m, size_t *len)
{
	uint8_t *buf = wire_msg_encode(m, len);

	if (buf == NULL) {
		fprintf(stderr, "gen_corpus: a message does not encode\n");
		exit(1);
	}
	return buf;
}

static void emit(const char *name, const wire_msg *m)
{
	size_t len;
	uint8_t *buf = pack(m, &len);

	put(name, buf, len);
	free(buf);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n);

	if (p == NULL)
		abort();
	return p;
}

/*
 * An Ask as an agent that still sends Ask.balloon_pressure (field 5) and
 * Ask.swap_pressure (field 6) writes it: the plain API has neither (the
 * broker never read them), so they are appended to the body as bytes. The
 * body is the envelope's last field: the frame is the envelope's head (what
 * the same envelope with an empty heartbeat has before its 2 body bytes),
 * then tag 14, the body's length and the body. With the values the seeds
 * had (0.1, 0.25), this is the valid-ask seeds were before the fields went.
 */
static void emit_ask_old(const char *name, const wire_msg *ask)
{
	static const uint8_t old[] = {
		0x29, 0x9a, 0x99, 0x99, 0x99, 0x99, 0x99, 0xb9, 0x3f, /* 0.1 */
		0x31, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xd0, 0x3f, /* 0.25 */
	};
	wire_msg hb = *ask;
	uint8_t *a, *h, *buf;
	size_t la, lh, head, body;

	hb.body = WIRE_BODY_HEARTBEAT;
	hb.heartbeat = (wire_heartbeat){ 0 };
	a = pack(ask, &la);
	h = pack(&hb, &lh);
	head = lh - 2;
	body = la - head - 2;
	if (lh < 2 || la < head + 2 || memcmp(a, h, head) != 0 ||
	    a[head] != 0x72 || a[head + 1] != body ||
	    body + sizeof(old) >= 0x80) {
		fprintf(stderr, "gen_corpus: the Ask is not laid out as "
			"expected\n");
		exit(1);
	}
	buf = xmalloc(la + sizeof(old));
	memcpy(buf, a, la);
	buf[head + 1] = (uint8_t)(body + sizeof(old));
	memcpy(buf + la, old, sizeof(old));
	put(name, buf, la + sizeof(old));
	free(buf);
	free(h);
	free(a);
}

static void gen_register(void)
{
	wire_msg e;
	wire_host_config hc = {
		.capacity_mib = 65536,
		.reserve_mib = 2048,
		.uri = "qemu+ssh://host-a/system",
	};
	wire_vm_config vc = {
		.host = "host-a",
		.startup_mib = 4096,
		.minimum_mib = 1024,
		.maximum_mib = 8192,
		.buffer_pct = 20,
		.weight = 5000,
		.reservation_mib = 512,
		.limit_mib = 8192,
		.shares = 1000,
	};
	uint8_t *buf;
	size_t len;

	/* register, host */
	wire_msg_init(&e, WIRE_ROLE_HOST, "host-a", 1, WIRE_BODY_REGISTER);
	e.reg.has_host = 1;
	e.reg.host = hc;
	emit("valid-register-host", &e);
	e.reg.host.reserve_mib = 65536;
	emit("bad-register-host-reserve-eq-capacity", &e);
	e.reg.host.reserve_mib = 2048;
	e.role = WIRE_ROLE_VM;
	emit("bad-register-host-from-vm", &e);
	e.role = WIRE_ROLE_HOST;
	e.version = 2;
	emit("bad-version-2", &e);
	e.version = 0;
	emit("bad-version-0", &e);
	e.version = WIRE_VERSION;
	e.sender = "host a";
	emit("bad-sender-space", &e);
	e.sender = "";
	emit("bad-sender-empty", &e);
	e.sender = "host-a";
	e.role = WIRE_ROLE_NONE;
	emit("bad-role-0", &e);
	e.role = (wire_role)7;
	emit("bad-role-7", &e);

	/* register, vm */
	wire_msg_init(&e, WIRE_ROLE_VM, "vm-1", 1, WIRE_BODY_REGISTER);
	e.reg.has_vm = 1;
	e.reg.vm = vc;
	emit("valid-register-vm", &e);
	buf = pack(&e, &len);
	put("bad-truncated-register-vm", buf, len / 2);
	put("bad-truncated-register-vm-1", buf, len - 1);
	free(buf);
	e.reg.vm.minimum_mib = 16384;
	emit("bad-register-vm-min-gt-max", &e);
	e.reg.vm.minimum_mib = 1024;
	e.reg.vm.maximum_mib = -5;
	emit("bad-register-vm-max-negative", &e);
	e.reg.vm.maximum_mib = 1LL << 40;
	emit("bad-register-vm-max-absurd", &e);
	e.reg.vm.maximum_mib = 8192;
	e.reg.vm.shares = 0;
	emit("bad-register-vm-shares-0", &e);
	e.reg.vm.shares = 1000;
	e.reg.has_host = 1;
	e.reg.host = hc;
	emit("bad-register-both", &e);
}

static void gen_small(void)
{
	/* what the heartbeat below encodes to without its body (field 12):
	 * wire_msg_encode() does not encode a message without one */
	static const uint8_t no_body[] = {
		0x08, 0x01,                                   /* version 1 */
		0x10, 0x01,                                   /* role host */
		0x1a, 0x06, 'h', 'o', 's', 't', '-', 'a',    /* sender */
		0x20, 0x09,                                   /* seq 9 */
	};
	wire_msg e;

	/* welcome */
	wire_msg_init(&e, WIRE_ROLE_BROKER, "broker", 1, WIRE_BODY_WELCOME);
	e.welcome = (wire_welcome){
		.heartbeat_ms = 1000,
		.liveness = 3,
		.round_ms = 5000,
		.round = 7,
		.name = "vm-1",
	};
	emit("valid-welcome", &e);
	e.welcome.name = "";
	emit("bad-welcome-no-name", &e);

	/* deregister, heartbeat */
	wire_msg_init(&e, WIRE_ROLE_HOST, "host-a", 9, WIRE_BODY_DEREGISTER);
	e.deregister.reason = "shutting down";
	emit("valid-deregister", &e);
	wire_msg_init(&e, WIRE_ROLE_HOST, "host-a", 9, WIRE_BODY_HEARTBEAT);
	e.heartbeat.uptime_ms = 123456;
	emit("valid-heartbeat", &e);
	put("bad-no-body", no_body, sizeof(no_body));
}

static void gen_bid_ask(void)
{
	wire_msg e, ask;
	uint8_t *a, *b, *buf;
	size_t la, lb;

	/* bid */
	wire_msg_init(&e, WIRE_ROLE_VM, "vm-1", 2, WIRE_BODY_BID);
	e.bid = (wire_bid){
		.demand_mib = 3000,
		.assigned_mib = 4096,
		.pressure = 73.2,
		.guest_swap_mibps = 0.5,
		.balloon_mib = 0,
	};
	emit("valid-bid", &e);
	a = pack(&e, &la);
	e.bid.pressure = NAN;
	emit("bad-bid-pressure-nan", &e);
	e.bid.pressure = INFINITY;
	emit("bad-bid-pressure-inf", &e);
	e.bid.pressure = 73.2;
	e.bid.demand_mib = -5;
	emit("bad-bid-demand-negative", &e);
	e.bid.demand_mib = 3000;
	e.bid.guest_swap_mibps = -0.0001;
	emit("bad-bid-swap-negative", &e);
	e.bid.guest_swap_mibps = 0.5;
	e.role = WIRE_ROLE_HOST;
	emit("bad-bid-from-host", &e);

	/* ask (balloon_pressure 0.1 and swap_pressure 0.25 went with the
	 * fields, and the seed that set balloon_pressure to 1.5) */
	wire_msg_init(&ask, WIRE_ROLE_HOST, "host-a", 3, WIRE_BODY_ASK);
	ask.ask = (wire_ask){
		.capacity_mib = 65536,
		.free_mib = 10000,
		.balloon_mib = 1024,
		.host_swap_mibps = 2.5,
	};
	emit("valid-ask", &ask);
	emit_ask_old("valid-ask-old-pressures", &ask);
	b = pack(&ask, &lb);
	ask.ask.free_mib = 70000;
	emit("bad-ask-free-gt-capacity", &ask);

	/* two bodies merged: a Bid frame followed by an Ask frame */
	buf = xmalloc(la + lb);
	memcpy(buf, a, la);
	memcpy(buf + la, b, lb);
	put("bad-merged-bid-ask", buf, la + lb);
	free(buf);
	/* the same frame twice: fields merge, the body stays one */
	buf = xmalloc(2 * lb + la + 3);
	memcpy(buf, b, lb);
	memcpy(buf + lb, b, lb);
	put("valid-ask-twice", buf, 2 * lb);
	/* an unknown field (number 100, varint 1) after a valid frame */
	memcpy(buf, a, la);
	buf[la] = 0xa0;
	buf[la + 1] = 0x06;
	buf[la + 2] = 0x01;
	put("valid-bid-unknown-field", buf, la + 3);
	free(buf);
	free(a);
	free(b);
}

static void gen_award(void)
{
	wire_vm_award va[2] = {
		{ .vm = "vm-1", .target_mib = 4096, .want_mib = 4300,
		  .price = 1.25, .pressure = 70 },
		{ .vm = "vm-2", .target_mib = 2048, .want_mib = 2048,
		  .price = 1.25, .pressure = 99 },
	};
	wire_msg e;

	wire_msg_init(&e, WIRE_ROLE_BROKER, "broker", 4, WIRE_BODY_AWARD);
	e.award = (wire_award){
		.round = 7,
		.host = "host-a",
		.price = 1.25,
		.utilization = 0.8,
		.awarded_mib = 6144,
		.vms = va,
		.n_vms = 2,
	};
	emit("valid-award", &e);
	va[1].price = NAN;
	emit("bad-award-vm-price-nan", &e);
	va[1].price = 1.25;
	va[1].vm = "";
	emit("bad-award-vm-no-name", &e);
	va[1].vm = "vm-2";
	e.award.n_vms = 0;
	e.award.vms = NULL;
	emit("valid-award-empty", &e);
	{
		/* more VMs than an Award may carry: 100001 empty VmAwards
		 * (field 6, length 0: two bytes each, a 200 KB frame) */
		size_t n = 100001;
		wire_vm_award *p = calloc(n, sizeof(*p));

		if (p == NULL)
			abort();
		e.award.n_vms = n;
		e.award.vms = p;
		emit("bad-award-100001-vms", &e);
		free(p);
	}
}

static void gen_broker(void)
{
	wire_msg e;

	/* action request and result */
	wire_msg_init(&e, WIRE_ROLE_BROKER, "broker", 5,
		      WIRE_BODY_ACTION_REQUEST);
	e.action_request = (wire_action_request){
		.id = "r-42",
		.kind = WIRE_ACTION_MIGRATE,
		.vm = "vm-1",
		.target_mib = 4096,
		.to_host = "host-b",
		.to_uri = "qemu+ssh://host-b/system",
		.timeout_ms = 600000,
	};
	emit("valid-action-request-migrate", &e);
	e.action_request.kind = WIRE_ACTION_RESIZE;
	e.action_request.to_host = "";
	e.action_request.to_uri = "";
	emit("valid-action-request-resize", &e);
	e.action_request.kind = (wire_action_kind)9;
	emit("bad-action-request-kind-9", &e);
	wire_msg_init(&e, WIRE_ROLE_HOST, "host-a", 10,
		      WIRE_BODY_ACTION_RESULT);
	e.action_result = (wire_action_result){
		.id = "r-42",
		.status = WIRE_STATUS_OK,
		.detail = "resized",
	};
	emit("valid-action-result", &e);
	e.action_result.status = (wire_action_status)-1;
	emit("bad-action-result-status-negative", &e);

	/* error */
	wire_msg_init(&e, WIRE_ROLE_BROKER, "broker", 6, WIRE_BODY_ERROR);
	e.error = (wire_error){
		.code = WIRE_ERR_SEQUENCE,
		.message = "seq 3 is not after 5",
		.ref_seq = 3,
		.supported_version = WIRE_VERSION,
		.ref_sender = "vm-1",
	};
	emit("valid-error", &e);
	e.error.code = (wire_error_code)8;
	emit("bad-error-code-8", &e);
}

/* Every valid message, and its variants. */
int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	g_dir = argv[1];
	gen_register();
	gen_small();
	gen_bid_ask();
	gen_award();
	gen_broker();

	/* not protobuf at all */
	put("bad-garbage", "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 11);
	put("bad-overlong-varint",
	    "\x08\x81\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00", 12);
	return g_failed;
}
