/*
 * test_http.c - the broker's HTTP server end to end (docs/api.md): a real
 * broker started with --http and trace agents (live.h: real processes, a
 * real SQLite file), driven by a real HTTP client, curl.
 *
 *  - /metrics: checked line by line by promtool (`promtool check
 *    metrics`, Debian's prometheus package), and the series the issue
 *    asks for are there with sane values;
 *  - every route of the JSON API: the reads and their filters; each write
 *    without a token (401), with an unknown one (401), with a good one
 *    (200, and the audit row in the store names api:<token name>); bad
 *    input 400, unknown routes and ids 404, a wrong method 405, an illegal
 *    transition 409, a body too big 413;
 *  - without a token file writes are refused (403); over TLS (a
 *    certificate made by openssl) with --http-no-vm-metrics;
 *  - the flags: bad ones exit 2, a token file others may read exits 1
 *    saying "permission".
 * No timing is asserted: the tests wait for what they expect.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "live.h"
#include "util.h"
#include "banned.h"

#define TOKEN "s3cret-token-of-the-test-0123456789"
#define BODY_MAX (1 << 20)
#define BROKER_BODY_MAX 4096 /* broker_int.h, BROKER_HTTP_BODY_MAX */

/* ---- the client ---------------------------------------------------------- */

struct resp {
	int code; /* HTTP status; 0: no answer */
	char body[BODY_MAX];
	json_object *json; /* the body parsed, if it is JSON */
};

static void slurp(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, size - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
}

/* curl METHOD URL [with the bearer token] [with body]; *extra: more curl
 * arguments (NULL-terminated, may be NULL). */
static void curl_ex(struct live *l, struct resp *r, const char *method,
		    const char *url, const char *token, const char *body,
		    const char *const *extra)
{
	char out[160], code[160], auth[300], data[170], file[160];
	const char *argv[32] = { "curl", "-sS",          "-o", out,
				 "-w",   "%{http_code}", "-X", method };
	size_t n = 8;
	pid_t pid;
	int st;

	snprintf(out, sizeof(out), "%s/curl.body", l->dir);
	snprintf(code, sizeof(code), "%s/curl.code", l->dir);
	snprintf(file, sizeof(file), "%s/curl.data", l->dir);
	snprintf(data, sizeof(data), "@%s", file);
	if (token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		argv[n++] = "-H";
		argv[n++] = auth;
	}
	if (body) {
		FILE *f = fopen(file, "w");

		assert_non_null(f);
		fputs(body, f);
		assert_int_equal(fclose(f), 0);
		argv[n++] = "-H";
		argv[n++] = "Content-Type: application/json";
		argv[n++] = "--data-binary";
		argv[n++] = data;
	}
	while (extra && *extra && n < 30)
		argv[n++] = *extra++;
	argv[n++] = url;
	argv[n] = NULL;
	unlink(out);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(code, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (fd < 0 || dup2(fd, 1) < 0)
			_exit(126);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) != 127);
	slurp(code, r->body, sizeof(r->body));
	r->code = (int)strtol(r->body, NULL, 10);
	slurp(out, r->body, sizeof(r->body));
	json_object_put(r->json);
	r->json = json_tokener_parse(r->body);
}

static struct resp *resp_new(void)
{
	struct resp *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	return r;
}

static void resp_free(struct resp *r)
{
	json_object_put(r->json);
	free(r);
}

/* The server's base URL, from the broker's log line "broker: http on
 * ADDR:PORT (...)" (port 0: the system chose). */
static void learn_http(struct live *l, const char *scheme, char *url,
		       size_t size)
{
	static const char what[] = "broker: http on ";
	int64_t end = util_now_ms() + WAIT_MS;

	for (;;) {
		char line[512];
		FILE *f = fopen(l->blog, "r");

		while (f && fgets(line, sizeof(line), f)) {
			const char *s = strstr(line, what);

			if (s && strchr(s, '(')) {
				s += sizeof(what) - 1;
				snprintf(url, size, "%s://%.*s", scheme,
					 (int)strcspn(s, " "), s);
				fclose(f);
				return;
			}
		}
		if (f)
			fclose(f);
		if (util_now_ms() > end)
			fail_msg("no '%s' line in %s", what, l->blog);
		live_sleep_ms(20);
	}
}

