/*
 * world.c - the emulated hypervisor's shared state (world.h): a directory of
 * small files, each written to a temporary file, fsync()ed and renamed over
 * the old one, every read-check-write under an flock() on DIR/lock.
 *
 * The lock is taken on a file descriptor opened for that one operation, so
 * that two threads of one process (the source on the agent's loop, the
 * actuator on its worker) exclude each other as two processes do: flock()
 * locks belong to the open file description.
 */
#define _GNU_SOURCE /* O_CLOEXEC, dirfd */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"
#include "world.h"
#include "banned.h"

#define WORLD_FILE_MAX 512 /* a host or VM file is far smaller */
#define WORLD_PATH_MAX 4096
#define WORLD_MAX_MIB (1LL << 40) /* as the trace reader's bound */

struct dirty {
	char *vm;
	double mibps;
};

struct world {
	char *dir;
	pthread_mutex_t mu; /* the dirty rates */
	struct dirty *dirty;
	size_t n_dirty, cap_dirty;
};

int world_name_ok(const char *name)
{
	size_t n = name ? strnlen(name, WORLD_NAME_MAX + 1) : 0;

	if (n == 0 || n > WORLD_NAME_MAX || name[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return 0;
	}
	return 1;
}

static int bad_name(const char *what, const char *name, char *err,
		    size_t errlen)
{
	return util_err(err, errlen, "%s name '%.60s' cannot name a file of "
			"the world (1..%d of A-Z a-z 0-9 . _ -, not starting "
			"with '.')", what, name ? name : "", WORLD_NAME_MAX);
}

/* DIR/sub/name (name may be NULL: DIR/sub). */
static int path_of(const world *w, char *buf, size_t len, const char *sub,
		   const char *name)
{
	int n = name ? snprintf(buf, len, "%s/%s/%s", w->dir, sub, name)
		     : snprintf(buf, len, "%s/%s", w->dir, sub);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* ---- the lock ---- */

/* An fd holding DIR/lock, shared or exclusive; -1 with err. */
static int lock_take(const world *w, int how, char *err, size_t errlen)
{
	char p[WORLD_PATH_MAX];
	int fd;

	if (path_of(w, p, sizeof(p), "lock", NULL) != 0)
		return util_err(err, errlen, "world path too long");
	fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return util_err(err, errlen, "cannot open %s: %s", p,
				strerror(errno));
	while (flock(fd, how) != 0) {
		if (errno == EINTR)
			continue;
		util_err(err, errlen, "cannot lock %s: %s", p, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void lock_drop(int fd)
{
	close(fd); /* releases the flock */
}

/* ---- files ---- */

/* The whole of a small file into buf (NUL-terminated): 0, WORLD_ABSENT,
 * or -1. */
static int read_small(const char *path, char *buf, size_t len, char *err,
		      size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t got = 0;
	ssize_t n;

	if (fd < 0) {
		if (errno == ENOENT)
			return WORLD_ABSENT;
		return util_err(err, errlen, "cannot open %s: %s", path,
				strerror(errno));
	}
	while (got < len - 1 &&
	       ((n = read(fd, buf + got, len - 1 - got)) > 0 ||
		(n < 0 && errno == EINTR)))
		got += n > 0 ? (size_t)n : 0;
	close(fd);
	buf[got] = '\0';
	if (got == len - 1)
		return util_err(err, errlen, "%s is too large for a world "
				"file", path);
	return 0;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* Writes text as DIR/sub/name: temporary file, fsync, rename, fsync of the
 * directory. */
static int write_atomic(const world *w, const char *sub, const char *name,
			const char *text, char *err, size_t errlen)
{
	char dir[WORLD_PATH_MAX], tmp[WORLD_PATH_MAX], dst[WORLD_PATH_MAX];
	size_t len = strlen(text), off = 0;
	int fd, n;

	n = snprintf(tmp, sizeof(tmp), "%s/%s/.%s.tmp.%ld", w->dir, sub, name,
		     (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp) ||
	    path_of(w, dst, sizeof(dst), sub, name) != 0 ||
	    path_of(w, dir, sizeof(dir), sub, NULL) != 0)
		return util_err(err, errlen, "world path too long");
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return util_err(err, errlen, "cannot create %s: %s", tmp,
				strerror(errno));
	while (off < len) {
		ssize_t k = write(fd, text + off, len - off);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		off += (size_t)k;
	}
	if (off < len || fsync(fd) != 0) {
		util_err(err, errlen, "cannot write %s: %s", tmp,
			 strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	if (rename(tmp, dst) != 0) {
		util_err(err, errlen, "cannot rename %s to %s: %s", tmp, dst,
			 strerror(errno));
		unlink(tmp);
		return -1;
	}
	if (fsync_dir(dir) != 0)
		return util_err(err, errlen, "cannot sync %s: %s", dir,
				strerror(errno));
	return 0;
}

/* "key value\n" at the start of *p: the value, *p moved past the line. */
static const char *take_line(const char **p, const char *key, char *val,
			     size_t len)
{
	size_t k = strlen(key), n;
	const char *s = *p;

	if (strncmp(s, key, k) != 0 || s[k] != ' ')
		return NULL;
	s += k + 1;
	n = strcspn(s, "\n");
	if (s[n] != '\n' || n == 0 || n >= len)
		return NULL;
	memcpy(val, s, n);
	val[n] = '\0';
	*p = s + n + 1;
	return val;
}

static int parse_mib(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < 0 || v > WORLD_MAX_MIB)
		return -1;
	*out = v;
	return 0;
}

static int parse_vm(const char *text, world_vm *out)
{
	char host[WORLD_NAME_MAX + 2], mib[32];
	const char *p = text;

	if (!take_line(&p, "host", host, sizeof(host)) ||
	    !take_line(&p, "assigned_mib", mib, sizeof(mib)) || *p ||
	    !world_name_ok(host) || parse_mib(mib, &out->assigned_mib) != 0)
		return -1;
	memcpy(out->host, host, strlen(host) + 1);
	return 0;
}

static int vm_read(const world *w, const char *vm, world_vm *out, char *err,
		   size_t errlen)
{
	char p[WORLD_PATH_MAX], text[WORLD_FILE_MAX];
	int rc;

	if (path_of(w, p, sizeof(p), "vms", vm) != 0)
		return util_err(err, errlen, "world path too long");
	rc = read_small(p, text, sizeof(text), err, errlen);
	if (rc != 0)
		return rc;
	if (parse_vm(text, out) != 0)
		return util_err(err, errlen, "%s: not 'host NAME' then "
				"'assigned_mib N' (docs/emulated.md)", p);
	return 0;
}

static int vm_write(const world *w, const char *vm, const char *host,
		    int64_t mib, char *err, size_t errlen)
{
	char text[WORLD_FILE_MAX];

	snprintf(text, sizeof(text), "host %s\nassigned_mib %" PRId64 "\n",
		 host, mib);
	return write_atomic(w, "vms", vm, text, err, errlen);
}

static int host_read(const world *w, const char *host, int64_t *cap,
		     int64_t *reserve, char *err, size_t errlen)
{
	char p[WORLD_PATH_MAX], text[WORLD_FILE_MAX], a[32], b[32];
	const char *s = text;
	int rc;

	if (path_of(w, p, sizeof(p), "hosts", host) != 0)
		return util_err(err, errlen, "world path too long");
	rc = read_small(p, text, sizeof(text), err, errlen);
	if (rc != 0)
		return rc;
	if (!take_line(&s, "capacity_mib", a, sizeof(a)) ||
	    !take_line(&s, "reserve_mib", b, sizeof(b)) || *s ||
	    parse_mib(a, cap) != 0 || parse_mib(b, reserve) != 0 ||
	    *reserve >= *cap)
		return util_err(err, errlen, "%s: not 'capacity_mib N' then "
				"'reserve_mib N' below it (docs/emulated.md)",
				p);
	return 0;
}

/* ---- walking the VMs ---- */

/* fn for each VM file on host (NULL: all); the caller holds the lock. */
static int walk(const world *w, const char *host, world_vm_fn fn, void *ctx,
		char *err, size_t errlen)
{
	char p[WORLD_PATH_MAX];
	struct dirent *e;
	world_vm v;
	DIR *d;
	int rc = 0;

	if (path_of(w, p, sizeof(p), "vms", NULL) != 0)
		return util_err(err, errlen, "world path too long");
	d = opendir(p);
	if (!d)
		return util_err(err, errlen, "cannot list %s: %s", p,
				strerror(errno));
	while (rc == 0 && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue; /* ".", "..", temporary files */
		if (!world_name_ok(e->d_name))
			continue; /* not ours: left alone */
		rc = vm_read(w, e->d_name, &v, err, errlen);
		if (rc == WORLD_ABSENT) { /* removed by hand meanwhile */
			rc = 0;
			continue;
		}
		if (rc == 0 && (!host || !strcmp(v.host, host)))
			rc = fn(ctx, e->d_name, &v);
	}
	closedir(d);
	return rc;
}

static int add_used(void *ctx, const char *vm, const world_vm *v)
{
	(void)vm;
	*(int64_t *)ctx += v->assigned_mib;
	return 0;
}

/* What host sells and what its VMs hold; the caller holds the lock. */
static int room_of(const world *w, const char *host, int64_t *sells,
		   int64_t *used, char *err, size_t errlen)
{
	int64_t cap, reserve;
	int rc = host_read(w, host, &cap, &reserve, err, errlen);

	if (rc == WORLD_ABSENT)
		util_err(err, errlen, "host %s is not in the world", host);
	if (rc != 0)
		return rc;
	*sells = cap - reserve;
	*used = 0;
	return walk(w, host, add_used, used, err, errlen);
}

/* ---- the API ---- */

static int make_dir(const char *p, char *err, size_t errlen)
{
	if (mkdir(p, 0755) != 0 && errno != EEXIST)
		return util_err(err, errlen, "cannot create %s: %s", p,
				strerror(errno));
	return 0;
}

/* Temporary files of killed writers in DIR/sub (under the lock: no writer
 * is between its write and its rename). */
static void sweep(const world *w, const char *sub)
{
	char p[WORLD_PATH_MAX], f[WORLD_PATH_MAX];
	struct dirent *e;
	DIR *d;

	if (path_of(w, p, sizeof(p), sub, NULL) != 0 || !(d = opendir(p)))
		return;
	while ((e = readdir(d)) != NULL) {
		int n;

		if (e->d_name[0] != '.' || !strstr(e->d_name, ".tmp."))
			continue;
		n = snprintf(f, sizeof(f), "%s/%s", p, e->d_name);
		if (n > 0 && (size_t)n < sizeof(f))
			unlink(f);
	}
	closedir(d);
}

int world_open(const char *dir, world **out, char *err, size_t errlen)
{
	char p[WORLD_PATH_MAX];
	world *w;
	int fd;

	*out = NULL;
	if (!dir || !dir[0])
		return util_err(err, errlen, "no world directory");
	if (strlen(dir) > WORLD_PATH_MAX - WORLD_NAME_MAX - 64)
		return util_err(err, errlen, "world directory path too long");
	w = calloc(1, sizeof(*w));
	if (!w || !(w->dir = strdup(dir))) {
		free(w);
		return util_err(err, errlen, "out of memory");
	}
	pthread_mutex_init(&w->mu, NULL);
	if (make_dir(dir, err, errlen) != 0 ||
	    path_of(w, p, sizeof(p), "hosts", NULL) != 0 ||
	    make_dir(p, err, errlen) != 0 ||
	    path_of(w, p, sizeof(p), "vms", NULL) != 0 ||
	    make_dir(p, err, errlen) != 0 ||
	    (fd = lock_take(w, LOCK_EX, err, errlen)) < 0) {
		world_close(w);
		return -1;
	}
	sweep(w, "hosts");
	sweep(w, "vms");
	lock_drop(fd);
	*out = w;
	return 0;
}

void world_close(world *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->n_dirty; i++)
		free(w->dirty[i].vm);
	free(w->dirty);
	pthread_mutex_destroy(&w->mu);
	free(w->dir);
	free(w);
}

int world_host_set(world *w, const char *host, int64_t capacity_mib,
		   int64_t reserve_mib, char *err, size_t errlen)
{
	char text[WORLD_FILE_MAX];
	int fd, rc;

	if (!world_name_ok(host))
		return bad_name("host", host, err, errlen);
	if (capacity_mib < 1 || capacity_mib > WORLD_MAX_MIB ||
	    reserve_mib < 0 || reserve_mib >= capacity_mib)
		return util_err(err, errlen, "host %s: capacity must be 1 MiB "
				"or more and the reserve below it", host);
	snprintf(text, sizeof(text), "capacity_mib %" PRId64 "\nreserve_mib %"
		 PRId64 "\n", capacity_mib, reserve_mib);
	if ((fd = lock_take(w, LOCK_EX, err, errlen)) < 0)
		return -1;
	rc = write_atomic(w, "hosts", host, text, err, errlen);
	lock_drop(fd);
	return rc;
}

int world_host_get(world *w, const char *host, int64_t *capacity_mib,
		   int64_t *reserve_mib, char *err, size_t errlen)
{
	if (!world_name_ok(host))
		return bad_name("host", host, err, errlen);
	return host_read(w, host, capacity_mib, reserve_mib, err, errlen);
}

int world_vm_get(world *w, const char *vm, world_vm *out, char *err,
		 size_t errlen)
{
	if (!world_name_ok(vm))
		return bad_name("VM", vm, err, errlen);
	return vm_read(w, vm, out, err, errlen);
}

int world_vm_place(world *w, const char *vm, const char *host,
		   int64_t want_mib, world_vm *out, char *err, size_t errlen)
{
	int64_t sells, used, mib;
	int fd, rc;

	if (!world_name_ok(vm))
		return bad_name("VM", vm, err, errlen);
	if (!world_name_ok(host))
		return bad_name("host", host, err, errlen);
	if ((fd = lock_take(w, LOCK_EX, err, errlen)) < 0)
		return -1;
	rc = vm_read(w, vm, out, err, errlen);
	if (rc == WORLD_ABSENT) {
		rc = room_of(w, host, &sells, &used, err, errlen);
		mib = want_mib < sells - used ? want_mib : sells - used;
		if (mib < 0)
			mib = 0;
		if (rc == 0)
			rc = vm_write(w, vm, host, mib, err, errlen);
		if (rc == 0) {
			memcpy(out->host, host, strlen(host) + 1);
			out->assigned_mib = mib;
		}
	}
	lock_drop(fd);
	return rc;
}

int world_each_vm(world *w, const char *host, world_vm_fn fn, void *ctx,
		  char *err, size_t errlen)
{
	int fd = lock_take(w, LOCK_SH, err, errlen);
	int rc;

	if (fd < 0)
		return -1;
	rc = walk(w, host, fn, ctx, err, errlen);
	lock_drop(fd);
	return rc;
}

int world_used(world *w, const char *host, int64_t *used_mib, char *err,
	       size_t errlen)
{
	*used_mib = 0;
	return world_each_vm(w, host, add_used, used_mib, err, errlen);
}

/* Can host take delta_mib more? 0, WORLD_NO_ROOM with why, or an error. */
static int check_room(const world *w, const char *host, int64_t delta_mib,
		      char *err, size_t errlen)
{
	int64_t sells, used;
	int rc = room_of(w, host, &sells, &used, err, errlen);

	if (rc != 0)
		return rc;
	if (delta_mib > 0 && used + delta_mib > sells) {
		util_err(err, errlen, "host %s cannot hold %" PRId64 " MiB "
			 "more: it holds %" PRId64 " of the %" PRId64 " MiB "
			 "it sells", host, delta_mib, used, sells);
		return WORLD_NO_ROOM;
	}
	return 0;
}

/* The VM under the lock: 0 if on host, else WORLD_ABSENT / NOT_HERE. */
static int vm_here(const world *w, const char *vm, const char *host,
		   world_vm *v, char *err, size_t errlen)
{
	int rc = vm_read(w, vm, v, err, errlen);

	if (rc == WORLD_ABSENT)
		util_err(err, errlen, "%s is not in the world", vm);
	else if (rc == 0 && strcmp(v->host, host)) {
		util_err(err, errlen, "%s is not here: it is on %s", vm,
			 v->host);
		rc = WORLD_NOT_HERE;
	}
	return rc;
}

int world_resize(world *w, const char *vm, const char *host,
		 int64_t target_mib, char *err, size_t errlen)
{
	world_vm v;
	int fd, rc;

	if (!world_name_ok(vm))
		return bad_name("VM", vm, err, errlen);
	if (!world_name_ok(host))
		return bad_name("host", host, err, errlen);
	if (target_mib < 0 || target_mib > WORLD_MAX_MIB)
		return util_err(err, errlen, "target out of range");
	if ((fd = lock_take(w, LOCK_EX, err, errlen)) < 0)
		return -1;
	rc = vm_here(w, vm, host, &v, err, errlen);
	if (rc == 0)
		rc = check_room(w, host, target_mib - v.assigned_mib, err,
				errlen);
	if (rc == 0 && target_mib != v.assigned_mib)
		rc = vm_write(w, vm, host, target_mib, err, errlen);
	lock_drop(fd);
	return rc;
}

int world_move(world *w, const char *vm, const char *from, const char *to,
	       int64_t target_mib, char *err, size_t errlen)
{
	world_vm v;
	int fd, rc;

	if (!world_name_ok(vm))
		return bad_name("VM", vm, err, errlen);
	if (!world_name_ok(from) || !world_name_ok(to))
		return bad_name("host", world_name_ok(from) ? to : from, err,
				errlen);
	if (!strcmp(from, to))
		return util_err(err, errlen, "%s is on %s already", vm, to);
	if (target_mib < 0 || target_mib > WORLD_MAX_MIB)
		return util_err(err, errlen, "target out of range");
	if ((fd = lock_take(w, LOCK_EX, err, errlen)) < 0)
		return -1;
	rc = vm_here(w, vm, from, &v, err, errlen);
	if (rc == 0)
		rc = check_room(w, to, target_mib, err, errlen);
	if (rc == 0)
		rc = vm_write(w, vm, to, target_mib, err, errlen);
	lock_drop(fd);
	return rc;
}

/* ---- dirty rates, in the process ---- */

void world_dirty_set(world *w, const char *vm, double mibps)
{
	size_t i;

	pthread_mutex_lock(&w->mu);
	for (i = 0; i < w->n_dirty; i++)
		if (!strcmp(w->dirty[i].vm, vm))
			break;
	if (i < w->n_dirty) {
		w->dirty[i].mibps = mibps;
	} else if (UTIL_GROW(w->dirty, w->n_dirty + 1, w->cap_dirty) == 0 &&
		   (w->dirty[i].vm = strdup(vm)) != NULL) {
		w->dirty[i].mibps = mibps;
		w->n_dirty++;
	} /* out of memory: the rate is unknown, as before */
	pthread_mutex_unlock(&w->mu);
}

double world_dirty_get(world *w, const char *vm)
{
	double r = -1;

	pthread_mutex_lock(&w->mu);
	for (size_t i = 0; i < w->n_dirty; i++)
		if (!strcmp(w->dirty[i].vm, vm))
			r = w->dirty[i].mibps;
	pthread_mutex_unlock(&w->mu);
	return r;
}
