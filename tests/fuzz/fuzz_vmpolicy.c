/*
 * fuzz_vmpolicy.c - the per-VM policy of a libvirt domain's <metadata>
 * (agents/vm_policy.c: vm_policy_parse(), vm_policy_size_mib(),
 * vm_policy_format(), vm_policy_apply()).
 *
 * Input: bytes 0..3 choose the domain's maximum memory (1 MiB..64 TiB),
 * bytes 4..7 its current memory (0..maximum); the rest is the metadata's
 * XML, and (its first line, up to 63 bytes) a size for
 * vm_policy_size_mib().
 *
 * Checked: a refused document says why and sets nothing; an accepted one
 * has every set field within its range and no conflict
 * (vm_policy_check()), each warning is one line naming the domain, its
 * written form parses back to the same policy without a warning; the
 * settings it gives a domain (the defaults, then the policy) make a VM
 * Register the broker would take; a size is 0..64 TiB or says why.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "source.h"
#include "vm_policy.h"
#include "wire.h"
#include "banned.h"

static int s_warnings;

static void on_warn(void *ctx, const char *msg)
{
	(void)ctx;
	s_warnings++;
	FUZZ_CHECK(!strchr(msg, '\n'), "a warning of more than one line");
	FUZZ_CHECK(!strncmp(msg, "domain vm-f: ", 13),
		   "a warning that does not name the domain: %.80s", msg);
}

static uint32_t le32(const uint8_t *d)
{
	return (uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16 |
	       (uint32_t)d[3] << 24;
}

static void check_ranges(const vm_policy *p)
{
	char err[256];

	FUZZ_CHECK(p->set < (1u << VM_POLICY_N), "unknown bits %#x", p->set);
	if (p->set & VM_POLICY_MINIMUM)
		FUZZ_CHECK(p->minimum_mib >= 1 && p->minimum_mib <= WIRE_MAX_MIB,
			   "minimum %" PRId64, p->minimum_mib);
	if (p->set & VM_POLICY_MAXIMUM)
		FUZZ_CHECK(p->maximum_mib >= 1 && p->maximum_mib <= WIRE_MAX_MIB,
			   "maximum %" PRId64, p->maximum_mib);
	if (p->set & VM_POLICY_RESERVATION)
		FUZZ_CHECK(p->reservation_mib >= 0 &&
			   p->reservation_mib <= WIRE_MAX_MIB,
			   "reservation %" PRId64, p->reservation_mib);
	if (p->set & VM_POLICY_LIMIT)
		FUZZ_CHECK(p->limit_mib >= 0 && p->limit_mib <= WIRE_MAX_MIB,
			   "limit %" PRId64, p->limit_mib);
	if (p->set & VM_POLICY_BUFFER)
		FUZZ_CHECK(p->buffer_pct <= WIRE_MAX_BUFFER_PCT, "buffer %u",
			   p->buffer_pct);
	if (p->set & VM_POLICY_WEIGHT)
		FUZZ_CHECK(p->weight <= WIRE_MAX_WEIGHT, "weight %u", p->weight);
	if (p->set & VM_POLICY_SHARES)
		FUZZ_CHECK(p->shares >= 1 && p->shares <= WIRE_MAX_SHARES,
			   "shares %u", p->shares);
	FUZZ_CHECK(p->exclude == 0 || p->exclude == 1, "exclude %d",
		   p->exclude);
	FUZZ_CHECK(vm_policy_check(p, err, sizeof(err)) == 0,
		   "an accepted policy has a conflict: %s", err);
}

static void check_round_trip(const vm_policy *p)
{
	char xml[2048], err[256];
	vm_policy q;

	FUZZ_CHECK(vm_policy_format(p, xml, sizeof(xml)) == 0,
		   "cannot write an accepted policy");
	s_warnings = 0;
	FUZZ_CHECK(vm_policy_parse(xml, strlen(xml), "vm-f", &q, on_warn, NULL,
				   err, sizeof(err)) == 0,
		   "its written form is refused: %s", err);
	FUZZ_CHECK(s_warnings == 0, "its written form warns");
	FUZZ_CHECK(q.set == p->set, "set %#x came back %#x", p->set, q.set);
	FUZZ_CHECK(!(p->set & VM_POLICY_MINIMUM) ||
		   q.minimum_mib == p->minimum_mib, "minimum changed");
	FUZZ_CHECK(!(p->set & VM_POLICY_MAXIMUM) ||
		   q.maximum_mib == p->maximum_mib, "maximum changed");
	FUZZ_CHECK(!(p->set & VM_POLICY_RESERVATION) ||
		   q.reservation_mib == p->reservation_mib,
		   "reservation changed");
	FUZZ_CHECK(!(p->set & VM_POLICY_LIMIT) || q.limit_mib == p->limit_mib,
		   "limit changed");
	FUZZ_CHECK(!(p->set & VM_POLICY_BUFFER) || q.buffer_pct == p->buffer_pct,
		   "buffer changed");
	FUZZ_CHECK(!(p->set & VM_POLICY_WEIGHT) || q.weight == p->weight,
		   "weight changed");
	FUZZ_CHECK(!(p->set & VM_POLICY_SHARES) || q.shares == p->shares,
		   "shares changed");
	FUZZ_CHECK(!(p->set & VM_POLICY_EXCLUDE) || q.exclude == p->exclude,
		   "exclude changed");
}

static void check_size(const uint8_t *data, size_t size)
{
	char text[64], err[256];
	size_t n = 0;
	int64_t mib = -1;

	while (n < size && n < sizeof(text) - 1 && data[n] != '\n' &&
	       data[n] != '\0') {
		text[n] = (char)data[n];
		n++;
	}
	text[n] = '\0';
	err[0] = '\0';
	if (vm_policy_size_mib(text, NULL, &mib, err, sizeof(err)) == 0)
		FUZZ_CHECK(mib >= 0 && mib <= WIRE_MAX_MIB, "size %" PRId64,
			   mib);
	else
		FUZZ_CHECK(err[0] && mib == 0, "a refused size without a "
			   "message, or with a value");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	source_vm_defaults d;
	source_vm_config c;
	int64_t max_mib, cur_mib;
	vm_policy p;
	char err[256] = "";
	int rc;

	if (size < 8)
		return 0;
	max_mib = 1 + (int64_t)(le32(data) % (uint32_t)WIRE_MAX_MIB);
	cur_mib = (int64_t)(le32(data + 4) % (uint32_t)(max_mib + 1));
	data += 8;
	size -= 8;
	check_size(data, size);
	s_warnings = 0;
	rc = vm_policy_parse((const char *)data, size, "vm-f", &p, on_warn,
			     NULL, err, sizeof(err));
	if (rc != 0) {
		FUZZ_CHECK(err[0] && fuzz_terminated(err, sizeof(err)) &&
			   !strchr(err, '\n'), "a refusal without a message");
		FUZZ_CHECK(p.set == 0, "a refused policy sets %#x", p.set);
	} else {
		check_ranges(&p);
		check_round_trip(&p);
	}
	source_vm_defaults_init(&d);
	source_vm_settings(&d, max_mib, &c);
	c.name = "vm-f";
	c.startup_mib = cur_mib;
	vm_policy_apply(&p, &c);
	FUZZ_CHECK(c.maximum_mib <= max_mib, "maximum above the domain's");
	FUZZ_CHECK(p.set & VM_POLICY_MINIMUM || c.minimum_mib <= 512,
		   "default minimum raised");
	fuzz_check_vm_config(&c);
	return 0;
}
