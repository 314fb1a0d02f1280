/*
 * wire.h - encoding, decoding and validation of bourse's wire protocol: the
 * whole public API of proto/ (besides the protoc-c generated bourse.pb-c.h).
 *
 * Every frame on the wire is one serialized Bourse__Envelope
 * (proto/bourse.proto). wire_decode() is the only way the broker and the
 * agents turn bytes into messages: it bounds the frame size before
 * protobuf-c sees it, unpacks, checks the protocol version, and validates
 * every field of the body against docs/protocol.md ("Validation"). What it
 * refuses comes back with a reason code, so that callers can count refusals
 * by reason and answer with the matching ErrorCode.
 *
 * No sockets here: callers hand frames in and get frames out.
 *
 * Ownership:
 *  - wire_decode() gives the caller an envelope to free with wire_free();
 *  - wire_encode() returns a malloc'd buffer the caller frees with free();
 *  - envelopes the caller builds (wire_envelope_init()) borrow every string and array
 *    the caller points them at; nothing is freed by wire_encode().
 */
#ifndef BOURSE_WIRE_H
#define BOURSE_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "bourse.pb-c.h"

/* The protocol version this build speaks. Peers must match exactly. */
#define WIRE_VERSION 1u

/* Largest frame accepted or produced, in bytes. Checked before unpacking;
 * the broker also sets ZMQ_MAXMSGSIZE to it. An Award for 1,000 VMs is about
 * 40 KiB; see docs/protocol.md. */
#define WIRE_MAX_FRAME (256u * 1024u)

/* Longest host or VM name, in bytes (names are also checked for being
 * printable ASCII without spaces). */
#define WIRE_MAX_NAME 128u

/* Largest quantity of memory accepted anywhere, MiB (64 TiB). */
#define WIRE_MAX_MIB (64LL * 1024 * 1024)

/* Largest rate accepted (MiB/s): faster than any memory bus. */
#define WIRE_MAX_MIBPS 1e6

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

/* The ErrorCode the broker answers a refusal with. */
Bourse__ErrorCode wire_reason_error_code(wire_reason r);

/*
 * Decode and validate one frame. On WIRE_OK, *out is a validated envelope
 * (free with wire_free()). Otherwise *out is NULL and err says what is wrong
 * in one line, naming the field ("bid.demand_mib: -5 is negative"). For
 * WIRE_VERSION_MISMATCH the sender's version is in *peer_version (may be
 * NULL), so that the broker can answer in kind.
 */
wire_reason wire_decode(const void *buf, size_t len, Bourse__Envelope **out,
			uint32_t *peer_version, char *err, size_t errlen);

/* Free an envelope from wire_decode(). NULL is fine. */
void wire_free(Bourse__Envelope *e);

/* Validate an envelope built in memory (the same checks wire_decode() runs
 * after unpacking). Returns WIRE_OK or the reason, with a message. */
wire_reason wire_validate(const Bourse__Envelope *e, char *err, size_t errlen);

/* Serialize. Returns a malloc'd buffer and its length in *len, or NULL if
 * the envelope would exceed WIRE_MAX_FRAME or memory ran out. */
uint8_t *wire_encode(const Bourse__Envelope *e, size_t *len);

/* Start an envelope: version, role, sender (borrowed) and seq set, no body. */
void wire_envelope_init(Bourse__Envelope *e, Bourse__Role role,
			const char *sender, uint64_t seq);

/* Is this a well-formed name (1..WIRE_MAX_NAME printable ASCII, no spaces)? */
int wire_name_ok(const char *name);

#endif