static void get(struct live *l, struct resp *r, const char *base,
		const char *path)
{
	char url[512];

	snprintf(url, sizeof(url), "%s%s", base, path);
	curl_ex(l, r, "GET", url, NULL, NULL, NULL);
}

static void post(struct live *l, struct resp *r, const char *base,
		 const char *path, const char *token, const char *body)
{
	char url[512];

	snprintf(url, sizeof(url), "%s%s", base, path);
	curl_ex(l, r, "POST", url, token, body, NULL);
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !v)
		return "";
	return json_object_get_string(v);
}

static int64_t jint(json_object *o, const char *key)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v))
		return -1;
	return json_object_get_int64(v);
}

/* The status is code and the body JSON (an error: with its message). */
static void expect(const struct resp *r, int code)
{
	if (r->code != code)
		fail_msg("HTTP %d, not %d: %s", r->code, code, r->body);
	assert_non_null(r->json);
	if (code != 200)
		assert_true(strlen(jstr(r->json, "error")) > 0);
}

/* ---- the cluster ---------------------------------------------------------- */

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

/* A cluster (live.h) whose broker serves HTTP on a port the system
 * chooses, with a token file (named ops) unless no_tokens; extra: more
 * broker flags. */
static void start_http_cluster(struct live *l, int no_tokens,
			       const char *const *extra, const char *scheme,
			       char *base, size_t size)
{
	char tokens[160];
	const char *args[12] = { "--http", "127.0.0.1:0" };
	size_t n = 2;

	snprintf(tokens, sizeof(tokens), "%s/tokens", l->dir);
	write_file(tokens,
		   "# who may write\n\nops " TOKEN "\n"
		   "backup another-token-0123456789\n",
		   0600);
	if (!no_tokens) {
		args[n++] = "--http-token-file";
		args[n++] = tokens;
	}
	while (extra && *extra && n < 11)
		args[n++] = *extra++;
	args[n] = NULL;
	live_start_cluster_with(l, args);
	learn_http(l, scheme, base, size);
}

/* ---- /metrics ------------------------------------------------------------- */

/* The value of the sample line that starts with series + " ", or fail. */
static double series(const char *text, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = text; p && *p; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		if (!strncmp(p, name, n) && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	}
	fail_msg("no series %s in /metrics", name);
	return 0;
}

static void promtool_check(struct live *l, const char *text)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/metrics.txt", l->dir);
	write_file(path, text, 0600);
	/* every line by the format's rules; lint findings fail it too */
	assert_int_equal(live_run_cli("promtool check metrics < '%s'", path),
			 0);
}

/* Every bourse_ name the Grafana dashboard queries is a family of text
 * (a "# TYPE name" line). */
static void dashboard_names_exist(const char *text)
{
	char path[512], buf[1 << 16], type[160];
	int n = 0;

	snprintf(path, sizeof(path), "%s/contrib/grafana/bourse-dashboard.json",
		 BOURSE_SOURCE_DIR);
	slurp(path, buf, sizeof(buf));
	for (const char *p = strstr(buf, "bourse_"); p;
	     p = strstr(p + 1, "bourse_")) {
		size_t len = strspn(p, "abcdefghijklmnopqrstuvwxyz_");

		if (p > buf && (p[-1] == '-' || p[-1] == '_'))
			continue; /* the dashboard's uid, not a series */
		snprintf(type, sizeof(type), "# TYPE %.*s ", (int)len, p);
		if (!strstr(text, type))
			fail_msg("the dashboard queries %.*s, not in /metrics",
				 (int)len, p);
		n++;
	}
	assert_true(n >= 15);
}

