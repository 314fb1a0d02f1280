/*
 * store_views.c - what the operator's status views read (store.h, "status
 * views"): the broker's own row (started, heartbeat, stopped), the hosts'
 * bad-data flags, the audit log with filters and the names it is about,
 * signals by round, the last round, recommendation counts, and the file's
 * data version for --watch.
 *
 * The broker writes its row and the flags outside a round's transaction:
 * each is one small statement, and a lost heartbeat only makes a reader
 * think the broker a little older than it is.
 */
#include <stdio.h>
#include <string.h>

#include "store_internal.h"
#include "banned.h"

/* ---- the broker's row --------------------------------------------------- */

/* Run a prepared and bound write statement, then st2 if not NULL, in
 * one transaction with an audit entry (event NULL: none); finalize both.
 * NULL st: its prepare failed. */
static int write_two(store *s, sqlite3_stmt *st, sqlite3_stmt *st2,
		     const char *what, const char *event, const char *detail,
		     int64_t now_ms, char *err, size_t errlen)
{
	int rc = -1;

	if (!st) {
		store__dberr(s, err, errlen, "%s", what);
		goto out;
	}
	if (store__begin(s, err, errlen) != 0)
		goto out;
	if (sqlite3_step(st) != SQLITE_DONE ||
	    (st2 && sqlite3_step(st2) != SQLITE_DONE)) {
		store__dberr(s, err, errlen, "%s", what);
		store__rollback(s);
		goto out;
	}
	if (event && store__audit(s, "broker", event, 0, detail, now_ms, err,
				  errlen) != 0) {
		store__rollback(s);
		goto out;
	}
	rc = store__commit(s, err, errlen);
	if (rc)
		store__rollback(s);
out:
	sqlite3_finalize(st);
	sqlite3_finalize(st2);
	return rc;
}

static int write_one(store *s, sqlite3_stmt *st, const char *what,
		     const char *event, const char *detail, int64_t now_ms,
		     char *err, size_t errlen)
{
	return write_two(s, st, NULL, what, event, detail, now_ms, err,
			 errlen);
}

static sqlite3_stmt *prepare(store *s, const char *sql)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		sqlite3_finalize(st);
		return NULL;
	}
	return st;
}

int store_broker_started(store *s, const store_broker_status *b,
			 char *err, size_t errlen)
{
	static const char sql[] =
		"INSERT INTO broker_status (id, started_ms, heartbeat_ms,"
		" stopped_ms, round_ms, pid, endpoint)"
		" VALUES (1, ?1, ?1, 0, ?2, ?3, ?4)"
		" ON CONFLICT (id) DO UPDATE SET started_ms = ?1,"
		" heartbeat_ms = ?1, stopped_ms = 0, round_ms = ?2, pid = ?3,"
		" endpoint = ?4";
	/* a new run finds bad data again from its own rounds: the flags of
	 * the last run are not news about this one */
	static const char clear_sql[] =
		"UPDATE host_flags SET bad_data = 0, since_ms = ?1,"
		" detail = 'cleared when the broker started' WHERE bad_data = 1";
	sqlite3_stmt *st, *clear;
	char detail[STORE_TEXT_MAX + 64];

	if (store__writable(s, err, errlen) != 0)
		return -1;
	st = prepare(s, sql);
	clear = prepare(s, clear_sql);
	if (st && clear) {
		sqlite3_bind_int64(st, 1, b->started_ms);
		sqlite3_bind_int64(st, 2, b->round_ms);
		sqlite3_bind_int64(st, 3, b->pid);
		store__bind_text(st, 4, b->endpoint);
		sqlite3_bind_int64(clear, 1, b->started_ms);
	} else {
		sqlite3_finalize(st);
		st = NULL;
	}
	snprintf(detail, sizeof(detail), "pid %lld on %s, a round every %lld "
		 "ms", (long long)b->pid, b->endpoint, (long long)b->round_ms);
	return write_two(s, st, clear, "cannot record that the broker started",
			 "broker.started", detail, b->started_ms, err, errlen);
}

int store_broker_beat(store *s, int64_t now_ms, char *err, size_t errlen)
{
	sqlite3_stmt *st;

	if (store__writable(s, err, errlen) != 0)
		return -1;
	st = prepare(s, "UPDATE broker_status SET heartbeat_ms = ?1 "
			"WHERE id = 1");
	if (st)
		sqlite3_bind_int64(st, 1, now_ms);
	return write_one(s, st, "cannot write the broker's heartbeat", NULL,
			 NULL, now_ms, err, errlen);
}

