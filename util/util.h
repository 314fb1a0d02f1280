/*
 * util.h - the idioms every module writes the same way: the whole public API
 * of util/. Links nothing but libc.
 *
 *  - Growing an array: UTIL_GROW(p, need, cap), one macro instead of a
 *    hand-rolled realloc per array. Doubling, at least UTIL_GROW_MIN
 *    elements, overflow of need * sizeof(*p) refused.
 *  - A one-line error message into a caller's buffer: util_err(), which
 *    returns -1 so that a failing path reads
 *    `return util_err(err, errlen, "open %s: %s", path, strerror(errno));`.
 *  - Clocks: util_now_ns(), util_now_us() and util_now_ms()
 *    (CLOCK_MONOTONIC, for durations and timeouts), util_wall_ms()
 *    (CLOCK_REALTIME, for what is stored or shown as a date).
 *  - Text from outside (the wire, a file) made safe to print on one line:
 *    util_escape() writes control bytes as escapes, so that a newline or
 *    an ESC in a peer's string cannot forge a log line or drive a
 *    terminal.
 *
 * util/banned.h is the other half: included as the last #include of every
 * .c file (after every system header), it makes atoi, strcpy, strcat,
 * strncpy, sprintf, gets and a few more compile errors, and says what to
 * use instead.
 *
 * Ownership: UTIL_GROW's array belongs to the caller, who frees it with
 * free() (also after a failed grow: the old block is kept, not freed).
 * Everything else allocates nothing.
 */
#ifndef BOURSE_UTIL_H
#define BOURSE_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* The smallest capacity, in elements, a first grow allocates. */
#define UTIL_GROW_MIN 16

/* The capacity (elements) to grow cap to so that it holds need: cap itself
 * when it already does, else cap doubled (starting from at least
 * UTIL_GROW_MIN) until it holds need; need itself when doubling would
 * overflow a size_t. Never less than need. */
size_t util_grow_cap(size_t cap, size_t need);

/* The function behind UTIL_GROW; call the macro. Makes p (an array of
 * *cap elements of elem bytes, NULL when *cap is 0) hold at least need
 * elements. Returns the new block and sets *cap on success; on failure (no
 * memory, or need * elem overflows) returns p itself, still valid and owned
 * by the caller, and leaves *cap as it was. Elements past the old *cap are
 * uninitialised. */
void *util__grow(void *p, size_t *cap, size_t need, size_t elem);

/*
 * UTIL_GROW(p, need, cap): make the array p (any object pointer type; an
 * lvalue) hold at least need elements; cap (a size_t lvalue) is its capacity in elements. 0 on
 * success; -1 with p and cap unchanged when memory runs out or the size
 * overflows. Start from p = NULL, cap = 0; free(p) when done. p, need and
 * cap are each evaluated more than once: no side effects in them.
 *
 *	if (UTIL_GROW(l->v, l->n + 1, l->cap))
 *		return -1;
 *	l->v[l->n++] = x;
 */
#define UTIL_GROW(p, need, cap) \
	((p) = util__grow((p), &(cap), (need), sizeof(*(p))), \
	 util__grown((cap), (need)))

/* UTIL_GROW's result: 0 when cap holds need, else -1 (a function, so that a
 * constant need does not warn about an always-true comparison). */
static inline int util__grown(size_t cap, size_t need)
{
	return cap >= need ? 0 : -1;
}

/* Format a one-line message into err (errlen bytes, always NUL-terminated,
 * truncated to fit); err NULL or errlen 0 writes nothing. Returns -1. */
int util_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* util_err() with a va_list (for a module's own message wrapper). ap is
 * consumed as vsnprintf() consumes it. Returns -1. */
int util_verr(char *err, size_t errlen, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* CLOCK_MONOTONIC in nanoseconds, microseconds and milliseconds (each the
 * one before, divided): for durations, deadlines and timeouts, never for
 * dates. Nanoseconds for the benchmarks' timings. */
int64_t util_now_ns(void);
int64_t util_now_us(void);
int64_t util_now_ms(void);

/* CLOCK_REALTIME in milliseconds since the epoch: for dates written to the
 * store or shown to an operator. */
int64_t util_wall_ms(void);

/*
 * Text from outside made safe for one line of a log or a terminal: copies
 * src into dst (dstlen bytes, always NUL-terminated when dstlen > 0) with
 * each byte that is not printable written as an escape: \n, \r, \t, \\
 * (the backslash itself, so that an escape cannot be forged either) and
 * \xHH for the other C0 bytes, DEL, bytes that are not valid UTF-8, and
 * the C1 controls (U+0080..U+009F) written in UTF-8. Valid UTF-8 above
 * U+009F is kept. A dst too short ends the copy at a whole byte or escape
 * and ends it with "..." (dstlen >= 4). src NULL reads as "". Returns dst,
 * for use as a printf argument:
 *
 *	char r[256];
 *	fprintf(stderr, "%s left (%s)\n", name, util_escape(r, sizeof(r), why));
 */
char *util_escape(char *dst, size_t dstlen, const char *src);

/* 1 if util_escape() would change s (it holds a byte to escape), else 0. */
int util_escape_needed(const char *s);

#endif