static void test_metrics(void **state)
{
	struct live *l = *state;
	struct resp *r = resp_new();
	char base[160];
	double v, sum = 0;

	start_http_cluster(l, 0, NULL, "http", base, sizeof(base));
	/* a round after dispatching started: actions have outcomes */
	live_wait_rounds_after(l, live_last_round(l), 3);
	/* both hosts priced by the last round (a slow one may be settling) */
	assert_true(
		live_wait_at_least(l, 2, WAIT_MS,
				   "SELECT COUNT(*) FROM "
				   "prices WHERE round = (SELECT MAX(round) "
				   "FROM prices) AND price > 0") >= 0);
	get(l, r, base, "/metrics");
	assert_int_equal(r->code, 200);
	promtool_check(l, r->body);
	assert_true(series(r->body, "bourse_host_online{host=\"host-a\"}") ==
		    1);
	assert_true(series(r->body, "bourse_host_online{host=\"host-b\"}") ==
		    1);
	assert_true(series(r->body, "bourse_host_price{host=\"host-a\"}") > 0);
	v = series(r->body, "bourse_host_utilization{host=\"host-a\"}");
	assert_true(v > 0 && v < 5);
	assert_true(series(r->body,
			   "bourse_host_capacity_bytes{host=\"host-a\"}") ==
		    8192.0 * 1048576);
	assert_true(series(r->body,
			   "bourse_host_awarded_bytes{host=\"host-a\"}") > 0);
	assert_true(series(r->body,
			   "bourse_host_balloon_pressure{host=\"host-a\"}") >=
		    0);
	assert_true(series(r->body,
			   "bourse_host_swap_pressure{host=\"host-b\"}") >= 0);
	assert_true(series(r->body, "bourse_vm_demand_bytes{vm=\"vm-1\","
				    "host=\"host-a\"}") > 0);
	assert_true(series(r->body, "bourse_vm_assigned_bytes{vm=\"vm-5\","
				    "host=\"host-b\"}") > 0);
	assert_true(series(r->body, "bourse_vm_pressure{vm=\"vm-1\","
				    "host=\"host-a\"}") > 0);
	for (int s = STORE_REC_PENDING; s <= STORE_REC_FAILED; s++) {
		char name[128];

		snprintf(name, sizeof(name),
			 "bourse_recommendations{kind="
			 "\"resize\",state=\"%s\"}",
			 store_rec_state_name((store_rec_state)s));
		sum += series(r->body, name);
	}
	assert_true(sum == (double)live_q_int(l, "SELECT COUNT(*) FROM recs "
						 "WHERE kind = 1"));
	assert_true(series(r->body, "bourse_actions{kind=\"migrate\","
				    "outcome=\"failed\"}") >= 0);
	assert_true(series(r->body, "bourse_actions{kind=\"resize\","
				    "outcome=\"succeeded\"}") >= 0);
	v = series(r->body, "bourse_round_duration_seconds{phase=\"market\"}");
	assert_true(v > 0 && v < 5);
	assert_true(series(r->body, "bourse_round_duration_seconds{phase="
				    "\"store\"}") >= 0);
	assert_true(series(r->body, "bourse_round_duration_seconds{phase="
				    "\"awards\"}") >= 0);
	v = series(r->body, "bourse_last_round_age_seconds");
	assert_true(v >= 0 && v < 10);
	assert_true(series(r->body, "bourse_rounds_total") >= 3);
	assert_true(series(r->body, "bourse_messages_received_total") > 0);
	assert_true(series(r->body, "bourse_messages_dropped_total{reason="
				    "\"rate_limited\"}") == 0);
	assert_true(series(r->body, "bourse_messages_dropped_total{reason="
				    "\"malformed\"}") == 0);
	assert_true(series(r->body, "bourse_connections") >= 2);
	assert_true(series(r->body, "bourse_connections_bound") >= 2);
	assert_true(series(r->body, "bourse_mode{action=\"migrate\","
				    "mode=\"manual\"}") == 1);
	assert_true(series(r->body, "bourse_dispatch_paused") == 0);
	dashboard_names_exist(r->body);
	/* only GET and HEAD */
	post(l, r, base, "/metrics", TOKEN, NULL);
	expect(r, 405);
	live_stop_all_cleanly(l);
	resp_free(r);
}

/* A ZeroMQ peer that connects (its handshake done) and never says a word
 * is closed after --handshake-timeout-s (1 s here) and the liveness
 * timeout, and counted in /metrics under reason "silent"; the other
 * reasons are there at 0. (One that never completes its handshake libzmq
 * drops by itself: not counted.) */
