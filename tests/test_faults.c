/*
 * test_faults.c - the store failing under the real system (issue 7):
 * another process holds the database's lock, the disk fills up, the store
 * stays broken past --store-outage-s. The real `bourse broker` and agents
 * run as processes (tests/live.h); the faults are real: a second SQLite
 * connection in this process holding a write transaction, and a file-size
 * limit lowered on the broker process with prlimit(2), which makes its
 * writes fail with EFBIG as a full disk fails them with ENOSPC (a small
 * filesystem would need mount privileges).
 *
 * The promises (docs/storage.md, "When the store fails"): the error is
 * logged once per streak, with SQLite's words; rounds go on in memory and
 * awards are sent; nothing is dispatched that is not recorded first; the
 * store is persisted to again by itself once it works, hosts and VMs
 * included; rounds in between are a gap whose length the log states; the
 * CLI fails clearly and changes nothing while the file is locked; the file
 * passes integrity_check and nothing persisted is lost; a store broken past
 * the limit stops the broker cleanly with exit status 1 and what to do.
 */
#define _GNU_SOURCE /* prlimit() */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>
#include <zmq.h>

#include "live.h"
#include "wire.h"
#include "util.h"
#include "banned.h"


/* The process copying the piped broker's output into its log. */
static pid_t logger = -1;

/* ---- processes ---- */

/* Copy fd into path until end of file, then exit (a forked child). */
static void copy_out(int fd, const char *path)
{
	char buf[4096];
	ssize_t n;
	int out = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);

	if (out < 0)
		_exit(1);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			_exit(1);
	_exit(0);
}

/* The broker as live_start_broker_with() starts it, but writing its
 * output into a pipe that a child copies into l->blog: a file-size limit
 * on the broker applies to every regular file it writes, its log too, and
 * the test must read what it says while its limit is 0. */
static void start_broker_piped(struct live *l, const char *const *extra)
{
	char round[16], hb[16], lv[16];
	const char *argv[32] = { live_bin, "broker", "--listen", l->ep, "--db",
				 l->db, "--round-ms", round, "--heartbeat-ms", hb,
				 "--liveness", lv };
	size_t n = 12;
	int fds[2];

	snprintf(round, sizeof(round), "%d", ROUND_MS);
	snprintf(hb, sizeof(hb), "%d", HB_MS);
	snprintf(lv, sizeof(lv), "%d", LIVENESS);
	while (extra && *extra && n < 31)
		argv[n++] = *extra++;
	argv[n] = NULL;
	assert_int_equal(pipe(fds), 0);
	logger = fork();
	assert_true(logger >= 0);
	if (logger == 0) {
		close(fds[1]);
		copy_out(fds[0], l->blog);
	}
	l->broker = fork();
	assert_true(l->broker >= 0);
	if (l->broker == 0) {
		if (dup2(fds[1], 1) < 0 || dup2(fds[1], 2) < 0)
			_exit(126);
		close(fds[0]);
		close(fds[1]);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(fds[0]);
	close(fds[1]);
}

/* An agent as live_start_agent() starts it, logging every award. */
static void start_agent(struct live *l, int i, const char *host,
			const char *cap, const char *vms)
{
	char log[160], uri[80];
	const char *args[] = { "agent", "--host", host, "--capacity-mib", cap,
			       "--uri", uri,
			       "--trace", l->trace, "--vms", vms, "--broker",
			       l->ep, "--step-s", "300", "--actuator", "dry-run",
			       "--dry-run-delay-ms",
			       l->dry_delay_ms ? l->dry_delay_ms : "0",
			       "--state-dir", l->dir, "--verbose", NULL };

	snprintf(log, sizeof(log), "%s/%s.log", l->dir, host);
	snprintf(uri, sizeof(uri), "test://%s/", host); /* migrations: a target */
	l->agents[i] = live_spawn(l, log, args);
}

/* live_start_cluster_with(), with the agents above. */
/* start_cluster() pauses dispatching before the agents start. */
static int start_paused;

/* Broker and agents. Every kind of action in manual mode (a new file
 * carries out resizes by itself), and paused if start_paused, before any
 * agent registers: what is approved and dispatched is the test's. */
static void start_cluster(struct live *l, int piped, const char *const *extra)
{
	if (piped)
		start_broker_piped(l, extra);
	else
		live_start_broker_with(l, extra);
	assert_true(live_wait_at_least(l, 1, WAIT_MS,
				       "SELECT COUNT(*) FROM control") >= 0);
	assert_int_equal(live_run_cli("'%s' mode manual --db '%s' >/dev/null",
				      live_bin, l->db), 0);
	if (start_paused)
		assert_int_equal(live_run_cli("'%s' pause --db '%s' >/dev/null",
					      live_bin, l->db), 0);
	start_agent(l, 0, "host-a", "8192", "0:4");
	start_agent(l, 1, "host-b", "32768", "4:2");
	live_wait_online(l, 2);
	assert_true(live_wait_at_least(l, 6, WAIT_MS,
				       "SELECT COUNT(*) FROM vms") >= 0);
	assert_true(live_wait_at_least(l, 1, WAIT_MS,
				       "SELECT COUNT(*) FROM recs") >= 0);
	live_wait_rounds_after(l, live_last_round(l), 2);
}

/* Wait up to timeout_ms for pid to exit by itself: its wait status, or -1
 * (then it is still running). */
static int wait_exit(pid_t *pid, int timeout_ms)
{
	int64_t end = util_now_ms() + timeout_ms;
	int status;

	while (util_now_ms() < end) {
		if (waitpid(*pid, &status, WNOHANG) == *pid) {
			*pid = 0;
			return status;
		}
		live_sleep_ms(10);
	}
	return -1;
}

/* The broker's file-size limit: 0 fails its every write like a full disk
 * (EFBIG; the broker ignores SIGXFSZ), RLIM_INFINITY is room again. */
static void broker_fsize(struct live *l, rlim_t cur)
{
	struct rlimit old, lim;

	assert_int_equal(prlimit(l->broker, RLIMIT_FSIZE, NULL, &old), 0);
	lim.rlim_cur = cur < old.rlim_max ? cur : old.rlim_max;
	lim.rlim_max = old.rlim_max;
	assert_int_equal(prlimit(l->broker, RLIMIT_FSIZE, &lim, NULL), 0);
}

/* ---- the database ---- */

/* Another process holding the write lock, as an operator's `sqlite3` with
 * a transaction left open would: BEGIN EXCLUSIVE and a row written. */
static sqlite3 *lock_db(struct live *l)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open_v2(l->db, &db, SQLITE_OPEN_READWRITE,
					 NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	assert_int_equal(sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "INSERT INTO audit (ts_ms, actor, "
				      "event) VALUES (0, 'test', 'test.lock')",
				      NULL, NULL, NULL), SQLITE_OK);
	return db;
}

