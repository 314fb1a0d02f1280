/*
 * log.h - the whole API of log/: how the broker and the agents speak to
 * their operator and to their service manager.
 *
 *  - Log lines with a priority (syslog's: LOG_ERR, LOG_WARNING, LOG_NOTICE,
 *    LOG_INFO, LOG_DEBUG) and structured fields (HOST=, VM=, REC_ID=,
 *    ACTION_ID=, ROUND=). When stderr is systemd's journal ($JOURNAL_STREAM
 *    names stderr's device and inode, as systemd documents) a line goes to
 *    the journal natively (sd_journal_sendv: the priority and the fields
 *    as journal fields); when the journal's native socket is missing
 *    (libsystemd's sd_journal_sendv() then drops the line silently) or
 *    sending fails, to stderr with the "<N>" prefix the journal's stream
 *    reads as the priority. Otherwise it is written on stderr as it is:
 *    one line, no prefix.
 *  - Control bytes (below 0x20, and 0x7f) in a message or a field are
 *    written as \xNN: names and details come from the network, and must
 *    not make a line look like two, or reach a terminal as escapes.
 *  - sd_notify(): readiness, status, stopping and the watchdog. Each is a
 *    no-op outside systemd (no $NOTIFY_SOCKET).
 *
 * Process-wide state (the level, where lines go, the watchdog's next
 * kick): log_setup() once in main(), before any thread; logging is then
 * safe from any thread. Without log_setup() the level is LOG_INFO.
 */
#ifndef BOURSE_LOG_H
#define BOURSE_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <syslog.h> /* the priorities: LOG_ERR .. LOG_DEBUG */

/* A line's structured fields; each is left out when NULL or 0. Every
 * pointer is borrowed for the call. */
typedef struct log_fields {
	const char *host;      /* HOST= a host's name */
	const char *vm;        /* VM= a VM's name */
	int64_t rec_id;        /* REC_ID= a recommendation, when > 0 */
	const char *action_id; /* ACTION_ID= an action ("rec-N") */
	int64_t round;         /* ROUND= a market round, when > 0 */
} log_fields;

/* The fields of one call: log_at(LOG_INFO, LOG_F(.host = h), "..."). */
#define LOG_F(...) (&(const log_fields){ __VA_ARGS__ })

/* Where lines go (log_mode()). */
typedef enum log_mode {
	LOG_MODE_STDERR,  /* plain lines on stderr */
	LOG_MODE_JOURNAL, /* stderr is the journal: sd_journal_sendv() */
	LOG_MODE_PREFIX,  /* stderr is the journal, but its native socket
	                   * is missing: "<N>line" on stderr */
} log_mode;

/* Set the level (lines above it, i.e. less important, are not written)
 * and find where lines go ($JOURNAL_STREAM against stderr). Call again
 * after redirecting stderr. */
void log_setup(int level);
/* The level a name gives: err, warning, notice, info or debug. Returns
 * 0, or -1 with a message into err. */
int log_level_parse(const char *name, int *level, char *err, size_t errlen);
/* 1 if a line of priority prio is written at the current level. */
int log_enabled(int prio);
log_mode log_mode_now(void);

/* Log one line: fmt's text (a trailing newline is dropped), with priority
 * prio and fields f (NULL: none). */
void log_at(int prio, const log_fields *f, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void log_vat(int prio, const log_fields *f, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* s with its control bytes as \xNN, into out (truncated to outlen, always
 * terminated). Returns out. */
char *log_escape(const char *s, char *out, size_t outlen);

/* ---- sd_notify (notify.c) ---- */

/* READY=1 with a STATUS= line: bound, store open, serving. */
void log_notify_ready(const char *status);
/* STATUS= a line systemctl status shows (printf-style). */
void log_notify_status(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
/* STOPPING=1: shutting down. */
void log_notify_stopping(void);
/* The watchdog, kicked from the main loop: sends WATCHDOG=1 when half of
 * $WATCHDOG_USEC has passed since the last (or none was sent yet), now_ms
 * on the monotonic clock (util_now_ms()). Returns when it is next due
 * (same clock), or INT64_MAX when no watchdog is asked for: a loop polls
 * no longer than that. */
int64_t log_watchdog(int64_t now_ms);

#endif
