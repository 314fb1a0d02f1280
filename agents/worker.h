/*
 * worker.h - private to agents/: runs an actuator's actions on a thread of
 * their own, so that a migration that takes minutes does not stop the
 * agent's socket loop (its heartbeats, bids and awards).
 *
 * One worker thread, actions in the order submitted (the actuator is not
 * thread-safe, and one host's actions are few). The agent polls
 * worker_fd() with its socket; when it is readable, worker_take() hands
 * back finished actions.
 *
 * Ownership: worker_start() borrows the actuator until worker_stop();
 * worker_submit() copies the action's strings.
 */
#ifndef BOURSE_WORKER_H
#define BOURSE_WORKER_H

#include <stddef.h>

#include "actuator.h"
#include "wire.h"

/* Actions waiting or running at once; more are refused ("busy"). */
#define WORKER_QUEUE 64

typedef struct worker worker;

/* A finished action: its id and VM as submitted, and the outcome. */
typedef struct worker_done {
	char id[ACTUATOR_ID_MAX + 1];
	char vm[WIRE_MAX_NAME + 1];
	actuator_result r;
} worker_done;

/* Start the thread. Returns 0, or -1 with a message. */
int worker_start(actuator *act, worker **out, char *err, size_t errlen);

/* A file descriptor that is readable while finished actions wait. */
int worker_fd(const worker *w);

/* Queue an action. Returns 0, or -1 if WORKER_QUEUE actions wait already
 * or a string is too long (nothing queued). */
int worker_submit(worker *w, const actuator_action *x);

/* Take one finished action into *out: 1 if there was one, 0 if not. */
int worker_take(worker *w, worker_done *out);

/* Stop the thread once the running action ends; queued ones are dropped
 * (the broker times them out). NULL is fine. */
void worker_stop(worker *w);

#endif