static void unlock_db(sqlite3 *db)
{
	assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

/* The file is whole: integrity_check says ok, no foreign key dangles, and
 * the lock holder's rolled-back row is not there. */
static void assert_file_ok(struct live *l)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;

	assert_int_equal(sqlite3_open_v2(l->db, &db, SQLITE_OPEN_READONLY,
					 NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1,
					    &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1,
					    &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	sqlite3_close(db);
	assert_int_equal(live_q_int(l, "SELECT COUNT(*) FROM audit WHERE event"
				    " = 'test.lock'"), 0);
}

static int64_t rec_state(struct live *l, int64_t id)
{
	return live_q_int(l, "SELECT state FROM recs WHERE id = %" PRId64, id);
}

static void wait_rec_state(struct live *l, int64_t id, int st)
{
	char sql[96];

	snprintf(sql, sizeof(sql), "SELECT state = %d FROM recs WHERE id = %"
		 PRId64, st, id);
	assert_true(live_wait_at_least(l, 1, WAIT_MS, sql) >= 0);
}

static int64_t audit_count(struct live *l, int64_t rec, const char *event)
{
	return live_q_int(l, "SELECT COUNT(*) FROM audit WHERE rec_id = %"
			  PRId64 " AND event = '%s'", rec, event);
}

static int64_t pending_resize(struct live *l, int64_t not)
{
	return live_q_int(l, "SELECT MIN(id) FROM recs WHERE state = %d AND "
			  "kind = %d AND id != %" PRId64, STORE_REC_PENDING,
			  STORE_REC_RESIZE, not);
}

/* ---- logs ---- */

/* Wait until path has at least n lines containing needle. */
static void wait_log(const char *path, const char *needle, int n)
{
	int64_t end = util_now_ms() + WAIT_MS;

	while (live_count_in_file(path, needle) < n) {
		if (util_now_ms() > end)
			fail_msg("'%s' not %d times in %s", needle, n, path);
		live_sleep_ms(20);
	}
}

/* The number right after needle in the first line holding it, or -1. */
static int64_t log_number(const char *path, const char *needle)
{
	char line[2048];
	long long v = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, needle);

		if (p && sscanf(p + strlen(needle), "%lld", &v) == 1)
			break;
	}
	fclose(f);
	return v;
}

/* The first round written after round r, minus r, minus one: how many
 * round numbers the rounds table skips there. */
static int64_t gap_after(struct live *l, int64_t r)
{
	return live_q_int(l, "SELECT MIN(round) - %" PRId64 " - 1 FROM rounds "
			  "WHERE round > %" PRId64, r, r);
}

static void agent_log(const struct live *l, const char *host, char *path,
		      size_t size)
{
	snprintf(path, size, "%s/%s.log", l->dir, host);
}

/* ---- the tests ---- */

/* (a) Another process holds the write lock for many rounds: the broker
 * logs it once, serves the agents, marks a host lost in memory; the CLI's
 * write waits its bounded time and fails clearly, changing nothing, while
 * its reads work; once the lock is gone the rounds are persisted again,
 * the lost host is written, and nothing approved before is lost. */
