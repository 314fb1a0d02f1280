/*
 * test_log.c - log/log.h in this process, its stderr redirected to a real
 * file in a fresh directory:
 *
 *  - with $JOURNAL_STREAM unset, lines are written as they are: the text
 *    the other tests and scripts grep, one line, no priority prefix; the
 *    level filters them (a debug line only at debug);
 *  - a control byte in a logged name (a newline, an escape) is written as
 *    \xNN: a name from the network cannot forge a second line;
 *  - with $JOURNAL_STREAM naming stderr's device and inode, lines go to
 *    the journal natively; where no journald listens (this machine: no
 *    systemd as PID 1, no /run/systemd/journal/socket, where libsystemd's
 *    sd_journal_sendv() would drop the line and return success) the line
 *    goes to stderr with the "<N>" prefix the journal's stream reads as
 *    the priority; where journald does listen, the line is not on stderr;
 *  - a $JOURNAL_STREAM naming another file is not stderr: plain lines;
 *  - the level names, and a bad one refused with its message.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "banned.h"

#define JOURNAL_SOCKET "/run/systemd/journal/socket"

struct capture {
	char dir[64], path[128];
	int saved; /* the test's own stderr while redirected, else -1 */
};

static int cap_setup(void **state)
{
	struct capture *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	snprintf(c->dir, sizeof(c->dir), "/tmp/bourse-log-XXXXXX");
	if (!mkdtemp(c->dir))
		return -1;
	snprintf(c->path, sizeof(c->path), "%s/stderr", c->dir);
	c->saved = -1;
	unsetenv("JOURNAL_STREAM");
	*state = c;
	return 0;
}

/* stderr to c->path (appended to) until restore(): cmocka's own messages
 * go to stderr, so every assertion comes after restore(). */
static void redirect(struct capture *c)
{
	int fd = open(c->path, O_WRONLY | O_CREAT | O_APPEND, 0600);

	assert_true(fd >= 0);
	fflush(stderr);
	c->saved = dup(STDERR_FILENO);
	assert_true(c->saved >= 0);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);
	close(fd);
}

static void restore(struct capture *c)
{
	if (c->saved < 0)
		return;
	fflush(stderr);
	dup2(c->saved, STDERR_FILENO);
	close(c->saved);
	c->saved = -1;
}

static int cap_teardown(void **state)
{
	struct capture *c = *state;

	restore(c);
	unlink(c->path);
	rmdir(c->dir);
	unsetenv("JOURNAL_STREAM");
	log_setup(LOG_INFO);
	free(c);
	return 0;
}

/* What was written on stderr so far. */
static char *captured(const struct capture *c)
{
	static char buf[8192];
	FILE *f = fopen(c->path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void test_plain_lines_as_before(void **state)
{
	struct capture *c = *state;

	log_mode mode;

	redirect(c);
	log_setup(LOG_INFO);
	mode = log_mode_now();
	log_at(LOG_ERR, LOG_F(.round = 7), "broker: round %d: out of memory\n",
	       7);
	log_at(LOG_NOTICE, LOG_F(.host = "host-a"), "broker: host %s is back\n",
	       "host-a");
	log_at(LOG_DEBUG, NULL, "broker: round 8: not at info\n");
	log_at(LOG_INFO, NULL, "no newline at the end");
	restore(c);
	assert_int_equal(mode, LOG_MODE_STDERR);
	assert_string_equal(captured(c), "broker: round 7: out of memory\n"
			    "broker: host host-a is back\n"
			    "no newline at the end\n");
	redirect(c);
	log_setup(LOG_DEBUG);
	log_at(LOG_DEBUG, NULL, "broker: round 9: at debug\n");
	log_setup(LOG_ERR);
	log_at(LOG_WARNING, NULL, "not at err\n");
	restore(c);
	assert_non_null(strstr(captured(c), "at the end\nbroker: round 9: "
			       "at debug\n"));
	assert_null(strstr(captured(c), "not at err"));
}

static void test_control_bytes_escaped(void **state)
{
	struct capture *c = *state;
	const char *name = "vm-1\nbroker: host fake is back\x1b[31m\x7f";
	char esc[64];

	redirect(c);
	log_setup(LOG_INFO);
	log_at(LOG_WARNING, LOG_F(.vm = name), "broker: vm %s moved\n", name);
	restore(c);
	assert_string_equal(captured(c), "broker: vm vm-1\\x0abroker: host "
			    "fake is back\\x1b[31m\\x7f moved\n");
	/* what the journal's fields get too; and truncation keeps a
	 * terminated buffer without half an escape */
	assert_string_equal(log_escape("a\tb", esc, sizeof(esc)), "a\\x09b");
	assert_string_equal(log_escape("ab\x01", esc, 5), "ab");
	assert_string_equal(log_escape("caf\xc3\xa9", esc, sizeof(esc)),
			    "caf\xc3\xa9"); /* UTF-8 is not a control */
}

/* $JOURNAL_STREAM as systemd sets it, for the file st describes. */
static void set_journal_stream(const struct stat *st)
{
	char v[64];

	snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long)st->st_dev,
		 (unsigned long long)st->st_ino);
	assert_int_equal(setenv("JOURNAL_STREAM", v, 1), 0);
}

