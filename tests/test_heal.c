/*
 * test_heal.c - a connection that breaks heals by itself, and the broker's
 * timing does not follow the wall clock: the real broker and agents as
 * processes (tests/live.h).
 *
 *  - a small TCP proxy between an agent and the broker resets every
 *    connection (SO_LINGER 0: a real RST both ways); libzmq reconnects
 *    under a new routing id, and the host is online and bidding again
 *    within a few heartbeats, without keys (--insecure) and with CURVE;
 *  - without CURVE a second, live connection cannot take a host over;
 *  - (libfaketime) the wall clock jumps an hour forward or back, or two
 *    days forward, under a running broker: no action in flight fails or
 *    is sent again, none is held back, no sample or price is deleted
 *    (docs/reliability.md, "Connections and clocks").
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zmq.h>

#include "live.h"
#include "util.h"
#include "wire.h"
#include "banned.h"

/* ---- the proxy: a child process; SIGUSR1 resets every connection ---- */

#define PROXY_PAIRS 16

static volatile sig_atomic_t proxy_cut;

static void on_usr1(int sig)
{
	(void)sig;
	proxy_cut = 1;
}

/* Close fd with an RST, not a FIN. */
static void rst_close(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

struct pair {
	int fd[2]; /* the accepted side, the upstream side */
};

static int copy_once(int from, int to)
{
	char buf[65536];
	ssize_t n = read(from, buf, sizeof(buf));

	for (ssize_t off = 0; n > 0 && off < n;) {
		ssize_t w = write(to, buf + off, (size_t)(n - off));

		if (w <= 0)
			return -1;
		off += w;
	}
	return n > 0 ? 0 : -1;
}

static int connect_up(const struct sockaddr_in *up)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd >= 0 && connect(fd, (const struct sockaddr *)up,
			       sizeof(*up)) == 0)
		return fd;
	if (fd >= 0)
		close(fd);
	return -1;
}

static void proxy_loop(int lfd, const struct sockaddr_in *up)
{
	struct pair p[PROXY_PAIRS];
	struct pollfd pf[1 + 2 * PROXY_PAIRS];
	size_t n = 0;

	for (;;) {
		if (proxy_cut) {
			for (size_t i = 0; i < n; i++) {
				rst_close(p[i].fd[0]);
				rst_close(p[i].fd[1]);
			}
			n = 0;
			proxy_cut = 0;
		}
		pf[0] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		for (size_t i = 0; i < n; i++)
			for (int k = 0; k < 2; k++)
				pf[1 + 2 * i + (size_t)k] = (struct pollfd){
					.fd = p[i].fd[k], .events = POLLIN };
		if (poll(pf, 1 + 2 * n, 200) < 0)
			continue; /* EINTR: the cut */
		for (size_t i = n; i-- > 0;) {
			int bad = 0;

			for (int k = 0; k < 2 && !bad; k++)
				if (pf[1 + 2 * i + (size_t)k].revents)
					bad = copy_once(p[i].fd[k],
							p[i].fd[1 - k]);
			if (!bad)
				continue;
			rst_close(p[i].fd[0]);
			rst_close(p[i].fd[1]);
			p[i] = p[--n];
		}
		if (!(pf[0].revents & POLLIN))
			continue;
		int a = accept(lfd, NULL, NULL), b;

		if (a < 0)
			continue;
		b = n < PROXY_PAIRS ? connect_up(up) : -1;
		if (b < 0) {
			rst_close(a);
			continue;
		}
		p[n++] = (struct pair){ .fd = { a, b } };
	}
}

/* A proxy to the broker's tcp endpoint bep; *pep becomes its own. */
static pid_t proxy_start(const char *bep, char *pep, size_t len)
{
	struct sockaddr_in up = { .sin_family = AF_INET }, me = up;
	socklen_t ml = sizeof(me);
	const char *port = strrchr(bep, ':');
	int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	pid_t pid;

	assert_non_null(port);
	up.sin_port = htons((uint16_t)strtoul(port + 1, NULL, 10));
	up.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(lfd >= 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(lfd, (struct sockaddr *)&me, sizeof(me)), 0);
	assert_int_equal(listen(lfd, 16), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&me, &ml), 0);
	snprintf(pep, len, "tcp://127.0.0.1:%u", ntohs(me.sin_port));
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sigaction sa = { .sa_handler = on_usr1 };

		sigemptyset(&sa.sa_mask);
		sigaction(SIGUSR1, &sa, NULL); /* no SA_RESTART: poll wakes */
		signal(SIGTERM, SIG_DFL);
		proxy_loop(lfd, &up);
		_exit(0);
	}
	close(lfd);
	return pid;
}

