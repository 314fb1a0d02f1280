/*
 * test_live.c - the live system end to end: the real `bourse broker` and
 * `bourse agent` binaries started as processes, talking ZeroMQ over an ipc
 * socket, the broker writing a real SQLite file that the test reads.
 *
 * The cluster: host-a is small and carries four busy VMs, host-b is large
 * and carries two quiet ones, so the market resizes VMs on host-a and wants
 * to migrate some of them to host-b. Each test starts its own broker and
 * agents in a fresh directory and stops them in teardown.
 *
 * With BOURSE_LIVE_VALGRIND=1 the same tests run the processes under
 * valgrind (BOURSE_LIVE_BIN names a build without sanitizers): every broker
 * and agent must then stop without memory errors or leaks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>
#include <zmq.h>

#include "wire.h"

#define ROUND_MS 200
#define HB_MS 100
#define LIVENESS 3
#define MAX_AGENTS 4
#define WAIT_MS (15000 * slow) /* generous: ASan, or valgrind */

static const char *bin = BOURSE_BIN; /* what runs as broker and agents */
static int valgrind;                 /* run them under valgrind */
static int slow = 1;                 /* timeouts scale with it */

/* Host states as storage/store.h numbers them. */
#define HOST_ONLINE 1
#define HOST_LOST 2
#define REC_PENDING 1
#define REC_APPROVED 2
#define REC_EXPIRED 4
#define SIGNAL_SUSPEND 2

struct live {
	char dir[64];
	char db[128], ep[128], trace[128], blog[128];
	pid_t broker;
	pid_t agents[MAX_AGENTS];
	sqlite3 *sql;
	const char *dry_delay_ms; /* the agents' --dry-run-delay-ms */
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Four busy VMs (ids 1-4) for host-a, two quiet ones (5, 6) for host-b. */
static void write_trace(const char *path)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fprintf(f, "vm,time_s,provisioned_mib,demand_mib\n");
	for (int vm = 1; vm <= 6; vm++)
		for (int step = 0; step < 48; step++)
			fprintf(f, "%d,%d,%d,%d\n", vm, 1372629600 + 300 * step,
				vm <= 4 ? 4096 : 2048,
				vm <= 4 ? 2600 + 40 * (step % 5) : 600);
	assert_int_equal(fclose(f), 0);
}

/* Start bin with args (under valgrind if asked, its report in the test's
 * directory), stdout and stderr appended to log. */
static pid_t spawn(const struct live *l, const char *log,
		   const char *const *args)
{
	const char *argv[32];
	char vglog[160];
	size_t n = 0;
	pid_t pid;

	snprintf(vglog, sizeof(vglog), "--log-file=%s/valgrind.%%p.log", l->dir);
	if (valgrind) {
		static const char *const vg[] = {
			"valgrind", "--quiet", "--error-exitcode=99",
			"--leak-check=full", "--show-leak-kinds=definite,indirect",
			"--errors-for-leak-kinds=definite,indirect", NULL
		};
		for (const char *const *v = vg; *v; v++)
			argv[n++] = *v;
		argv[n++] = vglog;
	}
	argv[n++] = bin;
	while (*args && n < 31)
		argv[n++] = *args++;
	argv[n] = NULL;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(126);
		close(fd);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	return pid;
}

/* The broker, with extra flags (NULL-terminated, may be NULL). */
static void start_broker_with(struct live *l, const char *const *extra)
{
	char round[16], hb[16], lv[16];
	const char *args[24] = { "broker", "--listen", l->ep, "--db", l->db,
				 "--round-ms", round, "--heartbeat-ms", hb,
				 "--liveness", lv };
	size_t n = 11;

	snprintf(round, sizeof(round), "%d", ROUND_MS);
	snprintf(hb, sizeof(hb), "%d", HB_MS);
	snprintf(lv, sizeof(lv), "%d", LIVENESS);
	while (extra && *extra && n < 23)
		args[n++] = *extra++;
	args[n] = NULL;
	l->broker = spawn(l, l->blog, args);
}

static void start_broker(struct live *l)
{
	start_broker_with(l, NULL);
}

static void start_agent(struct live *l, int i, const char *host,
			const char *cap, const char *vms)
{
	char log[160];

	snprintf(log, sizeof(log), "%s/%s.log", l->dir, host);
	const char *args[] = { "agent", "--host", host, "--capacity-mib", cap,
			       "--trace", l->trace, "--vms", vms,
			       "--broker", l->ep, "--step-s", "300",
			       "--actuator", "dry-run", "--dry-run-delay-ms",
			       l->dry_delay_ms ? l->dry_delay_ms : "0", NULL };
	l->agents[i] = spawn(l, log, args);
}

/* Signal pid and wait up to timeout_ms; returns its wait status, or -1 if
 * it had to be killed. */
