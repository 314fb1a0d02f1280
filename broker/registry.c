/*
 * registry.c - the broker's hosts, VMs and connections.
 *
 * Slots live in growable arrays (a pointer into them is valid until the next
 * add); names and routing ids are found through bindex. Hosts and VMs are
 * never removed during a run (a departed one is marked), connections are
 * swept when idle and bound to no host.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker_int.h"
#include "banned.h"

/* The store keeps names in buffers of its own size (store.h). */
_Static_assert(STORE_NAME_MAX == WIRE_MAX_NAME + 1,
	       "a name the wire allows fits the store's buffer, and no more");

_Static_assert(WIRE_MAX_NAME <= UINT8_MAX, "name_len is a uint8_t");

static const void *conn_key(void *ctx, uint32_t v, size_t *len)
{
	registry *r = ctx;

	*len = r->conns[v].rid_len;
	return r->conns[v].rid;
}

static const void *host_key(void *ctx, uint32_t v, size_t *len)
{
	registry *r = ctx;

	*len = r->hosts[v].name_len;
	return r->hosts[v].name;
}

static const void *vm_key(void *ctx, uint32_t v, size_t *len)
{
	registry *r = ctx;

	*len = r->vms[v].name_len;
	return r->vms[v].name;
}

void broker__registry_release(registry *r)
{
	broker__index_release(&r->conn_ix);
	broker__index_release(&r->host_ix);
	broker__index_release(&r->vm_ix);
	free(r->conns);
	free(r->hosts);
	free(r->vms);
	memset(r, 0, sizeof(*r));
}

uint32_t broker__registry_host_find(const registry *r, const char *name)
{
	uint32_t v;

	if (broker__index_find(&r->host_ix, name, strlen(name), host_key,
			       (void *)r, &v))
		return v;
	return BROKER_NO_SLOT;
}

uint32_t broker__registry_vm_find(const registry *r, const char *name)
{
	uint32_t v;

	if (broker__index_find(&r->vm_ix, name, strlen(name), vm_key, (void *)r,
			       &v))
		return v;
	return BROKER_NO_SLOT;
}

uint32_t broker__registry_host_add(registry *r, const char *name)
{
	uint32_t v = broker__registry_host_find(r, name);

	if (v != BROKER_NO_SLOT)
		return v;
	if (UTIL_GROW(r->hosts, r->n_hosts + 1, r->cap_hosts))
		return BROKER_NO_SLOT;
	v = (uint32_t)r->n_hosts;
	bhost *h = &r->hosts[v];

	memset(h, 0, sizeof(*h));
	snprintf(h->name, sizeof(h->name), "%s", name);
	h->name_len = (uint8_t)strlen(h->name);
	h->conn = BROKER_NO_SLOT;
	if (broker__index_insert(&r->host_ix, v, host_key, r))
		return BROKER_NO_SLOT;
	r->n_hosts++;
	return v;
}

uint32_t broker__registry_vm_add(registry *r, const char *name)
{
	uint32_t v = broker__registry_vm_find(r, name);

	if (v != BROKER_NO_SLOT)
		return v;
	if (UTIL_GROW(r->vms, r->n_vms + 1, r->cap_vms))
		return BROKER_NO_SLOT;
	v = (uint32_t)r->n_vms;
	bvm *m = &r->vms[v];

	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->name_len = (uint8_t)strlen(m->name);
	m->host = BROKER_NO_SLOT;
	m->conn = BROKER_NO_SLOT;
	m->cfg.last_migrated = MARKET_NEVER;
	if (broker__index_insert(&r->vm_ix, v, vm_key, r))
		return BROKER_NO_SLOT;
	r->n_vms++;
	return v;
}

static uint32_t free_conn_slot(registry *r)
{
	for (size_t i = 0; i < r->n_conns; i++)
		if (!r->conns[i].live)
			return (uint32_t)i;
	if (UTIL_GROW(r->conns, r->n_conns + 1, r->cap_conns))
		return BROKER_NO_SLOT;
	return (uint32_t)r->n_conns++;
}

uint32_t broker__registry_conn(registry *r, const uint8_t *rid, size_t len,
			       int64_t now)
{
	uint32_t v;

	if (broker__index_find(&r->conn_ix, rid, len, conn_key, r, &v)) {
		r->conns[v].last_seen = now;
		return v;
	}
	if (len > BROKER_RID_MAX)
		return BROKER_NO_SLOT;
	v = free_conn_slot(r);
	if (v == BROKER_NO_SLOT)
		return v;
	bconn *c = &r->conns[v];

	memset(c, 0, sizeof(*c));
	memcpy(c->rid, rid, len);
	c->rid_len = len;
	c->host = BROKER_NO_SLOT;
	c->last_seen = now;
	c->live = 1;
	c->tokens = -1;
	if (broker__index_insert(&r->conn_ix, v, conn_key, r)) {
		c->live = 0;
		return BROKER_NO_SLOT;
	}
	return v;
}

