/*
 * vm_policy.c - a VM's bourse policy as XML (vm_policy.h): parsed with
 * libxml2, checked setting by setting, written back, and applied to the
 * VM's settings. No libvirt here (vm_policy_libvirt.c), so that a test
 * feeds the parser strings.
 *
 * A bad setting never fails the whole policy: it is warned about (one
 * line naming the domain and the element) and left to its default. Only a
 * document that is not XML, or whose root is not the bourse namespace's
 * <policy>, is refused as a whole (the caller warns and uses the
 * defaults).
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "util.h"
#include "vm_policy.h"
#include "wire.h"
#include "banned.h"

static const char *const field_names[VM_POLICY_N] = {
	"minimum", "maximum", "buffer", "weight", "reservation", "limit",
	"shares", "exclude",
};

const char *vm_policy_field_name(unsigned bit)
{
	for (unsigned i = 0; i < VM_POLICY_N; i++)
		if (bit == 1u << i)
			return field_names[i];
	return "?";
}

/* ---- sizes and numbers ---- */

struct unit {
	const char *name;
	double bytes;
};

static const struct unit units[] = {
	{ "b", 1 }, { "bytes", 1 },
	{ "k", 1024.0 }, { "KiB", 1024.0 }, { "KB", 1e3 },
	{ "M", 1048576.0 }, { "MiB", 1048576.0 }, { "MB", 1e6 },
	{ "G", 1073741824.0 }, { "GiB", 1073741824.0 }, { "GB", 1e9 },
	{ "T", 1099511627776.0 }, { "TiB", 1099511627776.0 }, { "TB", 1e12 },
};

/* Bytes per unit; "" is MiB; K and k alike (libvirt's). 0 if unknown. */
static double unit_bytes(const char *u)
{
	if (!*u)
		return 1048576.0;
	if (!strcmp(u, "K"))
		u = "k";
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(u, units[i].name))
			return units[i].bytes;
	return 0;
}

int vm_policy_size_mib(const char *text, const char *unit, int64_t *out,
		       char *err, size_t errlen)
{
	char *end = NULL;
	double v, per, mib;
	size_t num = text ? strspn(text, "0123456789.") : 0, dots = 0;

	*out = 0;
	/* digits and one point only: no sign, hex, exponent, inf or nan */
	for (size_t i = 0; i < num; i++)
		dots += text[i] == '.';
	if (num == 0 || dots > 1 || (num == 1 && dots == 1))
		return util_err(err, errlen, "'%s' is not a size (e.g. 2048, "
				"512MiB, 1.5G)", text ? text : "");
	errno = 0;
	v = strtod(text, &end);
	if (errno || !isfinite(v) || v < 0 || end != text + num)
		return util_err(err, errlen, "'%s' is not a size", text);
	if (*end && unit)
		return util_err(err, errlen, "'%s': a unit in the text and in "
				"the unit attribute ('%s')", text, unit);
	per = unit_bytes(unit ? unit : end);
	if (per == 0)
		return util_err(err, errlen, "'%s': unknown unit '%s' (b, KiB, "
				"MiB, GiB, TiB, KB, MB, GB, TB)", text,
				unit ? unit : end);
	mib = floor(v * per / 1048576.0);
	if (mib > (double)WIRE_MAX_MIB)
		return util_err(err, errlen, "'%s' is more than 64 TiB", text);
	*out = (int64_t)mib;
	return 0;
}

/* A whole number in [min, max], nothing else. */
static int parse_u32(const char *text, uint32_t min, uint32_t max,
		     uint32_t *out, char *err, size_t errlen)
{
	char *end = NULL;
	unsigned long long v;

	if (!*text || !isdigit((unsigned char)*text))
		return util_err(err, errlen, "'%s' is not a whole number", text);
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || *end || v < min || v > max)
		return util_err(err, errlen, "'%s' is not a whole number in "
				"%u..%u", text, min, max);
	*out = (uint32_t)v;
	return 0;
}

