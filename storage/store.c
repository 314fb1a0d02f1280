/*
 * store.c - opening the database: pragmas, the schema and its migrations,
 * the cache of prepared statements, and the helpers the other storage files
 * files share (store_internal.h).
 *
 * Every SQL text of the store is in this file or next to the one function
 * that runs it, and every cached statement is prepared at open, so a bad
 * statement fails the open rather than a round (docs/storage.md).
 */
#include <fcntl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "store_internal.h"
#include "banned.h"

/* ---- the schema --------------------------------------------------------- */

/* Version 1: the first schema bourse wrote. Samples, allocations and prices
 * are keyed (round, id) WITHOUT ROWID: one b-tree each, written in key
 * order, and "everything of round N" is a key range. They declare no
 * foreign keys: SQLite looks every parent up on each insert and on each
 * delete, which nearly doubled a 10,000-VM round write with retention
 * (36 ms against 19 ms); the round row is written first in the same
 * transaction, and the ids come from the registry (docs/storage.md). */
static const char schema_v1[] =
	"CREATE TABLE hosts ("
	" id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL UNIQUE,"
	" uri TEXT NOT NULL DEFAULT '',"
	" capacity_mib INTEGER NOT NULL,"
	" reserve_mib INTEGER NOT NULL,"
	" state INTEGER NOT NULL CHECK (state IN (1, 2, 3)),"
	" first_seen_ms INTEGER NOT NULL,"
	" last_seen_ms INTEGER NOT NULL);"
	"CREATE TABLE vms ("
	" id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL UNIQUE,"
	" host_id INTEGER NOT NULL REFERENCES hosts(id),"
	" startup_mib INTEGER NOT NULL,"
	" minimum_mib INTEGER NOT NULL,"
	" maximum_mib INTEGER NOT NULL,"
	" buffer_pct INTEGER NOT NULL,"
	" weight INTEGER NOT NULL,"
	" reservation_mib INTEGER NOT NULL,"
	" limit_mib INTEGER NOT NULL,"
	" shares INTEGER NOT NULL,"
	" state INTEGER NOT NULL CHECK (state IN (1, 2, 3)),"
	" first_seen_ms INTEGER NOT NULL,"
	" last_seen_ms INTEGER NOT NULL,"
	" last_migrated_round INTEGER);" /* NULL: never */
	"CREATE TABLE rounds ("
	" round INTEGER PRIMARY KEY,"
	" started_ms INTEGER NOT NULL,"
	" duration_ms INTEGER NOT NULL,"
	" n_hosts INTEGER NOT NULL,"
	" n_vms INTEGER NOT NULL,"
	" n_recs INTEGER NOT NULL,"
	" msgs_in INTEGER NOT NULL,"
	" msgs_dropped INTEGER NOT NULL);"
	"CREATE TABLE prices ("
	" round INTEGER NOT NULL,"
	" host_id INTEGER NOT NULL,"
	" supply_mib INTEGER NOT NULL,"
	" wanted_mib INTEGER NOT NULL,"
	" floor_mib INTEGER NOT NULL,"
	" awarded_mib INTEGER NOT NULL,"
	" utilization REAL NOT NULL,"
	" balloon_pressure REAL NOT NULL,"
	" swap_pressure REAL NOT NULL,"
	" price REAL NOT NULL,"
	" clearing_price REAL NOT NULL,"
	" shortage INTEGER NOT NULL,"
	" infeasible INTEGER NOT NULL,"
	" free_mib INTEGER NOT NULL,"
	" balloon_mib INTEGER NOT NULL,"
	" host_swap_mibps REAL NOT NULL,"
	" PRIMARY KEY (round, host_id)) WITHOUT ROWID;"
	"CREATE TABLE samples ("
	" round INTEGER NOT NULL,"
	" vm_id INTEGER NOT NULL,"
	" host_id INTEGER NOT NULL,"
	" demand_mib INTEGER NOT NULL,"
	" assigned_mib INTEGER NOT NULL,"
	" guest_swap_mibps REAL NOT NULL,"
	" balloon_mib INTEGER NOT NULL,"
	" reported_pressure REAL NOT NULL,"
	" PRIMARY KEY (round, vm_id)) WITHOUT ROWID;"
	"CREATE TABLE allocations ("
	" round INTEGER NOT NULL,"
	" vm_id INTEGER NOT NULL,"
	" want_mib INTEGER NOT NULL,"
	" target_mib INTEGER NOT NULL,"
	" budget REAL NOT NULL,"
	" pressure REAL NOT NULL,"
	" PRIMARY KEY (round, vm_id)) WITHOUT ROWID;"
	"CREATE TABLE recs ("
	" id INTEGER PRIMARY KEY,"
	" round INTEGER NOT NULL REFERENCES rounds(round),"
	" created_ms INTEGER NOT NULL,"
	" updated_ms INTEGER NOT NULL,"
	" kind INTEGER NOT NULL CHECK (kind IN (1, 2)),"
	" state INTEGER NOT NULL CHECK (state BETWEEN 1 AND 8),"
	" vm_id INTEGER NOT NULL REFERENCES vms(id),"
	" from_host_id INTEGER NOT NULL REFERENCES hosts(id),"
	" to_host_id INTEGER REFERENCES hosts(id)," /* NULL: a resize */
	" from_mib INTEGER NOT NULL,"
	" to_mib INTEGER NOT NULL,"
	" price_here REAL NOT NULL,"
	" price_there REAL NOT NULL,"
	" cost_here REAL NOT NULL,"
	" cost_there REAL NOT NULL,"
	" demand_mib INTEGER NOT NULL,"
	" want_mib INTEGER NOT NULL,"
	" pressure_before REAL NOT NULL,"
	" pressure_after REAL NOT NULL,"
	" budget REAL NOT NULL,"
	" why TEXT NOT NULL,"
	" state_reason TEXT NOT NULL DEFAULT '');"
	"CREATE TABLE audit ("
	" id INTEGER PRIMARY KEY,"
	" ts_ms INTEGER NOT NULL,"
	" actor TEXT NOT NULL,"
	" event TEXT NOT NULL,"
	" rec_id INTEGER REFERENCES recs(id)," /* NULL: not about a rec */
	" detail TEXT NOT NULL DEFAULT '');";