void broker__registry_vm_place(registry *r, bvm *m, uint32_t host, int gone)
{
	if (m->host != BROKER_NO_SLOT && !m->gone)
		r->hosts[m->host].n_vms--;
	m->host = host;
	m->gone = gone;
	if (host != BROKER_NO_SLOT && !gone)
		r->hosts[host].n_vms++;
}

int broker__registry_probation(const bhost *h, int64_t round, int64_t rounds)
{
	return rounds > 0 && round - h->online_round < rounds;
}

void broker__registry_sweep_conns(registry *r, int64_t now, int64_t idle_ms)
{
	for (size_t i = 0; i < r->n_conns; i++) {
		bconn *c = &r->conns[i];

		if (!c->live || now - c->last_seen <= idle_ms)
			continue;
		if (c->host != BROKER_NO_SLOT &&
		    r->hosts[c->host].conn == (uint32_t)i)
			continue; /* the host's liveness decides about it */
		broker__index_remove(&r->conn_ix, c->rid, c->rid_len, conn_key,
				     r);
		c->live = 0;
	}
}

static int load_host(const store_host_row *row, void *ctx)
{
	registry *r = ((void **)ctx)[0];
	const int64_t *now = ((void **)ctx)[1];
	uint32_t v = broker__registry_host_add(r, row->name);

	if (v == BROKER_NO_SLOT)
		return -1;
	bhost *h = &r->hosts[v];

	h->db_id = row->id;
	h->capacity_mib = row->capacity_mib;
	h->reserve_mib = row->reserve_mib;
	snprintf(h->uri, sizeof(h->uri), "%s", row->uri);
	h->online = row->state == STORE_HOST_ONLINE;
	h->last_seen = *now; /* a grace period of one liveness timeout */
	return 0;
}

static int load_vm(const store_vm_row *row, void *ctx)
{
	registry *r = ((void **)ctx)[0];
	uint32_t host = broker__registry_host_find(r, row->host_name);
	uint32_t v = broker__registry_vm_add(r, row->name);

	if (v == BROKER_NO_SLOT)
		return -1;
	bvm *m = &r->vms[v];

	m->db_id = row->id;
	m->last_bid = *(const int64_t *)((void **)ctx)[1]; /* a grace period:
	                                     * its host may speak for it */
	broker__registry_vm_place(r, m, host, row->state == STORE_VM_GONE);
	m->cfg.last_migrated = row->last_migrated_round;
	return 0;
}

int broker__registry_load(registry *r, store *st, int64_t now, char *err,
			  size_t errlen)
{
	void *ctx[2] = { r, &now };

	if (store_hosts_list(st, load_host, ctx, err, errlen))
		return -1;
	return store_vms_list(st, load_vm, ctx, err, errlen);
}

void broker__registry_host_row(const bhost *h, store_host_state st,
			       int64_t last_seen_ms, store_host_row *row)
{
	memset(row, 0, sizeof(*row));
	snprintf(row->name, sizeof(row->name), "%s", h->name);
	snprintf(row->uri, sizeof(row->uri), "%s", h->uri);
	row->capacity_mib = h->capacity_mib;
	row->reserve_mib = h->reserve_mib;
	row->state = st;
	row->last_seen_ms = last_seen_ms;
}

void broker__registry_vm_row(const registry *r, const bvm *m, store_vm_state st,
			     int64_t last_seen_ms, store_vm_row *row)
{
	memset(row, 0, sizeof(*row));
	snprintf(row->name, sizeof(row->name), "%s", m->name);
	row->host_id = r->hosts[m->host].db_id;
	row->startup_mib = m->cfg.startup;
	row->minimum_mib = m->cfg.minimum;
	row->maximum_mib = m->cfg.maximum;
	row->buffer_pct = m->cfg.buffer_pct;
	row->weight = m->cfg.weight;
	row->reservation_mib = m->cfg.reservation;
	row->limit_mib = m->cfg.limit;
	row->shares = m->cfg.shares;
	row->state = st;
	row->last_seen_ms = last_seen_ms;
	row->last_migrated_round = m->cfg.last_migrated;
}
