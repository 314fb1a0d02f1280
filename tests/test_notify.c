/*
 * test_notify.c - sd_notify() without systemd: the test is the service
 * manager. It binds a UNIX datagram socket in a fresh directory, names it
 * in $NOTIFY_SOCKET (and asks for a watchdog with $WATCHDOG_USEC) for a
 * real broker or agent process, and reads what they send:
 *
 *  - the broker says READY=1 once it is bound and its store is open (the
 *    ipc socket and the database file exist, the "listening on" line is
 *    written), STATUS= a line per round, WATCHDOG=1 again and again, never
 *    further apart than the interval, even when its loop has nothing to do
 *    for longer (rounds and heartbeats slower than the watchdog), and
 *    STOPPING=1 at SIGTERM, after which it exits 0;
 *  - the agent says READY=1, STATUS= once registered, and STOPPING=1; no
 *    WATCHDOG=1 when none is asked for;
 *  - the broker's per-round log line is at debug: not at the default
 *    level, there at --log-level debug, and not with --quiet;
 *  - a broker whose stderr is "the journal" ($JOURNAL_STREAM names its log
 *    file) where no journald listens (this machine) writes each line with
 *    its priority prefix: <5> listening, <7> a round, <5> the counters
 *    (where one listens, none is on stderr).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "live.h"
#include "util.h"
#include "banned.h"

#define WATCHDOG_MS 2000 /* kicks every 1 s: a loaded CI machine (the
			  * suite at -j2 on 2 cores, ASan) may stall the
			  * loop for a few hundred ms */

