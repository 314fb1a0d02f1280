/*
 * test_oom.c - OOM injection on the broker's allocation paths, SQLite-style
 * (issue 16, point 8; docs/reliability.md, "OOM injection").
 *
 * The real broker (the plain build: BOURSE_LIVE_BIN, as the valgrind runs;
 * an ASan binary refuses a preloaded allocator) runs with
 * tests/oom/fail_alloc.c preloaded, which fails its Nth allocation (the
 * program's own, SQLite's and protobuf-c's malloc, calloc, realloc, strdup,
 * strndup), on a copy of a database a clean run wrote (two hosts, six VMs,
 * rounds, samples, recommendations), with two real agents registering and
 * bidding. First a run that only counts gives the range [1, total]; then N
 * steps through it. For every N:
 *  - the broker is never ended by a signal: it exits non-zero with a
 *    message after the failure, or it carries on (a new round is written)
 *    and exits on SIGTERM;
 *  - nothing persisted is lost: PRAGMA integrity_check is ok and every row
 *    of the clean run (rounds, samples, recommendations, hosts, VMs) is
 *    still there.
 * BOURSE_OOM_RUNS (default 24: make test's share of the 15 minutes) sets the stride: total / runs;
 * BOURSE_OOM_STRIDE, BOURSE_OOM_FIRST and BOURSE_OOM_LAST override it
 * (`make oom`: stride 1 from 1 to 20000). Without BOURSE_LIVE_BIN it is
 * skipped (exit 77), as the valgrind runs are.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "live.h"
#include "util.h"
#include "banned.h"

#define SCENARIO_MS 1500 /* each run: start, register, bid, rounds */
#define N_CHECKS 5

static char s_base[128]; /* the clean run's database */
static int64_t s_base_vals[N_CHECKS];
static int64_t s_max_round, s_max_rec, s_max_vm;

/* What must survive, as counts over the clean run's rows. */
static int64_t check_value(struct live *l, int i)
{
	switch (i) {
	case 0:
		return live_q_int(l, "SELECT COUNT(*) FROM rounds WHERE "
			     "round <= %" PRId64, s_max_round);
	case 1:
		return live_q_int(l, "SELECT COUNT(*) FROM samples WHERE "
			     "round <= %" PRId64, s_max_round);
	case 2:
		return live_q_int(l, "SELECT COUNT(*) FROM recs WHERE "
			     "id <= %" PRId64, s_max_rec);
	case 3:
		return live_q_int(l, "SELECT COUNT(*) FROM hosts WHERE name "
			     "IN ('host-a', 'host-b')");
	default:
		return live_q_int(l, "SELECT COUNT(*) FROM vms WHERE id <= %"
			     PRId64, s_max_vm);
	}
}

static const char *const s_check_names[N_CHECKS] = {
	"rounds", "samples", "recs", "hosts", "vms"
};

static void start_agents(struct live *l)
{
	live_start_agent(l, 0, "host-a", "8192", "0:4");
	live_start_agent(l, 1, "host-b", "32768", "4:2");
}

static void kill_agents(struct live *l)
{
	for (int i = 0; i < MAX_AGENTS; i++)
		live_stop_proc(&l->agents[i], SIGKILL, 5000);
}

