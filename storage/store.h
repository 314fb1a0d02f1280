/*
 * store.h - bourse's SQLite store: the whole public API of storage/.
 *
 * The database is the single source of truth: the broker writes the registry
 * and every round into it, the CLI reads it and records operator decisions in
 * it, whether or not the broker runs. docs/storage.md gives the schema, the
 * migrations and the recommendation state machine.
 *
 *  - WAL journal, synchronous=NORMAL, busy timeout STORE_BUSY_MS, foreign
 *    keys on.
 *  - The schema is versioned with PRAGMA user_version. store_open() upgrades
 *    an older file in place (each migration in its own transaction) and
 *    refuses a newer one with a message naming both versions.
 *  - Writes of one round are one transaction (store_round_write()).
 *  - Recommendation states change only through this module, and every legal
 *    transition is in one table in store.c (store_rec_transition_ok()).
 *
 * Errors: functions return 0 (or a count, where said) on success and -1 on
 * failure with a one-line message in err. A write that fails leaves the file
 * as it was (its transaction is rolled back); a locked, full or failing
 * file is a fault (store_last_fault()), after which the handle refuses
 * writes until store_retry().
 *
 * Ownership: a store handle is freed with store_close(). Every struct passed
 * in is borrowed for the call. Strings in structs filled by the store
 * (store_rec, store_host_row, ...) live in fixed-size arrays inside them: the
 * caller owns the struct, nothing to free. List functions call a callback
 * once per row with a pointer valid only during the call; a callback that
 * returns non-zero stops the list, which then returns -1.
 */
#ifndef BOURSE_STORE_H
#define BOURSE_STORE_H

#include <stddef.h>
#include <stdint.h>

/* The schema version this build writes (docs/storage.md, "Migrations"). */
#define STORE_SCHEMA_VERSION 9

/* How long a handle waits for a lock held by another process, ms, unless
 * store_busy_ms() says otherwise (the broker waits less: docs/storage.md,
 * "When the store fails"). */
#define STORE_BUSY_MS 5000

/* A host or VM name's buffer: WIRE_MAX_NAME + 1 (storage does not depend
 * on proto/; broker/registry.c asserts that the two agree). */
#define STORE_NAME_MAX 129
#define STORE_TEXT_MAX 256

typedef struct store store;

/* Open flags. */
#define STORE_READONLY 0x1 /* CLI reads: no migration, no write; a missing
                            * file is an error */
#define STORE_CREATE 0x2   /* create the file if it does not exist */

/* Open (and if needed create and migrate) the database at path. */
int store_open(const char *path, int flags, store **out, char *err,
	       size_t errlen);

/* Close; NULL is fine. */
void store_close(store *s);

/* The schema version of the open file. */
int store_schema_version(store *s);

/* The database's identity (schema 9): a random number made once, when the
 * file was created or upgraded to schema 9; a file made anew has another.
 * Part of every action id on the wire. Returns 0, or -1 with a message. */
int store_db_uid(store *s, uint64_t *uid, char *err, size_t errlen);

/* For the migration tests: create path at schema version `version` (1 ..
 * STORE_SCHEMA_VERSION) exactly as that version of bourse did. */
int store_create_at_version(const char *path, int version, char *err,
			    size_t errlen);

/* ---- when the file fails ------------------------------------------------ */

/* Why a call failed, as far as the file is concerned. */
typedef enum store_fault {
	STORE_FAULT_NONE = 0, /* not the file: bad input, an illegal
	                       * transition, a constraint */
	STORE_FAULT_LOCKED,   /* another connection held the lock past the
	                       * busy timeout (SQLITE_BUSY, SQLITE_LOCKED) */
	STORE_FAULT_FULL,     /* no room: SQLITE_FULL, or an I/O error with
	                       * ENOSPC, EDQUOT or EFBIG (a file-size limit) */
	STORE_FAULT_IO,       /* the file cannot be read or written: any other
	                       * I/O error, permissions */
	STORE_FAULT_CORRUPT,  /* the file is damaged (SQLITE_CORRUPT) or not a
	                       * database (SQLITE_NOTADB): waiting cannot fix
	                       * it; restore a backup or recover it */
} store_fault;

