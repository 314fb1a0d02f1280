/*
 * actuator_libvirt.c - the libvirt actuator: resizes a domain's balloon and
 * live-migrates a domain, over one libvirt connection (qemu:///system on a
 * KVM host; test:/// in the tests).
 *
 * Resize: the named domain must be here and running; a target above its
 * maximum memory (virDomainGetMaxMemory) is refused; a domain whose current
 * memory (virDomainGetInfo) already is the target is left alone ("already
 * N MiB"); otherwise virDomainSetMemoryFlags(VIR_DOMAIN_AFFECT_LIVE) sets
 * the balloon target, and the guest's balloon driver moves to it afterwards.
 * That call returns at once: timeout_ms does not bound a resize.
 *
 * Migrate: the named domain must be here and running, else "not here" (a
 * repeated migration of a VM already moved does nothing). Then
 * virDomainMigrateToURI3(VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER |
 * VIR_MIGRATE_PERSIST_DEST | VIR_MIGRATE_UNDEFINE_SOURCE: the definition
 * moves with the VM, as `virsh migrate --persistent --undefinesource`) to
 * to_uri, the destination's libvirt URI (the source's libvirtd connects to
 * it; the hypervisor picks the data URI), with VIR_MIGRATE_NON_SHARED_DISK
 * or VIR_MIGRATE_UNSAFE added when the host opted in (disks: "copy",
 * "unsafe"; actuator.h). libvirt has no per-call timeout,
 * so a watchdog thread waits timeout_ms and then asks libvirt to abort the
 * migration job (virDomainAbortJob, as virsh does on ^C): the migration
 * call fails and the outcome is ACTUATOR_TIMEOUT, the VM still here. A
 * migration that completes as the watchdog fires is ACTUATOR_OK.
 * virDomainMigrateSetMaxDowntime is left alone. Once the VM has moved, the
 * actuator opens to_uri and sets the VM's memory there to target_mib (the
 * broker placed it with that much), unless it has it already; a failure
 * there is said in the detail of a migration that is still OK. Before it
 * moves, a VM the migration grows is grown here, when this host has the
 * growth free (free_mib, the agent's latest reading, beyond its reserve):
 * a VM short of memory on a host being drained gets it at once, not once
 * the migration (seconds) is over (issue 17's lab: 5.4 s). A failed
 * migration leaves it grown here (said in the detail); the next round
 * clears it again.
 *
 * A driver that cannot do an operation (VIR_ERR_NO_SUPPORT,
 * VIR_ERR_OPERATION_UNSUPPORTED, VIR_ERR_ARGUMENT_UNSUPPORTED: the test
 * driver's answer to a peer-to-peer migration) gives ACTUATOR_UNSUPPORTED
 * with libvirt's message; any other libvirt error is ACTUATOR_FAILED with
 * its message.
 *
 * A domain whose bourse metadata says exclude (vm_policy.h) is not acted
 * on: ACTUATOR_FAILED, "excluded from bourse".
 *
 * A connection found dead before an action is opened again (with a note).
 * libvirt's own printing of errors on stderr is silenced for the whole
 * process (virSetErrorFunc), as the libvirt source does.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "actuator.h"
#include "util.h"
#include "log.h"
#include "vm_policy.h"
#include "banned.h"

#define KIB_PER_MIB 1024ULL

struct lva {
	virConnectPtr conn;
	char *uri;
	actuator_libvirt_disks disks;
	actuator_note_fn note; /* NULL: stderr */
	void *note_ctx;
};

static void lva_quiet(void *ctx, virErrorPtr e)
{
	(void)ctx;
	(void)e;
}

