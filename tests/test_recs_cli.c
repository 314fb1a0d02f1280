/*
 * test_recs_cli.c - the review CLI end to end: a database written through
 * the store API, then the real `bourse` binary (BOURSE_BIN) run on it:
 * recs list/show/approve/reject, hosts, vms, prices; tables aligned, JSON
 * that parses, decisions that land in the database, and exit codes 0/1/2.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fixture.h"

#include <fcntl.h>
#include <regex.h>
#include <json-c/json.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store.h"
#include "banned.h"

#ifndef BOURSE_BIN
#error "BOURSE_BIN (the path of the bourse binary) must be defined"
#endif

#define T0 INT64_C(1700000000000)

struct fx {
	char *dir;
	char db[1024];
	char out_path[1100], err_path[1100];
	const char *env_db; /* BOURSE_DB for the child, NULL: unset */
	int code;
	char out[1 << 16];
	char err[1 << 14];
};

/* ---- helpers ---- */

/* The audit actor the CLI records (cli_actor_name()): the commands run
 * with SUDO_USER=tester and USER=tester; SUDO_USER counts as root only,
 * USER never. */
static const char *actor(void)
{
	static char buf[300];
	struct passwd *pw = getpwuid(getuid());

	if (getuid() == 0)
		return "cli:tester";
	assert_non_null(pw);
	snprintf(buf, sizeof(buf), "cli:%s", pw->pw_name);
	return buf;
}

static void rm_dir(char *dir)
{
	assert_int_equal(remove_all(dir), 0);
	free(dir);
}

static void slurp(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
}

/* Run BOURSE_BIN with the arguments (NULL-terminated); exit status in
 * f->code, output in f->out and f->err. */