/* Version 2: signals are kept; a repeated recommendation refreshes the
 * pending one (recs.last_round) instead of always superseding it, and a
 * superseded one points at its successor; indexes for the queries the
 * broker runs every round (pending recs by VM, retention by time) and the
 * CLI runs per rec (its audit trail). Lookups by round in samples,
 * allocations and prices are served by their primary keys since v1. */
static const char schema_v2[] =
	"CREATE TABLE signals ("
	" round INTEGER NOT NULL REFERENCES rounds(round),"
	" seq INTEGER NOT NULL,"
	" kind INTEGER NOT NULL CHECK (kind IN (1, 2)),"
	" host_id INTEGER REFERENCES hosts(id)," /* NULL: provision */
	" mib INTEGER NOT NULL,"
	" PRIMARY KEY (round, seq)) WITHOUT ROWID;"
	"ALTER TABLE recs ADD COLUMN last_round INTEGER;"
	"UPDATE recs SET last_round = round;"
	"ALTER TABLE recs ADD COLUMN superseded_by INTEGER REFERENCES recs(id);"
	"UPDATE recs SET state_reason = 'superseded (before schema 2 kept by"
	" which)' WHERE state = 5 AND state_reason = '';"
	"CREATE INDEX recs_state ON recs(state);"
	"CREATE INDEX recs_vm_state ON recs(vm_id, state);"
	"CREATE INDEX audit_rec ON audit(rec_id);"
	"CREATE INDEX rounds_started ON rounds(started_ms);";

static const char schema_v3[] =
	"CREATE TABLE control ("
	" id INTEGER PRIMARY KEY CHECK (id = 1),"
	" mode_resize_up INTEGER NOT NULL DEFAULT 0 CHECK (mode_resize_up IN (0, 1, 2)),"
	" mode_resize_down INTEGER NOT NULL DEFAULT 0 CHECK (mode_resize_down IN (0, 1, 2)),"
	" mode_migrate INTEGER NOT NULL DEFAULT 0 CHECK (mode_migrate IN (0, 1, 2)),"
	" paused INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),"
	" pause_reason TEXT NOT NULL DEFAULT '',"
	" updated_ms INTEGER NOT NULL DEFAULT 0,"
	" updated_by TEXT NOT NULL DEFAULT '');"
	"INSERT INTO control (id) VALUES (1);";

static const char schema_v4[] =
	"CREATE TABLE rec_scores ("
	" rec_id INTEGER PRIMARY KEY REFERENCES recs(id),"
	" scored_round INTEGER NOT NULL,"
	" samples INTEGER NOT NULL,"
	" peak_demand_mib INTEGER NOT NULL,"
	" mean_demand_mib REAL NOT NULL,"
	" predicted_pressure REAL NOT NULL,"
	" observed_pressure REAL NOT NULL,"
	" carried_out INTEGER NOT NULL CHECK (carried_out IN (0, 1)),"
	" correct INTEGER NOT NULL CHECK (correct IN (0, 1)));"
	"CREATE INDEX recs_last_round ON recs(last_round);";

/* v5: a host lost or back marks its VMs in one UPDATE by host_id, which
 * without this index scanned every VM: 1,000 hosts lost at once (a
 * partition) in a 100,000-VM cluster was 10^8 rows read. */
static const char schema_v5[] =
	"CREATE INDEX vms_host ON vms(host_id);";

/* v6: approvals that cannot act on stale figures (docs/storage.md,
 * "Approvals"). The broker says why an approved recommendation waits
 * (wait_reason, wait_round). What older versions left queued is cleared:
 * an approval of a kind in recommend mode carried nothing out and would
 * have been carried out by a later mode change without a word, so it is
 * withdrawn (rejected, audited as rec.cancelled); of the approvals left,
 * only the newest recommendation of each VM and kind stands: an older one
 * is superseded by it (or by a newer pending one), audited. */
#define NOW_MS "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"
#define REC_MODE "(SELECT CASE WHEN r.kind = 2 THEN c.mode_migrate" \
	" WHEN r.to_mib > r.from_mib THEN c.mode_resize_up" \
	" ELSE c.mode_resize_down END FROM control c WHERE c.id = 1)"
#define NEWEST "(SELECT MAX(n.id) FROM recs n WHERE n.vm_id = r.vm_id" \
	" AND n.kind = r.kind AND n.state IN (1, 2))"
#define WITHDRAWN "'approval withdrawn when upgrading to schema 6: it was" \
	" given in recommend mode, which carries nothing out'"
static const char schema_v6[] =
	"ALTER TABLE recs ADD COLUMN wait_reason TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE recs ADD COLUMN wait_round INTEGER NOT NULL DEFAULT 0;"
	"INSERT INTO audit (ts_ms, actor, event, rec_id, detail)"
	" SELECT " NOW_MS ", 'bourse', 'rec.cancelled', r.id, " WITHDRAWN
	" FROM recs r WHERE r.state = 2 AND " REC_MODE " = 0;"
	"UPDATE recs AS r SET state = 3, updated_ms = " NOW_MS ","
	" state_reason = " WITHDRAWN " WHERE r.state = 2 AND " REC_MODE " = 0;"
	"INSERT INTO audit (ts_ms, actor, event, rec_id, detail)"
	" SELECT " NOW_MS ", 'bourse', 'rec.superseded', r.id,"
	" 'superseded by #' || " NEWEST " || ' when upgrading to schema 6:"
	" only the newest recommendation of a VM and kind may be carried"
	" out'"
	" FROM recs r WHERE r.state = 2 AND " NEWEST " > r.id;"
	"UPDATE recs AS r SET state = 5, updated_ms = " NOW_MS ","
	" superseded_by = " NEWEST ", state_reason = 'superseded by #' || "
	NEWEST " WHERE r.state = 2 AND " NEWEST " > r.id;";

