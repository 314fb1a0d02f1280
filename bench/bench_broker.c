/*
 * bench_broker.c - the broker under load: ingest, memory and end to end.
 *
 * The broker is the real `bourse broker`, started as a process with its own
 * SQLite file; this process is the load: many agents' connections over TCP
 * loopback speaking the real protocol (load.h).
 *
 *  ingest  bids streamed as fast as the sockets take them; the broker
 *          decodes, validates and applies each. The raw limit is the same
 *          frames from the same load to a bare ROUTER that only receives
 *          them (this program, started again with --sink): the ratio is
 *          the broker's share of what libzmq itself can carry.
 *  memory  the broker's resident memory per VM tracked, at 10,000 and
 *          100,000 VMs on 1,000 connections, after rounds have run.
 *  e2e     10,000 VMs on 1,000 host connections bidding once a second;
 *          every round's time, split as the broker logs it (market, store,
 *          awards), from the broker's own log.
 *
 * Figures only: nothing here fails on timing. Exit 1 if the broker refused
 * the load, would not start, or did not stop cleanly.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "bench.h"
#include "cli.h"
#include "keys.h"
#include "load.h"
#include "util.h"
#include "banned.h"

#ifndef BOURSE_BIN
#define BOURSE_BIN "bourse"
#endif

static const char usage[] =
	"usage: bench_broker [--smoke] [--only ingest|memory|e2e] [--seconds N]\n"
	"                    [--conns N] [--vms M] [--keep] [--curve]\n"
	"\n"
	"The real broker (`bourse broker`, $BOURSE_BENCH_BIN or the build's)\n"
	"under a load process holding many agent connections over TCP loopback.\n"
	"  ingest  bids per second the broker decodes, validates and applies,\n"
	"          against a bare ZeroMQ ROUTER fed the same frames (the raw\n"
	"          limit); 1,000 connections x 10 VMs\n"
	"  memory  broker resident memory per VM at 10,000 and 100,000 VMs\n"
	"  e2e     10,000 VMs on 1,000 connections bidding once a second for\n"
	"          N seconds (default 30): every round's time (target 250 ms)\n"
	"--conns N (1..5000) and --vms M (VMs per connection, 1..1000) run\n"
	"one size of your choice instead of the defaults. --keep leaves the\n"
	"brokers' logs and databases in the temporary directory it names.\n"
	"--curve runs every connection (and the raw sink) with ZeroMQ CURVE,\n"
	"a key pair per connection in the broker's allow-list; without it the\n"
	"broker runs --insecure.\n"
	"--smoke runs each at a small size (CI). Figures only: timing never\n"
	"fails the run. Results: docs/benchmarks.md.\n";

typedef struct opts {
	int smoke;
	const char *only;
	int seconds;
	size_t conns, vpc; /* --conns, --vms: one size instead of the defaults */
	int keep;          /* --keep: leave the broker's logs and databases */
	int curve;         /* --curve: CURVE on every connection */
	keys_pair broker_kp; /* with --curve: the broker's (and the sink's) */
	const char *bin;
	char dir[PATH_MAX]; /* temporary directory: databases, logs */
} opts;

/* ------------------------------------------------------------------ */
/* processes                                                          */
/* ------------------------------------------------------------------ */

