/*
 * test_vm_policy.c - the per-VM policy XML (agents/vm_policy.c) fed as
 * strings: a whole policy, a partial one, each bad value warned about and
 * left to its default, the namespace, exclusion, sizes and units, the
 * settings against each other, applying a policy, and writing one that
 * parses back the same.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "source.h"
#include "vm_policy.h"
#include "banned.h"

#define NS "https://bourse.dev/xmlns/policy/1"

struct warns {
	char text[4096];
	int n;
};

static void collect(void *ctx, const char *msg)
{
	struct warns *w = ctx;
	size_t len = strlen(w->text);

	snprintf(w->text + len, sizeof(w->text) - len, "%s\n", msg);
	w->n++;
}

static vm_policy parse_ok(const char *xml, struct warns *w)
{
	vm_policy p;
	char err[256] = "";

	memset(w, 0, sizeof(*w));
	if (vm_policy_parse(xml, strlen(xml), "dom1", &p, collect, w, err,
			    sizeof(err)) != 0)
		fail_msg("vm_policy_parse: %s", err);
	return p;
}

static void parse_fails(const char *xml, const char *want)
{
	vm_policy p;
	char err[256] = "";
	struct warns w = { .n = 0 };

	assert_int_equal(vm_policy_parse(xml, strlen(xml), "dom1", &p, collect,
					 &w, err, sizeof(err)), -1);
	if (!strstr(err, want))
		fail_msg("wanted '%s' in '%s'", want, err);
	assert_int_equal(p.set, 0);
}

/* As written in the domain's XML: namespaced, every setting. */
static void test_full(void **state)
{
	struct warns w;
	vm_policy p = parse_ok(
		"<bourse:policy xmlns:bourse=\"" NS "\">\n"
		"  <bourse:minimum unit=\"GiB\">1</bourse:minimum>\n"
		"  <bourse:maximum unit=\"MiB\">8192</bourse:maximum>\n"
		"  <bourse:buffer> 25 </bourse:buffer>\n"
		"  <bourse:weight>8000</bourse:weight>\n"
		"  <bourse:reservation unit=\"KiB\">524288</bourse:reservation>\n"
		"  <bourse:limit>6144</bourse:limit>\n"
		"  <bourse:shares>2000</bourse:shares>\n"
		"  <bourse:exclude>no</bourse:exclude>\n"
		"</bourse:policy>\n", &w);

	(void)state;
	assert_int_equal(w.n, 0);
	assert_int_equal(p.set, (1u << VM_POLICY_N) - 1);
	assert_int_equal(p.minimum_mib, 1024);
	assert_int_equal(p.maximum_mib, 8192);
	assert_int_equal(p.buffer_pct, 25);
	assert_int_equal(p.weight, 8000);
	assert_int_equal(p.reservation_mib, 512);
	assert_int_equal(p.limit_mib, 6144);
	assert_int_equal(p.shares, 2000);
	assert_int_equal(p.exclude, 0);
}

/* As virDomainGetMetadata() hands it back: no namespace. Only what is
 * there is set. */
static void test_partial(void **state)
{
	struct warns w;
	vm_policy p = parse_ok("<policy><weight>10000</weight>"
			       "<minimum unit='G'>2</minimum></policy>", &w);

	(void)state;
	assert_int_equal(w.n, 0);
	assert_int_equal(p.set, VM_POLICY_WEIGHT | VM_POLICY_MINIMUM);
	assert_int_equal(p.weight, 10000);
	assert_int_equal(p.minimum_mib, 2048);
	p = parse_ok("<policy/>", &w);
	assert_int_equal(p.set, 0);
	assert_int_equal(w.n, 0);
}

/* Each bad value: one warning naming the domain and the element, that
 * setting unset, the others kept. */
static void test_bad_values(void **state)
{
	static const struct {
		const char *xml, *element, *why;
	} bad[] = {
		{ "<minimum>0</minimum>", "<minimum>", "less than 1 MiB" },
		{ "<minimum>-5</minimum>", "<minimum>", "not a size" },
		{ "<maximum>lots</maximum>", "<maximum>", "not a size" },
		{ "<maximum unit='PiB'>1</maximum>", "<maximum>", "unknown unit" },
		{ "<maximum>65T</maximum>", "<maximum>", "more than 64 TiB" },
		{ "<maximum unit='G'>4G</maximum>", "<maximum>", "a unit in the "
		  "text and" },
		{ "<buffer>2001</buffer>", "<buffer>", "0..2000" },
		{ "<buffer>1.5</buffer>", "<buffer>", "0..2000" },
		{ "<weight>10001</weight>", "<weight>", "0..10000" },
		{ "<weight unit='MiB'>5</weight>", "<weight>", "not a size" },
		{ "<shares>0</shares>", "<shares>", "1..1000000" },
		{ "<shares></shares>", "<shares>", "not a whole number" },
		{ "<exclude>maybe</exclude>", "<exclude>", "not yes or no" },
		{ "<colour>blue</colour>", "<colour>", "unknown element" },
	};
	char xml[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct warns w;
		vm_policy p;

		snprintf(xml, sizeof(xml), "<policy><limit>42</limit>%s"
			 "</policy>", bad[i].xml);
		p = parse_ok(xml, &w);
		if (w.n != 1 || !strstr(w.text, "domain dom1") ||
		    !strstr(w.text, bad[i].element) ||
		    !strstr(w.text, bad[i].why))
			fail_msg("%s: warnings: %s", bad[i].xml, w.text);
		assert_int_equal(p.set, VM_POLICY_LIMIT);
		assert_int_equal(p.limit_mib, 42);
	}
}

