/*
 * test_store.c - the SQLite store: opening, WAL, migrations and refusals,
 * every transition of the recommendation state machine, two handles on one
 * file, round writes (refresh, supersede, expire, rollback, retention), the
 * lists, and a 10,000-VM round.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fixture.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "market.h"
#include "store.h"
#include "util.h"
#include "banned.h"

#define T0 INT64_C(1700000000000) /* Unix ms of the first round */
#define MIN_MS INT64_C(60000)
#define N_HOSTS 3
#define N_VMS 64

/* ---- helpers ---- */

static char *make_dir(void)
{
	char tmpl[] = "/tmp/bourse_store_test_XXXXXX";
	char *d = mkdtemp(tmpl);

	assert_non_null(d);
	return strdup(d);
}

static void rm_dir(char *dir)
{
	assert_int_equal(remove_all(dir), 0);
	free(dir);
}

/* One integer from a query on a raw connection to path. */
/* The integer the query (printf format: store.h's numbers go in as %d)
 * gives, read with plain SQLite. */
static int64_t raw_int(const char *path, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int64_t raw_int(const char *path, const char *fmt, ...)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char sql[1024];
	va_list ap;
	int n;
	int64_t v;

	va_start(ap, fmt);
	n = vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < sizeof(sql));
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void raw_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	char *msg = NULL;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
					 SQLITE_OPEN_CREATE, NULL), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
	sqlite3_close(db);
}

/* The whole schema as text (type, name, sql of every object). */
static char *raw_schema(const char *path)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	size_t cap = 1 << 16, n = 0;
	char *out = calloc(1, cap);

	assert_non_null(out);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT type, name, "
		"COALESCE(sql, '') FROM sqlite_master ORDER BY name", -1, &st,
		NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		n += (size_t)snprintf(out + n, cap - n, "%s %s %s\n",
				      sqlite3_column_text(st, 0),
				      sqlite3_column_text(st, 1),
				      sqlite3_column_text(st, 2));
		assert_true(n < cap);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return out;
}

static int count_cb_audit(const store_audit_row *a, void *ctx)
{
	(void)a;
	(*(int *)ctx)++;
	return 0;
}

static int audit_count(store *s, int64_t rec_id)
{
	char err[256];
	int n = 0;

	assert_int_equal(store_audit_list(s, rec_id, count_cb_audit, &n, err,
					  sizeof err), 0);
	return n;
}

static store_rec get_rec(store *s, int64_t id)
{
	store_rec r;
	char err[256];

	if (store_rec_get(s, id, &r, err, sizeof err) != 0)
		fail_msg("%s", err);
	return r;
}

/* ---- fixture: a file with 3 hosts and 64 VMs ---- */

struct fx {
	char *dir;
	char path[1024];
	store *s;
	uint32_t host[N_HOSTS];
	uint32_t vm[N_VMS];
};

static void register_all(struct fx *f)
{
	static const char *const names[N_HOSTS] = { "h3", "h1", "h2" };
	char err[256];

	for (int i = 0; i < N_HOSTS; i++) {
		store_host_row h = { .capacity_mib = 65536, .reserve_mib = 1024,
				     .state = STORE_HOST_ONLINE,
				     .first_seen_ms = T0, .last_seen_ms = T0 };
		snprintf(h.name, sizeof h.name, "%s", names[i]);
		snprintf(h.uri, sizeof h.uri, "tcp://%s:7000", names[i]);
		if (store_host_upsert(f->s, &h, err, sizeof err) != 0)
			fail_msg("%s", err);
		f->host[i] = h.id;
	}
	for (int i = 0; i < N_VMS; i++) {
		store_vm_row v = { .host_id = f->host[i % N_HOSTS],
				   .startup_mib = 1024, .minimum_mib = 512,
				   .maximum_mib = 16384, .buffer_pct = 20,
				   .weight = 5000, .shares = 1000,
				   .state = STORE_VM_ACTIVE,
				   .first_seen_ms = T0, .last_seen_ms = T0,
				   .last_migrated_round = INT64_MIN };
		snprintf(v.name, sizeof v.name, "vm-%02d", N_VMS - 1 - i);
		if (store_vm_upsert(f->s, &v, err, sizeof err) != 0)
			fail_msg("%s", err);
		f->vm[i] = v.id;
	}
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[512];

	assert_non_null(f);
	f->dir = make_dir();
	snprintf(f->path, sizeof f->path, "%s/bourse.db", f->dir);
	if (store_open(f->path, STORE_CREATE, &f->s, err, sizeof err) != 0)
		fail_msg("%s", err);
	register_all(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	store_close(f->s);
	rm_dir(f->dir);
	free(f);
	return 0;
}

/* A round under construction: every host priced at `price`, every VM with
 * a sample and an allocation, and the recs added with rb_rec(). */
struct rb {
	store_round rd;
	store_price_row prices[N_HOSTS];
	store_alloc_row allocs[N_VMS];
	store_rec_in recs[N_VMS];
	store_signal_row signals[2];
};

static void rb_init(struct rb *b, const struct fx *f, int64_t round,
		    int64_t started_ms, double price)
{
	memset(b, 0, sizeof(*b));
	b->rd.round = round;
	b->rd.started_ms = started_ms;
	b->rd.duration_ms = 3;
	b->rd.msgs_in = (uint64_t)round * 100;
	for (int i = 0; i < N_HOSTS; i++) {
		store_price_row *p = &b->prices[i];
		p->host_id = f->host[i];
		p->supply_mib = 64512;
		p->wanted_mib = 32000 + i;
		p->awarded_mib = 30000 + 1000 * i;
		p->utilization = 0.5 + 0.1 * i;
		p->price = price;
	}
	for (int i = 0; i < N_VMS; i++) {
		store_alloc_row *a = &b->allocs[i];
		a->vm_id = f->vm[i];
		a->host_id = f->host[i % N_HOSTS];
		a->demand_mib = 1000 + i;
		a->assigned_mib = 2048;
		a->want_mib = 1200 + i;
		a->target_mib = 1300 + i;
		a->budget = 10;
		a->pressure = 50 + i;
	}
	b->rd.prices = b->prices;
	b->rd.n_prices = N_HOSTS;
	b->rd.allocs = b->allocs;
	b->rd.n_allocs = N_VMS;
	b->rd.recs = b->recs;
	b->rd.signals = b->signals;
}

/* Add a rec for VM index v; to < 0 for a resize. Prices from the round. */
static store_rec_in *rb_rec(struct rb *b, const struct fx *f, int v, int to,
			    int64_t to_mib)
{
	store_rec_in *r = &b->recs[b->rd.n_recs++];
	int from = v % N_HOSTS;

	memset(r, 0, sizeof(*r));
	r->kind = to < 0 ? STORE_REC_RESIZE : STORE_REC_MIGRATE;
	r->vm_id = f->vm[v];
	r->from_host_id = f->host[from];
	r->to_host_id = to < 0 ? 0 : f->host[to];
	r->from_mib = 2048;
	r->to_mib = to_mib;
	r->price_here = b->prices[from].price;
	r->price_there = to < 0 ? 0 : b->prices[to].price;
	r->cost_here = r->price_here * (double)to_mib;
	r->cost_there = to < 0 ? r->cost_here : r->price_there * (double)to_mib;
	r->demand_mib = 1500;
	r->want_mib = to_mib;
	r->pressure_before = 1500.0 / 2048 * 100;
	r->pressure_after = 1500.0 / (double)to_mib * 100;
	r->budget = 100;
	snprintf(r->why, sizeof r->why, "round %lld says so",
		 (long long)b->rd.round);
	return r;
}

static store_round_outcome rb_write(struct rb *b, store *s,
				    const store_rec_policy *pol)
{
	store_round_outcome out;
	char err[512];

	if (store_round_write(s, &b->rd, pol, b->rd.started_ms, &out, err,
			      sizeof err) != 0)
		fail_msg("%s", err);
	return out;
}

/* ---- opening ---- */

static void test_open_create(void **state)
{
	char *dir = make_dir();
	char path[1024], err[512];
	store *s = NULL;

	(void)state;
	snprintf(path, sizeof path, "%s/new.db", dir);
	assert_int_equal(store_open(path, 0, &s, err, sizeof err), -1);
	assert_null(s);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "does not exist"));
	assert_int_equal(access(path, F_OK), -1); /* nothing created */

	assert_int_equal(store_open(path, STORE_CREATE, &s, err, sizeof err), 0);
	assert_int_equal(store_schema_version(s), STORE_SCHEMA_VERSION);
	store_close(s);
	assert_int_equal(raw_int(path, "PRAGMA user_version"),
			 STORE_SCHEMA_VERSION);
	/* read-only, and read-write without CREATE, open the existing file */
	assert_int_equal(store_open(path, STORE_READONLY, &s, err, sizeof err), 0);
	store_close(s);
	assert_int_equal(store_open(path, 0, &s, err, sizeof err), 0);
	store_close(s);
	store_close(NULL);
	rm_dir(dir);
}

static void test_reopen_keeps_data(void **state)
{
	struct fx *f = *state;
	struct rb b;
	char err[256];
	store_rec r;

	rb_init(&b, f, 1, T0, 1.0);
	rb_rec(&b, f, 0, -1, 4096);
	rb_write(&b, f->s, NULL);
	store_close(f->s);
	if (store_open(f->path, 0, &f->s, err, sizeof err) != 0)
		fail_msg("%s", err);
	int64_t last = 0;
	assert_int_equal(store_round_last(f->s, &last, err, sizeof err), 0);
	assert_int_equal(last, 1);
	r = get_rec(f->s, 1);
	assert_int_equal(r.to_mib, 4096);
	assert_string_equal(r.vm_name, "vm-63");
	assert_string_equal(r.why, "round 1 says so");
	assert_int_equal(raw_int(f->path, "SELECT COUNT(*) FROM vms"), N_VMS);
	assert_int_equal(raw_int(f->path, "SELECT COUNT(*) FROM samples"), N_VMS);
}

static void test_wal_and_pragmas(void **state)
{
	struct fx *f = *state;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char err[256];

	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY,
					 NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st,
					    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	sqlite3_close(db);

	/* foreign keys are enforced: a VM on a host that does not exist */
	store_vm_row v = { .host_id = 999, .state = STORE_VM_ACTIVE,
			   .last_migrated_round = INT64_MIN };
	snprintf(v.name, sizeof v.name, "orphan");
	assert_int_equal(store_vm_upsert(f->s, &v, err, sizeof err), -1);
	assert_string_equal(err, "cannot save VM 'orphan': no host 999");
}

/* ---- migrations and refusals ---- */

