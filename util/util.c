/*
 * util.c - array growth, error messages, clocks, escaping (util.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* ---- escaping ----------------------------------------------------------- */

/* The length of the valid UTF-8 sequence at s that util_escape() keeps
 * (U+00A0 and above, no overlong forms, no surrogates), else 0. */
static size_t utf8_kept(const unsigned char *s)
{
	size_t n, i;
	unsigned long cp;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1fu;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0fu;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07u;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0; /* also stops at the NUL */
		cp = cp << 6 | (s[i] & 0x3fu);
	}
	if (cp < 0xa0 || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

/* The escape for byte c into e (at least 5 bytes); its length, or 0 when
 * c is printable ASCII and stays as it is. */
static size_t escape_byte(unsigned char c, char e[5])
{
	const char *named = c == '\n' ? "\\n" : c == '\r' ? "\\r"
		: c == '\t' ? "\\t" : c == '\\' ? "\\\\" : NULL;

	if (named != NULL) {
		memcpy(e, named, 3);
		return 2;
	}
	if (c >= 0x20 && c < 0x7f)
		return 0;
	snprintf(e, 5, "\\x%02x", c);
	return 4;
}

/* The next piece of p: its bytes in *from (p itself, or e: an escape), its
 * length as written, and in *adv the bytes of p it stands for. */
static size_t next_piece(const unsigned char *p, char e[5], const char **from,
			 size_t *adv)
{
	size_t k = *p >= 0x80 ? utf8_kept(p) : 0, n;

	*from = (const char *)p;
	*adv = k ? k : 1;
	if (k)
		return k;
	n = escape_byte(*p, e);
	if (n == 0)
		return 1;
	*from = e;
	return n;
}

int util_escape_needed(const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	const char *from;
	char e[5];
	size_t adv;

	for (; *p; p += adv) {
		next_piece(p, e, &from, &adv);
		if (from == e)
			return 1;
	}
	return 0;
}

char *util_escape(char *dst, size_t dstlen, const char *src)
{
	const unsigned char *s = (const unsigned char *)(src ? src : ""), *p;
	const char *from;
	char e[5];
	size_t o = 0, need = 1, adv, n, room;

	if (dstlen == 0)
		return dst;
	for (p = s; *p; p += adv)
		need += next_piece(p, e, &from, &adv);
	/* all of it, or as much as leaves room for "..." and the NUL */
	room = need <= dstlen ? dstlen - 1 : dstlen >= 4 ? dstlen - 4 : 0;
	for (p = s; *p; p += adv) {
		n = next_piece(p, e, &from, &adv);
		if (o + n > room)
			break;
		memcpy(dst + o, from, n);
		o += n;
	}
	if (need > dstlen && dstlen >= 4) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
	return dst;
}