static int stop_proc(pid_t *pid, int sig, int timeout_ms)
{
	int status = 0;
	int64_t end = now_ms() + timeout_ms;

	if (*pid <= 0)
		return 0;
	kill(*pid, sig);
	while (waitpid(*pid, &status, WNOHANG) == 0) {
		if (now_ms() > end) {
			kill(*pid, SIGKILL);
			waitpid(*pid, &status, 0);
			*pid = 0;
			return -1;
		}
		sleep_ms(10);
	}
	*pid = 0;
	return status;
}

static int alive(pid_t pid)
{
	int status;

	return pid > 0 && waitpid(pid, &status, WNOHANG) == 0;
}

/* SIGTERM: the process must exit 0 on its own (under ASan or valgrind:
 * also without memory errors or leaks). */
static void stop_cleanly(pid_t *pid)
{
	int st = stop_proc(pid, SIGTERM, 10000 * slow);

	assert_int_not_equal(st, -1);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void stop_broker_cleanly(struct live *l)
{
	stop_cleanly(&l->broker);
}

/* The agents, then the broker. */
static void stop_all_cleanly(struct live *l)
{
	for (int i = 0; i < MAX_AGENTS; i++)
		if (l->agents[i] > 0)
			stop_cleanly(&l->agents[i]);
	stop_broker_cleanly(l);
}

/* ---- reading the database the broker writes ---- */

static int64_t q_int(struct live *l, const char *fmt, ...)
{
	char sql[512];
	va_list ap;
	sqlite3_stmt *st;
	int64_t v = -1;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	if (!l->sql) {
		if (sqlite3_open_v2(l->db, &l->sql, SQLITE_OPEN_READONLY,
				    NULL) != SQLITE_OK) {
			sqlite3_close(l->sql);
			l->sql = NULL;
			return -1;
		}
		sqlite3_busy_timeout(l->sql, 2000);
	}
	if (sqlite3_prepare_v2(l->sql, sql, -1, &st, NULL) != SQLITE_OK)
		return -1; /* the schema is not there yet */
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void db_close(struct live *l)
{
	sqlite3_close(l->sql);
	l->sql = NULL;
}

/* Wait until the query's value is at least min; returns how long it took
 * (ms), or -1 after timeout_ms. */
static int64_t wait_at_least(struct live *l, int64_t min, int timeout_ms,
			     const char *sql)
{
	int64_t start = now_ms();

	while (now_ms() - start <= timeout_ms) {
		if (q_int(l, "%s", sql) >= min)
			return now_ms() - start;
		sleep_ms(20);
	}
	fprintf(stderr, "timed out waiting for (%s) >= %" PRId64 "; it is %"
		PRId64 "\n", sql, min, q_int(l, "%s", sql));
	return -1;
}

static int64_t last_round(struct live *l)
{
	return q_int(l, "SELECT COALESCE(MAX(round), 0) FROM rounds");
}

static int64_t host_id(struct live *l, const char *name)
{
	return q_int(l, "SELECT id FROM hosts WHERE name = '%s'", name);
}

static void wait_rounds_after(struct live *l, int64_t r, int n)
{
	char sql[128];

	snprintf(sql, sizeof(sql), "SELECT COALESCE(MAX(round), 0) - %" PRId64
		 " FROM rounds", r);
	assert_true(wait_at_least(l, n, WAIT_MS, sql) >= 0);
}

static void wait_online(struct live *l, int n)
{
	char sql[96];

	snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM hosts WHERE state = %d",
		 HOST_ONLINE);
	assert_true(wait_at_least(l, n, WAIT_MS, sql) >= 0);
}

/* Both agents registered, all six VMs known, a few rounds and recs. */
static void start_cluster_with(struct live *l, const char *const *extra)
{
	start_broker_with(l, extra);
	start_agent(l, 0, "host-a", "8192", "0:4");
	start_agent(l, 1, "host-b", "32768", "4:2");
	wait_online(l, 2);
	assert_true(wait_at_least(l, 6, WAIT_MS, "SELECT COUNT(*) FROM vms") >= 0);
	assert_true(wait_at_least(l, 1, WAIT_MS, "SELECT COUNT(*) FROM recs") >= 0);
	wait_rounds_after(l, last_round(l), 2);
	/* no round priced a host before its VMs had bid */
	assert_int_equal(q_int(l, "SELECT COUNT(*) FROM signals WHERE kind = %d",
			       SIGNAL_SUSPEND), 0);
}

static void start_cluster(struct live *l)
{
	start_cluster_with(l, NULL);
}

static int run_cli(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Lines of path that begin with prefix. */
static int count_starting(const char *path, const char *prefix)
{
	char line[1024];
	int n = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, prefix, strlen(prefix)) == 0)
			n++;
	fclose(f);
	return n;
}

static int count_in_file(const char *path, const char *needle)
{
	char line[1024];
	int n = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			n++;
	fclose(f);
	return n;
}

/* ---- fixtures ---- */

