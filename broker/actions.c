/*
 * actions.c - carrying recommendations out: the modes, the kill switch,
 * the guardrails, and the agents' results.
 *
 * After each round, with the control row as the CLI left it
 * (store_control_get()):
 *  1. dispatched actions with no result within the action timeout fail
 *     ("timeout"), paused or not: the timeout counts on the monotonic
 *     clock from the request this run sent (expire_timeouts());
 *  2. if dispatching is paused, nothing else happens;
 *  3. in automated mode, the round's fresh pending recommendations of that
 *     kind are approved by the broker (audited as "broker:automated");
 *  4. approved recommendations, oldest first, whose kind is in manual or
 *     automated mode are dispatched within the guardrails: at most
 *     max_actions_per_round a round, max_migrations_per_host in flight from
 *     or to a host, none on a VM within vm_cooldown_ms of its last action
 *     (measured on the monotonic clock: acted_known()) but the relief of
 *     a VM short of memory (relief()), no grow that its host has not the
 *     memory for now (room.c: the shrinks that fund it may still wait),
 *     and only while the VM is still where the recommendation found it and
 *     the hosts involved are online. One that does not pass stays approved,
 *     with why in the store (store_rec_set_wait(): `bourse recs show`), and
 *     is tried again next round. Only a VM's newest open recommendation is
 *     sent: the store supersedes an approval by a newer rec of its kind,
 *     expires it as a pending one, and one of the other kind makes it
 *     wait (newer_open());
 *  5. dispatched actions this broker run has not sent (it restarted after
 *     dispatching them) are sent again with the same id: agents remember
 *     ids, so an action is carried out once.
 *
 * Action ids are "rec-<rec id>-<database identity>-<created_ms>"
 * (action_id()): never the same for two recommendations, even in a
 * database made anew or restored, so an agent's memory never answers a
 * new action. Results (broker__actions_result()): only the host an
 * action was sent to may answer it; any other result is a stray, counted
 * as dropped "stray_result" and summarised in one log line and audit row a
 * minute (strays_summary()); a result for an action that failed by its
 * timeout is late: one audit row on it, and it stays failed
 * (late_result()). A successful migration sets the VM's last_migrated
 * round (migrated()): the market's migrate_cooldown counts from it.
 *
 * An agent that answers "unsupported" (started without an --actuator, or
 * one that cannot do that kind of action) is logged once; its host gets
 * no more actions of that kind, and none of its VMs' recommendations of
 * that kind is approved automatically, until it registers again (an agent
 * restarted with an actuator). They stay recommendations, for review.
 *
 * Exactly once: the transition approved -> dispatched is committed before
 * the ActionRequest leaves, so a restart between approval and dispatch
 * dispatches once, and one after dispatch re-sends the same id (step 5).
 *
 * When the store fails (outage.c: the last round was not persisted) nothing
 * of the above runs: nothing may be sent that the store has not recorded
 * first. A result an agent sends meanwhile is kept in memory
 * (b->actions.held) and recorded first thing once the store takes a round
 * again, before any
 * action can time out; one whose request this run did not send is dropped,
 * and the request re-sent (step 5) once the store is back: the agent
 * answers a known id again without acting again.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker_int.h"
#include "banned.h"

#define ACTOR "broker"
/* Stray results are summarised at most this often (log and audit). */
#define BROKER_STRAY_SUMMARY_MS 60000
#define AUTOMATED "automated mode" /* the reason of the broker's approvals */

/* An agent's result the store could not record yet. */
struct broker_held_result {
	int64_t id;          /* the recommendation */
	store_rec_state to;  /* succeeded or failed */
	int quiet;           /* not logged (an "unsupported" already said) */
	char actor[STORE_NAME_MAX];
	char why[STORE_TEXT_MAX];
};

/* A host whose agent cannot carry out some kinds of action. */
struct broker_cannot {
	int64_t registered_at; /* the registration it answered in */
	unsigned kinds;        /* bit 1 << store_rec_kind */
};

/* Recommendations of one state, oldest first. */
typedef struct rec_list {
	store_rec *v;
	size_t n, cap;
} rec_list;

static int collect(const store_rec *r, void *ctx)
{
	rec_list *l = ctx;

	if (UTIL_GROW(l->v, l->n + 1, l->cap))
		return 1;
	l->v[l->n++] = *r;
	return 0;
}

/* store_recs_list() is newest first. */
static int list_state(broker *b, store_rec_state st, rec_list *l)
{
	char err[256];

	memset(l, 0, sizeof(*l));
	if (store_recs_list(b->st, st, 0, collect, l, err, sizeof(err))) {
		log_at(LOG_ERR, NULL, "broker: dispatch: %s\n", err);
		return -1;
	}
	for (size_t i = 0; i < l->n / 2; i++) {
		store_rec t = l->v[i];

		l->v[i] = l->v[l->n - 1 - i];
		l->v[l->n - 1 - i] = t;
	}
	return 0;
}

static store_action action_of(const store_rec *r)
{
	if (r->kind == STORE_REC_MIGRATE)
		return STORE_ACT_MIGRATE;
	return r->to_mib > r->from_mib ? STORE_ACT_RESIZE_UP
				       : STORE_ACT_RESIZE_DOWN;
}

