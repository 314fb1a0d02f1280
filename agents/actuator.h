/*
 * actuator.h - how an agent carries out an action the broker dispatched:
 * resize a VM's memory, or live-migrate it to another host.
 *
 * An actuator is an interface (a table of functions and a private state),
 * like a source (source.h): the dry-run actuator only logs, the libvirt
 * actuator sets a domain's balloon target (virDomainSetMemoryFlags, live) and
 * live-migrates it (virDomainMigrateToURI3, to the peer host's URI from the
 * broker's registry), the cgroup actuator writes memory.high, the emulated
 * actuator changes the emulated hypervisor's world (world.h).
 *
 * Idempotence: every action carries an id. actuator_do() remembers the
 * outcome of the last ACTUATOR_MEMORY ids it finished (whatever the
 * outcome: a retry after a failure needs a new id); a repeated id naming
 * the same action (kind, VM, target, URI) gets that outcome again and
 * nothing is done twice; one naming another action is refused (FAILED,
 * not done). An action refused by the checks of actuator_do() was not
 * carried out and is not remembered. With actuator_memory_open() the ids
 * are durable: written and fsync'd before each action starts, so an agent
 * restarted after an action, or during one, never does it again. The
 * operations themselves are written to be safe to repeat as well: a resize
 * to the size the VM already has succeeds without acting, a migration of a
 * VM that is not on this host any more fails with "not here" rather than
 * moving it again.
 *
 * Blocking: an action runs to its end (or its timeout) in the calling
 * thread. A migration can take minutes, so the agent calls actuator_do()
 * from a worker thread, never from its socket loop.
 *
 * Ownership: actuator_*_open() returns an actuator the caller frees with
 * actuator_close(). Strings in an actuator_action are borrowed for the call.
 * Results are the caller's buffer.
 */
#ifndef BOURSE_ACTUATOR_H
#define BOURSE_ACTUATOR_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

/* How many finished action ids an actuator remembers for idempotence. */
#define ACTUATOR_MEMORY 256

/* Longest action id, in bytes: the wire's. */
#define ACTUATOR_ID_MAX WIRE_MAX_ID

typedef enum actuator_kind {
	ACTUATOR_RESIZE = 1,
	ACTUATOR_MIGRATE = 2,
} actuator_kind;

typedef struct actuator_action {
	const char *id;         /* unique per action: 1..ACTUATOR_ID_MAX bytes */
	actuator_kind kind;
	const char *vm;         /* the VM's name as the source names it */
	int64_t target_mib;     /* resize: the new memory; migrate: after it */
	const char *to_uri;     /* migrate: the target host's hypervisor URI */
	int64_t timeout_ms;     /* > 0 */
	int64_t free_mib;       /* migrate: what this host has free beyond
				 * its reserve now, as the agent last read
				 * it (<= 0: nothing, or not known) */
} actuator_action;

typedef enum actuator_status {
	ACTUATOR_OK = 1,
	ACTUATOR_FAILED = 2,      /* with a reason */
	ACTUATOR_TIMEOUT = 3,
	ACTUATOR_UNSUPPORTED = 4, /* this actuator cannot do this kind */
} actuator_status;

typedef struct actuator_result {
	actuator_status status;
	int repeated;             /* 1: a remembered id, nothing was done */
	char detail[256];         /* what happened, for the audit log */
} actuator_result;

typedef struct actuator actuator;

struct actuator_ops {
	const char *kind; /* "dry-run", "libvirt", "cgroup" */
	/* Carry out a (validated, not remembered) action. */
	void (*act)(actuator *a, const actuator_action *x, actuator_result *r);
	void (*close)(actuator *a); /* frees state, not a itself */
};

struct actuator {
	const struct actuator_ops *ops;
	void *state;  /* the implementation's */
	void *memory; /* actuator.c's: the remembered ids and outcomes */
};

/* For implementations: an actuator around ops and state, with an empty
 * memory. NULL if out of memory (state is then the caller's to free). */
actuator *actuator_new(const struct actuator_ops *ops, void *state);