/* The settings against each other: the minimum or the reservation that
 * does not fit is dropped, with a warning. Twice the same element: the
 * first stands. */
static void test_conflicts(void **state)
{
	struct warns w;
	vm_policy p;

	(void)state;
	p = parse_ok("<policy><minimum>4096</minimum><maximum>2048</maximum>"
		     "</policy>", &w);
	assert_int_equal(p.set, VM_POLICY_MAXIMUM);
	assert_int_equal(w.n, 1);
	assert_non_null(strstr(w.text, "<minimum>: 4096 MiB is above the "
				       "maximum"));
	p = parse_ok("<policy><reservation>4096</reservation><limit>2048"
		     "</limit><minimum>1024</minimum></policy>", &w);
	assert_int_equal(p.set, VM_POLICY_LIMIT | VM_POLICY_MINIMUM);
	assert_non_null(strstr(w.text, "<reservation>"));
	p = parse_ok("<policy><limit>0</limit><reservation>4096</reservation>"
		     "</policy>", &w);
	assert_int_equal(w.n, 0); /* limit 0: none */
	assert_int_equal(p.set, VM_POLICY_LIMIT | VM_POLICY_RESERVATION);
	p = parse_ok("<policy><weight>1</weight><weight>2</weight></policy>",
		     &w);
	assert_int_equal(p.weight, 1);
	assert_non_null(strstr(w.text, "given twice"));
	/* a value too long is refused whole, never cut into another number;
	 * a warning stays one line whatever the value holds */
	p = parse_ok("<policy><weight>000000000000000000000000000000000000000"
		     "0000000000000000000000000000000000000000000000000000000"
		     "0000000000000000000000000000000000000000000005x</weight>"
		     "<shares>1&#10;2</shares></policy>", &w);
	assert_int_equal(p.set, 0);
	assert_int_equal(w.n, 2);
	assert_non_null(strstr(w.text, "<weight>: longer than 127 bytes"));
	assert_non_null(strstr(w.text, "'1?2' is not a whole number"));
}

static void test_namespace(void **state)
{
	struct warns w;
	vm_policy p;

	(void)state;
	parse_fails("<x:policy xmlns:x=\"https://example.org/other\">"
		    "<weight>1</weight></x:policy>", "not a <policy>");
	parse_fails("<rules><weight>1</weight></rules>", "not a <policy>");
	parse_fails("<policy><weight>1</weight>", "not well-formed");
	parse_fails("", "not well-formed");
	/* no DTD, so no entity to expand (billion laughs) */
	parse_fails("<!DOCTYPE policy [<!ENTITY a \"5\">]><policy><weight>&a;"
		    "</weight></policy>", "has a DTD");
	/* a child of another namespace is ignored, ours are taken */
	p = parse_ok("<b:policy xmlns:b=\"" NS "\" xmlns:o=\"urn:o\">"
		     "<o:weight>1</o:weight><b:shares>7</b:shares></b:policy>",
		     &w);
	assert_int_equal(p.set, VM_POLICY_SHARES);
	assert_int_equal(w.n, 1);
	assert_non_null(strstr(w.text, "another namespace"));
}

static void test_exclude(void **state)
{
	static const char *const yes[] = { "<exclude/>", "<exclude>yes</exclude>",
		"<exclude>true</exclude>", "<exclude> 1 </exclude>" };
	static const char *const no[] = { "<exclude>no</exclude>",
		"<exclude>false</exclude>", "<exclude>0</exclude>" };
	char xml[128];
	struct warns w;
	vm_policy p;

	(void)state;
	for (size_t i = 0; i < 4; i++) {
		snprintf(xml, sizeof(xml), "<policy>%s</policy>", yes[i]);
		p = parse_ok(xml, &w);
		assert_int_equal(p.set, VM_POLICY_EXCLUDE);
		assert_int_equal(p.exclude, 1);
	}
	for (size_t i = 0; i < 3; i++) {
		snprintf(xml, sizeof(xml), "<policy>%s</policy>", no[i]);
		p = parse_ok(xml, &w);
		assert_int_equal(p.set, VM_POLICY_EXCLUDE);
		assert_int_equal(p.exclude, 0);
	}
}

