/*
 * test_caps.c - the broker's resources stay bounded per peer (issue 16,
 * point 5): the real broker and agents as processes (tests/live.h),
 * scripted peers on real sockets, the broker's memory read from
 * /proc/PID/status (VmRSS) before and after each attack:
 *
 *  - one agent key opening more connections than --max-conns-per-key:
 *    the ones over the cap are closed at their first frame, unanswered;
 *    another key of the same host has a cap of its own; once the others
 *    close, the real agent with that key gets in;
 *  - a peer that sends and never reads: its queue fills, it is dropped
 *    after the liveness timeout, the honest hosts stay online;
 *  - a connection that never sends a frame: closed after the handshake
 *    and liveness timeouts;
 *  - a host registering 5,000 VMs at once (5 times the queue) and reading:
 *    every answer arrives, it is not dropped;
 *  - 1,100 idle TCP connections that never start a handshake, against a
 *    broker limited to 512 descriptors (prlimit): accept(2) fails and is
 *    logged, the idle ones are closed after --handshake-timeout-s, and a
 *    real agent gets in; the CPU of libzmq's I/O thread meanwhile is
 *    printed.
 *
 * docs/reliability.md, "Bounded resources per peer", has the figures.
 */
#define _GNU_SOURCE /* prlimit() */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <zmq.h>

#include "keys.h"
#include "live.h"
#include "util.h"
#include "wire.h"
#include "banned.h"

/* ---- the broker's process, read from /proc ---- */

/* VmRSS of pid in KiB; -1 if unknown. */
static int64_t rss_kib(pid_t pid)
{
	char path[64], line[256];
	int64_t kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %" SCNd64, &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* CPU time (clock ticks, user + system) of pid's libzmq I/O threads
 * (named ZMQbg/IO/N). */
static int64_t io_ticks(pid_t pid)
{
	char path[320], buf[512];
	int64_t sum = 0;
	struct dirent *d;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((d = readdir(dir))) {
		unsigned long ut = 0, st = 0;
		const char *p;
		FILE *f;

		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/stat", (int)pid,
			 d->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f) && strstr(buf, "(ZMQbg/IO") &&
		    (p = strrchr(buf, ')')) &&
		    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			   "%lu %lu", &ut, &st) == 2)
			sum += (int64_t)(ut + st);
		fclose(f);
	}
	closedir(dir);
	return sum;
}

/* ---- keys and peers (as test_trust.c) ---- */

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

/* The broker on TCP loopback (CURVE with extra flags, or --insecure);
 * l->ep is the endpoint it bound. */
static void start_tcp_broker(struct live *l, int curve, const char *a1,
			     const char *a2)
{
	char key[160], allow[160];
	const char *with_keys[] = { "--key", key, "--allow", allow, a1, a2,
				    NULL };
	const char *insecure[] = { "--insecure", a1, a2, NULL };

	snprintf(l->ep, sizeof(l->ep), "tcp://127.0.0.1:*");
	snprintf(key, sizeof(key), "%s/broker.key", l->dir);
	snprintf(allow, sizeof(allow), "%s/allow", l->dir);
	live_start_broker_with(l, curve ? with_keys : insecure);
	live_learn_endpoint(l);
}

/* host-a's agent (four VMs), with its key if curve. */
static void start_agent(struct live *l, int curve)
{
	char log[160], key[160], bkey[160];

	snprintf(log, sizeof(log), "%s/host-a.log", l->dir);
	snprintf(key, sizeof(key), "%s/host-a.key", l->dir);
	snprintf(bkey, sizeof(bkey), "%s/broker.pub", l->dir);
	const char *args[] = { "agent", "--host", "host-a", "--capacity-mib",
			       "16384", "--trace", l->trace, "--vms", "0:4",
			       "--broker", l->ep, "--step-s", "300",
			       curve ? "--key" : "--insecure",
			       curve ? key : NULL, "--broker-key", bkey, NULL };
	l->agents[0] = live_spawn(l, log, args);
}

/* A DEALER to the broker; with the key pair keyname if not NULL. */
static void *dealer_key(struct live *l, void *ctx, const char *keyname)
{
	char path[160], err[256], bpub[KEYS_Z85_LEN + 1];
	keys_pair kp;
	void *s = zmq_socket(ctx, ZMQ_DEALER);
	int linger = 0;

	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	if (keyname) {
		snprintf(path, sizeof(path), "%s/%s.key", l->dir, keyname);
		assert_int_equal(keys_read_pair(path, &kp, err, sizeof(err)),
				 0);
		snprintf(path, sizeof(path), "%s/broker.pub", l->dir);
		assert_int_equal(keys_read_public(path, bpub, err,
						  sizeof(err)), 0);
		zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, bpub, KEYS_Z85_LEN);
		zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, kp.pub, KEYS_Z85_LEN);
		zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, kp.sec, KEYS_Z85_LEN);
	}
	assert_int_equal(zmq_connect(s, l->ep), 0);
	return s;
}

