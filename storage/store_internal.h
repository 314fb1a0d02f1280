/*
 * store_internal.h - what the storage files share and nothing else sees:
 * the handle, its cache of prepared statements, and small helpers.
 *
 * store.c opens the file, runs the migrations and prepares every cached
 * statement; store_registry.c (hosts, VMs), store_round.c (rounds, prices,
 * pending-rec upkeep) and store_recs.c (the state machine, recs, audit) use
 * them. Internal names start with store__ (libuv's uv__ convention).
 */
#ifndef BOURSE_STORE_INTERNAL_H
#define BOURSE_STORE_INTERNAL_H

#include <sqlite3.h>

#include "store.h"
#include "util.h"

/* Cached statements, prepared once by store_open() (SQL in store.c). */
enum store_stmt {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	/* registry */
	ST_HOST_UPSERT,
	ST_VM_UPSERT,
	ST_HOST_GET_NAME,
	ST_HOST_SET_STATE,
	ST_VMS_SET_STATE_BY_HOST,
	ST_VM_SET_STATE,
	/* rounds */
	ST_ROUND_LAST,
	ST_ROUND_INSERT,
	ST_PRICE_INSERT,
	ST_PRICE_INSERT_N,  /* STORE_BATCH rows at once */
	ST_HOST_SEEN,
	ST_SAMPLE_INSERT,
	ST_SAMPLE_INSERT_N,
	ST_ALLOC_INSERT,
	ST_ALLOC_INSERT_N,
	ST_SIGNAL_INSERT,
	ST_REC_INSERT,
	ST_REC_FIND_SAME,
	ST_REC_REFRESH,
	ST_REC_TOUCH,
	ST_AUDIT_SUPERSEDE,
	ST_REC_SUPERSEDE,
	ST_REC_STALE,
	ST_REC_EXPIRE,
	ST_RETAIN_CUTOFF,
	ST_RETAIN_SAMPLES,
	ST_RETAIN_ALLOCS,
	ST_RETAIN_PRICES,
	ST_ROUND_STARTED,
	/* recommendations and audit */
	ST_REC_STATE,
	ST_REC_SET_STATE,
	ST_REC_SET_WAIT,
	ST_REC_NEWEST_OPEN,
	ST_CONTROL_MODES,
	ST_REC_GET,
	ST_AUDIT_INSERT,
	ST_REC_VM_BUSY,
	ST_COUNT
};

/* Rows per execution of the *_INSERT_N statements. A round's prices,
 * samples and allocations are written STORE_BATCH at a time: with one
 * execution per row, SQLite's per-execution work (opening and closing the
 * cursor, halt, reset) was about half of what those inserts cost, and they
 * are most of a 10,000-VM round (bench/bench_store.c). */
#define STORE_BATCH 32

struct store {
	sqlite3 *db;
	char *path;   /* as given to store_open(), for messages */
	int readonly; /* opened with STORE_READONLY */
	int version;  /* PRAGMA user_version once open */
	sqlite3_stmt *st[ST_COUNT]; /* prepared by store_open() */
	/* faults (store.h, "when the file fails"): set by store__dberr() */
	int busy_ms;       /* the lock wait, for messages */
	store_fault fault; /* of the last failure */
	uint64_t faults;   /* failures for a fault since open */
	int held;          /* refuse writes until store_retry() */
	char fault_msg[STORE_TEXT_MAX]; /* what the fault that held it said */
};

/* The columns of a store_rec, in the order store__rec_read() reads them
 * (followed by FROM/JOIN clauses by the user). */
#define STORE_REC_SELECT                                                    \
	"SELECT r.id, r.round, COALESCE(r.last_round, r.round), r.created_ms," \
	" r.updated_ms, r.kind, r.state, r.vm_id, COALESCE(v.name, '')," \
	" COALESCE(hf.name, ''), COALESCE(ht.name, ''), r.from_mib, r.to_mib," \
	" r.price_here, r.price_there, r.cost_here, r.cost_there," \
	" r.demand_mib, r.want_mib, r.pressure_before, r.pressure_after," \
	" r.budget, r.why, r.state_reason, COALESCE(r.superseded_by, 0)," \
	" r.wait_reason, r.wait_round" \
	" FROM recs r LEFT JOIN vms v ON v.id = r.vm_id" \
	" LEFT JOIN hosts hf ON hf.id = r.from_host_id" \
	" LEFT JOIN hosts ht ON ht.id = r.to_host_id"

/* "<what>: <sqlite's message for the handle>" into err, and the fault it
 * is (if any) recorded in s, holding its writes (store_retry()). Call
 * before any ROLLBACK, which would replace sqlite's message. */
void store__dberr(store *s, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* A cached statement, reset and with its bindings cleared. */
sqlite3_stmt *store__stmt(store *s, enum store_stmt which);

/* Every public write starts here: fails with a message if s was opened
 * read-only or its writes are held after a fault; clears the last fault. */
int store__writable(store *s, char *err, size_t errlen);

/* BEGIN IMMEDIATE (waits up to STORE_BUSY_MS for other writers), COMMIT,
 * ROLLBACK (never fails; a no-op outside a transaction). */
int store__begin(store *s, char *err, size_t errlen);
int store__commit(store *s, char *err, size_t errlen);
void store__rollback(store *s);

/* Copy column col of the current row into buf (always terminated). */
void store__text(sqlite3_stmt *st, int col, char *buf, size_t size);

/* Bind text, NULL as the empty string (SQLITE_STATIC: the caller keeps it
 * alive until the statement is reset). */
void store__bind_text(sqlite3_stmt *st, int idx, const char *text);

/* Step st (prepared and bound by the caller; NULL if the prepare failed)
 * to its end, calling row(st, ctx) on each row, and finalize it. Returns 0;
 * or -1 with "<what>: <sqlite's message>" if a step (or the prepare)
 * failed, or "the listing was stopped by its callback" if row returned
 * non-zero. The list functions' one loop. */
int store__each(store *s, sqlite3_stmt *st,
		int (*row)(sqlite3_stmt *st, void *ctx), void *ctx,
		const char *what, char *err, size_t errlen);

/* Read a row of STORE_REC_SELECT into out. */
void store__rec_read(sqlite3_stmt *st, store_rec *out);

/* Shadow scoring (store_score.c): score the recommendations whose last
 * round is round - window on the samples of the window's rounds (inside
 * the round's transaction). window 0: nothing. */
int store__score_round(store *s, int64_t round, int64_t window, char *err,
		       size_t errlen);

/* Insert one audit row (no transaction of its own). */
int store__audit(store *s, const char *actor, const char *event,
		 int64_t rec_id, const char *detail, int64_t now_ms, char *err,
		 size_t errlen);

#endif