static void test_migrate_v1(void **state)
{
	char *dir = make_dir();
	char v1[1024], fresh[1024], err[512];
	store *s = NULL;

	(void)state;
	snprintf(v1, sizeof v1, "%s/v1.db", dir);
	snprintf(fresh, sizeof fresh, "%s/fresh.db", dir);
	assert_int_equal(store_create_at_version(v1, 1, err, sizeof err), 0);
	assert_int_equal(raw_int(v1, "PRAGMA user_version"), 1);
	assert_int_equal(raw_int(v1, "SELECT COUNT(*) FROM sqlite_master "
				 "WHERE name = 'signals'"), 0);
	/* data as bourse v1 wrote it */
	raw_exec(v1,
		 "INSERT INTO hosts VALUES (1, 'h1', '', 8192, 512, 1, 5, 6);"
		 "INSERT INTO vms VALUES (1, 'vm1', 1, 1024, 512, 4096, 20, "
		 " 5000, 0, 0, 1000, 1, 5, 6, NULL);"
		 "INSERT INTO rounds VALUES (7, 1000, 2, 1, 1, 2, 10, 0);"
		 "INSERT INTO samples VALUES (7, 1, 1, 900, 1024, 0, 0, 88);"
		 "INSERT INTO recs (id, round, created_ms, updated_ms, kind, state,"
		 " vm_id, from_host_id, from_mib, to_mib, price_here, price_there,"
		 " cost_here, cost_there, demand_mib, want_mib, pressure_before,"
		 " pressure_after, budget, why) VALUES"
		 " (1, 7, 1000, 1000, 1, 5, 1, 1, 1024, 2048, 1, 0, 2048, 2048,"
		 "  900, 1080, 88, 44, 3, 'old'),"
		 " (2, 7, 1000, 1000, 1, 1, 1, 1, 1024, 1536, 1, 0, 1536, 1536,"
		 "  900, 1080, 88, 58, 3, 'newer');"
		 "INSERT INTO audit VALUES (1, 1000, 'broker', 'rec.superseded',"
		 " 1, '');");

	assert_int_equal(store_open(v1, 0, &s, err, sizeof err), 0);
	assert_int_equal(store_schema_version(s), STORE_SCHEMA_VERSION);
	/* v5: marking a host's VMs lost or back goes through an index */
	assert_int_equal(raw_int(v1, "SELECT COUNT(*) FROM sqlite_master WHERE "
				 "type = 'index' AND name = 'vms_host'"), 1);
	store_rec r = get_rec(s, 2);
	assert_int_equal(r.round, 7);
	assert_int_equal(r.last_round, 7); /* backfilled by the migration */
	assert_int_equal(r.superseded_by, 0);
	assert_string_equal(r.why, "newer");
	assert_string_equal(r.vm_name, "vm1");
	r = get_rec(s, 1);
	assert_int_equal(r.state, STORE_REC_SUPERSEDED);
	assert_string_equal(r.state_reason,
			    "superseded (before schema 2 kept by which)");
	assert_int_equal(audit_count(s, 1), 1);
	/* and the upgraded file works at the current version; it keeps its
	 * modes (every kind recommend, as v3 made it), where an approval
	 * would carry nothing out: refused until the mode says otherwise */
	assert_int_equal(store_rec_transition(s, 2, STORE_REC_APPROVED, "t",
					      NULL, 2000, err, sizeof err), -1);
	assert_string_equal(err, "recommendation 2 is a resize-up, and "
			    "resize-up is in recommend mode, where an approval "
			    "carries nothing out; not approved (set 'bourse "
			    "mode manual --for resize-up' first, or reject it)");
	assert_int_equal(store_mode_set(s, STORE_ACT_RESIZE_UP,
					STORE_MODE_MANUAL, "t", 2000, NULL, err,
					sizeof err), 0);
	assert_int_equal(store_rec_transition(s, 2, STORE_REC_APPROVED, "t",
					      NULL, 2000, err, sizeof err), 0);
	store_close(s);
	assert_int_equal(raw_int(v1, "PRAGMA user_version"),
			 STORE_SCHEMA_VERSION);
	/* v3: the control row is there with its defaults */
	assert_int_equal(raw_int(v1, "SELECT COUNT(*) FROM control WHERE "
				 "mode_migrate = %d AND paused = 0",
				 STORE_MODE_RECOMMEND), 1);
	assert_int_equal(raw_int(v1, "SELECT COUNT(*) FROM samples"), 1);

	/* the upgraded file has exactly the schema of a fresh one */
	assert_int_equal(store_open(fresh, STORE_CREATE, &s, err, sizeof err), 0);
	store_close(s);
	char *a = raw_schema(v1), *b = raw_schema(fresh);
	assert_string_equal(a, b);
	free(a);
	free(b);
	rm_dir(dir);
}

/* Schema 9: a database's identity is made once: kept across reopening,
 * another for a file made anew, one for a file upgraded from v8 (and kept
 * from then on); the action ids on the wire carry it. */
static void test_db_identity(void **state)
{
	char *dir = make_dir();
	char a[1100], b[1100], v8[1100], err[512];
	uint64_t ua = 0, ua2 = 0, ub = 0, u8 = 0, u82 = 0;
	store *s = NULL;

	(void)state;
	snprintf(a, sizeof a, "%s/a.db", dir);
	snprintf(b, sizeof b, "%s/b.db", dir);
	snprintf(v8, sizeof v8, "%s/v8.db", dir);
	assert_int_equal(store_open(a, STORE_CREATE, &s, err, sizeof err), 0);
	assert_int_equal(store_db_uid(s, &ua, err, sizeof err), 0);
	store_close(s);
	assert_int_equal(store_open(a, 0, &s, err, sizeof err), 0);
	assert_int_equal(store_db_uid(s, &ua2, err, sizeof err), 0);
	store_close(s);
	assert_true(ua == ua2);
	/* the same path made anew: another identity */
	assert_int_equal(unlink(a), 0);
	assert_int_equal(store_open(a, STORE_CREATE, &s, err, sizeof err), 0);
	assert_int_equal(store_db_uid(s, &ua2, err, sizeof err), 0);
	store_close(s);
	assert_true(ua != ua2);
	assert_int_equal(store_open(b, STORE_CREATE, &s, err, sizeof err), 0);
	assert_int_equal(store_db_uid(s, &ub, err, sizeof err), 0);
	store_close(s);
	assert_true(ub != ua && ub != ua2);
	/* an upgraded file gets one, once */
	assert_int_equal(store_create_at_version(v8, 8, err, sizeof err), 0);
	assert_int_equal(raw_int(v8, "SELECT COUNT(*) FROM sqlite_master WHERE "
				 "name = 'db_identity'"), 0);
	assert_int_equal(store_open(v8, 0, &s, err, sizeof err), 0);
	assert_int_equal(store_db_uid(s, &u8, err, sizeof err), 0);
	store_close(s);
	assert_int_equal(store_open(v8, STORE_READONLY, &s, err, sizeof err), 0);
	assert_int_equal(store_db_uid(s, &u82, err, sizeof err), 0);
	store_close(s);
	assert_true(u8 == u82 && u8 != ua && u8 != ub);
	assert_int_equal(raw_int(v8, "SELECT COUNT(*) FROM db_identity"), 1);
	rm_dir(dir);
}

/* Issue 17, bug 6: no new recommendation for a VM whose action is in
 * flight, nor for settle_rounds rounds after it succeeded (the market saw
 * the VM before its action took effect); an open recommendation whose VM
 * is now on another host expires, approved or pending. */
static void test_unsettled_and_moved(void **state)
{
	struct fx *f = *state;
	struct rb b;
	char err[512], sql[200];
	store_round_outcome o;
	store_rec r;

	rb_init(&b, f, 1, T0, 1.0);
	rb_rec(&b, f, 0, -1, 4096);
	rb_rec(&b, f, 1, 2, 4096); /* VM 1: host 1 -> host 2 */
	assert_int_equal(rb_write(&b, f->s, NULL).inserted, 2);
	assert_int_equal(store_mode_set(f->s, STORE_ACT_MIGRATE,
					STORE_MODE_MANUAL, "t", T0, NULL, err,
					sizeof err), 0);
	for (int64_t id = 1; id <= 2; id++)
		assert_int_equal(store_rec_transition(f->s, id,
			STORE_REC_APPROVED, "t", NULL, T0, err, sizeof err), 0);
	assert_int_equal(store_rec_transition(f->s, 1, STORE_REC_DISPATCHED,
		"broker", NULL, T0 + 100, err, sizeof err), 0);
	/* in flight: the same resize again is left out, rec 1 untouched,
	 * even if the VM bid since (it bid before the result) */
	rb_init(&b, f, 2, T0 + 1000, 1.0);
	rb_rec(&b, f, 0, -1, 4096)->heard_since = 1;
	o = rb_write(&b, f->s, NULL);
	assert_int_equal(o.inserted + o.refreshed, 0);
	assert_int_equal(o.unsettled, 1);
	/* done after round 2 was written (done_round 2): rounds 3 and 4
	 * (settle_rounds 2) leave it out too, while the VM has not bid since
	 * the result */
	assert_int_equal(store_rec_transition(f->s, 1, STORE_REC_SUCCEEDED,
		"agent", "done", T0 + 1500, err, sizeof err), 0);
	rb_init(&b, f, 3, T0 + 2000, 1.0);
	rb_rec(&b, f, 0, -1, 4096);
	o = rb_write(&b, f->s, NULL);
	assert_int_equal(o.inserted, 0);
	assert_int_equal(o.unsettled, 1);
	/* round 4 would too, but the VM bid after the result: the market
	 * saw the action done (broker/round.c, heard_since()) */
	rb_init(&b, f, 4, T0 + 3000, 1.0);
	rb_rec(&b, f, 0, -1, 4096)->heard_since = 1;
	o = rb_write(&b, f->s, NULL);
	assert_int_equal(o.inserted, 1);
	assert_int_equal(o.unsettled, 0);
	/* round 5 looks back to round 3, after it: the market's view is
	 * settled, heard or not */
	rb_init(&b, f, 5, T0 + 4000, 1.0);
	rb_rec(&b, f, 0, -1, 4096);
	o = rb_write(&b, f->s, NULL);
	assert_int_equal(o.inserted + o.refreshed, 1);
	assert_int_equal(o.unsettled, 0);
	/* VM 1 moved to host 2 (by any means): its approved migration from
	 * host 1 expires at the next round, saying why */
	assert_int_equal(get_rec(f->s, 2).state, STORE_REC_APPROVED);
	snprintf(sql, sizeof sql, "UPDATE vms SET host_id = %u WHERE id = %u",
		 f->host[2], f->vm[1]);
	raw_exec(f->path, sql);
	rb_init(&b, f, 6, T0 + 5000, 1.0);
	o = rb_write(&b, f->s, NULL);
	assert_int_equal(o.expired, 1);
	r = get_rec(f->s, 2);
	assert_int_equal(r.state, STORE_REC_EXPIRED);
	assert_non_null(strstr(r.state_reason, "the VM is no longer on h1"));
	assert_non_null(strstr(r.state_reason, "now on h2"));
}

static void test_create_at_version_errors(void **state)
{
	struct fx *f = *state;
	char err[512], path[1100];

	assert_int_equal(store_create_at_version(f->path, 1, err, sizeof err), -1);
	assert_non_null(strstr(err, "already exists"));
	snprintf(path, sizeof path, "%s/x.db", f->dir);
	assert_int_equal(store_create_at_version(path, 0, err, sizeof err), -1);
	assert_int_equal(store_create_at_version(path, STORE_SCHEMA_VERSION + 1,
						 err, sizeof err), -1);
	assert_int_equal(access(path, F_OK), -1);
}

static void test_newer_refused(void **state)
{
	struct fx *f = *state;
	char err[512], want[1300];
	store *s = NULL;

	store_close(f->s);
	f->s = NULL;
	raw_exec(f->path, "PRAGMA user_version = 99");
	snprintf(want, sizeof want, "database %s has schema version 99, newer "
		 "than this bourse supports (%d); upgrade bourse", f->path,
		 STORE_SCHEMA_VERSION);
	assert_int_equal(store_open(f->path, 0, &s, err, sizeof err), -1);
	assert_string_equal(err, want);
	assert_int_equal(store_open(f->path, STORE_READONLY, &s, err,
				    sizeof err), -1);
	assert_string_equal(err, want);
	assert_null(s);
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 99);
}

static void test_readonly(void **state)
{
	char *dir = make_dir();
	char path[1024], err[512];
	store *s = NULL;

	(void)state;
	snprintf(path, sizeof path, "%s/missing.db", dir);
	assert_int_equal(store_open(path, STORE_READONLY | STORE_CREATE, &s,
				    err, sizeof err), -1);
	assert_non_null(strstr(err, path));
	assert_int_equal(access(path, F_OK), -1);

	/* an older file is not upgraded by a reader */
	assert_int_equal(store_create_at_version(path, 1, err, sizeof err), 0);
	assert_int_equal(store_open(path, STORE_READONLY, &s, err, sizeof err),
			 -1);
	assert_non_null(strstr(err, "schema version 1, older"));
	assert_non_null(strstr(err, "bourse broker"));
	assert_int_equal(raw_int(path, "PRAGMA user_version"), 1);

	/* a reader cannot write */
	assert_int_equal(store_open(path, 0, &s, err, sizeof err), 0);
	store_close(s);
	assert_int_equal(store_open(path, STORE_READONLY, &s, err, sizeof err), 0);
	store_host_row h = { .state = STORE_HOST_ONLINE };
	snprintf(h.name, sizeof h.name, "h");
	assert_int_equal(store_host_upsert(s, &h, err, sizeof err), -1);
	assert_non_null(strstr(err, "read-only"));
	assert_int_equal(store_rec_transition(s, 1, STORE_REC_APPROVED, "t",
					      NULL, 1, err, sizeof err), -1);
	assert_non_null(strstr(err, "read-only"));
	store_close(s);
	rm_dir(dir);
}

