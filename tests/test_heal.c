/*
 * test_heal.c - a connection that breaks heals by itself, and the broker's
 * timing does not follow the wall clock: the real broker and agents as
 * processes (tests/live.h).
 *
 *  - a small TCP proxy between an agent and the broker resets every
 *    connection (SO_LINGER 0: a real RST both ways); libzmq reconnects
 *    under a new routing id, and the host is online and bidding again
 *    within a few heartbeats, without keys (--insecure) and with CURVE;
 *  - a second connection cannot take a host over while its own is alive:
 *    without CURVE, nor with CURVE and the host's own key;
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

#include "keys.h"
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

/* The code of the Error that is the next message; 0 if it is another
 * kind, -1 if none comes. */
static int recv_error(void *s)
{
	static char buf[WIRE_MAX_FRAME];
	int n = zmq_recv(s, buf, sizeof(buf), 0), code;
	wire_msg m;

	if (n < 0 || wire_msg_decode(buf, (size_t)n, &m, NULL, NULL, 0) !=
	    WIRE_OK)
		return -1;
	code = m.body == WIRE_BODY_ERROR ? (int)m.error.code : 0;
	wire_msg_release(&m);
	return code;
}

/* A DEALER to the broker; with curve, with host-a's key pair. */
static void *dealer(struct live *l, void *ctx, int curve)
{
	char path[160], err[256], bpub[KEYS_Z85_LEN + 1];
	keys_pair kp;
	void *s = zmq_socket(ctx, ZMQ_DEALER);
	int linger = 0, tmo = 3000 * live_slow;

	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(s, ZMQ_RCVTIMEO, &tmo, sizeof(tmo));
	if (curve) {
		snprintf(path, sizeof(path), "%s/host-a.key", l->dir);
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

/* A second connection that registers host-a while host-a's agent is
 * alive is refused (CONFLICT), and host-a stays where it was: without
 * keys, and with CURVE even with host-a's own key (a second agent started
 * with it). */
static void live_connection_not_stolen(struct live *l, int curve)
{
	void *ctx = zmq_ctx_new(), *s;
	uint8_t *buf;
	size_t len = 0;
	wire_msg e;

	if (curve)
		make_keys(l, "host-a");
	start_tcp_broker(l, curve);
	start_agent_via(l, l->ep, curve);
	live_wait_online(l, 1);
	live_wait_rounds_after(l, live_last_round(l), 3);
	s = dealer(l, ctx, curve);
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

static void test_live_connection_not_stolen(void **state)
{
	live_connection_not_stolen(*state, 0);
}

static void test_live_connection_not_stolen_same_key(void **state)
{
	live_connection_not_stolen(*state, 1);
}

/* ---- the wall clock jumps (libfaketime, on the broker only) ---- */

#define FAKETIME_LIB "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"
#define HOUR_MS ((int64_t)3600 * 1000)

static char ft_file[192];

/* The broker's wall clock from now: real time + offset ("+1h", "-2d").
 * Written whole (rename), and read by libfaketime at every clock call. */
static void ft_set(const char *offset)
{
	char tmp[200];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.new", ft_file);
	f = fopen(tmp, "w");
	assert_non_null(f);
	fprintf(f, "%s\n", offset);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(rename(tmp, ft_file), 0);
}

/* The broker under libfaketime: its wall clock (CLOCK_REALTIME, time())
 * follows ft_file, its monotonic clock is left alone. */
static void start_faked_broker(struct live *l, const char *const *extra)
{
	static const char *const vars[] = {
		"LD_PRELOAD", "FAKETIME_TIMESTAMP_FILE", "FAKETIME_NO_CACHE",
		"FAKETIME_DONT_FAKE_MONOTONIC", "DONT_FAKE_MONOTONIC" };
	const char *asan = getenv("ASAN_OPTIONS");
	char old_asan[512] = "", new_asan[600];

	if (access(FAKETIME_LIB, R_OK) != 0)
		fail_msg("%s is missing: libfaketime is in scripts/deps.sh",
			 FAKETIME_LIB);
	snprintf(ft_file, sizeof(ft_file), "%s/faketime.rc", l->dir);
	ft_set("+0");
	if (asan)
		snprintf(old_asan, sizeof(old_asan), "%s", asan);
	/* the preloaded library comes before ASan's runtime: allowed */
	snprintf(new_asan, sizeof(new_asan), "%s%sverify_asan_link_order=0",
		 old_asan, old_asan[0] ? ":" : "");
	setenv("LD_PRELOAD", FAKETIME_LIB, 1);
	setenv("FAKETIME_TIMESTAMP_FILE", ft_file, 1);
	setenv("FAKETIME_NO_CACHE", "1", 1);
	setenv("FAKETIME_DONT_FAKE_MONOTONIC", "1", 1);
	setenv("DONT_FAKE_MONOTONIC", "1", 1);
	setenv("ASAN_OPTIONS", new_asan, 1);
	live_start_broker_with(l, extra);
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
	if (asan)
		setenv("ASAN_OPTIONS", old_asan, 1);
	else
		unsetenv("ASAN_OPTIONS");
}

/* The broker's wall clock is real + off, within a minute (its latest
 * round started then): the jump took. */
static void wait_broker_clock(struct live *l, int64_t off)
{
	char sql[200];
	int64_t at = util_wall_ms() + off;

	snprintf(sql, sizeof(sql), "SELECT ABS(started_ms - %" PRId64 ") < "
		 "60000 FROM rounds WHERE round = (SELECT MAX(round) FROM "
		 "rounds)", at);
	assert_true(live_wait_at_least(l, 1, WAIT_MS, sql) >= 0);
}

static int64_t rec_state(struct live *l, int64_t id)
{
	return live_q_int(l, "SELECT state FROM recs WHERE id = %" PRId64, id);
}

/* Wait until rec id leaves state from; its new state. */
static int64_t wait_rec_leaves(struct live *l, int64_t id, int from)
{
	int64_t end = util_now_ms() + WAIT_MS, st;

	while ((st = rec_state(l, id)) == from && util_now_ms() < end)
		live_sleep_ms(10);
	return st;
}

/* Approve the oldest pending resize whose VM matches the SQL condition
 * `where` (on vm_id); the market may supersede it between the query and
 * the approval: then the next. */
static int64_t approve_resize(struct live *l, const char *where)
{
	int64_t end = util_now_ms() + WAIT_MS, id;

	while (util_now_ms() < end) {
		id = live_q_int(l, "SELECT MIN(id) FROM recs WHERE state = %d "
				"AND kind = %d AND %s", STORE_REC_PENDING,
				STORE_REC_RESIZE, where);
		if (id > 0 && live_run_cli("%s recs approve %" PRId64 " --db %s "
					   ">/dev/null 2>&1", live_bin, id,
					   l->db) == 0)
			return id;
		live_sleep_ms(20);
	}
	fail_msg("no pending resize (%s) could be approved", where);
	return 0;
}

/* Approve every resize pending now (at least one): how many. */
static int approve_all_resizes(struct live *l)
{
	int64_t id = approve_resize(l, "1"), next;
	int64_t top = live_q_int(l, "SELECT MAX(id) FROM recs");
	int n = 1;

	while ((next = live_q_int(l, "SELECT MIN(id) FROM recs WHERE state = "
				  "%d AND kind = %d AND id > %" PRId64 " AND "
				  "id <= %" PRId64, STORE_REC_PENDING,
				  STORE_REC_RESIZE, id, top)) > 0) {
		id = next;
		n += live_run_cli("%s recs approve %" PRId64 " --db %s "
				  ">/dev/null 2>&1", live_bin, id, l->db) == 0;
	}
	return n;
}

/* The faked broker, mode manual, host-a and host-b with a dry-run
 * actuator taking dry_delay_ms an action. */
static void start_faked_cluster(struct live *l, const char *const *extra)
{
	start_faked_broker(l, extra);
	assert_true(live_wait_at_least(l, 1, WAIT_MS, "SELECT COUNT(*) FROM "
				       "control") >= 0);
	assert_int_equal(live_run_cli("%s mode manual --db %s >/dev/null",
				      live_bin, l->db), 0);
	live_start_agent(l, 0, "host-a", "8192", "0:4");
	live_start_agent(l, 1, "host-b", "32768", "4:2");
	live_wait_online(l, 2);
	assert_true(live_wait_at_least(l, 1, WAIT_MS, "SELECT COUNT(*) FROM "
				       "recs") >= 0);
}

/* Dispatched once, succeeded, its result recorded at a broker time of
 * real + off, within a minute (so while the clock was jumped). */
static void done_once(struct live *l, int64_t id, int64_t off)
{
	int64_t at;

	assert_int_equal(wait_rec_leaves(l, id, STORE_REC_DISPATCHED),
			 STORE_REC_SUCCEEDED);
	assert_int_equal(live_q_int(l, "SELECT COUNT(*) FROM audit WHERE "
				    "rec_id = %" PRId64 " AND event = "
				    "'rec.dispatched'", id), 1);
	at = live_q_int(l, "SELECT updated_ms FROM recs WHERE id = %" PRId64,
			id) - util_wall_ms();
	assert_true(at > off - 60000 && at < off + 60000);
}

/* Actions in flight (1 s each, one after another on an agent; timeout
 * 30 s) when the wall clock jumps an hour forward: none fails or goes
 * again. The clock goes back to the real
 * time (an hour back) and the next action of a VM that acted is approved:
 * the 3 s cooldown holds it 3 s, not an hour and 3 s. That one in flight,
 * the clock jumps an hour back again: it neither fails nor goes again. */
static void test_clock_jumps_with_actions_in_flight(void **state)
{
	struct live *l = *state;
	const char *extra[] = { "--action-timeout-s", "30", "--vm-cooldown-s",
				"3", "--max-actions", "8", NULL };
	char sql[200];
	int64_t b, t0, waited, top;
	int n;

	l->dry_delay_ms = "1000";
	start_faked_cluster(l, extra);
	n = approve_all_resizes(l);
	snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM recs WHERE state = %d",
		 STORE_REC_DISPATCHED);
	assert_true(live_wait_at_least(l, 1, WAIT_MS, sql) >= 0);
	ft_set("+1h");
	snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM recs WHERE state = %d "
		 "AND updated_ms > %" PRId64, STORE_REC_SUCCEEDED,
		 util_wall_ms() + HOUR_MS - 60000);
	assert_true(live_wait_at_least(l, 1, WAIT_MS, sql) >= 0);
	snprintf(sql, sizeof(sql), "SELECT COUNT(*) = 0 FROM recs WHERE state "
		 "= %d", STORE_REC_DISPATCHED);
	assert_true(live_wait_at_least(l, 1, WAIT_MS, sql) >= 0);
	print_message("%d resizes approved; %" PRId64 " carried out while the "
		      "clock was an hour ahead\n", n,
		      live_q_int(l, "SELECT COUNT(*) FROM recs WHERE state = %d",
				 STORE_REC_SUCCEEDED));

	ft_set("+0");
	wait_broker_clock(l, 0);
	snprintf(sql, sizeof(sql), "vm_id IN (SELECT vm_id FROM recs WHERE "
		 "state = %d)", STORE_REC_SUCCEEDED);
	b = approve_resize(l, sql);
	t0 = util_now_ms();
	assert_int_equal(wait_rec_leaves(l, b, STORE_REC_APPROVED),
			 STORE_REC_DISPATCHED);
	waited = util_now_ms() - t0;
	ft_set("-1h");
	done_once(l, b, -HOUR_MS);
	print_message("after the jump back, the VM's next action waited %"
		      PRId64 " ms (its cooldown: 3 s from its last result)\n",
		      waited);
	assert_true(waited < 3000 + 3000 * live_slow);
	/* what else was approved is dispatched in its turn: let it finish */
	snprintf(sql, sizeof(sql), "SELECT COUNT(*) = 0 FROM recs WHERE state "
		 "IN (%d, %d)", STORE_REC_APPROVED, STORE_REC_DISPATCHED);
	assert_true(live_wait_at_least(l, 1, WAIT_MS, sql) >= 0);
	live_stop_all_cleanly(l);
	/* each action dispatched and carried out once, none failed */
	top = live_q_int(l, "SELECT MAX(id) FROM recs");
	for (int64_t id = 1; id <= top; id++) {
		if (rec_state(l, id) != STORE_REC_SUCCEEDED)
			continue;
		assert_int_equal(live_q_int(l, "SELECT COUNT(*) FROM audit "
					    "WHERE rec_id = %" PRId64 " AND "
					    "event = 'rec.dispatched'", id), 1);
		assert_int_equal(live_times_acted(l, id), 1);
	}
	assert_int_equal(live_count_in_file(l->blog, "re-sent"), 0);
	assert_int_equal(live_q_int(l, "SELECT COUNT(*) FROM recs WHERE state "
				    "IN (%d, %d)", STORE_REC_FAILED,
				    STORE_REC_DISPATCHED), 0);
}

/* Retention 4 s (20 rounds of 200 ms): the wall clock jumps two days
 * forward, and the rounds of the last 4 s keep their prices and samples
 * (time alone would have deleted all but the round being written). */
static void test_clock_jump_retention_keeps_rounds(void **state)
{
	struct live *l = *state;
	const char *extra[] = { "--retention-s", "4", NULL };
	const int keep = 4000 / ROUND_MS;
	int64_t r, kept_p, kept_s;

	start_faked_cluster(l, extra);
	assert_true(live_wait_at_least(l, 2 * keep, WAIT_MS * 2, "SELECT "
				       "MAX(round) FROM rounds") >= 0);
	ft_set("+2d");
	wait_broker_clock(l, 48 * HOUR_MS);
	r = live_last_round(l);
	live_wait_rounds_after(l, r, 5);
	live_stop_all_cleanly(l);
	r = live_last_round(l);
	kept_p = live_q_int(l, "SELECT COUNT(DISTINCT round) FROM prices WHERE "
			    "round > %" PRId64, r - keep);
	kept_s = live_q_int(l, "SELECT COUNT(DISTINCT round) FROM samples "
			    "WHERE round > %" PRId64, r - keep);
	print_message("after +2 d: the last %d rounds kept prices in %" PRId64
		      ", samples in %" PRId64 "\n", keep, kept_p, kept_s);
	assert_true(kept_p >= keep - 1);
	assert_true(kept_s >= keep - 1);
	/* and nothing older than the retention in rounds */
	assert_int_equal(live_q_int(l, "SELECT COUNT(*) FROM prices WHERE "
				    "round <= %" PRId64, r - keep - 1), 0);
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
		cmocka_unit_test_setup_teardown(
			test_live_connection_not_stolen_same_key, live_setup,
			live_teardown),
		cmocka_unit_test_setup_teardown(
			test_clock_jumps_with_actions_in_flight, live_setup,
			live_teardown),
		cmocka_unit_test_setup_teardown(
			test_clock_jump_retention_keeps_rounds, live_setup,
			live_teardown),
	};

	if (live_env() != 0)
		return 77;
	if (getenv("BOURSE_TEST_FILTER")) /* one test by name (a glob) */
		cmocka_set_test_filter(getenv("BOURSE_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
