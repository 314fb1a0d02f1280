/*
 * actuator.c - what every actuator shares (actuator.h): the checking of an
 * action, the memory of the last ACTUATOR_MEMORY finished ids that makes
 * actuator_do() idempotent, and the dry-run actuator, which only notes what
 * it would do.
 *
 * The memory is a ring: the outcome of each finished action goes into the
 * next slot, over the oldest one once all ACTUATOR_MEMORY are taken. A
 * lookup scans it (256 short ids: cheaper than the action it saves). An
 * action refused by the checks is not an action that was carried out: its
 * id is not remembered, so a corrected action may reuse it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actuator.h"
#include "util.h"
#include "wire.h"
#include "log.h"
#include "banned.h"

/* Longest migration URI, bytes (as the wire's ActionRequest.to_uri). */
#define ACT_URI_MAX 255

struct act_slot {
	char id[ACTUATOR_ID_MAX + 1]; /* "" while unused */
	actuator_result r;
};

struct act_memory {
	struct act_slot slot[ACTUATOR_MEMORY];
	size_t next; /* the slot the next outcome goes to */
};

static void result_set(actuator_result *r, actuator_status s,
		       const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void result_set(actuator_result *r, actuator_status s,
		       const char *fmt, ...)
{
	va_list ap;

	r->status = s;
	va_start(ap, fmt);
	util_verr(r->detail, sizeof(r->detail), fmt, ap);
	va_end(ap);
}

/* ---- checking an action ---- */

/* 1..max bytes of 0x21..0x7e (printable ASCII, no spaces), as the wire. */
static int token_ok(const char *s, size_t max)
{
	size_t n = s ? strnlen(s, max + 1) : 0;

	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

/* What is wrong with x, or NULL. */
static const char *action_bad(const actuator_action *x)
{
	if (!x)
		return "no action";
	if (!token_ok(x->id, ACTUATOR_ID_MAX))
		return "the id is not 1..64 printable characters without "
		       "spaces";
	if (x->kind != ACTUATOR_RESIZE && x->kind != ACTUATOR_MIGRATE)
		return "the kind is neither resize nor migrate";
	if (!x->vm || !wire_name_ok(x->vm))
		return "the VM is not a name (1..128 printable characters "
		       "without spaces)";
	if (x->target_mib < 1 || x->target_mib > WIRE_MAX_MIB)
		return "the target is not in 1 MiB..64 TiB";
	if (x->kind == ACTUATOR_MIGRATE && !token_ok(x->to_uri, ACT_URI_MAX))
		return "a migration needs a target URI (1..255 printable "
		       "characters without spaces)";
	if (x->timeout_ms <= 0)
		return "the timeout must be above 0 ms";
	return NULL;
}

/* ---- the memory ---- */

static const actuator_result *recall(const struct act_memory *m,
				     const char *id)
{
	for (size_t i = 0; i < ACTUATOR_MEMORY; i++)
		if (m->slot[i].id[0] && strcmp(m->slot[i].id, id) == 0)
			return &m->slot[i].r;
	return NULL;
}

static void remember(struct act_memory *m, const char *id,
		     const actuator_result *r)
{
	struct act_slot *s = &m->slot[m->next];

	snprintf(s->id, sizeof(s->id), "%s", id);
	s->r = *r;
	s->r.repeated = 0;
	m->next = (m->next + 1) % ACTUATOR_MEMORY;
}

void actuator_result_set(actuator_result *r, actuator_status s,
			 const char *fmt, ...)
{
	va_list ap;

	r->status = s;
	va_start(ap, fmt);
	util_verr(r->detail, sizeof(r->detail), fmt, ap);
	va_end(ap);
}

/* ---- the interface ---- */

actuator *actuator_new(const struct actuator_ops *ops, void *state)
{
	actuator *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->memory = calloc(1, sizeof(struct act_memory));
	if (!a->memory) {
		free(a);
		return NULL;
	}
	a->ops = ops;
	a->state = state;
	return a;
}

void actuator_do(actuator *a, const actuator_action *x, actuator_result *r)
{
	const char *bad = action_bad(x);
	const actuator_result *old;

	memset(r, 0, sizeof(*r));
	if (bad) {
		result_set(r, ACTUATOR_FAILED, "invalid action: %s", bad);
		return;
	}
	old = recall(a->memory, x->id);
	if (old) {
		*r = *old;
		r->repeated = 1;
		return;
	}
	a->ops->act(a, x, r);
	r->repeated = 0;
	if (r->status < ACTUATOR_OK || r->status > ACTUATOR_UNSUPPORTED)
		result_set(r, ACTUATOR_FAILED, "the %s actuator gave no "
			   "outcome", a->ops->kind);
	remember(a->memory, x->id, r);
}

void actuator_close(actuator *a)
{
	if (!a)
		return;
	if (a->ops && a->ops->close)
		a->ops->close(a);
	free(a->memory);
	free(a);
}

const char *actuator_status_name(actuator_status s)
{
	switch (s) {
	case ACTUATOR_OK: return "ok";
	case ACTUATOR_FAILED: return "failed";
	case ACTUATOR_TIMEOUT: return "timeout";
	case ACTUATOR_UNSUPPORTED: return "unsupported";
	}
	return "?";
}

/* ---- the dry run ---- */

struct dry {
	actuator_note_fn note; /* NULL: stderr */
	void *note_ctx;
	int64_t delay_ms;
};

static void dry_act(actuator *a, const actuator_action *x,
		    actuator_result *r)
{
	const struct dry *d = a->state;
	struct timespec ts = { (time_t)(d->delay_ms / 1000),
			       (long)(d->delay_ms % 1000) * 1000000L };

	while (d->delay_ms > 0 && nanosleep(&ts, &ts) != 0)
		; /* interrupted: sleep the rest */
	if (x->kind == ACTUATOR_RESIZE)
		result_set(r, ACTUATOR_OK, "dry run: would resize %s to %lld "
			   "MiB", x->vm, (long long)x->target_mib);
	else
		result_set(r, ACTUATOR_OK, "dry run: would migrate %s to %s",
			   x->vm, x->to_uri);
	if (d->note)
		d->note(d->note_ctx, r->detail);
	else
		log_at(LOG_INFO, NULL, "%s", r->detail);
}

static void dry_close(actuator *a)
{
	free(a->state);
}

static const struct actuator_ops dry_ops = {
	.kind = "dry-run",
	.act = dry_act,
	.close = dry_close,
};

int actuator_dryrun_open(int64_t delay_ms, actuator_note_fn note,
			 void *note_ctx, actuator **out, char *err,
			 size_t errlen)
{
	struct dry *d = calloc(1, sizeof(*d));

	*out = NULL;
	if (d) {
		d->delay_ms = delay_ms > 0 ? delay_ms : 0;
		d->note = note;
		d->note_ctx = note_ctx;
		*out = actuator_new(&dry_ops, d);
	}
	if (!*out) {
		free(d);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}
