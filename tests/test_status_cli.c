/*
 * test_status_cli.c - the operator's status views end to end: the real
 * `bourse` binary run on a database that a real broker and agents write
 * (live.h: processes over ZeroMQ, a real SQLite file), or that the test
 * wrote through the store API: status while the broker runs, after it
 * stopped and after SIGKILL; hosts not "online" once the broker is down;
 * the bad-data flag of a host whose VMs report more assigned memory than
 * its capacity; events and their filters; signals; natural order and
 * sizes; --watch redrawing on a change and ending on SIGINT; --json of
 * each. No timing is asserted: the tests wait for what they expect.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "live.h"
#include "store.h"
#include "util.h"
#include "banned.h"

#ifndef BOURSE_BIN
#error "BOURSE_BIN (the path of the bourse binary) must be defined"
#endif

#define T0 INT64_C(1700000000000)

/* ---- running the CLI ---- */

struct out {
	int code;
	char out[1 << 16];
	char err[1 << 14];
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

/* Start BOURSE_BIN with args (NULL-terminated, up to 16), stdout and
 * stderr to dir/cli.out and dir/cli.err. */
static pid_t spawn_cli(const char *dir, const char *const *args)
{
	char o_path[128], e_path[128];
	const char *argv[20] = { BOURSE_BIN };
	size_t n = 1;
	pid_t pid;

	while (args[n - 1] && n < 18) {
		argv[n] = args[n - 1];
		n++;
	}
	argv[n] = NULL;
	snprintf(o_path, sizeof(o_path), "%s/cli.out", dir);
	snprintf(e_path, sizeof(e_path), "%s/cli.err", dir);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int o = open(o_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(e_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(126);
		unsetenv("BOURSE_DB");
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	return pid;
}

static void collect(const char *dir, struct out *r)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/cli.out", dir);
	slurp(path, r->out, sizeof(r->out));
	snprintf(path, sizeof(path), "%s/cli.err", dir);
	slurp(path, r->err, sizeof(r->err));
}

/* Run `bourse <args...>` to its end. */
static void cli(const char *dir, struct out *r, ...)
{
	const char *args[18];
	int n = 0, status = 0;
	va_list ap;
	pid_t pid;

	va_start(ap, r);
	while ((args[n] = va_arg(ap, const char *)) != NULL && n < 16)
		n++;
	va_end(ap);
	args[n] = NULL;
	pid = spawn_cli(dir, args);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	r->code = WEXITSTATUS(status);
	collect(dir, r);
}

static void expect(const struct out *r, int code, const char *out_has,
		   const char *err_has)
{
	if (r->code != code || (out_has && !strstr(r->out, out_has)) ||
	    (err_has && !strstr(r->err, err_has)))
		fail_msg("exit %d (want %d)\nstdout:\n%s\nstderr:\n%s\nwanted "
			 "stdout '%s', stderr '%s'", r->code, code, r->out,
			 r->err, out_has ? out_has : "", err_has ? err_has : "");
}

static json_object *parse_json(const char *text)
{
	json_object *j = json_tokener_parse(text);

	if (!j)
		fail_msg("not JSON:\n%s", text);
	return j;
}

/* j.a.b... as a string ("" if missing or null). */
static const char *jstr(json_object *j, const char *k1, const char *k2)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(j, k1, &v))
		return "";
	if (k2 && !json_object_object_get_ex(v, k2, &v))
		return "";
	return v ? json_object_get_string(v) : "";
}

/* `bourse status --json`'s broker.state, until it is want (WAIT_MS). */
static void wait_broker_state(struct live *l, const char *want)
{
	int64_t end = util_now_ms() + WAIT_MS + 10000;
	static struct out r;

	for (;;) {
		cli(l->dir, &r, "status", "--db", l->db, "--json", NULL);
		expect(&r, 0, NULL, NULL);
		json_object *j = parse_json(r.out);
		int ok = strcmp(jstr(j, "broker", "state"), want) == 0;

		json_object_put(j);
		if (ok)
			return;
		if (util_now_ms() > end)
			fail_msg("broker state never became '%s':\n%s", want,
				 r.out);
		live_sleep_ms(200);
	}
}

