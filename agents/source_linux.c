/*
 * source_linux.c - the Linux host source: the host's memory figures from
 * /proc (or a fixture tree of the same shape), re-read on every advance.
 * No VMs: it is paired with a VM source.
 *
 * Where each figure of source_host comes from:
 *   capacity_mib      MemTotal of meminfo (kB, rounded down to MiB)
 *   free_mib          MemAvailable of meminfo (the kernel's estimate of what
 *                     can be allocated without swapping) minus reserve_mib,
 *                     as the trace and static sources count it: what the
 *                     host can offer beyond its reserve; never below 0, at
 *                     most capacity - reserve
 *   reserve_mib       the options
 *   balloon_mib       0: this source knows no VMs
 *   host_swap_mibps   pswpin + pswpout of vmstat (pages, of
 *                     sysconf(_SC_PAGESIZE) bytes): their growth between
 *                     two readings over the time between them; 0 at the
 *                     first reading and without vmstat
 *
 * pressure/memory (PSI) is read and checked too, and its "full avg10" kept
 * (the share of the last 10 s in which every non-idle task was stalled on
 * memory), but source_host has no field for it: the pressures the market
 * prices with are the broker's (docs/protocol.md, "Who owns each figure").
 *
 * The clock of the swap rate is the first figure of <proc_root>/uptime
 * (seconds, 10 ms resolution), so that a fixture tree carries its own time
 * and a test is exact; without that file, CLOCK_MONOTONIC. When no time has
 * passed since the baseline, the rate and its baseline are kept (the next
 * advance measures over the longer span); when the counters went back or the
 * clock changed, the rate is 0 and measured from the new reading.
 *
 * Every line of every file is checked; a malformed one is an error naming
 * the file and line ("/proc/meminfo:3: ...") and the last good reading is
 * kept whole. A missing or unreadable vmstat, pressure/memory or uptime is
 * noted once and the source goes on without it.
 */
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

#define LX_ROOT_MAX 3800  /* longest proc_root */
#define LX_PATH_MAX 4096

/* The notes made, once each. */
enum lx_note {
	NOTE_VMSTAT = 1,
	NOTE_PSWP = 2,
	NOTE_PSI = 4,
	NOTE_UPTIME = 8,
};

/* Which clock timed a reading. */
enum lx_clock {
	CLK_UPTIME = 1,
	CLK_MONO = 2,
};

/* One reading of the files: taken whole or not at all. */
struct lx_reading {
	uint64_t total_kb, avail_kb; /* meminfo */
	int have_swap;               /* vmstat had pswpin and pswpout */
	uint64_t swap_pages;         /* pswpin + pswpout */
	double full10;               /* PSI "full avg10", percent; 0 without */
	int clock;                   /* enum lx_clock */
	double now_s;                /* the time of the reading, on clock */
};

struct linux_src {
	source base;
	char *root;             /* proc_root, owned */
	int64_t reserve;        /* MiB */
	source_note_fn note;    /* NULL: stderr */
	void *note_ctx;
	unsigned noted;         /* enum lx_note bits of the notes made */
	double page_mib;        /* one page, MiB */
	struct lx_reading cur;  /* the latest good reading */
	struct lx_reading from; /* where the swap rate is measured from */
	double swap_mibps;      /* the latest swap rate */
};

static void lx_path(const struct linux_src *ls, const char *file, char *buf,
		    size_t len)
{
	snprintf(buf, len, "%s/%s", ls->root, file);
}

static void note_once(struct linux_src *ls, unsigned bit, const char *fmt,
		      ...) __attribute__((format(printf, 3, 4)));

static void note_once(struct linux_src *ls, unsigned bit, const char *fmt,
		      ...)
{
	va_list ap;

	if (ls->noted & bit)
		return;
	ls->noted |= bit;
	va_start(ap, fmt);
	procfile_vnote(ls->note, ls->note_ctx, fmt, ap);
	va_end(ap);
}

/* Reads file with reader (procfile_each_line or procfile_one_line), which
 * may be missing: 0 if read, 1 if it could not be (noted once, bit, saying
 * what the source does without it), or -1 if it is malformed. */
