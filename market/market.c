/*
 * market.c - the bourse economic engine (see market.h and docs/market.md).
 *
 * Layout of this file, in the order a round runs:
 *   messages    tiny error-message builder (no stdio in market/)
 *   sorting     a stable merge sort of index arrays with a scratch buffer
 *   parameters  defaults and validation
 *   buyers      floor, ceiling, want, pressure, budget
 *   sellers     price
 *   results     market_result_init/_release and the private scratch
 *   host index  an ordered set of hosts (treap) for migration and suspend
 *   round       grouping, pricing, clearing, hysteresis, migration,
 *               recommendations, signals
 *
 * Nothing here allocates after market_result_init(), reads a clock or does
 * I/O. Every helper that is not part of market.h is static.
 */
#include "market.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "banned.h"

/* Largest memory quantity (MiB) the market accepts: 2^40 MiB = 1 EiB.
 * Keeps every sum over 10^6 VMs, and demand * (100 + buffer_pct), inside
 * int64_t. */
#define S_MIB_MAX ((int64_t)1 << 40)

/* Hyper-V accepts a memory buffer of 5..2000 %. */
#define S_BUFFER_MAX 2000u

/* Weight range of Hyper-V Dynamic Memory (0..10000, default 5000). */
#define S_WEIGHT_MAX 10000u
#define S_WEIGHT_NORMAL 5000.0

/* ESX "normal" shares, normalised (see docs/market.md, "Budget"). */
#define S_SHARES_NORMAL 1000.0

/* ------------------------------------------------------------------ */
/* messages                                                           */
/* ------------------------------------------------------------------ */

/* A bounded, always NUL-terminated message being built in a caller buffer. */
typedef struct s_msg {
	char *buf;
	size_t cap;
	size_t len;
} s_msg;

static void s_msg_str(s_msg *m, const char *s)
{
	if (m->buf == NULL || m->cap == 0)
		return;
	while (*s != '\0' && m->len + 1 < m->cap)
		m->buf[m->len++] = *s++;
	m->buf[m->len] = '\0';
}

static void s_msg_u64(s_msg *m, uint64_t v)
{
	char tmp[24];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	char out[24];
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	out[n] = '\0';
	s_msg_str(m, out);
}

static s_msg s_msg_start(char *err, size_t errlen)
{
	s_msg m = { err, errlen, 0 };

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	return m;
}

/* Sets err to "<what>" and returns -1. */
static int s_fail(char *err, size_t errlen, const char *what)
{
	s_msg m = s_msg_start(err, errlen);

	s_msg_str(&m, what);
	return -1;
}

/* ------------------------------------------------------------------ */
/* sorting                                                            */
/* ------------------------------------------------------------------ */

/* Everything a comparison may look at; each less-function uses a part. */
typedef struct s_ctx {
	const market_cluster *c;
	const double *dkey;  /* per VM or per host, by index */
	const int64_t *ikey; /* per VM or per host, by index */
} s_ctx;

/* Strict weak order on indices: returns nonzero if a sorts before b. */
typedef int (*s_less_fn)(const s_ctx *ctx, uint32_t a, uint32_t b);

/* Stable bottom-up merge sort of a[0..n) using tmp[0..n) as scratch. */
static void s_sort(uint32_t *a, uint32_t *tmp, size_t n, s_less_fn less,
		   const s_ctx *ctx)
{
	uint32_t *src = a, *dst = tmp;

	for (size_t w = 1; w < n; w *= 2) {
		for (size_t lo = 0; lo < n; lo += 2 * w) {
			size_t mid = lo + w < n ? lo + w : n;
			size_t hi = lo + 2 * w < n ? lo + 2 * w : n;
			size_t i = lo, j = mid, k = lo;

			while (i < mid && j < hi)
				dst[k++] = less(ctx, src[j], src[i]) ? src[j++]
								     : src[i++];
			while (i < mid)
				dst[k++] = src[i++];
			while (j < hi)
				dst[k++] = src[j++];
		}
		uint32_t *t = src;
		src = dst;
		dst = t;
	}
	if (src != a)
		memcpy(a, src, n * sizeof(*a));
}

static int s_vm_id_less(const s_ctx *x, uint32_t a, uint32_t b)
{
	if (x->c->vms[a].id != x->c->vms[b].id)
		return x->c->vms[a].id < x->c->vms[b].id;
	return a < b;
}

static int s_host_id_less(const s_ctx *x, uint32_t a, uint32_t b)
{
	if (x->c->hosts[a].id != x->c->hosts[b].id)
		return x->c->hosts[a].id < x->c->hosts[b].id;
	return a < b;
}

/* VMs: dkey (rho) descending, then weight desc, shares desc, id asc. */
static int s_less_rho(const s_ctx *x, uint32_t a, uint32_t b)
{
	const market_vm *va = &x->c->vms[a], *vb = &x->c->vms[b];

	if (x->dkey[a] != x->dkey[b])
		return x->dkey[a] > x->dkey[b];
	if (va->weight != vb->weight)
		return va->weight > vb->weight;
	if (va->shares != vb->shares)
		return va->shares > vb->shares;
	return s_vm_id_less(x, a, b);
}

/* VMs: ikey descending, then id ascending. */
static int s_less_vm_ikey_desc(const s_ctx *x, uint32_t a, uint32_t b)
{
	if (x->ikey[a] != x->ikey[b])
		return x->ikey[a] > x->ikey[b];
	return s_vm_id_less(x, a, b);
}

/* VMs: ikey ascending, then id ascending. */
static int s_less_vm_ikey_asc(const s_ctx *x, uint32_t a, uint32_t b)
{
	if (x->ikey[a] != x->ikey[b])
		return x->ikey[a] < x->ikey[b];
	return s_vm_id_less(x, a, b);
}

/* Hosts: dkey (price) descending, then id ascending. */
static int s_less_host_dkey_desc(const s_ctx *x, uint32_t a, uint32_t b)
{
	if (x->dkey[a] != x->dkey[b])
		return x->dkey[a] > x->dkey[b];
	return s_host_id_less(x, a, b);
}

/* Hosts: dkey (price) ascending, then id ascending. */
static int s_less_host_dkey_asc(const s_ctx *x, uint32_t a, uint32_t b)
{
	if (x->dkey[a] != x->dkey[b])
		return x->dkey[a] < x->dkey[b];
	return s_host_id_less(x, a, b);
}

/* Hosts: ikey (awarded) ascending, then id ascending. */
static int s_less_host_ikey_asc(const s_ctx *x, uint32_t a, uint32_t b)
{
	if (x->ikey[a] != x->ikey[b])
		return x->ikey[a] < x->ikey[b];
	return s_host_id_less(x, a, b);
}

/* Hosts: ikey (room) ascending, then index (the best-fit order). */
static int s_less_host_ikey_index(const s_ctx *x, uint32_t a, uint32_t b)
{
	if (x->ikey[a] != x->ikey[b])
		return x->ikey[a] < x->ikey[b];
	return a < b;
}

/* ------------------------------------------------------------------ */
/* parameters                                                         */
/* ------------------------------------------------------------------ */

void market_params_default(market_params *p)
{
	memset(p, 0, sizeof(*p));
	p->price_base = 1.0;
	p->price_exponent = 2.0;
	p->util_cap = 0.99;
	p->balloon_weight = 4.0;
	p->swap_weight = 2.0;
	p->swap_norm_mibps = 10.0;
	p->idle_tax = 0.75;
	p->budget_pressure_gain = 0.25;
	p->budget_swap_gain = 0.10;
	p->risk_headroom = 0.8;
	p->risk_rounds = 12.0;
	p->resize_min_mib = 64;
	p->resize_min_frac = 0.05;
	p->migrate_util = 0.90;
	p->migrate_gain = 0.30;
	p->migrate_cost_mib = 0.5;
	p->migrate_cooldown = 12;
	p->migrate_return_rounds = 288;
	p->migrate_persist = 3;
	p->migrate_max_per_round = 64;
	p->migrate_host_share = 0.0625;
	p->migrate_targets = 4;
	p->provision_util = 0.95;
	p->suspend_util = 0.60;
	p->peak_rounds = 72.0;
	p->provision_band = 0.05;
	p->migrate_squeeze = 1.0;
}

/* 1 if lo <= x <= hi (or lo <= x < hi when open_hi), finite; NaN fails. */
static int s_in(double x, double lo, double hi, int open_hi)
{
	if (!isfinite(x) || !(x >= lo))
		return 0;
	return open_hi ? x < hi : x <= hi;
}

