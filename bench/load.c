/*
 * load.c - many agents' connections in one process (load.h).
 */
#include "load.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <zmq.h>

#include "keys.h"
#include "wire.h"
#include "util.h"
#include "banned.h"

/* Memory a host of the load sells per VM it carries, MiB: hosts of 10 VMs
 * have 260 GiB, so the demand pattern below loads them 40-110 %. */
#define LOAD_MIB_PER_VM (26 * 1024)

struct load {
	void *ctx;
	size_t n, vpc;            /* connections, VMs per connection */
	void **socks;
	zmq_pollitem_t *items;
	uint64_t *host_seq;       /* per connection */
	uint64_t *vm_seq;         /* per VM: conn * vpc + vm */
	uint64_t *replies;        /* per connection */
	uint64_t welcomes, errors, awards;
	int curve;                /* CURVE: server_pub and a pair per conn */
	char server_pub[KEYS_Z85_LEN + 1];
	keys_pair *keys;          /* per connection */
};

/* Two descriptors per DEALER (its TCP connection and its mailbox) plus
 * libzmq's own: ask for the hard limit when the soft one is short. */
static int raise_fd_limit(size_t n_conns, char *err, size_t errlen)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)(2 * n_conns + 64);

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return 0;
	if (rl.rlim_cur >= need)
		return 0;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
		snprintf(err, errlen, "%zu connections need %lu open files; the "
			 "hard limit is %lu (ulimit -Hn)", n_conns,
			 (unsigned long)need, (unsigned long)rl.rlim_max);
		return -1;
	}
	rl.rlim_cur = need;
	return setrlimit(RLIMIT_NOFILE, &rl) ? -1 : 0;
}

static int curve_client(load *l, void *s, size_t i)
{
	return zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, l->server_pub,
			      KEYS_Z85_LEN) ||
	       zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, l->keys[i].pub,
			      KEYS_Z85_LEN) ||
	       zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, l->keys[i].sec,
			      KEYS_Z85_LEN);
}

int load_connect(load *l, const char *endpoint, char *err, size_t errlen)
{
	int hwm = 0, zero = 0; /* unbounded queues: the load never drops */

	for (size_t i = 0; i < l->n; i++) {
		void *s = zmq_socket(l->ctx, ZMQ_DEALER);

		if (!s) {
			snprintf(err, errlen, "socket %zu: %s", i,
				 zmq_strerror(zmq_errno()));
			return -1;
		}
		l->socks[i] = s;
		zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm));
		zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm));
		zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
		if ((l->curve && curve_client(l, s, i)) ||
		    zmq_connect(s, endpoint)) {
			snprintf(err, errlen, "connect %s: %s", endpoint,
				 zmq_strerror(zmq_errno()));
			return -1;
		}
		l->items[i].socket = s;
		l->items[i].events = ZMQ_POLLIN;
	}
	return 0;
}

/* A key pair per connection, for the broker's allow-list. */
static int make_keys(load *l, const char *server_pub, char *err,
		     size_t errlen)
{
	l->keys = calloc(l->n, sizeof(*l->keys));
	if (!l->keys) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(l->server_pub, sizeof(l->server_pub), "%s", server_pub);
	l->curve = 1;
	for (size_t i = 0; i < l->n; i++)
		if (keys_generate(&l->keys[i], err, errlen))
			return -1;
	return 0;
}

load *load_new(size_t n_conns, size_t vms_per_conn, const char *server_pub,
	       char *err, size_t errlen)
{
	load *l = calloc(1, sizeof(*l));

	if (!l || raise_fd_limit(n_conns, err, errlen))
		goto fail;
	l->n = n_conns;
	l->vpc = vms_per_conn;
	l->socks = calloc(n_conns, sizeof(*l->socks));
	l->items = calloc(n_conns, sizeof(*l->items));
	l->host_seq = calloc(n_conns, sizeof(*l->host_seq));
	l->vm_seq = calloc(n_conns * vms_per_conn + 1, sizeof(*l->vm_seq));
	l->replies = calloc(n_conns, sizeof(*l->replies));
	l->ctx = zmq_ctx_new();
	if (!l->socks || !l->items || !l->host_seq || !l->vm_seq ||
	    !l->replies || !l->ctx) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	zmq_ctx_set(l->ctx, ZMQ_MAX_SOCKETS, (int)n_conns + 16);
	if (server_pub && make_keys(l, server_pub, err, errlen))
		goto fail;
	return l;
fail:
	load_close(l);
	return NULL;
}

