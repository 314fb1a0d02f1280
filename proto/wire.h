/*
 * wire.h - bourse's wire protocol as plain C: the messages, their
 * validation, and their encoding. The whole public API of proto/.
 *
 * Every frame on the wire is one serialized Envelope of proto/bourse.proto.
 * Nothing outside proto/ sees a protobuf type: the broker and the agents
 * build and read the plain structs below (wire_msg and its bodies), and
 * proto/ converts them to and from protobuf (proto/codec.c, the only file
 * that names a generated type; CMake gives only the proto target the
 * generated include directory).
 *
 * wire_msg_decode() is the only way the broker and the agents turn bytes
 * into messages: it bounds the frame size before protobuf-c sees it,
 * unpacks, checks the protocol version, and validates every field of the
 * body against docs/protocol.md ("Validation"). What it refuses comes back
 * with a reason code, so that callers can count refusals by reason and
 * answer with the matching wire_error_code.
 *
 * No sockets here: callers hand frames in and get frames out.
 *
 * Ownership:
 *  - a message the caller builds (wire_msg_init()) borrows every string and
 *    array the caller points it at; wire_msg_encode() and
 *    wire_msg_validate() only read it. A NULL string reads as empty.
 *  - a message from wire_msg_decode() or wire_msg_unpack() owns what its
 *    strings and its award's VM array point at until wire_msg_release():
 *    copy what must outlive it, and change nothing in it (release reads
 *    the body kind to know what to free). Its strings are never NULL (""
 *    when absent); award.vms is NULL when n_vms is 0.
 *  - wire_msg_encode() returns a malloc'd buffer the caller frees with
 *    free().
 */
#ifndef BOURSE_WIRE_H
#define BOURSE_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* The protocol version this build speaks. Peers must match exactly. */
#define WIRE_VERSION 1u

/* Largest frame accepted or produced, in bytes. Checked before unpacking;
 * the broker also sets ZMQ_MAXMSGSIZE to it. An Award for 1,000 VMs is about
 * 40 KiB; see docs/protocol.md. */
#define WIRE_MAX_FRAME (256u * 1024u)

/* Longest host or VM name, in bytes (names are also checked for being
 * printable ASCII without spaces). A buffer for one: WIRE_MAX_NAME + 1. */
#define WIRE_MAX_NAME 128u

/* Longest hypervisor URI (HostConfig.uri, ActionRequest.to_uri), bytes. */
#define WIRE_MAX_URI 255u

/* Longest action id, bytes. */
#define WIRE_MAX_ID 64u

/* Longest free text (Deregister.reason, ActionResult.detail,
 * Error.message), bytes. */
#define WIRE_MAX_TEXT 1024u

/* The ranges of a VM's configuration (VmConfig): Hyper-V's Buffer (%) and
 * Weight, ESX's shares (at least 1). */
#define WIRE_MAX_BUFFER_PCT 2000u
#define WIRE_MAX_WEIGHT 10000u
#define WIRE_MAX_SHARES 1000000u

/* Largest quantity of memory accepted anywhere, MiB (64 TiB). */
#define WIRE_MAX_MIB (64LL * 1024 * 1024)

/* Largest rate accepted (MiB/s): faster than any memory bus. */
#define WIRE_MAX_MIBPS 1e6

/* Where the broker listens and the agents connect unless told otherwise. */
#define WIRE_DEFAULT_ENDPOINT "tcp://127.0.0.1:7411"

/* ------------------------------------------------------------------ */
/* the messages                                                       */
/* ------------------------------------------------------------------ */

/* What the sender is (Envelope.role). */
typedef enum wire_role {
	WIRE_ROLE_NONE = 0,
	WIRE_ROLE_HOST = 1,   /* a seller: one physical host */
	WIRE_ROLE_VM = 2,     /* a buyer: one virtual machine */
	WIRE_ROLE_BROKER = 3, /* the broker (messages it sends) */
} wire_role;

/* Which body an envelope carries (the oneof's field numbers). */
typedef enum wire_body {
	WIRE_BODY_NONE = 0,
	WIRE_BODY_REGISTER = 10,
	WIRE_BODY_DEREGISTER = 11,
	WIRE_BODY_HEARTBEAT = 12,
	WIRE_BODY_BID = 13,
	WIRE_BODY_ASK = 14,
	WIRE_BODY_AWARD = 15,
	WIRE_BODY_ACTION_REQUEST = 16,
	WIRE_BODY_ACTION_RESULT = 17,
	WIRE_BODY_ERROR = 18,
	WIRE_BODY_WELCOME = 19,
} wire_body;

typedef enum wire_action_kind {
	WIRE_ACTION_NONE = 0,
	WIRE_ACTION_RESIZE = 1,
	WIRE_ACTION_MIGRATE = 2,
} wire_action_kind;

typedef enum wire_action_status {
	WIRE_STATUS_NONE = 0,
	WIRE_STATUS_OK = 1,
	WIRE_STATUS_FAILED = 2,
	WIRE_STATUS_TIMEOUT = 3,
	WIRE_STATUS_UNSUPPORTED = 4,
} wire_action_status;