/* ---- with a live broker ---- */

/* The live cluster's host-a (8 GiB) carries four VMs of 4 GiB each: bad
 * data. Status while the broker runs and after it stopped cleanly; hosts
 * unknown then; the flag in hosts, status and events; logged once. */
static void test_live_status_flag_and_clean_stop(void **state)
{
	struct live *l = *state;
	static struct out r;
	json_object *j, *h;

	live_start_cluster(l);
	wait_broker_state(l, "running");
	cli(l->dir, &r, "status", "--db", l->db, NULL);
	expect(&r, 0, "broker     running since", NULL);
	assert_non_null(strstr(r.out, "round      "));
	assert_non_null(strstr(r.out, "modes      resize-up automated"));
	assert_non_null(strstr(r.out, "dispatch   on"));
	assert_non_null(strstr(r.out, "pending (to review)"));
	assert_non_null(strstr(r.out, "bad data   host-a: its VMs report "
			       "16384 MiB assigned, more than its capacity of "
			       "8192 MiB"));

	cli(l->dir, &r, "hosts", "--db", l->db, NULL);
	expect(&r, 0, "DATA", NULL);
	assert_non_null(strstr(r.out, "host-a  online  bad"));
	assert_non_null(strstr(r.out, "host-b  online  ok"));
	assert_non_null(strstr(r.out, "8.0 GiB")); /* host-a's capacity */
	cli(l->dir, &r, "hosts", "--db", l->db, "--mib", NULL);
	expect(&r, 0, " 8192 ", NULL);

	cli(l->dir, &r, "hosts", "--db", l->db, "--json", NULL);
	expect(&r, 0, NULL, NULL);
	j = parse_json(r.out);
	h = json_object_array_get_idx(j, 0);
	assert_string_equal(jstr(h, "name", NULL), "host-a");
	assert_string_equal(jstr(h, "state", NULL), "online");
	assert_string_equal(jstr(h, "bad_data", NULL), "true");
	assert_string_equal(jstr(json_object_array_get_idx(j, 1), "bad_data",
				 NULL), "false");
	json_object_put(j);

	/* one price per recommendation: a resize's why line names the price
	 * it was made at (a migration off host-a in the same round reprices
	 * host-a after its first price) */
	assert_int_equal(live_q_int(l, "SELECT COUNT(*) FROM recs WHERE kind = "
				    "%d AND instr(why, printf('asks %%.2f/MiB', "
				    "price_here)) = 0", STORE_REC_RESIZE), 0);
	assert_true(live_q_int(l, "SELECT COUNT(*) FROM recs WHERE kind = %d",
			       STORE_REC_RESIZE) > 0);

	/* the market was given what fits (their assigned scaled down); the
	 * samples keep what the VMs reported */
	assert_int_equal(live_q_int(l, "SELECT MIN(assigned_mib) FROM samples s"
				    " JOIN vms v ON v.id = s.vm_id WHERE v.name"
				    " = 'vm-1'"), 4096);

	cli(l->dir, &r, "events", "--db", l->db, "--event", "host", "--host",
	    "host-a", NULL);
	expect(&r, 0, "host.bad_data", NULL);
	cli(l->dir, &r, "events", "--db", l->db, "--event", "host.bad_data",
	    "--host", "host-b", NULL);
	expect(&r, 0, "no events match", NULL);

	live_stop_broker_cleanly(l);
	cli(l->dir, &r, "status", "--db", l->db, "--json", NULL);
	expect(&r, 0, NULL, NULL);
	j = parse_json(r.out);
	assert_string_equal(jstr(j, "broker", "state"), "stopped");
	assert_true(strlen(jstr(j, "broker", "stopped_ms")) > 0);
	assert_true(strlen(jstr(j, "last_round", "round")) > 0);
	json_object_put(j);
	cli(l->dir, &r, "status", "--db", l->db, NULL);
	expect(&r, 0, "(cleanly)", NULL);

	cli(l->dir, &r, "hosts", "--db", l->db, NULL);
	expect(&r, 0, "unknown (broker down since", NULL);
	assert_null(strstr(r.out, " online "));
	cli(l->dir, &r, "hosts", "--db", l->db, "--json", NULL);
	j = parse_json(r.out);
	h = json_object_array_get_idx(j, 1);
	assert_string_equal(jstr(h, "state", NULL), "unknown");
	assert_string_equal(jstr(h, "recorded_state", NULL), "online");
	assert_true(strlen(jstr(h, "broker_down_since_ms", NULL)) > 0);
	json_object_put(j);

	cli(l->dir, &r, "events", "--db", l->db, "--event", "broker", NULL);
	expect(&r, 0, "broker.started", NULL);
	assert_non_null(strstr(r.out, "broker.stopped"));
	/* said once, not once a round */
	assert_int_equal(live_count_in_file(l->blog, "host host-a: its VMs "
					    "report"), 1);
}

