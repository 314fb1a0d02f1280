/*
 * sampler.c - the agent's source read on a thread of its own (sampler.h).
 *
 * Two snapshots: front (the view's, touched by the agent's thread only) and
 * back (the thread's while a reading is under way). A finished reading is
 * swapped to the front by sampler_take() under the mutex. A condition
 * variable wakes the thread; a pipe wakes the agent's zmq_poll() (one byte
 * per finished reading, read back by sampler_take()).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sampler.h"
#include "util.h"
#include "banned.h"

#define SAMPLER_ERR 256

struct snap_vm {
	int cfg_rc, smp_rc;
	source_vm_config cfg;
	source_vm_sample smp;
	char err[SAMPLER_ERR];
};

struct snap {
	int adv_rc, host_rc;
	char adv_err[SAMPLER_ERR], host_err[SAMPLER_ERR];
	source_host host;
	struct snap_vm *vm; /* n of cap */
	size_t n, cap;
};

struct sampler {
	source *src;
	source view;
	struct snap snaps[2];
	struct snap *front, *back;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int pipe[2];
	int busy;  /* asked and not taken yet; under mu, as the three below */
	int asked, done, stopping;
};

/* Everything src reports now, into sn. */
static void snap_take(source *src, struct snap *sn)
{
	size_t n = source_n_vms(src);

	sn->host_rc = source_host_read(src, &sn->host, sn->host_err,
				       sizeof(sn->host_err));
	if (UTIL_GROW(sn->vm, n, sn->cap)) {
		sn->adv_rc = -1;
		snprintf(sn->adv_err, sizeof(sn->adv_err),
			 "out of memory for %zu VMs", n);
		n = sn->cap;
	}
	sn->n = n;
	for (size_t i = 0; i < n; i++) {
		struct snap_vm *v = &sn->vm[i];

		v->err[0] = '\0';
		v->cfg_rc = source_vm_config_get(src, i, &v->cfg);
		v->smp_rc = source_vm_read(src, i, &v->smp, v->err,
					   sizeof(v->err));
	}
}

static void reading(sampler *s)
{
	struct snap *sn = s->back;
	char byte = 1;

	sn->adv_err[0] = '\0';
	sn->adv_rc = source_advance(s->src, sn->adv_err, sizeof(sn->adv_err));
	snap_take(s->src, sn);
	pthread_mutex_lock(&s->mu);
	s->done = 1;
	pthread_mutex_unlock(&s->mu);
	while (write(s->pipe[1], &byte, 1) < 0 && errno == EINTR)
		;
}

static void *loop(void *arg)
{
	sampler *s = arg;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!s->stopping && !s->asked)
			pthread_cond_wait(&s->cv, &s->mu);
		if (s->stopping)
			break;
		s->asked = 0;
		pthread_mutex_unlock(&s->mu);
		reading(s);
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* ---- the view: the front snapshot ---- */

static int view_advance(source *v, char *err, size_t errlen)
{
	(void)v;
	return util_err(err, errlen, "the sampler advances this source");
}

static int view_host(source *v, source_host *out, char *err, size_t errlen)
{
	const struct snap *sn = ((sampler *)v->state)->front;

	*out = sn->host;
	if (sn->host_rc != 0)
		snprintf(err, errlen, "%s", sn->host_err);
	return sn->host_rc;
}

static size_t view_n_vms(source *v)
{
	return ((sampler *)v->state)->front->n;
}

static int view_vm_config(source *v, size_t i, source_vm_config *out)
{
	const struct snap *sn = ((sampler *)v->state)->front;

	if (i >= sn->n || sn->vm[i].cfg_rc != 0)
		return -1;
	*out = sn->vm[i].cfg;
	return 0;
}

static int view_vm_sample(source *v, size_t i, source_vm_sample *out,
			  char *err, size_t errlen)
{
	const struct snap *sn = ((sampler *)v->state)->front;

	if (i >= sn->n)
		return util_err(err, errlen, "no VM %zu (the source has %zu)",
				i, sn->n);
	*out = sn->vm[i].smp;
	if (sn->vm[i].smp_rc != 0)
		snprintf(err, errlen, "%s", sn->vm[i].err);
	return sn->vm[i].smp_rc;
}

static void view_close(source *v)
{
	(void)v; /* sampler_stop() frees it */
}

static const struct source_ops view_ops = {
	.kind = "sampler",
	.advance = view_advance,
	.host = view_host,
	.n_vms = view_n_vms,
	.vm_config = view_vm_config,
	.vm_sample = view_vm_sample,
	.close = view_close,
};

/* ---- the API ---- */

static void sampler_free(sampler *s)
{
	free(s->snaps[0].vm);
	free(s->snaps[1].vm);
	free(s);
}

int sampler_start(source *src, sampler **out, source **view, char *err,
		  size_t errlen)
{
	sampler *s = calloc(1, sizeof(*s));

	*out = NULL;
	*view = NULL;
	if (!s)
		return util_err(err, errlen, "out of memory");
	s->src = src;
	s->front = &s->snaps[0];
	s->back = &s->snaps[1];
	snap_take(src, s->front);
	if (s->front->adv_rc != 0) {
		util_err(err, errlen, "%s", s->front->adv_err);
		sampler_free(s);
		return -1;
	}
	if (pipe(s->pipe) != 0) {
		util_err(err, errlen, "pipe: %s", strerror(errno));
		sampler_free(s);
		return -1;
	}
	fcntl(s->pipe[0], F_SETFL, O_NONBLOCK);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	if (pthread_create(&s->thread, NULL, loop, s) != 0) {
		close(s->pipe[0]);
		close(s->pipe[1]);
		pthread_mutex_destroy(&s->mu);
		pthread_cond_destroy(&s->cv);
		sampler_free(s);
		return util_err(err, errlen, "cannot start the source's "
				"thread");
	}
	s->view = (source){ .ops = &view_ops, .state = s };
	*out = s;
	*view = &s->view;
	return 0;
}

int sampler_fd(const sampler *s)
{
	return s->pipe[0];
}

int sampler_request(sampler *s)
{
	int busy;

	pthread_mutex_lock(&s->mu);
	busy = s->busy;
	if (!busy) {
		s->busy = s->asked = 1;
		pthread_cond_signal(&s->cv);
	}
	pthread_mutex_unlock(&s->mu);
	return busy;
}

int sampler_take(sampler *s, char *err, size_t errlen)
{
	struct snap *t;
	char byte;
	int done;

	pthread_mutex_lock(&s->mu);
	done = s->done;
	if (done) {
		t = s->front;
		s->front = s->back;
		s->back = t;
		s->done = s->busy = 0;
	}
	pthread_mutex_unlock(&s->mu);
	if (!done)
		return 1;
	while (read(s->pipe[0], &byte, 1) < 0 && errno == EINTR)
		;
	if (s->front->adv_rc == 0)
		return 0;
	snprintf(err, errlen, "%s", s->front->adv_err);
	return -1;
}

void sampler_stop(sampler *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stopping = 1;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->thread, NULL);
	close(s->pipe[0]);
	close(s->pipe[1]);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	sampler_free(s);
}