static void test_not_sqlite(void **state)
{
	char *dir = make_dir();
	char path[1024], err[512];
	store *s = NULL;
	FILE *fp;

	(void)state;
	snprintf(path, sizeof path, "%s/notes.txt", dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	for (int i = 0; i < 100; i++)
		fputs("this is not a database at all\n", fp);
	fclose(fp);
	assert_int_equal(store_open(path, 0, &s, err, sizeof err), -1);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "is not a bourse database"));
	assert_int_equal(store_open(path, STORE_READONLY, &s, err, sizeof err),
			 -1);
	assert_non_null(strstr(err, "is not a bourse database"));

	/* somebody else's SQLite file is left alone */
	snprintf(path, sizeof path, "%s/other.db", dir);
	raw_exec(path, "CREATE TABLE t (x)");
	assert_int_equal(store_open(path, 0, &s, err, sizeof err), -1);
	assert_non_null(strstr(err, "not a bourse one"));
	assert_int_equal(raw_int(path, "SELECT COUNT(*) FROM sqlite_master"), 1);
	rm_dir(dir);
}

/* ---- the state machine ---- */

/* The legal transitions, written out independently of store.c. */
static int expect_legal(store_rec_state from, store_rec_state to)
{
	switch (from) {
	case STORE_REC_PENDING:
		return to == STORE_REC_APPROVED || to == STORE_REC_REJECTED ||
		       to == STORE_REC_EXPIRED || to == STORE_REC_SUPERSEDED;
	case STORE_REC_APPROVED:
		return to == STORE_REC_DISPATCHED || to == STORE_REC_REJECTED ||
		       to == STORE_REC_EXPIRED || to == STORE_REC_SUPERSEDED;
	case STORE_REC_DISPATCHED:
		return to == STORE_REC_SUCCEEDED || to == STORE_REC_FAILED;
	default: return 0;
	}
}

/* Drive pending rec id to state `st` along legal transitions. */
static void drive_to(store *s, int64_t id, store_rec_state st)
{
	static const store_rec_state path[][4] = {
		[STORE_REC_PENDING] = { 0 },
		[STORE_REC_APPROVED] = { STORE_REC_APPROVED },
		[STORE_REC_REJECTED] = { STORE_REC_REJECTED },
		[STORE_REC_EXPIRED] = { STORE_REC_EXPIRED },
		[STORE_REC_SUPERSEDED] = { STORE_REC_SUPERSEDED },
		[STORE_REC_DISPATCHED] = { STORE_REC_APPROVED,
					   STORE_REC_DISPATCHED },
		[STORE_REC_SUCCEEDED] = { STORE_REC_APPROVED,
					  STORE_REC_DISPATCHED,
					  STORE_REC_SUCCEEDED },
		[STORE_REC_FAILED] = { STORE_REC_APPROVED, STORE_REC_DISPATCHED,
				       STORE_REC_FAILED },
	};
	char err[256];

	for (int i = 0; i < 4 && path[st][i]; i++)
		if (store_rec_transition(s, id, path[st][i], "test", "setup", T0,
					 err, sizeof err) != 0)
			fail_msg("%s", err);
	assert_int_equal(get_rec(s, id).state, st);
}

static void test_transitions_all_pairs(void **state)
{
	struct fx *f = *state;
	struct rb b;
	char err[256], reason[64];
	int n = 0;

	rb_init(&b, f, 1, T0, 1.0);
	for (int v = 0; v < N_VMS; v++)
		rb_rec(&b, f, v, -1, 4096);
	assert_int_equal(rb_write(&b, f->s, NULL).inserted, N_VMS);

	for (int from = STORE_REC_PENDING; from <= STORE_REC_FAILED; from++) {
		for (int to = STORE_REC_PENDING; to <= STORE_REC_FAILED; to++) {
			int64_t id = ++n;
			int legal = expect_legal(from, to);

			assert_int_equal(store_rec_transition_ok(from, to), legal);
			drive_to(f->s, id, from);
			int before = audit_count(f->s, id);
			snprintf(reason, sizeof reason, "%d->%d", from, to);
			int rc = store_rec_transition(f->s, id, to, "cli:tester",
						      reason, T0 + 5, err,
						      sizeof err);
			store_rec r = get_rec(f->s, id);
			if (legal) {
				if (rc != 0)
					fail_msg("%d->%d: %s", from, to, err);
				assert_int_equal(r.state, to);
				assert_string_equal(r.state_reason, reason);
				assert_int_equal(r.updated_ms, T0 + 5);
				assert_int_equal(audit_count(f->s, id), before + 1);
			} else {
				char want[128];
				assert_int_equal(rc, -1);
				assert_int_equal(r.state, from);
				assert_int_equal(audit_count(f->s, id), before);
				snprintf(want, sizeof want,
					 "recommendation %lld is %s; it cannot be ",
					 (long long)id, store_rec_state_name(from));
				assert_memory_equal(err, want, strlen(want));
			}
		}
	}
	assert_int_equal(store_rec_transition_ok(0, STORE_REC_APPROVED), 0);
	assert_int_equal(store_rec_transition_ok(STORE_REC_PENDING, 9), 0);
}

static int last_audit_cb(const store_audit_row *a, void *ctx)
{
	*(store_audit_row *)ctx = *a;
	return 0;
}

static void test_transition_messages(void **state)
{
	struct fx *f = *state;
	struct rb b;
	char err[256];
	store_audit_row a;

	rb_init(&b, f, 1, T0, 1.0);
	rb_rec(&b, f, 0, -1, 4096);
	rb_rec(&b, f, 1, -1, 4096);
	rb_write(&b, f->s, NULL);
	assert_int_equal(store_rec_transition(f->s, 1, STORE_REC_REJECTED,
		"cli:ann", "not now", T0 + 9, err, sizeof err), 0);
	assert_int_equal(store_audit_list(f->s, 1, last_audit_cb, &a, err,
					  sizeof err), 0);
	assert_string_equal(a.event, "rec.rejected");
	assert_string_equal(a.actor, "cli:ann");
	assert_string_equal(a.detail, "not now");
	assert_int_equal(a.rec_id, 1);
	assert_int_equal(a.ts_ms, T0 + 9);

	assert_int_equal(store_rec_transition(f->s, 1, STORE_REC_APPROVED,
		"cli:ann", NULL, T0, err, sizeof err), -1);
	assert_string_equal(err, "recommendation 1 is rejected; it cannot be "
			    "approved (only pending ones can)");
	assert_int_equal(store_rec_transition(f->s, 2, STORE_REC_SUCCEEDED,
		"broker", NULL, T0, err, sizeof err), -1);
	assert_string_equal(err, "recommendation 2 is pending; it cannot be "
			    "marked succeeded (only dispatched ones can)");
	assert_int_equal(store_rec_transition(f->s, 2, STORE_REC_PENDING,
		"broker", NULL, T0, err, sizeof err), -1);
	assert_string_equal(err, "recommendation 2 is pending; it cannot be "
			    "made pending (no state leads there)");
	assert_int_equal(store_rec_transition(f->s, 12, STORE_REC_APPROVED,
		"cli:ann", NULL, T0, err, sizeof err), -1);
	assert_string_equal(err, "no recommendation 12");
	store_rec r;
	assert_int_equal(store_rec_get(f->s, 12, &r, err, sizeof err), -1);
	assert_string_equal(err, "no recommendation 12");

	store_rec_state st;
	assert_int_equal(store_rec_state_parse("dispatched", &st), 0);
	assert_int_equal(st, STORE_REC_DISPATCHED);
	assert_int_equal(store_rec_state_parse("bogus", &st), -1);
	assert_string_equal(store_rec_state_name(STORE_REC_FAILED), "failed");
	assert_string_equal(store_rec_kind_name(STORE_REC_MIGRATE), "migrate");
}

/* ---- two handles ---- */

static void test_two_handles_no_lost_update(void **state)
{
	struct fx *f = *state;
	store *other = NULL;
	struct rb b;
	char err[512];

	if (store_open(f->path, 0, &other, err, sizeof err) != 0)
		fail_msg("%s", err);
	rb_init(&b, f, 1, T0, 1.0);
	rb_rec(&b, f, 0, -1, 4096);
	rb_rec(&b, f, 1, -1, 4096);
	rb_write(&b, f->s, NULL);

	/* the CLI has seen rec 1 pending; the broker supersedes it first */
	assert_int_equal(get_rec(other, 1).state, STORE_REC_PENDING);
	rb_init(&b, f, 2, T0 + 1000, 1.0);
	rb_rec(&b, f, 0, 1, 8192);
	assert_int_equal(rb_write(&b, f->s, NULL).superseded, 1);
	assert_int_equal(store_rec_transition(other, 1, STORE_REC_APPROVED,
		"cli:x", NULL, T0, err, sizeof err), -1);
	assert_string_equal(err, "recommendation 1 is superseded by #3 "
			    "(pending); it cannot be approved: see 'bourse "
			    "recs show 3'");

	/* the CLI approves rec 2 first; the broker's different rec of the
	 * same kind for the VM supersedes the approval too: only the newest
	 * is carried out */
	assert_int_equal(store_rec_transition(other, 2, STORE_REC_APPROVED,
		"cli:x", NULL, T0, err, sizeof err), 0);
	rb_init(&b, f, 3, T0 + 2000, 1.0);
	rb_rec(&b, f, 1, -1, 8192);
	store_round_outcome o = rb_write(&b, f->s, NULL);
	assert_int_equal(o.inserted, 1);
	assert_int_equal(o.superseded, 1);
	store_rec r = get_rec(f->s, 2);
	assert_int_equal(r.state, STORE_REC_SUPERSEDED);
	assert_int_equal(r.superseded_by, 4);
	assert_string_equal(r.state_reason, "superseded by #4 (it was "
			    "approved: the approval does not carry over)");
	assert_int_equal(get_rec(f->s, 4).state, STORE_REC_PENDING);
	/* and a chain names the latest */
	rb_init(&b, f, 4, T0 + 3000, 1.0);
	rb_rec(&b, f, 1, -1, 512);
	rb_write(&b, f->s, NULL);
	assert_int_equal(store_rec_transition(other, 2, STORE_REC_APPROVED,
		"cli:x", NULL, T0, err, sizeof err), -1);
	assert_string_equal(err, "recommendation 2 is superseded by #4, and "
			    "that one in turn: the latest is #5 (pending); it "
			    "cannot be approved: see 'bourse recs show 5'");
	store_close(other);
}

struct writer_arg {
	struct fx *f;
	int rounds;
	char err[512];
	int rc;
};

/* The broker: every round recommends every VM a new size, superseding the
 * previous rec. */
static void *writer(void *p)
{
	struct writer_arg *w = p;
	struct rb *b = malloc(sizeof(*b));
	struct timespec pause = { 0, 2 * 1000 * 1000 };
	store *s = NULL;

	w->rc = store_open(w->f->path, 0, &s, w->err, sizeof w->err);
	for (int r = 1; w->rc == 0 && r <= w->rounds; r++) {
		rb_init(b, w->f, r, T0 + r, 1.0);
		for (int v = 0; v < 8; v++)
			rb_rec(b, w->f, v, -1, 1024 * (1 + r % 2));
		w->rc = store_round_write(s, &b->rd, NULL, T0 + r, NULL, w->err,
					  sizeof w->err);
		nanosleep(&pause, NULL); /* let the operator in */
	}
	store_close(s);
	free(b);
	return NULL;
}