int store_broker_stopped(store *s, int64_t now_ms, char *err, size_t errlen)
{
	sqlite3_stmt *st;

	if (store__writable(s, err, errlen) != 0)
		return -1;
	st = prepare(s, "UPDATE broker_status SET stopped_ms = ?1, "
			"heartbeat_ms = ?1 WHERE id = 1");
	if (st)
		sqlite3_bind_int64(st, 1, now_ms);
	return write_one(s, st, "cannot record that the broker stopped",
			 "broker.stopped", "", now_ms, err, errlen);
}

static int broker_row(sqlite3_stmt *st, void *ctx)
{
	store_broker_status *b = ctx;

	b->known = 1;
	b->started_ms = sqlite3_column_int64(st, 0);
	b->heartbeat_ms = sqlite3_column_int64(st, 1);
	b->stopped_ms = sqlite3_column_int64(st, 2);
	b->round_ms = sqlite3_column_int64(st, 3);
	b->pid = sqlite3_column_int64(st, 4);
	store__text(st, 5, b->endpoint, sizeof(b->endpoint));
	return 0;
}

int store_broker_get(store *s, store_broker_status *out, char *err,
		     size_t errlen)
{
	memset(out, 0, sizeof(*out));
	return store__each(s, prepare(s, "SELECT started_ms, heartbeat_ms,"
				      " stopped_ms, round_ms, pid, endpoint"
				      " FROM broker_status WHERE id = 1"),
			   broker_row, out, "cannot read the broker's row",
			   err, errlen);
}

/* ---- hosts' bad-data flags ---------------------------------------------- */

static int flag_was(sqlite3_stmt *st, void *ctx)
{
	*(int *)ctx = sqlite3_column_int(st, 0);
	return 0;
}

int store_host_flag_set(store *s, uint32_t host_id, int bad_data,
			const char *detail, int64_t now_ms, char *err,
			size_t errlen)
{
	static const char sql[] =
		"INSERT INTO host_flags (host_id, bad_data, since_ms, detail)"
		" VALUES (?1, ?2, ?3, ?4) ON CONFLICT (host_id) DO UPDATE SET"
		" bad_data = ?2, detail = ?4, since_ms = CASE WHEN bad_data = ?2"
		" THEN since_ms ELSE ?3 END";
	sqlite3_stmt *st, *q;
	int was = -1;

	if (store__writable(s, err, errlen) != 0)
		return -1;
	q = prepare(s, "SELECT bad_data FROM host_flags WHERE host_id = ?1");
	if (q)
		sqlite3_bind_int64(q, 1, host_id);
	if (store__each(s, q, flag_was, &was, "cannot read a host's flag",
			err, errlen) != 0)
		return -1;
	st = prepare(s, sql);
	if (st) {
		sqlite3_bind_int64(st, 1, host_id);
		sqlite3_bind_int(st, 2, bad_data ? 1 : 0);
		sqlite3_bind_int64(st, 3, now_ms);
		store__bind_text(st, 4, detail);
	}
	/* audited when it changes; a host never flagged that is fine is not
	 * news either */
	return write_one(s, st, "cannot write a host's bad-data flag",
			 was == (bad_data ? 1 : 0) || (was < 0 && !bad_data)
				 ? NULL
				 : bad_data ? "host.bad_data" : "host.data_ok",
			 detail, now_ms, err, errlen);
}

struct flag_each {
	int (*cb)(const store_host_flag *, void *);
	void *ctx;
};

static int flag_row(sqlite3_stmt *st, void *p)
{
	struct flag_each *e = p;
	store_host_flag f;

	memset(&f, 0, sizeof(f));
	f.host_id = (uint32_t)sqlite3_column_int64(st, 0);
	store__text(st, 1, f.host_name, sizeof(f.host_name));
	f.bad_data = sqlite3_column_int(st, 2);
	f.since_ms = sqlite3_column_int64(st, 3);
	store__text(st, 4, f.detail, sizeof(f.detail));
	return e->cb(&f, e->ctx);
}

