/*
 * live.c - the harness of the tests over real processes (live.h).
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

#include "live.h"
#include "util.h"
#include "banned.h"

const char *live_bin = BOURSE_BIN;
int live_valgrind;
int live_slow = 1;
int live_pace = 1;

/* With BOURSE_LIVE_TIMES set, how long each wait took goes to stderr:
 * where a test's time goes. */
void live_note_time(const char *what, int64_t since_ms, const char *detail)
{
	static int on = -1;

	if (on < 0)
		on = getenv("BOURSE_LIVE_TIMES") != NULL;
	if (on)
		fprintf(stderr, "[time] %6" PRId64 " ms %s: %s\n",
			util_now_ms() - since_ms, what, detail);
}

void live_sleep_ms(int ms)
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
pid_t live_spawn(const struct live *l, const char *log,
		   const char *const *args)
{
	const char *argv[32];
	char vglog[160];
	size_t n = 0;
	pid_t pid;

	snprintf(vglog, sizeof(vglog), "--log-file=%s/valgrind.%%p.log", l->dir);
	if (live_valgrind) {
		static const char *const vg[] = {
			"valgrind", "--quiet", "--error-exitcode=99",
			"--leak-check=full", "--show-leak-kinds=definite,indirect",
			"--errors-for-leak-kinds=definite,indirect", NULL
		};
		for (const char *const *v = vg; *v; v++)
			argv[n++] = *v;
		argv[n++] = vglog;
	}
	argv[n++] = live_bin;
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
void live_start_broker_with(struct live *l, const char *const *extra)
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
	l->broker = live_spawn(l, l->blog, args);
}

void live_start_broker(struct live *l)
{
	live_start_broker_with(l, NULL);
}

void live_learn_endpoint(struct live *l)
{
	static const char what[] = "broker: listening on ";
	int64_t end = util_now_ms() + WAIT_MS;

	for (;;) {
		char line[512], ep[sizeof(l->ep)] = "";
		FILE *f = fopen(l->blog, "r");

		/* the last such line (the log is appended to across restarts) */
		while (f && fgets(line, sizeof(line), f)) {
			const char *s = strstr(line, what);
			size_t n;

			if (!s)
				continue;
			s += sizeof(what) - 1;
			n = strcspn(s, ",\n");
			if (s[n] != ',' && s[n] != '\n')
				continue; /* not all written yet */
			if (n == 0 || n >= sizeof(ep) || memchr(s, '*', n))
				fail_msg("the broker's log %s says it listens "
					 "on '%.*s', not on the endpoint it "
					 "bound", l->blog, (int)n, s);
			memcpy(ep, s, n);
			ep[n] = '\0';
		}
		if (f)
			fclose(f);
		if (ep[0]) {
			memcpy(l->ep, ep, sizeof(ep));
			return;
		}
		if (util_now_ms() > end)
			fail_msg("no '%s<endpoint>,' in %s", what, l->blog);
		live_sleep_ms(20);
	}
}

void live_start_agent(struct live *l, int i, const char *host,
			const char *cap, const char *vms)
{
	char log[160];

	snprintf(log, sizeof(log), "%s/%s.log", l->dir, host);
	const char *args[] = { "agent", "--host", host, "--capacity-mib", cap,
			       "--trace", l->trace, "--vms", vms,
			       "--broker", l->ep, "--step-s", "300",
			       "--actuator", "dry-run", "--dry-run-delay-ms",
			       l->dry_delay_ms ? l->dry_delay_ms : "0", NULL };
	l->agents[i] = live_spawn(l, log, args);
}

/* Signal pid and wait up to timeout_ms; returns its wait status, or -1 if
 * it had to be killed. */
int live_stop_proc(pid_t *pid, int sig, int timeout_ms)
{
	int status = 0;
	int64_t end = util_now_ms() + timeout_ms;

	if (*pid <= 0)
		return 0;
	kill(*pid, sig);
	while (waitpid(*pid, &status, WNOHANG) == 0) {
		if (util_now_ms() > end) {
			kill(*pid, SIGKILL);
			waitpid(*pid, &status, 0);
			*pid = 0;
			return -1;
		}
		live_sleep_ms(10);
	}
	*pid = 0;
	return status;
}

int live_alive(pid_t pid)
{
	int status;

	return pid > 0 && waitpid(pid, &status, WNOHANG) == 0;
}

/* SIGTERM: the process must exit 0 on its own (under ASan or valgrind:
 * also without memory errors or leaks). */
void live_stop_cleanly(pid_t *pid)
{
	int64_t t0 = util_now_ms();
	int st = live_stop_proc(pid, SIGTERM, 10000 * live_slow);

	live_note_time("stopped", t0, "SIGTERM");

	assert_int_not_equal(st, -1);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

void live_stop_broker_cleanly(struct live *l)
{
	live_stop_cleanly(&l->broker);
}

/* The agents, then the broker. */
void live_stop_all_cleanly(struct live *l)
{
	for (int i = 0; i < MAX_AGENTS; i++)
		if (l->agents[i] > 0)
			live_stop_cleanly(&l->agents[i]);
	live_stop_broker_cleanly(l);
}

/* ---- reading the database the broker writes ---- */

int64_t live_q_int(struct live *l, const char *fmt, ...)
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

void live_db_close(struct live *l)
{
	sqlite3_close(l->sql);
	l->sql = NULL;
}

/* Wait until the query's value is at least min; returns how long it took
 * (ms), or -1 after timeout_ms. */
int64_t live_wait_at_least(struct live *l, int64_t min, int timeout_ms,
			     const char *sql)
{
	int64_t start = util_now_ms();

	while (util_now_ms() - start <= timeout_ms) {
		if (live_q_int(l, "%s", sql) >= min) {
			live_note_time("waited", start, sql);
			return util_now_ms() - start;
		}
		live_sleep_ms(20);
	}
	fprintf(stderr, "timed out waiting for (%s) >= %" PRId64 "; it is %"
		PRId64 "\n", sql, min, live_q_int(l, "%s", sql));
	return -1;
}

int64_t live_last_round(struct live *l)
{
	return live_q_int(l, "SELECT COALESCE(MAX(round), 0) FROM rounds");
}

int64_t live_host_id(struct live *l, const char *name)
{
	return live_q_int(l, "SELECT id FROM hosts WHERE name = '%s'", name);
}

void live_wait_rounds_after(struct live *l, int64_t r, int n)
{
	char sql[128];

	snprintf(sql, sizeof(sql), "SELECT COALESCE(MAX(round), 0) - %" PRId64
		 " FROM rounds", r);
	assert_true(live_wait_at_least(l, n, WAIT_MS, sql) >= 0);
}

void live_wait_online(struct live *l, int n)
{
	char sql[96];

	snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM hosts WHERE state = %d",
		 STORE_HOST_ONLINE);
	assert_true(live_wait_at_least(l, n, WAIT_MS, sql) >= 0);
}

