/*
 * actuator_cgroup.c - the cgroup v2 actuator: a VM is the child cgroup
 * <cgroup_root>/<parent>/<vm> (as the cgroup source sees it), and a resize
 * sets its memory.high.
 *
 * Resize: the VM's name must be a single path component (no '/', not "."
 * nor ".."); its cgroup must exist ("not here" otherwise) and have a
 * memory.high. A target above its memory.max (when that is a number) is
 * refused; a memory.high already at the target is left alone ("already N
 * MiB"); otherwise the target in bytes ("<bytes>\n", one write()) goes to
 * memory.high, which is read back and must hold it. The kernel reclaims down
 * to a lowered memory.high within the write, so the write returns when that
 * is done: timeout_ms is not used.
 *
 * Migrate: ACTUATOR_UNSUPPORTED ("a cgroup cannot migrate").
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actuator.h"
#include "procfile.h"
#include "util.h"
#include "banned.h"

#define CGA_DIR_MAX 3800   /* longest <cgroup_root>/<parent> */
#define CGA_PATH_MAX 4096
#define CGA_MIB (1024ULL * 1024ULL)

struct cga {
	char *dir;             /* <cgroup_root>/<parent>, owned */
	actuator_note_fn note; /* NULL: stderr (no notes are made yet) */
	void *note_ctx;
};

/* ---- memory.high and memory.max: "N" or "max", one line ---- */

/* 0: read into *v; 1: cannot be read (err says why); -1: malformed. */
static int read_value(const char *path, uint64_t *v, char *err,
		      size_t errlen)
{
	return procfile_one_line(path, procfile_value_line, v, err, errlen);
}

