/*
 * fail_alloc.c - an LD_PRELOAD shim that fails the Nth allocation of a
 * process, for the OOM injection test (tests/test_oom.c, `make oom`;
 * docs/reliability.md, "OOM injection").
 *
 * It counts the calls of malloc, calloc, realloc, strdup and strndup made
 * by the program itself, SQLite and protobuf-c (the broker's allocation
 * paths: the caller's address is in one of those objects), and makes the
 * one numbered BOURSE_FAIL_ALLOC_AT (1 is the first after the process
 * started) return NULL with errno ENOMEM, once. Allocations of libzmq,
 * libstdc++ and libc's own internals are not counted: libzmq aborts on a
 * failed allocation by design (alloc_assert), which is not the broker's
 * path. Without BOURSE_FAIL_ALLOC_AT (or with 0) it only counts.
 *
 * On stderr (write(2), never stdio: this runs inside malloc):
 *	fail_alloc: allocation N failed (malloc of S bytes, from OBJ+0xOFF)
 * when it fires, and at exit
 *	fail_alloc: N allocations counted
 * OBJ+0xOFF is for addr2line -e OBJ 0xOFF.
 *
 * Built as a shared object without sanitizers (an ASan binary refuses a
 * preloaded allocator): the broker it is preloaded into is the plain build.
 * The real allocator is glibc's __libc_malloc and friends (no dlsym, which
 * itself allocates).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <link.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "banned.h"

void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t n);

/* the shim's interface is the allocator's: these are its definitions */
void *malloc(size_t n);
void *calloc(size_t n, size_t size);
void *realloc(void *p, size_t n);
char *strdup(const char *s);
char *strndup(const char *s, size_t n);

#define MAX_RANGES 32

struct range {
	uintptr_t lo, hi;
	const char *obj;
	uintptr_t base;
};

static struct range s_ranges[MAX_RANGES];
static int s_nranges;
static long s_fail_at; /* 0: count only */
static long s_count;   /* atomic */

/* The objects whose allocations are counted: the program, SQLite,
 * protobuf-c. */
static int counted_object(const char *name, int first)
{
	if (first || !name || !name[0])
		return 1; /* the program itself */
	return strstr(name, "libsqlite3") || strstr(name, "libprotobuf-c");
}

static int add_object(struct dl_phdr_info *info, size_t size, void *data)
{
	int *first = data;

	(void)size;
	if (counted_object(info->dlpi_name, *first)) {
		for (int i = 0; i < info->dlpi_phnum; i++) {
			const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
			struct range *r;

			if (ph->p_type != PT_LOAD || s_nranges >= MAX_RANGES)
				continue;
			r = &s_ranges[s_nranges++];
			r->lo = info->dlpi_addr + ph->p_vaddr;
			r->hi = r->lo + ph->p_memsz;
			r->obj = *first ? "program" : info->dlpi_name;
			r->base = info->dlpi_addr;
		}
	}
	*first = 0;
	return 0;
}

static const struct range *find_range(const void *caller)
{
	uintptr_t a = (uintptr_t)caller;

	for (int i = 0; i < s_nranges; i++)
		if (a >= s_ranges[i].lo && a < s_ranges[i].hi)
			return &s_ranges[i];
	return NULL;
}

static void put(const char *s)
{
	ssize_t w = write(2, s, strlen(s));

	(void)w;
}

/* n in decimal (or hex) into buf, NUL-terminated. */
static void fmt_num(char *buf, uintmax_t n, unsigned base)
{
	char tmp[32];
	int i = 0, j = 0;

	do {
		tmp[i++] = "0123456789abcdef"[n % base];
		n /= base;
	} while (n);
	while (i)
		buf[j++] = tmp[--i];
	buf[j] = '\0';
}

static void report(long n, const char *what, size_t size,
		   const struct range *r, const void *caller)
{
	char num[32];

	put("fail_alloc: allocation ");
	fmt_num(num, (uintmax_t)n, 10);
	put(num);
	put(" failed (");
	put(what);
	put(" of ");
	fmt_num(num, size, 10);
	put(num);
	put(" bytes, from ");
	put(r->obj);
	put("+0x");
	fmt_num(num, (uintptr_t)caller - r->base, 16);
	put(num);
	put(")\n");
}

/* Whether this allocation, made from caller, is to fail. */
static int fail_now(const void *caller, const char *what, size_t size)
{
	const struct range *r = find_range(caller);
	long n;

	if (!r)
		return 0;
	n = __atomic_add_fetch(&s_count, 1, __ATOMIC_RELAXED);
	if (s_fail_at <= 0 || n != s_fail_at)
		return 0;
	report(n, what, size, r, caller);
	errno = ENOMEM;
	return 1;
}

void *malloc(size_t n)
{
	if (fail_now(__builtin_return_address(0), "malloc", n))
		return NULL;
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
	if (fail_now(__builtin_return_address(0), "calloc", n * size))
		return NULL;
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
	if (fail_now(__builtin_return_address(0), "realloc", n))
		return NULL;
	return __libc_realloc(p, n);
}

static char *dup_n(const char *s, size_t n, const void *caller,
		   const char *what)
{
	size_t len = strnlen(s, n);
	char *d;

	if (fail_now(caller, what, len + 1))
		return NULL;
	d = __libc_malloc(len + 1);
	if (d) {
		memcpy(d, s, len);
		d[len] = '\0';
	}
	return d;
}

char *strdup(const char *s)
{
	return dup_n(s, SIZE_MAX, __builtin_return_address(0), "strdup");
}

char *strndup(const char *s, size_t n)
{
	return dup_n(s, n, __builtin_return_address(0), "strndup");
}

__attribute__((constructor)) static void fail_alloc_init(void)
{
	const char *at = getenv("BOURSE_FAIL_ALLOC_AT");
	int first = 1;

	if (at) {
		char *end;

		s_fail_at = strtol(at, &end, 10);
		if (*end || s_fail_at < 0)
			s_fail_at = 0;
	}
	dl_iterate_phdr(add_object, &first);
}

__attribute__((destructor)) static void fail_alloc_fini(void)
{
	char num[32];

	fmt_num(num, (uintmax_t)__atomic_load_n(&s_count, __ATOMIC_RELAXED),
		10);
	put("fail_alloc: ");
	put(num);
	put(" allocations counted\n");
}