typedef struct proc {
	pid_t pid;
	char log[PATH_MAX + 32];
} proc;

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* Starts argv with stdout and stderr to p->log. */
static int proc_start(proc *p, char *const argv[], char *err, size_t errlen)
{
	int fd = open(p->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0) {
		snprintf(err, errlen, "%.300s: %s", p->log, strerror(errno));
		return -1;
	}
	fflush(NULL);
	p->pid = fork();
	if (p->pid == 0) {
		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(fd);
	if (p->pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* The endpoint written after `what` in buf, up to a ',' or the end of the
 * line, into ep (eplen bytes): 0, or -1 when it is not all there yet. */
static int endpoint_after(const char *buf, const char *what, char *ep,
			  size_t eplen)
{
	const char *s = strstr(buf, what), *e;

	if (!s)
		return -1;
	s += strlen(what);
	e = s + strcspn(s, ",\n");
	if (*e == '\0' || e == s || (size_t)(e - s) >= eplen)
		return -1;
	memcpy(ep, s, (size_t)(e - s));
	ep[e - s] = '\0';
	return 0;
}

/* Waits until the log holds `what` (the process is up), up to 20 s. With
 * ep, `what` is followed by the endpoint the process bound (to learn the
 * port the kernel gave a "tcp://127.0.0.1:*"): copied into ep. */
static int proc_wait_log(proc *p, const char *what, char *ep, size_t eplen,
			 char *err, size_t errlen)
{
	for (int i = 0; i < 2000; i++) {
		char buf[4096];
		FILE *f = fopen(p->log, "r");
		size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
		int status;

		if (f)
			fclose(f);
		buf[n] = '\0';
		if (ep ? !endpoint_after(buf, what, ep, eplen)
		       : strstr(buf, what) != NULL)
			return 0;
		if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
			p->pid = 0;
			snprintf(err, errlen, "it exited; its log %.200s says: %.200s",
				 p->log, buf);
			return -1;
		}
		sleep_ms(10);
	}
	snprintf(err, errlen, "no '%s' in %.300s after 20 s", what, p->log);
	return -1;
}

/* SIGTERM, then wait (SIGKILL after 60 s). Returns the exit status, or -1
 * if it had to be killed or died of a signal. */
static int proc_stop(proc *p)
{
	int status = 0;

	if (p->pid <= 0)
		return -1;
	kill(p->pid, SIGTERM);
	for (int i = 0; i < 6000; i++) {
		if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
			p->pid = 0;
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		}
		sleep_ms(10);
	}
	kill(p->pid, SIGKILL);
	waitpid(p->pid, &status, 0);
	p->pid = 0;
	return -1;
}

/* A line "Key:   N kB" of /proc/PID/status, in KiB; -1 if absent. */
static long proc_status_kib(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ':')
			v = strtol(line + klen + 1, NULL, 10);
	fclose(f);
	return v;
}

/* The broker on loopback, on a port the kernel chooses as it binds
 * (tcp://127.0.0.1:*), with its own database in o->dir: the endpoint it
 * bound, from its "listening on" line, into ep. */
/* The liveness is generous (100 s): the load process does not heartbeat
 * while it registers thousands of identities, and a broker under valgrind
 * (BOURSE_BENCH_BIN=a wrapper, for profiles) is slow. No per-peer rate
 * limit: the load streams as fast as it can. CURVE with --curve (the
 * load's allow-list in <name>.allow, written by bench_load()), else
 * --insecure. */
static int broker_start(const opts *o, const char *name, char *ep,
			size_t eplen, int64_t round_ms, proc *p, char *err,
			size_t errlen)
{
	char listen[] = "tcp://127.0.0.1:*", db[PATH_MAX + 32], round[32];
	char key[PATH_MAX + 32], allow[PATH_MAX + 32];
	char *argv[] = { (char *)o->bin, "broker", "--listen", listen, "--db",
			 db, "--round-ms", round, "--heartbeat-ms", "1000",
			 "--liveness", "100", "--peer-rate", "0",
			 "--log-level", "debug", /* the round lines, parsed */
			 "--insecure", NULL, NULL, NULL, NULL };

	if (o->curve) {
		snprintf(key, sizeof(key), "%s/broker.key", o->dir);
		snprintf(allow, sizeof(allow), "%s/%s.allow", o->dir, name);
		argv[16] = "--key";
		argv[17] = key;
		argv[18] = "--allow";
		argv[19] = allow;
	}
	snprintf(db, sizeof(db), "%s/%s.db", o->dir, name);
	snprintf(round, sizeof(round), "%" PRId64, round_ms);
	snprintf(p->log, sizeof(p->log), "%s/%s.log", o->dir, name);
	if (proc_start(p, argv, err, errlen) ||
	    proc_wait_log(p, "listening on ", ep, eplen, err, errlen))
		return -1;
	if (strchr(ep, '*')) {
		snprintf(err, errlen, "the broker logged '%.100s', not the "
			 "endpoint it bound (%.300s)", ep, p->log);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* the raw sink: a bare ROUTER                                        */
/* ------------------------------------------------------------------ */

static volatile sig_atomic_t sink_stop;

static void on_term(int sig)
{
	(void)sig;
	sink_stop = 1;
}

/* Receives every frame (routing id + body) and answers a 1-byte body with
 * one byte: the least a ROUTER can do. Same socket options as the broker,
 * and CURVE with the secret key given (any client key admitted). */
static int sink_main(const char *endpoint, const char *secret)
{
	void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_ROUTER);
	int hwm = 100000, zero = 0, one = 1;
	int64_t maxmsg = 1024 * 1024;
	uint64_t n = 0;
	char bound[256];
	size_t len = sizeof(bound);

	signal(SIGTERM, on_term);
	zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
	if (secret) {
		zmq_setsockopt(s, ZMQ_CURVE_SERVER, &one, sizeof(one));
		zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, secret, strlen(secret));
	}
	if (zmq_bind(s, endpoint) ||
	    zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, bound, &len)) {
		fprintf(stderr, "sink: bind %s: %s\n", endpoint,
			zmq_strerror(zmq_errno()));
		return 1;
	}
	fprintf(stderr, "sink: listening on %s\n", bound);
	while (!sink_stop) {
		zmq_pollitem_t pi = { s, 0, ZMQ_POLLIN, 0 };
		zmq_msg_t id, body;

		if (zmq_poll(&pi, 1, 100) <= 0)
			continue;
		for (int i = 0; i < 10000; i++) {
			zmq_msg_init(&id);
			if (zmq_msg_recv(&id, s, ZMQ_DONTWAIT) < 0) {
				zmq_msg_close(&id);
				break;
			}
			zmq_msg_init(&body);
			zmq_msg_recv(&body, s, 0);
			n++;
			if (zmq_msg_size(&body) == 1) {
				zmq_msg_send(&id, s, ZMQ_SNDMORE);
				zmq_send(s, "!", 1, 0);
			}
			zmq_msg_close(&id);
			zmq_msg_close(&body);
		}
	}
	fprintf(stderr, "sink: %" PRIu64 " frames\n", n);
	zmq_close(s);
	zmq_ctx_term(ctx);
	return 0;
}

