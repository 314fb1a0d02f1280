/*
 * agent.h - the agent loop: a host's seller and its VMs' buyers over one
 * ZeroMQ connection to the broker. The whole public API of agents/ besides
 * the sources (source.h).
 *
 * One DEALER socket carries every identity of the process: the host (role
 * HOST, if run_seller) and each VM (role VM), including the VMs the source
 * finds after the start (source.h: started, or arrived by live migration),
 * which register as they appear. Every envelope names its sender,
 * with a sequence number per sender. docs/protocol.md gives the conversation:
 * Register -> Welcome per identity, then every interval an Ask for the host
 * and a Bid per live VM, a Heartbeat every heartbeat_ms; Awards come back
 * after each round.
 *
 * When nothing is heard from the broker for liveness * heartbeat_ms, the
 * agent drops the socket, reconnects with exponential backoff
 * (backoff_min_ms doubling up to backoff_max_ms) and registers every
 * identity again. When the broker answers UNKNOWN_SENDER (as a restarted
 * broker does), the identity it names registers again on the same socket;
 * if that is the host, every identity does, the host first.
 *
 * Ownership: agent_run() borrows the config and the source; the caller closes
 * the source afterwards.
 */
#ifndef BOURSE_AGENT_H
#define BOURSE_AGENT_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "actuator.h"
#include "source.h"

typedef struct agent_config {
	const char *broker;   /* ZeroMQ endpoint (WIRE_DEFAULT_ENDPOINT) */
	const char *host;     /* the host's name (also the VMs' host) */
	const char *uri;      /* the host's hypervisor URI, may be "" */
	int run_seller;       /* 1: register the host and send asks */
	int run_buyers;       /* 1: register the source's VMs and send bids */
	int64_t interval_ms;  /* bid period; 0: the broker's round period */
	int64_t backoff_min_ms, backoff_max_ms;
	int64_t max_runtime_ms; /* 0: until stopped */
	int verbose;          /* 1: log every award */
	const char *key_file; /* CURVE: this agent's key pair (NAME.key) */
	const char *broker_key_file; /* CURVE: the broker's public key file;
	                      * both or neither; required for tcp:// */
	int insecure;         /* 1: tcp:// without CURVE */
	actuator *act;        /* carries out ActionRequests on a thread of its
	                       * own (borrowed); NULL: every action is answered
	                       * unsupported */
} agent_config;

/* Defaults: interval from the broker, backoff 100 ms .. 5000 ms. */
void agent_config_default(agent_config *c);

/* Run until *stop becomes non-zero (set it from a signal handler) or
 * max_runtime_ms passes. Returns 0 on a clean stop, or -1 with a message
 * (e.g. the broker speaks another protocol version: that is fatal). */
int agent_run(const agent_config *c, source *src,
	      volatile sig_atomic_t *stop, char *err, size_t errlen);

#endif
