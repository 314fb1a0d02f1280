/*
 * test_util.c - util/util.h: UTIL_GROW from nothing, doubling and its
 * floor, an overflowing size refused with the array kept; util_err's
 * message, truncation and NULL buffer; the clocks move the right way;
 * util_escape: control bytes, DEL, backslash, bad and C1 UTF-8 escaped,
 * other UTF-8 kept, truncation at a whole escape.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "util.h"
#include "banned.h"

/* test_grow_too_big asks for more memory than exists: under AddressSanitizer
 * (make test), realloc must return NULL as libc's does, not abort. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "allocator_may_return_null=1";
}

static void test_grow_cap(void **state)
{
	(void)state;
	assert_int_equal(util_grow_cap(0, 0), 0);
	assert_int_equal(util_grow_cap(0, 1), UTIL_GROW_MIN);
	assert_int_equal(util_grow_cap(UTIL_GROW_MIN, UTIL_GROW_MIN),
			 UTIL_GROW_MIN);
	assert_int_equal(util_grow_cap(UTIL_GROW_MIN, UTIL_GROW_MIN + 1),
			 2 * UTIL_GROW_MIN);
	assert_int_equal(util_grow_cap(3, 4), UTIL_GROW_MIN);
	assert_int_equal(util_grow_cap(0, 1000), 1024);
	assert_int_equal(util_grow_cap(100, 101), 200);
	/* doubling would overflow: exactly what was asked */
	assert_true(util_grow_cap(SIZE_MAX / 2 + 2, SIZE_MAX - 1) ==
		    SIZE_MAX - 1);
	assert_true(util_grow_cap(1, SIZE_MAX) == SIZE_MAX);
}

static void test_grow_from_zero(void **state)
{
	int *v = NULL;
	size_t cap = 0;
	size_t n;

	(void)state;
	/* nothing asked, nothing allocated */
	assert_int_equal(UTIL_GROW(v, 0, cap), 0);
	assert_null(v);
	assert_int_equal(cap, 0);

	for (n = 0; n < 1000; n++) {
		assert_int_equal(UTIL_GROW(v, n + 1, cap), 0);
		assert_true(cap >= n + 1);
		v[n] = (int)n;
	}
	assert_int_equal(cap, 1024);
	for (n = 0; n < 1000; n++)
		assert_int_equal(v[n], (int)n);
	free(v);
}

typedef struct wide {
	char bytes[64];
} wide;

static void test_grow_overflow(void **state)
{
	wide *v = NULL;
	wide *old;
	size_t cap = 0;

	(void)state;
	assert_int_equal(UTIL_GROW(v, 3, cap), 0);
	assert_int_equal(cap, UTIL_GROW_MIN);
	memset(v, 'x', cap * sizeof(*v));
	old = v;

	/* need * sizeof(wide) does not fit a size_t: refused, array kept */
	assert_int_equal(UTIL_GROW(v, SIZE_MAX / sizeof(wide) + 1, cap), -1);
	assert_ptr_equal(v, old);
	assert_int_equal(cap, UTIL_GROW_MIN);
	assert_int_equal(UTIL_GROW(v, SIZE_MAX, cap), -1);
	assert_ptr_equal(v, old);
	assert_int_equal(cap, UTIL_GROW_MIN);
	/* a negative count converted: refused too */
	assert_int_equal(UTIL_GROW(v, -1, cap), -1);
	assert_ptr_equal(v, old);
	assert_int_equal(v[UTIL_GROW_MIN - 1].bytes[63], 'x');

	/* and the array still grows afterwards */
	assert_int_equal(UTIL_GROW(v, UTIL_GROW_MIN + 1, cap), 0);
	assert_int_equal(cap, 2 * UTIL_GROW_MIN);
	assert_int_equal(v[0].bytes[0], 'x');
	free(v);
}

static void test_grow_too_big(void **state)
{
	char *v = NULL;
	size_t cap = 0;

	(void)state;
	/* fits a size_t, but no allocator gives it: realloc fails, -1 */
	assert_int_equal(UTIL_GROW(v, 4, cap), 0);
	memcpy(v, "abc", 4);
	assert_int_equal(UTIL_GROW(v, SIZE_MAX / 2, cap), -1);
	assert_int_equal(cap, UTIL_GROW_MIN);
	assert_string_equal(v, "abc");
	free(v);
}