/* The modes of a database this bourse creates (docs/operations.md, "Modes
 * and the kill switch"): balloon resizes within [Minimum, Maximum] carried
 * out by the broker, as Hyper-V Dynamic Memory, MoM and Proxmox's
 * ballooning do; migrations recommended for review, each approved by an
 * operator (vSphere DRS's "partially automated"). An upgraded file keeps
 * its modes: nothing starts acting because bourse was upgraded. */
static const char new_file_modes[] =
	"UPDATE control SET mode_resize_up = 2, mode_resize_down = 2,"
	" mode_migrate = 1 WHERE id = 1 AND updated_ms = 0";

/* v7: the status views: the broker's own row, so that a
 * reader can tell a running broker from one that stopped or died
 * (broker_status), the bad-data flag of a host (host_flags), and the
 * audit log by time for `bourse events --since`. (A step of its own,
 * after v6's approvals.) */
static const char schema_v7_views[] =
	"CREATE TABLE broker_status ("
	" id INTEGER PRIMARY KEY CHECK (id = 1),"
	" started_ms INTEGER NOT NULL,"
	" heartbeat_ms INTEGER NOT NULL,"
	" stopped_ms INTEGER NOT NULL DEFAULT 0," /* 0: running, or died */
	" round_ms INTEGER NOT NULL,"
	" pid INTEGER NOT NULL,"
	" endpoint TEXT NOT NULL DEFAULT '');"
	"CREATE TABLE host_flags ("
	" host_id INTEGER PRIMARY KEY REFERENCES hosts(id),"
	" bad_data INTEGER NOT NULL CHECK (bad_data IN (0, 1)),"
	" since_ms INTEGER NOT NULL,"
	" detail TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX audit_ts ON audit(ts_ms);";

/* v8: host maintenance (`bourse host drain|undrain`, store_drain.c): a
 * row per draining host, who drained it, when and why; no row, not
 * draining. */
static const char schema_v8_drain[] =
	"CREATE TABLE host_drain ("
	" host_id INTEGER PRIMARY KEY REFERENCES hosts(id),"
	" since_ms INTEGER NOT NULL,"
	" actor TEXT NOT NULL DEFAULT '',"
	" reason TEXT NOT NULL DEFAULT '');";

/* v9: the database's identity, made once, when the file is created or
 * upgraded to v9: a random 64-bit number (SQLite's random(), seeded from
 * the system's randomness). It is part of every action id on the wire
 * (broker/actions.c), so that a database recreated from nothing never
 * reuses an id an agent remembers (docs/protocol.md, "Action ids"). And
 * recs.done_round. */
static const char schema_v9_identity[] =
	"CREATE TABLE db_identity ("
	" id INTEGER PRIMARY KEY CHECK (id = 1),"
	" uid INTEGER NOT NULL,"
	" created_ms INTEGER NOT NULL);"
	"INSERT INTO db_identity (id, uid, created_ms) VALUES (1, random(),"
	" CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));"
	/* the last round written when a rec succeeded: the market's view of
	 * its VM settles some rounds after (round_write(), "Unsettled") */
	"ALTER TABLE recs ADD COLUMN done_round INTEGER;";

/* The migrations, in order: migrations[i] takes a file from version i to
 * version i + 1. Never edit one that has shipped; add the next. */
static const char *const migrations[] = { schema_v1, schema_v2,
						   schema_v3, schema_v4,
						   schema_v5, schema_v6,
						   schema_v7_views,
						   schema_v8_drain,
						   schema_v9_identity };

#define N_MIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))

_Static_assert(N_MIGRATIONS == STORE_SCHEMA_VERSION,
	       "one migration per schema version");

/* ---- the cached statements ---------------------------------------------- */

/* ST_REC_VM_BUSY names these states by number */
_Static_assert(STORE_REC_DISPATCHED == 6 && STORE_REC_SUCCEEDED == 7,
	       "the states' numbers are the file's");

/* The bulk inserts of a round, one row (?1 ...) or STORE_BATCH rows (plain
 * ?, numbered in order: row k's column j is parameter k * columns + j). */
#define PRICE_INSERT \
	"INSERT INTO prices (round, host_id, supply_mib, wanted_mib," \
	" floor_mib, awarded_mib, utilization, balloon_pressure," \
	" swap_pressure, price, clearing_price, shortage, infeasible," \
	" free_mib, balloon_mib, host_swap_mibps)"
#define SAMPLE_INSERT \
	"INSERT INTO samples (round, vm_id, host_id, demand_mib," \
	" assigned_mib, guest_swap_mibps, balloon_mib, reported_pressure)"
#define ALLOC_INSERT \
	"INSERT INTO allocations (round, vm_id, want_mib, target_mib," \
	" budget, pressure)"

#define ROWS_2(r) r "," r
#define BATCH_ROWS(r) ROWS_2(ROWS_2(ROWS_2(ROWS_2(ROWS_2(r)))))
_Static_assert(STORE_BATCH == 32, "BATCH_ROWS writes 32 rows");

/* What a superseded approval's reason adds. */
#define APPROVAL_GONE "' (it was approved: the approval does not carry over)'"