/* The fault of the last call that failed on s (STORE_FAULT_NONE if it
 * failed for another reason). Its message (err) then says, in SQLite's
 * words and with the OS error, what happened and ends "try again". */
store_fault store_last_fault(const store *s);

/* How many calls on s have failed for a fault since it was opened: a
 * writer compares two readings to learn that some write failed between. */
uint64_t store_faults(const store *s);

/* "locked", "full", "I/O error", "corrupt" ("" for STORE_FAULT_NONE). */
const char *store_fault_name(store_fault f);

/* After a fault, s refuses every write at once, with the same fault and a
 * message naming it, without touching the file, until store_retry(): a
 * single-threaded writer (the broker) then waits for the lock once per
 * attempt it chooses (its rounds) instead of on every write, and a CLI
 * command stops at the first fault. Reads are not refused. */
void store_retry(store *s);

/* How long s waits for a lock held by another process, ms (> 0). */
void store_busy_ms(store *s, int ms);

/* ---- registry ---------------------------------------------------------- */

typedef enum store_host_state {
	STORE_HOST_ONLINE = 1, /* heard within the liveness timeout */
	STORE_HOST_LOST = 2,   /* missed its heartbeats */
	STORE_HOST_GONE = 3,   /* deregistered */
} store_host_state;

typedef struct store_host_row {
	uint32_t id; /* assigned by the store, stable for the name */
	char name[STORE_NAME_MAX];
	char uri[STORE_TEXT_MAX];
	int64_t capacity_mib;
	int64_t reserve_mib;
	store_host_state state;
	int64_t first_seen_ms; /* Unix ms */
	int64_t last_seen_ms;
	/* latest round's figures, for `bourse hosts` (0 if none yet) */
	double price;
	double utilization;
	int64_t awarded_mib;
	uint32_t n_vms;
} store_host_row;

typedef enum store_vm_state {
	STORE_VM_ACTIVE = 1,
	STORE_VM_LOST = 2, /* its host is lost */
	STORE_VM_GONE = 3, /* deregistered */
} store_vm_state;

typedef struct store_vm_row {
	uint32_t id;
	char name[STORE_NAME_MAX];
	uint32_t host_id;
	char host_name[STORE_NAME_MAX]; /* filled by reads */
	int64_t startup_mib, minimum_mib, maximum_mib;
	uint32_t buffer_pct, weight;
	int64_t reservation_mib, limit_mib;
	uint32_t shares;
	store_vm_state state;
	int64_t first_seen_ms, last_seen_ms;
	int64_t last_migrated_round; /* INT64_MIN if never */
	/* latest sample and allocation, for `bourse vms` (0 if none yet) */
	int64_t demand_mib, assigned_mib, target_mib;
	double pressure;
} store_vm_row;

/* Insert or update a host by name (config, state, last_seen); sets row->id.
 * The figures fields are ignored. */
int store_host_upsert(store *s, store_host_row *row, char *err, size_t errlen);

/* Insert or update a VM by name (config, host_id, state, last_seen); sets
 * row->id. The sample fields are ignored. */
int store_vm_upsert(store *s, store_vm_row *row, char *err, size_t errlen);

/* Set a host's state (and the state of its VMs: LOST with it, ACTIVE when it
 * comes back ONLINE, untouched for GONE). Audited when the state changes:
 * setting the state a host already has writes its VMs' and no audit entry
 * (the broker writes every host's state again after a store outage). */
int store_host_set_state(store *s, uint32_t host_id, store_host_state st,
			 int64_t now_ms, char *err, size_t errlen);

/* The round of VM vm_id's latest migration (vms.last_migrated_round: the
 * market's migrate_cooldown counts from it), set by the broker when a
 * migration it dispatched succeeds. */
int store_vm_set_last_migrated(store *s, uint32_t vm_id, int64_t round,
			       char *err, size_t errlen);