static void test_metrics_closed_connections(void **state)
{
	struct live *l = *state;
	static const char *const args[] = { "--http", "127.0.0.1:0",
					    "--handshake-timeout-s", "1",
					    "--insecure", NULL };
	struct resp *r = resp_new();
	void *ctx = zmq_ctx_new(), *s;
	int linger = 0;
	int64_t end;
	char base[160];

	snprintf(l->ep, sizeof(l->ep), "tcp://127.0.0.1:*");
	live_start_broker_with(l, args);
	live_learn_endpoint(l);
	learn_http(l, "http", base, sizeof(base));
	s = zmq_socket(ctx, ZMQ_DEALER);
	assert_non_null(s);
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	assert_int_equal(zmq_connect(s, l->ep), 0);
	end = util_now_ms() + WAIT_MS;
	for (;;) {
		get(l, r, base, "/metrics");
		assert_int_equal(r->code, 200);
		if (series(r->body, "bourse_connections_closed_total{reason="
				    "\"silent\"}") >= 1)
			break;
		assert_true(util_now_ms() < end);
		live_sleep_ms(200);
	}
	promtool_check(l, r->body);
	assert_true(series(r->body, "bourse_connections_closed_total{reason="
				    "\"over_key_cap\"}") == 0);
	assert_true(series(r->body, "bourse_connections_closed_total{reason="
				    "\"not_reading\"}") == 0);
	assert_true(series(r->body, "bourse_accept_failures_total") == 0);
	zmq_close(s);
	zmq_ctx_term(ctx);
	live_stop_all_cleanly(l);
	resp_free(r);
}

/* ---- reads ------------------------------------------------------------------ */

