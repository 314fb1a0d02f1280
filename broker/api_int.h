/*
 * api_int.h - what api.c (routing, who may call, bodies, writes) and
 * api_read.c (the reads and the JSON of each row) share. Not an API: only
 * those two include it; broker_int.h declares what http.c calls.
 */
#ifndef BOURSE_BROKER_API_INT_H
#define BOURSE_BROKER_API_INT_H

#include <stdint.h>

#include <json-c/json.h>

#include "broker_int.h"

#define API_LIMIT_DEFAULT 100 /* recs, events: entries by default */
#define API_LIMIT_MAX 10000
#define API_PRICE_ROUNDS 60 /* prices: the last N rounds by default */
#define API_PRICE_ROUNDS_MAX 1000

/* Building JSON objects, shorter. */
#define ADD(j, k, v) json_object_object_add((j), (k), (v))
#define I64(v) json_object_new_int64(v)
#define STR(v) json_object_new_string(v)

/* One call: the request, the route's id and the answer being made. */
typedef struct api_call {
	const broker_api_req *r;
	int64_t id;       /* the route's '#' segment, or 0 */
	json_object *out; /* the answer (200); owned, freed by api.c */
	char msg[640];    /* the error (any other status) */
	int full;         /* a list reached its limit */
	void *ctx;        /* a list's filter */
} api_call;

/* A route's handler: the status; out set for 200, msg otherwise. */
typedef unsigned (*api_fn)(api_call *a);

/* api.c: the error message of status into a->msg; returns status. */
unsigned broker__api_fail(api_call *a, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The store refused with err: 503 if the file failed (locked, full,
 * I/O: try again), else status. */
unsigned broker__api_store_failed(api_call *a, const char *err,
				  unsigned status);

/* api_read.c: the JSON of a recommendation and of the control row (new
 * objects, the caller's). */
json_object *broker__api_rec_json(const store_rec *r);
json_object *broker__api_control_json(const store_control *c);
/* Rec a->id into *rec: 0, or 404 (503 if the store failed). */
unsigned broker__api_rec_read(api_call *a, store_rec *rec);

/* api_read.c: the GET routes (docs/api.md). */
unsigned broker__api_get_status(api_call *a);
unsigned broker__api_get_hosts(api_call *a);
unsigned broker__api_get_vms(api_call *a);
unsigned broker__api_get_recs(api_call *a);
unsigned broker__api_get_rec(api_call *a);
unsigned broker__api_get_events(api_call *a);
unsigned broker__api_get_prices(api_call *a);
unsigned broker__api_get_mode(api_call *a);

#endif
