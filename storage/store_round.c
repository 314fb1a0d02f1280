/*
 * store_round.c - writing a round (one transaction: the round row, prices,
 * samples and allocations, signals, recommendations, then the upkeep of the
 * pending ones and retention) and reading prices back.
 *
 * docs/storage.md ("A round", "Pending recommendations") is the contract
 * in prose; the defaults of store_rec_policy and why they are what they are
 * are written there.
 */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"
#include "banned.h"

void store_rec_policy_default(store_rec_policy *p)
{
	p->ttl_ms = 10 * 60 * 1000;
	p->price_drift = 0.25;
	p->same_mib = 256;
	p->retention_ms = (int64_t)24 * 3600 * 1000;
	p->score_rounds = 3;
	p->retention_rounds = 0;
	p->settle_rounds = 2;
}

int store_round_last(store *s, int64_t *round, char *err, size_t errlen)
{
	sqlite3_stmt *st = store__stmt(s, ST_ROUND_LAST);
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		*round = sqlite3_column_int64(st, 0);
	else
		store__dberr(s, err, errlen, "cannot read the last round");
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* Everything the upkeep needs to know while writing one round. */
struct round_ctx {
	store *s;
	const store_round *rd;
	const store_rec_policy *pol;
	int64_t now_ms;
	store_round_outcome out;
	char *err;
	size_t errlen;
};

/* Step a cached write; on failure "round N: <what>: <sqlite's message>". */
static int step_write(struct round_ctx *c, sqlite3_stmt *st, const char *fmt,
		      ...) __attribute__((format(printf, 3, 4)));

static int step_write(struct round_ctx *c, sqlite3_stmt *st, const char *fmt,
		      ...)
{
	char what[128];
	va_list ap;

	if (sqlite3_step(st) == SQLITE_DONE) {
		sqlite3_reset(st);
		return 0;
	}
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	store__dberr(c->s, c->err, c->errlen, "round %lld: cannot write %s",
		     (long long)c->rd->round, what);
	sqlite3_reset(st);
	return -1;
}

static int64_t clamp_u64(uint64_t v)
{
	return v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v;
}

static int round_insert(struct round_ctx *c)
{
	const store_round *rd = c->rd;
	int64_t last = 0;
	sqlite3_stmt *st;

	if (store_round_last(c->s, &last, c->err, c->errlen) != 0)
		return -1;
	if (rd->round <= last) {
		util_err(c->err, c->errlen, "round %lld is not after the last "
			 "round written (%lld)", (long long)rd->round,
			 (long long)last);
		return -1;
	}
	st = store__stmt(c->s, ST_ROUND_INSERT);
	sqlite3_bind_int64(st, 1, rd->round);
	sqlite3_bind_int64(st, 2, rd->started_ms);
	sqlite3_bind_int64(st, 3, rd->duration_ms);
	sqlite3_bind_int64(st, 4, (int64_t)rd->n_prices);
	sqlite3_bind_int64(st, 5, (int64_t)rd->n_allocs);
	sqlite3_bind_int64(st, 6, (int64_t)rd->n_recs);
	sqlite3_bind_int64(st, 7, clamp_u64(rd->msgs_in));
	sqlite3_bind_int64(st, 8, clamp_u64(rd->msgs_dropped));
	return step_write(c, st, "the round row");
}

/* Step a batch (STORE_BATCH rows in one statement). 0 when written; 1 when
 * it failed but the transaction is still open: the failed statement's own
 * rows were undone (a constraint or a full disk fails the statement, not
 * the transaction), so they can be written again one at a time, which
 * fails on the same row with the message a one-row statement gives, or
 * writes them; -1 (with a message) when sqlite rolled the whole
 * transaction back (it may, on an I/O error or out of memory): nothing
 * more may be written, or it would be written outside the transaction. */
static int step_batch(struct round_ctx *c, sqlite3_stmt *st, const char *what)
{
	if (sqlite3_step(st) == SQLITE_DONE) {
		sqlite3_reset(st);
		return 0;
	}
	store__dberr(c->s, c->err, c->errlen, "round %lld: cannot write %s",
		     (long long)c->rd->round, what);
	sqlite3_reset(st);
	return sqlite3_get_autocommit(c->s->db) ? -1 : 1;
}

/* Bind one row from parameter base + 1 on: base 0 for the one-row
 * statements, k * columns for row k of a batch. Every parameter is bound
 * on every row, so bindings need no clearing. */
static void bind_price(sqlite3_stmt *st, int base, int64_t round,
		       const store_price_row *p)
{
	sqlite3_bind_int64(st, base + 1, round);
	sqlite3_bind_int64(st, base + 2, p->host_id);
	sqlite3_bind_int64(st, base + 3, p->supply_mib);
	sqlite3_bind_int64(st, base + 4, p->wanted_mib);
	sqlite3_bind_int64(st, base + 5, p->floor_mib);
	sqlite3_bind_int64(st, base + 6, p->awarded_mib);
	sqlite3_bind_double(st, base + 7, p->utilization);
	sqlite3_bind_double(st, base + 8, p->balloon_pressure);
	sqlite3_bind_double(st, base + 9, p->swap_pressure);
	sqlite3_bind_double(st, base + 10, p->price);
	sqlite3_bind_double(st, base + 11, p->clearing_price);
	sqlite3_bind_int(st, base + 12, p->shortage != 0);
	sqlite3_bind_int(st, base + 13, p->infeasible != 0);
	sqlite3_bind_int64(st, base + 14, p->free_mib);
	sqlite3_bind_int64(st, base + 15, p->balloon_mib);
	sqlite3_bind_double(st, base + 16, p->host_swap_mibps);
}

#define PRICE_COLS 16
#define SAMPLE_COLS 8
#define ALLOC_COLS 6

static void bind_sample(sqlite3_stmt *st, int base, int64_t round,
			const store_alloc_row *a)
{
	sqlite3_bind_int64(st, base + 1, round);
	sqlite3_bind_int64(st, base + 2, a->vm_id);
	sqlite3_bind_int64(st, base + 3, a->host_id);
	sqlite3_bind_int64(st, base + 4, a->demand_mib);
	sqlite3_bind_int64(st, base + 5, a->assigned_mib);
	sqlite3_bind_double(st, base + 6, a->guest_swap_mibps);
	sqlite3_bind_int64(st, base + 7, a->balloon_mib);
	sqlite3_bind_double(st, base + 8, a->reported_pressure);
}

static void bind_alloc(sqlite3_stmt *st, int base, int64_t round,
		       const store_alloc_row *a)
{
	sqlite3_bind_int64(st, base + 1, round);
	sqlite3_bind_int64(st, base + 2, a->vm_id);
	sqlite3_bind_int64(st, base + 3, a->want_mib);
	sqlite3_bind_int64(st, base + 4, a->target_mib);
	sqlite3_bind_double(st, base + 5, a->budget);
	sqlite3_bind_double(st, base + 6, a->pressure);
}

static int host_seen(struct round_ctx *c, const store_price_row *p)
{
	sqlite3_stmt *st = c->s->st[ST_HOST_SEEN];

	if (p->last_seen_ms <= 0)
		return 0;
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, p->host_id);
	sqlite3_bind_int64(st, 2, p->last_seen_ms);
	return step_write(c, st, "when host %u was seen", p->host_id);
}

