/*
 * source_libvirt.c - the libvirt source: the running domains of one libvirt
 * connection (qemu:///system on a KVM host; test:/// in the tests), their
 * memory and balloon statistics, and the node's memory.
 *
 * The domains are the ones running when the source opens, sorted by name,
 * then those found running by a later advance (started, or arrived by live
 * migration), appended in name order among themselves: an index keeps its
 * domain (source.h). A domain that stops, or vanishes, reads as not alive
 * (no bid); one that comes back under the same name is found again at its
 * index. Domains whose name is not a wire name (1..128 printable ASCII
 * characters, no spaces) or whose maximum memory is not 1 MiB..64 TiB are
 * skipped, at open and at every advance, with a note once per kind.
 *
 * Every advance lists the running domains (virConnectListAllDomains: new
 * ones are matched to the known ones by name, linearly), then reads each
 * domain (virDomainGetInfo, virDomainMemoryStats) and the node's free
 * memory; samples and host() report that reading. A domain paused by a
 * migration (an incoming one is "paused (starting up)" until it arrives;
 * virDomainGetState takes no job) is not read: libvirt's queries wait for
 * the migration's job, and on real QEMU they held every reading of the
 * destination's agent 2-4 s (issue 17's lab). A new one is found on a
 * later advance; a known one keeps its last sample. The open reads once too,
 * so a sample taken before the first advance is valid. All memory is
 * KiB / 1024, rounded down.
 *
 * Per VM (lvstat.h gives the rules; docs/market.md, "Demand of a libvirt
 * guest"):
 *   assigned = the balloon's actual size (ACTUAL_BALLOON, else the domain's
 *              current memory)
 *   demand   = used (AVAILABLE - USABLE, else ACTUAL_BALLOON - UNUSED,
 *              else, with a note, the current memory: no balloon driver in
 *              the guest, or no statistics period) plus what the guest
 *              reads back per second (swap-ins, major faults) times the
 *              bid interval; clamped to 0..maximum. It exceeds assigned
 *              when the guest is short: pressure above 100
 *   swap     = (SWAP_IN + SWAP_OUT, KiB, cumulative) differenced between
 *              two guest updates (LAST_UPDATE), over the time between
 *              them: a reading with no new update keeps the last rate
 *   balloon  = maximum - assigned (what the balloon holds back)
 * Settings (source_vm_settings()): maximum = the domain's maximum memory,
 * minimum = the agent's default Minimum (source_vm_defaults: `bourse agent`
 * gives SOURCE_MIN_AUTO unless configured: a quarter of the startup, at
 * least 128 MiB, at most the startup; else the value given, capped at the
 * maximum), startup = the memory the domain had
 * when found (within minimum..maximum), buffer, weight and shares the
 * agent's defaults; then the domain's own policy, its bourse <metadata>
 * element (vm_policy.h: virDomainGetMetadata, parsed by vm_policy.c),
 * replaces each setting it gives (vm_policy_apply()). The metadata is read
 * when the domain is found and at every advance: a bad setting is warned
 * about once per change of the element (through the note function) and
 * left to its default. A domain marked exclude reads alive = 0 (no bid,
 * so nothing is recommended for it; the libvirt actuator refuses to act
 * on it too). When the policy of a known domain changes, the domain reads
 * alive = 0 for one advance, so that the agent registers it again with
 * its new settings (agent.c registers a VM again when it is back).
 *
 * Host: capacity = virNodeGetInfo's memory; free = (free + buffers + cached
 * of virNodeGetMemoryStats, else virNodeGetFreeMemory) - reserve, as every
 * source means free, floored at 0; else (neither gives
 * a figure, as the test driver without NUMA cells) capacity - reserve - the
 * running domains' memory, with a note; balloon = the sum of the running
 * domains' actual balloon sizes. libvirt has no host swap figure: host swap
 * is 0 (pair this source with the Linux one for it).
 *
 * libvirt's default error handler prints every error on stderr; this
 * source installs a silent one (process-wide: virSetErrorFunc) and reports
 * virGetLastErrorMessage() in its own messages instead.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "lvstat.h"
#include "source.h"
#include "util.h"
#include "vm_policy.h"
#include "wire.h"
#include "log.h"
#include "banned.h"

#define LV_MAX_PERIOD_S 86400
#define LV_NODE_STATS_MAX 16

/* Notes, each made once per source. */
enum {
	LV_NOTE_SKIP = 1u << 0,
	LV_NOTE_PERIOD = 1u << 1,
	LV_NOTE_STATS = 1u << 2,
	LV_NOTE_DEMAND = 1u << 3,
	LV_NOTE_FREE = 1u << 4,
	LV_NOTE_READ = 1u << 5,
	LV_NOTE_SKIP_SIZE = 1u << 6,
	LV_NOTE_POLICY = 1u << 7,
};

