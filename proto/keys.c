/*
 * keys.c - CURVE key pairs, key files and the allow-list (keys.h).
 */
#include "keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zmq.h>

#include "util.h"
#include "wire.h"
#include "banned.h"

/* Longest line read from a key file or allow-list. */
#define KEYS_LINE_MAX 512

int keys_z85_ok(const char *s)
{
	uint8_t bin[KEYS_BIN_LEN];

	if (s == NULL || strlen(s) != KEYS_Z85_LEN)
		return 0;
	return zmq_z85_decode(bin, s) != NULL;
}

int keys_generate(keys_pair *kp, char *err, size_t errlen)
{
	if (zmq_curve_keypair(kp->pub, kp->sec) != 0) {
		snprintf(err, errlen, "cannot make a key pair: %s (libzmq "
			 "without CURVE?)", zmq_strerror(zmq_errno()));
		return -1;
	}
	return 0;
}

/* Creates path (never over an existing file) with mode and text. */
static int write_new(const char *path, int mode, const char *text, char *err,
		     size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
	size_t len = strlen(text);

	if (fd < 0) {
		snprintf(err, errlen, "%s: %s%s", path, strerror(errno),
			 errno == EEXIST ? " (not overwritten)" : "");
		return -1;
	}
	if (write(fd, text, len) != (ssize_t)len || fsync(fd) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	return close(fd);
}

int keys_write(const char *dir, const char *name, const keys_pair *kp,
	       char *err, size_t errlen)
{
	char path[4096], text[512];

	if (!wire_name_ok(name)) {
		snprintf(err, errlen, "'%s' is not a valid name (1..128 "
			 "printable characters, no spaces)", name);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s.key", dir, name);
	snprintf(text, sizeof(text), "# bourse CURVE key pair of %s: keep this "
		 "file secret\npublic-key = %s\nsecret-key = %s\n", name,
		 kp->pub, kp->sec);
	if (write_new(path, 0600, text, err, errlen))
		return -1;
	snprintf(path, sizeof(path), "%s/%s.pub", dir, name);
	snprintf(text, sizeof(text), "# bourse CURVE public key of %s\n"
		 "public-key = %s\n", name, kp->pub);
	return write_new(path, 0644, text, err, errlen);
}

/* If line is "<field> = <key>" (spaces around '=' optional), copies the
 * key to out and returns 1; 0 if the line is another field; -1 if it is
 * this field with a bad key. */
static int key_line(const char *line, const char *field,
		    char out[KEYS_Z85_LEN + 1])
{
	size_t flen = strlen(field);
	const char *p = line;

	if (strncmp(p, field, flen) != 0)
		return 0;
	p += flen;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p++ != '=')
		return 0;
	while (*p == ' ' || *p == '\t')
		p++;
	size_t n = strcspn(p, " \t\r\n");

	if (n != KEYS_Z85_LEN || p[n + strspn(p + n, " \t\r\n")] != '\0')
		return -1;
	memcpy(out, p, KEYS_Z85_LEN);
	out[KEYS_Z85_LEN] = '\0';
	return keys_z85_ok(out) ? 1 : -1;
}

/* A secret file must be the owner's alone, as ssh asks of its keys: a key
 * another local user can read lets them speak for the host (or for the
 * broker). Checked on the open file. 0, or -1 with err saying the fix. */
static int private_file(FILE *f, const char *path, char *err, size_t errlen)
{
	struct stat sb;

	if (fstat(fileno(f), &sb) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (sb.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, errlen, "%s: a secret key file readable or "
			 "writable by others than its owner (mode %04o) is "
			 "refused: 'chmod 600 %s' (bourse keygen writes it so)",
			 path, (unsigned)(sb.st_mode & 07777), path);
		return -1;
	}
	return 0;
}

/* Reads public-key and (if sec) secret-key from path; with secret, a
 * secret key only from a file no one but its owner may read
 * (private_file()). */
static int read_keys(const char *path, char *pub, char *sec, int secret,
		     char *err, size_t errlen)
{
	char line[KEYS_LINE_MAX];
	FILE *f = fopen(path, "r");
	int lineno = 0, rc = -1;

	pub[0] = '\0';
	if (sec)
		sec[0] = '\0';
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		int a, b = 0;

		lineno++;
		if (line[0] == '#' || line[strspn(line, " \t\r\n")] == '\0')
			continue;
		a = key_line(line, "public-key", pub);
		if (a == 0 && sec)
			b = key_line(line, "secret-key", sec);
		if (a < 0 || b < 0) {
			snprintf(err, errlen, "%s:%d: not a %d-character Z85 "
				 "key", path, lineno, KEYS_Z85_LEN);
			goto out;
		}
	}
	if (!pub[0] && !(sec && sec[0])) {
		snprintf(err, errlen, "%s: no key in it (expected "
			 "'public-key = ...'; see bourse keygen)", path);
		goto out;
	}
	if (secret && sec[0] && private_file(f, path, err, errlen))
		goto out;
	rc = 0;
out:
	fclose(f);
	return rc;
}