/* A rec's audit trail must be a legal path from pending to its state. */
struct trail {
	store_rec_state st;
	int bad;
};

static int trail_cb(const store_audit_row *a, void *ctx)
{
	struct trail *t = ctx;
	store_rec_state to;

	assert_memory_equal(a->event, "rec.", 4);
	assert_int_equal(store_rec_state_parse(a->event + 4, &to), 0);
	if (!store_rec_transition_ok(t->st, to))
		t->bad++;
	t->st = to;
	return 0;
}

struct pending_ids {
	int64_t id[8];
	uint32_t vm[8];
	int n;
};

static int pending_cb(const store_rec *r, void *ctx)
{
	struct pending_ids *p = ctx;

	p->vm[p->n] = r->vm_id;
	p->id[p->n++] = r->id;
	return 0;
}

static void test_two_handles_concurrent(void **state)
{
	struct fx *f = *state;
	struct writer_arg w = { .f = f, .rounds = 40 };
	pthread_t th;
	char err[512];
	int approved = 0;

	assert_int_equal(pthread_create(&th, NULL, writer, &w), 0);
	/* the operator: approve whatever is pending for VMs 0..3, as fast as
	 * possible, racing the writer's supersedes */
	for (;;) {
		struct pending_ids p = { .n = 0 };
		int64_t last = 0;
		if (store_round_last(f->s, &last, err, sizeof err) != 0)
			fail_msg("%s", err);
		if (last >= w.rounds)
			break;
		if (store_recs_list(f->s, STORE_REC_PENDING, 8, pending_cb, &p,
				    err, sizeof err) != 0)
			fail_msg("%s", err);
		for (int i = 0; i < p.n; i++)
			if (p.vm[i] <= f->vm[3] && /* VMs 4..7: left alone */
			    store_rec_transition(f->s, p.id[i],
						 STORE_REC_APPROVED, "cli:op",
						 NULL, T0, err, sizeof err) == 0)
				approved++;
	}
	pthread_join(th, NULL);
	if (w.rc != 0)
		fail_msg("writer: %s", w.err);

	/* every rec: its trail is legal and ends in its state; an approval
	 * the writer overtook was superseded, never lost nor doubled */
	int64_t n = raw_int(f->path, "SELECT COUNT(*) FROM recs");
	assert_true(n > 0);
	for (int64_t id = 1; id <= n; id++) {
		struct trail t = { STORE_REC_PENDING, 0 };
		store_rec r = get_rec(f->s, id);
		assert_int_equal(store_audit_list(f->s, id, trail_cb, &t, err,
						  sizeof err), 0);
		assert_int_equal(t.bad, 0);
		assert_int_equal(t.st, r.state);
	}
	assert_int_equal(raw_int(f->path, "SELECT COUNT(*) FROM audit WHERE "
				 "event = 'rec.approved'"), approved);
	assert_int_equal(raw_int(f->path, "SELECT COUNT(*) FROM recs WHERE "
				 "state IN (%d, %d) AND id IN (SELECT rec_id "
				 "FROM audit WHERE event = 'rec.approved')",
				 STORE_REC_APPROVED, STORE_REC_SUPERSEDED),
			 approved);
	/* at most one open (pending or approved) rec per VM */
	assert_int_equal(raw_int(f->path, "SELECT COALESCE(MAX(c), 0) FROM "
				 "(SELECT COUNT(*) c FROM recs WHERE state IN "
				 "(%d, %d) GROUP BY vm_id)", STORE_REC_PENDING,
				 STORE_REC_APPROVED), 1);
	print_message("approved %d while the writer superseded %lld\n",
		      approved, (long long)raw_int(f->path, "SELECT COUNT(*) "
						   "FROM recs WHERE state = %d",
						   STORE_REC_SUPERSEDED));
	assert_true(raw_int(f->path, "SELECT COUNT(*) FROM recs WHERE "
			    "state = %d", STORE_REC_SUPERSEDED) > 0);
	assert_int_equal(raw_int(f->path, "SELECT COUNT(*) FROM audit WHERE "
				 "event = 'rec.superseded'"),
			 raw_int(f->path, "SELECT COUNT(*) FROM recs WHERE "
				 "state = %d", STORE_REC_SUPERSEDED));
}

/* ---- round writes ---- */

static void test_refresh_supersede_insert(void **state)
{
	struct fx *f = *state;
	store_rec_policy pol;
	struct rb b;

	store_rec_policy_default(&pol);
	rb_init(&b, f, 1, T0, 1.0);
	b.signals[0] = (store_signal_row){ .kind = MARKET_SIG_PROVISION,
					   .mib = 4096 };
	b.signals[1] = (store_signal_row){ .kind = MARKET_SIG_SUSPEND,
					   .host_id = f->host[2], .mib = 2000 };
	b.rd.n_signals = 2;
	rb_rec(&b, f, 0, -1, 2048);  /* rec 1 */
	rb_rec(&b, f, 1, 2, 4096);   /* rec 2 */
	rb_rec(&b, f, 3, 2, 4096);   /* rec 3 */
	store_round_outcome o = rb_write(&b, f->s, &pol);
	assert_int_equal(o.inserted, 3);
	assert_int_equal(o.refreshed + o.superseded + o.expired, 0);
	assert_int_equal(raw_int(f->path, "SELECT COUNT(*) FROM signals"), 2);

	rb_init(&b, f, 2, T0 + MIN_MS, 1.1);
	rb_rec(&b, f, 0, -1, 2048 + 256);    /* within same_mib: refresh 1 */
	rb_rec(&b, f, 1, 1, 4096);           /* other host: supersede 2 */
	rb_rec(&b, f, 3, 2, 4096 + 257);     /* same move: refresh 3 (a
					      * migration is the same action
					      * whatever it is to hold) */
	o = rb_write(&b, f->s, &pol);
	assert_int_equal(o.inserted, 1);
	assert_int_equal(o.refreshed, 2);
	assert_int_equal(o.superseded, 1);
	assert_int_equal(o.expired, 0);

	store_rec r = get_rec(f->s, 1);
	assert_int_equal(r.state, STORE_REC_PENDING);
	assert_int_equal(r.round, 1);
	assert_int_equal(r.last_round, 2);
	assert_int_equal(r.to_mib, 2048 + 256); /* the latest figures */
	assert_true(r.price_here > 1.05);
	assert_string_equal(r.why, "round 2 says so");
	assert_int_equal(r.updated_ms, T0 + MIN_MS);
	assert_int_equal(audit_count(f->s, 1), 0); /* not a state change */

	r = get_rec(f->s, 2);
	assert_int_equal(r.state, STORE_REC_SUPERSEDED);
	assert_int_equal(r.superseded_by, 4);
	assert_string_equal(r.state_reason, "superseded by #4");
	store_audit_row a;
	char err[256];
	assert_int_equal(store_audit_list(f->s, 2, last_audit_cb, &a, err,
					  sizeof err), 0);
	assert_string_equal(a.event, "rec.superseded");
	assert_string_equal(a.actor, "broker");
	assert_string_equal(a.detail, "superseded by #4");
	r = get_rec(f->s, 3);
	assert_int_equal(r.state, STORE_REC_PENDING);
	assert_int_equal(r.last_round, 2);
	assert_int_equal(r.to_mib, 4096 + 257);
	assert_string_equal(r.to_host, "h2");
	assert_string_equal(r.from_host, "h3");
	assert_int_equal(raw_int(f->path, "SELECT COUNT(*) FROM recs"), 4);
	assert_int_equal(raw_int(f->path, "SELECT n_recs FROM rounds WHERE "
				 "round = 2"), 3);
}

static void test_expire_ttl(void **state)
{
	struct fx *f = *state;
	store_rec_policy pol;
	struct rb b;

	store_rec_policy_default(&pol);
	rb_init(&b, f, 1, T0, 1.0);
	rb_rec(&b, f, 0, -1, 2048); /* 1: recommended again at round 2 */
	rb_rec(&b, f, 1, -1, 2048); /* 2: never again */
	rb_write(&b, f->s, &pol);
	rb_init(&b, f, 2, T0 + 5 * MIN_MS, 1.0);
	rb_rec(&b, f, 0, -1, 2048);
	rb_write(&b, f->s, &pol);

	/* at 10 min exactly nothing is older than the ttl */
	rb_init(&b, f, 3, T0 + 10 * MIN_MS, 1.0);
	assert_int_equal(rb_write(&b, f->s, &pol).expired, 0);
	rb_init(&b, f, 4, T0 + 11 * MIN_MS, 1.0);
	store_round_outcome o = rb_write(&b, f->s, &pol);
	assert_int_equal(o.expired, 1);
	store_rec r = get_rec(f->s, 2);
	assert_int_equal(r.state, STORE_REC_EXPIRED);
	assert_string_equal(r.state_reason, "expired: older than 600 s (last "
			    "recommended in round 1)");
	assert_int_equal(audit_count(f->s, 2), 1);
	assert_int_equal(get_rec(f->s, 1).state, STORE_REC_PENDING);

	rb_init(&b, f, 5, T0 + 16 * MIN_MS, 1.0);
	assert_int_equal(rb_write(&b, f->s, &pol).expired, 1);
	assert_int_equal(get_rec(f->s, 1).state, STORE_REC_EXPIRED);
	/* an approved rec never expires */
}

static void test_expire_price_drift(void **state)
{
	struct fx *f = *state;
	store_rec_policy pol;
	struct rb b;

	store_rec_policy_default(&pol);
	rb_init(&b, f, 1, T0, 2.0);
	rb_rec(&b, f, 0, 1, 2048); /* 1: migrate h3 -> h1 */
	rb_rec(&b, f, 1, -1, 2048); /* 2: resize at h1 */
	rb_rec(&b, f, 2, -1, 2048); /* 3: resize at h2, approved below */
	rb_write(&b, f->s, &pol);
	char err[256];
	assert_int_equal(store_rec_transition(f->s, 3, STORE_REC_APPROVED,
		"cli:x", NULL, T0, err, sizeof err), 0);

	/* 20 % moves: under the threshold */
	rb_init(&b, f, 2, T0 + MIN_MS, 2.4);
	assert_int_equal(rb_write(&b, f->s, &pol).expired, 0);

	/* h1 (index 1) moves 41 % since round 1; rec 2 is recommended again */
	rb_init(&b, f, 3, T0 + 2 * MIN_MS, 2.0);
	b.prices[1].price = 2.82;
	b.prices[2].price = 4.0;
	rb_rec(&b, f, 1, -1, 2048);
	store_round_outcome o = rb_write(&b, f->s, &pol);
	assert_int_equal(o.refreshed, 1);
	assert_int_equal(o.expired, 2);
	store_rec r = get_rec(f->s, 1);
	assert_int_equal(r.state, STORE_REC_EXPIRED);
	assert_string_equal(r.state_reason, "expired: price at h1 moved 41% "
			    "since round 1");
	assert_int_equal(get_rec(f->s, 2).state, STORE_REC_PENDING);
	/* an approval not dispatched yet is as stale as a pending rec: h2
	 * moved 100 % since it was made */
	r = get_rec(f->s, 3);
	assert_int_equal(r.state, STORE_REC_EXPIRED);
	assert_string_equal(r.state_reason, "expired: price at h2 moved 100% "
			    "since round 1");

	/* the refresh re-based rec 2 on 2.82: a move back to 2.0 is 29 % */
	rb_init(&b, f, 4, T0 + 3 * MIN_MS, 2.0);
	assert_int_equal(rb_write(&b, f->s, &pol).expired, 1);
	assert_string_equal(get_rec(f->s, 2).state_reason,
			    "expired: price at h1 moved 29% since round 3");

	/* drift 0 turns the rule off */
	pol.price_drift = 0;
	rb_init(&b, f, 5, T0 + 4 * MIN_MS, 2.0);
	rb_rec(&b, f, 4, -1, 2048);
	rb_write(&b, f->s, &pol);
	rb_init(&b, f, 6, T0 + 5 * MIN_MS, 9.0);
	assert_int_equal(rb_write(&b, f->s, &pol).expired, 0);
}

