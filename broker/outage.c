/*
 * outage.c - when the store fails: the streak of rounds the store refused,
 * and what the broker does about it (docs/storage.md, "When the store
 * fails").
 *
 * When the store refuses the round (locked by another process, disk full)
 * the round still clears and its awards go out (round.c); the error is
 * logged once per streak of failed rounds, the store is tried again at the
 * next round, and actions.c waits. Once a round is written again the hosts
 * and VMs are written again too (their registrations or state changes may
 * have failed meanwhile). A streak longer than --store-outage-s stops the
 * broker (b->outage.gave_up). A damaged file (SQLITE_CORRUPT, SQLITE_NOTADB)
 * stops it at the first round that meets it: waiting cannot mend it.
 *
 * round.c calls broker__outage_retry() before it writes a round and
 * broker__outage_written() after; actions.c reads b->outage.down.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker_int.h"
#include "banned.h"

/* What an operator does about a fault that lasted too long. */
static const char *outage_advice(store_fault f)
{
	switch (f) {
	case STORE_FAULT_LOCKED:
		return "end the process that holds its lock ('fuser -v' on the "
		       "file lists who has it open)";
	case STORE_FAULT_FULL:
		return "free space on its disk (or raise the broker's file-size "
		       "limit)";
	case STORE_FAULT_CORRUPT:
		return "restore it from a backup or recover it ('sqlite3 FILE "
		       ".recover | sqlite3 NEW.db')";
	default:
		return "check the file, its permissions and its disk";
	}
}

/* The streak has lasted store_outage_ms: stop cleanly. The log gets the
 * details; broker_run() returns what happened and what to do, short enough
 * for its caller's message buffer. */
static void give_up(broker *b, int64_t round, const char *err)
{
	broker_outage *o = &b->outage;
	int64_t s = (util_now_ms() - o->since) / 1000;

	o->gave_up = 1;
	log_at(LOG_ERR, LOG_F(.round = round),
	       "broker: store: giving up: rounds %" PRId64 " to %" PRId64
	       " not persisted, everything persisted before is intact: "
	       "%s\n",
	       o->first_lost, round, err);
	snprintf(o->msg, sizeof(o->msg), "stopped: the database "
		 "%s refused every round for %" PRId64 " s; to recover, %s, "
		 "then start the broker again", b->cfg->db_path, s,
		 outage_advice(store_last_fault(b->st)));
}

/* The store met a damaged file: stop now, saying how to get a sound one. */
static void give_up_corrupt(broker *b, int64_t round, const char *err)
{
	broker_outage *o = &b->outage;
	const char *db = b->cfg->db_path;

	o->gave_up = 1;
	o->damaged = 1;
	fprintf(stderr, "broker: store: the database is damaged, stopping at "
		"once (round %" PRId64 " not persisted; waiting cannot mend a "
		"damaged file): %s\n", round, err);
	snprintf(o->msg, sizeof(o->msg), "stopped: the database %s is "
		 "damaged (SQLITE_CORRUPT or SQLITE_NOTADB; the broker's log "
		 "has SQLite's words). Restore it from a backup; or recover "
		 "what it holds: 'sqlite3 %s .recover | sqlite3 %s.recovered', "
		 "check it ('sqlite3 %s.recovered \"PRAGMA integrity_check\"'), "
		 "move it in place of %s (and remove %s-wal and %s-shm); then "
		 "start the broker again", db, db, db, db, db, db, db);
}

/* The first round of a streak: logged with SQLite's words and what the
 * broker does meanwhile. */
static void streak_starts(broker *b, int64_t round, const char *err)
{
	broker_outage *o = &b->outage;
	int64_t limit = b->cfg->store_outage_ms;
	char stop[64];

	o->down = 1;
	o->since = util_now_ms();
	o->first_lost = round;
	o->lost = 0;
	log_at(LOG_ERR, LOG_F(.round = round),
	       "broker: store: round %" PRId64 " not persisted: "
	       "%s\n",
	       round, err);
	snprintf(stop, sizeof(stop), "; the broker stops if it has not "
		 "after %" PRId64 " s", limit / 1000);
	log_at(LOG_WARNING, NULL,
	       "broker: store: rounds go on in memory and awards "
	       "are sent; nothing is dispatched until the store takes a "
	       "round again (tried every round%s)\n",
	       limit ? stop : "");
}

/* Round round was not persisted. The first of a streak is logged; the
 * rest only if the fault changes (the round's own line says "not
 * persisted"). */