static void test_locked_by_another_process(void **state)
{
	struct live *l = *state;
	char out[160], a_log[160], award[64];
	int64_t a, b, r, t0, took, gap, host_b;
	sqlite3 *lock;

	start_paused = 1; /* approved, kept, not dispatched */
	start_cluster(l, 0, NULL);
	start_paused = 0;
	agent_log(l, "host-a", a_log, sizeof(a_log));
	host_b = live_host_id(l, "host-b");
	a = pending_resize(l, 0);
	assert_true(a > 0);
	assert_int_equal(live_run_cli("%s recs approve %" PRId64 " --db %s "
				      ">/dev/null", BOURSE_BIN, a, l->db), 0);
	b = pending_resize(l, a);
	assert_true(b > 0);

	lock = lock_db(l);
	r = live_last_round(l); /* nothing is written past it while locked */
	wait_log(l->blog, "not persisted: ", 1);
	assert_int_equal(live_count_in_file(l->blog, "database is locked by "
					    "another process"), 1);

	/* a host lost while the store is locked is lost in memory */
	live_stop_proc(&l->agents[1], SIGKILL, 5000);
	wait_log(l->blog, "host host-b lost", 1);

	/* the CLI waits its bounded time, then says so and changes nothing;
	 * reads do not wait (WAL) */
	snprintf(out, sizeof(out), "%s/cli.err", l->dir);
	t0 = util_now_ms();
	assert_int_equal(live_run_cli("%s recs approve %" PRId64 " %" PRId64
				      " --db %s 2>%s", BOURSE_BIN, b, a, l->db,
				      out), 1);
	took = util_now_ms() - t0;
	assert_true(took >= STORE_BUSY_MS - 500 && took < 3 * STORE_BUSY_MS);
	assert_int_equal(live_count_in_file(out, "database is locked by "
					    "another process"), 1);
	assert_int_equal(live_count_in_file(out, "try again"), 1);
	assert_int_equal(live_count_in_file(out, "not tried"), 1);
	assert_int_equal(live_run_cli("%s recs list --db %s >/dev/null",
				      BOURSE_BIN, l->db), 0);
	assert_int_equal(live_run_cli("%s hosts --db %s >/dev/null",
				      BOURSE_BIN, l->db), 0);

	/* many rounds went by, none persisted, the error logged once; the
	 * agent left was awarded in rounds the table never got */
	wait_log(l->blog, "awards sent, not persisted", 5);
	assert_int_equal(live_count_in_file(l->blog, "not persisted: "), 1);
	assert_int_equal(live_last_round(l), r);
	snprintf(award, sizeof(award), "round %" PRId64 ": vm-1 target", r + 3);
	assert_true(live_count_in_file(a_log, award) >= 1);
	assert_true(live_alive(l->broker) && live_alive(l->agents[0]));
	/* the broker never stalled on the lock long enough to seem gone */
	assert_int_equal(live_count_in_file(a_log, "broker silent"), 0);
	/* its host's loss is not in the file yet */
	assert_int_equal(live_q_int(l, "SELECT state FROM hosts WHERE id = %"
				    PRId64, host_b), STORE_HOST_ONLINE);

	unlock_db(lock);
	live_wait_rounds_after(l, r, 3);
	wait_log(l->blog, "store recovered after ", 1);
	gap = gap_after(l, r);
	assert_true(gap >= 5);
	assert_int_equal(log_number(l->blog, "store recovered after "), gap);
	/* the host lost meanwhile is written lost, its VMs with it */
	wait_log(l->blog, "hosts and VMs written again", 1);
	assert_int_equal(live_q_int(l, "SELECT state FROM hosts WHERE id = %"
				    PRId64, host_b), STORE_HOST_LOST);
	assert_int_equal(live_q_int(l, "SELECT COUNT(*) FROM vms WHERE host_id"
				    " = %" PRId64 " AND state = %d", host_b,
				    STORE_VM_LOST), 2);
	/* audited once; host-a, written again unchanged, not at all */
	assert_int_equal(live_q_int(l, "SELECT COUNT(*) FROM audit WHERE event"
				    " = 'host.lost' AND detail = 'host-b'"), 1);
	assert_int_equal(live_q_int(l, "SELECT COUNT(*) FROM audit WHERE event"
				    " LIKE 'host.%%' AND detail = 'host-a'"), 0);

	/* nothing lost, nothing half-done: a approved, b never approved */
	assert_int_equal(rec_state(l, a), STORE_REC_APPROVED);
	assert_int_equal(audit_count(l, b, "rec.approved"), 0);
	assert_int_equal(audit_count(l, a, "rec.approved"), 1);
	assert_file_ok(l);
	/* the CLI writes again */
	b = pending_resize(l, a);
	assert_int_equal(live_run_cli("%s recs approve %" PRId64 " --db %s "
				      ">/dev/null", BOURSE_BIN, b, l->db), 0);
	assert_int_equal(rec_state(l, b), STORE_REC_APPROVED);
	live_stop_all_cleanly(l);
}

/* (b) The disk fills up (the broker's file-size limit drops to 0) with an
 * action in flight: the broker is not killed, reports the fault, keeps the
 * agent's result in memory, dispatches nothing, takes a host registering
 * again; once there is room it records the result, the action was carried
 * out once, the rounds and the registry are persisted again. */
static void test_disk_full_then_room_again(void **state)
{
	struct live *l = *state;
	char a_log[160], b_log[160], award[64];
	int64_t c, d, r, gap, regs, awards;

	l->dry_delay_ms = "1500";
	start_cluster(l, 1, NULL);
	agent_log(l, "host-a", a_log, sizeof(a_log));
	agent_log(l, "host-b", b_log, sizeof(b_log));
	assert_int_equal(live_run_cli("%s mode manual --db %s >/dev/null",
				      BOURSE_BIN, l->db), 0);
	c = pending_resize(l, 0);
	assert_true(c > 0);
	assert_int_equal(live_run_cli("%s recs approve %" PRId64 " --db %s "
				      ">/dev/null", BOURSE_BIN, c, l->db), 0);
	wait_rec_state(l, c, STORE_REC_DISPATCHED);

	/* the disk is full while the agent carries c out */
	broker_fsize(l, 0);
	wait_log(l->blog, "not persisted: ", 1);
	assert_true(live_count_in_file(l->blog, "no room to write the "
				       "database: the disk is full or the file "
				       "reached its size limit (SQLite: disk I/O "
				       "error; this process may write files of "
				       "at most 0 bytes (RLIMIT_FSIZE))") >= 1);
	wait_log(l->blog, "kept in memory until the store takes it", 1);
	assert_true(live_alive(l->broker)); /* SIGXFSZ ignored */
	r = live_last_round(l);
	assert_int_equal(rec_state(l, c), STORE_REC_DISPATCHED);

	/* an approval meanwhile (the CLI has room) is not dispatched: the
	 * broker cannot record it first */
	d = pending_resize(l, c);
	assert_true(d > 0);
	assert_int_equal(live_run_cli("%s recs approve %" PRId64 " --db %s "
				      ">/dev/null", BOURSE_BIN, d, l->db), 0);

	/* an agent that restarts registers again, in memory, and is served */
	regs = live_count_in_file(a_log, "registered with the broker");
	live_stop_proc(&l->agents[0], SIGKILL, 5000);
	awards = live_count_in_file(a_log, "vm-1 target");
	start_agent(l, 0, "host-a", "8192", "0:4");
	wait_log(a_log, "registered with the broker", (int)regs + 1);
	wait_log(a_log, "vm-1 target", (int)awards + 2);
	wait_log(l->blog, "awards sent, not persisted", 5);
	assert_int_equal(live_count_in_file(l->blog, "not persisted: "), 1);
	assert_int_equal(live_count_in_file(l->blog, "dispatched recommendation"),
			 1);
	assert_int_equal(live_last_round(l), r);
	assert_int_equal(rec_state(l, d), STORE_REC_APPROVED);
	snprintf(award, sizeof(award), "round %" PRId64 ": vm-5 target", r + 3);
	assert_true(live_count_in_file(b_log, award) >= 1);
	assert_int_equal(live_count_in_file(b_log, "broker silent"), 0);
	assert_true(live_count_in_file(l->blog, "host host-a is back") +
		    live_count_in_file(l->blog, "moved to a new connection") >= 1);

	/* room again: the store takes the next round by itself */
	broker_fsize(l, RLIM_INFINITY);
	live_wait_rounds_after(l, r, 3);
	wait_log(l->blog, "store recovered after ", 1);
	gap = gap_after(l, r);
	assert_true(gap >= 5);
	assert_int_equal(log_number(l->blog, "store recovered after "), gap);
	wait_log(l->blog, "hosts and VMs written again (2 hosts, 6 VMs)", 1);
	wait_rec_state(l, c, STORE_REC_SUCCEEDED);
	wait_rec_state(l, d, STORE_REC_SUCCEEDED);
	live_wait_rounds_after(l, live_last_round(l), 3);
	/* each carried out once, dispatched once, its result recorded once */
	assert_int_equal(live_times_acted(l, c), 1);
	assert_int_equal(live_times_acted(l, d), 1);
	assert_int_equal(live_count_starting(a_log, "dry run: would") +
			 live_count_starting(b_log, "dry run: would"), 2);
	assert_int_equal(audit_count(l, c, "rec.dispatched"), 1);
	assert_int_equal(audit_count(l, c, "rec.succeeded"), 1);
	assert_int_equal(audit_count(l, d, "rec.dispatched"), 1);
	assert_file_ok(l);
	live_stop_all_cleanly(l);
}