static int64_t n_rows(struct fx *f, const char *table, int64_t round)
{
	return raw_int(f->path, "SELECT COUNT(*) FROM %s WHERE round = %lld",
		       table, (long long)round);
}

static void test_round_rollback(void **state)
{
	struct fx *f = *state;
	struct rb b;
	char err[512];
	int64_t last = 0;

	rb_init(&b, f, 3, T0, 1.0);
	rb_rec(&b, f, 0, -1, 2048);
	rb_write(&b, f->s, NULL);
	int audits = audit_count(f->s, 0);

	/* the same round number again */
	rb_init(&b, f, 3, T0 + MIN_MS, 1.0);
	assert_int_equal(store_round_write(f->s, &b.rd, NULL, T0 + MIN_MS, NULL,
					   err, sizeof err), -1);
	assert_string_equal(err, "round 3 is not after the last round written "
			    "(3)");
	b.rd.round = 2;
	assert_int_equal(store_round_write(f->s, &b.rd, NULL, T0 + MIN_MS, NULL,
					   err, sizeof err), -1);

	/* a failure half-way (the same VM twice, after the round row and the
	 * prices), with a rec that would supersede rec 1 and 20 minutes that
	 * would expire it */
	rb_init(&b, f, 4, T0 + 20 * MIN_MS, 1.0);
	rb_rec(&b, f, 0, 2, 4096);
	b.allocs[N_VMS - 1].vm_id = b.allocs[0].vm_id;
	assert_int_equal(store_round_write(f->s, &b.rd, NULL, T0 + 20 * MIN_MS,
					   NULL, err, sizeof err), -1);
	assert_string_equal(err, "round 4: cannot write the sample of VM 1: "
			    "UNIQUE constraint failed: samples.round, "
			    "samples.vm_id");
	assert_int_equal(store_round_last(f->s, &last, err, sizeof err), 0);
	assert_int_equal(last, 3);
	assert_int_equal(n_rows(f, "prices", 4), 0);
	assert_int_equal(n_rows(f, "samples", 4), 0);
	assert_int_equal(n_rows(f, "allocations", 4), 0);
	assert_int_equal(raw_int(f->path, "SELECT COUNT(*) FROM recs"), 1);
	assert_int_equal(get_rec(f->s, 1).state, STORE_REC_PENDING);
	assert_int_equal(audit_count(f->s, 0), audits);

	/* a failure in the recommendations: rec 1 was already superseded in
	 * the transaction when the second rec fails */
	b.allocs[N_VMS - 1].vm_id = f->vm[N_VMS - 1];
	b.recs[b.rd.n_recs] = b.recs[0];
	b.recs[b.rd.n_recs++].vm_id = 999;
	assert_int_equal(store_round_write(f->s, &b.rd, NULL, T0 + 20 * MIN_MS,
					   NULL, err, sizeof err), -1);
	assert_non_null(strstr(err, "round 4: cannot write a recommendation "
			       "for VM 999: FOREIGN KEY"));
	assert_int_equal(raw_int(f->path, "SELECT COUNT(*) FROM recs"), 1);
	assert_int_equal(get_rec(f->s, 1).state, STORE_REC_PENDING);
	assert_int_equal(audit_count(f->s, 0), audits);
	assert_int_equal(n_rows(f, "samples", 4), 0);
	b.rd.n_recs = 1;

	/* and the handle is fine afterwards */
	rb_init(&b, f, 4, T0 + 20 * MIN_MS, 1.0);
	rb_write(&b, f->s, NULL);
	assert_int_equal(n_rows(f, "samples", 4), N_VMS);
	assert_int_equal(get_rec(f->s, 1).state, STORE_REC_EXPIRED);

	/* bad input is refused before anything is written */
	rb_init(&b, f, 5, T0 + 21 * MIN_MS, 1.0);
	rb_rec(&b, f, 0, 2, 4096)->to_host_id = 0;
	assert_int_equal(store_round_write(f->s, &b.rd, NULL, T0, NULL, err,
					   sizeof err), -1);
	assert_non_null(strstr(err, "without a target host"));
	b.rd.round = 0;
	assert_int_equal(store_round_write(f->s, &b.rd, NULL, T0, NULL, err,
					   sizeof err), -1);
}

static void test_retention(void **state)
{
	struct fx *f = *state;
	store_rec_policy pol;
	struct rb b;
	const int64_t hour = 60 * MIN_MS;

	store_rec_policy_default(&pol);
	assert_int_equal(pol.retention_ms, 24 * hour);
	rb_init(&b, f, 1, T0, 1.0);
	rb_rec(&b, f, 0, -1, 2048);
	rb_write(&b, f->s, &pol);
	rb_init(&b, f, 2, T0 + hour, 1.0);
	rb_write(&b, f->s, &pol);
	rb_init(&b, f, 3, T0 + 24 * hour, 1.0);
	rb_write(&b, f->s, &pol); /* round 1 is exactly 24 h old: kept */
	assert_int_equal(n_rows(f, "samples", 1), N_VMS);

	rb_init(&b, f, 4, T0 + 25 * hour + 1, 1.0);
	rb_write(&b, f->s, &pol);
	for (int r = 1; r <= 2; r++) {
		assert_int_equal(n_rows(f, "samples", r), 0);
		assert_int_equal(n_rows(f, "allocations", r), 0);
		assert_int_equal(n_rows(f, "prices", r), 0);
		assert_int_equal(n_rows(f, "rounds", r), 1); /* kept */
	}
	for (int r = 3; r <= 4; r++) {
		assert_int_equal(n_rows(f, "samples", r), N_VMS);
		assert_int_equal(n_rows(f, "allocations", r), N_VMS);
		assert_int_equal(n_rows(f, "prices", r), N_HOSTS);
	}
	assert_int_equal(raw_int(f->path, "SELECT COUNT(*) FROM recs"), 1);

	/* 0 keeps everything */
	pol.retention_ms = 0;
	rb_init(&b, f, 5, T0 + 100 * hour, 1.0);
	rb_write(&b, f->s, &pol);
	assert_int_equal(n_rows(f, "samples", 3), N_VMS);

	/* a clock 1000 h ahead: time alone would delete rounds 3 to 5; the
	 * newest 2 rounds are kept whatever it says */
	assert_int_equal(pol.retention_rounds, 0);
	pol.retention_ms = 24 * hour;
	pol.retention_rounds = 2;
	rb_init(&b, f, 6, T0 + 1000 * hour, 1.0);
	rb_write(&b, f->s, &pol);
	assert_int_equal(n_rows(f, "samples", 4), 0);
	assert_int_equal(n_rows(f, "samples", 5), N_VMS);
	assert_int_equal(n_rows(f, "samples", 6), N_VMS);
}

/* ---- lists ---- */

struct names {
	char v[N_VMS + 8][STORE_NAME_MAX];
	int n;
	store_host_row h[N_HOSTS];
	store_vm_row vm;
	store_rec rec[N_VMS];
	store_price_view p[N_HOSTS];
};

static int host_cb(const store_host_row *h, void *ctx)
{
	struct names *n = ctx;

	n->h[n->n] = *h;
	snprintf(n->v[n->n++], STORE_NAME_MAX, "%s", h->name);
	return 0;
}

static int vm_cb(const store_vm_row *v, void *ctx)
{
	struct names *n = ctx;

	if (n->n == 0)
		n->vm = *v;
	snprintf(n->v[n->n++], STORE_NAME_MAX, "%s", v->name);
	return 0;
}

static int rec_cb(const store_rec *r, void *ctx)
{
	struct names *n = ctx;

	n->rec[n->n++] = *r;
	return 0;
}

static int price_cb(const store_price_view *p, void *ctx)
{
	struct names *n = ctx;

	n->p[n->n++] = *p;
	return 0;
}

static int stop_cb(const store_rec *r, void *ctx)
{
	(void)r;
	(*(int *)ctx)++;
	return 1;
}

static void test_lists(void **state)
{
	struct fx *f = *state;
	struct names *n = calloc(1, sizeof(*n));
	struct rb b;
	char err[256];

	/* before any round: figures are 0 */
	assert_int_equal(store_hosts_list(f->s, host_cb, n, err, sizeof err), 0);
	assert_int_equal(n->n, N_HOSTS);
	assert_string_equal(n->v[0], "h1");
	assert_string_equal(n->v[1], "h2");
	assert_string_equal(n->v[2], "h3");
	assert_true(n->h[0].price == 0);
	assert_string_equal(n->h[2].uri, "tcp://h3:7000");
	n->n = 0;
	assert_int_equal(store_prices_list(f->s, 0, price_cb, n, err,
					   sizeof err), 0);
	assert_int_equal(n->n, 0);

	store_rec_policy pol;
	store_rec_policy_default(&pol);
	pol.price_drift = 0;
	rb_init(&b, f, 1, T0, 1.0);
	rb_rec(&b, f, 0, -1, 2048);
	rb_rec(&b, f, 1, 0, 2048);
	rb_rec(&b, f, 2, -1, 2048);
	rb_write(&b, f->s, &pol);
	rb_init(&b, f, 2, T0 + MIN_MS, 3.0);
	b.prices[1].price = 1.5; /* h1 */
	b.allocs[N_VMS - 1].demand_mib = 777; /* vm-00 */
	b.allocs[N_VMS - 1].target_mib = 888;
	b.allocs[N_VMS - 1].pressure = 87.5;
	rb_write(&b, f->s, &pol);
	char e2[256];
	assert_int_equal(store_rec_transition(f->s, 2, STORE_REC_REJECTED,
		"cli:x", "no", T0, e2, sizeof e2), 0);

	n->n = 0;
	assert_int_equal(store_hosts_list(f->s, host_cb, n, err, sizeof err), 0);
	assert_true(n->h[0].price == 1.5);  /* h1, latest round */
	assert_true(n->h[1].price == 3.0);
	assert_int_equal(n->h[0].n_vms, 21); /* 64 VMs over 3 hosts */
	assert_int_equal(n->h[2].n_vms, 22);
	assert_int_equal(n->h[1].awarded_mib, 32000);

	n->n = 0;
	assert_int_equal(store_vms_list(f->s, vm_cb, n, err, sizeof err), 0);
	assert_int_equal(n->n, N_VMS);
	for (int i = 1; i < n->n; i++)
		assert_true(strcmp(n->v[i - 1], n->v[i]) < 0);
	assert_string_equal(n->vm.name, "vm-00");
	assert_string_equal(n->vm.host_name, "h3"); /* index 63 % 3 = 0 */
	assert_int_equal(n->vm.demand_mib, 777);
	assert_int_equal(n->vm.target_mib, 888);
	assert_int_equal(n->vm.assigned_mib, 2048);
	assert_true(n->vm.pressure == 87.5);
	assert_int_equal(n->vm.last_migrated_round, INT64_MIN);
	assert_int_equal(n->vm.maximum_mib, 16384);

	/* recs: newest first, by state, with a limit */
	n->n = 0;
	assert_int_equal(store_recs_list(f->s, 0, 0, rec_cb, n, err,
					 sizeof err), 0);
	assert_int_equal(n->n, 3);
	assert_int_equal(n->rec[0].id, 3);
	assert_int_equal(n->rec[2].id, 1);
	n->n = 0;
	assert_int_equal(store_recs_list(f->s, STORE_REC_PENDING, 0, rec_cb, n,
					 err, sizeof err), 0);
	assert_int_equal(n->n, 2);
	assert_int_equal(n->rec[1].id, 1);
	n->n = 0;
	assert_int_equal(store_recs_list(f->s, STORE_REC_PENDING, 1, rec_cb, n,
					 err, sizeof err), 0);
	assert_int_equal(n->n, 1);
	assert_int_equal(n->rec[0].id, 3);
	n->n = 0;
	assert_int_equal(store_recs_list(f->s, STORE_REC_REJECTED, 0, rec_cb,
					 n, err, sizeof err), 0);
	assert_int_equal(n->n, 1);
	assert_string_equal(n->rec[0].state_reason, "no");
	assert_string_equal(n->rec[0].to_host, "h3");
	int stops = 0;
	assert_int_equal(store_recs_list(f->s, 0, 0, stop_cb, &stops, err,
					 sizeof err), -1);
	assert_int_equal(stops, 1);
	assert_string_equal(err, "the listing was stopped by its callback");

	/* prices: latest by default, a given round, an unknown one */
	n->n = 0;
	assert_int_equal(store_prices_list(f->s, 0, price_cb, n, err,
					   sizeof err), 0);
	assert_int_equal(n->n, N_HOSTS);
	assert_string_equal(n->p[0].host_name, "h1");
	assert_int_equal(n->p[0].round, 2);
	assert_int_equal(n->p[0].started_ms, T0 + MIN_MS);
	assert_true(n->p[0].p.price == 1.5);
	n->n = 0;
	assert_int_equal(store_prices_list(f->s, 1, price_cb, n, err,
					   sizeof err), 0);
	assert_true(n->p[0].p.price == 1.0);
	assert_int_equal(store_prices_list(f->s, 9, price_cb, n, err,
					   sizeof err), -1);
	assert_string_equal(err, "no round 9");

	/* the audit log: all of it, or one rec's */
	assert_int_equal(store_audit(f->s, "broker", "host.lost", 0, "h9", T0,
				     err, sizeof err), 0);
	assert_int_equal(audit_count(f->s, 0), 2);
	assert_int_equal(audit_count(f->s, 2), 1);
	free(n);
}