static int transition(broker *b, const store_rec *r, store_rec_state to,
		      const char *actor, const char *reason)
{
	char err[300];

	if (store_rec_transition(b->st, r->id, to, actor, reason,
				 util_wall_ms(), err, sizeof(err)) == 0)
		return 0;
	log_at(LOG_ERR, LOG_F(.rec_id = r->id, .vm = r->vm_name), "broker: dispatch: %s\n", err);
	return -1;
}

/* ---- what was sent in this run ---- */

/* A dispatched action this run knows of: its ActionRequest sent by this
 * run, and when (monotonic ms), or, dispatched before this run and not
 * sent again yet, since when this run has seen it. Its timeout counts
 * from then, whatever the wall clock does. */
struct broker_sent {
	int64_t id;
	int64_t at;
	int sent;
	uint32_t host; /* the host slot it was sent to (sent only) */
};

static struct broker_sent *sent_find(const broker_actions *a, int64_t id)
{
	for (size_t i = 0; i < a->n_sent; i++)
		if (a->sent[i].id == id)
			return &a->sent[i];
	return NULL;
}

static int sent_has(const broker_actions *a, int64_t id)
{
	const struct broker_sent *s = sent_find(a, id);

	return s && s->sent;
}

/* Action id is known from now on (sent: its request went out now).
 * NULL on ENOMEM. */
static struct broker_sent *sent_note(broker_actions *a, int64_t id,
				     int sent)
{
	struct broker_sent *s = sent_find(a, id);

	if (!s) {
		if (UTIL_GROW(a->sent, a->n_sent + 1, a->cap_sent))
			return NULL;
		s = &a->sent[a->n_sent++];
		*s = (struct broker_sent){ id, util_now_ms(), 0, BROKER_NO_SLOT };
	}
	if (sent) {
		s->sent = 1;
		s->at = util_now_ms();
	}
	return s;
}

static void sent_add(broker_actions *a, int64_t id, uint32_t host)
{
	/* on ENOMEM it is sent again: agents dedupe */
	struct broker_sent *s = sent_note(a, id, 1);

	if (s)
		s->host = host;
}

static void sent_remove(broker_actions *a, int64_t id)
{
	for (size_t i = 0; i < a->n_sent; i++)
		if (a->sent[i].id == id) {
			a->sent[i] = a->sent[--a->n_sent];
			return;
		}
}

/* ---- the cooldown, on the monotonic clock ---- */

/* VM slot v had an action event (dispatched, or its result) now. */
static void acted_now(broker *b, uint32_t v)
{
	if (v == BROKER_NO_SLOT)
		return;
	b->reg.vms[v].acted_known = 1;
	b->reg.vms[v].acted_at = util_now_ms();
	b->reg.vms[v].acted_wall = util_wall_ms();
}

/* VM slot v's latest action, read from the store (its wall-clock time) the
 * first time in a run and from then on measured on the monotonic clock:
 * the time since is clamped to 0 .. the cooldown, so a wall clock that
 * jumped before the broker started shortens or lengthens one cooldown at
 * most. Returns 0, or -1 with the store's message. */
static int acted_known(broker *b, uint32_t v, uint32_t vm_id, char *err,
		       size_t len)
{
	bvm *m = &b->reg.vms[v];
	int64_t wall, ago, cool = b->cfg->guard.vm_cooldown_ms;

	if (m->acted_known)
		return 0;
	if (store_vm_last_action_ms(b->st, vm_id, &wall, err, len))
		return -1;
	ago = util_wall_ms() - wall;
	ago = ago < 0 ? 0 : ago > cool ? cool : ago;
	m->acted_known = 1;
	m->acted_at = util_now_ms() - ago;
	m->acted_wall = wall; /* 0: never acted */
	return 0;
}

/* ---- agents that cannot act ---- */

/* Can host slot h's agent, as registered now, carry out kind? */
static int host_can(const broker *b, uint32_t h, store_rec_kind kind)
{
	const struct broker_cannot *c;

	if (h == BROKER_NO_SLOT || h >= b->actions.cap_cannot)
		return 1;
	c = &b->actions.cannot[h];
	return !(c->kinds & (1u << kind)) ||
	       c->registered_at != b->reg.hosts[h].registered_at;
}

/* The broker's own approvals (automated mode) of kind on host slot h,
 * given before its agent said it cannot act: withdrawn, so that they are
 * recommendations for review again (the market makes them anew) rather
 * than approvals waiting for an agent that cannot act. An operator's
 * approval stays, saying why it waits. */
static void withdraw_automated(broker *b, uint32_t h, store_rec_kind kind)
{
	rec_list approved;
	char err[300], why[STORE_TEXT_MAX];

	if (list_state(b, STORE_REC_APPROVED, &approved))
		return;
	util_err(why, sizeof(why), "the broker approved it, and the agent of "
		 "%s cannot carry out %s actions", b->reg.hosts[h].name,
		 store_rec_kind_name(kind));
	for (size_t i = 0; i < approved.n; i++) {
		const store_rec *r = &approved.v[i];

		if (r->kind != kind || strcmp(r->from_host, b->reg.hosts[h].name) ||
		    strcmp(r->state_reason, AUTOMATED))
			continue;
		if (store_rec_cancel(b->st, r->id, ACTOR, why, util_wall_ms(),
				     err, sizeof(err))) {
			log_at(LOG_ERR, LOG_F(.rec_id = r->id, .vm = r->vm_name), "broker: dispatch: %s\n", err);
			if (broker__outage_faulted(b))
				break;
		}
	}
	free(approved.v);
}

/* Host slot h's agent answered "unsupported" to kind: 1 if this is news
 * (logged), 0 if known. */
