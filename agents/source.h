/*
 * source.h - where an agent reads its host's and its VMs' memory signals.
 *
 * A source is an interface (a table of functions and a private state), so
 * that the agent loop does not know whether the numbers come from a trace, a
 * synthetic generator, /proc, libvirt or cgroups: trace and static
 * (source.c, source_trace.c), Linux host (source_linux.c), cgroup v2
 * (source_cgroup.c), libvirt (source_libvirt.c), each below.
 *
 * Time: the agent calls source_advance() once per bid interval; a trace
 * source moves one trace step forward (wrapping around at the end, so a demo
 * can run as long as it likes).
 *
 * The set of VMs: n_vms() may grow after an advance (a VM started on the
 * host, or arrived by live migration), never shrink. An index keeps its VM
 * for the source's life: new VMs are appended after the ones there are. A
 * VM that disappears keeps its index and reads alive = 0, and is alive again
 * at the same index if it comes back under the same name. Names are unique
 * within a source. The trace and static sources have fixed sets (which
 * satisfy this); the libvirt and cgroup sources look for new VMs at every
 * advance. A consumer (the agent) looks at n_vms() after each advance.
 *
 * Ownership: source_*_open() returns a source the caller frees with
 * source_close(). Names returned by source_vm_config() belong to the source
 * and live until source_close().
 */
#ifndef BOURSE_SOURCE_H
#define BOURSE_SOURCE_H

#include <stddef.h>
#include <stdint.h>

/* A host's figures, as an Ask carries them (docs/protocol.md, "Who owns
 * each figure"): observations only. The pressures that the market prices
 * with (balloon and swap pressure) are the broker's: computed there from
 * the Asks and Bids of a whole host, not here. */
typedef struct source_host {
	int64_t capacity_mib;
	int64_t reserve_mib;
	int64_t free_mib;
	int64_t balloon_mib;     /* sum of balloon targets of its VMs */
	double host_swap_mibps;
} source_host;

typedef struct source_vm_config {
	const char *name; /* owned by the source */
	int64_t startup_mib, minimum_mib, maximum_mib;
	uint32_t buffer_pct, weight;
	int64_t reservation_mib, limit_mib;
	uint32_t shares;
} source_vm_config;

typedef struct source_vm_sample {
	int alive;        /* 0: the VM is not running now; no bid is sent */
	int64_t demand_mib;
	int64_t assigned_mib;
	double pressure;  /* demand / assigned * 100: wire_pressure() */
	double guest_swap_mibps;
	int64_t balloon_mib;
} source_vm_sample;

/* The settings of a VM that a source does not read from the VM itself: the
 * agent's configuration (`bourse agent --minimum-mib`, `--startup-mib`,
 * `--buffer`; docs/operations.md), given to each VM source in its options.
 * source_vm_defaults_init() sets the simulator's defaults
 * (docs/simulator.md), so that an agent replaying a trace registers its VMs
 * as `bourse sim` models them. */
struct source_vm_override;

typedef struct source_vm_defaults {
	int64_t minimum_mib; /* Hyper-V Minimum, capped at the maximum;
			      * SOURCE_MIN_AUTO: source_vm_auto_minimum() */
	int64_t startup_mib; /* Hyper-V Startup, capped at the maximum */
	uint32_t buffer_pct; /* Hyper-V Buffer, percent */
	uint32_t weight;     /* Hyper-V Weight */
	uint32_t shares;     /* ESX shares */
	/* Per-VM settings by name (bourse.conf's [vm "NAME"] sections,
	 * docs/configuration.md), applied by the trace and cgroup sources
	 * after their own rules: borrowed, must outlive every source given
	 * these defaults (copying the struct copies the pointer). NULL, 0:
	 * none. */
	const struct source_vm_override *overrides;
	size_t n_overrides;
} source_vm_defaults;

/* One VM's settings from the configuration: each field whose SOURCE_VM_SET_
 * bit is in `set` replaces what the source derived. exclude: the VM is not
 * bourse's (not listed by the source: no bid, no action; what it holds
 * still counts as used on its host). */
