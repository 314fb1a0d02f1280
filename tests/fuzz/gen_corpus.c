/*
 * gen_corpus.c - writes the seed corpus of the wire target
 * (tests/fuzz/corpus/wire/): one valid envelope of every message type, and
 * frames that are refused for each documented reason (truncated, wrong
 * version, NaN, negative, Minimum > Maximum, unknown enum, bad names, wrong
 * role, an Award with more VMs than allowed, merged bodies, unknown fields).
 * Run once by hand; its output is committed:
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

/* Pack without validating (wire_encode() only bounds the size). */
static uint8_t *pack(const Bourse__Envelope *e, size_t *len)
{
	uint8_t *buf = malloc(bourse__envelope__get_packed_size(e) + 1);

	if (buf == NULL)
		abort();
	*len = bourse__envelope__pack(e, buf);
	return buf;
}

static void emit(const char *name, const Bourse__Envelope *e)
{
	size_t len;
	uint8_t *buf = pack(e, &len);

	put(name, buf, len);
	free(buf);
}

/* Every valid message, and its variants. */
int main(int argc, char **argv)
{
	Bourse__Envelope e;
	Bourse__Register reg = BOURSE__REGISTER__INIT;
	Bourse__HostConfig hc = BOURSE__HOST_CONFIG__INIT;
	Bourse__VmConfig vc = BOURSE__VM_CONFIG__INIT;
	Bourse__Welcome w = BOURSE__WELCOME__INIT;
	Bourse__Deregister dr = BOURSE__DEREGISTER__INIT;
	Bourse__Heartbeat hb = BOURSE__HEARTBEAT__INIT;
	Bourse__Bid bid = BOURSE__BID__INIT;
	Bourse__Ask ask = BOURSE__ASK__INIT;
	Bourse__Award aw = BOURSE__AWARD__INIT;
	Bourse__VmAward va[2] = { BOURSE__VM_AWARD__INIT,
				  BOURSE__VM_AWARD__INIT };
	Bourse__VmAward *vap[2] = { &va[0], &va[1] };
	Bourse__ActionRequest rq = BOURSE__ACTION_REQUEST__INIT;
	Bourse__ActionResult rs = BOURSE__ACTION_RESULT__INIT;
	Bourse__Error er = BOURSE__ERROR__INIT;
	uint8_t *a, *b, *buf;
	size_t la, lb;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	g_dir = argv[1];

	/* register, host */
	hc.capacity_mib = 65536;
	hc.reserve_mib = 2048;
	hc.uri = "qemu+ssh://host-a/system";
	reg.host = &hc;
	wire_envelope_init(&e, BOURSE__ROLE__ROLE_HOST, "host-a", 1);
	e.body_case = BOURSE__ENVELOPE__BODY_REGISTER;
	e.register_ = &reg;
	emit("valid-register-host", &e);
	hc.reserve_mib = 65536;
	emit("bad-register-host-reserve-eq-capacity", &e);
	hc.reserve_mib = 2048;
	e.role = BOURSE__ROLE__ROLE_VM;
	emit("bad-register-host-from-vm", &e);
	e.role = BOURSE__ROLE__ROLE_HOST;
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
	e.role = BOURSE__ROLE__ROLE_UNSPECIFIED;
	emit("bad-role-0", &e);
	e.role = (Bourse__Role)7;
	emit("bad-role-7", &e);

	/* register, vm */
	vc.host = "host-a";
	vc.startup_mib = 4096;
	vc.minimum_mib = 1024;
	vc.maximum_mib = 8192;
	vc.buffer_pct = 20;
	vc.weight = 5000;
	vc.reservation_mib = 512;
	vc.limit_mib = 8192;
	vc.shares = 1000;
	reg.host = NULL;
	reg.vm = &vc;
	wire_envelope_init(&e, BOURSE__ROLE__ROLE_VM, "vm-1", 1);
	e.body_case = BOURSE__ENVELOPE__BODY_REGISTER;
	e.register_ = &reg;
	emit("valid-register-vm", &e);
	buf = pack(&e, &la);
	put("bad-truncated-register-vm", buf, la / 2);
	put("bad-truncated-register-vm-1", buf, la - 1);
	free(buf);
	vc.minimum_mib = 16384;
	emit("bad-register-vm-min-gt-max", &e);
	vc.minimum_mib = 1024;
	vc.maximum_mib = -5;
	emit("bad-register-vm-max-negative", &e);
	vc.maximum_mib = 1LL << 40;
	emit("bad-register-vm-max-absurd", &e);
	vc.maximum_mib = 8192;
	vc.shares = 0;
	emit("bad-register-vm-shares-0", &e);
	vc.shares = 1000;
	reg.host = &hc;
	emit("bad-register-both", &e);
	reg.host = NULL;

	/* welcome */
	w.heartbeat_ms = 1000;
	w.liveness = 3;
	w.round_ms = 5000;
	w.round = 7;
	w.name = "vm-1";
	wire_envelope_init(&e, BOURSE__ROLE__ROLE_BROKER, "broker", 1);
	e.body_case = BOURSE__ENVELOPE__BODY_WELCOME;
	e.welcome = &w;
	emit("valid-welcome", &e);
	w.name = "";
	emit("bad-welcome-no-name", &e);

	/* deregister, heartbeat */
	dr.reason = "shutting down";
	wire_envelope_init(&e, BOURSE__ROLE__ROLE_HOST, "host-a", 9);
	e.body_case = BOURSE__ENVELOPE__BODY_DEREGISTER;
	e.deregister = &dr;
	emit("valid-deregister", &e);
	hb.uptime_ms = 123456;
	e.body_case = BOURSE__ENVELOPE__BODY_HEARTBEAT;
	e.heartbeat = &hb;
	emit("valid-heartbeat", &e);
	e.heartbeat = NULL;
	e.body_case = BOURSE__ENVELOPE__BODY__NOT_SET;
	emit("bad-no-body", &e);

	/* bid */
	bid.demand_mib = 3000;
	bid.assigned_mib = 4096;
	bid.pressure = 73.2;
	bid.guest_swap_mibps = 0.5;
	bid.balloon_mib = 0;
	wire_envelope_init(&e, BOURSE__ROLE__ROLE_VM, "vm-1", 2);
	e.body_case = BOURSE__ENVELOPE__BODY_BID;
	e.bid = &bid;
	emit("valid-bid", &e);
	a = pack(&e, &la);
	bid.pressure = NAN;
	emit("bad-bid-pressure-nan", &e);
	bid.pressure = INFINITY;
	emit("bad-bid-pressure-inf", &e);
	bid.pressure = 73.2;
	bid.demand_mib = -5;
	emit("bad-bid-demand-negative", &e);
	bid.demand_mib = 3000;
	bid.guest_swap_mibps = -0.0001;
	emit("bad-bid-swap-negative", &e);
	bid.guest_swap_mibps = 0.5;
	e.role = BOURSE__ROLE__ROLE_HOST;
	emit("bad-bid-from-host", &e);

	/* ask */
	ask.capacity_mib = 65536;
	ask.free_mib = 10000;
	ask.balloon_mib = 1024;
	ask.host_swap_mibps = 2.5;
	ask.balloon_pressure = 0.1;
	ask.swap_pressure = 0.25;
	wire_envelope_init(&e, BOURSE__ROLE__ROLE_HOST, "host-a", 3);
	e.body_case = BOURSE__ENVELOPE__BODY_ASK;
	e.ask = &ask;
	emit("valid-ask", &e);
	b = pack(&e, &lb);
	ask.free_mib = 70000;
	emit("bad-ask-free-gt-capacity", &e);
	ask.free_mib = 10000;
	ask.balloon_pressure = 1.5;
	emit("bad-ask-balloon-pressure", &e);
	ask.balloon_pressure = 0.1;

	/* two bodies merged: a Bid frame followed by an Ask frame */
	buf = malloc(la + lb);
	if (buf == NULL)
		abort();
	memcpy(buf, a, la);
	memcpy(buf + la, b, lb);
	put("bad-merged-bid-ask", buf, la + lb);
	free(buf);
	/* the same frame twice: fields merge, the body stays one */
	buf = malloc(2 * lb + la + 3);
	if (buf == NULL)
		abort();
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

	/* award */
	va[0].vm = "vm-1";
	va[0].target_mib = 4096;
	va[0].want_mib = 4300;
	va[0].price = 1.25;
	va[0].pressure = 70;
	va[1].vm = "vm-2";
	va[1].target_mib = 2048;
	va[1].want_mib = 2048;
	va[1].price = 1.25;
	va[1].pressure = 99;
	aw.round = 7;
	aw.host = "host-a";
	aw.price = 1.25;
	aw.utilization = 0.8;
	aw.awarded_mib = 6144;
	aw.n_vms = 2;
	aw.vms = vap;
	wire_envelope_init(&e, BOURSE__ROLE__ROLE_BROKER, "broker", 4);
	e.body_case = BOURSE__ENVELOPE__BODY_AWARD;
	e.award = &aw;
	emit("valid-award", &e);
	va[1].price = NAN;
	emit("bad-award-vm-price-nan", &e);
	va[1].price = 1.25;
	va[1].vm = "";
	emit("bad-award-vm-no-name", &e);
	va[1].vm = "vm-2";
	aw.n_vms = 0;
	aw.vms = NULL;
	emit("valid-award-empty", &e);
	{
		/* more VMs than an Award may carry: 100001 empty VmAwards
		 * (field 6, length 0: two bytes each, a 200 KB frame) */
		Bourse__Award big = aw;
		Bourse__VmAward empty = BOURSE__VM_AWARD__INIT;
		size_t n = 100001;
		Bourse__VmAward **p = malloc(n * sizeof(*p));

		if (p == NULL)
			abort();
		for (size_t i = 0; i < n; i++)
			p[i] = &empty;
		big.n_vms = n;
		big.vms = p;
		e.award = &big;
		emit("bad-award-100001-vms", &e);
		e.award = &aw;
		free(p);
	}

	/* action request and result */
	rq.id = "r-42";
	rq.kind = BOURSE__ACTION_KIND__ACTION_MIGRATE;
	rq.vm = "vm-1";
	rq.target_mib = 4096;
	rq.to_host = "host-b";
	rq.to_uri = "qemu+ssh://host-b/system";
	rq.timeout_ms = 600000;
	wire_envelope_init(&e, BOURSE__ROLE__ROLE_BROKER, "broker", 5);
	e.body_case = BOURSE__ENVELOPE__BODY_ACTION_REQUEST;
	e.action_request = &rq;
	emit("valid-action-request-migrate", &e);
	rq.kind = BOURSE__ACTION_KIND__ACTION_RESIZE;
	rq.to_host = "";
	rq.to_uri = "";
	emit("valid-action-request-resize", &e);
	rq.kind = (Bourse__ActionKind)9;
	emit("bad-action-request-kind-9", &e);
	rs.id = "r-42";
	rs.status = BOURSE__ACTION_STATUS__ACTION_OK;
	rs.detail = "resized";
	wire_envelope_init(&e, BOURSE__ROLE__ROLE_HOST, "host-a", 10);
	e.body_case = BOURSE__ENVELOPE__BODY_ACTION_RESULT;
	e.action_result = &rs;
	emit("valid-action-result", &e);
	rs.status = (Bourse__ActionStatus)-1;
	emit("bad-action-result-status-negative", &e);

	/* error */
	er.code = BOURSE__ERROR_CODE__ERROR_SEQUENCE;
	er.message = "seq 3 is not after 5";
	er.ref_seq = 3;
	er.supported_version = WIRE_VERSION;
	er.ref_sender = "vm-1";
	wire_envelope_init(&e, BOURSE__ROLE__ROLE_BROKER, "broker", 6);
	e.body_case = BOURSE__ENVELOPE__BODY_ERROR;
	e.error = &er;
	emit("valid-error", &e);
	er.code = (Bourse__ErrorCode)8;
	emit("bad-error-code-8", &e);

	/* not protobuf at all */
	put("bad-garbage", "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 11);
	put("bad-overlong-varint",
	    "\x08\x81\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00", 12);
	return g_failed;
}
