/*
 * fixture.h - what the cmocka tests share: a temporary tree of files (the
 * fake /proc, cgroup and database directories tests build), made under
 * /tmp and removed afterwards. Every function asserts (cmocka) on failure.
 * Linked into every test executable (tests/CMakeLists.txt).
 */
#ifndef BOURSE_TEST_FIXTURE_H
#define BOURSE_TEST_FIXTURE_H

#include <stddef.h>

struct tree {
	char dir[64];
};

/* A new empty directory /tmp/bourse_<name>_test_XXXXXX. */
void tree_make(struct tree *t, const char *name);

/* mkdir dir/rel (its parent must exist). */
void tree_mkdir(const struct tree *t, const char *rel);

/* Write text to dir/rel, making rel's parent directory if it is missing. */
void tree_write(const struct tree *t, const char *rel, const char *text);

/* Read dir/rel into buf (at most len - 1 bytes, terminated). */
void tree_read(const struct tree *t, const char *rel, char *buf, size_t len);

/* unlink dir/rel. */
void tree_unlink(const struct tree *t, const char *rel);

/* Remove path and everything under it. Returns 0 if path is gone. */
int remove_all(const char *path);

#endif