static int parse_bool(const char *text, int *out, char *err, size_t errlen)
{
	static const char *const yes[] = { "", "yes", "true", "1" };
	static const char *const no[] = { "no", "false", "0" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (!strcmp(text, yes[i])) {
			*out = 1;
			return 0;
		}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (!strcmp(text, no[i])) {
			*out = 0;
			return 0;
		}
	return util_err(err, errlen, "'%s' is not yes or no", text);
}

/* ---- one setting ---- */

static int size_in(const char *text, const char *unit, int64_t lo,
		   int64_t *out, char *err, size_t errlen)
{
	if (vm_policy_size_mib(text, unit, out, err, errlen) != 0)
		return -1;
	if (*out < lo)
		return util_err(err, errlen, "'%s%s%s' is less than %" PRId64
				" MiB", text, unit ? " " : "", unit ? unit : "",
				lo);
	return 0;
}

int vm_policy_set_field(vm_policy *p, unsigned bit, const char *text,
			const char *unit, char *err, size_t errlen)
{
	int rc = -1;

	if (unit && bit != VM_POLICY_MINIMUM && bit != VM_POLICY_MAXIMUM &&
	    bit != VM_POLICY_RESERVATION && bit != VM_POLICY_LIMIT)
		return util_err(err, errlen, "a unit on a setting that is not "
				"a size");
	switch (bit) {
	case VM_POLICY_MINIMUM:
		rc = size_in(text, unit, 1, &p->minimum_mib, err, errlen);
		break;
	case VM_POLICY_MAXIMUM:
		rc = size_in(text, unit, 1, &p->maximum_mib, err, errlen);
		break;
	case VM_POLICY_RESERVATION:
		rc = size_in(text, unit, 0, &p->reservation_mib, err, errlen);
		break;
	case VM_POLICY_LIMIT:
		rc = size_in(text, unit, 0, &p->limit_mib, err, errlen);
		break;
	case VM_POLICY_BUFFER:
		rc = parse_u32(text, 0, WIRE_MAX_BUFFER_PCT, &p->buffer_pct,
			       err, errlen);
		break;
	case VM_POLICY_WEIGHT:
		rc = parse_u32(text, 0, WIRE_MAX_WEIGHT, &p->weight, err,
			       errlen);
		break;
	case VM_POLICY_SHARES:
		rc = parse_u32(text, 1, WIRE_MAX_SHARES, &p->shares, err,
			       errlen);
		break;
	case VM_POLICY_EXCLUDE:
		rc = parse_bool(text, &p->exclude, err, errlen);
		break;
	}
	if (rc == 0)
		p->set |= bit;
	return rc;
}

/* The settings against each other: the first conflict, and the bit to
 * drop for it (0 if none). */
static unsigned conflict(const vm_policy *p, char *err, size_t errlen)
{
	unsigned s = p->set;
	int lim = (s & VM_POLICY_LIMIT) && p->limit_mib > 0;

	if ((s & VM_POLICY_MINIMUM) && (s & VM_POLICY_MAXIMUM) &&
	    p->minimum_mib > p->maximum_mib) {
		util_err(err, errlen, "%" PRId64 " MiB is above the maximum "
			 "(%" PRId64 " MiB)", p->minimum_mib, p->maximum_mib);
		return VM_POLICY_MINIMUM;
	}
	if ((s & VM_POLICY_MINIMUM) && lim && p->minimum_mib > p->limit_mib) {
		util_err(err, errlen, "%" PRId64 " MiB is above the limit "
			 "(%" PRId64 " MiB)", p->minimum_mib, p->limit_mib);
		return VM_POLICY_MINIMUM;
	}
	if ((s & VM_POLICY_RESERVATION) && (s & VM_POLICY_MAXIMUM) &&
	    p->reservation_mib > p->maximum_mib) {
		util_err(err, errlen, "%" PRId64 " MiB is above the maximum "
			 "(%" PRId64 " MiB)", p->reservation_mib,
			 p->maximum_mib);
		return VM_POLICY_RESERVATION;
	}
	if ((s & VM_POLICY_RESERVATION) && lim &&
	    p->reservation_mib > p->limit_mib) {
		util_err(err, errlen, "%" PRId64 " MiB is above the limit "
			 "(%" PRId64 " MiB)", p->reservation_mib, p->limit_mib);
		return VM_POLICY_RESERVATION;
	}
	return 0;
}

int vm_policy_check(const vm_policy *p, char *err, size_t errlen)
{
	char why[160];
	unsigned bad = conflict(p, why, sizeof(why));

	if (bad)
		return util_err(err, errlen, "%s: %s", vm_policy_field_name(bad),
				why);
	return 0;
}

void vm_policy_init(void)
{
	xmlInitParser();
}

/* ---- the document ---- */

struct parse_ctx {
	const char *domain;
	vm_policy_warn_fn warn;
	void *ctx;
};

static void warn(const struct parse_ctx *pc, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void warn(const struct parse_ctx *pc, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	util_verr(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (char *c = msg; *c; c++) /* one line, whatever the XML held */
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	if (pc->warn)
		pc->warn(pc->ctx, msg);
	else
		fprintf(stderr, "bourse: %s\n", msg);
}

static unsigned field_bit(const char *name)
{
	for (unsigned i = 0; i < VM_POLICY_N; i++)
		if (!strcmp(name, field_names[i]))
			return 1u << i;
	return 0;
}

/* The element's text without surrounding white space, into buf; -1 if
 * it does not fit (never cut: a cut number would be another number). */
static int node_text(xmlNode *n, char *buf, size_t len)
{
	xmlChar *t = xmlNodeGetContent(n);
	const char *s = t ? (const char *)t : "";
	size_t k = 0;
	int rc = 0;

	while (isspace((unsigned char)*s))
		s++;
	if (strlen(s) >= len)
		rc = -1;
	else
		k = (size_t)snprintf(buf, len, "%s", s);
	buf[k] = '\0';
	while (k > 0 && isspace((unsigned char)buf[k - 1]))
		buf[--k] = '\0';
	xmlFree(t);
	return rc;
}

static int ours(const xmlNode *n)
{
	return n->ns && n->ns->href &&
	       !strcmp((const char *)n->ns->href, VM_POLICY_NS);
}

static void child(const struct parse_ctx *pc, vm_policy *p, xmlNode *n)
{
	const char *name = (const char *)n->name;
	unsigned bit = field_bit(name);
	xmlChar *unit;
	char text[128], why[256];

	if (n->ns && !ours(n)) {
		warn(pc, "domain %s: bourse policy: <%.40s> of another "
		     "namespace (%.80s) is ignored", pc->domain, name,
		     n->ns->href ? (const char *)n->ns->href : "");
		return;
	}
	if (!bit) {
		warn(pc, "domain %s: bourse policy: unknown element <%.40s> is "
		     "ignored", pc->domain, name);
		return;
	}
	if (p->set & bit) {
		warn(pc, "domain %s: bourse policy: <%s> given twice: the "
		     "first one stands", pc->domain, name);
		return;
	}
	if (node_text(n, text, sizeof(text)) != 0) {
		warn(pc, "domain %s: bourse policy: <%s>: longer than %zu "
		     "bytes: the default is used", pc->domain, name,
		     sizeof(text) - 1);
		return;
	}
	unit = xmlGetNoNsProp(n, (const xmlChar *)"unit");
	if (vm_policy_set_field(p, bit, text, (const char *)unit, why,
				sizeof(why)))
		warn(pc, "domain %s: bourse policy: <%s>: %s: the default is "
		     "used", pc->domain, name, why);
	xmlFree(unit);
}

int vm_policy_parse(const char *xml, size_t len, const char *domain,
		    vm_policy *out, vm_policy_warn_fn warnfn, void *ctx,
		    char *err, size_t errlen)
{
	struct parse_ctx pc = { domain ? domain : "?", warnfn, ctx };
	xmlDoc *doc;
	xmlNode *root;
	unsigned bad;
	char why[256];

	memset(out, 0, sizeof(*out));
	if (!xml || len > INT32_MAX)
		return util_err(err, errlen, "no policy XML");
	vm_policy_init();
	doc = xmlReadMemory(xml, (int)len, "policy.xml", NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR |
			    XML_PARSE_NOWARNING);
	if (!doc)
		return util_err(err, errlen, "domain %s: the bourse metadata "
				"is not well-formed XML", pc.domain);
	if (doc->intSubset || doc->extSubset) { /* no entities to expand */
		xmlFreeDoc(doc);
		return util_err(err, errlen, "domain %s: the bourse metadata "
				"has a DTD, which it may not", pc.domain);
	}
	root = xmlDocGetRootElement(doc);
	/* virDomainGetMetadata() hands the element back without its
	 * namespace (it chose it by namespace); the domain's XML has it */
	if (!root || (root->ns && !ours(root)) ||
	    strcmp((const char *)root->name, "policy")) {
		xmlFreeDoc(doc);
		return util_err(err, errlen, "domain %s: the bourse metadata "
				"is not a <policy> element (of %s)", pc.domain,
				VM_POLICY_NS);
	}
	for (xmlNode *n = root->children; n; n = n->next)
		if (n->type == XML_ELEMENT_NODE)
			child(&pc, out, n);
	xmlFreeDoc(doc);
	while ((bad = conflict(out, why, sizeof(why))) != 0) {
		warn(&pc, "domain %s: bourse policy: <%s>: %s: the default is "
		     "used", pc.domain, vm_policy_field_name(bad), why);
		out->set &= ~bad;
	}
	return 0;
}

/* ---- writing ---- */

int vm_policy_format(const vm_policy *p, char *buf, size_t len)
{
	size_t at = 0;
	int n = snprintf(buf, len, "<policy>");

	for (unsigned i = 0; i < VM_POLICY_N && n >= 0; i++) {
		unsigned bit = 1u << i;
		const char *f = field_names[i];
		int64_t v = 0;
		int size = 1;

		at += (size_t)n;
		if (at >= len)
			return -1;
		if (!(p->set & bit)) {
			n = 0;
			continue;
		}
		switch (bit) {
		case VM_POLICY_MINIMUM: v = p->minimum_mib; break;
		case VM_POLICY_MAXIMUM: v = p->maximum_mib; break;
		case VM_POLICY_RESERVATION: v = p->reservation_mib; break;
		case VM_POLICY_LIMIT: v = p->limit_mib; break;
		case VM_POLICY_BUFFER: v = p->buffer_pct; size = 0; break;
		case VM_POLICY_WEIGHT: v = p->weight; size = 0; break;
		case VM_POLICY_SHARES: v = p->shares; size = 0; break;
		default: size = -1; break;
		}
		if (size < 0)
			n = snprintf(buf + at, len - at, "<%s>%s</%s>", f,
				     p->exclude ? "yes" : "no", f);
		else
			n = snprintf(buf + at, len - at, "<%s%s>%" PRId64
				     "</%s>", f, size ? " unit=\"MiB\"" : "",
				     v, f);
	}
	if (n < 0)
		return -1;
	at += (size_t)n;
	if (at >= len)
		return -1;
	n = snprintf(buf + at, len - at, "</policy>");
	return n < 0 || at + (size_t)n >= len ? -1 : 0;
}

/* ---- applying ---- */

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

void vm_policy_apply(const vm_policy *p, source_vm_config *out)
{
	int64_t dom_max = out->maximum_mib;
	unsigned s = p->set;

	if (s & VM_POLICY_MAXIMUM)
		out->maximum_mib = min64(p->maximum_mib, dom_max);
	if (s & VM_POLICY_MINIMUM)
		out->minimum_mib = p->minimum_mib;
	if (s & VM_POLICY_BUFFER)
		out->buffer_pct = p->buffer_pct;
	if (s & VM_POLICY_WEIGHT)
		out->weight = p->weight;
	if (s & VM_POLICY_SHARES)
		out->shares = p->shares;
	if (s & VM_POLICY_LIMIT)
		out->limit_mib = p->limit_mib;
	if (s & VM_POLICY_RESERVATION)
		out->reservation_mib = p->reservation_mib;
	/* within what the domain has, and what a VmConfig allows */
	out->minimum_mib = min64(out->minimum_mib, out->maximum_mib);
	out->reservation_mib = min64(out->reservation_mib, out->maximum_mib);
	if (out->limit_mib > 0) {
		out->minimum_mib = min64(out->minimum_mib, out->limit_mib);
		out->reservation_mib = min64(out->reservation_mib,
					     out->limit_mib);
	}
	if (out->minimum_mib < 1)
		out->minimum_mib = 1;
	if (out->startup_mib < out->minimum_mib)
		out->startup_mib = out->minimum_mib;
	if (out->startup_mib > out->maximum_mib)
		out->startup_mib = out->maximum_mib;
}
