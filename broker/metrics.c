/*
 * metrics.c - /metrics: the broker in Prometheus's text exposition format
 * (version 0.0.4): every family once, with its HELP and TYPE lines, label
 * values escaped. Names start bourse_; sizes are in bytes and times in
 * seconds (Prometheus's base units). docs/api.md lists every series.
 *
 * The hosts, VMs, recommendations and modes are the store's (read through
 * the HTTP thread's connection, as `bourse hosts|vms|recs|mode` read
 * them); the round's time split, drops and connections are the loop's
 * (the snapshot).
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker_int.h"
#include "banned.h"

#define MIB 1048576.0

/* What /metrics shows of a host or a VM, gathered before writing: each
 * family's lines must be together. */
typedef struct m_host {
	char name[STORE_NAME_MAX];
	uint32_t id;
	int online;
	int64_t capacity_mib, awarded_mib;
	double price, utilization;
	uint32_t n_vms;
	int has_price; /* in the last round: the pressures below */
	double balloon, swap;
} m_host;

typedef struct m_vm {
	char name[STORE_NAME_MAX], host[STORE_NAME_MAX];
	int64_t demand_mib, assigned_mib, target_mib;
	double pressure;
} m_vm;

typedef struct m_state {
	FILE *f;
	m_host *hosts;
	size_t n_hosts, cap_hosts;
	m_vm *vms;
	size_t n_vms, cap_vms;
	int64_t recs[STORE_REC_MIGRATE + 1][STORE_REC_FAILED + 1]; /* by kind,
	                                                            * state */
	int oom;
} m_state;

/* ---- writing ------------------------------------------------------------ */