/* Writes "<bytes>\n" to path, in one write(); 0, or -1 with err. */
static int write_value(const char *path, uint64_t bytes, char *err,
		       size_t errlen)
{
	char text[32];
	int len = snprintf(text, sizeof(text), "%llu\n",
			   (unsigned long long)bytes);
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	ssize_t n;

	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", path,
			 strerror(errno));
		return -1;
	}
	n = write(fd, text, (size_t)len);
	if (n != len) {
		snprintf(err, errlen, "cannot write %s: %s", path,
			 n < 0 ? strerror(errno) : "short write");
		close(fd);
		return -1;
	}
	if (close(fd) != 0) {
		snprintf(err, errlen, "cannot write %s: %s", path,
			 strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- resize ---- */

static int one_component(const char *vm)
{
	return !strchr(vm, '/') && strcmp(vm, ".") != 0 &&
	       strcmp(vm, "..") != 0;
}

/* Is there a cgroup directory for vm? Its path into path. */
static int cgroup_here(const struct cga *c, const char *vm, char *path,
		       size_t len)
{
	struct stat st;

	snprintf(path, len, "%s/%s", c->dir, vm);
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* out = "<cg>/<file>"; -1 (r set) if that does not fit. */
static int cg_file(char *out, size_t size, const char *cg, const char *file,
		   const char *vm, actuator_result *r)
{
	int n = snprintf(out, size, "%s/%s", cg, file);

	if (n < 0 || (size_t)n >= size) {
		actuator_result_set(r, ACTUATOR_FAILED,
				    "%s: the path of its %s is too long", vm,
				    file);
		return -1;
	}
	return 0;
}

/* Refuses bytes above memory.max (a missing file is no limit); 0 if
 * allowed, -1 with r set. */
static int below_max(const char *cg, const char *vm, uint64_t bytes,
		     actuator_result *r)
{
	char path[CGA_PATH_MAX], why[CGA_PATH_MAX + PROCFILE_MSG_MAX];
	uint64_t max = PROCFILE_UNLIMITED;
	int rc;

	if (cg_file(path, sizeof(path), cg, "memory.max", vm, r))
		return -1;
	rc = read_value(path, &max, why, sizeof(why));
	if (rc < 0) {
		actuator_result_set(r, ACTUATOR_FAILED, "%s: %s", vm, why);
		return -1;
	}
	if (rc == 0 && max != PROCFILE_UNLIMITED && bytes > max) {
		actuator_result_set(r, ACTUATOR_FAILED,
				    "%s: %llu MiB is above its memory.max "
				    "of %llu MiB",
				    vm, (unsigned long long)(bytes / CGA_MIB),
				    (unsigned long long)(max / CGA_MIB));
		return -1;
	}
	return 0;
}

/* Sets memory.high of the cgroup cg to bytes, unless it is there. */
static void set_high(const char *cg, const char *vm, uint64_t bytes,
		     actuator_result *r)
{
	char path[CGA_PATH_MAX], why[CGA_PATH_MAX + PROCFILE_MSG_MAX];
	uint64_t old = 0, now = 0;
	char was[32];

	if (cg_file(path, sizeof(path), cg, "memory.high", vm, r))
		return;
	if (read_value(path, &old, why, sizeof(why)) != 0) {
		actuator_result_set(r, ACTUATOR_FAILED, "%s: %s", vm, why);
		return;
	}
	if (old == bytes) {
		actuator_result_set(r, ACTUATOR_OK, "%s: already %llu MiB", vm,
				    (unsigned long long)(bytes / CGA_MIB));
		return;
	}
	if (write_value(path, bytes, why, sizeof(why)) != 0 ||
	    read_value(path, &now, why, sizeof(why)) != 0) {
		actuator_result_set(r, ACTUATOR_FAILED, "%s: %s", vm, why);
		return;
	}
	if (now != bytes) {
		actuator_result_set(r, ACTUATOR_FAILED,
				    "%s: %s holds %llu after %llu was "
				    "written",
				    vm, path, (unsigned long long)now,
				    (unsigned long long)bytes);
		return;
	}
	if (old == PROCFILE_UNLIMITED)
		snprintf(was, sizeof(was), "no limit");
	else
		snprintf(was, sizeof(was), "%llu MiB",
			 (unsigned long long)(old / CGA_MIB));
	actuator_result_set(r, ACTUATOR_OK,
			    "%s: memory.high from %s to %llu MiB", vm, was,
			    (unsigned long long)(bytes / CGA_MIB));
}

static void resize(const struct cga *c, const actuator_action *x,
		   actuator_result *r)
{
	uint64_t bytes = (uint64_t)x->target_mib * CGA_MIB;
	char cg[CGA_PATH_MAX];

	if (!one_component(x->vm))
		actuator_result_set(r, ACTUATOR_FAILED,
				    "%s is not a cgroup name (a VM's name "
				    "may not hold '/' nor be '.' or '..')",
				    x->vm);
	else if (!cgroup_here(c, x->vm, cg, sizeof(cg)))
		actuator_result_set(r, ACTUATOR_FAILED,
				    "%s is not here: no cgroup %s", x->vm, cg);
	else if (below_max(cg, x->vm, bytes, r) == 0)
		set_high(cg, x->vm, bytes, r);
}

/* ---- the ops ---- */

static void cga_act(actuator *a, const actuator_action *x,
		    actuator_result *r)
{
	if (x->kind == ACTUATOR_RESIZE)
		resize(a->state, x, r);
	else
		actuator_result_set(r, ACTUATOR_UNSUPPORTED,
				    "%s: a cgroup cannot migrate", x->vm);
}

static void cga_free(struct cga *c)
{
	if (c)
		free(c->dir);
	free(c);
}

static void cga_close(actuator *a)
{
	cga_free(a->state);
}

static const struct actuator_ops cgroup_ops = {
	.kind = "cgroup",
	.act = cga_act,
	.close = cga_close,
};

/* ---- open ---- */

static int check_args(const char *root, const char *parent, char *err,
		      size_t errlen)
{
	const char *bad = NULL;

	if (!parent)
		bad = "no parent cgroup (\"\" for the root itself)";
	else if (!root[0])
		bad = "the cgroup root is empty";
	else if (strlen(root) + strlen(parent) + 1 > CGA_DIR_MAX)
		bad = "the cgroup path is too long";
	if (bad) {
		snprintf(err, errlen, "%s", bad);
		return -1;
	}
	return 0;
}

static char *parent_dir(const char *root, const char *parent)
{
	size_t len = strlen(root) + strlen(parent) + 2;
	char *dir = malloc(len);

	if (dir)
		snprintf(dir, len, "%s%s%s", root, parent[0] ? "/" : "",
			 parent);
	return dir;
}

/* Is dir a directory? 0, or -1 with err. */
static int check_dir(const char *dir, char *err, size_t errlen)
{
	struct stat st;

	if (stat(dir, &st) != 0) {
		snprintf(err, errlen, "cannot use the cgroup '%s': %s", dir,
			 strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "cannot use the cgroup '%s': not a "
			 "directory", dir);
		return -1;
	}
	return 0;
}

int actuator_cgroup_open(const char *cgroup_root, const char *parent,
			 actuator_note_fn note, void *note_ctx, actuator **out,
			 char *err, size_t errlen)
{
	const char *root = cgroup_root ? cgroup_root : "/sys/fs/cgroup";
	struct cga *c;

	*out = NULL;
	if (check_args(root, parent, err, errlen) != 0)
		return -1;
	c = calloc(1, sizeof(*c));
	if (c)
		c->dir = parent_dir(root, parent);
	if (!c || !c->dir) {
		cga_free(c);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	c->note = note;
	c->note_ctx = note_ctx;
	if (check_dir(c->dir, err, errlen) != 0) {
		cga_free(c);
		return -1;
	}
	*out = actuator_new(&cgroup_ops, c);
	if (!*out) {
		cga_free(c);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}