#define SOURCE_VM_SET_MINIMUM 0x01u
#define SOURCE_VM_SET_MAXIMUM 0x02u
#define SOURCE_VM_SET_BUFFER 0x04u
#define SOURCE_VM_SET_WEIGHT 0x08u
#define SOURCE_VM_SET_RESERVATION 0x10u
#define SOURCE_VM_SET_LIMIT 0x20u
#define SOURCE_VM_SET_SHARES 0x40u

typedef struct source_vm_override {
	const char *name; /* the VM's name as the source names it; borrowed */
	unsigned set;     /* SOURCE_VM_SET_* bits */
	int64_t minimum_mib, maximum_mib;
	uint32_t buffer_pct, weight;
	int64_t reservation_mib, limit_mib;
	uint32_t shares;
	int exclude;      /* 1: not bourse's */
} source_vm_override;

/* The override of d for the VM named name, or NULL. */
const source_vm_override *source_vm_override_find(const source_vm_defaults *d,
						  const char *name);

/* Apply d's override for out->name (if any) to *out, then keep the
 * settings consistent as a VmConfig must be (docs/protocol.md): Minimum
 * <= Maximum, Startup within them, reservation <= Maximum, and with a
 * limit, Minimum and reservation <= limit (a derived value that
 * contradicts a configured one gives way). */
void source_vm_override_apply(const source_vm_defaults *d,
			      source_vm_config *out);

/* 1 when d's override for name excludes the VM. */
int source_vm_excluded(const source_vm_defaults *d, const char *name);

/* Minimum 512 MiB, Startup 1024 MiB, Buffer 20 %, Weight 5000, shares
 * 1000. */
void source_vm_defaults_init(source_vm_defaults *d);

/* minimum_mib SOURCE_MIN_AUTO: each VM's Minimum is derived from its own
 * size (the agent's default for real VMs, `--source libvirt`: a fixed
 * 512 MiB kept a 512 MiB VM from ever shrinking and told a VM started at
 * 384 MiB to grow to 512 whatever its demand; issue 17, bug 5):
 * SOURCE_MIN_AUTO_PCT of its Startup (for libvirt, the memory the domain
 * had when the agent found it), at least SOURCE_MIN_FLOOR_MIB, and never
 * above its Startup nor its maximum: every VM may shrink to a quarter of
 * what it had, none is grown to a floor above what it had. (A fraction of
 * the maximum would pin a VM found at less than that fraction of it.) */
#define SOURCE_MIN_AUTO 0
#define SOURCE_MIN_AUTO_PCT 25
#define SOURCE_MIN_FLOOR_MIB 128
int64_t source_vm_auto_minimum(int64_t maximum_mib, int64_t startup_mib);

/* What a VmConfig may carry (docs/protocol.md): minimum 1..64 TiB (or
 * SOURCE_MIN_AUTO), startup
 * minimum..64 TiB, buffer 0..2000 %, weight 0..10000, shares 1..1000000.
 * Returns 0, or -1 with a message. */
int source_vm_defaults_check(const source_vm_defaults *d, char *err,
			     size_t errlen);

/* A VM's settings from its maximum memory, as the simulator derives them
 * from a trace's provisioned memory: Maximum = maximum_mib, Minimum and
 * Startup from d capped at it (an automatic Minimum from maximum_mib and
 * that Startup: source_vm_auto_minimum()), d's Buffer, Weight and shares, no
 * reservation, no limit. Sets every field of *out but name (NULL). A
 * source that reads a setting from the VM overwrites it afterwards. */
void source_vm_settings(const source_vm_defaults *d, int64_t maximum_mib,
			source_vm_config *out);

typedef struct source source;

struct source_ops {
	const char *kind; /* "trace", ... */
	int (*advance)(source *s, char *err, size_t errlen);
	int (*host)(source *s, source_host *out, char *err, size_t errlen);
	size_t (*n_vms)(source *s);
	int (*vm_config)(source *s, size_t i, source_vm_config *out);
	int (*vm_sample)(source *s, size_t i, source_vm_sample *out,
			 char *err, size_t errlen);
	void (*close)(source *s);
};

