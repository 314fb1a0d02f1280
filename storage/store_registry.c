/*
 * store_registry.c - hosts and VMs: upserts by name, state changes, and the
 * lists `bourse hosts` / `bourse vms` print, joined with the latest round.
 */
#include <stdio.h>
#include <string.h>

#include "store_internal.h"
#include "banned.h"

static const char *host_state_event(store_host_state st)
{
	switch (st) {
	case STORE_HOST_ONLINE: return "host.online";
	case STORE_HOST_LOST: return "host.lost";
	case STORE_HOST_GONE: return "host.gone";
	}
	return NULL;
}

/* Bind a char array of the caller's struct, terminated or not. */
static void bind_array(sqlite3_stmt *st, int idx, const char *a, size_t size)
{
	sqlite3_bind_text(st, idx, a, (int)strnlen(a, size), SQLITE_STATIC);
}

/* Run an upsert ... RETURNING id. */
static int step_id(sqlite3_stmt *st, uint32_t *id)
{
	int ok = sqlite3_step(st) == SQLITE_ROW;

	if (ok)
		*id = (uint32_t)sqlite3_column_int64(st, 0);
	/* the statement must run to completion for the write to count */
	if (ok && sqlite3_step(st) != SQLITE_DONE)
		ok = 0;
	sqlite3_reset(st);
	return ok ? 0 : -1;
}

int store_host_upsert(store *s, store_host_row *row, char *err, size_t errlen)
{
	sqlite3_stmt *st;

	if (store__writable(s, err, errlen) != 0)
		return -1;
	if (!host_state_event(row->state)) {
		util_err(err, errlen, "host '%s': bad state %d", row->name,
			 (int)row->state);
		return -1;
	}
	st = store__stmt(s, ST_HOST_UPSERT);
	bind_array(st, 1, row->name, sizeof(row->name));
	bind_array(st, 2, row->uri, sizeof(row->uri));
	sqlite3_bind_int64(st, 3, row->capacity_mib);
	sqlite3_bind_int64(st, 4, row->reserve_mib);
	sqlite3_bind_int(st, 5, (int)row->state);
	sqlite3_bind_int64(st, 6, row->first_seen_ms ? row->first_seen_ms
						     : row->last_seen_ms);
	sqlite3_bind_int64(st, 7, row->last_seen_ms);
	if (step_id(st, &row->id) == 0)
		return 0;
	store__dberr(s, err, errlen, "cannot save host '%s'", row->name);
	return -1;
}

int store_vm_upsert(store *s, store_vm_row *row, char *err, size_t errlen)
{
	sqlite3_stmt *st;

	if (store__writable(s, err, errlen) != 0)
		return -1;
	if (row->state < STORE_VM_ACTIVE || row->state > STORE_VM_GONE)
		return util_err(err, errlen, "VM '%s': bad state %d", row->name,
				(int)row->state);
	st = store__stmt(s, ST_VM_UPSERT);
	bind_array(st, 1, row->name, sizeof(row->name));
	sqlite3_bind_int64(st, 2, row->host_id);
	sqlite3_bind_int64(st, 3, row->startup_mib);
	sqlite3_bind_int64(st, 4, row->minimum_mib);
	sqlite3_bind_int64(st, 5, row->maximum_mib);
	sqlite3_bind_int64(st, 6, row->buffer_pct);
	sqlite3_bind_int64(st, 7, row->weight);
	sqlite3_bind_int64(st, 8, row->reservation_mib);
	sqlite3_bind_int64(st, 9, row->limit_mib);
	sqlite3_bind_int64(st, 10, row->shares);
	sqlite3_bind_int(st, 11, (int)row->state);
	sqlite3_bind_int64(st, 12, row->first_seen_ms ? row->first_seen_ms
						      : row->last_seen_ms);
	sqlite3_bind_int64(st, 13, row->last_seen_ms);
	if (row->last_migrated_round != INT64_MIN)
		sqlite3_bind_int64(st, 14, row->last_migrated_round);
	if (step_id(st, &row->id) == 0)
		return 0;
	if (sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_FOREIGNKEY)
		util_err(err, errlen, "cannot save VM '%s': no host %u",
			 row->name, row->host_id);
	else
		store__dberr(s, err, errlen, "cannot save VM '%s'", row->name);
	return -1;
}