/* Set one VM's state (e.g. GONE on deregister). */
int store_vm_set_state(store *s, uint32_t vm_id, store_vm_state st,
		       char *err, size_t errlen);

/* Every host / VM, ordered by name, with their latest figures. */
int store_hosts_list(store *s, int (*cb)(const store_host_row *, void *),
		     void *ctx, char *err, size_t errlen);
int store_vms_list(store *s, int (*cb)(const store_vm_row *, void *),
		   void *ctx, char *err, size_t errlen);

/* ---- rounds ------------------------------------------------------------ */

/* The last round written, or 0 if none. The broker continues from it. */
int store_round_last(store *s, int64_t *round, char *err, size_t errlen);

typedef struct store_price_row { /* one host in one round */
	uint32_t host_id;
	int64_t supply_mib, wanted_mib, floor_mib, awarded_mib;
	double utilization, balloon_pressure, swap_pressure;
	double price, clearing_price;
	int shortage, infeasible;
	/* from the host's latest ask */
	int64_t free_mib, balloon_mib;
	double host_swap_mibps;
	int64_t last_seen_ms; /* Unix ms the host was last heard; 0 leaves the
	                       * host's last_seen_ms as it is */
} store_price_row;

typedef struct store_alloc_row { /* one VM in one round */
	uint32_t vm_id, host_id;
	int64_t demand_mib, assigned_mib; /* from its latest bid (the sample) */
	double guest_swap_mibps;
	int64_t balloon_mib;
	double reported_pressure; /* as the guest reported it */
	int64_t want_mib, target_mib; /* the market's award */
	double budget, pressure;      /* pressure = demand / target * 100 */
} store_alloc_row;

typedef enum store_rec_kind {
	STORE_REC_RESIZE = 1,
	STORE_REC_MIGRATE = 2,
} store_rec_kind;

typedef struct store_rec_in { /* a recommendation as a round produced it */
	store_rec_kind kind;
	uint32_t vm_id, from_host_id;
	uint32_t to_host_id; /* 0 for a resize */
	int64_t from_mib, to_mib;
	double price_here, price_there, cost_here, cost_there;
	int64_t demand_mib, want_mib;
	double pressure_before; /* demand / assigned * 100 */
	double pressure_after;  /* demand / to_mib * 100: the market's forecast */
	double budget;
	int heard_since; /* 1: the VM bid after its last action's result, so
			  * the market saw what the action did: the settle
			  * window (settle_rounds) does not hold it back
			  * (an action in flight still does). The broker
			  * sets it only on a resize up of a VM short of
			  * memory (pressure_before above 100) */
	char why[STORE_TEXT_MAX]; /* one sentence in economic terms */
} store_rec_in;

typedef struct store_signal_row {
	int kind; /* 1 provision, 2 suspend (as market_signal_kind) */
	uint32_t host_id; /* 0 for provision */
	int64_t mib;
} store_signal_row;

/* Policy for pending recommendations, applied by store_round_write(). */
typedef struct store_rec_policy {
	int64_t ttl_ms;     /* a pending rec older than this expires */
	double price_drift; /* ... or sooner, once the price at either of its
	                     * hosts has moved by more than this share of the
	                     * price it was made at and the round did not
	                     * recommend it again */
	int64_t same_mib;   /* a new rec for the same VM, kind and target host
	                     * whose to_mib is within this of the pending one's
	                     * refreshes it instead of superseding it */
	int64_t retention_ms; /* samples, allocations and prices older than
	                       * this are deleted; 0 keeps everything */
	int64_t score_rounds; /* shadow scoring: a recommendation is scored on
	                       * the samples of this many rounds after the last
	                       * round that made it; 0: no scoring */
	int64_t retention_rounds; /* retention never deletes the newest this
	                           * many rounds, whatever the wall clock says
	                           * (one that jumps forward): the broker sets
	                           * retention_ms / its round period; 0: time
	                           * alone decides */
	int64_t settle_rounds; /* no new rec for a VM whose action is in
	                        * flight (dispatched) or succeeded within the
	                        * last this many rounds: the market saw it
	                        * before the action took effect (default 2) */
} store_rec_policy;