static const char *const stmt_sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_HOST_UPSERT] =
		"INSERT INTO hosts (name, uri, capacity_mib, reserve_mib, state,"
		" first_seen_ms, last_seen_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
		" ON CONFLICT (name) DO UPDATE SET uri = excluded.uri,"
		" capacity_mib = excluded.capacity_mib,"
		" reserve_mib = excluded.reserve_mib, state = excluded.state,"
		" last_seen_ms = excluded.last_seen_ms RETURNING id",
	[ST_VM_UPSERT] =
		"INSERT INTO vms (name, host_id, startup_mib, minimum_mib,"
		" maximum_mib, buffer_pct, weight, reservation_mib, limit_mib,"
		" shares, state, first_seen_ms, last_seen_ms, last_migrated_round)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
		" ON CONFLICT (name) DO UPDATE SET host_id = excluded.host_id,"
		" startup_mib = excluded.startup_mib,"
		" minimum_mib = excluded.minimum_mib,"
		" maximum_mib = excluded.maximum_mib,"
		" buffer_pct = excluded.buffer_pct, weight = excluded.weight,"
		" reservation_mib = excluded.reservation_mib,"
		" limit_mib = excluded.limit_mib, shares = excluded.shares,"
		" state = excluded.state, last_seen_ms = excluded.last_seen_ms,"
		" last_migrated_round = excluded.last_migrated_round RETURNING id",
	[ST_HOST_GET_NAME] = "SELECT name, state FROM hosts WHERE id = ?1",
	[ST_HOST_SET_STATE] = "UPDATE hosts SET state = ?2 WHERE id = ?1",
	[ST_VMS_SET_STATE_BY_HOST] =
		"UPDATE vms SET state = ?3 WHERE host_id = ?1 AND state = ?2",
	[ST_VM_SET_STATE] = "UPDATE vms SET state = ?2 WHERE id = ?1",
	[ST_ROUND_LAST] = "SELECT COALESCE(MAX(round), 0) FROM rounds",
	[ST_ROUND_INSERT] =
		"INSERT INTO rounds (round, started_ms, duration_ms, n_hosts,"
		" n_vms, n_recs, msgs_in, msgs_dropped)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[ST_PRICE_INSERT] = PRICE_INSERT " VALUES (?1, ?2, ?3, ?4, ?5, ?6,"
		" ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
	[ST_PRICE_INSERT_N] = PRICE_INSERT " VALUES "
		BATCH_ROWS("(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"),
	[ST_HOST_SEEN] =
		"UPDATE hosts SET last_seen_ms = ?2 WHERE id = ?1",
	[ST_SAMPLE_INSERT] = SAMPLE_INSERT
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[ST_SAMPLE_INSERT_N] = SAMPLE_INSERT " VALUES "
		BATCH_ROWS("(?,?,?,?,?,?,?,?)"),
	[ST_ALLOC_INSERT] = ALLOC_INSERT " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_ALLOC_INSERT_N] = ALLOC_INSERT " VALUES "
		BATCH_ROWS("(?,?,?,?,?,?)"),
	[ST_SIGNAL_INSERT] =
		"INSERT INTO signals (round, seq, kind, host_id, mib)"
		" VALUES (?1, ?2, ?3, NULLIF(?4, 0), ?5)",
	[ST_REC_INSERT] =
		"INSERT INTO recs (round, last_round, created_ms, updated_ms, kind,"
		" state, vm_id, from_host_id, to_host_id, from_mib, to_mib,"
		" price_here, price_there, cost_here, cost_there, demand_mib,"
		" want_mib, pressure_before, pressure_after, budget, why,"
		" state_reason) VALUES (?1, ?1, ?2, ?2, ?3, 1, ?4, ?5,"
		" NULLIF(?6, 0), ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,"
		" ?17, ?18, '')",
	/* MAX(id), not ORDER BY id DESC LIMIT 1: the IN over two states
	 * made SQLite sort the matches in a temporary b-tree on every call,
	 * 15 times the lookup itself (bench_store). A bare column beside
	 * MAX() comes from the row with the maximum (SQLite's documented
	 * rule); no match gives one row of NULLs. */
	[ST_REC_FIND_SAME] =
		"SELECT MAX(id), state FROM recs WHERE vm_id = ?1"
		" AND state IN (1, 2) AND kind = ?2"
		" AND COALESCE(to_host_id, 0) = ?3 AND abs(to_mib - ?4) <= ?5",
	[ST_REC_TOUCH] =
		"UPDATE recs SET last_round = ?2, updated_ms = ?3 WHERE id = ?1",
	[ST_REC_REFRESH] =
		"UPDATE recs SET last_round = ?2, updated_ms = ?3, from_mib = ?4,"
		" to_mib = ?5, price_here = ?6, price_there = ?7, cost_here = ?8,"
		" cost_there = ?9, demand_mib = ?10, want_mib = ?11,"
		" pressure_before = ?12, pressure_after = ?13, budget = ?14,"
		" why = ?15 WHERE id = ?1",
	[ST_AUDIT_SUPERSEDE] =
		"INSERT INTO audit (ts_ms, actor, event, rec_id, detail)"
		" SELECT ?1, 'broker', 'rec.superseded', id, ?2 || CASE state"
		" WHEN 2 THEN " APPROVAL_GONE " ELSE '' END FROM recs"
		" WHERE vm_id = ?3 AND state IN (1, 2) AND id <> ?4"
		" AND (state = 1 OR ?5 = 0 OR kind = ?5)",
	[ST_REC_SUPERSEDE] =
		"UPDATE recs SET state = 5, superseded_by = ?1, state_reason = ?2"
		" || CASE state WHEN 2 THEN " APPROVAL_GONE " ELSE '' END,"
		" updated_ms = ?3, wait_reason = '' WHERE vm_id = ?4"
		" AND state IN (1, 2) AND id <> ?1"
		" AND (state = 1 OR ?5 = 0 OR kind = ?5)",
	[ST_REC_STALE] =
		"SELECT r.id, COALESCE(r.last_round, r.round), r.updated_ms,"
		" r.price_here, r.price_there, ph.price, pt.price,"
		" COALESCE(hf.name, ''), COALESCE(ht.name, '')"
		" , v.host_id IS NOT NULL AND v.host_id != r.from_host_id,"
		" COALESCE(hv.name, '')"
		" FROM recs r LEFT JOIN hosts hf ON hf.id = r.from_host_id"
		" LEFT JOIN hosts ht ON ht.id = r.to_host_id"
		" LEFT JOIN prices ph ON ph.round = ?1 AND ph.host_id = r.from_host_id"
		" LEFT JOIN prices pt ON pt.round = ?1 AND pt.host_id = r.to_host_id"
		" LEFT JOIN vms v ON v.id = r.vm_id"
		" LEFT JOIN hosts hv ON hv.id = v.host_id"
		" WHERE r.state IN (1, 2) AND COALESCE(r.last_round, r.round) < ?1"
		" ORDER BY r.id",
	[ST_REC_EXPIRE] =
		"UPDATE recs SET state = 4, state_reason = ?2, updated_ms = ?3,"
		" wait_reason = '' WHERE id = ?1 AND state IN (1, 2)",
	/* a VM with an action in flight, or one that succeeded when round
	 * ?2 or a later one was the last written: the market's view of it is
	 * not settled (recs_apply()); rounds, not times: the wall clock may
	 * jump */
	[ST_REC_VM_BUSY] =
		"SELECT EXISTS (SELECT 1 FROM recs WHERE vm_id = ?1 AND"
		" (state = 6 OR (state = 7 AND done_round >= ?2)))",
	[ST_RETAIN_CUTOFF] =
		"SELECT round FROM rounds WHERE started_ms < ?1"
		" ORDER BY started_ms DESC LIMIT 1",
	[ST_RETAIN_SAMPLES] = "DELETE FROM samples WHERE round <= ?1",
	[ST_RETAIN_ALLOCS] = "DELETE FROM allocations WHERE round <= ?1",
	[ST_RETAIN_PRICES] = "DELETE FROM prices WHERE round <= ?1",
	[ST_ROUND_STARTED] = "SELECT started_ms FROM rounds WHERE round = ?1",
	[ST_REC_STATE] =
		"SELECT state, kind, from_mib, to_mib, COALESCE(superseded_by, 0)"
		" FROM recs WHERE id = ?1",
	[ST_REC_SET_STATE] =
		"UPDATE recs SET state = ?2, state_reason = ?3, updated_ms = ?4,"
		" wait_reason = '', done_round = CASE WHEN ?2 = 7 THEN"
		" (SELECT MAX(round) FROM rounds) ELSE done_round END"
		" WHERE id = ?1",
	[ST_REC_NEWEST_OPEN] =
		"SELECT COALESCE(MAX(id), 0) FROM recs WHERE vm_id = ?1"
		" AND state IN (1, 2)",
	[ST_REC_SET_WAIT] =
		"UPDATE recs SET wait_reason = ?2, wait_round = ?3"
		" WHERE id = ?1 AND state = 2 AND wait_reason <> ?2",
	[ST_CONTROL_MODES] =
		"SELECT mode_resize_up, mode_resize_down, mode_migrate"
		" FROM control WHERE id = 1",
	[ST_REC_GET] = STORE_REC_SELECT " WHERE r.id = ?1",
	[ST_AUDIT_INSERT] =
		"INSERT INTO audit (ts_ms, actor, event, rec_id, detail)"
		" VALUES (?1, ?2, ?3, NULLIF(?4, 0), ?5)",
};

