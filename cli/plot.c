/*
 * plot.c - a gnuplot process fed through a pipe (plot.h). gnuplot reads
 * its script from stdin, non-interactively: the first error ends it with
 * a non-zero status, and what it said is kept in a temporary file for the
 * message.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "plot.h"
#include "util.h"
#include "banned.h"

#define PLOT_FONT "DejaVu Sans,10"

struct plot {
	pid_t pid;
	FILE *in;     /* gnuplot's stdin */
	FILE *errf;   /* gnuplot's stderr: an unlinked temporary file */
	char *path;   /* the picture */
	struct sigaction old_pipe; /* SIGPIPE as it was before plot_open() */
};

int plot_format_parse(const char *name, plot_format *out)
{
	if (strcasecmp(name, "png") == 0)
		*out = PLOT_PNG;
	else if (strcasecmp(name, "svg") == 0)
		*out = PLOT_SVG;
	else
		return -1;
	return 0;
}

int plot_format_from_path(const char *path, plot_format *out)
{
	const char *dot = strrchr(path, '.');

	if (!dot || strchr(dot, '/'))
		return -1;
	return plot_format_parse(dot + 1, out);
}

const char *plot_format_name(plot_format f)
{
	return f == PLOT_SVG ? "svg" : "png";
}

/* The first executable "gnuplot" in $PATH into buf. Returns 0 or -1. */
static int find_gnuplot(char *buf, size_t size)
{
	const char *path = getenv("PATH");

	if (!path || !*path)
		path = "/usr/bin:/bin";
	for (const char *p = path;;) {
		const char *colon = strchr(p, ':');
		size_t len = colon ? (size_t)(colon - p) : strlen(p);
		int n = snprintf(buf, size, "%.*s/gnuplot", (int)len,
				 len ? p : ".");
		if (n > 0 && (size_t)n < size && access(buf, X_OK) == 0)
			return 0;
		if (!colon)
			return -1;
		p = colon + 1;
	}
}

void plot_quote(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '\'')
			fputs("''", f);
		else
			fputc(c < 0x20 || c == 0x7f ? '?' : c, f);
	}
	fputc('\'', f);
}

static void plot_free(plot *p)
{
	if (!p)
		return;
	if (p->in)
		fclose(p->in);
	if (p->errf)
		fclose(p->errf);
	free(p->path);
	free(p);
}

/* fork and exec gnuplot with stdin on a pipe and stderr into p->errf;
 * --default-settings: no user's ~/.gnuplot changes the picture. */
static int spawn(plot *p, const char *exe, char *err, size_t errlen)
{
	int fd[2];

	if (pipe(fd) != 0)
		return util_err(err, errlen, "cannot start gnuplot: pipe: %s",
				strerror(errno));
	fflush(NULL);
	p->pid = fork();
	if (p->pid < 0) {
		int e = errno;
		close(fd[0]);
		close(fd[1]);
		return util_err(err, errlen, "cannot start gnuplot: fork: %s",
				strerror(e));
	}
	if (p->pid == 0) {
		if (dup2(fd[0], 0) < 0 || dup2(fileno(p->errf), 2) < 0 ||
		    dup2(fileno(p->errf), 1) < 0)
			_exit(126);
		close(fd[0]);
		close(fd[1]);
		execl(exe, "gnuplot", "--default-settings", (char *)NULL);
		_exit(127);
	}
	close(fd[0]);
	p->in = fdopen(fd[1], "w");
	if (!p->in) {
		close(fd[1]);
		return util_err(err, errlen, "cannot start gnuplot: %s",
				strerror(errno));
	}
	return 0;
}

static void write_preamble(plot *p, plot_format fmt, int width, int height)
{
	FILE *f = p->in;

	if (fmt == PLOT_SVG)
		fprintf(f, "set terminal svg size %d,%d dynamic noenhanced "
			"font '" PLOT_FONT "' background '#ffffff'\n", width,
			height);
	else
		fprintf(f, "set terminal pngcairo size %d,%d noenhanced "
			"font '" PLOT_FONT "' background '#ffffff'\n", width,
			height);
	fputs("set output ", f);
	plot_quote(f, p->path);
	fputs("\nset encoding utf8\n", f);
}

int plot_open(const char *out_path, plot_format fmt, int width, int height,
	      plot **out, char *err, size_t errlen)
{
	char exe[4096];
	struct sigaction ign;
	plot *p;

	*out = NULL;
	if (find_gnuplot(exe, sizeof(exe)) != 0)
		return util_err(err, errlen, "gnuplot is not installed (not on "
				"$PATH): install the gnuplot-nox package "
				"(apt-get install gnuplot-nox; make deps)");
	p = calloc(1, sizeof(*p));
	if (!p || !(p->path = strdup(out_path)) || !(p->errf = tmpfile())) {
		plot_free(p);
		return util_err(err, errlen, "cannot start gnuplot: %s",
				strerror(errno));
	}
	if (spawn(p, exe, err, errlen) != 0) {
		plot_free(p);
		return -1;
	}
	/* gnuplot may stop reading at an error: a write then fails with
	 * EPIPE instead of killing us, and plot_close() says why */
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &ign, &p->old_pipe);
	write_preamble(p, fmt, width, height);
	*out = p;
	return 0;
}

void plot_time_axis(FILE *f, double span_s, const char *what)
{
	fputs("set xdata time\nset timefmt '%s'\n", f);
	if (span_s <= 2 * 3600)
		fputs("set format x '%H:%M:%S'\n", f);
	else if (span_s <= 2 * 86400)
		fputs("set format x '%H:%M'\n", f);
	else if (span_s <= 10 * 86400)
		fputs("set format x '%d %b\\n%H:%M'\n", f);
	else
		fputs("set format x '%d %b'\n", f);
	fputs("set xlabel ", f);
	char label[128];
	snprintf(label, sizeof(label), "%s (UTC)", what);
	plot_quote(f, label);
	fputc('\n', f);
}

FILE *plot_stream(plot *p)
{
	return p->in;
}

/* gnuplot's first line naming an error (or its first line) into err. */
static void gnuplot_said(plot *p, char *err, size_t errlen, int status)
{
	char line[512], first[512] = "";

	rewind(p->errf);
	while (fgets(line, sizeof(line), p->errf)) {
		line[strcspn(line, "\n")] = '\0';
		if (!first[0] && line[strspn(line, " ^")])
			snprintf(first, sizeof(first), "%s", line);
		if (strstr(line, "rror") || strstr(line, "annot")) {
			snprintf(first, sizeof(first), "%s", line);
			break;
		}
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		snprintf(first, sizeof(first), "it could not be run");
	util_err(err, errlen, "gnuplot failed (status %d): %s",
		 WIFEXITED(status) ? WEXITSTATUS(status) : -1,
		 first[0] ? first : "no message");
}

int plot_close(plot *p, char *err, size_t errlen)
{
	int status = 0, wrote, rc = -1;
	struct stat st;

	if (!p)
		return 0;
	fputs("unset output\nexit\n", p->in);
	wrote = fflush(p->in) == 0 && !ferror(p->in);
	fclose(p->in);
	p->in = NULL;
	while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR)
		;
	sigaction(SIGPIPE, &p->old_pipe, NULL);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !wrote)
		gnuplot_said(p, err, errlen, status);
	else if (stat(p->path, &st) != 0 || st.st_size == 0)
		util_err(err, errlen, "gnuplot wrote nothing to '%s'", p->path);
	else
		rc = 0;
	if (rc != 0)
		unlink(p->path);
	plot_free(p);
	return rc;
}