static void proxy_stop(pid_t *pid)
{
	if (*pid > 0)
		live_stop_proc(pid, SIGTERM, 2000);
}

/* ---- keys (as test_trust.c) ---- */

static void make_keys(struct live *l, const char *names)
{
	char list[256], *save = NULL;

	snprintf(list, sizeof(list), "broker %s", names);
	for (char *n = strtok_r(list, " ", &save); n;
	     n = strtok_r(NULL, " ", &save))
		assert_int_equal(live_run_cli("'%s' keygen %s --dir '%s' "
					      ">/dev/null", live_bin, n,
					      l->dir), 0);
	snprintf(list, sizeof(list), "%s", names);
	assert_int_equal(live_run_cli("cd '%s' && : > allow", l->dir), 0);
	for (char *n = strtok_r(list, " ", &save); n;
	     n = strtok_r(NULL, " ", &save))
		assert_int_equal(live_run_cli("cd '%s' && sed -n 's/^public-key "
					      "= /%s /p' %s.pub >> allow",
					      l->dir, n, n), 0);
}

/* The broker on TCP loopback (CURVE or --insecure); l->ep is the endpoint
 * it bound. */
static void start_tcp_broker(struct live *l, int curve)
{
	char key[160], allow[160];
	const char *with_keys[] = { "--key", key, "--allow", allow, NULL };
	const char *insecure[] = { "--insecure", NULL };

	snprintf(l->ep, sizeof(l->ep), "tcp://127.0.0.1:*");
	snprintf(key, sizeof(key), "%s/broker.key", l->dir);
	snprintf(allow, sizeof(allow), "%s/allow", l->dir);
	live_start_broker_with(l, curve ? with_keys : insecure);
	live_learn_endpoint(l);
}

/* host-a's agent (four VMs) through endpoint ep, with its key if curve. */
static void start_agent_via(struct live *l, const char *ep, int curve)
{
	char log[160], key[160], bkey[160];

	snprintf(log, sizeof(log), "%s/host-a.log", l->dir);
	snprintf(key, sizeof(key), "%s/host-a.key", l->dir);
	snprintf(bkey, sizeof(bkey), "%s/broker.pub", l->dir);
	const char *args[] = { "agent", "--host", "host-a", "--capacity-mib",
			       "16384", "--trace", l->trace, "--vms", "0:4",
			       "--broker", ep, "--step-s", "300",
			       curve ? "--key" : "--insecure",
			       curve ? key : NULL, "--broker-key", bkey, NULL };
	l->agents[0] = live_spawn(l, log, args);
}

/* All four VMs of host-a allocated in the latest round. */
static int64_t bidding(struct live *l)
{
	return live_q_int(l, "SELECT COUNT(*) FROM allocations a JOIN vms v "
			  "ON v.id = a.vm_id JOIN hosts h ON h.id = v.host_id "
			  "WHERE h.name = 'host-a' AND h.state = %d AND "
			  "a.round = (SELECT MAX(round) FROM rounds)",
			  STORE_HOST_ONLINE);
}

/* Wait until the broker's log has more than n lines containing needle;
 * the ms it took, or -1 past WAIT_MS. */
static int64_t wait_more(struct live *l, const char *needle, int n)
{
	int64_t t0 = util_now_ms(), end = t0 + WAIT_MS;

	while (live_count_in_file(l->blog, needle) <= n) {
		if (util_now_ms() > end)
			return -1;
		live_sleep_ms(5);
	}
	return util_now_ms() - t0;
}

#define MOVED "moved to a new connection"
#define CUTS 3

/* Reset the proxy's connections CUTS times; after each, host-a is bound to
 * its new connection within a few heartbeats, and online and bidding. */