/* The documented defaults (docs/storage.md). */
void store_rec_policy_default(store_rec_policy *p);

typedef struct store_round {
	int64_t round;      /* > store_round_last() */
	int64_t started_ms; /* Unix ms */
	int64_t duration_ms; /* time the market took */
	/* broker counters, cumulative since the broker started */
	uint64_t msgs_in, msgs_dropped;
	const store_price_row *prices;
	size_t n_prices;
	const store_alloc_row *allocs;
	size_t n_allocs;
	const store_rec_in *recs;
	size_t n_recs;
	const store_signal_row *signals;
	size_t n_signals;
} store_round;

/* What store_round_write() did to the recommendations. */
typedef struct store_round_outcome {
	uint32_t inserted, refreshed, superseded, expired;
	uint32_t unsettled; /* recs left out: their VM's action in flight or
	                     * just done (settle_rounds) */
} store_round_outcome;

/*
 * Write one round in one transaction: the round row, its prices, allocations
 * (the samples), signals and recommendations, then the pending-rec upkeep:
 *  - a rec for a VM that has a pending one of the same kind and target host
 *    with to_mib within policy->same_mib: the pending one is refreshed
 *    (last_round, prices) and no row is added;
 *  - any other rec for a VM with a pending one: the old one becomes
 *    superseded (audited, pointing at the new id) and the new one is added;
 *  - no rec at all for a VM with an action dispatched, or one that
 *    succeeded within the last settle_rounds rounds (counted as
 *    unsettled): the market saw the VM before its action took effect;
 *  - pending recs older than ttl_ms, or whose prices drifted (see
 *    store_rec_policy) and were not recommended again: expired (audited);
 *  - pending and approved recs whose VM is now on another host than the
 *    one they found it on: expired ("the VM is no longer on ...");
 *  - retention: old samples, allocations and prices deleted.
 * On failure nothing of the round is written. outcome may be NULL.
 */
int store_round_write(store *s, const store_round *rd,
		      const store_rec_policy *policy, int64_t now_ms,
		      store_round_outcome *outcome, char *err, size_t errlen);

/* One host's prices in a round, for `bourse prices`. round <= 0: latest. */
typedef struct store_price_view {
	int64_t round;
	int64_t started_ms;
	char host_name[STORE_NAME_MAX];
	store_price_row p;
} store_price_view;

int store_prices_list(store *s, int64_t round,
		      int (*cb)(const store_price_view *, void *), void *ctx,
		      char *err, size_t errlen);

/* ---- recommendations --------------------------------------------------- */

typedef enum store_rec_state {
	STORE_REC_PENDING = 1,
	STORE_REC_APPROVED,
	STORE_REC_REJECTED,
	STORE_REC_EXPIRED,
	STORE_REC_SUPERSEDED,
	STORE_REC_DISPATCHED,
	STORE_REC_SUCCEEDED,
	STORE_REC_FAILED,
} store_rec_state;

/* "pending", "approved", ... and back. parse returns 0, or -1 if unknown. */
const char *store_rec_state_name(store_rec_state st);
int store_rec_state_parse(const char *name, store_rec_state *out);
const char *store_rec_kind_name(store_rec_kind k); /* "resize", "migrate" */

/* The one table of legal transitions (docs/storage.md). */
int store_rec_transition_ok(store_rec_state from, store_rec_state to);

typedef struct store_rec {
	int64_t id;
	int64_t round;      /* the round that made it */
	int64_t last_round; /* the latest round that recommended it again */
	int64_t created_ms, updated_ms;
	store_rec_kind kind;
	store_rec_state state;
	uint32_t vm_id;
	char vm_name[STORE_NAME_MAX];
	char from_host[STORE_NAME_MAX];
	char to_host[STORE_NAME_MAX]; /* "" for a resize */
	int64_t from_mib, to_mib;
	double price_here, price_there, cost_here, cost_there;
	int64_t demand_mib, want_mib;
	double pressure_before, pressure_after, budget;
	char why[STORE_TEXT_MAX];
	char state_reason[STORE_TEXT_MAX]; /* operator's reason, "superseded by
	                                    * #N", "expired: ..." */
	int64_t superseded_by; /* 0 if not superseded */
	/* approved only: why the broker has not dispatched it yet, as it saw
	 * it at round wait_round ("" / 0: not looked at yet) */
	char wait_reason[STORE_TEXT_MAX];
	int64_t wait_round;
} store_rec;

