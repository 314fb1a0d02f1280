/*
 * actuator.c - what every actuator shares (actuator.h): the checking of an
 * action, the memory of the last ACTUATOR_MEMORY finished ids that makes
 * actuator_do() idempotent, and the dry-run actuator, which only notes what
 * it would do.
 *
 * The memory is a ring: the outcome of each finished action goes into the
 * next slot, over the oldest one once all ACTUATOR_MEMORY are taken. A
 * lookup scans it (256 short ids: cheaper than the action it saves). An
 * action refused by the checks is not an action that was carried out: its
 * id is not remembered, so a corrected action may reuse it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "actuator.h"
#include "util.h"
#include "wire.h"
#include "log.h"
#include "banned.h"

/* Longest migration URI, bytes (as the wire's ActionRequest.to_uri). */
#define ACT_URI_MAX 255

/* What an id was given for: a repeated id is answered from memory only
 * if it names the same action. */
struct act_what {
	actuator_kind kind;
	char vm[WIRE_MAX_NAME + 1];
	int64_t target_mib;
	char to_uri[ACT_URI_MAX + 1]; /* "" for a resize */
};

struct act_slot {
	char id[ACTUATOR_ID_MAX + 1]; /* "" while unused */
	struct act_what what;
	int done;                     /* 0: started, outcome not known */
	actuator_result r;
};

struct act_memory {
	struct act_slot slot[ACTUATOR_MEMORY];
	size_t next; /* the slot the next outcome goes to */
	/* the durable copy (actuator_memory_open()), or -1 */
	int fd;
	char *path;
	size_t lines; /* lines appended since the file was last rewritten */
	int lock;     /* PATH.lock, held (flock) while the actuator lives: one
	               * agent per file */
};

