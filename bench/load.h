/*
 * load.h - the load process of the broker benchmarks: many host agents'
 * connections held by one process, speaking bourse's real protocol
 * (proto/wire.h) over real ZeroMQ DEALER sockets.
 *
 * Connection i speaks for host "h<i>" and its VMs "h<i>-v<j>", like one
 * `bourse agent` each: the host registers first, then its VMs, and every
 * identity numbers its messages from 1 (the broker refuses an old seq).
 *
 * Ownership: load_open() returns a load the caller frees with load_close();
 * frames from load_bid()/load_ask()/load_heartbeat() are malloc'd and freed
 * by the caller (free()).
 */
#ifndef BOURSE_BENCH_LOAD_H
#define BOURSE_BENCH_LOAD_H

#include <stddef.h>
#include <stdint.h>

typedef struct load load;

/* n_conns DEALER sockets connected to endpoint, each for one host with
 * vms_per_conn VMs. Raises the process's open-file limit and libzmq's
 * socket limit as needed. NULL with a message in err on failure. */
load *load_open(const char *endpoint, size_t n_conns, size_t vms_per_conn,
		char *err, size_t errlen);
void load_close(load *l);

/* The same in two steps: the load (with server_pub, a CURVE key pair per
 * connection, for a broker with that public key; NULL: no CURVE), then its
 * connections. load_write_allow() writes the broker's allow-list for the
 * load's keys ("h<i> KEY" a line). */
load *load_new(size_t n_conns, size_t vms_per_conn, const char *server_pub,
	       char *err, size_t errlen);
int load_connect(load *l, const char *endpoint, char *err, size_t errlen);
int load_write_allow(const load *l, const char *path, char *err,
		     size_t errlen);

size_t load_conns(const load *l);
size_t load_vms_per_conn(const load *l);

/* Registers every host and VM and waits (up to timeout_ms) for every
 * Welcome. Returns 0, or -1 with the broker's Error or the timeout in err. */
int load_register(load *l, int64_t timeout_ms, char *err, size_t errlen);

/* The same in two steps: the hosts (every connection), then their VMs. */
int load_register_hosts(load *l, int64_t timeout_ms, char *err,
			size_t errlen);
int load_register_vms(load *l, int64_t timeout_ms, char *err, size_t errlen);

/* Encoded frames of the next message of an identity (its seq advances).
 * NULL on encoding failure. demand/assigned in MiB. */
uint8_t *load_bid(load *l, size_t conn, size_t vm, int64_t demand,
		  int64_t assigned, size_t *len);
uint8_t *load_ask(load *l, size_t conn, size_t *len);
uint8_t *load_heartbeat(load *l, size_t conn, size_t *len);

/* Sends one frame on connection conn, waiting while its queue is full
 * (reading what arrives meanwhile). Returns 0, or -1 on a socket error. */
int load_send(load *l, size_t conn, const void *buf, size_t len);

/* Reads everything that has arrived, waiting up to wait_ms for the first.
 * Counts replies: Heartbeats (the broker answers each of a host's) and any
 * 1-byte frame (the raw sink's answer). Returns 0, or -1 if the broker sent
 * an Error (its message in err). */
int load_poll(load *l, int64_t wait_ms, char *err, size_t errlen);

/* Replies counted on conn since the last load_reset_replies(). */
uint64_t load_replies(const load *l, size_t conn);
void load_reset_replies(load *l);

/* Errors and Awards seen in total. */
uint64_t load_errors(const load *l);
uint64_t load_awards(const load *l);

/* Demand of VM j of connection i in round k: a deterministic, varied
 * pattern (MiB), so that the market has work to do. */
int64_t load_demand(size_t conn, size_t vm, uint64_t k);

/* What it holds in round k: its want (demand plus buffer) of round k - 1,
 * as if its host had followed the market (the balloon driver tracking
 * the award), so that recommendations come from change and shortage,
 * not from every VM every round. */
int64_t load_assigned(size_t conn, size_t vm, uint64_t k);

#endif
