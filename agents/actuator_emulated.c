/*
 * actuator_emulated.c - the emulated hypervisor's actuator (actuator.h):
 * resizes and migrations carried out on the world (world.h) that the trace
 * source of every agent on the machine reads (docs/emulated.md).
 *
 * Resize: world_resize(), which checks under the world's lock that the VM
 * is on this host and that the host can hold the new size. The source reads
 * the world at its next advance: the next Bid carries the new size.
 *
 * Migrate: the destination is the host named by an "emulated://HOST" URI
 * (what every emulated agent registers as its hypervisor URI, so the
 * broker's migrate recommendations name it). Pre-copy takes M / (B - D)
 * seconds (docs/emulated.md, "Migration time"), slept on the worker thread
 * while the VM stays on the source, as a live migration leaves it running
 * there; then world_move() switches the VM's host in one rename. Killed
 * during the copy, the agent leaves the VM where it was.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actuator.h"
#include "util.h"
#include "world.h"
#include "log.h"
#include "banned.h"

struct emu_act {
	struct world *w;
	char *host;
	double migrate_mibps, dirty_mibps;
	actuator_note_fn note;
	void *note_ctx;
};

static void note(const struct emu_act *e, const char *msg)
{
	if (e->note)
		e->note(e->note_ctx, msg);
	else
		log_at(LOG_NOTICE, NULL, "emulated actuator: %s\n", msg);
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000),
			       (long)(ms % 1000) * 1000000L };

	while (ms > 0 && nanosleep(&ts, &ts) != 0)
		; /* interrupted: sleep the rest */
}

/* ---- resize ---- */

static void resize(struct emu_act *e, const actuator_action *x,
		   actuator_result *r)
{
	char why[256];
	world_vm v;
	int rc = world_vm_get(e->w, x->vm, &v, why, sizeof(why));

	if (rc == 0 && !strcmp(v.host, e->host) &&
	    v.assigned_mib == x->target_mib) {
		actuator_result_set(r, ACTUATOR_OK, "%s: already %lld MiB",
				    x->vm, (long long)x->target_mib);
		return;
	}
	rc = world_resize(e->w, x->vm, e->host, x->target_mib, why,
			  sizeof(why));
	if (rc == 0)
		actuator_result_set(r, ACTUATOR_OK,
				    "%s: resized from %lld to %lld MiB", x->vm,
				    (long long)v.assigned_mib,
				    (long long)x->target_mib);
	else if (rc == WORLD_ABSENT || rc == WORLD_NOT_HERE)
		actuator_result_set(r, ACTUATOR_FAILED, "%s is not here (%s)",
				    x->vm, why);
	else
		actuator_result_set(r, ACTUATOR_FAILED, "%s: refused: %s",
				    x->vm, why);
}

/* ---- migrate ---- */

/* The destination host named by uri, or NULL with r set. */
static const char *dest_of(const struct emu_act *e, const actuator_action *x,
			   actuator_result *r)
{
	size_t n = strlen(ACTUATOR_EMULATED_SCHEME);
	const char *to = x->to_uri + n;
	int64_t cap, reserve;
	char why[256];

	if (strncmp(x->to_uri, ACTUATOR_EMULATED_SCHEME, n) != 0) {
		actuator_result_set(r, ACTUATOR_UNSUPPORTED,
				    "%s: %s is not an emulated host "
				    "(%sHOST)",
				    x->vm, x->to_uri, ACTUATOR_EMULATED_SCHEME);
		return NULL;
	}
	if (!strcmp(to, e->host)) {
		actuator_result_set(r, ACTUATOR_FAILED, "%s: %s is this host",
				    x->vm, x->to_uri);
		return NULL;
	}
	if (world_host_get(e->w, to, &cap, &reserve, why, sizeof(why)) != 0) {
		actuator_result_set(r, ACTUATOR_FAILED,
				    "%s: no host %s in the world%s%s", x->vm,
				    to, why[0] ? ": " : "", why);
		return NULL;
	}
	return to;
}

/* Can `to` take target_mib now? 0, or -1 with r set. */
static int room_at(struct emu_act *e, const char *to, int64_t target_mib,
		   const char *vm, actuator_result *r)
{
	int64_t cap, reserve, used;
	char why[256] = "";

	if (world_host_get(e->w, to, &cap, &reserve, why, sizeof(why)) != 0 ||
	    world_used(e->w, to, &used, why, sizeof(why)) != 0) {
		actuator_result_set(r, ACTUATOR_FAILED, "%s: %s", vm, why);
		return -1;
	}
	if (used + target_mib > cap - reserve) {
		actuator_result_set(
			r, ACTUATOR_FAILED,
			"%s: refused: host %s cannot hold %lld "
			"MiB more: it holds %lld of the %lld MiB it sells",
			vm, to, (long long)target_mib, (long long)used,
			(long long)(cap - reserve));
		return -1;
	}
	return 0;
}