/* A DEALER to the broker; with host-a's key pair if curve. */
static void *dealer(struct live *l, void *ctx, int curve)
{
	return dealer_key(l, ctx, curve ? "host-a" : NULL);
}

/* A Heartbeat from host-a (not registered through this connection: the
 * broker answers each with an Error). */
static void send_heartbeat(void *s, uint64_t seq, int flags)
{
	wire_msg e;
	size_t len;
	uint8_t *buf;

	wire_msg_init(&e, WIRE_ROLE_HOST, "host-a", seq, WIRE_BODY_HEARTBEAT);
	buf = wire_msg_encode(&e, &len);
	assert_non_null(buf);
	zmq_send(s, buf, len, flags);
	free(buf);
}

/* Is any frame waiting on s within ms? */
static int answered(void *s, int ms)
{
	zmq_pollitem_t pi = { s, 0, ZMQ_POLLIN, 0 };

	return zmq_poll(&pi, 1, ms) == 1;
}

/* ---- connections per key ---- */

#define CAP 2
#define DEALERS 8

/* DEALERS connections with host-a's key, each sending a frame: CAP are
 * answered, the others closed unanswered; host-a's second key (a buyer's)
 * has a cap of its own; the broker's memory stays put over a burst of
 * 200 more; once they are all closed, host-a's agent gets in. */
static void test_conns_per_key_capped(void **state)
{
	struct live *l = *state;
	void *ctx = zmq_ctx_new(), *s[DEALERS], *other[CAP];
	int ok = 0;
	int64_t rss0, rss1;

	make_keys(l, "host-a buyer");
	/* the buyer's key speaks for host-a too */
	assert_int_equal(live_run_cli("cd '%s' && sed -i 's/^buyer /host-a /' "
				      "allow", l->dir), 0);
	start_tcp_broker(l, 1, "--max-conns-per-key", "2");
	for (int i = 0; i < DEALERS; i++) {
		s[i] = dealer(l, ctx, 1);
		send_heartbeat(s[i], 1, 0);
	}
	for (int i = 0; i < DEALERS; i++)
		ok += answered(s[i], i ? 300 : 3000 * live_slow);
	print_message("%d of %d connections with one key answered (cap %d)\n",
		      ok, DEALERS, CAP);
	assert_int_equal(ok, CAP);
	assert_true(live_count_in_file(l->blog, "over the connections per "
				       "key") >= DEALERS - CAP);
	for (int i = 0; i < CAP; i++) {
		other[i] = dealer_key(l, ctx, "buyer");
		send_heartbeat(other[i], 1, 0);
		assert_true(answered(other[i], 3000 * live_slow));
		zmq_close(other[i]);
	}
	rss0 = rss_kib(l->broker);
	for (int round = 0; round < 10; round++) {
		void *more[20];

		for (int i = 0; i < 20; i++) {
			more[i] = dealer(l, ctx, 1);
			send_heartbeat(more[i], 1, 0);
		}
		live_sleep_ms(50);
		for (int i = 0; i < 20; i++)
			zmq_close(more[i]);
	}
	live_sleep_ms(500);
	rss1 = rss_kib(l->broker);
	print_message("broker VmRSS %" PRId64 " KiB -> %" PRId64 " KiB over "
		      "200 more connections with the key\n", rss0, rss1);
	assert_true(rss1 - rss0 < 16 * 1024);
	for (int i = 0; i < DEALERS; i++)
		zmq_close(s[i]);
	zmq_ctx_term(ctx);
	start_agent(l, 1);
	live_wait_online(l, 1);
	live_stop_all_cleanly(l);
	assert_int_equal(live_count_in_file(l->blog, "(over the connections "
					    "per key)") > 0, 1);
}

/* ---- a peer that never reads ---- */

/* A peer sends heartbeats as fast as the rate limit allows, each drawing
 * an Error, and never reads: dropped once its queue has been full for the
 * liveness timeout; the broker's memory stays bounded; the honest hosts
 * stay online. */