static int read_optional(struct linux_src *ls, const char *file,
			 unsigned bit, const char *without,
			 procfile_read_fn reader, procfile_line_fn fn,
			 void *ctx, char *err, size_t errlen)
{
	char path[LX_PATH_MAX], why[LX_PATH_MAX + PROCFILE_MSG_MAX];
	int rc;

	lx_path(ls, file, path, sizeof(path));
	rc = reader(path, fn, ctx, why, sizeof(why));
	if (rc < 0)
		snprintf(err, errlen, "%s", why);
	if (rc > 0)
		note_once(ls, bit, "%s: %s", why, without);
	return rc;
}

/* ---- meminfo: "Key:   value[ kB]" ---- */

struct meminfo_ctx {
	uint64_t total_kb, avail_kb;
	int seen_total, seen_avail;
};

/* Keeps the value of a wanted key: in kB, once. */
static int meminfo_keep(const char *key, int kb, uint64_t v, uint64_t *out,
			int *seen, char *msg, size_t len)
{
	if (!kb)
		return util_err(msg, len, "'%s' is not in kB", key);
	if (*seen)
		return util_err(msg, len, "a second '%s'", key);
	*seen = 1;
	*out = v;
	return 0;
}

static int meminfo_line(void *ctx, const char *line, char *msg, size_t len)
{
	struct meminfo_ctx *m = ctx;
	const char *p = line;
	char key[PROCFILE_KEY_MAX];
	uint64_t v;
	int kb;

	if (procfile_scan_key(&p, key, PROCFILE_KEY_PROC) != 0 ||
	    procfile_scan_lit(&p, ":") != 0 || *p != ' ')
		return util_err(msg, len, "'%.60s' is not 'Key: value [kB]'",
				line);
	while (*p == ' ')
		p++;
	if (procfile_scan_u64(&p, &v) != 0)
		return util_err(msg, len, "the value of '%s' is not a whole "
				"number below 2^64", key);
	kb = procfile_scan_lit(&p, " kB") == 0;
	if (*p)
		return util_err(msg, len, "'%.30s' after the value of '%s'", p,
				key);
	if (strcmp(key, "MemTotal") == 0)
		return meminfo_keep(key, kb, v, &m->total_kb, &m->seen_total,
				    msg, len);
	if (strcmp(key, "MemAvailable") == 0)
		return meminfo_keep(key, kb, v, &m->avail_kb, &m->seen_avail,
				    msg, len);
	return 0;
}

static int read_meminfo(struct linux_src *ls, struct lx_reading *r,
			char *err, size_t errlen)
{
	struct meminfo_ctx m = { 0 };
	char path[LX_PATH_MAX];
	const char *missing;

	lx_path(ls, "meminfo", path, sizeof(path));
	if (procfile_each_line(path, meminfo_line, &m, err, errlen) != 0)
		return -1;
	missing = !m.seen_total ? "MemTotal" :
		  !m.seen_avail ? "MemAvailable (Linux 3.14 or later)" : NULL;
	if (missing) {
		snprintf(err, errlen, "%s: no %s", path, missing);
		return -1;
	}
	r->total_kb = m.total_kb;
	/* above MemTotal only where meminfo is faked (LXCFS): cap it */
	r->avail_kb = m.avail_kb < m.total_kb ? m.avail_kb : m.total_kb;
	return 0;
}

/* ---- vmstat: "name value" ---- */

static int read_vmstat(struct linux_src *ls, struct lx_reading *r,
		       char *err, size_t errlen)
{
	static const char *const want[] = { "pswpin", "pswpout" };
	struct procfile_keys m = {
		.set = PROCFILE_KEY_PROC, .what = "name", .want = want,
		.n_want = 2,
	};
	int rc = read_optional(ls, "vmstat", NOTE_VMSTAT,
			       "host swap rate is 0", procfile_each_line,
			       procfile_keys_line, &m, err, errlen);

	if (rc != 0)
		return rc < 0 ? -1 : 0;
	if (!m.seen[0] || !m.seen[1]) {
		note_once(ls, NOTE_PSWP, "no pswpin or pswpout in '%s/vmstat': "
			  "host swap rate is 0", ls->root);
		return 0;
	}
	r->have_swap = 1;
	r->swap_pages = m.v[0] + m.v[1];
	return 0;
}