/* The clean run: its database kept as s_base, its figures read. */
static void make_base(void)
{
	void *st;
	struct live *l;
	sqlite3 *db;
	char cmd[320];

	assert_int_equal(live_setup(&st), 0);
	l = st;
	live_start_cluster(l);
	live_wait_rounds_after(l, live_last_round(l), 3);
	live_stop_all_cleanly(l);
	s_max_round = live_last_round(l);
	s_max_rec = live_q_int(l, "SELECT COALESCE(MAX(id), 0) FROM recs");
	s_max_vm = live_q_int(l, "SELECT COALESCE(MAX(id), 0) FROM vms");
	for (int i = 0; i < N_CHECKS; i++) {
		s_base_vals[i] = check_value(l, i);
		assert_true(s_base_vals[i] > 0);
	}
	live_db_close(l);
	/* the WAL into the file: the copy is the file alone */
	assert_int_equal(sqlite3_open(l->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)",
				      NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
	snprintf(s_base, sizeof(s_base), "%s.base.db", l->dir);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", l->db, s_base);
	assert_int_equal(system(cmd), 0);
	live_teardown(&st);
	printf("clean run: %" PRId64 " rounds, %" PRId64 " samples, %" PRId64
	       " recs, 2 hosts, %" PRId64 " VMs\n", s_base_vals[0],
	       s_base_vals[1], s_base_vals[2], s_base_vals[4]);
}

/* The broker with the shim, failing allocation n (0: counting only). */
static void start_armed_broker(struct live *l, long n)
{
	char at[24];
	char cmd[320];

	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", s_base, l->db);
	assert_int_equal(system(cmd), 0);
	snprintf(at, sizeof(at), "%ld", n);
	setenv("LD_PRELOAD", BOURSE_FAIL_ALLOC_SO, 1);
	setenv("BOURSE_FAIL_ALLOC_AT", at, 1);
	live_start_broker(l);
	unsetenv("LD_PRELOAD");
	unsetenv("BOURSE_FAIL_ALLOC_AT");
}

/* Wait up to ms for the broker to exit: 1 and its status if it did. */
static int broker_exited(struct live *l, int ms, int *status)
{
	int64_t end = util_now_ms() + ms;

	do {
		pid_t p = waitpid(l->broker, status, WNOHANG);

		assert_true(p >= 0);
		if (p == l->broker) {
			l->broker = 0;
			return 1;
		}
		live_sleep_ms(20);
	} while (util_now_ms() < end);
	return 0;
}

/* After "fail_alloc: allocation" in the log, a line of the broker's own
 * (the message it exits with). */
static int says_why(const char *log)
{
	char line[1024];
	int after = 0, said = 0;
	FILE *f = fopen(log, "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "fail_alloc: allocation", 22) == 0)
			after = 1;
		else if (after && strncmp(line, "fail_alloc:", 11) != 0)
			said = 1;
	}
	fclose(f);
	return said;
}

static long counted(const char *log)
{
	char line[1024];
	long n = -1;
	FILE *f = fopen(log, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		long v;

		if (sscanf(line, "fail_alloc: %ld allocations counted", &v) == 1)
			n = v;
	}
	fclose(f);
	return n;
}

static void print_log(const char *log)
{
	char line[1024];
	FILE *f = fopen(log, "r");

	while (f && fgets(line, sizeof(line), f))
		fprintf(stderr, "  | %s", line);
	if (f)
		fclose(f);
}

struct outcome {
	int fired, exited, carried_on, failed;
};

/* One run failing allocation n; the broker's total count when n is 0. */
static long one_run(long n, struct outcome *o)
{
	void *st;
	struct live *l;
	int status = 0, ok = 1;
	long total;
	char sql[80];

	assert_int_equal(live_setup(&st), 0);
	l = st;
	start_armed_broker(l, n);
	live_sleep_ms(100);
	start_agents(l);
	if (broker_exited(l, SCENARIO_MS, &status)) {
		o->exited++;
		if (!WIFEXITED(status) || WEXITSTATUS(status) == 0 ||
		    !says_why(l->blog)) {
			fprintf(stderr, "N=%ld: the broker %s %d%s\n", n,
				WIFEXITED(status) ? "exited" : "died of signal",
				WIFEXITED(status) ? WEXITSTATUS(status) :
				WTERMSIG(status),
				says_why(l->blog) ? "" : ", saying nothing");
			ok = 0;
		}
	} else {
		/* carrying on: a new round within a few rounds */
		snprintf(sql, sizeof(sql), "SELECT COALESCE(MAX(round), 0) - %"
			 PRId64 " FROM rounds", live_last_round(l));
		live_db_close(l);
		if (live_wait_at_least(l, 1, 20 * ROUND_MS, sql) < 0) {
			fprintf(stderr, "N=%ld: the broker runs but writes "
				"no round\n", n);
			ok = 0;
		} else {
			o->carried_on++;
		}
		live_db_close(l);
		status = live_stop_proc(&l->broker, SIGTERM, 10000);
		if (status == -1 || !WIFEXITED(status)) {
			fprintf(stderr, "N=%ld: SIGTERM: %s\n", n, status == -1 ?
				"did not exit (killed)" : "died of a signal");
			ok = 0;
		}
	}
	kill_agents(l);
	live_db_close(l);
	if (live_q_int(l, "SELECT COUNT(*) FROM pragma_integrity_check "
		       "WHERE integrity_check = 'ok'") != 1) {
		fprintf(stderr, "N=%ld: integrity_check not ok\n", n);
		ok = 0;
	}
	for (int i = 0; i < N_CHECKS; i++) {
		int64_t v = check_value(l, i);

		if (v != s_base_vals[i]) {
			fprintf(stderr, "N=%ld: %s of the clean run: %" PRId64
				", was %" PRId64 "\n", n, s_check_names[i], v,
				s_base_vals[i]);
			ok = 0;
		}
	}
	live_db_close(l);
	o->fired += live_count_starting(l->blog, "fail_alloc: allocation");
	total = counted(l->blog);
	if (!ok)
		print_log(l->blog);
	live_teardown(&st);
	if (!ok)
		o->failed++;
	return total;
}

static long env_long(const char *name, long def)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (!v || !*v)
		return def;
	n = strtol(v, &end, 10);
	if (*end || n < 0) {
		fprintf(stderr, "test_oom: %s: not a count: '%s'\n", name, v);
		exit(2);
	}
	return n;
}

static void test_fail_every_nth_allocation(void **state)
{
	struct outcome o = { 0, 0, 0, 0 }, none = { 0, 0, 0, 0 };
	long total, first, last, stride, runs = 0;
	int64_t t0 = util_now_ms();

	(void)state;
	make_base();
	total = one_run(0, &none);
	assert_int_equal(none.failed, 0);
	assert_true(total > 0);
	first = env_long("BOURSE_OOM_FIRST", 1);
	last = env_long("BOURSE_OOM_LAST", total);
	stride = env_long("BOURSE_OOM_STRIDE", 0);
	if (stride == 0)
		stride = (last - first) / env_long("BOURSE_OOM_RUNS", 24) + 1;
	printf("counting run: %ld allocations; failing N = %ld..%ld, stride "
	       "%ld\n", total, first, last, stride);
	fflush(stdout);
	for (long n = first; n <= last; n += stride) {
		one_run(n, &o);
		runs++;
	}
	printf("%ld runs in %" PRId64 " s: the failure injected in %d, the "
	       "broker exited with a message in %d, carried on in %d; %d "
	       "failed (above)\n", runs, (util_now_ms() - t0) / 1000, o.fired,
	       o.exited, o.carried_on, o.failed);
	unlink(s_base);
	assert_int_equal(o.failed, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fail_every_nth_allocation),
	};
	const char *bin = getenv("BOURSE_LIVE_BIN");

	if (live_env() != 0)
		return 77;
	if (!bin || access(bin, X_OK) != 0) {
		printf("skipped: needs BOURSE_LIVE_BIN, a bourse built without "
		       "sanitizers (make build); got '%s'\n", bin ? bin : "");
		return 77;
	}
	live_bin = bin;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