/* Both agents registered, all six VMs known, a few rounds and recs. */
void live_start_cluster_with(struct live *l, const char *const *extra)
{
	live_start_broker_with(l, extra);
	live_start_agent(l, 0, "host-a", "8192", "0:4");
	live_start_agent(l, 1, "host-b", "32768", "4:2");
	live_wait_online(l, 2);
	assert_true(live_wait_at_least(l, 6, WAIT_MS, "SELECT COUNT(*) FROM vms") >= 0);
	assert_true(live_wait_at_least(l, 1, WAIT_MS, "SELECT COUNT(*) FROM recs") >= 0);
	live_wait_rounds_after(l, live_last_round(l), 2);
	/* no round priced a host before its VMs had bid */
	assert_int_equal(live_q_int(l, "SELECT COUNT(*) FROM signals WHERE kind = %d",
			       MARKET_SIG_SUSPEND), 0);
}

void live_start_cluster(struct live *l)
{
	live_start_cluster_with(l, NULL);
}

int live_run_cli(const char *fmt, ...)
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

char *live_capture(const char *cmd, int *wstatus)
{
	size_t n = 0, cap = 1 << 16;
	char *buf = malloc(cap);
	FILE *f = popen(cmd, "r");

	assert_non_null(buf);
	assert_non_null(f);
	for (;;) {
		size_t got = fread(buf + n, 1, cap - n - 1, f);

		n += got;
		if (got == 0)
			break;
		if (n == cap - 1) {
			char *more = realloc(buf, cap * 2);

			assert_non_null(more);
			buf = more;
			cap *= 2;
		}
	}
	buf[n] = '\0';
	*wstatus = pclose(f);
	return buf;
}

/* Lines of path that begin with prefix. */
int live_count_starting(const char *path, const char *prefix)
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

/* Lines of path holding needle and not but (NULL: no exception). -1 if
 * path cannot be read. */
static int count_in_file_but(const char *path, const char *needle,
			     const char *but)
{
	char line[1024];
	int n = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle) && !(but && strstr(line, but)))
			n++;
	fclose(f);
	return n;
}

int live_count_in_file(const char *path, const char *needle)
{
	return count_in_file_but(path, needle, NULL);
}

/* ---- fixtures ---- */

int live_setup(void **state)
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

int live_teardown(void **state)
{
	struct live *l = *state;
	char cmd[160];

	for (int i = 0; i < MAX_AGENTS; i++)
		live_stop_proc(&l->agents[i], SIGKILL, 5000);
	live_stop_proc(&l->broker, SIGKILL, 5000);
	live_db_close(l);
	if (live_valgrind) { /* what valgrind found, if anything */
		snprintf(cmd, sizeof(cmd), "for f in '%s'/valgrind.*.log; do "
			 "[ -s \"$f\" ] && cat \"$f\"; done >&2", l->dir);
		if (system(cmd) == -1)
			fprintf(stderr, "could not list valgrind logs\n");
	}
	if (getenv("BOURSE_LIVE_VERBOSE")) {
		fprintf(stderr, "%s:\n", l->blog);
		print_file(l->blog);
	}
	if (getenv("BOURSE_LIVE_KEEP")) { /* for a post-mortem */
		fprintf(stderr, "kept %s\n", l->dir);
		free(l);
		return 0;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", l->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", l->dir);
	free(l);
	return 0;
}


int live_env(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (getenv("BOURSE_LIVE_VALGRIND")) {
		const char *b = getenv("BOURSE_LIVE_BIN");

		if (!b || access(b, X_OK) != 0 ||
		    system("valgrind --version >/dev/null 2>&1") != 0) {
			printf("skipped: needs valgrind and BOURSE_LIVE_BIN, a "
			       "bourse built without sanitizers (make build); "
			       "got '%s'\n", b ? b : "");
			return -1;
		}
		live_bin = b;
		live_valgrind = 1;
		live_slow = 6;
		live_pace = 3;
	}
	return 0;
}

/* An agent logs "action rec-N (vm): ok" when it has carried an action out,
 * and the same line with "(a repeated id: not done again)" when the broker
 * sent the id again and it answered from memory: only the first kind is
 * an action done. */
int live_times_acted(struct live *l, int64_t id)
{
	char path[160], needle[48];
	int n = 0;

	snprintf(needle, sizeof(needle), "action rec-%" PRId64 "-", id);
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/host-%c.log", l->dir, 'a' + i);
		n += count_in_file_but(path, needle, "not done again");
	}
	return n;
}
