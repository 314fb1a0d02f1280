/*
 * fuzz_util.h - what the fuzz targets of tests/fuzz/ share: the invariant
 * check that aborts (so that libFuzzer, or the replay driver, reports it), a
 * private scratch directory for the parsers that take a path, splitting an
 * input into named sections, and the wire checks of what a source produced
 * (the agent refuses to send what wire_msg_validate() refuses).
 *
 * Every target defines LLVMFuzzerTestOneInput(); built with clang
 * -fsanitize=fuzzer it is a libFuzzer binary (`make fuzz`), built with the
 * normal compiler and replay.c it replays files (`make test`).
 */
#ifndef BOURSE_FUZZ_UTIL_H
#define BOURSE_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "source.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort, naming the invariant, unless cond holds. The message goes to
 * stderr and, in a sanitized build, through the sanitizers' report (which
 * libFuzzer keeps visible when -close_fd_mask closes stderr). */
#define FUZZ_CHECK(cond, ...)                                                \
	do {                                                                 \
		if (!(cond))                                                 \
			fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);   \
	} while (0)

void fuzz_fail(const char *file, int line, const char *cond,
	       const char *fmt, ...)
	__attribute__((noreturn, format(printf, 4, 5)));

/* Is s a NUL-terminated string within its len bytes? */
int fuzz_terminated(const char *s, size_t len);

/* The process's scratch directory (created on first use, removed at exit):
 * under $TMPDIR, else /dev/shm when it is writable, else /tmp. */
const char *fuzz_scratch(void);

/* Remove everything below dir (dir itself stays). */
void fuzz_clear(const char *dir);

/* Write len bytes to dir/name, creating the directories of name ("a/b/c":
 * a/ and a/b/). Returns 0, or -1 (the target then skips the input). */
int fuzz_write(const char *dir, const char *name, const void *data,
	       size_t len);

/* Make dir/name (and its parents) a directory. 0 or -1. */
int fuzz_mkdir(const char *dir, const char *name);

/*
 * Sections of an input, "head" style: a line "==> NAME <==" starts the
 * section NAME, which runs to the next such line (its content is raw bytes;
 * its last newline belongs to it). Bytes before the first header are
 * section "" (the preamble). At most FUZZ_MAX_SECTIONS are kept.
 */
#define FUZZ_MAX_SECTIONS 32
#define FUZZ_NAME_MAX 64

struct fuzz_section {
	char name[FUZZ_NAME_MAX]; /* NUL-terminated, cut at FUZZ_NAME_MAX - 1 */
	const uint8_t *data;
	size_t len;
};

size_t fuzz_sections(const uint8_t *data, size_t size,
		     struct fuzz_section *out, size_t max);

/* Split data at '\n' into NUL-terminated copies (a NUL byte ends a token
 * early, as it would a C string): at most max tokens; *buf is one malloc'd
 * block the caller frees. Returns the number of tokens. */
size_t fuzz_lines(const uint8_t *data, size_t size, char ***tokens,
		  size_t max);

/* What an agent would send from a source's figures must validate: the
 * host's Register and Ask, a VM's Register (on host "h") and Bid. */
void fuzz_check_host(const source_host *h);
void fuzz_check_vm_config(const source_vm_config *v);
void fuzz_check_vm_sample(const char *name, const source_vm_sample *s);

#endif