/* (c) The store stays locked past --store-outage-s: the broker stops by
 * itself, exit status 1, saying what happened and what to do; the file is
 * whole, and a broker started again goes on from the last round written. */
static void test_outage_limit_stops_cleanly(void **state)
{
	struct live *l = *state;
	const char *const limit[] = { "--store-outage-s", "1", NULL };
	int64_t a, r, t0, took;
	sqlite3 *lock;
	int st;

	start_paused = 1; /* approved, kept, not dispatched */
	start_cluster(l, 0, limit);
	start_paused = 0;
	a = pending_resize(l, 0);
	assert_int_equal(live_run_cli("%s recs approve %" PRId64 " --db %s "
				      ">/dev/null", BOURSE_BIN, a, l->db), 0);

	lock = lock_db(l);
	t0 = util_now_ms();
	r = live_last_round(l);
	st = wait_exit(&l->broker, WAIT_MS);
	took = util_now_ms() - t0;
	assert_int_not_equal(st, -1);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 1);
	assert_true(took >= 1000); /* not before the limit */
	assert_true(took < 1000 + 20 * ROUND_MS * live_slow);
	assert_int_equal(live_count_in_file(l->blog, "broker: stopped after "),
			 1);
	assert_int_equal(live_count_in_file(l->blog, "bourse broker: stopped: "
					    "the database"), 1);
	assert_int_equal(live_count_in_file(l->blog, "refused every round for "
					    "1 s"), 1);
	assert_int_equal(live_count_in_file(l->blog, "giving up: rounds "), 1);
	assert_int_equal(live_count_in_file(l->blog, "everything persisted "
					    "before is intact: "), 1);
	assert_int_equal(live_count_in_file(l->blog, "end the process that "
					    "holds its lock"), 1);
	assert_true(live_count_in_file(l->blog, "database is locked by another "
				       "process") >= 2);
	unlock_db(lock);

	assert_file_ok(l);
	assert_int_equal(live_last_round(l), r);
	assert_int_equal(rec_state(l, a), STORE_REC_APPROVED);
	live_db_close(l);
	/* started again, it goes on from the last round written */
	live_start_broker(l);
	live_wait_rounds_after(l, r, 3);
	assert_int_equal(live_q_int(l, "SELECT MIN(round) FROM rounds WHERE "
				    "round > %" PRId64, r), r + 1);
	live_wait_online(l, 2);
	assert_int_equal(rec_state(l, a), STORE_REC_APPROVED);
	live_stop_all_cleanly(l);
}

/* A trace of n VMs (ids 101..100+n) for a big host: its rounds take long
 * enough that a kill at a random moment often lands inside one. */
static void write_big_trace(const char *path, int n)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fprintf(f, "vm,time_s,provisioned_mib,demand_mib\n");
	for (int vm = 101; vm <= 100 + n; vm++)
		for (int step = 0; step < 8; step++)
			fprintf(f, "%d,%d,4096,%d\n", vm,
				1372629600 + 300 * step,
				900 + (vm * 37 + step * 211) % 2800);
	assert_int_equal(fclose(f), 0);
}

/* Sum and count of the round times (ms) the broker logged: how much of its
 * time it spends inside a round. */
static double round_ms_logged(const char *path, int *n)
{
	char line[1024];
	double sum = 0, ms;
	FILE *f = fopen(path, "r");

	*n = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, " signals, ");

		if (p && sscanf(p, " signals, %lf ms", &ms) == 1) {
			sum += ms;
			(*n)++;
		}
	}
	fclose(f);
	return sum;
}

/* (d) The broker killed with SIGKILL again and again at arbitrary moments,
 * with a host of 3,000 VMs making each round's clearing and transaction
 * long: after every kill the file is whole and a restarted broker goes on
 * from the last persisted round; approved and dispatched recommendations
 * are never lost and no action is carried out twice; the agents come back
 * by themselves. */
