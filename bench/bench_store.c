/*
 * bench_store.c - the "store" benchmark (issue 6): how long the broker's
 * store takes to persist one market round, against a bare insert of the
 * same rows.
 *
 * A round of H hosts and V VMs is H prices, V samples and V allocations (one
 * store_alloc_row each), its recommendations (about 7% of the VMs with a
 * resize and 0.3% with a migration: most the same as last round, so the
 * refresh path runs; some different, so the supersede path runs; some not
 * made again, left pending to expire on price drift when their host's price
 * jumps) and two signals. Hosts and VMs are registered first (untimed), then
 * consecutive rounds 5 s apart are written with store_round_write() into a
 * real SQLite file in a fresh temporary directory, once with the default
 * policy (a young file: 24 h retention deletes nothing) and once with a
 * retention of a few rounds (the steady state of a broker that has run
 * longer than its retention: every round also deletes a round's rows).
 *
 * The baseline inserts the same rows (same columns, same values) with
 * prepared statements in one transaction per round into two more files in
 * the same directory, with the store's pragmas (WAL, synchronous = NORMAL,
 * foreign keys on): one with the store's own schema, made by store_open()
 * (the same keys, indexes and foreign keys: the honest comparison), one
 * with the same columns and no key or index at all (the floor).
 *
 * Figures per case: median_ms and worst_ms of a round's wall clock, cpu_ms
 * (median of this process's CPU time: the difference is waiting for the
 * disk, mostly the WAL checkpoint some commits run), rows per round (round
 * row, prices, samples, allocations, recs inserted or refreshed, signals;
 * retention's deletes not counted) and rows_per_s = rows / median; for the
 * store, the recs inserted, refreshed, superseded and expired per round and
 * the rounds left in samples. The retention case keeps only the rounds that
 * deleted. Then the targets: met_ms, and rate_share = the store's rows/s
 * over the bare insert's into the same schema (store_over_bare is its
 * inverse in time).
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "bench.h"
#include "market.h"
#include "store.h"
#include "util.h"
#include "banned.h"

#define PERIOD_MS INT64_C(5000) /* the broker's default round period */
#define T0_MS INT64_C(1700000000000)
#define TARGET_MS 50.0     /* issue 6: a 10,000-VM round in 50 ms */
#define TARGET_SHARE 0.25  /* ... at a quarter of the bare insert's rate */

static const char usage[] =
	"usage: bench_store [--smoke] [--help]\n"
	"\n"
	"Measures how long store_round_write() takes to persist one market\n"
	"round (prices of 1,000 hosts, samples and allocations of 10,000 VMs,\n"
	"~7% of the VMs with a recommendation, mostly refreshed, some\n"
	"superseded, a few expiring; two signals) into a real SQLite file, over\n"
	"30 consecutive rounds 5 s apart: with the default policy, and with a\n"
	"retention of 5 rounds so that every round also deletes a round's rows.\n"
	"Baseline: the same rows inserted with bare prepared statements, one\n"
	"transaction per round, same pragmas (WAL, synchronous=NORMAL, foreign\n"
	"keys on), into the store's own schema (same keys and indexes) and into\n"
	"tables with the same columns and no index.\n"
	"Targets: median round <= 50 ms, and a rate (rows/s) at least a quarter\n"
	"of the bare insert's into the same schema.\n"
	"\n"
	"  --smoke  1,000 VMs on 100 hosts, 3 rounds (CI: checks it runs)\n"
	"  --help   this text\n"
	"\n"
	"Exit status 0 when it ran (never fails on timing), 1 when a store call\n"
	"failed or its outcome was inconsistent, 2 on a usage error.\n";

struct sizes {
	int hosts, vms, rounds;
	int keep_rounds; /* retention of the retention case, in rounds */
};

/* The recommendation the bench's market stands by for one VM. */
struct vm_want {
	int kind;         /* 0: none this round */
	int to_host;      /* host index, for a migration */
	int64_t to_mib;
};

/* The cluster and the content of the round being made. */
struct world {
	struct sizes sz;
	uint32_t *host_id, *vm_id; /* from the registry, the same in every file */
	double *base_util;         /* per host */
	int64_t *base_demand;      /* per VM */
	struct vm_want *want;      /* per VM */
	store_price_row *prices;
	store_alloc_row *allocs;
	store_rec_in *recs;
	store_signal_row signals[2];
	store_round rd;
	uint64_t rng;
};

/* What one case measured, over the rounds it kept. */
struct result {
	double *ms;  /* wall clock per round */
	double *cpu; /* this process's CPU time per round (user + system): the
	              * part of ms that is not waiting for the disk */
	size_t n;
	double rows; /* per round, mean */
	double ins, ref, sup, exp; /* recs per round, mean */
	int64_t sample_rounds; /* rounds still in samples at the end */
};

/* ---- content: deterministic, so every file gets the same rows ----------- */

