/*
 * bourse-guestload: the lab guest's workload (docs/lab.md).
 *
 * Replays a memory-demand series inside a lab guest, touching the memory
 * for real: the series comes from the kernel command line,
 *
 *     bgl.step=S bgl.d=120,130,95,...
 *
 * (S seconds per step, each value MiB wanted during that step; the series
 * wraps around). Memory is held in 1 MiB anonymous mappings, written page by
 * page when taken and re-written every half second while held (the working set:
 * a guest squeezed below it swaps in and out), and unmapped when demand
 * falls. Progress goes to stdout (the console, ttyS0), one line a second,
 * also in the middle of a pass slowed down by swapping:
 *
 *     bgl: t=12 step=3 want=200 held=200 MiB pass=12
 *
 * t is the guest's uptime (CLOCK_BOOTTIME), so a workload restarted after
 * the OOM killer took it resumes at the step the series is at.
 * "pass" counts completed working-set passes; t advancing shows a live
 * guest, pass advancing slowly one that swaps. Started (and restarted) by
 * the lab initramfs's init (contrib/lab/guest/init), built static.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "banned.h"

#define MIB (1024UL * 1024UL)
#define MAX_STEPS 1024
#define MAX_MIB 4096
#define CMDLINE_MAX 4096

static unsigned series[MAX_STEPS];
static unsigned nsteps;
static unsigned step_s = 5;
static char *chunks[MAX_MIB];
static unsigned held;
static double t0, last_print;
static unsigned long pass;
static unsigned cur_step, cur_want;

static int parse_series(const char *s)
{
	char *end = NULL;

	nsteps = 0;
	while (*s && *s != ' ' && *s != '\n') {
		unsigned long v;

		errno = 0;
		v = strtoul(s, &end, 10);
		if (errno || end == s || v > MAX_MIB || nsteps == MAX_STEPS)
			return -1;
		series[nsteps++] = (unsigned)v;
		s = end;
		if (*s == ',')
			s++;
		else if (*s && *s != ' ' && *s != '\n')
			return -1;
	}
	return nsteps ? 0 : -1;
}

static int parse_cmdline(const char *path)
{
	static char buf[CMDLINE_MAX];
	FILE *f = fopen(path, "r");
	size_t n;
	const char *p;

	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strstr(buf, "bgl.step=");
	if (p) {
		unsigned long v = strtoul(p + 9, NULL, 10);

		if (v < 1 || v > 3600)
			return -1;
		step_s = (unsigned)v;
	}
	p = strstr(buf, "bgl.d=");
	if (!p)
		return -1;
	return parse_series(p + 6);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A line a second at most, also in the middle of a slow (swapping) pass. */
static void progress(void)
{
	double t = now_s();

	if (t - last_print < 1.0)
		return;
	last_print = t;
	printf("bgl: t=%.0f step=%u want=%u held=%u MiB pass=%lu\n",
	       t - t0, cur_step, cur_want, held, pass);
	fflush(stdout);
}

static void touch(char *c, unsigned salt)
{
	for (size_t off = 0; off < MIB; off += 4096)
		c[off] = (char)(salt + off / 4096);
}

static void adjust(unsigned want)
{
	while (held < want) {
		void *p = mmap(NULL, MIB, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			return;
		chunks[held] = p;
		touch(chunks[held], held);
		held++;
		progress();
	}
	while (held > want) {
		held--;
		munmap(chunks[held], MIB);
		chunks[held] = NULL;
	}
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/proc/cmdline";

	if (parse_cmdline(path) != 0) {
		fprintf(stderr, "bgl: no valid bgl.d=MiB,MiB,... (and bgl.step=S) in %s\n", path);
		return 2;
	}
	printf("bgl: start: %u steps of %u s\n", nsteps, step_s);
	fflush(stdout);
	t0 = 0.0; /* t is the guest's uptime: a restarted workload resumes */
	last_print = now_s() - 1.0;
	for (;;) {
		cur_step = (unsigned)((now_s() - t0) / step_s);
		cur_want = series[cur_step % nsteps];
		adjust(cur_want);
		for (unsigned i = 0; i < held; i++) {
			touch(chunks[i], (unsigned)pass);
			progress();
		}
		pass++;
		progress();
		usleep(500000);
	}
}