static void test_host_state(void **state)
{
	struct fx *f = *state;
	struct names *n = calloc(1, sizeof(*n));
	char err[256];
	store_audit_row a;

	/* host index 1 ("h1") holds VMs 1, 4, ...; VM 1 is gone already */
	assert_int_equal(store_vm_set_state(f->s, f->vm[1], STORE_VM_GONE, err,
					    sizeof err), 0);
	assert_int_equal(store_host_set_state(f->s, f->host[1], STORE_HOST_LOST,
					      T0 + 7, err, sizeof err), 0);
	assert_int_equal(raw_int(f->path, "SELECT COUNT(*) FROM vms WHERE "
				 "state = %d", STORE_VM_LOST), 20);
	assert_int_equal(raw_int(f->path, "SELECT state FROM hosts WHERE "
				 "name = 'h1'"), STORE_HOST_LOST);
	assert_int_equal(store_audit_list(f->s, 0, last_audit_cb, &a, err,
					  sizeof err), 0);
	assert_string_equal(a.event, "host.lost");
	assert_string_equal(a.detail, "h1");
	assert_int_equal(a.ts_ms, T0 + 7);

	assert_int_equal(store_host_set_state(f->s, f->host[1],
		STORE_HOST_ONLINE, T0 + 8, err, sizeof err), 0);
	assert_int_equal(raw_int(f->path, "SELECT COUNT(*) FROM vms WHERE "
				 "state = %d", STORE_VM_LOST), 0);
	assert_int_equal(raw_int(f->path, "SELECT COUNT(*) FROM vms WHERE "
				 "state = %d", STORE_VM_GONE), 1);
	assert_int_equal(store_host_set_state(f->s, 99, STORE_HOST_LOST, T0,
					      err, sizeof err), -1);
	assert_string_equal(err, "no host 99");
	assert_int_equal(store_vm_set_state(f->s, 999, STORE_VM_GONE, err,
					    sizeof err), -1);
	assert_string_equal(err, "no VM 999");

	/* an upsert by name keeps the id and first_seen */
	store_host_row h = { .capacity_mib = 1, .state = STORE_HOST_ONLINE,
			     .first_seen_ms = T0 + 100, .last_seen_ms = T0 + 100 };
	snprintf(h.name, sizeof h.name, "h2");
	assert_int_equal(store_host_upsert(f->s, &h, err, sizeof err), 0);
	assert_int_equal(h.id, f->host[2]);
	assert_int_equal(raw_int(f->path, "SELECT first_seen_ms FROM hosts "
				 "WHERE name = 'h2'"), T0);
	assert_int_equal(raw_int(f->path, "SELECT last_seen_ms FROM hosts "
				 "WHERE name = 'h2'"), T0 + 100);
	free(n);
}

/* ---- a big round ---- */

static double now_s(void)
{
	return (double)util_now_ns() / 1e9;
}

static void test_big_round(void **state)
{
	enum { H = 1000, V = 10000, R = 200 };
	char *dir = make_dir();
	char path[1024], err[512];
	store *s = NULL;
	store_price_row *prices = calloc(H, sizeof(*prices));
	store_alloc_row *allocs = calloc(V, sizeof(*allocs));
	store_rec_in *recs = calloc(R, sizeof(*recs));
	uint32_t *hid = calloc(H, sizeof(*hid));

	(void)state;
	snprintf(path, sizeof path, "%s/big.db", dir);
	assert_int_equal(store_open(path, STORE_CREATE, &s, err, sizeof err), 0);
	for (int i = 0; i < H; i++) {
		store_host_row h = { .capacity_mib = 1 << 20,
				     .state = STORE_HOST_ONLINE };
		snprintf(h.name, sizeof h.name, "host-%04d", i);
		assert_int_equal(store_host_upsert(s, &h, err, sizeof err), 0);
		hid[i] = h.id;
		prices[i] = (store_price_row){ .host_id = h.id, .price = 1 };
	}
	for (int i = 0; i < V; i++) {
		store_vm_row v = { .host_id = hid[i % H],
				   .state = STORE_VM_ACTIVE,
				   .last_migrated_round = INT64_MIN };
		snprintf(v.name, sizeof v.name, "vm-%05d", i);
		assert_int_equal(store_vm_upsert(s, &v, err, sizeof err), 0);
		allocs[i] = (store_alloc_row){ .vm_id = v.id, .host_id = v.host_id,
					       .demand_mib = 1000,
					       .assigned_mib = 1024,
					       .target_mib = 1200 };
	}
	for (int i = 0; i < R; i++)
		recs[i] = (store_rec_in){ .kind = STORE_REC_RESIZE,
					  .vm_id = allocs[i * 7].vm_id,
					  .from_host_id = allocs[i * 7].host_id,
					  .to_mib = 2048, .price_here = 1 };
	double best = 1e9;
	for (int r = 1; r <= 5; r++) {
		store_round rd = { .round = r, .started_ms = T0 + r * 10000,
				   .prices = prices, .n_prices = H,
				   .allocs = allocs, .n_allocs = V,
				   .recs = recs, .n_recs = R };
		for (int i = 0; i < R; i++)
			recs[i].to_mib = 2048 + 1024 * (r % 2);
		double t = now_s();
		if (store_round_write(s, &rd, NULL, rd.started_ms, NULL, err,
				      sizeof err) != 0)
			fail_msg("%s", err);
		t = now_s() - t;
		best = t < best ? t : best;
	}
	print_message("big round: %d prices + %d samples + %d allocations + "
		      "%d recs: best of 5 %.1f ms\n", H, V, V, R, best * 1000);
	assert_true(best < 2.0); /* generous: sanitizers, a busy machine */
	store_close(s);
	free(prices);
	free(allocs);
	free(recs);
	free(hid);
	rm_dir(dir);
}

/* Modes per action kind and the kill switch persist, are audited, and are
 * refused on a read-only handle. */
static void test_control(void **state)
{
	struct fx *f = *state;
	char err[512];
	store_control c;
	store_mode m;
	store_action a;
	store *ro = NULL;

	/* a new file: resizes automated, migrations manual */
	assert_int_equal(store_control_get(f->s, &c, err, sizeof err), 0);
	assert_int_equal(c.mode[STORE_ACT_RESIZE_UP], STORE_MODE_AUTOMATED);
	assert_int_equal(c.mode[STORE_ACT_RESIZE_DOWN], STORE_MODE_AUTOMATED);
	assert_int_equal(c.mode[STORE_ACT_MIGRATE], STORE_MODE_MANUAL);
	assert_int_equal(c.paused, 0);
	assert_int_equal(c.updated_ms, 0);

	assert_int_equal(store_mode_set(f->s, STORE_ACT_MIGRATE,
					STORE_MODE_MANUAL, "cli:op", 5000, NULL,
					err, sizeof err), 0);
	assert_int_equal(store_mode_set(f->s, STORE_N_ACTS, STORE_MODE_AUTOMATED,
					"cli:op", 6000, NULL, err, sizeof err),
			 0);
	assert_int_equal(store_mode_set(f->s, STORE_ACT_RESIZE_UP,
					STORE_MODE_RECOMMEND, "cli:op", 7000,
					NULL, err, sizeof err), 0);
	assert_int_equal(store_pause_set(f->s, 1, "cli:op", "maintenance", 8000,
					 err, sizeof err), 0);
	store_close(f->s);
	assert_int_equal(store_open(f->path, 0, &f->s, err, sizeof err), 0);
	assert_int_equal(store_control_get(f->s, &c, err, sizeof err), 0);
	assert_int_equal(c.mode[STORE_ACT_RESIZE_UP], STORE_MODE_RECOMMEND);
	assert_int_equal(c.mode[STORE_ACT_RESIZE_DOWN], STORE_MODE_AUTOMATED);
	assert_int_equal(c.mode[STORE_ACT_MIGRATE], STORE_MODE_AUTOMATED);
	assert_int_equal(c.paused, 1);
	assert_string_equal(c.pause_reason, "maintenance");
	assert_int_equal(c.updated_ms, 8000);
	assert_string_equal(c.updated_by, "cli:op");
	/* 1 + 3 + 1 mode changes, 1 pause */
	assert_int_equal(audit_count(f->s, 0), 6);

	assert_int_equal(store_pause_set(f->s, 0, "cli:op", NULL, 9000, err,
					 sizeof err), 0);
	assert_int_equal(store_control_get(f->s, &c, err, sizeof err), 0);
	assert_int_equal(c.paused, 0);
	assert_string_equal(c.pause_reason, "");

	assert_int_equal(store_open(f->path, STORE_READONLY, &ro, err,
				    sizeof err), 0);
	assert_int_equal(store_pause_set(ro, 1, "x", NULL, 1, err, sizeof err),
			 -1);
	assert_int_equal(store_control_get(ro, &c, err, sizeof err), 0);
	store_close(ro);

	assert_int_equal(store_mode_parse("manual", &m), 0);
	assert_int_equal(m, STORE_MODE_MANUAL);
	assert_int_equal(store_mode_parse("auto", &m), -1);
	assert_int_equal(store_action_parse("resize-down", &a), 0);
	assert_int_equal(a, STORE_ACT_RESIZE_DOWN);
	assert_int_equal(store_action_parse("resize", &a), -1);
	assert_string_equal(store_action_name(STORE_ACT_MIGRATE), "migrate");
	assert_string_equal(store_mode_name(STORE_MODE_AUTOMATED), "automated");
}

/* ---- host maintenance (schema 8) ---- */

static int drain_cb(const store_host_drain *d, void *ctx)
{
	store_host_drain *out = ctx;

	out[out[0].host_id ? 1 : 0] = *d;
	return 0;
}

/* Draining is a row per host, written once and audited once each way;
 * it survives a reopen; an unknown host is an error naming it; a
 * read-only handle refuses it. */