/* ---- shared helpers (store_internal.h) ---------------------------------- */

/* SQLite reports a write the OS refused for lack of room as SQLITE_FULL
 * only for ENOSPC; a file-size limit (EFBIG) or a quota is a plain I/O
 * error, and by then errno is gone. So look: a process file-size limit the
 * database or its WAL has reached, or a filesystem with no block left, is
 * no room. Fills why with what was found. */
static int no_room(const store *s, char *why, size_t size)
{
	char wal[PATH_MAX];
	struct rlimit rl;
	struct statvfs fs;
	struct stat sb;
	off_t big = 0;

	if (stat(s->path, &sb) == 0)
		big = sb.st_size;
	snprintf(wal, sizeof(wal), "%s-wal", s->path);
	if (stat(wal, &sb) == 0 && sb.st_size > big)
		big = sb.st_size;
	if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    (rlim_t)big >= rl.rlim_cur) {
		snprintf(why, size, "; this process may write files of at most "
			 "%llu bytes (RLIMIT_FSIZE)",
			 (unsigned long long)rl.rlim_cur);
		return 1;
	}
	if (statvfs(s->path, &fs) == 0 && fs.f_bavail == 0) {
		snprintf(why, size, "; its filesystem has no free block");
		return 1;
	}
	return 0;
}

/* What the handle's last error is, for the file; why gets the OS's part
 * of the story ("" if none). */
static store_fault classify(store *s, char *why, size_t size)
{
	int sys = sqlite3_system_errno(s->db);

	why[0] = 0;
	switch (sqlite3_extended_errcode(s->db) & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return STORE_FAULT_LOCKED;
	case SQLITE_FULL:
		return STORE_FAULT_FULL;
	case SQLITE_IOERR:
		if (sys)
			snprintf(why, size, ": %s", strerror(sys));
		if (sys == ENOSPC || sys == EFBIG || sys == EDQUOT ||
		    (!sys && no_room(s, why, size)))
			return STORE_FAULT_FULL;
		return STORE_FAULT_IO;
	case SQLITE_READONLY:
	case SQLITE_CANTOPEN:
		if (sys)
			snprintf(why, size, ": %s", strerror(sys));
		return STORE_FAULT_IO;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return STORE_FAULT_CORRUPT;
	default:
		return STORE_FAULT_NONE;
	}
}

