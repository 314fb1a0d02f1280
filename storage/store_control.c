/*
 * store_control.c - the control row: the mode per kind of action and the
 * kill switch (schema v3, table control). The CLI writes it, the broker
 * reads it every round, so a change takes effect at the next round and
 * survives restarts. Every change is audited. Also the per-VM reads the
 * broker's dispatcher needs (store_vm_last_action_ms()).
 */
#include <stdio.h>
#include <string.h>

#include "store_internal.h"
#include "banned.h"

static const char *const mode_names[] = { "recommend", "manual", "automated" };
static const char *const action_names[STORE_N_ACTS] = {
	[STORE_ACT_RESIZE_UP] = "resize-up",
	[STORE_ACT_RESIZE_DOWN] = "resize-down",
	[STORE_ACT_MIGRATE] = "migrate",
};
/* the control table's column for each action kind */
static const char *const action_cols[STORE_N_ACTS] = {
	[STORE_ACT_RESIZE_UP] = "mode_resize_up",
	[STORE_ACT_RESIZE_DOWN] = "mode_resize_down",
	[STORE_ACT_MIGRATE] = "mode_migrate",
};

#define N_MODES (sizeof(mode_names) / sizeof(mode_names[0]))

const char *store_mode_name(store_mode m)
{
	return (unsigned)m < N_MODES ? mode_names[m] : "?";
}

int store_mode_parse(const char *name, store_mode *out)
{
	for (size_t i = 0; i < N_MODES; i++)
		if (name && !strcmp(name, mode_names[i])) {
			*out = (store_mode)i;
			return 0;
		}
	return -1;
}

const char *store_action_name(store_action a)
{
	return (unsigned)a < STORE_N_ACTS ? action_names[a] : "?";
}

int store_action_parse(const char *name, store_action *out)
{
	for (int i = 0; i < STORE_N_ACTS; i++)
		if (name && !strcmp(name, action_names[i])) {
			*out = (store_action)i;
			return 0;
		}
	return -1;
}

int store_control_get(store *s, store_control *out, char *err,
		      size_t errlen)
{
	static const char sql[] =
		"SELECT mode_resize_up, mode_resize_down, mode_migrate, paused,"
		" pause_reason, updated_ms, updated_by FROM control WHERE id = 1";
	sqlite3_stmt *st = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		store__dberr(s, err, errlen, "reading the control row");
		return -1;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		for (int i = 0; i < STORE_N_ACTS; i++)
			out->mode[i] = (store_mode)sqlite3_column_int(st, i);
		out->paused = sqlite3_column_int(st, 3);
		store__text(st, 4, out->pause_reason, sizeof(out->pause_reason));
		out->updated_ms = sqlite3_column_int64(st, 5);
		store__text(st, 6, out->updated_by, sizeof(out->updated_by));
	} else if (rc != SQLITE_DONE) {
		store__dberr(s, err, errlen, "reading the control row");
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	return 0;
}

/* The approved recs of one kind of action, as an SQL condition. */
static const char *const action_recs[STORE_N_ACTS] = {
	[STORE_ACT_RESIZE_UP] = "kind = 1 AND to_mib > from_mib",
	[STORE_ACT_RESIZE_DOWN] = "kind = 1 AND to_mib <= from_mib",
	[STORE_ACT_MIGRATE] = "kind = 2",
};

/* Run one statement with ?1 int, ?2 now, ?3 actor, ?4 text (a statement
 * without some of them ignores them: sqlite3_bind_* answers SQLITE_RANGE
 * and binds nothing). Returns the rows changed, or -1. */
static int exec_bound(store *s, const char *sql, int bind_int, int64_t now_ms,
		      const char *actor, const char *bind_text)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int(st, 1, bind_int);
	sqlite3_bind_int64(st, 2, now_ms);
	store__bind_text(st, 3, actor);
	store__bind_text(st, 4, bind_text);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? sqlite3_changes(s->db) : -1;
}

/* Withdraw the approved recs of act (inside the transaction): audited as
 * rec.cancelled, then rejected. Returns how many, or -1. */
static int withdraw(store *s, store_action act, const char *actor,
		    int64_t now_ms)
{
	char audit[320], update[320], why[128];

	snprintf(why, sizeof(why), "approval withdrawn: %s set to recommend "
		 "mode by %s", action_names[act], actor ? actor : "");
	snprintf(audit, sizeof(audit), "INSERT INTO audit (ts_ms, actor, event,"
		 " rec_id, detail) SELECT ?2, ?3, 'rec.cancelled', id, ?4 FROM"
		 " recs WHERE state = 2 AND %s", action_recs[act]);
	snprintf(update, sizeof(update), "UPDATE recs SET state = 3,"
		 " state_reason = ?4, updated_ms = ?2, wait_reason = ''"
		 " WHERE state = 2 AND %s", action_recs[act]);
	if (exec_bound(s, audit, 0, now_ms, actor, why) < 0)
		return -1;
	return exec_bound(s, update, 0, now_ms, actor, why);
}

