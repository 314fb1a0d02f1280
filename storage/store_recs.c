/*
 * store_recs.c - the recommendation state machine (its one table of legal
 * transitions), reading recommendations, and the audit log.
 */
#include <stdio.h>
#include <string.h>

#include "store_internal.h"
#include "banned.h"

struct state_desc {
	const char *name;
	const char *verb; /* "it cannot be <verb>" */
};

static const struct state_desc states[] = {
	[STORE_REC_PENDING] = { "pending", "made pending" },
	[STORE_REC_APPROVED] = { "approved", "approved" },
	[STORE_REC_REJECTED] = { "rejected", "rejected" },
	[STORE_REC_EXPIRED] = { "expired", "expired" },
	[STORE_REC_SUPERSEDED] = { "superseded", "superseded" },
	[STORE_REC_DISPATCHED] = { "dispatched", "dispatched" },
	[STORE_REC_SUCCEEDED] = { "succeeded", "marked succeeded" },
	[STORE_REC_FAILED] = { "failed", "marked failed" },
};

#define N_STATES (sizeof(states) / sizeof(states[0]))

/* Every legal transition, and nothing else (docs/storage.md):
 *
 *   pending -> approved -> dispatched -> succeeded
 *           -> rejected               -> failed
 *           -> expired
 *           -> superseded
 *
 * and an approved rec, not dispatched yet, may still be superseded or
 * expire as a pending one does, or be withdrawn (rejected) by an operator.
 */
static const struct transition {
	store_rec_state from, to;
} transitions[] = {
	{ STORE_REC_PENDING, STORE_REC_APPROVED },
	{ STORE_REC_PENDING, STORE_REC_REJECTED },
	{ STORE_REC_PENDING, STORE_REC_EXPIRED },
	{ STORE_REC_PENDING, STORE_REC_SUPERSEDED },
	{ STORE_REC_APPROVED, STORE_REC_DISPATCHED },
	{ STORE_REC_APPROVED, STORE_REC_REJECTED },
	{ STORE_REC_APPROVED, STORE_REC_EXPIRED },
	{ STORE_REC_APPROVED, STORE_REC_SUPERSEDED },
	{ STORE_REC_DISPATCHED, STORE_REC_SUCCEEDED },
	{ STORE_REC_DISPATCHED, STORE_REC_FAILED },
};

#define N_TRANSITIONS (sizeof(transitions) / sizeof(transitions[0]))

static int state_valid(store_rec_state st)
{
	return st >= STORE_REC_PENDING && (size_t)st < N_STATES;
}

const char *store_rec_state_name(store_rec_state st)
{
	return state_valid(st) ? states[st].name : "unknown";
}

int store_rec_state_parse(const char *name, store_rec_state *out)
{
	for (size_t i = STORE_REC_PENDING; i < N_STATES; i++) {
		if (strcmp(states[i].name, name) == 0) {
			*out = (store_rec_state)i;
			return 0;
		}
	}
	return -1;
}

const char *store_rec_kind_name(store_rec_kind k)
{
	switch (k) {
	case STORE_REC_RESIZE: return "resize";
	case STORE_REC_MIGRATE: return "migrate";
	}
	return "unknown";
}

int store_rec_transition_ok(store_rec_state from, store_rec_state to)
{
	for (size_t i = 0; i < N_TRANSITIONS; i++)
		if (transitions[i].from == from && transitions[i].to == to)
			return 1;
	return 0;
}

/* "recommendation 12 is rejected; it cannot be approved (only pending ones
 * can)", the "only" part read from the table. */
static void illegal_msg(int64_t id, store_rec_state from, store_rec_state to,
			char *err, size_t errlen)
{
	char only[128] = "";
	size_t n = 0;

	for (size_t i = 0; i < N_TRANSITIONS; i++) {
		if (transitions[i].to != to)
			continue;
		n += (size_t)snprintf(only + n, sizeof(only) - n, "%s%s",
				      n ? " or " : "",
				      states[transitions[i].from].name);
		if (n >= sizeof(only))
			break;
	}
	if (only[0])
		util_err(err, errlen, "recommendation %lld is %s; it cannot be "
			 "%s (only %s ones can)", (long long)id,
			 store_rec_state_name(from), states[to].verb, only);
	else
		util_err(err, errlen, "recommendation %lld is %s; it cannot be "
			 "%s (no state leads there)", (long long)id,
			 store_rec_state_name(from), states[to].verb);
}

