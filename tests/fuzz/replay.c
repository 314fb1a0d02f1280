/*
 * replay.c - run a fuzz target's LLVMFuzzerTestOneInput() on files, without
 * libFuzzer: `make test` builds each target with it (normal compiler, the
 * test build's sanitizers) and replays the seed corpus and every crash found
 * so far (tests/fuzz/corpus/<target>/, tests/fuzz/crashes/<target>/).
 *
 * usage: fuzz_<target>_replay PATH...
 * A PATH that is a directory stands for its regular files (not recursive,
 * in name order; README* files are skipped); one that is a file, for
 * itself. A broken invariant or a sanitizer report aborts the run; the file
 * being replayed is named on stderr first. Exit 0 when every file ran, 1 if a
 * path cannot be read, 2 for usage.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_util.h"
#include "util.h"
#include "banned.h"

/* Reads path whole into a malloc'd buffer (at least one byte allocated). */
static uint8_t *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t cap = 0, n = 0;

	if (f == NULL)
		return NULL;
	for (;;) {
		/* room for a 4 KiB read */
		if (n == cap && UTIL_GROW(buf, n + 4096, cap)) {
			free(buf);
			fclose(f);
			return NULL;
		}
		size_t got = fread(buf + n, 1, cap - n, f);

		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	*len = n;
	return buf;
}

static int run_file(const char *path)
{
	size_t len = 0;
	uint8_t *buf = read_all(path, &len), *copy;

	if (buf == NULL) {
		fprintf(stderr, "replay: cannot read '%s'\n", path);
		return -1;
	}
	/* an exact-size copy, so that ASan sees a read past the input */
	copy = malloc(len > 0 ? len : 1);
	if (copy == NULL) {
		free(buf);
		return -1;
	}
	memcpy(copy, buf, len);
	free(buf);
	fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
	LLVMFuzzerTestOneInput(copy, len);
	free(copy);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_dir(const char *dir, size_t *count)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	if (d == NULL) {
		fprintf(stderr, "replay: cannot open '%s'\n", dir);
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		char path[4096];
		struct stat st;

		if (e->d_name[0] == '.' || strncmp(e->d_name, "README", 6) == 0)
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
				     e->d_name) >= sizeof(path) ||
		    stat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (UTIL_GROW(names, n + 1, cap))
			abort();
		names[n] = strdup(path);
		if (names[n++] == NULL)
			abort();
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n; i++) {
		if (rc == 0 && run_file(names[i]) != 0)
			rc = -1;
		free(names[i]);
	}
	free(names);
	*count += n;
	return rc;
}

int main(int argc, char **argv)
{
	size_t count = 0;
	int rc = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s PATH...\n", argv[0]);
		return 2;
	}
	/* what the code under test prints on stdout is not checked */
	if (freopen("/dev/null", "w", stdout) == NULL)
		return 1;
	for (int i = 1; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "replay: no '%s'\n", argv[i]);
			rc = 1;
		} else if (S_ISDIR(st.st_mode)) {
			if (run_dir(argv[i], &count) != 0)
				rc = 1;
		} else {
			if (run_file(argv[i]) != 0)
				rc = 1;
			count++;
		}
	}
	fprintf(stderr, "replay: %zu inputs, %s\n", count,
		rc == 0 ? "all passed" : "some could not be read");
	return rc;
}
