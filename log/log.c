/*
 * log.c - log lines: priorities, structured fields, the journal or stderr
 * (log.h).
 *
 * A line is formatted into a buffer, its control bytes escaped, and
 * written with one call: sd_journal_sendv() (one datagram) or one fwrite
 * on unbuffered stderr (one write(2)), so lines from the agent's worker
 * thread and its loop do not interleave.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "log.h"
#include "banned.h"

#define LOG_LINE_MAX 2048                 /* a formatted line, truncated */
#define LOG_ESC_MAX (4 * LOG_LINE_MAX + 1) /* every byte \xNN at worst */
#define LOG_FIELD_MAX 600                 /* "HOST=" + an escaped name */

static int log_level = LOG_INFO;
static log_mode log_where = LOG_MODE_STDERR;
static pthread_once_t log_once = PTHREAD_ONCE_INIT;

/* $JOURNAL_STREAM is "DEVICE:INODE" of the stream systemd connected to
 * stdout/stderr; stderr is the journal if it is still that stream (a
 * redirection in between makes it something else). */
static int stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	char *end;
	struct stat st;

	if (!js || !*js)
		return 0;
	errno = 0;
	dev = strtoull(js, &end, 10);
	if (errno || end == js || *end != ':')
		return 0;
	js = end + 1;
	ino = strtoull(js, &end, 10);
	if (errno || end == js || *end)
		return 0;
	if (fstat(STDERR_FILENO, &st))
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

/* Where journald takes native lines. libsystemd's sd_journal_sendv()
 * returns success when it is missing (the line is dropped): look first. */
#define LOG_JOURNAL_SOCKET "/run/systemd/journal/socket"

static void detect(void)
{
	if (!stderr_is_journal())
		log_where = LOG_MODE_STDERR;
	else if (access(LOG_JOURNAL_SOCKET, W_OK))
		log_where = LOG_MODE_PREFIX;
	else
		log_where = LOG_MODE_JOURNAL;
}

void log_setup(int level)
{
	log_level = level;
	detect();
	pthread_once(&log_once, detect); /* later calls: detected already */
}

log_mode log_mode_now(void)
{
	pthread_once(&log_once, detect);
	return log_where;
}

int log_level_parse(const char *name, int *level, char *err, size_t errlen)
{
	static const struct { const char *name; int level; } levels[] = {
		{ "err", LOG_ERR }, { "warning", LOG_WARNING },
		{ "notice", LOG_NOTICE }, { "info", LOG_INFO },
		{ "debug", LOG_DEBUG },
	};

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (!strcmp(name, levels[i].name)) {
			*level = levels[i].level;
			return 0;
		}
	snprintf(err, err ? errlen : 0, "'%s' is not a level (err, warning, "
		 "notice, info or debug)", name);
	return -1;
}

int log_enabled(int prio)
{
	return prio <= log_level;
}

char *log_escape(const char *s, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	if (!outlen)
		return out;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		int esc = c < 0x20 || c == 0x7f;

		if (n + (esc ? 4 : 1) >= outlen)
			break;
		if (!esc) {
			out[n++] = (char)c;
			continue;
		}
		out[n++] = '\\';
		out[n++] = 'x';
		out[n++] = hex[c >> 4];
		out[n++] = hex[c & 0xf];
	}
	out[n] = '\0';
	return out;
}

/* One "NAME=value" field (value escaped) as the next of *n iovecs, in the
 * next of bufs. */
static void field(struct iovec *iov, char (*bufs)[LOG_FIELD_MAX], int *n,
		  const char *name, const char *value)
{
	char esc[LOG_FIELD_MAX];
	int len;

	log_escape(value, esc, sizeof(esc));
	len = snprintf(bufs[*n], LOG_FIELD_MAX, "%s=%s", name, esc);
	iov[*n].iov_base = bufs[*n];
	iov[*n].iov_len = len < 0 ? 0
			  : (size_t)len < LOG_FIELD_MAX ? (size_t)len
							: LOG_FIELD_MAX - 1;
	++*n;
}

/* The line to the journal, natively. Returns 0, or < 0 (no journald). */
static int to_journal(int prio, const log_fields *f, const char *msg)
{
	char bufs[8][LOG_FIELD_MAX], num[24];
	struct iovec iov[8];
	int n = 1;

	iov[0].iov_base = (void *)msg; /* "MESSAGE=...", escaped already */
	iov[0].iov_len = strlen(msg);
	snprintf(num, sizeof(num), "%d", prio);
	field(iov, bufs, &n, "PRIORITY", num);
	field(iov, bufs, &n, "SYSLOG_IDENTIFIER", "bourse");
	if (f && f->host)
		field(iov, bufs, &n, "HOST", f->host);
	if (f && f->vm)
		field(iov, bufs, &n, "VM", f->vm);
	if (f && f->action_id)
		field(iov, bufs, &n, "ACTION_ID", f->action_id);
	if (f && f->rec_id > 0) {
		snprintf(num, sizeof(num), "%" PRId64, f->rec_id);
		field(iov, bufs, &n, "REC_ID", num);
	}
	if (f && f->round > 0) {
		snprintf(num, sizeof(num), "%" PRId64, f->round);
		field(iov, bufs, &n, "ROUND", num);
	}
	return sd_journal_sendv(iov, n);
}

void log_vat(int prio, const log_fields *f, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	/* "MESSAGE=" or "<N>", the escaped line, "\n" */
	char out[sizeof("MESSAGE=") + LOG_ESC_MAX + 1];
	size_t len, head;
	log_mode mode;

	if (!log_enabled(prio))
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	len = strlen(line);
	if (len && line[len - 1] == '\n')
		line[--len] = '\0';
	mode = log_mode_now();
	if (mode == LOG_MODE_JOURNAL) {
		memcpy(out, "MESSAGE=", 8);
		log_escape(line, out + 8, LOG_ESC_MAX);
		if (to_journal(prio, f, out) >= 0)
			return;
		mode = LOG_MODE_PREFIX; /* not taken: the stream reads "<N>" */
	}
	head = mode == LOG_MODE_PREFIX
	       ? (size_t)snprintf(out, 8, "<%d>", prio & 7) : 0;
	log_escape(line, out + head, LOG_ESC_MAX);
	len = strlen(out);
	out[len++] = '\n';
	fwrite(out, 1, len, stderr);
}

void log_at(int prio, const log_fields *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vat(prio, f, fmt, ap);
	va_end(ap);
}