/* The notify socket in the test's directory, bound: its fd. */
static int notify_open(const struct live *l, char *path, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(path, len, "%s/notify", l->dir);
	assert_true(strlen(path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* The next datagram within timeout_ms, into buf; 0, or -1 if none. */
static int notify_recv(int fd, char *buf, size_t len, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, timeout_ms) != 1)
		return -1;
	n = recv(fd, buf, len - 1, 0);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

/* Wait for a datagram containing what (other ones are counted in
 * *watchdogs, when not NULL). */
static void wait_for(int fd, const char *what, int *watchdogs)
{
	int64_t end = util_now_ms() + WAIT_MS;
	char buf[512];

	while (util_now_ms() < end) {
		if (notify_recv(fd, buf, sizeof(buf), 100))
			continue;
		if (strstr(buf, what))
			return;
		if (watchdogs && !strcmp(buf, "WATCHDOG=1"))
			++*watchdogs;
	}
	fail_msg("no '%s' from the service within %d ms", what, WAIT_MS);
}

static void env_set(const char *sock, const char *watchdog_usec)
{
	assert_int_equal(setenv("NOTIFY_SOCKET", sock, 1), 0);
	if (watchdog_usec)
		assert_int_equal(setenv("WATCHDOG_USEC", watchdog_usec, 1), 0);
}

static void env_unset(void)
{
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
}

static int file_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static void test_broker_ready_watchdog_stopping(void **state)
{
	struct live *l = *state;
	/* the loop's own deadlines (rounds, liveness) every 3 s: only the
	 * watchdog's deadline wakes it more often */
	const char *const slow[] = { "--round-ms", "3000", "--heartbeat-ms",
				     "3000", NULL };
	char sock[128], buf[512], usec[32], ipc[160];
	int fd = notify_open(l, sock, sizeof(sock));
	int64_t last, gap = 0, end;
	int kicks = 0, status;

	snprintf(usec, sizeof(usec), "%d", WATCHDOG_MS * 1000 * live_slow);
	env_set(sock, usec);
	live_start_broker_with(l, slow);
	env_unset();
	/* READY=1: bound (the ipc socket is there), store open (its file
	 * is there), and said so in the log first */
	snprintf(ipc, sizeof(ipc), "%s/broker.ipc", l->dir);
	wait_for(fd, "READY=1", &kicks);
	assert_true(file_exists(ipc));
	assert_true(file_exists(l->db));
	assert_int_equal(live_count_in_file(l->blog, "broker: listening on "),
			 1);
	/* the watchdog for 6 s: kicked every half interval, never a whole
	 * interval without one; a round's STATUS= meanwhile */
	last = util_now_ms();
	end = last + 6000;
	int status_lines = 0;

	while (util_now_ms() < end) {
		if (notify_recv(fd, buf, sizeof(buf), 100))
			continue;
		if (!strcmp(buf, "WATCHDOG=1")) {
			int64_t now = util_now_ms();

			kicks++;
			gap = now - last > gap ? now - last : gap;
			last = now;
		} else if (!strncmp(buf, "STATUS=round ", 13)) {
			status_lines++;
			assert_non_null(strstr(buf, " hosts, "));
			assert_non_null(strstr(buf, " VMs"));
		}
	}
	assert_true(kicks >= 5 / live_slow); /* about 6 */
	assert_true(gap < WATCHDOG_MS * live_slow);
	assert_true(status_lines >= 1);
	/* SIGTERM: STOPPING=1, and a clean exit */
	kill(l->broker, SIGTERM);
	wait_for(fd, "STOPPING=1", NULL);
	status = live_stop_proc(&l->broker, SIGTERM, WAIT_MS);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(fd);
}

static void test_agent_ready_status_stopping(void **state)
{
	struct live *l = *state;
	char sock[128], buf[512];
	int fd = notify_open(l, sock, sizeof(sock));
	int kicks = 0, status;

	live_start_broker(l);
	env_set(sock, NULL);
	live_start_agent(l, 0, "host-a", "16384", "0:4");
	env_unset();
	wait_for(fd, "READY=1", &kicks);
	wait_for(fd, "STATUS=registered with ", &kicks);
	kill(l->agents[0], SIGTERM);
	wait_for(fd, "STOPPING=1", &kicks);
	status = live_stop_proc(&l->agents[0], SIGTERM, WAIT_MS);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* no watchdog asked for: none kicked */
	while (notify_recv(fd, buf, sizeof(buf), 0) == 0)
		kicks += !strcmp(buf, "WATCHDOG=1");
	assert_int_equal(kicks, 0);
	live_stop_all_cleanly(l);
	close(fd);
}

/* The broker with extra flags for three rounds, then stopped; how many
 * per-round lines its log has. */
static int round_lines(struct live *l, const char *const *extra)
{
	live_start_broker_with(l, extra);
	live_wait_rounds_after(l, live_last_round(l), 3);
	live_stop_broker_cleanly(l);
	return live_count_starting(l->blog, "broker: round ");
}

static void test_round_line_at_debug(void **state)
{
	struct live *l = *state;
	const char *const debug[] = { "--log-level", "debug", NULL };
	const char *const quiet[] = { "--log-level", "debug", "--quiet", NULL };
	int n;

	assert_int_equal(round_lines(l, NULL), 0);
	n = round_lines(l, debug);
	assert_true(n >= 2);
	assert_int_equal(round_lines(l, quiet), n);
	/* the other lines are at info or above: there at every level but
	 * err's */
	assert_int_equal(live_count_in_file(l->blog, "broker: stopped after "),
			 3);
}

static void test_journal_prefix_without_journald(void **state)
{
	struct live *l = *state;
	const char *const two[] = { "--rounds", "2", "--log-level", "debug",
				    NULL };
	char v[64];
	struct stat st;
	FILE *f = fopen(l->blog, "w");
	int status, journald = access("/run/systemd/journal/socket", F_OK) == 0;

	assert_non_null(f);
	fclose(f);
	assert_int_equal(stat(l->blog, &st), 0);
	snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	assert_int_equal(setenv("JOURNAL_STREAM", v, 1), 0);
	live_start_broker_with(l, two);
	unsetenv("JOURNAL_STREAM");
	assert_true(waitpid(l->broker, &status, 0) == l->broker);
	l->broker = 0;
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	if (journald) { /* where one listens, it took every line */
		assert_int_equal(live_count_starting(l->blog, ""), 0);
		return;
	}
	assert_int_equal(live_count_starting(l->blog, "<5>broker: listening on "),
			 1);
	assert_int_equal(live_count_starting(l->blog, "<7>broker: round "), 2);
	assert_int_equal(live_count_starting(l->blog, "<5>broker: stopped "
					     "after 2 rounds"), 1);
	assert_int_equal(live_count_starting(l->blog, "broker: "), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_broker_ready_watchdog_stopping, live_setup,
			live_teardown),
		cmocka_unit_test_setup_teardown(
			test_agent_ready_status_stopping, live_setup,
			live_teardown),
		cmocka_unit_test_setup_teardown(test_round_line_at_debug,
						live_setup, live_teardown),
		cmocka_unit_test_setup_teardown(
			test_journal_prefix_without_journald, live_setup,
			live_teardown),
	};

	if (live_env())
		return 77;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