int market_params_validate(const market_params *p, char *err, size_t errlen)
{
	static const double big = 1e12;
	const char *bad = NULL;

	if (p == NULL)
		bad = "parameters missing";
	else if (!s_in(p->price_base, 1e-12, big, 0))
		bad = "'price_base' must be > 0 and finite";
	else if (!s_in(p->price_exponent, 0.0, 16.0, 0))
		bad = "'price_exponent' must be in [0, 16]";
	else if (!s_in(p->util_cap, 0.0, 1.0, 1))
		bad = "'util_cap' must be in [0, 1)";
	else if (!s_in(p->balloon_weight, 0.0, big, 0))
		bad = "'balloon_weight' must be >= 0 and finite";
	else if (!s_in(p->swap_weight, 0.0, big, 0))
		bad = "'swap_weight' must be >= 0 and finite";
	else if (!s_in(p->swap_norm_mibps, 1e-9, big, 0))
		bad = "'swap_norm_mibps' must be > 0 and finite";
	else if (!s_in(p->idle_tax, 0.0, 1.0, 1))
		bad = "'idle_tax' must be in [0, 1)";
	else if (!s_in(p->budget_pressure_gain, 0.0, big, 0))
		bad = "'budget_pressure_gain' must be >= 0 and finite";
	else if (!s_in(p->budget_swap_gain, 0.0, big, 0))
		bad = "'budget_swap_gain' must be >= 0 and finite";
	else if (p->resize_min_mib < 0 || p->resize_min_mib > S_MIB_MAX)
		bad = "'resize_min_mib' must be in [0, 2^40]";
	else if (!s_in(p->resize_min_frac, 0.0, 1.0, 0))
		bad = "'resize_min_frac' must be in [0, 1]";
	else if (!s_in(p->migrate_util, 0.0, 100.0, 0))
		bad = "'migrate_util' must be in [0, 100]";
	else if (!s_in(p->migrate_gain, 0.0, 1.0, 1))
		bad = "'migrate_gain' must be in [0, 1)";
	else if (!s_in(p->migrate_cost_mib, 0.0, big, 0))
		bad = "'migrate_cost_mib' must be >= 0 and finite";
	else if (!s_in(p->migrate_host_share, 0.0, 1.0, 0))
		bad = "'migrate_host_share' must be in [0, 1]";
	else if (!s_in(p->risk_headroom, 0.0, 100.0, 0))
		bad = "'risk_headroom' must be in [0, 100]";
	else if (!s_in(p->risk_rounds, 1.0, 1e6, 0))
		bad = "'risk_rounds' must be in [1, 1000000]";
	else if (p->migrate_return_rounds < 0)
		bad = "'migrate_return_rounds' must be >= 0";
	else if (p->migrate_cooldown < 0)
		bad = "'migrate_cooldown' must be >= 0";
	else if (!s_in(p->provision_util, 0.01, 100.0, 0))
		bad = "'provision_util' must be in [0.01, 100]";
	else if (!s_in(p->suspend_util, 0.0, 1.0, 0))
		bad = "'suspend_util' must be in [0, 1]";
	else if (!s_in(p->peak_rounds, 1.0, 1e6, 0))
		bad = "'peak_rounds' must be in [1, 1000000]";
	else if (!s_in(p->provision_band, 0.0, 100.0, 0))
		bad = "'provision_band' must be in [0, 100]";
	else if (!s_in(p->migrate_squeeze, 0.0, 1.0, 0))
		bad = "'migrate_squeeze' must be in [0, 1]";
	if (bad != NULL)
		return s_fail(err, errlen, bad);
	s_msg_start(err, errlen);
	return 0;
}

/* ------------------------------------------------------------------ */
/* cluster validation                                                 */
/* ------------------------------------------------------------------ */

static int s_mib_ok(int64_t v)
{
	return v >= 0 && v <= S_MIB_MAX;
}

/* Returns the reason VM *v is invalid, or NULL. */
static const char *s_vm_problem(const market_vm *v, size_t n_hosts)
{
	if (v->host >= n_hosts)
		return "host index out of range";
	if (!s_mib_ok(v->demand) || !s_mib_ok(v->assigned) ||
	    !s_mib_ok(v->startup) || !s_mib_ok(v->minimum) ||
	    !s_mib_ok(v->maximum) || !s_mib_ok(v->reservation) ||
	    !s_mib_ok(v->limit))
		return "memory quantity negative or above 2^40 MiB";
	if (v->minimum > v->maximum)
		return "'minimum' above 'maximum'";
	if (v->limit > 0 && v->reservation > v->limit)
		return "'reservation' above 'limit'";
	if (!isfinite(v->guest_swap_mibps) || v->guest_swap_mibps < 0)
		return "'guest_swap_mibps' negative or not finite";
	if (!isfinite(v->demand_rise_rms) || v->demand_rise_rms < 0 ||
	    v->demand_rise_rms > (double)S_MIB_MAX)
		return "'demand_rise_rms' negative, above 2^40 MiB or not "
		       "finite";
	if (!isfinite(v->demand_peak) || v->demand_peak < 0 ||
	    v->demand_peak > (double)S_MIB_MAX)
		return "'demand_peak' negative, above 2^40 MiB or not finite";
	if (v->weight > S_WEIGHT_MAX)
		return "'weight' above 10000";
	if (v->buffer_pct > S_BUFFER_MAX)
		return "'buffer_pct' above 2000";
	return NULL;
}

/* Returns the reason host *h is invalid, or NULL. */
static const char *s_host_problem(const market_host *h)
{
	if (!s_mib_ok(h->capacity) || !s_mib_ok(h->reserve))
		return "memory quantity negative or above 2^40 MiB";
	if (h->capacity <= h->reserve)
		return "'capacity' not above 'reserve'";
	if (!isfinite(h->host_swap_mibps) || h->host_swap_mibps < 0)
		return "'host_swap_mibps' negative or not finite";
	return NULL;
}

/* "<kind> <id> (index <i>): <why>" into err; returns -1. */
static int s_fail_item(char *err, size_t errlen, const char *kind,
		       uint32_t id, size_t i, const char *why)
{
	s_msg m = s_msg_start(err, errlen);

	s_msg_str(&m, kind);
	s_msg_str(&m, " ");
	s_msg_u64(&m, id);
	s_msg_str(&m, " (index ");
	s_msg_u64(&m, i);
	s_msg_str(&m, "): ");
	s_msg_str(&m, why);
	return -1;
}

int market_cluster_validate(const market_cluster *c, char *err, size_t errlen)
{
	if (c == NULL)
		return s_fail(err, errlen, "cluster missing");
	if ((c->n_hosts > 0 && c->hosts == NULL) ||
	    (c->n_vms > 0 && c->vms == NULL))
		return s_fail(err, errlen, "cluster arrays missing");
	if (c->n_hosts >= UINT32_MAX || c->n_vms >= UINT32_MAX)
		return s_fail(err, errlen, "cluster too large");
	for (size_t i = 0; i < c->n_hosts; i++) {
		const char *why = s_host_problem(&c->hosts[i]);
		if (why != NULL)
			return s_fail_item(err, errlen, "host",
					   c->hosts[i].id, i, why);
	}
	for (size_t i = 0; i < c->n_vms; i++) {
		const char *why = s_vm_problem(&c->vms[i], c->n_hosts);
		if (why != NULL)
			return s_fail_item(err, errlen, "vm", c->vms[i].id, i,
					   why);
	}
	s_msg_start(err, errlen);
	return 0;
}

/* ------------------------------------------------------------------ */
/* buyers                                                             */
/* ------------------------------------------------------------------ */

int64_t market_vm_ceiling(const market_vm *v)
{
	if (v->limit > 0 && v->limit < v->maximum)
		return v->limit;
	return v->maximum;
}

int64_t market_vm_floor(const market_vm *v)
{
	int64_t f = v->minimum > v->reservation ? v->minimum : v->reservation;
	int64_t ceil = market_vm_ceiling(v);

	return f < ceil ? f : ceil;
}

static int64_t s_clamp64(int64_t x, int64_t lo, int64_t hi)
{
	if (x < lo)
		return lo;
	return x > hi ? hi : x;
}

/* The Buffer's want of VM v at demand d (market_vm_want() at d). */
static int64_t s_want_at(const market_vm *v, int64_t d)
{
	int64_t floor = market_vm_floor(v), ceil = market_vm_ceiling(v);
	int64_t mul = 100 + (int64_t)v->buffer_pct, want;

	if (d <= 0)
		want = 0;
	else if (d > (INT64_MAX - 99) / mul)
		want = ceil; /* cannot be represented: as much as allowed */
	else
		want = (d * mul + 99) / 100; /* exact integer ceil */
	return s_clamp64(want, floor, ceil);
}

int64_t market_vm_want(const market_vm *v)
{
	return s_want_at(v, v->demand);
}

int64_t market_vm_priced(const market_vm *v)
{
	int64_t mul = 100 + (int64_t)v->buffer_pct, want;

	if (v->demand <= 0)
		return 0;
	if (v->demand > (INT64_MAX - 99) / mul)
		want = market_vm_ceiling(v);
	else
		want = (v->demand * mul + 99) / 100;
	return want < market_vm_ceiling(v) ? want : market_vm_ceiling(v);
}

/* demand_peak: up to a higher demand at once, else down toward it by
 * 1/peak_rounds of the gap; within [0, 2^40]. */
static void s_peak_update(const market_params *p, market_vm *v, int64_t now)
{
	double d = now > 0 ? (double)now : 0.0, pk = v->demand_peak;

	if (!(pk > d))
		pk = d;
	else
		pk = d + (pk - d) * (1.0 - 1.0 / p->peak_rounds);
	v->demand_peak = pk < (double)S_MIB_MAX ? pk : (double)S_MIB_MAX;
}

void market_vm_rise_update(const market_params *p, market_vm *v,
			   int64_t prev_demand, int64_t now_demand)
{
	double rise = (double)now_demand - (double)prev_demand;
	double a = 1.0 / p->risk_rounds, ms;

	if (!(rise > 0))
		rise = 0;
	ms = (1.0 - a) * v->demand_rise_rms * v->demand_rise_rms +
	     a * rise * rise;
	v->demand_rise_rms = ms > 0 ? sqrt(ms) : 0;
	if (v->demand_rise_rms > (double)S_MIB_MAX)
		v->demand_rise_rms = (double)S_MIB_MAX;
	s_peak_update(p, v, now_demand);
}

/* The want the round clears: market_vm_want() plus the headroom its
 * volatility buys (risk_headroom * demand_rise_rms), within [floor,
 * ceiling]. A VM with no demand wants its floor, as in market_vm_want. */
static int64_t s_want(const market_params *p, const market_vm *v)
{
	int64_t want = market_vm_want(v);
	double add = p->risk_headroom * v->demand_rise_rms;

	if (v->demand <= 0 || !(add >= 1.0))
		return want;
	add = add < (double)S_MIB_MAX ? add : (double)S_MIB_MAX;
	if (v->demand + (int64_t)add > want)
		want = v->demand + (int64_t)add;
	return want < market_vm_ceiling(v) ? want : market_vm_ceiling(v);
}

double market_vm_pressure(int64_t demand, int64_t assigned)
{
	double pr;

	if (demand <= 0)
		return 0.0;
	if (assigned <= 0)
		return MARKET_PRESSURE_MAX;
	pr = (double)demand / (double)assigned * 100.0;
	return pr < MARKET_PRESSURE_MAX ? pr : MARKET_PRESSURE_MAX;
}