/* The sink on loopback, on a port the kernel chooses as it binds (no
 * race with another process for a port picked beforehand): its endpoint,
 * from its log, into ep. */
static int sink_start(const opts *o, const char *self, char *ep,
		      size_t eplen, proc *p, char *err, size_t errlen)
{
	char *argv[] = { (char *)self, "--sink", "tcp://127.0.0.1:*",
			 o->curve ? (char *)o->broker_kp.sec : NULL, NULL };

	snprintf(p->log, sizeof(p->log), "%s/sink.log", o->dir);
	if (proc_start(p, argv, err, errlen))
		return -1;
	return proc_wait_log(p, "listening on ", ep, eplen, err, errlen);
}

/* The load for broker `name`: with --curve, a key pair per connection and
 * the broker's allow-list for them (<name>.allow). Not connected yet. */
static load *bench_load(const opts *o, const char *name, size_t conns,
			size_t vpc, char *err, size_t errlen)
{
	char allow[PATH_MAX + 32];
	load *l = load_new(conns, vpc, o->curve ? o->broker_kp.pub : NULL, err,
			   errlen);

	snprintf(allow, sizeof(allow), "%s/%s.allow", o->dir, name);
	if (l && o->curve && load_write_allow(l, allow, err, errlen)) {
		load_close(l);
		return NULL;
	}
	return l;
}

/* The case's name, with "+curve" when on. */
static void case_name(const opts *o, char *out, size_t len, const char *what,
		      size_t conns, size_t vpc)
{
	snprintf(out, len, "%s %zux%zu%s", what, conns, vpc,
		 o->curve ? "+curve" : "");
}

/* ------------------------------------------------------------------ */
/* ingest                                                             */
/* ------------------------------------------------------------------ */

typedef struct frame {
	uint8_t *buf;
	size_t len;
} frame;

/* Every bid of `rounds` rounds, grouped per connection in the order an
 * agent sends them (its VMs' bids together, round after round). */
static frame *ingest_frames(load *l, size_t rounds, uint64_t k0)
{
	size_t n = load_conns(l), v = load_vms_per_conn(l);
	frame *f = calloc(n * v * rounds, sizeof(*f));

	if (!f)
		return NULL;
	for (size_t k = 0; k < rounds; k++)
		for (size_t c = 0; c < n; c++)
			for (size_t j = 0; j < v; j++) {
				frame *x = &f[(k * n + c) * v + j];
				int64_t d = load_demand(c, j, k0 + k);
				int64_t a = load_assigned(c, j, k0 + k);

				x->buf = load_bid(l, c, j, d, a, &x->len);
				if (!x->buf)
					return f; /* caught by the caller */
			}
	return f;
}

