/*
 * test_world.c - the emulated hypervisor (docs/emulated.md): the world
 * (agents/world.h: a VM placed at Startup within what its host sells,
 * resized and moved only within what a host sells, a move as one rename
 * that a killed writer cannot leave half done), the trace source reading it
 * (assigned memory from the world, pressure and guest swap from the
 * shortfall, a VM leaving and arriving), and the emulated actuator
 * (resize, migrate, refusals, the pre-copy time and its timeout).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actuator.h"
#include "fixture.h"
#include "source.h"
#include "util.h"
#include "wire.h"
#include "world.h"
#include "banned.h"

/* Three VMs, 100 s steps: vm 1 busy and growing, vms 2 and 3 quiet. */
static const char trace_csv[] =
	"vm,time_s,provisioned_mib,demand_mib\n"
	"1,0,4096,1000\n1,100,4096,3000\n1,200,4096,5000\n1,300,4096,2000\n"
	"2,0,4096,500\n2,100,4096,500\n2,200,4096,500\n2,300,4096,500\n"
	"3,0,4096,800\n3,100,4096,800\n3,200,4096,800\n3,300,4096,800\n";

struct fx {
	struct tree t;
	char dir[128], trace[128];
	world *w;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[256];

	assert_non_null(f);
	tree_make(&f->t, "world");
	tree_write(&f->t, "trace.csv", trace_csv);
	snprintf(f->dir, sizeof(f->dir), "%s/world", f->t.dir);
	snprintf(f->trace, sizeof(f->trace), "%s/trace.csv", f->t.dir);
	assert_int_equal(world_open(f->dir, &f->w, err, sizeof(err)), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	world_close(f->w);
	assert_int_equal(remove_all(f->t.dir), 0);
	free(f);
	return 0;
}

/* host-a sells 3072 MiB, host-b 7168. */
static void two_hosts(struct fx *f)
{
	char err[256];

	assert_int_equal(world_host_set(f->w, "host-a", 4096, 1024, err,
					sizeof(err)), 0);
	assert_int_equal(world_host_set(f->w, "host-b", 8192, 1024, err,
					sizeof(err)), 0);
}

static void place(struct fx *f, const char *vm, const char *host,
		  int64_t want, int64_t expect)
{
	world_vm v;
	char err[256];

	assert_int_equal(world_vm_place(f->w, vm, host, want, &v, err,
					sizeof(err)), 0);
	assert_string_equal(v.host, host);
	assert_int_equal(v.assigned_mib, expect);
}

static void where(struct fx *f, const char *vm, const char *host,
		  int64_t mib)
{
	world_vm v;
	char err[256];

	assert_int_equal(world_vm_get(f->w, vm, &v, err, sizeof(err)), 0);
	assert_string_equal(v.host, host);
	assert_int_equal(v.assigned_mib, mib);
}

/* ---- the world ---- */

static void test_names(void **state)
{
	struct fx *f = *state;
	char err[256];
	world_vm v;

	(void)f;
	assert_true(world_name_ok("vm-12"));
	assert_true(world_name_ok("host_b.example"));
	assert_false(world_name_ok(""));
	assert_false(world_name_ok(".hidden"));
	assert_false(world_name_ok("a/b"));
	assert_false(world_name_ok(".."));
	assert_false(world_name_ok("a b"));
	assert_int_equal(world_vm_get(f->w, "../x", &v, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot name a file"));
	assert_int_equal(world_host_set(f->w, "h", 100, 100, err, sizeof(err)),
			 -1);
}

/* Placed at what it wants, or what the host has left; placed once. */
static void test_place(void **state)
{
	struct fx *f = *state;
	int64_t used, cap, reserve;
	char err[256];
	world_vm v;

	two_hosts(f);
	assert_int_equal(world_host_get(f->w, "host-a", &cap, &reserve, err,
					sizeof(err)), 0);
	assert_int_equal(cap, 4096);
	assert_int_equal(reserve, 1024);
	place(f, "vm-1", "host-a", 2048, 2048);
	place(f, "vm-2", "host-a", 2048, 1024); /* 1024 left */
	place(f, "vm-3", "host-a", 2048, 0);    /* nothing left */
	/* once placed, placing again changes nothing, wherever it asks */
	place(f, "vm-1", "host-a", 16, 2048);
	assert_int_equal(world_vm_place(f->w, "vm-1", "host-b", 16, &v, err,
					sizeof(err)), 0);
	assert_string_equal(v.host, "host-a");
	assert_int_equal(world_used(f->w, "host-a", &used, err, sizeof(err)),
			 0);
	assert_int_equal(used, 3072);
	assert_int_equal(world_vm_place(f->w, "vm-9", "host-x", 16, &v, err,
					sizeof(err)), WORLD_ABSENT);
	assert_non_null(strstr(err, "host-x is not in the world"));
	assert_int_equal(world_vm_get(f->w, "vm-9", &v, err, sizeof(err)),
			 WORLD_ABSENT);
}

static void test_resize(void **state)
{
	struct fx *f = *state;
	char err[256];

	two_hosts(f);
	place(f, "vm-1", "host-a", 1024, 1024);
	place(f, "vm-2", "host-a", 1024, 1024);
	assert_int_equal(world_resize(f->w, "vm-1", "host-a", 2048, err,
				      sizeof(err)), 0);
	where(f, "vm-1", "host-a", 2048);
	/* 3072 sold, 3072 held: one more MiB is refused, with the figures */
	assert_int_equal(world_resize(f->w, "vm-2", "host-a", 1025, err,
				      sizeof(err)), WORLD_NO_ROOM);
	assert_non_null(strstr(err, "holds 3072 of the 3072 MiB it sells"));
	where(f, "vm-2", "host-a", 1024);
	/* shrinking is always room */
	assert_int_equal(world_resize(f->w, "vm-2", "host-a", 512, err,
				      sizeof(err)), 0);
	where(f, "vm-2", "host-a", 512);
	assert_int_equal(world_resize(f->w, "vm-2", "host-b", 256, err,
				      sizeof(err)), WORLD_NOT_HERE);
	assert_non_null(strstr(err, "it is on host-a"));
	assert_int_equal(world_resize(f->w, "vm-7", "host-a", 256, err,
				      sizeof(err)), WORLD_ABSENT);
}

static void test_move(void **state)
{
	struct fx *f = *state;
	char err[256];
	int64_t used;

	two_hosts(f);
	place(f, "vm-1", "host-a", 2048, 2048);
	place(f, "vm-2", "host-b", 6000, 6000);
	/* host-b has 1168 left */
	assert_int_equal(world_move(f->w, "vm-1", "host-a", "host-b", 2048,
				    err, sizeof(err)), WORLD_NO_ROOM);
	assert_non_null(strstr(err, "host host-b cannot hold 2048 MiB"));
	where(f, "vm-1", "host-a", 2048);
	assert_int_equal(world_move(f->w, "vm-1", "host-a", "host-b", 1000,
				    err, sizeof(err)), 0);
	where(f, "vm-1", "host-b", 1000);
	assert_int_equal(world_used(f->w, "host-a", &used, err, sizeof(err)),
			 0);
	assert_int_equal(used, 0);
	/* moved already: a repeated move from host-a does nothing */
	assert_int_equal(world_move(f->w, "vm-1", "host-a", "host-b", 1000,
				    err, sizeof(err)), WORLD_NOT_HERE);
	assert_int_equal(world_move(f->w, "vm-1", "host-b", "host-z", 10, err,
				    sizeof(err)), WORLD_ABSENT);
	assert_int_equal(world_move(f->w, "vm-1", "host-b", "host-b", 10, err,
				    sizeof(err)), -1);
	where(f, "vm-1", "host-b", 1000);
}

static int count_vm(void *ctx, const char *vm, const world_vm *v)
{
	(void)v;
	if (!strcmp(vm, "vm-1"))
		(*(int *)ctx)++;
	return 0;
}

static int on_host(struct fx *f, const char *host)
{
	char err[256];
	int n = 0;

	assert_int_equal(world_each_vm(f->w, host, count_vm, &n, err,
				       sizeof(err)), 0);
	return n;
}

/* A move killed half way leaves the temporary file of its new content
 * (whole, or cut short) beside the VM's file, never renamed over it: the
 * VM is on exactly one host, the old one; a new open removes the leftover. */
static void test_half_done_move(void **state)
{
	struct fx *f = *state;
	char err[256];
	world *again;

	two_hosts(f);
	place(f, "vm-1", "host-a", 1024, 1024);
	tree_write(&f->t, "world/vms/.vm-1.tmp.99999",
		   "host host-b\nassigned_mib 1024\n");
	tree_write(&f->t, "world/vms/.vm-1.tmp.99998", "host ho");
	where(f, "vm-1", "host-a", 1024);
	assert_int_equal(on_host(f, "host-a"), 1);
	assert_int_equal(on_host(f, "host-b"), 0);
	assert_int_equal(on_host(f, NULL), 1);
	assert_int_equal(world_open(f->dir, &again, err, sizeof(err)), 0);
	assert_int_equal(access(f->dir, F_OK), 0);
	{
		char p[256];

		snprintf(p, sizeof(p), "%s/vms/.vm-1.tmp.99999", f->dir);
		assert_int_equal(access(p, F_OK), -1);
		snprintf(p, sizeof(p), "%s/vms/.vm-1.tmp.99998", f->dir);
		assert_int_equal(access(p, F_OK), -1);
	}
	/* and the move, done again, completes: on exactly one host */
	assert_int_equal(world_move(again, "vm-1", "host-a", "host-b", 1024,
				    err, sizeof(err)), 0);
	world_close(again);
	assert_int_equal(on_host(f, "host-a"), 0);
	assert_int_equal(on_host(f, "host-b"), 1);
}

/* A file edited by hand into nonsense is an error naming it. */
static void test_malformed(void **state)
{
	struct fx *f = *state;
	char err[256];
	world_vm v;
	int n = 0;

	two_hosts(f);
	tree_write(&f->t, "world/vms/vm-5", "host host-a\nassigned_mib -3\n");
	assert_int_equal(world_vm_get(f->w, "vm-5", &v, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "vms/vm-5"));
	assert_int_equal(world_each_vm(f->w, NULL, count_vm, &n, err,
				       sizeof(err)), -1);
	tree_write(&f->t, "world/hosts/host-c", "capacity_mib 10\n");
	assert_int_equal(world_resize(f->w, "vm-5", "host-c", 1, err,
				      sizeof(err)), -1);
}

/* Two handles on one directory, as two agents: each sees the other. */
static void test_shared(void **state)
{
	struct fx *f = *state;
	char err[256];
	world *b;

	two_hosts(f);
	assert_int_equal(world_open(f->dir, &b, err, sizeof(err)), 0);
	place(f, "vm-1", "host-a", 1024, 1024);
	assert_int_equal(world_move(b, "vm-1", "host-a", "host-b", 512, err,
				    sizeof(err)), 0);
	where(f, "vm-1", "host-b", 512);
	world_dirty_set(f->w, "vm-1", 2.5);
	assert_true(world_dirty_get(f->w, "vm-1") == 2.5);
	world_dirty_set(f->w, "vm-1", 0.5);
	assert_true(world_dirty_get(f->w, "vm-1") == 0.5);
	assert_true(world_dirty_get(b, "vm-1") < 0); /* in the process only */
	world_close(b);
}

/* ---- the trace source on the world ---- */

static source *open_src(struct fx *f, const char *host, int64_t cap,
			size_t first, size_t count)
{
	source_trace_opts o = {
		.path = f->trace, .first = first, .count = count,
		.capacity_mib = cap, .reserve_mib = 1024, .step_s = 100,
		.prefix = "vm-", .world = f->w, .host = host,
	};
	source *s = NULL;
	char err[256];

	if (source_trace_open(&o, &s, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	return s;
}

static source_vm_sample sample(source *s, size_t i, const char *name)
{
	source_vm_config c;
	source_vm_sample v;
	char err[256];

	assert_int_equal(source_vm_config_get(s, i, &c), 0);
	assert_string_equal(c.name, name);
	assert_int_equal(source_vm_read(s, i, &v, err, sizeof(err)), 0);
	return v;
}

static void advance(source *s)
{
	char err[256];

	assert_int_equal(source_advance(s, err, sizeof(err)), 0);
}

/* Assigned memory is the world's; pressure and guest swap follow from the
 * shortfall as the simulator models them; a resize shows at the next
 * advance. */
static void test_source_guest(void **state)
{
	struct fx *f = *state;
	source *a = open_src(f, "host-a", 4096, 0, 2);
	source_vm_sample v;
	source_host h;
	char err[256];

	where(f, "vm-1", "host-a", 1024); /* Startup */
	where(f, "vm-2", "host-a", 1024);
	assert_int_equal(source_n_vms(a), 2);
	v = sample(a, 0, "vm-1");
	assert_true(v.alive);
	assert_int_equal(v.demand_mib, 1000);
	assert_int_equal(v.assigned_mib, 1024);
	assert_true(v.guest_swap_mibps == 0);
	assert_int_equal(v.balloon_mib, 4096 - 1024);
	assert_int_equal(source_host_read(a, &h, err, sizeof(err)), 0);
	assert_int_equal(h.free_mib, 3072 - 2048);

	advance(a); /* t = 100: demand 3000 on 1024: short 1976 */
	v = sample(a, 0, "vm-1");
	assert_int_equal(v.demand_mib, 3000);
	assert_true(v.pressure == wire_pressure(3000, 1024));
	assert_true(v.guest_swap_mibps == 1976.0 / 100);

	assert_int_equal(world_resize(f->w, "vm-1", "host-a", 2048, err,
				      sizeof(err)), 0);
	v = sample(a, 0, "vm-1"); /* not before the next advance */
	assert_int_equal(v.assigned_mib, 1024);
	advance(a); /* t = 200: demand 5000 on 2048: short 2952, +976 */
	v = sample(a, 0, "vm-1");
	assert_int_equal(v.assigned_mib, 2048);
	assert_true(v.guest_swap_mibps == 976.0 / 100);
	assert_true(world_dirty_get(f->w, "vm-1") == 2000.0 / 100);
	assert_int_equal(source_host_read(a, &h, err, sizeof(err)), 0);
	assert_int_equal(h.free_mib, 0);

	advance(a); /* t = 300: demand 2000 on 2048: no shortfall */
	v = sample(a, 0, "vm-1");
	assert_true(v.guest_swap_mibps == 0);
	assert_true(v.pressure == wire_pressure(2000, 2048));
	source_close(a);
}

/* A VM moved in the world leaves one source (alive = 0, same index) and is
 * appended to the other's, where it is alive, with what it arrived with and
 * no swap burst from the move. */
static void test_source_move(void **state)
{
	struct fx *f = *state;
	source *a = open_src(f, "host-a", 4096, 0, 2);
	source *b = open_src(f, "host-b", 8192, 2, 1);
	source_vm_sample v;
	char err[256];

	advance(a);
	advance(b); /* t = 100 on both: vm-1 is 1976 MiB short on host-a */
	assert_int_equal(world_move(f->w, "vm-1", "host-a", "host-b", 1024,
				    err, sizeof(err)), 0);
	advance(a);
	advance(b);
	assert_int_equal(source_n_vms(a), 2);
	assert_false(sample(a, 0, "vm-1").alive);
	assert_true(sample(a, 1, "vm-2").alive);
	assert_int_equal(source_n_vms(b), 2);
	assert_true(sample(b, 0, "vm-3").alive);
	v = sample(b, 1, "vm-1");
	assert_true(v.alive);
	assert_int_equal(v.assigned_mib, 1024);
	assert_int_equal(v.demand_mib, 5000);
	assert_true(v.guest_swap_mibps == 0);
	advance(b); /* t = 300: 2000 on 1024 */
	assert_true(sample(b, 1, "vm-1").guest_swap_mibps == 0);

	/* and back: host-a lists it again at its old index */
	assert_int_equal(world_move(f->w, "vm-1", "host-b", "host-a", 512,
				    err, sizeof(err)), 0);
	advance(a);
	advance(b);
	assert_int_equal(source_n_vms(a), 2);
	assert_true(sample(a, 0, "vm-1").alive);
	assert_false(sample(b, 1, "vm-1").alive);
	source_close(a);
	source_close(b);
}

/* A restarted agent finds its VMs where the world has them, not where its
 * slice would put them. */
static void test_source_restart(void **state)
{
	struct fx *f = *state;
	source *a = open_src(f, "host-a", 4096, 0, 2);
	source *b = open_src(f, "host-b", 8192, 2, 1);
	char err[256];

	assert_int_equal(world_move(f->w, "vm-2", "host-a", "host-b", 700, err,
				    sizeof(err)), 0);
	source_close(a);
	a = open_src(f, "host-a", 4096, 0, 2);
	assert_int_equal(source_n_vms(a), 1);
	assert_true(sample(a, 0, "vm-1").alive);
	where(f, "vm-2", "host-b", 700);
	source_close(a);
	source_close(b);
}

/* ---- the emulated actuator ---- */

static actuator *open_act(struct fx *f, const char *host, double mibps,
			  double dirty)
{
	actuator_emulated_opts o = {
		.world = f->w, .host = host, .migrate_mibps = mibps,
		.dirty_mibps = dirty,
		.note = NULL,
	};
	actuator *a = NULL;
	char err[256];

	if (actuator_emulated_open(&o, &a, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	return a;
}

static actuator_result act(actuator *a, const char *id, actuator_kind k,
			   const char *vm, int64_t mib, const char *uri,
			   int64_t timeout_ms)
{
	actuator_action x = { .id = id, .kind = k, .vm = vm,
			      .target_mib = mib, .to_uri = uri,
			      .timeout_ms = timeout_ms };
	actuator_result r;

	actuator_do(a, &x, &r);
	return r;
}

static void test_actuator_resize(void **state)
{
	struct fx *f = *state;
	actuator *a;
	actuator_result r;

	two_hosts(f);
	place(f, "vm-1", "host-a", 1024, 1024);
	place(f, "vm-2", "host-b", 1024, 1024);
	a = open_act(f, "host-a", 1100, -1);
	r = act(a, "r1", ACTUATOR_RESIZE, "vm-1", 3000, NULL, 1000);
	assert_int_equal(r.status, ACTUATOR_OK);
	where(f, "vm-1", "host-a", 3000);
	r = act(a, "r2", ACTUATOR_RESIZE, "vm-1", 3073, NULL, 1000);
	assert_int_equal(r.status, ACTUATOR_FAILED);
	assert_non_null(strstr(r.detail, "cannot hold 73 MiB more"));
	where(f, "vm-1", "host-a", 3000);
	r = act(a, "r3", ACTUATOR_RESIZE, "vm-2", 512, NULL, 1000);
	assert_int_equal(r.status, ACTUATOR_FAILED);
	assert_non_null(strstr(r.detail, "not here"));
	r = act(a, "r4", ACTUATOR_RESIZE, "vm-1", 3000, NULL, 1000);
	assert_int_equal(r.status, ACTUATOR_OK);
	assert_non_null(strstr(r.detail, "already"));
	actuator_close(a);
}

static void test_actuator_migrate(void **state)
{
	struct fx *f = *state;
	actuator *a, *fast;
	actuator_result r;

	two_hosts(f);
	place(f, "vm-1", "host-a", 2048, 2048);
	place(f, "vm-2", "host-b", 6000, 6000);
	a = open_act(f, "host-a", 1000, 0); /* 2048 MiB: 2048 ms */
	fast = open_act(f, "host-a", 1e6, 0);
	r = act(a, "m1", ACTUATOR_MIGRATE, "vm-1", 1024, "qemu+ssh://b/system",
		60000);
	assert_int_equal(r.status, ACTUATOR_UNSUPPORTED);
	r = act(a, "m2", ACTUATOR_MIGRATE, "vm-1", 1024, "emulated://host-z",
		60000);
	assert_int_equal(r.status, ACTUATOR_FAILED);
	assert_non_null(strstr(r.detail, "no host host-z"));
	r = act(a, "m3", ACTUATOR_MIGRATE, "vm-1", 1024, "emulated://host-a",
		60000);
	assert_int_equal(r.status, ACTUATOR_FAILED);
	r = act(a, "m4", ACTUATOR_MIGRATE, "vm-1", 2048, "emulated://host-b",
		60000); /* host-b has 1168 left */
	assert_int_equal(r.status, ACTUATOR_FAILED);
	assert_non_null(strstr(r.detail, "cannot hold 2048 MiB more"));
	/* longer than allowed: given up at the timeout, still here */
	r = act(a, "m5", ACTUATOR_MIGRATE, "vm-1", 1024, "emulated://host-b",
		50);
	assert_int_equal(r.status, ACTUATOR_TIMEOUT);
	assert_non_null(strstr(r.detail, "needs 2048 ms"));
	where(f, "vm-1", "host-a", 2048);
	r = act(fast, "m6", ACTUATOR_MIGRATE, "vm-1", 1024,
		"emulated://host-b", 60000);
	assert_int_equal(r.status, ACTUATOR_OK);
	where(f, "vm-1", "host-b", 1024);
	/* the same id again: remembered; a new id: not here any more */
	r = act(fast, "m6", ACTUATOR_MIGRATE, "vm-1", 1024,
		"emulated://host-b", 60000);
	assert_true(r.repeated);
	r = act(fast, "m7", ACTUATOR_MIGRATE, "vm-1", 1024,
		"emulated://host-b", 60000);
	assert_int_equal(r.status, ACTUATOR_FAILED);
	assert_non_null(strstr(r.detail, "not here"));
	actuator_close(a);
	actuator_close(fast);
}

/* Dirty at the link's speed or more: pre-copy never ends; refused. The
 * derived rate is the source's (world_dirty_set()). */
static void test_actuator_dirty(void **state)
{
	struct fx *f = *state;
	actuator *a;
	actuator_result r;

	two_hosts(f);
	place(f, "vm-1", "host-a", 1024, 1024);
	a = open_act(f, "host-a", 100, -1);
	world_dirty_set(f->w, "vm-1", 150);
	r = act(a, "d1", ACTUATOR_MIGRATE, "vm-1", 1024, "emulated://host-b",
		60000);
	assert_int_equal(r.status, ACTUATOR_FAILED);
	assert_non_null(strstr(r.detail, "would not converge"));
	world_dirty_set(f->w, "vm-1", 99);
	r = act(a, "d2", ACTUATOR_MIGRATE, "vm-1", 1024, "emulated://host-b",
		100); /* 1024 / (100 - 99) s: far beyond 100 ms */
	assert_int_equal(r.status, ACTUATOR_TIMEOUT);
	assert_non_null(strstr(r.detail, "needs 1024000 ms"));
	actuator_close(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_place, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resize, setup, teardown),
		cmocka_unit_test_setup_teardown(test_move, setup, teardown),
		cmocka_unit_test_setup_teardown(test_half_done_move, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_shared, setup, teardown),
		cmocka_unit_test_setup_teardown(test_source_guest, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_source_move, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_source_restart, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_actuator_resize, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_actuator_migrate, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_actuator_dirty, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