static int host_cannot(broker *b, uint32_t h, store_rec_kind kind,
		       const char *detail)
{
	broker_actions *a = &b->actions;
	struct broker_cannot *c;
	size_t old = a->cap_cannot;
	char said[WIRE_MAX_TEXT * 4 + 1]; /* detail, escaped: one line */

	if (h == BROKER_NO_SLOT || !host_can(b, h, kind))
		return 0;
	if (h >= a->cap_cannot) {
		if (UTIL_GROW(a->cannot, (size_t)h + 1, a->cap_cannot))
			return 1; /* logged again next time: no worse */
		memset(a->cannot + old, 0,
		       (a->cap_cannot - old) * sizeof(*a->cannot));
	}
	c = &a->cannot[h];
	if (c->registered_at != b->reg.hosts[h].registered_at)
		c->kinds = 0;
	c->registered_at = b->reg.hosts[h].registered_at;
	c->kinds |= 1u << kind;
	withdraw_automated(b, h, kind);
	log_at(LOG_WARNING, LOG_F(.host = b->reg.hosts[h].name), "broker: host %s's agent cannot carry out %s actions "
		"(it answered 'unsupported': %s); none is sent to it and its "
		"VMs' %s recommendations are not approved automatically until "
		"it registers again (e.g. restarted with an --actuator)\n",
		b->reg.hosts[h].name, store_rec_kind_name(kind),
		util_escape(said, sizeof(said), detail),
		store_rec_kind_name(kind));
	return 1;
}

/* ---- the hosts involved ---- */

/* The connected, online host slot of name, or NO_SLOT. */
static uint32_t live_host(const broker *b, const char *name)
{
	uint32_t h = broker__registry_host_find(&b->reg, name);

	if (h == BROKER_NO_SLOT || !b->reg.hosts[h].online ||
	    b->reg.hosts[h].conn == BROKER_NO_SLOT)
		return BROKER_NO_SLOT;
	return h;
}

/* The slot of the host the action goes to (where the VM is), if the VM is
 * still where r found it and every host involved is online; else NO_SLOT
 * and why (may be NULL). */
static uint32_t action_host_why(const broker *b, const store_rec *r,
				char *why, size_t len)
{
	uint32_t v = broker__registry_vm_find(&b->reg, r->vm_name);
	uint32_t h = live_host(b, r->from_host);
	char ignore[8];

	if (!why) {
		why = ignore;
		len = sizeof(ignore);
	}
	if (h == BROKER_NO_SLOT) {
		util_err(why, len, "host %s is lost or its agent is not "
			 "connected", r->from_host);
		return BROKER_NO_SLOT;
	}
	if (v == BROKER_NO_SLOT || b->reg.vms[v].host != h) {
		util_err(why, len, "%s is no longer on %s, where the "
			 "recommendation found it", r->vm_name, r->from_host);
		return BROKER_NO_SLOT;
	}
	if (r->kind == STORE_REC_MIGRATE) {
		uint32_t t = live_host(b, r->to_host);

		if (t == BROKER_NO_SLOT) {
			util_err(why, len, "the target host %s is lost or its "
				 "agent is not connected", r->to_host);
			return BROKER_NO_SLOT;
		}
		if (!b->reg.hosts[t].uri[0]) {
			util_err(why, len, "the target host %s registered no "
				 "URI to migrate to (its agent's --uri)",
				 r->to_host);
			return BROKER_NO_SLOT;
		}
	}
	return h;
}

static uint32_t action_host(const broker *b, const store_rec *r)
{
	return action_host_why(b, r, NULL, 0);
}

/* ---- action ids ---- */

/* The id of r's action on the wire: "rec-<rec id>-<database identity, 16
 * hex digits>-<the rec's created_ms>". The same for every request of r
 * (a re-sent one too); another in a database made anew (its identity) or
 * restored from a backup (the recommendation made again at another
 * millisecond): an agent's memory of ids never answers a new action.
 * docs/protocol.md, "Action ids". */
static void action_id(const broker *b, const store_rec *r, char *out,
		      size_t len)
{
	snprintf(out, len, "rec-%" PRId64 "-%016" PRIx64 "-%" PRId64, r->id,
		 b->actions.uid, r->created_ms);
}

/* The recommendation id of an action id of this database (and its
 * created_ms), or -1: not one of ours. */
static int parse_action_id(const broker *b, const char *s, int64_t *id,
			   int64_t *created_ms)
{
	long long rid = 0, cms = 0;
	unsigned long long uid = 0;
	char again[WIRE_MAX_ID + 1];
	store_rec r;

	if (sscanf(s, "rec-%lld-%16llx-%lld", &rid, &uid, &cms) != 3 ||
	    uid != b->actions.uid || rid <= 0)
		return -1;
	r.id = rid;
	r.created_ms = cms;
	action_id(b, &r, again, sizeof(again));
	if (strcmp(again, s)) /* only the canonical form */
		return -1;
	*id = rid;
	*created_ms = cms;
	return 0;
}

/* The database's identity, read once. 0, or -1 (logged). */
static int uid_known(broker *b)
{
	char err[300];

	if (b->actions.uid_known)
		return 0;
	if (b->outage.down) /* the store is failing: said already */
		return -1;
	if (store_db_uid(b->st, &b->actions.uid, err, sizeof(err))) {
		log_at(LOG_ERR, NULL, "broker: dispatch: %s\n", err);
		return -1;
	}
	b->actions.uid_known = 1;
	return 0;
}

