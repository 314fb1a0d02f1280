/*
 * wire_int.h - what proto/'s files share. Not an API: only the .c files
 * of proto/ include it; wire.h is the module's interface.
 *
 *  wire.c   validation and the decoding flow, on plain C messages
 *  codec.c  protobuf-c <-> wire_msg: the only file that names a type
 *           generated from bourse.proto
 *  keys.c   CURVE keys and the allow-list
 *
 * Calls go one way: wire.c -> codec.c.
 */
#ifndef BOURSE_WIRE_INT_H
#define BOURSE_WIRE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

/* How wire__unpack() went. */
enum wire__unpacked {
	WIRE__UNPACKED = 0,  /* *out filled; it owns what it points at */
	WIRE__UNREADABLE,    /* protobuf-c could not unpack the bytes */
	WIRE__FIELD_ZERO,    /* a field numbered 0 (see codec.c) */
	WIRE__NUL_IN_STRING, /* a string with a NUL byte inside (codec.c) */
	WIRE__NO_MEMORY,
};

/* Unpack len (1..WIRE_MAX_FRAME) bytes into *out (zeroed first), with no
 * check beyond protobuf's. On WIRE__UNPACKED out->owned_ holds what its
 * strings point into, for wire__free_owned(). */
enum wire__unpacked wire__unpack(const void *buf, size_t len, wire_msg *out);

/* Free what an unpacked message owns (out->owned_ and, for an award, its
 * VM array). Leaves *m's fields dangling: wire_msg_release() zeroes it. */
void wire__free_owned(wire_msg *m);

/* Pack m: a malloc'd buffer and its length, or NULL (too big, unknown
 * body, no memory). */
uint8_t *wire__pack(const wire_msg *m, size_t *len);

#endif