static void lva_note(const struct lva *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void lva_note(const struct lva *l, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	util_verr(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (l->note)
		l->note(l->note_ctx, msg);
	else
		log_at(LOG_NOTICE, NULL, "libvirt actuator: %s\n", msg);
}

/* Does libvirt's last error say the driver cannot do it? */
static int unsupported_error(void)
{
	int code = virGetLastErrorCode();

	return code == VIR_ERR_NO_SUPPORT ||
	       code == VIR_ERR_OPERATION_UNSUPPORTED ||
	       code == VIR_ERR_ARGUMENT_UNSUPPORTED;
}

/* The outcome of a failed libvirt call: what, then libvirt's message. */
static void set_failure(actuator_result *r, const char *vm, const char *what)
{
	actuator_result_set(r,
			    unsupported_error() ? ACTUATOR_UNSUPPORTED
						: ACTUATOR_FAILED,
			    "%s: %s: %s", vm, what, virGetLastErrorMessage());
}

/* ---- the connection ---- */

static int lva_connect(struct lva *l, char *err, size_t errlen)
{
	virSetErrorFunc(NULL, lva_quiet);
	l->conn = virConnectOpen(l->uri);
	if (!l->conn) {
		snprintf(err, errlen, "cannot connect to libvirt at %s: %s",
			 l->uri, virGetLastErrorMessage());
		return -1;
	}
	return 0;
}

/* A live connection, opened again if it was lost; 0, or -1 with r set. */
static int lva_alive(struct lva *l, actuator_result *r)
{
	char why[200];

	if (l->conn && virConnectIsAlive(l->conn) == 1)
		return 0;
	if (l->conn)
		virConnectClose(l->conn);
	l->conn = NULL;
	lva_note(l, "the connection to %s was lost: opening it again", l->uri);
	if (lva_connect(l, why, sizeof(why)) != 0) {
		actuator_result_set(r, ACTUATOR_FAILED, "%s", why);
		return -1;
	}
	return 0;
}

/* The running domain named vm, or NULL with r set ("not here"). */
static virDomainPtr running_domain(struct lva *l, const char *vm,
				   actuator_result *r)
{
	virDomainPtr dom;

	if (lva_alive(l, r) != 0)
		return NULL;
	dom = virDomainLookupByName(l->conn, vm);
	if (!dom) {
		if (virGetLastErrorCode() == VIR_ERR_NO_DOMAIN)
			actuator_result_set(r, ACTUATOR_FAILED,
					    "%s is not here: no domain of "
					    "that name on %s",
					    vm, l->uri);
		else
			set_failure(r, vm, "cannot look the domain up");
		return NULL;
	}
	if (virDomainIsActive(dom) != 1) {
		actuator_result_set(r, ACTUATOR_FAILED,
				    "%s is not here: the domain is not "
				    "running on %s",
				    vm, l->uri);
		virDomainFree(dom);
		return NULL;
	}
	return dom;
}

/* ---- resize ---- */

/* Resizes dom, unless refused or already at the target. */
static void resize_dom(virDomainPtr dom, const actuator_action *x,
		       actuator_result *r)
{
	unsigned long long want = (unsigned long long)x->target_mib *
				  KIB_PER_MIB;
	unsigned long max = virDomainGetMaxMemory(dom);
	virDomainInfo info;

	if (max == 0)
		set_failure(r, x->vm, "cannot read its maximum memory");
	else if (want > max)
		actuator_result_set(r, ACTUATOR_FAILED,
				    "%s: %lld MiB is above its maximum of "
				    "%llu MiB",
				    x->vm, (long long)x->target_mib,
				    (unsigned long long)max / KIB_PER_MIB);
	else if (virDomainGetInfo(dom, &info) < 0)
		set_failure(r, x->vm, "cannot read its memory");
	else if (info.memory == want)
		actuator_result_set(r, ACTUATOR_OK, "%s: already %lld MiB",
				    x->vm, (long long)x->target_mib);
	else if (virDomainSetMemoryFlags(dom, (unsigned long)want,
					 VIR_DOMAIN_AFFECT_LIVE) < 0)
		set_failure(r, x->vm, "cannot set its memory");
	else
		actuator_result_set(r, ACTUATOR_OK,
				    "%s: resized from %llu to %lld MiB", x->vm,
				    (unsigned long long)info.memory /
					    KIB_PER_MIB,
				    (long long)x->target_mib);
}

/* ---- migrate, under a watchdog ---- */

struct watch {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done, fired;
	struct timespec deadline; /* CLOCK_MONOTONIC */
	virDomainPtr dom;
};

static void *watch_main(void *arg)
{
	struct watch *w = arg;
	int fire, rc = 0;

	pthread_mutex_lock(&w->mu);
	while (!w->done && rc == 0) /* ETIMEDOUT, or an error: stop waiting */
		rc = pthread_cond_timedwait(&w->cv, &w->mu, &w->deadline);
	fire = !w->done;
	w->fired = fire;
	pthread_mutex_unlock(&w->mu);
	if (fire)
		virDomainAbortJob(w->dom); /* its error is this thread's */
	return NULL;
}

/* ms from now on CLOCK_MONOTONIC (util_now_us()), as a timespec. */
static void deadline_in(struct timespec *t, int64_t ms)
{
	int64_t us = util_now_us() + ms * 1000;

	t->tv_sec = (time_t)(us / 1000000);
	t->tv_nsec = (long)(us % 1000000) * 1000L;
}

/* Starts the watchdog; 0, or -1 (nothing to undo). */
static int watch_start(struct watch *w, pthread_t *th, virDomainPtr dom,
		       int64_t timeout_ms)
{
	pthread_condattr_t ca;
	int rc = -1;

	memset(w, 0, sizeof(*w));
	w->dom = dom;
	deadline_in(&w->deadline, timeout_ms);
	if (pthread_condattr_init(&ca) != 0)
		return -1;
	if (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
	    pthread_cond_init(&w->cv, &ca) == 0) {
		if (pthread_mutex_init(&w->mu, NULL) == 0) {
			if (pthread_create(th, NULL, watch_main, w) == 0)
				rc = 0;
			else
				pthread_mutex_destroy(&w->mu);
		}
		if (rc != 0)
			pthread_cond_destroy(&w->cv);
	}
	pthread_condattr_destroy(&ca);
	return rc;
}

/* Stops the watchdog; 1 if it fired (the job was aborted). */
static int watch_stop(struct watch *w, pthread_t th)
{
	pthread_mutex_lock(&w->mu);
	w->done = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(th, NULL);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	return w->fired;
}

unsigned long actuator_libvirt_migrate_flags(actuator_libvirt_disks disks)
{
	unsigned long f = VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER |
			  VIR_MIGRATE_PERSIST_DEST |
			  VIR_MIGRATE_UNDEFINE_SOURCE;

	if (disks == ACTUATOR_DISKS_COPY)
		f |= VIR_MIGRATE_NON_SHARED_DISK;
	else if (disks == ACTUATOR_DISKS_UNSAFE)
		f |= VIR_MIGRATE_UNSAFE;
	return f;
}

int actuator_libvirt_disks_parse(const char *word,
				 actuator_libvirt_disks *out)
{
	static const char *const words[] = { "shared", "copy", "unsafe" };

	for (size_t i = 0; word && i < sizeof(words) / sizeof(words[0]); i++)
		if (!strcmp(word, words[i])) {
			*out = (actuator_libvirt_disks)i;
			return 0;
		}
	return -1;
}

/* After a migration: the VM's memory on the destination set to the
 * migration's target. "" when done (or nothing to do), else what went
 * wrong, in why. */
static void resize_there(const actuator_action *x, char *why, size_t len)
{
	virConnectPtr dc = virConnectOpen(x->to_uri);
	virDomainPtr dom = dc ? virDomainLookupByName(dc, x->vm) : NULL;
	actuator_result r;

	why[0] = '\0';
	if (!dom) {
		snprintf(why, len, "%s", virGetLastErrorMessage());
	} else {
		memset(&r, 0, sizeof(r));
		resize_dom(dom, x, &r);
		if (r.status != ACTUATOR_OK)
			snprintf(why, len, "%.150s", r.detail);
		virDomainFree(dom);
	}
	if (dc)
		virConnectClose(dc);
}

/* The outcome of a migration that succeeded: moved, and resized there
 * (grown: it was grown before it left, grow_first()). */
static void migrated(const actuator_action *x, int grown,
		     actuator_result *r)
{
	char why[200];

	resize_there(x, why, sizeof(why));
	if (!why[0])
		actuator_result_set(r, ACTUATOR_OK, "%s: migrated live to %s "
				    "with %lld MiB%s", x->vm, x->to_uri,
				    (long long)x->target_mib,
				    grown ? " (grown to it before it left)" : "");
	else
		actuator_result_set(r, ACTUATOR_OK, "%s: migrated live to %s; "
				    "its memory there is not set to %lld MiB "
				    "(the next round resizes it): %s", x->vm,
				    x->to_uri, (long long)x->target_mib, why);
}

/* Grow dom here to the migration's target first, if that is a growth the
 * host has free. 1 if it was grown. */
static int grow_first(virDomainPtr dom, const actuator_action *x)
{
	virDomainInfo info;
	unsigned long long want = (unsigned long long)x->target_mib *
				  KIB_PER_MIB;

	if (x->free_mib <= 0 || virDomainGetInfo(dom, &info) < 0 ||
	    want <= info.memory || want > info.maxMem ||
	    want - info.memory > (unsigned long long)x->free_mib * KIB_PER_MIB)
		return 0;
	return virDomainSetMemoryFlags(dom, (unsigned long)want,
				       VIR_DOMAIN_AFFECT_LIVE) == 0;
}

static void migrate_dom(const struct lva *l, virDomainPtr dom,
			const actuator_action *x, actuator_result *r)
{
	struct watch w;
	pthread_t th;
	int rc, fired, grown = grow_first(dom, x);

	if (watch_start(&w, &th, dom, x->timeout_ms) != 0) {
		actuator_result_set(r, ACTUATOR_FAILED,
				    "%s: cannot start the migration's "
				    "timeout watchdog",
				    x->vm);
		return;
	}
	rc = virDomainMigrateToURI3(dom, x->to_uri, NULL, 0,
				    (unsigned int)actuator_libvirt_migrate_flags(
					    l->disks));
	fired = watch_stop(&w, th);
	if (rc == 0)
		migrated(x, grown, r);
	else if (fired)
		actuator_result_set(r, ACTUATOR_TIMEOUT,
				    "%s: the migration to %s did not "
				    "finish in %lld ms and was aborted: %s",
				    x->vm, x->to_uri, (long long)x->timeout_ms,
				    virGetLastErrorMessage());
	else
		set_failure(r, x->vm, grown ? "cannot migrate (it was grown "
			    "here first and stays so)" : "cannot migrate");
}

/* ---- the ops ---- */

static void no_warn(void *ctx, const char *msg)
{
	(void)ctx;
	(void)msg;
}

/* Does dom's bourse metadata exclude it (the source warned about the
 * rest)? */
static int excluded(virDomainPtr dom)
{
	char *xml = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT,
					 VM_POLICY_NS, 0);
	vm_policy p;
	char err[256];
	int ex;

	if (!xml)
		return 0;
	ex = vm_policy_parse(xml, strlen(xml), "", &p, no_warn, NULL, err,
			     sizeof(err)) == 0 && p.exclude;
	free(xml);
	return ex;
}

static void lva_act(actuator *a, const actuator_action *x,
		    actuator_result *r)
{
	virDomainPtr dom = running_domain(a->state, x->vm, r);

	if (!dom)
		return;
	if (excluded(dom))
		actuator_result_set(r, ACTUATOR_FAILED, "%s is excluded from "
				    "bourse (its metadata says exclude): not "
				    "acted on", x->vm);
	else if (x->kind == ACTUATOR_RESIZE)
		resize_dom(dom, x, r);
	else
		migrate_dom(a->state, dom, x, r);
	virDomainFree(dom);
}

static void lva_free(struct lva *l)
{
	if (l->conn)
		virConnectClose(l->conn);
	free(l->uri);
	free(l);
}

static void lva_close(actuator *a)
{
	lva_free(a->state);
}

static const struct actuator_ops libvirt_ops = {
	.kind = "libvirt",
	.act = lva_act,
	.close = lva_close,
};

int actuator_libvirt_open(const char *uri, actuator_note_fn note,
			  void *note_ctx, actuator **out, char *err,
			  size_t errlen)
{
	actuator_libvirt_opts o = { .uri = uri, .note = note,
				    .note_ctx = note_ctx };

	return actuator_libvirt_open_opts(&o, out, err, errlen);
}

int actuator_libvirt_open_opts(const actuator_libvirt_opts *o,
			       actuator **out, char *err, size_t errlen)
{
	const char *uri = o->uri;
	struct lva *l;

	*out = NULL;
	if (o->disks < ACTUATOR_DISKS_SHARED ||
	    o->disks > ACTUATOR_DISKS_UNSAFE) {
		snprintf(err, errlen, "unknown disks mode %d", (int)o->disks);
		return -1;
	}
	if (!uri || !uri[0]) {
		snprintf(err, errlen, "no libvirt URI (e.g. qemu:///system)");
		return -1;
	}
	vm_policy_init(); /* excluded() parses on the worker thread */
	l = calloc(1, sizeof(*l));
	if (!l || !(l->uri = strdup(uri))) {
		free(l);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	l->note = o->note;
	l->note_ctx = o->note_ctx;
	l->disks = o->disks;
	if (lva_connect(l, err, errlen) != 0) {
		lva_free(l);
		return -1;
	}
	*out = actuator_new(&libvirt_ops, l);
	if (!*out) {
		lva_free(l);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}