static void frames_free(frame *f, size_t n)
{
	for (size_t i = 0; f && i < n; i++)
		free(f[i].buf);
	free(f);
}

/* Waits until every connection has had a reply to its end marker. */
static int await_replies(load *l, char *err, size_t errlen)
{
	for (int64_t t0 = util_now_ns();;) {
		size_t c = 0;

		while (c < load_conns(l) && load_replies(l, c) > 0)
			c++;
		if (c == load_conns(l))
			return 0;
		if (util_now_ns() - t0 > 120 * (int64_t)1000000000) {
			snprintf(err, errlen, "no reply on connection %zu after "
				 "120 s", c);
			return -1;
		}
		if (load_poll(l, 10, err, errlen))
			return -1;
	}
}

/* Streams f (n frames) then an end marker per connection (one byte for the
 * raw sink, a host Heartbeat for the broker, which answers it after
 * everything before it on that connection). Seconds until all answered. */
static int ingest_pass(load *l, const frame *f, size_t n, int raw,
		       double *secs, char *err, size_t errlen)
{
	size_t conns = load_conns(l), per = n / conns / load_vms_per_conn(l);
	size_t v = load_vms_per_conn(l);
	int64_t t0 = util_now_ns();

	load_reset_replies(l);
	for (size_t k = 0; k < per; k++)
		for (size_t c = 0; c < conns; c++)
			for (size_t j = 0; j < v; j++) {
				const frame *x = &f[(k * conns + c) * v + j];
				if (load_send(l, c, x->buf, x->len))
					goto sock;
			}
	for (size_t c = 0; c < conns; c++) {
		size_t len = 1;
		uint8_t *hb = raw ? NULL : load_heartbeat(l, c, &len);
		int rc = load_send(l, c, raw ? (const void *)"!" : hb, len);

		free(hb);
		if (rc)
			goto sock;
	}
	if (await_replies(l, err, errlen))
		return -1;
	*secs = (double)(util_now_ns() - t0) / 1e9;
	return 0;
sock:
	snprintf(err, errlen, "send: %s", zmq_strerror(zmq_errno()));
	return -1;
}

typedef struct ingest_plan {
	size_t conns, vpc, rounds, passes;
} ingest_plan;

/* One pass to each side, `passes` times, alternating; medians. */
static int ingest_passes(const ingest_plan *pl, load *raw, load *brk,
			 double *raw_s, double *brk_s, char *err,
			 size_t errlen)
{
	size_t n = pl->conns * pl->vpc * pl->rounds;

	for (size_t p = 0; p < pl->passes; p++) {
		frame *fr = ingest_frames(raw, pl->rounds, p * pl->rounds);
		frame *fb = ingest_frames(brk, pl->rounds, p * pl->rounds);
		int rc = -1;

		if (!fr || !fb || !fr[n - 1].buf || !fb[n - 1].buf)
			snprintf(err, errlen, "out of memory encoding frames");
		else if (!ingest_pass(raw, fr, n, 1, &raw_s[p], err, errlen) &&
			 !ingest_pass(brk, fb, n, 0, &brk_s[p], err, errlen))
			rc = 0;
		frames_free(fr, n);
		frames_free(fb, n);
		if (rc)
			return -1;
	}
	return 0;
}