/* Notes an actuator makes (what it did, in the dry run), one line each.
 * NULL: printed on stderr. */
typedef void (*actuator_note_fn)(void *ctx, const char *msg);

/* Validate x (an id of 1..ACTUATOR_ID_MAX bytes of 0x21..0x7e, as on the
 * wire; a known kind; a VM name, wire_name_ok(); target_mib in
 * 1..WIRE_MAX_MIB; for a migration a URI of 1..255 bytes of 0x21..0x7e;
 * timeout_ms > 0: else ACTUATOR_FAILED "invalid action: ..."), answer a
 * remembered id from memory, or act and remember the outcome. Never fails
 * to fill r. Not thread-safe: one caller at a time per actuator. */
void actuator_do(actuator *a, const actuator_action *x, actuator_result *r);

/* Make a's memory of ids durable in the file at path (created 0600 if
 * missing; docs/protocol.md, "Action ids"): the ids it holds are loaded
 * now, and from now on each action's id, kind, VM, target and URI are
 * written and fsync'd before it starts, its outcome when it ends. An id
 * found started and never finished (the agent died during it) is answered
 * FAILED "interrupted: ..." from then on, never carried out again. An
 * action whose record cannot be written is not carried out (FAILED). Call
 * once, before the first actuator_do(). Returns 0, or -1 with a message
 * naming the file (and line, for a malformed one). */
int actuator_memory_open(actuator *a, const char *path, char *err,
			 size_t errlen);

void actuator_close(actuator *a);

/* "ok", "failed", "timeout", "unsupported". */
const char *actuator_status_name(actuator_status s);

/* The dry run: every action succeeds and is noted ("dry run: would resize
 * vm-3 to 2048 MiB"); nothing changes. Each action takes delay_ms (0: none),
 * to rehearse slow ones (a migration in flight across a broker restart). */
int actuator_dryrun_open(int64_t delay_ms, actuator_note_fn note,
			 void *note_ctx, actuator **out, char *err,
			 size_t errlen);

/* libvirt: resize = virDomainSetMemoryFlags(VIR_DOMAIN_AFFECT_LIVE) of the
 * named running domain on uri (refused above the domain's maximum; a single
 * call that returns before the balloon has moved: timeout_ms does not bound
 * it); migrate = virDomainMigrateToURI3 live (peer-to-peer, the definition
 * moving with it) of the running
 * domain to to_uri, the destination's libvirt URI (a domain not running
 * here: FAILED "not here"). libvirt has no per-call timeout: a watchdog
 * thread aborts the migration job (virDomainAbortJob) after timeout_ms and
 * the outcome is ACTUATOR_TIMEOUT (virDomainMigrateSetMaxDowntime is left
 * alone). A migration then sets the VM's memory to target_mib on the
 * destination (actuator_libvirt_open_opts() below). A migration that
 * grows the VM grows it here first, before it moves, when this host has
 * the growth free (x->free_mib): a VM short of memory on a host being
 * drained does not wait for its migration (seconds) to get it; if the
 * migration then fails it stays grown here, the detail says so, and the
 * next round clears it again. A driver
 * that cannot do an operation (VIR_ERR_NO_SUPPORT, _OPERATION_UNSUPPORTED,
 * _ARGUMENT_UNSUPPORTED) gives ACTUATOR_UNSUPPORTED with libvirt's message.
 * A connection found lost is opened again (noted). Silences libvirt's own
 * stderr printing for the whole process, as the libvirt source does. */
int actuator_libvirt_open(const char *uri, actuator_note_fn note,
			  void *note_ctx, actuator **out, char *err,
			  size_t errlen);

/* The libvirt actuator with options (actuator_libvirt_open() is this with
 * disks ACTUATOR_DISKS_SHARED). A migration sets the VM's memory to the
 * migration's target_mib on the destination once it has moved (issue 17,
 * bug 8): the actuator opens to_uri itself for that (as libvirtd's
 * peer-to-peer migration does) and sets the balloon there
 * (virDomainSetMemoryFlags, live); if that fails the migration is still
 * ACTUATOR_OK (the VM did move), its detail saying so, and the next round
 * resizes it. disks (issue 17, bug 9; docs/operations.md, "Migrating VMs
 * with local disks"): which VMs with disks on storage the destination does
 * not share a migration may move. */