/* Prices [from, to) one at a time, each followed by its host's last seen,
 * in the order of the round. */
static int prices_one(struct round_ctx *c, size_t from, size_t to)
{
	sqlite3_stmt *st = c->s->st[ST_PRICE_INSERT];

	sqlite3_reset(st);
	for (size_t i = from; i < to; i++) {
		const store_price_row *p = &c->rd->prices[i];

		bind_price(st, 0, c->rd->round, p);
		if (step_write(c, st, "the price of host %u", p->host_id) != 0 ||
		    host_seen(c, p) != 0)
			return -1;
	}
	return 0;
}

/* Prices [from, from + STORE_BATCH) in one statement, then their hosts'
 * last seen. */
static int prices_batch(struct round_ctx *c, size_t from)
{
	sqlite3_stmt *st = c->s->st[ST_PRICE_INSERT_N];
	int rc;

	sqlite3_reset(st);
	for (int k = 0; k < STORE_BATCH; k++)
		bind_price(st, k * PRICE_COLS, c->rd->round,
			   &c->rd->prices[from + (size_t)k]);
	rc = step_batch(c, st, "the prices");
	if (rc != 0)
		return rc < 0 ? -1 : prices_one(c, from, from + STORE_BATCH);
	for (size_t i = from; i < from + STORE_BATCH; i++)
		if (host_seen(c, &c->rd->prices[i]) != 0)
			return -1;
	return 0;
}