static void test_killed_mid_round_repeatedly(void **state)
{
	struct live *l = *state;
	char trace[160], log[160], cmd_db[200];
	int64_t ids[2], r;
	int n = 0;

	/* the per-round lines, read at the end, are at debug */
	const char *const debug[] = { "--log-level", "debug", NULL };

	snprintf(trace, sizeof(trace), "%s/big.csv", l->dir);
	write_big_trace(trace, 3000);
	start_cluster(l, 0, debug);
	snprintf(log, sizeof(log), "%s/big.log", l->dir);
	const char *big[] = { "agent", "--host", "big", "--capacity-mib",
			      "8000000", "--trace", trace, "--vms", "0:3000",
			      "--broker", l->ep, "--step-s", "300", NULL };
	l->agents[2] = live_spawn(l, log, big);
	assert_true(live_wait_at_least(l, 3006, WAIT_MS, "SELECT COUNT(*) FROM "
				       "vms") >= 0);
	snprintf(cmd_db, sizeof(cmd_db), "--db '%s'", l->db);
	/* two recommendations approved and, in manual mode, dispatched */
	assert_int_equal(live_run_cli("'%s' mode manual --for resize-up,"
				      "resize-down,migrate %s >/dev/null",
				      live_bin, cmd_db), 0);
	ids[0] = pending_resize(l, 0);
	ids[1] = pending_resize(l, ids[0]);
	assert_true(ids[0] > 0 && ids[1] > 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(live_run_cli("'%s' recs approve %" PRId64
					      " %s >/dev/null", live_bin,
					      ids[i], cmd_db), 0);

	for (int k = 0; k < 10; k++) {
		r = live_last_round(l);
		live_wait_rounds_after(l, r, 1);
		live_sleep_ms((k * 53) % 200); /* somewhere in a 200 ms round */
		live_stop_proc(&l->broker, SIGKILL, 5000);
		live_db_close(l);
		assert_file_ok(l);
		r = live_last_round(l);
		live_start_broker_with(l, debug);
		/* it goes on from the last persisted round */
		live_wait_rounds_after(l, r, 2);
		assert_int_equal(gap_after(l, r), 0);
	}
	/* every VM back, every approval kept, nothing done twice */
	live_wait_online(l, 3);
	for (int i = 0; i < 2; i++) {
		int64_t st = rec_state(l, ids[i]);

		/* an approval not dispatched yet may be superseded by the
		 * market's newer recommendation for its VM (audited); never
		 * lost otherwise */
		assert_true(st == STORE_REC_APPROVED ||
			    st == STORE_REC_DISPATCHED ||
			    st == STORE_REC_SUCCEEDED ||
			    (st == STORE_REC_SUPERSEDED &&
			     audit_count(l, ids[i], "rec.superseded") == 1));
		assert_true(live_times_acted(l, ids[i]) <= 1);
		assert_true(audit_count(l, ids[i], "rec.dispatched") <= 1);
	}
	live_stop_all_cleanly(l);
	double busy = round_ms_logged(l->blog, &n);

	fprintf(stderr, "10 kills; the broker spent %.0f ms in %d rounds, "
		"%.0f%% of its 200 ms periods: about that share of the kills "
		"landed inside a round\n", busy, n,
		n ? 100.0 * busy / (200.0 * n) : 0);
	assert_file_ok(l);
}


/* ---- exactly once (issue 16, point 3) ---- */

/* The database's identity as the action ids carry it (16 hex digits). */
static void db_uid(struct live *l, char *out, size_t len)
{
	snprintf(out, len, "%016" PRIx64,
		 (uint64_t)live_q_int(l, "SELECT uid FROM db_identity"));
}

/* How many times an agent's log says it carried out an action whose id
 * starts with prefix: "action ID (vm): ok" lines, not the answers from
 * memory ("not done again"). */
static int times_done(const char *log, const char *prefix)
{
	char line[2048];
	int n = 0;
	FILE *f = fopen(log, "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		const char *p = strstr(line, "action ");

		if (p && !strncmp(p + 7, prefix, strlen(prefix)) &&
		    strstr(p, "): ok") && !strstr(p, "not done again"))
			n++;
	}
	fclose(f);
	return n;
}

/* Times rec id of the database uid was carried out, by either agent. */
static int rec_done(struct live *l, int64_t id, const char *uid)
{
	char a[160], b[160], prefix[64];

	agent_log(l, "host-a", a, sizeof(a));
	agent_log(l, "host-b", b, sizeof(b));
	snprintf(prefix, sizeof(prefix), "rec-%" PRId64 "-%s-", id, uid);
	return times_done(a, prefix) + times_done(b, prefix);
}

/* (e) The database made anew under running agents: rec ids start at 1
 * again, but the action ids carry the new database's identity: the agents
 * carry out the new actions (before, they answered them "repeated id: not
 * done again" from memory and nothing was done). */
static void test_recreated_database_new_ids(void **state)
{
	struct live *l = *state;
	char uid1[20], uid2[20], a_log[160], b_log[160], path[200];
	int64_t top1, n2 = 0, overlap = 0;
	const char *const fast[] = { "--vm-cooldown-s", "0", NULL };

	start_cluster(l, 0, fast);
	assert_int_equal(live_run_cli("'%s' mode automated --for resize-up,"
				      "resize-down --db '%s' >/dev/null",
				      live_bin, l->db), 0);
	assert_true(live_wait_at_least(l, 3, WAIT_MS, "SELECT COUNT(*) FROM "
				       "recs WHERE state = 7") >= 0);
	db_uid(l, uid1, sizeof(uid1));
	top1 = live_q_int(l, "SELECT MAX(id) FROM recs WHERE state = %d",
			  STORE_REC_SUCCEEDED);
	live_stop_broker_cleanly(l);
	live_db_close(l);
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s%s", l->db,
			 i == 0 ? "" : i == 1 ? "-wal" : "-shm");
		unlink(path);
	}
	live_start_broker_with(l, fast);
	assert_true(live_wait_at_least(l, 1, WAIT_MS,
				       "SELECT COUNT(*) FROM control") >= 0);
	/* a new file: resizes automated by default */
	assert_true(live_wait_at_least(l, 3, WAIT_MS, "SELECT COUNT(*) FROM "
				       "recs WHERE state = 7") >= 0);
	live_wait_rounds_after(l, live_last_round(l), 3);
	db_uid(l, uid2, sizeof(uid2));
	assert_string_not_equal(uid1, uid2);
	for (int64_t id = 1; id <= live_q_int(l, "SELECT MAX(id) FROM recs");
	     id++) {
		if (rec_state(l, id) != STORE_REC_SUCCEEDED)
			continue;
		n2++;
		overlap += id <= top1; /* an id the first database used */
		assert_int_equal(rec_done(l, id, uid2), 1);
	}
	agent_log(l, "host-a", a_log, sizeof(a_log));
	agent_log(l, "host-b", b_log, sizeof(b_log));
	assert_int_equal(live_count_in_file(a_log, "not done again") +
			 live_count_in_file(b_log, "not done again"), 0);
	assert_true(overlap > 0); /* the test means something */
	print_message("second database: %" PRId64 " actions succeeded, %"
		      PRId64 " of them with a rec id the first one had used; "
		      "each carried out once\n", n2, overlap);
	live_stop_all_cleanly(l);
}