/* A broker killed by SIGKILL cannot say it stopped: its heartbeat ages
 * and the views say so. */
static void test_live_sigkill(void **state)
{
	struct live *l = *state;
	static struct out r;

	live_start_cluster(l);
	wait_broker_state(l, "running");
	assert_int_equal(live_stop_proc(&l->broker, SIGKILL, 5000), SIGKILL);
	wait_broker_state(l, "silent");
	cli(l->dir, &r, "status", "--db", l->db, NULL);
	expect(&r, 0, "broker     down: not heard since", NULL);
	assert_non_null(strstr(r.out, "did not stop cleanly"));
	cli(l->dir, &r, "hosts", "--db", l->db, NULL);
	expect(&r, 0, "unknown (broker down since", NULL);
}

/* ---- on a database written through the store ---- */

struct fx {
	struct live l; /* only dir and db are used */
	uint32_t hid[3], vid[4];
};

static store *fx_open(struct fx *f)
{
	store *s = NULL;
	char err[512];

	if (store_open(f->l.db, STORE_CREATE, &s, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	return s;
}

/* h10, h2, h1; vm-10, vm-2, vm-1 (on h2) and db (on h10); two rounds with
 * signals; a rec approved; host h1 lost and back; a bad-data flag. */
static void seed(struct fx *f)
{
	static const char *const hosts[] = { "h10", "h2", "h1" };
	static const char *const vms[] = { "vm-10", "vm-2", "vm-1", "db" };
	store *s = fx_open(f);
	char err[512];

	for (int i = 0; i < 3; i++) {
		store_host_row h = { .capacity_mib = 65536, .reserve_mib = 1024,
				     .state = STORE_HOST_ONLINE,
				     .last_seen_ms = T0 };
		snprintf(h.name, sizeof(h.name), "%s", hosts[i]);
		assert_int_equal(store_host_upsert(s, &h, err, sizeof(err)), 0);
		f->hid[i] = h.id;
	}
	for (int i = 0; i < 4; i++) {
		store_vm_row v = { .host_id = f->hid[i < 3 ? 1 : 0],
				   .minimum_mib = 512, .maximum_mib = 16384,
				   .weight = 5000, .state = STORE_VM_ACTIVE,
				   .last_seen_ms = T0,
				   .last_migrated_round = INT64_MIN };
		snprintf(v.name, sizeof(v.name), "%s", vms[i]);
		assert_int_equal(store_vm_upsert(s, &v, err, sizeof(err)), 0);
		f->vid[i] = v.id;
	}
	store_alloc_row al = { .vm_id = f->vid[2], .host_id = f->hid[1],
			       .demand_mib = 3000, .assigned_mib = 4096,
			       .want_mib = 3600, .target_mib = 3600,
			       .budget = 1, .pressure = 83.3 };
	store_rec_in rec = { .kind = STORE_REC_RESIZE, .vm_id = f->vid[3],
			     .from_host_id = f->hid[0], .from_mib = 1024,
			     .to_mib = 2048, .price_here = 1.5,
			     .why = "grow" };
	store_signal_row sig1[] = { { 1, 0, 20480 } };
	store_signal_row sig2[] = { { 2, f->hid[2], 0 }, { 1, 0, 512 } };
	store_round rd = { .round = 1, .started_ms = T0, .recs = &rec,
			   .n_recs = 1, .signals = sig1, .n_signals = 1 };
	store_rec_policy pol;

	store_rec_policy_default(&pol);
	pol.ttl_ms = 0;
	pol.price_drift = 1e9; /* rec 1 stays pending through round 2 */
	pol.retention_ms = 0;
	assert_int_equal(store_round_write(s, &rd, &pol, T0, NULL, err,
					   sizeof(err)), 0);
	store_price_row pr[3];
	for (int i = 0; i < 3; i++)
		pr[i] = (store_price_row){ .host_id = f->hid[i],
					   .supply_mib = 64512, .price = 1 + i };
	rd = (store_round){ .round = 2, .started_ms = T0 + 60000,
			    .prices = pr, .n_prices = 3, .allocs = &al,
			    .n_allocs = 1, .signals = sig2, .n_signals = 2 };
	assert_int_equal(store_round_write(s, &rd, &pol, T0 + 60000, NULL, err,
					   sizeof(err)), 0);
	assert_int_equal(store_rec_transition(s, 1, STORE_REC_APPROVED,
					      "cli:tester", NULL, T0 + 61000,
					      err, sizeof(err)), 0);
	assert_int_equal(store_host_set_state(s, f->hid[2], STORE_HOST_LOST,
					      T0 + 62000, err, sizeof(err)), 0);
	assert_int_equal(store_host_set_state(s, f->hid[2], STORE_HOST_ONLINE,
					      T0 + 63000, err, sizeof(err)), 0);
	assert_int_equal(store_host_flag_set(s, f->hid[0], 1, "h10: too much",
					     T0 + 64000, err, sizeof(err)), 0);
	/* set again: no second audit entry */
	assert_int_equal(store_host_flag_set(s, f->hid[0], 1, "h10: too much",
					     T0 + 65000, err, sizeof(err)), 0);
	assert_int_equal(store_audit(s, "cli:tester", "mode.set", 0,
				     "migrate: recommend -> manual",
				     util_wall_ms(), err, sizeof(err)), 0);
	store_close(s);
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->l.dir, sizeof(f->l.dir), "/tmp/bourse-status-XXXXXX");
	assert_non_null(mkdtemp(f->l.dir));
	snprintf(f->l.db, sizeof(f->l.db), "%s/bourse.db", f->l.dir);
	seed(f);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->l.dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void test_events_filters(void **state)
{
	struct fx *f = *state;
	const char *d = f->l.dir, *db = f->l.db;
	static struct out r;
	json_object *j;

	cli(d, &r, "events", "--db", db, NULL);
	expect(&r, 0, "rec.approved", NULL);
	assert_non_null(strstr(r.out, "host.lost"));
	assert_non_null(strstr(r.out, "mode.set"));
	/* oldest first; the flag set twice is one entry */
	assert_true(strstr(r.out, "host.lost") < strstr(r.out, "host.online"));
	assert_non_null(strstr(r.out, "rec 1 db on h10"));

	cli(d, &r, "events", "--db", db, "--json", NULL);
	expect(&r, 0, NULL, NULL);
	j = parse_json(r.out);
	assert_int_equal(json_object_array_length(j), 5);
	json_object_put(j);

	cli(d, &r, "events", "--db", db, "--event", "host", "--json", NULL);
	j = parse_json(r.out);
	assert_int_equal(json_object_array_length(j), 3); /* lost, back, bad */
	json_object_put(j);
	cli(d, &r, "events", "--db", db, "--host", "h1", "--json", NULL);
	j = parse_json(r.out);
	assert_int_equal(json_object_array_length(j), 2); /* lost, back */
	json_object_put(j);
	cli(d, &r, "events", "--db", db, "--host", "h10", NULL);
	expect(&r, 0, "host.bad_data", NULL);
	assert_non_null(strstr(r.out, "rec.approved")); /* its VM's rec */
	cli(d, &r, "events", "--db", db, "--vm", "db", "--json", NULL);
	j = parse_json(r.out);
	assert_int_equal(json_object_array_length(j), 1);
	assert_string_equal(jstr(json_object_array_get_idx(j, 0), "vm", NULL),
			    "db");
	json_object_put(j);
	/* --since: only the mode change was written now, the rest in 2023 */
	cli(d, &r, "events", "--db", db, "--since", "1h", "--json", NULL);
	j = parse_json(r.out);
	assert_int_equal(json_object_array_length(j), 1);
	assert_string_equal(jstr(json_object_array_get_idx(j, 0), "event",
				 NULL), "mode.set");
	json_object_put(j);
	/* --limit: the newest, still oldest first */
	cli(d, &r, "events", "--db", db, "--limit", "2", "--json", NULL);
	j = parse_json(r.out);
	assert_int_equal(json_object_array_length(j), 2);
	assert_string_equal(jstr(json_object_array_get_idx(j, 1), "event",
				 NULL), "mode.set");
	json_object_put(j);
	cli(d, &r, "events", "--db", db, "--kind", "rec", "--json", NULL);
	j = parse_json(r.out);
	assert_int_equal(json_object_array_length(j), 1);
	json_object_put(j);
	cli(d, &r, "events", "--db", db, "--vm", "nope", NULL);
	expect(&r, 0, "no events match", NULL);
	/* a table: a header, --no-headers without it, -o wide with ids */
	cli(d, &r, "events", "--db", db, NULL);
	assert_memory_equal(r.out, "TIME ", 5);
	assert_non_null(strstr(r.out, "  ABOUT  "));
	cli(d, &r, "events", "--db", db, "--no-headers", NULL);
	expect(&r, 0, "rec.approved", NULL);
	assert_null(strstr(r.out, "ACTOR"));
	cli(d, &r, "events", "--db", db, "-o", "wide", NULL);
	expect(&r, 0, "  ID\n", NULL);
	cli(d, &r, "events", "--db", db, "-o", "json", "--limit", "1", NULL);
	j = parse_json(r.out);
	assert_int_equal(json_object_array_length(j), 1);
	json_object_put(j);
	cli(d, &r, "events", "--db", db, "-o", "xml", NULL);
	expect(&r, 2, NULL, "bourse events: -o: 'xml' is not an output format");

	cli(d, &r, "events", "--db", db, "--since", "yesterday", NULL);
	expect(&r, 2, NULL, "--since: 'yesterday' is not an age");
	cli(d, &r, "events", "--db", db, "--limit", "-3", NULL);
	expect(&r, 2, NULL, "--limit");
	cli(d, &r, "events", "--db", db, "--host", "", NULL);
	expect(&r, 2, NULL, "--host: empty name");
	cli(d, &r, "events", "--bogus", NULL);
	expect(&r, 2, NULL, "unrecognized option");
	cli(d, &r, "events", "--help", NULL);
	expect(&r, 0, "usage: bourse events", NULL);
}

static void test_signals(void **state)
{
	struct fx *f = *state;
	const char *d = f->l.dir, *db = f->l.db;
	static struct out r;
	json_object *j;

	cli(d, &r, "signals", "--db", db, NULL);
	expect(&r, 0, "SIGNAL", NULL);
	assert_non_null(strstr(r.out, "provision"));
	assert_non_null(strstr(r.out, "20.0 GiB"));
	assert_non_null(strstr(r.out, "suspend    h1"));
	/* oldest first */
	assert_true(strstr(r.out, "20.0 GiB") < strstr(r.out, "suspend"));
	cli(d, &r, "signals", "--db", db, "--mib", NULL);
	expect(&r, 0, "20480", NULL);
	cli(d, &r, "signals", "--db", db, "--kind", "suspend", "--json", NULL);
	expect(&r, 0, NULL, NULL);
	j = parse_json(r.out);
	assert_int_equal(json_object_array_length(j), 1);
	assert_string_equal(jstr(json_object_array_get_idx(j, 0), "host",
				 NULL), "h1");
	json_object_put(j);
	cli(d, &r, "signals", "--db", db, "--round", "1", "--json", NULL);
	j = parse_json(r.out);
	assert_int_equal(json_object_array_length(j), 1);
	json_object_put(j);
	cli(d, &r, "signals", "--db", db, "--kind", "grow", NULL);
	expect(&r, 2, NULL, "--kind");
	cli(d, &r, "signals", "--db", db, "--no-headers", NULL);
	expect(&r, 0, "provision", NULL);
	assert_null(strstr(r.out, "SIGNAL"));
	cli(d, &r, "signals", "--db", db, "-o", "wide", NULL);
	expect(&r, 0, "  AGE\n", NULL);
	cli(d, &r, "status", "--db", db, "-o", "json", NULL);
	j = parse_json(r.out);
	json_object_put(j);
	cli(d, &r, "status", "--db", db, "-o", "wide", "--no-headers", NULL);
	expect(&r, 0, "broker     never ran", NULL);

	/* status: the last round's signals, the backlog, the flag; no
	 * broker ever ran on this file */
	cli(d, &r, "status", "--db", db, NULL);
	expect(&r, 0, "broker     never ran", NULL);
	assert_non_null(strstr(r.out, "signals    suspend h1 0 MiB; provision "
			       "512 MiB"));
	assert_non_null(strstr(r.out, "backlog    1 approved"));
	assert_non_null(strstr(r.out, "bad data   h10: too much"));
	cli(d, &r, "status", "--db", db, "--json", NULL);
	j = parse_json(r.out);
	assert_string_equal(jstr(j, "broker", "state"), "never");
	assert_string_equal(jstr(j, "backlog", "approved"), "1");
	assert_string_equal(jstr(j, "last_round", "round"), "2");
	assert_string_equal(jstr(j, "modes", "migrate"), "manual");
	json_object_put(j);
}

static void test_natural_order_and_sizes(void **state)
{
	struct fx *f = *state;
	const char *d = f->l.dir, *db = f->l.db;
	static struct out r;
	json_object *j;

	cli(d, &r, "vms", "--db", db, NULL);
	expect(&r, 0, "vm-10", NULL);
	assert_true(strstr(r.out, "vm-1 ") < strstr(r.out, "vm-2 "));
	assert_true(strstr(r.out, "vm-2 ") < strstr(r.out, "vm-10 "));
	/* vm-1's sample: assigned 4 GiB, maximum 16 GiB in their columns */
	assert_non_null(strstr(r.out, "4.0 GiB"));
	assert_non_null(strstr(r.out, "16.0 GiB"));
	assert_non_null(strstr(r.out, "512 MiB"));
	cli(d, &r, "vms", "--db", db, "--mib", NULL);
	expect(&r, 0, " 4096 ", NULL);
	assert_non_null(strstr(r.out, "16384"));
	assert_null(strstr(r.out, "GiB"));
	cli(d, &r, "vms", "--db", db, "--json", NULL);
	j = parse_json(r.out);
	assert_string_equal(jstr(json_object_array_get_idx(j, 0), "name",
				 NULL), "db");
	assert_string_equal(jstr(json_object_array_get_idx(j, 3), "name",
				 NULL), "vm-10");
	json_object_put(j);

	cli(d, &r, "hosts", "--db", db, NULL);
	expect(&r, 0, "h10", NULL);
	assert_true(strstr(r.out, "h1 ") < strstr(r.out, "h2 "));
	assert_true(strstr(r.out, "h2 ") < strstr(r.out, "h10 "));
	assert_non_null(strstr(r.out, "h10   online  bad"));
	assert_non_null(strstr(r.out, "h1    online  ok"));

	/* the flag cleared: ok again, audited once */
	store *s = fx_open(f);
	char err[512];
	assert_int_equal(store_host_flag_set(s, f->hid[0], 0, "h10: fits",
					     util_wall_ms(), err, sizeof(err)), 0);
	assert_int_equal(store_host_flag_set(s, f->hid[0], 0, "h10: fits",
					     util_wall_ms(), err, sizeof(err)), 0);
	/* a host never flagged that is fine is no news */
	assert_int_equal(store_host_flag_set(s, f->hid[1], 0, "h2: fits",
					     util_wall_ms(), err, sizeof(err)), 0);
	store_close(s);
	cli(d, &r, "hosts", "--db", db, NULL);
	expect(&r, 0, "h10   online  ok", NULL);
	cli(d, &r, "events", "--db", db, "--event", "host.data_ok", "--json",
	    NULL);
	j = parse_json(r.out);
	assert_int_equal(json_object_array_length(j), 1);
	assert_string_equal(jstr(json_object_array_get_idx(j, 0), "host", NULL),
			    "h10");
	json_object_put(j);
	cli(d, &r, "status", "--db", db, NULL);
	expect(&r, 0, "bad data   none", NULL);

	cli(d, &r, "prices", "--db", db, NULL);
	expect(&r, 0, "63.0 GiB", NULL);
	assert_true(strstr(r.out, "h1 ") < strstr(r.out, "h2 "));
	assert_true(strstr(r.out, "h2 ") < strstr(r.out, "h10 "));
	cli(d, &r, "prices", "--db", db, "--mib", "--json", NULL);
	j = parse_json(r.out);
	json_object *hs = NULL;
	assert_true(json_object_object_get_ex(j, "hosts", &hs));
	assert_string_equal(jstr(json_object_array_get_idx(hs, 2), "host_name",
				 NULL), "h10");
	assert_string_equal(jstr(json_object_array_get_idx(hs, 2), "supply_mib",
				 NULL), "64512");
	json_object_put(j);
}

/* --watch draws, draws again when another process writes, and ends with
 * exit status 0 on SIGINT. */
static void test_watch(void **state)
{
	struct fx *f = *state;
	const char *args[] = { "hosts", "--watch", "--db", f->l.db, NULL };
	char path[128], err[512];
	static struct out r;
	int64_t end = util_now_ms() + WAIT_MS;
	int status = 0;
	pid_t pid = spawn_cli(f->l.dir, args);

	snprintf(path, sizeof(path), "%s/cli.out", f->l.dir);
	while (live_count_starting(path, "NAME") < 1) {
		assert_true(util_now_ms() < end);
		live_sleep_ms(50);
	}
	store *s = fx_open(f);
	store_host_row h = { .capacity_mib = 4096, .state = STORE_HOST_ONLINE,
			     .last_seen_ms = T0 };
	snprintf(h.name, sizeof(h.name), "h-new");
	assert_int_equal(store_host_upsert(s, &h, err, sizeof(err)), 0);
	store_close(s);
	while (live_count_in_file(path, "h-new") < 1) {
		assert_true(util_now_ms() < end);
		live_sleep_ms(50);
	}
	assert_true(live_count_starting(path, "NAME") >= 2);
	assert_true(live_count_starting(path, "--- ") >= 2);
	assert_int_equal(kill(pid, SIGINT), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	/* recs list --watch: the same, with the list's own first line */
	const char *recs[] = { "recs", "list", "--watch", "--db", f->l.db,
			       NULL };
	unlink(path); /* the first watch's frames are not this one's */
	pid = spawn_cli(f->l.dir, recs);
	while (live_count_starting(path, "--- ") < 1) {
		assert_true(util_now_ms() < end);
		live_sleep_ms(50);
	}
	assert_int_equal(kill(pid, SIGINT), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	/* a bad flag is refused before anything is watched */
	cli(f->l.dir, &r, "status", "--watch", "--bogus", NULL);
	expect(&r, 2, NULL, "unrecognized option");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_events_filters, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_signals, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_natural_order_and_sizes,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_watch, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(
			test_live_status_flag_and_clean_stop, live_setup,
			live_teardown),
		cmocka_unit_test_setup_teardown(test_live_sigkill, live_setup,
						live_teardown),
	};

	if (live_env() != 0)
		return 77;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