load *load_open(const char *endpoint, size_t n_conns, size_t vms_per_conn,
		char *err, size_t errlen)
{
	load *l = load_new(n_conns, vms_per_conn, NULL, err, errlen);

	if (l && load_connect(l, endpoint, err, errlen)) {
		load_close(l);
		return NULL;
	}
	return l;
}

int load_write_allow(const load *l, const char *path, char *err,
		     size_t errlen)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		snprintf(err, errlen, "%s: cannot write", path);
		return -1;
	}
	for (size_t i = 0; i < l->n; i++)
		fprintf(f, "h%05zu %s\n", i, l->keys[i].pub);
	if (fclose(f)) {
		snprintf(err, errlen, "%s: cannot write", path);
		return -1;
	}
	return 0;
}

void load_close(load *l)
{
	if (!l)
		return;
	for (size_t i = 0; l->socks && i < l->n; i++)
		if (l->socks[i])
			zmq_close(l->socks[i]);
	if (l->ctx)
		zmq_ctx_term(l->ctx);
	free(l->socks);
	free(l->items);
	free(l->host_seq);
	free(l->vm_seq);
	free(l->replies);
	free(l->keys);
	free(l);
}

size_t load_conns(const load *l)
{
	return l->n;
}

size_t load_vms_per_conn(const load *l)
{
	return l->vpc;
}

static void host_name(size_t conn, char *out, size_t len)
{
	snprintf(out, len, "h%05zu", conn);
}

static void vm_name(size_t conn, size_t vm, char *out, size_t len)
{
	snprintf(out, len, "h%05zu-v%03zu", conn, vm);
}

/* Names the sender of m (started by wire_msg_init() with its role and
 * body) and numbers it, then encodes it. */
static uint8_t *encode_host(load *l, size_t conn, wire_msg *m, size_t *len)
{
	char name[64];

	host_name(conn, name, sizeof(name));
	m->sender = name;
	m->seq = ++l->host_seq[conn];
	return wire_msg_encode(m, len);
}

static uint8_t *encode_vm(load *l, size_t conn, size_t vm, wire_msg *m,
			  size_t *len)
{
	char name[64];

	vm_name(conn, vm, name, sizeof(name));
	m->sender = name;
	m->seq = ++l->vm_seq[conn * l->vpc + vm];
	return wire_msg_encode(m, len);
}

int64_t load_demand(size_t conn, size_t vm, uint64_t k)
{
	/* a host's load level (0.4 .. 1.1 of what it sells), a VM's share,
	 * and a slow wave per VM so that the market sees change */
	uint64_t h = (uint64_t)conn * 2654435761u;
	double level = 0.4 + (double)(h % 71) / 100.0;
	double share = 0.5 + (double)(((uint64_t)vm * 40503u + h) % 101) / 100.0;
	double wave = 1.0 + 0.15 * (double)((k + vm + conn) % 8) / 8.0;

	return (int64_t)(LOAD_MIB_PER_VM * level * share * wave);
}

/* Hyper-V settings of VM j (reg_vm() registers them). */
static uint32_t vm_buffer_pct(size_t vm)
{
	return 10 + (uint32_t)(vm % 3) * 10;
}

static int64_t vm_minimum(size_t vm)
{
	return 1024 + 512 * (int64_t)(vm % 4);
}

int64_t load_assigned(size_t conn, size_t vm, uint64_t k)
{
	int64_t d = load_demand(conn, vm, k ? k - 1 : 0);
	int64_t a = d * (100 + (int64_t)vm_buffer_pct(vm)) / 100;

	if (a < vm_minimum(vm))
		a = vm_minimum(vm);
	return a > 2 * LOAD_MIB_PER_VM ? 2 * LOAD_MIB_PER_VM : a;
}