/* Within the transaction of store_host_set_state(). */
static int host_set_state(store *s, uint32_t host_id, store_host_state st,
			  int64_t now_ms, char *err, size_t errlen)
{
	sqlite3_stmt *q = store__stmt(s, ST_HOST_GET_NAME);
	char name[STORE_NAME_MAX];
	int was, rc;

	sqlite3_bind_int64(q, 1, host_id);
	rc = sqlite3_step(q);
	if (rc != SQLITE_ROW) {
		if (rc == SQLITE_DONE)
			util_err(err, errlen, "no host %u", host_id);
		else
			store__dberr(s, err, errlen, "cannot read host %u",
				     host_id);
		sqlite3_reset(q);
		return -1;
	}
	store__text(q, 0, name, sizeof(name));
	was = sqlite3_column_int(q, 1);
	sqlite3_reset(q);

	q = store__stmt(s, ST_HOST_SET_STATE);
	sqlite3_bind_int64(q, 1, host_id);
	sqlite3_bind_int(q, 2, (int)st);
	if (sqlite3_step(q) != SQLITE_DONE)
		goto fail;
	sqlite3_reset(q);
	if (st == STORE_HOST_LOST || st == STORE_HOST_ONLINE) {
		int from = st == STORE_HOST_LOST ? STORE_VM_ACTIVE : STORE_VM_LOST;
		int to = st == STORE_HOST_LOST ? STORE_VM_LOST : STORE_VM_ACTIVE;

		q = store__stmt(s, ST_VMS_SET_STATE_BY_HOST);
		sqlite3_bind_int64(q, 1, host_id);
		sqlite3_bind_int(q, 2, from);
		sqlite3_bind_int(q, 3, to);
		if (sqlite3_step(q) != SQLITE_DONE)
			goto fail;
	}
	sqlite3_reset(q);
	/* the VMs are written anyway: a registration upsert sets the host's
	 * state without them */
	if (was == (int)st)
		return 0;
	return store__audit(s, "broker", host_state_event(st), 0, name, now_ms,
			    err, errlen);
fail:
	store__dberr(s, err, errlen, "cannot set the state of host '%s'", name);
	sqlite3_reset(q);
	return -1;
}

int store_host_set_state(store *s, uint32_t host_id, store_host_state st,
			 int64_t now_ms, char *err, size_t errlen)
{
	if (store__writable(s, err, errlen) != 0)
		return -1;
	if (!host_state_event(st)) {
		util_err(err, errlen, "host %u: bad state %d", host_id, (int)st);
		return -1;
	}
	if (store__begin(s, err, errlen) != 0)
		return -1;
	if (host_set_state(s, host_id, st, now_ms, err, errlen) != 0 ||
	    store__commit(s, err, errlen) != 0) {
		store__rollback(s);
		return -1;
	}
	return 0;
}

int store_vm_set_last_migrated(store *s, uint32_t vm_id, int64_t round,
			       char *err, size_t errlen)
{
	sqlite3_stmt *q = NULL;
	int rc;

	if (store__writable(s, err, errlen) != 0)
		return -1;
	if (sqlite3_prepare_v2(s->db, "UPDATE vms SET last_migrated_round = ?1"
			       " WHERE id = ?2", -1, &q, NULL) != SQLITE_OK) {
		store__dberr(s, err, errlen, "cannot prepare the migration "
			     "round of VM %u", vm_id);
		return -1;
	}
	sqlite3_bind_int64(q, 1, round);
	sqlite3_bind_int64(q, 2, vm_id);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE) {
		store__dberr(s, err, errlen, "cannot set the migration round of "
			     "VM %u", vm_id);
		return -1;
	}
	return 0;
}

int store_vm_set_state(store *s, uint32_t vm_id, store_vm_state st,
		       char *err, size_t errlen)
{
	sqlite3_stmt *q;

	if (store__writable(s, err, errlen) != 0)
		return -1;
	if (st < STORE_VM_ACTIVE || st > STORE_VM_GONE) {
		util_err(err, errlen, "VM %u: bad state %d", vm_id, (int)st);
		return -1;
	}
	q = store__stmt(s, ST_VM_SET_STATE);
	sqlite3_bind_int64(q, 1, vm_id);
	sqlite3_bind_int(q, 2, (int)st);
	if (sqlite3_step(q) != SQLITE_DONE) {
		store__dberr(s, err, errlen, "cannot set the state of VM %u",
			     vm_id);
		sqlite3_reset(q);
		return -1;
	}
	sqlite3_reset(q);
	if (sqlite3_changes(s->db) == 0)
		return util_err(err, errlen, "no VM %u", vm_id);
	return 0;
}

/* ---- lists -------------------------------------------------------------- */

/* The list queries are prepared per call rather than cached: a callback may
 * then call any other store function, even the same list. */

static const char hosts_sql[] =
	"WITH last AS (SELECT MAX(round) AS r FROM rounds),"
	" counts AS (SELECT host_id, COUNT(*) AS n FROM samples"
	"  WHERE round = (SELECT r FROM last) GROUP BY host_id)"
	" SELECT h.id, h.name, h.uri, h.capacity_mib, h.reserve_mib, h.state,"
	" h.first_seen_ms, h.last_seen_ms, COALESCE(p.price, 0),"
	" COALESCE(p.utilization, 0), COALESCE(p.awarded_mib, 0),"
	" COALESCE(c.n, 0)"
	" FROM hosts h"
	" LEFT JOIN prices p ON p.round = (SELECT r FROM last)"
	"  AND p.host_id = h.id"
	" LEFT JOIN counts c ON c.host_id = h.id"
	" ORDER BY h.name";