typedef enum actuator_libvirt_disks {
	ACTUATOR_DISKS_SHARED = 0, /* the default: disks must be on shared
				    * storage (libvirt refuses the others:
				    * "Unsafe migration") */
	ACTUATOR_DISKS_COPY = 1,   /* VIR_MIGRATE_NON_SHARED_DISK: local
				    * disks are copied in full with the
				    * memory (slow; the destination must
				    * have room for them) */
	ACTUATOR_DISKS_UNSAFE = 2, /* VIR_MIGRATE_UNSAFE: libvirt's safety
				    * check is skipped (a disk not really
				    * shared, or cached, can be corrupted) */
} actuator_libvirt_disks;

typedef struct actuator_libvirt_opts {
	const char *uri;
	actuator_libvirt_disks disks;
	actuator_note_fn note; /* NULL: stderr */
	void *note_ctx;
} actuator_libvirt_opts;

int actuator_libvirt_open_opts(const actuator_libvirt_opts *o,
			       actuator **out, char *err, size_t errlen);

/* The flags a migration passes to virDomainMigrateToURI3 with that disks
 * mode (VIR_MIGRATE_* values; for the tests and the audit). */
unsigned long actuator_libvirt_migrate_flags(actuator_libvirt_disks disks);

/* "shared", "copy", "unsafe" (bourse agent --migrate-disks): 0 with *out,
 * or -1 for another word. */
int actuator_libvirt_disks_parse(const char *word,
				 actuator_libvirt_disks *out);

/* cgroup v2: resize = write target_mib, in bytes, to
 * <root>/<parent>/<vm>/memory.high and read it back (cgroup_root NULL:
 * /sys/fs/cgroup; parent "" for the root itself, which must be a directory
 * at open). vm must be one path component (no '/', not "." or ".."), its
 * cgroup must exist (else FAILED "not here") and have a memory.high; a
 * target above its memory.max is refused. timeout_ms is not used: the write
 * returns once the kernel has reclaimed. Migrate is unsupported. */
int actuator_cgroup_open(const char *cgroup_root, const char *parent,
			 actuator_note_fn note, void *note_ctx, actuator **out,
			 char *err, size_t errlen);

/* The emulated hypervisor (world.h, docs/emulated.md): this host's VMs as
 * the world has them, shared with the trace source and the other agents of
 * the machine. Resize = the VM's assigned memory in the world, if it is on
 * this host (else FAILED "not here") and the host can hold the change
 * (else FAILED naming what it holds and sells); the source reports it at
 * its next advance. Migrate = to_uri must be ACTUATOR_EMULATED_SCHEME +
 * a host of the world (not this one); the VM is copied for the pre-copy
 * time M / (B - D) seconds (M its assigned MiB, B = migrate_mibps, D =
 * dirty_mibps or, if that is < 0, the dirty rate the source derived for it;
 * D >= B never converges: FAILED) and then moved in the world in one
 * rename, arriving with target_mib, if the destination can hold it (checked
 * before the copy and again at the move). A copy longer than timeout_ms is
 * given up at the timeout: ACTUATOR_TIMEOUT, the VM still here. The world
 * is borrowed (world_close() after actuator_close()). */
#define ACTUATOR_EMULATED_SCHEME "emulated://"

typedef struct actuator_emulated_opts {
	struct world *world;
	const char *host;      /* this host, in the world */
	double migrate_mibps;  /* B: > 0 */
	double dirty_mibps;    /* D: >= 0, or < 0 for the source's rate */
	actuator_note_fn note; /* NULL: stderr */
	void *note_ctx;
} actuator_emulated_opts;

int actuator_emulated_open(const actuator_emulated_opts *o, actuator **out,
			   char *err, size_t errlen);

/* For the actuators' own files: sets r->status to s and r->detail to the
 * formatted text (cut to fit, as util_err() does). */
void actuator_result_set(actuator_result *r, actuator_status s,
			 const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
