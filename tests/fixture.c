/*
 * fixture.c - temporary file trees for the tests (fixture.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture.h"
#include "banned.h"

void tree_make(struct tree *t, const char *name)
{
	snprintf(t->dir, sizeof(t->dir), "/tmp/bourse_%s_test_XXXXXX", name);
	assert_non_null(mkdtemp(t->dir));
}

void tree_mkdir(const struct tree *t, const char *rel)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", t->dir, rel);
	assert_int_equal(mkdir(path, 0755), 0);
}

void tree_write(const struct tree *t, const char *rel, const char *text)
{
	char path[256];
	const char *slash = strrchr(rel, '/');
	FILE *f;

	if (slash) {
		snprintf(path, sizeof(path), "%s/%.*s", t->dir,
			 (int)(slash - rel), rel);
		mkdir(path, 0755); /* EEXIST is fine */
	}
	snprintf(path, sizeof(path), "%s/%s", t->dir, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

void tree_read(const struct tree *t, const char *rel, char *buf, size_t len)
{
	char path[256];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", t->dir, rel);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
}

void tree_unlink(const struct tree *t, const char *rel)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", t->dir, rel);
	assert_int_equal(unlink(path), 0);
}

int remove_all(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	char sub[512];

	if (!d)
		return unlink(path);
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		remove_all(sub);
	}
	closedir(d);
	return rmdir(path);
}