/* How long the pre-copy of m MiB takes, ms; -1 with r set if it never
 * converges. */
static int64_t copy_ms(const struct emu_act *e, const char *vm, int64_t m,
		       actuator_result *r)
{
	double d = e->dirty_mibps >= 0 ? e->dirty_mibps
				       : world_dirty_get(e->w, vm);

	if (d < 0)
		d = 0; /* the source has not seen it yet */
	if (d >= e->migrate_mibps) {
		actuator_result_set(
			r, ACTUATOR_FAILED,
			"%s: refused: it dirties %.1f MiB/s, "
			"the link copies %.1f MiB/s: pre-copy would not converge",
			vm, d, e->migrate_mibps);
		return -1;
	}
	return (int64_t)((double)m * 1000.0 / (e->migrate_mibps - d) + 0.5);
}

static void migrate(struct emu_act *e, const actuator_action *x,
		    actuator_result *r)
{
	char why[256], msg[300];
	const char *to;
	world_vm v;
	int64_t ms;
	int rc = world_vm_get(e->w, x->vm, &v, why, sizeof(why));

	if (rc != 0 || strcmp(v.host, e->host)) {
		actuator_result_set(r, ACTUATOR_FAILED, "%s is not here%s%s",
				    x->vm, rc == 0 ? ": it is on " : "",
				    rc == 0 ? v.host : "");
		return;
	}
	if (!(to = dest_of(e, x, r)) || room_at(e, to, x->target_mib, x->vm, r)
	    || (ms = copy_ms(e, x->vm, v.assigned_mib, r)) < 0)
		return;
	snprintf(msg, sizeof(msg), "%s: copying %lld MiB to %s, %lld ms",
		 x->vm, (long long)v.assigned_mib, to, (long long)ms);
	note(e, msg);
	if (ms > x->timeout_ms) {
		sleep_ms(x->timeout_ms);
		actuator_result_set(
			r, ACTUATOR_TIMEOUT,
			"%s: the copy to %s needs %lld ms, "
			"more than the %lld ms allowed: given up, the VM is still "
			"here",
			x->vm, to, (long long)ms, (long long)x->timeout_ms);
		return;
	}
	sleep_ms(ms);
	rc = world_move(e->w, x->vm, e->host, to, x->target_mib, why,
			sizeof(why));
	if (rc == 0)
		actuator_result_set(r, ACTUATOR_OK,
				    "%s: migrated to %s in %lld ms (%lld MiB; "
				    "arrives with %lld MiB)",
				    x->vm, to, (long long)ms,
				    (long long)v.assigned_mib,
				    (long long)x->target_mib);
	else
		actuator_result_set(r, ACTUATOR_FAILED,
				    "%s: refused at the switch: %s", x->vm,
				    why);
}

/* ---- the ops ---- */

static void emu_act(actuator *a, const actuator_action *x,
		    actuator_result *r)
{
	struct emu_act *e = a->state;

	if (x->kind == ACTUATOR_RESIZE)
		resize(e, x, r);
	else
		migrate(e, x, r);
}

static void emu_free(struct emu_act *e)
{
	free(e->host);
	free(e);
}

static void emu_close(actuator *a)
{
	emu_free(a->state);
}

static const struct actuator_ops emulated_ops = {
	.kind = "emulated",
	.act = emu_act,
	.close = emu_close,
};

int actuator_emulated_open(const actuator_emulated_opts *o, actuator **out,
			   char *err, size_t errlen)
{
	struct emu_act *e;

	*out = NULL;
	if (!o->world)
		return util_err(err, errlen, "the emulated actuator needs a "
				"world (--world DIR)");
	if (!world_name_ok(o->host))
		return util_err(err, errlen, "host name '%.60s' cannot name a "
				"file of the world", o->host ? o->host : "");
	if (!(o->migrate_mibps > 0))
		return util_err(err, errlen, "the migration bandwidth must be "
				"above 0 MiB/s");
	e = calloc(1, sizeof(*e));
	if (!e || !(e->host = strdup(o->host))) {
		free(e);
		return util_err(err, errlen, "out of memory");
	}
	e->w = o->world;
	e->migrate_mibps = o->migrate_mibps;
	e->dirty_mibps = o->dirty_mibps;
	e->note = o->note;
	e->note_ctx = o->note_ctx;
	*out = actuator_new(&emulated_ops, e);
	if (!*out) {
		emu_free(e);
		return util_err(err, errlen, "out of memory");
	}
	return 0;
}
