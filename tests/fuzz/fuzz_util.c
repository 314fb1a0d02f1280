/*
 * fuzz_util.c - helpers shared by the fuzz targets (fuzz_util.h).
 */
#include "fuzz_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wire.h"
#include "banned.h"

/* In the sanitizers' runtime when there is one (weak: NULL without). */
void __sanitizer_report_error_summary(const char *summary)
	__attribute__((weak));

void fuzz_fail(const char *file, int line, const char *cond,
	       const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int n;

	n = snprintf(msg, sizeof(msg), "fuzz invariant broken at %s:%d: %s: ",
		     file, line, cond);
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < sizeof(msg))
		vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s\n", msg);
	fflush(stderr);
	if (__sanitizer_report_error_summary != NULL)
		__sanitizer_report_error_summary(msg);
	abort();
}

int fuzz_terminated(const char *s, size_t len)
{
	return s != NULL && memchr(s, '\0', len) != NULL;
}

/* ---- scratch directory ---- */

static char s_scratch[4096];

static void s_rm_tree(const char *path, int keep)
{
	struct stat st;
	DIR *d;
	struct dirent *e;

	if (lstat(path, &st) != 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		unlink(path);
		return;
	}
	d = opendir(path);
	if (d != NULL) {
		while ((e = readdir(d)) != NULL) {
			char sub[4096];

			if (strcmp(e->d_name, ".") == 0 ||
			    strcmp(e->d_name, "..") == 0)
				continue;
			if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", path,
					     e->d_name) >= sizeof(sub))
				continue;
			s_rm_tree(sub, 0);
		}
		closedir(d);
	}
	if (!keep)
		rmdir(path);
}

static void s_scratch_remove(void)
{
	if (s_scratch[0] != '\0')
		s_rm_tree(s_scratch, 0);
}

const char *fuzz_scratch(void)
{
	const char *base = getenv("TMPDIR");

	if (s_scratch[0] != '\0')
		return s_scratch;
	if (base == NULL || base[0] == '\0')
		base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(s_scratch, sizeof(s_scratch), "%s/bourse-fuzz-XXXXXX", base);
	if (mkdtemp(s_scratch) == NULL) {
		perror("fuzz: mkdtemp");
		abort();
	}
	atexit(s_scratch_remove);
	return s_scratch;
}

void fuzz_clear(const char *dir)
{
	s_rm_tree(dir, 1);
}

/* mkdir -p of the first len bytes of path. */
static int s_mkdirs(const char *path, size_t len)
{
	char buf[4096];

	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, path, len);
	buf[len] = '\0';
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, 0700) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