static int bench_ingest(const opts *o, const char *self, bench_report *rep)
{
	ingest_plan pl = { 1000, 10, 20, 5 };
	proc sink = { 0 }, brk = { 0 };
	load *raw = NULL, *bl = NULL;
	double raw_s[8], brk_s[8];
	char err[512] = "";
	int rc = -1;

	if (o->smoke)
		pl = (ingest_plan){ 50, 10, 5, 1 };
	if (o->conns)
		pl.conns = o->conns;
	if (o->vpc)
		pl.vpc = o->vpc;
	char sep[256], bep[256];

	raw = bench_load(o, "sink", pl.conns, pl.vpc, err, sizeof(err));
	bl = raw ? bench_load(o, "ingest", pl.conns, pl.vpc, err, sizeof(err))
		 : NULL;
	if (!bl || sink_start(o, self, sep, sizeof(sep), &sink, err,
			      sizeof(err)) ||
	    broker_start(o, "ingest", bep, sizeof(bep), 600000, &brk, err,
			 sizeof(err)))
		goto out;
	if (load_connect(raw, sep, err, sizeof(err)))
		goto out;
	if (load_connect(bl, bep, err, sizeof(err)) ||
	    load_register(bl, 600000, err, sizeof(err)))
		goto out;
	if (ingest_passes(&pl, raw, bl, raw_s, brk_s, err, sizeof(err)))
		goto out;
	double msgs = (double)(pl.conns * pl.vpc * pl.rounds);
	double r = msgs / bench_median(raw_s, pl.passes);
	double b = msgs / bench_median(brk_s, pl.passes);
	char name[BENCH_NAME_MAX];

	case_name(o, name, sizeof(name), "ingest", pl.conns, pl.vpc);
	bench_row *row = bench_report_row(rep, name);
	bench_row_fig(row, "conns", (double)pl.conns, 0);
	bench_row_fig(row, "msgs", msgs, 0);
	bench_row_fig(row, "passes", (double)pl.passes, 0);
	bench_row_fig(row, "raw_msgs_per_s", r, 0);
	bench_row_fig(row, "broker_msgs_per_s", b, 0);
	bench_row_fig(row, "ratio", b / r, 3);
	bench_row_fig(row, "target_ratio", 1.0 / 3, 3);
	bench_row_fig(row, "met", b / r >= 1.0 / 3, 0);
	rc = 0;
out:
	if (rc)
		fprintf(stderr, "bench_broker: ingest: %s\n", err);
	load_close(raw);
	load_close(bl);
	proc_stop(&sink);
	if (proc_stop(&brk) != 0 && rc == 0) {
		fprintf(stderr, "bench_broker: ingest: the broker did not stop "
			"cleanly (%s)\n", brk.log);
		rc = -1;
	}
	return rc;
}

/* ------------------------------------------------------------------ */
/* memory and end to end: agents that bid every second               */
/* ------------------------------------------------------------------ */

/* Every connection sends its host's Ask (and its VMs' bids, with_vms) once per
 * period_ms, connection c at offset c/n of the period (agents are not in
 * step), for duration_ms; reading what comes back meanwhile. Returns the
 * messages sent, or -1. */
static int64_t bid_for(load *l, int64_t duration_ms, int64_t period_ms,
		       int with_vms, uint64_t *k, char *err, size_t errlen)
{
	size_t n = load_conns(l), next = 0;
	size_t v = with_vms ? load_vms_per_conn(l) : 0;
	int64_t t0 = util_now_ns() / 1000000, sent = 0;
	uint64_t cycle = 0;

	for (;;) {
		int64_t now = util_now_ns() / 1000000 - t0;
		int64_t due = (int64_t)cycle * period_ms +
			      (int64_t)next * period_ms / (int64_t)n;

		if (due >= duration_ms)
			return sent;
		if (now < due) {
			if (load_poll(l, due - now, err, errlen))
				return -1;
			continue;
		}
		size_t len;
		uint8_t *buf = load_ask(l, next, &len);

		if (!buf || load_send(l, next, buf, len))
			goto fail;
		free(buf);
		for (size_t j = 0; j < v; j++) {
			int64_t d = load_demand(next, j, *k + cycle);
			int64_t a = load_assigned(next, j, *k + cycle);

			buf = load_bid(l, next, j, d, a, &len);
			if (!buf || load_send(l, next, buf, len))
				goto fail;
			free(buf);
		}
		sent += 1 + (int64_t)v;
		if (++next == n) {
			next = 0;
			cycle++;
			if (load_poll(l, 0, err, errlen))
				return -1;
		}
	}
fail:
	snprintf(err, errlen, "send: %s", zmq_strerror(zmq_errno()));
	return -1;
}

/* The broker's default round period: at 100,000 VMs a round's store
 * transaction takes longer than a second on a small machine. */
#define MEM_ROUND_MS 5000

/* Resident memory of the broker at each step: started; with every host
 * connection registered; with every VM registered; after rounds with
 * every VM bidding once a second. */
typedef struct mem_steps {
	long empty, conns, registered, bidding, peak; /* KiB */
	double register_s;
} mem_steps;