static void test_unread_peer_dropped(void **state)
{
	struct live *l = *state;
	void *ctx = zmq_ctx_new(), *s;
	int one = 1, small = 4096;
	int64_t rss0, rss_max = 0, t0, dropped_ms = -1;
	uint64_t seq = 1;

	live_start_cluster(l);
	s = zmq_socket(ctx, ZMQ_DEALER);
	zmq_setsockopt(s, ZMQ_RCVHWM, &one, sizeof(one));
	zmq_setsockopt(s, ZMQ_RCVBUF, &small, sizeof(small));
	zmq_setsockopt(s, ZMQ_LINGER, &(int){ 0 }, sizeof(int));
	assert_int_equal(zmq_connect(s, l->ep), 0);
	rss0 = rss_kib(l->broker);
	t0 = util_now_ms();
	while (util_now_ms() - t0 < 6000 * live_slow) {
		int64_t r;

		for (int i = 0; i < 400; i++)
			send_heartbeat(s, seq++, ZMQ_DONTWAIT);
		live_sleep_ms(100); /* 4,000 frames/s: under --peer-rate */
		r = rss_kib(l->broker);
		rss_max = r > rss_max ? r : rss_max;
		if (dropped_ms < 0 && live_count_in_file(l->blog,
							 "(does not read)"))
			dropped_ms = util_now_ms() - t0;
	}
	print_message("unread peer: %" PRIu64 " frames sent; dropped after %"
		      PRId64 " ms; broker VmRSS %" PRId64 " KiB, at most %"
		      PRId64 " KiB while it sent\n", seq - 1, dropped_ms,
		      rss0, rss_max);
	zmq_close(s);
	zmq_ctx_term(ctx);
	assert_true(dropped_ms >= 0);
	assert_true(rss_max - rss0 < 32 * 1024);
	assert_int_equal(live_q_int(l, "SELECT COUNT(*) FROM hosts WHERE "
				    "state = %d", STORE_HOST_ONLINE), 2);
	live_stop_all_cleanly(l);
	/* the "stopped" line counts it */
	assert_true(live_count_in_file(l->blog, "connections closed: 0 over "
				       "the cap per key, 0 not") == 0);
	assert_true(live_count_in_file(l->blog, "connections closed: 0 over "
				       "the cap per key,") == 1);
}

/* ---- a connection that never speaks ---- */

/* The ms until the broker's log holds needle; -1 past WAIT_MS. */
static int64_t until_logged(struct live *l, const char *needle, int64_t t0)
{
	while (util_now_ms() - t0 < WAIT_MS) {
		if (live_count_in_file(l->blog, needle))
			return util_now_ms() - t0;
		live_sleep_ms(20);
	}
	return -1;
}

/* A peer connects (its handshake done: ZMTP without keys here) and never
 * sends a frame: closed once the handshake timeout and the liveness
 * timeout have passed, not before; one that sends a frame, bound to no
 * host, then stays idle: closed the same time after its frame; the
 * agents, which speak, are not. */
static void test_silent_connection_closed(void **state)
{
	struct live *l = *state;
	const char *extra[] = { "--handshake-timeout-s", "1", NULL };
	void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_DEALER), *once;
	int zero = 0;
	int64_t t0, ms, ms_once;

	live_start_cluster_with(l, extra);
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
	assert_int_equal(zmq_connect(s, l->ep), 0);
	t0 = util_now_ms();
	once = dealer(l, ctx, 0);
	send_heartbeat(once, 1, 0);
	ms = until_logged(l, "since accepted", t0);
	ms_once = until_logged(l, "bound to no host", t0);
	print_message("a connection that never spoke closed after %" PRId64
		      " ms, one that spoke once after %" PRId64 " ms "
		      "(handshake timeout 1000 ms, liveness %d ms)\n", ms,
		      ms_once, HB_MS * LIVENESS);
	zmq_close(s);
	zmq_close(once);
	zmq_ctx_term(ctx);
	assert_true(ms >= 1000 + HB_MS * LIVENESS - 100);
	assert_true(ms_once >= 1000 + HB_MS * LIVENESS - 100);
	assert_int_equal(live_q_int(l, "SELECT COUNT(*) FROM hosts WHERE "
				    "state = %d", STORE_HOST_ONLINE), 2);
	live_stop_all_cleanly(l);
	assert_true(live_count_in_file(l->blog, "connections closed: 0 over "
				       "the cap per key, 0 not reading, 0 "
				       "silent") == 0);
}

/* ---- a burst an honest peer reads ---- */