static void run(struct fx *f, ...)
{
	char *argv[32];
	int argc = 0, status = 0;
	va_list ap;
	pid_t pid;

	argv[argc++] = (char *)BOURSE_BIN;
	va_start(ap, f);
	while ((argv[argc] = va_arg(ap, char *)) != NULL && argc < 30)
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int o = open(f->out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(f->err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(126);
		if (f->env_db)
			setenv("BOURSE_DB", f->env_db, 1);
		else
			unsetenv("BOURSE_DB");
		setenv("USER", "tester", 1);
		setenv("SUDO_USER", "tester", 1);
		execv(argv[0], argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	f->code = WEXITSTATUS(status);
	slurp(f->out_path, f->out, sizeof f->out);
	slurp(f->err_path, f->err, sizeof f->err);
}

static void expect(struct fx *f, int code, const char *out_has,
		   const char *err_has)
{
	if (f->code != code || (out_has && !strstr(f->out, out_has)) ||
	    (err_has && !strstr(f->err, err_has)))
		fail_msg("exit %d (want %d)\nstdout:\n%s\nstderr:\n%s\nwanted "
			 "stdout '%s', stderr '%s'", f->code, code, f->out,
			 f->err, out_has ? out_has : "", err_has ? err_has : "");
}

static store *open_db(struct fx *f)
{
	store *s = NULL;
	char err[512];

	if (store_open(f->db, 0, &s, err, sizeof err) != 0)
		fail_msg("%s", err);
	return s;
}

static store_rec get_rec(struct fx *f, int64_t id)
{
	store *s = open_db(f);
	store_rec r;
	char err[512];

	if (store_rec_get(s, id, &r, err, sizeof err) != 0)
		fail_msg("%s", err);
	store_close(s);
	return r;
}

/* ---- the database: 3 hosts, 4 VMs, 2 rounds, 3 recs ---- */

static void seed(struct fx *f)
{
	static const char *const hosts[] = { "h2", "h1", "h10" };
	static const char *const vms[] = { "web-1", "db-primary-long-name",
					   "cache", "batch" };
	uint32_t hid[3], vid[4];
	store *s = NULL;
	char err[512];

	if (store_open(f->db, STORE_CREATE, &s, err, sizeof err) != 0)
		fail_msg("%s", err);
	for (int i = 0; i < 3; i++) {
		store_host_row h = { .capacity_mib = 65536, .reserve_mib = 1024,
				     .state = STORE_HOST_ONLINE,
				     .last_seen_ms = T0 };
		snprintf(h.name, sizeof h.name, "%s", hosts[i]);
		assert_int_equal(store_host_upsert(s, &h, err, sizeof err), 0);
		hid[i] = h.id;
	}
	for (int i = 0; i < 4; i++) {
		store_vm_row v = { .host_id = hid[i % 3], .minimum_mib = 512,
				   .maximum_mib = 16384, .weight = 5000,
				   .state = STORE_VM_ACTIVE, .last_seen_ms = T0,
				   .last_migrated_round = INT64_MIN };
		snprintf(v.name, sizeof v.name, "%s", vms[i]);
		assert_int_equal(store_vm_upsert(s, &v, err, sizeof err), 0);
		vid[i] = v.id;
	}
	static const double price[] = { 3.10, 1.20, 5.0 }; /* h2, h1, h10 */
	store_price_row prices[3];
	store_alloc_row allocs[4];
	for (int i = 0; i < 3; i++)
		prices[i] = (store_price_row){ .host_id = hid[i],
			.supply_mib = 64512, .wanted_mib = 40000 + 10000 * i,
			.awarded_mib = 40000, .utilization = 0.6 + 0.2 * i,
			.price = price[i], .shortage = i == 2 };
	for (int i = 0; i < 4; i++)
		allocs[i] = (store_alloc_row){ .vm_id = vid[i],
			.host_id = hid[i % 3], .demand_mib = 3000 + i,
			.assigned_mib = 4096, .want_mib = 3600, .target_mib = 3600,
			.budget = 1.0, .pressure = 83.3 };
	store_rec_in recs[3] = {
		{ .kind = STORE_REC_MIGRATE, .vm_id = vid[0],
		  .from_host_id = hid[0], .to_host_id = hid[1],
		  .from_mib = 4096, .to_mib = 3600, .price_here = 3.10,
		  .price_there = 1.20, .cost_here = 11160, .cost_there = 6368,
		  .demand_mib = 3000, .want_mib = 3600,
		  .pressure_before = 73.2, .pressure_after = 83.3,
		  .budget = 1.5,
		  .why = "h2 asks 3.10 credits/MiB; h1 asks 1.20: moving saves "
			 "43% after a migration cost of 2048" },
		{ .kind = STORE_REC_RESIZE, .vm_id = vid[1],
		  .from_host_id = hid[1], .from_mib = 4096, .to_mib = 2048,
		  .price_here = 1.2, .cost_here = 2160, .cost_there = 2160,
		  .demand_mib = 1500, .want_mib = 1800, .budget = 0.8,
		  .pressure_before = 36.6, .pressure_after = 73.2,
		  .why = "idle memory is taxed: give back 2048 MiB" },
		{ .kind = STORE_REC_RESIZE, .vm_id = vid[2],
		  .from_host_id = hid[2], .from_mib = 1024, .to_mib = 16384,
		  .price_here = 5.0, .cost_here = 90000, .cost_there = 90000,
		  .demand_mib = 15000, .want_mib = 18000, .budget = 2.25,
		  .pressure_before = 1464.8, .pressure_after = 91.6,
		  .why = "pressure 1465: buy 15360 MiB" },
	};
	store_round rd = { .round = 1, .started_ms = T0, .prices = prices,
			   .n_prices = 3, .allocs = allocs, .n_allocs = 4,
			   .recs = recs, .n_recs = 3 };
	store_rec_policy pol;
	store_rec_policy_default(&pol);
	pol.ttl_ms = 0;         /* nothing expires in these tests */
	pol.retention_ms = 0;
	assert_int_equal(store_round_write(s, &rd, &pol, T0, NULL, err,
					   sizeof err), 0);
	rd.round = 2;
	rd.started_ms = T0 + 60000;
	prices[1].price = 1.25;
	rd.n_recs = 0;
	assert_int_equal(store_round_write(s, &rd, &pol, T0 + 60000, NULL, err,
					   sizeof err), 0);
	store_close(s);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char tmpl[] = "/tmp/bourse_recs_cli_XXXXXX";

	assert_non_null(f);
	assert_non_null(mkdtemp(tmpl));
	f->dir = strdup(tmpl);
	snprintf(f->db, sizeof f->db, "%s/bourse.db", f->dir);
	snprintf(f->out_path, sizeof f->out_path, "%s/out", f->dir);
	snprintf(f->err_path, sizeof f->err_path, "%s/err", f->dir);
	seed(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	rm_dir(f->dir);
	free(f);
	return 0;
}

/* Every row's cell of column `name` starts (left-aligned) or ends (right-
 * aligned) where the header's does. Returns the number of rows. */
static int check_column(const char *table, const char *name, int right)
{
	const char *hdr = table;
	const char *at = strstr(hdr, name);
	const char *nl = strchr(hdr, '\n');
	int rows = 0;

	assert_non_null(at);
	assert_non_null(nl);
	size_t start = (size_t)(at - hdr), end = start + strlen(name);
	for (const char *line = nl + 1; *line; rows++) {
		const char *eol = strchr(line, '\n');
		size_t len = eol ? (size_t)(eol - line) : strlen(line);
		if (right) {
			assert_true(len >= end);
			assert_true(line[end - 1] != ' ');
			assert_true(end == len || line[end] == ' ');
		} else {
			assert_true(len > start);
			assert_true(line[start] != ' ');
			assert_true(start == 0 || line[start - 1] == ' ');
		}
		if (!eol)
			break;
		line = eol + 1;
	}
	return rows;
}

static json_object *parse_json(const char *text)
{
	json_object *j = json_tokener_parse(text);

	if (!j)
		fail_msg("not JSON:\n%s", text);
	return j;
}

/* ---- recs list ---- */

static void test_list_table(void **state)
{
	struct fx *f = *state;

	run(f, "recs", "list", "--db", f->db, NULL);
	expect(f, 0, "db-primary-long-name", NULL);
	assert_memory_equal(f->out, "ID", 2);
	static const char *const left[] = { "STATE", "ACTION", "VM", "FROM",
					    "TO" };
	static const char *const right[] = { "ID", "ROUND", "SIZE", "PRICE",
					     "AGE" };
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(check_column(f->out, left[i], 0), 3);
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(check_column(f->out, right[i], 1), 3);
	assert_non_null(strstr(f->out, "4.0 GiB -> 3.5 GiB"));
	assert_non_null(strstr(f->out, "resize up  ")); /* cache: 1024 -> 16384 */
	assert_non_null(strstr(f->out, "resize down")); /* 4096 -> 2048 */
	assert_non_null(strstr(f->out, "3.10 / 1.20"));
	/* newest first */
	assert_true(strstr(f->out, "cache") < strstr(f->out, "web-1"));
	assert_string_equal(f->err, "");

	run(f, "recs", "list", "--db", f->db, "--mib", NULL);
	expect(f, 0, "4096->3600", NULL);

	run(f, "recs", "list", "--db", f->db, "--state", "rejected", NULL);
	expect(f, 0, "no rejected recommendations", NULL);
	run(f, "recs", "--db", f->db, "list", "--limit", "2", NULL);
	expect(f, 0, NULL, "the newest 2 shown");
	assert_int_equal(check_column(f->out, "VM", 0), 2);
}

static void test_list_json(void **state)
{
	struct fx *f = *state;
	json_object *j, *o, *v;

	run(f, "recs", "list", "--db", f->db, "--json", NULL);
	expect(f, 0, NULL, NULL);
	j = parse_json(f->out);
	assert_true(json_object_is_type(j, json_type_array));
	assert_int_equal(json_object_array_length(j), 3);
	o = json_object_array_get_idx(j, 2); /* oldest: the migration */
	assert_true(json_object_object_get_ex(o, "id", &v));
	assert_int_equal(json_object_get_int64(v), 1);
	assert_true(json_object_object_get_ex(o, "kind", &v));
	assert_string_equal(json_object_get_string(v), "migrate");
	assert_true(json_object_object_get_ex(o, "to_host", &v));
	assert_string_equal(json_object_get_string(v), "h1");
	assert_true(json_object_object_get_ex(o, "why", &v));
	assert_non_null(strstr(json_object_get_string(v), "saves 43%"));
	static const char *const keys[] = { "round", "last_round",
		"created_ms", "updated_ms", "state", "vm_id", "vm_name",
		"from_host", "from_mib", "to_mib", "price_here", "price_there",
		"cost_here", "cost_there", "demand_mib", "want_mib",
		"pressure_before", "pressure_after", "budget", "state_reason",
		"superseded_by" };
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		assert_true(json_object_object_get_ex(o, keys[i], NULL));
	o = json_object_array_get_idx(j, 0);
	assert_true(json_object_object_get_ex(o, "to_host", &v));
	assert_null(v); /* a resize */
	json_object_put(j);

	run(f, "recs", "list", "--db", f->db, "--json", "--state", "pending",
	    "--limit", "2", NULL);
	expect(f, 0, NULL, NULL);
	j = parse_json(f->out);
	assert_int_equal(json_object_array_length(j), 2);
	json_object_put(j);
}

/* ---- recs show ---- */

static void test_show(void **state)
{
	struct fx *f = *state;

	run(f, "recs", "approve", "--db", f->db, "1", NULL);
	expect(f, 0, "approved 1", NULL);
	run(f, "recs", "show", "--db", f->db, "1", NULL);
	expect(f, 0, "migrate web-1 from h2 to h1", NULL);
	assert_non_null(strstr(f->out, "moving saves 43% after a migration"));
	assert_non_null(strstr(f->out, "h2 asks 3.10 credits/MiB; h1 asks "
			       "1.20 credits/MiB"));
	assert_non_null(strstr(f->out, "Moving saves 43%"));
	assert_non_null(strstr(f->out, "73.2 now -> 83.3 after"));
	assert_non_null(strstr(f->out, "state      approved"));
	assert_non_null(strstr(f->out, actor()));
	assert_non_null(strstr(f->out, "rec.approved"));

	run(f, "recs", "show", "--db", f->db, "3", NULL);
	expect(f, 0, "resize up cache on h10, 1024 -> 16384 MiB", NULL);
	assert_non_null(strstr(f->out, "grow by 15360 MiB"));
	assert_non_null(strstr(f->out, "Its budget is 2.25"));
	assert_non_null(strstr(f->out, "none yet"));

	run(f, "recs", "show", "--db", f->db, "1", "--json", NULL);
	expect(f, 0, NULL, NULL);
	json_object *j = parse_json(f->out), *a, *v;
	assert_true(json_object_object_get_ex(j, "audit", &a));
	assert_int_equal(json_object_array_length(a), 1);
	assert_true(json_object_object_get_ex(json_object_array_get_idx(a, 0),
					      "actor", &v));
	assert_string_equal(json_object_get_string(v), actor());
	json_object_put(j);

	run(f, "recs", "show", "--db", f->db, "999", NULL);
	expect(f, 1, NULL, "no recommendation 999");
	run(f, "recs", "show", "--db", f->db, NULL);
	expect(f, 2, NULL, "a recommendation id is required");
	run(f, "recs", "show", "--db", f->db, "1", "2", NULL);
	expect(f, 2, NULL, "unexpected argument '2'");
}

/* ---- approve / reject ---- */

static void test_approve_reject(void **state)
{
	struct fx *f = *state;

	run(f, "recs", "approve", "--db", f->db, "1", NULL);
	expect(f, 0, "approved 1", NULL);
	assert_int_equal(get_rec(f, 1).state, STORE_REC_APPROVED);

	run(f, "recs", "approve", "--db", f->db, "1", NULL);
	expect(f, 1, NULL, "recommendation 1 is approved; it cannot be "
	       "approved (only pending ones can)");
	assert_string_equal(f->out, "");

	/* each id on its own: one fails, the other is approved */
	run(f, "recs", "approve", "--db", f->db, "999", "2", NULL);
	expect(f, 1, "approved 2", "no recommendation 999");
	assert_int_equal(get_rec(f, 2).state, STORE_REC_APPROVED);

	run(f, "recs", "reject", "3", "--reason", "too big for h10", "--db",
	    f->db, NULL);
	expect(f, 0, "rejected 3", NULL);
	store_rec r = get_rec(f, 3);
	assert_int_equal(r.state, STORE_REC_REJECTED);
	assert_string_equal(r.state_reason, "too big for h10");
	run(f, "recs", "show", "--db", f->db, "3", NULL);
	expect(f, 0, "rejected (too big for h10)", NULL);
	assert_non_null(strstr(f->out, "rec.rejected"));

	run(f, "recs", "approve", "--db", f->db, "3", NULL);
	expect(f, 1, NULL, "is rejected; it cannot be approved");

	/* a bad id refuses the whole command before anything is done */
	run(f, "recs", "reject", "--db", f->db, "abc", NULL);
	expect(f, 2, NULL, "'abc' is not a whole number");
	run(f, "recs", "approve", "--db", f->db, "0", NULL);
	expect(f, 2, NULL, "out of range");
}

/* ---- approvals: cancel, recommend mode, superseded, waiting ---- */

static void test_cancel(void **state)
{
	struct fx *f = *state;
	char err[512];
	store *s;

	run(f, "recs", "approve", "--db", f->db, "1", "2", NULL);
	expect(f, 0, "approved 2", NULL);
	run(f, "recs", "cancel", "--db", f->db, "1", "--reason", "wait for "
	    "the backup", NULL);
	expect(f, 0, "cancelled 1", NULL);
	store_rec r = get_rec(f, 1);
	assert_int_equal(r.state, STORE_REC_REJECTED);
	assert_string_equal(r.state_reason, "approval withdrawn: wait for the "
			    "backup");
	run(f, "recs", "show", "--db", f->db, "1", NULL);
	expect(f, 0, "rejected (approval withdrawn: wait for the backup)", NULL);
	assert_non_null(strstr(f->out, "rec.cancelled"));
	assert_non_null(strstr(f->out, actor()));

	run(f, "recs", "cancel", "--db", f->db, "1", NULL);
	expect(f, 1, NULL, "recommendation 1 is rejected: there is no "
	       "approval to withdraw");
	run(f, "recs", "cancel", "--db", f->db, "3", NULL);
	expect(f, 1, NULL, "recommendation 3 is pending: there is no approval "
	       "to withdraw (to turn it down: 'bourse recs reject 3')");

	/* dispatched, then done: refused, unchanged */
	s = open_db(f);
	assert_int_equal(store_rec_transition(s, 2, STORE_REC_DISPATCHED,
		"broker", NULL, T0, err, sizeof err), 0);
	store_close(s);
	run(f, "recs", "cancel", "--db", f->db, "2", NULL);
	expect(f, 1, NULL, "recommendation 2 is dispatched: its host's agent "
	       "has it already, so it cannot be withdrawn");
	s = open_db(f);
	assert_int_equal(store_rec_transition(s, 2, STORE_REC_SUCCEEDED,
		"agent:h1", NULL, T0, err, sizeof err), 0);
	store_close(s);
	run(f, "recs", "cancel", "--db", f->db, "2", NULL);
	expect(f, 1, NULL, "recommendation 2 was carried out (succeeded); it "
	       "cannot be withdrawn");
	assert_int_equal(get_rec(f, 2).state, STORE_REC_SUCCEEDED);
	assert_string_equal(f->out, "");

	run(f, "recs", "cancel", "--help", NULL);
	expect(f, 0, "usage: bourse recs cancel ID...", NULL);
	run(f, "recs", "cancel", "--db", f->db, NULL);
	expect(f, 2, NULL, "a recommendation id is required");
}

static void test_recommend_mode_refuses_approval(void **state)
{
	struct fx *f = *state;

	/* rec 2 shrinks db-primary-long-name: a resize-down */
	run(f, "mode", "recommend", "--for", "resize-down", "--db", f->db, NULL);
	expect(f, 0, "resize-down: automated -> recommend: 0 approved "
	       "resize-down withdrawn; nothing of this kind will be "
	       "dispatched", NULL);
	run(f, "recs", "approve", "--db", f->db, "2", NULL);
	expect(f, 1, NULL, "recommendation 2 is a resize-down, and resize-down "
	       "is in recommend mode, where an approval carries nothing out; "
	       "not approved (set 'bourse mode manual --for resize-down' "
	       "first, or reject it)");
	assert_string_equal(f->out, "");
	assert_int_equal(get_rec(f, 2).state, STORE_REC_PENDING);
	run(f, "mode", "manual", "--for", "resize-down", "--db", f->db, NULL);
	expect(f, 0, "resize-down: recommend -> manual: 0 approved resize-down "
	       "will be dispatched from the broker's next round, within its "
	       "guardrails; the 1 pending wait for 'bourse recs approve'", NULL);
	run(f, "recs", "approve", "--db", f->db, "2", NULL);
	expect(f, 0, "approved 2", NULL);
	/* and back to recommend: the approval is withdrawn, said so */
	run(f, "mode", "recommend", "--db", f->db, NULL);
	expect(f, 0, "resize-down: manual -> recommend: 1 approved resize-down "
	       "withdrawn", NULL);
	assert_non_null(strstr(f->out, "resize-up: automated -> recommend: 0 "
			       "approved resize-up withdrawn"));
	assert_int_equal(get_rec(f, 2).state, STORE_REC_REJECTED);
	run(f, "mode", "recommend", "--for", "migrate", "--db", f->db, NULL);
	expect(f, 0, "migrate: already recommend", NULL);
}

/* A newer recommendation for web-1 supersedes rec 1; approving 1 names 4. */
static void test_approve_superseded_names_replacement(void **state)
{
	struct fx *f = *state;
	store *s = open_db(f);
	char err[512];
	store_rec old;
	store_rec_policy pol;

	assert_int_equal(store_rec_get(s, 1, &old, err, sizeof err), 0);
	store_rec_in in = { .kind = STORE_REC_RESIZE, .vm_id = old.vm_id,
			    .from_host_id = 0, .from_mib = 4096,
			    .to_mib = 2048, .price_here = 3.1,
			    .why = "shrink instead" };
	store_price_row p = { 0 };

	/* web-1 is on h2, the first host seed() registered */
	in.from_host_id = 1;
	p.host_id = 1;
	p.price = 3.1;
	store_round rd = { .round = 3, .started_ms = T0 + 120000,
			   .prices = &p, .n_prices = 1, .recs = &in,
			   .n_recs = 1 };
	store_rec_policy_default(&pol);
	pol.ttl_ms = 0;
	pol.retention_ms = 0;
	assert_int_equal(store_round_write(s, &rd, &pol, T0 + 120000, NULL, err,
					   sizeof err), 0);
	store_close(s);
	assert_int_equal(get_rec(f, 1).state, STORE_REC_SUPERSEDED);
	run(f, "recs", "approve", "--db", f->db, "1", NULL);
	expect(f, 1, NULL, "recommendation 1 is superseded by #4 (pending); it "
	       "cannot be approved: see 'bourse recs show 4'");
	run(f, "recs", "approve", "--db", f->db, "4", NULL);
	expect(f, 0, "approved 4", NULL);
}

static void test_show_waiting(void **state)
{
	struct fx *f = *state;
	char err[512];
	store *s;

	run(f, "recs", "approve", "--db", f->db, "3", NULL);
	expect(f, 0, "approved 3", NULL);
	run(f, "recs", "show", "--db", f->db, "3", NULL);
	expect(f, 0, "waiting    for the broker's next round (it has not "
	       "looked at it yet)", NULL);
	s = open_db(f);
	assert_int_equal(store_rec_set_wait(s, 3, 2, "host h10 is lost or its "
					    "agent is not connected", err,
					    sizeof err), 0);
	store_close(s);
	run(f, "recs", "show", "--db", f->db, "3", NULL);
	expect(f, 0, "waiting    host h10 is lost or its agent is not "
	       "connected (the broker, round 2)", NULL);
	run(f, "recs", "show", "--db", f->db, "3", "--json", NULL);
	expect(f, 0, "\"wait_reason\":\"host h10 is lost", NULL);
	/* paused: that is why, whatever the broker saw last */
	run(f, "pause", "--reason", "storage work", "--db", f->db, NULL);
	expect(f, 0, "dispatching paused", NULL);
	run(f, "recs", "show", "--db", f->db, "3", NULL);
	expect(f, 0, "waiting    dispatching is paused: storage work ('bourse "
	       "resume')", NULL);
	run(f, "recs", "show", "--db", f->db, "2", NULL);
	expect(f, 0, "state      pending", NULL);
	assert_null(strstr(f->out, "waiting"));
}

/* `bourse mode` on a new file: resizes automated, migrations manual, and
 * what each will carry out. */
static void test_mode_defaults_and_effects(void **state)
{
	struct fx *f = *state;

	run(f, "mode", "--db", f->db, NULL);
	expect(f, 0, "resize-up    automated         0        1  approved and "
	       "dispatched by the broker itself", NULL);
	assert_memory_equal(f->out, "KIND ", 5);
	assert_non_null(strstr(f->out, "resize-down  automated"));
	assert_non_null(strstr(f->out, "migrate      manual            0        "
			       "1  dispatched once approved ('bourse recs "
			       "approve ID')"));
	assert_non_null(strstr(f->out, "changed      never: the modes of a "
			       "new database"));
	run(f, "recs", "approve", "--db", f->db, "1", NULL);
	expect(f, 0, "approved 1", NULL);
	run(f, "mode", "automated", "--for", "migrate", "--db", f->db, NULL);
	expect(f, 0, "migrate: manual -> automated: 1 approved migrate will be "
	       "dispatched from the broker's next round, within its "
	       "guardrails, and it approves new ones by itself (of the 0 "
	       "pending: those its next round makes again)", NULL);
	assert_non_null(strstr(f->out, "changed      "));
	assert_non_null(strstr(f->out, "by cli:"));
	assert_non_null(strstr(f->out, actor()));
	run(f, "mode", "--json", "--db", f->db, NULL);
	expect(f, 0, NULL, NULL);
	json_object *j = parse_json(f->out), *o, *k, *v;
	assert_true(json_object_object_get_ex(j, "open", &o));
	assert_true(json_object_object_get_ex(o, "migrate", &k));
	assert_true(json_object_object_get_ex(k, "approved", &v));
	assert_int_equal(json_object_get_int64(v), 1);
	assert_true(json_object_object_get_ex(j, "modes", &o));
	assert_true(json_object_object_get_ex(o, "resize-down", &v));
	assert_string_equal(json_object_get_string(v), "automated");
	json_object_put(j);
}

/* ---- usage and failures ---- */

static void test_usage_errors(void **state)
{
	struct fx *f = *state;

	run(f, "recs", "--help", NULL);
	expect(f, 0, "usage: bourse recs", NULL);
	run(f, "recs", "list", "--help", NULL);
	expect(f, 0, "--state S", NULL);
	run(f, "recs", "reject", "-h", NULL);
	expect(f, 0, "--reason TEXT", NULL);
	run(f, "recs", NULL);
	expect(f, 2, NULL, "usage: bourse recs");
	run(f, "recs", "frob", NULL);
	expect(f, 2, NULL, "'frob' is not a recs command");
	run(f, "recs", "list", "--bogus", NULL);
	expect(f, 2, NULL, "unrecognized option '--bogus'");
	run(f, "recs", "list", "--db", f->db, "--limit", "-1", NULL);
	expect(f, 2, NULL, "--limit: '-1' is out of range");
	run(f, "recs", "list", "--db", f->db, "--limit", "5x", NULL);
	expect(f, 2, NULL, "--limit: '5x' is not a whole number");
	run(f, "recs", "list", "--db", f->db, "--state", "nope", NULL);
	expect(f, 2, NULL, "--state: 'nope' is not a state");
	run(f, "recs", "list", "--db", f->db, "extra", NULL);
	expect(f, 2, NULL, "unexpected argument 'extra'");
	run(f, "recs", "approve", "--reason", "x", "1", NULL);
	expect(f, 2, NULL, "unrecognized option '--reason'");
	run(f, "hosts", "--round", "1", NULL);
	expect(f, 2, NULL, "unrecognized option '--round'");
	run(f, "prices", "--round", "0", NULL);
	expect(f, 2, NULL, "--round: '0' is out of range");
}

static void test_missing_db(void **state)
{
	struct fx *f = *state;
	char path[1200];

	snprintf(path, sizeof path, "%s/nope.db", f->dir);
	run(f, "recs", "list", "--db", path, NULL);
	expect(f, 1, NULL, path);
	assert_non_null(strstr(f->err, "does not exist"));
	run(f, "recs", "approve", "--db", path, "1", NULL);
	expect(f, 1, NULL, path);
	run(f, "hosts", "--db", path, NULL);
	expect(f, 1, NULL, path);
	assert_int_equal(access(path, F_OK), -1); /* nothing was created */

	/* the default: $BOURSE_DB */
	f->env_db = f->db;
	run(f, "recs", "list", NULL);
	expect(f, 0, "web-1", NULL);
	f->env_db = path;
	run(f, "vms", NULL);
	expect(f, 1, NULL, path);
	f->env_db = NULL;
}

static void test_old_schema(void **state)
{
	struct fx *f = *state;
	char path[1200], err[512];

	snprintf(path, sizeof path, "%s/v1.db", f->dir);
	assert_int_equal(store_create_at_version(path, 1, err, sizeof err), 0);
	run(f, "recs", "list", "--db", path, NULL);
	expect(f, 1, NULL, "older than this bourse's");
	/* a writable command upgrades it */
	run(f, "recs", "approve", "--db", path, "1", NULL);
	expect(f, 1, NULL, "no recommendation 1");
	run(f, "recs", "list", "--db", path, NULL);
	expect(f, 0, "no recommendations", NULL);
}

/* ---- hosts, vms, prices ---- */

static void test_hosts_vms(void **state)
{
	struct fx *f = *state;
	json_object *j, *v;

	run(f, "hosts", "--db", f->db, NULL);
	expect(f, 0, NULL, NULL);
	assert_int_equal(check_column(f->out, "NAME", 0), 3);
	assert_int_equal(check_column(f->out, "PRICE", 1), 3);
	assert_int_equal(check_column(f->out, "VMS", 1), 3);
	/* natural order: h2 before h10 */
	assert_true(strstr(f->out, "h1 ") < strstr(f->out, "h2 "));
	assert_true(strstr(f->out, "h2 ") < strstr(f->out, "h10 "));
	assert_non_null(strstr(f->out, "1.25")); /* round 2's price of h1 */

	run(f, "hosts", "--db", f->db, "--json", NULL);
	expect(f, 0, NULL, NULL);
	j = parse_json(f->out);
	assert_int_equal(json_object_array_length(j), 3);
	assert_true(json_object_object_get_ex(json_object_array_get_idx(j, 0),
					      "n_vms", &v));
	assert_int_equal(json_object_get_int64(v), 1);
	json_object_put(j);

	run(f, "vms", "--db", f->db, NULL);
	expect(f, 0, "db-primary-long-name", NULL);
	assert_int_equal(check_column(f->out, "HOST", 0), 4);
	assert_int_equal(check_column(f->out, "PRESSURE", 1), 4);
	run(f, "vms", "--db", f->db, "--host", "h2", "--json", NULL);
	expect(f, 0, NULL, NULL);
	j = parse_json(f->out);
	assert_int_equal(json_object_array_length(j), 2); /* web-1, batch */
	assert_true(json_object_object_get_ex(json_object_array_get_idx(j, 0),
					      "name", &v));
	assert_string_equal(json_object_get_string(v), "batch");
	assert_true(json_object_object_get_ex(json_object_array_get_idx(j, 0),
					      "last_migrated_round", &v));
	assert_null(v);
	json_object_put(j);
	run(f, "vms", "--db", f->db, "--host", "h99", NULL);
	expect(f, 1, NULL, "no host 'h99'");
}

static void test_prices(void **state)
{
	struct fx *f = *state;
	json_object *j, *v;
	char path[1200], err[512];
	store *s = NULL;

	run(f, "prices", "--db", f->db, NULL);
	expect(f, 0, "round 2, started 2023-11-14 22:14:20 UTC", NULL);
	assert_non_null(strstr(f->out, "shortage"));
	assert_int_equal(check_column(strstr(f->out, "HOST"), "UTIL", 1), 3);
	run(f, "prices", "--db", f->db, "--round", "1", "--json", NULL);
	expect(f, 0, NULL, NULL);
	j = parse_json(f->out);
	assert_true(json_object_object_get_ex(j, "round", &v));
	assert_int_equal(json_object_get_int64(v), 1);
	assert_true(json_object_object_get_ex(j, "hosts", &v));
	assert_int_equal(json_object_array_length(v), 3);
	json_object_put(j);
	run(f, "prices", "--db", f->db, "--round", "99", NULL);
	expect(f, 1, NULL, "no round 99");

	snprintf(path, sizeof path, "%s/empty.db", f->dir);
	assert_int_equal(store_open(path, STORE_CREATE, &s, err, sizeof err), 0);
	store_close(s);
	run(f, "prices", "--db", path, NULL);
	expect(f, 0, "no rounds yet", NULL);
	run(f, "prices", "--db", path, "--json", NULL);
	expect(f, 0, NULL, NULL);
	j = parse_json(f->out);
	assert_true(json_object_object_get_ex(j, "round", &v));
	assert_null(v);
	json_object_put(j);
	run(f, "hosts", "--db", path, NULL);
	expect(f, 0, "no hosts yet", NULL);
}

/* ---- output conventions (docs/operations.md, "Output") ---- */

/* The lines of f->out. */
static int n_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* The line of text that starts with start (a table's header) into buf;
 * 0, or -1 if there is none. */
static int line_of(const char *text, const char *start, char *buf,
		   size_t size)
{
	size_t len = strlen(start), n;

	for (const char *l = text; *l; l += n + (l[n] == '\n')) {
		n = strcspn(l, "\n");
		if (n >= len && strncmp(l, start, len) == 0) {
			if (n >= size)
				n = size - 1;
			memcpy(buf, l, n);
			buf[n] = '\0';
			return 0;
		}
	}
	return -1;
}

/* -o json is --json; --no-headers drops the header line and nothing
 * else; -o wide adds columns; every table view takes them. */
static void test_output_formats(void **state)
{
	struct fx *f = *state;
	static const char *const views[][3] = { /* and its header's start */
		{ "recs", "list", "ID  " }, { "hosts", NULL, "NAME  " },
		{ "vms", NULL, "NAME  " }, { "prices", NULL, "HOST  " },
		{ "recs", "stats", "KIND  " }, { "mode", NULL, "KIND  " },
	};
	char head[4096], wide[4096], json[1 << 16];

	for (size_t i = 0; i < sizeof views / sizeof views[0]; i++) {
		const char *a = views[i][0], *b = views[i][1];
		int rows;

		if (b)
			run(f, a, b, "--db", f->db, NULL);
		else
			run(f, a, "--db", f->db, NULL);
		expect(f, 0, NULL, NULL);
		rows = n_lines(f->out);
		assert_int_equal(line_of(f->out, views[i][2], head,
					 sizeof head), 0);
		if (b)
			run(f, a, b, "--db", f->db, "--no-headers", NULL);
		else
			run(f, a, "--db", f->db, "--no-headers", NULL);
		expect(f, 0, NULL, NULL);
		assert_int_equal(n_lines(f->out), rows - 1);
		assert_int_equal(line_of(f->out, views[i][2], wide,
					 sizeof wide), -1);
		if (b)
			run(f, a, b, "--db", f->db, "-o", "wide", NULL);
		else
			run(f, a, "--db", f->db, "--output=wide", NULL);
		expect(f, 0, NULL, NULL);
		assert_int_equal(line_of(f->out, views[i][2], wide,
					 sizeof wide), 0);
		if (strcmp(a, "mode") != 0) /* its table is all there is */
			assert_true(strlen(wide) > strlen(head) + 2);
		if (b)
			run(f, a, b, "--db", f->db, "--json", NULL);
		else
			run(f, a, "--db", f->db, "--json", NULL);
		expect(f, 0, NULL, NULL);
		json_object_put(parse_json(f->out));
		snprintf(json, sizeof json, "%s", f->out);
		if (b)
			run(f, a, b, "--db", f->db, "-o", "json", NULL);
		else
			run(f, a, "--db", f->db, "-ojson", NULL);
		expect(f, 0, NULL, NULL);
		if (strcmp(a, "hosts") != 0) /* its SEEN ages can tick */
			assert_string_equal(f->out, json);
	}
	run(f, "recs", "list", "--db", f->db, "-o", "wide", NULL);
	expect(f, 0, "WHY", NULL);
	assert_non_null(strstr(f->out, "pressure 1465: buy 15360 MiB"));
	assert_non_null(strstr(f->out, "73.2 -> 83.3"));
	run(f, "recs", "list", "--db", f->db, NULL);
	assert_null(strstr(f->out, "WHY"));
	run(f, "vms", "--db", f->db, "-o", "wide", NULL);
	expect(f, 0, "RESERVATION", NULL);
	run(f, "recs", "show", "1", "--db", f->db, "-o", "json", NULL);
	expect(f, 0, NULL, NULL);
	json_object_put(parse_json(f->out));
	run(f, "recs", "list", "--db", f->db, "-o", "yaml", NULL);
	expect(f, 2, NULL, "bourse recs list: -o: 'yaml' is not an output "
	       "format (table, wide, json)");
	run(f, "hosts", "--db", f->db, "-o", NULL);
	expect(f, 2, NULL, "bourse hosts: option requires an argument -- 'o'");
}

/* The IDs of `recs list --json` with these filters, newest first, into
 * ids ("3,2,1"). */
static void list_ids(struct fx *f, char *ids, size_t size, const char *k,
		     const char *v)
{
	json_object *j, *id;
	size_t n = 0;

	run(f, "recs", "list", "--db", f->db, "--json", k, v, NULL);
	expect(f, 0, NULL, NULL);
	j = parse_json(f->out);
	ids[0] = '\0';
	for (size_t i = 0; i < json_object_array_length(j); i++) {
		assert_true(json_object_object_get_ex(
			json_object_array_get_idx(j, i), "id", &id));
		n += (size_t)snprintf(ids + n, size - n, "%s%lld", i ? "," : "",
				      (long long)json_object_get_int64(id));
	}
	json_object_put(j);
}

static void test_list_filters(void **state)
{
	struct fx *f = *state;
	char ids[256];

	list_ids(f, ids, sizeof ids, "--kind", "migrate");
	assert_string_equal(ids, "1");
	list_ids(f, ids, sizeof ids, "--kind", "resize");
	assert_string_equal(ids, "3,2");
	list_ids(f, ids, sizeof ids, "--vm", "cache");
	assert_string_equal(ids, "3");
	list_ids(f, ids, sizeof ids, "--host", "h1"); /* to h1, and from */
	assert_string_equal(ids, "2,1");
	list_ids(f, ids, sizeof ids, "--host", "h10");
	assert_string_equal(ids, "3");
	list_ids(f, ids, sizeof ids, "--vm", "nope");
	assert_string_equal(ids, "");
	run(f, "recs", "list", "--db", f->db, "--kind", "migrate", "--host",
	    "h1", "--vm", "web-1", "--state", "pending", NULL);
	expect(f, 0, "web-1", NULL);
	assert_int_equal(check_column(f->out, "VM", 0), 1);
	run(f, "recs", "list", "--db", f->db, "--kind", "migrate", "--vm",
	    "cache", NULL);
	expect(f, 0, "no migrate recommendations for cache", NULL);
	run(f, "recs", "list", "--db", f->db, "--kind", "grow", NULL);
	expect(f, 2, NULL, "bourse recs list: --kind: it is 'resize' or "
	       "'migrate'");
	run(f, "recs", "list", "--db", f->db, "--host", "", NULL);
	expect(f, 2, NULL, "bourse recs list: --host: empty name");
}

/* No 9999.9999999999818 in any JSON of the review commands: at most 6
 * significant digits (0.000123457 has 9 after the point). */
static void test_json_numbers(void **state)
{
	struct fx *f = *state;
	static const char *const cmds[][3] = {
		{ "recs", "list", NULL }, { "recs", "show", "1" },
		{ "recs", "show", "3" }, { "recs", "stats", NULL },
		{ "hosts", NULL, NULL }, { "vms", NULL, NULL },
		{ "prices", NULL, NULL }, { "status", NULL, NULL },
		{ "events", NULL, NULL }, { "signals", NULL, NULL },
		{ "mode", NULL, NULL },
	};
	regex_t tail;

	assert_int_equal(regcomp(&tail, "[0-9]\\.[0-9]{10,}", REG_EXTENDED |
				 REG_NOSUB), 0);
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		if (cmds[i][2])
			run(f, cmds[i][0], cmds[i][1], cmds[i][2], "--db",
			    f->db, "--json", NULL);
		else if (cmds[i][1])
			run(f, cmds[i][0], cmds[i][1], "--db", f->db, "--json",
			    NULL);
		else
			run(f, cmds[i][0], "--db", f->db, "--json", NULL);
		expect(f, 0, NULL, NULL);
		json_object_put(parse_json(f->out));
		if (regexec(&tail, f->out, 0, NULL, 0) == 0)
			fail_msg("bourse %s %s: a long float tail:\n%s",
				 cmds[i][0], cmds[i][1] ? cmds[i][1] : "",
				 f->out);
	}
	/* the seed's 0.6 + 0.2 * 1 is 0.8000000000000002 in a double */
	run(f, "prices", "--db", f->db, "--round", "1", "--json", NULL);
	assert_non_null(strstr(f->out, "\"utilization\":0.8,"));
	assert_non_null(strstr(f->out, "\"price\":3.1,"));
	regfree(&tail);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_list_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_show, setup, teardown),
		cmocka_unit_test_setup_teardown(test_approve_reject, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_recommend_mode_refuses_approval, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_approve_superseded_names_replacement, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_show_waiting, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_mode_defaults_and_effects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usage_errors, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_missing_db, setup, teardown),
		cmocka_unit_test_setup_teardown(test_old_schema, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hosts_vms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prices, setup, teardown),
		cmocka_unit_test_setup_teardown(test_output_formats, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_list_filters, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_json_numbers, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