/* What the current state of a rec is, read inside a transaction. */
struct rec_now {
	store_rec_state state;
	store_rec_kind kind;
	int64_t from_mib, to_mib, superseded_by;
};

/* 0 with *out, or -1 with "no recommendation N" or the database's error. */
static int rec_now_read(store *s, int64_t id, struct rec_now *out, char *err,
			size_t errlen)
{
	sqlite3_stmt *st = store__stmt(s, ST_REC_STATE);
	int rc;

	memset(out, 0, sizeof(*out));
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->state = (store_rec_state)sqlite3_column_int(st, 0);
		out->kind = (store_rec_kind)sqlite3_column_int(st, 1);
		out->from_mib = sqlite3_column_int64(st, 2);
		out->to_mib = sqlite3_column_int64(st, 3);
		out->superseded_by = sqlite3_column_int64(st, 4);
	}
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		util_err(err, errlen, "no recommendation %lld", (long long)id);
	else if (rc != SQLITE_ROW)
		store__dberr(s, err, errlen, "cannot read recommendation %lld",
			     (long long)id);
	return rc == SQLITE_ROW ? 0 : -1;
}

static store_action action_of(store_rec_kind kind, int64_t from, int64_t to)
{
	if (kind == STORE_REC_MIGRATE)
		return STORE_ACT_MIGRATE;
	return to > from ? STORE_ACT_RESIZE_UP : STORE_ACT_RESIZE_DOWN;
}

store_action store_rec_action(const store_rec *r)
{
	return action_of(r->kind, r->from_mib, r->to_mib);
}

/* The newest rec in the chain of replacements from `by` (at most a few
 * hops: each is a later round's), with its state. */
static void replacement(store *s, int64_t by, int64_t *last,
			store_rec_state *st, int *hops)
{
	struct rec_now n;
	char ignore[64];

	*last = by;
	*st = 0;
	*hops = 0;
	while (*hops < 1000 && rec_now_read(s, *last, &n, ignore,
					    sizeof(ignore)) == 0) {
		*st = n.state;
		(*hops)++;
		if (n.state != STORE_REC_SUPERSEDED || !n.superseded_by)
			return;
		*last = n.superseded_by;
	}
}

/* "recommendation 12 is superseded by #15 (pending); it cannot be approved:
 * see 'bourse recs show 15'", through a chain if #15 was superseded too. */
static void superseded_msg(store *s, int64_t id, int64_t by,
			   const char *verb, char *err, size_t errlen)
{
	int64_t last;
	store_rec_state st;
	int hops;

	replacement(s, by, &last, &st, &hops);
	if (hops <= 1)
		util_err(err, errlen, "recommendation %lld is superseded by "
			 "#%lld (%s); it cannot be %s: see 'bourse recs show "
			 "%lld'", (long long)id, (long long)by,
			 store_rec_state_name(st), verb, (long long)by);
	else
		util_err(err, errlen, "recommendation %lld is superseded by "
			 "#%lld, and that one in turn: the latest is #%lld "
			 "(%s); it cannot be %s: see 'bourse recs show %lld'",
			 (long long)id, (long long)by, (long long)last,
			 store_rec_state_name(st), verb, (long long)last);
}

/* An approval in recommend mode would carry nothing out now and be carried
 * out unseen by a later change of mode: refused. */
static int approval_allowed(store *s, int64_t id, const struct rec_now *n,
			    char *err, size_t errlen)
{
	sqlite3_stmt *st = store__stmt(s, ST_CONTROL_MODES);
	store_action act = action_of(n->kind, n->from_mib, n->to_mib);
	store_mode m = STORE_MODE_RECOMMEND;
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		m = (store_mode)sqlite3_column_int(st, (int)act);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW) {
		store__dberr(s, err, errlen, "cannot read the modes");
		return -1;
	}
	if (m != STORE_MODE_RECOMMEND)
		return 0;
	util_err(err, errlen, "recommendation %lld is a %s, and %s is in "
		 "recommend mode, where an approval carries nothing out; not "
		 "approved (set 'bourse mode manual --for %s' first, or reject "
		 "it)", (long long)id, store_action_name(act),
		 store_action_name(act), store_action_name(act));
	return -1;
}