/* A peer of its own host (host-c, registered through its own connection:
 * a valid identity) sending ActionResults. */
static void *rogue_open(struct live *l, void **ctx)
{
	void *s;
	int linger = 0, hwm = 0;
	wire_msg e;
	size_t len;
	uint8_t *buf;

	*ctx = zmq_ctx_new();
	s = zmq_socket(*ctx, ZMQ_DEALER);
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	assert_int_equal(zmq_connect(s, l->ep), 0);
	wire_msg_init(&e, WIRE_ROLE_HOST, "host-c", 1, WIRE_BODY_REGISTER);
	e.reg.has_host = 1;
	e.reg.host.capacity_mib = 4096;
	e.reg.host.reserve_mib = 512;
	e.reg.host.uri = "";
	buf = wire_msg_encode(&e, &len);
	assert_non_null(buf);
	assert_int_equal(zmq_send(s, buf, len, 0), (int)len);
	free(buf);
	return s;
}

static void rogue_result(void *s, uint64_t seq, const char *id)
{
	wire_msg e;
	size_t len;
	uint8_t *buf;

	wire_msg_init(&e, WIRE_ROLE_HOST, "host-c", seq,
		      WIRE_BODY_ACTION_RESULT);
	e.action_result.id = id;
	e.action_result.status = WIRE_STATUS_FAILED;
	e.action_result.detail = "rogue";
	buf = wire_msg_encode(&e, &len);
	assert_non_null(buf);
	zmq_send(s, buf, len, ZMQ_DONTWAIT);
	free(buf);
}

/* The broker's /metrics through curl: the value of the sample line that
 * starts with what, or -1. */
static double metric(const char *url, const char *what)
{
	char cmd[400], line[512];
	double v = -1;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "curl -s '%s/metrics'", url);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	while (fgets(line, sizeof(line), p))
		if (!strncmp(line, what, strlen(what)))
			v = strtod(line + strlen(what), NULL);
	pclose(p);
	return v;
}

/* (f) Another host's agent (a valid identity of its own) answers the
 * actions dispatched to host-a, and sends results for ids of no action,
 * 3,000 in all: none changes a recommendation; each is counted as dropped
 * "stray_result" (the broker's counters, /metrics), none is written as an
 * audit row of its own (at most one summary a minute); host-a's own
 * results are recorded. */
static void test_stray_results_counted_not_written(void **state)
{
	struct live *l = *state;
	char uid[20], id[80], url[128], line[512];
	const char *const http[] = { "--http", "127.0.0.1:0", NULL };
	int64_t a, b, created;
	void *ctx, *s;
	uint64_t seq = 2;
	FILE *f;

	l->dry_delay_ms = "3000";
	start_paused = 1;
	start_cluster(l, 0, http);
	start_paused = 0;
	url[0] = '\0';
	f = fopen(l->blog, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "broker: http on ");

		if (p)
			sscanf(p + 16, "%120s", url);
	}
	fclose(f);
	assert_true(url[0] != '\0');
	a = pending_resize(l, 0);
	b = pending_resize(l, a);
	assert_true(a > 0 && b > 0);
	assert_int_equal(live_run_cli("'%s' recs approve %" PRId64 " %" PRId64
				      " --db '%s' >/dev/null", live_bin, a, b,
				      l->db), 0);
	assert_int_equal(live_run_cli("'%s' resume --db '%s' >/dev/null",
				      live_bin, l->db), 0);
	wait_rec_state(l, a, STORE_REC_DISPATCHED);
	wait_rec_state(l, b, STORE_REC_DISPATCHED);
	db_uid(l, uid, sizeof(uid));
	s = rogue_open(l, &ctx);
	live_sleep_ms(300); /* registered */
	for (int i = 0; i < 3000; i++) {
		int64_t r = i % 3 == 0 ? a : i % 3 == 1 ? b : 100000 + i;

		created = live_q_int(l, "SELECT COALESCE(MAX(created_ms), 0) "
				     "FROM recs WHERE id = %" PRId64, r);
		snprintf(id, sizeof(id), "rec-%" PRId64 "-%s-%" PRId64, r,
			 uid, created);
		rogue_result(s, seq++, i % 5 == 4 ? "rec-1" : id);
		if (i % 200 == 199)
			live_sleep_ms(20); /* under the rate limit */
	}
	live_sleep_ms(500);
	/* the in-flight actions are host-a's to answer: still dispatched */
	assert_int_equal(rec_state(l, a), STORE_REC_DISPATCHED);
	assert_int_equal(rec_state(l, b), STORE_REC_DISPATCHED);
	wait_rec_state(l, a, STORE_REC_SUCCEEDED);
	wait_rec_state(l, b, STORE_REC_SUCCEEDED);
	live_wait_rounds_after(l, live_last_round(l), 2);
	double strays = metric(url, "bourse_messages_dropped_total{reason="
			       "\"stray_result\"} ");
	assert_true(strays >= 2900 && strays <= 3000);
	assert_int_equal(live_q_int(l, "SELECT COUNT(*) FROM audit WHERE "
				    "event LIKE 'action.stray%%'"), 0);
	assert_true(live_count_in_file(l->blog, "stray_result") <= 2);
	assert_int_equal(live_q_int(l, "SELECT COUNT(*) FROM audit WHERE "
				    "actor = 'agent:host-c'"), 0);
	print_message("%.0f stray results counted, none recorded; host-a's "
		      "own results recorded\n", strays);
	zmq_close(s);
	zmq_ctx_term(ctx);
	live_stop_all_cleanly(l);
	/* the summary is written when the broker stops, if none was yet */
	assert_int_equal(live_q_int(l, "SELECT COUNT(*) FROM audit WHERE "
				    "event = 'action.stray_results'"), 1);
}

