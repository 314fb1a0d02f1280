/*
 * views.c - what the operator's views share (declared in cli.h): sizes for
 * people, names in natural order, whether the broker runs, and --watch.
 */
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "store.h"
#include "util.h"
#include "banned.h"

void cli_fmt_mib(char *buf, size_t size, int64_t mib, int exact)
{
	if (exact)
		snprintf(buf, size, "%lld", (long long)mib);
	else if (mib >= 1024 || mib <= -1024)
		snprintf(buf, size, "%.1f GiB", (double)mib / 1024.0);
	else
		snprintf(buf, size, "%lld MiB", (long long)mib);
}

/* A run of digits at *p: its length without leading zeros, *p moved past
 * it, *start its first significant digit. */
static size_t digits(const char **p, const char **start)
{
	const char *s = *p;

	while (*s == '0' && isdigit((unsigned char)s[1]))
		s++;
	*start = s;
	while (isdigit((unsigned char)*s))
		s++;
	*p = s;
	return (size_t)(s - *start);
}

int cli_natcmp(const char *a, const char *b)
{
	const char *x = a, *y = b;

	while (*x && *y) {
		if (isdigit((unsigned char)*x) && isdigit((unsigned char)*y)) {
			const char *sx, *sy;
			size_t nx = digits(&x, &sx), ny = digits(&y, &sy);
			int c;

			if (nx != ny)
				return nx < ny ? -1 : 1;
			if ((c = memcmp(sx, sy, nx)) != 0)
				return c;
			continue;
		}
		if (*x != *y)
			return (unsigned char)*x < (unsigned char)*y ? -1 : 1;
		x++;
		y++;
	}
	if (*x || *y)
		return *x ? 1 : -1;
	return strcmp(a, b); /* "vm-01" and "vm-1": still an order */
}

/* ---- is the broker running? -------------------------------------------- */

int cli_broker_view(store *s, struct cli_broker *out, char *err,
		    size_t errlen)
{
	store_broker_status b;
	int64_t stale;

	memset(out, 0, sizeof(*out));
	if (store_broker_get(s, &b, err, errlen) != 0)
		return -1;
	out->st = b;
	out->now_ms = util_wall_ms();
	if (!b.known) {
		out->state = CLI_BROKER_NEVER;
		return 0;
	}
	stale = CLI_BROKER_STALE_ROUNDS * b.round_ms;
	if (stale < CLI_BROKER_STALE_MIN_MS)
		stale = CLI_BROKER_STALE_MIN_MS;
	if (b.stopped_ms > 0) {
		out->state = CLI_BROKER_STOPPED;
		out->down_since_ms = b.stopped_ms;
	} else if (out->now_ms - b.heartbeat_ms > stale) {
		out->state = CLI_BROKER_SILENT;
		out->down_since_ms = b.heartbeat_ms;
	} else {
		out->state = CLI_BROKER_RUNNING;
	}
	return 0;
}

const char *cli_broker_state_name(enum cli_broker_state st)
{
	switch (st) {
	case CLI_BROKER_NEVER: return "never ran";
	case CLI_BROKER_RUNNING: return "running";
	case CLI_BROKER_STOPPED: return "stopped";
	case CLI_BROKER_SILENT: return "not heard";
	}
	return "unknown";
}

/* ---- --watch ------------------------------------------------------------ */

static volatile sig_atomic_t watch_stop;

static void on_signal(int sig)
{
	(void)sig;
	watch_stop = 1;
}

static void sleep_ms(int ms)
{
	struct timespec t = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&t, NULL); /* a signal ends it early: watch_stop is set */
}

/* The screen before a redraw: cleared on a terminal; elsewhere (a file, a
 * pipe) a line saying when, so that a log of redraws reads in order, but
 * not between JSON documents, which follow one another as they are. */
static void watch_frame(int json)
{
	char when[64];

	if (isatty(STDOUT_FILENO)) {
		fputs("\033[H\033[2J", stdout);
		return;
	}
	if (json)
		return;
	cli_fmt_time(when, sizeof(when), util_wall_ms());
	printf("--- %s ---\n", when);
}

int cli_watch(store *s, int (*draw)(store *, void *), void *ctx, int json,
	      const char *cmd)
{
	struct sigaction sa;
	char err[512];
	int64_t seen = 0, now_v = 0, last_draw = 0;
	int rc = CLI_OK;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: the sleep ends at once */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	watch_stop = 0;
	if (store_data_version(s, &seen, err, sizeof(err)) != 0)
		goto fail;
	for (;;) {
		watch_frame(json);
		rc = draw(s, ctx);
		fflush(stdout);
		if (rc != CLI_OK)
			return rc;
		last_draw = util_now_ms();
		do {
			sleep_ms(CLI_WATCH_POLL_MS);
			if (watch_stop)
				return CLI_OK; /* Ctrl-C: the way out */
			if (store_data_version(s, &now_v, err, sizeof(err)))
				goto fail;
		} while (now_v == seen &&
			 util_now_ms() - last_draw < CLI_WATCH_REDRAW_MS);
		seen = now_v;
	}
fail:
	fprintf(stderr, "bourse %s: %s\n", cmd, err);
	return CLI_FAIL;
}

/* ---- did you mean ------------------------------------------------------- */

/* Levenshtein distance of a and b, at most SUGGEST_MAX_LEN long each. */
#define SUGGEST_MAX_LEN 32

static size_t edits(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t row[SUGGEST_MAX_LEN + 1];

	if (la > SUGGEST_MAX_LEN || lb > SUGGEST_MAX_LEN)
		return (size_t)-1;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

const char *cli_suggest(const char *word, const char *const *names,
			size_t n)
{
	const char *best = NULL;
	size_t best_d = 3; /* more than 2 edits: no suggestion */
	size_t wl = strlen(word);

	if (wl == 0)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		size_t d = edits(word, names[i]);

		if (wl >= 2 && strncmp(names[i], word, wl) == 0)
			d = 1; /* "rec" for "recs" */
		if (d < best_d) {
			best_d = d;
			best = names[i];
		}
	}
	return best;
}
