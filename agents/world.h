/*
 * world.h - the emulated hypervisor's shared state: which host holds each
 * VM and how much memory it is assigned, as two libvirt hosts both observe a
 * migrated domain. Shared by the agents of one machine that run
 * `bourse agent --source trace --actuator emulated --world DIR`
 * (docs/emulated.md).
 *
 * On disk, a directory:
 *
 *   DIR/lock          flock()ed around every read-check-write (and shared
 *                     around a listing), so that two agents checking a
 *                     host's room cannot both fill it
 *   DIR/hosts/NAME    "capacity_mib N\nreserve_mib N\n": each agent's host
 *   DIR/vms/NAME      "host NAME\nassigned_mib N\n": one file per VM
 *
 * Every file is written whole to a temporary file (".NAME.tmp.PID" beside
 * it), fsync()ed, and rename()d over the old one; the directory is then
 * fsync()ed. A VM's file is the one truth of where it runs: a move is one
 * rename of the file with the new host over the one with the old, so that a
 * process killed at any moment leaves the VM on exactly one host. A
 * temporary file left by a killed writer is never read, and is removed by
 * the next world_open().
 *
 * Names (hosts and VMs) must be file names: 1..128 of [A-Za-z0-9._-], not
 * starting with '.' (world_name_ok()).
 *
 * A host holds what its VMs are assigned, whether the trace has them
 * running at the time or not (a VM keeps its memory while it is not
 * running): never more than capacity - reserve (what the host sells).
 *
 * In the process, besides the files: the latest dirty rate the source
 * derived for each VM (world_dirty_set()), for the actuator's migration
 * time; under a mutex, as the source runs on the agent's loop and the
 * actuator on its worker thread.
 *
 * Ownership: world_open() returns a world the caller frees with
 * world_close(), after the source and actuator that borrow it are closed.
 * Every function returns 0 or a status below, or -1 with a message in err.
 */
#ifndef BOURSE_WORLD_H
#define BOURSE_WORLD_H

#include <stddef.h>
#include <stdint.h>

#define WORLD_NAME_MAX 128

typedef struct world world;

typedef struct world_vm {
	char host[WORLD_NAME_MAX + 1];
	int64_t assigned_mib;
} world_vm;

/* Outcomes of a checked change, besides 0 (done) and -1 (an error). */
enum {
	WORLD_ABSENT = 1,   /* no such VM (or host) in the world */
	WORLD_NOT_HERE = 2, /* the VM is on another host */
	WORLD_NO_ROOM = 3,  /* the host cannot hold it: err says why */
};

/* 1 if name may name a host or VM in the world. */
int world_name_ok(const char *name);

/* Opens (creating DIR, DIR/hosts and DIR/vms if missing) and removes the
 * temporary files killed writers left. */
int world_open(const char *dir, world **out, char *err, size_t errlen);
void world_close(world *w);

/* Writes (or rewrites) host's capacity and reserve; the reserve below the
 * capacity. */
int world_host_set(world *w, const char *host, int64_t capacity_mib,
		   int64_t reserve_mib, char *err, size_t errlen);
/* 0 with the figures, WORLD_ABSENT, or -1. */
int world_host_get(world *w, const char *host, int64_t *capacity_mib,
		   int64_t *reserve_mib, char *err, size_t errlen);

/* 0 with *out, WORLD_ABSENT, or -1 (a file that does not parse). */
int world_vm_get(world *w, const char *vm, world_vm *out, char *err,
		 size_t errlen);

/* The VM's place: if the world has it, that (wherever it is); else it is
 * created on host with want_mib, or what host has free if that is less
 * (0 if nothing). *out is where it is. host must be in the world. */
int world_vm_place(world *w, const char *vm, const char *host,
		   int64_t want_mib, world_vm *out, char *err, size_t errlen);

/* Calls fn for each VM on host (every VM if host is NULL), under a shared
 * lock: one consistent view. fn returning non-zero stops the walk and is
 * returned. A file that does not parse is -1. */
typedef int (*world_vm_fn)(void *ctx, const char *vm, const world_vm *v);
int world_each_vm(world *w, const char *host, world_vm_fn fn, void *ctx,
		  char *err, size_t errlen);

/* The sum of what host's VMs are assigned. */
int world_used(world *w, const char *host, int64_t *used_mib, char *err,
	       size_t errlen);

/* Sets the VM on host to target_mib if host can hold it: 0, WORLD_ABSENT,
 * WORLD_NOT_HERE, WORLD_NO_ROOM (err says what it holds and sells), -1. */
int world_resize(world *w, const char *vm, const char *host,
		 int64_t target_mib, char *err, size_t errlen);

/* Moves the VM from host from to host to, arriving with target_mib, if to
 * can hold it: one rename. 0, WORLD_ABSENT (the VM or the host to),
 * WORLD_NOT_HERE (not on from), WORLD_NO_ROOM, -1. */
int world_move(world *w, const char *vm, const char *from, const char *to,
	       int64_t target_mib, char *err, size_t errlen);

/* The dirty rate the source last derived for vm (MiB/s); -1 if none. */
void world_dirty_set(world *w, const char *vm, double mibps);
double world_dirty_get(world *w, const char *vm);

#endif