static void test_reads(void **state)
{
	struct live *l = *state;
	struct resp *r = resp_new();
	char base[160], path[128], vm[64];
	int64_t id;
	json_object *o;

	start_http_cluster(l, 0, NULL, "http", base, sizeof(base));
	get(l, r, base, "/api/v1/status");
	expect(r, 200);
	assert_true(json_object_object_get_ex(r->json, "control", &o));
	assert_string_equal(jstr(json_object_object_get(o, "modes"), "migrate"),
			    "manual");
	assert_true(jint(json_object_object_get(r->json, "run"),
			 "connections") >= 2);
	/* a slow VM (valgrind) may sit a round out */
	assert_true(jint(json_object_object_get(r->json, "last_round"),
			 "n_vms") >= 1);
	assert_true(jint(json_object_object_get(r->json, "last_round"),
			 "n_vms") <= 6);

	get(l, r, base, "/api/v1/hosts");
	expect(r, 200);
	assert_int_equal(json_object_array_length(r->json), 2);
	o = json_object_array_get_idx(r->json, 0);
	assert_string_equal(jstr(o, "name"), "host-a");
	assert_string_equal(jstr(o, "state"), "online");
	assert_int_equal(jint(o, "capacity_mib"), 8192);

	get(l, r, base, "/api/v1/vms");
	expect(r, 200);
	assert_int_equal(json_object_array_length(r->json), 6);
	get(l, r, base, "/api/v1/vms?host=host-b");
	expect(r, 200);
	assert_int_equal(json_object_array_length(r->json), 2);
	assert_string_equal(jstr(json_object_array_get_idx(r->json, 0),
				 "host_name"),
			    "host-b");

	/* recs and their filters: every one answered matches */
	get(l, r, base, "/api/v1/recs?kind=resize&host=host-a&limit=3");
	expect(r, 200);
	assert_true(json_object_array_length(r->json) >= 1);
	assert_true(json_object_array_length(r->json) <= 3);
	for (size_t i = 0; i < json_object_array_length(r->json); i++) {
		o = json_object_array_get_idx(r->json, i);
		assert_string_equal(jstr(o, "kind"), "resize");
		assert_string_equal(jstr(o, "from_host"), "host-a");
	}
	id = jint(json_object_array_get_idx(r->json, 0), "id");
	o = json_object_array_get_idx(r->json, 0);
	snprintf(vm, sizeof(vm), "%s", jstr(o, "vm_name"));
	snprintf(path, sizeof(path), "/api/v1/recs?vm=%s&state=%s", vm,
		 jstr(o, "state"));
	get(l, r, base, path);
	expect(r, 200);
	assert_true(json_object_array_length(r->json) >= 1);
	for (size_t i = 0; i < json_object_array_length(r->json); i++)
		assert_string_equal(jstr(json_object_array_get_idx(r->json, i),
					 "vm_name"),
				    vm);
	snprintf(path, sizeof(path), "/api/v1/recs/%" PRId64, id);
	get(l, r, base, path);
	expect(r, 200);
	assert_int_equal(jint(r->json, "id"), id);
	assert_true(json_object_object_get_ex(r->json, "audit", &o));
	assert_true(json_object_is_type(o, json_type_array));

	get(l, r, base, "/api/v1/events?event=broker&since=1h&limit=5");
	expect(r, 200);
	assert_true(json_object_array_length(r->json) >= 1);
	for (size_t i = 0; i < json_object_array_length(r->json); i++) {
		o = json_object_array_get_idx(r->json, i);
		assert_int_equal(strncmp(jstr(o, "event"), "broker.", 7), 0);
	}
	snprintf(path, sizeof(path), "/api/v1/events?vm=%s&limit=3", vm);
	get(l, r, base, path);
	expect(r, 200);
	assert_true(json_object_array_length(r->json) >= 1);
	assert_true(json_object_array_length(r->json) <= 3);
	for (size_t i = 0; i < json_object_array_length(r->json); i++)
		assert_string_equal(jstr(json_object_array_get_idx(r->json, i),
					 "vm"),
				    vm);

	get(l, r, base, "/api/v1/prices?host=host-a");
	expect(r, 200);
	assert_true(json_object_array_length(r->json) >= 1);
	o = json_object_array_get_idx(r->json, 0);
	assert_string_equal(jstr(o, "host"), "host-a");
	assert_true(json_object_get_double(json_object_object_get(o, "price")) >
		    0);
	snprintf(path, sizeof(path),
		 "/api/v1/prices?from=%" PRId64 "&to=%" PRId64,
		 live_last_round(l), live_last_round(l));
	get(l, r, base, path);
	expect(r, 200);
	assert_int_equal(json_object_array_length(r->json), 2);

	get(l, r, base, "/api/v1/mode");
	expect(r, 200);
	assert_string_equal(jstr(json_object_object_get(r->json, "modes"),
				 "resize-up"),
			    "automated");

	/* bad input, unknown things, wrong methods */
	get(l, r, base, "/api/v1/recs?limit=0");
	expect(r, 400);
	get(l, r, base, "/api/v1/recs?limit=12x");
	expect(r, 400);
	get(l, r, base, "/api/v1/recs?state=nonsense");
	expect(r, 400);
	get(l, r, base, "/api/v1/recs?kind=grow");
	expect(r, 400);
	get(l, r, base, "/api/v1/events?since=yesterday");
	expect(r, 400);
	get(l, r, base, "/api/v1/prices?from=10&to=5");
	expect(r, 400);
	get(l, r, base, "/api/v1/prices?host=no-such-host");
	expect(r, 404);
	get(l, r, base, "/api/v1/recs/999999");
	expect(r, 404);
	get(l, r, base, "/api/v1/recs/0");
	expect(r, 404);
	get(l, r, base, "/api/v1/nothing");
	expect(r, 404);
	get(l, r, base, "/api/v2/hosts");
	expect(r, 404);
	post(l, r, base, "/api/v1/hosts", TOKEN, NULL);
	expect(r, 405);
	get(l, r, base, "/api/v1/pause");
	expect(r, 405);
	live_stop_all_cleanly(l);
	resp_free(r);
}

/* ---- writes ---------------------------------------------------------------- */

/* The newest pending rec, waiting for one; its id. */
static int64_t pending_rec(struct live *l)
{
	char sql[128];

	snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM recs WHERE state = %d",
		 STORE_REC_PENDING);
	assert_true(live_wait_at_least(l, 1, WAIT_MS, sql) >= 0);
	return live_q_int(l, "SELECT MAX(id) FROM recs WHERE state = %d",
			  STORE_REC_PENDING);
}

/* POST path on rec #id (a pending one, which a round may supersede or
 * expire in between: then another) until it answers 200. */
static int64_t on_pending(struct live *l, struct resp *r, const char *base,
			  const char *verb, const char *body)
{
	for (int tries = 0; tries < 20; tries++) {
		char path[128];
		int64_t id = pending_rec(l);

		snprintf(path, sizeof(path), "/api/v1/recs/%" PRId64 "/%s", id,
			 verb);
		post(l, r, base, path, TOKEN, body);
		if (r->code == 200)
			return id;
		expect(r, 409);
	}
	fail_msg("no pending recommendation could be %sd", verb);
	return 0;
}