static void send_request(broker *b, const store_rec *r, uint32_t h)
{
	wire_msg m;
	wire_action_request *rq = &m.action_request;
	char id[WIRE_MAX_ID + 1];
	uint32_t t = r->kind == STORE_REC_MIGRATE
		     ? broker__registry_host_find(&b->reg, r->to_host)
		     : BROKER_NO_SLOT;

	action_id(b, r, id, sizeof(id));
	broker__msg_init(&m, WIRE_BODY_ACTION_REQUEST);
	rq->id = id;
	rq->kind = r->kind == STORE_REC_MIGRATE ? WIRE_ACTION_MIGRATE
						: WIRE_ACTION_RESIZE;
	rq->vm = r->vm_name;
	rq->target_mib = r->to_mib;
	rq->to_host = t != BROKER_NO_SLOT ? b->reg.hosts[t].name : "";
	rq->to_uri = t != BROKER_NO_SLOT ? b->reg.hosts[t].uri : "";
	rq->timeout_ms = (uint32_t)b->cfg->guard.action_timeout_ms;
	if (broker__send(b, &b->reg.conns[b->reg.hosts[h].conn], &m) == 0)
		sent_add(&b->actions, r->id, h);
	acted_now(b, broker__registry_vm_find(&b->reg, r->vm_name));
}

/* ---- the steps ---- */

/* The dispatched actions with no result within the timeout, on the
 * monotonic clock from the request this run sent (a wall clock that jumps
 * neither fails them nor holds them), fail; they leave the list too, so
 * that resend_unsent() does not send them again. One dispatched before
 * this run is timed from when this run first saw it until it is sent
 * again (step 5), and from then on from that: a restart expires nothing. */
static void expire_timeouts(broker *b, rec_list *dispatched)
{
	int64_t now = util_now_ms();
	size_t keep = 0;
	char why[96];

	snprintf(why, sizeof(why), "timeout: no result within %" PRId64 " s",
		 b->cfg->guard.action_timeout_ms / 1000);
	for (size_t i = 0; i < dispatched->n; i++) {
		const store_rec *r = &dispatched->v[i];
		const struct broker_sent *s = sent_note(&b->actions, r->id, 0);

		if (s && now - s->at > b->cfg->guard.action_timeout_ms) {
			if (transition(b, r, STORE_REC_FAILED, ACTOR, why) == 0) {
				sent_remove(&b->actions, r->id);
				broker__room_done(b, r, 0);
				continue;
			}
			if (broker__outage_faulted(b)) {
				/* the rest as they were */
				while (i < dispatched->n)
					dispatched->v[keep++] =
						dispatched->v[i++];
				break;
			}
		}
		dispatched->v[keep++] = *r;
	}
	dispatched->n = keep;
}

/* round: the one just written */
static void approve_automated(broker *b, const store_control *ctl,
			      int64_t round)
{
	rec_list pending;
	int any = 0;

	for (int k = 0; k < STORE_N_ACTS; k++)
		any |= ctl->mode[k] == STORE_MODE_AUTOMATED;
	/* every pending rec is read only when some kind is automated: a large
	 * cluster in recommend mode pays nothing per round */
	if (!any || list_state(b, STORE_REC_PENDING, &pending))
		return;
	for (size_t i = 0; i < pending.n; i++) {
		const store_rec *r = &pending.v[i];

		if (ctl->mode[action_of(r)] == STORE_MODE_AUTOMATED &&
		    r->last_round == round &&
		    host_can(b, broker__registry_host_find(&b->reg,
							   r->from_host),
			     r->kind) &&
		    transition(b, r, STORE_REC_APPROVED, ACTOR ":automated",
			       AUTOMATED) && broker__outage_faulted(b))
			break;
	}
	free(pending.v);
}

/* Migration r in flight: one more from its host and to its target. */
static void count_migration(const broker *b, const store_rec *r, uint32_t *n)
{
	uint32_t f = broker__registry_host_find(&b->reg, r->from_host);
	uint32_t t = broker__registry_host_find(&b->reg, r->to_host);

	if (f != BROKER_NO_SLOT)
		n[f]++;
	if (t != BROKER_NO_SLOT)
		n[t]++;
}

/* Migrations in flight from or to each host slot. */
static void count_migrations(const broker *b, const rec_list *dispatched,
			     uint32_t *n)
{
	memset(n, 0, b->reg.n_hosts * sizeof(*n));
	for (size_t i = 0; i < dispatched->n; i++)
		if (dispatched->v[i].kind == STORE_REC_MIGRATE)
			count_migration(b, &dispatched->v[i], n);
}

/* "12:03:05 UTC" of Unix ms. */
static void fmt_utc(char *buf, size_t size, int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, size, "%H:%M:%S UTC", &tm))
		snprintf(buf, size, "%" PRId64 " ms", ms);
}

/* Is r the relief of a VM short of memory (a resize up, the VM's demand
 * above what it held when the market made r)? The cooldown does not hold
 * it: it keeps a VM from being resized back and forth, and a VM that is
 * swapping needs its memory now (Hyper-V adds memory within a second when
 * the host has it). The room guardrail (room.c) still does: the shrinks
 * that fund it stay held by their own cooldown, and the grow goes only if
 * its host has the memory without them. */
static int relief(const store_rec *r, const bvm *m)
{
	return broker__relief(r->kind, r->to_mib, m->cfg.assigned,
			      r->pressure_before);
}

