/*
 * sampler.h - private to agents/: reads the agent's source on a thread of
 * its own, so that a slow source (a libvirt call that blocks for seconds
 * while the host is busy migrating a guest) never holds up the agent's
 * socket loop: heartbeats, awards and actions go on while it reads (issue
 * 17, bug 11: hosts were marked lost, "silent for 3,209 ms", because the
 * loop waited in virDomainMemoryStats).
 *
 * The thread owns the source from sampler_start() on: it advances it when
 * asked and copies everything the source reports (the host's figures, the
 * number of VMs, each VM's settings and sample, with each read's result)
 * into a snapshot. The agent reads the latest snapshot through a view, a
 * source (source.h) whose host(), n_vms(), vm_config() and vm_sample() ops
 * answer from it without blocking, on the agent's thread only. The agent
 * asks for a reading (sampler_request()), polls sampler_fd() with its
 * socket and, when it is readable, takes the new snapshot
 * (sampler_take()), which the view then shows. At start the snapshot is
 * the source as it was opened (a source is read once at open).
 *
 * Ownership: sampler_start() borrows src until sampler_stop(), which waits
 * for a reading under way to end; the view belongs to the sampler (do not
 * source_close() it). Names in the view's configs are the source's (they
 * live until the source is closed, source.h).
 */
#ifndef BOURSE_SAMPLER_H
#define BOURSE_SAMPLER_H

#include <stddef.h>

#include "source.h"

typedef struct sampler sampler;

/* Snapshot src and start the thread; *view reads the snapshots. Returns 0,
 * or -1 with a message. */
int sampler_start(source *src, sampler **out, source **view, char *err,
		  size_t errlen);

/* Readable when a reading has finished and waits to be taken. */
int sampler_fd(const sampler *s);

/* Ask for a reading (an advance of the source, then a snapshot): 0, or 1
 * if one is under way or not taken yet (nothing more is asked). */
int sampler_request(sampler *s);

/* Take the finished reading: the view shows it from now on. Returns 1 if
 * none has finished (nothing changes), 0 if taken, -1 if taken but the
 * advance failed (err says why; the snapshot is what the source then
 * reported). */
int sampler_take(sampler *s, char *err, size_t errlen);

/* Stop the thread (after the reading under way) and free everything;
 * NULL is fine. */
void sampler_stop(sampler *s);

#endif