/* The audit row of rec id's event, by its actor. */
static int64_t audited(struct live *l, int64_t id, const char *event,
		       const char *actor)
{
	return live_q_int(l,
			  "SELECT COUNT(*) FROM audit WHERE rec_id = %" PRId64
			  " AND event = '%s' AND actor = '%s'",
			  id, event, actor);
}

/* Take (on) or release the database's write lock from a connection of
 * the test's own. */
static void hold_write_lock(struct live *l, int on)
{
	static sqlite3 *db;

	if (on) {
		assert_int_equal(sqlite3_open(l->db, &db), SQLITE_OK);
		sqlite3_busy_timeout(db, 5000);
		assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL,
					      NULL),
				 SQLITE_OK);
		return;
	}
	assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	db = NULL;
}

static void test_writes(void **state)
{
	struct live *l = *state;
	struct resp *r = resp_new();
	char base[160], path[128], big[BROKER_BODY_MAX + 64];
	int64_t id;

	start_http_cluster(l, 0, NULL, "http", base, sizeof(base));
	/* refused without a token, or with a wrong one */
	post(l, r, base, "/api/v1/pause", NULL, NULL);
	expect(r, 401);
	post(l, r, base, "/api/v1/pause", "not-a-token-of-the-file", NULL);
	expect(r, 401);
	get(l, r, base, "/api/v1/status"); /* reads are open on loopback */
	expect(r, 200);

	/* pause: approvals then wait, the test cancels them undisturbed */
	post(l, r, base, "/api/v1/pause", TOKEN, "{\"reason\": \"api test\"}");
	expect(r, 200);
	assert_true(json_object_get_boolean(
		json_object_object_get(r->json, "paused")));
	assert_int_equal(live_q_int(l, "SELECT COUNT(*) FROM audit WHERE "
				       "event = 'dispatch.paused' AND actor = "
				       "'api:ops' AND detail = 'api test'"),
			 1);

	/* mode: resizes wait for approval */
	post(l, r, base, "/api/v1/mode", TOKEN,
	     "{\"mode\": \"manual\", "
	     "\"kinds\": [\"resize-up\", \"resize-down\"]}");
	expect(r, 200);
	assert_string_equal(
		jstr(json_object_object_get(json_object_object_get(r->json,
								   "control"),
					    "modes"),
		     "resize-down"),
		"manual");
	assert_true(live_q_int(l, "SELECT COUNT(*) FROM audit WHERE event = "
				  "'mode.set' AND actor = 'api:ops'") == 2);
	post(l, r, base, "/api/v1/mode", TOKEN, "{\"mode\": \"sometimes\"}");
	expect(r, 400);
	post(l, r, base, "/api/v1/mode", TOKEN,
	     "{\"mode\": \"manual\", "
	     "\"kinds\": [\"grow\"]}");
	expect(r, 400);
	post(l, r, base, "/api/v1/mode", TOKEN,
	     "{\"mode\": \"manual\", "
	     "\"colour\": 1}");
	expect(r, 400);
	post(l, r, base, "/api/v1/mode", TOKEN, "{\"mode\": ");
	expect(r, 400);
	post(l, r, base, "/api/v1/mode", TOKEN, "[1, 2]");
	expect(r, 400);

	/* approve, audited with the token's name; then cancel it */
	id = on_pending(l, r, base, "approve", NULL);
	assert_string_equal(jstr(r->json, "state"), "approved");
	assert_int_equal(audited(l, id, "rec.approved", "api:ops"), 1);
	snprintf(path, sizeof(path), "/api/v1/recs/%" PRId64 "/cancel", id);
	post(l, r, base, path, NULL, NULL);
	expect(r, 401);
	post(l, r, base, path, TOKEN, "{\"reason\": \"changed my mind\"}");
	expect(r, 200);
	assert_string_equal(jstr(r->json, "state"), "rejected");
	assert_int_equal(audited(l, id, "rec.cancelled", "api:ops"), 1);
	post(l, r, base, path, TOKEN, NULL); /* nothing left to withdraw */
	expect(r, 409);
	snprintf(path, sizeof(path), "/api/v1/recs/%" PRId64 "/approve", id);
	post(l, r, base, path, TOKEN, NULL); /* rejected: cannot be approved */
	expect(r, 409);
	/* its trail, through the API */
	snprintf(path, sizeof(path), "/api/v1/recs/%" PRId64, id);
	get(l, r, base, path);
	expect(r, 200);
	assert_true(strstr(r->body, "\"actor\": \"api:ops\"") != NULL);

	/* reject with a reason */
	id = on_pending(l, r, base, "reject", "{\"reason\": \"not now\"}");
	assert_string_equal(jstr(r->json, "state"), "rejected");
	assert_string_equal(jstr(r->json, "state_reason"), "not now");
	assert_int_equal(audited(l, id, "rec.rejected", "api:ops"), 1);
	snprintf(path, sizeof(path), "/api/v1/recs/%" PRId64 "/reject", id);
	post(l, r, base, path, TOKEN, "{\"reason\": 42}");
	expect(r, 400);
	post(l, r, base, "/api/v1/recs/999999/approve", TOKEN, NULL);
	expect(r, 404);
	post(l, r, base, "/api/v1/recs/1/approve", TOKEN,
	     "{\"reason\": \"x\"}");
	expect(r, 400); /* approve takes no field */

	/* in recommend mode an approval is refused by the store */
	post(l, r, base, "/api/v1/mode", TOKEN, "{\"mode\": \"recommend\"}");
	expect(r, 200);
	id = pending_rec(l);
	snprintf(path, sizeof(path), "/api/v1/recs/%" PRId64 "/approve", id);
	post(l, r, base, path, TOKEN, NULL);
	expect(r, 409);

	/* a body over the limit */
	memset(big, ' ', sizeof(big) - 1);
	big[0] = '{';
	big[sizeof(big) - 2] = '}';
	big[sizeof(big) - 1] = '\0';
	post(l, r, base, "/api/v1/pause", TOKEN, big);
	expect(r, 413);

	/* another process holds the database's write lock past the
	 * server's wait: 503, and the next try, once it is free, works */
	hold_write_lock(l, 1);
	post(l, r, base, "/api/v1/resume", TOKEN, NULL);
	hold_write_lock(l, 0);
	expect(r, 503);
	post(l, r, base, "/api/v1/resume", TOKEN, NULL);
	expect(r, 200);
	assert_false(json_object_get_boolean(
		json_object_object_get(r->json, "paused")));
	assert_int_equal(live_q_int(l, "SELECT COUNT(*) FROM audit WHERE "
				       "event = 'dispatch.resumed' AND actor = "
				       "'api:ops'"),
			 1);
	/* the CLI reads what the API wrote */
	assert_int_equal(live_run_cli("'%s' mode --db '%s' --json | grep "
				      "updated_by | grep -q api:ops",
				      live_bin, l->db),
			 0);
	live_stop_all_cleanly(l);
	resp_free(r);
}

