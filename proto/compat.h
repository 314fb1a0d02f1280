/*
 * compat.h - TRANSITIONAL (issue 14): the protobuf-typed API of proto/
 * before wire.h's plain-C messages. Included at the end of wire.h while
 * callers move to wire_msg; removed with compat.c when none is left.
 */
#ifndef BOURSE_COMPAT_H
#define BOURSE_COMPAT_H

#include "bourse.pb-c.h"

wire_reason wire_decode(const void *buf, size_t len, Bourse__Envelope **out,
			uint32_t *peer_version, char *err, size_t errlen);
void wire_free(Bourse__Envelope *e);
wire_reason wire_validate(const Bourse__Envelope *e, char *err, size_t errlen);
uint8_t *wire_encode(const Bourse__Envelope *e, size_t *len);
void wire_envelope_init(Bourse__Envelope *e, Bourse__Role role,
			const char *sender, uint64_t seq);

#endif