/* SQLite's words for a fault, with the OS's part (why) and what to do,
 * into buf: the part of a message an operator acts on. */
static void fault_words(store *s, store_fault f, const char *why, char *buf,
			size_t size)
{
	const char *msg = sqlite3_errmsg(s->db);

	switch (f) {
	case STORE_FAULT_LOCKED:
		snprintf(buf, size, "database is locked by another process "
			 "(SQLite: %s, after waiting %d ms); try again", msg,
			 s->busy_ms);
		break;
	case STORE_FAULT_FULL:
		snprintf(buf, size, "no room to write the database: the "
			 "disk is full or the file reached its size limit "
			 "(SQLite: %s%s); free space and try again", msg, why);
		break;
	case STORE_FAULT_CORRUPT:
		snprintf(buf, size, "the database file is damaged (SQLite: "
			 "%s); waiting cannot fix it: restore it from a backup, "
			 "or recover it ('sqlite3 FILE .recover | sqlite3 "
			 "NEW.db')", msg);
		break;
	default:
		snprintf(buf, size, "the database file cannot be read or "
			 "written (SQLite: %s%s); check the file and its "
			 "disk and try again", msg, why);
		break;
	}
}

/* Did the last error come from the file's permissions (the user may not
 * read or write it, or its directory)? A write refused on a handle opened
 * read-only is not that (the caller's mistake). */
static int permission_fault(store *s)
{
	int ext = sqlite3_extended_errcode(s->db);
	int sys = sqlite3_system_errno(s->db);

	switch (ext & 0xff) {
	case SQLITE_PERM:
		return 1;
	case SQLITE_READONLY:
		return ext != SQLITE_READONLY_DBMOVED &&
		       ext != SQLITE_READONLY_ROLLBACK &&
		       (ext != SQLITE_READONLY || !s->readonly);
	case SQLITE_CANTOPEN:
	case SQLITE_IOERR:
		return sys == EACCES || sys == EPERM;
	default:
		return 0;
	}
}

/* "PATH: permission denied (reading needs ...)": what an operator
 * without the right sees, whatever was being done. */
static void permission_words(store *s, char *err, size_t errlen)
{
	if (err && errlen)
		snprintf(err, errlen, "%s: permission denied (%s needs the "
			 "bourse group or sudo)", s->path,
			 s->readonly ? "reading" : "writing");
}

void store__dberr(store *s, char *err, size_t errlen, const char *fmt, ...)
{
	char why[128], words[STORE_TEXT_MAX];
	store_fault f = classify(s, why, sizeof(why));
	va_list ap;
	size_t n;

	s->fault = f;
	if (f != STORE_FAULT_NONE) {
		fault_words(s, f, why, words, sizeof(words));
		snprintf(s->fault_msg, sizeof(s->fault_msg), "%s", words);
		s->faults++;
		s->held = 1;
	}
	if (!err || errlen == 0)
		return;
	if (permission_fault(s)) {
		permission_words(s, err, errlen);
		return;
	}
	va_start(ap, fmt);
	util_verr(err, errlen, fmt, ap);
	va_end(ap);
	n = strlen(err);
	if (n + 1 < errlen)
		snprintf(err + n, errlen - n, ": %s", f != STORE_FAULT_NONE
			 ? words : sqlite3_errmsg(s->db));
}

int store__each(store *s, sqlite3_stmt *st,
		int (*row)(sqlite3_stmt *st, void *ctx), void *ctx,
		const char *what, char *err, size_t errlen)
{
	int rc = SQLITE_ERROR;

	while (st && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (row(st, ctx) != 0) {
			sqlite3_finalize(st);
			util_err(err, errlen, "the listing was stopped by its "
				 "callback");
			return -1;
		}
	}
	if (rc != SQLITE_DONE)
		store__dberr(s, err, errlen, "%s", what);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

sqlite3_stmt *store__stmt(store *s, enum store_stmt which)
{
	sqlite3_stmt *st = s->st[which];

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return st;
}

int store__writable(store *s, char *err, size_t errlen)
{
	if (s->readonly) {
		util_err(err, errlen, "database %s is open read-only", s->path);
		s->fault = STORE_FAULT_NONE;
		return -1;
	}
	if (s->held) {
		/* the lock is not waited for again, the full disk not written
		 * again, until the writer says when (store_retry()) */
		util_err(err, errlen, "not written, a write just failed: %s",
			 s->fault_msg);
		s->faults++;
		return -1;
	}
	s->fault = STORE_FAULT_NONE;
	return 0;
}

store_fault store_last_fault(const store *s)
{
	return s->fault;
}

uint64_t store_faults(const store *s)
{
	return s->faults;
}

const char *store_fault_name(store_fault f)
{
	switch (f) {
	case STORE_FAULT_LOCKED: return "locked";
	case STORE_FAULT_FULL: return "full";
	case STORE_FAULT_IO: return "I/O error";
	case STORE_FAULT_CORRUPT: return "corrupt";
	case STORE_FAULT_NONE: break;
	}
	return "";
}

void store_retry(store *s)
{
	s->held = 0;
}

void store_busy_ms(store *s, int ms)
{
	s->busy_ms = ms > 0 ? ms : 1;
	sqlite3_busy_timeout(s->db, s->busy_ms);
}

/* Step a statement that returns no row. */
static int step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int store__begin(store *s, char *err, size_t errlen)
{
	if (step_done(store__stmt(s, ST_BEGIN)) == 0)
		return 0;
	store__dberr(s, err, errlen, "cannot start a transaction on %s",
		     s->path);
	return -1;
}

int store__commit(store *s, char *err, size_t errlen)
{
	if (step_done(store__stmt(s, ST_COMMIT)) == 0)
		return 0;
	store__dberr(s, err, errlen, "cannot commit to %s", s->path);
	return -1;
}

void store__rollback(store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		step_done(store__stmt(s, ST_ROLLBACK));
}

void store__text(sqlite3_stmt *st, int col, char *buf, size_t size)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	snprintf(buf, size, "%s", t ? (const char *)t : "");
}

