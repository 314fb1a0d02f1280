/*
 * procfile.c - strict reading of small /proc and cgroup files (procfile.h,
 * private to agents/).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "procfile.h"
#include "util.h"
#include "log.h"
#include "banned.h"

void procfile_vnote(source_note_fn note, void *ctx, const char *fmt,
		    va_list ap)
{
	char msg[PROCFILE_NOTE_MAX];

	util_verr(msg, sizeof(msg), fmt, ap);
	if (note)
		note(ctx, msg);
	else
		log_at(LOG_NOTICE, NULL, "%s", msg);
}

/* ---- strict scanning ---- */

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int procfile_scan_u64(const char **p, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;

	if (!is_digit(*s))
		return -1;
	for (; is_digit(*s); s++) {
		unsigned d = (unsigned)(*s - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*p = s;
	*out = v;
	return 0;
}

int procfile_scan_decimal(const char **p, double *out)
{
	uint64_t ip, fp = 0;
	double scale = 1;

	if (procfile_scan_u64(p, &ip) != 0)
		return -1;
	*out = (double)ip;
	if (**p != '.')
		return 0;
	if (!is_digit(*++*p))
		return -1;
	for (; is_digit(**p); ++*p) {
		if (scale < 1e15) {
			fp = fp * 10 + (uint64_t)(**p - '0');
			scale *= 10;
		}
	}
	*out += (double)fp / scale;
	return 0;
}

int procfile_scan_lit(const char **p, const char *lit)
{
	size_t n = strlen(lit);

	if (strncmp(*p, lit, n) != 0)
		return -1;
	*p += n;
	return 0;
}

static int key_char(char c, enum procfile_keyset set)
{
	if ((c >= 'a' && c <= 'z') || is_digit(c) || c == '_')
		return 1;
	return set == PROCFILE_KEY_PROC &&
	       ((c >= 'A' && c <= 'Z') || c == '(' || c == ')');
}

int procfile_scan_key(const char **p, char *key, enum procfile_keyset set)
{
	size_t n = 0;
	const char *s = *p;

	for (; key_char(*s, set); s++) {
		if (n + 1 >= PROCFILE_KEY_MAX) {
			/* too long: key is left "", never unterminated
			 * (tests/fuzz/crashes/procfile/key-too-long) */
			key[0] = '\0';
			return -1;
		}
		key[n++] = *s;
	}
	key[n] = '\0';
	*p = s;
	return n > 0 ? 0 : -1;
}

/* ---- files, line by line ---- */

int procfile_each_line(const char *path, procfile_line_fn fn, void *ctx,
		       char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, msg[PROCFILE_MSG_MAX];
	size_t cap = 0, no = 0;
	ssize_t len;
	int rc = 0, e = 0;

	if (!f) {
		snprintf(err, errlen, "cannot open '%s': %s", path,
			 strerror(errno));
		return 1;
	}
	while (rc == 0 && (errno = 0, len = getline(&line, &cap, f)) >= 0) {
		no++;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		msg[0] = '\0';
		if ((size_t)len != strlen(line))
			util_err(msg, sizeof(msg), "a NUL byte in the line");
		else if (len > PROCFILE_LINE_MAX)
			util_err(msg, sizeof(msg), "longer than %d characters",
				 PROCFILE_LINE_MAX);
		else
			fn(ctx, line, msg, sizeof(msg));
		if (msg[0]) {
			snprintf(err, errlen, "%s:%zu: %s", path, no, msg);
			rc = -1;
		}
	}
	e = errno;
	if (rc == 0 && ferror(f)) {
		snprintf(err, errlen, "cannot read '%s': %s", path,
			 strerror(e));
		rc = 1;
	}
	free(line);
	fclose(f);
	return rc;
}

/* procfile_one_line(): the caller's checker, and the lines seen. */
struct one_line {
	procfile_line_fn fn;
	void *ctx;
	int lines;
};

static int one_line(void *ctx, const char *line, char *msg, size_t len)
{
	struct one_line *o = ctx;

	if (++o->lines > 1)
		return util_err(msg, len, "more than one line");
	return o->fn(o->ctx, line, msg, len);
}

int procfile_one_line(const char *path, procfile_line_fn fn, void *ctx,
		      char *err, size_t errlen)
{
	struct one_line o = { fn, ctx, 0 };
	int rc = procfile_each_line(path, one_line, &o, err, errlen);

	if (rc == 0 && o.lines == 0) {
		snprintf(err, errlen, "%s: empty", path);
		rc = -1;
	}
	return rc;
}

/* ---- "key value" ---- */

int procfile_keys_line(void *ctx, const char *line, char *msg, size_t len)
{
	struct procfile_keys *m = ctx;
	const char *p = line;
	char key[PROCFILE_KEY_MAX];
	uint64_t v;

	if (procfile_scan_key(&p, key, m->set) != 0 ||
	    procfile_scan_lit(&p, " ") != 0 ||
	    procfile_scan_u64(&p, &v) != 0 || *p)
		return util_err(msg, len, "'%.60s' is not '%s value' (a whole "
				"number below 2^64)", line, m->what);
	for (size_t i = 0; i < m->n_want && i < PROCFILE_WANT_MAX; i++) {
		if (strcmp(key, m->want[i]) != 0)
			continue;
		if (m->seen[i]++)
			return util_err(msg, len, "a second '%s'", key);
		m->v[i] = v;
		return 0;
	}
	return 0;
}

/* ---- one value ---- */

int procfile_value_line(void *ctx, const char *line, char *msg, size_t len)
{
	uint64_t *v = ctx;
	const char *p = line;

	if (strcmp(line, "max") == 0) {
		*v = PROCFILE_UNLIMITED;
		return 0;
	}
	if (procfile_scan_u64(&p, v) != 0 || *p)
		return util_err(msg, len, "'%.60s' is not a number of bytes or "
				"'max'", line);
	return 0;
}

/* ---- PSI ---- */

int procfile_psi_line(void *ctx, const char *line, char *msg, size_t len)
{
	static const char *const avg[] = { " avg10=", " avg60=", " avg300=" };
	struct procfile_psi *m = ctx;
	const char *p = line;
	double a[3] = { 0, 0, 0 };
	uint64_t total;
	int k = procfile_scan_lit(&p, "some") == 0 ? 0 :
		procfile_scan_lit(&p, "full") == 0 ? 1 : -1;
	int ok = k >= 0;

	for (int i = 0; ok && i < 3; i++)
		ok = procfile_scan_lit(&p, avg[i]) == 0 &&
		     procfile_scan_decimal(&p, &a[i]) == 0 && a[i] <= 100;
	if (!ok || procfile_scan_lit(&p, " total=") != 0 ||
	    procfile_scan_u64(&p, &total) != 0 || *p)
		return util_err(msg, len, "'%.60s' is not 'some|full avg10=A "
				"avg60=B avg300=C total=T' (A, B, C: 0..100)",
				line);
	if (m->seen[k]++)
		return util_err(msg, len, "a second '%s' line",
				k ? "full" : "some");
	m->avg10[k] = a[0];
	return 0;
}