/* Write the new state and its audit row (event: "rec.<state>" if NULL). */
static int set_state(store *s, int64_t id, store_rec_state to,
		     const char *actor, const char *event, const char *reason,
		     int64_t now_ms, char *err, size_t errlen)
{
	sqlite3_stmt *st = store__stmt(s, ST_REC_SET_STATE);
	char ev[32];
	int rc;

	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int(st, 2, (int)to);
	store__bind_text(st, 3, reason);
	sqlite3_bind_int64(st, 4, now_ms);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		store__dberr(s, err, errlen, "cannot update recommendation %lld",
			     (long long)id);
		return -1;
	}
	snprintf(ev, sizeof(ev), "rec.%s", states[to].name);
	return store__audit(s, actor, event ? event : ev, id, reason, now_ms,
			    err, errlen);
}

/* Inside the BEGIN IMMEDIATE of store_rec_transition(): nobody else can
 * write between the read of the state and the update. */
static int transition(store *s, int64_t id, store_rec_state to,
		      const char *actor, const char *reason, int64_t now_ms,
		      char *err, size_t errlen)
{
	struct rec_now n;

	if (rec_now_read(s, id, &n, err, errlen) != 0)
		return -1;
	if (!store_rec_transition_ok(n.state, to)) {
		if (n.state == STORE_REC_SUPERSEDED && n.superseded_by)
			superseded_msg(s, id, n.superseded_by, states[to].verb,
				       err, errlen);
		else
			illegal_msg(id, n.state, to, err, errlen);
		return -1;
	}
	if (to == STORE_REC_APPROVED &&
	    approval_allowed(s, id, &n, err, errlen) != 0)
		return -1;
	return set_state(s, id, to, actor, NULL, reason, now_ms, err, errlen);
}

int store_rec_transition(store *s, int64_t id, store_rec_state to,
			 const char *actor, const char *reason, int64_t now_ms,
			 char *err, size_t errlen)
{
	if (!state_valid(to)) {
		util_err(err, errlen, "recommendation %lld: %d is not a state",
			 (long long)id, (int)to);
		return -1;
	}
	if (store__writable(s, err, errlen) != 0 ||
	    store__begin(s, err, errlen) != 0)
		return -1;
	if (transition(s, id, to, actor, reason, now_ms, err, errlen) != 0 ||
	    store__commit(s, err, errlen) != 0) {
		store__rollback(s);
		return -1;
	}
	return 0;
}

/* Why rec id, in state n, has no approval to withdraw. */
static void cancel_refused(store *s, int64_t id, const struct rec_now *n,
			   char *err, size_t errlen)
{
	long long i = (long long)id;

	switch (n->state) {
	case STORE_REC_PENDING:
		util_err(err, errlen, "recommendation %lld is pending: there "
			 "is no approval to withdraw (to turn it down: 'bourse "
			 "recs reject %lld')", i, i);
		break;
	case STORE_REC_DISPATCHED:
		util_err(err, errlen, "recommendation %lld is dispatched: its "
			 "host's agent has it already, so it cannot be "
			 "withdrawn; its result will be recorded ('bourse "
			 "pause' stops further dispatches)", i);
		break;
	case STORE_REC_SUCCEEDED:
	case STORE_REC_FAILED:
		util_err(err, errlen, "recommendation %lld was carried out "
			 "(%s); it cannot be withdrawn", i,
			 store_rec_state_name(n->state));
		break;
	case STORE_REC_SUPERSEDED:
		if (n->superseded_by) {
			superseded_msg(s, id, n->superseded_by, "withdrawn",
				       err, errlen);
			break;
		}
		/* fall through */
	default:
		util_err(err, errlen, "recommendation %lld is %s: there is no "
			 "approval to withdraw", i,
			 store_rec_state_name(n->state));
		break;
	}
}

int store_rec_cancel(store *s, int64_t id, const char *actor,
		     const char *reason, int64_t now_ms, char *err,
		     size_t errlen)
{
	char why[STORE_TEXT_MAX];
	struct rec_now n;

	if (store__writable(s, err, errlen) != 0 ||
	    store__begin(s, err, errlen) != 0)
		return -1;
	if (rec_now_read(s, id, &n, err, errlen) != 0)
		goto fail;
	if (n.state != STORE_REC_APPROVED) {
		cancel_refused(s, id, &n, err, errlen);
		goto fail;
	}
	snprintf(why, sizeof(why), "approval withdrawn%s%s",
		 reason && *reason ? ": " : "", reason ? reason : "");
	if (set_state(s, id, STORE_REC_REJECTED, actor, "rec.cancelled", why,
		      now_ms, err, errlen) != 0 ||
	    store__commit(s, err, errlen) != 0)
		goto fail;
	return 0;
fail:
	store__rollback(s);
	return -1;
}