/* Does r pass the guardrails (besides the per-round count)? If not, why
 * (a sentence that stays the same while the reason does: it is written
 * to the store only when it changes). */
static int guard_ok(broker *b, const store_rec *r, const uint32_t *migr,
		    char *why, size_t len)
{
	const broker_guardrails *g = &b->cfg->guard;
	uint32_t v = broker__registry_vm_find(&b->reg, r->vm_name);
	const bvm *m;
	char err[256], at[32], next[32];

	if (r->kind == STORE_REC_MIGRATE) {
		uint32_t f = broker__registry_host_find(&b->reg, r->from_host);
		uint32_t t = broker__registry_host_find(&b->reg, r->to_host);
		uint32_t full = (int64_t)migr[f] >= g->max_migrations_per_host
				? f : (int64_t)migr[t] >=
				g->max_migrations_per_host ? t : BROKER_NO_SLOT;

		if (t != BROKER_NO_SLOT && b->reg.hosts[t].draining) {
			util_err(why, len, "%s is draining (bourse host drain): "
				 "no VM moves there until 'bourse host undrain "
				 "%s'", r->to_host, r->to_host);
			return 0;
		}
		if (t != BROKER_NO_SLOT && b->reg.hosts[t].probation) {
			util_err(why, len, "%s is on probation: online for "
				 "fewer than %" PRId64 " rounds "
				 "(--probation-rounds); no VM moves there yet",
				 r->to_host, b->cfg->probation_rounds);
			return 0;
		}
		if (full != BROKER_NO_SLOT) {
			util_err(why, len, "migration limit: %u in flight from "
				 "or to %s (--max-migrations %" PRId64 ")",
				 migr[full], b->reg.hosts[full].name,
				 g->max_migrations_per_host);
			return 0;
		}
	}
	if (v == BROKER_NO_SLOT) /* action_host_why() refused it already */
		return 0;
	if (acted_known(b, v, r->vm_id, err, sizeof(err))) {
		log_at(LOG_ERR, LOG_F(.rec_id = r->id, .vm = r->vm_name), "broker: dispatch: %s\n", err);
		util_err(why, len, "the store could not say when %s last "
			 "acted", r->vm_name);
		return 0;
	}
	m = &b->reg.vms[v];
	if (m->acted_wall == 0 ||
	    util_now_ms() - m->acted_at >= g->vm_cooldown_ms ||
	    relief(r, m))
		return 1;
	/* the times shown are the wall clock's, as it read when the VM
	 * acted: for people; the wait itself is measured */
	fmt_utc(at, sizeof(at), m->acted_wall);
	fmt_utc(next, sizeof(next), m->acted_wall + g->vm_cooldown_ms);
	util_err(why, len, "cooldown: %s last acted at %s; its next action may "
		 "start at %s (--vm-cooldown-s %" PRId64 ")", r->vm_name, at,
		 next, g->vm_cooldown_ms / 1000);
	return 0;
}

/* Record why approved r waits, if that changed. */
static void set_wait(broker *b, const store_rec *r, int64_t round,
		     const char *why)
{
	char err[300];

	if (!strcmp(r->wait_reason, why))
		return;
	if (store_rec_set_wait(b->st, r->id, round, why, err, sizeof(err)))
		log_at(LOG_ERR, LOG_F(.rec_id = r->id, .vm = r->vm_name), "broker: dispatch: %s\n", err);
}

/* Has r's VM a newer open recommendation (of the other kind: one of the
 * same kind supersedes it)? Then that is the market's view, and r waits:
 * it is kept current if the market goes back to it, else it expires. */
static int newer_open(broker *b, const store_rec *r, char *why, size_t len)
{
	int64_t id = 0;
	char err[256];

	if (store_vm_newest_open(b->st, r->vm_id, &id, err, sizeof(err))) {
		log_at(LOG_ERR, LOG_F(.rec_id = r->id, .vm = r->vm_name), "broker: dispatch: %s\n", err);
		util_err(why, len, "the store could not say which "
			 "recommendation of %s is the newest", r->vm_name);
		return 1;
	}
	if (id <= r->id)
		return 0;
	util_err(why, len, "the market's newer recommendation #%" PRId64
		 " for %s stands; this one goes only if the market comes back "
		 "to it, else it expires", id, r->vm_name);
	return 1;
}

/* Can r be dispatched now (besides the per-round count)? The host slot,
 * or NO_SLOT with why. */
static uint32_t dispatchable(broker *b, const store_control *ctl,
			     const store_rec *r, const uint32_t *migr,
			     char *why, size_t len)
{
	store_action act = action_of(r);
	uint32_t h;

	if (ctl->mode[act] == STORE_MODE_RECOMMEND) {
		util_err(why, len, "%s is in recommend mode",
			 store_action_name(act));
		return BROKER_NO_SLOT;
	}
	if (newer_open(b, r, why, len))
		return BROKER_NO_SLOT;
	h = action_host_why(b, r, why, len);
	if (h == BROKER_NO_SLOT)
		return h;
	if (!host_can(b, h, r->kind)) {
		util_err(why, len, "the agent of %s answered 'unsupported' to "
			 "%s actions: restart it with an --actuator that can",
			 b->reg.hosts[h].name, store_rec_kind_name(r->kind));
		return BROKER_NO_SLOT;
	}
	if (!guard_ok(b, r, migr, why, len) ||
	    !broker__room_ok(b, r, why, len))
		return BROKER_NO_SLOT;
	return h;
}

