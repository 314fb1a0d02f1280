/*
 * fuzz_procfile.c - the readers of /proc and cgroup v2 files
 * (agents/procfile.c, and the Linux host and cgroup sources built on it:
 * agents/source_linux.c, agents/source_cgroup.c).
 *
 * Input: "==> NAME <==" sections (see fuzz_util.h), each the content of a
 * file of a fixture tree:
 *   meminfo, vmstat, uptime, pressure/memory        the proc root
 *   CHILD/memory.{current,stat,high,max,min,low,pressure}
 *                                                   a cgroup under parent
 *                                                   "cg" (CHILD: printable,
 *                                                   no '/', not . or ..)
 * A NAME ending in "@2" is written only before the second reading (the
 * source's first advance), replacing or adding that file; so the swap rate,
 * a clock, a new or changed cgroup are reached. Bytes before the first
 * section, and every section, are also fed line by line to the line
 * checkers and scanners directly.
 *
 * Checked: the scanners stay within the line and return what they read;
 * procfile_keys_line() and procfile_psi_line() either accept (values in
 * range, each wanted key once) or say why; the sources open or fail with a
 * message, and what an agent would send from them (host Register and Ask,
 * VM Register and Bid) validates after the open and after each advance.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "procfile.h"
#include "source.h"
#include "banned.h"

static const char *const s_proc_files[] = {
	"meminfo", "vmstat", "uptime", "pressure/memory",
};

static const char *const s_cg_files[] = {
	"memory.current", "memory.stat", "memory.high", "memory.max",
	"memory.min", "memory.low", "memory.pressure",
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the line checkers, directly ---- */

static void check_scanners(const char *line)
{
	const char *end = line + strlen(line), *p;
	char key[PROCFILE_KEY_MAX];
	uint64_t u;
	double d;

	p = line;
	if (procfile_scan_u64(&p, &u) == 0) {
		FUZZ_CHECK(p > line && p <= end, "u64 read %td bytes",
			   p - line);
		FUZZ_CHECK(*p < '0' || *p > '9', "u64 stopped at a digit");
	} else {
		FUZZ_CHECK(p == line, "a failed u64 moved");
	}
	p = line;
	if (procfile_scan_decimal(&p, &d) == 0)
		FUZZ_CHECK(p > line && p <= end && isfinite(d) && d >= 0,
			   "decimal %g over %td bytes", d, p - line);
	for (int set = 0; set < 2; set++) {
		p = line;
		memset(key, 'x', sizeof(key));
		if (procfile_scan_key(&p, key, (enum procfile_keyset)set) == 0)
			FUZZ_CHECK(p > line && p <= end &&
				   strlen(key) == (size_t)(p - line) &&
				   strlen(key) < PROCFILE_KEY_MAX,
				   "key '%.70s' over %td bytes", key, p - line);
		FUZZ_CHECK(fuzz_terminated(key, sizeof(key)),
			   "key not terminated");
	}
}

static void check_lines(const uint8_t *data, size_t size)
{
	static const char *const want[] = { "pswpin", "pswpout",
					    "inactive_file", "pswpin" };
	struct procfile_keys keys[2];
	struct procfile_psi psi;
	char **lines, msg[PROCFILE_MSG_MAX];
	size_t n = fuzz_lines(data, size, &lines, 256);

	memset(keys, 0, sizeof(keys));
	memset(&psi, 0, sizeof(psi));
	for (int s = 0; s < 2; s++) {
		keys[s].set = (enum procfile_keyset)s;
		keys[s].what = "key";
		keys[s].want = want;
		keys[s].n_want = 3;
	}
	for (size_t i = 0; i < n; i++) {
		check_scanners(lines[i]);
		/* a reader stops at the first malformed line: start over */
		for (int s = 0; s < 2; s++) {
			msg[0] = '\0';
			if (procfile_keys_line(&keys[s], lines[i], msg,
					       sizeof(msg)) != 0) {
				FUZZ_CHECK(msg[0] != '\0' &&
					   fuzz_terminated(msg, sizeof(msg)),
					   "keys: refused without a message");
				memset(keys[s].seen, 0, sizeof(keys[s].seen));
				continue;
			}
			FUZZ_CHECK(msg[0] == '\0', "keys: %s", msg);
			for (int k = 0; k < 3; k++)
				FUZZ_CHECK(keys[s].seen[k] <= 1,
					   "key %s accepted %d times", want[k],
					   keys[s].seen[k]);
		}
		msg[0] = '\0';
		if (procfile_psi_line(&psi, lines[i], msg, sizeof(msg)) != 0) {
			FUZZ_CHECK(msg[0] != '\0' &&
				   fuzz_terminated(msg, sizeof(msg)),
				   "psi: refused without a message");
			memset(&psi, 0, sizeof(psi));
			continue;
		}
		FUZZ_CHECK(msg[0] == '\0', "psi: %s", msg);
		for (int k = 0; k < 2; k++)
			FUZZ_CHECK(psi.seen[k] <= 1 && psi.avg10[k] >= 0 &&
				   psi.avg10[k] <= 100,
				   "psi %d: seen %d, avg10 %g", k, psi.seen[k],
				   psi.avg10[k]);
	}
	free(lines);
}

/* ---- the fixture tree ---- */

/* Is name a file of the tree (after its "@2" is taken off)? Returns 1 for
 * proc, 2 for cgroup, 0 for neither. */
