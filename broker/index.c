/*
 * index.c - an open-addressing hash index from byte strings to slot numbers.
 *
 * The index stores only slot numbers; the keys live in the registry's slots
 * and are reached through key_of(), so a name is stored once. Linear
 * probing, FNV-1a, load kept at most 1/2, backward-shift deletion (no
 * tombstones).
 */
#include <stdlib.h>
#include <string.h>

#include "broker_int.h"
#include "banned.h"

static uint64_t hash(const void *key, size_t len)
{
	const uint8_t *p = key;
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 1099511628211ull;
	}
	return h;
}

static int key_eq(const void *key, size_t len, uint32_t value,
		  bindex_key_fn key_of, void *ctx)
{
	size_t klen;
	const void *k = key_of(ctx, value, &klen);

	return klen == len && !memcmp(k, key, len);
}

/* Slot where key is, or the empty slot where it would go. */
static size_t probe(const bindex *ix, const void *key, size_t len,
		    bindex_key_fn key_of, void *ctx)
{
	size_t mask = ix->cap - 1;
	size_t i = (size_t)hash(key, len) & mask;

	while (ix->slots[i] &&
	       !key_eq(key, len, ix->slots[i] - 1, key_of, ctx))
		i = (i + 1) & mask;
	return i;
}

int broker__index_find(const bindex *ix, const void *key, size_t len,
		       bindex_key_fn key_of, void *ctx, uint32_t *value)
{
	if (!ix->cap)
		return 0;
	size_t i = probe(ix, key, len, key_of, ctx);

	if (!ix->slots[i])
		return 0;
	*value = ix->slots[i] - 1;
	return 1;
}

static void place(bindex *ix, uint32_t value, bindex_key_fn key_of, void *ctx)
{
	size_t len;
	const void *key = key_of(ctx, value, &len);
	size_t i = probe(ix, key, len, key_of, ctx);

	ix->slots[i] = value + 1;
}

static int grow(bindex *ix, bindex_key_fn key_of, void *ctx)
{
	size_t ncap = ix->cap ? ix->cap * 2 : 64;
	uint32_t *old = ix->slots;
	size_t ocap = ix->cap;

	ix->slots = calloc(ncap, sizeof(*ix->slots));
	if (!ix->slots) {
		ix->slots = old;
		return -1;
	}
	ix->cap = ncap;
	for (size_t i = 0; i < ocap; i++)
		if (old[i])
			place(ix, old[i] - 1, key_of, ctx);
	free(old);
	return 0;
}

int broker__index_insert(bindex *ix, uint32_t value, bindex_key_fn key_of,
			 void *ctx)
{
	if ((ix->n + 1) * 2 > ix->cap && grow(ix, key_of, ctx))
		return -1;
	place(ix, value, key_of, ctx);
	ix->n++;
	return 0;
}

void broker__index_remove(bindex *ix, const void *key, size_t len,
			  bindex_key_fn key_of, void *ctx)
{
	if (!ix->cap)
		return;
	size_t mask = ix->cap - 1;
	size_t i = probe(ix, key, len, key_of, ctx);

	if (!ix->slots[i])
		return;
	ix->slots[i] = 0;
	ix->n--;
	/* backward shift: re-place the rest of the cluster */
	for (size_t j = (i + 1) & mask; ix->slots[j]; j = (j + 1) & mask) {
		uint32_t v = ix->slots[j] - 1;

		ix->slots[j] = 0;
		place(ix, v, key_of, ctx);
	}
}

void broker__index_release(bindex *ix)
{
	free(ix->slots);
	memset(ix, 0, sizeof(*ix));
}