/* Why the broker refused a message (Error.code). */
typedef enum wire_error_code {
	WIRE_ERR_NONE = 0,
	WIRE_ERR_VERSION = 1,        /* incompatible protocol version */
	WIRE_ERR_MALFORMED = 2,      /* could not be decoded */
	WIRE_ERR_INVALID = 3,        /* decoded, but a field is out of range */
	WIRE_ERR_UNKNOWN_SENDER = 4, /* not registered (register first) */
	WIRE_ERR_WRONG_HOST = 5,     /* a VM through another host's connection */
	WIRE_ERR_SEQUENCE = 6,       /* duplicated or old sequence number */
	WIRE_ERR_CONFLICT = 7,       /* the name is held by another connection */
} wire_error_code;

/* A host's configuration (Register from a seller). */
typedef struct wire_host_config {
	int64_t capacity_mib; /* physical memory */
	int64_t reserve_mib;  /* kept for the hypervisor, never sold */
	const char *uri;      /* how peers reach its hypervisor (libvirt URI) */
} wire_host_config;

/* A VM's configuration (Register from a buyer). */
typedef struct wire_vm_config {
	const char *host;        /* the host the VM runs on now */
	int64_t startup_mib;     /* Hyper-V Startup */
	int64_t minimum_mib;     /* Hyper-V Minimum */
	int64_t maximum_mib;     /* Hyper-V Maximum */
	uint32_t buffer_pct;     /* Hyper-V Buffer, percent */
	uint32_t weight;         /* Hyper-V Weight, 0..10000 */
	int64_t reservation_mib; /* ESX reservation, 0 = none */
	int64_t limit_mib;       /* ESX limit, 0 = unlimited */
	uint32_t shares;         /* ESX shares */
} wire_vm_config;

/* First message of every identity: exactly one of host and vm, the one
 * that matches the sender's role. */
typedef struct wire_register {
	int has_host;
	wire_host_config host;
	int has_vm;
	wire_vm_config vm;
} wire_register;

/* The broker's answer to Register. */
typedef struct wire_welcome {
	uint32_t heartbeat_ms; /* send something at least this often */
	uint32_t liveness;     /* missed intervals before the host is lost */
	uint32_t round_ms;     /* market round period */
	uint64_t round;        /* the broker's current round */
	const char *name;      /* the identity welcomed */
} wire_welcome;

typedef struct wire_deregister {
	const char *reason;
} wire_deregister;

/* Liveness, from a host (for its VMs too) or the broker's answer. */
typedef struct wire_heartbeat {
	uint64_t uptime_ms;
} wire_heartbeat;

/* A buyer's sample and bid: what the VM needs and suffers now. */
typedef struct wire_bid {
	int64_t demand_mib;       /* committed/active memory the guest needs */
	int64_t assigned_mib;     /* memory it holds now */
	double pressure;          /* demand / assigned * 100, as the guest
	                           * sees it */
	double guest_swap_mibps;  /* guest paging rate */
	int64_t balloon_mib;      /* memory its balloon holds back */
} wire_bid;

/* A seller's ask: the state of the host (docs/protocol.md says who owns
 * which figure: the broker prices from these, it is not told a price). */
typedef struct wire_ask {
	int64_t capacity_mib;
	int64_t free_mib;
	int64_t balloon_mib;      /* sum of balloon targets on the host */
	double host_swap_mibps;   /* hypervisor swapping rate */
} wire_ask;

/* What one buyer got in a round. */
typedef struct wire_vm_award {
	const char *vm;
	int64_t target_mib; /* memory the market awards the VM */
	int64_t want_mib;   /* what it bid for (demand + buffer, clamped) */
	double price;       /* price per MiB at its host */
	double pressure;    /* demand / target * 100 */
} wire_vm_award;

/* The broker's answer after each round, one per host connection. */
typedef struct wire_award {
	uint64_t round;
	const char *host;
	double price;
	double utilization;
	int64_t awarded_mib;
	const wire_vm_award *vms; /* n_vms of them */
	size_t n_vms;
} wire_award;

/* The broker asks an agent to carry out an action. Idempotent by id. */
typedef struct wire_action_request {
	const char *id;        /* unique; a repeated id must not act twice */
	wire_action_kind kind;
	const char *vm;
	int64_t target_mib;    /* resize: new assigned memory; migrate: after */
	const char *to_host;   /* migrate only */
	const char *to_uri;    /* migrate only: the target's hypervisor URI */
	uint32_t timeout_ms;
} wire_action_request;

typedef struct wire_action_result {
	const char *id;
	wire_action_status status;
	const char *detail;
} wire_action_result;

/* The broker's refusal of one message. */
typedef struct wire_error {
	wire_error_code code;
	const char *message;        /* for a human */
	uint64_t ref_seq;           /* seq of the refused message */
	uint32_t supported_version;
	const char *ref_sender;     /* sender of the refused message; empty
	                             * when the frame did not decode */
} wire_error;