uint8_t *load_bid(load *l, size_t conn, size_t vm, int64_t demand,
		  int64_t assigned, size_t *len)
{
	wire_msg m;

	wire_msg_init(&m, WIRE_ROLE_VM, NULL, 0, WIRE_BODY_BID);
	m.bid.demand_mib = demand;
	m.bid.assigned_mib = assigned;
	m.bid.pressure = assigned > 0 ?
		100.0 * (double)demand / (double)assigned : 0;
	return encode_vm(l, conn, vm, &m, len);
}

uint8_t *load_ask(load *l, size_t conn, size_t *len)
{
	wire_msg m;

	wire_msg_init(&m, WIRE_ROLE_HOST, NULL, 0, WIRE_BODY_ASK);
	m.ask.capacity_mib = (int64_t)(LOAD_MIB_PER_VM * l->vpc);
	m.ask.free_mib = m.ask.capacity_mib / 4;
	return encode_host(l, conn, &m, len);
}

uint8_t *load_heartbeat(load *l, size_t conn, size_t *len)
{
	wire_msg m;

	wire_msg_init(&m, WIRE_ROLE_HOST, NULL, 0, WIRE_BODY_HEARTBEAT);
	return encode_host(l, conn, &m, len);
}

static uint8_t *reg_host(load *l, size_t conn, size_t *len)
{
	wire_msg m;

	wire_msg_init(&m, WIRE_ROLE_HOST, NULL, 0, WIRE_BODY_REGISTER);
	m.reg.has_host = 1;
	m.reg.host.capacity_mib = (int64_t)(LOAD_MIB_PER_VM * l->vpc) + 4096;
	m.reg.host.reserve_mib = 4096;
	m.reg.host.uri = "test:///default";
	return encode_host(l, conn, &m, len);
}

static uint8_t *reg_vm(load *l, size_t conn, size_t vm, size_t *len)
{
	wire_msg m;
	char host[64];

	host_name(conn, host, sizeof(host));
	wire_msg_init(&m, WIRE_ROLE_VM, NULL, 0, WIRE_BODY_REGISTER);
	m.reg.has_vm = 1;
	m.reg.vm.host = host;
	m.reg.vm.startup_mib = 4096;
	m.reg.vm.minimum_mib = vm_minimum(vm);
	m.reg.vm.maximum_mib = 2 * LOAD_MIB_PER_VM;
	m.reg.vm.buffer_pct = vm_buffer_pct(vm);
	m.reg.vm.weight = 5000;
	m.reg.vm.reservation_mib = vm % 5 == 0 ? 2048 : 0;
	m.reg.vm.shares = 1000;
	return encode_vm(l, conn, vm, &m, len);
}

/* Sends and frees buf. */
static int send_owned(load *l, size_t conn, uint8_t *buf, size_t len)
{
	int rc = buf ? load_send(l, conn, buf, len) : -1;

	free(buf);
	return rc;
}

int load_send(load *l, size_t conn, const void *buf, size_t len)
{
	char err[200];

	for (;;) {
		if (zmq_send(l->socks[conn], buf, len, ZMQ_DONTWAIT) >= 0)
			return 0;
		if (zmq_errno() != EAGAIN)
			return -1;
		if (load_poll(l, 1, err, sizeof(err)))
			return -1;
	}
}