int keys_read_pair(const char *path, keys_pair *kp, char *err, size_t errlen)
{
	char derived[KEYS_Z85_LEN + 1];

	if (read_keys(path, kp->pub, kp->sec, 1, err, errlen))
		return -1;
	if (!kp->sec[0]) {
		snprintf(err, errlen, "%s: no secret-key (a .pub file? the "
			 "secret one is NAME.key)", path);
		return -1;
	}
	if (zmq_curve_public(derived, kp->sec) != 0) {
		snprintf(err, errlen, "%s: the secret key is not usable", path);
		return -1;
	}
	if (kp->pub[0] && strcmp(derived, kp->pub) != 0) {
		snprintf(err, errlen, "%s: public-key and secret-key are not "
			 "a pair", path);
		return -1;
	}
	memcpy(kp->pub, derived, sizeof(derived));
	return 0;
}

int keys_read_public(const char *path, char pub[KEYS_Z85_LEN + 1], char *err,
		     size_t errlen)
{
	keys_pair kp;

	if (read_keys(path, kp.pub, kp.sec, 0, err, errlen))
		return -1;
	if (kp.pub[0]) {
		memcpy(pub, kp.pub, sizeof(kp.pub));
		return 0;
	}
	return zmq_curve_public(pub, kp.sec) == 0 ? 0 : -1;
}

static int cmp_allowed(const void *a, const void *b)
{
	return memcmp(((const keys_allowed *)a)->key,
		      ((const keys_allowed *)b)->key, KEYS_BIN_LEN);
}

/* A pinned URI: printable ASCII without spaces (the line is split at
 * spaces), at most WIRE_MAX_URI bytes; empty allowed (uri=). */
static int pin_uri_ok(const char *v)
{
	size_t n = strlen(v);

	if (n > WIRE_MAX_URI)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x21 || (unsigned char)v[i] > 0x7e)
			return 0;
	return 1;
}

/* A pinned capacity: decimal MiB, 1..WIRE_MAX_MIB. */
static int pin_mib(const char *v, int64_t *out)
{
	char *end = NULL;
	long long n;

	if (v[0] < '0' || v[0] > '9')
		return -1;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno || *end || n < 1 || n > WIRE_MAX_MIB)
		return -1;
	*out = n;
	return 0;
}

/* One pin "uri=..." or "max_mib=N" of a line into e. */
static int allow_pin(const char *tok, keys_allowed *e, char *why,
		     size_t whylen)
{
	if (!strncmp(tok, "uri=", 4) && !e->has_uri) {
		if (!pin_uri_ok(tok + 4)) {
			snprintf(why, whylen, "uri= must be at most %u "
				 "printable characters without spaces",
				 WIRE_MAX_URI);
			return -1;
		}
		e->has_uri = 1;
		memcpy(e->uri, tok + 4, strlen(tok + 4) + 1);
		return 0;
	}
	if (!strncmp(tok, "max_mib=", 8) && !e->max_mib) {
		if (pin_mib(tok + 8, &e->max_mib) == 0)
			return 0;
		snprintf(why, whylen, "max_mib= must be a number of MiB, "
			 "1..%lld", (long long)WIRE_MAX_MIB);
		return -1;
	}
	snprintf(why, whylen, "'%.40s': expected uri=URI or max_mib=N after "
		 "the key (each once)", tok);
	return -1;
}

/* One allow-list line "NAME KEY [uri=URI] [max_mib=N]" into e; 0, or -1
 * with a message. */