struct source {
	const struct source_ops *ops;
	void *state; /* the implementation's */
};

/* Convenience wrappers: return what the op returns (0 or -1 with err). */
int source_advance(source *s, char *err, size_t errlen);
int source_host_read(source *s, source_host *out, char *err, size_t errlen);
size_t source_n_vms(source *s);
int source_vm_config_get(source *s, size_t i, source_vm_config *out);
int source_vm_read(source *s, size_t i, source_vm_sample *out, char *err,
		   size_t errlen);
void source_close(source *s);

/* The trace source: one host of capacity_mib carrying the VMs
 * [first, first + count) of the trace at path (a Bitbrains directory or a
 * bourse CSV, as `bourse sim --trace`). Each VM is named
 * "<prefix><trace id>", its settings derived from what it is provisioned
 * (source_vm_settings()), then its override applied
 * (source_vm_override_apply()); a VM its override excludes is not listed,
 * but what it holds is not free memory. Each advance moves one step of
 * step_s trace seconds.
 *
 * Without a world, the VMs hold what the trace provisioned (nothing resizes
 * them), so the host's free memory is capacity minus their sum, and no
 * balloon holds anything back.
 *
 * With a world (world.h, docs/emulated.md: the emulated hypervisor), the
 * world says which VMs this host holds and what each is assigned: at open
 * the host is written into it and each VM of the slice that the world does
 * not have yet is created here at its Startup (or what the host has free,
 * if less); a VM of the slice that the world puts on another host is that
 * host's. Every advance reads the world again: a VM of the trace that the
 * world puts here (migrated in) is appended, one that left reads alive =
 * 0. A VM's demand is the trace's, its assigned memory the world's, its
 * pressure and guest swap follow from the shortfall (demand - assigned) as
 * the simulator models them; its balloon holds its provisioned size minus
 * what it is assigned. The host's free memory is capacity - reserve - the
 * sum the world assigns to its VMs. Each advance also tells the world each
 * VM's dirty rate (its demand's growth per trace second) for the emulated
 * actuator's migration time. */
typedef struct source_trace_opts {
	const char *path;
	size_t first, count;
	int64_t capacity_mib;
	int64_t reserve_mib;
	int64_t step_s;       /* trace seconds per advance (default 300) */
	const char *prefix;   /* VM name prefix, e.g. "vm-" */
	const source_vm_defaults *vm_defaults; /* NULL: the defaults (copied) */
	struct world *world;  /* NULL: none; else borrowed for the source's life */
	const char *host;     /* with a world: this host's name in it */
} source_trace_opts;

int source_trace_open(const source_trace_opts *o, source **out, char *err,
		      size_t errlen);

/* The static source: a host with no VMs, capacity_mib of which reserve_mib
 * is kept and the rest free, never changing (a seller without a trace). */
int source_static_open(int64_t capacity_mib, int64_t reserve_mib,
		       source **out, char *err, size_t errlen);

/* A source whose host figures come from host and whose VMs come from vms
 * (e.g. the Linux host source with the libvirt or cgroup VMs). Takes
 * ownership of both, also on failure; source_close() closes both. */
int source_pair_open(source *host, source *vms, source **out, char *err,
		     size_t errlen);

/* Notes a source makes about itself ("no /proc/pressure/memory: PSI not
 * used"), once each. NULL in the opts below: printed on stderr. */
typedef void (*source_note_fn)(void *ctx, const char *msg);

/* The Linux host source: the host's signals from /proc/meminfo (capacity =
 * MemTotal, free = MemAvailable - reserve_mib, never below 0 nor above
 * capacity - reserve_mib, as the trace and static sources count it),
 * /proc/vmstat (swap in/out rates from pswpin/pswpout between advances,
 * timed by /proc/uptime) and
 * /proc/pressure/memory (PSI: read and checked, when the kernel has it, but
 * source_host has no field for it). No VMs (n_vms() is 0): pair it with a
 * VM source. proc_root
 * is "/proc" unless a test points it at a fixture tree. A file that is
 * missing is noted once and the source goes on without it; an unreadable
 * /proc/meminfo, or a malformed line in any file (the error names file and
 * line), is an error. */