static void result_set(actuator_result *r, actuator_status s,
		       const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void result_set(actuator_result *r, actuator_status s,
		       const char *fmt, ...)
{
	va_list ap;

	r->status = s;
	va_start(ap, fmt);
	util_verr(r->detail, sizeof(r->detail), fmt, ap);
	va_end(ap);
}

/* ---- checking an action ---- */

/* 1..max bytes of 0x21..0x7e (printable ASCII, no spaces), as the wire. */
static int token_ok(const char *s, size_t max)
{
	size_t n = s ? strnlen(s, max + 1) : 0;

	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

/* What is wrong with x, or NULL. */
static const char *action_bad(const actuator_action *x)
{
	if (!x)
		return "no action";
	if (!token_ok(x->id, ACTUATOR_ID_MAX))
		return "the id is not 1..64 printable characters without "
		       "spaces";
	if (x->kind != ACTUATOR_RESIZE && x->kind != ACTUATOR_MIGRATE)
		return "the kind is neither resize nor migrate";
	if (!x->vm || !wire_name_ok(x->vm))
		return "the VM is not a name (1..128 printable characters "
		       "without spaces)";
	if (x->target_mib < 1 || x->target_mib > WIRE_MAX_MIB)
		return "the target is not in 1 MiB..64 TiB";
	if (x->kind == ACTUATOR_MIGRATE && !token_ok(x->to_uri, ACT_URI_MAX))
		return "a migration needs a target URI (1..255 printable "
		       "characters without spaces)";
	if (x->timeout_ms <= 0)
		return "the timeout must be above 0 ms";
	return NULL;
}

/* ---- the memory ---- */

static struct act_slot *recall(struct act_memory *m, const char *id)
{
	for (size_t i = 0; i < ACTUATOR_MEMORY; i++)
		if (m->slot[i].id[0] && strcmp(m->slot[i].id, id) == 0)
			return &m->slot[i];
	return NULL;
}

static void what_of(const actuator_action *x, struct act_what *w)
{
	memset(w, 0, sizeof(*w));
	w->kind = x->kind;
	snprintf(w->vm, sizeof(w->vm), "%s", x->vm);
	w->target_mib = x->target_mib;
	if (x->kind == ACTUATOR_MIGRATE)
		snprintf(w->to_uri, sizeof(w->to_uri), "%s", x->to_uri);
}

static int what_same(const struct act_what *a, const struct act_what *b)
{
	return a->kind == b->kind && !strcmp(a->vm, b->vm) &&
	       a->target_mib == b->target_mib && !strcmp(a->to_uri, b->to_uri);
}

/* A new slot for id (over the oldest once all are taken). */
static struct act_slot *slot_take(struct act_memory *m, const char *id,
				  const struct act_what *w)
{
	struct act_slot *s = &m->slot[m->next];

	memset(s, 0, sizeof(*s));
	snprintf(s->id, sizeof(s->id), "%s", id);
	s->what = *w;
	m->next = (m->next + 1) % ACTUATOR_MEMORY;
	return s;
}

static void remember(struct act_slot *s, const actuator_result *r)
{
	s->r = *r;
	s->r.repeated = 0;
	s->done = 1;
}

/* ---- the durable memory: a file of lines ----
 *
 *   S <id> <r|m> <vm> <target_mib> <uri or ->   before an action starts
 *   D <id> <status> <detail, escaped>           when it has finished
 *
 * each appended and fsync'd before the step it records goes on: an S line
 * is on disk before the action starts, so an agent that dies during an
 * action finds an S without its D when it starts again and answers that
 * id "failed: interrupted" instead of acting again. A last line without
 * its newline was cut by a crash and is ignored (its S was not on disk:
 * the action had not started). The file is rewritten (a temporary file,
 * fsync, rename, fsync of the directory) with the ids in memory when it
 * is opened and after every 4 * ACTUATOR_MEMORY lines. */

#define ACT_INTERRUPTED "interrupted: the agent stopped while carrying it " \
			"out, its outcome is not known; not done again"

/* Write all of buf to fd and fsync it. 0, or -1 with errno. */
static int write_sync(int fd, const char *buf, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, buf, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		buf += w;
		n -= (size_t)w;
	}
	return fsync(fd);
}

static int fmt_start(char *buf, size_t len, const struct act_slot *s)
{
	return snprintf(buf, len, "S %s %c %s %lld %s\n", s->id,
			s->what.kind == ACTUATOR_MIGRATE ? 'm' : 'r', s->what.vm,
			(long long)s->what.target_mib,
			s->what.to_uri[0] ? s->what.to_uri : "-");
}

static int fmt_done(char *buf, size_t len, const struct act_slot *s)
{
	char det[sizeof(s->r.detail) * 4];

	return snprintf(buf, len, "D %s %d %s\n", s->id, (int)s->r.status,
			util_escape(det, sizeof(det), s->r.detail));
}

/* Every id in memory, oldest first, into a new file in place of the
 * old. 0, or -1 with a message. */
static int memory_rewrite(struct act_memory *m, char *err, size_t errlen)
{
	char tmp[4200], line[2048], dir[4096], *slash;
	int fd, dfd, rc = 0;

	snprintf(tmp, sizeof(tmp), "%s.new", m->path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return util_err(err, errlen, "%s: %s", tmp, strerror(errno));
	for (size_t k = 0; k < ACTUATOR_MEMORY && rc == 0; k++) {
		const struct act_slot *s =
			&m->slot[(m->next + k) % ACTUATOR_MEMORY];
		int n;

		if (!s->id[0])
			continue;
		n = fmt_start(line, sizeof(line), s);
		if (s->done)
			n += fmt_done(line + n, sizeof(line) - (size_t)n, s);
		rc = write_sync(fd, line, (size_t)n); /* one fsync a line:
		                                       * cheap enough, rare */
	}
	if (close(fd) != 0 || rc != 0 || rename(tmp, m->path) != 0) {
		util_err(err, errlen, "%s: %s", tmp, strerror(errno));
		unlink(tmp);
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s", m->path);
	slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else
		slash[slash == dir] = '\0'; /* "/x": "/" */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	if (m->fd >= 0)
		close(m->fd);
	m->fd = open(m->path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (m->fd < 0)
		return util_err(err, errlen, "%s: %s", m->path, strerror(errno));
	m->lines = 0;
	return 0;
}

/* Append one line (and fsync). 0, or -1 with a message. */
static int memory_append(struct act_memory *m, const char *line, char *err,
			 size_t errlen)
{
	if (m->fd < 0)
		return 0;
	if (write_sync(m->fd, line, strlen(line)) != 0)
		return util_err(err, errlen, "%s: %s", m->path,
				strerror(errno));
	if (++m->lines >= 4 * ACTUATOR_MEMORY)
		return memory_rewrite(m, err, errlen);
	return 0;
}

/* One S line into a slot. NULL, or what is wrong. */
static const char *load_start(struct act_memory *m, const char *line)
{
	char id[ACTUATOR_ID_MAX + 1], vm[WIRE_MAX_NAME + 1];
	char uri[ACT_URI_MAX + 1], k;
	long long target;
	struct act_what w;
	struct act_slot *s;
	actuator_action x;

	if (sscanf(line, "S %64s %c %128s %lld %255s", id, &k, vm, &target,
		   uri) != 5 || (k != 'r' && k != 'm'))
		return "expected S ID r|m VM TARGET_MIB URI|-";
	x = (actuator_action){ .id = id, .vm = vm, .target_mib = target,
			       .kind = k == 'm' ? ACTUATOR_MIGRATE
					       : ACTUATOR_RESIZE,
			       .to_uri = uri, .timeout_ms = 1 };
	if (action_bad(&x))
		return action_bad(&x);
	what_of(&x, &w);
	s = recall(m, id);
	if (!s)
		s = slot_take(m, id, &w);
	s->what = w;
	s->done = 0;
	return NULL;
}

/* One D line: the outcome of a started id. NULL, or what is wrong. */
static const char *load_done(struct act_memory *m, const char *line)
{
	char id[ACTUATOR_ID_MAX + 1];
	int status, at = 0;
	struct act_slot *s;

	if (sscanf(line, "D %64s %d %n", id, &status, &at) != 2 || at == 0 ||
	    status < ACTUATOR_OK || status > ACTUATOR_UNSUPPORTED)
		return "expected D ID STATUS DETAIL";
	s = recall(m, id);
	if (!s)
		return "an outcome of an id not started";
	s->r.status = (actuator_status)status;
	snprintf(s->r.detail, sizeof(s->r.detail), "%.*s",
		 (int)strcspn(line + at, "\n"), line + at);
	s->done = 1;
	return NULL;
}

/* Read the file (if any) into memory; ids started and never finished
 * become "interrupted". 0, or -1 with a message naming file and line. */
static int memory_load(struct act_memory *m, char *err, size_t errlen)
{
	char line[2048];
	FILE *f = fopen(m->path, "re");
	int no = 0;

	if (!f)
		return errno == ENOENT ? 0 : util_err(err, errlen, "%s: %s",
						      m->path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		const char *bad;

		no++;
		if (!strchr(line, '\n')) {
			if (feof(f))
				break; /* cut by a crash: not started */
			fclose(f);
			return util_err(err, errlen, "%s:%d: line too long",
					m->path, no);
		}
		bad = line[0] == 'S' ? load_start(m, line)
		      : line[0] == 'D' ? load_done(m, line)
		      : "expected a line starting with S or D";
		if (bad) {
			fclose(f);
			return util_err(err, errlen, "%s:%d: %s (a file of "
					"bourse agent's action ids: fix or "
					"remove it)", m->path, no, bad);
		}
	}
	fclose(f);
	for (size_t i = 0; i < ACTUATOR_MEMORY; i++)
		if (m->slot[i].id[0] && !m->slot[i].done) {
			result_set(&m->slot[i].r, ACTUATOR_FAILED, "%s",
				   ACT_INTERRUPTED);
			m->slot[i].done = 1;
		}
	return 0;
}

/* Hold PATH.lock: a second agent with the same file would not see the
 * ids the first one carries out (and each would rewrite the file under
 * the other). 0, or -1 with a message. */
static int memory_lock(struct act_memory *m, char *err, size_t errlen)
{
	char lock[4200];

	snprintf(lock, sizeof(lock), "%s.lock", m->path);
	m->lock = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (m->lock < 0)
		return util_err(err, errlen, "%s: %s", lock, strerror(errno));
	if (flock(m->lock, LOCK_EX | LOCK_NB) == 0)
		return 0;
	util_err(err, errlen, "%s: %s", lock, errno == EWOULDBLOCK
		 ? "another agent uses this file of action ids (one agent "
		   "per host and --state-dir)" : strerror(errno));
	close(m->lock);
	m->lock = -1;
	return -1;
}

int actuator_memory_open(actuator *a, const char *path, char *err,
			 size_t errlen)
{
	struct act_memory *m = a->memory;

	if (m->path)
		return util_err(err, errlen, "the actuator has a memory file "
				"already");
	m->path = strdup(path);
	if (!m->path)
		return util_err(err, errlen, "out of memory");
	if (memory_lock(m, err, errlen) != 0 ||
	    memory_load(m, err, errlen) != 0 ||
	    memory_rewrite(m, err, errlen) != 0) {
		if (m->lock >= 0)
			close(m->lock);
		m->lock = -1;
		free(m->path);
		m->path = NULL;
		return -1;
	}
	return 0;
}

void actuator_result_set(actuator_result *r, actuator_status s,
			 const char *fmt, ...)
{
	va_list ap;

	r->status = s;
	va_start(ap, fmt);
	util_verr(r->detail, sizeof(r->detail), fmt, ap);
	va_end(ap);
}

/* ---- the interface ---- */

actuator *actuator_new(const struct actuator_ops *ops, void *state)
{
	actuator *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->memory = calloc(1, sizeof(struct act_memory));
	if (!a->memory) {
		free(a);
		return NULL;
	}
	((struct act_memory *)a->memory)->fd = -1;
	((struct act_memory *)a->memory)->lock = -1;
	a->ops = ops;
	a->state = state;
	return a;
}

/* Id x->id was seen: answer from memory if it names the same action. */
static void repeated(const struct act_slot *s, const actuator_action *x,
		     actuator_result *r)
{
	struct act_what w;

	what_of(x, &w);
	if (!what_same(&s->what, &w)) {
		result_set(r, ACTUATOR_FAILED, "id %s was carried out before "
			   "for another action (%s %s to %lld MiB): not done",
			   x->id, s->what.kind == ACTUATOR_MIGRATE ? "migrate"
			   : "resize", s->what.vm,
			   (long long)s->what.target_mib);
		return;
	}
	*r = s->r;
	r->repeated = 1;
}

void actuator_do(actuator *a, const actuator_action *x, actuator_result *r)
{
	struct act_memory *m = a->memory;
	const char *bad = action_bad(x);
	const struct act_slot *old;
	struct act_slot *s;
	struct act_what w;
	char line[2048], err[300];

	memset(r, 0, sizeof(*r));
	if (bad) {
		result_set(r, ACTUATOR_FAILED, "invalid action: %s", bad);
		return;
	}
	old = recall(m, x->id);
	if (old) {
		repeated(old, x, r);
		return;
	}
	what_of(x, &w);
	s = slot_take(m, x->id, &w);
	/* on disk before it starts: never done twice across a restart */
	fmt_start(line, sizeof(line), s);
	if (memory_append(m, line, err, sizeof(err)) != 0) {
		result_set(r, ACTUATOR_FAILED, "cannot record the action "
			   "before doing it (%s): not done", err);
		s->id[0] = '\0'; /* not carried out: not remembered */
		return;
	}
	a->ops->act(a, x, r);
	r->repeated = 0;
	if (r->status < ACTUATOR_OK || r->status > ACTUATOR_UNSUPPORTED)
		result_set(r, ACTUATOR_FAILED, "the %s actuator gave no "
			   "outcome", a->ops->kind);
	remember(s, r);
	fmt_done(line, sizeof(line), s);
	if (memory_append(m, line, err, sizeof(err)) != 0)
		log_at(LOG_ERR, NULL, "cannot record the outcome of action "
		       "%s: %s (if the agent restarts, it answers that id "
		       "'interrupted')", x->id, err);
}

void actuator_close(actuator *a)
{
	if (!a)
		return;
	if (a->ops && a->ops->close)
		a->ops->close(a);
	if (a->memory) {
		struct act_memory *m = a->memory;

		if (m->fd >= 0)
			close(m->fd);
		if (m->lock >= 0)
			close(m->lock);
		free(m->path);
	}
	free(a->memory);
	free(a);
}

const char *actuator_status_name(actuator_status s)
{
	switch (s) {
	case ACTUATOR_OK: return "ok";
	case ACTUATOR_FAILED: return "failed";
	case ACTUATOR_TIMEOUT: return "timeout";
	case ACTUATOR_UNSUPPORTED: return "unsupported";
	}
	return "?";
}

/* ---- the dry run ---- */

struct dry {
	actuator_note_fn note; /* NULL: stderr */
	void *note_ctx;
	int64_t delay_ms;
};

static void dry_act(actuator *a, const actuator_action *x,
		    actuator_result *r)
{
	const struct dry *d = a->state;
	struct timespec ts = { (time_t)(d->delay_ms / 1000),
			       (long)(d->delay_ms % 1000) * 1000000L };

	while (d->delay_ms > 0 && nanosleep(&ts, &ts) != 0)
		; /* interrupted: sleep the rest */
	if (x->kind == ACTUATOR_RESIZE)
		result_set(r, ACTUATOR_OK, "dry run: would resize %s to %lld "
			   "MiB", x->vm, (long long)x->target_mib);
	else
		result_set(r, ACTUATOR_OK, "dry run: would migrate %s to %s",
			   x->vm, x->to_uri);
	if (d->note)
		d->note(d->note_ctx, r->detail);
	else
		log_at(LOG_INFO, NULL, "%s", r->detail);
}

static void dry_close(actuator *a)
{
	free(a->state);
}

static const struct actuator_ops dry_ops = {
	.kind = "dry-run",
	.act = dry_act,
	.close = dry_close,
};

int actuator_dryrun_open(int64_t delay_ms, actuator_note_fn note,
			 void *note_ctx, actuator **out, char *err,
			 size_t errlen)
{
	struct dry *d = calloc(1, sizeof(*d));

	*out = NULL;
	if (d) {
		d->delay_ms = delay_ms > 0 ? delay_ms : 0;
		d->note = note;
		d->note_ctx = note_ctx;
		*out = actuator_new(&dry_ops, d);
	}
	if (!*out) {
		free(d);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}