double market_vm_budget(const market_params *p, const market_vm *v)
{
	double w = v->weight > 0 ? (double)v->weight : 1.0;
	double sh = v->shares > 0 ? (double)v->shares : 1.0;
	double excess = market_vm_pressure(v->demand, v->assigned) / 100.0 - 1.0;
	double swap = v->guest_swap_mibps / p->swap_norm_mibps;
	double suffer;

	if (!(excess > 0))
		excess = 0;
	if (!(swap > 0))
		swap = 0;
	suffer = 1.0 + p->budget_pressure_gain * excess +
		 p->budget_swap_gain * swap;
	return (w / S_WEIGHT_NORMAL) * (sh / S_SHARES_NORMAL) * suffer;
}

/* ------------------------------------------------------------------ */
/* sellers                                                            */
/* ------------------------------------------------------------------ */

double market_price(const market_params *p, double u, double bp, double sp)
{
	double uc = u, gain;

	if (!(uc > 0)) /* also catches NaN */
		uc = 0;
	if (!(uc < p->util_cap))
		uc = p->util_cap;
	if (!(bp > 0))
		bp = 0;
	if (!(sp > 0))
		sp = 0;
	gain = 1.0 + p->balloon_weight * bp + p->swap_weight * sp;
	return p->price_base * gain / pow(1.0 - uc, p->price_exponent);
}

/* ------------------------------------------------------------------ */
/* results and scratch                                                */
/* ------------------------------------------------------------------ */

/* Private working memory of a round, sized by market_result_init(). */
typedef struct s_scratch {
	/* per host (n_hosts + 1 entries) */
	size_t *start;     /* VMs of host h are by_host[start[h]..start[h+1]) */
	int64_t *wanted;   /* live sum of wants (changes with migrations) */
	int64_t *held;     /* live balloon shortfall, MiB */
	double *swap;      /* live host + guest swap, MiB/s */
	double *price;     /* live ask */
	int64_t *load;     /* suspend planning: memory planned on the host */
	int64_t *room;     /* suspend planning: cap - load */
	uint32_t *horder;  /* hosts, sorted for migration or signals */
	uint32_t *hlist;   /* hosts, second list */
	uint32_t *htmp;    /* sort scratch for hosts */
	unsigned char *hflag;
	uint32_t *tree_l;  /* s_tree: left child */
	uint32_t *tree_r;  /* ... right child */
	uint32_t *tree_p;  /* ... heap priority */
	unsigned char *hmode; /* clearing: S_PLENTY... */
	int64_t *hsum;     /* clearing: sum of the host's targets */
	int64_t *needs;    /* migration: live needs of the VMs that stay, plus
	                    * what the VMs moving in hold there */
	int64_t *incoming; /* migration: what the VMs moving in hold there */
	/* per VM (n_vms + 1 entries) */
	uint32_t *by_host; /* VM indices grouped by host */
	uint32_t *vlist;   /* a working list of VMs */
	uint32_t *vtmp;    /* sort scratch for VMs */
	uint32_t *vaux;    /* suspend planning: where each VM would go */
	uint32_t *vsell;   /* migration: a source's VMs in sell order */
	uint32_t *vstay;   /* migration: a destination's VMs that stay */
	int64_t *floor;
	int64_t *blo;      /* shortage clearing: this phase's lower bound */
	int64_t *bhi;      /* ... and upper bound */
	int64_t *ikey;     /* sort key */
	double *dkey;      /* sort key */
	uint32_t *dest;    /* migration destination or MARKET_NO_HOST */
	int64_t *dest_mib; /* memory at the destination */
	unsigned char *vflag; /* clearing: S_RESIZE... */
} s_scratch;

static void s_scratch_free(s_scratch *s)
{
	if (s == NULL)
		return;
	free(s->start);
	free(s->wanted);
	free(s->held);
	free(s->swap);
	free(s->price);
	free(s->load);
	free(s->room);
	free(s->horder);
	free(s->hlist);
	free(s->htmp);
	free(s->hflag);
	free(s->tree_l);
	free(s->tree_r);
	free(s->tree_p);
	free(s->hmode);
	free(s->hsum);
	free(s->needs);
	free(s->incoming);
	free(s->vsell);
	free(s->vstay);
	free(s->by_host);
	free(s->vlist);
	free(s->vtmp);
	free(s->vaux);
	free(s->floor);
	free(s->ikey);
	free(s->dkey);
	free(s->dest);
	free(s->dest_mib);
	free(s->blo);
	free(s->bhi);
	free(s->vflag);
	free(s);
}

/* Returns a scratch for h hosts and v VMs, or NULL (nothing leaked). */
static s_scratch *s_scratch_new(size_t h, size_t v)
{
	s_scratch *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	h += 1;
	v += 1;
	s->start = calloc(h, sizeof(*s->start));
	s->wanted = calloc(h, sizeof(*s->wanted));
	s->held = calloc(h, sizeof(*s->held));
	s->swap = calloc(h, sizeof(*s->swap));
	s->price = calloc(h, sizeof(*s->price));
	s->load = calloc(h, sizeof(*s->load));
	s->room = calloc(h, sizeof(*s->room));
	s->horder = calloc(h, sizeof(*s->horder));
	s->hlist = calloc(h, sizeof(*s->hlist));
	s->htmp = calloc(h, sizeof(*s->htmp));
	s->hflag = calloc(h, sizeof(*s->hflag));
	s->tree_l = calloc(h, sizeof(*s->tree_l));
	s->tree_r = calloc(h, sizeof(*s->tree_r));
	s->tree_p = calloc(h, sizeof(*s->tree_p));
	s->hmode = calloc(h, sizeof(*s->hmode));
	s->hsum = calloc(h, sizeof(*s->hsum));
	s->needs = calloc(h, sizeof(*s->needs));
	s->incoming = calloc(h, sizeof(*s->incoming));
	s->vsell = calloc(v, sizeof(*s->vsell));
	s->vstay = calloc(v, sizeof(*s->vstay));
	s->by_host = calloc(v, sizeof(*s->by_host));
	s->vlist = calloc(v, sizeof(*s->vlist));
	s->vtmp = calloc(v, sizeof(*s->vtmp));
	s->vaux = calloc(v, sizeof(*s->vaux));
	s->floor = calloc(v, sizeof(*s->floor));
	s->ikey = calloc(v, sizeof(*s->ikey));
	s->dkey = calloc(v > h ? v : h, sizeof(*s->dkey));
	s->dest = calloc(v, sizeof(*s->dest));
	s->dest_mib = calloc(v, sizeof(*s->dest_mib));
	s->vflag = calloc(v, sizeof(*s->vflag));
	s->blo = calloc(v, sizeof(*s->blo));
	s->bhi = calloc(v, sizeof(*s->bhi));
	if (!s->blo || !s->bhi || !s->needs || !s->incoming || !s->vsell ||
	    !s->vstay ||
	    !s->start || !s->wanted || !s->held || !s->swap || !s->price ||
	    !s->load || !s->room || !s->horder || !s->hlist || !s->htmp ||
	    !s->hflag || !s->tree_l || !s->tree_r || !s->tree_p || !s->hmode ||
	    !s->hsum || !s->by_host || !s->vlist || !s->vtmp || !s->vaux ||
	    !s->floor || !s->ikey || !s->dkey || !s->dest || !s->dest_mib ||
	    !s->vflag) {
		s_scratch_free(s);
		return NULL;
	}
	return s;
}

int market_result_init(market_result *r, size_t n_hosts, size_t n_vms)
{
	if (r == NULL)
		return -1;
	memset(r, 0, sizeof(*r));
	if (n_hosts >= UINT32_MAX || n_vms >= UINT32_MAX)
		return -1;
	r->hosts = calloc(n_hosts + 1, sizeof(*r->hosts));
	r->awards = calloc(n_vms + 1, sizeof(*r->awards));
	r->recs = calloc(n_vms + 1, sizeof(*r->recs));
	r->signals = calloc(n_hosts + 1, sizeof(*r->signals));
	r->scratch = s_scratch_new(n_hosts, n_vms);
	if (!r->hosts || !r->awards || !r->recs || !r->signals ||
	    !r->scratch) {
		market_result_release(r);
		return -1;
	}
	r->cap_hosts = n_hosts;
	r->cap_vms = n_vms;
	r->cap_recs = n_vms; /* at most one recommendation per VM */
	r->cap_signals = n_hosts + 1; /* one provision + one suspend per host */
	return 0;
}

void market_result_release(market_result *r)
{
	if (r == NULL)
		return;
	free(r->hosts);
	free(r->awards);
	free(r->recs);
	free(r->signals);
	s_scratch_free(r->scratch);
	memset(r, 0, sizeof(*r));
}

/* ------------------------------------------------------------------ */
/* ordered host index                                                 */
/* ------------------------------------------------------------------ */

/*
 * A set of hosts kept in the order of a less-function, for the two places
 * that need an order while keys change under it: migration's price index
 * and suspend planning's best fit. It is a treap over per-host child
 * arrays of the scratch whose heap priorities are a hash of the host index:
 * no randomness, no allocation, O(log H) expected per operation. What it
 * answers (the first host in order, the next one, the first that fits)
 * depends only on the set and the order, never on the tree's shape.
 * A key may only change while its host is out of the set.
 */
#define S_NIL UINT32_MAX

typedef struct s_tree {
	uint32_t *l, *r;   /* children, S_NIL for none */
	uint32_t *prio;    /* heap priority: a parent's above its children's */
	s_less_fn less;    /* the order */
	s_ctx ctx;         /* what less looks at */
	uint32_t root;
} s_tree;

/* Heap priority of host h: a bijective mix (murmur3's fmix32). */
static uint32_t s_tree_prio(uint32_t h)
{
	uint32_t x = h * 0x9E3779B1u;

	x ^= x >> 16;
	x *= 0x85EBCA6Bu;
	x ^= x >> 13;
	x *= 0xC2B2AE35u;
	return x ^ (x >> 16);
}