static int prices_insert(struct round_ctx *c)
{
	size_t n = c->rd->n_prices, i = 0;

	for (; i + STORE_BATCH <= n; i += STORE_BATCH)
		if (prices_batch(c, i) != 0)
			return -1;
	return prices_one(c, i, n);
}

/* Samples and allocations [from, to) one at a time (a sample, then the
 * allocation of the same VM), samples from skip on (those before are
 * written already). */
static int allocs_one(struct round_ctx *c, size_t from, size_t skip,
		      size_t to)
{
	sqlite3_stmt *sa = c->s->st[ST_SAMPLE_INSERT];
	sqlite3_stmt *al = c->s->st[ST_ALLOC_INSERT];

	sqlite3_reset(sa);
	sqlite3_reset(al);
	for (size_t i = from; i < to; i++) {
		const store_alloc_row *a = &c->rd->allocs[i];

		if (i >= skip) {
			bind_sample(sa, 0, c->rd->round, a);
			if (step_write(c, sa, "the sample of VM %u",
				       a->vm_id) != 0)
				return -1;
		}
		bind_alloc(al, 0, c->rd->round, a);
		if (step_write(c, al, "the allocation of VM %u", a->vm_id) != 0)
			return -1;
	}
	return 0;
}

/* Samples, then allocations, [from, from + STORE_BATCH) in one statement
 * each. A batch that fails is written again row by row, in the order of
 * the one-row path (see step_batch()), so the first row at fault and the
 * message are the ones the one-row statements give. */
static int allocs_batch(struct round_ctx *c, size_t from)
{
	sqlite3_stmt *sa = c->s->st[ST_SAMPLE_INSERT_N];
	sqlite3_stmt *al = c->s->st[ST_ALLOC_INSERT_N];
	size_t to = from + STORE_BATCH;
	int rc;

	sqlite3_reset(sa);
	for (int k = 0; k < STORE_BATCH; k++)
		bind_sample(sa, k * SAMPLE_COLS, c->rd->round,
			    &c->rd->allocs[from + (size_t)k]);
	rc = step_batch(c, sa, "the samples");
	if (rc != 0)
		return rc < 0 ? -1 : allocs_one(c, from, from, to);
	sqlite3_reset(al);
	for (int k = 0; k < STORE_BATCH; k++)
		bind_alloc(al, k * ALLOC_COLS, c->rd->round,
			   &c->rd->allocs[from + (size_t)k]);
	rc = step_batch(c, al, "the allocations");
	if (rc != 0)
		return rc < 0 ? -1 : allocs_one(c, from, to, to);
	return 0;
}

static int allocs_insert(struct round_ctx *c)
{
	size_t n = c->rd->n_allocs, i = 0;

	for (; i + STORE_BATCH <= n; i += STORE_BATCH)
		if (allocs_batch(c, i) != 0)
			return -1;
	return allocs_one(c, i, i, n);
}

static int signals_insert(struct round_ctx *c)
{
	sqlite3_stmt *st = c->s->st[ST_SIGNAL_INSERT];

	sqlite3_reset(st);
	for (size_t i = 0; i < c->rd->n_signals; i++) {
		const store_signal_row *g = &c->rd->signals[i];

		sqlite3_bind_int64(st, 1, c->rd->round);
		sqlite3_bind_int64(st, 2, (int64_t)i);
		sqlite3_bind_int(st, 3, g->kind);
		sqlite3_bind_int64(st, 4, g->host_id);
		sqlite3_bind_int64(st, 5, g->mib);
		if (step_write(c, st, "signal %zu", i) != 0)
			return -1;
	}
	return 0;
}

/* ---- recommendations of the round --------------------------------------- */

/* Wider than any two memory sizes apart: "to_mib does not matter". */
#define STORE_MIB_ANY ((int64_t)1 << 50)