void store__bind_text(sqlite3_stmt *st, int idx, const char *text)
{
	sqlite3_bind_text(st, idx, text ? text : "", -1, SQLITE_STATIC);
}

int store__audit(store *s, const char *actor, const char *event,
		 int64_t rec_id, const char *detail, int64_t now_ms, char *err,
		 size_t errlen)
{
	sqlite3_stmt *st = store__stmt(s, ST_AUDIT_INSERT);

	sqlite3_bind_int64(st, 1, now_ms);
	store__bind_text(st, 2, actor);
	store__bind_text(st, 3, event);
	sqlite3_bind_int64(st, 4, rec_id);
	store__bind_text(st, 5, detail);
	if (step_done(st) == 0)
		return 0;
	store__dberr(s, err, errlen, "cannot write the audit entry '%s'", event);
	return -1;
}

/* ---- opening ------------------------------------------------------------ */

/* Run a pragma or query returning one integer. */
static int query_int(store *s, const char *sql, int64_t *out)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);

	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			*out = sqlite3_column_int64(st, 0);
			rc = SQLITE_OK;
		}
	}
	sqlite3_finalize(st);
	return rc == SQLITE_OK ? 0 : -1;
}

/* Pragmas every handle sets. WAL (persistent in the file) and synchronous
 * are a writer's business; a read-only handle only waits and checks. */
static int configure(store *s, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	char mode[16] = "";

	if (sqlite3_exec(s->db, "PRAGMA foreign_keys = ON", NULL, NULL,
			 NULL) != SQLITE_OK)
		goto fail;
	if (s->readonly)
		return 0;
	if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st,
			       NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW)
		goto fail;
	store__text(st, 0, mode, sizeof(mode));
	sqlite3_finalize(st);
	st = NULL;
	if (strcmp(mode, "wal") != 0) {
		util_err(err, errlen, "database %s: cannot switch to WAL "
			 "journaling (journal mode is '%s')", s->path, mode);
		return -1;
	}
	if (sqlite3_exec(s->db, "PRAGMA synchronous = NORMAL", NULL, NULL,
			 NULL) != SQLITE_OK)
		goto fail;
	/* the writer's small sorts and UPDATE rowid lists (docs/storage.md,
	 * "The file"): a temporary file each was a third of a round */
	if (sqlite3_exec(s->db, "PRAGMA temp_store = MEMORY", NULL, NULL,
			 NULL) != SQLITE_OK)
		goto fail;
	return 0;
fail:
	store__dberr(s, err, errlen, "database %s", s->path);
	sqlite3_finalize(st);
	return -1;
}

/* Read user_version; also where a file that is not a database shows. A
 * version-0 file with tables belongs to someone else: never migrate it. */
static int read_version(store *s, char *err, size_t errlen)
{
	int64_t v = 0, n_tables = 0;

	if (query_int(s, "PRAGMA user_version", &v) != 0 ||
	    query_int(s, "SELECT COUNT(*) FROM sqlite_master", &n_tables) != 0) {
		int code = sqlite3_extended_errcode(s->db);

		if (code == SQLITE_NOTADB)
			util_err(err, errlen, "%s is not a bourse database (not "
				 "an SQLite file; if it was one, its first page "
				 "is damaged: restore it from a backup, or "
				 "recover it with 'sqlite3 FILE .recover | "
				 "sqlite3 NEW.db')", s->path);
		else
			store__dberr(s, err, errlen, "cannot read database %s",
				     s->path);
		return -1;
	}
	if (v == 0 && n_tables > 0) {
		util_err(err, errlen, "%s is an SQLite database but not a "
			 "bourse one (it has tables and no schema version)",
			 s->path);
		return -1;
	}
	s->version = (int)v;
	return 0;
}

/* Apply migrations until the file is at version target. Each runs in its
 * own BEGIN IMMEDIATE transaction and re-reads the version inside it, so
 * two processes opening an old file at once migrate it once. */