int store_host_flags_list(store *s,
			  int (*cb)(const store_host_flag *, void *),
			  void *ctx, char *err, size_t errlen)
{
	struct flag_each e = { cb, ctx };

	return store__each(s, prepare(s, "SELECT f.host_id,"
				      " COALESCE(h.name, ''), f.bad_data,"
				      " f.since_ms, f.detail FROM host_flags f"
				      " LEFT JOIN hosts h ON h.id = f.host_id"
				      " ORDER BY f.host_id"),
			   flag_row, &e, "cannot read the hosts' flags", err,
			   errlen);
}

/* ---- the audit log, filtered -------------------------------------------- */

/* A host event's detail is the host's name, or starts "<host>: ". */
static const char events_sql[] =
	"SELECT * FROM (SELECT a.id, a.ts_ms, a.actor, a.event,"
	" COALESCE(a.rec_id, 0), a.detail, COALESCE(v.name, ''),"
	" CASE WHEN a.event LIKE 'host.%' THEN"
	"  CASE WHEN instr(a.detail, ': ') > 0"
	"   THEN substr(a.detail, 1, instr(a.detail, ': ') - 1)"
	"   ELSE a.detail END"
	"  ELSE COALESCE(hf.name, '') END AS host,"
	" COALESCE(ht.name, '') AS to_host"
	" FROM audit a LEFT JOIN recs r ON r.id = a.rec_id"
	" LEFT JOIN vms v ON v.id = r.vm_id"
	" LEFT JOIN hosts hf ON hf.id = r.from_host_id"
	" LEFT JOIN hosts ht ON ht.id = r.to_host_id"
	" WHERE a.ts_ms >= ?1"
	" AND (?2 IS NULL OR a.event = ?2 OR a.event LIKE ?2 || '.%')"
	" AND (?3 IS NULL OR host = ?3 OR to_host = ?3)"
	" AND (?4 IS NULL OR v.name = ?4)"
	" ORDER BY a.id DESC LIMIT ?5) ORDER BY 1";

struct event_each {
	int (*cb)(const store_event_row *, void *);
	void *ctx;
};

static int event_row(sqlite3_stmt *st, void *p)
{
	struct event_each *e = p;
	store_event_row r;

	memset(&r, 0, sizeof(r));
	r.a.id = sqlite3_column_int64(st, 0);
	r.a.ts_ms = sqlite3_column_int64(st, 1);
	store__text(st, 2, r.a.actor, sizeof(r.a.actor));
	store__text(st, 3, r.a.event, sizeof(r.a.event));
	r.a.rec_id = sqlite3_column_int64(st, 4);
	store__text(st, 5, r.a.detail, sizeof(r.a.detail));
	store__text(st, 6, r.vm, sizeof(r.vm));
	store__text(st, 7, r.from_host, sizeof(r.from_host));
	store__text(st, 8, r.to_host, sizeof(r.to_host));
	return e->cb(&r, e->ctx);
}

static void bind_opt(sqlite3_stmt *st, int idx, const char *text)
{
	if (text)
		sqlite3_bind_text(st, idx, text, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, idx);
}

int store_events_list(store *s, const store_event_filter *f,
		      int (*cb)(const store_event_row *, void *), void *ctx,
		      char *err, size_t errlen)
{
	struct event_each e = { cb, ctx };
	sqlite3_stmt *st = prepare(s, events_sql);

	if (st) {
		sqlite3_bind_int64(st, 1, f->since_ms);
		bind_opt(st, 2, f->event);
		bind_opt(st, 3, f->host);
		bind_opt(st, 4, f->vm);
		sqlite3_bind_int64(st, 5, f->limit == 0 || f->limit > INT64_MAX
					  ? -1 : (int64_t)f->limit);
	}
	return store__each(s, st, event_row, &e, "cannot read the audit log",
			   err, errlen);
}

/* ---- signals ------------------------------------------------------------ */

struct signal_each {
	int (*cb)(const store_signal_view *, void *);
	void *ctx;
};

static int signal_row(sqlite3_stmt *st, void *p)
{
	struct signal_each *e = p;
	store_signal_view v;

	memset(&v, 0, sizeof(v));
	v.round = sqlite3_column_int64(st, 0);
	v.started_ms = sqlite3_column_int64(st, 1);
	v.kind = sqlite3_column_int(st, 2);
	store__text(st, 3, v.host_name, sizeof(v.host_name));
	v.mib = sqlite3_column_int64(st, 4);
	return e->cb(&v, e->ctx);
}