static void test_host_drain(void **state)
{
	struct fx *f = *state;
	store_host_drain got[2];
	char err[512];
	int changed = -1;
	store *ro = NULL;

	assert_int_equal(store_host_drain_set(f->s, "h1", 1, "cli:op",
					      "new DIMMs", 5000, &changed, err,
					      sizeof err), 0);
	assert_int_equal(changed, 1);
	assert_int_equal(store_host_drain_set(f->s, "h1", 1, "cli:other", NULL,
					      6000, &changed, err, sizeof err),
			 0);
	assert_int_equal(changed, 0); /* draining already: unchanged */
	store_close(f->s);
	assert_int_equal(store_open(f->path, 0, &f->s, err, sizeof err), 0);
	memset(got, 0, sizeof got);
	assert_int_equal(store_host_drains_list(f->s, drain_cb, got, err,
						sizeof err), 0);
	assert_int_equal(got[0].host_id, f->host[1]);
	assert_string_equal(got[0].host_name, "h1");
	assert_int_equal(got[0].since_ms, 5000);
	assert_string_equal(got[0].actor, "cli:op");
	assert_string_equal(got[0].reason, "new DIMMs");
	assert_int_equal(got[1].host_id, 0);
	assert_int_equal(raw_int(f->path, "SELECT COUNT(*) FROM audit WHERE "
				 "event = 'host.drain' AND actor = 'cli:op' AND "
				 "detail = 'h1: new DIMMs'"), 1);

	assert_int_equal(store_host_drain_set(f->s, "nope", 1, "cli:op", NULL,
					      7000, NULL, err, sizeof err), -1);
	assert_non_null(strstr(err, "no host named 'nope'"));
	assert_int_equal(store_open(f->path, STORE_READONLY, &ro, err,
				    sizeof err), 0);
	assert_int_equal(store_host_drain_set(ro, "h2", 1, "cli:op", NULL,
					      7000, NULL, err, sizeof err), -1);
	store_close(ro);

	assert_int_equal(store_host_drain_set(f->s, "h1", 0, "cli:op", NULL,
					      8000, &changed, err, sizeof err),
			 0);
	assert_int_equal(changed, 1);
	assert_int_equal(store_host_drain_set(f->s, "h1", 0, "cli:op", NULL,
					      9000, &changed, err, sizeof err),
			 0);
	assert_int_equal(changed, 0);
	memset(got, 0, sizeof got);
	assert_int_equal(store_host_drains_list(f->s, drain_cb, got, err,
						sizeof err), 0);
	assert_int_equal(got[0].host_id, 0);
	assert_int_equal(raw_int(f->path, "SELECT COUNT(*) FROM audit WHERE "
				 "event LIKE 'host.%%drain'"), 2);
}

/* ---- approvals (schema 6) ---- */

static store_audit_row last_audit(store *s, int64_t rec_id)
{
	store_audit_row a;
	char err[256];

	memset(&a, 0, sizeof a);
	assert_int_equal(store_audit_list(s, rec_id, last_audit_cb, &a, err,
					  sizeof err), 0);
	return a;
}

/* An approved rec not dispatched yet: the market making it again keeps it
 * (its figures as approved), a different rec for the VM supersedes it (the
 * approval does not carry over), and it expires by age as a pending one
 * does. Why it waits is the broker's to write, and goes with its state. */
static void test_approved_superseded_touched_expired(void **state)
{
	struct fx *f = *state;
	store_rec_policy pol;
	struct rb b;
	char err[256];
	store_rec r;

	store_rec_policy_default(&pol);
	rb_init(&b, f, 1, T0, 1.0);
	rb_rec(&b, f, 0, -1, 4096); /* 1: grow VM 0 */
	rb_write(&b, f->s, &pol);
	assert_int_equal(store_rec_transition(f->s, 1, STORE_REC_APPROVED,
		"cli:op", NULL, T0, err, sizeof err), 0);

	/* made again within same_mib: touched, figures kept */
	rb_init(&b, f, 2, T0 + MIN_MS, 1.1);
	rb_rec(&b, f, 0, -1, 4096 + 200);
	store_round_outcome o = rb_write(&b, f->s, &pol);
	assert_int_equal(o.refreshed, 1);
	assert_int_equal(o.inserted + o.superseded + o.expired, 0);
	r = get_rec(f->s, 1);
	assert_int_equal(r.state, STORE_REC_APPROVED);
	assert_int_equal(r.last_round, 2);
	assert_int_equal(r.to_mib, 4096);
	assert_int_equal(r.updated_ms, T0 + MIN_MS);

	/* the broker says why it waits; only a change is written */
	assert_int_equal(store_rec_set_wait(f->s, 1, 2, "cooldown: soon", err,
					    sizeof err), 0);
	assert_int_equal(store_rec_set_wait(f->s, 1, 3, "cooldown: soon", err,
					    sizeof err), 0);
	r = get_rec(f->s, 1);
	assert_string_equal(r.wait_reason, "cooldown: soon");
	assert_int_equal(r.wait_round, 2);
	assert_int_equal(audit_count(f->s, 1), 1); /* approved, nothing else */

	/* a different rec for the VM: the approval is superseded */
	rb_init(&b, f, 3, T0 + 2 * MIN_MS, 1.0);
	rb_rec(&b, f, 0, -1, 1024); /* 2: shrink it instead */
	o = rb_write(&b, f->s, &pol);
	assert_int_equal(o.inserted, 1);
	assert_int_equal(o.superseded, 1);
	r = get_rec(f->s, 1);
	assert_int_equal(r.state, STORE_REC_SUPERSEDED);
	assert_int_equal(r.superseded_by, 2);
	assert_string_equal(r.wait_reason, "");
	assert_string_equal(last_audit(f->s, 1).event, "rec.superseded");
	assert_string_equal(last_audit(f->s, 1).detail, "superseded by #2 (it "
			    "was approved: the approval does not carry over)");
	assert_int_equal(get_rec(f->s, 2).state, STORE_REC_PENDING);
	assert_int_equal(store_rec_set_wait(f->s, 1, 3, "x", err, sizeof err),
			 0); /* no longer approved: left alone */
	assert_string_equal(get_rec(f->s, 1).wait_reason, "");

	/* approved and not made again: it ages out */
	assert_int_equal(store_rec_transition(f->s, 2, STORE_REC_APPROVED,
		"cli:op", NULL, T0, err, sizeof err), 0);
	rb_init(&b, f, 4, T0 + 2 * MIN_MS + pol.ttl_ms + 1, 1.0);
	assert_int_equal(rb_write(&b, f->s, &pol).expired, 1);
	r = get_rec(f->s, 2);
	assert_int_equal(r.state, STORE_REC_EXPIRED);
	assert_string_equal(r.state_reason, "expired: older than 600 s (last "
			    "recommended in round 3)");
}

/* An approved migration and a resize of the same VM: the resize (another
 * kind: a transient view, e.g. while the target host settles) does not
 * supersede the approval, but is the newest open rec, so the migration
 * waits; the market going back to the migration keeps it and supersedes
 * the resize. */
static void test_approved_other_kind(void **state)
{
	struct fx *f = *state;
	store_rec_policy pol;
	struct rb b;
	char err[256];
	int64_t newest;

	store_rec_policy_default(&pol);
	rb_init(&b, f, 1, T0, 1.0);
	rb_rec(&b, f, 0, 1, 2048); /* 1: migrate VM 0 */
	rb_write(&b, f->s, &pol);
	assert_int_equal(store_rec_transition(f->s, 1, STORE_REC_APPROVED,
		"cli:op", NULL, T0, err, sizeof err), 0);
	assert_int_equal(store_vm_newest_open(f->s, f->vm[0], &newest, err,
					      sizeof err), 0);
	assert_int_equal(newest, 1);

	rb_init(&b, f, 2, T0 + MIN_MS, 1.0);
	rb_rec(&b, f, 0, -1, 1024); /* 2: resize it instead */
	store_round_outcome o = rb_write(&b, f->s, &pol);
	assert_int_equal(o.superseded, 0);
	assert_int_equal(get_rec(f->s, 1).state, STORE_REC_APPROVED);
	assert_int_equal(store_vm_newest_open(f->s, f->vm[0], &newest, err,
					      sizeof err), 0);
	assert_int_equal(newest, 2);

	rb_init(&b, f, 3, T0 + 2 * MIN_MS, 1.0);
	rb_rec(&b, f, 0, 1, 2048 + 100); /* the migration again */
	o = rb_write(&b, f->s, &pol);
	assert_int_equal(o.refreshed, 1);
	assert_int_equal(o.superseded, 1);
	assert_int_equal(get_rec(f->s, 1).state, STORE_REC_APPROVED);
	store_rec r = get_rec(f->s, 2);
	assert_int_equal(r.state, STORE_REC_SUPERSEDED);
	assert_int_equal(r.superseded_by, 1);
	assert_int_equal(store_vm_newest_open(f->s, f->vm[0], &newest, err,
					      sizeof err), 0);
	assert_int_equal(newest, 1);
	assert_int_equal(store_vm_newest_open(f->s, f->vm[5], &newest, err,
					      sizeof err), 0);
	assert_int_equal(newest, 0);
}

/* recs cancel: an approval withdrawn, audited; anything else refused with
 * what it is. */
static void test_cancel(void **state)
{
	struct fx *f = *state;
	struct rb b;
	char err[256];
	store_rec r;

	rb_init(&b, f, 1, T0, 1.0);
	for (int v = 0; v < 5; v++)
		rb_rec(&b, f, v, -1, 4096); /* recs 1..5 */
	rb_write(&b, f->s, NULL);
	for (int id = 1; id <= 4; id++)
		assert_int_equal(store_rec_transition(f->s, id,
			STORE_REC_APPROVED, "cli:op", NULL, T0, err,
			sizeof err), 0);
	assert_int_equal(store_rec_cancel(f->s, 1, "cli:ann", "not today",
					  T0 + 5, err, sizeof err), 0);
	r = get_rec(f->s, 1);
	assert_int_equal(r.state, STORE_REC_REJECTED);
	assert_string_equal(r.state_reason, "approval withdrawn: not today");
	store_audit_row a = last_audit(f->s, 1);
	assert_string_equal(a.event, "rec.cancelled");
	assert_string_equal(a.actor, "cli:ann");
	assert_int_equal(store_rec_cancel(f->s, 2, "cli:ann", NULL, T0 + 5,
					  err, sizeof err), 0);
	assert_string_equal(get_rec(f->s, 2).state_reason,
			    "approval withdrawn");

	assert_int_equal(store_rec_cancel(f->s, 1, "cli:ann", NULL, T0, err,
					  sizeof err), -1);
	assert_string_equal(err, "recommendation 1 is rejected: there is no "
			    "approval to withdraw");
	assert_int_equal(store_rec_cancel(f->s, 5, "cli:ann", NULL, T0, err,
					  sizeof err), -1);
	assert_string_equal(err, "recommendation 5 is pending: there is no "
			    "approval to withdraw (to turn it down: 'bourse "
			    "recs reject 5')");
	assert_int_equal(store_rec_transition(f->s, 3, STORE_REC_DISPATCHED,
		"broker", NULL, T0, err, sizeof err), 0);
	assert_int_equal(store_rec_cancel(f->s, 3, "cli:ann", NULL, T0, err,
					  sizeof err), -1);
	assert_string_equal(err, "recommendation 3 is dispatched: its host's "
			    "agent has it already, so it cannot be withdrawn; "
			    "its result will be recorded ('bourse pause' stops "
			    "further dispatches)");
	assert_int_equal(store_rec_transition(f->s, 3, STORE_REC_SUCCEEDED,
		"agent:h", NULL, T0, err, sizeof err), 0);
	assert_int_equal(store_rec_cancel(f->s, 3, "cli:ann", NULL, T0, err,
					  sizeof err), -1);
	assert_string_equal(err, "recommendation 3 was carried out "
			    "(succeeded); it cannot be withdrawn");
	assert_int_equal(get_rec(f->s, 3).state, STORE_REC_SUCCEEDED);
	assert_int_equal(store_rec_cancel(f->s, 99, "cli:ann", NULL, T0, err,
					  sizeof err), -1);
	assert_string_equal(err, "no recommendation 99");

	/* superseded: named */
	rb_init(&b, f, 2, T0 + MIN_MS, 1.0);
	rb_rec(&b, f, 3, -1, 512); /* 6 supersedes approved 4 */
	rb_write(&b, f->s, NULL);
	assert_int_equal(store_rec_cancel(f->s, 4, "cli:ann", NULL, T0, err,
					  sizeof err), -1);
	assert_string_equal(err, "recommendation 4 is superseded by #6 "
			    "(pending); it cannot be withdrawn: see 'bourse "
			    "recs show 6'");
	assert_int_equal(audit_count(f->s, 3), 3); /* no cancel audited */
}

