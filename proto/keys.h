/*
 * keys.h - ZeroMQ CURVE keys for bourse: key pairs (`bourse keygen`), the
 * files that hold them, and the broker's allow-list, which binds each agent
 * public key to the one host it may speak for.
 *
 * Files (text, one item per line, '#' starts a comment line):
 *  NAME.key   the secret file (mode 0600):  public-key = <40 Z85 chars>
 *                                           secret-key = <40 Z85 chars>
 *  NAME.pub   the public file:              public-key = <40 Z85 chars>
 *  allow-list                               <host name> <40 Z85 chars>
 *                                           [uri=<URI>] [max_mib=<N>]
 * Z85 is ZeroMQ's text form of a 32-byte key (it contains '#' and '=', so
 * only a '#' that begins a line starts a comment).
 *
 * Ownership: keys_allow_read() fills a keys_allow the caller releases with
 * keys_allow_release(); everything else works on caller-owned buffers.
 * Errors: -1 with one line in err naming the file and line.
 */
#ifndef BOURSE_KEYS_H
#define BOURSE_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

#define KEYS_Z85_LEN 40 /* characters of a key in Z85 */
#define KEYS_BIN_LEN 32 /* bytes of a key */

typedef struct keys_pair {
	char pub[KEYS_Z85_LEN + 1];
	char sec[KEYS_Z85_LEN + 1];
} keys_pair;

/* 1 if s is exactly 40 Z85 characters that decode to a key. */
int keys_z85_ok(const char *s);

/* A new key pair (libzmq's zmq_curve_keypair). */
int keys_generate(keys_pair *kp, char *err, size_t errlen);

/* Writes DIR/NAME.key (0600) and DIR/NAME.pub; refuses to overwrite
 * either. NAME must be a valid bourse name (wire_name_ok). */
int keys_write(const char *dir, const char *name, const keys_pair *kp,
	       char *err, size_t errlen);

/* Reads a secret file: both keys, checked to belong together. The file
 * must be its owner's alone (no group or other permission bit, as
 * `bourse keygen` writes it): else refused, err giving the chmod. */
int keys_read_pair(const char *path, keys_pair *kp, char *err, size_t errlen);

/* Reads a public key from a .pub or .key file. */
int keys_read_public(const char *path, char pub[KEYS_Z85_LEN + 1], char *err,
		     size_t errlen);

typedef struct keys_allowed {
	uint8_t key[KEYS_BIN_LEN];
	char name[WIRE_MAX_NAME + 1]; /* the host this key speaks for */
	/* Pins (optional): what the host must register with. A pin given on
	 * one line of a host holds for the host (every key of it); two lines
	 * of one host that pin different values are refused. */
	int has_uri;                  /* uri= given (may be empty: uri=) */
	char uri[WIRE_MAX_URI + 1];   /* its migration URI, exactly */
	int64_t max_mib;              /* max_mib=: the most capacity it may
	                               * register, MiB; 0: not pinned */
} keys_allowed;

typedef struct keys_allow {
	keys_allowed *e; /* sorted by key */
	size_t n;
} keys_allow;

/* Reads an allow-list: names valid, keys valid, no key listed twice (a key
 * speaks for one host; a host may have several keys); after the key,
 * optional pins "uri=URI" (no control byte, no space, at most
 * WIRE_MAX_URI bytes) and "max_mib=N" (1..WIRE_MAX_MIB), each at most
 * once a line, consistent across the host's lines. A line "HOST KEY"
 * reads as before (nothing pinned). */
int keys_allow_read(const char *path, keys_allow *out, char *err,
		    size_t errlen);

/* The host a key may speak for, or NULL if the key is not allowed. */
const char *keys_allow_find(const keys_allow *a,
			    const uint8_t key[KEYS_BIN_LEN]);

/* The pins of host (merged over its lines): *uri NULL when no URI is
 * pinned, *max_mib 0 when no capacity is. Returns 1 if host is in the
 * list, else 0 (nothing pinned). */
int keys_allow_pins(const keys_allow *a, const char *host, const char **uri,
		    int64_t *max_mib);

void keys_allow_release(keys_allow *a);

#endif