static void test_sizes(void **state)
{
	static const struct {
		const char *text, *unit;
		int64_t mib;
	} ok[] = {
		{ "2048", NULL, 2048 }, { "512MiB", NULL, 512 },
		{ "512M", NULL, 512 }, { "1.5G", NULL, 1536 },
		{ "4GiB", NULL, 4096 }, { "1T", NULL, 1048576 },
		{ "2", "GiB", 2048 }, { "1048576", "KiB", 1024 },
		{ "1048576", "k", 1024 }, { "1000", "MB", 953 },
		{ "1", "GB", 953 }, { "1073741824", "bytes", 1024 },
		{ "0", NULL, 0 }, { "1023", "KiB", 0 },
	};
	static const char *const bad[] = { "", "G", "-1G", "1X", "1 G",
		"nan", "inf", "1e400", "0x10", "65TiB" };
	char err[256];
	int64_t mib;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (vm_policy_size_mib(ok[i].text, ok[i].unit, &mib, err,
				       sizeof(err)) != 0)
			fail_msg("%s %s: %s", ok[i].text,
				 ok[i].unit ? ok[i].unit : "", err);
		assert_int_equal(mib, ok[i].mib);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (vm_policy_size_mib(bad[i], NULL, &mib, err,
				       sizeof(err)) == 0)
			fail_msg("'%s' taken as %lld MiB", bad[i],
				 (long long)mib);
}

/* A policy on the settings the defaults gave: each set field replaces
 * its default; the maximum stays within the domain's; the minimum, the
 * reservation and the startup stay within the maximum and the limit. */
static void test_apply(void **state)
{
	source_vm_defaults d;
	source_vm_config c;
	vm_policy p = { 0 };

	(void)state;
	source_vm_defaults_init(&d);
	source_vm_settings(&d, 8192, &c);
	c.startup_mib = 4096;
	vm_policy_apply(&p, &c); /* nothing set: the defaults */
	assert_int_equal(c.minimum_mib, 512);
	assert_int_equal(c.maximum_mib, 8192);
	assert_int_equal(c.weight, 5000);
	assert_int_equal(c.startup_mib, 4096);
	p.set = VM_POLICY_MINIMUM | VM_POLICY_MAXIMUM | VM_POLICY_WEIGHT |
		VM_POLICY_BUFFER | VM_POLICY_SHARES | VM_POLICY_RESERVATION;
	p.minimum_mib = 2048;
	p.maximum_mib = 16384; /* more than the domain has */
	p.weight = 9000;
	p.buffer_pct = 50;
	p.shares = 4000;
	p.reservation_mib = 1024;
	source_vm_settings(&d, 8192, &c);
	c.startup_mib = 1024;
	vm_policy_apply(&p, &c);
	assert_int_equal(c.maximum_mib, 8192);
	assert_int_equal(c.minimum_mib, 2048);
	assert_int_equal(c.startup_mib, 2048); /* raised to the minimum */
	assert_int_equal(c.weight, 9000);
	assert_int_equal(c.buffer_pct, 50);
	assert_int_equal(c.shares, 4000);
	assert_int_equal(c.reservation_mib, 1024);
	p.set |= VM_POLICY_LIMIT;
	p.limit_mib = 768;
	source_vm_settings(&d, 8192, &c);
	vm_policy_apply(&p, &c);
	assert_int_equal(c.limit_mib, 768);
	assert_true(c.minimum_mib <= 768 && c.reservation_mib <= 768);
	assert_true(c.startup_mib >= c.minimum_mib &&
		    c.startup_mib <= c.maximum_mib);
}

/* What vm_policy_format() writes parses back to the same policy;
 * vm_policy_check() refuses what the parser would drop. */
static void test_format_round_trip(void **state)
{
	vm_policy p = {
		.set = (1u << VM_POLICY_N) - 1, .minimum_mib = 1024,
		.maximum_mib = 4096, .buffer_pct = 30, .weight = 100,
		.reservation_mib = 512, .limit_mib = 3000, .shares = 50,
		.exclude = 1,
	}, q;
	char xml[1024], err[256];
	struct warns w;

	(void)state;
	assert_int_equal(vm_policy_check(&p, err, sizeof(err)), 0);
	assert_int_equal(vm_policy_format(&p, xml, sizeof(xml)), 0);
	q = parse_ok(xml, &w);
	assert_int_equal(w.n, 0);
	assert_memory_equal(&p, &q, sizeof(p));
	assert_int_equal(vm_policy_format(&p, xml, 40), -1);
	p.minimum_mib = 5000;
	assert_int_equal(vm_policy_check(&p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "minimum"));
	p.set = 0;
	assert_int_equal(vm_policy_format(&p, xml, sizeof(xml)), 0);
	assert_string_equal(xml, "<policy></policy>");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_partial),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_conflicts),
		cmocka_unit_test(test_namespace),
		cmocka_unit_test(test_exclude),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_apply),
		cmocka_unit_test(test_format_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