/* The pending or approved rec this one repeats (same VM, kind and target
 * host; for a resize, to_mib within same_mib), or 0; *approved says which. Returns -1 on
 * a database error. */
static int64_t rec_find_same(struct round_ctx *c, const store_rec_in *r,
			     int *approved)
{
	sqlite3_stmt *st = store__stmt(c->s, ST_REC_FIND_SAME);
	int64_t id = 0;
	int rc;

	*approved = 0;
	sqlite3_bind_int64(st, 1, r->vm_id);
	sqlite3_bind_int(st, 2, (int)r->kind);
	sqlite3_bind_int64(st, 3, r->kind == STORE_REC_MIGRATE ? r->to_host_id : 0);
	sqlite3_bind_int64(st, 4, r->to_mib);
	/* a migration is the same action whatever it is to hold there: the
	 * operator approved moving the VM to that host (docs/storage.md) */
	sqlite3_bind_int64(st, 5, r->kind == STORE_REC_MIGRATE
					  ? STORE_MIB_ANY : c->pol->same_mib);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		id = sqlite3_column_int64(st, 0);
		*approved = sqlite3_column_int(st, 1) == STORE_REC_APPROVED;
	} else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		id = -1;
	}
	if (id < 0)
		store__dberr(c->s, c->err, c->errlen, "round %lld: cannot look "
			     "up the open recommendations of VM %u",
			     (long long)c->rd->round, r->vm_id);
	sqlite3_reset(st);
	return id;
}

/* The market made the same action again: the row takes the round's
 * figures and why, so what it shows is one consistent, current statement
 * (to_mib moves by at most same_mib; an approved rec is never refreshed). */
static int rec_refresh(struct round_ctx *c, int64_t id, const store_rec_in *r)
{
	sqlite3_stmt *st = store__stmt(c->s, ST_REC_REFRESH);

	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, c->rd->round);
	sqlite3_bind_int64(st, 3, c->now_ms);
	sqlite3_bind_int64(st, 4, r->from_mib);
	sqlite3_bind_int64(st, 5, r->to_mib);
	sqlite3_bind_double(st, 6, r->price_here);
	sqlite3_bind_double(st, 7, r->price_there);
	sqlite3_bind_double(st, 8, r->cost_here);
	sqlite3_bind_double(st, 9, r->cost_there);
	sqlite3_bind_int64(st, 10, r->demand_mib);
	sqlite3_bind_int64(st, 11, r->want_mib);
	sqlite3_bind_double(st, 12, r->pressure_before);
	sqlite3_bind_double(st, 13, r->pressure_after);
	sqlite3_bind_double(st, 14, r->budget);
	sqlite3_bind_text(st, 15, r->why, (int)strnlen(r->why, sizeof(r->why)),
			  SQLITE_STATIC);
	if (step_write(c, st, "the refreshed recommendation of VM %u",
		       r->vm_id) != 0)
		return -1;
	c->out.refreshed++;
	return 0;
}

/* The market made an approved action again: it still stands, so it does
 * not age or drift out, but keeps the figures it was approved with (what
 * the operator approved is what is carried out, within same_mib). */
static int rec_touch(struct round_ctx *c, int64_t id, const store_rec_in *r)
{
	sqlite3_stmt *st = store__stmt(c->s, ST_REC_TOUCH);

	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, c->rd->round);
	sqlite3_bind_int64(st, 3, c->now_ms);
	if (step_write(c, st, "the approved recommendation of VM %u",
		       r->vm_id) != 0)
		return -1;
	c->out.refreshed++;
	return 0;
}

