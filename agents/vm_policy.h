/*
 * vm_policy.h - a VM's own bourse settings, as a libvirt domain carries
 * them in its <metadata> element (docs/operations.md, "Per-VM policy"):
 *
 *   <bourse:policy xmlns:bourse="https://bourse.dev/xmlns/policy/1">
 *     <bourse:minimum unit="MiB">1024</bourse:minimum>
 *     <bourse:maximum unit="GiB">8</bourse:maximum>
 *     <bourse:buffer>25</bourse:buffer>
 *     <bourse:weight>8000</bourse:weight>
 *     <bourse:reservation unit="MiB">512</bourse:reservation>
 *     <bourse:limit unit="GiB">6</bourse:limit>
 *     <bourse:shares>2000</bourse:shares>
 *     <bourse:exclude>yes</bourse:exclude>
 *   </bourse:policy>
 *
 * Every element is optional; a setting not given is the agent's default
 * (source_vm_defaults, source.h). That is the domain's XML (virsh
 * dumpxml); virDomainGetMetadata() hands the element back without the
 * namespace, and virDomainSetMetadata() takes it so, putting it and its
 * children in the namespace: the parser takes <policy> and its children
 * in the bourse namespace or in none.
 *
 * vm_policy.c parses and writes that XML (libxml2) and applies a policy to
 * a VM's settings; vm_policy_libvirt.c reads and writes it on a domain
 * (virDomainGetMetadata / virDomainSetMetadata). Pure functions on strings
 * besides those two, so that tests can feed the parser directly.
 *
 * Ownership: every pointer passed in is borrowed for the call; strings come
 * back in the caller's buffers.
 */
#ifndef BOURSE_VM_POLICY_H
#define BOURSE_VM_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "source.h"

/* The metadata's namespace URI and the prefix (libvirt's "key") it is
 * written with. */
#define VM_POLICY_NS "https://bourse.dev/xmlns/policy/1"
#define VM_POLICY_KEY "bourse"

/* A bit per setting of vm_policy.set. */
enum {
	VM_POLICY_MINIMUM = 1u << 0,
	VM_POLICY_MAXIMUM = 1u << 1,
	VM_POLICY_BUFFER = 1u << 2,
	VM_POLICY_WEIGHT = 1u << 3,
	VM_POLICY_RESERVATION = 1u << 4,
	VM_POLICY_LIMIT = 1u << 5,
	VM_POLICY_SHARES = 1u << 6,
	VM_POLICY_EXCLUDE = 1u << 7,
};
#define VM_POLICY_N 8

/* What a domain's metadata says; a field counts only if its bit is in
 * set. Limit 0 and reservation 0 mean none (as in the market). */
typedef struct vm_policy {
	unsigned set;
	int64_t minimum_mib, maximum_mib;
	uint32_t buffer_pct, weight;
	int64_t reservation_mib, limit_mib;
	uint32_t shares;
	int exclude; /* 1: bourse neither bids for it nor acts on it */
} vm_policy;

/* The element names, in the order of the bits above: "minimum", ... */
const char *vm_policy_field_name(unsigned bit);

/* libxml2's set-up (xmlInitParser()): call from the main thread before
 * any thread parses (the libvirt actuator parses on its worker thread);
 * more calls are harmless. */
void vm_policy_init(void);

/* A warning about one setting (the parser goes on without it). */
typedef void (*vm_policy_warn_fn)(void *ctx, const char *msg);

/* Parse the <policy> element xml (len bytes; in no namespace or in
 * VM_POLICY_NS, another is refused) of domain (named in the
 * warnings). Each setting is checked on its own (ranges as a VmConfig's,
 * docs/protocol.md: sizes 1 MiB..64 TiB, reservation and limit 0..64 TiB,
 * buffer 0..2000, weight 0..10000, shares 1..1000000; exclude yes/no,
 * true/false, 1/0 or empty) and then against each other (minimum above
 * maximum: the minimum is dropped; reservation above the limit or the
 * maximum: the reservation is dropped); a bad one is warned about, one
 * line naming the domain and the element, through warn (NULL: stderr),
 * and left unset. Unknown elements are warned about and ignored. Returns
 * 0 with *out filled; or -1 with a message (not XML, or the root is not
 * the bourse namespace's <policy>), *out then empty. */
int vm_policy_parse(const char *xml, size_t len, const char *domain,
		    vm_policy *out, vm_policy_warn_fn warn, void *ctx,
		    char *err, size_t errlen);

/* One setting (bit) of p from its text, as the parser reads an element:
 * a size with its unit in the text or in unit (NULL: none), a number, or
 * yes/no; checked alone (not against the others). Sets the field and its
 * bit; or -1 with why, the bit not set (the field may be overwritten). */
int vm_policy_set_field(vm_policy *p, unsigned bit, const char *text,
			const char *unit, char *err, size_t errlen);

/* The same checks on a policy built otherwise (`bourse vm-policy set`):
 * 0, or -1 with the first problem. */
int vm_policy_check(const vm_policy *p, char *err, size_t errlen);

/* The <policy> element for p, every set field, sizes in MiB, without a
 * namespace: virDomainSetMetadata() puts it and its children in
 * VM_POLICY_NS with the prefix VM_POLICY_KEY. Returns 0, or -1 if buf is
 * too small. */
int vm_policy_format(const vm_policy *p, char *buf, size_t len);

/* A size: a number (decimals allowed) with an optional unit, in the text
 * ("1.5G", "512MiB", "2048") or given apart (unit, NULL: none); no unit is
 * MiB. Units as libvirt's: b/bytes, K/KiB, M/MiB, G/GiB, T/TiB (1024) and
 * KB, MB, GB, TB (1000). Rounded down to whole MiB. 0, or -1 with a
 * message naming the text. */
int vm_policy_size_mib(const char *text, const char *unit, int64_t *out,
		       char *err, size_t errlen);

/* A VM's settings with its policy: out holds what source_vm_settings()
 * derived (the defaults capped at the domain's maximum memory); every set
 * field of p replaces its default. The policy's maximum is capped at
 * what the domain has (its balloon cannot grow past it); the minimum and
 * startup are then kept within it. */
void vm_policy_apply(const vm_policy *p, source_vm_config *out);

/* ---- vm_policy_libvirt.c: on a libvirt domain ---- */

/* Read domain's policy over the connection URI: *out (empty when the
 * domain has no bourse metadata), and if not NULL its maximum and
 * current memory (MiB) and whether it runs. Warnings about single
 * settings go to warn. 0, or -1 with a message (no such domain, cannot
 * connect, metadata that is not a policy). */
typedef struct vm_policy_domain {
	int64_t max_mib, cur_mib;
	int active, persistent;
} vm_policy_domain;

int vm_policy_read(const char *uri, const char *domain, vm_policy *out,
		   vm_policy_domain *dom, vm_policy_warn_fn warn, void *ctx,
		   char *err, size_t errlen);

/* Write p as domain's bourse metadata (p->set 0: remove it): on the
 * running domain and in its persistent configuration where it has each
 * (virDomainSetMetadata with VIR_DOMAIN_AFFECT_LIVE and/or _CONFIG). 0, or
 * -1 with a message. */
int vm_policy_write(const char *uri, const char *domain, const vm_policy *p,
		    char *err, size_t errlen);

#endif