/* ---- pressure/memory: "some|full avg10=A avg60=B avg300=C total=T" ---- */

static int read_psi(struct linux_src *ls, struct lx_reading *r, char *err,
		    size_t errlen)
{
	struct procfile_psi m = { { 0, 0 }, { 0, 0 } };
	int rc = read_optional(ls, "pressure/memory", NOTE_PSI,
			       "memory pressure (PSI) not used",
			       procfile_each_line, procfile_psi_line, &m, err,
			       errlen);

	if (rc == 0 && (!m.seen[0] || !m.seen[1])) {
		snprintf(err, errlen, "%s/pressure/memory: no '%s' line",
			 ls->root, m.seen[0] ? "full" : "some");
		rc = -1;
	}
	r->full10 = m.avg10[1]; /* 0 without PSI */
	return rc < 0 ? -1 : 0;
}

/* ---- the clock: uptime "up idle", or CLOCK_MONOTONIC ---- */

/* ctx: the up time (seconds). */
static int uptime_line(void *ctx, const char *line, char *msg, size_t len)
{
	double *up = ctx;
	const char *p = line;
	double idle;

	if (procfile_scan_decimal(&p, up) != 0 ||
	    procfile_scan_lit(&p, " ") != 0 ||
	    procfile_scan_decimal(&p, &idle) != 0 || *p)
		return util_err(msg, len, "'%.60s' is not 'up idle' (seconds)",
				line);
	return 0;
}

static int read_clock(struct linux_src *ls, struct lx_reading *r,
		      char *err, size_t errlen)
{
	double up = 0;
	int rc = read_optional(ls, "uptime", NOTE_UPTIME,
			       "swap rates timed by CLOCK_MONOTONIC",
			       procfile_one_line, uptime_line, &up, err,
			       errlen);

	if (rc < 0)
		return -1;
	if (rc == 0) {
		r->clock = CLK_UPTIME;
		r->now_s = up;
		return 0;
	}
	r->clock = CLK_MONO;
	r->now_s = (double)util_now_us() / 1e6;
	return 0;
}

/* ---- readings ---- */

static int lx_read(struct linux_src *ls, struct lx_reading *r, char *err,
		   size_t errlen)
{
	memset(r, 0, sizeof(*r));
	if (read_meminfo(ls, r, err, errlen) != 0 ||
	    read_vmstat(ls, r, err, errlen) != 0 ||
	    read_psi(ls, r, err, errlen) != 0 ||
	    read_clock(ls, r, err, errlen) != 0)
		return -1;
	return 0;
}

/* The swap rate from the baseline to r, which becomes the baseline. */
static void update_rate(struct linux_src *ls, const struct lx_reading *r)
{
	const struct lx_reading *b = &ls->from;
	double dt = r->now_s - b->now_s;

	if (!r->have_swap || !b->have_swap || b->clock != r->clock ||
	    r->swap_pages < b->swap_pages) {
		ls->swap_mibps = 0;
	} else if (dt <= 0) {
		return; /* no time has passed: measure over a longer span */
	} else {
		ls->swap_mibps = (double)(r->swap_pages - b->swap_pages) *
				 ls->page_mib / dt;
		if (ls->swap_mibps > WIRE_MAX_MIBPS)
			ls->swap_mibps = WIRE_MAX_MIBPS;
	}
	ls->from = *r;
}

static int64_t kb_to_mib(uint64_t kb)
{
	uint64_t mib = kb / 1024;

	return mib > (uint64_t)WIRE_MAX_MIB ? WIRE_MAX_MIB : (int64_t)mib;
}

/* ---- the interface ---- */

static int linux_advance(source *s, char *err, size_t errlen)
{
	struct linux_src *ls = s->state;
	struct lx_reading r;

	if (lx_read(ls, &r, err, errlen) != 0)
		return -1;
	ls->cur = r;
	update_rate(ls, &r);
	return 0;
}