static int rec_insert(struct round_ctx *c, const store_rec_in *r, int64_t *id)
{
	sqlite3_stmt *st = store__stmt(c->s, ST_REC_INSERT);

	sqlite3_bind_int64(st, 1, c->rd->round);
	sqlite3_bind_int64(st, 2, c->now_ms);
	sqlite3_bind_int(st, 3, (int)r->kind);
	sqlite3_bind_int64(st, 4, r->vm_id);
	sqlite3_bind_int64(st, 5, r->from_host_id);
	sqlite3_bind_int64(st, 6, r->kind == STORE_REC_MIGRATE ? r->to_host_id : 0);
	sqlite3_bind_int64(st, 7, r->from_mib);
	sqlite3_bind_int64(st, 8, r->to_mib);
	sqlite3_bind_double(st, 9, r->price_here);
	sqlite3_bind_double(st, 10, r->price_there);
	sqlite3_bind_double(st, 11, r->cost_here);
	sqlite3_bind_double(st, 12, r->cost_there);
	sqlite3_bind_int64(st, 13, r->demand_mib);
	sqlite3_bind_int64(st, 14, r->want_mib);
	sqlite3_bind_double(st, 15, r->pressure_before);
	sqlite3_bind_double(st, 16, r->pressure_after);
	sqlite3_bind_double(st, 17, r->budget);
	sqlite3_bind_text(st, 18, r->why, (int)strnlen(r->why, sizeof(r->why)),
			  SQLITE_STATIC);
	if (step_write(c, st, "a recommendation for VM %u",
		       r->vm_id) != 0)
		return -1;
	*id = sqlite3_last_insert_rowid(c->s->db);
	c->out.inserted++;
	return 0;
}

/* Supersede by new_id every other pending rec of the VM, and its approved
 * (not dispatched) ones of kind `kind` (0: of every kind): audit first (the
 * INSERT ... SELECT sees them still open), then the UPDATE. An approval
 * does not carry over: the new rec is pending (the broker approves it
 * itself in automated mode). */
static int rec_supersede(struct round_ctx *c, uint32_t vm_id, int64_t new_id,
			 int kind)
{
	char reason[64];
	sqlite3_stmt *st = store__stmt(c->s, ST_AUDIT_SUPERSEDE);

	snprintf(reason, sizeof(reason), "superseded by #%lld",
		 (long long)new_id);
	sqlite3_bind_int64(st, 1, c->now_ms);
	sqlite3_bind_text(st, 2, reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, vm_id);
	sqlite3_bind_int64(st, 4, new_id);
	sqlite3_bind_int(st, 5, kind);
	if (step_write(c, st, "the audit of superseded "
		       "recommendations of VM %u", vm_id) != 0)
		return -1;
	st = store__stmt(c->s, ST_REC_SUPERSEDE);
	sqlite3_bind_int64(st, 1, new_id);
	sqlite3_bind_text(st, 2, reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, c->now_ms);
	sqlite3_bind_int64(st, 4, vm_id);
	sqlite3_bind_int(st, 5, kind);
	if (step_write(c, st, "superseded recommendations of VM %u",
		       vm_id) != 0)
		return -1;
	c->out.superseded += (uint32_t)sqlite3_changes(c->s->db);
	return 0;
}

/* Is VM vm_id's action in flight (dispatched), or did one succeed within
 * the last settle_rounds rounds (recs.done_round) and the VM has not bid
 * since (r->heard_since)? Then the market saw it before the action took
 * effect, and a new rec for it now would repeat the action (issue 17, bug
 * 6): 1, 0, or -1 on a database error. */
static int rec_vm_busy(struct round_ctx *c, const store_rec_in *r)
{
	sqlite3_stmt *st = store__stmt(c->s, ST_REC_VM_BUSY);
	uint32_t vm_id = r->vm_id;
	int rc, busy = -1;

	sqlite3_bind_int64(st, 1, vm_id);
	sqlite3_bind_int64(st, 2, r->heard_since
				  ? INT64_MAX
				  : c->rd->round - c->pol->settle_rounds);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		busy = sqlite3_column_int(st, 0) != 0;
	else
		store__dberr(c->s, c->err, c->errlen, "round %lld: cannot look "
			     "up the actions of VM %u", (long long)c->rd->round,
			     vm_id);
	sqlite3_reset(st);
	return busy;
}