/* One frame from the broker (or the raw sink) on connection conn. */
static int on_frame(load *l, size_t conn, zmq_msg_t *m, char *err,
		    size_t errlen)
{
	wire_msg e;
	char why[200];

	if (zmq_msg_size(m) == 1) {
		l->replies[conn]++;
		return 0;
	}
	if (wire_msg_decode(zmq_msg_data(m), zmq_msg_size(m), &e, NULL, why,
			    sizeof(why)) != WIRE_OK) {
		snprintf(err, errlen, "undecodable frame from the broker: %s",
			 why);
		return -1;
	}
	int rc = 0;

	switch (e.body) {
	case WIRE_BODY_WELCOME:
		l->welcomes++;
		break;
	case WIRE_BODY_HEARTBEAT:
		l->replies[conn]++;
		break;
	case WIRE_BODY_AWARD:
		l->awards++;
		break;
	case WIRE_BODY_ERROR:
		l->errors++;
		snprintf(err, errlen, "broker refused %s seq %llu: %s",
			 e.error.ref_sender,
			 (unsigned long long)e.error.ref_seq,
			 e.error.message);
		rc = -1;
		break;
	default:
		break;
	}
	wire_msg_release(&e);
	return rc;
}

static int drain(load *l, size_t conn, char *err, size_t errlen)
{
	for (;;) {
		zmq_msg_t m;
		int rc;

		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, l->socks[conn], ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&m);
			return zmq_errno() == EAGAIN ? 0 : -1;
		}
		rc = on_frame(l, conn, &m, err, errlen);
		zmq_msg_close(&m);
		if (rc)
			return rc;
	}
}

int load_poll(load *l, int64_t wait_ms, char *err, size_t errlen)
{
	int n = zmq_poll(l->items, (int)l->n, (long)wait_ms);

	if (n < 0)
		return zmq_errno() == EINTR ? 0 : -1;
	for (size_t i = 0; n > 0 && i < l->n; i++)
		if ((l->items[i].revents & ZMQ_POLLIN) &&
		    drain(l, i, err, errlen))
			return -1;
	return 0;
}

/* Waits until `want` Welcomes have come, up to the deadline. */
static int await_welcomes(load *l, uint64_t want, int64_t deadline,
			  int64_t timeout_ms, char *err, size_t errlen)
{
	while (l->welcomes < want) {
		if (util_now_ms() > deadline) {
			snprintf(err, errlen, "%llu of %llu welcomed after %lld "
				 "ms", (unsigned long long)l->welcomes,
				 (unsigned long long)want, (long long)timeout_ms);
			return -1;
		}
		if (load_poll(l, 100, err, errlen))
			return -1;
	}
	return 0;
}

int load_register_hosts(load *l, int64_t timeout_ms, char *err,
			size_t errlen)
{
	int64_t deadline = util_now_ms() + timeout_ms;
	size_t len;

	l->welcomes = 0;
	for (size_t i = 0; i < l->n; i++) {
		uint8_t *buf = reg_host(l, i, &len);

		if (send_owned(l, i, buf, len))
			goto sock;
	}
	return await_welcomes(l, l->n, deadline, timeout_ms, err, errlen);
sock:
	snprintf(err, errlen, "send: %s", zmq_strerror(zmq_errno()));
	return -1;
}

int load_register_vms(load *l, int64_t timeout_ms, char *err, size_t errlen)
{
	int64_t deadline = util_now_ms() + timeout_ms;
	size_t len;

	l->welcomes = 0;
	for (size_t i = 0; i < l->n; i++) {
		for (size_t j = 0; j < l->vpc; j++) {
			uint8_t *buf = reg_vm(l, i, j, &len);

			if (send_owned(l, i, buf, len))
				goto sock;
		}
		if (load_poll(l, 0, err, errlen))
			return -1;
	}
	return await_welcomes(l, (uint64_t)l->n * l->vpc, deadline,
			      timeout_ms, err, errlen);
sock:
	snprintf(err, errlen, "send: %s", zmq_strerror(zmq_errno()));
	return -1;
}

int load_register(load *l, int64_t timeout_ms, char *err, size_t errlen)
{
	if (load_register_hosts(l, timeout_ms, err, errlen))
		return -1;
	return load_register_vms(l, timeout_ms, err, errlen);
}

uint64_t load_replies(const load *l, size_t conn)
{
	return l->replies[conn];
}

void load_reset_replies(load *l)
{
	memset(l->replies, 0, l->n * sizeof(*l->replies));
}

uint64_t load_errors(const load *l)
{
	return l->errors;
}

uint64_t load_awards(const load *l)
{
	return l->awards;
}
