/*
 * worker.c - an actuator's actions on a thread of their own (worker.h).
 *
 * Two rings under one mutex: jobs (submitted, not started) and done
 * (finished, not taken). A condition variable wakes the thread for jobs; a
 * pipe wakes the agent's zmq_poll() for results (one byte per result, read
 * back by worker_take()).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>

#include "worker.h"
#include "banned.h"

struct job {
	char id[ACTUATOR_ID_MAX + 1];
	char vm[WIRE_MAX_NAME + 1];
	char to_uri[WIRE_MAX_URI + 1];
	actuator_kind kind;
	int64_t target_mib, timeout_ms, free_mib;
};

struct worker {
	actuator *act;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int pipe[2];
	int stopping;
	struct job jobs[WORKER_QUEUE];
	size_t job_head, n_jobs;
	worker_done done[WORKER_QUEUE];
	size_t done_head, n_done;
	int busy; /* an action is running */
};

static int copy(char *dst, size_t size, const char *src)
{
	size_t n = src ? strlen(src) : 0;

	if (n >= size)
		return -1;
	memcpy(dst, src ? src : "", n + 1);
	return 0;
}

static void run_job(worker *w, const struct job *j)
{
	actuator_action x = {
		.id = j->id, .kind = j->kind, .vm = j->vm,
		.target_mib = j->target_mib, .to_uri = j->to_uri,
		.timeout_ms = j->timeout_ms, .free_mib = j->free_mib,
	};
	worker_done d;
	char byte = 1;

	memset(&d, 0, sizeof(d));
	actuator_do(w->act, &x, &d.r);
	memcpy(d.id, j->id, sizeof(d.id));
	memcpy(d.vm, j->vm, sizeof(d.vm));
	pthread_mutex_lock(&w->mu);
	/* room is certain: jobs + running + done never exceed the queue */
	w->done[(w->done_head + w->n_done++) % WORKER_QUEUE] = d;
	w->busy = 0;
	pthread_mutex_unlock(&w->mu);
	while (write(w->pipe[1], &byte, 1) < 0 && errno == EINTR)
		;
}

static void *loop(void *arg)
{
	worker *w = arg;
	struct job j;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->stopping && w->n_jobs == 0)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->stopping)
			break;
		j = w->jobs[w->job_head];
		w->job_head = (w->job_head + 1) % WORKER_QUEUE;
		w->n_jobs--;
		w->busy = 1;
		pthread_mutex_unlock(&w->mu);
		run_job(w, &j);
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

int worker_start(actuator *act, worker **out, char *err, size_t errlen)
{
	worker *w = calloc(1, sizeof(*w));

	*out = NULL;
	if (!w) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	w->act = act;
	if (pipe(w->pipe) != 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		free(w);
		return -1;
	}
	fcntl(w->pipe[0], F_SETFL, O_NONBLOCK);
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	if (pthread_create(&w->thread, NULL, loop, w) != 0) {
		snprintf(err, errlen, "cannot start the actuator thread");
		close(w->pipe[0]);
		close(w->pipe[1]);
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cv);
		free(w);
		return -1;
	}
	*out = w;
	return 0;
}

int worker_fd(const worker *w)
{
	return w->pipe[0];
}

int worker_submit(worker *w, const actuator_action *x)
{
	struct job j;
	int rc = -1;

	memset(&j, 0, sizeof(j));
	if (copy(j.id, sizeof(j.id), x->id) || copy(j.vm, sizeof(j.vm), x->vm) ||
	    copy(j.to_uri, sizeof(j.to_uri), x->to_uri))
		return -1;
	j.kind = x->kind;
	j.target_mib = x->target_mib;
	j.timeout_ms = x->timeout_ms;
	j.free_mib = x->free_mib;
	pthread_mutex_lock(&w->mu);
	if (w->n_jobs + w->n_done + (size_t)w->busy < WORKER_QUEUE) {
		w->jobs[(w->job_head + w->n_jobs++) % WORKER_QUEUE] = j;
		pthread_cond_signal(&w->cv);
		rc = 0;
	}
	pthread_mutex_unlock(&w->mu);
	return rc;
}

int worker_take(worker *w, worker_done *out)
{
	char byte;
	int got = 0;

	pthread_mutex_lock(&w->mu);
	if (w->n_done) {
		*out = w->done[w->done_head];
		w->done_head = (w->done_head + 1) % WORKER_QUEUE;
		w->n_done--;
		got = 1;
	}
	pthread_mutex_unlock(&w->mu);
	if (got) /* one byte per result; the pipe is non-blocking */
		while (read(w->pipe[0], &byte, 1) < 0 && errno == EINTR)
			;
	return got;
}

void worker_stop(worker *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stopping = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	close(w->pipe[0]);
	close(w->pipe[1]);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w);
}