static int setup(void **state)
{
	struct live *l = calloc(1, sizeof(*l));

	if (!l)
		return -1;
	snprintf(l->dir, sizeof(l->dir), "/tmp/bourse-live-XXXXXX");
	if (!mkdtemp(l->dir)) {
		free(l);
		return -1;
	}
	snprintf(l->db, sizeof(l->db), "%s/bourse.db", l->dir);
	snprintf(l->ep, sizeof(l->ep), "ipc://%s/broker.ipc", l->dir);
	snprintf(l->trace, sizeof(l->trace), "%s/trace.csv", l->dir);
	snprintf(l->blog, sizeof(l->blog), "%s/broker.log", l->dir);
	write_trace(l->trace);
	*state = l;
	return 0;
}

static void print_file(const char *path)
{
	char line[1024];
	FILE *f = fopen(path, "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		fprintf(stderr, "  | %s", line);
	fclose(f);
}

static int teardown(void **state)
{
	struct live *l = *state;
	char cmd[160];

	for (int i = 0; i < MAX_AGENTS; i++)
		stop_proc(&l->agents[i], SIGKILL, 5000);
	stop_proc(&l->broker, SIGKILL, 5000);
	db_close(l);
	if (valgrind) { /* what valgrind found, if anything */
		snprintf(cmd, sizeof(cmd), "for f in '%s'/valgrind.*.log; do "
			 "[ -s \"$f\" ] && cat \"$f\"; done >&2", l->dir);
		if (system(cmd) == -1)
			fprintf(stderr, "could not list valgrind logs\n");
	}
	if (getenv("BOURSE_LIVE_VERBOSE")) {
		fprintf(stderr, "%s:\n", l->blog);
		print_file(l->blog);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", l->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", l->dir);
	free(l);
	return 0;
}

/* ---- the tests ---- */

/* Registration, rounds and recommendations land in SQLite; the review CLI
 * reads and approves while the broker writes. */
static void test_rounds_store_prices_allocations_and_recs(void **state)
{
	struct live *l = *state;
	int64_t a, b, r, rec;

	start_cluster(l);
	a = host_id(l, "host-a");
	b = host_id(l, "host-b");
	r = last_round(l);
	assert_true(a > 0 && b > 0);
	assert_int_equal(q_int(l, "SELECT COUNT(*) FROM vms WHERE host_id = %"
			       PRId64, a), 4);
	assert_int_equal(q_int(l, "SELECT COUNT(*) FROM prices WHERE round = %"
			       PRId64, r), 2);
	assert_int_equal(q_int(l, "SELECT COUNT(*) FROM allocations WHERE round"
			       " = %" PRId64, r), 6);
	/* the small busy host is dearer than the large quiet one */
	assert_true(q_int(l, "SELECT (SELECT price FROM prices WHERE round = %"
			  PRId64 " AND host_id = %" PRId64 ") > (SELECT price "
			  "FROM prices WHERE round = %" PRId64 " AND host_id = %"
			  PRId64 ")", r, a, r, b) == 1);
	/* the market wants some of host-a's VMs on host-b */
	assert_true(wait_at_least(l, 1, WAIT_MS, "SELECT COUNT(*) FROM recs "
				  "WHERE kind = 2") >= 0);
	assert_true(q_int(l, "SELECT COUNT(*) FROM recs WHERE kind = 2 AND "
			  "(from_host_id != %" PRId64 " OR to_host_id != %"
			  PRId64 ")", a, b) == 0);

	rec = q_int(l, "SELECT MIN(id) FROM recs WHERE state = %d", REC_PENDING);
	assert_true(rec > 0);
	assert_int_equal(run_cli("%s recs approve %" PRId64 " --db %s >/dev/null",
				 BOURSE_BIN, rec, l->db), 0);
	assert_int_equal(q_int(l, "SELECT state FROM recs WHERE id = %" PRId64,
			       rec), REC_APPROVED);
	assert_int_equal(run_cli("%s recs list --db %s --json >/dev/null",
				 BOURSE_BIN, l->db), 0);
	/* rounds go on after the review */
	wait_rounds_after(l, last_round(l), 2);
	stop_all_cleanly(l);
}

/* A SIGKILLed agent's host is marked lost within the liveness timeout; it is
 * no migration target and its VMs get no recommendations while it is gone. */
static void test_killed_agent_is_lost_and_not_a_target(void **state)
{
	struct live *l = *state;
	int64_t a, b, t0, took, r;
	char sql[96];

	start_cluster(l);
	a = host_id(l, "host-a");
	b = host_id(l, "host-b");
	assert_true(wait_at_least(l, 1, WAIT_MS, "SELECT COUNT(*) FROM recs "
				  "WHERE kind = 2") >= 0);

	t0 = now_ms();
	stop_proc(&l->agents[1], SIGKILL, 5000);
	snprintf(sql, sizeof(sql), "SELECT state = %d FROM hosts WHERE id = %"
		 PRId64, HOST_LOST, b);
	took = wait_at_least(l, 1, WAIT_MS, sql);
	assert_true(took >= 0);
	fprintf(stderr, "host-b marked lost %" PRId64 " ms after SIGKILL "
		"(liveness timeout %d ms)\n", now_ms() - t0, HB_MS * LIVENESS);
	/* the broker's check runs at most a heartbeat late; allow scheduling */
	assert_true(now_ms() - t0 <= HB_MS * LIVENESS + HB_MS + 1500 * slow);
	assert_int_equal(q_int(l, "SELECT COUNT(*) FROM vms WHERE host_id = %"
			       PRId64 " AND state != 2", b), 0);

	r = last_round(l);
	wait_rounds_after(l, r, 4);
	assert_int_equal(q_int(l, "SELECT COUNT(*) FROM recs WHERE last_round > %"
			       PRId64 " AND (to_host_id = %" PRId64
			       " OR from_host_id = %" PRId64 ")", r, b, b), 0);
	assert_int_equal(q_int(l, "SELECT state FROM hosts WHERE id = %" PRId64,
			       a), HOST_ONLINE);
	assert_true(alive(l->broker));

	/* it comes back when its agent does */
	start_agent(l, 1, "host-b", "32768", "4:2");
	wait_online(l, 2);
	stop_all_cleanly(l);
}

static void *dealer(void *ctx, const char *ep)
{
	void *s = zmq_socket(ctx, ZMQ_DEALER);
	int linger = 0, tmo = 3000 * slow;

	assert_non_null(s);
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(s, ZMQ_RCVTIMEO, &tmo, sizeof(tmo));
	assert_int_equal(zmq_connect(s, ep), 0);
	return s;
}

/* The next reply must be an Error with this code, about a message of
 * ref_sender ("": a frame that did not decode). */
static void expect_error_about(void *s, Bourse__ErrorCode code,
			       const char *ref_sender)
{
	uint8_t buf[4096];
	int n = zmq_recv(s, buf, sizeof(buf), 0);
	Bourse__Envelope *e;

	assert_true(n > 0);
	e = bourse__envelope__unpack(NULL, (size_t)n, buf);
	assert_non_null(e);
	assert_int_equal(e->body_case, BOURSE__ENVELOPE__BODY_ERROR);
	assert_int_equal(e->error->code, code);
	assert_int_equal(e->error->supported_version, WIRE_VERSION);
	assert_string_equal(e->error->ref_sender, ref_sender);
	bourse__envelope__free_unpacked(e, NULL);
}

static void expect_error(void *s, Bourse__ErrorCode code)
{
	expect_error_about(s, code, "");
}

static void send_env(void *s, Bourse__Envelope *e, size_t cut)
{
	size_t len = bourse__envelope__get_packed_size(e);
	uint8_t *buf = malloc(len);

	assert_non_null(buf);
	bourse__envelope__pack(e, buf);
	assert_true(cut <= len);
	assert_int_equal(zmq_send(s, buf, len - cut, 0), (int)(len - cut));
	free(buf);
}

/* Garbage, truncated protobufs, oversized and multipart frames, a foreign
 * version and impostors: each is refused (counted, logged once per peer,
 * answered), the broker stays up and the honest agents keep their rounds. */
static void test_bad_frames_are_dropped_honest_agents_served(void **state)
{
	struct live *l = *state;
	void *ctx = zmq_ctx_new();
	void *s;
	uint8_t junk[512];
	Bourse__Envelope e;
	Bourse__Register reg = BOURSE__REGISTER__INIT;
	Bourse__HostConfig hc = BOURSE__HOST_CONFIG__INIT;
	Bourse__Bid bid = BOURSE__BID__INIT;
	int64_t r, dropped0;
	size_t big = WIRE_MAX_FRAME + 1;
	uint8_t *huge = calloc(1, big);

	assert_non_null(huge);
	start_cluster(l);
	dropped0 = q_int(l, "SELECT msgs_dropped FROM rounds ORDER BY round DESC"
			 " LIMIT 1");
	s = dealer(ctx, l->ep);

	/* three frames of random bytes: refused, one log line */
	srand(42);
	for (int k = 0; k < 3; k++) {
		for (size_t i = 0; i < sizeof(junk); i++)
			junk[i] = (uint8_t)rand();
		junk[0] = 0xff; /* an invalid protobuf tag */
		assert_int_equal(zmq_send(s, junk, sizeof(junk), 0),
				 (int)sizeof(junk));
		expect_error(s, BOURSE__ERROR_CODE__ERROR_MALFORMED);
	}

	/* a valid Register cut short */
	wire_envelope_init(&e, BOURSE__ROLE__ROLE_HOST, "evil-host", 1);
	hc.capacity_mib = 4096;
	hc.uri = "";
	reg.host = &hc;
	e.body_case = BOURSE__ENVELOPE__BODY_REGISTER;
	e.register_ = &reg;
	send_env(s, &e, 5);
	expect_error(s, BOURSE__ERROR_CODE__ERROR_MALFORMED);

	/* another protocol version gets an error that says so */
	e.version = WIRE_VERSION + 7;
	send_env(s, &e, 0);
	expect_error(s, BOURSE__ERROR_CODE__ERROR_VERSION);

	/* a bid for host-a's VM from a connection that is not host-a's */
	wire_envelope_init(&e, BOURSE__ROLE__ROLE_VM, "vm-1", 1000);
	bid.demand_mib = 100;
	bid.assigned_mib = 100;
	e.body_case = BOURSE__ENVELOPE__BODY_BID;
	e.bid = &bid;
	send_env(s, &e, 0);
	expect_error_about(s, BOURSE__ERROR_CODE__ERROR_WRONG_HOST, "vm-1");

	/* a bid with a negative demand is out of range */
	bid.demand_mib = -5;
	send_env(s, &e, 0);
	expect_error(s, BOURSE__ERROR_CODE__ERROR_INVALID);

	/* an oversized frame, a multipart message, an empty frame */
	assert_int_equal(zmq_send(s, huge, big, 0), (int)big);
	expect_error(s, BOURSE__ERROR_CODE__ERROR_MALFORMED);
	assert_int_equal(zmq_send(s, "a", 1, ZMQ_SNDMORE), 1);
	assert_int_equal(zmq_send(s, "b", 1, 0), 1);
	expect_error(s, BOURSE__ERROR_CODE__ERROR_MALFORMED);
	assert_int_equal(zmq_send(s, "", 0, 0), 0);
	expect_error(s, BOURSE__ERROR_CODE__ERROR_MALFORMED);

	/* a frame far beyond ZMQ_MAXMSGSIZE: libzmq drops the connection */
	free(huge);
	big = 8 * WIRE_MAX_FRAME;
	huge = calloc(1, big);
	assert_non_null(huge);
	zmq_send(s, huge, big, 0);
	free(huge);
	zmq_close(s);
	zmq_ctx_term(ctx);

	/* the broker is up; the honest hosts are online and served */
	r = last_round(l);
	wait_rounds_after(l, r, 3);
	assert_true(alive(l->broker));
	assert_int_equal(q_int(l, "SELECT COUNT(*) FROM hosts WHERE state = %d",
			       HOST_ONLINE), 2);
	assert_int_equal(q_int(l, "SELECT COUNT(*) FROM hosts WHERE name = "
			       "'evil-host'"), 0);
	assert_int_equal(q_int(l, "SELECT COUNT(*) FROM allocations WHERE round"
			       " = %" PRId64, last_round(l)), 6);
	/* every refusal was counted (the huge frame never reached us) */
	assert_true(q_int(l, "SELECT msgs_dropped FROM rounds ORDER BY round "
			  "DESC LIMIT 1") - dropped0 >= 10);
	stop_all_cleanly(l);
	/* the three garbage frames made one log line */
	assert_int_equal(count_in_file(l->blog, "dropped (malformed)"), 1);
}

/* The broker stops (cleanly, then by SIGKILL) and starts again on the same
 * file: agents reconnect and re-register on their own, rounds continue from
 * the last one stored, and nothing stored before is lost. */
static void restart_and_check(struct live *l, int sig)
{
	int64_t r, n_recs, n_prices, approved, expired;

	expired = q_int(l, "SELECT COUNT(*) FROM recs WHERE state = %d",
			REC_EXPIRED);
	approved = q_int(l, "SELECT COUNT(*) FROM recs WHERE state = %d",
			 REC_APPROVED);
	if (sig == SIGTERM)
		stop_broker_cleanly(l);
	else
		stop_proc(&l->broker, SIGKILL, 5000);
	/* what was committed is there with the broker gone */
	r = last_round(l);
	n_recs = q_int(l, "SELECT COUNT(*) FROM recs");
	n_prices = q_int(l, "SELECT COUNT(*) FROM prices");
	assert_true(r > 0 && n_recs > 0 && n_prices > 0);
	db_close(l);

	start_broker(l);
	wait_rounds_after(l, r, 3);
	/* numbering continues where it stopped */
	assert_int_equal(q_int(l, "SELECT MIN(round) FROM rounds WHERE round > %"
			       PRId64, r), r + 1);
	assert_true(q_int(l, "SELECT COUNT(*) FROM recs") >= n_recs);
	assert_true(q_int(l, "SELECT COUNT(*) FROM prices WHERE round <= %"
			  PRId64, r) == n_prices);
	assert_true(q_int(l, "SELECT COUNT(*) FROM recs WHERE state = %d",
			  REC_APPROVED) >= approved);
	/* hosts whose VMs have not bid again yet are not priced as empty:
	 * nothing expires by price drift and no host is offered for suspension */
	assert_int_equal(q_int(l, "SELECT COUNT(*) FROM recs WHERE state = %d",
			       REC_EXPIRED), expired);
	assert_int_equal(q_int(l, "SELECT COUNT(*) FROM signals WHERE kind = %d",
			       SIGNAL_SUSPEND), 0);
	/* both agents came back by themselves */
	wait_online(l, 2);
	assert_true(wait_at_least(l, 6, WAIT_MS, "SELECT COUNT(*) FROM "
				  "allocations WHERE round = (SELECT MAX(round) "
				  "FROM rounds)") >= 0);
	assert_true(alive(l->agents[0]) && alive(l->agents[1]));
}

static void test_broker_restart_agents_return_nothing_lost(void **state)
{
	struct live *l = *state;
	int64_t rec;

	start_cluster(l);
	rec = q_int(l, "SELECT MIN(id) FROM recs WHERE state = %d", REC_PENDING);
	assert_int_equal(run_cli("%s recs approve %" PRId64 " --db %s >/dev/null",
				 BOURSE_BIN, rec, l->db), 0);
	restart_and_check(l, SIGTERM);
	restart_and_check(l, SIGKILL);
	assert_int_equal(q_int(l, "SELECT state FROM recs WHERE id = %" PRId64,
			       rec), REC_APPROVED);
	stop_all_cleanly(l);
}

/* A host's seller and a VM's buyer as separate processes: the buyer's own
 * connection is bound to its host when it registers the VM there, its bids
 * count, and its award comes back on its connection. */
static void test_seller_and_buyer_processes(void **state)
{
	struct live *l = *state;
	char log[160];
	int64_t c;

	start_broker(l);
	snprintf(log, sizeof(log), "%s/seller.log", l->dir);
	const char *seller[] = { "seller", "--host", "host-c", "--capacity-mib",
				 "16384", "--broker", l->ep, NULL };
	l->agents[0] = spawn(l, log, seller);
	wait_online(l, 1);
	snprintf(log, sizeof(log), "%s/buyer.log", l->dir);
	const char *buyer[] = { "buyer", "--host", "host-c", "--trace", l->trace,
				"--vm", "0", "--broker", l->ep, "--verbose", NULL };
	l->agents[1] = spawn(l, log, buyer);
	c = host_id(l, "host-c");
	assert_true(wait_at_least(l, 1, WAIT_MS, "SELECT COUNT(*) FROM "
				  "allocations a JOIN vms v ON v.id = a.vm_id "
				  "WHERE v.name = 'vm-1'") >= 0);
	assert_int_equal(q_int(l, "SELECT host_id FROM vms WHERE name = 'vm-1'"),
			 c);
	wait_rounds_after(l, last_round(l), 2);
	stop_all_cleanly(l);
	assert_true(count_in_file(log, "vm-1 target") >= 1);
	assert_int_equal(count_in_file(l->blog, "wrong_host"), 0);
}

/* An agent on this machine's /proc and libvirt's test:/// driver: the host's
 * capacity is the machine's memory, the driver's domain "test" bids, the
 * market allocates it and recommends a resize toward its demand. */
static void test_agent_on_libvirt_test_driver(void **state)
{
	struct live *l = *state;
	char log[160];

	start_broker(l);
	snprintf(log, sizeof(log), "%s/kvm1.log", l->dir);
	const char *agent[] = { "agent", "--host", "kvm1", "--source", "libvirt",
				"--uri", "test:///default", "--broker", l->ep,
				NULL };
	l->agents[0] = spawn(l, log, agent);
	wait_online(l, 1);
	assert_true(wait_at_least(l, 1, WAIT_MS, "SELECT COUNT(*) FROM "
				  "allocations a JOIN vms v ON v.id = a.vm_id "
				  "WHERE v.name = 'test'") >= 0);
	assert_true(q_int(l, "SELECT capacity_mib FROM hosts WHERE name = "
			  "'kvm1' AND uri = 'test:///default'") > 1024);
	/* the driver's domain: 8 GiB maximum, 2 GiB now, demand below that */
	assert_int_equal(q_int(l, "SELECT maximum_mib FROM vms WHERE name = "
			       "'test'"), 8192);
	assert_true(wait_at_least(l, 1, WAIT_MS, "SELECT COUNT(*) FROM recs r "
				  "JOIN vms v ON v.id = r.vm_id WHERE v.name = "
				  "'test' AND r.kind = 1") >= 0);
	stop_all_cleanly(l);
}

/* ---- dispatching: modes, the kill switch, guardrails, exactly once ---- */

#define REC_DISPATCHED 6
#define REC_SUCCEEDED 7

static int64_t rec_state(struct live *l, int64_t id)
{
	return q_int(l, "SELECT state FROM recs WHERE id = %" PRId64, id);
}

/* `bourse ARGS --db DB` must succeed. */
static void cli_ok(struct live *l, const char *fmt, ...)
{
	char args[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	assert_int_equal(run_cli("%s %s --db %s >/dev/null", BOURSE_BIN, args,
				 l->db), 0);
}

/* How many times the agents carried out action rec-<id>. */
static int times_acted(struct live *l, int64_t id)
{
	char path[160], needle[48];
	int n = 0;

	snprintf(needle, sizeof(needle), "action rec-%" PRId64 " (", id);
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/host-%c.log", l->dir, 'a' + i);
		n += count_in_file(path, needle);
	}
	return n;
}

static void wait_rec_state(struct live *l, int64_t id, int st)
{
	char sql[96];

	snprintf(sql, sizeof(sql), "SELECT state = %d FROM recs WHERE id = %"
		 PRId64, st, id);
	assert_true(wait_at_least(l, 1, WAIT_MS, sql) >= 0);
}

static int64_t oldest_pending_resize(struct live *l)
{
	return q_int(l, "SELECT MIN(id) FROM recs WHERE state = %d AND kind = 1",
		     REC_PENDING);
}

/* Recommend mode changes nothing, even approved; manual mode dispatches an
 * approved one once, the agent's dry run carries it out and the result is
 * audited. While paused nothing is dispatched; after resume it is. */
static void test_manual_mode_and_kill_switch(void **state)
{
	struct live *l = *state;
	int64_t a, b;

	start_cluster(l);
	a = oldest_pending_resize(l);
	assert_true(a > 0);
	cli_ok(l, "recs approve %" PRId64, a);
	wait_rounds_after(l, last_round(l), 3);
	assert_int_equal(rec_state(l, a), REC_APPROVED); /* recommend mode */

	cli_ok(l, "mode manual");
	wait_rec_state(l, a, REC_SUCCEEDED);
	assert_int_equal(q_int(l, "SELECT COUNT(*) FROM audit WHERE rec_id = %"
			       PRId64 " AND event IN ('rec.dispatched', "
			       "'rec.succeeded')", a), 2);
	assert_int_equal(times_acted(l, a), 1);

	cli_ok(l, "pause --reason test");
	b = oldest_pending_resize(l);
	assert_true(b > 0);
	cli_ok(l, "recs approve %" PRId64, b);
	wait_rounds_after(l, last_round(l), 3);
	assert_int_equal(rec_state(l, b), REC_APPROVED);
	assert_int_equal(times_acted(l, b), 0);
	cli_ok(l, "resume");
	wait_rec_state(l, b, REC_SUCCEEDED);
	assert_int_equal(times_acted(l, b), 1);
	stop_all_cleanly(l);
}

/* Automated mode under a burst of recommendations: at most one dispatch a
 * round (--max-actions 1), never two actions on one VM within the cooldown,
 * every dispatched action answered. */
static void test_automated_mode_guardrails(void **state)
{
	struct live *l = *state;
	const char *const guard[] = { "--max-actions", "1", "--vm-cooldown-s",
				      "3600", NULL };
	int64_t r0, r1, n;

	start_cluster_with(l, guard);
	cli_ok(l, "mode automated");
	r0 = last_round(l);
	assert_true(wait_at_least(l, 4, WAIT_MS, "SELECT COUNT(*) FROM recs "
				  "WHERE state = 7") >= 0);
	r1 = last_round(l);
	n = q_int(l, "SELECT COUNT(*) FROM audit WHERE event = 'rec.dispatched'");
	fprintf(stderr, "%" PRId64 " dispatched in %" PRId64 " rounds\n", n,
		r1 - r0);
	assert_true(n >= 4 && n <= r1 - r0 + 1);
	assert_int_equal(q_int(l, "SELECT COALESCE(MAX(c), 0) FROM (SELECT "
			       "COUNT(*) c FROM recs WHERE state IN (6, 7, 8) "
			       "GROUP BY vm_id)"), 1);
	assert_int_equal(q_int(l, "SELECT COUNT(*) FROM audit WHERE event = "
			       "'rec.approved' AND actor = 'broker:automated'") >=
			 n, 1);
	/* shadow scores come in for what was carried out, too */
	assert_true(wait_at_least(l, 1, WAIT_MS, "SELECT COUNT(*) FROM "
				  "rec_scores WHERE carried_out = 1") >= 0);
	assert_int_equal(run_cli("%s recs stats --db %s | grep -q '^all '",
				 BOURSE_BIN, l->db), 0);
	stop_all_cleanly(l);
}

/* Approved while paused, the broker is killed; after the restart and
 * resume the action is dispatched and carried out exactly once. */
static void test_restart_between_approval_and_dispatch(void **state)
{
	struct live *l = *state;
	int64_t a;

	start_cluster(l);
	cli_ok(l, "mode manual");
	cli_ok(l, "pause");
	a = oldest_pending_resize(l);
	cli_ok(l, "recs approve %" PRId64, a);
	stop_proc(&l->broker, SIGKILL, 5000);
	db_close(l);
	start_broker(l);
	wait_online(l, 2);
	wait_rounds_after(l, last_round(l), 2);
	assert_int_equal(rec_state(l, a), REC_APPROVED);
	cli_ok(l, "resume");
	wait_rec_state(l, a, REC_SUCCEEDED);
	wait_rounds_after(l, last_round(l), 3);
	assert_int_equal(times_acted(l, a), 1);
	assert_int_equal(q_int(l, "SELECT COUNT(*) FROM audit WHERE rec_id = %"
			       PRId64 " AND event = 'rec.dispatched'", a), 1);
	stop_all_cleanly(l);
}

/* An action in flight when the broker is SIGKILLed: after the restart the
 * broker sends the same id again and the agent, which remembers it, does
 * not act twice; the recommendation ends succeeded, dispatched once. */
static void test_inflight_action_across_restart(void **state)
{
	struct live *l = *state;
	char a_log[160], b_log[160];
	int64_t a;

	l->dry_delay_ms = valgrind ? "6000" : "1500";
	start_cluster(l);
	cli_ok(l, "mode manual");
	a = oldest_pending_resize(l);
	cli_ok(l, "recs approve %" PRId64, a);
	wait_rec_state(l, a, REC_DISPATCHED);
	stop_proc(&l->broker, SIGKILL, 5000);
	db_close(l);
	start_broker(l);
	wait_rec_state(l, a, REC_SUCCEEDED);
	wait_rounds_after(l, last_round(l), 3);
	snprintf(a_log, sizeof(a_log), "%s/host-a.log", l->dir);
	snprintf(b_log, sizeof(b_log), "%s/host-b.log", l->dir);
	/* the dry run's own note, once; the agent may have answered twice */
	assert_int_equal(count_starting(a_log, "dry run: would") +
			 count_starting(b_log, "dry run: would"), 1);
	assert_int_equal(q_int(l, "SELECT COUNT(*) FROM audit WHERE rec_id = %"
			       PRId64 " AND event = 'rec.dispatched'", a), 1);
	assert_int_equal(rec_state(l, a), REC_SUCCEEDED);
	stop_all_cleanly(l);
	/* the same id went out again, and was not carried out again */
	assert_true(count_in_file(l->blog, "re-sent recommendation") >= 1);
	assert_true(count_in_file(a_log, "not done again") +
		    count_in_file(b_log, "not done again") >= 1);
}

/* A VM its agent stops seeing (its trace ends: shut down, or migrated away)
 * stops bidding; after a few rounds the broker leaves it out: no
 * allocation, no recommendation, nothing held on its host. */
static void test_silent_vm_left_out(void **state)
{
	struct live *l = *state;
	char path[160], log[160];
	FILE *f;
	int64_t r;

	snprintf(path, sizeof(path), "%s/short.csv", l->dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "vm,time_s,provisioned_mib,demand_mib\n");
	for (int step = 0; step < 48; step++) {
		fprintf(f, "1,%d,4096,2000\n", 1372629600 + 300 * step);
		if (step < 6) /* vm-2 is gone after half an hour of trace */
			fprintf(f, "2,%d,4096,3000\n", 1372629600 + 300 * step);
	}
	assert_int_equal(fclose(f), 0);
	start_broker(l);
	snprintf(log, sizeof(log), "%s/host-s.log", l->dir);
	const char *agent[] = { "agent", "--host", "host-s", "--capacity-mib",
				"16384", "--trace", path, "--vms", "0:2",
				"--broker", l->ep, NULL };
	l->agents[0] = spawn(l, log, agent);
	assert_true(wait_at_least(l, 2, WAIT_MS, "SELECT COUNT(*) FROM "
				  "allocations WHERE round = (SELECT MAX(round) "
				  "FROM rounds)") >= 0);
	/* vm-2 falls silent: the rounds go on with vm-1 alone */
	assert_true(wait_at_least(l, 1, WAIT_MS, "SELECT COUNT(*) = 1 FROM "
				  "allocations WHERE round = (SELECT MAX(round) "
				  "FROM rounds)") >= 0);
	r = last_round(l);
	wait_rounds_after(l, r, 3);
	assert_int_equal(q_int(l, "SELECT COUNT(*) FROM allocations a JOIN vms v"
			       " ON v.id = a.vm_id WHERE v.name = 'vm-2' AND "
			       "a.round > %" PRId64, r), 0);
	assert_int_equal(q_int(l, "SELECT COUNT(*) FROM recs c JOIN vms v ON "
			       "v.id = c.vm_id WHERE v.name = 'vm-2' AND "
			       "c.last_round > %" PRId64, r), 0);
	stop_all_cleanly(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_rounds_store_prices_allocations_and_recs, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_killed_agent_is_lost_and_not_a_target, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_bad_frames_are_dropped_honest_agents_served, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_broker_restart_agents_return_nothing_lost, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_seller_and_buyer_processes,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_agent_on_libvirt_test_driver, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_manual_mode_and_kill_switch, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_automated_mode_guardrails, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_restart_between_approval_and_dispatch, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_inflight_action_across_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_silent_vm_left_out, setup,
						teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	if (getenv("BOURSE_LIVE_VALGRIND")) {
		const char *b = getenv("BOURSE_LIVE_BIN");

		if (!b || access(b, X_OK) != 0 ||
		    system("valgrind --version >/dev/null 2>&1") != 0) {
			printf("skipped: needs valgrind and BOURSE_LIVE_BIN, a "
			       "bourse built without sanitizers (make build); "
			       "got '%s'\n", b ? b : "");
			return 77;
		}
		bin = b;
		valgrind = 1;
		slow = 6;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