static void family(m_state *m, const char *name, const char *type,
		   const char *help)
{
	fprintf(m->f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value: backslash, double quote and newline escaped. */
static void label_value(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

/* name{k1="v1",k2="v2"} value: labels NULL-terminated pairs. */
static void sample(m_state *m, const char *name, const char *const *labels,
		   double v)
{
	fputs(name, m->f);
	for (size_t i = 0; labels && labels[i]; i += 2) {
		fprintf(m->f, "%s%s=\"", i ? "," : "{", labels[i]);
		label_value(m->f, labels[i + 1]);
		fputc('"', m->f);
	}
	if (labels && labels[0])
		fputc('}', m->f);
	if (isnan(v))
		fputs(" NaN\n", m->f);
	else if (isinf(v))
		fputs(v > 0 ? " +Inf\n" : " -Inf\n", m->f);
	else if (v == floor(v) && fabs(v) < 9007199254740992.0)
		fprintf(m->f, " %.0f\n", v); /* sizes, counts: exact */
	else
		fprintf(m->f, " %.10g\n", v);
}

static void one(m_state *m, const char *name, const char *type,
		const char *help, double v)
{
	family(m, name, type, help);
	sample(m, name, NULL, v);
}

/* A counter family with one sample per reason v[from..n), each labelled
 * reason="label(i)". */
static void by_reason(m_state *m, const char *name, const char *help,
		      int from, int n, const char *(*label)(int),
		      const uint64_t *v)
{
	family(m, name, "counter", help);
	for (int i = from; i < n; i++) {
		const char *l[] = { "reason", label(i), NULL };

		sample(m, name, l, (double)v[i]);
	}
}

/* ---- gathering ------------------------------------------------------------ */

static int take_host(const store_host_row *h, void *ctx)
{
	m_state *m = ctx;
	m_host *o;

	if (h->state == STORE_HOST_GONE)
		return 0;
	if (UTIL_GROW(m->hosts, m->n_hosts + 1, m->cap_hosts)) {
		m->oom = 1;
		return 1;
	}
	o = &m->hosts[m->n_hosts++];
	memset(o, 0, sizeof(*o));
	snprintf(o->name, sizeof(o->name), "%s", h->name);
	o->id = h->id;
	o->online = h->state == STORE_HOST_ONLINE;
	o->capacity_mib = h->capacity_mib;
	o->awarded_mib = h->awarded_mib;
	o->price = h->price;
	o->utilization = h->utilization;
	o->n_vms = h->n_vms;
	return 0;
}

static int take_price(const store_price_view *v, void *ctx)
{
	m_state *m = ctx;

	for (size_t i = 0; i < m->n_hosts; i++)
		if (m->hosts[i].id == v->p.host_id) {
			m->hosts[i].has_price = 1;
			m->hosts[i].balloon = v->p.balloon_pressure;
			m->hosts[i].swap = v->p.swap_pressure;
		}
	return 0;
}

static int take_vm(const store_vm_row *v, void *ctx)
{
	m_state *m = ctx;
	m_vm *o;

	if (v->state == STORE_VM_GONE)
		return 0;
	if (UTIL_GROW(m->vms, m->n_vms + 1, m->cap_vms)) {
		m->oom = 1;
		return 1;
	}
	o = &m->vms[m->n_vms++];
	snprintf(o->name, sizeof(o->name), "%s", v->name);
	snprintf(o->host, sizeof(o->host), "%s", v->host_name);
	o->demand_mib = v->demand_mib;
	o->assigned_mib = v->assigned_mib;
	o->target_mib = v->target_mib;
	o->pressure = v->pressure;
	return 0;
}

static int gather(m_state *m, const broker_api_req *r, char *err, size_t errlen)
{
	if (store_hosts_list(r->st, take_host, m, err, errlen) ||
	    store_prices_list(r->st, 0, take_price, m, err, errlen) ||
	    (!r->no_vm_metrics &&
	     store_vms_list(r->st, take_vm, m, err, errlen)) ||
	    store_rec_counts_by_kind(r->st, m->recs, err, errlen))
		return m->oom ? util_err(err, errlen, "out of memory") : -1;
	return 0;
}

/* ---- the families ------------------------------------------------------- */

enum {
	H_ONLINE,
	H_CAPACITY,
	H_PRICE,
	H_UTIL,
	H_AWARDED,
	H_BALLOON,
	H_SWAP,
	H_VMS,
	H_N
};

static void hosts(m_state *m)
{
	static const char *const fam[H_N][2] = {
		{ "bourse_host_online", "1 if the host is heard from, 0 if "
					"lost (missed its heartbeats)" },
		{ "bourse_host_capacity_bytes", "the host's memory for VMs" },
		{ "bourse_host_price", "the host's price per MiB in the last "
				       "round it took part in" },
		{ "bourse_host_utilization", "what its VMs want over its "
					     "supply (1 = full)" },
		{ "bourse_host_awarded_bytes", "memory the market awarded "
					       "its VMs" },
		{ "bourse_host_balloon_pressure",
		  "shortfall held back from "
		  "VMs over supply, last round" },
		{ "bourse_host_swap_pressure", "host and guest swap rate over "
					       "the norm, last round" },
		{ "bourse_host_vms", "VMs on the host" },
	};

	for (int k = 0; k < H_N; k++) {
		family(m, fam[k][0], "gauge", fam[k][1]);
		for (size_t i = 0; i < m->n_hosts; i++) {
			const m_host *h = &m->hosts[i];
			const char *l[] = { "host", h->name, NULL };
			double v[H_N] = {
				h->online,
				h->capacity_mib * MIB,
				h->price,
				h->utilization,
				h->awarded_mib * MIB,
				h->balloon,
				h->swap,
				h->n_vms,
			};

			if ((k == H_BALLOON || k == H_SWAP) && !h->has_price)
				continue;
			sample(m, fam[k][0], l, v[k]);
		}
	}
}

static void vms(m_state *m)
{
	static const char *const fam[4][2] = {
		{ "bourse_vm_demand_bytes", "the VM's memory demand, its "
					    "latest bid" },
		{ "bourse_vm_assigned_bytes", "the memory the VM holds, its "
					      "latest bid" },
		{ "bourse_vm_target_bytes", "the memory the market awarded "
					    "the VM" },
		{ "bourse_vm_pressure", "demand over target x 100 (over 100: "
					"short of memory)" },
	};

	for (int k = 0; k < 4; k++) {
		family(m, fam[k][0], "gauge", fam[k][1]);
		for (size_t i = 0; i < m->n_vms; i++) {
			const m_vm *vm = &m->vms[i];
			const char *l[] = { "vm", vm->name, "host", vm->host,
					    NULL };
			double v[4] = { vm->demand_mib * MIB,
					vm->assigned_mib * MIB,
					vm->target_mib * MIB, vm->pressure };

			sample(m, fam[k][0], l, v[k]);
		}
	}
}

static void recs(m_state *m)
{
	static const struct {
		const char *name;
		store_rec_state st;
	} out[] = {
		{ "in_flight", STORE_REC_DISPATCHED },
		{ "succeeded", STORE_REC_SUCCEEDED },
		{ "failed", STORE_REC_FAILED },
	};

	family(m, "bourse_recommendations", "gauge",
	       "recommendations in the "
	       "store by kind and state");
	for (int k = STORE_REC_RESIZE; k <= STORE_REC_MIGRATE; k++)
		for (int s = STORE_REC_PENDING; s <= STORE_REC_FAILED; s++) {
			const char *l[] = {
				"kind", store_rec_kind_name((store_rec_kind)k),
				"state",
				store_rec_state_name((store_rec_state)s), NULL
			};

			sample(m, "bourse_recommendations", l,
			       (double)m->recs[k][s]);
		}
	family(m, "bourse_actions", "gauge",
	       "actions dispatched to agents, by "
	       "kind and outcome (in_flight: no result yet; failed includes "
	       "timeouts)");
	for (int k = STORE_REC_RESIZE; k <= STORE_REC_MIGRATE; k++)
		for (size_t o = 0; o < sizeof(out) / sizeof(out[0]); o++) {
			const char *l[] = {
				"kind", store_rec_kind_name((store_rec_kind)k),
				"outcome", out[o].name, NULL
			};

			sample(m, "bourse_actions", l,
			       (double)m->recs[k][out[o].st]);
		}
}

static int control(m_state *m, const broker_api_req *r, char *err,
		   size_t errlen)
{
	store_control c;

	if (store_control_get(r->st, &c, err, errlen))
		return -1;
	family(m, "bourse_mode", "gauge",
	       "1 for the mode each kind of action "
	       "is in");
	for (int a = 0; a < STORE_N_ACTS; a++)
		for (int md = STORE_MODE_RECOMMEND; md <= STORE_MODE_AUTOMATED;
		     md++) {
			const char *l[] = {
				"action", store_action_name((store_action)a),
				"mode", store_mode_name((store_mode)md), NULL
			};

			sample(m, "bourse_mode", l, (int)c.mode[a] == md);
		}
	one(m, "bourse_dispatch_paused", "gauge",
	    "1 while dispatching is "
	    "paused (bourse pause)",
	    c.paused);
	return 0;
}

static void rounds(m_state *m, const broker_api_req *r)
{
	static const char *const phase[3] = { "market", "store", "awards" };
	const broker_snapshot *s = r->snap;

	one(m, "bourse_broker_start_time_seconds", "gauge",
	    "when the broker "
	    "started, Unix time",
	    (double)s->started_ms / 1000);
	one(m, "bourse_rounds_total", "counter",
	    "rounds run since the broker "
	    "started",
	    (double)s->rounds);
	one(m, "bourse_rounds_not_persisted_total", "counter",
	    "rounds the "
	    "store refused since the broker started",
	    (double)s->store_errors);
	if (s->round) {
		one(m, "bourse_last_round", "gauge", "the last round's number",
		    (double)s->round);
		one(m, "bourse_last_round_timestamp_seconds", "gauge",
		    "when "
		    "the last round started, Unix time",
		    (double)s->round_wall_ms / 1000);
		one(m, "bourse_last_round_age_seconds", "gauge",
		    "how long ago "
		    "the last round started",
		    (double)(r->now_ms - s->round_wall_ms) / 1000);
		family(m, "bourse_round_duration_seconds", "gauge",
		       "the last "
		       "round's time by phase (store and awards 0 when it "
		       "was not persisted)");
		for (int i = 0; i < 3; i++) {
			const char *l[] = { "phase", phase[i], NULL };

			sample(m, "bourse_round_duration_seconds", l,
			       (double)s->split_us[i] / 1e6);
		}
	}
}

static void traffic(m_state *m, const broker_snapshot *s)
{
	one(m, "bourse_messages_received_total", "counter",
	    "frames received "
	    "from agents",
	    (double)s->msgs_in);
	by_reason(m, "bourse_messages_dropped_total", "frames refused, by reason",
		  1, BROKER_N_DROPS, broker__drop_name, s->drops);
	one(m, "bourse_connections", "gauge",
	    "agent connections the broker "
	    "knows",
	    s->conns);
	one(m, "bourse_connections_bound", "gauge",
	    "... of which speak for a "
	    "host",
	    s->conns_bound);
	one(m, "bourse_curve_handshakes_refused_total", "counter",
	    "CURVE "
	    "handshakes refused: key not in the allow-list",
	    (double)s->keys_refused);
	by_reason(m, "bourse_connections_closed_total",
		  "agent connections the broker closed, by reason", 0,
		  BROKER_N_CUTS, broker__cut_label, s->cuts);
	one(m, "bourse_accept_failures_total", "counter",
	    "connections the system could not accept (accept(2) failed: "
	    "out of descriptors, say)",
	    (double)s->accept_failed);
}

int broker__metrics_render(const broker_api_req *r, char **body, size_t *len,
			   char *err, size_t errlen)
{
	m_state m;
	int rc = -1;

	memset(&m, 0, sizeof(m));
	*body = NULL;
	*len = 0;
	if (gather(&m, r, err, errlen))
		goto out;
	m.f = open_memstream(body, len);
	if (!m.f) {
		util_err(err, errlen, "out of memory");
		goto out;
	}
	hosts(&m);
	if (!r->no_vm_metrics)
		vms(&m);
	recs(&m);
	rc = control(&m, r, err, errlen);
	rounds(&m, r);
	traffic(&m, r->snap);
	if (fclose(m.f) != 0 && rc == 0)
		rc = util_err(err, errlen, "out of memory");
	if (rc) {
		free(*body);
		*body = NULL;
	}
out:
	free(m.hosts);
	free(m.vms);
	return rc;
}