struct lv_dom {
	virDomainPtr dom;
	char *name;
	int64_t max_mib, startup_mib;
	source_vm_sample smp;
	lvstat_track track; /* its statistics between readings (lvstat.h) */
	vm_policy pol;    /* its bourse metadata, as last parsed */
	char *pol_xml;    /* ... from this text (NULL: none); owned */
	int pol_read;     /* read at least once */
	int hold;         /* the policy changed: not alive for one advance */
};

struct lv_src {
	source base;
	virConnectPtr conn;
	char *uri;
	struct lv_dom *doms;  /* n of cap; names and handles owned */
	size_t n, cap;
	int64_t capacity, reserve, free_mib;
	int period_s;
	double horizon_s; /* the demand's horizon: the bid interval */
	unsigned noted;
	source_note_fn note;
	void *note_ctx;
	source_vm_defaults vmd;
};

static void lv_quiet(void *ctx, virErrorPtr e)
{
	(void)ctx;
	(void)e;
}

static void lv_note(struct lv_src *ls, unsigned kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void lv_note(struct lv_src *ls, unsigned kind, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (ls->noted & kind)
		return;
	ls->noted |= kind;
	va_start(ap, fmt);
	util_verr(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ls->note)
		ls->note(ls->note_ctx, msg);
	else
		log_at(LOG_NOTICE, NULL, "libvirt source: %s\n", msg);
}

/* A note made every time (a policy warning: once per change of the
 * metadata, not once per source). */
static void lv_say(void *ctx, const char *msg)
{
	struct lv_src *ls = ctx;

	if (ls->note)
		ls->note(ls->note_ctx, msg);
	else
		fprintf(stderr, "libvirt source: %s\n", msg);
}

static double mono_s(void)
{
	return (double)util_now_us() / 1e6;
}

static int64_t kib_mib(unsigned long long kib)
{
	return (int64_t)(kib / 1024);
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* ---- one domain ---- */

/* The domain's balloon statistics as lvstat.h reads them (have = 0 when
 * libvirt gives none, noted once). */
static void read_stats(struct lv_src *ls, struct lv_dom *d,
		       lvstat_reading *st)
{
	static const struct { int tag; unsigned bit; } map[] = {
		{ VIR_DOMAIN_MEMORY_STAT_ACTUAL_BALLOON, LVSTAT_ACTUAL },
		{ VIR_DOMAIN_MEMORY_STAT_AVAILABLE, LVSTAT_AVAILABLE },
		{ VIR_DOMAIN_MEMORY_STAT_USABLE, LVSTAT_USABLE },
		{ VIR_DOMAIN_MEMORY_STAT_UNUSED, LVSTAT_UNUSED },
		{ VIR_DOMAIN_MEMORY_STAT_SWAP_IN, LVSTAT_SWAP_IN },
		{ VIR_DOMAIN_MEMORY_STAT_SWAP_OUT, LVSTAT_SWAP_OUT },
		{ VIR_DOMAIN_MEMORY_STAT_MAJOR_FAULT, LVSTAT_MAJFLT },
		{ VIR_DOMAIN_MEMORY_STAT_LAST_UPDATE, LVSTAT_LAST_UPDATE },
	};
	virDomainMemoryStatStruct raw[VIR_DOMAIN_MEMORY_STAT_NR];
	int n = virDomainMemoryStats(d->dom, raw, VIR_DOMAIN_MEMORY_STAT_NR, 0);
	uint64_t *val[] = { &st->actual_kib, &st->available_kib,
			    &st->usable_kib, &st->unused_kib,
			    &st->swap_in_kib, &st->swap_out_kib,
			    &st->major_faults, &st->last_update_s };

	memset(st, 0, sizeof(*st));
	if (n < 0) {
		lv_note(ls, LV_NOTE_STATS, "domain %s: no memory statistics "
			"(%s); not noted again", d->name,
			virGetLastErrorMessage());
		return;
	}
	for (int i = 0; i < n; i++)
		for (size_t k = 0; k < sizeof(map) / sizeof(map[0]); k++)
			if (raw[i].tag == map[k].tag) {
				*val[k] = raw[i].val;
				st->have |= map[k].bit;
			}
}

static void fill_sample(struct lv_src *ls, struct lv_dom *d,
			const virDomainInfo *info, const lvstat_reading *st)
{
	source_vm_sample *s = &d->smp;
	lvstat_figures f;

	lvstat_figure(&d->track, st, mono_s(), info->memory, d->max_mib,
		      ls->horizon_s, &f);
	if (f.used_rule == LVSTAT_USED_CURRENT)
		lv_note(ls, LV_NOTE_DEMAND, "domain %s: the guest reports no "
			"usable or unused memory (no balloon driver or no "
			"statistics period?): its demand is its current "
			"memory; not noted again", d->name);
	memset(s, 0, sizeof(*s));
	s->alive = 1;
	s->assigned_mib = f.assigned_mib;
	s->demand_mib = f.demand_mib;
	s->pressure = f.pressure;
	s->guest_swap_mibps = f.swap_mibps;
	s->balloon_mib = d->max_mib - s->assigned_mib;
}

static int state_alive(int state)
{
	return state == VIR_DOMAIN_RUNNING || state == VIR_DOMAIN_BLOCKED ||
	       state == VIR_DOMAIN_PAUSED;
}

static void set_period(struct lv_src *ls, struct lv_dom *d)
{
	if (ls->period_s <= 0)
		return;
	if (virDomainSetMemoryStatsPeriod(d->dom, ls->period_s,
					  VIR_DOMAIN_AFFECT_LIVE) < 0)
		lv_note(ls, LV_NOTE_PERIOD, "domain %s: cannot set the memory "
			"statistics period to %d s (%s); going on without; not "
			"noted again", d->name, ls->period_s,
			virGetLastErrorMessage());
}

/* The domain of that name again, when the one we held is gone (a
 * transient domain destroyed and created anew). */
static int relookup(struct lv_src *ls, struct lv_dom *d)
{
	virDomainPtr again = virDomainLookupByName(ls->conn, d->name);

	if (!again)
		return -1;
	virDomainFree(d->dom);
	d->dom = again;
	lvstat_reset(&d->track);
	set_period(ls, d);
	return 0;
}

static int same_text(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/* The domain's bourse metadata, parsed again when its text changed (each
 * warning once per change). A domain without one has the defaults; one
 * whose metadata cannot be read keeps what it had (noted once). */
static void read_policy(struct lv_src *ls, struct lv_dom *d)
{
	char *xml = virDomainGetMetadata(d->dom, VIR_DOMAIN_METADATA_ELEMENT,
					 VM_POLICY_NS, 0);
	char msg[512];
	vm_policy p;

	if (!xml && virGetLastErrorCode() != VIR_ERR_NO_DOMAIN_METADATA) {
		lv_note(ls, LV_NOTE_POLICY, "domain %s: cannot read its bourse "
			"metadata (%s): its settings stay as they were; not "
			"noted again", d->name, virGetLastErrorMessage());
		return;
	}
	if (d->pol_read && same_text(xml, d->pol_xml)) {
		free(xml);
		return;
	}
	memset(&p, 0, sizeof(p));
	if (xml && vm_policy_parse(xml, strlen(xml), d->name, &p, lv_say, ls,
				   msg, sizeof(msg)) != 0) {
		lv_say(ls, msg);
		lv_say(ls, "(the bourse policy of that domain is ignored: its "
		       "settings are the defaults)");
	}
	if (d->pol_read)
		d->hold = 1;
	d->pol_read = 1;
	d->pol = p;
	free(d->pol_xml);
	d->pol_xml = xml;
}

/* 1 if a migration holds dom paused: coming in (starting up) or in its
 * last phase (libvirt's queries would wait for the migration's job). */
static int migrating(virDomainPtr dom)
{
	int state, reason;

	if (virDomainGetState(dom, &state, &reason, 0) < 0)
		return 0; /* the reading that follows says why */
	return state == VIR_DOMAIN_PAUSED &&
	       (reason == VIR_DOMAIN_PAUSED_STARTING_UP ||
		reason == VIR_DOMAIN_PAUSED_MIGRATION ||
		reason == VIR_DOMAIN_PAUSED_POSTCOPY);
}

static void read_dom(struct lv_src *ls, struct lv_dom *d)
{
	virDomainInfo info;
	lvstat_reading st;
	int rc;

	if (migrating(d->dom))
		return; /* its last sample stands */
	rc = virDomainGetInfo(d->dom, &info);

	if (rc < 0 && virGetLastErrorCode() == VIR_ERR_NO_DOMAIN &&
	    relookup(ls, d) == 0) {
		if (migrating(d->dom)) /* back, and still arriving */
			return;
		rc = virDomainGetInfo(d->dom, &info);
	}
	if (rc < 0 && virGetLastErrorCode() != VIR_ERR_NO_DOMAIN)
		lv_note(ls, LV_NOTE_READ, "domain %s: cannot read it (%s): not "
			"alive; not noted again", d->name,
			virGetLastErrorMessage());
	d->hold = 0;
	if (rc < 0 || !state_alive(info.state)) {
		memset(&d->smp, 0, sizeof(d->smp));
		lvstat_reset(&d->track);
		return;
	}
	read_policy(ls, d);
	read_stats(ls, d, &st);
	fill_sample(ls, d, &info, &st);
}

/* ---- the domains: found at open, and at every advance ---- */

static int known_dom(const struct lv_src *ls, const char *name)
{
	for (size_t i = 0; i < ls->n; i++)
		if (!strcmp(ls->doms[i].name, name))
			return 1;
	return 0;
}

/* Room for more domains after the n there are; 0, or -1 with err. */
static int grow_doms(struct lv_src *ls, size_t more, char *err,
		     size_t errlen)
{
	if (UTIL_GROW(ls->doms, ls->n + more, ls->cap))
		return util_err(err, errlen, "out of memory for %zu domains",
				ls->n + more);
	return 0;
}

/* Keep dom as the next VM (there is room), or drop it: known already, or
 * skipped (with a note). 0, or -1 with err. */
static int add_dom(struct lv_src *ls, virDomainPtr dom, char *err,
		   size_t errlen)
{
	struct lv_dom *d = &ls->doms[ls->n];
	const char *name = virDomainGetName(dom);
	virDomainInfo info;

	if (name && known_dom(ls, name)) {
		virDomainFree(dom);
		return 0;
	}
	if (name && migrating(dom)) { /* found once it has arrived */
		virDomainFree(dom);
		return 0;
	}
	if (!name || !wire_name_ok(name)) {
		lv_note(ls, LV_NOTE_SKIP, "a domain named '%.40s' is skipped: "
			"not 1..%u printable characters without spaces; not "
			"noted again", name ? name : "?", WIRE_MAX_NAME);
		virDomainFree(dom);
		return 0;
	}
	if (virDomainGetInfo(dom, &info) < 0 || kib_mib(info.maxMem) < 1 ||
	    kib_mib(info.maxMem) > WIRE_MAX_MIB) {
		lv_note(ls, LV_NOTE_SKIP_SIZE, "domain %s is skipped: its "
			"maximum memory is unreadable or not in 1 MiB..64 TiB; "
			"not noted again", name);
		virDomainFree(dom);
		return 0;
	}
	memset(d, 0, sizeof(*d));
	d->name = strdup(name);
	if (!d->name) {
		virDomainFree(dom);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	d->dom = dom;
	d->max_mib = kib_mib(info.maxMem);
	d->startup_mib = kib_mib(info.memory);
	ls->n++;
	set_period(ls, d);
	return 0;
}

static int cmp_dom(const void *x, const void *y)
{
	return strcmp(((const struct lv_dom *)x)->name,
		      ((const struct lv_dom *)y)->name);
}

/* Append the running domains not known yet, sorted by name among
 * themselves (at open: all of them); the known ones keep their index. */
static int list_doms(struct lv_src *ls, char *err, size_t errlen)
{
	virDomainPtr *all = NULL;
	int n = virConnectListAllDomains(ls->conn, &all,
					 VIR_CONNECT_LIST_DOMAINS_ACTIVE);
	size_t before = ls->n;
	int rc;

	if (n < 0) {
		snprintf(err, errlen, "%s: cannot list the running domains: %s",
			 ls->uri, virGetLastErrorMessage());
		return -1;
	}
	rc = grow_doms(ls, (size_t)n, err, errlen);
	for (int i = 0; i < n; i++) {
		if (rc == 0)
			rc = add_dom(ls, all[i], err, errlen);
		else
			virDomainFree(all[i]);
	}
	free(all);
	if (ls->n > before + 1)
		qsort(ls->doms + before, ls->n - before, sizeof(*ls->doms),
		      cmp_dom);
	return rc;
}


/* ---- the host ---- */

/* Free + buffers + cached of virNodeGetMemoryStats, in KiB; -1 if the
 * driver does not have it. */
static long long node_stats_free(struct lv_src *ls)
{
	virNodeMemoryStats p[LV_NODE_STATS_MAX];
	int n = 0;
	long long kib = 0;

	if (virNodeGetMemoryStats(ls->conn, VIR_NODE_MEMORY_STATS_ALL_CELLS,
				  NULL, &n, 0) < 0 || n < 1 ||
	    n > LV_NODE_STATS_MAX ||
	    virNodeGetMemoryStats(ls->conn, VIR_NODE_MEMORY_STATS_ALL_CELLS,
				  p, &n, 0) < 0)
		return -1;
	for (int i = 0; i < n; i++)
		if (!strcmp(p[i].field, VIR_NODE_MEMORY_STATS_FREE) ||
		    !strcmp(p[i].field, VIR_NODE_MEMORY_STATS_BUFFERS) ||
		    !strcmp(p[i].field, VIR_NODE_MEMORY_STATS_CACHED))
			kib += (long long)p[i].value;
	return kib;
}

/* What the running domains leave of capacity minus reserve. */
static int64_t free_by_domains(const struct lv_src *ls)
{
	int64_t used = 0;

	for (size_t i = 0; i < ls->n; i++)
		if (ls->doms[i].smp.alive)
			used += ls->doms[i].smp.assigned_mib;
	return ls->capacity - ls->reserve - used;
}

static void read_free(struct lv_src *ls)
{
	long long kib = node_stats_free(ls);
	unsigned long long bytes;

	if (kib < 0) {
		bytes = virNodeGetFreeMemory(ls->conn);
		kib = bytes > 0 ? (long long)(bytes / 1024) : -1;
	}
	if (kib >= 0) { /* free means what the reserve leaves, as elsewhere */
		ls->free_mib = kib_mib((unsigned long long)kib) - ls->reserve;
	} else {
		lv_note(ls, LV_NOTE_FREE, "%s gives no free memory for the "
			"node: free is capacity - reserve - the running "
			"domains' memory; not noted again", ls->uri);
		ls->free_mib = free_by_domains(ls);
	}
	ls->free_mib = clamp64(ls->free_mib, 0, ls->capacity - ls->reserve);
}

static int read_all(struct lv_src *ls, char *err, size_t errlen)
{
	if (virConnectIsAlive(ls->conn) != 1) {
		snprintf(err, errlen, "the libvirt connection to %s is lost: "
			 "%s", ls->uri, virGetLastErrorMessage());
		return -1;
	}
	if (list_doms(ls, err, errlen) != 0)
		return -1;
	for (size_t i = 0; i < ls->n; i++)
		read_dom(ls, &ls->doms[i]);
	read_free(ls);
	return 0;
}

/* ---- the ops ---- */

static int lv_advance(source *s, char *err, size_t errlen)
{
	return read_all(s->state, err, errlen);
}

static int lv_host(source *s, source_host *out, char *err, size_t errlen)
{
	const struct lv_src *ls = s->state;

	(void)err;
	(void)errlen;
	memset(out, 0, sizeof(*out));
	out->capacity_mib = ls->capacity;
	out->reserve_mib = ls->reserve;
	out->free_mib = ls->free_mib;
	for (size_t i = 0; i < ls->n; i++) {
		const source_vm_sample *v = &ls->doms[i].smp;

		if (v->alive)
			out->balloon_mib += v->assigned_mib;
	}
	return 0;
}

static size_t lv_n_vms(source *s)
{
	const struct lv_src *ls = s->state;

	return ls->n;
}

static int lv_vm_config(source *s, size_t i, source_vm_config *out)
{
	const struct lv_src *ls = s->state;
	const struct lv_dom *d;

	if (i >= ls->n)
		return -1;
	d = &ls->doms[i];
	source_vm_settings(&ls->vmd, d->max_mib, out);
	out->name = d->name;
	out->startup_mib = d->startup_mib;
	if (ls->vmd.minimum_mib == SOURCE_MIN_AUTO)
		out->minimum_mib = source_vm_auto_minimum(d->max_mib,
							  d->startup_mib);
	vm_policy_apply(&d->pol, out); /* startup within minimum..maximum */
	return 0;
}

static int lv_vm_sample(source *s, size_t i, source_vm_sample *out,
			char *err, size_t errlen)
{
	const struct lv_src *ls = s->state;

	if (i >= ls->n) {
		snprintf(err, errlen, "no VM %zu (the source has %zu)", i,
			 ls->n);
		return -1;
	}
	*out = ls->doms[i].smp;
	if (ls->doms[i].hold || ls->doms[i].pol.exclude)
		out->alive = 0;
	return 0;
}

static void lv_free(struct lv_src *ls)
{
	for (size_t i = 0; i < ls->n; i++) {
		virDomainFree(ls->doms[i].dom);
		free(ls->doms[i].name);
		free(ls->doms[i].pol_xml);
	}
	free(ls->doms);
	if (ls->conn)
		virConnectClose(ls->conn);
	free(ls->uri);
	free(ls);
}

static void lv_close(source *s)
{
	lv_free(s->state);
}

static const struct source_ops libvirt_ops = {
	.kind = "libvirt",
	.advance = lv_advance,
	.host = lv_host,
	.n_vms = lv_n_vms,
	.vm_config = lv_vm_config,
	.vm_sample = lv_vm_sample,
	.close = lv_close,
};

/* ---- open ---- */

static int check_opts(const source_libvirt_opts *o, char *err, size_t errlen)
{
	const char *bad = NULL;

	if (!o->uri || !o->uri[0])
		bad = "no libvirt URI (e.g. qemu:///system)";
	else if (o->stats_period_s < 0 || o->stats_period_s > LV_MAX_PERIOD_S)
		bad = "the statistics period must be between 0 and 86400 s";
	else if (o->interval_s < 0 || o->interval_s > LV_MAX_PERIOD_S)
		bad = "the bid interval must be between 0 and 86400 s";
	else if (o->reserve_mib < 0)
		bad = "reserve must be >= 0";
	if (bad) {
		snprintf(err, errlen, "%s", bad);
		return -1;
	}
	if (o->vm_defaults)
		return source_vm_defaults_check(o->vm_defaults, err, errlen);
	return 0;
}

static int connect_node(struct lv_src *ls, char *err, size_t errlen)
{
	virNodeInfo ni;

	virSetErrorFunc(NULL, lv_quiet);
	ls->conn = virConnectOpen(ls->uri);
	if (!ls->conn) {
		snprintf(err, errlen, "cannot connect to libvirt at %s: %s",
			 ls->uri, virGetLastErrorMessage());
		return -1;
	}
	if (virNodeGetInfo(ls->conn, &ni) < 0) {
		snprintf(err, errlen, "%s: cannot read the node's memory: %s",
			 ls->uri, virGetLastErrorMessage());
		return -1;
	}
	ls->capacity = kib_mib(ni.memory);
	if (ls->capacity < 1 || ls->capacity > WIRE_MAX_MIB ||
	    ls->reserve >= ls->capacity) {
		snprintf(err, errlen, "%s: the node has %lld MiB: not in "
			 "1..%lld, or not above the reserve (%lld MiB)", ls->uri,
			 (long long)ls->capacity, WIRE_MAX_MIB,
			 (long long)ls->reserve);
		return -1;
	}
	return 0;
}

int source_libvirt_open(const source_libvirt_opts *o, source **out,
			char *err, size_t errlen)
{
	struct lv_src *ls;

	*out = NULL;
	if (check_opts(o, err, errlen) != 0)
		return -1;
	vm_policy_init();
	ls = calloc(1, sizeof(*ls));
	if (!ls || !(ls->uri = strdup(o->uri))) {
		free(ls);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	ls->reserve = o->reserve_mib;
	ls->period_s = o->stats_period_s;
	ls->horizon_s = o->interval_s > 0 ? o->interval_s
					  : SOURCE_LIBVIRT_INTERVAL_S;
	ls->note = o->note;
	ls->note_ctx = o->note_ctx;
	if (o->vm_defaults)
		ls->vmd = *o->vm_defaults;
	else
		source_vm_defaults_init(&ls->vmd);
	if (connect_node(ls, err, errlen) != 0 ||
	    read_all(ls, err, errlen) != 0) {
		lv_free(ls);
		return -1;
	}
	ls->base.ops = &libvirt_ops;
	ls->base.state = ls;
	*out = &ls->base;
	return 0;
}