static int fail_with(char *err, size_t errlen, const char *what)
{
	return util_err(err, errlen, "open %s: %s", what, "No such file");
}

static void test_err(void **state)
{
	char err[64];
	char small[8];

	(void)state;
	memset(err, 'z', sizeof(err));
	assert_int_equal(fail_with(err, sizeof(err), "a.db"), -1);
	assert_string_equal(err, "open a.db: No such file");

	memset(small, 'z', sizeof(small));
	assert_int_equal(fail_with(small, sizeof(small), "a.db"), -1);
	assert_string_equal(small, "open a.");

	assert_int_equal(fail_with(NULL, 0, "a.db"), -1);
	assert_int_equal(fail_with(NULL, 10, "a.db"), -1);
	small[0] = 'q';
	assert_int_equal(fail_with(small, 0, "a.db"), -1);
	assert_int_equal(small[0], 'q');
}

static void test_clocks(void **state)
{
	struct timespec ts;
	int64_t ns0, ns1, us0, us1, ms, wall, now;

	(void)state;
	ns0 = util_now_ns();
	us0 = util_now_us();
	ms = util_now_ms();
	us1 = util_now_us();
	ns1 = util_now_ns();
	assert_true(ns0 > 0);
	assert_true(us0 >= ns0 / 1000 && us1 >= us0 && ns1 / 1000 >= us1);
	assert_true(ms >= us0 / 1000 && ms <= us1 / 1000);

	clock_gettime(CLOCK_REALTIME, &ts);
	now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	wall = util_wall_ms();
	assert_true(wall >= now && wall - now < 1000);
	/* a date, not an uptime: after 2020-01-01 */
	assert_true(wall > INT64_C(1577836800000));
}

static void test_escape(void **state)
{
	char b[64], t[12];

	(void)state;
	/* a forged log line: the newline and ESC become visible escapes */
	assert_string_equal(util_escape(b, sizeof(b), "ok\nbroker: x\033[2J"),
			    "ok\\nbroker: x\\x1b[2J");
	assert_string_equal(util_escape(b, sizeof(b), "a\tb\rc\\d\x7f\x01"),
			    "a\\tb\\rc\\\\d\\x7f\\x01");
	/* UTF-8: é and € kept; C1 (U+009B, CSI), a lone byte, an overlong
	 * '/' and a surrogate escaped byte by byte */
	assert_string_equal(util_escape(b, sizeof(b), "caf\xc3\xa9 \xe2\x82\xac"),
			    "caf\xc3\xa9 \xe2\x82\xac");
	assert_string_equal(util_escape(b, sizeof(b), "\xc2\x9b\xff\xc0\xaf"),
			    "\\xc2\\x9b\\xff\\xc0\\xaf");
	assert_string_equal(util_escape(b, sizeof(b), "\xed\xa0\x80"),
			    "\\xed\\xa0\\x80");
	assert_string_equal(util_escape(b, sizeof(b), "\xc3"), "\\xc3");
	assert_string_equal(util_escape(b, sizeof(b), NULL), "");
	assert_false(util_escape_needed("vm-1 caf\xc3\xa9"));
	assert_true(util_escape_needed("a\nb"));
	assert_true(util_escape_needed("a\\b"));
	assert_true(util_escape_needed("\xc2\x85"));
	/* too long: cut at a whole escape, "..." says so */
	assert_string_equal(util_escape(t, sizeof(t), "abcdef\n\n\n"),
			    "abcdef\\n...");
	assert_string_equal(util_escape(t, sizeof(t), "abcdefghijk"),
			    "abcdefghijk");
	assert_string_equal(util_escape(t, sizeof(t), "abcdefghijkl"),
			    "abcdefgh...");
	assert_string_equal(util_escape(t, 4, "\n\n"), "...");
	assert_string_equal(util_escape(t, 1, "abc"), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grow_cap),
		cmocka_unit_test(test_grow_from_zero),
		cmocka_unit_test(test_grow_overflow),
		cmocka_unit_test(test_grow_too_big),
		cmocka_unit_test(test_err),
		cmocka_unit_test(test_clocks),
		cmocka_unit_test(test_escape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