#define BURST_VMS 5000

/* A host registers BURST_VMS VMs at once, as an agent does (one Register
 * each, one answer each): 5 times the queue of 1,000 messages, yet every
 * answer arrives (libzmq's I/O threads drain the queue as the broker
 * fills it) and the peer, which reads, is not taken for one that does not. */
static void test_burst_answered_in_full(void **state)
{
	struct live *l = *state;
	void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_DEALER);
	int zero = 0, tmo = 5000 * live_slow, answers = 0;
	char name[32], buf[4096];
	wire_msg e;
	size_t len;
	uint8_t *enc;

	live_start_broker(l);
	zmq_setsockopt(s, ZMQ_SNDHWM, &zero, sizeof(zero));
	zmq_setsockopt(s, ZMQ_RCVHWM, &zero, sizeof(zero));
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(s, ZMQ_RCVTIMEO, &tmo, sizeof(tmo));
	assert_int_equal(zmq_connect(s, l->ep), 0);
	wire_msg_init(&e, WIRE_ROLE_HOST, "host-big", 1, WIRE_BODY_REGISTER);
	e.reg.has_host = 1;
	e.reg.host = (wire_host_config){ .capacity_mib = 1 << 20,
					 .reserve_mib = 1024, .uri = "" };
	enc = wire_msg_encode(&e, &len);
	assert_non_null(enc);
	assert_int_equal(zmq_send(s, enc, len, 0), (int)len);
	free(enc);
	for (int i = 0; i < BURST_VMS; i++) {
		snprintf(name, sizeof(name), "vm-%d", i);
		wire_msg_init(&e, WIRE_ROLE_VM, name, 1, WIRE_BODY_REGISTER);
		e.reg.has_vm = 1;
		e.reg.vm = (wire_vm_config){
			.host = "host-big", .startup_mib = 1024,
			.minimum_mib = 512, .maximum_mib = 2048,
			.buffer_pct = 10, .weight = 1, .shares = 1000 };
		enc = wire_msg_encode(&e, &len);
		assert_non_null(enc);
		assert_int_equal(zmq_send(s, enc, len, 0), (int)len);
		free(enc);
	}
	/* a Welcome or an Error for each (a cap on VMs per host may refuse
	 * some): none lost to a full queue; Awards and Heartbeats besides */
	while (answers < BURST_VMS + 1) {
		int n = zmq_recv(s, buf, sizeof(buf), 0);
		wire_msg m;

		if (n < 0)
			break;
		if (n > (int)sizeof(buf))
			continue; /* an Award, cut: not an answer */
		if (wire_msg_decode(buf, (size_t)n, &m, NULL, NULL, 0) !=
		    WIRE_OK)
			continue;
		answers += m.body == WIRE_BODY_WELCOME ||
			   m.body == WIRE_BODY_ERROR;
		wire_msg_release(&m);
	}
	print_message("%d registrations at once: %d answered\n",
		      BURST_VMS + 1, answers);
	zmq_close(s);
	zmq_ctx_term(ctx);
	live_stop_broker_cleanly(l);
	assert_int_equal(answers, BURST_VMS + 1);
	assert_int_equal(live_count_in_file(l->blog, "(does not read)"), 0);
}

/* ---- idle TCP connections that never handshake ---- */

/* More idle connections than the broker has descriptors: 1,100 against
 * 512 (the kernel's SYN queue spreads 1,100 connect()s over seconds of
 * retries, and the broker never held more than ~920 at once at systemd's
 * default 1,024 in our runs: 512 is one it can run out of). */
#define IDLE 1100
#define NOFILE 512

/* Open n TCP connections to port (non-blocking: the kernel finishes what
 * the broker's backlog takes); their fds into fds. */
static void open_idle(int port, int *fds, int n)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };

	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int i = 0; i < n; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		assert_true(fds[i] >= 0);
		if (connect(fds[i], (struct sockaddr *)&sa, sizeof(sa)) != 0)
			assert_int_equal(errno, EINPROGRESS);
	}
}

/* The descriptors pid holds. */
static int fd_count(pid_t pid)
{
	char path[64];
	struct dirent *d;
	int n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((d = readdir(dir)))
		n += d->d_name[0] != '.';
	closedir(dir);
	return n;
}

/* The most descriptors pid held over ms, sampled. */
static int fd_peak(pid_t pid, int ms)
{
	int peak = 0;

	for (int64_t end = util_now_ms() + ms; util_now_ms() < end;) {
		int n = fd_count(pid);

		peak = n > peak ? n : peak;
		live_sleep_ms(10);
	}
	return peak;
}