static int recs_apply(struct round_ctx *c)
{
	for (size_t i = 0; i < c->rd->n_recs; i++) {
		const store_rec_in *r = &c->rd->recs[i];
		int approved, busy = rec_vm_busy(c, r);
		int64_t id;

		if (busy < 0)
			return -1;
		id = rec_find_same(c, r, &approved);
		if (id < 0)
			return -1;
		/* unsettled: an open rec it repeats is kept current (an
		 * approval stays), nothing new is made */
		if (busy && id == 0) {
			c->out.unsettled++;
			continue;
		}
		/* the market went back to an approved action: the VM's other
		 * open recs are no longer its view */
		if (id > 0 && approved) {
			if (rec_touch(c, id, r) != 0 ||
			    rec_supersede(c, r->vm_id, id, 0) != 0)
				return -1;
			continue;
		}
		if (id > 0) {
			if (rec_refresh(c, id, r) != 0)
				return -1;
			continue;
		}
		if (rec_insert(c, r, &id) != 0 ||
		    rec_supersede(c, r->vm_id, id, (int)r->kind) != 0)
			return -1;
	}
	return 0;
}

/* ---- expiry ------------------------------------------------------------- */

struct expiry {
	int64_t id;
	char reason[STORE_TEXT_MAX];
};

struct expiry_vec {
	struct expiry *v;
	size_t n, cap;
};

static struct expiry *expiry_push(struct expiry_vec *e)
{
	if (UTIL_GROW(e->v, e->n + 1, e->cap))
		return NULL;
	return &e->v[e->n++];
}

/* |now - then| / then, or 0 when either price is unknown or then is 0. */
static double drift(double then, sqlite3_stmt *st, int col)
{
	double now;

	if (sqlite3_column_type(st, col) == SQLITE_NULL || !(then > 0))
		return 0;
	now = sqlite3_column_double(st, col);
	return fabs(now - then) / then;
}

/* Why the pending or approved rec on the current row of ST_REC_STALE should
 * expire, in
 * reason; 0 if it should not. Drift is checked before age: the more
 * specific reason wins. */
static int expiry_reason(struct round_ctx *c, sqlite3_stmt *st, char *reason,
			 size_t size)
{
	const store_rec_policy *p = c->pol;
	int64_t last_round = sqlite3_column_int64(st, 1);
	int64_t updated = sqlite3_column_int64(st, 2);
	double d_here = drift(sqlite3_column_double(st, 3), st, 5);
	double d_there = drift(sqlite3_column_double(st, 4), st, 6);
	char host[STORE_NAME_MAX], now_on[STORE_NAME_MAX];

	if (sqlite3_column_int(st, 9)) {
		store__text(st, 7, host, sizeof(host));
		store__text(st, 10, now_on, sizeof(now_on));
		snprintf(reason, size, "expired: the VM is no longer on %.64s,"
			 " where the recommendation found it (now on %.64s)",
			 host, now_on);
		return 1;
	}
	if (p->price_drift > 0 && (d_here > p->price_drift ||
				   d_there > p->price_drift)) {
		int here = d_here >= d_there;

		store__text(st, here ? 7 : 8, host, sizeof(host));
		snprintf(reason, size, "expired: price at %s moved %.0f%% since "
			 "round %lld", host, 100.0 * (here ? d_here : d_there),
			 (long long)last_round);
		return 1;
	}
	if (p->ttl_ms > 0 && c->now_ms - updated > p->ttl_ms) {
		snprintf(reason, size, "expired: older than %g s (last "
			 "recommended in round %lld)", (double)p->ttl_ms / 1000.0,
			 (long long)last_round);
		return 1;
	}
	return 0;
}

/* Decide first (reading), then write: the UPDATEs would otherwise change
 * the index the SELECT walks. */
static int recs_expire(struct round_ctx *c)
{
	struct expiry_vec e = { 0 };
	sqlite3_stmt *st = store__stmt(c->s, ST_REC_STALE);
	struct expiry *x;
	char reason[STORE_TEXT_MAX];
	int rc;

	sqlite3_bind_int64(st, 1, c->rd->round);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!expiry_reason(c, st, reason, sizeof(reason)))
			continue;
		x = expiry_push(&e);
		if (!x) {
			util_err(c->err, c->errlen, "out of memory");
			goto fail;
		}
		x->id = sqlite3_column_int64(st, 0);
		memcpy(x->reason, reason, sizeof(reason));
	}
	if (rc != SQLITE_DONE) {
		store__dberr(c->s, c->err, c->errlen, "round %lld: cannot read "
			     "the pending recommendations", (long long)c->rd->round);
		goto fail;
	}
	sqlite3_reset(st);
	for (size_t i = 0; i < e.n; i++) {
		x = &e.v[i];
		st = store__stmt(c->s, ST_REC_EXPIRE);
		sqlite3_bind_int64(st, 1, x->id);
		sqlite3_bind_text(st, 2, x->reason, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, c->now_ms);
		if (step_write(c, st, "expired recommendation %lld",
			       (long long)x->id) != 0 ||
		    store__audit(c->s, "broker", "rec.expired", x->id, x->reason,
				 c->now_ms, c->err, c->errlen) != 0)
			goto fail;
		c->out.expired++;
	}
	free(e.v);
	return 0;