typedef struct source_linux_opts {
	const char *proc_root; /* NULL: "/proc" */
	int64_t reserve_mib;   /* kept for the hypervisor */
	source_note_fn note;
	void *note_ctx;
} source_linux_opts;

int source_linux_open(const source_linux_opts *o, source **out, char *err,
		      size_t errlen);

/* The cgroup v2 source: one VM per child cgroup of parent (e.g. the
 * machine.slice of QEMU processes, or a container parent), named by its
 * directory: demand from memory.current minus inactive file pages
 * (memory.stat), limits from memory.max / memory.high; pressure is demand /
 * assigned * 100 as for every source (memory.pressure is read and checked,
 * but the sample has no field for its PSI). Settings: source_vm_settings()
 * of the maximum (memory.max; memory.current when that is "max"), with
 * Minimum from memory.min / memory.low when set and Startup the assigned
 * memory (source_cgroup.c gives every rule), then its override
 * (source_vm_override_apply()). The VMs are the children found
 * at open, in name order, then the ones created later, appended as each
 * advance finds them (a child that cannot be used, or that its override
 * excludes, is noted once and left out, and one not
 * readable yet is tried again); a child that goes away stays with alive = 0.
 * Host figures come from another source (n_vms() only here:
 * host() reports capacity 0). cgroup_root is "/sys/fs/cgroup" unless a test
 * points it elsewhere. */
typedef struct source_cgroup_opts {
	const char *cgroup_root; /* NULL: "/sys/fs/cgroup" */
	const char *parent;      /* relative to cgroup_root */
	const source_vm_defaults *vm_defaults; /* NULL: the defaults (copied) */
	source_note_fn note;
	void *note_ctx;
} source_cgroup_opts;

int source_cgroup_open(const source_cgroup_opts *o, source **out, char *err,
		       size_t errlen);

/* The libvirt source: the running domains of a connection URI (e.g.
 * "qemu:///system"; tests use "test:///default"). Per domain: configured
 * (maximum) and current memory, and the balloon statistics (actual, unused,
 * available, usable, swap in/out, major faults, last update) with the
 * statistics period set to stats_period_s; demand = used (available -
 * usable, or actual - unused when usable is missing, else the current
 * memory, noted once) plus what the guest reads back per second (swap-ins,
 * major faults) times interval_s; swap rates between the guest's own
 * updates (agents/lvstat.h gives the rules).
 * Settings: source_vm_settings() of the domain's maximum memory, with
 * Startup the memory it had when found. The domains are those running at
 * open, in name order, then the ones started later (or migrated in),
 * appended as each advance finds them; a domain that stops or leaves reads
 * alive = 0 (domains skipped for their name or size are noted once each
 * kind). Host capacity from
 * virNodeGetInfo, free memory from virNodeGetMemoryStats (else
 * virNodeGetFreeMemory); libvirt has no host swap figure (0). These host
 * figures are for the source used alone: `bourse agent` pairs it with the
 * Linux source, whose /proc/meminfo is the one source of the host's
 * memory, and gives it no reserve (reserve_mib 0: not checked against
 * virNodeGetInfo, which can count one NUMA cell only). Silences
 * libvirt's own stderr printing for the whole process (virSetErrorFunc):
 * errors come back through err. */
#define SOURCE_LIBVIRT_INTERVAL_S 5 /* interval_s 0: the default round */

typedef struct source_libvirt_opts {
	const char *uri;
	int stats_period_s; /* 0: leave the domains' period alone */
	int interval_s;     /* the agent's bid interval: the horizon of the
			     * demand's refault term (0: 5 s) */
	int64_t reserve_mib;
	const source_vm_defaults *vm_defaults; /* NULL: the defaults (copied) */
	source_note_fn note;
	void *note_ctx;
} source_libvirt_opts;

int source_libvirt_open(const source_libvirt_opts *o, source **out,
			char *err, size_t errlen);

#endif