/* Recommend mode: an approval is refused (it would carry nothing out and
 * be carried out unseen by a later change), and setting it withdraws the
 * approvals of that kind, audited. */
static void test_recommend_mode_approvals(void **state)
{
	struct fx *f = *state;
	struct rb b;
	char err[256];
	uint32_t n = 99;

	rb_init(&b, f, 1, T0, 1.0);
	rb_rec(&b, f, 0, -1, 4096); /* 1: resize-up */
	rb_rec(&b, f, 1, -1, 1024); /* 2: resize-down */
	rb_rec(&b, f, 2, 1, 2048);  /* 3: migrate (manual: approvable) */
	rb_rec(&b, f, 3, -1, 4096); /* 4: resize-up */
	rb_write(&b, f->s, NULL);
	for (int id = 1; id <= 3; id++)
		assert_int_equal(store_rec_transition(f->s, id,
			STORE_REC_APPROVED, "cli:op", NULL, T0, err,
			sizeof err), 0);
	assert_int_equal(store_mode_set(f->s, STORE_ACT_RESIZE_UP,
					STORE_MODE_RECOMMEND, "cli:op", T0 + 1,
					&n, err, sizeof err), 0);
	assert_int_equal(n, 1);
	store_rec r = get_rec(f->s, 1);
	assert_int_equal(r.state, STORE_REC_REJECTED);
	assert_string_equal(r.state_reason, "approval withdrawn: resize-up set "
			    "to recommend mode by cli:op");
	assert_string_equal(last_audit(f->s, 1).event, "rec.cancelled");
	assert_int_equal(get_rec(f->s, 2).state, STORE_REC_APPROVED);
	assert_int_equal(get_rec(f->s, 3).state, STORE_REC_APPROVED);

	assert_int_equal(store_rec_transition(f->s, 4, STORE_REC_APPROVED,
		"cli:op", NULL, T0, err, sizeof err), -1);
	assert_string_equal(err, "recommendation 4 is a resize-up, and "
			    "resize-up is in recommend mode, where an approval "
			    "carries nothing out; not approved (set 'bourse "
			    "mode manual --for resize-up' first, or reject it)");
	assert_int_equal(get_rec(f->s, 4).state, STORE_REC_PENDING);
	assert_int_equal(audit_count(f->s, 4), 0);
	/* every kind at once */
	assert_int_equal(store_mode_set(f->s, STORE_N_ACTS,
					STORE_MODE_RECOMMEND, "cli:op", T0 + 2,
					&n, err, sizeof err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(get_rec(f->s, 3).state, STORE_REC_REJECTED);
}

/* A v5 file with the backlog: approvals of a kind in recommend
 * mode are withdrawn, and of the rest only each VM's newest stands. */
static void test_migrate_v5_backlog(void **state)
{
	char *dir = make_dir(), v5[1100], err[512];
	store *s = NULL;
	store_control c;

	(void)state;
	snprintf(v5, sizeof v5, "%s/v5.db", dir);
	assert_int_equal(store_create_at_version(v5, 5, err, sizeof err), 0);
	raw_exec(v5,
		 "INSERT INTO hosts VALUES (1, 'h1', '', 8192, 512, 1, 5, 6);"
		 "INSERT INTO hosts VALUES (2, 'h2', '', 8192, 512, 1, 5, 6);"
		 "INSERT INTO vms VALUES (1, 'vm1', 1, 1024, 512, 4096, 20, "
		 " 5000, 0, 0, 1000, 1, 5, 6, NULL);"
		 "INSERT INTO vms VALUES (2, 'vm2', 1, 1024, 512, 4096, 20, "
		 " 5000, 0, 0, 1000, 1, 5, 6, NULL);"
		 "INSERT INTO rounds VALUES (7, 1000, 2, 1, 1, 2, 10, 0);"
		 "UPDATE control SET mode_resize_up = 2;"
		 "INSERT INTO recs (id, round, last_round, created_ms,"
		 " updated_ms, kind, state, vm_id, from_host_id, to_host_id,"
		 " from_mib, to_mib, price_here, price_there, cost_here,"
		 " cost_there, demand_mib, want_mib, pressure_before,"
		 " pressure_after, budget, why) VALUES"
		 " (1, 7, 7, 1000, 1000, 1, 2, 1, 1, NULL, 512, 525, 1, 0, 1, 1,"
		 "  400, 480, 78, 76, 3, 'a'),"
		 " (2, 7, 7, 1000, 1000, 1, 2, 1, 1, NULL, 512, 800, 1, 0, 1, 1,"
		 "  400, 480, 78, 50, 3, 'b'),"
		 " (3, 7, 7, 1000, 1000, 1, 2, 1, 1, NULL, 512, 1193, 1, 0, 1, 1,"
		 "  400, 480, 78, 33, 3, 'c'),"
		 " (4, 7, 7, 1000, 1000, 2, 2, 2, 1, 2, 1024, 1024, 1, 0, 1, 1,"
		 "  400, 480, 78, 33, 3, 'd'),"
		 " (5, 7, 7, 1000, 1000, 1, 2, 2, 1, NULL, 1024, 512, 1, 0, 1, 1,"
		 "  400, 480, 78, 33, 3, 'e');");
	assert_int_equal(store_open(v5, 0, &s, err, sizeof err), 0);
	assert_int_equal(store_schema_version(s), STORE_SCHEMA_VERSION);
	/* vm1: three approved resize-ups (automated): the newest stands */
	for (int id = 1; id <= 2; id++) {
		store_rec r = get_rec(s, id);
		assert_int_equal(r.state, STORE_REC_SUPERSEDED);
		assert_int_equal(r.superseded_by, 3);
		assert_string_equal(r.state_reason, "superseded by #3");
		assert_string_equal(last_audit(s, id).event, "rec.superseded");
	}
	assert_int_equal(get_rec(s, 3).state, STORE_REC_APPROVED);
	/* vm2: a migration and a resize-down approved in recommend mode:
	 * withdrawn, said so */
	for (int id = 4; id <= 5; id++) {
		store_rec r = get_rec(s, id);
		assert_int_equal(r.state, STORE_REC_REJECTED);
		assert_non_null(strstr(r.state_reason, "given in recommend "
				       "mode"));
		assert_string_equal(last_audit(s, id).event, "rec.cancelled");
		assert_string_equal(last_audit(s, id).actor, "bourse");
	}
	/* the modes are the file's, not a new file's */
	assert_int_equal(store_control_get(s, &c, err, sizeof err), 0);
	assert_int_equal(c.mode[STORE_ACT_RESIZE_UP], STORE_MODE_AUTOMATED);
	assert_int_equal(c.mode[STORE_ACT_RESIZE_DOWN], STORE_MODE_RECOMMEND);
	assert_int_equal(c.mode[STORE_ACT_MIGRATE], STORE_MODE_RECOMMEND);
	store_close(s);
	rm_dir(dir);
}

/* Shadow scoring: each rec is scored on its VM's samples in the
 * score_rounds rounds after the last round that made it; right = the
 * recommended size holds the peak and, for a growth, the old one would not
 * have. Stats group by kind, and split what was carried out. */
static void test_shadow_scoring(void **state)
{
	struct fx *f = *state;
	store_rec_policy pol;
	store_score_row st[STORE_N_ACTS + 1];
	struct rb b;
	char err[512];
	store_rec_in *r;

	store_rec_policy_default(&pol);
	pol.score_rounds = 3;
	pol.ttl_ms = 0;
	pol.price_drift = 0;
	rb_init(&b, f, 1, T0, 1.0);
	/* VM 0: grow 2048 -> 4000 (demand 1500, want 4000: buffer factor
	 * 2.67); VM 1: shrink 2048 -> 1200; VM 2: migrate at 2048 */
	rb_rec(&b, f, 0, -1, 4000);
	r = rb_rec(&b, f, 1, -1, 1200);
	r->want_mib = 1200;
	rb_rec(&b, f, 2, 1, 2048);
	rb_write(&b, f->s, &pol);
	for (int64_t round = 2; round <= 4; round++) {
		rb_init(&b, f, round, T0 + round * 1000, 1.0);
		b.allocs[0].demand_mib = 1000 + 100 * round; /* peak 1400 */
		b.allocs[1].demand_mib = 1100 + 50 * round;  /* peak 1300 */
		b.allocs[2].demand_mib = 900;                 /* peak 900 */
		rb_write(&b, f->s, &pol);
		assert_int_equal(raw_int(f->path, "SELECT COUNT(*) FROM "
					 "rec_scores"), round < 4 ? 0 : 3);
	}
	/* VM 0: 1400 <= 4000 and 1400 * 4000 > 2048 * 1500: right, 35.0 */
	assert_int_equal(raw_int(f->path, "SELECT correct * 1000 + "
				 "CAST(observed_pressure AS INTEGER) FROM "
				 "rec_scores WHERE rec_id = 1"), 1035);
	assert_int_equal(raw_int(f->path, "SELECT samples FROM rec_scores WHERE "
				 "rec_id = 1"), 3);
	/* VM 1: peak 1300 > 1200: the shrink was wrong */
	assert_int_equal(raw_int(f->path, "SELECT correct FROM rec_scores "
				 "WHERE rec_id = 2"), 0);
	/* VM 2: 900 fits 2048 at the target: right */
	assert_int_equal(raw_int(f->path, "SELECT correct FROM rec_scores "
				 "WHERE rec_id = 3"), 1);

	assert_int_equal(store_score_stats(f->s, st, err, sizeof err), 0);
	assert_int_equal(st[STORE_ACT_RESIZE_UP].scored, 1);
	assert_int_equal(st[STORE_ACT_RESIZE_UP].correct, 1);
	assert_int_equal(st[STORE_ACT_RESIZE_DOWN].scored, 1);
	assert_int_equal(st[STORE_ACT_RESIZE_DOWN].correct, 0);
	assert_int_equal(st[STORE_ACT_MIGRATE].correct, 1);
	assert_int_equal(st[STORE_N_ACTS].scored, 3);
	assert_int_equal(st[STORE_N_ACTS].correct, 2);
	assert_int_equal(st[STORE_N_ACTS].carried_out, 0);
	/* |35.0 - 37.5| for VM 0 */
	assert_true(st[STORE_ACT_RESIZE_UP].mean_abs_error > 2.49 &&
		    st[STORE_ACT_RESIZE_UP].mean_abs_error < 2.51);

	/* scored once: later rounds add nothing */
	rb_init(&b, f, 5, T0 + 5000, 1.0);
	rb_write(&b, f->s, &pol);
	assert_int_equal(raw_int(f->path, "SELECT COUNT(*) FROM rec_scores"), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_create),
		cmocka_unit_test_setup_teardown(test_reopen_keeps_data, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_wal_and_pragmas, setup,
						teardown),
		cmocka_unit_test(test_migrate_v1),
		cmocka_unit_test(test_db_identity),
		cmocka_unit_test_setup_teardown(test_create_at_version_errors,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_refused, setup,
						teardown),
		cmocka_unit_test(test_readonly),
		cmocka_unit_test(test_not_sqlite),
		cmocka_unit_test_setup_teardown(test_transitions_all_pairs, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_transition_messages, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_two_handles_no_lost_update,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_handles_concurrent,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_refresh_supersede_insert,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_expire_ttl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expire_price_drift, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_round_rollback, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_retention, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_state, setup, teardown),
		cmocka_unit_test(test_big_round),
		cmocka_unit_test_setup_teardown(test_control, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_drain, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_approved_superseded_touched_expired, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_approved_other_kind, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recommend_mode_approvals,
						setup, teardown),
		cmocka_unit_test(test_migrate_v5_backlog),
		cmocka_unit_test_setup_teardown(test_shadow_scoring, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unsettled_and_moved, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