static int allow_line(const char *line, keys_allowed *e, char *why,
		      size_t whylen)
{
	char name[KEYS_LINE_MAX], key[KEYS_LINE_MAX], p1[KEYS_LINE_MAX],
		p2[KEYS_LINE_MAX], extra[2];
	int n = sscanf(line, "%511s %511s %511s %511s %1s", name, key, p1, p2,
		       extra);

	memset(e, 0, sizeof(*e));
	if (n < 2 || n > 4) {
		snprintf(why, whylen, "expected 'HOST KEY [uri=URI] "
			 "[max_mib=N]'");
		return -1;
	}
	if (!wire_name_ok(name) || strlen(name) >= sizeof(e->name)) {
		snprintf(why, whylen, "'%.64s' is not a valid host name", name);
		return -1;
	}
	if (!keys_z85_ok(key)) {
		snprintf(why, whylen, "not a %d-character Z85 key",
			 KEYS_Z85_LEN);
		return -1;
	}
	if ((n >= 3 && allow_pin(p1, e, why, whylen)) ||
	    (n == 4 && allow_pin(p2, e, why, whylen)))
		return -1;
	zmq_z85_decode(e->key, key);
	memcpy(e->name, name, strlen(name) + 1);
	return 0;
}

static int allow_add(keys_allow *a, size_t *cap, const keys_allowed *e)
{
	if (UTIL_GROW(a->e, a->n + 1, *cap))
		return -1;
	a->e[a->n++] = *e;
	return 0;
}

/* Lines of one host may not pin different values. */
static int pins_agree(const keys_allowed *x, const keys_allowed *y)
{
	if (strcmp(x->name, y->name))
		return 1;
	if (x->has_uri && y->has_uri && strcmp(x->uri, y->uri))
		return 0;
	return !(x->max_mib && y->max_mib && x->max_mib != y->max_mib);
}

/* Sorted by key, no key twice, the pins of a host consistent. */
static int allow_finish(keys_allow *a, const char *path, char *err,
			size_t errlen)
{
	for (size_t i = 0; i < a->n; i++)
		for (size_t j = i + 1; j < a->n; j++)
			if (!pins_agree(&a->e[i], &a->e[j])) {
				snprintf(err, errlen, "%s: host %s is pinned "
					 "to two different values (uri= or "
					 "max_mib= on two of its lines)", path,
					 a->e[i].name);
				return -1;
			}
	qsort(a->e, a->n, sizeof(*a->e), cmp_allowed);
	for (size_t i = 1; i < a->n; i++)
		if (!cmp_allowed(&a->e[i - 1], &a->e[i])) {
			snprintf(err, errlen, "%s: one key is listed for %s and "
				 "%s (a key speaks for one host)", path,
				 a->e[i - 1].name, a->e[i].name);
			return -1;
		}
	return 0;
}

int keys_allow_read(const char *path, keys_allow *out, char *err,
		    size_t errlen)
{
	char line[KEYS_LINE_MAX], why[128];
	FILE *f = fopen(path, "r");
	size_t cap = 0;
	int lineno = 0;

	memset(out, 0, sizeof(*out));
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		keys_allowed e;

		lineno++;
		if (line[0] == '#' || line[strspn(line, " \t\r\n")] == '\0')
			continue;
		if (allow_line(line, &e, why, sizeof(why))) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
			goto fail;
		}
		if (allow_add(out, &cap, &e)) {
			snprintf(err, errlen, "%s: out of memory", path);
			goto fail;
		}
	}
	fclose(f);
	f = NULL;
	if (allow_finish(out, path, err, errlen))
		goto fail;
	return 0;
fail:
	if (f)
		fclose(f);
	keys_allow_release(out);
	return -1;
}

const char *keys_allow_find(const keys_allow *a,
			    const uint8_t key[KEYS_BIN_LEN])
{
	keys_allowed k;
	const keys_allowed *hit;

	if (a->n == 0)
		return NULL;
	memcpy(k.key, key, KEYS_BIN_LEN);
	hit = bsearch(&k, a->e, a->n, sizeof(*a->e), cmp_allowed);
	return hit ? hit->name : NULL;
}

int keys_allow_pins(const keys_allow *a, const char *host, const char **uri,
		    int64_t *max_mib)
{
	int found = 0;

	*uri = NULL;
	*max_mib = 0;
	for (size_t i = 0; i < a->n; i++) {
		const keys_allowed *e = &a->e[i];

		if (strcmp(e->name, host))
			continue;
		found = 1;
		if (e->has_uri)
			*uri = e->uri;
		if (e->max_mib)
			*max_mib = e->max_mib;
	}
	return found;
}

void keys_allow_release(keys_allow *a)
{
	free(a->e);
	memset(a, 0, sizeof(*a));
}
