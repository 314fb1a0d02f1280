/*
 * source_cgroup.c - the cgroup v2 source: one VM per child cgroup of a
 * parent (QEMU's machine.slice, a container parent), re-read on every
 * advance. Host figures come from another source: host() reports zeros.
 *
 * The VMs are the child directories of <cgroup_root>/<parent> that have a
 * memory.current: at open, in name order (strcmp); then every advance lists
 * the parent again and appends the children it has not seen, in name order
 * among themselves (matched by name, linearly). An index keeps its VM
 * (source.h): a child that goes away keeps its index with alive = 0 (and is
 * alive again if it comes back under its name). A child whose name is not a
 * bourse name (1..128 printable characters, no spaces) is left out; one
 * whose memory.current or memory.stat cannot be read when it is found is
 * left out until it can be (looked at again by each advance); each such
 * child is noted once. A parent that cannot be listed is an error at open;
 * at an advance it is noted once and no new child is found then.
 *
 * Where each figure comes from (the files hold bytes; limits are rounded
 * down to MiB, usage up; "max" is no limit):
 *   demand_mib        memory.current minus inactive_file of memory.stat (the
 *                     page cache reclaim takes first), >= 0
 *   assigned_mib      the lower of memory.high and memory.max that is set;
 *                     memory.current when neither is
 *   pressure          demand / assigned * 100 (wire_pressure()), as
 *                     source.h defines it for every source
 *   guest_swap_mibps  0: a cgroup's paging is the host's swapping, counted by
 *                     the host source
 *   balloon_mib       0: a cgroup has no balloon
 *   maximum_mib       memory.max; memory.current when that is "max"
 *   minimum_mib       the larger of memory.min and memory.low when either is
 *                     set (non-zero; "max": the maximum); otherwise the
 *                     agent's default (source_vm_settings()), within 1..max
 *   startup_mib       assigned_mib, within minimum..maximum
 *   buffer_pct, weight, shares   the agent's defaults (source_vm_defaults)
 *   reservation_mib, limit_mib   0 (none): memory.max is the maximum
 * and then the VM's [vm "NAME"] settings of the agent's configuration
 * (source_vm_override_apply(); docs/configuration.md) replace what they
 * name; a child the configuration excludes is left out (noted once).
 * The configuration is the one of the latest reading in which the cgroup was
 * alive.
 *
 * memory.pressure (PSI) is read and checked too, and its "some avg10" kept,
 * but source_vm_sample has no field for it (its pressure is demand /
 * assigned); a missing one (PSI off) is noted once.
 *
 * Every line is checked; a malformed one is an error naming the file and
 * line, and the last good reading of every VM is kept. A missing
 * memory.high, memory.max, memory.min or memory.low is "not set".
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procfile.h"
#include "source.h"
#include "util.h"
#include "wire.h"
#include "banned.h"

#define CG_DIR_MAX 3800   /* longest <cgroup_root>/<parent> */
#define CG_PATH_MAX 4096
#define CG_MIB (1024u * 1024u)

/* The notes made once each (those about one child: cgroup_src.skipped). */
enum cg_note {
	NOTE_PSI = 1,
	NOTE_LIST = 2,
};

/* One reading of a cgroup, in bytes. */
struct cg_reading {
	int alive;                /* memory.current and memory.stat were there */
	uint64_t current, inactive_file;
	uint64_t high, max;       /* PROCFILE_UNLIMITED: "max", or no file */
	uint64_t min, low;        /* 0: not set */
	double psi_some10;        /* PSI "some avg10", percent; 0 without */
};

struct cg_vm {
	char *name;             /* the directory's name, owned */
	int alive;              /* in the latest reading */
	struct cg_reading last; /* the latest reading in which it was alive */
};

struct cgroup_src {
	source base;
	char *dir;              /* <cgroup_root>/<parent>, owned */
	struct cg_vm *vms;      /* n, in name order */
	size_t n, cap;
	source_note_fn note;    /* NULL: stderr */
	void *note_ctx;
	unsigned noted;         /* enum cg_note bits of the notes made */
	char **skipped;         /* n_skipped (of cap_skipped) children noted
	                         * as left out */
	size_t n_skipped, cap_skipped;
	source_vm_defaults vmd; /* the defaults of the VM settings */
};

