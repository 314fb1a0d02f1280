/*
 * vm_policy_libvirt.c - a domain's bourse policy read and written through
 * libvirt's metadata API (virDomainGetMetadata / virDomainSetMetadata with
 * VIR_DOMAIN_METADATA_ELEMENT and the namespace VM_POLICY_NS), for
 * `bourse vm-policy show|set`. The agent's libvirt source reads the same
 * element on its own connection (source_libvirt.c).
 *
 * libvirt prints its errors on stderr by default; this file silences that
 * for the process (virSetErrorFunc, as the libvirt source does) and puts
 * virGetLastErrorMessage() in its own messages.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "util.h"
#include "vm_policy.h"
#include "banned.h"

static void quiet(void *ctx, virErrorPtr e)
{
	(void)ctx;
	(void)e;
}

/* The connection and the domain, or -1 with a message. */
static int open_dom(const char *uri, const char *domain, virConnectPtr *c,
		    virDomainPtr *d, int readonly, char *err, size_t errlen)
{
	virSetErrorFunc(NULL, quiet);
	*d = NULL;
	*c = readonly ? virConnectOpenReadOnly(uri) : virConnectOpen(uri);
	if (!*c)
		return util_err(err, errlen, "cannot connect to libvirt at %s: "
				"%s", uri, virGetLastErrorMessage());
	*d = virDomainLookupByName(*c, domain);
	if (!*d) {
		util_err(err, errlen, "%s: no domain named '%s' (%s)", uri,
			 domain, virGetLastErrorMessage());
		virConnectClose(*c);
		*c = NULL;
		return -1;
	}
	return 0;
}

static void close_dom(virConnectPtr c, virDomainPtr d)
{
	if (d)
		virDomainFree(d);
	if (c)
		virConnectClose(c);
}

static int dom_facts(virDomainPtr d, const char *domain,
		     vm_policy_domain *out, char *err, size_t errlen)
{
	virDomainInfo info;

	if (virDomainGetInfo(d, &info) < 0)
		return util_err(err, errlen, "domain %s: cannot read it: %s",
				domain, virGetLastErrorMessage());
	out->max_mib = (int64_t)(info.maxMem / 1024);
	out->cur_mib = (int64_t)(info.memory / 1024);
	out->active = virDomainIsActive(d) == 1;
	out->persistent = virDomainIsPersistent(d) == 1;
	return 0;
}

int vm_policy_read(const char *uri, const char *domain, vm_policy *out,
		   vm_policy_domain *dom, vm_policy_warn_fn warn, void *ctx,
		   char *err, size_t errlen)
{
	virConnectPtr c;
	virDomainPtr d;
	char *xml;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (open_dom(uri, domain, &c, &d, 1, err, errlen) != 0)
		return -1;
	if (dom && dom_facts(d, domain, dom, err, errlen) != 0) {
		close_dom(c, d);
		return -1;
	}
	xml = virDomainGetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT,
				   VM_POLICY_NS, 0);
	if (xml)
		rc = vm_policy_parse(xml, strlen(xml), domain, out, warn, ctx,
				     err, errlen);
	else if (virGetLastErrorCode() != VIR_ERR_NO_DOMAIN_METADATA)
		rc = util_err(err, errlen, "domain %s: cannot read its "
			      "metadata: %s", domain, virGetLastErrorMessage());
	free(xml);
	close_dom(c, d);
	return rc;
}

int vm_policy_write(const char *uri, const char *domain, const vm_policy *p,
		    char *err, size_t errlen)
{
	virConnectPtr c;
	virDomainPtr d;
	vm_policy_domain f;
	char xml[2048];
	unsigned flags = 0;
	int rc;

	if (vm_policy_check(p, err, errlen) != 0)
		return -1;
	if (p->set && vm_policy_format(p, xml, sizeof(xml)) != 0)
		return util_err(err, errlen, "the policy does not fit in %zu "
				"bytes", sizeof(xml));
	if (open_dom(uri, domain, &c, &d, 0, err, errlen) != 0)
		return -1;
	if (dom_facts(d, domain, &f, err, errlen) != 0) {
		close_dom(c, d);
		return -1;
	}
	if (f.active)
		flags |= VIR_DOMAIN_AFFECT_LIVE;
	if (f.persistent)
		flags |= VIR_DOMAIN_AFFECT_CONFIG;
	rc = virDomainSetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT,
				  p->set ? xml : NULL, VM_POLICY_KEY,
				  VM_POLICY_NS, flags);
	if (rc < 0)
		util_err(err, errlen, "domain %s: cannot write its metadata: "
			 "%s", domain, virGetLastErrorMessage());
	close_dom(c, d);
	return rc < 0 ? -1 : 0;
}