static void send_approved(broker *b, const store_control *ctl,
			  uint32_t *migr, int64_t round)
{
	rec_list approved;
	int64_t done = 0, max = b->cfg->guard.max_actions_per_round;
	char why[STORE_TEXT_MAX];

	if (list_state(b, STORE_REC_APPROVED, &approved))
		return;
	for (size_t i = 0; i < approved.n; i++) {
		const store_rec *r = &approved.v[i];
		uint32_t h;

		if (done >= max) {
			snprintf(why, sizeof(why), "--max-actions %" PRId64
				 " reached: older approvals go first, a round "
				 "at a time", max);
			set_wait(b, r, round, why);
			continue;
		}
		h = dispatchable(b, ctl, r, migr, why, sizeof(why));
		if (h == BROKER_NO_SLOT) {
			set_wait(b, r, round, why);
			continue;
		}
		snprintf(why, sizeof(why), "dispatched to %s (%s mode)",
			 b->reg.hosts[h].name,
			 store_mode_name(ctl->mode[action_of(r)]));
		/* recorded first: what is not recorded is never sent */
		if (transition(b, r, STORE_REC_DISPATCHED, ACTOR, why)) {
			if (broker__outage_faulted(b))
				break;
			continue;
		}
		send_request(b, r, h);
		broker__room_take(b, r);
		done++;
		if (r->kind == STORE_REC_MIGRATE) /* both hosts are live */
			count_migration(b, r, migr);
		log_at(LOG_NOTICE, LOG_F(.rec_id = r->id, .vm = r->vm_name, .host = b->reg.hosts[h].name), "broker: dispatched recommendation %" PRId64
			": %s %s to %" PRId64 " MiB%s%s\n", r->id,
			store_rec_kind_name(r->kind), r->vm_name, r->to_mib,
			r->kind == STORE_REC_MIGRATE ? " on " : "",
			r->kind == STORE_REC_MIGRATE ? r->to_host : "");
	}
	free(approved.v);
}

/* Dispatched before this run started: send again (same id). Not one sent
 * by this run whose agent restarted since: an agent without a durable
 * memory of ids (--state-dir) might have carried it out before it died,
 * and would carry it out again; it fails by its timeout instead. */
static void resend_unsent(broker *b, const rec_list *dispatched)
{
	for (size_t i = 0; i < dispatched->n; i++) {
		const store_rec *r = &dispatched->v[i];
		uint32_t h;

		if (sent_has(&b->actions, r->id))
			continue;
		h = action_host(b, r);
		if (h == BROKER_NO_SLOT)
			continue;
		send_request(b, r, h);
		log_at(LOG_NOTICE, LOG_F(.rec_id = r->id, .vm = r->vm_name, .host = b->reg.hosts[h].name), "broker: re-sent recommendation %" PRId64 " to %s "
			"(dispatched before this run, no result yet)\n", r->id,
			b->reg.hosts[h].name);
	}
}

/* ---- results the store could not take at once ---- */

/* Record a result: 0 done, 1 the store failed (keep it), -1 it cannot be
 * recorded (no longer dispatched: logged, dropped). */
static int record_result(broker *b, const struct broker_held_result *h)
{
	char err[STORE_TEXT_MAX + 200];

	if (store_rec_transition(b->st, h->id, h->to, h->actor, h->why,
				 util_wall_ms(), err, sizeof(err)) == 0) {
		sent_remove(&b->actions, h->id);
		if (!h->quiet)
			log_at(h->to == STORE_REC_FAILED ? LOG_WARNING : LOG_NOTICE, LOG_F(.rec_id = h->id), "broker: recommendation %" PRId64
				" %s (%s)\n", h->id,
				store_rec_state_name(h->to), h->why);
		return 0;
	}
	log_at(LOG_ERR, LOG_F(.rec_id = h->id), "broker: dispatch: %s\n", err);
	return broker__outage_faulted(b) ? 1 : -1;
}

/* Keep a result the store could not take, if this run sent its request;
 * otherwise the request goes again once the store is back (step 5). */
static void hold_result(broker_actions *a, const struct broker_held_result *h)
{
	if (!sent_has(a, h->id)) {
		log_at(LOG_WARNING, LOG_F(.rec_id = h->id), "broker: result of action rec-%" PRId64 " not "
			"recorded (the store is failing); the action is asked "
			"for again once it is back\n", h->id);
		return;
	}
	if (UTIL_GROW(a->held, a->n_held + 1, a->cap_held)) {
		sent_remove(a, h->id); /* asked for again instead */
		return;
	}
	a->held[a->n_held++] = *h;
	log_at(LOG_WARNING, LOG_F(.rec_id = h->id), "broker: result of recommendation %" PRId64 " (%s) "
		"kept in memory until the store takes it\n", h->id,
		store_rec_state_name(h->to));
}

/* The results kept while the store failed, oldest first. Returns -1 if
 * the store failed again (the rest are kept). */
static int replay_held(broker *b)
{
	broker_actions *a = &b->actions;
	size_t i = 0;
	int rc = 0;

	while (i < a->n_held && (rc = record_result(b, &a->held[i])) <= 0)
		i++;
	if (i == 0)
		return rc > 0 ? -1 : 0;
	memmove(a->held, a->held + i, (a->n_held - i) * sizeof(*a->held));
	a->n_held -= i;
	return rc > 0 ? -1 : 0;
}