/* Move rec `id` to state `to` if the transition from its current state is
 * legal, atomically (a concurrent writer cannot slip a transition in
 * between), and audit it with actor ("cli:<user>", "broker") and reason
 * (may be NULL). An illegal transition fails with a message such as
 * "recommendation 12 is rejected; it cannot be approved (only pending
 * ones can)"; an unknown id with "no recommendation 12"; a superseded one
 * names its replacement ("recommendation 12 is superseded by #15
 * (pending); it cannot be approved: see 'bourse recs show 15'"). An
 * approval of a kind of action in recommend mode is refused, in the same
 * transaction as the mode is read: there it would carry nothing out, and
 * a later change of mode must not carry it out unseen. */
int store_rec_transition(store *s, int64_t id, store_rec_state to,
			 const char *actor, const char *reason, int64_t now_ms,
			 char *err, size_t errlen);

/* Fetch one. Returns 0, or -1 ("no recommendation N") if it does not exist. */
int store_rec_get(store *s, int64_t id, store_rec *out, char *err,
		  size_t errlen);

/* List recommendations, newest first; state 0 means every state. limit 0
 * means no limit. */
int store_recs_list(store *s, store_rec_state state, size_t limit,
		    int (*cb)(const store_rec *, void *), void *ctx,
		    char *err, size_t errlen);

/* What store_recs_find() returns: those matching every filter set. */
typedef struct store_rec_filter {
	store_rec_state state; /* 0: every state */
	store_rec_kind kind;   /* 0: both kinds */
	const char *vm;        /* this VM's (by name); NULL: every VM */
	const char *host;      /* from or to this host (by name); NULL */
	size_t limit;          /* the newest N; 0: all */
} store_rec_filter;

/* Recommendations matching f, newest first (`bourse recs list`). */
int store_recs_find(store *s, const store_rec_filter *f,
		    int (*cb)(const store_rec *, void *), void *ctx,
		    char *err, size_t errlen);

/* ---- audit log --------------------------------------------------------- */

typedef struct store_audit_row {
	int64_t id;
	int64_t ts_ms;
	char actor[STORE_NAME_MAX];
	char event[64];   /* "rec.approved", "host.lost", ... */
	int64_t rec_id;   /* 0 if not about a recommendation */
	char detail[STORE_TEXT_MAX];
} store_audit_row;

/* Append an audit entry (for events outside a transition: host lost, ...). */
int store_audit(store *s, const char *actor, const char *event,
		int64_t rec_id, const char *detail, int64_t now_ms, char *err,
		size_t errlen);

/* The audit log for one rec (rec_id > 0) or all of it, oldest first. */
int store_audit_list(store *s, int64_t rec_id,
		     int (*cb)(const store_audit_row *, void *), void *ctx,
		     char *err, size_t errlen);

/* ---- control: modes and the kill switch ------------------------------- */

/* What the broker may do with a recommendation of one kind of action. */
typedef enum store_mode {
	STORE_MODE_RECOMMEND = 0, /* store it; nothing changes (the default) */
	STORE_MODE_MANUAL = 1,    /* dispatch it once an operator approves */
	STORE_MODE_AUTOMATED = 2, /* approve and dispatch it by itself */
} store_mode;

/* The kinds of action a mode is set for. */
typedef enum store_action {
	STORE_ACT_RESIZE_UP = 0,
	STORE_ACT_RESIZE_DOWN,
	STORE_ACT_MIGRATE,
	STORE_N_ACTS
} store_action;

/* The one row of control state, as the CLI set it last. */
typedef struct store_control {
	store_mode mode[STORE_N_ACTS];
	int paused;                        /* 1: dispatch nothing */
	char pause_reason[STORE_TEXT_MAX];
	int64_t updated_ms;                /* 0: never set */
	char updated_by[STORE_NAME_MAX];
} store_control;