static void host_read(sqlite3_stmt *st, store_host_row *h)
{
	memset(h, 0, sizeof(*h));
	h->id = (uint32_t)sqlite3_column_int64(st, 0);
	store__text(st, 1, h->name, sizeof(h->name));
	store__text(st, 2, h->uri, sizeof(h->uri));
	h->capacity_mib = sqlite3_column_int64(st, 3);
	h->reserve_mib = sqlite3_column_int64(st, 4);
	h->state = (store_host_state)sqlite3_column_int(st, 5);
	h->first_seen_ms = sqlite3_column_int64(st, 6);
	h->last_seen_ms = sqlite3_column_int64(st, 7);
	h->price = sqlite3_column_double(st, 8);
	h->utilization = sqlite3_column_double(st, 9);
	h->awarded_mib = sqlite3_column_int64(st, 10);
	h->n_vms = (uint32_t)sqlite3_column_int64(st, 11);
}

static const char vms_sql[] =
	"WITH last AS (SELECT MAX(round) AS r FROM rounds)"
	" SELECT v.id, v.name, v.host_id, COALESCE(h.name, ''), v.startup_mib,"
	" v.minimum_mib, v.maximum_mib, v.buffer_pct, v.weight,"
	" v.reservation_mib, v.limit_mib, v.shares, v.state, v.first_seen_ms,"
	" v.last_seen_ms, v.last_migrated_round, COALESCE(sa.demand_mib, 0),"
	" COALESCE(sa.assigned_mib, 0), COALESCE(a.target_mib, 0),"
	" COALESCE(a.pressure, 0)"
	" FROM vms v LEFT JOIN hosts h ON h.id = v.host_id"
	" LEFT JOIN samples sa ON sa.round = (SELECT r FROM last)"
	"  AND sa.vm_id = v.id"
	" LEFT JOIN allocations a ON a.round = (SELECT r FROM last)"
	"  AND a.vm_id = v.id"
	" ORDER BY v.name";

static void vm_read(sqlite3_stmt *st, store_vm_row *v)
{
	memset(v, 0, sizeof(*v));
	v->id = (uint32_t)sqlite3_column_int64(st, 0);
	store__text(st, 1, v->name, sizeof(v->name));
	v->host_id = (uint32_t)sqlite3_column_int64(st, 2);
	store__text(st, 3, v->host_name, sizeof(v->host_name));
	v->startup_mib = sqlite3_column_int64(st, 4);
	v->minimum_mib = sqlite3_column_int64(st, 5);
	v->maximum_mib = sqlite3_column_int64(st, 6);
	v->buffer_pct = (uint32_t)sqlite3_column_int64(st, 7);
	v->weight = (uint32_t)sqlite3_column_int64(st, 8);
	v->reservation_mib = sqlite3_column_int64(st, 9);
	v->limit_mib = sqlite3_column_int64(st, 10);
	v->shares = (uint32_t)sqlite3_column_int64(st, 11);
	v->state = (store_vm_state)sqlite3_column_int(st, 12);
	v->first_seen_ms = sqlite3_column_int64(st, 13);
	v->last_seen_ms = sqlite3_column_int64(st, 14);
	v->last_migrated_round = sqlite3_column_type(st, 15) == SQLITE_NULL
					 ? INT64_MIN
					 : sqlite3_column_int64(st, 15);
	v->demand_mib = sqlite3_column_int64(st, 16);
	v->assigned_mib = sqlite3_column_int64(st, 17);
	v->target_mib = sqlite3_column_int64(st, 18);
	v->pressure = sqlite3_column_double(st, 19);
}

struct host_each {
	int (*cb)(const store_host_row *, void *);
	void *ctx;
};

static int host_each_row(sqlite3_stmt *st, void *p)
{
	struct host_each *e = p;
	store_host_row row;

	host_read(st, &row);
	return e->cb(&row, e->ctx);
}

int store_hosts_list(store *s, int (*cb)(const store_host_row *, void *),
		     void *ctx, char *err, size_t errlen)
{
	struct host_each e = { cb, ctx };
	sqlite3_stmt *st = NULL;

	sqlite3_prepare_v2(s->db, hosts_sql, -1, &st, NULL);
	return store__each(s, st, host_each_row, &e, "cannot list the hosts",
			   err, errlen);
}

struct vm_each {
	int (*cb)(const store_vm_row *, void *);
	void *ctx;
};

static int vm_each_row(sqlite3_stmt *st, void *p)
{
	struct vm_each *e = p;
	store_vm_row row;

	vm_read(st, &row);
	return e->cb(&row, e->ctx);
}

int store_vms_list(store *s, int (*cb)(const store_vm_row *, void *),
		   void *ctx, char *err, size_t errlen)
{
	struct vm_each e = { cb, ctx };
	sqlite3_stmt *st = NULL;

	sqlite3_prepare_v2(s->db, vms_sql, -1, &st, NULL);
	return store__each(s, st, vm_each_row, &e, "cannot list the VMs", err,
			   errlen);
}