/* MemAvailable beyond the reserve: within 0..capacity - reserve (the
 * capacity may have fallen below the reserve since open). */
static int64_t host_free_mib(const struct linux_src *ls)
{
	int64_t most = kb_to_mib(ls->cur.total_kb) - ls->reserve;
	int64_t mib = kb_to_mib(ls->cur.avail_kb) - ls->reserve;

	if (mib > most)
		mib = most;
	return mib < 0 ? 0 : mib;
}

static int linux_host(source *s, source_host *out, char *err, size_t errlen)
{
	const struct linux_src *ls = s->state;

	(void)err;
	(void)errlen;
	memset(out, 0, sizeof(*out));
	out->capacity_mib = kb_to_mib(ls->cur.total_kb);
	out->reserve_mib = ls->reserve;
	out->free_mib = host_free_mib(ls);
	out->host_swap_mibps = ls->swap_mibps;
	return 0;
}

static size_t linux_n_vms(source *s)
{
	(void)s;
	return 0;
}

static int linux_vm_config(source *s, size_t i, source_vm_config *out)
{
	(void)s;
	(void)i;
	(void)out;
	return -1;
}

static int linux_vm_sample(source *s, size_t i, source_vm_sample *out,
			   char *err, size_t errlen)
{
	(void)s;
	(void)out;
	snprintf(err, errlen, "the linux source has no VM %zu (it reads the "
		 "host only)", i);
	return -1;
}

static void linux_src_free(struct linux_src *ls)
{
	if (!ls)
		return;
	free(ls->root);
	free(ls);
}

static void linux_close(source *s)
{
	linux_src_free(s->state);
}

static const struct source_ops linux_ops = {
	.kind = "linux",
	.advance = linux_advance,
	.host = linux_host,
	.n_vms = linux_n_vms,
	.vm_config = linux_vm_config,
	.vm_sample = linux_vm_sample,
	.close = linux_close,
};

static int check_opts(const source_linux_opts *o, char *err, size_t errlen)
{
	const char *bad = NULL;

	if (!o)
		bad = "no options";
	else if (o->proc_root && !o->proc_root[0])
		bad = "the proc root is empty";
	else if (o->proc_root && strlen(o->proc_root) > LX_ROOT_MAX)
		bad = "the proc root is too long";
	else if (o->reserve_mib < 0 || o->reserve_mib > WIRE_MAX_MIB)
		bad = "reserve must be between 0 and 64 TiB";
	if (bad) {
		snprintf(err, errlen, "%s", bad);
		return -1;
	}
	return 0;
}

/* The first reading: capacity must leave something above the reserve. */
static int check_capacity(const struct linux_src *ls, char *err,
			  size_t errlen)
{
	int64_t cap = kb_to_mib(ls->cur.total_kb);

	if (ls->reserve < cap)
		return 0;
	snprintf(err, errlen, "reserve %lld MiB must be below the capacity "
		 "(%lld MiB, MemTotal of '%s/meminfo')",
		 (long long)ls->reserve, (long long)cap, ls->root);
	return -1;
}

int source_linux_open(const source_linux_opts *o, source **out, char *err,
		      size_t errlen)
{
	struct linux_src *ls;
	long page = sysconf(_SC_PAGESIZE);

	*out = NULL;
	if (check_opts(o, err, errlen) != 0)
		return -1;
	ls = calloc(1, sizeof(*ls));
	if (ls)
		ls->root = strdup(o->proc_root ? o->proc_root : "/proc");
	if (!ls || !ls->root) {
		linux_src_free(ls);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	ls->reserve = o->reserve_mib;
	ls->note = o->note;
	ls->note_ctx = o->note_ctx;
	ls->page_mib = (double)(page > 0 ? page : 4096) / (1024.0 * 1024.0);
	if (lx_read(ls, &ls->cur, err, errlen) != 0 ||
	    check_capacity(ls, err, errlen) != 0) {
		linux_src_free(ls);
		return -1;
	}
	update_rate(ls, &ls->cur);
	ls->base.ops = &linux_ops;
	ls->base.state = ls;
	*out = &ls->base;
	return 0;
}