static int memory_steps(load *l, pid_t pid, mem_steps *m, char *err,
			size_t errlen)
{
	uint64_t k = 0;

	m->empty = proc_status_kib(pid, "VmRSS");
	if (load_register_hosts(l, 600000, err, errlen) ||
	    bid_for(l, 2000, 1000, 0, &k, err, errlen) < 0)
		return -1;
	m->conns = proc_status_kib(pid, "VmRSS");
	int64_t t0 = util_now_ns();

	if (load_register_vms(l, 600000, err, errlen))
		return -1;
	m->register_s = (double)(util_now_ns() - t0) / 1e9;
	m->registered = proc_status_kib(pid, "VmRSS");
	/* long enough for every host to settle (round.c: up to 2 rounds)
	 * and for two rounds to run with every VM in them */
	if (bid_for(l, 3 * MEM_ROUND_MS + 2000, 1000, 1, &k, err, errlen) < 0)
		return -1;
	m->bidding = proc_status_kib(pid, "VmRSS");
	m->peak = proc_status_kib(pid, "VmHWM");
	return 0;
}

static void memory_row(bench_report *rep, const char *name, size_t conns,
		       size_t nv, const mem_steps *m)
{
	bench_row *row = bench_report_row(rep, name);
	double per_vm = (double)(m->bidding - m->conns) * 1024.0 / (double)nv;

	bench_row_fig(row, "vms", (double)nv, 0);
	bench_row_fig(row, "conns", (double)conns, 0);
	bench_row_fig(row, "register_s", m->register_s, 2);
	bench_row_fig(row, "rss_empty_kib", (double)m->empty, 0);
	bench_row_fig(row, "rss_conns_kib", (double)m->conns, 0);
	bench_row_fig(row, "rss_registered_kib", (double)m->registered, 0);
	bench_row_fig(row, "rss_kib", (double)m->bidding, 0);
	bench_row_fig(row, "hwm_kib", (double)m->peak, 0);
	bench_row_fig(row, "bytes_per_conn",
		      (double)(m->conns - m->empty) * 1024.0 / (double)conns, 0);
	bench_row_fig(row, "bytes_per_vm", per_vm, 0);
	bench_row_fig(row, "target_bytes", 2048, 0);
	bench_row_fig(row, "met", per_vm <= 2048, 0);
}

static int bench_memory_case(const opts *o, size_t conns, size_t vpc,
			     bench_report *rep)
{
	proc brk = { 0 };
	load *l = NULL;
	mem_steps m = { 0 };
	char err[512] = "", ep[256], name[BENCH_NAME_MAX];
	int rc = -1;

	char db[BENCH_NAME_MAX];

	case_name(o, name, sizeof(name), "memory", conns, vpc);
	snprintf(db, sizeof(db), "memory-%zux%zu", conns, vpc);
	l = bench_load(o, db, conns, vpc, err, sizeof(err));
	if (!l || broker_start(o, db, ep, sizeof(ep), MEM_ROUND_MS, &brk, err,
			       sizeof(err)))
		goto out;
	sleep_ms(200);
	if (load_connect(l, ep, err, sizeof(err)) ||
	    memory_steps(l, brk.pid, &m, err, sizeof(err)))
		goto out;
	memory_row(rep, name, conns, conns * vpc, &m);
	rc = 0;
out:
	if (rc)
		fprintf(stderr, "bench_broker: %s: %s\n", name, err);
	load_close(l);
	if (proc_stop(&brk) != 0 && rc == 0) {
		fprintf(stderr, "bench_broker: %s: the broker did not stop "
			"cleanly (%s)\n", name, brk.log);
		rc = -1;
	}
	return rc;
}

/* Bytes per VM between the two sizes on the same connections: what one
 * more VM costs, without the fixed part (SQLite's page cache, libzmq's
 * threads, the round's per-host work) that a small cluster spreads over
 * few VMs. */
static void memory_marginal(bench_report *rep)
{
	const bench_row *a = &rep->rows[rep->n_rows - 2];
	const bench_row *b = &rep->rows[rep->n_rows - 1];
	/* memory_row(): figs[0] vms, [4] rss_conns_kib, [6] rss_kib */
	double dv = b->figs[0].value - a->figs[0].value;
	double da = a->figs[6].value - a->figs[4].value;
	double db = b->figs[6].value - b->figs[4].value;
	double per = (db - da) * 1024.0 / dv;
	bench_row *row = bench_report_row(rep, "memory marginal");

	bench_row_fig(row, "from_vms", a->figs[0].value, 0);
	bench_row_fig(row, "to_vms", b->figs[0].value, 0);
	bench_row_fig(row, "bytes_per_vm", per, 0);
	bench_row_fig(row, "fixed_kib", da - a->figs[0].value * per / 1024.0, 0);
	bench_row_fig(row, "target_bytes", 2048, 0);
	bench_row_fig(row, "met", per <= 2048, 0);
}