/* Splits subtree x into the hosts before h (*lo) and the others (*hi). */
static void s_tree_split(s_tree *t, uint32_t x, uint32_t h, uint32_t *lo,
			 uint32_t *hi)
{
	if (x == S_NIL) {
		*lo = *hi = S_NIL;
	} else if (t->less(&t->ctx, x, h)) {
		s_tree_split(t, t->r[x], h, &t->r[x], hi);
		*lo = x;
	} else {
		s_tree_split(t, t->l[x], h, lo, &t->l[x]);
		*hi = x;
	}
}

/* Joins subtrees a and b, every host of a coming before every host of b. */
static uint32_t s_tree_merge(s_tree *t, uint32_t a, uint32_t b)
{
	if (a == S_NIL)
		return b;
	if (b == S_NIL)
		return a;
	if (t->prio[a] > t->prio[b]) {
		t->r[a] = s_tree_merge(t, t->r[a], b);
		return a;
	}
	t->l[b] = s_tree_merge(t, a, t->l[b]);
	return b;
}

/* Adds host h (not in the set) under its current key. */
static void s_tree_insert(s_tree *t, uint32_t h)
{
	uint32_t lo, hi;

	t->l[h] = t->r[h] = S_NIL;
	s_tree_split(t, t->root, h, &lo, &hi);
	t->root = s_tree_merge(t, s_tree_merge(t, lo, h), hi);
}

/* Removes host h (in the set, key unchanged since) from subtree x. */
static uint32_t s_tree_erase_at(s_tree *t, uint32_t x, uint32_t h)
{
	if (x == S_NIL)
		return S_NIL;
	if (x == h)
		return s_tree_merge(t, t->l[x], t->r[x]);
	if (t->less(&t->ctx, h, x))
		t->l[x] = s_tree_erase_at(t, t->l[x], h);
	else
		t->r[x] = s_tree_erase_at(t, t->r[x], h);
	return x;
}

static void s_tree_erase(s_tree *t, uint32_t h)
{
	t->root = s_tree_erase_at(t, t->root, h);
}

/* Builds the set of the hosts s->horder[0..n), already sorted by less, in
 * O(n): the Cartesian tree of their priorities, stack[0..n) as scratch. */
static void s_tree_build(s_tree *t, const s_scratch *s, s_less_fn less,
			 s_ctx ctx, size_t n, uint32_t *stack)
{
	size_t top = 0;

	t->l = s->tree_l;
	t->r = s->tree_r;
	t->prio = s->tree_p;
	t->less = less;
	t->ctx = ctx;
	for (size_t k = 0; k < n; k++) {
		uint32_t h = s->horder[k], last = S_NIL;
		t->prio[h] = s_tree_prio(h);
		while (top > 0 && t->prio[stack[top - 1]] < t->prio[h])
			last = stack[--top];
		t->l[h] = last;
		t->r[h] = S_NIL;
		if (top > 0)
			t->r[stack[top - 1]] = h;
		stack[top++] = h;
	}
	t->root = top > 0 ? stack[0] : S_NIL;
}

/* In-order walk from the first host, with an explicit stack (no parent
 * links): s_walk_next() returns the hosts in order, then S_NIL. */
typedef struct s_walk {
	const s_tree *t;
	uint32_t *stack; /* room for the tree's height */
	size_t top;
} s_walk;

static void s_walk_left(s_walk *w, uint32_t x)
{
	for (; x != S_NIL; x = w->t->l[x])
		w->stack[w->top++] = x;
}

static s_walk s_walk_start(const s_tree *t, uint32_t *stack)
{
	s_walk w = { t, stack, 0 };

	s_walk_left(&w, t->root);
	return w;
}

static uint32_t s_walk_next(s_walk *w)
{
	uint32_t x;

	if (w->top == 0)
		return S_NIL;
	x = w->stack[--w->top];
	s_walk_left(w, w->t->r[x]);
	return x;
}

/* ------------------------------------------------------------------ */
/* round: grouping and pricing                                        */
/* ------------------------------------------------------------------ */

/* Counting sort of VM indices by host[v]: fills s->start and s->by_host.
 * `host` gives each VM's host; VMs keep their index order inside a host. */
static void s_group(s_scratch *s, const uint32_t *host, size_t n_hosts,
		    size_t n_vms)
{
	memset(s->start, 0, (n_hosts + 1) * sizeof(*s->start));
	for (size_t v = 0; v < n_vms; v++)
		s->start[host[v] + 1]++;
	for (size_t h = 0; h < n_hosts; h++)
		s->start[h + 1] += s->start[h];
	for (size_t v = 0; v < n_vms; v++)
		s->by_host[s->start[host[v]]++] = (uint32_t)v;
	for (size_t h = n_hosts; h > 0; h--)
		s->start[h] = s->start[h - 1];
	s->start[0] = 0;
}

static double s_host_price(const market_params *p, int64_t supply,
			   int64_t wanted, int64_t held, double swap)
{
	double u = (double)wanted / (double)supply;
	double bp = (double)held / (double)supply;

	return market_price(p, u, bp, swap / p->swap_norm_mibps);
}

/* Fills every award's want/budget, s->floor, and every host's supply,
 * wanted, floor, pressures, utilization and price (the state the round
 * starts from), plus the live copies in the scratch. */
static void s_price_all(const market_params *p, const market_cluster *c,
			market_result *r, s_scratch *s)
{
	for (size_t h = 0; h < c->n_hosts; h++) {
		market_host_out *o = &r->hosts[h];
		memset(o, 0, sizeof(*o));
		o->supply = c->hosts[h].capacity - c->hosts[h].reserve;
		s->held[h] = 0;
		s->wanted[h] = 0;
		s->swap[h] = c->hosts[h].host_swap_mibps;
	}
	for (size_t i = 0; i < c->n_vms; i++) {
		const market_vm *v = &c->vms[i];
		market_award *a = &r->awards[i];
		market_host_out *o = &r->hosts[v->host];
		int64_t reach = v->demand < market_vm_ceiling(v)
					? v->demand : market_vm_ceiling(v);

		memset(a, 0, sizeof(*a));
		a->want = s_want(p, v);
		a->budget = market_vm_budget(p, v);
		s->floor[i] = market_vm_floor(v);
		o->wanted += a->want;
		s->wanted[v->host] += market_vm_priced(v);
		o->floor += s->floor[i];
		if (reach > v->assigned)
			s->held[v->host] += reach - v->assigned;
		s->swap[v->host] += v->guest_swap_mibps;
	}
	for (size_t h = 0; h < c->n_hosts; h++) {
		market_host_out *o = &r->hosts[h];
		o->utilization = (double)s->wanted[h] / (double)o->supply;
		o->balloon_pressure = (double)s->held[h] / (double)o->supply;
		o->swap_pressure = s->swap[h] / p->swap_norm_mibps;
		o->price = market_price(p, o->utilization, o->balloon_pressure,
					o->swap_pressure);
		s->price[h] = o->price;
	}
}

/* ------------------------------------------------------------------ */
/* round: shortage clearing (min-funding revocation with idle tax)    */
/* ------------------------------------------------------------------ */

/* Taxed cost of holding P MiB with demand d: idle MiB cost k each. */
static double s_cost(double P, double d, double k)
{
	return P <= d ? P : d + k * (P - d);
}

/* Inverse of s_cost: MiB bought with x taxed MiB. */
static double s_cost_inv(double x, double d, double k)
{
	return x <= d ? x : d + (x - d) / k;
}

/* One host's VMs, as the clearing sees them. */
typedef struct s_host_vms {
	const uint32_t *idx; /* VM indices */
	size_t n;
} s_host_vms;

/* Allocation of VM i at t = 1/lambda, clamped to this phase's bounds
 * [blo, bhi]. */
static double s_alloc_at(const market_cluster *c, const market_result *r,
			 const s_scratch *s, uint32_t i, double t, double k)
{
	double x = s_cost_inv(r->awards[i].budget * t,
			      (double)c->vms[i].demand, k);
	double lo = (double)s->blo[i], hi = (double)s->bhi[i];

	return x < lo ? lo : (x > hi ? hi : x);
}

static double s_alloc_sum(const market_cluster *c, const market_result *r,
			  const s_scratch *s, s_host_vms hv, double t, double k)
{
	double sum = 0;

	for (size_t j = 0; j < hv.n; j++)
		sum += s_alloc_at(c, r, s, hv.idx[j], t, k);
	return sum;
}

/* Bisection on t = 1/lambda: returns the largest t found with
 * sum(alloc(t)) <= supply. alloc is non-decreasing and continuous in t;
 * alloc(0) = the lower bounds (fit, by the caller's check) and at t_hi
 * every VM is at its upper bound (do not fit, by the caller's check). */