int store_vm_newest_open(store *s, uint32_t vm_id, int64_t *id, char *err,
			 size_t errlen)
{
	sqlite3_stmt *st = store__stmt(s, ST_REC_NEWEST_OPEN);
	int rc;

	*id = 0;
	sqlite3_bind_int64(st, 1, vm_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	else
		store__dberr(s, err, errlen, "cannot read the open "
			     "recommendations of VM %u", vm_id);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

int store_rec_set_wait(store *s, int64_t id, int64_t round, const char *why,
		       char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc;

	if (store__writable(s, err, errlen) != 0)
		return -1;
	st = store__stmt(s, ST_REC_SET_WAIT);
	sqlite3_bind_int64(st, 1, id);
	store__bind_text(st, 2, why);
	sqlite3_bind_int64(st, 3, round);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return 0;
	store__dberr(s, err, errlen, "cannot write why recommendation %lld "
		     "waits", (long long)id);
	return -1;
}

void store__rec_read(sqlite3_stmt *st, store_rec *r)
{
	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(st, 0);
	r->round = sqlite3_column_int64(st, 1);
	r->last_round = sqlite3_column_int64(st, 2);
	r->created_ms = sqlite3_column_int64(st, 3);
	r->updated_ms = sqlite3_column_int64(st, 4);
	r->kind = (store_rec_kind)sqlite3_column_int(st, 5);
	r->state = (store_rec_state)sqlite3_column_int(st, 6);
	r->vm_id = (uint32_t)sqlite3_column_int64(st, 7);
	store__text(st, 8, r->vm_name, sizeof(r->vm_name));
	store__text(st, 9, r->from_host, sizeof(r->from_host));
	store__text(st, 10, r->to_host, sizeof(r->to_host));
	r->from_mib = sqlite3_column_int64(st, 11);
	r->to_mib = sqlite3_column_int64(st, 12);
	r->price_here = sqlite3_column_double(st, 13);
	r->price_there = sqlite3_column_double(st, 14);
	r->cost_here = sqlite3_column_double(st, 15);
	r->cost_there = sqlite3_column_double(st, 16);
	r->demand_mib = sqlite3_column_int64(st, 17);
	r->want_mib = sqlite3_column_int64(st, 18);
	r->pressure_before = sqlite3_column_double(st, 19);
	r->pressure_after = sqlite3_column_double(st, 20);
	r->budget = sqlite3_column_double(st, 21);
	store__text(st, 22, r->why, sizeof(r->why));
	store__text(st, 23, r->state_reason, sizeof(r->state_reason));
	r->superseded_by = sqlite3_column_int64(st, 24);
	store__text(st, 25, r->wait_reason, sizeof(r->wait_reason));
	r->wait_round = sqlite3_column_int64(st, 26);
}

int store_rec_get(store *s, int64_t id, store_rec *out, char *err,
		  size_t errlen)
{
	sqlite3_stmt *st = store__stmt(s, ST_REC_GET);
	int rc;

	s->fault = STORE_FAULT_NONE; /* "no recommendation" is no fault */
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		store__rec_read(st, out);
	else if (rc == SQLITE_DONE)
		util_err(err, errlen, "no recommendation %lld", (long long)id);
	else
		store__dberr(s, err, errlen, "cannot read recommendation %lld",
			     (long long)id);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

struct rec_each {
	int (*cb)(const store_rec *, void *);
	void *ctx;
};

static int rec_each_row(sqlite3_stmt *st, void *p)
{
	struct rec_each *e = p;
	store_rec r;

	store__rec_read(st, &r);
	return e->cb(&r, e->ctx);
}

int store_recs_list(store *s, store_rec_state state, size_t limit,
		    int (*cb)(const store_rec *, void *), void *ctx,
		    char *err, size_t errlen)
{
	/* two statements, not "?1 = 0 OR r.state = ?1": that OR kept SQLite
	 * from the state index, and the broker's dispatch, which lists the
	 * approved recs every round, read the whole table (bench_broker) */
	static const char all[] = STORE_REC_SELECT
		" WHERE ?1 = 0 ORDER BY r.id DESC LIMIT ?2";
	static const char one[] = STORE_REC_SELECT
		" WHERE r.state = ?1 ORDER BY r.id DESC LIMIT ?2";
	struct rec_each e = { cb, ctx };
	sqlite3_stmt *st = NULL;

	if (state != 0 && !state_valid(state))
		return util_err(err, errlen, "%d is not a recommendation state",
				(int)state);
	if (sqlite3_prepare_v2(s->db, state == 0 ? all : one, -1, &st,
			       NULL) == SQLITE_OK) {
		sqlite3_bind_int(st, 1, (int)state);
		sqlite3_bind_int64(st, 2, limit == 0 || limit > INT64_MAX
					  ? -1 : (int64_t)limit);
	}
	return store__each(s, st, rec_each_row, &e,
			   "cannot list the recommendations", err, errlen);
}

int store_recs_find(store *s, const store_rec_filter *f,
		    int (*cb)(const store_rec *, void *), void *ctx,
		    char *err, size_t errlen)
{
	static const char sql[] = STORE_REC_SELECT
		" WHERE (?1 = 0 OR r.state = ?1) AND (?2 = 0 OR r.kind = ?2)"
		" AND (?3 IS NULL OR v.name = ?3)"
		" AND (?4 IS NULL OR hf.name = ?4 OR ht.name = ?4)"
		" ORDER BY r.id DESC LIMIT ?5";
	struct rec_each e = { cb, ctx };
	sqlite3_stmt *st = NULL;

	if (f->state != 0 && !state_valid(f->state))
		return util_err(err, errlen, "%d is not a recommendation state",
				(int)f->state);
	if (f->kind != 0 && f->kind != STORE_REC_RESIZE &&
	    f->kind != STORE_REC_MIGRATE)
		return util_err(err, errlen, "%d is not a kind of "
				"recommendation", (int)f->kind);
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int(st, 1, (int)f->state);
		sqlite3_bind_int(st, 2, (int)f->kind);
		if (f->vm)
			sqlite3_bind_text(st, 3, f->vm, -1, SQLITE_STATIC);
		if (f->host)
			sqlite3_bind_text(st, 4, f->host, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, f->limit == 0 || f->limit > INT64_MAX
					  ? -1 : (int64_t)f->limit);
	}
	return store__each(s, st, rec_each_row, &e,
			   "cannot list the recommendations", err, errlen);
}

/* ---- audit log ---------------------------------------------------------- */

int store_audit(store *s, const char *actor, const char *event,
		int64_t rec_id, const char *detail, int64_t now_ms, char *err,
		size_t errlen)
{
	if (store__writable(s, err, errlen) != 0)
		return -1;
	return store__audit(s, actor, event, rec_id, detail, now_ms, err,
			    errlen);
}

struct audit_each {
	int (*cb)(const store_audit_row *, void *);
	void *ctx;
};

static int audit_each_row(sqlite3_stmt *st, void *p)
{
	struct audit_each *e = p;
	store_audit_row a;

	memset(&a, 0, sizeof(a));
	a.id = sqlite3_column_int64(st, 0);
	a.ts_ms = sqlite3_column_int64(st, 1);
	store__text(st, 2, a.actor, sizeof(a.actor));
	store__text(st, 3, a.event, sizeof(a.event));
	a.rec_id = sqlite3_column_int64(st, 4);
	store__text(st, 5, a.detail, sizeof(a.detail));
	return e->cb(&a, e->ctx);
}

int store_audit_list(store *s, int64_t rec_id,
		     int (*cb)(const store_audit_row *, void *), void *ctx,
		     char *err, size_t errlen)
{
	/* two texts, so that one rec's trail is read through audit_rec */
	static const char all_sql[] =
		"SELECT id, ts_ms, actor, event, COALESCE(rec_id, 0), detail"
		" FROM audit ORDER BY id";
	static const char rec_sql[] =
		"SELECT id, ts_ms, actor, event, COALESCE(rec_id, 0), detail"
		" FROM audit WHERE rec_id = ?1 ORDER BY id";
	struct audit_each e = { cb, ctx };
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(s->db, rec_id > 0 ? rec_sql : all_sql, -1, &st,
			       NULL) == SQLITE_OK && rec_id > 0)
		sqlite3_bind_int64(st, 1, rec_id);
	return store__each(s, st, audit_each_row, &e,
			   "cannot read the audit log", err, errlen);
}