/* ---- TLS, no token file, no per-VM series ---------------------------------- */

static void test_tls_read_only(void **state)
{
	struct live *l = *state;
	struct resp *r = resp_new();
	char base[160], cert[160], key[160], url[256];
	const char *tls[] = { "--http-tls-cert",      cert,
			      "--http-tls-key",       key,
			      "--http-no-vm-metrics", NULL };
	const char *ca[] = { "--cacert", cert, NULL };

	snprintf(cert, sizeof(cert), "%s/cert.pem", l->dir);
	snprintf(key, sizeof(key), "%s/key.pem", l->dir);
	assert_int_equal(live_run_cli("openssl req -x509 -newkey rsa:2048 "
				      "-nodes -days 2 -subj /CN=127.0.0.1 "
				      "-addext subjectAltName=IP:127.0.0.1 "
				      "-keyout '%s' -out '%s' 2>/dev/null",
				      key, cert),
			 0);
	assert_int_equal(chmod(key, 0600), 0);
	start_http_cluster(l, 1, tls, "https", base, sizeof(base));
	snprintf(url, sizeof(url), "%s/metrics", base);
	curl_ex(l, r, "GET", url, NULL, NULL, ca);
	assert_int_equal(r->code, 200);
	promtool_check(l, r->body);
	assert_true(series(r->body, "bourse_host_online{host=\"host-a\"}") ==
		    1);
	assert_null(strstr(r->body, "bourse_vm_"));
	/* no token file: writes are off */
	snprintf(url, sizeof(url), "%s/api/v1/pause", base);
	curl_ex(l, r, "POST", url, TOKEN, NULL, ca);
	expect(r, 403);
	snprintf(url, sizeof(url), "%s/api/v1/hosts", base);
	curl_ex(l, r, "GET", url, NULL, NULL, ca);
	expect(r, 200);
	/* plain HTTP to the TLS port gets no answer */
	snprintf(url, sizeof(url), "http%s/api/v1/hosts", base + 5);
	curl_ex(l, r, "GET", url, NULL, NULL, NULL);
	assert_true(r->code == 0 || r->code >= 400);
	live_stop_all_cleanly(l);
	resp_free(r);
}