static int tree_file(const char *name)
{
	const char *slash = strchr(name, '/');

	for (size_t i = 0; i < N_OF(s_proc_files); i++)
		if (strcmp(name, s_proc_files[i]) == 0)
			return 1;
	if (slash == NULL || slash == name || strchr(slash + 1, '/') ||
	    (slash - name == 1 && name[0] == '.') ||
	    (slash - name == 2 && name[0] == '.' && name[1] == '.'))
		return 0;
	for (const char *p = name; p < slash; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			return 0;
	for (size_t i = 0; i < N_OF(s_cg_files); i++)
		if (strcmp(slash + 1, s_cg_files[i]) == 0)
			return 2;
	return 0;
}

/* Writes the sections of one reading (second: those ending in "@2").
 * Returns which kinds of file were written (bit 0 proc, bit 1 cgroup). */
static int write_tree(const char *root, struct fuzz_section *sec, size_t n,
		      int second)
{
	int kinds = 0;

	for (size_t i = 0; i < n; i++) {
		char name[FUZZ_NAME_MAX];
		size_t l = strlen(sec[i].name);
		int late = l > 2 && strcmp(sec[i].name + l - 2, "@2") == 0;
		int kind;
		char dir[4200];

		if (late != second)
			continue;
		memcpy(name, sec[i].name, l + 1);
		if (late)
			name[l - 2] = '\0';
		kind = tree_file(name);
		if (kind == 0)
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", root,
			 kind == 1 ? "proc" : "cg");
		if (fuzz_write(dir, name, sec[i].data, sec[i].len) == 0)
			kinds |= kind;
	}
	return kinds;
}

/* A note from a source: terminated and bounded. */
static void on_note(void *ctx, const char *msg)
{
	int *notes = ctx;

	FUZZ_CHECK(fuzz_terminated(msg, PROCFILE_NOTE_MAX), "note too long");
	(*notes)++;
}

/* ---- the sources ---- */

static void check_host_source(source *s)
{
	source_host h;
	char err[512];

	FUZZ_CHECK(source_host_read(s, &h, err, sizeof(err)) == 0, "host: %s",
		   err);
	FUZZ_CHECK(h.capacity_mib >= 1, "capacity %" PRId64, h.capacity_mib);
	FUZZ_CHECK(h.free_mib >= 0, "free %" PRId64, h.free_mib);
	fuzz_check_host(&h);
	FUZZ_CHECK(source_n_vms(s) == 0, "the linux source has VMs");
}

static void check_vm_source(source *s)
{
	char err[512];

	for (size_t i = 0; i < source_n_vms(s); i++) {
		source_vm_config c;
		source_vm_sample smp;

		FUZZ_CHECK(source_vm_config_get(s, i, &c) == 0,
			   "no config for VM %zu", i);
		fuzz_check_vm_config(&c);
		FUZZ_CHECK(source_vm_read(s, i, &smp, err, sizeof(err)) == 0,
			   "VM %zu: %s", i, err);
		FUZZ_CHECK(smp.demand_mib >= 0 && smp.assigned_mib >= 0,
			   "VM %zu: demand %" PRId64 " assigned %" PRId64, i,
			   smp.demand_mib, smp.assigned_mib);
		fuzz_check_vm_sample(c.name, &smp);
	}
}

/* Open a source, check it, write the "@2" files, advance twice (checking
 * after each good advance: a failed one keeps the last good reading). */
static void run_source(int cgroup, const char *root,
		       struct fuzz_section *sec, size_t n, int64_t reserve)
{
	char dir[4200], err[8192];
	source *s = NULL;
	int notes = 0, rc;
	size_t vms = 0;

	snprintf(dir, sizeof(dir), "%s/proc", root);
	memset(err, 'x', sizeof(err));
	if (cgroup) {
		source_cgroup_opts o = { .cgroup_root = root, .parent = "cg",
					 .note = on_note, .note_ctx = &notes };

		rc = source_cgroup_open(&o, &s, err, sizeof(err));
	} else {
		source_linux_opts o = { .proc_root = dir, .reserve_mib = reserve,
					.note = on_note, .note_ctx = &notes };

		rc = source_linux_open(&o, &s, err, sizeof(err));
	}
	if (rc != 0) {
		FUZZ_CHECK(s == NULL && fuzz_terminated(err, sizeof(err)) &&
			   err[0] != '\0', "failed to open without a message");
		return;
	}
	for (int reading = 0; reading < 3; reading++) {
		if (cgroup) {
			FUZZ_CHECK(source_n_vms(s) >= vms,
				   "the VMs went from %zu to %zu", vms,
				   source_n_vms(s));
			vms = source_n_vms(s);
			check_vm_source(s);
		} else {
			check_host_source(s);
		}
		if (reading == 0)
			write_tree(root, sec, n, 1);
		memset(err, 'x', sizeof(err));
		if (source_advance(s, err, sizeof(err)) != 0)
			FUZZ_CHECK(fuzz_terminated(err, sizeof(err)) &&
				   err[0] != '\0', "advance failed without a "
				   "message");
	}
	source_close(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_section sec[FUZZ_MAX_SECTIONS];
	const char *root = fuzz_scratch();
	size_t n = fuzz_sections(data, size, sec, FUZZ_MAX_SECTIONS);
	int kinds;

	for (size_t i = 0; i < n; i++)
		check_lines(sec[i].data, sec[i].len);
	fuzz_clear(root);
	kinds = write_tree(root, sec, n, 0);
	if (kinds & 1) {
		run_source(0, root, sec, n, 0);
		/* again from the first reading, with a reserve */
		fuzz_clear(root);
		write_tree(root, sec, n, 0);
		run_source(0, root, sec, n, 512);
	}
	if (kinds & 2) {
		fuzz_clear(root);
		write_tree(root, sec, n, 0);
		run_source(1, root, sec, n, 0);
	}
	return 0;
}