static void cut_and_heal(struct live *l, int curve)
{
	char pep[64];
	pid_t proxy;
	int64_t worst = 0;

	if (curve)
		make_keys(l, "host-a");
	start_tcp_broker(l, curve);
	proxy = proxy_start(l->ep, pep, sizeof(pep));
	start_agent_via(l, pep, curve);
	live_wait_online(l, 1);
	assert_true(live_wait_at_least(l, 4, WAIT_MS, "SELECT COUNT(*) FROM "
				       "vms") >= 0);
	live_wait_rounds_after(l, live_last_round(l), 4);
	assert_int_equal(bidding(l), 4);
	for (int i = 0; i < CUTS; i++) {
		int64_t ms;

		kill(proxy, SIGUSR1);
		ms = wait_more(l, MOVED, i);
		assert_true(ms >= 0);
		print_message("cut %d (%s): host-a on its new connection "
			      "after %" PRId64 " ms (heartbeat %d ms)\n", i + 1,
			      curve ? "CURVE" : "insecure", ms, HB_MS);
		worst = ms > worst ? ms : worst;
		live_wait_rounds_after(l, live_last_round(l), 4);
		assert_int_equal(bidding(l), 4);
	}
	/* a few heartbeats (more under valgrind or a loaded machine) */
	assert_true(worst <= 20 * HB_MS * live_slow);
	live_stop_all_cleanly(l);
	proxy_stop(&proxy);
	assert_int_equal(live_q_int(l, "SELECT COUNT(*) FROM hosts"), 1);
	assert_int_equal(live_q_int(l, "SELECT COUNT(*) FROM vms"), 4);
}

static void test_reset_heals_insecure(void **state)
{
	cut_and_heal(*state, 0);
}

static void test_reset_heals_curve(void **state)
{
	cut_and_heal(*state, 1);
}

/* ---- a live connection keeps its host ---- */

static int recv_error(void *s)
{
	static char buf[WIRE_MAX_FRAME];
	wire_msg m;

	for (;;) {
		int n = zmq_recv(s, buf, sizeof(buf), 0);
		int code;

		if (n < 0)
			return -1;
		if (wire_msg_decode(buf, (size_t)n, &m, NULL, NULL, 0) !=
		    WIRE_OK)
			continue;
		code = m.body == WIRE_BODY_ERROR ? (int)m.error.code : 0;
		wire_msg_release(&m);
		if (code)
			return code;
	}
}

/* Without keys, a second connection that registers host-a while host-a's
 * agent is alive is refused (CONFLICT), and host-a stays where it was. */
static void test_live_connection_not_stolen(void **state)
{
	struct live *l = *state;
	void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_DEALER);
	int linger = 0, tmo = 3000 * live_slow;
	uint8_t *buf;
	size_t len = 0;
	wire_msg e;

	start_tcp_broker(l, 0);
	start_agent_via(l, l->ep, 0);
	live_wait_online(l, 1);
	live_wait_rounds_after(l, live_last_round(l), 3);
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(s, ZMQ_RCVTIMEO, &tmo, sizeof(tmo));
	assert_int_equal(zmq_connect(s, l->ep), 0);
	wire_msg_init(&e, WIRE_ROLE_HOST, "host-a", 1u << 30,
		      WIRE_BODY_REGISTER);
	e.reg.has_host = 1;
	e.reg.host.capacity_mib = 1 << 20;
	e.reg.host.reserve_mib = 512;
	e.reg.host.uri = "qemu+ssh://impostor/system";
	buf = wire_msg_encode(&e, &len);
	assert_non_null(buf);
	for (int i = 0; i < 5; i++) {
		int code;

		assert_int_equal(zmq_send(s, buf, len, 0), (int)len);
		code = recv_error(s);
		if (code != WIRE_ERR_CONFLICT)
			free(buf);
		assert_int_equal(code, WIRE_ERR_CONFLICT);
		live_sleep_ms(HB_MS);
	}
	free(buf);
	zmq_close(s);
	zmq_ctx_term(ctx);
	live_wait_rounds_after(l, live_last_round(l), 4);
	assert_int_equal(bidding(l), 4);
	live_stop_all_cleanly(l);
	assert_int_equal(live_count_in_file(l->blog, MOVED), 0);
	assert_int_equal(live_q_int(l, "SELECT COUNT(*) FROM hosts WHERE "
				    "uri LIKE '%%impostor%%' OR capacity_mib "
				    "!= 16384"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reset_heals_insecure,
						live_setup, live_teardown),
		cmocka_unit_test_setup_teardown(test_reset_heals_curve,
						live_setup, live_teardown),
		cmocka_unit_test_setup_teardown(test_live_connection_not_stolen,
						live_setup, live_teardown),
	};

	if (live_env() != 0)
		return 77;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