static double s_bisect(const market_cluster *c, const market_result *r,
		       const s_scratch *s, s_host_vms hv, double supply,
		       double k)
{
	double lo = 0, hi = 0;

	for (size_t j = 0; j < hv.n; j++) {
		uint32_t i = hv.idx[j];
		double cw = s_cost((double)s->bhi[i],
				   (double)c->vms[i].demand, k);
		double t = cw / r->awards[i].budget; /* reaches bhi */
		if (t > hi)
			hi = t;
	}
	hi = hi * 2 + 1;
	for (int it = 0; it < 200; it++) {
		double mid = lo + (hi - lo) / 2;
		if (mid <= lo || mid >= hi)
			break;
		if (s_alloc_sum(c, r, s, hv, mid, k) <= supply)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* Hands out `left` MiB to VMs below their upper bound, one MiB each per
 * pass (more when the leftover is large), in order of value per taxed MiB
 * of the next MiB, then weight, shares, id. Uses s->vlist, s->vtmp,
 * s->dkey. */
static void s_hand_out(const market_cluster *c, market_result *r,
		       s_scratch *s, s_host_vms hv, int64_t left, double k)
{
	s_ctx ctx = { c, s->dkey, NULL };
	uint32_t *L = s->vlist;

	for (size_t j = 0; j < hv.n; j++) {
		uint32_t i = hv.idx[j];
		double next = (double)r->awards[i].target + 1.0;
		L[j] = i;
		s->dkey[i] = r->awards[i].budget /
			     s_cost(next, (double)c->vms[i].demand, k);
	}
	s_sort(L, s->vtmp, hv.n, s_less_rho, &ctx);
	while (left > 0) {
		int64_t below = 0, each;
		for (size_t j = 0; j < hv.n; j++)
			below += r->awards[L[j]].target < s->bhi[L[j]];
		if (below == 0)
			return;
		each = left / below > 0 ? left / below : 1;
		for (size_t j = 0; j < hv.n && left > 0; j++) {
			market_award *a = &r->awards[L[j]];
			int64_t give = s->bhi[L[j]] - a->target;
			give = give < each ? give : each;
			give = give < left ? give : left;
			a->target += give;
			left -= give;
		}
	}
}

/* Takes `excess` MiB back, never below the lower bounds, in host order.
 * The caller guarantees the lower bounds fit. */
static void s_trim(market_result *r, const s_scratch *s, s_host_vms hv,
		   int64_t excess)
{
	for (size_t j = 0; j < hv.n && excess > 0; j++) {
		market_award *a = &r->awards[hv.idx[j]];
		int64_t take = a->target - s->blo[hv.idx[j]];
		take = take < excess ? take : excess;
		a->target -= take;
		excess -= take;
	}
}

/* One phase of a shortage: targets in [blo, bhi] summing to supply
 * exactly (sum(blo) <= supply < sum(bhi)). Returns t = 1/lambda. */
static double s_clear_phase(const market_cluster *c, market_result *r,
			    s_scratch *s, s_host_vms hv, int64_t supply,
			    double k)
{
	double t = s_bisect(c, r, s, hv, (double)supply, k);
	int64_t sum = 0;

	for (size_t j = 0; j < hv.n; j++) {
		uint32_t i = hv.idx[j];
		/* floor() of a value in [blo, bhi] stays in range */
		r->awards[i].target = (int64_t)s_alloc_at(c, r, s, i, t, k);
		sum += r->awards[i].target;
	}
	if (sum < supply)
		s_hand_out(c, r, s, hv, supply - sum, k);
	else if (sum > supply) /* only if rounding of the sum misled bisection */
		s_trim(r, s, hv, sum - supply);
	return t;
}

/* What VM i needs before any buffer: its demand, within [floor, want]. */
static int64_t s_need(const market_cluster *c, const market_result *r,
		      const s_scratch *s, uint32_t i)
{
	return s_clamp64(c->vms[i].demand, s->floor[i], r->awards[i].want);
}

/* Shortage on host h (wants do not fit, floors do): targets sum to supply
 * exactly. Demand comes first (docs/market.md, "Clearing"): if the VMs'
 * needs (demand within [floor, want]) do not fit, they share the supply
 * between floor and need, by budget; if they do, every VM gets its need
 * and the rest goes to buffers, between need and want, by budget with the
 * idle tax. Returns the clearing price lambda. */
static double s_clear_shortage(const market_params *p,
			       const market_cluster *c, market_result *r,
			       s_scratch *s, s_host_vms hv, int64_t supply)
{
	double k = 1.0 / (1.0 - p->idle_tax), t;
	int64_t need = 0;

	for (size_t j = 0; j < hv.n; j++)
		need += s_need(c, r, s, hv.idx[j]);
	for (size_t j = 0; j < hv.n; j++) {
		uint32_t i = hv.idx[j];
		int64_t n = s_need(c, r, s, i);
		s->blo[i] = need > supply ? s->floor[i] : n;
		s->bhi[i] = need > supply ? n : r->awards[i].want;
	}
	t = s_clear_phase(c, r, s, hv, supply, k);
	return t > 0 ? 1.0 / t : 0.0;
}

/* ------------------------------------------------------------------ */
/* round: hysteresis and clearing every host                          */
/* ------------------------------------------------------------------ */

/* 1 if moving from assigned to target is too small to be an action. */
static int s_small_change(const market_params *p, int64_t assigned,
			  int64_t target)
{
	double thr = p->resize_min_frac * (double)assigned;
	int64_t d = target > assigned ? target - assigned : assigned - target;

	if (thr < (double)p->resize_min_mib)
		thr = (double)p->resize_min_mib;
	return d > 0 && (double)d < thr;
}

/*
 * Clearing runs mostly in VM array order. Grouped by host, the VMs of a
 * large cluster are scattered over memory, and each per-host pass cost a
 * cache miss per VM; only a shortage (the bisection) and the small shrinks
 * kept by hysteresis need a host's VMs together. Targets, sums and
 * pressures do not depend on the order that computes them: the sums are
 * of integers and the rest is per VM.
 */

/* s->hmode: how a host clears, plus a mark for "has small shrinks". */
enum { S_PLENTY = 0, S_SCARCE = 1, S_INFEASIBLE = 2, S_SHRINKS = 4 };

/* s->vflag: what hysteresis makes of a VM's change. */
enum { S_RESIZE = 0, S_SMALL_SHRINK = 1, S_KEPT = 2 };

/* The floor VM i holds now: its floor, or what it holds if that is less
 * (a floor that rose since the VM last cleared, when its ceiling came back
 * up or its Minimum or reservation was raised, is not held yet). */
static int64_t s_held_floor(const market_cluster *c, const s_scratch *s,
			    uint32_t i)
{
	int64_t have = c->vms[i].assigned;

	return have < s->floor[i] ? have : s->floor[i];
}

/* Floors that overfill host h (o->floor > supply). A floor the VM holds is
 * never taken; a floor above what it holds is funded only from memory the
 * host has: if the held floors fit, they become the VMs' floors for this
 * round's shortage clearing (the host stays within supply) and 1 is
 * returned. If even they do not fit (the input did not come from a round
 * within supply), 0: every VM gets its floor, reported above supply. */
static int s_floors_held_fit(const market_cluster *c, s_scratch *s,
			     s_host_vms hv, int64_t supply)
{
	int64_t sum = 0;

	for (size_t j = 0; j < hv.n; j++)
		sum += s_held_floor(c, s, hv.idx[j]);
	if (sum > supply)
		return 0;
	for (size_t j = 0; j < hv.n; j++)
		s->floor[hv.idx[j]] = s_held_floor(c, s, hv.idx[j]);
	return 1;
}

/* Shortage and infeasibility, host by host: the bisection of a shortage
 * prices the host's VMs together. */
static void s_clear_scarce(const market_params *p, const market_cluster *c,
			   market_result *r, s_scratch *s)
{
	for (size_t h = 0; h < c->n_hosts; h++) {
		market_host_out *o = &r->hosts[h];
		s_host_vms hv = { s->by_host + s->start[h],
				  s->start[h + 1] - s->start[h] };

		s->hmode[h] = S_PLENTY;
		if (o->wanted <= o->supply)
			continue;
		o->shortage = 1;
		if (o->floor > o->supply) {
			o->infeasible = 1;
			if (!s_floors_held_fit(c, s, hv, o->supply)) {
				s->hmode[h] = S_INFEASIBLE;
				continue;
			}
		}
		s->hmode[h] = S_SCARCE;
		o->clearing_price =
			s_clear_shortage(p, c, r, s, hv, o->supply);
	}
}

/* Hysteresis of one VM: a small grow is dropped (that frees memory) unless
 * the VM is short of its demand now, when waiting would mean paging.
 * Returns 1 for a small shrink, which its host may keep
 * (s_keep_host_shrinks).
 * A VM whose assigned is outside [floor, ceiling] is always resized. */
static int s_hyst_vm(const market_params *p, const market_vm *v,
		     market_award *a, int64_t floor)
{
	int small = v->assigned >= floor &&
		    v->assigned <= market_vm_ceiling(v) &&
		    s_small_change(p, v->assigned, a->target);

	if (small && a->target > v->assigned) {
		if (v->assigned >= v->demand)
			a->target = v->assigned;
		return 0;
	}
	return small;
}

/* Every VM in array order: its target (want, or floor on an infeasible
 * host; s_clear_scarce set those of a shortage), the per-VM part of
 * hysteresis, its pressure; sums the targets per host into s->hsum. */
static void s_clear_vms(const market_params *p, const market_cluster *c,
			market_result *r, s_scratch *s)
{
	memset(s->hsum, 0, c->n_hosts * sizeof(*s->hsum));
	for (size_t i = 0; i < c->n_vms; i++) {
		const market_vm *v = &c->vms[i];
		market_award *a = &r->awards[i];
		unsigned char *mode = &s->hmode[v->host];

		if (*mode & S_INFEASIBLE)
			a->target = s->floor[i];
		else if (!(*mode & S_SCARCE))
			a->target = a->want;
		s->vflag[i] = s_hyst_vm(p, v, a, s->floor[i]) ? S_SMALL_SHRINK
							      : S_RESIZE;
		if (s->vflag[i] == S_SMALL_SHRINK) {
			s->ikey[i] = v->assigned - a->target;
			*mode |= S_SHRINKS;
		}
		s->hsum[v->host] += a->target;
		a->pressure = market_vm_pressure(v->demand, a->target);
	}
}

/* Picks the small shrinks host h keeps (the VM keeps assigned), smallest
 * first then by id, only while the host stays within supply; marks them
 * S_KEPT for s_clear_kept(). */
static void s_keep_host_shrinks(const market_cluster *c, market_result *r,
				s_scratch *s, size_t h)
{
	s_ctx ctx = { c, NULL, s->ikey };
	size_t n = 0;

	for (size_t j = s->start[h]; j < s->start[h + 1]; j++)
		if (s->vflag[s->by_host[j]] == S_SMALL_SHRINK)
			s->vlist[n++] = s->by_host[j];
	s_sort(s->vlist, s->vtmp, n, s_less_vm_ikey_asc, &ctx);
	for (size_t j = 0; j < n; j++) {
		uint32_t i = s->vlist[j];
		if (s->hsum[h] + s->ikey[i] > r->hosts[h].supply)
			continue;
		s->hsum[h] += s->ikey[i];
		s->vflag[i] = S_KEPT;
	}
}

/* The kept shrinks, in VM order: the VM keeps assigned. */
static void s_clear_kept(const market_cluster *c, market_result *r,
			 const s_scratch *s)
{
	for (size_t i = 0; i < c->n_vms; i++) {
		const market_vm *v = &c->vms[i];
		if (s->vflag[i] != S_KEPT)
			continue;
		r->awards[i].target = v->assigned;
		r->awards[i].pressure =
			market_vm_pressure(v->demand, v->assigned);
	}
}

/* Clears every host: targets, hysteresis, awarded, pressures. */
static void s_clear_all(const market_params *p, const market_cluster *c,
			market_result *r, s_scratch *s)
{
	s_clear_scarce(p, c, r, s);
	s_clear_vms(p, c, r, s);
	for (size_t h = 0; h < c->n_hosts; h++) {
		if (s->hmode[h] & S_SHRINKS)
			s_keep_host_shrinks(c, r, s, h);
		r->hosts[h].awarded = s->hsum[h];
	}
	s_clear_kept(c, r, s);
}

/* ------------------------------------------------------------------ */
/* round: migration                                                   */
/* ------------------------------------------------------------------ */

/* 1 if VM v may migrate at `round` (cooldown over or never migrated). */
static int s_cooled(const market_params *p, const market_vm *v, int64_t round)
{
	uint64_t since;

	if (v->last_migrated == MARKET_NEVER)
		return 1;
	if (round < v->last_migrated)
		return 0;
	/* unsigned: round - INT64_MIN-ish values do not overflow */
	since = (uint64_t)round - (uint64_t)v->last_migrated;
	return since >= (uint64_t)p->migrate_cooldown;
}

/* 1 if moving VM v to host d at `round` would take it back to a host it
 * left less than migrate_return_rounds ago. */
static int s_returns(const market_params *p, const market_vm *v, uint32_t d,
		     int64_t round)
{
	for (int k = 0; k < MARKET_LEFT_HOSTS; k++) {
		int64_t t = v->left_round[k];
		if (v->left_host_plus1[k] == 0 || v->left_host_plus1[k] - 1 != d)
			continue;
		if (round >= t && (uint64_t)round - (uint64_t)t <
					  (uint64_t)p->migrate_return_rounds)
			return 1;
	}
	return 0;
}

void market_vm_note_move(market_vm *v, uint32_t from, int64_t round)
{
	for (int k = MARKET_LEFT_HOSTS - 1; k > 0; k--) {
		v->left_host_plus1[k] = v->left_host_plus1[k - 1];
		v->left_round[k] = v->left_round[k - 1];
	}
	v->left_host_plus1[0] = from + 1;
	v->left_round[0] = round;
}

/* The best destination found for one VM. */
typedef struct s_offer {
	uint32_t host;
	double price;
	double cost;
	int64_t mib; /* what the VM holds there */
} s_offer;

/* 1 if host h may receive VMs: online, not draining and not on probation
 * (the hosts of the price index). */
static int s_target(const market_cluster *c, uint32_t h)
{
	return c->hosts[h].online && !c->hosts[h].draining &&
	       !c->hosts[h].probation;
}

/* What host d can give a VM in a tight move: the room it has, plus
 * migrate_squeeze of the buffers its staying VMs hold above their needs
 * (the needs of the VMs that stay and what the VMs moving in hold are
 * never taken). */
static int64_t s_squeeze_room(const market_params *p, const market_result *r,
			      const s_scratch *s, uint32_t d)
{
	const market_host_out *o = &r->hosts[d];
	int64_t room = o->supply - o->awarded, buf = o->awarded - s->needs[d];
	int64_t most = o->supply - s->needs[d];

	if (buf > 0)
		room += (int64_t)floor(p->migrate_squeeze * (double)buf);
	return room < most ? room : most;
}

/* How an offer is looked for: an ordinary move, a tight one (the source's
 * demand does not fit: the destination's buffers may give way and its
 * utilization does not bar it), or a drain's (the VM must leave). */
enum { S_OFFER_PLAIN = 0, S_OFFER_TIGHT = 1, S_OFFER_LEAVE = 2 };

/* Prices VM i at the migrate_targets cheapest online hosts other than its
 * own (the first of the price index). A host is a destination only if the
 * VM's need (demand within [floor, want]) fits in what it has left and the
 * VM's priced demand keeps it below migrate_util, so that the move does
 * not make a host the next one to sell VMs away (no ping-pong). The VM
 * gets its want there, or all the room if that is less. Returns the
 * cheapest offer, host MARKET_NO_HOST if none. A VM that must leave (its
 * host drains) is priced at the migrate_targets cheapest hosts that have
 * room for its need, whatever their utilization. A tight offer counts as
 * room what s_squeeze_room() gives, whatever the utilization; an
 * infeasible host, or one that sold a VM this round, is no tight
 * destination. */
static s_offer s_best_offer(const market_params *p, const market_cluster *c,
			    const market_result *r, s_scratch *s,
			    const s_tree *idx, uint32_t i, int64_t round,
			    int how)
{
	const market_vm *v = &c->vms[i];
	int64_t want = r->awards[i].want, need = s_need(c, r, s, i);
	int64_t priced = market_vm_priced(v);
	double move = p->migrate_cost_mib * p->price_base * (double)v->assigned;
	s_offer best = { MARKET_NO_HOST, 0, 0, 0 };
	s_walk w = s_walk_start(idx, s->htmp);
	uint32_t seen = 0, d;
	int must_leave = how == S_OFFER_LEAVE, tight = how == S_OFFER_TIGHT;

	while (seen < p->migrate_targets && (d = s_walk_next(&w)) != S_NIL) {
		const market_host_out *o = &r->hosts[d];
		int64_t room = o->supply - o->awarded;
		if (d == v->host)
			continue;
		if (!must_leave && s_returns(p, v, d, round))
			continue; /* a drain is the operator's: it may go back */
		if (must_leave && room < need)
			continue;
		seen++;
		if (tight && (o->infeasible || s->hflag[d]))
			continue; /* not a tight destination */
		if (tight)
			room = s_squeeze_room(p, r, s, d);
		if (room < need || (how == S_OFFER_PLAIN &&
				    (double)(s->wanted[d] + priced) >=
					    p->migrate_util * (double)o->supply))
			continue;
		int64_t get = want < room ? want : room;
		double pr = s_host_price(p, o->supply, s->wanted[d] + priced,
					 s->held[d], s->swap[d]);
		double cost = (double)get * pr + move;
		if (best.host == MARKET_NO_HOST || cost < best.cost) {
			best.host = d;
			best.price = pr;
			best.cost = cost;
			best.mib = get;
		}
	}
	return best;
}

/* Makes room for `get` MiB on host d by clearing its staying VMs again
 * within what is left (docs/market.md, "Tight moves"): every one keeps its
 * need, the rest is shared by budget with the idle tax. The caller checked
 * that the needs fit (s_squeeze_room()). */
static void s_squeeze(const market_params *p, const market_cluster *c,
		      market_result *r, s_scratch *s, uint32_t d, int64_t get)
{
	int64_t supply = r->hosts[d].supply - s->incoming[d] - get;
	int64_t wants = 0, sum = 0;
	size_t n = 0;

	for (size_t j = s->start[d]; j < s->start[d + 1]; j++) {
		uint32_t i = s->by_host[j];
		if (s->dest[i] != MARKET_NO_HOST)
			continue;
		s->vstay[n++] = i;
		wants += r->awards[i].want;
	}
	s_host_vms hv = { s->vstay, n };
	if (wants > supply)
		(void)s_clear_shortage(p, c, r, s, hv, supply);
	for (size_t j = 0; j < n; j++) {
		market_award *a = &r->awards[s->vstay[j]];
		if (wants <= supply)
			a->target = a->want;
		a->pressure = market_vm_pressure(c->vms[s->vstay[j]].demand,
						 a->target);
		sum += a->target;
	}
	r->hosts[d].awarded = sum + s->incoming[d];
}

/* Books the migration of VM i to `to`: records the rec, moves its want,
 * award and pressures between the hosts' live state, and moves both hosts
 * to their new places in the price index (an offline source is not in
 * it). */
static void s_accept(const market_params *p, const market_cluster *c,
		     market_result *r, s_scratch *s, s_tree *idx, uint32_t i,
		     s_offer off, double cost_here)
{
	const market_vm *v = &c->vms[i];
	uint32_t from = v->host;
	market_award *a = &r->awards[i];
	int64_t reach = v->demand < market_vm_ceiling(v) ? v->demand
							 : market_vm_ceiling(v);
	market_rec *rec = &r->recs[r->n_recs++];

	rec->kind = MARKET_REC_MIGRATE;
	rec->vm = i;
	rec->from_host = from;
	rec->to_host = off.host;
	rec->from_mib = v->assigned;
	rec->to_mib = off.mib;
	rec->price_here = s->price[from];
	rec->price_there = off.price;
	rec->cost_here = cost_here;
	rec->cost_there = off.cost;
	s->dest[i] = off.host;
	s->dest_mib[i] = off.mib;

	if (s_target(c, from))
		s_tree_erase(idx, from);
	s_tree_erase(idx, off.host);
	s->needs[from] -= s_need(c, r, s, i);
	s->hflag[from] = 1; /* it sold: no tight destination this round */
	if (off.mib > r->hosts[off.host].supply - r->hosts[off.host].awarded)
		s_squeeze(p, c, r, s, off.host, off.mib);
	s->needs[off.host] += off.mib;
	s->incoming[off.host] += off.mib;
	r->hosts[from].awarded -= a->target;
	s->wanted[from] -= market_vm_priced(v);
	if (reach > v->assigned)
		s->held[from] -= reach - v->assigned;
	s->swap[from] -= v->guest_swap_mibps;
	s->price[from] = s_host_price(p, r->hosts[from].supply,
				      s->wanted[from], s->held[from],
				      s->swap[from]);
	r->hosts[off.host].awarded += off.mib;
	s->wanted[off.host] += market_vm_priced(v);
	s->price[off.host] = s_host_price(p, r->hosts[off.host].supply,
					  s->wanted[off.host],
					  s->held[off.host],
					  s->swap[off.host]);
	if (s_target(c, from))
		s_tree_insert(idx, from);
	s_tree_insert(idx, off.host);
}

/* How much host h is over: its wants above what it sells, or its priced
 * demand above migrate_util of it, whichever is more (0 if neither). */
static double s_excess(const market_params *p, const market_result *r,
		       const s_scratch *s, uint32_t h, int64_t wants)
{
	double sup = (double)r->hosts[h].supply;
	double over = (double)wants - sup;
	double risk = (double)s->wanted[h] - p->migrate_util * sup;

	over = over > risk ? over : risk;
	return over > 0 ? over : 0;
}

/* Orders the VMs of host h for selling away (docs/market.md, "Migration"):
 * by the excess a move removes (the VM's want or priced demand, at most the
 * host's excess) per MiB copied, times the buyer's budget (its weight,
 * shares and suffering), then weight, shares, id. On a host whose demand
 * does not fit (its needs above its supply: a tight source), what a move
 * removes is shortfall: the VM's need, at most the host's needs above its
 * supply. Fills s->vsell[0..n). */
static void s_sell_order(const market_cluster *c, const market_result *r,
			 s_scratch *s, uint32_t h, double excess)
{
	s_ctx ctx = { c, s->dkey, NULL };
	size_t n = s->start[h + 1] - s->start[h];
	int64_t short_h = s->needs[h] - r->hosts[h].supply;

	for (size_t j = 0; j < n; j++) {
		uint32_t i = s->by_host[s->start[h] + j];
		const market_vm *v = &c->vms[i];
		int64_t p = market_vm_priced(v), w = r->awards[i].want;
		double gone = (double)(p > w ? p : w);
		double moved = v->assigned > 1 ? (double)v->assigned : 1.0;
		s->vsell[j] = i;
		if (short_h > 0) {
			int64_t need = s_need(c, r, s, i);
			gone = (double)(need < short_h ? need : short_h);
		}
		if (gone > excess)
			gone = excess;
		s->dkey[i] = gone / moved * r->awards[i].budget;
	}
	s_sort(s->vsell, s->vtmp, n, s_less_rho, &ctx);
}

/* Sells VMs of host h away while it is over (s_excess), best move first
 * (s_sell_order). Returns the number of migrations accepted. */
static uint32_t s_migrate_host(const market_params *p,
			       const market_cluster *c, market_result *r,
			       s_scratch *s, s_tree *idx, uint32_t h,
			       int64_t round, uint32_t budget)
{
	size_t n = s->start[h + 1] - s->start[h];
	int64_t wants = 0;
	uint32_t done = 0;
	double excess;

	for (size_t j = 0; j < n; j++)
		wants += r->awards[s->by_host[s->start[h] + j]].want;
	excess = s_excess(p, r, s, h, wants);
	if (!(excess > 0))
		return 0;
	s_sell_order(c, r, s, h, excess);
	for (size_t j = 0; j < n && done < budget && excess > 0; j++) {
		uint32_t i = s->vsell[j];
		int64_t want = r->awards[i].want;
		if (want <= 0 || !s_cooled(p, &c->vms[i], round))
			continue;
		double cost_here = (double)want * s->price[h];
		s_offer off = s_best_offer(p, c, r, s, idx, i, round,
					   S_OFFER_PLAIN);
		if (off.host == MARKET_NO_HOST && p->migrate_squeeze > 0 &&
		    s->needs[h] > r->hosts[h].supply)
			off = s_best_offer(p, c, r, s, idx, i, round,
					   S_OFFER_TIGHT);
		if (off.host == MARKET_NO_HOST || !(off.cost < cost_here) ||
		    off.cost > (1.0 - p->migrate_gain) * cost_here)
			continue;
		s_accept(p, c, r, s, idx, i, off, cost_here);
		wants -= want;
		excess = s_excess(p, r, s, h, wants);
		done++;
	}
	return done;
}

/* Sells every VM of the draining host h away (docs/market.md, "Draining a
 * host"), in the sell order, each cooled VM to its best offer among the
 * hosts with room, with no saving required: it must leave. Returns the
 * number of migrations accepted (at most budget). */
static uint32_t s_drain_host(const market_params *p, const market_cluster *c,
			     market_result *r, s_scratch *s, s_tree *idx,
			     uint32_t h, int64_t round, uint32_t budget)
{
	size_t n = s->start[h + 1] - s->start[h];
	uint32_t done = 0;

	s_sell_order(c, r, s, h, (double)INT64_MAX);
	for (size_t j = 0; j < n && done < budget; j++) {
		uint32_t i = s->vsell[j];
		if (!s_cooled(p, &c->vms[i], round))
			continue;
		s_offer off = s_best_offer(p, c, r, s, idx, i, round,
					   S_OFFER_LEAVE);
		if (off.host == MARKET_NO_HOST)
			continue;
		s_accept(p, c, r, s, idx, i, off,
			 (double)r->awards[i].want * s->price[h]);
		done++;
	}
	return done;
}

/* Migrations allowed this round: migrate_max_per_round, and no more than
 * migrate_host_share per online host (at least one) when that is set. */
static uint32_t s_migrate_cap(const market_params *p, size_t n_on)
{
	uint32_t cap = p->migrate_max_per_round;
	if (p->migrate_host_share > 0) {
		double per = ceil(p->migrate_host_share * (double)n_on);
		if (per < 1)
			per = 1;
		if (per < (double)cap)
			cap = (uint32_t)per;
	}
	return cap;
}

/* A host offers its VMs elsewhere only when it is congested: its wants did
 * not fit, or they fill at least migrate_util of what it sells. Without
 * this gate the convex price makes any two unevenly loaded hosts trade VMs,
 * which is load balancing nobody asked for (docs/market.md). */
static int s_congested(const market_params *p, const market_host_out *o)
{
	return o->shortage || o->utilization >= p->migrate_util;
}

uint32_t market_congested_next(const market_params *p,
			       const market_host_out *o, uint32_t rounds)
{
	if (!s_congested(p, o))
		return 0;
	return rounds < UINT32_MAX ? rounds + 1 : rounds;
}

/* Migration pass: an index of the target hosts (online, not draining) by
 * price (asc, then id); first the online draining hosts, in index order,
 * sell all their VMs; then source hosts whose price could possibly beat
 * the cheapest by migrate_gain, by price desc. The cap counts every
 * online host, draining or not. */
static void s_migrate(const market_params *p, const market_cluster *c,
		      market_result *r, s_scratch *s, int64_t round)
{
	s_ctx ctx = { c, s->price, NULL };
	size_t n_on = 0, n_tg = 0, n_src = 0;
	s_tree idx;
	uint32_t left;

	for (size_t h = 0; h < c->n_hosts; h++) {
		s->needs[h] = s->incoming[h] = 0;
		s->hflag[h] = 0;
	}
	for (size_t i = 0; i < c->n_vms; i++) {
		s->dest[i] = MARKET_NO_HOST;
		s->needs[c->vms[i].host] += s_need(c, r, s, (uint32_t)i);
	}
	for (size_t h = 0; h < c->n_hosts; h++) {
		n_on += c->hosts[h].online != 0;
		if (s_target(c, (uint32_t)h))
			s->horder[n_tg++] = (uint32_t)h;
	}
	left = s_migrate_cap(p, n_on);
	if (n_tg == 0 || left == 0 || p->migrate_targets == 0)
		return;
	s_sort(s->horder, s->htmp, n_tg, s_less_host_dkey_asc, &ctx);
	s_tree_build(&idx, s, s_less_host_dkey_asc, ctx, n_tg, s->htmp);
	double pmin = s->price[s->horder[0]];
	for (size_t h = 0; h < c->n_hosts && left > 0; h++)
		if (c->hosts[h].online && c->hosts[h].draining)
			left -= s_drain_host(p, c, r, s, &idx, (uint32_t)h,
					     round, left);
	for (size_t h = 0; h < c->n_hosts; h++)
		if (!(c->hosts[h].online && c->hosts[h].draining) &&
		    s_congested(p, &r->hosts[h]) &&
		    (uint64_t)c->hosts[h].congested_rounds + 1 >=
			    p->migrate_persist &&
		    s->price[h] * (1.0 - p->migrate_gain) >= pmin)
			s->hlist[n_src++] = (uint32_t)h;
	s_sort(s->hlist, s->htmp, n_src, s_less_host_dkey_desc, &ctx);
	for (size_t j = 0; j < n_src && left > 0; j++)
		left -= s_migrate_host(p, c, r, s, &idx, s->hlist[j], round,
				       left);
}

/* Resize recommendations, in VM order, for VMs that stay and change. */
static void s_resize_recs(const market_cluster *c, market_result *r,
			  const s_scratch *s)
{
	for (size_t i = 0; i < c->n_vms; i++) {
		const market_vm *v = &c->vms[i];
		const market_award *a = &r->awards[i];
		if (s->dest[i] != MARKET_NO_HOST || a->target == v->assigned)
			continue;
		market_rec *rec = &r->recs[r->n_recs++];
		memset(rec, 0, sizeof(*rec));
		rec->kind = MARKET_REC_RESIZE;
		rec->vm = (uint32_t)i;
		rec->from_host = v->host;
		rec->to_host = MARKET_NO_HOST;
		rec->from_mib = v->assigned;
		rec->to_mib = a->target;
		rec->price_here = s->price[v->host];
		rec->price_there = rec->price_here;
		rec->cost_here = (double)a->want * rec->price_here;
		rec->cost_there = rec->cost_here;
	}
}

/* ------------------------------------------------------------------ */
/* round: signals                                                     */
/* ------------------------------------------------------------------ */

/* What VM v would want at its recent peak: the Buffer's want of
 * demand_peak, within [floor, ceiling]; 0 when the peak is not above the
 * demand (or not known), so a steady VM costs the signals nothing. */
static int64_t s_peak_want(const market_vm *v)
{
	if (!(v->demand_peak > (double)v->demand))
		return 0;
	return s_want_at(v, (int64_t)ceil(v->demand_peak));
}

/* Provision when all wants exceed provision_util of the online supply
 * (of the hosts not draining: a drained host's memory is going away), or,
 * with hysteresis, while the wants at the VMs' recent peaks do and the
 * wants are still above provision_util - provision_band (docs/market.md,
 * "Signals"). Returns 1 if the signal was emitted. */
static int s_provision(const market_params *p, const market_cluster *c,
		       market_result *r)
{
	int64_t want = 0, peak = 0, supply = 0;

	for (size_t i = 0; i < c->n_vms; i++) {
		int64_t pw = s_peak_want(&c->vms[i]);
		want += r->awards[i].want;
		peak += pw > r->awards[i].want ? pw : r->awards[i].want;
	}
	for (size_t h = 0; h < c->n_hosts; h++) /* probation: its memory is
						 * there, it only takes no VM */
		if (c->hosts[h].online && !c->hosts[h].draining)
			supply += r->hosts[h].supply;
	double pu = p->provision_util, S = (double)supply, need;
	if ((double)want > pu * S)
		need = ceil((double)want / pu);
	else if ((double)peak > pu * S &&
		 (double)want > (pu - p->provision_band) * S)
		need = ceil((double)peak / pu);
	else
		return 0;
	if (need > (double)(INT64_MAX / 2))
		need = (double)(INT64_MAX / 2);
	market_signal *sg = &r->signals[r->n_signals++];
	sg->kind = MARKET_SIG_PROVISION;
	sg->host = MARKET_NO_HOST;
	sg->mib = (int64_t)need - supply;
	if (sg->mib < 1)
		sg->mib = 1;
	return 1;
}

/* Host flags during suspend planning. */
enum { S_ACTIVE = 0, S_SUSPENDED = 1, S_RECEIVER = 2, S_OFF = 3 };

/*
 * Best-fit index of suspend planning (an s_tree): the hosts that may
 * receive VMs - online, not suspended, minus the candidate being emptied -
 * ordered by (room, host index). Best fit, the least room that still fits
 * with ties to the lowest index, is the first host in that order with
 * room >= mib. A scan of every host per VM placed made planning O(H^2 *
 * VMs per host) on a cold cluster; this is O(log H) per placement.
 */

/* Changes the room of host h (in the index) by delta. */
static void s_fit_add(s_tree *t, s_scratch *s, uint32_t h, int64_t delta)
{
	s_tree_erase(t, h);
	s->room[h] += delta;
	s_tree_insert(t, h);
}

/* Best fit: the first host in (room, index) order with room >= mib, or
 * S_NIL (= MARKET_NO_HOST). */
static uint32_t s_fit_find(const s_tree *t, int64_t mib)
{
	uint32_t x = t->root, best = S_NIL;

	while (x != S_NIL) {
		if (t->ctx.ikey[x] >= mib) {
			best = x;
			x = t->l[x];
		} else {
			x = t->r[x];
		}
	}
	return best;
}

/* Suspend planning's totals over the hosts that stay: room sums what the
 * hosts with room have below suspend_util (where VMs can go); load is
 * every VM at its peak-counted size and supply what those hosts sell. */
typedef struct {
	int64_t room;
	int64_t load;
	int64_t supply;
} s_rooms;

/* Tries to place every VM of host h (largest first) on the others while
 * they stay below suspend_util. Refused outright when, without h, the
 * VMs at their peaks would ask for more than provision_util of what the
 * cluster sells (the next burst would signal a provision). Commits and
 * returns 1 on success; rolls back and returns 0 otherwise. h is out of
 * the best-fit index while its VMs are placed (a host does not receive
 * its own VMs), and stays out once suspended. */
static int s_try_empty(const market_params *p, const market_cluster *c,
		       const market_result *r, s_scratch *s, s_tree *f,
		       uint32_t h, s_rooms *rooms)
{
	s_ctx ctx = { c, NULL, s->ikey };
	size_t n = s->start[h + 1] - s->start[h], placed = 0;
	uint32_t *L = s->vlist;

	int64_t load = 0;

	memcpy(L, s->by_host + s->start[h], n * sizeof(*L));
	for (size_t j = 0; j < n; j++)
		load += s->ikey[L[j]];
	if (rooms->room - s->room[h] < load)
		return 0;
	if ((double)rooms->load > p->provision_util *
	    (double)(rooms->supply - r->hosts[h].supply))
		return 0;
	s_sort(L, s->vtmp, n, s_less_vm_ikey_desc, &ctx);
	s_tree_erase(f, h);
	for (; placed < n; placed++) {
		uint32_t to = s_fit_find(f, s->ikey[L[placed]]);
		if (to == S_NIL)
			break;
		s->vaux[placed] = to;
		s_fit_add(f, s, to, -s->ikey[L[placed]]);
	}
	if (placed < n) {
		while (placed-- > 0)
			s_fit_add(f, s, s->vaux[placed], s->ikey[L[placed]]);
		s_tree_insert(f, h);
		return 0;
	}
	for (size_t j = 0; j < n; j++) {
		s->hflag[s->vaux[j]] = S_RECEIVER;
		rooms->room -= s->ikey[L[j]];
	}
	rooms->room -= s->room[h];
	rooms->supply -= r->hosts[h].supply;
	s->hflag[h] = S_SUSPENDED;
	return 1;
}

/* Suspend candidates, lowest awarded first: a host is signalled when its
 * VMs (after this round's migrations) fit on the remaining online hosts
 * while each stays below suspend_util of its supply, every VM counted at
 * the larger of its final size and its want at its recent peak
 * (s_peak_want), on the candidate and on the receivers alike, and those
 * peaks would not ask for a provision without it. Hosts that receive
 * memory are not candidates afterwards. */
static void s_suspend(const market_params *p, const market_cluster *c,
		      market_result *r, s_scratch *s)
{
	s_ctx hctx = { c, NULL, NULL };
	s_tree fit;
	s_rooms rooms = { 0, 0, 0 };
	size_t n = 0;

	for (size_t i = 0; i < c->n_vms; i++) {
		int moved = s->dest[i] != MARKET_NO_HOST;
		s->vaux[i] = moved ? s->dest[i] : c->vms[i].host;
		s->ikey[i] = moved ? s->dest_mib[i] : r->awards[i].target;
	}
	s_group(s, s->vaux, c->n_hosts, c->n_vms);
	for (size_t h = 0; h < c->n_hosts; h++)
		s->room[h] = 0; /* what the peaks add to each host, for now */
	for (size_t i = 0; i < c->n_vms; i++) {
		int64_t pw = s_peak_want(&c->vms[i]);
		if (pw > s->ikey[i]) {
			s->room[s->vaux[i]] += pw - s->ikey[i];
			s->ikey[i] = pw;
		}
	}
	for (size_t h = 0; h < c->n_hosts; h++) {
		const market_host_out *o = &r->hosts[h];
		int64_t cap = (int64_t)floor(p->suspend_util * (double)o->supply);
		s->hflag[h] = s_target(c, (uint32_t)h) ? S_ACTIVE : S_OFF;
		s->room[h] = cap - o->awarded - s->room[h];
		s->load[h] = o->awarded;
		if (s->hflag[h] == S_OFF)
			continue;
		s->hlist[n++] = (uint32_t)h;
		rooms.room += s->room[h] > 0 ? s->room[h] : 0;
		rooms.load += cap - s->room[h]; /* awarded + the peaks' extra */
		rooms.supply += o->supply;
	}
	/* receivers by room (horder is free once migration is done) */
	memcpy(s->horder, s->hlist, n * sizeof(*s->horder));
	hctx.ikey = s->room;
	s_sort(s->horder, s->htmp, n, s_less_host_ikey_index, &hctx);
	s_tree_build(&fit, s, s_less_host_ikey_index, hctx, n, s->htmp);
	hctx.ikey = s->load;
	s_sort(s->hlist, s->htmp, n, s_less_host_ikey_asc, &hctx);
	for (size_t j = 0; j < n && r->n_signals < r->cap_signals; j++) {
		uint32_t h = s->hlist[j];
		if (s->hflag[h] != S_ACTIVE || s->room[h] < 0)
			continue;
		if (!s_try_empty(p, c, r, s, &fit, h, &rooms))
			continue;
		market_signal *sg = &r->signals[r->n_signals++];
		sg->kind = MARKET_SIG_SUSPEND;
		sg->host = h;
		sg->mib = r->hosts[h].awarded;
	}
}

/* ------------------------------------------------------------------ */
/* round                                                              */
/* ------------------------------------------------------------------ */

static int s_check_round(const market_params *p, const market_cluster *c,
			 const market_result *r, char *err, size_t errlen)
{
	if (market_params_validate(p, err, errlen) != 0)
		return -1;
	if (market_cluster_validate(c, err, errlen) != 0)
		return -1;
	if (r == NULL || r->scratch == NULL)
		return s_fail(err, errlen, "result not initialised");
	if (c->n_hosts > r->cap_hosts || c->n_vms > r->cap_vms) {
		s_msg m = s_msg_start(err, errlen);
		s_msg_str(&m, "result sized for ");
		s_msg_u64(&m, r->cap_hosts);
		s_msg_str(&m, " hosts and ");
		s_msg_u64(&m, r->cap_vms);
		s_msg_str(&m, " vms, cluster has ");
		s_msg_u64(&m, c->n_hosts);
		s_msg_str(&m, " and ");
		s_msg_u64(&m, c->n_vms);
		return -1;
	}
	return 0;
}

int market_round(const market_params *p, const market_cluster *c,
		 int64_t round, market_result *r, char *err, size_t errlen)
{
	s_scratch *s;

	if (s_check_round(p, c, r, err, errlen) != 0)
		return -1;
	s = r->scratch;
	r->n_recs = 0;
	r->n_signals = 0;
	for (size_t i = 0; i < c->n_vms; i++)
		s->vaux[i] = c->vms[i].host;
	s_group(s, s->vaux, c->n_hosts, c->n_vms);
	s_price_all(p, c, r, s);
	s_clear_all(p, c, r, s);
	s_migrate(p, c, r, s, round);
	s_resize_recs(c, r, s);
	if (!s_provision(p, c, r))
		s_suspend(p, c, r, s);
	s_msg_start(err, errlen);
	return 0;
}