int store_signals_list(store *s, int64_t round, int kind, size_t limit,
		       int (*cb)(const store_signal_view *, void *),
		       void *ctx, char *err, size_t errlen)
{
	static const char sql[] =
		"SELECT * FROM (SELECT g.round, COALESCE(r.started_ms, 0),"
		" g.kind, COALESCE(h.name, ''), g.mib, g.seq"
		" FROM signals g LEFT JOIN rounds r ON r.round = g.round"
		" LEFT JOIN hosts h ON h.id = g.host_id"
		" WHERE (?1 = 0 OR g.round = ?1) AND (?2 = 0 OR g.kind = ?2)"
		" ORDER BY g.round DESC, g.seq DESC LIMIT ?3)"
		" ORDER BY 1, 6";
	struct signal_each e = { cb, ctx };
	sqlite3_stmt *st = prepare(s, sql);

	if (st) {
		sqlite3_bind_int64(st, 1, round);
		sqlite3_bind_int(st, 2, kind);
		sqlite3_bind_int64(st, 3, limit == 0 || limit > INT64_MAX
					  ? -1 : (int64_t)limit);
	}
	return store__each(s, st, signal_row, &e, "cannot read the signals",
			   err, errlen);
}

/* ---- the last round, recommendation counts, the data version ----------- */

static int round_row(sqlite3_stmt *st, void *ctx)
{
	store_round_info *r = ctx;

	r->round = sqlite3_column_int64(st, 0);
	r->started_ms = sqlite3_column_int64(st, 1);
	r->duration_ms = sqlite3_column_int64(st, 2);
	r->n_hosts = sqlite3_column_int64(st, 3);
	r->n_vms = sqlite3_column_int64(st, 4);
	r->n_recs = sqlite3_column_int64(st, 5);
	return 0;
}

int store_round_info_last(store *s, store_round_info *out, char *err,
			  size_t errlen)
{
	memset(out, 0, sizeof(*out));
	return store__each(s, prepare(s, "SELECT round, started_ms,"
				      " duration_ms, n_hosts, n_vms, n_recs"
				      " FROM rounds ORDER BY round DESC"
				      " LIMIT 1"),
			   round_row, out, "cannot read the last round", err,
			   errlen);
}

static int count_row(sqlite3_stmt *st, void *ctx)
{
	int64_t *out = ctx;
	int state = sqlite3_column_int(st, 0);

	if (state >= STORE_REC_PENDING && state <= STORE_REC_FAILED)
		out[state] = sqlite3_column_int64(st, 1);
	return 0;
}

int store_rec_counts(store *s, int64_t out[STORE_REC_FAILED + 1], char *err,
		     size_t errlen)
{
	memset(out, 0, sizeof(*out) * (STORE_REC_FAILED + 1));
	return store__each(s, prepare(s, "SELECT state, COUNT(*) FROM recs"
				      " GROUP BY state"),
			   count_row, out, "cannot count the recommendations",
			   err, errlen);
}

static int version_row(sqlite3_stmt *st, void *ctx)
{
	*(int64_t *)ctx = sqlite3_column_int64(st, 0);
	return 0;
}

int store_data_version(store *s, int64_t *out, char *err, size_t errlen)
{
	*out = 0;
	return store__each(s, prepare(s, "PRAGMA data_version"), version_row,
			   out, "cannot read the data version", err, errlen);
}

/* ---- recommendations by kind and state (the broker's /metrics) -------- */

static int kind_count_row(sqlite3_stmt *st, void *ctx)
{
	int64_t (*out)[STORE_REC_FAILED + 1] = ctx;
	int kind = sqlite3_column_int(st, 0);
	int state = sqlite3_column_int(st, 1);

	if ((kind == STORE_REC_RESIZE || kind == STORE_REC_MIGRATE) &&
	    state >= STORE_REC_PENDING && state <= STORE_REC_FAILED)
		out[kind][state] = sqlite3_column_int64(st, 2);
	return 0;
}

int store_rec_counts_by_kind(store *s,
			     int64_t out[STORE_REC_MIGRATE + 1]
					[STORE_REC_FAILED + 1],
			     char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out) * (STORE_REC_MIGRATE + 1));
	return store__each(s, prepare(s, "SELECT kind, state, COUNT(*) FROM "
				      "recs GROUP BY kind, state"),
			   kind_count_row, out, "cannot count the "
			   "recommendations", err, errlen);
}