/* One message: the envelope and its body (the member that body names). */
typedef struct wire_msg {
	uint32_t version;   /* protocol version of the sender */
	wire_role role;     /* what the sender is */
	const char *sender; /* host or VM name; unique in the cluster */
	uint64_t seq;       /* per sender, strictly increasing from 1 */
	wire_body body;
	union {
		wire_register reg;
		wire_deregister deregister;
		wire_heartbeat heartbeat;
		wire_bid bid;
		wire_ask ask;
		wire_award award;
		wire_action_request action_request;
		wire_action_result action_result;
		wire_error error;
		wire_welcome welcome;
	};
	void *owned_; /* proto/ only: what a decoded message's pointers
	               * point into; NULL for a message built by a caller */
} wire_msg;

/* Start a message: version, role, sender (borrowed), seq and body kind
 * set, every body field zero. */
void wire_msg_init(wire_msg *m, wire_role role, const char *sender,
		   uint64_t seq, wire_body body);

/* ------------------------------------------------------------------ */
/* decoding, validation, encoding                                     */
/* ------------------------------------------------------------------ */

/* Why a frame was refused. WIRE_OK is 0; the others index counters. */
typedef enum wire_reason {
	WIRE_OK = 0,
	WIRE_TOO_BIG,   /* longer than WIRE_MAX_FRAME */
	WIRE_EMPTY,     /* zero bytes */
	WIRE_MALFORMED, /* protobuf-c could not unpack it, or it holds a
	                 * field number 0 (which protobuf-c 1.4.1 takes when
	                 * written as an overlong varint) */
	WIRE_VERSION_MISMATCH, /* envelope.version != WIRE_VERSION */
	WIRE_NO_BODY,   /* no oneof body set */
	WIRE_BAD_SENDER, /* empty, too long or unprintable name, or no role */
	WIRE_BAD_ROLE,  /* body not allowed for the sender's role */
	WIRE_BAD_FIELD, /* a field out of range (NaN, negative, min > max ...) */
	WIRE_N_REASONS
} wire_reason;

/* Short stable name of a reason ("too_big", "malformed", ...), for logs and
 * counters. */
const char *wire_reason_name(wire_reason r);

/* The error code the broker answers a refusal with. */
wire_error_code wire_reason_error_code(wire_reason r);

/* Stable name of an error code ("ERROR_WRONG_HOST", as in bourse.proto),
 * or "?" for one this build does not know. */
const char *wire_error_code_name(wire_error_code code);

/*
 * Decode and validate one frame. On WIRE_OK, *out is a validated message
 * that owns its strings: release it with wire_msg_release(). Otherwise *out
 * holds nothing (releasing it is harmless) and err says what is wrong in
 * one line, naming the field ("bid.demand_mib: -5 is negative"). For
 * WIRE_VERSION_MISMATCH the sender's version is in *peer_version (may be
 * NULL), so that the broker can answer in kind.
 */
wire_reason wire_msg_decode(const void *buf, size_t len, wire_msg *out,
			    uint32_t *peer_version, char *err, size_t errlen);

/* Only unpack: the size bound, protobuf, and field number 0 (WIRE_OK,
 * WIRE_EMPTY, WIRE_TOO_BIG or WIRE_MALFORMED), without the version and
 * field checks of wire_msg_decode(). For tests and fuzzers that judge the
 * fields themselves. On WIRE_OK release *out with wire_msg_release(). */
wire_reason wire_msg_unpack(const void *buf, size_t len, wire_msg *out,
			    char *err, size_t errlen);

/* Free what a decoded message owns and zero it. A message built by the
 * caller, or an already released one, is only zeroed. NULL is fine. */
void wire_msg_release(wire_msg *m);

/* Validate a message (the checks wire_msg_decode() runs after unpacking,
 * version excepted). Returns WIRE_OK or the reason, with a message. */
wire_reason wire_msg_validate(const wire_msg *m, char *err, size_t errlen);

/* Serialize, without validating (tests send invalid messages on purpose;
 * WIRE_BODY_NONE encodes an envelope without a body). Returns a malloc'd
 * buffer and its length in *len, or NULL if the message would exceed
 * WIRE_MAX_FRAME, its body kind is unknown, an award has n_vms > 0 but no
 * vms array, or memory ran out. */
uint8_t *wire_msg_encode(const wire_msg *m, size_t *len);

/* Is this a well-formed name (1..WIRE_MAX_NAME printable ASCII, no spaces)? */
int wire_name_ok(const char *name);

/* What a guest reports as pressure when it holds nothing (Bid.pressure's
 * cap as agents compute it; the market uses the same figure). */
#define WIRE_PRESSURE_CAP 10000.0

/* demand / assigned * 100: the pressure a guest reports (Hyper-V's
 * definition), 0 without demand, at most WIRE_PRESSURE_CAP. */
static inline double wire_pressure(int64_t demand_mib, int64_t assigned_mib)
{
	double pr;

	if (demand_mib <= 0)
		return 0.0;
	if (assigned_mib <= 0)
		return WIRE_PRESSURE_CAP;
	pr = (double)demand_mib / (double)assigned_mib * 100.0;
	return pr < WIRE_PRESSURE_CAP ? pr : WIRE_PRESSURE_CAP;
}

#endif
