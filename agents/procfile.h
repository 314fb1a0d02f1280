/*
 * procfile.h - private to agents/ (not part of the agents API, not installed
 * anywhere): strict reading of the small line-oriented files of /proc and of
 * cgroup v2 (/proc/meminfo, /proc/vmstat, /proc/uptime, memory.stat,
 * memory.current, memory.pressure, ...), shared by the Linux host source
 * (source_linux.c), the cgroup source (source_cgroup.c) and the cgroup
 * actuator (actuator_cgroup.c).
 *
 * It offers:
 *   - procfile_each_line() and procfile_one_line(): call a checker on every
 *     line of a file (of exactly one line for the second), and turn the
 *     checker's complaint into "<path>:<line>: <why>";
 *   - checkers for three common formats: procfile_keys_line() for "key
 *     value" files (vmstat, memory.stat), procfile_psi_line() for PSI files
 *     ("some|full avg10=A avg60=B avg300=C total=T") and
 *     procfile_value_line() for cgroup v2's one-value files ("N" or "max");
 *   - scanners for the pieces of a line (whole numbers, decimals, literal
 *     text, keys), each advancing *p past what it read;
 *   - procfile_vnote(), a source's note to its source_note_fn or to stderr.
 * A checker says why a line is malformed with util_err() (util/util.h).
 *
 * Ownership: nothing here allocates anything the caller keeps. Every buffer
 * (err, msg, key) and every checker context is the caller's, of the size it
 * passes (key: PROCFILE_KEY_MAX bytes). The line a checker is given belongs
 * to procfile_each_line() and is valid only during that call.
 */
#ifndef BOURSE_PROCFILE_H
#define BOURSE_PROCFILE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "source.h"

/* Longer lines are malformed (the kernel's are below 100 characters). */
#define PROCFILE_LINE_MAX 1024
#define PROCFILE_MSG_MAX 256 /* what a checker may say about a line */
#define PROCFILE_KEY_MAX 64  /* a key's buffer, with its NUL */
#define PROCFILE_NOTE_MAX (4096 + PROCFILE_MSG_MAX) /* a note, with its NUL */

/* Formats a note (cut at PROCFILE_NOTE_MAX - 1 characters) and hands it to
 * note(ctx, msg), or prints it on stderr when note is NULL. */
void procfile_vnote(source_note_fn note, void *ctx, const char *fmt,
		    va_list ap) __attribute__((format(printf, 3, 0)));

/* ---- strict scanning: 0, having advanced *p past what was read, or -1 ---- */

/* An unsigned decimal: digits only, no sign, no overflow. */
int procfile_scan_u64(const char **p, uint64_t *out);

/* "12" or "12.34" (digits past the 15th after the point are ignored). */
int procfile_scan_decimal(const char **p, double *out);

/* Exactly lit. */
int procfile_scan_lit(const char **p, const char *lit);

/* Which characters a key may have. */
enum procfile_keyset {
	PROCFILE_KEY_LOWER, /* a..z, digits, '_' (cgroup: "inactive_file") */
	PROCFILE_KEY_PROC,  /* also A..Z, '(' and ')' (/proc: "Active(anon)") */
};

/* A key of 1..PROCFILE_KEY_MAX - 1 characters of set into key (a buffer of
 * PROCFILE_KEY_MAX bytes). */
int procfile_scan_key(const char **p, char *key, enum procfile_keyset set);

/* ---- files, line by line ---- */

/* Checks one line (no newline): 0, or -1 with msg (len bytes) saying why it
 * is malformed, without location. */
typedef int (*procfile_line_fn)(void *ctx, const char *line, char *msg,
				size_t len);

/* Calls fn on every line of path; a line with a NUL byte or longer than
 * PROCFILE_LINE_MAX is malformed without calling fn. 0: all read; 1: path
 * could not be opened or read (err says why); -1: a line is malformed (err:
 * "path:N: why"). Stops at the first malformed line. */
int procfile_each_line(const char *path, procfile_line_fn fn, void *ctx,
		       char *err, size_t errlen);

/* As procfile_each_line() for a file that must hold one line: a second line
 * is malformed ("path:2: more than one line"), and so is an empty file (-1,
 * err "path: empty"). */
int procfile_one_line(const char *path, procfile_line_fn fn, void *ctx,
		      char *err, size_t errlen);

/* The type of procfile_each_line() and procfile_one_line(). */
typedef int (*procfile_read_fn)(const char *path, procfile_line_fn fn,
				void *ctx, char *err, size_t errlen);

/* ---- "key value" files: vmstat, memory.stat ---- */

#define PROCFILE_WANT_MAX 4

/* What procfile_keys_line() looks for and found. The caller sets set, what,
 * want and n_want, and zeroes the rest. */
struct procfile_keys {
	enum procfile_keyset set; /* the characters of a key */
	const char *what;         /* a key's name in messages: "key", "name" */
	const char *const *want;  /* the keys kept: n_want of them */
	size_t n_want;            /* at most PROCFILE_WANT_MAX */
	uint64_t v[PROCFILE_WANT_MAX]; /* the value of want[i] */
	int seen[PROCFILE_WANT_MAX];   /* 1 where want[i] was found */
};

/* A procfile_line_fn; ctx is a struct procfile_keys. A line must be a key,
 * one space and a whole number below 2^64; a wanted key may come once, the
 * others are skipped. */
int procfile_keys_line(void *ctx, const char *line, char *msg, size_t len);

/* ---- one value: "N" or "max" (memory.current, .high, .max, .min, .low) */

#define PROCFILE_UNLIMITED UINT64_MAX /* "max" */

/* A procfile_line_fn; ctx is a uint64_t, set to the bytes, or to
 * PROCFILE_UNLIMITED for "max". A line must be exactly one of those. */
int procfile_value_line(void *ctx, const char *line, char *msg, size_t len);

/* ---- PSI: "some|full avg10=A avg60=B avg300=C total=T" ---- */

/* What procfile_psi_line() found: index 0 "some", 1 "full". Start it
 * zeroed. */
struct procfile_psi {
	int seen[2];     /* lines of each kind (at most 1) */
	double avg10[2]; /* their avg10, percent; 0 where not seen */
};

/* A procfile_line_fn; ctx is a struct procfile_psi. A line must be exactly
 * of the form above (A, B, C decimals in 0..100, T a whole number), each
 * kind at most once. */
int procfile_psi_line(void *ctx, const char *line, char *msg, size_t len);

#endif