static int migrate(store *s, int target, char *err, size_t errlen)
{
	int created = 0; /* this handle made the file from nothing */

	while (s->version < target) {
		int64_t v = 0;
		char sql[64];
		int next;

		if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
			    SQLITE_OK ||
		    query_int(s, "PRAGMA user_version", &v) != 0)
			goto fail;
		next = (int)v + 1;
		created |= v == 0;
		if (v < target) {
			snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", next);
			if (sqlite3_exec(s->db, migrations[v], NULL, NULL,
					 NULL) != SQLITE_OK ||
			    sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
				goto fail;
			/* a new file gets this version's modes, in the
			 * transaction that makes it current */
			if (created && next == STORE_SCHEMA_VERSION &&
			    sqlite3_exec(s->db, new_file_modes, NULL, NULL,
					 NULL) != SQLITE_OK)
				goto fail;
		} else {
			next = (int)v;
		}
		if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
			goto fail;
		s->version = next;
	}
	return 0;
fail:
	store__dberr(s, err, errlen, "database %s: cannot upgrade the schema "
		     "from version %d to %d", s->path, s->version, s->version + 1);
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/* Refuse a newer file; upgrade an older one unless read-only. */
static int check_version(store *s, char *err, size_t errlen)
{
	if (s->version > STORE_SCHEMA_VERSION) {
		util_err(err, errlen, "database %s has schema version %d, newer "
			 "than this bourse supports (%d); upgrade bourse",
			 s->path, s->version, STORE_SCHEMA_VERSION);
		return -1;
	}
	if (s->version == STORE_SCHEMA_VERSION)
		return 0;
	if (s->readonly) {
		util_err(err, errlen, "database %s has schema version %d, older "
			 "than this bourse's (%d); run 'bourse broker' or a "
			 "writable command such as 'bourse recs approve' once "
			 "to upgrade it", s->path, s->version,
			 STORE_SCHEMA_VERSION);
		return -1;
	}
	return migrate(s, STORE_SCHEMA_VERSION, err, errlen);
}

static int prepare_all(store *s, char *err, size_t errlen)
{
	for (int i = 0; i < ST_COUNT; i++) {
		if (sqlite3_prepare_v3(s->db, stmt_sql[i], -1,
				       SQLITE_PREPARE_PERSISTENT, &s->st[i],
				       NULL) != SQLITE_OK) {
			store__dberr(s, err, errlen, "database %s: cannot prepare "
				     "statement %d", s->path, i);
			return -1;
		}
	}
	return 0;
}

/* Open the connection itself, with a message naming the path for a missing
 * file (sqlite's own would say only "unable to open database file"). */
/*
 * A new database is created 0600 whatever the umask (SQLite would create
 * it 0644 & ~umask: readable by every local user under the usual 022). Its
 * -wal and -shm files take the database's mode (SQLite's unix VFS), so an
 * operator who wants a group to read it runs chmod 0640 (or 0660) on the
 * database once. An empty file is a new database to SQLite.
 */
static int create_private(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd < 0 && errno != EEXIST) /* EEXIST: created meanwhile: theirs */
		return util_err(err, errlen, "cannot open database %s: %s",
				path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return 0;
}

static int open_db(store *s, int flags, char *err, size_t errlen)
{
	int oflags = SQLITE_OPEN_NOMUTEX;
	struct stat sb;

	if (stat(s->path, &sb) != 0) {
		if (errno != ENOENT) {
			util_err(err, errlen, "cannot open database %s: %s",
				 s->path, strerror(errno));
			return -1;
		}
		if (!(flags & STORE_CREATE) || (flags & STORE_READONLY)) {
			util_err(err, errlen, "database %s does not exist",
				 s->path);
			return -1;
		}
		if (create_private(s->path, err, errlen) != 0)
			return -1;
	} else if (!S_ISREG(sb.st_mode)) {
		util_err(err, errlen, "database %s is not a regular file",
			 s->path);
		return -1;
	}
	if (flags & STORE_READONLY)
		oflags |= SQLITE_OPEN_READONLY;
	else
		oflags |= SQLITE_OPEN_READWRITE |
			  ((flags & STORE_CREATE) ? SQLITE_OPEN_CREATE : 0);
	if (sqlite3_open_v2(s->path, &s->db, oflags, NULL) == SQLITE_OK) {
		sqlite3_extended_result_codes(s->db, 1);
		store_busy_ms(s, STORE_BUSY_MS);
		return 0;
	}
	if (s->db)
		store__dberr(s, err, errlen, "cannot open database %s", s->path);
	else
		util_err(err, errlen, "cannot open database %s: out of memory",
			 s->path);
	return -1;
}

static store *store_new(const char *path, int flags)
{
	store *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->path = strdup(path);
	if (!s->path) {
		free(s);
		return NULL;
	}
	s->readonly = (flags & STORE_READONLY) != 0;
	return s;
}

int store_open(const char *path, int flags, store **out, char *err,
	       size_t errlen)
{
	store *s = NULL;

	*out = NULL;
	if (!path || !*path)
		return util_err(err, errlen, "no database path given");
	s = store_new(path, flags);
	if (!s)
		return util_err(err, errlen, "out of memory opening %s", path);
	if (open_db(s, flags, err, errlen) != 0 ||
	    read_version(s, err, errlen) != 0 ||
	    (s->version <= STORE_SCHEMA_VERSION &&
	     configure(s, err, errlen) != 0) ||
	    check_version(s, err, errlen) != 0 ||
	    prepare_all(s, err, errlen) != 0) {
		store_close(s);
		return -1;
	}
	*out = s;
	return 0;
}

void store_close(store *s)
{
	if (!s)
		return;
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close(s->db);
	free(s->path);
	free(s);
}

int store_schema_version(store *s)
{
	return s->version;
}

int store_db_uid(store *s, uint64_t *uid, char *err, size_t errlen)
{
	int64_t v = 0;

	if (query_int(s, "SELECT uid FROM db_identity WHERE id = 1", &v) != 0) {
		store__dberr(s, err, errlen, "database %s: cannot read its "
			     "identity", s->path);
		return -1;
	}
	*uid = (uint64_t)v;
	return 0;
}

int store_create_at_version(const char *path, int version, char *err,
			    size_t errlen)
{
	struct stat sb;
	store *s = NULL;
	int rc = -1;

	if (version < 1 || version > STORE_SCHEMA_VERSION) {
		util_err(err, errlen, "schema version %d does not exist (1 to "
			 "%d)", version, STORE_SCHEMA_VERSION);
		return -1;
	}
	if (stat(path, &sb) == 0) {
		util_err(err, errlen, "database %s already exists", path);
		return -1;
	}
	s = store_new(path, STORE_CREATE);
	if (!s)
		return util_err(err, errlen, "out of memory creating %s", path);
	if (open_db(s, STORE_CREATE, err, errlen) == 0 &&
	    read_version(s, err, errlen) == 0 &&
	    configure(s, err, errlen) == 0 &&
	    migrate(s, version, err, errlen) == 0)
		rc = 0;
	store_close(s);
	return rc;
}