/* (g) A result that arrives after its action timed out: the rec stays
 * failed ("timeout"), the late outcome is one audit row on it
 * (action.late_result), not a stray. */
static void test_late_result_recorded_as_late(void **state)
{
	struct live *l = *state;
	const char *const quick[] = { "--action-timeout-s", "1", NULL };
	int64_t a;

	l->dry_delay_ms = "2500";
	start_paused = 1;
	start_cluster(l, 0, quick);
	start_paused = 0;
	a = pending_resize(l, 0);
	assert_true(a > 0);
	assert_int_equal(live_run_cli("'%s' recs approve %" PRId64 " --db '%s'"
				      " >/dev/null && '%s' resume --db '%s' "
				      ">/dev/null", live_bin, a, l->db,
				      live_bin, l->db), 0);
	wait_rec_state(l, a, STORE_REC_FAILED);
	assert_true(live_wait_at_least(l, 1, WAIT_MS, "SELECT COUNT(*) FROM "
				       "audit WHERE event = "
				       "'action.late_result'") >= 0);
	assert_int_equal(rec_state(l, a), STORE_REC_FAILED);
	assert_int_equal(audit_count(l, a, "action.late_result"), 1);
	assert_int_equal(live_q_int(l, "SELECT COUNT(*) FROM audit WHERE "
				    "rec_id = %" PRId64 " AND event = "
				    "'action.late_result' AND detail LIKE "
				    "'late result, after the timeout: done%%'",
				    a), 1);
	assert_int_equal(live_count_in_file(l->blog, "stray"), 0);
	/* failed by its timeout, it was not sent again: carried out once,
	 * dispatched once (issue 16.3's first way, fixed before) */
	assert_int_equal(live_count_in_file(l->blog, "re-sent"), 0);
	assert_int_equal(audit_count(l, a, "rec.dispatched"), 1);
	{
		char uid[20];

		db_uid(l, uid, sizeof(uid));
		assert_int_equal(rec_done(l, a, uid), 1);
	}
	live_stop_all_cleanly(l);
}

/* (h) Kill -9 again and again at random moments, the broker, host-a's
 * agent, or both in either order, each restarted at once, while resizes
 * of 400 ms each are dispatched automatically: no action is carried out
 * twice, every rec is dispatched at most once, the file stays whole.
 * BOURSE_FAULTS_KILLS=N for a longer soak (default 42). */
static void test_random_kills_nothing_twice(void **state)
{
	struct live *l = *state;
	const char *const extra[] = { "--vm-cooldown-s", "0",
				      "--action-timeout-s", "3", NULL };
	const char *env = getenv("BOURSE_FAULTS_KILLS");
	long want = env ? strtol(env, NULL, 10) : 0;
	int kills = want > 0 && want < 100000 ? (int)want : 42;
	int of[3] = { 0 }, done = 0, repeats = 0, interrupted = 0;
	unsigned seed = (unsigned)util_now_ms();
	char uid[20], a_log[160], b_log[160];
	int64_t top, t0 = util_now_ms();

	l->dry_delay_ms = "400";
	start_cluster(l, 0, extra);
	assert_int_equal(live_run_cli("'%s' mode automated --for resize-up,"
				      "resize-down --db '%s' >/dev/null",
				      live_bin, l->db), 0);
	assert_true(live_wait_at_least(l, 1, WAIT_MS, "SELECT COUNT(*) FROM "
				       "recs WHERE state = 6 OR state = 7")
		    >= 0);
	print_message("seed %u\n", seed);
	for (int k = 0; k < kills; k++) {
		int who = (int)(rand_r(&seed) % 3); /* broker, agent, both */
		int agent_first = (int)(rand_r(&seed) % 2);

		live_sleep_ms(100 + (int)(rand_r(&seed) % 600));
		of[who]++;
		if (who == 1 || (who == 2 && agent_first))
			live_stop_proc(&l->agents[0], SIGKILL, 5000);
		if (who != 1)
			live_stop_proc(&l->broker, SIGKILL, 5000);
		if (who == 2 && !agent_first) {
			live_sleep_ms((int)(rand_r(&seed) % 400));
			live_stop_proc(&l->agents[0], SIGKILL, 5000);
		}
		if (who != 1)
			live_start_broker_with(l, extra);
		if (who != 0)
			start_agent(l, 0, "host-a", "8192", "0:4");
	}
	live_wait_online(l, 2);
	/* no new dispatches; what is in flight resolves (answered, or timed
	 * out when the agent that had it died) */
	assert_int_equal(live_run_cli("'%s' pause --db '%s' >/dev/null",
				      live_bin, l->db), 0);
	assert_true(live_wait_at_least(l, 1, WAIT_MS, "SELECT COUNT(*) = 0 "
				       "FROM recs WHERE state = 6") >= 0);
	live_db_close(l);
	assert_file_ok(l);
	db_uid(l, uid, sizeof(uid));
	top = live_q_int(l, "SELECT MAX(id) FROM recs");
	for (int64_t id = 1; id <= top; id++) {
		int n = rec_done(l, id, uid);

		if (n > 1)
			fail_msg("rec %" PRId64 " carried out %d times", id, n);
		done += n;
		assert_true(audit_count(l, id, "rec.dispatched") <= 1);
	}
	agent_log(l, "host-a", a_log, sizeof(a_log));
	agent_log(l, "host-b", b_log, sizeof(b_log));
	repeats = live_count_in_file(a_log, "not done again");
	interrupted = live_count_in_file(a_log, "interrupted: the agent stopped");
	assert_true(done >= 5);
	print_message("%d kills in %.0f s (broker %d, agent %d, both %d): %d "
		      "actions carried out, each once; %d answered from the "
		      "agent's memory, %d answered 'interrupted'; %" PRId64
		      " failed by timeout\n", kills,
		      (double)(util_now_ms() - t0) / 1000.0, of[0], of[1],
		      of[2], done, repeats, interrupted,
		      live_q_int(l, "SELECT COUNT(*) FROM recs WHERE state = "
				 "%d AND state_reason LIKE 'timeout%%'",
				 STORE_REC_FAILED));
	live_stop_all_cleanly(l);
}