/* "recommend", "resize-up", ... and back. parse returns 0, or -1. */
const char *store_mode_name(store_mode m);
int store_mode_parse(const char *name, store_mode *out);
const char *store_action_name(store_action a);
int store_action_parse(const char *name, store_action *out);

/* Read the control row. A file this bourse creates has resize-up and
 * resize-down automated and migrate manual (updated_ms 0 until a change);
 * a file upgraded from an older version keeps the modes it had. Not
 * paused. */
int store_control_get(store *s, store_control *out, char *err,
		      size_t errlen);

/* Set the mode of one action kind, or of every kind with act =
 * STORE_N_ACTS. Audited ("mode.set", "resize-up: recommend -> manual").
 * Setting recommend withdraws, in the same transaction, every approved
 * (not dispatched) recommendation of that kind: rejected, audited as
 * rec.cancelled; *withdrawn (may be NULL) gets how many. */
int store_mode_set(store *s, store_action act, store_mode m,
		   const char *actor, int64_t now_ms, uint32_t *withdrawn,
		   char *err, size_t errlen);

/* When an action on this VM was last dispatched or finished (Unix ms of
 * the latest dispatched, succeeded or failed recommendation's last state
 * change), 0 if never: the broker's per-VM cooldown. */
int store_vm_last_action_ms(store *s, uint32_t vm_id, int64_t *ms, char *err,
			    size_t errlen);

/* The kill switch: paused = 1 stops all dispatching until paused = 0.
 * reason may be NULL. Audited ("dispatch.paused" / "dispatch.resumed"). */
int store_pause_set(store *s, int paused, const char *actor,
		    const char *reason, int64_t now_ms, char *err,
		    size_t errlen);

/* ---- approvals (schema 6; docs/storage.md, "Approvals") --------------- */

/* The kind of action a recommendation is, for its mode: migrate, or a
 * resize up or down by its sizes. */
store_action store_rec_action(const store_rec *r);

/* Withdraw the approval of rec `id` (approved -> rejected, reason
 * "approval withdrawn[: reason]"), audited as rec.cancelled by actor.
 * Anything but an approved rec is refused with what it is instead:
 * "recommendation 12 is dispatched: its agent has it already; it cannot
 * be withdrawn ...", "... is pending: there is no approval to withdraw
 * (bourse recs reject 12)", a superseded one naming its replacement. */
int store_rec_cancel(store *s, int64_t id, const char *actor,
		     const char *reason, int64_t now_ms, char *err,
		     size_t errlen);

/* The newest open (pending or approved) rec of a VM, 0 if none: only that
 * one may be dispatched (an approved rec of the other kind, older, waits or
 * expires). */
int store_vm_newest_open(store *s, uint32_t vm_id, int64_t *id, char *err,
			 size_t errlen);

/* The broker: approved rec `id` waits, for `why`, as seen in `round`.
 * Written only when the reason changed (one UPDATE, no audit: not a state
 * change); a rec no longer approved is left alone. Cleared by every
 * change of state. */
int store_rec_set_wait(store *s, int64_t id, int64_t round, const char *why,
		       char *err, size_t errlen);

/* ---- shadow scoring ---------------------------------------------------- */

/* How one kind of recommendation fared, over every scored one. A
 * recommendation is scored on the VM's samples in the score_rounds rounds
 * after the last round that made it, whether or not it was carried out
 * (docs/storage.md "Shadow scoring"): observed pressure = the peak demand
 * over the recommended size * 100, against the market's predicted
 * pressure_after. It was right if the recommended size would have held the
 * peak (observed <= 100) and, for a growth, the old size would not have
 * (the peak plus the VM's buffer was above it). */
typedef struct store_score_row {
	int64_t scored, correct;
	int64_t carried_out, carried_out_correct; /* of those that succeeded */
	double mean_abs_error; /* mean |observed - predicted| pressure points */
} store_score_row;

