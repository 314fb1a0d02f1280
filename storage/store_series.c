/*
 * store_series.c - figures over a range of rounds (store.h, "series over
 * rounds"): each host's price and utilization and each VM's sample, round
 * by round, for `bourse plot`. Reads only; served by the primary keys of
 * prices and samples, which begin with the round.
 */
#include <stdio.h>
#include <string.h>

#include "store_internal.h"
#include "banned.h"

/* [from, to] with 0 meaning open: SQL bounds that always hold. */
static void bind_range(sqlite3_stmt *st, int64_t from, int64_t to)
{
	sqlite3_bind_int64(st, 1, from > 0 ? from : INT64_MIN);
	sqlite3_bind_int64(st, 2, to > 0 ? to : INT64_MAX);
}

static sqlite3_stmt *prepare_range(store *s, const char *sql, int64_t from,
				   int64_t to)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		sqlite3_finalize(st);
		return NULL;
	}
	bind_range(st, from, to);
	return st;
}

int store_series_rounds(store *s, int64_t from, int64_t to,
			store_series_span *out, char *err, size_t errlen)
{
	static const char sql[] =
		"SELECT COUNT(*), COALESCE(MIN(round), 0), COALESCE(MAX(round), 0),"
		" COALESCE(MIN(started_ms), 0), COALESCE(MAX(started_ms), 0)"
		" FROM rounds WHERE round BETWEEN ?1 AND ?2";
	sqlite3_stmt *st = prepare_range(s, sql, from, to);
	int rc = st ? sqlite3_step(st) : SQLITE_ERROR;

	memset(out, 0, sizeof(*out));
	if (rc != SQLITE_ROW) {
		store__dberr(s, err, errlen, "cannot read the rounds");
		sqlite3_finalize(st);
		return -1;
	}
	out->n_rounds = sqlite3_column_int64(st, 0);
	out->first = sqlite3_column_int64(st, 1);
	out->last = sqlite3_column_int64(st, 2);
	out->first_ms = sqlite3_column_int64(st, 3);
	out->last_ms = sqlite3_column_int64(st, 4);
	sqlite3_finalize(st);
	return 0;
}

struct host_each {
	int (*cb)(const store_host_point *, void *);
	void *ctx;
};

static int host_point_row(sqlite3_stmt *st, void *p)
{
	struct host_each *e = p;
	store_host_point pt;

	pt.round = sqlite3_column_int64(st, 0);
	pt.started_ms = sqlite3_column_int64(st, 1);
	store__text(st, 2, pt.host_name, sizeof(pt.host_name));
	pt.price = sqlite3_column_double(st, 3);
	pt.utilization = sqlite3_column_double(st, 4);
	pt.supply_mib = sqlite3_column_int64(st, 5);
	pt.awarded_mib = sqlite3_column_int64(st, 6);
	return e->cb(&pt, e->ctx);
}

int store_host_series(store *s, int64_t from, int64_t to,
		      int (*cb)(const store_host_point *, void *), void *ctx,
		      char *err, size_t errlen)
{
	static const char sql[] =
		"SELECT p.round, r.started_ms, COALESCE(h.name, ''), p.price,"
		" p.utilization, p.supply_mib, p.awarded_mib"
		" FROM prices p JOIN rounds r ON r.round = p.round"
		" LEFT JOIN hosts h ON h.id = p.host_id"
		" WHERE p.round BETWEEN ?1 AND ?2"
		" ORDER BY h.name, p.round";
	struct host_each e = { cb, ctx };

	return store__each(s, prepare_range(s, sql, from, to), host_point_row,
			   &e, "cannot list the hosts' prices over the rounds",
			   err, errlen);
}

struct vm_each {
	int (*cb)(const store_vm_point *, void *);
	void *ctx;
};

static int vm_point_row(sqlite3_stmt *st, void *p)
{
	struct vm_each *e = p;
	store_vm_point pt;

	pt.round = sqlite3_column_int64(st, 0);
	pt.started_ms = sqlite3_column_int64(st, 1);
	store__text(st, 2, pt.vm_name, sizeof(pt.vm_name));
	store__text(st, 3, pt.host_name, sizeof(pt.host_name));
	pt.demand_mib = sqlite3_column_int64(st, 4);
	pt.assigned_mib = sqlite3_column_int64(st, 5);
	pt.target_mib = sqlite3_column_int64(st, 6);
	return e->cb(&pt, e->ctx);
}

int store_vm_series(store *s, int64_t from, int64_t to,
		    int (*cb)(const store_vm_point *, void *), void *ctx,
		    char *err, size_t errlen)
{
	static const char sql[] =
		"SELECT sa.round, r.started_ms, COALESCE(v.name, ''),"
		" COALESCE(h.name, ''), sa.demand_mib, sa.assigned_mib,"
		" COALESCE(a.target_mib, 0)"
		" FROM samples sa JOIN rounds r ON r.round = sa.round"
		" LEFT JOIN vms v ON v.id = sa.vm_id"
		" LEFT JOIN hosts h ON h.id = sa.host_id"
		" LEFT JOIN allocations a ON a.round = sa.round"
		" AND a.vm_id = sa.vm_id"
		" WHERE sa.round BETWEEN ?1 AND ?2"
		" ORDER BY v.name, sa.round";
	struct vm_each e = { cb, ctx };

	return store__each(s, prepare_range(s, sql, from, to), vm_point_row,
			   &e, "cannot list the VMs' samples over the rounds",
			   err, errlen);
}
