/*
 * notify.c - sd_notify(): readiness, status, stopping and the watchdog
 * (log.h). libsystemd's sd_notify() does nothing, and returns 0, when
 * $NOTIFY_SOCKET is unset: outside systemd these cost a getenv().
 */
#include <stdint.h>
#include <stdio.h>

#include <systemd/sd-daemon.h>

#include "log.h"
#include "banned.h"

static int wd_known;       /* $WATCHDOG_USEC read */
static int64_t wd_half_ms; /* half the watchdog interval; 0: none */
static int64_t wd_next_ms; /* the next kick; 0: at once */

void log_notify_ready(const char *status)
{
	char msg[300];

	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", status);
	sd_notify(0, msg);
}

void log_notify_status(const char *fmt, ...)
{
	char msg[300] = "STATUS=";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg + 7, sizeof(msg) - 7, fmt, ap);
	va_end(ap);
	sd_notify(0, msg);
}

void log_notify_stopping(void)
{
	sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}

int64_t log_watchdog(int64_t now_ms)
{
	uint64_t usec = 0;

	if (!wd_known) {
		/* > 0 only if $WATCHDOG_USEC is set and $WATCHDOG_PID, if
		 * set, is this process */
		if (sd_watchdog_enabled(0, &usec) > 0 && usec >= 2000)
			wd_half_ms = (int64_t)(usec / 2000);
		wd_known = 1;
	}
	if (!wd_half_ms)
		return INT64_MAX;
	if (now_ms >= wd_next_ms) {
		sd_notify(0, "WATCHDOG=1");
		wd_next_ms = now_ms + wd_half_ms;
	}
	return wd_next_ms;
}