fail:
	sqlite3_reset(st);
	free(e.v);
	return -1;
}

/* ---- retention ---------------------------------------------------------- */

/* Delete samples, allocations and prices of every round up to the last one
 * started before now - retention (never the round being written), and
 * never one of the newest retention_rounds: the start times are the wall
 * clock's, and a clock that jumps two days forward must not delete two
 * days of samples in one round (a jump back keeps more for a while, and
 * deletes nothing it should keep). Rounds, signals, recs and the audit
 * log are kept. */
static int retain(struct round_ctx *c)
{
	static const enum store_stmt del[] = { ST_RETAIN_SAMPLES,
					       ST_RETAIN_ALLOCS,
					       ST_RETAIN_PRICES };
	sqlite3_stmt *st = store__stmt(c->s, ST_RETAIN_CUTOFF);
	int64_t upto;
	int rc;

	if (c->pol->retention_ms <= 0)
		return 0;
	sqlite3_bind_int64(st, 1, c->now_ms - c->pol->retention_ms);
	rc = sqlite3_step(st);
	upto = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		store__dberr(c->s, c->err, c->errlen, "round %lld: retention",
			     (long long)c->rd->round);
		return -1;
	}
	if (upto >= c->rd->round)
		upto = c->rd->round - 1;
	if (c->pol->retention_rounds > 0 &&
	    upto > c->rd->round - c->pol->retention_rounds)
		upto = c->rd->round - c->pol->retention_rounds;
	if (upto <= 0)
		return 0;
	for (size_t i = 0; i < sizeof(del) / sizeof(del[0]); i++) {
		st = store__stmt(c->s, del[i]);
		sqlite3_bind_int64(st, 1, upto);
		if (step_write(c, st, "retention (deleting up to round "
			       "%lld)", (long long)upto) != 0)
			return -1;
	}
	return 0;
}

/* ---- the round ---------------------------------------------------------- */

static int round_validate(const store_round *rd, char *err, size_t errlen)
{
	if (rd->round <= 0) {
		util_err(err, errlen, "round %lld: round numbers start at 1",
			 (long long)rd->round);
		return -1;
	}
	if ((rd->n_prices && !rd->prices) || (rd->n_allocs && !rd->allocs) ||
	    (rd->n_recs && !rd->recs) || (rd->n_signals && !rd->signals)) {
		util_err(err, errlen, "round %lld: an array is NULL but its "
			 "count is not 0", (long long)rd->round);
		return -1;
	}
	for (size_t i = 0; i < rd->n_recs; i++) {
		const store_rec_in *r = &rd->recs[i];

		if (r->kind != STORE_REC_RESIZE && r->kind != STORE_REC_MIGRATE) {
			util_err(err, errlen, "round %lld: recommendation %zu "
				 "has a bad kind %d", (long long)rd->round, i,
				 (int)r->kind);
			return -1;
		}
		if (r->kind == STORE_REC_MIGRATE && r->to_host_id == 0) {
			util_err(err, errlen, "round %lld: recommendation %zu "
				 "is a migration without a target host",
				 (long long)rd->round, i);
			return -1;
		}
	}
	return 0;
}