static void note(const struct cgroup_src *cs, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void note(const struct cgroup_src *cs, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	procfile_vnote(cs->note, cs->note_ctx, fmt, ap);
	va_end(ap);
}

static void cg_path(const struct cgroup_src *cs, const char *vm,
		    const char *file, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s/%s", cs->dir, vm, file);
}

/* ---- one-value files: "N" or "max", one line ---- */

/* 0: read into *v; 1: not there (err says why); -1: malformed. */
static int read_value(const struct cgroup_src *cs, const char *vm,
		      const char *file, uint64_t *v, char *err, size_t errlen)
{
	char path[CG_PATH_MAX];
	uint64_t got = 0;
	int rc;

	cg_path(cs, vm, file, path, sizeof(path));
	rc = procfile_one_line(path, procfile_value_line, &got, err, errlen);
	if (rc == 0)
		*v = got;
	return rc;
}

/* A limit or protection: missing is unset (dflt). */
static int read_setting(const struct cgroup_src *cs, const char *vm,
			const char *file, uint64_t dflt, uint64_t *v,
			char *err, size_t errlen)
{
	int rc = read_value(cs, vm, file, v, err, errlen);

	if (rc > 0)
		*v = dflt;
	return rc < 0 ? -1 : 0;
}

/* ---- memory.stat: "key value" ---- */

/* 0: read; 1: not there; -1: malformed. */
static int read_stat(const struct cgroup_src *cs, const char *vm,
		     uint64_t *inactive_file, char *err, size_t errlen)
{
	static const char *const want[] = { "inactive_file" };
	struct procfile_keys m = {
		.set = PROCFILE_KEY_LOWER, .what = "key", .want = want,
		.n_want = 1,
	};
	char path[CG_PATH_MAX];
	int rc;

	cg_path(cs, vm, "memory.stat", path, sizeof(path));
	rc = procfile_each_line(path, procfile_keys_line, &m, err, errlen);
	if (rc == 0 && !m.seen[0]) {
		snprintf(err, errlen, "%s: no inactive_file", path);
		rc = -1;
	}
	if (rc == 0)
		*inactive_file = m.v[0];
	return rc;
}

/* ---- memory.pressure: "some|full avg10=A avg60=B avg300=C total=T" ---- */

/* memory.pressure of vm into r; a missing one is noted once. */
static int read_psi(struct cgroup_src *cs, const char *vm,
		    struct cg_reading *r, char *err, size_t errlen)
{
	struct procfile_psi m = { { 0, 0 }, { 0, 0 } };
	char path[CG_PATH_MAX], why[CG_PATH_MAX + PROCFILE_MSG_MAX];
	int rc;

	cg_path(cs, vm, "memory.pressure", path, sizeof(path));
	rc = procfile_each_line(path, procfile_psi_line, &m, why, sizeof(why));
	if (rc == 0 && !m.seen[0]) {
		snprintf(why, sizeof(why), "%s: no 'some' line", path);
		rc = -1;
	}
	if (rc < 0) {
		snprintf(err, errlen, "%s", why);
		return -1;
	}
	if (rc > 0 && !(cs->noted & NOTE_PSI)) {
		cs->noted |= NOTE_PSI;
		note(cs, "%s: memory PSI not read", why);
	}
	r->psi_some10 = m.avg10[0];
	return 0;
}

/* ---- one cgroup ---- */

/* Reads vm into r: 0 (r->alive 0 if its memory.current or memory.stat is
 * gone), or -1 if a file is malformed. */
static int cg_read(struct cgroup_src *cs, const char *vm,
		   struct cg_reading *r, char *err, size_t errlen)
{
	int rc;

	memset(r, 0, sizeof(*r));
	rc = read_value(cs, vm, "memory.current", &r->current, err, errlen);
	if (rc == 0)
		rc = read_stat(cs, vm, &r->inactive_file, err, errlen);
	if (rc != 0)
		return rc < 0 ? -1 : 0;
	r->alive = 1;
	if (read_setting(cs, vm, "memory.high", PROCFILE_UNLIMITED, &r->high,
			 err, errlen) != 0 ||
	    read_setting(cs, vm, "memory.max", PROCFILE_UNLIMITED, &r->max,
			 err, errlen) != 0 ||
	    read_setting(cs, vm, "memory.min", 0, &r->min, err, errlen) != 0 ||
	    read_setting(cs, vm, "memory.low", 0, &r->low, err, errlen) != 0 ||
	    read_psi(cs, vm, r, err, errlen) != 0)
		return -1;
	return 0;
}

static int64_t mib_down(uint64_t bytes)
{
	uint64_t mib = bytes / CG_MIB;

	return mib > (uint64_t)WIRE_MAX_MIB ? WIRE_MAX_MIB : (int64_t)mib;
}

static int64_t mib_up(uint64_t bytes)
{
	return mib_down(bytes) + (bytes % CG_MIB != 0 &&
				  bytes / CG_MIB < (uint64_t)WIRE_MAX_MIB);
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static int64_t demand_mib(const struct cg_reading *r)
{
	return r->current > r->inactive_file ?
	       mib_up(r->current - r->inactive_file) : 0;
}

static int64_t assigned_mib(const struct cg_reading *r)
{
	uint64_t lim = r->high < r->max ? r->high : r->max;

	return lim == PROCFILE_UNLIMITED ? mib_up(r->current) : mib_down(lim);
}

static int64_t maximum_mib(const struct cg_reading *r)
{
	int64_t m = r->max == PROCFILE_UNLIMITED ? mib_up(r->current) :
		    mib_down(r->max);

	return m < 1 ? 1 : m;
}

/* The larger of memory.min and memory.low, or dflt if neither is set. */
static int64_t minimum_mib(const struct cg_reading *r, int64_t maximum,
			   int64_t dflt)
{
	uint64_t p = r->min > r->low ? r->min : r->low;

	if (p == 0)
		return clamp64(dflt, 1, maximum);
	if (p == PROCFILE_UNLIMITED)
		return maximum;
	return clamp64(mib_down(p), 1, maximum);
}

/* ---- the interface ---- */

static int find_new(struct cgroup_src *cs, int at_open, char *err,
		    size_t errlen);

/* Reads every known VM, then keeps the readings only if all were good. */
static int read_known(struct cgroup_src *cs, char *err, size_t errlen)
{
	struct cg_reading *r;

	if (cs->n == 0)
		return 0;
	r = calloc(cs->n, sizeof(*r));
	if (!r) {
		snprintf(err, errlen, "out of memory for %zu cgroups", cs->n);
		return -1;
	}
	for (size_t i = 0; i < cs->n; i++) {
		if (cg_read(cs, cs->vms[i].name, &r[i], err, errlen) != 0) {
			free(r);
			return -1;
		}
	}
	for (size_t i = 0; i < cs->n; i++) {
		cs->vms[i].alive = r[i].alive;
		if (r[i].alive)
			cs->vms[i].last = r[i];
	}
	free(r);
	return 0;
}

/* The known VMs, then the children not seen before. */
static int cgroup_advance(source *s, char *err, size_t errlen)
{
	struct cgroup_src *cs = s->state;

	if (read_known(cs, err, errlen) != 0)
		return -1;
	return find_new(cs, 0, err, errlen);
}

static int cgroup_host(source *s, source_host *out, char *err,
		       size_t errlen)
{
	(void)s;
	(void)err;
	(void)errlen;
	memset(out, 0, sizeof(*out));
	return 0;
}

static size_t cgroup_n_vms(source *s)
{
	const struct cgroup_src *cs = s->state;

	return cs->n;
}

static int cgroup_vm_config(source *s, size_t i, source_vm_config *out)
{
	const struct cgroup_src *cs = s->state;
	const struct cg_reading *r;

	if (i >= cs->n)
		return -1;
	r = &cs->vms[i].last;
	source_vm_settings(&cs->vmd, maximum_mib(r), out);
	out->name = cs->vms[i].name;
	out->minimum_mib = minimum_mib(r, out->maximum_mib, out->minimum_mib);
	out->startup_mib = clamp64(assigned_mib(r), out->minimum_mib,
				   out->maximum_mib);
	source_vm_override_apply(&cs->vmd, out); /* [vm "NAME"] */
	return 0;
}

static int cgroup_vm_sample(source *s, size_t i, source_vm_sample *out,
			    char *err, size_t errlen)
{
	const struct cgroup_src *cs = s->state;
	const struct cg_reading *r;

	if (i >= cs->n) {
		snprintf(err, errlen, "no VM %zu (the source has %zu)", i,
			 cs->n);
		return -1;
	}
	memset(out, 0, sizeof(*out));
	if (!cs->vms[i].alive)
		return 0;
	r = &cs->vms[i].last;
	out->alive = 1;
	out->demand_mib = demand_mib(r);
	out->assigned_mib = assigned_mib(r);
	out->pressure = wire_pressure(out->demand_mib, out->assigned_mib);
	return 0;
}

static void cgroup_src_free(struct cgroup_src *cs)
{
	if (!cs)
		return;
	for (size_t i = 0; i < cs->n; i++)
		free(cs->vms[i].name);
	free(cs->vms);
	for (size_t i = 0; i < cs->n_skipped; i++)
		free(cs->skipped[i]);
	free(cs->skipped);
	free(cs->dir);
	free(cs);
}

static void cgroup_close(source *s)
{
	cgroup_src_free(s->state);
}

static const struct source_ops cgroup_ops = {
	.kind = "cgroup",
	.advance = cgroup_advance,
	.host = cgroup_host,
	.n_vms = cgroup_n_vms,
	.vm_config = cgroup_vm_config,
	.vm_sample = cgroup_vm_sample,
	.close = cgroup_close,
};

/* ---- the children: found at open, and at every advance ---- */

static int add_vm(struct cgroup_src *cs, const char *name)
{
	if (UTIL_GROW(cs->vms, cs->n + 1, cs->cap))
		return -1;
	memset(&cs->vms[cs->n], 0, sizeof(cs->vms[cs->n]));
	cs->vms[cs->n].name = strdup(name);
	if (!cs->vms[cs->n].name)
		return -1;
	cs->n++;
	return 0;
}

static int known(const struct cgroup_src *cs, const char *name)
{
	for (size_t i = 0; i < cs->n; i++)
		if (strcmp(cs->vms[i].name, name) == 0)
			return 1;
	return 0;
}

/* 1 the first time a child is left out (a note is due), 0 after that. */
static int first_skip(struct cgroup_src *cs, const char *name)
{
	for (size_t i = 0; i < cs->n_skipped; i++)
		if (strcmp(cs->skipped[i], name) == 0)
			return 0;
	if (UTIL_GROW(cs->skipped, cs->n_skipped + 1, cs->cap_skipped))
		return 1; /* noted again next time: harmless */
	cs->skipped[cs->n_skipped] = strdup(name);
	if (cs->skipped[cs->n_skipped])
		cs->n_skipped++;
	return 1;
}

/* Is the entry name of the parent a new child cgroup with memory, to
 * keep? */
static int is_new_vm(struct cgroup_src *cs, const char *name)
{
	char path[CG_PATH_MAX];

	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
	    known(cs, name))
		return 0;
	cg_path(cs, name, "memory.current", path, sizeof(path));
	if (access(path, F_OK) != 0)
		return 0;
	if (wire_name_ok(name) && source_vm_excluded(&cs->vmd, name)) {
		if (first_skip(cs, name))
			note(cs, "cgroup '%s' in '%s' left out: excluded by the "
			     "configuration ([vm \"%s\"] exclude)", name,
			     cs->dir, name);
		return 0;
	}
	if (wire_name_ok(name))
		return 1;
	if (first_skip(cs, name))
		note(cs, "cgroup '%.40s%s' in '%s' left out: not a VM name "
		     "(1..%u printable characters, no spaces)", name,
		     strlen(name) > 40 ? "..." : "", cs->dir, WIRE_MAX_NAME);
	return 0;
}

static int cmp_vm(const void *a, const void *b)
{
	return strcmp(((const struct cg_vm *)a)->name,
		      ((const struct cg_vm *)b)->name);
}

/* The parent cannot be listed: an error at open, a note (once) after. */
static int list_failed(struct cgroup_src *cs, int at_open, const char *what,
		       char *err, size_t errlen)
{
	if (at_open) {
		snprintf(err, errlen, "cannot %s the cgroup '%s': %s", what,
			 cs->dir, strerror(errno));
		return -1;
	}
	if (!(cs->noted & NOTE_LIST)) {
		cs->noted |= NOTE_LIST;
		note(cs, "cannot %s the cgroup '%s' (%s): no new cgroups found "
		     "while it cannot be", what, cs->dir, strerror(errno));
	}
	return 0;
}

/* Appends the children not seen before, in name order among themselves. */
static int list_children(struct cgroup_src *cs, int at_open, char *err,
			 size_t errlen)
{
	DIR *d = opendir(cs->dir);
	struct dirent *e;
	size_t before = cs->n;
	int rc = 0;

	if (!d)
		return list_failed(cs, at_open, "open", err, errlen);
	while (rc == 0 && (errno = 0, e = readdir(d)) != NULL) {
		if (is_new_vm(cs, e->d_name) && add_vm(cs, e->d_name) != 0) {
			snprintf(err, errlen, "out of memory for cgroups");
			rc = -1;
		}
	}
	if (rc == 0 && errno != 0)
		rc = list_failed(cs, at_open, "list", err, errlen);
	closedir(d);
	if (cs->n > before + 1)
		qsort(cs->vms + before, cs->n - before, sizeof(*cs->vms),
		      cmp_vm);
	return rc;
}

/* Drops the VMs from index from on. */
static void drop_from(struct cgroup_src *cs, size_t from)
{
	while (cs->n > from)
		free(cs->vms[--cs->n].name);
}

/* The first reading of the VMs from index from on: the unreadable ones
 * are left out (noted once each); a malformed file drops them all (they
 * are found again by the next advance) and is an error. */
static int read_new(struct cgroup_src *cs, size_t from, char *err,
		    size_t errlen)
{
	size_t kept = from;

	for (size_t i = from; i < cs->n; i++) {
		struct cg_vm *v = &cs->vms[i];

		if (cg_read(cs, v->name, &v->last, err, errlen) != 0) {
			drop_from(cs, from);
			return -1;
		}
		v->alive = v->last.alive;
	}
	for (size_t i = from; i < cs->n; i++) {
		struct cg_vm *v = &cs->vms[i];

		if (v->alive) {
			cs->vms[kept++] = *v;
			continue;
		}
		if (first_skip(cs, v->name))
			note(cs, "cgroup '%s' in '%s' left out while its "
			     "memory.current or memory.stat cannot be read",
			     v->name, cs->dir);
		free(v->name);
	}
	cs->n = kept;
	return 0;
}

/* Appends the children not seen before, with their first reading. */
static int find_new(struct cgroup_src *cs, int at_open, char *err,
		    size_t errlen)
{
	size_t before = cs->n;

	if (list_children(cs, at_open, err, errlen) != 0) {
		drop_from(cs, before);
		return -1;
	}
	return read_new(cs, before, err, errlen);
}

static int check_opts(const source_cgroup_opts *o, char *err, size_t errlen)
{
	const char *root = o && o->cgroup_root ? o->cgroup_root :
			   "/sys/fs/cgroup";
	const char *bad = NULL;

	if (!o)
		bad = "no options";
	else if (!o->parent)
		bad = "no parent cgroup (\"\" for the root itself)";
	else if (!root[0])
		bad = "the cgroup root is empty";
	else if (strlen(root) + strlen(o->parent) + 1 > CG_DIR_MAX)
		bad = "the cgroup path is too long";
	if (bad) {
		snprintf(err, errlen, "%s", bad);
		return -1;
	}
	if (o->vm_defaults)
		return source_vm_defaults_check(o->vm_defaults, err, errlen);
	return 0;
}

static char *parent_dir(const source_cgroup_opts *o)
{
	const char *root = o->cgroup_root ? o->cgroup_root : "/sys/fs/cgroup";
	size_t len = strlen(root) + strlen(o->parent) + 2;
	char *dir = malloc(len);

	if (dir)
		snprintf(dir, len, "%s%s%s", root, o->parent[0] ? "/" : "",
			 o->parent);
	return dir;
}

int source_cgroup_open(const source_cgroup_opts *o, source **out, char *err,
		       size_t errlen)
{
	struct cgroup_src *cs;

	*out = NULL;
	if (check_opts(o, err, errlen) != 0)
		return -1;
	cs = calloc(1, sizeof(*cs));
	if (cs)
		cs->dir = parent_dir(o);
	if (!cs || !cs->dir) {
		cgroup_src_free(cs);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	cs->note = o->note;
	cs->note_ctx = o->note_ctx;
	if (o->vm_defaults)
		cs->vmd = *o->vm_defaults;
	else
		source_vm_defaults_init(&cs->vmd);
	cs->base.ops = &cgroup_ops;
	cs->base.state = cs;
	if (find_new(cs, 1, err, errlen) != 0) {
		cgroup_src_free(cs);
		return -1;
	}
	*out = &cs->base;
	return 0;
}