static void strays_summary(broker *b, int force);

/* The modes, once at the first pass and again whenever they change: what
 * this broker will carry out is in its log. */
static void log_modes(broker *b, const store_control *c)
{
	broker_actions *a = &b->actions;

	if (a->ctl_logged && !memcmp(a->ctl.mode, c->mode, sizeof(c->mode)) &&
	    a->ctl.paused == c->paused)
		return;
	log_at(LOG_NOTICE, NULL, "broker: %smodes: resize-up %s, resize-down %s, migrate "
		"%s; dispatching %s\n", a->ctl_logged ? "now " : "",
		store_mode_name(c->mode[STORE_ACT_RESIZE_UP]),
		store_mode_name(c->mode[STORE_ACT_RESIZE_DOWN]),
		store_mode_name(c->mode[STORE_ACT_MIGRATE]),
		c->paused ? "paused" : "on");
	a->ctl = *c;
	a->ctl_logged = 1;
}

void broker__actions_run(broker *b, int64_t round)
{
	store_control ctl;
	rec_list dispatched;
	uint32_t *migr;
	char err[256];

	if (b->outage.down)
		return; /* nothing is sent that the store cannot record first */
	if (replay_held(b))
		return;
	strays_summary(b, 0);
	if (uid_known(b))
		return;
	if (store_control_get(b->st, &ctl, err, sizeof(err))) {
		log_at(LOG_ERR, NULL, "broker: dispatch: %s\n", err);
		return;
	}
	if (list_state(b, STORE_REC_DISPATCHED, &dispatched))
		return;
	expire_timeouts(b, &dispatched);
	log_modes(b, &ctl);
	migr = calloc(b->reg.n_hosts ? b->reg.n_hosts : 1, sizeof(*migr));
	if (!ctl.paused && migr) {
		approve_automated(b, &ctl, round);
		count_migrations(b, &dispatched, migr);
		resend_unsent(b, &dispatched);
		broker__room_begin(b, dispatched.v, dispatched.n);
		send_approved(b, &ctl, migr, round);
	}
	free(migr);
	free(dispatched.v);
}

/* ---- results ---- */

/* A migration rec succeeded (or a late "done" said it did): the VM's
 * migrate_cooldown counts from the next round (docs/market.md,
 * "Migration"), in memory and in the store, whatever its registration
 * from the new host does. */
static void migrated(broker *b, const store_rec *r)
{
	uint32_t v = broker__registry_vm_find(&b->reg, r->vm_name);
	char err[300];

	if (v != BROKER_NO_SLOT)
		b->reg.vms[v].cfg.last_migrated = b->rounds.next;
	if (store_vm_set_last_migrated(b->st, r->vm_id, b->rounds.next, err,
				       sizeof(err)))
		log_at(LOG_ERR, LOG_F(.rec_id = r->id, .vm = r->vm_name),
		       "broker: store: %s\n", err);
}

static int count_event(const store_audit_row *row, void *ctx)
{
	int *n = ctx;

	*n += !strcmp(row->event, "action.late_result");
	return 0;
}

/* Has rec id had its late result recorded already? */
static int late_known(broker *b, int64_t id)
{
	char err[300];
	int n = 0;

	if (store_audit_list(b->st, id, count_event, &n, err, sizeof(err)))
		return 1; /* not knowing: not written again */
	return n > 0;
}

/* The result of r, failed by its timeout, from the host it was sent to:
 * r stays failed (a terminal state), and the late outcome is one audit row
 * on r (`bourse recs show`) and a log line; a late "done" of a migration
 * counts as the VM's migration (its cooldown). 0, or -1: not late (a
 * stray). */
static int late_result(broker *b, const store_rec *r,
		       const struct broker_held_result *h)
{
	char why[STORE_TEXT_MAX + 96], err[STORE_TEXT_MAX + 200];

	if (r->state != STORE_REC_FAILED ||
	    strncmp(r->state_reason, "timeout", 7) || late_known(b, r->id))
		return -1;
	snprintf(why, sizeof(why), "late result, after the timeout: %s; the "
		 "recommendation stays failed", h->why);
	if (store_audit(b->st, h->actor, "action.late_result", r->id, why,
			util_wall_ms(), err, sizeof(err)))
		log_at(LOG_ERR, LOG_F(.rec_id = r->id), "broker: store: %s\n",
		       err);
	log_at(LOG_WARNING, LOG_F(.rec_id = r->id, .vm = r->vm_name),
	       "broker: recommendation %" PRId64 " (failed: timeout): %s\n",
	       r->id, why);
	acted_now(b, broker__registry_vm_find(&b->reg, r->vm_name));
	if (h->to == STORE_REC_SUCCEEDED && r->kind == STORE_REC_MIGRATE)
		migrated(b, r);
	return 0;
}

/* The strays counted since the window began, in one log line and one
 * audit row, once BROKER_STRAY_SUMMARY_MS has passed since (or now, if
 * force). */
