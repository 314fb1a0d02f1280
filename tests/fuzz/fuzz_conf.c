/*
 * fuzz_conf.c - bourse.conf (cli/conf.c, docs/configuration.md): the file
 * read with cli_conf_read(), its [vm "NAME"] sections with cli_conf_vms()
 * and applied to a VM's settings with source_vm_override_apply(), and the
 * file given to `bourse broker --config FILE --params` (parsed and printed,
 * never run).
 *
 * Input: the file, whole.
 * Checks: a refused file says why, starting with its path, and leaves no
 * entry; an accepted one has entries of known sections only, each on a
 * line of the file, every string terminated, VM names wire names. The
 * per-VM settings cli_conf_vms() accepts are within the protocol's ranges
 * and consistent; applied to a few VMs' derived settings they give a VM
 * Register that validates. The broker exits 0 or 2.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fuzz_util.h"
#include "source.h"
#include "wire.h"
#include "banned.h"

static void check_entries(const cli_conf *c, size_t lines)
{
	static const char *const known[] = { "broker", "agent", "seller",
					     "buyer", "cli", "vm" };

	for (size_t i = 0; i < c->n; i++) {
		const cli_conf_entry *e = &c->e[i];
		int ok = 0;

		for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
			ok |= !strcmp(e->section, known[k]);
		FUZZ_CHECK(ok, "unknown section '%s' accepted", e->section);
		FUZZ_CHECK(!strcmp(e->section, "vm") == !!e->vm,
			   "section '%s' and vm %p disagree", e->section,
			   (const void *)e->vm);
		FUZZ_CHECK(!e->vm || wire_name_ok(e->vm), "VM name '%.40s'",
			   e->vm);
		FUZZ_CHECK(e->line >= 1 && (size_t)e->line <= lines,
			   "line %d of a file of %zu lines", e->line, lines);
		FUZZ_CHECK(e->key[0] != '\0', "an empty key");
		FUZZ_CHECK(strlen(e->value) < 200, "a value longer than a "
			   "line");
	}
}

static void check_override(const source_vm_override *o)
{
	unsigned s = o->set;

	FUZZ_CHECK(o->exclude == 0 || o->exclude == 1, "exclude %d",
		   o->exclude);
	FUZZ_CHECK(!(s & SOURCE_VM_SET_MINIMUM) ||
		   (o->minimum_mib >= 1 && o->minimum_mib <= WIRE_MAX_MIB),
		   "minimum %lld", (long long)o->minimum_mib);
	FUZZ_CHECK(!(s & SOURCE_VM_SET_MAXIMUM) ||
		   (o->maximum_mib >= 1 && o->maximum_mib <= WIRE_MAX_MIB),
		   "maximum %lld", (long long)o->maximum_mib);
	FUZZ_CHECK(!(s & SOURCE_VM_SET_BUFFER) ||
		   o->buffer_pct <= WIRE_MAX_BUFFER_PCT, "buffer %u",
		   o->buffer_pct);
	FUZZ_CHECK(!(s & SOURCE_VM_SET_SHARES) ||
		   (o->shares >= 1 && o->shares <= WIRE_MAX_SHARES),
		   "shares %u", o->shares);
	FUZZ_CHECK(!((s & SOURCE_VM_SET_MINIMUM) &&
		     (s & SOURCE_VM_SET_MAXIMUM)) ||
		   o->minimum_mib <= o->maximum_mib, "minimum > maximum");
}

/* Each override on a few derived settings: a Register that validates. */
static void check_applied(const source_vm_override *v, size_t n)
{
	static const int64_t maxima[] = { 1, 512, 4096, WIRE_MAX_MIB };
	source_vm_defaults d;

	source_vm_defaults_init(&d);
	d.overrides = v;
	d.n_overrides = n;
	for (size_t i = 0; i < n; i++) {
		check_override(&v[i]);
		for (size_t k = 0; k < sizeof(maxima) / sizeof(maxima[0]);
		     k++) {
			source_vm_config c;

			source_vm_settings(&d, maxima[k], &c);
			c.name = v[i].name;
			source_vm_override_apply(&d, &c);
			fuzz_check_vm_config(&c);
		}
	}
}

static void check_broker(const char *path)
{
	char *argv[] = { "broker", "--config", (char *)path, "--params", NULL };
	int rc = cmd_broker(4, argv);

	FUZZ_CHECK(rc == CLI_OK || rc == CLI_USAGE, "broker exit %d", rc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *dir = fuzz_scratch();
	char path[512], err[768];
	source_vm_override *v = NULL;
	size_t n = 0, lines = 1;
	cli_conf c;

	fuzz_clear(dir);
	if (fuzz_write(dir, "bourse.conf", data, size) != 0)
		return 0;
	snprintf(path, sizeof(path), "%s/bourse.conf", dir);
	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	err[0] = '\0';
	if (cli_conf_read(&c, path, err, sizeof(err)) != 0) {
		FUZZ_CHECK(fuzz_terminated(err, sizeof(err)) &&
			   !strncmp(err, path, strlen(path)),
			   "message '%.200s' does not name the file", err);
		FUZZ_CHECK(c.n == 0 && !c.path, "a refused file kept entries");
		return 0;
	}
	FUZZ_CHECK(c.path && !strcmp(c.path, path), "the path is not kept");
	check_entries(&c, lines);
	err[0] = '\0';
	if (cli_conf_vms(&c, &v, &n, err, sizeof(err)) == 0)
		check_applied(v, n);
	else
		FUZZ_CHECK(fuzz_terminated(err, sizeof(err)) && err[0] &&
			   !v && n == 0, "cli_conf_vms refused without a "
			   "message or kept settings");
	free(v);
	cli_conf_release(&c);
	check_broker(path);
	return 0;
}