int store_round_write(store *s, const store_round *rd,
		      const store_rec_policy *policy, int64_t now_ms,
		      store_round_outcome *outcome, char *err, size_t errlen)
{
	store_rec_policy defaults;
	struct round_ctx c = { .s = s, .rd = rd, .pol = policy,
			       .now_ms = now_ms, .err = err, .errlen = errlen };

	if (!policy) {
		store_rec_policy_default(&defaults);
		c.pol = &defaults;
	}
	if (store__writable(s, err, errlen) != 0 ||
	    round_validate(rd, err, errlen) != 0 ||
	    store__begin(s, err, errlen) != 0)
		return -1;
	if (round_insert(&c) != 0 || prices_insert(&c) != 0 ||
	    allocs_insert(&c) != 0 || signals_insert(&c) != 0 ||
	    recs_apply(&c) != 0 || recs_expire(&c) != 0 ||
	    store__score_round(s, rd->round, c.pol->score_rounds, err,
			       errlen) != 0 || retain(&c) != 0 ||
	    store__commit(s, err, errlen) != 0) {
		store__rollback(s);
		return -1;
	}
	if (outcome)
		*outcome = c.out;
	return 0;
}

/* ---- prices ------------------------------------------------------------- */

static const char prices_sql[] =
	"SELECT p.round, r.started_ms, COALESCE(h.name, ''), p.host_id,"
	" p.supply_mib, p.wanted_mib, p.floor_mib, p.awarded_mib,"
	" p.utilization, p.balloon_pressure, p.swap_pressure, p.price,"
	" p.clearing_price, p.shortage, p.infeasible, p.free_mib,"
	" p.balloon_mib, p.host_swap_mibps"
	" FROM prices p JOIN rounds r ON r.round = p.round"
	" LEFT JOIN hosts h ON h.id = p.host_id"
	" WHERE p.round = ?1 ORDER BY h.name, p.host_id";

static void price_read(sqlite3_stmt *st, store_price_view *v)
{
	store_price_row *p = &v->p;

	memset(v, 0, sizeof(*v));
	v->round = sqlite3_column_int64(st, 0);
	v->started_ms = sqlite3_column_int64(st, 1);
	store__text(st, 2, v->host_name, sizeof(v->host_name));
	p->host_id = (uint32_t)sqlite3_column_int64(st, 3);
	p->supply_mib = sqlite3_column_int64(st, 4);
	p->wanted_mib = sqlite3_column_int64(st, 5);
	p->floor_mib = sqlite3_column_int64(st, 6);
	p->awarded_mib = sqlite3_column_int64(st, 7);
	p->utilization = sqlite3_column_double(st, 8);
	p->balloon_pressure = sqlite3_column_double(st, 9);
	p->swap_pressure = sqlite3_column_double(st, 10);
	p->price = sqlite3_column_double(st, 11);
	p->clearing_price = sqlite3_column_double(st, 12);
	p->shortage = sqlite3_column_int(st, 13);
	p->infeasible = sqlite3_column_int(st, 14);
	p->free_mib = sqlite3_column_int64(st, 15);
	p->balloon_mib = sqlite3_column_int64(st, 16);
	p->host_swap_mibps = sqlite3_column_double(st, 17);
}

/* round <= 0 becomes the latest (0 if none); a round that was never
 * written is an error. */
static int prices_round(store *s, int64_t *round, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc;

	if (*round <= 0)
		return store_round_last(s, round, err, errlen);
	st = store__stmt(s, ST_ROUND_STARTED);
	sqlite3_bind_int64(st, 1, *round);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		util_err(err, errlen, "no round %lld", (long long)*round);
	else
		store__dberr(s, err, errlen, "cannot read round %lld",
			     (long long)*round);
	return -1;
}

struct price_each {
	int (*cb)(const store_price_view *, void *);
	void *ctx;
};

static int price_each_row(sqlite3_stmt *st, void *p)
{
	struct price_each *e = p;
	store_price_view v;

	price_read(st, &v);
	return e->cb(&v, e->ctx);
}

int store_prices_list(store *s, int64_t round,
		      int (*cb)(const store_price_view *, void *), void *ctx,
		      char *err, size_t errlen)
{
	struct price_each e = { cb, ctx };
	sqlite3_stmt *st = NULL;
	char what[64];

	if (prices_round(s, &round, err, errlen) != 0)
		return -1;
	if (round == 0)
		return 0;
	if (sqlite3_prepare_v2(s->db, prices_sql, -1, &st, NULL) == SQLITE_OK)
		sqlite3_bind_int64(st, 1, round);
	snprintf(what, sizeof(what), "cannot list the prices of round %lld",
		 (long long)round);
	return store__each(s, st, price_each_row, &e, what, err, errlen);
}