int fuzz_mkdir(const char *dir, const char *name)
{
	char path[4096];
	int n = snprintf(path, sizeof(path), "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= sizeof(path))
		return -1;
	return s_mkdirs(path, (size_t)n);
}

int fuzz_write(const char *dir, const char *name, const void *data,
	       size_t len)
{
	char path[4096];
	const char *slash;
	int n = snprintf(path, sizeof(path), "%s/%s", dir, name), fd;
	size_t off = 0;

	if (n < 0 || (size_t)n >= sizeof(path))
		return -1;
	slash = strrchr(path, '/');
	if (slash != NULL && slash > path + strlen(dir) &&
	    s_mkdirs(path, (size_t)(slash - path)) != 0)
		return -1;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -1;
	while (off < len) {
		ssize_t w = write(fd, (const char *)data + off, len - off);

		if (w <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	return close(fd) == 0 ? 0 : -1;
}

/* ---- splitting ---- */

/* Is data[at..] a header line "==> NAME <==\n" (or at the end without the
 * newline)? Returns its length and the name's bounds. */
static size_t s_header(const uint8_t *data, size_t size, size_t at,
		       size_t *name_at, size_t *name_len)
{
	const uint8_t *nl;
	size_t end, line;

	if (size - at < 8 || memcmp(data + at, "==> ", 4) != 0)
		return 0;
	nl = memchr(data + at, '\n', size - at);
	end = nl != NULL ? (size_t)(nl - data) : size;
	line = end - at;
	if (line < 8 || memcmp(data + end - 4, " <==", 4) != 0)
		return 0;
	*name_at = at + 4;
	*name_len = line - 8;
	return line + (nl != NULL);
}

size_t fuzz_sections(const uint8_t *data, size_t size,
		     struct fuzz_section *out, size_t max)
{
	size_t n = 0, at = 0, start = 0, name_at = 0, name_len = 0;
	int have_name = 0;

	while (n < max) {
		size_t na = 0, nl = 0, h = 0; /* na, nl: set when h > 0 */

		/* next header at a line start */
		while (at < size) {
			if ((at == 0 || data[at - 1] == '\n') &&
			    (h = s_header(data, size, at, &na, &nl)) > 0)
				break;
			at++;
		}
		if (have_name || at > start) {
			struct fuzz_section *s = &out[n++];
			size_t k = name_len < FUZZ_NAME_MAX - 1 ?
				   name_len : FUZZ_NAME_MAX - 1;

			memcpy(s->name, data + name_at, have_name ? k : 0);
			s->name[have_name ? k : 0] = '\0';
			s->data = data + start;
			s->len = at - start;
		}
		if (at >= size)
			break;
		have_name = 1;
		name_at = na;
		name_len = nl;
		at += h;
		start = at;
	}
	return n;
}

size_t fuzz_lines(const uint8_t *data, size_t size, char ***tokens,
		  size_t max)
{
	size_t n = 0, at = 0;
	char **t, *str;

	/* pointers, then the strings (size bytes, plus a NUL each) */
	t = malloc(max * sizeof(*t) + size + max + 1);
	if (t == NULL)
		abort();
	str = (char *)(t + max);
	while (n < max && (at < size || (n == 0 && size == 0))) {
		const uint8_t *nl = memchr(data + at, '\n', size - at);
		size_t len = nl != NULL ? (size_t)(nl - (data + at)) : size - at;

		memcpy(str, data + at, len);
		str[len] = '\0';
		t[n++] = str;
		str += len + 1;
		at += len + (nl != NULL);
		if (nl == NULL)
			break;
	}
	*tokens = t;
	return n;
}

/* ---- what an agent sends ---- */

static void s_validate(const wire_msg *m, const char *what)
{
	char err[256];
	wire_reason r;

	r = wire_msg_validate(m, err, sizeof(err));
	FUZZ_CHECK(r == WIRE_OK, "%s from a source does not validate (%s): %s",
		   what, wire_reason_name(r), err);
}

/* Ask.balloon_pressure and Ask.swap_pressure are not in wire.h's Ask (the
 * broker never read them): a source's figures for them are not checked
 * here any more. */
void fuzz_check_host(const source_host *h)
{
	wire_msg m;

	wire_msg_init(&m, WIRE_ROLE_HOST, "h", 1, WIRE_BODY_REGISTER);
	m.reg.has_host = 1;
	m.reg.host.capacity_mib = h->capacity_mib;
	m.reg.host.reserve_mib = h->reserve_mib;
	m.reg.host.uri = "";
	s_validate(&m, "a host Register");

	wire_msg_init(&m, WIRE_ROLE_HOST, "h", 1, WIRE_BODY_ASK);
	m.ask.capacity_mib = h->capacity_mib;
	m.ask.free_mib = h->free_mib;
	m.ask.balloon_mib = h->balloon_mib;
	m.ask.host_swap_mibps = h->host_swap_mibps;
	s_validate(&m, "an Ask");
	FUZZ_CHECK(h->free_mib <= h->capacity_mib - h->reserve_mib,
		   "free %lld MiB above capacity %lld - reserve %lld",
		   (long long)h->free_mib, (long long)h->capacity_mib,
		   (long long)h->reserve_mib);
}

void fuzz_check_vm_config(const source_vm_config *v)
{
	wire_msg m;

	FUZZ_CHECK(wire_name_ok(v->name), "VM name '%.40s' is not a wire name",
		   v->name ? v->name : "(null)");
	wire_msg_init(&m, WIRE_ROLE_VM, v->name, 1, WIRE_BODY_REGISTER);
	m.reg.has_vm = 1;
	m.reg.vm = (wire_vm_config){
		.host = "h",
		.startup_mib = v->startup_mib,
		.minimum_mib = v->minimum_mib,
		.maximum_mib = v->maximum_mib,
		.buffer_pct = v->buffer_pct,
		.weight = v->weight,
		.reservation_mib = v->reservation_mib,
		.limit_mib = v->limit_mib,
		.shares = v->shares,
	};
	s_validate(&m, "a VM Register");
}

void fuzz_check_vm_sample(const char *name, const source_vm_sample *s)
{
	wire_msg m;

	if (!s->alive)
		return;
	wire_msg_init(&m, WIRE_ROLE_VM, name, 1, WIRE_BODY_BID);
	m.bid = (wire_bid){
		.demand_mib = s->demand_mib,
		.assigned_mib = s->assigned_mib,
		.pressure = s->pressure,
		.guest_swap_mibps = s->guest_swap_mibps,
		.balloon_mib = s->balloon_mib,
	};
	s_validate(&m, "a Bid");
}