/* ---- issue 17, bugs 1 and 6 ---- */

/* A migration carried out (the dry run: the VM stays, the agent says
 * done): while it is in flight, no new recommendation for its VM; once it
 * succeeded the VM's last_migrated_round is set, and the market's
 * migrate_cooldown (12 rounds) keeps it from recommending a migration
 * again (before: the same one pending again within a round or two). */
static void test_migration_sets_cooldown_no_duplicates(void **state)
{
	struct live *l = *state;
	int64_t m, vm, r_done, in_flight;

	l->dry_delay_ms = "1500";
	start_paused = 1;
	start_cluster(l, 0, NULL);
	start_paused = 0;
	assert_true(live_wait_at_least(l, 1, WAIT_MS, "SELECT COUNT(*) FROM "
				       "recs WHERE kind = 2 AND state = 1")
		    >= 0);
	m = live_q_int(l, "SELECT MIN(id) FROM recs WHERE kind = 2 AND "
		       "state = 1");
	vm = live_q_int(l, "SELECT vm_id FROM recs WHERE id = %" PRId64, m);
	assert_int_equal(live_q_int(l, "SELECT last_migrated_round IS NULL "
				    "FROM vms WHERE id = %" PRId64, vm), 1);
	assert_int_equal(live_run_cli("'%s' recs approve %" PRId64 " --db '%s'"
				      " >/dev/null && '%s' resume --db '%s' "
				      ">/dev/null", live_bin, m, l->db,
				      live_bin, l->db), 0);
	wait_rec_state(l, m, STORE_REC_DISPATCHED);
	in_flight = live_last_round(l);
	wait_rec_state(l, m, STORE_REC_SUCCEEDED);
	r_done = live_last_round(l);
	assert_true(r_done - in_flight >= 3); /* 1.5 s of 200 ms rounds */
	live_wait_rounds_after(l, r_done, 8);
	/* none of either kind while in flight (before: the same migration,
	 * pending again), and no migration since (a resize may come: the
	 * dry run left the VM where it was) */
	assert_int_equal(live_q_int(l, "SELECT COUNT(*) FROM recs WHERE "
				    "vm_id = %" PRId64 " AND id > %" PRId64
				    " AND round <= %" PRId64, vm, m, r_done),
			 0);
	assert_int_equal(live_q_int(l, "SELECT COUNT(*) FROM recs WHERE "
				    "vm_id = %" PRId64 " AND id > %" PRId64
				    " AND kind = 2", vm, m), 0);
	assert_true(live_q_int(l, "SELECT last_migrated_round FROM vms WHERE "
			       "id = %" PRId64, vm) >= r_done);
	live_stop_all_cleanly(l);
}

/* ---- fixtures ---- */

static int faults_setup(void **state)
{
	logger = -1;
	return live_setup(state);
}

/* The broker first, so that the logger sees the end of its pipe. */
static int faults_teardown(void **state)
{
	struct live *l = *state;

	live_stop_proc(&l->broker, SIGKILL, 5000);
	if (logger > 0)
		waitpid(logger, NULL, 0);
	logger = -1;
	return live_teardown(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_locked_by_another_process,
						faults_setup, faults_teardown),
		cmocka_unit_test_setup_teardown(test_disk_full_then_room_again,
						faults_setup, faults_teardown),
		cmocka_unit_test_setup_teardown(test_outage_limit_stops_cleanly,
						faults_setup, faults_teardown),
		cmocka_unit_test_setup_teardown(test_killed_mid_round_repeatedly,
						faults_setup, faults_teardown),
		cmocka_unit_test_setup_teardown(test_recreated_database_new_ids,
						faults_setup, faults_teardown),
		cmocka_unit_test_setup_teardown(
			test_stray_results_counted_not_written, faults_setup,
			faults_teardown),
		cmocka_unit_test_setup_teardown(
			test_late_result_recorded_as_late, faults_setup,
			faults_teardown),
		cmocka_unit_test_setup_teardown(test_random_kills_nothing_twice,
						faults_setup, faults_teardown),
		cmocka_unit_test_setup_teardown(
			test_migration_sets_cooldown_no_duplicates,
			faults_setup, faults_teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	if (getenv("BOURSE_TEST_FILTER")) /* one test by name (a glob) */
		cmocka_set_test_filter(getenv("BOURSE_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