static void strays_summary(broker *b, int force)
{
	broker_actions *a = &b->actions;
	char why[STORE_TEXT_MAX * 2], err[STORE_TEXT_MAX + 200];

	if (!a->strays ||
	    (!force && util_now_ms() - a->strays_since <
			       BROKER_STRAY_SUMMARY_MS))
		return;
	snprintf(why, sizeof(why), "%" PRIu64 " stray action result%s in %"
		 PRId64 " s (for no action dispatched to the sender's host; "
		 "counted as dropped 'stray_result', not recorded); the "
		 "latest: %s", a->strays, a->strays == 1 ? "" : "s",
		 (util_now_ms() - a->strays_since + 999) / 1000, a->stray_last);
	log_at(LOG_WARNING, NULL, "broker: %s\n", why);
	if (!b->outage.down &&
	    store_audit(b->st, ACTOR, "action.stray_results", 0, why,
			util_wall_ms(), err, sizeof(err)))
		log_at(LOG_ERR, NULL, "broker: store: %s\n", err);
	a->strays = 0;
}

/* A result for no action dispatched to the host of connection ci: counted
 * (BROKER_DROP_STRAY), not answered, not recorded one row each. */
static void stray_result(broker *b, uint32_t ci, const wire_msg *e,
			 const char *what)
{
	broker_actions *a = &b->actions;
	const wire_action_result *res = &e->action_result;
	char id[WIRE_MAX_ID * 4 + 1], det[64 * 4 + 1], cut[64];

	broker__drop_count(b, &b->reg.conns[ci], BROKER_DROP_STRAY);
	if (!a->strays)
		a->strays_since = util_now_ms();
	a->strays++;
	snprintf(cut, sizeof(cut), "%s", res->detail);
	snprintf(a->stray_last, sizeof(a->stray_last), "action %s from %s: "
		 "%s (%s)", util_escape(id, sizeof(id), res->id), e->sender,
		 what, util_escape(det, sizeof(det), cut));
}

/* The host slot connection ci speaks for, or NO_SLOT. */
static const char *conn_host(const broker *b, uint32_t ci)
{
	uint32_t h = b->reg.conns[ci].host;

	return h == BROKER_NO_SLOT ? "" : b->reg.hosts[h].name;
}

static void fill_held(const wire_msg *e, struct broker_held_result *h)
{
	const wire_action_result *res = &e->action_result;
	int ok = res->status == WIRE_STATUS_OK;

	snprintf(h->actor, sizeof(h->actor), "agent:%s", e->sender);
	h->to = ok ? STORE_REC_SUCCEEDED : STORE_REC_FAILED;
	snprintf(h->why, sizeof(h->why), "%s%s%s", ok ? "done"
		 : res->status == WIRE_STATUS_TIMEOUT ? "failed (timeout)"
		 : res->status == WIRE_STATUS_UNSUPPORTED
		 ? "failed (unsupported)" : "failed",
		 res->detail[0] ? ": " : "", res->detail);
}

/* While the store is down: held if this run sent it to ci's host; else a
 * stray (one this run did not send is sent again once the store is
 * back: the agent answers it from its memory then). */
static void result_in_outage(broker *b, uint32_t ci, const wire_msg *e,
			     const struct broker_held_result *h)
{
	const struct broker_sent *s = sent_find(&b->actions, h->id);

	if (!s || !s->sent) { /* asked for again once the store is back */
		stray_result(b, ci, e, "not sent by this broker run (the "
			     "store is failing)");
		return;
	}
	if (s->host != b->reg.conns[ci].host) {
		stray_result(b, ci, e, "not sent to this host");
		return;
	}
	hold_result(&b->actions, h);
}

void broker__actions_result(broker *b, uint32_t ci, const wire_msg *e)
{
	const wire_action_result *res = &e->action_result;
	struct broker_held_result h;
	char err[256];
	store_rec r;
	int64_t created = 0;

	memset(&h, 0, sizeof(h));
	if (uid_known(b) ||
	    parse_action_id(b, res->id, &h.id, &created)) {
		stray_result(b, ci, e, "not an action id of this database");
		return;
	}
	fill_held(e, &h);
	if (b->outage.down) {
		result_in_outage(b, ci, e, &h);
		return;
	}
	if (store_rec_get(b->st, h.id, &r, err, sizeof(err))) {
		if (broker__outage_faulted(b))
			result_in_outage(b, ci, e, &h);
		else
			stray_result(b, ci, e, "no such recommendation");
		return;
	}
	/* only the host it was sent to (its connection, its key) answers */
	if (strcmp(r.from_host, conn_host(b, ci)) || r.created_ms != created) {
		stray_result(b, ci, e, "not sent to this host");
		return;
	}
	if (r.state != STORE_REC_DISPATCHED) {
		if (late_result(b, &r, &h))
			stray_result(b, ci, e, "it has a result already");
		return;
	}
	acted_now(b, broker__registry_vm_find(&b->reg, r.vm_name));
	/* said once per host and kind, not once per action */
	if (res->status == WIRE_STATUS_UNSUPPORTED) {
		host_cannot(b, broker__registry_host_find(&b->reg, r.from_host),
			    r.kind, res->detail[0] ? res->detail
			    : "no detail given");
		h.quiet = 1;
	}
	switch (record_result(b, &h)) {
	case 0:
		if (h.to == STORE_REC_SUCCEEDED && r.kind == STORE_REC_MIGRATE)
			migrated(b, &r);
		broker__room_done(b, &r, h.to == STORE_REC_SUCCEEDED);
		break;
	case 1:
		hold_result(&b->actions, &h);
		break;
	default:
		break;
	}
}

void broker__actions_release(broker *b)
{
	broker_actions *a = &b->actions;

	if (b->st) /* the strays of the last window, summarised */
		strays_summary(b, 1);

	free(a->sent);
	free(a->held);
	free(a->cannot);
	memset(a, 0, sizeof(*a));
}