static int bench_memory(const opts *o, bench_report *rep)
{
	if (o->conns || o->vpc)
		return bench_memory_case(o, o->conns ? o->conns : 1000,
					 o->vpc ? o->vpc : 10, rep);
	if (o->smoke)
		return bench_memory_case(o, 20, 10, rep);
	if (bench_memory_case(o, 1000, 10, rep) ||
	    bench_memory_case(o, 1000, 100, rep))
		return -1;
	memory_marginal(rep);
	return 0;
}

/* A round as the broker logged it. */
typedef struct round_line {
	long n_vms, settling;
	double total, market, store, awards;
} round_line;

static int parse_round(const char *line, round_line *r)
{
	const char *p = strstr(line, "broker: round ");

	if (!p || !(p = strstr(p, " hosts (")))
		return 0;
	if (sscanf(p, " hosts (%ld settling), %ld VMs", &r->settling,
		   &r->n_vms) != 2)
		return 0;
	p = strstr(p, "signals, ");
	return p && sscanf(p, "signals, %lf ms (market %lf, store %lf, awards "
			   "%lf)", &r->total, &r->market, &r->store,
			   &r->awards) == 4;
}

typedef struct round_stats {
	size_t n, partial, over;
	double total[4096], market[4096], store[4096], awards[4096];
} round_stats;

/* Rounds with every VM in them; the others (hosts still settling) are
 * counted in `partial`. */
static int read_rounds(const char *log, long n_vms, double limit_ms,
		       round_stats *st)
{
	FILE *f = fopen(log, "r");
	char line[1024];

	if (!f)
		return -1;
	memset(st, 0, sizeof(*st));
	while (fgets(line, sizeof(line), f) && st->n < 4096) {
		round_line r;

		if (!parse_round(line, &r))
			continue;
		if (r.n_vms != n_vms || r.settling != 0) {
			st->partial++;
			continue;
		}
		st->over += r.total > limit_ms;
		st->total[st->n] = r.total;
		st->market[st->n] = r.market;
		st->store[st->n] = r.store;
		st->awards[st->n] = r.awards;
		st->n++;
	}
	fclose(f);
	return 0;
}

static void e2e_row(bench_report *rep, const char *name, size_t nv,
		    double msgs_per_s, round_stats *st)
{
	bench_row *row = bench_report_row(rep, name);
	double worst = bench_max(st->total, st->n);

	bench_row_fig(row, "vms", (double)nv, 0);
	bench_row_fig(row, "msgs_per_s", msgs_per_s, 0);
	bench_row_fig(row, "rounds", (double)st->n, 0);
	bench_row_fig(row, "partial", (double)st->partial, 0);
	bench_row_fig(row, "worst_ms", worst, 1);
	bench_row_fig(row, "median_ms", bench_median(st->total, st->n), 1);
	bench_row_fig(row, "market_ms", bench_median(st->market, st->n), 1);
	bench_row_fig(row, "store_ms", bench_median(st->store, st->n), 1);
	bench_row_fig(row, "awards_ms", bench_median(st->awards, st->n), 1);
	bench_row_fig(row, "over_250", (double)st->over, 0);
	bench_row_fig(row, "met", st->n > 0 && st->over == 0, 0);
}

static int bench_e2e(const opts *o, bench_report *rep)
{
	size_t conns = o->conns ? o->conns : o->smoke ? 50 : 1000;
	size_t vpc = o->vpc ? o->vpc : 10;
	int64_t secs = o->smoke ? 4 : o->seconds;
	proc brk = { 0 };
	load *l = NULL;
	char err[512] = "", ep[256], name[BENCH_NAME_MAX];
	round_stats *st = calloc(1, sizeof(*st));
	uint64_t k = 0;
	int rc = -1;

	case_name(o, name, sizeof(name), "e2e", conns, vpc);
	l = st ? bench_load(o, "e2e", conns, vpc, err, sizeof(err)) : NULL;
	if (!l || broker_start(o, "e2e", ep, sizeof(ep), 1000, &brk, err,
			       sizeof(err)))
		goto out;
	if (load_connect(l, ep, err, sizeof(err)) ||
	    load_register(l, 600000, err, sizeof(err)))
		goto out;
	int64_t sent = bid_for(l, secs * 1000, 1000, 1, &k, err, sizeof(err));

	if (sent < 0)
		goto out;
	load_close(l);
	l = NULL;
	if (proc_stop(&brk) != 0) {
		snprintf(err, sizeof(err), "the broker did not stop cleanly "
			 "(%.300s)", brk.log);
		goto out;
	}
	if (read_rounds(brk.log, (long)(conns * vpc), 250, st)) {
		snprintf(err, sizeof(err), "cannot read %.300s", brk.log);
		goto out;
	}
	e2e_row(rep, name, conns * vpc, (double)sent / (double)secs, st);
	rc = 0;
out:
	if (rc)
		fprintf(stderr, "bench_broker: %s: %s\n", name, err);
	load_close(l);
	proc_stop(&brk);
	free(st);
	return rc;
}

