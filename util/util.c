/*
 * util.c - array growth, error messages, clocks (util.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "util.h"
#include "banned.h"

size_t util_grow_cap(size_t cap, size_t need)
{
	size_t n = cap < UTIL_GROW_MIN ? UTIL_GROW_MIN : cap;

	if (need <= cap)
		return cap;
	while (n < need) {
		if (n > SIZE_MAX / 2)
			return need;
		n *= 2;
	}
	return n;
}

void *util__grow(void *p, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	void *np;

	if (need <= *cap)
		return p;
	if (elem == 0 || need > SIZE_MAX / elem)
		return p;
	ncap = util_grow_cap(*cap, need);
	if (ncap > SIZE_MAX / elem)
		ncap = need;
	np = realloc(p, ncap * elem);
	if (!np)
		return p;
	*cap = ncap;
	return np;
}

int util_verr(char *err, size_t errlen, const char *fmt, va_list ap)
{
	if (err && errlen)
		vsnprintf(err, errlen, fmt, ap);
	return -1;
}

int util_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	util_verr(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t util_now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

int64_t util_now_us(void)
{
	return util_now_ns() / 1000;
}

int64_t util_now_ms(void)
{
	return util_now_us() / 1000;
}

int64_t util_wall_ms(void)
{
	return clock_ns(CLOCK_REALTIME) / 1000000;
}