static uint64_t next_u64(struct world *w)
{
	uint64_t z = (w->rng += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static double unit(struct world *w)
{
	return (double)(next_u64(w) >> 11) / 9007199254740992.0;
}

static int64_t round_up(double mib, int64_t step)
{
	return ((int64_t)mib + step - 1) / step * step;
}

/* Back to round 0: same seed, no recommendation stood by. */
static void world_reset(struct world *w)
{
	w->rng = 42;
	for (int h = 0; h < w->sz.hosts; h++)
		w->base_util[h] = 0.45 + 0.4 * unit(w);
	for (int v = 0; v < w->sz.vms; v++)
		w->base_demand[v] = 1024 + (int64_t)(15360 * unit(w));
	memset(w->want, 0, (size_t)w->sz.vms * sizeof(*w->want));
}

/* Prices on the curve 1/(1-u)^2 with a little noise; about one host in 97
 * jumps by 60% each round, so pending recs there expire on price drift. */
static void make_prices(struct world *w, int64_t r)
{
	for (int h = 0; h < w->sz.hosts; h++) {
		store_price_row *p = &w->prices[h];
		double u = w->base_util[h] + 0.02 * (unit(w) - 0.5);
		double price = 1 / ((1 - u) * (1 - u));
		int64_t supply = 262144;

		if ((h + r) % 97 == 0)
			price *= 1.6;
		*p = (store_price_row){
			.host_id = w->host_id[h], .supply_mib = supply,
			.wanted_mib = (int64_t)(supply * u * 1.1),
			.floor_mib = (int64_t)(supply * u * 0.8),
			.awarded_mib = (int64_t)(supply * u),
			.utilization = u, .balloon_pressure = u * 0.5,
			.swap_pressure = u > 0.8 ? u - 0.8 : 0,
			.price = price, .clearing_price = price * 0.97,
			.shortage = u > 0.84, .infeasible = 0,
			.free_mib = (int64_t)(supply * (1 - u)),
			.balloon_mib = (int64_t)(supply * u * 0.05),
			.host_swap_mibps = 3 * unit(w),
			.last_seen_ms = w->rd.started_ms - (int64_t)(4000 * unit(w)),
		};
	}
}

static void make_allocs(struct world *w)
{
	for (int v = 0; v < w->sz.vms; v++) {
		store_alloc_row *a = &w->allocs[v];
		double demand = (double)w->base_demand[v] * (0.9 + 0.2 * unit(w));
		int64_t assigned = round_up(demand * 1.2, 256);
		int64_t want = round_up(demand * 1.15, 256);

		*a = (store_alloc_row){
			.vm_id = w->vm_id[v],
			.host_id = w->host_id[v % w->sz.hosts],
			.demand_mib = (int64_t)demand, .assigned_mib = assigned,
			.guest_swap_mibps = unit(w), .balloon_mib = assigned / 20,
			.reported_pressure = demand / (double)assigned * 100,
			.want_mib = want, .target_mib = want,
			.budget = 100 + 50 * unit(w),
			.pressure = demand / (double)want * 100,
		};
	}
}

/* The market's next word on a VM it stood by: mostly the same action
 * (to_mib within same_mib: refreshed), sometimes another (superseded),
 * sometimes nothing (left pending, to expire). */
static void want_evolve(struct world *w, struct vm_want *x, int v)
{
	double u = unit(w);

	if (u < 0.85) {
		x->to_mib += (int64_t)(128 * unit(w)) - 64;
	} else if (u < 0.92) {
		if (x->kind == STORE_REC_RESIZE)
			x->to_mib += 512;
		else
			x->to_host = (x->to_host + 1) % w->sz.hosts == v % w->sz.hosts
					     ? (x->to_host + 2) % w->sz.hosts
					     : (x->to_host + 1) % w->sz.hosts;
	} else {
		x->kind = 0;
	}
}

static void want_new(struct world *w, int kind)
{
	int v, hosts = w->sz.hosts;

	do
		v = (int)(next_u64(w) % (uint64_t)w->sz.vms);
	while (w->want[v].kind != 0);
	w->want[v].kind = kind;
	w->want[v].to_host = (v % hosts + 1 +
			      (int)(next_u64(w) % (uint64_t)(hosts - 1))) % hosts;
	w->want[v].to_mib = kind == STORE_REC_MIGRATE
				    ? w->allocs[v].assigned_mib
				    : round_up((double)w->allocs[v].demand_mib * 1.3,
					       256);
}

static void rec_fill(struct world *w, store_rec_in *r, int v)
{
	const struct vm_want *x = &w->want[v];
	const store_alloc_row *a = &w->allocs[v];
	int here = v % w->sz.hosts;
	int there = x->kind == STORE_REC_MIGRATE ? x->to_host : here;

	*r = (store_rec_in){
		.kind = (store_rec_kind)x->kind, .vm_id = a->vm_id,
		.from_host_id = a->host_id,
		.to_host_id = x->kind == STORE_REC_MIGRATE ? w->host_id[there] : 0,
		.from_mib = a->assigned_mib, .to_mib = x->to_mib,
		.price_here = w->prices[here].price,
		.price_there = w->prices[there].price,
		.demand_mib = a->demand_mib, .want_mib = a->want_mib,
		.pressure_before = a->reported_pressure,
		.pressure_after = (double)a->demand_mib / (double)x->to_mib * 100,
		.budget = a->budget,
	};
	r->cost_here = r->price_here * (double)r->from_mib;
	r->cost_there = r->price_there * (double)r->to_mib;
	snprintf(r->why, sizeof(r->why), "demand %lld MiB against %lld "
		 "assigned at %.2f/MiB: %s to %lld MiB costs %.0f against %.0f",
		 (long long)a->demand_mib, (long long)a->assigned_mib,
		 r->price_here, x->kind == STORE_REC_MIGRATE ? "moving" : "resizing",
		 (long long)x->to_mib, r->cost_there, r->cost_here);
}

static void make_recs(struct world *w)
{
	int n_resize = 0, n_migrate = 0;

	for (int v = 0; v < w->sz.vms; v++) {
		if (w->want[v].kind == 0)
			continue;
		want_evolve(w, &w->want[v], v);
		n_resize += w->want[v].kind == STORE_REC_RESIZE;
		n_migrate += w->want[v].kind == STORE_REC_MIGRATE;
	}
	for (; n_resize < w->sz.vms * 7 / 100; n_resize++)
		want_new(w, STORE_REC_RESIZE);
	for (; n_migrate < w->sz.vms * 3 / 1000; n_migrate++)
		want_new(w, STORE_REC_MIGRATE);
	w->rd.n_recs = 0;
	for (int v = 0; v < w->sz.vms; v++)
		if (w->want[v].kind != 0)
			rec_fill(w, &w->recs[w->rd.n_recs++], v);
}

static void round_make(struct world *w, int64_t r)
{
	w->rd = (store_round){
		.round = r, .started_ms = T0_MS + r * PERIOD_MS,
		.duration_ms = 40,
		.msgs_in = (uint64_t)r * (uint64_t)(w->sz.hosts + w->sz.vms),
		.prices = w->prices, .n_prices = (size_t)w->sz.hosts,
		.allocs = w->allocs, .n_allocs = (size_t)w->sz.vms,
		.recs = w->recs, .signals = w->signals, .n_signals = 2,
	};
	make_prices(w, r);
	make_allocs(w);
	make_recs(w);
	w->signals[0] = (store_signal_row){ .kind = MARKET_SIG_PROVISION,
					    .mib = 65536 };
	w->signals[1] = (store_signal_row){ .kind = MARKET_SIG_SUSPEND,
		.mib = 0, .host_id = w->host_id[r % w->sz.hosts] };
}

/* Rows the round carries: round, prices, samples, allocations, recs,
 * signals. */
static double round_rows(const store_round *rd)
{
	return (double)(1 + rd->n_prices + 2 * rd->n_allocs + rd->n_recs +
			rd->n_signals);
}

static int64_t round_now(const store_round *rd)
{
	return rd->started_ms + rd->duration_ms;
}

static int world_init(struct world *w, struct sizes sz)
{
	size_t h = (size_t)sz.hosts, v = (size_t)sz.vms;

	memset(w, 0, sizeof(*w));
	w->sz = sz;
	w->host_id = calloc(h, sizeof(*w->host_id));
	w->vm_id = calloc(v, sizeof(*w->vm_id));
	w->base_util = calloc(h, sizeof(*w->base_util));
	w->base_demand = calloc(v, sizeof(*w->base_demand));
	w->want = calloc(v, sizeof(*w->want));
	w->prices = calloc(h, sizeof(*w->prices));
	w->allocs = calloc(v, sizeof(*w->allocs));
	w->recs = calloc(v, sizeof(*w->recs));
	return w->host_id && w->vm_id && w->base_util && w->base_demand &&
	       w->want && w->prices && w->allocs && w->recs ? 0 : -1;
}

static void world_free(struct world *w)
{
	free(w->host_id);
	free(w->vm_id);
	free(w->base_util);
	free(w->base_demand);
	free(w->want);
	free(w->prices);
	free(w->allocs);
	free(w->recs);
}

/* ---- the registry (untimed) --------------------------------------------- */

/* The first file sets the ids; every other must get the same, or the rows
 * would not be the same. */
static int same_id(uint32_t *slot, uint32_t id, const char *name)
{
	if (*slot == 0)
		*slot = id;
	if (*slot == id)
		return 0;
	fprintf(stderr, "bench_store: %s got id %u here and %u before\n", name,
		id, *slot);
	return -1;
}

static int register_hosts(store *s, struct world *w)
{
	char err[512];

	for (int i = 0; i < w->sz.hosts; i++) {
		store_host_row h = { .capacity_mib = 262144, .reserve_mib = 8192,
				     .state = STORE_HOST_ONLINE,
				     .last_seen_ms = T0_MS };

		snprintf(h.name, sizeof(h.name), "host-%04d", i);
		snprintf(h.uri, sizeof(h.uri), "qemu+ssh://%s/system", h.name);
		if (store_host_upsert(s, &h, err, sizeof(err)) != 0) {
			fprintf(stderr, "bench_store: %s\n", err);
			return -1;
		}
		if (same_id(&w->host_id[i], h.id, h.name) != 0)
			return -1;
	}
	return 0;
}

static int register_vms(store *s, struct world *w)
{
	char err[512];

	for (int i = 0; i < w->sz.vms; i++) {
		store_vm_row v = { .host_id = w->host_id[i % w->sz.hosts],
				   .startup_mib = 4096, .minimum_mib = 1024,
				   .maximum_mib = 32768, .buffer_pct = 20,
				   .weight = 100, .shares = 1000,
				   .state = STORE_VM_ACTIVE,
				   .last_seen_ms = T0_MS,
				   .last_migrated_round = INT64_MIN };

		snprintf(v.name, sizeof(v.name), "vm-%05d", i);
		if (store_vm_upsert(s, &v, err, sizeof(err)) != 0) {
			fprintf(stderr, "bench_store: %s\n", err);
			return -1;
		}
		if (same_id(&w->vm_id[i], v.id, v.name) != 0)
			return -1;
	}
	return 0;
}

/* A new store file with every host and VM registered. */
static store *store_fresh(const char *path, struct world *w)
{
	char err[512];
	store *s = NULL;

	if (store_open(path, STORE_CREATE, &s, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench_store: %s\n", err);
		return NULL;
	}
	if (register_hosts(s, w) != 0 || register_vms(s, w) != 0) {
		store_close(s);
		return NULL;
	}
	return s;
}

/* ---- the store ------------------------------------------------------------ */

/* Every rec of the round was either refreshed or inserted. */
static int outcome_check(const store_round *rd, const store_round_outcome *o)
{
	if (o->inserted + o->refreshed == rd->n_recs)
		return 0;
	fprintf(stderr, "bench_store: round %lld: %zu recs but %u inserted and "
		"%u refreshed\n", (long long)rd->round, rd->n_recs, o->inserted,
		o->refreshed);
	return -1;
}

/* CPU time of this process, ns (bench.h has only the wall clock). */
static int64_t cpu_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A round's clocks: wall and CPU, started and then read. */
struct lap {
	int64_t wall, cpu;
};

static struct lap lap_start(void)
{
	return (struct lap){ util_now_ns(), cpu_now_ns() };
}

static struct lap lap_read(struct lap start)
{
	return (struct lap){ util_now_ns() - start.wall,
			     cpu_now_ns() - start.cpu };
}

static void result_add(struct result *res, const store_round *rd,
		       struct lap t, const store_round_outcome *o)
{
	res->cpu[res->n] = (double)t.cpu / 1e6;
	res->ms[res->n++] = (double)t.wall / 1e6;
	res->rows += round_rows(rd);
	res->ins += o->inserted;
	res->ref += o->refreshed;
	res->sup += o->superseded;
	res->exp += o->expired;
}

static void result_means(struct result *res)
{
	double n = res->n ? (double)res->n : 1;

	res->rows /= n;
	res->ins /= n;
	res->ref /= n;
	res->sup /= n;
	res->exp /= n;
}

/* One integer from a query on its own read-only connection. */
static int64_t file_int(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int64_t v = -1;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* Write every round; keep the timings of rounds from keep_from on. */
static int run_store(struct world *w, const char *path,
		     const store_rec_policy *pol, int keep_from,
		     struct result *res)
{
	store *s = store_fresh(path, w);
	store_round_outcome o;
	char err[512];
	int rc = -1;

	if (!s)
		return -1;
	world_reset(w);
	for (int r = 1; r <= w->sz.rounds; r++) {
		round_make(w, r);
		struct lap t = lap_start();
		if (store_round_write(s, &w->rd, pol, round_now(&w->rd), &o, err,
				      sizeof(err)) != 0) {
			fprintf(stderr, "bench_store: %s\n", err);
			goto out;
		}
		t = lap_read(t);
		if (outcome_check(&w->rd, &o) != 0)
			goto out;
		if (r >= keep_from)
			result_add(res, &w->rd, t, &o);
	}
	rc = 0;
out:
	store_close(s);
	result_means(res);
	res->sample_rounds = file_int(path, "SELECT COUNT(DISTINCT round) "
				      "FROM samples");
	return rc;
}

/* ---- the bare insert ---------------------------------------------------- */

/* The store's columns, no key, no index, no constraint. */
static const char bare_ddl[] =
	"CREATE TABLE rounds (round INTEGER, started_ms INTEGER,"
	" duration_ms INTEGER, n_hosts INTEGER, n_vms INTEGER, n_recs INTEGER,"
	" msgs_in INTEGER, msgs_dropped INTEGER);"
	"CREATE TABLE prices (round INTEGER, host_id INTEGER,"
	" supply_mib INTEGER, wanted_mib INTEGER, floor_mib INTEGER,"
	" awarded_mib INTEGER, utilization REAL, balloon_pressure REAL,"
	" swap_pressure REAL, price REAL, clearing_price REAL,"
	" shortage INTEGER, infeasible INTEGER, free_mib INTEGER,"
	" balloon_mib INTEGER, host_swap_mibps REAL);"
	"CREATE TABLE samples (round INTEGER, vm_id INTEGER, host_id INTEGER,"
	" demand_mib INTEGER, assigned_mib INTEGER, guest_swap_mibps REAL,"
	" balloon_mib INTEGER, reported_pressure REAL);"
	"CREATE TABLE allocations (round INTEGER, vm_id INTEGER,"
	" want_mib INTEGER, target_mib INTEGER, budget REAL, pressure REAL);"
	"CREATE TABLE recs (id INTEGER, round INTEGER, created_ms INTEGER,"
	" updated_ms INTEGER, kind INTEGER, state INTEGER, vm_id INTEGER,"
	" from_host_id INTEGER, to_host_id INTEGER, from_mib INTEGER,"
	" to_mib INTEGER, price_here REAL, price_there REAL, cost_here REAL,"
	" cost_there REAL, demand_mib INTEGER, want_mib INTEGER,"
	" pressure_before REAL, pressure_after REAL, budget REAL, why TEXT,"
	" state_reason TEXT, last_round INTEGER, superseded_by INTEGER);"
	"CREATE TABLE signals (round INTEGER, seq INTEGER, kind INTEGER,"
	" host_id INTEGER, mib INTEGER);";

enum { B_ROUND, B_PRICE, B_SAMPLE, B_ALLOC, B_REC, B_SIGNAL, B_COUNT };

/* The store's own INSERTs (storage/store.c), so the values and their
 * conversions are the same. */
static const char *const bare_sql[B_COUNT] = {
	[B_ROUND] = "INSERT INTO rounds (round, started_ms, duration_ms, n_hosts,"
		" n_vms, n_recs, msgs_in, msgs_dropped)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[B_PRICE] = "INSERT INTO prices (round, host_id, supply_mib, wanted_mib,"
		" floor_mib, awarded_mib, utilization, balloon_pressure,"
		" swap_pressure, price, clearing_price, shortage, infeasible,"
		" free_mib, balloon_mib, host_swap_mibps) VALUES (?1, ?2, ?3, ?4,"
		" ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
	[B_SAMPLE] = "INSERT INTO samples (round, vm_id, host_id, demand_mib,"
		" assigned_mib, guest_swap_mibps, balloon_mib, reported_pressure)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[B_ALLOC] = "INSERT INTO allocations (round, vm_id, want_mib, target_mib,"
		" budget, pressure) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[B_REC] = "INSERT INTO recs (round, last_round, created_ms, updated_ms,"
		" kind, state, vm_id, from_host_id, to_host_id, from_mib, to_mib,"
		" price_here, price_there, cost_here, cost_there, demand_mib,"
		" want_mib, pressure_before, pressure_after, budget, why,"
		" state_reason) VALUES (?1, ?1, ?2, ?2, ?3, 1, ?4, ?5,"
		" NULLIF(?6, 0), ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,"
		" ?17, ?18, '')",
	[B_SIGNAL] = "INSERT INTO signals (round, seq, kind, host_id, mib)"
		" VALUES (?1, ?2, ?3, NULLIF(?4, 0), ?5)",
};

struct bare {
	sqlite3 *db;
	sqlite3_stmt *st[B_COUNT];
};

static int bare_fail(struct bare *b, const char *what)
{
	fprintf(stderr, "bench_store: bare insert: %s: %s\n", what,
		b->db ? sqlite3_errmsg(b->db) : "out of memory");
	return -1;
}

static int step_done(struct bare *b, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : bare_fail(b, what);
}

static int bare_exec(struct bare *b, const char *sql)
{
	return sqlite3_exec(b->db, sql, NULL, NULL, NULL) == SQLITE_OK
		       ? 0 : bare_fail(b, sql);
}

/* store.c's configure(): foreign keys on, WAL, synchronous = NORMAL. */
static int bare_open(struct bare *b, const char *path, int store_schema)
{
	memset(b, 0, sizeof(*b));
	if (sqlite3_open_v2(path, &b->db, SQLITE_OPEN_READWRITE |
			    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK)
		return bare_fail(b, path);
	if (bare_exec(b, "PRAGMA foreign_keys = ON") != 0 ||
	    bare_exec(b, "PRAGMA journal_mode = WAL") != 0 ||
	    bare_exec(b, "PRAGMA synchronous = NORMAL") != 0 ||
	    (!store_schema && bare_exec(b, bare_ddl) != 0))
		return -1;
	for (int i = 0; i < B_COUNT; i++)
		if (sqlite3_prepare_v3(b->db, bare_sql[i], -1,
				       SQLITE_PREPARE_PERSISTENT, &b->st[i],
				       NULL) != SQLITE_OK)
			return bare_fail(b, bare_sql[i]);
	return 0;
}

static void bare_close(struct bare *b)
{
	for (int i = 0; i < B_COUNT; i++)
		sqlite3_finalize(b->st[i]);
	sqlite3_close(b->db);
}

static int bare_round_row(struct bare *b, const store_round *rd)
{
	sqlite3_stmt *st = b->st[B_ROUND];

	sqlite3_bind_int64(st, 1, rd->round);
	sqlite3_bind_int64(st, 2, rd->started_ms);
	sqlite3_bind_int64(st, 3, rd->duration_ms);
	sqlite3_bind_int64(st, 4, (int64_t)rd->n_prices);
	sqlite3_bind_int64(st, 5, (int64_t)rd->n_allocs);
	sqlite3_bind_int64(st, 6, (int64_t)rd->n_recs);
	sqlite3_bind_int64(st, 7, (int64_t)rd->msgs_in);
	sqlite3_bind_int64(st, 8, (int64_t)rd->msgs_dropped);
	return step_done(b, st, "round");
}

static int bare_prices(struct bare *b, const store_round *rd)
{
	sqlite3_stmt *st = b->st[B_PRICE];

	for (size_t i = 0; i < rd->n_prices; i++) {
		const store_price_row *p = &rd->prices[i];

		sqlite3_bind_int64(st, 1, rd->round);
		sqlite3_bind_int64(st, 2, p->host_id);
		sqlite3_bind_int64(st, 3, p->supply_mib);
		sqlite3_bind_int64(st, 4, p->wanted_mib);
		sqlite3_bind_int64(st, 5, p->floor_mib);
		sqlite3_bind_int64(st, 6, p->awarded_mib);
		sqlite3_bind_double(st, 7, p->utilization);
		sqlite3_bind_double(st, 8, p->balloon_pressure);
		sqlite3_bind_double(st, 9, p->swap_pressure);
		sqlite3_bind_double(st, 10, p->price);
		sqlite3_bind_double(st, 11, p->clearing_price);
		sqlite3_bind_int(st, 12, p->shortage != 0);
		sqlite3_bind_int(st, 13, p->infeasible != 0);
		sqlite3_bind_int64(st, 14, p->free_mib);
		sqlite3_bind_int64(st, 15, p->balloon_mib);
		sqlite3_bind_double(st, 16, p->host_swap_mibps);
		if (step_done(b, st, "price") != 0)
			return -1;
	}
	return 0;
}

static int bare_allocs(struct bare *b, const store_round *rd)
{
	sqlite3_stmt *sa = b->st[B_SAMPLE], *al = b->st[B_ALLOC];

	for (size_t i = 0; i < rd->n_allocs; i++) {
		const store_alloc_row *a = &rd->allocs[i];

		sqlite3_bind_int64(sa, 1, rd->round);
		sqlite3_bind_int64(sa, 2, a->vm_id);
		sqlite3_bind_int64(sa, 3, a->host_id);
		sqlite3_bind_int64(sa, 4, a->demand_mib);
		sqlite3_bind_int64(sa, 5, a->assigned_mib);
		sqlite3_bind_double(sa, 6, a->guest_swap_mibps);
		sqlite3_bind_int64(sa, 7, a->balloon_mib);
		sqlite3_bind_double(sa, 8, a->reported_pressure);
		if (step_done(b, sa, "sample") != 0)
			return -1;
		sqlite3_bind_int64(al, 1, rd->round);
		sqlite3_bind_int64(al, 2, a->vm_id);
		sqlite3_bind_int64(al, 3, a->want_mib);
		sqlite3_bind_int64(al, 4, a->target_mib);
		sqlite3_bind_double(al, 5, a->budget);
		sqlite3_bind_double(al, 6, a->pressure);
		if (step_done(b, al, "allocation") != 0)
			return -1;
	}
	return 0;
}

static int bare_rec(struct bare *b, const store_round *rd,
		    const store_rec_in *r, int64_t now_ms)
{
	sqlite3_stmt *st = b->st[B_REC];

	sqlite3_bind_int64(st, 1, rd->round);
	sqlite3_bind_int64(st, 2, now_ms);
	sqlite3_bind_int(st, 3, (int)r->kind);
	sqlite3_bind_int64(st, 4, r->vm_id);
	sqlite3_bind_int64(st, 5, r->from_host_id);
	sqlite3_bind_int64(st, 6, r->to_host_id);
	sqlite3_bind_int64(st, 7, r->from_mib);
	sqlite3_bind_int64(st, 8, r->to_mib);
	sqlite3_bind_double(st, 9, r->price_here);
	sqlite3_bind_double(st, 10, r->price_there);
	sqlite3_bind_double(st, 11, r->cost_here);
	sqlite3_bind_double(st, 12, r->cost_there);
	sqlite3_bind_int64(st, 13, r->demand_mib);
	sqlite3_bind_int64(st, 14, r->want_mib);
	sqlite3_bind_double(st, 15, r->pressure_before);
	sqlite3_bind_double(st, 16, r->pressure_after);
	sqlite3_bind_double(st, 17, r->budget);
	sqlite3_bind_text(st, 18, r->why, (int)strnlen(r->why, sizeof(r->why)),
			  SQLITE_STATIC);
	return step_done(b, st, "recommendation");
}

static int bare_signals(struct bare *b, const store_round *rd)
{
	sqlite3_stmt *st = b->st[B_SIGNAL];

	for (size_t i = 0; i < rd->n_signals; i++) {
		sqlite3_bind_int64(st, 1, rd->round);
		sqlite3_bind_int64(st, 2, (int64_t)i);
		sqlite3_bind_int(st, 3, rd->signals[i].kind);
		sqlite3_bind_int64(st, 4, rd->signals[i].host_id);
		sqlite3_bind_int64(st, 5, rd->signals[i].mib);
		if (step_done(b, st, "signal") != 0)
			return -1;
	}
	return 0;
}

/* One round's rows in one transaction, as the store's. */
static int bare_round(struct bare *b, const store_round *rd)
{
	if (bare_exec(b, "BEGIN IMMEDIATE") != 0)
		return -1;
	if (bare_round_row(b, rd) != 0 || bare_prices(b, rd) != 0 ||
	    bare_allocs(b, rd) != 0 || bare_signals(b, rd) != 0)
		goto fail;
	for (size_t i = 0; i < rd->n_recs; i++)
		if (bare_rec(b, rd, &rd->recs[i], round_now(rd)) != 0)
			goto fail;
	if (bare_exec(b, "COMMIT") == 0)
		return 0;
fail:
	sqlite3_exec(b->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/* store_schema: the file is made by store_open() (with hosts and VMs, for
 * the foreign keys of recs and signals), else by bare_ddl. */
static int run_bare(struct world *w, const char *path, int store_schema,
		    struct result *res)
{
	store_round_outcome none = { 0 };
	struct bare b;
	int rc = -1;

	if (store_schema) {
		store *s = store_fresh(path, w);

		if (!s)
			return -1;
		store_close(s);
	}
	world_reset(w);
	if (bare_open(&b, path, store_schema) != 0)
		goto out;
	for (int r = 1; r <= w->sz.rounds; r++) {
		round_make(w, r);
		struct lap t = lap_start();
		if (bare_round(&b, &w->rd) != 0)
			goto out;
		result_add(res, &w->rd, lap_read(t), &none);
	}
	rc = 0;
out:
	bare_close(&b);
	result_means(res);
	return rc;
}

/* ---- the report ----------------------------------------------------------- */

static double rate(const struct result *res)
{
	double med = bench_median(res->ms, res->n);

	return med > 0 ? res->rows / (med / 1000) : 0;
}

static void report_times(bench_row *row, struct result *res)
{
	bench_row_fig(row, "median_ms", bench_median(res->ms, res->n), 2);
	bench_row_fig(row, "worst_ms", bench_max(res->ms, res->n), 2);
	bench_row_fig(row, "cpu_ms", bench_median(res->cpu, res->n), 2);
	bench_row_fig(row, "rounds", (double)res->n, 0);
	bench_row_fig(row, "rows", res->rows, 0);
	bench_row_fig(row, "rows_per_s", rate(res), 0);
}

static void report_store(bench_report *rep, const char *name,
			 struct result *res)
{
	bench_row *row = bench_report_row(rep, name);

	report_times(row, res);
	bench_row_fig(row, "inserted", res->ins, 1);
	bench_row_fig(row, "refreshed", res->ref, 1);
	bench_row_fig(row, "superseded", res->sup, 1);
	bench_row_fig(row, "expired", res->exp, 1);
	bench_row_fig(row, "sample_rounds", (double)res->sample_rounds, 0);
}

/* The targets of issue 6 for one store case, against the bare insert into
 * the same schema (and, for information, into no index). */
static void report_target(bench_report *rep, const char *name,
			  struct result *st, struct result *same,
			  struct result *noidx)
{
	bench_row *row = bench_report_row(rep, name);
	double med = bench_median(st->ms, st->n);
	double bare = bench_median(same->ms, same->n);
	double share = rate(same) > 0 ? rate(st) / rate(same) : 0;

	bench_row_fig(row, "median_ms", med, 2);
	bench_row_fig(row, "target_ms", TARGET_MS, 0);
	bench_row_fig(row, "met_ms", med <= TARGET_MS, 0);
	bench_row_fig(row, "store_over_bare", bare > 0 ? med / bare : 0, 2);
	bench_row_fig(row, "rate_share", share, 3);
	bench_row_fig(row, "target_share", TARGET_SHARE, 2);
	bench_row_fig(row, "met_share", share >= TARGET_SHARE, 0);
	bench_row_fig(row, "share_vs_noindex",
		      rate(noidx) > 0 ? rate(st) / rate(noidx) : 0, 3);
}

/* ---- the temporary directory ------------------------------------------ */

static char *tmp_dir(void)
{
	static const char name[] = "/bourse-bench-store-XXXXXX";
	const char *base = getenv("TMPDIR");
	size_t len;
	char *d;

	if (!base || !*base)
		base = "/tmp";
	len = strlen(base) + sizeof(name);
	d = malloc(len);
	if (!d)
		return NULL;
	snprintf(d, len, "%s%s", base, name);
	if (!mkdtemp(d)) {
		perror("bench_store: mkdtemp");
		free(d);
		return NULL;
	}
	return d;
}

/* The directory holds only the files of this run: no subdirectory. */
static void tmp_remove(char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4096];

	while (d && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	if (rmdir(dir) != 0)
		perror("bench_store: removing the temporary directory");
	free(dir);
}

/* ---- main ----------------------------------------------------------------- */

struct runs {
	struct result def, ret, same, noidx;
};

static int run_all(struct world *w, const char *dir, struct runs *x)
{
	store_rec_policy pol;
	char path[4096];

	store_rec_policy_default(&pol);
	snprintf(path, sizeof(path), "%s/store.db", dir);
	if (run_store(w, path, &pol, 1, &x->def) != 0)
		return -1;
	/* The rounds after the first keep_rounds each delete one round. */
	pol.retention_ms = w->sz.keep_rounds * PERIOD_MS;
	snprintf(path, sizeof(path), "%s/store-retention.db", dir);
	if (run_store(w, path, &pol, w->sz.keep_rounds + 1, &x->ret) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/bare-same-schema.db", dir);
	if (run_bare(w, path, 1, &x->same) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/bare-no-index.db", dir);
	return run_bare(w, path, 0, &x->noidx);
}

static void report_all(const struct world *w, struct runs *x)
{
	bench_report rep;
	char name[96], suffix[32]; /* bench_report_row() truncates to fit */

	snprintf(suffix, sizeof(suffix), " %dvm/%dh", w->sz.vms, w->sz.hosts);
	bench_report_init(&rep, "store");
	snprintf(name, sizeof(name), "store%s", suffix);
	report_store(&rep, name, &x->def);
	snprintf(name, sizeof(name), "store+retention%s", suffix);
	report_store(&rep, name, &x->ret);
	snprintf(name, sizeof(name), "bare-same-schema%s", suffix);
	report_times(bench_report_row(&rep, name), &x->same);
	snprintf(name, sizeof(name), "bare-no-index%s", suffix);
	report_times(bench_report_row(&rep, name), &x->noidx);
	snprintf(name, sizeof(name), "target store%s", suffix);
	report_target(&rep, name, &x->def, &x->same, &x->noidx);
	snprintf(name, sizeof(name), "target store+retention%s", suffix);
	report_target(&rep, name, &x->ret, &x->same, &x->noidx);
	bench_report_print(&rep);
}

static int result_alloc(struct result *res, int n)
{
	memset(res, 0, sizeof(*res));
	res->ms = calloc((size_t)n, sizeof(*res->ms));
	res->cpu = calloc((size_t)n, sizeof(*res->cpu));
	return res->ms && res->cpu ? 0 : -1;
}

static void runs_free(struct runs *x)
{
	struct result *all[] = { &x->def, &x->ret, &x->same, &x->noidx };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		free(all[i]->ms);
		free(all[i]->cpu);
	}
}

int main(int argc, char **argv)
{
	struct sizes sz = { .hosts = 1000, .vms = 10000, .rounds = 30,
			    .keep_rounds = 5 };
	struct world w;
	struct runs x = { 0 };
	char *dir;
	int smoke, rc = 1;

	switch (bench_args(argc, argv, usage, &smoke)) {
	case 1: return 0;
	case -1: return 2;
	}
	if (smoke)
		sz = (struct sizes){ .hosts = 100, .vms = 1000, .rounds = 3,
				     .keep_rounds = 1 };
	if (world_init(&w, sz) != 0 || result_alloc(&x.def, sz.rounds) != 0 ||
	    result_alloc(&x.ret, sz.rounds) != 0 ||
	    result_alloc(&x.same, sz.rounds) != 0 ||
	    result_alloc(&x.noidx, sz.rounds) != 0) {
		fprintf(stderr, "bench_store: out of memory\n");
		world_free(&w);
		runs_free(&x);
		return 1;
	}
	dir = tmp_dir();
	if (dir && run_all(&w, dir, &x) == 0) {
		report_all(&w, &x);
		rc = 0;
	}
	if (dir)
		tmp_remove(dir);
	world_free(&w);
	runs_free(&x);
	return rc;
}