/* ------------------------------------------------------------------ */
/* main                                                               */
/* ------------------------------------------------------------------ */

/* v, a whole number in [min, max], into *out (strictly: cli_parse_i64);
 * 0, or -1 when v is missing or is not one. */
static int arg_num(const char *v, int64_t min, int64_t max, int64_t *out)
{
	return v ? cli_parse_i64(v, min, max, out, NULL, 0) : -1;
}

static int parse(int argc, char **argv, opts *o)
{
	int64_t n;

	memset(o, 0, sizeof(*o));
	o->seconds = 30;
	o->bin = getenv("BOURSE_BENCH_BIN") ? getenv("BOURSE_BENCH_BIN")
					    : BOURSE_BIN;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--smoke")) {
			o->smoke = 1;
		} else if (!strcmp(a, "--only") && v &&
			   (!strcmp(v, "ingest") || !strcmp(v, "memory") ||
			    !strcmp(v, "e2e"))) {
			o->only = argv[++i];
		} else if (!strcmp(a, "--seconds") && !arg_num(v, 3, 3600, &n)) {
			o->seconds = (int)n;
			i++;
		} else if (!strcmp(a, "--conns") && !arg_num(v, 1, 5000, &n)) {
			o->conns = (size_t)n;
			i++;
		} else if (!strcmp(a, "--vms") && !arg_num(v, 1, 1000, &n)) {
			o->vpc = (size_t)n;
			i++;
		} else if (!strcmp(a, "--keep")) {
			o->keep = 1;
		} else if (!strcmp(a, "--curve")) {
			o->curve = 1;
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			printf("%s", usage);
			return 1;
		} else {
			fprintf(stderr, "bench_broker: bad argument '%s'%s (try "
				"--help)\n", a, v && a[0] == '-' && a[1] == '-'
				&& strcmp(a, "--smoke") ? " or its value" : "");
			return -1;
		}
	}
	return 0;
}

static int wanted(const opts *o, const char *what)
{
	return !o->only || !strcmp(o->only, what);
}

/* Removes the temporary directory: only files this program made in it. */
static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[PATH_MAX + 300];

	while (d && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

int main(int argc, char **argv)
{
	bench_report rep;
	opts o;
	int rc, bad = 0;

	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "--sink"))
		return sink_main(argv[2], argc == 4 ? argv[3] : NULL);
	rc = parse(argc, argv, &o);
	if (rc)
		return rc > 0 ? 0 : 2;
	signal(SIGPIPE, SIG_IGN);
	snprintf(o.dir, sizeof(o.dir), "%s/bourse-bench-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(o.dir)) {
		fprintf(stderr, "bench_broker: mkdtemp %s: %s\n", o.dir,
			strerror(errno));
		return 1;
	}
	if (o.curve) {
		char kerr[512];

		if (keys_generate(&o.broker_kp, kerr, sizeof(kerr)) ||
		    keys_write(o.dir, "broker", &o.broker_kp, kerr,
			       sizeof(kerr))) {
			fprintf(stderr, "bench_broker: %s\n", kerr);
			return 1;
		}
	}
	bench_report_init(&rep, "broker");
	if (wanted(&o, "ingest"))
		bad |= bench_ingest(&o, "/proc/self/exe", &rep);
	if (wanted(&o, "memory"))
		bad |= bench_memory(&o, &rep);
	if (wanted(&o, "e2e"))
		bad |= bench_e2e(&o, &rep);
	bench_report_print(&rep);
	if (bad || o.keep)
		fprintf(stderr, "bench_broker: logs kept in %s\n", o.dir);
	else
		remove_dir(o.dir);
	return bad ? 1 : 0;
}