/* Run one UPDATE of the control row with its audit entry, in a transaction
 * (?1 int, ?2 now, ?3 actor, ?4 text); with withdraw_act < STORE_N_ACTS,
 * also withdraw that kind's approvals, *withdrawn of them. */
static int control_write(store *s, const char *sql, const char *actor,
			 const char *event, const char *detail, int64_t now_ms,
			 int bind_int, const char *bind_text,
			 int withdraw_act, int *withdrawn, char *err,
			 size_t errlen)
{
	int n = 0;

	if (store__writable(s, err, errlen) || store__begin(s, err, errlen))
		return -1;
	if (exec_bound(s, sql, bind_int, now_ms, actor, bind_text) < 0 ||
	    (withdraw_act < STORE_N_ACTS &&
	     (n = withdraw(s, (store_action)withdraw_act, actor, now_ms)) < 0))
		goto fail;
	if (store__audit(s, actor, event, 0, detail, now_ms, err, errlen) ||
	    store__commit(s, err, errlen)) {
		store__rollback(s);
		return -1;
	}
	if (withdrawn)
		*withdrawn = n;
	return 0;
fail:
	store__dberr(s, err, errlen, "writing the control row");
	store__rollback(s);
	return -1;
}

static int mode_set_one(store *s, store_action act, store_mode m,
			store_mode was, const char *actor, int64_t now_ms,
			int *withdrawn, char *err, size_t errlen)
{
	char sql[160], detail[96];

	snprintf(sql, sizeof(sql), "UPDATE control SET %s = ?1, updated_ms = "
		 "?2, updated_by = ?3 WHERE id = 1", action_cols[act]);
	snprintf(detail, sizeof(detail), "%s: %s -> %s", action_names[act],
		 store_mode_name(was), store_mode_name(m));
	return control_write(s, sql, actor, "mode.set", detail, now_ms, (int)m,
			     "", m == STORE_MODE_RECOMMEND ? (int)act
			     : STORE_N_ACTS, withdrawn, err, errlen);
}

int store_mode_set(store *s, store_action act, store_mode m,
		   const char *actor, int64_t now_ms, uint32_t *withdrawn,
		   char *err, size_t errlen)
{
	store_control c;
	int n;

	if (withdrawn)
		*withdrawn = 0;
	if ((unsigned)m >= N_MODES || (unsigned)act > STORE_N_ACTS)
		return util_err(err, errlen, "no such mode or action kind");
	if (store_control_get(s, &c, err, errlen))
		return -1;
	for (int i = 0; i < STORE_N_ACTS; i++) {
		if (act != STORE_N_ACTS && i != (int)act)
			continue;
		if (mode_set_one(s, (store_action)i, m, c.mode[i], actor,
				 now_ms, &n, err, errlen))
			return -1;
		if (withdrawn)
			*withdrawn += (uint32_t)n;
	}
	return 0;
}

int store_pause_set(store *s, int paused, const char *actor,
		    const char *reason, int64_t now_ms, char *err,
		    size_t errlen)
{
	static const char sql[] =
		"UPDATE control SET paused = ?1, updated_ms = ?2,"
		" updated_by = ?3, pause_reason = ?4 WHERE id = 1";

	return control_write(s, sql, actor,
			     paused ? "dispatch.paused" : "dispatch.resumed",
			     reason ? reason : "", now_ms, paused ? 1 : 0,
			     paused && reason ? reason : "", STORE_N_ACTS, NULL,
			     err, errlen);
}

int store_vm_last_action_ms(store *s, uint32_t vm_id, int64_t *ms, char *err,
			    size_t errlen)
{
	static const char sql[] =
		"SELECT COALESCE(MAX(updated_ms), 0) FROM recs"
		" WHERE vm_id = ?1 AND state IN (6, 7, 8)";
	sqlite3_stmt *st = NULL;
	int rc;

	_Static_assert(STORE_REC_DISPATCHED == 6 && STORE_REC_SUCCEEDED == 7 &&
		       STORE_REC_FAILED == 8, "the states in the query");
	*ms = 0;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		store__dberr(s, err, errlen, "reading VM %u's last action", vm_id);
		return -1;
	}
	sqlite3_bind_int64(st, 1, vm_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*ms = sqlite3_column_int64(st, 0);
	else
		store__dberr(s, err, errlen, "reading VM %u's last action", vm_id);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}