/* This process needs IDLE descriptors and more. */
static void enough_fds(void)
{
	struct rlimit mine;

	assert_int_equal(getrlimit(RLIMIT_NOFILE, &mine), 0);
	if (mine.rlim_cur < IDLE + 64 && mine.rlim_max >= IDLE + 64) {
		mine.rlim_cur = mine.rlim_max;
		assert_int_equal(setrlimit(RLIMIT_NOFILE, &mine), 0);
	}
	assert_true(mine.rlim_cur >= IDLE + 64);
}

/* IDLE connections that never send a byte, held open: the broker closes
 * them after its handshake timeout (1 s here) though the peer keeps its
 * end, and a real agent gets in meanwhile. */
static void test_idle_flood_agent_gets_in(void **state)
{
	struct live *l = *state;
	struct rlimit lim = { NOFILE, NOFILE };
	static int fds[IDLE];
	int64_t t0, ms, back, ticks0, ticks1, rss0, rss1;
	int base, peak, left;
	long hz = sysconf(_SC_CLK_TCK);
	const char *port;

	enough_fds();
	start_tcp_broker(l, 0, "--handshake-timeout-s", "1");
	assert_int_equal(prlimit(l->broker, RLIMIT_NOFILE, &lim, NULL), 0);
	port = strrchr(l->ep, ':');
	assert_non_null(port);
	base = fd_count(l->broker);
	rss0 = rss_kib(l->broker);
	ticks0 = io_ticks(l->broker);
	open_idle((int)strtol(port + 1, NULL, 10), fds, IDLE);
	t0 = util_now_ms();
	peak = fd_peak(l->broker, 500);
	start_agent(l, 0);
	live_wait_online(l, 1);
	ms = util_now_ms() - t0;
	/* the idle ones closed by the broker, its end, while ours stay open:
	 * back to its own descriptors and the agent's connection */
	do {
		left = fd_count(l->broker);
		back = util_now_ms() - t0;
		live_sleep_ms(50);
	} while (left > base + 4 && back < 10000 * live_slow);
	ticks1 = io_ticks(l->broker);
	rss1 = rss_kib(l->broker);
	print_message("%d idle connections, broker at %d descriptors (%d "
		      "its own): it held %d at most, accept(2) failed %s; "
		      "host-a online %" PRId64 " ms after they opened, the "
		      "broker back to %d descriptors after %" PRId64 " ms; "
		      "libzmq's I/O thread used %.0f%% of a CPU meanwhile; "
		      "VmRSS %" PRId64 " -> %" PRId64 " KiB\n", IDLE, NOFILE,
		      base, peak, live_count_in_file(l->blog, "cannot accept")
		      ? "(logged)" : "never", ms, left, back,
		      100.0 * (double)(ticks1 - ticks0) / (double)hz /
		      ((double)back / 1000.0), rss0, rss1);
	for (int i = 0; i < IDLE; i++)
		close(fds[i]);
	assert_true(ms < 10000 * live_slow);
	assert_true(left <= base + 4);
	assert_true(rss1 - rss0 < 64 * 1024);
	live_stop_all_cleanly(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_conns_per_key_capped,
						live_setup, live_teardown),
		cmocka_unit_test_setup_teardown(test_unread_peer_dropped,
						live_setup, live_teardown),
		cmocka_unit_test_setup_teardown(test_silent_connection_closed,
						live_setup, live_teardown),
		cmocka_unit_test_setup_teardown(test_burst_answered_in_full,
						live_setup, live_teardown),
		cmocka_unit_test_setup_teardown(test_idle_flood_agent_gets_in,
						live_setup, live_teardown),
	};
	const char *bin = getenv("BOURSE_CAPS_BIN"); /* another binary */
	const char *asan = getenv("ASAN_OPTIONS");
	char opts[1024];

	if (live_env() != 0)
		return 77;
	if (bin && *bin)
		live_bin = bin;
	/* ASan holds up to 256 MB of freed memory back (its quarantine),
	 * which would hide what the broker itself keeps */
	snprintf(opts, sizeof(opts), "quarantine_size_mb=1%s%s",
		 asan ? ":" : "", asan ? asan : "");
	setenv("ASAN_OPTIONS", opts, 1);
	if (getenv("BOURSE_TEST_FILTER")) /* one test by name (a glob) */
		cmocka_set_test_filter(getenv("BOURSE_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