static void test_journal_or_its_prefix(void **state)
{
	struct capture *c = *state;
	struct stat st;
	int journald = access(JOURNAL_SOCKET, F_OK) == 0, rc;
	log_mode mode;

	redirect(c);
	rc = fstat(STDERR_FILENO, &st);
	set_journal_stream(&st);
	log_setup(LOG_INFO);
	mode = log_mode_now();
	log_at(LOG_ERR, LOG_F(.host = "h1", .rec_id = 3),
	       "broker: dispatch: %s\n", "disk full");
	log_at(LOG_WARNING, NULL, "broker: host h\x01 lost\n");
	log_at(LOG_INFO, LOG_F(.vm = "vm-1", .round = 2), "info\n");
	log_at(LOG_DEBUG, NULL, "not at info\n");
	restore(c);
	assert_int_equal(rc, 0);
	assert_int_equal(mode, journald ? LOG_MODE_JOURNAL : LOG_MODE_PREFIX);
	if (journald) { /* taken natively: nothing on the stream */
		assert_string_equal(captured(c), "");
		return;
	}
	assert_string_equal(captured(c), "<3>broker: dispatch: disk full\n"
			    "<4>broker: host h\\x01 lost\n"
			    "<6>info\n");
}

static void test_journal_stream_of_another_file(void **state)
{
	struct capture *c = *state;
	struct stat st;
	char other[160];
	log_mode mode;
	int fd;

	snprintf(other, sizeof(other), "%s/other", c->dir);
	fd = open(other, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	close(fd);
	set_journal_stream(&st); /* not stderr's file */
	redirect(c);
	log_setup(LOG_INFO);
	mode = log_mode_now();
	log_at(LOG_ERR, NULL, "plain\n");
	restore(c);
	assert_int_equal(mode, LOG_MODE_STDERR);
	assert_string_equal(captured(c), "plain\n");
	assert_int_equal(setenv("JOURNAL_STREAM", "12:x", 1), 0);
	log_setup(LOG_INFO);
	assert_int_equal(log_mode_now(), LOG_MODE_STDERR);
	unlink(other);
}

static void test_level_names(void **state)
{
	static const struct { const char *name; int level; } ok[] = {
		{ "err", LOG_ERR }, { "warning", LOG_WARNING },
		{ "notice", LOG_NOTICE }, { "info", LOG_INFO },
		{ "debug", LOG_DEBUG },
	};
	char err[128];
	int level = -1;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(log_level_parse(ok[i].name, &level, err,
						 sizeof(err)), 0);
		assert_int_equal(level, ok[i].level);
	}
	assert_int_equal(log_level_parse("verbose", &level, err, sizeof(err)),
			 -1);
	assert_string_equal(err, "'verbose' is not a level (err, warning, "
			    "notice, info or debug)");
	assert_int_equal(log_level_parse("", &level, NULL, 0), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_plain_lines_as_before,
						cap_setup, cap_teardown),
		cmocka_unit_test_setup_teardown(test_control_bytes_escaped,
						cap_setup, cap_teardown),
		cmocka_unit_test_setup_teardown(test_journal_or_its_prefix,
						cap_setup, cap_teardown),
		cmocka_unit_test_setup_teardown(
			test_journal_stream_of_another_file, cap_setup,
			cap_teardown),
		cmocka_unit_test(test_level_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