static void failed(broker *b, int64_t round, const char *err)
{
	broker_outage *o = &b->outage;
	store_fault f = store_last_fault(b->st);
	int64_t limit = b->cfg->store_outage_ms;

	o->errors++;
	if (f == STORE_FAULT_CORRUPT) {
		give_up_corrupt(b, round, err);
		return;
	}
	if (!o->down)
		streak_starts(b, round, err);
	else if (f != o->why)
		log_at(LOG_ERR, LOG_F(.round = round),
		       "broker: store: still failing, now: round %" PRId64
		       " not persisted: %s\n",
		       round, err);
	o->why = f;
	o->lost++;
	if (limit && util_now_ms() - o->since >= limit)
		give_up(b, round, err);
}

/* Round round was persisted after a streak. */
static void recovered(broker_outage *o, int64_t round)
{
	log_at(LOG_NOTICE, NULL,
	       "broker: store recovered after %" PRIu64 " round%s: "
	       "rounds %" PRId64 " to %" PRId64 " were not persisted (a gap in "
	       "the rounds table); persisting again from round %" PRId64 "\n",
	       o->lost, o->lost == 1 ? "" : "s", o->first_lost, round - 1,
	       round);
	o->down = 0;
	o->why = STORE_FAULT_NONE;
}

/* A registered host as the store keeps it, its state first (which also
 * marks its VMs, and is audited only if it changed). */
static int resync_host(broker *b, const bhost *h, char *err, size_t errlen)
{
	store_host_state st = h->online ? STORE_HOST_ONLINE : STORE_HOST_LOST;
	store_host_row row;

	if (store_host_set_state(b->st, h->db_id, st, util_wall_ms(), err,
				 errlen))
		return -1;
	broker__registry_host_row(h, st, util_wall_ms() -
				  (util_now_ms() - h->last_seen), &row);
	return store_host_upsert(b->st, &row, err, errlen);
}

static int resync_vm(broker *b, const bvm *m, char *err, size_t errlen)
{
	store_vm_state st = b->reg.hosts[m->host].online ? STORE_VM_ACTIVE
							   : STORE_VM_LOST;
	store_vm_row row;

	broker__registry_vm_row(&b->reg, m, st, util_wall_ms(), &row);
	return store_vm_upsert(b->st, &row, err, errlen);
}

/* Some write failed since the last round (a registration, a host lost or
 * back): write every host and VM registered in this run as the broker
 * knows them now. Hosts and VMs are few next to a round's rows, and this
 * runs once per outage. Stops at the first failure, to try again after the
 * next round. */
static void resync_registry(broker *b)
{
	registry *r = &b->reg;
	size_t nh = 0, nv = 0;
	char err[300];

	for (size_t i = 0; i < r->n_hosts; i++) {
		const bhost *h = &r->hosts[i];

		if (!h->registered || !h->db_id)
			continue;
		if (resync_host(b, h, err, sizeof(err)))
			goto fail;
		nh++;
	}
	for (size_t i = 0; i < r->n_vms; i++) {
		const bvm *m = &r->vms[i];

		if (!m->registered || m->gone || !m->db_id ||
		    m->host == BROKER_NO_SLOT || !r->hosts[m->host].db_id)
			continue;
		if (resync_vm(b, m, err, sizeof(err)))
			goto fail;
		nv++;
	}
	b->outage.resync = 0;
	log_at(LOG_NOTICE, NULL,
	       "broker: store: hosts and VMs written again (%zu "
	       "hosts, %zu VMs)\n",
	       nh, nv);
	return;
fail:
	log_at(LOG_WARNING, NULL,
	       "broker: store: hosts and VMs not written again yet: "
	       "%s\n",
	       err);
}

/* Did the store's last refusal come from the file (locked, full, I/O)?
 * Then the store holds its writes until the next round: stop the pass. */
int broker__outage_faulted(const broker *b)
{
	return store_last_fault(b->st) != STORE_FAULT_NONE;
}

void broker__outage_retry(broker *b)
{
	if (store_faults(b->st) != b->outage.faults_seen)
		b->outage.resync = 1; /* a write between rounds failed */
	store_retry(b->st);
}

void broker__outage_written(broker *b, int64_t round, const char *err)
{
	broker_outage *o = &b->outage;

	if (err)
		failed(b, round, err);
	else if (o->down)
		recovered(o, round);
	if (!err && o->resync)
		resync_registry(b);
	o->faults_seen = store_faults(b->st);
}