/* ---- the flags ----------------------------------------------------------- */

/* bourse broker with args on a fresh database, for at most one round;
 * its exit status. */
static int broker_exit(struct live *l, const char *args)
{
	return live_run_cli("'%s' broker --listen 'ipc://%s/flags.ipc' --db "
			    "'%s/flags.db' --rounds 1 --round-ms 10 %s "
			    ">>'%s/flags.log' 2>&1",
			    live_bin, l->dir, l->dir, args, l->dir);
}

static void test_flags(void **state)
{
	struct live *l = *state;
	char tok[160], args[300], log[160];

	snprintf(tok, sizeof(tok), "%s/tokens", l->dir);
	snprintf(log, sizeof(log), "%s/flags.log", l->dir);
	write_file(tok, "ops " TOKEN "\n", 0600);
	assert_int_equal(broker_exit(l, "--http nonsense"), 2);
	assert_int_equal(broker_exit(l, "--http 127.0.0.1:99999"), 2);
	assert_int_equal(broker_exit(l, "--http 127.0.0.1"), 2);
	assert_int_equal(broker_exit(l, "--http ::1:80"), 2);
	assert_int_equal(broker_exit(l, "--http localhost:80"), 2);
	assert_int_equal(broker_exit(l, "--http 0.0.0.0:0"), 2);
	assert_true(live_count_in_file(log, "not a loopback address") >= 1);
	snprintf(args, sizeof(args), "--http-token-file '%s'", tok);
	assert_int_equal(broker_exit(l, args), 2);
	assert_int_equal(broker_exit(l, "--http 127.0.0.1:0 --http-tls-cert "
					"x.pem"),
			 2);
	assert_int_equal(broker_exit(l, "--http 127.0.0.1:0 "
					"--http-token-file ''"),
			 2);
	/* a token file others may read: refused, saying so */
	assert_int_equal(chmod(tok, 0644), 0);
	snprintf(args, sizeof(args),
		 "--http 127.0.0.1:0 --http-token-file "
		 "'%s'",
		 tok);
	assert_int_equal(broker_exit(l, args), 1);
	assert_true(live_count_in_file(log, "permission") >= 1);
	/* a line that is not NAME TOKEN: its file and line */
	write_file(tok, "ops " TOKEN "\nshort tok\n", 0600);
	assert_int_equal(broker_exit(l, args), 1);
	assert_true(live_count_in_file(log, "tokens:2:") >= 1);
	/* and a good one runs its round and stops */
	write_file(tok, "ops " TOKEN "\n", 0600);
	assert_int_equal(broker_exit(l, args), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_flags, live_setup,
						live_teardown),
		cmocka_unit_test_setup_teardown(test_metrics, live_setup,
						live_teardown),
		cmocka_unit_test_setup_teardown(test_reads, live_setup,
						live_teardown),
		cmocka_unit_test_setup_teardown(test_writes, live_setup,
						live_teardown),
		cmocka_unit_test_setup_teardown(test_tls_read_only, live_setup,
						live_teardown),
	};
	/* Under valgrind (test_http_valgrind, a slot no other test runs
	 * beside) not the closed connections' count: its ~5 s of waiting
	 * for the broker to close a silent peer cost 17 s there, and the
	 * metrics' rendering is under valgrind in test_metrics. */
	const struct CMUnitTest plain_only[] = {
		cmocka_unit_test_setup_teardown(test_metrics_closed_connections,
						live_setup, live_teardown),
	};
	int rc;

	if (live_env() != 0)
		return 77;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	if (!live_valgrind)
		rc |= cmocka_run_group_tests(plain_only, NULL, NULL);
	return rc;
}
