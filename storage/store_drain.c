/*
 * store_drain.c - host maintenance (schema v8, table host_drain): which
 * hosts are draining, since when, by whom and why. The CLI writes it
 * (`bourse host drain|undrain`), the broker reads it every round (a
 * draining host is no migration target and its VMs are moved off:
 * docs/market.md, "Draining a host"). Every change is audited.
 */
#include <stdio.h>
#include <string.h>

#include "store_internal.h"
#include "banned.h"

/* The host's id by name, or 0 if there is none; -1 on a read error. */
static int64_t host_id_of(store *s, const char *host, char *err,
			  size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int64_t id = -1;
	int rc;

	if (sqlite3_prepare_v2(s->db, "SELECT id FROM hosts WHERE name = ?1",
			       -1, &st, NULL) != SQLITE_OK) {
		store__dberr(s, err, errlen, "cannot look up host %s", host);
		sqlite3_finalize(st);
		return -1;
	}
	store__bind_text(st, 1, host);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	else if (rc == SQLITE_DONE)
		id = 0;
	else
		store__dberr(s, err, errlen, "cannot look up host %s", host);
	sqlite3_finalize(st);
	return id;
}

/* Run sql with ?1 host id, ?2 now, ?3 actor, ?4 reason; the rows it
 * changed, or -1. */
static int drain_exec(store *s, const char *sql, int64_t id, int64_t now_ms,
		      const char *actor, const char *reason)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, now_ms);
	store__bind_text(st, 3, actor);
	store__bind_text(st, 4, reason);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? sqlite3_changes(s->db) : -1;
}

int store_host_drain_set(store *s, const char *host, int draining,
			 const char *actor, const char *reason, int64_t now_ms,
			 int *changed, char *err, size_t errlen)
{
	static const char drain_sql[] =
		"INSERT INTO host_drain (host_id, since_ms, actor, reason)"
		" VALUES (?1, ?2, ?3, ?4) ON CONFLICT (host_id) DO NOTHING";
	static const char undrain_sql[] =
		"DELETE FROM host_drain WHERE host_id = ?1";
	char detail[STORE_TEXT_MAX + STORE_NAME_MAX + 4];
	int64_t id;
	int n;

	if (changed)
		*changed = 0;
	if (!host || !host[0])
		return util_err(err, errlen, "no host named");
	if (store__writable(s, err, errlen) || store__begin(s, err, errlen))
		return -1;
	id = host_id_of(s, host, err, errlen);
	if (id <= 0) {
		if (id == 0)
			util_err(err, errlen, "no host named '%s' in the "
				 "database (see 'bourse hosts')", host);
		store__rollback(s);
		return -1;
	}
	n = drain_exec(s, draining ? drain_sql : undrain_sql, id, now_ms,
		       actor, reason ? reason : "");
	if (n < 0) {
		store__dberr(s, err, errlen, "cannot %s host %s",
			     draining ? "drain" : "undrain", host);
		store__rollback(s);
		return -1;
	}
	if (reason && reason[0])
		snprintf(detail, sizeof(detail), "%s: %s", host, reason);
	else
		snprintf(detail, sizeof(detail), "%s", host);
	if ((n > 0 && store__audit(s, actor, draining ? "host.drain"
						      : "host.undrain",
				   0, detail, now_ms, err, errlen)) ||
	    store__commit(s, err, errlen)) {
		store__rollback(s);
		return -1;
	}
	if (changed)
		*changed = n > 0;
	return 0;
}

struct drain_each {
	int (*cb)(const store_host_drain *, void *);
	void *ctx;
};

static int drain_row(sqlite3_stmt *st, void *ctx)
{
	struct drain_each *e = ctx;
	store_host_drain d;

	memset(&d, 0, sizeof(d));
	d.host_id = (uint32_t)sqlite3_column_int64(st, 0);
	store__text(st, 1, d.host_name, sizeof(d.host_name));
	d.since_ms = sqlite3_column_int64(st, 2);
	store__text(st, 3, d.actor, sizeof(d.actor));
	store__text(st, 4, d.reason, sizeof(d.reason));
	return e->cb(&d, e->ctx);
}

int store_host_drains_list(store *s,
			   int (*cb)(const store_host_drain *, void *),
			   void *ctx, char *err, size_t errlen)
{
	static const char sql[] =
		"SELECT d.host_id, COALESCE(h.name, ''), d.since_ms, d.actor,"
		" d.reason FROM host_drain d LEFT JOIN hosts h"
		" ON h.id = d.host_id ORDER BY d.host_id";
	struct drain_each e = { cb, ctx };
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		sqlite3_finalize(st);
		st = NULL;
	}
	return store__each(s, st, drain_row, &e,
			   "cannot read the draining hosts", err, errlen);
}