/* One row per action kind (indexed by store_action) and the total at
 * [STORE_N_ACTS]. */
int store_score_stats(store *s, store_score_row out[STORE_N_ACTS + 1],
		      char *err, size_t errlen);

/* ---- status views (store_views.c) --------------------------------------
 * What `bourse status`, `events`, `signals` and `hosts` read beyond the
 * rows above, and the broker's own row: whether it runs (schema v7). */

/* The broker's row: written by the broker when it starts, after every
 * round it persisted (the heartbeat) and when it stops cleanly. */
typedef struct store_broker_status {
	int known;           /* 0: no broker ever ran on this file */
	int64_t started_ms;  /* Unix ms it last started */
	int64_t heartbeat_ms; /* Unix ms of its last heartbeat */
	int64_t stopped_ms;  /* Unix ms it stopped cleanly; 0: running, or
	                      * it died without saying so (SIGKILL, crash) */
	int64_t round_ms;    /* its round period */
	int64_t pid;
	char endpoint[STORE_TEXT_MAX];
} store_broker_status;

/* The broker started (stopped_ms back to 0); audited "broker.started". */
int store_broker_started(store *s, const store_broker_status *b,
			 char *err, size_t errlen);
/* The heartbeat: heartbeat_ms = now_ms. Not audited. */
int store_broker_beat(store *s, int64_t now_ms, char *err, size_t errlen);
/* The broker stops cleanly; audited "broker.stopped". */
int store_broker_stopped(store *s, int64_t now_ms, char *err, size_t errlen);
/* Read the row (out->known = 0 if there is none). */
int store_broker_get(store *s, store_broker_status *out, char *err,
		     size_t errlen);

/* A host whose figures cannot be true (its VMs report more assigned memory
 * than its capacity): the broker leaves it out of the market while so
 * (docs/market.md, "What the market is given"). */
typedef struct store_host_flag {
	uint32_t host_id;
	char host_name[STORE_NAME_MAX];
	int bad_data;  /* 1: flagged now */
	int64_t since_ms; /* when it was flagged or cleared last */
	char detail[STORE_TEXT_MAX];
} store_host_flag;

/* Set or clear a host's bad-data flag. Audited ("host.bad_data",
 * "host.data_ok", detail "<host>: ...") only when the flag changes. */
int store_host_flag_set(store *s, uint32_t host_id, int bad_data,
			const char *detail, int64_t now_ms, char *err,
			size_t errlen);
/* Every host that has a flag row (set or cleared), by host id. */
int store_host_flags_list(store *s,
			  int (*cb)(const store_host_flag *, void *),
			  void *ctx, char *err, size_t errlen);

/* The audit log with the names it is about, for `bourse events`. */
typedef struct store_event_row {
	store_audit_row a;
	char vm[STORE_NAME_MAX];        /* a recommendation's VM, or "" */
	char from_host[STORE_NAME_MAX]; /* its host, a host event's host */
	char to_host[STORE_NAME_MAX];   /* a migration's target, or "" */
} store_event_row;

typedef struct store_event_filter {
	int64_t since_ms;  /* only entries at or after; 0: all */
	const char *event; /* "host" matches host.*, or a whole name; NULL */
	const char *host;  /* about this host (either end of a migration) */
	const char *vm;    /* about this VM */
	size_t limit;      /* the newest N; 0: all */
} store_event_filter;

/* Entries matching every filter set, oldest first (the newest `limit`). */
int store_events_list(store *s, const store_event_filter *f,
		      int (*cb)(const store_event_row *, void *), void *ctx,
		      char *err, size_t errlen);

/* One signal of one round, for `bourse signals` and `bourse status`. */
typedef struct store_signal_view {
	int64_t round, started_ms;
	int kind;          /* 1 provision, 2 suspend */
	char host_name[STORE_NAME_MAX]; /* "" for provision */
	int64_t mib;
} store_signal_view;

/* Signals, oldest first: of round `round` only (> 0), or the newest
 * `limit` of every round (round 0; limit 0: all); kind 0: both kinds. */
int store_signals_list(store *s, int64_t round, int kind, size_t limit,
		       int (*cb)(const store_signal_view *, void *),
		       void *ctx, char *err, size_t errlen);

/* The last round's row (round = 0 if none). */
typedef struct store_round_info {
	int64_t round, started_ms, duration_ms;
	int64_t n_hosts, n_vms, n_recs;
} store_round_info;

int store_round_info_last(store *s, store_round_info *out, char *err,
			  size_t errlen);

/* How many recommendations are in each state, indexed by store_rec_state
 * (out[0] unused). */
int store_rec_counts(store *s, int64_t out[STORE_REC_FAILED + 1], char *err,
		     size_t errlen);

/* The same by kind too: out[kind][state], indexed by store_rec_kind and
 * store_rec_state (row and column 0 unused). One query, whatever the
 * number of recommendations (the broker's /metrics). */
int store_rec_counts_by_kind(store *s,
			     int64_t out[STORE_REC_MIGRATE + 1]
					[STORE_REC_FAILED + 1],
			     char *err, size_t errlen);

/* PRAGMA data_version: changes when another connection commits to the
 * file (for --watch). */
int store_data_version(store *s, int64_t *out, char *err, size_t errlen);

/* ---- series over rounds (store_series.c) -------------------------------
 * Figures round by round over a range, for `bourse plot`. A range is
 * [from, to], rounds inclusive; 0 for either end leaves it open. */

/* The rounds written in a range: how many, the first and last, and when
 * they started (Unix ms); all 0 if there are none. */
typedef struct store_series_span {
	int64_t n_rounds, first, last, first_ms, last_ms;
} store_series_span;

int store_series_rounds(store *s, int64_t from, int64_t to,
			store_series_span *out, char *err, size_t errlen);

/* One host in one round (a row of prices). */
typedef struct store_host_point {
	int64_t round, started_ms;
	char host_name[STORE_NAME_MAX];
	double price;       /* credits per MiB */
	double utilization; /* wanted / supply: may exceed 1 */
	int64_t supply_mib, awarded_mib;
} store_host_point;

/* One VM in one round: its sample, and the market's target if the round
 * allocated it (0 if not). */
typedef struct store_vm_point {
	int64_t round, started_ms;
	char vm_name[STORE_NAME_MAX];
	char host_name[STORE_NAME_MAX]; /* where it bid from */
	int64_t demand_mib, assigned_mib, target_mib;
} store_vm_point;

/* Every host's (VM's) points in the range, by name then round. */
int store_host_series(store *s, int64_t from, int64_t to,
		      int (*cb)(const store_host_point *, void *), void *ctx,
		      char *err, size_t errlen);
int store_vm_series(store *s, int64_t from, int64_t to,
		    int (*cb)(const store_vm_point *, void *), void *ctx,
		    char *err, size_t errlen);

/* ---- host maintenance (store_drain.c, schema v8) ---------------------- */

/* A draining host (`bourse host drain`): no migration target, and its VMs
 * are moved off (docs/operations.md, "Host maintenance"). */
typedef struct store_host_drain {
	uint32_t host_id;
	char host_name[STORE_NAME_MAX];
	int64_t since_ms;              /* Unix ms it was drained */
	char actor[STORE_TEXT_MAX];    /* who drained it: "cli:<user>" */
	char reason[STORE_TEXT_MAX];   /* --reason, or "" */
} store_host_drain;

/* Drain (draining 1) or undrain (0) the host named host: one transaction
 * with its audit entry ("host.drain", "host.undrain", detail "<host>" or
 * "<host>: <reason>"). Draining a draining host, or undraining one that is
 * not, changes nothing and audits nothing: *changed (if not NULL) says
 * whether it changed. An unknown host name is an error naming it. */
int store_host_drain_set(store *s, const char *host, int draining,
			 const char *actor, const char *reason, int64_t now_ms,
			 int *changed, char *err, size_t errlen);

/* Every draining host, by host id. */
int store_host_drains_list(store *s,
			   int (*cb)(const store_host_drain *, void *),
			   void *ctx, char *err, size_t errlen);

#endif
